/*
 * mxcrawl campaign list | show | size | cancel | drop | gc-certificates |
 * lock: what the campaigns of a database are, how far they got and how
 * much disk they take; cancelling one; dropping one (its partitions, in
 * one short transaction) and the certificates no campaign uses any more;
 * and the advisory lock that keeps two runs of a recurring campaign
 * (scripts/cron-campaign) from overlapping, on one machine or many.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawler/store/campaign.h"
#include "crawler/cli/cli.h"
#include "crawler/util/log.h"
#include "crawler/cli/commands.h"
#include "crawler/store/db.h"
#include "crawler/util/json.h"

static const char usage[] =
    "usage: mxcrawl campaign list [--prefix P] [--state S,...]\n"
    "                             [--format text|json|tsv] [--db CONNINFO]\n"
    "       mxcrawl campaign show ID|NAME [--format text|json] [--db CONNINFO]\n"
    "       mxcrawl campaign size ID|NAME [--format text|json] [--db CONNINFO]\n"
    "       mxcrawl campaign cancel ID|NAME [--db CONNINFO]\n"
    "       mxcrawl campaign drop ID|NAME --yes [--wait SECONDS] [--db CONNINFO]\n"
    "       mxcrawl campaign gc-certificates --yes [--db CONNINFO]\n"
    "       mxcrawl campaign lock NAME [--db CONNINFO] -- COMMAND [ARG...]\n"
    "\n"
    "Actions:\n"
    "  list    every campaign: id, name, state, created, targets, targets\n"
    "          done, tool version, vantage, bytes on disk\n"
    "  show    one campaign: configuration, progress (batches done, leased,\n"
    "          open; targets done), timings, rows per fact table, bytes, and\n"
    "          its judgement sets (0 is the scan's own; see 'mxcrawl\n"
    "          reverify')\n"
    "  size    bytes one campaign takes, per table: its partitions whole\n"
    "          (with indexes), its rows of the tables not partitioned;\n"
    "          certificates, shared by all campaigns, are not counted\n"
    "  cancel  mark a queued or running campaign cancelled: crawlers lease\n"
    "          no more of its batches, those in flight are finished and kept\n"
    "  drop    delete a campaign and all its facts for good (detaches and\n"
    "          drops its partitions; seconds at any size; other campaigns\n"
    "          go on meanwhile); needs --yes; refused while a crawler holds\n"
    "          a lease on it or its import runs. An interrupted drop leaves\n"
    "          it 'dropping': drop it again to finish. Export it first to\n"
    "          keep it. Certificates are kept (other campaigns share them)\n"
    "  gc-certificates  delete the certificates no campaign refers to any\n"
    "          more; needs --yes; crawlers wait to store while it runs\n"
    "  lock    run COMMAND while holding the PostgreSQL advisory lock named\n"
    "          NAME; if another session (on any machine) holds it, run\n"
    "          nothing and exit 75 (scripts/cron-campaign uses it)\n"
    "\n"
    "Options:\n"
    "  --format F      text (default), json, or tsv (list: tab-separated,\n"
    "                  no header, for scripts)\n"
    "  --prefix P      list only campaigns whose name starts with P\n"
    "  --state S,...   list only campaigns in these states (queued, running,\n"
    "                  done, cancelled)\n"
    "  --yes           drop, gc-certificates: really delete\n"
    "  --wait SECONDS  drop: wait at most this long (default 60) for the\n"
    "                  transactions that use a table to end, then stop\n"
    "                  (exit 75; drop again later to go on)\n"
    "  --db CONNINFO   PostgreSQL server (default: the private cluster)\n"
    "\n"
    "Exit status: 0 ok; 64 usage (drop without --yes); 65 no such\n"
    "campaign, or cancelling a finished one; 69 database unreachable; 75\n"
    "lock held elsewhere, or drop refused while a crawler holds a lease or\n"
    "its import runs (nothing dropped), or stopped after --wait (drop again\n"
    "later); 77 drop by a role that does not own the tables;\n"
    "lock: otherwise COMMAND's status (126/127 when it cannot be run); 78 a\n"
    "migration is pending that this role may not apply.\n" USAGE_EXIT_COMMON;

enum { OPT_PREFIX = 2000, OPT_STATE, OPT_YES, OPT_WAIT };

/* How long drop and gc-certificates wait for a table lock. While they wait,
 * other sessions queue behind the request; longer would stall crawlers. */
#define DROP_LOCK_TIMEOUT "2s"

/* How long a drop waits, by default, for the transactions that use a
 * parent table to end before it detaches one of its partitions. Nobody
 * queues behind that wait but other DDL on the parent: the creation of
 * a new campaign, which retries each second for ten minutes. */
#define DROP_WAIT_DEFAULT 60

/* Timestamps are shown in UTC, ISO 8601. */
#define ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* ---- small output helpers --------------------------------------------- */

static void json_key(struct jbuf *b, bool *first, const char *key)
{
	jbuf_puts(b, *first ? "" : ", ");
	*first = false;
	jbuf_json_string(b, key, strlen(key));
	jbuf_puts(b, ": ");
}

/* A text value of row i, column col, as a JSON string or null. */
static void json_str(struct jbuf *b, bool *first, const char *key, PGresult *r,
		     int i, int col)
{
	json_key(b, first, key);
	if (PQgetisnull(r, i, col))
		jbuf_puts(b, "null");
	else
		jbuf_json_string(b, PQgetvalue(r, i, col),
				 (size_t)PQgetlength(r, i, col));
}

/* A numeric (or jsonb) value of row i, column col, as is, or null. */
static void json_raw(struct jbuf *b, bool *first, const char *key, PGresult *r,
		     int i, int col)
{
	json_key(b, first, key);
	jbuf_puts(b, PQgetisnull(r, i, col) ? "null" : PQgetvalue(r, i, col));
}

