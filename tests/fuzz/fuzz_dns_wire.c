/*
 * Fuzz target for crawler/dns/dns_wire.c.
 *
 * The input is a DNS message. It is parsed, every record goes through its
 * typed decoder, names are read at the first offsets directly, and the
 * input is also tried as a query name. Whatever the input, everything
 * handed back must stay inside the packet, and every name must be valid
 * presentation text that converts back to at most 255 wire bytes with
 * labels of at most 63.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/dns/dns_wire.h"

/* A DNS message cannot be longer; beyond it only the length check runs. */
#define FUZZ_INPUT_MAX (DNS_MAX_MESSAGE + 1)
/* Offsets at which dns_name_read() is tried on its own: enough to cover
 * the header, question and first records without quadratic cost. */
#define FUZZ_NAME_OFFSETS 512
/* The longest unescaped name text: 255 wire bytes minus the root and the
 * first length octet, with dots for the other length octets. */
#define FUZZ_NAME_PLAIN_MAX 253

/* Too large for the stack of a fuzzing thread; one input at a time. */
static struct dns_msg msg;
static uint8_t txtbuf[DNS_MAX_MESSAGE];

static void check_rc(enum dns_rc rc)
{
	if ((unsigned)rc >= DNS_RC_RC_LAST)
		abort();
	if (strcmp(dns_rc_str(rc), "unknown") == 0)
		abort();
}

/* Undoes the presentation escapes and checks the wire-form limits. */
static void check_name(const char *s)
{
	size_t n = strnlen(s, DNS_NAME_TEXT_MAX);
	size_t wire = 1, label = 0;

	if (n == 0 || n >= DNS_NAME_TEXT_MAX)
		abort();
	if (strcmp(s, ".") == 0)
		return;
	if (!strchr(s, '\\') && n > FUZZ_NAME_PLAIN_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '.') {
			if (label == 0)
				abort();
			wire += 1 + label;
			label = 0;
			continue;
		}
		if (ch == '\\') {
			if (s[i + 1] == '.') {
				i++;
			} else {
				for (int d = 1; d <= 3; d++)
					if (s[i + d] < '0' || s[i + d] > '9')
						abort();
				int v = (s[i + 1] - '0') * 100 +
					(s[i + 2] - '0') * 10 +
					(s[i + 3] - '0');
				if (v > 255)
					abort();
				i += 3;
			}
		} else if (!((ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' ||
			     ch == '_')) {
			/* Upper case and everything else must be escaped. */
			abort();
		}
		label++;
		if (label > DNS_MAX_LABEL)
			abort();
	}
	/* A leading, doubled or trailing unescaped dot is an empty label. */
	if (label == 0)
		abort();
	wire += 1 + label;
	if (wire > DNS_MAX_NAME_WIRE)
		abort();
}

static void check_within(size_t off, size_t n, size_t len)
{
	if (off > len || n > len - off)
		abort();
}

static void decode_rr(const uint8_t *data, size_t size, const struct dns_rr *rr)
{
	enum dns_rc rc;

	switch (rr->type) {
	case DNS_TYPE_MX: {
		struct dns_mx mx;
		rc = dns_rr_mx(data, size, rr, &mx);
		if (rc == DNS_OK)
			check_name(mx.exchange);
		break;
	}
	case DNS_TYPE_A: {
		struct dns_a a;
		rc = dns_rr_a(data, size, rr, &a);
		if (rc == DNS_OK && (rr->rdlen != 4 || !a.text[0]))
			abort();
		break;
	}
	case DNS_TYPE_AAAA: {
		struct dns_aaaa a;
		rc = dns_rr_aaaa(data, size, rr, &a);
		if (rc == DNS_OK && (rr->rdlen != 16 || !a.text[0]))
			abort();
		break;
	}
	case DNS_TYPE_CNAME: {
		char target[DNS_NAME_TEXT_MAX];
		rc = dns_rr_cname(data, size, rr, target, sizeof target);
		if (rc == DNS_OK)
			check_name(target);
		break;
	}
	case DNS_TYPE_TXT: {
		struct dns_txt t;
		rc = dns_rr_txt(data, size, rr, txtbuf, sizeof txtbuf, &t);
		/* Every RDATA byte is either a length octet or text. */
		if (rc == DNS_OK &&
		    (t.nstrings == 0 || t.len + t.nstrings != rr->rdlen))
			abort();
		break;
	}
	case DNS_TYPE_TLSA: {
		struct dns_tlsa t;
		rc = dns_rr_tlsa(data, size, rr, &t);
		if (rc == DNS_OK) {
			if (t.data_len + 3 != rr->rdlen)
				abort();
			check_within((size_t)(t.data - data), t.data_len, size);
		}
		break;
	}
	case DNS_TYPE_SRV: {
		struct dns_srv srv;
		rc = dns_rr_srv(data, size, rr, &srv);
		/* The fixed fields and at least the root octet. */
		if (rc == DNS_OK) {
			check_name(srv.target);
			if (rr->rdlen < 7)
				abort();
		}
		break;
	}
	case DNS_TYPE_SOA: {
		struct dns_soa soa;
		rc = dns_rr_soa(data, size, rr, &soa);
		if (rc == DNS_OK) {
			check_name(soa.mname);
			check_name(soa.rname);
		}
		break;
	}
	case DNS_TYPE_RRSIG: {
		struct dns_rrsig sig;
		rc = dns_rr_rrsig(data, size, rr, &sig);
		if (rc == DNS_OK) {
			check_name(sig.signer);
			if (sig.sig_len > rr->rdlen)
				abort();
		}
		break;
	}
	default: {
		/* Any decoder on a type it does not know must say so. */
		struct dns_mx mx;
		if (dns_rr_mx(data, size, rr, &mx) != DNS_RC_WRONG_TYPE)
			abort();
		rc = DNS_OK;
	}
	}
	check_rc(rc);
}

