#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "crawler/verify/danecache.h"

#define DIGEST_LEN 32

struct slot {
	const void *key; /* NULL: empty */
	uint8_t digest[DIGEST_LEN];
	bool ok;
};

struct dane_cache {
	size_t n;
	struct slot *slot;
	uint64_t hits, misses;
};

struct dane_cache *dane_cache_new(size_t n)
{
	struct dane_cache *c = n ? calloc(1, sizeof *c) : NULL;

	if (!c)
		return NULL;
	c->n = n;
	c->slot = calloc(n, sizeof *c->slot);
	if (!c->slot) {
		free(c);
		return NULL;
	}
	return c;
}

void dane_cache_free(struct dane_cache *c)
{
	if (!c)
		return;
	free(c->slot);
	free(c);
}

static int feed_len(EVP_MD_CTX *m, size_t len)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)len >> (8 * i));
	return EVP_DigestUpdate(m, b, sizeof b);
}

/* SHA-256 of the names and records, each field length-prefixed so that
 * no two different inputs feed the same bytes. 0, or -ENOMEM: OpenSSL's
 * digest fails only when it cannot allocate (cert_sha256()). */
static int digest(const char *const *ref_names, size_t nref,
		  const struct verify_tlsa *tlsa, size_t ntlsa,
		  uint8_t out[DIGEST_LEN])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned len = 0;
	int ok =
	    m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) && feed_len(m, nref);

	for (size_t i = 0; ok && i < nref; i++) {
		size_t l = ref_names[i] ? strlen(ref_names[i]) : 0;
		ok = feed_len(m, l) &&
		     (!l || EVP_DigestUpdate(m, ref_names[i], l));
	}
	ok = ok && feed_len(m, ntlsa);
	for (size_t i = 0; ok && i < ntlsa; i++) {
		const struct verify_tlsa *t = &tlsa[i];
		uint8_t f[3] = { t->usage, t->selector, t->mtype };
		ok = EVP_DigestUpdate(m, f, sizeof f) && feed_len(m, t->len) &&
		     (!t->len || EVP_DigestUpdate(m, t->data, t->len));
	}
	ok = ok && EVP_DigestFinal_ex(m, out, &len) && len == DIGEST_LEN;
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	return ok ? 0 : -ENOMEM;
}

static bool judge(const struct verify_ctx *ctx, const struct verify_der *chain,
		  size_t n, time_t at, const char *const *ref_names,
		  size_t nref, const struct verify_tlsa *tlsa, size_t ntlsa)
{
	struct verify_dane_result dr;

	return verify_dane(ctx, chain, n, at, ref_names, nref, tlsa, ntlsa,
			   &dr) == VERIFY_OK &&
	       dr.outcome == VERIFY_DANE_OK;
}

bool dane_cache_chain_ok(struct dane_cache *c, const void *key,
			 const struct verify_ctx *ctx,
			 const struct verify_der *chain, size_t n, time_t at,
			 const char *const *ref_names, size_t nref,
			 const struct verify_tlsa *tlsa, size_t ntlsa)
{
	uint8_t d[DIGEST_LEN];

	if (!c || !key || digest(ref_names, nref, tlsa, ntlsa, d) != 0)
		return judge(ctx, chain, n, at, ref_names, nref, tlsa, ntlsa);
	/* Direct-mapped by the key's address (multiplicative hash: heap
	 * pointers are alike in their low bits) and the digest. */
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL;
	uint64_t dh;
	memcpy(&dh, d, sizeof dh);
	struct slot *s = &c->slot[((h >> 32) ^ dh) % c->n];
	if (s->key == key && memcmp(s->digest, d, DIGEST_LEN) == 0) {
		c->hits++;
		return s->ok;
	}
	c->misses++;
	s->ok = judge(ctx, chain, n, at, ref_names, nref, tlsa, ntlsa);
	s->key = key;
	memcpy(s->digest, d, DIGEST_LEN);
	return s->ok;
}

void dane_cache_stats(const struct dane_cache *c, uint64_t *hits,
		      uint64_t *misses)
{
	*hits = c ? c->hits : 0;
	*misses = c ? c->misses : 0;
}
