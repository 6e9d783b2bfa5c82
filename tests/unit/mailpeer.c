/* The scripted peer of the IMAP and POP3 session tests: see mailpeer.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailpeer.h"
#include "unit.h"

void mail_peer_queue(struct mail_peer *p, const char *bytes)
{
	size_t n = bytes ? strlen(bytes) : 0;

	if (p->qlen + n > sizeof p->queue)
		abort();
	memcpy(p->queue + p->qlen, bytes ? bytes : "", n);
	p->qlen += n;
}

/* The session sent a command: the common checks, then the protocol's. */
static void sent(struct mail_peer *p)
{
	size_t len;
	const uint8_t *out = mail_core_output(p->c, &len);
	char cmd[64];

	CHECK(len > 2 && len < sizeof cmd);
	if (len <= 2 || len >= sizeof cmd)
		return;
	memcpy(cmd, out, len);
	CHECK(cmd[len - 2] == '\r' && cmd[len - 1] == '\n');
	cmd[len - 2] = '\0';
	/* A command only when all the peer said was read. */
	CHECK_INT(p->qoff, p->qlen, p->name);
	if (p->cmds[0])
		strcat(p->cmds, ",");
	if (p->c->in_tls)
		strcat(p->cmds, "+");
	strncat(p->cmds, cmd, sizeof p->cmds - strlen(p->cmds) - 1);
	p->answer(p, cmd);
}

static enum smtp_action peer_end(struct mail_core *c, enum peer_end end)
{
	switch (end) {
	case E_TIMEOUT:
		return mail_core_on_input(c, MAIL_IN_STAGE_TIMEOUT);
	case E_RESET:
		return mail_core_on_input(c, MAIL_IN_RESET);
	case E_DEADLINE:
		return mail_core_on_input(c, MAIL_IN_DEADLINE);
	default:
		return mail_core_on_input(c, MAIL_IN_EOF);
	}
}

void mail_peer_run(struct mail_peer *p, const char *greeting, bool tls_fails,
		   enum peer_end end, size_t chunk)
{
	struct mail_core *c = p->c;
	enum smtp_action a;
	int guard = 0;

	if (!c->implicit)
		mail_peer_queue(p, greeting);
	a = mail_core_on_input(c, MAIL_IN_CONNECTED);
	while (!p->closed && guard++ < 100000) {
		switch (a) {
		case SMTP_ACT_SEND:
			sent(p);
			a = SMTP_ACT_WAIT;
			continue;
		case SMTP_ACT_START_TLS:
			/* What was read before the handshake goes first. */
			if (p->qoff < p->qlen) {
				CHECK_INT(mail_core_on_data(
					      c, (uint8_t *)p->queue + p->qoff,
					      p->qlen - p->qoff),
					  SMTP_ACT_WAIT, p->name);
				p->qoff = p->qlen;
			}
			a = mail_core_on_tls_done(c, !tls_fails,
						  tls_fails ? "alert" : NULL);
			if (!tls_fails && c->implicit)
				mail_peer_queue(p, greeting);
			continue;
		case SMTP_ACT_CLOSE:
			p->closed = true;
			continue;
		default:
			break;
		}
		if (p->qoff < p->qlen) {
			size_t n = p->qlen - p->qoff;

			if (chunk && n > chunk)
				n = chunk;
			a = mail_core_on_data(c, (uint8_t *)p->queue + p->qoff,
					      n);
			p->qoff += n;
			continue;
		}
		a = peer_end(c, end);
	}
	CHECK(p->closed);
	CHECK_INT(mail_core_stage(c), MAIL_STAGE_NONE, p->name);
	CHECK_INT(mail_core_stage_timeout_ms(c), 0, p->name);
	/* After close, every event says close again. */
	CHECK_INT(mail_core_on_data(c, (const uint8_t *)"+OK\r\n", 5),
		  SMTP_ACT_CLOSE, p->name);
	CHECK_INT(mail_core_on_input(c, MAIL_IN_EOF), SMTP_ACT_CLOSE, p->name);
	CHECK(!c->transcript.truncated);
	CHECK(c->work == NULL);
}

void mail_peer_check(const struct mail_peer *p, const char *cmds,
		     const char *outcome, const char *greeting,
		     enum smtp_fact starttls_offered, enum smtp_fact injection,
		     const char *stripping)
{
	const struct mail_core_facts *f = &p->c->facts;

	CHECK_STR(p->cmds, cmds, p->name);
	CHECK_STR(mail_rc_str(f->outcome), outcome, p->name);
	CHECK_STR(mail_greeting_str(f->greeting), greeting, p->name);
	CHECK_INT(f->starttls_offered, starttls_offered, p->name);
	CHECK_INT(f->injection, injection, p->name);
	CHECK_STR(smtp_stripping_str(f->stripping), stripping, p->name);
	CHECK_INT(f->tls_ok, strcmp(outcome, "tls_ok") == 0, p->name);
}
