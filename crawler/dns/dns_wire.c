/*
 * DNS wire format: query building, a sticky-error cursor, RFC 9267 name
 * decompression, the record walker and typed RDATA decoders. See
 * dns_wire.h for the contracts; the comments here say why.
 */
#include "crawler/dns/dns_wire.h"
#include "crawler/util/addr.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

/* RFC 1035 §4.1.1 header flag bits, and RFC 4035 §3.2 / RFC 6840 §5.7. */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u
#define DNS_FLAG_AD 0x0020u
#define DNS_FLAG_CD 0x0010u
#define DNS_OPCODE_SHIFT 11
#define DNS_OPCODE_MASK 0xfu
#define DNS_RCODE_MASK 0xfu
/* RFC 6891 §6.1.3: the DO bit in the OPT TTL's flags half. */
#define DNS_EDNS_DO 0x8000u
/* The length octet's top two bits: 00 label, 11 pointer, others reserved
 * or obsolete (RFC 6891 §5 deprecated the extended label types). */
#define DNS_LABEL_KIND_MASK 0xc0u
#define DNS_LABEL_POINTER 0xc0u
#define DNS_POINTER_HIGH_MASK 0x3fu
/* Fixed part of a record after its owner: type, class, TTL, RDLENGTH. */
#define DNS_RR_FIXED_LEN 10
/* An EDNS option's code and length fields (RFC 6891 §6.1.2). */
#define DNS_OPT_HEADER_LEN 4
/* The EDE option starts with a 16-bit INFO-CODE (RFC 8914 §2). */
#define DNS_EDE_INFO_LEN 2
/* RRSIG's fields before the signer name (RFC 4034 §3.1). */
#define DNS_RRSIG_FIXED_LEN 18
/* TLSA's usage, selector and matching type octets (RFC 6698 §2.1). */
#define DNS_TLSA_FIXED_LEN 3

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const dns_rc_names[DNS_RC_RC_LAST] = {
	[DNS_OK] = "ok",
	[DNS_RC_SHORT_READ] = "short_read",
	[DNS_RC_NO_SPACE] = "no_space",
	[DNS_RC_BAD_ARGUMENT] = "bad_argument",
	[DNS_RC_BAD_NAME] = "bad_name",
	[DNS_RC_LABEL_TOO_LONG] = "label_too_long",
	[DNS_RC_NAME_TOO_LONG] = "name_too_long",
	[DNS_RC_BAD_LABEL_TYPE] = "bad_label_type",
	[DNS_RC_POINTER_LOOP] = "pointer_loop",
	[DNS_RC_FORWARD_POINTER] = "forward_pointer",
	[DNS_RC_POINTER_INTO_HEADER] = "pointer_into_header",
	[DNS_RC_TOO_MANY_POINTERS] = "too_many_pointers",
	[DNS_RC_MESSAGE_TOO_LONG] = "message_too_long",
	[DNS_RC_TRUNCATED_HEADER] = "truncated_header",
	[DNS_RC_TOO_MANY_QUESTIONS] = "too_many_questions",
	[DNS_RC_TRUNCATED_QUESTION] = "truncated_question",
	[DNS_RC_TOO_MANY_RECORDS] = "too_many_records",
	[DNS_RC_TRUNCATED_RR] = "truncated_rr",
	[DNS_RC_RDLENGTH_OVERFLOW] = "rdlength_overflow",
	[DNS_RC_NAMES_FULL] = "names_full",
	[DNS_RC_OPT_MISPLACED] = "opt_misplaced",
	[DNS_RC_OPT_DUPLICATE] = "opt_duplicate",
	[DNS_RC_BAD_OPT] = "bad_opt",
	[DNS_RC_BAD_EDE] = "bad_ede",
	[DNS_RC_WRONG_TYPE] = "wrong_type",
	[DNS_RC_RDATA_SHORT] = "rdata_short",
	[DNS_RC_RDATA_TRAILING] = "rdata_trailing",
};

const char *dns_rc_str(enum dns_rc rc)
{
	if ((unsigned)rc >= DNS_RC_RC_LAST || !dns_rc_names[rc])
		return "unknown";
	return dns_rc_names[rc];
}

