#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/endpoint.h"

/* Initial buckets of the per-address table; it doubles as it fills. */
#define IPCAP_BUCKETS 1024

/* A probe waiting for its address's slot. */
struct ipwait {
	const struct endpoint_env *env;
	char sni[256];
	int port;
	endpoint_cb cb;
	void *arg;
	struct ipwait *next;
};

struct ipslot {
	struct addr addr;
	unsigned active;
	struct ipwait *head, *tail;
	struct ipslot *next;
};

struct ipcap {
	unsigned max;
	size_t nbuckets, count, queued;
	struct ipslot **buckets;
};

static int start_probe(const struct endpoint_env *env, const struct addr *addr,
		       int port, const char *sni, endpoint_cb cb, void *arg);

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
	enum conn_rc conn_rc;
	bool tls_done;
	struct tls_info tls; /* a copy; chain DER owned here */
	struct smtp_session s;
};

static void handle(struct endpoint *ep, enum smtp_action act);

static void release(struct endpoint *ep)
{
	if (--ep->open_handles > 0)
		return;
	struct endpoint_result res = {
		.addr = ep->addr,
		.port = ep->port,
		.sni = ep->sni,
		.session = &ep->s,
		.tls_done = ep->tls_done,
		.tls = &ep->tls,
		.conn_rc = ep->conn_rc,
		.elapsed_ms = (unsigned)(uv_now(ep->env->loop) - ep->start),
	};
	ep->cb(ep->arg, &res);
	smtp_session_free(&ep->s);
	for (size_t i = 0; i < ep->tls.nchain; i++)
		free(ep->tls.chain[i]);
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
	handle(ep, smtp_on_timeout(&ep->s, SMTP_TIMER_STAGE));
}

static void on_deadline(uv_timer_t *t)
{
	struct endpoint *ep = t->data;
	handle(ep, smtp_on_timeout(&ep->s, SMTP_TIMER_DEADLINE));
}

