/*
 * The address policy: a pure classifier over the IANA special-purpose
 * registries (RFC 6890, RFC 8190) and the --allow-cidr / --blocklist
 * tables. See addrpolicy.h for the contracts; the comments here say why.
 *
 * Decisions the header leaves open, made here on the side of refusing:
 *
 * - IPv6 outside 2000::/3 that no row below names is ADDR_RESERVED: IANA
 *   marks all of it "Reserved by IETF" (the IPv6 Address Space registry),
 *   so nothing there is a mail server we should reach.
 * - 2001::/23 (IETF protocol assignments, Teredo's 2001::/32 included) is
 *   ADDR_RESERVED as a whole, although a few /32s and /48s inside it are
 *   marked globally reachable: none of them hosts mail.
 * - The deprecated IPv4-compatible form ::a.b.c.d (RFC 4291 §2.5.5.1) is
 *   never routed, so it takes the class of its IPv4 part when that is
 *   special (::10.0.0.1 is ADDR_PRIVATE, as the header promises) and
 *   ADDR_RESERVED when the IPv4 part is public (::8.8.8.8).
 * - IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d (RFC 6052) and
 *   6to4 2002:aabb:ccdd:: (RFC 3056) take the class of the IPv4 address
 *   they carry: a NAT64 or 6to4 path to a private address is still a
 *   path into a private network. addr_classify() therefore never returns
 *   ADDR_MAPPED; the value exists for callers that want to record the form.
 * - Any other family is ADDR_RESERVED.
 *
 * --allow-cidr and --blocklist entries are ranges kept in sorted, merged
 * arrays (one per family) searched by bisection; blocklisted domains live
 * in an open-addressing hash set probed once per parent of the name. A
 * CIDR with host bits set beyond its prefix ("10.1.2.3/8") is accepted
 * and normalised to its network (10.0.0.0/8), as most tools do, because
 * the intent is unambiguous. An IPv6 entry inside ::ffff:0:0/96 with a
 * prefix of at least 96 is stored as the IPv4 range it denotes, so one
 * entry covers both spellings of the same endpoint.
 */
#include "crawler/scan/addrpolicy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "targets/name.h"

/* A blocklist line, without its line break, is at most this long. */
#define ADDRPOLICY_MAX_LINE 1024
/* The text of one address or CIDR: INET6_ADDRSTRLEN plus "/128". */
#define ADDRPOLICY_MAX_CIDR_TEXT 64
/* Caps on the tables, far above the 100k entries a real blocklist has. */
#define ADDRPOLICY_MAX_RANGES (4u * 1024 * 1024)
#define ADDRPOLICY_MAX_DOMAINS (4u * 1024 * 1024)
/* Initial size of the domain hash table (a power of two). */
#define ADDRPOLICY_DOMAIN_SLOTS_MIN 1024u
#define ADDRPOLICY_RANGES_MIN 64u

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Reasons handed back through `err`; tests match on their wording. */
static const char ERR_EMPTY[] = "empty address or CIDR";
static const char ERR_TOO_LONG_CIDR[] = "too long for an address or CIDR";
static const char ERR_NO_ADDRESS[] = "missing address before '/'";
static const char ERR_BAD_V4[] = "bad IPv4 address";
static const char ERR_BAD_V6[] = "bad IPv6 address";
static const char ERR_NOT_ADDRESS[] = "not an IPv4 or IPv6 address or CIDR";
static const char ERR_NO_PREFIX[] = "missing prefix length after '/'";
static const char ERR_PREFIX_NOT_DECIMAL[] =
    "prefix length is not a decimal number";
static const char ERR_PREFIX_LEADING_ZERO[] =
    "prefix length has a leading zero";
static const char ERR_PREFIX_V4[] = "prefix length over 32 for IPv4";
static const char ERR_PREFIX_V6[] = "prefix length over 128 for IPv6";
static const char ERR_NOMEM[] = "out of memory";
static const char ERR_OPEN[] = "cannot open blocklist file";
static const char ERR_READ[] = "read error on blocklist file";
static const char ERR_LINE_LONG[] = "line longer than 1024 bytes";
static const char ERR_LINE_NUL[] = "NUL byte in line";
static const char ERR_LINE_SPACE[] =
    "whitespace inside an entry (one entry per line)";
static const char ERR_TOO_MANY_RANGES[] = "too many CIDRs in blocklist";
static const char ERR_TOO_MANY_DOMAINS[] = "too many domains in blocklist";
static const char ERR_BAD_ARGUMENT[] = "missing policy, path or argument";

