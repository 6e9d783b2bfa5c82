/*
 * Target list readers: tables of input files and what must come out of
 * them, names with their line numbers and every rejected line with its
 * number and reason. Most rows put valid names before and after a bad
 * line, so that a reader that loses good names around a bad one fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "targets/targets.h"
#include "unit.h"

/* Room for what a table row collects. */
#define COLLECT_MAX 4096

struct collect {
	char names[COLLECT_MAX];   /* "line:name" or "line:name@rank", ", " */
	char rejects[COLLECT_MAX]; /* "line:rc" or "line:bad_name/name_rc" */
	char details[COLLECT_MAX]; /* the detail sentences, " | " between */
	int stop_after;		   /* on_name returns 7 after this many */
	int seen;
	struct targets_reject last; /* the last rejection, text not kept */
};

static void append(char *buf, const char *sep, const char *s)
{
	size_t n = strlen(buf);

	snprintf(buf + n, COLLECT_MAX - n, "%s%s", n ? sep : "", s);
}

static int on_name(void *arg, const struct targets_item *it)
{
	struct collect *c = arg;
	char one[300];

	if (it->rank)
		snprintf(one, sizeof one, "%llu:%s@%lld",
			 (unsigned long long)it->line, it->name,
			 (long long)it->rank);
	else
		snprintf(one, sizeof one, "%llu:%s",
			 (unsigned long long)it->line, it->name);
	append(c->names, ", ", one);
	CHECK_INT(strlen(it->name), it->len, it->name);
	c->seen++;
	return c->stop_after && c->seen >= c->stop_after ? 7 : 0;
}

static void on_reject(void *arg, const struct targets_reject *rj)
{
	struct collect *c = arg;
	char one[100];

	if (rj->rc == TARGETS_BAD_NAME)
		snprintf(one, sizeof one, "%llu:bad_name/%s",
			 (unsigned long long)rj->line,
			 name_rc_str(rj->name_rc));
	else
		snprintf(one, sizeof one, "%llu:%s",
			 (unsigned long long)rj->line, targets_rc_str(rj->rc));
	append(c->rejects, ", ", one);
	append(c->details, " | ", rj->detail);
	CHECK(rj->detail && rj->detail[0]);
	CHECK(rj->text_len <= rj->len);
	CHECK(rj->text_len <= TARGETS_REJECT_TEXT_MAX);
	c->last = *rj;
	c->last.text = NULL;
	c->last.detail = NULL;
}

struct reader_case {
	const char *fmt; /* "plain", "tranco", "zone" */
	const char *origin;
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *names;
	const char *rejects;
	/* lines, names, duplicates, rejected, skipped */
	uint64_t stats[5];
	const char *detail; /* a part some detail must contain, or NULL */
};

static void run_buffer(const char *fmt, const char *origin, const void *in,
		       size_t len, struct collect *c,
		       struct targets_stats *stats)
{
	struct targets_reader *r;

	r = targets_reader_new(targets_format_find(fmt), origin, on_name,
			       on_reject, c);
	CHECK(r != NULL);
	if (!r)
		return;
	targets_feed_buffer(r, in, len);
	targets_finish(r);
	*stats = *targets_stats(r);
	targets_reader_free(r);
}

/* Reads the same bytes through a FILE, as the command line does. */
static int run_file(const char *fmt, const char *origin, const void *in,
		    size_t len, struct collect *c, struct targets_stats *stats)
{
	struct targets_reader *r;
	FILE *f = tmpfile();
	int rc;

	CHECK(f != NULL);
	if (!f)
		return -1;
	CHECK_INT(fwrite(in, 1, len, f), len, "tmpfile");
	rewind(f);
	r = targets_reader_new(targets_format_find(fmt), origin, on_name,
			       on_reject, c);
	rc = targets_read_file(r, f);
	*stats = *targets_stats(r);
	targets_reader_free(r);
	fclose(f);
	return rc;
}

