/* COPY text encoding: escapes, invalid UTF-8, arrays and bytea. */
#include <stdint.h>
#include <string.h>

#include "crawler/store/copyfmt.h"
#include "unit.h"

struct text_case {
	const char *in;
	size_t len;
	const char *want;
};

UNIT_TEST(test_copy_text_table)
{
	static const struct text_case cases[] = {
		{ "plain", 5, "plain" },
		{ "a\tb", 3, "a\\tb" },
		{ "a\nb\rc", 5, "a\\nb\\rc" },
		{ "back\\slash", 10, "back\\\\slash" },
		{ "quote\"", 6, "quote\"" },
		{ "nul\0x", 5, "nul\xef\xbf\xbdx" },
		{ "bad\xff", 4, "bad\xef\xbf\xbd" },
		{ "caf\xc3\xa9", 5, "caf\xc3\xa9" },
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong */
		{ "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* long runs (read a word at a time) with escapes inside */
		{ "0123456789abcdef\\ghijklmnopqrstu\tvwxyz", 38,
		  "0123456789abcdef\\\\ghijklmnopqrstu\\tvwxyz" },
		{ "mx1.example-provider.test\x01ok", 28,
		  "mx1.example-provider.test\x01ok" },
		{ "0123456789abcdef\xc3\xa9\"quoted\"", 26,
		  "0123456789abcdef\xc3\xa9\"quoted\"" },
		/* other control characters pass as they are */
		{ "a\x01\x0b\x0c\x1f\x7f", 6, "a\x01\x0b\x0c\x1f\x7f" },
		{ "\\\t\xc3\xa9x\xc3", 6, "\\\\\\t\xc3\xa9x\xef\xbf\xbd" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct jbuf b;
		jbuf_init(&b, 1024);
		copy_text(&b, cases[i].in, cases[i].len);
		CHECK_STR(b.data, cases[i].want, cases[i].want);
		jbuf_free(&b);
	}
}

UNIT_TEST(test_copy_arrays_and_bytea)
{
	struct jbuf b;
	struct copy_array a;
	const uint8_t bytes[] = { 0x00, 0xff, 0x10 };

	jbuf_init(&b, 1024);
	copy_array_begin(&a, &b);
	copy_array_text(&a, "x\"y", 3);
	copy_array_text(&a, "a\\b", 3);
	copy_array_text(&a, "0123456789\"abcdefghij\\klm", 25);
	copy_array_text(&a, "t\tz", 3);
	copy_array_end(&a);
	/* Array quoting first ("x\"y"), then COPY doubles each backslash. */
	CHECK_STR(b.data,
		  "{\"x\\\\\"y\",\"a\\\\\\\\b\","
		  "\"0123456789\\\\\"abcdefghij\\\\\\\\klm\",\"t\\tz\"}",
		  "text array");
	jbuf_reset(&b);
	copy_bytea(&b, bytes, sizeof bytes);
	CHECK_STR(b.data, "\\\\x00ff10", "bytea");
	jbuf_reset(&b);
	copy_array_begin(&a, &b);
	copy_array_bytea(&a, bytes, 2);
	copy_array_int(&a, -7);
	copy_array_end(&a);
	CHECK_STR(b.data, "{\"\\\\\\\\x00ff\",-7}", "bytea array");
	jbuf_reset(&b);
	copy_str(&b, NULL);
	copy_field(&b);
	copy_bool(&b, true);
	copy_row_end(&b);
	CHECK_STR(b.data, "\\N\tt\n", "null, bool, row");
	jbuf_reset(&b);
	const char *lead[] = { "a\tb", NULL, "c" };
	copy_strs(&b, lead, 3);
	copy_int(&b, 7);
	copy_row_end(&b);
	CHECK_STR(b.data, "a\\tb\t\\N\tc\t7\n", "leading fields");
	jbuf_reset(&b);
	copy_int(&b, 0);
	copy_field(&b);
	copy_int(&b, INT64_MIN);
	copy_field(&b);
	copy_int(&b, INT64_MAX);
	CHECK_STR(b.data, "0\t-9223372036854775808\t9223372036854775807",
		  "integers");
	jbuf_free(&b);
}

UNIT_TEST(test_jbuf_cap_sticks)
{
	struct jbuf b;

	jbuf_init(&b, 8);
	jbuf_puts(&b, "12345678");
	CHECK(!b.failed);
	jbuf_puts(&b, "9");
	CHECK(b.failed);
	jbuf_puts(&b, "");
	CHECK(b.failed);
	CHECK(jbuf_room(&b, 1) == NULL);
	jbuf_free(&b);
}