/* Why name_normalize() refused a blocklist domain, as a static sentence. */
static const char *const domain_errors[NAME_RC_LAST] = {
	[NAME_EMPTY] = "domain is empty or the root",
	[NAME_NUL] = "NUL byte in domain",
	[NAME_CONTROL] = "control character in domain",
	[NAME_SPACE] = "whitespace inside domain",
	[NAME_BAD_UTF8] = "domain is not valid UTF-8",
	[NAME_IDN_INVALID] = "invalid internationalised domain name",
	[NAME_WILDCARD] = "wildcard domain; write the parent domain, which "
			  "blocks every name below it",
	[NAME_IP_ADDRESS] = "address literal in domain form; write the bare "
			    "address or CIDR",
	[NAME_TOO_LONG] = "domain longer than 253 bytes",
	[NAME_LABEL_EMPTY] = "domain has an empty label",
	[NAME_LABEL_TOO_LONG] = "domain label longer than 63 bytes",
	[NAME_BAD_CHAR] = "domain has a character other than a letter, digit "
			  "or hyphen",
	[NAME_HYPHEN_EDGE] = "domain label starts or ends with a hyphen",
	[NAME_NUMERIC_TLD] = "domain's top-level label is all digits",
};

static const char *const addr_class_names[ADDR_CLASS_LAST] = {
	[ADDR_PUBLIC] = "public",
	[ADDR_UNSPECIFIED] = "unspecified",
	[ADDR_LOOPBACK] = "loopback",
	[ADDR_PRIVATE] = "private",
	[ADDR_CGNAT] = "cgnat",
	[ADDR_LINK_LOCAL] = "link_local",
	[ADDR_MULTICAST] = "multicast",
	[ADDR_BROADCAST] = "broadcast",
	[ADDR_DOCUMENTATION] = "documentation",
	[ADDR_BENCHMARK] = "benchmark",
	[ADDR_RESERVED] = "reserved",
	[ADDR_MAPPED] = "mapped",
};

static const char *const addr_verdict_names[ADDR_POLICY_LAST] = {
	[ADDR_POLICY_OK] = "ok",
	[ADDR_POLICY_RESERVED] = "reserved",
	[ADDR_POLICY_BLOCKLIST] = "blocklist",
};

const char *addr_class_str(enum addr_class c)
{
	if ((unsigned)c >= ADDR_CLASS_LAST)
		return "unknown";
	return addr_class_names[c];
}

const char *addr_verdict_str(enum addr_verdict v)
{
	if ((unsigned)v >= ADDR_POLICY_LAST)
		return "unknown";
	return addr_verdict_names[v];
}

/* ---- Classification ---------------------------------------------------- */

/* One row of the IPv4 Special-Purpose Address Registry as we judge it. */
struct v4_special {
	uint32_t net;
	unsigned len;
	enum addr_class cls;
};

/* First match wins, so 255.255.255.255 comes before 240/4. */
static const struct v4_special v4_special[] = {
	{ 0xffffffffu, 32, ADDR_BROADCAST },	 /* RFC 8190, RFC 919 */
	{ 0x00000000u, 8, ADDR_UNSPECIFIED },	 /* "this network", RFC 791 */
	{ 0x0a000000u, 8, ADDR_PRIVATE },	 /* RFC 1918 */
	{ 0x64400000u, 10, ADDR_CGNAT },	 /* RFC 6598 */
	{ 0x7f000000u, 8, ADDR_LOOPBACK },	 /* RFC 1122 */
	{ 0xa9fe0000u, 16, ADDR_LINK_LOCAL },	 /* RFC 3927 */
	{ 0xac100000u, 12, ADDR_PRIVATE },	 /* RFC 1918 */
	{ 0xc0000000u, 24, ADDR_RESERVED },	 /* IETF protocol assignments */
	{ 0xc0000200u, 24, ADDR_DOCUMENTATION }, /* TEST-NET-1, RFC 5737 */
	{ 0xc0586300u, 24, ADDR_RESERVED },  /* 6to4 relay anycast, RFC 7526 */
	{ 0xc0a80000u, 16, ADDR_PRIVATE },   /* RFC 1918 */
	{ 0xc6120000u, 15, ADDR_BENCHMARK }, /* RFC 2544 */
	{ 0xc6336400u, 24, ADDR_DOCUMENTATION }, /* TEST-NET-2, RFC 5737 */
	{ 0xcb007100u, 24, ADDR_DOCUMENTATION }, /* TEST-NET-3, RFC 5737 */
	{ 0xe0000000u, 4, ADDR_MULTICAST },	 /* RFC 5771 */
	{ 0xf0000000u, 4, ADDR_RESERVED },	 /* RFC 1112 §4 */
};

