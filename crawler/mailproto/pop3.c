/*
 * POP3 client session: see pop3.h. Built like smtp.c and imap.c: every
 * public event becomes one input to step() (mail_core_step()), which runs
 * the current state's case from the table of states at the end of this
 * file; a state change runs the new state's case with MAIL_IN_ENTER,
 * where each state sends its command. What POP3 shares with IMAP (the
 * events, the inputs, the outcomes of what ends a session, the answer's
 * caps, the transcript of what was read or discarded) is mailcore.h's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawler/mailproto/mailcore.h"
#include "crawler/mailproto/pop3.h"

/* Every command fits the core's output buffer. */
_Static_assert(POP3_OUT_MAX <= MAIL_CMD_MAX, "pop3 commands fit");

/* The session is its core (mailcore.h): the core is its first member. */
_Static_assert(offsetof(struct pop3_session, core) == 0, "core first");

static const struct mail_state states[POP3_ST_LAST];

const char *pop3_state_str(enum pop3_state st)
{
	if ((unsigned)st >= POP3_ST_LAST)
		return "unknown";
	return states[st].name;
}

const char *pop3_status_str(enum pop3_status st)
{
	switch (st) {
	case POP3_STATUS_OK:
		return "+OK";
	case POP3_STATUS_ERR:
		return "-ERR";
	default:
		return NULL;
	}
}

/* ---- The line parser (pure) ------------------------------------------ */

static bool starts_word(const uint8_t *p, size_t len, const char *w)
{
	size_t n = strlen(w);

	return len >= n && strncasecmp((const char *)p, w, n) == 0 &&
	       (len == n || p[n] == ' ');
}

bool pop3_line_parse(const uint8_t *line, size_t len, bool multi,
		     struct pop3_line *out)
{
	size_t n = 0;

	memset(out, 0, sizeof *out);
	if (!multi) {
		if (starts_word(line, len, "+OK"))
			out->status = POP3_STATUS_OK;
		else if (starts_word(line, len, "-ERR"))
			out->status = POP3_STATUS_ERR;
		return out->status != POP3_STATUS_NONE;
	}
	if (len == 1 && line[0] == '.') {
		out->end = true;
		return true;
	}
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	while (n < len && line[n] != ' ') {
		if (line[n] <= ' ' || line[n] >= 0x7f || n == POP3_CAP_MAX) {
			out->name[0] = '\0';
			return true;
		}
		out->name[n] =
		    (char)(line[n] >= 'a' && line[n] <= 'z' ? line[n] - 32
							    : line[n]);
		n++;
	}
	out->name[n] = '\0';
	out->stls = strcmp(out->name, "STLS") == 0;
	return true;
}

/* ---- Small helpers --------------------------------------------------- */

static struct pop3_session *pop3_of(struct mail_core *c)
{
	return (struct pop3_session *)c;
}

/* The only writer of s->state. */
static void set_state(struct pop3_session *s, enum pop3_state st)
{
	mail_core_enter(&s->core, s->state, st);
	s->state = st;
}

/* Puts "<verb>\r\n" in the output buffer; a new answer starts. */
static enum smtp_action send_cmd(struct pop3_session *s, const char *verb)
{
	s->in_list = false;
	return mail_core_send(&s->core, NULL, verb);
}

static void finish(struct pop3_session *s, enum mail_rc rc)
{
	if (s->facts.outcome != MAIL_RC_PENDING)
		return;
	s->facts.outcome = rc;
	s->facts.end_state = s->state;
}

/* Inputs that end a session the same way in every state that waits. */
static void end_on(struct pop3_session *s, enum mail_input in)
{
	finish(s, mail_input_end_rc(in, s->core.answer.bad));
	set_state(s, POP3_ST_DONE);
}

/* One CAPA name into the kept list; out of memory keeps none. */
static void cap_add(struct pop3_session *s, const char *name)
{
	struct pop3_facts *f = &s->facts;

	if (!name[0] || f->ncaps == POP3_CAPS_MAX) {
		f->caps_dropped++;
		return;
	}
	if (!f->caps) {
		f->caps = malloc(POP3_CAPS_MAX * sizeof f->caps[0]);
		if (!f->caps) {
			f->caps_dropped++;
			return;
		}
	}
	memcpy(f->caps[f->ncaps++], name, sizeof f->caps[0]);
}

/* ---- The states ------------------------------------------------------ */

static enum smtp_action st_connecting(struct mail_core *c, enum mail_input in)
{
	struct pop3_session *s = pop3_of(c);

