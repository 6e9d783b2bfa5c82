/* mxcrawl report: a campaign's figures from the analysis views. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crawler/store/campaign.h"
#include "crawler/cli/cli.h"
#include "crawler/util/log.h"
#include "crawler/cli/commands.h"
#include "crawler/store/db.h"
#include "crawler/store/migrate.h"
#include "crawler/cli/outfile.h"
#include "crawler/report/report.h"

static const char usage[] =
    "usage: mxcrawl report [--campaign ID|NAME] [--compare ID|NAME]\n"
    "                      [--history PATTERN [--history-max N]]\n"
    "                      [--format text|csv|json|md|html] [--db CONNINFO]\n"
    "                      [--analysis-dir DIR] [--rank-buckets N,N,...]\n"
    "                      [-o FILE]\n"
    "\n"
    "Prints every figure of a campaign (default: the newest) with its\n"
    "definition, numerator, denominator and percent; with --compare, beside\n"
    "another campaign's, with the delta in percentage points, and the\n"
    "figures of the section 'change' that follow each domain from the\n"
    "compared campaign into this one (ladder moves, MTA-STS id changes,\n"
    "stale TLSA records, domains gone or new).\n"
    "\n"
    "--history PATTERN adds, for every headline figure, its numbers in each\n"
    "of the newest N (--history-max, default 12, at most 100) done\n"
    "campaigns whose name matches the SQL LIKE PATTERN ('weekly-%' for\n"
    "scripts/cron-campaign weekly) and that were created no later than the\n"
    "report's campaign, oldest first; the HTML report draws them as trends.\n"
    "\n"
    "When the target list has ranks (Tranco), every headline figure's\n"
    "domain rows are also given per rank bucket: the targets whose rank is\n"
    "at most each bound of --rank-buckets (default 1000,10000,100000,\n"
    "1000000; ascending, cumulative; 'none' for no bucket). Targets without\n"
    "a rank are in no bucket; a list without ranks has no bucket section.\n"
    "\n"
    "The figures are SQL views in the schema 'analysis', created in one\n"
    "transaction on every run from the SQL compiled into mxcrawl, or from\n"
    "--analysis-dir DIR (its NNN_name.sql files, in name order): edit a\n"
    "definition there and run the report again, no re-scan needed. The\n"
    "transaction is rolled back once the figures are read: a report writes\n"
    "nothing, and a read-only role (mxcrawl_analyst) can run it.\n"
    "--analysis-dir SQL runs as a role that may only read (in the private\n"
    "cluster, its role mxcrawl_report; on a server, the role connected as,\n"
    "which must not be a superuser nor able to write mxcrawl's tables), and\n"
    "cannot end the report's transaction (no COMMIT).\n"
    "\n"
    "  --format F      text (default), csv, json, md or html\n"
    "  -o, --output F  write to F instead of stdout; compressed if F ends in\n"
    "                  .zst or .gz; a regular file is replaced only by a\n"
    "                  complete report, a device or FIFO is written in place\n"
    "\n"
    "Exit status: 0 ok; 64 usage; 65 no such campaign; 69 database\n"
    "unreachable; 70 an analysis view failed; 73 cannot create the output;\n"
    "77 a role that may not create the views (not a member of\n"
    "mxcrawl_analyst), or --analysis-dir with one that may write; 78 a\n"
    "migration is pending that this role may not apply (the owner runs\n"
    "`db migrate`).\n" USAGE_EXIT_COMMON;

/* Long options of this command only (beyond cli.h's shared ids). */
enum {
	OPT_COMPARE = 2000,
	OPT_ANALYSIS_DIR,
	OPT_HISTORY,
	OPT_HISTORY_MAX,
	OPT_RANK_BUCKETS,
};

/* What the command line asks for. */
struct report_opts {
	const char *spec, *cmp_spec, *format, *opt_db, *dir, *output;
	const char *history;
	int history_max;
	long bounds[REPORT_BUCKETS_MAX];
	size_t nbounds;
	const struct report_renderer *rr;
};

/* Reads and checks the options into o: EX_OK, or the exit status (EX_OK
 * with o->rr NULL after --help). */
