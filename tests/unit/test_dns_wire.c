/*
 * Unit tests for crawler/dns/dns_wire.c: queries built and parsed back, every
 * malformation with its own result code, and each typed RDATA decoder on
 * hand-built packets.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/dns/dns_wire.h"
#include "unit.h"

/* ---- A small packet builder ------------------------------------------ */

/* Room for the largest message plus slack, so over-long tests fit. */
#define PB_CAP (DNS_MAX_MESSAGE + 16)

struct pb {
	uint8_t b[PB_CAP];
	size_t n;
};

/* One builder and one parse result, reused: both are large. */
static struct pb pkt;
static struct dns_msg msg;

static void pb_u8(struct pb *p, unsigned v)
{
	if (p->n < PB_CAP)
		p->b[p->n++] = (uint8_t)v;
}

static void pb_u16(struct pb *p, unsigned v)
{
	pb_u8(p, v >> 8);
	pb_u8(p, v);
}

static void pb_u32(struct pb *p, uint32_t v)
{
	pb_u16(p, v >> 16);
	pb_u16(p, v & 0xffff);
}

static void pb_raw(struct pb *p, const void *data, size_t n)
{
	const uint8_t *d = data;
	for (size_t i = 0; i < n; i++)
		pb_u8(p, d[i]);
}

/* Hex digits, spaces ignored: "c0 0c" → two bytes. */
static void pb_hex(struct pb *p, const char *hex)
{
	unsigned v = 0;
	int half = 0;

	for (; *hex; hex++) {
		char ch = *hex;
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			continue;
		v = v << 4 | d;
		if (++half == 2) {
			pb_u8(p, v);
			v = 0;
			half = 0;
		}
	}
}

/* An uncompressed name from dot-separated text ("" or "." is the root). */
static void pb_name(struct pb *p, const char *name)
{
	while (*name && strcmp(name, ".") != 0) {
		size_t n = strcspn(name, ".");
		pb_u8(p, (unsigned)n);
		pb_raw(p, name, n);
		name += n;
		if (*name == '.')
			name++;
	}
	pb_u8(p, 0);
}

static void pb_header(struct pb *p, unsigned flags, unsigned qd, unsigned an,
		      unsigned ns, unsigned ar)
{
	p->n = 0;
	pb_u16(p, 0x1234);
	pb_u16(p, flags);
	pb_u16(p, qd);
	pb_u16(p, an);
	pb_u16(p, ns);
	pb_u16(p, ar);
}

static void pb_question(struct pb *p, const char *name, unsigned type)
{
	pb_name(p, name);
	pb_u16(p, type);
	pb_u16(p, DNS_CLASS_IN);
}

/* Writes a record's fixed fields after an owner already written; returns
 * where RDLENGTH sits, for pb_rr_end(). */
static size_t pb_rr_begin(struct pb *p, unsigned type, uint32_t ttl)
{
	pb_u16(p, type);
	pb_u16(p, DNS_CLASS_IN);
	pb_u32(p, ttl);
	size_t at = p->n;
	pb_u16(p, 0);
	return at;
}

static void pb_rr_end(struct pb *p, size_t at)
{
	size_t len = p->n - at - 2;
	p->b[at] = (uint8_t)(len >> 8);
	p->b[at + 1] = (uint8_t)len;
}

/* Offset of the question name in every packet built here. */
#define QNAME_OFF DNS_HEADER_LEN
/* A response header: QR, RD, RA. */
#define RESP 0x8180u

static enum dns_rc parse(void)
{
	return dns_msg_parse(pkt.b, pkt.n, &msg);
}

/* ---- Queries -------------------------------------------------------- */

/* A name of `wire` bytes in wire form: 63-byte labels, then a shorter one. */
static void long_name(char *out, size_t wire)
{
	size_t left = wire - 1, o = 0;
	char ch = 'a';

	while (left > 0) {
		size_t n = left - 1 > DNS_MAX_LABEL ? DNS_MAX_LABEL : left - 1;
		if (o)
			out[o++] = '.';
		memset(out + o, ch++, n);
		o += n;
		left -= n + 1;
	}
	out[o] = '\0';
}

UNIT_TEST(test_dns_query_roundtrip)
{
	static const struct {
		const char *name;
		uint16_t type;
		unsigned flags;
		const char *want;
	} rows[] = {
		{ "example.com", DNS_TYPE_MX, 0, "example.com" },
		{ "Example.COM.", DNS_TYPE_MX, 0, "example.com" },
		{ "_25._tcp.mx.example.net", DNS_TYPE_TLSA, 0,
		  "_25._tcp.mx.example.net" },
		{ "_mta-sts.example.org", DNS_TYPE_TXT, DNS_QUERY_CD,
		  "_mta-sts.example.org" },
		{ ".", DNS_TYPE_DNSKEY, 0, "." },
		{ "a", DNS_TYPE_AAAA, DNS_QUERY_CD, "a" },
	};
	uint8_t buf[DNS_QUERY_MAX];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t n = 0;
		CHECK_INT(dns_wire_query(buf, sizeof buf,
					 (uint16_t)(0xbe00 + i), rows[i].name,
					 rows[i].type, rows[i].flags, &n),
			  DNS_OK, rows[i].name);
		if (n == 0)
			continue;
		CHECK_INT(dns_msg_parse(buf, n, &msg), DNS_OK, rows[i].name);
		CHECK_INT(msg.id, 0xbe00 + i, rows[i].name);
		CHECK_INT(msg.qr, 0, rows[i].name);
		CHECK_INT(msg.rd, 1, rows[i].name);
		CHECK_INT(msg.ad, 1, rows[i].name);
		CHECK_INT(msg.cd, rows[i].flags & DNS_QUERY_CD ? 1 : 0,
			  rows[i].name);
		CHECK_INT(msg.opcode, 0, rows[i].name);
		CHECK_INT(msg.has_question, 1, rows[i].name);
		CHECK_STR(msg.qname, rows[i].want, rows[i].name);
		CHECK_INT(msg.qtype, rows[i].type, rows[i].name);
		CHECK_INT(msg.qclass, DNS_CLASS_IN, rows[i].name);
		CHECK_INT(msg.nrr, 1, rows[i].name);
		CHECK_INT(msg.rr[0].type, DNS_TYPE_OPT, rows[i].name);
		CHECK_INT(msg.opt.present, 1, rows[i].name);
		CHECK_INT(msg.opt.udp_size, DNS_EDNS_UDP_SIZE, rows[i].name);
		CHECK_INT(msg.opt.do_bit, 1, rows[i].name);
		CHECK_INT(msg.opt.version, 0, rows[i].name);
		CHECK_INT(msg.rcode, 0, rows[i].name);
		CHECK_INT(msg.trailing, 0, rows[i].name);
	}
}

UNIT_TEST(test_dns_query_bytes)
{
	static const uint8_t want[] = {
		0xab, 0xcd, 0x01, 0x30, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x01, 0x07, 'e',	'x',  'a',  'm',  'p',	'l',  'e',
		0x03, 'c',  'o',  'm',	0x00, 0x00, 0x0f, 0x00, 0x01, 0x00,
		0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
	};
	uint8_t buf[DNS_QUERY_MAX];

	size_t n = 0;
	CHECK_INT(dns_wire_query(buf, sizeof buf, 0xabcd, "example.com.",
				 DNS_TYPE_MX, DNS_QUERY_CD, &n),
		  DNS_OK, "query");
	CHECK_INT(n, sizeof want, "length");
	CHECK(n == sizeof want && memcmp(buf, want, sizeof want) == 0);
	/* Exactly enough room works, one byte less does not. */
	CHECK_INT(dns_wire_query(buf, sizeof want, 1, "example.com",
				 DNS_TYPE_MX, 0, &n),
		  DNS_OK, "exact cap");
	CHECK_INT(n, sizeof want, "exact cap");
	CHECK_INT(dns_wire_query(buf, sizeof want - 1, 1, "example.com",
				 DNS_TYPE_MX, 0, &n),
		  DNS_RC_NO_SPACE, "short cap");
	CHECK_INT(n, 0, "short cap");
}

