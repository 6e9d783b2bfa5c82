/*
 * DNS lookups on a libuv loop (see resolver.h).
 *
 * Three layers, kept apart:
 *   - plumbing: c-ares opens, reads, writes and closes its sockets through
 *     our socket functions (ares_set_socket_functions()) and tells us through
 *     its socket-state callback which ones to watch; each gets a uv_poll_t,
 *     and one uv_timer_t is re-armed from ares_timeout() whenever we leave
 *     c-ares. UDP reads are answered from one recvmmsg() batch and the
 *     datagrams c-ares sends in a loop turn go out with one sendmmsg() from
 *     a uv_prepare_t, just before the loop polls (dnsio.h). TCP goes
 *     straight to the kernel, as c-ares would do it. Nothing here knows DNS.
 *   - one small state machine per lookup (struct rq): ask, maybe ask again
 *     with CD and then once more without, deliver. Its input is "c-ares
 *     finished this query".
 *   - resolver_judge(): the DNSSEC verdict, a pure function of the answers.
 *
 * Things c-ares 1.18.1 does that shape this file:
 *   - ares_send() keeps the query id we put in the packet (query->qid is read
 *     from the buffer; later releases assign their own), so we choose
 *     random ids and keep the in-flight ones unique per channel.
 *   - It doubles the per-try timeout after every round over the servers, so
 *     with its own retries a lookup would take timeout x (2^tries - 1). We
 *     give it one try and retry ourselves (same id, so a late answer to an
 *     earlier try still matches), which makes the bound timeout x tries per
 *     server, as resolver.h promises.
 *   - It may call a query's callback from inside ares_send() (no socket,
 *     write failure), and calls every pending callback from ares_destroy().
 *     The first kind is deferred to an idle handle, and ares_destroy() is
 *     only ever called outside c-ares (never from one of its callbacks).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ares.h>
#include <uv.h>

#include "crawler/dns/dnsio.h"
#include "crawler/dns/resolver.h"

#define RESOLVER_DEFAULT_TIMEOUT_MS 2000
#define RESOLVER_DEFAULT_TRIES 3
/* Sanity bounds on the configuration: beyond these it is a typo. */
#define RESOLVER_MAX_TIMEOUT_MS 600000
#define RESOLVER_MAX_TRIES 16
/*
 * Lookups pending at once. Each holds at most one of the 65536 query ids;
 * staying at half the id space keeps the random pick of a free id at two
 * draws on average.
 */
#define RESOLVER_MAX_PENDING 32768
/*
 * Lookups with a query at the resolver at once, per resolver (one per
 * worker); the others wait in a queue, first come first served. Unbound
 * answers from cache at once but keeps each query that needs recursion
 * in a request list of num-queries-per-thread slots (1024 by default, one
 * list per thread) and drops queries beyond it: each drop then costs the
 * crawler a whole timeout (2 s) before its retry. At --concurrency 1000 a
 * worker had up to ~2,000 queries out (MX, A, AAAA, TLSA, TXT of its
 * domains at once). 512 per worker keeps two workers at half the slots of
 * a two-thread unbound, with room for the CD re-queries and for the
 * recursion of other clients (RESOLVER_DEFAULT_INFLIGHT, resolver.h).
 * Under latency what is in flight grows with the round trip (Little's
 * law): a resolver with room for more (a scanner's own, sized for it)
 * is given more with resolver_config.max_inflight (--dns-inflight). */
/*
 * Re-sends of a query that c-ares ended with ARES_ECONNREFUSED, besides
 * the tries. c-ares 1.18 ends with that status every query it had sent
 * to a server whenever one of that server's connections fails: a TCP
 * connection the server closes (unbound closes idle ones, a server may
 * close after one answer, RFC 7766) or a socket error takes every UDP
 * query in flight with it, and with our one try per ares_send() each
 * would be an error of its domain. A try that timed out is counted in
 * the tries; these are not, so that such a cascade costs no domain its
 * answer, and a port that really refuses still ends after a few sends.
 * test_scan_dns_retry (a relay that closes TCP after one answer) fails
 * without them.
 */
#define RESOLVER_RESET_RETRIES 3
/* Parsed messages kept for reuse. At most two are in use at a time (an
 * answer and its CD answer), during the callback only. */
#define RESOLVER_MSG_POOL 4
/*
 * Receive buffer asked for c-ares' UDP sockets (set by our socket function:
 * c-ares leaves the options of sockets it does not open itself alone). All
 * answers come back on one UDP socket, and on loopback each small datagram
 * costs 1-2 KiB of buffer (skb truesize): the default 208 KiB dropped
 * answers at 500 lookups in flight, and every dropped answer costs a whole
 * timeout. 512 answers (the default in flight) plus late duplicates need
 * ~1 MiB, RESOLVER_MAX_INFLIGHT_LIMIT (4096) up to 8 MiB, which 4 MiB
 * asked gives (the kernel doubles it). It caps what is asked at
 * net.core.rmem_max, so with a smaller cap SO_RCVBUFFORCE is tried (root
 * only).
 */
#define RESOLVER_SOCK_RCVBUF (4 * 1024 * 1024)
#define RESOLVER_SOCK_RCVBUF_MIN (2 * 1024 * 1024)
/* Bytes of the first EDE's EXTRA-TEXT handed to callbacks (NUL included);
 * longer texts are cut. Unbound's are about 150 bytes. */
#define RESOLVER_EDE_TEXT_MAX 512

/* ---- Names --------------------------------------------------------- */

static const char *const dnssec_names[] = {
	[DNSSEC_UNKNOWN] = "unknown",
	[DNSSEC_SECURE] = "secure",
	[DNSSEC_INSECURE] = "insecure",
	[DNSSEC_BOGUS] = "bogus",
	[DNSSEC_INDETERMINATE] = "indeterminate",
};

const char *dnssec_status_str(enum dnssec_status s)
{
	if ((unsigned)s >= DNSSEC_STATUS_LAST)
		return "unknown";
	return dnssec_names[s];
}

