/*
 * A domain's MTA-STS and TLS-RPT facts as the probe gathers them: the TXT
 * records (parsed with mtasts.h / tlsrpt.h), the policy host's addresses,
 * the fetch's result (stsfetch.h) and the parsed policy, turned into the
 * domain_mta_sts and domain_tlsrpt rows (schema/009_mta_sts.sql). The
 * probe does the DNS and the fetch; this file only keeps and writes. It
 * lives beside the probe because it joins what three stages found (dns/:
 * the policy host's DNSSEC status, sts/: the parsers and the fetch,
 * verify/: the chain's certificate rows), and those stages may not include
 * one another.
 */
#ifndef MXCRAWL_SCAN_STSFACTS_H
#define MXCRAWL_SCAN_STSFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/util/addr.h"
#include "crawler/util/jbuf.h"
#include "crawler/sts/mtasts.h"
#include "crawler/dns/resolver.h"
#include "crawler/sts/stsfetch.h"
#include "crawler/sts/tlsrpt.h"

/* Bytes of one COPY array (CNAME chain, patterns, URIs) kept. */
#define STS_FACTS_ARRAY_MAX (64u << 10)

struct sts_facts {
	bool looked_up;	       /* the TXT answer came */
	const char *txt;       /* none, valid, invalid, multiple, dns_error */
	const char *txt_error; /* mtasts_txt_rc_str() unless valid */
	size_t txt_records, sts_records;
	struct jbuf txt_cname; /* COPY array, "{...}" */
	bool has_id;
	char id[MTASTS_ID_KEEP + 1];
	size_t id_len;

	/* mta-sts.<domain>, looked up when the TXT record is valid. */
	bool fetch_due;
	char host[STSFETCH_HOST_MAX + 1];
	bool a_done, aaaa_done, host_failed;
	enum dnssec_status a_st, aaaa_st;
	size_t naddr;
	struct addr addrs[STSFETCH_MAX_ADDRS];

	/* The fetch. */
	const char *fetch; /* stsfetch_rc_str(), NULL: none */
	int http_status;
	char *location, *content_type, *content_encoding;
	char *verify_error, *detail;
	char tls_version[16];
	char fetch_addr[64];
	unsigned fetch_ms;
	uint8_t *body;
	size_t body_len;
	struct jbuf chain; /* COPY array of SHA-256, "{...}" */

	/* The policy, when fetched: NULL policy when not. */
	const char *policy; /* valid | invalid */
	const char *policy_error;
	struct mtasts_policy *parsed; /* for MX matching */
};

struct rpt_facts {
	bool looked_up;
	const char *status; /* none, valid, invalid, multiple, dns_error */
	const char *error;
	size_t txt_records, rpt_records;
	struct jbuf rua;     /* COPY array of bytea */
	struct jbuf schemes; /* COPY array of text */
};

void sts_facts_init(struct sts_facts *s);
void sts_facts_free(struct sts_facts *s);

/* The _mta-sts TXT answer: recs are its records at the end of the CNAME
 * chain (cname: the chain as a whole COPY array, "{...}", or NULL); failed:
 * no usable answer (bogus, SERVFAIL, timeout). Sets fetch_due for a valid
 * record. Returns 0, or the CNAME chain's buffer's error (jbuf_error():
 * -ENOMEM, -E2BIG). */
int sts_facts_txt(struct sts_facts *s, const struct mtasts_bytes *recs,
		  size_t n, const char *cname, size_t cname_len, bool failed);

/* Records the fetch's result (copying what is kept), the chain's
 * certificate rows to certrows, and parses a fetched policy. Returns 0,
 * or -ENOMEM. */
int sts_facts_fetched(struct sts_facts *s, const struct stsfetch_result *r,
		      struct jbuf *certrows);

/* 1 or 0: whether host matches a pattern of a valid enforce/testing
 * policy; -1 when there is no such policy. */
int sts_facts_mx_match(const struct sts_facts *s, const char *host);

/* Appends the domain_mta_sts row (columns: table_columns[TABLE_MTA_STS]
 * of store/tables.h). */
void sts_facts_row(const struct sts_facts *s, struct jbuf *b,
		   int64_t campaign_id, int64_t target_id);

void rpt_facts_init(struct rpt_facts *r);
void rpt_facts_free(struct rpt_facts *r);
/* The _smtp._tls TXT answer, as for sts_facts_txt(). */
void rpt_facts_txt(struct rpt_facts *r, const struct tlsrpt_bytes *recs,
		   size_t n, bool failed);
/* Appends the domain_tlsrpt row (columns: table_columns[TABLE_TLSRPT]
 * of store/tables.h). */
void rpt_facts_row(const struct rpt_facts *r, struct jbuf *b,
		   int64_t campaign_id, int64_t target_id);

#endif