/* version.bind TXT CH: no RD, AD, CD or DO; class 3. */
UNIT_TEST(test_dns_query_chaos)
{
	static const uint8_t want[] = {
		0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x01, 0x07, 'v',  'e',  'r',  's',	'i',
		'o',  'n',  0x04, 'b',	'i',  'n',  'd',  0x00, 0x00,
		0x10, 0x00, 0x03, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t buf[DNS_QUERY_MAX];

	size_t n = 0;
	CHECK_INT(dns_wire_query(buf, sizeof buf, 0x1234, "version.bind",
				 DNS_TYPE_TXT, DNS_QUERY_CHAOS, &n),
		  DNS_OK, "query");
	CHECK_INT(n, sizeof want, "length");
	CHECK(n == sizeof want && memcmp(buf, want, sizeof want) == 0);
	CHECK_INT(dns_wire_query(buf, sizeof buf, 1, "version.bind",
				 DNS_TYPE_TXT, 0x4u, &n),
		  DNS_RC_BAD_ARGUMENT, "unknown flag");
}

UNIT_TEST(test_dns_query_errors)
{
	static char n255[300], n256[300], label63[80], label64[80];
	long_name(n255, 255);
	long_name(n256, 256);
	memset(label63, 'x', 63);
	memset(label64, 'x', 64);

	const struct {
		const char *ctx;
		const char *name;
		unsigned flags;
		enum dns_rc want;
	} rows[] = {
		{ "empty", "", 0, DNS_RC_BAD_NAME },
		{ "leading dot", ".example", 0, DNS_RC_BAD_NAME },
		{ "double dot", "a..b", 0, DNS_RC_BAD_NAME },
		{ "only dots", "..", 0, DNS_RC_BAD_NAME },
		{ "escape", "a\\.b", 0, DNS_RC_BAD_NAME },
		{ "label 63", label63, 0, DNS_OK },
		{ "label 64", label64, 0, DNS_RC_LABEL_TOO_LONG },
		{ "name 255", n255, 0, DNS_OK },
		{ "name 256", n256, 0, DNS_RC_NAME_TOO_LONG },
		{ "null name", NULL, 0, DNS_RC_BAD_ARGUMENT },
		{ "unknown flag", "a.b", 0x80, DNS_RC_BAD_ARGUMENT },
	};
	uint8_t buf[DNS_QUERY_MAX];
	size_t n;

	CHECK_INT(strlen(n255), 253, "n255 text");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		n = 99;
		CHECK_INT(dns_wire_query(buf, sizeof buf, 7, rows[i].name,
					 DNS_TYPE_A, rows[i].flags, &n),
			  rows[i].want, rows[i].ctx);
		CHECK_INT(n > 0, rows[i].want == DNS_OK, rows[i].ctx);
	}
	/* The longest name fits DNS_QUERY_MAX exactly. */
	CHECK_INT(dns_wire_query(buf, sizeof buf, 7, n255, DNS_TYPE_A, 0, &n),
		  DNS_OK, "max query");
	CHECK_INT(n, DNS_QUERY_MAX, "max query");
	/* And parses back to the same text. */
	CHECK_INT(dns_msg_parse(buf, DNS_QUERY_MAX, &msg), DNS_OK, "parse");
	CHECK_STR(msg.qname, n255, "n255 parsed");
}

/* ---- Cursor --------------------------------------------------------- */

UNIT_TEST(test_dns_cursor_sticky)
{
	static const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07 };
	struct dns_cursor c;

	dns_cursor_init(&c, b, sizeof b, 0);
	CHECK_INT(dns_cursor_u8(&c), 0x01, "u8");
	CHECK_INT(dns_cursor_u16(&c), 0x0203, "u16");
	CHECK_INT(dns_cursor_left(&c), 4, "left");
	CHECK_INT(dns_cursor_u32(&c), 0x04050607, "u32");
	CHECK_INT(c.err, DNS_OK, "no error yet");
	CHECK_INT(dns_cursor_u8(&c), 0, "past the end");
	CHECK_INT(c.err, DNS_RC_SHORT_READ, "error set");

	/* A failed wide read does not consume, but poisons what follows. */
	dns_cursor_init(&c, b, sizeof b, 5);
	CHECK_INT(dns_cursor_u32(&c), 0, "u32 over the end");
	CHECK_INT(c.off, 5, "off unchanged");
	CHECK_INT(dns_cursor_u8(&c), 0, "u8 after failure");
	CHECK(dns_cursor_bytes(&c, 0) == NULL);
	CHECK_INT(dns_cursor_left(&c), 0, "left after failure");
	CHECK_INT(c.err, DNS_RC_SHORT_READ, "still the first error");

	dns_cursor_init(&c, b, sizeof b, sizeof b + 1);
	CHECK_INT(c.err, DNS_RC_SHORT_READ, "start beyond the end");
	dns_cursor_init(&c, b, sizeof b, sizeof b);
	CHECK(dns_cursor_bytes(&c, 0) != NULL);
	CHECK_INT(c.err, DNS_OK, "empty read at the end");
}

/* ---- Names ---------------------------------------------------------- */

/*
 * Each row is the hex of the bytes after a 12-byte header of zeros; the
 * name is read at `off` (from the packet start) with the cursor limited
 * to the packet. `next` is where the cursor must stop on success.
 */
