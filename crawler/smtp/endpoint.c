/*
 * The per-IP cap (ipcap_*), shared by the worker loops of a process.
 *
 * Why a mutex: the cap is one count per address for the whole process,
 * and the loops run on threads of their own, so the table of address ->
 * (probes running, FIFO of probes waiting) is shared state. One mutex
 * guards all of it; it is held only to look up, count and link (a hash
 * probe, maybe one allocation), never across I/O or a callback. The
 * common case, an address with a free slot, takes it once to count the
 * slot and once more when the probe ends.
 *
 * Who owns what:
 * - struct ipcap (shared, under mu): the table; each address's entry with
 *   its running count and its waiters, across loops, oldest first; each
 *   door's `ready` list. An entry goes as soon as nothing runs or waits.
 * - struct ipcap_loop (one per loop, the loop's "door"): its uv_async_t
 *   and `waiting` (the probes of this loop queued or granted but not yet
 *   started; touched only on the loop's thread, the async handle is
 *   referenced while it is > 0 so that the loop lives on for them).
 * - a probe: runs, and ends, on the loop that asked for it.
 *
 * A slot passes from an ending probe straight to the oldest waiter of its
 * address (the count does not drop), so a newcomer cannot overtake a
 * waiter (FIFO per address). A waiter of the ending probe's loop starts
 * at once; one of another loop goes to that loop's `ready` list and the
 * loop is woken (uv_async_send, under mu: the door cannot close while it
 * has a waiter, and the waiter leaves only when that loop takes mu to
 * drain `ready`, after the send).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/smtp/endpoint.h"

/* Buckets of the per-address table: it holds only the addresses being
 * probed or waited for, at most the domains in flight. */
#define IPCAP_BUCKETS 1024

/* A probe waiting for its address's slot. */
struct ipwait {
	const struct endpoint_env *env; /* its loop's */
	struct addr addr;
	char sni[256];
	int port;
	const struct endpoint_ops *ops;
	int service;
	endpoint_cb cb;
	void *arg;
	struct ipwait *next;
};

struct ipslot {
	struct addr addr;
	unsigned active; /* running, or granted and about to start */
	struct ipwait *head, *tail;
	struct ipslot *next;
};

struct ipcap {
	pthread_mutex_t mu; /* guards all below and every door's ready list */
	unsigned max;
	size_t nbuckets, count, queued;
	struct ipslot **buckets;
};

struct ipcap_loop {
	struct ipcap *cap;
	uv_async_t async;
	struct ipwait *ready, *ready_tail; /* granted: start here (cap->mu) */
	size_t waiting;			   /* this loop's thread only */
};

static int start_probe(const struct endpoint_env *env,
		       const struct endpoint_ops *ops, int service,
		       const struct addr *addr, int port, const char *sni,
		       endpoint_cb cb, void *arg);

struct endpoint {
	const struct endpoint_env *env;
	struct conn *conn;
	uv_timer_t stage;
	uv_timer_t deadline;
	int open_handles; /* timers and conn still to be closed */
	bool finishing;
	struct addr addr;
	int port;
	char sni[256];
	endpoint_cb cb;
	void *arg;
	uint64_t start;
	uint64_t deadline_at;		  /* uv_hrtime() ms */
	struct endpoint *older, *younger; /* env->tally's list */
	enum conn_rc conn_rc;
	bool tls_done;
	struct tls_info tls; /* a copy; chain DER owned here */
	const struct endpoint_ops *ops;
	int service;
	void *s; /* ops->size bytes, after the struct */
};

/*
 * Port 25's ops: the SMTP session with STARTTLS. The wrappers only give
 * the opaque pointer its type (calling smtp_on_*() through a pointer of
 * another type would be undefined).
 */
static int mx_init(void *s, int service, const struct endpoint_env *env)
{
	(void)service;
	return smtp_session_init(s, env->ehlo_name, &env->limits);
}

