/*
 * The process-wide endpoint registry: every endpoint (address, port, SNI)
 * is probed once by this process, whatever worker and whatever domain
 * asks first; later askers wait for that probe or take its result. Results
 * cross worker threads only through this registry: a waiter on another
 * worker is queued for that worker and woken with wake(), and the worker
 * runs the callbacks on its own loop with epreg_drain().
 */
#ifndef MXCRAWL_CRAWLER_EPREG_H
#define MXCRAWL_CRAWLER_EPREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/addrpolicy.h"
#include "crawler/verify.h"

struct ep_key {
	struct addr addr;
	uint16_t port;
	char sni[256];
};

/* What domains need from a finished endpoint probe. Immutable once
 * published; owned by the registry. */
struct ep_done {
	char outcome[32]; /* smtp_rc_str() */
	bool starttls_ok; /* the handshake completed */
	uint8_t *leaf;	  /* DER of the presented leaf, or NULL */
	size_t leaf_len;
	bool trusted;	      /* chain trusted (PKIX) */
	bool name_matches_mx; /* leaf names the SNI */
	/* DANE for the SNI host's TLSA set given by the first asker (the
	 * set belongs to the host name, so it is the same for every asker):
	 * verify_dane()'s outcome and how many records were usable. */
	enum verify_dane_outcome dane;
	unsigned dane_nusable;
};

/* Called on the waiter's loop with the result, or with d == NULL when the
 * waiter is the one to probe the endpoint (its claim was won). */
typedef void (*ep_wait_cb)(void *arg, const struct ep_done *d);

struct epreg;

/* wake(ctx, worker) is called (from any thread) when the worker has
 * queued callbacks to run with epreg_drain(). */
struct epreg *epreg_new(unsigned workers,
			void (*wake)(void *ctx, unsigned worker), void *ctx);
void epreg_free(struct epreg *r);

/* From now on, a new endpoint is claimed across processes (epclaim.h)
 * before anyone probes it: epreg_request() answers EPREG_CLAIM instead of
 * EPREG_PROBE. */
void epreg_use_claims(struct epreg *r);

enum epreg_answer {
	EPREG_PROBE = 0, /* nobody has it: the caller probes, then publishes */
	EPREG_DONE,	 /* *out is the result, valid until epreg_free() */
	EPREG_WAIT,	 /* cb(arg, result) runs later on `worker`'s loop */
	EPREG_CLAIM,	 /* new here: the caller files the claim (epclaim.h)
			    and waits like EPREG_WAIT; if the claim is won,
			    one waiter is called with NULL and probes */
	EPREG_NO_MEMORY,
};

enum epreg_answer epreg_request(struct epreg *r, const struct ep_key *k,
				unsigned worker, ep_wait_cb cb, void *arg,
				const struct ep_done **out);

/* Publishes the result of a probe the caller was told to make (the
 * registry takes ownership of d and d->leaf) and wakes its waiters. Returns
 * the published result (for the caller's own use). */
const struct ep_done *epreg_publish(struct epreg *r, const struct ep_key *k,
				    struct ep_done *d);

/* The claim on k was won: one of its waiters (called with NULL on its
 * loop) probes the endpoint and publishes. Any thread. */
void epreg_claimed(struct epreg *r, const struct ep_key *k);

/* Runs the callbacks queued for `worker`; call on its loop. */
void epreg_drain(struct epreg *r, unsigned worker);

/* Endpoints probed so far. */
size_t epreg_count(const struct epreg *r);

#endif
