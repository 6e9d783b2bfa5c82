/*
 * The reader both TXT-record grammars share: MTA-STS (RFC 8461 §3.1,
 * "v=STSv1; id=...") and TLS-RPT (RFC 8460 §3, "v=TLSRPTv1; rua=...").
 * Each is a version tag, then fields `name=value` separated by ";" with
 * optional white space around it, an optional ";" at the end, and no
 * white space after the last field. This file reads that frame; mtasts.c
 * and tlsrpt.c read what a field holds. Every read of the untrusted
 * bytes goes through a bounded cursor (txt_peek).
 */
#ifndef MXCRAWL_STS_TXTREC_H
#define MXCRAWL_STS_TXTREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII classes: bytes >= 0x80 are never letters or digits. */
static inline bool txt_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool txt_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool txt_is_alnum(int c)
{
	return txt_is_alpha(c) || txt_is_digit(c);
}

static inline bool txt_is_hex(int c)
{
	return txt_is_digit(c) || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* WSP = SP / HTAB */
static inline bool txt_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* An extension name's characters after its first (ALPHA / DIGIT). */
static inline bool txt_is_name_char(int c)
{
	return txt_is_alnum(c) || c == '_' || c == '-' || c == '.';
}

static inline int txt_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* A read position over untrusted bytes; it borrows p. */
struct txt_cur {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* The next byte, or -1 at the end. */
static inline int txt_peek(const struct txt_cur *c)
{
	return c->off < c->len ? c->p[c->off] : -1;
}

void txt_skip_wsp(struct txt_cur *c);
/* Skips to the next ";" (left unread) or the end: how a field that failed
 * is stepped over. */
void txt_skip_to_semicolon(struct txt_cur *c);

/*
 * Whether buf[0..len) is a record of this version: it starts with `tag`
 * ("v=STSv1"), followed by its end, ";" or one of the characters of
 * Python's \s (the testbed's truth uses that regex); the field reader then
 * reports what is not WSP. Records of other versions are not ours (RFC
 * 8461 §3.1: "records that do not begin with" the version are ignored).
 */
bool txt_has_version(const uint8_t *buf, size_t len, const char *tag);

/* ext-value = 1*(%x21-3A / %x3C / %x3E-7E), in both grammars. */
bool txt_ext_value_ok(const uint8_t *v, size_t n);

/* Longest extension name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" /
 * "."), in both grammars. */
#define TXT_NAME_MAX 32

/*
 * Reads `name=` at c: true with the name's offset and length, c after
 * the "=". False for a name that breaks the grammar or has no "=": c is
 * then at the next ";" (or the end), and *name where the field began.
 */
bool txt_field_name(struct txt_cur *c, size_t *name, size_t *name_len);

/* What the frame between fields can get wrong. */
enum txt_frame_error {
	TXT_BAD_SEPARATOR,  /* something other than ";" between fields */
	TXT_TRAILING_SPACE, /* white space after the last field */
};

struct txt_reader {
	/* At the start of a field (after ";" and white space); reads it,
	 * and leaves c at its end (at the next ";", WSP or the end). */
	void (*field)(void *ctx, struct txt_cur *c);
	/* A frame error at byte off (each one, in order). */
	void (*frame_error)(void *ctx, enum txt_frame_error e, size_t off);
	void *ctx;
};

/* Reads every field of buf[0..len) after the version tag of length
 * tag_len (txt_has_version said yes). */
void txt_read_fields(const uint8_t *buf, size_t len, size_t tag_len,
		     const struct txt_reader *r);

#endif
