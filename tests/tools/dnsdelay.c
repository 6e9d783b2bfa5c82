/*
 * dnsdelay: a DNS relay for the testbed that adds real-world round-trip
 * time between the resolver (unbound) and the authoritative server (NSD).
 * The kernel here has no netem, so the delay is made in user space: every
 * question is held for its delay, then passed on; the answer goes back at
 * once. Not part of mxcrawl itself (tests/testbed/up --latency dns=...).
 *
 *   dnsdelay [--delay S] [--jitter S] [--slow-share F] [--slow-delay S]
 *            [--seed N] FRONT=BACKEND [FRONT=BACKEND...]
 *
 * FRONT is the IPv4 address the resolver asks (port 53, UDP and TCP: the
 * address the delegations name), BACKEND the address NSD listens on. A
 * question waits delay + a uniform draw from [0, jitter) seconds; a
 * question whose name falls in the slow share (a hash of the lower-cased
 * name and the seed, so the same name is slow every time, also when the
 * resolver asks again) waits slow-delay + the jitter draw instead. So the
 * round trip is never shorter than the configured delay.
 *
 * UDP: one upstream socket per front; the relay puts an ID of its own into
 * each question and maps the answer back to the resolver's address and ID.
 * TCP: one upstream connection per resolver connection; what the resolver
 * writes is held as a chunk for the delay of the first question in it (so
 * the order on the stream is kept), answers are copied back at once.
 *
 * SIGTERM or SIGINT: print the counters on stdout and exit 0. SIGUSR1:
 * print them and go on. SIGUSR2: turn the delay off (every question passes
 * at once, the relay stays in the path), or on again: scripts/bench
 * measures with and without latency on one testbed. Exit status 64 on bad usage, 1 when a socket
 * cannot be set up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRONTS 16
/* Datagrams read per recvmmsg call. */
#define BATCH 64
/* A UDP DNS message is at most this long. */
#define DGRAM_MAX 65535
/* An ID is reused after 65,536 questions on one front: an answer that has
 * not come back by then is forgotten (the resolver asks again). */
#define IDS 65536
/* The relay works on a tick of this many ns: questions are read from the
 * resolver's sockets once a tick (one recvmmsg for many; a question's delay
 * counts from then), and those that are due leave once a tick (one
 * sendmmsg for many, and NSD answers them in a burst), not a few system
 * calls each: a question leaves up to a tick after its time, never before.
 * With the delay off (SIGUSR2) there is no tick. */
#define TICK_NS 2000000ull

enum ev_kind {
	EV_CLIENT_UDP,
	EV_UPSTREAM_UDP,
	EV_LISTEN,
	EV_CONN_CLIENT,
	EV_CONN_UPSTREAM
};

struct ev {
	enum ev_kind kind;
	void *p;
};

struct slot {
	struct sockaddr_in client;
	uint16_t id;
	uint8_t used;
};

struct front {
	struct sockaddr_in addr;
	struct sockaddr_in backend;
	int udp;      /* bound to FRONT:53, where the resolver asks */
	int listener; /* TCP FRONT:53 */
	int up;	      /* UDP, connected to BACKEND:53 */
	uint16_t next_id;
	struct slot *slots;
	int readable; /* questions wait in udp for the next tick */
	struct ev ev_udp, ev_listen, ev_up;
};

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct conn {
	int cfd, ufd;
	struct front *f;
	uint64_t last_due; /* chunks of one stream leave in order */
	unsigned pending;  /* heap items that point here */
	int dead;
	int listed; /* on dead_list, freed after the epoll batch */
	struct buf to_up, to_client;
	struct ev ev_c, ev_u;
	struct conn *next_dead;
	struct conn *prev, *next; /* every conn not yet freed */
};

/* A question (UDP) or a chunk of a stream (TCP) waiting for its time. */
struct item {
	uint64_t due; /* CLOCK_MONOTONIC, ns */
	struct front *f;
	struct conn *c; /* NULL for UDP */
	struct sockaddr_in client;
	uint32_t len;
	unsigned char data[];
};

