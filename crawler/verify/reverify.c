/*
 * mxcrawl reverify: the stored chains of a campaign judged again into a
 * new judgement set (contract in reverify.h). The judging mirrors
 * crawler/scan/probe.c (endpoint_row, write_domain_endpoints, host_dane) call
 * for call, so that a set judged with the scan's trust store at the scan's
 * time equals the scan's own verdicts.
 *
 * Reading and writing share one connection and one transaction: the rows
 * come through a cursor, a few thousand per FETCH, and the verdicts of
 * each FETCH go back with one COPY before the next, so memory stays
 * bounded whatever the campaign's size.
 */
#include "crawler/verify/reverify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/util/log.h"
#include "crawler/store/copyfmt.h"
#include "crawler/store/db.h"
#include "crawler/util/jbuf.h"
#include "crawler/verify/verdict.h"

/* Largest COPY buffer of one FETCH's verdicts (a row is under 1 KiB). */
#define REVERIFY_ROWS_MAX (64u << 20)
/* The owner prefix of a TLSA RRset of an SMTP server (RFC 7672 §2.2.3). */

/* ---- the stored TLSA text form --------------------------------------- */

static const char *const rc_names[REVERIFY_RC_LAST] = {
	[REVERIFY_OK] = "ok",
	[REVERIFY_TLSA_SYNTAX] = "tlsa_syntax",
	[REVERIFY_TLSA_RANGE] = "tlsa_range",
	[REVERIFY_TLSA_ODD_HEX] = "tlsa_odd_hex",
	[REVERIFY_TLSA_TOO_LARGE] = "tlsa_too_large",
};

const char *reverify_rc_str(enum reverify_rc rc)
{
	return (unsigned)rc < REVERIFY_RC_LAST ? rc_names[rc] : "unknown";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One decimal field of at most 3 digits and the space after it. */
static enum reverify_rc field(const char *s, size_t len, size_t *i,
			      uint8_t *out)
{
	unsigned v = 0, digits = 0;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		if (++digits > 3)
			return REVERIFY_TLSA_RANGE;
		v = v * 10 + (unsigned)(s[*i] - '0');
		(*i)++;
	}
	if (digits == 0 || *i >= len || s[*i] != ' ')
		return REVERIFY_TLSA_SYNTAX;
	(*i)++;
	if (v > 255)
		return REVERIFY_TLSA_RANGE;
	*out = (uint8_t)v;
	return REVERIFY_OK;
}

enum reverify_rc reverify_tlsa_parse(const char *s, size_t len, uint8_t *buf,
				     size_t cap, struct verify_tlsa *out)
{
	size_t i = 0, n = 0;
	enum reverify_rc rc;

	if ((rc = field(s, len, &i, &out->usage)) != REVERIFY_OK ||
	    (rc = field(s, len, &i, &out->selector)) != REVERIFY_OK ||
	    (rc = field(s, len, &i, &out->mtype)) != REVERIFY_OK)
		return rc;
	if ((len - i) % 2)
		return hexval(s[len - 1]) < 0 ? REVERIFY_TLSA_SYNTAX
					      : REVERIFY_TLSA_ODD_HEX;
	for (; i < len; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return REVERIFY_TLSA_SYNTAX;
		if (n == cap)
			return REVERIFY_TLSA_TOO_LARGE;
		buf[n++] = (uint8_t)(hi << 4 | lo);
	}
	out->data = buf;
	out->len = n;
	return REVERIFY_OK;
}

/* ---- state ------------------------------------------------------------ */

/* The certificates of one endpoint as stored, leaf first (owned). */
struct chain {
	struct verify_der der[VERIFY_MAX_CHAIN];
	size_t n;
};

/* One endpoint of the current MX host, while its rows arrive. */
struct ep {
	bool open;
	char *ip, *port, *sni;
	bool starttls_ok;
	struct chain chain;
};

/* The current MX host of a domain (domain_mx row) and its TLSA records. */
struct host {
	bool open;
	char *target, *ordinal, *domain, *name, *tlsa_name;
	bool judged;	 /* the scan judged its DANE (domain_mx.dane set) */
	bool address_ok; /* address_outcome 'ok' */
	bool looked_up;
	bool tlsa_secure, tlsa_bogus;
	struct verify_tlsa rec[VERIFY_MAX_TLSA];
	size_t nrec;
	/* The DANE judgement over the endpoints seen so far, built as the
	 * scan builds it (verify_dane_host_*). */
	struct verify_dane_host dane;
};

