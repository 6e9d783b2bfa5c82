/*
 * crawler/verify/certcache.c and the memo of verify_chain(): a certificate
 * is parsed once while its entry lives (hit, miss, bad DER remembered),
 * the cache holds at most its bound and evicts the least recently used
 * without freeing a certificate a caller still holds, libssl's parse is
 * adopted, the COPY row is made once, and many threads may share one
 * cache. A remembered chain judgement equals a fresh one, answers only
 * within the validity boundaries it was made in, and names are asked per
 * call. Certificates are made here in memory.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crawler/verify/certcache.h"
#include "crawler/verify/verify.h"
#include "unit.h"

#define NCERTS 24
#define HOUR 3600

struct der {
	uint8_t *data;
	size_t len;
	uint8_t sha[CERT_CACHE_SHA256_LEN];
};

/* A self-signed P-256 certificate with CN and one DNS SAN `name`, valid
 * from now-1h to now+1h; one key for all (the key does not matter). */
static struct der make(EVP_PKEY *k, const char *name)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	struct der d;
	uint8_t *p;

	if (!x || !n || !gens || !g || !s)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 9);
	X509_gmtime_adj(X509_getm_notBefore(x), -HOUR);
	X509_gmtime_adj(X509_getm_notAfter(x), HOUR);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, k);
	ASN1_STRING_set(s, name, -1);
	GENERAL_NAME_set0_value(g, GEN_DNS, s);
	sk_GENERAL_NAME_push(gens, g);
	X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
	GENERAL_NAMES_free(gens);
	if (!X509_sign(x, k, EVP_sha256()))
		abort();
	int l = i2d_X509(x, NULL);
	d.data = p = malloc((size_t)l);
	if (!d.data)
		abort();
	i2d_X509(x, &p);
	d.len = (size_t)l;
	if (cert_cache_sha256(d.data, d.len, d.sha) != 0)
		abort();
	X509_NAME_free(n);
	X509_free(x);
	return d;
}

static struct der certs[NCERTS];
static EVP_PKEY *key;

static void make_all(void)
{
	char name[64];

	if (key)
		return;
	key = EVP_EC_gen("P-256");
	if (!key)
		abort();
	for (int i = 0; i < NCERTS; i++) {
		snprintf(name, sizeof name, "mx%d.example.test", i);
		certs[i] = make(key, name);
	}
}

/* The certificate's DER as x holds it equals d's bytes. */
static bool same_der(X509 *x, const struct der *d)
{
	uint8_t *buf = NULL;
	int l = i2d_X509(x, &buf);
	bool same =
	    l > 0 && (size_t)l == d->len && !memcmp(buf, d->data, d->len);

	OPENSSL_free(buf);
	return same;
}

static struct cert_cache_stats stats(struct cert_cache *c)
{
	struct cert_cache_stats s;

	cert_cache_stats(c, &s);
	return s;
}

UNIT_TEST(certcache_hit_miss_bad)
{
	struct cert_cache *c = cert_cache_new(4);
	bool bad = true;

	make_all();
	CHECK(c != NULL);
	X509 *a = cert_cache_get(c, certs[0].data, certs[0].len, NULL, &bad);
	CHECK(a != NULL && !bad);
	CHECK_INT(stats(c).misses, 1, "first get");
	CHECK_INT(stats(c).hits, 0, "first get");
	X509 *b =
	    cert_cache_get(c, certs[0].data, certs[0].len, certs[0].sha, &bad);
	CHECK(b == a && !bad);
	CHECK_INT(stats(c).hits, 1, "second get: the same parse");
	CHECK(a && same_der(a, &certs[0]));
	X509_free(a);
	X509_free(b);

	/* Bytes that are no certificate, and a certificate with a byte
	 * after it: remembered as bad, not parsed again. */
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	CHECK(cert_cache_get(c, junk, sizeof junk, NULL, &bad) == NULL);
	CHECK(bad);
	CHECK(cert_cache_get(c, junk, sizeof junk, NULL, &bad) == NULL);
	CHECK(bad);
	CHECK_INT(stats(c).hits, 2, "bad DER remembered");
	uint8_t *trailing = malloc(certs[1].len + 1);
	memcpy(trailing, certs[1].data, certs[1].len);
	trailing[certs[1].len] = 0;
	CHECK(cert_cache_get(c, trailing, certs[1].len + 1, NULL, &bad) ==
	      NULL);
	CHECK(bad);
	free(trailing);

	/* No cache: parsed every time, same answers. */
	a = cert_cache_get(NULL, certs[0].data, certs[0].len, NULL, &bad);
	CHECK(a && !bad && same_der(a, &certs[0]));
	X509_free(a);
	CHECK(cert_cache_get(NULL, junk, sizeof junk, NULL, &bad) == NULL);
	CHECK(bad);
	cert_cache_free(c);
}