static uint32_t v4_mask(unsigned len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

static uint32_t load_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static enum addr_class v4_class(uint32_t v4)
{
	for (size_t i = 0; i < ARRAY_LEN(v4_special); i++) {
		const struct v4_special *s = &v4_special[i];

		if ((v4 & v4_mask(s->len)) == s->net)
			return s->cls;
	}
	return ADDR_PUBLIC;
}

/* Where an IPv6 row finds the IPv4 address it carries, if it does. */
enum v6_embed {
	EMBED_NONE = 0,
	EMBED_LOW32,  /* the last 32 bits: mapped and NAT64 */
	EMBED_COMPAT, /* the last 32 bits of the deprecated ::/96 form */
	EMBED_6TO4,   /* bits 16..47 of 2002::/16 */
};

/* One row of the IPv6 Special-Purpose Address Registry as we judge it. */
struct v6_special {
	uint8_t net[16];
	unsigned len;
	enum addr_class cls; /* when embed is EMBED_NONE */
	enum v6_embed embed;
};

/* First match wins: more specific rows first, the catch-all last. */
static const struct v6_special v6_special[] = {
	/* ::/128 and ::1/128, RFC 4291 §2.5.2 and §2.5.3. */
	{ { 0 }, 128, ADDR_UNSPECIFIED, EMBED_NONE },
	{ { [15] = 1 }, 128, ADDR_LOOPBACK, EMBED_NONE },
	/* ::ffff:0:0/96 IPv4-mapped, RFC 4291 §2.5.5.2. */
	{ { [10] = 0xff, [11] = 0xff }, 96, ADDR_PUBLIC, EMBED_LOW32 },
	/* ::/96 IPv4-compatible, deprecated by RFC 4291 §2.5.5.1. */
	{ { 0 }, 96, ADDR_PUBLIC, EMBED_COMPAT },
	/* 64:ff9b::/96 NAT64 well-known prefix, RFC 6052. */
	{ { 0x00, 0x64, 0xff, 0x9b }, 96, ADDR_PUBLIC, EMBED_LOW32 },
	/* 64:ff9b:1::/48 local-use NAT64, RFC 8215: inside one network. */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 },
	  48,
	  ADDR_PRIVATE,
	  EMBED_NONE },
	/* 100::/64 discard-only, RFC 6666. */
	{ { 0x01, 0x00 }, 64, ADDR_RESERVED, EMBED_NONE },
	/* 2001:db8::/32 documentation, RFC 3849. */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, ADDR_DOCUMENTATION, EMBED_NONE },
	/* 2001::/23 IETF protocol assignments (Teredo 2001::/32 inside). */
	{ { 0x20, 0x01 }, 23, ADDR_RESERVED, EMBED_NONE },
	/* 2002::/16 6to4, RFC 3056. */
	{ { 0x20, 0x02 }, 16, ADDR_PUBLIC, EMBED_6TO4 },
	/* 3fff::/20 documentation, RFC 9637. */
	{ { 0x3f, 0xff }, 20, ADDR_DOCUMENTATION, EMBED_NONE },
	/* fc00::/7 unique local, RFC 4193. */
	{ { 0xfc }, 7, ADDR_PRIVATE, EMBED_NONE },
	/* fe80::/10 link-local, RFC 4291 §2.5.6. */
	{ { 0xfe, 0x80 }, 10, ADDR_LINK_LOCAL, EMBED_NONE },
	/* fec0::/10 site-local, deprecated by RFC 3879: private in effect. */
	{ { 0xfe, 0xc0 }, 10, ADDR_PRIVATE, EMBED_NONE },
	/* ff00::/8 multicast, RFC 4291 §2.7. */
	{ { 0xff }, 8, ADDR_MULTICAST, EMBED_NONE },
	/* 2000::/3 global unicast; everything else is reserved by IETF. */
	{ { 0x20 }, 3, ADDR_PUBLIC, EMBED_NONE },
	{ { 0 }, 0, ADDR_RESERVED, EMBED_NONE },
};

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned len)
{
	unsigned whole = len / 8, rest = len % 8;

	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (a[whole] & mask) == (net[whole] & mask);
}

