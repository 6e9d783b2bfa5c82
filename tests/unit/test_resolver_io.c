/*
 * crawler/dns/resolver.c's socket plumbing (c-ares' UDP sockets batched by
 * dnsio.c) against a UDP server on the same loop: 300 lookups, more than
 * four batches each way. The server holds every query until all have
 * arrived, then answers them at once in reverse order. Every query must
 * reach it once, in the order resolver_query() was called (nothing
 * dropped, doubled or reordered by the send queue), and every lookup must
 * get its own answer (its name), once (nothing dropped or mixed up by the
 * read batches). Runs on 127.0.0.1 only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "crawler/dns/resolver.h"
#include "unit.h"

#define RIO_N 300

struct rio_server {
	int fd;
	uv_poll_t poll;
	unsigned got;	       /* queries received */
	unsigned order_errors; /* a query out of the order asked */
	struct sockaddr_in peer;
	uint8_t q[RIO_N][512];
	size_t qlen[RIO_N];
};

struct rio_lookup {
	char name[32];
	unsigned answers;
	bool ok;
};

static struct rio_lookup rio_lookups[RIO_N];

/* The index i of the name "n<i>.rio.test" in a query, or -1. */
static int rio_index(const uint8_t *q, size_t len)
{
	char name[64];
	size_t p = 12, o = 0;
	int i;

	while (p < len && q[p] && o + q[p] + 1 < sizeof name) {
		memcpy(name + o, q + p + 1, q[p]);
		o += q[p];
		name[o++] = '.';
		p += 1 + (size_t)q[p];
	}
	name[o] = '\0';
	if (sscanf(name, "n%d.rio.test.", &i) != 1)
		return -1;
	return i;
}

/* One query from fd into buf[512] (its sender into *peer): its length,
 * or < 12 when none is left. */
static ssize_t rio_recv(int fd, uint8_t *buf, struct sockaddr_in *peer)
{
	socklen_t plen = sizeof *peer;

	return recvfrom(fd, buf, 512, MSG_DONTWAIT, (struct sockaddr *)peer,
			&plen);
}

/* Answers query q: the query itself with QR and RA set (NOERROR, no
 * records). */
static void rio_reply(int fd, const struct sockaddr_in *peer, uint8_t *q,
		      size_t len)
{
	q[2] |= 0x80;
	q[3] |= 0x80;
	(void)sendto(fd, q, len, 0, (const struct sockaddr *)peer,
		     sizeof *peer);
}

static void rio_on_query(uv_poll_t *h, int status, int events)
{
	struct rio_server *s = h->data;

	(void)status;
	(void)events;
	for (;;) {
		uint8_t buf[512];
		ssize_t n = rio_recv(s->fd, buf, &s->peer);
		if (n < 12)
			break;
		if (s->got >= RIO_N) {
			s->order_errors++; /* one too many */
			continue;
		}
		if (rio_index(buf, (size_t)n) != (int)s->got)
			s->order_errors++;
		memcpy(s->q[s->got], buf, (size_t)n);
		s->qlen[s->got] = (size_t)n;
		s->got++;
	}
	if (s->got < RIO_N)
		return;
	/* All there: answer in reverse, each the query with QR and RA set
	 * (NOERROR, no records), as fast as the socket takes them. */
	for (unsigned i = RIO_N; i-- > 0;)
		rio_reply(s->fd, &s->peer, s->q[i], s->qlen[i]);
	uv_poll_stop(&s->poll);
}

static void rio_on_answer(void *arg, const struct resolver_answer *a)
{
	struct rio_lookup *l = arg;
	char want[40];

	l->answers++;
	snprintf(want, sizeof want, "%s", l->name);
	l->ok = a->rc == RESOLVER_OK && a->msg && a->rcode == 0 &&
		strcmp(a->msg->qname, want) == 0;
}

/* A UDP socket on 127.0.0.1 at a free port, read on `loop` by cb (with
 * `data`); "127.0.0.1:PORT" into servers. -1 when it cannot be had. */