static int print_jbuf(struct jbuf *b)
{
	if (b->failed) {
		log_error("out of memory");
		jbuf_free(b);
		return EX_OSERR;
	}
	fwrite(b->data, 1, b->len, stdout);
	jbuf_free(b);
	return EX_OK;
}

static const char *val(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? "-" : PQgetvalue(r, i, col);
}

/* ---- list ---------------------------------------------------------------- */

static const char *const list_heads[] = { "ID",	     "NAME",	"STATE",
					  "CREATED", "TARGETS", "DONE",
					  "VERSION", "VANTAGE", "BYTES" };
#define LIST_COLS 9

static int do_list(PGconn *c, const char *format, const char *prefix,
		   const char *states)
{
	const char *p[2] = { prefix, states };
	PGresult *r = db_exec(
	    c, PGRES_TUPLES_OK, "listing campaigns",
	    "SELECT c.id, c.name, c.state, " ISO(
		"c.created") ", c.targets, "
			     "(SELECT coalesce(sum(b.targets), 0) FROM campaign_batch b "
			     "WHERE b.campaign_id = c.id AND b.done_at IS NOT NULL), "
			     "c.tool_version, c.vantage, "
			     "(SELECT sum(s.bytes) FROM campaign_size(c.id) s) "
			     "FROM campaign c "
			     "WHERE ($1::text IS NULL OR starts_with(c.name, $1)) "
			     "AND ($2::text IS NULL OR "
			     "c.state = ANY (string_to_array($2, ','))) "
			     "ORDER BY c.id",
	    2, p);
	if (!r)
		return EX_UNAVAILABLE;
	int n = PQntuples(r), rc = EX_OK;
	if (!strcmp(format, "json")) {
		struct jbuf b;
		jbuf_init(&b, 256u << 20);
		jbuf_puts(&b, "[");
		for (int i = 0; i < n; i++) {
			bool first = true;
			jbuf_puts(&b, i ? ",\n {" : "{");
			json_raw(&b, &first, "id", r, i, 0);
			json_str(&b, &first, "name", r, i, 1);
			json_str(&b, &first, "state", r, i, 2);
			json_str(&b, &first, "created", r, i, 3);
			json_raw(&b, &first, "targets", r, i, 4);
			json_raw(&b, &first, "targets_done", r, i, 5);
			json_str(&b, &first, "tool_version", r, i, 6);
			json_str(&b, &first, "vantage", r, i, 7);
			json_raw(&b, &first, "bytes", r, i, 8);
			jbuf_puts(&b, "}");
		}
		jbuf_puts(&b, "]\n");
		rc = print_jbuf(&b);
	} else if (!strcmp(format, "tsv")) {
		/* Names hold no control characters (campaign_name_problem),
		 * so no tab or newline needs escaping. */
		for (int i = 0; i < n; i++)
			for (int k = 0; k < LIST_COLS; k++)
				printf("%s%c", PQgetvalue(r, i, k),
				       k + 1 < LIST_COLS ? '\t' : '\n');
	} else {
		int w[LIST_COLS];
		for (int k = 0; k < LIST_COLS; k++) {
			w[k] = (int)strlen(list_heads[k]);
			for (int i = 0; i < n; i++)
				if (PQgetlength(r, i, k) > w[k])
					w[k] = PQgetlength(r, i, k);
		}
		for (int i = n ? -1 : 0; i < n; i++)
			for (int k = 0; k < LIST_COLS; k++) {
				const char *s =
				    i < 0 ? list_heads[k] : PQgetvalue(r, i, k);
				if (k + 1 < LIST_COLS)
					printf("%-*s  ", w[k], s);
				else
					printf("%s\n", s);
			}
		if (n == 0)
			printf("(no campaigns)\n");
	}
	PQclear(r);
	return rc;
}

/* ---- show ---------------------------------------------------------------- */

/* The queries of `show`, each one result. */
struct show {
	PGresult *c;	 /* the campaign row */
	PGresult *prog;	 /* progress and timings */
	PGresult *facts; /* table_name, rows */
	PGresult *sets;	 /* judgement sets */
	PGresult *prov;	 /* dnssec_validated, runs as JSON */
	PGresult *lines; /* run, key, value: the provenance as lines */
	PGresult *size;	 /* bytes, pretty */
};