UNIT_TEST(certcache_bounded_lru)
{
	struct cert_cache *c = cert_cache_new(4);
	bool bad;
	X509 *held;

	make_all();
	for (int i = 0; i < 4; i++)
		X509_free(cert_cache_get(c, certs[i].data, certs[i].len,
					 certs[i].sha, &bad));
	CHECK_INT(stats(c).entries, 4, "full");
	/* cert 0 used again: cert 1 is now the least recently used. */
	X509_free(
	    cert_cache_get(c, certs[0].data, certs[0].len, certs[0].sha, &bad));
	held =
	    cert_cache_get(c, certs[1].data, certs[1].len, certs[1].sha, &bad);
	X509_free(
	    cert_cache_get(c, certs[2].data, certs[2].len, certs[2].sha, &bad));
	X509_free(
	    cert_cache_get(c, certs[3].data, certs[3].len, certs[3].sha, &bad));
	X509_free(
	    cert_cache_get(c, certs[0].data, certs[0].len, certs[0].sha, &bad));
	/* Order now (most recent first): 0 3 2 1. A fifth evicts 1. */
	X509_free(
	    cert_cache_get(c, certs[4].data, certs[4].len, certs[4].sha, &bad));
	CHECK_INT(stats(c).entries, 4, "still at the bound");
	CHECK_INT(stats(c).evictions, 1, "one evicted");
	uint64_t misses = stats(c).misses;
	X509_free(
	    cert_cache_get(c, certs[0].data, certs[0].len, certs[0].sha, &bad));
	CHECK_INT(stats(c).misses, misses, "recently used: kept");
	X509_free(
	    cert_cache_get(c, certs[1].data, certs[1].len, certs[1].sha, &bad));
	CHECK_INT(stats(c).misses, misses + 1, "least recently used: evicted");
	/* The evicted entry's certificate is still the holder's. */
	CHECK(held && same_der(held, &certs[1]));
	X509_free(held);

	/* Many more than the bound: never more entries than it. */
	for (int i = 0; i < NCERTS; i++)
		X509_free(cert_cache_get(c, certs[i].data, certs[i].len,
					 certs[i].sha, &bad));
	CHECK_INT(stats(c).entries, 4, "bounded");
	cert_cache_free(c);
}

UNIT_TEST(certcache_adopt)
{
	struct cert_cache *c = cert_cache_new(8);
	const uint8_t *p = certs[5].data;
	bool bad;

	make_all();
	p = certs[5].data;
	X509 *x = d2i_X509(NULL, &p, (long)certs[5].len);
	X509 *got = cert_cache_adopt(c, x, certs[5].sha);
	CHECK(got == x);
	X509_free(got);
	/* Found by its DER without parsing. */
	got = cert_cache_get(c, certs[5].data, certs[5].len, NULL, &bad);
	CHECK(got == x);
	CHECK_INT(stats(c).misses, 0, "adopted: no parse");
	X509_free(got);
	/* Another parse of the same bytes: the cached one is given. */
	p = certs[5].data;
	X509 *y = d2i_X509(NULL, &p, (long)certs[5].len);
	got = cert_cache_adopt(c, y, certs[5].sha);
	CHECK(got == x);
	X509_free(got);
	X509_free(y);
	X509_free(x);
	cert_cache_free(c);
	/* Freed after the cache: the caller's reference outlives it. */
}

static int rows_made;

