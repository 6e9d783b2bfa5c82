/*
 * MTA-STS parsers: see mtasts.h. The TXT record is read field by field
 * through a small cursor; the policy line by line. Both keep the first
 * error and read on (skipping to the next ";" or line), so that the
 * output holds every field that could be read.
 */
#include <string.h>

#include "crawler/sts/mtasts.h"
#include "crawler/sts/txtrec.h"

/* "v=STSv1": the record version (§3.1). */
#define STS_VERSION "v=STSv1"
#define STS_VERSION_LEN (sizeof STS_VERSION - 1)

static const char *const txt_rc_names[] = {
	[MTASTS_TXT_OK] = "ok",
	[MTASTS_TXT_RC_NONE] = "none",
	[MTASTS_TXT_RC_MULTIPLE] = "multiple",
	[MTASTS_TXT_RC_MISSING_ID] = "missing_id",
	[MTASTS_TXT_RC_BAD_ID] = "bad_id",
	[MTASTS_TXT_RC_DUPLICATE_ID] = "duplicate_id",
	[MTASTS_TXT_RC_BAD_SEPARATOR] = "bad_separator",
	[MTASTS_TXT_RC_BAD_FIELD] = "bad_field",
	[MTASTS_TXT_RC_BAD_VALUE] = "bad_value",
	[MTASTS_TXT_RC_TRAILING_SPACE] = "trailing_space",
};

static const char *const policy_rc_names[] = {
	[MTASTS_POLICY_OK] = "ok",
	[MTASTS_POLICY_RC_TOO_LARGE] = "too_large",
	[MTASTS_POLICY_RC_BOM] = "bom",
	[MTASTS_POLICY_RC_BLANK_LINE] = "blank_line",
	[MTASTS_POLICY_RC_BAD_LINE] = "bad_line",
	[MTASTS_POLICY_RC_BAD_KEY] = "bad_key",
	[MTASTS_POLICY_RC_BAD_VALUE] = "bad_value",
	[MTASTS_POLICY_RC_BAD_VERSION] = "bad_version",
	[MTASTS_POLICY_RC_BAD_MODE] = "bad_mode",
	[MTASTS_POLICY_RC_BAD_MAX_AGE] = "bad_max_age",
	[MTASTS_POLICY_RC_BAD_MX] = "bad_mx",
	[MTASTS_POLICY_RC_MISSING_VERSION] = "missing_version",
	[MTASTS_POLICY_RC_MISSING_MODE] = "missing_mode",
	[MTASTS_POLICY_RC_MISSING_MAX_AGE] = "missing_max_age",
	[MTASTS_POLICY_RC_MISSING_MX] = "missing_mx",
};

static const char *const mode_names[] = {
	[MTASTS_MODE_UNSET] = NULL,
	[MTASTS_MODE_ENFORCE] = "enforce",
	[MTASTS_MODE_TESTING] = "testing",
	[MTASTS_MODE_NONE] = "none",
};

static const char *const eol_names[] = {
	[MTASTS_EOL_NONE] = "none",
	[MTASTS_EOL_CRLF] = "crlf",
	[MTASTS_EOL_LF] = "lf",
	[MTASTS_EOL_MIXED] = "mixed",
};

const char *mtasts_txt_rc_str(enum mtasts_txt_rc rc)
{
	if ((unsigned)rc >= MTASTS_TXT_RC_LAST)
		return "unknown";
	return txt_rc_names[rc];
}

const char *mtasts_txt_status_str(enum mtasts_txt_rc rc)
{
	switch (rc) {
	case MTASTS_TXT_OK:
		return "valid";
	case MTASTS_TXT_RC_NONE:
		return "none";
	case MTASTS_TXT_RC_MULTIPLE:
		return "multiple";
	case MTASTS_TXT_RC_MISSING_ID:
	case MTASTS_TXT_RC_BAD_ID:
	case MTASTS_TXT_RC_DUPLICATE_ID:
	case MTASTS_TXT_RC_BAD_SEPARATOR:
	case MTASTS_TXT_RC_BAD_FIELD:
	case MTASTS_TXT_RC_BAD_VALUE:
	case MTASTS_TXT_RC_TRAILING_SPACE:
		return "invalid";
	case MTASTS_TXT_RC_LAST:
		break;
	}
	return "unknown";
}

const char *mtasts_policy_rc_str(enum mtasts_policy_rc rc)
{
	if ((unsigned)rc >= MTASTS_POLICY_RC_LAST)
		return "unknown";
	return policy_rc_names[rc];
}

