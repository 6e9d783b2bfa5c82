/*
 * POP3 client session: see pop3.h. Built like smtp.c and imap.c: every
 * public event becomes one input to step(), which runs the current
 * state's case; a state change runs the new state's case with MAIL_IN_ENTER,
 * where each state sends its command. What POP3 shares with IMAP (the
 * inputs, the outcomes of what ends a session, the answer's caps, the
 * transcript of what was read or discarded) is mailcore.h's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawler/mailproto/mailcore.h"
#include "crawler/mailproto/pop3.h"

/* Every command fits the core's output buffer. */
_Static_assert(POP3_OUT_MAX <= MAIL_CMD_MAX, "pop3 commands fit");

static const char *const state_names[] = {
	[POP3_ST_CONNECTING] = "connecting",
	[POP3_ST_GREETING] = "greeting",
	[POP3_ST_CAPA] = "capa",
	[POP3_ST_STLS] = "stls",
	[POP3_ST_TLS_HANDSHAKE] = "tls_handshake",
	[POP3_ST_QUIT] = "quit",
	[POP3_ST_DONE] = "done",
};

const char *pop3_state_str(enum pop3_state st)
{
	if ((unsigned)st >= POP3_ST_LAST)
		return "unknown";
	return state_names[st];
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

static int reader_get(struct pop3_session *s)
{
	if (s->reader)
		return 0;
	s->reader = malloc(sizeof *s->reader);
	if (!s->reader)
		return -ENOMEM;
	mail_line_init(s->reader, false);
	return 0;
}

static void reader_drop(struct pop3_session *s)
{
	free(s->reader);
	s->reader = NULL;
}

/* The only writer of s->state. */
static void set_state(struct pop3_session *s, enum pop3_state st)
{
#ifndef NDEBUG
	if (s->core.limits.trace)
		fprintf(stderr, "pop3: %p %s -> %s\n", (void *)s,
			state_names[s->state], state_names[st]);
#endif
	s->state = st;
	if (st == POP3_ST_TLS_HANDSHAKE || st == POP3_ST_DONE)
		reader_drop(s);
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

static enum smtp_action st_connecting(struct pop3_session *s,
				      enum mail_input in)
{
	switch (in) {
	case MAIL_IN_ENTER:
		return SMTP_ACT_WAIT;
	case MAIL_IN_CONNECTED:
		set_state(s, s->mode == POP3_MODE_IMPLICIT
				 ? POP3_ST_TLS_HANDSHAKE
				 : POP3_ST_GREETING);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_greeting(struct pop3_session *s, enum mail_input in)
{
	switch (in) {
	case MAIL_IN_ENTER:
		mail_answer_start(&s->core.answer);
		return SMTP_ACT_WAIT;
	case MAIL_IN_LINE:
		mail_greeting_keep(s->reader, &s->facts.greeting_line,
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
		set_state(s, s->in_tls ? POP3_ST_QUIT : POP3_ST_CAPA);
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

static enum smtp_action st_capa(struct pop3_session *s, enum mail_input in)
{
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

static enum smtp_action st_stls(struct pop3_session *s, enum mail_input in)
{
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

static enum smtp_action st_tls_handshake(struct pop3_session *s,
					 enum mail_input in)
{
	switch (in) {
	case MAIL_IN_ENTER:
		return SMTP_ACT_START_TLS;
	case MAIL_IN_TLS_OK:
		s->facts.tls_ok = true;
		s->in_tls = true;
		finish(s, MAIL_RC_TLS_OK);
		set_state(s, s->mode == POP3_MODE_IMPLICIT ? POP3_ST_GREETING
							   : POP3_ST_QUIT);
		return SMTP_ACT_WAIT;
	case MAIL_IN_TLS_FAILED:
	case MAIL_IN_EOF:
	case MAIL_IN_RESET:
	case MAIL_IN_STAGE_TIMEOUT:
		mail_tls_reason_set(s->facts.tls_reason,
				    sizeof s->facts.tls_reason,
				    mail_input_tls_reason(in));
		finish(s, MAIL_RC_TLS_FAILED);
		set_state(s, POP3_ST_DONE);
		return SMTP_ACT_WAIT;
	default:
		end_on(s, in);
		return SMTP_ACT_WAIT;
	}
}

static enum smtp_action st_quit(struct pop3_session *s, enum mail_input in)
{
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

static enum smtp_action step(void *v, enum mail_input in)
{
	struct pop3_session *s = v;

	for (;;) {
		enum pop3_state before = s->state;
		enum smtp_action act;

		switch (s->state) {
		case POP3_ST_CONNECTING:
			act = st_connecting(s, in);
			break;
		case POP3_ST_GREETING:
			act = st_greeting(s, in);
			break;
		case POP3_ST_CAPA:
			act = st_capa(s, in);
			break;
		case POP3_ST_STLS:
			act = st_stls(s, in);
			break;
		case POP3_ST_TLS_HANDSHAKE:
			act = st_tls_handshake(s, in);
			break;
		case POP3_ST_QUIT:
			act = st_quit(s, in);
			break;
		case POP3_ST_DONE:
		default:
			return SMTP_ACT_CLOSE;
		}
		if (s->state == before)
			return act;
		in = MAIL_IN_ENTER;
	}
}

/* The timer of each state's stage; DONE has none. */
static const enum mail_stage stages[POP3_ST_LAST] = {
	[POP3_ST_CONNECTING] = MAIL_STAGE_CONNECT,
	[POP3_ST_GREETING] = MAIL_STAGE_GREETING,
	[POP3_ST_CAPA] = MAIL_STAGE_COMMAND,
	[POP3_ST_STLS] = MAIL_STAGE_COMMAND,
	[POP3_ST_TLS_HANDSHAKE] = MAIL_STAGE_TLS,
	[POP3_ST_QUIT] = MAIL_STAGE_QUIT,
};

static enum mail_stage stage(const void *v)
{
	const struct pop3_session *s = v;

	if ((unsigned)s->state >= POP3_ST_LAST)
		return MAIL_STAGE_NONE;
	return stages[s->state];
}

/* ---- Reading, driven by mail_core_on_data() -------------------------- */

/* Bytes nobody asked for. RFC 2595 §4: after the +OK to STLS the next
 * bytes are TLS, so plaintext there is an injection. */
static void discard(void *v, const uint8_t *buf, size_t len)
{
	struct pop3_session *s = v;

	mail_discard(&s->transcript, s->in_tls,
		     s->state == POP3_ST_TLS_HANDSHAKE &&
			 s->mode == POP3_MODE_STLS,
		     buf, len, &s->facts.injection, &s->facts.injected_bytes,
		     &s->facts.unsolicited_bytes);
}

/* One line into s->line: see struct mail_driver. A status line is
 * MAIL_IN_LINE or MAIL_IN_GARBAGE; after CAPA's +OK every line is
 * MAIL_IN_LIST_LINE. */
static int read_line(void *v, const uint8_t **buf, size_t *len)
{
	struct pop3_session *s = v;
	struct mail_line_reader *rd;
	int in;

	if (reader_get(s) != 0) {
		finish(s, MAIL_RC_INTERNAL_ERROR);
		set_state(s, POP3_ST_DONE);
		return -1;
	}
	rd = s->reader;
	in = mail_answer_feed(&s->core.answer, rd, &s->transcript, s->in_tls,
			      buf, len, &s->facts.line_rc, &s->facts.bare_lf);
	if (in != MAIL_IN_LINE)
		return in;
	if (s->in_list) {
		pop3_line_parse(rd->line, rd->len, true, &s->line);
		return MAIL_IN_LIST_LINE;
	}
	return pop3_line_parse(rd->line, rd->len, false, &s->line)
		   ? MAIL_IN_LINE
		   : MAIL_IN_GARBAGE;
}

/* Between lines the reader holds nothing worth its 8 KiB. */
static void idle(void *v)
{
	struct pop3_session *s = v;

	if (s->reader && mail_line_idle(s->reader))
		reader_drop(s);
}

/* How mail_core_on_data() reads for this session. */
static const struct mail_driver driver = {
	.step = step,
	.stage = stage,
	.read_line = read_line,
	.discard = discard,
	.idle = idle,
};

/* ---- Public functions ------------------------------------------------ */

static enum smtp_action emit(struct pop3_session *s, enum smtp_action act)
{
	return mail_core_emit(&s->core, &s->transcript, s->in_tls, act);
}

int pop3_session_init(struct pop3_session *s, enum pop3_mode mode,
		      const struct smtp_limits *limits)
{
	memset(s, 0, sizeof *s);
	s->facts.greeting_line = mail_greeting_none;
	s->mode =
	    mode == POP3_MODE_IMPLICIT ? POP3_MODE_IMPLICIT : POP3_MODE_STLS;
	s->facts.outcome = MAIL_RC_PENDING;
	s->facts.end_state = POP3_ST_CONNECTING;
	s->facts.line_rc = MAIL_LINE_OK;
	s->state = POP3_ST_CONNECTING;
	mail_core_init(&s->core, limits, POP3_RESP_LINES_MAX,
		       POP3_RESP_BYTES_MAX);
	return 0;
}

void pop3_session_free(struct pop3_session *s)
{
	reader_drop(s);
	free(s->facts.caps);
	s->facts.caps = NULL;
	s->facts.ncaps = 0;
	mail_greeting_free(&s->facts.greeting_line, &s->facts.greeting_len);
	smtp_transcript_free(&s->transcript);
}

enum smtp_action pop3_on_connected(struct pop3_session *s)
{
	return emit(s, step(s, MAIL_IN_CONNECTED));
}

enum smtp_action pop3_on_connect_failed(struct pop3_session *s)
{
	return emit(s, step(s, MAIL_IN_CONNECT_FAILED));
}

enum smtp_action pop3_on_data(struct pop3_session *s, const uint8_t *buf,
			      size_t len)
{
	return emit(s, mail_core_on_data(&driver, s, buf, len));
}

enum smtp_action pop3_on_eof(struct pop3_session *s)
{
	return emit(s, step(s, MAIL_IN_EOF));
}

enum smtp_action pop3_on_reset(struct pop3_session *s)
{
	return emit(s, step(s, MAIL_IN_RESET));
}

enum smtp_action pop3_on_timeout(struct pop3_session *s, enum smtp_timer which)
{
	return emit(s, step(s, mail_input_of_timer(which)));
}

enum smtp_action pop3_on_tls_done(struct pop3_session *s, bool ok,
				  const char *reason)
{
	if (!ok && s->state == POP3_ST_TLS_HANDSHAKE)
		mail_tls_reason_set(s->facts.tls_reason,
				    sizeof s->facts.tls_reason,
				    reason ? reason : "error");
	return emit(s, step(s, ok ? MAIL_IN_TLS_OK : MAIL_IN_TLS_FAILED));
}

const uint8_t *pop3_session_output(const struct pop3_session *s, size_t *len)
{
	return mail_core_output(&s->core, len);
}

unsigned pop3_session_stage_timeout_ms(const struct pop3_session *s)
{
	return mail_core_stage_ms(&s->core, stage(s));
}