static int make_row(struct jbuf *b, const uint8_t *der, size_t len,
		    const uint8_t *sha, X509 *x)
{
	(void)der;
	(void)sha;
	__atomic_add_fetch(&rows_made, 1, __ATOMIC_RELAXED);
	jbuf_printf(b, "row %zu %s\n", len, x ? "parsed" : "bad");
	return jbuf_error(b);
}

UNIT_TEST(certcache_row_once)
{
	struct cert_cache *c = cert_cache_new(8);
	struct jbuf a, b;

	make_all();
	rows_made = 0;
	jbuf_init(&a, 1 << 16);
	jbuf_init(&b, 1 << 16);
	CHECK_INT(
	    cert_cache_row(c, &a, certs[6].data, certs[6].len, NULL, make_row),
	    0, "row");
	CHECK_INT(cert_cache_row(c, &b, certs[6].data, certs[6].len,
				 certs[6].sha, make_row),
		  0, "row again");
	CHECK_INT(rows_made, 1, "made once");
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
	CHECK(strstr(b.data, "parsed") != NULL);
	/* Appended after what the buffer held. */
	jbuf_reset(&b);
	jbuf_puts(&b, "x");
	cert_cache_row(c, &b, certs[6].data, certs[6].len, NULL, make_row);
	CHECK(b.len == a.len + 1 && !memcmp(b.data + 1, a.data, a.len));
	jbuf_free(&a);
	jbuf_free(&b);
	cert_cache_free(c);
}

struct worker_arg {
	struct cert_cache *c;
	unsigned seed;
	int wrong;
};

static void *worker(void *p)
{
	struct worker_arg *w = p;
	bool bad;

	for (int i = 0; i < 3000; i++) {
		w->seed = w->seed * 1103515245u + 12345u;
		int k = (int)((w->seed >> 16) % NCERTS);
		X509 *x;
		if ((w->seed >> 8) % 3 == 0) {
			const uint8_t *q = certs[k].data;
			X509 *y = d2i_X509(NULL, &q, (long)certs[k].len);
			x = cert_cache_adopt(w->c, y, certs[k].sha);
			X509_free(y);
		} else {
			x = cert_cache_get(
			    w->c, certs[k].data, certs[k].len,
			    (w->seed >> 4) & 1 ? certs[k].sha : NULL, &bad);
		}
		if (!x || !same_der(x, &certs[k]))
			w->wrong++;
		X509_free(x);
	}
	return NULL;
}

/* Threads share a cache far smaller than the set they use (constant
 * eviction): every answer is the right certificate; run under the
 * sanitizers, no use after free and no leak. */
UNIT_TEST(certcache_threads)
{
	struct cert_cache *c = cert_cache_new(CERT_CACHE_DEFAULT);
	struct cert_cache *small = cert_cache_new(5);
	pthread_t t[4];
	struct worker_arg w[4];

	make_all();
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			w[i] =
			    (struct worker_arg){ round ? small : c,
						 (unsigned)(i + 1) * 7919u, 0 };
			pthread_create(&t[i], NULL, worker, &w[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			CHECK_INT(w[i].wrong, 0, "right certificate");
		}
	}
	CHECK(stats(small).entries <= 5);
	CHECK(stats(small).evictions > 0);
	CHECK(stats(c).entries <= NCERTS);
	cert_cache_free(c);
	cert_cache_free(small);
}

/* ---- the judgement's memo -------------------------------------------- */

static bool same_result(const struct verify_result *a,
			const struct verify_result *b)
{
	if (a->nerrors != b->nerrors)
		return false;
	for (unsigned i = 0; i < a->nerrors; i++)
		if (strcmp(a->errors[i].name, b->errors[i].name) ||
		    a->errors[i].code != b->errors[i].code ||
		    a->errors[i].depth != b->errors[i].depth)
			return false;
	return a->trusted == b->trusted &&
	       a->valid_ignoring_strength == b->valid_ignoring_strength &&
	       a->errors_truncated == b->errors_truncated &&
	       a->missing_intermediate == b->missing_intermediate &&
	       a->name_matches_mx == b->name_matches_mx &&
	       a->name_matches_domain == b->name_matches_domain &&
	       a->cn_only == b->cn_only &&
	       a->leaf_san_count == b->leaf_san_count &&
	       a->out_of_order == b->out_of_order && a->weak == b->weak &&
	       a->chain_len == b->chain_len && a->chain_used == b->chain_used &&
	       a->chain_truncated == b->chain_truncated &&
	       a->skipped == b->skipped && a->path_len == b->path_len;
}

