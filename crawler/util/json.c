#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/util/json.h"

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

static int reserve(struct jbuf *b, size_t extra)
{
	if (b->failed)
		return -1;
	if (extra > b->max || b->len + extra > b->max) {
		b->failed = 1;
		return -1;
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
		b->failed = 1;
		return -1;
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
		b->failed = 1;
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

size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void jbuf_json_string(struct jbuf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	jbuf_append(b, "\"", 1);
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		/* A run of printable ASCII needs no escape: one append (the
		 * export writes millions of short strings). */
		size_t run = 0;
		while (i + run < len && p[i + run] >= 0x20 &&
		       p[i + run] < 0x7f && p[i + run] != '"' &&
		       p[i + run] != '\\')
			run++;
		if (run) {
			jbuf_append(b, s + i, run);
			i += run;
			continue;
		}
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			jbuf_append(b, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			jbuf_printf(b, "\\u%04x", c);
			i++;
		} else {
			size_t n = utf8_seq(p + i, len - i);
			if (n == 0) {
				jbuf_append(b, "\\ufffd", 6);
				i++;
			} else {
				jbuf_append(b, s + i, n);
				i += n;
			}
		}
	}
	jbuf_append(b, "\"", 1);
}
