/*
 * crawler/dns/dnsio.c: c-ares' UDP reads answered from recvmmsg() batches
 * and its sends queued for sendmmsg(). Real sockets on 127.0.0.1 (and a
 * UNIX datagram pair, whose small queue makes the kernel say EAGAIN):
 * every datagram arrives once, whole and in order, with its source
 * address; an error of a refused send is returned by the next read, after
 * the datagrams read before it and never lost; the read after a short
 * batch says EAGAIN without a system call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crawler/dns/dnsio.h"
#include "unit.h"

/* A bound UDP socket on 127.0.0.1, non-blocking; *port gets its port. */
static int udp_bound(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int udp_connect(int fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return connect(fd, (struct sockaddr *)&a, sizeof a);
}

/* Datagram number i: its length (2..DNSIO_SEND_MAX) and bytes say i. */
static size_t dgram(unsigned i, uint8_t *buf)
{
	size_t len = 2 + (i * 37) % (DNSIO_SEND_MAX - 1);

	buf[0] = (uint8_t)(i >> 8);
	buf[1] = (uint8_t)i;
	for (size_t k = 2; k < len; k++)
		buf[k] = (uint8_t)(i + k);
	return len;
}

static bool dgram_is(unsigned i, const uint8_t *buf, ssize_t n)
{
	uint8_t want[1024];
	size_t len = dgram(i, want);
	return n == (ssize_t)len && memcmp(buf, want, len) == 0;
}

/* Waits (at most 5 s) until fd reports events (not a sleep: poll()). */
static bool wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	return poll(&p, 1, 5000) == 1;
}

UNIT_TEST(test_dnsio_reads_every_datagram_in_order)
{
	uint16_t port_a, port_b;
	int a = udp_bound(&port_a), b = udp_bound(&port_b);
	struct dnsio d;
	uint8_t buf[DNSIO_RECV_MAX], out[1024];
	const unsigned total = 2 * DNSIO_BATCH + 22;
	unsigned got = 0;
	ssize_t n;

	CHECK(a >= 0 && b >= 0);
	CHECK(udp_connect(a, port_b) == 0 && udp_connect(b, port_a) == 0);
	for (unsigned i = 0; i < total; i++)
		CHECK(send(b, out, dgram(i, out), 0) > 0);
	CHECK(wait_for(a, POLLIN));
	dnsio_init(&d, a, NULL);
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof from;
		n = dnsio_recvfrom(&d, buf, sizeof buf,
				   (struct sockaddr *)&from, &flen);
		if (n < 0)
			break;
		if (!dgram_is(got, buf, n))
			unit_fail(__FILE__, __LINE__, "datagram %u wrong (%zd)",
				  got, n);
		CHECK_INT(flen, sizeof(struct sockaddr_in), "from length");
		CHECK_INT(ntohs(((struct sockaddr_in *)&from)->sin_port),
			  port_b, "from port");
		got++;
	}
	CHECK_INT(errno, EAGAIN, "end of the queue");
	CHECK_INT(got, total, "datagrams read");
	/* 64 + 64 + 22: the short third batch emptied the queue, so the
	 * read after it said EAGAIN without asking the kernel. */
	CHECK_INT(d.recv_calls, 3, "recvmmsg calls");
	CHECK_INT(d.recv_datagrams, total, "datagrams counted");

	/* The next read asks the kernel again. */
	CHECK(send(b, out, dgram(7, out), 0) > 0);
	CHECK(wait_for(a, POLLIN));
	n = dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL);
	CHECK(dgram_is(7, buf, n));
	CHECK_INT(d.recv_calls, 4, "recvmmsg calls");
	dnsio_discard(&d);
	close(a);
	close(b);
}

UNIT_TEST(test_dnsio_read_cut_as_recvfrom)
{
	uint16_t port_a, port_b;
	int a = udp_bound(&port_a), b = udp_bound(&port_b);
	struct dnsio d;
	uint8_t buf[1024], out[1024];
	ssize_t n;

	CHECK(udp_connect(a, port_b) == 0 && udp_connect(b, port_a) == 0);
	CHECK(send(b, out, dgram(100, out), 0) > 0); /* 125 bytes */
	CHECK(send(b, out, 0, 0) == 0);		     /* empty datagram */
	CHECK(send(b, out, dgram(3, out), 0) > 0);
	CHECK(wait_for(a, POLLIN));
	dnsio_init(&d, a, NULL);
	n = dnsio_recvfrom(&d, buf, 10, NULL, NULL);
	CHECK_INT(n, 10, "cut to the buffer");
	dgram(100, out);
	CHECK(memcmp(buf, out, 10) == 0);
	CHECK_INT(dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL), 0,
		  "empty datagram");
	n = dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL);
	CHECK(dgram_is(3, buf, n));
	CHECK_INT(dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL), -1, "end");
	CHECK_INT(errno, EAGAIN, "end");
	dnsio_discard(&d);
	close(a);
	close(b);
}

