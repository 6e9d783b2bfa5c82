#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/util/log.h"
#include "crawler/store/copyfmt.h"
#include "crawler/store/db.h"
#include "crawler/store/record.h"
#include "crawler/store/store.h"

void batch_free(struct batch *b)
{
	if (!b)
		return;
	for (int t = 0; t < TABLE_LAST; t++)
		jbuf_free(&b->out[t]);
	free(b->t);
	free(b->names);
	free(b);
}

/* Settings of every store session, also after a reconnect. */
static void session_setup(struct store *s)
{
	PGresult *r = PQexec(s->c, "SET application_name = 'mxcrawl-store'; "
				   "SET synchronous_commit = on; "
				   "SET client_min_messages = warning");
	PQclear(r);
}

int store_open(struct store *s)
{
	s->rec.codec = record_codec_new(s->dict_samples ? s->dict_samples
							: RECORD_DICT_SAMPLES);
	s->rec.campaign_id = s->campaign_id;
	s->rec.worker_id = s->worker_id;
	if (!s->rec.codec)
		return -ENOMEM;
	s->c = PQconnectdb(s->conninfo);
	if (PQstatus(s->c) != CONNECTION_OK) {
		char *shown = db_conninfo_display(s->conninfo, s->c);
		log_error("store: cannot connect to PostgreSQL (%s): %s",
			  shown ? shown : "?", PQerrorMessage(s->c));
		free(shown);
		PQfinish(s->c);
		s->c = NULL;
		return -EIO;
	}
	session_setup(s);
	return 0;
}

void store_close(struct store *s)
{
	PQfinish(s->c);
	s->c = NULL;
	record_codec_free(s->rec.codec);
	s->rec.codec = NULL;
}

/* Calls fn for each "ip\tport\tsni\tjson\n" record line of rows. */
static void each_record(const struct jbuf *rows,
			void (*fn)(void *arg, const char *head, size_t headlen,
				   const char *json, size_t len),
			void *arg)
{
	if (!rows->data)
		return; /* never appended to */
	const char *p = rows->data, *end = rows->data + rows->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *tab = p;
		for (int k = 0; k < 3 && tab; k++) {
			tab = memchr(tab, '\t', (size_t)(line_end - tab));
			if (tab)
				tab++;
		}
		if (tab)
			fn(arg, p, (size_t)(tab - p), tab,
			   (size_t)(line_end - tab));
		p = nl ? nl + 1 : end;
	}
}

struct rec_ctx {
	struct store_records *sr;
	bool ready;	   /* a dictionary can be trained */
	struct jbuf *rows; /* handshake_record COPY rows */
	int failed;	   /* the first compression error, 0 for none */
};

static void sample_one(void *arg, const char *head, size_t headlen,
		       const char *json, size_t len)
{
	struct rec_ctx *x = arg;

	(void)head;
	(void)headlen;
	x->ready |= record_codec_sample(x->sr->codec, json, len);
}

static void compress_one(void *arg, const char *head, size_t headlen,
			 const char *json, size_t len)
{
	struct rec_ctx *x = arg;
	struct jbuf z;
	int64_t dict = 0;

	jbuf_init(&z, len + 1024);
	int rc = record_codec_compress(x->sr->codec, json, len, &z, &dict);
	if (rc != 0) {
		x->failed = rc;
		jbuf_free(&z);
		return;
	}
	x->sr->raw += len;
	x->sr->zstd += z.len;
	copy_int(x->rows, x->sr->campaign_id);
	copy_field(x->rows);
	jbuf_append(x->rows, head, headlen); /* ip, port, sni and a tab */
	if (dict)
		copy_int(x->rows, dict);
	else
		copy_null(x->rows);
	copy_field(x->rows);
	copy_int(x->rows, (int64_t)len);
	copy_field(x->rows);
	copy_bytea(x->rows, (const uint8_t *)z.data, z.len);
	copy_row_end(x->rows);
	jbuf_free(&z);
}

/* Trains the records' dictionary once enough samples are in, and stores
 * it (in its own statement: it must exist before records name it). */