static void check_case(const struct reader_case *t, size_t row)
{
	struct collect *c = calloc(1, sizeof *c);
	struct targets_stats st;
	char ctx[160];
	size_t len = t->len ? t->len : strlen(t->in);

	for (int how = 0; how < 2; how++) {
		memset(c, 0, sizeof *c);
		snprintf(ctx, sizeof ctx, "%s row %zu (%s)", t->fmt, row,
			 how ? "file" : "buffer");
		if (how == 0)
			run_buffer(t->fmt, t->origin, t->in, len, c, &st);
		else
			CHECK_INT(
			    run_file(t->fmt, t->origin, t->in, len, c, &st), 0,
			    ctx);
		CHECK_STR(c->names, t->names, ctx);
		CHECK_STR(c->rejects, t->rejects, ctx);
		CHECK_INT(st.lines, t->stats[0], ctx);
		CHECK_INT(st.names, t->stats[1], ctx);
		CHECK_INT(st.duplicates, t->stats[2], ctx);
		CHECK_INT(st.rejected, t->stats[3], ctx);
		CHECK_INT(st.skipped, t->stats[4], ctx);
		if (t->detail && !strstr(c->details, t->detail))
			unit_fail(__FILE__, __LINE__,
				  "%s: details \"%s\" lack \"%s\"", ctx,
				  c->details, t->detail);
	}
	free(c);
}

/* Binary garbage between good lines; sizes by sizeof, for the NULs. */
static const char garbage_plain[] =
    "a.example\n\x00\x01\x02\nb.example\n\xff\xfe\xfd\n\x89PNG\r\n\x1a\n"
    "exa\x00mple.com\nc.example\n";
static const char garbage_tranco[] =
    "1,a.example\r\n\x00\x01,\xff\r\n2,b.example\r\n";
static const char garbage_zone[] =
    "a NS ns\r\n\x00\x01 NS ns\r\n\x89PNG\x1a\x00\r\nb NS ns\r\n";