static const struct v6_special *v6_row(const uint8_t b[16])
{
	for (size_t i = 0; i < ARRAY_LEN(v6_special); i++)
		if (prefix_match(b, v6_special[i].net, v6_special[i].len))
			return &v6_special[i];
	return &v6_special[ARRAY_LEN(v6_special) - 1];
}

/* The IPv4 address a row's form carries; only for embed != EMBED_NONE. */
static uint32_t v6_embedded(const struct v6_special *row, const uint8_t b[16])
{
	return row->embed == EMBED_6TO4 ? load_be32(b + 2) : load_be32(b + 12);
}

enum addr_class addr_classify(const struct addr *a)
{
	if (!a)
		return ADDR_RESERVED;
	if (a->family == AF_INET)
		return v4_class(load_be32(a->bytes));
	if (a->family != AF_INET6)
		return ADDR_RESERVED;

	const struct v6_special *row = v6_row(a->bytes);
	enum addr_class c;

	switch (row->embed) {
	case EMBED_NONE:
		return row->cls;
	case EMBED_COMPAT:
		c = v4_class(v6_embedded(row, a->bytes));
		return c == ADDR_PUBLIC ? ADDR_RESERVED : c;
	case EMBED_LOW32:
	case EMBED_6TO4:
		return v4_class(v6_embedded(row, a->bytes));
	}
	return ADDR_RESERVED;
}

/* ---- Ranges ------------------------------------------------------------ */

/* A 128-bit IPv6 address as two host-order halves, for ordering. */
struct u128 {
	uint64_t hi, lo;
};

struct v4_range {
	uint32_t lo, hi;
};

struct v6_range {
	struct u128 lo, hi;
};

/* Sorted, merged (disjoint, non-adjacent) ranges of both families. */
struct range_set {
	struct v4_range *v4;
	size_t n4, cap4;
	struct v6_range *v6;
	size_t n6, cap6;
};

/* A parsed CIDR as the range it covers. */
struct cidr {
	int family;
	struct v4_range r4;
	struct v6_range r6;
};

static struct u128 u128_load(const uint8_t b[16])
{
	struct u128 v = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | b[i];
		v.lo = v.lo << 8 | b[8 + i];
	}
	return v;
}

static int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

/* The network mask of a prefix length 0..128. */
static struct u128 u128_mask(unsigned len)
{
	struct u128 m = { 0, 0 };

	if (len >= 64)
		m.hi = UINT64_MAX;
	else if (len > 0)
		m.hi = UINT64_MAX << (64 - len);
	if (len >= 128)
		m.lo = UINT64_MAX;
	else if (len > 64)
		m.lo = UINT64_MAX << (128 - len);
	return m;
}

/* True if b directly follows a (a + 1 == b without wrapping). */
static bool u128_next(struct u128 a, struct u128 b)
{
	if (a.lo != UINT64_MAX)
		return b.hi == a.hi && b.lo == a.lo + 1;
	return a.hi != UINT64_MAX && b.hi == a.hi + 1 && b.lo == 0;
}

