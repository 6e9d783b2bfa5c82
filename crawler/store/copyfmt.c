#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crawler/store/copyfmt.h"
#include "crawler/util/json.h"

static const char hexdig[] = "0123456789abcdef";

/*
 * jbuf_append() with the common case inline: the bytes fit in what is
 * allocated (cap never exceeds max + 1, so they fit the maximum too).
 * One-byte separators through the library call were 7 % of a DNS-only
 * scan's instructions.
 */
static inline void put(struct jbuf *b, const char *s, size_t n)
{
	if (!b->failed && b->len + n < b->cap) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = '\0';
		return;
	}
	jbuf_append(b, s, n);
}

void copy_field(struct jbuf *b)
{
	put(b, "\t", 1);
}

void copy_row_end(struct jbuf *b)
{
	put(b, "\n", 1);
}

void copy_null(struct jbuf *b)
{
	put(b, "\\N", 2);
}

/*
 * Whether byte c goes out as it is: printable ASCII and the control
 * characters COPY leaves alone. Not: the escapes below (backslash, tab,
 * newline, carriage return; the double quote in array elements only),
 * NUL (text cannot hold it) and bytes from 0x80 on (checked as UTF-8).
 * Runs of such bytes (nearly every name) go to the buffer with one
 * append: escaping byte by byte was a fifth of a DNS-only scan's
 * instructions.
 */
static inline bool plain(unsigned char c, bool array)
{
	return c != 0 && c < 0x80 && c != '\\' && c != '\t' && c != '\n' &&
	       c != '\r' && !(array && c == '"');
}

/*
 * Whether the 8 bytes at p are all printable ASCII other than the
 * backslash (and the double quote in an array): plain() for each, but a
 * word at a time (the usual "has a byte less than n" bit tricks, valid
 * once no byte has its high bit set). False may still be plain bytes
 * (control characters): the byte loop decides those.
 */
static inline bool plain8(const unsigned char *p, bool array)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t v, x;

	memcpy(&v, p, 8);
	if (v & high)
		return false;
	if ((v - ones * 0x20) & ~v & high) /* a byte below 0x20 */
		return false;
	x = v ^ (ones * '\\');
	if ((x - ones) & ~x & high)
		return false;
	if (array) {
		x = v ^ (ones * '"');
		if ((x - ones) & ~x & high)
			return false;
	}
	return true;
}

/* Length of the valid UTF-8 sequence at s, or 0: PostgreSQL text takes
 * neither invalid UTF-8 nor NUL. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	return s[0] ? utf8_seq(s, left) : 0;
}

/*
 * Appends s with COPY text escapes; `array` adds the array element
 * escapes first (backslash and double quote), so a backslash in an
 * element becomes four backslashes on the wire.
 */
static void escape(struct jbuf *b, const char *s, size_t len, bool array)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t n;
		if (plain(c, array)) {
			size_t j = i + 1;
			while (j + 8 <= len && plain8(p + j, array))
				j += 8;
			while (j < len && plain(p[j], array))
				j++;
			put(b, s + i, j - i);
			i = j;
			continue;
		}
		switch (c) {
		case '\\':
			if (array)
				put(b, "\\\\\\\\", 4);
			else
				put(b, "\\\\", 2);
			i++;
			continue;
		case '"':
			/* only in an array: plain in text */
			put(b, "\\\\\"", 3);
			i++;
			continue;
		case '\t':
			put(b, "\\t", 2);
			i++;
			continue;
		case '\n':
			put(b, "\\n", 2);
			i++;
			continue;
		case '\r':
			put(b, "\\r", 2);
			i++;
			continue;
		}
		n = utf8_len(p + i, len - i);
		if (n == 0) {
			put(b, "\xef\xbf\xbd", 3); /* U+FFFD */
			i++;
		} else {
			put(b, s + i, n);
			i += n;
		}
	}
}

void copy_text(struct jbuf *b, const char *s, size_t len)
{
	escape(b, s, len, false);
}

void copy_str(struct jbuf *b, const char *s)
{
	if (s)
		escape(b, s, strlen(s), false);
	else
		copy_null(b);
}

void copy_strs(struct jbuf *b, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		copy_str(b, v[i]);
		copy_field(b);
	}
}

/* v in decimal into the end of buf[24]; returns where it starts. printf
 * cost a sixth of a DNS-only scan's instructions, mostly for ids. */
static char *itoa_end(char buf[24], int64_t v)
{
	char *e = buf + 24;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--e = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--e = '-';
	return e;
}

void copy_int(struct jbuf *b, int64_t v)
{
	char buf[24];
	char *s = itoa_end(buf, v);

	put(b, s, (size_t)(buf + 24 - s));
}

void copy_bool(struct jbuf *b, bool v)
{
	put(b, v ? "t" : "f", 1);
}

static void hex(struct jbuf *b, const uint8_t *p, size_t len)
{
	char chunk[128];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		chunk[n++] = hexdig[p[i] >> 4];
		chunk[n++] = hexdig[p[i] & 15];
		if (n == sizeof chunk) {
			put(b, chunk, n);
			n = 0;
		}
	}
	put(b, chunk, n);
}

void copy_bytea(struct jbuf *b, const uint8_t *p, size_t len)
{
	/* bytea hex input is \x..., and COPY needs the backslash doubled. */
	put(b, "\\\\x", 3);
	hex(b, p, len);
}

void copy_array_begin(struct copy_array *a, struct jbuf *b)
{
	a->b = b;
	a->n = 0;
	put(b, "{", 1);
}

static void element_start(struct copy_array *a)
{
	if (a->n++)
		put(a->b, ",", 1);
}

void copy_array_text(struct copy_array *a, const char *s, size_t len)
{
	element_start(a);
	put(a->b, "\"", 1);
	escape(a->b, s, len, true);
	put(a->b, "\"", 1);
}

void copy_array_int(struct copy_array *a, int64_t v)
{
	element_start(a);
	copy_int(a->b, v);
}

void copy_array_bytea(struct copy_array *a, const uint8_t *p, size_t len)
{
	/* Element "\\x..": the array parser unescapes to \x.., bytea reads
	 * hex; COPY doubles each backslash again. */
	element_start(a);
	jbuf_puts(a->b, "\"\\\\\\\\x");
	hex(a->b, p, len);
	jbuf_puts(a->b, "\"");
}

void copy_array_end(struct copy_array *a)
{
	put(a->b, "}", 1);
}