static struct verify_ctx *new_ctx(void)
{
	const char *err = NULL;
	struct verify_ctx *ctx = verify_ctx_new(NULL, NULL, &err);

	if (!ctx) {
		fprintf(stderr, "verify_ctx_new: %s\n", err);
		abort();
	}
	return ctx;
}

UNIT_TEST(verify_chain_memo)
{
	struct verify_ctx *ctx = new_ctx(), *fresh;
	struct verify_result r1, r2, want;
	struct verify_der d[2];
	time_t now = time(NULL);
	uint64_t hits, misses;

	make_all();
	d[0] = (struct verify_der){ certs[7].data, certs[7].len };
	d[1] = (struct verify_der){ certs[8].data, certs[8].len };
	CHECK_INT(verify_chain(ctx, d, 2, now, "mx7.example.test", NULL, &r1),
		  VERIFY_OK, "first");
	CHECK_INT(
	    verify_chain(ctx, d, 2, now + 1, "mx7.example.test", NULL, &r2),
	    VERIFY_OK, "again");
	verify_chain_stats(ctx, &hits, &misses);
	CHECK_INT(hits, 1, "answered from the memo");
	CHECK_INT(misses, 1, "judged once");
	CHECK(same_result(&r1, &r2));
	CHECK(r2.name_matches_mx && r2.out_of_order);
	CHECK_STR(r2.nerrors ? r2.errors[0].name : NULL, "self_signed", "memo");

	/* Names are the call's: another host, another domain. */
	CHECK_INT(verify_chain(ctx, d, 2, now, "mx8.example.test",
			       "mx7.example.test", &r2),
		  VERIFY_OK, "other names");
	CHECK(!r2.name_matches_mx && r2.name_matches_domain);

	/* A fresh context judges the same: the memo changes nothing. */
	fresh = new_ctx();
	CHECK_INT(verify_chain(fresh, d, 2, now, "mx8.example.test",
			       "mx7.example.test", &want),
		  VERIFY_OK, "fresh");
	CHECK(same_result(&r2, &want));

	/* Past notAfter (now+1h): judged again, and expired. */
	CHECK_INT(verify_chain(ctx, d, 2, now + 2 * HOUR, "mx7.example.test",
			       NULL, &r2),
		  VERIFY_OK, "later");
	CHECK_INT(verify_chain(fresh, d, 2, now + 2 * HOUR, "mx7.example.test",
			       NULL, &want),
		  VERIFY_OK, "later, fresh");
	CHECK(same_result(&r2, &want));
	CHECK_INT(r2.nerrors, 2, "self_signed, expired");
	/* And back inside the first window: valid as before. */
	CHECK_INT(
	    verify_chain(ctx, d, 2, now + 2, "mx7.example.test", NULL, &r2),
	    VERIFY_OK, "inside");
	CHECK(same_result(&r1, &r2));
	/* Before notBefore (now-1h): not yet valid. */
	CHECK_INT(verify_chain(ctx, d, 2, now - 2 * HOUR, "mx7.example.test",
			       NULL, &r2),
		  VERIFY_OK, "earlier");
	CHECK_STR(r2.nerrors > 1 ? r2.errors[1].name : NULL, "not_yet_valid",
		  "earlier");

	/* Another chain (the same leaf alone) is another key. */
	CHECK_INT(verify_chain(ctx, d, 1, now, "mx7.example.test", NULL, &r2),
		  VERIFY_OK, "leaf alone");
	CHECK(!r2.out_of_order && r2.chain_len == 1);
	verify_chain_stats(fresh, &hits, &misses);
	CHECK_INT(hits, 0, "fresh context: its own memo");
	verify_ctx_free(fresh);
	verify_ctx_free(ctx);
}