static const struct reader_case plain_cases[] = {
	{ "plain", NULL, "", 0, "", "", { 0, 0, 0, 0, 0 }, NULL },
	{ "plain", NULL, "\n", 0, "", "", { 1, 0, 0, 0, 1 }, NULL },
	{ "plain",
	  NULL,
	  "example.com",
	  0,
	  "1:example.com",
	  "",
	  { 1, 1, 0, 0, 0 },
	  NULL },
	{ "plain",
	  NULL,
	  "a.example\nb.example\n",
	  0,
	  "1:a.example, 2:b.example",
	  "",
	  { 2, 2, 0, 0, 0 },
	  NULL },
	/* Comments, blank lines, case and the trailing dot. */
	{ "plain",
	  NULL,
	  "# list\n\nExample.COM.\n  \t\nfoo.org # note\nbar.org\t#x\n"
	  "#last\n",
	  0,
	  "3:example.com, 5:foo.org, 6:bar.org",
	  "",
	  { 7, 3, 0, 0, 4 },
	  NULL },
	/* A full stop mapped by IDNA at the end is the root dot, not a
	 * second target "x."; two of them are an empty last label. */
	{ "plain",
	  NULL,
	  "x.example\nx.example\xe3\x80\x82\nx.example.\xe3\x80\x82\n"
	  "x.example\xef\xbc\x8e\xe3\x80\x82\ny.example\n",
	  0,
	  "1:x.example, 5:y.example",
	  "3:bad_name/label_empty, 4:bad_name/label_empty",
	  { 5, 2, 1, 2, 0 },
	  "last label" },
	/* '#' inside a name is not a comment. */
	{ "plain",
	  NULL,
	  "a.example\nexa#mple.com\nb.example\n",
	  0,
	  "1:a.example, 3:b.example",
	  "2:bad_name/bad_char",
	  { 3, 2, 0, 1, 0 },
	  "'#'" },
	/* Duplicates, in every spelling. */
	{ "plain",
	  NULL,
	  "example.com\nEXAMPLE.COM\nexample.com.\n example.com \nother.com\n"
	  "example.com\n",
	  0,
	  "1:example.com, 5:other.com",
	  "",
	  { 6, 2, 4, 0, 0 },
	  NULL },
	{ "plain",
	  NULL,
	  "bücher.example\nxn--bcher-kva.example\n",
	  0,
	  "1:xn--bcher-kva.example",
	  "",
	  { 2, 1, 1, 0, 0 },
	  NULL },
	/* CRLF files, and a last line without a newline. */
	{ "plain",
	  NULL,
	  "a.example\r\nb.example\r\n\r\nc.example",
	  0,
	  "1:a.example, 2:b.example, 4:c.example",
	  "",
	  { 4, 3, 0, 0, 1 },
	  NULL },
	/* Line ends converted twice. */
	{ "plain",
	  NULL,
	  "a.example\r\r\n\r\r\nb.example\r",
	  0,
	  "1:a.example, 3:b.example",
	  "",
	  { 3, 2, 0, 0, 1 },
	  NULL },
	/* A UTF-8 byte order mark in front of the first line. */
	{ "plain",
	  NULL,
	  "\xef\xbb\xbf"
	  "a.example\nb.example\n",
	  0,
	  "1:a.example, 2:b.example",
	  "",
	  { 2, 2, 0, 0, 0 },
	  NULL },
	/* Names with spaces. */
	{ "plain",
	  NULL,
	  "a.example\nexa mple.com\nb.example c.example\n",
	  0,
	  "1:a.example",
	  "2:bad_name/space, 3:bad_name/space",
	  { 3, 1, 0, 2, 0 },
	  "offset 3" },
	/* Binary garbage: NULs, control bytes, random high bytes. */
	{ "plain",
	  NULL,
	  garbage_plain,
	  sizeof garbage_plain - 1,
	  "1:a.example, 3:b.example, 8:c.example",
	  "2:bad_name/nul, 4:bad_name/bad_utf8, 5:bad_name/bad_utf8, "
	  "6:bad_name/control, 7:bad_name/nul",
	  { 8, 3, 0, 5, 0 },
	  "byte 0x00 at offset 3" },
	/* Every rule of name.h, between good names. */
	{ "plain",
	  NULL,
	  "a.example\n*.example.com\n192.0.2.1\n2001:db8::1\n"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	  "com\n_dmarc.example\n-x.example\nx.123\nx..example\nxn--zz.example\n"
	  "☃.example\nb.example\n",
	  0,
	  "1:a.example, 12:b.example",
	  "2:bad_name/wildcard, 3:bad_name/ip_address, 4:bad_name/ip_address, "
	  "5:bad_name/label_too_long, 6:bad_name/bad_char, "
	  "7:bad_name/hyphen_edge, 8:bad_name/numeric_tld, "
	  "9:bad_name/label_empty, 10:bad_name/idn_invalid, "
	  "11:bad_name/idn_invalid",
	  { 12, 2, 0, 10, 0 },
	  "is 64 bytes (max 63)" },
	/* Valid IDNs. */
	{ "plain",
	  NULL,
	  "bücher.example\nÉCOLE.fr\n",
	  0,
	  "1:xn--bcher-kva.example, 2:xn--cole-9oa.fr",
	  "",
	  { 2, 2, 0, 0, 0 },
	  NULL },
};