static void train_dictionary(PGconn *c, struct store_records *sr)
{
	uint8_t *dict = NULL;
	size_t len = 0, samples = 0;
	char cid[24], n[24];

	if (record_codec_train(sr->codec, &dict, &len, &samples) != 0)
		return;
	snprintf(cid, sizeof cid, "%" PRId64, sr->campaign_id);
	snprintf(n, sizeof n, "%zu", samples);
	const char *params[4] = { cid, sr->worker_id, n, (const char *)dict };
	int lengths[4] = { 0, 0, 0, (int)len };
	int formats[4] = { 0, 0, 0, 1 };
	PGresult *r = PQexecParams(
	    c,
	    "INSERT INTO zstd_dict (campaign_id, worker, samples, dict) "
	    "VALUES ($1::bigint, $2, $3::integer, $4::bytea) RETURNING id",
	    4, NULL, params, lengths, formats, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		record_codec_use(sr->codec, dict, len,
				 strtoll(PQgetvalue(r, 0, 0), NULL, 10));
	else if (PQstatus(c) == CONNECTION_OK)
		log_warn("store: storing the records' dictionary: %s",
			 PQresultErrorMessage(r));
	PQclear(r);
	free(dict);
}

int store_records_compress(PGconn *c, struct store_records *sr,
			   const struct jbuf *lines, const struct jbuf *samples,
			   struct jbuf *rows)
{
	struct rec_ctx x = { .sr = sr, .rows = rows };
	size_t before = rows->len;

	if (lines->len == 0)
		return 0;
	each_record(samples ? samples : lines, sample_one, &x);
	if (x.ready)
		train_dictionary(c, sr);
	each_record(lines, compress_one, &x);
	int rc = x.failed ? x.failed : jbuf_error(rows);
	if (rc != 0) {
		rows->failed = 0;
		rows->len = before;
		return rc;
	}
	return 0;
}

bool store_broken(const struct store *s)
{
	return !s->c || PQstatus(s->c) != CONNECTION_OK;
}

int store_reconnect(struct store *s)
{
	if (s->c && PQstatus(s->c) == CONNECTION_OK)
		return 0;
	if (s->c) {
		PQreset(s->c);
		if (PQstatus(s->c) == CONNECTION_OK) {
			session_setup(s);
			return 0;
		}
		PQfinish(s->c);
		s->c = NULL;
	}
	s->c = PQconnectdb(s->conninfo);
	if (PQstatus(s->c) != CONNECTION_OK)
		return -EIO;
	session_setup(s);
	return 0;
}

static void id_text(char *buf, size_t cap, int64_t v)
{
	snprintf(buf, cap, "%" PRId64, v);
}

/* Runs a parameterised statement quietly (the caller reports). */
static PGresult *q(struct store *s, ExecStatusType want, const char *sql, int n,
		   const char *const *params)
{
	PGresult *r = PQexecParams(s->c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == want)
		return r;
	if (!store_broken(s))
		log_warn("store: %s", PQresultErrorMessage(r));
	PQclear(r);
	return NULL;
}

static int exec_simple(struct store *s, const char *sql);

int store_lease(struct store *s, struct batch **out)
{
	char cid[24], lease[32];
	const char *p[3] = { cid, s->worker_id, lease };
	PGresult *r;
	struct batch *b;
	int rc = -EIO;

	*out = NULL;
	id_text(cid, sizeof cid, s->campaign_id);
	snprintf(lease, sizeof lease, "%u seconds", s->lease_seconds);
	/* The lease and the reading of its targets are one transaction: if
	 * the connection breaks (or memory runs out) in between, the lease is
	 * rolled back. Committed alone, it would stay ours, renewed by the
	 * heartbeat, with nobody scanning the batch, and the scan would end
	 * with it open. */
	if (exec_simple(s, "BEGIN") != 0)
		return -EIO;
	r = q(
	    s, PGRES_TUPLES_OK,
	    "SELECT batch_no FROM campaign_lease($1::bigint, $2, $3::interval)",
	    3, p);
	if (!r)
		goto fail;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return exec_simple(s, "COMMIT") == 0 ? 0 : -EIO;
	}
	b = calloc(1, sizeof *b);
	if (!b) {
		PQclear(r);
		rc = -ENOMEM;
		goto fail;
	}
	b->batch_no = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);

	char bno[24];
	const char *p2[2] = { cid, bno };
	id_text(bno, sizeof bno, b->batch_no);
	r = q(s, PGRES_TUPLES_OK,
	      /* Targets are numbered from 1 in batches of batch_size: the
	       * range lets the primary key find them (batch_no has no index;
	       * a full scan per lease cost 75 ms at 1M targets). */
	      "SELECT t.target_id, t.domain FROM campaign c "
	      "JOIN campaign_target t ON t.campaign_id = c.id "
	      "WHERE c.id = $1::bigint "
	      "AND t.target_id BETWEEN $2::bigint * c.batch_size + 1 "
	      "AND ($2::bigint + 1) * c.batch_size "
	      "AND t.batch_no = $2::bigint "
	      /* A batch a stopped crawler stored in part (store_write)
	       * gives back only the targets it did not store. */
	      "AND NOT EXISTS (SELECT 1 FROM domain_dns d "
	      "WHERE d.campaign_id = t.campaign_id "
	      "AND d.target_id = t.target_id) ORDER BY t.target_id",
	      2, p2);
	if (!r) {
		free(b);
		goto fail;
	}
	size_t n = (size_t)PQntuples(r), bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += (size_t)PQgetlength(r, (int)i, 1) + 1;
	b->t = calloc(n ? n : 1, sizeof *b->t);
	b->names = malloc(bytes ? bytes : 1);
	if (!b->t || !b->names) {
		PQclear(r);
		batch_free(b);
		rc = -ENOMEM;
		goto fail;
	}
	char *w = b->names;
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)PQgetlength(r, (int)i, 1);
		b->t[i].id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
		memcpy(w, PQgetvalue(r, (int)i, 1), len + 1);
		b->t[i].domain = w;
		w += len + 1;
	}
	b->n = n;
	PQclear(r);
	if (n == 0) {
		/* Every target was stored in part by stopped crawlers and
		 * the batch never completed: complete it and lease on. */
		batch_free(b);
		r = q(s, PGRES_TUPLES_OK,
		      "SELECT campaign_complete($1::bigint, $2::bigint)", 2,
		      p2);
		if (!r)
			goto fail;
		PQclear(r);
		if (exec_simple(s, "COMMIT") != 0)
			return -EIO;
		return store_lease(s, out);
	}
	for (int t = 0; t < TABLE_LAST; t++)
		jbuf_init(&b->out[t], STORE_BATCH_ROWS_MAX);
	/* A COMMIT whose answer was lost with the connection may or may not
	 * have taken the lease; scan the batch either way (its write is
	 * guarded by campaign_complete) rather than leave it held by us. */
	if (exec_simple(s, "COMMIT") != 0 && !store_broken(s)) {
		batch_free(b);
		return -EIO;
	}
	*out = b;
	return 1;
