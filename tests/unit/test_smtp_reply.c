/*
 * Table tests for crawler/smtp/smtp_reply.c: every row is parsed in one piece,
 * then again split at every offset and byte by byte, and all three must
 * give the same result (the parser sees a stream, not packets).
 */
#include <stdint.h>
#include <stdlib.h>

#include "crawler/smtp/smtp_reply.h"
#include "unit.h"

/* Flags of a row's expected reply. */
#define F_CRLF 0x01
#define F_LF 0x02
#define F_BARE 0x04
#define F_OVERLONG 0x08
#define F_MASKED 0x10
#define F_STARTTLS 0x20
#define F_XXX 0x40

/* `used` of a row when the whole input is read. */
#define ALL ((size_t)-1)

struct reply_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	enum smtp_reply_rc rc;
	size_t used;
	int code;
	size_t nlines;
	unsigned flags;
	const char *text;     /* first line's text; NULL: not checked */
	const char *keywords; /* space-separated; NULL: not checked */
};

static const struct reply_case cases[] = {
	{ "banner", "220 mx.example ESMTP\r\n", 0, SMTP_REPLY_OK, ALL, 220, 1,
	  F_CRLF, "mx.example ESMTP", "" },
	{ "banner multi-line", "220-mx first\r\n220-second\r\n220 mx ready\r\n",
	  0, SMTP_REPLY_OK, ALL, 220, 3, F_CRLF, "mx first", NULL },
	{ "banner 421", "421 4.3.2 busy, try later\r\n", 0, SMTP_REPLY_OK, ALL,
	  421, 1, F_CRLF, "4.3.2 busy, try later", NULL },
	{ "banner 554", "554 5.7.1 no service\r\n", 0, SMTP_REPLY_OK, ALL, 554,
	  1, F_CRLF, "5.7.1 no service", NULL },
	{ "ehlo",
	  "250-mx.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
	  "250 8BITMIME\r\n",
	  0, SMTP_REPLY_OK, ALL, 250, 4, F_CRLF | F_STARTTLS, "mx.example",
	  "PIPELINING STARTTLS 8BITMIME" },
	{ "ehlo lower case",
	  "250-mx.example hello\r\n250-pipelining\r\n"
	  "250-starttls\r\n250 8bitmime\r\n",
	  0, SMTP_REPLY_OK, ALL, 250, 4, F_CRLF | F_STARTTLS,
	  "mx.example hello", "PIPELINING STARTTLS 8BITMIME" },
	{ "ehlo STARTTLS on the first line",
	  "250-STARTTLS\r\n250 mx.example\r\n", 0, SMTP_REPLY_OK, ALL, 250, 2,
	  F_CRLF | F_STARTTLS, "STARTTLS", "STARTTLS" },
	{ "ehlo STARTTLS on the last line",
	  "250-mx.example\r\n250 STARTTLS\r\n", 0, SMTP_REPLY_OK, ALL, 250, 2,
	  F_CRLF | F_STARTTLS, NULL, "STARTTLS" },
	{ "ehlo mixed case", "250-mx\r\n250 StartTls\r\n", 0, SMTP_REPLY_OK,
	  ALL, 250, 2, F_CRLF | F_STARTTLS, NULL, "MX STARTTLS" },
	{ "ehlo XXXXXXXA",
	  "250-mx.example\r\n250-PIPELINING\r\n250-XXXXXXXA\r\n"
	  "250 8BITMIME\r\n",
	  0, SMTP_REPLY_OK, ALL, 250, 4, F_CRLF | F_XXX, NULL,
	  "PIPELINING XXXXXXXA 8BITMIME" },
	{ "ehlo keyword with params",
	  "250-mx\r\n250-SIZE 10240000\r\n"
	  "250 AUTH PLAIN LOGIN\r\n",
	  0, SMTP_REPLY_OK, ALL, 250, 3, F_CRLF, NULL, "MX SIZE AUTH" },
	{ "ehlo spaces before the keyword",
	  "250-mx\r\n250-  STARTTLS  \r\n"
	  "250 \tSMTPUTF8\r\n",
	  0, SMTP_REPLY_OK, ALL, 250, 3, F_CRLF | F_STARTTLS, NULL,
	  "MX STARTTLS SMTPUTF8" },
	{ "not STARTTLS: longer token", "250-mx\r\n250 STARTTLSX\r\n", 0,
	  SMTP_REPLY_OK, ALL, 250, 2, F_CRLF, NULL, "MX STARTTLSX" },
	{ "not STARTTLS: second token", "250-mx\r\n250 X-FOO STARTTLS\r\n", 0,
	  SMTP_REPLY_OK, ALL, 250, 2, F_CRLF, NULL, "MX X-FOO" },
	{ "ill-formed keywords not kept",
	  "250-mx.example\r\n250-_BAD\r\n250 A_B\r\n", 0, SMTP_REPLY_OK, ALL,
	  250, 3, F_CRLF, NULL, "" },
	{ "bare LF", "250-mx\n250 STARTTLS\n", 0, SMTP_REPLY_OK, ALL, 250, 2,
	  F_LF | F_STARTTLS, "mx", "MX STARTTLS" },
	{ "CRLF and bare LF", "250-mx\r\n250 ok\n", 0, SMTP_REPLY_OK, ALL, 250,
	  2, F_CRLF | F_LF, NULL, NULL },
	{ "bare code", "250\r\n", 0, SMTP_REPLY_OK, ALL, 250, 1,
	  F_CRLF | F_BARE, "", "" },
	{ "bare code ends multi-line", "250-mx\r\n250-STARTTLS\r\n250\r\n", 0,
	  SMTP_REPLY_OK, ALL, 250, 3, F_CRLF | F_BARE | F_STARTTLS, "mx",
	  "MX STARTTLS" },
	{ "bare code LF", "221\n", 0, SMTP_REPLY_OK, ALL, 221, 1, F_LF | F_BARE,
	  "", NULL },
	{ "empty continuation text", "250-\r\n250 ok\r\n", 0, SMTP_REPLY_OK,
	  ALL, 250, 2, F_CRLF, "", "OK" },
	{ "empty last text", "220 \r\n", 0, SMTP_REPLY_OK, ALL, 220, 1, F_CRLF,
	  "", "" },
	{ "CR inside text", "250 a\rb\r\n", 0, SMTP_REPLY_OK, ALL, 250, 1,
	  F_CRLF, "a\rb", NULL },
	{ "NUL inside text", "250 a\0b\r\n", 9, SMTP_REPLY_OK, ALL, 250, 1,
	  F_CRLF, NULL, NULL },
	{ "masked banner", "220 ******************************\r\n", 0,
	  SMTP_REPLY_OK, ALL, 220, 1, F_CRLF | F_MASKED, NULL, "" },
	{ "masked second line", "220-mx\r\n220 ** **** *\r\n", 0, SMTP_REPLY_OK,
	  ALL, 220, 2, F_CRLF | F_MASKED, "mx", NULL },
	{ "three stars are not a mask", "220 mx *** ready\r\n", 0,
	  SMTP_REPLY_OK, ALL, 220, 1, F_CRLF, NULL, NULL },
	{ "stars across lines are not a mask", "220-mx **\r\n220 ** ok\r\n", 0,
	  SMTP_REPLY_OK, ALL, 220, 2, F_CRLF, NULL, NULL },
	{ "bytes after the reply", "220 mx\r\n250-INJECTED\r\n", 0,
	  SMTP_REPLY_OK, 8, 220, 1, F_CRLF, "mx", NULL },
	{ "two replies", "220 2.0.0 Ready\r\n250 x\r\n", 0, SMTP_REPLY_OK, 17,
	  220, 1, F_CRLF, "2.0.0 Ready", NULL },
	{ "incomplete line", "250-mx\r\n250 STARTTLS", 0,
	  SMTP_REPLY_RC_INCOMPLETE, ALL, 250, 1, F_CRLF, "mx", NULL },
	{ "incomplete after CR", "250 ok\r", 0, SMTP_REPLY_RC_INCOMPLETE, ALL,
	  250, 0, 0, "ok", NULL },
	{ "incomplete continuation", "250-mx\r\n", 0, SMTP_REPLY_RC_INCOMPLETE,
	  ALL, 250, 1, F_CRLF, NULL, NULL },
	{ "nothing", "", 0, SMTP_REPLY_RC_INCOMPLETE, ALL, 0, 0, 0, "", "" },
	{ "code mismatch", "250-mx\r\n251 ok\r\n", 0,
	  SMTP_REPLY_RC_CODE_MISMATCH, 11, 250, 1, 0, NULL, NULL },
	{ "code mismatch in the first digit", "250-mx\r\n550 no\r\n", 0,
	  SMTP_REPLY_RC_CODE_MISMATCH, 11, 250, 1, 0, NULL, NULL },
	{ "letters", "hello\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 1, 0, 0, 0, NULL,
	  NULL },
	{ "digit then letter", "2x0 hi\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 2, 0, 0,
	  0, NULL, NULL },
	{ "first digit 6", "650 x\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 1, 0, 0, 0,
	  NULL, NULL },
	{ "first digit 1", "150 x\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 1, 0, 0, 0,
	  NULL, NULL },
	{ "first digit 0", "020 x\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 1, 0, 0, 0,
	  NULL, NULL },
	{ "empty line", "\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 2, 0, 0, 0, NULL,
	  NULL },
	{ "bare LF line", "\n", 0, SMTP_REPLY_RC_BAD_CODE, 1, 0, 0, 0, NULL,
	  NULL },
	{ "short code", "25\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 4, 0, 0, 0, NULL,
	  NULL },
	{ "CR in the code", "25\rx", 0, SMTP_REPLY_RC_BAD_CODE, 4, 0, 0, 0,
	  NULL, NULL },
	{ "leading space", " 250 ok\r\n", 0, SMTP_REPLY_RC_BAD_CODE, 1, 0, 0, 0,
	  NULL, NULL },
	{ "bad second line", "250-mx\r\nPIPELINING\r\n", 0,
	  SMTP_REPLY_RC_BAD_CODE, 9, 250, 1, 0, NULL, NULL },
	{ "bad separator", "250x\r\n", 0, SMTP_REPLY_RC_BAD_SEPARATOR, 4, 250,
	  0, 0, NULL, NULL },
	{ "bad separator after CR", "250\rx\n", 0, SMTP_REPLY_RC_BAD_SEPARATOR,
	  5, 250, 0, 0, NULL, NULL },
	{ "four digits", "2500 ok\r\n", 0, SMTP_REPLY_RC_BAD_SEPARATOR, 4, 250,
	  0, 0, NULL, NULL },
	{ "TLS record instead of a reply", "\x16\x03\x01\x00\x05", 0,
	  SMTP_REPLY_RC_BAD_CODE, 1, 0, 0, 0, NULL, NULL },
};

