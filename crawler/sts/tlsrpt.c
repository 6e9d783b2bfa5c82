/*
 * TLS-RPT record parser: see tlsrpt.h. Field by field through a small
 * cursor, keeping the first error and reading on to the next ";", so the
 * output holds every URI that could be read.
 */
#include <string.h>

#include "crawler/sts/tlsrpt.h"

/* "v=TLSRPTv1": the record version (§3). */
#define RPT_VERSION "v=TLSRPTv1"
#define RPT_VERSION_LEN (sizeof RPT_VERSION - 1)
/* Longest extension name: (ALPHA / DIGIT) *31(...). */
#define EXT_NAME_MAX 32

static const char *const rc_names[] = {
	[TLSRPT_OK] = "ok",
	[TLSRPT_RC_NONE] = "none",
	[TLSRPT_RC_MULTIPLE] = "multiple",
	[TLSRPT_RC_MISSING_RUA] = "missing_rua",
	[TLSRPT_RC_BAD_RUA] = "bad_rua",
	[TLSRPT_RC_DUPLICATE_RUA] = "duplicate_rua",
	[TLSRPT_RC_BAD_SEPARATOR] = "bad_separator",
	[TLSRPT_RC_BAD_FIELD] = "bad_field",
	[TLSRPT_RC_BAD_VALUE] = "bad_value",
	[TLSRPT_RC_TRAILING_SPACE] = "trailing_space",
};

static const char *const scheme_names[] = {
	[TLSRPT_SCHEME_NONE] = "none",
	[TLSRPT_SCHEME_MAILTO] = "mailto",
	[TLSRPT_SCHEME_HTTPS] = "https",
	[TLSRPT_SCHEME_OTHER] = "other",
};