struct rv {
	PGconn *c;
	const struct reverify_opts *o;
	char cid[24], sid[24];
	struct jbuf rows;
	struct reverify_summary *sum;
	int64_t total_ep, total_mx, done_ep, done_mx;
	time_t next_progress;
	unsigned fetch_rows;
	char fetch_ep[64], fetch_mx[64]; /* the FETCH statements */
	struct ep ep;
	struct host host;
};

static void chain_clear(struct chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		PQfreemem((void *)ch->der[i].data);
	ch->n = 0;
}

/* Adds the certificate in row i, column col (bytea text form). 0 or
 * -ENOMEM. */
static int chain_add(struct chain *ch, PGresult *r, int i, int col)
{
	size_t len;
	unsigned char *der;

	if (PQgetisnull(r, i, col) || ch->n == VERIFY_MAX_CHAIN)
		return 0; /* no certificate row for a hash; over the cap */
	der =
	    PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, col), &len);
	if (!der)
		return -ENOMEM;
	ch->der[ch->n++] = (struct verify_der){ der, len };
	return 0;
}

static char *dup_value(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? NULL : strdup(PQgetvalue(r, i, col));
}

static bool same(const char *a, PGresult *r, int i, int col)
{
	if (PQgetisnull(r, i, col))
		return a == NULL;
	return a && strcmp(a, PQgetvalue(r, i, col)) == 0;
}

static bool bool_value(PGresult *r, int i, int col)
{
	return !PQgetisnull(r, i, col) && PQgetvalue(r, i, col)[0] == 't';
}

static void ep_clear(struct ep *e)
{
	chain_clear(&e->chain);
	free(e->ip);
	free(e->port);
	free(e->sni);
	e->ip = e->port = e->sni = NULL;
	e->open = false;
}

static void host_clear(struct host *h)
{
	for (size_t i = 0; i < h->nrec; i++)
		free((void *)h->rec[i].data);
	free(h->target);
	free(h->ordinal);
	free(h->domain);
	free(h->name);
	free(h->tlsa_name);
	memset(h, 0, sizeof *h);
}

/* Sends rv->rows into `table` with one COPY. 0, the rows' buffer's
 * error (jbuf_error()), or -EIO (PostgreSQL's message printed). */
