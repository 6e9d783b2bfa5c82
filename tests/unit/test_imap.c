/*
 * Tests for crawler/mailproto/imap.c and mailline.c: the response line
 * reader and parser as tables, then the session against a scripted peer
 * (one reply per command, as the testbed's IMAP server answers), each
 * script delivered whole, one byte per call and in 5-byte pieces. Every
 * outcome of the M12 contract that IMAP can give is played, in both
 * modes. Every run also checks what the client must never do: send LOGIN
 * or AUTHENTICATE, a command before the answer to the last, anything but
 * LOGOUT inside TLS, or anything after it said close.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/imap.h"
#include "mailpeer.h"
#include "unit.h"

/* ---- The line reader ------------------------------------------------- */

static const struct {
	const char *in;
	bool literals;
	enum mail_line_rc rc;
	const char *line; /* the line read, when rc is OK */
	size_t used;	  /* bytes used */
	bool bare_lf;
} line_rows[] = {
	{ "* OK hi\r\nnext", false, MAIL_LINE_OK, "* OK hi", 9, false },
	{ "* OK hi\nnext", false, MAIL_LINE_OK, "* OK hi", 8, true },
	{ "* OK hi", false, MAIL_LINE_RC_INCOMPLETE, NULL, 7, false },
	{ "\r\n", false, MAIL_LINE_OK, "", 2, false },
	{ "a\rb\r\n", false, MAIL_LINE_OK, "a\rb", 5, false },
	/* A literal is skipped, CRLF inside it included; the line goes on
	 * after it. */
	{ "* ID {4}\r\na\r\nb rest\r\nx", true, MAIL_LINE_OK, "* ID {4} rest",
	  21, false },
	{ "* ID {2+}\r\nab\r\n", true, MAIL_LINE_OK, "* ID {2+}", 15, false },
	{ "* ID {0}\r\n\r\n", true, MAIL_LINE_OK, "* ID {0}", 12, false },
	/* Without literals (POP3) "{4}" is text. */
	{ "+OK {4}\r\nabcd", false, MAIL_LINE_OK, "+OK {4}", 9, false },
	/* Not a literal: no digits, no brace, text after it. */
	{ "* X {}\r\n", true, MAIL_LINE_OK, "* X {}", 8, false },
	{ "* X 4}\r\n", true, MAIL_LINE_OK, "* X 4}", 8, false },
	{ "* X {4} y\r\n", true, MAIL_LINE_OK, "* X {4} y", 11, false },
	{ "* X {4097}\r\n", true, MAIL_LINE_RC_LITERAL_TOO_LARGE, NULL, 12,
	  false },
	{ "* X {0000000000001}\r\n", true, MAIL_LINE_RC_LITERAL_TOO_LARGE, NULL,
	  21, false },
};

UNIT_TEST(mail_line_table)
{
	static struct mail_line_reader r;

	for (size_t i = 0; i < sizeof line_rows / sizeof line_rows[0]; i++) {
		const char *in = line_rows[i].in;
		size_t used;
		enum mail_line_rc rc;

		mail_line_init(&r, line_rows[i].literals);
		rc = mail_line_feed(&r, (const uint8_t *)in, strlen(in), &used);
		CHECK_INT(rc, line_rows[i].rc, in);
		CHECK_INT(used, line_rows[i].used, in);
		if (rc == MAIL_LINE_OK) {
			CHECK_INT(r.len, strlen(line_rows[i].line), in);
			CHECK(memcmp(r.line, line_rows[i].line, r.len) == 0);
			CHECK_INT(r.bare_lf, line_rows[i].bare_lf, in);
		}
		/* One byte per call reads the same line. */
		mail_line_init(&r, line_rows[i].literals);
		size_t total = 0;
		rc = MAIL_LINE_RC_INCOMPLETE;
		while (total < strlen(in) && rc == MAIL_LINE_RC_INCOMPLETE) {
			rc = mail_line_feed(&r, (const uint8_t *)in + total, 1,
					    &used);
			total += used;
		}
		CHECK_INT(rc, line_rows[i].rc, in);
		CHECK_INT(total, line_rows[i].used, in);
		if (rc == MAIL_LINE_OK)
			CHECK_INT(r.len, strlen(line_rows[i].line), in);
	}
}

