/*
 * The real probe (crawler/scan/probe.c) against a scripted resolver on a
 * virtual clock: answers are DNS messages built here and parsed by
 * dns_wire.c, delivered in the script's order. The SMTP stage and the
 * policy fetch are off (their order is tested on the state machine in
 * test_probe.c); what is checked is the DNS stage as the probe runs it:
 * which questions it asks after which answer, that it finishes exactly
 * once after the last answer, and the domain's rows (outcome, MX hosts,
 * their address outcome, TLSA looked up, the question count).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/scan/probe.h"
#include "unit.h"

#define DOMAIN "example.test"
/* The scripted resolver's deadline: an answer scripted later than this
 * is delivered as RESOLVER_TIMEOUT at the deadline, as the real one
 * does, and never afterwards. */
#define SRES_TIMEOUT_MS 5000
#define SRES_DEFAULT_MS 10
#define SRES_MAX_PENDING 64
#define SRES_PKT_MAX 2048
#define SRES_TRACE_MAX 2048
/* Bytes a table's rows may take in this test. */
#define OUT_MAX (1u << 20)

/* One scripted answer: rcode and records ("TYPE owner data"), or a
 * timeout. A question the script does not name gets NOERROR, no records,
 * insecure, after SRES_DEFAULT_MS. */
struct sres_line {
	const char *q; /* "MX example.test" */
	unsigned delay;
	int rcode; /* -1: timeout */
	enum dnssec_status st;
	const char *rr[4]; /* "MX example.test 10 mx1.example.test", ... */
};

struct sres_pending {
	uint64_t at;
	unsigned seq;
	char q[300];
	const struct sres_line *line;
	resolver_cb cb;
	void *arg;
};

struct sres {
	const struct sres_line *script;
	uint64_t now, last_trace;
	unsigned seq;
	struct sres_pending pend[SRES_MAX_PENDING];
	size_t npend;
	char trace[SRES_TRACE_MAX];
	int done; /* the probe's done callback ran this many times */
	uint64_t done_at;
	struct probe_counts delta;
	struct dns_msg msg;
	uint8_t pkt[SRES_PKT_MAX];
	size_t len;
};

static void sres_trace(struct sres *r, const char *word)
{
	size_t len = strlen(r->trace);

	if (r->last_trace != r->now || len == 0) {
		snprintf(r->trace + len, sizeof r->trace - len, "%s@%llu",
			 len ? " " : "", (unsigned long long)r->now);
		len = strlen(r->trace);
		r->last_trace = r->now;
	}
	snprintf(r->trace + len, sizeof r->trace - len, " %s", word);
}

static int sres_query(void *ctx, const char *name, uint16_t qtype,
		      resolver_cb cb, void *arg)
{
	struct sres *r = ctx;
	struct sres_pending *p;
	const struct sres_line *line = NULL;

	if (r->npend == SRES_MAX_PENDING)
		return -1;
	p = &r->pend[r->npend++];
	*p = (struct sres_pending){ .seq = r->seq++, .cb = cb, .arg = arg };
	snprintf(p->q, sizeof p->q, "%s %s", dns_type_str(qtype), name);
	for (const struct sres_line *l = r->script; l && l->q; l++)
		if (strcmp(l->q, p->q) == 0)
			line = l;
	p->line = line;
	unsigned delay = line ? line->delay : SRES_DEFAULT_MS;
	p->at = r->now + (delay > SRES_TIMEOUT_MS ? SRES_TIMEOUT_MS : delay);
	sres_trace(r, p->q);
	return 0;
}

/* ---- building answers ------------------------------------------------ */

static void put8(struct sres *r, unsigned v)
{
	if (r->len < SRES_PKT_MAX)
		r->pkt[r->len++] = (uint8_t)v;
}

static void put16(struct sres *r, unsigned v)
{
	put8(r, v >> 8);
	put8(r, v & 0xff);
}

static void put_name(struct sres *r, const char *name)
{
	while (*name && strcmp(name, ".") != 0) {
		size_t n = strcspn(name, ".");
		put8(r, (unsigned)n);
		for (size_t i = 0; i < n; i++)
			put8(r, (uint8_t)name[i]);
		name += n;
		if (*name == '.')
			name++;
	}
	put8(r, 0);
}