UNIT_TEST(test_dnsio_sends_queued_in_order)
{
	uint16_t port_a, port_b;
	int a = udp_bound(&port_a), b = udp_bound(&port_b);
	struct dnsio_pool pool = { 0 };
	struct dnsio d;
	uint8_t buf[1024], out[1024];
	const unsigned total = 3 * DNSIO_BATCH + 8;
	unsigned got = 0;
	int rcv = 1 << 20;

	CHECK(udp_connect(a, port_b) == 0 && udp_connect(b, port_a) == 0);
	(void)setsockopt(b, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	dnsio_init(&d, a, &pool);
	for (unsigned i = 0; i < total; i++) {
		/* in two pieces, as c-ares may hand them */
		size_t len = dgram(i, out);
		struct iovec iov[2] = { { out, 1 }, { out + 1, len - 1 } };
		CHECK_INT(dnsio_sendv(&d, iov, 2), len, "queued");
	}
	/* Full batches went out as the queue filled; the rest waits. */
	CHECK_INT(d.out_n, 8, "queued");
	CHECK_INT(d.send_calls, 3, "sendmmsg calls");
	CHECK(recv(b, buf, sizeof buf, MSG_DONTWAIT | MSG_PEEK) > 0);
	CHECK_INT(dnsio_flush(&d), 0, "flush");
	CHECK_INT(d.send_calls, 4, "sendmmsg calls");
	CHECK_INT(d.send_datagrams, total, "datagrams sent");
	CHECK(!dnsio_has_queued(&d));
	CHECK_INT(dnsio_flush(&d), 0, "empty flush");
	CHECK_INT(d.send_calls, 4, "an empty flush makes no call");
	for (;;) {
		ssize_t n = recv(b, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0)
			break;
		if (!dgram_is(got, buf, n))
			unit_fail(__FILE__, __LINE__, "datagram %u wrong (%zd)",
				  got, n);
		got++;
	}
	CHECK_INT(got, total, "datagrams arrived");
	/* A datagram too long for the queue goes out at once, after it. */
	{
		static uint8_t big[DNSIO_SEND_MAX + 100];
		struct iovec one = { out, dgram(1, out) };
		struct iovec two = { big, sizeof big };
		memset(big, 0xab, sizeof big);
		CHECK(dnsio_sendv(&d, &one, 1) > 0);
		CHECK_INT(dnsio_sendv(&d, &two, 1), sizeof big, "long one");
		CHECK(!dnsio_has_queued(&d));
		CHECK(wait_for(b, POLLIN));
		CHECK(dgram_is(1, buf, recv(b, buf, sizeof buf, 0)));
		CHECK_INT(recv(b, buf, sizeof buf, MSG_DONTWAIT), sizeof big,
			  "then the long one");
	}
	dnsio_discard(&d);
	CHECK(pool.out != NULL); /* kept for the next socket */
	dnsio_pool_free(&pool);
	close(a);
	close(b);
}

UNIT_TEST(test_dnsio_send_eagain_keeps_the_rest)
{
	/* A UNIX datagram pair: the kernel queues few datagrams for the
	 * reader and then says EAGAIN to the writer. */
	int sv[2];
	struct dnsio d;
	uint8_t buf[1024], out[1024];
	const unsigned total = 50;
	unsigned got = 0, flushes = 0;
	int rc;

	int small = 1;

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) == 0);
	/* What is queued for the reader counts against the writer's send
	 * buffer: the smallest one holds a few datagrams. */
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) ==
	      0);
	dnsio_init(&d, sv[0], NULL);
	for (unsigned i = 0; i < total; i++) {
		struct iovec iov = { out, dgram(i, out) };
		CHECK(dnsio_sendv(&d, &iov, 1) > 0);
	}
	do {
		rc = dnsio_flush(&d);
		flushes++;
		CHECK(rc == 0 || rc == -EAGAIN);
		for (;;) {
			ssize_t n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
			if (n < 0)
				break;
			if (!dgram_is(got, buf, n))
				unit_fail(__FILE__, __LINE__,
					  "datagram %u wrong (%zd)", got, n);
			got++;
		}
	} while (rc == -EAGAIN && flushes < 100);
	CHECK_INT(got, total, "every datagram once, in order");
	CHECK(flushes > 1); /* the kernel did say EAGAIN */
	CHECK(!dnsio_has_error(&d));
	dnsio_discard(&d);
	close(sv[0]);
	close(sv[1]);
}