UNIT_TEST(mail_line_caps)
{
	static struct mail_line_reader r;
	static uint8_t buf[MAIL_LINE_MAX + 2];
	size_t used;

	/* MAIL_LINE_MAX bytes are a line; one more is too long, and the
	 * error sticks. */
	memset(buf, 'A', sizeof buf);
	buf[MAIL_LINE_MAX] = '\n';
	mail_line_init(&r, false);
	CHECK_INT(mail_line_feed(&r, buf, MAIL_LINE_MAX + 1, &used),
		  MAIL_LINE_OK, "max");
	CHECK_INT(r.len, MAIL_LINE_MAX, "max");
	buf[MAIL_LINE_MAX] = 'A';
	mail_line_init(&r, false);
	CHECK_INT(mail_line_feed(&r, buf, sizeof buf, &used),
		  MAIL_LINE_RC_TOO_LONG, "max+1");
	CHECK_INT(used, MAIL_LINE_MAX + 1, "max+1");
	CHECK_INT(mail_line_feed(&r, buf, 1, &used), MAIL_LINE_RC_TOO_LONG,
		  "sticky");
	CHECK_INT(used, 0, "sticky");
	CHECK_STR(mail_line_rc_str(MAIL_LINE_RC_TOO_LONG), "line_too_long",
		  "name");
	CHECK_STR(mail_line_rc_str(MAIL_LINE_RC_LAST), "unknown", "name");

	/* At most MAIL_LITERALS_MAX literals in a line. */
	char many[256] = "* X";
	for (int i = 0; i <= MAIL_LITERALS_MAX; i++)
		strcat(many, " {1}\r\nz");
	strcat(many, "\r\n");
	mail_line_init(&r, true);
	CHECK_INT(
	    mail_line_feed(&r, (const uint8_t *)many, strlen(many), &used),
	    MAIL_LINE_RC_LITERAL_TOO_LARGE, "literals");
}

/* ---- The response parser --------------------------------------------- */

static const struct {
	const char *in;
	bool literal;
	enum imap_kind kind;
	enum imap_status status;
	const char *tag;
	bool cap_data, cap_code, starttls, logindisabled;
	size_t ncaps;
	const char *cap0; /* first capability kept */
} resp_rows[] = {
	{ "* OK IMAP ready", 0, IMAP_KIND_UNTAGGED, IMAP_STATUS_OK, "", 0, 0, 0,
	  0, 0, NULL },
	{ "* ok ready", 0, IMAP_KIND_UNTAGGED, IMAP_STATUS_OK, "", 0, 0, 0, 0,
	  0, NULL },
	{ "* OK", 0, IMAP_KIND_UNTAGGED, IMAP_STATUS_OK, "", 0, 0, 0, 0, 0,
	  NULL },
	{ "* OK [CAPABILITY IMAP4rev1 starttls LoginDisabled] hi", 0,
	  IMAP_KIND_UNTAGGED, IMAP_STATUS_OK, "", 0, 1, 1, 1, 3, "IMAP4REV1" },
	{ "* OK [capability IMAP4rev1 STARTTLS]", 0, IMAP_KIND_UNTAGGED,
	  IMAP_STATUS_OK, "", 0, 1, 1, 0, 2, "IMAP4REV1" },
	{ "* OK [ALERT] STARTTLS", 0, IMAP_KIND_UNTAGGED, IMAP_STATUS_OK, "", 0,
	  0, 0, 0, 0, NULL },
	{ "* PREAUTH welcome", 0, IMAP_KIND_UNTAGGED, IMAP_STATUS_PREAUTH, "",
	  0, 0, 0, 0, 0, NULL },
	{ "* BYE busy", 0, IMAP_KIND_UNTAGGED, IMAP_STATUS_BYE, "", 0, 0, 0, 0,
	  0, NULL },
	{ "* CAPABILITY IMAP4rev2 STARTTLS AUTH=PLAIN", 0, IMAP_KIND_UNTAGGED,
	  IMAP_STATUS_NONE, "", 1, 0, 1, 0, 3, "IMAP4REV2" },
	{ "* Capability imap4rev1 x-(bad)", 0, IMAP_KIND_UNTAGGED,
	  IMAP_STATUS_NONE, "", 1, 0, 0, 0, 1, "IMAP4REV1" },
	/* STARTTLS as text or as part of an atom is not the capability. */
	{ "* CAPABILITY IMAP4rev1 XSTARTTLS STARTTLSX", 0, IMAP_KIND_UNTAGGED,
	  IMAP_STATUS_NONE, "", 1, 0, 0, 0, 3, "IMAP4REV1" },
	{ "* 3 EXISTS", 0, IMAP_KIND_UNTAGGED, IMAP_STATUS_NONE, "", 0, 0, 0, 0,
	  0, NULL },
	{ "* ID {5} rest", 1, IMAP_KIND_UNTAGGED, IMAP_STATUS_NONE, "", 0, 0, 0,
	  0, 0, NULL },
	{ "a1 OK done", 0, IMAP_KIND_TAGGED, IMAP_STATUS_OK, "a1", 0, 0, 0, 0,
	  0, NULL },
	{ "a2 no", 0, IMAP_KIND_TAGGED, IMAP_STATUS_NO, "a2", 0, 0, 0, 0, 0,
	  NULL },
	{ "a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done", 0, IMAP_KIND_TAGGED,
	  IMAP_STATUS_OK, "a1", 0, 1, 1, 0, 2, "IMAP4REV1" },
	{ "a3 BAD what", 0, IMAP_KIND_TAGGED, IMAP_STATUS_BAD, "a3", 0, 0, 0, 0,
	  0, NULL },
	{ "+ go ahead", 0, IMAP_KIND_CONTINUATION, IMAP_STATUS_NONE, "", 0, 0,
	  0, 0, 0, NULL },
	{ "+", 0, IMAP_KIND_CONTINUATION, IMAP_STATUS_NONE, "", 0, 0, 0, 0, 0,
	  NULL },
	/* Garbage: not IMAP, or a literal where none may be. */
	{ "", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0, 0, NULL },
	{ "220 mx ESMTP", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0,
	  0, 0, NULL },
	{ "+OK POP3 ready", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0,
	  0, 0, NULL },
	{ "*OK", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0, 0,
	  NULL },
	{ "* ", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0, 0,
	  NULL },
	{ "a1 PREAUTH", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0,
	  0, NULL },
	{ "a1 OKAY", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0, 0,
	  NULL },
	{ "a1", 0, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0, 0,
	  NULL },
	{ "* OK {5} x", 1, IMAP_KIND_GARBAGE, IMAP_STATUS_OK, "", 0, 0, 0, 0, 0,
	  NULL },
	{ "* CAPABILITY {8} x", 1, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 1,
	  0, 0, 0, 1, "{8}" },
	{ "a1 OK {3} x", 1, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0,
	  0, NULL },
	{ "+ {3} x", 1, IMAP_KIND_GARBAGE, IMAP_STATUS_NONE, "", 0, 0, 0, 0, 0,
	  NULL },
};

