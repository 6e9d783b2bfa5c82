/* mxcrawl export: every stored fact of a campaign, one JSON object per domain. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/campaign.h"
#include "crawler/cli.h"
#include "crawler/commands.h"
#include "crawler/db.h"
#include "crawler/migrate.h"

static const char usage[] =
    "usage: mxcrawl export [--campaign ID|NAME] --format jsonl [--db CONNINFO]\n"
    "\n"
    "Writes one JSON object per scanned domain of the campaign (default: the\n"
    "newest) to stdout, in target order, with every fact stored so far.\n"
    "README.md lists the fields.\n"
    "\n"
    "Exit status: 0 ok; 64 usage; 65 no such campaign; 69 database unreachable.\n";

/* Finds a campaign by id (all digits) or name; the newest when spec is NULL.
 * Returns 1 found, 0 not, -1 error. */
int campaign_resolve(PGconn *c, const char *spec, int64_t *id, char **name)
{
	const char *params[1] = { spec };
	PGresult *r;

	if (!spec)
		r = db_exec(
		    c, PGRES_TUPLES_OK, "finding the newest campaign",
		    "SELECT id, name FROM campaign ORDER BY id DESC LIMIT 1", 0,
		    NULL);
	else
		r = db_exec(c, PGRES_TUPLES_OK, "finding the campaign",
			    "SELECT id, name FROM campaign WHERE name = $1 "
			    "OR ($1 ~ '^[0-9]{1,18}$' AND id = $1::bigint) "
			    "ORDER BY name = $1 DESC LIMIT 1",
			    1, params);
	if (!r)
		return -1;
	int found = PQntuples(r) > 0;
	if (found) {
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if (name)
			*name = strdup(PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return found;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "campaign", required_argument, NULL, CLI_OPT_CAMPAIGN },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL, *format = NULL, *opt_db = NULL;
	int ch, rc = EX_OK;
	struct db db;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_CAMPAIGN:
			spec = optarg;
			break;
		case CLI_OPT_FORMAT:
			format = optarg;
			break;
		case CLI_OPT_DB:
			opt_db = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("export", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("export", "unexpected argument '%s'",
				       argv[optind]);
	if (!format || strcmp(format, "jsonl") != 0)
		return cli_usage_error("export",
				       "--format jsonl is required (the "
				       "only format so far)");
	if (db_init(&db, opt_db) != 0)
		return EX_CONFIG;
	PGconn *c = db_connect(&db);
	if (!c) {
		db_free(&db);
		return EX_UNAVAILABLE;
	}
	int applied, version;
	if (migrate_run(c, 0, &applied, &version) != 0) {
		rc = EX_SOFTWARE;
		goto out;
	}
	int64_t id;
	int found = campaign_resolve(c, spec, &id, NULL);
	if (found <= 0) {
		if (found == 0)
			cli_error(spec ? "no campaign '%s'"
				       : "no campaign yet%s",
				  spec ? spec : "");
		rc = found < 0 ? EX_UNAVAILABLE : EX_DATAERR;
		goto out;
	}
	char cid[24];
	const char *params[1] = { cid };
	snprintf(cid, sizeof cid, "%" PRId64, id);
	if (!PQsendQueryParams(
		c,
		"SELECT doc::text FROM export_domain "
		"WHERE campaign_id = $1::bigint ORDER BY target_id",
		1, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(c)) {
		cli_error("export: %s", PQerrorMessage(c));
		rc = EX_UNAVAILABLE;
		goto out;
	}
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_SINGLE_TUPLE) {
			fwrite(PQgetvalue(r, 0, 0), 1,
			       (size_t)PQgetlength(r, 0, 0), stdout);
			fputc('\n', stdout);
		} else if (st != PGRES_TUPLES_OK) {
			cli_error("export: %s", PQresultErrorMessage(r));
			rc = EX_UNAVAILABLE;
		}
		PQclear(r);
	}
	if (fflush(stdout) != 0) {
		cli_error("export: writing stdout failed");
		rc = EX_IOERR;
	}
out:
	PQfinish(c);
	db_free(&db);
	return rc;
}
