#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crawler/util/log.h"
#include "crawler/util/retry.h"
#include "crawler/mailproto/mailsess.h"
#include "crawler/scan/epclaim.h"
#include "crawler/store/record.h"
#include "crawler/store/store.h"

/* Seconds between reconnection attempts. */
#define EPCLAIM_RETRY_SECONDS 1
/* Failed attempts (with a working connection) before a write or claim is
 * given up: a data error that retrying cannot fix. */
#define EPCLAIM_ATTEMPTS 3
/* Seconds epclaim_freeze waits for a statement under way, at most. */
#define EPCLAIM_FREEZE_SECONDS 2
/* Bytes of one statement's array parameters, at most. */
#define EPCLAIM_ARRAY_MAX (8u << 20)

/* A claim filed by a domain, kept while its result is awaited. */
struct req {
	struct ep_key key;
	struct req *next;
};

struct epclaim {
	struct epclaim_config cfg;
	PGconn *c;
	pthread_t thread;
	int efd; /* eventfd: work was handed in */

	/* Held by the thread while it uses the database; taken for good by
	 * epclaim_freeze. */
	pthread_mutex_t db;
	pthread_mutex_t mu; /* guards the lists below and stopping */
	struct req *reqs, **reqs_tail;
	struct epclaim_result *results, **results_tail;
	bool stopping;

	/* Thread-only: claims lost to another crawler, awaiting its row. */
	struct req *remote;
	/* Claims were lost since the last look: many have their row stored
	 * already (another crawler's finished endpoint, or one of ours the
	 * registry dropped, epreg.h), so look soon rather than at
	 * EPCLAIM_LOOK_MAX_MS. */
	bool lost;
	/* A claim was refused by the per-address cap since the last
	 * takeover: try again as soon as a claim finishes (ours, or
	 * another crawler's notification), not only every
	 * EPCLAIM_LOOK_MAX_MS. */
	bool capped;
	uint64_t last_renew, renew_every; /* ms: the claims' heartbeat */
	/* The last claim statement failed for want of a resource (a full
	 * disk): worth waiting for, unlike an error in the data. */
	bool short_of;
	char short_msg[256]; /* PostgreSQL's message then, its first line */
	struct store_records rec; /* handshake records */
	struct epclaim_stats stats;
};

static void renew_due(struct epclaim *c);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void req_free(struct req *q)
{
	free(q);
}

static void result_free(struct epclaim_result *r)
{
	jbuf_free(&r->endpoint_rows);
	jbuf_free(&r->cert_rows);
	jbuf_free(&r->record);
	free(r);
}

static void kick(struct epclaim *c)
{
	uint64_t one = 1;
	ssize_t n = write(c->efd, &one, sizeof one);
	(void)n; /* a full counter already wakes the thread */
}

/* --- the connection ---------------------------------------------------- */

static bool broken(const struct epclaim *c)
{
	return !c->c || PQstatus(c->c) != CONNECTION_OK;
}

static int session_setup(struct epclaim *c)
{
	PGresult *r = PQexec(c->c, "SET application_name = 'mxcrawl-claims'; "
				   "SET client_min_messages = warning; "
				   "LISTEN mxcrawl_endpoint");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok)
		PQsetnonblocking(c->c, 0);
	return ok ? 0 : -EIO;
}

/* 0, -ENOMEM (libpq could not allocate the connection) or -EIO. */
static int connect_db(struct epclaim *c)
{
	if (c->c)
		PQfinish(c->c);
	c->c = PQconnectdb(c->cfg.conninfo);
	if (!c->c)
		return -ENOMEM;
	if (broken(c))
		return -EIO;
	return session_setup(c);
}

/* Waits for the database to come back; false if stopping first. */
static bool reconnect(struct epclaim *c)
{
	struct retry r = { 0 };

	while (connect_db(c) != 0) {
		pthread_mutex_lock(&c->mu);
		bool stopping =
		    c->stopping && !c->reqs && !c->results && !c->remote;
		pthread_mutex_unlock(&c->mu);
		if (stopping)
			return false;
		retry_pause(&r, EPCLAIM_RETRY_SECONDS,
			    "claims: lost the database connection; "
			    "retrying every %d s",
			    EPCLAIM_RETRY_SECONDS);
	}
	retry_over(&r, "claims: database connection back");
	return true;
}

