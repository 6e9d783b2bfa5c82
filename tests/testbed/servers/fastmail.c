/*
 * fastmail: the testbed's SMTP + HTTPS server for the well-behaved
 * endpoints (the population of `up --domains N`), in C, so that a bench
 * at a million domains measures the crawler and not its test servers
 * (issue M10 item 5: mailserver.py manages ~1,200 STARTTLS sessions per
 * CPU second).
 *
 *     fastmail CONF PIDFILE [LOGFILE]
 *
 * CONF is written by servers/fastmail_conf.py from servers.json: every
 * reply this server can send is rendered there, by mailserver.py's own
 * functions, into byte strings ("blobs"), so the two servers send the
 * same bytes by construction; this program only routes connections to
 * blobs and runs STARTTLS / TLS on OpenSSL 3. Which entries it serves,
 * and why the rest stay with mailserver.py: fastmail_conf.py.
 *
 * One epoll loop, non-blocking sockets, TLS through memory BIOs: every
 * byte to a peer goes through the connection's output buffer, which is
 * what lets the latency model hold each server flight back (`latency`
 * line: a delay per round trip with jitter, and a share of endpoints that
 * are much slower; tests/testbed/README.md "Latency").
 *
 * It listens on 0.0.0.0 (every port CONF names) with SO_REUSEPORT, and
 * picks the entry by getsockname(); mailserver.py binds its own
 * addresses one by one (also SO_REUSEPORT), and Linux gives a connection
 * to the listener bound to its exact address before the wildcard one.
 * An address without an entry is closed at once, as mailserver.py does.
 *
 * LOGFILE: one line per connection when it ends, appended in
 * mailserver.py's format ("TIME {json}", one write each, so both servers
 * may share the file): tests count the connections the servers saw.
 *
 * Readiness: PIDFILE is written (atomically) after every socket listens.
 * SIGTERM / SIGINT: stop, remove PIDFILE, print counters, exit 0.
 * SIGUSR2: turn the latency model off (connections accepted from then on
 * get no delay, nor any flight jitter), or on again, and say which on
 * stderr ("fastmail: delay off"): scripts/bench measures a scan with and
 * without latency on one testbed, as with the DNS relay (dnsdelay.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* The limits of mailserver.py, so that both servers end a session at the
 * same point. */
#define LINE_LIMIT (64 * 1024)
#define IDLE_US (120ULL * 1000000)
#define HOLD_US (600ULL * 1000000)
#define HANDSHAKE_US (30ULL * 1000000)
#define MAX_PORTS 16

enum kind { K_SMTP = 1, K_HTTPS = 2 };

/* Entry flags (CONF `smtp` lines). */
#define F_STLS220 1  /* the STARTTLS reply ends in 220: start TLS */
#define F_REJECT 2   /* non-220 greeting: 503 to all but QUIT */
#define F_CLOSE421 4 /* 421 greeting: close after it */

struct blob {
	char *p;
	size_t n;
};

struct entry {
	uint32_t addr; /* host order */
	uint16_t port;
	uint8_t kind;
	uint8_t flags;
	int32_t ctx;
	/* SMTP: banner, ehlo, ehlo after TLS, helo, starttls reply;
	 * HTTPS: path, GET response, HEAD response. */
	uint32_t b[5];
	uint32_t banner_delay_us;
	uint32_t starttls_delay_us;
};

static struct blob *blobs;
static size_t nblobs;
static struct entry *entries;
static size_t nentries;
static uint32_t *table; /* open addressing: index + 1, 0 = free */
static size_t table_mask;
static SSL_CTX **ctxs;
static size_t nctxs;
static int ports[MAX_PORTS];
static size_t nports;
/* Fixed HTTP replies (rendered by mailserver.py's http_head). */
static uint32_t http_400, http_404, http_405;

struct latency {
	uint64_t rtt_us, jitter_us, slow_us;
	uint32_t slow_ppm;
	uint64_t seed;
};
/* lat: in effect; lat_conf: as configured, while SIGUSR2 has it off. */
static struct latency lat, lat_conf;
static int lat_off;

static struct {
	uint64_t conns, no_entry, tls_ok, tls_fail, timeouts;
} stats;

/* ---------------------------------------------------------------- util */

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "fastmail: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "fastmail: out of memory\n");
		exit(2);
	}
	return p;
}

