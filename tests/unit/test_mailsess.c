/*
 * Tests for crawler/mailproto/mailsess.c: the six services of the M12
 * contract with their protocol, TLS mode and port; the SMTP outcome names
 * mapped to the contract's; and each service driven through the facade by
 * a scripted peer to its tls_ok, whole and one byte per call, with the
 * facts read back in the contract's vocabulary.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/mailsess.h"
#include "unit.h"

static const struct {
	const char *name;
	const char *proto, *tls;
	unsigned port;
} svc_rows[] = {
	{ "submissions", "smtp", "implicit", 465 },
	{ "submission", "smtp", "starttls", 587 },
	{ "imaps", "imap", "implicit", 993 },
	{ "imap", "imap", "starttls", 143 },
	{ "pop3s", "pop3", "implicit", 995 },
	{ "pop3", "pop3", "starttls", 110 },
};

UNIT_TEST(mailsess_services)
{
	CHECK_INT(sizeof svc_rows / sizeof svc_rows[0], MAIL_SVC_LAST, "six");
	for (int i = 0; i < MAIL_SVC_LAST; i++) {
		enum mail_service s = (enum mail_service)i;

		CHECK_STR(mail_service_str(s), svc_rows[i].name, "name");
		CHECK_INT(mail_service_from_str(svc_rows[i].name), i, "from");
		CHECK_STR(mail_proto_str(mail_service_proto(s)),
			  svc_rows[i].proto, svc_rows[i].name);
		CHECK_STR(mail_tls_str(mail_service_tls(s)), svc_rows[i].tls,
			  svc_rows[i].name);
		CHECK_INT(mail_service_port(s), svc_rows[i].port,
			  svc_rows[i].name);
	}
	CHECK_INT(mail_service_from_str("IMAPS"), -1, "case");
	CHECK_INT(mail_service_from_str("_imaps._tcp"), -1, "label");
	CHECK_INT(mail_service_from_str("smtp"), -1, "port 25");
	CHECK_INT(mail_service_from_str(""), -1, "empty");
	CHECK_INT(mail_service_from_str(NULL), -1, "null");
	CHECK_STR(mail_service_str(MAIL_SVC_LAST), "unknown", "range");
	CHECK_STR(mail_proto_str(MAIL_PROTO_LAST), "unknown", "range");
	CHECK_STR(mail_tls_str(MAIL_TLS_LAST), "unknown", "range");
	CHECK_INT(mail_service_port(MAIL_SVC_LAST), 0, "range");
}

/* The contract's outcome list, in its order. */
static const char *const contract_rc[] = {
	"tls_ok",
	"no_starttls",
	"starttls_rejected",
	"greeting_rejected",
	"greeting_timeout",
	"preauth",
	"capability_rejected",
	"tls_failed",
	"connection_reset",
	"connection_closed",
	"protocol_error",
	"line_too_long",
	"reply_too_large",
	"deadline",
	"timeout",
	"connect_failed",
	"internal_error",
};

UNIT_TEST(mailsess_outcome_names)
{
	for (size_t i = 0; i < sizeof contract_rc / sizeof contract_rc[0];
	     i++) {
		int rc = mail_rc_from_str(contract_rc[i]);
		CHECK(rc >= 0);
		CHECK_STR(mail_rc_str((enum mail_rc)rc), contract_rc[i],
			  "round trip");
	}
	CHECK_INT(MAIL_RC_PENDING, sizeof contract_rc / sizeof contract_rc[0],
		  "one enum per contract name");
	CHECK_INT(mail_rc_from_str("starttls_ok"), -1, "smtp's name");
	CHECK_STR(mail_rc_str(MAIL_RC_LAST), "unknown", "range");

	/* Every SMTP outcome maps to the contract's name: four renamed,
	 * the rest the same. */
	for (int i = 0; i < SMTP_RC_LAST; i++) {
		const char *sn = smtp_rc_str((enum smtp_rc)i);
		const char *want = sn;

		if (strcmp(sn, "starttls_ok") == 0)
			want = "tls_ok";
		else if (strcmp(sn, "banner_rejected") == 0)
			want = "greeting_rejected";
		else if (strcmp(sn, "banner_timeout") == 0)
			want = "greeting_timeout";
		else if (strcmp(sn, "ehlo_rejected") == 0)
			want = "capability_rejected";
		CHECK_STR(mail_rc_str(mail_rc_from_smtp((enum smtp_rc)i)), want,
			  sn);
	}
	CHECK_STR(mail_greeting_str(MAIL_GREETING_GARBAGE), "garbage", "g");
	CHECK_STR(mail_greeting_str(MAIL_GREETING_UNSEEN), NULL, "g");
}

/* ---- Each service to tls_ok through the facade ----------------------- */

struct run {
	size_t sent; /* bytes the client sent */
	char cmds[128];
	char queue[1024];
	size_t qlen, qoff;
};

static void put(struct run *r, const char *s)
{
	size_t n = strlen(s);

	if (r->qlen + n > sizeof r->queue)
		abort();
	memcpy(r->queue + r->qlen, s, n);
	r->qlen += n;
}

