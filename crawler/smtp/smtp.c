/*
 * SMTP client session: see smtp.h. The events of the public functions are
 * turned into one input each and given to step(), which runs the current
 * state's case of one switch; a case that changes the state makes step()
 * run the new state's case at once with IN_ENTER, which is where each
 * state sends its command. So every command is written in one place, and
 * every state says what it does with every input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/smtp/smtp.h"

/* What step() is told. */
enum smtp_input {
	IN_ENTER = 0,	   /* the state was just entered */
	IN_CONNECTED,	   /* TCP is up */
	IN_REPLY,	   /* s->parser->reply holds a complete reply */
	IN_BAD_REPLY,	   /* the parser failed: s->parser->rc */
	IN_EOF,		   /* the peer closed */
	IN_RESET,	   /* the connection broke */
	IN_CONNECT_FAILED, /* it never came up */
	IN_STAGE_TIMEOUT,  /* the stage's inactivity timer */
	IN_DEADLINE,	   /* the endpoint's total deadline */
	IN_TLS_OK,	   /* handshake done */
	IN_TLS_FAILED,	   /* handshake failed: facts.tls_reason */
};

static const char *const state_names[] = {
	[SMTP_ST_CONNECTING] = "connecting",
	[SMTP_ST_BANNER] = "banner",
	[SMTP_ST_EHLO] = "ehlo",
	[SMTP_ST_HELO] = "helo",
	[SMTP_ST_STARTTLS] = "starttls",
	[SMTP_ST_TLS_HANDSHAKE] = "tls_handshake",
	[SMTP_ST_QUIT] = "quit",
	[SMTP_ST_DONE] = "done",
};

static const char *const rc_names[] = {
	[SMTP_RC_STARTTLS_OK] = "starttls_ok",
	[SMTP_RC_NO_STARTTLS] = "no_starttls",
	[SMTP_RC_STARTTLS_REJECTED] = "starttls_rejected",
	[SMTP_RC_BANNER_REJECTED] = "banner_rejected",
	[SMTP_RC_BANNER_TIMEOUT] = "banner_timeout",
	[SMTP_RC_EHLO_REJECTED] = "ehlo_rejected",
	[SMTP_RC_TLS_FAILED] = "tls_failed",
	[SMTP_RC_CONNECTION_RESET] = "connection_reset",
	[SMTP_RC_CONNECTION_CLOSED] = "connection_closed",
	[SMTP_RC_PROTOCOL_ERROR] = "protocol_error",
	[SMTP_RC_LINE_TOO_LONG] = "line_too_long",
	[SMTP_RC_REPLY_TOO_LARGE] = "reply_too_large",
	[SMTP_RC_DEADLINE] = "deadline",
	[SMTP_RC_TIMEOUT] = "timeout",
	[SMTP_RC_CONNECT_FAILED] = "connect_failed",
	[SMTP_RC_INTERNAL_ERROR] = "internal_error",
	[SMTP_RC_PENDING] = "pending",
};

static const char *const stripping_names[] = {
	[SMTP_STRIP_NONE] = NULL,
	[SMTP_STRIP_XXXXXXXA] = "xxxxxxxa",
	[SMTP_STRIP_MASKED_BANNER] = "masked_banner",
	[SMTP_STRIP_ADVERTISED_REFUSED] = "advertised_refused",
};

static const char *const greeting_names[] = {
	[SMTP_GREETING_UNSEEN] = NULL,
	[SMTP_GREETING_OK] = "ok",
	[SMTP_GREETING_REJECTED] = "rejected",
	[SMTP_GREETING_GARBAGE] = "garbage",
	[SMTP_GREETING_TIMEOUT] = "timeout",
};

const char *smtp_greeting_str(enum smtp_greeting g)
{
	if ((unsigned)g >= SMTP_GREETING_LAST)
		return NULL;
	return greeting_names[g];
}

const char *smtp_state_str(enum smtp_state st)
{
	if ((unsigned)st >= SMTP_ST_LAST)
		return "unknown";
	return state_names[st];
}