const char *dns_type_str(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_A:
		return "A";
	case DNS_TYPE_NS:
		return "NS";
	case DNS_TYPE_CNAME:
		return "CNAME";
	case DNS_TYPE_SOA:
		return "SOA";
	case DNS_TYPE_PTR:
		return "PTR";
	case DNS_TYPE_MX:
		return "MX";
	case DNS_TYPE_TXT:
		return "TXT";
	case DNS_TYPE_AAAA:
		return "AAAA";
	case DNS_TYPE_SRV:
		return "SRV";
	case DNS_TYPE_DNAME:
		return "DNAME";
	case DNS_TYPE_OPT:
		return "OPT";
	case DNS_TYPE_DS:
		return "DS";
	case DNS_TYPE_RRSIG:
		return "RRSIG";
	case DNS_TYPE_NSEC:
		return "NSEC";
	case DNS_TYPE_DNSKEY:
		return "DNSKEY";
	case DNS_TYPE_NSEC3:
		return "NSEC3";
	case DNS_TYPE_TLSA:
		return "TLSA";
	case DNS_TYPE_ANY:
		return "ANY";
	}
	return "unknown";
}

/* IANA "DNS RCODEs"; 16 is BADVERS in OPT (BADSIG only in TSIG). */
static const char *const dns_rcode_names[] = {
	[0] = "NOERROR",   [1] = "FORMERR",    [2] = "SERVFAIL",
	[3] = "NXDOMAIN",  [4] = "NOTIMP",     [5] = "REFUSED",
	[6] = "YXDOMAIN",  [7] = "YXRRSET",    [8] = "NXRRSET",
	[9] = "NOTAUTH",   [10] = "NOTZONE",   [11] = "DSOTYPENI",
	[16] = "BADVERS",  [17] = "BADKEY",    [18] = "BADTIME",
	[19] = "BADMODE",  [20] = "BADNAME",   [21] = "BADALG",
	[22] = "BADTRUNC", [23] = "BADCOOKIE",
};

const char *dns_rcode_str(int rcode)
{
	if (rcode < 0 || (size_t)rcode >= ARRAY_LEN(dns_rcode_names) ||
	    !dns_rcode_names[rcode])
		return "unknown";
	return dns_rcode_names[rcode];
}

/* RFC 8914 §4 and the IANA registry's later additions (25-27). */
static const char *const dns_ede_names[] = {
	[0] = "other_error",
	[1] = "unsupported_dnskey_algorithm",
	[2] = "unsupported_ds_digest_type",
	[3] = "stale_answer",
	[4] = "forged_answer",
	[5] = "dnssec_indeterminate",
	[6] = "dnssec_bogus",
	[7] = "signature_expired",
	[8] = "signature_not_yet_valid",
	[9] = "dnskey_missing",
	[10] = "rrsigs_missing",
	[11] = "no_zone_key_bit_set",
	[12] = "nsec_missing",
	[13] = "cached_error",
	[14] = "not_ready",
	[15] = "blocked",
	[16] = "censored",
	[17] = "filtered",
	[18] = "prohibited",
	[19] = "stale_nxdomain_answer",
	[20] = "not_authoritative",
	[21] = "not_supported",
	[22] = "no_reachable_authority",
	[23] = "network_error",
	[24] = "invalid_data",
	[25] = "signature_expired_before_valid",
	[26] = "too_early",
	[27] = "unsupported_nsec3_iterations_value",
};

const char *dns_ede_str(uint16_t info_code)
{
	if (info_code >= ARRAY_LEN(dns_ede_names))
		return "unknown";
	return dns_ede_names[info_code];
}

/* ---- Cursor ---------------------------------------------------------- */

/* Records the first failure only: later ones are consequences of it. */
static enum dns_rc cursor_fail(struct dns_cursor *c, enum dns_rc rc)
{
	if (!c->err)
		c->err = rc;
	return (enum dns_rc)c->err;
}

void dns_cursor_init(struct dns_cursor *c, const uint8_t *p, size_t len,
		     size_t off)
{
	c->p = p;
	c->len = len;
	c->off = off;
	c->err = DNS_OK;
	if (off > len || (!p && len))
		c->err = DNS_RC_SHORT_READ;
}

size_t dns_cursor_left(const struct dns_cursor *c)
{
	return c->err ? 0 : c->len - c->off;
}

/* Returns the next n bytes, or NULL and a sticky error if they are not
 * all there. The only place that moves off forward. */