fail:
	if (!store_broken(s))
		exec_simple(s, "ROLLBACK");
	return rc;
}

int store_open_batches(struct store *s, int64_t *undone,
		       int64_t *held_by_others)
{
	char cid[24];
	const char *p[2] = { cid, s->worker_id };
	PGresult *r;

	id_text(cid, sizeof cid, s->campaign_id);
	r = q(s, PGRES_TUPLES_OK,
	      "SELECT count(*), count(*) FILTER (WHERE lease_expires > "
	      "clock_timestamp() AND leased_by <> $2) "
	      "FROM campaign_batch WHERE campaign_id = $1::bigint "
	      "AND done_at IS NULL",
	      2, p);
	if (!r)
		return -EIO;
	*undone = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*held_by_others = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return 0;
}

int store_progress(struct store *s, int64_t *total, int64_t *done)
{
	char cid[24];
	const char *p[1] = { cid };
	PGresult *r;

	id_text(cid, sizeof cid, s->campaign_id);
	r = q(s, PGRES_TUPLES_OK,
	      /* Stored targets, not those of done batches: a stopped
	       * crawler stores batches in part (store_write). */
	      "SELECT (SELECT coalesce(sum(targets), 0) FROM campaign_batch "
	      "WHERE campaign_id = $1::bigint), (SELECT count(*) "
	      "FROM domain_dns WHERE campaign_id = $1::bigint)",
	      1, p);
	if (!r)
		return -EIO;
	*total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*done = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return 0;
}

