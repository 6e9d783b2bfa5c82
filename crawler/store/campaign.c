#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "crawler/store/campaign.h"
#include "crawler/store/copyfmt.h"
#include "crawler/store/db.h"
#include "crawler/util/jbuf.h"
#include "crawler/util/log.h"

/* COPY data is sent to the server in chunks of about this size. */
#define CAMPAIGN_COPY_CHUNK (256 * 1024)

struct campaign_import {
	PGconn *c;
	int64_t id;
	int64_t run_id; /* the creating run, 0: none */
	int64_t n;	/* targets queued so far */
	int batch_size;
	int copying; /* inside COPY ... FROM STDIN */
	char name[CAMPAIGN_NAME_MAX + 1];
	struct jbuf buf;
};

/* True if s is well-formed UTF-8 (RFC 3629: shortest form, no surrogates,
 * nothing above U+10FFFF): the database is UTF8 and refuses anything else,
 * with an error that reads like a server fault. *c1 is set if a C1 control
 * character (U+0080..U+009F) occurs. */
static bool utf8_valid(const unsigned char *p, bool *c1)
{
	*c1 = false;
	while (*p) {
		unsigned cp;
		int n;

		if (p[0] < 0x80) {
			p++;
			continue;
		}
		if (p[0] >= 0xc2 && p[0] <= 0xdf) {
			n = 1, cp = p[0] & 0x1fu;
		} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
			n = 2, cp = p[0] & 0x0fu;
		} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
			n = 3, cp = p[0] & 0x07u;
		} else {
			return false; /* continuation, C0/C1 overlong, > F4 */
		}
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false; /* also stops at the NUL */
			cp = cp << 6 | (p[i] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		if (cp >= 0x80 && cp <= 0x9f)
			*c1 = true;
		p += n + 1;
	}
	return true;
}

const char *campaign_name_problem(const char *name)
{
	size_t len = strlen(name);
	bool c1;

	if (len == 0)
		return "the campaign name is empty";
	if (len > CAMPAIGN_NAME_MAX)
		return "the campaign name is longer than 128 bytes";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "the campaign name contains a control character";
	if (!utf8_valid((const unsigned char *)name, &c1))
		return "the campaign name is not valid UTF-8";
	if (c1)
		return "the campaign name contains a control character";
	return NULL;
}

const char *campaign_new_name_problem(const char *name)
{
	const char *problem = campaign_name_problem(name);

	if (problem)
		return problem;
	if (strspn(name, "0123456789") == strlen(name))
		return "the campaign name is all digits: commands that take "
		       "ID|NAME would read it as a campaign id; add a letter "
		       "or another character";
	return NULL;
}

/* campaign_resolve(), with campaigns being dropped (schema/025) found
 * only if `dropping`: their facts are going, so only `campaign
 * show|size|drop` may name them. */
static int resolve(PGconn *c, const char *spec, bool dropping, int64_t *id,
		   char **name)
{
	/* The id is asked for only when spec is all digits (and fits). */
	bool digits = spec && *spec && strlen(spec) <= 18 &&
		      strspn(spec, "0123456789") == strlen(spec);
	const char *params[3] = { spec, digits ? spec : NULL,
				  dropping ? "t" : "f" };
	PGresult *r;

	if (!spec)
		r = db_exec(c, PGRES_TUPLES_OK, "finding the newest campaign",
			    "SELECT id, name FROM campaign "
			    "WHERE $1::boolean OR state <> 'dropping' "
			    "ORDER BY id DESC LIMIT 1",
			    1, params + 2);
	else
		/* At most two rows: the campaign with this id, the one with
		 * this name (made by a version that allowed all-digit
		 * names). */
		r = db_exec(c, PGRES_TUPLES_OK, "finding the campaign",
			    "SELECT id, name, name = $1 FROM campaign "
			    "WHERE (name = $1 OR id = $2::bigint) "
			    "AND ($3::boolean OR state <> 'dropping') "
			    "ORDER BY name = $1",
			    3, params);
	if (!r)
		return -EIO;
	int found = PQntuples(r) > 0;
	if (PQntuples(r) > 1) {
		/* Row 0 is the campaign with id spec, row 1 the one named
		 * spec: refuse to guess which one a cancel or drop means. */
		log_error("'%s' is ambiguous: it is the id of campaign '%s' "
			  "and the name of campaign id %s (all-digit names "
			  "are no longer allowed); give '%s' or %s instead",
			  spec, PQgetvalue(r, 0, 1), PQgetvalue(r, 1, 0),
			  PQgetvalue(r, 0, 1), PQgetvalue(r, 1, 0));
		PQclear(r);
		return CAMPAIGN_AMBIGUOUS;
	}
	if (found) {
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if (name) {
			*name = strdup(PQgetvalue(r, 0, 1));
			if (!*name)
				found = -ENOMEM;
		}
	}
	PQclear(r);
	return found;
}