static int show_query(PGconn *c, const char *cid, struct show *s)
{
	const char *p[1] = { cid };

	s->c = db_exec(
	    c, PGRES_TUPLES_OK, "reading the campaign",
	    "SELECT id, name, state, " ISO(
		"created") ", "
			   "jsonb_pretty(config), config::text, tool_version, "
			   "vantage, batch_size, targets "
			   "FROM campaign WHERE id = $1::bigint",
	    1, p);
	if (!s->c)
		return -1;
	s->prog = db_exec(
	    c, PGRES_TUPLES_OK, "reading the campaign's progress",
	    "SELECT count(*), count(*) FILTER (WHERE done_at IS NOT NULL), "
	    "count(*) FILTER (WHERE done_at IS NULL "
	    "AND lease_expires > clock_timestamp()), "
	    "count(*) FILTER (WHERE done_at IS NULL AND (lease_expires IS NULL "
	    "OR lease_expires <= clock_timestamp())), "
	    "coalesce(sum(targets) FILTER (WHERE done_at IS NOT NULL), 0), "
	    "count(*) FILTER (WHERE attempts > 1), "
	    "count(DISTINCT leased_by), " ISO("min(done_at)") ", " ISO(
		"max(done_at)") ", "
				"round(extract(epoch FROM max(done_at) - "
				"(SELECT created FROM campaign WHERE id = "
				"$1::bigint))::numeric, 1), "
				"round((coalesce(sum(targets) FILTER (WHERE "
				"done_at IS NOT NULL), 0) / nullif(extract("
				"epoch FROM max(done_at) - (SELECT created "
				"FROM campaign WHERE id = $1::bigint)), 0))::"
				"numeric, 1) "
				"FROM campaign_batch WHERE campaign_id = "
				"$1::bigint",
	    1, p);
	if (!s->prog)
		return -1;
	s->facts = db_exec(c, PGRES_TUPLES_OK, "counting the campaign's facts",
			   "SELECT table_name, rows "
			   "FROM campaign_fact_counts($1::bigint)",
			   1, p);
	if (!s->facts)
		return -1;
	s->sets = db_exec(
	    c, PGRES_TUPLES_OK, "reading the judgement sets",
	    "SELECT s.id, " ISO(
		"s.created_at") ", s.ca_file, "
				"encode(s.ca_sha256, 'hex'), " ISO(
				    "s.at_time") ", s.tool_version, "
						 "s.note, count(j.*), count(*) FILTER (WHERE j.trusted) "
						 "FROM judgement_set_all s "
						 "LEFT JOIN endpoint_judgement_all j "
						 "ON j.campaign_id = s.campaign_id AND j.judgement_set_id = s.id "
						 "WHERE s.campaign_id = $1::bigint "
						 "GROUP BY s.id, s.created_at, s.ca_file, s.ca_sha256, s.at_time, "
						 "s.tool_version, s.note ORDER BY s.id",
	    1, p);
	if (!s->sets)
		return -1;
	s->prov = db_exec(c, PGRES_TUPLES_OK, "reading the campaign's runs",
			  "SELECT campaign_dnssec_validated($1::bigint), "
			  "campaign_provenance($1::bigint) -> 'runs'",
			  1, p);
	if (!s->prov)
		return -1;
	s->lines = db_exec(c, PGRES_TUPLES_OK, "reading the campaign's runs",
			   "SELECT run, key, value "
			   "FROM campaign_provenance_lines($1::bigint)",
			   1, p);
	if (!s->lines)
		return -1;
	s->size = db_exec(c, PGRES_TUPLES_OK, "measuring the campaign",
			  "SELECT sum(bytes), pg_size_pretty(sum(bytes)) "
			  "FROM campaign_size($1::bigint)",
			  1, p);
	return s->size ? 0 : -1;
}

/* Whether DNSSEC was validated, in words. */
static const char *validated_words(PGresult *r)
{
	if (PQgetisnull(r, 0, 0))
		return "not known yet (nothing scanned)";
	return PQgetvalue(r, 0, 0)[0] == 't'
		   ? "validated"
		   : "NOT VALIDATED: the resolver of a run did not validate "
		     "(--allow-unvalidated); DNSSEC and DANE were not measured";
}

static void show_text(const struct show *s)
{
	PGresult *c = s->c, *p = s->prog;

	printf("campaign %s: %s\n", val(c, 0, 0), val(c, 0, 1));
	printf("state: %s\n", val(c, 0, 2));
	printf("created: %s\n", val(c, 0, 3));
	printf("tool version: %s\n", val(c, 0, 6));
	printf("vantage: %s\n", val(c, 0, 7));
	printf("batch size: %s\n", val(c, 0, 8));
	printf("config: %s\n", val(c, 0, 4));
	printf("DNSSEC: %s\n", validated_words(s->prov));
	printf("size: %s bytes (%s; 'mxcrawl campaign size' per table)\n",
	       val(s->size, 0, 0), val(s->size, 0, 1));
	printf("\nprogress:\n");
	printf("  targets: %s done of %s\n", val(p, 0, 4), val(c, 0, 9));
	printf("  batches: %s done, %s leased, %s open, of %s\n", val(p, 0, 1),
	       val(p, 0, 2), val(p, 0, 3), val(p, 0, 0));
	printf("  batches leased more than once: %s\n", val(p, 0, 5));
	printf("  crawlers that leased: %s\n", val(p, 0, 6));
	printf("\ntimings:\n");
	printf("  first batch done: %s\n", val(p, 0, 7));
	printf("  last batch done: %s\n", val(p, 0, 8));
	printf("  seconds from creation to last batch: %s\n", val(p, 0, 9));
	printf("  targets per second: %s\n", val(p, 0, 10));
	printf("\nfacts (rows per table):\n");
	for (int i = 0; i < PQntuples(s->facts); i++)
		printf("  %-26s %s\n", val(s->facts, i, 0),
		       val(s->facts, i, 1));
	printf("\njudgement sets:\n");
	for (int i = 0; i < PQntuples(s->sets); i++) {
		PGresult *j = s->sets;
		if (!strcmp(val(j, i, 0), "0"))
			printf("  0 scan: the scan's own verdicts, at probe "
			       "time; trust store %s",
			       PQgetisnull(j, i, 2) ? "as given to the scan"
						    : val(j, i, 2));
		else
			printf(
			    "  %s %s: trust store %s%s%s%s, at %s, by %s%s%s",
			    val(j, i, 0), val(j, i, 1),
			    PQgetisnull(j, i, 2) ? "(system)" : val(j, i, 2),
			    PQgetisnull(j, i, 3) ? "" : " (sha256 ",
			    PQgetisnull(j, i, 3) ? "" : val(j, i, 3),
			    PQgetisnull(j, i, 3) ? "" : ")", val(j, i, 4),
			    val(j, i, 5), PQgetisnull(j, i, 6) ? "" : ", ",
			    PQgetisnull(j, i, 6) ? "" : val(j, i, 6));
		printf("; %s of %s endpoints trusted\n", val(j, i, 8),
		       val(j, i, 7));
	}
	/* How it was measured: every run's provenance, a line a fact. */
	printf("\nruns (how this was measured):\n");
	if (PQntuples(s->lines) == 0)
		printf("  none recorded\n");
	for (int i = 0; i < PQntuples(s->lines); i++) {
		if (i == 0 || strcmp(PQgetvalue(s->lines, i, 0),
				     PQgetvalue(s->lines, i - 1, 0)) != 0)
			printf("  run %s:\n", val(s->lines, i, 0));
		printf("    %s: %s\n", val(s->lines, i, 1),
		       val(s->lines, i, 2));
	}
}

