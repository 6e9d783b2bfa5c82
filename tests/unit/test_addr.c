/* addr_is_ipv4_literal(): which MX targets are flagged as IPv4 literals. */
#include <stdbool.h>

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