static int copy_rows(struct rv *rv, const char *sql)
{
	PGresult *r;
	int rc = 0;

	if (rv->rows.failed)
		return jbuf_error(&rv->rows);
	if (rv->rows.len == 0)
		return 0;
	r = PQexec(rv->c, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		log_error("reverify: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -EIO;
	}
	PQclear(r);
	if (PQputCopyData(rv->c, rv->rows.data, (int)rv->rows.len) != 1 ||
	    PQputCopyEnd(rv->c, NULL) != 1)
		rc = -EIO;
	while ((r = PQgetResult(rv->c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("reverify: storing verdicts: %s",
				  PQresultErrorMessage(r));
			rc = -EIO;
		}
		PQclear(r);
	}
	jbuf_reset(&rv->rows);
	return rc;
}

static void progress(struct rv *rv, bool last)
{
	time_t now = time(NULL);

	if (!rv->o->progress || (!last && now < rv->next_progress))
		return;
	rv->next_progress = now + (time_t)rv->o->progress_seconds;
	fprintf(rv->o->progress,
		"reverify: endpoints %" PRId64 "/%" PRId64 ", MX hosts %" PRId64
		"/%" PRId64 "%s\n",
		rv->done_ep, rv->total_ep, rv->done_mx, rv->total_mx,
		last ? ", done" : "");
	fflush(rv->o->progress);
}

/* Runs `sql` (a FETCH) and returns its rows, or NULL (printed). */
static PGresult *fetch(struct rv *rv, const char *sql)
{
	return db_exec(rv->c, PGRES_TUPLES_OK, "reverify: reading", sql, 0,
		       NULL);
}

/* ---- endpoints (probe.c endpoint_row) --------------------------------- */

static void endpoint_done(struct rv *rv)
{
	struct ep *e = &rv->ep;
	struct jbuf *b = &rv->rows;
	struct verify_result vr;

	if (!e->open)
		return;
	const char *key[] = { rv->cid, rv->sid, e->ip, e->port, e->sni };
	copy_strs(b, key, sizeof key / sizeof *key);
	if (e->chain.n &&
	    verify_chain(rv->o->verify, e->chain.der, e->chain.n, rv->o->at,
			 e->sni, NULL, &vr) == VERIFY_OK) {
		verdict_copy(b, &vr);
		rv->sum->chains++;
	} else {
		verdict_copy(b, NULL);
	}
	copy_row_end(b);
	rv->done_ep++;
	ep_clear(e);
}

static int endpoints_pass(struct rv *rv)
{
	const char *p[1] = { rv->cid };
	PGresult *r;
	int rc = 0;

	/* One row per presented certificate, leaf first; one row with a
	 * NULL certificate for an endpoint without a chain. */
	r = db_exec(rv->c, PGRES_COMMAND_OK, "reverify: reading endpoints",
		    "DECLARE rv_ep NO SCROLL CURSOR FOR "
		    "SELECT host(e.ip), e.port, e.sni, c.der "
		    "FROM endpoint e "
		    "LEFT JOIN LATERAL unnest(e.chain) WITH ORDINALITY "
		    "AS h (sha256, k) ON true "
		    "LEFT JOIN certificate c ON c.sha256 = h.sha256 "
		    "WHERE e.campaign_id = $1::bigint "
		    "ORDER BY e.ip, e.port, e.sni, h.k",
		    1, p);
	if (!r)
		return -EIO;
	PQclear(r);
	for (;;) {
		r = fetch(rv, rv->fetch_ep);
		if (!r)
			return -EIO;
		int n = PQntuples(r);
		for (int i = 0; i < n && rc == 0; i++) {
			struct ep *e = &rv->ep;
			if (!e->open || !same(e->ip, r, i, 0) ||
			    !same(e->port, r, i, 1) || !same(e->sni, r, i, 2)) {
				endpoint_done(rv);
				e->ip = dup_value(r, i, 0);
				e->port = dup_value(r, i, 1);
				e->sni = dup_value(r, i, 2);
				e->open = true;
				if (!e->ip || !e->port || !e->sni)
					rc = -ENOMEM;
			}
			if (rc == 0)
				rc = chain_add(&e->chain, r, i, 3);
		}
		PQclear(r);
		if (rc != 0)
			return rc;
		if ((unsigned)n < rv->fetch_rows)
			endpoint_done(rv);
		rc = copy_rows(rv, "COPY endpoint_judgement (campaign_id, "
				   "judgement_set_id, ip, port, sni, trusted, "
				   "verify_errors, missing_intermediate, "
				   "name_matches_mx, cn_only, weak, "
				   "valid_ignoring_strength) FROM STDIN");
		if (rc != 0)
			return rc;
		progress(rv, false);
		if ((unsigned)n < rv->fetch_rows)
			break;
	}
	r = db_exec(rv->c, PGRES_COMMAND_OK, "reverify", "CLOSE rv_ep", 0,
		    NULL);
	PQclear(r);
	return r ? 0 : -EIO;
}

/* ---- domains (probe.c write_domain_endpoints, host_dane) -------------- */

/* Columns of the domain cursor. */
enum {
	D_TARGET,
	D_ORDINAL,
	D_DOMAIN,
	D_HOST,
	D_JUDGED,
	D_ADDRESS_OK,
	D_LOOKED_UP,
	D_TLSA_NAME,
	D_TLSA_DNSSEC,
	D_TLSA_RECORDS,
	D_IP,
	D_PORT,
	D_SNI,
	D_STARTTLS_OK,
	D_DER,
};

/* Starts host h from row i: its facts and its TLSA records. 0 or
 * -ENOMEM. */
static int host_open(struct rv *rv, PGresult *r, int i)
{
	struct host *h = &rv->host;
	const char *dnssec = PQgetvalue(r, i, D_TLSA_DNSSEC);

	h->open = true;
	h->target = dup_value(r, i, D_TARGET);
	h->ordinal = dup_value(r, i, D_ORDINAL);
	h->domain = dup_value(r, i, D_DOMAIN);
	h->name = dup_value(r, i, D_HOST);
	h->tlsa_name = dup_value(r, i, D_TLSA_NAME);
	if (!h->target || !h->ordinal || !h->domain || !h->name ||
	    (!h->tlsa_name && !PQgetisnull(r, i, D_TLSA_NAME)))
		return -ENOMEM;
	h->judged = bool_value(r, i, D_JUDGED);
	h->address_ok = bool_value(r, i, D_ADDRESS_OK);
	h->looked_up = bool_value(r, i, D_LOOKED_UP);
	h->tlsa_secure = strcmp(dnssec, "secure") == 0;
	h->tlsa_bogus = strcmp(dnssec, "bogus") == 0;

	/* "u s m hex,u s m hex,...": array_to_string of the stored records,
	 * whose elements never hold a comma. */
	const char *s = PQgetvalue(r, i, D_TLSA_RECORDS);
	while (*s && h->nrec < VERIFY_MAX_TLSA) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		uint8_t *buf = malloc(len / 2 + 1);
		if (!buf)
			return -ENOMEM;
		if (reverify_tlsa_parse(s, len, buf, len / 2 + 1,
					&h->rec[h->nrec]) == REVERIFY_OK) {
			h->nrec++;
		} else {
			/* probe.c stores only records that parsed. */
			free(buf);
			rv->sum->bad_tlsa++;
		}
		s = end ? end + 1 : s + len;
	}
	verify_dane_host_init(&h->dane, h->looked_up, h->tlsa_secure,
			      h->tlsa_bogus, h->rec, h->nrec);
	return 0;
}

static void copy_dane(struct jbuf *b, enum verify_dane_outcome o)
{
	copy_str(b, verify_dane_outcome_str(o));
	copy_field(b);
	copy_str(b, verify_dane_result_type(o));
}

static void domain_endpoint_done(struct rv *rv)
{
	struct host *h = &rv->host;
	struct ep *e = &rv->ep;
	struct jbuf *b = &rv->rows;
	struct verify_result vr;
	enum verify_dane_outcome ep_dane = VERIFY_DANE_NONE;

	if (!e->open)
		return;
	if (e->chain.n && h->nrec && h->tlsa_name) {
		const char *refs[2];
		size_t nref = verify_dane_refs(h->tlsa_name, h->name, refs);
		struct verify_dane_result dr;
		if (verify_dane(rv->o->verify, e->chain.der, e->chain.n,
				rv->o->at, refs, nref, h->rec, h->nrec,
				&dr) == VERIFY_OK)
			ep_dane = dr.outcome;
	}
	const char *key[] = { rv->cid, rv->sid, h->target, h->ordinal,
			      e->ip,   e->port, e->sni };
	copy_strs(b, key, sizeof key / sizeof *key);
	/* The name check against the domain looks at the leaf alone. */
	if (e->chain.n &&
	    verify_chain(rv->o->verify, e->chain.der, 1, rv->o->at, NULL,
			 h->domain, &vr) == VERIFY_OK)
		copy_bool(b, vr.name_matches_domain);
	else
		copy_null(b);
	copy_field(b);
	copy_dane(b, verify_dane_host_endpoint(&h->dane, e->starttls_ok,
					       ep_dane == VERIFY_DANE_OK));
	copy_row_end(b);
	rv->sum->domain_endpoints++;
	ep_clear(e);
}

static void host_done(struct rv *rv, struct jbuf *mx)
{
	struct host *h = &rv->host;

	if (!h->open)
		return;
	domain_endpoint_done(rv);
	const char *key[] = { rv->cid, rv->sid, h->target, h->ordinal };
	copy_strs(mx, key, sizeof key / sizeof *key);
	if (h->judged) {
		copy_dane(mx,
			  verify_dane_host_outcome(&h->dane, h->address_ok));
	} else {
		copy_null(mx);
		copy_field(mx);
		copy_null(mx);
	}
	copy_row_end(mx);
	rv->done_mx++;
	host_clear(h);
}

static int domains_pass(struct rv *rv)
{
	const char *p[1] = { rv->cid };
	struct jbuf mx;
	PGresult *r;
	int rc = 0;

	/* Per domain_mx row, its endpoints and their certificates: the
	 * whole chain where the host has TLSA records, else the leaf. */
	r = db_exec(
	    rv->c, PGRES_COMMAND_OK, "reverify: reading MX hosts",
	    "DECLARE rv_mx NO SCROLL CURSOR FOR "
	    "SELECT m.target_id, m.ordinal, d.domain, m.host, "
	    "m.dane IS NOT NULL, m.address_outcome IS NOT DISTINCT FROM 'ok', "
	    "m.tlsa_looked_up, m.tlsa_name, coalesce(m.tlsa_dnssec, ''), "
	    "array_to_string(m.tlsa_records, ','), "
	    "host(de.ip), de.port, de.sni, "
	    "coalesce(e.outcome = 'starttls_ok' AND e.tls_version IS NOT NULL, "
	    "false), c.der "
	    "FROM domain_mx m "
	    "JOIN domain_dns d ON d.campaign_id = m.campaign_id "
	    "AND d.target_id = m.target_id "
	    "LEFT JOIN domain_endpoint de ON de.campaign_id = m.campaign_id "
	    "AND de.target_id = m.target_id AND de.ordinal = m.ordinal "
	    "LEFT JOIN endpoint e ON e.campaign_id = de.campaign_id "
	    "AND e.ip = de.ip AND e.port = de.port AND e.sni = de.sni "
	    "LEFT JOIN LATERAL unnest(e.chain) WITH ORDINALITY AS h (sha256, k) "
	    "ON cardinality(m.tlsa_records) > 0 OR h.k = 1 "
	    "LEFT JOIN certificate c ON c.sha256 = h.sha256 "
	    "WHERE m.campaign_id = $1::bigint "
	    "ORDER BY m.target_id, m.ordinal, de.ip, de.port, de.sni, h.k",
	    1, p);
	if (!r)
		return -EIO;
	PQclear(r);
	jbuf_init(&mx, REVERIFY_ROWS_MAX);
	for (;;) {
		r = fetch(rv, rv->fetch_mx);
		if (!r) {
			jbuf_free(&mx);
			return -EIO;
		}
		int n = PQntuples(r);
		for (int i = 0; i < n && rc == 0; i++) {
			struct host *h = &rv->host;
			struct ep *e = &rv->ep;
			if (!h->open || !same(h->target, r, i, D_TARGET) ||
			    !same(h->ordinal, r, i, D_ORDINAL)) {
				host_done(rv, &mx);
				rc = host_open(rv, r, i);
				if (rc != 0)
					break;
			}
			if (PQgetisnull(r, i, D_IP))
				continue; /* no endpoint contacted */
			if (!e->open || !same(e->ip, r, i, D_IP) ||
			    !same(e->port, r, i, D_PORT) ||
			    !same(e->sni, r, i, D_SNI)) {
				domain_endpoint_done(rv);
				e->ip = dup_value(r, i, D_IP);
				e->port = dup_value(r, i, D_PORT);
				e->sni = dup_value(r, i, D_SNI);
				e->starttls_ok =
				    bool_value(r, i, D_STARTTLS_OK);
				e->open = true;
				if (!e->ip || !e->port || !e->sni)
					rc = -ENOMEM;
			}
			if (rc == 0)
				rc = chain_add(&e->chain, r, i, D_DER);
		}
		PQclear(r);
		if (rc != 0)
			break;
		if ((unsigned)n < rv->fetch_rows)
			host_done(rv, &mx);
		rc = copy_rows(rv,
			       "COPY domain_endpoint_judgement (campaign_id, "
			       "judgement_set_id, target_id, ordinal, ip, "
			       "port, sni, name_matches_domain, dane, "
			       "dane_result_type) FROM STDIN");
		if (rc != 0)
			break;
		/* The host rows go through the same COPY helper. */
		struct jbuf tmp = rv->rows;
		rv->rows = mx;
		mx = tmp;
		rc =
		    copy_rows(rv, "COPY domain_mx_judgement (campaign_id, "
				  "judgement_set_id, target_id, ordinal, dane, "
				  "dane_result_type) FROM STDIN");
		tmp = rv->rows;
		rv->rows = mx;
		mx = tmp;
		if (rc != 0)
			break;
		progress(rv, false);
		if ((unsigned)n < rv->fetch_rows)
			break;
	}
	jbuf_free(&mx);
	if (rc != 0)
		return rc;
	r = db_exec(rv->c, PGRES_COMMAND_OK, "reverify", "CLOSE rv_mx", 0,
		    NULL);
	PQclear(r);
	return r ? 0 : -EIO;
}

/* ---- what changed ----------------------------------------------------- */

static int64_t int_value(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col)
		   ? 0
		   : strtoll(PQgetvalue(r, i, col), NULL, 10);
}

