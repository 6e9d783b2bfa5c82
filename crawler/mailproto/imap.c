/*
 * IMAP client session: see imap.h. Built like smtp.c: every public event
 * becomes one input to step() (mail_core_step()), which runs the current
 * state's case from the table of states at the end of this file; a case
 * that changes the state makes step() run the new state's case at once
 * with MAIL_IN_ENTER, which is where each state sends its command, so
 * every command is written in one place. What IMAP shares with POP3 (the
 * events, the inputs, the outcomes of what ends a session, the answer's
 * caps, the transcript of what was read or discarded) is mailcore.h's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawler/mailproto/imap.h"
#include "crawler/mailproto/mailcore.h"

/* Every command fits the core's output buffer. */
_Static_assert(IMAP_OUT_MAX <= MAIL_CMD_MAX, "imap commands fit");

/* The session is its core (mailcore.h): the core is its first member. */
_Static_assert(offsetof(struct imap_session, core) == 0, "core first");

static const struct mail_state states[IMAP_ST_LAST];
static const char *const status_names[] = {
	[IMAP_STATUS_NONE] = NULL,	   [IMAP_STATUS_OK] = "ok",
	[IMAP_STATUS_NO] = "no",	   [IMAP_STATUS_BAD] = "bad",
	[IMAP_STATUS_PREAUTH] = "preauth", [IMAP_STATUS_BYE] = "bye",
};

const char *imap_state_str(enum imap_state st)
{
	if ((unsigned)st >= IMAP_ST_LAST)
		return "unknown";
	return states[st].name;
}

const char *imap_status_str(enum imap_status st)
{
	if ((unsigned)st >= IMAP_STATUS_LAST)
		return NULL;
	return status_names[st];
}

/* ---- The response line parser (pure) -------------------------------- */

/* ATOM-CHAR of RFC 9051 §9: any CHAR but atom-specials. */
static bool atom_char(uint8_t c)
{
	return c > ' ' && c < 0x7f && !strchr("(){%*\"\\]", c);
}

/* A tag is ASTRING-CHAR (ATOM-CHAR or "]") without "+". */
static bool tag_char(uint8_t c)
{
	return (atom_char(c) && c != '+') || c == ']';
}

/* The atom at *i: its length (0 when none); *i moves past it. */
static size_t read_atom(const uint8_t *p, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && atom_char(p[*i]))
		(*i)++;
	return *i - start;
}

static bool word_is(const uint8_t *p, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp((const char *)p, w, n) == 0;
}

static enum imap_status status_of(const uint8_t *p, size_t n, bool tagged)
{
	if (word_is(p, n, "OK"))
		return IMAP_STATUS_OK;
	if (word_is(p, n, "NO"))
		return IMAP_STATUS_NO;
	if (word_is(p, n, "BAD"))
		return IMAP_STATUS_BAD;
	if (!tagged && word_is(p, n, "PREAUTH"))
		return IMAP_STATUS_PREAUTH;
	if (!tagged && word_is(p, n, "BYE"))
		return IMAP_STATUS_BYE;
	return IMAP_STATUS_NONE;
}

/*
 * The capability atoms from *i to the end of the line, or to "]" inside a
 * response code. A token that is not an atom, or too long, or beyond the
 * array, is counted as dropped; STARTTLS and LOGINDISABLED are looked for
 * in every token whether kept or not.
 */
static void read_caps(const uint8_t *p, size_t len, size_t i, bool in_code,
		      struct imap_resp *out)
{
	for (;;) {
		size_t start, n;
		bool atom = true;

		while (i < len && p[i] == ' ')
			i++;
		if (i >= len || (in_code && p[i] == ']'))
			return;
		start = i;
		while (i < len && p[i] != ' ' && !(in_code && p[i] == ']')) {
			if (!atom_char(p[i]))
				atom = false;
			i++;
		}
		n = i - start;
		if (word_is(p + start, n, "STARTTLS"))
			out->starttls = true;
		if (word_is(p + start, n, "LOGINDISABLED"))
			out->logindisabled = true;
		if (!atom || n > IMAP_CAP_MAX || out->ncaps == IMAP_CAPS_MAX) {
			out->caps_dropped++;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			uint8_t c = p[start + k];
			out->caps[out->ncaps][k] =
			    (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
		}
		out->caps[out->ncaps][n] = '\0';
		out->ncaps++;
	}
}

/* resp-text after a status word at *i: " [CODE ...] text". Only a
 * CAPABILITY code is read. */
static void read_resp_code(const uint8_t *p, size_t len, size_t i,
			   struct imap_resp *out)
{
	size_t n, at;

