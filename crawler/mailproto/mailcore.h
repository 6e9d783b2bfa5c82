/*
 * The session mechanics the IMAP and POP3 clients (imap.c, pop3.c) share,
 * so that each of them holds only its grammar and its state transitions.
 * Both are built like smtp.c: every public event becomes one enum
 * mail_input for the protocol's step(). What they share:
 *
 *   mail_core_on_data()   the reading loop: one line at a time through
 *                         the protocol's struct mail_driver, never
 *                         pipelined, bytes nobody asked for discarded
 *   mail_answer_feed()    the line reader, the transcript of what was
 *                         received, the answer's line and byte caps
 *   mail_discard()        discarded bytes: injection or unsolicited
 *   mail_input_end_rc()   the outcome of what ends a session without a
 *                         protocol reason (EOF, reset, timers, ...)
 *   struct mail_core      limits, answer and command buffer; sending,
 *                         the transcript of what was sent, stage timers
 *
 * Nothing here does I/O or knows a protocol's states or grammar. The
 * helpers take the parts of a session they write (its transcript, its
 * facts' fields) as arguments: the two sessions' facts are different
 * public structs (imap.h, pop3.h) whose fields callers read by name.
 */
#ifndef MXCRAWL_CRAWLER_MAILPROTO_MAILCORE_H
#define MXCRAWL_CRAWLER_MAILPROTO_MAILCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/mailproto/mailline.h"
#include "crawler/mailproto/mailrc.h"
#include "crawler/smtp/smtp.h"

/* What a session's step() is told. */
enum mail_input {
	MAIL_IN_ENTER = 0,	/* the state was just entered */
	MAIL_IN_CONNECTED,	/* TCP is up */
	MAIL_IN_LINE,		/* a whole line parsed as the state expects
				 * (IMAP: any line; POP3: +OK or -ERR) */
	MAIL_IN_LIST_LINE,	/* POP3: a line of a multi-line answer */
	MAIL_IN_GARBAGE,	/* POP3: a status line that is no status */
	MAIL_IN_BAD_LINE,	/* a line could not be read (answer.bad) */
	MAIL_IN_EOF,		/* the peer closed */
	MAIL_IN_RESET,		/* the connection broke */
	MAIL_IN_CONNECT_FAILED, /* it never came up */
	MAIL_IN_STAGE_TIMEOUT,	/* the stage's inactivity timer */
	MAIL_IN_DEADLINE,	/* the endpoint's total deadline */
	MAIL_IN_TLS_OK,		/* handshake done */
	MAIL_IN_TLS_FAILED,	/* handshake failed: facts.tls_reason */
	MAIL_IN_LAST
};

/* The input of a timer that fired. */
enum mail_input mail_input_of_timer(enum smtp_timer which);

/*
 * The outcome of an input that ends a session the same way in every
 * state that waits: EOF, reset, timers, a failed connect, an unreadable
 * line (bad: how it failed), a line the state cannot take (a protocol
 * error); anything else (a TLS result outside the handshake) is the
 * caller's bug, an internal error.
 */
enum mail_rc mail_input_end_rc(enum mail_input in, enum mail_rc bad);

/* facts.tls_reason for an input that ends the handshake: "eof",
 * "reset", "timeout", else "error". */
const char *mail_input_tls_reason(enum mail_input in);

/* Raises a fact to YES, or from UNSEEN to NO. */
void mail_observe(enum smtp_fact *f, bool yes);

/* Copies reason (NULL: nothing) into dst of size bytes unless dst holds
 * one already: the first reason is the one kept. */
void mail_tls_reason_set(char *dst, size_t size, const char *reason);

/* The empty greeting line (facts.greeting_line before one is read). */
extern const uint8_t mail_greeting_none[1];

/* Keeps a copy of the reader's line, at its length, in *line and *len
 * unless one is kept already or the line is empty. Out of memory keeps
 * none. */
void mail_greeting_keep(const struct mail_line_reader *r, const uint8_t **line,
			size_t *len);
/* Frees a line of mail_greeting_keep(); back to mail_greeting_none. */
void mail_greeting_free(const uint8_t **line, size_t *len);

/* The answer to one command (or the greeting) as it is read: its size
 * against the caps, and how the last unreadable line failed. */
struct mail_answer {
	size_t lines;	  /* whole lines read */
	size_t bytes;	  /* bytes read */
	size_t lines_max; /* over this: reply_too_large */
	size_t bytes_max; /* over this: reply_too_large */
	enum mail_rc bad; /* with MAIL_IN_BAD_LINE: the outcome */
};

/* An answer with these caps, none of it read. */
void mail_answer_init(struct mail_answer *a, size_t lines_max,
		      size_t bytes_max);
/* A new answer starts (a command went out, a greeting is awaited). */
void mail_answer_start(struct mail_answer *a);

