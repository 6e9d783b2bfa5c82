/*
 * MTA-STS (RFC 8461) as pure parsers over bytes: the `_mta-sts` TXT
 * record (§3.1), the policy body (§3.2) and MX pattern matching (§4.1).
 * No I/O, no allocation, no globals; every output lives in the caller's
 * struct.
 *
 * TXT record (§3.1, RFC 7405 %s strings are case-sensitive):
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *                     [sts-field-delim]
 *   sts-field-delim = *WSP ";" *WSP
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *   sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * Selection: a record is an MTA-STS record when it starts with "v=STSv1"
 * followed by ";", white space or its end (the ABNF allows WSP before the
 * ";"; the testbed truth uses the same test); all others are discarded.
 * Exactly one must remain. Strict beyond that, and every deviation has its
 * own code: the "id" field must appear once, a field named "id" is always
 * the id (never an extension), and white space after the last field
 * without a ";" is `trailing_space` (errata 6285 shows the grammar is
 * tight there; the code lets analysis relax it).
 *
 * Policy (§3.2):
 *
 *   sts-policy-record  = sts-policy-field *WSP
 *                        *(sts-policy-term sts-policy-field *WSP)
 *                        [sts-policy-term]
 *   sts-policy-term    = LF / CRLF
 *   field              = name ":" *WSP value
 *   version STSv1, mode testing/enforce/none, max_age 1*10DIGIT
 *   (at most 31557600), mx ["*."] Domain (RFC 5321), extension names as
 *   in the TXT record, extension values printable ASCII or UTF-8 with
 *   inner spaces.
 *
 * Errata 6253: LF and CRLF line ends are both accepted; which ones were
 * seen is recorded (struct mtasts_policy.eol). Keys and the version and
 * mode values are case-sensitive. "version", "mode" and "max_age" may
 * repeat: the RFC says the first instance is used, so later ones are
 * counted (dup_fields) and otherwise only checked as extension values.
 * Unknown keys are ignored but listed, so a misspelled "nmx:" shows up
 * there and the policy then lacks mx (missing_mx). Accepted beyond the
 * grammar, because the testbed truth accepts it (scenario sts-mx-case):
 * one trailing dot on an mx pattern (flagged mx_trailing_dot). Not
 * accepted: blank lines, leading white space, a BOM; each has its code.
 *
 * The whole body is always read: the first error is the result, but the
 * fields are filled from every line that could be read, so that a policy
 * with a bad mode still reports its max_age and mx patterns.
 */
#ifndef MXCRAWL_CRAWLER_MTASTS_H
#define MXCRAWL_CRAWLER_MTASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest valid id (§3.1: 1*32 ALPHA / DIGIT). */
#define MTASTS_ID_MAX 32
/* Bytes of an id kept, valid or not: an invalid id (33 letters, a date
 * with dashes) is evidence worth storing; beyond this it is cut and
 * flagged. */
#define MTASTS_ID_KEEP 64
/* Largest max_age (§3.2: about one year). */
#define MTASTS_MAX_AGE_MAX 31557600u
/* Digits of max_age (§3.2: 1*10DIGIT). */
#define MTASTS_MAX_AGE_DIGITS 10
/* Bytes of the max_age value kept as served, valid or not: a value out of
 * range ("31557601", "99999999999999999999", "1d") is itself a finding,
 * and no meaningful number is longer (2^64 has 20 digits). */
#define MTASTS_MAX_AGE_TEXT_MAX 64
/*
 * mx patterns kept. The RFC sets no limit and real policies list a
 * handful; more valid patterns than this do not make the policy invalid,
 * they set mx_truncated (and a host that only a dropped pattern would
 * match does not match).
 */
#define MTASTS_MAX_MX 64
/* Longest mx pattern: a domain name of 253 characters (RFC 1035, without
 * the root dot), "*." included. One tolerated trailing dot comes on top. */
#define MTASTS_PATTERN_MAX 253
/* Longest label in a pattern (RFC 1035 §2.3.4). */
#define MTASTS_LABEL_MAX 63
/* Unknown keys listed; more are only counted. */
#define MTASTS_MAX_UNKNOWN_KEYS 16
/* Longest key (§3.2 sts-policy-ext-name: 1 + 31 characters). */
#define MTASTS_KEY_MAX 32
/* Largest policy body read (the fetch refuses bodies over 64 KiB, §3.3
 * leaves the size open; we fix it). */
#define MTASTS_POLICY_BODY_MAX (64 * 1024)

/* One TXT record: its character-strings concatenated (RFC 8461 §3.1),
 * raw bytes, borrowed. */
struct mtasts_bytes {
	const uint8_t *p;
	size_t len;
};

/*
 * Result of reading the `_mta-sts` TXT RRset. mtasts_txt_rc_str() names
 * the kind ("bad_id"), mtasts_txt_status_str() the outcome stored as
 * mta_sts.txt ("none", "valid", "invalid", "multiple").
 */