/* splitmix64: the per-endpoint "slow" draw and the jitter. Deterministic
 * per (seed, address, port), so the same endpoints are slow in every run
 * and for every connection. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rng_state = 0x5eed;

static uint64_t rng_next(void)
{
	rng_state = mix64(rng_state);
	return rng_state;
}

/* ------------------------------------------------------------- config */

static uint64_t entry_key(uint32_t addr, uint16_t port)
{
	return ((uint64_t)addr << 16) | port;
}

static struct entry *lookup(uint32_t addr, uint16_t port)
{
	uint64_t k = entry_key(addr, port);
	size_t i = mix64(k) & table_mask;
	for (;;) {
		uint32_t v = table[i];
		if (!v)
			return NULL;
		struct entry *e = &entries[v - 1];
		if (entry_key(e->addr, e->port) == k)
			return e;
		i = (i + 1) & table_mask;
	}
}

static void index_entries(void)
{
	size_t cap = 16;
	while (cap < nentries * 2)
		cap <<= 1;
	table = calloc(cap, sizeof(*table));
	if (!table)
		die("calloc");
	table_mask = cap - 1;
	for (size_t n = 0; n < nentries; n++) {
		struct entry *e = &entries[n];
		size_t i = mix64(entry_key(e->addr, e->port)) & table_mask;
		while (table[i])
			i = (i + 1) & table_mask;
		table[i] = (uint32_t)n + 1;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static SSL_CTX *make_ctx(int minv, int maxv, const char *chain, const char *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (!c)
		return NULL;
	/* As mailserver.py's ssl.SSLContext: security level 0 (RSA-1024,
	 * SHA-1, TLS 1.0/1.1 servable), no compression, the server's cipher
	 * order. */
	if (!SSL_CTX_set_cipher_list(c, "ALL:!aNULL:!eNULL:@SECLEVEL=0") ||
	    !SSL_CTX_set_min_proto_version(c, minv) ||
	    !SSL_CTX_set_max_proto_version(c, maxv) ||
	    SSL_CTX_use_certificate_chain_file(c, chain) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(c);
		return NULL;
	}
	/* exactly the options Python's SSLContext(PROTOCOL_TLS_SERVER) has */
	SSL_CTX_clear_options(c, SSL_CTX_get_options(c));
	SSL_CTX_set_options(
	    c, SSL_OP_CRYPTOPRO_TLSEXT_BUG | SSL_OP_TLSEXT_PADDING |
		   SSL_OP_SAFARI_ECDHE_ECDSA_BUG | SSL_OP_NO_SSLv3 |
		   SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
		   SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	return c;
}

static int parse_conf(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die(path);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;
	size_t eidx_cap = 0, bcap = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = 0;
		char *sp = strchr(line, ' ');
		char *arg = sp ? sp + 1 : line + len;
		if (sp)
			*sp = 0;
		int ok = 1;
		if (!strcmp(line, "fastmail-conf")) {
			ok = !strcmp(arg, "1");
		} else if (!strcmp(line, "latency")) {
			unsigned long long a, b, c, d;
			unsigned s;
			ok = sscanf(arg, "%llu %llu %u %llu %llu", &a, &b, &s,
				    &c, &d) == 5;
			lat.rtt_us = a;
			lat.jitter_us = b;
			lat.slow_ppm = s;
			lat.slow_us = c;
			lat.seed = d;
		} else if (!strcmp(line, "port")) {
			ok = nports < MAX_PORTS &&
			     sscanf(arg, "%d", &ports[nports]) == 1;
			nports++;
		} else if (!strcmp(line, "http")) {
			ok = sscanf(arg, "%u %u %u", &http_400, &http_404,
				    &http_405) == 3;
		} else if (!strcmp(line, "blob")) {
			/* "blob HEX" (ids are implicit, in order) */
			if (nblobs == bcap) {
				bcap = bcap ? bcap * 2 : 256;
				blobs = xrealloc(blobs, bcap * sizeof(*blobs));
			}
			size_t n = strlen(arg);
			struct blob *b = &blobs[nblobs++];
			if (n == 1 && arg[0] == '-')
				n = 0;
			ok = n % 2 == 0;
			b->n = n / 2;
			b->p = xrealloc(NULL, b->n);
			for (size_t i = 0; ok && i < b->n; i++) {
				int hi = hexval(arg[2 * i]);
				int lo = hexval(arg[2 * i + 1]);
				ok = hi >= 0 && lo >= 0;
				if (ok)
					b->p[i] = (char)(hi << 4 | lo);
			}
		} else if (!strcmp(line, "ctx")) {
			/* "ctx MIN MAX CHAIN KEY": ids in order */
			int minv, maxv, n1 = 0;
			ok = sscanf(arg, "%i %i %n", &minv, &maxv, &n1) == 2;
			char *chain = arg + n1;
			char *key = ok ? strchr(chain, ' ') : NULL;
			ok = key != NULL;
			if (ok) {
				*key++ = 0;
				ctxs =
				    xrealloc(ctxs, (nctxs + 1) * sizeof(*ctxs));
				ctxs[nctxs] = make_ctx(minv, maxv, chain, key);
				ok = ctxs[nctxs++] != NULL;
			}
		} else if (!strcmp(line, "smtp") || !strcmp(line, "https")) {
			if (nentries == eidx_cap) {
				eidx_cap = eidx_cap ? eidx_cap * 2 : 1024;
				entries = xrealloc(entries,
						   eidx_cap * sizeof(*entries));
			}
			struct entry *e = &entries[nentries];
			memset(e, 0, sizeof(*e));
			char a[64];
			unsigned port, fl = 0, bd = 0, sd = 0;
			int ctx;
			struct in_addr ia = { 0 };
			if (line[0] == 's') {
				e->kind = K_SMTP;
				ok =
				    sscanf(arg,
					   "%63s %u %d %u %u %u %u %u %u %u %u",
					   a, &port, &ctx, &e->b[0], &e->b[1],
					   &e->b[2], &e->b[3], &e->b[4], &fl,
					   &bd, &sd) == 11;
			} else {
				e->kind = K_HTTPS;
				ok = sscanf(arg, "%63s %u %d %u %u %u", a,
					    &port, &ctx, &e->b[0], &e->b[1],
					    &e->b[2]) == 6;
			}
			ok = ok && inet_pton(AF_INET, a, &ia) == 1 &&
			     port < 65536 && ctx < (int)nctxs;
			for (int i = 0; ok && i < 5; i++)
				ok = e->b[i] < nblobs;
			e->addr = ntohl(ia.s_addr);
			e->port = (uint16_t)port;
			e->ctx = ctx;
			e->flags = (uint8_t)fl;
			e->banner_delay_us = bd;
			e->starttls_delay_us = sd;
			ok = ok && (e->kind == K_SMTP || ctx >= 0);
			nentries++;
		} else {
			ok = 0;
		}
		if (!ok) {
			fprintf(stderr, "fastmail: %s:%d: bad line\n", path,
				lineno);
			exit(2);
		}
	}
	free(line);
	fclose(f);
	if (http_404 >= nblobs || http_400 >= nblobs || http_405 >= nblobs) {
		fprintf(stderr, "fastmail: %s: no http line\n", path);
		exit(2);
	}
	index_entries();
	return 0;
}

/* ---------------------------------------------------------- connections */

enum state {
	S_CMD,	     /* SMTP commands (plain or inside TLS) */
	S_REJECT,    /* after a non-220 greeting: 503 to all but QUIT */
	S_HANDSHAKE, /* TLS handshake (SMTP after STARTTLS, or HTTPS) */
	S_HTTP,	     /* reading the HTTP request head */
	S_HOLD,	     /* FIN sent: read and discard until EOF */
	S_DONE	     /* output pending, then close */
};

enum ev_type { EV_LISTEN = 1, EV_CONN, EV_SIGNAL };

/* SIGUSR2: the latency model off (a zero model: no round-trip delay, no
 * jitter, no slow share) or back on as configured. */
static void toggle_latency(void)
{
	lat_off = !lat_off;
	if (lat_off) {
		lat_conf = lat;
		lat = (struct latency){ .seed = lat_conf.seed };
	} else {
		lat = lat_conf;
	}
	fprintf(stderr, "fastmail: delay %s\n", lat_off ? "off" : "on");
}

struct conn {
	int type; /* EV_CONN: first, as in every epoll object */
	int fd;
	struct entry *e;
	enum state st;
	SSL *ssl;
	BIO *rbio, *wbio;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
	uint64_t release_us;  /* output held until then (0: none held) */
	uint64_t deadline_us; /* idle / handshake / hold limit */
	uint64_t delay_us;    /* this endpoint's round-trip delay */
	size_t heap_idx;      /* position in the timer heap, or SIZE_MAX */
	uint32_t peer_addr;   /* for the log line */
	uint16_t peer_port;
	unsigned tls_on : 1, shut_after : 1, close_after : 1, epollout : 1,
	    eof : 1;
};

struct listener {
	int type;
	int fd;
	uint16_t port;
};

static int epfd;

/* ---- timer heap: one slot per connection, keyed on its next wake-up */

static struct conn **heap;
static size_t heap_len, heap_cap;

static uint64_t wake_of(const struct conn *c)
{
	uint64_t w = c->deadline_us;
	if (c->release_us && c->release_us < w)
		w = c->release_us;
	return w;
}

static void heap_set(size_t i, struct conn *c)
{
	heap[i] = c;
	c->heap_idx = i;
}

static void heap_up(size_t i)
{
	struct conn *c = heap[i];
	uint64_t w = wake_of(c);
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (wake_of(heap[p]) <= w)
			break;
		heap_set(i, heap[p]);
		i = p;
	}
	heap_set(i, c);
}

static void heap_down(size_t i)
{
	struct conn *c = heap[i];
	uint64_t w = wake_of(c);
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		uint64_t mw = w;
		if (l < heap_len && wake_of(heap[l]) < mw) {
			m = l;
			mw = wake_of(heap[l]);
		}
		if (l + 1 < heap_len && wake_of(heap[l + 1]) < mw)
			m = l + 1;
		if (m == i)
			break;
		heap_set(i, heap[m]);
		i = m;
	}
	heap_set(i, c);
}