/* Appends one answer record from "TYPE owner data". */
static void put_rr(struct sres *r, const char *text)
{
	char type[16], owner[256], data[256];
	uint8_t bin[16];

	data[0] = 0;
	if (sscanf(text, "%15s %255s %255[^\n]", type, owner, data) < 2) {
		unit_fail(__FILE__, __LINE__, "bad record \"%s\"", text);
		return;
	}
	put_name(r, owner);
	uint16_t t = !strcmp(type, "MX")      ? DNS_TYPE_MX
		     : !strcmp(type, "CNAME") ? DNS_TYPE_CNAME
		     : !strcmp(type, "A")     ? DNS_TYPE_A
		     : !strcmp(type, "AAAA")  ? DNS_TYPE_AAAA
		     : !strcmp(type, "TLSA")  ? DNS_TYPE_TLSA
		     : !strcmp(type, "SRV")   ? DNS_TYPE_SRV
					      : DNS_TYPE_TXT;
	put16(r, t);
	put16(r, DNS_CLASS_IN);
	put16(r, 0);
	put16(r, 300);
	size_t at = r->len;
	put16(r, 0);
	if (t == DNS_TYPE_MX) {
		unsigned pref = 0;
		char host[256];
		if (sscanf(data, "%u %255s", &pref, host) == 2) {
			put16(r, pref);
			put_name(r, host);
		}
	} else if (t == DNS_TYPE_CNAME) {
		put_name(r, data);
	} else if (t == DNS_TYPE_SRV) {
		unsigned prio, weight, port;
		char host[256];
		if (sscanf(data, "%u %u %u %255s", &prio, &weight, &port,
			   host) == 4) {
			put16(r, prio);
			put16(r, weight);
			put16(r, port);
			put_name(r, host);
		}
	} else if (t == DNS_TYPE_A || t == DNS_TYPE_AAAA) {
		int af = t == DNS_TYPE_A ? AF_INET : AF_INET6;
		if (inet_pton(af, data, bin) == 1)
			for (size_t i = 0; i < (t == DNS_TYPE_A ? 4u : 16u);
			     i++)
				put8(r, bin[i]);
	} else if (t == DNS_TYPE_TLSA) {
		unsigned u, s, m;
		char hex[200];
		if (sscanf(data, "%u %u %u %199s", &u, &s, &m, hex) == 4) {
			put8(r, u);
			put8(r, s);
			put8(r, m);
			for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
				unsigned v;
				sscanf(hex + i, "%2x", &v);
				put8(r, v);
			}
		}
	} else {
		put8(r, (unsigned)strlen(data));
		for (size_t i = 0; data[i]; i++)
			put8(r, (uint8_t)data[i]);
	}
	size_t n = r->len - at - 2;
	r->pkt[at] = (uint8_t)(n >> 8);
	r->pkt[at + 1] = (uint8_t)n;
}

/* Delivers the earliest pending answer; false when none is left. */
static bool sres_deliver(struct sres *r)
{
	struct resolver_answer a = { 0 };
	size_t next = 0;

	if (r->npend == 0)
		return false;
	for (size_t i = 1; i < r->npend; i++)
		if (r->pend[i].at < r->pend[next].at ||
		    (r->pend[i].at == r->pend[next].at &&
		     r->pend[i].seq < r->pend[next].seq))
			next = i;
	struct sres_pending p = r->pend[next];
	r->pend[next] = r->pend[--r->npend];
	r->now = p.at;

	const struct sres_line *l = p.line;
	unsigned delay = l ? l->delay : SRES_DEFAULT_MS;
	a.ede_text = "";
	a.elapsed_ms = delay > SRES_TIMEOUT_MS ? SRES_TIMEOUT_MS : delay;
	if ((l && l->rcode < 0) || delay > SRES_TIMEOUT_MS) {
		a.rc = RESOLVER_TIMEOUT;
		a.rcode = -1;
		a.dnssec = DNSSEC_INDETERMINATE;
	} else {
		char qtype[16], qname[256];
		size_t an = 0;
		sscanf(p.q, "%15s %255s", qtype, qname);
		while (l && an < 4 && l->rr[an])
			an++;
		r->len = 0;
		put16(r, 0x1234);
		put16(r, 0x8180 | (l ? (unsigned)l->rcode : 0));
		put16(r, 1);
		put16(r, (unsigned)an);
		put16(r, 0);
		put16(r, 0);
		put_name(r, qname);
		put16(r, !strcmp(qtype, "MX")	  ? DNS_TYPE_MX
			 : !strcmp(qtype, "A")	  ? DNS_TYPE_A
			 : !strcmp(qtype, "AAAA") ? DNS_TYPE_AAAA
			 : !strcmp(qtype, "TLSA") ? DNS_TYPE_TLSA
			 : !strcmp(qtype, "SRV")  ? DNS_TYPE_SRV
						  : DNS_TYPE_TXT);
		put16(r, DNS_CLASS_IN);
		for (size_t i = 0; i < an; i++)
			put_rr(r, l->rr[i]);
		if (dns_msg_parse(r->pkt, r->len, &r->msg) != DNS_OK) {
			unit_fail(__FILE__, __LINE__, "unparsable answer to %s",
				  p.q);
			return false;
		}
		a.rc = RESOLVER_OK;
		a.rcode = r->msg.rcode;
		a.dnssec = l ? l->st : DNSSEC_INSECURE;
		a.pkt = r->pkt;
		a.len = r->len;
		a.msg = &r->msg;
	}
	p.cb(p.arg, &a);
	return true;
}

