/*
 * Fuzz target for crawler/smtp/smtp.c: the input is a script of events for
 * one session, those of fuzz_script.h.
 *
 * Whatever the peer does, the client must only ever send EHLO or HELO
 * with our name, STARTTLS and QUIT, in an order the protocol allows; send
 * a command only in answer to a reply (or to a finished handshake); start
 * TLS only after STARTTLS; send nothing but QUIT inside TLS; and, once it
 * said close, keep saying close with the same outcome. The transcript
 * stays within its bounds.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/smtp/smtp.h"
#include "fuzz_script.h"

/* Room for a line over SMTP_REPLY_LINE_HARD_MAX in 255-byte events. */
#define FUZZ_INPUT_MAX (128 * 1024)
#define NAME "fuzz.example"

enum cmd {
	C_NONE = 0,
	C_EHLO,
	C_HELO,
	C_STARTTLS,
	C_QUIT,
};

static struct smtp_session session;

static enum cmd classify(const uint8_t *out, size_t len)
{
	static const struct {
		const char *text;
		enum cmd cmd;
	} known[] = {
		{ "EHLO " NAME "\r\n", C_EHLO },
		{ "HELO " NAME "\r\n", C_HELO },
		{ "STARTTLS\r\n", C_STARTTLS },
		{ "QUIT\r\n", C_QUIT },
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (len == strlen(known[i].text) &&
		    memcmp(out, known[i].text, len) == 0)
			return known[i].cmd;
	abort();
}

/* May `next` follow `last`? */
static bool allowed(enum cmd last, enum cmd next, bool tls)
{
	if (tls)
		return last == C_STARTTLS && next == C_QUIT;
	switch (last) {
	case C_NONE:
		return next == C_EHLO || next == C_QUIT;
	case C_EHLO:
		return next == C_HELO || next == C_STARTTLS || next == C_QUIT;
	case C_HELO:
	case C_STARTTLS:
		return next == C_QUIT;
	default:
		return false;
	}
}

/* The event for the SMTP session; a failed handshake says "fuzz". */
static enum smtp_action smtp_event(struct smtp_session *s,
				   const struct fuzz_event *ev)
{
	switch (ev->op) {
	case FUZZ_DATA:
		return smtp_on_data(s, ev->buf, ev->len);
	case FUZZ_EOF:
		return smtp_on_eof(s);
	case FUZZ_RESET:
		return smtp_on_reset(s);
	case FUZZ_STAGE_TIMER:
		return smtp_on_timeout(s, SMTP_TIMER_STAGE);
	case FUZZ_DEADLINE:
		return smtp_on_timeout(s, SMTP_TIMER_DEADLINE);
	case FUZZ_TLS_OK:
		return smtp_on_tls_done(s, true, NULL);
	case FUZZ_TLS_FAILED:
		return smtp_on_tls_done(s, false, "fuzz");
	default:
		return smtp_on_connected(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_session *s = &session;
	enum cmd last = C_NONE;
	bool closed = false, tls_started = false, tls_up = false;
	enum smtp_rc final = SMTP_RC_PENDING;
	size_t i = 0, ncmds = 0;
	struct fuzz_event ev;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	if (smtp_session_init(s, NAME, NULL) != 0)
		abort();
	while (fuzz_next(data, size, &i, &ev)) {
		enum smtp_action a = smtp_event(s, &ev);
		/* A command answers a reply, or the end of the handshake. */
		bool may_send = ev.op == FUZZ_DATA || (ev.op == FUZZ_TLS_OK &&
						       tls_started && !tls_up);

		if ((unsigned)a >= SMTP_ACT_LAST)
			abort();
		if (closed) {
			if (a != SMTP_ACT_CLOSE || s->facts.outcome != final)
				abort();
			continue;
		}
		if (a == SMTP_ACT_SEND) {
			size_t len;
			const uint8_t *out = smtp_session_output(s, &len);
			enum cmd c = classify(out, len);
			if (!may_send || !allowed(last, c, s->in_tls) ||
			    ++ncmds > 3)
				abort();
			if (ev.op == FUZZ_TLS_OK && c != C_QUIT)
				abort();
			if (ev.op == FUZZ_TLS_OK)
				tls_up = true;
			last = c;
		} else if (a == SMTP_ACT_START_TLS) {
			if (ev.op != FUZZ_DATA || last != C_STARTTLS ||
			    tls_started || s->facts.starttls_code != 220)
				abort();
			tls_started = true;
		} else if (a == SMTP_ACT_CLOSE) {
			closed = true;
			final = s->facts.outcome;
			if (final == SMTP_RC_PENDING ||
			    (unsigned) final >= SMTP_RC_LAST ||
			    s->state != SMTP_ST_DONE ||
			    smtp_session_stage_timeout_ms(s) != 0)
				abort();
			if (final == SMTP_RC_STARTTLS_OK && !s->facts.tls_ok)
				abort();
		}
		if (s->facts.tls_ok != tls_up || s->in_tls != tls_up)
			abort();
		/* Facts are never raised beyond what the session saw:
		 * an injection needs the 220 to STARTTLS, and STARTTLS is
		 * only offered (or not) in a 2xx or 5xx EHLO answer. */
		if (s->facts.injection != SMTP_FACT_UNSEEN && !tls_started)
			abort();
		if ((unsigned)s->facts.starttls_offered >= SMTP_FACT_LAST ||
		    (s->facts.starttls_offered != SMTP_FACT_UNSEEN &&
		     s->facts.ehlo_code / 100 != 2 &&
		     s->facts.ehlo_code / 100 != 5))
			abort();
		if ((s->facts.outcome == SMTP_RC_PENDING) !=
		    (s->state != SMTP_ST_QUIT && s->state != SMTP_ST_DONE &&
		     s->state != SMTP_ST_HELO))
			abort();
		fuzz_check_transcript(&s->transcript);
	}
	if (strcmp(smtp_rc_str(s->facts.outcome), "unknown") == 0)
		abort();
	smtp_session_free(s);
	return 0;
}