const uint8_t *dns_cursor_bytes(struct dns_cursor *c, size_t n)
{
	if (c->err)
		return NULL;
	if (n > c->len - c->off) {
		cursor_fail(c, DNS_RC_SHORT_READ);
		return NULL;
	}
	const uint8_t *q = c->p + c->off;
	c->off += n;
	return q;
}

uint8_t dns_cursor_u8(struct dns_cursor *c)
{
	const uint8_t *q = dns_cursor_bytes(c, 1);
	return q ? q[0] : 0;
}

uint16_t dns_cursor_u16(struct dns_cursor *c)
{
	const uint8_t *q = dns_cursor_bytes(c, 2);
	return q ? (uint16_t)((unsigned)q[0] << 8 | q[1]) : 0;
}

uint32_t dns_cursor_u32(struct dns_cursor *c)
{
	const uint8_t *q = dns_cursor_bytes(c, 4);
	if (!q)
		return 0;
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
	       (uint32_t)q[2] << 8 | q[3];
}

/* ---- Names ----------------------------------------------------------- */

/* Letters, digits and '-' of host names, plus '_' which is everywhere in
 * our names (_25._tcp TLSA owners, _mta-sts, _smtp._tls) and must stay
 * readable. */
/* Letters, digits, '-' and '_' as a bitmap of the 256 byte values:
 * '-' 0x2d, '0'-'9' 0x30-0x39; 'A'-'Z' 0x41-0x5a, '_' 0x5f, 'a'-'z'
 * 0x61-0x7a. */
static const uint64_t name_plain_map[4] = {
	0x03ff200000000000ULL,
	0x07fffffe87fffffeULL,
	0,
	0,
};

static inline bool name_plain_byte(uint8_t b)
{
	return (name_plain_map[b >> 6] >> (b & 63)) & 1;
}

/* Appends one label in presentation form at out[*o], keeping room for the
 * terminating NUL. */
