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

static void set_state(struct pop3_session *s, enum pop3_state st)
{
	mail_core_set_state(&s->core, st);
}

static void finish(struct pop3_session *s, enum mail_rc rc)
{
	mail_core_finish(&s->core, rc);
}

/* Puts "<verb>\r\n" in the output buffer; a new answer starts. */
static enum smtp_action send_cmd(struct pop3_session *s, const char *verb)
{
	s->in_list = false;
	return mail_core_send(&s->core, NULL, verb);
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

/* Connecting and the handshake are mailcore's (mail_core_st_*). */

static enum smtp_action st_greeting(struct mail_core *c, enum mail_input in)
{
	struct pop3_session *s = pop3_of(c);

	if (in == MAIL_IN_ENTER) {
		mail_answer_start(&c->answer);
		return SMTP_ACT_WAIT;
	}
	if (in != MAIL_IN_LINE)
		return mail_core_greeting_lost(c, in);
	s->facts.greeting_status = s->line.status;
	if (s->line.status == POP3_STATUS_ERR) {
		/* Refused (too many connections, blocked): the server is
		 * leaving, nothing is sent. */
		mail_core_greeting(c, MAIL_GREETING_REJECTED);
		return SMTP_ACT_WAIT;
	}
	mail_core_greeting(c, MAIL_GREETING_OK);
	/* Implicit TLS: the outcome is tls_ok already. */
	set_state(s, c->in_tls ? POP3_ST_QUIT : POP3_ST_CAPA);
	return SMTP_ACT_WAIT;
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
		mail_observe(&c->facts.starttls_offered, s->list_stls);
		if (s->list_stls) {
			set_state(s, POP3_ST_STLS);
		} else {
			finish(s, MAIL_RC_NO_STARTTLS);
			set_state(s, POP3_ST_QUIT);
		}
		return SMTP_ACT_WAIT;
	default:
		return mail_core_end_on(c, in);
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
		return mail_core_starttls_answer(c, s->line.status ==
							POP3_STATUS_OK);
	default:
		return mail_core_end_on(c, in);
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

/* One line into s->line: see struct mail_driver. A status line is
 * MAIL_IN_LINE or MAIL_IN_GARBAGE; after CAPA's +OK every line is
 * MAIL_IN_LIST_LINE. */
static int read_line(struct mail_core *c, const uint8_t **buf, size_t *len)
{
	struct pop3_session *s = pop3_of(c);
	int in = mail_core_read(c, buf, len);

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

/* Each state: its name, the stage whose timer runs, its case. */
static const struct mail_state states[POP3_ST_LAST] = {
	[POP3_ST_CONNECTING] = { "connecting", MAIL_STAGE_CONNECT,
				 mail_core_st_connecting },
	[POP3_ST_GREETING] = { "greeting", MAIL_STAGE_GREETING, st_greeting },
	[POP3_ST_CAPA] = { "capa", MAIL_STAGE_COMMAND, st_capa },
	[POP3_ST_STLS] = { "stls", MAIL_STAGE_COMMAND, st_stls },
	[POP3_ST_TLS_HANDSHAKE] = { "tls_handshake", MAIL_STAGE_TLS,
				    mail_core_st_tls_handshake },
	[POP3_ST_QUIT] = { "quit", MAIL_STAGE_QUIT, st_quit },
	[POP3_ST_DONE] = { "done", MAIL_STAGE_NONE, NULL },
};

/* How mailcore drives this session: the line reader alone (8 KiB) is the
 * work, the parsed line stays in s->line. */
static const struct mail_driver driver = {
	.name = "pop3",
	.states = states,
	.nstates = POP3_ST_LAST,
	.st_greeting = POP3_ST_GREETING,
	.st_tls = POP3_ST_TLS_HANDSHAKE,
	.st_quit = POP3_ST_QUIT,
	.st_done = POP3_ST_DONE,
	.work_size = sizeof(struct mail_line_reader),
	.literals = false,
	.read_line = read_line,
};

/* ---- Public functions ------------------------------------------------ */

int pop3_session_init(struct pop3_session *s, enum pop3_mode mode,
		      const struct smtp_limits *limits)
{
	memset(s, 0, sizeof *s);
	mail_core_start(&s->core, &driver, mode == POP3_MODE_IMPLICIT, limits,
			POP3_RESP_LINES_MAX, POP3_RESP_BYTES_MAX);
	return 0;
}

void pop3_session_free(struct pop3_session *s)
{
	mail_core_free(&s->core);
	free(s->facts.caps);
	s->facts.caps = NULL;
	s->facts.ncaps = 0;
}
