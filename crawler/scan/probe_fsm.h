/*
 * The order of one domain's probe (probe.c), as a state machine without
 * I/O: which stage runs now, what the caller is to start next, and when
 * the domain is over. The caller owns the resolver, the endpoint registry
 * and the policy fetcher; it tells the machine what it sent and what came
 * back, and performs the action each step answers with.
 *
 *   START -> MX       ask MX, _mta-sts TXT and _smtp._tls TXT at once
 *   MX    -> HOSTS    the MX answer is in: ask A and AAAA of its hosts
 *                     (TLSA and the policy host's addresses follow the
 *                     answers they depend on, while in MX or HOSTS)
 *   HOSTS -> SMTP     no question is out: endpoint probes and the policy
 *                     fetch, unless both are off or the domain failed
 *   any   -> FINISH   nothing is out: the caller writes the rows
 *
 * A domain blocked by the address policy goes from START to FINISH
 * without a question. Work is counted per kind; a result for work that
 * is not out (a duplicate or a late answer) is refused and counted, so it
 * can neither finish a domain early nor twice.
 *
 * Also here: the pure rules the probe decides DNS follow-ups and address
 * outcomes by (partial hosts, when TLSA is asked), so a unit test can
 * drive them with scripted answers.
 */
#ifndef MXCRAWL_SCAN_PROBE_FSM_H
#define MXCRAWL_SCAN_PROBE_FSM_H

#include <stdbool.h>
#include <stddef.h>

#include "crawler/dns/resolver.h"

/* States of a domain's probe. */
enum probe_state {
	PROBE_ST_START = 0, /* created; nothing asked yet */
	PROBE_ST_MX,	    /* MX and both TXT questions are out; the MX
			     * answer names the hosts to ask about */
	PROBE_ST_HOSTS,	    /* MX answered: address questions of the kept
			     * hosts, TLSA where the path is secure, the
			     * policy host's addresses; until none is out */
	PROBE_ST_SMTP,	    /* DNS is over: endpoint probes (through the
			     * registry) and the MTA-STS policy fetch are out */
	PROBE_ST_FINISH,    /* nothing is out: the caller writes the rows */
	PROBE_ST_DONE,	    /* over; every later step waits */
	PROBE_ST_LAST
};

/* Name of a state ("hosts"); "unknown" when out of range. */
const char *probe_state_str(enum probe_state st);

/* Kinds of work the caller starts and the machine counts. */
enum probe_work {
	PROBE_WORK_DNS = 0,  /* a resolver question */
	PROBE_WORK_ENDPOINT, /* an endpoint result (probe, wait or claim) */
	PROBE_WORK_FETCH,    /* the MTA-STS policy fetch */
	PROBE_WORK_LAST
};

/* What the caller does next. */
enum probe_action {
	PROBE_ACT_WAIT = 0,   /* nothing: wait for work to come back */
	PROBE_ACT_ASK_DOMAIN, /* ask MX, _mta-sts TXT and _smtp._tls TXT */
	PROBE_ACT_ASK_HOSTS,  /* ask A and AAAA of every kept MX host */
	PROBE_ACT_START_SMTP, /* start the policy fetch (when due) and ask
			       * the registry for every contactable endpoint */
	PROBE_ACT_FINISH,     /* write the rows; the probe is over (the
			       * caller may free it without stepping again) */
	PROBE_ACT_LAST
};

/* "ask_hosts"; "unknown" when out of range. */
const char *probe_action_str(enum probe_action act);

struct probe_fsm {
	enum probe_state state;	       /* written by the machine only */
	unsigned out[PROBE_WORK_LAST]; /* work in flight, by kind */
	unsigned stray;	  /* results refused: their work was not out */
	bool blocked;	  /* the address policy blocks the domain */
	bool endpoints;	  /* the SMTP/TLS stage is on */
	bool fetch_due;	  /* the policy fetch is to run (valid STS TXT) */
	bool mx_in;	  /* the MX answer came */
	bool failed;	  /* out of memory somewhere: no further stage */
	bool entered;	  /* the current state's entry action was taken */
	bool trace;	  /* state changes to stderr (debug builds) */
	const char *name; /* the domain, for the trace (not owned) */
};

/* Starts a machine in PROBE_ST_START. `name` must outlive it. */
void probe_fsm_init(struct probe_fsm *f, const char *name, bool blocked,
		    bool endpoints, bool trace);

/* The caller started one piece of work of this kind. */
void probe_fsm_sent(struct probe_fsm *f, enum probe_work w);

/*
 * One piece of work of this kind came back (or could not be started
 * after probe_fsm_sent()). Returns 0, or -ENOENT when none was out (no
 * such work to return): the result is stray, counted in f->stray, and
 * must be ignored by the caller.
 */
int probe_fsm_returned(struct probe_fsm *f, enum probe_work w);

/* The MX answer was digested (hosts known, or none). */
void probe_fsm_mx_answered(struct probe_fsm *f);

/* Whether the policy fetch is to run; may change until DNS is over. */
void probe_fsm_set_fetch_due(struct probe_fsm *f, bool due);

/* Something failed (out of memory): the domain gets no further stage and
 * is finished once the work that is out has come back. */
void probe_fsm_fail(struct probe_fsm *f);

/*
 * Runs the machine until it waits for the caller: the action to perform.
 * The caller performs it (telling the machine what it sent), then steps
 * again until PROBE_ACT_WAIT or PROBE_ACT_FINISH. Results that come back
 * while the caller performs an action (from inside its calls) are only
 * counted; the caller's loop picks them up at its next step, so the
 * probe never finishes under its own feet.
 */
enum probe_action probe_fsm_step(struct probe_fsm *f);

/* ---- Rules over the answers ----------------------------------------- */

/* What a host's A and AAAA lookups gave (an MX host or the policy host). */
struct probe_lookups {
	bool a_done, aaaa_done;
	bool a_failed, aaaa_failed; /* no usable answer (bogus, error) */
	enum dnssec_status a_st, aaaa_st;
	size_t naddr; /* addresses kept from both answers */
};

/*
 * A partial host: one of its lookups got no answer that says anything
 * (indeterminate: timeout, SERVFAIL without proof of a validation failure,
 * other errors) while the other answered with at least one address. It
 * is probed on those addresses, like a sender that uses what it got, and
 * flagged so that nobody reads its address set as complete. A bogus
 * answer is not "no answer": it may be an attack, so a host with one is a
 * DNS error, and so is a host whose only answer holds no address (whether
 * it has any is unknown).
 */
bool probe_lookups_partial(const struct probe_lookups *l);

/* The host's address lookups failed beyond use (failed, not partial). */
bool probe_lookups_failed(const struct probe_lookups *l);

/*
 * Whether a host's TLSA records are asked for, once both address lookups
 * are in (RFC 7672 §2.2.2): only via a secure MX RRset (or a secure
 * implicit MX) and secure address records. A host with securely no
 * address is still asked: TLSA published for it is worth knowing. A
 * partial host is asked when the family that answered, whose addresses
 * are the ones used, is secure.
 */
bool probe_tlsa_due(enum dnssec_status mx_st, const struct probe_lookups *l);

/*
 * Whether TLSA is asked again at the host's original name (RFC 7672
 * §2.2.3): the CNAME-expanded name (`expanded`) had securely or
 * insecurely no usable record (`found` 0), and the original was not
 * tried yet.
 */
bool probe_tlsa_retry_due(bool expanded, bool tried_original, size_t found,
			  enum dnssec_status st);

#endif
