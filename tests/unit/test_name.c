/* name_normalize(): one table row per kind of input a target list holds. */
#include <stdint.h>
#include <string.h>

#include "targets/name.h"
#include "unit.h"

struct name_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	enum name_rc rc;
	const char *out;    /* expected name when rc == NAME_OK */
	const char *detail; /* a part the detail must contain, or NULL */
};

static const struct name_case name_cases[] = {
	/* Plain names, case and the trailing dot. */
	{ "example.com", 0, NAME_OK, "example.com", NULL },
	{ "Example.COM", 0, NAME_OK, "example.com", NULL },
	{ "example.com.", 0, NAME_OK, "example.com", NULL },
	{ "  example.com \t", 0, NAME_OK, "example.com", NULL },
	{ "a-b.c0m", 0, NAME_OK, "a-b.c0m", NULL },
	{ "ab--cd.example", 0, NAME_OK, "ab--cd.example", NULL },
	{ "123.example", 0, NAME_OK, "123.example", NULL },
	{ "com", 0, NAME_OK, "com", NULL }, /* TLDs are root delegations */
	{ "COM.", 0, NAME_OK, "com", NULL },
	/* IDNs to A-labels. */
	{ "bücher.example", 0, NAME_OK, "xn--bcher-kva.example", NULL },
	{ "ÉCOLE.fr", 0, NAME_OK, "xn--cole-9oa.fr", NULL },
	{ "xn--bcher-kva.example", 0, NAME_OK, "xn--bcher-kva.example", NULL },
	{ "XN--BCHER-KVA.Example", 0, NAME_OK, "xn--bcher-kva.example", NULL },
	{ "münchen.de.", 0, NAME_OK, "xn--mnchen-3ya.de", NULL },
	{ "ß.de", 0, NAME_OK, "xn--zca.de", NULL }, /* non-transitional */
	{ "例え.jp", 0, NAME_OK, "xn--r8jz45g.jp", NULL },
	{ "ａｂｃ。com", 0, NAME_OK, "abc.com", NULL }, /* TR46 mapping */
	/* Full stops that TR46 maps to '.' (U+3002, U+FF0E, U+FF61): one
	 * at the end is the root dot, two are an empty last label, exactly
	 * as with ASCII dots. */
	{ "x\xe3\x80\x82", 0, NAME_OK, "x", NULL },
	{ "x\xef\xbc\x8e", 0, NAME_OK, "x", NULL },
	{ "x\xef\xbd\xa1", 0, NAME_OK, "x", NULL },
	{ "b\xc3\xbc\xe3\x80\x82", 0, NAME_OK, "xn--b-eha", NULL },
	{ "x.\xe3\x80\x82", 0, NAME_LABEL_EMPTY, NULL, "last label" },
	{ "x\xef\xbc\x8e\xe3\x80\x82", 0, NAME_LABEL_EMPTY, NULL, NULL },
	{ "x\xe3\x80\x82.", 0, NAME_LABEL_EMPTY, NULL, NULL },
	{ "b.\xe3\x80\x82", 0, NAME_LABEL_EMPTY, NULL, NULL },
	{ "x\xe3\x80\x82.y", 0, NAME_LABEL_EMPTY, NULL, "IDN mapping" },
	{ "\xe3\x80\x82x", 0, NAME_LABEL_EMPTY, NULL, "starts with a dot" },
	{ "\xe3\x80\x82", 0, NAME_EMPTY, NULL, NULL },
	{ "\xe3\x80\x82\xe3\x80\x82", 0, NAME_LABEL_EMPTY, NULL, NULL },
	{ "192.0.2.1\xe3\x80\x82", 0, NAME_IP_ADDRESS, NULL, NULL },
	/* Empty and root. */
	{ "", 0, NAME_EMPTY, NULL, "empty" },
	{ " \t ", 0, NAME_EMPTY, NULL, "empty" },
	{ ".", 0, NAME_EMPTY, NULL, "root" },
	/* Bytes that show the line is not a name. */
	{ "exam\0ple.com", 12, NAME_NUL, NULL, "byte 0x00 at offset 4" },
	{ "\0", 1, NAME_NUL, NULL, "offset 0" },
	{ "ex\x01mple.com", 0, NAME_CONTROL, NULL, "0x01 at offset 2" },
	{ "example.com\x7f", 0, NAME_CONTROL, NULL, "0x7f" },
	{ "ex\xc2\x85mple.com", 0, NAME_SPACE, NULL, "U+0085" },
	{ "ex\xc2\x9bmple.com", 0, NAME_CONTROL, NULL, "U+009B" },
	{ "exa mple.com", 0, NAME_SPACE, NULL, "offset 3" },
	{ "example.com foo", 0, NAME_SPACE, NULL, "offset 11" },
	{ "exa\tmple.com", 0, NAME_SPACE, NULL, "0x09" },
	{ "exa\xc2\xa0mple.com", 0, NAME_SPACE, NULL, "U+00A0" },
	{ "exa\xe3\x80\x80mple.com", 0, NAME_SPACE, NULL, "U+3000" },
	{ "b\xfc"
	  "cher.example",
	  0, NAME_BAD_UTF8, NULL, "0xfc at offset 1" },
	{ "\xc0\xaf.example", 0, NAME_BAD_UTF8, NULL, "0xc0" }, /* overlong */
	{ "\xed\xa0\x80.example", 0, NAME_BAD_UTF8, NULL,
	  NULL },				       /* surrogate */
	{ "a\xe2\x82", 0, NAME_BAD_UTF8, NULL, NULL }, /* cut sequence */
	{ "\xff\xfe\x00\x01", 4, NAME_BAD_UTF8, NULL, NULL },
	/* Patterns and addresses. */
	{ "*.example.com", 0, NAME_WILDCARD, NULL, "wildcard" },
	{ "*", 0, NAME_WILDCARD, NULL, NULL },
	{ "a.*.example", 0, NAME_BAD_CHAR, NULL, "'*'" },
	{ "*foo.example", 0, NAME_BAD_CHAR, NULL, "'*'" },
	{ "192.0.2.1", 0, NAME_IP_ADDRESS, NULL, "'192.0.2.1'" },
	{ "192.0.2.1.", 0, NAME_IP_ADDRESS, NULL, NULL },
	{ "2001:db8::1", 0, NAME_IP_ADDRESS, NULL, NULL },
	{ "::1", 0, NAME_IP_ADDRESS, NULL, NULL },
	{ "fe80::1%eth0", 0, NAME_IP_ADDRESS, NULL, NULL },
	{ "[192.0.2.1]", 0, NAME_IP_ADDRESS, NULL, NULL },
	{ "[IPv6:2001:db8::1]", 0, NAME_IP_ADDRESS, NULL, NULL },
	{ "192.0.2", 0, NAME_NUMERIC_TLD, NULL, "'2'" },
	/* Label structure. */
	{ ".example.com", 0, NAME_LABEL_EMPTY, NULL, "starts with a dot" },
	{ "example..com", 0, NAME_LABEL_EMPTY, NULL, "offset 7" },
	{ "example.com..", 0, NAME_LABEL_EMPTY, NULL, "\"..\"" },
	{ "..", 0, NAME_LABEL_EMPTY, NULL, NULL },
	{ "a..bücher", 0, NAME_LABEL_EMPTY, NULL, NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".com",
	  0, NAME_LABEL_TOO_LONG, NULL, "is 70 bytes (max 63)" },
	/* 63 is fine. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	  0, NAME_OK,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	  NULL },
	{ "üüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüüü.de",
	  0, NAME_LABEL_TOO_LONG, NULL, "as an A-label" },
	/* Character rules. */
	{ "_dmarc.example.com", 0, NAME_BAD_CHAR, NULL, "RFC 5321" },
	{ "a_b.example", 0, NAME_BAD_CHAR, NULL, "underscore in label 'a_b'" },
	{ "user@example.com", 0, NAME_BAD_CHAR, NULL, "'@'" },
	{ "http://example.com/", 0, NAME_BAD_CHAR, NULL, "':'" },
	{ "example.com,", 0, NAME_BAD_CHAR, NULL, "','" },
	{ "a_b.bücher", 0, NAME_BAD_CHAR, NULL, "underscore" },
	{ "-example.com", 0, NAME_HYPHEN_EDGE, NULL, "starts with a hyphen" },
	{ "example-.com", 0, NAME_HYPHEN_EDGE, NULL, "ends with a hyphen" },
	{ "example.com-", 0, NAME_HYPHEN_EDGE, NULL, NULL },
	{ "example.123", 0, NAME_NUMERIC_TLD, NULL, "'123' is all digits" },
	{ "bücher.123", 0, NAME_NUMERIC_TLD, NULL, NULL },
	/* IDNs libidn2 refuses. */
	{ "xn--zz.example", 0, NAME_IDN_INVALID, NULL, "'xn--zz'" },
	{ "ok.xn--zz", 0, NAME_IDN_INVALID, NULL, "punycode" },
	{ "xn--.example", 0, NAME_IDN_INVALID, NULL, NULL },
	{ "xn--a.example", 0, NAME_IDN_INVALID, NULL, NULL },
	{ "☃.example", 0, NAME_IDN_INVALID, NULL, "disallowed" },
	{ "😀.example", 0, NAME_IDN_INVALID, NULL, NULL },
	{ "a\xe2\x80\x8d"
	  "b.example",
	  0, NAME_IDN_INVALID, NULL, NULL }, /* ZWJ */
	{ "-bücher.example", 0, NAME_IDN_INVALID, NULL, "hyphen" },
	{ "ab--cü.example", 0, NAME_IDN_INVALID, NULL, NULL },
};

