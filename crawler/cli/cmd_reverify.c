/* mxcrawl reverify: a campaign's stored chains judged again (reverify.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crawler/store/campaign.h"
#include "crawler/cli/cli.h"
#include "crawler/util/log.h"
#include "crawler/cli/commands.h"
#include "crawler/store/db.h"
#include "crawler/verify/reverify.h"

static const char usage[] =
    "usage: mxcrawl reverify --campaign ID|NAME [--ca-file FILE] [--at TIME]\n"
    "                        [--note TEXT] [--db CONNINFO] [--progress SECONDS]\n"
    "                        [--fetch N] [--quiet]\n"
    "\n"
    "Judges every stored certificate chain of the campaign again, against a\n"
    "trust store at a time, without contacting anything: trust for a strict\n"
    "sender (security level 2), validity ignoring key and digest strength and\n"
    "its errors, missing intermediate, names (DNS SANs only), CN-only, weak\n"
    "parameters, and DANE from the TLSA records the scan stored. The\n"
    "verdicts go into a new judgement set (the scan's own are set 0); the\n"
    "views endpoint_judgement_latest, domain_endpoint_judgement_latest and\n"
    "domain_mx_judgement_latest give each campaign's newest. Prints how many\n"
    "verdicts changed against the scan's.\n"
    "\n"
    "  --campaign C       the campaign, by id or name (required)\n"
    "  --ca-file FILE     trust store, PEM (default $MXCRAWL_CA_FILE, else the\n"
    "                     system's)\n"
    "  --at TIME          judge at this time, ISO 8601 (2030-01-31,\n"
    "                     2030-01-31T12:00:00Z; UTC unless a zone is given;\n"
    "                     default: now)\n"
    "  --note TEXT        stored with the judgement set\n"
    "  --progress SECONDS a progress line on stderr this often (default 10;\n"
    "                     0 = none)\n"
    "  --fetch N          stored rows read per round trip (default 2000;\n"
    "                     fewer use less memory)\n"
    "  -q, --quiet        no progress, no summary\n"
    "  --db CONNINFO      PostgreSQL server (default: the private cluster)\n"
    "\n"
    "Exit status: 0 ok; 64 usage or bad --at; 65 no such campaign; 66 CA\n"
    "file unreadable; 69 database unreachable; 70 storing failed; 78 bad\n"
    "trust store, or a migration pending that this role may not apply.\n" USAGE_EXIT_COMMON;

enum { OPT_AT = 2000, OPT_NOTE, OPT_FETCH };

/* Largest CA file hashed for the record (a system bundle is ~200 KiB). */
#define CA_FILE_MAX (64u << 20)

/* SHA-256 of the file as hex into out (65 bytes). 0, or -1 (errno). */
static int file_sha256(const char *path, char out[65])
{
	FILE *f = fopen(path, "rb");
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t n, total = 0;
	int rc = -1;

	if (!f)
		return -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		while ((n = fread(buf, 1, sizeof buf, f)) > 0 &&
		       total < CA_FILE_MAX) {
			total += n;
			EVP_DigestUpdate(ctx, buf, n);
		}
		if (!ferror(f) && total < CA_FILE_MAX &&
		    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1) {
			for (unsigned i = 0; i < mdlen; i++)
				snprintf(out + 2 * i, 3, "%02x", md[i]);
			rc = 0;
		} else if (!ferror(f)) {
			errno = EFBIG;
		}
	}
	EVP_MD_CTX_free(ctx);
	fclose(f);
	return rc;
}

