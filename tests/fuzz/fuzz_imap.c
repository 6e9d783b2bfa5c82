/*
 * Fuzz target for crawler/mailproto/imap.c (and mailline.c under it): the
 * input is a script of events for one session. The first byte picks the
 * mode (even: STARTTLS, odd: implicit TLS); then the events of
 * fuzz_script.h.
 *
 * Whatever the peer does, the client may only send a1 CAPABILITY, a2
 * STARTTLS and LOGOUT (a3, or a1 with implicit TLS), in an order the flow
 * allows, each only in answer to a line (or to a finished handshake);
 * never LOGIN or AUTHENTICATE; start TLS only after the OK to STARTTLS
 * (or at connect with implicit TLS); send nothing but LOGOUT inside TLS;
 * and once it said close, keep saying close with the same outcome. The
 * transcript and the capability list stay within their bounds.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/imap.h"
#include "fuzz_script.h"

#define FUZZ_INPUT_MAX (128 * 1024)

enum cmd {
	C_NONE = 0,
	C_CAPABILITY,
	C_STARTTLS,
	C_LOGOUT,
};

static struct imap_session session;

static enum cmd classify(const uint8_t *out, size_t len, bool implicit)
{
	static const struct {
		const char *text;
		enum cmd cmd;
	} known[] = {
		{ "a1 CAPABILITY\r\n", C_CAPABILITY },
		{ "a2 STARTTLS\r\n", C_STARTTLS },
		{ "a3 LOGOUT\r\n", C_LOGOUT },
		{ "a1 LOGOUT\r\n", C_LOGOUT },
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (len == strlen(known[i].text) &&
		    memcmp(out, known[i].text, len) == 0) {
			/* The LOGOUT tag says the mode. */
			if (known[i].cmd == C_LOGOUT &&
			    (out[1] == '1') != implicit)
				abort();
			return known[i].cmd;
		}
	abort();
}

/* May `next` follow `last`? */
static bool allowed(enum cmd last, enum cmd next, bool implicit)
{
	if (implicit)
		return last == C_NONE && next == C_LOGOUT;
	switch (last) {
	case C_NONE:
		return next == C_CAPABILITY || next == C_STARTTLS ||
		       next == C_LOGOUT;
	case C_CAPABILITY:
		return next == C_STARTTLS || next == C_LOGOUT;
	case C_STARTTLS:
		return next == C_LOGOUT;
	default:
		return false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_session *s = &session;
	enum cmd last = C_NONE;
	bool closed = false, tls_started = false, tls_up = false, implicit;
	enum mail_rc final = MAIL_RC_PENDING;
	size_t i = 1, ncmds = 0;
	struct fuzz_event ev;

	if (size < 1 || size > FUZZ_INPUT_MAX)
		return 0;
	implicit = data[0] & 1;
	if (imap_session_init(
		s, implicit ? IMAP_MODE_IMPLICIT : IMAP_MODE_STARTTLS, NULL) !=
	    0)
		abort();
	while (fuzz_next(data, size, &i, &ev)) {
		enum smtp_action a = fuzz_core_event(&s->core, &ev);
		/* A command answers a line, or the end of the handshake. */
		bool may_send =
		    ev.op == FUZZ_DATA || (ev.op == FUZZ_TLS_OK &&
					   tls_started && !tls_up && !implicit);

		if ((unsigned)a >= SMTP_ACT_LAST)
			abort();
		if (closed) {
			if (a != SMTP_ACT_CLOSE ||
			    s->core.facts.outcome != final)
				abort();
			continue;
		}
		if (a == SMTP_ACT_SEND) {
			size_t len;
			const uint8_t *out = mail_core_output(&s->core, &len);
			enum cmd c = classify(out, len, implicit);
			if (!may_send || !allowed(last, c, implicit) ||
			    ++ncmds > 3)
				abort();
			if (s->core.in_tls && c != C_LOGOUT)
				abort();
			if (ev.op == FUZZ_TLS_OK)
				tls_up = true;
			last = c;
		} else if (a == SMTP_ACT_START_TLS) {
			if (tls_started)
				abort();
			if (implicit
				? last != C_NONE
				: (ev.op != FUZZ_DATA || last != C_STARTTLS ||
				   s->facts.starttls_status != IMAP_STATUS_OK))
				abort();
			tls_started = true;
		} else if (a == SMTP_ACT_CLOSE) {
			closed = true;
			final = s->core.facts.outcome;
			if (final == MAIL_RC_PENDING ||
			    (unsigned) final >= MAIL_RC_LAST ||
			    s->core.state != IMAP_ST_DONE ||
			    mail_core_stage_timeout_ms(&s->core) != 0 ||
			    s->core.work)
				abort();
			if (final == MAIL_RC_TLS_OK && !s->core.facts.tls_ok)
				abort();
		}
		if (ev.op == FUZZ_TLS_OK && implicit && s->core.facts.tls_ok)
			tls_up = true;
		if (s->core.facts.tls_ok != tls_up || s->core.in_tls != tls_up)
			abort();
		/* Facts never go beyond what the session saw. */
		if (s->core.facts.injection != SMTP_FACT_UNSEEN &&
		    (!tls_started || implicit))
			abort();
		if (implicit &&
		    s->core.facts.starttls_offered != SMTP_FACT_UNSEEN)
			abort();
		if (s->facts.ncaps > IMAP_CAPS_MAX ||
		    (unsigned)s->core.facts.greeting >= MAIL_GREETING_LAST)
			abort();
		if ((s->core.facts.outcome == MAIL_RC_PENDING) !=
		    (s->core.state != IMAP_ST_LOGOUT &&
		     s->core.state != IMAP_ST_DONE && !(implicit && tls_up)))
			abort();
		fuzz_check_transcript(&s->core.transcript);
	}
	if (strcmp(mail_rc_str(s->core.facts.outcome), "unknown") == 0)
		abort();
	imap_session_free(s);
	return 0;
}