struct counters {
	uint64_t udp_questions, udp_answers, udp_slow, udp_forgotten,
	    udp_unmatched, tcp_conns, tcp_chunks, tcp_slow, heap_max;
};

static struct front fronts[MAX_FRONTS];
static int nfronts;
static int epfd;
static uint64_t delay_ns, jitter_ns, slow_ns;
static uint64_t slow_below; /* hash % 1,000,000 below this is slow */
static uint64_t seed = 1;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static struct item **heap;
static size_t heap_len, heap_cap;
static struct conn *dead_list;
static struct conn *conns;
static struct counters cnt;
static volatile sig_atomic_t got_term, got_usr1, got_usr2;
static int passthrough;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng(void)
{
	/* xorshift64*: only jitter, no need for more */
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* FNV-1a of the question name, lower-cased, seeded; 0 and *ok = 0 when the
 * message has no question we can read. */
static uint64_t qname_hash(const unsigned char *m, size_t len, int *ok)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	size_t i = 12;
	*ok = 0;
	if (len < 12 || (m[4] == 0 && m[5] == 0))
		return 0;
	while (i < len && m[i] != 0) {
		size_t l = m[i];
		if (l & 0xC0 || i + 1 + l > len)
			return 0;
		for (size_t k = i; k <= i + l; k++) {
			unsigned char ch = m[k];
			if (ch >= 'A' && ch <= 'Z')
				ch = (unsigned char)(ch + 32);
			h = (h ^ ch) * 0x100000001b3ull;
		}
		i += 1 + l;
	}
	if (i >= len)
		return 0;
	*ok = 1;
	return h;
}

/* The delay of one question; *slow says whether it was a slow name. */
static uint64_t delay_for(const unsigned char *m, size_t len, int *slow)
{
	int ok;
	if (passthrough) {
		*slow = 0;
		return 0;
	}
	uint64_t h = qname_hash(m, len, &ok);
	uint64_t j = jitter_ns ? rng() % jitter_ns : 0;
	*slow = ok && slow_below && (h >> 16) % 1000000 < slow_below;
	return (*slow ? slow_ns : delay_ns) + j;
}

/* ------------------------------------------------------------ timer heap */

static void heap_push(struct item *it)
{
	if (heap_len == heap_cap) {
		size_t cap = heap_cap ? heap_cap * 2 : 1024;
		struct item **n = realloc(heap, cap * sizeof(*n));
		if (!n) {
			free(it);
			return;
		}
		heap = n;
		heap_cap = cap;
	}
	size_t i = heap_len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (heap[parent]->due <= it->due)
			break;
		heap[i] = heap[parent];
		i = parent;
	}
	heap[i] = it;
	if (heap_len > cnt.heap_max)
		cnt.heap_max = heap_len;
}

static struct item *heap_pop(void)
{
	struct item *top = heap[0], *last = heap[--heap_len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint64_t md = last->due;
		if (l < heap_len && heap[l]->due < md) {
			m = l;
			md = heap[l]->due;
		}
		if (r < heap_len && heap[r]->due < md)
			m = r;
		if (m == i)
			break;
		heap[i] = heap[m];
		i = m;
	}
	if (heap_len > 0)
		heap[i] = last;
	return top;
}

/* ------------------------------------------------------------ sockets */

static void big_buffers(int fd)
{
	int sz = 4 << 20;
	/* root may go past rmem_max; otherwise take what the kernel gives */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int watch(int fd, uint32_t events, struct ev *ev, int op)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };
	return epoll_ctl(epfd, op, fd, &e);
}