static int show_json(const struct show *s)
{
	PGresult *c = s->c, *p = s->prog;
	struct jbuf b;
	bool first = true, f2;

	jbuf_init(&b, 64u << 20);
	jbuf_puts(&b, "{");
	json_raw(&b, &first, "id", c, 0, 0);
	json_str(&b, &first, "name", c, 0, 1);
	json_str(&b, &first, "state", c, 0, 2);
	json_str(&b, &first, "created", c, 0, 3);
	json_str(&b, &first, "tool_version", c, 0, 6);
	json_str(&b, &first, "vantage", c, 0, 7);
	json_raw(&b, &first, "batch_size", c, 0, 8);
	json_raw(&b, &first, "bytes", s->size, 0, 0);
	json_raw(&b, &first, "config", c, 0, 5);
	json_key(&b, &first, "dnssec_validated");
	jbuf_puts(&b, PQgetisnull(s->prov, 0, 0)	    ? "null"
		      : PQgetvalue(s->prov, 0, 0)[0] == 't' ? "true"
							    : "false");
	json_key(&b, &first, "progress");
	f2 = true;
	jbuf_puts(&b, "{");
	json_raw(&b, &f2, "targets", c, 0, 9);
	json_raw(&b, &f2, "targets_done", p, 0, 4);
	json_raw(&b, &f2, "batches", p, 0, 0);
	json_raw(&b, &f2, "batches_done", p, 0, 1);
	json_raw(&b, &f2, "batches_leased", p, 0, 2);
	json_raw(&b, &f2, "batches_open", p, 0, 3);
	json_raw(&b, &f2, "batches_retried", p, 0, 5);
	json_raw(&b, &f2, "crawlers", p, 0, 6);
	jbuf_puts(&b, "}");
	json_key(&b, &first, "timings");
	f2 = true;
	jbuf_puts(&b, "{");
	json_str(&b, &f2, "first_batch_done", p, 0, 7);
	json_str(&b, &f2, "last_batch_done", p, 0, 8);
	json_raw(&b, &f2, "seconds", p, 0, 9);
	json_raw(&b, &f2, "targets_per_second", p, 0, 10);
	jbuf_puts(&b, "}");
	json_key(&b, &first, "facts");
	f2 = true;
	jbuf_puts(&b, "{");
	for (int i = 0; i < PQntuples(s->facts); i++)
		json_raw(&b, &f2, PQgetvalue(s->facts, i, 0), s->facts, i, 1);
	jbuf_puts(&b, "}");
	json_key(&b, &first, "judgement_sets");
	jbuf_puts(&b, "[");
	for (int i = 0; i < PQntuples(s->sets); i++) {
		f2 = true;
		jbuf_puts(&b, i ? ", {" : "{");
		json_raw(&b, &f2, "id", s->sets, i, 0);
		json_str(&b, &f2, "created_at", s->sets, i, 1);
		json_str(&b, &f2, "ca_file", s->sets, i, 2);
		json_str(&b, &f2, "ca_sha256", s->sets, i, 3);
		json_str(&b, &f2, "at_time", s->sets, i, 4);
		json_str(&b, &f2, "tool_version", s->sets, i, 5);
		json_str(&b, &f2, "note", s->sets, i, 6);
		json_raw(&b, &f2, "endpoints", s->sets, i, 7);
		json_raw(&b, &f2, "trusted", s->sets, i, 8);
		jbuf_puts(&b, "}");
	}
	jbuf_puts(&b, "]");
	json_raw(&b, &first, "runs", s->prov, 0, 1);
	jbuf_puts(&b, "}\n");
	return print_jbuf(&b);
}

static int do_show(PGconn *c, const char *cid, const char *format)
{
	struct show s = { 0 };
	int rc = EX_UNAVAILABLE;

	if (show_query(c, cid, &s) == 0) {
		if (!strcmp(format, "json")) {
			rc = show_json(&s);
		} else {
			show_text(&s);
			rc = EX_OK;
		}
	}
	PQclear(s.c);
	PQclear(s.prog);
	PQclear(s.facts);
	PQclear(s.sets);
	PQclear(s.prov);
	PQclear(s.lines);
	PQclear(s.size);
	return rc;
}

/* ---- cancel -------------------------------------------------------------- */