static const char *greeting_of(enum mail_proto p)
{
	switch (p) {
	case MAIL_PROTO_IMAP:
		return "* OK IMAP4rev1 ready\r\n";
	case MAIL_PROTO_POP3:
		return "+OK POP3 ready\r\n";
	default:
		return "220 mail.test ESMTP\r\n";
	}
}

/* The peer's answer to a command of any of the three protocols. */
static const char *answer(const char *cmd)
{
	static const struct {
		const char *cmd, *reply;
	} table[] = {
		{ "EHLO probe.example", "250-mail.test\r\n250 STARTTLS\r\n" },
		{ "STARTTLS", "220 go ahead\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ "a1 CAPABILITY", "* CAPABILITY IMAP4rev1 STARTTLS\r\n"
				   "a1 OK done\r\n" },
		{ "a2 STARTTLS", "a2 OK begin\r\n" },
		{ "a3 LOGOUT", "* BYE\r\na3 OK\r\n" },
		{ "a1 LOGOUT", "* BYE\r\na1 OK\r\n" },
		{ "CAPA", "+OK\r\nUSER\r\nSTLS\r\n.\r\n" },
		{ "STLS", "+OK begin\r\n" },
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(cmd, table[i].cmd) == 0)
			return table[i].reply;
	return NULL;
}

static void run_service(enum mail_service svc, size_t chunk,
			struct mail_session *m, const char *want_cmds)
{
	struct run r = { 0 };
	const char *name = mail_service_str(svc);
	bool implicit = mail_service_tls(svc) == MAIL_TLS_IMPLICIT;
	enum smtp_action a;
	struct mail_facts f;

	mail_session_free(m);
	CHECK_INT(mail_session_init(m, svc, "probe.example", NULL), 0, name);
	if (!implicit)
		put(&r, greeting_of(mail_service_proto(svc)));
	a = mail_on_connected(m);
	for (int guard = 0; a != SMTP_ACT_CLOSE && guard < 10000; guard++) {
		if (a == SMTP_ACT_SEND) {
			size_t len;
			const uint8_t *out = mail_session_output(m, &len);
			char cmd[64] = "";
			const char *reply;

			if (len >= 2 && len < sizeof cmd)
				memcpy(cmd, out, len - 2);
			r.sent += len;
			reply = answer(cmd);
			CHECK(reply != NULL);
			if (r.cmds[0])
				strcat(r.cmds, ",");
			mail_session_facts(m, &f);
			if (f.tls_ok)
				strcat(r.cmds, "+");
			strcat(r.cmds, cmd);
			if (reply)
				put(&r, reply);
			a = SMTP_ACT_WAIT;
		} else if (a == SMTP_ACT_START_TLS) {
			a = mail_on_tls_done(m, true, NULL);
			if (implicit)
				put(&r, greeting_of(mail_service_proto(svc)));
		} else if (r.qoff < r.qlen) {
			size_t n = r.qlen - r.qoff;
			if (chunk && n > chunk)
				n = chunk;
			a = mail_on_data(m, (uint8_t *)r.queue + r.qoff, n);
			r.qoff += n;
		} else {
			a = mail_on_eof(m);
		}
		CHECK((unsigned)a < SMTP_ACT_LAST);
	}
	CHECK_INT(mail_session_stage_timeout_ms(m), 0, name);
	CHECK_STR(r.cmds, want_cmds, name);
	mail_session_facts(m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "tls_ok", name);
	CHECK_STR(mail_greeting_str(f.greeting), "ok", name);
	CHECK_STR(f.end_state, "tls_handshake", name);
	CHECK(f.tls_ok);
	CHECK_STR(f.tls_reason, "", name);
	CHECK_INT(f.starttls_offered,
		  implicit ? SMTP_FACT_UNSEEN : SMTP_FACT_YES, name);
	CHECK_INT(f.injection, implicit ? SMTP_FACT_UNSEEN : SMTP_FACT_NO,
		  name);
	CHECK_STR(smtp_stripping_str(f.stripping), NULL, name);
	CHECK(f.greeting_line != NULL && f.greeting_len > 0);
	/* Every byte, both directions, in the transcript. */
	CHECK(f.transcript != NULL);
	CHECK_INT(f.transcript->len, r.qlen + r.sent, name);
}

