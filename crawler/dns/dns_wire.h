/*
 * DNS messages on the wire: building queries and reading answers, as pure
 * functions over bytes (no I/O, no globals, no allocation).
 *
 * Debian's c-ares (1.18.1) can neither set the DO bit nor parse OPT or TLSA
 * records, so mxcrawl builds its own query packets and hands them to
 * ares_send(), and reads the raw answers with the walker below. Everything
 * read from the network goes through a bounds-checked cursor whose error
 * sticks, and names are decompressed under the rules of RFC 9267: pointers
 * only go backwards, their number is capped, labels and names keep their
 * RFC 1035 lengths, and every RDLENGTH must stay within the packet.
 *
 * Names are returned in presentation form: lower case, without the trailing
 * dot, the root as ".", and bytes other than letters, digits, '-' and '_'
 * escaped as \DDD ('.' inside a label as "\."), so that a name read here
 * can never be confused with another one when stored as text.
 */
#ifndef MXCRAWL_CRAWLER_DNS_WIRE_H
#define MXCRAWL_CRAWLER_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 1035 §4.1.1: the fixed header in front of every message. */
#define DNS_HEADER_LEN 12
/* RFC 1035 §2.3.4: a label, and a whole name in wire form incl. the root. */
#define DNS_MAX_LABEL 63
#define DNS_MAX_NAME_WIRE 255
/*
 * Compression pointers followed while reading one name. Pointers must go
 * strictly backwards, so loops are impossible anyway; the cap bounds the
 * work per name. Real compressors use one pointer per name, rarely a few.
 */
#define DNS_MAX_POINTERS 64
/*
 * Presentation buffer that holds any name, NUL included. A wire name has at
 * most 254 bytes of labels and length octets; the longest text comes from
 * four labels (250 content bytes) escaped as \DDD, plus three dots:
 * 4 * 250 + 3 = 1003 characters. Rounded up.
 */
#define DNS_NAME_TEXT_MAX 1008
/* Longest message accepted: the TCP length prefix is 16 bits. */
#define DNS_MAX_MESSAGE 65535
/*
 * Records walked per message (answer + authority + additional). Our
 * answers (MX, A, AAAA, TLSA, TXT, with RRSIGs) hold a few dozen; a count
 * beyond this is refused before any record is read.
 */
#define DNS_MSG_MAX_RRS 512
/*
 * Bytes of owner-name text kept per message. Owners repeated by the next
 * record are stored once, so this only runs out on crafted packets that
 * expand a few wire bytes into many long distinct names.
 */
#define DNS_MSG_NAMES_MAX 65536
/* Extended DNS Error options kept per message (more are counted). */
#define DNS_MSG_MAX_EDE 8
/* The EDNS0 UDP size we advertise: DNS flag day 2020's value, small
 * enough to avoid IP fragmentation on common paths. */
#define DNS_EDNS_UDP_SIZE 1232

/* RR types this module knows by name. */
enum {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_DNAME = 39,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_DS = 43,
	DNS_TYPE_RRSIG = 46,
	DNS_TYPE_NSEC = 47,
	DNS_TYPE_DNSKEY = 48,
	DNS_TYPE_NSEC3 = 50,
	DNS_TYPE_TLSA = 52,
	DNS_TYPE_ANY = 255,
};

#define DNS_CLASS_IN 1
/* CHAOS (RFC 1035 §3.2.4): where servers answer version.bind, id.server. */
#define DNS_CLASS_CH 3
/* RFC 6891 §6.1.3: EDNS option code of Extended DNS Errors (RFC 8914). */
#define DNS_OPT_EDE 15

/* Header rcodes, and the extended ones that need OPT (RFC 6895 §2.3). */
enum {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
	DNS_RCODE_BADVERS = 16,
};

/*
 * Result of every function here. The names from dns_rc_str() are stored as
 * outcomes in the database, so each failure kind has its own code.
 */