UNIT_TEST(test_dns_name_read)
{
	static const struct {
		const char *ctx;
		const char *hex;
		size_t off;
		enum dns_rc want;
		const char *text;
		size_t next;
	} rows[] = {
		{ "plain", "03 77 77 77 07 65 78 61 6d 70 6c 65 03 63 6f 6d 00",
		  12, DNS_OK, "www.example.com", 29 },
		{ "root", "00", 12, DNS_OK, ".", 13 },
		{ "upper case lowered", "02 4d 58 07 45 78 41 6d 50 6c 45 00",
		  12, DNS_OK, "mx.example", 24 },
		{ "underscore and hyphen",
		  "03 5f 32 35 04 5f 74 63 70 02 6d 2d 00", 12, DNS_OK,
		  "_25._tcp.m-", 25 },
		{ "dot inside label", "03 61 2e 62 03 63 6f 6d 00", 12, DNS_OK,
		  "a\\.b.com", 21 },
		{ "non-ldh escaped", "04 20 ff 5c 2a 00", 12, DNS_OK,
		  "\\032\\255\\092\\042", 18 },
		{ "pointer to earlier name",
		  "07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 02 6d 78 c0 0c", 25,
		  DNS_OK, "mx.example.com", 30 },
		{ "pointer into a name",
		  "07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 c0 14", 25, DNS_OK,
		  "com", 27 },
		{ "pointer to pointer",
		  "03 63 6f 6d 00 01 61 c0 0c c0 11 01 62 c0 15", 23, DNS_OK,
		  "b.a.com", 27 },
		{ "forward pointer", "c0 0e 01 61 00", 12,
		  DNS_RC_FORWARD_POINTER, NULL, 0 },
		{ "pointer to itself", "c0 0c", 12, DNS_RC_POINTER_LOOP, NULL,
		  0 },
		{ "pointer into own name", "01 61 01 62 c0 0e", 12,
		  DNS_RC_POINTER_LOOP, NULL, 0 },
		/* 12: label of length 1 holding 0x05, root. 15: pointer to
		 * 13, whose "label" of 5 bytes would run over the pointer. */
		{ "pointer into overlapping label", "01 05 00 c0 0d 61 62 63",
		  15, DNS_RC_POINTER_LOOP, NULL, 0 },
		{ "pointer into header", "c0 02", 12,
		  DNS_RC_POINTER_INTO_HEADER, NULL, 0 },
		{ "label type 01", "41 61 00", 12, DNS_RC_BAD_LABEL_TYPE, NULL,
		  0 },
		{ "label type 10", "81 61 00", 12, DNS_RC_BAD_LABEL_TYPE, NULL,
		  0 },
		{ "label past end", "05 61 62", 12, DNS_RC_SHORT_READ, NULL,
		  0 },
		{ "no root", "01 61", 12, DNS_RC_SHORT_READ, NULL, 0 },
		{ "half pointer", "01 61 c0", 12, DNS_RC_SHORT_READ, NULL, 0 },
		{ "nothing", "", 12, DNS_RC_SHORT_READ, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct dns_cursor c;
		char out[DNS_NAME_TEXT_MAX];

		pkt.n = 0;
		pb_hex(&pkt, "0000 0000 0000 0000 0000 0000");
		pb_hex(&pkt, rows[i].hex);
		dns_cursor_init(&c, pkt.b, pkt.n, rows[i].off);
		enum dns_rc rc = dns_name_read(&c, out, sizeof out);
		CHECK_STR(dns_rc_str(rc), dns_rc_str(rows[i].want),
			  rows[i].ctx);
		CHECK_INT(c.err, rows[i].want, rows[i].ctx);
		if (rc != DNS_OK || rows[i].want != DNS_OK)
			continue;
		CHECK_STR(out, rows[i].text, rows[i].ctx);
		CHECK_INT(c.off, rows[i].next, rows[i].ctx);
	}
}

/* Labels adding up to `wire` bytes, built directly on the wire. */
static void pb_long_name(struct pb *p, size_t wire)
{
	size_t left = wire - 1;
	while (left > 0) {
		size_t n = left - 1 > DNS_MAX_LABEL ? DNS_MAX_LABEL : left - 1;
		pb_u8(p, (unsigned)n);
		for (size_t i = 0; i < n; i++)
			pb_u8(p, 'a');
		left -= n + 1;
	}
	pb_u8(p, 0);
}

UNIT_TEST(test_dns_name_limits)
{
	struct dns_cursor c;
	char out[DNS_NAME_TEXT_MAX];

	/* 255 wire bytes in place: accepted; 256: refused. */
	pb_header(&pkt, 0, 0, 0, 0, 0);
	pb_long_name(&pkt, 255);
	dns_cursor_init(&c, pkt.b, pkt.n, QNAME_OFF);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_OK, "255");
	CHECK_INT(strlen(out), 253, "255 text");
	CHECK_INT(c.off, pkt.n, "255 end");

	pb_header(&pkt, 0, 0, 0, 0, 0);
	pb_long_name(&pkt, 256);
	dns_cursor_init(&c, pkt.b, pkt.n, QNAME_OFF);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_RC_NAME_TOO_LONG,
		  "256");

	/* The same limits across a pointer: a 253-byte suffix plus one
	 * 1-byte label is 255; plus a 2-byte label is 256. */
	pb_header(&pkt, 0, 0, 0, 0, 0);
	pb_long_name(&pkt, 253);
	size_t a = pkt.n;
	pb_hex(&pkt, "01 78 c0 0c");
	size_t b = pkt.n;
	pb_hex(&pkt, "02 78 79 c0 0c");
	dns_cursor_init(&c, pkt.b, pkt.n, a);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_OK, "255 via ptr");
	CHECK_INT(c.off, b, "after pointer");
	dns_cursor_init(&c, pkt.b, pkt.n, b);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_RC_NAME_TOO_LONG,
		  "256 via ptr");

	/* The widest text: four labels of 0xff bytes, each escaped. */
	pb_header(&pkt, 0, 0, 0, 0, 0);
	for (int l = 0; l < 4; l++) {
		unsigned n = l < 3 ? 63 : 61;
		pb_u8(&pkt, n);
		for (unsigned i = 0; i < n; i++)
			pb_u8(&pkt, 0xff);
	}
	pb_u8(&pkt, 0);
	dns_cursor_init(&c, pkt.b, pkt.n, QNAME_OFF);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_OK, "widest");
	CHECK_INT(strlen(out), 250 * 4 + 3, "widest text");
	/* A buffer one byte short says so instead of cutting the name. */
	dns_cursor_init(&c, pkt.b, pkt.n, QNAME_OFF);
	CHECK_INT(dns_name_read(&c, out, 250 * 4 + 3), DNS_RC_NO_SPACE,
		  "short buffer");
	/* A buffer without room for even "." is refused up front. */
	dns_cursor_init(&c, pkt.b, pkt.n, QNAME_OFF);
	CHECK_INT(dns_name_read(&c, out, 1), DNS_RC_NO_SPACE, "cap 1");
	/* Without a buffer the name is only skipped. */
	dns_cursor_init(&c, pkt.b, pkt.n, QNAME_OFF);
	CHECK_INT(dns_name_read(&c, NULL, 0), DNS_OK, "skip");
	CHECK_INT(c.off, pkt.n, "skip end");
}

UNIT_TEST(test_dns_name_pointer_cap)
{
	struct dns_cursor c;
	char out[DNS_NAME_TEXT_MAX];
	size_t ptr[DNS_MAX_POINTERS + 2];

	/* A root at 12, then pointers each to the one before. */
	pb_header(&pkt, 0, 0, 0, 0, 0);
	pb_u8(&pkt, 0);
	size_t prev = QNAME_OFF;
	for (size_t i = 0; i < DNS_MAX_POINTERS + 1; i++) {
		ptr[i] = pkt.n;
		pb_u16(&pkt, 0xc000 | (unsigned)prev);
		prev = ptr[i];
	}
	dns_cursor_init(&c, pkt.b, pkt.n, ptr[DNS_MAX_POINTERS - 1]);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_OK, "at the cap");
	CHECK_STR(out, ".", "at the cap");
	dns_cursor_init(&c, pkt.b, pkt.n, ptr[DNS_MAX_POINTERS]);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_RC_TOO_MANY_POINTERS,
		  "over the cap");
}

/* ---- Messages ------------------------------------------------------- */

/* A typical signed MX answer with an EDE in the OPT record. */
static void build_mx_answer(void)
{
	size_t at;

	pb_header(&pkt, RESP | 0x0020, 1, 3, 0, 1);
	pb_question(&pkt, "Example.COM", DNS_TYPE_MX);
	pb_hex(&pkt, "c0 0c");
	at = pb_rr_begin(&pkt, DNS_TYPE_MX, 300);
	pb_hex(&pkt, "00 0a 02 6d 78 c0 0c");
	pb_rr_end(&pkt, at);
	pb_hex(&pkt, "c0 0c");
	at = pb_rr_begin(&pkt, DNS_TYPE_MX, 300);
	pb_hex(&pkt, "00 14 03 6d 78 32 c0 0c");
	pb_rr_end(&pkt, at);
	pb_hex(&pkt, "c0 0c");
	at = pb_rr_begin(&pkt, DNS_TYPE_RRSIG, 300);
	pb_hex(&pkt, "00 0f 0d 02 00 00 01 2c 67 00 00 00 66 00 00 00 ab cd");
	pb_name(&pkt, "example.com");
	pb_hex(&pkt, "01 02 03 04 05 06 07 08");
	pb_rr_end(&pkt, at);
	pb_u8(&pkt, 0);
	pb_u16(&pkt, DNS_TYPE_OPT);
	pb_u16(&pkt, 1232);
	pb_u32(&pkt, 0x00008000);
	at = pkt.n;
	pb_u16(&pkt, 0);
	pb_hex(&pkt, "00 0f 00 05 00 03 61 62 63");
	pb_rr_end(&pkt, at);
}