static const struct reader_case tranco_cases[] = {
	{ "tranco", NULL, "", 0, "", "", { 0, 0, 0, 0, 0 }, NULL },
	{ "tranco",
	  NULL,
	  "1,google.com\n2,facebook.com\n",
	  0,
	  "1:google.com@1, 2:facebook.com@2",
	  "",
	  { 2, 2, 0, 0, 0 },
	  NULL },
	/* The header is skipped once, in any case, at the top only. */
	{ "tranco",
	  NULL,
	  "rank,domain\n1,a.example\n",
	  0,
	  "2:a.example@1",
	  "",
	  { 2, 1, 0, 0, 1 },
	  NULL },
	{ "tranco",
	  NULL,
	  "# c\n\n Rank , DOMAIN \r\n1,a.example\r\n",
	  0,
	  "4:a.example@1",
	  "",
	  { 4, 1, 0, 0, 3 },
	  NULL },
	{ "tranco",
	  NULL,
	  "1,a.example\nrank,domain\n2,b.example\n",
	  0,
	  "1:a.example@1, 3:b.example@2",
	  "2:bad_rank",
	  { 3, 2, 0, 1, 0 },
	  "'rank'" },
	/* Whitespace around fields; the largest rank. */
	{ "tranco",
	  NULL,
	  " 3 ,\tb.example \n2147483647,c.example\n",
	  0,
	  "1:b.example@3, 2:c.example@2147483647",
	  "",
	  { 2, 2, 0, 0, 0 },
	  NULL },
	/* Bad ranks, each between good lines. */
	{ "tranco",
	  NULL,
	  "1,a.example\n0,x.example\n-1,x.example\nabc,x.example\n"
	  "2147483648,x.example\n99999999999999999999999,x.example\n"
	  ",x.example\n1.5,x.example\n+1,x.example\n1 2,x.example\n"
	  "2,b.example\n",
	  0,
	  "1:a.example@1, 11:b.example@2",
	  "2:bad_rank, 3:bad_rank, 4:bad_rank, 5:bad_rank, 6:bad_rank, "
	  "7:bad_rank, 8:bad_rank, 9:bad_rank, 10:bad_rank",
	  { 11, 2, 0, 9, 0 },
	  "is over 2147483647" },
	/* Wrong field counts. */
	{ "tranco",
	  NULL,
	  "1,a.example\na.example\n1,b.example,extra\n1;c.example\n,\n"
	  "3,d.example\n",
	  0,
	  "1:a.example@1, 6:d.example@3",
	  "2:bad_fields, 3:bad_fields, 4:bad_fields, 5:bad_rank",
	  { 6, 2, 0, 4, 0 },
	  "3 fields, want 2" },
	/* Bad names and duplicates keep the first rank. */
	{ "tranco",
	  NULL,
	  "1,a.example\n2,\n3,exa mple.com\n4,A.EXAMPLE.\n5,b.example\n",
	  0,
	  "1:a.example@1, 5:b.example@5",
	  "2:bad_name/empty, 3:bad_name/space",
	  { 5, 2, 1, 2, 0 },
	  NULL },
	/* CRLF and binary garbage. */
	{ "tranco",
	  NULL,
	  garbage_tranco,
	  sizeof garbage_tranco - 1,
	  "1:a.example@1, 3:b.example@2",
	  "2:bad_rank",
	  { 3, 2, 0, 1, 0 },
	  NULL },
};

/* A zone with most of RFC 1035 §5.1 in it. */
static const char zone_full[] =
    "; example zone\n"				   /* 1 */
    "$ORIGIN example.\n"			   /* 2 */
    "$TTL 1h\n"					   /* 3 */
    "@\tIN\tSOA\tns1 hostmaster (\n"		   /* 4 */
    "\t\t2024010101 ; serial\n"			   /* 5 */
    "\t\t7200 3600 1209600 3600 )\n"		   /* 6 */
    "@ NS ns1\n"				   /* 7 */
    "  NS ns2.example.\n"			   /* 8 */
    "ns1 A 192.0.2.1\n"				   /* 9 */
    "sub 3600 IN NS ns1.sub\n"			   /* 10 */
    "sub IN 1h30m NS ns2.sub ; second\n"	   /* 11 */
    "    NS ns3.sub\n"				   /* 12 */
    "ns1.sub A 192.0.2.2\n"			   /* 13 */
    "txt TXT \"a;b ( c\" \"d\\\"e\" ; comment (\n" /* 14 */
    "Deleg.EXAMPLE. NS ns.other.\n"		   /* 15 */
    "multi (\n"					   /* 16 */
    "   NS\n"					   /* 17 */
    "   ns.other. )\n"				   /* 18 */
    "\n"					   /* 19 */
    "bücher NS ns.other.\n"			   /* 20 */
    "deep.er CLASS1 TYPE2 ns.other.\n"		   /* 21 */
    "\\065bc NS ns.other.\n"			   /* 22 */
    "$ORIGIN sub2.example.\n"			   /* 23 */
    "@ NS ns.other.\n"				   /* 24 */
    "x MX 10 mail\n";				   /* 25 */

