/*
 * Fuzz target for crawler/smtp/smtp_reply.c.
 *
 * The first byte picks a piece size; the rest is a byte stream read as
 * consecutive replies until an error or its end. Every reply must keep
 * the parser's bounds, and feeding the same stream in pieces must give
 * exactly the same sequence of replies as feeding it whole.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/smtp/smtp_reply.h"

/* Large enough to reach every cap (SMTP_REPLY_BYTES_MAX and some). */
#define FUZZ_INPUT_MAX (SMTP_REPLY_BYTES_MAX + 4096)
/* Replies compared between the two readings. */
#define FUZZ_MAX_REPLIES 4096

/* What one reading of a reply left, to compare two readings. */
struct seen {
	enum smtp_reply_rc rc;
	size_t end; /* offset in the stream where the reply ended */
	int code;
	size_t nlines, nbytes, text_len, nkeywords, dropped;
	unsigned flags;
	uint32_t text_hash, kw_hash;
};

static struct seen whole[FUZZ_MAX_REPLIES], pieces[FUZZ_MAX_REPLIES];
static struct smtp_reply_parser parser;

static uint32_t hash(uint32_t h, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void check_reply(const struct smtp_reply *r, size_t used)
{
	if (r->code < 200 || r->code > 599)
		abort();
	if (r->nlines == 0 || r->nlines > SMTP_REPLY_LINES_MAX)
		abort();
	if (r->nbytes != used || r->nbytes > SMTP_REPLY_BYTES_MAX)
		abort();
	/* Every line has its code and a line end. */
	if (r->nbytes < r->nlines * 4)
		abort();
	if (r->text_len > SMTP_REPLY_TEXT_MAX || r->text_len > r->nbytes)
		abort();
	if (!r->crlf && !r->bare_lf)
		abort();
	if (r->nkeywords > SMTP_REPLY_KEYWORDS_MAX ||
	    r->nkeywords + r->keywords_dropped > r->nlines)
		abort();
	for (size_t i = 0; i < r->nkeywords; i++) {
		const char *k = r->keywords[i];
		size_t n = strnlen(k, SMTP_REPLY_KEYWORD_MAX + 1);
		if (n == 0 || n > SMTP_REPLY_KEYWORD_MAX || k[0] == '-')
			abort();
		for (size_t j = 0; j < n; j++)
			if (!((k[j] >= 'A' && k[j] <= 'Z') ||
			      (k[j] >= '0' && k[j] <= '9') || k[j] == '-'))
				abort();
	}
	if (r->starttls && !smtp_reply_has_keyword(r, "STARTTLS") &&
	    r->keywords_dropped == 0)
		abort();
}

static struct seen note(enum smtp_reply_rc rc, size_t end)
{
	const struct smtp_reply *r = &parser.reply;
	struct seen s;

	memset(&s, 0, sizeof s);
	s.rc = rc;
	s.end = end;
	if (rc != SMTP_REPLY_OK)
		return s;
	s.code = r->code;
	s.nlines = r->nlines;
	s.nbytes = r->nbytes;
	s.text_len = r->text_len;
	s.nkeywords = r->nkeywords;
	s.dropped = r->keywords_dropped;
	s.flags = (unsigned)r->overlong | (unsigned)r->crlf << 1 |
		  (unsigned)r->bare_lf << 2 | (unsigned)r->bare_code << 3 |
		  (unsigned)r->masked << 4 | (unsigned)r->starttls << 5 |
		  (unsigned)r->xxxxxxxa << 6;
	s.text_hash = hash(2166136261u, r->text, r->text_len);
	s.kw_hash = 2166136261u;
	for (size_t i = 0; i < r->nkeywords; i++)
		s.kw_hash =
		    hash(s.kw_hash, r->keywords[i], strlen(r->keywords[i]) + 1);
	return s;
}

static bool same(const struct seen *a, const struct seen *b)
{
	return a->rc == b->rc && a->end == b->end && a->code == b->code &&
	       a->nlines == b->nlines && a->nbytes == b->nbytes &&
	       a->text_len == b->text_len && a->nkeywords == b->nkeywords &&
	       a->dropped == b->dropped && a->flags == b->flags &&
	       a->text_hash == b->text_hash && a->kw_hash == b->kw_hash;
}

/* Reads the stream in pieces of `step` bytes (0: whole); returns the
 * number of results noted in out. */
static size_t read_stream(const uint8_t *data, size_t size, size_t step,
			  struct seen *out)
{
	size_t off = 0, n = 0, start = 0;

	smtp_reply_init(&parser);
	while (n < FUZZ_MAX_REPLIES) {
		size_t len = size - off, used;
		if (step && len > step)
			len = step;
		enum smtp_reply_rc rc =
		    smtp_reply_feed(&parser, data + off, len, &used);
		if ((unsigned)rc >= SMTP_REPLY_RC_LAST ||
		    strcmp(smtp_reply_rc_str(rc), "unknown") == 0)
			abort();
		if (used > len)
			abort();
		off += used;
		if (rc == SMTP_REPLY_RC_INCOMPLETE) {
			if (used != len)
				abort();
			if (off >= size) {
				out[n++] = note(rc, off);
				break;
			}
			continue;
		}
		if (rc == SMTP_REPLY_OK) {
			check_reply(&parser.reply, off - start);
			start = off;
		}
		out[n++] = note(rc, off);
		if (rc != SMTP_REPLY_OK) {
			/* Errors stick. */
			if (smtp_reply_feed(&parser, data, size, &used) != rc ||
			    used != 0)
				abort();
			break;
		}
		if (off >= size)
			break;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_INPUT_MAX)
		return 0;
	size_t step = 1 + data[0] % 17;
	data++;
	size--;

	size_t a = read_stream(data, size, 0, whole);
	size_t b = read_stream(data, size, step, pieces);
	if (a != b)
		abort();
	for (size_t i = 0; i < a; i++)
		if (!same(&whole[i], &pieces[i]))
			abort();

	/* The one-shot form agrees with the first streamed reply. */
	struct smtp_reply r;
	size_t used;
	enum smtp_reply_rc rc = smtp_reply_parse(data, size, &r, &used);
	if (rc != whole[0].rc || used != whole[0].end)
		abort();
	return 0;
}
