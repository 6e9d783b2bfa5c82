/*
 * Tests for crawler/mailproto/pop3.c: the line parser as a table, then
 * the session against a scripted peer (one answer per command, as the
 * testbed's POP3 server answers), each script delivered whole, one byte
 * per call and in 5-byte pieces. Every outcome of the M12 contract that
 * POP3 can give is played, in both modes. Every run also checks what the
 * client must never do: send USER, PASS, APOP or AUTH, a command before
 * the answer to the last, anything but QUIT inside TLS, or anything after
 * it said close.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/pop3.h"
#include "mailpeer.h"
#include "unit.h"

static const struct {
	const char *in;
	bool multi, ret;
	enum pop3_status status;
	bool end;
	const char *name;
} line_rows[] = {
	{ "+OK POP3 ready", false, true, POP3_STATUS_OK, false, "" },
	{ "+OK", false, true, POP3_STATUS_OK, false, "" },
	{ "+ok hi", false, true, POP3_STATUS_OK, false, "" },
	{ "-ERR no", false, true, POP3_STATUS_ERR, false, "" },
	{ "-err", false, true, POP3_STATUS_ERR, false, "" },
	{ "+OKAY", false, false, POP3_STATUS_NONE, false, "" },
	{ "* OK IMAP", false, false, POP3_STATUS_NONE, false, "" },
	{ "220 smtp", false, false, POP3_STATUS_NONE, false, "" },
	{ "", false, false, POP3_STATUS_NONE, false, "" },
	/* Multi-line: "." ends, a leading dot is removed once. */
	{ ".", true, true, POP3_STATUS_NONE, true, "" },
	{ "STLS", true, true, POP3_STATUS_NONE, false, "STLS" },
	{ "stls", true, true, POP3_STATUS_NONE, false, "STLS" },
	{ "SASL PLAIN LOGIN", true, true, POP3_STATUS_NONE, false, "SASL" },
	{ "..STLS", true, true, POP3_STATUS_NONE, false, ".STLS" },
	{ ".STLS", true, true, POP3_STATUS_NONE, false, "STLS" },
	{ "..", true, true, POP3_STATUS_NONE, false, "." },
	{ "", true, true, POP3_STATUS_NONE, false, "" },
	{ "X\001Y", true, true, POP3_STATUS_NONE, false, "" },
	{ "+OK", true, true, POP3_STATUS_NONE, false, "+OK" },
};

UNIT_TEST(pop3_line_parse_table)
{
	struct pop3_line l;

	for (size_t i = 0; i < sizeof line_rows / sizeof line_rows[0]; i++) {
		const char *in = line_rows[i].in;

		CHECK_INT(pop3_line_parse((const uint8_t *)in, strlen(in),
					  line_rows[i].multi, &l),
			  line_rows[i].ret, in);
		CHECK_INT(l.status, line_rows[i].status, in);
		CHECK_INT(l.end, line_rows[i].end, in);
		CHECK_STR(l.name, line_rows[i].name, in);
		CHECK_INT(l.stls, strcmp(line_rows[i].name, "STLS") == 0, in);
	}
	/* A name over POP3_CAP_MAX is not kept. */
	char big[POP3_CAP_MAX + 2];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	pop3_line_parse((const uint8_t *)big, strlen(big), true, &l);
	CHECK_STR(l.name, "", "long name");
	big[POP3_CAP_MAX] = '\0';
	pop3_line_parse((const uint8_t *)big, strlen(big), true, &l);
	CHECK_INT(strlen(l.name), POP3_CAP_MAX, "longest name");
	CHECK_STR(pop3_status_str(POP3_STATUS_ERR), "-ERR", "name");
	CHECK_STR(pop3_status_str(POP3_STATUS_NONE), NULL, "name");
	CHECK_STR(pop3_state_str(POP3_ST_CAPA), "capa", "name");
	CHECK_STR(pop3_state_str(POP3_ST_LAST), "unknown", "name");
}

struct pscript {
	const char *name;
	enum pop3_mode mode;
	const char *greeting;
	const char *capa; /* answer to CAPA */
	const char *stls; /* answer to STLS (+ injection) */
	bool tls_fails;
	enum peer_end end;
	const char *outcome;
	const char *greeting_fact;
	enum smtp_fact starttls_offered, injection;
	const char *stripping;
	const char *cmds; /* "+" marks a command inside TLS */
};

#define Y SMTP_FACT_YES
#define N SMTP_FACT_NO
#define U SMTP_FACT_UNSEEN
#define GREET "+OK POP3 ready <1.2@pop.test>\r\n"
#define CAPA_TLS "+OK list follows\r\nUSER\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"
#define CAPA_NOTLS "+OK\r\nUSER\r\nTOP\r\nUIDL\r\n.\r\n"
#define GO "+OK begin TLS\r\n"
#define OK_CMDS "CAPA,STLS,+QUIT"