enum mtasts_txt_rc {
	MTASTS_TXT_OK = 0,	      /* one valid record */
	MTASTS_TXT_RC_NONE,	      /* no record starts with v=STSv1 */
	MTASTS_TXT_RC_MULTIPLE,	      /* more than one does */
	MTASTS_TXT_RC_MISSING_ID,     /* no id field */
	MTASTS_TXT_RC_BAD_ID,	      /* id not 1..32 ALPHA / DIGIT */
	MTASTS_TXT_RC_DUPLICATE_ID,   /* a second id field */
	MTASTS_TXT_RC_BAD_SEPARATOR,  /* after a field: not WSP* ";" */
	MTASTS_TXT_RC_BAD_FIELD,      /* not name "=" (name per ABNF) */
	MTASTS_TXT_RC_BAD_VALUE,      /* extension value empty or bad char */
	MTASTS_TXT_RC_TRAILING_SPACE, /* WSP at the end without ";" */
	MTASTS_TXT_RC_LAST
};

/* Stable snake_case name ("missing_id"; "ok" for MTASTS_TXT_OK);
 * "unknown" when out of range. The string is static. */
const char *mtasts_txt_rc_str(enum mtasts_txt_rc rc);
/* The truth-file outcome of rc: "valid", "none", "multiple" or
 * "invalid"; "unknown" when out of range. The string is static. */
const char *mtasts_txt_status_str(enum mtasts_txt_rc rc);

/* What the TXT RRset held. */
struct mtasts_txt {
	size_t nrecords;   /* TXT records given */
	size_t nsts;	   /* of which start with v=STSv1 */
	size_t index;	   /* the one read, when nsts == 1 */
	size_t nfields;	   /* fields after the version, id included */
	size_t next;	   /* extension fields */
	size_t error_off;  /* byte offset of the first error in the record */
	bool has_id;	   /* an id field was found (valid or not) */
	bool id_truncated; /* the id was longer than MTASTS_ID_KEEP */
	size_t id_len;	   /* bytes in id, up to MTASTS_ID_KEEP */
	/* The first id field's value, raw (may hold any byte but ";", SP
	 * and HTAB when invalid), NUL-terminated; "" without an id. */
	char id[MTASTS_ID_KEEP + 1];
};

/*
 * Reads the TXT RRset of `_mta-sts.<domain>`: recs[0..n) are the records
 * (each one's strings concatenated). Discards records that do not start
 * with v=STSv1 and parses the one that remains. *out is always filled.
 * Returns MTASTS_TXT_OK for exactly one valid record.
 */
enum mtasts_txt_rc mtasts_txt_select(const struct mtasts_bytes *recs, size_t n,
				     struct mtasts_txt *out);

/*
 * Parses one record that is known to be the MTA-STS record (the version
 * is still checked: MTASTS_TXT_RC_NONE when it does not start with
 * v=STSv1). Fills *out as mtasts_txt_select() would for a set of one.
 */
enum mtasts_txt_rc mtasts_txt_parse(const uint8_t *buf, size_t len,
				    struct mtasts_txt *out);

/* True when rec starts with v=STSv1 followed by ";", white space or its
 * end: the selection rule of §3.1. */
bool mtasts_txt_is_sts(const uint8_t *buf, size_t len);

/*
 * Result of parsing a policy body. The names from
 * mtasts_policy_rc_str() are stored as mta_sts.policy_error; the policy
 * is valid exactly when the result is MTASTS_POLICY_OK.
 */
enum mtasts_policy_rc {
	MTASTS_POLICY_OK = 0,
	MTASTS_POLICY_RC_TOO_LARGE,	  /* over MTASTS_POLICY_BODY_MAX */
	MTASTS_POLICY_RC_BOM,		  /* starts with a UTF-8 BOM */
	MTASTS_POLICY_RC_BLANK_LINE,	  /* empty or white-space line */
	MTASTS_POLICY_RC_BAD_LINE,	  /* a line without ":" */
	MTASTS_POLICY_RC_BAD_KEY,	  /* key not per sts-policy-ext-name */
	MTASTS_POLICY_RC_BAD_VALUE,	  /* extension value empty/bad char */
	MTASTS_POLICY_RC_BAD_VERSION,	  /* version not STSv1 */
	MTASTS_POLICY_RC_BAD_MODE,	  /* not testing/enforce/none */
	MTASTS_POLICY_RC_BAD_MAX_AGE,	  /* not 1..10 digits <= max */
	MTASTS_POLICY_RC_BAD_MX,	  /* not ["*."] Domain */
	MTASTS_POLICY_RC_MISSING_VERSION, /* no version line */
	MTASTS_POLICY_RC_MISSING_MODE,	  /* no mode line */
	MTASTS_POLICY_RC_MISSING_MAX_AGE, /* no max_age line */
	MTASTS_POLICY_RC_MISSING_MX,	  /* no mx line, mode not none */
	MTASTS_POLICY_RC_LAST
};