static const struct reader_case zone_cases[] = {
	{ "zone", NULL, "", 0, "", "", { 0, 0, 0, 0, 0 }, NULL },
	{ "zone",
	  NULL,
	  zone_full,
	  0,
	  "10:sub.example, 15:deleg.example, 16:multi.example, "
	  "20:xn--bcher-kva.example, 21:deep.er.example, 22:abc.example, "
	  "24:sub2.example",
	  "",
	  { 25, 7, 2, 0, 12 },
	  NULL },
	/* The origin given by the user; no SOA: the origin is the apex. */
	{ "zone",
	  "example.",
	  "@ NS ns1\na NS ns\nb.example. NS ns\n",
	  0,
	  "2:a.example, 3:b.example",
	  "",
	  { 3, 2, 0, 0, 1 },
	  NULL },
	{ "zone",
	  "Example.COM",
	  "@ NS ns1\na NS ns\n",
	  0,
	  "2:a.example.com",
	  "",
	  { 2, 1, 0, 0, 1 },
	  NULL },
	/* A root zone: the delegations are the TLDs. */
	{ "zone",
	  NULL,
	  ". 86400 IN SOA a.root-servers.net. nstld. 1 2 3 4 5\n"
	  ". NS a.root-servers.net.\ncom. NS a.gtld-servers.net.\n"
	  "com. NS b.gtld-servers.net.\nORG. NS a0.org.afilias-nst.info.\n",
	  0,
	  "3:com, 5:org",
	  "",
	  { 5, 2, 1, 0, 2 },
	  NULL },
	/* No SOA, no origin: every absolute owner is a delegation. */
	{ "zone",
	  NULL,
	  "a.example. NS ns.\nb.example. NS ns.\n",
	  0,
	  "1:a.example, 2:b.example",
	  "",
	  { 2, 2, 0, 0, 0 },
	  NULL },
	/* Relative owners need an origin. */
	{ "zone",
	  NULL,
	  "a.example. NS ns.\nrel NS ns.\n  NS ns2.\n@ NS ns.\n",
	  0,
	  "1:a.example",
	  "2:zone_syntax, 3:zone_syntax, 4:zone_syntax",
	  { 4, 1, 0, 3, 0 },
	  "no origin is known" },
	/* Owners outside the apex. */
	{ "zone",
	  NULL,
	  "$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na NS ns\nother.org. NS ns\n"
	  "example. NS ns\nnotexample. NS ns\nb NS ns\n",
	  0,
	  "3:a.example, 7:b.example",
	  "4:zone_outside, 6:zone_outside",
	  { 7, 2, 0, 2, 3 },
	  "'other.org' is not below the zone 'example.'" },
	/* Directives the reader does not follow. */
	{ "zone",
	  "example.",
	  "a NS ns\n$INCLUDE other.zone\n$GENERATE 1-9 h$ A 192.0.2.$\n"
	  "$FOO bar\n$ttl 60\nb NS ns\n",
	  0,
	  "1:a.example, 6:b.example",
	  "2:zone_directive, 3:zone_directive, 4:zone_directive",
	  { 6, 2, 0, 3, 1 },
	  "unknown directive '$FOO'" },
	/* Bad delegated names are rejected with the record's first line. */
	{ "zone",
	  "example.",
	  "a NS ns\n_tcp NS ns\n*.w NS ns\nx\\.y NS ns\nbad_ml (\n NS\n ns )\n"
	  "b NS ns\n",
	  0,
	  "1:a.example, 8:b.example",
	  "2:bad_name/bad_char, 3:bad_name/wildcard, 4:bad_name/bad_char, "
	  "5:bad_name/bad_char",
	  { 8, 2, 0, 4, 0 },
	  "escaped '.'" },
	/* Records that are not delegations are only counted; a bad name
	 * there is no concern of ours. */
	{ "zone",
	  "example.",
	  "_dmarc TXT \"v=DMARC1\"\n* A 192.0.2.1\na NS ns\n",
	  0,
	  "3:a.example",
	  "",
	  { 3, 1, 0, 0, 2 },
	  NULL },
	/* Parenthesis never closed: reported on the line it began. */
	{ "zone",
	  "example.",
	  "a NS ns\nb SOA ns h (\n 1 2 3\n 4 5\n",
	  0,
	  "1:a.example",
	  "2:zone_syntax",
	  { 4, 1, 0, 1, 0 },
	  "never closed" },
	/* A stray ')' and a nested '('. */
	{ "zone",
	  "example.",
	  "a NS ns\nb NS ns )\nc ( NS ( ns ) )\nd NS ns\n",
	  0,
	  "1:a.example, 4:d.example",
	  "2:zone_syntax, 3:zone_syntax",
	  { 4, 2, 0, 2, 0 },
	  "without a matching '('" },
	/* Quotes: ';' and '(' inside do not count; unclosed ones are bad. */
	{ "zone",
	  "example.",
	  "t TXT \"x;y(\" ; (\na NS ns\nu TXT \"open\nb NS ns\n",
	  0,
	  "2:a.example, 4:b.example",
	  "3:zone_syntax",
	  { 4, 2, 0, 1, 1 },
	  "quoted string" },
	/* Records without a type or with the wrong number of fields. */
	{ "zone",
	  "example.",
	  "a NS ns\nlonely\nttl 3600\nnsless NS\ntwo NS ns1 ns2\n"
	  "bad 3600 IN 1x2 ns\nb NS ns\n",
	  0,
	  "1:a.example, 7:b.example",
	  "2:zone_syntax, 3:zone_syntax, 4:zone_syntax, 5:zone_syntax, "
	  "6:zone_syntax",
	  { 7, 2, 0, 5, 0 },
	  "has 2 data fields" },
	/* A blank owner on the first record. */
	{ "zone",
	  "example.",
	  "  NS ns\na NS ns\n",
	  0,
	  "2:a.example",
	  "1:zone_syntax",
	  { 2, 1, 0, 1, 0 },
	  "no previous owner" },
	/* $ORIGIN: relative to the current one, refused when bad. */
	{ "zone",
	  NULL,
	  "$ORIGIN example.\n$ORIGIN sub\nx NS ns\n$ORIGIN bad_o.\ny NS ns\n"
	  "$ORIGIN\n$ORIGIN .\nz.sub.example. NS ns\n",
	  0,
	  "3:x.sub.example, 8:z.sub.example",
	  "4:bad_name/bad_char, 5:zone_syntax, 6:zone_syntax",
	  { 8, 2, 0, 3, 3 },
	  "the $ORIGIN on line 4 was refused" },
	/* CRLF zone with binary garbage between good records. */
	{ "zone",
	  "example.",
	  garbage_zone,
	  sizeof garbage_zone - 1,
	  "1:a.example, 4:b.example",
	  "2:bad_name/nul, 3:zone_syntax",
	  { 4, 2, 0, 2, 0 },
	  NULL },
	/* An escape out of range; a lone backslash. */
	{ "zone",
	  "example.",
	  "\\999 NS ns\nx\\\na NS ns\n",
	  0,
	  "3:a.example",
	  "1:zone_syntax, 2:zone_syntax",
	  { 3, 1, 0, 2, 0 },
	  "is over 255" },
};