static const struct pscript pscripts[] = {
	{ "stls-ok", POP3_MODE_STLS, GREET, CAPA_TLS, GO, false, E_EOF,
	  "tls_ok", "ok", Y, N, NULL, OK_CMDS },
	{ "stls-lowercase-lf", POP3_MODE_STLS, "+ok hi\n",
	  "+ok\nuser\nstls\n.\n", "+ok\n", false, E_EOF, "tls_ok", "ok", Y, N,
	  NULL, OK_CMDS },
	{ "stls-dot-stuffed", POP3_MODE_STLS, GREET,
	  "+OK\r\n..odd\r\n.STLS\r\n.\r\n", GO, false, E_EOF, "tls_ok", "ok", Y,
	  N, NULL, OK_CMDS },
	/* "STLS" as a later token, or "..STLS" (which is ".STLS"), is not
	 * the capability. */
	{ "stls-not-first-token", POP3_MODE_STLS, GREET,
	  "+OK\r\nIMPLEMENTATION STLS\r\n..STLS\r\n.\r\n", NULL, false, E_EOF,
	  "no_starttls", "ok", N, U, NULL, "CAPA,QUIT" },
	{ "no-stls", POP3_MODE_STLS, GREET, CAPA_NOTLS, NULL, false, E_EOF,
	  "no_starttls", "ok", N, U, NULL, "CAPA,QUIT" },
	{ "capa-err", POP3_MODE_STLS, GREET, "-ERR unknown command\r\n", NULL,
	  false, E_EOF, "capability_rejected", "ok", U, U, NULL, "CAPA,QUIT" },
	{ "stls-err", POP3_MODE_STLS, GREET, CAPA_TLS, "-ERR not now\r\n",
	  false, E_EOF, "starttls_rejected", "ok", Y, U, "advertised_refused",
	  "CAPA,STLS,QUIT" },
	{ "greeting-err", POP3_MODE_STLS, "-ERR too many connections\r\n", NULL,
	  NULL, false, E_EOF, "greeting_rejected", "rejected", U, U, NULL, "" },
	{ "greeting-timeout", POP3_MODE_STLS, NULL, NULL, NULL, false,
	  E_TIMEOUT, "greeting_timeout", "timeout", U, U, NULL, "" },
	{ "greeting-imap", POP3_MODE_STLS, "* OK IMAP4rev1\r\n", NULL, NULL,
	  false, E_EOF, "protocol_error", "garbage", U, U, NULL, "" },
	{ "tls-failed", POP3_MODE_STLS, GREET, CAPA_TLS, GO, true, E_EOF,
	  "tls_failed", "ok", Y, N, NULL, "CAPA,STLS" },
	{ "injection", POP3_MODE_STLS, GREET, CAPA_TLS, GO "+OK injected\r\n",
	  false, E_EOF, "tls_ok", "ok", Y, Y, NULL, OK_CMDS },
	{ "closed-in-list", POP3_MODE_STLS, GREET, "+OK\r\nUSER\r\n", NULL,
	  false, E_EOF, "connection_closed", "ok", U, U, NULL, "CAPA" },
	{ "reset-in-list", POP3_MODE_STLS, GREET, "+OK\r\nUSER\r\n", NULL,
	  false, E_RESET, "connection_reset", "ok", U, U, NULL, "CAPA" },
	{ "timeout-in-list", POP3_MODE_STLS, GREET, "+OK\r\nSTLS\r\n", NULL,
	  false, E_TIMEOUT, "timeout", "ok", U, U, NULL, "CAPA" },
	{ "deadline", POP3_MODE_STLS, GREET, "+OK\r\n", NULL, false, E_DEADLINE,
	  "deadline", "ok", U, U, NULL, "CAPA" },
	{ "capa-garbage", POP3_MODE_STLS, GREET, "250 OK\r\n", NULL, false,
	  E_EOF, "protocol_error", "ok", U, U, NULL, "CAPA" },
	{ "stls-garbage", POP3_MODE_STLS, GREET, CAPA_TLS, "OK go\r\n", false,
	  E_EOF, "protocol_error", "ok", Y, U, NULL, "CAPA,STLS" },
	{ "implicit-ok", POP3_MODE_IMPLICIT, GREET, NULL, NULL, false, E_EOF,
	  "tls_ok", "ok", U, U, NULL, "+QUIT" },
	{ "implicit-err", POP3_MODE_IMPLICIT, "-ERR go away\r\n", NULL, NULL,
	  false, E_EOF, "tls_ok", "rejected", U, U, NULL, "" },
	{ "implicit-garbage", POP3_MODE_IMPLICIT, "* OK IMAP\r\n", NULL, NULL,
	  false, E_EOF, "tls_ok", "garbage", U, U, NULL, "" },
	{ "implicit-silent", POP3_MODE_IMPLICIT, NULL, NULL, NULL, false,
	  E_TIMEOUT, "tls_ok", "timeout", U, U, NULL, "" },
	{ "implicit-tls-failed", POP3_MODE_IMPLICIT, NULL, NULL, NULL, true,
	  E_EOF, "tls_failed", NULL, U, U, NULL, "" },
};

