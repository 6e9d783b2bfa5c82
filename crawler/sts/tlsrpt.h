/*
 * SMTP TLS Reporting (RFC 8460 §3): the `_smtp._tls` TXT record as a pure
 * parser over bytes. No I/O, no allocation, no globals.
 *
 *   tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field)
 *                      [field-delim]
 *   field-delim      = *WSP ";" *WSP
 *   tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
 *   tlsrpt-version   = %s"v=TLSRPTv1"
 *   tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri       = URI (RFC 3986; ",", "!" and ";" MUST be encoded)
 *   tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
 *   tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * Selection as for MTA-STS: a record is a TLS-RPT record when it starts
 * with "v=TLSRPTv1" followed by ";", white space or its end; exactly one
 * must remain. The rua field is required and read once (a second one is
 * duplicate_rua). Each URI must use the scheme "mailto" (with
 * local-part "@" domain before any "?") or "https" (with "//" and a host);
 * schemes compare case-insensitively (RFC 3986 §3.1), the rest of a URI
 * may only hold RFC 3986 characters and percent-escapes. Anything else is
 * bad_rua, and every URI's scheme is recorded. White space after the last
 * field without a ";" is trailing_space, as in mtasts.h.
 */
#ifndef MXCRAWL_CRAWLER_TLSRPT_H
#define MXCRAWL_CRAWLER_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* rua URIs kept; more are counted (rua_total) and still checked. Real
 * records name one or two. */
#define TLSRPT_MAX_RUA 8
/* Bytes of one URI kept; a longer one is cut and flagged (and still
 * checked whole). */
#define TLSRPT_URI_MAX 512
/* Bytes of a scheme kept ("mailto" is the longest valid one). */
#define TLSRPT_SCHEME_MAX 16

/* One TXT record: its character-strings concatenated (RFC 8460 §3: "as
 * if those strings are concatenated together without adding spaces"),
 * raw bytes, borrowed. Same shape as struct mtasts_bytes. */
struct tlsrpt_bytes {
	const uint8_t *p;
	size_t len;
};

/*
 * Result of reading the `_smtp._tls` TXT RRset. tlsrpt_rc_str() names the
 * kind (stored as tlsrpt.error: "missing_rua", "bad_rua", ...),
 * tlsrpt_status_str() the outcome stored as tlsrpt.status ("none",
 * "valid", "invalid", "multiple").
 */
enum tlsrpt_rc {
	TLSRPT_OK = 0,
	TLSRPT_RC_NONE,	       /* no record starts with v=TLSRPTv1 */
	TLSRPT_RC_MULTIPLE,    /* more than one does */
	TLSRPT_RC_MISSING_RUA, /* no rua field */
	TLSRPT_RC_BAD_RUA,     /* a URI empty, malformed or not mailto/https */
	TLSRPT_RC_DUPLICATE_RUA,  /* a second rua field */
	TLSRPT_RC_BAD_SEPARATOR,  /* after a field: not WSP* ";" */
	TLSRPT_RC_BAD_FIELD,	  /* not name "=" (name per ABNF) */
	TLSRPT_RC_BAD_VALUE,	  /* extension value empty or bad char */
	TLSRPT_RC_TRAILING_SPACE, /* WSP at the end without ";" */
	TLSRPT_RC_LAST
};

/* Stable snake_case name ("bad_rua"; "ok" for TLSRPT_OK); "unknown" when
 * out of range. The string is static. */
const char *tlsrpt_rc_str(enum tlsrpt_rc rc);
/* The truth-file status of rc: "valid", "none", "multiple" or
 * "invalid"; "unknown" when out of range. The string is static. */
const char *tlsrpt_status_str(enum tlsrpt_rc rc);

enum tlsrpt_scheme {
	TLSRPT_SCHEME_NONE = 0, /* no "scheme:" at all */
	TLSRPT_SCHEME_MAILTO,
	TLSRPT_SCHEME_HTTPS,
	TLSRPT_SCHEME_OTHER, /* a well-formed scheme we do not accept */
	TLSRPT_SCHEME_LAST
};

/* "none", "mailto", "https", "other"; "unknown" when out of range. */
const char *tlsrpt_scheme_str(enum tlsrpt_scheme s);

/* One rua URI. */
struct tlsrpt_uri {
	enum tlsrpt_scheme scheme;
	bool ok;	/* a valid mailto: or https: URI */
	bool truncated; /* longer than TLSRPT_URI_MAX */
	size_t len;	/* bytes in uri */
	/* As written, raw (an invalid URI may hold any byte but ",", ";",
	 * SP and HTAB), NUL-terminated. */
	char uri[TLSRPT_URI_MAX + 1];
	/* The scheme in lower case when it is well-formed ("ftp"), else
	 * ""; cut at TLSRPT_SCHEME_MAX. */
	char scheme_name[TLSRPT_SCHEME_MAX + 1];
};

/* What the TXT RRset held. */
struct tlsrpt {
	size_t nrecords;    /* TXT records given */
	size_t nrpt;	    /* of which start with v=TLSRPTv1 */
	size_t index;	    /* the one read, when nrpt == 1 */
	size_t nfields;	    /* fields after the version, rua included */
	size_t next;	    /* extension fields */
	size_t error_off;   /* byte offset of the first error in the record */
	bool has_rua;	    /* a rua field was found */
	size_t nrua;	    /* URIs in rua[] */
	size_t rua_total;   /* URIs in the first rua field */
	bool rua_truncated; /* rua_total > TLSRPT_MAX_RUA */
	struct tlsrpt_uri rua[TLSRPT_MAX_RUA];
};

/*
 * Reads the TXT RRset of `_smtp._tls.<domain>`: recs[0..n) are the
 * records. Discards records that do not start with v=TLSRPTv1 and parses
 * the one that remains. *out is always filled. Returns TLSRPT_OK for
 * exactly one valid record.
 */
enum tlsrpt_rc tlsrpt_select(const struct tlsrpt_bytes *recs, size_t n,
			     struct tlsrpt *out);

/* Parses one record as tlsrpt_select() would for a set of one
 * (TLSRPT_RC_NONE when it does not start with v=TLSRPTv1). */
enum tlsrpt_rc tlsrpt_parse(const uint8_t *buf, size_t len, struct tlsrpt *out);

/* True when rec starts with v=TLSRPTv1 followed by ";", white space or
 * its end. */
bool tlsrpt_is_rpt(const uint8_t *buf, size_t len);

#endif