static int exec_cmd(struct epclaim *c, const char *sql)
{
	PGresult *r = PQexec(c->c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && !broken(c))
		log_warn("claims: %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -EIO;
}

/* Array parameters for a list of endpoints, as PostgreSQL array input:
 * {ip,...} {port,...} {"sni",...} {service,...} and the client services'
 * names ({"imaps",...}, "" for port 25), which client_endpoint.service
 * holds. */
struct arrays {
	struct jbuf ip, port, sni, service, client;
};

static void arrays_init(struct arrays *a)
{
	jbuf_init(&a->ip, EPCLAIM_ARRAY_MAX);
	jbuf_init(&a->port, EPCLAIM_ARRAY_MAX);
	jbuf_init(&a->sni, EPCLAIM_ARRAY_MAX);
	jbuf_init(&a->service, EPCLAIM_ARRAY_MAX);
	jbuf_init(&a->client, EPCLAIM_ARRAY_MAX);
}

static void arrays_free(struct arrays *a)
{
	jbuf_free(&a->ip);
	jbuf_free(&a->port);
	jbuf_free(&a->sni);
	jbuf_free(&a->service);
	jbuf_free(&a->client);
}

static void arrays_add(struct arrays *a, const struct ep_key *k, bool first)
{
	char ip[64];

	addr_format(&k->addr, ip, sizeof ip);
	jbuf_puts(&a->ip, first ? "{" : ",");
	jbuf_puts(&a->ip, ip);
	jbuf_printf(&a->port, "%s%u", first ? "{" : ",", k->port);
	jbuf_puts(&a->sni, first ? "{\"" : ",\"");
	for (const char *s = k->sni; *s; s++) {
		if (*s == '"' || *s == '\\')
			jbuf_append(&a->sni, "\\", 1);
		jbuf_append(&a->sni, s, 1);
	}
	jbuf_puts(&a->sni, "\"");
	jbuf_printf(&a->service, "%s%u", first ? "{" : ",", k->service);
	/* The service's names are lower-case letters and digits. */
	jbuf_printf(
	    &a->client, "%s\"%s\"", first ? "{" : ",",
	    k->service == EP_SERVICE_MX
		? ""
		: mail_service_str((enum mail_service)(k->service - 1)));
}

static bool arrays_end(struct arrays *a)
{
	jbuf_puts(&a->ip, "}");
	jbuf_puts(&a->port, "}");
	jbuf_puts(&a->sni, "}");
	jbuf_puts(&a->service, "}");
	jbuf_puts(&a->client, "}");
	return !a->ip.failed && !a->port.failed && !a->sni.failed &&
	       !a->service.failed && !a->client.failed;
}

/* The statements over endpoints and their parameters: the campaign ($1),
 * then
 *   CALL_TAKE:   worker, lease, ip[], port[], sni[], service[], per_ip;
 *   CALL_STORED: worker, ip[], port[], sni[], service[], client[];
 *   CALL_FINISH: ip[], port[], sni[], service[]. */
enum call_kind { CALL_TAKE, CALL_STORED, CALL_FINISH };

static const char *const call_sql[] = {
	[CALL_TAKE] = "SELECT * FROM endpoint_claim_take($1::bigint, $2, "
		      "$3::interval, $4::inet[], $5::integer[], $6::text[], "
		      "$7::smallint[], $8::integer)",
	[CALL_STORED] = "SELECT * FROM endpoint_claim_stored($1::bigint, $2, "
			"$3::inet[], $4::integer[], $5::text[], "
			"$6::smallint[], $7::text[])",
	[CALL_FINISH] = "SELECT endpoint_claim_finish($1::bigint, "
			"$2::inet[], $3::integer[], $4::text[], "
			"$5::smallint[])",
};

/* Runs a statement over the n endpoints keys[0..n); the caller checks
 * the status. */
static PGresult *call(struct epclaim *c, enum call_kind how,
		      struct ep_key *const *keys, size_t n)
{
	char cid[24], lease[32], per_ip[16];
	struct arrays a;
	const char *p[8];
	int np = 0;
	PGresult *r = NULL;

	snprintf(cid, sizeof cid, "%" PRId64, c->cfg.campaign_id);
	snprintf(lease, sizeof lease, "%u seconds", c->cfg.lease_seconds);
	snprintf(per_ip, sizeof per_ip, "%u", c->cfg.per_ip);
	arrays_init(&a);
	for (size_t i = 0; i < n; i++)
		arrays_add(&a, keys[i], i == 0);
	if (arrays_end(&a)) {
		p[np++] = cid;
		if (how != CALL_FINISH)
			p[np++] = c->cfg.worker_id;
		if (how == CALL_TAKE)
			p[np++] = lease;
		p[np++] = a.ip.data;
		p[np++] = a.port.data;
		p[np++] = a.sni.data;
		p[np++] = a.service.data;
		if (how == CALL_STORED)
			p[np++] = a.client.data;
		if (how == CALL_TAKE)
			p[np++] = per_ip;
		r = PQexecParams(c->c, call_sql[how], np, NULL, p, NULL, NULL,
				 0);
	}
	arrays_free(&a);
	return r;
}

/* A list after a statement over its first part: the part not looked at
 * (after) first, then what is left of the part (rest, whose last link is
 * *tail), so that a long remote list is looked at in turn, not only its
 * first EPCLAIM_BATCH_MAX entries. */
static struct req *rotate(struct req *rest, struct req **tail,
			  struct req *after)
{
	struct req *head = after;

	*tail = NULL;
	if (!head)
		return rest;
	while (after->next)
		after = after->next;
	after->next = rest;
	return head;
}

/* --- claiming ---------------------------------------------------------- */

/* Whether r failed for want of a resource (SQLSTATE class 53: a full
 * disk, out of memory, too many connections), which goes away, rather
 * than for an error in what was sent, which does not. */
static bool short_of(const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return state && strncmp(state, "53", 2) == 0;
}

/* Tries to claim the n requests of list (new ones, or lost ones whose
 * claim may have expired). Won claims are handed to a waiting domain to
 * probe; the rest are returned (in order) for the remote list. -EIO on a
 * database error, -ENOMEM (the list is left as it was). */
static int take(struct epclaim *c, struct req **list, size_t n)
{
	struct ep_key **keys = calloc(n ? n : 1, sizeof *keys);
	struct req **byi = calloc(n ? n : 1, sizeof *byi);
	size_t i = 0;

	if (!keys || !byi) {
		free(keys);
		free(byi);
		return -ENOMEM;
	}
	for (struct req *q = *list; q && i < n; q = q->next, i++) {
		keys[i] = &q->key;
		byi[i] = q;
	}
	PGresult *r = call(c, CALL_TAKE, keys, n);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		c->short_of = short_of(r);
		if (c->short_of) {
			const char *m = PQresultErrorMessage(r);
			snprintf(c->short_msg, sizeof c->short_msg, "%.*s",
				 (int)strcspn(m, "\n"), m);
		}
		if (r && !broken(c) && !c->short_of)
			log_warn("claims: %s", PQresultErrorMessage(r));
		PQclear(r);
		free(keys);
		free(byi);
		return -EIO;
	}
	/* 0: lost; 1: won; 2: won from a stopped crawler. Attempts 0:
	 * refused by the per-address cap (lost for now). */
	uint8_t *won = calloc(n, sizeof *won);
	for (int row = 0; won && row < PQntuples(r); row++) {
		long pos = strtol(PQgetvalue(r, row, 0), NULL, 10);
		long attempts = strtol(PQgetvalue(r, row, 1), NULL, 10);
		if (attempts == 0) {
			c->stats.capped++;
			c->capped = true;
		} else if (pos >= 1 && (size_t)pos <= n) {
			won[pos - 1] = attempts > 1 ? 2 : 1;
		}
	}
	PQclear(r);
	if (!won) {
		free(keys);
		free(byi);
		return -ENOMEM;
	}
	/* Rebuild the list: won requests leave it. */
	struct req *rest = NULL, **tail = &rest, *after = byi[n - 1]->next;
	for (i = 0; i < n; i++) {
		struct req *q = byi[i];
		if (won[i]) {
			c->stats.won++;
			c->stats.taken_over += won[i] == 2;
			epreg_claimed(c->cfg.reg, &q->key);
			req_free(q);
		} else {
			*tail = q;
			tail = &q->next;
		}
	}
	*list = rotate(rest, tail, after);
	free(won);
	free(keys);
	free(byi);
	return 0;
}

