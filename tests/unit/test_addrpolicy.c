/*
 * The address policy: classification rows at every boundary of every
 * special-purpose range, --allow-cidr parsing and precedence, and the
 * blocklist file format with one row per refusal. Addresses here are data
 * for a pure classifier; nothing is ever contacted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crawler/scan/addrpolicy.h"
#include "unit.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct class_case {
	const char *addr;
	enum addr_class cls;
};

/* For each IPv4 range: one below, first, last, one above. */
static const struct class_case v4_cases[] = {
	/* 0.0.0.0/8 "this network". */
	{ "0.0.0.0", ADDR_UNSPECIFIED },
	{ "0.255.255.255", ADDR_UNSPECIFIED },
	{ "1.0.0.0", ADDR_PUBLIC },
	/* 10.0.0.0/8. */
	{ "9.255.255.255", ADDR_PUBLIC },
	{ "10.0.0.0", ADDR_PRIVATE },
	{ "10.255.255.255", ADDR_PRIVATE },
	{ "11.0.0.0", ADDR_PUBLIC },
	/* 100.64.0.0/10. */
	{ "100.63.255.255", ADDR_PUBLIC },
	{ "100.64.0.0", ADDR_CGNAT },
	{ "100.127.255.255", ADDR_CGNAT },
	{ "100.128.0.0", ADDR_PUBLIC },
	/* 127.0.0.0/8. */
	{ "126.255.255.255", ADDR_PUBLIC },
	{ "127.0.0.0", ADDR_LOOPBACK },
	{ "127.0.0.1", ADDR_LOOPBACK },
	{ "127.255.255.255", ADDR_LOOPBACK },
	{ "128.0.0.0", ADDR_PUBLIC },
	/* 169.254.0.0/16. */
	{ "169.253.255.255", ADDR_PUBLIC },
	{ "169.254.0.0", ADDR_LINK_LOCAL },
	{ "169.254.255.255", ADDR_LINK_LOCAL },
	{ "169.255.0.0", ADDR_PUBLIC },
	/* 172.16.0.0/12. */
	{ "172.15.255.255", ADDR_PUBLIC },
	{ "172.16.0.0", ADDR_PRIVATE },
	{ "172.31.255.255", ADDR_PRIVATE },
	{ "172.32.0.0", ADDR_PUBLIC },
	/* 192.0.0.0/24 IETF protocol assignments. */
	{ "191.255.255.255", ADDR_PUBLIC },
	{ "192.0.0.0", ADDR_RESERVED },
	{ "192.0.0.255", ADDR_RESERVED },
	{ "192.0.1.0", ADDR_PUBLIC },
	/* 192.0.2.0/24 TEST-NET-1. */
	{ "192.0.1.255", ADDR_PUBLIC },
	{ "192.0.2.0", ADDR_DOCUMENTATION },
	{ "192.0.2.255", ADDR_DOCUMENTATION },
	{ "192.0.3.0", ADDR_PUBLIC },
	/* 192.88.99.0/24 deprecated 6to4 relay anycast. */
	{ "192.88.98.255", ADDR_PUBLIC },
	{ "192.88.99.0", ADDR_RESERVED },
	{ "192.88.99.255", ADDR_RESERVED },
	{ "192.88.100.0", ADDR_PUBLIC },
	/* 192.168.0.0/16. */
	{ "192.167.255.255", ADDR_PUBLIC },
	{ "192.168.0.0", ADDR_PRIVATE },
	{ "192.168.255.255", ADDR_PRIVATE },
	{ "192.169.0.0", ADDR_PUBLIC },
	/* 198.18.0.0/15. */
	{ "198.17.255.255", ADDR_PUBLIC },
	{ "198.18.0.0", ADDR_BENCHMARK },
	{ "198.19.255.255", ADDR_BENCHMARK },
	{ "198.20.0.0", ADDR_PUBLIC },
	/* 198.51.100.0/24 TEST-NET-2. */
	{ "198.51.99.255", ADDR_PUBLIC },
	{ "198.51.100.0", ADDR_DOCUMENTATION },
	{ "198.51.100.255", ADDR_DOCUMENTATION },
	{ "198.51.101.0", ADDR_PUBLIC },
	/* 203.0.113.0/24 TEST-NET-3. */
	{ "203.0.112.255", ADDR_PUBLIC },
	{ "203.0.113.0", ADDR_DOCUMENTATION },
	{ "203.0.113.255", ADDR_DOCUMENTATION },
	{ "203.0.114.0", ADDR_PUBLIC },
	/* 224.0.0.0/4; its upper neighbour is 240/4. */
	{ "223.255.255.255", ADDR_PUBLIC },
	{ "224.0.0.0", ADDR_MULTICAST },
	{ "239.255.255.255", ADDR_MULTICAST },
	/* 240.0.0.0/4; its upper neighbour is the broadcast address. */
	{ "240.0.0.0", ADDR_RESERVED },
	{ "255.255.255.254", ADDR_RESERVED },
	/* 255.255.255.255/32. */
	{ "255.255.255.255", ADDR_BROADCAST },
	/* Clearly public. */
	{ "8.8.8.8", ADDR_PUBLIC },
	{ "1.1.1.1", ADDR_PUBLIC },
	{ "93.184.216.34", ADDR_PUBLIC },
	{ "223.255.255.254", ADDR_PUBLIC },
};

/*
 * For each IPv6 range: one below, first, last, one above. Outside
 * 2000::/3 the neighbours are themselves "Reserved by IETF", so there a
 * neighbour shows the row did not spill, not that the space is public.
 */