UNIT_TEST(imap_resp_parse_table)
{
	static struct imap_resp r;

	for (size_t i = 0; i < sizeof resp_rows / sizeof resp_rows[0]; i++) {
		const char *in = resp_rows[i].in;

		CHECK_INT(imap_resp_parse((const uint8_t *)in, strlen(in),
					  resp_rows[i].literal, &r),
			  resp_rows[i].kind, in);
		if (r.kind == IMAP_KIND_GARBAGE)
			continue;
		CHECK_INT(r.status, resp_rows[i].status, in);
		CHECK_STR(r.tag, resp_rows[i].tag, in);
		CHECK_INT(r.cap_data, resp_rows[i].cap_data, in);
		CHECK_INT(r.cap_code, resp_rows[i].cap_code, in);
		CHECK_INT(r.starttls, resp_rows[i].starttls, in);
		CHECK_INT(r.logindisabled, resp_rows[i].logindisabled, in);
		CHECK_INT(r.ncaps, resp_rows[i].ncaps, in);
		if (resp_rows[i].cap0 && r.ncaps > 0)
			CHECK_STR(r.caps[0], resp_rows[i].cap0, in);
	}
}

UNIT_TEST(imap_resp_caps_bound)
{
	static struct imap_resp r;
	static char line[IMAP_CAPS_MAX * 8 + 256];
	char cap[16];

	strcpy(line, "* CAPABILITY");
	for (int i = 0; i < IMAP_CAPS_MAX + 10; i++) {
		snprintf(cap, sizeof cap, " X-C%d", i);
		strcat(line, cap);
	}
	strcat(line, " STARTTLS ");
	for (int i = 0; i < IMAP_CAP_MAX + 1; i++)
		strcat(line, "L");
	imap_resp_parse((const uint8_t *)line, strlen(line), false, &r);
	CHECK_INT(r.kind, IMAP_KIND_UNTAGGED, "kind");
	CHECK_INT(r.ncaps, IMAP_CAPS_MAX, "kept");
	CHECK_INT(r.caps_dropped, 12, "dropped");
	/* STARTTLS beyond the array still counts. */
	CHECK(r.starttls);
	CHECK_STR(imap_status_str(IMAP_STATUS_PREAUTH), "preauth", "name");
	CHECK_STR(imap_status_str(IMAP_STATUS_NONE), NULL, "name");
}