const char *tlsrpt_rc_str(enum tlsrpt_rc rc)
{
	if ((unsigned)rc >= TLSRPT_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

const char *tlsrpt_status_str(enum tlsrpt_rc rc)
{
	switch (rc) {
	case TLSRPT_OK:
		return "valid";
	case TLSRPT_RC_NONE:
		return "none";
	case TLSRPT_RC_MULTIPLE:
		return "multiple";
	case TLSRPT_RC_MISSING_RUA:
	case TLSRPT_RC_BAD_RUA:
	case TLSRPT_RC_DUPLICATE_RUA:
	case TLSRPT_RC_BAD_SEPARATOR:
	case TLSRPT_RC_BAD_FIELD:
	case TLSRPT_RC_BAD_VALUE:
	case TLSRPT_RC_TRAILING_SPACE:
		return "invalid";
	case TLSRPT_RC_LAST:
		break;
	}
	return "unknown";
}

const char *tlsrpt_scheme_str(enum tlsrpt_scheme s)
{
	if ((unsigned)s >= TLSRPT_SCHEME_LAST)
		return "unknown";
	return scheme_names[s];
}

/* ---- character classes (ASCII only) ------------------------------ */

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_char(int c)
{
	return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * RFC 3986 characters a tlsrpt-uri may hold literally: unreserved,
 * gen-delims and sub-delims, without the ",", "!" and ";" that RFC 8460
 * wants percent-encoded. "%" is checked with its two hex digits.
 */
static bool is_uri_char(int c)
{
	if (is_alnum(c))
		return true;
	switch (c) {
	case '-':
	case '.':
	case '_':
	case '~':
	case ':':
	case '/':
	case '?':
	case '#':
	case '[':
	case ']':
	case '@':
	case '$':
	case '&':
	case '\'':
	case '(':
	case ')':
	case '*':
	case '+':
	case '=':
		return true;
	default:
		return false;
	}
}

/* ---- a read position over untrusted bytes ------------------------ */

/* Every read goes through peek(), which checks the bound; the cursor
 * borrows p. */
struct cur {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* The next byte, or -1 at the end. */
static int peek(const struct cur *c)
{
	return c->off < c->len ? c->p[c->off] : -1;
}

static void skip_wsp(struct cur *c)
{
	while (is_wsp(peek(c)))
		c->off++;
}

/* Skips to the next ";" (left unread) or the end. */
static void skip_to_semicolon(struct cur *c)
{
	int ch;
	while ((ch = peek(c)) >= 0 && ch != ';')
		c->off++;
}

/* ---- the record -------------------------------------------------- */

bool tlsrpt_is_rpt(const uint8_t *buf, size_t len)
{
	if (buf == NULL || len < RPT_VERSION_LEN ||
	    memcmp(buf, RPT_VERSION, RPT_VERSION_LEN) != 0)
		return false;
	if (len == RPT_VERSION_LEN)
		return true;
	/* Python's \s, as the truth's regex. */
	switch (buf[RPT_VERSION_LEN]) {
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

static void fail(enum tlsrpt_rc *rc, struct tlsrpt *out, enum tlsrpt_rc e,
		 size_t off)
{
	if (*rc != TLSRPT_OK)
		return;
	*rc = e;
	out->error_off = off;
}

/* tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
static bool ext_value_ok(const uint8_t *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ';' || v[i] == '=')
			return false;
	return true;
}

/* Every byte of u[0..n) a URI character or a "%" HEXDIG HEXDIG. */
static bool uri_chars_ok(const uint8_t *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (u[i] == '%') {
			if (n - i < 3 || !is_hex(u[i + 1]) || !is_hex(u[i + 2]))
				return false;
			i += 2;
		} else if (!is_uri_char(u[i])) {
			return false;
		}
	}
	return true;
}

/* mailto: local "@" domain before any "?" (RFC 6068 addr-spec, reduced
 * to its shape). */
static bool mailto_ok(const uint8_t *u, size_t n)
{
	const uint8_t *q = memchr(u, '?', n);
	if (q != NULL)
		n = (size_t)(q - u);
	const uint8_t *at = memchr(u, '@', n);
	if (at == NULL || at == u || (size_t)(at - u) + 1 == n)
		return false;
	size_t rest = n - (size_t)(at - u) - 1;
	return memchr(at + 1, '@', rest) == NULL;
}

/* https: "//" authority, the authority not empty. */
static bool https_ok(const uint8_t *u, size_t n)
{
	if (n < 3 || u[0] != '/' || u[1] != '/')
		return false;
	int c = u[2];
	return c != '/' && c != '?' && c != '#';
}

/* Classifies and checks one URI u[0..n), storing it in *r. */
static void uri_read(const uint8_t *u, size_t n, struct tlsrpt_uri *r)
{
	size_t keep = n;

	memset(r, 0, sizeof *r);
	if (keep > TLSRPT_URI_MAX) {
		keep = TLSRPT_URI_MAX;
		r->truncated = true;
	}
	memcpy(r->uri, u, keep);
	r->uri[keep] = '\0';
	r->len = keep;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	size_t i = 0;
	if (n > 0 && is_alpha(u[0])) {
		i = 1;
		while (i < n && (is_alnum(u[i]) || u[i] == '+' || u[i] == '-' ||
				 u[i] == '.'))
			i++;
	}
	if (i == 0 || i == n || u[i] != ':') {
		r->scheme = TLSRPT_SCHEME_NONE;
		return;
	}
	for (size_t k = 0; k < i && k < TLSRPT_SCHEME_MAX; k++)
		r->scheme_name[k] = (char)lower(u[k]);
	const uint8_t *rest = u + i + 1;
	size_t rlen = n - i - 1;
	if (i == 6 && memcmp(r->scheme_name, "mailto", 6) == 0) {
		r->scheme = TLSRPT_SCHEME_MAILTO;
		r->ok = uri_chars_ok(rest, rlen) && mailto_ok(rest, rlen);
	} else if (i == 5 && memcmp(r->scheme_name, "https", 5) == 0) {
		r->scheme = TLSRPT_SCHEME_HTTPS;
		r->ok = uri_chars_ok(rest, rlen) && https_ok(rest, rlen);
	} else {
		r->scheme = TLSRPT_SCHEME_OTHER;
	}
}

/* The value of the first rua field: URIs separated by *WSP "," *WSP. */
static void rua_read(struct cur *c, struct tlsrpt *out, enum tlsrpt_rc *rc)
{
	for (;;) {
		size_t start = c->off;
		int ch;
		while ((ch = peek(c)) >= 0 && ch != ',' && ch != ';' &&
		       !is_wsp(ch))
			c->off++;

		struct tlsrpt_uri scratch;
		struct tlsrpt_uri *r = &scratch;
		if (out->nrua < TLSRPT_MAX_RUA)
			r = &out->rua[out->nrua++];
		else
			out->rua_truncated = true;
		uri_read(c->p + start, c->off - start, r);
		out->rua_total++;
		if (!r->ok)
			fail(rc, out, TLSRPT_RC_BAD_RUA, start);

		/* Another URI only after a ","; white space that is not
		 * followed by one belongs to the field delimiter. */
		size_t save = c->off;
		skip_wsp(c);
		if (peek(c) != ',') {
			c->off = save;
			return;
		}
		c->off++;
		skip_wsp(c);
	}
}

/* Reads one field at c (after a separator). */
static void field_read(struct cur *c, struct tlsrpt *out, enum tlsrpt_rc *rc)
{
	size_t name = c->off;

	while (is_name_char(peek(c)))
		c->off++;
	size_t name_len = c->off - name;
	if (name_len == 0 || !is_alnum(c->p[name]) || name_len > EXT_NAME_MAX ||
	    peek(c) != '=') {
		fail(rc, out, TLSRPT_RC_BAD_FIELD, name);
		skip_to_semicolon(c);
		return;
	}
	c->off++; /* '=' */
	out->nfields++;

	if (name_len == 3 && memcmp(c->p + name, "rua", 3) == 0) {
		if (out->has_rua) {
			fail(rc, out, TLSRPT_RC_DUPLICATE_RUA, name);
			skip_to_semicolon(c);
			return;
		}
		out->has_rua = true;
		rua_read(c, out, rc);
		return;
	}
	out->next++;
	size_t val = c->off;
	int ch;
	while ((ch = peek(c)) >= 0 && ch != ';' && !is_wsp(ch))
		c->off++;
	if (!ext_value_ok(c->p + val, c->off - val))
		fail(rc, out, TLSRPT_RC_BAD_VALUE, val);
}

enum tlsrpt_rc tlsrpt_parse(const uint8_t *buf, size_t len, struct tlsrpt *out)
{
	enum tlsrpt_rc rc = TLSRPT_OK;
	struct cur c = { buf, len, RPT_VERSION_LEN };

	memset(out, 0, sizeof *out);
	out->nrecords = 1;
	if (!tlsrpt_is_rpt(buf, len))
		return TLSRPT_RC_NONE;
	out->nrpt = 1;

	for (;;) {
		size_t before = c.off;
		skip_wsp(&c);
		if (peek(&c) < 0) {
			if (c.off != before)
				fail(&rc, out, TLSRPT_RC_TRAILING_SPACE,
				     before);
			break;
		}
		if (peek(&c) != ';') {
			fail(&rc, out, TLSRPT_RC_BAD_SEPARATOR, c.off);
			skip_to_semicolon(&c);
			if (peek(&c) < 0)
				break;
		}
		c.off++; /* ';' */
		skip_wsp(&c);
		if (peek(&c) < 0)
			break; /* [field-delim] at the end */
		field_read(&c, out, &rc);
	}
	if (!out->has_rua)
		fail(&rc, out, TLSRPT_RC_MISSING_RUA, len);
	return rc;
}

enum tlsrpt_rc tlsrpt_select(const struct tlsrpt_bytes *recs, size_t n,
			     struct tlsrpt *out)
{
	size_t nrpt = 0, index = 0;

	for (size_t i = 0; i < n; i++) {
		if (tlsrpt_is_rpt(recs[i].p, recs[i].len)) {
			if (nrpt == 0)
				index = i;
			nrpt++;
		}
	}
	enum tlsrpt_rc rc;
	if (nrpt == 1) {
		rc = tlsrpt_parse(recs[index].p, recs[index].len, out);
	} else {
		memset(out, 0, sizeof *out);
		rc = nrpt == 0 ? TLSRPT_RC_NONE : TLSRPT_RC_MULTIPLE;
	}
	out->nrecords = n;
	out->nrpt = nrpt;
	out->index = index;
	return rc;
}
