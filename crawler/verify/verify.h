/*
 * The certificate judgement: a server's chain, as the DER certificates it
 * presented (leaf first), judged as independent facts (RFC 5280, RFC 9525,
 * RFC 7672):
 *
 *   - trusted: what a strict modern sender accepts: the chain verifies
 *     against the trust store at a given time, and at OpenSSL's default
 *     security level on Debian (2) with no weak key or signature;
 *   - valid_ignoring_strength: the same, whatever the key sizes and
 *     digests (what a lax sender, at security level 0, accepts); if not,
 *     every error seen (the first one first), under stable names;
 *   - missing_intermediate: the leaf's issuer is nowhere to be found;
 *   - names: the leaf's DNS SANs against the MX host and, separately, the
 *     domain; the subject CN is never used (RFC 9525 §6.3);
 *   - cn_only: the leaf has no DNS SAN (so it names no host at all);
 *   - the presented chain's shape: length, order, the leaf's SAN count;
 *   - weak: small RSA/DSA keys, SHA-1/MD5 signatures in the chain;
 *   - DANE (RFC 7672) from the chain and the TLSA records.
 *
 * The input is a stored chain, never a live connection, so that a chain
 * recorded during a scan can be judged again later against another trust
 * store or at another time (`mxcrawl reverify`).
 *
 * Threads: one verify_ctx is created before the workers start and then
 * shared; verify_chain() and verify_dane() may run on it from any number
 * of threads at once. Each call leaves the calling thread's OpenSSL error
 * queue empty.
 *
 * Certificates are decoded once per process: through the certificate
 * cache (certcache.h), which the TLS client fills with libssl's own
 * parse. A context remembers the PKIX judgement of each chain it has
 * judged (keyed by the SHA-256 of the certificates presented) for as long
 * as the judgement's time stays between the same validity boundaries of
 * those certificates and of the path built, so the same chain presented
 * by many endpoints is verified once, with the facts it would get each
 * time.
 */
#ifndef MXCRAWL_CRAWLER_VERIFY_H
#define MXCRAWL_CRAWLER_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Certificates used from a presented chain; the rest are ignored and the
 * result says so (chain_truncated). A real path is rarely over 5 long, but
 * a chain as sent is judged whole up to OpenSSL's own default depth (100
 * CAs under the leaf) and a little beyond; memory stays bounded by this
 * and VERIFY_MAX_CERT_DER (the TLS client bounds the bytes, conn.h). */
#define VERIFY_MAX_CHAIN 128
/* A presented chain longer than this is "long" (a fact worth counting:
 * real servers that send over 10 certificates are misconfigured). */
#define VERIFY_LONG_CHAIN 10
/* Bytes of one certificate. Larger ones are not decoded (a 64 KiB
 * certificate is a test case; TLS itself allows 16 MiB). */
#define VERIFY_MAX_CERT_DER (128 * 1024)
/* Distinct error names kept per judgement. */
#define VERIFY_MAX_ERRORS 16
/* TLSA records judged from one RRset; the rest are ignored. */
#define VERIFY_MAX_TLSA 32
/* Reference names for DANE name checks. */
#define VERIFY_MAX_REF_NAMES 8
/* A host name without its trailing dot (RFC 1035 presentation form). */
#define VERIFY_MAX_NAME 253

/* How a call ended. Anything but VERIFY_OK means the facts are not known
 * (the result says only what is listed with each code). */
enum verify_rc {
	VERIFY_OK = 0,
	VERIFY_NO_CHAIN,       /* no certificate presented */
	VERIFY_BAD_LEAF,       /* the leaf is not one exact DER certificate */
	VERIFY_LEAF_TOO_LARGE, /* the leaf is over VERIFY_MAX_CERT_DER */
	VERIFY_BAD_NAME,       /* verify_dane(): no usable reference name */
	VERIFY_NO_MEMORY,      /* out of memory */
	VERIFY_INTERNAL,       /* OpenSSL failed for another reason */
	VERIFY_RC_LAST
};

/* One certificate as presented: DER bytes, not owned. */
struct verify_der {
	const uint8_t *data;
	size_t len;
};