UNIT_TEST(test_name_table)
{
	char out[NAME_MAX_TEXT + 1], ctx[128];
	struct name_err err;
	size_t outlen;

	for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
		const struct name_case *c = &name_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		enum name_rc rc;

		snprintf(ctx, sizeof ctx, "row %zu \"%s\"", i, c->in);
		rc = name_normalize((const uint8_t *)c->in, len, out, &outlen,
				    &err);
		CHECK_STR(name_rc_str(rc), name_rc_str(c->rc), ctx);
		if (c->rc == NAME_OK) {
			CHECK_STR(out, c->out, ctx);
			CHECK_INT(outlen, strlen(c->out), ctx);
			CHECK_STR(err.detail, "", ctx);
		} else {
			CHECK_INT(err.rc, c->rc, ctx);
			CHECK_INT(outlen, 0, ctx);
			CHECK(err.detail[0] != '\0');
		}
		if (c->detail && !strstr(err.detail, c->detail))
			unit_fail(__FILE__, __LINE__,
				  "%s: detail \"%s\" lacks \"%s\"", ctx,
				  err.detail, c->detail);
	}
}

/* A name and its total length limit: 253 bytes pass, 254 do not. */
UNIT_TEST(test_name_total_length)
{
	char in[600], out[NAME_MAX_TEXT + 1];
	struct name_err err;
	size_t outlen, n = 0;

	/* 3 labels of 63 + 1 of 61, with dots: 63*3 + 61 + 3 = 253. */
	for (int l = 0; l < 4; l++) {
		int w = l < 3 ? 63 : 61;
		memset(in + n, 'a' + l, (size_t)w);
		n += (size_t)w;
		in[n++] = '.';
	}
	n--; /* no trailing dot */
	CHECK_INT(n, 253, "built");
	CHECK_INT(name_normalize((uint8_t *)in, n, out, &outlen, &err), NAME_OK,
		  "253 bytes");
	CHECK_INT(outlen, 253, "253 bytes");
	in[n++] = '.';
	CHECK_INT(name_normalize((uint8_t *)in, n, out, &outlen, &err), NAME_OK,
		  "253 bytes and the root dot");
	in[n - 1] = 'x';
	CHECK_INT(name_normalize((uint8_t *)in, n, out, &outlen, &err),
		  NAME_TOO_LONG, "254 bytes");
	CHECK(strstr(err.detail, "254 bytes (max 253)") != NULL);

	/* Over NAME_MAX_INPUT: refused before anything is looked at. */
	char big[NAME_MAX_INPUT + 10];
	memset(big, 'a', sizeof big);
	CHECK_INT(
	    name_normalize((uint8_t *)big, sizeof big, out, &outlen, &err),
	    NAME_TOO_LONG, "over input cap");
	CHECK(strstr(err.detail, "1034 bytes") != NULL);

	/* An IDN too long for libidn2, measured label by label. */
	n = 0;
	for (int l = 0; l < 8; l++) {
		for (int k = 0; k < 20; k++) {
			memcpy(in + n, "b\xc3\xbc", 3); /* "bü" */
			n += 3;
		}
		in[n++] = '.';
	}
	memcpy(in + n, "de", 2);
	n += 2;
	CHECK_INT(name_normalize((uint8_t *)in, n, out, &outlen, &err),
		  NAME_TOO_LONG, "IDN over 253 as A-labels");
	CHECK(strstr(err.detail, "bytes as A-labels (max 253)") != NULL);
}

