#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/scan/epreg.h"
#include "crawler/util/lru.h"

/* Initial buckets; the table doubles when it holds twice as many entries. */
#define EPREG_BUCKETS_INITIAL 4096

struct waiter {
	unsigned worker;
	ep_wait_cb cb;
	void *arg;
	const struct ep_done *res; /* set when queued for delivery */
	struct waiter *next;
};

/*
 * One endpoint. The result lives inside (first, so that ep_done_free() on
 * it frees the entry too) and the SNI after it, so an entry is one
 * allocation of about 150 bytes plus its chain. An entry is in one of
 * these states, by its fields:
 *   probing   !has_res: waiters queue, never dropped;
 *   held      has_res, refs > 0 (domains hold it, or its waiters are
 *             queued for delivery): not in the LRU list;
 *   idle      has_res, refs == 0: in the LRU list if stored (droppable),
 *             else kept as it is.
 */
struct entry {
	struct ep_done res;
	struct entry *next;  /* bucket chain */
	struct lru_node lru; /* in the LRU list (idle and stored) */
	struct waiter *waiters;
	uint64_t serial; /* epreg_result_key(): never reused */
	size_t bytes;	 /* counted in the registry's bytes */
	struct addr addr;
	uint32_t refs;
	uint16_t port;
	uint8_t service;
	bool has_res;
	bool stored; /* rows stored: droppable once idle */
	char sni[];
};

struct epreg {
	pthread_mutex_t mu;
	struct entry **buckets;
	size_t nbuckets;
	size_t count;
	unsigned workers;
	bool claims;	       /* new endpoints are claimed across processes */
	struct waiter **ready; /* per worker: callbacks to run */
	void (*wake)(void *ctx, unsigned worker);
	void *ctx;
	/* The LRU list of idle stored entries: newest at the head. */
	struct lru lru;
	size_t limit; /* 0: none */
	size_t bytes, peak_bytes;
	uint64_t serial, added, dropped;
};

static uint64_t hash_parts(const struct addr *a, uint16_t port, uint8_t service,
			   const char *sni)
{
	uint64_t h = 1469598103934665603ULL;

	h = (h ^ service) * 1099511628211ULL;
	for (size_t i = 0; i < sizeof a->bytes; i++)
		h = (h ^ a->bytes[i]) * 1099511628211ULL;
	h = (h ^ (uint64_t)a->family) * 1099511628211ULL;
	h = (h ^ port) * 1099511628211ULL;
	for (const char *s = sni; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static uint64_t key_hash(const struct ep_key *k)
{
	return hash_parts(&k->addr, k->port, k->service, k->sni);
}

static uint64_t entry_hash(const struct entry *e)
{
	return hash_parts(&e->addr, e->port, e->service, e->sni);
}

static bool key_eq(const struct entry *e, const struct ep_key *k)
{
	return e->addr.family == k->addr.family && e->port == k->port &&
	       e->service == k->service &&
	       memcmp(e->addr.bytes, k->addr.bytes, sizeof k->addr.bytes) ==
		   0 &&
	       strcmp(e->sni, k->sni) == 0;
}

/* Bytes of a result's chain as held (the one place that knows how
 * ep_done keeps it), with the allocator's overhead per block. */
static size_t chain_bytes(const struct ep_done *d)
{
	size_t n = 0;

	if (!d->chain)
		return 0;
	n = 16 + d->nchain * sizeof *d->chain;
	for (size_t i = 0; i < d->nchain; i++)
		n += d->chain[i].len;
	return n;
}

int ep_done_set_chain(struct ep_done *d, const struct verify_der *chain,
		      size_t n)
{
	size_t bytes = 0;

	d->chain = NULL;
	d->nchain = 0;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof *chain)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (chain[i].len > SIZE_MAX - bytes - n * sizeof *chain)
			return -ENOMEM;
		bytes += chain[i].len;
	}
	struct verify_der *v = malloc(n * sizeof *v + bytes);
	if (!v)
		return -ENOMEM;
	uint8_t *at = (uint8_t *)(v + n);
	for (size_t i = 0; i < n; i++) {
		if (chain[i].len)
			memcpy(at, chain[i].data, chain[i].len);
		v[i] = (struct verify_der){ at, chain[i].len };
		at += chain[i].len;
	}
	d->chain = v;
	d->nchain = n;
	return 0;
}

void ep_done_free(struct ep_done *d)
{
	if (d)
		free(d->chain);
	free(d);
}