/* --- others' results --------------------------------------------------- */

/* Builds and publishes the result of q from rows [from, to) of r, one
 * per certificate of the stored chain; false when out of memory (nothing
 * published). The domains waiting for it judge the chain for DANE each
 * with their own TLSA records (epreg.h). */
static bool publish_remote(struct epclaim *c, struct req *q, PGresult *r,
			   int from, int to)
{
	size_t rows = (size_t)(to - from), n = 0;
	struct ep_done *d = calloc(1, sizeof *d);
	struct verify_der *der = calloc(rows ? rows : 1, sizeof *der);
	bool ok = d && der;

	for (int row = from; ok && row < to; row++) {
		size_t len = 0;
		if (PQgetisnull(r, row, 6))
			continue;
		unsigned char *bytes = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(r, row, 6), &len);
		if (!bytes) {
			ok = false;
			break;
		}
		der[n++] = (struct verify_der){ bytes, len };
	}
	ok = ok && ep_done_set_chain(d, der, n) == 0;
	for (size_t i = 0; i < n; i++)
		PQfreemem((void *)der[i].data);
	free(der);
	if (!ok) {
		ep_done_free(d);
		return false;
	}
	snprintf(d->outcome, sizeof d->outcome, "%s", PQgetvalue(r, from, 1));
	d->starttls_ok = PQgetvalue(r, from, 2)[0] == 't';
	d->trusted = PQgetvalue(r, from, 3)[0] == 't';
	d->name_matches_mx = PQgetvalue(r, from, 4)[0] == 't';
	if (PQgetvalue(r, from, 7)[0] == 't')
		c->stats.read_back++;
	else
		c->stats.remote++;
	/* Stored: the registry may drop it and have it rebuilt so again. */
	epreg_release(c->cfg.reg, epreg_publish_stored(c->cfg.reg, &q->key, d));
	return true;
}

