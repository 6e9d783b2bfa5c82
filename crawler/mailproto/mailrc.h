/*
 * The vocabulary the client mail port probes share (M12; the testbed's
 * truth, `client` in tests/testbed/README.md, uses the same names): one outcome per probe and the greeting fact. The IMAP and
 * POP3 sessions set these directly; the SMTP session keeps its own names
 * and mailsess.c maps them (starttls_ok -> tls_ok, banner_rejected ->
 * greeting_rejected, banner_timeout -> greeting_timeout, ehlo_rejected ->
 * capability_rejected). The strings are what the database and the
 * testbed truth's `probe.outcome` and `probe.greeting` hold.
 */
#ifndef MXCRAWL_CRAWLER_MAILPROTO_MAILRC_H
#define MXCRAWL_CRAWLER_MAILPROTO_MAILRC_H

/* Outcome of one client endpoint probe. */
enum mail_rc {
	MAIL_RC_TLS_OK = 0,	     /* handshake done: implicit, or after
				      * STARTTLS/STLS */
	MAIL_RC_NO_STARTTLS,	     /* capabilities read whole, no
				      * STARTTLS/STLS among them */
	MAIL_RC_STARTTLS_REJECTED,   /* STARTTLS/STLS answered NO, BAD,
				      * -ERR, 4xx or 5xx */
	MAIL_RC_GREETING_REJECTED,   /* non-220, `* BYE`, `-ERR` greeting */
	MAIL_RC_GREETING_TIMEOUT,    /* no complete greeting in time */
	MAIL_RC_PREAUTH,	     /* IMAP `* PREAUTH` on a STARTTLS port:
				      * STARTTLS is not allowed any more */
	MAIL_RC_CAPABILITY_REJECTED, /* EHLO not 2xx, CAPABILITY NO/BAD,
				      * CAPA -ERR */
	MAIL_RC_TLS_FAILED,	     /* the handshake failed */
	MAIL_RC_CONNECTION_RESET,    /* RST before the outcome was known */
	MAIL_RC_CONNECTION_CLOSED,   /* FIN before the outcome was known */
	MAIL_RC_PROTOCOL_ERROR,	     /* not the protocol */
	MAIL_RC_LINE_TOO_LONG,	     /* a line over the line cap */
	MAIL_RC_REPLY_TOO_LARGE,     /* a response over its line/byte cap */
	MAIL_RC_DEADLINE,	     /* the endpoint's total deadline */
	MAIL_RC_TIMEOUT,	     /* a later stage went quiet */
	MAIL_RC_CONNECT_FAILED,	     /* no TCP connection */
	MAIL_RC_INTERNAL_ERROR,	     /* the caller broke the contract, or
				      * out of memory */
	MAIL_RC_PENDING,	     /* not over yet */
	MAIL_RC_LAST
};

/* Stable snake_case name ("tls_ok"); "unknown" when out of range. */
const char *mail_rc_str(enum mail_rc rc);
/* The enum for a name of mail_rc_str(); -1 when there is none. */
int mail_rc_from_str(const char *name);

/*
 * What the greeting was, as a fact separate from the outcome: with
 * implicit TLS the outcome is tls_ok as soon as the handshake is done,
 * and the greeting read inside TLS says whether the service behind it
 * works. Set in STARTTLS mode too (the plaintext greeting).
 */
enum mail_greeting {
	MAIL_GREETING_UNSEEN = 0, /* not reached (null) */
	MAIL_GREETING_OK,	  /* 220, `* OK`, `* PREAUTH`, `+OK` */
	MAIL_GREETING_REJECTED,	  /* other SMTP code, `* BYE`, `-ERR` */
	MAIL_GREETING_GARBAGE,	  /* not the protocol */
	MAIL_GREETING_TIMEOUT,	  /* the greeting stage went quiet */
	MAIL_GREETING_LAST
};

/* "ok", "rejected", "garbage", "timeout"; NULL for UNSEEN (the truth's
 * null) and out of range. */
const char *mail_greeting_str(enum mail_greeting g);

#endif