struct epreg *epreg_new(unsigned workers,
			void (*wake)(void *ctx, unsigned worker), void *ctx)
{
	struct epreg *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->nbuckets = EPREG_BUCKETS_INITIAL;
	r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
	r->ready = calloc(workers ? workers : 1, sizeof *r->ready);
	if (!r->buckets || !r->ready) {
		free(r->buckets);
		free(r->ready);
		free(r);
		return NULL;
	}
	r->workers = workers;
	r->wake = wake;
	r->ctx = ctx;
	r->bytes = r->peak_bytes = r->nbuckets * sizeof *r->buckets;
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

/* Frees an entry and its result (the result is the entry's start). */
static void entry_free(struct entry *e)
{
	ep_done_free(&e->res);
}

static void waiters_free(struct waiter *w)
{
	while (w) {
		struct waiter *next = w->next;
		free(w);
		w = next;
	}
}

void epreg_free(struct epreg *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct entry *e = r->buckets[i];
		while (e) {
			struct entry *next = e->next;
			/* Only after a scan cut short: never called. */
			waiters_free(e->waiters);
			entry_free(e);
			e = next;
		}
	}
	for (unsigned i = 0; i < (r->workers ? r->workers : 1); i++)
		waiters_free(r->ready[i]);
	free(r->buckets);
	free(r->ready);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void epreg_use_claims(struct epreg *r)
{
	r->claims = true;
}

void epreg_set_limit(struct epreg *r, size_t bytes)
{
	pthread_mutex_lock(&r->mu);
	r->limit = bytes;
	pthread_mutex_unlock(&r->mu);
}

static void add_bytes(struct epreg *r, size_t n)
{
	r->bytes += n;
	if (r->bytes > r->peak_bytes)
		r->peak_bytes = r->bytes;
}

static void grow(struct epreg *r)
{
	size_t n = r->nbuckets * 2;
	struct entry **b = calloc(n, sizeof *b);

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct entry *e = r->buckets[i];
		while (e) {
			struct entry *next = e->next;
			size_t h = entry_hash(e) & (n - 1);
			e->next = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(r->buckets);
	r->bytes -= r->nbuckets * sizeof *r->buckets;
	r->buckets = b;
	r->nbuckets = n;
	add_bytes(r, n * sizeof *b);
}

static struct entry *find(struct epreg *r, const struct ep_key *k)
{
	for (struct entry *e = r->buckets[key_hash(k) & (r->nbuckets - 1)]; e;
	     e = e->next)
		if (key_eq(e, k))
			return e;
	return NULL;
}

/* Past the limit: takes the least recently used idle stored entries out
 * of the table, into a list (linked by next) for the caller to free once
 * unlocked. */
static struct entry *drop_over(struct epreg *r)
{
	struct entry *gone = NULL;

	while (r->limit && r->bytes > r->limit && r->lru.oldest) {
		struct entry *e = LRU_ENTRY(r->lru.oldest, struct entry, lru);
		lru_remove(&r->lru, &e->lru);
		struct entry **pp =
		    &r->buckets[entry_hash(e) & (r->nbuckets - 1)];
		while (*pp != e)
			pp = &(*pp)->next;
		*pp = e->next;
		r->count--;
		r->bytes -= e->bytes;
		r->dropped++;
		e->next = gone;
		gone = e;
	}
	return gone;
}

static void free_list(struct entry *e)
{
	while (e) {
		struct entry *next = e->next;
		entry_free(e);
		e = next;
	}
}

static struct entry *entry_new(const struct ep_key *k)
{
	size_t len = strnlen(k->sni, sizeof k->sni - 1);
	struct entry *e = calloc(1, sizeof *e + len + 1);

	if (!e)
		return NULL;
	e->addr = k->addr;
	e->port = k->port;
	e->service = k->service;
	memcpy(e->sni, k->sni, len);
	/* With the allocator's overhead. */
	e->bytes = 16 + sizeof *e + len + 1;
	return e;
}

enum epreg_answer epreg_request(struct epreg *r, const struct ep_key *k,
				unsigned worker, ep_wait_cb cb, void *arg,
				const struct ep_done **out)
{
	enum epreg_answer ans;
	struct entry *gone = NULL;

	pthread_mutex_lock(&r->mu);
	struct entry *e = find(r, k);
	if (e && e->has_res) {
		lru_remove(&r->lru, &e->lru);
		e->refs++;
		*out = &e->res;
		ans = EPREG_DONE;
	} else if (e) {
		struct waiter *w = calloc(1, sizeof *w);
		if (!w) {
			ans = EPREG_NO_MEMORY;
		} else {
			w->worker = worker;
			w->cb = cb;
			w->arg = arg;
			w->next = e->waiters;
			e->waiters = w;
			ans = EPREG_WAIT;
		}
	} else {
		e = entry_new(k);
		struct waiter *w = r->claims ? calloc(1, sizeof *w) : NULL;
		if (!e || (r->claims && !w)) {
			free(e);
			free(w);
			ans = EPREG_NO_MEMORY;
		} else {
			size_t h = key_hash(k) & (r->nbuckets - 1);
			e->next = r->buckets[h];
			r->buckets[h] = e;
			r->added++;
			add_bytes(r, e->bytes);
			if (++r->count > 2 * r->nbuckets)
				grow(r);
			ans = EPREG_PROBE;
			if (w) {
				w->worker = worker;
				w->cb = cb;
				w->arg = arg;
				e->waiters = w;
				ans = EPREG_CLAIM;
			}
			gone = drop_over(r);
		}
	}
	pthread_mutex_unlock(&r->mu);
	free_list(gone);
	return ans;
}

static const struct ep_done *publish(struct epreg *r, const struct ep_key *k,
				     struct ep_done *d, bool stored)
{
	bool woken[256] = { false };
	struct waiter *list;

	pthread_mutex_lock(&r->mu);
	struct entry *e = find(r, k);
	if (!e || e->has_res) {
		/* Cannot happen: the caller was told to probe it. */
		pthread_mutex_unlock(&r->mu);
		ep_done_free(d);
		return NULL;
	}
	/* Moved in: the chain now belongs to the entry. */
	e->res = *d;
	e->has_res = true;
	e->stored = stored;
	e->serial = ++r->serial;
	size_t cb = chain_bytes(&e->res);
	e->bytes += cb;
	add_bytes(r, cb);
	e->refs = 1; /* the caller's */
	list = e->waiters;
	e->waiters = NULL;
	while (list) {
		struct waiter *w = list;
		list = w->next;
		w->res = &e->res;
		e->refs++;
		w->next = r->ready[w->worker];
		r->ready[w->worker] = w;
		if (w->worker < 256)
			woken[w->worker] = true;
	}
	struct entry *gone = drop_over(r);
	pthread_mutex_unlock(&r->mu);
	free(d);
	free_list(gone);
	for (unsigned i = 0; i < r->workers && i < 256; i++)
		if (woken[i])
			r->wake(r->ctx, i);
	return &e->res;
}

const struct ep_done *epreg_publish(struct epreg *r, const struct ep_key *k,
				    struct ep_done *d)
{
	return publish(r, k, d, false);
}

const struct ep_done *epreg_publish_stored(struct epreg *r,
					   const struct ep_key *k,
					   struct ep_done *d)
{
	return publish(r, k, d, true);
}

void epreg_release(struct epreg *r, const struct ep_done *d)
{
	if (!d)
		return;
	/* The result is the entry's first member. */
	struct entry *e = (struct entry *)(uintptr_t)d;
	struct entry *gone = NULL;

	pthread_mutex_lock(&r->mu);
	if (e->refs && --e->refs == 0 && e->stored) {
		lru_push(&r->lru, &e->lru);
		gone = drop_over(r);
	}
	pthread_mutex_unlock(&r->mu);
	free_list(gone);
}

const void *epreg_result_key(const struct ep_done *d)
{
	const struct entry *e = (const struct entry *)(uintptr_t)d;

	/* Serials start at 1: never NULL. */
	return (const void *)(uintptr_t)e->serial;
}

void epreg_claimed(struct epreg *r, const struct ep_key *k)
{
	bool wake = false;
	unsigned worker = 0;

	pthread_mutex_lock(&r->mu);
	struct entry *e = find(r, k);
	if (e && !e->has_res && e->waiters) {
		struct waiter *w = e->waiters;
		e->waiters = w->next;
		w->res = NULL;
		w->next = r->ready[w->worker];
		r->ready[w->worker] = w;
		/* Read while locked: once unlocked, the worker may run and
		 * free w. */
		worker = w->worker;
		wake = true;
	}
	pthread_mutex_unlock(&r->mu);
	if (wake)
		r->wake(r->ctx, worker);
}

void epreg_drain(struct epreg *r, unsigned worker)
{
	struct waiter *list;

	pthread_mutex_lock(&r->mu);
	list = r->ready[worker];
	r->ready[worker] = NULL;
	pthread_mutex_unlock(&r->mu);
	while (list) {
		struct waiter *w = list;
		list = w->next;
		w->cb(w->arg, w->res);
		free(w);
	}
}

size_t epreg_count(const struct epreg *r)
{
	return r->count;
}

void epreg_stats(struct epreg *r, struct epreg_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = (struct epreg_stats){
		.entries = r->count,
		.bytes = r->bytes,
		.peak_bytes = r->peak_bytes,
		.added = r->added,
		.dropped = r->dropped,
	};
	pthread_mutex_unlock(&r->mu);
}