/* Looks for stored results of the remote list; publishes and drops those
 * found. -EIO on a database error, -ENOMEM. */
static int look(struct epclaim *c)
{
	size_t n = 0;

	for (struct req *q = c->remote; q && n < EPCLAIM_BATCH_MAX; q = q->next)
		n++;
	if (!n)
		return 0;
	struct ep_key **keys = calloc(n, sizeof *keys);
	struct req **byi = calloc(n, sizeof *byi);
	bool *found = calloc(n, sizeof *found);
	if (!keys || !byi || !found) {
		free(keys);
		free(byi);
		free(found);
		return -ENOMEM;
	}
	size_t i = 0;
	for (struct req *q = c->remote; i < n; q = q->next, i++) {
		keys[i] = &q->key;
		byi[i] = q;
	}
	/* Column 7: whether this process stored the row (its claim is ours
	 * and done): a result the registry dropped, read back. */
	PGresult *r = call(c, CALL_STORED, keys, n);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (r && !broken(c))
			log_warn("claims: %s", PQresultErrorMessage(r));
		PQclear(r);
		free(keys);
		free(byi);
		free(found);
		return -EIO;
	}
	int rows = PQntuples(r);
	for (int row = 0; row < rows;) {
		long pos = strtol(PQgetvalue(r, row, 0), NULL, 10);
		int end = row + 1;
		while (end < rows &&
		       !strcmp(PQgetvalue(r, end, 0), PQgetvalue(r, row, 0)))
			end++;
		/* Not found (out of memory): the waiters stay until a
		 * later look. */
		if (pos >= 1 && (size_t)pos <= n && !found[pos - 1])
			found[pos - 1] =
			    publish_remote(c, byi[pos - 1], r, row, end);
		row = end;
	}
	PQclear(r);
	struct req *rest = NULL, **tail = &rest, *after = byi[n - 1]->next;
	for (i = 0; i < n; i++) {
		if (found[i]) {
			req_free(byi[i]);
		} else {
			*tail = byi[i];
			tail = &byi[i]->next;
		}
	}
	c->remote = rotate(rest, tail, after);
	free(keys);
	free(byi);
	free(found);
	return 0;
}