/* After c's deadline or release time changed. */
static void heap_update(struct conn *c)
{
	if (c->heap_idx == SIZE_MAX) {
		if (heap_len == heap_cap) {
			heap_cap = heap_cap ? heap_cap * 2 : 1024;
			heap = xrealloc(heap, heap_cap * sizeof(*heap));
		}
		heap_set(heap_len++, c);
		heap_up(c->heap_idx);
		return;
	}
	heap_up(c->heap_idx);
	heap_down(c->heap_idx);
}

static void heap_remove(struct conn *c)
{
	size_t i = c->heap_idx;
	if (i == SIZE_MAX)
		return;
	c->heap_idx = SIZE_MAX;
	struct conn *last = heap[--heap_len];
	if (last == c)
		return;
	heap_set(i, last);
	heap_up(i);
	heap_down(last->heap_idx);
}

/* ---- lifecycle */

static int log_fd = -1;

static const char *const state_names[] = {
	[S_CMD] = "commands",	     [S_REJECT] = "rejecting",
	[S_HANDSHAKE] = "handshake", [S_HTTP] = "request",
	[S_HOLD] = "hold",	     [S_DONE] = "done"
};

/* One line per connection, as mailserver.py logs it (local time). */
static void log_conn(uint32_t addr, uint16_t port, uint32_t peer,
		     uint16_t peer_port, const char *kind, const char *stage)
{
	if (log_fd < 0)
		return;
	char line[512], ts[32], a[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	uint32_t an = htonl(addr), pn = htonl(peer);
	inet_ntop(AF_INET, &an, a, sizeof(a));
	inet_ntop(AF_INET, &pn, p, sizeof(p));
	int n = snprintf(line, sizeof(line),
			 "%s {\"addr\": \"%s\", \"port\": %u, \"peer\": "
			 "\"%s:%u\", \"kind\": %s, \"stage\": \"%s\", "
			 "\"server\": \"fastmail\"}\n",
			 ts, a, port, p, peer_port, kind, stage);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    write(log_fd, line, (size_t)n) < 0)
		log_fd = -1;
}