/* The client sent a command: it is checked and the peer answers. */
static void answer(struct mail_peer *p, const char *cmd)
{
	const struct pscript *sc = p->script;

	CHECK(strcmp(cmd, "CAPA") == 0 || strcmp(cmd, "STLS") == 0 ||
	      strcmp(cmd, "QUIT") == 0);
	if (p->c->in_tls)
		CHECK_STR(cmd, "QUIT", sc->name);
	if (strcmp(cmd, "CAPA") == 0)
		mail_peer_queue(p, sc->capa);
	else if (strcmp(cmd, "STLS") == 0)
		mail_peer_queue(p, sc->stls);
	else
		mail_peer_queue(p, "+OK bye\r\n");
}

static void psim_run(const struct pscript *sc, size_t chunk,
		     struct pop3_session *s)
{
	struct mail_peer m = {
		.c = &s->core, .name = sc->name, .script = sc, .answer = answer
	};

	pop3_session_free(s);
	CHECK_INT(pop3_session_init(s, sc->mode, NULL), 0, sc->name);
	mail_peer_run(&m, sc->greeting, sc->tls_fails, sc->end, chunk);
	CHECK_INT(s->core.state, POP3_ST_DONE, sc->name);
	mail_peer_check(&m, sc->cmds, sc->outcome, sc->greeting_fact,
			sc->starttls_offered, sc->injection, sc->stripping);
}

UNIT_TEST(pop3_session_scripts)
{
	static struct pop3_session s;
	const size_t chunks[] = { 0, 1, 5 };

	for (size_t i = 0; i < sizeof pscripts / sizeof pscripts[0]; i++)
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
			psim_run(&pscripts[i], chunks[c], &s);
	pop3_session_free(&s);
}

static enum smtp_action pfeed(struct pop3_session *s, const char *str)
{
	return mail_core_on_data(&s->core, (const uint8_t *)str, strlen(str));
}

static bool pout_is(const struct pop3_session *s, const char *want)
{
	size_t len;
	const uint8_t *out = mail_core_output(&s->core, &len);
	return len == strlen(want) && memcmp(out, want, len) == 0;
}

