/*
 * A scripted peer for the IMAP and POP3 sessions (crawler/mailproto/,
 * driven through mailcore.h), used by test_imap.c and test_pop3.c: it
 * answers one command at a time as the testbed's servers do, with the
 * greeting first (inside TLS with implicit TLS), and delivers what it
 * says whole, one byte per call, or in pieces of any size. It checks
 * what every session must keep to (a command only when all the peer said
 * was read; once the session said close, every event says close again;
 * no reader left behind); the protocol's answer() checks each command
 * and queues its answer.
 */
#ifndef MXCRAWL_TESTS_UNIT_MAILPEER_H
#define MXCRAWL_TESTS_UNIT_MAILPEER_H

#include <stdbool.h>
#include <stddef.h>

#include "crawler/mailproto/mailcore.h"

/* What the peer does once it has nothing left to say. */
enum peer_end {
	E_TIMEOUT = 0, /* it goes quiet: the stage timer fires */
	E_EOF,	       /* it closes */
	E_RESET,       /* the connection breaks */
	E_DEADLINE,    /* quiet until the total deadline */
};

struct mail_peer {
	struct mail_core *c; /* the session's core */
	const char *name;    /* the script's, in failed checks */
	const void *script;  /* the protocol's script, for answer() */
	/* The session sent cmd (its CRLF cut): check it and queue the
	 * answer with mail_peer_queue(). */
	void (*answer)(struct mail_peer *p, const char *cmd);
	char cmds[256]; /* commands sent, ","-joined, "+" inside TLS */
	char queue[16384];
	size_t qlen, qoff;
	bool closed;
};

/* Queues bytes (NULL: none) for the session to read. */
void mail_peer_queue(struct mail_peer *p, const char *bytes);

/*
 * Runs the session of p->c, freshly initialised, from the connection
 * until it says close: greeting is the server's first bytes, tls_fails
 * fails the handshake ("alert"), end is what the peer does when it has
 * nothing left to say, chunk the bytes per call (0: all at once).
 */
void mail_peer_run(struct mail_peer *p, const char *greeting, bool tls_fails,
		   enum peer_end end, size_t chunk);

/* Checks what the session learnt and did against what a script expects:
 * the commands sent (p->cmds), the outcome, the greeting fact (NULL:
 * unseen), STARTTLS offered, the injection, the stripping (NULL: none);
 * tls_ok exactly with the outcome tls_ok. */
void mail_peer_check(const struct mail_peer *p, const char *cmds,
		     const char *outcome, const char *greeting,
		     enum smtp_fact starttls_offered, enum smtp_fact injection,
		     const char *stripping);

#endif