static void mx_free(void *s)
{
	smtp_session_free(s);
}

static enum smtp_action mx_connected(void *s)
{
	return smtp_on_connected(s);
}

static enum smtp_action mx_connect_failed(void *s)
{
	return smtp_on_connect_failed(s);
}

static enum smtp_action mx_data(void *s, const uint8_t *buf, size_t len)
{
	return smtp_on_data(s, buf, len);
}

static enum smtp_action mx_eof(void *s)
{
	return smtp_on_eof(s);
}

static enum smtp_action mx_reset(void *s)
{
	return smtp_on_reset(s);
}

static enum smtp_action mx_timeout(void *s, enum smtp_timer which)
{
	return smtp_on_timeout(s, which);
}

static enum smtp_action mx_tls_done(void *s, bool ok, const char *reason)
{
	return smtp_on_tls_done(s, ok, reason);
}

static const uint8_t *mx_output(const void *s, size_t *len)
{
	return smtp_session_output(s, len);
}

static unsigned mx_stage_ms(const void *s)
{
	return smtp_session_stage_timeout_ms(s);
}

static const struct endpoint_ops mx_ops = {
	.size = sizeof(struct smtp_session),
	.init = mx_init,
	.free = mx_free,
	.on_connected = mx_connected,
	.on_connect_failed = mx_connect_failed,
	.on_data = mx_data,
	.on_eof = mx_eof,
	.on_reset = mx_reset,
	.on_timeout = mx_timeout,
	.on_tls_done = mx_tls_done,
	.output = mx_output,
	.stage_timeout_ms = mx_stage_ms,
};

/* The result's port 25 session, when these are port 25's ops. */
static const struct smtp_session *smtp_of(const struct endpoint_ops *ops,
					  const void *s)
{
	return ops == &mx_ops ? s : NULL;
}

static void handle(struct endpoint *ep, enum smtp_action act);

static void tally_publish(struct endpoint_tally *t)
{
	atomic_store(&t->last_deadline_ms,
		     t->youngest ? t->youngest->deadline_at : 0);
}

static void tally_add(struct endpoint *ep)
{
	struct endpoint_tally *t = ep->env->tally;
	if (!t)
		return;
	ep->deadline_at = uv_hrtime() / 1000000 + ep->env->limits.deadline_ms;
	ep->older = t->youngest;
	if (t->youngest)
		t->youngest->younger = ep;
	else
		t->oldest = ep;
	t->youngest = ep;
	atomic_fetch_add(&t->running, 1);
	tally_publish(t);
}

static void tally_remove(struct endpoint *ep)
{
	struct endpoint_tally *t = ep->env->tally;
	if (!t)
		return;
	if (ep->older)
		ep->older->younger = ep->younger;
	else
		t->oldest = ep->younger;
	if (ep->younger)
		ep->younger->older = ep->older;
	else
		t->youngest = ep->older;
	atomic_fetch_sub(&t->running, 1);
	tally_publish(t);
}

static void release(struct endpoint *ep)
{
	if (--ep->open_handles > 0)
		return;
	tally_remove(ep);
	struct endpoint_result res = {
		.addr = ep->addr,
		.port = ep->port,
		.sni = ep->sni,
		.session = smtp_of(ep->ops, ep->s),
		.state = ep->s,
		.service = ep->service,
		.tls_done = ep->tls_done,
		.tls = &ep->tls,
		.conn_rc = ep->conn_rc,
		.elapsed_ms = (unsigned)(uv_now(ep->env->loop) - ep->start),
	};
	ep->cb(ep->arg, &res);
	ep->ops->free(ep->s);
	for (size_t i = 0; i < ep->tls.nchain; i++)
		OPENSSL_free(ep->tls.chain[i]);
	free(ep->tls.chain);
	free(ep->tls.chain_len);
	free(ep);
}

static void on_timer_closed(uv_handle_t *h)
{
	release(h->data);
}

