/*
 * The session mechanics the IMAP and POP3 clients (imap.c, pop3.c) share,
 * so that each of them holds only its grammar and its state transitions.
 * Both are built like smtp.c: every public event becomes one enum
 * mail_input for step(), which runs the current state's case. What they
 * share:
 *
 *   struct mail_core      the first member of both sessions: the
 *                         protocol's driver, TLS mode, limits, answer,
 *                         line reader, command buffer and transcript
 *   mail_core_on_*()      the public events of both: step() over the
 *                         protocol's table of states (struct
 *                         mail_state), the reading loop (one line at a
 *                         time, never pipelined, bytes nobody asked for
 *                         discarded), the command into the transcript
 *   mail_answer_feed()    the line reader, the transcript of what was
 *                         received, the answer's line and byte caps
 *   mail_discard()        discarded bytes: injection or unsolicited
 *   mail_input_end_rc()   the outcome of what ends a session without a
 *                         protocol reason (EOF, reset, timers, ...)
 *
 * Nothing here does I/O or knows a protocol's grammar or transitions:
 * each protocol's file holds its parser, its states' cases and their
 * table, and sets its own facts. The helpers take the facts' fields they
 * write as arguments: the two sessions' facts are different public
 * structs (imap.h, pop3.h) whose fields callers read by name.
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

struct mail_core;

/*
 * One state of a protocol's machine, a row of its table indexed by the
 * state: its name (traces, the protocol's _state_str()), the stage whose
 * timer runs in it, and its case of step(), which takes every input in
 * that state; NULL for the state in which the session is over.
 */
struct mail_state {
	const char *name;
	enum mail_stage stage;
	enum smtp_action (*run)(struct mail_core *c, enum mail_input in);
};

/*
 * One protocol's session as mailcore drives it: imap.c and pop3.c each
 * have one. Every member is required; c is the session's core, the first
 * member of the protocol's session struct.
 */
struct mail_driver {
	const char *name;		 /* "imap": in traces */
	const struct mail_state *states; /* nstates rows, by state */
	unsigned nstates;
	/* The states every session has: the greeting is awaited, the
	 * caller does the handshake, LOGOUT/QUIT went out, it is over. */
	unsigned st_greeting, st_tls, st_quit, st_done;
	size_t work_size; /* a struct beginning with the line reader */
	bool literals;	  /* the reader takes IMAP literals */
	/* Reads one line with mail_core_read() and parses it: the input
	 * for step(), or -1 when the bytes ran out inside a line. */
	int (*read_line)(struct mail_core *c, const uint8_t **buf, size_t *len);
};

/* What both sessions learn, by the same names as the other probes; the
 * protocol's own facts (its status words, capabilities) are in its
 * session. Complete once the outcome is not MAIL_RC_PENDING. */
struct mail_core_facts {
	enum mail_rc outcome;
	unsigned end_state;	   /* the state in which the outcome was set */
	enum mail_line_rc line_rc; /* the line reader's error, if any */
	enum mail_greeting greeting;
	/* From a capability list read whole in plaintext: YES when
	 * STARTTLS/STLS is listed, NO when not; UNSEEN when none was read
	 * (and always with implicit TLS). */
	enum smtp_fact starttls_offered;
	enum smtp_stripping stripping; /* ADVERTISED_REFUSED or NONE */
	/* Plaintext after the OK to STARTTLS/STLS; UNSEEN when no OK. */
	enum smtp_fact injection;
	size_t injected_bytes;
	size_t unsolicited_bytes; /* other bytes nobody asked for */
	enum smtp_fact bare_lf;	  /* a line ended in LF alone */
	bool tls_ok;
	char tls_reason[SMTP_TLS_REASON_MAX];
	/* The greeting line, raw, without line end (not NUL-terminated);
	 * allocated to fit, owned by the session; never NULL once
	 * initialised (mail_greeting_none until one is read). */
	size_t greeting_len;
	const uint8_t *greeting_line;
};

/*
 * What an IMAP or POP3 session has in common: the first member of struct
 * imap_session and struct pop3_session, so that a pointer to one is a
 * pointer to the other. Callers read facts and transcript.
 */
struct mail_core {
	const struct mail_driver *drv;
	unsigned state; /* the protocol's enum; mail_core_set_state() only */
	bool implicit;	/* TLS from the first byte (993, 995) */
	bool in_tls;	/* the handshake is done */
	struct smtp_limits limits;
	struct mail_answer answer;
	/* The line reader and the protocol's parse of it (drv->work_size
	 * bytes), allocated while a line is being read only, so that a
	 * session that waits holds none. */
	struct mail_line_reader *work;
	/* The caller's reason for a failed handshake, during
	 * mail_core_on_tls_done() only. */
	const char *tls_failed_reason;
	size_t out_len;
	uint8_t out[MAIL_CMD_MAX];
	struct mail_core_facts facts;
	/* Every byte sent, received and discarded (smtp.h). */
	struct smtp_transcript transcript;
};

/* Prepares c with limits (NULL: smtp_limits_default()) and the answer's
 * caps. Allocates nothing. */