UNIT_TEST(test_dnsio_send_error_goes_to_the_next_read)
{
	uint16_t port_a, port_b;
	int a = udp_bound(&port_a), b = udp_bound(&port_b);
	struct dnsio d;
	uint8_t buf[1024], out[1024];
	struct iovec iov;
	ssize_t n;
	int rc;

	CHECK(udp_connect(a, port_b) == 0 && udp_connect(b, port_a) == 0);
	for (unsigned i = 0; i < 3; i++)
		CHECK(send(b, out, dgram(i, out), 0) > 0);
	CHECK(wait_for(a, POLLIN));
	dnsio_init(&d, a, NULL);
	n = dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL);
	CHECK(dgram_is(0, buf, n)); /* two more wait in the batch */

	/* The peer goes away: the next datagram to it is answered with
	 * ICMP port unreachable, and the kernel refuses the one after. */
	close(b);
	iov = (struct iovec){ out, dgram(10, out) };
	CHECK(dnsio_sendv(&d, &iov, 1) > 0);
	CHECK_INT(dnsio_flush(&d), 0, "sent");
	CHECK(wait_for(a, POLLERR));
	iov = (struct iovec){ out, dgram(11, out) };
	CHECK(dnsio_sendv(&d, &iov, 1) > 0);
	iov = (struct iovec){ out, dgram(12, out) };
	CHECK(dnsio_sendv(&d, &iov, 1) > 0);
	rc = dnsio_flush(&d);
	CHECK_INT(rc, -ECONNREFUSED, "refused");
	CHECK(dnsio_has_error(&d));
	CHECK(!dnsio_has_queued(&d));

	/* Reads: what was read before the error, then the error, once. */
	n = dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL);
	CHECK(dgram_is(1, buf, n));
	n = dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL);
	CHECK(dgram_is(2, buf, n));
	n = dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL);
	CHECK_INT(n, -1, "the send's error");
	CHECK_INT(errno, ECONNREFUSED, "the send's error");
	CHECK(!dnsio_has_error(&d));
	n = dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL);
	CHECK_INT(n, -1, "then the end");
	CHECK_INT(errno, EAGAIN, "then the end");
	dnsio_discard(&d);
	close(a);
}

UNIT_TEST(test_dnsio_discard_drops_queue_and_batch)
{
	uint16_t port_a, port_b;
	int a = udp_bound(&port_a), b = udp_bound(&port_b);
	struct dnsio_pool pool = { 0 };
	struct dnsio d;
	uint8_t buf[1024], out[1024];
	struct iovec iov = { out, 0 };

	CHECK(udp_connect(a, port_b) == 0 && udp_connect(b, port_a) == 0);
	CHECK(send(b, out, dgram(0, out), 0) > 0);
	CHECK(send(b, out, dgram(1, out), 0) > 0);
	CHECK(wait_for(a, POLLIN));
	dnsio_init(&d, a, &pool);
	CHECK(dnsio_recvfrom(&d, buf, sizeof buf, NULL, NULL) > 0);
	iov.iov_len = dgram(5, out);
	CHECK(dnsio_sendv(&d, &iov, 1) > 0);
	/* c-ares closes the socket: nothing of it is left for the next. */
	dnsio_discard(&d);
	CHECK(!dnsio_has_unread(&d) && !dnsio_has_queued(&d));
	CHECK(pool.in != NULL && pool.out != NULL);
	dnsio_init(&d, a, &pool);
	CHECK_INT(dnsio_flush(&d), 0, "nothing queued");
	CHECK_INT(recv(b, buf, sizeof buf, MSG_DONTWAIT), -1, "nothing sent");
	dnsio_discard(&d);
	dnsio_pool_free(&pool);
	close(a);
	close(b);
}
