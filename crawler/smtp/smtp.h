/*
 * The SMTP client of one endpoint probe, as a state machine without I/O
 * (sans-IO): the caller owns the socket, the TLS layer and the timers, and
 * turns what happens into calls here (bytes received, connected, end of
 * stream, reset, timer expired, TLS handshake done); each call answers with
 * the one thing to do next (send these bytes, start TLS, close).
 *
 * What the client does, and only that (RFC 5321, RFC 3207):
 *
 *   banner 220  -> EHLO <name>
 *   EHLO 2xx    -> STARTTLS if offered, else QUIT (no_starttls)
 *   EHLO 5xx    -> HELO <name> -> QUIT (ehlo_rejected: STARTTLS could not
 *                  be offered, RFC 3207 §4 needs EHLO)
 *   STARTTLS 220 -> TLS handshake (by the caller) -> QUIT inside TLS
 *   anything else -> QUIT in plaintext, the outcome says why
 *
 * It never sends MAIL FROM, never pipelines (one command, then its whole
 * reply), and never sends anything after a hostile or broken reply. Bytes
 * received after the 220 to STARTTLS are a plaintext injection (RFC 3207
 * §5): flagged, kept in the transcript as discarded, never handed on.
 *
 * Implicit TLS (RFC 8314, submissions on 465): smtp_session_init_mode()
 * with SMTP_TLS_IMPLICIT starts the handshake at connect, reads the 220
 * inside TLS and sends QUIT inside TLS; no EHLO. The outcome is
 * starttls_ok once the handshake is done (the M12 facade calls it
 * tls_ok), and what the greeting was is facts.greeting.
 *
 * The IMAP and POP3 sessions of the client mail ports
 * (crawler/mailproto/) speak this header's vocabulary too: enum
 * smtp_action, smtp_timer, smtp_fact, smtp_stripping, struct smtp_limits
 * and the transcript, so that one plumbing drives all three.
 *
 * Timers: the caller keeps two. The stage timer is an inactivity timer:
 * after every call into the session, re-arm it to
 * smtp_session_stage_timeout_ms() (0: stop it). The deadline timer is
 * armed once at connect with limits.deadline_ms and never re-armed, so a
 * peer that trickles one byte a second is cut off by it.
 */
#ifndef MXCRAWL_CRAWLER_SMTP_H
#define MXCRAWL_CRAWLER_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/smtp/smtp_reply.h"

/* RFC 5321 §4.5.3.1.2: a domain name is at most 255 octets. */
#define SMTP_EHLO_NAME_MAX 255
/* Longest command we send: "EHLO " name CRLF. */
#define SMTP_OUT_MAX (5 + SMTP_EHLO_NAME_MAX + 2)
/* Raw bytes of the conversation kept as evidence, both directions. The
 * beginning is kept; what does not fit is counted and flagged. */
#define SMTP_TRANSCRIPT_MAX (16 * 1024)
/* The transcript's buffer is allocated at the first byte with this size
 * and doubles up to SMTP_TRANSCRIPT_MAX: a whole ordinary conversation
 * (banner, EHLO reply, STARTTLS, QUIT) is 300-700 bytes, and memory per
 * connection in flight is a budget (issue M4: 48 KiB with TLS). */
#define SMTP_TRANSCRIPT_INITIAL 1024
/* Segments (runs of bytes in one direction) kept in the transcript. A
 * whole conversation has about ten. */
#define SMTP_TRANSCRIPT_SEGS 64
/* Segments allocated at first; doubles up to SMTP_TRANSCRIPT_SEGS. */
#define SMTP_TRANSCRIPT_SEGS_INITIAL 16
/* Bytes of the TLS layer's reason kept (NUL included). */
#define SMTP_TLS_REASON_MAX 64

/* Default timers (smtp_limits_default). The deadline is shorter than what
 * a tarpit needs to trickle a banner out at one byte a second. */
#define SMTP_DEFAULT_CONNECT_MS 10000
#define SMTP_DEFAULT_STAGE_MS 20000
#define SMTP_DEFAULT_QUIT_MS 5000
#define SMTP_DEFAULT_DEADLINE_MS 30000

/* States of a session. */
enum smtp_state {
	SMTP_ST_CONNECTING = 0, /* waiting for smtp_on_connected() */
	SMTP_ST_BANNER,		/* waiting for the greeting */
	SMTP_ST_EHLO,		/* EHLO sent, waiting for its reply */
	SMTP_ST_HELO,		/* EHLO refused with 5xx; HELO sent */
	SMTP_ST_STARTTLS,	/* STARTTLS sent, waiting for its reply */
	SMTP_ST_TLS_HANDSHAKE,	/* the caller is doing the handshake */
	SMTP_ST_QUIT,		/* outcome known; QUIT sent, waiting for 221 */
	SMTP_ST_DONE,		/* over: the caller closes the connection */
	SMTP_ST_LAST
};