/* Puts the keywords of r into buf, space-separated. */
static void join_keywords(const struct smtp_reply *r, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->nkeywords; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? " " : "",
				      r->keywords[i]);
}

/* Everything a reply says, so two parses can be compared. */
static bool same_reply(const struct smtp_reply *a, const struct smtp_reply *b)
{
	if (a->code != b->code || a->nlines != b->nlines ||
	    a->nbytes != b->nbytes || a->overlong != b->overlong ||
	    a->crlf != b->crlf || a->bare_lf != b->bare_lf ||
	    a->bare_code != b->bare_code || a->masked != b->masked ||
	    a->starttls != b->starttls || a->xxxxxxxa != b->xxxxxxxa ||
	    a->text_len != b->text_len || a->nkeywords != b->nkeywords ||
	    a->keywords_dropped != b->keywords_dropped)
		return false;
	if (memcmp(a->text, b->text, a->text_len) != 0)
		return false;
	for (size_t i = 0; i < a->nkeywords; i++)
		if (strcmp(a->keywords[i], b->keywords[i]) != 0)
			return false;
	return true;
}

/*
 * Feeds in[0..len) in pieces: first `split` bytes, then the rest in
 * pieces of `step` bytes (0: all at once), until a result other than
 * incomplete. Returns the result and the total used.
 */