UNIT_TEST(test_dns_msg_answer)
{
	build_mx_answer();
	CHECK_INT(parse(), DNS_OK, "parse");
	CHECK_INT(msg.qr, 1, "qr");
	CHECK_INT(msg.rd, 1, "rd");
	CHECK_INT(msg.ra, 1, "ra");
	CHECK_INT(msg.ad, 1, "ad");
	CHECK_INT(msg.aa, 0, "aa");
	CHECK_INT(msg.tc, 0, "tc");
	CHECK_INT(msg.cd, 0, "cd");
	CHECK_STR(msg.qname, "example.com", "qname");
	CHECK_INT(msg.nrr, 4, "nrr");
	CHECK_INT(msg.rr[0].section, DNS_SECTION_ANSWER, "section 0");
	CHECK_INT(msg.rr[3].section, DNS_SECTION_ADDITIONAL, "section 3");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[0]), "example.com", "owner 0");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[2]), "example.com", "owner 2");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[3]), ".", "owner 3");
	/* One RRset's owner is stored once. */
	CHECK_INT(msg.rr[1].owner_text, msg.rr[0].owner_text, "shared");
	CHECK_INT(msg.rr[0].ttl, 300, "ttl");
	CHECK_INT(msg.opt.present, 1, "opt");
	CHECK_INT(msg.opt.n_ede, 1, "ede");
	CHECK_INT(msg.opt.ede[0].info_code, 3, "ede code");
	CHECK_INT(msg.opt.ede[0].text_len, 3, "ede text");
	CHECK(memcmp(pkt.b + msg.opt.ede[0].text_off, "abc", 3) == 0);

	struct dns_mx mx;
	CHECK_INT(dns_rr_mx(pkt.b, pkt.n, &msg.rr[0], &mx), DNS_OK, "mx 0");
	CHECK_INT(mx.preference, 10, "pref 0");
	CHECK_STR(mx.exchange, "mx.example.com", "exchange 0");
	CHECK_INT(dns_rr_mx(pkt.b, pkt.n, &msg.rr[1], &mx), DNS_OK, "mx 1");
	CHECK_INT(mx.preference, 20, "pref 1");
	CHECK_STR(mx.exchange, "mx2.example.com", "exchange 1");

	struct dns_rrsig sig;
	CHECK_INT(dns_rr_rrsig(pkt.b, pkt.n, &msg.rr[2], &sig), DNS_OK, "sig");
	CHECK_INT(sig.type_covered, DNS_TYPE_MX, "covered");
	CHECK_INT(sig.algorithm, 13, "alg");
	CHECK_INT(sig.labels, 2, "labels");
	CHECK_INT(sig.original_ttl, 300, "orig ttl");
	CHECK_INT(sig.expiration, 0x67000000, "expiration");
	CHECK_INT(sig.inception, 0x66000000, "inception");
	CHECK_INT(sig.key_tag, 0xabcd, "key tag");
	CHECK_STR(sig.signer, "example.com", "signer");
	CHECK_INT(sig.sig_len, 8, "sig len");
	CHECK_INT(dns_rr_mx(pkt.b, pkt.n, &msg.rr[2], &mx), DNS_RC_WRONG_TYPE,
		  "mx on rrsig");
}

UNIT_TEST(test_dns_msg_header_flags)
{
	pb_header(&pkt,
		  0x8000 | 0x0400 | 0x0200 | 0x0080 | 0x0010 | 3 | (2u << 11),
		  0, 0, 0, 0);
	CHECK_INT(parse(), DNS_OK, "parse");
	CHECK_INT(msg.header_ok, 1, "header_ok");
	CHECK_INT(msg.qr, 1, "qr");
	CHECK_INT(msg.aa, 1, "aa");
	CHECK_INT(msg.tc, 1, "tc");
	CHECK_INT(msg.rd, 0, "rd");
	CHECK_INT(msg.ra, 1, "ra");
	CHECK_INT(msg.ad, 0, "ad");
	CHECK_INT(msg.cd, 1, "cd");
	CHECK_INT(msg.opcode, 2, "opcode");
	CHECK_INT(msg.rcode, DNS_RCODE_NXDOMAIN, "rcode");
	CHECK_INT(msg.has_question, 0, "no question");
	CHECK_INT(msg.id, 0x1234, "id");
}

UNIT_TEST(test_dns_msg_nodata_nxdomain)
{
	static const struct {
		const char *ctx;
		unsigned rcode;
	} rows[] = { { "nodata", DNS_RCODE_NOERROR },
		     { "nxdomain", DNS_RCODE_NXDOMAIN } };

	for (size_t i = 0; i < 2; i++) {
		pb_header(&pkt, RESP | rows[i].rcode, 1, 0, 1, 0);
		pb_question(&pkt, "nomx.example", DNS_TYPE_MX);
		pb_hex(&pkt, "c0 11");
		size_t at = pb_rr_begin(&pkt, DNS_TYPE_SOA, 3600);
		pb_hex(&pkt, "03 6e 73 31 c0 11"); /* ns1.example */
		pb_hex(&pkt, "0a 68 6f 73 74 6d 61 73 74 65 72 c0 11");
		pb_u32(&pkt, 2024010101);
		pb_u32(&pkt, 7200);
		pb_u32(&pkt, 900);
		pb_u32(&pkt, 1209600);
		pb_u32(&pkt, 300);
		pb_rr_end(&pkt, at);

		CHECK_INT(parse(), DNS_OK, rows[i].ctx);
		CHECK_INT(msg.rcode, rows[i].rcode, rows[i].ctx);
		CHECK_INT(msg.ancount, 0, rows[i].ctx);
		CHECK_INT(msg.nrr, 1, rows[i].ctx);
		CHECK_INT(msg.rr[0].section, DNS_SECTION_AUTHORITY,
			  rows[i].ctx);
		CHECK_STR(dns_rr_owner(&msg, &msg.rr[0]), "example",
			  rows[i].ctx);
		struct dns_soa soa;
		CHECK_INT(dns_rr_soa(pkt.b, pkt.n, &msg.rr[0], &soa), DNS_OK,
			  rows[i].ctx);
		CHECK_STR(soa.mname, "ns1.example", rows[i].ctx);
		CHECK_STR(soa.rname, "hostmaster.example", rows[i].ctx);
		CHECK_INT(soa.serial, 2024010101, rows[i].ctx);
		CHECK_INT(soa.refresh, 7200, rows[i].ctx);
		CHECK_INT(soa.retry, 900, rows[i].ctx);
		CHECK_INT(soa.expire, 1209600, rows[i].ctx);
		CHECK_INT(soa.minimum, 300, rows[i].ctx);
	}
}

UNIT_TEST(test_dns_msg_ede)
{
	/* SERVFAIL with extended rcode bits, two EDEs, a cookie between. */
	pb_header(&pkt, RESP | DNS_RCODE_SERVFAIL, 1, 0, 0, 1);
	pb_question(&pkt, "bogus.example", DNS_TYPE_MX);
	pb_u8(&pkt, 0);
	pb_u16(&pkt, DNS_TYPE_OPT);
	pb_u16(&pkt, 4096);
	pb_u32(&pkt, 0x01008000); /* ext rcode 1, version 0, DO */
	size_t at = pkt.n;
	pb_u16(&pkt, 0);
	pb_hex(&pkt, "00 0f 00 0e 00 06");
	pb_raw(&pkt, "bad sig \xc3\xa9\x00x", 12); /* UTF-8, even a NUL */
	pb_hex(&pkt, "00 0a 00 08 01 02 03 04 05 06 07 08");
	pb_hex(&pkt, "00 0f 00 02 00 09");
	pb_rr_end(&pkt, at);

	CHECK_INT(parse(), DNS_OK, "parse");
	/* (1 << 4) | 2 */
	CHECK_INT(msg.rcode, 18, "extended rcode");
	CHECK_INT(msg.opt.ext_rcode, 1, "ext bits");
	CHECK_INT(msg.opt.udp_size, 4096, "udp");
	CHECK_INT(msg.opt.do_bit, 1, "do");
	CHECK_INT(msg.opt.n_ede, 2, "two EDEs");
	CHECK_INT(msg.opt.ede_total, 2, "total");
	CHECK_INT(msg.opt.ede[0].info_code, 6, "first code");
	CHECK_STR(dns_ede_str(msg.opt.ede[0].info_code), "dnssec_bogus",
		  "first name");
	CHECK_INT(msg.opt.ede[0].text_len, 12, "first text len");
	CHECK(memcmp(pkt.b + msg.opt.ede[0].text_off, "bad sig \xc3\xa9\x00x",
		     12) == 0);
	CHECK_INT(msg.opt.ede[1].info_code, 9, "second code");
	CHECK_INT(msg.opt.ede[1].text_len, 0, "second text empty");

	/* BADVERS: extended rcode 1 over header rcode 0. */
	pb_header(&pkt, RESP, 0, 0, 0, 1);
	pb_hex(&pkt, "00 0029 1000 01000000 0000");
	CHECK_INT(parse(), DNS_OK, "badvers");
	CHECK_INT(msg.rcode, DNS_RCODE_BADVERS, "badvers rcode");
	CHECK_STR(dns_rcode_str(msg.rcode), "BADVERS", "badvers name");
	CHECK_INT(msg.opt.do_bit, 0, "no DO");

	/* More EDEs than kept: counted, the first ones stored. */
	pb_header(&pkt, RESP, 0, 0, 0, 1);
	pb_hex(&pkt, "00 0029 1000 00008000");
	at = pkt.n;
	pb_u16(&pkt, 0);
	for (unsigned i = 0; i < DNS_MSG_MAX_EDE + 3; i++) {
		pb_hex(&pkt, "00 0f 00 02");
		pb_u16(&pkt, i);
	}
	pb_rr_end(&pkt, at);
	CHECK_INT(parse(), DNS_OK, "many EDEs");
	CHECK_INT(msg.opt.n_ede, DNS_MSG_MAX_EDE, "stored");
	CHECK_INT(msg.opt.ede_total, DNS_MSG_MAX_EDE + 3, "seen");
	CHECK_INT(msg.opt.ede[DNS_MSG_MAX_EDE - 1].info_code,
		  DNS_MSG_MAX_EDE - 1, "last stored");
}