static const struct class_case v6_cases[] = {
	/* ::/128 and ::1/128; ::2 is the compatible form of 0.0.0.2. */
	{ "::", ADDR_UNSPECIFIED },
	{ "::1", ADDR_LOOPBACK },
	{ "::2", ADDR_UNSPECIFIED },
	/* ::ffff:0:0/96 mapped: the class of the embedded IPv4. */
	{ "::fffe:ffff:ffff", ADDR_RESERVED },
	{ "::ffff:0.0.0.0", ADDR_UNSPECIFIED },
	{ "::ffff:255.255.255.255", ADDR_BROADCAST },
	{ "::1:0:0:0", ADDR_RESERVED },
	{ "::ffff:8.8.8.8", ADDR_PUBLIC },
	{ "::ffff:10.0.0.1", ADDR_PRIVATE },
	{ "::ffff:127.0.0.1", ADDR_LOOPBACK },
	{ "::ffff:100.64.0.1", ADDR_CGNAT },
	{ "::ffff:169.254.1.1", ADDR_LINK_LOCAL },
	{ "::ffff:172.31.0.1", ADDR_PRIVATE },
	{ "::ffff:192.168.1.1", ADDR_PRIVATE },
	{ "::ffff:192.0.2.1", ADDR_DOCUMENTATION },
	{ "::ffff:198.18.0.1", ADDR_BENCHMARK },
	{ "::ffff:224.0.0.1", ADDR_MULTICAST },
	{ "::ffff:240.0.0.1", ADDR_RESERVED },
	{ "::ffff:100.63.255.255", ADDR_PUBLIC },
	/* ::/96 compatible (deprecated): special v4 keeps its class, a
	 * public one is reserved because the form is never routed. */
	{ "::0.0.0.3", ADDR_UNSPECIFIED },
	{ "::10.0.0.1", ADDR_PRIVATE },
	{ "::127.0.0.1", ADDR_LOOPBACK },
	{ "::169.254.0.1", ADDR_LINK_LOCAL },
	{ "::8.8.8.8", ADDR_RESERVED },
	{ "::255.255.255.255", ADDR_BROADCAST },
	{ "::1:0:0", ADDR_RESERVED },
	/* 64:ff9b::/96 NAT64 well-known prefix: the embedded IPv4. */
	{ "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "64:ff9b::", ADDR_UNSPECIFIED },
	{ "64:ff9b::ffff:ffff", ADDR_BROADCAST },
	{ "64:ff9b::1:0:0", ADDR_RESERVED },
	{ "64:ff9b::8.8.8.8", ADDR_PUBLIC },
	{ "64:ff9b::10.1.2.3", ADDR_PRIVATE },
	{ "64:ff9b::127.0.0.1", ADDR_LOOPBACK },
	{ "64:ff9b::192.168.1.1", ADDR_PRIVATE },
	{ "64:ff9b::100.64.0.1", ADDR_CGNAT },
	{ "64:ff9b::203.0.113.9", ADDR_DOCUMENTATION },
	/* 64:ff9b:1::/48 local-use NAT64. */
	{ "64:ff9b:0:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "64:ff9b:1::", ADDR_PRIVATE },
	{ "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", ADDR_PRIVATE },
	{ "64:ff9b:2::", ADDR_RESERVED },
	/* 100::/64 discard-only. */
	{ "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "100::", ADDR_RESERVED },
	{ "100::ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "100:0:0:1::", ADDR_RESERVED },
	/* 2001::/23 IETF protocol assignments, Teredo included. */
	{ "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_PUBLIC },
	{ "2001::", ADDR_RESERVED },
	{ "2001:0:4136:e378:8000:63bf:3fff:fdd2", ADDR_RESERVED },
	{ "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "2001:200::", ADDR_PUBLIC },
	/* 2001:db8::/32 documentation. */
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_PUBLIC },
	{ "2001:db8::", ADDR_DOCUMENTATION },
	{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_DOCUMENTATION },
	{ "2001:db9::", ADDR_PUBLIC },
	/* 2002::/16 6to4: the embedded IPv4 in bits 16..47. */
	{ "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_PUBLIC },
	{ "2002::", ADDR_UNSPECIFIED },
	{ "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_BROADCAST },
	{ "2003::", ADDR_PUBLIC },
	{ "2002:808:808::1", ADDR_PUBLIC },
	{ "2002:a00:1::1", ADDR_PRIVATE },
	{ "2002:7f00:1::", ADDR_LOOPBACK },
	{ "2002:c000:201::", ADDR_DOCUMENTATION },
	{ "2002:c058:6301::", ADDR_RESERVED },
	{ "2002:a9fe:101::", ADDR_LINK_LOCAL },
	/* 3fff::/20 documentation (RFC 9637). */
	{ "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_PUBLIC },
	{ "3fff::", ADDR_DOCUMENTATION },
	{ "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_DOCUMENTATION },
	{ "3fff:1000::", ADDR_PUBLIC },
	/* 2000::/3 global unicast and the reserved space either side. */
	{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "2000::", ADDR_PUBLIC },
	{ "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_PUBLIC },
	{ "4000::", ADDR_RESERVED },
	{ "5f00::1", ADDR_RESERVED },
	/* fc00::/7 unique local. */
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "fc00::", ADDR_PRIVATE },
	{ "fd12:3456::1", ADDR_PRIVATE },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_PRIVATE },
	{ "fe00::", ADDR_RESERVED },
	/* fe80::/10 link-local; above it the site-local block. */
	{ "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_RESERVED },
	{ "fe80::", ADDR_LINK_LOCAL },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_LINK_LOCAL },
	/* fec0::/10 deprecated site-local; above it multicast. */
	{ "fec0::", ADDR_PRIVATE },
	{ "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_PRIVATE },
	/* ff00::/8 multicast, to the end of the space. */
	{ "ff00::", ADDR_MULTICAST },
	{ "ff02::1", ADDR_MULTICAST },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_MULTICAST },
	/* Clearly public. */
	{ "2001:4860:4860::8888", ADDR_PUBLIC },
	{ "2a00:1450:4001::1", ADDR_PUBLIC },
	{ "2620:4f:8000::1", ADDR_PUBLIC },
};

static void check_class_table(const struct class_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct addr a;

		CHECK_INT(addr_parse(cases[i].addr, &a), 0, cases[i].addr);
		CHECK_STR(addr_class_str(addr_classify(&a)),
			  addr_class_str(cases[i].cls), cases[i].addr);
	}
}

UNIT_TEST(test_addr_classify_v4)
{
	check_class_table(v4_cases, ARRAY_LEN(v4_cases));
}

UNIT_TEST(test_addr_classify_v6)
{
	check_class_table(v6_cases, ARRAY_LEN(v6_cases));
}

UNIT_TEST(test_addr_classify_odd_input)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	CHECK_INT(addr_classify(NULL), ADDR_RESERVED, "NULL");
	a.family = AF_UNIX;
	CHECK_INT(addr_classify(&a), ADDR_RESERVED, "AF_UNIX");
	/* An IPv4 address ignores the bytes after its fourth. */
	CHECK_INT(addr_parse("8.8.8.8", &a), 0, "parse");
	memset(a.bytes + 4, 0xff, 12);
	CHECK_INT(addr_classify(&a), ADDR_PUBLIC, "v4 tail bytes");
}

UNIT_TEST(test_addr_parse_format)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} cases[] = {
		{ "192.0.2.1", 0, "192.0.2.1" },
		{ "0.0.0.0", 0, "0.0.0.0" },
		{ "2001:DB8:0:0::1", 0, "2001:db8::1" },
		{ "::ffff:10.0.0.1", 0, "::ffff:10.0.0.1" },
		{ "::", 0, "::" },
		{ "", -EINVAL, NULL },
		{ "192.0.2", -EINVAL, NULL },
		{ "192.0.2.256", -EINVAL, NULL },
		{ "192.0.2.1 ", -EINVAL, NULL },
		{ " 192.0.2.1", -EINVAL, NULL },
		{ "192.0.2.1/32", -EINVAL, NULL },
		{ "010.0.0.1", -EINVAL, NULL },
		{ "0x7f.0.0.1", -EINVAL, NULL },
		{ "fe80::1%eth0", -EINVAL, NULL },
		{ "[::1]", -EINVAL, NULL },
		{ ":::1", -EINVAL, NULL },
		{ "example.com", -EINVAL, NULL },
	};
	char buf[64];
	struct addr a;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		CHECK_INT(addr_parse(cases[i].in, &a), cases[i].rc,
			  cases[i].in);
		if (cases[i].rc != 0)
			continue;
		addr_format(&a, buf, sizeof(buf));
		CHECK_STR(buf, cases[i].out, cases[i].in);
	}
	CHECK_INT(addr_parse(NULL, &a), -EINVAL, "NULL text");
	CHECK_INT(addr_parse("::1", NULL), -EINVAL, "NULL addr");

	CHECK_INT(addr_parse("2001:db8::1", &a), 0, "parse");
	addr_format(&a, buf, 4); /* too small: empty rather than cut */
	CHECK_STR(buf, "", "small buffer");
	a.family = 0;
	strcpy(buf, "x");
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "", "no family");
	addr_format(NULL, buf, sizeof(buf));
	CHECK_STR(buf, "", "NULL addr");
}

UNIT_TEST(test_addr_names)
{
	CHECK_STR(addr_class_str(ADDR_PUBLIC), "public", "class");
	CHECK_STR(addr_class_str(ADDR_CGNAT), "cgnat", "class");
	CHECK_STR(addr_class_str(ADDR_LINK_LOCAL), "link_local", "class");
	CHECK_STR(addr_class_str(ADDR_MAPPED), "mapped", "class");
	CHECK_STR(addr_class_str(ADDR_CLASS_LAST), "unknown", "class");
	CHECK_STR(addr_class_str((enum addr_class) - 1), "unknown", "class");
	for (int c = 0; c < ADDR_CLASS_LAST; c++)
		CHECK(strcmp(addr_class_str((enum addr_class)c), "unknown"));
	CHECK_STR(addr_verdict_str(ADDR_POLICY_OK), "ok", "verdict");
	CHECK_STR(addr_verdict_str(ADDR_POLICY_RESERVED), "reserved",
		  "verdict");
	CHECK_STR(addr_verdict_str(ADDR_POLICY_BLOCKLIST), "blocklist",
		  "verdict");
	CHECK_STR(addr_verdict_str(ADDR_POLICY_LAST), "unknown", "verdict");
}

/* --allow-cidr parsing: the accepted forms and every refusal. */
UNIT_TEST(test_addr_policy_allow_parse)
{
	static const struct {
		const char *cidr;
		const char *err; /* a part of the reason, or NULL for OK */
	} cases[] = {
		{ "127.0.0.0/8", NULL },
		{ "::1/128", NULL },
		{ "127.0.0.1", NULL },
		{ "::1", NULL },
		{ "0.0.0.0/0", NULL },
		{ "::/0", NULL },
		{ "10.1.2.3/8", NULL }, /* host bits: normalised */
		{ "fd00::1/8", NULL },
		{ "::ffff:127.0.0.0/104", NULL },
		{ "255.255.255.255/32", NULL },
		{ "", "empty" },
		{ NULL, "empty" },
		{ "/8", "missing address" },
		{ "127.0.0.0/", "missing prefix length" },
		{ "127.0.0.0/33", "over 32" },
		{ "127.0.0.0/1000", "over 32" },
		{ "127.0.0.0/99999999999999999999", "over 32" },
		{ "::1/129", "over 128" },
		{ "127.0.0.0/-1", "not a decimal" },
		{ "127.0.0.0/+8", "not a decimal" },
		{ "127.0.0.0/8/8", "not a decimal" },
		{ "127.0.0.0/8 ", "not a decimal" },
		{ "127.0.0.0/ 8", "not a decimal" },
		{ "127.0.0.0/0x8", "not a decimal" },
		{ "127.0.0.0/08", "leading zero" },
		{ "::/00", "leading zero" },
		{ " 127.0.0.1", "not an IPv4 or IPv6" },
		{ "127.1", "bad IPv4" },
		{ "256.0.0.0/8", "bad IPv4" },
		{ "010.0.0.0/8", "bad IPv4" },
		{ "1.2.3.4.5", "bad IPv4" },
		{ "fe80::1%eth0", "bad IPv6" },
		{ ":::1", "bad IPv6" },
		{ "2001:db8::1::1/64", "bad IPv6" },
		{ "localhost", "not an IPv4 or IPv6" },
		{ "any", "not an IPv4 or IPv6" },
		{ "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:"
		  "0000/128",
		  "too long" },
	};
	struct addr_policy *p = addr_policy_new();
	const char *err;

	CHECK(p != NULL);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *ctx = cases[i].cidr ? cases[i].cidr : "(null)";
		int want = cases[i].err ? -EINVAL : 0;

		err = "unset";
		CHECK_INT(addr_policy_allow(p, cases[i].cidr, &err), want, ctx);
		if (!cases[i].err) {
			CHECK_STR(err, NULL, ctx);
			continue;
		}
		if (!err || !strstr(err, cases[i].err))
			unit_fail(__FILE__, __LINE__,
				  "%s: err \"%s\", want \"%s\"", ctx,
				  err ? err : "(null)", cases[i].err);
	}
	CHECK_INT(addr_policy_allow(p, "::1", NULL), 0, "NULL err");
	CHECK_INT(addr_policy_allow(NULL, "::1", &err), -EINVAL, "NULL policy");
	addr_policy_free(p);
	addr_policy_free(NULL);
}

struct verdict_case {
	const char *addr;
	enum addr_verdict want;
};

static void check_verdicts(const struct addr_policy *p, const char *what,
			   const struct verdict_case *cases, size_t n)
{
	char ctx[160];

	for (size_t i = 0; i < n; i++) {
		struct addr a;

		snprintf(ctx, sizeof(ctx), "%s: %s", what, cases[i].addr);
		CHECK_INT(addr_parse(cases[i].addr, &a), 0, ctx);
		CHECK_STR(addr_verdict_str(addr_policy_check(p, &a)),
			  addr_verdict_str(cases[i].want), ctx);
	}
}

#define CHECK_VERDICTS(p, what, cases) \
	check_verdicts((p), (what), (cases), ARRAY_LEN(cases))

/* Allowed CIDRs override the class, per family and for mapped forms. */
UNIT_TEST(test_addr_policy_allow_check)
{
	static const struct verdict_case none[] = {
		{ "8.8.8.8", ADDR_POLICY_OK },
		{ "2001:4860:4860::8888", ADDR_POLICY_OK },
		{ "127.0.0.1", ADDR_POLICY_RESERVED },
		{ "10.0.0.1", ADDR_POLICY_RESERVED },
		{ "::1", ADDR_POLICY_RESERVED },
		{ "::ffff:127.0.0.1", ADDR_POLICY_RESERVED },
		{ "fe80::1", ADDR_POLICY_RESERVED },
		{ "192.0.2.1", ADDR_POLICY_RESERVED },
		{ "255.255.255.255", ADDR_POLICY_RESERVED },
		{ "::ffff:8.8.8.8", ADDR_POLICY_OK },
		{ "64:ff9b::8.8.8.8", ADDR_POLICY_OK },
		{ "64:ff9b::10.0.0.1", ADDR_POLICY_RESERVED },
		{ "2002:a00:1::", ADDR_POLICY_RESERVED },
	};
	static const struct verdict_case loopback[] = {
		{ "127.0.0.0", ADDR_POLICY_OK },
		{ "127.0.0.1", ADDR_POLICY_OK },
		{ "127.255.255.255", ADDR_POLICY_OK },
		{ "::ffff:127.0.0.1", ADDR_POLICY_OK }, /* via the v4 entry */
		{ "10.0.0.1", ADDR_POLICY_RESERVED },
		{ "::1", ADDR_POLICY_RESERVED },
		/* Not the same endpoint as 127.0.0.1, so not allowed. */
		{ "::127.0.0.1", ADDR_POLICY_RESERVED },
		{ "64:ff9b::127.0.0.1", ADDR_POLICY_RESERVED },
		{ "2002:7f00:1::", ADDR_POLICY_RESERVED },
		{ "8.8.8.8", ADDR_POLICY_OK },
	};
	static const struct verdict_case v6lo[] = {
		{ "::1", ADDR_POLICY_OK },
		{ "127.0.0.1", ADDR_POLICY_RESERVED },
		{ "::", ADDR_POLICY_RESERVED },
		{ "::2", ADDR_POLICY_RESERVED },
	};
	static const struct verdict_case normalised[] = {
		{ "127.0.0.0", ADDR_POLICY_OK },
		{ "127.0.0.200", ADDR_POLICY_OK },
		{ "127.0.0.255", ADDR_POLICY_OK },
		{ "127.0.1.0", ADDR_POLICY_RESERVED },
		{ "126.255.255.255", ADDR_POLICY_OK }, /* public anyway */
		{ "fd00::", ADDR_POLICY_OK },
		{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_POLICY_OK },
		{ "fc00::1", ADDR_POLICY_RESERVED },
		{ "fe80::1", ADDR_POLICY_RESERVED },
	};
	static const struct verdict_case mapped_entry[] = {
		{ "10.1.0.1", ADDR_POLICY_OK },
		{ "::ffff:10.1.255.255", ADDR_POLICY_OK },
		{ "10.2.0.0", ADDR_POLICY_RESERVED },
	};
	static const struct verdict_case every_v4[] = {
		{ "0.0.0.0", ADDR_POLICY_OK },
		{ "255.255.255.255", ADDR_POLICY_OK },
		{ "::ffff:224.0.0.1", ADDR_POLICY_OK },
		{ "::1", ADDR_POLICY_RESERVED },
		{ "fe80::1", ADDR_POLICY_RESERVED },
	};
	struct addr_policy *p;
	const char *err;
	struct addr a;

	CHECK_VERDICTS(NULL, "no policy", none);
	p = addr_policy_new();
	CHECK_VERDICTS(p, "empty policy", none);
	addr_policy_free(p);

	p = addr_policy_new();
	CHECK_INT(addr_policy_allow(p, "127.0.0.0/8", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "127.0.0.0/33", &err), -EINVAL, "bad");
	CHECK_VERDICTS(p, "allow 127/8", loopback);
	addr_policy_free(p);

	p = addr_policy_new();
	CHECK_INT(addr_policy_allow(p, "::1", &err), 0, "allow");
	CHECK_VERDICTS(p, "allow ::1", v6lo);
	addr_policy_free(p);

	p = addr_policy_new();
	CHECK_INT(addr_policy_allow(p, "127.0.0.1/24", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "fd12:3456::1/8", &err), 0, "allow");
	CHECK_VERDICTS(p, "normalised host bits", normalised);
	addr_policy_free(p);

	p = addr_policy_new();
	CHECK_INT(addr_policy_allow(p, "::ffff:10.1.2.3/112", &err), 0,
		  "allow");
	CHECK_VERDICTS(p, "mapped entry", mapped_entry);
	addr_policy_free(p);

	/* Overlapping and adjacent entries merge; order does not matter. */
	p = addr_policy_new();
	CHECK_INT(addr_policy_allow(p, "240.0.0.0/4", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "0.0.0.0/1", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "128.0.0.0/2", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "10.0.0.0/8", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "192.0.0.0/3", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "224.0.0.0/4", &err), 0, "allow");
	CHECK_VERDICTS(p, "every v4", every_v4);
	addr_policy_free(p);

	/* Anything but AF_INET/AF_INET6 is refused, whatever the policy. */
	p = addr_policy_new();
	CHECK_INT(addr_policy_allow(p, "0.0.0.0/0", &err), 0, "allow");
	memset(&a, 0, sizeof(a));
	a.family = AF_UNIX;
	CHECK_INT(addr_policy_check(p, &a), ADDR_POLICY_RESERVED, "AF_UNIX");
	CHECK_INT(addr_policy_check(p, NULL), ADDR_POLICY_RESERVED, "NULL");
	addr_policy_free(p);
}

/* Writes `len` bytes (or the string) to a new temporary file. */
static char *temp_file(const char *content, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(4096);
	int fd;

	if (!path)
		return NULL;
	snprintf(path, 4096, "%s/mxcrawl-addrpolicy-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	if (len == 0)
		len = strlen(content);
	if (write(fd, content, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

/* Loads content into p; returns the result, line and reason. */
static int load_text(struct addr_policy *p, const char *content, size_t len,
		     unsigned long *line, const char **err)
{
	char *path = temp_file(content, len);
	int rc;

	if (!path) {
		unit_fail(__FILE__, __LINE__, "cannot write a temporary file");
		return -2;
	}
	rc = addr_policy_load_blocklist(p, path, line, err);
	unlink(path);
	free(path);
	return rc;
}

/* Every refusal of the blocklist file, with the line it is reported on. */
UNIT_TEST(test_addr_policy_blocklist_errors)
{
	static char long_line[1200];
	static char long_ok[1100];
	static char long_crlf[1100];
	static char long_name[300];
	static const struct {
		const char *text;
		size_t len; /* 0: strlen(text) */
		unsigned long line;
		const char *err;
	} cases[] = {
		{ "10.0.0.0/33\n", 0, 1, "over 32" },
		{ "# c\n\n8.8.8.0/24\nbad..name\n", 0, 4, "empty label" },
		{ "example.com\r\n*.example.com\r\n", 0, 2, "wildcard" },
		{ "ok.example\na\0b.example\n", 22, 2, "NUL byte" },
		{ "ok.example\n\0\n", 13, 2, "NUL byte" },
		{ long_line, 0, 2, "longer than 1024" },
		{ "under_score.example\n", 0, 1, "letter, digit or hyphen" },
		{ "-bad.example\n", 0, 1, "hyphen" },
		{ "xn--zz.example\n", 0, 1, "internationalised" },
		{ "b\xfc"
		  "cher.example\n",
		  0, 1, "UTF-8" },
		{ "ex\x01mple.com\n", 0, 1, "control character" },
		{ "exa\xc2\xa0mple.com\n", 0, 1, "whitespace inside domain" },
		{ "a.123\n", 0, 1, "all digits" },
		{ ".\n", 0, 1, "empty or the root" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaa.example\n",
		  0, 1, "label longer than 63" },
		{ long_name, 0, 1, "longer than 253" },
		{ "[192.0.2.1]\n", 0, 1, "address literal" },
		{ "1.2.3.4.5\n", 0, 1, "bad IPv4" },
		{ "123\n", 0, 1, "bad IPv4" },
		{ "1.\n", 0, 1, "bad IPv4" },
		{ "...\n", 0, 1, "empty label" },
		{ "fe80::1%eth0\n", 0, 1, "bad IPv6" },
		{ "10.0.0.0/08\n", 0, 1, "leading zero" },
		{ "10.0.0.0/\n", 0, 1, "missing prefix" },
		{ "/8\n", 0, 1, "missing address" },
		{ "::/129\n", 0, 1, "over 128" },
		{ "example.com/24\n", 0, 1, "not an IPv4 or IPv6" },
		{ "10.0.0.0 /8\n", 0, 1, "whitespace inside an entry" },
		{ "example.com foo\n", 0, 1, "whitespace inside an entry" },
		{ "a.example\rb.example\n", 0, 1,
		  "whitespace inside an entry" },
		{ "ok.example\n\n# fine\n   \n\t\n10.0.0.0/8 # x\nbad!\n", 0, 7,
		  "letter, digit or hyphen" },
		{ "ok.example\nlast_line_unterminated", 0, 2, "letter, digit" },
	};
	struct addr_policy *p;
	unsigned long line;
	const char *err;

	/* Line 2 is 1025 bytes; line 3 of long_ok is exactly 1024 bytes,
	 * and long_crlf's exactly 1024 plus a CR, both within the limit. */
	strcpy(long_line, "ok.example\n");
	memset(long_line + 11, 'a', 1025);
	strcpy(long_line + 11 + 1025, "\n");
	memset(long_ok, 0, sizeof(long_ok));
	memset(long_ok, '#', 1024);
	long_ok[1024] = '\n';
	memcpy(long_crlf, long_ok, 1024);
	memcpy(long_crlf + 1024, "\r\n", 3);
	/* 254 bytes in labels of 50: longer than a name may be. */
	for (int i = 0; i < 254; i++)
		long_name[i] = i % 51 == 50 ? '.' : 'a';
	long_name[254] = '\n';

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char ctx[48];

		snprintf(ctx, sizeof(ctx), "case %zu", i);
		const char *want = cases[i].err;
		p = addr_policy_new();
		line = 99;
		err = NULL;
		CHECK_INT(
		    load_text(p, cases[i].text, cases[i].len, &line, &err),
		    -EINVAL, ctx);
		CHECK_INT(line, cases[i].line, ctx);
		if (!err || !strstr(err, want))
			unit_fail(__FILE__, __LINE__,
				  "%s: err \"%s\", want \"%s\"", ctx,
				  err ? err : "(null)", want);
		addr_policy_free(p);
	}

	p = addr_policy_new();
	CHECK_INT(load_text(p, long_ok, 0, &line, &err), 0, "1024 bytes");
	CHECK_INT(load_text(p, long_crlf, 0, &line, &err), 0, "1024 + CR");
	CHECK_INT(load_text(p,
			    "\xef\xbb\xbf"
			    "ok.example\r\n",
			    0, &line, &err),
		  0, "BOM");
	CHECK_INT(load_text(p, "", 0, &line, &err), 0, "empty file");
	CHECK_INT(line, 0, "line on success");
	CHECK_STR(err, NULL, "err on success");

	/* Cannot open: line 0, errno kept for the caller. */
	errno = 0;
	CHECK_INT(addr_policy_load_blocklist(
		      p, "/nonexistent/mxcrawl/blocklist", &line, &err),
		  -ENOENT, "missing file");
	CHECK_INT(errno, ENOENT, "missing file errno");
	CHECK_INT(line, 0, "missing file line");
	CHECK(err && strstr(err, "cannot open"));
	/* A directory opens but cannot be read. */
	CHECK_INT(addr_policy_load_blocklist(p, "/", &line, &err), -EISDIR,
		  "dir");
	CHECK(err && strstr(err, "read error"));
	CHECK_INT(addr_policy_load_blocklist(NULL, "/", &line, &err), -EINVAL,
		  "NULL policy");
	CHECK_INT(addr_policy_load_blocklist(p, NULL, NULL, NULL), -EINVAL,
		  "NULL path");
	addr_policy_free(p);
}

static void check_domains(const struct addr_policy *p, const char *what,
			  const char *const *names, bool want)
{
	char ctx[160];

	for (size_t i = 0; names[i]; i++) {
		snprintf(ctx, sizeof(ctx), "%s: %s", what, names[i]);
		CHECK_INT(addr_policy_domain_blocked(p, names[i]), want, ctx);
	}
}

/* What a loaded blocklist refuses, and what it leaves alone. */
UNIT_TEST(test_addr_policy_blocklist_check)
{
	static const char file[] =
	    "# Opt-outs, one a line.\r\n"
	    "\r\n"
	    "203.0.113.0/24   # a documentation range standing in\r\n"
	    "8.8.4.4\r\n"
	    "2001:4860:4860::8844\r\n"
	    "2a00:1450::/32\r\n"
	    "::ffff:1.1.1.0/120\r\n"
	    "  Example.COM.  \r\n"
	    "bücher.example\n"
	    "opt-out.test\n"
	    "10.9.9.0/24\n"
	    "\tfe80::/64";
	static const struct verdict_case addrs[] = {
		/* The blocklist wins over the class and over allow. */
		{ "203.0.113.0", ADDR_POLICY_BLOCKLIST },
		{ "203.0.113.255", ADDR_POLICY_BLOCKLIST },
		{ "203.0.112.255", ADDR_POLICY_OK },
		{ "203.0.114.0", ADDR_POLICY_OK },
		{ "10.9.9.1", ADDR_POLICY_BLOCKLIST },
		{ "10.9.8.1", ADDR_POLICY_OK }, /* allowed 10/8 */
		{ "fe80::1", ADDR_POLICY_BLOCKLIST },
		{ "fe80:0:0:1::1", ADDR_POLICY_RESERVED },
		/* A bare address is a /32 or /128. */
		{ "8.8.4.4", ADDR_POLICY_BLOCKLIST },
		{ "8.8.4.3", ADDR_POLICY_OK },
		{ "8.8.4.5", ADDR_POLICY_OK },
		{ "2001:4860:4860::8844", ADDR_POLICY_BLOCKLIST },
		{ "2001:4860:4860::8843", ADDR_POLICY_OK },
		{ "2001:4860:4860::8845", ADDR_POLICY_OK },
		/* Every IPv6 spelling of a blocked IPv4 address. */
		{ "::ffff:8.8.4.4", ADDR_POLICY_BLOCKLIST },
		{ "::8.8.4.4", ADDR_POLICY_BLOCKLIST },
		{ "64:ff9b::8.8.4.4", ADDR_POLICY_BLOCKLIST },
		{ "2002:808:404::1", ADDR_POLICY_BLOCKLIST },
		{ "2002:808:405::1", ADDR_POLICY_OK },
		{ "::ffff:10.9.9.9", ADDR_POLICY_BLOCKLIST },
		/* A v6 prefix and its edges. */
		{ "2a00:1450::", ADDR_POLICY_BLOCKLIST },
		{ "2a00:1450:ffff:ffff:ffff:ffff:ffff:ffff",
		  ADDR_POLICY_BLOCKLIST },
		{ "2a00:144f:ffff:ffff:ffff:ffff:ffff:ffff", ADDR_POLICY_OK },
		{ "2a00:1451::", ADDR_POLICY_OK },
		/* A mapped entry blocks both spellings. */
		{ "1.1.1.0", ADDR_POLICY_BLOCKLIST },
		{ "1.1.1.255", ADDR_POLICY_BLOCKLIST },
		{ "::ffff:1.1.1.1", ADDR_POLICY_BLOCKLIST },
		{ "1.1.2.0", ADDR_POLICY_OK },
		{ "1.1.0.255", ADDR_POLICY_OK },
		/* Untouched classes still apply. */
		{ "127.0.0.1", ADDR_POLICY_RESERVED },
		{ "8.8.8.8", ADDR_POLICY_OK },
	};
	static const char *const blocked[] = {
		"example.com",
		"mx.example.com",
		"a.b.c.example.com",
		"EXAMPLE.com",
		"Mx.Example.Com.",
		"example.com.",
		"xn--bcher-kva.example",
		"mx.xn--bcher-kva.example",
		"opt-out.test",
		"mail.opt-out.test",
		NULL,
	};
	static const char *const free_names[] = {
		"badexample.com",
		"example.co",
		"example.com.au",
		"com",
		"xample.com",
		"out.test",
		"test",
		"bücher.example", /* callers pass normalised A-labels */
		"",
		".",
		"example",
		NULL,
	};
	struct addr_policy *p = addr_policy_new();
	unsigned long line;
	const char *err;

	CHECK_INT(addr_policy_domain_blocked(p, "example.com"), 0, "empty");
	CHECK_INT(addr_policy_allow(p, "203.0.113.0/24", &err), 0, "allow");
	CHECK_INT(addr_policy_allow(p, "10.0.0.0/8", &err), 0, "allow");
	CHECK_INT(load_text(p, file, 0, &line, &err), 0, "load");
	CHECK_STR(err, NULL, "load");
	CHECK_VERDICTS(p, "blocklist", addrs);
	check_domains(p, "blocked", blocked, true);
	check_domains(p, "not blocked", free_names, false);
	CHECK_INT(addr_policy_domain_blocked(p, NULL), 0, "NULL");
	CHECK_INT(addr_policy_domain_blocked(NULL, "example.com"), 0, "NULL");

	/* A file that fails half-way adds nothing; earlier loads remain. */
	CHECK_INT(
	    load_text(p, "9.9.9.9\nnew.example\nbad_name\n", 0, &line, &err),
	    -EINVAL, "failed load");
	CHECK_INT(line, 3, "failed load");
	static const struct verdict_case after_fail[] = {
		{ "9.9.9.9", ADDR_POLICY_OK },
		{ "8.8.4.4", ADDR_POLICY_BLOCKLIST },
	};
	CHECK_VERDICTS(p, "after failed load", after_fail);
	CHECK_INT(addr_policy_domain_blocked(p, "new.example"), 0, "rollback");
	CHECK_INT(addr_policy_domain_blocked(p, "example.com"), 1, "kept");

	/* A second file adds to the first; duplicates are harmless. */
	CHECK_INT(
	    load_text(p, "9.9.9.9\nnew.example\nexample.com\n", 0, &line, &err),
	    0, "second load");
	CHECK_INT(addr_policy_domain_blocked(p, "x.new.example"), 1, "added");
	CHECK_INT(addr_policy_domain_blocked(p, "example.com"), 1, "dup");
	static const struct verdict_case after_second[] = {
		{ "9.9.9.9", ADDR_POLICY_BLOCKLIST },
		{ "8.8.4.4", ADDR_POLICY_BLOCKLIST },
	};
	CHECK_VERDICTS(p, "after second load", after_second);
	addr_policy_free(p);
}

/* Edges of the address space, and entries that overlap or touch. */
UNIT_TEST(test_addr_policy_blocklist_edges)
{
	static const struct verdict_case all[] = {
		{ "0.0.0.0", ADDR_POLICY_BLOCKLIST },
		{ "8.8.8.8", ADDR_POLICY_BLOCKLIST },
		{ "255.255.255.255", ADDR_POLICY_BLOCKLIST },
		{ "2001:4860::1", ADDR_POLICY_BLOCKLIST },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  ADDR_POLICY_BLOCKLIST },
	};
	static const struct verdict_case v6_only[] = {
		{ "8.8.8.8", ADDR_POLICY_OK },
		{ "2001:4860::1", ADDR_POLICY_BLOCKLIST },
	};
	static const struct verdict_case merged[] = {
		{ "9.255.255.255", ADDR_POLICY_OK },
		{ "11.0.0.0", ADDR_POLICY_BLOCKLIST },
		{ "11.255.255.255", ADDR_POLICY_BLOCKLIST },
		{ "12.0.0.0", ADDR_POLICY_BLOCKLIST },
		{ "12.0.0.255", ADDR_POLICY_BLOCKLIST },
		{ "12.0.1.0", ADDR_POLICY_OK },
		{ "255.255.255.254", ADDR_POLICY_RESERVED },
		{ "255.255.255.255", ADDR_POLICY_BLOCKLIST },
		{ "2003::", ADDR_POLICY_BLOCKLIST },
		{ "2003:0:0:1::", ADDR_POLICY_BLOCKLIST },
		{ "2003:0:0:2::", ADDR_POLICY_OK },
		{ "2004::1", ADDR_POLICY_OK },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		  ADDR_POLICY_RESERVED },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  ADDR_POLICY_BLOCKLIST },
	};
	struct addr_policy *p;
	unsigned long line;
	const char *err;

	p = addr_policy_new();
	CHECK_INT(load_text(p, "0.0.0.0/0\n::/0\n", 0, &line, &err), 0, "all");
	CHECK_VERDICTS(p, "all", all);
	addr_policy_free(p);

	p = addr_policy_new();
	CHECK_INT(load_text(p, "::/0\n", 0, &line, &err), 0, "v6 only");
	CHECK_VERDICTS(p, "v6 only", v6_only);
	addr_policy_free(p);

	p = addr_policy_new();
	CHECK_INT(load_text(p,
			    "255.255.255.255\n12.0.0.0/24\n11.0.0.0/8\n"
			    "11.1.0.0/16\n11.0.0.0/9\n"
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"
			    "2003:0:0:1::/64\n2003::/64\n2003::1/128\n",
			    0, &line, &err),
		  0, "merged");
	CHECK_VERDICTS(p, "merged", merged);
	addr_policy_free(p);
}

/* A small deterministic generator, so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random CIDRs against a linear scan of the same CIDRs. */
UNIT_TEST(test_addr_policy_blocklist_random)
{
	enum { N = 300, PROBES = 20000 };
	static uint32_t net4[N], mask4[N];
	static uint8_t net6[N][16];
	static unsigned len6[N];
	char *text = malloc((size_t)N * 2 * 64);
	struct addr_policy *p = addr_policy_new();
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned long line;
	const char *err;
	size_t off = 0;
	int hits4 = 0, hits6 = 0;

	if (!text || !p) {
		unit_fail(__FILE__, __LINE__, "out of memory");
		free(text);
		addr_policy_free(p);
		return;
	}
	for (int i = 0; i < N; i++) {
		/* Few leading bits, so that ranges nest and touch. */
		unsigned len = 18 + (unsigned)(rng_next(&s) % 15);
		uint32_t v = (uint32_t)rng_next(&s) & 0x0303ffffu;
		char buf[64];
		struct addr a;

		mask4[i] = 0xffffffffu << (32 - len);
		net4[i] = v & mask4[i];
		off += (size_t)sprintf(text + off, "%u.%u.%u.%u/%u\n", v >> 24,
				       v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff,
				       len);

		len6[i] = 40 + (unsigned)(rng_next(&s) % 89);
		memset(&a, 0, sizeof(a));
		a.family = AF_INET6;
		a.bytes[0] = 0x2a;
		a.bytes[1] = (uint8_t)(rng_next(&s) & 0x03);
		for (int k = 2; k < 16; k++)
			a.bytes[k] = (uint8_t)(rng_next(&s) & 0x81);
		addr_format(&a, buf, sizeof(buf));
		off += (size_t)sprintf(text + off, "%s/%u\n", buf, len6[i]);
		for (unsigned k = 0; k < 16; k++) {
			unsigned bits = len6[i] > k * 8 ? len6[i] - k * 8 : 0;
			uint8_t m =
			    bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
			net6[i][k] = a.bytes[k] & m;
		}
	}
	text[off] = '\0';
	CHECK_INT(load_text(p, text, 0, &line, &err), 0, "load random");

	for (int i = 0; i < PROBES; i++) {
		struct addr a;
		bool want = false;
		uint32_t v;

		/* Probe at random, just outside a range and inside one. */
		int r = (int)(rng_next(&s) % N);
		v = (uint32_t)rng_next(&s) & 0x0303ffffu;
		if (i % 4 == 1)
			v = net4[r] - 1;
		else if (i % 4 == 2)
			v = (net4[r] | ~mask4[r]) + 1;
		else if (i % 4 == 3)
			v = net4[r] | (v & ~mask4[r]);
		memset(&a, 0, sizeof(a));
		a.family = AF_INET;
		a.bytes[0] = (uint8_t)(v >> 24);
		a.bytes[1] = (uint8_t)(v >> 16);
		a.bytes[2] = (uint8_t)(v >> 8);
		a.bytes[3] = (uint8_t)v;
		for (int r = 0; r < N && !want; r++)
			want = (v & mask4[r]) == net4[r];
		if ((addr_policy_check(p, &a) == ADDR_POLICY_BLOCKLIST) != want)
			unit_fail(__FILE__, __LINE__, "v4 probe %08x: want %d",
				  v, want);
		hits4 += want;

		a.family = AF_INET6;
		a.bytes[0] = 0x2a;
		a.bytes[1] = (uint8_t)(rng_next(&s) & 0x03);
		for (int k = 2; k < 16; k++)
			a.bytes[k] = (uint8_t)(rng_next(&s) & 0x81);
		for (unsigned k = 0; i % 2 && k < 16; k++) {
			unsigned bits = len6[r] > k * 8 ? len6[r] - k * 8 : 0;
			uint8_t m =
			    bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
			a.bytes[k] = (uint8_t)(net6[r][k] | (a.bytes[k] & ~m));
		}
		want = false;
		for (int r = 0; r < N && !want; r++) {
			bool in = true;

			for (unsigned k = 0; k < 16 && in; k++) {
				unsigned bits =
				    len6[r] > k * 8 ? len6[r] - k * 8 : 0;
				uint8_t m = bits >= 8
						? 0xff
						: (uint8_t)(0xff00u >> bits);
				in = (a.bytes[k] & m) == net6[r][k];
			}
			want = in;
		}
		if ((addr_policy_check(p, &a) == ADDR_POLICY_BLOCKLIST) != want)
			unit_fail(__FILE__, __LINE__, "v6 probe %d: want %d", i,
				  want);
		hits6 += want;
	}
	/* The table is only a test if both answers occur often. */
	CHECK(hits4 > PROBES / 10 && hits4 < PROBES * 9 / 10);
	CHECK(hits6 > PROBES / 10 && hits6 < PROBES * 9 / 10);
	free(text);
	addr_policy_free(p);
}

/* The size the policy is built for: 100k CIDRs and 100k domains. */
UNIT_TEST(test_addr_policy_blocklist_large)
{
	enum { N = 100000 };
	char *text = malloc((size_t)N * 80);
	struct addr_policy *p = addr_policy_new();
	unsigned long line;
	const char *err;
	size_t off = 0;
	char name[64];
	struct addr a;

	if (!text || !p) {
		unit_fail(__FILE__, __LINE__, "out of memory");
		free(text);
		addr_policy_free(p);
		return;
	}
	/* Every other /32 of 20.0.0.0/8 upward, /64s, and domains. */
	for (unsigned i = 0; i < N / 2; i++) {
		uint32_t v = 0x14000000u + 2 * i;
		off += (size_t)sprintf(text + off, "%u.%u.%u.%u\n", v >> 24,
				       v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff);
		off += (size_t)sprintf(text + off, "2a01:%x:%x::/64\n", i >> 8,
				       i & 0xff);
	}
	for (unsigned i = 0; i < N; i++)
		off += (size_t)sprintf(text + off, "d%u.example\n", i);
	text[off] = '\0';
	CHECK_INT(load_text(p, text, 0, &line, &err), 0, "load large");

	for (unsigned i = 0; i < N / 2; i += 97) {
		uint32_t v = 0x14000000u + 2 * i;
		char buf[48];

		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", v >> 24,
			 v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff);
		addr_parse(buf, &a);
		CHECK_INT(addr_policy_check(p, &a), ADDR_POLICY_BLOCKLIST, buf);
		v++;
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", v >> 24,
			 v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff);
		addr_parse(buf, &a);
		CHECK_INT(addr_policy_check(p, &a), ADDR_POLICY_OK, buf);
		snprintf(buf, sizeof(buf), "2a01:%x:%x::ffff", i >> 8,
			 i & 0xff);
		addr_parse(buf, &a);
		CHECK_INT(addr_policy_check(p, &a), ADDR_POLICY_BLOCKLIST, buf);
		snprintf(buf, sizeof(buf), "2a01:%x:%x:1::", i >> 8, i & 0xff);
		addr_parse(buf, &a);
		CHECK_INT(addr_policy_check(p, &a), ADDR_POLICY_OK, buf);
	}
	for (unsigned i = 0; i < N; i += 89) {
		snprintf(name, sizeof(name), "mx.d%u.example", i);
		CHECK_INT(addr_policy_domain_blocked(p, name), 1, name);
		snprintf(name, sizeof(name), "xd%u.example", i);
		CHECK_INT(addr_policy_domain_blocked(p, name), 0, name);
	}
	CHECK_INT(addr_policy_domain_blocked(p, "d100000.example"), 0, "miss");
	free(text);
	addr_policy_free(p);
}
