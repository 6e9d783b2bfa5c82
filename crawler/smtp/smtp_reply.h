/*
 * SMTP replies (RFC 5321 §4.2) read from a byte stream, as a pure
 * streaming parser: no I/O, no allocation, no globals. The caller feeds
 * whatever chunks the network delivered and gets one complete reply at a
 * time, with the number of bytes it used, so that the bytes that follow a
 * reply stay visible (after the 220 to STARTTLS they are an injection,
 * RFC 3207 §5, and must never reach TLS).
 *
 *   Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                Reply-code [ SP textstring ] CRLF
 *
 * Accepted beyond the grammar, because real servers send it: a bare LF as
 * line end (recorded), a last line that is only the code ("250"), and any
 * byte but LF in the text (the text is kept raw, never as a C string).
 * Refused: a code that is not three digits with a first digit 2-5, lines
 * of one reply with different codes, a fourth byte other than SP, "-" or
 * the line end.
 *
 * Every line's first token is read as an EHLO keyword (RFC 5321 §4.1.1.1,
 * case-insensitive, so stored upper-cased), the first line included: a
 * server that sends "250-STARTTLS" before its domain line still offers
 * STARTTLS. The caller decides whether the reply was an EHLO reply.
 *
 * Bounds: a line is stored up to SMTP_REPLY_LINE_MAX bytes (RFC 5321
 * §4.5.3.1.5 allows 512; longer lines are flagged, the rest is read but not
 * stored), a line without line end is cut off at SMTP_REPLY_LINE_HARD_MAX,
 * and one reply may have at most SMTP_REPLY_LINES_MAX lines and
 * SMTP_REPLY_BYTES_MAX bytes.
 */
#ifndef MXCRAWL_CRAWLER_SMTP_REPLY_H
#define MXCRAWL_CRAWLER_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Longest reply line stored, counted as RFC 5321 §4.5.3.1.5 counts it:
 * code, separator, text and CRLF. Eight times the RFC's 512, which real
 * servers do exceed (long banners, EHLO AUTH lists); a longer line is
 * flagged over-long and only its first bytes are kept.
 */
#define SMTP_REPLY_LINE_MAX 4096
/* Text bytes of the first line that are kept: the line minus the code,
 * the separator and CRLF. */
#define SMTP_REPLY_TEXT_MAX (SMTP_REPLY_LINE_MAX - 6)
/*
 * A line that runs on this long without a line end is not a reply line:
 * the reply fails with line_too_long. Checked before the reply size, so a
 * megabyte without CRLF always ends as line_too_long.
 */
#define SMTP_REPLY_LINE_HARD_MAX (64 * 1024)
/* Lines in one reply. EHLO replies have a few dozen, multi-line banners
 * with legal notices rarely a hundred; endless "250-" lines stop here. */
#define SMTP_REPLY_LINES_MAX 512
/* Bytes in one reply, line ends included. Above the hard line cap, so
 * that a single over-long line is reported as such. */
#define SMTP_REPLY_BYTES_MAX (256 * 1024)
/* EHLO keywords kept per reply, and the longest kept (RFC 5321 §4.1.1.1:
 * registered keywords are short; a longer token is not stored). */
#define SMTP_REPLY_KEYWORDS_MAX 32
#define SMTP_REPLY_KEYWORD_MAX 31

/*
 * Result of smtp_reply_feed(). The names from smtp_reply_rc_str() are
 * stored as the detail of an SMTP outcome, so each failure has its own.
 */
