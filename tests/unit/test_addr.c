/* addr_is_ipv4_literal(): which MX targets are flagged as IPv4 literals;
 * addr_text(): address text as inet_ntop() writes it. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crawler/util/addr.h"
#include "unit.h"

struct ipv4_literal_case {
	const char *text;
	bool want;
};

static const struct ipv4_literal_case ipv4_literal_cases[] = {
	{ "192.0.2.1", true },
	{ "0.0.0.0", true },
	{ "255.255.255.255", true },
	{ "010.0.0.1", true },	/* three digits, leading zero: still looks so */
	{ "256.0.0.1", false }, /* a label over 255 */
	{ "1000.0.0.1", false }, /* four digits */
	{ "192.0.2", false },	 /* three labels */
	{ "192.0.2.1.5", false },
	{ "192.0.2.", false },	/* three labels and a trailing dot */
	{ "192.0.2.1.", true }, /* a trailing dot ends the name, as in DNS */
	{ "192..2.1", false },
	{ "mx.192.0.2.1", false },
	{ "192.0.2.1.", true }, /* a trailing dot ends the name, as in DNS */
	{ "2001:db8::1", false },
	{ "", false },
};

UNIT_TEST(test_addr_is_ipv4_literal)
{
	for (size_t i = 0;
	     i < sizeof ipv4_literal_cases / sizeof ipv4_literal_cases[0];
	     i++) {
		const struct ipv4_literal_case *c = &ipv4_literal_cases[i];
		bool got = addr_is_ipv4_literal(c->text);
		if (got != c->want)
			unit_fail(__FILE__, __LINE__, "'%s': got %d, want %d",
				  c->text, got, c->want);
	}
}

/* addr_text() writes what inet_ntop() writes: crafted IPv6 forms (zero
 * runs of every length and place, ties, embedded IPv4) and random ones
 * with words of 0, 1, 0xffff or anything. */
UNIT_TEST(test_addr_text_as_inet_ntop)
{
	static const char *const forms[] = {
		"::",
		"::1",
		"1::",
		"1::1",
		"::ffff:192.0.2.1",
		"::192.0.2.1",
		"::2",
		"::ffff:0:1",
		"1:0:0:1:0:0:0:1",
		"1:0:0:1:1:0:0:1",
		"1:0:1:0:1:0:1:0",
		"2001:db8::25",
		"fe80::1:2:3:4",
		"0:0:1::",
		"ffff::ffff:1.2.3.4",
		"::ffff:0.0.0.0",
		"::0.0.1.0",
		"1:2:3:4:5:6:7:8",
	};
	uint8_t b[16];
	char want[64], got[64];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		CHECK(inet_pton(AF_INET6, forms[i], b) == 1);
		inet_ntop(AF_INET6, b, want, sizeof want);
		CHECK(addr_text(AF_INET6, b, got, sizeof got));
		CHECK_STR(got, want, forms[i]);
	}
	for (int n = 0; n < 20000; n++) {
		for (int k = 0; k < 8; k++) {
			seed = seed * 1103515245u + 12345u;
			unsigned kind = seed >> 28, v = (seed >> 8) & 0xffff;
			unsigned word = kind < 8    ? 0
					: kind < 10 ? 1
					: kind < 12 ? 0xffff
						    : v;
			b[2 * k] = (uint8_t)(word >> 8);
			b[2 * k + 1] = (uint8_t)word;
		}
		inet_ntop(AF_INET6, b, want, sizeof want);
		CHECK(addr_text(AF_INET6, b, got, sizeof got));
		CHECK_STR(got, want, want);
		inet_ntop(AF_INET, b, want, sizeof want);
		CHECK(addr_text(AF_INET, b, got, sizeof got));
		CHECK_STR(got, want, want);
	}
	CHECK(!addr_text(AF_INET6, b, got, 3));
	CHECK_STR(got, "", "too small");
}