static int set_up_front(struct front *f)
{
	int one = 1;
	f->slots = calloc(IDS, sizeof(*f->slots));
	f->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	f->listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	f->up = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (!f->slots || f->udp < 0 || f->listener < 0 || f->up < 0)
		return -1;
	setsockopt(f->udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(f->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	big_buffers(f->udp);
	big_buffers(f->up);
	if (bind(f->udp, (struct sockaddr *)&f->addr, sizeof(f->addr)) < 0 ||
	    bind(f->listener, (struct sockaddr *)&f->addr, sizeof(f->addr)) <
		0 ||
	    listen(f->listener, 256) < 0 ||
	    connect(f->up, (struct sockaddr *)&f->backend, sizeof(f->backend)) <
		0)
		return -1;
	f->ev_udp = (struct ev){ EV_CLIENT_UDP, f };
	f->ev_listen = (struct ev){ EV_LISTEN, f };
	f->ev_up = (struct ev){ EV_UPSTREAM_UDP, f };
	/* one-shot: a ready socket is read on the tick, then armed again */
	if (watch(f->udp, EPOLLIN | EPOLLONESHOT, &f->ev_udp, EPOLL_CTL_ADD) <
		0 ||
	    watch(f->listener, EPOLLIN, &f->ev_listen, EPOLL_CTL_ADD) < 0 ||
	    watch(f->up, EPOLLIN, &f->ev_up, EPOLL_CTL_ADD) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ UDP */

static unsigned char rbuf[BATCH][DGRAM_MAX];
static struct sockaddr_in rpeer[BATCH];
static struct iovec riov[BATCH];
static struct mmsghdr rmsg[BATCH];

static int read_batch(int fd)
{
	for (int i = 0; i < BATCH; i++) {
		riov[i] = (struct iovec){ rbuf[i], DGRAM_MAX };
		rmsg[i].msg_hdr =
		    (struct msghdr){ .msg_name = &rpeer[i],
				     .msg_namelen = sizeof(rpeer[i]),
				     .msg_iov = &riov[i],
				     .msg_iovlen = 1 };
	}
	return recvmmsg(fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
}

/* Puts the relay's own ID into a question and remembers the resolver's. */
static void assign_id(struct item *it)
{
	struct front *f = it->f;
	uint16_t id = f->next_id++;
	struct slot *s = &f->slots[id];
	if (s->used)
		cnt.udp_forgotten++;
	s->client = it->client;
	s->id = (uint16_t)(it->data[0] << 8 | it->data[1]);
	s->used = 1;
	it->data[0] = (unsigned char)(id >> 8);
	it->data[1] = (unsigned char)id;
}

static struct iovec siov[BATCH];
static struct mmsghdr smsg[BATCH];

/* Sends n prepared messages of smsg on fd; a full send buffer loses the
 * rest (the resolver asks again). */
static void send_batch(int fd, int n)
{
	int off = 0;
	while (off < n) {
		int w =
		    sendmmsg(fd, smsg + off, (unsigned)(n - off), MSG_DONTWAIT);
		if (w <= 0)
			return;
		off += w;
	}
}

/* Sends the due UDP questions of items[0..n) to their fronts' NSD. */
static void forward_udp(struct item **items, int n)
{
	for (int k = 0; k < nfronts; k++) {
		struct front *f = &fronts[k];
		int m = 0;
		for (int i = 0; i < n; i++) {
			if (items[i]->f != f)
				continue;
			assign_id(items[i]);
			siov[m] =
			    (struct iovec){ items[i]->data, items[i]->len };
			smsg[m].msg_hdr = (struct msghdr){ .msg_iov = &siov[m],
							   .msg_iovlen = 1 };
			m++;
		}
		if (m > 0)
			send_batch(f->up, m);
	}
}

static void client_udp(struct front *f)
{
	for (;;) {
		int n = read_batch(f->udp);
		if (n <= 0)
			return;
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++) {
			size_t len = rmsg[i].msg_len;
			int slow;
			if (len < 12)
				continue;
			cnt.udp_questions++;
			uint64_t d = delay_for(rbuf[i], len, &slow);
			cnt.udp_slow += (uint64_t)slow;
			struct item *it = malloc(sizeof(*it) + len);
			if (!it)
				continue;
			it->due = now + d;
			it->f = f;
			it->c = NULL;
			it->client = rpeer[i];
			it->len = (uint32_t)len;
			memcpy(it->data, rbuf[i], len);
			heap_push(it);
		}
		if (n < BATCH)
			return;
	}
}

static void upstream_udp(struct front *f)
{
	static struct sockaddr_in to[BATCH];
	for (;;) {
		int n = read_batch(f->up), m = 0;
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			size_t len = rmsg[i].msg_len;
			if (len < 12)
				continue;
			uint16_t id = (uint16_t)(rbuf[i][0] << 8 | rbuf[i][1]);
			struct slot *s = &f->slots[id];
			if (!s->used) {
				cnt.udp_unmatched++;
				continue;
			}
			s->used = 0;
			rbuf[i][0] = (unsigned char)(s->id >> 8);
			rbuf[i][1] = (unsigned char)s->id;
			cnt.udp_answers++;
			to[m] = s->client;
			siov[m] = (struct iovec){ rbuf[i], len };
			smsg[m].msg_hdr =
			    (struct msghdr){ .msg_name = &to[m],
					     .msg_namelen = sizeof(to[m]),
					     .msg_iov = &siov[m],
					     .msg_iovlen = 1 };
			m++;
		}
		send_batch(f->udp, m);
		if (n < BATCH)
			return;
	}
}

/* ------------------------------------------------------------ TCP */

static int buf_add(struct buf *b, const unsigned char *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		unsigned char *n = realloc(b->p, cap);
		if (!n)
			return -1;
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	close(c->cfd);
	close(c->ufd);
	c->listed = 1;
	c->next_dead = dead_list;
	dead_list = c;
}

/* Write what waits in b to fd; ask for EPOLLOUT on fd while some is left.
 * -1: the connection is gone. */
static int flush(struct conn *c, struct buf *b, int fd, struct ev *ev)
{
	while (b->len > 0) {
		ssize_t w = send(fd, b->p, b->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		memmove(b->p, b->p + w, b->len - (size_t)w);
		b->len -= (size_t)w;
	}
	watch(fd, EPOLLIN | (b->len ? EPOLLOUT : 0), ev, EPOLL_CTL_MOD);
	(void)c;
	return 0;
}

static void conn_free(struct conn *c);

static void accept_conns(struct front *f)
{
	for (;;) {
		int cfd = accept4(f->listener, NULL, NULL, SOCK_NONBLOCK);
		if (cfd < 0)
			return;
		/* a blocking connect: NSD is on loopback and answers at once */
		int ufd = socket(AF_INET, SOCK_STREAM, 0);
		struct conn *c = calloc(1, sizeof(*c));
		if (ufd < 0 || !c ||
		    connect(ufd, (struct sockaddr *)&f->backend,
			    sizeof(f->backend)) < 0 ||
		    fcntl(ufd, F_SETFL, O_NONBLOCK) < 0) {
			close(cfd);
			if (ufd >= 0)
				close(ufd);
			free(c);
			continue;
		}
		cnt.tcp_conns++;
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		c->cfd = cfd;
		c->ufd = ufd;
		c->f = f;
		c->ev_c = (struct ev){ EV_CONN_CLIENT, c };
		c->ev_u = (struct ev){ EV_CONN_UPSTREAM, c };
		if (watch(cfd, EPOLLIN, &c->ev_c, EPOLL_CTL_ADD) < 0 ||
		    watch(ufd, EPOLLIN, &c->ev_u, EPOLL_CTL_ADD) < 0) {
			close(cfd);
			close(ufd);
			conn_free(c);
		}
	}
}

static unsigned char tbuf[DGRAM_MAX + 2];

static void conn_client(struct conn *c, uint32_t events)
{
	if (events & EPOLLOUT && flush(c, &c->to_client, c->cfd, &c->ev_c)) {
		conn_close(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	ssize_t n = recv(c->cfd, tbuf, sizeof(tbuf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	int slow = 0;
	/* the delay of the first question in the chunk (after its length);
	 * a chunk too short to hold one (the length alone) the plain delay */
	uint64_t d = passthrough ? 0 : delay_ns;
	if (n > 2)
		d = delay_for(tbuf + 2, (size_t)n - 2, &slow);
	struct item *it = malloc(sizeof(*it) + (size_t)n);
	if (!it) {
		conn_close(c);
		return;
	}
	cnt.tcp_chunks++;
	cnt.tcp_slow += (uint64_t)slow;
	it->due = now_ns() + d;
	if (it->due < c->last_due)
		it->due = c->last_due;
	c->last_due = it->due;
	it->f = c->f;
	it->c = c;
	it->len = (uint32_t)n;
	memcpy(it->data, tbuf, (size_t)n);
	c->pending++;
	heap_push(it);
}

static void conn_upstream(struct conn *c, uint32_t events)
{
	if (events & EPOLLOUT && flush(c, &c->to_up, c->ufd, &c->ev_u)) {
		conn_close(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	ssize_t n = recv(c->ufd, tbuf, sizeof(tbuf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0 || buf_add(&c->to_client, tbuf, (size_t)n) ||
	    flush(c, &c->to_client, c->cfd, &c->ev_c))
		conn_close(c);
}

static void conn_free(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->to_up.p);
	free(c->to_client.p);
	free(c);
}

static void forward_tcp(struct item *it)
{
	struct conn *c = it->c;
	c->pending--;
	if (!c->dead && (buf_add(&c->to_up, it->data, it->len) ||
			 flush(c, &c->to_up, c->ufd, &c->ev_u)))
		conn_close(c);
	if (c->dead && c->pending == 0 && !c->listed)
		conn_free(c);
}

/* ------------------------------------------------------------ main */

static void print_counters(void)
{
	printf("dnsdelay: udp_questions=%" PRIu64 " udp_answers=%" PRIu64
	       " udp_slow=%" PRIu64 " udp_forgotten=%" PRIu64
	       " udp_unmatched=%" PRIu64 " tcp_conns=%" PRIu64
	       " tcp_chunks=%" PRIu64 " tcp_slow=%" PRIu64
	       " waiting_max=%" PRIu64 " delay=%s\n",
	       cnt.udp_questions, cnt.udp_answers, cnt.udp_slow,
	       cnt.udp_forgotten, cnt.udp_unmatched, cnt.tcp_conns,
	       cnt.tcp_chunks, cnt.tcp_slow, cnt.heap_max,
	       passthrough ? "off" : "on");
	fflush(stdout);
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else if (sig == SIGUSR2)
		got_usr2 = 1;
	else
		got_term = 1;
}

static int parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !(v >= 0) || v > 3600)
		return -1;
	*ns = (uint64_t)(v * 1e9 + 0.5);
	return 0;
}

static int parse_addr(const char *s, size_t len, struct sockaddr_in *a)
{
	char tmp[INET_ADDRSTRLEN];
	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(53);
	return inet_pton(AF_INET, tmp, &a->sin_addr) == 1 ? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: dnsdelay [--delay S] [--jitter S] "
			"[--slow-share F] [--slow-delay S] [--seed N] "
			"FRONT=BACKEND...\n");
	return 64;
}

int main(int argc, char **argv)
{
	double share = 0;
	int i;
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *opt = argv[i],
			   *val = i + 1 < argc ? argv[i + 1] : 0;
		int bad = !val;
		if (bad)
			;
		else if (!strcmp(opt, "--delay"))
			bad = parse_seconds(val, &delay_ns);
		else if (!strcmp(opt, "--jitter"))
			bad = parse_seconds(val, &jitter_ns);
		else if (!strcmp(opt, "--slow-delay"))
			bad = parse_seconds(val, &slow_ns);
		else if (!strcmp(opt, "--slow-share")) {
			char *end;
			share = strtod(val, &end);
			bad = *end != '\0' || !(share >= 0 && share <= 1);
		} else if (!strcmp(opt, "--seed")) {
			char *end;
			seed = strtoull(val, &end, 10);
			bad = *end != '\0';
		} else
			bad = 1;
		if (bad)
			return usage();
	}
	slow_below = (uint64_t)(share * 1000000 + 0.5);
	rng_state ^= seed * 0x100000001b3ull;
	if (rng_state == 0)
		rng_state = 1;
	epfd = epoll_create1(0);
	if (epfd < 0 || i >= argc)
		return epfd < 0 ? 1 : usage();
	for (; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || nfronts == MAX_FRONTS)
			return usage();
		struct front *f = &fronts[nfronts++];
		if (parse_addr(argv[i], (size_t)(eq - argv[i]), &f->addr) ||
		    parse_addr(eq + 1, strlen(eq + 1), &f->backend))
			return usage();
		if (set_up_front(f)) {
			fprintf(stderr, "dnsdelay: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("dnsdelay: %d fronts, delay %.3f s, jitter %.3f s, slow share "
	       "%.4f at %.3f s\n",
	       nfronts, delay_ns / 1e9, jitter_ns / 1e9, share, slow_ns / 1e9);
	fflush(stdout);

	struct epoll_event evs[64];
	struct item *due[BATCH];
	uint64_t next_tick = 0;
	while (!got_term) {
		uint64_t now = now_ns();
		if (now >= next_tick) {
			int n = 0;
			for (int k = 0; k < nfronts; k++) {
				struct front *f = &fronts[k];
				if (!f->readable)
					continue;
				client_udp(f);
				f->readable = 0;
				watch(f->udp, EPOLLIN | EPOLLONESHOT,
				      &f->ev_udp, EPOLL_CTL_MOD);
			}
			now = now_ns();
			while (heap_len > 0 && heap[0]->due <= now) {
				struct item *it = heap_pop();
				if (it->c) {
					forward_tcp(it);
					free(it);
					continue;
				}
				due[n++] = it;
				if (n == BATCH) {
					forward_udp(due, n);
					while (n > 0)
						free(due[--n]);
				}
			}
			forward_udp(due, n);
			while (n > 0)
				free(due[--n]);
			/* with the delay off nothing waits for a tick */
			next_tick = passthrough ? 0 : now + TICK_NS;
		}
		int timeout = -1, waiting = 0;
		for (int k = 0; k < nfronts; k++)
			waiting |= fronts[k].readable;
		if (waiting)
			timeout =
			    next_tick > now
				? (int)((next_tick - now + 999999) / 1000000)
				: 0;
		else if (heap_len > 0) {
			/* round up: never early; not before the next tick */
			uint64_t at =
			    heap[0]->due > next_tick ? heap[0]->due : next_tick;
			timeout =
			    at > now ? (int)((at - now + 999999) / 1000000) : 0;
		}
		int n = epoll_wait(epfd, evs, 64, timeout);
		if (got_usr1) {
			got_usr1 = 0;
			print_counters();
		}
		if (got_usr2) {
			got_usr2 = 0;
			passthrough = !passthrough;
			printf("dnsdelay: delay %s\n",
			       passthrough ? "off" : "on");
			fflush(stdout);
		}
		for (int k = 0; k < n; k++) {
			struct ev *ev = evs[k].data.ptr;
			uint32_t e = evs[k].events;
			switch (ev->kind) {
			case EV_CLIENT_UDP:
				((struct front *)ev->p)->readable = 1;
				break;
			case EV_UPSTREAM_UDP:
				upstream_udp(ev->p);
				break;
			case EV_LISTEN:
				accept_conns(ev->p);
				break;
			case EV_CONN_CLIENT:
				if (!((struct conn *)ev->p)->dead)
					conn_client(ev->p, e);
				break;
			case EV_CONN_UPSTREAM:
				if (!((struct conn *)ev->p)->dead)
					conn_upstream(ev->p, e);
				break;
			}
		}
		/* after the batch: no event of it points at a freed conn */
		while (dead_list) {
			struct conn *c = dead_list;
			dead_list = c->next_dead;
			c->listed = 0;
			if (c->pending == 0)
				conn_free(c);
		}
	}
	print_counters();
	/* what is still open or waiting goes with the process; freed here so
	 * that a leak checker sees only real leaks */
	while (conns) {
		if (!conns->dead) {
			close(conns->cfd);
			close(conns->ufd);
		}
		conn_free(conns);
	}
	while (heap_len > 0)
		free(heap_pop());
	free(heap);
	for (int k = 0; k < nfronts; k++)
		free(fronts[k].slots);
	return 0;
}
