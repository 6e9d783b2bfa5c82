/*
 * The per-domain probe: one state machine per target domain that asks DNS
 * everything the report needs (MX with implicit and null MX, CNAMEs, A and
 * AAAA per MX host, TLSA for hosts on a secure path, the _mta-sts and
 * _smtp._tls TXT records), judges every address with the address policy,
 * and, when done, appends the domain's rows to the batch's COPY buffers in
 * one go, so a domain's facts are stored whole or not at all.
 */
#ifndef MXCRAWL_SCAN_PROBE_H
#define MXCRAWL_SCAN_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "crawler/scan/addrpolicy.h"
#include "crawler/smtp/endpoint.h"
#include "crawler/scan/epreg.h"
#include "crawler/util/jbuf.h"
#include "crawler/dns/resolver.h"
#include "crawler/store/tables.h"
#include "crawler/verify/verify.h"

/* MX hosts probed per domain; more are recorded as not kept (truncated). */
#define PROBE_MX_CAP 16
/* CNAME links followed inside one answer. */
#define PROBE_CNAME_MAX 16
/* Addresses kept per MX host and family. */
#define PROBE_ADDR_MAX 16
/* SRV records kept per mail client service (M12 contract: like MX). */
#define PROBE_SRV_CAP 16

struct dane_cache;

/* How a probe asks a DNS question; the signature of resolver_query(),
 * with `ctx` in place of the resolver. */
typedef int (*probe_query_fn)(void *ctx, const char *name, uint16_t qtype,
			      resolver_cb cb, void *arg);

/* What every probe of a worker shares. */
struct probe_env {
	uv_loop_t *loop;
	struct resolver *resolver;
	/* Asks instead of resolver_query() on `resolver` when set, with
	 * query_ctx: a scripted resolver (tests/unit/test_probe.c). */
	probe_query_fn query;
	void *query_ctx;
	const struct addr_policy *policy;
	const char *worker; /* recorded with each domain */
	int64_t campaign_id;
	/* The SMTP/TLS stage; NULL ep_env turns it off. */
	const struct endpoint_env *ep_env;
	struct epreg *reg; /* shared by the workers of this process */
	/* Claims across processes (epclaim.h); NULL: this process alone. */
	struct epclaim *claims;
	/* The MTA-STS policy fetch (stsfetch.h); NULL: no fetch. */
	struct stsfetch *sts;
	unsigned worker_index;
	const struct verify_ctx *verify;
	/* This worker's decoded leaves, for the name checks per domain. */
	struct verify_leaf_cache *names;
	/* This worker's DANE judgements of shared chains (NULL: none). */
	struct dane_cache *dane;
	/* Mail client ports (M12, --client-ports srv): ask the six SRV
	 * owners of the domain, their targets' addresses and, on a secure
	 * path, TLSA; rows to TABLE_CLIENT_SRV and TABLE_CLIENT_SRV_TARGET.
	 * No client endpoint is contacted. */
	bool client_srv;
	/* --client-ports mx (with client_srv): also the six client services
	 * on their standard ports at every kept MX host's contactable
	 * addresses (SNI = the MX host), TLSA at _<port>._tcp.<mx host> on
	 * a secure path; rows to TABLE_CLIENT_MX and
	 * TABLE_DOMAIN_CLIENT_MX_ENDPOINT. */
	bool client_mx;
};

/* Counts of outcomes, for the progress line and the summary. */
struct probe_counts {
	uint64_t domains;
	uint64_t mx, implicit_mx, null_mx, no_domain, dns_error, blocklisted;
	/* Domains whose facts could not be stored (their rows over a limit,
	 * or out of memory): one domain_dns row says why, nothing else. */
	uint64_t not_recorded;
	uint64_t queries;
	uint64_t refused_addresses;
	uint64_t endpoints_probed; /* by this process (once each) */
	uint64_t starttls_ok;	   /* of those, STARTTLS + TLS completed */
};

struct probe;
struct epclaim;
struct stsfetch;

/* Called once per probe when it is done and its rows are appended; the
 * probe is freed right after the callback returns. */
typedef void (*probe_done_cb)(void *arg, const struct probe_counts *delta);

/*
 * Starts probing `domain` (normalised) for target `target_id`; rows go to
 * out[TABLE_*] (store/tables.h). Returns 0. When the probe cannot be
 * allocated, the domain is done at once as not recorded (out_of_memory,
 * cb called before the return); a negative errno (-ENOMEM, -E2BIG) only
 * when even that row could not be written (nothing started, cb not
 * called).
 */
int probe_start(struct probe_env *env, int64_t target_id, const char *domain,
		struct jbuf out[TABLE_LAST], probe_done_cb cb, void *arg);

#endif
