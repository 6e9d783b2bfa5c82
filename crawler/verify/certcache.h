/*
 * Parsed certificates shared across endpoints, by the SHA-256 of their
 * DER. A provider's leaf and the few intermediates of the public CAs are
 * presented by thousands of endpoints; decoding one costs OpenSSL 3.0 a
 * decoder set-up for its key, far more than the SHA-256 that finds it
 * here. An entry holds the X509 (one reference of its own; callers get
 * theirs with X509_up_ref, so an evicted entry never frees a certificate
 * in use) and, once asked for, the certificate's COPY row (cert.h), which
 * depends on the DER alone.
 *
 * Bounded: at most `max` entries, the least recently used evicted first
 * (shared intermediates stay, one-off leaves go). Thread-safe: entries are
 * spread over shards, each under a mutex held only for the lookup or the
 * insertion (no parse and no row is made under it).
 *
 * DER that does not decode as one exact certificate is remembered too
 * (x509 NULL), so a broken certificate is not parsed again either.
 */
#ifndef MXCRAWL_CRAWLER_CERTCACHE_H
#define MXCRAWL_CRAWLER_CERTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "crawler/util/jbuf.h"

#define CERT_CACHE_SHA256_LEN 32
/* Entries of the process-wide cache (cert_cache_global()). About 8 KiB
 * each with the row, so some 8 MiB at most. */
#define CERT_CACHE_DEFAULT 1024

struct cert_cache;

/* A cache of at most max entries (max >= 1); NULL when out of memory. */
struct cert_cache *cert_cache_new(size_t max);
void cert_cache_free(struct cert_cache *c);

/* The process-wide cache, made on first use (CERT_CACHE_DEFAULT
 * entries); NULL only when it could not be allocated. Never freed. */
struct cert_cache *cert_cache_global(void);

/* SHA-256 of der[0..len), with a digest fetched once per process and a
 * context per thread (EVP_Digest() with EVP_sha256() fetches SHA-256 from
 * the provider, under its lock, on every call). 0, or -ENOMEM. */
int cert_cache_sha256(const uint8_t *der, size_t len,
		      uint8_t out[CERT_CACHE_SHA256_LEN]);

/*
 * The certificate der[0..len) whose SHA-256 is sha (computed when NULL),
 * parsed: a new reference the caller frees with X509_free(), or NULL when
 * the bytes are not one exact DER certificate (*bad set) or when out of
 * memory (*bad clear). Parsed at most once while the entry lives.
 * c may be NULL: then it is parsed every time.
 */
X509 *cert_cache_get(struct cert_cache *c, const uint8_t *der, size_t len,
		     const uint8_t *sha, bool *bad);

/*
 * Offers x, which libssl parsed from DER whose SHA-256 is sha: returns the
 * cached certificate with those bytes (a new reference), or x itself
 * (X509_up_ref'd) after keeping it. Either way the caller owns one
 * reference of the result and keeps its own of x. c may be NULL.
 */
X509 *cert_cache_adopt(struct cert_cache *c, X509 *x, const uint8_t *sha);

/*
 * Appends the certificate's COPY row (cert_copy_row()) to b: made once per
 * entry by make(b, der, len, x) and then copied. 0, or b's error.
 */
int cert_cache_row(struct cert_cache *c, struct jbuf *b, const uint8_t *der,
		   size_t len, const uint8_t *sha,
		   int (*make)(struct jbuf *b, const uint8_t *der, size_t len,
			       const uint8_t *sha, X509 *x));

/*
 * Narrows (*lo, *hi) to the times around `at` at which x's validity does
 * not change: a verification compares its time only with notBefore and
 * notAfter (x509_vfy.c: check_cert_time, and the choice of a valid
 * issuer), so a verification at any time strictly inside the narrowed
 * (lo, hi) over every certificate it looked at finds what it found at
 * `at`. Each boundary is kept a second off on either side, so fractional
 * seconds and notAfter's "up to and including" never matter. false when
 * a date does not convert or `at` is within a second of one.
 */
bool cert_validity_window(X509 *x, time_t at, time_t *lo, time_t *hi);

struct cert_cache_stats {
	uint64_t hits, misses, evictions;
	size_t entries;
};
void cert_cache_stats(struct cert_cache *c, struct cert_cache_stats *out);

#endif