/*
 * Malformed messages: the hex after a header with the given counts, and
 * the code that must come back.
 */
UNIT_TEST(test_dns_msg_malformed)
{
	static const struct {
		const char *ctx;
		unsigned qd, an, ns, ar;
		const char *hex;
		enum dns_rc want;
	} rows[] = {
		{ "question past end", 1, 0, 0, 0, "01 61 00 00 0f",
		  DNS_RC_TRUNCATED_QUESTION },
		{ "question name past end", 1, 0, 0, 0, "05 61 62",
		  DNS_RC_TRUNCATED_QUESTION },
		{ "two questions", 2, 0, 0, 0,
		  "01 61 00 00 0f 00 01 01 61 00 00 0f 00 01",
		  DNS_RC_TOO_MANY_QUESTIONS },
		{ "question pointer loop", 1, 0, 0, 0, "c0 0c 00 0f 00 01",
		  DNS_RC_POINTER_LOOP },
		{ "question forward pointer", 1, 0, 0, 0,
		  "c0 12 00 0f 00 01 00", DNS_RC_FORWARD_POINTER },
		{ "question bad label", 1, 0, 0, 0, "41 61 00 00 0f 00 01",
		  DNS_RC_BAD_LABEL_TYPE },
		{ "too many records", 0, 200, 200, 113, "",
		  DNS_RC_TOO_MANY_RECORDS },
		{ "record missing", 0, 1, 0, 0, "", DNS_RC_TRUNCATED_RR },
		{ "record fixed part short", 0, 1, 0, 0, "00 00 01 00 01 00 00",
		  DNS_RC_TRUNCATED_RR },
		{ "owner loop", 0, 1, 0, 0,
		  "01 61 c0 0c 00 01 00 01 00 00 00 00 00 04 01 02 03 04",
		  DNS_RC_POINTER_LOOP },
		{ "owner forward pointer", 0, 1, 0, 0,
		  "c0 0e 00 00 01 00 01 00 00 00 00 00 04 01 02 03 04",
		  DNS_RC_FORWARD_POINTER },
		{ "rdlength past end", 0, 1, 0, 0,
		  "00 00 01 00 01 00 00 00 00 00 05 01 02 03 04",
		  DNS_RC_RDLENGTH_OVERFLOW },
		{ "second record past end", 0, 2, 0, 0,
		  "00 00 01 00 01 00 00 00 00 00 04 01 02 03 04",
		  DNS_RC_TRUNCATED_RR },
		{ "opt in answer", 0, 1, 0, 0,
		  "00 00 29 10 00 00 00 80 00 00 00", DNS_RC_OPT_MISPLACED },
		{ "opt not at root", 0, 0, 0, 1,
		  "01 61 00 00 29 10 00 00 00 80 00 00 00",
		  DNS_RC_OPT_MISPLACED },
		{ "two opts", 0, 0, 0, 2,
		  "00 00 29 10 00 00 00 80 00 00 00 "
		  "00 00 29 10 00 00 00 80 00 00 00",
		  DNS_RC_OPT_DUPLICATE },
		{ "opt option overruns", 0, 0, 0, 1,
		  "00 00 29 10 00 00 00 80 00 00 06 00 0a 00 08 01 02",
		  DNS_RC_BAD_OPT },
		{ "opt stray bytes", 0, 0, 0, 1,
		  "00 00 29 10 00 00 00 80 00 00 02 00 0a", DNS_RC_BAD_OPT },
		{ "ede without code", 0, 0, 0, 1,
		  "00 00 29 10 00 00 00 80 00 00 05 00 0f 00 01 06",
		  DNS_RC_BAD_EDE },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		pb_header(&pkt, RESP, rows[i].qd, rows[i].an, rows[i].ns,
			  rows[i].ar);
		pb_hex(&pkt, rows[i].hex);
		CHECK_STR(dns_rc_str(parse()), dns_rc_str(rows[i].want),
			  rows[i].ctx);
		CHECK_INT(msg.header_ok, 1, rows[i].ctx);
	}

	/* Short and over-long packets. */
	CHECK_INT(dns_msg_parse(pkt.b, DNS_HEADER_LEN - 1, &msg),
		  DNS_RC_TRUNCATED_HEADER, "11 bytes");
	CHECK_INT(msg.header_ok, 0, "no header");
	CHECK_INT(dns_msg_parse(NULL, 0, &msg), DNS_RC_TRUNCATED_HEADER,
		  "empty");
	pb_header(&pkt, RESP, 0, 0, 0, 0);
	pkt.n = DNS_MAX_MESSAGE + 1;
	CHECK_INT(parse(), DNS_RC_MESSAGE_TOO_LONG, "64 KiB + 1");
	/* Trailing bytes are tolerated but counted. */
	pb_header(&pkt, RESP, 0, 0, 0, 0);
	pb_hex(&pkt, "00 00 00");
	CHECK_INT(parse(), DNS_OK, "trailing");
	CHECK_INT(msg.trailing, 3, "trailing count");
	/* Exactly the record cap is fine. */
	pb_header(&pkt, RESP, 0, DNS_MSG_MAX_RRS, 0, 0);
	for (int i = 0; i < DNS_MSG_MAX_RRS; i++)
		pb_hex(&pkt, "00 00 01 00 01 00 00 00 3c 00 04 0a 00 00 01");
	CHECK_INT(parse(), DNS_OK, "record cap");
	CHECK_INT(msg.nrr, DNS_MSG_MAX_RRS, "record cap count");
}

UNIT_TEST(test_dns_msg_names_full)
{
	/* A question name that expands 4x, then many records whose owners
	 * are each a distinct one-byte label in front of a pointer to it:
	 * ~1000 text bytes per 14 wire bytes, and neighbours differ so
	 * nothing is shared. The arena must say it is full rather than
	 * overflow. */
	const unsigned nrr = DNS_MSG_NAMES_MAX / 900;
	pb_header(&pkt, RESP, 1, nrr, 0, 0);
	for (int l = 0; l < 4; l++) {
		unsigned n = l < 3 ? 63 : 58;
		pb_u8(&pkt, n);
		for (unsigned i = 0; i < n; i++)
			pb_u8(&pkt, 0xfe);
	}
	pb_u8(&pkt, 0);
	pb_u16(&pkt, DNS_TYPE_TXT);
	pb_u16(&pkt, DNS_CLASS_IN);
	for (unsigned i = 0; i < nrr; i++) {
		pb_u8(&pkt, 1);
		pb_u8(&pkt, 'a' + i % 26);
		pb_u16(&pkt, 0xc000 | QNAME_OFF);
		pb_hex(&pkt, "00 10 00 01 00 00 00 00 00 00");
	}
	CHECK_INT(parse(), DNS_RC_NAMES_FULL, "arena full");
	CHECK(msg.names_used <= DNS_MSG_NAMES_MAX);
	CHECK(msg.nrr > 0 && msg.nrr < nrr);
}