/* Weak parameters, as bits of verify_result.weak. */
enum verify_weak {
	VERIFY_WEAK_RSA_LT_2048 = 1u << 0, /* RSA key under 2048 bits */
	VERIFY_WEAK_DSA_LT_2048 = 1u << 1, /* DSA key under 2048 bits */
	VERIFY_WEAK_SHA1 = 1u << 2,	   /* SHA-1 signature */
	VERIFY_WEAK_MD5 = 1u << 3,	   /* MD5 (or MD2/MD4) signature */
	VERIFY_WEAK_EC_LT_224 = 1u << 4,   /* EC key under 224 bits */
};
#define VERIFY_WEAK_BITS 5

/* An error seen while verifying: OpenSSL's code under a stable name. */
struct verify_error {
	const char *name; /* verify_x509_error_name(code), static */
	int code;	  /* X509_V_ERR_*, the first seen under this name */
	int depth;	  /* where it was first seen (0 = leaf) */
};

/* The facts verify_chain() finds. */
struct verify_result {
	/* What a strict modern sender accepts (OpenSSL's default security
	 * level on Debian, 2): valid_ignoring_strength, no weak bit, and a
	 * second verification at authentication level 2 passed. Names are
	 * not part of it (separate facts). */
	bool trusted;
	/* The chain verifies against the store at the given time, with no
	 * error of any kind, at security level 0: key sizes and digests
	 * ignored (what a lax sender accepts; the errors below are its). */
	bool valid_ignoring_strength;
	/* Every error, once per name, in the order OpenSSL met them; so
	 * errors[0] is the first error. errors_truncated: more distinct
	 * names than VERIFY_MAX_ERRORS. */
	struct verify_error errors[VERIFY_MAX_ERRORS];
	unsigned nerrors;
	bool errors_truncated;
	/* An unknown_issuer error for the leaf itself: the leaf is not
	 * self-issued and its issuer is neither in the presented chain nor
	 * in the store, as when a server forgets its intermediate. (A leaf
	 * issued directly by a root outside the store looks the same.) */
	bool missing_intermediate;
	/* The leaf names the MX host / the domain (RFC 9525 §6.3: DNS SANs
	 * only, never the subject CN; wildcard only as the whole left-most
	 * label; compared as A-labels, case insensitive, trailing dot
	 * ignored). False when no name was given. */
	bool name_matches_mx;
	bool name_matches_domain;
	/* The leaf has no DNS SAN: it names no host (RFC 9525 §6.3 never
	 * falls back to the CN, which RFC 6125 §6.4.4 allowed). */
	bool cn_only;
	unsigned leaf_san_count; /* dNSName entries in the leaf's SAN */
	/* Some presented certificate is not followed by its issuer (RFC 8446
	 * §4.4.2 asks each one to certify the one before it), judged by
	 * names and key identifiers over the certificates used; an
	 * undecodable one counts as out of place. */
	bool out_of_order;
	/* VERIFY_WEAK_* bits over the path OpenSSL built (trust anchor
	 * included): keys of every certificate, signatures except
	 * self-signatures, which nobody relies on. */
	unsigned weak;
	unsigned chain_len;   /* certificates presented */
	unsigned chain_used;  /* of them decoded and used (at most 128) */
	bool chain_truncated; /* more than VERIFY_MAX_CHAIN presented */
	unsigned skipped;  /* non-leaf certificates not decodable/too large */
	unsigned path_len; /* certificates in the built path, anchor incl. */
};

struct verify_ctx;

/*
 * Creates the shared context: a trust store from ca_file (PEM) and/or
 * ca_dir (OpenSSL hashed directory), or the system's default paths when
 * both are NULL. Returns NULL with a static reason in *err on failure.
 */
struct verify_ctx *verify_ctx_new(const char *ca_file, const char *ca_dir,
				  const char **err);
void verify_ctx_free(struct verify_ctx *ctx);

/*
 * Judges chain[0..n) (leaf first, as presented; not owned) at time `at`
 * against ctx's store, and names the leaf against mx_host and domain (each
 * may be NULL: no match). Only the first VERIFY_MAX_CHAIN certificates are
 * used. Verification runs at security level 0 with the TLS server
 * purpose, so old chains verify (valid_ignoring_strength) and are flagged
 * weak; `trusted` adds the strict sender's level 2.
 * Fills *out (zeroed first; chain_len is set whatever the rc).
 */
