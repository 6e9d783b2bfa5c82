/*
 * Domain name normalisation for target lists: a pure function over bytes.
 *
 * A target is a mail domain, so it must be a host name (RFC 5321 §4.1.2:
 * letters, digits and hyphens) once internationalised labels are converted
 * to A-labels (libidn2, IDNA2008 non-transitional with TR46 mapping).
 * The result is lower case, without the trailing dot.
 */
#ifndef MXCRAWL_TARGETS_NAME_H
#define MXCRAWL_TARGETS_NAME_H

#include <stddef.h>
#include <stdint.h>

/* Limits of RFC 1035 §2.3.4, in the text form without trailing dot. */
#define NAME_MAX_TEXT 253
#define NAME_MAX_LABEL 63
/* Input longer than this is refused before any conversion is tried. */
#define NAME_MAX_INPUT 1024

enum name_rc {
	NAME_OK = 0,
	NAME_EMPTY,	     /* nothing left after trimming */
	NAME_NUL,	     /* a NUL byte */
	NAME_CONTROL,	     /* another control character */
	NAME_SPACE,	     /* whitespace inside the name */
	NAME_BAD_UTF8,	     /* non-ASCII bytes that are not UTF-8 */
	NAME_IDN_INVALID,    /* libidn2 refused the IDN or A-label */
	NAME_WILDCARD,	     /* "*." names are patterns, not domains */
	NAME_IP_ADDRESS,     /* an IPv4 or IPv6 literal */
	NAME_TOO_LONG,	     /* over NAME_MAX_TEXT bytes (as A-labels) */
	NAME_LABEL_EMPTY,    /* leading dot or ".." */
	NAME_LABEL_TOO_LONG, /* a label over NAME_MAX_LABEL bytes */
	NAME_BAD_CHAR,	     /* not a letter, digit or hyphen */
	NAME_HYPHEN_EDGE,    /* a label starts or ends with '-' */
	NAME_NUMERIC_TLD,    /* all-digit top-level label (RFC 3696 §2) */
	NAME_RC_LAST
};

/* Why a name was refused: the code and a human sentence naming the part. */
struct name_err {
	enum name_rc rc;
	char detail[160];
};

/*
 * Normalises `len` bytes at `in` (no NUL terminator needed) into `out`
 * (NUL-terminated, at most NAME_MAX_TEXT bytes plus NUL) and sets *outlen.
 * Returns NAME_OK, or the refusal with `err` filled in (err may be NULL).
 * Leading and trailing ASCII whitespace and one trailing dot are dropped.
 */
enum name_rc name_normalize(const uint8_t *in, size_t len,
			    char out[NAME_MAX_TEXT + 1], size_t *outlen,
			    struct name_err *err);

/* Stable snake_case code for a result ("label_too_long"), for output. */
const char *name_rc_str(enum name_rc rc);

#endif
