/* The client mail services over their sessions: see mailsess.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crawler/mailproto/mailsess.h"

static const struct {
	const char *name;
	enum mail_proto proto;
	enum mail_tls tls;
	unsigned port;
} services[] = {
	[MAIL_SVC_SUBMISSIONS] = { "submissions", MAIL_PROTO_SMTP,
				   MAIL_TLS_IMPLICIT, 465 },
	[MAIL_SVC_SUBMISSION] = { "submission", MAIL_PROTO_SMTP,
				  MAIL_TLS_STARTTLS, 587 },
	[MAIL_SVC_IMAPS] = { "imaps", MAIL_PROTO_IMAP, MAIL_TLS_IMPLICIT, 993 },
	[MAIL_SVC_IMAP] = { "imap", MAIL_PROTO_IMAP, MAIL_TLS_STARTTLS, 143 },
	[MAIL_SVC_POP3S] = { "pop3s", MAIL_PROTO_POP3, MAIL_TLS_IMPLICIT, 995 },
	[MAIL_SVC_POP3] = { "pop3", MAIL_PROTO_POP3, MAIL_TLS_STARTTLS, 110 },
};

static const char *const proto_names[] = {
	[MAIL_PROTO_SMTP] = "smtp",
	[MAIL_PROTO_IMAP] = "imap",
	[MAIL_PROTO_POP3] = "pop3",
};

static const char *const tls_names[] = {
	[MAIL_TLS_IMPLICIT] = "implicit",
	[MAIL_TLS_STARTTLS] = "starttls",
};

const char *mail_service_str(enum mail_service svc)
{
	if ((unsigned)svc >= MAIL_SVC_LAST)
		return "unknown";
	return services[svc].name;
}

int mail_service_from_str(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < MAIL_SVC_LAST; i++)
		if (strcmp(services[i].name, name) == 0)
			return i;
	return -1;
}

const char *mail_proto_str(enum mail_proto p)
{
	if ((unsigned)p >= MAIL_PROTO_LAST)
		return "unknown";
	return proto_names[p];
}

const char *mail_tls_str(enum mail_tls t)
{
	if ((unsigned)t >= MAIL_TLS_LAST)
		return "unknown";
	return tls_names[t];
}

enum mail_proto mail_service_proto(enum mail_service svc)
{
	return (unsigned)svc < MAIL_SVC_LAST ? services[svc].proto
					     : MAIL_PROTO_SMTP;
}

enum mail_tls mail_service_tls(enum mail_service svc)
{
	return (unsigned)svc < MAIL_SVC_LAST ? services[svc].tls
					     : MAIL_TLS_STARTTLS;
}

unsigned mail_service_port(enum mail_service svc)
{
	return (unsigned)svc < MAIL_SVC_LAST ? services[svc].port : 0;
}

enum mail_rc mail_rc_from_smtp(enum smtp_rc rc)
{
	switch (rc) {
	case SMTP_RC_STARTTLS_OK:
		return MAIL_RC_TLS_OK;
	case SMTP_RC_NO_STARTTLS:
		return MAIL_RC_NO_STARTTLS;
	case SMTP_RC_STARTTLS_REJECTED:
		return MAIL_RC_STARTTLS_REJECTED;
	case SMTP_RC_BANNER_REJECTED:
		return MAIL_RC_GREETING_REJECTED;
	case SMTP_RC_BANNER_TIMEOUT:
		return MAIL_RC_GREETING_TIMEOUT;
	case SMTP_RC_EHLO_REJECTED:
		return MAIL_RC_CAPABILITY_REJECTED;
	case SMTP_RC_TLS_FAILED:
		return MAIL_RC_TLS_FAILED;
	case SMTP_RC_CONNECTION_RESET:
		return MAIL_RC_CONNECTION_RESET;
	case SMTP_RC_CONNECTION_CLOSED:
		return MAIL_RC_CONNECTION_CLOSED;
	case SMTP_RC_PROTOCOL_ERROR:
		return MAIL_RC_PROTOCOL_ERROR;
	case SMTP_RC_LINE_TOO_LONG:
		return MAIL_RC_LINE_TOO_LONG;
	case SMTP_RC_REPLY_TOO_LARGE:
		return MAIL_RC_REPLY_TOO_LARGE;
	case SMTP_RC_DEADLINE:
		return MAIL_RC_DEADLINE;
	case SMTP_RC_TIMEOUT:
		return MAIL_RC_TIMEOUT;
	case SMTP_RC_CONNECT_FAILED:
		return MAIL_RC_CONNECT_FAILED;
	case SMTP_RC_PENDING:
		return MAIL_RC_PENDING;
	case SMTP_RC_INTERNAL_ERROR:
	default:
		return MAIL_RC_INTERNAL_ERROR;
	}
}

/* The values are the same by construction (smtp.h says so); the switch
 * keeps a reordering of either from passing silently. */
