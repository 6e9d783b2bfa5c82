/*
 * The session mechanics IMAP and POP3 share: see mailcore.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/mailcore.h"

const uint8_t mail_greeting_none[1];

enum mail_input mail_input_of_timer(enum smtp_timer which)
{
	return which == SMTP_TIMER_DEADLINE ? MAIL_IN_DEADLINE
					    : MAIL_IN_STAGE_TIMEOUT;
}

enum mail_rc mail_input_end_rc(enum mail_input in, enum mail_rc bad)
{
	switch (in) {
	case MAIL_IN_EOF:
		return MAIL_RC_CONNECTION_CLOSED;
	case MAIL_IN_RESET:
		return MAIL_RC_CONNECTION_RESET;
	case MAIL_IN_CONNECT_FAILED:
		return MAIL_RC_CONNECT_FAILED;
	case MAIL_IN_STAGE_TIMEOUT:
		return MAIL_RC_TIMEOUT;
	case MAIL_IN_DEADLINE:
		return MAIL_RC_DEADLINE;
	case MAIL_IN_BAD_LINE:
		return bad;
	case MAIL_IN_LINE:
	case MAIL_IN_LIST_LINE:
	case MAIL_IN_GARBAGE:
		/* A line the state cannot take: garbage, an IMAP
		 * continuation request or tag we never asked for. */
		return MAIL_RC_PROTOCOL_ERROR;
	default:
		/* A TLS result outside the handshake: the caller's bug. */
		return MAIL_RC_INTERNAL_ERROR;
	}
}

const char *mail_input_tls_reason(enum mail_input in)
{
	switch (in) {
	case MAIL_IN_EOF:
		return "eof";
	case MAIL_IN_RESET:
		return "reset";
	case MAIL_IN_STAGE_TIMEOUT:
		return "timeout";
	default:
		return "error";
	}
}

void mail_observe(enum smtp_fact *f, bool yes)
{
	if (yes)
		*f = SMTP_FACT_YES;
	else if (*f == SMTP_FACT_UNSEEN)
		*f = SMTP_FACT_NO;
}

void mail_tls_reason_set(char *dst, size_t size, const char *reason)
{
	if (!reason || dst[0])
		return;
	snprintf(dst, size, "%s", reason);
}

void mail_greeting_keep(const struct mail_line_reader *r, const uint8_t **line,
			size_t *len)
{
	uint8_t *b;

	if (r->len == 0 || *len != 0)
		return;
	b = malloc(r->len);
	if (!b)
		return;
	memcpy(b, r->line, r->len);
	*line = b;
	*len = r->len;
}

void mail_greeting_free(const uint8_t **line, size_t *len)
{
	if (*line != mail_greeting_none)
		free((void *)*line);
	*line = mail_greeting_none;
	*len = 0;
}

void mail_answer_init(struct mail_answer *a, size_t lines_max, size_t bytes_max)
{
	memset(a, 0, sizeof *a);
	a->lines_max = lines_max;
	a->bytes_max = bytes_max;
}

void mail_answer_start(struct mail_answer *a)
{
	a->lines = 0;
	a->bytes = 0;
}

int mail_answer_feed(struct mail_answer *a, struct mail_line_reader *rd,
		     struct smtp_transcript *t, bool in_tls,
		     const uint8_t **buf, size_t *len,
		     enum mail_line_rc *line_rc, enum smtp_fact *bare_lf)
{
	enum mail_line_rc rc;
	size_t used;

	rc = mail_line_feed(rd, *buf, *len, &used);
	smtp_transcript_add(t, SMTP_DIR_RECEIVED, in_tls, *buf, used);
	*buf += used;
	*len -= used;
	a->bytes += used;
	if (rc == MAIL_LINE_OK)
		a->lines++;
	if (rc != MAIL_LINE_OK && rc != MAIL_LINE_RC_INCOMPLETE) {
		/* A reader without literals (POP3) fails only too_long. */
		*line_rc = rc;
		a->bad = rc == MAIL_LINE_RC_TOO_LONG ? MAIL_RC_LINE_TOO_LONG
						     : MAIL_RC_REPLY_TOO_LARGE;
		return MAIL_IN_BAD_LINE;
	}
	if (a->bytes > a->bytes_max || a->lines > a->lines_max) {
		a->bad = MAIL_RC_REPLY_TOO_LARGE;
		return MAIL_IN_BAD_LINE;
	}
	if (rc == MAIL_LINE_RC_INCOMPLETE)
		return -1;
	mail_observe(bare_lf, rd->bare_lf);
	return MAIL_IN_LINE;
}