/* ---- The session against a scripted peer ----------------------------- */

struct iscript {
	const char *name;
	enum imap_mode mode;
	const char *greeting;
	const char *capability; /* answer to a1 CAPABILITY */
	const char *starttls;	/* answer to a2 STARTTLS (+ injection) */
	bool tls_fails;
	enum peer_end end;
	/* Expected. */
	const char *outcome;
	const char *greeting_fact;
	enum smtp_fact starttls_offered, injection, logindisabled;
	const char *stripping;
	const char *cmds; /* "+" marks a command sent inside TLS */
};

#define Y SMTP_FACT_YES
#define N SMTP_FACT_NO
#define U SMTP_FACT_UNSEEN
#define CAPS_TLS "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK\r\n"
#define CAPS_NOTLS "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n"
#define GREET "* OK IMAP4rev1 ready\r\n"
#define GO "a2 OK Begin TLS negotiation now\r\n"
#define LOGOUT_REPLY "* BYE logging out\r\n"

static const struct iscript iscripts[] = {
	{ "caps-in-greeting", IMAP_MODE_STARTTLS,
	  "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n", NULL,
	  GO, false, E_EOF, "tls_ok", "ok", Y, N, Y, NULL,
	  "a2 STARTTLS,+a3 LOGOUT" },
	{ "capability-command", IMAP_MODE_STARTTLS, GREET, CAPS_TLS, GO, false,
	  E_EOF, "tls_ok", "ok", Y, N, Y, NULL,
	  "a1 CAPABILITY,a2 STARTTLS,+a3 LOGOUT" },
	{ "lowercase-caps-lf", IMAP_MODE_STARTTLS, "* ok hello\n",
	  "* capability imap4rev1 starttls\na1 ok\n", "a2 ok go\n", false,
	  E_EOF, "tls_ok", "ok", Y, N, N, NULL,
	  "a1 CAPABILITY,a2 STARTTLS,+a3 LOGOUT" },
	{ "caps-in-tagged-code", IMAP_MODE_STARTTLS, GREET,
	  "a1 OK [CAPABILITY IMAP4rev1 STARTTLS] done\r\n", GO, false, E_EOF,
	  "tls_ok", "ok", Y, N, N, NULL,
	  "a1 CAPABILITY,a2 STARTTLS,+a3 LOGOUT" },
	{ "untagged-noise", IMAP_MODE_STARTTLS, GREET,
	  "* OK [ALERT] hi\r\n* ID {5}\r\nhello\r\n" CAPS_TLS,
	  "* OK still here\r\n" GO, false, E_EOF, "tls_ok", "ok", Y, N, Y, NULL,
	  "a1 CAPABILITY,a2 STARTTLS,+a3 LOGOUT" },
	{ "no-starttls", IMAP_MODE_STARTTLS, GREET, CAPS_NOTLS, NULL, false,
	  E_EOF, "no_starttls", "ok", N, U, N, NULL,
	  "a1 CAPABILITY,a3 LOGOUT" },
	{ "no-starttls-greeting", IMAP_MODE_STARTTLS,
	  "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", NULL, NULL, false,
	  E_EOF, "no_starttls", "ok", N, U, N, NULL, "a3 LOGOUT" },
	{ "starttls-no", IMAP_MODE_STARTTLS, GREET, CAPS_TLS,
	  "a2 NO not now\r\n", false, E_EOF, "starttls_rejected", "ok", Y, U, Y,
	  "advertised_refused", "a1 CAPABILITY,a2 STARTTLS,a3 LOGOUT" },
	{ "starttls-bad", IMAP_MODE_STARTTLS, GREET, CAPS_TLS,
	  "a2 BAD what\r\n", false, E_EOF, "starttls_rejected", "ok", Y, U, Y,
	  "advertised_refused", "a1 CAPABILITY,a2 STARTTLS,a3 LOGOUT" },
	{ "greeting-bye", IMAP_MODE_STARTTLS, "* BYE too busy\r\n", NULL, NULL,
	  false, E_EOF, "greeting_rejected", "rejected", U, U, U, NULL, "" },
	{ "greeting-timeout", IMAP_MODE_STARTTLS, NULL, NULL, NULL, false,
	  E_TIMEOUT, "greeting_timeout", "timeout", U, U, U, NULL, "" },
	{ "greeting-trickle-cut", IMAP_MODE_STARTTLS, "* OK no line end", NULL,
	  NULL, false, E_TIMEOUT, "greeting_timeout", "timeout", U, U, U, NULL,
	  "" },
	{ "preauth", IMAP_MODE_STARTTLS, "* PREAUTH logged in already\r\n",
	  NULL, NULL, false, E_EOF, "preauth", "ok", U, U, U, NULL,
	  "a3 LOGOUT" },
	{ "preauth-caps", IMAP_MODE_STARTTLS,
	  "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", NULL, NULL, false,
	  E_EOF, "preauth", "ok", Y, U, N, NULL, "a3 LOGOUT" },
	{ "capability-no", IMAP_MODE_STARTTLS, GREET, "a1 NO never\r\n", NULL,
	  false, E_EOF, "capability_rejected", "ok", U, U, U, NULL,
	  "a1 CAPABILITY,a3 LOGOUT" },
	{ "capability-bad", IMAP_MODE_STARTTLS, GREET,
	  "* CAPABILITY IMAP4rev1 STARTTLS\r\na1 BAD no\r\n", NULL, false,
	  E_EOF, "capability_rejected", "ok", U, U, U, NULL,
	  "a1 CAPABILITY,a3 LOGOUT" },
	{ "tls-failed", IMAP_MODE_STARTTLS, GREET, CAPS_TLS, GO, true, E_EOF,
	  "tls_failed", "ok", Y, N, Y, NULL, "a1 CAPABILITY,a2 STARTTLS" },
	{ "injection", IMAP_MODE_STARTTLS, GREET, CAPS_TLS,
	  GO "* OK injected\r\n", false, E_EOF, "tls_ok", "ok", Y, Y, Y, NULL,
	  "a1 CAPABILITY,a2 STARTTLS,+a3 LOGOUT" },
	{ "closed-after-greeting", IMAP_MODE_STARTTLS, GREET, "", NULL, false,
	  E_EOF, "connection_closed", "ok", U, U, U, NULL, "a1 CAPABILITY" },
	{ "reset-after-greeting", IMAP_MODE_STARTTLS, GREET, "", NULL, false,
	  E_RESET, "connection_reset", "ok", U, U, U, NULL, "a1 CAPABILITY" },
	{ "capability-timeout", IMAP_MODE_STARTTLS, GREET, "", NULL, false,
	  E_TIMEOUT, "timeout", "ok", U, U, U, NULL, "a1 CAPABILITY" },
	{ "deadline", IMAP_MODE_STARTTLS, GREET, "* CAPABILITY IMAP4rev1", NULL,
	  false, E_DEADLINE, "deadline", "ok", U, U, U, NULL, "a1 CAPABILITY" },
	{ "greeting-smtp", IMAP_MODE_STARTTLS, "220 mx.test ESMTP\r\n", NULL,
	  NULL, false, E_EOF, "protocol_error", "garbage", U, U, U, NULL, "" },
	{ "greeting-tagged", IMAP_MODE_STARTTLS, "a1 OK hi\r\n", NULL, NULL,
	  false, E_EOF, "protocol_error", "garbage", U, U, U, NULL, "" },
	{ "wrong-tag", IMAP_MODE_STARTTLS, GREET, "a9 OK done\r\n", NULL, false,
	  E_EOF, "protocol_error", "ok", U, U, U, NULL, "a1 CAPABILITY" },
	{ "continuation", IMAP_MODE_STARTTLS, GREET, "+ go ahead\r\n", NULL,
	  false, E_EOF, "protocol_error", "ok", U, U, U, NULL,
	  "a1 CAPABILITY" },
	{ "literal-in-capability", IMAP_MODE_STARTTLS, GREET,
	  "* CAPABILITY IMAP4rev1 {8}\r\nSTARTTLS\r\na1 OK\r\n", NULL, false,
	  E_EOF, "protocol_error", "ok", U, U, U, NULL, "a1 CAPABILITY" },
	{ "literal-too-large", IMAP_MODE_STARTTLS, GREET,
	  "* ID {99999}\r\nxxxx", NULL, false, E_EOF, "reply_too_large", "ok",
	  U, U, U, NULL, "a1 CAPABILITY" },
	/* Implicit TLS: the greeting comes inside TLS. */
	{ "implicit-ok", IMAP_MODE_IMPLICIT,
	  "* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] hi\r\n", NULL, NULL, false,
	  E_EOF, "tls_ok", "ok", U, U, N, NULL, "+a1 LOGOUT" },
	{ "implicit-preauth", IMAP_MODE_IMPLICIT, "* PREAUTH hi\r\n", NULL,
	  NULL, false, E_EOF, "tls_ok", "ok", U, U, U, NULL, "+a1 LOGOUT" },
	{ "implicit-bye", IMAP_MODE_IMPLICIT, "* BYE go away\r\n", NULL, NULL,
	  false, E_EOF, "tls_ok", "rejected", U, U, U, NULL, "" },
	{ "implicit-garbage", IMAP_MODE_IMPLICIT, "HTTP/1.1 400 Bad\r\n", NULL,
	  NULL, false, E_EOF, "tls_ok", "garbage", U, U, U, NULL, "" },
	{ "implicit-silent", IMAP_MODE_IMPLICIT, NULL, NULL, NULL, false,
	  E_TIMEOUT, "tls_ok", "timeout", U, U, U, NULL, "" },
	{ "implicit-closed", IMAP_MODE_IMPLICIT, NULL, NULL, NULL, false, E_EOF,
	  "tls_ok", NULL, U, U, U, NULL, "" },
	{ "implicit-tls-failed", IMAP_MODE_IMPLICIT, NULL, NULL, NULL, true,
	  E_EOF, "tls_failed", NULL, U, U, U, NULL, "" },
};