static enum smtp_reply_rc feed_split(struct smtp_reply_parser *p,
				     const uint8_t *in, size_t len,
				     size_t split, size_t step, size_t *used)
{
	enum smtp_reply_rc rc = SMTP_REPLY_RC_INCOMPLETE;
	size_t off = 0;
	bool first = true;

	*used = 0;
	smtp_reply_init(p);
	for (;;) {
		size_t n = len - off, u;
		if (first && split < len)
			n = split;
		else if (step && n > step)
			n = step;
		first = false;
		rc = smtp_reply_feed(p, in + off, n, &u);
		if (u > n)
			unit_fail(__FILE__, __LINE__, "used %zu of %zu", u, n);
		*used += u;
		off += n;
		if (rc != SMTP_REPLY_RC_INCOMPLETE || off >= len)
			break;
		if (u != n)
			unit_fail(__FILE__, __LINE__, "incomplete used %zu/%zu",
				  u, n);
	}
	return rc;
}

/* Checks one input against its row, and the chunked parses against the
 * one-shot parse. */
static void check_case(const struct reply_case *c, const uint8_t *in,
		       size_t len)
{
	static struct smtp_reply_parser whole, piece;
	size_t used, want_used = c->used == ALL ? len : c->used;
	char kw[SMTP_REPLY_KEYWORDS_MAX * (SMTP_REPLY_KEYWORD_MAX + 1) + 1];
	const struct smtp_reply *r = &whole.reply;
	enum smtp_reply_rc rc;

	rc = feed_split(&whole, in, len, len, 0, &used);
	CHECK_STR(smtp_reply_rc_str(rc), smtp_reply_rc_str(c->rc), c->name);
	CHECK_INT(used, want_used, c->name);
	CHECK_INT(r->code, c->code, c->name);
	CHECK_INT(r->nlines, c->nlines, c->name);
	if (rc == SMTP_REPLY_OK || rc == SMTP_REPLY_RC_INCOMPLETE) {
		CHECK_INT(r->crlf, !!(c->flags & F_CRLF), c->name);
		CHECK_INT(r->bare_lf, !!(c->flags & F_LF), c->name);
		CHECK_INT(r->bare_code, !!(c->flags & F_BARE), c->name);
		CHECK_INT(r->overlong, !!(c->flags & F_OVERLONG), c->name);
		CHECK_INT(r->masked, !!(c->flags & F_MASKED), c->name);
		CHECK_INT(r->starttls, !!(c->flags & F_STARTTLS), c->name);
		CHECK_INT(r->xxxxxxxa, !!(c->flags & F_XXX), c->name);
	}
	if (rc == SMTP_REPLY_OK)
		CHECK_INT(r->nbytes, want_used, c->name);
	if (c->text) {
		CHECK_INT(r->text_len, strlen(c->text), c->name);
		CHECK(memcmp(r->text, c->text, r->text_len) == 0);
	}
	if (c->keywords) {
		join_keywords(r, kw, sizeof kw);
		CHECK_STR(kw, c->keywords, c->name);
	}

	/* Errors stick and use nothing more. */
	if (rc != SMTP_REPLY_OK && rc != SMTP_REPLY_RC_INCOMPLETE) {
		size_t u = 99;
		CHECK_INT(smtp_reply_feed(&whole, (const uint8_t *)"250 ok\r\n",
					  8, &u),
			  rc, c->name);
		CHECK_INT(u, 0, c->name);
	}

	for (size_t split = 0; split <= len; split++) {
		size_t u;
		enum smtp_reply_rc prc =
		    feed_split(&piece, in, len, split, 0, &u);
		if (prc != rc || u != used ||
		    !same_reply(&piece.reply, &whole.reply)) {
			unit_fail(__FILE__, __LINE__,
				  "%s: split at %zu differs", c->name, split);
			break;
		}
	}
	for (size_t step = 1; step <= 3; step++) {
		size_t u;
		enum smtp_reply_rc prc =
		    feed_split(&piece, in, len, 0, step, &u);
		if (prc != rc || u != used ||
		    !same_reply(&piece.reply, &whole.reply))
			unit_fail(__FILE__, __LINE__,
				  "%s: %zu-byte pieces "
				  "differ",
				  c->name, step);
	}
}