const char *mtasts_mode_str(enum mtasts_mode m)
{
	if ((unsigned)m >= MTASTS_MODE_LAST)
		return NULL;
	return mode_names[m];
}

const char *mtasts_eol_str(enum mtasts_eol e)
{
	if ((unsigned)e >= MTASTS_EOL_LAST)
		return "unknown";
	return eol_names[e];
}

/* ---- TXT record (§3.1) ------------------------------------------- */

bool mtasts_txt_is_sts(const uint8_t *buf, size_t len)
{
	return txt_has_version(buf, len, STS_VERSION);
}

static void txt_clear(struct mtasts_txt *out)
{
	memset(out, 0, sizeof *out);
}

/* Keeps the first error and where it was. */
static void txt_fail(enum mtasts_txt_rc *rc, struct mtasts_txt *out,
		     enum mtasts_txt_rc e, size_t off)
{
	if (*rc != MTASTS_TXT_OK)
		return;
	*rc = e;
	out->error_off = off;
}

static bool id_ok(const uint8_t *v, size_t n)
{
	if (n == 0 || n > MTASTS_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!txt_is_alnum(v[i]))
			return false;
	return true;
}

/* The parser's state, for the frame reader's callbacks. */
struct txt_state {
	struct mtasts_txt *out;
	enum mtasts_txt_rc rc;
};

/* Reads one field at c (after a separator); the first error is kept. */
static void txt_field(void *ctx, struct txt_cur *c)
{
	struct txt_state *st = ctx;
	struct mtasts_txt *out = st->out;
	size_t name, name_len;

	if (!txt_field_name(c, &name, &name_len)) {
		txt_fail(&st->rc, out, MTASTS_TXT_RC_BAD_FIELD, name);
		return;
	}
	/* The value runs to the next separator or white space; what it may
	 * hold is checked after. */
	size_t val = c->off;
	int ch;
	while ((ch = txt_peek(c)) >= 0 && ch != ';' && !txt_is_wsp(ch))
		c->off++;
	const uint8_t *v = c->p + val;
	size_t vlen = c->off - val;

	out->nfields++;
	if (name_len == 2 && memcmp(c->p + name, "id", 2) == 0) {
		if (out->has_id) {
			txt_fail(&st->rc, out, MTASTS_TXT_RC_DUPLICATE_ID,
				 name);
			return;
		}
		out->has_id = true;
		size_t keep = vlen;
		if (keep > MTASTS_ID_KEEP) {
			keep = MTASTS_ID_KEEP;
			out->id_truncated = true;
		}
		memcpy(out->id, v, keep);
		out->id[keep] = '\0';
		out->id_len = keep;
		if (!id_ok(v, vlen))
			txt_fail(&st->rc, out, MTASTS_TXT_RC_BAD_ID, val);
		return;
	}
	out->next++;
	if (!txt_ext_value_ok(v, vlen))
		txt_fail(&st->rc, out, MTASTS_TXT_RC_BAD_VALUE, val);
}

static void txt_frame_error(void *ctx, enum txt_frame_error e, size_t off)
{
	struct txt_state *st = ctx;

	txt_fail(&st->rc, st->out,
		 e == TXT_TRAILING_SPACE ? MTASTS_TXT_RC_TRAILING_SPACE
					 : MTASTS_TXT_RC_BAD_SEPARATOR,
		 off);
}

enum mtasts_txt_rc mtasts_txt_parse(const uint8_t *buf, size_t len,
				    struct mtasts_txt *out)
{
	struct txt_state st = { out, MTASTS_TXT_OK };
	const struct txt_reader r = { txt_field, txt_frame_error, &st };

	txt_clear(out);
	out->nrecords = 1;
	if (!mtasts_txt_is_sts(buf, len))
		return MTASTS_TXT_RC_NONE;
	out->nsts = 1;
	txt_read_fields(buf, len, STS_VERSION_LEN, &r);
	if (!out->has_id)
		txt_fail(&st.rc, out, MTASTS_TXT_RC_MISSING_ID, len);
	return st.rc;
}

enum mtasts_txt_rc mtasts_txt_select(const struct mtasts_bytes *recs, size_t n,
				     struct mtasts_txt *out)
{
	size_t nsts = 0, index = 0;