static int v4_range_cmp(const void *pa, const void *pb)
{
	const struct v4_range *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static int v6_range_cmp(const void *pa, const void *pb)
{
	const struct v6_range *a = pa, *b = pb;

	return u128_cmp(a->lo, b->lo);
}

static void range_set_free(struct range_set *s)
{
	free(s->v4);
	free(s->v6);
	memset(s, 0, sizeof(*s));
}

/* Appends one range, unsorted until range_set_finish(); 0 or an error. */
static const char *range_set_add(struct range_set *s, const struct cidr *c)
{
	if (c->family == AF_INET) {
		if (s->n4 >= ADDRPOLICY_MAX_RANGES)
			return ERR_TOO_MANY_RANGES;
		if (s->n4 == s->cap4) {
			size_t cap =
			    s->cap4 ? s->cap4 * 2 : ADDRPOLICY_RANGES_MIN;
			void *v = realloc(s->v4, cap * sizeof(*s->v4));
			if (!v)
				return ERR_NOMEM;
			s->v4 = v;
			s->cap4 = cap;
		}
		s->v4[s->n4++] = c->r4;
		return NULL;
	}
	if (s->n6 >= ADDRPOLICY_MAX_RANGES)
		return ERR_TOO_MANY_RANGES;
	if (s->n6 == s->cap6) {
		size_t cap = s->cap6 ? s->cap6 * 2 : ADDRPOLICY_RANGES_MIN;
		void *v = realloc(s->v6, cap * sizeof(*s->v6));
		if (!v)
			return ERR_NOMEM;
		s->v6 = v;
		s->cap6 = cap;
	}
	s->v6[s->n6++] = c->r6;
	return NULL;
}

/* Sorts and merges in place, so that lookups can bisect; cannot fail. */
static void range_set_finish(struct range_set *s)
{
	size_t out = 0;

	/* qsort() must not see the NULL array of an empty set. */
	if (s->n4 > 1)
		qsort(s->v4, s->n4, sizeof(*s->v4), v4_range_cmp);
	for (size_t i = 0; i < s->n4; i++) {
		struct v4_range *prev = out ? &s->v4[out - 1] : NULL;
		struct v4_range r = s->v4[i];

		if (prev && (r.lo <= prev->hi || (prev->hi != UINT32_MAX &&
						  r.lo == prev->hi + 1))) {
			if (r.hi > prev->hi)
				prev->hi = r.hi;
		} else {
			s->v4[out++] = r;
		}
	}
	s->n4 = out;

	out = 0;
	if (s->n6 > 1)
		qsort(s->v6, s->n6, sizeof(*s->v6), v6_range_cmp);
	for (size_t i = 0; i < s->n6; i++) {
		struct v6_range *prev = out ? &s->v6[out - 1] : NULL;
		struct v6_range r = s->v6[i];

		if (prev && (u128_cmp(r.lo, prev->hi) <= 0 ||
			     u128_next(prev->hi, r.lo))) {
			if (u128_cmp(r.hi, prev->hi) > 0)
				prev->hi = r.hi;
		} else {
			s->v6[out++] = r;
		}
	}
	s->n6 = out;
}

static bool range_set_has_v4(const struct range_set *s, uint32_t x)
{
	size_t lo = 0, hi = s->n4;

	/* Find the first range starting above x; the one before may hold x. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v4[mid].lo <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && x <= s->v4[lo - 1].hi;
}

static bool range_set_has_v6(const struct range_set *s, struct u128 x)
{
	size_t lo = 0, hi = s->n6;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u128_cmp(s->v6[mid].lo, x) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && u128_cmp(x, s->v6[lo - 1].hi) <= 0;
}

static bool only_digits_and_dots(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!(s[i] == '.' || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/*
 * Parses "address[/len]" of exactly `len` bytes into the range it covers.
 * Returns NULL or a static reason. Host bits beyond the prefix are
 * cleared; a mapped IPv6 prefix of /96 or longer becomes an IPv4 range.
 */
static const char *cidr_parse(const char *s, size_t len, struct cidr *c)
{
	char text[ADDRPOLICY_MAX_CIDR_TEXT + 1];
	uint8_t b[16] = { 0 };
	const char *slash;
	size_t alen;
	unsigned plen, max;
	bool v6;

	if (!s || len == 0)
		return ERR_EMPTY;
	if (len > ADDRPOLICY_MAX_CIDR_TEXT)
		return ERR_TOO_LONG_CIDR;
	slash = memchr(s, '/', len);
	alen = slash ? (size_t)(slash - s) : len;
	if (alen == 0)
		return ERR_NO_ADDRESS;
	memcpy(text, s, alen);
	text[alen] = '\0';
	v6 = memchr(text, ':', alen) != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, text, b) != 1) {
		if (v6)
			return ERR_BAD_V6;
		return only_digits_and_dots(text, alen) ? ERR_BAD_V4
							: ERR_NOT_ADDRESS;
	}

	max = v6 ? 128 : 32;
	plen = max;
	if (slash) {
		const char *d = slash + 1;
		size_t dlen = len - alen - 1;

		if (dlen == 0)
			return ERR_NO_PREFIX;
		plen = 0;
		for (size_t i = 0; i < dlen; i++) {
			if (d[i] < '0' || d[i] > '9')
				return ERR_PREFIX_NOT_DECIMAL;
			if (plen <= max)
				plen = plen * 10 + (unsigned)(d[i] - '0');
		}
		if (dlen > 1 && d[0] == '0')
			return ERR_PREFIX_LEADING_ZERO;
		if (plen > max)
			return v6 ? ERR_PREFIX_V6 : ERR_PREFIX_V4;
	}

	/* ::ffff:a.b.c.d/96+ is the IPv4 range a.b.c.d/(len-96). */
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	if (v6 && plen >= 96 && memcmp(b, mapped, sizeof(mapped)) == 0) {
		memmove(b, b + 12, 4);
		plen -= 96;
		v6 = false;
	}

	memset(c, 0, sizeof(*c));
	if (!v6) {
		uint32_t m = v4_mask(plen);

		c->family = AF_INET;
		c->r4.lo = load_be32(b) & m;
		c->r4.hi = c->r4.lo | ~m;
	} else {
		struct u128 a = u128_load(b), m = u128_mask(plen);

		c->family = AF_INET6;
		c->r6.lo.hi = a.hi & m.hi;
		c->r6.lo.lo = a.lo & m.lo;
		c->r6.hi.hi = c->r6.lo.hi | ~m.hi;
		c->r6.hi.lo = c->r6.lo.lo | ~m.lo;
	}
	return NULL;
}

