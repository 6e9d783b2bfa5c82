/* Whether the EHLO name points back at the scanner
 * (crawler/scan/ehlocheck.c): the finding from the name's addresses and
 * the scanner's, by the rule (one of the name's addresses is the
 * scanner's), not from the code. */
#include <sys/socket.h>

#include "crawler/scan/ehlocheck.h"
#include "unit.h"

static struct addr A(const char *text) {
	struct addr a;
	memset(&a, 0, sizeof a);
	if (addr_parse(text, &a) != 0)
		unit_fail(__FILE__, __LINE__, "bad address %s", text);
	return a;
}

UNIT_TEST(test_ehlo_check_judge)
{
	static const struct {
		bool known;
		const char *names[3];
		const char *self; /* NULL: no connection yet */
		enum ehlo_check want;
	} rows[] = {
		{ true, { "127.0.0.1" }, "127.0.0.1", EHLO_CHECK_MATCHES },
		{ true, { "192.0.2.1" }, "127.0.0.1", EHLO_CHECK_MISMATCH },
		{ true,
		  { "192.0.2.1", "127.0.0.1" },
		  "127.0.0.1",
		  EHLO_CHECK_MATCHES },
		/* Only an AAAA, the connection over IPv4: what a receiving
		 * server checks for that connection fails. */
		{ true, { "2001:db8::1" }, "192.0.2.1", EHLO_CHECK_MISMATCH },
		{ true, { "2001:db8::1" }, "2001:db8::1", EHLO_CHECK_MATCHES },
		/* A dual-stack socket's IPv4 source, mapped. */
		{ true,
		  { "192.0.2.7" },
		  "::ffff:192.0.2.7",
		  EHLO_CHECK_MATCHES },
		{ true,
		  { "::ffff:192.0.2.7" },
		  "192.0.2.7",
		  EHLO_CHECK_MATCHES },
		{ true,
		  { "192.0.2.7" },
		  "::ffff:192.0.2.8",
		  EHLO_CHECK_MISMATCH },
		/* Same bytes, other family: not the same address. */
		{ true, { "::c000:207" }, "192.0.2.7", EHLO_CHECK_MISMATCH },
		/* No address: known at once, connection or not. */
		{ true, { NULL }, "127.0.0.1", EHLO_CHECK_NO_ADDRESS },
		{ true, { NULL }, NULL, EHLO_CHECK_NO_ADDRESS },
		/* Addresses but no connection yet. */
		{ true, { "127.0.0.1" }, NULL, EHLO_CHECK_NOT_CHECKED },
		/* The lookup got no usable answer. */
		{ false, { NULL }, "127.0.0.1", EHLO_CHECK_NOT_CHECKED },
	};

	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		struct ehlo_names n = { .known = rows[i].known };
		struct addr self;
		for (size_t k = 0; k < 3 && rows[i].names[k]; k++)
			n.a[n.n++] = A(rows[i].names[k]);
		if (rows[i].self)
			self = A(rows[i].self);
		char ctx[32];
		snprintf(ctx, sizeof ctx, "row %zu", i);
		CHECK_STR(ehlo_check_str(ehlo_check_judge(
			      &n, rows[i].self ? &self : NULL)),
			  ehlo_check_str(rows[i].want), ctx);
	}
	CHECK_STR(ehlo_check_str(EHLO_CHECK_LAST), "?", "out of range");
}

UNIT_TEST(test_ehlo_watch_json)
{
	struct ehlo_watch w = { .name = "scanner.example" };
	struct jbuf b;

	jbuf_init(&b, 4096);
	ehlo_watch_json(&b, &w);
	CHECK_STR(b.data,
		  "\"ehlo_name_check\": \"not_checked\", "
		  "\"ehlo_name_addresses\": null, \"scanner_address\": null",
		  "nothing known");
	jbuf_reset(&b);
	w.names.known = true;
	w.names.a[w.names.n++] = A("192.0.2.1");
	w.names.a[w.names.n++] = A("2001:db8::1");
	w.self = A("127.0.0.1");
	w.have_self = true;
	w.result = ehlo_check_judge(&w.names, &w.self);
	ehlo_watch_json(&b, &w);
	CHECK_STR(b.data,
		  "\"ehlo_name_check\": \"mismatch\", "
		  "\"ehlo_name_addresses\": [\"192.0.2.1\", \"2001:db8::1\"], "
		  "\"scanner_address\": \"127.0.0.1\"",
		  "a mismatch");
	jbuf_free(&b);
}