/* --- our results ------------------------------------------------------- */

/* Stores the rows of the results in one transaction, marks their claims
 * done and notifies; 0, or (rolled back) -EIO, -ENOMEM or a buffer's
 * error (jbuf_error()). */
static int store_results(struct epclaim *c, struct epclaim_result *list)
{
	struct jbuf eps, ceps, certs, lines, samples, recs;
	size_t n = 0;

	for (struct epclaim_result *x = list; x; x = x->next)
		n++;
	struct ep_key **keys = calloc(n ? n : 1, sizeof *keys);
	if (!keys)
		return -ENOMEM;
	jbuf_init(&eps, STORE_BATCH_ROWS_MAX);
	jbuf_init(&ceps, STORE_BATCH_ROWS_MAX);
	jbuf_init(&certs, STORE_BATCH_ROWS_MAX);
	jbuf_init(&lines, STORE_BATCH_ROWS_MAX);
	jbuf_init(&samples, STORE_BATCH_ROWS_MAX);
	jbuf_init(&recs, STORE_BATCH_ROWS_MAX);
	n = 0;
	for (struct epclaim_result *x = list; x; x = x->next) {
		keys[n++] = &x->key;
		/* A client endpoint's row is client_endpoint's. */
		jbuf_append(x->key.service == EP_SERVICE_MX ? &eps : &ceps,
			    x->endpoint_rows.data ? x->endpoint_rows.data : "",
			    x->endpoint_rows.len);
		jbuf_append(&certs, x->cert_rows.data ? x->cert_rows.data : "",
			    x->cert_rows.len);
		jbuf_append(&lines, x->record.data ? x->record.data : "",
			    x->record.len);
		/* The dictionary learns from completed handshakes: the bulk
		 * of the records. Results come in as probes end, fast
		 * failures first; sampling those would train it on the
		 * few short records of refusals and timeouts. */
		if (x->done && x->done->starttls_ok)
			jbuf_append(&samples,
				    x->record.data ? x->record.data : "",
				    x->record.len);
	}
	int rc = jbuf_error(&eps);
	if (rc == 0)
		rc = jbuf_error(&ceps);
	if (rc == 0)
		rc = jbuf_error(&certs);
	if (rc == 0)
		rc = jbuf_error(&lines);
	if (rc == 0)
		rc = jbuf_error(&samples);
	if (rc != 0)
		goto out;
	/* The dictionary, once trained, is stored before the records that
	 * name it (its own statement). */
	if (store_records_compress(c->c, &c->rec, &lines, &samples, &recs) != 0)
		log_warn("claims: a handshake record could not be compressed; "
			 "%zu records dropped",
			 n);
	rc = exec_cmd(c, "BEGIN");
	if (rc != 0)
		goto out;
	rc = -EIO;
	if (store_copy_rows(c->c, table_name[TABLE_CERTIFICATE],
			    table_columns[TABLE_CERTIFICATE], &certs,
			    true) != 0 ||
	    store_copy_rows(c->c, table_name[TABLE_ENDPOINT],
			    table_columns[TABLE_ENDPOINT], &eps, true) != 0 ||
	    store_copy_rows(c->c, table_name[TABLE_CLIENT_ENDPOINT],
			    table_columns[TABLE_CLIENT_ENDPOINT], &ceps,
			    true) != 0 ||
	    store_copy_rows(c->c, table_name[TABLE_RECORDS],
			    table_columns[TABLE_RECORDS], &recs,
			    table_staged[TABLE_RECORDS]) != 0)
		goto rollback;
	PGresult *r = call(c, CALL_FINISH, keys, n);
	bool ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok && r && !broken(c))
		log_warn("claims: %s", PQresultErrorMessage(r));
	PQclear(r);
	if (!ok)
		goto rollback;
	rc = exec_cmd(c, "COMMIT");
	goto out;
