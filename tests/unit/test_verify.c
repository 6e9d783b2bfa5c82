/*
 * The certificate judgement's pure parts as tables (TLSA usability, the
 * DANE decision, stable names), and verify_chain() on certificates made
 * here in memory: name matching rows (wildcards, the CN never used,
 * trailing dot, case), bounds (no chain, garbage, oversized, truncated
 * chains), long and out-of-order chains under a root of our own, weak
 * keys and digests (strict trust at security level 2 against validity
 * ignoring strength), and the judgement's time. The testbed's real
 * scenario chains are compared with the truth in
 * tests/integration/test_verify.sh.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crawler/verify/verify.h"
#include "unit.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DAY (24 * 60 * 60)

static const uint8_t zeros[128];

/* ---- TLSA usability ---------------------------------------------------- */

struct tlsa_case {
	uint8_t usage, selector, mtype;
	size_t len;
	enum verify_tlsa_use want;
};

static const struct tlsa_case tlsa_cases[] = {
	/* The usable shapes: DANE-TA / DANE-EE, both selectors, each mtype. */
	{ 3, 1, 1, 32, VERIFY_TLSA_USABLE },
	{ 3, 0, 1, 32, VERIFY_TLSA_USABLE },
	{ 3, 1, 2, 64, VERIFY_TLSA_USABLE },
	{ 2, 1, 1, 32, VERIFY_TLSA_USABLE },
	{ 2, 0, 2, 64, VERIFY_TLSA_USABLE },
	{ 3, 0, 0, 1, VERIFY_TLSA_USABLE }, /* Full: any non-empty length */
	{ 3, 1, 0, 91, VERIFY_TLSA_USABLE },
	/* RFC 7672 §3.1.3: PKIX usages are unusable for SMTP. */
	{ 0, 1, 1, 32, VERIFY_TLSA_PKIX_USAGE },
	{ 1, 1, 1, 32, VERIFY_TLSA_PKIX_USAGE },
	{ 0, 9, 9, 0, VERIFY_TLSA_PKIX_USAGE }, /* usage judged first */
	/* Unknown values (RFC 7671 §5.1 / IANA registry). */
	{ 4, 1, 1, 32, VERIFY_TLSA_UNKNOWN_USAGE },
	{ 255, 1, 1, 32, VERIFY_TLSA_UNKNOWN_USAGE }, /* PrivCert */
	{ 3, 2, 1, 32, VERIFY_TLSA_UNKNOWN_SELECTOR },
	{ 3, 255, 1, 32, VERIFY_TLSA_UNKNOWN_SELECTOR },
	{ 3, 1, 3, 32, VERIFY_TLSA_UNKNOWN_MTYPE },
	{ 3, 1, 9, 32, VERIFY_TLSA_UNKNOWN_MTYPE },
	{ 3, 1, 255, 32, VERIFY_TLSA_UNKNOWN_MTYPE },
	/* Digest lengths: SHA2-256 is 32 bytes, SHA2-512 64. */
	{ 3, 1, 1, 20, VERIFY_TLSA_BAD_LENGTH },
	{ 3, 1, 1, 31, VERIFY_TLSA_BAD_LENGTH },
	{ 3, 1, 1, 33, VERIFY_TLSA_BAD_LENGTH },
	{ 3, 1, 1, 64, VERIFY_TLSA_BAD_LENGTH },
	{ 3, 1, 2, 32, VERIFY_TLSA_BAD_LENGTH },
	{ 3, 1, 2, 63, VERIFY_TLSA_BAD_LENGTH },
	{ 3, 1, 1, 0, VERIFY_TLSA_BAD_LENGTH },
	{ 3, 0, 0, 0, VERIFY_TLSA_BAD_LENGTH },
};

UNIT_TEST(verify_tlsa_usability)
{
	for (size_t i = 0; i < ARRAY_LEN(tlsa_cases); i++) {
		const struct tlsa_case *c = &tlsa_cases[i];
		struct verify_tlsa r = { c->usage, c->selector, c->mtype, zeros,
					 c->len };
		char ctx[64];

		snprintf(ctx, sizeof(ctx), "%u %u %u len %zu", c->usage,
			 c->selector, c->mtype, c->len);
		CHECK_STR(verify_tlsa_use_str(verify_tlsa_usable(&r)),
			  verify_tlsa_use_str(c->want), ctx);
	}
}

/* RFC 7673 (SRV, the mail client ports): PKIX-TA and PKIX-EE are usable,
 * with the same field checks as the DANE usages; RFC 7672 (SMTP) keeps
 * them out; everything else is judged alike under both profiles. */
UNIT_TEST(verify_tlsa_usability_srv_profile)
{
	for (size_t i = 0; i < ARRAY_LEN(tlsa_cases); i++) {
		const struct tlsa_case *c = &tlsa_cases[i];
		struct verify_tlsa r = { c->usage, c->selector, c->mtype, zeros,
					 c->len };
		char ctx[64];

		snprintf(ctx, sizeof(ctx), "%u %u %u len %zu", c->usage,
			 c->selector, c->mtype, c->len);
		CHECK_STR(verify_tlsa_use_str(
			      verify_tlsa_usable_for(&r, VERIFY_DANE_SMTP)),
			  verify_tlsa_use_str(c->want), ctx);
		if (c->want != VERIFY_TLSA_PKIX_USAGE)
			CHECK_STR(verify_tlsa_use_str(verify_tlsa_usable_for(
				      &r, VERIFY_DANE_SRV)),
				  verify_tlsa_use_str(c->want), ctx);
	}
	for (uint8_t u = 0; u < 2; u++) {
		struct verify_tlsa ok = { u, 1, 1, zeros, 32 };
		struct verify_tlsa bad = { u, 1, 1, zeros, 31 };
		CHECK_STR(verify_tlsa_use_str(
			      verify_tlsa_usable_for(&ok, VERIFY_DANE_SRV)),
			  "usable", "PKIX usage under RFC 7673");
		CHECK_STR(verify_tlsa_use_str(
			      verify_tlsa_usable_for(&bad, VERIFY_DANE_SRV)),
			  verify_tlsa_use_str(VERIFY_TLSA_BAD_LENGTH),
			  "PKIX usage, bad length");
	}
}

