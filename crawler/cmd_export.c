/* mxcrawl export: every stored fact of a campaign, one JSON object per domain. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

#include "crawler/campaign.h"
#include "crawler/cli.h"
#include "crawler/commands.h"
#include "crawler/db.h"
#include "crawler/migrate.h"
#include "crawler/record.h"

static const char usage[] =
    "usage: mxcrawl export [--campaign ID|NAME] --format jsonl [--db CONNINFO]\n"
    "       mxcrawl export [--campaign ID|NAME] --metadata [--db CONNINFO]\n"
    "\n"
    "Writes one JSON object per scanned domain of the campaign (default: the\n"
    "newest) to stdout, in target order, with every fact stored so far; each\n"
    "carries campaign_id, campaign_name and dnssec_validated (false: the\n"
    "resolver did not validate, every DNSSEC and DANE fact is unknown).\n"
    "README.md lists the fields.\n"
    "\n"
    "--metadata writes the campaign's provenance instead, as one JSON\n"
    "document: the campaign and every run (resolver, canaries, trust store,\n"
    "options, versions, host, start and end).\n"
    "\n"
    "Exit status: 0 ok; 64 usage; 65 no such campaign; 69 database unreachable;\n"
    "78 a migration is pending that this role may not apply.\n";

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

/* Largest handshake record decompressed (records are a few KiB). */
#define EXPORT_RECORD_MAX (1u << 20)

/*
 * The handshake records of the campaign, read in target order on a second
 * connection beside the documents and merged into them: each document
 * gets "handshake_records", the decompressed records of the endpoints its
 * MX hosts use.
 */
struct records {
	PGconn *c;
	PGresult *row; /* the next record row, or NULL */
	bool done;
	size_t ndicts;
	int64_t *dict_id;
	PGresult *dicts; /* id, dict (binary) */
};

static int64_t be64(const char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | (uint8_t)p[i];
	return (int64_t)v;
}

static void records_next(struct records *rec)
{
	PQclear(rec->row);
	rec->row = NULL;
	if (rec->done)
		return;
	PGresult *r = PQgetResult(rec->c);
	if (r && PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
		rec->row = r;
		return;
	}
	PQclear(r);
	while ((r = PQgetResult(rec->c)) != NULL)
		PQclear(r);
	rec->done = true;
}

static int records_open(struct records *rec, struct db *db, const char *cid)
{
	const char *params[1] = { cid };

	memset(rec, 0, sizeof *rec);
	rec->c = db_connect(db);
	if (!rec->c)
		return -1;
	rec->dicts = PQexecParams(rec->c,
				  "SELECT id, dict FROM zstd_dict "
				  "WHERE campaign_id = $1::bigint ORDER BY id",
				  1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(rec->dicts) != PGRES_TUPLES_OK) {
		cli_error("export: %s", PQerrorMessage(rec->c));
		return -1;
	}
	if (!PQsendQueryParams(
		rec->c,
		"SELECT de.target_id, hr.dict_id, hr.zstd "
		"FROM domain_endpoint de JOIN handshake_record hr "
		"ON hr.campaign_id = de.campaign_id AND hr.ip = de.ip "
		"AND hr.port = de.port AND hr.sni = de.sni "
		"WHERE de.campaign_id = $1::bigint "
		"ORDER BY de.target_id, de.ordinal, de.ip",
		1, NULL, params, NULL, NULL, 1) ||
	    !PQsetSingleRowMode(rec->c)) {
		cli_error("export: %s", PQerrorMessage(rec->c));
		return -1;
	}
	records_next(rec);
	return 0;
}

static void records_close(struct records *rec)
{
	while (rec->row)
		records_next(rec);
	PQclear(rec->dicts);
	PQfinish(rec->c);
}

/* Prints one document with the campaign's fields (`extra`, starting with
 * ", ") and its handshake records merged in. */