UNIT_TEST(test_targets_plain)
{
	for (size_t i = 0; i < sizeof plain_cases / sizeof plain_cases[0]; i++)
		check_case(&plain_cases[i], i);
}

UNIT_TEST(test_targets_tranco)
{
	for (size_t i = 0; i < sizeof tranco_cases / sizeof tranco_cases[0];
	     i++)
		check_case(&tranco_cases[i], i);
}

UNIT_TEST(test_targets_zone)
{
	for (size_t i = 0; i < sizeof zone_cases / sizeof zone_cases[0]; i++)
		check_case(&zone_cases[i], i);
}

/* Builds "a.example\n" + a line of `n` bytes of 'x' + "\nb.example\n". */
static char *long_line_file(size_t n, const char *end, size_t *len)
{
	char *buf = malloc(n + 64);

	memcpy(buf, "a.example\n", 10);
	memset(buf + 10, 'x', n);
	*len = 10 + n;
	*len += (size_t)sprintf(buf + *len, "%s", end);
	return buf;
}

UNIT_TEST(test_targets_long_lines)
{
	static const size_t ten_mb = 10 * 1024 * 1024;
	struct collect *c = calloc(1, sizeof *c);
	struct targets_stats st;
	size_t len;
	char *buf;

	/* A 10 MB line, through a file and through a buffer. */
	buf = long_line_file(ten_mb, "\nb.example\n", &len);
	for (int how = 0; how < 2; how++) {
		memset(c, 0, sizeof *c);
		if (how == 0)
			CHECK_INT(run_file("plain", NULL, buf, len, c, &st), 0,
				  "10 MB file");
		else
			run_buffer("plain", NULL, buf, len, c, &st);
		CHECK_STR(c->names, "1:a.example, 3:b.example", "10 MB");
		CHECK_STR(c->rejects, "2:line_too_long", "10 MB");
		CHECK_INT(c->last.len, ten_mb, "10 MB true length");
		CHECK_INT(c->last.text_len, TARGETS_REJECT_TEXT_MAX, "10 MB");
		CHECK(strstr(c->details, "10485760 bytes (max 65536)") != NULL);
		CHECK_INT(st.lines, 3, "10 MB");
	}
	free(buf);

	/* The same in a zone file, inside an open parenthesis. */
	buf = long_line_file(ten_mb, "\n)\nb.example. NS ns\n", &len);
	memcpy(buf, "a.x. NS (", 9);
	memset(c, 0, sizeof *c);
	CHECK_INT(run_file("zone", NULL, buf, len, c, &st), 0, "zone 10 MB");
	CHECK_STR(c->names, "4:b.example", "zone 10 MB");
	CHECK_STR(c->rejects, "2:line_too_long, 1:zone_syntax", "zone 10 MB");
	free(buf);

	/* The limits: TARGETS_LINE_MAX is read (and then is a bad name),
	 * one byte more is not; a CR before the newline does not count. */
	struct {
		size_t n;
		const char *end;
		const char *rejects;
	} edge[] = {
		{ TARGETS_LINE_MAX, "\nb.example\n", "2:bad_name/too_long" },
		{ TARGETS_LINE_MAX, "\r\nb.example\n", "2:bad_name/too_long" },
		{ TARGETS_LINE_MAX + 1, "\nb.example\n", "2:line_too_long" },
		{ TARGETS_LINE_MAX + 1, "\r\nb.example\n", "2:line_too_long" },
		{ TARGETS_LINE_MAX * 3 + 7, "", "2:line_too_long" },
	};
	for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
		char ctx[64];

		snprintf(ctx, sizeof ctx, "edge %zu", i);
		buf = long_line_file(edge[i].n, edge[i].end, &len);
		for (int how = 0; how < 2; how++) {
			memset(c, 0, sizeof *c);
			if (how == 0)
				run_file("plain", NULL, buf, len, c, &st);
			else
				run_buffer("plain", NULL, buf, len, c, &st);
			CHECK_STR(c->rejects, edge[i].rejects, ctx);
			CHECK_STR(c->names,
				  edge[i].end[0] ? "1:a.example, 3:b.example"
						 : "1:a.example",
				  ctx);
		}
		free(buf);
	}
	free(c);
}