static enum mail_greeting greeting_from_smtp(enum smtp_greeting g)
{
	switch (g) {
	case SMTP_GREETING_OK:
		return MAIL_GREETING_OK;
	case SMTP_GREETING_REJECTED:
		return MAIL_GREETING_REJECTED;
	case SMTP_GREETING_GARBAGE:
		return MAIL_GREETING_GARBAGE;
	case SMTP_GREETING_TIMEOUT:
		return MAIL_GREETING_TIMEOUT;
	default:
		return MAIL_GREETING_UNSEEN;
	}
}

int mail_session_init(struct mail_session *m, enum mail_service svc,
		      const char *ehlo_name, const struct smtp_limits *limits)
{
	memset(m, 0, sizeof *m);
	m->service = svc;
	switch (mail_service_proto(svc)) {
	case MAIL_PROTO_IMAP:
		return imap_session_init(&m->u.imap,
					 mail_service_tls(svc) ==
						 MAIL_TLS_IMPLICIT
					     ? IMAP_MODE_IMPLICIT
					     : IMAP_MODE_STARTTLS,
					 limits);
	case MAIL_PROTO_POP3:
		return pop3_session_init(&m->u.pop3,
					 mail_service_tls(svc) ==
						 MAIL_TLS_IMPLICIT
					     ? POP3_MODE_IMPLICIT
					     : POP3_MODE_STLS,
					 limits);
	default:
		break;
	}
	if ((unsigned)svc >= MAIL_SVC_LAST) {
		/* The zeroed SMTP session is safe to free. */
		m->service = MAIL_SVC_SUBMISSION;
		return -EINVAL;
	}
	return smtp_session_init_mode(&m->u.smtp, ehlo_name, limits,
				      mail_service_tls(svc) == MAIL_TLS_IMPLICIT
					  ? SMTP_TLS_IMPLICIT
					  : SMTP_TLS_STARTTLS);
}

void mail_session_free(struct mail_session *m)
{
	switch (mail_service_proto(m->service)) {
	case MAIL_PROTO_IMAP:
		imap_session_free(&m->u.imap);
		break;
	case MAIL_PROTO_POP3:
		pop3_session_free(&m->u.pop3);
		break;
	default:
		smtp_session_free(&m->u.smtp);
		break;
	}
}

/* The IMAP or POP3 session's core, or NULL for SMTP. */
static struct mail_core *core_of(struct mail_session *m)
{
	switch (mail_service_proto(m->service)) {
	case MAIL_PROTO_IMAP:
		return &m->u.imap.core;
	case MAIL_PROTO_POP3:
		return &m->u.pop3.core;
	default:
		return NULL;
	}
}

/* core_of() for the readers: the cast only lets one switch serve both,
 * nothing is written through it. */
static const struct mail_core *core_of_const(const struct mail_session *m)
{
	return core_of((struct mail_session *)m);
}

enum smtp_action mail_on_connected(struct mail_session *m)
{
	struct mail_core *c = core_of(m);

	return c ? mail_core_on_input(c, MAIL_IN_CONNECTED)
		 : smtp_on_connected(&m->u.smtp);
}

enum smtp_action mail_on_connect_failed(struct mail_session *m)
{
	struct mail_core *c = core_of(m);

	return c ? mail_core_on_input(c, MAIL_IN_CONNECT_FAILED)
		 : smtp_on_connect_failed(&m->u.smtp);
}

enum smtp_action mail_on_data(struct mail_session *m, const uint8_t *buf,
			      size_t len)
{
	struct mail_core *c = core_of(m);

	return c ? mail_core_on_data(c, buf, len)
		 : smtp_on_data(&m->u.smtp, buf, len);
}

enum smtp_action mail_on_eof(struct mail_session *m)
{
	struct mail_core *c = core_of(m);

	return c ? mail_core_on_input(c, MAIL_IN_EOF) : smtp_on_eof(&m->u.smtp);
}