/* ---- the DANE decision ------------------------------------------------- */

struct decide_case {
	const char *what;
	struct verify_dane_facts f;
	enum verify_dane_outcome want;
};

static const struct decide_case decide_cases[] = {
	{ "insecure path wins over everything",
	  { false, true, 2, 1, true, true },
	  VERIFY_DANE_NOT_APPLICABLE },
	{ "bogus TLSA",
	  { true, true, 1, 1, true, true },
	  VERIFY_DANE_TLSA_BOGUS },
	{ "bogus TLSA, no STARTTLS",
	  { true, true, 1, 1, false, false },
	  VERIFY_DANE_TLSA_BOGUS },
	{ "secure denial",
	  { true, false, 0, 0, true, false },
	  VERIFY_DANE_NONE },
	{ "secure denial, no STARTTLS",
	  { true, false, 0, 0, false, false },
	  VERIFY_DANE_NONE },
	{ "only unusable",
	  { true, false, 3, 0, true, false },
	  VERIFY_DANE_UNUSABLE_ONLY },
	{ "only unusable, no STARTTLS",
	  { true, false, 3, 0, false, false },
	  VERIFY_DANE_UNUSABLE_ONLY },
	{ "usable, no STARTTLS",
	  { true, false, 1, 1, false, false },
	  VERIFY_DANE_NO_STARTTLS },
	{ "usable, matched",
	  { true, false, 2, 1, true, true },
	  VERIFY_DANE_OK },
	{ "usable, no match",
	  { true, false, 2, 2, true, false },
	  VERIFY_DANE_NO_MATCH },
};

UNIT_TEST(verify_dane_decision)
{
	for (size_t i = 0; i < ARRAY_LEN(decide_cases); i++) {
		const struct decide_case *c = &decide_cases[i];
		CHECK_STR(verify_dane_outcome_str(verify_dane_decide(&c->f)),
			  verify_dane_outcome_str(c->want), c->what);
	}
	CHECK_STR(verify_dane_result_type(VERIFY_DANE_NO_MATCH), "tlsa-invalid",
		  "result type");
	CHECK_STR(verify_dane_result_type(VERIFY_DANE_TLSA_BOGUS),
		  "dnssec-invalid", "result type");
	CHECK_STR(verify_dane_result_type(VERIFY_DANE_NO_STARTTLS),
		  "dane-required", "result type");
	CHECK_STR(verify_dane_result_type(VERIFY_DANE_OK), NULL, "result type");
	CHECK_STR(verify_dane_result_type(VERIFY_DANE_UNUSABLE_ONLY), NULL,
		  "result type");
}

/* The builder the scan and reverify share: a host's TLSA answer, its
 * contacted endpoints, its own outcome (RFC 7672 §2.2). */
UNIT_TEST(verify_dane_host_builder)
{
	static const uint8_t d32[32] = { 1 };
	const struct verify_tlsa usable = { 3, 1, 1, d32, sizeof d32 };
	const struct verify_tlsa pkix = { 1, 1, 1, d32, sizeof d32 };
	struct verify_dane_host h;

	/* Two endpoints, one whose chain does not match: that endpoint is
	 * dane_no_match, the other dane_ok, the host dane_no_match. */
	verify_dane_host_init(&h, true, true, false, &usable, 1);
	CHECK_STR(
	    verify_dane_outcome_str(verify_dane_host_endpoint(&h, true, true)),
	    verify_dane_outcome_str(VERIFY_DANE_OK), "endpoint matched");
	CHECK_STR(
	    verify_dane_outcome_str(verify_dane_host_endpoint(&h, true, false)),
	    verify_dane_outcome_str(VERIFY_DANE_NO_MATCH),
	    "endpoint not matched");
	CHECK_STR(verify_dane_outcome_str(verify_dane_host_outcome(&h, true)),
		  verify_dane_outcome_str(VERIFY_DANE_NO_MATCH),
		  "host: one endpoint not matched");
	/* No endpoint contacted although an address was there: the probes
	 * failed, DANE applies and STARTTLS was not done. */
	verify_dane_host_init(&h, true, true, false, &usable, 1);
	CHECK_STR(verify_dane_outcome_str(verify_dane_host_outcome(&h, true)),
		  verify_dane_outcome_str(VERIFY_DANE_NO_STARTTLS),
		  "host: address, nothing contacted");
	/* ... and without an address we may contact: not applicable. */
	CHECK_STR(verify_dane_outcome_str(verify_dane_host_outcome(&h, false)),
		  verify_dane_outcome_str(VERIFY_DANE_NOT_APPLICABLE),
		  "host: no address");
	/* Only PKIX usages: unusable_only, whatever the endpoints did. */
	verify_dane_host_init(&h, true, true, false, &pkix, 1);
	verify_dane_host_endpoint(&h, true, true);
	CHECK_STR(verify_dane_outcome_str(verify_dane_host_outcome(&h, true)),
		  verify_dane_outcome_str(VERIFY_DANE_UNUSABLE_ONLY),
		  "host: PKIX usage only");
	/* A bogus answer fails the host even with an endpoint that did
	 * everything; an insecure one (neither secure nor bogus) does not
	 * apply. */
	verify_dane_host_init(&h, true, false, true, NULL, 0);
	verify_dane_host_endpoint(&h, true, true);
	CHECK_STR(verify_dane_outcome_str(verify_dane_host_outcome(&h, true)),
		  verify_dane_outcome_str(VERIFY_DANE_TLSA_BOGUS),
		  "host: bogus TLSA");
	verify_dane_host_init(&h, true, false, false, &usable, 1);
	CHECK_STR(
	    verify_dane_outcome_str(verify_dane_host_endpoint(&h, true, true)),
	    verify_dane_outcome_str(VERIFY_DANE_NOT_APPLICABLE),
	    "endpoint: insecure TLSA");
	/* Not looked up (an insecure path to it): not applicable. */
	verify_dane_host_init(&h, false, true, false, &usable, 1);
	CHECK_STR(verify_dane_outcome_str(verify_dane_host_outcome(&h, true)),
		  verify_dane_outcome_str(VERIFY_DANE_NOT_APPLICABLE),
		  "host: not looked up");
}