UNIT_TEST(pop3_session_injection_and_caps)
{
	static struct pop3_session s;

	pop3_session_init(&s, POP3_MODE_STLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(pfeed(&s, GREET), SMTP_ACT_SEND, "greeting");
	CHECK(pout_is(&s, "CAPA\r\n"));
	CHECK_INT(pfeed(&s, CAPA_TLS), SMTP_ACT_SEND, "capa");
	CHECK(pout_is(&s, "STLS\r\n"));
	CHECK_INT(s.facts.ncaps, 3, "caps");
	CHECK_STR(s.facts.caps[1], "STLS", "caps");
	CHECK_STR(s.facts.caps[2], "SASL", "caps");
	/* The +OK and the injection in one read. */
	CHECK_INT(pfeed(&s, "+OK go\r\n+OK injected\r\n"), SMTP_ACT_START_TLS,
		  "stls");
	CHECK_INT(s.core.facts.injection, SMTP_FACT_YES, "injection");
	CHECK_INT(s.core.facts.injected_bytes, 14, "bytes");
	/* And more in a later read, during the handshake. */
	CHECK_INT(pfeed(&s, "-ERR x\r\n"), SMTP_ACT_WAIT, "later");
	CHECK_INT(s.core.facts.injected_bytes, 22, "bytes");
	CHECK_INT(mail_core_on_tls_done(&s.core, true, NULL), SMTP_ACT_SEND,
		  "tls");
	CHECK(pout_is(&s, "QUIT\r\n"));
	CHECK_INT(pfeed(&s, "+OK bye\r\n"), SMTP_ACT_CLOSE, "quit");
	CHECK_INT(s.facts.quit_status, POP3_STATUS_OK, "quit");
	CHECK_INT(s.core.facts.greeting_len, strlen(GREET) - 2, "greeting");
	const struct smtp_transcript *t = &s.core.transcript;
	CHECK_INT(t->nseg, 8, "segments");
	if (t->nseg == 8) {
		CHECK_INT(t->seg[5].dir, SMTP_DIR_DISCARDED, "injection");
		CHECK_INT(t->seg[5].len, 22, "injection");
		CHECK(t->seg[6].tls && t->seg[6].dir == SMTP_DIR_SENT);
	}
	pop3_session_free(&s);
	pop3_session_free(&s);
}

UNIT_TEST(pop3_session_caps)
{
	static struct pop3_session s;
	enum smtp_action a = SMTP_ACT_WAIT;
	char line[32];

	/* More names than kept; STLS after the cap still counts. */
	pop3_session_init(&s, POP3_MODE_STLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	pfeed(&s, GREET);
	pfeed(&s, "+OK\r\n");
	for (int i = 0; i < POP3_CAPS_MAX + 3; i++) {
		snprintf(line, sizeof line, "X-%d\r\n", i);
		pfeed(&s, line);
	}
	pfeed(&s, "STLS\r\n");
	CHECK_INT(pfeed(&s, ".\r\n"), SMTP_ACT_SEND, "end");
	CHECK(pout_is(&s, "STLS\r\n"));
	CHECK_INT(s.facts.ncaps, POP3_CAPS_MAX, "kept");
	CHECK_INT(s.facts.caps_dropped, 4, "dropped");
	pop3_session_free(&s);

	/* An endless list ends at POP3_RESP_LINES_MAX. */
	pop3_session_init(&s, POP3_MODE_STLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	pfeed(&s, GREET);
	pfeed(&s, "+OK\r\n");
	for (int i = 0; i < POP3_RESP_LINES_MAX && a == SMTP_ACT_WAIT; i++)
		a = pfeed(&s, "USER\r\n");
	CHECK_INT(a, SMTP_ACT_CLOSE, "endless");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "reply_too_large",
		  "outcome");
	pop3_session_free(&s);

	/* A line without end. */
	static char big[MAIL_LINE_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	pop3_session_init(&s, POP3_MODE_STLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	pfeed(&s, GREET);
	CHECK_INT(pfeed(&s, big), SMTP_ACT_CLOSE, "long");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "line_too_long",
		  "outcome");
	CHECK_INT(s.core.facts.line_rc, MAIL_LINE_RC_TOO_LONG, "line_rc");
	pop3_session_free(&s);

	/* Connect failure; unsolicited bytes after the greeting. */
	pop3_session_init(&s, POP3_MODE_STLS, NULL);
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_CONNECT_FAILED),
		  SMTP_ACT_CLOSE, "failed");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "connect_failed",
		  "outcome");
	pop3_session_free(&s);
	pop3_session_init(&s, POP3_MODE_STLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(pfeed(&s, "+OK hi\r\n+OK early\r\n"), SMTP_ACT_SEND, "g");
	CHECK_INT(s.core.facts.unsolicited_bytes, 11, "unsolicited");
	CHECK_INT(s.core.facts.injection, SMTP_FACT_UNSEEN, "injection");
	pop3_session_free(&s);
}

UNIT_TEST(pop3_session_timers)
{
	static struct pop3_session s;
	struct smtp_limits lim;

	smtp_limits_default(&lim);
	lim.banner_ms = 11;
	lim.command_ms = 22;
	lim.tls_ms = 33;
	lim.quit_ms = 44;
	pop3_session_init(&s, POP3_MODE_STLS, &lim);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 11, "greeting");
	pfeed(&s, GREET);
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 22, "capa");
	pfeed(&s, "+OK\r\n.\r\n");
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 44, "quit");
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_STAGE_TIMEOUT),
		  SMTP_ACT_CLOSE, "q");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "no_starttls", "outcome");
	pop3_session_free(&s);

	pop3_session_init(&s, POP3_MODE_IMPLICIT, &lim);
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_CONNECTED),
		  SMTP_ACT_START_TLS, "implicit");
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 33, "tls");
	CHECK_INT(mail_core_on_tls_done(&s.core, true, NULL), SMTP_ACT_WAIT,
		  "tls");
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 11, "greeting");
	CHECK_INT(pfeed(&s, "+OK\r\n"), SMTP_ACT_SEND, "greeting");
	CHECK(pout_is(&s, "QUIT\r\n"));
	CHECK(s.core.in_tls);
	pop3_session_free(&s);

	/* A handshake result out of the handshake is the caller's bug,
	 * not believed and not blamed on the peer. */
	pop3_session_init(&s, POP3_MODE_STLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(mail_core_on_tls_done(&s.core, true, NULL), SMTP_ACT_CLOSE,
		  "bug");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "internal_error",
		  "outcome");
	CHECK(!s.core.facts.tls_ok && !s.core.in_tls);
	pop3_session_free(&s);
}
