/*
 * The certificate cache (contracts in certcache.h). Shards of a chained
 * hash table, each with an LRU list and its own mutex; the SHA-256 is
 * already uniform, so its first bytes pick the shard and the bucket.
 */
#include "crawler/verify/certcache.h"
#include "crawler/util/lru.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

/* Shards of a cache of at least CERT_CACHE_SHARD_MIN entries (fewer: one
 * shard, so that a small cache evicts exactly in LRU order). */
#define CERT_CACHE_SHARDS 16
#define CERT_CACHE_SHARD_MIN 64

struct entry {
	uint8_t sha[CERT_CACHE_SHA256_LEN];
	X509 *x;   /* the cache's reference; NULL when bad */
	bool bad;  /* not one exact DER certificate */
	char *row; /* the COPY row, once made */
	size_t rowlen;
	struct entry *hnext; /* bucket chain */
	struct lru_node lru; /* in the shard's LRU list */
};

struct shard {
	pthread_mutex_t lock;
	struct entry **bucket;
	size_t nbucket; /* a power of two */
	size_t count, cap;
	struct lru lru;
	uint64_t hits, misses, evictions;
};

struct cert_cache {
	size_t nshard;
	struct shard shard[];
};

static uint64_t sha_bits(const uint8_t *sha, size_t at)
{
	uint64_t v;

	memcpy(&v, sha + at, sizeof v);
	return v;
}

static struct shard *shard_of(struct cert_cache *c, const uint8_t *sha)
{
	return &c->shard[sha_bits(sha, 0) % c->nshard];
}

static struct entry **slot_of(struct shard *s, const uint8_t *sha)
{
	return &s->bucket[sha_bits(sha, 8) & (s->nbucket - 1)];
}

struct cert_cache *cert_cache_new(size_t max)
{
	size_t nshard = max >= CERT_CACHE_SHARD_MIN ? CERT_CACHE_SHARDS : 1;
	struct cert_cache *c;

	if (max == 0)
		return NULL;
	c = calloc(1, sizeof *c + nshard * sizeof c->shard[0]);
	if (!c)
		return NULL;
	c->nshard = nshard;
	for (size_t i = 0; i < nshard; i++) {
		struct shard *s = &c->shard[i];
		s->cap = max / nshard + (i < max % nshard);
		s->nbucket = 1;
		while (s->nbucket < 2 * s->cap)
			s->nbucket <<= 1;
		s->bucket = calloc(s->nbucket, sizeof *s->bucket);
		pthread_mutex_init(&s->lock, NULL);
		if (!s->bucket) {
			c->nshard = i + 1;
			cert_cache_free(c);
			return NULL;
		}
	}
	return c;
}

static void entry_free(struct entry *e)
{
	X509_free(e->x);
	free(e->row);
	free(e);
}

void cert_cache_free(struct cert_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nshard; i++) {
		struct shard *s = &c->shard[i];
		struct lru_node *n = s->lru.newest;
		while (n) {
			struct lru_node *older = n->older;
			entry_free(LRU_ENTRY(n, struct entry, lru));
			n = older;
		}
		free(s->bucket);
		pthread_mutex_destroy(&s->lock);
	}
	free(c);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static struct cert_cache *global;

static void global_init(void)
{
	global = cert_cache_new(CERT_CACHE_DEFAULT);
}

struct cert_cache *cert_cache_global(void)
{
	pthread_once(&global_once, global_init);
	return global;
}

/* ---- SHA-256 --------------------------------------------------------- */

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static pthread_key_t md_ctx_key;

static void md_ctx_destroy(void *p)
{
	EVP_MD_CTX_free(p);
}

static void md_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&md_ctx_key, md_ctx_destroy) != 0) {
		EVP_MD_free(sha256_md);
		sha256_md = NULL;
	}
}