static int conn_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && PQstatus(c) == CONNECTION_OK)
		log_warn("store: %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -EIO;
}

static int exec_simple(struct store *s, const char *sql)
{
	return s->c ? conn_exec(s->c, sql) : -EIO;
}

int store_copy_rows(PGconn *c, const char *table, const char *columns,
		    const struct jbuf *rows, bool staged)
{
	char sql[2048];
	PGresult *r;
	int ok = 1;

	if (rows->len == 0)
		return 0;
	if (staged) {
		/* Rows another batch or crawler may have stored already go
		 * through a session-local staging table and are inserted
		 * with ON CONFLICT DO NOTHING. */
		snprintf(
		    sql, sizeof sql,
		    "CREATE TEMP TABLE IF NOT EXISTS stage_%s (LIKE %s INCLUDING DEFAULTS) "
		    "ON COMMIT DELETE ROWS",
		    table, table);
		if (conn_exec(c, sql) != 0)
			return -EIO;
		snprintf(sql, sizeof sql, "COPY stage_%s (%s) FROM STDIN",
			 table, columns);
	} else {
		snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", table,
			 columns);
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		if (PQstatus(c) == CONNECTION_OK)
			log_warn("store: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -EIO;
	}
	PQclear(r);
	/* PQputCopyData takes an int length: send in pieces. */
	for (size_t off = 0; off < rows->len && ok;) {
		size_t n = rows->len - off;
		if (n > (1u << 20))
			n = 1u << 20;
		ok = PQputCopyData(c, rows->data + off, (int)n) == 1;
		off += n;
	}
	if (PQputCopyEnd(c, ok ? NULL : "send failed") != 1)
		ok = 0;
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (ok && PQstatus(c) == CONNECTION_OK)
				log_warn("store: COPY %s: %s", table,
					 PQresultErrorMessage(r));
			ok = 0;
		}
		PQclear(r);
	}
	if (ok && staged) {
		snprintf(sql, sizeof sql,
			 "INSERT INTO %s (%s) SELECT %s FROM stage_%s "
			 "ON CONFLICT DO NOTHING",
			 table, columns, columns, table);
		ok = conn_exec(c, sql) == 0;
	}
	return ok ? 0 : -EIO;
}

static int copy_table(struct store *s, int t, const struct jbuf *rows)
{
	return store_copy_rows(s->c, table_name[t], table_columns[t], rows,
			       table_staged[t]);
}

/* The ids of the first n targets of b as a PostgreSQL array literal. */
static char *target_ids(const struct batch *b, size_t n)
{
	struct jbuf a;

	jbuf_init(&a, STORE_BATCH_ROWS_MAX);
	jbuf_puts(&a, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			jbuf_append(&a, ",", 1);
		copy_int(&a, b->t[i].id); /* printf: 1 % of a scan */
	}
	jbuf_puts(&a, "}");
	if (a.failed) {
		jbuf_free(&a);
		return NULL;
	}
	return a.data;
}

