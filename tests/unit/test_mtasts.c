/*
 * Table tests for crawler/sts/mtasts.c. Rows come from RFC 8461 (§3.1 TXT
 * grammar, §3.2 policy grammar and duplicate rule, §4.1 matching, errata
 * 6253) and from every sts-* scenario of tests/testbed/scenarios.py: the
 * texts are the ones build.py serves, the expectations are those of
 * build.py's truth (sts_truth, sts_pattern_matches) for that scenario.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crawler/sts/mtasts.h"
#include "unit.h"

/* ---- TXT --------------------------------------------------------- */

#define TXT_RECS_MAX 4

struct txt_case {
	const char *name;
	const char *recs[TXT_RECS_MAX];
	size_t n;
	const char *status; /* truth vocabulary: mta_sts.txt */
	enum mtasts_txt_rc rc;
	const char *id; /* NULL: no id field */
	size_t nsts;
};

static const struct txt_case txt_cases[] = {
	/* RFC 8461 §3.1 */
	{ "rfc example",
	  { "v=STSv1; id=20160831085700Z;" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20160831085700Z",
	  1 },
	{ "no space",
	  { "v=STSv1;id=abc" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "abc",
	  1 },
	{ "space before separator",
	  { "v=STSv1 ; id=abc" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "abc",
	  1 },
	{ "tabs around separator",
	  { "v=STSv1\t;\tid=abc\t;\t" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "abc",
	  1 },
	{ "id 32 characters",
	  { "v=STSv1; id=0123456789abcdefABCDEF0123456789" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "0123456789abcdefABCDEF0123456789",
	  1 },
	{ "id one character",
	  { "v=STSv1; id=x" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "x",
	  1 },
	{ "extension before id",
	  { "v=STSv1; a.b_c-d=x!y~z; id=1" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "1",
	  1 },
	{ "extension name 32 characters",
	  { "v=STSv1; id=1; a234567890123456789012345678901b=v" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "1",
	  1 },
	{ "no records", { NULL }, 0, "none", MTASTS_TXT_RC_NONE, NULL, 0 },
	{ "only other records",
	  { "v=spf1 -all", "hello" },
	  2,
	  "none",
	  MTASTS_TXT_RC_NONE,
	  NULL,
	  0 },
	{ "version is case-sensitive",
	  { "V=STSv1; id=1", "v=stsv1; id=1" },
	  2,
	  "none",
	  MTASTS_TXT_RC_NONE,
	  NULL,
	  0 },
	{ "longer version discarded",
	  { "v=STSv10; id=1", "v=STSv1x" },
	  2,
	  "none",
	  MTASTS_TXT_RC_NONE,
	  NULL,
	  0 },
	{ "one of three",
	  { "v=STSv1x", "v=STSv1; id=ok", "x" },
	  3,
	  "valid",
	  MTASTS_TXT_OK,
	  "ok",
	  1 },
	{ "two even if one bad",
	  { "v=STSv1; id=1", "v=STSv1" },
	  2,
	  "multiple",
	  MTASTS_TXT_RC_MULTIPLE,
	  NULL,
	  2 },
	{ "version only",
	  { "v=STSv1" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_MISSING_ID,
	  NULL,
	  1 },
	{ "version and separator",
	  { "v=STSv1;" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_MISSING_ID,
	  NULL,
	  1 },
	{ "id name is case-sensitive",
	  { "v=STSv1; ID=abc" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_MISSING_ID,
	  NULL,
	  1 },
	{ "empty id",
	  { "v=STSv1; id=" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_ID,
	  "",
	  1 },
	{ "id with a dot",
	  { "v=STSv1; id=1.2" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_ID,
	  "1.2",
	  1 },
	{ "id with UTF-8",
	  { "v=STSv1; id=\xc3\xa9t\xc3\xa9" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_ID,
	  "\xc3\xa9t\xc3\xa9",
	  1 },
	{ "two ids",
	  { "v=STSv1; id=abc; id=def" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_DUPLICATE_ID,
	  "abc",
	  1 },
	{ "no separator after version",
	  { "v=STSv1 id=abc" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_SEPARATOR,
	  NULL,
	  1 },
	{ "space inside the id",
	  { "v=STSv1; id=abc def" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_SEPARATOR,
	  "abc",
	  1 },
	{ "CR after version",
	  { "v=STSv1\r; id=abc" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_SEPARATOR,
	  "abc",
	  1 },
	{ "trailing space",
	  { "v=STSv1; id=abc " },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_TRAILING_SPACE,
	  "abc",
	  1 },
	{ "empty field",
	  { "v=STSv1;; id=abc" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_FIELD,
	  "abc",
	  1 },
	{ "field without =",
	  { "v=STSv1; id=abc; ext" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_FIELD,
	  "abc",
	  1 },
	{ "field name starts with _",
	  { "v=STSv1; _x=1; id=abc" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_FIELD,
	  "abc",
	  1 },
	{ "field name 33 characters",
	  { "v=STSv1; id=1; a2345678901234567890123456789012b=v" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_FIELD,
	  "1",
	  1 },
	{ "field without name",
	  { "v=STSv1; =x; id=abc" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_FIELD,
	  "abc",
	  1 },
	{ "empty extension value",
	  { "v=STSv1; id=abc; ext=" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_VALUE,
	  "abc",
	  1 },
	{ "= in extension value",
	  { "v=STSv1; id=abc; ext=a=b" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_VALUE,
	  "abc",
	  1 },
	{ "population: bad id",
	  { "v=STSv1; id=bad-id!" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_ID,
	  "bad-id!",
	  1 },
	{ "population: good id",
	  { "v=STSv1; id=20240601" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240601",
	  1 },

	/* testbed scenarios (tests/testbed/scenarios.py) */
	{ "sts-enforce-ok",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-testing",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-none",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-lf",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-unknown-key",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-txt-multiple",
	  { "v=STSv1; id=1", "v=STSv1; id=2" },
	  2,
	  "multiple",
	  MTASTS_TXT_RC_MULTIPLE,
	  NULL,
	  2 },
	{ "sts-txt-other",
	  { "v=STSv1; id=20240101", "google-site-verification=abc",
	    "v=spf1 -all" },
	  3,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101",
	  1 },
	{ "sts-txt-bad-id",
	  { "v=STSv1; id=2024-01-01" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_ID,
	  "2024-01-01",
	  1 },
	{ "sts-txt-long-id",
	  { "v=STSv1; id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	  1,
	  "invalid",
	  MTASTS_TXT_RC_BAD_ID,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  1 },
	{ "sts-txt-extension",
	  { "v=STSv1; id=abc123; ext=value" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "abc123",
	  1 },
	{ "sts-txt-cname",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-txt-v2",
	  { "v=STSv2; id=1" },
	  1,
	  "none",
	  MTASTS_TXT_RC_NONE,
	  NULL,
	  0 },
	{ "sts-fetch-redirect",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-404",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-media-type",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-too-large",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-slow",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-encoding",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-untrusted",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-name-mismatch",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-no-host",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-refused-address",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-fetch-no-listener",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-policy-bad-version",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-policy-bad-mode",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-policy-bad-max-age",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-policy-no-mx",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-policy-misspelled",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-mx-wildcard",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-mx-wildcard-deep",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-mx-wildcard-apex",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-mx-case",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-mx-mismatch",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-implicit-mx",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-enforce-no-starttls",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-enforce-host-mismatch",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-enforce-expired",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-enforce-untrusted",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
	{ "sts-enforce-alert",
	  { "v=STSv1; id=20240101T000000" },
	  1,
	  "valid",
	  MTASTS_TXT_OK,
	  "20240101T000000",
	  1 },
};

UNIT_TEST(mtasts_txt_table)
{
	for (size_t i = 0; i < sizeof txt_cases / sizeof txt_cases[0]; i++) {
		const struct txt_case *t = &txt_cases[i];
		struct mtasts_bytes recs[TXT_RECS_MAX];
		struct mtasts_txt out;

		for (size_t k = 0; k < t->n; k++) {
			recs[k].p = (const uint8_t *)t->recs[k];
			recs[k].len = strlen(t->recs[k]);
		}
		enum mtasts_txt_rc rc = mtasts_txt_select(recs, t->n, &out);
		CHECK_STR(mtasts_txt_rc_str(rc), mtasts_txt_rc_str(t->rc),
			  t->name);
		CHECK_STR(mtasts_txt_status_str(rc), t->status, t->name);
		CHECK_INT(out.nrecords, t->n, t->name);
		CHECK_INT(out.nsts, t->nsts, t->name);
		CHECK_INT(out.has_id, t->id != NULL, t->name);
		CHECK_STR(out.id, t->id ? t->id : "", t->name);
		CHECK_INT(out.id_len, strlen(out.id), t->name);
		if (t->nsts == 1)
			CHECK(strncmp(t->recs[out.index], "v=STSv1", 7) == 0);
	}
}

UNIT_TEST(mtasts_txt_raw_bytes)
{
	/* A NUL inside the id: kept raw with its length. */
	static const uint8_t rec[] = "v=STSv1; id=a\0b";
	struct mtasts_txt out;
	enum mtasts_txt_rc rc = mtasts_txt_parse(rec, sizeof rec - 1, &out);
	CHECK_INT(rc, MTASTS_TXT_RC_BAD_ID, "nul in id");
	CHECK_INT(out.id_len, 3, "nul in id");
	CHECK(memcmp(out.id, "a\0b", 4) == 0);
	CHECK_INT(out.error_off, 12, "nul in id: offset of the value");

	/* An id over MTASTS_ID_KEEP is cut and flagged. */
	char buf[200];
	int n = snprintf(buf, sizeof buf, "v=STSv1; id=%0100d", 7);
	rc = mtasts_txt_parse((const uint8_t *)buf, (size_t)n, &out);
	CHECK_INT(rc, MTASTS_TXT_RC_BAD_ID, "long id");
	CHECK_INT(out.id_truncated, 1, "long id");
	CHECK_INT(out.id_len, MTASTS_ID_KEEP, "long id");
	CHECK_INT(strlen(out.id), MTASTS_ID_KEEP, "long id");

	/* The selection rule on its own. */
	CHECK(mtasts_txt_is_sts((const uint8_t *)"v=STSv1", 7));
	CHECK(mtasts_txt_is_sts((const uint8_t *)"v=STSv1 x", 9));
	CHECK(!mtasts_txt_is_sts((const uint8_t *)"v=STSv", 6));
	CHECK(!mtasts_txt_is_sts(NULL, 0));

	/* Fields and extensions are counted. */
	rc = mtasts_txt_parse((const uint8_t *)"v=STSv1; a=1; id=2; b=3", 23,
			      &out);
	CHECK_INT(rc, MTASTS_TXT_OK, "counts");
	CHECK_INT(out.nfields, 3, "counts");
	CHECK_INT(out.next, 2, "counts");

	CHECK_STR(mtasts_txt_rc_str(MTASTS_TXT_RC_LAST), "unknown", "range");
	CHECK_STR(mtasts_txt_status_str(MTASTS_TXT_RC_LAST), "unknown",
		  "range");
}

/* ---- policy ------------------------------------------------------ */

struct policy_case {
	const char *name;
	const char *body;
	const char *rc;	     /* truth vocabulary: mta_sts.policy_error */
	const char *mode;    /* NULL: unset */
	long long max_age;   /* -1: unset */
	const char *mx;	     /* patterns, space-separated */
	const char *unknown; /* keys, space-separated; NULL: not checked */
	const char *eol;
	size_t error_line; /* 0: not checked */
	size_t len;	   /* 0: strlen(body) */
};

#define P_HEAD "version: STSv1\r\nmode: enforce\r\n"
#define P_TAIL "max_age: 86400\r\n"

static const struct policy_case policy_cases[] = {
	/* RFC 8461 §3.2 examples and grammar */
	{ "rfc example",
	  "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	  "mx: *.example.net\r\nmx: backupmx.example.com\r\n"
	  "max_age: 604800\r\n",
	  "ok", "enforce", 604800,
	  "mail.example.com *.example.net backupmx.example.com", "", "crlf", 0,
	  0 },
	{ "no final line end", P_HEAD "mx: a.example\r\nmax_age: 1", "ok",
	  "enforce", 1, "a.example", "", "crlf", 0, 0 },
	{ "mixed line ends (errata 6253)",
	  "version: STSv1\nmode: testing\r\nmx: a.example\nmax_age: 0\r\n",
	  "ok", "testing", 0, "a.example", "", "mixed", 0, 0 },
	{ "fields in any order",
	  "mx: a.example\nmax_age: 5\nmode: enforce\nversion: STSv1\n", "ok",
	  "enforce", 5, "a.example", "", "lf", 0, 0 },
	{ "no space after colon, trailing white space",
	  "version:STSv1 \t\nmode:\tenforce\nmx:a.example  \nmax_age:7\n", "ok",
	  "enforce", 7, "a.example", "", "lf", 0, 0 },
	{ "max_age largest", P_HEAD "mx: a.example\r\nmax_age: 31557600\r\n",
	  "ok", "enforce", 31557600, "a.example", "", "crlf", 0, 0 },
	{ "max_age leading zeros, 10 digits",
	  P_HEAD "mx: a.example\r\nmax_age: 0000086400\r\n", "ok", "enforce",
	  86400, "a.example", "", "crlf", 0, 0 },
	{ "mode none with mx",
	  "version: STSv1\nmode: none\nmx: a.example\nmax_age: 1\n", "ok",
	  "none", 1, "a.example", "", "lf", 0, 0 },
	{ "extension value with inner spaces and UTF-8",
	  P_HEAD "mx: a.example\r\n" P_TAIL "note: h\xc3\xa9llo = w;o r\r\n",
	  "ok", "enforce", 86400, "a.example", "note", "crlf", 0, 0 },
	{ "mx pattern labels",
	  P_HEAD "mx: a-1.b2.example\r\nmx: 1.example\r\nmx: *.x.y\r\n"
		 "mx: com\r\n" P_TAIL,
	  "ok", "enforce", 86400, "a-1.b2.example 1.example *.x.y com", "",
	  "crlf", 0, 0 },
	/* §3.2: "If any non-repeated field ... appears more than once,
	 * senders MUST use the value specified in the first instance." */
	{ "duplicate fields: first wins",
	  "version: STSv1\nmode: testing\nmode: enforce\nmax_age: 10\n"
	  "max_age: 99999999999\nversion: STSv9\nmx: a.example\n",
	  "ok", "testing", 10, "a.example", "", "lf", 0, 0 },
	{ "duplicate fields: first bad wins",
	  "version: STSv1\nmode: enforcing\nmode: enforce\nmax_age: 10\n"
	  "mx: a.example\n",
	  "bad_mode", NULL, 10, "a.example", "", "lf", 2, 0 },
	{ "repeated mx", P_HEAD "mx: a.example\r\nmx: a.example\r\n" P_TAIL,
	  "ok", "enforce", 86400, "a.example a.example", "", "crlf", 0, 0 },
	{ "keys are case-sensitive",
	  "Version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n",
	  "missing_version", "enforce", 1, "a.example", "Version", "lf", 0, 0 },
	{ "MX key unknown", P_HEAD "MX: a.example\r\n" P_TAIL, "missing_mx",
	  "enforce", 86400, "", "MX", "crlf", 0, 0 },
	{ "mode value case-sensitive", "version: STSv1\nmode: Enforce\n",
	  "bad_mode", NULL, -1, "", "", "lf", 2, 0 },
	{ "version value case-sensitive", "version: stsv1\n", "bad_version",
	  NULL, -1, "", "", "lf", 1, 0 },
	{ "empty", "", "missing_version", NULL, -1, "", "", "none", 0, 0 },
	{ "missing mode", "version: STSv1\nmax_age: 1\nmx: a.example\n",
	  "missing_mode", NULL, 1, "a.example", "", "lf", 0, 0 },
	{ "missing max_age", "version: STSv1\nmode: testing\nmx: a.example\n",
	  "missing_max_age", "testing", -1, "a.example", "", "lf", 0, 0 },
	{ "max_age 11 digits",
	  P_HEAD "mx: a.example\r\nmax_age: 00000086400\r\n", "bad_max_age",
	  "enforce", -1, "a.example", "", "crlf", 4, 0 },
	{ "max_age negative", P_HEAD "mx: a.example\r\nmax_age: -1\r\n",
	  "bad_max_age", "enforce", -1, "a.example", "", "crlf", 4, 0 },
	{ "max_age with a unit", P_HEAD "mx: a.example\r\nmax_age: 86400s\r\n",
	  "bad_max_age", "enforce", -1, "a.example", "", "crlf", 4, 0 },
	{ "max_age empty", P_HEAD "mx: a.example\r\nmax_age:\r\n",
	  "bad_max_age", "enforce", -1, "a.example", "", "crlf", 4, 0 },
	{ "mx empty", P_HEAD "mx:\r\n" P_TAIL, "bad_mx", "enforce", 86400, "",
	  "", "crlf", 3, 0 },
	{ "mx partial wildcard", P_HEAD "mx: mx*.example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx wildcard alone", P_HEAD "mx: *\r\n" P_TAIL, "bad_mx", "enforce",
	  86400, "", "", "crlf", 3, 0 },
	{ "mx inner wildcard", P_HEAD "mx: a.*.example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx empty label", P_HEAD "mx: a..example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx two trailing dots", P_HEAD "mx: a.example..\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx leading hyphen", P_HEAD "mx: -a.example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx trailing hyphen", P_HEAD "mx: a-.example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx underscore", P_HEAD "mx: _a.example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx with a space", P_HEAD "mx: a example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx U-label", P_HEAD "mx: m\xc3\xbcnchen.example\r\n" P_TAIL,
	  "bad_mx", "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx label of 64",
	  P_HEAD
	  "mx: a234567890123456789012345678901234567890123456789012345678901234"
	  ".example\r\n" P_TAIL,
	  "bad_mx", "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "mx good and bad",
	  P_HEAD "mx: a.example\r\nmx: b..example\r\n" P_TAIL, "bad_mx",
	  "enforce", 86400, "a.example", "", "crlf", 4, 0 },
	{ "line without colon", P_HEAD "mx a.example\r\n" P_TAIL, "bad_line",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "space before colon", P_HEAD "mx : a.example\r\n" P_TAIL, "bad_key",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "leading white space", P_HEAD " mx: a.example\r\n" P_TAIL, "bad_key",
	  "enforce", 86400, "", "", "crlf", 3, 0 },
	{ "key too long",
	  P_HEAD "mx: a.example\r\n"
		 "a2345678901234567890123456789012x: 1\r\n" P_TAIL,
	  "bad_key", "enforce", 86400, "a.example", "", "crlf", 4, 0 },
	{ "empty key", P_HEAD ": a.example\r\n" P_TAIL, "bad_key", "enforce",
	  86400, "", "", "crlf", 3, 0 },
	{ "empty extension value", P_HEAD "mx: a.example\r\nfoo:\r\n" P_TAIL,
	  "bad_value", "enforce", 86400, "a.example", "foo", "crlf", 4, 0 },
	{ "control character in extension value",
	  P_HEAD "mx: a.example\r\nfoo: a\x01z\r\n" P_TAIL, "bad_value",
	  "enforce", 86400, "a.example", "foo", "crlf", 4, 0 },
	{ "bad UTF-8 in extension value",
	  P_HEAD "mx: a.example\r\nfoo: \xc0\xaf\r\n" P_TAIL, "bad_value",
	  "enforce", 86400, "a.example", "foo", "crlf", 4, 0 },
	{ "surrogate in extension value",
	  P_HEAD "mx: a.example\r\nfoo: \xed\xa0\x80\r\n" P_TAIL, "bad_value",
	  "enforce", 86400, "a.example", "foo", "crlf", 4, 0 },
	{ "tab inside extension value",
	  P_HEAD "mx: a.example\r\nfoo: a\tb\r\n" P_TAIL, "bad_value",
	  "enforce", 86400, "a.example", "foo", "crlf", 4, 0 },
	{ "blank line", P_HEAD "\r\nmx: a.example\r\n" P_TAIL, "blank_line",
	  "enforce", 86400, "a.example", "", "crlf", 3, 0 },
	{ "blank line at the end", P_HEAD "mx: a.example\r\n" P_TAIL "\r\n",
	  "blank_line", "enforce", 86400, "a.example", "", "crlf", 5, 0 },
	{ "white-space line", P_HEAD " \t\r\nmx: a.example\r\n" P_TAIL,
	  "blank_line", "enforce", 86400, "a.example", "", "crlf", 3, 0 },
	{ "bare CR inside a line", P_HEAD "mx: a.example\r" P_TAIL, "bad_mx",
	  "enforce", -1, "", "", "crlf", 3, 0 },
	{ "CR-only line ends", "version: STSv1\rmode: enforce\r", "bad_version",
	  NULL, -1, "", "", "none", 1, 0 },
	{ "BOM",
	  "\xef\xbb\xbfversion: STSv1\r\nmode: enforce\r\n"
	  "mx: a.example\r\n" P_TAIL,
	  "bom", "enforce", 86400, "a.example", "", "crlf", 1, 0 },
	{ "BOM only", "\xef\xbb\xbf", "bom", NULL, -1, "", "", "none", 1, 0 },
	{ "NUL in a value",
	  P_HEAD "mx: a.example\r\nmax_age: 8\0"
		 "6400\r\n",
	  "bad_max_age", "enforce", -1, "a.example", "", "crlf", 4,
	  sizeof(P_HEAD "mx: a.example\r\nmax_age: 8\0"
			"6400\r\n") -
	      1 },
	{ "first error wins, fields still read",
	  "version: STSv2\nmode: bogus\nmx: a.example\nmax_age: 1\nx: y\n",
	  "bad_version", NULL, 1, "a.example", "x", "lf", 1, 0 },

	/* testbed scenarios (tests/testbed/scenarios.py) */
	{ "sts-enforce-ok",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-enforce-ok.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-enforce-ok.test", NULL, "crlf", 0,
	  0 },
	{ "sts-testing",
	  "version: STSv1\r\nmode: testing\r\nmx: mx.sts-testing.test\r\nmax_age: 86400\r\n",
	  "ok", "testing", 86400, "mx.sts-testing.test", NULL, "crlf", 0, 0 },
	{ "sts-none", "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n",
	  "ok", "none", 86400, "", NULL, "crlf", 0, 0 },
	{ "sts-lf",
	  "version: STSv1\nmode: enforce\nmx: mx.sts-lf.test\nmax_age: 86400\n",
	  "ok", "enforce", 86400, "mx.sts-lf.test", NULL, "lf", 0, 0 },
	{ "sts-unknown-key",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-unknown-key.test\r\nmax_age: 86400\r\nfoo: bar\r\n",
	  "ok", "enforce", 86400, "mx.sts-unknown-key.test", "foo", "crlf", 0,
	  0 },
	{ "sts-txt-other",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-txt-other.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-txt-other.test", NULL, "crlf", 0, 0 },
	{ "sts-txt-extension",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-txt-extension.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-txt-extension.test", NULL, "crlf", 0,
	  0 },
	{ "sts-txt-cname",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-txt-cname.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-txt-cname.test", NULL, "crlf", 0, 0 },
	{ "sts-policy-bad-version",
	  "version: STSv2\r\nmode: enforce\r\nmx: mx.sts-policy-bad-version.test\r\nmax_age: 86400\r\n",
	  "bad_version", "enforce", 86400, "mx.sts-policy-bad-version.test",
	  NULL, "crlf", 0, 0 },
	{ "sts-policy-bad-mode",
	  "version: STSv1\r\nmode: enforcing\r\nmx: mx.sts-policy-bad-mode.test\r\nmax_age: 86400\r\n",
	  "bad_mode", NULL, 86400, "mx.sts-policy-bad-mode.test", NULL, "crlf",
	  0, 0 },
	{ "sts-policy-bad-max-age",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-policy-bad-max-age.test\r\nmax_age: 31557601\r\n",
	  "bad_max_age", "enforce", -1, "mx.sts-policy-bad-max-age.test", NULL,
	  "crlf", 0, 0 },
	{ "sts-policy-no-mx",
	  "version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n", "missing_mx",
	  "enforce", 86400, "", NULL, "crlf", 0, 0 },
	{ "sts-policy-misspelled",
	  "version: STSv1\r\nmode: enforce\r\nnmx: mx.sts-policy-misspelled.test\r\nmax_age: 86400\r\n",
	  "missing_mx", "enforce", 86400, "", "nmx", "crlf", 0, 0 },
	{ "sts-mx-wildcard",
	  "version: STSv1\r\nmode: enforce\r\nmx: *.sts-mx-wildcard.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "*.sts-mx-wildcard.test", NULL, "crlf", 0,
	  0 },
	{ "sts-mx-wildcard-deep",
	  "version: STSv1\r\nmode: enforce\r\nmx: *.sts-mx-wildcard-deep.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "*.sts-mx-wildcard-deep.test", NULL, "crlf",
	  0, 0 },
	{ "sts-mx-wildcard-apex",
	  "version: STSv1\r\nmode: enforce\r\nmx: *.sts-mx-wildcard-apex.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "*.sts-mx-wildcard-apex.test", NULL, "crlf",
	  0, 0 },
	{ "sts-mx-case",
	  "version: STSv1\r\nmode: enforce\r\nmx: MX.STS-MX-CASE.TEST.\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "MX.STS-MX-CASE.TEST.", NULL, "crlf", 0, 0 },
	{ "sts-mx-mismatch",
	  "version: STSv1\r\nmode: enforce\r\nmx: mail.other.example\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mail.other.example", NULL, "crlf", 0, 0 },
	{ "sts-implicit-mx",
	  "version: STSv1\r\nmode: enforce\r\nmx: sts-implicit-mx.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "sts-implicit-mx.test", NULL, "crlf", 0, 0 },
	{ "sts-enforce-no-starttls",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-enforce-no-starttls.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-enforce-no-starttls.test", NULL,
	  "crlf", 0, 0 },
	{ "sts-enforce-host-mismatch",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-enforce-host-mismatch.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-enforce-host-mismatch.test", NULL,
	  "crlf", 0, 0 },
	{ "sts-enforce-expired",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-enforce-expired.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-enforce-expired.test", NULL, "crlf",
	  0, 0 },
	{ "sts-enforce-untrusted",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-enforce-untrusted.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-enforce-untrusted.test", NULL, "crlf",
	  0, 0 },
	{ "sts-enforce-alert",
	  "version: STSv1\r\nmode: enforce\r\nmx: mx.sts-enforce-alert.test\r\nmax_age: 86400\r\n",
	  "ok", "enforce", 86400, "mx.sts-enforce-alert.test", NULL, "crlf", 0,
	  0 },
};

/* Splits a space-separated list; returns the number of items. */
static size_t split(const char *s, char items[][MTASTS_PATTERN_MAX + 2],
		    size_t max)
{
	size_t n = 0;
	while (s && *s && n < max) {
		const char *sp = strchr(s, ' ');
		size_t len = sp ? (size_t)(sp - s) : strlen(s);
		memcpy(items[n], s, len);
		items[n][len] = '\0';
		n++;
		s = sp ? sp + 1 : s + len;
	}
	return n;
}

UNIT_TEST(mtasts_policy_table)
{
	static char want[MTASTS_MAX_MX][MTASTS_PATTERN_MAX + 2];
	static struct mtasts_policy out;

	for (size_t i = 0; i < sizeof policy_cases / sizeof policy_cases[0];
	     i++) {
		const struct policy_case *t = &policy_cases[i];
		size_t len = t->len ? t->len : strlen(t->body);
		enum mtasts_policy_rc rc =
		    mtasts_policy_parse((const uint8_t *)t->body, len, &out);

		CHECK_STR(mtasts_policy_rc_str(rc), t->rc, t->name);
		CHECK_STR(mtasts_mode_str(out.mode), t->mode, t->name);
		CHECK_INT(out.has_max_age, t->max_age >= 0, t->name);
		if (t->max_age >= 0)
			CHECK_INT(out.max_age, t->max_age, t->name);
		CHECK_STR(mtasts_eol_str(out.eol), t->eol, t->name);
		if (t->error_line)
			CHECK_INT(out.error_line, t->error_line, t->name);
		if (rc == MTASTS_POLICY_OK)
			CHECK_INT(out.error_line, 0, t->name);

		size_t n = split(t->mx, want, MTASTS_MAX_MX);
		CHECK_INT(out.nmx, n, t->name);
		for (size_t k = 0; k < n && k < out.nmx; k++)
			CHECK_STR(out.mx[k], want[k], t->name);
		if (t->unknown) {
			n = split(t->unknown, want, MTASTS_MAX_MX);
			CHECK_INT(out.nunknown, n, t->name);
			for (size_t k = 0; k < n && k < out.nunknown; k++)
				CHECK_STR(out.unknown[k], want[k], t->name);
		}
	}
}

/*
 * The max_age value as served, valid or not (issue M7 item 8): a policy
 * whose max_age is out of range is invalid, and the value it served is
 * still reported, as text always and as a number when it fits in 63 bits.
 */
struct max_age_case {
	const char *name;
	const char *line; /* the max_age line, P_HEAD and an mx line before */
	const char *rc;
	bool valid;	  /* has_max_age */
	long long number; /* -1: not a number (or over 63 bits) */
	const char *text; /* as kept */
	bool cut;
};

static const struct max_age_case max_age_cases[] = {
	{ "in range", "max_age: 86400\r\n", "ok", true, 86400, "86400", false },
	{ "largest", "max_age: 31557600\r\n", "ok", true, 31557600, "31557600",
	  false },
	{ "one over", "max_age: 31557601\r\n", "bad_max_age", false, 31557601,
	  "31557601", false },
	{ "ten digits over", "max_age: 9999999999\r\n", "bad_max_age", false,
	  9999999999LL, "9999999999", false },
	{ "eleven digits", "max_age: 00000086400\r\n", "bad_max_age", false,
	  86400, "00000086400", false },
	{ "int64 max", "max_age: 9223372036854775807\r\n", "bad_max_age", false,
	  9223372036854775807LL, "9223372036854775807", false },
	{ "int64 max + 1", "max_age: 9223372036854775808\r\n", "bad_max_age",
	  false, -1, "9223372036854775808", false },
	{ "over 64 bits", "max_age: 184467440737095516160\r\n", "bad_max_age",
	  false, -1, "184467440737095516160", false },
	{ "negative", "max_age: -1\r\n", "bad_max_age", false, -1, "-1",
	  false },
	{ "unit", "max_age:  1d \t\r\n", "bad_max_age", false, -1, "1d",
	  false },
	{ "empty", "max_age:\r\n", "bad_max_age", false, -1, "", false },
	{ "long",
	  "max_age: "
	  "1111111111222222222233333333334444444444555555555566666666667777777777"
	  "\r\n",
	  "bad_max_age", false, -1,
	  "1111111111222222222233333333334444444444555555555566666666667777",
	  true },
	{ "second line ignored", "max_age: 99999999\r\nmax_age: 5\r\n",
	  "bad_max_age", false, 99999999, "99999999", false },
};

UNIT_TEST(mtasts_policy_max_age_served)
{
	static struct mtasts_policy out;
	char body[512], text[MTASTS_MAX_AGE_TEXT_MAX + 1];

	for (size_t i = 0; i < sizeof max_age_cases / sizeof max_age_cases[0];
	     i++) {
		const struct max_age_case *t = &max_age_cases[i];
		int n = snprintf(body, sizeof body, "%smx: a.example\r\n%s",
				 P_HEAD, t->line);
		enum mtasts_policy_rc rc =
		    mtasts_policy_parse((const uint8_t *)body, (size_t)n, &out);

		CHECK_STR(mtasts_policy_rc_str(rc), t->rc, t->name);
		CHECK_INT(out.has_max_age, t->valid, t->name);
		CHECK_INT(out.max_age_seen, 1, t->name);
		CHECK_INT(out.max_age_number, t->number >= 0, t->name);
		if (t->number >= 0)
			CHECK_INT(out.max_age_served, t->number, t->name);
		memcpy(text, out.max_age_text, out.max_age_text_len);
		text[out.max_age_text_len] = '\0';
		CHECK_STR(text, t->text, t->name);
		CHECK_INT(out.max_age_text_cut, t->cut, t->name);
	}
	/* No max_age line: nothing served. */
	mtasts_policy_parse((const uint8_t *)"version: STSv1\nmode: none\n", 26,
			    &out);
	CHECK_INT(out.max_age_seen, 0, "missing");
	CHECK_INT(out.max_age_number, 0, "missing");
	CHECK_INT(out.max_age_text_len, 0, "missing");
}

UNIT_TEST(mtasts_policy_counts)
{
	static struct mtasts_policy out;
	const char *body =
	    "version: STSv1\nmode: testing\nmode: enforce\nmax_age: 10\n"
	    "max_age: 11\nmx: a.example.\nmx: b.example\n";

	CHECK_INT(
	    mtasts_policy_parse((const uint8_t *)body, strlen(body), &out),
	    MTASTS_POLICY_OK, "counts");
	CHECK_INT(out.nlines, 7, "counts");
	CHECK_INT(out.nlf, 7, "counts");
	CHECK_INT(out.ncrlf, 0, "counts");
	CHECK_INT(out.dup_fields, 2, "counts");
	CHECK_INT(out.mx_total, 2, "counts");
	CHECK_INT(out.mx_trailing_dot, 1, "counts");
	CHECK_INT(out.has_version, 1, "counts");

	CHECK_STR(mtasts_policy_rc_str(MTASTS_POLICY_RC_LAST), "unknown",
		  "range");
	CHECK_STR(mtasts_mode_str(MTASTS_MODE_LAST), NULL, "range");
	CHECK_STR(mtasts_eol_str(MTASTS_EOL_LAST), "unknown", "range");
}

/* Builds a policy with `nmx` mx lines and `nunk` unknown keys into buf. */
static size_t build_policy(char *buf, size_t cap, int nmx, int nunk)
{
	size_t n = (size_t)snprintf(buf, cap,
				    "version: STSv1\nmode: enforce\n"
				    "max_age: 1\n");
	for (int i = 0; i < nmx && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "mx: m%d.example\n", i);
	for (int i = 0; i < nunk && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "k%d: v\n", i);
	return n;
}

UNIT_TEST(mtasts_policy_bounds)
{
	static char buf[MTASTS_POLICY_BODY_MAX + 2];
	static struct mtasts_policy out;

	/* More mx patterns than kept: still valid, flagged. */
	size_t n = build_policy(buf, sizeof buf, MTASTS_MAX_MX + 3, 0);
	CHECK_INT(mtasts_policy_parse((const uint8_t *)buf, n, &out),
		  MTASTS_POLICY_OK, "mx over the cap");
	CHECK_INT(out.nmx, MTASTS_MAX_MX, "mx over the cap");
	CHECK_INT(out.mx_total, MTASTS_MAX_MX + 3, "mx over the cap");
	CHECK_INT(out.mx_truncated, 1, "mx over the cap");
	CHECK_STR(out.mx[MTASTS_MAX_MX - 1], "m63.example", "mx over the cap");
	CHECK_INT(mtasts_mx_match_any(&out, "m63.example"), 63, "kept");
	CHECK_INT(mtasts_mx_match_any(&out, "m64.example"), -1, "dropped");

	/* Exactly at the cap: not flagged. */
	n = build_policy(buf, sizeof buf, MTASTS_MAX_MX, 0);
	CHECK_INT(mtasts_policy_parse((const uint8_t *)buf, n, &out),
		  MTASTS_POLICY_OK, "mx at the cap");
	CHECK_INT(out.mx_truncated, 0, "mx at the cap");

	/* Unknown keys over the list: counted. */
	n = build_policy(buf, sizeof buf, 1, MTASTS_MAX_UNKNOWN_KEYS + 2);
	CHECK_INT(mtasts_policy_parse((const uint8_t *)buf, n, &out),
		  MTASTS_POLICY_OK, "unknown keys");
	CHECK_INT(out.nunknown, MTASTS_MAX_UNKNOWN_KEYS, "unknown keys");
	CHECK_INT(out.unknown_total, MTASTS_MAX_UNKNOWN_KEYS + 2,
		  "unknown keys");

	/* A pattern of exactly MTASTS_PATTERN_MAX characters, and one
	 * over. Labels of 63: 63*4 + 3 dots = 255; take 61 + 3*63 + 3. */
	char pat[MTASTS_PATTERN_MAX + 8];
	memset(pat, 'a', sizeof pat);
	pat[61] = pat[125] = pat[189] = '.';
	pat[MTASTS_PATTERN_MAX] = '\0';
	n = (size_t)snprintf(buf, sizeof buf,
			     "version: STSv1\nmode: enforce\nmax_age: 1\n"
			     "mx: %s.\n",
			     pat);
	CHECK_INT(mtasts_policy_parse((const uint8_t *)buf, n, &out),
		  MTASTS_POLICY_OK, "pattern 253 + dot");
	CHECK_INT(strlen(out.mx[0]), MTASTS_PATTERN_MAX + 1, "pattern 253");
	/* 254 characters, every label still 62 or 63 long. */
	memset(pat, 'a', sizeof pat);
	pat[62] = pat[126] = pat[190] = '.';
	pat[MTASTS_PATTERN_MAX + 1] = '\0';
	n = (size_t)snprintf(buf, sizeof buf,
			     "version: STSv1\nmode: enforce\nmax_age: 1\n"
			     "mx: %s\n",
			     pat);
	CHECK_INT(mtasts_policy_parse((const uint8_t *)buf, n, &out),
		  MTASTS_POLICY_RC_BAD_MX, "pattern 254");

	/* The body cap: over it nothing is read. */
	memset(buf, 'x', sizeof buf);
	CHECK_INT(mtasts_policy_parse((const uint8_t *)buf,
				      MTASTS_POLICY_BODY_MAX + 1, &out),
		  MTASTS_POLICY_RC_TOO_LARGE, "too large");
	CHECK_INT(out.nlines, 0, "too large");
	/* At the cap it is read (and here fails on its content). */
	CHECK_INT(mtasts_policy_parse((const uint8_t *)buf,
				      MTASTS_POLICY_BODY_MAX, &out),
		  MTASTS_POLICY_RC_BAD_LINE, "at the cap");
}

/* ---- MX matching (§4.1) ------------------------------------------ */

struct match_case {
	const char *name;
	const char *pattern;
	const char *host;
	bool match;
};

static const struct match_case match_cases[] = {
	/* RFC 8461 §4.1 */
	{ "exact", "mail.example.com", "mail.example.com", true },
	{ "case", "Mail.Example.COM", "mail.EXAMPLE.com", true },
	{ "trailing dot on host", "mail.example.com", "mail.example.com.",
	  true },
	{ "trailing dot on pattern", "mail.example.com.", "mail.example.com",
	  true },
	{ "different", "mail.example.com", "mx.example.com", false },
	{ "suffix only", "example.com", "mail.example.com", false },
	{ "wildcard one label", "*.example.com", "a.example.com", true },
	{ "wildcard case", "*.EXAMPLE.com", "A.example.COM.", true },
	{ "wildcard not the parent", "*.example.com", "example.com", false },
	{ "wildcard one label only", "*.example.com", "a.b.example.com",
	  false },
	{ "wildcard empty label", "*.example.com", ".example.com", false },
	{ "wildcard needs two labels", "*.com", "example.com", false },
	{ "partial wildcard", "mx*.example.com", "mx1.example.com", false },
	{ "inner wildcard", "a.*.example.com", "a.b.example.com", false },
	{ "literal star host", "*.example.com", "*.example.com", true },
	{ "star only", "*", "a", false },
	{ "empty pattern", "", "", false },
	{ "empty host", "example.com", "", false },
	{ "dot only", ".", ".", false },
	{ "longer host", "mail.example.com", "mail.example.com.evil", false },

	/* testbed scenarios (tests/testbed/scenarios.py) */
	{ "sts-enforce-ok", "mx.sts-enforce-ok.test", "mx.sts-enforce-ok.test",
	  true },
	{ "sts-testing", "mx.sts-testing.test", "mx.sts-testing.test", true },
	{ "sts-lf", "mx.sts-lf.test", "mx.sts-lf.test", true },
	{ "sts-unknown-key", "mx.sts-unknown-key.test",
	  "mx.sts-unknown-key.test", true },
	{ "sts-txt-other", "mx.sts-txt-other.test", "mx.sts-txt-other.test",
	  true },
	{ "sts-txt-extension", "mx.sts-txt-extension.test",
	  "mx.sts-txt-extension.test", true },
	{ "sts-txt-cname", "mx.sts-txt-cname.test", "mx.sts-txt-cname.test",
	  true },
	{ "sts-mx-wildcard", "*.sts-mx-wildcard.test",
	  "mx.sts-mx-wildcard.test", true },
	{ "sts-mx-wildcard-deep", "*.sts-mx-wildcard-deep.test",
	  "a.b.sts-mx-wildcard-deep.test", false },
	{ "sts-mx-wildcard-apex", "*.sts-mx-wildcard-apex.test",
	  "sts-mx-wildcard-apex.test", false },
	{ "sts-mx-case", "MX.STS-MX-CASE.TEST.", "mx.sts-mx-case.test", true },
	{ "sts-mx-mismatch", "mail.other.example", "mx.sts-mx-mismatch.test",
	  false },
	{ "sts-implicit-mx", "sts-implicit-mx.test", "sts-implicit-mx.test",
	  true },
	{ "sts-enforce-no-starttls", "mx.sts-enforce-no-starttls.test",
	  "mx.sts-enforce-no-starttls.test", true },
	{ "sts-enforce-host-mismatch", "mx.sts-enforce-host-mismatch.test",
	  "mx.sts-enforce-host-mismatch.test", true },
	{ "sts-enforce-expired", "mx.sts-enforce-expired.test",
	  "mx.sts-enforce-expired.test", true },
	{ "sts-enforce-untrusted", "mx.sts-enforce-untrusted.test",
	  "mx.sts-enforce-untrusted.test", true },
	{ "sts-enforce-alert", "mx.sts-enforce-alert.test",
	  "mx.sts-enforce-alert.test", true },
};

UNIT_TEST(mtasts_mx_match_table)
{
	for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0];
	     i++) {
		const struct match_case *t = &match_cases[i];
		CHECK_INT(mtasts_mx_match(t->pattern, t->host), t->match,
			  t->name);
	}
	CHECK(!mtasts_mx_match(NULL, "a"));
	CHECK(!mtasts_mx_match("a", NULL));
}

UNIT_TEST(mtasts_mx_match_any_policy)
{
	static struct mtasts_policy out;
	const char *body = "version: STSv1\nmode: enforce\nmax_age: 1\n"
			   "mx: mail.example.com\nmx: *.example.net\n";

	CHECK_INT(
	    mtasts_policy_parse((const uint8_t *)body, strlen(body), &out),
	    MTASTS_POLICY_OK, "match any");
	CHECK_INT(mtasts_mx_match_any(&out, "MAIL.example.com."), 0, "first");
	CHECK_INT(mtasts_mx_match_any(&out, "mx1.example.net"), 1, "second");
	CHECK_INT(mtasts_mx_match_any(&out, "example.net"), -1, "none");
	CHECK_INT(mtasts_mx_match_any(&out, "a.b.example.net"), -1, "deep");
}