/* Name of a state ("tls_handshake"); "unknown" when out of range. */
const char *smtp_state_str(enum smtp_state st);

/*
 * Outcome of a session. The names from smtp_rc_str() are the database's
 * SMTP outcomes and the testbed truth's `endpoints[].smtp.outcome`.
 */
enum smtp_rc {
	SMTP_RC_STARTTLS_OK = 0,   /* TLS handshake done after STARTTLS
				    * (implicit TLS: at connect) */
	SMTP_RC_NO_STARTTLS,	   /* EHLO answered, STARTTLS not offered */
	SMTP_RC_STARTTLS_REJECTED, /* STARTTLS answered other than 220 */
	SMTP_RC_BANNER_REJECTED,   /* greeting not 220: 421, 554, 450 ... */
	SMTP_RC_BANNER_TIMEOUT,	   /* no complete greeting in time */
	SMTP_RC_EHLO_REJECTED,	   /* EHLO not 2xx (HELO tried on 5xx) */
	SMTP_RC_TLS_FAILED,	   /* handshake failed: see tls_reason */
	SMTP_RC_CONNECTION_RESET,  /* RST before the outcome was known */
	SMTP_RC_CONNECTION_CLOSED, /* FIN before the outcome was known */
	SMTP_RC_PROTOCOL_ERROR,	   /* not an SMTP reply: see reply_rc */
	SMTP_RC_LINE_TOO_LONG,	   /* SMTP_REPLY_LINE_HARD_MAX exceeded */
	SMTP_RC_REPLY_TOO_LARGE,   /* reply's line count or bytes capped */
	SMTP_RC_DEADLINE,	   /* the endpoint's total deadline */
	SMTP_RC_TIMEOUT,	   /* another stage went quiet: end_state */
	SMTP_RC_CONNECT_FAILED,	   /* smtp_on_connect_failed() */
	SMTP_RC_INTERNAL_ERROR,	   /* the caller broke the contract, or no
				    * memory for the reply parser */
	SMTP_RC_PENDING,	   /* not over yet */
	SMTP_RC_LAST
};

/* Stable snake_case name ("starttls_ok"); "unknown" when out of range. */
const char *smtp_rc_str(enum smtp_rc rc);

/* STARTTLS-stripping signatures. One per session, in the
 * truth's order: XXXXXXXA beats a masked banner; advertised-but-refused
 * counts only when neither was seen. */
enum smtp_stripping {
	SMTP_STRIP_NONE = 0,
	SMTP_STRIP_XXXXXXXA,	       /* EHLO keyword XXXXXXXA */
	SMTP_STRIP_MASKED_BANNER,      /* "220 ****" */
	SMTP_STRIP_ADVERTISED_REFUSED, /* STARTTLS offered, answered 5xx */
	SMTP_STRIP_LAST
};

/* "xxxxxxxa", "masked_banner", "advertised_refused"; NULL for none (the
 * truth's null) or out of range. */
const char *smtp_stripping_str(enum smtp_stripping st);

/*
 * A yes/no fact that the session may end too early to observe: whether
 * STARTTLS is offered is only known from an EHLO answer, an injection only
 * after a 220 to STARTTLS. A fact never observed is "not reached" (SQL
 * NULL, JSON null), never "no": a server that was silent did not say it
 * lacks STARTTLS.
 */
enum smtp_fact {
	SMTP_FACT_UNSEEN = 0, /* the session ended before it could show */
	SMTP_FACT_NO,
	SMTP_FACT_YES,
	SMTP_FACT_LAST
};

/* "true", "false", or "null" for SMTP_FACT_UNSEEN and out of range: the
 * fact as a JSON literal. The string is static. */
const char *smtp_fact_json(enum smtp_fact f);

/*
 * What the greeting was, a fact apart from the outcome: with implicit TLS
 * the outcome is known once the handshake is done, and the 220 inside TLS
 * says whether a mail service is behind it. Set in both modes. The values
 * are those of enum mail_greeting (crawler/mailproto/mailrc.h).
 */
enum smtp_greeting {
	SMTP_GREETING_UNSEEN = 0, /* not reached */
	SMTP_GREETING_OK,	  /* 220 */
	SMTP_GREETING_REJECTED,	  /* another code */
	SMTP_GREETING_GARBAGE,	  /* not an SMTP reply */
	SMTP_GREETING_TIMEOUT,	  /* the greeting stage went quiet */
	SMTP_GREETING_LAST
};

/* "ok", "rejected", "garbage", "timeout"; NULL for UNSEEN and out of
 * range. */
const char *smtp_greeting_str(enum smtp_greeting g);

