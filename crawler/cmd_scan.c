/*
 * mxcrawl scan: creates a campaign from a target file (or resumes one) and
 * scans it. This version imports the queue; the scanner itself is a later
 * milestone, and the command says so instead of pretending.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crawler/campaign.h"
#include "crawler/cli.h"
#include "crawler/commands.h"
#include "crawler/db.h"
#include "crawler/json.h"
#include "crawler/migrate.h"

static const char usage[] =
    "usage: mxcrawl scan --targets FILE [--campaign NAME] [options]\n"
    "       mxcrawl scan --campaign NAME --resume [options]\n"
    "\n"
    "Creates a campaign from a target file, queues its names in the database\n"
    "and scans them; --resume continues an existing campaign.\n"
    "\n"
    "Options:\n"
    "  --targets FILE     the target list (plain, Tranco CSV or zone file)\n"
    "  --format F         auto (default), plain, tranco or zone\n"
    "  --origin NAME      zone files: origin for relative names\n"
    "  --campaign NAME    campaign name (default: FILE's name and the time)\n"
    "  --resume           continue the campaign NAME\n"
    "  --batch-size N     targets per leased batch (default 500)\n"
    "  --vantage NAME     where the scan runs from (default: host name)\n"
    "  --db CONNINFO      PostgreSQL server (default: the private cluster)\n"
    "  -q, --quiet        no progress or summary, only errors\n"
    "\n"
    "Rejected lines of the target file are printed on stderr with their line\n"
    "number and reason; they are not queued.\n"
    "\n"
    "Exit status: 0 ok; 64 usage; 65 no valid names or campaign exists;\n"
    "66 unreadable file; 69 database unreachable or scanner not built.\n";

struct import_ctx {
	const char *path;
	int quiet;
	struct campaign_import *im;
};

static int on_name(void *arg, const struct targets_item *it)
{
	struct import_ctx *ctx = arg;

	return campaign_import_add(ctx->im, it->name, it->len, it->line,
				   it->rank);
}

static void on_reject(void *arg, const struct targets_reject *rj)
{
	struct import_ctx *ctx = arg;

	if (!ctx->quiet)
		targets_cli_print_reject(stderr, ctx->path, rj);
}

static char *default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	char stamp[32], *name;
	time_t now = time(NULL);
	struct tm tm;

	base = base ? base + 1 : path;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	if (asprintf(&name, "%.100s-%s", base, stamp) < 0)
		return NULL;
	return name;
}

static char *config_json(const char *path, const struct targets_format *fmt,
			 const char *origin, int batch_size)
{
	char abs[PATH_MAX];
	struct jbuf b;

	jbuf_init(&b, 64 * 1024);
	if (!realpath(path, abs))
		snprintf(abs, sizeof abs, "%s", path);
	jbuf_puts(&b, "{\"targets_file\": ");
	jbuf_json_string(&b, abs, strlen(abs));
	jbuf_puts(&b, ", \"format\": ");
	jbuf_json_string(&b, fmt->name, strlen(fmt->name));
	if (origin) {
		jbuf_puts(&b, ", \"origin\": ");
		jbuf_json_string(&b, origin, strlen(origin));
	}
	jbuf_printf(&b, ", \"batch_size\": %d}", batch_size);
	if (b.failed) {
		jbuf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Reads the target file into a new campaign. Returns a sysexits code. */
