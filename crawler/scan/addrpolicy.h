/*
 * The address policy, applied before any packet is sent: a scanner must not
 * be steered into its own network (or anyone's private one) by a hostile MX
 * or MTA-STS record. Every address is classified by a pure function; the
 * special-purpose ranges (RFC 6890 and the IANA registries) are refused
 * unless --allow-cidr covers them; --blocklist refuses CIDRs and domains
 * (a domain and everything below it) whatever their class.
 */
#ifndef MXCRAWL_CRAWLER_ADDRPOLICY_H
#define MXCRAWL_CRAWLER_ADDRPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/util/addr.h"

/* What an address is; ADDR_PUBLIC is the only class contacted by default. */
enum addr_class {
	ADDR_PUBLIC = 0,
	ADDR_UNSPECIFIED, /* 0.0.0.0/8, :: */
	ADDR_LOOPBACK,	  /* 127.0.0.0/8, ::1 */
	ADDR_PRIVATE,	  /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
	ADDR_CGNAT,	  /* 100.64.0.0/10 */
	ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
	ADDR_MULTICAST,	  /* 224/4, ff00::/8 */
	ADDR_BROADCAST,	  /* 255.255.255.255 */
	ADDR_DOCUMENTATION, /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32 */
	ADDR_BENCHMARK, /* 198.18/15 */
	ADDR_RESERVED,	/* 240/4, 192.0.0/24, IETF/IANA reserved v6 */
	ADDR_MAPPED,	/* ::ffff:0:0/96 etc.: judged by the embedded v4 */
	ADDR_CLASS_LAST
};

/* Why the policy refused an address (or ADDR_POLICY_OK). */
enum addr_verdict {
	ADDR_POLICY_OK = 0,
	ADDR_POLICY_RESERVED,  /* special-purpose class, not allowed */
	ADDR_POLICY_BLOCKLIST, /* in a --blocklist CIDR */
	ADDR_POLICY_LAST
};

/* Classifies an address (pure). IPv4-mapped/compatible IPv6 addresses are
 * classified by their IPv4 part, so ::ffff:10.0.0.1 is ADDR_PRIVATE. */
enum addr_class addr_classify(const struct addr *a);
const char *addr_class_str(enum addr_class c);
const char *addr_verdict_str(enum addr_verdict v);

struct addr_policy;

struct addr_policy *addr_policy_new(void);
void addr_policy_free(struct addr_policy *p);

/* Adds an --allow-cidr entry ("127.0.0.0/8", "::1/128", or a bare
 * address). Returns 0, or -EINVAL (-ENOMEM) with a reason in err (static
 * string). */
int addr_policy_allow(struct addr_policy *p, const char *cidr,
		      const char **err);

/*
 * Loads a --blocklist file: one CIDR, address or domain per line, '#'
 * comments. Returns 0, or with the first bad line's number in *line and a
 * reason in err: -EINVAL for a bad line or argument, -ENOMEM, or the
 * errno of opening or reading the file (as negative errno; also left in
 * errno).
 */
int addr_policy_load_blocklist(struct addr_policy *p, const char *path,
			       unsigned long *line, const char **err);

/* Judges an address: blocklist first, then the class unless allowed. */
enum addr_verdict addr_policy_check(const struct addr_policy *p,
				    const struct addr *a);

/* True if the domain (normalised, no trailing dot) is blocklisted, i.e.
 * it or one of its parents is a blocklist entry. */
bool addr_policy_domain_blocked(const struct addr_policy *p,
				const char *domain);

#endif