UNIT_TEST(test_dns_msg_owner_by_same_pointer)
{
	/* Owners: a pointer to the question (twice: read once, shared), the
	 * same name spelt out, a pointer to that spelling, a pointer to a
	 * name one label longer, and a pointer (to the question) that fails
	 * because it points forward of nothing but lies after a bad one. */
	size_t at, second;

	pb_header(&pkt, RESP, 1, 5, 0, 0);
	pb_question(&pkt, "mx.example.test", DNS_TYPE_MX);
	for (int i = 0; i < 2; i++) {
		pb_u16(&pkt, 0xc000 | QNAME_OFF);
		at = pb_rr_begin(&pkt, DNS_TYPE_A, 60);
		pb_hex(&pkt, "0a 00 00 01");
		pb_rr_end(&pkt, at);
	}
	second = pkt.n;
	pb_name(&pkt, "www.example.test");
	at = pb_rr_begin(&pkt, DNS_TYPE_A, 60);
	pb_hex(&pkt, "0a 00 00 02");
	pb_rr_end(&pkt, at);
	pb_u16(&pkt, 0xc000 | (unsigned)second);
	at = pb_rr_begin(&pkt, DNS_TYPE_A, 60);
	pb_hex(&pkt, "0a 00 00 03");
	pb_rr_end(&pkt, at);
	pb_u16(&pkt, 0xc000 | QNAME_OFF);
	at = pb_rr_begin(&pkt, DNS_TYPE_A, 60);
	pb_hex(&pkt, "0a 00 00 04");
	pb_rr_end(&pkt, at);
	CHECK_INT(parse(), DNS_OK, "parse");
	CHECK_INT(msg.nrr, 5, "records");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[0]), "mx.example.test", "rr 0");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[1]), "mx.example.test", "rr 1");
	CHECK_INT(msg.rr[1].owner_text, msg.rr[0].owner_text, "shared");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[2]), "www.example.test", "rr 2");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[3]), "www.example.test", "rr 3");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[4]), "mx.example.test", "rr 4");
	CHECK_INT(msg.rr[3].owner_off, second + 18 + 10 + 4, "rr 3 off");

	/* The same two bytes as a good pointer before it, but this time
	 * the first record's pointer is a loop: the message fails at the
	 * first record, never reaching the second. */
	pb_header(&pkt, RESP, 0, 2, 0, 0);
	pb_u16(&pkt, 0xc000 | DNS_HEADER_LEN);
	at = pb_rr_begin(&pkt, DNS_TYPE_A, 60);
	pb_hex(&pkt, "0a 00 00 01");
	pb_rr_end(&pkt, at);
	pb_u16(&pkt, 0xc000 | DNS_HEADER_LEN);
	at = pb_rr_begin(&pkt, DNS_TYPE_A, 60);
	pb_hex(&pkt, "0a 00 00 01");
	pb_rr_end(&pkt, at);
	CHECK(parse() != DNS_OK);
	CHECK_INT(msg.nrr, 0, "no record");
}

/* ---- Typed RDATA ---------------------------------------------------- */

/* A one-record answer for owner "x.example" with the given RDATA hex. */
static void build_one(unsigned type, const char *rdata_hex)
{
	pb_header(&pkt, RESP, 1, 1, 0, 0);
	pb_question(&pkt, "x.example", type);
	pb_hex(&pkt, "c0 0c");
	size_t at = pb_rr_begin(&pkt, type, 60);
	pb_hex(&pkt, rdata_hex);
	pb_rr_end(&pkt, at);
}

UNIT_TEST(test_dns_rr_mx)
{
	static const struct {
		const char *ctx;
		const char *rdata;
		enum dns_rc want;
		unsigned pref;
		const char *exchange;
	} rows[] = {
		{ "plain", "00 05 04 6d 61 69 6c c0 0e", DNS_OK, 5,
		  "mail.example" },
		{ "null mx", "00 00 00", DNS_OK, 0, "." },
		{ "uncompressed", "ff ff 02 4d 58 03 6e 65 74 00", DNS_OK,
		  65535, "mx.net" },
		{ "no exchange", "00 0a", DNS_RC_RDATA_SHORT, 0, NULL },
		{ "half preference", "00", DNS_RC_RDATA_SHORT, 0, NULL },
		{ "name past rdata", "00 0a 04 6d 61 69", DNS_RC_RDATA_SHORT, 0,
		  NULL },
		{ "trailing", "00 0a 00 00", DNS_RC_RDATA_TRAILING, 0, NULL },
		{ "forward pointer", "00 0a c0 30", DNS_RC_FORWARD_POINTER, 0,
		  NULL },
		{ "pointer to itself", "00 0a c0 29", DNS_RC_POINTER_LOOP, 0,
		  NULL },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct dns_mx mx;
		build_one(DNS_TYPE_MX, rows[i].rdata);
		CHECK_INT(parse(), DNS_OK, rows[i].ctx);
		enum dns_rc rc = dns_rr_mx(pkt.b, pkt.n, &msg.rr[0], &mx);
		CHECK_STR(dns_rc_str(rc), dns_rc_str(rows[i].want),
			  rows[i].ctx);
		if (rc != DNS_OK || rows[i].want != DNS_OK)
			continue;
		CHECK_INT(mx.preference, rows[i].pref, rows[i].ctx);
		CHECK_STR(mx.exchange, rows[i].exchange, rows[i].ctx);
	}
}

UNIT_TEST(test_dns_rr_addresses)
{
	struct dns_a a;
	struct dns_aaaa aaaa;

	build_one(DNS_TYPE_A, "c0 00 02 01");
	CHECK_INT(parse(), DNS_OK, "a parse");
	CHECK_INT(dns_rr_a(pkt.b, pkt.n, &msg.rr[0], &a), DNS_OK, "a");
	CHECK_STR(a.text, "192.0.2.1", "a text");
	CHECK_INT(a.addr[3], 1, "a addr");
	CHECK_INT(dns_rr_aaaa(pkt.b, pkt.n, &msg.rr[0], &aaaa),
		  DNS_RC_WRONG_TYPE, "aaaa on a");

	/* The text is inet_ntop()'s, for octets of one, two, three digits. */
	static const unsigned octets[] = { 0, 9, 10, 99, 100, 199, 255 };
	for (size_t i = 0; i < sizeof octets / sizeof octets[0]; i++) {
		char hex[16], want[INET_ADDRSTRLEN];
		unsigned v = octets[i], w = octets[(i + 3) % 7];
		uint8_t raw[4] = { (uint8_t)v, (uint8_t)w, (uint8_t)v,
				   (uint8_t)w };
		snprintf(hex, sizeof hex, "%02x %02x %02x %02x", v, w, v, w);
		build_one(DNS_TYPE_A, hex);
		CHECK_INT(parse(), DNS_OK, "a parse");
		CHECK_INT(dns_rr_a(pkt.b, pkt.n, &msg.rr[0], &a), DNS_OK, hex);
		inet_ntop(AF_INET, raw, want, sizeof want);
		CHECK_STR(a.text, want, hex);
	}

	build_one(DNS_TYPE_A, "c0 00 02");
	CHECK_INT(parse(), DNS_OK, "a short parse");
	CHECK_INT(dns_rr_a(pkt.b, pkt.n, &msg.rr[0], &a), DNS_RC_RDATA_SHORT,
		  "a short");
	build_one(DNS_TYPE_A, "c0 00 02 01 05");
	CHECK_INT(parse(), DNS_OK, "a long parse");
	CHECK_INT(dns_rr_a(pkt.b, pkt.n, &msg.rr[0], &a), DNS_RC_RDATA_TRAILING,
		  "a long");

	build_one(DNS_TYPE_AAAA,
		  "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 25");
	CHECK_INT(parse(), DNS_OK, "aaaa parse");
	CHECK_INT(dns_rr_aaaa(pkt.b, pkt.n, &msg.rr[0], &aaaa), DNS_OK, "aaaa");
	CHECK_STR(aaaa.text, "2001:db8::25", "aaaa text");
	build_one(DNS_TYPE_AAAA, "20 01 0d b8");
	CHECK_INT(parse(), DNS_OK, "aaaa short parse");
	CHECK_INT(dns_rr_aaaa(pkt.b, pkt.n, &msg.rr[0], &aaaa),
		  DNS_RC_RDATA_SHORT, "aaaa short");
}