static bool name_put_label(char *out, size_t cap, size_t *o,
			   const uint8_t *label, size_t n)
{
	size_t w = *o;

	if (w > 0) {
		if (w + 1 >= cap)
			return false;
		out[w++] = '.';
	}
	/* The common label: plain bytes only, and room for all of them. */
	if (w + n < cap) {
		size_t i = 0;
		while (i < n && name_plain_byte(label[i])) {
			uint8_t b = label[i];
			out[w + i] =
			    (char)(b >= 'A' && b <= 'Z' ? b | 0x20 : b);
			i++;
		}
		if (i == n) {
			*o = w + n;
			return true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t b = label[i];
		size_t need = name_plain_byte(b) ? 1 : b == '.' ? 2 : 4;
		if (w + need >= cap)
			return false;
		if (need == 1) {
			out[w++] = (b >= 'A' && b <= 'Z')
				       ? (char)(b - 'A' + 'a')
				       : (char)b;
		} else if (need == 2) {
			out[w++] = '\\';
			out[w++] = '.';
		} else {
			out[w++] = '\\';
			out[w++] = (char)('0' + b / 100);
			out[w++] = (char)('0' + b / 10 % 10);
			out[w++] = (char)('0' + b % 10);
		}
	}
	*o = w;
	return true;
}

/* Fails a name read: the sticky error, and no half-written text left for
 * a caller that forgets to check. */
static enum dns_rc name_fail(struct dns_cursor *c, char *out, enum dns_rc rc)
{
	if (out)
		out[0] = '\0';
	return cursor_fail(c, rc);
}

/*
 * The walk keeps two offsets besides the read position: `seg`, where the
 * current run of in-place labels began (the name's start, or the target of
 * the last pointer), and `bound`, which that run may not reach (c->len for
 * the first run, the previous run's start after a jump). A pointer must
 * lead below `seg`, and the run it starts must end below the old `seg`, so
 * the runs are disjoint and each lies strictly before the last: no byte is
 * read twice and the walk ends even without the pointer cap. Well-formed
 * compression always points at an earlier complete name, which satisfies
 * this.
 */
enum dns_rc dns_name_read(struct dns_cursor *c, char *out, size_t cap)
{
	size_t pos, seg, bound, resume = 0, wire = 0, o = 0;
	unsigned pointers = 0;
	bool jumped = false;

	if (out && cap > 0)
		out[0] = '\0';
	if (c->err)
		return (enum dns_rc)c->err;
	if (out && cap < 2)
		return cursor_fail(c, DNS_RC_NO_SPACE);
	pos = seg = c->off;
	bound = c->len;
	for (;;) {
		/* Running out of the first run means the area ended; out of a
		 * later run, that the bytes overlap what came before. */
		enum dns_rc overrun =
		    jumped ? DNS_RC_POINTER_LOOP : DNS_RC_SHORT_READ;
		if (pos >= bound)
			return name_fail(c, out, overrun);
		uint8_t b = c->p[pos];
		if ((b & DNS_LABEL_KIND_MASK) == DNS_LABEL_POINTER) {
			if (bound - pos < 2)
				return name_fail(c, out, overrun);
			size_t target = (size_t)(b & DNS_POINTER_HIGH_MASK);
			target = target << 8 | c->p[pos + 1];
			if (target > pos)
				return name_fail(c, out,
						 DNS_RC_FORWARD_POINTER);
			if (target >= seg)
				return name_fail(c, out, DNS_RC_POINTER_LOOP);
			if (target < DNS_HEADER_LEN)
				return name_fail(c, out,
						 DNS_RC_POINTER_INTO_HEADER);
			if (++pointers > DNS_MAX_POINTERS)
				return name_fail(c, out,
						 DNS_RC_TOO_MANY_POINTERS);
			if (!jumped)
				resume = pos + 2;
			jumped = true;
			bound = seg;
			seg = pos = target;
			continue;
		}
		if (b & DNS_LABEL_KIND_MASK)
			return name_fail(c, out, DNS_RC_BAD_LABEL_TYPE);
		if (b == 0) {
			if (!jumped)
				resume = pos + 1;
			break;
		}
		if (bound - pos - 1 < b)
			return name_fail(c, out, overrun);
		/* Count the root octet that must still follow. */
		wire += 1 + (size_t)b;
		if (wire + 1 > DNS_MAX_NAME_WIRE)
			return name_fail(c, out, DNS_RC_NAME_TOO_LONG);
		if (out && !name_put_label(out, cap, &o, c->p + pos + 1, b))
			return name_fail(c, out, DNS_RC_NO_SPACE);
		pos += 1 + (size_t)b;
	}
	if (out) {
		if (o == 0)
			out[o++] = '.';
		out[o] = '\0';
	}
	c->off = resume;
	return DNS_OK;
}

/* ---- Queries --------------------------------------------------------- */

/* Converts a presentation name to wire form in wire[DNS_MAX_NAME_WIRE],
 * its length in *len. */
static enum dns_rc name_to_wire(const char *name, uint8_t *wire, size_t *len)
{
	size_t w = 0;
	const char *s = name;

	if (!*s)
		return DNS_RC_BAD_NAME;
	if (strcmp(s, ".") == 0) {
		wire[0] = 0;
		*len = 1;
		return DNS_OK;
	}
	while (*s) {
		size_t n = 0;
		while (s[n] && s[n] != '.') {
			/* Escapes are not needed for the names we query
			 * (normalised host names and _-prefixed owners). */
			if (s[n] == '\\')
				return DNS_RC_BAD_NAME;
			n++;
		}
		if (n == 0)
			return DNS_RC_BAD_NAME;
		if (n > DNS_MAX_LABEL)
			return DNS_RC_LABEL_TOO_LONG;
		if (w + 1 + n + 1 > DNS_MAX_NAME_WIRE)
			return DNS_RC_NAME_TOO_LONG;
		wire[w++] = (uint8_t)n;
		memcpy(wire + w, s, n);
		w += n;
		s += n;
		if (*s == '.')
			s++;
	}
	wire[w++] = 0;
	*len = w;
	return DNS_OK;
}

static void put_u16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

enum dns_rc dns_wire_query(uint8_t *buf, size_t cap, uint16_t id,
			   const char *name, uint16_t qtype, unsigned flags,
			   size_t *len)
{
	uint8_t wire[DNS_MAX_NAME_WIRE];
	unsigned hflags = DNS_FLAG_RD | DNS_FLAG_AD;
	bool chaos = (flags & DNS_QUERY_CHAOS) != 0;
	size_t wlen = 0;
	enum dns_rc rc;

	*len = 0;
	if (!name || (flags & ~(DNS_QUERY_CD | DNS_QUERY_CHAOS)) ||
	    (!buf && cap))
		return DNS_RC_BAD_ARGUMENT;
	rc = name_to_wire(name, wire, &wlen);
	if (rc != DNS_OK)
		return rc;
	/* Question: name, type, class. OPT: root owner, type, class (UDP
	 * size), TTL (extended rcode, version, flags), RDLENGTH. */
	size_t total = DNS_HEADER_LEN + wlen + 4 + 1 + 10;
	if (cap < total)
		return DNS_RC_NO_SPACE;
	if (flags & DNS_QUERY_CD)
		hflags |= DNS_FLAG_CD;
	if (chaos)
		hflags &= ~(DNS_FLAG_RD | DNS_FLAG_AD);

	uint8_t *p = buf;
	put_u16(p, id);
	put_u16(p + 2, hflags);
	put_u16(p + 4, 1); /* QDCOUNT */
	put_u16(p + 6, 0);
	put_u16(p + 8, 0);
	put_u16(p + 10, 1); /* ARCOUNT: the OPT record */
	p += DNS_HEADER_LEN;
	memcpy(p, wire, wlen);
	p += wlen;
	put_u16(p, qtype);
	put_u16(p + 2, chaos ? DNS_CLASS_CH : DNS_CLASS_IN);
	p += 4;
	*p++ = 0; /* OPT owner: the root */
	put_u16(p, DNS_TYPE_OPT);
	put_u16(p + 2, DNS_EDNS_UDP_SIZE);
	put_u16(p + 4, 0); /* extended rcode 0, version 0 */
	put_u16(p + 6, chaos ? 0 : DNS_EDNS_DO);
	put_u16(p + 8, 0); /* no options */
	p += 10;
	*len = (size_t)(p - buf);
	return DNS_OK;
}

/* ---- Messages -------------------------------------------------------- */

/* A short read means different things depending on what was being read;
 * name the thing, keep every other failure as it is. */
static enum dns_rc short_as(enum dns_rc rc, enum dns_rc what)
{
	return rc == DNS_RC_SHORT_READ ? what : rc;
}

static enum dns_rc parse_opt(struct dns_msg *m, const uint8_t *pkt,
			     const struct dns_rr *rr)
{
	struct dns_cursor o;

	/* RFC 6891 §6.1.1: one OPT, in the additional section, owned by
	 * the root; anything else makes the EDNS data meaningless. */
	if (rr->section != DNS_SECTION_ADDITIONAL ||
	    strcmp(dns_rr_owner(m, rr), ".") != 0)
		return DNS_RC_OPT_MISPLACED;
	if (m->opt.present)
		return DNS_RC_OPT_DUPLICATE;
	m->opt.present = true;
	m->opt.udp_size = rr->rclass;
	m->opt.ext_rcode = (uint8_t)(rr->ttl >> 24);
	m->opt.version = (uint8_t)(rr->ttl >> 16);
	m->opt.do_bit = (rr->ttl & DNS_EDNS_DO) != 0;
	m->rcode = (int)m->opt.ext_rcode << 4 | (m->flags & DNS_RCODE_MASK);

	dns_cursor_init(&o, pkt, (size_t)rr->rdata_off + rr->rdlen,
			rr->rdata_off);
	while (dns_cursor_left(&o) > 0) {
		if (dns_cursor_left(&o) < DNS_OPT_HEADER_LEN)
			return DNS_RC_BAD_OPT;
		uint16_t code = dns_cursor_u16(&o);
		uint16_t olen = dns_cursor_u16(&o);
		size_t start = o.off;
		if (!dns_cursor_bytes(&o, olen))
			return DNS_RC_BAD_OPT;
		if (code != DNS_OPT_EDE)
			continue;
		if (olen < DNS_EDE_INFO_LEN)
			return DNS_RC_BAD_EDE;
		m->opt.ede_total++;
		if (m->opt.n_ede >= DNS_MSG_MAX_EDE)
			continue;
		struct dns_ede *e = &m->opt.ede[m->opt.n_ede++];
		e->info_code = (uint16_t)(pkt[start] << 8 | pkt[start + 1]);
		e->text_off = (uint16_t)(start + DNS_EDE_INFO_LEN);
		e->text_len = (uint16_t)(olen - DNS_EDE_INFO_LEN);
	}
	return DNS_OK;
}

/* Reads one record at c->off into m->rr[m->nrr]. */
static enum dns_rc parse_rr(struct dns_msg *m, struct dns_cursor *c,
			    uint8_t section)
{
	struct dns_rr *rr = &m->rr[m->nrr];
	const struct dns_rr *prev = m->nrr ? &m->rr[m->nrr - 1] : NULL;
	size_t owner_off = c->off;
	char *text = m->names + m->names_used;
	bool same_owner = false;
	enum dns_rc rc;

	/* The records of an RRset (and its RRSIG) usually name their owner
	 * by the same compression pointer: the same two bytes as the
	 * previous record's owner lead to the same name, which read well
	 * there (it lies before both), so it is not read again. */
	if (prev && !c->err && c->len - c->off >= 2 &&
	    (c->p[c->off] & DNS_LABEL_KIND_MASK) == DNS_LABEL_POINTER &&
	    c->p[prev->owner_off] == c->p[c->off] &&
	    c->p[prev->owner_off + 1] == c->p[c->off + 1]) {
		same_owner = true;
		c->off += 2;
	} else {
		/* The owner goes straight into the arena; NO_SPACE there
		 * means the arena, not a caller buffer, is full. */
		rc = dns_name_read(c, text, sizeof m->names - m->names_used);
		if (rc == DNS_RC_NO_SPACE)
			return DNS_RC_NAMES_FULL;
		if (rc != DNS_OK)
			return short_as(rc, DNS_RC_TRUNCATED_RR);
	}
	rr->section = section;
	rr->owner_off = (uint16_t)owner_off;
	rr->type = dns_cursor_u16(c);
	rr->rclass = dns_cursor_u16(c);
	rr->ttl = dns_cursor_u32(c);
	rr->rdlen = dns_cursor_u16(c);
	if (c->err)
		return DNS_RC_TRUNCATED_RR;
	rr->rdata_off = (uint16_t)c->off;
	if (!dns_cursor_bytes(c, rr->rdlen))
		return DNS_RC_RDLENGTH_OVERFLOW;

	/* Records of one RRset share their owner: store it once. */
	if (same_owner ||
	    (prev && strcmp(m->names + prev->owner_text, text) == 0)) {
		rr->owner_text = prev->owner_text;
	} else {
		rr->owner_text = (uint32_t)m->names_used;
		m->names_used += strlen(text) + 1;
	}
	m->nrr++;

	if (rr->type == DNS_TYPE_OPT)
		return parse_opt(m, c->p, rr);
	return DNS_OK;
}

enum dns_rc dns_msg_parse(const uint8_t *pkt, size_t len, struct dns_msg *out)
{
	struct dns_cursor c;
	enum dns_rc rc;

	/* Zero what comes before qname and after it up to opt.ede[];
	 * qname[] is a string (emptied), ede[], rr[] and names[] are only
	 * read below n_ede, nrr and names_used. Clearing the whole front
	 * (1.2 KiB, mostly qname) was 3 % of a DNS-only scan's
	 * instructions. */
	memset(out, 0, offsetof(struct dns_msg, qname));
	out->qname[0] = '\0';
	memset((char *)out + offsetof(struct dns_msg, qtype), 0,
	       offsetof(struct dns_msg, opt.ede) -
		   offsetof(struct dns_msg, qtype));
	out->nrr = 0;
	out->trailing = 0;
	out->names_used = 0;

	if (len > DNS_MAX_MESSAGE)
		return DNS_RC_MESSAGE_TOO_LONG;
	if (!pkt || len < DNS_HEADER_LEN)
		return DNS_RC_TRUNCATED_HEADER;
	dns_cursor_init(&c, pkt, len, 0);
	out->id = dns_cursor_u16(&c);
	out->flags = dns_cursor_u16(&c);
	out->qdcount = dns_cursor_u16(&c);
	out->ancount = dns_cursor_u16(&c);
	out->nscount = dns_cursor_u16(&c);
	out->arcount = dns_cursor_u16(&c);
	out->opcode =
	    (uint8_t)(out->flags >> DNS_OPCODE_SHIFT & DNS_OPCODE_MASK);
	out->qr = (out->flags & DNS_FLAG_QR) != 0;
	out->aa = (out->flags & DNS_FLAG_AA) != 0;
	out->tc = (out->flags & DNS_FLAG_TC) != 0;
	out->rd = (out->flags & DNS_FLAG_RD) != 0;
	out->ra = (out->flags & DNS_FLAG_RA) != 0;
	out->ad = (out->flags & DNS_FLAG_AD) != 0;
	out->cd = (out->flags & DNS_FLAG_CD) != 0;
	out->rcode = out->flags & DNS_RCODE_MASK;
	out->header_ok = true;

	/* RFC 9619: QDCOUNT is 0 or 1 in practice; more is never an answer
	 * to our queries. */
	if (out->qdcount > 1)
		return DNS_RC_TOO_MANY_QUESTIONS;
	/* Refuse absurd counts before reading anything, so a 12-byte
	 * packet cannot make the walker promise 196605 records. */
	if ((size_t)out->ancount + out->nscount + out->arcount >
	    DNS_MSG_MAX_RRS)
		return DNS_RC_TOO_MANY_RECORDS;

	if (out->qdcount == 1) {
		rc = dns_name_read(&c, out->qname, sizeof out->qname);
		if (rc != DNS_OK)
			return short_as(rc, DNS_RC_TRUNCATED_QUESTION);
		out->qtype = dns_cursor_u16(&c);
		out->qclass = dns_cursor_u16(&c);
		if (c.err)
			return DNS_RC_TRUNCATED_QUESTION;
		out->has_question = true;
	}

	const struct {
		uint8_t section;
		uint16_t count;
	} sections[] = {
		{ DNS_SECTION_ANSWER, out->ancount },
		{ DNS_SECTION_AUTHORITY, out->nscount },
		{ DNS_SECTION_ADDITIONAL, out->arcount },
	};
	for (size_t s = 0; s < ARRAY_LEN(sections); s++) {
		for (unsigned i = 0; i < sections[s].count; i++) {
			rc = parse_rr(out, &c, sections[s].section);
			if (rc != DNS_OK)
				return rc;
		}
	}
	out->trailing = len - c.off;
	return DNS_OK;
}

const char *dns_rr_owner(const struct dns_msg *msg, const struct dns_rr *rr)
{
	if (rr->owner_text >= msg->names_used)
		return "";
	return msg->names + rr->owner_text;
}

/* ---- Typed RDATA ----------------------------------------------------- */

/* Opens a cursor over exactly rr's RDATA; names inside may still point
 * back anywhere in the packet before it. */
static enum dns_rc rdata_open(const uint8_t *pkt, size_t len,
			      const struct dns_rr *rr, uint16_t type,
			      struct dns_cursor *c)
{
	if (rr->type != type)
		return DNS_RC_WRONG_TYPE;
	if (!pkt || (size_t)rr->rdata_off + rr->rdlen > len)
		return DNS_RC_RDLENGTH_OVERFLOW;
	dns_cursor_init(c, pkt, (size_t)rr->rdata_off + rr->rdlen,
			rr->rdata_off);
	return DNS_OK;
}

/* RDATA must be used up exactly: shorter is truncated, longer means we
 * misread the type or the sender padded it. */
static enum dns_rc rdata_close(const struct dns_cursor *c)
{
	if (c->err)
		return short_as((enum dns_rc)c->err, DNS_RC_RDATA_SHORT);
	if (c->off != c->len)
		return DNS_RC_RDATA_TRAILING;
	return DNS_OK;
}

enum dns_rc dns_rr_mx(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		      struct dns_mx *out)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, DNS_TYPE_MX, &c);

	if (rc != DNS_OK)
		return rc;
	out->preference = dns_cursor_u16(&c);
	dns_name_read(&c, out->exchange, sizeof out->exchange);
	return rdata_close(&c);
}