	for (size_t i = 0; i < n; i++) {
		if (mtasts_txt_is_sts(recs[i].p, recs[i].len)) {
			if (nsts == 0)
				index = i;
			nsts++;
		}
	}
	enum mtasts_txt_rc rc;
	if (nsts == 1) {
		rc = mtasts_txt_parse(recs[index].p, recs[index].len, out);
	} else {
		txt_clear(out);
		rc = nsts == 0 ? MTASTS_TXT_RC_NONE : MTASTS_TXT_RC_MULTIPLE;
	}
	out->nrecords = n;
	out->nsts = nsts;
	out->index = index;
	return rc;
}

/* ---- policy (§3.2) ----------------------------------------------- */

/* The policy parser's state: the first error and which single-instance
 * fields were seen (valid or not). */
struct policy_state {
	enum mtasts_policy_rc rc;
	bool seen_version, seen_mode, seen_max_age;
};

static void policy_fail(struct policy_state *st, struct mtasts_policy *out,
			enum mtasts_policy_rc e, size_t line)
{
	if (st->rc != MTASTS_POLICY_OK)
		return;
	st->rc = e;
	out->error_line = line;
}

static bool eq(const uint8_t *v, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(v, s, n) == 0;
}

/*
 * Length of the UTF-8 sequence at v[0..n) (RFC 3629 UTF8-2/3/4: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0 when it is not
 * one.
 */
static size_t utf8_len(const uint8_t *v, size_t n)
{
	uint8_t b = v[0];
	size_t want;
	uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */

	if (b >= 0xc2 && b <= 0xdf) {
		want = 2;
	} else if (b >= 0xe0 && b <= 0xef) {
		want = 3;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		want = 4;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < want || v[1] < lo || v[1] > hi)
		return 0;
	for (size_t i = 2; i < want; i++)
		if (v[i] < 0x80 || v[i] > 0xbf)
			return 0;
	return want;
}

/*
 * sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar)
 * sts-policy-vchar]. The caller has trimmed white space at both ends, so
 * only the inner characters need checking.
 */
static bool policy_value_ok(const uint8_t *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n;) {
		if (v[i] >= 0x21 && v[i] <= 0x7e) {
			i++;
		} else if (v[i] == ' ') {
			i++;
		} else {
			size_t k = utf8_len(v + i, n - i);
			if (k == 0)
				return false;
			i += k;
		}
	}
	return true;
}

/* max_age: 1*10DIGIT, at most MTASTS_MAX_AGE_MAX. */
static bool max_age_parse(const uint8_t *v, size_t n, uint32_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > MTASTS_MAX_AGE_DIGITS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!txt_is_digit(v[i]))
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > MTASTS_MAX_AGE_MAX)
		return false;
	*out = (uint32_t)x;
	return true;
}

/*
 * Keeps the first max_age value as served, whether or not it is valid:
 * its bytes (capped) and, when it is all digits and fits in 63 bits (the
 * database's bigint), its number. Longer digit strings stay text only, so
 * an overflow is visible as such and never becomes a wrong number.
 */
static void max_age_keep(struct mtasts_policy *out, const uint8_t *v, size_t n)
{
	uint64_t x = 0;
	bool number = n > 0;

	out->max_age_seen = true;
	out->max_age_text_len =
	    n < MTASTS_MAX_AGE_TEXT_MAX ? n : MTASTS_MAX_AGE_TEXT_MAX;
	out->max_age_text_cut = n > MTASTS_MAX_AGE_TEXT_MAX;
	memcpy(out->max_age_text, v, out->max_age_text_len);
	for (size_t i = 0; number && i < n; i++) {
		uint64_t d = (uint64_t)(v[i] - '0');
		if (!txt_is_digit(v[i]) || x > (INT64_MAX - d) / 10)
			number = false;
		else
			x = x * 10 + d;
	}
	out->max_age_number = number;
	out->max_age_served = number ? x : 0;
}

/*
 * mx: ["*."] Domain, Domain = sub-domain *("." sub-domain), sub-domain =
 * Let-dig [Ldh-str] (RFC 5321 §4.1.2), labels up to 63, the whole up to
 * MTASTS_PATTERN_MAX, plus one tolerated trailing dot (*trailing_dot).
 */
static bool pattern_ok(const uint8_t *v, size_t n, bool *trailing_dot)
{
	*trailing_dot = false;
	if (n > 0 && v[n - 1] == '.') {
		*trailing_dot = true;
		n--;
	}
	if (n == 0 || n > MTASTS_PATTERN_MAX)
		return false;
	size_t i = 0;
	if (n >= 2 && v[0] == '*' && v[1] == '.')
		i = 2;
	if (i == n)
		return false;
	while (i < n) {
		size_t start = i;
		while (i < n && v[i] != '.') {
			if (!txt_is_alnum(v[i]) && v[i] != '-')
				return false;
			i++;
		}
		size_t llen = i - start;
		if (llen == 0 || llen > MTASTS_LABEL_MAX ||
		    !txt_is_alnum(v[start]) || !txt_is_alnum(v[i - 1]))
			return false;
		if (i < n) {
			i++; /* '.' */
			if (i == n)
				return false; /* "a..": empty last label */
		}
	}
	return true;
}

