/*
 * The certificate judgement with OpenSSL 3 (contracts in verify.h; the
 * comments here say why).
 *
 * PKIX: an X509_STORE_CTX over the shared store, the leaf, and the rest of
 * the presented chain as untrusted certificates, at the scan's time, with
 * the TLS server purpose and security level 0. A verify callback records
 * each error and returns 1, so OpenSSL carries on and we see all of them
 * (as `openssl s_client` without -verify_return_error does);
 * "valid_ignoring_strength" then means no error at all.
 *
 * Strict trust (what Debian's OpenSSL accepts by default, security level
 * 2): a chain valid at level 0 is verified once more at authentication
 * level 2, and must also carry no weak bit. Why both: the level 2 pass is
 * OpenSSL's own definition of the level (keys under 112 bits of security
 * of any type, digests under 112 bits), so the figure follows exactly
 * what the sender we model does; the weak bits are the issue's explicit
 * list (RSA/DSA under 2048, SHA-1, MD5 anywhere in the built path) and
 * keep "trusted" strict even where OpenSSL's level checks skip a
 * certificate (the trust anchor's key). One pass at level 0 is still the
 * primary judgement: a chain that fails at level 2 would stop at the first
 * weak certificate there and hide the errors a lax sender would meet. The
 * second pass runs only for chains valid at level 0, and only where the
 * level's own checks on the path already built (strict_levels_pass())
 * do not pass: the level changes nothing else in OpenSSL's verification.
 *
 * DANE: OpenSSL's verifier, without a handshake. A throwaway SSL from a
 * DANE-enabled SSL_CTX holds the TLSA records and reference names
 * (SSL_dane_enable, SSL_add1_host, SSL_dane_tlsa_add); an X509_STORE_CTX
 * takes its DANE state (X509_STORE_CTX_set0_dane) and verify parameters
 * and verifies the stored chain as ssl_verify_cert_chain() would during a
 * handshake. With only DANE usages present OpenSSL never consults the
 * PKIX store (x509_vfy.c build_chain), so trust comes from TLSA alone.
 */
#include "crawler/verify/verify.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "crawler/verify/certcache.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Keys under this many bits are weak (RSA and DSA alike). */
#define VERIFY_WEAK_KEY_BITS 2048
/* EC keys under this many bits are weak (112-bit security, level 2). */
#define VERIFY_WEAK_EC_BITS 224
/* OpenSSL's default security level on Debian (openssl.cnf: CipherString
 * DEFAULT@SECLEVEL=2): the strict sender's. */
#define VERIFY_STRICT_LEVEL 2
/* Digest lengths of TLSA matching types 1 and 2 (RFC 6698 §2.1.3). */
#define VERIFY_SHA256_LEN 32
#define VERIFY_SHA512_LEN 64

/* The verification profile of a TLS client checking a server. */
static const char VERIFY_PURPOSE[] = "ssl_server";

/* Wildcards only as the whole left-most label (RFC 9525 §6.3). DANE-TA
 * name checks (RFC 7672 §3.2.3) keep OpenSSL's CN rule, which SMTP DANE
 * clients implement; the PKIX names below never read the CN. */
static const unsigned VERIFY_HOST_FLAGS = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
/* PKIX name checks: DNS SANs only, never the subject CN (RFC 9525 §6.3,
 * a certificate without a DNS SAN matches no name). */
static const unsigned VERIFY_PKIX_HOST_FLAGS =
    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;

/* Chains whose PKIX judgement a context remembers (direct-mapped by the
 * chain's key; a newer judgement replaces an older one in its slot), and
 * the locks over them (slot i under lock i % VERIFY_MEMO_LOCKS). About
 * 400 bytes a slot. */
#define VERIFY_MEMO_SLOTS 2048
#define VERIFY_MEMO_LOCKS 16
#define VERIFY_KEY_LEN 32

/* A remembered judgement: every fact of verify_chain() but the two name
 * matches (asked per call), valid for a judgement time strictly between
 * lo and hi (cert_validity_window()). */
struct memo_slot {
	uint8_t key[VERIFY_KEY_LEN];
	bool used;
	time_t lo, hi;
	struct verify_result res;
};

struct verify_memo {
	pthread_mutex_t lock[VERIFY_MEMO_LOCKS];
	struct memo_slot slot[VERIFY_MEMO_SLOTS];
	uint64_t hits, misses; /* under lock[0] */
};

struct verify_ctx {
	X509_STORE *store;
	SSL_CTX *dane_ssl_ctx; /* DANE-enabled, only for SSL_new() */
	/* Not const through a const ctx: the judgements are shared. */
	struct verify_memo *memo;
};

/* ---- names ----------------------------------------------------------- */

static const char *const rc_names[VERIFY_RC_LAST] = {
	[VERIFY_OK] = "ok",
	[VERIFY_NO_CHAIN] = "no_chain",
	[VERIFY_BAD_LEAF] = "bad_leaf",
	[VERIFY_LEAF_TOO_LARGE] = "leaf_too_large",
	[VERIFY_BAD_NAME] = "bad_name",
	[VERIFY_NO_MEMORY] = "no_memory",
	[VERIFY_INTERNAL] = "internal",
};