UNIT_TEST(test_dns_rr_cname_chain)
{
	char target[DNS_NAME_TEXT_MAX];
	size_t at;

	/* mail.example CNAME a.example. ; a.example CNAME B.Example.net. ;
	 * b.example.net A 192.0.2.7 */
	pb_header(&pkt, RESP, 1, 3, 0, 0);
	pb_question(&pkt, "mail.example", DNS_TYPE_A);
	pb_hex(&pkt, "c0 0c");
	at = pb_rr_begin(&pkt, DNS_TYPE_CNAME, 60);
	pb_hex(&pkt, "01 61 c0 11");
	pb_rr_end(&pkt, at);
	size_t a_name = at + 2;
	pb_u16(&pkt, 0xc000 | (unsigned)a_name);
	at = pb_rr_begin(&pkt, DNS_TYPE_CNAME, 60);
	size_t b_name = pkt.n;
	pb_name(&pkt, "B.Example.NET");
	pb_rr_end(&pkt, at);
	pb_u16(&pkt, 0xc000 | (unsigned)b_name);
	at = pb_rr_begin(&pkt, DNS_TYPE_A, 60);
	pb_hex(&pkt, "c0 00 02 07");
	pb_rr_end(&pkt, at);

	CHECK_INT(parse(), DNS_OK, "parse");
	CHECK_INT(msg.nrr, 3, "nrr");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[0]), "mail.example", "owner 0");
	CHECK_INT(dns_rr_cname(pkt.b, pkt.n, &msg.rr[0], target, sizeof target),
		  DNS_OK, "cname 0");
	CHECK_STR(target, "a.example", "target 0");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[1]), "a.example", "owner 1");
	CHECK_INT(dns_rr_cname(pkt.b, pkt.n, &msg.rr[1], target, sizeof target),
		  DNS_OK, "cname 1");
	CHECK_STR(target, "b.example.net", "target 1");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[2]), "b.example.net", "owner 2");
	CHECK_INT(dns_rr_cname(pkt.b, pkt.n, &msg.rr[2], target, sizeof target),
		  DNS_RC_WRONG_TYPE, "cname on A");
}

UNIT_TEST(test_dns_rr_txt)
{
	uint8_t buf[DNS_MAX_MESSAGE];
	struct dns_txt txt;

	/* "v=STSv1; " "id=20240101" and an empty string. */
	build_one(DNS_TYPE_TXT, "09 76 3d 53 54 53 76 31 3b 20"
				"0b 69 64 3d 32 30 32 34 30 31 30 31 00");
	CHECK_INT(parse(), DNS_OK, "parse");
	CHECK_INT(dns_rr_txt(pkt.b, pkt.n, &msg.rr[0], buf, sizeof buf, &txt),
		  DNS_OK, "txt");
	CHECK_INT(txt.nstrings, 3, "strings");
	CHECK_INT(txt.len, 20, "len");
	CHECK(txt.data == buf && memcmp(buf, "v=STSv1; id=20240101", 20) == 0);
	CHECK_INT(dns_rr_txt(pkt.b, pkt.n, &msg.rr[0], buf, 19, &txt),
		  DNS_RC_NO_SPACE, "small buffer");

	build_one(DNS_TYPE_TXT, "05 61 62");
	CHECK_INT(parse(), DNS_OK, "short parse");
	CHECK_INT(dns_rr_txt(pkt.b, pkt.n, &msg.rr[0], buf, sizeof buf, &txt),
		  DNS_RC_RDATA_SHORT, "string past rdata");
	build_one(DNS_TYPE_TXT, "");
	CHECK_INT(parse(), DNS_OK, "empty parse");
	CHECK_INT(dns_rr_txt(pkt.b, pkt.n, &msg.rr[0], buf, sizeof buf, &txt),
		  DNS_RC_RDATA_SHORT, "empty rdata");
}

UNIT_TEST(test_dns_rr_tlsa)
{
	static const uint8_t digest[32] = {
		0x0c, 0x72, 0xac, 0x70, 0xb7, 0x45, 0xac, 0x19,
		0x99, 0x8b, 0xf1, 0xd8, 0xe5, 0xda, 0x0c, 0x40,
		0x8f, 0x31, 0x1b, 0x2f, 0x64, 0x47, 0x9a, 0x33,
		0x2d, 0x72, 0x9d, 0x3c, 0x06, 0xd5, 0xb1, 0x93,
	};
	struct dns_tlsa t;

	pb_header(&pkt, RESP | 0x0020, 1, 1, 0, 0);
	pb_question(&pkt, "_25._tcp.mx.example", DNS_TYPE_TLSA);
	pb_hex(&pkt, "c0 0c");
	size_t at = pb_rr_begin(&pkt, DNS_TYPE_TLSA, 3600);
	pb_hex(&pkt, "03 01 01");
	pb_raw(&pkt, digest, sizeof digest);
	pb_rr_end(&pkt, at);
	CHECK_INT(parse(), DNS_OK, "3 1 1 parse");
	CHECK_STR(dns_rr_owner(&msg, &msg.rr[0]), "_25._tcp.mx.example",
		  "owner");
	CHECK_INT(dns_rr_tlsa(pkt.b, pkt.n, &msg.rr[0], &t), DNS_OK, "3 1 1");
	CHECK_INT(t.usage, 3, "usage");
	CHECK_INT(t.selector, 1, "selector");
	CHECK_INT(t.mtype, 1, "mtype");
	CHECK_INT(t.data_len, 32, "data len");
	CHECK(t.data && memcmp(t.data, digest, 32) == 0);

	build_one(DNS_TYPE_TLSA, "02 00 01 aa bb cc");
	CHECK_INT(parse(), DNS_OK, "2 0 1 parse");
	CHECK_INT(dns_rr_tlsa(pkt.b, pkt.n, &msg.rr[0], &t), DNS_OK, "2 0 1");
	CHECK_INT(t.usage, 2, "usage 2");
	CHECK_INT(t.selector, 0, "selector 0");
	CHECK_INT(t.data_len, 3, "data 3");

	build_one(DNS_TYPE_TLSA, "03 01");
	CHECK_INT(parse(), DNS_OK, "short parse");
	CHECK_INT(dns_rr_tlsa(pkt.b, pkt.n, &msg.rr[0], &t), DNS_RC_RDATA_SHORT,
		  "short");
}

/* SRV (RFC 2782) in the layouts seen in the wild: plain, compressed
 * target (accepted, as c-ares does), the "." of a service not offered,
 * and every way RDATA can be too short or too long. RDATA begins at 39
 * (header 12, question "x.example" 15, owner pointer 2, fixed 10), the
 * target at 45 (0x2d); the label "example" is at 14 (0x0e). */