/* The address of an A or AAAA record, raw and as text. */
static enum dns_rc rr_address(const uint8_t *pkt, size_t len,
			      const struct dns_rr *rr, uint16_t type, int af,
			      uint8_t *addr, size_t addrlen, char *text,
			      size_t textlen)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, type, &c);

	if (rc != DNS_OK)
		return rc;
	const uint8_t *a = dns_cursor_bytes(&c, addrlen);
	rc = rdata_close(&c);
	if (rc != DNS_OK)
		return rc;
	memcpy(addr, a, addrlen);
	if (!addr_text(af, addr, text, textlen))
		return DNS_RC_NO_SPACE;
	return DNS_OK;
}

enum dns_rc dns_rr_a(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		     struct dns_a *out)
{
	return rr_address(pkt, len, rr, DNS_TYPE_A, AF_INET, out->addr,
			  sizeof out->addr, out->text, sizeof out->text);
}

enum dns_rc dns_rr_aaaa(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
			struct dns_aaaa *out)
{
	return rr_address(pkt, len, rr, DNS_TYPE_AAAA, AF_INET6, out->addr,
			  sizeof out->addr, out->text, sizeof out->text);
}

enum dns_rc dns_rr_cname(const uint8_t *pkt, size_t len,
			 const struct dns_rr *rr, char *out, size_t cap)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, DNS_TYPE_CNAME, &c);

	if (rc != DNS_OK)
		return rc;
	if (!out)
		return DNS_RC_BAD_ARGUMENT;
	dns_name_read(&c, out, cap);
	return rdata_close(&c);
}