const char *verify_rc_str(enum verify_rc rc)
{
	if ((unsigned)rc >= VERIFY_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

/*
 * One name per X509_V_ERR_* code of OpenSSL 3.0. The first few are the
 * causes the report counts; the rest are OpenSSL's macro names in lower case. Several
 * codes share a name where they mean the same to a mail sender: 2, 20
 * and 21 are all "the issuer is not known", 4 and 7 "the signature does
 * not verify".
 */
static const char *const x509_error_names[] = {
	[X509_V_OK] = "ok",
	[X509_V_ERR_UNSPECIFIED] = "unspecified",
	[X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT] = "unknown_issuer",
	[X509_V_ERR_UNABLE_TO_GET_CRL] = "unable_to_get_crl",
	[X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE] = "bad_signature",
	[X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE] = "crl_bad_signature",
	[X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY] = "bad_issuer_key",
	[X509_V_ERR_CERT_SIGNATURE_FAILURE] = "bad_signature",
	[X509_V_ERR_CRL_SIGNATURE_FAILURE] = "crl_bad_signature",
	[X509_V_ERR_CERT_NOT_YET_VALID] = "not_yet_valid",
	[X509_V_ERR_CERT_HAS_EXPIRED] = "expired",
	[X509_V_ERR_CRL_NOT_YET_VALID] = "crl_not_yet_valid",
	[X509_V_ERR_CRL_HAS_EXPIRED] = "crl_expired",
	[X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD] = "bad_not_before",
	[X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD] = "bad_not_after",
	[X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD] = "crl_bad_last_update",
	[X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD] = "crl_bad_next_update",
	[X509_V_ERR_OUT_OF_MEM] = "out_of_memory",
	[X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT] = "self_signed",
	[X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN] = "self_signed_in_chain",
	[X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY] = "unknown_issuer",
	[X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE] = "unknown_issuer",
	[X509_V_ERR_CERT_CHAIN_TOO_LONG] = "chain_too_long",
	[X509_V_ERR_CERT_REVOKED] = "revoked",
	[X509_V_ERR_NO_ISSUER_PUBLIC_KEY] = "no_issuer_public_key",
	[X509_V_ERR_PATH_LENGTH_EXCEEDED] = "path_length_exceeded",
	[X509_V_ERR_INVALID_PURPOSE] = "invalid_purpose",
	[X509_V_ERR_CERT_UNTRUSTED] = "untrusted",
	[X509_V_ERR_CERT_REJECTED] = "rejected",
	[X509_V_ERR_SUBJECT_ISSUER_MISMATCH] = "subject_issuer_mismatch",
	[X509_V_ERR_AKID_SKID_MISMATCH] = "akid_skid_mismatch",
	[X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH] =
	    "akid_issuer_serial_mismatch",
	[X509_V_ERR_KEYUSAGE_NO_CERTSIGN] = "keyusage_no_certsign",
	[X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER] = "unable_to_get_crl_issuer",
	[X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION] =
	    "unhandled_critical_extension",
	[X509_V_ERR_KEYUSAGE_NO_CRL_SIGN] = "keyusage_no_crl_sign",
	[X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION] =
	    "unhandled_critical_crl_extension",
	[X509_V_ERR_INVALID_NON_CA] = "invalid_non_ca",
	[X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED] = "proxy_path_length_exceeded",
	[X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE] =
	    "keyusage_no_digital_signature",
	[X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED] =
	    "proxy_certificates_not_allowed",
	[X509_V_ERR_INVALID_EXTENSION] = "invalid_extension",
	[X509_V_ERR_INVALID_POLICY_EXTENSION] = "invalid_policy_extension",
	[X509_V_ERR_NO_EXPLICIT_POLICY] = "no_explicit_policy",
	[X509_V_ERR_DIFFERENT_CRL_SCOPE] = "different_crl_scope",
	[X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE] =
	    "unsupported_extension_feature",
	[X509_V_ERR_UNNESTED_RESOURCE] = "unnested_resource",
	[X509_V_ERR_PERMITTED_VIOLATION] = "permitted_violation",
	[X509_V_ERR_EXCLUDED_VIOLATION] = "excluded_violation",
	[X509_V_ERR_SUBTREE_MINMAX] = "subtree_minmax",
	[X509_V_ERR_APPLICATION_VERIFICATION] = "application_verification",
	[X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE] =
	    "unsupported_constraint_type",
	[X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX] =
	    "unsupported_constraint_syntax",
	[X509_V_ERR_UNSUPPORTED_NAME_SYNTAX] = "unsupported_name_syntax",
	[X509_V_ERR_CRL_PATH_VALIDATION_ERROR] = "crl_path_validation_error",
	[X509_V_ERR_PATH_LOOP] = "path_loop",
	[X509_V_ERR_SUITE_B_INVALID_VERSION] = "suite_b_invalid_version",
	[X509_V_ERR_SUITE_B_INVALID_ALGORITHM] = "suite_b_invalid_algorithm",
	[X509_V_ERR_SUITE_B_INVALID_CURVE] = "suite_b_invalid_curve",
	[X509_V_ERR_SUITE_B_INVALID_SIGNATURE_ALGORITHM] =
	    "suite_b_invalid_signature_algorithm",
	[X509_V_ERR_SUITE_B_LOS_NOT_ALLOWED] = "suite_b_los_not_allowed",
	[X509_V_ERR_SUITE_B_CANNOT_SIGN_P_384_WITH_P_256] =
	    "suite_b_cannot_sign_p_384_with_p_256",
	[X509_V_ERR_HOSTNAME_MISMATCH] = "hostname_mismatch",
	[X509_V_ERR_EMAIL_MISMATCH] = "email_mismatch",
	[X509_V_ERR_IP_ADDRESS_MISMATCH] = "ip_address_mismatch",
	[X509_V_ERR_DANE_NO_MATCH] = "dane_no_match",
	[X509_V_ERR_EE_KEY_TOO_SMALL] = "ee_key_too_small",
	[X509_V_ERR_CA_KEY_TOO_SMALL] = "ca_key_too_small",
	[X509_V_ERR_CA_MD_TOO_WEAK] = "ca_md_too_weak",
	[X509_V_ERR_INVALID_CALL] = "invalid_call",
	[X509_V_ERR_STORE_LOOKUP] = "store_lookup",
	[X509_V_ERR_NO_VALID_SCTS] = "no_valid_scts",
	[X509_V_ERR_PROXY_SUBJECT_NAME_VIOLATION] =
	    "proxy_subject_name_violation",
	[X509_V_ERR_OCSP_VERIFY_NEEDED] = "ocsp_verify_needed",
	[X509_V_ERR_OCSP_VERIFY_FAILED] = "ocsp_verify_failed",
	[X509_V_ERR_OCSP_CERT_UNKNOWN] = "ocsp_cert_unknown",
	[X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM] =
	    "unsupported_signature_algorithm",
	[X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH] =
	    "signature_algorithm_mismatch",
	[X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY] =
	    "signature_algorithm_inconsistency",
	[X509_V_ERR_INVALID_CA] = "invalid_ca",
	[X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA] = "pathlen_invalid_for_non_ca",
	[X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN] =
	    "pathlen_without_ku_key_cert_sign",
	[X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA] =
	    "ku_key_cert_sign_invalid_for_non_ca",
	[X509_V_ERR_ISSUER_NAME_EMPTY] = "issuer_name_empty",
	[X509_V_ERR_SUBJECT_NAME_EMPTY] = "subject_name_empty",
	[X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER] =
	    "missing_authority_key_identifier",
	[X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER] =
	    "missing_subject_key_identifier",
	[X509_V_ERR_EMPTY_SUBJECT_ALT_NAME] = "empty_subject_alt_name",
	[X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL] =
	    "empty_subject_san_not_critical",
	[X509_V_ERR_CA_BCONS_NOT_CRITICAL] = "ca_bcons_not_critical",
	[X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL] =
	    "authority_key_identifier_critical",
	[X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL] =
	    "subject_key_identifier_critical",
	[X509_V_ERR_CA_CERT_MISSING_KEY_USAGE] = "ca_cert_missing_key_usage",
	[X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3] =
	    "extensions_require_version_3",
	[X509_V_ERR_EC_KEY_EXPLICIT_PARAMS] = "ec_key_explicit_params",
};

const char *verify_x509_error_name(int code)
{
	if (code < 0 || (size_t)code >= ARRAY_LEN(x509_error_names) ||
	    x509_error_names[code] == NULL)
		return "other_error";
	return x509_error_names[code];
}

static const char *const weak_names[VERIFY_WEAK_BITS] = {
	"rsa_lt_2048", "dsa_lt_2048", "sha1", "md5", "ec_lt_224",
};

const char *verify_weak_str(unsigned bit)
{
	for (unsigned i = 0; i < VERIFY_WEAK_BITS; i++)
		if (bit == 1u << i)
			return weak_names[i];
	return NULL;
}

static const char *const tlsa_use_names[VERIFY_TLSA_USE_LAST] = {
	[VERIFY_TLSA_USABLE] = "usable",
	[VERIFY_TLSA_PKIX_USAGE] = "pkix_usage",
	[VERIFY_TLSA_UNKNOWN_USAGE] = "unknown_usage",
	[VERIFY_TLSA_UNKNOWN_SELECTOR] = "unknown_selector",
	[VERIFY_TLSA_UNKNOWN_MTYPE] = "unknown_mtype",
	[VERIFY_TLSA_BAD_LENGTH] = "bad_length",
	[VERIFY_TLSA_BAD_DATA] = "bad_data",
};

const char *verify_tlsa_use_str(enum verify_tlsa_use u)
{
	if ((unsigned)u >= VERIFY_TLSA_USE_LAST)
		return "unknown";
	return tlsa_use_names[u];
}

static const char *const dane_outcome_names[VERIFY_DANE_OUTCOME_LAST] = {
	[VERIFY_DANE_OK] = "dane_ok",
	[VERIFY_DANE_NO_MATCH] = "dane_no_match",
	[VERIFY_DANE_TLSA_BOGUS] = "dane_tlsa_bogus",
	[VERIFY_DANE_NO_STARTTLS] = "dane_no_starttls",
	[VERIFY_DANE_UNUSABLE_ONLY] = "dane_unusable_only",
	[VERIFY_DANE_NOT_APPLICABLE] = "dane_not_applicable",
	[VERIFY_DANE_NONE] = "dane_none",
};

const char *verify_dane_outcome_str(enum verify_dane_outcome o)
{
	if ((unsigned)o >= VERIFY_DANE_OUTCOME_LAST)
		return "unknown";
	return dane_outcome_names[o];
}

const char *verify_dane_result_type(enum verify_dane_outcome o)
{
	switch (o) {
	case VERIFY_DANE_NO_MATCH:
		return "tlsa-invalid";
	case VERIFY_DANE_TLSA_BOGUS:
		return "dnssec-invalid";
	case VERIFY_DANE_NO_STARTTLS:
		return "dane-required";
	default:
		return NULL;
	}
}

/* ---- pure helpers ---------------------------------------------------- */

enum verify_tlsa_use verify_tlsa_usable(const struct verify_tlsa *r)
{
	return verify_tlsa_usable_for(r, VERIFY_DANE_SMTP);
}

enum verify_tlsa_use verify_tlsa_usable_for(const struct verify_tlsa *r,
					    enum verify_dane_profile profile)
{
	/* RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP,
	 * where there is no agreed set of trust anchors; RFC 7673 (SRV)
	 * keeps them. */
	if ((r->usage == 0 || r->usage == 1) && profile != VERIFY_DANE_SRV)
		return VERIFY_TLSA_PKIX_USAGE;
	if (r->usage > 3)
		return VERIFY_TLSA_UNKNOWN_USAGE;
	if (r->selector != 0 && r->selector != 1)
		return VERIFY_TLSA_UNKNOWN_SELECTOR;
	switch (r->mtype) {
	case 0:
		/* RFC 7671 §5.1: records that cannot match are unusable;
		 * an empty Full value can match nothing. */
		if (r->len == 0)
			return VERIFY_TLSA_BAD_LENGTH;
		break;
	case 1:
		if (r->len != VERIFY_SHA256_LEN)
			return VERIFY_TLSA_BAD_LENGTH;
		break;
	case 2:
		if (r->len != VERIFY_SHA512_LEN)
			return VERIFY_TLSA_BAD_LENGTH;
		break;
	default:
		return VERIFY_TLSA_UNKNOWN_MTYPE;
	}
	if (r->data == NULL)
		return VERIFY_TLSA_BAD_LENGTH;
	return VERIFY_TLSA_USABLE;
}

enum verify_dane_outcome verify_dane_decide(const struct verify_dane_facts *f)
{
	/* RFC 7672 §2.2: DANE applies only over a secure path; a bogus
	 * TLSA RRset is a failure (§2.2.2), not an absence. */
	if (!f->secure_path)
		return VERIFY_DANE_NOT_APPLICABLE;
	if (f->tlsa_bogus)
		return VERIFY_DANE_TLSA_BOGUS;
	if (f->nrecords == 0)
		return VERIFY_DANE_NONE;
	/* §3.1.3 / §2.2: no usable record means no authentication, but
	 * TLS is still mandatory; that is not judged here. */
	if (f->nusable == 0)
		return VERIFY_DANE_UNUSABLE_ONLY;
	if (!f->starttls_ok)
		return VERIFY_DANE_NO_STARTTLS;
	return f->chain_ok ? VERIFY_DANE_OK : VERIFY_DANE_NO_MATCH;
}

void verify_dane_host_init(struct verify_dane_host *h, bool looked_up,
			   bool secure, bool bogus,
			   const struct verify_tlsa *rec, size_t nrec)
{
	verify_dane_host_init_for(h, VERIFY_DANE_SMTP, looked_up, secure, bogus,
				  rec, nrec);
}

void verify_dane_host_init_for(struct verify_dane_host *h,
			       enum verify_dane_profile profile, bool looked_up,
			       bool secure, bool bogus,
			       const struct verify_tlsa *rec, size_t nrec)
{
	memset(h, 0, sizeof *h);
	h->tlsa.secure_path = looked_up && (secure || bogus);
	h->tlsa.tlsa_bogus = bogus;
	h->tlsa.nrecords = (unsigned)nrec;
	for (size_t i = 0; i < nrec; i++)
		h->tlsa.nusable += verify_tlsa_usable_for(&rec[i], profile) ==
				   VERIFY_TLSA_USABLE;
	h->starttls_all = true;
	h->chain_all = true;
}

enum verify_dane_outcome verify_dane_host_endpoint(struct verify_dane_host *h,
						   bool starttls_ok,
						   bool chain_ok)
{
	struct verify_dane_facts f = h->tlsa;

	h->contacted++;
	h->starttls_all &= starttls_ok;
	h->chain_all &= chain_ok;
	f.starttls_ok = starttls_ok;
	f.chain_ok = chain_ok;
	return verify_dane_decide(&f);
}

enum verify_dane_outcome verify_dane_host_outcome(
    const struct verify_dane_host *h, bool address_ok)
{
	struct verify_dane_facts f = h->tlsa;

	f.secure_path &= h->contacted > 0 || address_ok;
	f.starttls_ok = h->starttls_all && h->contacted > 0;
	f.chain_ok = h->chain_all && h->contacted > 0;
	return verify_dane_decide(&f);
}

size_t verify_dane_refs(const char *tlsa_name, const char *host,
			const char *refs[2])
{
	static const char prefix[] = "_25._tcp.";
	const char *base = tlsa_name;

	if (strncmp(base, prefix, sizeof prefix - 1) == 0)
		base += sizeof prefix - 1;
	refs[0] = base;
	refs[1] = host;
	return strcmp(base, host) ? 2 : 1;
}

/*
 * Copies a reference name into buf without its trailing dot. Returns the
 * length, or 0 when the name cannot be one: empty, too long, or bytes
 * other than printable ASCII (names from DNS are A-labels; a U-label or
 * an escaped binary label can match no dNSName).
 */
static size_t name_copy(const char *name, char *buf, size_t cap)
{
	size_t len;

	if (name == NULL)
		return 0;
	len = strnlen(name, VERIFY_MAX_NAME + 2);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > VERIFY_MAX_NAME || len >= cap)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	memcpy(buf, name, len);
	buf[len] = '\0';
	return len;
}

/* ---- context --------------------------------------------------------- */

struct verify_ctx *verify_ctx_new(const char *ca_file, const char *ca_dir,
				  const char **err)
{
	struct verify_ctx *ctx = calloc(1, sizeof(*ctx));

	*err = NULL;
	if (ctx == NULL) {
		*err = "out of memory";
		return NULL;
	}
	ctx->store = X509_STORE_new();
	if (ctx->store == NULL) {
		*err = "out of memory";
		goto fail;
	}
	if (ca_file == NULL && ca_dir == NULL) {
		if (!X509_STORE_set_default_paths(ctx->store)) {
			*err = "cannot load the system trust store";
			goto fail;
		}
	}
	if (ca_file != NULL && !X509_STORE_load_file(ctx->store, ca_file)) {
		*err = "cannot load certificates from the CA file";
		goto fail;
	}
	if (ca_dir != NULL && !X509_STORE_load_path(ctx->store, ca_dir)) {
		*err = "cannot use the CA directory";
		goto fail;
	}

	/* Only SSL_new() is ever called on it, which is safe from many
	 * threads. Security level 0: the judgement must see RSA-1024 and
	 * SHA-1 chains verify (and flag them) rather than refuse them. */
	ctx->dane_ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (ctx->dane_ssl_ctx == NULL) {
		*err = "cannot create an SSL_CTX";
		goto fail;
	}
	SSL_CTX_set_security_level(ctx->dane_ssl_ctx, 0);
	if (SSL_CTX_dane_enable(ctx->dane_ssl_ctx) <= 0) {
		*err = "cannot enable DANE";
		goto fail;
	}
	ctx->memo = calloc(1, sizeof(*ctx->memo));
	if (ctx->memo == NULL) {
		*err = "out of memory";
		goto fail;
	}
	for (size_t i = 0; i < VERIFY_MEMO_LOCKS; i++)
		pthread_mutex_init(&ctx->memo->lock[i], NULL);
	ERR_clear_error();
	return ctx;

fail:
	ERR_clear_error();
	verify_ctx_free(ctx);
	return NULL;
}

void verify_ctx_free(struct verify_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->dane_ssl_ctx);
	X509_STORE_free(ctx->store);
	if (ctx->memo != NULL) {
		for (size_t i = 0; i < VERIFY_MEMO_LOCKS; i++)
			pthread_mutex_destroy(&ctx->memo->lock[i]);
		free(ctx->memo);
	}
	free(ctx);
}

