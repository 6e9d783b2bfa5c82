/*
 * Table tests for crawler/sts/tlsrpt.c. Rows come from RFC 8460 §3 (grammar,
 * examples, the encoding rule for "," "!" ";") and from every tlsrpt-*
 * scenario of tests/testbed/scenarios.py (and sts-enforce-ok, which also
 * publishes one), with the expectations of build.py's tlsrpt_truth.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crawler/scan/stsfacts.h"
#include "crawler/sts/tlsrpt.h"
#include "unit.h"

#define RECS_MAX 4

struct rpt_case {
	const char *name;
	const char *recs[RECS_MAX];
	size_t n;
	const char *status;  /* truth vocabulary: tlsrpt.status */
	enum tlsrpt_rc rc;   /* its name is tlsrpt.error */
	const char *rua;     /* URIs read, space-separated */
	const char *schemes; /* their schemes, space-separated; NULL: not
			      * checked */
};

static const struct rpt_case rpt_cases[] = {
	/* RFC 8460 §3 */
	{ "rfc mailto",
	  { "v=TLSRPTv1;rua=mailto:reports@example.com" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:reports@example.com",
	  "mailto" },
	{ "rfc https",
	  { "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "https://reporting.example.com/v1/tlsrpt",
	  "https" },
	{ "spaces around the comma",
	  { "v=TLSRPTv1; rua=mailto:a@example.com ,\thttps://r.example/x ;" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@example.com https://r.example/x",
	  "mailto https" },
	{ "scheme case-insensitive",
	  { "v=TLSRPTv1; rua=MAILTO:a@example.com" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "MAILTO:a@example.com",
	  "mailto" },
	{ "mailto with query",
	  { "v=TLSRPTv1; rua=mailto:a@example.com?subject=tls%20report" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@example.com?subject=tls%20report",
	  "mailto" },
	{ "https with port, query",
	  { "v=TLSRPTv1; rua=https://r.example:8443/p?a=1&b=2" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "https://r.example:8443/p?a=1&b=2",
	  "https" },
	{ "extension before rua",
	  { "v=TLSRPTv1; x.y-z_1=a!b; rua=mailto:a@b" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@b",
	  "mailto" },
	{ "trailing separator",
	  { "v=TLSRPTv1; rua=mailto:a@b; " },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@b",
	  NULL },
	{ "one of several",
	  { "v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@b", "v=TLSRPTv10" },
	  3,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@b",
	  NULL },
	{ "no records", { NULL }, 0, "none", TLSRPT_RC_NONE, "", NULL },
	{ "version case-sensitive",
	  { "v=tlsrptv1; rua=mailto:a@b" },
	  1,
	  "none",
	  TLSRPT_RC_NONE,
	  "",
	  NULL },
	{ "two records, one bad",
	  { "v=TLSRPTv1", "v=TLSRPTv1; rua=mailto:a@b" },
	  2,
	  "multiple",
	  TLSRPT_RC_MULTIPLE,
	  "",
	  NULL },
	{ "version only",
	  { "v=TLSRPTv1" },
	  1,
	  "invalid",
	  TLSRPT_RC_MISSING_RUA,
	  "",
	  NULL },
	{ "rua name case-sensitive",
	  { "v=TLSRPTv1; RUA=mailto:a@b" },
	  1,
	  "invalid",
	  TLSRPT_RC_MISSING_RUA,
	  "",
	  NULL },
	{ "empty rua",
	  { "v=TLSRPTv1; rua=" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "",
	  "none" },
	{ "empty rua before separator",
	  { "v=TLSRPTv1; rua=;" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "",
	  "none" },
	{ "empty URI in the list",
	  { "v=TLSRPTv1; rua=mailto:a@b,,mailto:c@d" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "mailto:a@b  mailto:c@d",
	  "mailto none mailto" },
	{ "trailing comma",
	  { "v=TLSRPTv1; rua=mailto:a@b," },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "mailto:a@b ",
	  "mailto none" },
	{ "http",
	  { "v=TLSRPTv1; rua=http://r.example/x" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "http://r.example/x",
	  "other" },
	{ "no scheme",
	  { "v=TLSRPTv1; rua=reports@example.com" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "reports@example.com",
	  "none" },
	{ "mailto without @",
	  { "v=TLSRPTv1; rua=mailto:reports" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "mailto:reports",
	  "mailto" },
	{ "mailto empty local part",
	  { "v=TLSRPTv1; rua=mailto:@example.com" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "mailto:@example.com",
	  "mailto" },
	{ "mailto empty domain",
	  { "v=TLSRPTv1; rua=mailto:a@" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "mailto:a@",
	  "mailto" },
	{ "mailto two @",
	  { "v=TLSRPTv1; rua=mailto:a@b@c" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "mailto:a@b@c",
	  "mailto" },
	{ "mailto with !",
	  { "v=TLSRPTv1; rua=mailto:a@example.com!10m" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "mailto:a@example.com!10m",
	  "mailto" },
	{ "https without //",
	  { "v=TLSRPTv1; rua=https:r.example" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "https:r.example",
	  "https" },
	{ "https without host",
	  { "v=TLSRPTv1; rua=https:///x" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "https:///x",
	  "https" },
	{ "bad percent escape",
	  { "v=TLSRPTv1; rua=https://r.example/%zz" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "https://r.example/%zz",
	  "https" },
	{ "non-ASCII in URI",
	  { "v=TLSRPTv1; rua=https://r.example/\xc3\xa9" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "https://r.example/\xc3\xa9",
	  "https" },
	{ "two rua fields",
	  { "v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d" },
	  1,
	  "invalid",
	  TLSRPT_RC_DUPLICATE_RUA,
	  "mailto:a@b",
	  NULL },
	{ "no separator after version",
	  { "v=TLSRPTv1 rua=mailto:a@b" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_SEPARATOR,
	  "",
	  NULL },
	{ "space inside the list",
	  { "v=TLSRPTv1; rua=mailto:a@b mailto:c@d" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_SEPARATOR,
	  "mailto:a@b",
	  NULL },
	{ "trailing space",
	  { "v=TLSRPTv1; rua=mailto:a@b " },
	  1,
	  "invalid",
	  TLSRPT_RC_TRAILING_SPACE,
	  "mailto:a@b",
	  NULL },
	{ "empty field",
	  { "v=TLSRPTv1;; rua=mailto:a@b" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_FIELD,
	  "mailto:a@b",
	  NULL },
	{ "field without =",
	  { "v=TLSRPTv1; rua=mailto:a@b; ext" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_FIELD,
	  "mailto:a@b",
	  NULL },
	{ "bad extension value",
	  { "v=TLSRPTv1; rua=mailto:a@b; ext=a=b" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_VALUE,
	  "mailto:a@b",
	  NULL },

	/* testbed scenarios (tests/testbed/scenarios.py) */
	{ "sts-enforce-ok",
	  { "v=TLSRPTv1; rua=mailto:tlsrpt@sts-enforce-ok.test" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:tlsrpt@sts-enforce-ok.test",
	  NULL },
	{ "tlsrpt-mailto",
	  { "v=TLSRPTv1; rua=mailto:reports@tlsrpt-mailto.test" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:reports@tlsrpt-mailto.test",
	  NULL },
	{ "tlsrpt-https",
	  { "v=TLSRPTv1;rua=https://reports.example/tlsrpt" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "https://reports.example/tlsrpt",
	  NULL },
	{ "tlsrpt-multi-rua",
	  { "v=TLSRPTv1; rua=mailto:a@tlsrpt-multi-rua.test,https://reports.example/r" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@tlsrpt-multi-rua.test https://reports.example/r",
	  NULL },
	{ "tlsrpt-multiple",
	  { "v=TLSRPTv1; rua=mailto:a@tlsrpt-multiple.test",
	    "v=TLSRPTv1; rua=mailto:b@tlsrpt-multiple.test" },
	  2,
	  "multiple",
	  TLSRPT_RC_MULTIPLE,
	  "",
	  NULL },
	{ "tlsrpt-other-txt",
	  { "v=TLSRPTv1; rua=mailto:a@tlsrpt-other-txt.test",
	    "something else" },
	  2,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@tlsrpt-other-txt.test",
	  NULL },
	{ "tlsrpt-bad-rua",
	  { "v=TLSRPTv1; rua=ftp://reports.example/x" },
	  1,
	  "invalid",
	  TLSRPT_RC_BAD_RUA,
	  "ftp://reports.example/x",
	  NULL },
	{ "tlsrpt-no-rua",
	  { "v=TLSRPTv1;" },
	  1,
	  "invalid",
	  TLSRPT_RC_MISSING_RUA,
	  "",
	  NULL },
	{ "tlsrpt-extension",
	  { "v=TLSRPTv1; rua=mailto:a@tlsrpt-extension.test; ext=1" },
	  1,
	  "valid",
	  TLSRPT_OK,
	  "mailto:a@tlsrpt-extension.test",
	  NULL },
	{ "tlsrpt-v2",
	  { "v=TLSRPTv2; rua=mailto:a@tlsrpt-v2.test" },
	  1,
	  "none",
	  TLSRPT_RC_NONE,
	  "",
	  NULL },
};

/* The i-th item of a space-separated list into buf ("" past the end or
 * for an empty item). */
static const char *item(const char *list, size_t i, char *buf, size_t cap)
{
	const char *s = list;
	for (; i > 0 && s; i--) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s)
		return "";
	const char *sp = strchr(s, ' ');
	size_t len = sp ? (size_t)(sp - s) : strlen(s);
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

/* Items in a space-separated list; "" has none. */
static size_t count(const char *list)
{
	size_t n = *list ? 1 : 0;
	for (const char *s = list; *s; s++)
		n += *s == ' ';
	return n;
}

UNIT_TEST(tlsrpt_table)
{
	static struct tlsrpt out;
	char want[TLSRPT_URI_MAX + 1];

	for (size_t i = 0; i < sizeof rpt_cases / sizeof rpt_cases[0]; i++) {
		const struct rpt_case *t = &rpt_cases[i];
		struct tlsrpt_bytes recs[RECS_MAX];

		for (size_t k = 0; k < t->n; k++) {
			recs[k].p = (const uint8_t *)t->recs[k];
			recs[k].len = strlen(t->recs[k]);
		}
		enum tlsrpt_rc rc = tlsrpt_select(recs, t->n, &out);
		CHECK_STR(tlsrpt_rc_str(rc), tlsrpt_rc_str(t->rc), t->name);
		CHECK_STR(tlsrpt_status_str(rc), t->status, t->name);
		CHECK_INT(out.nrecords, t->n, t->name);

		/* An empty rua value is one empty URI: count it from the
		 * schemes column when the URI column cannot show it. */
		size_t n = t->schemes ? count(t->schemes) : count(t->rua);
		CHECK_INT(out.nrua, n, t->name);
		for (size_t k = 0; k < n && k < out.nrua; k++) {
			CHECK_STR(out.rua[k].uri,
				  item(t->rua, k, want, sizeof want), t->name);
			CHECK_INT(out.rua[k].len, strlen(out.rua[k].uri),
				  t->name);
			if (t->schemes)
				CHECK_STR(
				    tlsrpt_scheme_str(out.rua[k].scheme),
				    item(t->schemes, k, want, sizeof want),
				    t->name);
			bool ok = out.rua[k].scheme == TLSRPT_SCHEME_MAILTO ||
				  out.rua[k].scheme == TLSRPT_SCHEME_HTTPS;
			if (rc == TLSRPT_OK)
				CHECK(out.rua[k].ok && ok);
		}
	}
}

UNIT_TEST(tlsrpt_details)
{
	static struct tlsrpt out;
	char buf[4096];

	/* The scheme of an unsupported URI is recorded in lower case. */
	const char *r = "v=TLSRPTv1; rua=FTP://x.example/a";
	CHECK_INT(tlsrpt_parse((const uint8_t *)r, strlen(r), &out),
		  TLSRPT_RC_BAD_RUA, "ftp");
	CHECK_STR(out.rua[0].scheme_name, "ftp", "ftp");
	CHECK_INT(out.error_off, 16, "ftp: offset of the URI");

	/* More URIs than kept: all checked and counted, the rest flagged. */
	size_t n = (size_t)snprintf(buf, sizeof buf, "v=TLSRPTv1; rua=");
	for (int i = 0; i < TLSRPT_MAX_RUA + 2; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%smailto:r%d@x",
				      i ? "," : "", i);
	CHECK_INT(tlsrpt_parse((const uint8_t *)buf, n, &out), TLSRPT_OK,
		  "many URIs");
	CHECK_INT(out.nrua, TLSRPT_MAX_RUA, "many URIs");
	CHECK_INT(out.rua_total, TLSRPT_MAX_RUA + 2, "many URIs");
	CHECK_INT(out.rua_truncated, 1, "many URIs");
	/* ... and a bad one past the array still fails the record. */
	n += (size_t)snprintf(buf + n, sizeof buf - n, ",gopher:x");
	CHECK_INT(tlsrpt_parse((const uint8_t *)buf, n, &out),
		  TLSRPT_RC_BAD_RUA, "bad URI past the array");

	/* A long URI is cut and flagged, and still judged whole. */
	n = (size_t)snprintf(buf, sizeof buf, "v=TLSRPTv1; rua=https://x/");
	while (n < 16 + TLSRPT_URI_MAX + 100)
		buf[n++] = 'a';
	CHECK_INT(tlsrpt_parse((const uint8_t *)buf, n, &out), TLSRPT_OK,
		  "long URI");
	CHECK_INT(out.rua[0].truncated, 1, "long URI");
	CHECK_INT(out.rua[0].len, TLSRPT_URI_MAX, "long URI");
	buf[n++] = '!';
	CHECK_INT(tlsrpt_parse((const uint8_t *)buf, n, &out),
		  TLSRPT_RC_BAD_RUA, "long URI, bad at the end");

	/* Fields and extensions are counted. */
	r = "v=TLSRPTv1; a=1; rua=mailto:a@b; b=2";
	CHECK_INT(tlsrpt_parse((const uint8_t *)r, strlen(r), &out), TLSRPT_OK,
		  "counts");
	CHECK_INT(out.nfields, 3, "counts");
	CHECK_INT(out.next, 2, "counts");

	CHECK(tlsrpt_is_rpt((const uint8_t *)"v=TLSRPTv1", 10));
	CHECK(!tlsrpt_is_rpt((const uint8_t *)"v=TLSRPTv1x", 11));
	CHECK(!tlsrpt_is_rpt(NULL, 0));
	CHECK_STR(tlsrpt_rc_str(TLSRPT_RC_LAST), "unknown", "range");
	CHECK_STR(tlsrpt_status_str(TLSRPT_RC_LAST), "unknown", "range");
	CHECK_STR(tlsrpt_scheme_str(TLSRPT_SCHEME_LAST), "unknown", "range");
}

/* A domain without TXT records, and one whose records are all something
 * else: the same row but for the count of records read. */
UNIT_TEST(test_rpt_facts_no_records)
{
	static const char other[] = "v=spf1 -all";
	const struct tlsrpt_bytes rec = { (const uint8_t *)other,
					  sizeof other - 1 };
	struct rpt_facts r;
	struct jbuf b;

	jbuf_init(&b, 4096);
	rpt_facts_init(&r);
	rpt_facts_txt(&r, NULL, 0, false);
	rpt_facts_row(&r, &b, 7, 9);
	CHECK_STR(b.data, "7\t9\tnone\t\\N\t0\t0\t{}\t{}\n", "no TXT");
	rpt_facts_free(&r);
	jbuf_reset(&b);
	rpt_facts_init(&r);
	rpt_facts_txt(&r, &rec, 1, false);
	rpt_facts_row(&r, &b, 7, 9);
	CHECK_STR(b.data, "7\t9\tnone\t\\N\t1\t0\t{}\t{}\n", "other TXT");
	rpt_facts_free(&r);
	jbuf_free(&b);
}