static void conn_free(struct conn *c)
{
	log_conn(c->e->addr, c->e->port, c->peer_addr, c->peer_port,
		 c->e->kind == K_SMTP ? "\"smtp\"" : "\"https\"",
		 c->tls_on ? "tls" : state_names[c->st]);
	heap_remove(c);
	close(c->fd); /* also leaves the epoll set */
	if (c->ssl)
		SSL_free(c->ssl); /* frees both BIOs */
	free(c->in);
	free(c->out);
	free(c);
}

static void set_deadline(struct conn *c, uint64_t us)
{
	c->deadline_us = now_us() + us;
	heap_update(c);
}

/* Input interest until the peer's FIN (a socket at EOF stays readable:
 * with output held back by the latency model that would spin), output
 * interest while a write would block. */
static void set_events(struct conn *c)
{
	struct epoll_event ev = { .events = (c->eof ? 0 : EPOLLIN) |
					    (c->epollout ? EPOLLOUT : 0),
				  .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void want_out(struct conn *c, int on)
{
	if (c->epollout == !!on)
		return;
	c->epollout = !!on;
	set_events(c);
}

/* One flight's delay: the endpoint's round trip, give or take the jitter. */
static uint64_t flight_delay(struct conn *c)
{
	uint64_t d = c->delay_us;
	if (lat.jitter_us) {
		uint64_t span = 2 * lat.jitter_us + 1;
		int64_t j =
		    (int64_t)(rng_next() % span) - (int64_t)lat.jitter_us;
		d = (int64_t)d + j < 0 ? 0 : (uint64_t)((int64_t)d + j);
	}
	return d;
}

static void out_append(struct conn *c, const char *p, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		c->out_cap = (c->out_len + n) * 2;
		c->out = xrealloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

/* Output for the peer. In TLS: through the TLS record layer. `extra`:
 * a delay of the entry's own (banner_delay, starttls_delay). The first
 * output after the peer's input starts a hold of one flight delay; more
 * output before it ends goes out with it. */
static void emit(struct conn *c, const char *p, size_t n, uint64_t extra)
{
	int was_empty = c->out_off == c->out_len && !c->release_us;
	if (c->tls_on && n) {
		if (SSL_write(c->ssl, p, (int)n) <= 0)
			c->close_after = 1;
	} else {
		out_append(c, p, n);
	}
	if (was_empty && (c->delay_us || lat.jitter_us || extra)) {
		uint64_t d = flight_delay(c) + extra;
		if (d) {
			c->release_us = now_us() + d;
			heap_update(c);
		}
	}
}

static void emit_blob(struct conn *c, uint32_t id, uint64_t extra)
{
	emit(c, blobs[id].p, blobs[id].n, extra);
}

/* Move what TLS wrote into the memory BIO to the output buffer. */
static void pump_tls(struct conn *c)
{
	if (!c->wbio)
		return;
	char buf[16384];
	int n;
	int had = c->out_off != c->out_len || c->release_us;
	size_t before = c->out_len - c->out_off;
	while ((n = BIO_read(c->wbio, buf, sizeof(buf))) > 0)
		out_append(c, buf, (size_t)n);
	if (!had && c->out_len - c->out_off > before &&
	    (c->delay_us || lat.jitter_us)) {
		uint64_t d = flight_delay(c);
		if (d) {
			c->release_us = now_us() + d;
			heap_update(c);
		}
	}
}

static void enter_hold(struct conn *c)
{
	/* FIN (half-close), then read and discard until the peer closes:
	 * closing with its bytes unread would send an RST instead (as in
	 * mailserver.py). */
	shutdown(c->fd, SHUT_WR);
	c->st = S_HOLD;
	c->shut_after = 0;
	set_deadline(c, HOLD_US);
}

/* Write what is due. Returns 0 when c was freed. */
static int flush(struct conn *c)
{
	if (c->release_us) {
		if (now_us() < c->release_us)
			return 1;
		c->release_us = 0;
		heap_update(c);
	}
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				want_out(c, 1);
				return 1;
			}
			conn_free(c);
			return 0;
		}
		c->out_off += (size_t)n;
	}
	want_out(c, 0);
	if (c->close_after) {
		conn_free(c);
		return 0;
	}
	if (c->shut_after)
		enter_hold(c);
	return 1;
}