rollback:
	if (!broken(c))
		exec_cmd(c, "ROLLBACK");
out:
	jbuf_free(&eps);
	jbuf_free(&ceps);
	jbuf_free(&certs);
	jbuf_free(&lines);
	jbuf_free(&samples);
	jbuf_free(&recs);
	free(keys);
	return rc;
}

static void publish_results(struct epclaim *c, struct epclaim_result *list)
{
	while (list) {
		struct epclaim_result *x = list;
		list = x->next;
		epreg_release(c->cfg.reg, epreg_publish_stored(
					      c->cfg.reg, &x->key, x->done));
		x->done = NULL;
		result_free(x);
	}
}

/* --- the thread -------------------------------------------------------- */

/* After a failed attempt: true if it is worth another (the connection
 * broke and is back, or fewer than EPCLAIM_ATTEMPTS failures so far). */
static bool again(struct epclaim *c, unsigned *failures)
{
	if (broken(c))
		return reconnect(c);
	return ++*failures < EPCLAIM_ATTEMPTS;
}

static void handle_results(struct epclaim *c, struct epclaim_result *list)
{
	if (!list)
		return;
	unsigned failures = 0;
	struct retry r = { 0 };

	/* The rows are stored before the results are published, however
	 * long that takes. The batch writer stores the domains that use
	 * these endpoints, and its tables may have room when these do not
	 * (a full disk): published unstored, the endpoints would have no
	 * row, their claims would stay undone and nobody would probe them
	 * again. Meanwhile those domains wait; a second signal stops at
	 * once. */
	while (store_results(c, list) != 0) {
		if (again(c, &failures))
			continue;
		renew_due(c);
		retry_pause(&r, EPCLAIM_RETRY_SECONDS,
			    "claims: cannot store endpoint rows; retrying "
			    "every %d s (the domains that use them wait)",
			    EPCLAIM_RETRY_SECONDS);
	}
	retry_over(&r, "claims: endpoint rows stored");
	publish_results(c, list);
}

/* New claims: take them in statements of up to EPCLAIM_BATCH_MAX; what is
 * lost joins the remote list. */
static void handle_claims(struct epclaim *c, struct req *list)
{
	while (list) {
		size_t n = 0;
		struct req *q = list, *last = NULL;
		for (; q && n < EPCLAIM_BATCH_MAX; q = q->next, n++)
			last = q;
		struct req *after = last->next;
		last->next = NULL;
		unsigned failures = 0;
		struct retry wait = { 0 };
		int rc;
		/* Short of a resource (the database's disk full), the domains
		 * wait for their claims like for their rows (handle_results):
		 * probed without one, an endpoint may be probed again by
		 * another crawler, or by this one after a --resume. */
		while ((rc = take(c, &list, n)) != 0) {
			if (c->short_of && !broken(c)) {
				renew_due(c);
				retry_pause(&wait, EPCLAIM_RETRY_SECONDS,
					    "claims: cannot claim endpoints "
					    "(%s); retrying every %d s (the "
					    "domains that use them wait)",
					    c->short_msg,
					    EPCLAIM_RETRY_SECONDS);
				continue;
			}
			if (!again(c, &failures))
				break;
		}
		retry_over(&wait, "claims: claiming again");
		if (rc != 0) {
			/* Cannot claim: probe here rather than never. */
			log_warn("claims: cannot claim %zu endpoints; probing "
				 "them without a claim",
				 n);
			while (list) {
				struct req *x = list;
				list = x->next;
				epreg_claimed(c->cfg.reg, &x->key);
				req_free(x);
			}
		}
		/* What is left was claimed by others. */
		while (list) {
			struct req *x = list;
			list = x->next;
			x->next = c->remote;
			c->remote = x;
			c->lost = true;
		}
		list = after;
	}
}

/* Expired claims of others among the remote list become ours. */
static void handle_takeover(struct epclaim *c)
{
	size_t n = 0;

	for (struct req *q = c->remote; q && n < EPCLAIM_BATCH_MAX; q = q->next)
		n++;
	unsigned failures = 0;
	while (n && take(c, &c->remote, n) != 0 && again(c, &failures))
		;
}

