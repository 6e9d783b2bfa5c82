/*
 * One domain's probe: the I/O around the state machine of probe_fsm.h.
 * Queries run concurrently where they do not depend on each other: MX and
 * both TXT records at once; A and AAAA of every kept MX host once the MX
 * answer is in; TLSA of a host once its addresses are in and the path to
 * it is secure; then the endpoint probes and the MTA-STS policy fetch;
 * then the rows. The callbacks of the resolver, the endpoint registry and
 * the fetcher digest what came back and tell the machine (work returned,
 * MX answered, failed); advance() is the one loop that performs what the
 * machine asks for next, finish() included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "crawler/verify/cert.h"
#include "crawler/store/copyfmt.h"
#include "crawler/verify/danecache.h"
#include "crawler/verify/verdict.h"
#include "crawler/scan/clientep.h"
#include "crawler/scan/epclaim.h"
#include "crawler/scan/probe.h"
#include "crawler/scan/probe_fsm.h"
#include "crawler/smtp/eprecord.h"
#include "crawler/scan/regdomain.h"
#include "crawler/scan/stsfacts.h"

/* Bytes a domain's rows may take in a batch buffer before it fails. */
#define PROBE_ROWS_MAX (4u << 20)
/* Bytes of one COPY array (CNAME chain, TLSA records) kept per host. */
#define PROBE_ARRAY_MAX (64u << 10)

/* SMTP port: mail exchangers listen on 25 (RFC 5321 §4.5.4.2). */
#define PROBE_SMTP_PORT 25

enum query_kind {
	Q_MX,
	Q_STS_TXT, /* _mta-sts.<domain> */
	Q_RPT_TXT, /* _smtp._tls.<domain> */
	Q_A,
	Q_AAAA,
	Q_TLSA,
	Q_STS_A, /* mta-sts.<domain>, when its TXT record is valid */
	Q_STS_AAAA,
	Q_SRV,	    /* _<service>._tcp.<domain>; host: the service */
	Q_SRV_A,    /* A of an SRV target; host: in ctargets */
	Q_SRV_AAAA, /* AAAA of an SRV target */
	Q_SRV_TLSA, /* _<port>._tcp.<target>; host: in cports */
	Q_MXC_TLSA, /* _<port>._tcp.<mx host>; host: in mxports */
};

/*
 * The mail client services of the M12 contract, in its order: the SRV
 * owner is _<name>._tcp.<domain> (RFC 6186 §3, RFC 8314 §5.1). The
 * protocol and TLS mode are the service's, whatever port a record gives.
 */
#define PROBE_SERVICES 6
static const char *const service_names[PROBE_SERVICES] = {
	"submissions", "submission", "imaps", "imap", "pop3s", "pop3",
};

/* The services' standard ports (RFC 8314 §7.3, RFC 6186 §3): where
 * --client-ports mx knocks on the MX hosts, in the same order. */
static const uint16_t service_ports[PROBE_SERVICES] = {
	465, 587, 993, 143, 995, 110,
};

/* No cport: the record's target is "." (nothing to resolve). */
#define PROBE_NO_CPORT ((size_t)-1)

/* One kept SRV record of a service. */
struct srv_rec {
	uint16_t priority, weight, port;
	char *target;
	size_t cport; /* in probe.cports, or PROBE_NO_CPORT */
};

/* What the SRV question of one service gave. */
struct srv_service {
	bool answered;
	const char *outcome; /* resolver_outcome_str() */
	int rcode;	     /* -1: no answer */
	enum dnssec_status st;
	enum dnssec_why why;
	size_t n_ede;
	uint16_t ede[DNS_MSG_MAX_EDE];
	/* records | not_offered | none | dns_error (schema/028) */
	const char *srv;
	size_t count; /* SRV records at the owner */
	size_t nrec;  /* kept, sorted */
	struct srv_rec rec[PROBE_SRV_CAP];
};

/*
 * A distinct (target, port) of the SRV records of a domain: where TLSA is
 * asked (RFC 7673 §3: _<port>._tcp.<target>) and, in a later step, what
 * is probed. Two services naming the same target and port share it.
 */
struct cport {
	size_t target; /* in probe.ctargets */
	uint16_t port;
	/* An SRV RRset naming it is secure: the first condition of
	 * RFC 7673 §3 (the target's addresses are the second). */
	bool srv_secure;
	bool tlsa_looked_up;
	char *tlsa_name;
	enum dnssec_status tlsa_st;
	struct jbuf tlsa; /* COPY array elements of "u s m hex" */
	size_t ntlsa;
	struct verify_tlsa rec[VERIFY_MAX_TLSA]; /* data malloc'ed */
	size_t nrec;
};

/*
 * One client endpoint a domain uses: an address of the target of record
 * `rec` of service `svc`, probed once per campaign and process with the
 * service's session (epreg.h: the service is part of the key), and
 * whether this domain's TLSA records authenticate its chain (RFC 7673).
 */
struct cslot {
	size_t svc, rec, addr;	    /* addr: in the target's addrs */
	const struct ep_done *done; /* registry-owned, held */
	bool chain_ok;
	/* Found on an MX host (--client-ports mx), not by SRV: rec is the
	 * host's index in probe.hosts, the port the service's standard one
	 * (see cslot_cport()). */
	bool mx;
};

/* TXT records of one RRset read (more are ignored). */
#define PROBE_TXT_MAX 32

struct host {
	int preference;
	char *name;
	char *canon;	   /* end of the host's CNAME chain */
	struct jbuf cname; /* COPY array of the chain */
	bool kept;
	/* The name looks like an IPv4 address ("10 127.53.1.99."): it is
	 * still a domain name (RFC 5321 §5.1), resolved like any other and
	 * never read as an address; the flag only records the oddity. */
	bool ip_literal;
	bool a_done, aaaa_done;
	enum dnssec_status a_st, aaaa_st;
	bool a_failed, aaaa_failed; /* no usable answer (bogus, error) */
	size_t naddr;
	struct addr addrs[2 * PROBE_ADDR_MAX];
	bool tlsa_looked_up;
	bool tlsa_tried_original;
	char *tlsa_name;
	enum dnssec_status tlsa_st;
	struct jbuf tlsa; /* COPY array elements of "u s m hex" */
	size_t ntlsa;
	/* The TLSA records themselves, for DANE (data malloc'ed). */
	struct verify_tlsa rec[VERIFY_MAX_TLSA];
	size_t nrec;
	/* Per address: the endpoint probe's result (registry-owned; held
	 * until probe_free releases it), and whether this domain's TLSA
	 * records authenticate its chain. */
	const struct ep_done *done[2 * PROBE_ADDR_MAX];
	bool chain_ok[2 * PROBE_ADDR_MAX];
};

struct probe {
	struct probe_env *env;
	int64_t target_id;
	char *domain;
	struct jbuf *out;
	struct jbuf rrset; /* this domain's dns_rrset rows */
	probe_done_cb cb;
	void *arg;
	uint64_t start_ms;
	struct probe_fsm fsm;
	bool stepping; /* advance() is running further up the stack */
	unsigned queries;
	bool failed; /* out of memory somewhere: the domain is dropped */

	const char *mx_outcome;
	enum dnssec_status mx_st;
	int mx_count;
	bool mx_truncated;
	struct jbuf apex_cname;
	size_t nhosts;
	struct host *hosts;

	/* (qtype, qname) of every rrset row written, to write each once
	 * (see seen_key()). */
	char *keys;
	size_t keys_len, keys_cap;

	unsigned ep_probed, ep_starttls;
	/* endpoint and certificate rows of the probes this domain made
	 * (it asked first), appended to the batch with the other rows */
	struct jbuf eprows;
	struct jbuf certrows;
	struct jbuf records;

	struct sts_facts sts;
	/* Which address lookup of the policy host got no usable answer. */
	bool sts_a_failed, sts_aaaa_failed;
	struct rpt_facts rpt;

	/* Mail client services (env->client_srv): the SRV answers, the
	 * distinct targets (struct host, resolved like MX hosts; kept is
	 * always true) and the distinct (target, port) pairs. */
	struct srv_service srv[PROBE_SERVICES];
	struct host *ctargets;
	size_t nctargets, ctargets_cap;
	struct cport *cports;
	size_t ncports, cports_cap;
	/* The client endpoints asked for (env->client_srv with ep_env),
	 * and the rows of those this domain probed (it asked first). */
	struct cslot *cslots;
	size_t ncslots;
	struct jbuf cerows;
	/* --client-ports mx: per MX host (all nhosts, kept or not) and
	 * service, at [host * PROBE_SERVICES + service], the standard
	 * port's TLSA (target: the host's index in hosts; srv_secure
	 * unused: the MX RRset's status is mx_st). */
	struct cport *mxports;
	size_t nmxports;
};

struct query {
	struct probe *p;
	enum query_kind kind;
	size_t host;
	uint16_t qtype;
	char qname[];
};

static void query_send(struct probe *p, enum query_kind kind, size_t host,
		       const char *qname, uint16_t qtype);
static void sts_fetch_start(struct probe *p);
static void work_returned(struct probe *p, enum probe_work w);
static void write_client_rows(struct probe *p);
static void client_free(struct probe *p);
static bool client_buffers_failed(const struct probe *p,
				  const struct jbuf **which);
static const struct cport *cslot_cport(const struct probe *p,
				       const struct cslot *cs,
				       const struct host **t);
static void mxc_init(struct probe *p);
static void mxc_tlsa_maybe(struct probe *p, size_t hi);
static size_t mxc_slots(struct probe *p, struct cslot *out);
static void mxc_rows(struct probe *p);

static void oom(struct probe *p)
{
	p->failed = true;
	probe_fsm_fail(&p->fsm);
}

/* --- rows ------------------------------------------------------------ */

static bool seen_key(struct probe *p, const char *qname, uint16_t qtype)
{
	size_t n = strlen(qname);

	/* keys: entries of the qtype's two bytes, the name and its NUL. */
	for (size_t at = 0; at < p->keys_len;) {
		const char *k = p->keys + at;
		size_t kn = strlen(k + 2);
		if ((uint16_t)((uint8_t)k[0] << 8 | (uint8_t)k[1]) == qtype &&
		    kn == n && memcmp(k + 2, qname, n) == 0)
			return true;
		at += 2 + kn + 1;
	}
	if (p->keys_len + n + 3 > p->keys_cap) {
		size_t cap = p->keys_cap ? p->keys_cap : 256;
		while (cap < p->keys_len + n + 3)
			cap *= 2;
		char *k = realloc(p->keys, cap);
		if (!k) {
			oom(p);
			return true;
		}
		p->keys = k;
		p->keys_cap = cap;
	}
	p->keys[p->keys_len] = (char)(qtype >> 8);
	p->keys[p->keys_len + 1] = (char)(qtype & 0xff);
	memcpy(p->keys + p->keys_len + 2, qname, n + 1);
	p->keys_len += n + 3;
	return false;
}

/*
 * Follows the CNAME chain from qname through the answer section of msg,
 * appending each target to `chain` (if given); returns the chain's end
 * (qname itself when there is no CNAME). Targets are read into the two
 * buffers in turn, so the name being looked for is never overwritten; the
 * result points into bufs or is qname.
 */
static const char *follow(const uint8_t *pkt, size_t len,
			  const struct dns_msg *msg, const char *qname,
			  struct copy_array *chain,
			  char bufs[2][DNS_NAME_TEXT_MAX])
{
	const char *cur = qname;
	int which = 0;

	for (int hop = 0; hop < PROBE_CNAME_MAX; hop++) {
		const struct dns_rr *link = NULL;
		for (size_t i = 0; i < msg->nrr && !link; i++) {
			const struct dns_rr *rr = &msg->rr[i];
			if (rr->section == DNS_SECTION_ANSWER &&
			    rr->type == DNS_TYPE_CNAME &&
			    strcmp(dns_rr_owner(msg, rr), cur) == 0)
				link = rr;
		}
		if (!link || dns_rr_cname(pkt, len, link, bufs[which],
					  DNS_NAME_TEXT_MAX) != DNS_OK)
			break;
		if (chain)
			copy_array_text(chain, bufs[which],
					strlen(bufs[which]));
		cur = bufs[which];
		which ^= 1;
	}
	return cur;
}

