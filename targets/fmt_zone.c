/*
 * DNS zone files (RFC 1035 §5.1 master file format): the targets are the
 * delegated names, i.e. the owners of NS records strictly below the apex.
 * A TLD zone file (CZDS, or a ccTLD's open data) is thus read as the list
 * of its registered domains.
 *
 * The reader streams: a record is judged when it ends (at the end of a
 * line outside parentheses), and of its fields only the owner, TTL, class
 * and type are kept; the data fields are counted, never stored, so one
 * record of any size costs a bounded amount of memory.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "targets/internal.h"
#include "targets/targets.h"

/* Bytes kept of a TTL, class or type token; longer ones are none of these. */
#define ZONE_TOKEN_MAX 32
/* A name as written (escapes decoded) plus a dot and the origin. */
#define ZONE_NAME_MAX (NAME_MAX_INPUT + 1 + NAME_MAX_TEXT + 1)

enum zone_origin {
	ZONE_ORIGIN_NONE, /* neither given nor set by $ORIGIN */
	ZONE_ORIGIN_SET,  /* origin[] holds it ("" is the root) */
	ZONE_ORIGIN_BAD,  /* the last one given was refused */
};

enum zone_apex {
	ZONE_APEX_NONE, /* not needed yet */
	ZONE_APEX_ORIGIN, /* taken from the origin (or the root) at the first NS */
	ZONE_APEX_SOA,	  /* the owner of the first SOA record */
};

enum zone_owner {
	ZONE_OWNER_NONE,     /* no record had an owner yet */
	ZONE_OWNER_OK,	     /* owner[] holds it, absolute, no trailing dot */
	ZONE_OWNER_BAD,	     /* refused (reported with its record) */
	ZONE_OWNER_OVERLONG, /* longer than NAME_MAX_INPUT; owner_full says */
};

struct zone_state {
	enum zone_origin origin_state;
	char origin[NAME_MAX_TEXT + 1];
	size_t origin_len;
	uint64_t origin_line; /* line of the $ORIGIN; 0 if given by the user */

	enum zone_apex apex_state;
	char apex[NAME_MAX_TEXT + 1];
	size_t apex_len;

	/* The owner of the current record, or of the previous one, which a
	 * record with a blank owner field repeats. */
	enum zone_owner owner_state;
	uint8_t owner[ZONE_NAME_MAX];
	size_t owner_len;
	size_t owner_full; /* true length when ZONE_OWNER_OVERLONG */
	bool owner_escdot; /* a label holds an escaped '.' */
	uint64_t owner_line;

	uint64_t depth; /* open parentheses */

	/* The record being read. */
	bool in_record;	    /* a field of it was seen */
	bool rec_bad;	    /* already rejected; the rest is only skipped */
	bool want_owner;    /* the owner field is not blank */
	bool owner_pending; /* ... and has not been read yet */
	bool have_ttl, have_class, have_type;
	uint64_t rec_line;
	char type[ZONE_TOKEN_MAX + 1];
	uint64_t rdata; /* data fields after the type */
	/* The record's first line, kept once the record continues beyond it,
	 * for the rejection message. */
	size_t rec_text_len;
	uint8_t rec_text[TARGETS_LINE_MAX];
};

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool token_is(const uint8_t *t, size_t len, const char *word)
{
	return len == strlen(word) &&
	       strncasecmp((const char *)t, word, len) == 0;
}

/* A TTL: digits, or BIND's units ("1h30m", "2w"); RFC 2308 §4. */
static bool is_ttl(const uint8_t *t, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_digit(t[0]))
		return false;
	while (i < len) {
		if (!is_digit(t[i]))
			return false;
		while (i < len && is_digit(t[i]))
			i++;
		if (i < len) {
			if (!strchr("wdhmsWDHMS", t[i]) || t[i] == '\0')
				return false;
			i++;
		}
	}
	return true;
}

/* A class mnemonic or the generic CLASSnn of RFC 3597. */
static bool is_class(const uint8_t *t, size_t len)
{
	if (token_is(t, len, "IN") || token_is(t, len, "CH") ||
	    token_is(t, len, "HS") || token_is(t, len, "CS"))
		return true;
	if (len > 5 && strncasecmp((const char *)t, "CLASS", 5) == 0) {
		for (size_t i = 5; i < len; i++)
			if (!is_digit(t[i]))
				return false;
		return true;
	}
	return false;
}

