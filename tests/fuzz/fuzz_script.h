/*
 * The event script the session fuzz targets share (fuzz_smtp.c,
 * fuzz_imap.c, fuzz_pop3.c, fuzz_mailsess.c): after the target's own
 * first bytes, if any, each event is one byte, op = byte % 8:
 *
 *   0 data: the next byte is a length n, then n bytes received
 *   1 end of stream    2 reset           3 stage timer
 *   4 deadline         5 handshake ok    6 handshake failed
 *   7 connected
 *
 * and the checks every session's transcript must pass. Header only, so
 * that each target stays one file (tests/CMakeLists.txt).
 */
#ifndef MXCRAWL_TESTS_FUZZ_FUZZ_SCRIPT_H
#define MXCRAWL_TESTS_FUZZ_FUZZ_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crawler/mailproto/mailcore.h"
#include "crawler/smtp/smtp.h"

enum fuzz_op {
	FUZZ_DATA = 0,
	FUZZ_EOF,
	FUZZ_RESET,
	FUZZ_STAGE_TIMER,
	FUZZ_DEADLINE,
	FUZZ_TLS_OK,
	FUZZ_TLS_FAILED,
	FUZZ_CONNECTED,
};

/* One event of the script; buf and len for FUZZ_DATA (len may be 0). */
struct fuzz_event {
	enum fuzz_op op;
	const uint8_t *buf;
	size_t len;
};

/* The event at data[*i] of size bytes in all, into *ev; *i moves past it.
 * Returns false at the end of the script. */
static inline bool fuzz_next(const uint8_t *data, size_t size, size_t *i,
			     struct fuzz_event *ev)
{
	size_t n;

	if (*i >= size)
		return false;
	ev->op = (enum fuzz_op)(data[(*i)++] % 8);
	ev->buf = NULL;
	ev->len = 0;
	if (ev->op != FUZZ_DATA)
		return true;
	n = *i < size ? data[(*i)++] : 0;
	if (n > size - *i)
		n = size - *i;
	ev->buf = data + *i;
	ev->len = n;
	*i += n;
	return true;
}

/* The event for an IMAP or POP3 session (mailcore.h); a failed handshake
 * says "fuzz". */
static inline enum smtp_action fuzz_core_event(struct mail_core *c,
					       const struct fuzz_event *ev)
{
	switch (ev->op) {
	case FUZZ_DATA:
		return mail_core_on_data(c, ev->buf, ev->len);
	case FUZZ_EOF:
		return mail_core_on_input(c, MAIL_IN_EOF);
	case FUZZ_RESET:
		return mail_core_on_input(c, MAIL_IN_RESET);
	case FUZZ_STAGE_TIMER:
		return mail_core_on_input(c, MAIL_IN_STAGE_TIMEOUT);
	case FUZZ_DEADLINE:
		return mail_core_on_input(c, MAIL_IN_DEADLINE);
	case FUZZ_TLS_OK:
		return mail_core_on_tls_done(c, true, NULL);
	case FUZZ_TLS_FAILED:
		return mail_core_on_tls_done(c, false, "fuzz");
	default:
		return mail_core_on_input(c, MAIL_IN_CONNECTED);
	}
}

/* Aborts unless t is within its bounds and its segments tile its bytes
 * in order, each with a direction. */
static inline void fuzz_check_transcript(const struct smtp_transcript *t)
{
	size_t off = 0;

	if (t->len > SMTP_TRANSCRIPT_MAX || t->nseg > SMTP_TRANSCRIPT_SEGS)
		abort();
	for (size_t i = 0; i < t->nseg; i++) {
		if (t->seg[i].off != off || t->seg[i].len == 0 ||
		    t->seg[i].dir > SMTP_DIR_DISCARDED)
			abort();
		off += t->seg[i].len;
	}
	if (off != t->len || (t->dropped && !t->truncated))
		abort();
}

#endif