static void on_conn_closed(void *arg)
{
	release(arg);
}

static void finish(struct endpoint *ep)
{
	if (ep->finishing)
		return;
	ep->finishing = true;
	uv_close((uv_handle_t *)&ep->stage, on_timer_closed);
	uv_close((uv_handle_t *)&ep->deadline, on_timer_closed);
	if (ep->conn)
		conn_close(ep->conn, false);
	else
		release(ep); /* the conn's share: it never existed */
}

static void on_stage_timeout(uv_timer_t *t)
{
	struct endpoint *ep = t->data;
	handle(ep, ep->ops->on_timeout(ep->s, SMTP_TIMER_STAGE));
}

static void on_deadline(uv_timer_t *t)
{
	struct endpoint *ep = t->data;
	handle(ep, ep->ops->on_timeout(ep->s, SMTP_TIMER_DEADLINE));
}

/* Carries out what the session asked for, then re-arms its stage timer. */
static void handle(struct endpoint *ep, enum smtp_action act)
{
	if (ep->finishing)
		return;
	switch (act) {
	case SMTP_ACT_SEND: {
		size_t len;
		const uint8_t *out = ep->ops->output(ep->s, &len);
		if (conn_peer_closed(ep->conn)) {
			handle(ep, ep->ops->on_eof(ep->s));
			return;
		}
		if (conn_write(ep->conn, out, len) != 0) {
			handle(ep, ep->ops->on_reset(ep->s));
			return;
		}
		break;
	}
	case SMTP_ACT_START_TLS:
		if (conn_start_tls(ep->conn, ep->env->tls, ep->sni) != 0) {
			handle(ep,
			       ep->ops->on_tls_done(ep->s, false, "tls_setup"));
			return;
		}
		break;
	case SMTP_ACT_CLOSE:
		finish(ep);
		return;
	case SMTP_ACT_WAIT:
	case SMTP_ACT_LAST:
		break;
	}
	if (ep->finishing)
		return;
	unsigned ms = ep->ops->stage_timeout_ms(ep->s);
	if (ms)
		uv_timer_start(&ep->stage, on_stage_timeout, ms, 0);
	else
		uv_timer_stop(&ep->stage);
}

static void on_connect(void *arg, enum conn_rc rc)
{
	struct endpoint *ep = arg;

	ep->conn_rc = rc;
	if (rc == CONN_RESET) {
		/* A reset (not a refusal) means the handshake completed and
		 * the peer aborted at once: "RST on accept". */
		enum smtp_action act = ep->ops->on_connected(ep->s);
		if (act != SMTP_ACT_CLOSE)
			act = ep->ops->on_reset(ep->s);
		handle(ep, act);
	} else if (rc != CONN_OK) {
		handle(ep, ep->ops->on_connect_failed(ep->s));
	} else {
		handle(ep, ep->ops->on_connected(ep->s));
	}
}

static void on_data(void *arg, const uint8_t *buf, size_t len)
{
	struct endpoint *ep = arg;
	handle(ep, ep->ops->on_data(ep->s, buf, len));
}

static void on_end(void *arg, enum conn_rc rc)
{
	struct endpoint *ep = arg;

	ep->conn_rc = rc;
	if (rc == CONN_EOF)
		handle(ep, ep->ops->on_eof(ep->s));
	else
		handle(ep, ep->ops->on_reset(ep->s));
}