UNIT_TEST(smtp_reply_table)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct reply_case *c = &cases[i];
		check_case(c, (const uint8_t *)c->in,
			   c->len ? c->len : strlen(c->in));
	}
}

/* A buffer of generated lines, for the cases too long for the table. */
struct gen {
	uint8_t *buf;
	size_t len, cap;
};

static void gen_add(struct gen *g, const char *s, size_t n)
{
	if (g->len + n > g->cap) {
		g->cap = (g->len + n) * 2;
		g->buf = realloc(g->buf, g->cap);
		if (!g->buf)
			abort();
	}
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}

static void gen_fill(struct gen *g, char ch, size_t n)
{
	for (size_t i = 0; i < n; i++)
		gen_add(g, &ch, 1);
}

static void gen_str(struct gen *g, const char *s)
{
	gen_add(g, s, strlen(s));
}

/* Parses g in one piece and at a few split points, which must agree. */
static enum smtp_reply_rc gen_parse(struct gen *g, const char *name,
				    struct smtp_reply *out, size_t *used)
{
	static struct smtp_reply_parser p, q;
	enum smtp_reply_rc rc = feed_split(&p, g->buf, g->len, g->len, 0, used);
	size_t splits[] = { 1, 3, 4, 4093, 4094, 4095, 4096, 65535, 65536 };