/* Writes the dns_rrset row of an answer. */
static void write_rrset(struct probe *p, const struct query *q,
			const struct resolver_answer *a)
{
	struct jbuf *b = &p->rrset;
	struct copy_array arr;
	char name[2][DNS_NAME_TEXT_MAX];
	/* Records come from the CD answer when that is what had them. */
	const struct dns_msg *msg = a->cd_msg ? a->cd_msg : a->msg;
	const uint8_t *pkt = a->cd_msg ? a->cd_pkt : a->pkt;
	size_t len = a->cd_msg ? a->cd_len : a->len;
	const char *end = q->qname;

	if (seen_key(p, q->qname, q->qtype))
		return;
	copy_int(b, p->env->campaign_id);
	copy_field(b);
	copy_int(b, p->target_id);
	copy_field(b);
	copy_str(b, q->qname);
	copy_field(b);
	copy_str(b, dns_type_str(q->qtype));
	copy_field(b);
	copy_str(b, resolver_outcome_str(a->rc, a->rcode));
	copy_field(b);
	if (a->rcode >= 0)
		copy_str(b, dns_rcode_str(a->rcode));
	else
		copy_null(b);
	copy_field(b);
	copy_str(b, dnssec_status_str(a->dnssec));
	copy_field(b);
	copy_array_begin(&arr, b);
	for (size_t i = 0; i < a->n_ede; i++)
		copy_array_int(&arr, a->ede[i]);
	copy_array_end(&arr);
	copy_field(b);
	if (a->ede_text && *a->ede_text)
		copy_str(b, a->ede_text);
	else
		copy_null(b);
	copy_field(b);
	/* The size of an answer is only known when one came. */
	if (a->pkt)
		copy_bool(b, a->large);
	else
		copy_null(b);
	copy_field(b);
	copy_array_begin(&arr, b);
	if (msg)
		end = follow(pkt, len, msg, q->qname, &arr, name);
	copy_array_end(&arr);
	copy_field(b);

	/* records (presentation) */
	copy_array_begin(&arr, b);
	for (size_t i = 0; msg && q->qtype != DNS_TYPE_TXT && i < msg->nrr;
	     i++) {
		const struct dns_rr *rr = &msg->rr[i];
		/* "65535 65535 65535 " before the name */
		char text[DNS_NAME_TEXT_MAX + 24];
		if (rr->section != DNS_SECTION_ANSWER || rr->type != q->qtype ||
		    strcmp(dns_rr_owner(msg, rr), end) != 0)
			continue;
		if (rr->type == DNS_TYPE_MX) {
			struct dns_mx mx;
			if (dns_rr_mx(pkt, len, rr, &mx) != DNS_OK)
				continue;
			snprintf(text, sizeof text, "%u %s", mx.preference,
				 mx.exchange);
			copy_array_text(&arr, text, strlen(text));
		} else if (rr->type == DNS_TYPE_SRV) {
			struct dns_srv srv;
			if (dns_rr_srv(pkt, len, rr, &srv) != DNS_OK)
				continue;
			snprintf(text, sizeof text, "%u %u %u %s", srv.priority,
				 srv.weight, srv.port, srv.target);
			copy_array_text(&arr, text, strlen(text));
		} else if (rr->type == DNS_TYPE_A) {
			struct dns_a v4;
			if (dns_rr_a(pkt, len, rr, &v4) == DNS_OK)
				copy_array_text(&arr, v4.text, strlen(v4.text));
		} else if (rr->type == DNS_TYPE_AAAA) {
			struct dns_aaaa v6;
			if (dns_rr_aaaa(pkt, len, rr, &v6) == DNS_OK)
				copy_array_text(&arr, v6.text, strlen(v6.text));
		} else if (rr->type == DNS_TYPE_TLSA) {
			struct dns_tlsa t;
			struct jbuf tb;
			if (dns_rr_tlsa(pkt, len, rr, &t) != DNS_OK)
				continue;
			jbuf_init(&tb, 2 * 65536 + 32);
			jbuf_printf(&tb, "%u %u %u ", t.usage, t.selector,
				    t.mtype);
			jbuf_hex(&tb, t.data, t.data_len);
			if (!tb.failed)
				copy_array_text(&arr, tb.data, tb.len);
			jbuf_free(&tb);
		}
	}
	copy_array_end(&arr);
	copy_field(b);

	/* txt (raw bytes) */
	if (q->qtype == DNS_TYPE_TXT && msg) {
		copy_array_begin(&arr, b);
		for (size_t i = 0; i < msg->nrr; i++) {
			const struct dns_rr *rr = &msg->rr[i];
			uint8_t buf[65536];
			struct dns_txt txt;
			if (rr->section != DNS_SECTION_ANSWER ||
			    rr->type != DNS_TYPE_TXT ||
			    strcmp(dns_rr_owner(msg, rr), end) != 0)
				continue;
			if (dns_rr_txt(pkt, len, rr, buf, sizeof buf, &txt) ==
			    DNS_OK)
				copy_array_bytea(&arr, txt.data, txt.len);
		}
		copy_array_end(&arr);
	} else {
		copy_null(b);
	}
	copy_field(b);
	copy_int(b, a->elapsed_ms);
	copy_field(b);
	copy_str(b, dnssec_why_str(a->why));
	copy_row_end(b);
}

/* --- MX -------------------------------------------------------------- */

static int host_cmp(const void *x, const void *y)
{
	const struct host *a = x, *b = y;

	if (a->preference != b->preference)
		return a->preference < b->preference ? -1 : 1;
	return strcmp(a->name, b->name);
}

static struct host *hosts_alloc(struct probe *p, size_t n)
{
	p->hosts = calloc(n ? n : 1, sizeof *p->hosts);
	if (!p->hosts) {
		oom(p);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		jbuf_init(&p->hosts[i].cname, PROBE_ARRAY_MAX);
		jbuf_init(&p->hosts[i].tlsa, PROBE_ARRAY_MAX);
	}
	return p->hosts;
}

static bool dnssec_failed(enum dnssec_status s)
{
	return s == DNSSEC_BOGUS || s == DNSSEC_INDETERMINATE;
}

static void on_mx(struct probe *p, const struct query *q,
		  const struct resolver_answer *a)
{
	char buf[2][DNS_NAME_TEXT_MAX];
	struct copy_array chain;
	const char *owner;
	size_t n = 0, nulls = 0, real = 0;
	int null_pref = -1;

	p->mx_st = a->dnssec;
	copy_array_begin(&chain, &p->apex_cname);
	if (a->rc != RESOLVER_OK || !a->msg) {
		copy_array_end(&chain);
		p->mx_outcome = "dns_error";
		return;
	}
	owner = follow(a->pkt, a->len, a->msg, q->qname, &chain, buf);
	copy_array_end(&chain);
	if (a->rcode == DNS_RCODE_NXDOMAIN) {
		p->mx_outcome = "no_domain";
		return;
	}
	if (a->rcode != DNS_RCODE_NOERROR || dnssec_failed(a->dnssec)) {
		p->mx_outcome = "dns_error";
		return;
	}
	for (size_t i = 0; i < a->msg->nrr; i++) {
		const struct dns_rr *rr = &a->msg->rr[i];
		if (rr->section == DNS_SECTION_ANSWER &&
		    rr->type == DNS_TYPE_MX &&
		    strcmp(dns_rr_owner(a->msg, rr), owner) == 0)
			n++;
	}
	if (n == 0) {
		/* NODATA: RFC 5321 §5.1, the domain (after CNAMEs) is the
		 * mail host, with preference 0. */
		p->mx_outcome = "implicit_mx";
		if (!hosts_alloc(p, 1))
			return;
		p->nhosts = 1;
		p->hosts[0].name = strdup(owner);
		p->hosts[0].kept = true;
		if (!p->hosts[0].name)
			oom(p);
		return;
	}
	p->mx_count = (int)n;
	if (!hosts_alloc(p, n))
		return;
	for (size_t i = 0; i < a->msg->nrr; i++) {
		const struct dns_rr *rr = &a->msg->rr[i];
		struct dns_mx mx;
		if (rr->section != DNS_SECTION_ANSWER ||
		    rr->type != DNS_TYPE_MX ||
		    strcmp(dns_rr_owner(a->msg, rr), owner) != 0)
			continue;
		if (dns_rr_mx(a->pkt, a->len, rr, &mx) != DNS_OK)
			continue;
		if (strcmp(mx.exchange, ".") == 0) {
			nulls++;
			null_pref = mx.preference;
			continue;
		}
		struct host *h = &p->hosts[real++];
		h->preference = mx.preference;
		h->name = strdup(mx.exchange);
		if (!h->name)
			oom(p);
	}
	p->nhosts = real;
	if (p->failed)
		return;
	qsort(p->hosts, p->nhosts, sizeof *p->hosts, host_cmp);
	/* RFC 7505: a null MX is a lone "0 ."; anything else with "." is a
	 * misconfiguration, recorded as such. */
	if (nulls && n == 1)
		p->mx_outcome = null_pref == 0 ? "null_mx" : "null_mx_invalid";
	else if (nulls)
		p->mx_outcome = "null_mx_mixed";
	else
		p->mx_outcome = "mx";
	p->mx_truncated = n > PROBE_MX_CAP;
	for (size_t i = 0; i < p->nhosts; i++) {
		struct host *h = &p->hosts[i];
		h->kept = i < PROBE_MX_CAP;
		h->ip_literal = addr_is_ipv4_literal(h->name);
	}
}

/* --- addresses and TLSA --------------------------------------------- */

/* What the host's address lookups gave, for the rules of probe_fsm.h. */
static struct probe_lookups host_lookups(const struct host *h)
{
	return (struct probe_lookups){ .a_done = h->a_done,
				       .aaaa_done = h->aaaa_done,
				       .a_failed = h->a_failed,
				       .aaaa_failed = h->aaaa_failed,
				       .a_st = h->a_st,
				       .aaaa_st = h->aaaa_st,
				       .naddr = h->naddr };
}

/* A partial host (probe_lookups_partial()). */
static bool host_partial(const struct host *h)
{
	struct probe_lookups l = host_lookups(h);

	return probe_lookups_partial(&l);
}

/* The host's address lookups failed beyond use. */
static bool host_dns_failed(const struct host *h)
{
	struct probe_lookups l = host_lookups(h);

	return probe_lookups_failed(&l);
}

/* Asks the host's TLSA records once both address lookups are in and the
 * path to it is secure (probe_tlsa_due()). */
static void tlsa_maybe(struct probe *p, size_t hi)
{
	struct host *h = &p->hosts[hi];
	struct probe_lookups l = host_lookups(h);
	char qname[DNS_NAME_TEXT_MAX + 16];

	if (!probe_tlsa_due(p->mx_st, &l))
		return;
	h->tlsa_looked_up = true;
	/* §2.2.3: the CNAME-expanded name first. */
	snprintf(qname, sizeof qname, "_25._tcp.%s",
		 h->canon ? h->canon : h->name);
	query_send(p, Q_TLSA, hi, qname, DNS_TYPE_TLSA);
}

/* Appends to out[*n] (up to max) the qtype (A or AAAA) addresses owned by
 * `end`, the end of the answer's CNAME chain; returns how many it added. */
static size_t answer_addresses(const struct resolver_answer *a, uint16_t qtype,
			       const char *end, struct addr *out, size_t *n,
			       size_t max)
{
	size_t added = 0;

	for (size_t i = 0; i < a->msg->nrr && *n < max; i++) {
		const struct dns_rr *rr = &a->msg->rr[i];
		struct addr ad = { 0 };
		if (rr->section != DNS_SECTION_ANSWER || rr->type != qtype ||
		    strcmp(dns_rr_owner(a->msg, rr), end) != 0)
			continue;
		if (rr->type == DNS_TYPE_A) {
			struct dns_a v4;
			if (dns_rr_a(a->pkt, a->len, rr, &v4) != DNS_OK)
				continue;
			ad.family = AF_INET;
			memcpy(ad.bytes, v4.addr, 4);
		} else {
			struct dns_aaaa v6;
			if (dns_rr_aaaa(a->pkt, a->len, rr, &v6) != DNS_OK)
				continue;
			ad.family = AF_INET6;
			memcpy(ad.bytes, v6.addr, 16);
		}
		out[(*n)++] = ad;
		added++;
	}
	return added;
}

/* An MX host keeps at most PROBE_ADDR_MAX addresses of each family. */
static void add_addresses(struct host *h, const struct query *q,
			  const struct resolver_answer *a, const char *end)
{
	size_t cap = h->naddr + PROBE_ADDR_MAX;

	if (cap > 2 * PROBE_ADDR_MAX)
		cap = 2 * PROBE_ADDR_MAX;
	answer_addresses(a, q->qtype, end, h->addrs, &h->naddr, cap);
}

/* An A or AAAA answer about host h (an MX host or an SRV target). */
static void host_address(struct probe *p, struct host *h, const struct query *q,
			 const struct resolver_answer *a)
{
	bool v4 = q->qtype == DNS_TYPE_A;
	bool failed =
	    a->rc != RESOLVER_OK || !a->msg || dnssec_failed(a->dnssec) ||
	    (a->rcode != DNS_RCODE_NOERROR && a->rcode != DNS_RCODE_NXDOMAIN);

	if (v4) {
		h->a_done = true;
		h->a_st = a->dnssec;
		h->a_failed = failed;
	} else {
		h->aaaa_done = true;
		h->aaaa_st = a->dnssec;
		h->aaaa_failed = failed;
	}
	if (!failed) {
		char buf[2][DNS_NAME_TEXT_MAX];
		struct copy_array chain;
		const char *end;
		/* The chain is recorded from the A answer (AAAA has the same). */
		if (v4 || h->cname.len == 0) {
			jbuf_reset(&h->cname);
			copy_array_begin(&chain, &h->cname);
			end = follow(a->pkt, a->len, a->msg, q->qname, &chain,
				     buf);
			copy_array_end(&chain);
			if (strcmp(end, h->name) != 0) {
				free(h->canon);
				h->canon = strdup(end);
				if (!h->canon)
					oom(p);
			}
		} else {
			end =
			    follow(a->pkt, a->len, a->msg, q->qname, NULL, buf);
		}
		add_addresses(h, q, a, end);
	}
}

static void on_address(struct probe *p, const struct query *q,
		       const struct resolver_answer *a)
{
	host_address(p, &p->hosts[q->host], q, a);
	tlsa_maybe(p, q->host);
	mxc_tlsa_maybe(p, q->host);
}

/*
 * Reads the TLSA answer of q into the caller's fields (an MX host's or an
 * SRV target port's): where it was asked, its status, the records as COPY
 * array elements and, up to VERIFY_MAX_TLSA, as records for DANE.
 * Returns how many records the answer had.
 */