void mail_discard(struct smtp_transcript *t, bool in_tls, bool after_ok,
		  const uint8_t *buf, size_t len, enum smtp_fact *injection,
		  size_t *injected, size_t *unsolicited)
{
	smtp_transcript_add(t, SMTP_DIR_DISCARDED, in_tls, buf, len);
	if (after_ok) {
		*injection = SMTP_FACT_YES;
		*injected += len;
	} else {
		*unsolicited += len;
	}
}

void mail_core_init(struct mail_core *c, const struct smtp_limits *limits,
		    size_t lines_max, size_t bytes_max)
{
	memset(c, 0, sizeof *c);
	if (limits)
		c->limits = *limits;
	else
		smtp_limits_default(&c->limits);
	mail_answer_init(&c->answer, lines_max, bytes_max);
}

void mail_core_start(struct mail_core *c, const struct mail_driver *drv,
		     bool implicit, const struct smtp_limits *limits,
		     size_t lines_max, size_t bytes_max)
{
	mail_core_init(c, limits, lines_max, bytes_max);
	c->drv = drv;
	c->implicit = implicit;
	c->facts.outcome = MAIL_RC_PENDING;
	c->facts.line_rc = MAIL_LINE_OK;
	c->facts.greeting_line = mail_greeting_none;
}

static void work_drop(struct mail_core *c)
{
	free(c->work);
	c->work = NULL;
}

void mail_core_free(struct mail_core *c)
{
	work_drop(c);
	mail_greeting_free(&c->facts.greeting_line, &c->facts.greeting_len);
	smtp_transcript_free(&c->transcript);
}

enum smtp_action mail_core_send(struct mail_core *c, const char *tag,
				const char *verb)
{
	int n = tag ? snprintf((char *)c->out, sizeof c->out, "%s %s\r\n", tag,
			       verb)
		    : snprintf((char *)c->out, sizeof c->out, "%s\r\n", verb);

	/* Bounded by construction: our tags and verbs are constants. */
	c->out_len = (size_t)n;
	mail_answer_start(&c->answer);
	return SMTP_ACT_SEND;
}

enum smtp_action mail_core_emit(const struct mail_core *c,
				struct smtp_transcript *t, bool in_tls,
				enum smtp_action act)
{
	if (act == SMTP_ACT_SEND)
		smtp_transcript_add(t, SMTP_DIR_SENT, in_tls, c->out,
				    c->out_len);
	return act;
}

const uint8_t *mail_core_output(const struct mail_core *c, size_t *len)
{
	*len = c->out_len;
	return c->out;
}

unsigned mail_core_stage_ms(const struct mail_core *c, enum mail_stage st)
{
	switch (st) {
	case MAIL_STAGE_CONNECT:
		return c->limits.connect_ms;
	case MAIL_STAGE_GREETING:
		return c->limits.banner_ms;
	case MAIL_STAGE_COMMAND:
		return c->limits.command_ms;
	case MAIL_STAGE_TLS:
		return c->limits.tls_ms;
	case MAIL_STAGE_QUIT:
		return c->limits.quit_ms;
	default:
		return 0;
	}
}

enum mail_stage mail_core_stage(const struct mail_core *c)
{
	return c->state < c->drv->nstates ? c->drv->states[c->state].stage
					  : MAIL_STAGE_NONE;
}

unsigned mail_core_stage_timeout_ms(const struct mail_core *c)
{
	return mail_core_stage_ms(c, mail_core_stage(c));
}