static void on_tls(void *arg, enum conn_rc rc, const struct tls_info *info)
{
	struct endpoint *ep = arg;
	char reason[SMTP_TLS_REASON_MAX];

	ep->tls = *info;
	ep->tls.nchain = 0;
	ep->tls.chain = NULL; /* the conn's arrays: taken below */
	ep->tls.chain_len = NULL;
	/* OpenSSL's parsed chain lives only during this call. */
	ep->tls.peer_chain = NULL;
	if (rc == CONN_OK) {
		ep->tls_done = true;
		/* Keep the chain beyond the connection's life: the conn's
		 * own arrays, not a copy. */
		conn_take_chain(ep->conn, &ep->tls);
		handle(ep, ep->ops->on_tls_done(ep->s, true, NULL));
		return;
	}
	ep->conn_rc = rc;
	/* The kind, then OpenSSL's reason text ("error:0A000410:SSL
	 * routines::sslv3 alert handshake failure" → the part after the
	 * last colon), e.g. "tls_alert: sslv3 alert handshake failure". */
	const char *why = strrchr(info->error, ':');
	why = why && why[1] ? why + 1 : info->error;
	if (*why)
		snprintf(reason, sizeof reason, "%.16s: %.44s", conn_rc_str(rc),
			 why);
	else
		snprintf(reason, sizeof reason, "%s", conn_rc_str(rc));
	handle(ep, ep->ops->on_tls_done(ep->s, false, reason));
}

static const struct conn_callbacks callbacks = {
	.on_connect = on_connect,
	.on_data = on_data,
	.on_end = on_end,
	.on_tls = on_tls,
	.on_closed = on_conn_closed,
};

struct ipcap *ipcap_new(unsigned max)
{
	struct ipcap *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->max = max ? max : 1;
	c->nbuckets = IPCAP_BUCKETS;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (!c->buckets || pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	return c;
}

void ipcap_free(struct ipcap *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct ipslot *s = c->buckets[i];
		while (s) {
			struct ipslot *next = s->next;
			while (s->head) {
				struct ipwait *w = s->head;
				s->head = w->next;
				free(w);
			}
			free(s);
			s = next;
		}
	}
	pthread_mutex_destroy(&c->mu);
	free(c->buckets);
	free(c);
}

size_t ipcap_queued(struct ipcap *c)
{
	size_t n = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->queued;
	pthread_mutex_unlock(&c->mu);
	return n;
}

size_t ipcap_addresses(struct ipcap *c)
{
	size_t n = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->count;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void start_granted(struct ipcap_loop *l, struct ipwait *w);

static void on_door_async(uv_async_t *a)
{
	struct ipcap_loop *l = a->data;
	struct ipwait *got;

	pthread_mutex_lock(&l->cap->mu);
	got = l->ready;
	l->ready = l->ready_tail = NULL;
	pthread_mutex_unlock(&l->cap->mu);
	start_granted(l, got);
}

struct ipcap_loop *ipcap_attach(struct ipcap *c, uv_loop_t *loop)
{
	struct ipcap_loop *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->cap = c;
	if (uv_async_init(loop, &l->async, on_door_async) != 0) {
		free(l);
		return NULL;
	}
	l->async.data = l;
	/* Referenced only while probes of this loop wait. */
	uv_unref((uv_handle_t *)&l->async);
	return l;
}

static void on_door_closed(uv_handle_t *h)
{
	free(h->data);
}

void ipcap_detach(struct ipcap_loop *l)
{
	if (l)
		uv_close((uv_handle_t *)&l->async, on_door_closed);
}

static size_t addr_hash(const struct addr *a, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < sizeof a->bytes; i++)
		h = (h ^ a->bytes[i]) * 1099511628211ULL;
	return (size_t)(h & (n - 1));
}

/* The link to the entry of `a`, or to the NULL ending its chain (mu). */
static struct ipslot **slot_link(struct ipcap *c, const struct addr *a)
{
	struct ipslot **sp = &c->buckets[addr_hash(a, c->nbuckets)];
	for (; *sp; sp = &(*sp)->next)
		if ((*sp)->addr.family == a->family &&
		    memcmp((*sp)->addr.bytes, a->bytes, sizeof a->bytes) == 0)
			break;
	return sp;
}

static void waiting_less(struct ipcap_loop *l)
{
	if (--l->waiting == 0)
		uv_unref((uv_handle_t *)&l->async);
}

