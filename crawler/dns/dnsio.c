/*
 * Batched datagram I/O for c-ares' UDP sockets (see dnsio.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crawler/dns/dnsio.h"

struct dnsio_in {
	/* Entries the kernel may have written since they were set up (it
	 * changes msg_namelen of the datagrams it returns). */
	unsigned dirty;
	struct mmsghdr h[DNSIO_BATCH];
	struct iovec iov[DNSIO_BATCH];
	struct sockaddr_storage addr[DNSIO_BATCH];
	uint8_t buf[DNSIO_BATCH][DNSIO_RECV_MAX];
};

struct dnsio_out {
	struct mmsghdr h[DNSIO_BATCH];
	struct iovec iov[DNSIO_BATCH];
	size_t len[DNSIO_BATCH];
	uint8_t buf[DNSIO_BATCH][DNSIO_SEND_MAX];
};

void dnsio_init(struct dnsio *d, int fd, struct dnsio_pool *pool)
{
	memset(d, 0, sizeof *d);
	d->fd = fd;
	d->pool = pool;
}

void dnsio_discard(struct dnsio *d)
{
	if (d->in) {
		if (d->pool && !d->pool->in)
			d->pool->in = d->in;
		else
			free(d->in);
	}
	if (d->out) {
		if (d->pool && !d->pool->out)
			d->pool->out = d->out;
		else
			free(d->out);
	}
	d->in = NULL;
	d->out = NULL;
	d->in_n = d->in_next = 0;
	d->in_short = false;
	d->out_n = 0;
	d->err = 0;
}

void dnsio_pool_free(struct dnsio_pool *pool)
{
	free(pool->in);
	free(pool->out);
	pool->in = NULL;
	pool->out = NULL;
}

/* ---- Reading ------------------------------------------------------- */

static struct dnsio_in *in_get(struct dnsio *d)
{
	if (d->in)
		return d->in;
	if (d->pool && d->pool->in) {
		d->in = d->pool->in;
		d->pool->in = NULL;
	} else {
		d->in = malloc(sizeof *d->in);
		if (d->in)
			d->in->dirty = DNSIO_BATCH;
	}
	return d->in;
}

/* Hands out datagram in_next of the batch as recvfrom() would. */
static ssize_t take(struct dnsio *d, void *buf, size_t len,
		    struct sockaddr *from, socklen_t *fromlen)
{
	struct dnsio_in *b = d->in;
	unsigned i = d->in_next++;
	size_t n = b->h[i].msg_len;

	if (n > len)
		n = len; /* recvfrom() cuts a datagram to the buffer too */
	memcpy(buf, b->buf[i], n);
	if (from && fromlen) {
		socklen_t have = b->h[i].msg_hdr.msg_namelen;
		memcpy(from, &b->addr[i], have < *fromlen ? have : *fromlen);
		*fromlen = have;
	}
	if (d->in_next == d->in_n)
		d->in_n = d->in_next = 0;
	return (ssize_t)n;
}

ssize_t dnsio_recvfrom(struct dnsio *d, void *buf, size_t len,
		       struct sockaddr *from, socklen_t *fromlen)
{
	struct dnsio_in *b;
	int n;

	if (dnsio_has_unread(d))
		return take(d, buf, len, from, fromlen);
	if (d->err) {
		errno = d->err;
		d->err = 0;
		return -1;
	}
	if (d->in_short) {
		/* The last batch emptied the queue; what came since makes
		 * the socket readable again. */
		d->in_short = false;
		errno = EAGAIN;
		return -1;
	}
	b = in_get(d);
	if (!b) {
		/* No memory for a batch: one datagram, as before. */
		d->recv_calls++;
		return recvfrom(d->fd, buf, len, MSG_DONTWAIT, from, fromlen);
	}
	/* Set up again only what the last call may have changed. */
	for (unsigned i = 0; i < b->dirty; i++) {
		b->iov[i].iov_base = b->buf[i];
		b->iov[i].iov_len = DNSIO_RECV_MAX;
		b->h[i].msg_hdr = (struct msghdr){
			.msg_name = &b->addr[i],
			.msg_namelen = sizeof b->addr[i],
			.msg_iov = &b->iov[i],
			.msg_iovlen = 1,
		};
		b->h[i].msg_len = 0;
	}
	do {
		n = recvmmsg(d->fd, b->h, DNSIO_BATCH, MSG_DONTWAIT, NULL);
	} while (n < 0 && errno == EINTR);
	d->recv_calls++;
	b->dirty = n > 0 ? (unsigned)n : 0;
	if (n <= 0) {
		if (n == 0)
			errno = EAGAIN;
		return -1;
	}
	d->recv_datagrams += (unsigned)n;
	d->in_n = (unsigned)n;
	d->in_next = 0;
	d->in_short = n < DNSIO_BATCH;
	return take(d, buf, len, from, fromlen);
}