/* ---- Domains ----------------------------------------------------------- */

/* A slot of the domain hash set; len 0 marks an empty slot. */
struct domain_slot {
	uint64_t hash;
	size_t off; /* into the pool */
	size_t len;
};

/*
 * Blocklisted domains: normalised names, each followed by a NUL, appended
 * to one pool, and an open-addressing table (linear probing, load at most
 * one half) of offsets into it.
 */
struct domain_set {
	char *pool;
	size_t pool_len, pool_cap;
	struct domain_slot *slots;
	size_t nslots, count;
};

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* FNV-1a over the lower-cased bytes, so lookups need not copy. */
static uint64_t domain_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)ascii_lower(s[i]);
		h *= 0x100000001b3ull;
	}
	return h;
}

static void domain_set_free(struct domain_set *d)
{
	free(d->pool);
	free(d->slots);
	memset(d, 0, sizeof(*d));
}

static bool domain_set_has(const struct domain_set *d, const char *s,
			   size_t len, uint64_t h)
{
	size_t mask = d->nslots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct domain_slot *sl = &d->slots[i];

		if (sl->len == 0)
			return false;
		if (sl->hash != h || sl->len != len)
			continue;
		const char *p = d->pool + sl->off;
		size_t k = 0;
		while (k < len && p[k] == ascii_lower(s[k]))
			k++;
		if (k == len)
			return true;
	}
}

/* Inserts the pool entry at off, once; domain_set_reserve() made room. */
static void domain_set_insert(struct domain_set *d, size_t off, size_t len)
{
	const char *s = d->pool + off;
	uint64_t h = domain_hash(s, len);
	size_t mask = d->nslots - 1, i;

	if (domain_set_has(d, s, len, h))
		return;
	for (i = h & mask; d->slots[i].len != 0; i = (i + 1) & mask)
		;
	d->slots[i] = (struct domain_slot){ h, off, len };
	d->count++;
}

/* Makes room for `more` insertions at load one half; -ENOMEM on no
 * memory. */
