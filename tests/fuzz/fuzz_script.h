/*
 * The event script the session fuzz targets share (fuzz_smtp.c,
 * fuzz_imap.c, fuzz_pop3.c, fuzz_mailsess.c): after the target's own
 * first bytes, if any, each event is one byte, op = byte % 8:
 *
 *   0 data: the next byte is a length n, then n bytes received
 *   1 end of stream    2 reset           3 stage timer
 *   4 deadline         5 handshake ok    6 handshake failed
 *   7 connected
 *
 * the checks every session's transcript must pass, and the run of an
 * IMAP or POP3 session through a script with the checks both must pass
 * (fuzz_core_run()). Header only, so that each target stays one file
 * (tests/CMakeLists.txt).
 */
#ifndef MXCRAWL_TESTS_FUZZ_FUZZ_SCRIPT_H
#define MXCRAWL_TESTS_FUZZ_FUZZ_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/mailcore.h"
#include "crawler/smtp/smtp.h"

enum fuzz_op {
	FUZZ_DATA = 0,
	FUZZ_EOF,
	FUZZ_RESET,
	FUZZ_STAGE_TIMER,
	FUZZ_DEADLINE,
	FUZZ_TLS_OK,
	FUZZ_TLS_FAILED,
	FUZZ_CONNECTED,
};

/* One event of the script; buf and len for FUZZ_DATA (len may be 0). */
struct fuzz_event {
	enum fuzz_op op;
	const uint8_t *buf;
	size_t len;
};

/* The event at data[*i] of size bytes in all, into *ev; *i moves past it.
 * Returns false at the end of the script. */
static inline bool fuzz_next(const uint8_t *data, size_t size, size_t *i,
			     struct fuzz_event *ev)
{
	size_t n;

	if (*i >= size)
		return false;
	ev->op = (enum fuzz_op)(data[(*i)++] % 8);
	ev->buf = NULL;
	ev->len = 0;
	if (ev->op != FUZZ_DATA)
		return true;
	n = *i < size ? data[(*i)++] : 0;
	if (n > size - *i)
		n = size - *i;
	ev->buf = data + *i;
	ev->len = n;
	*i += n;
	return true;
}

/* The event for an IMAP or POP3 session (mailcore.h); a failed handshake
 * says "fuzz". */
static inline enum smtp_action fuzz_core_event(struct mail_core *c,
					       const struct fuzz_event *ev)
{
	switch (ev->op) {
	case FUZZ_DATA:
		return mail_core_on_data(c, ev->buf, ev->len);
	case FUZZ_EOF:
		return mail_core_on_input(c, MAIL_IN_EOF);
	case FUZZ_RESET:
		return mail_core_on_input(c, MAIL_IN_RESET);
	case FUZZ_STAGE_TIMER:
		return mail_core_on_input(c, MAIL_IN_STAGE_TIMEOUT);
	case FUZZ_DEADLINE:
		return mail_core_on_input(c, MAIL_IN_DEADLINE);
	case FUZZ_TLS_OK:
		return mail_core_on_tls_done(c, true, NULL);
	case FUZZ_TLS_FAILED:
		return mail_core_on_tls_done(c, false, "fuzz");
	default:
		return mail_core_on_input(c, MAIL_IN_CONNECTED);
	}
}

/* Aborts unless t is within its bounds and its segments tile its bytes
 * in order, each with a direction. */
static inline void fuzz_check_transcript(const struct smtp_transcript *t)
{
	size_t off = 0;

	if (t->len > SMTP_TRANSCRIPT_MAX || t->nseg > SMTP_TRANSCRIPT_SEGS)
		abort();
	for (size_t i = 0; i < t->nseg; i++) {
		if (t->seg[i].off != off || t->seg[i].len == 0 ||
		    t->seg[i].dir > SMTP_DIR_DISCARDED)
			abort();
		off += t->seg[i].len;
	}
	if (off != t->len || (t->dropped && !t->truncated))
		abort();
}

/*
 * What an IMAP or POP3 target tells fuzz_core_run() about its protocol.
 * Commands are the target's own numbers, 0 for none yet.
 */
