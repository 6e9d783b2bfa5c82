/*
 * The IMAP client of one client endpoint probe (ports 143 and 993), as a
 * state machine without I/O (sans-IO), in the shape of the SMTP session
 * (crawler/smtp/smtp.h): the caller owns the socket, the TLS layer and
 * the timers and turns what happens into calls here; each call answers
 * with the one thing to do next. It shares the SMTP session's vocabulary:
 * enum smtp_action, smtp_timer, smtp_fact, smtp_stripping, struct
 * smtp_limits and the transcript (smtp.h), and the outcome and greeting
 * of mailrc.h; the mechanics it shares with POP3 are mailcore.h's.
 *
 * STARTTLS mode (RFC 9051, RFC 3501, RFC 2595), one command and then its
 * whole answer, never pipelined:
 *
 *   * OK greeting      -> its [CAPABILITY ...] code is the capability
 *                         list; without one: a1 CAPABILITY
 *   capabilities       -> a2 STARTTLS if listed, else a3 LOGOUT
 *                         (no_starttls)
 *   a2 OK              -> TLS handshake (by the caller) -> a3 LOGOUT
 *                         inside TLS (tls_ok)
 *   a2 NO/BAD          -> a3 LOGOUT (starttls_rejected; stripping
 *                         advertised_refused)
 *   a1 NO/BAD          -> a3 LOGOUT (capability_rejected)
 *   * PREAUTH greeting -> a3 LOGOUT (preauth: STARTTLS is not allowed in
 *                         the authenticated state, RFC 9051 §6.2.1)
 *   * BYE greeting     -> close (greeting_rejected; the server is leaving)
 *
 * Implicit mode (RFC 8314, port 993): the handshake at once, then the
 * greeting inside TLS, then a1 LOGOUT inside TLS. The outcome is tls_ok
 * as soon as the handshake is done; the greeting is the fact
 * core.facts.greeting.
 *
 * It never sends LOGIN or AUTHENTICATE, and nothing after a reply it
 * could not read (garbage, a line or response over its cap, a literal
 * where the grammar has none): the stream is out of step, and a hostile
 * peer gets no more bytes. Bytes after the tagged OK to STARTTLS are a
 * plaintext injection (RFC 2595 §3.1): flagged, kept in the transcript as
 * discarded, never handed on.
 *
 * The events are mailcore.h's, on the session's core: mail_core_on_input()
 * (connected, connect failed, EOF, reset, timers), mail_core_on_data(),
 * mail_core_on_tls_done(), mail_core_output(). Timers as for SMTP:
 * re-arm the stage timer to mail_core_stage_timeout_ms() after every
 * call (0: stop it); the deadline is armed once at connect with
 * limits.deadline_ms.
 */
#ifndef MXCRAWL_CRAWLER_MAILPROTO_IMAP_H
#define MXCRAWL_CRAWLER_MAILPROTO_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/mailproto/mailcore.h"
#include "crawler/mailproto/mailline.h"
#include "crawler/mailproto/mailrc.h"
#include "crawler/smtp/smtp.h"

/* Capabilities kept (a server lists 10-40) and the longest one kept;
 * longer atoms are counted as dropped. */
#define IMAP_CAPS_MAX 64
#define IMAP_CAP_MAX 63
/* Lines and bytes of one response (untagged lines up to the tagged
 * completion, or the greeting): a CAPABILITY answer is one or two lines;
 * endless untagged lines stop here with reply_too_large. */
#define IMAP_RESP_LINES_MAX 256
#define IMAP_RESP_BYTES_MAX (64 * 1024)
/* Longest tag read from a tagged response (ours are two bytes). */
#define IMAP_TAG_MAX 31
/* Longest command we send: "a1 CAPABILITY\r\n". */
#define IMAP_OUT_MAX 32

/* States of a session. */
enum imap_state {
	IMAP_ST_CONNECTING = 0, /* waiting for TCP (MAIL_IN_CONNECTED) */
	IMAP_ST_GREETING,	/* waiting for the greeting */
	IMAP_ST_CAPABILITY,	/* a1 CAPABILITY sent */
	IMAP_ST_STARTTLS,	/* a2 STARTTLS sent */
	IMAP_ST_TLS_HANDSHAKE,	/* the caller is doing the handshake */
	IMAP_ST_LOGOUT,		/* outcome known; LOGOUT sent */
	IMAP_ST_DONE,		/* over: the caller closes the connection */
	IMAP_ST_LAST
};

/* Name of a state ("tls_handshake"); "unknown" when out of range. */
const char *imap_state_str(enum imap_state st);