static size_t tlsa_answer(struct probe *p, const struct query *q,
			  const struct resolver_answer *a, char **name,
			  enum dnssec_status *st, struct jbuf *text,
			  size_t *ntext, struct verify_tlsa *rec, size_t *nrec)
{
	size_t found = 0;

	free(*name);
	*name = strdup(q->qname);
	if (!*name)
		oom(p);
	*st = a->dnssec;
	jbuf_reset(text);
	*ntext = 0;
	for (size_t i = 0; i < *nrec; i++)
		free((void *)rec[i].data);
	*nrec = 0;
	if (a->rc == RESOLVER_OK && a->msg && a->rcode == DNS_RCODE_NOERROR &&
	    !dnssec_failed(a->dnssec)) {
		char buf[2][DNS_NAME_TEXT_MAX];
		const char *end =
		    follow(a->pkt, a->len, a->msg, q->qname, NULL, buf);
		for (size_t i = 0; i < a->msg->nrr; i++) {
			const struct dns_rr *rr = &a->msg->rr[i];
			struct dns_tlsa t;
			if (rr->section != DNS_SECTION_ANSWER ||
			    rr->type != DNS_TYPE_TLSA ||
			    strcmp(dns_rr_owner(a->msg, rr), end) != 0 ||
			    dns_rr_tlsa(a->pkt, a->len, rr, &t) != DNS_OK)
				continue;
			if ((*ntext)++)
				jbuf_append(text, ",", 1);
			/* An array element in COPY text: "u s m hex". */
			jbuf_printf(text, "\"%u %u %u ", t.usage, t.selector,
				    t.mtype);
			jbuf_hex(text, t.data, t.data_len);
			jbuf_append(text, "\"", 1);
			found++;
			if (*nrec < VERIFY_MAX_TLSA) {
				uint8_t *data =
				    malloc(t.data_len ? t.data_len : 1);
				if (!data) {
					oom(p);
					continue;
				}
				memcpy(data, t.data, t.data_len);
				rec[(*nrec)++] =
				    (struct verify_tlsa){ t.usage, t.selector,
							  t.mtype, data,
							  t.data_len };
			}
		}
	}
	return found;
}

static void on_tlsa(struct probe *p, const struct query *q,
		    const struct resolver_answer *a)
{
	struct host *h = &p->hosts[q->host];
	size_t found = tlsa_answer(p, q, a, &h->tlsa_name, &h->tlsa_st,
				   &h->tlsa, &h->ntlsa, h->rec, &h->nrec);

	/* §2.2.3: no TLSA at the expanded name (securely) → the original. */
	if (probe_tlsa_retry_due(h->canon != NULL, h->tlsa_tried_original,
				 found, a->dnssec)) {
		char qname[DNS_NAME_TEXT_MAX + 16];
		h->tlsa_tried_original = true;
		snprintf(qname, sizeof qname, "_25._tcp.%s", h->name);
		query_send(p, Q_TLSA, q->host, qname, DNS_TYPE_TLSA);
	}
}

/* --- finishing -------------------------------------------------------- */

/* May this address of this host be contacted? */
static bool address_ok(const struct probe *p, const struct host *h, size_t k)
{
	return addr_policy_check(p->env->policy, &h->addrs[k]) ==
		   ADDR_POLICY_OK &&
	       !addr_policy_domain_blocked(p->env->policy, h->name);
}

/*
 * Whether this domain's TLSA records for host h authenticate each contacted
 * endpoint's chain (verify_dane), into h->chain_ok. The chain is whoever
 * probed the endpoint's (epreg.h); the records, their DNSSEC status and the
 * reference names are this domain's own, so two domains sharing an
 * endpoint are judged apart (RFC 7672 §2.2.1). Only where the records
 * count: a secure TLSA answer reached by a secure path with a usable
 * record; elsewhere verify_dane_decide() never looks at the chain.
 */
static void host_chains(struct probe *p, struct host *h)
{
	unsigned usable = 0;

	for (size_t i = 0; i < h->nrec; i++)
		usable += verify_tlsa_usable(&h->rec[i]) == VERIFY_TLSA_USABLE;
	if (!h->kept || !h->tlsa_looked_up || h->tlsa_st != DNSSEC_SECURE ||
	    !usable || !h->tlsa_name)
		return;
	/* Reference names: the TLSA base domain (where the records were
	 * found, maybe the CNAME expansion), then the MX host. */
	const char *refs[2];
	size_t nref = verify_dane_refs(h->tlsa_name, h->name, refs);
	for (size_t k = 0; k < h->naddr; k++) {
		const struct ep_done *d = h->done[k];
		if (d && d->nchain)
			h->chain_ok[k] = dane_cache_chain_ok(
			    p->env->dane, epreg_result_key(d), p->env->verify,
			    d->chain, d->nchain, time(NULL), refs, nref, h->rec,
			    h->nrec);
	}
}

/* The SMTP/TLS stage's share of the host's DANE outcome (RFC 7672),
 * from the TLSA records and what its endpoints presented; NULL when the
 * stage did not run. */
static void host_dane_init(const struct host *h, struct verify_dane_host *dh)
{
	verify_dane_host_init(dh, h->tlsa_looked_up,
			      h->tlsa_st == DNSSEC_SECURE,
			      h->tlsa_st == DNSSEC_BOGUS, h->rec, h->nrec);
}

static const char *host_dane(const struct probe *p, const struct host *h,
			     const char *outcome, enum verify_dane_outcome *out)
{
	struct verify_dane_host dh;

	if (!p->env->ep_env || !h->kept)
		return NULL;
	host_dane_init(h, &dh);
	for (size_t k = 0; k < h->naddr; k++)
		if (h->done[k])
			verify_dane_host_endpoint(&dh, h->done[k]->starttls_ok,
						  h->chain_ok[k]);
	*out = verify_dane_host_outcome(&dh, outcome && !strcmp(outcome, "ok"));
	return verify_dane_outcome_str(*out);
}

static const char *address_outcome(const struct probe *p, const struct host *h,
				   size_t *refused)
{
	size_t ok = 0;

	*refused = 0;
	if (!h->kept)
		return NULL;
	if (host_dns_failed(h))
		return "dns_error";
	for (size_t i = 0; i < h->naddr; i++) {
		if (address_ok(p, h, i))
			ok++;
		else
			(*refused)++;
	}
	if (h->naddr == 0)
		return "mx_no_address";
	return ok ? "ok" : "refused_address";
}

/* One domain_endpoint row per contacted endpoint of host i: the judgements
 * that depend on the domain (its own name in the certificate) and on the
 * host's TLSA records. */
/* Whether the endpoint's leaf names the domain itself (NULL without a
 * chain or a name cache): port 25's name_matches_domain, and a client
 * port's, where RFC 6186 §4 / RFC 7817 let the domain be the reference
 * identity. */
static void copy_names_domain(struct jbuf *b, const struct probe *p,
			      const struct ep_done *d)
{
	int named = d->nchain && p->env->names
			? verify_leaf_names(p->env->names, epreg_result_key(d),
					    d->chain[0].data, d->chain[0].len,
					    p->domain)
			: -1;
	if (named >= 0)
		copy_bool(b, named);
	else
		copy_null(b);
}

static void write_domain_endpoints(struct probe *p, size_t i,
				   const struct host *h)
{
	struct jbuf *b = &p->out[TABLE_DOMAIN_ENDPOINT];
	struct verify_dane_host dh;

	host_dane_init(h, &dh);
	for (size_t k = 0; k < h->naddr; k++) {
		const struct ep_done *d = h->done[k];
		char ip[64];
		if (!d)
			continue;
		addr_format(&h->addrs[k], ip, sizeof ip);
		copy_int(b, p->env->campaign_id);
		copy_field(b);
		copy_int(b, p->target_id);
		copy_field(b);
		copy_int(b, (int64_t)i);
		copy_field(b);
		copy_str(b, ip);
		copy_field(b);
		copy_int(b, PROBE_SMTP_PORT);
		copy_field(b);
		copy_str(b, h->name);
		copy_field(b);
		copy_names_domain(b, p, d);
		copy_field(b);
		enum verify_dane_outcome o = verify_dane_host_endpoint(
		    &dh, d->starttls_ok, h->chain_ok[k]);
		copy_str(b, verify_dane_outcome_str(o));
		copy_field(b);
		copy_str(b, verify_dane_result_type(o));
		copy_row_end(b);
	}
}

/*
 * Why a domain's facts are not stored. Its rows go to the batch whole or
 * not at all (probe.h); when they cannot be made, the domain still gets
 * its domain_dns row, with mx_outcome 'not_recorded' and the name below
 * as not_recorded_cause (schema/027), so that a report counts it apart
 * from the domains whose DNS failed.
 */
enum probe_unrecorded {
	PROBE_RECORDED = 0,
	/* A value or the domain's rows over their limit: PROBE_ARRAY_MAX
	 * (an array column, e.g. a host's TLSA records as text) or
	 * PROBE_ROWS_MAX (the rows of one table). */
	PROBE_ROWS_TOO_LARGE,
	/* The batch's buffer of a table is full (STORE_BATCH_ROWS_MAX): a
	 * smaller --batch-size would have stored the domain. */
	PROBE_BATCH_FULL,
	/* An allocation failed while probing or writing the rows (also a
	 * DNS question the resolver could not queue). */
	PROBE_OUT_OF_MEMORY,
	PROBE_UNRECORDED_LAST
};

static const char *const unrecorded_names[PROBE_UNRECORDED_LAST] = {
	[PROBE_RECORDED] = NULL,
	[PROBE_ROWS_TOO_LARGE] = "rows_too_large",
	[PROBE_BATCH_FULL] = "batch_full",
	[PROBE_OUT_OF_MEMORY] = "out_of_memory",
};

/* What a failed buffer means; `over` is the cause when it is full. */
static enum probe_unrecorded buf_cause(const struct jbuf *b,
				       enum probe_unrecorded over)
{
	if (!b->failed)
		return PROBE_RECORDED;
	return b->failed == JBUF_NO_MEMORY ? PROBE_OUT_OF_MEMORY : over;
}

/* Whether the domain's own buffers, made while probing, hold its rows
 * whole; the first failure found is the cause. */
static enum probe_unrecorded own_rows_cause(const struct probe *p)
{
	const struct jbuf *own[] = {
		&p->rrset,    &p->apex_cname,  &p->eprows,	  &p->cerows,
		&p->certrows, &p->records,     &p->sts.txt_cname, &p->sts.chain,
		&p->rpt.rua,  &p->rpt.schemes,
	};
	enum probe_unrecorded why = PROBE_RECORDED;

	if (p->failed)
		return PROBE_OUT_OF_MEMORY;
	for (size_t i = 0; i < sizeof own / sizeof own[0] && !why; i++)
		why = buf_cause(own[i], PROBE_ROWS_TOO_LARGE);
	for (size_t i = 0; i < p->nhosts && !why; i++) {
		why = buf_cause(&p->hosts[i].cname, PROBE_ROWS_TOO_LARGE);
		if (!why)
			why =
			    buf_cause(&p->hosts[i].tlsa, PROBE_ROWS_TOO_LARGE);
	}
	const struct jbuf *client;
	if (!why && client_buffers_failed(p, &client))
		why = buf_cause(client, PROBE_ROWS_TOO_LARGE);
	return why;
}