static void on_done(void *arg, const struct probe_counts *delta)
{
	struct sres *r = arg;

	r->done++;
	r->done_at = r->now;
	r->delta = *delta;
}

/* Field `col` of row `row` of a table's COPY text, into out. */
static const char *field(const struct jbuf *b, size_t row, size_t col,
			 char *out, size_t n)
{
	const char *s = b->data ? b->data : "";
	const char *end = s + b->len;

	for (size_t i = 0; i < row && s < end; i++) {
		s = memchr(s, '\n', (size_t)(end - s));
		s = s ? s + 1 : end;
	}
	for (size_t i = 0; i < col && s < end; i++) {
		const char *t = memchr(s, '\t', (size_t)(end - s));
		s = t ? t + 1 : end;
	}
	size_t len = strcspn(s, "\t\n");
	if (s >= end)
		len = 0;
	if (len >= n)
		len = n - 1;
	memcpy(out, s, len);
	out[len] = 0;
	return s >= end ? NULL : out;
}

static size_t rows(const struct jbuf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

/* An MX host's row, as checked: name, address outcome, TLSA looked up,
 * partial ("t", "f", or "\\N" for not kept). */
struct want_mx {
	const char *name, *outcome, *tlsa, *partial;
};

struct dns_case {
	const char *name;
	struct sres_line script[12];
	const char *trace;
	uint64_t done_at;
	const char *mx_outcome, *mx_count, *apex_cname, *queries;
	struct want_mx mx[3];
};

#define SEC DNSSEC_SECURE
#define INS DNSSEC_INSECURE
#define Q3 "@0 MX " DOMAIN " TXT _mta-sts." DOMAIN " TXT _smtp._tls." DOMAIN
#define TLSA_HEX "3 1 1 0123456789abcdef0123456789abcdef"

static const struct dns_case cases[] = {
	{ "mx-secure",
	  { { "MX " DOMAIN,
	      10,
	      0,
	      SEC,
	      { "MX " DOMAIN " 10 mx1." DOMAIN,
		"MX " DOMAIN " 20 mx2." DOMAIN } },
	    { "A mx1." DOMAIN, 10, 0, SEC, { "A mx1." DOMAIN " 127.0.0.25" } },
	    { "AAAA mx1." DOMAIN, 10, 0, SEC, { NULL } },
	    { "A mx2." DOMAIN, 10, 0, SEC, { "A mx2." DOMAIN " 127.0.0.26" } },
	    { "AAAA mx2." DOMAIN, 30, 0, SEC, { NULL } },
	    { "TLSA _25._tcp.mx1." DOMAIN,
	      10,
	      0,
	      SEC,
	      { "TLSA _25._tcp.mx1." DOMAIN " " TLSA_HEX } } },
	  Q3 " @10 A mx1." DOMAIN " AAAA mx1." DOMAIN " A mx2." DOMAIN
	     " AAAA mx2." DOMAIN " @20 TLSA _25._tcp.mx1." DOMAIN
	     " @40 TLSA _25._tcp.mx2." DOMAIN,
	  50,
	  "mx",
	  "2",
	  "{}",
	  "9",
	  { { "mx1." DOMAIN, "ok", "t", "f" },
	    { "mx2." DOMAIN, "ok", "t", "f" } } },
	/* Secure addresses behind an insecure MX RRset: no TLSA (RFC 7672
	 * §2.2.2 wants the whole path secure). */
	{ "mx-insecure",
	  { { "MX " DOMAIN, 10, 0, INS, { "MX " DOMAIN " 10 mx1." DOMAIN } },
	    { "A mx1." DOMAIN, 10, 0, SEC, { "A mx1." DOMAIN " 127.0.0.25" } },
	    { "AAAA mx1." DOMAIN, 10, 0, SEC, { NULL } } },
	  Q3 " @10 A mx1." DOMAIN " AAAA mx1." DOMAIN,
	  20,
	  "mx",
	  "1",
	  "{}",
	  "5",
	  { { "mx1." DOMAIN, "ok", "f", "f" } } },
	{ "null-mx",
	  { { "MX " DOMAIN, 10, 0, SEC, { "MX " DOMAIN " 0 ." } } },
	  Q3,
	  10,
	  "null_mx",
	  "1",
	  "{}",
	  "3",
	  { { NULL, NULL, NULL, NULL } } },
	{ "nxdomain",
	  { { "MX " DOMAIN, 10, DNS_RCODE_NXDOMAIN, SEC, { NULL } } },
	  Q3,
	  10,
	  "no_domain",
	  "0",
	  "{}",
	  "3",
	  { { NULL, NULL, NULL, NULL } } },
	{ "servfail",
	  { { "MX " DOMAIN,
	      10,
	      DNS_RCODE_SERVFAIL,
	      DNSSEC_INDETERMINATE,
	      { NULL } },
	    { "TXT _smtp._tls." DOMAIN, 300, 0, INS, { NULL } } },
	  Q3,
	  300,
	  "dns_error",
	  "0",
	  "{}",
	  "3",
	  { { NULL, NULL, NULL, NULL } } },
	/* A CNAME at the apex and no MX at its end: the implicit MX is the
	 * CNAME's target (RFC 5321 §5.1), asked like any host. */
	{ "cname-apex",
	  { { "MX " DOMAIN,
	      10,
	      0,
	      INS,
	      { "CNAME " DOMAIN " mail.other.test" } },
	    { "A mail.other.test",
	      10,
	      0,
	      INS,
	      { "A mail.other.test 127.0.0.25" } } },
	  Q3 " @10 A mail.other.test AAAA mail.other.test",
	  20,
	  "implicit_mx",
	  "0",
	  "{\"mail.other.test\"}",
	  "5",
	  { { "mail.other.test", "ok", "f", "f" } } },
	/* The AAAA answer would come after the resolver's deadline: it is a
	 * timeout at the deadline, and the host is partial (its A answer
	 * had an address). Nothing waits for the late answer. */
	{ "late-aaaa",
	  { { "MX " DOMAIN, 10, 0, INS, { "MX " DOMAIN " 10 mx1." DOMAIN } },
	    { "A mx1." DOMAIN, 10, 0, INS, { "A mx1." DOMAIN " 127.0.0.25" } },
	    { "AAAA mx1." DOMAIN, 9000, 0, INS, { NULL } } },
	  Q3 " @10 A mx1." DOMAIN " AAAA mx1." DOMAIN,
	  5010,
	  "mx",
	  "1",
	  "{}",
	  "5",
	  { { "mx1." DOMAIN, "ok", "f", "t" } } },
	{ "late-mx",
	  { { "MX " DOMAIN,
	      7000,
	      0,
	      INS,
	      { "MX " DOMAIN " 10 mx1." DOMAIN } } },
	  Q3,
	  5000,
	  "dns_error",
	  "0",
	  "{}",
	  "3",
	  { { NULL, NULL, NULL, NULL } } },
};

UNIT_TEST(probe_dns_scripted)
{
	uv_loop_t loop;
	struct addr_policy *policy = addr_policy_new();
	const char *err = NULL;

	if (!policy || uv_loop_init(&loop) != 0) {
		CHECK(!"setup");
		addr_policy_free(policy);
		return;
	}
	CHECK_INT(addr_policy_allow(policy, "127.0.0.0/8", &err), 0, "allow");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct dns_case *c = &cases[i];
		struct sres *r = calloc(1, sizeof *r);
		struct jbuf out[TABLE_LAST];
		struct probe_env env = { 0 };
		char got[256];

		if (!r) {
			CHECK(r);
			break;
		}
		for (int t = 0; t < TABLE_LAST; t++)
			jbuf_init(&out[t], OUT_MAX);
		r->script = c->script;
		env.loop = &loop;
		env.query = sres_query;
		env.query_ctx = r;
		env.policy = policy;
		env.worker = "unit";
		env.campaign_id = 1;
		CHECK_INT(probe_start(&env, 7, DOMAIN, out, on_done, r), 0,
			  c->name);
		while (sres_deliver(r))
			;
		CHECK_STR(r->trace, c->trace, c->name);
		CHECK_INT(r->done, 1, c->name);
		CHECK_INT(r->done_at, c->done_at, c->name);
		CHECK_INT(rows(&out[TABLE_DOMAIN_DNS]), 1, c->name);
		CHECK_STR(field(&out[TABLE_DOMAIN_DNS], 0, 5, got, sizeof got),
			  c->mx_outcome, c->name);
		CHECK_STR(field(&out[TABLE_DOMAIN_DNS], 0, 6, got, sizeof got),
			  c->mx_count, c->name);
		CHECK_STR(field(&out[TABLE_DOMAIN_DNS], 0, 8, got, sizeof got),
			  c->apex_cname, c->name);
		CHECK_STR(field(&out[TABLE_DOMAIN_DNS], 0, 9, got, sizeof got),
			  c->queries, c->name);
		size_t nmx = 0;
		while (nmx < 3 && c->mx[nmx].name)
			nmx++;
		CHECK_INT(rows(&out[TABLE_DOMAIN_MX]), nmx, c->name);
		for (size_t k = 0; k < nmx; k++) {
			const struct want_mx *w = &c->mx[k];
			const struct jbuf *mx = &out[TABLE_DOMAIN_MX];
			CHECK_STR(field(mx, k, 4, got, sizeof got), w->name,
				  c->name);
			CHECK_STR(field(mx, k, 8, got, sizeof got), w->outcome,
				  c->name);
			CHECK_STR(field(mx, k, 11, got, sizeof got), w->tlsa,
				  c->name);
			CHECK_STR(field(mx, k, 18, got, sizeof got), w->partial,
				  c->name);
		}
		for (int t = 0; t < TABLE_LAST; t++)
			jbuf_free(&out[t]);
		free(r);
	}
	uv_loop_close(&loop);
	addr_policy_free(policy);
}