int campaign_resolve(PGconn *c, const char *spec, int64_t *id, char **name)
{
	return resolve(c, spec, false, id, name);
}

int campaign_resolve_all(PGconn *c, const char *spec, int64_t *id, char **name)
{
	return resolve(c, spec, true, id, name);
}

int campaign_lookup(PGconn *c, const char *spec, bool dropping, int64_t *id,
		    char **name)
{
	int found = resolve(c, spec, dropping, id, name);

	if (found == 0)
		log_error(spec ? "no campaign '%s'" : "no campaign yet%s",
			  spec ? spec : "");
	else if (found == -ENOMEM)
		log_error("out of memory");
	return found == CAMPAIGN_AMBIGUOUS ? EX_USAGE
	       : found < 0		   ? EX_UNAVAILABLE
	       : found == 0		   ? EX_DATAERR
					   : EX_OK;
}

int campaign_find(PGconn *c, const char *name, int64_t *id, int64_t *targets)
{
	const char *params[1] = { name };
	PGresult *r =
	    db_exec(c, PGRES_TUPLES_OK, "looking up the campaign",
		    "SELECT id, targets FROM campaign WHERE name = $1 "
		    /* Not yet imported (schema/022), or being dropped
		     * (schema/025): as if it did not exist. */
		    "AND state NOT IN ('importing', 'dropping')",
		    1, params);
	int found;

	if (!r)
		return -EIO;
	found = PQntuples(r) > 0;
	if (found) {
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		*targets = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return found;
}

const char *campaign_state_of(PGconn *c, const char *name, char *buf,
			      size_t len)
{
	const char *params[1] = { name };
	PGresult *r = PQexecParams(c,
				   "SELECT state FROM campaign "
				   "WHERE name = $1",
				   1, NULL, params, NULL, NULL, 0);
	const char *state = NULL;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		snprintf(buf, len, "%s", PQgetvalue(r, 0, 0));
		state = buf;
	}
	PQclear(r);
	return state;
}

static void rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

/* The import's lock (schema/025): held, at session level, from the
 * transaction that creates the campaign until the import commits or gives
 * up, so that a campaign left 'importing' by a crashed import can be told
 * from one being imported: nobody holds its lock. */
static void import_unlock(PGconn *c, int64_t id)
{
	char cid[24];
	const char *p[1] = { cid };

	snprintf(cid, sizeof cid, "%" PRId64, id);
	PQclear(PQexecParams(c,
			     "SELECT pg_advisory_unlock("
			     "campaign_import_lock_key($1::bigint))",
			     1, NULL, p, NULL, NULL, 0));
}

/* The campaign named params[0] exists: if it is 'importing', holds no
 * target and its import's lock is free, that import was cut short (its
 * importer crashed or was killed) and this one takes it over, with this
 * run's configuration: nothing of the earlier one was committed but the
 * campaign row and its empty partitions. Returns its id (lock held), or
 * (said) -EIO, -EEXIST when the name belongs to another campaign, or
 * -EBUSY when another session imports it now. Outside a transaction. */