static int rio_listen(uv_loop_t *loop, uv_poll_t *poll, uv_poll_cb cb,
		      void *data, char *servers, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int rcv = 1 << 20;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0 ||
	    uv_poll_init_socket(loop, poll, fd) != 0) {
		close(fd);
		return -1;
	}
	snprintf(servers, n, "127.0.0.1:%u", ntohs(a.sin_port));
	poll->data = data;
	uv_poll_start(poll, UV_READABLE, cb);
	return fd;
}

/* Asks r for n<i>.rio.test (A), i < n, answered into rio_lookups[i], and
 * runs the loop until none is pending (answered or timed out). */
static void rio_ask_all(uv_loop_t *loop, struct resolver *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		snprintf(rio_lookups[i].name, sizeof rio_lookups[i].name,
			 "n%u.rio.test", i);
		CHECK_INT(resolver_query(r, rio_lookups[i].name, 1,
					 rio_on_answer, &rio_lookups[i]),
			  0, "query");
	}
	while (resolver_pending(r) > 0 && uv_run(loop, UV_RUN_ONCE))
		;
}

static void rio_close(uv_loop_t *loop, struct resolver *r, uv_poll_t *poll,
		      int fd)
{
	resolver_free(r);
	uv_close((uv_handle_t *)poll, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(loop) == 0);
	close(fd);
}