UNIT_TEST(verify_dane_reference_names)
{
	const char *refs[2];

	CHECK(verify_dane_refs("_25._tcp.mx.example", "mx.example", refs) == 1);
	CHECK_STR(refs[0], "mx.example", "base");
	CHECK(verify_dane_refs("_25._tcp.mx.provider.example", "mx.example",
			       refs) == 2);
	CHECK_STR(refs[0], "mx.provider.example", "base first");
	CHECK_STR(refs[1], "mx.example", "host second");
}

/* ---- stable names ------------------------------------------------------ */

struct errname_case {
	int code;
	const char *name;
};

static const struct errname_case errname_cases[] = {
	{ X509_V_ERR_CERT_HAS_EXPIRED, "expired" },
	{ X509_V_ERR_CERT_NOT_YET_VALID, "not_yet_valid" },
	{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "self_signed" },
	{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "self_signed_in_chain" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "unknown_issuer" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "unknown_issuer" },
	{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "unknown_issuer" },
	{ X509_V_ERR_CERT_SIGNATURE_FAILURE, "bad_signature" },
	{ X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, "bad_signature" },
	{ X509_V_ERR_INVALID_PURPOSE, "invalid_purpose" },
	{ X509_V_ERR_HOSTNAME_MISMATCH, "hostname_mismatch" },
	{ X509_V_ERR_DANE_NO_MATCH, "dane_no_match" },
	{ X509_V_ERR_EC_KEY_EXPLICIT_PARAMS, "ec_key_explicit_params" },
	{ -1, "other_error" },
	{ 100000, "other_error" },
};

UNIT_TEST(verify_names)
{
	for (size_t i = 0; i < ARRAY_LEN(errname_cases); i++)
		CHECK_STR(verify_x509_error_name(errname_cases[i].code),
			  errname_cases[i].name, "x509 error name");
	/* Every code up to the last one OpenSSL 3.0 defines has its own
	 * snake_case name. */
	for (int code = 0; code <= X509_V_ERR_EC_KEY_EXPLICIT_PARAMS; code++) {
		const char *n = verify_x509_error_name(code);
		char ctx[32];

		snprintf(ctx, sizeof(ctx), "code %d", code);
		CHECK(strcmp(n, "other_error") != 0);
		for (const char *p = n; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '_'))
				unit_fail(__FILE__, __LINE__, "%s: %s", ctx, n);
	}
	CHECK_STR(verify_weak_str(VERIFY_WEAK_RSA_LT_2048), "rsa_lt_2048",
		  "weak");
	CHECK_STR(verify_weak_str(VERIFY_WEAK_SHA1), "sha1", "weak");
	CHECK_STR(verify_weak_str(VERIFY_WEAK_MD5), "md5", "weak");
	CHECK_STR(verify_weak_str(3), NULL, "weak: two bits");
	CHECK_STR(verify_rc_str(VERIFY_BAD_LEAF), "bad_leaf", "rc");
	CHECK_STR(verify_rc_str(VERIFY_RC_LAST), "unknown", "rc");
	CHECK_STR(verify_dane_outcome_str(VERIFY_DANE_NOT_APPLICABLE),
		  "dane_not_applicable", "dane");
}

/* ---- certificates made here -------------------------------------------- */

struct made {
	uint8_t *der;
	size_t len;
};

static EVP_PKEY *ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	if (k == NULL) {
		fprintf(stderr, "cannot make an EC key\n");
		abort();
	}
	return k;
}

/*
 * A certificate for `key` with subject CN `cn` (NULL: none) and DNS SANs
 * `sans` (NULL-terminated; NULL: no SAN extension), valid from now-1d to
 * now+1d, signed by issuer_key with md (issuer NULL: self-signed). A CN
 * ending in " CA" makes a CA certificate (basicConstraints CA:TRUE).
 */