UNIT_TEST(mailsess_each_service_tls_ok)
{
	static struct mail_session m;
	static const struct {
		enum mail_service svc;
		const char *cmds, *greeting_code, *starttls_code;
	} rows[] = {
		{ MAIL_SVC_SUBMISSIONS, "+QUIT", "220", "" },
		{ MAIL_SVC_SUBMISSION, "EHLO probe.example,STARTTLS,+QUIT",
		  "220", "220" },
		{ MAIL_SVC_IMAPS, "+a1 LOGOUT", "OK", "" },
		{ MAIL_SVC_IMAP, "a1 CAPABILITY,a2 STARTTLS,+a3 LOGOUT", "OK",
		  "OK" },
		{ MAIL_SVC_POP3S, "+QUIT", "+OK", "" },
		{ MAIL_SVC_POP3, "CAPA,STLS,+QUIT", "+OK", "+OK" },
	};
	struct mail_facts f;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		for (size_t chunk = 0; chunk < 2; chunk++) {
			run_service(rows[i].svc, chunk, &m, rows[i].cmds);
			mail_session_facts(&m, &f);
			CHECK_STR(f.greeting_code, rows[i].greeting_code,
				  mail_service_str(rows[i].svc));
			CHECK_STR(f.starttls_code, rows[i].starttls_code,
				  mail_service_str(rows[i].svc));
		}
	mail_session_free(&m);
}

static enum smtp_action mfeed(struct mail_session *m, const char *s)
{
	return mail_on_data(m, (const uint8_t *)s, strlen(s));
}

UNIT_TEST(mailsess_smtp_names_through)
{
	static struct mail_session m;
	struct mail_facts f;

	/* submission: a 554 banner is greeting_rejected. */
	mail_session_init(&m, MAIL_SVC_SUBMISSION, "probe.example", NULL);
	mail_on_connected(&m);
	CHECK_INT(mfeed(&m, "554 5.7.1 no\r\n"), SMTP_ACT_SEND, "554");
	mail_session_facts(&m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "greeting_rejected", "554");
	CHECK_STR(mail_greeting_str(f.greeting), "rejected", "554");
	CHECK_STR(f.greeting_code, "554", "554");
	CHECK_INT(f.greeting_len, 8, "text after the code");
	mail_session_free(&m);

	/* EHLO refused: capability_rejected. */
	mail_session_init(&m, MAIL_SVC_SUBMISSION, "probe.example", NULL);
	mail_on_connected(&m);
	mfeed(&m, "220 hi\r\n");
	mfeed(&m, "421 busy\r\n");
	mail_session_facts(&m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "capability_rejected", "ehlo");
	mail_session_free(&m);

	/* A silent banner: greeting_timeout. */
	mail_session_init(&m, MAIL_SVC_SUBMISSION, "probe.example", NULL);
	mail_on_connected(&m);
	CHECK_INT(mail_on_timeout(&m, SMTP_TIMER_STAGE), SMTP_ACT_CLOSE, "to");
	mail_session_facts(&m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "greeting_timeout", "timeout");
	CHECK_STR(mail_greeting_str(f.greeting), "timeout", "timeout");
	mail_session_free(&m);

	/* submissions: a refused handshake. */
	mail_session_init(&m, MAIL_SVC_SUBMISSIONS, "probe.example", NULL);
	CHECK_INT(mail_on_connected(&m), SMTP_ACT_START_TLS, "implicit");
	CHECK_INT(mail_on_tls_done(&m, false, "alert"), SMTP_ACT_CLOSE, "tls");
	mail_session_facts(&m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "tls_failed", "tls");
	CHECK_STR(f.tls_reason, "alert", "reason");
	CHECK_STR(mail_greeting_str(f.greeting), NULL, "not reached");
	mail_session_free(&m);

	/* imap: PREAUTH, and a STARTTLS refused; pop3: no STLS. */
	mail_session_init(&m, MAIL_SVC_IMAP, NULL, NULL);
	mail_on_connected(&m);
	mfeed(&m, "* PREAUTH hi\r\n");
	mail_session_facts(&m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "preauth", "preauth");
	CHECK_STR(f.greeting_code, "PREAUTH", "preauth");
	mail_session_free(&m);
	mail_session_init(&m, MAIL_SVC_IMAP, NULL, NULL);
	mail_on_connected(&m);
	mfeed(&m, "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n");
	mfeed(&m, "a2 NO later\r\n");
	mail_session_facts(&m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "starttls_rejected", "imap no");
	CHECK_STR(f.starttls_code, "NO", "imap no");
	CHECK_STR(smtp_stripping_str(f.stripping), "advertised_refused", "s");
	mail_session_free(&m);
	mail_session_init(&m, MAIL_SVC_POP3, NULL, NULL);
	mail_on_connected(&m);
	mfeed(&m, "+OK hi\r\n");
	mfeed(&m, "+OK\r\nUSER\r\n.\r\n");
	mail_session_facts(&m, &f);
	CHECK_STR(mail_rc_str(f.outcome), "no_starttls", "pop3");
	CHECK_INT(f.starttls_offered, SMTP_FACT_NO, "pop3");
	mail_session_free(&m);

	/* Bad input to init. */
	CHECK_INT(mail_session_init(&m, MAIL_SVC_LAST, "probe.example", NULL),
		  -EINVAL, "service");
	mail_session_free(&m);
	CHECK_INT(mail_session_init(&m, MAIL_SVC_SUBMISSION, "bad name", NULL),
		  -EINVAL, "name");
	mail_session_free(&m);
	CHECK_INT(mail_session_init(&m, MAIL_SVC_POP3S, NULL, NULL), 0, "pop");
	mail_session_free(&m);
}