/* A name callback that asks to stop ends the reading at once. */
UNIT_TEST(test_targets_stop)
{
	static const char in[] = "a.example\nb.example\nbad name\nc.example\n";
	struct collect c = { .stop_after = 2 };
	struct targets_stats st;

	CHECK_INT(run_file("plain", NULL, in, strlen(in), &c, &st), 7, "stop");
	CHECK_STR(c.names, "1:a.example, 2:b.example", "stop");
	CHECK_STR(c.rejects, "", "stop");

	/* Feeding after a stop does nothing. */
	struct targets_reader *r = targets_reader_new(
	    &targets_format_plain, NULL, on_name, on_reject, &c);
	memset(&c, 0, sizeof c);
	c.stop_after = 1;
	targets_feed_buffer(r, (const uint8_t *)in, strlen(in));
	CHECK(targets_stopped(r));
	targets_feed_line(r, (const uint8_t *)"d.example", 9);
	targets_finish(r);
	CHECK_STR(c.names, "1:a.example", "stopped");
	CHECK_INT(targets_stats(r)->lines, 1, "stopped");
	targets_reader_free(r);
}

UNIT_TEST(test_targets_read_error)
{
	struct targets_reader *r =
	    targets_reader_new(&targets_format_plain, NULL, NULL, NULL, NULL);
	FILE *f = fopen("/dev/null", "w"); /* not readable */

	CHECK(f != NULL);
	if (f) {
		CHECK_INT(targets_read_file(r, f), -EBADF, "write-only");
		fclose(f);
	}
	targets_reader_free(r);
}