/* A type mnemonic ("NSAP-PTR") or the generic TYPEnn. */
static bool is_type_token(const uint8_t *t, size_t len)
{
	if (len == 0 || len > ZONE_TOKEN_MAX || !is_alpha(t[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alpha(t[i]) && !is_digit(t[i]) && t[i] != '-')
			return false;
	return true;
}

static bool type_is_ns(const char *type)
{
	return strcasecmp(type, "NS") == 0 || strcasecmp(type, "TYPE2") == 0;
}

static bool type_is_soa(const char *type)
{
	return strcasecmp(type, "SOA") == 0 || strcasecmp(type, "TYPE6") == 0;
}

/* Splits a line into fields, tracking parentheses across lines. */
struct zone_lex {
	const uint8_t *s;
	size_t len;
	size_t i;
	uint64_t *depth;
};

enum zone_lex_rc {
	ZONE_LEX_END,	/* no more fields on this line */
	ZONE_LEX_TOKEN, /* *tok, *toklen hold the next field, raw */
	ZONE_LEX_ERROR, /* *err says what; lexing may go on after it */
};

static enum zone_lex_rc lex_next(struct zone_lex *lx, const uint8_t **tok,
				 size_t *toklen, const char **err)
{
	const uint8_t *s = lx->s;

	for (;;) {
		size_t start;

		while (lx->i < lx->len && is_blank(s[lx->i]))
			lx->i++;
		if (lx->i >= lx->len || s[lx->i] == ';') {
			lx->i = lx->len;
			return ZONE_LEX_END;
		}
		if (s[lx->i] == '(') {
			lx->i++;
			/* Still counted, so that the record's end is found. */
			if ((*lx->depth)++ > 0) {
				*err = "nested '(' (groups do not nest)";
				return ZONE_LEX_ERROR;
			}
			continue;
		}
		if (s[lx->i] == ')') {
			lx->i++;
			if (*lx->depth == 0) {
				*err = "')' without a matching '('";
				return ZONE_LEX_ERROR;
			}
			(*lx->depth)--;
			continue;
		}
		start = lx->i;
		if (s[lx->i] == '"') {
			lx->i++;
			while (lx->i < lx->len && s[lx->i] != '"')
				lx->i += s[lx->i] == '\\' && lx->i + 1 < lx->len
					     ? 2
					     : 1;
			if (lx->i >= lx->len) {
				*err = "quoted string not closed on its line";
				return ZONE_LEX_ERROR;
			}
			lx->i++;
		} else {
			while (lx->i < lx->len) {
				uint8_t c = s[lx->i];
				if (is_blank(c) || c == ';' || c == '(' ||
				    c == ')')
					break;
				lx->i +=
				    c == '\\' && lx->i + 1 < lx->len ? 2 : 1;
			}
		}
		*tok = s + start;
		*toklen = lx->i - start;
		return ZONE_LEX_TOKEN;
	}
}

/*
 * Turns a name field into an absolute name without trailing dot in
 * out[ZONE_NAME_MAX] (the root is length 0): escapes (\X, \DDD) decoded,
 * '@' replaced by the origin, relative names completed with it. Returns
 * false with a sentence in errbuf when the field cannot be resolved; a
 * name longer than NAME_MAX_INPUT is not an error here (*overlong gets its
 * length, the name rules refuse it later).
 */
static bool resolve_name(const struct zone_state *st, const uint8_t *tok,
			 size_t toklen, uint8_t *out, size_t *outlen,
			 size_t *overlong, bool *escdot, char *errbuf,
			 size_t errsz)
{
	char ex[TARGETS_EXCERPT_SIZE];
	size_t o = 0, full = 0, i = 0;
	bool last_escaped = false;

	*overlong = 0;
	*escdot = false;
	targets_excerpt(ex, sizeof ex, tok, toklen);
	if (toklen >= 2 && tok[0] == '"' && tok[toklen - 1] == '"') {
		tok++;
		toklen -= 2;
	}
	if (toklen == 1 && tok[0] == '@') {
		if (st->origin_state != ZONE_ORIGIN_SET)
			goto no_origin;
		memcpy(out, st->origin, st->origin_len);
		*outlen = st->origin_len;
		return true;
	}
	if (toklen == 0) {
		snprintf(errbuf, errsz, "empty name field");
		return false;
	}
	while (i < toklen) {
		uint8_t c = tok[i];
		bool esc = false;

		if (c == '\\') {
			if (i + 3 < toklen && is_digit(tok[i + 1]) &&
			    is_digit(tok[i + 2]) && is_digit(tok[i + 3])) {
				unsigned v = (tok[i + 1] - '0') * 100u +
					     (tok[i + 2] - '0') * 10u +
					     (tok[i + 3] - '0');
				if (v > 255) {
					snprintf(errbuf, errsz,
						 "escape \\%c%c%c in '%s' is "
						 "over 255",
						 tok[i + 1], tok[i + 2],
						 tok[i + 3], ex);
					return false;
				}
				c = (uint8_t)v;
				i += 4;
			} else if (i + 1 < toklen) {
				c = tok[i + 1];
				i += 2;
			} else {
				snprintf(errbuf, errsz,
					 "'%s' ends with a lone backslash", ex);
				return false;
			}
			esc = true;
			if (c == '.')
				*escdot = true;
		} else {
			i++;
		}
		full++;
		if (o < NAME_MAX_INPUT + 1)
			out[o++] = c;
		last_escaped = esc;
	}
	if (full == 1 && out[0] == '.' && !last_escaped) {
		*outlen = 0;
		return true;
	}
	if (out[o - 1] == '.' && !last_escaped && o == full) {
		*outlen = o - 1;
		if (full - 1 > NAME_MAX_INPUT)
			*overlong = full - 1;
		return true;
	}
	if (full > NAME_MAX_INPUT) {
		/* Absolute or not, it is too long: no origin needed. */
		*overlong = full;
		*outlen = NAME_MAX_INPUT;
		return true;
	}
	if (st->origin_state != ZONE_ORIGIN_SET)
		goto no_origin;
	if (st->origin_len > 0) {
		out[o++] = '.';
		memcpy(out + o, st->origin, st->origin_len);
		o += st->origin_len;
	}
	*outlen = o;
	return true;

no_origin:
	if (st->origin_state == ZONE_ORIGIN_BAD && st->origin_line > 0)
		snprintf(errbuf, errsz,
			 "relative name '%s' but the $ORIGIN on line %llu was "
			 "refused",
			 ex, (unsigned long long)st->origin_line);
	else if (st->origin_state == ZONE_ORIGIN_BAD)
		snprintf(errbuf, errsz,
			 "relative name '%s' but the origin given is not a "
			 "valid name",
			 ex);
	else
		snprintf(errbuf, errsz,
			 "relative name '%s' but no origin is known (no "
			 "$ORIGIN before it, none given)",
			 ex);
	return false;
}

/* Normalises an absolute name (not the root) into out; fills err. */
static bool normalize_abs(const uint8_t *name, size_t len, size_t overlong,
			  bool escdot, char out[NAME_MAX_TEXT + 1],
			  size_t *outlen, struct name_err *err)
{
	char ex[TARGETS_EXCERPT_SIZE];

	if (overlong > 0) {
		err->rc = NAME_TOO_LONG;
		snprintf(err->detail, sizeof err->detail,
			 "name is %zu bytes (at most %d are looked at)",
			 overlong, NAME_MAX_INPUT);
		return false;
	}
	if (escdot) {
		targets_excerpt(ex, sizeof ex, name, len);
		err->rc = NAME_BAD_CHAR;
		snprintf(err->detail, sizeof err->detail,
			 "escaped '.' inside a label of '%s'", ex);
		return false;
	}
	return name_normalize(name, len, out, outlen, err) == NAME_OK;
}

static void zone_init(void *state, const char *origin)
{
	struct zone_state *st = state;
	struct name_err err;
	size_t n;

	memset(st, 0, sizeof *st);
	if (!origin)
		return;
	n = strlen(origin);
	if (n == 0 || strcmp(origin, ".") == 0) {
		st->origin_state = ZONE_ORIGIN_SET;
		return;
	}
	if (name_normalize((const uint8_t *)origin, n, st->origin,
			   &st->origin_len, &err) == NAME_OK)
		st->origin_state = ZONE_ORIGIN_SET;
	else
		st->origin_state = ZONE_ORIGIN_BAD;
}

static void zone_syntax(struct targets_reader *r, struct zone_state *st,
			uint64_t lineno, const uint8_t *line, size_t len,
			const char *what)
{
	if (st->rec_bad)
		return;
	st->rec_bad = true;
	targets_reject_line(r, lineno, line, len, TARGETS_ZONE_SYNTAX, "%s",
			    what);
}

static void directive(struct targets_reader *r, struct zone_state *st,
		      uint64_t lineno, const uint8_t *line, size_t len)
{
	char ex[TARGETS_EXCERPT_SIZE], errbuf[160];
	uint64_t depth = 0;
	struct zone_lex lx = { line, len, 0, &depth };
	const uint8_t *name, *arg = NULL, *tok;
	size_t namelen, arglen = 0, toklen, args = 0;
	const char *err = NULL;
	enum zone_lex_rc rc;

	/* The line starts with '$', so there is always a first field. */
	if (lex_next(&lx, &name, &namelen, &err) != ZONE_LEX_TOKEN)
		return;
	while ((rc = lex_next(&lx, &tok, &toklen, &err)) != ZONE_LEX_END) {
		if (rc == ZONE_LEX_ERROR)
			break;
		if (args++ == 0) {
			arg = tok;
			arglen = toklen;
		}
	}
	targets_excerpt(ex, sizeof ex, name, namelen);
	if (token_is(name, namelen, "$TTL")) {
		targets_skip_line(r);
		return;
	}
	if (token_is(name, namelen, "$INCLUDE")) {
		targets_reject_line(r, lineno, line, len,
				    TARGETS_ZONE_DIRECTIVE,
				    "$INCLUDE is not supported: the included "
				    "file is not read");
		return;
	}
	if (token_is(name, namelen, "$GENERATE")) {
		targets_reject_line(r, lineno, line, len,
				    TARGETS_ZONE_DIRECTIVE,
				    "$GENERATE is not supported: its records "
				    "are not expanded");
		return;
	}
	if (!token_is(name, namelen, "$ORIGIN")) {
		targets_reject_line(r, lineno, line, len,
				    TARGETS_ZONE_DIRECTIVE,
				    "unknown directive '%s'", ex);
		return;
	}

	if (rc == ZONE_LEX_ERROR || depth > 0 || args != 1) {
		targets_reject_line(r, lineno, line, len, TARGETS_ZONE_SYNTAX,
				    "$ORIGIN takes exactly one domain name");
		st->origin_state = ZONE_ORIGIN_BAD;
		st->origin_line = lineno;
		return;
	}

	uint8_t abs[ZONE_NAME_MAX];
	size_t abslen, overlong;
	bool escdot;
	struct name_err nerr;
	char norm[NAME_MAX_TEXT + 1];
	size_t normlen;

	if (!resolve_name(st, arg, arglen, abs, &abslen, &overlong, &escdot,
			  errbuf, sizeof errbuf)) {
		targets_reject_line(r, lineno, line, len, TARGETS_ZONE_SYNTAX,
				    "$ORIGIN: %s", errbuf);
		st->origin_state = ZONE_ORIGIN_BAD;
		st->origin_line = lineno;
		return;
	}
	st->origin_line = lineno;
	if (abslen == 0 && overlong == 0) {
		st->origin_state = ZONE_ORIGIN_SET;
		st->origin_len = 0;
		st->origin[0] = '\0';
		targets_skip_line(r);
		return;
	}
	if (!normalize_abs(abs, abslen, overlong, escdot, norm, &normlen,
			   &nerr)) {
		targets_reject_name(r, lineno, line, len, &nerr);
		st->origin_state = ZONE_ORIGIN_BAD;
		return;
	}
	memcpy(st->origin, norm, normlen + 1);
	st->origin_len = normlen;
	st->origin_state = ZONE_ORIGIN_SET;
	targets_skip_line(r);
}

/* The first field of a record: its owner, kept for the records after it
 * that leave the owner blank. */
static void set_owner(struct targets_reader *r, struct zone_state *st,
		      uint64_t lineno, const uint8_t *line, size_t len,
		      const uint8_t *tok, size_t toklen)
{
	char errbuf[160];

	st->owner_line = lineno;
	if (!resolve_name(st, tok, toklen, st->owner, &st->owner_len,
			  &st->owner_full, &st->owner_escdot, errbuf,
			  sizeof errbuf)) {
		st->owner_state = ZONE_OWNER_BAD;
		zone_syntax(r, st, lineno, line, len, errbuf);
		return;
	}
	st->owner_state =
	    st->owner_full > 0 ? ZONE_OWNER_OVERLONG : ZONE_OWNER_OK;
}

/* A field after the owner: TTL and class in either order, then the type,
 * then data fields, which are only counted. */
static void add_field(struct targets_reader *r, struct zone_state *st,
		      uint64_t lineno, const uint8_t *line, size_t len,
		      const uint8_t *tok, size_t toklen)
{
	char ex[TARGETS_EXCERPT_SIZE], msg[160];

	if (st->have_type) {
		st->rdata++;
		return;
	}
	if (!st->have_ttl && is_ttl(tok, toklen)) {
		st->have_ttl = true;
		return;
	}
	if (!st->have_class && is_class(tok, toklen)) {
		st->have_class = true;
		return;
	}
	if (!is_type_token(tok, toklen)) {
		targets_excerpt(ex, sizeof ex, tok, toklen);
		snprintf(msg, sizeof msg, "'%s' is not a record type", ex);
		zone_syntax(r, st, lineno, line, len, msg);
		return;
	}
	memcpy(st->type, tok, toklen);
	st->type[toklen] = '\0';
	st->have_type = true;
}

static bool below(const char *name, size_t len, const char *apex,
		  size_t apexlen)
{
	if (apexlen == 0)
		return len > 0;
	return len > apexlen + 1 && name[len - apexlen - 1] == '.' &&
	       memcmp(name + len - apexlen, apex, apexlen) == 0;
}

/* Judges a complete record; `line` is its first line. */
static void end_record(struct targets_reader *r, struct zone_state *st,
		       const uint8_t *line, size_t len)
{
	uint64_t lineno = st->rec_line;
	char norm[NAME_MAX_TEXT + 1], ex[TARGETS_EXCERPT_SIZE], msg[160];
	struct name_err err;
	size_t normlen = 0;
	bool root;

	if (st->rec_bad)
		return;
	if (!st->want_owner) {
		/* A blank owner field repeats the previous owner. */
		if (st->owner_state == ZONE_OWNER_NONE) {
			zone_syntax(r, st, lineno, line, len,
				    "blank owner field on the first record "
				    "(no previous owner to repeat)");
			return;
		}
		if (st->owner_state == ZONE_OWNER_BAD) {
			snprintf(msg, sizeof msg,
				 "blank owner field repeats the refused "
				 "owner of line %llu",
				 (unsigned long long)st->owner_line);
			zone_syntax(r, st, lineno, line, len, msg);
			return;
		}
	}
	if (!st->have_type) {
		zone_syntax(r, st, lineno, line, len, "record has no type");
		return;
	}
	if (!type_is_ns(st->type) && !type_is_soa(st->type)) {
		targets_skip_line(r);
		return;
	}

	if (type_is_ns(st->type) && st->rdata != 1) {
		snprintf(msg, sizeof msg,
			 "NS record has %llu data fields (want 1, the name "
			 "server)",
			 (unsigned long long)st->rdata);
		zone_syntax(r, st, lineno, line, len, msg);
		return;
	}
	root = st->owner_state == ZONE_OWNER_OK && st->owner_len == 0;
	if (!root && !normalize_abs(st->owner, st->owner_len, st->owner_full,
				    st->owner_escdot, norm, &normlen, &err)) {
		targets_reject_name(r, lineno, line, len, &err);
		return;
	}

	if (type_is_soa(st->type)) {
		/* The first SOA names the zone; later ones (zone files
		 * concatenated) do not move it. */
		if (st->apex_state != ZONE_APEX_SOA) {
			memcpy(st->apex, norm, normlen);
			st->apex[normlen] = '\0';
			st->apex_len = normlen;
			st->apex_state = ZONE_APEX_SOA;
		}
		targets_skip_line(r);
		return;
	}

	if (st->apex_state == ZONE_APEX_NONE) {
		/* No SOA: the zone is the origin's, or the root's if none
		 * was given (then every owner is a delegation). */
		st->apex_len = 0;
		if (st->origin_state == ZONE_ORIGIN_SET) {
			memcpy(st->apex, st->origin, st->origin_len);
			st->apex_len = st->origin_len;
		}
		st->apex[st->apex_len] = '\0';
		st->apex_state = ZONE_APEX_ORIGIN;
	}
	if (normlen == st->apex_len && memcmp(norm, st->apex, normlen) == 0) {
		/* The zone's own name servers. */
		targets_skip_line(r);
		return;
	}
	if (!below(norm, normlen, st->apex, st->apex_len)) {
		targets_excerpt(ex, sizeof ex, (const uint8_t *)norm, normlen);
		targets_reject_line(r, lineno, line, len, TARGETS_ZONE_OUTSIDE,
				    "NS owner '%s' is not below the zone "
				    "'%s.'",
				    root ? "." : ex, st->apex);
		return;
	}
	targets_emit_name(r, lineno, norm, normlen, 0);
}

static void zone_line(struct targets_reader *r, void *state, uint64_t lineno,
		      const uint8_t *line, size_t len)
{
	struct zone_state *st = state;
	struct zone_lex lx = { line, len, 0, &st->depth };
	bool first_line = st->depth == 0;
	const uint8_t *tok;
	size_t toklen;
	const char *err;
	enum zone_lex_rc rc;

	if (first_line) {
		if (len > 0 && line[0] == '$') {
			directive(r, st, lineno, line, len);
			return;
		}
		st->in_record = false;
		st->rec_bad = false;
		st->want_owner = len > 0 && !is_blank(line[0]);
		st->owner_pending = st->want_owner;
		st->have_ttl = st->have_class = st->have_type = false;
		st->rdata = 0;
		st->rec_line = lineno;
	}
	while ((rc = lex_next(&lx, &tok, &toklen, &err)) != ZONE_LEX_END) {
		st->in_record = true;
		if (rc == ZONE_LEX_ERROR) {
			zone_syntax(r, st, lineno, line, len, err);
			continue;
		}
		if (st->rec_bad) {
			continue;
		} else if (st->owner_pending) {
			st->owner_pending = false;
			set_owner(r, st, lineno, line, len, tok, toklen);
		} else {
			add_field(r, st, lineno, line, len, tok, toklen);
		}
	}
	if (st->depth > 0) {
		if (first_line) {
			memcpy(st->rec_text, line, len);
			st->rec_text_len = len;
		}
		return;
	}
	if (!st->in_record) {
		targets_skip_line(r);
		return;
	}
	if (first_line)
		end_record(r, st, line, len);
	else
		end_record(r, st, st->rec_text, st->rec_text_len);
	st->in_record = false;
}

static void zone_finish(struct targets_reader *r, void *state)
{
	struct zone_state *st = state;

	if (st->depth > 0 && !st->rec_bad)
		targets_reject_line(r, st->rec_line, st->rec_text,
				    st->rec_text_len, TARGETS_ZONE_SYNTAX,
				    "'(' opened on this line is never closed");
	st->depth = 0;
}

/* True if a zone file line is a $ORIGIN or $TTL directive or a record of
 * type SOA or NS: the signs of a zone file. */
static bool zone_sniff_line(const uint8_t *line, size_t len)
{
	uint64_t depth = 0;
	struct zone_lex lx = { line, len, 0, &depth };
	const uint8_t *tok;
	size_t toklen;
	const char *err;
	bool ttl = false, class = false;

	if (len > 0 && line[0] == '$') {
		if (lex_next(&lx, &tok, &toklen, &err) != ZONE_LEX_TOKEN)
			return false;
		return token_is(tok, toklen, "$ORIGIN") ||
		       token_is(tok, toklen, "$TTL");
	}
	if (len > 0 && !is_blank(line[0]) &&
	    lex_next(&lx, &tok, &toklen, &err) != ZONE_LEX_TOKEN)
		return false;
	while (lex_next(&lx, &tok, &toklen, &err) == ZONE_LEX_TOKEN) {
		if (!ttl && is_ttl(tok, toklen)) {
			ttl = true;
		} else if (!class && is_class(tok, toklen)) {
			class = true;
		} else {
			return token_is(tok, toklen, "NS") ||
			       token_is(tok, toklen, "SOA");
		}
	}
	return false;
}

static bool zone_sniff(const uint8_t *head, size_t len)
{
	size_t pos = 0, n;
	unsigned count = 0;
	const uint8_t *l;

	while (targets_sniff_next(head, len, &pos, &count, &l, &n))
		if (zone_sniff_line(l, n))
			return true;
	return false;
}

const struct targets_format targets_format_zone = {
	.name = "zone",
	.state_size = sizeof(struct zone_state),
	.init = zone_init,
	.line = zone_line,
	.finish = zone_finish,
	.free = NULL,
	.sniff = zone_sniff,
};
