/*
 * The process-wide endpoint registry: every endpoint (address, port, SNI)
 * is probed once by this process, whatever worker and whatever domain
 * asks first; later askers wait for that probe or take its result. Results
 * cross worker threads only through this registry: a waiter on another
 * worker is queued for that worker and woken with wake(), and the worker
 * runs the callbacks on its own loop with epreg_drain().
 *
 * Memory is bounded (epreg_set_limit): a result is held by each domain it
 * was handed to until that domain lets go of it (epreg_release); results
 * nobody holds or waits for are kept in least-recently-used order, and
 * past the limit the least recently used of those whose rows are stored
 * (epreg_publish_stored) are dropped. Asked for again, such an endpoint
 * is new here: with claims (epclaim.h) its claim is found done, and its
 * result is rebuilt from the stored endpoint row and chain like another
 * crawler's, so it is still probed once per campaign. Hot endpoints (a
 * provider's MX hosts) are asked for all the time and stay.
 */
#ifndef MXCRAWL_CRAWLER_EPREG_H
#define MXCRAWL_CRAWLER_EPREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/scan/addrpolicy.h"
#include "crawler/verify/verify.h"

/*
 * An endpoint: where, and what is spoken there. `service` is EP_SERVICE_MX
 * (port 25, SMTP) or 1 + an enum mail_service (mailsess.h): two client
 * services may name the same address and port (an SRV record may give any
 * port), and each is its own probe, claimed across processes like port
 * 25's (epclaim.h).
 */
#define EP_SERVICE_MX 0

struct ep_key {
	struct addr addr;
	uint16_t port;
	uint8_t service;
	char sni[256];
};

/* What domains need from a finished endpoint probe. Immutable once
 * published; owned by the registry (moved into its entry by
 * epreg_publish, so the caller's struct is freed there). */
struct ep_done {
	char outcome[32];     /* smtp_rc_str() */
	bool starttls_ok;     /* the handshake completed */
	bool trusted;	      /* chain trusted (PKIX) */
	bool name_matches_mx; /* leaf names the SNI */
	/* The chain presented, leaf first (NULL, 0: none). There is no DANE
	 * verdict here: whether DANE applies depends on the asking domain's
	 * own DNSSEC facts (RFC 7672 §2.2.1), so each domain judges the
	 * chain with its own TLSA lookup. One allocation: the array, then
	 * the bytes its entries point to (ep_done_set_chain). */
	struct verify_der *chain;
	size_t nchain;
};

/* Copies chain[0..n) into d->chain; 0, or -ENOMEM, also when the size
 * would overflow (d->chain stays NULL). */
int ep_done_set_chain(struct ep_done *d, const struct verify_der *chain,
		      size_t n);

/* Frees d and its chain. */
void ep_done_free(struct ep_done *d);

/* Called on the waiter's loop with the result, which the waiter now holds
 * (epreg_release), or with d == NULL when the waiter is the one to probe
 * the endpoint (its claim was won). */
typedef void (*ep_wait_cb)(void *arg, const struct ep_done *d);

struct epreg;

/* wake(ctx, worker) is called (from any thread) when the worker has
 * queued callbacks to run with epreg_drain(). */
struct epreg *epreg_new(unsigned workers,
			void (*wake)(void *ctx, unsigned worker), void *ctx);
void epreg_free(struct epreg *r);

/* From now on, a new endpoint (of any service) is claimed across
 * processes (epclaim.h) before anyone probes it: epreg_request() answers
 * EPREG_CLAIM instead of EPREG_PROBE. */
void epreg_use_claims(struct epreg *r);

/* Bytes of the registry past which results nobody holds are dropped (0:
 * no limit). Counted: the hash table, and per entry the entry, its SNI
 * and its chain (epreg_stats). Results held or awaited, and results
 * published unstored, are never dropped, so the registry may hold more
 * while many domains are under way. */
void epreg_set_limit(struct epreg *r, size_t bytes);

/* The default limit with claims. Domains share endpoints mostly at
 * providers, whose few MX hosts are asked for all the time and stay;
 * a self-hosted endpoint is rarely asked for again once its domain is
 * done. 32 MiB keeps some 30k results of the testbed's (1.1 KB each with
 * their chain) or 8k of 4 KB, where 1M domains have some 220k-260k
 * endpoints: the registry no longer grows with the scan. */
#define EPREG_LIMIT_DEFAULT ((size_t)32 << 20)

enum epreg_answer {
	EPREG_PROBE = 0, /* nobody has it: the caller probes, then publishes */
	EPREG_DONE,	 /* *out is the result, held until epreg_release() */
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
 * registry takes ownership of d and its chain, and frees d itself) and
 * wakes its waiters. Returns the published result, held by the caller
 * (epreg_release), or NULL when k is not awaited (d freed). A result
 * published so is kept for the whole scan: nothing could rebuild it. */
const struct ep_done *epreg_publish(struct epreg *r, const struct ep_key *k,
				    struct ep_done *d);

/* The same for a result whose endpoint row and chain are stored, so that
 * once dropped it can be rebuilt from them (epclaim.h). */
const struct ep_done *epreg_publish_stored(struct epreg *r,
					   const struct ep_key *k,
					   struct ep_done *d);

/* The holder of d (from EPREG_DONE, a waiter's callback or a publish) is
 * done with it; d may be dropped from now on. d may be NULL. Any thread. */
void epreg_release(struct epreg *r, const struct ep_done *d);

/* A key for per-thread caches of judgements of d's chain (danecache.h,
 * verify_leaf_names): it names the same chain bytes for as long as the
 * registry lives, unlike d's address, which a later result may reuse once
 * d is dropped. Never NULL. */
const void *epreg_result_key(const struct ep_done *d);

/* The claim on k was won: one of its waiters (called with NULL on its
 * loop) probes the endpoint and publishes. Any thread. */
void epreg_claimed(struct epreg *r, const struct ep_key *k);

/* Runs the callbacks queued for `worker`; call on its loop. */
void epreg_drain(struct epreg *r, unsigned worker);

struct epreg_stats {
	size_t entries;	   /* endpoints in the registry now */
	size_t bytes;	   /* their bytes (epreg_set_limit) */
	size_t peak_bytes; /* the most bytes at any time */
	uint64_t added;	   /* entries made, each endpoint once per stay */
	uint64_t dropped;  /* results dropped past the limit */
};

/* Endpoints in the registry now. */
size_t epreg_count(const struct epreg *r);
void epreg_stats(struct epreg *r, struct epreg_stats *out);

#endif