static int64_t take_over(PGconn *c, const char *const params[5])
{
	const char *p1[1] = { params[0] };
	PGresult *r =
	    db_exec(c, PGRES_TUPLES_OK, "looking up the campaign",
		    /* CASE: the lock is tried for an 'importing' one only. */
		    "SELECT id, state, CASE WHEN state = 'importing' THEN "
		    "pg_try_advisory_lock(campaign_import_lock_key(id)) "
		    "ELSE false END FROM campaign WHERE name = $1",
		    1, p1);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		PQclear(r);
		log_error("creating the campaign '%s': its name was taken, "
			  "then freed; try again",
			  params[0]);
		return -EAGAIN;
	}
	int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	char state[16];
	snprintf(state, sizeof state, "%s", PQgetvalue(r, 0, 1));
	bool locked = PQgetvalue(r, 0, 2)[0] == 't';
	PQclear(r);
	if (strcmp(state, "importing") != 0) {
		log_error("campaign '%s' already exists (%s); choose another "
			  "name",
			  params[0],
			  strcmp(state, "dropping") ? state
						    : "it is being dropped");
		return -EEXIST;
	}
	if (!locked) {
		log_error("campaign '%s' exists and is being imported by "
			  "another session right now; choose another name",
			  params[0]);
		return -EBUSY;
	}
	char cid[24];
	snprintf(cid, sizeof cid, "%" PRId64, id);
	const char *p[5] = { cid, params[1], params[2], params[3], params[4] };
	r = db_exec(
	    c, PGRES_TUPLES_OK, "taking over the campaign",
	    "UPDATE campaign SET config = $2::jsonb, tool_version = $3, "
	    "vantage = $4, batch_size = $5::integer, "
	    "created = clock_timestamp() "
	    "WHERE id = $1::bigint AND state = 'importing' "
	    "AND NOT EXISTS (SELECT 1 FROM campaign_target t "
	    "WHERE t.campaign_id = $1::bigint) RETURNING id",
	    5, p);
	int n = r ? PQntuples(r) : -1;
	PQclear(r);
	if (n != 1) {
		if (n == 0)
			log_error("campaign '%s' is left 'importing' but holds "
				  "targets; drop it ('mxcrawl campaign drop') "
				  "or choose another name",
				  params[0]);
		import_unlock(c, id);
		return n == 0 ? -EEXIST : -EIO;
	}
	fprintf(stderr,
		"mxcrawl: campaign '%s' (id %" PRId64 "): its earlier import "
		"was interrupted; importing into it again\n",
		params[0], id);
	return id;
}

/* How long one attempt to create a campaign's partitions waits for a lock
 * before it gives way and tries again, and how long it tries. */
#define CAMPAIGN_LOCK_TIMEOUT "1s"
#define CAMPAIGN_CREATE_ATTEMPTS 600

/* Creates the campaign (state 'importing') and its partitions in a short
 * transaction of its own. Attaching a partition waits for other DDL on the
 * parent (another import's attach, a drop's detach; before schema/025 also
 * for the writers of the tables its foreign keys named). So each attempt
 * waits at most CAMPAIGN_LOCK_TIMEOUT, then lets the queue drain and tries
 * again. Returns the id, or a negative errno (said): take_over()'s,
 * -EIO, or -ETIMEDOUT when no attempt got the lock. */
static int64_t create_campaign(PGconn *c, const char *const params[5])
{
	bool said = false;

	for (int attempt = 1; attempt <= CAMPAIGN_CREATE_ATTEMPTS; attempt++) {
		PGresult *r = PQexec(
		    c, "BEGIN; SET LOCAL lock_timeout = '" CAMPAIGN_LOCK_TIMEOUT
		       "'");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("begin: %s", PQerrorMessage(c));
			PQclear(r);
			rollback(c);
			return -EIO;
		}
		PQclear(r);
		r = PQexecParams(c,
				 "SELECT campaign_create($1, $2::jsonb, $3, "
				 "$4, $5::integer)",
				 5, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			const char *p[1] = { PQgetvalue(r, 0, 0) };
			/* Taken before the campaign is visible: nobody sees
			 * it 'importing' with its lock free while this runs. */
			PGresult *l = PQexecParams(
			    c,
			    "SELECT pg_advisory_lock("
			    "campaign_import_lock_key($1::bigint))",
			    1, NULL, p, NULL, NULL, 0);
			bool ok = PQresultStatus(l) == PGRES_TUPLES_OK;
			PQclear(r);
			r = ok ? PQexec(c, "COMMIT") : l;
			if (ok)
				PQclear(l);
			if (PQresultStatus(r) == PGRES_COMMAND_OK) {
				PQclear(r);
				return id;
			}
		}
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		bool lock_timeout = state && strcmp(state, "55P03") == 0;
		bool taken = state && strcmp(state, "23505") == 0;
		if (taken) {
			/* campaign_find() does not see a campaign that is
			 * still being imported, or whose import was cut
			 * short: that one is taken over. */
		} else if (!lock_timeout) {
			char *err = strdup(PQresultErrorMessage(r));
			if (err)
				err[strcspn(err, "\n")] = '\0';
			log_error("creating the campaign: %s",
				  err && *err ? err : PQerrorMessage(c));
			free(err);
		}
		PQclear(r);
		rollback(c);
		if (taken)
			return take_over(c, params);
		if (!lock_timeout)
			return -EIO;
		if (!said) {
			fprintf(stderr, "mxcrawl: creating the campaign's "
					"partitions waits for a lock; trying "
					"again\n");
			said = true;
		}
	}
	log_error("creating the campaign: no lock on the partitioned tables "
		  "after %d attempts",
		  CAMPAIGN_CREATE_ATTEMPTS);
	return -ETIMEDOUT;
}