/* sts-policy-ext-name */
static bool key_ok(const uint8_t *k, size_t n)
{
	if (n == 0 || n > MTASTS_KEY_MAX || !txt_is_alnum(k[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!txt_is_name_char(k[i]))
			return false;
	return true;
}

/* A repeated single-instance field: the first one counts (§3.2), this
 * one is only checked as an extension value. */
static void policy_dup(struct policy_state *st, struct mtasts_policy *out,
		       const uint8_t *v, size_t n, size_t line)
{
	out->dup_fields++;
	if (!policy_value_ok(v, n))
		policy_fail(st, out, MTASTS_POLICY_RC_BAD_VALUE, line);
}

static void policy_mx(struct policy_state *st, struct mtasts_policy *out,
		      const uint8_t *v, size_t n, size_t line)
{
	bool dot;

	if (!pattern_ok(v, n, &dot)) {
		out->mx_bad++;
		policy_fail(st, out, MTASTS_POLICY_RC_BAD_MX, line);
		return;
	}
	out->mx_total++;
	if (out->nmx >= MTASTS_MAX_MX) {
		out->mx_truncated = true;
		return;
	}
	/* n <= MTASTS_PATTERN_MAX + 1 (pattern_ok) */
	memcpy(out->mx[out->nmx], v, n);
	out->mx[out->nmx][n] = '\0';
	out->nmx++;
	if (dot)
		out->mx_trailing_dot = true;
}

static void policy_unknown(struct policy_state *st, struct mtasts_policy *out,
			   const uint8_t *k, size_t klen, const uint8_t *v,
			   size_t n, size_t line)
{
	out->unknown_total++;
	if (out->nunknown < MTASTS_MAX_UNKNOWN_KEYS) {
		/* klen <= MTASTS_KEY_MAX (key_ok) */
		memcpy(out->unknown[out->nunknown], k, klen);
		out->unknown[out->nunknown][klen] = '\0';
		out->nunknown++;
	}
	if (!policy_value_ok(v, n))
		policy_fail(st, out, MTASTS_POLICY_RC_BAD_VALUE, line);
}

/* One line without its line end: l[0..n), 1-based number `line`. */
static void policy_line(struct policy_state *st, struct mtasts_policy *out,
			const uint8_t *l, size_t n, size_t line)
{
	size_t i = 0;

	while (i < n && txt_is_wsp(l[i]))
		i++;
	if (i == n) {
		policy_fail(st, out, MTASTS_POLICY_RC_BLANK_LINE, line);
		return;
	}
	const uint8_t *colon = memchr(l, ':', n);
	if (colon == NULL) {
		policy_fail(st, out, MTASTS_POLICY_RC_BAD_LINE, line);
		return;
	}
	size_t klen = (size_t)(colon - l);
	if (!key_ok(l, klen)) {
		policy_fail(st, out, MTASTS_POLICY_RC_BAD_KEY, line);
		return;
	}
	/* sts-policy-field-delim = ":" *WSP, and *WSP after the field. */
	size_t vs = klen + 1, ve = n;
	while (vs < ve && txt_is_wsp(l[vs]))
		vs++;
	while (ve > vs && txt_is_wsp(l[ve - 1]))
		ve--;
	const uint8_t *v = l + vs;
	size_t vlen = ve - vs;

	if (eq(l, klen, "version")) {
		if (st->seen_version) {
			policy_dup(st, out, v, vlen, line);
			return;
		}
		st->seen_version = true;
		if (eq(v, vlen, "STSv1"))
			out->has_version = true;
		else
			policy_fail(st, out, MTASTS_POLICY_RC_BAD_VERSION,
				    line);
	} else if (eq(l, klen, "mode")) {
		if (st->seen_mode) {
			policy_dup(st, out, v, vlen, line);
			return;
		}
		st->seen_mode = true;
		if (eq(v, vlen, "enforce"))
			out->mode = MTASTS_MODE_ENFORCE;
		else if (eq(v, vlen, "testing"))
			out->mode = MTASTS_MODE_TESTING;
		else if (eq(v, vlen, "none"))
			out->mode = MTASTS_MODE_NONE;
		else
			policy_fail(st, out, MTASTS_POLICY_RC_BAD_MODE, line);
	} else if (eq(l, klen, "max_age")) {
		if (st->seen_max_age) {
			policy_dup(st, out, v, vlen, line);
			return;
		}
		st->seen_max_age = true;
		max_age_keep(out, v, vlen);
		if (max_age_parse(v, vlen, &out->max_age))
			out->has_max_age = true;
		else
			policy_fail(st, out, MTASTS_POLICY_RC_BAD_MAX_AGE,
				    line);
	} else if (eq(l, klen, "mx")) {
		policy_mx(st, out, v, vlen, line);
	} else {
		policy_unknown(st, out, l, klen, v, vlen, line);
	}
}

enum mtasts_policy_rc mtasts_policy_parse(const uint8_t *buf, size_t len,
					  struct mtasts_policy *out)
{
	struct policy_state st = { MTASTS_POLICY_OK, false, false, false };
	size_t off = 0;

	memset(out, 0, sizeof *out);
	if (len > MTASTS_POLICY_BODY_MAX)
		return MTASTS_POLICY_RC_TOO_LARGE;
	while (off < len) {
		const uint8_t *lf = memchr(buf + off, '\n', len - off);
		size_t end, next;
		if (lf != NULL) {
			end = (size_t)(lf - buf);
			next = end + 1;
			if (end > off && buf[end - 1] == '\r') {
				end--;
				out->ncrlf++;
			} else {
				out->nlf++;
			}
		} else {
			end = len;
			next = len;
		}
		out->nlines++;
		if (out->nlines == 1 && end - off >= 3 && buf[off] == 0xef &&
		    buf[off + 1] == 0xbb && buf[off + 2] == 0xbf) {
			/* Reported, then read past, so the fields still
			 * show. */
			policy_fail(&st, out, MTASTS_POLICY_RC_BOM, 1);
			off += 3;
		}
		policy_line(&st, out, buf + off, end - off, out->nlines);
		off = next;
	}

	if (out->ncrlf && out->nlf)
		out->eol = MTASTS_EOL_MIXED;
	else if (out->ncrlf)
		out->eol = MTASTS_EOL_CRLF;
	else if (out->nlf)
		out->eol = MTASTS_EOL_LF;
	else
		out->eol = MTASTS_EOL_NONE;

	if (st.rc != MTASTS_POLICY_OK)
		return st.rc;
	if (!st.seen_version)
		return MTASTS_POLICY_RC_MISSING_VERSION;
	if (!st.seen_mode)
		return MTASTS_POLICY_RC_MISSING_MODE;
	if (!st.seen_max_age)
		return MTASTS_POLICY_RC_MISSING_MAX_AGE;
	/* Here every seen field was valid, so the mode is known. */
	if (out->mode != MTASTS_MODE_NONE && out->mx_total == 0)
		return MTASTS_POLICY_RC_MISSING_MX;
	return MTASTS_POLICY_OK;
}

/* ---- MX matching (§4.1) ------------------------------------------ */

/* strlen without one trailing dot. */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	return n;
}

static bool ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (txt_lower((unsigned char)a[i]) !=
		    txt_lower((unsigned char)b[i]))
			return false;
	return true;
}

bool mtasts_mx_match(const char *pattern, const char *host)
{
	if (pattern == NULL || host == NULL)
		return false;
	size_t plen = name_len(pattern), hlen = name_len(host);
	if (plen == 0 || hlen == 0)
		return false;

	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *rest = pattern + 2;
		size_t rlen = plen - 2;
		if (rlen == 0 || memchr(rest, '*', rlen) != NULL ||
		    memchr(rest, '.', rlen) == NULL)
			return false;
		/* The host's first label, then exactly the rest. */
		const char *dot = memchr(host, '.', hlen);
		if (dot == NULL || dot == host)
			return false;
		size_t tail = hlen - (size_t)(dot + 1 - host);
		return tail == rlen && ieq(dot + 1, rest, rlen);
	}
	if (memchr(pattern, '*', plen) != NULL)
		return false; /* partial wildcards never match */
	return plen == hlen && ieq(pattern, host, plen);
}

int mtasts_mx_match_any(const struct mtasts_policy *p, const char *host)
{
	size_t n = p->nmx < MTASTS_MAX_MX ? p->nmx : MTASTS_MAX_MX;

	for (size_t i = 0; i < n; i++)
		if (mtasts_mx_match(p->mx[i], host))
			return (int)i;
	return -1;
}