/* ---- decoding the presented chain ------------------------------------ */

struct loaded_chain {
	X509 *leaf;
	/* STACK_OF(X509), spelt out so that formatting keeps it a type:
	 * the other presented certificates. */
	struct stack_st_X509 *rest;
	unsigned used;
	unsigned skipped;
	bool truncated;
	bool out_of_order; /* verify_result.out_of_order */
};

/* One exact DER certificate (no trailing bytes, as TLS requires), or
 * NULL: the certificate cache's parse (sha: the DER's SHA-256 when known,
 * else NULL). *too_large is set when it was not even tried. *nomem: NULL
 * for want of memory, not for the bytes. */
static X509 *der_decode_sha(const struct verify_der *d, const uint8_t *sha,
			    bool *too_large, bool *nomem)
{
	bool bad = false;
	X509 *x;

	*too_large = false;
	*nomem = false;
	if (d->data == NULL || d->len == 0)
		return NULL;
	if (d->len > VERIFY_MAX_CERT_DER) {
		*too_large = true;
		return NULL;
	}
	x = cert_cache_get(cert_cache_global(), d->data, d->len, sha, &bad);
	*nomem = x == NULL && !bad;
	return x;
}

static X509 *der_decode(const struct verify_der *d, bool *too_large)
{
	bool nomem;

	return der_decode_sha(d, NULL, too_large, &nomem);
}