/* The client sent a command: it is checked and the peer answers. */
static void answer(struct mail_peer *p, const char *cmd)
{
	const struct iscript *sc = p->script;

	CHECK(strstr(cmd, "LOGIN") == NULL || strstr(cmd, "LOGOUT"));
	CHECK(strstr(cmd, "AUTHENTICATE") == NULL);
	if (p->c->in_tls)
		CHECK(strstr(cmd, "LOGOUT") != NULL);
	if (strcmp(cmd, "a1 CAPABILITY") == 0)
		mail_peer_queue(p, sc->capability);
	else if (strcmp(cmd, "a2 STARTTLS") == 0)
		mail_peer_queue(p, sc->starttls);
	else if (strstr(cmd, "LOGOUT")) {
		mail_peer_queue(p, LOGOUT_REPLY);
		mail_peer_queue(p, cmd[1] == '1' ? "a1 OK\r\n" : "a3 OK\r\n");
	}
}

static void isim_run(const struct iscript *sc, size_t chunk,
		     struct imap_session *s)
{
	struct mail_peer m = {
		.c = &s->core, .name = sc->name, .script = sc, .answer = answer
	};

	imap_session_free(s);
	CHECK_INT(imap_session_init(s, sc->mode, NULL), 0, sc->name);
	mail_peer_run(&m, sc->greeting, sc->tls_fails, sc->end, chunk);
	CHECK_INT(s->core.state, IMAP_ST_DONE, sc->name);
	mail_peer_check(&m, sc->cmds, sc->outcome, sc->greeting_fact,
			sc->starttls_offered, sc->injection, sc->stripping);
	CHECK_INT(s->facts.logindisabled, sc->logindisabled, sc->name);
}