static struct made make_cert(EVP_PKEY *key, const char *cn,
			     const char *const *sans, X509 *issuer,
			     EVP_PKEY *issuer_key, const EVP_MD *md)
{
	size_t cnlen = cn ? strlen(cn) : 0;
	bool is_ca = cnlen > 3 && strcmp(cn + cnlen - 3, " CA") == 0;
	X509 *x = X509_new();
	X509_NAME *subj = X509_NAME_new();
	struct made m = { NULL, 0 };
	unsigned char *p;
	int len;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_gmtime_adj(X509_getm_notBefore(x), -DAY);
	X509_gmtime_adj(X509_getm_notAfter(x), DAY);
	X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC,
				   (const unsigned char *)"unit", -1, -1, 0);
	if (cn)
		X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					   (const unsigned char *)cn, -1, -1,
					   0);
	X509_set_subject_name(x, subj);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subj);
	X509_set_pubkey(x, key);
	if (sans) {
		GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
		for (size_t i = 0; sans[i]; i++) {
			GENERAL_NAME *g = GENERAL_NAME_new();
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();
			ASN1_STRING_set(s, sans[i], -1);
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
			sk_GENERAL_NAME_push(gens, g);
		}
		X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
				  X509V3_ADD_DEFAULT);
		GENERAL_NAMES_free(gens);
	}
	if (is_ca) {
		BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
		bc->ca = 1;
		X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1,
				  X509V3_ADD_DEFAULT);
		BASIC_CONSTRAINTS_free(bc);
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, md)) {
		fprintf(stderr, "cannot sign\n");
		abort();
	}
	len = i2d_X509(x, NULL);
	m.der = malloc((size_t)len);
	p = m.der;
	i2d_X509(x, &p);
	m.len = (size_t)len;
	X509_NAME_free(subj);
	X509_free(x);
	return m;
}

static struct verify_ctx *system_ctx(void)
{
	const char *err = NULL;
	struct verify_ctx *ctx = verify_ctx_new(NULL, NULL, &err);
	if (ctx == NULL) {
		fprintf(stderr, "verify_ctx_new: %s\n", err);
		abort();
	}
	return ctx;
}

struct name_case {
	const char *cn;
	const char *sans[3]; /* sans[0] == NULL: no SAN extension */
	const char *host;
	bool match;
	bool cn_only;
};

static const struct name_case name_cases[] = {
	{ NULL, { "mx.example.test" }, "mx.example.test", true, false },
	{ NULL, { "mx.example.test" }, "MX.Example.TEST", true, false },
	{ NULL, { "mx.example.test" }, "mx.example.test.", true, false },
	{ NULL, { "MX.EXAMPLE.TEST" }, "mx.example.test", true, false },
	{ NULL, { "mx.example.test" }, "other.example.test", false, false },
	{ NULL, { "mx.example.test" }, "example.test", false, false },
	/* RFC 9525 §6.3: a wildcard is the whole left-most label and
	 * stands for exactly one label. */
	{ NULL, { "*.example.test" }, "mx.example.test", true, false },
	{ NULL, { "*.example.test" }, "a.b.example.test", false, false },
	{ NULL, { "*.example.test" }, "example.test", false, false },
	{ NULL, { "m*.example.test" }, "mx.example.test", false, false },
	{ NULL, { "*x.example.test" }, "mx.example.test", false, false },
	{ NULL, { "mx.*.test" }, "mx.example.test", false, false },
	{ NULL, { "*.test" }, "example.test", false, false },
	/* IDNs compare as A-labels, byte for byte. */
	{ NULL,
	  { "xn--mnchen-3ya.example.test" },
	  "xn--mnchen-3ya.example.test",
	  true,
	  false },
	{ NULL,
	  { "*.example.test" },
	  "xn--mnchen-3ya.example.test",
	  true,
	  false },
	{ NULL,
	  { "xn--mnchen-3ya.example.test" },
	  "m\xc3\xbcnchen.example.test",
	  false,
	  false },
	/* The CN is never used (RFC 9525 §6.3), not even without a DNS
	 * SAN, as RFC 6125 §6.4.4 allowed: such a leaf names no host. */
	{ "mx.example.test", { NULL }, "mx.example.test", false, true },
	{ "MX.example.test", { NULL }, "mx.example.test", false, true },
	{ "*.example.test", { NULL }, "mx.example.test", false, true },
	{ "mx.example.test", { NULL }, "other.example.test", false, true },
	{ "mx.example.test",
	  { "other.example.test" },
	  "mx.example.test",
	  false,
	  false },
	{ NULL, { NULL }, "mx.example.test", false, true },
	/* Second SAN entry. */
	{ NULL,
	  { "a.example.test", "mx.example.test" },
	  "mx.example.test",
	  true,
	  false },
	/* Unusable reference names never match. */
	{ NULL, { "mx.example.test" }, "", false, false },
	{ NULL, { "mx.example.test" }, ".", false, false },
	{ NULL, { "mx.example.test" }, "mx example.test", false, false },
	{ NULL, { "mx.example.test" }, NULL, false, false },
};

UNIT_TEST(verify_names_table)
{
	struct verify_ctx *ctx = system_ctx();
	struct verify_leaf_cache *cache = verify_leaf_cache_new(2);
	EVP_PKEY *key = ec_key();
	time_t now = time(NULL);

	for (size_t i = 0; i < ARRAY_LEN(name_cases); i++) {
		const struct name_case *c = &name_cases[i];
		struct made m =
		    make_cert(key, c->cn, c->sans[0] ? c->sans : NULL, NULL,
			      NULL, EVP_sha256());
		struct verify_der d = { m.der, m.len };
		struct verify_result r;
		char ctx_s[160];

		snprintf(ctx_s, sizeof(ctx_s), "row %zu: %s vs %s", i,
			 c->sans[0] ? c->sans[0] : (c->cn ? c->cn : "-"),
			 c->host ? c->host : "(null)");
		CHECK_INT(verify_chain(ctx, &d, 1, now, c->host, c->host, &r),
			  VERIFY_OK, ctx_s);
		CHECK_INT(r.name_matches_mx, c->match, ctx_s);
		CHECK_INT(r.name_matches_domain, c->match, ctx_s);
		CHECK_INT(r.cn_only, c->cn_only, ctx_s);
		/* The cached check gives the same answer, decoded or kept (a
		 * cache of two slots: rows evict each other). */
		CHECK_INT(verify_leaf_names(cache, c, m.der, m.len, c->host),
			  c->match, ctx_s);
		CHECK_INT(verify_leaf_names(cache, c, m.der, m.len, c->host),
			  c->match, ctx_s);
		free(m.der);
	}
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	CHECK_INT(verify_leaf_names(cache, junk, junk, sizeof junk,
				    "mx.example.test"),
		  -EBADMSG, "undecodable leaf");
	verify_leaf_cache_free(cache);
	EVP_PKEY_free(key);
	verify_ctx_free(ctx);
}