static void loaded_chain_free(struct loaded_chain *c)
{
	X509_free(c->leaf);
	sk_X509_pop_free(c->rest, X509_free);
	memset(c, 0, sizeof(*c));
}

/* sha: the SHA-256 of each presented certificate's DER, or NULL. */
static enum verify_rc loaded_chain_init(struct loaded_chain *c,
					const struct verify_der *chain,
					size_t n,
					const uint8_t (*sha)[VERIFY_KEY_LEN])
{
	size_t use = n;
	bool too_large, nomem;

	memset(c, 0, sizeof(*c));
	if (n == 0 || chain == NULL)
		return VERIFY_NO_CHAIN;
	if (use > VERIFY_MAX_CHAIN) {
		use = VERIFY_MAX_CHAIN;
		c->truncated = true;
	}
	c->leaf =
	    der_decode_sha(&chain[0], sha ? sha[0] : NULL, &too_large, &nomem);
	if (c->leaf == NULL) {
		ERR_clear_error();
		return too_large ? VERIFY_LEAF_TOO_LARGE : VERIFY_BAD_LEAF;
	}
	c->used = 1;
	c->rest = sk_X509_new_reserve(NULL, (int)use);
	if (c->rest == NULL)
		goto nomem;
	/* The certificate before the current one, NULL when it could not
	 * be decoded (and so cannot be followed by its issuer). */
	X509 *prev = c->leaf;
	for (size_t i = 1; i < use; i++) {
		X509 *x = der_decode_sha(&chain[i], sha ? sha[i] : NULL,
					 &too_large, &nomem);
		if (x == NULL) {
			/* A broken extra certificate must not stop the
			 * judgement: the path may not need it. */
			c->skipped++;
			c->out_of_order = true;
			prev = NULL;
			continue;
		}
		/* Names, key identifiers and key usage; no signature check,
		 * which is the verification's business. */
		if (prev == NULL || X509_check_issued(x, prev) != X509_V_OK)
			c->out_of_order = true;
		prev = x;
		if (!sk_X509_push(c->rest, x)) {
			X509_free(x);
			goto nomem;
		}
		c->used++;
	}
	ERR_clear_error();
	return VERIFY_OK;

nomem:
	loaded_chain_free(c);
	ERR_clear_error();
	return VERIFY_NO_MEMORY;
}