	for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
		size_t u;
		if (splits[i] >= g->len)
			continue;
		enum smtp_reply_rc prc =
		    feed_split(&q, g->buf, g->len, splits[i], 1000, &u);
		if (prc != rc || u != *used || !same_reply(&p.reply, &q.reply))
			unit_fail(__FILE__, __LINE__,
				  "%s: split at %zu differs", name, splits[i]);
	}
	*out = p.reply;
	return rc;
}

UNIT_TEST(smtp_reply_line_lengths)
{
	static struct smtp_reply r;
	struct gen g = { 0 };
	size_t used;

	/* RFC 5321 counts code and CRLF: 4096 bytes in all is still fine. */
	gen_str(&g, "250 ");
	gen_fill(&g, 'a', SMTP_REPLY_LINE_MAX - 6);
	gen_str(&g, "\r\n");
	CHECK_INT(gen_parse(&g, "4096", &r, &used), SMTP_REPLY_OK, "4096");
	CHECK_INT(r.overlong, 0, "4096");
	CHECK_INT(r.text_len, SMTP_REPLY_TEXT_MAX, "4096");

	g.len = 0;
	gen_str(&g, "250 ");
	gen_fill(&g, 'a', SMTP_REPLY_LINE_MAX - 5);
	gen_str(&g, "\r\n");
	CHECK_INT(gen_parse(&g, "4097", &r, &used), SMTP_REPLY_OK, "4097");
	CHECK_INT(r.overlong, 1, "4097");
	CHECK_INT(r.text_len, SMTP_REPLY_TEXT_MAX, "4097 stored");

	/* The testbed's smtp-ehlo-5k-line: flagged, STARTTLS still seen. */
	g.len = 0;
	gen_str(&g, "250-mx.smtp-ehlo-5k-line.test\r\n250-X-");
	gen_fill(&g, 'A', 5000);
	gen_str(&g, "\r\n250 STARTTLS\r\n");
	CHECK_INT(gen_parse(&g, "5k", &r, &used), SMTP_REPLY_OK, "5k");
	CHECK_INT(used, g.len, "5k");
	CHECK_INT(r.overlong, 1, "5k");
	CHECK_INT(r.starttls, 1, "5k");
	CHECK_INT(r.nlines, 3, "5k");
	CHECK_INT(r.nkeywords, 1, "5k: the long token is not a keyword");

	/* Up to the hard cap a line is only over-long ... */
	g.len = 0;
	gen_str(&g, "250 ");
	gen_fill(&g, 'a', SMTP_REPLY_LINE_HARD_MAX - 4);
	gen_str(&g, "\r\n");
	CHECK_INT(gen_parse(&g, "64k", &r, &used), SMTP_REPLY_OK, "64k");
	CHECK_INT(r.overlong, 1, "64k");

	/* ... one byte more and it is cut off. */
	g.len = 0;
	gen_str(&g, "250 ");
	gen_fill(&g, 'a', SMTP_REPLY_LINE_HARD_MAX - 3);
	gen_str(&g, "\r\n");
	CHECK_INT(gen_parse(&g, "64k+1", &r, &used),
		  SMTP_REPLY_RC_LINE_TOO_LONG, "64k+1");
	CHECK_INT(used, SMTP_REPLY_LINE_HARD_MAX + 1, "64k+1");

	/* The testbed's smtp-long-line: 1 MB without CRLF. */
	g.len = 0;
	gen_str(&g, "250-");
	gen_fill(&g, 'A', 1 << 20);
	CHECK_INT(gen_parse(&g, "1M", &r, &used), SMTP_REPLY_RC_LINE_TOO_LONG,
		  "1M");
	CHECK_INT(used, SMTP_REPLY_LINE_HARD_MAX + 1, "1M");
	free(g.buf);
}