const char *smtp_rc_str(enum smtp_rc rc)
{
	if ((unsigned)rc >= SMTP_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

const char *smtp_fact_json(enum smtp_fact f)
{
	switch (f) {
	case SMTP_FACT_YES:
		return "true";
	case SMTP_FACT_NO:
		return "false";
	default:
		return "null";
	}
}

const char *smtp_stripping_str(enum smtp_stripping st)
{
	if ((unsigned)st >= SMTP_STRIP_LAST)
		return NULL;
	return stripping_names[st];
}

void smtp_limits_default(struct smtp_limits *l)
{
	memset(l, 0, sizeof *l);
	l->connect_ms = SMTP_DEFAULT_CONNECT_MS;
	l->banner_ms = SMTP_DEFAULT_STAGE_MS;
	l->command_ms = SMTP_DEFAULT_STAGE_MS;
	l->tls_ms = SMTP_DEFAULT_STAGE_MS;
	l->quit_ms = SMTP_DEFAULT_QUIT_MS;
	l->deadline_ms = SMTP_DEFAULT_DEADLINE_MS;
}

/* ---- Small helpers ------------------------------------------------- */

/* A fresh reply parser, unless one is there. -ENOMEM when out of
 * memory. */
static int parser_get(struct smtp_session *s)
{
	if (s->parser)
		return 0;
	s->parser = malloc(sizeof *s->parser);
	if (!s->parser)
		return -ENOMEM;
	smtp_reply_init(s->parser);
	return 0;
}

static void parser_drop(struct smtp_session *s)
{
	free(s->parser);
	s->parser = NULL;
}

/* The only writer of s->state. States in which no reply can come drop
 * a parser left from a reply cut short (see struct smtp_session). */
static void set_state(struct smtp_session *s, enum smtp_state st)
{
#ifndef NDEBUG
	if (s->limits.trace)
		fprintf(stderr, "smtp: %p %s -> %s\n", (void *)s,
			state_names[s->state], state_names[st]);
#endif
	s->state = st;
	if (st == SMTP_ST_TLS_HANDSHAKE || st == SMTP_ST_DONE)
		parser_drop(s);
}

/*
 * Makes room for `want` more bytes and one more segment in the
 * transcript, doubling each array up to its maximum. What is left is at
 * least 0; out of memory leaves the arrays as they were (the caller
 * counts the bytes as dropped: a transcript cut short is flagged, not a
 * failed probe).
 */
static void transcript_reserve(struct smtp_transcript *t, size_t want,
			       bool new_seg)
{
	if (t->len + want > t->cap && t->cap < SMTP_TRANSCRIPT_MAX) {
		size_t cap = t->cap ? t->cap : SMTP_TRANSCRIPT_INITIAL;
		while (cap < t->len + want && cap < SMTP_TRANSCRIPT_MAX)
			cap *= 2;
		if (cap > SMTP_TRANSCRIPT_MAX)
			cap = SMTP_TRANSCRIPT_MAX;
		uint8_t *b = realloc(t->bytes, cap);
		if (b) {
			t->bytes = b;
			t->cap = cap;
		}
	}
	if (new_seg && t->nseg == t->segcap &&
	    t->segcap < SMTP_TRANSCRIPT_SEGS) {
		size_t n =
		    t->segcap ? 2 * t->segcap : SMTP_TRANSCRIPT_SEGS_INITIAL;
		if (n > SMTP_TRANSCRIPT_SEGS)
			n = SMTP_TRANSCRIPT_SEGS;
		struct smtp_segment *g = realloc(t->seg, n * sizeof *g);
		if (g) {
			t->seg = g;
			t->segcap = n;
		}
	}
}

void smtp_transcript_add(struct smtp_transcript *t, enum smtp_dir dir, bool tls,
			 const uint8_t *buf, size_t len)
{
	struct smtp_segment *g = t->nseg ? &t->seg[t->nseg - 1] : NULL;
	bool new_seg = !g || g->dir != dir || g->tls != tls;

	if (len == 0)
		return;
	transcript_reserve(t, len, new_seg);
	size_t room = t->cap - t->len;
	size_t n = len < room ? len : room;

	if (n == 0) {
		t->truncated = true;
		t->dropped += len;
		return;
	}
	if (new_seg) {
		if (t->nseg == t->segcap) {
			t->truncated = true;
			t->dropped += len;
			return;
		}
		g = &t->seg[t->nseg++];
		g->dir = (uint8_t)dir;
		g->tls = tls;
		g->off = (uint32_t)t->len;
		g->len = 0;
	}
	memcpy(t->bytes + t->len, buf, n);
	t->len += n;
	g->len += (uint32_t)n;
	if (n < len) {
		t->truncated = true;
		t->dropped += len - n;
	}
}

void smtp_transcript_free(struct smtp_transcript *t)
{
	free(t->bytes);
	free(t->seg);
	t->bytes = NULL;
	t->seg = NULL;
	t->len = t->cap = t->nseg = t->segcap = 0;
}

/* The session's bytes, marked inside TLS once the handshake is done. */
static void transcript_add(struct smtp_session *s, enum smtp_dir dir,
			   const uint8_t *buf, size_t len)
{
	smtp_transcript_add(&s->transcript, dir, s->in_tls, buf, len);
}

/* Puts one command in the output buffer: "VERB[ arg]\r\n". */
static enum smtp_action send_cmd(struct smtp_session *s, const char *verb,
				 const char *arg)
{
	size_t vl = strlen(verb), al = arg ? strlen(arg) : 0;

	/* Bounded by construction: the longest is "EHLO " + a checked
	 * name of at most SMTP_EHLO_NAME_MAX bytes. */
	memcpy(s->out, verb, vl);
	s->out_len = vl;
	if (arg) {
		s->out[s->out_len++] = ' ';
		memcpy(s->out + s->out_len, arg, al);
		s->out_len += al;
	}
	s->out[s->out_len++] = '\r';
	s->out[s->out_len++] = '\n';
	return SMTP_ACT_SEND;
}

/* Sets the outcome once: what ended the session first is what it says. */
static void finish(struct smtp_session *s, enum smtp_rc rc)
{
	if (s->facts.outcome != SMTP_RC_PENDING)
		return;
	s->facts.outcome = rc;
	s->facts.end_state = s->state;
}

static void set_tls_reason(struct smtp_session *s, const char *reason)
{
	if (!reason || s->facts.tls_reason[0])
		return;
	snprintf(s->facts.tls_reason, sizeof s->facts.tls_reason, "%s", reason);
}

static enum smtp_rc rc_from_parser(enum smtp_reply_rc rc)
{
	switch (rc) {
	case SMTP_REPLY_RC_LINE_TOO_LONG:
		return SMTP_RC_LINE_TOO_LONG;
	case SMTP_REPLY_RC_TOO_MANY_LINES:
	case SMTP_REPLY_RC_REPLY_TOO_LARGE:
		return SMTP_RC_REPLY_TOO_LARGE;
	default:
		return SMTP_RC_PROTOCOL_ERROR;
	}
}

/*
 * Inputs that end a session the same way in every state that waits for a
 * reply: the outcome (if not known yet) says how, and nothing more is
 * sent. A peer that broke the protocol gets no QUIT: the stream is out of
 * step, and a hostile peer deserves no more bytes.
 */
static void end_on(struct smtp_session *s, enum smtp_input in)
{
	switch (in) {
	case IN_EOF:
		finish(s, SMTP_RC_CONNECTION_CLOSED);
		break;
	case IN_RESET:
		finish(s, SMTP_RC_CONNECTION_RESET);
		break;
	case IN_CONNECT_FAILED:
		finish(s, SMTP_RC_CONNECT_FAILED);
		break;
	case IN_STAGE_TIMEOUT:
		finish(s, SMTP_RC_TIMEOUT);
		break;
	case IN_DEADLINE:
		finish(s, SMTP_RC_DEADLINE);
		break;
	case IN_BAD_REPLY:
		if (s->facts.outcome == SMTP_RC_PENDING)
			s->facts.reply_rc = s->parser->rc;
		/* A line past the hard cap is a line over 4 KiB that was
		 * seen, even though its reply never ended. */
		if (s->parser->rc == SMTP_REPLY_RC_LINE_TOO_LONG)
			s->facts.overlong_line = SMTP_FACT_YES;
		finish(s, rc_from_parser(s->parser->rc));
		break;
	default:
		/* Inputs a state does not expect (a TLS result outside the
		 * handshake): a bug in the caller, not believed, and not
		 * blamed on the peer either. */
		finish(s, SMTP_RC_INTERNAL_ERROR);
		break;
	}
	set_state(s, SMTP_ST_DONE);
}

/* Raises a fact to YES, or from UNSEEN to NO: once seen, a YES stays. */
static void observe(enum smtp_fact *f, bool yes)
{
	if (yes)
		*f = SMTP_FACT_YES;
	else if (*f == SMTP_FACT_UNSEEN)
		*f = SMTP_FACT_NO;
}

/* Facts every reply read whole contributes. */
static void note_reply(struct smtp_session *s, const struct smtp_reply *r)
{
	observe(&s->facts.overlong_line, r->overlong);
	observe(&s->facts.bare_lf, r->bare_lf);
}

/* The banner is kept at its own length (most are under 100 bytes; the
 * parser's text holds up to SMTP_REPLY_TEXT_MAX). Out of memory keeps
 * none: banner_len stays 0. */
static void keep_banner(struct smtp_session *s, const struct smtp_reply *r)
{
	uint8_t *b;

	if (r->text_len == 0 || s->facts.banner_len != 0)
		return;
	b = malloc(r->text_len);
	if (!b)
		return;
	memcpy(b, r->text, r->text_len);
	s->facts.banner = b;
	s->facts.banner_len = r->text_len;
}

/* The EHLO keywords, at their number (eight or so of 32 possible). Out
 * of memory keeps none. */
static void keep_keywords(struct smtp_session *s, const struct smtp_reply *r)
{
	if (r->nkeywords == 0 || s->facts.keywords)
		return;
	s->facts.keywords = malloc(r->nkeywords * sizeof r->keywords[0]);
	if (!s->facts.keywords)
		return;
	memcpy(s->facts.keywords, r->keywords,
	       r->nkeywords * sizeof r->keywords[0]);
	s->facts.nkeywords = r->nkeywords;
}

static int code_class(int code)
{
	return code / 100;
}

/* ---- The states ---------------------------------------------------- */

static enum smtp_action st_connecting(struct smtp_session *s,
				      enum smtp_input in)
{
	switch (in) {
	case IN_ENTER:
		return SMTP_ACT_WAIT;
	case IN_CONNECTED:
		/* RFC 8314 §3: with implicit TLS the handshake comes first,
		 * and the greeting is read inside it. */
		set_state(s, s->mode == SMTP_TLS_IMPLICIT
				 ? SMTP_ST_TLS_HANDSHAKE
				 : SMTP_ST_BANNER);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_banner(struct smtp_session *s, enum smtp_input in)
{
	/* Only IN_REPLY reads it, and a reply has a parser. */
	const struct smtp_reply *r = s->parser ? &s->parser->reply : NULL;

	switch (in) {
	case IN_ENTER:
	case IN_CONNECTED:
		return SMTP_ACT_WAIT;
	case IN_REPLY:
		note_reply(s, r);
		s->facts.banner_code = r->code;
		keep_banner(s, r);
		if (r->masked)
			s->facts.stripping = SMTP_STRIP_MASKED_BANNER;
		if (r->code != 220) {
			/* 421, 554, greylisting 4xx: recorded, not retried;
			 * RFC 5321 §3.1 lets the client QUIT politely. */
			s->facts.greeting = SMTP_GREETING_REJECTED;
			finish(s, SMTP_RC_BANNER_REJECTED);
			set_state(s, SMTP_ST_QUIT);
		} else {
			s->facts.greeting = SMTP_GREETING_OK;
			/* Implicit TLS: the outcome is known since the
			 * handshake; the greeting inside TLS was the last
			 * thing to see. */
			set_state(s, s->in_tls ? SMTP_ST_QUIT : SMTP_ST_EHLO);
		}
		return SMTP_ACT_WAIT;
	case IN_STAGE_TIMEOUT:
		s->facts.greeting = SMTP_GREETING_TIMEOUT;
		finish(s, SMTP_RC_BANNER_TIMEOUT);
		set_state(s, SMTP_ST_DONE);
		return SMTP_ACT_WAIT;
	case IN_BAD_REPLY:
		s->facts.greeting = SMTP_GREETING_GARBAGE;
		end_on(s, in);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_ehlo(struct smtp_session *s, enum smtp_input in)
{
	/* Only IN_REPLY reads it, and a reply has a parser. */
	const struct smtp_reply *r = s->parser ? &s->parser->reply : NULL;

	switch (in) {
	case IN_ENTER:
		return send_cmd(s, "EHLO", s->ehlo_name);
	case IN_REPLY:
		note_reply(s, r);
		s->facts.ehlo_code = r->code;
		if (code_class(r->code) == 5) {
			/* RFC 5321 §4.1.4: fall back to HELO. Without EHLO
			 * there is no STARTTLS (RFC 3207 §4), which is the
			 * outcome whatever HELO gets. */
			s->facts.starttls_offered = SMTP_FACT_NO;
			finish(s, SMTP_RC_EHLO_REJECTED);
			set_state(s, SMTP_ST_HELO);
			return SMTP_ACT_WAIT;
		}
		if (code_class(r->code) != 2) {
			/* A 4xx refuses service for now and lists no
			 * extensions: whether STARTTLS would be offered
			 * stays unseen. */
			finish(s, SMTP_RC_EHLO_REJECTED);
			set_state(s, SMTP_ST_QUIT);
			return SMTP_ACT_WAIT;
		}
		keep_keywords(s, r);
		if (r->xxxxxxxa)
			s->facts.stripping = SMTP_STRIP_XXXXXXXA;
		observe(&s->facts.starttls_offered, r->starttls);
		if (r->starttls) {
			set_state(s, SMTP_ST_STARTTLS);
		} else {
			finish(s, SMTP_RC_NO_STARTTLS);
			set_state(s, SMTP_ST_QUIT);
		}
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_helo(struct smtp_session *s, enum smtp_input in)
{
	switch (in) {
	case IN_ENTER:
		return send_cmd(s, "HELO", s->ehlo_name);
	case IN_REPLY:
		note_reply(s, &s->parser->reply);
		s->facts.helo_code = s->parser->reply.code;
		set_state(s, SMTP_ST_QUIT);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_starttls(struct smtp_session *s, enum smtp_input in)
{
	/* Only IN_REPLY reads it, and a reply has a parser. */
	const struct smtp_reply *r = s->parser ? &s->parser->reply : NULL;

	switch (in) {
	case IN_ENTER:
		return send_cmd(s, "STARTTLS", NULL);
	case IN_REPLY:
		note_reply(s, r);
		s->facts.starttls_code = r->code;
		if (r->code == 220) {
			/* From here plaintext would be an injection. */
			observe(&s->facts.injection, false);
			set_state(s, SMTP_ST_TLS_HANDSHAKE);
			return SMTP_ACT_WAIT;
		}
		/* 454 is "TLS not available for a temporary reason"
		 * (RFC 3207 §4); a 5xx to a STARTTLS the server just
		 * offered is what a stripping middlebox leaves. */
		finish(s, SMTP_RC_STARTTLS_REJECTED);
		if (code_class(r->code) == 5 &&
		    s->facts.stripping == SMTP_STRIP_NONE)
			s->facts.stripping = SMTP_STRIP_ADVERTISED_REFUSED;
		set_state(s, SMTP_ST_QUIT);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

/* What ended a handshake, when the TLS layer did not say. */
static const char *tls_reason_of(enum smtp_input in)
{
	switch (in) {
	case IN_EOF:
		return "eof";
	case IN_RESET:
		return "reset";
	case IN_STAGE_TIMEOUT:
		return "timeout";
	default:
		return "error";
	}
}

static enum smtp_action st_tls_handshake(struct smtp_session *s,
					 enum smtp_input in)
{
	switch (in) {
	case IN_ENTER:
		return SMTP_ACT_START_TLS;
	case IN_TLS_OK:
		s->facts.tls_ok = true;
		s->in_tls = true;
		finish(s, SMTP_RC_STARTTLS_OK);
		set_state(s, s->mode == SMTP_TLS_IMPLICIT ? SMTP_ST_BANNER
							  : SMTP_ST_QUIT);
		return SMTP_ACT_WAIT;
	case IN_TLS_FAILED:
	case IN_EOF:
	case IN_RESET:
	case IN_STAGE_TIMEOUT:
		/* The stream is no longer SMTP: no plaintext QUIT. */
		set_tls_reason(s, tls_reason_of(in));
		finish(s, SMTP_RC_TLS_FAILED);
		set_state(s, SMTP_ST_DONE);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_quit(struct smtp_session *s, enum smtp_input in)
{
	switch (in) {
	case IN_ENTER:
		return send_cmd(s, "QUIT", NULL);
	case IN_REPLY:
		s->facts.quit_code = s->parser->reply.code;
		set_state(s, SMTP_ST_DONE);
		return SMTP_ACT_WAIT;
	default:
		/* The outcome is known; the 221 is a courtesy. */
		set_state(s, SMTP_ST_DONE);
		return SMTP_ACT_WAIT;
	}
}

/*
 * Runs the state machine until it waits for the caller. A case either
 * answers its input with an action, or changes the state and answers
 * SMTP_ACT_WAIT; then the new state's case runs with IN_ENTER and decides
 * the action (its command), so no transition can lose or add a command.
 */
static enum smtp_action step(struct smtp_session *s, enum smtp_input in)
{
	for (;;) {
		enum smtp_state before = s->state;
		enum smtp_action act;

		switch (s->state) {
		case SMTP_ST_CONNECTING:
			act = st_connecting(s, in);
			break;
		case SMTP_ST_BANNER:
			act = st_banner(s, in);
			break;
		case SMTP_ST_EHLO:
			act = st_ehlo(s, in);
			break;
		case SMTP_ST_HELO:
			act = st_helo(s, in);
			break;
		case SMTP_ST_STARTTLS:
			act = st_starttls(s, in);
			break;
		case SMTP_ST_TLS_HANDSHAKE:
			act = st_tls_handshake(s, in);
			break;
		case SMTP_ST_QUIT:
			act = st_quit(s, in);
			break;
		case SMTP_ST_DONE:
		default:
			/* Whatever happens now, the answer is to close. */
			return SMTP_ACT_CLOSE;
		}
		if (s->state == before)
			return act;
		in = IN_ENTER;
	}
}

/* ---- Public functions ---------------------------------------------- */

/*
 * Every public entry point returns through here. The command goes into
 * the transcript only now, so that bytes received in the same read and
 * discarded come before it, as they did on the wire.
 */
static enum smtp_action emit(struct smtp_session *s, enum smtp_action act)
{
	if (act == SMTP_ACT_SEND)
		transcript_add(s, SMTP_DIR_SENT, s->out, s->out_len);
	return act;
}

static bool ehlo_name_ok(const char *name)
{
	size_t n = strnlen(name, SMTP_EHLO_NAME_MAX + 1);

	if (n == 0 || n > SMTP_EHLO_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] >= 0x7f)
			return false;
	return true;
}

/* What facts.banner points to while no banner was kept. */
static const uint8_t no_banner[1];

int smtp_session_init(struct smtp_session *s, const char *ehlo_name,
		      const struct smtp_limits *limits)
{
	return smtp_session_init_mode(s, ehlo_name, limits, SMTP_TLS_STARTTLS);
}

int smtp_session_init_mode(struct smtp_session *s, const char *ehlo_name,
			   const struct smtp_limits *limits,
			   enum smtp_tls_mode mode)
{
	memset(s, 0, sizeof *s);
	s->facts.banner = no_banner;
	if (!ehlo_name || !ehlo_name_ok(ehlo_name))
		return -EINVAL;
	if (limits)
		s->limits = *limits;
	else
		smtp_limits_default(&s->limits);
	memcpy(s->ehlo_name, ehlo_name, strlen(ehlo_name) + 1);
	s->mode =
	    mode == SMTP_TLS_IMPLICIT ? SMTP_TLS_IMPLICIT : SMTP_TLS_STARTTLS;
	s->facts.outcome = SMTP_RC_PENDING;
	s->facts.end_state = SMTP_ST_CONNECTING;
	s->state = SMTP_ST_CONNECTING;
	return 0;
}

void smtp_session_free(struct smtp_session *s)
{
	struct smtp_transcript *t = &s->transcript;

	parser_drop(s);
	free(s->facts.keywords);
	s->facts.keywords = NULL;
	s->facts.nkeywords = 0;
	if (s->facts.banner != no_banner)
		free((void *)s->facts.banner);
	s->facts.banner = no_banner;
	s->facts.banner_len = 0;
	smtp_transcript_free(t);
}

enum smtp_action smtp_on_connected(struct smtp_session *s)
{
	return emit(s, step(s, IN_CONNECTED));
}

enum smtp_action smtp_on_connect_failed(struct smtp_session *s)
{
	return emit(s, step(s, IN_CONNECT_FAILED));
}

/* Bytes nobody asked for: kept as evidence, never parsed. */
static void discard(struct smtp_session *s, const uint8_t *buf, size_t len)
{
	transcript_add(s, SMTP_DIR_DISCARDED, buf, len);
	if (s->state == SMTP_ST_TLS_HANDSHAKE && s->mode == SMTP_TLS_STARTTLS) {
		/* RFC 3207 §5: after the 220 the next bytes must be TLS;
		 * plaintext here was injected before the handshake. */
		s->facts.injection = SMTP_FACT_YES;
		s->facts.injected_bytes += len;
	} else {
		s->facts.unsolicited_bytes += len;
	}
}

enum smtp_action smtp_on_data(struct smtp_session *s, const uint8_t *buf,
			      size_t len)
{
	enum smtp_action act = SMTP_ACT_WAIT;

	if (s->state == SMTP_ST_DONE)
		return SMTP_ACT_CLOSE;
	if (s->state == SMTP_ST_CONNECTING && len > 0)
		act = step(s, IN_CONNECTED);
	while (len > 0) {
		enum smtp_reply_rc rc;
		size_t used;

		if (s->state == SMTP_ST_DONE)
			break;
		/* Never pipeline, in either direction: bytes after a reply
		 * that answered our last command, before the next command
		 * went out, answer nothing we sent. */
		if (act != SMTP_ACT_WAIT || s->state == SMTP_ST_TLS_HANDSHAKE) {
			discard(s, buf, len);
			break;
		}
		if (parser_get(s) != 0) {
			/* Out of memory: the domain fails, the scan goes on. */
			finish(s, SMTP_RC_INTERNAL_ERROR);
			set_state(s, SMTP_ST_DONE);
			break;
		}
		rc = smtp_reply_feed(s->parser, buf, len, &used);
		transcript_add(s, SMTP_DIR_RECEIVED, buf, used);
		buf += used;
		len -= used;
		if (rc == SMTP_REPLY_RC_INCOMPLETE)
			break;
		act = step(s, rc == SMTP_REPLY_OK ? IN_REPLY : IN_BAD_REPLY);
		/* The reply is read: nothing to keep until the next starts. */
		parser_drop(s);
	}
	return emit(s, s->state == SMTP_ST_DONE ? SMTP_ACT_CLOSE : act);
}

enum smtp_action smtp_on_eof(struct smtp_session *s)
{
	return emit(s, step(s, IN_EOF));
}

enum smtp_action smtp_on_reset(struct smtp_session *s)
{
	return emit(s, step(s, IN_RESET));
}

enum smtp_action smtp_on_timeout(struct smtp_session *s, enum smtp_timer which)
{
	return emit(s,
		    step(s, which == SMTP_TIMER_DEADLINE ? IN_DEADLINE
							 : IN_STAGE_TIMEOUT));
}

enum smtp_action smtp_on_tls_done(struct smtp_session *s, bool ok,
				  const char *reason)
{
	if (!ok && s->state == SMTP_ST_TLS_HANDSHAKE)
		set_tls_reason(s, reason ? reason : "error");
	return emit(s, step(s, ok ? IN_TLS_OK : IN_TLS_FAILED));
}

const uint8_t *smtp_session_output(const struct smtp_session *s, size_t *len)
{
	*len = s->out_len;
	return s->out;
}

unsigned smtp_session_stage_timeout_ms(const struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_ST_CONNECTING:
		return s->limits.connect_ms;
	case SMTP_ST_BANNER:
		return s->limits.banner_ms;
	case SMTP_ST_EHLO:
	case SMTP_ST_HELO:
	case SMTP_ST_STARTTLS:
		return s->limits.command_ms;
	case SMTP_ST_TLS_HANDSHAKE:
		return s->limits.tls_ms;
	case SMTP_ST_QUIT:
		return s->limits.quit_ms;
	default:
		return 0;
	}
}