/* The row's time, as PostgreSQL reads a timestamptz. */
static void now_text(char *now, size_t size)
{
	uv_timeval64_t tv;
	struct tm tm;

	uv_gettimeofday(&tv);
	time_t secs = (time_t)tv.tv_sec;
	gmtime_r(&secs, &tm);
	strftime(now, size, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(now + strlen(now), size - strlen(now), ".%06d+00",
		 (int)tv.tv_usec);
}

/*
 * The domain_dns row of a domain whose facts are not stored: outcome
 * 'not_recorded', why, and the work spent (questions, milliseconds); no
 * fact (no MX counted, no CNAME chain), as nothing else of it is stored.
 * Needs no allocation of its own. Returns 0, or b's error (jbuf_error(),
 * -E2BIG or -ENOMEM) when the row does not fit in b (b is then as
 * before).
 */
static int write_unrecorded(const struct probe_env *env, int64_t target_id,
			    const char *domain, unsigned queries,
			    int64_t elapsed_ms, enum probe_unrecorded why,
			    struct jbuf *b)
{
	size_t before = b->len;
	char now[64];

	now_text(now, sizeof now);
	copy_int(b, env->campaign_id);
	copy_field(b);
	copy_int(b, target_id);
	copy_field(b);
	copy_str(b, domain);
	copy_field(b);
	copy_str(b, now);
	copy_field(b);
	copy_str(b, env->worker);
	copy_field(b);
	copy_str(b, "not_recorded");
	copy_field(b);
	jbuf_puts(b, "0\tf\t{}");
	copy_field(b);
	copy_int(b, queries);
	copy_field(b);
	copy_int(b, elapsed_ms);
	copy_field(b);
	copy_str(b, unrecorded_names[why]);
	copy_row_end(b);
	int rc = jbuf_error(b);
	if (rc == 0)
		return 0;
	b->failed = JBUF_OK;
	b->len = before;
	if (b->data)
		b->data[b->len] = '\0';
	return rc;
}

static void write_rows(struct probe *p, struct probe_counts *delta)
{
	struct jbuf *dd = &p->out[TABLE_DOMAIN_DNS];
	struct jbuf *mx = &p->out[TABLE_DOMAIN_MX];
	struct jbuf *ad = &p->out[TABLE_MX_ADDRESS];
	char now[64];

	now_text(now, sizeof now);
	copy_int(dd, p->env->campaign_id);
	copy_field(dd);
	copy_int(dd, p->target_id);
	copy_field(dd);
	copy_str(dd, p->domain);
	copy_field(dd);
	copy_str(dd, now);
	copy_field(dd);
	copy_str(dd, p->env->worker);
	copy_field(dd);
	copy_str(dd, p->mx_outcome);
	copy_field(dd);
	copy_int(dd, p->mx_count);
	copy_field(dd);
	copy_bool(dd, p->mx_truncated);
	copy_field(dd);
	if (p->apex_cname.len)
		jbuf_append(dd, p->apex_cname.data, p->apex_cname.len);
	else
		jbuf_puts(dd, "{}");
	copy_field(dd);
	copy_int(dd, p->queries);
	copy_field(dd);
	copy_int(dd, (int64_t)(uv_now(p->env->loop) - p->start_ms));
	copy_field(dd);
	copy_null(dd); /* not_recorded_cause */
	copy_row_end(dd);

	jbuf_append(&p->out[TABLE_DNS_RRSET],
		    p->rrset.data ? p->rrset.data : "", p->rrset.len);

	for (size_t i = 0; i < p->nhosts; i++) {
		struct host *h = &p->hosts[i];
		size_t refused;
		const char *outcome = address_outcome(p, h, &refused);
		delta->refused_addresses += refused;
		copy_int(mx, p->env->campaign_id);
		copy_field(mx);
		copy_int(mx, p->target_id);
		copy_field(mx);
		copy_int(mx, (int64_t)i);
		copy_field(mx);
		copy_int(mx, h->preference);
		copy_field(mx);
		copy_str(mx, h->name);
		copy_field(mx);
		copy_bool(mx, h->kept);
		copy_field(mx);
		copy_bool(mx, h->ip_literal);
		copy_field(mx);
		if (h->cname.len)
			jbuf_append(mx, h->cname.data, h->cname.len);
		else
			jbuf_puts(mx, "{}");
		copy_field(mx);
		copy_str(mx, outcome);
		copy_field(mx);
		copy_str(mx, h->a_done ? dnssec_status_str(h->a_st) : NULL);
		copy_field(mx);
		copy_str(mx,
			 h->aaaa_done ? dnssec_status_str(h->aaaa_st) : NULL);
		copy_field(mx);
		copy_bool(mx, h->tlsa_looked_up);
		copy_field(mx);
		copy_str(mx, h->tlsa_name);
		copy_field(mx);
		copy_str(mx,
			 h->tlsa_name ? dnssec_status_str(h->tlsa_st) : NULL);
		copy_field(mx);
		jbuf_append(mx, "{", 1);
		if (h->tlsa.len)
			jbuf_append(mx, h->tlsa.data, h->tlsa.len);
		jbuf_append(mx, "}", 1);
		copy_field(mx);
		enum verify_dane_outcome dane;
		host_chains(p, h);
		const char *dane_str = host_dane(p, h, outcome, &dane);
		copy_str(mx, dane_str);
		copy_field(mx);
		copy_str(mx, dane_str ? verify_dane_result_type(dane) : NULL);
		copy_field(mx);
		int match = sts_facts_mx_match(&p->sts, h->name);
		if (match < 0)
			copy_null(mx);
		else
			copy_bool(mx, match);
		copy_field(mx);
		if (h->kept)
			copy_bool(mx, host_partial(h));
		else
			copy_null(mx);
		copy_field(mx);
		copy_str(mx, h->kept ? regdomain_of(h->name) : NULL);
		copy_row_end(mx);
		write_domain_endpoints(p, i, h);

		for (size_t k = 0; k < h->naddr; k++) {
			char text[64];
			enum addr_verdict v =
			    addr_policy_check(p->env->policy, &h->addrs[k]);
			if (v == ADDR_POLICY_OK &&
			    addr_policy_domain_blocked(p->env->policy, h->name))
				v = ADDR_POLICY_BLOCKLIST;
			/* The same address twice (A listed twice) is one row. */
			bool dup = false;
			for (size_t j = 0; j < k; j++)
				dup |= memcmp(&h->addrs[j], &h->addrs[k],
					      sizeof h->addrs[k]) == 0;
			if (dup)
				continue;
			addr_format(&h->addrs[k], text, sizeof text);
			copy_int(ad, p->env->campaign_id);
			copy_field(ad);
			copy_int(ad, p->target_id);
			copy_field(ad);
			copy_int(ad, (int64_t)i);
			copy_field(ad);
			copy_str(ad, text);
			copy_field(ad);
			copy_str(ad, addr_verdict_str(v));
			copy_field(ad);
			copy_str(ad,
				 addr_class_str(addr_classify(&h->addrs[k])));
			copy_row_end(ad);
		}
	}
	jbuf_append(&p->out[TABLE_ENDPOINT],
		    p->eprows.data ? p->eprows.data : "", p->eprows.len);
	jbuf_append(&p->out[TABLE_CERTIFICATE],
		    p->certrows.data ? p->certrows.data : "", p->certrows.len);
	jbuf_append(&p->out[TABLE_RECORDS],
		    p->records.data ? p->records.data : "", p->records.len);
	jbuf_append(&p->out[TABLE_CLIENT_ENDPOINT],
		    p->cerows.data ? p->cerows.data : "", p->cerows.len);
	if (p->sts.looked_up)
		sts_facts_row(&p->sts, &p->out[TABLE_MTA_STS],
			      p->env->campaign_id, p->target_id);
	if (p->rpt.looked_up)
		rpt_facts_row(&p->rpt, &p->out[TABLE_TLSRPT],
			      p->env->campaign_id, p->target_id);
	write_client_rows(p);
}

static void probe_free(struct probe *p)
{
	for (size_t i = 0; i < p->nhosts; i++) {
		struct host *h = &p->hosts[i];
		free(h->name);
		free(h->canon);
		free(h->tlsa_name);
		jbuf_free(&h->cname);
		jbuf_free(&h->tlsa);
		for (size_t k = 0; k < h->nrec; k++)
			free((void *)h->rec[k].data);
		/* The registry may drop them now (epreg.h). */
		for (size_t k = 0; k < 2 * PROBE_ADDR_MAX; k++)
			epreg_release(p->env->reg, h->done[k]);
	}
	/* Hosts beyond nhosts were allocated but never named. */
	free(p->hosts);
	client_free(p);
	free(p->keys);
	jbuf_free(&p->rrset);
	jbuf_free(&p->apex_cname);
	jbuf_free(&p->eprows);
	jbuf_free(&p->certrows);
	jbuf_free(&p->records);
	jbuf_free(&p->cerows);
	sts_facts_free(&p->sts);
	rpt_facts_free(&p->rpt);
	free(p->domain);
	free(p);
}

static void finish(struct probe *p)
{
	struct probe_counts delta = { 0 };
	size_t before[TABLE_LAST];
	enum probe_unrecorded why = own_rows_cause(p);

	for (int t = 0; t < TABLE_LAST; t++)
		before[t] = p->out[t].len;
	if (!why)
		write_rows(p, &delta);
	for (int t = 0; t < TABLE_LAST && !why; t++)
		why = buf_cause(&p->out[t], PROBE_BATCH_FULL);
	if (why) {
		/* A domain whose rows could not be made is taken out whole;
		 * the batch keeps everything else, and the domain keeps one
		 * row saying why. When even that does not fit, it has none
		 * (targets without a row are the report's "not scanned"). */
		for (int t = 0; t < TABLE_LAST; t++) {
			p->out[t].failed = JBUF_OK;
			p->out[t].len = before[t];
			if (p->out[t].data)
				p->out[t].data[before[t]] = '\0';
		}
		delta.refused_addresses = 0;
		(void)write_unrecorded(
		    p->env, p->target_id, p->domain, p->queries,
		    (int64_t)(uv_now(p->env->loop) - p->start_ms), why,
		    &p->out[TABLE_DOMAIN_DNS]);
		delta.not_recorded++;
	}
	delta.domains = 1;
	delta.queries = p->queries;
	delta.endpoints_probed = p->ep_probed;
	delta.starttls_ok = p->ep_starttls;
	if (!why && p->mx_outcome) {
		const char *o = p->mx_outcome;
		if (!strcmp(o, "mx"))
			delta.mx++;
		else if (!strcmp(o, "implicit_mx"))
			delta.implicit_mx++;
		else if (!strncmp(o, "null_mx", 7))
			delta.null_mx++;
		else if (!strcmp(o, "no_domain"))
			delta.no_domain++;
		else if (!strcmp(o, "blocklisted"))
			delta.blocklisted++;
		else
			delta.dns_error++;
	}
	p->cb(p->arg, &delta);
	probe_free(p);
}

/* --- SMTP/TLS stage ---------------------------------------------------- */

/* No client slot: the ep_wait is an MX host's. */
#define PROBE_NO_CSLOT ((size_t)-1)

/* A domain waiting for (or making) one endpoint probe: of an MX host's
 * address (host, addr), or of client slot `cslot`. */
struct ep_wait {
	struct probe *p;
	size_t host, addr;
	size_t cslot;
	struct ep_key key;
};

static void ep_arrived(struct probe *p, size_t hi, size_t k,
		       const struct ep_done *d)
{
	p->hosts[hi].done[k] = d;
	work_returned(p, PROBE_WORK_ENDPOINT);
}

static void cep_arrived(struct probe *p, size_t slot, const struct ep_done *d)
{
	p->cslots[slot].done = d;
	work_returned(p, PROBE_WORK_ENDPOINT);
}

static void on_ep_probed(void *arg, const struct endpoint_result *r);
static void publish_failure(struct ep_wait *w);
static void cep_probe(struct ep_wait *w);

static void on_ep_wait(void *arg, const struct ep_done *d)
{
	struct ep_wait *w = arg;
	struct probe *p = w->p;
	size_t hi = w->host, k = w->addr;

	if (w->cslot != PROBE_NO_CSLOT) {
		size_t slot = w->cslot;
		if (!d) {
			/* Our claim was won: probe it, then publish. */
			cep_probe(w);
			return;
		}
		free(w);
		cep_arrived(p, slot, d);
		return;
	}
	if (!d) {
		/* Our claim was won: probe it, then publish. */
		struct host *h = &p->hosts[hi];
		if (endpoint_probe(p->env->ep_env, &h->addrs[k],
				   PROBE_SMTP_PORT, h->name, on_ep_probed,
				   w) != 0)
			publish_failure(w);
		return;
	}
	free(w);
	ep_arrived(p, hi, k, d);
}

/* The probe could not be made (out of memory): publish a failure so that
 * waiters are not stuck; the domain is failed. Frees w. */
static void publish_failure(struct ep_wait *w)
{
	struct probe *p = w->p;
	size_t hi = w->host, k = w->addr;
	struct ep_done *fail = calloc(1, sizeof *fail);

	if (fail)
		snprintf(fail->outcome, sizeof fail->outcome, "no_memory");
	const struct ep_done *pub =
	    fail ? epreg_publish(p->env->reg, &w->key, fail) : NULL;
	size_t slot = w->cslot;
	free(w);
	oom(p);
	if (slot != PROBE_NO_CSLOT)
		cep_arrived(p, slot, pub);
	else
		ep_arrived(p, hi, k, pub);
}

/* A session fact as a COPY boolean: NULL when it was never observed. */
static void copy_fact(struct jbuf *b, enum smtp_fact f)
{
	if (f == SMTP_FACT_YES || f == SMTP_FACT_NO)
		copy_bool(b, f == SMTP_FACT_YES);
	else
		copy_null(b);
}

/* The endpoint row (to b) and the rows of its certificates (to certs). */
static void endpoint_row(struct probe *p, const struct endpoint_result *r,
			 const struct verify_result *vr, bool judged,
			 struct jbuf *b, struct jbuf *certs)
{
	const struct smtp_facts *f = &r->session->facts;
	const struct smtp_transcript *tr = &r->session->transcript;
	struct copy_array arr;
	char ip[64], now[64];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S+00", &tm);
	addr_format(&r->addr, ip, sizeof ip);
	copy_int(b, p->env->campaign_id);
	copy_field(b);
	copy_str(b, ip);
	copy_field(b);
	copy_int(b, r->port);
	copy_field(b);
	copy_str(b, r->sni);
	copy_field(b);
	copy_str(b, p->env->worker);
	copy_field(b);
	copy_str(b, now);
	copy_field(b);
	copy_str(b, smtp_rc_str(f->outcome));
	copy_field(b);
	copy_str(b, smtp_state_str(f->end_state));
	copy_field(b);
	copy_str(b, conn_rc_str(r->conn_rc));
	copy_field(b);
	if (f->banner_code)
		copy_int(b, f->banner_code);
	else
		copy_null(b);
	copy_field(b);
	if (f->ehlo_code)
		copy_int(b, f->ehlo_code);
	else
		copy_null(b);
	copy_field(b);
	if (f->helo_code)
		copy_int(b, f->helo_code);
	else
		copy_null(b);
	copy_field(b);
	copy_fact(b, f->starttls_offered);
	copy_field(b);
	if (f->starttls_code)
		copy_int(b, f->starttls_code);
	else
		copy_null(b);
	copy_field(b);
	copy_str(b, f->stripping != SMTP_STRIP_NONE
			? smtp_stripping_str(f->stripping)
			: NULL);
	copy_field(b);
	copy_fact(b, f->injection);
	copy_field(b);
	copy_fact(b, f->overlong_line);
	copy_field(b);
	copy_fact(b, f->bare_lf);
	copy_field(b);
	/* Keywords exist only in a 2xx EHLO answer: without one they were
	 * not reached (NULL), which an empty list would hide. */
	if (f->ehlo_code / 100 == 2) {
		copy_array_begin(&arr, b);
		for (size_t i = 0; i < f->nkeywords; i++)
			copy_array_text(&arr, f->keywords[i],
					strlen(f->keywords[i]));
		copy_array_end(&arr);
	} else {
		copy_null(b);
	}
	copy_field(b);
	if (f->banner_code)
		copy_bytea(b, f->banner, f->banner_len);
	else
		copy_null(b);
	copy_field(b);
	if (r->tls_done) {
		copy_str(b, r->tls->version);
		copy_field(b);
		copy_str(b, r->tls->cipher);
		copy_field(b);
		copy_str(b, r->tls->group[0] ? r->tls->group : NULL);
		copy_field(b);
		copy_int(b, r->tls->handshake_ms);
	} else {
		jbuf_puts(b, "\\N\t\\N\t\\N\t\\N");
	}
	copy_field(b);
	copy_str(b, f->tls_reason[0] ? f->tls_reason : NULL);
	copy_field(b);
	copy_array_begin(&arr, b);
	for (size_t i = 0; r->tls_done && i < r->tls->nchain; i++) {
		uint8_t digest[CERT_SHA256_LEN];
		if (cert_sha256(r->tls->chain[i], r->tls->chain_len[i],
				digest) == 0)
			copy_array_bytea(&arr, digest, sizeof digest);
		cert_copy_row(certs, r->tls->chain[i], r->tls->chain_len[i]);
	}
	copy_array_end(&arr);
	copy_field(b);
	copy_int(b, r->tls_done ? (int64_t)r->tls->chain_total : 0);
	copy_field(b);
	/* The verdict's columns, as reverify stores them too, then the
	 * two the scan alone keeps. */
	verdict_copy(b, judged ? vr : NULL);
	copy_field(b);
	if (judged) {
		copy_bool(b, vr->out_of_order);
		copy_field(b);
		copy_int(b, vr->leaf_san_count);
	} else {
		jbuf_puts(b, "\\N\t\\N");
	}
	copy_field(b);
	copy_bytea(b, tr->bytes, tr->len);
	copy_field(b);
	copy_int(b, r->elapsed_ms);
	copy_row_end(b);
}

/* The handshake record, as a line for the store to compress. */
static void record_line(struct jbuf *b, const struct endpoint_result *r)
{
	char ip[64];

	addr_format(&r->addr, ip, sizeof ip);
	jbuf_printf(b, "%s\t%d\t", ip, r->port);
	copy_str(b, r->sni);
	jbuf_puts(b, "\t");
	eprecord_json(b, r);
	jbuf_puts(b, "\n");
}

/* The rows of a probe whose claim we won, for the claim thread; NULL when
 * out of memory. */
static struct epclaim_result *claim_rows_new(void)
{
	struct epclaim_result *x = calloc(1, sizeof *x);
	if (x) {
		jbuf_init(&x->endpoint_rows, PROBE_ROWS_MAX);
		jbuf_init(&x->cert_rows, PROBE_ROWS_MAX);
		jbuf_init(&x->record, PROBE_ROWS_MAX);
	}
	return x;
}

static void claim_rows_free(struct epclaim_result *x)
{
	if (!x)
		return;
	jbuf_free(&x->endpoint_rows);
	jbuf_free(&x->cert_rows);
	jbuf_free(&x->record);
	free(x);
}

/*
 * Hands the result d of a probe whose claim we won, and its rows x, to
 * the claim thread, and has w wait for that result like everyone else:
 * it arrives (on_ep_wait) once the rows are stored. false: out of
 * memory, w waits for nothing (the others still get the result).
 */
static bool claim_finish(struct probe *p, struct ep_wait *w, struct ep_done *d,
			 struct epclaim_result *x)
{
	const struct ep_done *none = NULL;
	enum epreg_answer a = epreg_request(
	    p->env->reg, &w->key, p->env->worker_index, on_ep_wait, w, &none);
	x->key = w->key;
	x->done = d;
	epclaim_finish(p->env->claims, x);
	return a == EPREG_WAIT;
}

/* The owner's probe finished: judge the chain once (PKIX: the same for
 * every domain), publish the result and the chain for every domain that
 * uses this endpoint (each judges DANE itself), and keep the rows. */
static void on_ep_probed(void *arg, const struct endpoint_result *r)
{
	struct ep_wait *w = arg;
	struct probe *p = w->p;
	struct ep_done *d = calloc(1, sizeof *d);
	struct epclaim_result *x = NULL;
	struct verify_result vr;
	size_t n = r->tls_done ? r->tls->nchain : 0;
	struct verify_der *der = n ? calloc(n, sizeof *der) : NULL;
	bool judged = false;

	if (n && !der) {
		/* Out of memory: published as a failure below. */
		free(d);
		d = NULL;
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		der[i] = (struct verify_der){ r->tls->chain[i],
					      r->tls->chain_len[i] };
	if (n && verify_chain(p->env->verify, der, n, time(NULL), r->sni, NULL,
			      &vr) == VERIFY_OK)
		judged = true;
	if (p->env->claims) {
		/* Rows go to the claim thread, which stores them before it
		 * publishes the result (epclaim.h). */
		x = claim_rows_new();
		if (x) {
			endpoint_row(p, r, &vr, judged, &x->endpoint_rows,
				     &x->cert_rows);
			record_line(&x->record, r);
		}
	} else {
		endpoint_row(p, r, &vr, judged, &p->eprows, &p->certrows);
		record_line(&p->records, r);
	}
	p->ep_probed++;
	if (d && ep_done_set_chain(d, der, n) != 0) {
		free(d);
		d = NULL;
	}
	free(der);
	if (!d || (p->env->claims && !x)) {
		ep_done_free(d);
		claim_rows_free(x);
		publish_failure(w);
		return;
	}
	snprintf(d->outcome, sizeof d->outcome, "%s",
		 smtp_rc_str(r->session->facts.outcome));
	d->starttls_ok =
	    r->tls_done && r->session->facts.outcome == SMTP_RC_STARTTLS_OK;
	p->ep_starttls += d->starttls_ok;
	d->trusted = judged && vr.trusted;
	d->name_matches_mx = judged && vr.name_matches_mx;
	if (x) {
		if (!claim_finish(p, w, d, x)) {
			size_t hi = w->host, k = w->addr;
			free(w);
			oom(p);
			ep_arrived(p, hi, k, NULL);
		}
		return;
	}
	const struct ep_done *pub = epreg_publish(p->env->reg, &w->key, d);
	size_t hi = w->host, k = w->addr;
	free(w);
	if (!pub) {
		oom(p);
		work_returned(p, PROBE_WORK_ENDPOINT);
		return;
	}
	ep_arrived(p, hi, k, pub);
}

static void endpoint_request(struct probe *p, size_t hi, size_t k)
{
	struct host *h = &p->hosts[hi];
	struct ep_wait *w = calloc(1, sizeof *w);
	const struct ep_done *d = NULL;

	if (!w) {
		oom(p);
		return;
	}
	w->p = p;
	w->host = hi;
	w->addr = k;
	w->cslot = PROBE_NO_CSLOT;
	w->key.addr = h->addrs[k];
	w->key.port = PROBE_SMTP_PORT;
	snprintf(w->key.sni, sizeof w->key.sni, "%s", h->name);
	switch (epreg_request(p->env->reg, &w->key, p->env->worker_index,
			      on_ep_wait, w, &d)) {
	case EPREG_DONE:
		h->done[k] = d;
		free(w);
		return;
	case EPREG_WAIT:
		probe_fsm_sent(&p->fsm, PROBE_WORK_ENDPOINT);
		return;
	case EPREG_PROBE:
		probe_fsm_sent(&p->fsm, PROBE_WORK_ENDPOINT);
		if (endpoint_probe(p->env->ep_env, &h->addrs[k],
				   PROBE_SMTP_PORT, h->name, on_ep_probed,
				   w) != 0)
			publish_failure(w);
		return;
	case EPREG_CLAIM:
		probe_fsm_sent(&p->fsm, PROBE_WORK_ENDPOINT);
		if (epclaim_request(p->env->claims, &w->key) != 0)
			publish_failure(w);
		return;
	case EPREG_NO_MEMORY:
		free(w);
		oom(p);
		return;
	}
}

/* A client probe this domain made finished: judge the chain once (PKIX,
 * the name against the SRV target: the same for every domain), keep the
 * rows with this domain's, publish for every domain naming the endpoint
 * (each judges its own name and DANE). */
static void on_cep_probed(void *arg, const struct endpoint_result *r)
{
	struct ep_wait *w = arg;
	struct probe *p = w->p;
	const struct mail_session *m = clientep_session(r);
	struct mail_facts f = { .outcome = MAIL_RC_INTERNAL_ERROR };
	struct ep_done *d = calloc(1, sizeof *d);
	struct verify_result vr;
	size_t n = r->tls_done ? r->tls->nchain : 0;
	struct verify_der *der = n ? calloc(n, sizeof *der) : NULL;
	bool judged = false;

	if (m)
		mail_session_facts(m, &f);
	if (n && !der) {
		free(d);
		d = NULL;
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		der[i] = (struct verify_der){ r->tls->chain[i],
					      r->tls->chain_len[i] };
	if (n && verify_chain(p->env->verify, der, n, time(NULL), r->sni, NULL,
			      &vr) == VERIFY_OK)
		judged = true;
	struct epclaim_result *x = NULL;
	if (p->env->claims) {
		/* Rows go to the claim thread, which stores them before it
		 * publishes the result (epclaim.h), as for port 25. */
		x = claim_rows_new();
		if (x)
			clientep_row(&x->endpoint_rows, &x->cert_rows,
				     p->env->campaign_id, p->env->worker, r,
				     judged ? &vr : NULL);
	} else {
		clientep_row(&p->cerows, &p->certrows, p->env->campaign_id,
			     p->env->worker, r, judged ? &vr : NULL);
	}
	if (d && ep_done_set_chain(d, der, n) != 0) {
		free(d);
		d = NULL;
	}
	free(der);
	if (!d || (p->env->claims && !x)) {
		ep_done_free(d);
		claim_rows_free(x);
		publish_failure(w);
		return;
	}
	snprintf(d->outcome, sizeof d->outcome, "%s", mail_rc_str(f.outcome));
	/* The handshake completed: implicit, or after STARTTLS/STLS. */
	d->starttls_ok = r->tls_done && f.tls_ok;
	d->trusted = judged && vr.trusted;
	d->name_matches_mx = judged && vr.name_matches_mx;
	if (x) {
		if (!claim_finish(p, w, d, x)) {
			size_t slot = w->cslot;
			free(w);
			oom(p);
			cep_arrived(p, slot, NULL);
		}
		return;
	}
	const struct ep_done *pub = epreg_publish(p->env->reg, &w->key, d);
	size_t slot = w->cslot;
	free(w);
	if (!pub)
		oom(p);
	cep_arrived(p, slot, pub);
}

/* Probes the client endpoint of w (this domain asked first, or won its
 * claim); publishes a failure when the probe cannot start. */
static void cep_probe(struct ep_wait *w)
{
	struct probe *p = w->p;
	const struct cslot *cs = &p->cslots[w->cslot];
	const struct host *t;
	const struct cport *c = cslot_cport(p, cs, &t);

	if (endpoint_probe_ops(p->env->ep_env, &clientep_ops, (int)cs->svc,
			       &t->addrs[cs->addr], c->port, t->name,
			       on_cep_probed, w) != 0)
		publish_failure(w);
}

/* Asks for the endpoint of client slot `slot`: the registry's result,
 * another domain's probe under way, a probe of this domain's, or a claim
 * across processes (epclaim.h). */
static void cendpoint_request(struct probe *p, size_t slot)
{
	const struct cslot *cs = &p->cslots[slot];
	const struct host *t;
	const struct cport *c = cslot_cport(p, cs, &t);
	struct ep_wait *w = calloc(1, sizeof *w);
	const struct ep_done *d = NULL;

	if (!w) {
		oom(p);
		return;
	}
	w->p = p;
	w->cslot = slot;
	w->key.addr = t->addrs[cs->addr];
	w->key.port = c->port;
	w->key.service = (uint8_t)(1 + cs->svc);
	snprintf(w->key.sni, sizeof w->key.sni, "%s", t->name);
	switch (epreg_request(p->env->reg, &w->key, p->env->worker_index,
			      on_ep_wait, w, &d)) {
	case EPREG_DONE:
		p->cslots[slot].done = d;
		free(w);
		return;
	case EPREG_WAIT:
		probe_fsm_sent(&p->fsm, PROBE_WORK_ENDPOINT);
		return;
	case EPREG_PROBE:
		probe_fsm_sent(&p->fsm, PROBE_WORK_ENDPOINT);
		cep_probe(w);
		return;
	case EPREG_CLAIM:
		probe_fsm_sent(&p->fsm, PROBE_WORK_ENDPOINT);
		if (epclaim_request(p->env->claims, &w->key) != 0)
			publish_failure(w);
		return;
	case EPREG_NO_MEMORY:
		free(w);
		oom(p);
		return;
	}
}

/* Whether address k of SRV target t may be contacted, once (the first of
 * equal addresses). */
static bool ctarget_contact(const struct probe *p, const struct host *t,
			    size_t k)
{
	for (size_t j = 0; j < k; j++)
		if (memcmp(&t->addrs[j], &t->addrs[k], sizeof t->addrs[k]) == 0)
			return false;
	return address_ok(p, t, k);
}

/* The client endpoints of every kept SRV record whose target resolved:
 * each contactable address, with the record's service and port, SNI =
 * the SRV target (RFC 6186 §4 names it the reference identity). The
 * slots are made first, all at once: callbacks may come while asking. */
static void client_start(struct probe *p)
{
	size_t n = 0;

	if (!p->env->ep_env || !p->env->client_srv)
		return;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < PROBE_SERVICES; i++) {
			const struct srv_service *sv = &p->srv[i];
			for (size_t j = 0; j < sv->nrec; j++) {
				const struct srv_rec *r = &sv->rec[j];
				if (r->cport == PROBE_NO_CPORT)
					continue;
				const struct host *t =
				    &p->ctargets[p->cports[r->cport].target];
				if (host_dns_failed(t))
					continue;
				for (size_t k = 0; k < t->naddr; k++) {
					if (!ctarget_contact(p, t, k))
						continue;
					if (pass == 1)
						p->cslots[n] =
						    (struct cslot){ .svc = i,
								    .rec = j,
								    .addr = k };
					n++;
				}
			}
		}
		n += mxc_slots(p, pass == 1 ? p->cslots + n : NULL);
		if (pass == 0) {
			if (n == 0)
				return;
			p->cslots = calloc(n, sizeof *p->cslots);
			if (!p->cslots) {
				oom(p);
				return;
			}
			n = 0;
		}
	}
	p->ncslots = n;
	for (size_t s = 0; s < p->ncslots && !p->failed; s++)
		cendpoint_request(p, s);
}

/* PROBE_ACT_START_SMTP: the policy fetch when due, and every contactable
 * endpoint of every kept MX host (SNI = the MX host) when the SMTP stage
 * is on, and those of the SRV targets with --client-ports srv. */
static void smtp_start(struct probe *p)
{
	sts_fetch_start(p);
	client_start(p);
	for (size_t i = 0; p->env->ep_env && i < p->nhosts; i++) {
		struct host *h = &p->hosts[i];
		if (!h->kept || host_dns_failed(h))
			continue;
		for (size_t k = 0; k < h->naddr; k++) {
			bool dup = false;
			for (size_t j = 0; j < k; j++)
				dup |= memcmp(&h->addrs[j], &h->addrs[k],
					      sizeof h->addrs[k]) == 0;
			if (!dup && address_ok(p, h, k))
				endpoint_request(p, i, k);
		}
	}
}

/* --- MTA-STS and TLS-RPT ---------------------------------------------- */

static void on_sts_fetched(const struct stsfetch_result *r, void *arg)
{
	struct probe *p = arg;

	if (sts_facts_fetched(&p->sts, r, &p->certrows) != 0)
		oom(p);
	work_returned(p, PROBE_WORK_FETCH);
}

/* The policy fetch, when the TXT record is valid: to the addresses of
 * mta-sts.<domain> the address policy allows. */
static void sts_fetch_start(struct probe *p)
{
	struct sts_facts *s = &p->sts;
	char text[STSFETCH_MAX_ADDRS][64];
	const char *addrs[STSFETCH_MAX_ADDRS];
	size_t n = 0;

	if (!s->fetch_due || !p->env->sts)
		return;
	/* The policy host is used with the addresses it got when only one
	 * of its lookups failed without being bogus, like an MX host (see
	 * probe_lookups_partial()). */
	struct probe_lookups l = { .a_done = s->a_done,
				   .aaaa_done = s->aaaa_done,
				   .a_failed = p->sts_a_failed,
				   .aaaa_failed = p->sts_aaaa_failed,
				   .a_st = s->a_st,
				   .aaaa_st = s->aaaa_st,
				   .naddr = s->naddr };
	s->host_failed = probe_lookups_failed(&l);
	bool blocked = addr_policy_domain_blocked(p->env->policy, s->host);
	for (size_t i = 0; i < s->naddr; i++) {
		if (blocked ||
		    addr_policy_check(p->env->policy, &s->addrs[i]) !=
			ADDR_POLICY_OK)
			continue;
		addr_format(&s->addrs[i], text[n], sizeof text[n]);
		addrs[n] = text[n];
		n++;
	}
	if (s->host_failed || s->naddr == 0) {
		s->fetch = stsfetch_rc_str(STSFETCH_DNS_ERROR);
		return;
	}
	if (n == 0) {
		s->fetch = stsfetch_rc_str(STSFETCH_REFUSED_ADDRESS);
		return;
	}
	probe_fsm_sent(&p->fsm, PROBE_WORK_FETCH);
	if (stsfetch_start(p->env->sts, s->host, addrs, n, on_sts_fetched, p) !=
	    0) {
		probe_fsm_returned(&p->fsm, PROBE_WORK_FETCH);
		s->fetch = stsfetch_rc_str(STSFETCH_OUT_OF_MEMORY);
		oom(p);
	}
}

/* No usable answer for a lookup whose result is not about existence. */
static bool answer_failed(const struct resolver_answer *a)
{
	return a->rc != RESOLVER_OK || !a->msg || dnssec_failed(a->dnssec) ||
	       (a->rcode != DNS_RCODE_NOERROR &&
		a->rcode != DNS_RCODE_NXDOMAIN);
}

/* The TXT records at the end of the answer's CNAME chain, each one's
 * strings joined, packed into buf (a->len bytes always suffice). */
static size_t txt_records(const struct query *q,
			  const struct resolver_answer *a, uint8_t *buf,
			  struct mtasts_bytes *recs, struct copy_array *chain)
{
	char names[2][DNS_NAME_TEXT_MAX];
	const char *end =
	    follow(a->pkt, a->len, a->msg, q->qname, chain, names);
	size_t n = 0, used = 0;

	for (size_t i = 0; i < a->msg->nrr && n < PROBE_TXT_MAX; i++) {
		const struct dns_rr *rr = &a->msg->rr[i];
		struct dns_txt t;
		if (rr->section != DNS_SECTION_ANSWER ||
		    rr->type != DNS_TYPE_TXT ||
		    strcmp(dns_rr_owner(a->msg, rr), end) != 0 ||
		    dns_rr_txt(a->pkt, a->len, rr, buf + used, a->len - used,
			       &t) != DNS_OK)
			continue;
		recs[n++] = (struct mtasts_bytes){ t.data, t.len };
		used += t.len;
	}
	return n;
}

static void on_sts_txt(struct probe *p, const struct query *q,
		       const struct resolver_answer *a)
{
	struct mtasts_bytes recs[PROBE_TXT_MAX];
	struct jbuf cname;
	struct copy_array chain;
	uint8_t *buf = NULL;
	size_t n = 0;
	bool failed = answer_failed(a);

	jbuf_init(&cname, PROBE_ARRAY_MAX);
	copy_array_begin(&chain, &cname);
	if (!failed && a->rcode == DNS_RCODE_NOERROR) {
		buf = malloc(a->len ? a->len : 1);
		if (!buf) {
			oom(p);
			jbuf_free(&cname);
			return;
		}
		n = txt_records(q, a, buf, recs, &chain);
	}
	copy_array_end(&chain);
	if (sts_facts_txt(&p->sts, recs, n, cname.data, cname.len, failed) != 0)
		oom(p);
	free(buf);
	jbuf_free(&cname);
	if (!p->env->sts)
		p->sts.fetch_due = false; /* DNS only: no policy host */
	if (!p->sts.fetch_due)
		return;
	snprintf(p->sts.host, sizeof p->sts.host, "mta-sts.%s", p->domain);
	query_send(p, Q_STS_A, 0, p->sts.host, DNS_TYPE_A);
	query_send(p, Q_STS_AAAA, 0, p->sts.host, DNS_TYPE_AAAA);
}

static void on_rpt_txt(struct probe *p, const struct query *q,
		       const struct resolver_answer *a)
{
	struct mtasts_bytes recs[PROBE_TXT_MAX];
	struct tlsrpt_bytes rrecs[PROBE_TXT_MAX];
	uint8_t *buf = NULL;
	size_t n = 0;
	bool failed = answer_failed(a);

	if (!failed && a->rcode == DNS_RCODE_NOERROR) {
		buf = malloc(a->len ? a->len : 1);
		if (!buf) {
			oom(p);
			return;
		}
		n = txt_records(q, a, buf, recs, NULL);
	}
	for (size_t i = 0; i < n; i++)
		rrecs[i] = (struct tlsrpt_bytes){ recs[i].p, recs[i].len };
	rpt_facts_txt(&p->rpt, rrecs, n, failed);
	if (p->rpt.rua.failed)
		oom(p);
	free(buf);
}

static void on_sts_address(struct probe *p, const struct query *q,
			   const struct resolver_answer *a)
{
	struct sts_facts *s = &p->sts;
	bool failed = answer_failed(a);

	if (q->kind == Q_STS_A) {
		s->a_done = true;
		s->a_st = a->dnssec;
		p->sts_a_failed = failed;
	} else {
		s->aaaa_done = true;
		s->aaaa_st = a->dnssec;
		p->sts_aaaa_failed = failed;
	}
	if (failed || a->rcode != DNS_RCODE_NOERROR)
		return;
	char names[2][DNS_NAME_TEXT_MAX];
	const char *end = follow(a->pkt, a->len, a->msg, q->qname, NULL, names);
	answer_addresses(a, q->qtype, end, s->addrs, &s->naddr,
			 STSFETCH_MAX_ADDRS);
}

/* --- mail client services (SRV) --------------------------------------- */

/* Sorted as the M12 contract says: priority, weight, then target and
 * port, so that the order is stable whatever order the answer had. */
static int srv_rec_cmp(const void *x, const void *y)
{
	const struct srv_rec *a = x, *b = y;
	int c;

	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	c = strcmp(a->target, b->target);
	if (c)
		return c;
	return (a->port > b->port) - (a->port < b->port);
}

/* The index of target `name` in p->ctargets, added (and its A and AAAA
 * asked) when new; PROBE_NO_CPORT when out of memory. */
static size_t ctarget_add(struct probe *p, const char *name)
{
	for (size_t i = 0; i < p->nctargets; i++)
		if (strcmp(p->ctargets[i].name, name) == 0)
			return i;
	if (p->nctargets == p->ctargets_cap) {
		size_t cap = p->ctargets_cap ? 2 * p->ctargets_cap : 2;
		struct host *t = realloc(p->ctargets, cap * sizeof *t);
		if (!t) {
			oom(p);
			return PROBE_NO_CPORT;
		}
		p->ctargets = t;
		p->ctargets_cap = cap;
	}
	struct host *h = &p->ctargets[p->nctargets];
	memset(h, 0, sizeof *h);
	jbuf_init(&h->cname, PROBE_ARRAY_MAX);
	jbuf_init(&h->tlsa, PROBE_ARRAY_MAX);
	h->kept = true;
	h->name = strdup(name);
	if (!h->name) {
		jbuf_free(&h->cname);
		jbuf_free(&h->tlsa);
		oom(p);
		return PROBE_NO_CPORT;
	}
	size_t i = p->nctargets++;
	query_send(p, Q_SRV_A, i, name, DNS_TYPE_A);
	query_send(p, Q_SRV_AAAA, i, name, DNS_TYPE_AAAA);
	return i;
}

/* Asks TLSA at _<port>._tcp.<target> once the target's address lookups
 * are in, when an SRV RRset naming the pair and the target's address
 * RRsets are secure (RFC 7673 §3; the rule of probe_tlsa_due()). The
 * SRV target itself is the TLSA base: RFC 2782 forbids aliases there. */
static void cport_tlsa_maybe(struct probe *p, size_t ci)
{
	struct cport *c = &p->cports[ci];
	const struct host *t = &p->ctargets[c->target];
	struct probe_lookups l = host_lookups(t);
	char qname[DNS_NAME_TEXT_MAX + 16];

	if (c->tlsa_looked_up ||
	    !probe_tlsa_due(c->srv_secure ? DNSSEC_SECURE : DNSSEC_INSECURE,
			    &l))
		return;
	c->tlsa_looked_up = true;
	snprintf(qname, sizeof qname, "_%u._tcp.%s", c->port, t->name);
	query_send(p, Q_SRV_TLSA, ci, qname, DNS_TYPE_TLSA);
}

/* A fresh (target, port): nothing looked up yet. */
static void cport_init(struct cport *c, size_t target, uint16_t port)
{
	memset(c, 0, sizeof *c);
	c->target = target;
	c->port = port;
	jbuf_init(&c->tlsa, PROBE_ARRAY_MAX);
}

/* The index of (target, port) in p->cports, added when new;
 * PROBE_NO_CPORT when out of memory. */
static size_t cport_add(struct probe *p, size_t target, uint16_t port,
			bool srv_secure)
{
	size_t i;

	for (i = 0; i < p->ncports; i++)
		if (p->cports[i].target == target && p->cports[i].port == port)
			break;
	if (i == p->ncports) {
		if (p->ncports == p->cports_cap) {
			size_t cap = p->cports_cap ? 2 * p->cports_cap : 2;
			struct cport *c = realloc(p->cports, cap * sizeof *c);
			if (!c) {
				oom(p);
				return PROBE_NO_CPORT;
			}
			p->cports = c;
			p->cports_cap = cap;
		}
		cport_init(&p->cports[i], target, port);
		p->ncports++;
	}
	p->cports[i].srv_secure |= srv_secure;
	cport_tlsa_maybe(p, i);
	return i;
}

/*
 * The SRV answer of one service (q->host): its status as recorded for
 * every RRset, whether the service is offered (M12 contract: a lone "."
 * record is "decidedly not offered", no RRset is "nothing advertised"),
 * the records sorted and capped, and the targets' lookups started.
 */
static void on_srv(struct probe *p, const struct query *q,
		   const struct resolver_answer *a)
{
	struct srv_service *sv = &p->srv[q->host];
	char buf[2][DNS_NAME_TEXT_MAX];
	struct srv_rec *all;
	size_t n = 0;

	sv->answered = true;
	sv->outcome = resolver_outcome_str(a->rc, a->rcode);
	sv->rcode = a->rcode;
	sv->st = a->dnssec;
	sv->why = a->why;
	sv->n_ede = a->n_ede < DNS_MSG_MAX_EDE ? a->n_ede : DNS_MSG_MAX_EDE;
	memcpy(sv->ede, a->ede, sv->n_ede * sizeof sv->ede[0]);
	if (answer_failed(a)) {
		sv->srv = "dns_error";
		return;
	}
	if (a->rcode == DNS_RCODE_NXDOMAIN) {
		sv->srv = "none";
		return;
	}
	const char *end = follow(a->pkt, a->len, a->msg, q->qname, NULL, buf);
	/* Every record first, sorted, then the first PROBE_SRV_CAP kept:
	 * which ones are kept must not depend on the answer's order. */
	all = calloc(a->msg->nrr ? a->msg->nrr : 1, sizeof *all);
	if (!all) {
		oom(p);
		return;
	}
	for (size_t i = 0; i < a->msg->nrr; i++) {
		const struct dns_rr *rr = &a->msg->rr[i];
		struct dns_srv srv;
		if (rr->section != DNS_SECTION_ANSWER ||
		    rr->type != DNS_TYPE_SRV ||
		    strcmp(dns_rr_owner(a->msg, rr), end) != 0 ||
		    dns_rr_srv(a->pkt, a->len, rr, &srv) != DNS_OK)
			continue;
		all[n] = (struct srv_rec){ srv.priority, srv.weight, srv.port,
					   strdup(srv.target), PROBE_NO_CPORT };
		if (!all[n].target) {
			oom(p);
			break;
		}
		n++;
	}
	qsort(all, n, sizeof *all, srv_rec_cmp);
	sv->count = n;
	if (n == 0)
		sv->srv = "none";
	else if (n == 1 && strcmp(all[0].target, ".") == 0)
		sv->srv = "not_offered";
	else
		sv->srv = "records";
	for (size_t i = 0; i < n; i++) {
		if (i >= PROBE_SRV_CAP) {
			free(all[i].target);
			continue;
		}
		sv->rec[sv->nrec++] = all[i];
	}
	free(all);
	for (size_t i = 0; i < sv->nrec && !p->failed; i++) {
		struct srv_rec *r = &sv->rec[i];
		if (strcmp(r->target, ".") == 0)
			continue;
		size_t t = ctarget_add(p, r->target);
		if (t != PROBE_NO_CPORT)
			r->cport =
			    cport_add(p, t, r->port, sv->st == DNSSEC_SECURE);
	}
}

static void on_srv_address(struct probe *p, const struct query *q,
			   const struct resolver_answer *a)
{
	host_address(p, &p->ctargets[q->host], q, a);
	for (size_t i = 0; i < p->ncports; i++)
		if (p->cports[i].target == q->host)
			cport_tlsa_maybe(p, i);
}

/* A TLSA answer about (target, port) c: an SRV target's or an MX
 * host's. */
static void on_srv_tlsa_into(struct probe *p, const struct query *q,
			     const struct resolver_answer *a, struct cport *c)
{
	tlsa_answer(p, q, a, &c->tlsa_name, &c->tlsa_st, &c->tlsa, &c->ntlsa,
		    c->rec, &c->nrec);
}

static void on_srv_tlsa(struct probe *p, const struct query *q,
			const struct resolver_answer *a)
{
	on_srv_tlsa_into(p, q, a, &p->cports[q->host]);
}

/* Whether a buffer of the client facts failed; *which is the first. */
static bool client_buffers_failed(const struct probe *p,
				  const struct jbuf **which)
{
	for (size_t i = 0; i < p->nctargets; i++)
		if (p->ctargets[i].cname.failed) {
			*which = &p->ctargets[i].cname;
			return true;
		}
	for (size_t i = 0; i < p->ncports; i++)
		if (p->cports[i].tlsa.failed) {
			*which = &p->cports[i].tlsa;
			return true;
		}
	for (size_t i = 0; i < p->nmxports; i++)
		if (p->mxports[i].tlsa.failed) {
			*which = &p->mxports[i].tlsa;
			return true;
		}
	return false;
}

/*
 * Whether this domain's TLSA records at _<port>._tcp.<target> authenticate
 * each client endpoint's chain, by RFC 7673 (verify_dane_for() with the
 * SRV profile: PKIX-TA/PKIX-EE usable; DANE-TA and the PKIX usages check
 * the name against the SRV target, the one reference identity: RFC 2782
 * forbids an alias there). Only where the records count: looked up on a
 * secure path, a secure answer, a usable record.
 */
static void client_chains(struct probe *p)
{
	for (size_t s = 0; s < p->ncslots; s++) {
		struct cslot *cs = &p->cslots[s];
		const struct host *t;
		const struct cport *c = cslot_cport(p, cs, &t);
		const struct ep_done *d = cs->done;
		struct verify_dane_result dr;
		unsigned usable = 0;

		for (size_t i = 0; i < c->nrec; i++)
			usable += verify_tlsa_usable_for(&c->rec[i],
							 VERIFY_DANE_SRV) ==
				  VERIFY_TLSA_USABLE;
		if (!d || !d->nchain || !c->tlsa_looked_up ||
		    c->tlsa_st != DNSSEC_SECURE || !usable)
			continue;
		const char *refs[1] = { t->name };
		cs->chain_ok =
		    verify_dane_for(p->env->verify, VERIFY_DANE_SRV, d->chain,
				    d->nchain, time(NULL), refs, 1, c->rec,
				    c->nrec, &dr) == VERIFY_OK &&
		    dr.outcome == VERIFY_DANE_OK;
	}
}

/* The DANE judgement of SRV record j of service i, from its (target,
 * port)'s TLSA answer (RFC 7673 profile). */
static void client_dane_init(const struct cport *c, struct verify_dane_host *dh)
{
	verify_dane_host_init_for(dh, VERIFY_DANE_SRV, c->tlsa_looked_up,
				  c->tlsa_st == DNSSEC_SECURE,
				  c->tlsa_st == DNSSEC_BOGUS, c->rec, c->nrec);
}

/*
 * The rows of the probed endpoints of service svc at rec (SRV record rec
 * of the service, or MX host rec when mx): domain_client_endpoint or
 * domain_client_mx_endpoint. *dh gathers them for the (host, port)'s own
 * outcome.
 */
static void client_domain_rows(struct probe *p, bool mx, size_t svc, size_t rec,
			       struct verify_dane_host *dh)
{
	struct jbuf *b = &p->out[mx ? TABLE_DOMAIN_CLIENT_MX_ENDPOINT
				    : TABLE_DOMAIN_CLIENT_ENDPOINT];

	for (size_t s = 0; s < p->ncslots; s++) {
		const struct cslot *cs = &p->cslots[s];
		if (cs->mx != mx || cs->svc != svc || cs->rec != rec ||
		    !cs->done)
			continue;
		const struct host *t;
		const struct cport *c = cslot_cport(p, cs, &t);
		const struct ep_done *d = cs->done;
		char ip[64];

		addr_format(&t->addrs[cs->addr], ip, sizeof ip);
		copy_int(b, p->env->campaign_id);
		copy_field(b);
		copy_int(b, p->target_id);
		copy_field(b);
		/* The key in each table's column order (schema/029, 033). */
		if (mx) {
			copy_int(b, (int64_t)rec);
			copy_field(b);
			copy_str(b, service_names[svc]);
		} else {
			copy_str(b, service_names[svc]);
			copy_field(b);
			copy_int(b, (int64_t)rec);
		}
		copy_field(b);
		copy_str(b, ip);
		copy_field(b);
		copy_int(b, c->port);
		copy_field(b);
		copy_str(b, t->name);
		copy_field(b);
		/* RFC 6186 §4 / RFC 7817: the domain as reference identity. */
		copy_names_domain(b, p, d);
		copy_field(b);
		enum verify_dane_outcome o =
		    verify_dane_host_endpoint(dh, d->starttls_ok, cs->chain_ok);
		copy_str(b, verify_dane_outcome_str(o));
		copy_field(b);
		copy_str(b, verify_dane_result_type(o));
		copy_row_end(b);
	}
}

/*
 * The TLSA and DANE columns of a client_srv_target or client_mx row:
 * (host, port) c's TLSA answer (c NULL: a record without a target) and,
 * once the endpoints are probed, the outcome over its contacted endpoints
 * (RFC 7673), as domain_mx.dane; their rows go out on the way
 * (client_domain_rows(p, mx, svc, rec)). ao: the host's address outcome.
 */
static void copy_client_dane(struct probe *p, struct jbuf *b,
			     const struct cport *c, const char *ao, bool mx,
			     size_t svc, size_t rec)
{
	copy_bool(b, c && c->tlsa_looked_up);
	copy_field(b);
	copy_str(b, c ? c->tlsa_name : NULL);
	copy_field(b);
	copy_str(b, c && c->tlsa_name ? dnssec_status_str(c->tlsa_st) : NULL);
	copy_field(b);
	jbuf_append(b, "{", 1);
	if (c && c->tlsa.len)
		jbuf_append(b, c->tlsa.data, c->tlsa.len);
	jbuf_append(b, "}", 1);
	copy_field(b);
	if (c && p->env->ep_env) {
		struct verify_dane_host dh;
		client_dane_init(c, &dh);
		client_domain_rows(p, mx, svc, rec, &dh);
		enum verify_dane_outcome o =
		    verify_dane_host_outcome(&dh, ao && !strcmp(ao, "ok"));
		copy_str(b, verify_dane_outcome_str(o));
		copy_field(b);
		copy_str(b, verify_dane_result_type(o));
	} else {
		jbuf_puts(b, "\\N\t\\N");
	}
}

/* The client_srv_target row of record r (the j-th kept) of service i. */
static void client_target_row(struct probe *p, size_t i, size_t j,
			      const struct srv_rec *r)
{
	struct jbuf *b = &p->out[TABLE_CLIENT_SRV_TARGET];
	const struct cport *c =
	    r->cport != PROBE_NO_CPORT ? &p->cports[r->cport] : NULL;
	const struct host *h = c ? &p->ctargets[c->target] : NULL;
	struct copy_array arr, verdicts;
	size_t refused;
	/* The MX hosts' vocabulary (contract: "means exactly what it means
	 * for MX hosts"), mx_no_address included. */
	const char *ao = h ? address_outcome(p, h, &refused) : NULL;

	copy_int(b, p->env->campaign_id);
	copy_field(b);
	copy_int(b, p->target_id);
	copy_field(b);
	copy_str(b, service_names[i]);
	copy_field(b);
	copy_int(b, (int64_t)j);
	copy_field(b);
	copy_int(b, r->priority);
	copy_field(b);
	copy_int(b, r->weight);
	copy_field(b);
	copy_int(b, r->port);
	copy_field(b);
	copy_str(b, r->target);
	copy_field(b);
	if (h && h->cname.len)
		jbuf_append(b, h->cname.data, h->cname.len);
	else
		jbuf_puts(b, "{}");
	copy_field(b);
	copy_str(b, ao);
	copy_field(b);
	copy_str(b, h && h->a_done ? dnssec_status_str(h->a_st) : NULL);
	copy_field(b);
	copy_str(b, h && h->aaaa_done ? dnssec_status_str(h->aaaa_st) : NULL);
	copy_field(b);
	/* addresses and their verdicts, in step; a duplicate once */
	struct jbuf vb;
	jbuf_init(&vb, PROBE_ARRAY_MAX);
	copy_array_begin(&arr, b);
	copy_array_begin(&verdicts, &vb);
	for (size_t k = 0; h && k < h->naddr; k++) {
		char text[64];
		bool dup = false;
		for (size_t m = 0; m < k; m++)
			dup |= memcmp(&h->addrs[m], &h->addrs[k],
				      sizeof h->addrs[k]) == 0;
		if (dup)
			continue;
		enum addr_verdict v =
		    addr_policy_check(p->env->policy, &h->addrs[k]);
		if (v == ADDR_POLICY_OK &&
		    addr_policy_domain_blocked(p->env->policy, h->name))
			v = ADDR_POLICY_BLOCKLIST;
		addr_format(&h->addrs[k], text, sizeof text);
		copy_array_text(&arr, text, strlen(text));
		const char *vs = addr_verdict_str(v);
		copy_array_text(&verdicts, vs, strlen(vs));
	}
	copy_array_end(&arr);
	copy_array_end(&verdicts);
	copy_field(b);
	if (vb.failed)
		b->failed = vb.failed;
	else
		jbuf_append(b, vb.data, vb.len);
	jbuf_free(&vb);
	copy_field(b);
	if (h)
		copy_bool(b, host_partial(h));
	else
		copy_null(b);
	copy_field(b);
	copy_client_dane(p, b, c, ao, false, i, j);
	copy_row_end(b);
}

/* The client_srv rows of the six services, and their records' rows. */
static void write_client_rows(struct probe *p)
{
	struct jbuf *b = &p->out[TABLE_CLIENT_SRV];
	struct copy_array arr;
	char qname[DNS_NAME_TEXT_MAX + 16];

	client_chains(p);
	for (size_t i = 0; p->env->client_srv && i < PROBE_SERVICES; i++) {
		const struct srv_service *sv = &p->srv[i];
		if (!sv->answered)
			continue;
		snprintf(qname, sizeof qname, "_%s._tcp.%s", service_names[i],
			 p->domain);
		copy_int(b, p->env->campaign_id);
		copy_field(b);
		copy_int(b, p->target_id);
		copy_field(b);
		copy_str(b, service_names[i]);
		copy_field(b);
		copy_str(b, qname);
		copy_field(b);
		copy_str(b, sv->outcome);
		copy_field(b);
		copy_str(b, sv->rcode >= 0 ? dns_rcode_str(sv->rcode) : NULL);
		copy_field(b);
		copy_str(b, dnssec_status_str(sv->st));
		copy_field(b);
		copy_str(b, dnssec_why_str(sv->why));
		copy_field(b);
		copy_array_begin(&arr, b);
		for (size_t k = 0; k < sv->n_ede; k++)
			copy_array_int(&arr, sv->ede[k]);
		copy_array_end(&arr);
		copy_field(b);
		copy_str(b, sv->srv);
		copy_field(b);
		if (!strcmp(sv->srv, "records"))
			copy_bool(b, true);
		else if (!strcmp(sv->srv, "not_offered"))
			copy_bool(b, false);
		else
			copy_null(b);
		copy_field(b);
		copy_int(b, (int64_t)sv->count);
		copy_field(b);
		copy_bool(b, sv->count > PROBE_SRV_CAP);
		copy_row_end(b);
		for (size_t j = 0; j < sv->nrec; j++)
			client_target_row(p, i, j, &sv->rec[j]);
	}
	mxc_rows(p);
}

/* Frees the n (host, port)s at c and what they own. */
static void cports_free(struct cport *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].tlsa_name);
		jbuf_free(&c[i].tlsa);
		for (size_t k = 0; k < c[i].nrec; k++)
			free((void *)c[i].rec[k].data);
	}
	free(c);
}