/*
 * Sets what every verification here shares, last (after the TLS server
 * profile and any copied parameters): the judgement's time, and security
 * level 0, so no key size or digest limit fails a chain (weakness is a
 * separate fact).
 */
static void set_time_and_level(X509_STORE_CTX *sctx, time_t at)
{
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);

	X509_VERIFY_PARAM_set_time(param, at);
	X509_VERIFY_PARAM_set_auth_level(param, 0);
}

/* ---- PKIX judgement -------------------------------------------------- */

/* Adds an error under its name unless that name is already listed. */
static void add_error(struct verify_result *out, int code, int depth)
{
	const char *name = verify_x509_error_name(code);

	for (unsigned i = 0; i < out->nerrors; i++)
		if (strcmp(out->errors[i].name, name) == 0)
			return;
	if (out->nerrors == VERIFY_MAX_ERRORS) {
		out->errors_truncated = true;
		return;
	}
	out->errors[out->nerrors].name = name;
	out->errors[out->nerrors].code = code;
	out->errors[out->nerrors].depth = depth;
	out->nerrors++;
}

/* State the collecting callback reaches through the store context's
 * app data (ex_data index 0, which is ours: no SSL owns this context). */
struct collect {
	struct verify_result *out;
	bool leaf_unknown_issuer;
	bool out_of_memory;
};

static int collect_cb(int ok, X509_STORE_CTX *sctx)
{
	struct collect *st = X509_STORE_CTX_get_app_data(sctx);
	int code, depth;

	if (ok)
		return 1;
	code = X509_STORE_CTX_get_error(sctx);
	depth = X509_STORE_CTX_get_error_depth(sctx);
	if (code == X509_V_ERR_OUT_OF_MEM) {
		st->out_of_memory = true;
		return 0;
	}
	add_error(st->out, code, depth);
	if (depth == 0 &&
	    (code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	     code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	     code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE))
		st->leaf_unknown_issuer = true;
	/* Carry on: every error is a fact worth recording. */
	return 1;
}

/* VERIFY_WEAK_* bits of one certificate: its key, and its signature
 * unless the certificate signed itself. */
static unsigned weak_bits(X509 *x)
{
	unsigned weak = 0;
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int mdnid = NID_undef, pknid = NID_undef;

	if (pk != NULL) {
		int bits = EVP_PKEY_get_bits(pk);
		if ((EVP_PKEY_is_a(pk, "RSA") ||
		     EVP_PKEY_is_a(pk, "RSA-PSS")) &&
		    bits > 0 && bits < VERIFY_WEAK_KEY_BITS)
			weak |= VERIFY_WEAK_RSA_LT_2048;
		if (EVP_PKEY_is_a(pk, "DSA") && bits > 0 &&
		    bits < VERIFY_WEAK_KEY_BITS)
			weak |= VERIFY_WEAK_DSA_LT_2048;
		if (EVP_PKEY_is_a(pk, "EC") && bits > 0 &&
		    bits < VERIFY_WEAK_EC_BITS)
			weak |= VERIFY_WEAK_EC_LT_224;
	}
	if (X509_self_signed(x, 0) == 1)
		return weak;
	/* X509_get_signature_info() also reads RSA-PSS parameters. */
	if (!X509_get_signature_info(x, &mdnid, &pknid, NULL, NULL)) {
		int signid = X509_get_signature_nid(x);
		if (!OBJ_find_sigid_algs(signid, &mdnid, &pknid))
			mdnid = NID_undef;
	}
	if (mdnid == NID_sha1)
		weak |= VERIFY_WEAK_SHA1;
	else if (mdnid == NID_md5 || mdnid == NID_md5_sha1 ||
		 mdnid == NID_md4 || mdnid == NID_md2)
		weak |= VERIFY_WEAK_MD5;
	return weak;
}

/* 1 match, 0 none (also for an unusable name). */
static int host_matches(X509 *leaf, const char *name)
{
	char buf[VERIFY_MAX_NAME + 1];
	size_t len = name_copy(name, buf, sizeof(buf));

	if (len == 0)
		return 0;
	return X509_check_host(leaf, buf, len, VERIFY_PKIX_HOST_FLAGS, NULL) ==
	       1;
}

/* dNSName entries of the leaf's subjectAltName (0 without one). */
static unsigned dns_san_count(X509 *leaf)
{
	GENERAL_NAMES *gens;
	unsigned n = 0;

	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++)
		if (sk_GENERAL_NAME_value(gens, i)->type == GEN_DNS)
			n++;
	GENERAL_NAMES_free(gens);
	return n;
}

/*
 * The strict sender's verification of a chain valid at level 0: the same
 * inputs at authentication level 2, stopping at the first error. 1 when
 * it passes, 0 when not, -ENOMEM, or -EINVAL when OpenSSL would not set
 * up the verification (X509_STORE_CTX_init refuses its arguments).
 */