/* Output of name_normalize() is a fixed point, and err may be NULL. */
UNIT_TEST(test_name_idempotent)
{
	char out[NAME_MAX_TEXT + 1], again[NAME_MAX_TEXT + 1];
	size_t outlen, againlen;

	for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
		const struct name_case *c = &name_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);

		if (name_normalize((const uint8_t *)c->in, len, out, &outlen,
				   NULL) != NAME_OK)
			continue;
		CHECK_INT(name_normalize((const uint8_t *)out, outlen, again,
					 &againlen, NULL),
			  NAME_OK, c->in);
		CHECK_STR(again, out, c->in);
	}
}

UNIT_TEST(test_name_rc_str)
{
	CHECK_STR(name_rc_str(NAME_OK), "ok", "ok");
	CHECK_STR(name_rc_str(NAME_LABEL_TOO_LONG), "label_too_long", "ltl");
	CHECK_STR(name_rc_str(NAME_IDN_INVALID), "idn_invalid", "idn");
	CHECK_STR(name_rc_str(NAME_NUMERIC_TLD), "numeric_tld", "tld");
	CHECK_STR(name_rc_str(NAME_RC_LAST), "unknown", "last");
	/* Every code has its own string. */
	for (int a = 0; a < NAME_RC_LAST; a++) {
		CHECK(name_rc_str((enum name_rc)a) != NULL);
		CHECK(strcmp(name_rc_str((enum name_rc)a), "unknown") != 0);
		for (int b = a + 1; b < NAME_RC_LAST; b++)
			CHECK(strcmp(name_rc_str((enum name_rc)a),
				     name_rc_str((enum name_rc)b)) != 0);
	}
}