static void client_free(struct probe *p)
{
	/* The registry may drop them now (epreg.h). */
	for (size_t s = 0; s < p->ncslots; s++)
		epreg_release(p->env->reg, p->cslots[s].done);
	free(p->cslots);
	for (size_t i = 0; i < PROBE_SERVICES; i++)
		for (size_t j = 0; j < p->srv[i].nrec; j++)
			free(p->srv[i].rec[j].target);
	for (size_t i = 0; i < p->nctargets; i++) {
		struct host *h = &p->ctargets[i];
		free(h->name);
		free(h->canon);
		free(h->tlsa_name);
		jbuf_free(&h->cname);
		jbuf_free(&h->tlsa);
	}
	free(p->ctargets);
	cports_free(p->cports, p->ncports);
	cports_free(p->mxports, p->nmxports);
}

/* --- mail client services on the MX hosts (--client-ports mx) -------- */

/*
 * Where client slot cs points: its host (an SRV target, or the MX host of
 * an MX slot) into *t, and the (host, port) whose TLSA judges it.
 */
static const struct cport *cslot_cport(const struct probe *p,
				       const struct cslot *cs,
				       const struct host **t)
{
	if (cs->mx) {
		*t = &p->hosts[cs->rec];
		return &p->mxports[cs->rec * PROBE_SERVICES + cs->svc];
	}
	const struct srv_rec *r = &p->srv[cs->svc].rec[cs->rec];
	const struct cport *c = &p->cports[r->cport];
	*t = &p->ctargets[c->target];
	return c;
}