static int parse_options(int argc, char **argv, struct report_opts *o)
{
	static const struct option opts[] = {
		{ "campaign", required_argument, NULL, CLI_OPT_CAMPAIGN },
		{ "compare", required_argument, NULL, OPT_COMPARE },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "analysis-dir", required_argument, NULL, OPT_ANALYSIS_DIR },
		{ "history", required_argument, NULL, OPT_HISTORY },
		{ "history-max", required_argument, NULL, OPT_HISTORY_MAX },
		{ "rank-buckets", required_argument, NULL, OPT_RANK_BUCKETS },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *history_max_arg = NULL;
	const char *buckets_arg = REPORT_BUCKETS_DEFAULT;
	char why[160];
	int ch;

	memset(o, 0, sizeof *o);
	o->format = "text";
	o->history_max = REPORT_HISTORY_DEFAULT;
	while ((ch = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_CAMPAIGN:
			o->spec = optarg;
			break;
		case OPT_COMPARE:
			o->cmp_spec = optarg;
			break;
		case CLI_OPT_FORMAT:
			o->format = optarg;
			break;
		case CLI_OPT_DB:
			o->opt_db = optarg;
			break;
		case OPT_ANALYSIS_DIR:
			o->dir = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_HISTORY:
			o->history = optarg;
			break;
		case OPT_HISTORY_MAX:
			history_max_arg = optarg;
			break;
		case OPT_RANK_BUCKETS:
			buckets_arg = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("report", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("report", "unexpected argument '%s'",
				       argv[optind]);
	if (history_max_arg) {
		char *end;
		long v = strtol(history_max_arg, &end, 10);
		if (!o->history)
			return cli_usage_error("report", "--history-max needs "
							 "--history");
		if (*history_max_arg == '\0' || *end != '\0' || v < 1 ||
		    v > REPORT_HISTORY_MAX)
			return cli_usage_error("report",
					       "--history-max must be 1 to %d",
					       REPORT_HISTORY_MAX);
		o->history_max = (int)v;
	}
	if (report_parse_buckets(buckets_arg, o->bounds, &o->nbounds, why,
				 sizeof why) != 0)
		return cli_usage_error("report", "%s", why);
	if (o->history && !*o->history)
		return cli_usage_error("report", "--history needs a pattern");
	if (!report_renderer_find(o->format))
		return cli_usage_error("report", "--format must be %s",
				       report_renderer_names());
	if (cli_campaign_spec_check("report", "--campaign", o->spec) != EX_OK ||
	    cli_campaign_spec_check("report", "--compare", o->cmp_spec) !=
		EX_OK ||
	    cli_campaign_spec_check("report", "--history", o->history) != EX_OK)
		return EX_USAGE;
	o->rr = report_renderer_find(o->format);
	return EX_OK;
}

/* For --analysis-dir: the directory's SQL is the user's, so it runs as a
 * role that may only read. The private cluster has one of its own (its
 * default role is the superuser): *c is connected again as that role. On
 * a server, the role the user connects as must be such a role. EX_OK or
 * the exit status. */
static int use_reading_role(struct db *db, PGconn **c)
{
	if (db->embedded) {
		char *ci = pgembed_conninfo_role(&db->pg, PGEMBED_ANALYST_ROLE);
		if (!ci || migrate_roles(*c, PGEMBED_ANALYST_ROLE) != 0) {
			free(ci);
			return EX_SOFTWARE;
		}
		PQfinish(*c);
		free(db->conninfo);
		db->conninfo = ci;
		if (!(*c = db_connect(db)))
			return EX_UNAVAILABLE;
	}
	int fit = report_sandboxed(*c);
	if (fit <= 0)
		return fit < 0 ? EX_UNAVAILABLE : EX_NOPERM;
	return EX_OK;
}

/* Renders r in memory first, then writes it through outfile: a regular
 * file is replaced only by a complete report, and anything else (a
 * device such as /dev/null, a FIFO) is written in place, never
 * replaced. A name ending in .zst or .gz is compressed. EX_OK or the exit
 * status. */
static int write_report(const struct report *r,
			const struct report_renderer *rr, const char *output)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m) {
		log_error("report: out of memory");
		return EX_SOFTWARE;
	}
	int rendered = report_render(r, rr, m);
	if (fclose(m) != 0 || rendered != 0) {
		log_error("report: rendering failed");
		free(buf);
		return EX_SOFTWARE;
	}
	struct outfile *o = outfile_open("report", output);
	if (!o) {
		free(buf);
		return EX_CANTCREAT;
	}
	int rc = EX_OK;
	int wrote = outfile_write(o, buf, len);
	if (outfile_close(o, wrote == 0) != 0 || wrote != 0)
		rc = EX_IOERR;
	free(buf);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	struct report_opts o;
	int rc = parse_options(argc, argv, &o);
	if (rc != EX_OK || !o.rr)
		return rc;

	struct db db;
	PGconn *c;
	rc = cli_db_open(o.opt_db, true, &db, &c);
	if (rc != EX_OK)
		return rc;
	if (o.dir && (rc = use_reading_role(&db, &c)) != EX_OK)
		goto out;
	int64_t id, cmp_id;
	rc = campaign_lookup(c, o.spec, false, &id, NULL);
	if (rc == EX_OK && o.cmp_spec)
		rc = campaign_lookup(c, o.cmp_spec, false, &cmp_id, NULL);
	if (rc != EX_OK)
		goto out;
	int may = report_may_install(c);
	if (may <= 0) {
		rc = may < 0 ? EX_UNAVAILABLE : EX_NOPERM;
		goto out;
	}
	if (report_install(c, o.dir) != 0) {
		rc = EX_SOFTWARE;
		goto out;
	}
	struct report r;
	int loaded = report_load(c, id, o.cmp_spec ? &cmp_id : NULL, o.bounds,
				 o.nbounds, &r) == 0 &&
		     (!o.history || report_load_history(
					c, o.history, o.history_max, &r) == 0);
	/* The figures are read; the views go (report_install) while the
	 * report is rendered. */
	report_end_nowait(c);
	if (!loaded) {
		rc = EX_SOFTWARE;
		goto out;
	}
	rc = write_report(&r, o.rr, o.output);
	report_free(&r);
out:
	PQfinish(c);
	db_free(&db);
	return rc;
}