static const char *const why_names[] = {
	[DNSSEC_WHY_NOT_VALIDATING] = "not_validating",
	[DNSSEC_WHY_AD] = "ad",
	[DNSSEC_WHY_NO_AD] = "no_ad",
	[DNSSEC_WHY_AFTER_SERVFAIL] = "servfail_then_answer",
	[DNSSEC_WHY_EDE] = "ede",
	[DNSSEC_WHY_SERVFAIL_REPEATED] = "servfail_repeated",
	[DNSSEC_WHY_SERVFAIL_UNCONFIRMED] = "servfail_unconfirmed",
	[DNSSEC_WHY_SERVFAIL] = "servfail",
	[DNSSEC_WHY_NO_ANSWER] = "no_answer",
	[DNSSEC_WHY_RCODE] = "rcode",
};

const char *dnssec_why_str(enum dnssec_why w)
{
	if ((unsigned)w >= DNSSEC_WHY_LAST)
		return "unknown";
	return why_names[w];
}

static const char *const rc_names[] = {
	[RESOLVER_OK] = "ok",
	[RESOLVER_TIMEOUT] = "timeout",
	[RESOLVER_MALFORMED] = "malformed",
	[RESOLVER_BAD_NAME] = "bad_name",
	[RESOLVER_NO_MEMORY] = "no_memory",
	[RESOLVER_CONN_REFUSED] = "conn_refused",
	[RESOLVER_ERROR] = "error",
	[RESOLVER_CANCELLED] = "cancelled",
};