static void close_after_output(struct conn *c)
{
	if (c->ssl && c->tls_on) {
		/* close_notify, as Python's SSL transport sends on close() */
		SSL_shutdown(c->ssl);
		pump_tls(c);
	}
	c->close_after = 1;
	c->st = S_DONE;
}

static void start_tls(struct conn *c)
{
	c->ssl = SSL_new(ctxs[c->e->ctx]);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		fprintf(stderr, "fastmail: out of memory (TLS)\n");
		exit(2);
	}
	BIO_set_mem_eof_return(c->rbio, -1);
	BIO_set_mem_eof_return(c->wbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_accept_state(c->ssl);
	c->st = S_HANDSHAKE;
	set_deadline(c, HANDSHAKE_US);
}

/* ---- SMTP */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
			   *p == '\n' || *p == '\v' || *p == '\f'))
		p++;
	return p;
}

static int verb_is(const char *v, size_t n, const char *want)
{
	return strlen(want) == n && !strncasecmp(v, want, n);
}

#define SAY(c, s) emit((c), (s), sizeof(s) - 1, 0)

/* One command line (with its LF, or the last bytes before EOF). */
static void smtp_line(struct conn *c, const char *line, size_t n)
{
	struct entry *e = c->e;
	const char *end = line + n;
	const char *v = skip_ws(line, end), *ve = v;
	while (ve < end && !(*ve == ' ' || *ve == '\t' || *ve == '\r' ||
			     *ve == '\n' || *ve == '\v' || *ve == '\f'))
		ve++;
	size_t vn = (size_t)(ve - v);
	if (c->st == S_REJECT) {
		/* mailserver.py compares the stripped line with QUIT */
		const char *le = end;
		while (le > v &&
		       (le[-1] == ' ' || le[-1] == '\t' || le[-1] == '\r' ||
			le[-1] == '\n' || le[-1] == '\v' || le[-1] == '\f'))
			le--;
		if (verb_is(v, (size_t)(le - v), "QUIT")) {
			SAY(c, "221 2.0.0 Bye\r\n");
			close_after_output(c);
		} else {
			SAY(c, "503 5.5.1 Bad sequence of commands\r\n");
		}
		return;
	}
	if (verb_is(v, vn, "EHLO")) {
		emit_blob(c, e->b[c->tls_on ? 2 : 1], 0);
	} else if (verb_is(v, vn, "HELO")) {
		emit_blob(c, e->b[3], 0);
	} else if (verb_is(v, vn, "STARTTLS")) {
		if (c->tls_on) {
			SAY(c, "503 5.5.1 TLS already active\r\n");
			return;
		}
		emit_blob(c, e->b[4], e->starttls_delay_us);
		if (!(e->flags & F_STLS220))
			return;
		if (e->ctx < 0) {
			/* no certificate: FIN after the 220, then drain */
			c->shut_after = 1;
			c->st = S_DONE;
			return;
		}
		start_tls(c);
	} else if (verb_is(v, vn, "QUIT")) {
		SAY(c, "221 2.0.0 Bye\r\n");
		close_after_output(c);
	} else if (verb_is(v, vn, "NOOP") || verb_is(v, vn, "RSET")) {
		SAY(c, "250 2.0.0 OK\r\n");
	} else if (verb_is(v, vn, "MAIL") || verb_is(v, vn, "RCPT") ||
		   verb_is(v, vn, "DATA") || verb_is(v, vn, "BDAT")) {
		SAY(c, "554 5.7.1 testbed accepts no mail\r\n");
	} else {
		SAY(c, "500 5.5.1 command unrecognized\r\n");
	}
}