UNIT_TEST(test_dns_rr_srv)
{
	static const struct {
		const char *ctx;
		const char *rdata;
		enum dns_rc want;
		unsigned prio, weight, port;
		const char *target;
	} rows[] = {
		{ "plain",
		  "00 00 00 01 03 e1 04 6d 61 69 6c 01 64 04 74 65 73 "
		  "74 00",
		  DNS_OK, 0, 1, 993, "mail.d.test" },
		{ "compressed target", "00 0a 00 05 27 c1 04 6d 61 69 6c c0 0e",
		  DNS_OK, 10, 5, 10177, "mail.example" },
		{ "upper case target", "ff ff ff ff ff ff 02 4d 58 00", DNS_OK,
		  65535, 65535, 65535, "mx" },
		{ "not offered", "00 00 00 00 00 00 00", DNS_OK, 0, 0, 0, "." },
		{ "no target", "00 00 00 01 03 e1", DNS_RC_RDATA_SHORT, 0, 0, 0,
		  NULL },
		{ "half port", "00 00 00 01 03", DNS_RC_RDATA_SHORT, 0, 0, 0,
		  NULL },
		{ "empty", "", DNS_RC_RDATA_SHORT, 0, 0, 0, NULL },
		{ "target past rdata", "00 00 00 01 03 e1 04 6d 61 69",
		  DNS_RC_RDATA_SHORT, 0, 0, 0, NULL },
		{ "trailing", "00 00 00 01 03 e1 00 00", DNS_RC_RDATA_TRAILING,
		  0, 0, 0, NULL },
		{ "forward pointer", "00 00 00 01 03 e1 c0 40",
		  DNS_RC_FORWARD_POINTER, 0, 0, 0, NULL },
		{ "pointer to itself", "00 00 00 01 03 e1 c0 2d",
		  DNS_RC_POINTER_LOOP, 0, 0, 0, NULL },
		{ "pointer into header", "00 00 00 01 03 e1 c0 02",
		  DNS_RC_POINTER_INTO_HEADER, 0, 0, 0, NULL },
		{ "reserved label type", "00 00 00 01 03 e1 40 00",
		  DNS_RC_BAD_LABEL_TYPE, 0, 0, 0, NULL },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct dns_srv srv;
		build_one(DNS_TYPE_SRV, rows[i].rdata);
		CHECK_INT(parse(), DNS_OK, rows[i].ctx);
		enum dns_rc rc = dns_rr_srv(pkt.b, pkt.n, &msg.rr[0], &srv);
		CHECK_STR(dns_rc_str(rc), dns_rc_str(rows[i].want),
			  rows[i].ctx);
		if (rc != DNS_OK || rows[i].want != DNS_OK)
			continue;
		CHECK_INT(srv.priority, rows[i].prio, rows[i].ctx);
		CHECK_INT(srv.weight, rows[i].weight, rows[i].ctx);
		CHECK_INT(srv.port, rows[i].port, rows[i].ctx);
		CHECK_STR(srv.target, rows[i].target, rows[i].ctx);
	}
	/* Another type's record is refused, and SRV has its mnemonic. */
	build_one(DNS_TYPE_MX, "00 0a 00");
	CHECK_INT(parse(), DNS_OK, "mx parse");
	struct dns_srv srv;
	CHECK_INT(dns_rr_srv(pkt.b, pkt.n, &msg.rr[0], &srv), DNS_RC_WRONG_TYPE,
		  "wrong type");
	CHECK_STR(dns_type_str(DNS_TYPE_SRV), "SRV", "mnemonic");
}

UNIT_TEST(test_dns_rr_rrsig_short)
{
	struct dns_rrsig sig;

	build_one(DNS_TYPE_RRSIG, "00 0f 0d 02 00 00 01 2c");
	CHECK_INT(parse(), DNS_OK, "parse");
	CHECK_INT(dns_rr_rrsig(pkt.b, pkt.n, &msg.rr[0], &sig),
		  DNS_RC_RDATA_SHORT, "fixed part short");
	build_one(DNS_TYPE_RRSIG, "00 34 0d 04 00 00 0e 10 67 00 00 00 66 00 "
				  "00 00 12 34 07 65 78 61 6d 70 6c");
	CHECK_INT(parse(), DNS_OK, "parse 2");
	CHECK_INT(dns_rr_rrsig(pkt.b, pkt.n, &msg.rr[0], &sig),
		  DNS_RC_RDATA_SHORT, "signer past rdata");
	/* A decoder called with a record that claims more than the packet
	 * has (e.g. from another packet) refuses it. */
	struct dns_rr fake = msg.rr[0];
	fake.rdlen = 0xffff;
	CHECK_INT(dns_rr_rrsig(pkt.b, pkt.n, &fake, &sig),
		  DNS_RC_RDLENGTH_OVERFLOW, "foreign record");
}

/* ---- Names of things -------------------------------------------------- */

UNIT_TEST(test_dns_strings)
{
	/* Every code has its own name: they are database outcomes. */
	for (int i = 0; i < DNS_RC_RC_LAST; i++) {
		const char *s = dns_rc_str((enum dns_rc)i);
		CHECK(strcmp(s, "unknown") != 0);
		for (const char *q = s; *q; q++)
			CHECK((*q >= 'a' && *q <= 'z') || *q == '_');
		for (int j = 0; j < i; j++)
			CHECK(strcmp(s, dns_rc_str((enum dns_rc)j)) != 0);
	}
	CHECK_STR(dns_rc_str(DNS_OK), "ok", "ok");
	CHECK_STR(dns_rc_str(DNS_RC_FORWARD_POINTER), "forward_pointer", "fp");
	CHECK_STR(dns_rc_str(DNS_RC_RC_LAST), "unknown", "last");
	CHECK_STR(dns_rc_str((enum dns_rc) - 1), "unknown", "negative");

	static const struct {
		uint16_t type;
		const char *name;
	} types[] = {
		{ DNS_TYPE_A, "A" },
		{ DNS_TYPE_NS, "NS" },
		{ DNS_TYPE_CNAME, "CNAME" },
		{ DNS_TYPE_SOA, "SOA" },
		{ DNS_TYPE_PTR, "PTR" },
		{ DNS_TYPE_MX, "MX" },
		{ DNS_TYPE_TXT, "TXT" },
		{ DNS_TYPE_AAAA, "AAAA" },
		{ DNS_TYPE_DNAME, "DNAME" },
		{ DNS_TYPE_OPT, "OPT" },
		{ DNS_TYPE_DS, "DS" },
		{ DNS_TYPE_RRSIG, "RRSIG" },
		{ DNS_TYPE_NSEC, "NSEC" },
		{ DNS_TYPE_DNSKEY, "DNSKEY" },
		{ DNS_TYPE_NSEC3, "NSEC3" },
		{ DNS_TYPE_TLSA, "TLSA" },
		{ DNS_TYPE_ANY, "ANY" },
		{ 999, "unknown" },
		{ 0, "unknown" },
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		CHECK_STR(dns_type_str(types[i].type), types[i].name,
			  types[i].name);

	CHECK_STR(dns_rcode_str(DNS_RCODE_NOERROR), "NOERROR", "0");
	CHECK_STR(dns_rcode_str(DNS_RCODE_SERVFAIL), "SERVFAIL", "2");
	CHECK_STR(dns_rcode_str(DNS_RCODE_NXDOMAIN), "NXDOMAIN", "3");
	CHECK_STR(dns_rcode_str(12), "unknown", "12");
	CHECK_STR(dns_rcode_str(-1), "unknown", "-1");
	CHECK_STR(dns_rcode_str(4095), "unknown", "4095");

	CHECK_STR(dns_ede_str(0), "other_error", "ede 0");
	CHECK_STR(dns_ede_str(22), "no_reachable_authority", "ede 22");
	CHECK_STR(dns_ede_str(65535), "unknown", "ede max");
}

UNIT_TEST(test_dns_name_failure_clears_output)
{
	struct dns_cursor c;
	char out[DNS_NAME_TEXT_MAX];

	/* "abc" then a forward pointer: the label must not be left behind. */
	pb_header(&pkt, 0, 0, 0, 0, 0);
	pb_hex(&pkt, "03 61 62 63 c0 20");
	dns_cursor_init(&c, pkt.b, pkt.n, QNAME_OFF);
	memset(out, 'z', sizeof out);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_RC_FORWARD_POINTER,
		  "forward");
	CHECK_STR(out, "", "cleared");
	/* A cursor already failed reads nothing and clears too. */
	memset(out, 'z', sizeof out);
	CHECK_INT(dns_name_read(&c, out, sizeof out), DNS_RC_FORWARD_POINTER,
		  "sticky");
	CHECK_STR(out, "", "cleared again");
	CHECK_INT(c.off, QNAME_OFF, "not advanced");
}
