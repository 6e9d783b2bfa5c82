#include <stdint.h>

#include "crawler/util/json.h"

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