UNIT_TEST(verify_bounds)
{
	struct verify_ctx *ctx = system_ctx();
	EVP_PKEY *key = ec_key();
	time_t now = time(NULL);
	static const char *const sans[] = { "mx.example.test", NULL };
	struct made m = make_cert(key, NULL, sans, NULL, NULL, EVP_sha256());
	struct verify_result r;
	struct verify_der d[VERIFY_MAX_CHAIN + 8];
	uint8_t *big, *trailing;
	static const uint8_t garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

	CHECK_INT(verify_chain(ctx, NULL, 0, now, "x", NULL, &r),
		  VERIFY_NO_CHAIN, "empty chain");
	CHECK_INT(r.chain_len, 0, "empty chain");

	d[0] = (struct verify_der){ garbage, sizeof(garbage) };
	CHECK_INT(verify_chain(ctx, d, 1, now, "x", NULL, &r), VERIFY_BAD_LEAF,
		  "garbage leaf");
	d[0] = (struct verify_der){ NULL, 0 };
	CHECK_INT(verify_chain(ctx, d, 1, now, "x", NULL, &r), VERIFY_BAD_LEAF,
		  "empty leaf");

	/* TLS carries exact certificates: trailing bytes make it no leaf. */
	trailing = malloc(m.len + 1);
	memcpy(trailing, m.der, m.len);
	trailing[m.len] = 0;
	d[0] = (struct verify_der){ trailing, m.len + 1 };
	CHECK_INT(verify_chain(ctx, d, 1, now, "x", NULL, &r), VERIFY_BAD_LEAF,
		  "trailing byte");

	big = calloc(1, VERIFY_MAX_CERT_DER + 1);
	memcpy(big, m.der, m.len);
	d[0] = (struct verify_der){ big, VERIFY_MAX_CERT_DER + 1 };
	CHECK_INT(verify_chain(ctx, d, 1, now, "x", NULL, &r),
		  VERIFY_LEAF_TOO_LARGE, "oversized leaf");

	/* A good leaf, then garbage and oversized extras: they are skipped,
	 * and only VERIFY_MAX_CHAIN certificates are looked at. */
	d[0] = (struct verify_der){ m.der, m.len };
	for (size_t i = 1; i < ARRAY_LEN(d); i++)
		d[i] = (i % 2) ? (struct verify_der){ garbage, sizeof(garbage) }
			       : (struct verify_der){ big,
						      VERIFY_MAX_CERT_DER + 1 };
	CHECK_INT(verify_chain(ctx, d, ARRAY_LEN(d), now, "mx.example.test",
			       NULL, &r),
		  VERIFY_OK, "long chain");
	CHECK_INT(r.chain_len, ARRAY_LEN(d), "long chain");
	CHECK_INT(r.chain_used, 1, "long chain");
	CHECK_INT(r.skipped, VERIFY_MAX_CHAIN - 1, "long chain");
	CHECK(r.chain_truncated);
	CHECK(r.out_of_order); /* garbage follows the leaf */
	CHECK_INT(r.leaf_san_count, 1, "long chain");
	CHECK(r.name_matches_mx);
	CHECK_STR(r.nerrors ? r.errors[0].name : NULL, "self_signed",
		  "long chain");

	free(big);
	free(trailing);
	free(m.der);
	EVP_PKEY_free(key);
	verify_ctx_free(ctx);
}

/* ---- chains under a root of our own ----------------------------------- */

/* A root CA trusted by a context of its own (a PEM file in /tmp that this
 * test creates and removes). */
struct unit_pki {
	EVP_PKEY *root_key;
	X509 *root;
	struct verify_ctx *ctx;
};

static X509 *made_x509(const struct made *m)
{
	const unsigned char *p = m->der;
	return d2i_X509(NULL, &p, (long)m->len);
}

static void unit_pki_init(struct unit_pki *k)
{
	char path[] = "/tmp/mxcrawl-unit-root-XXXXXX";
	const char *err = NULL;
	struct made m;
	int fd;
	FILE *f;

	k->root_key = ec_key();
	m = make_cert(k->root_key, "Unit Root CA", NULL, NULL, NULL,
		      EVP_sha256());
	k->root = made_x509(&m);
	free(m.der);
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL || k->root == NULL || !PEM_write_X509(f, k->root)) {
		fprintf(stderr, "cannot write the unit root\n");
		abort();
	}
	fclose(f);
	k->ctx = verify_ctx_new(path, NULL, &err);
	unlink(path);
	if (k->ctx == NULL) {
		fprintf(stderr, "verify_ctx_new: %s\n", err);
		abort();
	}
}

static void unit_pki_free(struct unit_pki *k)
{
	verify_ctx_free(k->ctx);
	X509_free(k->root);
	EVP_PKEY_free(k->root_key);
}

/* Presented chains of a leaf and ncas issuing CAs (CA 1 under the root,
 * CA i+1 under CA i, the leaf under the last): 100 certificates in all is
 * OpenSSL's default depth (100 CAs may sit under the leaf) and must be
 * judged whole; today's 32-certificate cap called it unknown_issuer. */
