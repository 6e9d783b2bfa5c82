/*
 * An intrusive least-recently-used list: a struct lru_node inside each
 * element, newest at one end, oldest at the other. No allocation and no
 * locking: the owner's lock covers the list. The endpoint registry and the
 * certificate cache keep their droppable entries in one.
 */
#ifndef MXCRAWL_UTIL_LRU_H
#define MXCRAWL_UTIL_LRU_H

#include <stdbool.h>
#include <stddef.h>

struct lru_node {
	struct lru_node *newer, *older;
};

struct lru {
	struct lru_node *newest, *oldest;
};

/* The element of type T whose member M is the node N. */
#define LRU_ENTRY(n, T, m) ((T *)(void *)((char *)(n)-offsetof(T, m)))

static inline bool lru_linked(const struct lru *l, const struct lru_node *n)
{
	return n->newer || n->older || l->newest == n;
}

/* Takes n out of l; nothing when n is not in it. */
static inline void lru_remove(struct lru *l, struct lru_node *n)
{
	if (!lru_linked(l, n))
		return;
	if (n->newer)
		n->newer->older = n->older;
	else
		l->newest = n->older;
	if (n->older)
		n->older->newer = n->newer;
	else
		l->oldest = n->newer;
	n->newer = n->older = NULL;
}

/* Puts n (not in l) at the newest end. */
static inline void lru_push(struct lru *l, struct lru_node *n)
{
	n->newer = NULL;
	n->older = l->newest;
	if (l->newest)
		l->newest->newer = n;
	else
		l->oldest = n;
	l->newest = n;
}

/* Moves n (in l or not) to the newest end. */
static inline void lru_touch(struct lru *l, struct lru_node *n)
{
	if (l->newest != n) {
		lru_remove(l, n);
		lru_push(l, n);
	}
}

#endif