/* ---- Sending ------------------------------------------------------- */

static size_t iov_len(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;
	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Sends one datagram now (sendmsg; no SIGPIPE). */
static ssize_t send_now(struct dnsio *d, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov,
			    .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	do {
		n = sendmsg(d->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	d->send_calls++;
	if (n >= 0)
		d->send_datagrams++;
	return n;
}

ssize_t dnsio_sendv(struct dnsio *d, const struct iovec *iov, int iovcnt)
{
	size_t n = iov_len(iov, iovcnt);
	struct dnsio_out *o;
	uint8_t *p;
	int rc;

	if (iovcnt < 0) {
		errno = EINVAL;
		return -1;
	}
	if (d->out_n == DNSIO_BATCH || n > DNSIO_SEND_MAX) {
		rc = dnsio_flush(d);
		if (rc == -EAGAIN &&
		    (d->out_n == DNSIO_BATCH || n > DNSIO_SEND_MAX)) {
			/* The kernel's buffer is full and so is the queue (or
			 * the datagram would overtake it): refused, as send()
			 * would refuse it. */
			errno = EAGAIN;
			return -1;
		}
		/* Any other failure is kept for the next read; this datagram
		 * starts a new queue (c-ares drops the socket on that read). */
	}
	if (n > DNSIO_SEND_MAX)
		return send_now(d, iov, iovcnt);
	o = d->out;
	if (!o) {
		if (d->pool && d->pool->out) {
			o = d->pool->out;
			d->pool->out = NULL;
		} else {
			o = malloc(sizeof *o);
		}
		if (!o)
			return send_now(d, iov, iovcnt);
		d->out = o;
	}
	p = o->buf[d->out_n];
	for (int i = 0; i < iovcnt; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	o->len[d->out_n++] = n;
	return (ssize_t)n;
}

/* Drops the first k queued datagrams (they were sent). */
static void out_consume(struct dnsio *d, unsigned k)
{
	struct dnsio_out *o = d->out;
	unsigned rest = d->out_n - k;

	if (rest > 0 && k > 0) {
		memmove(o->buf[0], o->buf[k], (size_t)rest * DNSIO_SEND_MAX);
		memmove(o->len, o->len + k, rest * sizeof o->len[0]);
	}
	d->out_n = rest;
}

int dnsio_flush(struct dnsio *d)
{
	struct dnsio_out *o = d->out;
	unsigned sent = 0;
	int n, e;

	if (d->out_n == 0)
		return 0;
	for (unsigned i = 0; i < d->out_n; i++) {
		o->iov[i].iov_base = o->buf[i];
		o->iov[i].iov_len = o->len[i];
		o->h[i].msg_hdr = (struct msghdr){
			.msg_iov = &o->iov[i],
			.msg_iovlen = 1,
		};
		o->h[i].msg_len = 0;
	}
	while (sent < d->out_n) {
		n = sendmmsg(d->fd, o->h + sent, d->out_n - sent,
			     MSG_DONTWAIT | MSG_NOSIGNAL);
		d->send_calls++;
		if (n > 0) {
			sent += (unsigned)n;
			d->send_datagrams += (unsigned)n;
			continue;
		}
		e = n < 0 ? errno : EIO;
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK) {
			out_consume(d, sent);
			return -EAGAIN;
		}
		/* Datagram `sent` is refused: it and the ones after it are
		 * not sent; the error goes to the next read. */
		d->out_n = 0;
		d->err = e;
		return -e;
	}
	d->out_n = 0;
	return 0;
}