/* Counts the changes against the scan's own verdicts and prints them.
 * 0 or -EIO. */
static int summarise(struct rv *rv, FILE *out)
{
	const char *p[2] = { rv->cid, rv->sid };
	struct reverify_summary *s = rv->sum;
	PGresult *r;

	r = db_exec(
	    rv->c, PGRES_TUPLES_OK, "reverify: counting changes",
	    "SELECT count(*), count(*) FILTER (WHERE e.trusted), "
	    "count(*) FILTER (WHERE j.trusted), "
	    "count(*) FILTER (WHERE e.trusted AND NOT j.trusted), "
	    "count(*) FILTER (WHERE NOT e.trusted AND j.trusted), "
	    "count(*) FILTER (WHERE "
	    "e.missing_intermediate IS DISTINCT FROM j.missing_intermediate "
	    "OR e.name_matches_mx IS DISTINCT FROM j.name_matches_mx "
	    "OR e.cn_only IS DISTINCT FROM j.cn_only "
	    "OR e.weak IS DISTINCT FROM j.weak "
	    "OR e.valid_ignoring_strength IS DISTINCT FROM "
	    "j.valid_ignoring_strength) "
	    "FROM endpoint e JOIN endpoint_judgement j "
	    "ON j.campaign_id = e.campaign_id AND j.judgement_set_id = $2 "
	    "AND j.ip = e.ip AND j.port = e.port AND j.sni = e.sni "
	    "WHERE e.campaign_id = $1::bigint",
	    2, p);
	if (!r)
		return -EIO;
	s->endpoints = int_value(r, 0, 0);
	s->trusted_before = int_value(r, 0, 1);
	s->trusted_after = int_value(r, 0, 2);
	s->trusted_lost = int_value(r, 0, 3);
	s->trusted_gained = int_value(r, 0, 4);
	s->other_cert_changed = int_value(r, 0, 5);
	PQclear(r);

	fprintf(out,
		"judgement set %s of campaign %s: %" PRId64
		" endpoints, %" PRId64 " with a judged chain\n"
		"trusted: %" PRId64 " in the scan, %" PRId64 " now "
		"(true->false %" PRId64 ", false->true %" PRId64 ")\n",
		rv->sid, rv->cid, s->endpoints, s->chains, s->trusted_before,
		s->trusted_after, s->trusted_lost, s->trusted_gained);
	r = db_exec(rv->c, PGRES_TUPLES_OK, "reverify: counting changes",
		    "SELECT coalesce(j.verify_errors[1], '(none)'), count(*) "
		    "FROM endpoint e JOIN endpoint_judgement j "
		    "ON j.campaign_id = e.campaign_id "
		    "AND j.judgement_set_id = $2 AND j.ip = e.ip "
		    "AND j.port = e.port AND j.sni = e.sni "
		    "WHERE e.campaign_id = $1::bigint AND e.trusted "
		    "AND NOT j.trusted GROUP BY 1 ORDER BY 2 DESC, 1",
		    2, p);
	if (!r)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++)
		fprintf(out, "  true->false, first error %s: %s\n",
			PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	fprintf(out,
		"other certificate facts changed (missing intermediate, "
		"names, weak): %" PRId64 "\n",
		s->other_cert_changed);

	r = db_exec(rv->c, PGRES_TUPLES_OK, "reverify: counting changes",
		    "SELECT coalesce(m.dane, '(none)'), "
		    "coalesce(j.dane, '(none)'), count(*) "
		    "FROM domain_mx m JOIN domain_mx_judgement j "
		    "ON j.campaign_id = m.campaign_id "
		    "AND j.judgement_set_id = $2 "
		    "AND j.target_id = m.target_id AND j.ordinal = m.ordinal "
		    "WHERE m.campaign_id = $1::bigint "
		    "AND m.dane IS DISTINCT FROM j.dane "
		    "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
		    2, p);
	if (!r)
		return -EIO;
	s->dane_changed = 0;
	for (int i = 0; i < PQntuples(r); i++)
		s->dane_changed += int_value(r, i, 2);
	fprintf(out,
		"MX hosts of domains: %" PRId64
		", DANE outcome changed: %" PRId64 "\n",
		s->domain_mx, s->dane_changed);
	for (int i = 0; i < PQntuples(r); i++)
		fprintf(out, "  %s->%s: %s\n", PQgetvalue(r, i, 0),
			PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
	PQclear(r);
	if (s->bad_tlsa)
		fprintf(out,
			"stored TLSA records that did not parse (ignored): "
			"%" PRId64 "\n",
			s->bad_tlsa);
	return 0;
}

/* ---- the run ------------------------------------------------------------ */

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = db_exec(c, PGRES_COMMAND_OK, "reverify", sql, 0, NULL);
	PQclear(r);
	return r ? 0 : -EIO;
}

