/*
 * Fuzz target for crawler/mailproto/mailsess.c and the three sessions
 * behind it, the SMTP session's implicit TLS mode (submissions) included:
 * the first byte picks the service (byte % 6, the contract's order), then
 * each event is one byte, op = byte % 8, as in fuzz_smtp.c:
 *
 *   0 data: the next byte is a length n, then n bytes received
 *   1 end of stream    2 reset           3 stage timer
 *   4 deadline         5 handshake ok    6 handshake failed
 *   7 connected
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_session *m = &session;
	enum mail_service svc;
	bool closed = false, tls_started = false, implicit;
	enum mail_rc final = MAIL_RC_PENDING;
	size_t i = 1, ncmds = 0;
	struct mail_facts f;

	if (size < 1 || size > FUZZ_INPUT_MAX)
		return 0;
	svc = (enum mail_service)(data[0] % MAIL_SVC_LAST);
	implicit = mail_service_tls(svc) == MAIL_TLS_IMPLICIT;
	if (mail_session_init(m, svc, NAME, NULL) != 0)
		abort();
	while (i < size) {
		uint8_t op = data[i++] % 8;
		enum smtp_action a;

		switch (op) {
		case 0: {
			size_t n = i < size ? data[i++] : 0;
			if (n > size - i)
				n = size - i;
			a = mail_on_data(m, data + i, n);
			i += n;
			break;
		}
		case 1:
			a = mail_on_eof(m);
			break;
		case 2:
			a = mail_on_reset(m);
			break;
		case 3:
			a = mail_on_timeout(m, SMTP_TIMER_STAGE);
			break;
		case 4:
			a = mail_on_timeout(m, SMTP_TIMER_DEADLINE);
			break;
		case 5:
			a = mail_on_tls_done(m, true, NULL);
			break;
		case 6:
			a = mail_on_tls_done(m, false, "fuzz");
			break;
		default:
			a = mail_on_connected(m);
			break;
		}
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
