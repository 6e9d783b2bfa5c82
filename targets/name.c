/*
 * Domain name normalisation for target lists.
 *
 * The checks run in the order a reader of the rejection list would want
 * them: first what shows the line is not a name at all (binary bytes,
 * spaces, broken UTF-8, wildcards, addresses), then the structure of the
 * labels, then the host name rules of RFC 5321 on the A-label form. Every
 * refusal says which byte or label was at fault, because the rejection
 * list is what a researcher reads to fix an input file.
 */
#include "targets/name.h"
#include "targets/internal.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libidn2 flags: IDNA2008 with TR46 non-transitional mapping (what the
 * browsers and the mail software of 2020s do), NFC first, and a check that
 * an A-label given in the input decodes and re-encodes to itself. */
#define NAME_IDN2_FLAGS \
	(IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL | IDN2_ALABEL_ROUNDTRIP)

static const char *const name_rc_names[NAME_RC_LAST] = {
	[NAME_OK] = "ok",
	[NAME_EMPTY] = "empty",
	[NAME_NUL] = "nul",
	[NAME_CONTROL] = "control",
	[NAME_SPACE] = "space",
	[NAME_BAD_UTF8] = "bad_utf8",
	[NAME_IDN_INVALID] = "idn_invalid",
	[NAME_WILDCARD] = "wildcard",
	[NAME_IP_ADDRESS] = "ip_address",
	[NAME_TOO_LONG] = "too_long",
	[NAME_LABEL_EMPTY] = "label_empty",
	[NAME_LABEL_TOO_LONG] = "label_too_long",
	[NAME_BAD_CHAR] = "bad_char",
	[NAME_HYPHEN_EDGE] = "hyphen_edge",
	[NAME_NUMERIC_TLD] = "numeric_tld",
};

const char *name_rc_str(enum name_rc rc)
{
	if ((unsigned)rc >= NAME_RC_LAST)
		return "unknown";
	return name_rc_names[rc];
}

static enum name_rc fail(struct name_err *err, enum name_rc rc, const char *fmt,
			 ...) __attribute__((format(printf, 3, 4)));

static enum name_rc fail(struct name_err *err, enum name_rc rc, const char *fmt,
			 ...)
{
	va_list ap;

	if (!err)
		return rc;
	err->rc = rc;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof err->detail, fmt, ap);
	va_end(ap);
	return rc;
}

static bool is_ascii_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	       c == '\r';
}

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/*
 * Length of the UTF-8 sequence at s[0..len), or 0 if it is not well formed
 * (overlong forms, surrogates and code points above U+10FFFF included, as
 * RFC 3629 demands). *cp receives the code point.
 */