	switch (in) {
	case MAIL_IN_ENTER:
		return SMTP_ACT_WAIT;
	case MAIL_IN_CONNECTED:
		set_state(s, c->implicit ? POP3_ST_TLS_HANDSHAKE
					 : POP3_ST_GREETING);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_greeting(struct mail_core *c, enum mail_input in)
{
	struct pop3_session *s = pop3_of(c);

	switch (in) {
	case MAIL_IN_ENTER:
		mail_answer_start(&s->core.answer);
		return SMTP_ACT_WAIT;
	case MAIL_IN_LINE:
		mail_greeting_keep(c->work, &s->facts.greeting_line,
				   &s->facts.greeting_len);
		s->facts.greeting_status = s->line.status;
		if (s->line.status == POP3_STATUS_ERR) {
			/* Refused (too many connections, blocked): the
			 * server is leaving, nothing is sent. */
			s->facts.greeting = MAIL_GREETING_REJECTED;
			finish(s, MAIL_RC_GREETING_REJECTED);
			set_state(s, POP3_ST_DONE);
			return SMTP_ACT_WAIT;
		}
		s->facts.greeting = MAIL_GREETING_OK;
		/* Implicit TLS: the outcome is tls_ok already. */
		set_state(s, c->in_tls ? POP3_ST_QUIT : POP3_ST_CAPA);
		return SMTP_ACT_WAIT;
	case MAIL_IN_STAGE_TIMEOUT:
		s->facts.greeting = MAIL_GREETING_TIMEOUT;
		finish(s, MAIL_RC_GREETING_TIMEOUT);
		set_state(s, POP3_ST_DONE);
		return SMTP_ACT_WAIT;
	case MAIL_IN_GARBAGE:
	case MAIL_IN_BAD_LINE:
		s->facts.greeting = MAIL_GREETING_GARBAGE;
		end_on(s, in);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_capa(struct mail_core *c, enum mail_input in)
{
	struct pop3_session *s = pop3_of(c);

	switch (in) {
	case MAIL_IN_ENTER:
		s->facts.ncaps = 0;
		s->facts.caps_dropped = 0;
		s->list_stls = false;
		return send_cmd(s, "CAPA");
	case MAIL_IN_LINE:
		s->facts.capa_status = s->line.status;
		if (s->line.status == POP3_STATUS_ERR) {
			/* RFC 2449 predates many servers: no list, and a
			 * strict client does not try STLS blind. */
			finish(s, MAIL_RC_CAPABILITY_REJECTED);
			set_state(s, POP3_ST_QUIT);
			return SMTP_ACT_WAIT;
		}
		s->in_list = true;
		return SMTP_ACT_WAIT;
	case MAIL_IN_LIST_LINE:
		if (!s->line.end) {
			cap_add(s, s->line.name);
			s->list_stls |= s->line.stls;
			return SMTP_ACT_WAIT;
		}
		s->in_list = false;
		mail_observe(&s->facts.starttls_offered, s->list_stls);
		if (s->list_stls) {
			set_state(s, POP3_ST_STLS);
		} else {
			finish(s, MAIL_RC_NO_STARTTLS);
			set_state(s, POP3_ST_QUIT);
		}
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_stls(struct mail_core *c, enum mail_input in)
{
	struct pop3_session *s = pop3_of(c);

	switch (in) {
	case MAIL_IN_ENTER:
		return send_cmd(s, "STLS");
	case MAIL_IN_LINE:
		s->facts.stls_status = s->line.status;
		if (s->line.status == POP3_STATUS_OK) {
			/* From here plaintext would be an injection. */
			mail_observe(&s->facts.injection, false);
			set_state(s, POP3_ST_TLS_HANDSHAKE);
			return SMTP_ACT_WAIT;
		}
		/* Offered, then refused. */
		finish(s, MAIL_RC_STARTTLS_REJECTED);
		s->facts.stripping = SMTP_STRIP_ADVERTISED_REFUSED;
		set_state(s, POP3_ST_QUIT);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_tls_handshake(struct mail_core *c,
					 enum mail_input in)
{
	struct pop3_session *s = pop3_of(c);

	switch (in) {
	case MAIL_IN_ENTER:
		return SMTP_ACT_START_TLS;
	case MAIL_IN_TLS_OK:
		s->facts.tls_ok = true;
		c->in_tls = true;
		finish(s, MAIL_RC_TLS_OK);
		set_state(s, c->implicit ? POP3_ST_GREETING : POP3_ST_QUIT);
		return SMTP_ACT_WAIT;
	case MAIL_IN_TLS_FAILED:
	case MAIL_IN_EOF:
	case MAIL_IN_RESET:
	case MAIL_IN_STAGE_TIMEOUT:
		mail_tls_reason_set(s->facts.tls_reason,
				    sizeof s->facts.tls_reason,
				    mail_core_tls_reason(c, in));
		finish(s, MAIL_RC_TLS_FAILED);
		set_state(s, POP3_ST_DONE);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_quit(struct mail_core *c, enum mail_input in)
{
	struct pop3_session *s = pop3_of(c);

	switch (in) {
	case MAIL_IN_ENTER:
		return send_cmd(s, "QUIT");
	case MAIL_IN_LINE:
		s->facts.quit_status = s->line.status;
		set_state(s, POP3_ST_DONE);
		return SMTP_ACT_WAIT;
	default:
		/* The outcome is known; the answer is a courtesy. */
		set_state(s, POP3_ST_DONE);
		return SMTP_ACT_WAIT;
	}
}

/* ---- Reading, driven by mail_core_on_data() -------------------------- */

/* Bytes nobody asked for. RFC 2595 §4: after the +OK to STLS the next
 * bytes are TLS, so plaintext there is an injection. */
static void discard(struct mail_core *c, const uint8_t *buf, size_t len)
{
	struct pop3_session *s = pop3_of(c);

	mail_discard(&c->transcript, c->in_tls,
		     s->state == POP3_ST_TLS_HANDSHAKE && !c->implicit, buf,
		     len, &s->facts.injection, &s->facts.injected_bytes,
		     &s->facts.unsolicited_bytes);
}

/* One line into s->line: see struct mail_driver. A status line is
 * MAIL_IN_LINE or MAIL_IN_GARBAGE; after CAPA's +OK every line is
 * MAIL_IN_LIST_LINE. */
static int read_line(struct mail_core *c, const uint8_t **buf, size_t *len)
{
	struct pop3_session *s = pop3_of(c);
	int in =
	    mail_core_read(c, buf, len, &s->facts.line_rc, &s->facts.bare_lf);

	if (in != MAIL_IN_LINE)
		return in;
	if (s->in_list) {
		pop3_line_parse(c->work->line, c->work->len, true, &s->line);
		return MAIL_IN_LIST_LINE;
	}
	return pop3_line_parse(c->work->line, c->work->len, false, &s->line)
		   ? MAIL_IN_LINE
		   : MAIL_IN_GARBAGE;
}

static void fail(struct mail_core *c, enum mail_rc rc)
{
	struct pop3_session *s = pop3_of(c);

	finish(s, rc);
	set_state(s, POP3_ST_DONE);
}

static unsigned state_of(const struct mail_core *c)
{
	return ((const struct pop3_session *)c)->state;
}

/* Each state: its name, the stage whose timer runs, its case. */
static const struct mail_state states[POP3_ST_LAST] = {
	[POP3_ST_CONNECTING] = { "connecting", MAIL_STAGE_CONNECT,
				 st_connecting },
	[POP3_ST_GREETING] = { "greeting", MAIL_STAGE_GREETING, st_greeting },
	[POP3_ST_CAPA] = { "capa", MAIL_STAGE_COMMAND, st_capa },
	[POP3_ST_STLS] = { "stls", MAIL_STAGE_COMMAND, st_stls },
	[POP3_ST_TLS_HANDSHAKE] = { "tls_handshake", MAIL_STAGE_TLS,
				    st_tls_handshake },
	[POP3_ST_QUIT] = { "quit", MAIL_STAGE_QUIT, st_quit },
	[POP3_ST_DONE] = { "done", MAIL_STAGE_NONE, NULL },
};

/* How mailcore drives this session: the line reader alone (8 KiB) is the
 * work, the parsed line stays in s->line. */
static const struct mail_driver driver = {
	.name = "pop3",
	.states = states,
	.nstates = POP3_ST_LAST,
	.work_size = sizeof(struct mail_line_reader),
	.literals = false,
	.state = state_of,
	.read_line = read_line,
	.discard = discard,
	.fail = fail,
};

/* ---- Public functions ------------------------------------------------ */

int pop3_session_init(struct pop3_session *s, enum pop3_mode mode,
		      const struct smtp_limits *limits)
{
	memset(s, 0, sizeof *s);
	mail_core_start(&s->core, &driver, mode == POP3_MODE_IMPLICIT, limits,
			POP3_RESP_LINES_MAX, POP3_RESP_BYTES_MAX);
	s->facts.greeting_line = mail_greeting_none;
	s->facts.outcome = MAIL_RC_PENDING;
	s->facts.end_state = POP3_ST_CONNECTING;
	s->facts.line_rc = MAIL_LINE_OK;
	s->state = POP3_ST_CONNECTING;
	return 0;
}

void pop3_session_free(struct pop3_session *s)
{
	mail_core_free(&s->core);
	free(s->facts.caps);
	s->facts.caps = NULL;
	s->facts.ncaps = 0;
	mail_greeting_free(&s->facts.greeting_line, &s->facts.greeting_len);
}
