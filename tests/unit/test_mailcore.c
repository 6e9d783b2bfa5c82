/*
 * Tests for crawler/mailproto/mailcore.c, the mechanics the IMAP and POP3
 * sessions share: the input-to-outcome mapping as a table, the answer's
 * caps, the discarded bytes, the command buffer, the stage timers and the
 * kept greeting. The sessions themselves are played in test_imap.c and
 * test_pop3.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/mailcore.h"
#include "unit.h"

static const struct {
	enum mail_input in;
	enum mail_rc rc;
	const char *tls_reason;
} end_rows[] = {
	{ MAIL_IN_EOF, MAIL_RC_CONNECTION_CLOSED, "eof" },
	{ MAIL_IN_RESET, MAIL_RC_CONNECTION_RESET, "reset" },
	{ MAIL_IN_CONNECT_FAILED, MAIL_RC_CONNECT_FAILED, "error" },
	{ MAIL_IN_STAGE_TIMEOUT, MAIL_RC_TIMEOUT, "timeout" },
	{ MAIL_IN_DEADLINE, MAIL_RC_DEADLINE, "error" },
	/* The bad line's own outcome, whatever it is. */
	{ MAIL_IN_BAD_LINE, MAIL_RC_LINE_TOO_LONG, "error" },
	{ MAIL_IN_LINE, MAIL_RC_PROTOCOL_ERROR, "error" },
	{ MAIL_IN_LIST_LINE, MAIL_RC_PROTOCOL_ERROR, "error" },
	{ MAIL_IN_GARBAGE, MAIL_RC_PROTOCOL_ERROR, "error" },
	/* A TLS result outside the handshake is the caller's bug. */
	{ MAIL_IN_TLS_OK, MAIL_RC_INTERNAL_ERROR, "error" },
	{ MAIL_IN_TLS_FAILED, MAIL_RC_INTERNAL_ERROR, "error" },
};

UNIT_TEST(mailcore_input_mapping)
{
	for (size_t i = 0; i < sizeof end_rows / sizeof end_rows[0]; i++) {
		CHECK_INT(
		    mail_input_end_rc(end_rows[i].in, MAIL_RC_LINE_TOO_LONG),
		    end_rows[i].rc, "end_rc");
		CHECK_STR(mail_input_tls_reason(end_rows[i].in),
			  end_rows[i].tls_reason, "tls_reason");
	}
	CHECK_INT(mail_input_of_timer(SMTP_TIMER_DEADLINE), MAIL_IN_DEADLINE,
		  "timer");
	CHECK_INT(mail_input_of_timer(SMTP_TIMER_STAGE), MAIL_IN_STAGE_TIMEOUT,
		  "timer");
}

UNIT_TEST(mailcore_observe_and_reason)
{
	enum smtp_fact f = SMTP_FACT_UNSEEN;
	char reason[8] = "";

	mail_observe(&f, false);
	CHECK_INT(f, SMTP_FACT_NO, "no");
	mail_observe(&f, true);
	CHECK_INT(f, SMTP_FACT_YES, "yes");
	mail_observe(&f, false);
	CHECK_INT(f, SMTP_FACT_YES, "yes stays");

	mail_tls_reason_set(reason, sizeof reason, NULL);
	CHECK_STR(reason, "", "NULL sets nothing");
	mail_tls_reason_set(reason, sizeof reason, "handshake failure");
	CHECK_STR(reason, "handsha", "cut to fit");
	mail_tls_reason_set(reason, sizeof reason, "eof");
	CHECK_STR(reason, "handsha", "the first is kept");
}

/* Feeds all of s; returns the last input, counting whole lines. */
static int feed_all(struct mail_answer *a, struct mail_line_reader *rd,
		    struct smtp_transcript *t, const char *s, size_t *lines,
		    enum mail_line_rc *line_rc, enum smtp_fact *bare_lf)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s);
	int in = -1;

	*lines = 0;
	while (len > 0) {
		in = mail_answer_feed(a, rd, t, false, &p, &len, line_rc,
				      bare_lf);
		if (in != MAIL_IN_LINE)
			break;
		(*lines)++;
	}
	return in;
}

