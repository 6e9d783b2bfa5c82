/* The frame of the MTA-STS and TLS-RPT TXT records (see txtrec.h). */
#include "crawler/sts/txtrec.h"

#include <string.h>

void txt_skip_wsp(struct txt_cur *c)
{
	while (txt_is_wsp(txt_peek(c)))
		c->off++;
}

void txt_skip_to_semicolon(struct txt_cur *c)
{
	int ch;
	while ((ch = txt_peek(c)) >= 0 && ch != ';')
		c->off++;
}

bool txt_has_version(const uint8_t *buf, size_t len, const char *tag)
{
	size_t n = strlen(tag);

	if (buf == NULL || len < n || memcmp(buf, tag, n) != 0)
		return false;
	if (len == n)
		return true;
	switch (buf[n]) {
	case ';':
	case ' ':
	case '\t':
	case '\r':
	case '\n':
	case '\f':
	case '\v':
		return true;
	default:
		return false;
	}
}

bool txt_ext_value_ok(const uint8_t *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ';' || v[i] == '=')
			return false;
	return true;
}

bool txt_field_name(struct txt_cur *c, size_t *name, size_t *name_len)
{
	*name = c->off;
	while (txt_is_name_char(txt_peek(c)))
		c->off++;
	*name_len = c->off - *name;
	if (*name_len == 0 || !txt_is_alnum(c->p[*name]) ||
	    *name_len > TXT_NAME_MAX || txt_peek(c) != '=') {
		txt_skip_to_semicolon(c);
		return false;
	}
	c->off++; /* '=' */
	return true;
}

void txt_read_fields(const uint8_t *buf, size_t len, size_t tag_len,
		     const struct txt_reader *r)
{
	struct txt_cur c = { buf, len, tag_len };

	for (;;) {
		size_t before = c.off;
		txt_skip_wsp(&c);
		if (txt_peek(&c) < 0) {
			if (c.off != before)
				r->frame_error(r->ctx, TXT_TRAILING_SPACE,
					       before);
			break;
		}
		if (txt_peek(&c) != ';') {
			r->frame_error(r->ctx, TXT_BAD_SEPARATOR, c.off);
			txt_skip_to_semicolon(&c);
			if (txt_peek(&c) < 0)
				break;
		}
		c.off++; /* ';' */
		txt_skip_wsp(&c);
		if (txt_peek(&c) < 0)
			break; /* the optional ";" at the end */
		r->field(r->ctx, &c);
	}
}
