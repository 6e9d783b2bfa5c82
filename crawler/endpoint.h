/*
 * One endpoint probe: TCP to (address, port), SMTP up to the end of the
 * STARTTLS handshake with SNI, QUIT inside TLS. This file is the event
 * plumbing between the loop (tls.h: TCP, TLS over memory BIOs, timers) and
 * the SMTP session (smtp.h), which decides everything; it never sends a
 * byte the session did not ask for.
 */
#ifndef MXCRAWL_CRAWLER_ENDPOINT_H
#define MXCRAWL_CRAWLER_ENDPOINT_H

#include <stdint.h>

#include <uv.h>

#include "crawler/addrpolicy.h"
#include "crawler/smtp.h"
#include "crawler/tls.h"

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

struct ipcap;

struct endpoint_env {
	uv_loop_t *loop;
	SSL_CTX *tls;
	const char *ehlo_name;
	struct smtp_limits limits;
	/* Per-IP concurrency cap of this loop (NULL: none); probes beyond
	 * it wait in a queue per address. */
	struct ipcap *cap;
};

/* A cap of `max` concurrent probes per address. */
struct ipcap *ipcap_new(unsigned max);
void ipcap_free(struct ipcap *c);
/* Probes waiting for a free slot right now. */
size_t ipcap_queued(const struct ipcap *c);

/*
 * Probes addr:port with SNI `sni`. The callback runs exactly once, on the
 * loop, after every handle is closed. Returns 0, or -1 when out of memory
 * (no callback).
 */
int endpoint_probe(const struct endpoint_env *env, const struct addr *addr,
		   int port, const char *sni, endpoint_cb cb, void *arg);

#endif