int store_write(struct store *s, struct batch *b, bool *discarded)
{
	char cid[24], bno[24];
	const char *p[3] = { cid, bno, s->worker_id };
	PGresult *r;
	/* Whole: every target probed; the batch completes. In part (a stop):
	 * the first b->done targets were probed (targets start in order and
	 * none is in flight any more); they are stored and the batch's
	 * lease released, so that the others are leased again at once,
	 * alone (store_lease skips stored targets). */
	bool whole = b->done == b->n;

	*discarded = false;
	id_text(cid, sizeof cid, s->campaign_id);
	id_text(bno, sizeof bno, b->batch_no);

	/* Handshake records (none when endpoints are claimed: the claim
	 * thread stores them with their endpoint rows). */
	struct jbuf recs;
	jbuf_init(&recs, STORE_BATCH_ROWS_MAX);
	if (store_records_compress(s->c, &s->rec, &b->out[TABLE_RECORDS], NULL,
				   &recs) != 0)
		log_warn("store: batch %" PRId64 ": a handshake record could "
			 "not be compressed; records of the batch dropped",
			 b->batch_no);
	char *ids = b->done ? target_ids(b, b->done) : NULL;
	if ((b->done && !ids) || exec_simple(s, "BEGIN") != 0) {
		free(ids);
		jbuf_free(&recs);
		return b->done && !ids ? -ENOMEM : -EIO;
	}
	/* Locking the batch row first: a second crawler writing the same
	 * batch waits here, then finds it done (or stored in part) and
	 * drops its rows. */
	r = q(s, PGRES_TUPLES_OK,
	      "SELECT done_at IS NULL, leased_by IS NOT DISTINCT FROM $3 "
	      "FROM campaign_batch WHERE campaign_id = $1::bigint "
	      "AND batch_no = $2::bigint FOR UPDATE",
	      3, p);
	if (!r)
		goto fail;
	bool open = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	bool leased = PQntuples(r) == 1 && PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	/* A part is stored only under our own lease: another crawler that
	 * leased the batch since (ours expired) is scanning these targets
	 * too and will store them. A whole batch is stored by whoever
	 * finishes first, as long as none of its targets is stored yet. */
	bool ours = open && (whole || leased);
	if (ours && b->done) {
		const char *p2[2] = { cid, ids };
		r = q(s, PGRES_TUPLES_OK,
		      "SELECT count(*) FROM domain_dns "
		      "WHERE campaign_id = $1::bigint "
		      "AND target_id = ANY ($2::bigint[])",
		      2, p2);
		if (!r)
			goto fail;
		ours = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
		PQclear(r);
	}
	if (!ours) {
		*discarded = true;
		exec_simple(s, "ROLLBACK");
		free(ids);
		jbuf_free(&recs);
		return 0;
	}
	for (int t = 0; b->done && t < TABLE_LAST; t++)
		if (copy_table(s, t, t == TABLE_RECORDS ? &recs : &b->out[t]) !=
		    0)
			goto fail;
	r = q(s, PGRES_COMMAND_OK,
	      whole ? "UPDATE campaign_batch SET done_at = clock_timestamp() "
		      "WHERE campaign_id = $1::bigint AND batch_no = $2::bigint"
		    : "UPDATE campaign_batch SET lease_expires = "
		      "clock_timestamp() WHERE campaign_id = $1::bigint "
		      "AND batch_no = $2::bigint",
	      2, p);
	if (!r)
		goto fail;
	PQclear(r);
	free(ids);
	jbuf_free(&recs);
	if (exec_simple(s, "COMMIT") != 0)
		return -EIO;
	return 0;
fail:
	free(ids);
	jbuf_free(&recs);
	if (!store_broken(s))
		exec_simple(s, "ROLLBACK");
	return -EIO;
}

int store_release(struct store *s, int64_t *released)
{
	char cid[24];
	const char *p[2] = { cid, s->worker_id };
	PGresult *r;

	*released = 0;
	id_text(cid, sizeof cid, s->campaign_id);
	r = q(s, PGRES_COMMAND_OK,
	      "UPDATE campaign_batch SET lease_expires = clock_timestamp() "
	      "WHERE campaign_id = $1::bigint AND leased_by = $2 "
	      "AND done_at IS NULL AND lease_expires > clock_timestamp()",
	      2, p);
	if (!r)
		return -EIO;
	*released = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

int store_renew(struct store *s)
{
	char cid[24], lease[32];
	const char *p[3] = { cid, s->worker_id, lease };
	PGresult *r;

	id_text(cid, sizeof cid, s->campaign_id);
	snprintf(lease, sizeof lease, "%u seconds", s->lease_seconds);
	r = q(s, PGRES_TUPLES_OK,
	      "SELECT campaign_renew($1::bigint, $2, $3::interval)", 3, p);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

int store_analyze(struct store *s)
{
	char cid[24];
	const char *p[1] = { cid };
	PGresult *r;

	id_text(cid, sizeof cid, s->campaign_id);
	r = q(s, PGRES_TUPLES_OK, "SELECT campaign_analyze($1::bigint)", 1, p);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

int store_set_state(struct store *s, const char *state)
{
	char cid[24];
	const char *p[2] = { cid, state };
	PGresult *r;

	id_text(cid, sizeof cid, s->campaign_id);
	r = q(s, PGRES_COMMAND_OK,
	      "UPDATE campaign SET state = $2 WHERE id = $1::bigint "
	      "AND state <> 'cancelled'",
	      2, p);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}
