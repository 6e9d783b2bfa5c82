/*
 * Fuzz target for crawler/mailproto/mailsess.c and the three sessions
 * behind it, the SMTP session's implicit TLS mode (submissions) included:
 * the first byte picks the service (byte % 6, the contract's order), then
 * the events of fuzz_script.h.
 *
 * Whatever the peer does, the client sends only its protocol's probe
 * commands (never credentials, MAIL FROM or AUTH), at most three, starts
 * TLS at most once (implicit services: before any command), and once it
 * said close keeps saying close with the same outcome, which is then
 * final and has a contract name. The facts keep to their ranges.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/mailsess.h"
#include "fuzz_script.h"

#define FUZZ_INPUT_MAX (128 * 1024)
#define NAME "fuzz.example"

static struct mail_session session;

/* Is out one of the protocol's probe commands? */
static bool known(enum mail_proto p, const uint8_t *out, size_t len)
{
	static const char *const smtp[] = { "EHLO " NAME "\r\n",
					    "HELO " NAME "\r\n", "STARTTLS\r\n",
					    "QUIT\r\n", NULL };
	static const char *const imap[] = { "a1 CAPABILITY\r\n",
					    "a2 STARTTLS\r\n", "a3 LOGOUT\r\n",
					    "a1 LOGOUT\r\n", NULL };
	static const char *const pop3[] = { "CAPA\r\n", "STLS\r\n", "QUIT\r\n",
					    NULL };
	const char *const *t = p == MAIL_PROTO_IMAP   ? imap
			       : p == MAIL_PROTO_POP3 ? pop3
						      : smtp;

	for (; *t; t++)
		if (len == strlen(*t) && memcmp(out, *t, len) == 0)
			return true;
	return false;
}

/* The event for the service's session; a failed handshake says "fuzz". */
static enum smtp_action sess_event(struct mail_session *m,
				   const struct fuzz_event *ev)
{
	switch (ev->op) {
	case FUZZ_DATA:
		return mail_on_data(m, ev->buf, ev->len);
	case FUZZ_EOF:
		return mail_on_eof(m);
	case FUZZ_RESET:
		return mail_on_reset(m);
	case FUZZ_STAGE_TIMER:
		return mail_on_timeout(m, SMTP_TIMER_STAGE);
	case FUZZ_DEADLINE:
		return mail_on_timeout(m, SMTP_TIMER_DEADLINE);
	case FUZZ_TLS_OK:
		return mail_on_tls_done(m, true, NULL);
	case FUZZ_TLS_FAILED:
		return mail_on_tls_done(m, false, "fuzz");
	default:
		return mail_on_connected(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_session *m = &session;
	enum mail_service svc;
	bool closed = false, tls_started = false, implicit;
	enum mail_rc final = MAIL_RC_PENDING;
	size_t i = 1, ncmds = 0;
	struct mail_facts f;
	struct fuzz_event ev;

	if (size < 1 || size > FUZZ_INPUT_MAX)
		return 0;
	svc = (enum mail_service)(data[0] % MAIL_SVC_LAST);
	implicit = mail_service_tls(svc) == MAIL_TLS_IMPLICIT;
	if (mail_session_init(m, svc, NAME, NULL) != 0)
		abort();
	while (fuzz_next(data, size, &i, &ev)) {
		enum smtp_action a = sess_event(m, &ev);

		if ((unsigned)a >= SMTP_ACT_LAST)
			abort();
		mail_session_facts(m, &f);
		if (closed) {
			if (a != SMTP_ACT_CLOSE || f.outcome != final)
				abort();
			continue;
		}
		if (a == SMTP_ACT_SEND) {
			size_t len;
			const uint8_t *out = mail_session_output(m, &len);
			if (!known(mail_service_proto(svc), out, len) ||
			    ++ncmds > 3 || (implicit && !f.tls_ok))
				abort();
		} else if (a == SMTP_ACT_START_TLS) {
			if (tls_started || (implicit && ncmds > 0) ||
			    (!implicit && ncmds == 0))
				abort();
			tls_started = true;
		} else if (a == SMTP_ACT_CLOSE) {
			closed = true;
			final = f.outcome;
			if (final == MAIL_RC_PENDING ||
			    strcmp(mail_rc_str(final), "unknown") == 0 ||
			    mail_session_stage_timeout_ms(m) != 0)
				abort();
		}
		if (f.tls_ok && !tls_started)
			abort();
		if ((unsigned)f.greeting >= MAIL_GREETING_LAST ||
		    (unsigned)f.starttls_offered >= SMTP_FACT_LAST ||
		    (unsigned)f.injection >= SMTP_FACT_LAST ||
		    (implicit && (f.injection != SMTP_FACT_UNSEEN ||
				  f.starttls_offered != SMTP_FACT_UNSEEN)) ||
		    !f.greeting_line || !f.transcript || !f.end_state ||
		    f.transcript->len > SMTP_TRANSCRIPT_MAX)
			abort();
	}
	mail_session_free(m);
	return 0;
}