/* Stable snake_case name ("bad_max_age"; "ok" for MTASTS_POLICY_OK);
 * "unknown" when out of range. The string is static. */
const char *mtasts_policy_rc_str(enum mtasts_policy_rc rc);

enum mtasts_mode {
	MTASTS_MODE_UNSET = 0, /* no valid mode line */
	MTASTS_MODE_ENFORCE,
	MTASTS_MODE_TESTING,
	MTASTS_MODE_NONE,
	MTASTS_MODE_LAST
};

/* "enforce", "testing", "none"; NULL for MTASTS_MODE_UNSET and out of
 * range (stored as SQL NULL). The string is static. */
const char *mtasts_mode_str(enum mtasts_mode m);

/* Line ends seen in a policy body. */
enum mtasts_eol {
	MTASTS_EOL_NONE = 0, /* no line end at all (one unterminated line) */
	MTASTS_EOL_CRLF,     /* every line end CRLF */
	MTASTS_EOL_LF,	     /* every line end a bare LF */
	MTASTS_EOL_MIXED,    /* both; valid, the ABNF allows either per line */
	MTASTS_EOL_LAST
};

/* "none", "crlf", "lf", "mixed"; "unknown" when out of range. */
const char *mtasts_eol_str(enum mtasts_eol e);

/* A parsed policy: about 17 KiB, no pointers into the body. */
struct mtasts_policy {
	size_t nlines;	   /* lines read, an unterminated last one included */
	size_t error_line; /* 1-based line of the first error; 0 for the
			    * missing_* codes and OK */
	enum mtasts_eol eol;
	size_t ncrlf, nlf; /* line ends of each kind */
	bool has_version;  /* the first version line said STSv1 */
	enum mtasts_mode mode;
	bool has_max_age; /* the first max_age line was valid */
	uint32_t max_age; /* seconds, when has_max_age */
	/* The first max_age line as served, valid or not (§3.2 allows
	 * 1*10DIGIT up to MTASTS_MAX_AGE_MAX; beyond that the policy is
	 * invalid, bad_max_age, but what a site serves is still reported).
	 * The text is the value without the white space around it, cut at
	 * MTASTS_MAX_AGE_TEXT_MAX bytes (max_age_text_cut), any bytes. A
	 * value of digits only that fits in 63 bits is also given as a
	 * number, so a digits-only text without max_age_number is a value
	 * over 2^63 - 1 (kept as text, never wrapped or clamped). */
	bool max_age_seen;	 /* a max_age line was read */
	bool max_age_number;	 /* max_age_served holds the value */
	uint64_t max_age_served; /* at most INT64_MAX, when max_age_number */
	bool max_age_text_cut;	 /* the value was longer than kept */
	size_t max_age_text_len;
	uint8_t max_age_text[MTASTS_MAX_AGE_TEXT_MAX];
	size_t dup_fields;    /* repeated version/mode/max_age lines */
	size_t nmx;	      /* patterns in mx[] */
	size_t mx_total;      /* valid mx lines, beyond MTASTS_MAX_MX too */
	bool mx_truncated;    /* mx_total > MTASTS_MAX_MX */
	size_t mx_bad;	      /* mx lines whose value is not a pattern */
	bool mx_trailing_dot; /* a kept pattern ends in "." (tolerated) */
	/* Valid patterns in the order given, as written (letters keep their
	 * case; matching ignores it), NUL-terminated. Only LDH characters,
	 * "." and a leading "*." can occur. */
	char mx[MTASTS_MAX_MX][MTASTS_PATTERN_MAX + 2];
	size_t nunknown;      /* keys in unknown[] */
	size_t unknown_total; /* unknown key lines, beyond the array too */
	/* Unknown keys (valid sts-policy-ext-name), in order, as written,
	 * NUL-terminated. A key repeated is listed each time. */
	char unknown[MTASTS_MAX_UNKNOWN_KEYS][MTASTS_KEY_MAX + 1];
};

/*
 * Parses a policy body buf[0..len) (the HTTP body, raw). *out is always
 * filled as far as the body allows. Returns MTASTS_POLICY_OK for a valid
 * policy, else the first error by line, then the first missing field in
 * the order version, mode, max_age, mx.
 */
enum mtasts_policy_rc mtasts_policy_parse(const uint8_t *buf, size_t len,
					  struct mtasts_policy *out);

/*
 * §4.1: true when the MX host name matches the policy pattern. Both are C
 * strings; letters compare case-insensitively and one trailing dot on
 * either is ignored. "*." matches exactly one extra left-most label
 * ("*.example.com" matches "a.example.com", not "example.com" nor
 * "a.b.example.com"); a wildcard pattern needs at least two labels after
 * "*." and "*" anywhere else never matches (RFC 6125 rules, as the
 * testbed truth).
 */
bool mtasts_mx_match(const char *pattern, const char *host);

/* Index in p->mx[] of the first pattern host matches, or -1. */
int mtasts_mx_match_any(const struct mtasts_policy *p, const char *host);

#endif