/* A failed import leaves its campaign 'importing', with no targets and
 * empty partitions: removing them would be a drop (schema/025), and the
 * crawler's role may not. Running the same import again takes it over;
 * `campaign drop` removes it. Frees the import's lock. */
static void forget_campaign(PGconn *c, int64_t id, const char *name)
{
	import_unlock(c, id);
	fprintf(stderr,
		"mxcrawl: campaign '%s' (id %" PRId64 ") stays 'importing', "
		"with no targets: run the same import again to use it, or "
		"'mxcrawl campaign drop %" PRId64 " --yes' (as the tables' "
		"owner) to remove it\n",
		name, id, id);
}

struct campaign_import *campaign_import_begin(PGconn *c,
					      const struct campaign_spec *s)
{
	struct campaign_import *im = calloc(1, sizeof *im);
	char batch[16];
	const char *params[5] = { s->name, s->config_json, MXCRAWL_VERSION,
				  s->vantage, batch };
	PGresult *r;

	if (!im) {
		log_error("out of memory");
		return NULL;
	}
	im->c = c;
	im->batch_size = s->batch_size;
	snprintf(im->name, sizeof im->name, "%s", s->name);
	jbuf_init(&im->buf, 2 * CAMPAIGN_COPY_CHUNK);
	snprintf(batch, sizeof batch, "%d", s->batch_size);

	im->id = create_campaign(c, params);
	if (im->id < 0) {
		jbuf_free(&im->buf);
		free(im);
		return NULL;
	}
	/* The targets: a long transaction that locks nothing others wait
	 * for (rows of its own partitions, the campaign row at the end). */
	r = PQexec(c, "BEGIN");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("begin: %s", PQerrorMessage(c));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (s->run && campaign_run_begin(c, im->id, s->run, &im->run_id) != 0)
		goto fail;
	r = PQexec(c, "COPY campaign_target (campaign_id, target_id, batch_no, "
		      "domain, source_line, rank) FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		log_error("starting the import: %s", PQerrorMessage(c));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	im->copying = 1;
	return im;
fail:
	rollback(c);
	forget_campaign(c, im->id, im->name);
	jbuf_free(&im->buf);
	free(im);
	return NULL;
}

/* Sends the buffered rows: 0, the buffer's error (jbuf_error()), or
 * -EIO (PostgreSQL's message printed). */
static int flush(struct campaign_import *im)
{
	int rc = jbuf_error(&im->buf);

	if (rc != 0) {
		log_error("importing: %s", strerror(-rc));
		return rc;
	}
	if (im->buf.len == 0)
		return 0;
	if (PQputCopyData(im->c, im->buf.data, (int)im->buf.len) != 1) {
		/* The server's own reason, when it sent one, comes with the
		 * COPY's result; libpq's message may only say that the COPY
		 * or the connection is gone. */
		PGresult *r = PQgetResult(im->c);
		const char *why = PQresultErrorMessage(r);
		log_error("importing: %s", *why ? why : PQerrorMessage(im->c));
		PQclear(r);
		return -EIO;
	}
	jbuf_reset(&im->buf);
	return 0;
}

int campaign_import_add(struct campaign_import *im, const char *domain,
			size_t len, uint64_t line, int64_t rank)
{
	int64_t target = ++im->n;

	/* Names reaching here passed name_normalize(): letters, digits,
	 * hyphens and dots only, so COPY's text format needs no escaping. */
	/* copy_int(), not printf: the import of a 20k list spent 3 % of a
	 * DNS-only scan's instructions in vsnprintf. */
	copy_int(&im->buf, im->id);
	copy_field(&im->buf);
	copy_int(&im->buf, target);
	copy_field(&im->buf);
	copy_int(&im->buf, (target - 1) / im->batch_size);
	copy_field(&im->buf);
	jbuf_append(&im->buf, domain, len);
	copy_field(&im->buf);
	copy_int(&im->buf, (int64_t)line);
	copy_field(&im->buf);
	if (rank > 0)
		copy_int(&im->buf, rank);
	else
		copy_null(&im->buf);
	copy_row_end(&im->buf);
	if (im->buf.len >= CAMPAIGN_COPY_CHUNK || im->buf.failed)
		return flush(im);
	return 0;
}

static void import_free(struct campaign_import *im)
{
	jbuf_free(&im->buf);
	free(im);
}

void campaign_import_abort(struct campaign_import *im)
{
	if (im->copying) {
		PQputCopyEnd(im->c, "import aborted");
		PGresult *r;
		while ((r = PQgetResult(im->c)) != NULL)
			PQclear(r);
	}
	rollback(im->c);
	forget_campaign(im->c, im->id, im->name);
	import_free(im);
}

int campaign_import_commit(struct campaign_import *im, int64_t *id,
			   int64_t *targets)
{
	char cid[24];
	const char *params[1] = { cid };
	PGresult *r;
	int ok = 1;
	int rc = flush(im);

	if (rc != 0) {
		campaign_import_abort(im);
		return rc;
	}
	im->copying = 0;
	if (PQputCopyEnd(im->c, NULL) != 1)
		ok = 0;
	while ((r = PQgetResult(im->c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (ok)
				log_error("importing the targets: %s",
					  PQresultErrorMessage(r));
			ok = 0;
		}
		PQclear(r);
	}
	if (!ok)
		goto fail;
	snprintf(cid, sizeof cid, "%" PRId64, im->id);
	r = db_exec(im->c, PGRES_TUPLES_OK, "building the batches",
		    "SELECT campaign_make_batches($1::bigint)", 1, params);
	if (!r)
		goto fail;
	*targets = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	r = db_exec(
	    im->c, PGRES_COMMAND_OK, "queueing the campaign",
	    "UPDATE campaign SET state = 'queued' WHERE id = $1::bigint "
	    "AND state = 'importing'",
	    1, params);
	if (!r)
		goto fail;
	if (strcmp(PQcmdTuples(r), "1") != 0) {
		log_error("queueing the campaign: it is no longer being "
			  "imported (dropped meanwhile?)");
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	r = PQexec(im->c, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("commit: %s", PQerrorMessage(im->c));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	import_unlock(im->c, im->id);
	*id = im->id;
	import_free(im);
	return 0;
fail:
	rollback(im->c);
	forget_campaign(im->c, im->id, im->name);
	import_free(im);
	return -EIO;
}

int64_t campaign_import_run_id(const struct campaign_import *im)
{
	return im->run_id;
}

int campaign_run_begin(PGconn *c, int64_t id,
		       const struct campaign_run_spec *rs, int64_t *run_id)
{
	char cid[24];
	const char *validated = rs->dnssec_validated < 0    ? NULL
				: rs->dnssec_validated == 0 ? "false"
							    : "true";
	const char *p[8] = { cid,	  rs->kind,	      rs->host,
			     rs->vantage, MXCRAWL_VERSION,    rs->resolver,
			     validated,	  rs->provenance_json };

	snprintf(cid, sizeof cid, "%" PRId64, id);
	PGresult *r = db_exec(
	    c, PGRES_TUPLES_OK, "recording the run",
	    "INSERT INTO campaign_run (campaign_id, kind, host, vantage, "
	    "tool_version, resolver, dnssec_validated, provenance) "
	    "VALUES ($1::bigint, $2, $3, $4, $5, $6, $7::boolean, $8::jsonb) "
	    "RETURNING id",
	    8, p);
	if (!r)
		return -EIO;
	*run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int campaign_run_end(PGconn *c, int64_t run_id, const char *end_state,
		     int64_t domains)
{
	char rid[24], n[24];
	const char *p[3] = { rid, end_state, n };

	snprintf(rid, sizeof rid, "%" PRId64, run_id);
	snprintf(n, sizeof n, "%" PRId64, domains);
	PGresult *r = db_exec(c, PGRES_COMMAND_OK, "recording the run's end",
			      "UPDATE campaign_run SET ended = "
			      "clock_timestamp(), end_state = $2, "
			      "domains = $3::bigint WHERE id = $1::bigint",
			      3, p);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}