/* Many names: the duplicate set must grow and stay fast. */
UNIT_TEST(test_targets_many_names)
{
	enum { N = 1100000, DUPS = 200000 };
	struct targets_reader *r =
	    targets_reader_new(&targets_format_plain, NULL, NULL, NULL, NULL);
	char line[64];
	clock_t t0 = clock();

	for (int i = 0; i < N + DUPS; i++) {
		int n = snprintf(line, sizeof line, "n%d.example",
				 i < N ? i : (int)(((long long)i * 7919) % N));
		targets_feed_line(r, (const uint8_t *)line, (size_t)n);
	}
	targets_finish(r);
	CHECK_INT(targets_stats(r)->names, N, "many");
	CHECK_INT(targets_stats(r)->duplicates, DUPS, "many");
	CHECK_INT(targets_stats(r)->unchecked, 0, "many");
	/* Generous: well under a second without sanitizers. */
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 30.0);
	targets_reader_free(r);
}

UNIT_TEST(test_targets_sniff)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "", "plain" },
		{ "example.com\nfoo.org\n", "plain" },
		{ "# list\nexample.com\n", "plain" },
		{ "1,google.com\n2,facebook.com\n", "tranco" },
		{ "rank,domain\n1,google.com\n", "tranco" },
		{ "\xef\xbb\xbf"
		  "1,google.com\r\n2,x.com\r\n",
		  "tranco" },
		{ "1,google.com\nexample.com\n", "plain" },
		{ "$ORIGIN example.\nwww A 192.0.2.1\n", "zone" },
		{ "$TTL 3600\n", "zone" },
		{ "; zone\nexample. 3600 IN SOA ns h 1 2 3 4 5\n", "zone" },
		{ "example. IN 3600 NS ns.example.\n", "zone" },
		{ "www A 192.0.2.1\n  NS ns.example.\n", "zone" },
		{ "com. NS a.gtld-servers.net.\n", "zone" },
		{ "ns.example.com\nsoa.example.com\n", "plain" },
		{ "\x01\x02\xff\n\x7f", "plain" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct targets_format *f = targets_format_sniff(
		    (const uint8_t *)cases[i].in, strlen(cases[i].in));
		CHECK_STR(f->name, cases[i].want, cases[i].in);
	}
}

UNIT_TEST(test_targets_format_find_and_rc_str)
{
	CHECK(targets_format_find("plain") == &targets_format_plain);
	CHECK(targets_format_find("tranco") == &targets_format_tranco);
	CHECK(targets_format_find("zone") == &targets_format_zone);
	CHECK(targets_format_find("csv") == NULL);
	CHECK(targets_format_find(NULL) == NULL);
	CHECK(targets_reader_new(NULL, NULL, NULL, NULL, NULL) == NULL);
	CHECK_STR(targets_rc_str(TARGETS_LINE_TOO_LONG), "line_too_long", "");
	CHECK_STR(targets_rc_str(TARGETS_ZONE_OUTSIDE), "zone_outside", "");
	CHECK_STR(targets_rc_str(TARGETS_RC_LAST), "unknown", "");
	for (int a = 0; a < TARGETS_RC_LAST; a++)
		for (int b = a + 1; b < TARGETS_RC_LAST; b++)
			CHECK(strcmp(targets_rc_str((enum targets_rc)a),
				     targets_rc_str((enum targets_rc)b)) != 0);
}