UNIT_TEST(imap_session_scripts)
{
	static struct imap_session s;
	const size_t chunks[] = { 0, 1, 5 };

	for (size_t i = 0; i < sizeof iscripts / sizeof iscripts[0]; i++)
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
			isim_run(&iscripts[i], chunks[c], &s);
	imap_session_free(&s);
}

/* ---- Single behaviours ----------------------------------------------- */

static enum smtp_action ifeed(struct imap_session *s, const char *str)
{
	return mail_core_on_data(&s->core, (const uint8_t *)str, strlen(str));
}

static bool iout_is(const struct imap_session *s, const char *want)
{
	size_t len;
	const uint8_t *out = mail_core_output(&s->core, &len);
	return len == strlen(want) && memcmp(out, want, len) == 0;
}

UNIT_TEST(imap_session_injection_transcript)
{
	static struct imap_session s;

	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_CONNECTED), SMTP_ACT_WAIT,
		  "connected");
	CHECK_INT(ifeed(&s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] x\r\n"),
		  SMTP_ACT_SEND, "greeting");
	CHECK(iout_is(&s, "a2 STARTTLS\r\n"));
	/* The tagged OK and the injection in separate reads. */
	CHECK_INT(ifeed(&s, "a2 OK go\r\n"), SMTP_ACT_START_TLS, "ok");
	CHECK_INT(s.core.facts.injection, SMTP_FACT_NO, "none yet");
	CHECK_INT(ifeed(&s, "a3 OK LOGOUT done\r\n"), SMTP_ACT_WAIT, "inj");
	CHECK_INT(s.core.facts.injection, SMTP_FACT_YES, "injection");
	CHECK_INT(s.core.facts.injected_bytes, 19, "bytes");
	CHECK_INT(mail_core_on_tls_done(&s.core, true, NULL), SMTP_ACT_SEND,
		  "tls");
	CHECK(iout_is(&s, "a3 LOGOUT\r\n"));
	CHECK_INT(ifeed(&s, "* BYE\r\na3 OK bye\r\n"), SMTP_ACT_CLOSE, "bye");
	CHECK_INT(s.facts.logout_status, IMAP_STATUS_OK, "logout");
	const struct smtp_transcript *t = &s.core.transcript;
	CHECK_INT(t->nseg, 6, "segments");
	if (t->nseg == 6) {
		CHECK_INT(t->seg[0].dir, SMTP_DIR_RECEIVED, "greeting");
		CHECK_INT(t->seg[1].dir, SMTP_DIR_SENT, "starttls");
		CHECK_INT(t->seg[2].dir, SMTP_DIR_RECEIVED, "ok");
		CHECK_INT(t->seg[3].dir, SMTP_DIR_DISCARDED, "injection");
		CHECK_INT(t->seg[3].len, 19, "injection");
		CHECK(!t->seg[3].tls);
		CHECK_INT(t->seg[4].dir, SMTP_DIR_SENT, "logout");
		CHECK(t->seg[4].tls);
		CHECK(t->seg[5].tls && t->seg[5].dir == SMTP_DIR_RECEIVED);
	}
	CHECK_INT(s.core.facts.greeting_len, 38, "greeting kept");
	CHECK(memcmp(s.core.facts.greeting_line, "* OK [CAPABILITY", 16) == 0);
	CHECK_INT(s.facts.ncaps, 2, "caps");
	CHECK_STR(s.facts.caps[1], "STARTTLS", "caps");
	CHECK(s.facts.caps_in_greeting);
	imap_session_free(&s);
	imap_session_free(&s);
}