UNIT_TEST(mailcore_answer_caps)
{
	struct mail_line_reader *rd = malloc(sizeof *rd);
	struct smtp_transcript t = { 0 };
	struct mail_answer a;
	enum mail_line_rc line_rc = MAIL_LINE_OK;
	enum smtp_fact bare_lf = SMTP_FACT_UNSEEN;
	size_t lines;
	char *big;

	CHECK(rd != NULL);
	if (!rd)
		return;
	/* Two whole lines and a partial one: all of it in the transcript. */
	mail_line_init(rd, false);
	mail_answer_init(&a, 3, 100);
	CHECK_INT(
	    feed_all(&a, rd, &t, "+OK a\r\nb\nc", &lines, &line_rc, &bare_lf),
	    -1, "partial");
	CHECK_INT(lines, 2, "lines");
	CHECK_INT(a.lines, 2, "answer lines");
	CHECK_INT(a.bytes, 10, "answer bytes");
	CHECK_INT(t.len, 10, "transcript");
	CHECK_INT(bare_lf, SMTP_FACT_YES, "bare LF seen");

	/* A fourth line is over the line cap. */
	CHECK_INT(feed_all(&a, rd, &t, "\r\nd\r\n", &lines, &line_rc, &bare_lf),
		  MAIL_IN_BAD_LINE, "lines cap");
	CHECK_INT(a.bad, MAIL_RC_REPLY_TOO_LARGE, "lines cap");
	CHECK_INT(line_rc, MAIL_LINE_OK, "the reader was fine");

	/* A new answer starts from nothing; the byte cap holds too. */
	mail_line_init(rd, false);
	mail_answer_start(&a);
	CHECK_INT(a.lines + a.bytes, 0, "start");
	big = malloc(MAIL_LINE_MAX + 8);
	CHECK(big != NULL);
	if (big) {
		memset(big, 'x', 120);
		big[120] = '\0';
		CHECK_INT(feed_all(&a, rd, &t, big, &lines, &line_rc, &bare_lf),
			  MAIL_IN_BAD_LINE, "bytes cap");
		CHECK_INT(a.bad, MAIL_RC_REPLY_TOO_LARGE, "bytes cap");

		/* A line over the reader's cap is line_too_long. */
		mail_line_init(rd, false);
		mail_answer_init(&a, 3, 1 << 20);
		memset(big, 'x', MAIL_LINE_MAX + 4);
		big[MAIL_LINE_MAX + 4] = '\0';
		CHECK_INT(feed_all(&a, rd, &t, big, &lines, &line_rc, &bare_lf),
			  MAIL_IN_BAD_LINE, "line cap");
		CHECK_INT(a.bad, MAIL_RC_LINE_TOO_LONG, "line cap");
		CHECK_INT(line_rc, MAIL_LINE_RC_TOO_LONG, "line cap");
	}
	free(big);
	free(rd);
	smtp_transcript_free(&t);
}

UNIT_TEST(mailcore_discard)
{
	struct smtp_transcript t = { 0 };
	enum smtp_fact injection = SMTP_FACT_NO;
	size_t injected = 0, unsolicited = 0;

	mail_discard(&t, false, false, (const uint8_t *)"abc", 3, &injection,
		     &injected, &unsolicited);
	CHECK_INT(injection, SMTP_FACT_NO, "not after the OK");
	CHECK_INT(unsolicited, 3, "unsolicited");
	mail_discard(&t, false, true, (const uint8_t *)"QUIT\r\n", 6,
		     &injection, &injected, &unsolicited);
	CHECK_INT(injection, SMTP_FACT_YES, "after the OK");
	CHECK_INT(injected, 6, "injected");
	CHECK_INT(unsolicited, 3, "unsolicited unchanged");
	CHECK_INT(t.len, 9, "both in the transcript");
	CHECK_INT(t.nseg, 1, "one discarded segment");
	if (t.nseg == 1)
		CHECK_INT(t.seg[0].dir, SMTP_DIR_DISCARDED, "direction");
	smtp_transcript_free(&t);
}

