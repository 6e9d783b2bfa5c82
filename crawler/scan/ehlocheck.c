/* Whether the EHLO name points back at the scanner (see ehlocheck.h). */
#include "crawler/scan/ehlocheck.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "crawler/dns/dns_wire.h"
#include "crawler/smtp/conn.h"
#include "crawler/util/json.h"

static const char *const check_names[EHLO_CHECK_LAST] = {
	[EHLO_CHECK_NOT_CHECKED] = "not_checked",
	[EHLO_CHECK_MATCHES] = "matches",
	[EHLO_CHECK_MISMATCH] = "mismatch",
	[EHLO_CHECK_NO_ADDRESS] = "no_address",
};

const char *ehlo_check_str(enum ehlo_check c)
{
	return (unsigned)c < EHLO_CHECK_LAST ? check_names[c] : "?";
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 one: a dual
 * stack socket may report its IPv4 source that way. */
static struct addr unmapped(const struct addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0,    0,
					    0, 0, 0, 0, 0xff, 0xff };
	struct addr u = *a;

	if (a->family == AF_INET6 && memcmp(a->bytes, prefix, 12) == 0) {
		memset(&u, 0, sizeof u);
		u.family = AF_INET;
		memcpy(u.bytes, a->bytes + 12, 4);
	}
	return u;
}

static bool same_addr(const struct addr *x, const struct addr *y)
{
	struct addr a = unmapped(x), b = unmapped(y);

	if (a.family != b.family)
		return false;
	return memcmp(a.bytes, b.bytes, a.family == AF_INET ? 4 : 16) == 0;
}

enum ehlo_check ehlo_check_judge(const struct ehlo_names *names,
				 const struct addr *self)
{
	if (!names->known)
		return EHLO_CHECK_NOT_CHECKED;
	/* Known without any connection: a name without an address cannot
	 * lead back to any scanner. */
	if (names->n == 0)
		return EHLO_CHECK_NO_ADDRESS;
	if (!self)
		return EHLO_CHECK_NOT_CHECKED;
	for (size_t i = 0; i < names->n; i++)
		if (same_addr(&names->a[i], self))
			return EHLO_CHECK_MATCHES;
	return EHLO_CHECK_MISMATCH;
}

/* --- the lookup -------------------------------------------------------- */

/* The A or AAAA records of the answer section (a CNAME chain's end
 * included) into w->names. Whether the answer tells what the name has:
 * NOERROR (with or without records) or NXDOMAIN. */
static bool take_answer(struct ehlo_watch *w, const struct resolver_answer *a,
			uint16_t type)
{
	if (a->rc != RESOLVER_OK || !a->msg ||
	    (a->rcode != DNS_RCODE_NOERROR && a->rcode != DNS_RCODE_NXDOMAIN))
		return false;
	for (size_t i = 0; i < a->msg->nrr; i++) {
		const struct dns_rr *rr = &a->msg->rr[i];
		struct ehlo_names *n = &w->names;
		if (rr->section != DNS_SECTION_ANSWER || rr->type != type ||
		    n->n == EHLO_CHECK_MAX_ADDRS)
			continue;
		struct addr *out = &n->a[n->n];
		memset(out, 0, sizeof *out);
		if (type == DNS_TYPE_A) {
			struct dns_a v4;
			if (dns_rr_a(a->pkt, a->len, rr, &v4) != DNS_OK)
				continue;
			out->family = AF_INET;
			memcpy(out->bytes, v4.addr, 4);
		} else {
			struct dns_aaaa v6;
			if (dns_rr_aaaa(a->pkt, a->len, rr, &v6) != DNS_OK)
				continue;
			out->family = AF_INET6;
			memcpy(out->bytes, v6.addr, 16);
		}
		n->n++;
	}
	return true;
}

static void on_a(void *arg, const struct resolver_answer *a)
{
	struct ehlo_watch *w = arg;
	w->a_ok = take_answer(w, a, DNS_TYPE_A);
	w->a_done = true;
}

static void on_aaaa(void *arg, const struct resolver_answer *a)
{
	struct ehlo_watch *w = arg;
	w->aaaa_ok = take_answer(w, a, DNS_TYPE_AAAA);
	w->aaaa_done = true;
}