/* How TLS is reached. */
enum smtp_tls_mode {
	SMTP_TLS_STARTTLS = 0, /* 25, 587: EHLO, then STARTTLS */
	SMTP_TLS_IMPLICIT,     /* 465 (RFC 8314): TLS from the first byte */
};

/* What the caller does next. */
enum smtp_action {
	SMTP_ACT_WAIT = 0,  /* nothing: wait for bytes or a timer */
	SMTP_ACT_SEND,	    /* send smtp_session_output() (through TLS once
			     * the handshake is done) and wait */
	SMTP_ACT_START_TLS, /* start the handshake now on the raw stream;
			     * report with smtp_on_tls_done() */
	SMTP_ACT_CLOSE,	    /* close the connection; the outcome is final */
	SMTP_ACT_LAST
};

/* Which of the caller's timers expired. */
enum smtp_timer {
	SMTP_TIMER_STAGE = 0, /* the stage (inactivity) timer */
	SMTP_TIMER_DEADLINE,  /* the endpoint's total deadline */
};

/* Timers in milliseconds; 0 disables one. */
struct smtp_limits {
	unsigned connect_ms;  /* CONNECTING */
	unsigned banner_ms;   /* BANNER */
	unsigned command_ms;  /* EHLO, HELO, STARTTLS replies */
	unsigned tls_ms;      /* TLS_HANDSHAKE */
	unsigned quit_ms;     /* QUIT: how long the 221 is waited for */
	unsigned deadline_ms; /* whole session, armed by the caller */
	bool trace;	      /* state changes to stderr (debug builds) */
};

/* Fills l with the SMTP_DEFAULT_* values. */
void smtp_limits_default(struct smtp_limits *l);

/* Direction of a transcript segment. */
enum smtp_dir {
	SMTP_DIR_SENT = 0,  /* a command we sent */
	SMTP_DIR_RECEIVED,  /* reply bytes that were read */
	SMTP_DIR_DISCARDED, /* received but thrown away: injection after the
			     * 220 to STARTTLS, or bytes nobody asked for */
};

struct smtp_segment {
	uint8_t dir;	   /* enum smtp_dir */
	bool tls;	   /* inside TLS (plaintext as the caller saw it) */
	uint32_t off, len; /* in smtp_transcript.bytes */
};

/*
 * The raw conversation, kept as bytes (stored as bytea, never text).
 * Both arrays are allocated when the first byte arrives and grow by
 * doubling up to their maximum (SMTP_TRANSCRIPT_MAX bytes,
 * SMTP_TRANSCRIPT_SEGS segments); NULL while nothing was kept. Owned by
 * the session: smtp_session_free().
 */
struct smtp_transcript {
	size_t len;
	size_t nseg;
	bool truncated;	    /* bytes or segments did not fit (or no memory) */
	size_t dropped;	    /* bytes that did not fit */
	size_t cap, segcap; /* allocated bytes and segments */
	struct smtp_segment *seg; /* nseg used */
	uint8_t *bytes;		  /* len used */
};

/*
 * Appends len bytes to t, merging a run in one direction (and on one
 * side of the TLS boundary) into one segment. What does not fit (or finds
 * no memory) is counted in dropped and flags truncated. The IMAP and POP3
 * sessions (crawler/mailproto/) keep their transcripts with these too, so
 * that one writer stores all of them.
 */
void smtp_transcript_add(struct smtp_transcript *t, enum smtp_dir dir, bool tls,
			 const uint8_t *buf, size_t len);
/* Frees t's arrays and empties it; safe twice. */
void smtp_transcript_free(struct smtp_transcript *t);

/* What was learnt; complete once the outcome is not SMTP_RC_PENDING. */
struct smtp_facts {
	enum smtp_rc outcome;
	enum smtp_state end_state;   /* state in which the outcome was set */
	enum smtp_reply_rc reply_rc; /* the parser's error, if one ended it */
	int banner_code;	     /* 0 when none was read */
	enum smtp_greeting greeting;
	int ehlo_code;
	int helo_code;
	int starttls_code;
	int quit_code;
	/* Known from a complete EHLO reply: YES when a 2xx lists STARTTLS,
	 * NO for a 2xx without it or a 5xx (no ESMTP, so no STARTTLS: RFC
	 * 3207 §4); UNSEEN when no EHLO reply was read (the session ended
	 * before, or the reply was cut by a cap) or it was a 4xx, which
	 * refuses service for now and shows no extensions. */
	enum smtp_fact starttls_offered;
	enum smtp_stripping stripping;
	/* Plaintext after the 220 to STARTTLS; UNSEEN when no 220 came. */
	enum smtp_fact injection;
	size_t injected_bytes;
	size_t unsolicited_bytes; /* other bytes after a reply, discarded */
	/* A reply line over SMTP_REPLY_LINE_MAX, and a reply line ended in
	 * LF alone, among the replies read whole (a line past
	 * SMTP_REPLY_LINE_HARD_MAX is overlong too); UNSEEN while none was. */
	enum smtp_fact overlong_line;
	enum smtp_fact bare_lf;
	bool tls_ok; /* the handshake was reported done */
	char tls_reason[SMTP_TLS_REASON_MAX]; /* the caller's, on failure */
	/* First banner line after the code, raw (not NUL-terminated),
	 * at most SMTP_REPLY_TEXT_MAX bytes; allocated to fit, owned by the
	 * session. Never NULL once the session is initialised (an empty
	 * static array until a banner is read). */
	size_t banner_len;
	const uint8_t *banner;
	/* EHLO keywords as the parser read them (upper case): nkeywords
	 * rows (at most SMTP_REPLY_KEYWORDS_MAX), allocated to fit and owned
	 * by the session; NULL when none. They are a fact only when a 2xx
	 * EHLO reply was read (ehlo_code 2xx); otherwise "not reached". */
	size_t nkeywords;
	char (*keywords)[SMTP_REPLY_KEYWORD_MAX + 1];
};

