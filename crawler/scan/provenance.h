/*
 * Provenance of a scan run: what the canaries said of the resolver, and
 * the facts a reader needs to know how a campaign was measured (trust
 * store digest, library versions). cmd_scan stores them per run in
 * campaign_run (schema/016).
 */
#ifndef MXCRAWL_CRAWLER_PROVENANCE_H
#define MXCRAWL_CRAWLER_PROVENANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "crawler/util/jbuf.h"
#include "crawler/dns/resolver.h"

/* Largest file digested for the record (a system bundle is ~200 KiB). */
#define PROV_FILE_MAX (64u << 20)

/* What one canary (an A lookup) answered. */
struct prov_canary {
	const char *name;
	enum resolver_rc rc;
	int rcode; /* -1: no answer */
	enum dnssec_status dnssec;
	bool cd_requeried;
	size_t n_ede;
	uint16_t ede[DNS_MSG_MAX_EDE];
};

/*
 * What the two canaries say, judged through a resolver taken as
 * validating (the secure one must come back secure, the bogus one bogus):
 */
enum canary_verdict {
	CANARY_VALIDATING = 0,	  /* secure is secure, bogus is bogus */
	CANARY_NOT_VALIDATING,	  /* neither: the resolver does not validate */
	CANARY_BOGUS_VALIDATES,	  /* the bogus canary answered secure data */
	CANARY_BOGUS_NXDOMAIN,	  /* ... a secure NXDOMAIN: not where looked */
	CANARY_BOGUS_NOT_BOGUS,	  /* validating, but the bogus name is fine */
	CANARY_SECURE_NOT_SECURE, /* validating, but the secure name is not */
	CANARY_UNUSABLE,	  /* neither canary got a usable answer */
	CANARY_VERDICT_LAST
};

/* The verdict of the two answers (pure; unit-tested). A verdict other
 * than VALIDATING and NOT_VALIDATING is a configuration error: a canary
 * that cannot tell. */
enum canary_verdict canary_judge(const struct prov_canary *secure,
				 const struct prov_canary *bogus);
const char *canary_verdict_str(enum canary_verdict v);

/* "NOERROR, secure" / "SERVFAIL, bogus, EDE 6 (dnssec_bogus), CD
 * re-query" / "timeout": the answer in words, into buf. */
void prov_canary_describe(const struct prov_canary *c, char *buf, size_t cap);
/* The canary as a JSON object: name, type, rc, rcode, dnssec, ede,
 * answer (the words above). */
void prov_canary_json(struct jbuf *b, const struct prov_canary *c);

/*
 * SHA-256 of the file (hex into sha, 65 bytes) and the number of PEM
 * certificates in it (*certs, may be NULL). 0, or a negative errno, also
 * left in errno: fopen's, -EFBIG beyond PROV_FILE_MAX, -ENOMEM, -EIO for
 * a read error.
 */
int prov_file_digest(const char *path, char sha[65], size_t *certs);

/* Adds the keys of the JSON object `json` to the provenance of run
 * run_id (jsonb ||): findings made during the run, such as the EHLO
 * name's check. 0, or -EIO (printed). */
int prov_run_merge(PGconn *c, int64_t run_id, const char *json);

/* SHA-256 (hex) of a string. */
void prov_sha256_hex(const void *data, size_t len, char sha[65]);

/* "versions": {"mxcrawl", "openssl", "libuv", "c-ares", "libcurl", "zstd",
 * "libpq"} as a JSON object (the versions linked at run time). */
void prov_versions_json(struct jbuf *b);

#endif