static int domain_set_reserve(struct domain_set *d, size_t more)
{
	size_t want = d->nslots ? d->nslots : ADDRPOLICY_DOMAIN_SLOTS_MIN;
	struct domain_slot *old = d->slots, *slots;
	size_t oldn = d->nslots;

	if (more == 0)
		return 0;
	while ((d->count + more) * 2 > want)
		want *= 2;
	if (want == d->nslots)
		return 0;
	slots = calloc(want, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	d->slots = slots;
	d->nslots = want;
	for (size_t i = 0; i < oldn; i++) {
		size_t j;

		if (old[i].len == 0)
			continue;
		for (j = old[i].hash & (want - 1); slots[j].len != 0;
		     j = (j + 1) & (want - 1))
			;
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

/* Appends a normalised name and its NUL to the pool. */
static const char *domain_pool_add(struct domain_set *d, const char *s,
				   size_t len)
{
	if (d->pool_len + len + 1 > d->pool_cap) {
		size_t cap = d->pool_cap ? d->pool_cap : 4096;
		void *v;

		while (d->pool_len + len + 1 > cap)
			cap *= 2;
		v = realloc(d->pool, cap);
		if (!v)
			return ERR_NOMEM;
		d->pool = v;
		d->pool_cap = cap;
	}
	memcpy(d->pool + d->pool_len, s, len);
	d->pool[d->pool_len + len] = '\0';
	d->pool_len += len + 1;
	return NULL;
}

/* ---- The policy -------------------------------------------------------- */

struct addr_policy {
	struct range_set allow;
	struct range_set block;
	struct domain_set domains;
};

struct addr_policy *addr_policy_new(void)
{
	return calloc(1, sizeof(struct addr_policy));
}

void addr_policy_free(struct addr_policy *p)
{
	if (!p)
		return;
	range_set_free(&p->allow);
	range_set_free(&p->block);
	domain_set_free(&p->domains);
	free(p);
}

/* The errno of a reason: memory, or input we refuse. */
static int why_errno(const char *why)
{
	return why == ERR_NOMEM ? -ENOMEM : -EINVAL;
}

int addr_policy_allow(struct addr_policy *p, const char *cidr, const char **err)
{
	const char *why;
	struct cidr c;

	if (!p)
		why = ERR_BAD_ARGUMENT;
	else if (!cidr)
		why = ERR_EMPTY;
	else if (!(why = cidr_parse(cidr, strlen(cidr), &c)) &&
		 !(why = range_set_add(&p->allow, &c)))
		range_set_finish(&p->allow);
	if (err)
		*err = why;
	return why ? why_errno(why) : 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * Reads one line without its '\n' into buf (ADDRPOLICY_MAX_LINE + 2 bytes:
 * room for a CR and one byte too many). Returns 1 with *len set, 0 at end
 * of file, -1 on a read error. A longer line is consumed to its end and
 * reported as *len > ADDRPOLICY_MAX_LINE + 1 (its bytes past the buffer
 * are dropped); *nul tells whether the line held a NUL byte.
 */
static int read_line(FILE *f, char *buf, size_t *len, bool *nul)
{
	size_t n = 0;
	int ch;

	*nul = false;
	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			*nul = true;
		if (n < ADDRPOLICY_MAX_LINE + 2)
			buf[n] = (char)ch;
		if (n <= ADDRPOLICY_MAX_LINE + 2)
			n++;
	}
	if (ch == EOF && ferror(f))
		return errno ? -errno : -EIO;
	if (ch == EOF && n == 0)
		return 0;
	*len = n;
	return 1;
}

/* Parses one blocklist line (already cut of comments and trimmed). */
static const char *blocklist_entry(struct addr_policy *p, const char *s,
				   size_t len, size_t *new_domains)
{
	for (size_t i = 0; i < len; i++)
		if (is_blank(s[i]))
			return ERR_LINE_SPACE;

	/* A dotted quad starts with a digit; "." and "..." are bad names. */
	if (memchr(s, ':', len) || memchr(s, '/', len) ||
	    (s[0] >= '0' && s[0] <= '9' && only_digits_and_dots(s, len))) {
		struct cidr c;
		const char *why = cidr_parse(s, len, &c);

		return why ? why : range_set_add(&p->block, &c);
	}

	char name[NAME_MAX_TEXT + 1];
	size_t nlen;
	enum name_rc rc =
	    name_normalize((const uint8_t *)s, len, name, &nlen, NULL);

	if (rc != NAME_OK) {
		const char *why =
		    (unsigned)rc < NAME_RC_LAST ? domain_errors[rc] : NULL;
		return why ? why : "bad domain";
	}
	if (p->domains.count + *new_domains >= ADDRPOLICY_MAX_DOMAINS)
		return ERR_TOO_MANY_DOMAINS;
	(*new_domains)++;
	return domain_pool_add(&p->domains, name, nlen);
}

int addr_policy_load_blocklist(struct addr_policy *p, const char *path,
			       unsigned long *line, const char **err)
{
	char buf[ADDRPOLICY_MAX_LINE + 2];
	const char *why = NULL;
	unsigned long lineno = 0;
	size_t n4, n6, pool_len, new_domains = 0, len = 0;
	bool nul;
	FILE *f;
	int r;

	if (line)
		*line = 0;
	if (err)
		*err = NULL;
	if (!p || !path) {
		if (err)
			*err = ERR_BAD_ARGUMENT;
		return -EINVAL;
	}
	f = fopen(path, "re");
	if (!f) {
		if (err)
			*err = ERR_OPEN;
		return -errno;
	}
	/* Entries of this file are appended after these marks and only
	 * become visible once the whole file has been read. */
	n4 = p->block.n4;
	n6 = p->block.n6;
	pool_len = p->domains.pool_len;

	while ((r = read_line(f, buf, &len, &nul)) == 1) {
		char *s = buf, *hash;

		lineno++;
		if (len > ADDRPOLICY_MAX_LINE + 1 ||
		    (len == ADDRPOLICY_MAX_LINE + 1 && buf[len - 1] != '\r')) {
			why = ERR_LINE_LONG;
			break;
		}
		if (nul) {
			why = ERR_LINE_NUL;
			break;
		}
		if (lineno == 1 && len >= 3 &&
		    memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		hash = memchr(s, '#', len);
		if (hash)
			len = (size_t)(hash - s);
		while (len > 0 && is_blank(s[len - 1]))
			len--;
		while (len > 0 && is_blank(*s)) {
			s++;
			len--;
		}
		if (len == 0)
			continue;
		why = blocklist_entry(p, s, len, &new_domains);
		if (why)
			break;
	}
	if (r < 0) {
		int e = errno;

		why = ERR_READ;
		lineno++;
		fclose(f);
		errno = e;
	} else {
		fclose(f);
	}
	if (!why && domain_set_reserve(&p->domains, new_domains) < 0)
		why = ERR_NOMEM;

	if (why) {
		p->block.n4 = n4;
		p->block.n6 = n6;
		p->domains.pool_len = pool_len;
		if (line)
			*line = lineno;
		if (err)
			*err = why;
		return why == ERR_READ ? r : why_errno(why);
	}
	range_set_finish(&p->block);
	for (size_t off = pool_len; off < p->domains.pool_len;) {
		size_t nlen = strlen(p->domains.pool + off);

		domain_set_insert(&p->domains, off, nlen);
		off += nlen + 1;
	}
	return 0;
}

/* Every IPv4 address an IPv6 address carries in a form we understand. */
static bool v6_blocked_via_v4(const struct range_set *s, const uint8_t b[16])
{
	const struct v6_special *row = v6_row(b);

	if (row->embed == EMBED_NONE || s->n4 == 0)
		return false;
	return range_set_has_v4(s, v6_embedded(row, b));
}

enum addr_verdict addr_policy_check(const struct addr_policy *p,
				    const struct addr *a)
{
	enum addr_class c;

	if (!a || (a->family != AF_INET && a->family != AF_INET6))
		return ADDR_POLICY_RESERVED;

	/* The blocklist is an operator's promise to a third party: it wins
	 * over --allow-cidr and catches every spelling of a blocked IPv4
	 * address (mapped, compatible, NAT64, 6to4). */
	if (p && a->family == AF_INET &&
	    range_set_has_v4(&p->block, load_be32(a->bytes)))
		return ADDR_POLICY_BLOCKLIST;
	if (p && a->family == AF_INET6 &&
	    (range_set_has_v6(&p->block, u128_load(a->bytes)) ||
	     v6_blocked_via_v4(&p->block, a->bytes)))
		return ADDR_POLICY_BLOCKLIST;

	c = addr_classify(a);
	if (c == ADDR_PUBLIC)
		return ADDR_POLICY_OK;
	if (!p)
		return ADDR_POLICY_RESERVED;

	/* Only the mapped form reaches the IPv4 address itself (through a
	 * dual-stack socket), so only it is let through by an IPv4 entry;
	 * NAT64 and 6to4 forms lead elsewhere. */
	if (a->family == AF_INET) {
		if (range_set_has_v4(&p->allow, load_be32(a->bytes)))
			return ADDR_POLICY_OK;
	} else {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		if (range_set_has_v6(&p->allow, u128_load(a->bytes)))
			return ADDR_POLICY_OK;
		if (memcmp(a->bytes, mapped, sizeof(mapped)) == 0 &&
		    range_set_has_v4(&p->allow, load_be32(a->bytes + 12)))
			return ADDR_POLICY_OK;
	}
	return ADDR_POLICY_RESERVED;
}

bool addr_policy_domain_blocked(const struct addr_policy *p, const char *domain)
{
	size_t len;

	if (!p || !domain || p->domains.count == 0)
		return false;
	/* Names from DNS answers may come in mixed case or with the root's
	 * dot; both are forgiven here, as they cost nothing to ignore. */
	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	/* The name itself, then each parent at a label boundary. */
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && domain[i - 1] != '.')
			continue;
		const char *s = domain + i;
		size_t n = len - i;
		if (domain_set_has(&p->domains, s, n, domain_hash(s, n)))
			return true;
	}
	return false;
}
