/*
 * DNS lookups on a libuv loop (see resolver.h).
 *
 * Three layers, kept apart:
 *   - transport: a few connected UDP sockets per server, each watched by a
 *     uv_poll_t. Queries made while the loop runs callbacks are sent
 *     together (sendmmsg) just before the loop polls again; answers are
 *     read in batches (recvmmsg). A truncated answer (TC) is asked again
 *     over TCP, one connection per query. Every try has the same timeout,
 *     so the tries in flight form a queue in deadline order under one
 *     timer. Nothing here knows DNSSEC.
 *   - one small state machine per lookup (struct rq): ask, maybe ask again
 *     with CD and then once more without, deliver. Its input is "this try
 *     ended": an answer, a timeout, an error.
 *   - resolver_judge(): the DNSSEC verdict, a pure function of the answers.
 *
 * Why not c-ares any more: a callgrind profile of a DNS-only scan spent
 * about a sixth of the crawler's instructions inside c-ares (it parses
 * every answer's question again, with allocations, and walks its query
 * lists), it reads one datagram per system call, and all of a channel's
 * queries share one UDP socket, whose receive buffer is where answers were
 * dropped under load. The parts of it we used are small: send our own
 * packet, match the answer by id and question, retry, TCP on truncation.
 *
 * A timed-out try is sent again with the same id (a late answer to an
 * earlier try still counts), to the next server, timeout_ms per try and
 * server, `tries` rounds: a lookup turns into a timeout only after all.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "crawler/dns/resolver.h"

#define RESOLVER_DEFAULT_TIMEOUT_MS 2000
#define RESOLVER_DEFAULT_TRIES 3
/* Sanity bounds on the configuration: beyond these it is a typo. */
#define RESOLVER_MAX_TIMEOUT_MS 600000
#define RESOLVER_MAX_TRIES 16
#define RESOLVER_MAX_SERVERS 8
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
 * recursion of other clients.
 */
#define RESOLVER_MAX_INFLIGHT 512
/*
 * UDP sockets per server. The answers to a socket's queries wait in its
 * receive buffer until the loop reads them; spreading the queries keeps
 * each socket's share (at most RESOLVER_MAX_INFLIGHT / 4 = 128 answers)
 * well inside its buffer even when the loop is late, and the kernel
 * spreads the resolver's replies over four queues.
 */
#define RESOLVER_SOCKS_PER_SERVER 4
/* Parsed messages kept for reuse. At most two are in use at a time (an
 * answer and its CD answer), during the callback only. */
#define RESOLVER_MSG_POOL 4
/*
 * Receive buffer asked for each UDP socket. On loopback each small
 * datagram costs 1-2 KiB of buffer (skb truesize): the default 208 KiB
 * dropped answers at 500 lookups in flight on one socket, and every
 * dropped answer costs a whole timeout. SO_RCVBUF is capped at
 * net.core.rmem_max; as root SO_RCVBUFFORCE is tried first.
 */
#define RESOLVER_SOCK_RCVBUF (1024 * 1024)
/* Datagrams read per recvmmsg() call, and the size of each buffer: a
 * server may ignore our EDNS size; a longer datagram is taken as
 * truncated and asked over TCP. */
#define RESOLVER_RECV_BATCH 32
#define RESOLVER_RECV_MAX 4096
/* The sockets' rest after a read while at least so many lookups are out
 * (see on_udp()). */
#define RESOLVER_REST_MS 1
#define RESOLVER_REST_MIN_INFLIGHT 64
/* Finished lookups kept for reuse per resolver, with room for names of
 * fewer than RESOLVER_RQ_NAME bytes (longer ones are allocated and
 * freed as they come). */
#define RESOLVER_RQ_POOL 1024
#define RESOLVER_RQ_NAME 128
/* Queries sent per sendmmsg() call. */
#define RESOLVER_SEND_BATCH 64
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

/* How one try ended: the transport's word to the lookup. */
enum try_status {
	TRY_ANSWER = 0, /* the answer is in abuf */
	TRY_TIMEOUT,
	TRY_REFUSED,   /* ECONNREFUSED: nothing listens there */
	TRY_ERROR,     /* another send, receive or TCP failure */
	TRY_CANCELLED, /* resolver_free() */
};