/* PROBE_ACT_ASK_HOSTS, before any address is asked: a (host, standard
 * port) per MX host and service, for TLSA and DANE. */
static void mxc_init(struct probe *p)
{
	if (!p->env->client_mx || !p->nhosts || p->mxports)
		return;
	p->mxports = calloc(p->nhosts * PROBE_SERVICES, sizeof *p->mxports);
	if (!p->mxports) {
		oom(p);
		return;
	}
	p->nmxports = p->nhosts * PROBE_SERVICES;
	for (size_t i = 0; i < p->nmxports; i++)
		cport_init(&p->mxports[i], i / PROBE_SERVICES,
			   service_ports[i % PROBE_SERVICES]);
}

/*
 * Asks TLSA at _<port>._tcp.<mx host> for the six standard ports once the
 * host's address lookups are in, when the MX RRset and the host's address
 * RRsets are secure: RFC 7673 §3's rule with the MX RRset in the SRV
 * RRset's place (the rule of probe_tlsa_due(), as for port 25). The base
 * is the MX host as named, as for an SRV target.
 */
static void mxc_tlsa_maybe(struct probe *p, size_t hi)
{
	const struct host *h = &p->hosts[hi];
	struct probe_lookups l = host_lookups(h);
	char qname[DNS_NAME_TEXT_MAX + 16];

	if (!p->mxports || !h->kept || !probe_tlsa_due(p->mx_st, &l))
		return;
	for (size_t s = 0; s < PROBE_SERVICES && !p->failed; s++) {
		size_t ci = hi * PROBE_SERVICES + s;
		struct cport *c = &p->mxports[ci];
		if (c->tlsa_looked_up)
			continue;
		c->tlsa_looked_up = true;
		snprintf(qname, sizeof qname, "_%u._tcp.%s", c->port, h->name);
		query_send(p, Q_MXC_TLSA, ci, qname, DNS_TYPE_TLSA);
	}
}