enum smtp_reply_rc {
	SMTP_REPLY_OK = 0,	       /* a complete reply is in p->reply */
	SMTP_REPLY_RC_INCOMPLETE,      /* every byte used, the reply goes on */
	SMTP_REPLY_RC_BAD_CODE,	       /* not 3 digits, first digit not 2-5 */
	SMTP_REPLY_RC_BAD_SEPARATOR,   /* 4th byte not SP, "-" or line end */
	SMTP_REPLY_RC_CODE_MISMATCH,   /* a line's code differs from the 1st */
	SMTP_REPLY_RC_LINE_TOO_LONG,   /* over SMTP_REPLY_LINE_HARD_MAX */
	SMTP_REPLY_RC_TOO_MANY_LINES,  /* over SMTP_REPLY_LINES_MAX */
	SMTP_REPLY_RC_REPLY_TOO_LARGE, /* over SMTP_REPLY_BYTES_MAX */
	SMTP_REPLY_RC_LAST
};

/* Stable snake_case name ("code_mismatch"); "unknown" when out of range.
 * The string is static. */
const char *smtp_reply_rc_str(enum smtp_reply_rc rc);

/* One complete reply. */
struct smtp_reply {
	int code;	 /* 200..599 */
	size_t nlines;	 /* lines, the last included */
	size_t nbytes;	 /* raw bytes, line ends included */
	bool overlong;	 /* a line over SMTP_REPLY_LINE_MAX */
	bool crlf;	 /* a line ended in CRLF */
	bool bare_lf;	 /* a line ended in LF alone */
	bool bare_code;	 /* the last line was only the code */
	bool masked;	 /* a line has "****" (masked banner, Cisco PIX) */
	bool starttls;	 /* a line's first token is STARTTLS */
	bool xxxxxxxa;	 /* ... is XXXXXXXA (STARTTLS overwritten) */
	size_t text_len; /* bytes in text */
	uint8_t text[SMTP_REPLY_TEXT_MAX]; /* first line after the separator,
					    * raw, cut at SMTP_REPLY_TEXT_MAX */
	size_t nkeywords;		   /* kept in keywords[] */
	size_t keywords_dropped; /* well-formed keywords beyond the array */
	/* First tokens that are well-formed ehlo-keywords, upper case,
	 * NUL-terminated (checked text: letters, digits and '-'). */
	char keywords[SMTP_REPLY_KEYWORDS_MAX][SMTP_REPLY_KEYWORD_MAX + 1];
};

/* Streaming state. Initialise with smtp_reply_init(); no _free needed. */
struct smtp_reply_parser {
	enum smtp_reply_rc rc; /* sticky once it is an error */
	bool done;	       /* reply complete: the next feed starts anew */
	bool pending_cr;       /* a CR was the last byte seen */
	bool cont;	       /* the current line said "-" */
	size_t pos;	       /* bytes of the current line, line end aside */
	int line_code;
	size_t star_run; /* consecutive '*' in the current line */
	int kw_state;	 /* where the first-token reader is */
	size_t kw_len;
	bool kw_ok; /* the token so far is a keyword */
	char kw[SMTP_REPLY_KEYWORD_MAX + 1];
	struct smtp_reply reply;
};

/* Prepares p for the first reply. */
void smtp_reply_init(struct smtp_reply_parser *p);

/*
 * Reads bytes of buf until a reply is complete, the bytes run out or an
 * error is found; *used says how many were read (on SMTP_REPLY_OK, the
 * bytes after the reply's last line end are not). On SMTP_REPLY_OK the
 * reply is in p->reply until the next call, which starts a new reply.
 * Errors stick: every later call returns the same error and uses nothing.
 */
enum smtp_reply_rc smtp_reply_feed(struct smtp_reply_parser *p,
				   const uint8_t *buf, size_t len,
				   size_t *used);

/*
 * One-shot form: parses the first reply in buf into *out. *used as above;
 * SMTP_REPLY_RC_INCOMPLETE when buf ends inside the reply.
 */
enum smtp_reply_rc smtp_reply_parse(const uint8_t *buf, size_t len,
				    struct smtp_reply *out, size_t *used);

/* True when the reply has the keyword (give it in upper case). */
bool smtp_reply_has_keyword(const struct smtp_reply *r, const char *kw);

#endif
