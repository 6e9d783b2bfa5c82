/*
 * Lines of the text mail protocols (IMAP, POP3) read from a byte stream,
 * as a pure streaming reader: no I/O, no allocation, no globals. The
 * caller feeds what the network delivered and gets one complete line at a
 * time with the number of bytes used, so that bytes after a line stay
 * visible (after the OK to STARTTLS/STLS they are an injection and must
 * never reach TLS).
 *
 * A line ends in CRLF or, because real servers send it, in LF alone
 * (flagged bare_lf). The line is stored without its line end, raw (any
 * byte, NUL included: never a C string).
 *
 * IMAP literals (RFC 9051 §4.3): a line that ends in "{n}" or "{n+}"
 * announces n raw bytes, after which the same line goes on. The bytes
 * are never trusted: with literals on, n up to MAIL_LITERAL_MAX is
 * skipped (counted in raw, not stored; the line keeps its "{n}" text and
 * goes on after it) and a larger n fails the line with
 * literal_too_large; at most MAIL_LITERALS_MAX literals per line. Whether
 * a literal may appear where it did is the IMAP parser's judgement
 * (imap.h: only in untagged data we do not read). With literals off
 * (POP3), "{n}" is text.
 *
 * Bounds: a line is at most MAIL_LINE_MAX stored bytes (a CR before the
 * LF counts); one byte more fails it with line_too_long, sticky.
 */
#ifndef MXCRAWL_CRAWLER_MAILPROTO_MAILLINE_H
#define MXCRAWL_CRAWLER_MAILPROTO_MAILLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stored bytes of one line. RFC 9051 §4 asks clients to accept lines of
 * 8192 octets; POP3 (RFC 2449 §4) caps a response line at 512. */
#define MAIL_LINE_MAX 8192
/* Largest literal skipped: no response we read carries one, so this is
 * only room for a harmless untagged datum (an ALERT text, an ID). */
#define MAIL_LITERAL_MAX 4096
/* Literals in one line. */
#define MAIL_LITERALS_MAX 8
/* Digits of a literal's length: more than "4096" needs is refused. */
#define MAIL_LITERAL_DIGITS_MAX 9

enum mail_line_rc {
	MAIL_LINE_OK = 0,		/* a complete line is in r->line */
	MAIL_LINE_RC_INCOMPLETE,	/* every byte used, the line goes on */
	MAIL_LINE_RC_TOO_LONG,		/* over MAIL_LINE_MAX */
	MAIL_LINE_RC_LITERAL_TOO_LARGE, /* {n} over MAIL_LITERAL_MAX, or
					 * over MAIL_LITERALS_MAX of them */
	MAIL_LINE_RC_LAST
};

/* Stable snake_case name; "unknown" when out of range. */
const char *mail_line_rc_str(enum mail_line_rc rc);

/* Streaming state, about 8 KiB. mail_line_init(); no _free needed. */
struct mail_line_reader {
	enum mail_line_rc rc; /* sticky once an error */
	bool literals;	      /* IMAP: "{n}" at a line's end is a literal */
	bool done;	     /* a line is complete: the next feed starts anew */
	bool pending_cr;     /* the last stored byte was CR */
	bool bare_lf;	     /* the complete line ended in LF alone */
	size_t literal_left; /* bytes of a literal still to skip */
	size_t nliterals;    /* literals in the line so far */
	size_t seg_start;    /* where the text after the last literal
			      * starts in line[] */
	size_t raw;	     /* bytes of the line read, line end and
			      * literals included */
	size_t len;	     /* bytes in line[] */
	uint8_t line[MAIL_LINE_MAX];
};

/* Prepares r for the first line; literals as above. */
void mail_line_init(struct mail_line_reader *r, bool literals);

/*
 * Reads bytes of buf until a line is complete, the bytes run out or an
 * error is found; *used says how many were read. On MAIL_LINE_OK the line
 * is in r->line[0..r->len) until the next call, which starts a new one.
 * Errors stick: later calls return the error and use nothing.
 */
enum mail_line_rc mail_line_feed(struct mail_line_reader *r, const uint8_t *buf,
				 size_t len, size_t *used);

/* True while no byte of a next line was read (a reader that can be
 * dropped without losing anything). */
bool mail_line_idle(const struct mail_line_reader *r);

#endif