/* --at through PostgreSQL's own timestamp input, in UTC. 0 or -1. */
static int parse_at(PGconn *c, const char *s, time_t *at)
{
	const char *p[1] = { s };
	PGresult *r = PQexec(c, "SET TIME ZONE 'UTC'");
	PQclear(r);
	r = PQexecParams(c,
			 "SELECT extract(epoch FROM $1::timestamptz)::bigint",
			 1, NULL, p, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		 !PQgetisnull(r, 0, 0);
	if (ok)
		*at = (time_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return ok ? 0 : -1;
}

/* What the command line asks for. */
struct reverify_cli {
	const char *spec, *ca_file, *at_s, *note, *opt_db;
	long progress_s, fetch;
	int quiet;
	bool help;
};

/* Reads and checks the options into o: EX_OK (o->help after --help), or
 * the exit status after saying why. */
static int parse_options(int argc, char **argv, struct reverify_cli *o)
{
	static const struct option opts[] = {
		{ "campaign", required_argument, NULL, CLI_OPT_CAMPAIGN },
		{ "ca-file", required_argument, NULL, CLI_OPT_CA_FILE },
		{ "at", required_argument, NULL, OPT_AT },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "progress", required_argument, NULL, CLI_OPT_PROGRESS },
		{ "fetch", required_argument, NULL, OPT_FETCH },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct reverify_cli){ .ca_file = getenv("MXCRAWL_CA_FILE"),
				    .progress_s = 10,
				    .fetch = REVERIFY_FETCH_DEFAULT };
	if (o->ca_file && !*o->ca_file)
		o->ca_file = NULL;
	while ((ch = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_CAMPAIGN:
			o->spec = optarg;
			break;
		case CLI_OPT_CA_FILE:
			o->ca_file = optarg;
			break;
		case OPT_AT:
			o->at_s = optarg;
			break;
		case OPT_NOTE:
			o->note = optarg;
			break;
		case CLI_OPT_DB:
			o->opt_db = optarg;
			break;
		case CLI_OPT_PROGRESS:
			o->progress_s = cli_parse_long("reverify", "--progress",
						       optarg, 0, 86400);
			if (o->progress_s < 0)
				return EX_USAGE;
			break;
		case OPT_FETCH:
			o->fetch = cli_parse_long("reverify", "--fetch", optarg,
						  1, REVERIFY_FETCH_MAX);
			if (o->fetch < 0)
				return EX_USAGE;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			o->help = true;
			return EX_OK;
		default:
			return cli_usage_error("reverify", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("reverify", "unexpected argument '%s'",
				       argv[optind]);
	if (!o->spec)
		return cli_usage_error("reverify",
				       "--campaign ID|NAME is required");
	if (cli_campaign_spec_check("reverify", "--campaign", o->spec) != EX_OK)
		return EX_USAGE;
	return EX_OK;
}

/* The trust store of ca_file (NULL: the system's), its absolute path
 * into abs and its SHA-256 into sha; NULL after saying why (*rc: the exit
 * status). Read before the database is opened: a typo there should not
 * cost a connection. */
static struct verify_ctx *trust_store(const char *ca_file, char *abs, char *sha,
				      int *rc)
{
	if (ca_file) {
		if (!realpath(ca_file, abs) || file_sha256(abs, sha) != 0) {
			log_error("cannot read the CA file '%s': %s", ca_file,
				  strerror(errno));
			*rc = EX_NOINPUT;
			return NULL;
		}
	}
	const char *err = NULL;
	struct verify_ctx *verify =
	    verify_ctx_new(ca_file ? abs : NULL, NULL, &err);
	if (!verify) {
		log_error("trust store%s%s: %s", ca_file ? " " : "",
			  ca_file ? ca_file : "", err ? err : "failed");
		*rc = EX_CONFIG;
	}
	return verify;
}

int cmd_reverify(int argc, char **argv)
{
	struct reverify_cli a;
	int rc = parse_options(argc, argv, &a);
	if (rc != EX_OK || a.help)
		return rc;
	char abs[PATH_MAX], sha[65];
	struct verify_ctx *verify = trust_store(a.ca_file, abs, sha, &rc);
	if (!verify)
		return rc;

	struct db db;
	PGconn *c;
	rc = cli_db_open(a.opt_db, true, &db, &c);
	if (rc != EX_OK) {
		verify_ctx_free(verify);
		return rc;
	}
	time_t at = time(NULL);
	if (a.at_s && parse_at(c, a.at_s, &at) != 0) {
		rc = cli_usage_error("reverify",
				     "--at wants an ISO 8601 time such as "
				     "2030-01-31T12:00:00Z, not '%s'",
				     a.at_s);
		goto out;
	}
	int64_t id;
	char *name = NULL;
	rc = campaign_lookup(c, a.spec, false, &id, &name);
	if (rc != EX_OK)
		goto out;
	char cid[24];
	const char *p[1] = { cid };
	snprintf(cid, sizeof cid, "%" PRId64, id);
	PGresult *r =
	    db_exec(c, PGRES_TUPLES_OK, "reading the campaign",
		    "SELECT state FROM campaign WHERE id = $1::bigint", 1, p);
	if (r && strcmp(PQgetvalue(r, 0, 0), "done") != 0)
		log_warn("campaign '%s' is %s: the judgement set covers what "
			 "is stored so far",
			 name, PQgetvalue(r, 0, 0));
	PQclear(r);

	struct tm tm;
	char when[32];
	gmtime_r(&at, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!a.quiet)
		fprintf(stderr,
			"reverify: campaign '%s' (id %s), trust store %s, at "
			"%s\n",
			name, cid, a.ca_file ? abs : "(system)", when);
	struct reverify_opts o = {
		.campaign_id = id,
		.verify = verify,
		.ca_file = a.ca_file ? abs : NULL,
		.ca_sha256_hex = a.ca_file ? sha : NULL,
		.at = at,
		.note = a.note,
		.progress = a.quiet || a.progress_s == 0 ? NULL : stderr,
		.progress_seconds = (unsigned)a.progress_s,
		.fetch_rows = (unsigned)a.fetch,
	};
	struct reverify_summary sum;
	FILE *out = a.quiet ? fopen("/dev/null", "w") : stdout;
	int vr = out ? reverify_run(c, &o, &sum, out) : -errno;
	if (vr != 0) {
		/* The database's errors are printed where they happen. */
		if (vr == -E2BIG)
			log_error(
			    "reverify: the verdicts of one round trip are "
			    "over the limit; try a smaller --fetch");
		else if (vr != -EIO)
			log_error("reverify: %s", strerror(-vr));
		rc =
		    PQstatus(c) == CONNECTION_OK ? EX_SOFTWARE : EX_UNAVAILABLE;
	}
	if (out && out != stdout)
		fclose(out);
	free(name);
	if (fflush(stdout) != 0 && rc == EX_OK) {
		log_error("writing stdout failed");
		rc = EX_IOERR;
	}
out:
	PQfinish(c);
	db_free(&db);
	verify_ctx_free(verify);
	return rc;
}
