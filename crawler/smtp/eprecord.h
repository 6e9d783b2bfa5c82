/*
 * The handshake record of one endpoint probe: a self-describing JSON
 * document (the SMTP transcript, the TLS parameters, the chain as
 * certificate hashes, timings). The store compresses and keeps it
 * (store/record.h) without knowing what is inside; this file is the one
 * that knows an endpoint's result.
 */
#ifndef MXCRAWL_SMTP_EPRECORD_H
#define MXCRAWL_SMTP_EPRECORD_H

#include "crawler/smtp/endpoint.h"
#include "crawler/util/jbuf.h"

/* Appends the record of a finished endpoint probe to b as one line of
 * JSON (no raw newline inside). 0, or b's error (jbuf_error()). */
int eprecord_json(struct jbuf *b, const struct endpoint_result *r);

#endif