static int verify_strict(const struct verify_ctx *ctx,
			 const struct loaded_chain *lc, time_t at)
{
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	int ret = -EINVAL;

	if (sctx == NULL)
		return -ENOMEM;
	if (X509_STORE_CTX_init(sctx, ctx->store, lc->leaf, lc->rest) &&
	    X509_STORE_CTX_set_default(sctx, VERIFY_PURPOSE)) {
		X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
		X509_VERIFY_PARAM_set_time(param, at);
		X509_VERIFY_PARAM_set_auth_level(param, VERIFY_STRICT_LEVEL);
		ret = X509_verify_cert(sctx) > 0 ? 1 : 0;
		if (ret == 0 &&
		    X509_STORE_CTX_get_error(sctx) == X509_V_ERR_OUT_OF_MEM)
			ret = -ENOMEM;
	}
	X509_STORE_CTX_free(sctx);
	return ret;
}

/* Bits of security a key or signature needs at the strict level
 * (x509_vfy.c minbits_table: 80, 112, 128, 192, 256 for levels 1-5). */
#define VERIFY_STRICT_BITS 112

/*
 * Whether the path built by a verification without any error at level 0
 * also passes OpenSSL's checks at authentication level 2, which are the
 * only ones the level changes (x509_vfy.c: check_key_level() of the leaf
 * in X509_verify_cert(), then check_auth_level(): the key of every issuer
 * at index > 0, the signature of every certificate but the trust anchor
 * at the top). The same path is built at either level: chain building
 * does not look at it. So the strict verification, a second
 * X509_verify_cert() with its issuer look-ups and signature checks, is
 * needed only when this says no (verify_chain() then asks it, to be
 * exact where it matters).
 */
static bool strict_levels_pass(STACK_OF(X509) * path)
{
	int n = path != NULL ? sk_X509_num(path) : 0;

	if (n <= 0)
		return false;
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(path, i);
		EVP_PKEY *pk = X509_get0_pubkey(x);
		int secbits = -1;
		if (pk == NULL ||
		    EVP_PKEY_get_security_bits(pk) < VERIFY_STRICT_BITS)
			return false;
		if (i < n - 1 &&
		    (!X509_get_signature_info(x, NULL, NULL, &secbits, NULL) ||
		     secbits < VERIFY_STRICT_BITS))
			return false;
	}
	return true;
}

/* ---- remembered judgements ------------------------------------------ */

/*
 * The key of a presented chain: SHA-256 over its length and the SHA-256
 * of each certificate used (leaf first), which go to sha[]. false when
 * out of memory: no key, the chain is judged afresh.
 */
static bool chain_key(const struct verify_der *chain, size_t n,
		      uint8_t (*sha)[VERIFY_KEY_LEN],
		      uint8_t key[VERIFY_KEY_LEN])
{
	size_t use = n > VERIFY_MAX_CHAIN ? VERIFY_MAX_CHAIN : n;
	uint8_t buf[8 + VERIFY_MAX_CHAIN * VERIFY_KEY_LEN];
	uint64_t len = n;

	for (size_t i = 0; i < use; i++) {
		if (cert_cache_sha256(chain[i].data, chain[i].len, sha[i]) != 0)
			return false;
		memcpy(buf + 8 + i * VERIFY_KEY_LEN, sha[i], VERIFY_KEY_LEN);
	}
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(len >> (8 * i));
	return cert_cache_sha256(buf, 8 + use * VERIFY_KEY_LEN, key) == 0;
}

static size_t memo_index(const uint8_t key[VERIFY_KEY_LEN])
{
	uint64_t v;

	memcpy(&v, key, sizeof(v));
	return (size_t)(v % VERIFY_MEMO_SLOTS);
}

/* Copies the remembered judgement of key at `at` into *out; false when
 * there is none (or not for that time). */
static bool memo_get(struct verify_memo *m, const uint8_t *key, time_t at,
		     struct verify_result *out)
{
	size_t i = memo_index(key);
	pthread_mutex_t *lock = &m->lock[i % VERIFY_MEMO_LOCKS];
	const struct memo_slot *s = &m->slot[i];
	bool hit;

	pthread_mutex_lock(lock);
	hit = s->used && memcmp(s->key, key, VERIFY_KEY_LEN) == 0 &&
	      at > s->lo && at < s->hi;
	if (hit)
		*out = s->res;
	pthread_mutex_unlock(lock);
	pthread_mutex_lock(&m->lock[0]);
	if (hit)
		m->hits++;
	else
		m->misses++;
	pthread_mutex_unlock(&m->lock[0]);
	return hit;
}

/* Remembers out (names left out: asked per call) for the times around
 * `at` at which no certificate presented or in the built path changes
 * its validity. */
static void memo_put(struct verify_memo *m, const uint8_t *key, time_t at,
		     const struct verify_result *out,
		     const struct loaded_chain *lc, STACK_OF(X509) * path)
{
	time_t lo = (time_t)INT64_MIN, hi = (time_t)INT64_MAX;
	size_t i = memo_index(key);
	struct memo_slot *s = &m->slot[i];

	if (!cert_validity_window(lc->leaf, at, &lo, &hi))
		return;
	for (int k = 0; k < sk_X509_num(lc->rest); k++)
		if (!cert_validity_window(sk_X509_value(lc->rest, k), at, &lo,
					  &hi))
			return;
	for (int k = 0; path != NULL && k < sk_X509_num(path); k++)
		if (!cert_validity_window(sk_X509_value(path, k), at, &lo, &hi))
			return;
	pthread_mutex_lock(&m->lock[i % VERIFY_MEMO_LOCKS]);
	memcpy(s->key, key, VERIFY_KEY_LEN);
	s->used = true;
	s->lo = lo;
	s->hi = hi;
	s->res = *out;
	s->res.name_matches_mx = false;
	s->res.name_matches_domain = false;
	pthread_mutex_unlock(&m->lock[i % VERIFY_MEMO_LOCKS]);
}

void verify_chain_stats(const struct verify_ctx *ctx, uint64_t *hits,
			uint64_t *misses)
{
	pthread_mutex_lock(&ctx->memo->lock[0]);
	*hits = ctx->memo->hits;
	*misses = ctx->memo->misses;
	pthread_mutex_unlock(&ctx->memo->lock[0]);
}

/* The names of verify_chain() from a remembered judgement: the leaf from
 * the caller or the certificate cache. false when it cannot be had. */
static bool memo_names(const struct verify_der *d0, const uint8_t *sha0,
		       const char *mx_host, const char *domain,
		       struct verify_result *out)
{
	bool too_large, nomem;
	X509 *leaf = der_decode_sha(d0, sha0, &too_large, &nomem);

	if (leaf == NULL)
		return false;
	out->name_matches_mx = host_matches(leaf, mx_host);
	out->name_matches_domain = host_matches(leaf, domain);
	X509_free(leaf);
	return true;
}