enum dns_rc {
	DNS_OK = 0,
	DNS_RC_SHORT_READ,	/* a read ran past the end (cursor only) */
	DNS_RC_NO_SPACE,	/* the caller's output buffer is too small */
	DNS_RC_BAD_ARGUMENT,	/* unknown query flag, NULL name */
	DNS_RC_BAD_NAME,	/* query name empty, empty label, escape */
	DNS_RC_LABEL_TOO_LONG,	/* query label over DNS_MAX_LABEL */
	DNS_RC_NAME_TOO_LONG,	/* name over DNS_MAX_NAME_WIRE wire bytes */
	DNS_RC_BAD_LABEL_TYPE,	/* length octet 0b01xxxxxx or 0b10xxxxxx */
	DNS_RC_POINTER_LOOP,	/* pointer back into the name being read */
	DNS_RC_FORWARD_POINTER, /* pointer to a later offset */
	DNS_RC_POINTER_INTO_HEADER, /* pointer into the 12-byte header */
	DNS_RC_TOO_MANY_POINTERS,   /* over DNS_MAX_POINTERS in one name */
	DNS_RC_MESSAGE_TOO_LONG,    /* over DNS_MAX_MESSAGE bytes */
	DNS_RC_TRUNCATED_HEADER,    /* fewer than DNS_HEADER_LEN bytes */
	DNS_RC_TOO_MANY_QUESTIONS,  /* QDCOUNT over 1 */
	DNS_RC_TRUNCATED_QUESTION,  /* the question runs past the end */
	DNS_RC_TOO_MANY_RECORDS,    /* record counts over DNS_MSG_MAX_RRS */
	DNS_RC_TRUNCATED_RR,	  /* a record's fixed fields run past the end */
	DNS_RC_RDLENGTH_OVERFLOW, /* RDLENGTH runs past the end */
	DNS_RC_NAMES_FULL,	  /* owner names over DNS_MSG_NAMES_MAX */
	DNS_RC_OPT_MISPLACED,	  /* OPT outside additional or not at root */
	DNS_RC_OPT_DUPLICATE,	  /* more than one OPT record */
	DNS_RC_BAD_OPT,		  /* OPT options overrun the RDATA */
	DNS_RC_BAD_EDE,		  /* EDE option shorter than its info code */
	DNS_RC_WRONG_TYPE,	  /* typed decoder called on another type */
	DNS_RC_RDATA_SHORT,	  /* RDATA shorter than its type needs */
	DNS_RC_RDATA_TRAILING,	  /* RDATA longer than its type uses */
	DNS_RC_RC_LAST
};

/* Stable snake_case name of a result ("forward_pointer"); "unknown" when
 * rc is out of range. The string is static. */
const char *dns_rc_str(enum dns_rc rc);
/* Mnemonic of an RR type ("MX", "TLSA"), or "unknown". Static string. */
const char *dns_type_str(uint16_t type);
/* Mnemonic of a (possibly extended) rcode ("NXDOMAIN"), or "unknown". */
const char *dns_rcode_str(int rcode);
/* snake_case name of an RFC 8914 info code ("dnssec_bogus"), or
 * "unknown". Static string. */
const char *dns_ede_str(uint16_t info_code);

/* ---- Building queries ---------------------------------------------- */

/* Query flags for dns_wire_query(). */
#define DNS_QUERY_CD 0x1u /* checking disabled: re-ask a bogus answer */
/* Class CH instead of IN, and neither AD nor DO nor RD: a question to the
 * server itself (version.bind, id.server TXT), which has no DNSSEC and
 * nothing to recurse for. */
#define DNS_QUERY_CHAOS 0x2u

/* Bytes a query for any name needs at most: header, longest name, qtype
 * and qclass, and the 11-byte OPT record. */
#define DNS_QUERY_MAX (DNS_HEADER_LEN + DNS_MAX_NAME_WIRE + 4 + 11)

/*
 * Builds a query for `name` (presentation form, with or without the
 * trailing dot; "." is the root; no escapes) and `qtype`, class IN, into
 * buf[0..cap). The query asks for recursion (RD), for the AD bit
 * (RFC 6840 §5.7) and carries an EDNS0 OPT record with UDP size
 * DNS_EDNS_UDP_SIZE and the DO bit; `flags` may add DNS_QUERY_CD, or
 * DNS_QUERY_CHAOS for a class CH query without RD, AD and DO.
 * The name's case is kept. Returns DNS_OK with the length written in
 * *len, or (*len 0) DNS_RC_NO_SPACE, DNS_RC_BAD_NAME,
 * DNS_RC_LABEL_TOO_LONG, DNS_RC_NAME_TOO_LONG, DNS_RC_BAD_ARGUMENT: an
 * outcome, like the parsers', not a negated code beside a length.
 */
enum dns_rc dns_wire_query(uint8_t *buf, size_t cap, uint16_t id,
			   const char *name, uint16_t qtype, unsigned flags,
			   size_t *len);

/* ---- Reading untrusted bytes ------------------------------------- */

/*
 * A read position over p[0..len). Every reader checks the length first;
 * the first failure stores its enum dns_rc in `err` and every later read
 * fails too (returning 0 or NULL), so callers check err once at the end.
 * The cursor borrows p.
 */