#define UNIT_DEEP_CAS 99

UNIT_TEST(verify_long_chain)
{
	struct unit_pki k;
	static const char *const sans[] = { "mx.example.test", NULL };
	struct made m[UNIT_DEEP_CAS + 1];
	struct verify_der d[UNIT_DEEP_CAS + 1], rev[UNIT_DEEP_CAS + 1];
	EVP_PKEY *keys[UNIT_DEEP_CAS + 1];
	X509 *issuer;
	EVP_PKEY *issuer_key;
	struct verify_result r;
	time_t now = time(NULL);

	unit_pki_init(&k);
	issuer = k.root;
	X509_up_ref(issuer);
	issuer_key = k.root_key;
	/* d[0] is the leaf, d[i] CA number UNIT_DEEP_CAS + 1 - i. */
	for (int i = UNIT_DEEP_CAS; i >= 0; i--) {
		char cn[32];
		keys[i] = ec_key();
		snprintf(cn, sizeof cn, "Level %d CA", UNIT_DEEP_CAS + 1 - i);
		m[i] = make_cert(keys[i], i ? cn : NULL, i ? NULL : sans,
				 issuer, issuer_key, EVP_sha256());
		d[i] = (struct verify_der){ m[i].der, m[i].len };
		X509_free(issuer);
		issuer = made_x509(&m[i]);
		issuer_key = keys[i];
	}
	X509_free(issuer);

	CHECK_INT(verify_chain(k.ctx, d, UNIT_DEEP_CAS + 1, now,
			       "mx.example.test", NULL, &r),
		  VERIFY_OK, "100 certificates");
	CHECK_STR(r.nerrors ? r.errors[0].name : NULL, NULL,
		  "100 certificates");
	CHECK(r.trusted);
	CHECK(r.valid_ignoring_strength);
	CHECK_INT(r.chain_len, UNIT_DEEP_CAS + 1, "100 certificates");
	CHECK_INT(r.chain_used, UNIT_DEEP_CAS + 1, "100 certificates");
	CHECK(!r.chain_truncated);
	CHECK_INT(r.path_len, UNIT_DEEP_CAS + 2, "100 certificates");
	CHECK(!r.out_of_order);
	CHECK(r.name_matches_mx);

	/* The same certificates, the CAs in reverse: each is followed by
	 * the one it issued. OpenSSL finds the path all the same. */
	rev[0] = d[0];
	for (int i = 1; i <= UNIT_DEEP_CAS; i++)
		rev[i] = d[UNIT_DEEP_CAS + 1 - i];
	CHECK_INT(verify_chain(k.ctx, rev, UNIT_DEEP_CAS + 1, now,
			       "mx.example.test", NULL, &r),
		  VERIFY_OK, "reversed");
	CHECK(r.trusted);
	CHECK(r.out_of_order);

	/* A short chain in order: the last two CAs, under the root. */
	CHECK_INT(
	    verify_chain(k.ctx, &d[UNIT_DEEP_CAS - 1], 2, now, NULL, NULL, &r),
	    VERIFY_OK, "two CAs");
	CHECK(r.trusted);
	CHECK(!r.out_of_order);
	CHECK_INT(r.leaf_san_count, 0, "two CAs");

	for (int i = 0; i <= UNIT_DEEP_CAS; i++) {
		free(m[i].der);
		EVP_PKEY_free(keys[i]);
	}
	unit_pki_free(&k);
}

/* What a strict modern sender accepts (security level 2, Debian's
 * default) against what a lax one does (level 0): leaves under a trusted
 * root that differ only in key or digest. Before, "trusted" was the lax
 * sender's verdict: RSA-1024 and SHA-1 leaves counted as trusted. */
struct strength_case {
	const char *what;
	const char *key; /* "rsa1024", "rsa2048", "p192", "p256" */
	const char *md;	 /* "sha1", "sha256" */
	bool trusted;
	unsigned weak;
};

static const struct strength_case strength_cases[] = {
	{ "EC P-256, SHA-256", "p256", "sha256", true, 0 },
	{ "RSA-2048, SHA-256", "rsa2048", "sha256", true, 0 },
	{ "RSA-1024 leaf", "rsa1024", "sha256", false,
	  VERIFY_WEAK_RSA_LT_2048 },
	{ "SHA-1 signed leaf", "p256", "sha1", false, VERIFY_WEAK_SHA1 },
	{ "EC P-192 leaf", "p192", "sha256", false, VERIFY_WEAK_EC_LT_224 },
};

static EVP_PKEY *strength_key(const char *kind)
{
	if (strcmp(kind, "rsa1024") == 0)
		return EVP_RSA_gen(1024);
	if (strcmp(kind, "rsa2048") == 0)
		return EVP_RSA_gen(2048);
	if (strcmp(kind, "p192") == 0)
		return EVP_EC_gen("P-192");
	return ec_key();
}

UNIT_TEST(verify_strict_strength)
{
	struct unit_pki k;
	static const char *const sans[] = { "mx.example.test", NULL };
	time_t now = time(NULL);

	unit_pki_init(&k);
	for (size_t i = 0; i < ARRAY_LEN(strength_cases); i++) {
		const struct strength_case *c = &strength_cases[i];
		EVP_PKEY *key = strength_key(c->key);
		const EVP_MD *md =
		    strcmp(c->md, "sha1") == 0 ? EVP_sha1() : EVP_sha256();
		struct verify_result r;
		struct made m;
		struct verify_der d;

		CHECK(key != NULL);
		if (key == NULL)
			continue;
		m = make_cert(key, NULL, sans, k.root, k.root_key, md);
		d = (struct verify_der){ m.der, m.len };
		CHECK_INT(verify_chain(k.ctx, &d, 1, now, "mx.example.test",
				       NULL, &r),
			  VERIFY_OK, c->what);
		CHECK_INT(r.trusted, c->trusted, c->what);
		CHECK_INT(r.valid_ignoring_strength, true, c->what);
		CHECK_INT(r.nerrors, 0, c->what);
		CHECK_INT(r.weak, c->weak, c->what);
		CHECK_INT(r.name_matches_mx, true, c->what);
		free(m.der);
		EVP_PKEY_free(key);
	}
	unit_pki_free(&k);
}