enum verify_rc verify_chain(const struct verify_ctx *ctx,
			    const struct verify_der *chain, size_t n, time_t at,
			    const char *mx_host, const char *domain,
			    struct verify_result *out)
{
	struct loaded_chain lc;
	struct collect st = { .out = out };
	X509_STORE_CTX *sctx = NULL;
	enum verify_rc rc;
	int ret, npath;
	uint8_t sha[VERIFY_MAX_CHAIN][VERIFY_KEY_LEN], key[VERIFY_KEY_LEN];
	bool keyed = false;

	memset(out, 0, sizeof(*out));
	out->chain_len = n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
	if (n > 0 && chain != NULL) {
		keyed = chain_key(chain, n, sha, key);
		if (keyed && memo_get(ctx->memo, key, at, out)) {
			if (memo_names(&chain[0], sha[0], mx_host, domain,
				       out)) {
				ERR_clear_error();
				return VERIFY_OK;
			}
			memset(out, 0, sizeof(*out));
			out->chain_len =
			    n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
		}
	}
	rc = loaded_chain_init(&lc, chain, n, keyed ? sha : NULL);
	if (rc != VERIFY_OK)
		return rc;
	out->chain_used = lc.used;
	out->skipped = lc.skipped;
	out->chain_truncated = lc.truncated;
	out->out_of_order = lc.out_of_order;

	/* Names are facts of the leaf alone, whatever the chain's fate.
	 * X509_check_host() is told never to read the subject CN. */
	out->leaf_san_count = dns_san_count(lc.leaf);
	out->cn_only = out->leaf_san_count == 0;
	out->name_matches_mx = host_matches(lc.leaf, mx_host);
	out->name_matches_domain = host_matches(lc.leaf, domain);

	sctx = X509_STORE_CTX_new();
	if (sctx == NULL) {
		rc = VERIFY_NO_MEMORY;
		goto done;
	}
	if (!X509_STORE_CTX_init(sctx, ctx->store, lc.leaf, lc.rest) ||
	    !X509_STORE_CTX_set_default(sctx, VERIFY_PURPOSE)) {
		rc = VERIFY_INTERNAL;
		goto done;
	}
	set_time_and_level(sctx, at);
	X509_STORE_CTX_set_app_data(sctx, &st);
	X509_STORE_CTX_set_verify_cb(sctx, collect_cb);
	ret = X509_verify_cert(sctx);
	if (st.out_of_memory) {
		rc = VERIFY_NO_MEMORY;
		goto done;
	}
	if (ret <= 0 && out->nerrors == 0) {
		/* Failed without telling the callback: an internal error
		 * (bad arguments, a failed allocation in OpenSSL). */
		add_error(out, X509_STORE_CTX_get_error(sctx),
			  X509_STORE_CTX_get_error_depth(sctx));
		rc = VERIFY_INTERNAL;
		goto done;
	}
	out->valid_ignoring_strength = ret > 0 && out->nerrors == 0;

	STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(sctx);
	npath = path != NULL ? sk_X509_num(path) : 0;
	out->path_len = npath > 0 ? (unsigned)npath : 0;
	for (int i = 0; i < npath; i++)
		out->weak |= weak_bits(sk_X509_value(path, i));
	if (npath <= 0)
		out->weak |= weak_bits(lc.leaf);

	/* The leaf's own issuer could not be found: it is neither in
	 * what the server sent nor in the store. A self-issued leaf is
	 * reported as self_signed instead, never here. */
	out->missing_intermediate =
	    st.leaf_unknown_issuer && X509_self_signed(lc.leaf, 0) != 1;

	if (out->valid_ignoring_strength && out->weak == 0 &&
	    strict_levels_pass(path)) {
		out->trusted = true;
	} else if (out->valid_ignoring_strength && out->weak == 0) {
		int strict = verify_strict(ctx, &lc, at);
		if (strict < 0) {
			rc = strict == -ENOMEM ? VERIFY_NO_MEMORY
					       : VERIFY_INTERNAL;
			goto done;
		}
		out->trusted = strict == 1;
	}
	if (keyed)
		memo_put(ctx->memo, key, at, out, &lc, path);

done:
	X509_STORE_CTX_free(sctx);
	loaded_chain_free(&lc);
	ERR_clear_error();
	return rc;
}

/* ---- one leaf, many domains ----------------------------------------- */

struct verify_leaf_cache {
	size_t n;
	const void **key;
	X509 **leaf;
};

struct verify_leaf_cache *verify_leaf_cache_new(size_t n)
{
	struct verify_leaf_cache *c = calloc(1, sizeof(*c));

	if (c == NULL || n == 0)
		goto fail;
	c->n = n;
	c->key = calloc(n, sizeof(*c->key));
	c->leaf = calloc(n, sizeof(*c->leaf));
	if (c->key == NULL || c->leaf == NULL)
		goto fail;
	return c;
fail:
	if (c != NULL) {
		free(c->key);
		free(c->leaf);
	}
	free(c);
	return NULL;
}

void verify_leaf_cache_free(struct verify_leaf_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		X509_free(c->leaf[i]);
	free(c->key);
	free(c->leaf);
	free(c);
}

