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

enum smtp_action mail_core_on_data(const struct mail_driver *d, void *s,
				   const uint8_t *buf, size_t len)
{
	enum smtp_action act = SMTP_ACT_WAIT;

	if (d->stage(s) == MAIL_STAGE_NONE)
		return SMTP_ACT_CLOSE;
	if (d->stage(s) == MAIL_STAGE_CONNECT && len > 0)
		act = d->step(s, MAIL_IN_CONNECTED);
	while (len > 0) {
		int in;

		if (d->stage(s) == MAIL_STAGE_NONE)
			break;
		if (act != SMTP_ACT_WAIT || d->stage(s) == MAIL_STAGE_TLS) {
			d->discard(s, buf, len);
			break;
		}
		in = d->read_line(s, &buf, &len);
		if (in < 0)
			break;
		act = d->step(s, (enum mail_input)in);
	}
	d->idle(s);
	return d->stage(s) == MAIL_STAGE_NONE ? SMTP_ACT_CLOSE : act;
}
