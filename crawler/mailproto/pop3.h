/*
 * The POP3 client of one client endpoint probe (ports 110 and 995), as a
 * state machine without I/O (sans-IO) in the shape of the SMTP and IMAP
 * sessions (smtp.h, imap.h), with their vocabulary: enum smtp_action,
 * smtp_timer, smtp_fact, smtp_stripping, struct smtp_limits and the
 * transcript (smtp.h), the outcome and greeting of mailrc.h, and the
 * session mechanics of mailcore.h.
 *
 * STLS mode (RFC 1939, RFC 2449 CAPA, RFC 2595 §4 STLS), one command and
 * then its whole answer, never pipelined:
 *
 *   +OK greeting -> CAPA
 *   +OK, lines, "." (dot-unstuffed) -> STLS if listed, else QUIT
 *                                      (no_starttls)
 *   -ERR to CAPA -> QUIT (capability_rejected: no STLS tried blind)
 *   +OK to STLS  -> TLS handshake (by the caller) -> QUIT inside TLS
 *   -ERR to STLS -> QUIT (starttls_rejected; stripping advertised_refused)
 *   -ERR greeting -> close (greeting_rejected; the server is leaving)
 *
 * Implicit mode (RFC 8314, port 995): the handshake at once, the greeting
 * inside TLS, QUIT inside TLS; the outcome is tls_ok once the handshake
 * is done and the greeting is the fact core.facts.greeting.
 *
 * It never sends USER, PASS, APOP or AUTH, and nothing after a reply it
 * could not read. Bytes after the +OK to STLS are a plaintext injection:
 * flagged, kept in the transcript as discarded, never handed on.
 *
 * The events are mailcore.h's, on the session's core: mail_core_on_input()
 * (connected, connect failed, EOF, reset, timers), mail_core_on_data(),
 * mail_core_on_tls_done(), mail_core_output(). Timers as for SMTP:
 * re-arm the stage timer to mail_core_stage_timeout_ms() after every
 * call (0: stop it); the deadline is armed once at connect with
 * limits.deadline_ms.
 */
#ifndef MXCRAWL_CRAWLER_MAILPROTO_POP3_H
#define MXCRAWL_CRAWLER_MAILPROTO_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/mailproto/mailcore.h"
#include "crawler/mailproto/mailline.h"
#include "crawler/mailproto/mailrc.h"
#include "crawler/smtp/smtp.h"

/* Capabilities kept (their first token, upper case) and the longest. */
#define POP3_CAPS_MAX 64
#define POP3_CAP_MAX 63
/* Lines and bytes of one answer: a CAPA list has about ten lines;
 * endless lines stop here with reply_too_large. */
#define POP3_RESP_LINES_MAX 256
#define POP3_RESP_BYTES_MAX (64 * 1024)
/* Longest command we send: "CAPA\r\n", "STLS\r\n", "QUIT\r\n". */
#define POP3_OUT_MAX 8

/* States of a session. */
enum pop3_state {
	POP3_ST_CONNECTING = 0, /* waiting for TCP (MAIL_IN_CONNECTED) */
	POP3_ST_GREETING,	/* waiting for the greeting */
	POP3_ST_CAPA,		/* CAPA sent: status line, then the list */
	POP3_ST_STLS,		/* STLS sent */
	POP3_ST_TLS_HANDSHAKE,	/* the caller is doing the handshake */
	POP3_ST_QUIT,		/* outcome known; QUIT sent */
	POP3_ST_DONE,		/* over: the caller closes the connection */
	POP3_ST_LAST
};

/* Name of a state ("capa"); "unknown" when out of range. */
const char *pop3_state_str(enum pop3_state st);

/* How TLS is reached. */
enum pop3_mode {
	POP3_MODE_STLS = 0, /* 110: plaintext greeting, STLS */
	POP3_MODE_IMPLICIT, /* 995: TLS from the first byte */
};

/* A status line's indicator. */
enum pop3_status {
	POP3_STATUS_NONE = 0, /* not read */
	POP3_STATUS_OK,	      /* "+OK" */
	POP3_STATUS_ERR,      /* "-ERR" */
	POP3_STATUS_LAST
};

/* "+OK", "-ERR"; NULL for NONE and out of range. */
const char *pop3_status_str(enum pop3_status st);

/* One line read by pop3_line_parse(). */
struct pop3_line {
	enum pop3_status status; /* status line: its indicator */
	bool end;		 /* multi-line: the terminating "." */
	/* Multi-line data line, dot-unstuffed: its first token (the CAPA
	 * capability name, RFC 2449 §5), upper case, NUL-terminated; empty
	 * when longer than POP3_CAP_MAX or not printable. */
	char name[POP3_CAP_MAX + 1];
	bool stls; /* the name is STLS */
};

/*
 * Reads one line (without its line end) into *out: a pure function.
 * As a status line (multi false): "+OK" or "-ERR", case-insensitive,
 * then the end or a space; returns false for anything else. As a line
 * of a multi-line answer (multi true): "." ends it (out->end); a line
 * starting with "." loses that dot (RFC 1939 §3); the first token is the
 * name. Returns true for every multi-line line.
 */
bool pop3_line_parse(const uint8_t *line, size_t len, bool multi,
		     struct pop3_line *out);

/* What POP3 learns besides the facts both sessions share (struct
 * mail_core_facts, the session's core.facts; there starttls_offered is
 * from a CAPA list read whole, up to its "."). */
struct pop3_facts {
	enum pop3_status greeting_status;
	enum pop3_status capa_status;
	enum pop3_status stls_status;
	enum pop3_status quit_status;
	/* The CAPA names: ncaps rows, allocated on demand, owned by the
	 * session; NULL when none. */
	size_t ncaps;
	size_t caps_dropped;
	char (*caps)[POP3_CAP_MAX + 1];
};

/* One endpoint's session. Its events are mailcore.h's mail_core_on_*()
 * on &s->core; the line reader (8 KiB, core.work) is allocated while a
 * line is being read only. */
struct pop3_session {
	struct mail_core core; /* first: state (enum pop3_state), shared
				* facts, transcript */
	bool in_list;	       /* CAPA's +OK read: list lines follow */
	bool list_stls;	       /* STLS in the list being read */
	struct pop3_line line; /* the line just read */
	struct pop3_facts facts;
};

/* Prepares s for one connection in the given mode; limits may be NULL
 * for smtp_limits_default(). Allocates nothing. Returns 0. */
int pop3_session_init(struct pop3_session *s, enum pop3_mode mode,
		      const struct smtp_limits *limits);
/* Frees what the session allocated; the other facts stay readable.
 * Safe twice. */
void pop3_session_free(struct pop3_session *s);

#endif
