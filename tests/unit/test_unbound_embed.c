/* The embedded resolver's pure parts: whether root hints name a private
 * root on loopback, and how big unbound is made for a machine. */
#include <stdint.h>
#include <stdlib.h>

#include "crawler/dns/unbound_embed.h"
#include "unit.h"

struct hints_case {
	const char *text;
	int want;
};

static const struct hints_case hints_cases[] = {
	/* The testbed's hints (tests/testbed/dnsgen.py root_hints). */
	{ ". 3600000 IN NS a.root.\na.root. 3600000 IN A 127.53.0.1\n", 1 },
	/* Debian's layout: owner, TTL, type, address (no class). */
	{ ".                        3600000      NS    A.ROOT-SERVERS.NET.\n"
	  "A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4\n"
	  "A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30\n",
	  0 },
	{ "a.root. AAAA ::1\n", 1 },
	{ "a.root. 3600 in aaaa ::1", 1 }, /* no final newline, lower case */
	{ "a.root. 3600 IN AAAA ::2\n", 0 },
	{ "; a.root. 3600 IN A 127.0.0.1\n", 0 },	     /* a comment */
	{ "a.root. 3600 IN A 198.41.0.4 ; 127.0.0.1\n", 0 }, /* after it */
	{ "a.root. 3600 IN TXT 127.0.0.1\n", 0 },	     /* not A/AAAA */
	{ "a.root. 3600 IN A 128.0.0.1\n", 0 },
	{ "a.root. 3600 IN A 127.0.0.1 extra\n", 0 }, /* not a record */
	{ "A 127.0.0.1\n", 0 },			      /* no owner */
	{ "a.root. IN A 127.255.255.254\r\n", 1 },    /* CRLF line ends */
	{ "", 0 },
};

UNIT_TEST(test_unbound_embed_hints_loopback)
{
	for (size_t i = 0; i < sizeof hints_cases / sizeof hints_cases[0];
	     i++) {
		const struct hints_case *c = &hints_cases[i];
		CHECK_INT(
		    unbound_embed_hints_loopback(c->text, strlen(c->text)),
		    c->want, c->text);
	}
}

struct size_case {
	long cores;
	uint64_t ram_mib;
	unsigned threads, slabs;
	uint64_t msg_mib, rrset_mib;
};

static const struct size_case size_cases[] = {
	{ 1, 512, 1, 4, 32, 64 },	  /* floor: 96 MiB */
	{ 2, 8192, 1, 4, 341, 682 },	  /* an eighth of the memory */
	{ 8, 32768, 4, 4, 1024, 2048 },	  /* ceiling: 3 GiB */
	{ 64, 262144, 4, 4, 1024, 2048 }, /* threads capped at 4 */
	{ 0, 0, 1, 4, 32, 64 },		  /* nothing known */
	{ -1, 4096, 1, 4, 170, 340 },	  /* sysconf failed */
};

UNIT_TEST(test_unbound_embed_size_for)
{
	const uint64_t mib = 1024 * 1024;

	for (size_t i = 0; i < sizeof size_cases / sizeof size_cases[0]; i++) {
		const struct size_case *c = &size_cases[i];
		struct unbound_embed_size sz;
		char ctx[64];
		snprintf(ctx, sizeof ctx, "%ld cores, %llu MiB", c->cores,
			 (unsigned long long)c->ram_mib);
		unbound_embed_size_for(c->cores, c->ram_mib * mib, &sz);
		CHECK_INT(sz.threads, c->threads, ctx);
		CHECK_INT(sz.slabs, c->slabs, ctx);
		CHECK_INT(sz.msg_cache / mib, c->msg_mib, ctx);
		CHECK_INT(sz.rrset_cache / mib, c->rrset_mib, ctx);
		/* unbound refuses slabs that are not a power of 2. */
		CHECK((sz.slabs & (sz.slabs - 1)) == 0);
		CHECK(sz.neg_cache >= mib && sz.key_cache >= mib);
	}
}

UNIT_TEST(test_unbound_embed_rc_str)
{
	CHECK_STR(unbound_embed_rc_str(UNBOUND_EMBED_OK), "ok", "ok");
	CHECK_STR(unbound_embed_rc_str(UNBOUND_EMBED_MISMATCH), "mismatch",
		  "mismatch");
	CHECK_STR(unbound_embed_rc_str(UNBOUND_EMBED_RC_LAST), "unknown",
		  "last");
}

/* Whether `line` (without its newline) is a whole line of `text`. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

UNIT_TEST(test_unbound_embed_conf_text)
{
	struct unbound_embed_conf c = {
		.dir = "/d/resolver",
		.pidfile = "/d/resolver/unbound.pid",
		.logfile = "/d/resolver/unbound.log",
		.hints = "/d/resolver/root.hints",
		.anchor = "/d/resolver/root.key",
		.user = "mxcrawl",
		.port = 23456,
	};
	/* The lines every configuration has: what the scan relies on. */
	static const char *const always[] = {
		"server:",
		"  interface: 127.0.0.1",
		"  port: 23456",
		"  username: \"mxcrawl\"",
		"  chroot: \"\"",
		"  pidfile: \"/d/resolver/unbound.pid\"",
		"  logfile: \"/d/resolver/unbound.log\"",
		"  root-hints: \"/d/resolver/root.hints\"",
		"  auto-trust-anchor-file: \"/d/resolver/root.key\"",
		"  module-config: \"validator iterator\"",
		"  ede: yes",
		"  val-log-level: 2",
		"  qname-minimisation: yes",
		"  num-threads: 2",
		"  msg-cache-slabs: 4",
		"  msg-cache-size: 341m",
		"  rrset-cache-size: 682m",
		"remote-control:",
		"  control-enable: no",
	};
	/* The lines of a private root (a testbed) only. */
	static const char *const private_only[] = {
		"  do-not-query-localhost: no",
		"  local-zone: \"test.\" nodefault",
		"  local-zone: \"invalid.\" nodefault",
		"  local-zone: \"onion.\" nodefault",
	};

	unbound_embed_size_for(4, 8192ull * 1024 * 1024, &c.size);
	for (int priv = 0; priv <= 1; priv++) {
		c.private_root = priv;
		char *text = unbound_embed_conf_text(&c);
		CHECK(text != NULL);
		if (!text)
			return;
		for (size_t i = 0; i < sizeof always / sizeof *always; i++)
			if (!has_line(text, always[i]))
				unit_fail(__FILE__, __LINE__,
					  "private_root %d: no line '%s'", priv,
					  always[i]);
		for (size_t i = 0;
		     i < sizeof private_only / sizeof *private_only; i++)
			if (has_line(text, private_only[i]) != priv)
				unit_fail(__FILE__, __LINE__,
					  "private_root %d: line '%s' %s", priv,
					  private_only[i],
					  priv ? "missing" : "present");
		/* Never the real root's port 53, never forwarding. */
		CHECK(!strstr(text, "port: 53\n"));
		CHECK(!strstr(text, "forward-zone"));
		free(text);
	}
}
