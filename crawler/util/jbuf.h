/*
 * A growable text buffer with a hard maximum. Once an append fails (out of
 * memory or over the maximum) the buffer is marked failed and every later
 * append is a no-op, so callers check once.
 */
#ifndef MXCRAWL_CRAWLER_JBUF_H
#define MXCRAWL_CRAWLER_JBUF_H

#include <stddef.h>
#include <stdint.h>

/* Why a buffer failed (struct jbuf.failed); callers that only ask
 * whether it failed test it as a boolean. */
enum jbuf_failure {
	JBUF_OK = 0,
	JBUF_OVER_MAX,	 /* an append would have passed `max` */
	JBUF_NO_MEMORY,	 /* realloc failed */
	JBUF_BAD_FORMAT, /* vsnprintf failed (jbuf_printf) */
};

struct jbuf {
	char *data; /* NUL-terminated while !failed */
	size_t len;
	size_t cap;
	size_t max; /* bytes the buffer may hold */
	int failed; /* enum jbuf_failure: the first failure, and it sticks */
};

void jbuf_init(struct jbuf *b, size_t max);
/* The buffer's first failure as a negative errno, 0 while it has not
 * failed: -E2BIG over its maximum, -ENOMEM, -EINVAL for a format that
 * vsnprintf refused. For functions that fill a buffer and return an
 * error. */
int jbuf_error(const struct jbuf *b);
void jbuf_free(struct jbuf *b);
void jbuf_reset(struct jbuf *b);
void jbuf_append(struct jbuf *b, const char *s, size_t len);
/* Room for n more bytes at data + len (len unchanged: the caller writes
 * and then advances len itself); NULL when it does not fit. */
char *jbuf_room(struct jbuf *b, size_t n);
void jbuf_puts(struct jbuf *b, const char *s);
/* Appends p[0..n) as lower-case hex (TLSA data, digests): a printf per
 * byte was a per cent of a scan's instructions. */
void jbuf_hex(struct jbuf *b, const uint8_t *p, size_t n);
void jbuf_printf(struct jbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
