/*
 * DNS lookups on a libuv loop: our own EDNS0 queries (DO and AD set, see
 * dns_wire.h) sent with c-ares' ares_send(), which keeps doing what it is
 * good at (retransmission, TCP fallback on truncation, server rotation),
 * with its sockets and timeouts driven by the loop. Every answer is parsed
 * by dns_msg_parse() and judged for DNSSEC:
 *
 *   secure         NOERROR/NXDOMAIN with AD
 *   insecure       NOERROR/NXDOMAIN without AD
 *   bogus          a SERVFAIL carrying EDE 6..12 (RFC 8914 DNSSEC errors),
 *                  or a "repeated SERVFAIL": SERVFAIL without such an EDE,
 *                  the same question with CD set answered (NOERROR or
 *                  NXDOMAIN), and asked once more without CD, SERVFAIL
 *                  again
 *   indeterminate  timeout, other errors, SERVFAIL that also fails with
 *                  CD, and a SERVFAIL without a DNSSEC EDE whose CD query
 *                  answered but whose repeat got no answer at all
 *   unknown        the resolver does not validate (canaries failed): the
 *                  status cannot be known, so it is never called insecure
 *
 * Why a SERVFAIL that answers with CD is not bogus by itself: a resolver
 * also answers SERVFAIL when the authoritative servers time out, and the
 * CD query, sent a moment later, may then find them (or the answer that
 * arrived meanwhile). Only a validation failure fails again the same way
 * once the data is known to the resolver: the repeat without CD tells
 * the two apart. When the repeat answers, the first SERVFAIL was
 * transient and the repeat's answer is the lookup's answer.
 *
 * One resolver per loop; not thread-safe (one per worker thread).
 */
#ifndef MXCRAWL_CRAWLER_RESOLVER_H
#define MXCRAWL_CRAWLER_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "crawler/dns/dns_wire.h"

enum dnssec_status {
	DNSSEC_UNKNOWN = 0,   /* resolver does not validate */
	DNSSEC_SECURE,	      /* AD set */
	DNSSEC_INSECURE,      /* answered, no AD */
	DNSSEC_BOGUS,	      /* validation failed: EDE 6-12, SERVFAIL twice */
	DNSSEC_INDETERMINATE, /* no usable answer: timeout, errors */
	DNSSEC_STATUS_LAST
};

/* What the status rests on (stored beside it, see dnssec_why_str()). */
enum dnssec_why {
	DNSSEC_WHY_NOT_VALIDATING = 0, /* unknown: resolver does not validate */
	DNSSEC_WHY_AD,		       /* secure: answer with AD */
	DNSSEC_WHY_NO_AD,	       /* insecure: answer without AD */
	/* secure or insecure by the repeat's AD: SERVFAIL without a DNSSEC
	 * EDE, CD answered, and so did the repeat without CD */
	DNSSEC_WHY_AFTER_SERVFAIL,
	DNSSEC_WHY_EDE,		      /* bogus: SERVFAIL with EDE 6..12 */
	DNSSEC_WHY_SERVFAIL_REPEATED, /* bogus: SERVFAIL, CD answered,
				       * SERVFAIL again without CD */
	/* indeterminate: SERVFAIL without a DNSSEC EDE, CD answered, the
	 * repeat without CD got no answer (timeout, error, other rcode) */
	DNSSEC_WHY_SERVFAIL_UNCONFIRMED,
	DNSSEC_WHY_SERVFAIL,  /* indeterminate: the CD query failed too */
	DNSSEC_WHY_NO_ANSWER, /* indeterminate: timeout, malformed, error */
	DNSSEC_WHY_RCODE,     /* indeterminate: REFUSED, FORMERR, ... */
	DNSSEC_WHY_LAST
};

/* How a lookup ended, before looking at the answer's rcode. */
enum resolver_rc {
	RESOLVER_OK = 0,    /* a response was parsed: see rcode */
	RESOLVER_TIMEOUT,   /* no response within timeout x tries */
	RESOLVER_MALFORMED, /* the response did not parse (dns_rc says why) */
	RESOLVER_BAD_NAME,  /* the name cannot be put in a query */
	RESOLVER_NO_MEMORY, /* out of memory for this lookup */
	RESOLVER_CONN_REFUSED, /* c-ares: ARES_ECONNREFUSED */
	RESOLVER_ERROR,	       /* another c-ares failure */
	RESOLVER_CANCELLED,    /* resolver_free() while pending */
	RESOLVER_RC_LAST
};

/* What a lookup found. Valid only during the callback: copy what you keep. */
struct resolver_answer {
	enum resolver_rc rc;
	enum dns_rc dns_rc; /* parse result when rc == RESOLVER_MALFORMED */
	int rcode;	    /* DNS rcode of the (first) answer, -1 if none */
	enum dnssec_status dnssec;
	enum dnssec_why why;
	bool cd_requeried; /* a CD query was sent to tell bogus apart */
	int cd_rcode;	   /* its rcode, -1 if not sent or no answer */
	/* After a SERVFAIL whose CD query answered: the question was asked
	 * once more without CD (again_rcode: its rcode, -1 if none). When
	 * that answered, pkt/msg/rcode/ede below are the repeat's. */
	bool requeried;
	int again_rcode;
	bool large;   /* answer over DNS_EDNS_UDP_SIZE bytes (TCP) */
	size_t n_ede; /* EDE codes of the first answer */
	uint16_t ede[DNS_MSG_MAX_EDE];
	const char *ede_text; /* first EDE's text, NUL-terminated, or "" */
	const uint8_t *pkt;   /* the first answer's bytes (NULL if none) */
	size_t len;
	const struct dns_msg *msg; /* parsed pkt (NULL if none) */
	/* When bogus and the CD query answered: that answer, so the records
	 * can still be recorded as evidence. NULL otherwise. */
	const uint8_t *cd_pkt;
	size_t cd_len;
	const struct dns_msg *cd_msg;
	unsigned elapsed_ms; /* from send to final answer */
};