/* "192.0.2.1, 2001:db8::1" (the first few), into buf. */
static void addr_list(const struct ehlo_names *n, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n->n && i < 4 && len < cap; i++) {
		char t[64];
		addr_format(&n->a[i], t, sizeof t);
		int k =
		    snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", t);
		if (k < 0)
			break;
		len += (size_t)k;
	}
	if (n->n > 4 && len < cap)
		snprintf(buf + len, cap - len, " and %zu more", n->n - 4);
}

/* The finding, once: the warning for no_address and mismatch, on a line
 * of its own (a progress bar may be on the terminal's last line). */
static void conclude(struct ehlo_watch *w)
{
	char names[256], self[64];
	const char *clear = isatty(2) ? "\r\033[K" : "";

	w->said = true;
	if (w->result == EHLO_CHECK_NO_ADDRESS) {
		fprintf(stderr,
			"%sscan: warning: EHLO name '%s' has no address (no A "
			"or AAAA record): servers that check it may take the "
			"scan for spam and operators cannot tell who scans "
			"them; give --ehlo-name a name whose address is this "
			"scanner's\n",
			clear, w->name);
	} else if (w->result == EHLO_CHECK_MISMATCH) {
		addr_list(&w->names, names, sizeof names);
		addr_format(&w->self, self, sizeof self);
		fprintf(
		    stderr,
		    "%sscan: warning: EHLO name '%s' resolves to %s, not to "
		    "this scanner's address %s: servers that check it may "
		    "take the scan for spam; give --ehlo-name a name whose "
		    "address is this scanner's (behind NAT: the public "
		    "address, which this check cannot see)\n",
		    clear, w->name, names, self);
	}
}

int ehlo_watch_lookup(struct ehlo_watch *w, const char *name,
		      const struct resolver_config *cfg)
{
	uv_loop_t loop;
	const char *err = NULL;
	int result = 0;

	memset(w, 0, sizeof *w);
	w->name = name;
	if (uv_loop_init(&loop) != 0)
		return -1;
	struct resolver *r = resolver_new(&loop, cfg, &err);
	if (!r) {
		uv_loop_close(&loop);
		return -1;
	}
	if (resolver_query(r, name, DNS_TYPE_A, on_a, w) != 0 ||
	    resolver_query(r, name, DNS_TYPE_AAAA, on_aaaa, w) != 0)
		result = -1;
	else
		while (!(w->a_done && w->aaaa_done) &&
		       uv_run(&loop, UV_RUN_ONCE))
			;
	resolver_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	w->names.known = (w->a_ok && w->aaaa_ok) || w->names.n > 0;
	w->result = ehlo_check_judge(&w->names, NULL);
	if (w->result == EHLO_CHECK_NO_ADDRESS)
		conclude(w);
	return result;
}

void ehlo_watch_poll(void *arg)
{
	struct ehlo_watch *w = arg;

	if (w->said || !w->names.known || !conn_first_local(&w->self))
		return;
	w->have_self = true;
	w->result = ehlo_check_judge(&w->names, &w->self);
	conclude(w);
}

void ehlo_watch_json(struct jbuf *b, const struct ehlo_watch *w)
{
	char t[64];

	jbuf_puts(b, "\"ehlo_name_check\": ");
	const char *r = ehlo_check_str(w->result);
	jbuf_json_string(b, r, strlen(r));
	jbuf_puts(b, ", \"ehlo_name_addresses\": ");
	if (!w->names.known) {
		jbuf_puts(b, "null");
	} else {
		jbuf_puts(b, "[");
		for (size_t i = 0; i < w->names.n; i++) {
			addr_format(&w->names.a[i], t, sizeof t);
			jbuf_printf(b, "%s\"%s\"", i ? ", " : "", t);
		}
		jbuf_puts(b, "]");
	}
	jbuf_puts(b, ", \"scanner_address\": ");
	if (w->have_self) {
		addr_format(&w->self, t, sizeof t);
		jbuf_printf(b, "\"%s\"", t);
	} else {
		jbuf_puts(b, "null");
	}
}
