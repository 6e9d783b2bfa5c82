/*
 * crawler/verify/danecache.c: a judgement answered from the cache equals the one
 * verify_dane() makes, and is never given for other records, other names
 * or another chain's key. Certificates are made here in memory; DANE-EE
 * full-certificate records (3 0 0) match them without any trust store.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crawler/verify/danecache.h"
#include "unit.h"

/* A self-signed certificate (DER, malloc'ed) for a new P-256 key. */
static uint8_t *self_signed(const char *cn, size_t *len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	uint8_t *der, *p;

	if (!k || !x || !n)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, k);
	if (!X509_sign(x, k, EVP_sha256()))
		abort();
	int l = i2d_X509(x, NULL);
	der = p = malloc((size_t)l);
	if (!der)
		abort();
	i2d_X509(x, &p);
	*len = (size_t)l;
	X509_NAME_free(n);
	X509_free(x);
	EVP_PKEY_free(k);
	return der;
}

UNIT_TEST(dane_cache_memo)
{
	const char *err = NULL;
	struct verify_ctx *ctx = verify_ctx_new(NULL, NULL, &err);
	size_t alen, blen;
	uint8_t *a = self_signed("a.test", &alen);
	uint8_t *b = self_signed("b.test", &blen);
	struct verify_der chain_a = { a, alen }, chain_b = { b, blen };
	struct verify_tlsa rec_a = { 3, 0, 0, a, alen };
	struct verify_tlsa rec_b = { 3, 0, 0, b, blen };
	const char *names[2] = { "mx.a.test", "mx.b.test" };
	/* Keys name chains, as the registry's results do. */
	int key_a, key_b;
	time_t now = time(NULL);
	uint64_t hits, misses;

	CHECK(ctx != NULL);
	struct dane_cache *c = dane_cache_new(8);
	CHECK(c != NULL);
	CHECK(dane_cache_new(0) == NULL);

	/* Uncached: the verdicts themselves. */
	CHECK(dane_cache_chain_ok(NULL, &key_a, ctx, &chain_a, 1, now, names, 1,
				  &rec_a, 1));
	CHECK(!dane_cache_chain_ok(NULL, &key_a, ctx, &chain_a, 1, now, names,
				   1, &rec_b, 1));

	/* A miss, then a hit with the same verdict. */
	CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				  &rec_a, 1));
	CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				  &rec_a, 1));
	dane_cache_stats(c, &hits, &misses);
	CHECK_INT(hits, 1, "same chain, records, names");
	CHECK_INT(misses, 1, "same chain, records, names");

	/* Other records for the same chain: judged, not taken. */
	CHECK(!dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				   &rec_b, 1));
	/* Other reference names: judged again. */
	CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names + 1,
				  1, &rec_a, 1));
	CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 2,
				  &rec_a, 1));
	/* Another chain with the first one's records: its own verdict. */
	CHECK(!dane_cache_chain_ok(c, &key_b, ctx, &chain_b, 1, now, names, 1,
				   &rec_a, 1));
	CHECK(dane_cache_chain_ok(c, &key_b, ctx, &chain_b, 1, now, names, 1,
				  &rec_b, 1));
	/* Two records, in either order, neither taken for the one alone. */
	struct verify_tlsa both[2] = { rec_b, rec_a };
	CHECK(dane_cache_chain_ok(c, &key_b, ctx, &chain_b, 1, now, names, 1,
				  both, 2));
	CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				  both, 2));
	dane_cache_stats(c, &hits, &misses);
	CHECK_INT(hits, 1, "every other call judged");
	CHECK_INT(misses, 8, "every other call judged");

	/* Every combination again: each answer equals the judgement, hit
	 * or not (slots are shared, so which ones hit is not fixed). */
	for (int round = 0; round < 2; round++) {
		CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now,
					  names, 1, &rec_a, 1));
		CHECK(!dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now,
					   names, 1, &rec_b, 1));
		CHECK(!dane_cache_chain_ok(c, &key_b, ctx, &chain_b, 1, now,
					   names, 1, &rec_a, 1));
		CHECK(dane_cache_chain_ok(c, &key_b, ctx, &chain_b, 1, now,
					  names, 1, &rec_b, 1));
	}
	dane_cache_stats(c, &hits, &misses);
	CHECK_INT(hits + misses, 17, "calls through the cache");
	dane_cache_free(c);

	/* One slot: a newer judgement replaces the older one. */
	c = dane_cache_new(1);
	CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				  &rec_a, 1));
	CHECK(!dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				   &rec_b, 1));
	CHECK(!dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				   &rec_b, 1));
	CHECK(dane_cache_chain_ok(c, &key_a, ctx, &chain_a, 1, now, names, 1,
				  &rec_a, 1));
	dane_cache_stats(c, &hits, &misses);
	CHECK_INT(hits, 1, "one slot");
	CHECK_INT(misses, 3, "one slot");
	dane_cache_free(c);
	dane_cache_free(NULL);
	verify_ctx_free(ctx);
	free(a);
	free(b);
}
