/*
 * TLS-RPT record parser: see tlsrpt.h. Field by field through a small
 * cursor, keeping the first error and reading on to the next ";", so the
 * output holds every URI that could be read.
 */
#include <string.h>

#include "crawler/sts/tlsrpt.h"
#include "crawler/sts/txtrec.h"

/* "v=TLSRPTv1": the record version (§3). */
#define RPT_VERSION "v=TLSRPTv1"
#define RPT_VERSION_LEN (sizeof RPT_VERSION - 1)

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

/*
 * RFC 3986 characters a tlsrpt-uri may hold literally: unreserved,
 * gen-delims and sub-delims, without the ",", "!" and ";" that RFC 8460
 * wants percent-encoded. "%" is checked with its two hex digits.
 */
static bool is_uri_char(int c)
{
	if (txt_is_alnum(c))
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

/* ---- the record -------------------------------------------------- */

bool tlsrpt_is_rpt(const uint8_t *buf, size_t len)
{
	return txt_has_version(buf, len, RPT_VERSION);
}

static void fail(enum tlsrpt_rc *rc, struct tlsrpt *out, enum tlsrpt_rc e,
		 size_t off)
{
	if (*rc != TLSRPT_OK)
		return;
	*rc = e;
	out->error_off = off;
}

/* Every byte of u[0..n) a URI character or a "%" HEXDIG HEXDIG. */
static bool uri_chars_ok(const uint8_t *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (u[i] == '%') {
			if (n - i < 3 || !txt_is_hex(u[i + 1]) ||
			    !txt_is_hex(u[i + 2]))
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
	if (n > 0 && txt_is_alpha(u[0])) {
		i = 1;
		while (i < n && (txt_is_alnum(u[i]) || u[i] == '+' ||
				 u[i] == '-' || u[i] == '.'))
			i++;
	}
	if (i == 0 || i == n || u[i] != ':') {
		r->scheme = TLSRPT_SCHEME_NONE;
		return;
	}
	for (size_t k = 0; k < i && k < TLSRPT_SCHEME_MAX; k++)
		r->scheme_name[k] = (char)txt_lower(u[k]);
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
static void rua_read(struct txt_cur *c, struct tlsrpt *out, enum tlsrpt_rc *rc)
{
	for (;;) {
		size_t start = c->off;
		int ch;
		while ((ch = txt_peek(c)) >= 0 && ch != ',' && ch != ';' &&
		       !txt_is_wsp(ch))
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
		txt_skip_wsp(c);
		if (txt_peek(c) != ',') {
			c->off = save;
			return;
		}
		c->off++;
		txt_skip_wsp(c);
	}
}

/* The parser's state, for the frame reader's callbacks. */
struct rpt_state {
	struct tlsrpt *out;
	enum tlsrpt_rc rc;
};

/* Reads one field at c (after a separator). */
static void field_read(void *ctx, struct txt_cur *c)
{
	struct rpt_state *st = ctx;
	struct tlsrpt *out = st->out;
	size_t name, name_len;

	if (!txt_field_name(c, &name, &name_len)) {
		fail(&st->rc, out, TLSRPT_RC_BAD_FIELD, name);
		return;
	}
	out->nfields++;

	if (name_len == 3 && memcmp(c->p + name, "rua", 3) == 0) {
		if (out->has_rua) {
			fail(&st->rc, out, TLSRPT_RC_DUPLICATE_RUA, name);
			txt_skip_to_semicolon(c);
			return;
		}
		out->has_rua = true;
		rua_read(c, out, &st->rc);
		return;
	}
	out->next++;
	size_t val = c->off;
	int ch;
	while ((ch = txt_peek(c)) >= 0 && ch != ';' && !txt_is_wsp(ch))
		c->off++;
	if (!txt_ext_value_ok(c->p + val, c->off - val))
		fail(&st->rc, out, TLSRPT_RC_BAD_VALUE, val);
}

static void frame_error(void *ctx, enum txt_frame_error e, size_t off)
{
	struct rpt_state *st = ctx;

	fail(&st->rc, st->out,
	     e == TXT_TRAILING_SPACE ? TLSRPT_RC_TRAILING_SPACE
				     : TLSRPT_RC_BAD_SEPARATOR,
	     off);
}

enum tlsrpt_rc tlsrpt_parse(const uint8_t *buf, size_t len, struct tlsrpt *out)
{
	struct rpt_state st = { out, TLSRPT_OK };
	const struct txt_reader r = { field_read, frame_error, &st };

	memset(out, 0, sizeof *out);
	out->nrecords = 1;
	if (!tlsrpt_is_rpt(buf, len))
		return TLSRPT_RC_NONE;
	out->nrpt = 1;
	txt_read_fields(buf, len, RPT_VERSION_LEN, &r);
	if (!out->has_rua)
		fail(&st.rc, out, TLSRPT_RC_MISSING_RUA, len);
	return st.rc;
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
