/* Provenance of a scan run (see provenance.h). */
#include "crawler/scan/provenance.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <uv.h>
#include <zstd.h>

#include "crawler/store/db.h"
#include "crawler/util/json.h"

static const char *const verdict_names[CANARY_VERDICT_LAST] = {
	[CANARY_VALIDATING] = "validating",
	[CANARY_NOT_VALIDATING] = "not_validating",
	[CANARY_BOGUS_VALIDATES] = "bogus_validates",
	[CANARY_BOGUS_NXDOMAIN] = "bogus_nxdomain",
	[CANARY_BOGUS_NOT_BOGUS] = "bogus_not_bogus",
	[CANARY_SECURE_NOT_SECURE] = "secure_not_secure",
	[CANARY_UNUSABLE] = "unusable",
};

const char *canary_verdict_str(enum canary_verdict v)
{
	return (unsigned)v < CANARY_VERDICT_LAST ? verdict_names[v] : "?";
}

enum canary_verdict canary_judge(const struct prov_canary *secure,
				 const struct prov_canary *bogus)
{
	if (secure->rc != RESOLVER_OK && bogus->rc != RESOLVER_OK)
		return CANARY_UNUSABLE;
	/* A bogus canary that validates proves nothing whatever the
	 * resolver does: it must be broken on purpose. A secure NXDOMAIN
	 * says the name is not there (a typo, or a test zone that is gone),
	 * so it cannot be bogus either. */
	if (bogus->dnssec == DNSSEC_SECURE)
		return bogus->rcode == DNS_RCODE_NXDOMAIN
			   ? CANARY_BOGUS_NXDOMAIN
			   : CANARY_BOGUS_VALIDATES;
	if (secure->dnssec == DNSSEC_SECURE && bogus->dnssec == DNSSEC_BOGUS)
		return CANARY_VALIDATING;
	/* One canary shows validation at work, the other does not answer
	 * as its role wants: that canary is the wrong name. */
	if (secure->dnssec == DNSSEC_SECURE)
		return CANARY_BOGUS_NOT_BOGUS;
	if (bogus->dnssec == DNSSEC_BOGUS)
		return CANARY_SECURE_NOT_SECURE;
	return CANARY_NOT_VALIDATING;
}

void prov_canary_describe(const struct prov_canary *c, char *buf, size_t cap)
{
	size_t n;

	if (c->rc != RESOLVER_OK || c->rcode < 0) {
		snprintf(buf, cap, "%s", resolver_rc_str(c->rc));
		return;
	}
	n = (size_t)snprintf(buf, cap, "%s, %s", dns_rcode_str(c->rcode),
			     dnssec_status_str(c->dnssec));
	for (size_t i = 0; i < c->n_ede && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, ", EDE %u (%s)",
				      c->ede[i], dns_ede_str(c->ede[i]));
	if (c->cd_requeried && n < cap)
		snprintf(buf + n, cap - n, ", CD re-query");
}

static void key(struct jbuf *b, const char *k, bool first)
{
	if (!first)
		jbuf_puts(b, ", ");
	jbuf_json_string(b, k, strlen(k));
	jbuf_puts(b, ": ");
}

static void key_str(struct jbuf *b, const char *k, const char *v, bool first)
{
	key(b, k, first);
	if (v)
		jbuf_json_string(b, v, strlen(v));
	else
		jbuf_puts(b, "null");
}

void prov_canary_json(struct jbuf *b, const struct prov_canary *c)
{
	char words[256];

	prov_canary_describe(c, words, sizeof words);
	jbuf_puts(b, "{");
	key_str(b, "name", c->name, true);
	key_str(b, "type", "A", false);
	key_str(b, "rc", resolver_rc_str(c->rc), false);
	key_str(b, "rcode", c->rcode >= 0 ? dns_rcode_str(c->rcode) : NULL,
		false);
	key_str(b, "dnssec", dnssec_status_str(c->dnssec), false);
	key(b, "ede", false);
	jbuf_puts(b, "[");
	for (size_t i = 0; i < c->n_ede; i++)
		jbuf_printf(b, "%s%u", i ? ", " : "", c->ede[i]);
	jbuf_puts(b, "]");
	key_str(b, "answer", words, false);
	jbuf_puts(b, "}");
}

static void hex(const unsigned char *md, unsigned len, char sha[65])
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < len && i < 32; i++) {
		sha[2 * i] = digits[md[i] >> 4];
		sha[2 * i + 1] = digits[md[i] & 15];
	}
	sha[64] = '\0';
}

void prov_sha256_hex(const void *data, size_t len, char sha[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		memset(md, 0, sizeof md), mdlen = 32;
	hex(md, mdlen, sha);
}

int prov_file_digest(const char *path, char sha[65], size_t *certs)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;
	int rc = -1, err = 0;

	if (!f)
		return -errno;
	/* Read whole (it is counted as well as digested). */
	for (;;) {
		if (cap - len < 65536) {
			if (cap >= PROV_FILE_MAX) {
				err = EFBIG;
				goto out;
			}
			size_t ncap = cap ? 2 * cap : 1u << 17;
			char *p = realloc(data, ncap + 1);
			if (!p) {
				err = ENOMEM;
				goto out;
			}
			data = p;
			cap = ncap;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		err = EIO;
		goto out;
	}
	data[len] = '\0';
	prov_sha256_hex(data, len, sha);
	if (certs) {
		size_t k = 0;
		for (const char *p = data;
		     (p = memmem(p, len - (size_t)(p - data), begin,
				 sizeof begin - 1)) != NULL;
		     p += sizeof begin - 1)
			k++;
		*certs = k;
	}
	rc = 0;
out:
	free(data);
	fclose(f);
	if (rc != 0) {
		errno = err;
		rc = -err;
	}
	return rc;
}

void prov_versions_json(struct jbuf *b)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	int pq = PQlibVersion();
	char pqv[32];

	/* PQlibVersion(): major * 10000 + minor since PostgreSQL 10. */
	snprintf(pqv, sizeof pqv, "%d.%d", pq / 10000, pq % 10000);
	jbuf_puts(b, "{");
	key_str(b, "mxcrawl", MXCRAWL_VERSION, true);
	key_str(b, "openssl", OpenSSL_version(OPENSSL_VERSION), false);
	key_str(b, "libuv", uv_version_string(), false);
	key_str(b, "c-ares", ares_version(NULL), false);
	key_str(b, "libcurl", cv ? cv->version : NULL, false);
	key_str(b, "zstd", ZSTD_versionString(), false);
	key_str(b, "libpq", pqv, false);
	jbuf_puts(b, "}");
}

int prov_run_merge(PGconn *c, int64_t run_id, const char *json)
{
	char rid[24];
	const char *p[2] = { rid, json };

	snprintf(rid, sizeof rid, "%" PRId64, run_id);
	PGresult *r =
	    db_exec(c, PGRES_COMMAND_OK, "recording the run's findings",
		    "UPDATE campaign_run SET provenance = provenance "
		    "|| $2::jsonb WHERE id = $1::bigint",
		    2, p);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}
