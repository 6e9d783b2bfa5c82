/*
 * Datagrams of one UDP socket in batches: the reads c-ares makes are
 * answered from one recvmmsg(), the datagrams it sends are queued and go
 * out with one sendmmsg() when the resolver flushes (once per loop turn).
 * resolver.c plugs this into c-ares with ares_set_socket_functions(); the
 * file knows nothing of c-ares or DNS.
 *
 * Why: c-ares 1.18 reads one datagram per recvfrom() until EAGAIN and
 * sends one per send(), so a DNS-only scan made ~14 system calls per
 * domain and spent half of its CPU in the kernel.
 *
 * What a caller sees is what the plain calls would have given, in the
 * same order:
 *   - dnsio_recvfrom() returns the datagrams in the order the kernel
 *     queued them, each with its source address, cut to the caller's
 *     length as recvfrom() cuts it. A batch that came back shorter than
 *     DNSIO_BATCH means the socket's queue was empty at that moment: the
 *     read after its last datagram says EAGAIN without asking the kernel
 *     (a datagram that arrived since makes the socket readable again, and
 *     the caller's poll comes back for it).
 *   - An error of recvmmsg() is returned as recvfrom() would return it;
 *     one the kernel keeps for the next call (after a partial batch) is
 *     returned then.
 *   - dnsio_sendv() copies the datagram and says it was sent; the queue
 *     keeps the order of the calls. dnsio_flush() sends the queue. When
 *     the kernel refuses a datagram with an error other than EAGAIN, the
 *     datagrams from it on are dropped and the error is kept: the next
 *     dnsio_recvfrom() returns it (after any datagrams already read), so
 *     that the caller learns it as from a failed socket (c-ares then fails
 *     every query of that server, and the resolver sends them again).
 *     EAGAIN keeps the unsent datagrams queued for the next flush.
 *   - Limits of the kernel's sendmmsg(): when a datagram fails after
 *     others were sent in the same call, the kernel returns the count
 *     sent and loses that datagram's error; the datagram is then sent
 *     again by the next call of the same flush.
 *
 * Not thread-safe: one socket, one loop.
 */
#ifndef MXCRAWL_CRAWLER_DNSIO_H
#define MXCRAWL_CRAWLER_DNSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Datagrams per recvmmsg() and per sendmmsg(). */
#define DNSIO_BATCH 64
/* Bytes kept of a received datagram: c-ares 1.18 reads UDP into a buffer
 * of MAXENDSSZ + 1 bytes, so an answer is never cut shorter than it
 * would have been by its own recvfrom(). */
#define DNSIO_RECV_MAX 4097
/* Bytes of a queued datagram; a longer one goes out at once (after the
 * queue, keeping the order). Our queries are at most DNS_QUERY_MAX. */
#define DNSIO_SEND_MAX 512

struct dnsio_in;
struct dnsio_out;

/* Buffers kept for the next socket (c-ares closes its sockets whenever
 * no query is left, and opens them again for the next one). */
struct dnsio_pool {
	struct dnsio_in *in;
	struct dnsio_out *out;
};

struct dnsio {
	int fd;
	struct dnsio_pool *pool;
	struct dnsio_in *in; /* the current read batch, NULL until read */
	unsigned in_n;	     /* datagrams in it */
	unsigned in_next;    /* the next one to hand out */
	bool in_short;	     /* it was short: answer the next read EAGAIN */
	int err;	     /* errno of a failed send, for the next read */
	struct dnsio_out *out;
	unsigned out_n; /* datagrams queued */
	/* Counters (the unit tests count system calls with them). */
	uint64_t recv_calls, recv_datagrams, send_calls, send_datagrams;
};

/* Sets d up for the datagram socket fd (non-blocking, connected). */
void dnsio_init(struct dnsio *d, int fd, struct dnsio_pool *pool);
/* Drops what is queued or unread; the buffers go back to the pool. */
void dnsio_discard(struct dnsio *d);
/* Frees the pool's buffers. */
void dnsio_pool_free(struct dnsio_pool *pool);

/* recvfrom(fd, buf, len, 0, from, fromlen), from the batch (see above). */
ssize_t dnsio_recvfrom(struct dnsio *d, void *buf, size_t len,
		       struct sockaddr *from, socklen_t *fromlen);
/* Queues the datagram made of iov; returns its length, or -1 with errno
 * (EAGAIN: the queue is full and the kernel takes nothing now). */
ssize_t dnsio_sendv(struct dnsio *d, const struct iovec *iov, int iovcnt);
/*
 * Sends the queue. Returns 0 when it is empty, -EAGAIN when the kernel
 * took part of it (the rest stays queued: flush again once the socket is
 * writable), or -errno of a refused datagram (kept for the next read).
 */
int dnsio_flush(struct dnsio *d);

static inline bool dnsio_has_unread(const struct dnsio *d)
{
	return d->in_next < d->in_n;
}

static inline bool dnsio_has_queued(const struct dnsio *d)
{
	return d->out_n > 0;
}

/* An error waits for the next read (dnsio_flush() failed). */
static inline bool dnsio_has_error(const struct dnsio *d)
{
	return d->err != 0;
}

/* Forgets the waiting error: the reader was told of it another way (the
 * resolver had c-ares read the socket, which fails its queries). */
static inline void dnsio_clear_error(struct dnsio *d)
{
	d->err = 0;
}

#endif