static void renew(struct epclaim *c)
{
	char cid[24], lease[32];
	const char *p[3] = { cid, c->cfg.worker_id, lease };

	snprintf(cid, sizeof cid, "%" PRId64, c->cfg.campaign_id);
	snprintf(lease, sizeof lease, "%u seconds", c->cfg.lease_seconds);
	PGresult *r = PQexecParams(c->c,
				   "SELECT endpoint_claim_renew($1::bigint, "
				   "$2, $3::interval)",
				   3, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && !broken(c) && !short_of(r))
		log_warn("claims: %s", PQresultErrorMessage(r));
	PQclear(r);
}

/* Renews the claims if their heartbeat is due: also while a wait for
 * the database (a full disk) holds up everything else, or other crawlers
 * would take the claims over and probe their endpoints again. */
static void renew_due(struct epclaim *c)
{
	if (now_ms() - c->last_renew < c->renew_every)
		return;
	if (broken(c))
		reconnect(c);
	renew(c);
	c->last_renew = now_ms();
}

/* Reads notifications; true if another crawler stored endpoints. */
static bool notified(struct epclaim *c)
{
	bool any = false;
	PGnotify *n;

	if (broken(c) || !PQconsumeInput(c->c))
		return false;
	while ((n = PQnotifies(c->c)) != NULL) {
		/* Our own notifications say nothing new. */
		any |= n->be_pid != PQbackendPID(c->c);
		PQfreemem(n);
	}
	return any;
}

static void *claim_main(void *arg)
{
	struct epclaim *c = arg;
	uint64_t last_look = 0, last_takeover = now_ms();
	bool news = false;
	/* Claims finished since the last takeover (ours stored, or
	 * another crawler's notification): the per-address cap may let
	 * refused ones through now. */
	bool freed = false;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		struct req *reqs = c->reqs;
		struct epclaim_result *results = c->results;
		c->reqs = NULL;
		c->reqs_tail = &c->reqs;
		c->results = NULL;
		c->results_tail = &c->results;
		bool stopping = c->stopping;
		pthread_mutex_unlock(&c->mu);

		if (stopping && !reqs && !results && !c->remote)
			break;
		pthread_mutex_lock(&c->db);
		handle_results(c, results);
		freed |= results != NULL;
		handle_claims(c, reqs);
		news |= c->lost;
		c->lost = false;
		uint64_t now = now_ms();
		if (c->remote &&
		    (news || now - last_look >= EPCLAIM_LOOK_MAX_MS) &&
		    now - last_look >= EPCLAIM_LOOK_MIN_MS) {
			unsigned failures = 0;
			while (look(c) != 0 && again(c, &failures))
				;
			last_look = now_ms();
			news = false;
		}
		if (c->remote &&
		    (now - last_takeover >= EPCLAIM_LOOK_MAX_MS ||
		     (c->capped && freed &&
		      now - last_takeover >= EPCLAIM_LOOK_MIN_MS))) {
			c->capped = false;
			freed = false;
			handle_takeover(c);
			last_takeover = now_ms();
		}
		renew_due(c);
		pthread_mutex_unlock(&c->db);

		/* Wait for work, a notification or the next deadline. */
		if (notified(c))
			news = freed = true;
		now = now_ms();
		uint64_t until = c->last_renew + c->renew_every;
		if (c->remote) {
			uint64_t t = last_look + (news ? EPCLAIM_LOOK_MIN_MS
						       : EPCLAIM_LOOK_MAX_MS);
			if (t < until)
				until = t;
			t = last_takeover + (c->capped && freed
						 ? EPCLAIM_LOOK_MIN_MS
						 : EPCLAIM_LOOK_MAX_MS);
			if (t < until)
				until = t;
		}
		struct pollfd pf[2] = { { c->efd, POLLIN, 0 },
					{ broken(c) ? -1 : PQsocket(c->c),
					  POLLIN, 0 } };
		int timeout = until > now ? (int)(until - now) : 0;
		if (poll(pf, 2, timeout) > 0) {
			if (pf[0].revents & POLLIN) {
				uint64_t v;
				ssize_t got = read(c->efd, &v, sizeof v);
				(void)got;
			}
			if (pf[1].revents && notified(c))
				news = freed = true;
		}
	}
	return NULL;
}