struct fuzz_core_proto {
	/* The command sent (out, len bytes): aborts on anything else. */
	int (*classify)(const uint8_t *out, size_t len, bool implicit);
	/* May command next follow command last? */
	bool (*allowed)(int last, int next, bool implicit);
	int starttls; /* STARTTLS / STLS */
	int bye;      /* LOGOUT / QUIT: the only command inside TLS */
	/* The OK to starttls was read (the protocol's status fact). */
	bool (*starttls_ok)(const struct mail_core *c);
	/* The protocol's own facts are within their bounds. */
	bool (*facts_ok)(const struct mail_core *c);
};

/*
 * Runs the script at data[i..size) through the IMAP or POP3 session of
 * c (freshly initialised, implicit TLS or not) and aborts when the
 * client does what it must never do, whatever the peer does: send a
 * command but in answer to a line (or to a finished handshake), out of
 * the order p allows, more than three, or anything but p->bye inside
 * TLS; start TLS but at connect (implicit) or after the OK to starttls;
 * say anything but close, with the same outcome, once it said close;
 * raise a fact beyond what it saw; let the transcript out of its bounds.
 */
static inline void fuzz_core_run(struct mail_core *c,
				 const struct fuzz_core_proto *p,
				 const uint8_t *data, size_t size, size_t i,
				 bool implicit)
{
	const struct mail_core_facts *f = &c->facts;
	bool closed = false, tls_started = false, tls_up = false;
	enum mail_rc final = MAIL_RC_PENDING;
	size_t ncmds = 0;
	int last = 0;
	struct fuzz_event ev;

	while (fuzz_next(data, size, &i, &ev)) {
		enum smtp_action a = fuzz_core_event(c, &ev);
		/* A command answers a line, or the end of the handshake. */
		bool may_send =
		    ev.op == FUZZ_DATA || (ev.op == FUZZ_TLS_OK &&
					   tls_started && !tls_up && !implicit);

		if ((unsigned)a >= SMTP_ACT_LAST)
			abort();
		if (closed) {
			if (a != SMTP_ACT_CLOSE || f->outcome != final)
				abort();
			continue;
		}
		if (a == SMTP_ACT_SEND) {
			size_t len;
			const uint8_t *out = mail_core_output(c, &len);
			int cmd = p->classify(out, len, implicit);

			if (!may_send || !p->allowed(last, cmd, implicit) ||
			    ++ncmds > 3)
				abort();
			if (c->in_tls && cmd != p->bye)
				abort();
			if (ev.op == FUZZ_TLS_OK)
				tls_up = true;
			last = cmd;
		} else if (a == SMTP_ACT_START_TLS) {
			if (tls_started)
				abort();
			if (implicit
				? last != 0
				: (ev.op != FUZZ_DATA || last != p->starttls ||
				   !p->starttls_ok(c)))
				abort();
			tls_started = true;
		} else if (a == SMTP_ACT_CLOSE) {
			closed = true;
			final = f->outcome;
			if (final == MAIL_RC_PENDING ||
			    (unsigned) final >= MAIL_RC_LAST ||
			    c->state != c->drv->st_done ||
			    mail_core_stage_timeout_ms(c) != 0 || c->work)
				abort();
			if (final == MAIL_RC_TLS_OK && !f->tls_ok)
				abort();
		}
		if (ev.op == FUZZ_TLS_OK && implicit && f->tls_ok)
			tls_up = true;
		if (f->tls_ok != tls_up || c->in_tls != tls_up)
			abort();
		/* Facts never go beyond what the session saw. */
		if (f->injection != SMTP_FACT_UNSEEN &&
		    (!tls_started || implicit))
			abort();
		if (implicit && f->starttls_offered != SMTP_FACT_UNSEEN)
			abort();
		if (!p->facts_ok(c) ||
		    (unsigned)f->greeting >= MAIL_GREETING_LAST)
			abort();
		if ((f->outcome == MAIL_RC_PENDING) !=
		    (c->state != c->drv->st_quit &&
		     c->state != c->drv->st_done && !(implicit && tls_up)))
			abort();
		fuzz_check_transcript(&c->transcript);
	}
	if (strcmp(mail_rc_str(f->outcome), "unknown") == 0)
		abort();
}

#endif