UNIT_TEST(imap_session_same_read_injection)
{
	static struct imap_session s;

	/* The injection in the same read as the OK (the CVE-2011-0411
	 * shape): discarded, never parsed, flagged. */
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(ifeed(&s, "* OK [CAPABILITY IMAP4rev1 STARTTLS] x\r\n"),
		  SMTP_ACT_SEND, "greeting");
	CHECK_INT(ifeed(&s, "a2 OK go\r\na3 OK\r\n"), SMTP_ACT_START_TLS, "ok");
	CHECK_INT(s.core.facts.injection, SMTP_FACT_YES, "injection");
	CHECK_INT(s.core.facts.injected_bytes, 7, "bytes");
	CHECK_INT(s.core.facts.unsolicited_bytes, 0, "not unsolicited");
	imap_session_free(&s);

	/* Bytes after the greeting, before our command went out, answer
	 * nothing: unsolicited, not an injection. */
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(ifeed(&s, "* OK hi\r\na1 OK early\r\n"), SMTP_ACT_SEND, "g");
	CHECK(iout_is(&s, "a1 CAPABILITY\r\n"));
	CHECK_INT(s.core.facts.unsolicited_bytes, 13, "unsolicited");
	CHECK_INT(s.core.facts.injection, SMTP_FACT_UNSEEN, "no injection");
	imap_session_free(&s);
}

UNIT_TEST(imap_session_reply_too_large)
{
	static struct imap_session s;
	enum smtp_action a = SMTP_ACT_WAIT;

	/* Endless untagged lines end at IMAP_RESP_LINES_MAX. */
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	ifeed(&s, "* OK hi\r\n");
	for (int i = 0; i < IMAP_RESP_LINES_MAX + 1 && a == SMTP_ACT_WAIT; i++)
		a = ifeed(&s, "* 1 EXISTS\r\n");
	CHECK_INT(a, SMTP_ACT_CLOSE, "closed");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "reply_too_large",
		  "outcome");
	CHECK_INT(s.facts.untagged_ignored, IMAP_RESP_LINES_MAX, "lines");
	imap_session_free(&s);

	/* A greeting without line end stops at MAIL_LINE_MAX. */
	static char big[MAIL_LINE_MAX + 16];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(ifeed(&s, big), SMTP_ACT_CLOSE, "long");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "line_too_long",
		  "outcome");
	CHECK_STR(mail_greeting_str(s.core.facts.greeting), "garbage",
		  "greeting");
	CHECK_INT(s.core.facts.line_rc, MAIL_LINE_RC_TOO_LONG, "line_rc");
	imap_session_free(&s);
}