const char *resolver_rc_str(enum resolver_rc rc)
{
	if ((unsigned)rc >= RESOLVER_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

const char *resolver_outcome_str(enum resolver_rc rc, int rcode)
{
	if (rc == RESOLVER_OK && rcode != DNS_RCODE_NOERROR &&
	    rcode != DNS_RCODE_NXDOMAIN)
		return "rcode_error";
	return resolver_rc_str(rc);
}

/* ---- The DNSSEC verdict (pure) ------------------------------------- */

bool resolver_ede_is_dnssec(uint16_t code)
{
	/* RFC 8914 §4.7-4.13: DNSSEC Bogus, Signature Expired, Signature Not
	 * Yet Valid, DNSKEY Missing, RRSIGs Missing, No Zone Key Bit Set,
	 * NSEC Missing. */
	return code >= 6 && code <= 12;
}

bool resolver_wants_cd(bool validating, int rcode)
{
	return validating && rcode == DNS_RCODE_SERVFAIL;
}

static bool answered(int rcode)
{
	return rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN;
}

static bool any_dnssec_ede(const uint16_t *ede, size_t n_ede)
{
	for (size_t i = 0; ede && i < n_ede; i++)
		if (resolver_ede_is_dnssec(ede[i]))
			return true;
	return false;
}

bool resolver_wants_again(bool validating, int rcode, bool dnssec_ede,
			  int cd_rcode)
{
	return validating && rcode == DNS_RCODE_SERVFAIL && !dnssec_ede &&
	       answered(cd_rcode);
}

enum dnssec_status resolver_judge(bool validating,
				  const struct resolver_evidence *ev,
				  enum dnssec_why *why)
{
	enum dnssec_why dummy;

	if (!why)
		why = &dummy;
	if (!validating) {
		*why = DNSSEC_WHY_NOT_VALIDATING;
		return DNSSEC_UNKNOWN;
	}
	switch (ev->rcode) {
	case DNS_RCODE_NOERROR:
	case DNS_RCODE_NXDOMAIN:
		*why = ev->ad ? DNSSEC_WHY_AD : DNSSEC_WHY_NO_AD;
		return ev->ad ? DNSSEC_SECURE : DNSSEC_INSECURE;
	case DNS_RCODE_SERVFAIL:
		/* The resolver says which validation step failed. */
		if (any_dnssec_ede(ev->ede, ev->n_ede)) {
			*why = DNSSEC_WHY_EDE;
			return DNSSEC_BOGUS;
		}
		if (!answered(ev->cd_rcode)) {
			/* Without validation it fails as well: whatever
			 * failed, it was not (only) validation. */
			*why = DNSSEC_WHY_SERVFAIL;
			return DNSSEC_INDETERMINATE;
		}
		/* It answers with validation off. An upstream timeout looks
		 * the same, so only a repeat without CD decides: a
		 * validation failure fails again, a transient failure
		 * answers. */
		if (ev->again_rcode == DNS_RCODE_SERVFAIL) {
			*why = DNSSEC_WHY_SERVFAIL_REPEATED;
			return DNSSEC_BOGUS;
		}
		if (answered(ev->again_rcode)) {
			*why = DNSSEC_WHY_AFTER_SERVFAIL;
			return ev->again_ad ? DNSSEC_SECURE : DNSSEC_INSECURE;
		}
		*why = DNSSEC_WHY_SERVFAIL_UNCONFIRMED;
		return DNSSEC_INDETERMINATE;
	default:
		/* No answer, REFUSED, FORMERR, BADVERS...: nothing was
		 * validated, so nothing can be said. */
		*why = ev->rcode < 0 ? DNSSEC_WHY_NO_ANSWER : DNSSEC_WHY_RCODE;
		return DNSSEC_INDETERMINATE;
	}
}

/* ---- Structures ---------------------------------------------------- */

/* One lookup's life. */
enum rq_state {
	RQ_NEW = 0,   /* allocated, nothing sent yet */
	RQ_QUEUED,    /* built, waiting for one of max_inflight slots */
	RQ_ASKING,    /* the query is with c-ares */
	RQ_ASKING_CD, /* SERVFAIL kept in `first`; the CD query is out */
	/* SERVFAIL without a DNSSEC EDE in `first`, the CD query answered
	 * (kept in `cd`): the repeat without CD is out (resolver.h) */
	RQ_ASKING_AGAIN,
	RQ_DEFERRED, /* outcome known, callback waits for the idle handle */
	RQ_DONE,     /* callback ran (or runs now); freed right after */
	RQ_STATE_LAST
};

static const char *const rq_state_names[] = {
	[RQ_NEW] = "new",
	[RQ_QUEUED] = "queued",
	[RQ_ASKING] = "asking",
	[RQ_ASKING_CD] = "asking_cd",
	[RQ_ASKING_AGAIN] = "asking_again",
	[RQ_DEFERRED] = "deferred",
	[RQ_DONE] = "done",
};

struct rq {
	struct resolver *r;
	struct rq *prev, *next; /* r->live: every lookup not yet delivered */
	struct rq *dnext;	/* r->deferred queue, or r->wait queue */
	bool inflight;		/* counted in r->n_inflight */
	resolver_cb cb;
	void *arg;
	enum rq_state state;
	uint16_t qtype;
	unsigned qflags; /* DNS_QUERY_CHAOS or 0, for every query built */
	uint16_t id;
	bool has_id;
	unsigned tries_left;  /* re-sends left after a timeout, this phase */
	unsigned resets_left; /* re-sends left after a reset, this phase */
	/* ares_send() may call back before it returns; then we only note
	 * the status here and act once it has returned. */
	bool in_send;
	bool sync_done;
	int sync_status;
	/* RQ_DEFERRED: what to deliver. */
	/* deferred in RQ_ASKING_CD or RQ_ASKING_AGAIN: deliver `first` */
	bool def_cd;
	enum resolver_rc def_rc;
	enum dns_rc def_dns_rc;
	uint64_t started_ns;
	uint8_t *first; /* the SERVFAIL answer while asking with CD */
	size_t first_len;
	bool first_dnssec_ede; /* it carries an EDE 6..12 */
	uint8_t *cd;	       /* the CD answer while asking again */
	size_t cd_len;
	size_t qlen;
	uint8_t qbuf[DNS_QUERY_MAX];
	char name[]; /* as given, to build the CD query */
};

/* A socket c-ares opened through us (struct resolver's socks list). */
struct rsock {
	uv_poll_t poll;
	struct resolver *r;
	ares_socket_t fd;
	struct rsock *next;
	bool dgram;	 /* UDP: reads and writes go through io */
	bool closed;	 /* c-ares closed it; freed once poll is closed */
	bool want_write; /* io could not send all: watch for writable */
	int ares_events; /* UV_READABLE/UV_WRITABLE as c-ares asked */
	int poll_events; /* what poll is started with (0: stopped) */
	struct dnsio io;
};

struct resolver {
	uv_loop_t *loop;
	ares_channel channel;
	bool timer_fired; /* on_timer ran: the next rearm must recompute */
	bool validating;
	unsigned tries;
	bool trace; /* state changes to stderr (debug builds) */

	uv_timer_t timer;   /* c-ares' next timeout */
	uv_idle_t idle;	    /* runs deferred callbacks */
	uv_prepare_t flush; /* sends queued datagrams before the poll */
	struct dnsio_pool io_pool;
	struct rsock *socks;
	unsigned open_handles; /* closed in shutdown; freed at zero */

	/* Depth of our frames on the stack that hold c-ares or user code;
	 * resolver_free() inside them is carried out when it drops to 0. */
	unsigned depth;
	bool closing; /* resolver_free() was called */
	bool shut;    /* c-ares destroyed, handles closing */

	struct rq *live;
	size_t n_live;
	struct rq *def_head, *def_tail;
	/* RQ_QUEUED lookups, oldest first; n_inflight: sent and not yet
	 * delivered, at most max_inflight. */
	struct rq *wait_head, *wait_tail;
	size_t n_inflight;
	size_t max_inflight;

	uint64_t sent;
	uint64_t rng;
	size_t ids_used;
	uint64_t ids[65536 / 64];

	struct dns_msg *pool[RESOLVER_MSG_POOL];
	size_t n_pool;
	char ede_text[RESOLVER_EDE_TEXT_MAX];
};

static void rq_step(struct rq *q, int status, const uint8_t *abuf, size_t alen);
static void rq_send(struct rq *q);
static void pump(struct resolver *r);
static void leave(struct resolver *r);
static void on_idle(uv_idle_t *h);

/* ---- Small helpers ------------------------------------------------- */

static void rq_set_state(struct rq *q, enum rq_state s)
{
#ifndef NDEBUG
	if (q->r->trace)
		fprintf(stderr, "resolver: %p %s -> %s\n", (void *)q,
			rq_state_names[q->state], rq_state_names[s]);
#else
	(void)rq_state_names;
#endif
	q->state = s;
}

static enum resolver_rc rc_from_ares(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return RESOLVER_OK;
	case ARES_ETIMEOUT:
		return RESOLVER_TIMEOUT;
	case ARES_ECONNREFUSED:
		return RESOLVER_CONN_REFUSED;
	case ARES_ENOMEM:
		return RESOLVER_NO_MEMORY;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return RESOLVER_CANCELLED;
	default:
		return RESOLVER_ERROR;
	}
}

/* xorshift64*: query ids need to be unpredictable off-path, not
 * cryptographic; the seed comes from getrandom(). */
static uint16_t rng16(struct resolver *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (uint16_t)((r->rng * 2685821657736338717ULL) >> 48);
}

static bool id_alloc(struct resolver *r, uint16_t *out)
{
	if (r->ids_used >= RESOLVER_MAX_PENDING)
		return false;
	for (;;) {
		uint16_t id = rng16(r);
		uint64_t bit = 1ULL << (id % 64);
		if (r->ids[id / 64] & bit)
			continue;
		r->ids[id / 64] |= bit;
		r->ids_used++;
		*out = id;
		return true;
	}
}

static void id_release(struct rq *q)
{
	if (!q->has_id)
		return;
	q->r->ids[q->id / 64] &= ~(1ULL << (q->id % 64));
	q->r->ids_used--;
	q->has_id = false;
}

static struct dns_msg *msg_get(struct resolver *r)
{
	if (r->n_pool > 0)
		return r->pool[--r->n_pool];
	return malloc(sizeof(struct dns_msg));
}

static void msg_put(struct resolver *r, struct dns_msg *m)
{
	if (!m)
		return;
	if (r->n_pool < RESOLVER_MSG_POOL && !r->shut)
		r->pool[r->n_pool++] = m;
	else
		free(m);
}

static void live_unlink(struct resolver *r, struct rq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		r->live = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	r->n_live--;
}

/* ---- Plumbing: c-ares sockets and timeouts on the loop ------------- */

static void enter(struct resolver *r)
{
	r->depth++;
}

static uint64_t timeval_ms_ceil(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000 +
	       ((uint64_t)tv->tv_usec + 999) / 1000;
}

static void on_timer(uv_timer_t *t)
{
	struct resolver *r = t->data;

	enter(r);
	r->timer_fired = true;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	leave(r);
}

static void rearm_timer(struct resolver *r)
{
	struct timeval tv, *tvp;

	if (!r->channel)
		return;
	/* ares_timeout() walks every outstanding query (c-ares 1.18), which
	 * cost a third of the crawler's CPU when called after every event.
	 * A running timer is left alone: a new query's deadline is later
	 * than the ones it already covers, and a timer made early by answers
	 * only costs a lap, after which it is computed again. */
	if (uv_is_active((uv_handle_t *)&r->timer) && !r->timer_fired)
		return;
	r->timer_fired = false;
	tvp = ares_timeout(r->channel, NULL, &tv);
	if (!tvp) {
		uv_timer_stop(&r->timer);
		return;
	}
	/* Round up: waking before c-ares' deadline only costs a lap. */
	uv_timer_start(&r->timer, on_timer, timeval_ms_ceil(tvp), 0);
}

static void on_handle_closed(uv_handle_t *h);

static struct rsock *sock_find(struct resolver *r, ares_socket_t fd)
{
	struct rsock *s;

	for (s = r->socks; s; s = s->next)
		if (s->fd == fd)
			return s;
	return NULL;
}

static void sock_unlink(struct resolver *r, struct rsock *s)
{
	struct rsock **pp = &r->socks;

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Starts poll with what c-ares asked for plus our own write interest;
 * libuv changes its epoll set only when the set of events changes. */
static void sock_watch(struct rsock *s)
{
	int ev = s->ares_events | (s->want_write ? UV_WRITABLE : 0);

	if (ev == s->poll_events)
		return;
	s->poll_events = ev;
	if (ev)
		uv_poll_start(&s->poll, ev, on_poll);
	else
		uv_poll_stop(&s->poll);
}

/* Takes s out of the list and closes its loop handle; s is freed once
 * that is closed, never before the loop's next turn (it may still be on
 * the stack of on_poll() or flush_all()). The fd is the caller's to
 * close, after this (libuv takes it out of epoll now). */
static void sock_close(struct resolver *r, struct rsock *s)
{
	sock_unlink(r, s);
	s->closed = true;
	if (s->dgram)
		dnsio_discard(&s->io);
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

/*
 * Sends the datagrams queued on every socket. A socket the kernel refused
 * a datagram on is read at once: the error waits there (dnsio.h), and
 * c-ares handles it as any error of the socket (it fails the queries of
 * that server, and rq_step() sends them again, RESOLVER_RESET_RETRIES).
 * Runs outside c-ares, or at the end of on_poll().
 */
static void flush_all(struct resolver *r)
{
	struct rsock *s;
	bool again;

	do {
		again = false;
		for (s = r->socks; s; s = s->next) {
			int rc;

			if (!s->dgram)
				continue;
			rc = s->want_write ? 0 : dnsio_flush(&s->io);
			if (rc == -EAGAIN) {
				s->want_write = true;
				sock_watch(s);
			}
			/* (also an error kept by a flush in sf_sendv()) */
			if (dnsio_has_error(&s->io) && r->channel) {
				/* c-ares may close or open sockets in there,
				 * and send more: walk the list again. */
				ares_process_fd(r->channel, s->fd,
						ARES_SOCKET_BAD);
				/* c-ares read it, unless it does not know the
				 * socket (then nobody waits for the error) */
				if (!s->closed)
					dnsio_clear_error(&s->io);
				again = true;
				break;
			}
		}
	} while (again);
}

/* uv_prepare: the last thing the loop does before it polls. */
static void on_flush(uv_prepare_t *h)
{
	struct resolver *r = h->data;

	uv_prepare_stop(&r->flush);
	enter(r);
	flush_all(r);
	leave(r);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct rsock *s = h->data;
	struct resolver *r = s->r;
	ares_socket_t fd = s->fd;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	enter(r);
	if (s->want_write && (status < 0 || (events & UV_WRITABLE))) {
		/* The kernel takes datagrams again. */
		s->want_write = false;
		sock_watch(s);
		flush_all(r);
		if (s->closed) {
			/* c-ares closed it on a send error: fd is not ours */
			leave(r);
			return;
		}
	}
	if (status < 0) {
		/* Let c-ares find the error itself by reading/writing. */
		rfd = fd;
		if (s->ares_events & UV_WRITABLE)
			wfd = fd;
	} else {
		if (events & UV_READABLE)
			rfd = fd;
		if ((events & UV_WRITABLE) && (s->ares_events & UV_WRITABLE))
			wfd = fd;
	}
	if (s->dgram && dnsio_has_error(&s->io))
		rfd = fd;
	if ((rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD) && r->channel) {
		/* c-ares may close this socket in there: s stays allocated
		 * until its handle is closed (after this callback), and
		 * s->closed says so. */
		ares_process_fd(r->channel, rfd, wfd);
		/* c-ares reads until EAGAIN; should it stop earlier, the
		 * datagrams read into the batch must not wait for the next
		 * one from the kernel. */
		while (!s->closed && s->dgram && dnsio_has_unread(&s->io) &&
		       r->channel) {
			unsigned before = s->io.in_next;
			ares_process_fd(r->channel, fd, ARES_SOCKET_BAD);
			if (!s->closed && s->io.in_next == before &&
			    dnsio_has_unread(&s->io))
				break; /* c-ares does not read it */
		}
		/* The queries the answers of this batch led to go out now,
		 * before any other callback of this loop turn (one that
		 * blocks, say) could hold them; the prepare handle sends
		 * what other callbacks queue. */
		flush_all(r);
	}
	leave(r);
}

/* ARES_OPT_SOCK_STATE_CB: which of its sockets c-ares wants watched. */
static void on_sock_state(void *data, ares_socket_t fd, int readable,
			  int writable)
{
	struct resolver *r = data;
	struct rsock *s = sock_find(r, fd);

	if (!s)
		return; /* not opened through us: cannot happen */
	s->ares_events =
	    (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
	sock_watch(s);
}

/* ---- c-ares' socket functions -------------------------------------- */

/* Our sockets are non-blocking and close-on-exec from the start: c-ares
 * sets no option on sockets it does not open itself, so what it would
 * set (receive buffer, TCP_NODELAY) is set here. */
static ares_socket_t sf_socket(int domain, int type, int protocol, void *data)
{
	struct resolver *r = data;
	struct rsock *s;
	int fd, one = 1;

	fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return ARES_SOCKET_BAD;
	s = calloc(1, sizeof *s);
	if (!s) {
		close(fd);
		errno = ENOMEM;
		return ARES_SOCKET_BAD;
	}
	if (uv_poll_init_socket(r->loop, &s->poll, fd) != 0) {
		free(s);
		close(fd);
		errno = ENOMEM;
		return ARES_SOCKET_BAD;
	}
	r->open_handles++;
	s->poll.data = s;
	s->r = r;
	s->fd = fd;
	s->dgram = type == SOCK_DGRAM;
	if (s->dgram) {
		int want = RESOLVER_SOCK_RCVBUF, got = 0;
		socklen_t len = sizeof got;

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
		/* The kernel reports twice what it grants. */
		if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 &&
		    got / 2 < RESOLVER_SOCK_RCVBUF_MIN)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want,
					 sizeof want);
		dnsio_init(&s->io, fd, &r->io_pool);
	} else if (type == SOCK_STREAM) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof one);
	}
	s->next = r->socks;
	r->socks = s;
	return fd;
}