/*
 * The client slots of the MX hosts into out (NULL: only counted), and how
 * many: per kept MX host whose addresses resolved, per service, each
 * address port 25 would contact (the same address policy and blocklist,
 * each address once), on the service's standard port, SNI the MX host.
 */
static size_t mxc_slots(struct probe *p, struct cslot *out)
{
	size_t n = 0;

	if (!p->env->client_mx || !p->mxports)
		return 0;
	for (size_t hi = 0; hi < p->nhosts; hi++) {
		const struct host *h = &p->hosts[hi];
		if (!h->kept || host_dns_failed(h))
			continue;
		for (size_t s = 0; s < PROBE_SERVICES; s++)
			for (size_t k = 0; k < h->naddr; k++) {
				if (!ctarget_contact(p, h, k))
					continue;
				if (out)
					out[n] = (struct cslot){ .svc = s,
								 .rec = hi,
								 .addr = k,
								 .mx = true };
				n++;
			}
	}
	return n;
}

/* The client_mx rows (one per kept MX host and service) and their
 * domain_client_mx_endpoint rows. client_chains() has judged DANE. */
static void mxc_rows(struct probe *p)
{
	struct jbuf *b = &p->out[TABLE_CLIENT_MX];
	size_t refused;

	if (!p->env->client_mx || !p->mxports)
		return;
	for (size_t hi = 0; hi < p->nhosts; hi++) {
		const struct host *h = &p->hosts[hi];
		if (!h->kept)
			continue;
		const char *ao = address_outcome(p, h, &refused);
		for (size_t s = 0; s < PROBE_SERVICES; s++) {
			const struct cport *c =
			    &p->mxports[hi * PROBE_SERVICES + s];
			copy_int(b, p->env->campaign_id);
			copy_field(b);
			copy_int(b, p->target_id);
			copy_field(b);
			copy_int(b, (int64_t)hi);
			copy_field(b);
			copy_str(b, service_names[s]);
			copy_field(b);
			copy_str(b, h->name);
			copy_field(b);
			copy_int(b, c->port);
			copy_field(b);
			copy_str(b, ao);
			copy_field(b);
			copy_client_dane(p, b, c, ao, true, s, hi);
			copy_row_end(b);
		}
	}
}