/* Weak keys and digests; the issuer and the judgement's time. */
UNIT_TEST(verify_weak_and_time)
{
	struct verify_ctx *ctx = system_ctx();
	EVP_PKEY *ca_key = ec_key(), *key = ec_key();
	EVP_PKEY *rsa = EVP_RSA_gen(1024);
	static const char *const sans[] = { "mx.example.test", NULL };
	time_t now = time(NULL);
	struct verify_result r;
	struct verify_der d;
	struct made ca, m;
	X509 *ca_x;
	const unsigned char *p;

	CHECK(rsa != NULL);
	ca = make_cert(ca_key, "Unit CA", NULL, NULL, NULL, EVP_sha256());
	p = ca.der;
	ca_x = d2i_X509(NULL, &p, (long)ca.len);

	/* SHA-1 by a CA that was not sent: weak, and the issuer missing. */
	m = make_cert(key, NULL, sans, ca_x, ca_key, EVP_sha1());
	d = (struct verify_der){ m.der, m.len };
	CHECK_INT(verify_chain(ctx, &d, 1, now, "mx.example.test", NULL, &r),
		  VERIFY_OK, "sha1 leaf");
	CHECK_INT(r.weak, VERIFY_WEAK_SHA1, "sha1 leaf");
	CHECK(!r.trusted);
	CHECK(r.missing_intermediate);
	CHECK_STR(r.nerrors ? r.errors[0].name : NULL, "unknown_issuer",
		  "sha1 leaf");
	free(m.der);

	/* A self-signature is relied on by nobody: SHA-1 there is no
	 * weakness; a self-signed leaf is no missing intermediate. */
	m = make_cert(key, NULL, sans, NULL, NULL, EVP_sha1());
	d = (struct verify_der){ m.der, m.len };
	CHECK_INT(verify_chain(ctx, &d, 1, now, "mx.example.test", NULL, &r),
		  VERIFY_OK, "sha1 self-signed");
	CHECK_INT(r.weak, 0, "sha1 self-signed");
	CHECK(!r.missing_intermediate);
	free(m.der);

	/* RSA-1024 at security level 0: judged, flagged weak. */
	m = make_cert(rsa, NULL, sans, NULL, NULL, EVP_sha256());
	d = (struct verify_der){ m.der, m.len };
	CHECK_INT(verify_chain(ctx, &d, 1, now, "mx.example.test", NULL, &r),
		  VERIFY_OK, "rsa1024");
	CHECK_INT(r.weak, VERIFY_WEAK_RSA_LT_2048, "rsa1024");
	CHECK_INT(r.nerrors, 1, "rsa1024: self_signed only");

	/* The same chain judged at other times (valid now-1d .. now+1d). */
	CHECK_INT(verify_chain(ctx, &d, 1, now + 2 * DAY, "mx.example.test",
			       NULL, &r),
		  VERIFY_OK, "later");
	CHECK_INT(r.nerrors, 2, "later");
	CHECK_STR(r.nerrors > 1 ? r.errors[1].name : NULL, "expired", "later");
	CHECK_INT(verify_chain(ctx, &d, 1, now - 2 * DAY, "mx.example.test",
			       NULL, &r),
		  VERIFY_OK, "earlier");
	CHECK_STR(r.nerrors > 1 ? r.errors[1].name : NULL, "not_yet_valid",
		  "earlier");
	free(m.der);

	X509_free(ca_x);
	free(ca.der);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	verify_ctx_free(ctx);
}

/* DANE on a self-signed leaf: DANE-EE by SPKI digest and by the full
 * certificate, a wrong digest, Full data OpenSSL cannot parse, and the
 * reference names requirement. */