/* One lookup's life. */
enum rq_state {
	RQ_NEW = 0,   /* allocated, nothing sent yet */
	RQ_QUEUED,    /* built, waiting for one of RESOLVER_MAX_INFLIGHT */
	RQ_ASKING,    /* the query is out */
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

struct usock;
struct tcpq;

struct rq {
	struct resolver *r;
	struct rq *prev, *next; /* r->live: every lookup not yet delivered */
	struct rq *dnext;	/* r->deferred queue, or r->wait queue */
	/* r->tq_*: the tries in flight, in deadline order */
	struct rq *tprev, *tnext;
	bool in_tq;
	int outq_at;   /* index in r->outq while waiting to be sent, or -1 */
	bool inflight; /* counted in r->n_inflight */
	resolver_cb cb;
	void *arg;
	enum rq_state state;
	uint16_t qtype;
	unsigned qflags; /* DNS_QUERY_CHAOS or 0, for every query built */
	uint16_t id;
	bool has_id;
	bool pooled; /* name[] has RESOLVER_RQ_NAME bytes: back to r->free_rq */
	unsigned sends_left; /* re-sends left after a timeout, this phase */
	unsigned attempt;    /* sends so far this phase: picks the server */
	unsigned server0;    /* the lookup's first server (rotation) */
	unsigned server;     /* the server of the current try */
	bool use_tcp;	     /* truncated over UDP: the phase goes on by TCP */
	struct usock *sock;  /* the UDP socket of the current try */
	struct tcpq *tcp;    /* the TCP connection of the current try */
	uint64_t deadline_ns;
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
	size_t qend; /* end of the question in qbuf (after type and class) */
	uint8_t qbuf[DNS_QUERY_MAX];
	char name[]; /* as given, to build the CD query */
};

/* A connected UDP socket to one server. */
struct usock {
	uv_poll_t poll;
	struct resolver *r;
	int fd;
	unsigned server;
	unsigned inflight; /* tries whose current send went here */
};

/* One query over TCP (RFC 7766: two length bytes, then the message). */
struct tcpq {
	uv_tcp_t h;
	uv_connect_t conn;
	uv_write_t wr;
	struct resolver *r;
	struct rq *q; /* NULL once the lookup is done with it */
	uint8_t *buf; /* what was read: length prefix and message */
	size_t have;
	uint8_t out[2 + DNS_QUERY_MAX];
};

struct server {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct resolver {
	uv_loop_t *loop;
	bool validating;
	unsigned tries;
	uint64_t timeout_ns;
	bool trace; /* state changes to stderr (debug builds) */

	struct server servers[RESOLVER_MAX_SERVERS];
	unsigned nservers;
	unsigned next_server;
	struct usock *socks; /* RESOLVER_SOCKS_PER_SERVER per server */
	unsigned nsocks;

	uv_timer_t timer;     /* the first deadline of tq */
	uv_idle_t idle;	      /* runs deferred callbacks */
	uv_prepare_t prepare; /* sends outq before the loop polls */
	uv_timer_t rest;      /* the sockets' rest (on_udp()) */
	bool resting;
	unsigned open_handles; /* closed in shutdown; freed at zero */

	/* Depth of our frames on the stack that hold user code;
	 * resolver_free() inside them is carried out when it drops to 0. */
	unsigned depth;
	bool closing; /* resolver_free() was called */
	bool shut;    /* lookups cancelled, handles closing */

	struct rq *live;
	size_t n_live;
	struct rq *def_head, *def_tail;
	/* RQ_QUEUED lookups, oldest first; n_inflight: sent and not yet
	 * delivered, at most RESOLVER_MAX_INFLIGHT. */
	struct rq *wait_head, *wait_tail;
	size_t n_inflight;
	/* Tries in flight in deadline order (the timeout is the same for
	 * all, so this is the order they were sent in). */
	struct rq *tq_head, *tq_tail;
	/* UDP tries waiting for the next sendmmsg(). */
	struct rq *outq[RESOLVER_MAX_INFLIGHT];
	unsigned n_out;

	uint64_t sent;
	uint64_t rng;
	size_t ids_used;
	struct rq **byid; /* [65536]: the lookup holding each query id */

	uint8_t (*rbuf)[RESOLVER_RECV_MAX];	   /* [RESOLVER_RECV_BATCH] */
	struct mmsghdr rmsgs[RESOLVER_RECV_BATCH]; /* each over its rbuf */
	struct iovec riov[RESOLVER_RECV_BATCH];