	if (i + 1 >= len || p[i] != ' ' || p[i + 1] != '[')
		return;
	i += 2;
	at = i;
	n = read_atom(p, len, &i);
	if (!word_is(p + at, n, "CAPABILITY"))
		return;
	out->cap_code = true;
	read_caps(p, len, i, true, out);
}

enum imap_kind imap_resp_parse(const uint8_t *line, size_t len, bool literal,
			       struct imap_resp *out)
{
	size_t i = 0, n, at;

	memset(out, 0, offsetof(struct imap_resp, caps));
	out->kind = IMAP_KIND_GARBAGE;
	if (len == 0)
		return out->kind;
	if (line[0] == '+') {
		if (!literal && (len == 1 || line[1] == ' '))
			out->kind = IMAP_KIND_CONTINUATION;
		return out->kind;
	}
	if (line[0] == '*') {
		if (len < 3 || line[1] != ' ')
			return out->kind;
		i = 2;
		at = i;
		n = read_atom(line, len, &i);
		if (n == 0)
			return out->kind;
		if (i < len && line[i] != ' ')
			return out->kind; /* "* OK(" is no response */
		out->status = status_of(line + at, n, false);
		if (out->status != IMAP_STATUS_NONE) {
			read_resp_code(line, len, i, out);
		} else if (word_is(line + at, n, "CAPABILITY")) {
			out->cap_data = true;
			read_caps(line, len, i, false, out);
		}
		/* A literal in a status response or a capability list is
		 * outside the grammar (resp-text and capability are atoms
		 * and text, never literals). */
		if (literal &&
		    (out->status != IMAP_STATUS_NONE || out->cap_data))
			return out->kind;
		out->kind = IMAP_KIND_UNTAGGED;
		return out->kind;
	}
	while (i < len && tag_char(line[i]))
		i++;
	if (i == 0 || i > IMAP_TAG_MAX || i >= len || line[i] != ' ' || literal)
		return out->kind;
	memcpy(out->tag, line, i);
	out->tag[i] = '\0';
	i++;
	at = i;
	n = read_atom(line, len, &i);
	out->status = status_of(line + at, n, true);
	if (out->status == IMAP_STATUS_NONE || (i < len && line[i] != ' ')) {
		out->status = IMAP_STATUS_NONE;
		out->tag[0] = '\0';
		return out->kind;
	}
	read_resp_code(line, len, i, out);
	out->kind = IMAP_KIND_TAGGED;
	return out->kind;
}

/* ---- Small helpers --------------------------------------------------- */

static struct imap_session *imap_of(struct mail_core *c)
{
	return (struct imap_session *)c;
}

/* The response line just read; NULL between lines. */
static const struct imap_resp *resp_of(const struct imap_session *s)
{
	return s->core.work ? &((const struct imap_work *)s->core.work)->resp
			    : NULL;
}

static void set_state(struct imap_session *s, enum imap_state st)
{
	mail_core_set_state(&s->core, st);
}

static void finish(struct imap_session *s, enum mail_rc rc)
{
	mail_core_finish(&s->core, rc);
}

/* Puts "<tag> <verb>\r\n" in the output buffer; a new response starts. */
static enum smtp_action send_cmd(struct imap_session *s, const char *tag,
				 const char *verb)
{
	s->tag = tag;
	return mail_core_send(&s->core, tag, verb);
}

/* A capability list starts: what an earlier one said is forgotten. */
static void caps_begin(struct imap_session *s)
{
	s->facts.ncaps = 0;
	s->facts.caps_dropped = 0;
	s->caps_starttls = false;
	s->caps_logindis = false;
	s->caps_seen = false;
}

/* Appends the line's capabilities to the kept list. Out of memory keeps
 * none, counted as dropped; STARTTLS is still seen. */
static void caps_add(struct imap_session *s, const struct imap_resp *r)
{
	struct imap_facts *f = &s->facts;

	s->caps_seen = true;
	s->caps_starttls |= r->starttls;
	s->caps_logindis |= r->logindisabled;
	f->caps_dropped += r->caps_dropped;
	if (r->ncaps == 0)
		return;
	if (!f->caps) {
		f->caps = malloc(IMAP_CAPS_MAX * sizeof f->caps[0]);
		if (!f->caps) {
			f->caps_dropped += r->ncaps;
			return;
		}
	}
	for (size_t i = 0; i < r->ncaps; i++) {
		if (f->ncaps == IMAP_CAPS_MAX) {
			f->caps_dropped++;
			continue;
		}
		memcpy(f->caps[f->ncaps++], r->caps[i], sizeof r->caps[i]);
	}
}

/* A capability list was read whole: what it says becomes the facts. */
static void caps_done(struct imap_session *s)
{
	if (!s->core.implicit && !s->core.in_tls)
		mail_observe(&s->core.facts.starttls_offered, s->caps_starttls);
	mail_observe(&s->facts.logindisabled, s->caps_logindis);
}

/* ---- The states ------------------------------------------------------ */

/* Connecting and the handshake are mailcore's (mail_core_st_*). */

static enum smtp_action st_greeting(struct mail_core *c, enum mail_input in)
{
	struct imap_session *s = imap_of(c);
	const struct imap_resp *r = resp_of(s);

