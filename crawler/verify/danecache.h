/*
 * A worker's memo of DANE judgements of shared chains. Each domain judges
 * an endpoint's chain with its own TLSA records (RFC 7672 §2.2.1; epreg.h),
 * so at a provider whose MX hosts serve thousands of signed domains the
 * same chain is judged with the same records and names again and again;
 * verify_dane() costs some 0.3 ms, a lookup here a SHA-256 over the
 * records. Entries are keyed by the caller's key for the chain (the
 * registry's immutable result) and a digest of the records and reference
 * names, so a domain with other records or names is never given another's
 * verdict. Direct-mapped: a newer judgement replaces an older one in its
 * slot. One cache per thread; the time of the first judgement is kept
 * (the chain was presented once, at the probe).
 */
#ifndef MXCRAWL_CRAWLER_DANECACHE_H
#define MXCRAWL_CRAWLER_DANECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crawler/verify/verify.h"

struct dane_cache;

/* A cache of n judgements; NULL when out of memory or n == 0. */
struct dane_cache *dane_cache_new(size_t n);
void dane_cache_free(struct dane_cache *c);

/*
 * Whether verify_dane() authenticates chain[0..n) with tlsa[0..ntlsa) and
 * ref_names[0..nref) at `at` (rc VERIFY_OK and outcome VERIFY_DANE_OK).
 * `key` must always name the same chain bytes while the cache lives. c may
 * be NULL: then every call judges.
 */
bool dane_cache_chain_ok(struct dane_cache *c, const void *key,
			 const struct verify_ctx *ctx,
			 const struct verify_der *chain, size_t n, time_t at,
			 const char *const *ref_names, size_t nref,
			 const struct verify_tlsa *tlsa, size_t ntlsa);

/* Judgements made (misses) and answered from the cache (hits). */
void dane_cache_stats(const struct dane_cache *c, uint64_t *hits,
		      uint64_t *misses);

#endif
