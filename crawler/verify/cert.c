#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crawler/verify/cert.h"
#include "crawler/verify/certcache.h"
#include "crawler/store/copyfmt.h"

/* Bytes of a subject or issuer name kept. */
#define CERT_NAME_MAX 2048

const char cert_columns[] =
    "sha256, der, subject, issuer, san_dns, not_before, "
    "not_after, key_type, key_bits, sig_alg, self_issued";

int cert_sha256(const uint8_t *der, size_t len, uint8_t out[CERT_SHA256_LEN])
{
	return cert_cache_sha256(der, len, out);
}

static void name_field(struct jbuf *b, const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;

	if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(bio);
		copy_null(b);
		return;
	}
	len = BIO_get_mem_data(bio, &data);
	copy_text(b, data, len > CERT_NAME_MAX ? CERT_NAME_MAX : (size_t)len);
	BIO_free(bio);
}

static void time_field(struct jbuf *b, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
		copy_null(b);
		return;
	}
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S+00", &tm);
	copy_str(b, buf);
}

static void san_field(struct jbuf *b, X509 *x)
{
	GENERAL_NAMES *names =
	    X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	struct copy_array arr;

	copy_array_begin(&arr, b);
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_DNS)
			continue;
		const ASN1_STRING *s = g->d.dNSName;
		copy_array_text(&arr, (const char *)ASN1_STRING_get0_data(s),
				(size_t)ASN1_STRING_length(s));
	}
	copy_array_end(&arr);
	GENERAL_NAMES_free(names);
}

/* The row of der, parsed as x (NULL when it is not one exact certificate:
 * then parsed here as OpenSSL takes it, trailing bytes allowed, as the
 * row always was). Made once per certificate (cert_cache_row()). */
static int make_row(struct jbuf *b, const uint8_t *der, size_t len,
		    const uint8_t *digest, X509 *exact)
{
	const uint8_t *p = der;
	X509 *x = exact;

	copy_bytea(b, digest, CERT_SHA256_LEN);
	copy_field(b);
	copy_bytea(b, der, len);
	copy_field(b);
	if (!x && len <= LONG_MAX)
		x = d2i_X509(NULL, &p, (long)len);
	else if (x)
		X509_up_ref(x);
	if (!x) {
		/* Unparsable: kept as evidence, no parsed columns. */
		jbuf_puts(b, "\\N\t\\N\t{}\t\\N\t\\N\t\\N\t\\N\t\\N\tf\n");
		return jbuf_error(b);
	}
	name_field(b, X509_get_subject_name(x));
	copy_field(b);
	name_field(b, X509_get_issuer_name(x));
	copy_field(b);
	san_field(b, x);
	copy_field(b);
	time_field(b, X509_get0_notBefore(x));
	copy_field(b);
	time_field(b, X509_get0_notAfter(x));
	copy_field(b);
	EVP_PKEY *key = X509_get0_pubkey(x);
	if (key) {
		/* "RSA", "EC", "DSA", "ED25519": stored in lower case. */
		const char *type = EVP_PKEY_get0_type_name(key);
		char lower[32];
		size_t i = 0;
		for (; type && type[i] && i + 1 < sizeof lower; i++)
			lower[i] = (char)(type[i] >= 'A' && type[i] <= 'Z'
					      ? type[i] + 32
					      : type[i]);
		lower[i] = '\0';
		copy_str(b, i ? lower : "unknown");
		copy_field(b);
		copy_int(b, EVP_PKEY_get_bits(key));
	} else {
		copy_null(b);
		copy_field(b);
		copy_null(b);
	}
	copy_field(b);
	int sig = X509_get_signature_nid(x);
	copy_str(b, sig != NID_undef ? OBJ_nid2ln(sig) : NULL);
	copy_field(b);
	copy_bool(b, X509_NAME_cmp(X509_get_subject_name(x),
				   X509_get_issuer_name(x)) == 0);
	copy_row_end(b);
	X509_free(x);
	return jbuf_error(b);
}

int cert_copy_row(struct jbuf *b, const uint8_t *der, size_t len)
{
	return cert_cache_row(cert_cache_global(), b, der, len, NULL, make_row);
}