/* The window around a judgement's time: bounded by each date a second
 * off, none given within a second of a date. */
UNIT_TEST(certcache_validity_window)
{
	X509 *x = X509_new();
	time_t nb = 1700000000, na = 1800000000;
	time_t lo = (time_t)INT64_MIN, hi = (time_t)INT64_MAX;

	ASN1_TIME_set(X509_getm_notBefore(x), nb);
	ASN1_TIME_set(X509_getm_notAfter(x), na);
	CHECK(cert_validity_window(x, nb + 1000, &lo, &hi));
	CHECK_INT(lo, nb + 1, "after notBefore");
	CHECK_INT(hi, na - 1, "before notAfter");
	lo = (time_t)INT64_MIN;
	hi = (time_t)INT64_MAX;
	CHECK(cert_validity_window(x, na + 5, &lo, &hi));
	CHECK_INT(lo, na + 1, "expired: from past notAfter");
	CHECK(hi == (time_t)INT64_MAX);
	lo = (time_t)INT64_MIN;
	hi = (time_t)INT64_MAX;
	CHECK(cert_validity_window(x, nb - 5, &lo, &hi));
	CHECK(lo == (time_t)INT64_MIN);
	CHECK_INT(hi, nb - 1, "not yet valid: up to before notBefore");
	/* Within a second of a date: no window. */
	CHECK(!cert_validity_window(x, nb, &lo, &hi));
	CHECK(!cert_validity_window(x, na + 1, &lo, &hi));
	CHECK(!cert_validity_window(x, nb - 1, &lo, &hi));
	/* Narrowed, never widened, by a second certificate. */
	lo = (time_t)INT64_MIN;
	hi = (time_t)INT64_MAX;
	CHECK(cert_validity_window(x, nb + 1000, &lo, &hi));
	ASN1_TIME_set(X509_getm_notAfter(x), nb + 2000);
	CHECK(cert_validity_window(x, nb + 1000, &lo, &hi));
	CHECK_INT(hi, nb + 1999, "narrowed");
	X509_free(x);
}

struct memo_arg {
	struct verify_ctx *ctx;
	const struct verify_result *want; /* per chain */
	int wrong;
};

static void *memo_worker(void *p)
{
	struct memo_arg *a = p;
	time_t now = time(NULL);

	for (int i = 0; i < 300; i++) {
		int k = i % 3;
		struct verify_der d[2] = { { certs[9 + k].data,
					     certs[9 + k].len },
					   { certs[12].data, certs[12].len } };
		struct verify_result r;
		if (verify_chain(a->ctx, d, (size_t)(1 + k % 2), now,
				 "mx9.example.test", NULL, &r) != VERIFY_OK ||
		    !same_result(&r, &a->want[k]))
			a->wrong++;
	}
	return NULL;
}

/* One context shared by threads, as the scan's workers share it: every
 * answer, remembered or not, is the fresh judgement. */
UNIT_TEST(verify_chain_memo_threads)
{
	struct verify_ctx *ctx = new_ctx(), *fresh = new_ctx();
	struct verify_result want[3];
	struct memo_arg a[4];
	pthread_t t[4];
	time_t now = time(NULL);
	uint64_t hits, misses;

	make_all();
	for (int k = 0; k < 3; k++) {
		struct verify_der d[2] = { { certs[9 + k].data,
					     certs[9 + k].len },
					   { certs[12].data, certs[12].len } };
		CHECK_INT(verify_chain(fresh, d, (size_t)(1 + k % 2), now,
				       "mx9.example.test", NULL, &want[k]),
			  VERIFY_OK, "fresh");
	}
	for (int i = 0; i < 4; i++) {
		a[i] = (struct memo_arg){ ctx, want, 0 };
		pthread_create(&t[i], NULL, memo_worker, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(a[i].wrong, 0, "as judged fresh");
	}
	verify_chain_stats(ctx, &hits, &misses);
	CHECK_INT(hits + misses, 1200, "every call counted");
	/* Direct-mapped: two of the three keys may share a slot (and miss
	 * in turn); the third still hits nearly always. */
	CHECK(hits >= 300);
	verify_ctx_free(fresh);
	verify_ctx_free(ctx);
}

/* ---- the strict level without a second verification ------------------ */

/* A certificate for key under issuer (NULL: self-signed CA), signed with
 * md by issuer_key; valid now-1h..now+1h; DNS SAN mx.example.test. */
static X509 *strict_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
			 EVP_PKEY *issuer_key, const EVP_MD *md)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
	X509_gmtime_adj(X509_getm_notBefore(x), -HOUR);
	X509_gmtime_adj(X509_getm_notAfter(x), HOUR);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, key);
	if (issuer == NULL) {
		BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
		bc->ca = 1;
		X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1,
				  X509V3_ADD_DEFAULT);
		BASIC_CONSTRAINTS_free(bc);
	} else {
		GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		ASN1_STRING_set(s, "mx.example.test", -1);
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		sk_GENERAL_NAME_push(gens, g);
		X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
				  X509V3_ADD_DEFAULT);
		GENERAL_NAMES_free(gens);
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, md))
		abort();
	X509_NAME_free(n);
	return x;
}