static size_t utf8_seq(const uint8_t *s, size_t len, uint32_t *cp)
{
	uint8_t c = s[0];
	size_t n;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* Unicode white space (White_Space=yes) outside ASCII. */
static bool is_unicode_space(uint32_t cp)
{
	return cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Whole UTF-8 characters are kept because the detail may end up in a
 * UTF-8 database column, where a cut character would be refused. */
void targets_excerpt(char *dst, size_t dstsz, const uint8_t *s, size_t len)
{
	static const char ellipsis[] = "\xe2\x80\xa6";
	size_t o = 0, i = 0, shown = 0;

	while (i < len) {
		uint32_t cp = 0;
		size_t n = utf8_seq(s + i, len - i, &cp);
		size_t need = (n == 0 || cp < 0x20 || cp == 0x7f ||
			       (cp >= 0x80 && cp < 0xa0) || cp == '\\')
				  ? 4
				  : n;
		if (shown + need > TARGETS_EXCERPT_MAX ||
		    o + need + sizeof ellipsis > dstsz) {
			memcpy(dst + o, ellipsis, sizeof ellipsis);
			return;
		}
		if (need == 4 && (n <= 1 || cp < 0xa0)) {
			snprintf(dst + o, dstsz - o, "\\x%02x", s[i]);
			n = 1;
		} else {
			memcpy(dst + o, s + i, n);
		}
		o += need;
		shown += need;
		i += n;
	}
	dst[o] = '\0';
}

/*
 * First pass over the raw bytes: NUL, control characters, white space and
 * malformed UTF-8, reported at the offset in the caller's input (`base` is
 * the number of bytes trimmed in front). Sets *nonascii.
 */
static enum name_rc scan_bytes(const uint8_t *s, size_t len, size_t base,
			       bool *nonascii, struct name_err *err)
{
	*nonascii = false;
	for (size_t i = 0; i < len;) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n;

		if (c == 0)
			return fail(err, NAME_NUL, "byte 0x00 at offset %zu",
				    base + i);
		if (is_ascii_space(c))
			return fail(err, NAME_SPACE,
				    "white space (byte 0x%02x) at offset %zu "
				    "inside the name",
				    c, base + i);
		if (c < 0x20 || c == 0x7f)
			return fail(err, NAME_CONTROL,
				    "control byte 0x%02x at offset %zu", c,
				    base + i);
		if (c < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(s + i, len - i, &cp);
		if (n == 0)
			return fail(err, NAME_BAD_UTF8,
				    "byte 0x%02x at offset %zu is not valid "
				    "UTF-8",
				    c, base + i);
		if (is_unicode_space(cp))
			return fail(err, NAME_SPACE,
				    "white space U+%04X at offset %zu inside "
				    "the name",
				    (unsigned)cp, base + i);
		if (cp < 0xa0)
			return fail(err, NAME_CONTROL,
				    "control character U+%04X at offset %zu",
				    (unsigned)cp, base + i);
		*nonascii = true;
		i += n;
	}
	return NAME_OK;
}

/* Recognises IP address literals, which some lists carry instead of
 * domains: dotted IPv4, IPv6 (with or without a zone), and the bracketed
 * address literals of RFC 5321 §4.1.3. */
static bool is_ip_literal(const uint8_t *s, size_t len)
{
	char buf[NAME_MAX_INPUT + 1];
	unsigned char addr[16];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']')
		return true;
	if (len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		return true;
	if (memchr(buf, ':', len)) {
		char *pct = strchr(buf, '%');
		if (pct)
			*pct = '\0';
		if (inet_pton(AF_INET6, buf, addr) == 1)
			return true;
	}
	return false;
}

/*
 * Refuses empty labels: a leading dot, "..", or a dot still at the end
 * once the root dot is gone. `how` is appended to the detail: " after IDN
 * mapping" when the dots came from TR46, whose offsets are in the mapped
 * form and not in the input.
 */
static enum name_rc check_empty_labels(const uint8_t *s, size_t len,
				       const char *how, struct name_err *err)
{
	if (len > 0 && s[0] == '.')
		return fail(err, NAME_LABEL_EMPTY,
			    "name starts with a dot (empty first label)%s",
			    how);
	for (size_t i = 1; i < len; i++)
		if (s[i] == '.' && s[i - 1] == '.')
			return fail(err, NAME_LABEL_EMPTY,
				    "empty label (\"..\") at offset %zu%s",
				    i - 1, how);
	if (len > 0 && s[len - 1] == '.')
		return fail(err, NAME_LABEL_EMPTY,
			    "name ends with two dots (empty last label)%s",
			    how);
	return NAME_OK;
}

/* Refuses what is a pattern or an address rather than a domain. Run on
 * the input and again on the IDN-mapped form, where full-width digits and
 * dots may have become an address. */
static enum name_rc check_not_name(const uint8_t *s, size_t len,
				   struct name_err *err)
{
	char ex[TARGETS_EXCERPT_SIZE];

	if (is_ip_literal(s, len)) {
		targets_excerpt(ex, sizeof ex, s, len);
		return fail(err, NAME_IP_ADDRESS,
			    "'%s' is an IP address, not a domain", ex);
	}
	if (s[0] == '*' && (len == 1 || s[1] == '.'))
		return fail(err, NAME_WILDCARD,
			    "first label '*' is a wildcard pattern, not a "
			    "domain");
	return NAME_OK;
}

static bool has_alabel_prefix(const uint8_t *s, size_t len)
{
	return len >= 4 && ascii_lower(s[0]) == 'x' &&
	       ascii_lower(s[1]) == 'n' && s[2] == '-' && s[3] == '-';
}

static bool any_alabel(const uint8_t *s, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (has_alabel_prefix(s + start, i - start))
				return true;
			start = i + 1;
		}
	}
	return false;
}

/*
 * Converts one label alone, to find which label libidn2 refused and to
 * measure A-labels when the whole name was too long for libidn2. Returns
 * the libidn2 code and the A-label length in *alen.
 */
static int idn_label(const uint8_t *s, size_t len, size_t *alen)
{
	char buf[NAME_MAX_INPUT + 1];
	uint8_t *out = NULL;
	int rc;

	memcpy(buf, s, len);
	buf[len] = '\0';
	rc = idn2_lookup_u8((const uint8_t *)buf, &out, NAME_IDN2_FLAGS);
	if (rc == IDN2_OK)
		*alen = strlen((const char *)out);
	idn2_free(out);
	return rc;
}