int verify_leaf_names(struct verify_leaf_cache *c, const void *key,
		      const uint8_t *der, size_t len, const char *name)
{
	/* Direct-mapped by the key's address (a multiplicative hash: the
	 * keys are heap pointers, alike in their low bits). */
	size_t i =
	    (size_t)(((uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL) >> 32) %
	    c->n;
	int match;

	if (c->key[i] != key || c->leaf[i] == NULL) {
		struct verify_der d = { der, len };
		bool too_large;
		X509_free(c->leaf[i]);
		c->key[i] = NULL;
		c->leaf[i] = der_decode(&d, &too_large);
		if (c->leaf[i] == NULL) {
			ERR_clear_error();
			return -EBADMSG;
		}
		c->key[i] = key;
	}
	match = host_matches(c->leaf[i], name);
	ERR_clear_error();
	return match;
}

/* ---- DANE ------------------------------------------------------------ */

/* Which of the caller's records OpenSSL reports as the match. */
static int find_record(const struct verify_tlsa *tlsa, size_t n,
		       const uint8_t *use, uint8_t u, uint8_t s, uint8_t m,
		       const unsigned char *data, size_t dlen)
{
	for (size_t i = 0; i < n; i++) {
		if (use[i] != VERIFY_TLSA_USABLE)
			continue;
		if (tlsa[i].usage == u && tlsa[i].selector == s &&
		    tlsa[i].mtype == m && tlsa[i].len == dlen &&
		    memcmp(tlsa[i].data, data, dlen) == 0)
			return (int)i;
	}
	return -1;
}

/* Gives SSL the reference names: the first through SSL_dane_enable()
 * (which also makes it the SNI name), the others as further hosts. */
static enum verify_rc dane_names(SSL *ssl, const char *const *names,
				 size_t nref)
{
	char buf[VERIFY_MAX_NAME + 1];
	bool first = true;

	if (nref > VERIFY_MAX_REF_NAMES)
		nref = VERIFY_MAX_REF_NAMES;
	for (size_t i = 0; i < nref; i++) {
		if (name_copy(names[i], buf, sizeof(buf)) == 0)
			continue;
		if (first) {
			if (SSL_dane_enable(ssl, buf) <= 0)
				return VERIFY_INTERNAL;
			first = false;
		} else if (!SSL_add1_host(ssl, buf)) {
			return VERIFY_INTERNAL;
		}
	}
	return first ? VERIFY_BAD_NAME : VERIFY_OK;
}

enum verify_rc verify_dane(const struct verify_ctx *ctx,
			   const struct verify_der *chain, size_t n, time_t at,
			   const char *const *ref_names, size_t nref,
			   const struct verify_tlsa *tlsa, size_t ntlsa,
			   struct verify_dane_result *out)
{
	return verify_dane_for(ctx, VERIFY_DANE_SMTP, chain, n, at, ref_names,
			       nref, tlsa, ntlsa, out);
}

enum verify_rc verify_dane_for(const struct verify_ctx *ctx,
			       enum verify_dane_profile profile,
			       const struct verify_der *chain, size_t n,
			       time_t at, const char *const *ref_names,
			       size_t nref, const struct verify_tlsa *tlsa,
			       size_t ntlsa, struct verify_dane_result *out)
{
	struct loaded_chain lc = { 0 };
	X509_STORE_CTX *sctx = NULL;
	SSL *ssl = NULL;
	enum verify_rc rc = VERIFY_OK;
	size_t nrec = ntlsa;
	unsigned added = 0;
	int ret, err;

	memset(out, 0, sizeof(*out));
	out->match_index = -1;
	out->match_depth = -1;
	out->outcome = VERIFY_DANE_NONE;
	if (ntlsa == 0 || tlsa == NULL)
		return VERIFY_OK;
	if (nrec > VERIFY_MAX_TLSA) {
		nrec = VERIFY_MAX_TLSA;
		out->records_truncated = true;
	}
	out->nrecords = (unsigned)nrec;
	for (size_t i = 0; i < nrec; i++) {
		out->use[i] =
		    (uint8_t)verify_tlsa_usable_for(&tlsa[i], profile);
		if (out->use[i] == VERIFY_TLSA_USABLE)
			out->nusable++;
	}
	out->outcome = VERIFY_DANE_UNUSABLE_ONLY;
	if (out->nusable == 0)
		return VERIFY_OK;

	ssl = SSL_new(ctx->dane_ssl_ctx);
	if (ssl == NULL) {
		rc = VERIFY_NO_MEMORY;
		goto fail;
	}
	rc = dane_names(ssl, ref_names, nref);
	if (rc != VERIFY_OK)
		goto fail;
	SSL_set_hostflags(ssl, VERIFY_HOST_FLAGS);
	/* RFC 7672 §3.1.1: a DANE-EE match ignores names (and dates,
	 * which OpenSSL never checks after a DANE-EE match). */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);

	for (size_t i = 0; i < nrec; i++) {
		if (out->use[i] != VERIFY_TLSA_USABLE)
			continue;
		ret =
		    SSL_dane_tlsa_add(ssl, tlsa[i].usage, tlsa[i].selector,
				      tlsa[i].mtype, tlsa[i].data, tlsa[i].len);
		if (ret > 0) {
			added++;
		} else if (ret == 0) {
			/* OpenSSL found it unusable: a Full value that
			 * does not parse as a certificate or key. */
			out->use[i] = VERIFY_TLSA_BAD_DATA;
			out->nusable--;
		} else {
			rc = VERIFY_NO_MEMORY;
			goto fail;
		}
	}
	if (added == 0) {
		/* Nothing for OpenSSL to match against; with no records it
		 * would not even do DANE, and PKIX is not ours to use. */
		goto done;
	}
	out->outcome = VERIFY_DANE_NO_MATCH;

	rc = loaded_chain_init(&lc, chain, n, NULL);
	if (rc != VERIFY_OK)
		goto fail;
	sctx = X509_STORE_CTX_new();
	if (sctx == NULL) {
		rc = VERIFY_NO_MEMORY;
		goto fail;
	}
	/* As ssl_verify_cert_chain() does it during a handshake. */
	if (!X509_STORE_CTX_init(sctx, ctx->store, lc.leaf, lc.rest) ||
	    !X509_STORE_CTX_set_default(sctx, VERIFY_PURPOSE) ||
	    !X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(sctx),
				    SSL_get0_param(ssl))) {
		rc = VERIFY_INTERNAL;
		goto fail;
	}
	set_time_and_level(sctx, at);
	X509_STORE_CTX_set0_dane(sctx, SSL_get0_dane(ssl));
	ret = X509_verify_cert(sctx);
	err = X509_STORE_CTX_get_error(sctx);
	if (err == X509_V_ERR_OUT_OF_MEM) {
		rc = VERIFY_NO_MEMORY;
		goto fail;
	}
	if (ret <= 0 && err == X509_V_OK)
		err = X509_V_ERR_UNSPECIFIED;
	/* SSL_get0_dane_tlsa() answers only for a verified SSL. */
	SSL_set_verify_result(ssl, err);
	if (err == X509_V_OK) {
		uint8_t u = 0, s = 0, m = 0;
		const unsigned char *data = NULL;
		size_t dlen = 0;
		int depth = SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &dlen);

		if (depth >= 0) {
			out->outcome = VERIFY_DANE_OK;
			out->match_depth = depth;
			out->match_index = find_record(tlsa, nrec, out->use, u,
						       s, m, data, dlen);
		} else {
			/* Verified without a DANE authority: cannot happen
			 * with DANE usages only; never call it a match. */
			out->error.name =
			    verify_x509_error_name(X509_V_ERR_DANE_NO_MATCH);
			out->error.code = X509_V_ERR_DANE_NO_MATCH;
		}
	} else {
		out->error.name = verify_x509_error_name(err);
		out->error.code = err;
		out->error.depth = X509_STORE_CTX_get_error_depth(sctx);
	}
	goto done;

fail:
	if (out->nusable > 0)
		out->outcome = VERIFY_DANE_NO_MATCH;
done:
	X509_STORE_CTX_free(sctx);
	SSL_free(ssl);
	loaded_chain_free(&lc);
	ERR_clear_error();
	return rc;
}