/*
 * Frees one slot of `a` (a probe of loop `l` ended, or never started) and
 * hands it on to the oldest waiter: one of another loop goes to its
 * loop's ready list, that loop is woken; one of `l` is returned (at most
 * one: one slot was freed) for the caller to start on this loop.
 */
static struct ipwait *release_slot(struct ipcap_loop *l, const struct addr *a)
{
	struct ipcap *c = l->cap;
	struct ipwait *mine = NULL;

	pthread_mutex_lock(&c->mu);
	struct ipslot **sp = slot_link(c, a);
	struct ipslot *s = *sp;
	if (s) {
		s->active--;
		while (s->head && s->active < c->max) {
			struct ipwait *w = s->head;
			s->head = w->next;
			if (!s->head)
				s->tail = NULL;
			w->next = NULL;
			c->queued--;
			s->active++;
			struct ipcap_loop *to = w->env->cap;
			if (to == l && !mine) {
				mine = w;
				continue;
			}
			if (to->ready_tail)
				to->ready_tail->next = w;
			else
				to->ready = w;
			to->ready_tail = w;
			uv_async_send(&to->async);
		}
		if (s->active == 0 && !s->head) {
			*sp = s->next;
			c->count--;
			free(s);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return mine;
}

/* Starts waiters granted a slot, on their own loop `l`, in order. */
static void start_granted(struct ipcap_loop *l, struct ipwait *w)
{
	while (w) {
		struct ipwait *next = w->next;
		waiting_less(l);
		if (start_probe(w->env, w->ops, w->service, &w->addr, w->port,
				w->sni, w->cb, w->arg) != 0) {
			/* Out of memory: report it as a failed connect so
			 * that the waiting domain is not stuck, and pass the
			 * slot on. */
			struct ipwait *again = release_slot(l, &w->addr);
			if (again) {
				again->next = next;
				next = again;
			}
			struct tls_info none = { 0 };
			/* Port 25's session on the stack, as before the ops:
			 * its callers read r->session unconditionally. */
			struct smtp_session mx_ss;
			void *ss = w->ops == &mx_ops ? (void *)&mx_ss
						     : calloc(1, w->ops->size);
			if (ss && w->ops->init(ss, w->service, w->env) == 0)
				w->ops->on_connect_failed(ss);
			struct endpoint_result res = {
				.addr = w->addr,
				.port = w->port,
				.sni = w->sni,
				.session = ss ? smtp_of(w->ops, ss) : NULL,
				.state = ss,
				.service = w->service,
				.tls = &none,
				.conn_rc = CONN_NO_MEMORY,
			};
			/* No memory even for another ops' session: the
			 * callback gets none (state NULL) and must cope. */
			w->cb(w->arg, &res);
			if (ss)
				w->ops->free(ss);
			if (ss != &mx_ss)
				free(ss);
		}
		free(w);
		w = next;
	}
}

/* A capped probe's own callback: frees the slot, then starts the next
 * probe of this loop waiting for this address, if the slot is its. */
struct capped {
	const struct endpoint_env *env;
	endpoint_cb cb;
	void *arg;
};

static void on_capped_done(void *arg, const struct endpoint_result *r)
{
	struct capped *cp = arg;
	struct ipcap_loop *l = cp->env->cap;
	/* Before the callback: it may end the loop's work and close the
	 * door, after which no other loop may be handed a slot through it;
	 * a waiter of this loop keeps the door open. */
	struct ipwait *next = release_slot(l, &r->addr);

	cp->cb(cp->arg, r);
	free(cp);
	start_granted(l, next);
}

int endpoint_probe(const struct endpoint_env *env, const struct addr *addr,
		   int port, const char *sni, endpoint_cb cb, void *arg)
{
	return endpoint_probe_ops(env, &mx_ops, 0, addr, port, sni, cb, arg);
}

int endpoint_probe_ops(const struct endpoint_env *env,
		       const struct endpoint_ops *ops, int service,
		       const struct addr *addr, int port, const char *sni,
		       endpoint_cb cb, void *arg)
{
	struct ipcap_loop *l = env->cap;

	if (!l)
		return start_probe(env, ops, service, addr, port, sni, cb, arg);
	struct ipcap *c = l->cap;
	pthread_mutex_lock(&c->mu);
	struct ipslot **sp = slot_link(c, addr);
	struct ipslot *s = *sp;
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s) {
			pthread_mutex_unlock(&c->mu);
			return -ENOMEM;
		}
		s->addr = *addr;
		*sp = s;
		c->count++;
	}
	if (s->active < c->max && !s->head) {
		s->active++;
		pthread_mutex_unlock(&c->mu);
		int rc =
		    start_probe(env, ops, service, addr, port, sni, cb, arg);
		if (rc != 0) {
			struct ipwait *next = release_slot(l, addr);
			start_granted(l, next);
		}
		return rc;
	}
	struct ipwait *w = calloc(1, sizeof *w);
	if (!w) {
		pthread_mutex_unlock(&c->mu);
		return -ENOMEM;
	}
	w->env = env;
	w->addr = *addr;
	snprintf(w->sni, sizeof w->sni, "%s", sni ? sni : "");
	w->port = port;
	w->ops = ops;
	w->service = service;
	w->cb = cb;
	w->arg = arg;
	if (s->tail)
		s->tail->next = w;
	else
		s->head = w;
	s->tail = w;
	c->queued++;
	pthread_mutex_unlock(&c->mu);
	if (l->waiting++ == 0)
		uv_ref((uv_handle_t *)&l->async);
	return 0;
}