/* Explains a libidn2 refusal of the whole name, naming the label. */
static enum name_rc idn_refusal(const uint8_t *s, size_t len, int rc,
				struct name_err *err)
{
	char ex[TARGETS_EXCERPT_SIZE];
	size_t start = 0, total = 0;

	for (size_t i = 0; i <= len; i++) {
		size_t alen = 0;
		int lrc;

		if (i < len && s[i] != '.')
			continue;
		lrc = idn_label(s + start, i - start, &alen);
		targets_excerpt(ex, sizeof ex, s + start, i - start);
		if (lrc == IDN2_PUNYCODE_BIG_OUTPUT ||
		    lrc == IDN2_TOO_BIG_LABEL)
			return fail(err, NAME_LABEL_TOO_LONG,
				    "label '%s' is over %d bytes as an A-label",
				    ex, NAME_MAX_LABEL);
		if (lrc != IDN2_OK)
			return fail(err, NAME_IDN_INVALID,
				    "IDN label '%s' refused: %s", ex,
				    idn2_strerror(lrc));
		total += alen + (start > 0);
		start = i + 1;
	}
	if (rc == IDN2_TOO_BIG_DOMAIN)
		return fail(err, NAME_TOO_LONG,
			    "name is %zu bytes as A-labels (max %d)", total,
			    NAME_MAX_TEXT);
	if (rc == IDN2_PUNYCODE_BIG_OUTPUT || rc == IDN2_TOO_BIG_LABEL)
		return fail(err, NAME_LABEL_TOO_LONG,
			    "a label is over %d bytes as an A-label",
			    NAME_MAX_LABEL);
	return fail(err, NAME_IDN_INVALID, "IDN refused: %s",
		    idn2_strerror(rc));
}

/*
 * The host name rules on the final ASCII form (lower case, no trailing
 * dot): label and name lengths, letters-digits-hyphens, hyphens at the
 * edges and an all-digit top-level label. `idn` only changes the wording.
 */
static enum name_rc check_ascii(const char *s, size_t len, bool idn,
				struct name_err *err)
{
	const char *as = idn ? " as A-labels" : "";
	char ex[TARGETS_EXCERPT_SIZE];
	size_t start = 0;

	enum name_rc rc = check_empty_labels(
	    (const uint8_t *)s, len, idn ? " after IDN mapping" : "", err);

	if (rc != NAME_OK)
		return rc;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (i - start > NAME_MAX_LABEL) {
			targets_excerpt(ex, sizeof ex,
					(const uint8_t *)s + start, i - start);
			return fail(err, NAME_LABEL_TOO_LONG,
				    "label '%s' is %zu bytes%s (max %d)", ex,
				    i - start, idn ? " as an A-label" : "",
				    NAME_MAX_LABEL);
		}
		start = i + 1;
	}
	if (len > NAME_MAX_TEXT)
		return fail(err, NAME_TOO_LONG, "name is %zu bytes%s (max %d)",
			    len, as, NAME_MAX_TEXT);

	start = 0;
	for (size_t i = 0; i <= len; i++) {
		size_t llen;
		const char *l = s + start;

		if (i < len && s[i] != '.') {
			char c = s[i];
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-')
				continue;
			/* Find the whole label for the message. */
			size_t end = i;
			while (end < len && s[end] != '.')
				end++;
			targets_excerpt(ex, sizeof ex, (const uint8_t *)l,
					end - start);
			if (c == '_')
				return fail(err, NAME_BAD_CHAR,
					    "underscore in label '%s': not a "
					    "host name (RFC 5321 §4.1.2: "
					    "letters, digits, hyphens)",
					    ex);
			if (c == '*')
				return fail(err, NAME_BAD_CHAR,
					    "'*' in label '%s' (a wildcard is "
					    "only a whole first label)",
					    ex);
			if (c > 0x20 && c < 0x7f)
				return fail(err, NAME_BAD_CHAR,
					    "character '%c' in label '%s' "
					    "(RFC 5321: letters, digits, "
					    "hyphens)",
					    c, ex);
			return fail(err, NAME_BAD_CHAR,
				    "byte 0x%02x in label '%s' (RFC 5321: "
				    "letters, digits, hyphens)",
				    (uint8_t)c, ex);
		}
		llen = i - start;
		if (llen > 0 && (l[0] == '-' || l[llen - 1] == '-')) {
			targets_excerpt(ex, sizeof ex, (const uint8_t *)l,
					llen);
			return fail(err, NAME_HYPHEN_EDGE,
				    "label '%s' %s with a hyphen", ex,
				    l[0] == '-' ? "starts" : "ends");
		}
		if (i == len) {
			bool digits = llen > 0;
			for (size_t k = 0; k < llen; k++)
				if (l[k] < '0' || l[k] > '9')
					digits = false;
			if (digits) {
				targets_excerpt(ex, sizeof ex,
						(const uint8_t *)l, llen);
				return fail(err, NAME_NUMERIC_TLD,
					    "top-level label '%s' is all "
					    "digits (RFC 3696 §2)",
					    ex);
			}
		}
		start = i + 1;
	}
	return NAME_OK;
}