static int do_cancel(PGconn *c, const char *cid, const char *name)
{
	const char *p[1] = { cid };
	PGresult *r = db_exec(
	    c, PGRES_TUPLES_OK, "cancelling the campaign",
	    "WITH o AS (SELECT id, state FROM campaign WHERE id = $1::bigint "
	    "FOR UPDATE), "
	    "u AS (UPDATE campaign c SET state = 'cancelled' FROM o "
	    "WHERE c.id = o.id AND o.state IN ('queued', 'running') "
	    "RETURNING c.id) "
	    "SELECT o.state, (SELECT count(*) FROM u), "
	    "(SELECT count(*) FROM campaign_batch b WHERE b.campaign_id = o.id "
	    "AND b.done_at IS NULL AND b.lease_expires > clock_timestamp()) "
	    "FROM o",
	    1, p);
	if (!r)
		return EX_UNAVAILABLE;
	int rc = EX_OK;
	const char *was = PQgetvalue(r, 0, 0);
	if (!strcmp(was, "done")) {
		log_error("campaign '%s' is done: there is nothing to cancel",
			  name);
		rc = EX_DATAERR;
	} else if (!strcmp(was, "dropping") || !strcmp(was, "importing")) {
		log_error("campaign '%s' is %s: there is nothing to cancel",
			  name,
			  was[0] == 'd' ? "being dropped" : "not imported yet");
		rc = EX_DATAERR;
	} else if (!strcmp(was, "cancelled")) {
		printf("campaign '%s' (id %s) was already cancelled\n", name,
		       cid);
	} else {
		printf("cancelled campaign '%s' (id %s; was %s): crawlers "
		       "lease no more of its batches; the %s batches in flight "
		       "are finished and kept\n",
		       name, cid, was, PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	return rc;
}

/* ---- size ---------------------------------------------------------------- */

static int do_size(PGconn *c, const char *cid, const char *name,
		   const char *format)
{
	const char *p[1] = { cid };
	PGresult *r =
	    db_exec(c, PGRES_TUPLES_OK, "measuring the campaign",
		    "SELECT table_name, bytes, how, pg_size_pretty(bytes), "
		    "sum(bytes) OVER (), pg_size_pretty(sum(bytes) OVER ()) "
		    "FROM campaign_size($1::bigint) ORDER BY table_name",
		    1, p);
	if (!r)
		return EX_UNAVAILABLE;
	int n = PQntuples(r);
	if (!strcmp(format, "json")) {
		struct jbuf b;
		bool first = true;
		jbuf_init(&b, 16u << 20);
		jbuf_puts(&b, "{\"id\": ");
		jbuf_puts(&b, cid);
		jbuf_puts(&b, ", \"name\": ");
		jbuf_json_string(&b, name, strlen(name));
		jbuf_puts(&b, ", \"bytes\": ");
		jbuf_puts(&b, n ? PQgetvalue(r, 0, 4) : "0");
		jbuf_puts(&b, ", \"tables\": {");
		for (int i = 0; i < n; i++)
			json_raw(&b, &first, PQgetvalue(r, i, 0), r, i, 1);
		jbuf_puts(&b, "}}\n");
		PQclear(r);
		return print_jbuf(&b);
	}
	printf("campaign %s: %s\n", cid, name);
	printf("bytes: %s (%s)\n", n ? PQgetvalue(r, 0, 4) : "0",
	       n ? PQgetvalue(r, 0, 5) : "0 bytes");
	for (int i = 0; i < n; i++)
		printf("  %-26s %12s  %-10s  %s\n", PQgetvalue(r, i, 0),
		       PQgetvalue(r, i, 1), PQgetvalue(r, i, 3),
		       strcmp(PQgetvalue(r, i, 2), "partition")
			   ? "its rows"
			   : "its partition, with indexes");
	printf("(certificates are shared by all campaigns and not counted)\n");
	PQclear(r);
	return EX_OK;
}

/* ---- drop, gc-certificates ------------------------------------------------- */

/* The reason of a failed statement, its first line (malloc'd or NULL). */
static char *first_line(PGresult *r)
{
	char *err = strdup(PQresultErrorMessage(r));
	if (err)
		err[strcspn(err, "\n")] = '\0';
	return err;
}

/* Runs `sql` (one row expected) in a transaction of its own with a short
 * lock_timeout. Returns the result, or NULL with *rc set and the reason
 * printed; `what` names the operation for messages. */
static PGresult *run_locked(PGconn *c, const char *what, const char *sql,
			    const char *cid, const char *name, int *rc)
{
	const char *p[1] = { cid };
	PGresult *r = PQexec(c, "BEGIN; SET LOCAL lock_timeout = "
				"'" DROP_LOCK_TIMEOUT "'");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("%s: %s", what, PQerrorMessage(c));
		PQclear(r);
		*rc = EX_UNAVAILABLE;
		return NULL;
	}
	PQclear(r);
	r = PQexecParams(c, sql, cid ? 1 : 0, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		PGresult *k =
		    db_exec(c, PGRES_COMMAND_OK, what, "COMMIT", 0, NULL);
		if (k) {
			PQclear(k);
			return r;
		}
		PQclear(r);
		*rc = EX_UNAVAILABLE;
		return NULL;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	/* No lock in time, or a deadlock with another session's writes
	 * (a crawler's batch retries its write): nothing was done. */
	if (state && (!strcmp(state, "55P03") || !strcmp(state, "40P01"))) {
		log_error("%s: other sessions are using the tables (an export, "
			  "a report, a crawler's write); no lock within "
			  "%s, nothing deleted: try again",
			  what, DROP_LOCK_TIMEOUT);
		*rc = EX_TEMPFAIL;
	} else if (state && !strcmp(state, "P0002")) {
		log_error("%s: no campaign '%s' any more", what,
			  name ? name : "?");
		*rc = EX_DATAERR;
	} else if (state &&
		   (!strcmp(state, "55006") || !strcmp(state, "42501"))) {
		/* A crawler's lease, an import at work (55006), a role that
		 * may not (42501): said by the database. */
		log_error("%s: refused: %s%s%s%s%s%s; nothing deleted", what,
			  msg ? msg : "?", detail ? " (" : "",
			  detail ? detail : "", detail ? ")" : "",
			  hint ? ". " : "", hint ? hint : "");
		*rc = strcmp(state, "42501") ? EX_TEMPFAIL : EX_NOPERM;
	} else {
		char *err = first_line(r);
		log_error("%s: %s", what, err ? err : "out of memory");
		free(err);
		*rc = EX_UNAVAILABLE;
	}
	PQclear(r);
	PQclear(PQexec(c, "ROLLBACK"));
	return NULL;
}

/* Runs one statement of a drop in autocommit (DETACH ... CONCURRENTLY
 * cannot run in a transaction block) with lock_timeout `timeout`. Returns
 * the result, or NULL with the SQLSTATE copied to `state` (empty: none)
 * and the reason printed unless it is a lock timeout (55P03). */
static PGresult *drop_step(PGconn *c, const char *what, const char *timeout,
			   const char *sql, int nparams,
			   const char *const *params, char state[6])
{
	const char *p[1] = { timeout };
	state[0] = '\0';
	PGresult *r =
	    PQexecParams(c, "SELECT set_config('lock_timeout', $1, false)", 1,
			 NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK ||
		    PQresultStatus(r) == PGRES_COMMAND_OK)
			return r;
	}
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (s)
		snprintf(state, 6, "%s", s);
	if (strcmp(state, "55P03") != 0) {
		char *err = first_line(r);
		log_error("%s: %s", what, err ? err : "out of memory");
		free(err);
	}
	PQclear(r);
	return NULL;
}

/* Says which other transactions hold a lock on `parent` now: a detach
 * waits for them to end (a long export or report of another campaign). */
static void say_waiting(PGconn *c, const char *parent, int wait_s)
{
	const char *p[1] = { parent };
	PGresult *r = PQexecParams(
	    c,
	    "SELECT string_agg(DISTINCT format('pid %s (%s%s)', a.pid, "
	    "coalesce(nullif(a.application_name, ''), 'no name'), "
	    "', in a transaction since ' || iso_utc(a.xact_start)), ', ') "
	    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
	    "WHERE l.locktype = 'relation' AND l.granted "
	    "AND l.relation = to_regclass($1) AND a.pid <> pg_backend_pid()",
	    1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !PQgetisnull(r, 0, 0))
		fprintf(stderr,
			"mxcrawl: detaching from %s waits (at most %d s) for "
			"the transactions that use it to end: %s\n",
			parent, wait_s, PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* The lock that lets one drop run at a time: a pending detach found by
 * a drop is then always one an interrupted drop left. */
#define DROP_ONE_AT_A_TIME "hashtextextended('mxcrawl campaign drop', 0)"

/* Detaches (DETACH PARTITION CONCURRENTLY, or FINALIZE one cut short) and
 * drops every table of a campaign in state 'dropping', one transaction
 * each, waiting at most wait_s for the transactions that use a parent.
 * Returns EX_OK, or the exit status (said). *ntables counts the tables
 * dropped. */
static int drop_tables(PGconn *c, const char *cid, const char *name, int wait_s,
		       int *ntables)
{
	const char *p[1] = { cid };
	char wait[24], state[6];
	snprintf(wait, sizeof wait, "%ds", wait_s);

	PGresult *t = db_exec(c, PGRES_TUPLES_OK, "listing the tables",
			      "SELECT parent, part, status, other_pending "
			      "FROM campaign_drop_tables($1::bigint)",
			      1, p);
	if (!t)
		return EX_UNAVAILABLE;
	int rc = EX_OK;
	for (int i = 0; i < PQntuples(t) && rc == EX_OK; i++) {
		const char *parent = PQgetvalue(t, i, 0);
		const char *part = PQgetvalue(t, i, 1);
		const char *status = PQgetvalue(t, i, 2);
		const char *on = parent, *waited = wait;
		char sql[1024];
		PGresult *r;

		/* DDL takes no parameters: the names are the catalog's
		 * (regclass output, quoted as needed), not the user's. */
		if (!strcmp(status, "attached") || !strcmp(status, "pending")) {
			/* A partition of the same parent left pending by an
			 * interrupted drop: only one may be pending. */
			if (!PQgetisnull(t, i, 3)) {
				snprintf(sql, sizeof sql,
					 "ALTER TABLE %s DETACH PARTITION %s "
					 "FINALIZE",
					 parent, PQgetvalue(t, i, 3));
				say_waiting(c, parent, wait_s);
				r = drop_step(c, "finishing an earlier detach",
					      wait, sql, 0, NULL, state);
				if (!r)
					goto failed;
				PQclear(r);
			}
			snprintf(sql, sizeof sql,
				 "ALTER TABLE %s DETACH PARTITION %s %s",
				 parent, part,
				 strcmp(status, "pending") ? "CONCURRENTLY"
							   : "FINALIZE");
			say_waiting(c, parent, wait_s);
			r = drop_step(c, "detaching a partition", wait, sql, 0,
				      NULL, state);
			if (!r)
				goto failed;
			PQclear(r);
		}
		const char *pp[2] = { cid, part };
		on = part;
		waited = DROP_LOCK_TIMEOUT;
		r = drop_step(c, "dropping a detached table", DROP_LOCK_TIMEOUT,
			      "SELECT campaign_drop_detached($1::bigint, $2)",
			      2, pp, state);
		if (!r)
			goto failed;
		PQclear(r);
		if (strcmp(status, "gone") != 0)
			++*ntables;
		continue;
	failed:
		if (!strcmp(state, "55P03"))
			log_error(
			    "dropping campaign '%s': transactions older than "
			    "the drop still use %s (waited %s; see "
			    "pg_stat_activity); %d tables dropped so far, the "
			    "campaign stays 'dropping': run the drop again "
			    "later, it goes on where it stopped",
			    name, on, waited, *ntables);
		else
			log_error("dropping campaign '%s': stopped at %s; "
				  "%d tables dropped so far, the campaign "
				  "stays 'dropping': run the drop again, it "
				  "goes on where it stopped",
				  name, part, *ntables);
		rc = EX_TEMPFAIL;
	}
	PQclear(t);
	return rc;
}

static int do_drop(PGconn *c, const char *cid, const char *name, bool yes,
		   int wait_s)
{
	if (!yes) {
		const char *p[1] = { cid };
		PGresult *r =
		    db_exec(c, PGRES_TUPLES_OK, "measuring the campaign",
			    "SELECT pg_size_pretty(sum(bytes)) "
			    "FROM campaign_size($1::bigint)",
			    1, p);
		log_error(
		    "dropping campaign '%s' (id %s) deletes all its facts "
		    "(%s) for good; to keep them, export it first "
		    "('mxcrawl export --campaign %s >FILE', and "
		    "--metadata); say --yes to drop it",
		    name, cid, r ? PQgetvalue(r, 0, 0) : "?", cid);
		PQclear(r);
		return EX_USAGE;
	}
	PGresult *r = db_exec(
	    c, PGRES_TUPLES_OK, "dropping the campaign",
	    "SELECT pg_try_advisory_lock(" DROP_ONE_AT_A_TIME ")", 0, NULL);
	if (!r)
		return EX_UNAVAILABLE;
	bool mine = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!mine) {
		log_error("dropping the campaign: another campaign drop is "
			  "running; nothing deleted: try again when it ends");
		return EX_TEMPFAIL;
	}
	int rc = EX_OK;
	r = run_locked(c, "dropping the campaign",
		       "SELECT was, bytes, pg_size_pretty(bytes) "
		       "FROM campaign_drop_begin($1::bigint)",
		       cid, name, &rc);
	if (!r)
		return rc;
	const char *was = PQgetvalue(r, 0, 0);
	if (!strcmp(was, "importing"))
		fprintf(stderr,
			"mxcrawl: campaign '%s' (id %s) was never imported "
			"completely (its import was interrupted); dropping "
			"its empty tables\n",
			name, cid);
	else if (!strcmp(was, "dropping"))
		fprintf(stderr,
			"mxcrawl: campaign '%s' (id %s): finishing a drop "
			"that was interrupted\n",
			name, cid);
	int ntables = 0;
	rc = drop_tables(c, cid, name, wait_s, &ntables);
	if (rc == EX_OK) {
		PGresult *k = run_locked(
		    c, "dropping the campaign",
		    "SELECT campaign_drop_finish($1::bigint)", cid, name, &rc);
		if (k) {
			printf("dropped campaign '%s' (id %s): %d partitions, "
			       "%s bytes (%s); certificates kept ('mxcrawl "
			       "campaign gc-certificates' collects those no "
			       "campaign uses)\n",
			       name, cid, ntables, PQgetvalue(r, 0, 1),
			       PQgetvalue(r, 0, 2));
			PQclear(k);
		}
	}
	PQclear(r);
	return rc;
}

static int do_gc_certificates(PGconn *c, bool yes)
{
	if (!yes) {
		log_error(
		    "gc-certificates deletes every certificate no campaign "
		    "refers to; say --yes to do it");
		return EX_USAGE;
	}
	int rc = EX_OK;
	PGresult *r = run_locked(c, "collecting certificates",
				 "SELECT certificates, bytes, "
				 "pg_size_pretty(bytes) FROM certificate_gc()",
				 NULL, NULL, &rc);
	if (!r)
		return rc;
	printf("deleted %s certificates no campaign refers to: %s bytes "
	       "(%s)\n",
	       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	PQclear(r);
	return EX_OK;
}

/* ---- lock ---------------------------------------------------------------- */

/* The advisory lock's key: one bigint per NAME, in a namespace of its own
 * so that it cannot meet another application's locks by accident. */
#define LOCK_KEY "hashtextextended('mxcrawl campaign lock: ' || $1, 0)"

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static int do_lock(PGconn *c, const char *name, char **cmd)
{
	char app[128];
	const char *p[2] = { name, app };
	PGresult *r;

	/* Who holds the lock shows in pg_stat_activity under this name. */
	snprintf(app, sizeof app, "mxcrawl campaign lock (pid %ld)",
		 (long)getpid());
	r = db_exec(c, PGRES_TUPLES_OK, "taking the lock",
		    "SELECT set_config('application_name', $2, false), "
		    "pg_try_advisory_lock(" LOCK_KEY ")",
		    2, p);
	if (!r)
		return EX_UNAVAILABLE;
	bool got = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (!got) {
		/* Name the holder: its backend, client and start. */
		r = db_exec(
		    c, PGRES_TUPLES_OK, "finding the lock's holder",
		    "SELECT a.pid, coalesce(host(a.client_addr), 'local'), "
		    "a.application_name, " ISO(
			"a.backend_start") " "
					   "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
					   "WHERE l.locktype = 'advisory' AND l.granted "
					   "AND l.objsubid = 1 AND ((l.classid::bigint << 32) | "
					   "l.objid::bigint) = " LOCK_KEY,
		    1, p);
		if (r && PQntuples(r) > 0)
			log_error("'%s' is locked by another run (PostgreSQL "
				  "backend %s, client %s, '%s', since %s); "
				  "not starting",
				  name, PQgetvalue(r, 0, 0),
				  PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
				  PQgetvalue(r, 0, 3));
		else
			log_error("'%s' is locked by another run; not starting",
				  name);
		PQclear(r);
		return EX_TEMPFAIL;
	}

	/* The lock lives as long as this connection: the child runs while
	 * this process waits, then the lock goes with PQfinish (or with the
	 * process, however it ends). */
	struct sigaction sa = { 0 }, old_int, old_term, old_hup;
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		log_error("cannot fork: %s", strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
		execvp(cmd[0], cmd);
		int e = errno;
		log_error("cannot run '%s': %s", cmd[0], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_error("waiting for '%s': %s", cmd[0],
				  strerror(errno));
			return EX_OSERR;
		}
	}
	child_pid = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* ---- the command ----------------------------------------------------------- */

/* What campaign ACTION asks for, checked. */
struct campaign_cli {
	const char *opt_db, *format, *prefix, *states, *action, *spec;
	char **cmd;
	bool yes;
	int wait_s;
};

/* Runs the checked action o->action on the database. The exit status. */
static int run_action(const struct campaign_cli *o)
{
	const char *action = o->action, *spec = o->spec;
	bool lock = !strcmp(action, "lock"), list = !strcmp(action, "list");
	bool gc = !strcmp(action, "gc-certificates");
	bool show = !strcmp(action, "show"), size = !strcmp(action, "size");
	bool drop = !strcmp(action, "drop");
	struct db db;
	PGconn *c;
	/* The lock needs no schema; the child migrates if it must. */
	int rc = cli_db_open(o->opt_db, !lock, &db, &c);
	if (rc != EX_OK)
		return rc;
	if (lock) {
		rc = do_lock(c, spec, o->cmd);
		goto out;
	}
	if (list) {
		rc = do_list(c, o->format, o->prefix, o->states);
		goto out;
	}
	if (gc) {
		rc = do_gc_certificates(c, o->yes);
		goto out;
	}
	int64_t id;
	char *name = NULL;
	rc = campaign_lookup(c, spec, true, &id, &name);
	if (rc != EX_OK)
		goto out;
	char cid[24];
	snprintf(cid, sizeof cid, "%" PRId64, id);
	const char *cname = name ? name : spec;
	if (show)
		rc = do_show(c, cid, o->format);
	else if (size)
		rc = do_size(c, cid, cname, o->format);
	else if (drop)
		rc = do_drop(c, cid, cname, o->yes, o->wait_s);
	else
		rc = do_cancel(c, cid, cname);
	free(name);
out:
	if (fflush(stdout) != 0 && rc == EX_OK) {
		log_error("writing stdout failed");
		rc = EX_IOERR;
	}
	PQfinish(c);
	db_free(&db);
	return rc;
}

int cmd_campaign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *opt_db = NULL, *format = "text", *prefix = NULL;
	const char *states = NULL;
	char **cmd = NULL;
	bool yes = false;
	const char *wait_arg = NULL;
	int ch, nopt = argc, wait_s = DROP_WAIT_DEFAULT;

	/* Options end at "--": what follows is lock's COMMAND, untouched. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			nopt = i;
			cmd = argv + i + 1;
			break;
		}
	}
	while ((ch = getopt_long(nopt, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_DB:
			opt_db = optarg;
			break;
		case CLI_OPT_FORMAT:
			format = optarg;
			break;
		case OPT_PREFIX:
			prefix = optarg;
			break;
		case OPT_STATE:
			states = optarg;
			break;
		case OPT_YES:
			yes = true;
			break;
		case OPT_WAIT:
			wait_arg = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("campaign", "unknown option");
		}
	}
	if (optind >= nopt)
		return cli_usage_error("campaign",
				       "say list, show, size, cancel, drop, "
				       "gc-certificates or lock");
	const char *action = argv[optind];
	const char *spec = optind + 1 < nopt ? argv[optind + 1] : NULL;
	int npos = nopt - optind;
	bool list = !strcmp(action, "list"), show = !strcmp(action, "show");
	bool cancel = !strcmp(action, "cancel"), lock = !strcmp(action, "lock");
	bool size = !strcmp(action, "size"), drop = !strcmp(action, "drop");
	bool gc = !strcmp(action, "gc-certificates");

	if (!list && !show && !cancel && !lock && !size && !drop && !gc)
		return cli_usage_error("campaign",
				       "unknown action '%s' (list, show, size, "
				       "cancel, drop, gc-certificates or lock)",
				       action);
	if ((list || gc) && npos != 1)
		return cli_usage_error("campaign", "%s takes no argument",
				       action);
	if (yes && !drop && !gc)
		return cli_usage_error("campaign", "--yes goes with drop and "
						   "gc-certificates");
	if (wait_arg) {
		char *end;
		long w = strtol(wait_arg, &end, 10);
		if (!drop)
			return cli_usage_error("campaign",
					       "--wait goes with drop");
		if (end == wait_arg || *end || w < 1 || w > 86400)
			return cli_usage_error(
			    "campaign", "--wait takes 1 to 86400 seconds");
		wait_s = (int)w;
	}
	if (lock && npos != 2)
		return cli_usage_error("campaign", "lock takes one NAME, then "
						   "'-- COMMAND [ARG...]'");
	if (!list && !gc && !lock && npos != 2)
		return cli_usage_error(
		    "campaign", "%s takes one campaign (ID or NAME)", action);
	if ((cmd != NULL) != lock || (lock && !cmd[0]))
		return cli_usage_error("campaign",
				       lock ? "lock needs '-- COMMAND [ARG...]'"
					    : "unexpected '--'");
	if (strcmp(format, "text") && strcmp(format, "json") &&
	    (!list || strcmp(format, "tsv")))
		return cli_usage_error("campaign", "unknown format '%s'",
				       format);
	if ((prefix || states) && !list)
		return cli_usage_error("campaign",
				       "--prefix and --state go with list");
	/* Names reach the database only well-formed (campaign_name_problem):
	 * a bad one is a usage error here, not a server error later. */
	if (cli_campaign_spec_check("campaign", lock ? "lock NAME" : action,
				    spec) != EX_OK ||
	    (prefix && *prefix &&
	     cli_campaign_spec_check("campaign", "--prefix", prefix) != EX_OK))
		return EX_USAGE;

	struct campaign_cli o = {
		.opt_db = opt_db,
		.format = format,
		.prefix = prefix,
		.states = states,
		.action = action,
		.spec = spec,
		.cmd = cmd,
		.yes = yes,
		.wait_s = wait_s,
	};
	return run_action(&o);
}