UNIT_TEST(verify_dane_in_memory)
{
	struct verify_ctx *ctx = system_ctx();
	EVP_PKEY *key = ec_key();
	static const char *const sans[] = { "other.example", NULL };
	static const char *const names[] = { "mx.example.test" };
	static const char *const bad_names[] = { "", "a b" };
	struct made m = make_cert(key, NULL, sans, NULL, NULL, EVP_sha256());
	struct verify_der d = { m.der, m.len };
	struct verify_dane_result r;
	unsigned char spki_hash[32], wrong[32];
	unsigned int hlen = 0;
	const unsigned char *p = m.der;
	X509 *x = d2i_X509(NULL, &p, (long)m.len);
	time_t now = time(NULL);

	/* Selector 1 is the DER SubjectPublicKeyInfo (RFC 6698 §2.1.2). */
	unsigned char *spki = NULL;
	int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	CHECK(spki_len > 0);
	EVP_Digest(spki, (size_t)spki_len, spki_hash, &hlen, EVP_sha256(),
		   NULL);
	OPENSSL_free(spki);
	CHECK_INT(hlen, 32, "digest");
	memcpy(wrong, spki_hash, sizeof(wrong));
	wrong[0] ^= 0xff;

	struct verify_tlsa ee311 = { 3, 1, 1, spki_hash, 32 };
	struct verify_tlsa ee300 = { 3, 0, 0, m.der, m.len };
	struct verify_tlsa bad311 = { 3, 1, 1, wrong, 32 };
	struct verify_tlsa junk300 = { 3, 0, 0, zeros, 16 };
	struct verify_tlsa pkix = { 1, 1, 1, spki_hash, 32 };

	/* Names and dates are ignored for DANE-EE (a year later). */
	CHECK_INT(
	    verify_dane(ctx, &d, 1, now + 365 * DAY, names, 1, &ee311, 1, &r),
	    VERIFY_OK, "3 1 1");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_ok", "3 1 1");
	CHECK_INT(r.match_index, 0, "3 1 1");
	CHECK_INT(r.match_depth, 0, "3 1 1");

	struct verify_tlsa two[] = { bad311, ee300 };
	CHECK_INT(verify_dane(ctx, &d, 1, now, names, 1, two, 2, &r), VERIFY_OK,
		  "wrong + 3 0 0");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_ok",
		  "wrong + 3 0 0");
	CHECK_INT(r.match_index, 1, "wrong + 3 0 0");

	CHECK_INT(verify_dane(ctx, &d, 1, now, names, 1, &bad311, 1, &r),
		  VERIFY_OK, "wrong");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_no_match", "wrong");
	CHECK_STR(r.error.name, "dane_no_match", "wrong");

	struct verify_tlsa unusable[] = { junk300, pkix };
	CHECK_INT(verify_dane(ctx, &d, 1, now, names, 1, unusable, 2, &r),
		  VERIFY_OK, "unusable");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_unusable_only",
		  "unusable");
	CHECK_INT(r.nusable, 0, "unusable");
	CHECK_STR(verify_tlsa_use_str(r.use[0]), "bad_data", "unusable");
	CHECK_STR(verify_tlsa_use_str(r.use[1]), "pkix_usage", "unusable");

	CHECK_INT(verify_dane(ctx, &d, 1, now, names, 1, NULL, 0, &r),
		  VERIFY_OK, "no records");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_none",
		  "no records");

	/* A usable record with no usable reference name: refused, never
	 * judged with no name at all. */
	CHECK_INT(verify_dane(ctx, &d, 1, now, bad_names, 2, &ee311, 1, &r),
		  VERIFY_BAD_NAME, "bad names");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_no_match",
		  "bad names");

	/* No chain: usable records authenticate nothing. */
	CHECK_INT(verify_dane(ctx, NULL, 0, now, names, 1, &ee311, 1, &r),
		  VERIFY_NO_CHAIN, "no chain");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_no_match",
		  "no chain");

	X509_free(x);
	free(m.der);
	EVP_PKEY_free(key);
	verify_ctx_free(ctx);
}

/* DANE-TA: the issuing CA pinned by 2 1 1; the leaf's names are checked
 * against every reference name (MX host and its CNAME expansion), and
 * its dates at the judgement's time. */
UNIT_TEST(verify_dane_ta_in_memory)
{
	struct verify_ctx *ctx = system_ctx();
	EVP_PKEY *ca_key = ec_key(), *key = ec_key();
	static const char *const sans[] = { "real.example.test", NULL };
	static const char *const mx_only[] = { "mx.example.test" };
	static const char *const expanded[] = { "real.example.test",
						"mx.example.test" };
	struct made ca =
	    make_cert(ca_key, "Unit TA CA", NULL, NULL, NULL, EVP_sha256());
	const unsigned char *p = ca.der;
	X509 *ca_x = d2i_X509(NULL, &p, (long)ca.len);
	struct made m = make_cert(key, NULL, sans, ca_x, ca_key, EVP_sha256());
	struct verify_der chain[] = { { m.der, m.len }, { ca.der, ca.len } };
	unsigned char *spki = NULL, hash[32];
	unsigned int hlen = 0;
	int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ca_x), &spki);
	struct verify_dane_result r;
	time_t now = time(NULL);

	CHECK(spki_len > 0);
	EVP_Digest(spki, (size_t)spki_len, hash, &hlen, EVP_sha256(), NULL);
	OPENSSL_free(spki);
	struct verify_tlsa ta211 = { 2, 1, 1, hash, 32 };

	CHECK_INT(verify_dane(ctx, chain, 2, now, expanded, 2, &ta211, 1, &r),
		  VERIFY_OK, "2 1 1, expanded name");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_ok",
		  "2 1 1, expanded name");
	CHECK_INT(r.match_depth, 1, "2 1 1, expanded name");

	CHECK_INT(verify_dane(ctx, chain, 2, now, mx_only, 1, &ta211, 1, &r),
		  VERIFY_OK, "2 1 1, MX name only");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_no_match",
		  "2 1 1, MX name only");
	CHECK_STR(r.error.name, "hostname_mismatch", "2 1 1, MX name only");

	CHECK_INT(verify_dane(ctx, chain, 2, now + 2 * DAY, expanded, 2, &ta211,
			      1, &r),
		  VERIFY_OK, "2 1 1, later");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_no_match",
		  "2 1 1, later");
	CHECK_STR(r.error.name, "expired", "2 1 1, later");

	/* The TA not sent: 2 1 1 has nothing in the chain to match. */
	CHECK_INT(verify_dane(ctx, chain, 1, now, expanded, 2, &ta211, 1, &r),
		  VERIFY_OK, "2 1 1, TA not sent");
	CHECK_STR(verify_dane_outcome_str(r.outcome), "dane_no_match",
		  "2 1 1, TA not sent");

	X509_free(ca_x);
	free(ca.der);
	free(m.der);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	verify_ctx_free(ctx);
}