/* Ends the claims this process holds and has not finished. */
static void release(struct epclaim *c)
{
	char cid[24];
	const char *p[2] = { cid, c->cfg.worker_id };

	if (broken(c))
		return;
	snprintf(cid, sizeof cid, "%" PRId64, c->cfg.campaign_id);
	PGresult *r = PQexecParams(c->c,
				   "UPDATE endpoint_claim SET expires = "
				   "clock_timestamp() WHERE campaign_id = "
				   "$1::bigint AND worker = $2 AND NOT done "
				   "AND expires > clock_timestamp()",
				   2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		c->stats.released = strtoull(PQcmdTuples(r), NULL, 10);
	else if (!broken(c))
		log_warn("claims: %s", PQresultErrorMessage(r));
	PQclear(r);
}

/* --- the interface ----------------------------------------------------- */

int epclaim_start(struct epclaim **out, const struct epclaim_config *cfg)
{
	struct epclaim *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->renew_every = (uint64_t)(cfg->lease_seconds / 3 + 1) * 1000;
	c->last_renew = now_ms();
	c->rec.campaign_id = cfg->campaign_id;
	c->rec.worker_id = cfg->worker_id;
	c->rec.codec = record_codec_new(
	    cfg->dict_samples ? cfg->dict_samples : RECORD_DICT_SAMPLES);
	if (!c->rec.codec) {
		free(c);
		return -ENOMEM;
	}
	c->reqs_tail = &c->reqs;
	c->results_tail = &c->results;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		rc = -errno;
		record_codec_free(c->rec.codec);
		free(c);
		return rc;
	}
	rc = connect_db(c);
	if (rc != 0) {
		/* PostgreSQL's reason is known only here. */
		if (rc == -EIO)
			log_error("claims: cannot connect to PostgreSQL: %s",
				  PQerrorMessage(c->c));
		PQfinish(c->c);
		close(c->efd);
		record_codec_free(c->rec.codec);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->db, NULL);
	rc = -pthread_create(&c->thread, NULL, claim_main, c);
	if (rc != 0) {
		pthread_mutex_destroy(&c->db);
		pthread_mutex_destroy(&c->mu);
		PQfinish(c->c);
		close(c->efd);
		record_codec_free(c->rec.codec);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void epclaim_stop(struct epclaim *c, struct epclaim_stats *stats)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	kick(c);
	pthread_join(c->thread, NULL);
	release(c);
	c->stats.records_raw = c->rec.raw;
	c->stats.records_zstd = c->rec.zstd;
	if (stats)
		*stats = c->stats;
	while (c->remote) {
		struct req *q = c->remote;
		c->remote = q->next;
		req_free(q);
	}
	PQfinish(c->c);
	close(c->efd);
	record_codec_free(c->rec.codec);
	pthread_mutex_destroy(&c->db);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void epclaim_freeze(struct epclaim *c)
{
	struct timespec until;

	if (!c)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += EPCLAIM_FREEZE_SECONDS;
	/* Not released: the process ends. Past the deadline (a statement
	 * that hangs, a database that is gone) the caller goes on anyway. */
	pthread_mutex_timedlock(&c->db, &until);
}

int epclaim_request(struct epclaim *c, const struct ep_key *k)
{
	struct req *q = calloc(1, sizeof *q);

	if (!q)
		return -ENOMEM;
	q->key = *k;
	pthread_mutex_lock(&c->mu);
	*c->reqs_tail = q;
	c->reqs_tail = &q->next;
	pthread_mutex_unlock(&c->mu);
	kick(c);
	return 0;
}

void epclaim_finish(struct epclaim *c, struct epclaim_result *r)
{
	r->next = NULL;
	pthread_mutex_lock(&c->mu);
	*c->results_tail = r;
	c->results_tail = &r->next;
	pthread_mutex_unlock(&c->mu);
	kick(c);
}