const char *mail_core_state_str(const struct mail_core *c, unsigned st)
{
	return st < c->drv->nstates ? c->drv->states[st].name : "unknown";
}

enum smtp_action mail_core_step(struct mail_core *c, enum mail_input in)
{
	const struct mail_driver *d = c->drv;

	for (;;) {
		unsigned before = c->state;
		enum smtp_action act;

		if (before >= d->nstates || !d->states[before].run)
			return SMTP_ACT_CLOSE;
		act = d->states[before].run(c, in);
		if (c->state == before)
			return act;
		in = MAIL_IN_ENTER;
	}
}

void mail_core_set_state(struct mail_core *c, unsigned st)
{
	enum mail_stage stage = c->drv->states[st].stage;

#ifndef NDEBUG
	if (c->limits.trace)
		fprintf(stderr, "%s: %p %s -> %s\n", c->drv->name, (void *)c,
			mail_core_state_str(c, c->state),
			mail_core_state_str(c, st));
#endif
	c->state = st;
	/* The handshake and the end read no lines. */
	if (stage == MAIL_STAGE_TLS || stage == MAIL_STAGE_NONE)
		work_drop(c);
}

void mail_core_finish(struct mail_core *c, enum mail_rc rc)
{
	if (c->facts.outcome != MAIL_RC_PENDING)
		return;
	c->facts.outcome = rc;
	c->facts.end_state = c->state;
}

enum smtp_action mail_core_end_on(struct mail_core *c, enum mail_input in)
{
	mail_core_finish(c, mail_input_end_rc(in, c->answer.bad));
	mail_core_set_state(c, c->drv->st_done);
	return SMTP_ACT_WAIT;
}

enum smtp_action mail_core_st_connecting(struct mail_core *c,
					 enum mail_input in)
{
	switch (in) {
	case MAIL_IN_ENTER:
		return SMTP_ACT_WAIT;
	case MAIL_IN_CONNECTED:
		mail_core_set_state(c, c->implicit ? c->drv->st_tls
						   : c->drv->st_greeting);
		return SMTP_ACT_WAIT;
	default:
		return mail_core_end_on(c, in);
	}
}

enum smtp_action mail_core_st_tls_handshake(struct mail_core *c,
					    enum mail_input in)
{
	switch (in) {
	case MAIL_IN_ENTER:
		return SMTP_ACT_START_TLS;
	case MAIL_IN_TLS_OK:
		c->facts.tls_ok = true;
		c->in_tls = true;
		mail_core_finish(c, MAIL_RC_TLS_OK);
		mail_core_set_state(c, c->implicit ? c->drv->st_greeting
						   : c->drv->st_quit);
		return SMTP_ACT_WAIT;
	case MAIL_IN_TLS_FAILED:
	case MAIL_IN_EOF:
	case MAIL_IN_RESET:
	case MAIL_IN_STAGE_TIMEOUT:
		mail_tls_reason_set(
		    c->facts.tls_reason, sizeof c->facts.tls_reason,
		    in == MAIL_IN_TLS_FAILED && c->tls_failed_reason
			? c->tls_failed_reason
			: mail_input_tls_reason(in));
		mail_core_finish(c, MAIL_RC_TLS_FAILED);
		mail_core_set_state(c, c->drv->st_done);
		return SMTP_ACT_WAIT;
	default:
		return mail_core_end_on(c, in);
	}
}

enum smtp_action mail_core_greeting_lost(struct mail_core *c,
					 enum mail_input in)
{
	switch (in) {
	case MAIL_IN_STAGE_TIMEOUT:
		c->facts.greeting = MAIL_GREETING_TIMEOUT;
		mail_core_finish(c, MAIL_RC_GREETING_TIMEOUT);
		mail_core_set_state(c, c->drv->st_done);
		return SMTP_ACT_WAIT;
	case MAIL_IN_GARBAGE:
	case MAIL_IN_BAD_LINE:
		c->facts.greeting = MAIL_GREETING_GARBAGE;
		return mail_core_end_on(c, in);
	default:
		return mail_core_end_on(c, in);
	}
}

