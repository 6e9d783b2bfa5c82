/*
 * Whether the EHLO name points back at the scanner. Receiving servers
 * often look up the name a client gives in EHLO and hold a name without
 * an address, or one that names another host, against it (a spam
 * signal), and an operator who sees the scan wants the name to lead to
 * the scanner. So at the start of a scan with SMTP the name's A and AAAA
 * are asked through the scan's resolver; once the first connection is
 * made, its local address (conn_first_local) is held against them, and a
 * name with no address, or none that is the scanner's, gets one warning
 * on stderr and a finding in the run's provenance. It never stops a scan.
 *
 * The address compared is the one the first connection left from: behind
 * NAT that is the private one, and a name that resolves to the public
 * address then reads as a mismatch (the warning says so).
 */
#ifndef MXCRAWL_SCAN_EHLOCHECK_H
#define MXCRAWL_SCAN_EHLOCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "crawler/dns/resolver.h"
#include "crawler/util/addr.h"
#include "crawler/util/jbuf.h"

/* Addresses of the name kept, at most. */
#define EHLO_CHECK_MAX_ADDRS 16

enum ehlo_check {
	/* Not known: no SMTP, no connection made yet, or the lookup got
	 * no usable answer (timeout, SERVFAIL). */
	EHLO_CHECK_NOT_CHECKED = 0,
	EHLO_CHECK_MATCHES,    /* one of its addresses is the scanner's */
	EHLO_CHECK_MISMATCH,   /* it has addresses; none is the scanner's */
	EHLO_CHECK_NO_ADDRESS, /* NXDOMAIN, or neither A nor AAAA */
	EHLO_CHECK_LAST
};

const char *ehlo_check_str(enum ehlo_check c);

/* What the lookup of the name found. */
struct ehlo_names {
	/* Both lookups answered (NOERROR or NXDOMAIN), or one found an
	 * address: what the name has is known. */
	bool known;
	size_t n; /* addresses in a[] */
	struct addr a[EHLO_CHECK_MAX_ADDRS];
};

/* The finding for the name's addresses and the scanner's own address
 * (NULL: no connection yet). An IPv4-mapped IPv6 address counts as the
 * IPv4 one. Pure; unit-tested. */
enum ehlo_check ehlo_check_judge(const struct ehlo_names *names,
				 const struct addr *self);

/* The check of one scan: the lookup, then the watch. */
struct ehlo_watch {
	const char *name;
	struct ehlo_names names;
	bool have_self;
	struct addr self; /* the first connection's local address */
	enum ehlo_check result;
	bool said; /* the finding is final (and a warning printed) */
	/* The lookups' progress (ehlo_watch_lookup). */
	bool a_done, aaaa_done, a_ok, aaaa_ok;
};

/* Looks up the name's A and AAAA through a resolver of cfg on a
 * short-lived loop of its own, then judges what is known without a
 * connection (no_address is final: the warning is printed at once).
 * 0, or -1 when the resolver could not be set up (then not_checked). */
int ehlo_watch_lookup(struct ehlo_watch *w, const char *name,
		      const struct resolver_config *cfg);

/* sched_config.on_watch: once the first connection is made, judges and
 * prints the warning (once). Also called after the scan. */
void ehlo_watch_poll(void *arg);

/* The finding as three keys of a JSON object (the caller writes the
 * braces and a comma before): "ehlo_name_check", "ehlo_name_addresses"
 * (null: not known), "scanner_address" (null: no connection). */
void ehlo_watch_json(struct jbuf *b, const struct ehlo_watch *w);

#endif