UNIT_TEST(imap_session_caps_bound)
{
	static struct imap_session s;
	char line[64];

	/* Capabilities over several lines are kept up to IMAP_CAPS_MAX. */
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	ifeed(&s, "* OK hi\r\n");
	for (int i = 0; i < IMAP_CAPS_MAX + 5; i++) {
		snprintf(line, sizeof line, "* CAPABILITY X-%d\r\n", i);
		ifeed(&s, line);
	}
	CHECK_INT(ifeed(&s, "a1 OK\r\n"), SMTP_ACT_SEND, "logout");
	CHECK(iout_is(&s, "a3 LOGOUT\r\n"));
	CHECK_INT(s.facts.ncaps, IMAP_CAPS_MAX, "kept");
	CHECK_INT(s.facts.caps_dropped, 5, "dropped");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "no_starttls", "outcome");
	imap_session_free(&s);
}

UNIT_TEST(imap_session_events)
{
	static struct imap_session s;
	struct smtp_limits lim;

	smtp_limits_default(&lim);
	lim.banner_ms = 111;
	lim.command_ms = 222;
	lim.tls_ms = 333;
	lim.quit_ms = 444;
	imap_session_init(&s, IMAP_MODE_STARTTLS, &lim);
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), lim.connect_ms, "conn");
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 111, "greeting");
	ifeed(&s, "* OK hi\r\n");
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 222, "capability");
	ifeed(&s, CAPS_TLS);
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 222, "starttls");
	ifeed(&s, GO);
	CHECK_INT(mail_core_stage_timeout_ms(&s.core), 333, "tls");
	/* The handshake timing out is a TLS failure. */
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_STAGE_TIMEOUT),
		  SMTP_ACT_CLOSE, "to");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "tls_failed", "outcome");
	CHECK_STR(s.core.facts.tls_reason, "timeout", "reason");
	imap_session_free(&s);

	/* Connect failure; a TLS result out of the handshake is the
	 * caller's bug. */
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_CONNECT_FAILED),
		  SMTP_ACT_CLOSE, "failed");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "connect_failed",
		  "outcome");
	CHECK_STR(mail_greeting_str(s.core.facts.greeting), NULL, "greeting");
	imap_session_free(&s);
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK_INT(mail_core_on_tls_done(&s.core, true, NULL), SMTP_ACT_CLOSE,
		  "bug");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "internal_error",
		  "outcome");
	CHECK(!s.core.facts.tls_ok);
	imap_session_free(&s);

	/* The deadline during the handshake. */
	imap_session_init(&s, IMAP_MODE_IMPLICIT, NULL);
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_CONNECTED),
		  SMTP_ACT_START_TLS, "implicit");
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_DEADLINE), SMTP_ACT_CLOSE,
		  "deadline");
	CHECK_STR(mail_rc_str(s.core.facts.outcome), "deadline", "outcome");
	imap_session_free(&s);

	/* Data before the handshake on an implicit port is not TLS: kept as
	 * unsolicited, never parsed, not an injection. */
	imap_session_init(&s, IMAP_MODE_IMPLICIT, NULL);
	CHECK_INT(mail_core_on_input(&s.core, MAIL_IN_CONNECTED),
		  SMTP_ACT_START_TLS, "implicit");
	CHECK_INT(ifeed(&s, "* OK plaintext\r\n"), SMTP_ACT_WAIT, "plain");
	CHECK_INT(s.core.facts.unsolicited_bytes, 16, "unsolicited");
	CHECK_INT(s.core.facts.injection, SMTP_FACT_UNSEEN, "injection");
	imap_session_free(&s);

	CHECK_STR(imap_state_str(IMAP_ST_TLS_HANDSHAKE), "tls_handshake",
		  "name");
	CHECK_STR(imap_state_str(IMAP_ST_LAST), "unknown", "name");
}

UNIT_TEST(imap_session_memory_on_demand)
{
	static struct imap_session s;

	/* The reader (12 KiB) is held only inside a line. */
	imap_session_init(&s, IMAP_MODE_STARTTLS, NULL);
	mail_core_on_input(&s.core, MAIL_IN_CONNECTED);
	CHECK(s.core.work == NULL);
	ifeed(&s, "* OK h");
	CHECK(s.core.work != NULL);
	ifeed(&s, "i\r\n");
	CHECK(s.core.work == NULL);
	imap_session_free(&s);
}