enum name_rc name_normalize(const uint8_t *in, size_t len,
			    char out[NAME_MAX_TEXT + 1], size_t *outlen,
			    struct name_err *err)
{
	char ascii[NAME_MAX_INPUT + 1];
	size_t lead = 0, alen;
	bool nonascii, idn = false, rooted = false;
	enum name_rc rc;

	out[0] = '\0';
	*outlen = 0;
	if (err) {
		err->rc = NAME_OK;
		err->detail[0] = '\0';
	}
	if (len > NAME_MAX_INPUT)
		return fail(err, NAME_TOO_LONG,
			    "input is %zu bytes (at most %d are looked at)",
			    len, NAME_MAX_INPUT);
	while (lead < len && is_ascii_space(in[lead]))
		lead++;
	while (len > lead && is_ascii_space(in[len - 1]))
		len--;
	in += lead;
	len -= lead;
	if (len == 0)
		return fail(err, NAME_EMPTY, "name is empty");

	rc = scan_bytes(in, len, lead, &nonascii, err);
	if (rc != NAME_OK)
		return rc;

	if (in[len - 1] == '.') {
		len--;
		rooted = true;
		if (len == 0)
			return fail(err, NAME_EMPTY,
				    "name is only the root '.'");
		if (in[len - 1] == '.')
			return fail(err, NAME_LABEL_EMPTY,
				    "name ends with \"..\" (empty last label)");
	}

	rc = check_not_name(in, len, err);
	if (rc != NAME_OK)
		return rc;
	rc = check_empty_labels(in, len, "", err);
	if (rc != NAME_OK)
		return rc;

	if (nonascii || any_alabel(in, len)) {
		char buf[NAME_MAX_INPUT + 1];
		uint8_t *conv = NULL;
		int irc;

		memcpy(buf, in, len);
		buf[len] = '\0';
		irc = idn2_lookup_u8((const uint8_t *)buf, &conv,
				     NAME_IDN2_FLAGS);
		if (irc != IDN2_OK) {
			idn2_free(conv);
			return idn_refusal(in, len, irc, err);
		}
		alen = strlen((const char *)conv);
		/* TR46 maps the full stops U+3002, U+FF0E and U+FF61 to '.',
		 * so only now are all the dots known. One at the end is the
		 * root dot, exactly as an ASCII one, unless an ASCII root dot
		 * was already dropped ("x。."): then it is a second dot, left
		 * for check_ascii() to refuse as an empty last label like
		 * "x..", never kept as a name "x." of its own. */
		if (!rooted && alen > 0 && conv[alen - 1] == '.')
			alen--;
		if (alen >= sizeof ascii) {
			idn2_free(conv);
			return fail(err, NAME_TOO_LONG,
				    "name is %zu bytes as A-labels (max %d)",
				    alen, NAME_MAX_TEXT);
		}
		for (size_t i = 0; i < alen; i++)
			ascii[i] = (char)ascii_lower(conv[i]);
		idn2_free(conv);
		idn = nonascii;
	} else {
		alen = len;
		for (size_t i = 0; i < len; i++)
			ascii[i] = (char)ascii_lower(in[i]);
	}
	ascii[alen] = '\0';
	if (alen == 0)
		return fail(err, NAME_EMPTY, "name is empty after IDN mapping");
	if (idn) {
		rc = check_not_name((const uint8_t *)ascii, alen, err);
		if (rc != NAME_OK)
			return rc;
	}

	rc = check_ascii(ascii, alen, idn, err);
	if (rc != NAME_OK)
		return rc;
	memcpy(out, ascii, alen + 1);
	*outlen = alen;
	return NAME_OK;
}