enum dns_rc dns_rr_txt(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		       uint8_t *buf, size_t cap, struct dns_txt *out)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, DNS_TYPE_TXT, &c);

	if (rc != DNS_OK)
		return rc;
	out->data = buf;
	out->len = 0;
	out->nstrings = 0;
	/* RFC 1035 §3.3.14: one or more character-strings. */
	if (rr->rdlen == 0)
		return DNS_RC_RDATA_SHORT;
	while (dns_cursor_left(&c) > 0) {
		uint8_t n = dns_cursor_u8(&c);
		const uint8_t *s = dns_cursor_bytes(&c, n);
		if (!s)
			break;
		if (n > cap - out->len)
			return DNS_RC_NO_SPACE;
		if (n > 0)
			memcpy(buf + out->len, s, n);
		out->len += n;
		out->nstrings++;
	}
	return rdata_close(&c);
}

enum dns_rc dns_rr_tlsa(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
			struct dns_tlsa *out)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, DNS_TYPE_TLSA, &c);

	if (rc != DNS_OK)
		return rc;
	if (rr->rdlen < DNS_TLSA_FIXED_LEN)
		return DNS_RC_RDATA_SHORT;
	out->usage = dns_cursor_u8(&c);
	out->selector = dns_cursor_u8(&c);
	out->mtype = dns_cursor_u8(&c);
	out->data_len = dns_cursor_left(&c);
	out->data = dns_cursor_bytes(&c, out->data_len);
	return rdata_close(&c);
}