static int sf_close(ares_socket_t fd, void *data)
{
	struct resolver *r = data;
	struct rsock *s = sock_find(r, fd);

	if (s)
		sock_close(r, s);
	return close(fd);
}

static int sf_connect(ares_socket_t fd, const struct sockaddr *addr,
		      ares_socklen_t len, void *data)
{
	(void)data;
	return connect(fd, addr, len);
}

static ares_ssize_t sf_recvfrom(ares_socket_t fd, void *buf, size_t len,
				int flags, struct sockaddr *from,
				ares_socklen_t *fromlen, void *data)
{
	struct resolver *r = data;
	struct rsock *s = sock_find(r, fd);

	if (s && s->dgram && flags == 0)
		return dnsio_recvfrom(&s->io, buf, len, from, fromlen);
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

static ares_ssize_t sf_sendv(ares_socket_t fd, const struct iovec *iov,
			     int iovcnt, void *data)
{
	struct resolver *r = data;
	struct rsock *s = sock_find(r, fd);
	struct msghdr m = { .msg_iov = (struct iovec *)iov,
			    .msg_iovlen = (size_t)iovcnt };
	ares_ssize_t n;

	if (s && s->dgram) {
		n = dnsio_sendv(&s->io, iov, iovcnt);
		if ((dnsio_has_queued(&s->io) || dnsio_has_error(&s->io)) &&
		    !uv_is_active((uv_handle_t *)&r->flush))
			uv_prepare_start(&r->flush, on_flush);
		return n;
	}
	/* TCP: as c-ares writes, without SIGPIPE. */
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static const struct ares_socket_functions resolver_socket_functions = {
	.asocket = sf_socket,
	.aclose = sf_close,
	.aconnect = sf_connect,
	.arecvfrom = sf_recvfrom,
	.asendv = sf_sendv,
};

static void on_handle_closed(uv_handle_t *h)
{
	struct resolver *r;

	if (h->type == UV_POLL) {
		struct rsock *s = h->data;
		r = s->r;
		free(s);
	} else {
		r = h->data;
	}
	if (--r->open_handles == 0 && r->shut)
		free(r);
}

/* ---- Delivering ---------------------------------------------------- */

static void answer_init(const struct resolver *r, struct resolver_answer *a)
{
	memset(a, 0, sizeof *a);
	a->rcode = -1;
	a->cd_rcode = -1;
	a->again_rcode = -1;
	a->dnssec = r->validating ? DNSSEC_INDETERMINATE : DNSSEC_UNKNOWN;
	a->why =
	    r->validating ? DNSSEC_WHY_NO_ANSWER : DNSSEC_WHY_NOT_VALIDATING;
	a->ede_text = "";
}

/* Runs the callback and frees q. `a` may point into q. */
static void rq_deliver(struct rq *q, struct resolver_answer *a)
{
	struct resolver *r = q->r;

	if (r->closing && a->rc != RESOLVER_CANCELLED) {
		/* Whatever arrived after resolver_free() is not reported. */
		answer_init(r, a);
		a->rc = RESOLVER_CANCELLED;
	}
	a->elapsed_ms = (unsigned)((uv_hrtime() - q->started_ns) / 1000000);
	id_release(q);
	rq_set_state(q, RQ_DONE);
	live_unlink(r, q);
	if (q->inflight)
		r->n_inflight--;
	q->cb(q->arg, a);
	free(q->first);
	free(q->cd);
	free(q);
	pump(r);
}

static void rq_deliver_rc(struct rq *q, enum resolver_rc rc, enum dns_rc dns_rc)
{
	struct resolver_answer a;

	answer_init(q->r, &a);
	a.rc = rc;
	a.dns_rc = dns_rc;
	a.cd_requeried = q->def_cd || q->state == RQ_ASKING_CD ||
			 q->state == RQ_ASKING_AGAIN;
	rq_deliver(q, &a);
}

static void rq_defer(struct rq *q, enum resolver_rc rc, enum dns_rc dns_rc)
{
	struct resolver *r = q->r;

	q->def_cd = q->state == RQ_ASKING_CD || q->state == RQ_ASKING_AGAIN;
	q->def_rc = rc;
	q->def_dns_rc = dns_rc;
	rq_set_state(q, RQ_DEFERRED);
	q->dnext = NULL;
	if (r->def_tail)
		r->def_tail->dnext = q;
	else
		r->def_head = q;
	r->def_tail = q;
	if (!r->shut)
		uv_idle_start(&r->idle, on_idle);
}

/* Fills the fields of the first answer: pkt parsed into m with result prc. */
static void answer_first(struct resolver *r, struct resolver_answer *a,
			 const uint8_t *pkt, size_t len,
			 const struct dns_msg *m, enum dns_rc prc)
{
	a->pkt = pkt;
	a->len = len;
	a->large = len > DNS_EDNS_UDP_SIZE;
	if (prc != DNS_OK) {
		a->rc = RESOLVER_MALFORMED;
		a->dns_rc = prc;
		a->rcode = m->header_ok ? m->rcode : -1;
		return;
	}
	a->rc = RESOLVER_OK;
	a->msg = m;
	a->rcode = m->rcode;
	a->n_ede = m->opt.n_ede;
	for (size_t i = 0; i < m->opt.n_ede; i++)
		a->ede[i] = m->opt.ede[i].info_code;
	if (m->opt.n_ede > 0) {
		size_t n = m->opt.ede[0].text_len;
		if (n > sizeof r->ede_text - 1)
			n = sizeof r->ede_text - 1;
		memcpy(r->ede_text, pkt + m->opt.ede[0].text_off, n);
		r->ede_text[n] = '\0';
		a->ede_text = r->ede_text;
	}
}

/* Parses an optional later answer (CD query, repeat) into a pooled
 * message; returns its rcode, or -1 when there is none or it does not
 * parse (then *out is NULL or unusable and still goes back to the pool). */
static int parse_later(struct resolver *r, const uint8_t *pkt, size_t len,
		       struct dns_msg **out)
{
	*out = NULL;
	if (!pkt)
		return -1;
	*out = msg_get(r);
	if (!*out || dns_msg_parse(pkt, len, *out) != DNS_OK)
		return -1;
	return (*out)->rcode;
}

/*
 * Delivers a lookup whose first answer is pkt, already parsed into m (or m
 * is NULL and it is parsed here); with cd_sent, its CD query was asked and
 * ended with cd_pkt (NULL if that failed); with again_sent, the repeat
 * without CD was asked and ended with ag_pkt (NULL if that failed). Takes
 * m back into the pool.
 */
static void rq_finish(struct rq *q, const uint8_t *pkt, size_t len,
		      struct dns_msg *m, enum dns_rc prc, bool cd_sent,
		      const uint8_t *cd_pkt, size_t cd_len, bool again_sent,
		      const uint8_t *ag_pkt, size_t ag_len)
{
	struct resolver *r = q->r;
	struct resolver_answer a;
	struct resolver_evidence ev;
	struct dns_msg *cm, *am;

	answer_init(r, &a);
	a.cd_requeried = cd_sent;
	a.requeried = again_sent;
	if (!m) {
		m = msg_get(r);
		if (!m) {
			a.rc = RESOLVER_NO_MEMORY;
			rq_deliver(q, &a);
			return;
		}
		prc = dns_msg_parse(pkt, len, m);
	}
	answer_first(r, &a, pkt, len, m, prc);
	a.cd_rcode = parse_later(r, cd_pkt, cd_len, &cm);
	a.again_rcode = parse_later(r, ag_pkt, ag_len, &am);
	ev = (struct resolver_evidence){
		.rcode = a.rc == RESOLVER_OK ? a.rcode : -1,
		.ad = a.rc == RESOLVER_OK && m->ad,
		.ede = a.ede,
		.n_ede = a.n_ede,
		.cd_rcode = a.cd_rcode,
		.again_rcode = a.again_rcode,
		.again_ad = a.again_rcode >= 0 && am->ad,
	};
	a.dnssec = resolver_judge(r->validating, &ev, &a.why);
	if (a.why == DNSSEC_WHY_AFTER_SERVFAIL) {
		/* The SERVFAIL was transient: the repeat is the answer. */
		int cd_rcode = a.cd_rcode, again_rcode = a.again_rcode;
		answer_first(r, &a, ag_pkt, ag_len, am, DNS_OK);
		a.cd_rcode = cd_rcode;
		a.again_rcode = again_rcode;
	} else if (a.dnssec == DNSSEC_BOGUS && a.cd_rcode >= 0 &&
		   (a.cd_rcode == DNS_RCODE_NOERROR ||
		    a.cd_rcode == DNS_RCODE_NXDOMAIN)) {
		a.cd_pkt = cd_pkt;
		a.cd_len = cd_len;
		a.cd_msg = cm;
	}
	rq_deliver(q, &a);
	msg_put(r, m);
	msg_put(r, cm);
	msg_put(r, am);
}

/* ---- Asking -------------------------------------------------------- */

static void on_ares_done(void *arg, int status, int timeouts,
			 unsigned char *abuf, int alen)
{
	struct rq *q = arg;

	(void)timeouts;
	if (q->in_send) {
		q->sync_done = true;
		q->sync_status = status;
		return;
	}
	rq_step(q, status, abuf, abuf && alen > 0 ? (size_t)alen : 0);
}

/* Hands q->qbuf to c-ares. A failure inside ares_send() is deferred. */
static void rq_send(struct rq *q)
{
	struct resolver *r = q->r;

	if (!q->inflight) {
		q->inflight = true;
		r->n_inflight++;
	}

	q->in_send = true;
	q->sync_done = false;
	r->sent++;
	ares_send(r->channel, q->qbuf, (int)q->qlen, on_ares_done, q);
	q->in_send = false;
	if (q->sync_done) {
		id_release(q);
		rq_defer(q, rc_from_ares(q->sync_status), DNS_OK);
	}
}

/* Builds the query with a fresh id; flags as for dns_wire_query(). */
static enum dns_rc rq_build(struct rq *q, unsigned flags)
{
	enum dns_rc rc;

	id_release(q);
	if (!id_alloc(q->r, &q->id))
		return DNS_RC_NO_SPACE; /* cannot happen below the cap */
	q->has_id = true;
	rc = dns_wire_query(q->qbuf, sizeof q->qbuf, q->id, q->name, q->qtype,
			    flags | q->qflags, &q->qlen);
	if (rc != DNS_OK) {
		id_release(q);
		return rc;
	}
	q->tries_left = q->r->tries - 1;
	q->resets_left = RESOLVER_RESET_RETRIES;
	return DNS_OK;
}

/* The first answer was SERVFAIL (parsed in m): keep it and ask again
 * with CD. */
static void rq_ask_cd(struct rq *q, const uint8_t *abuf, size_t alen,
		      const struct dns_msg *m)
{
	q->first_dnssec_ede = false;
	for (size_t i = 0; i < m->opt.n_ede; i++)
		q->first_dnssec_ede |=
		    resolver_ede_is_dnssec(m->opt.ede[i].info_code);
	q->first = malloc(alen);
	if (!q->first) {
		rq_finish(q, abuf, alen, NULL, DNS_OK, false, NULL, 0, false,
			  NULL, 0);
		return;
	}
	memcpy(q->first, abuf, alen);
	q->first_len = alen;
	rq_set_state(q, RQ_ASKING_CD);
	if (rq_build(q, DNS_QUERY_CD) != DNS_OK) {
		/* The same name built before; only ids could run out. */
		rq_defer(q, RESOLVER_NO_MEMORY, DNS_OK);
		return;
	}
	rq_send(q);
}

/*
 * The CD query answered (abuf, or NULL when it failed). A SERVFAIL without
 * a DNSSEC EDE whose CD query answered is asked once more without CD (see
 * resolver.h for why); anything else is decided now.
 */
static void rq_after_cd(struct rq *q, const uint8_t *abuf, size_t alen)
{
	struct resolver *r = q->r;
	struct dns_msg *cm = NULL;
	int cd_rcode = parse_later(r, abuf, alen, &cm);

	msg_put(r, cm);
	if (!resolver_wants_again(r->validating, DNS_RCODE_SERVFAIL,
				  q->first_dnssec_ede, cd_rcode)) {
		rq_finish(q, q->first, q->first_len, NULL, DNS_OK, true, abuf,
			  alen, false, NULL, 0);
		return;
	}
	q->cd = malloc(alen);
	if (!q->cd) {
		rq_finish(q, q->first, q->first_len, NULL, DNS_OK, true, abuf,
			  alen, false, NULL, 0);
		return;
	}
	memcpy(q->cd, abuf, alen);
	q->cd_len = alen;
	rq_set_state(q, RQ_ASKING_AGAIN);
	if (rq_build(q, 0) != DNS_OK) {
		rq_defer(q, RESOLVER_NO_MEMORY, DNS_OK);
		return;
	}
	rq_send(q);
}

/* c-ares is done with the current query of q. */
static void rq_step(struct rq *q, int status, const uint8_t *abuf, size_t alen)
{
	struct resolver *r = q->r;
	struct dns_msg *m;
	enum dns_rc prc;

	if (r->closing) {
		rq_deliver_rc(q, RESOLVER_CANCELLED, DNS_OK);
		return;
	}
	if (status == ARES_ETIMEOUT && q->tries_left > 0) {
		/* Same packet, same id: an answer to an earlier try that is
		 * late still counts. */
		q->tries_left--;
		rq_send(q);
		return;
	}
	if (status == ARES_ECONNREFUSED && q->resets_left > 0) {
		/* Not an answer: see RESOLVER_RESET_RETRIES. */
		q->resets_left--;
		rq_send(q);
		return;
	}
	id_release(q);
	switch (q->state) {
	case RQ_ASKING:
		if (status != ARES_SUCCESS || !abuf) {
			rq_deliver_rc(q, rc_from_ares(status), DNS_OK);
			return;
		}
		m = msg_get(r);
		if (!m) {
			rq_deliver_rc(q, RESOLVER_NO_MEMORY, DNS_OK);
			return;
		}
		prc = dns_msg_parse(abuf, alen, m);
		/* A CHAOS question is about the server, not signed data:
		 * a SERVFAIL there says nothing of validation. */
		if (prc == DNS_OK && !(q->qflags & DNS_QUERY_CHAOS) &&
		    resolver_wants_cd(r->validating, m->rcode)) {
			rq_ask_cd(q, abuf, alen, m);
			msg_put(r, m);
			return;
		}
		rq_finish(q, abuf, alen, m, prc, false, NULL, 0, false, NULL,
			  0);
		return;
	case RQ_ASKING_CD:
		rq_after_cd(q, status == ARES_SUCCESS ? abuf : NULL, alen);
		return;
	case RQ_ASKING_AGAIN:
		rq_finish(q, q->first, q->first_len, NULL, DNS_OK, true, q->cd,
			  q->cd_len, true, status == ARES_SUCCESS ? abuf : NULL,
			  alen);
		return;
	default:
		/* c-ares called back for a lookup it does not have. */
		abort();
	}
}

/* on the idle handle: callbacks that could not run where they arose. */
static void on_idle(uv_idle_t *h)
{
	struct resolver *r = h->data;
	struct rq *q = r->def_head;

	r->def_head = r->def_tail = NULL;
	uv_idle_stop(&r->idle);
	enter(r);
	while (q) {
		struct rq *next = q->dnext;
		if (q->def_cd && !r->closing)
			rq_finish(q, q->first, q->first_len, NULL, DNS_OK, true,
				  q->cd, q->cd_len, q->cd != NULL, NULL, 0);
		else
			rq_deliver_rc(
			    q, r->closing ? RESOLVER_CANCELLED : q->def_rc,
			    q->def_dns_rc);
		q = next;
	}
	leave(r);
}

/* ---- The queue ----------------------------------------------------- */

/* A built lookup goes out now, or waits for a free slot (FIFO: once
 * lookups wait, new ones wait behind them). */
static void rq_start(struct rq *q)
{
	struct resolver *r = q->r;

	if (r->n_inflight < r->max_inflight && !r->wait_head) {
		rq_set_state(q, RQ_ASKING);
		rq_send(q);
		return;
	}
	rq_set_state(q, RQ_QUEUED);
	q->dnext = NULL;
	if (r->wait_tail)
		r->wait_tail->dnext = q;
	else
		r->wait_head = q;
	r->wait_tail = q;
}

static struct rq *wait_pop(struct resolver *r)
{
	struct rq *q = r->wait_head;

	if (q) {
		r->wait_head = q->dnext;
		if (!r->wait_head)
			r->wait_tail = NULL;
		q->dnext = NULL;
	}
	return q;
}

/* Sends waiting lookups while slots are free. Runs after every delivery,
 * inside c-ares' callbacks too (as the CD re-query does). */
static void pump(struct resolver *r)
{
	while (!r->closing && r->n_inflight < r->max_inflight && r->wait_head) {
		struct rq *q = wait_pop(r);
		rq_set_state(q, RQ_ASKING);
		q->started_ns = uv_hrtime(); /* the wait is not the DNS's */
		rq_send(q);
	}
}

/* ---- Life cycle ---------------------------------------------------- */

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status = ARES_ENOTINITIALIZED;

static void ares_init_global(void)
{
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static void shutdown_now(struct resolver *r)
{
	struct rq *q;

	r->shut = true;
	r->depth++; /* callbacks below must not come back here */
	if (r->channel) {
		/* Calls back every pending query with ARES_EDESTRUCTION and
		 * closes the sockets through on_sock_state(). */
		ares_destroy(r->channel);
		r->channel = NULL;
	}
	while ((q = r->def_head)) {
		r->def_head = q->dnext;
		if (!r->def_head)
			r->def_tail = NULL;
		rq_deliver_rc(q, RESOLVER_CANCELLED, DNS_OK);
	}
	while ((q = wait_pop(r)))
		rq_deliver_rc(q, RESOLVER_CANCELLED, DNS_OK);
	/* Nothing should be left; be sure every callback runs once. */
	while (r->live)
		rq_deliver_rc(r->live, RESOLVER_CANCELLED, DNS_OK);
	r->depth--;
	while (r->socks)
		sock_close(r, r->socks);
	dnsio_pool_free(&r->io_pool);
	for (size_t i = 0; i < r->n_pool; i++)
		free(r->pool[i]);
	r->n_pool = 0;
	uv_close((uv_handle_t *)&r->timer, on_handle_closed);
	uv_close((uv_handle_t *)&r->idle, on_handle_closed);
	uv_close((uv_handle_t *)&r->flush, on_handle_closed);
}

static void leave(struct resolver *r)
{
	if (--r->depth > 0)
		return;
	if (r->closing) {
		if (!r->shut)
			shutdown_now(r);
		return;
	}
	rearm_timer(r);
}

struct resolver *resolver_new(uv_loop_t *loop,
			      const struct resolver_config *cfg,
			      const char **err)
{
	struct resolver *r;
	struct ares_options o;
	struct ares_addr_port_node *servers = NULL;
	const char *dummy;
	int st;

	if (!err)
		err = &dummy;
	if (!loop || !cfg || !cfg->servers || !*cfg->servers) {
		*err = "no resolver address given";
		return NULL;
	}
	if (cfg->timeout_ms > RESOLVER_MAX_TIMEOUT_MS) {
		*err = "resolver timeout over 600000 ms";
		return NULL;
	}
	if (cfg->tries > RESOLVER_MAX_TRIES) {
		*err = "resolver tries over 16";
		return NULL;
	}
	if (cfg->max_inflight > RESOLVER_MAX_INFLIGHT_LIMIT) {
		*err = "lookups in flight over 4096";
		return NULL;
	}
	pthread_once(&ares_once, ares_init_global);
	if (ares_init_status != ARES_SUCCESS) {
		*err = "c-ares library initialisation failed";
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		*err = "out of memory";
		return NULL;
	}
	r->loop = loop;
	r->validating = cfg->validating;
	r->tries = cfg->tries ? cfg->tries : RESOLVER_DEFAULT_TRIES;
	r->max_inflight =
	    cfg->max_inflight ? cfg->max_inflight : RESOLVER_DEFAULT_INFLIGHT;
#ifndef NDEBUG
	r->trace = getenv("MXCRAWL_TRACE_RESOLVER") != NULL;
#endif
	if (getrandom(&r->rng, sizeof r->rng, 0) != sizeof r->rng)
		r->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)r;
	r->rng |= 1; /* xorshift must not start at 0 */

	memset(&o, 0, sizeof o);
	/* NOCHECKRESP: SERVFAIL/REFUSED come to us with their EDE instead of
	 * being retried elsewhere. EDNS/EDNSPSZ: UDP answers up to our
	 * advertised size are read, larger ones go to TCP. No servers from
	 * resolv.conf: only the ones configured. */
	o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH;
	o.timeout = (int)(cfg->timeout_ms ? cfg->timeout_ms
					  : RESOLVER_DEFAULT_TIMEOUT_MS);
	o.tries = 1; /* we retry ourselves, see the top of this file */
	o.nservers = 0;
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = r;
	o.ednspsz = DNS_EDNS_UDP_SIZE;
	/* The receive buffer is set by sf_socket(). */
	st = ares_init_options(&r->channel, &o,
			       ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
				   ARES_OPT_TRIES | ARES_OPT_SERVERS |
				   ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ |
				   ARES_OPT_ROTATE);
	if (st != ARES_SUCCESS) {
		*err = st == ARES_ENOMEM
			   ? "out of memory"
			   : "c-ares channel initialisation failed";
		goto fail;
	}
	st = ares_set_servers_ports_csv(r->channel, cfg->servers);
	if (st == ARES_SUCCESS)
		st = ares_get_servers_ports(r->channel, &servers);
	if (st != ARES_SUCCESS || !servers) {
		*err = st == ARES_ENOMEM
			   ? "out of memory"
			   : "bad resolver address (want ip:port[,ip:port])";
		goto fail_channel;
	}
	ares_free_data(servers);
	/* Before any query: c-ares opens its sockets on the first one. */
	ares_set_socket_functions(r->channel, &resolver_socket_functions, r);

	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	uv_idle_init(loop, &r->idle);
	r->idle.data = r;
	uv_prepare_init(loop, &r->flush);
	r->flush.data = r;
	r->open_handles = 3;
	return r;

fail_channel:
	ares_destroy(r->channel);
fail:
	free(r);
	return NULL;
}

int resolver_query(struct resolver *r, const char *name, uint16_t qtype,
		   resolver_cb cb, void *arg)
{
	return resolver_query_flags(r, name, qtype, 0, cb, arg);
}

int resolver_query_flags(struct resolver *r, const char *name, uint16_t qtype,
			 unsigned flags, resolver_cb cb, void *arg)
{
	struct rq *q;
	size_t nlen;
	enum dns_rc brc;

	if (!r || !name || !cb || (flags & ~DNS_QUERY_CHAOS))
		return -EINVAL;
	if (r->closing)
		return -ESHUTDOWN;
	if (r->n_live >= RESOLVER_MAX_PENDING)
		return -EAGAIN;
	nlen = strlen(name);
	q = calloc(1, sizeof *q + nlen + 1);
	if (!q)
		return -ENOMEM;
	memcpy(q->name, name, nlen + 1);
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	q->qtype = qtype;
	q->qflags = flags;
	q->started_ns = uv_hrtime();
	q->next = r->live;
	if (r->live)
		r->live->prev = q;
	r->live = q;
	r->n_live++;

	brc = rq_build(q, 0);
	if (brc != DNS_OK) {
		rq_defer(q,
			 brc == DNS_RC_NO_SPACE ? RESOLVER_NO_MEMORY
						: RESOLVER_BAD_NAME,
			 brc);
		return 0;
	}
	enter(r);
	rq_start(q);
	leave(r);
	return 0;
}

size_t resolver_pending(const struct resolver *r)
{
	return r->n_live;
}

uint64_t resolver_queries_sent(const struct resolver *r)
{
	return r->sent;
}

void resolver_free(struct resolver *r)
{
	if (!r || r->closing)
		return;
	r->closing = true;
	if (r->depth == 0) {
		enter(r);
		leave(r);
	}
}