static void smtp_input(struct conn *c)
{
	size_t off = 0;
	while ((c->st == S_CMD || c->st == S_REJECT) && off < c->in_len) {
		char *nl = memchr(c->in + off, '\n', c->in_len - off);
		size_t n = nl ? (size_t)(nl - (c->in + off)) : c->in_len - off;
		if (n > LINE_LIMIT) {
			/* asyncio's readline over its limit */
			if (c->st == S_CMD)
				SAY(c, "500 5.5.2 line too long\r\n");
			close_after_output(c);
			break;
		}
		if (!nl)
			break;
		size_t start = off;
		off += n + 1;
		set_deadline(c, IDLE_US);
		smtp_line(c, c->in + start, n + 1);
		if (c->st == S_HANDSHAKE) {
			/* bytes the client sent after STARTTLS are TLS */
			if (c->in_len > off)
				BIO_write(c->rbio, c->in + off,
					  (int)(c->in_len - off));
			c->in_len = 0;
			return;
		}
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

/* ---- HTTPS */

static void http_input(struct conn *c)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (!end) {
		if (c->in_len > LINE_LIMIT) {
			emit_blob(c, http_400, 0);
			close_after_output(c);
		}
		return;
	}
	if ((size_t)(end - c->in) > LINE_LIMIT) {
		emit_blob(c, http_400, 0);
		close_after_output(c);
		return;
	}
	/* request line: METHOD PATH[?query] VERSION */
	char *rl_end = memmem(c->in, (size_t)(end - c->in) + 2, "\r\n", 2);
	const char *p = skip_ws(c->in, rl_end), *m = p;
	while (p < rl_end && *p != ' ' && *p != '\t')
		p++;
	size_t mn = (size_t)(p - m);
	p = skip_ws(p, rl_end);
	const char *path = p;
	while (p < rl_end && *p != ' ' && *p != '\t')
		p++;
	size_t pn = (size_t)(p - path);
	if (pn == 0)
		mn = 0; /* fewer than two words: no method */
	const char *q = memchr(path, '?', pn);
	if (q)
		pn = (size_t)(q - path);
	int head = mn == 4 && !memcmp(m, "HEAD", 4);
	struct entry *e = c->e;
	if (!(mn == 3 && !memcmp(m, "GET", 3)) && !head)
		emit_blob(c, http_405, 0);
	else if (pn != blobs[e->b[0]].n || memcmp(path, blobs[e->b[0]].p, pn))
		emit_blob(c, http_404, 0);
	else
		emit_blob(c, e->b[head ? 2 : 1], 0);
	close_after_output(c);
}

/* ---- input */

static void handshake(struct conn *c)
{
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		stats.tls_ok++;
		c->tls_on = 1;
		c->st = c->e->kind == K_SMTP ? S_CMD : S_HTTP;
		set_deadline(c, IDLE_US);
		return;
	}
	int err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return;
	/* Close without the alert OpenSSL queued: asyncio's SSL transport
	 * drops it when the handshake fails, and the peer of mailserver.py
	 * sees the connection end (EOF) rather than an alert. */
	stats.tls_fail++;
	ERR_clear_error();
	(void)BIO_reset(c->wbio);
	c->close_after = 1;
	c->st = S_DONE;
}