/* Carries out what the session asked for, then re-arms its stage timer. */
static void handle(struct endpoint *ep, enum smtp_action act)
{
	if (ep->finishing)
		return;
	switch (act) {
	case SMTP_ACT_SEND: {
		size_t len;
		const uint8_t *out = smtp_session_output(&ep->s, &len);
		if (conn_peer_closed(ep->conn)) {
			handle(ep, smtp_on_eof(&ep->s));
			return;
		}
		if (conn_write(ep->conn, out, len) != 0) {
			handle(ep, smtp_on_reset(&ep->s));
			return;
		}
		break;
	}
	case SMTP_ACT_START_TLS:
		if (conn_start_tls(ep->conn, ep->env->tls, ep->sni) != 0) {
			handle(ep,
			       smtp_on_tls_done(&ep->s, false, "tls_setup"));
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
	unsigned ms = smtp_session_stage_timeout_ms(&ep->s);
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
		enum smtp_action act = smtp_on_connected(&ep->s);
		if (act != SMTP_ACT_CLOSE)
			act = smtp_on_reset(&ep->s);
		handle(ep, act);
	} else if (rc != CONN_OK) {
		handle(ep, smtp_on_connect_failed(&ep->s));
	} else {
		handle(ep, smtp_on_connected(&ep->s));
	}
}

static void on_data(void *arg, const uint8_t *buf, size_t len)
{
	struct endpoint *ep = arg;
	handle(ep, smtp_on_data(&ep->s, buf, len));
}

static void on_end(void *arg, enum conn_rc rc)
{
	struct endpoint *ep = arg;

	ep->conn_rc = rc;
	if (rc == CONN_EOF)
		handle(ep, smtp_on_eof(&ep->s));
	else
		handle(ep, smtp_on_reset(&ep->s));
}

static void on_tls(void *arg, enum conn_rc rc, const struct tls_info *info)
{
	struct endpoint *ep = arg;
	char reason[SMTP_TLS_REASON_MAX];

	ep->tls = *info;
	ep->tls.nchain = 0;
	/* OpenSSL's parsed chain lives only during this call. */
	ep->tls.peer_chain = NULL;
	if (rc == CONN_OK) {
		ep->tls_done = true;
		/* Keep the chain beyond the connection's life. */
		for (size_t i = 0; i < info->nchain; i++) {
			uint8_t *der = malloc(info->chain_len[i]);
			if (!der)
				break;
			memcpy(der, info->chain[i], info->chain_len[i]);
			ep->tls.chain[ep->tls.nchain] = der;
			ep->tls.chain_len[ep->tls.nchain] = info->chain_len[i];
			ep->tls.nchain++;
		}
		handle(ep, smtp_on_tls_done(&ep->s, true, NULL));
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
	handle(ep, smtp_on_tls_done(&ep->s, false, reason));
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
	if (!c->buckets) {
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
	free(c->buckets);
	free(c);
}

size_t ipcap_queued(const struct ipcap *c)
{
	return c ? c->queued : 0;
}

static size_t addr_hash(const struct addr *a, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < sizeof a->bytes; i++)
		h = (h ^ a->bytes[i]) * 1099511628211ULL;
	return (size_t)(h & (n - 1));
}

static struct ipslot *slot(struct ipcap *c, const struct addr *a, bool make)
{
	size_t h = addr_hash(a, c->nbuckets);
	for (struct ipslot *s = c->buckets[h]; s; s = s->next)
		if (s->addr.family == a->family &&
		    memcmp(s->addr.bytes, a->bytes, sizeof a->bytes) == 0)
			return s;
	if (!make)
		return NULL;
	struct ipslot *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->addr = *a;
	s->next = c->buckets[h];
	c->buckets[h] = s;
	c->count++;
	return s;
}

/* A capped probe's own callback: frees the slot, then starts the next
 * probe waiting for this address. */
struct capped {
	const struct endpoint_env *env;
	endpoint_cb cb;
	void *arg;
};

static void on_capped_done(void *arg, const struct endpoint_result *r)
{
	struct capped *cp = arg;
	const struct endpoint_env *env = cp->env;
	struct ipcap *c = env->cap;
	struct ipslot *s = slot(c, &r->addr, false);

	cp->cb(cp->arg, r);
	free(cp);
	if (!s)
		return;
	s->active--;
	while (s->head && s->active < c->max) {
		struct ipwait *w = s->head;
		s->head = w->next;
		if (!s->head)
			s->tail = NULL;
		c->queued--;
		s->active++;
		struct addr a = s->addr;
		if (start_probe(w->env, &a, w->port, w->sni, w->cb, w->arg) !=
		    0) {
			/* Out of memory: report it as a failed connect so
			 * that the waiting domain is not stuck. */
			s->active--;
			struct smtp_session ss;
			struct tls_info none = { 0 };
			smtp_session_init(&ss, "invalid", &w->env->limits);
			smtp_on_connect_failed(&ss);
			struct endpoint_result res = {
				.addr = a,
				.port = w->port,
				.sni = w->sni,
				.session = &ss,
				.tls = &none,
				.conn_rc = CONN_NO_MEMORY,
			};
			w->cb(w->arg, &res);
			smtp_session_free(&ss);
		}
		free(w);
	}
}

int endpoint_probe(const struct endpoint_env *env, const struct addr *addr,
		   int port, const char *sni, endpoint_cb cb, void *arg)
{
	struct ipcap *c = env->cap;

	if (!c)
		return start_probe(env, addr, port, sni, cb, arg);
	struct ipslot *s = slot(c, addr, true);
	if (!s)
		return -1;
	if (s->active < c->max) {
		s->active++;
		if (start_probe(env, addr, port, sni, cb, arg) != 0) {
			s->active--;
			return -1;
		}
		return 0;
	}
	struct ipwait *w = calloc(1, sizeof *w);
	if (!w)
		return -1;
	w->env = env;
	snprintf(w->sni, sizeof w->sni, "%s", sni ? sni : "");
	w->port = port;
	w->cb = cb;
	w->arg = arg;
	if (s->tail)
		s->tail->next = w;
	else
		s->head = w;
	s->tail = w;
	c->queued++;
	return 0;
}

static int start_probe(const struct endpoint_env *env, const struct addr *addr,
		       int port, const char *sni, endpoint_cb cb, void *arg)
{
	struct capped *cp = NULL;

	if (env->cap) {
		cp = malloc(sizeof *cp);
		if (!cp)
			return -1;
		cp->env = env;
		cp->cb = cb;
		cp->arg = arg;
		cb = on_capped_done;
		arg = cp;
	}
	struct endpoint *ep = calloc(1, sizeof *ep);

	if (!ep) {
		free(cp);
		return -1;
	}
	ep->env = env;
	ep->addr = *addr;
	ep->port = port;
	snprintf(ep->sni, sizeof ep->sni, "%s", sni ? sni : "");
	ep->cb = cb;
	ep->arg = arg;
	ep->start = uv_now(env->loop);
	if (smtp_session_init(&ep->s, env->ehlo_name, &env->limits) != 0) {
		free(ep);
		free(cp);
		return -1;
	}
	uv_timer_init(env->loop, &ep->stage);
	uv_timer_init(env->loop, &ep->deadline);
	ep->stage.data = ep;
	ep->deadline.data = ep;
	ep->open_handles = 3; /* two timers and the connection */
	uv_timer_start(&ep->deadline, on_deadline, env->limits.deadline_ms, 0);
	ep->conn = conn_connect(env->loop, addr, port, &callbacks, ep);
	if (!ep->conn) {
		ep->conn_rc = CONN_ERROR;
		handle(ep, smtp_on_connect_failed(&ep->s));
		return 0;
	}
	/* The connect stage's timer. */
	handle(ep, SMTP_ACT_WAIT);
	return 0;
}