UNIT_TEST(test_resolver_io_batches_keep_every_datagram)
{
	static struct rio_server s;
	struct resolver_config cfg = { 0 };
	struct resolver *r;
	const char *err = NULL;
	char servers[64];
	uv_loop_t loop;
	unsigned answered = 0, right = 0, twice = 0;

	memset(&s, 0, sizeof s);
	memset(rio_lookups, 0, sizeof rio_lookups);
	CHECK(uv_loop_init(&loop) == 0);
	s.fd = rio_listen(&loop, &s.poll, rio_on_query, &s, servers,
			  sizeof servers);
	CHECK(s.fd >= 0);
	cfg.servers = servers;
	cfg.timeout_ms = 5000;
	cfg.tries = 1;
	r = resolver_new(&loop, &cfg, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	rio_ask_all(&loop, r, RIO_N);
	for (unsigned i = 0; i < RIO_N; i++) {
		answered += rio_lookups[i].answers > 0;
		twice += rio_lookups[i].answers > 1;
		right += rio_lookups[i].ok;
	}
	CHECK_INT(s.got, RIO_N, "queries at the server");
	CHECK_INT(s.order_errors, 0, "queries out of order or doubled");
	CHECK_INT(answered, RIO_N, "lookups answered");
	CHECK_INT(twice, 0, "lookups answered twice");
	CHECK_INT(right, RIO_N, "lookups with their own answer");
	CHECK_INT(resolver_queries_sent(r), RIO_N, "queries sent");
	rio_close(&loop, r, &s.poll, s.fd);
}

struct rio_refused {
	unsigned answers, refused;
	unsigned max_ms;
};

static void rio_on_refused(void *arg, const struct resolver_answer *a)
{
	struct rio_refused *x = arg;

	x->answers++;
	x->refused += a->rc == RESOLVER_CONN_REFUSED;
	if (a->elapsed_ms > x->max_ms)
		x->max_ms = a->elapsed_ms;
}

/*
 * A port nobody listens on: the kernel answers each datagram with ICMP
 * port unreachable, and the error reaches the socket as a failed read or
 * as a refused datagram of a later sendmmsg() (dnsio.h keeps it for the
 * next read). Either way every lookup ends as conn_refused at once, none
 * waits for its timeout: an error lost on the way would make it one.
 */
UNIT_TEST(test_resolver_io_refused_port_errors_not_lost)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	struct resolver_config cfg = { 0 };
	struct rio_refused x = { 0 };
	struct resolver *r;
	const char *err = NULL;
	char servers[64];
	uv_loop_t loop;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	/* A port that was free a moment ago and is closed now. */
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	close(fd);
	snprintf(servers, sizeof servers, "127.0.0.1:%u", ntohs(a.sin_port));

	CHECK(uv_loop_init(&loop) == 0);
	cfg.servers = servers;
	cfg.timeout_ms = 10000;
	cfg.tries = 1;
	r = resolver_new(&loop, &cfg, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	for (unsigned i = 0; i < 40; i++) {
		char name[32];
		snprintf(name, sizeof name, "r%u.rio.test", i);
		CHECK_INT(resolver_query(r, name, 1, rio_on_refused, &x), 0,
			  "query");
	}
	while (resolver_pending(r) > 0 && uv_run(&loop, UV_RUN_ONCE))
		;
	CHECK_INT(x.answers, 40, "lookups ended");
	CHECK_INT(x.refused, 40, "lookups refused");
	CHECK(x.max_ms < 5000); /* none waited for its timeout */
	resolver_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
}

/*
 * The cap on lookups in flight (resolver_config.max_inflight,
 * --dns-inflight): a server that answers only when it holds exactly CAP
 * queries (or the last ones) sees CAP at once, never more, and every
 * lookup is answered. A resolver that sent more than CAP would show it
 * in max_held; one that kept fewer out would leave the server waiting,
 * and its lookups would end by their timeout instead of their answers.
 */
#define RIO_CAP 7
#define RIO_CAP_N 50

struct rio_cap_server {
	int fd;
	uv_poll_t poll;
	unsigned got, held, max_held;
	struct sockaddr_in peer;
	uint8_t q[RIO_CAP_N][512];
	size_t qlen[RIO_CAP_N];
};

static void rio_cap_on_query(uv_poll_t *h, int status, int events)
{
	struct rio_cap_server *s = h->data;

	(void)status;
	(void)events;
	for (;;) {
		if (s->got >= RIO_CAP_N)
			break;
		ssize_t n = rio_recv(s->fd, s->q[s->held], &s->peer);
		if (n < 12)
			break;
		s->qlen[s->held] = (size_t)n;
		s->got++;
		s->held++;
		if (s->held > s->max_held)
			s->max_held = s->held;
		if (s->held > RIO_CAP)
			return; /* over the cap: answer nothing more */
	}
	if (s->held < RIO_CAP && s->got < RIO_CAP_N)
		return;
	for (unsigned i = 0; i < s->held; i++)
		rio_reply(s->fd, &s->peer, s->q[i], s->qlen[i]);
	s->held = 0;
}

UNIT_TEST(test_resolver_io_inflight_cap)
{
	static struct rio_cap_server s;
	struct resolver_config cfg = { 0 };
	struct resolver *r;
	const char *err = NULL;
	char servers[64];
	uv_loop_t loop;
	unsigned right = 0;

	memset(&s, 0, sizeof s);
	memset(rio_lookups, 0, sizeof rio_lookups);
	CHECK(uv_loop_init(&loop) == 0);
	s.fd = rio_listen(&loop, &s.poll, rio_cap_on_query, &s, servers,
			  sizeof servers);
	CHECK(s.fd >= 0);
	cfg.servers = servers;
	cfg.timeout_ms = 3000;
	cfg.tries = 1;

	/* Over the limit: refused with a reason. */
	cfg.max_inflight = RESOLVER_MAX_INFLIGHT_LIMIT + 1;
	CHECK(resolver_new(&loop, &cfg, &err) == NULL);
	CHECK(err != NULL);

	cfg.max_inflight = RIO_CAP;
	r = resolver_new(&loop, &cfg, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	rio_ask_all(&loop, r, RIO_CAP_N);
	for (unsigned i = 0; i < RIO_CAP_N; i++)
		right += rio_lookups[i].answers == 1 && rio_lookups[i].ok;
	CHECK_INT(s.got, RIO_CAP_N, "queries at the server");
	CHECK_INT(s.max_held, RIO_CAP, "most queries out at once");
	CHECK_INT(right, RIO_CAP_N, "lookups answered once, each its own");
	rio_close(&loop, r, &s.poll, s.fd);
}