static void tls_read(struct conn *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < 4096) {
			c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
			c->in = xrealloc(c->in, c->in_cap);
		}
		int n = SSL_read(c->ssl, c->in + c->in_len,
				 (int)(c->in_cap - c->in_len));
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		int err = SSL_get_error(c->ssl, n);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			ERR_clear_error();
			c->eof = 1;
		}
		return;
	}
}

/* Run the protocol on what has arrived. */
static void process(struct conn *c)
{
	for (int round = 0; round < 4; round++) {
		enum state before = c->st;
		if (c->st == S_HANDSHAKE)
			handshake(c);
		if (c->tls_on && (c->st == S_CMD || c->st == S_HTTP))
			tls_read(c);
		if (c->st == S_CMD || c->st == S_REJECT)
			smtp_input(c);
		else if (c->st == S_HTTP)
			http_input(c);
		pump_tls(c);
		if (c->st == before)
			break;
	}
	if (c->eof && c->st != S_DONE) {
		/* asyncio's readline gives the bytes before EOF as a last line */
		if ((c->st == S_CMD || c->st == S_REJECT) && c->in_len) {
			smtp_line(c, c->in, c->in_len);
			c->in_len = 0;
			pump_tls(c);
		}
		if (c->st == S_HANDSHAKE || c->st == S_HTTP) {
			/* an incomplete handshake or request: abort */
			c->close_after = 1;
			c->st = S_DONE;
		} else if (c->st != S_DONE) {
			close_after_output(c);
		}
		c->shut_after = 0;
	}
}

static void on_readable(struct conn *c)
{
	char buf[16384];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (c->st == S_HOLD || c->st == S_DONE)
				continue; /* discarded */
			if (c->ssl) {
				BIO_write(c->rbio, buf, (int)n);
			} else {
				if (c->in_len + (size_t)n > c->in_cap) {
					c->in_cap = (c->in_len + (size_t)n) * 2;
					c->in = xrealloc(c->in, c->in_cap);
				}
				memcpy(c->in + c->in_len, buf, (size_t)n);
				c->in_len += (size_t)n;
			}
			if ((size_t)n < sizeof(buf))
				break;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		/* EOF or error */
		if (c->st == S_HOLD || n < 0) {
			conn_free(c);
			return;
		}
		c->eof = 1;
		set_events(c);
		break;
	}
	if (c->st != S_HOLD && c->st != S_DONE)
		process(c);
	else if (c->eof) {
		c->close_after = 1;
		c->shut_after = 0;
	}
	flush(c);
}