/*
 * SRV discovery (M12, env.client_srv): the six owners are asked with the
 * domain's first questions; records are kept sorted by priority, weight,
 * target (a "." among real targets kept without lookups, offered true;
 * a lone "." offered false; no record: NULL); each target's A and AAAA
 * go through the address policy (10.0.0.1 is refused: only 127/8 is
 * allowed here) and TLSA at _<port>._tcp.<target> is asked only for the
 * target whose SRV RRset and addresses are secure (RFC 7673 §3).
 */
#define SRV_IMAPS "_imaps._tcp." DOMAIN

UNIT_TEST(probe_dns_srv)
{
	static const struct sres_line script[] = {
		{ "SRV " SRV_IMAPS,
		  10,
		  0,
		  SEC,
		  { "SRV " SRV_IMAPS " 10 1 993 b." DOMAIN,
		    "SRV " SRV_IMAPS " 0 1 10993 a." DOMAIN,
		    "SRV " SRV_IMAPS " 10 9 993 ." } },
		/* The same target, through an insecure SRV RRset: its
		 * addresses are secure, yet no TLSA at _465 (RFC 7673 §3). */
		{ "SRV _submissions._tcp." DOMAIN,
		  10,
		  0,
		  INS,
		  { "SRV _submissions._tcp." DOMAIN " 0 1 465 a." DOMAIN } },
		{ "SRV _pop3._tcp." DOMAIN,
		  10,
		  0,
		  INS,
		  { "SRV _pop3._tcp." DOMAIN " 0 0 0 ." } },
		{ "SRV _submission._tcp." DOMAIN,
		  10,
		  DNS_RCODE_SERVFAIL,
		  DNSSEC_BOGUS,
		  { NULL } },
		{ "A a." DOMAIN, 10, 0, SEC, { "A a." DOMAIN " 127.0.0.30" } },
		{ "AAAA a." DOMAIN, 10, 0, SEC, { NULL } },
		{ "A b." DOMAIN, 10, 0, SEC, { "A b." DOMAIN " 10.0.0.1" } },
		{ "AAAA b." DOMAIN, 10, 0, INS, { NULL } },
		{ "TLSA _10993._tcp.a." DOMAIN,
		  10,
		  0,
		  SEC,
		  { "TLSA _10993._tcp.a." DOMAIN " " TLSA_HEX } },
		{ NULL, 0, 0, 0, { NULL } },
	};
	/* client_srv: service, srv, offered, record_count */
	static const char *const want_srv[6][4] = {
		{ "submissions", "records", "t", "1" },
		{ "submission", "dns_error", "\\N", "0" },
		{ "imaps", "records", "t", "3" },
		{ "imap", "none", "\\N", "0" },
		{ "pop3s", "none", "\\N", "0" },
		{ "pop3", "not_offered", "f", "1" },
	};
	/* client_srv_target: service, port, target, address_outcome,
	 * verdicts, tlsa_looked_up, tlsa_records */
	static const char *const want_tgt[5][7] = {
		{ "submissions", "465", "a." DOMAIN, "ok", "{\"ok\"}", "f",
		  "{}" },
		{ "imaps", "10993", "a." DOMAIN, "ok", "{\"ok\"}", "t",
		  "{\"" TLSA_HEX "\"}" },
		{ "imaps", "993", "b." DOMAIN, "refused_address",
		  "{\"reserved\"}", "f", "{}" },
		{ "imaps", "993", ".", "\\N", "{}", "f", "{}" },
		{ "pop3", "0", ".", "\\N", "{}", "f", "{}" },
	};
	uv_loop_t loop;
	struct addr_policy *policy = addr_policy_new();
	const char *err = NULL;
	struct sres *r = calloc(1, sizeof *r);
	struct jbuf out[TABLE_LAST];
	struct probe_env env = { 0 };
	char got[256];

	if (!policy || !r || uv_loop_init(&loop) != 0) {
		CHECK(!"setup");
		addr_policy_free(policy);
		free(r);
		return;
	}
	CHECK_INT(addr_policy_allow(policy, "127.0.0.0/8", &err), 0, "allow");
	for (int t = 0; t < TABLE_LAST; t++)
		jbuf_init(&out[t], OUT_MAX);
	r->script = script;
	env.loop = &loop;
	env.query = sres_query;
	env.query_ctx = r;
	env.policy = policy;
	env.worker = "unit";
	env.campaign_id = 1;
	env.client_srv = true;
	CHECK_INT(probe_start(&env, 7, DOMAIN, out, on_done, r), 0, "start");
	while (sres_deliver(r))
		;
	CHECK_INT(r->done, 1, "done once");
	/* 3 domain questions, 6 SRV, A/AAAA of the implicit MX, A/AAAA of
	 * the two targets, one TLSA. */
	CHECK_STR(field(&out[TABLE_DOMAIN_DNS], 0, 9, got, sizeof got), "16",
		  "questions");
	CHECK(strstr(r->trace, "SRV _submissions._tcp." DOMAIN " SRV "
			       "_submission._tcp." DOMAIN) != NULL);
	CHECK(strstr(r->trace, "TLSA _993._tcp.b." DOMAIN) == NULL);
	CHECK(strstr(r->trace, "TLSA _465._tcp.a." DOMAIN) == NULL);
	CHECK_INT(rows(&out[TABLE_CLIENT_SRV]), 6, "client_srv rows");
	for (size_t i = 0; i < 6; i++) {
		const struct jbuf *b = &out[TABLE_CLIENT_SRV];
		CHECK_STR(field(b, i, 2, got, sizeof got), want_srv[i][0],
			  "service");
		CHECK_STR(field(b, i, 9, got, sizeof got), want_srv[i][1],
			  want_srv[i][0]);
		CHECK_STR(field(b, i, 10, got, sizeof got), want_srv[i][2],
			  want_srv[i][0]);
		CHECK_STR(field(b, i, 11, got, sizeof got), want_srv[i][3],
			  want_srv[i][0]);
	}
	CHECK_STR(field(&out[TABLE_CLIENT_SRV], 2, 6, got, sizeof got),
		  "secure", "imaps dnssec");
	CHECK_INT(rows(&out[TABLE_CLIENT_SRV_TARGET]), 5, "target rows");
	for (size_t i = 0; i < 5; i++) {
		const struct jbuf *b = &out[TABLE_CLIENT_SRV_TARGET];
		static const int cols[7] = { 2, 6, 7, 9, 13, 15, 18 };
		for (size_t k = 0; k < 7; k++)
			CHECK_STR(field(b, i, (size_t)cols[k], got, sizeof got),
				  want_tgt[i][k], want_tgt[i][2]);
	}
	/* Every SRV answer is a dns_rrset row too, records in
	 * presentation form, sorted as answered. */
	CHECK(strstr(out[TABLE_DNS_RRSET].data, "\"0 1 10993 a." DOMAIN "\"") !=
	      NULL);
	for (int t = 0; t < TABLE_LAST; t++)
		jbuf_free(&out[t]);
	free(r);
	uv_loop_close(&loop);
	addr_policy_free(policy);
}
