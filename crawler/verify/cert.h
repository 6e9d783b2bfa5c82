/*
 * Certificates as stored: a SHA-256 key and the parsed columns of the
 * `certificate` table, written as a COPY row. Parsing is OpenSSL's; the
 * DER comes from the network and is kept as is.
 */
#ifndef MXCRAWL_CRAWLER_CERT_H
#define MXCRAWL_CRAWLER_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "crawler/util/jbuf.h"

#define CERT_SHA256_LEN 32

/* SHA-256 of der into out. 0, or -ENOMEM: OpenSSL's digest fails only
 * when it cannot allocate its context (SHA-256 is always built in). */
int cert_sha256(const uint8_t *der, size_t len, uint8_t out[CERT_SHA256_LEN]);

/*
 * Appends the `certificate` row of der (see schema/005_endpoints.sql) to
 * b. A DER that OpenSSL cannot parse is still stored, with NULL parsed
 * columns. Returns 0, or b's error (jbuf_error(): -E2BIG, -ENOMEM), or
 * cert_sha256()'s.
 */
int cert_copy_row(struct jbuf *b, const uint8_t *der, size_t len);

/* The columns of cert_copy_row(), for COPY. */
extern const char cert_columns[];

#endif