static int start_probe(const struct endpoint_env *env,
		       const struct endpoint_ops *ops, int service,
		       const struct addr *addr, int port, const char *sni,
		       endpoint_cb cb, void *arg)
{
	struct capped *cp = NULL;

	if (env->cap) {
		cp = malloc(sizeof *cp);
		if (!cp)
			return -ENOMEM;
		cp->env = env;
		cp->cb = cb;
		cp->arg = arg;
		cb = on_capped_done;
		arg = cp;
	}
	/* The session after the struct, aligned for anything. */
	size_t at = (sizeof(struct endpoint) + _Alignof(max_align_t) - 1) /
		    _Alignof(max_align_t) * _Alignof(max_align_t);
	struct endpoint *ep = calloc(1, at + ops->size);

	if (!ep) {
		free(cp);
		return -ENOMEM;
	}
	ep->s = (char *)ep + at;
	ep->ops = ops;
	ep->service = service;
	ep->env = env;
	ep->addr = *addr;
	ep->port = port;
	snprintf(ep->sni, sizeof ep->sni, "%s", sni ? sni : "");
	ep->cb = cb;
	ep->arg = arg;
	ep->start = uv_now(env->loop);
	int rc = ops->init(ep->s, service, env);
	if (rc != 0) {
		ops->free(ep->s);
		free(ep);
		free(cp);
		return rc;
	}
	uv_timer_init(env->loop, &ep->stage);
	uv_timer_init(env->loop, &ep->deadline);
	ep->stage.data = ep;
	ep->deadline.data = ep;
	ep->open_handles = 3; /* two timers and the connection */
	uv_timer_start(&ep->deadline, on_deadline, env->limits.deadline_ms, 0);
	tally_add(ep);
	ep->conn = conn_connect(env->loop, addr, port, &callbacks, ep);
	if (!ep->conn) {
		ep->conn_rc = CONN_ERROR;
		handle(ep, ep->ops->on_connect_failed(ep->s));
		return 0;
	}
	/* The connect stage's timer. With implicit TLS the session asks
	 * for the handshake (SNI = ep->sni) as soon as it is connected. */
	handle(ep, SMTP_ACT_WAIT);
	return 0;
}