/* --- queries --------------------------------------------------------- */

static void on_answer(void *arg, const struct resolver_answer *a)
{
	struct query *q = arg;
	struct probe *p = q->p;

	write_rrset(p, q, a);
	switch (q->kind) {
	case Q_MX:
		on_mx(p, q, a);
		probe_fsm_mx_answered(&p->fsm);
		break;
	case Q_A:
	case Q_AAAA:
		on_address(p, q, a);
		break;
	case Q_TLSA:
		on_tlsa(p, q, a);
		break;
	case Q_STS_TXT:
		on_sts_txt(p, q, a);
		probe_fsm_set_fetch_due(&p->fsm, p->sts.fetch_due);
		break;
	case Q_RPT_TXT:
		on_rpt_txt(p, q, a);
		break;
	case Q_STS_A:
	case Q_STS_AAAA:
		on_sts_address(p, q, a);
		break;
	case Q_SRV:
		on_srv(p, q, a);
		break;
	case Q_SRV_A:
	case Q_SRV_AAAA:
		on_srv_address(p, q, a);
		break;
	case Q_SRV_TLSA:
		on_srv_tlsa(p, q, a);
		break;
	case Q_MXC_TLSA:
		on_srv_tlsa_into(p, q, a, &p->mxports[q->host]);
		break;
	}
	free(q);
	work_returned(p, PROBE_WORK_DNS);
}

static void query_send(struct probe *p, enum query_kind kind, size_t host,
		       const char *qname, uint16_t qtype)
{
	size_t n = strlen(qname);
	struct query *q = malloc(sizeof *q + n + 1);

	if (!q) {
		oom(p);
		return;
	}
	q->p = p;
	q->kind = kind;
	q->host = host;
	q->qtype = qtype;
	memcpy(q->qname, qname, n + 1);
	probe_fsm_sent(&p->fsm, PROBE_WORK_DNS);
	int rc =
	    p->env->query
		? p->env->query(p->env->query_ctx, qname, qtype, on_answer, q)
		: resolver_query(p->env->resolver, qname, qtype, on_answer, q);
	if (rc != 0) {
		probe_fsm_returned(&p->fsm, PROBE_WORK_DNS);
		free(q);
		oom(p);
		return;
	}
	p->queries++;
}

/* --- sequencing ------------------------------------------------------- */

/* PROBE_ACT_ASK_DOMAIN: the questions about the domain itself. */
static void ask_domain(struct probe *p)
{
	char qname[DNS_NAME_TEXT_MAX + 16];

	query_send(p, Q_MX, 0, p->domain, DNS_TYPE_MX);
	snprintf(qname, sizeof qname, "_mta-sts.%s", p->domain);
	query_send(p, Q_STS_TXT, 0, qname, DNS_TYPE_TXT);
	snprintf(qname, sizeof qname, "_smtp._tls.%s", p->domain);
	query_send(p, Q_RPT_TXT, 0, qname, DNS_TYPE_TXT);
	/* M12: the client services' SRV owners, with the rest at once;
	 * their follow-ups keep the DNS stage open like the MX hosts'. */
	for (size_t i = 0; p->env->client_srv && i < PROBE_SERVICES; i++) {
		snprintf(qname, sizeof qname, "_%s._tcp.%s", service_names[i],
			 p->domain);
		query_send(p, Q_SRV, i, qname, DNS_TYPE_SRV);
	}
}

/* PROBE_ACT_ASK_HOSTS: A and AAAA of every kept MX host. */
static void ask_hosts(struct probe *p)
{
	mxc_init(p);
	for (size_t i = 0; i < p->nhosts && !p->failed; i++) {
		struct host *h = &p->hosts[i];
		if (!h->kept)
			continue;
		query_send(p, Q_A, i, h->name, DNS_TYPE_A);
		query_send(p, Q_AAAA, i, h->name, DNS_TYPE_AAAA);
	}
}

/*
 * The one loop that performs what the state machine asks for, until it
 * waits. Work that comes back from inside an action (an endpoint whose
 * probe could not start, a failed fetch) is counted by the machine and
 * seen at the loop's next step: only the outermost loop acts, so the
 * probe is never finished (and freed) under a caller's feet.
 */
static void advance(struct probe *p)
{
	if (p->stepping)
		return;
	p->stepping = true;
	for (;;) {
		switch (probe_fsm_step(&p->fsm)) {
		case PROBE_ACT_ASK_DOMAIN:
			ask_domain(p);
			break;
		case PROBE_ACT_ASK_HOSTS:
			ask_hosts(p);
			break;
		case PROBE_ACT_START_SMTP:
			smtp_start(p);
			break;
		case PROBE_ACT_FINISH:
			finish(p); /* frees p */
			return;
		case PROBE_ACT_WAIT:
		default:
			p->stepping = false;
			return;
		}
	}
}

/* Work of kind w came back: the machine counts it and moves on. A result
 * for work that was not out is refused by the machine and dropped. */
static void work_returned(struct probe *p, enum probe_work w)
{
	if (probe_fsm_returned(&p->fsm, w) == 0)
		advance(p);
}

int probe_start(struct probe_env *env, int64_t target_id, const char *domain,
		struct jbuf out[TABLE_LAST], probe_done_cb cb, void *arg)
{
	struct probe *p = calloc(1, sizeof *p);

	if (!p || !(p->domain = strdup(domain))) {
		/* Out of memory: this domain is done, not the scan. */
		struct probe_counts delta = { .domains = 1, .not_recorded = 1 };
		free(p);
		int rc = write_unrecorded(env, target_id, domain, 0, 0,
					  PROBE_OUT_OF_MEMORY,
					  &out[TABLE_DOMAIN_DNS]);
		if (rc != 0)
			return rc;
		cb(arg, &delta);
		return 0;
	}
	p->env = env;
	p->target_id = target_id;
	p->out = out;
	p->cb = cb;
	p->arg = arg;
	p->start_ms = uv_now(env->loop);
	jbuf_init(&p->rrset, PROBE_ROWS_MAX);
	jbuf_init(&p->apex_cname, PROBE_ARRAY_MAX);
	jbuf_init(&p->eprows, PROBE_ROWS_MAX);
	jbuf_init(&p->cerows, PROBE_ROWS_MAX);
	jbuf_init(&p->certrows, PROBE_ROWS_MAX);
	jbuf_init(&p->records, PROBE_ROWS_MAX);
	sts_facts_init(&p->sts);
	rpt_facts_init(&p->rpt);

	/* A blocked domain is honoured before any packet: the machine
	 * goes straight to finish, not even a DNS question. */
	bool blocked = addr_policy_domain_blocked(env->policy, domain);
	if (blocked)
		p->mx_outcome = "blocklisted";
	probe_fsm_init(&p->fsm, p->domain, blocked, env->ep_env != NULL,
		       getenv("MXCRAWL_TRACE_PROBE") != NULL);
	advance(p);
	return 0;
}