static void fuzz_message(const uint8_t *data, size_t size)
{
	enum dns_rc rc = dns_msg_parse(data, size, &msg);

	check_rc(rc);
	if (!msg.header_ok && rc != DNS_RC_TRUNCATED_HEADER &&
	    rc != DNS_RC_MESSAGE_TOO_LONG)
		abort();
	if (msg.nrr > DNS_MSG_MAX_RRS || msg.names_used > DNS_MSG_NAMES_MAX)
		abort();
	if (rc == DNS_OK) {
		if (msg.nrr != (size_t)msg.ancount + msg.nscount + msg.arcount)
			abort();
		if (msg.trailing > size)
			abort();
		if (msg.has_question)
			check_name(msg.qname);
	}
	if (msg.rcode < 0 || msg.rcode > 0xfff)
		abort();
	for (size_t i = 0; i < msg.opt.n_ede; i++)
		check_within(msg.opt.ede[i].text_off, msg.opt.ede[i].text_len,
			     size);
	if (msg.opt.n_ede > DNS_MSG_MAX_EDE ||
	    msg.opt.n_ede > msg.opt.ede_total)
		abort();

	for (size_t i = 0; i < msg.nrr; i++) {
		const struct dns_rr *rr = &msg.rr[i];
		if (rr->owner_off < DNS_HEADER_LEN || rr->owner_off >= size)
			abort();
		if (rr->rdata_off <= rr->owner_off)
			abort();
		check_within(rr->rdata_off, rr->rdlen, size);
		if (rr->section < DNS_SECTION_ANSWER ||
		    rr->section > DNS_SECTION_ADDITIONAL)
			abort();
		if (rr->owner_text >= msg.names_used)
			abort();
		check_name(dns_rr_owner(&msg, rr));
		decode_rr(data, size, rr);
	}
}

static void fuzz_names(const uint8_t *data, size_t size)
{
	char out[DNS_NAME_TEXT_MAX];

	for (size_t off = 0; off < size && off < FUZZ_NAME_OFFSETS; off++) {
		struct dns_cursor c;
		dns_cursor_init(&c, data, size, off);
		enum dns_rc rc = dns_name_read(&c, out, sizeof out);
		check_rc(rc);
		if (rc != DNS_OK) {
			if (c.err != (int)rc)
				abort();
			continue;
		}
		if (c.off <= off || c.off > size)
			abort();
		check_name(out);
	}
}

/* The input as a query name: a query that builds must parse back. */
static void fuzz_query(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_TEXT_MAX];
	uint8_t q[DNS_QUERY_MAX];

	if (size >= sizeof name)
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	size_t n = 0;
	enum dns_rc qrc = dns_wire_query(q, sizeof q, 0x4242, name, DNS_TYPE_MX,
					 DNS_QUERY_CD, &n);
	if (qrc != DNS_OK) {
		check_rc(qrc);
		return;
	}
	if (n > DNS_QUERY_MAX)
		abort();
	if (dns_msg_parse(q, n, &msg) != DNS_OK)
		abort();
	if (msg.id != 0x4242 || !msg.cd || !msg.ad || !msg.rd ||
	    !msg.opt.do_bit || msg.nrr != 1 || msg.trailing != 0)
		abort();
	check_name(msg.qname);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_INPUT_MAX)
		return 0;
	fuzz_message(data, size);
	fuzz_names(data, size);
	fuzz_query(data, size);
	return 0;
}
