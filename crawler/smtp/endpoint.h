/*
 * One endpoint probe: TCP to (address, port), then a sans-IO session up
 * to the end of its TLS handshake with SNI, QUIT/LOGOUT inside TLS. Port
 * 25 is the SMTP session (smtp.h) with STARTTLS; any other session comes
 * as an ops table (struct endpoint_ops: the client services of M12, SMTP,
 * IMAP or POP3 with STARTTLS or implicit TLS, whose session asks for the
 * handshake right after the connect). This file is the event plumbing
 * between the loop (conn.h: TCP, TLS over memory BIOs, timers) and the
 * session, which decides everything; it never sends a byte the session
 * did not ask for.
 */
#ifndef MXCRAWL_CRAWLER_ENDPOINT_H
#define MXCRAWL_CRAWLER_ENDPOINT_H

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "crawler/util/addr.h"
#include "crawler/smtp/smtp.h"
#include "crawler/smtp/conn.h"

struct endpoint_env;

/*
 * A session the plumbing can drive: the events of smtp.h's smtp_on_*()
 * with the session as an opaque object of `size` bytes, which the
 * endpoint allocates. init() gets the caller's `service` (what the ops
 * make of it is theirs) and returns 0 or a negative errno; free() is
 * called after any init, failed or not. Port 25's SMTP is the built-in
 * table (endpoint_probe()); the client services' is scan/clientep.h's.
 */
struct endpoint_ops {
	size_t size;
	int (*init)(void *s, int service, const struct endpoint_env *env);
	void (*free)(void *s);
	enum smtp_action (*on_connected)(void *s);
	enum smtp_action (*on_connect_failed)(void *s);
	enum smtp_action (*on_data)(void *s, const uint8_t *buf, size_t len);
	enum smtp_action (*on_eof)(void *s);
	enum smtp_action (*on_reset)(void *s);
	enum smtp_action (*on_timeout)(void *s, enum smtp_timer which);
	enum smtp_action (*on_tls_done)(void *s, bool ok, const char *reason);
	const uint8_t *(*output)(const void *s, size_t *len);
	unsigned (*stage_timeout_ms)(const void *s);
};

/* What a finished probe found. Valid during the callback only. */
struct endpoint_result {
	struct addr addr;
	int port;
	const char *sni;
	/* Port 25 (endpoint_probe()): the SMTP session, facts and
	 * transcript; NULL for a probe of other ops. */
	const struct smtp_session *session;
	/* The session of any ops (for port 25 the same as `session`), and
	 * the service the caller gave. */
	const void *state;
	int service;
	bool tls_done;		    /* a handshake completed */
	const struct tls_info *tls; /* version, cipher, chain, ... */
	enum conn_rc conn_rc;	    /* how the connection ended */
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

/* The same with the session of `ops`, initialised with `service`; the
 * per-IP cap, the tally and the deadline are shared with port 25's
 * probes. -EINVAL (no callback) when ops->init() refuses the service. */
int endpoint_probe_ops(const struct endpoint_env *env,
		       const struct endpoint_ops *ops, int service,
		       const struct addr *addr, int port, const char *sni,
		       endpoint_cb cb, void *arg);

#endif