struct dns_cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err; /* DNS_OK, or the first failure */
};

/* Starts a cursor at `off` over p[0..len); off > len is an error. */
void dns_cursor_init(struct dns_cursor *c, const uint8_t *p, size_t len,
		     size_t off);
/* Bytes left to read, 0 once an error is set. */
size_t dns_cursor_left(const struct dns_cursor *c);
/* Big-endian readers; 0 on failure (err is DNS_RC_SHORT_READ). */
uint8_t dns_cursor_u8(struct dns_cursor *c);
uint16_t dns_cursor_u16(struct dns_cursor *c);
uint32_t dns_cursor_u32(struct dns_cursor *c);
/* Returns a pointer to the next n bytes (inside p) and skips them; NULL on
 * failure. */
const uint8_t *dns_cursor_bytes(struct dns_cursor *c, size_t n);

/*
 * Reads the possibly compressed name at c->off. c->p must be the start of
 * the message (pointers are offsets from it) and c->len the end of the
 * area the name sits in (the packet, or the end of an RDATA): the name's
 * own bytes up to its first pointer must lie below c->len, every pointer
 * must lead strictly before the part of the name that contained it, and
 * the bytes reached that way must end before that part begins, so no byte
 * is read twice (RFC 9267 §2).
 * Writes the presentation form (NUL-terminated) to out[0..cap) unless out
 * is NULL. On success advances c->off past the name's own bytes and
 * returns DNS_OK; otherwise sets the sticky c->err, leaves out as ""
 * (when cap > 0) and returns the code.
 */
enum dns_rc dns_name_read(struct dns_cursor *c, char *out, size_t cap);

/* ---- Messages ------------------------------------------------------ */

enum dns_section {
	DNS_SECTION_QUESTION = 0,
	DNS_SECTION_ANSWER = 1,
	DNS_SECTION_AUTHORITY = 2,
	DNS_SECTION_ADDITIONAL = 3,
};

/* One resource record as walked; RDATA stays in the caller's packet. */
struct dns_rr {
	uint8_t section; /* enum dns_section */
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;	     /* as sent; RFC 2181 §8 says treat >= 2^31 as 0 */
	uint16_t owner_off;  /* wire offset of the owner name */
	uint16_t rdata_off;  /* offset of RDATA in the packet */
	uint16_t rdlen;	     /* RDLENGTH, checked to fit the packet */
	uint32_t owner_text; /* owner in presentation form: dns_rr_owner() */
};

/* One Extended DNS Error (RFC 8914); the text stays in the packet. */
struct dns_ede {
	uint16_t info_code;
	uint16_t text_off; /* EXTRA-TEXT: UTF-8 per the RFC, unchecked, */
	uint16_t text_len; /* not NUL-terminated, possibly empty */
};

/* The EDNS0 OPT pseudo-record (RFC 6891 §6.1), if the message had one. */
struct dns_opt {
	bool present;
	uint16_t udp_size;
	uint8_t ext_rcode; /* upper 8 bits of the 12-bit rcode */
	uint8_t version;
	bool do_bit;
	size_t n_ede;	  /* EDE options stored in ede[] */
	size_t ede_total; /* EDE options seen, possibly more than stored */
	struct dns_ede ede[DNS_MSG_MAX_EDE];
};

/*
 * A parsed message. It is large (about 80 KiB): allocate it once and
 * reuse it. It borrows nothing from the packet except by offset, but the
 * typed decoders and EDE texts need the same packet again.
 */
struct dns_msg {
	bool header_ok; /* the header fields below are valid */
	uint16_t id;
	uint16_t flags; /* header bits 16..31 as sent */
	uint8_t opcode;
	bool qr, aa, tc, rd, ra, ad, cd;
	int rcode; /* 4-bit header rcode, extended by OPT if present */
	uint16_t qdcount, ancount, nscount, arcount;

	bool has_question;
	char qname[DNS_NAME_TEXT_MAX];
	uint16_t qtype;
	uint16_t qclass;

	struct dns_opt opt;

	size_t nrr; /* records in rr[], in packet order, OPT included */
	struct dns_rr rr[DNS_MSG_MAX_RRS];
	size_t trailing; /* bytes after the last record (ignored) */

	size_t names_used;
	char names[DNS_MSG_NAMES_MAX];
};

/*
 * Parses pkt[0..len) into *out (reset first; nothing is kept from a
 * previous parse): header,
 * question (QDCOUNT 0 or 1), then every record of the three sections,
 * the OPT record with its EDE options, and the extended rcode.
 * Returns DNS_OK or the first problem found; on failure, out->header_ok
 * tells whether the header fields are usable (e.g. to see TC), and
 * out->nrr records before the problem are filled in.
 */