UNIT_TEST(smtp_reply_caps)
{
	static struct smtp_reply r;
	struct gen g = { 0 };
	size_t used;

	/* SMTP_REPLY_LINES_MAX lines, the last final: accepted. */
	for (int i = 0; i < SMTP_REPLY_LINES_MAX - 1; i++)
		gen_str(&g, "250-x\r\n");
	gen_str(&g, "250 x\r\n");
	CHECK_INT(gen_parse(&g, "512 lines", &r, &used), SMTP_REPLY_OK,
		  "512 lines");
	CHECK_INT(r.nlines, SMTP_REPLY_LINES_MAX, "512 lines");
	CHECK_INT(r.nkeywords, SMTP_REPLY_KEYWORDS_MAX, "512 lines");
	CHECK_INT(r.keywords_dropped,
		  SMTP_REPLY_LINES_MAX - SMTP_REPLY_KEYWORDS_MAX, "512 lines");

	/* The testbed's smtp-endless-ehlo: "250-" forever. */
	const char *endless = "250-mx.smtp-endless-ehlo.test endless reply "
			      "line padding padding\r\n";
	g.len = 0;
	for (int i = 0; i < 2000; i++)
		gen_str(&g, endless);
	CHECK_INT(gen_parse(&g, "endless", &r, &used),
		  SMTP_REPLY_RC_TOO_MANY_LINES, "endless");
	CHECK_INT(used, SMTP_REPLY_LINES_MAX * strlen(endless), "endless");

	/* Long lines under the line cap, over the reply's byte cap. */
	g.len = 0;
	for (int i = 0; i < 5; i++) {
		gen_str(&g, "250-");
		gen_fill(&g, 'b', 60000);
		gen_str(&g, "\r\n");
	}
	gen_str(&g, "250 end\r\n");
	CHECK_INT(gen_parse(&g, "bytes", &r, &used),
		  SMTP_REPLY_RC_REPLY_TOO_LARGE, "bytes");
	CHECK_INT(used, SMTP_REPLY_BYTES_MAX + 1, "bytes");
	free(g.buf);
}

UNIT_TEST(smtp_reply_stream)
{
	static struct smtp_reply_parser p;
	const uint8_t *in = (const uint8_t *)"220-mx\r\n220 ok\r\n"
					     "250-mx\n250 STARTTLS\n"
					     "2";
	size_t len = strlen((const char *)in), used;

	smtp_reply_init(&p);
	CHECK_INT(smtp_reply_feed(&p, in, len, &used), SMTP_REPLY_OK, "1st");
	CHECK_INT(used, 16, "1st");
	CHECK_INT(p.reply.code, 220, "1st");
	in += used;
	len -= used;
	CHECK_INT(smtp_reply_feed(&p, in, len, &used), SMTP_REPLY_OK, "2nd");
	CHECK_INT(used, 20, "2nd");
	CHECK_INT(p.reply.code, 250, "2nd");
	CHECK(p.reply.starttls);
	CHECK(p.reply.bare_lf && !p.reply.crlf);
	CHECK_INT(p.reply.nbytes, 20, "2nd");
	in += used;
	len -= used;
	CHECK_INT(smtp_reply_feed(&p, in, len, &used), SMTP_REPLY_RC_INCOMPLETE,
		  "3rd");
	CHECK_INT(used, 1, "3rd");
	CHECK_INT(smtp_reply_feed(&p, (const uint8_t *)"21 bye\r\n", 8, &used),
		  SMTP_REPLY_OK, "3rd");
	CHECK_INT(p.reply.code, 221, "3rd");
	CHECK(!p.reply.starttls);
	CHECK_INT(p.reply.nbytes, 9, "3rd");

	/* The one-shot form. */
	struct smtp_reply r;
	CHECK_INT(smtp_reply_parse((const uint8_t *)"250-a\r\n250 SIZE 1\r\nX",
				   21, &r, &used),
		  SMTP_REPLY_OK, "parse");
	CHECK_INT(used, 19, "parse");
	CHECK(smtp_reply_has_keyword(&r, "SIZE"));
	CHECK(smtp_reply_has_keyword(&r, "A"));
	CHECK(!smtp_reply_has_keyword(&r, "STARTTLS"));
}

UNIT_TEST(smtp_reply_rc_names)
{
	for (int rc = 0; rc < SMTP_REPLY_RC_LAST; rc++)
		CHECK(strcmp(smtp_reply_rc_str(rc), "unknown") != 0);
	CHECK_STR(smtp_reply_rc_str(SMTP_REPLY_RC_LAST), "unknown", "last");
	CHECK_STR(smtp_reply_rc_str(SMTP_REPLY_RC_LINE_TOO_LONG),
		  "line_too_long", "name");
	CHECK_STR(smtp_reply_rc_str(SMTP_REPLY_RC_REPLY_TOO_LARGE),
		  "reply_too_large", "name");
}
