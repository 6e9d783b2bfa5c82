/* regdomain_of(): the registrable domain by the Public Suffix List. */
#include <stdio.h>
#include <string.h>

#include "crawler/scan/regdomain.h"
#include "unit.h"

struct regdomain_case {
	const char *host;
	const char *want; /* NULL: none */
};

static const struct regdomain_case regdomain_cases[] = {
	{ "mx1.provider.co.uk", "provider.co.uk" }, /* multi-label suffix */
	{ "provider.co.uk", "provider.co.uk" },
	{ "mx.example.com", "example.com" },
	{ "a.b.c.example.com", "example.com" },
	{ "mx.shop.test", "shop.test" }, /* not listed: default rule "*" */
	{ "co.uk", NULL },		 /* a public suffix itself */
	{ "com", NULL },
	{ "192.0.2.1", NULL }, /* looks like an IPv4 literal */
	{ "", NULL },
};

UNIT_TEST(test_regdomain_table)
{
	for (size_t i = 0;
	     i < sizeof regdomain_cases / sizeof regdomain_cases[0]; i++) {
		const struct regdomain_case *c = &regdomain_cases[i];
		const char *got = regdomain_of(c->host);
		if (!c->want ? got != NULL : !got || strcmp(got, c->want))
			unit_fail(__FILE__, __LINE__, "%s: got %s, want %s",
				  c->host, got ? got : "(null)",
				  c->want ? c->want : "(null)");
	}
}

/* Asked again (answered from the per-thread cache), the answer is the
 * same and points into the name given this time. */
UNIT_TEST(test_regdomain_cached)
{
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0;
		     i < sizeof regdomain_cases / sizeof regdomain_cases[0];
		     i++) {
			const struct regdomain_case *c = &regdomain_cases[i];
			char copy[256];
			snprintf(copy, sizeof copy, "%s", c->host);
			const char *got = regdomain_of(copy);
			if (!c->want
				? got != NULL
				: !got || strcmp(got, c->want) || got < copy ||
				      got >= copy + sizeof copy)
				unit_fail(__FILE__, __LINE__,
					  "%s (round %d): got %s", c->host,
					  round, got ? got : "(null)");
		}
	}
}