enum verify_rc verify_chain(const struct verify_ctx *ctx,
			    const struct verify_der *chain, size_t n, time_t at,
			    const char *mx_host, const char *domain,
			    struct verify_result *out);

/* Judgements made (misses) and answered from the context's memo (hits)
 * by verify_chain(). */
void verify_chain_stats(const struct verify_ctx *ctx, uint64_t *hits,
			uint64_t *misses);

/* ---- DANE (RFC 7672, RFC 6698, RFC 7671) ---------------------------- */

/* One TLSA record's fields; data is not owned. */
struct verify_tlsa {
	uint8_t usage;
	uint8_t selector;
	uint8_t mtype;
	const uint8_t *data;
	size_t len;
};

/* Whether a TLSA record can be used for SMTP, or why not. */
enum verify_tlsa_use {
	VERIFY_TLSA_USABLE = 0,
	/* 0 PKIX-TA / 1 PKIX-EE: not for SMTP (RFC 7672 §3.1.3). */
	VERIFY_TLSA_PKIX_USAGE,
	/* Values outside the registry's assigned ones. */
	VERIFY_TLSA_UNKNOWN_USAGE,    /* not 0..3 */
	VERIFY_TLSA_UNKNOWN_SELECTOR, /* not 0 (Cert) or 1 (SPKI) */
	VERIFY_TLSA_UNKNOWN_MTYPE,    /* not 0 (Full), 1, 2 (SHA2-256/512) */
	/* Not 32 / 64 bytes for matching type 1 / 2, or empty. */
	VERIFY_TLSA_BAD_LENGTH,
	/* Refused by OpenSSL: a Full (mtype 0) value that is no
	 * certificate or SubjectPublicKeyInfo. */
	VERIFY_TLSA_BAD_DATA,
	VERIFY_TLSA_USE_LAST
};

/* Pure: the usability of one record by its fields alone (never
 * VERIFY_TLSA_BAD_DATA, which only OpenSSL's parse can tell). */
enum verify_tlsa_use verify_tlsa_usable(const struct verify_tlsa *r);

/*
 * Which DANE protocol judges: SMTP to MX hosts (RFC 7672: only DANE-TA
 * and DANE-EE are usable) or a service found by SRV (RFC 7673, the mail
 * client ports of M12: PKIX-TA (0) and PKIX-EE (1) are usable too, and
 * need the PKIX chain valid against the trust store and the leaf naming
 * the SRV target, as for any PKIX client; DANE-EE still ignores names
 * and dates, DANE-TA checks the name against the SRV target).
 */
enum verify_dane_profile {
	VERIFY_DANE_SMTP = 0, /* RFC 7672 */
	VERIFY_DANE_SRV,      /* RFC 7673 */
};

/* verify_tlsa_usable() for a profile: the same, except that usages 0 and
 * 1 are usable under VERIFY_DANE_SRV. */
enum verify_tlsa_use verify_tlsa_usable_for(const struct verify_tlsa *r,
					    enum verify_dane_profile profile);

/* The per-MX-host DANE outcomes (RFC 7672), as stored. */
enum verify_dane_outcome {
	VERIFY_DANE_OK = 0,	   /* a usable record authenticated the chain */
	VERIFY_DANE_NO_MATCH,	   /* usable records, none authenticated it */
	VERIFY_DANE_TLSA_BOGUS,	   /* TLSA RRset failed DNSSEC validation */
	VERIFY_DANE_NO_STARTTLS,   /* usable TLSA, STARTTLS missing/failed */
	VERIFY_DANE_UNUSABLE_ONLY, /* TLSA records, none usable */
	VERIFY_DANE_NOT_APPLICABLE, /* insecure MX or host (RFC 7672 §2.2) */
	VERIFY_DANE_NONE,	    /* secure denial: no TLSA records */
	VERIFY_DANE_OUTCOME_LAST
};