	if (in == MAIL_IN_ENTER) {
		mail_answer_start(&c->answer);
		return SMTP_ACT_WAIT;
	}
	if (in != MAIL_IN_LINE)
		return mail_core_greeting_lost(c, in);
	if (r->kind != IMAP_KIND_UNTAGGED ||
	    (r->status != IMAP_STATUS_OK && r->status != IMAP_STATUS_PREAUTH &&
	     r->status != IMAP_STATUS_BYE)) {
		/* The first line must be the greeting (RFC 9051 §7.1):
		 * anything else is not an IMAP server. */
		c->facts.greeting = MAIL_GREETING_GARBAGE;
		return mail_core_end_on(c, in);
	}
	s->facts.greeting_status = r->status;
	if (r->status == IMAP_STATUS_BYE) {
		/* The server refuses and closes (RFC 9051 §7.1.5): nothing
		 * is sent to it. */
		mail_core_greeting(c, MAIL_GREETING_REJECTED);
		return SMTP_ACT_WAIT;
	}
	mail_core_greeting(c, MAIL_GREETING_OK);
	if (r->cap_code) {
		caps_begin(s);
		caps_add(s, r);
		caps_done(s);
		s->facts.caps_in_greeting = true;
	}
	if (c->in_tls) {
		/* Implicit TLS: the outcome is tls_ok already. */
		set_state(s, IMAP_ST_LOGOUT);
		return SMTP_ACT_WAIT;
	}
	if (r->status == IMAP_STATUS_PREAUTH) {
		finish(s, MAIL_RC_PREAUTH);
		set_state(s, IMAP_ST_LOGOUT);
		return SMTP_ACT_WAIT;
	}
	if (!r->cap_code) {
		set_state(s, IMAP_ST_CAPABILITY);
	} else if (s->caps_starttls) {
		set_state(s, IMAP_ST_STARTTLS);
	} else {
		finish(s, MAIL_RC_NO_STARTTLS);
		set_state(s, IMAP_ST_LOGOUT);
	}
	return SMTP_ACT_WAIT;
}

/*
 * A line inside the answer to a command: untagged lines are read (a
 * capability list) or skipped; only our tag completes it. Returns true
 * when the line was our tagged completion, false when it was skipped;
 * a line that does not belong ends the session (state DONE).
 */
static bool answer_line(struct imap_session *s, const struct imap_resp *r,
			bool read_caps)
{
	if (r->kind == IMAP_KIND_UNTAGGED) {
		if (read_caps && (r->cap_data || r->cap_code))
			caps_add(s, r);
		else
			s->facts.untagged_ignored++;
		return false;
	}
	if (r->kind == IMAP_KIND_TAGGED && strcmp(r->tag, s->tag) == 0)
		return true;
	mail_core_end_on(&s->core, MAIL_IN_LINE);
	return false;
}

static enum smtp_action st_capability(struct mail_core *c, enum mail_input in)
{
	struct imap_session *s = imap_of(c);
	const struct imap_resp *r = resp_of(s);