enum smtp_action mail_on_reset(struct mail_session *m)
{
	struct mail_core *c = core_of(m);

	return c ? mail_core_on_input(c, MAIL_IN_RESET)
		 : smtp_on_reset(&m->u.smtp);
}

enum smtp_action mail_on_timeout(struct mail_session *m, enum smtp_timer which)
{
	struct mail_core *c = core_of(m);

	return c ? mail_core_on_input(c, mail_input_of_timer(which))
		 : smtp_on_timeout(&m->u.smtp, which);
}

enum smtp_action mail_on_tls_done(struct mail_session *m, bool ok,
				  const char *reason)
{
	struct mail_core *c = core_of(m);

	return c ? mail_core_on_tls_done(c, ok, reason)
		 : smtp_on_tls_done(&m->u.smtp, ok, reason);
}

const uint8_t *mail_session_output(const struct mail_session *m, size_t *len)
{
	const struct mail_core *c = core_of_const(m);

	return c ? mail_core_output(c, len)
		 : smtp_session_output(&m->u.smtp, len);
}

unsigned mail_session_stage_timeout_ms(const struct mail_session *m)
{
	const struct mail_core *c = core_of_const(m);

	return c ? mail_core_stage_timeout_ms(c)
		 : smtp_session_stage_timeout_ms(&m->u.smtp);
}

/* IMAP's status words as the protocol writes them. */
static const char *imap_code(enum imap_status st)
{
	switch (st) {
	case IMAP_STATUS_OK:
		return "OK";
	case IMAP_STATUS_NO:
		return "NO";
	case IMAP_STATUS_BAD:
		return "BAD";
	case IMAP_STATUS_PREAUTH:
		return "PREAUTH";
	case IMAP_STATUS_BYE:
		return "BYE";
	default:
		return "";
	}
}

static void set_code(char out[8], const char *code)
{
	snprintf(out, 8, "%s", code ? code : "");
}

static void smtp_code(char out[8], int code)
{
	if (code > 0 && code < 1000)
		snprintf(out, 8, "%d", code);
	else
		out[0] = '\0';
}

void mail_session_facts(const struct mail_session *m, struct mail_facts *out)
{
	const struct mail_core *c = core_of_const(m);

	memset(out, 0, sizeof *out);
	if (c) {
		const struct mail_core_facts *f = &c->facts;

		out->outcome = f->outcome;
		out->end_state = mail_core_state_str(c, f->end_state);
		out->greeting = f->greeting;
		out->starttls_offered = f->starttls_offered;
		out->injection = f->injection;
		out->injected_bytes = f->injected_bytes;
		out->unsolicited_bytes = f->unsolicited_bytes;
		out->stripping = f->stripping;
		out->tls_ok = f->tls_ok;
		out->tls_reason = f->tls_reason;
		out->greeting_line = f->greeting_line;
		out->greeting_len = f->greeting_len;
		out->transcript = &c->transcript;
	}
	switch (mail_service_proto(m->service)) {
	case MAIL_PROTO_IMAP: {
		const struct imap_facts *f = &m->u.imap.facts;

		set_code(out->greeting_code, imap_code(f->greeting_status));
		set_code(out->starttls_code, imap_code(f->starttls_status));
		return;
	}
	case MAIL_PROTO_POP3: {
		const struct pop3_facts *f = &m->u.pop3.facts;

		set_code(out->greeting_code,
			 pop3_status_str(f->greeting_status));
		set_code(out->starttls_code, pop3_status_str(f->stls_status));
		return;
	}
	default: {
		const struct smtp_session *s = &m->u.smtp;
		const struct smtp_facts *f = &s->facts;

		out->outcome = mail_rc_from_smtp(f->outcome);
		out->end_state = smtp_state_str(f->end_state);
		out->greeting = greeting_from_smtp(f->greeting);
		out->starttls_offered = f->starttls_offered;
		out->injection = f->injection;
		out->injected_bytes = f->injected_bytes;
		out->unsolicited_bytes = f->unsolicited_bytes;
		out->stripping = f->stripping;
		out->tls_ok = f->tls_ok;
		out->tls_reason = f->tls_reason;
		smtp_code(out->greeting_code, f->banner_code);
		smtp_code(out->starttls_code, f->starttls_code);
		out->greeting_line = f->banner;
		out->greeting_len = f->banner_len;
		out->transcript = &s->transcript;
		return;
	}
	}
}
