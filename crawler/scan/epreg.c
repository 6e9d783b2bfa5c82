#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/scan/epreg.h"

/* Initial buckets; the table doubles when it holds twice as many entries. */
#define EPREG_BUCKETS_INITIAL 4096

struct waiter {
	unsigned worker;
	ep_wait_cb cb;
	void *arg;
	const struct ep_done *res; /* set when queued for delivery */
	struct waiter *next;
};

struct entry {
	struct ep_key key;
	struct ep_done *res; /* NULL while being probed */
	struct waiter *waiters;
	struct entry *next;
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
};

static uint64_t key_hash(const struct ep_key *k)
{
	uint64_t h = 1469598103934665603ULL;
	const uint8_t *p = k->addr.bytes;

	for (size_t i = 0; i < sizeof k->addr.bytes; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	h = (h ^ (uint64_t)k->addr.family) * 1099511628211ULL;
	h = (h ^ k->port) * 1099511628211ULL;
	for (const char *s = k->sni; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static bool key_eq(const struct ep_key *a, const struct ep_key *b)
{
	return a->addr.family == b->addr.family && a->port == b->port &&
	       memcmp(a->addr.bytes, b->addr.bytes, sizeof a->addr.bytes) ==
		   0 &&
	       strcmp(a->sni, b->sni) == 0;
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
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void epreg_free(struct epreg *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct entry *e = r->buckets[i];
		while (e) {
			struct entry *next = e->next;
			ep_done_free(e->res);
			free(e);
			e = next;
		}
	}
	free(r->buckets);
	free(r->ready);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void epreg_use_claims(struct epreg *r)
{
	r->claims = true;
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
			size_t h = key_hash(&e->key) & (n - 1);
			e->next = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = n;
}

static struct entry *find(struct epreg *r, const struct ep_key *k)
{
	for (struct entry *e = r->buckets[key_hash(k) & (r->nbuckets - 1)]; e;
	     e = e->next)
		if (key_eq(&e->key, k))
			return e;
	return NULL;
}

enum epreg_answer epreg_request(struct epreg *r, const struct ep_key *k,
				unsigned worker, ep_wait_cb cb, void *arg,
				const struct ep_done **out)
{
	enum epreg_answer ans;

	pthread_mutex_lock(&r->mu);
	struct entry *e = find(r, k);
	if (e && e->res) {
		*out = e->res;
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
		e = calloc(1, sizeof *e);
		struct waiter *w = r->claims ? calloc(1, sizeof *w) : NULL;
		if (!e || (r->claims && !w)) {
			free(e);
			free(w);
			ans = EPREG_NO_MEMORY;
		} else {
			e->key = *k;
			size_t h = key_hash(k) & (r->nbuckets - 1);
			e->next = r->buckets[h];
			r->buckets[h] = e;
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
		}
	}
	pthread_mutex_unlock(&r->mu);
	return ans;
}

const struct ep_done *epreg_publish(struct epreg *r, const struct ep_key *k,
				    struct ep_done *d)
{
	bool woken[256] = { false };
	struct waiter *list;

	pthread_mutex_lock(&r->mu);
	struct entry *e = find(r, k);
	if (!e) {
		/* Cannot happen: the caller was told to probe it. */
		pthread_mutex_unlock(&r->mu);
		ep_done_free(d);
		return NULL;
	}
	e->res = d;
	list = e->waiters;
	e->waiters = NULL;
	while (list) {
		struct waiter *w = list;
		list = w->next;
		w->res = d;
		w->next = r->ready[w->worker];
		r->ready[w->worker] = w;
		if (w->worker < 256)
			woken[w->worker] = true;
	}
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < r->workers && i < 256; i++)
		if (woken[i])
			r->wake(r->ctx, i);
	return d;
}

void epreg_claimed(struct epreg *r, const struct ep_key *k)
{
	bool wake = false;
	unsigned worker = 0;

	pthread_mutex_lock(&r->mu);
	struct entry *e = find(r, k);
	if (e && !e->res && e->waiters) {
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