UNIT_TEST(mailcore_command_and_timers)
{
	struct mail_core c;
	struct smtp_limits l;
	struct smtp_transcript t = { 0 };
	const uint8_t *out;
	size_t len;

	smtp_limits_default(&l);
	l.connect_ms = 1;
	l.banner_ms = 2;
	l.command_ms = 3;
	l.tls_ms = 4;
	l.quit_ms = 5;
	mail_core_init(&c, &l, 10, 100);
	CHECK_INT(mail_core_stage_ms(&c, MAIL_STAGE_NONE), 0, "none");
	CHECK_INT(mail_core_stage_ms(&c, MAIL_STAGE_CONNECT), 1, "connect");
	CHECK_INT(mail_core_stage_ms(&c, MAIL_STAGE_GREETING), 2, "greeting");
	CHECK_INT(mail_core_stage_ms(&c, MAIL_STAGE_COMMAND), 3, "command");
	CHECK_INT(mail_core_stage_ms(&c, MAIL_STAGE_TLS), 4, "tls");
	CHECK_INT(mail_core_stage_ms(&c, MAIL_STAGE_QUIT), 5, "quit");

	c.answer.lines = 7;
	CHECK_INT(mail_core_send(&c, "a1", "CAPABILITY"), SMTP_ACT_SEND, "tag");
	CHECK_INT(c.answer.lines, 0, "a new answer");
	out = mail_core_output(&c, &len);
	CHECK(len == 15 && memcmp(out, "a1 CAPABILITY\r\n", len) == 0);
	CHECK_INT(mail_core_emit(&c, &t, false, SMTP_ACT_WAIT), SMTP_ACT_WAIT,
		  "wait");
	CHECK_INT(t.len, 0, "nothing sent");
	mail_core_send(&c, NULL, "QUIT");
	out = mail_core_output(&c, &len);
	CHECK(len == 6 && memcmp(out, "QUIT\r\n", len) == 0);
	CHECK_INT(mail_core_emit(&c, &t, true, SMTP_ACT_SEND), SMTP_ACT_SEND,
		  "send");
	CHECK_INT(t.len, 6, "sent");
	smtp_transcript_free(&t);

	/* No limits: the defaults. */
	mail_core_init(&c, NULL, 1, 1);
	smtp_limits_default(&l);
	CHECK_INT(mail_core_stage_ms(&c, MAIL_STAGE_GREETING), l.banner_ms,
		  "default");
}

UNIT_TEST(mailcore_greeting)
{
	struct mail_line_reader *rd = malloc(sizeof *rd);
	const uint8_t *line = mail_greeting_none;
	size_t len = 0, used;

	CHECK(rd != NULL);
	if (!rd)
		return;
	mail_line_init(rd, false);
	mail_line_feed(rd, (const uint8_t *)"+OK hi\r\n", 8, &used);
	mail_greeting_keep(rd, &line, &len);
	CHECK(len == 6 && memcmp(line, "+OK hi", 6) == 0);
	/* The first greeting is the one kept. */
	mail_line_init(rd, false);
	mail_line_feed(rd, (const uint8_t *)"+OK again\r\n", 11, &used);
	mail_greeting_keep(rd, &line, &len);
	CHECK_INT(len, 6, "kept");
	mail_greeting_free(&line, &len);
	CHECK(line == mail_greeting_none && len == 0);
	mail_greeting_free(&line, &len);
	CHECK(line == mail_greeting_none);
	free(rd);
}