/*
 * The name check of many domains against one leaf (name matches the
 * domain: one check per domain and endpoint it uses) without decoding the
 * leaf each time: decoded leaves are kept in a small direct-mapped cache
 * keyed by an address the caller chooses (the endpoint's result). One
 * cache per thread; it holds at most n decoded leaves.
 */
struct verify_leaf_cache;
struct verify_leaf_cache *verify_leaf_cache_new(size_t n);
void verify_leaf_cache_free(struct verify_leaf_cache *c);
/* 1 when the leaf der[0..len) (the one cached under key, which must
 * always name the same bytes) names `name` by the rules of verify_chain(),
 * 0 when not, -EBADMSG when the bytes are not one DER certificate (or
 * over VERIFY_MAX_CERT_DER): the peer's bytes, not our failure, and
 * EBADMSG is the errno for a message that does not decode. */
int verify_leaf_names(struct verify_leaf_cache *c, const void *key,
		      const uint8_t *der, size_t len, const char *name);

/* What verify_dane() finds from one chain and the TLSA records. */
struct verify_dane_result {
	/* Only VERIFY_DANE_OK, _NO_MATCH, _UNUSABLE_ONLY or _NONE (no
	 * records given); the others need DNS and SMTP facts, see
	 * verify_dane_decide(). */
	enum verify_dane_outcome outcome;
	unsigned nrecords;	/* records judged (at most VERIFY_MAX_TLSA) */
	bool records_truncated; /* more than VERIFY_MAX_TLSA given */
	unsigned nusable;	/* of them usable (incl. OpenSSL's parse) */
	uint8_t use[VERIFY_MAX_TLSA]; /* enum verify_tlsa_use per record */
	int match_index; /* index of the record that matched, or -1 */
	int match_depth; /* chain depth of the matched certificate, or -1
			  * (0 = the leaf for DANE-EE; the TA for DANE-TA) */
	/* For VERIFY_DANE_NO_MATCH: why (dane_no_match when no record
	 * matched; expired, hostname_mismatch, ... when a DANE-TA record
	 * matched but the chain below it failed). Zeroed otherwise. */
	struct verify_error error;
};

/*
 * Authenticates chain[0..n) with the TLSA records tlsa[0..ntlsa) per RFC
 * 7672 §3, using OpenSSL's DANE verifier. Usages 0/1 and malformed records
 * are unusable (never given to OpenSSL); DANE-EE (3) ignores names and
 * dates; DANE-TA (2) checks the chain below the trust anchor, its dates at
 * `at`, and the leaf's names against ref_names.
 *
 * ref_names[0..nref): RFC 7672 §3.2.2 reference identifiers: the TLSA base
 * domain first (the MX host, or its CNAME expansion when the TLSA records
 * were found there, §2.2.3), then the MX host as named in the MX record if
 * different. Names without a usable form are skipped; if none remains
 * while usable records exist the call fails with VERIFY_BAD_NAME (a DANE-TA
 * check with no name would accept any name). At most VERIFY_MAX_REF_NAMES.
 *
 * Fills *out (zeroed first). When the rc is not VERIFY_OK but usable
 * records exist, outcome is VERIFY_DANE_NO_MATCH (nothing authenticated).
 */
enum verify_rc verify_dane(const struct verify_ctx *ctx,
			   const struct verify_der *chain, size_t n, time_t at,
			   const char *const *ref_names, size_t nref,
			   const struct verify_tlsa *tlsa, size_t ntlsa,
			   struct verify_dane_result *out);

/* verify_dane() under a profile: VERIFY_DANE_SMTP is verify_dane();
 * VERIFY_DANE_SRV (RFC 7673) also uses PKIX-TA/PKIX-EE records, which
 * OpenSSL matches only on a chain valid against ctx's store whose leaf
 * names one of ref_names (for SRV: the SRV target alone). */
enum verify_rc verify_dane_for(const struct verify_ctx *ctx,
			       enum verify_dane_profile profile,
			       const struct verify_der *chain, size_t n,
			       time_t at, const char *const *ref_names,
			       size_t nref, const struct verify_tlsa *tlsa,
			       size_t ntlsa, struct verify_dane_result *out);