int reverify_run(PGconn *c, const struct reverify_opts *o,
		 struct reverify_summary *sum, FILE *out)
{
	struct rv rv;
	char at[32];
	PGresult *r;
	int rc;

	memset(sum, 0, sizeof *sum);
	memset(&rv, 0, sizeof rv);
	rv.c = c;
	rv.o = o;
	rv.sum = sum;
	snprintf(rv.cid, sizeof rv.cid, "%" PRId64, o->campaign_id);
	snprintf(at, sizeof at, "%" PRId64, (int64_t)o->at);
	rv.fetch_rows = o->fetch_rows ? o->fetch_rows : REVERIFY_FETCH_DEFAULT;
	if (rv.fetch_rows > REVERIFY_FETCH_MAX)
		rv.fetch_rows = REVERIFY_FETCH_MAX;
	/* A number of our own: FETCH takes no parameter. */
	snprintf(rv.fetch_ep, sizeof rv.fetch_ep, "FETCH %u FROM rv_ep",
		 rv.fetch_rows);
	snprintf(rv.fetch_mx, sizeof rv.fetch_mx, "FETCH %u FROM rv_mx",
		 rv.fetch_rows);
	jbuf_init(&rv.rows, REVERIFY_ROWS_MAX);

	rc = exec_ok(c, "BEGIN");
	if (rc != 0)
		goto fail;
	const char *p[6] = { rv.cid, o->ca_file,      o->ca_sha256_hex,
			     at,     MXCRAWL_VERSION, o->note };
	r = db_exec(c, PGRES_TUPLES_OK, "reverify: creating the judgement set",
		    "INSERT INTO judgement_set (campaign_id, ca_file, "
		    "ca_sha256, at_time, tool_version, note) "
		    "VALUES ($1::bigint, $2, decode($3, 'hex'), "
		    "to_timestamp($4::double precision), $5, $6) "
		    "RETURNING id, (SELECT count(*) FROM endpoint "
		    "WHERE campaign_id = $1::bigint), "
		    "(SELECT count(*) FROM domain_mx "
		    "WHERE campaign_id = $1::bigint)",
		    6, p);
	rc = -EIO;
	if (!r)
		goto fail;
	snprintf(rv.sid, sizeof rv.sid, "%s", PQgetvalue(r, 0, 0));
	sum->set_id = strtoll(rv.sid, NULL, 10);
	rv.total_ep = int_value(r, 0, 1);
	rv.total_mx = int_value(r, 0, 2);
	PQclear(r);
	rv.next_progress = time(NULL) + (time_t)o->progress_seconds;

	rc = endpoints_pass(&rv);
	if (rc == 0)
		rc = domains_pass(&rv);
	if (rc != 0)
		goto fail;
	sum->domain_mx = rv.done_mx;
	progress(&rv, true);
	rc = summarise(&rv, out);
	if (rc == 0)
		rc = exec_ok(c, "COMMIT");
	if (rc != 0)
		goto fail;
	jbuf_free(&rv.rows);
	return 0;
fail:
	ep_clear(&rv.ep);
	host_clear(&rv.host);
	jbuf_free(&rv.rows);
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}
