/*
 * The mail client endpoints of M12 (RFC 6186, RFC 8314) on the endpoint
 * plumbing: the ops table that drives mailsess.h's sessions through
 * endpoint_probe_ops() (the service, an enum mail_service, picks SMTP,
 * IMAP or POP3 and implicit TLS or STARTTLS), and the client_endpoint row
 * of a finished probe (schema/029). The layering keeps smtp/ below
 * mailproto/, so this glue lives with the scan that uses both.
 */
#ifndef MXCRAWL_CRAWLER_SCAN_CLIENTEP_H
#define MXCRAWL_CRAWLER_SCAN_CLIENTEP_H

#include <stdbool.h>
#include <stdint.h>

#include "crawler/mailproto/mailsess.h"
#include "crawler/smtp/endpoint.h"
#include "crawler/util/jbuf.h"
#include "crawler/verify/verify.h"

/* The ops of every client service; `service` is an enum mail_service
 * (init() refuses others with -EINVAL). */
extern const struct endpoint_ops clientep_ops;

/* The facts of a finished client probe (r from clientep_ops), or NULL
 * when the probe has no session (out of memory before it started). */
const struct mail_session *clientep_session(const struct endpoint_result *r);

/*
 * The client_endpoint row of r to b (the columns of
 * table_columns[TABLE_CLIENT_ENDPOINT]) and the certificate rows of its
 * chain to certs. vr: the chain's judgement (name against the SRV target
 * = r->sni), or NULL when there is none (no chain, or it could not be
 * judged).
 */
void clientep_row(struct jbuf *b, struct jbuf *certs, int64_t campaign_id,
		  const char *worker, const struct endpoint_result *r,
		  const struct verify_result *vr);

#endif
