/*
 * One endpoint probe: TCP to (address, port), SMTP up to the end of the
 * STARTTLS handshake with SNI, QUIT inside TLS. This file is the event
 * plumbing between the loop (conn.h: TCP, TLS over memory BIOs, timers) and
 * the SMTP session (smtp.h), which decides everything; it never sends a
 * byte the session did not ask for.
 */
#ifndef MXCRAWL_CRAWLER_ENDPOINT_H
#define MXCRAWL_CRAWLER_ENDPOINT_H

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "crawler/util/addr.h"
#include "crawler/smtp/smtp.h"
#include "crawler/smtp/conn.h"

/* What a finished probe found. Valid during the callback only. */
struct endpoint_result {
	struct addr addr;
	int port;
	const char *sni;
	const struct smtp_session *session; /* facts and transcript */
	bool tls_done;			    /* a handshake completed */
	const struct tls_info *tls;	    /* version, cipher, chain, ... */
	enum conn_rc conn_rc;		    /* how the connection ended */
	unsigned elapsed_ms;
};

typedef void (*endpoint_cb)(void *arg, const struct endpoint_result *res);

/*
 * The per-IP cap: at most `max` probes at once to one address in the
 * whole process, however many loops probe. One `struct ipcap` is shared by
 * all loops; each loop reaches it through a `struct ipcap_loop` of its own
 * (its wake-up handle). Probes beyond the cap wait in one FIFO per address,
 * across loops, and start on their own loop when a slot is theirs.
 */
struct ipcap;
struct ipcap_loop;

/*
 * What one loop's probes are doing, for a progress line printed by
 * another thread: what the tail of a scan waits for. The list is the
 * loop's own; the two counters are published for any thread to read.
 * Every probe of a loop has the same total deadline and they start in
 * order, so the youngest probe still running has the latest deadline.
 */
struct endpoint_tally {
	struct endpoint *oldest, *youngest; /* probes running, by start */
	_Atomic unsigned running;
	/* The youngest running probe's deadline, in uv_hrtime() ms; 0 when
	 * none runs. */
	_Atomic uint64_t last_deadline_ms;
};

struct endpoint_env {
	uv_loop_t *loop;
	SSL_CTX *tls;
	const char *ehlo_name;
	struct smtp_limits limits;
	/* This loop's door to the per-IP cap (NULL: no cap). */
	struct ipcap_loop *cap;
	/* This loop's running probes (NULL: not counted). */
	struct endpoint_tally *tally;
};

/* A cap of `max` concurrent probes per address (0 counts as 1). */
struct ipcap *ipcap_new(unsigned max);
/* Call once every loop's door is closed and its loop has run the close. */
void ipcap_free(struct ipcap *c);
/* Probes waiting for a free slot right now, all loops. */
size_t ipcap_queued(struct ipcap *c);
/* Addresses with a probe running or waiting (entries of the table). */
size_t ipcap_addresses(struct ipcap *c);
/* Opens the door of `loop` (on the loop's thread). NULL: out of memory. */
struct ipcap_loop *ipcap_attach(struct ipcap *c, uv_loop_t *loop);
/* Closes a door (on its loop's thread) once no probe of its loop runs or
 * waits; the memory goes when the loop runs the handle's close. */
void ipcap_detach(struct ipcap_loop *l);

/*
 * Probes addr:port with SNI `sni`. The callback runs exactly once, on the
 * loop, after every handle is closed. Returns 0, or (no callback)
 * -ENOMEM, or -EINVAL when env's EHLO name is not one
 * (smtp_session_init()).
 */
int endpoint_probe(const struct endpoint_env *env, const struct addr *addr,
		   int port, const char *sni, endpoint_cb cb, void *arg);

#endif