	struct dns_msg *pool[RESOLVER_MSG_POOL];
	size_t n_pool;
	/* Lookups done, kept for reuse (malloc and free were a tenth of the
	 * crawler's CPU in a DNS-only scan); linked by dnext. */
	struct rq *free_rq;
	unsigned n_free_rq;
	char ede_text[RESOLVER_EDE_TEXT_MAX];
};

static void try_ended(struct rq *q, enum try_status st, const uint8_t *abuf,
		      size_t alen);
static void try_send(struct rq *q);
static void pump(struct resolver *r);
static void leave(struct resolver *r);
static void on_idle(uv_idle_t *h);
static void on_handle_closed(uv_handle_t *h);
static void resolver_release(struct resolver *r);

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

static enum resolver_rc rc_from_try(enum try_status st)
{
	switch (st) {
	case TRY_ANSWER:
		return RESOLVER_OK;
	case TRY_TIMEOUT:
		return RESOLVER_TIMEOUT;
	case TRY_REFUSED:
		return RESOLVER_CONN_REFUSED;
	case TRY_CANCELLED:
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

static bool id_alloc(struct rq *q)
{
	struct resolver *r = q->r;

	if (r->ids_used >= RESOLVER_MAX_PENDING)
		return false;
	for (;;) {
		uint16_t id = rng16(r);
		if (r->byid[id])
			continue;
		r->byid[id] = q;
		r->ids_used++;
		q->id = id;
		q->has_id = true;
		return true;
	}
}

static void id_release(struct rq *q)
{
	if (!q->has_id)
		return;
	q->r->byid[q->id] = NULL;
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

static void enter(struct resolver *r)
{
	r->depth++;
}

/* ---- Transport: tries in flight and their deadlines ---------------- */

static void tq_remove(struct rq *q)
{
	struct resolver *r = q->r;

	if (!q->in_tq)
		return;
	if (q->tprev)
		q->tprev->tnext = q->tnext;
	else
		r->tq_head = q->tnext;
	if (q->tnext)
		q->tnext->tprev = q->tprev;
	else
		r->tq_tail = q->tprev;
	q->tprev = q->tnext = NULL;
	q->in_tq = false;
}

/* The try just sent times out timeout_ns from now. */
static void tq_push(struct rq *q)
{
	struct resolver *r = q->r;

	q->deadline_ns = uv_hrtime() + r->timeout_ns;
	q->tnext = NULL;
	q->tprev = r->tq_tail;
	if (r->tq_tail)
		r->tq_tail->tnext = q;
	else
		r->tq_head = q;
	r->tq_tail = q;
	q->in_tq = true;
}

static void on_timer(uv_timer_t *t);

/* Arms the timer for the first deadline unless it runs already: a timer
 * made early by answers only costs a lap, after which it is set again.
 * Deadlines are read from uv_hrtime(), not the loop's cached clock, so a
 * try never times out before its full timeout has passed. */
static void arm_timer(struct resolver *r)
{
	if (!r->tq_head) {
		uv_timer_stop(&r->timer);
		return;
	}
	if (uv_is_active((uv_handle_t *)&r->timer))
		return;
	uint64_t now = uv_hrtime(), due = r->tq_head->deadline_ns;
	uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
	uv_timer_start(&r->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct resolver *r = t->data;
	uint64_t now = uv_hrtime();
	struct rq *q;

	enter(r);
	/* A re-sent try goes to the tail with a later deadline: the loop
	 * ends. */
	while (!r->closing && (q = r->tq_head) && q->deadline_ns <= now)
		try_ended(q, TRY_TIMEOUT, NULL, 0);
	leave(r);
}

static void outq_remove(struct rq *q)
{
	struct resolver *r = q->r;

	if (q->outq_at < 0)
		return;
	r->outq[q->outq_at] = r->outq[--r->n_out];
	r->outq[q->outq_at]->outq_at = q->outq_at;
	q->outq_at = -1;
}

static void tcp_close(struct tcpq *t);

/* The current try is over, however it ended: out of every queue, its
 * socket's count, its TCP connection closed. */
static void try_detach(struct rq *q)
{
	tq_remove(q);
	outq_remove(q);
	if (q->sock) {
		q->sock->inflight--;
		q->sock = NULL;
	}
	if (q->tcp) {
		q->tcp->q = NULL;
		tcp_close(q->tcp);
		q->tcp = NULL;
	}
}

/* ---- Transport: UDP ------------------------------------------------ */

static void send_now(struct resolver *r);

static void on_prepare(uv_prepare_t *h)
{
	struct resolver *r = h->data;

	enter(r);
	send_now(r);
	leave(r);
}

/* Sends every waiting try, a sendmmsg() per socket and batch. A datagram
 * the kernel does not take is not retried here: its try times out and is
 * sent again like a lost one. */
static void send_now(struct resolver *r)
{
	struct mmsghdr msgs[RESOLVER_SEND_BATCH];
	struct iovec iov[RESOLVER_SEND_BATCH];
	struct rq *batch[RESOLVER_SEND_BATCH];

	uv_prepare_stop(&r->prepare);
	while (r->n_out > 0) {
		struct usock *s = r->outq[0]->sock;
		unsigned n = 0;
		for (unsigned i = 0; i < r->n_out && n < RESOLVER_SEND_BATCH;) {
			struct rq *q = r->outq[i];
			if (q->sock != s) {
				i++;
				continue;
			}
			batch[n] = q;
			iov[n] = (struct iovec){ q->qbuf, q->qlen };
			memset(&msgs[n], 0, sizeof msgs[n]);
			msgs[n].msg_hdr.msg_iov = &iov[n];
			msgs[n].msg_hdr.msg_iovlen = 1;
			n++;
			outq_remove(q); /* moves the last entry to i */
		}
		for (unsigned done = 0, again = 0; done < n;) {
			int k = sendmmsg(s->fd, msgs + done, n - done, 0);
			if (k > 0) {
				done += (unsigned)k;
				continue;
			}
			/* An earlier ICMP error is reported once, on this
			 * call: the datagrams were not sent yet. */
			if (k < 0 &&
			    (errno == EINTR || errno == ECONNREFUSED) &&
			    again++ < 2)
				continue;
			break;
		}
		for (unsigned i = 0; i < n; i++)
			tq_push(batch[i]);
	}
}

/* Queues the current try of q for the next sendmmsg(), on the least busy
 * socket of its server. */
static void udp_send(struct rq *q)
{
	struct resolver *r = q->r;
	struct usock *best = NULL;

	for (unsigned i = 0; i < RESOLVER_SOCKS_PER_SERVER; i++) {
		struct usock *s =
		    &r->socks[q->server * RESOLVER_SOCKS_PER_SERVER + i];
		if (!best || s->inflight < best->inflight)
			best = s;
	}
	q->sock = best;
	best->inflight++;
	if (r->n_out == RESOLVER_MAX_INFLIGHT)
		send_now(r); /* cannot happen: one entry per lookup in flight */
	q->outq_at = (int)r->n_out;
	r->outq[r->n_out++] = q;
	if (!uv_is_active((uv_handle_t *)&r->prepare))
		uv_prepare_start(&r->prepare, on_prepare);
}

/* Whether pkt's question is the one q asked (the name's letters in any
 * case): an answer with our id but another question is not ours. */
static bool same_question(const struct rq *q, const uint8_t *pkt, size_t len)
{
	size_t n = q->qend - DNS_HEADER_LEN;

	if (len < q->qend || pkt[4] != 0 || pkt[5] != 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t a = pkt[DNS_HEADER_LEN + i];
		uint8_t b = q->qbuf[DNS_HEADER_LEN + i];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

static void tcp_start(struct rq *q);

/* A datagram from socket s. */
static void udp_datagram(struct usock *s, const uint8_t *pkt, size_t len,
			 bool cut)
{
	struct resolver *r = s->r;
	struct rq *q;

	if (len < DNS_HEADER_LEN || !(pkt[2] & 0x80)) /* QR */
		return;
	q = r->byid[(uint16_t)(pkt[0] << 8 | pkt[1])];
	if (!q || q->use_tcp || !same_question(q, pkt, len))
		return;
	if (q->state != RQ_ASKING && q->state != RQ_ASKING_CD &&
	    q->state != RQ_ASKING_AGAIN)
		return;
	if (cut || (pkt[2] & 0x02)) { /* TC */
		/* The same question to the same server over TCP, within
		 * the same try (c-ares did the same). */
		try_detach(q);
		q->use_tcp = true;
		r->sent++;
		tcp_start(q);
		return;
	}
	try_ended(q, TRY_ANSWER, pkt, len);
}

/* Ends every try whose current datagram went to s with st. */
static void udp_fail_socket(struct usock *s, enum try_status st)
{
	struct resolver *r = s->r;
	bool again = true;

	while (again && !r->closing) {
		again = false;
		for (struct rq *q = r->live; q; q = q->next) {
			if (q->sock == s && q->outq_at < 0 && q->in_tq) {
				try_ended(q, st, NULL, 0);
				again = true; /* the list may have changed */
				break;
			}
		}
	}
}

/* Reads what socket s holds, in batches. */
static void udp_read(struct usock *s)
{
	struct resolver *r = s->r;
	struct mmsghdr *msgs = r->rmsgs;

	while (!r->closing) {
		/* r->rmsgs point at r->rbuf since resolver_new(); the kernel
		 * writes only msg_len and msg_flags. */
		int n = recvmmsg(s->fd, msgs, RESOLVER_RECV_BATCH, MSG_DONTWAIT,
				 NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED) {
				/* ICMP port unreachable, reported once. */
				udp_fail_socket(s, TRY_REFUSED);
				continue;
			}
			return; /* EAGAIN: all read */
		}
		for (int i = 0; i < n && !r->closing; i++)
			udp_datagram(s, r->rbuf[i], msgs[i].msg_len,
				     (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) !=
					 0);
		if (n < RESOLVER_RECV_BATCH)
			return;
	}
}

static void on_udp(uv_poll_t *h, int status, int events);

static void on_rest(uv_timer_t *t)
{
	struct resolver *r = t->data;

	r->resting = false;
	for (unsigned i = 0; i < r->nsocks; i++)
		uv_poll_start(&r->socks[i].poll, UV_READABLE, on_udp);
}

/*
 * Answers are read from every socket at once, and while many queries are
 * out the sockets then rest for RESOLVER_REST_MS before they are watched
 * again: answers trickle in one or two per wake-up otherwise, and the
 * wake-ups (a context switch each) were a fifth of a DNS-only scan's CPU.
 * A millisecond is nothing next to a lookup's time, and a rest holds far
 * fewer answers than a socket's buffer (RESOLVER_SOCK_RCVBUF).
 */
static void on_udp(uv_poll_t *h, int status, int events)
{
	struct usock *s = h->data;
	struct resolver *r = s->r;

	(void)status;
	(void)events;
	enter(r);
	udp_read(s);
	for (unsigned i = 0; i < r->nsocks && !r->closing; i++)
		if (&r->socks[i] != s)
			udp_read(&r->socks[i]);
	if (!r->closing && !r->resting &&
	    r->n_inflight >= RESOLVER_REST_MIN_INFLIGHT) {
		r->resting = true;
		for (unsigned i = 0; i < r->nsocks; i++)
			uv_poll_stop(&r->socks[i].poll);
		uv_timer_start(&r->rest, on_rest, RESOLVER_REST_MS, 0);
	}
	leave(r);
}

static int usock_open(struct resolver *r, struct usock *s, unsigned server)
{
	const struct server *sv = &r->servers[server];
	int fd = socket(sv->ss.ss_family,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int size = RESOLVER_SOCK_RCVBUF;

	if (fd < 0)
		return -errno;
	/* Past net.core.rmem_max when we may (root); else as far as it
	 * lets us. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (connect(fd, (const struct sockaddr *)&sv->ss, sv->len) != 0 ||
	    uv_poll_init_socket(r->loop, &s->poll, fd) != 0) {
		int e = errno ? -errno : -EINVAL;
		close(fd);
		return e;
	}
	s->r = r;
	s->fd = fd;
	s->server = server;
	s->poll.data = s;
	r->open_handles++;
	uv_poll_start(&s->poll, UV_READABLE, on_udp);
	/* An idle resolver does not keep the loop running: the timer does
	 * while tries are in flight. */
	uv_unref((uv_handle_t *)&s->poll);
	return 0;
}

/* ---- Transport: TCP ------------------------------------------------ */

static void on_tcp_closed(uv_handle_t *h)
{
	struct tcpq *t = h->data;
	struct resolver *r = t->r;

	free(t->buf);
	free(t);
	if (--r->open_handles == 0 && r->shut)
		resolver_release(r);
}

static void tcp_close(struct tcpq *t)
{
	uv_close((uv_handle_t *)&t->h, on_tcp_closed);
}

/* The TCP try of t ended with st (and an answer when TRY_ANSWER). */
static void tcp_end(struct tcpq *t, enum try_status st, const uint8_t *pkt,
		    size_t len)
{
	struct rq *q = t->q;
	struct resolver *r = t->r;

	if (!q)
		return;
	enter(r);
	/* try_ended() detaches q, which closes t; t->buf lives until the
	 * close callback, after this. */
	try_ended(q, st, pkt, len);
	leave(r);
}

static void on_tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tcpq *t = h->data;

	(void)hint;
	if (!t->buf)
		t->buf = malloc(2 + 65535);
	*buf = uv_buf_init(t->buf ? (char *)t->buf + t->have : NULL,
			   t->buf ? (unsigned)(2 + 65535 - t->have) : 0);
}

static void on_tcp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct tcpq *t = st->data;

	(void)buf;
	if (!t->q)
		return;
	if (n < 0) {
		tcp_end(t, TRY_ERROR, NULL, 0); /* closed before the answer */
		return;
	}
	t->have += (size_t)n;
	if (t->have < 2)
		return;
	size_t need = 2 + ((size_t)t->buf[0] << 8 | t->buf[1]);
	if (t->have >= need)
		tcp_end(t, TRY_ANSWER, t->buf + 2, need - 2);
}

static void on_tcp_write(uv_write_t *w, int status)
{
	struct tcpq *t = w->data;

	if (status < 0 && t->q)
		tcp_end(t, TRY_ERROR, NULL, 0);
}

static void on_tcp_connect(uv_connect_t *c, int status)
{
	struct tcpq *t = c->data;
	struct rq *q = t->q;

	if (!q)
		return;
	if (status < 0) {
		tcp_end(t, status == UV_ECONNREFUSED ? TRY_REFUSED : TRY_ERROR,
			NULL, 0);
		return;
	}
	t->out[0] = (uint8_t)(q->qlen >> 8);
	t->out[1] = (uint8_t)(q->qlen & 0xff);
	memcpy(t->out + 2, q->qbuf, q->qlen);
	uv_buf_t b = uv_buf_init((char *)t->out, (unsigned)(2 + q->qlen));
	t->wr.data = t;
	if (uv_write(&t->wr, (uv_stream_t *)&t->h, &b, 1, on_tcp_write) != 0 ||
	    uv_read_start((uv_stream_t *)&t->h, on_tcp_alloc, on_tcp_read) != 0)
		tcp_end(t, TRY_ERROR, NULL, 0);
}

/* Asks q's current question over TCP. A connection that cannot even be
 * started leaves the try to its timeout. */
static void tcp_start(struct rq *q)
{
	struct resolver *r = q->r;
	struct tcpq *t = calloc(1, sizeof *t);

	tq_push(q);
	if (!t)
		return;
	t->r = r;
	t->q = q;
	t->h.data = t;
	t->conn.data = t;
	if (uv_tcp_init(r->loop, &t->h) != 0) {
		free(t);
		return;
	}
	r->open_handles++;
	q->tcp = t;
	if (uv_tcp_connect(&t->conn, &t->h,
			   (const struct sockaddr *)&r->servers[q->server].ss,
			   on_tcp_connect) != 0) {
		q->tcp = NULL;
		t->q = NULL;
		tcp_close(t);
	}
}

/* Sends q's current query: to the next server in turn, by UDP unless
 * this phase went over to TCP. */
static void try_send(struct rq *q)
{
	struct resolver *r = q->r;

	if (!q->inflight) {
		q->inflight = true;
		r->n_inflight++;
	}
	r->sent++;
	q->server = (q->server0 + q->attempt++) % r->nservers;
	if (q->use_tcp)
		tcp_start(q);
	else
		udp_send(q);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct resolver *r;

	if (h->type == UV_POLL) {
		struct usock *s = h->data;
		r = s->r;
		close(s->fd);
	} else {
		r = h->data;
	}
	if (--r->open_handles == 0 && r->shut)
		resolver_release(r);
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
	try_detach(q);
	id_release(q);
	rq_set_state(q, RQ_DONE);
	live_unlink(r, q);
	if (q->inflight)
		r->n_inflight--;
	q->cb(q->arg, a);
	free(q->first);
	free(q->cd);
	if (q->pooled && r->n_free_rq < RESOLVER_RQ_POOL && !r->shut) {
		q->dnext = r->free_rq;
		r->free_rq = q;
		r->n_free_rq++;
	} else {
		free(q);
	}
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

/* Builds the query with a fresh id; flags as for dns_wire_query(). A new
 * phase starts: every server `tries` times, by UDP first. */
static enum dns_rc rq_build(struct rq *q, unsigned flags)
{
	enum dns_rc rc;

	id_release(q);
	if (!id_alloc(q))
		return DNS_RC_NO_SPACE; /* cannot happen below the cap */
	rc = dns_wire_query(q->qbuf, sizeof q->qbuf, q->id, q->name, q->qtype,
			    flags | q->qflags, &q->qlen);
	if (rc != DNS_OK) {
		id_release(q);
		return rc;
	}
	/* The question ends after its name, type and class. */
	size_t at = DNS_HEADER_LEN;
	while (at < q->qlen && q->qbuf[at] != 0)
		at += 1 + (size_t)q->qbuf[at];
	q->qend = at + 1 + 4;
	q->sends_left = q->r->tries * q->r->nservers - 1;
	q->attempt = 0;
	q->use_tcp = false;
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
	try_send(q);
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
	try_send(q);
}

/* The current try of q ended: an answer (st TRY_ANSWER, abuf), a timeout,
 * an error. A timeout is sent again while the phase has sends left. */
static void try_ended(struct rq *q, enum try_status st, const uint8_t *abuf,
		      size_t alen)
{
	struct resolver *r = q->r;
	struct dns_msg *m;
	enum dns_rc prc;

	try_detach(q);
	if (r->closing) {
		rq_deliver_rc(q, RESOLVER_CANCELLED, DNS_OK);
		return;
	}
	if (st == TRY_TIMEOUT && q->sends_left > 0) {
		/* Same packet, same id: an answer to an earlier try that is
		 * late still counts. */
		q->sends_left--;
		try_send(q);
		return;
	}
	id_release(q);
	if (st != TRY_ANSWER)
		abuf = NULL;
	switch (q->state) {
	case RQ_ASKING:
		if (!abuf) {
			rq_deliver_rc(q, rc_from_try(st), DNS_OK);
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
		rq_after_cd(q, abuf, alen);
		return;
	case RQ_ASKING_AGAIN:
		rq_finish(q, q->first, q->first_len, NULL, DNS_OK, true, q->cd,
			  q->cd_len, true, abuf, alen);
		return;
	default:
		/* A try ended for a lookup that has none out. */
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

	if (r->n_inflight < RESOLVER_MAX_INFLIGHT && !r->wait_head) {
		rq_set_state(q, RQ_ASKING);
		try_send(q);
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
 * inside the transport's callbacks too (as the CD re-query does). */
static void pump(struct resolver *r)
{
	while (!r->closing && r->n_inflight < RESOLVER_MAX_INFLIGHT &&
	       r->wait_head) {
		struct rq *q = wait_pop(r);
		rq_set_state(q, RQ_ASKING);
		q->started_ns = uv_hrtime(); /* the wait is not the DNS's */
		try_send(q);
	}
}

/* ---- Life cycle ---------------------------------------------------- */

static void shutdown_now(struct resolver *r)
{
	struct rq *q;

	r->shut = true;
	r->depth++; /* callbacks below must not come back here */
	r->n_out = 0;
	while ((q = r->def_head)) {
		r->def_head = q->dnext;
		if (!r->def_head)
			r->def_tail = NULL;
		rq_deliver_rc(q, RESOLVER_CANCELLED, DNS_OK);
	}
	while ((q = wait_pop(r)))
		rq_deliver_rc(q, RESOLVER_CANCELLED, DNS_OK);
	/* Every lookup still out: each callback runs once. */
	while (r->live)
		rq_deliver_rc(r->live, RESOLVER_CANCELLED, DNS_OK);
	r->depth--;
	for (unsigned i = 0; i < r->nsocks; i++)
		if (r->socks[i].r)
			uv_close((uv_handle_t *)&r->socks[i].poll,
				 on_handle_closed);
	for (size_t i = 0; i < r->n_pool; i++)
		free(r->pool[i]);
	r->n_pool = 0;
	while (r->free_rq) {
		struct rq *f = r->free_rq;
		r->free_rq = f->dnext;
		free(f);
	}
	r->n_free_rq = 0;
	uv_close((uv_handle_t *)&r->timer, on_handle_closed);
	uv_close((uv_handle_t *)&r->idle, on_handle_closed);
	uv_close((uv_handle_t *)&r->prepare, on_handle_closed);
	uv_close((uv_handle_t *)&r->rest, on_handle_closed);
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
	arm_timer(r);
}

/* One "ip:port", "ip", "[ipv6]:port" or bare IPv6 address of `len` bytes
 * at s; port 53 when none is given. */
static bool parse_server(const char *s, size_t len, struct server *out)
{
	char buf[INET6_ADDRSTRLEN + 16];
	char *host = buf, *port = NULL;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');
		if (!end)
			return false;
		*end = '\0';
		host = buf + 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return false;
	} else {
		char *colon = strchr(buf, ':');
		if (colon && !strchr(colon + 1, ':')) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	unsigned long p = 53;
	if (port) {
		char *end;
		p = strtoul(port, &end, 10);
		if (!*port || *end || p == 0 || p > 65535)
			return false;
	}
	memset(out, 0, sizeof *out);
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		out->len = sizeof *v4;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		out->len = sizeof *v6;
	} else {
		return false;
	}
	return true;
}

static bool parse_servers(struct resolver *r, const char *csv)
{
	const char *s = csv;

	r->nservers = 0;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		if (r->nservers == RESOLVER_MAX_SERVERS ||
		    !parse_server(s, len, &r->servers[r->nservers]))
			return false;
		r->nservers++;
		if (!comma)
			return true;
		s = comma + 1;
	}
}

static void resolver_release(struct resolver *r)
{
	free(r->socks);
	free(r->byid);
	free(r->rbuf);
	free(r);
}

struct resolver *resolver_new(uv_loop_t *loop,
			      const struct resolver_config *cfg,
			      const char **err)
{
	struct resolver *r;
	const char *dummy;

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
	r = calloc(1, sizeof *r);
	if (!r) {
		*err = "out of memory";
		return NULL;
	}
	r->loop = loop;
	r->validating = cfg->validating;
	r->tries = cfg->tries ? cfg->tries : RESOLVER_DEFAULT_TRIES;
	r->timeout_ns =
	    (uint64_t)(cfg->timeout_ms ? cfg->timeout_ms
				       : RESOLVER_DEFAULT_TIMEOUT_MS) *
	    1000000;
#ifndef NDEBUG
	r->trace = getenv("MXCRAWL_TRACE_RESOLVER") != NULL;
#endif
	if (getrandom(&r->rng, sizeof r->rng, 0) != sizeof r->rng)
		r->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)r;
	r->rng |= 1; /* xorshift must not start at 0 */
	if (!parse_servers(r, cfg->servers)) {
		*err = "bad resolver address (want ip:port[,ip:port])";
		free(r);
		return NULL;
	}
	r->byid = calloc(65536, sizeof *r->byid);
	r->rbuf = malloc(RESOLVER_RECV_BATCH * sizeof *r->rbuf);
	r->nsocks = r->nservers * RESOLVER_SOCKS_PER_SERVER;
	r->socks = calloc(r->nsocks, sizeof *r->socks);
	if (!r->byid || !r->rbuf || !r->socks) {
		*err = "out of memory";
		resolver_release(r);
		return NULL;
	}
	for (unsigned i = 0; i < RESOLVER_RECV_BATCH; i++) {
		r->riov[i] = (struct iovec){ r->rbuf[i], RESOLVER_RECV_MAX };
		r->rmsgs[i].msg_hdr.msg_iov = &r->riov[i];
		r->rmsgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (unsigned i = 0; i < r->nsocks; i++) {
		int rc =
		    usock_open(r, &r->socks[i], i / RESOLVER_SOCKS_PER_SERVER);
		if (rc != 0) {
			*err = "cannot open a UDP socket to the resolver";
			/* The ones opened close on the loop. */
			r->closing = r->shut = true;
			r->open_handles++;
			for (unsigned k = 0; k < i; k++)
				uv_close((uv_handle_t *)&r->socks[k].poll,
					 on_handle_closed);
			if (--r->open_handles == 0)
				resolver_release(r);
			return NULL;
		}
	}
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	uv_idle_init(loop, &r->idle);
	r->idle.data = r;
	uv_prepare_init(loop, &r->prepare);
	r->prepare.data = r;
	uv_timer_init(loop, &r->rest);
	r->rest.data = r;
	uv_unref((uv_handle_t *)&r->rest);
	r->open_handles += 4;
	return r;
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
	/* Not calloc: the query buffer is written before it is read. */
	if (nlen < RESOLVER_RQ_NAME && r->free_rq) {
		q = r->free_rq;
		r->free_rq = q->dnext;
		r->n_free_rq--;
	} else {
		q = malloc(sizeof *q + (nlen < RESOLVER_RQ_NAME
					    ? RESOLVER_RQ_NAME
					    : nlen + 1));
		if (!q)
			return -ENOMEM;
	}
	memset(q, 0, offsetof(struct rq, qbuf));
	q->pooled = nlen < RESOLVER_RQ_NAME;
	memcpy(q->name, name, nlen + 1);
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	q->qtype = qtype;
	q->qflags = flags;
	q->outq_at = -1;
	q->server0 = r->next_server++ % r->nservers;
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