typedef void (*resolver_cb)(void *arg, const struct resolver_answer *ans);

struct resolver_config {
	const char *servers; /* "ip:port[,ip:port...]"; IPv6 as [addr]:port */
	unsigned timeout_ms; /* per try and server; default 2000, max 600000 */
	unsigned tries;	     /* default 3, max 16 */
	bool validating;     /* false: every status is DNSSEC_UNKNOWN */
	/* Lookups with a query at the resolver at once (0: 512; at most
	 * RESOLVER_MAX_INFLIGHT_LIMIT); the others wait in a queue. */
	unsigned max_inflight;
};

/* The default of max_inflight (resolver.c says why), and its limit: the
 * receive buffer asked for holds about that many answers. */
#define RESOLVER_DEFAULT_INFLIGHT 512
#define RESOLVER_MAX_INFLIGHT_LIMIT 4096

struct resolver;

/* Creates a resolver on `loop`. Returns NULL and sets *err (a static
 * message) on failure. */
struct resolver *resolver_new(uv_loop_t *loop,
			      const struct resolver_config *cfg,
			      const char **err);

/*
 * Looks up (name, qtype), class IN. The callback runs exactly once, on
 * the loop, never from inside resolver_query(). Returns 0, or a negative
 * value if the lookup could not be started (then no callback): -EINVAL,
 * -ENOMEM, -ESHUTDOWN after resolver_free(), -EAGAIN with 32768 lookups
 * pending. A name that cannot be put in a query is reported through the
 * callback (RESOLVER_BAD_NAME), like every other outcome.
 * Each query gets timeout_ms per try and server, `tries` times, with no
 * backoff; a SERVFAIL's CD re-query gets as long again, and so does the
 * repeat without CD after a CD answer.
 * At most max_inflight lookups of a resolver (default 512) have a query
 * out at once; the others
 * wait in a queue, first come first served, and their time starts when
 * they are sent (the resolver would drop what exceeds its request list,
 * and every drop costs a timeout). Callers need not pace themselves.
 */
int resolver_query(struct resolver *r, const char *name, uint16_t qtype,
		   resolver_cb cb, void *arg);

/* resolver_query() with query flags: 0 or DNS_QUERY_CHAOS (class CH, for
 * what the server says of itself: version.bind, id.server TXT; never
 * re-asked with CD). -EINVAL for any other flag. */
int resolver_query_flags(struct resolver *r, const char *name, uint16_t qtype,
			 unsigned flags, resolver_cb cb, void *arg);

/* Lookups asked for and not yet answered, queued ones included. */
size_t resolver_pending(const struct resolver *r);
/* Counters for the benchmark: queries sent (incl. CD re-queries). */
uint64_t resolver_queries_sent(const struct resolver *r);

/*
 * Cancels pending lookups (their callbacks run with RESOLVER_CANCELLED),
 * closes the loop handles and frees the resolver once they are closed;
 * run the loop afterwards until it has no more handles.
 */
void resolver_free(struct resolver *r);

const char *dnssec_status_str(enum dnssec_status s);
const char *resolver_rc_str(enum resolver_rc rc);

/*
 * The outcome of a question as stored (dns_rrset.outcome, the export's
 * dns.mx.outcome and queries[].outcome): resolver_rc_str(rc), except that
 * a response whose rcode is an error (anything but NOERROR and NXDOMAIN:
 * SERVFAIL, REFUSED, FORMERR, ...) is "rcode_error", never "ok", so that
 * no record reads "ok" next to SERVFAIL. NXDOMAIN is an answer ("ok").
 */
const char *resolver_outcome_str(enum resolver_rc rc, int rcode);

/* ---- The judgement, as pure functions (unit-tested) ---------------- */

/* True for the RFC 8914 DNSSEC failure codes 6..12. */
bool resolver_ede_is_dnssec(uint16_t code);
/* Whether an answer with this rcode is re-asked with CD set. */
bool resolver_wants_cd(bool validating, int rcode);
/*
 * Whether an answer is asked once more without CD: a SERVFAIL without a
 * DNSSEC EDE (dnssec_ede: any of its EDE codes is 6..12) whose CD query
 * answered (cd_rcode NOERROR or NXDOMAIN).
 */
bool resolver_wants_again(bool validating, int rcode, bool dnssec_ede,
			  int cd_rcode);

/* The answers of one lookup; an rcode is -1 when that query was not sent
 * or got no usable answer (timeout, malformed...). */
struct resolver_evidence {
	int rcode; /* the first answer */
	bool ad;
	const uint16_t *ede;
	size_t n_ede;
	int cd_rcode;	 /* the CD query's */
	int again_rcode; /* the repeat's without CD */
	bool again_ad;
};

/*
 * The status of an RRset from its answers, following the table at the top
 * of this file; *why (if not NULL) gets what it rests on.
 */
enum dnssec_status resolver_judge(bool validating,
				  const struct resolver_evidence *ev,
				  enum dnssec_why *why);
const char *dnssec_why_str(enum dnssec_why w);

#endif