/* The facts, besides verify_dane()'s, that decide a host's DANE outcome. */
struct verify_dane_facts {
	/* The MX RRset and the host's address RRsets were secure, the host
	 * has an address we may contact, and the TLSA answer was secure or
	 * bogus (RFC 7672 §2.2.2: TLSA is looked up only then; an insecure
	 * TLSA answer counts as not secure here). */
	bool secure_path;
	bool tlsa_bogus;   /* the TLSA lookup was bogus */
	unsigned nrecords; /* TLSA records in the secure answer */
	unsigned nusable;  /* of them usable (verify_dane_result.nusable) */
	bool starttls_ok;  /* every contacted endpoint did STARTTLS + TLS */
	bool chain_ok;	   /* verify_dane() said VERIFY_DANE_OK for every
			      * endpoint's chain */
};

/* Pure: the host's outcome, in the order not_applicable, tlsa_bogus,
 * none, unusable_only, no_starttls, then ok or no_match. */
enum verify_dane_outcome verify_dane_decide(const struct verify_dane_facts *f);

/*
 * One MX host's DANE as one domain sees it, built the same way by the scan
 * and by reverify (so that a judgement set made with the scan's trust
 * store equals the scan's verdicts): start from the host's TLSA answer,
 * judge each contacted endpoint (domain_endpoint.dane), then the host
 * (domain_mx.dane).
 */
struct verify_dane_host {
	struct verify_dane_facts tlsa; /* the answer's facts */
	size_t contacted;
	bool starttls_all, chain_all;
};

/* looked_up: the TLSA question was asked (a secure path to it);
 * secure/bogus: its answer's DNSSEC status; rec: the records that
 * parsed. */
void verify_dane_host_init(struct verify_dane_host *h, bool looked_up,
			   bool secure, bool bogus,
			   const struct verify_tlsa *rec, size_t nrec);
/* The same under a profile (which records count as usable). */
void verify_dane_host_init_for(struct verify_dane_host *h,
			       enum verify_dane_profile profile, bool looked_up,
			       bool secure, bool bogus,
			       const struct verify_tlsa *rec, size_t nrec);
/* A contacted endpoint: STARTTLS and TLS done, and verify_dane() said
 * VERIFY_DANE_OK for its chain. Returns the endpoint's own outcome. */
enum verify_dane_outcome verify_dane_host_endpoint(struct verify_dane_host *h,
						   bool starttls_ok,
						   bool chain_ok);
/* The host's outcome once every contacted endpoint is in; address_ok:
 * the host has an address we may contact (with none contacted, DANE
 * still applies: the probes failed). */
enum verify_dane_outcome verify_dane_host_outcome(
    const struct verify_dane_host *h, bool address_ok);

/* The reference names of verify_dane() for a host whose TLSA records were
 * found at tlsa_name (maybe a CNAME's target): the TLSA base domain, then
 * the MX host if different (RFC 7672 §3.2.2). Returns their number. */
size_t verify_dane_refs(const char *tlsa_name, const char *host,
			const char *refs[2]);

/* ---- Names for storage (stable; they end up in the database) -------- */

const char *verify_rc_str(enum verify_rc rc);
/* "expired", "not_yet_valid", "self_signed", "self_signed_in_chain",
 * "unknown_issuer" (codes 2, 20, 21), "bad_signature" (4, 7), ... one
 * snake_case name per X509_V_ERR_* code; "other_error" for codes unknown
 * to this build. */
const char *verify_x509_error_name(int code);
/* The name of one VERIFY_WEAK_* bit: "rsa_lt_2048", "dsa_lt_2048",
 * "sha1", "md5", "ec_lt_224"; NULL for anything else. */
const char *verify_weak_str(unsigned bit);
/* "usable", "pkix_usage", "unknown_usage", ... */
const char *verify_tlsa_use_str(enum verify_tlsa_use u);
/* "dane_ok", "dane_no_match", ... as stored. */
const char *verify_dane_outcome_str(enum verify_dane_outcome o);
/* The RFC 8460 §4.3 result type a sender would report for the outcome:
 * "tlsa-invalid", "dnssec-invalid", "dane-required", or NULL. */
const char *verify_dane_result_type(enum verify_dane_outcome o);

#endif