/* How TLS is reached. */
enum imap_mode {
	IMAP_MODE_STARTTLS = 0, /* 143: plaintext greeting, STARTTLS */
	IMAP_MODE_IMPLICIT,	/* 993: TLS from the first byte */
};

/* Kind of one response line. */
enum imap_kind {
	IMAP_KIND_GARBAGE = 0, /* not an IMAP response line */
	IMAP_KIND_UNTAGGED,    /* "* ..." */
	IMAP_KIND_TAGGED,      /* "<tag> OK|NO|BAD ..." */
	IMAP_KIND_CONTINUATION /* "+ ..." */
};

/* Status of a status response; NONE for untagged data. */
enum imap_status {
	IMAP_STATUS_NONE = 0,
	IMAP_STATUS_OK,
	IMAP_STATUS_NO,
	IMAP_STATUS_BAD,
	IMAP_STATUS_PREAUTH, /* untagged only */
	IMAP_STATUS_BYE,     /* untagged only */
	IMAP_STATUS_LAST
};

/* "ok", "no", "bad", "preauth", "bye"; NULL for NONE and out of range. */
const char *imap_status_str(enum imap_status st);

/* One response line read by imap_resp_parse(). */
struct imap_resp {
	enum imap_kind kind;
	enum imap_status status;
	char tag[IMAP_TAG_MAX + 1]; /* tagged: the tag, NUL-terminated */
	bool cap_data;		    /* "* CAPABILITY ..." */
	bool cap_code;		    /* a "[CAPABILITY ...]" response code */
	bool starttls;		    /* STARTTLS among the capabilities */
	bool logindisabled;	    /* LOGINDISABLED among them */
	size_t ncaps;		    /* kept in caps[] */
	size_t caps_dropped;	    /* atoms not kept (too many, too long) */
	char caps[IMAP_CAPS_MAX][IMAP_CAP_MAX + 1]; /* upper case */
};

/*
 * Reads one response line (without its line end) into *out: a pure
 * function. `literal` says the line carried a literal (mail_line_reader
 * nliterals): allowed only in untagged data other than CAPABILITY, which
 * the session ignores; anywhere else (a status response, a capability
 * list, a tagged or continuation line) the line is IMAP_KIND_GARBAGE,
 * since no response we read can hold one. Status words and capability
 * names are case-insensitive (RFC 9051 §9); capabilities are stored upper
 * case. Returns out->kind.
 */
enum imap_kind imap_resp_parse(const uint8_t *line, size_t len, bool literal,
			       struct imap_resp *out);

/* What IMAP learns besides the facts both sessions share (struct
 * mail_core_facts, the session's core.facts). */
struct imap_facts {
	enum imap_status greeting_status;   /* OK, PREAUTH, BYE; NONE */
	enum imap_status capability_status; /* a1's tagged status */
	enum imap_status starttls_status;   /* a2's */
	enum imap_status logout_status;	    /* LOGOUT's */
	/* LOGINDISABLED in the capability list read (RFC 9051 §6.2.3:
	 * plaintext LOGIN refused); UNSEEN when no list was read. */
	enum smtp_fact logindisabled;
	size_t untagged_ignored; /* untagged lines we do not read */
	bool caps_in_greeting;	 /* the list came with the greeting */
	/* The capability list that decided (see core.facts.starttls_offered;
	 * inside TLS for implicit mode): ncaps rows, upper case, allocated
	 * on demand and owned by the session; NULL when none. */
	size_t ncaps;
	size_t caps_dropped;
	char (*caps)[IMAP_CAP_MAX + 1];
};

/* Reader and parser, the session's core.work while a line is being read
 * (about 12 KiB), so that a session that waits holds none. */
struct imap_work {
	struct mail_line_reader reader; /* first: core.work points here */
	struct imap_resp resp;
};

/* One endpoint's session. Its events are mailcore.h's mail_core_on_*()
 * on &s->core. */
struct imap_session {
	struct mail_core core; /* first: state (enum imap_state), shared
				* facts, transcript */
	const char *tag;       /* tag of the command in flight */
	bool caps_starttls;    /* STARTTLS in the list being read */
	bool caps_logindis;    /* LOGINDISABLED in it */
	bool caps_seen;	       /* a list was read in this response */
	struct imap_facts facts;
};

/* Prepares s for one connection in the given mode; limits may be NULL
 * for smtp_limits_default(). Allocates nothing. Returns 0. */
int imap_session_init(struct imap_session *s, enum imap_mode mode,
		      const struct smtp_limits *limits);
/* Frees what the session allocated (reader, greeting, capabilities,
 * transcript); the other facts stay readable. Safe twice. */
void imap_session_free(struct imap_session *s);

#endif