static int import(PGconn *c, const char *path, const char *format,
		  const char *origin, struct campaign_spec *spec, int quiet)
{
	const struct targets_format *fmt;
	struct import_ctx ctx = { path, quiet, NULL };
	int64_t id = 0, targets = 0;
	int rc = EX_OK;

	FILE *f = targets_cli_open(path, format, &fmt);
	if (!f)
		return EX_NOINPUT;
	char *config = config_json(path, fmt, origin, spec->batch_size);
	struct targets_reader *r =
	    targets_reader_new(fmt, origin, on_name, on_reject, &ctx);
	if (!config || !r) {
		cli_error("out of memory");
		rc = EX_OSERR;
		goto out;
	}
	spec->config_json = config;
	ctx.im = campaign_import_begin(c, spec);
	if (!ctx.im) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	int read_rc = targets_read_file(r, f);
	const struct targets_stats *st = targets_stats(r);
	if (read_rc != 0 || st->names == 0) {
		if (read_rc < 0)
			cli_error("reading '%s': %s", path, strerror(-read_rc));
		else if (read_rc == 0)
			cli_error(
			    "'%s' holds no valid names; no campaign created",
			    path);
		campaign_import_abort(ctx.im);
		rc = read_rc < 0   ? EX_IOERR
		     : read_rc > 0 ? EX_UNAVAILABLE
				   : EX_DATAERR;
		goto out;
	}
	if (campaign_import_commit(ctx.im, &id, &targets) != 0) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (!quiet) {
		targets_cli_print_stats(stderr, fmt, st);
		fprintf(stderr,
			"campaign '%s' (id %" PRId64 "): %" PRId64
			" targets queued "
			"in batches of %d\n",
			spec->name, id, targets, spec->batch_size);
	}
out:
	if (r)
		targets_reader_free(r);
	free(config);
	fclose(f);
	return rc;
}

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "targets", required_argument, NULL, CLI_OPT_TARGETS },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "origin", required_argument, NULL, CLI_OPT_ORIGIN },
		{ "campaign", required_argument, NULL, CLI_OPT_CAMPAIGN },
		{ "resume", no_argument, NULL, CLI_OPT_RESUME },
		{ "batch-size", required_argument, NULL, CLI_OPT_BATCH_SIZE },
		{ "vantage", required_argument, NULL, CLI_OPT_VANTAGE },
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *targets = NULL, *format = NULL, *origin = NULL;
	const char *name = NULL, *vantage = NULL, *opt_db = NULL;
	char host[256], *owned_name = NULL;
	int resume = 0, quiet = 0, ch, rc;
	long batch = CAMPAIGN_BATCH_DEFAULT;
	struct db db;

	while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_TARGETS:
			targets = optarg;
			break;
		case CLI_OPT_FORMAT:
			format = optarg;
			break;
		case CLI_OPT_ORIGIN:
			origin = optarg;
			break;
		case CLI_OPT_CAMPAIGN:
			name = optarg;
			break;
		case CLI_OPT_RESUME:
			resume = 1;
			break;
		case CLI_OPT_BATCH_SIZE:
			batch = cli_parse_long("scan", "--batch-size", optarg,
					       1, CAMPAIGN_BATCH_MAX);
			if (batch < 0)
				return EX_USAGE;
			break;
		case CLI_OPT_VANTAGE:
			vantage = optarg;
			break;
		case CLI_OPT_DB:
			opt_db = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("scan", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("scan", "unexpected argument '%s'",
				       argv[optind]);
	if (resume && targets)
		return cli_usage_error("scan",
				       "--resume continues an existing "
				       "campaign; give --campaign NAME, "
				       "not --targets");
	if (resume && !name)
		return cli_usage_error("scan",
				       "--resume needs --campaign NAME");
	if (!resume && !targets)
		return cli_usage_error("scan",
				       "give --targets FILE (or --campaign "
				       "NAME --resume)");
	if (!name) {
		name = owned_name = default_name(targets);
		if (!name) {
			cli_error("out of memory");
			return EX_OSERR;
		}
	}
	const char *problem = campaign_name_problem(name);
	if (problem) {
		free(owned_name);
		return cli_usage_error("scan", "%s", problem);
	}
	if (!vantage) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "unknown");
		host[sizeof host - 1] = '\0';
		vantage = host;
	}

	if (db_init(&db, opt_db) != 0) {
		free(owned_name);
		return EX_CONFIG;
	}
	PGconn *c = db_connect(&db);
	if (!c) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	int applied, version;
	if (migrate_run(c, 0, &applied, &version) != 0) {
		rc = EX_SOFTWARE;
		goto out;
	}

	int64_t id, queued;
	int found = campaign_find(c, name, &id, &queued);
	if (found < 0) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (resume && !found) {
		cli_error("no campaign named '%s' to resume", name);
		rc = EX_DATAERR;
		goto out;
	}
	if (!resume && found) {
		cli_error("campaign '%s' already exists (id %" PRId64
			  ", %" PRId64
			  " targets); use --campaign '%s' --resume to continue "
			  "it, or choose another name",
			  name, id, queued, name);
		rc = EX_DATAERR;
		goto out;
	}
	if (!resume) {
		struct campaign_spec spec = { name, NULL, vantage, (int)batch };
		rc = import(c, targets, format, origin, &spec, quiet);
		if (rc != EX_OK)
			goto out;
	}
	rc = cli_not_built("scan", "the scanner (DNS, SMTP, TLS stages)");
	fprintf(stderr,
		"mxcrawl scan: campaign '%s' is queued and waits for "
		"the scanner\n",
		name);
out:
	PQfinish(c);
	db_free(&db);
	free(owned_name);
	return rc;
}