enum dns_rc dns_msg_parse(const uint8_t *pkt, size_t len, struct dns_msg *out);

/* The owner name of rr, in presentation form; valid while msg is. */
const char *dns_rr_owner(const struct dns_msg *msg, const struct dns_rr *rr);

/* ---- Typed RDATA ---------------------------------------------------- */
/*
 * Each decoder takes the packet the record was parsed from and the record,
 * checks the type (DNS_RC_WRONG_TYPE) and that RDATA is exactly as long as
 * the type needs (DNS_RC_RDATA_SHORT / DNS_RC_RDATA_TRAILING), plus the
 * name errors of dns_name_read() for embedded names. *out is only
 * meaningful on DNS_OK.
 */

struct dns_mx {
	uint16_t preference;
	char exchange[DNS_NAME_TEXT_MAX]; /* "." with preference 0: null MX */
};
enum dns_rc dns_rr_mx(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		      struct dns_mx *out);

/* Text form sizes, as INET_ADDRSTRLEN / INET6_ADDRSTRLEN. */
#define DNS_A_TEXT_MAX 16
#define DNS_AAAA_TEXT_MAX 46

struct dns_a {
	uint8_t addr[4];
	char text[DNS_A_TEXT_MAX];
};
enum dns_rc dns_rr_a(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		     struct dns_a *out);

struct dns_aaaa {
	uint8_t addr[16];
	char text[DNS_AAAA_TEXT_MAX];
};
enum dns_rc dns_rr_aaaa(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
			struct dns_aaaa *out);

/* The target of a CNAME, into out[0..cap) (DNS_NAME_TEXT_MAX always
 * suffices). */
enum dns_rc dns_rr_cname(const uint8_t *pkt, size_t len,
			 const struct dns_rr *rr, char *out, size_t cap);

/*
 * TXT: the character-strings concatenated into the caller's buf[0..cap)
 * (rr->rdlen bytes always suffice; DNS_RC_NO_SPACE otherwise). The bytes
 * are raw: no NUL terminator, may contain anything.
 */
struct dns_txt {
	uint8_t *data; /* == buf */
	size_t len;
	size_t nstrings; /* character-strings joined, at least 1 */
};
enum dns_rc dns_rr_txt(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		       uint8_t *buf, size_t cap, struct dns_txt *out);

/* TLSA (RFC 6698 §2.1); data points into the packet. */
struct dns_tlsa {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	const uint8_t *data;
	size_t data_len; /* 0 allowed here; callers judge usefulness */
};
enum dns_rc dns_rr_tlsa(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
			struct dns_tlsa *out);

/*
 * SRV (RFC 2782): priority, weight, port and the target host, "." when
 * the service is decidedly not offered there (RFC 2782, RFC 6186 §3).
 * RFC 2782 says the target is not compressed, but c-ares
 * (ares_parse_srv_reply) and the common resolvers read it like any other
 * name, and some servers compress it: a compressed target is accepted
 * here too, under the same pointer rules as every name. The target must
 * end exactly at the end of the RDATA.
 */
struct dns_srv {
	uint16_t priority;
	uint16_t weight;
	uint16_t port;
	char target[DNS_NAME_TEXT_MAX];
};
enum dns_rc dns_rr_srv(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		       struct dns_srv *out);

/* SOA (RFC 1035 §3.3.13): minimum is the negative-caching TTL bound. */
struct dns_soa {
	char mname[DNS_NAME_TEXT_MAX];
	char rname[DNS_NAME_TEXT_MAX];
	uint32_t serial;
	uint32_t refresh;
	uint32_t retry;
	uint32_t expire;
	uint32_t minimum;
};
enum dns_rc dns_rr_soa(const uint8_t *pkt, size_t len, const struct dns_rr *rr,
		       struct dns_soa *out);

/*
 * RRSIG (RFC 4034 §3.1) fixed fields and signer; the signature itself is
 * not copied. Enough to tell which RRsets of an answer were signed.
 */
struct dns_rrsig {
	uint16_t type_covered;
	uint8_t algorithm;
	uint8_t labels;
	uint32_t original_ttl;
	uint32_t expiration;
	uint32_t inception;
	uint16_t key_tag;
	char signer[DNS_NAME_TEXT_MAX];
	size_t sig_len; /* bytes of signature after the signer name */
};
enum dns_rc dns_rr_rrsig(const uint8_t *pkt, size_t len,
			 const struct dns_rr *rr, struct dns_rrsig *out);

#endif