static int print_doc(struct records *rec, const char *doc, size_t len,
		     int64_t target, const char *extra)
{
	struct jbuf out;
	int rc = 0, n = 0;

	/* Skip records of targets without a document (none expected). */
	while (rec->row && be64(PQgetvalue(rec->row, 0, 0)) < target)
		records_next(rec);
	if (len < 2 || doc[len - 1] != '}') {
		fwrite(doc, 1, len, stdout);
		fputc('\n', stdout);
		return 0;
	}
	jbuf_init(&out, 64u << 20);
	jbuf_append(&out, doc, len - 1);
	jbuf_puts(&out, extra);
	jbuf_puts(&out, ", \"handshake_records\": [");
	while (rec->row && be64(PQgetvalue(rec->row, 0, 0)) == target) {
		const uint8_t *dict = NULL;
		size_t dict_len = 0;
		if (!PQgetisnull(rec->row, 0, 1)) {
			int64_t id = be64(PQgetvalue(rec->row, 0, 1));
			for (int i = 0; i < PQntuples(rec->dicts); i++) {
				if (be64(PQgetvalue(rec->dicts, i, 0)) == id) {
					dict = (const uint8_t *)PQgetvalue(
					    rec->dicts, i, 1);
					dict_len = (size_t)PQgetlength(
					    rec->dicts, i, 1);
				}
			}
			if (!dict)
				rc = -1;
		}
		if (n++)
			jbuf_puts(&out, ", ");
		if (rc != 0 || record_decompress(
				   (const uint8_t *)PQgetvalue(rec->row, 0, 2),
				   (size_t)PQgetlength(rec->row, 0, 2), dict,
				   dict_len, &out, EXPORT_RECORD_MAX) != 0) {
			jbuf_puts(&out, "null");
			rc = -1;
		}
		records_next(rec);
	}
	jbuf_puts(&out, "]}\n");
	if (!out.failed)
		fwrite(out.data, 1, out.len, stdout);
	else
		rc = -1;
	jbuf_free(&out);
	if (rc != 0)
		cli_error("export: a handshake record of target %" PRId64
			  " could not be decompressed (written as null)",
			  target);
	return rc;
}

/* The campaign's provenance as one JSON document (schema/016). */
static int print_metadata(PGconn *c, const char *cid)
{
	const char *p[1] = { cid };
	PGresult *r = db_exec(c, PGRES_TUPLES_OK, "reading the provenance",
			      "SELECT jsonb_pretty(campaign_provenance("
			      "$1::bigint))",
			      1, p);
	if (!r)
		return EX_UNAVAILABLE;
	fputs(PQgetvalue(r, 0, 0), stdout);
	fputc('\n', stdout);
	PQclear(r);
	if (fflush(stdout) != 0) {
		cli_error("export: writing stdout failed");
		return EX_IOERR;
	}
	return EX_OK;
}

/* Options of this command only. */
enum { OPT_METADATA = 3000 };

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "campaign", required_argument, NULL, CLI_OPT_CAMPAIGN },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "metadata", no_argument, NULL, OPT_METADATA },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL, *format = NULL, *opt_db = NULL;
	int ch, rc = EX_OK;
	bool metadata = false;
	struct db db;
	struct jbuf extra;
	char *name = NULL;

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
		case OPT_METADATA:
			metadata = true;
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
	if (metadata && format)
		return cli_usage_error("export", "--metadata writes one JSON "
						 "document; no --format");
	if (!metadata && (!format || strcmp(format, "jsonl") != 0))
		return cli_usage_error("export",
				       "--format jsonl is required (the "
				       "only format so far)");
	if (db_init(&db, opt_db) != 0)
		return EX_CONFIG;
	jbuf_init(&extra, 1u << 16);
	PGconn *c = db_connect(&db);
	if (!c) {
		db_free(&db);
		jbuf_free(&extra);
		return EX_UNAVAILABLE;
	}
	int ensured = migrate_ensure(c);
	if (ensured != 0) {
		rc = ensured == MIGRATE_BEHIND ? EX_CONFIG : EX_SOFTWARE;
		goto out;
	}
	int64_t id;
	int found = campaign_resolve(c, spec, &id, &name);
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
	if (metadata) {
		rc = print_metadata(c, cid);
		goto out;
	}
	/* Every record says which campaign it is of and whether its DNSSEC
	 * facts were validated at all. */
	PGresult *v =
	    db_exec(c, PGRES_TUPLES_OK, "reading the campaign",
		    "SELECT campaign_dnssec_validated($1::bigint)", 1, params);
	if (!v || !name) {
		PQclear(v);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	jbuf_printf(&extra, ", \"campaign_id\": %s, \"campaign_name\": ", cid);
	jbuf_json_string(&extra, name, strlen(name));
	jbuf_printf(&extra, ", \"dnssec_validated\": %s",
		    PQgetisnull(v, 0, 0)	    ? "null"
		    : PQgetvalue(v, 0, 0)[0] == 't' ? "true"
						    : "false");
	PQclear(v);
	if (extra.failed) {
		rc = EX_OSERR;
		goto out;
	}
	struct records rec;
	if (records_open(&rec, &db, cid) != 0) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (!PQsendQueryParams(
		c,
		"SELECT doc::text, target_id FROM export_document "
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
			if (print_doc(&rec, PQgetvalue(r, 0, 0),
				      (size_t)PQgetlength(r, 0, 0),
				      strtoll(PQgetvalue(r, 0, 1), NULL, 10),
				      extra.data) != 0)
				rc = EX_SOFTWARE;
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
	records_close(&rec);
out:
	free(name);
	jbuf_free(&extra);
	PQfinish(c);
	db_free(&db);
	return rc;
}