/* A key of security strength under 112 bits that is none of the weak
 * kinds (RSA, DSA, EC): finite-field DH on RFC 5114's 1024-bit group. */
static EVP_PKEY *dh1024(void)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *k = NULL;
	OSSL_PARAM p[2] = {
		OSSL_PARAM_construct_utf8_string("group", "dh_1024_160", 0),
		OSSL_PARAM_construct_end(),
	};

	if (pc == NULL || EVP_PKEY_keygen_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_params(pc, p) <= 0 || EVP_PKEY_keygen(pc, &k) <= 0)
		k = NULL;
	EVP_PKEY_CTX_free(pc);
	return k;
}

/*
 * "trusted" is the strict level's verdict whether it comes from the
 * check of the built path's key and signature strengths or, where that
 * says no, from a second verification at level 2: a DH-1024 leaf (no
 * weak bit, but under 112 bits) is not trusted, an EC P-256 leaf signed
 * with SHA-224 (112 bits) and one with SHA-256 are.
 */
UNIT_TEST(verify_strict_without_second_pass)
{
	char path[] = "/tmp/mxcrawl-unit-certcache-XXXXXX";
	EVP_PKEY *root_key = EVP_EC_gen("P-256"), *ec = EVP_EC_gen("P-256");
	EVP_PKEY *dh = dh1024();
	X509 *root =
	    strict_cert(root_key, "Strict Root CA", NULL, NULL, EVP_sha256());
	const char *err = NULL;
	time_t now = time(NULL);
	struct {
		const char *what;
		EVP_PKEY *key;
		const EVP_MD *md;
		bool trusted;
	} cases[] = {
		{ "EC P-256, SHA-256", ec, EVP_sha256(), true },
		{ "EC P-256, SHA-224", ec, EVP_sha224(), true },
		{ "DH-1024 leaf", dh, EVP_sha256(), false },
	};
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	CHECK(dh != NULL);
	if (f == NULL || !PEM_write_X509(f, root))
		abort();
	fclose(f);
	struct verify_ctx *ctx = verify_ctx_new(path, NULL, &err);
	unlink(path);
	CHECK(ctx != NULL);
	for (size_t i = 0; ctx && i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].key == NULL)
			continue;
		X509 *leaf = strict_cert(cases[i].key, "leaf", root, root_key,
					 cases[i].md);
		uint8_t *der = NULL;
		int len = i2d_X509(leaf, &der);
		struct verify_der d = { der, (size_t)len };
		struct verify_result r;
		CHECK_INT(
		    verify_chain(ctx, &d, 1, now, "mx.example.test", NULL, &r),
		    VERIFY_OK, cases[i].what);
		CHECK_INT(r.valid_ignoring_strength, true, cases[i].what);
		CHECK_INT(r.weak, 0, cases[i].what);
		CHECK_INT(r.trusted, cases[i].trusted, cases[i].what);
		CHECK_INT(r.path_len, 2, cases[i].what);
		OPENSSL_free(der);
		X509_free(leaf);
	}
	verify_ctx_free(ctx);
	X509_free(root);
	EVP_PKEY_free(dh);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(root_key);
}