enum dns_rc dns_rr_srv(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		       struct dns_srv *out)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, DNS_TYPE_SRV, &c);

	if (rc != DNS_OK)
		return rc;
	out->priority = dns_cursor_u16(&c);
	out->weight = dns_cursor_u16(&c);
	out->port = dns_cursor_u16(&c);
	/* Compressed or not (see dns_wire.h); the cursor ends at RDATA's
	 * end, so the target's own bytes cannot run past it. */
	dns_name_read(&c, out->target, sizeof out->target);
	return rdata_close(&c);
}

enum dns_rc dns_rr_soa(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		       struct dns_soa *out)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, DNS_TYPE_SOA, &c);

	if (rc != DNS_OK)
		return rc;
	dns_name_read(&c, out->mname, sizeof out->mname);
	dns_name_read(&c, out->rname, sizeof out->rname);
	out->serial = dns_cursor_u32(&c);
	out->refresh = dns_cursor_u32(&c);
	out->retry = dns_cursor_u32(&c);
	out->expire = dns_cursor_u32(&c);
	out->minimum = dns_cursor_u32(&c);
	return rdata_close(&c);
}

enum dns_rc dns_rr_rrsig(const uint8_t *pkt, size_t len,
			 const struct dns_rr *rr, struct dns_rrsig *out)
{
	struct dns_cursor c;
	enum dns_rc rc = rdata_open(pkt, len, rr, DNS_TYPE_RRSIG, &c);

	if (rc != DNS_OK)
		return rc;
	if (rr->rdlen < DNS_RRSIG_FIXED_LEN)
		return DNS_RC_RDATA_SHORT;
	out->type_covered = dns_cursor_u16(&c);
	out->algorithm = dns_cursor_u8(&c);
	out->labels = dns_cursor_u8(&c);
	out->original_ttl = dns_cursor_u32(&c);
	out->expiration = dns_cursor_u32(&c);
	out->inception = dns_cursor_u32(&c);
	out->key_tag = dns_cursor_u16(&c);
	/* RFC 4034 §3.1.7 forbids compressing the signer, but a compressed
	 * one still names the same zone, so it is accepted. */
	dns_name_read(&c, out->signer, sizeof out->signer);
	out->sig_len = dns_cursor_left(&c);
	dns_cursor_bytes(&c, out->sig_len);
	return rdata_close(&c);
}