void mail_core_greeting(struct mail_core *c, enum mail_greeting g)
{
	mail_greeting_keep(c->work, &c->facts.greeting_line,
			   &c->facts.greeting_len);
	c->facts.greeting = g;
	if (g != MAIL_GREETING_REJECTED)
		return;
	mail_core_finish(c, MAIL_RC_GREETING_REJECTED);
	mail_core_set_state(c, c->drv->st_done);
}

enum smtp_action mail_core_starttls_answer(struct mail_core *c, bool ok)
{
	if (ok) {
		mail_observe(&c->facts.injection, false);
		mail_core_set_state(c, c->drv->st_tls);
		return SMTP_ACT_WAIT;
	}
	mail_core_finish(c, MAIL_RC_STARTTLS_REJECTED);
	c->facts.stripping = SMTP_STRIP_ADVERTISED_REFUSED;
	mail_core_set_state(c, c->drv->st_quit);
	return SMTP_ACT_WAIT;
}

int mail_core_read(struct mail_core *c, const uint8_t **buf, size_t *len)
{
	if (!c->work) {
		c->work = malloc(c->drv->work_size);
		if (!c->work) {
			mail_core_finish(c, MAIL_RC_INTERNAL_ERROR);
			mail_core_set_state(c, c->drv->st_done);
			return -1;
		}
		mail_line_init(c->work, c->drv->literals);
	}
	return mail_answer_feed(&c->answer, c->work, &c->transcript, c->in_tls,
				buf, len, &c->facts.line_rc, &c->facts.bare_lf);
}

/* Bytes nobody asked for. RFC 2595 §3.1, §4: after the OK to
 * STARTTLS/STLS the next bytes are TLS, so plaintext there is an
 * injection. */
static void discard(struct mail_core *c, const uint8_t *buf, size_t len)
{
	mail_discard(&c->transcript, c->in_tls,
		     c->state == c->drv->st_tls && !c->implicit, buf, len,
		     &c->facts.injection, &c->facts.injected_bytes,
		     &c->facts.unsolicited_bytes);
}

static enum smtp_action emit(struct mail_core *c, enum smtp_action act)
{
	return mail_core_emit(c, &c->transcript, c->in_tls, act);
}

enum smtp_action mail_core_on_input(struct mail_core *c, enum mail_input in)
{
	return emit(c, mail_core_step(c, in));
}

enum smtp_action mail_core_on_tls_done(struct mail_core *c, bool ok,
				       const char *reason)
{
	enum smtp_action act;

	if (!ok && mail_core_stage(c) == MAIL_STAGE_TLS)
		c->tls_failed_reason = reason ? reason : "error";
	act = mail_core_step(c, ok ? MAIL_IN_TLS_OK : MAIL_IN_TLS_FAILED);
	c->tls_failed_reason = NULL;
	return emit(c, act);
}

enum smtp_action mail_core_on_data(struct mail_core *c, const uint8_t *buf,
				   size_t len)
{
	enum smtp_action act = SMTP_ACT_WAIT;

	if (mail_core_stage(c) == MAIL_STAGE_NONE)
		return emit(c, SMTP_ACT_CLOSE);
	if (mail_core_stage(c) == MAIL_STAGE_CONNECT && len > 0)
		act = mail_core_step(c, MAIL_IN_CONNECTED);
	while (len > 0) {
		int in;

		if (mail_core_stage(c) == MAIL_STAGE_NONE)
			break;
		if (act != SMTP_ACT_WAIT ||
		    mail_core_stage(c) == MAIL_STAGE_TLS) {
			discard(c, buf, len);
			break;
		}
		in = c->drv->read_line(c, &buf, &len);
		if (in < 0)
			break;
		act = mail_core_step(c, (enum mail_input)in);
	}
	/* Between lines the reader holds nothing worth its kilobytes. */
	if (c->work && mail_line_idle(c->work))
		work_drop(c);
	return emit(c, mail_core_stage(c) == MAIL_STAGE_NONE ? SMTP_ACT_CLOSE
							     : act);
}