	switch (in) {
	case MAIL_IN_ENTER:
		caps_begin(s);
		return send_cmd(s, "a1", "CAPABILITY");
	case MAIL_IN_LINE:
		if (!answer_line(s, r, true))
			return SMTP_ACT_WAIT;
		s->facts.capability_status = r->status;
		if (r->status != IMAP_STATUS_OK) {
			/* NO or BAD: no list to trust, and a strict client
			 * does not try STARTTLS blind. */
			finish(s, MAIL_RC_CAPABILITY_REJECTED);
			set_state(s, IMAP_ST_LOGOUT);
			return SMTP_ACT_WAIT;
		}
		if (r->cap_code)
			caps_add(s, r);
		caps_done(s);
		if (s->caps_starttls) {
			set_state(s, IMAP_ST_STARTTLS);
		} else {
			finish(s, MAIL_RC_NO_STARTTLS);
			set_state(s, IMAP_ST_LOGOUT);
		}
		return SMTP_ACT_WAIT;
	default:
		return mail_core_end_on(c, in);
	}
}

static enum smtp_action st_starttls(struct mail_core *c, enum mail_input in)
{
	struct imap_session *s = imap_of(c);
	const struct imap_resp *r = resp_of(s);

	switch (in) {
	case MAIL_IN_ENTER:
		return send_cmd(s, "a2", "STARTTLS");
	case MAIL_IN_LINE:
		if (!answer_line(s, r, false))
			return SMTP_ACT_WAIT;
		s->facts.starttls_status = r->status;
		return mail_core_starttls_answer(c,
						 r->status == IMAP_STATUS_OK);
	default:
		return mail_core_end_on(c, in);
	}
}

static enum smtp_action st_logout(struct mail_core *c, enum mail_input in)
{
	struct imap_session *s = imap_of(c);
	const struct imap_resp *r = resp_of(s);

	switch (in) {
	case MAIL_IN_ENTER:
		return send_cmd(s, c->implicit ? "a1" : "a3", "LOGOUT");
	case MAIL_IN_LINE:
		/* "* BYE" comes first, then our tag (RFC 9051 §6.1.3). */
		if (!answer_line(s, r, false))
			return SMTP_ACT_WAIT;
		s->facts.logout_status = r->status;
		set_state(s, IMAP_ST_DONE);
		return SMTP_ACT_WAIT;
	default:
		/* The outcome is known; the answer is a courtesy. */
		set_state(s, IMAP_ST_DONE);
		return SMTP_ACT_WAIT;
	}
}

/* ---- Reading, driven by mail_core_on_data() -------------------------- */

/* One response line into the work's resp: see struct mail_driver. */
static int read_line(struct mail_core *c, const uint8_t **buf, size_t *len)
{
	int in = mail_core_read(c, buf, len);

	if (in == MAIL_IN_LINE)
		imap_resp_parse(c->work->line, c->work->len,
				c->work->nliterals > 0,
				&((struct imap_work *)c->work)->resp);
	return in;
}

/* Each state: its name, the stage whose timer runs, its case. */
static const struct mail_state states[IMAP_ST_LAST] = {
	[IMAP_ST_CONNECTING] = { "connecting", MAIL_STAGE_CONNECT,
				 mail_core_st_connecting },
	[IMAP_ST_GREETING] = { "greeting", MAIL_STAGE_GREETING, st_greeting },
	[IMAP_ST_CAPABILITY] = { "capability", MAIL_STAGE_COMMAND,
				 st_capability },
	[IMAP_ST_STARTTLS] = { "starttls", MAIL_STAGE_COMMAND, st_starttls },
	[IMAP_ST_TLS_HANDSHAKE] = { "tls_handshake", MAIL_STAGE_TLS,
				    mail_core_st_tls_handshake },
	[IMAP_ST_LOGOUT] = { "logout", MAIL_STAGE_QUIT, st_logout },
	[IMAP_ST_DONE] = { "done", MAIL_STAGE_NONE, NULL },
};

/* How mailcore drives this session. */
static const struct mail_driver driver = {
	.name = "imap",
	.states = states,
	.nstates = IMAP_ST_LAST,
	.st_greeting = IMAP_ST_GREETING,
	.st_tls = IMAP_ST_TLS_HANDSHAKE,
	.st_quit = IMAP_ST_LOGOUT,
	.st_done = IMAP_ST_DONE,
	.work_size = sizeof(struct imap_work),
	.literals = true,
	.read_line = read_line,
};

/* ---- Public functions ------------------------------------------------ */

int imap_session_init(struct imap_session *s, enum imap_mode mode,
		      const struct smtp_limits *limits)
{
	memset(s, 0, sizeof *s);
	mail_core_start(&s->core, &driver, mode == IMAP_MODE_IMPLICIT, limits,
			IMAP_RESP_LINES_MAX, IMAP_RESP_BYTES_MAX);
	s->tag = "";
	return 0;
}

void imap_session_free(struct imap_session *s)
{
	mail_core_free(&s->core);
	free(s->facts.caps);
	s->facts.caps = NULL;
	s->facts.ncaps = 0;
}
