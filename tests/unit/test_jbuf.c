/* The text buffer's sticky failure and the errno it reports. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "crawler/util/jbuf.h"
#include "unit.h"

UNIT_TEST(test_jbuf_error_says_why)
{
	struct jbuf b;

	jbuf_init(&b, 4);
	jbuf_puts(&b, "abcd");
	CHECK_INT(jbuf_error(&b), 0, "full to its maximum, not over");
	CHECK_STR(b.data, "abcd", "content");
	jbuf_puts(&b, "e");
	CHECK_INT(b.failed, JBUF_OVER_MAX, "over the maximum");
	CHECK_INT(jbuf_error(&b), -E2BIG, "over the maximum");
	/* The first failure sticks: later appends change nothing. */
	jbuf_puts(&b, "");
	CHECK_INT(jbuf_error(&b), -E2BIG, "sticky");
	CHECK_INT(b.len, 4, "length kept");
	jbuf_reset(&b);
	CHECK_INT(jbuf_error(&b), 0, "reset");
	jbuf_free(&b);

	/* The other failures, as jbuf_append() and jbuf_printf() set them. */
	jbuf_init(&b, 16);
	b.failed = JBUF_NO_MEMORY;
	CHECK_INT(jbuf_error(&b), -ENOMEM, "no memory");
	b.failed = JBUF_BAD_FORMAT;
	CHECK_INT(jbuf_error(&b), -EINVAL, "bad format");
	jbuf_free(&b);
}

/* Hex of every byte value, against snprintf's; over the maximum it fails
 * as any append does and writes nothing. */
UNIT_TEST(test_jbuf_hex)
{
	uint8_t all[256];
	char want[2 * sizeof all + 1];
	struct jbuf b;

	for (size_t i = 0; i < sizeof all; i++) {
		all[i] = (uint8_t)(255 - i);
		snprintf(want + 2 * i, 3, "%02x", all[i]);
	}
	jbuf_init(&b, 1024);
	jbuf_puts(&b, "x=");
	jbuf_hex(&b, all, sizeof all);
	CHECK_INT(jbuf_error(&b), 0, "fits");
	CHECK_INT(b.len, 2 + 2 * sizeof all, "two digits a byte");
	CHECK_STR(b.data + 2, want, "digits as %02x");
	jbuf_hex(&b, all, 0);
	CHECK_INT(b.len, 2 + 2 * sizeof all, "nothing for no bytes");
	jbuf_free(&b);

	jbuf_init(&b, 5);
	jbuf_puts(&b, "ab");
	jbuf_hex(&b, all, 2);
	CHECK_INT(jbuf_error(&b), -E2BIG, "over the maximum");
	CHECK_STR(b.data, "ab", "nothing written past the maximum");
	jbuf_free(&b);
}
