/*
 * One face for the six client mail services of M12 (RFC 6186, RFC 8314)
 * over the three sessions that speak them: SMTP (crawler/smtp/smtp.h, in
 * its STARTTLS or implicit mode), IMAP (imap.h) and POP3 (pop3.h). The
 * endpoint plumbing holds one struct mail_session per probe, turns its
 * events into the calls below exactly as for smtp_on_*(), and reads the
 * facts in mailrc.h's vocabulary from mail_session_facts().
 *
 * The protocol and the TLS mode come from the service, never from the
 * port: an SRV record may name any port.
 *
 *   service       protocol  TLS        default port
 *   submissions   smtp      implicit   465
 *   submission    smtp      starttls   587
 *   imaps         imap      implicit   993
 *   imap          imap      starttls   143
 *   pop3s         pop3      implicit   995
 *   pop3          pop3      starttls   110
 */
#ifndef MXCRAWL_CRAWLER_MAILPROTO_MAILSESS_H
#define MXCRAWL_CRAWLER_MAILPROTO_MAILSESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/mailproto/imap.h"
#include "crawler/mailproto/mailrc.h"
#include "crawler/mailproto/pop3.h"
#include "crawler/smtp/smtp.h"

/* The six services, in a fixed order (submissions first). */
enum mail_service {
	MAIL_SVC_SUBMISSIONS = 0,
	MAIL_SVC_SUBMISSION,
	MAIL_SVC_IMAPS,
	MAIL_SVC_IMAP,
	MAIL_SVC_POP3S,
	MAIL_SVC_POP3,
	MAIL_SVC_LAST
};

/* "submissions" ... "pop3" (the SRV label without "_"); "unknown" when
 * out of range. */
const char *mail_service_str(enum mail_service svc);
/* The service of a name of mail_service_str() (exact, lower case); -1
 * when there is none. */
int mail_service_from_str(const char *name);

enum mail_proto {
	MAIL_PROTO_SMTP = 0,
	MAIL_PROTO_IMAP,
	MAIL_PROTO_POP3,
	MAIL_PROTO_LAST
};

/* "smtp", "imap", "pop3"; "unknown" when out of range. */
const char *mail_proto_str(enum mail_proto p);

enum mail_tls {
	MAIL_TLS_IMPLICIT = 0, /* handshake at connect (RFC 8314) */
	MAIL_TLS_STARTTLS,     /* STARTTLS / STLS after the greeting */
	MAIL_TLS_LAST
};

/* "implicit", "starttls"; "unknown" when out of range. */
const char *mail_tls_str(enum mail_tls t);

/* The service's protocol, TLS mode and default port (RFC 6186, RFC
 * 8314); out of range: SMTP, STARTTLS, 0. */
enum mail_proto mail_service_proto(enum mail_service svc);
enum mail_tls mail_service_tls(enum mail_service svc);
unsigned mail_service_port(enum mail_service svc);

/* The client-port name for an SMTP outcome: starttls_ok -> tls_ok,
 * banner_rejected -> greeting_rejected, banner_timeout ->
 * greeting_timeout, ehlo_rejected -> capability_rejected; every other
 * name is the same. */
enum mail_rc mail_rc_from_smtp(enum smtp_rc rc);

/* One probe's session: the service says which member is live. */
struct mail_session {
	enum mail_service service;
	union {
		struct smtp_session smtp;
		struct imap_session imap;
		struct pop3_session pop3;
	} u;
};

/*
 * Prepares m for one connection of the service. ehlo_name is what the
 * SMTP services say in EHLO (smtp_session_init() checks it; the others
 * ignore it and may get NULL); limits may be NULL for the defaults.
 * Returns 0, or -EINVAL for a service out of range or a bad name.
 * Allocates nothing; mail_session_free() releases what the session
 * allocates as it goes. After a failed init only mail_session_free()
 * may be called.
 */
int mail_session_init(struct mail_session *m, enum mail_service svc,
		      const char *ehlo_name, const struct smtp_limits *limits);
void mail_session_free(struct mail_session *m);

/* The events, as smtp.h's smtp_on_*(), dispatched to the service's
 * session. */
enum smtp_action mail_on_connected(struct mail_session *m);
enum smtp_action mail_on_connect_failed(struct mail_session *m);
enum smtp_action mail_on_data(struct mail_session *m, const uint8_t *buf,
			      size_t len);
enum smtp_action mail_on_eof(struct mail_session *m);
enum smtp_action mail_on_reset(struct mail_session *m);
enum smtp_action mail_on_timeout(struct mail_session *m, enum smtp_timer which);
enum smtp_action mail_on_tls_done(struct mail_session *m, bool ok,
				  const char *reason);
const uint8_t *mail_session_output(const struct mail_session *m, size_t *len);
unsigned mail_session_stage_timeout_ms(const struct mail_session *m);

/* The facts every service has, in mailrc.h's vocabulary. Pointers
 * point into the session: valid until mail_session_free(). */
struct mail_facts {
	enum mail_rc outcome;
	const char *end_state; /* the protocol's state name */
	enum mail_greeting greeting;
	/* true/false/null (UNSEEN): from a capability list read whole in
	 * plaintext; null with implicit TLS. */
	enum smtp_fact starttls_offered;
	enum smtp_fact injection; /* null when no OK to STARTTLS/STLS */
	size_t injected_bytes;
	size_t unsolicited_bytes;
	/* NONE, or (SMTP) xxxxxxxa / masked_banner, or advertised_refused. */
	enum smtp_stripping stripping;
	bool tls_ok;
	const char *tls_reason; /* "" unless the handshake failed */
	/* The greeting's and the STARTTLS/STLS answer's code as the
	 * protocol writes it: SMTP "220", IMAP "OK", "PREAUTH", "BYE",
	 * "NO", "BAD", POP3 "+OK", "-ERR"; "" when none was read. */
	char greeting_code[8];
	char starttls_code[8];
	/* The greeting's first line, raw (not NUL-terminated): SMTP the
	 * text after the code (as facts.banner), IMAP and POP3 the whole
	 * line without its line end. Never NULL. */
	const uint8_t *greeting_line;
	size_t greeting_len;
	/* The raw conversation, both directions (smtp.h). */
	const struct smtp_transcript *transcript;
};

/* Fills *out from the live session; complete once outcome is not
 * MAIL_RC_PENDING. */
void mail_session_facts(const struct mail_session *m, struct mail_facts *out);

#endif