/* One endpoint's session: under 1 KiB in place, plus the reply parser,
 * transcript and banner it allocates as the conversation goes;
 * smtp_session_free() releases those. */
struct smtp_session {
	enum smtp_state state; /* written only by set_state() */
	enum smtp_tls_mode mode;
	struct smtp_limits limits;
	char ehlo_name[SMTP_EHLO_NAME_MAX + 1];
	bool in_tls;
	/* The reply parser (about 5 KiB, most of it the first line's
	 * text): allocated from the first byte of a reply to its end only,
	 * so a session that waits (for a reply, or through the TLS
	 * handshake, where OpenSSL's memory peaks) holds none. */
	struct smtp_reply_parser *parser;
	size_t out_len;
	uint8_t out[SMTP_OUT_MAX];
	struct smtp_facts facts;
	struct smtp_transcript transcript;
};

/*
 * Prepares s for one connection; the session starts in CONNECTING.
 * ehlo_name is copied; it must be 1..SMTP_EHLO_NAME_MAX printable ASCII
 * bytes without spaces (a domain or an address literal), so that it can
 * never smuggle a second command. limits may be NULL for the defaults.
 * Returns 0, or -EINVAL for a bad name. Allocates nothing (the session
 * does as the conversation goes; smtp_session_free() releases it).
 */
int smtp_session_init(struct smtp_session *s, const char *ehlo_name,
		      const struct smtp_limits *limits);

/* As smtp_session_init(), in the given TLS mode (smtp_session_init()
 * is SMTP_TLS_STARTTLS). */
int smtp_session_init_mode(struct smtp_session *s, const char *ehlo_name,
			   const struct smtp_limits *limits,
			   enum smtp_tls_mode mode);

/* Frees what the session allocated (parser, transcript, banner, EHLO
 * keywords); the facts stay readable except those three, which become
 * empty. Call it once the results were read; safe twice, and after a
 * failed init. */
void smtp_session_free(struct smtp_session *s);

/* The TCP connection is up: the greeting is awaited. */
enum smtp_action smtp_on_connected(struct smtp_session *s);
/* The TCP connection could not be made (refused, unreachable); the
 * caller keeps the socket error. A reset after connecting is
 * smtp_on_reset(). */
enum smtp_action smtp_on_connect_failed(struct smtp_session *s);
/* Bytes received (decrypted, once TLS is up). The session copies what it
 * keeps; buf may be reused when this returns. */
enum smtp_action smtp_on_data(struct smtp_session *s, const uint8_t *buf,
			      size_t len);
/* The peer closed its side (FIN), or the handshake saw end of stream. */
enum smtp_action smtp_on_eof(struct smtp_session *s);
/* The connection was reset (RST, EPIPE) or refused. */
enum smtp_action smtp_on_reset(struct smtp_session *s);
/* One of the caller's timers expired. */
enum smtp_action smtp_on_timeout(struct smtp_session *s, enum smtp_timer which);
/*
 * The handshake started after SMTP_ACT_START_TLS ended. On failure,
 * reason says how ("alert", "eof", "reset", OpenSSL's text; may be NULL)
 * and is copied. Plaintext the caller had read but not delivered when
 * the handshake started must be handed to smtp_on_data() before this:
 * it is the injection, and is recorded as such.
 */
enum smtp_action smtp_on_tls_done(struct smtp_session *s, bool ok,
				  const char *reason);

/* The bytes to send after SMTP_ACT_SEND; valid until the next call. */
const uint8_t *smtp_session_output(const struct smtp_session *s, size_t *len);
/* The current stage's inactivity timeout in ms; 0 when no timer should
 * run (DONE, or disabled in the limits). */
unsigned smtp_session_stage_timeout_ms(const struct smtp_session *s);

#endif