/*
 * Feeds the *len bytes at *buf to the line reader rd; the bytes it used
 * go into the transcript t as received and are counted into the answer,
 * and *buf and *len move past them. Returns MAIL_IN_LINE when a whole line is in rd (then
 * *bare_lf is observed), MAIL_IN_BAD_LINE when the line or the answer
 * broke a cap (a->bad says how; the reader's own error also goes to
 * *line_rc), or -1 when the bytes ran out inside a line.
 */
int mail_answer_feed(struct mail_answer *a, struct mail_line_reader *rd,
		     struct smtp_transcript *t, bool in_tls,
		     const uint8_t **buf, size_t *len,
		     enum mail_line_rc *line_rc, enum smtp_fact *bare_lf);

/* The longest command either session sends: "a1 CAPABILITY\r\n". */
#define MAIL_CMD_MAX 32

/* The stages with an inactivity timer of their own (struct
 * smtp_limits); NONE: no timer. */
enum mail_stage {
	MAIL_STAGE_NONE = 0,
	MAIL_STAGE_CONNECT,  /* limits.connect_ms */
	MAIL_STAGE_GREETING, /* limits.banner_ms */
	MAIL_STAGE_COMMAND,  /* limits.command_ms */
	MAIL_STAGE_TLS,	     /* limits.tls_ms */
	MAIL_STAGE_QUIT,     /* limits.quit_ms */
	MAIL_STAGE_LAST
};

/* What an IMAP or POP3 session keeps that no caller reads: its limits,
 * the answer being read and the command to send. */
struct mail_core {
	struct smtp_limits limits;
	struct mail_answer answer;
	size_t out_len;
	uint8_t out[MAIL_CMD_MAX];
};

/* Prepares c with limits (NULL: smtp_limits_default()) and the answer's
 * caps. Allocates nothing. */
void mail_core_init(struct mail_core *c, const struct smtp_limits *limits,
		    size_t lines_max, size_t bytes_max);

/* Puts "<tag> <verb>\r\n" (tag NULL: "<verb>\r\n") in the output, and
 * a new answer starts. Both are our constants, within MAIL_CMD_MAX.
 * Returns SMTP_ACT_SEND. */
enum smtp_action mail_core_send(struct mail_core *c, const char *tag,
				const char *verb);

/* Every public event returns through here: after SMTP_ACT_SEND the
 * command goes into the transcript t, after any bytes discarded in the
 * same call, as on the wire. Returns act. */
enum smtp_action mail_core_emit(const struct mail_core *c,
				struct smtp_transcript *t, bool in_tls,
				enum smtp_action act);

/* The command to send; valid until the next event. */
const uint8_t *mail_core_output(const struct mail_core *c, size_t *len);

/* The stage's inactivity timeout in ms from the limits; 0: no timer. */
unsigned mail_core_stage_ms(const struct mail_core *c, enum mail_stage st);

/*
 * One protocol's session as mail_core_on_data() drives it: imap.c and
 * pop3.c each have one. Every member is required; s is that protocol's
 * session.
 */
struct mail_driver {
	/* Runs one input through the state machine, and MAIL_IN_ENTER
	 * through every state it enters, until it would block. */
	enum smtp_action (*step)(void *s, enum mail_input in);
	/* The current state's stage: CONNECT only while connecting, TLS
	 * only during the handshake, NONE only once the session is over. */
	enum mail_stage (*stage)(const void *s);
	/* Reads one line from *buf (*len bytes; both move past what was
	 * used) with mail_answer_feed() and parses it: the input for
	 * step(), or -1 when the bytes ran out inside a line. Allocates the
	 * reader first; out of memory ends the session (internal_error)
	 * and returns -1. */
	int (*read_line)(void *s, const uint8_t **buf, size_t *len);
	/* Bytes that answer nothing (see mail_discard()). */
	void (*discard)(void *s, const uint8_t *buf, size_t len);
	/* The bytes are used up: frees the reader if it is between lines. */
	void (*idle)(void *s);
};

/*
 * Bytes from the network, one line at a time through the driver: bytes
 * before the connect event mean TCP is up; the session never pipelines,
 * so bytes after the answer to our last command, before the next went
 * out, and bytes during the handshake are discarded. Returns the action
 * (SMTP_ACT_CLOSE once over); the caller passes it to mail_core_emit().
 */
enum smtp_action mail_core_on_data(const struct mail_driver *d, void *s,
				   const uint8_t *buf, size_t len);

/*
 * Bytes nobody asked for: kept in the transcript as discarded, never
 * parsed. With after_ok (the OK to STARTTLS/STLS was read and the
 * handshake is due: RFC 2595 §3.1, §4) they are a plaintext injection
 * (*injection YES, counted in *injected); else they are counted in
 * *unsolicited.
 */
void mail_discard(struct smtp_transcript *t, bool in_tls, bool after_ok,
		  const uint8_t *buf, size_t len, enum smtp_fact *injection,
		  size_t *injected, size_t *unsolicited);

#endif
