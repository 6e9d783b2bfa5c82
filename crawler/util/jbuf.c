#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/util/jbuf.h"

void jbuf_init(struct jbuf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

void jbuf_free(struct jbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

void jbuf_reset(struct jbuf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

int jbuf_error(const struct jbuf *b)
{
	switch (b->failed) {
	case JBUF_OK:
		return 0;
	case JBUF_OVER_MAX:
		return -E2BIG;
	case JBUF_NO_MEMORY:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

/* Room for extra more bytes and the NUL: 0, or the buffer's error
 * (jbuf_error), also when it had failed before. */
static int reserve(struct jbuf *b, size_t extra)
{
	if (b->failed)
		return jbuf_error(b);
	if (extra > b->max || b->len + extra > b->max) {
		b->failed = JBUF_OVER_MAX;
		return -E2BIG;
	}
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *n = realloc(b->data, cap);
	if (!n) {
		b->failed = JBUF_NO_MEMORY;
		return -ENOMEM;
	}
	b->data = n;
	b->cap = cap;
	return 0;
}

char *jbuf_room(struct jbuf *b, size_t n)
{
	if (reserve(b, n) != 0)
		return NULL;
	return b->data + b->len;
}

void jbuf_append(struct jbuf *b, const char *s, size_t len)
{
	if (reserve(b, len) != 0)
		return;
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void jbuf_hex(struct jbuf *b, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *out = jbuf_room(b, 2 * n);

	if (!out)
		return;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	b->len += 2 * n;
	b->data[b->len] = '\0';
}

void jbuf_puts(struct jbuf *b, const char *s)
{
	jbuf_append(b, s, strlen(s));
}

void jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = JBUF_BAD_FORMAT;
		return;
	}
	if ((size_t)n < sizeof small) {
		jbuf_append(b, small, (size_t)n);
		return;
	}
	if (reserve(b, (size_t)n) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