int cert_cache_sha256(const uint8_t *der, size_t len,
		      uint8_t out[CERT_CACHE_SHA256_LEN])
{
	EVP_MD_CTX *m;
	unsigned n = 0;

	pthread_once(&md_once, md_init);
	if (!sha256_md)
		return -ENOMEM;
	/* One context per thread, freed with the thread: re-initialising
	 * it with the same digest reuses the provider's state. */
	m = pthread_getspecific(md_ctx_key);
	if (!m) {
		m = EVP_MD_CTX_new();
		if (!m || pthread_setspecific(md_ctx_key, m) != 0) {
			EVP_MD_CTX_free(m);
			return -ENOMEM;
		}
	}
	if (EVP_DigestInit_ex2(m, sha256_md, NULL) != 1 ||
	    EVP_DigestUpdate(m, der, len) != 1 ||
	    EVP_DigestFinal_ex(m, out, &n) != 1 || n != CERT_CACHE_SHA256_LEN) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

/* ---- the table (callers hold the shard's lock) ----------------------- */

static struct entry *find(struct shard *s, const uint8_t *sha)
{
	for (struct entry *e = *slot_of(s, sha); e; e = e->hnext)
		if (memcmp(e->sha, sha, CERT_CACHE_SHA256_LEN) == 0)
			return e;
	return NULL;
}

/* Unlinks the least recently used entry; the caller frees it outside the
 * lock (X509_free takes OpenSSL's locks). */
static struct entry *evict(struct shard *s)
{
	struct entry *e, **p;

	if (!s->lru.oldest)
		return NULL;
	e = LRU_ENTRY(s->lru.oldest, struct entry, lru);
	lru_remove(&s->lru, &e->lru);
	for (p = slot_of(s, e->sha); *p != e; p = &(*p)->hnext)
		;
	*p = e->hnext;
	s->count--;
	s->evictions++;
	return e;
}

/* Inserts e (not present); returns an evicted entry or NULL. */
static struct entry *insert(struct shard *s, struct entry *e)
{
	struct entry **slot = slot_of(s, e->sha);
	struct entry *old = NULL;

	if (s->count >= s->cap)
		old = evict(s);
	e->hnext = *slot;
	*slot = e;
	lru_push(&s->lru, &e->lru);
	s->count++;
	return old;
}

/* ---- lookups ---------------------------------------------------------- */

/* One exact DER certificate (no trailing bytes), or NULL. */
static X509 *parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (!der || len == 0 || len > (size_t)INT32_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

/* Looks sha up; on a hit takes a reference of its X509 into *x (NULL for
 * a bad entry) and sets *bad. */
static bool lookup(struct cert_cache *c, const uint8_t *sha, X509 **x,
		   bool *bad)
{
	struct shard *s = shard_of(c, sha);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, sha);
	if (e) {
		lru_touch(&s->lru, &e->lru);
		s->hits++;
		*x = e->x;
		*bad = e->bad;
		if (e->x)
			X509_up_ref(e->x);
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->lock);
	return e != NULL;
}

/*
 * Keeps x (NULL: bad) under sha unless another thread was first: returns
 * the entry's certificate with a reference for the caller, and drops the
 * caller's reference of x when the cached one is returned instead.
 */
static X509 *keep(struct cert_cache *c, const uint8_t *sha, X509 *x, bool *bad)
{
	struct shard *s = shard_of(c, sha);
	struct entry *e = calloc(1, sizeof *e), *old = NULL, *have;
	X509 *ret = x;

	if (e) {
		memcpy(e->sha, sha, CERT_CACHE_SHA256_LEN);
		e->x = x;
		e->bad = x == NULL;
	}
	pthread_mutex_lock(&s->lock);
	have = find(s, sha);
	if (have) {
		lru_touch(&s->lru, &have->lru);
		if (have->x || !x) {
			ret = have->x;
			if (ret)
				X509_up_ref(ret);
		} else {
			/* Remembered as bad, parsed now: keep the parse. */
			X509_up_ref(x);
			have->x = x;
			have->bad = false;
			x = NULL;
		}
	} else if (e) {
		if (x)
			X509_up_ref(x); /* the entry's own */
		old = insert(s, e);
		e = NULL;
		x = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (e) {
		e->x = NULL;
		free(e);
	}
	if (old)
		entry_free(old);
	if (x && ret != x)
		X509_free(x);
	*bad = ret == NULL;
	return ret;
}

X509 *cert_cache_get(struct cert_cache *c, const uint8_t *der, size_t len,
		     const uint8_t *sha, bool *bad)
{
	uint8_t digest[CERT_CACHE_SHA256_LEN];
	X509 *x = NULL;

	*bad = false;
	if (!c) {
		x = parse(der, len);
		*bad = x == NULL;
		return x;
	}
	if (!sha) {
		if (cert_cache_sha256(der, len, digest) != 0)
			return NULL;
		sha = digest;
	}
	if (lookup(c, sha, &x, bad))
		return x;
	x = parse(der, len);
	/* keep() decides *bad: another thread may have parsed it. */
	return keep(c, sha, x, bad);
}

X509 *cert_cache_adopt(struct cert_cache *c, X509 *x, const uint8_t *sha)
{
	bool bad;

	X509_up_ref(x);
	if (!c)
		return x;
	/* keep() drops the reference taken above if it has another. */
	X509 *ret = keep(c, sha, x, &bad);
	return ret;
}

int cert_cache_row(struct cert_cache *c, struct jbuf *b, const uint8_t *der,
		   size_t len, const uint8_t *sha,
		   int (*make)(struct jbuf *b, const uint8_t *der, size_t len,
			       const uint8_t *sha, X509 *x))
{
	uint8_t digest[CERT_CACHE_SHA256_LEN];
	struct shard *s;
	struct entry *e;
	size_t before = b->len;
	bool bad;
	int rc;

	if (!sha) {
		rc = cert_cache_sha256(der, len, digest);
		if (rc != 0)
			return rc;
		sha = digest;
	}
	if (c) {
		s = shard_of(c, sha);
		pthread_mutex_lock(&s->lock);
		e = find(s, sha);
		if (e && e->row) {
			lru_touch(&s->lru, &e->lru);
			s->hits++;
			jbuf_append(b, e->row, e->rowlen);
			pthread_mutex_unlock(&s->lock);
			return jbuf_error(b);
		}
		pthread_mutex_unlock(&s->lock);
	}
	X509 *x = cert_cache_get(c, der, len, sha, &bad);
	if (!x && !bad)
		return -ENOMEM;
	rc = make(b, der, len, sha, x);
	X509_free(x);
	if (rc != 0 || !c)
		return rc;
	/* Keep a copy of the row in the entry, if it is still there. */
	size_t n = b->len - before;
	char *row = malloc(n ? n : 1);
	if (!row)
		return 0;
	memcpy(row, b->data + before, n);
	s = shard_of(c, sha);
	pthread_mutex_lock(&s->lock);
	e = find(s, sha);
	if (e && !e->row) {
		e->row = row;
		e->rowlen = n;
		row = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(row);
	return 0;
}

bool cert_validity_window(X509 *x, time_t at, time_t *lo, time_t *hi)
{
	const ASN1_TIME *t[2] = { X509_get0_notBefore(x),
				  X509_get0_notAfter(x) };

	for (int i = 0; i < 2; i++) {
		struct tm tm;
		time_t b;
		if (t[i] == NULL || ASN1_TIME_to_tm(t[i], &tm) != 1)
			return false;
		b = timegm(&tm);
		if (at >= b - 1 && at <= b + 1)
			return false;
		if (b + 1 < at && b + 1 > *lo)
			*lo = b + 1;
		if (b - 1 > at && b - 1 < *hi)
			*hi = b - 1;
	}
	return true;
}

void cert_cache_stats(struct cert_cache *c, struct cert_cache_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!c)
		return;
	for (size_t i = 0; i < c->nshard; i++) {
		struct shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		out->hits += s->hits;
		out->misses += s->misses;
		out->evictions += s->evictions;
		out->entries += s->count;
		pthread_mutex_unlock(&s->lock);
	}
}