void mail_core_init(struct mail_core *c, const struct smtp_limits *limits,
		    size_t lines_max, size_t bytes_max);

/* mail_core_init(), for a session of drv reaching TLS at once (implicit)
 * or by STARTTLS/STLS, in state 0 (connecting) with nothing learnt. */
void mail_core_start(struct mail_core *c, const struct mail_driver *drv,
		     bool implicit, const struct smtp_limits *limits,
		     size_t lines_max, size_t bytes_max);
/* Frees the reader, the greeting and the transcript; the other facts
 * stay readable. Safe twice. */
void mail_core_free(struct mail_core *c);

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

/* The command to send after SMTP_ACT_SEND; valid until the next event. */
const uint8_t *mail_core_output(const struct mail_core *c, size_t *len);

/* The stage's inactivity timeout in ms from the limits; 0: no timer. */
unsigned mail_core_stage_ms(const struct mail_core *c, enum mail_stage st);

/* The stage of the session's current state (NONE once it is over). */
enum mail_stage mail_core_stage(const struct mail_core *c);

/*
 * Runs one input through the state machine, and MAIL_IN_ENTER through
 * every state it enters, until it would block: the step() of both
 * protocols.
 */
enum smtp_action mail_core_step(struct mail_core *c, enum mail_input in);

/* The name of a state of c's protocol ("unknown" when out of range). */
const char *mail_core_state_str(const struct mail_core *c, unsigned st);

/*
 * The only writer of c->state: traces "old -> new" in debug builds with
 * limits.trace, and frees the reader when the new state reads no lines
 * (the handshake, the end).
 */
void mail_core_set_state(struct mail_core *c, unsigned st);

/* Sets the outcome once, with the state it was set in: what ended the
 * session first is what it says. */
void mail_core_finish(struct mail_core *c, enum mail_rc rc);

/* Inputs that end a session the same way in every state that waits
 * (mail_input_end_rc()): the outcome, if not known yet, says how, and
 * nothing more is sent. Returns SMTP_ACT_WAIT. */
enum smtp_action mail_core_end_on(struct mail_core *c, enum mail_input in);

/*
 * The cases every session has, for the protocol's table of states:
 * connecting (TCP, then the greeting or the handshake) and the
 * handshake (tls_ok, then the greeting inside TLS or LOGOUT/QUIT; else
 * tls_failed with a reason).
 */
enum smtp_action mail_core_st_connecting(struct mail_core *c,
					 enum mail_input in);
enum smtp_action mail_core_st_tls_handshake(struct mail_core *c,
					    enum mail_input in);

/*
 * In the greeting state, for the inputs that are no greeting line:
 * silence ends it with greeting_timeout, an unreadable line (or POP3
 * garbage) is a garbage greeting, anything else ends the session.
 * Returns SMTP_ACT_WAIT.
 */
enum smtp_action mail_core_greeting_lost(struct mail_core *c,
					 enum mail_input in);
/* A greeting read: kept (the first one), its verdict g; a rejected one
 * ends the session (greeting_rejected), nothing is sent. */
void mail_core_greeting(struct mail_core *c, enum mail_greeting g);

/* The answer to STARTTLS/STLS: OK, the handshake (from here plaintext
 * would be an injection); else starttls_rejected, stripping
 * advertised_refused (offered, then refused: what a stripping middlebox
 * leaves, or a server without a certificate), LOGOUT/QUIT. Returns
 * SMTP_ACT_WAIT. */
enum smtp_action mail_core_starttls_answer(struct mail_core *c, bool ok);

/*
 * Reads one line from *buf (*len bytes; both move past what was used)
 * with mail_answer_feed() into c->work, allocated first (out of memory
 * ends the session with internal_error and returns -1). Returns as
 * mail_answer_feed().
 */
int mail_core_read(struct mail_core *c, const uint8_t **buf, size_t *len);

/*
 * The events of a session, as smtp.h's smtp_on_*(), each returning the
 * one thing to do next. mail_core_on_input() takes MAIL_IN_CONNECTED,
 * MAIL_IN_CONNECT_FAILED, MAIL_IN_EOF, MAIL_IN_RESET and the timers'
 * inputs (mail_input_of_timer()). mail_core_on_data(): bytes from the
 * network, one line at a time: bytes before the connect event mean TCP
 * is up; the session never pipelines, so bytes after the answer to our
 * last command, before the next went out, and bytes during the
 * handshake are discarded. mail_core_on_tls_done(): the handshake after
 * SMTP_ACT_START_TLS ended; reason (may be NULL) is kept on failure;
 * plaintext read before must go to mail_core_on_data() first: it is the
 * injection.
 */
enum smtp_action mail_core_on_input(struct mail_core *c, enum mail_input in);
enum smtp_action mail_core_on_data(struct mail_core *c, const uint8_t *buf,
				   size_t len);
enum smtp_action mail_core_on_tls_done(struct mail_core *c, bool ok,
				       const char *reason);

/* The current stage's inactivity timeout in ms; 0: no timer. Re-arm the
 * stage timer to it after every event; the deadline is armed once at
 * connect with limits.deadline_ms. */
unsigned mail_core_stage_timeout_ms(const struct mail_core *c);

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