static void on_accept(struct listener *l)
{
	for (int i = 0; i < 256; i++) {
		struct sockaddr_in sa = { 0 }, peer = { 0 };
		socklen_t sl = sizeof(sa), pl = sizeof(peer);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &pl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		stats.conns++;
		struct entry *e = NULL;
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
		    sa.sin_family == AF_INET)
			e = lookup(ntohl(sa.sin_addr.s_addr), l->port);
		if (!e) {
			stats.no_entry++;
			close(fd);
			log_conn(ntohl(sa.sin_addr.s_addr), l->port,
				 ntohl(peer.sin_addr.s_addr),
				 ntohs(peer.sin_port), "null", "no_entry");
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (!c)
			die("calloc");
		c->type = EV_CONN;
		c->fd = fd;
		c->e = e;
		c->heap_idx = SIZE_MAX;
		c->peer_addr = ntohl(peer.sin_addr.s_addr);
		c->peer_port = ntohs(peer.sin_port);
		c->delay_us = lat.rtt_us;
		if (lat.slow_ppm &&
		    mix64(lat.seed ^ entry_key(e->addr, e->port)) % 1000000 <
			lat.slow_ppm)
			c->delay_us = lat.slow_us;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl");
		if (e->kind == K_HTTPS) {
			start_tls(c);
			continue;
		}
		c->st = S_CMD;
		set_deadline(c, IDLE_US);
		emit_blob(c, e->b[0], e->banner_delay_us);
		if (e->flags & F_CLOSE421)
			close_after_output(c);
		else if (e->flags & F_REJECT)
			c->st = S_REJECT;
		flush(c);
	}
}

static void on_timer(struct conn *c, uint64_t now)
{
	if (c->release_us && c->release_us <= now) {
		flush(c);
		return;
	}
	if (c->deadline_us <= now) {
		stats.timeouts++;
		conn_free(c);
		return;
	}
	heap_update(c);
}

/* -------------------------------------------------------------- main */

static int listen_on(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: fastmail CONF PIDFILE [LOGFILE]\n");
		return 2;
	}
	if (argc == 4) {
		log_fd = open(argv[3],
			      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (log_fd < 0)
			die(argv[3]);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	parse_conf(argv[1]);
	rng_state = lat.seed ^ 0x5eed;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	static struct listener ls[MAX_PORTS];
	for (size_t i = 0; i < nports; i++) {
		ls[i].type = EV_LISTEN;
		ls[i].port = (uint16_t)ports[i];
		ls[i].fd = listen_on(ls[i].port);
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.ptr = &ls[i] };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, ls[i].fd, &ev) < 0)
			die("epoll_ctl");
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct {
		int type;
		int fd;
	} sig = { EV_SIGNAL, signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC) };
	if (sig.fd < 0)
		die("signalfd");
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &sig };
	epoll_ctl(epfd, EPOLL_CTL_ADD, sig.fd, &sev);

	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	FILE *pf = fopen(tmp, "w");
	if (!pf || fprintf(pf, "%d\n", (int)getpid()) < 0 || fclose(pf) != 0 ||
	    rename(tmp, argv[2]) != 0)
		die(argv[2]);
	fprintf(stderr,
		"fastmail: %zu entries, %zu certificates, %zu ports, "
		"latency rtt %llu us jitter %llu us slow %u ppm at %llu us, "
		"pid %d\n",
		nentries, nctxs, nports, (unsigned long long)lat.rtt_us,
		(unsigned long long)lat.jitter_us, lat.slow_ppm,
		(unsigned long long)lat.slow_us, (int)getpid());

	struct epoll_event evs[256];
	for (;;) {
		int timeout = -1;
		if (heap_len) {
			uint64_t now = now_us(), w = wake_of(heap[0]);
			timeout = w <= now ? 0 : (int)((w - now + 999) / 1000);
		}
		int n = epoll_wait(epfd, evs, 256, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int type = *(int *)evs[i].data.ptr;
			if (type == EV_LISTEN) {
				on_accept(evs[i].data.ptr);
			} else if (type == EV_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(sig.fd, &si, sizeof(si)) ==
					(ssize_t)sizeof(si) &&
				    si.ssi_signo == SIGUSR2) {
					toggle_latency();
					continue;
				}
				/* every open connection gets its log line */
				while (heap_len)
					conn_free(heap[0]);
				unlink(argv[2]);
				fprintf(stderr,
					"fastmail: stopped: connections %llu, "
					"no entry %llu, tls ok %llu, tls "
					"failed %llu, timeouts %llu\n",
					(unsigned long long)stats.conns,
					(unsigned long long)stats.no_entry,
					(unsigned long long)stats.tls_ok,
					(unsigned long long)stats.tls_fail,
					(unsigned long long)stats.timeouts);
				return 0;
			} else {
				struct conn *c = evs[i].data.ptr;
				if (evs[i].events &
				    (EPOLLIN | EPOLLHUP | EPOLLERR))
					on_readable(c);
				else if (evs[i].events & EPOLLOUT)
					flush(c);
			}
		}
		uint64_t now = now_us();
		while (heap_len && wake_of(heap[0]) <= now)
			on_timer(heap[0], now);
	}
}
