/* The text buffer's sticky failure and the errno it reports. */
#include <errno.h>

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
