#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "crawler/smtp/conn.h"
#include "crawler/verify/certcache.h"

/* Bytes read from the socket at a time. */
#define CONN_READ_CHUNK 16384

struct conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct conn_callbacks cb;
	void *arg;
	SSL *ssl;
	BIO *rbio, *wbio; /* network side of OpenSSL: we feed and drain them */
	bool connected;
	bool handshaking;
	bool tls_up;
	bool closing;
	bool ended; /* on_end or a failed on_tls delivered */
	uint64_t tls_start;
	struct tls_preamble pre; /* plaintext before the first TLS record */
	/* What the handshake found: allocated at conn_start_tls(), freed
	 * once on_tls has returned (an established connection that waits
	 * keeps nothing of it). */
	struct tls_info *info;
};

struct write_req {
	uv_write_t req;
	uv_buf_t buf;
	uint8_t data[];
};

static const char *const conn_rc_names[CONN_RC_LAST] = {
	"ok",	     "refused",	     "reset", "unreachable", "eof",
	"tls_alert", "tls_protocol", "error", "no_memory",
};

const char *conn_rc_str(enum conn_rc rc)
{
	return rc < CONN_RC_LAST ? conn_rc_names[rc] : "unknown";
}

/*
 * Replaces OpenSSL's chain verification during the handshake. With
 * SSL_VERIFY_NONE OpenSSL still builds and checks the chain (and throws
 * the result away): per handshake an X509_STORE_CTX, issuer lookups, and
 * with them more of OpenSSL 3's locked decoder and provider fetches. The
 * chain is judged once by verify.c (which finds libssl's parse in the
 * certificate cache, collect_info()); here it is accepted as it is.
 */
static int accept_chain(X509_STORE_CTX *sctx, void *arg)
{
	(void)sctx;
	(void)arg;
	return 1;
}

SSL_CTX *tls_client_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	/* Measure what servers offer, legacy included: every version from
	 * TLS 1.0, every cipher, security level 0. */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, accept_chain, NULL);
	SSL_CTX_set_max_cert_list(ctx, TLS_MAX_CERT_LIST);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Old servers lack the renegotiation_info extension; OpenSSL 3
	 * refuses them unless told otherwise. A server that closes without
	 * close_notify after QUIT is an EOF, not an error. */
	SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT |
				     SSL_OP_IGNORE_UNEXPECTED_EOF |
				     SSL_OP_NO_TICKET);
	return ctx;
}

/* The first byte of a line that cannot start a TLS record: printable
 * ASCII, tab, CR, LF (TLS content types are 0x14-0x17, SSLv2 has the
 * high bit set). */
static bool plaintext_start(uint8_t b)
{
	return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\r' || b == '\n';
}

size_t tls_preamble_scan(struct tls_preamble *p, const uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (!p->done && i < len) {
		if (p->seen >= TLS_PREAMBLE_MAX ||
		    (!p->in_line && !plaintext_start(buf[i]))) {
			p->done = true;
			break;
		}
		/* Through the line's LF, at most up to the cap. */
		size_t room = TLS_PREAMBLE_MAX - p->seen;
		size_t n = len - i < room ? len - i : room;
		const uint8_t *lf = memchr(buf + i, '\n', n);
		if (lf)
			n = (size_t)(lf - (buf + i)) + 1;
		p->in_line = lf == NULL;
		p->seen += n;
		i += n;
	}
	return i;
}

static enum conn_rc map_uv(int status)
{
	switch (status) {
	case UV_ECONNREFUSED:
		return CONN_REFUSED;
	case UV_ECONNRESET:
		return CONN_RESET;
	case UV_EPIPE:
		/* Linux reports a reset that follows the peer's FIN (state
		 * CLOSE_WAIT) as EPIPE: the peer had closed first. */
		return CONN_EOF;
	case UV_ENETUNREACH:
	case UV_EHOSTUNREACH:
		return CONN_UNREACHABLE;
	case UV_EOF:
		return CONN_EOF;
	case UV_ENOMEM:
		return CONN_NO_MEMORY;
	default:
		return CONN_ERROR;
	}
}

static void on_write(uv_write_t *req, int status)
{
	(void)status; /* a failed write shows up as a read error or EOF */
	free(req->data);
}

/* 0, -ENOMEM, or libuv's error (a negative errno) when it refuses the
 * write. */
static int send_raw(struct conn *c, const uint8_t *buf, size_t len)
{
	struct write_req *w;
	int rc;

	if (c->closing || len == 0)
		return 0;
	w = malloc(sizeof *w + len);
	if (!w)
		return -ENOMEM;
	memcpy(w->data, buf, len);
	w->buf = uv_buf_init((char *)w->data, (unsigned)len);
	w->req.data = w;
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write);
	if (rc != 0)
		free(w);
	return rc;
}

/* Sends what OpenSSL has written into its network BIO. */
static int flush_tls(struct conn *c)
{
	uint8_t buf[CONN_READ_CHUNK];
	int n, rc;

	while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
		rc = send_raw(c, buf, (size_t)n);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Frees the handshake's results, the chain's DER included unless on_tls
 * took it (conn_take_chain()). */
static void free_info(struct conn *c)
{
	if (!c->info)
		return;
	for (size_t i = 0; i < c->info->nchain; i++)
		OPENSSL_free(c->info->chain[i]);
	free(c->info->chain);
	free(c->info->chain_len);
	free(c->info);
	c->info = NULL;
}

static void end(struct conn *c, enum conn_rc rc)
{
	if (c->ended || c->closing)
		return;
	c->ended = true;
	if (c->handshaking) {
		c->handshaking = false;
		c->cb.on_tls(c->arg, rc, c->info);
		free_info(c);
	} else {
		c->cb.on_end(c->arg, rc);
	}
}

/* The reason of the last OpenSSL error: a received alert or our own. */
static enum conn_rc tls_failure(struct conn *c)
{
	unsigned long e, last = 0;
	enum conn_rc rc = CONN_TLS_PROTOCOL;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET)
			rc = CONN_TLS_ALERT;
		last = last ? last : e;
	}
	if (last && c->info)
		ERR_error_string_n(last, c->info->error, sizeof c->info->error);
	return rc;
}

static void collect_info(struct conn *c)
{
	struct tls_info *in = c->info;
	const SSL_CIPHER *ciph = SSL_get_current_cipher(c->ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);
	int nid = SSL_get_negotiated_group(c->ssl);

	snprintf(in->version, sizeof in->version, "%s",
		 SSL_get_version(c->ssl));
	snprintf(in->cipher, sizeof in->cipher, "%s",
		 ciph ? SSL_CIPHER_get_name(ciph) : "");
	snprintf(in->group, sizeof in->group, "%s",
		 nid > 0 && OBJ_nid2sn(nid) ? OBJ_nid2sn(nid) : "");
	in->handshake_ms = (unsigned)(uv_now(c->tcp.loop) - c->tls_start);
	in->peer_chain = chain;
	in->chain_total = chain ? (size_t)sk_X509_num(chain) : 0;
	size_t keep =
	    in->chain_total < TLS_MAX_CHAIN ? in->chain_total : TLS_MAX_CHAIN;
	if (keep) {
		in->chain = calloc(keep, sizeof *in->chain);
		in->chain_len = calloc(keep, sizeof *in->chain_len);
		if (!in->chain || !in->chain_len)
			keep = 0; /* out of memory: no chain kept */
	}
	for (size_t i = 0; i < in->chain_total && in->nchain < keep; i++) {
		X509 *x = sk_X509_value(chain, (int)i);
		uint8_t *der = NULL;
		int len = i2d_X509(x, &der);
		if (len <= 0)
			continue;
		/* libssl has parsed it: the judgement, the certificate row
		 * and DANE find this parse in the cache by the DER's hash
		 * instead of decoding the DER again (certcache.h). */
		uint8_t sha[CERT_CACHE_SHA256_LEN];
		if (cert_cache_sha256(der, (size_t)len, sha) == 0)
			X509_free(
			    cert_cache_adopt(cert_cache_global(), x, sha));
		in->chain[in->nchain] = der;
		in->chain_len[in->nchain] = (size_t)len;
		in->nchain++;
	}
}

static void read_plain(struct conn *c)
{
	uint8_t buf[CONN_READ_CHUNK];

	while (!c->closing && !c->ended) {
		int n = SSL_read(c->ssl, buf, sizeof buf);
		if (n > 0) {
			c->cb.on_data(c->arg, buf, (size_t)n);
			continue;
		}
		int err = SSL_get_error(c->ssl, n);
		flush_tls(c);
		if (err == SSL_ERROR_WANT_READ)
			return;
		if (err == SSL_ERROR_ZERO_RETURN ||
		    (err == SSL_ERROR_SSL && ERR_peek_error() == 0)) {
			end(c, CONN_EOF);
			return;
		}
		end(c, tls_failure(c));
		return;
	}
}

/*
 * A memory BIO keeps the largest buffer it ever held (the server's
 * certificate flight, several KiB); once the handshake is done and both
 * are empty, fresh ones take their place. OpenSSL's own record buffers
 * are released by SSL_MODE_RELEASE_BUFFERS. Out of memory keeps the old
 * ones.
 */
static void renew_bios(struct conn *c)
{
	BIO *r, *w;

	if (BIO_ctrl_pending(c->rbio) != 0 || BIO_ctrl_pending(c->wbio) != 0)
		return;
	r = BIO_new(BIO_s_mem());
	w = BIO_new(BIO_s_mem());
	if (!r || !w) {
		BIO_free(r);
		BIO_free(w);
		return;
	}
	SSL_set_bio(c->ssl, r, w); /* frees the old pair */
	c->rbio = r;
	c->wbio = w;
}

static void handshake(struct conn *c)
{
	int r = SSL_do_handshake(c->ssl);

	flush_tls(c);
	if (r == 1) {
		c->handshaking = false;
		c->tls_up = true;
		collect_info(c);
		c->cb.on_tls(c->arg, CONN_OK, c->info);
		free_info(c);
		if (c->closing)
			return;
		/* Application data may have come with the last flight. */
		read_plain(c);
		if (!c->closing && !c->ended)
			renew_bios(c);
		return;
	}
	int err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return;
	end(c, tls_failure(c));
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	/* One read buffer per thread, not per connection: on_read consumes
	 * the bytes before the loop reads again, and every connection of a
	 * loop lives on that loop's thread. Saves 16 KiB per connection. */
	static _Thread_local uint8_t rbuf[CONN_READ_CHUNK];

	*buf = uv_buf_init((char *)rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (c->closing)
		return;
	if (n < 0) {
		uv_read_stop(s);
		end(c, map_uv((int)n));
		return;
	}
	if (n == 0)
		return;
	if (!c->ssl) {
		c->cb.on_data(c->arg, (const uint8_t *)buf->base, (size_t)n);
		return;
	}
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t len = (size_t)n;
	if (c->handshaking && !c->pre.done) {
		size_t plain = tls_preamble_scan(&c->pre, p, len);
		if (plain > 0) {
			c->cb.on_data(c->arg, p, plain);
			if (c->closing || c->ended)
				return;
			p += plain;
			len -= plain;
		}
		if (len == 0)
			return;
	}
	BIO_write(c->rbio, p, (int)len);
	if (c->handshaking)
		handshake(c);
	else
		read_plain(c);
}

/* The local address of the first connection the process established:
 * 0 none yet, 1 being written, 2 set. Whichever loop connects first
 * writes it, once; one getsockname per process. */
static atomic_int first_local_state;
static struct addr first_local;

static void note_first_local(uv_tcp_t *tcp)
{
	struct sockaddr_storage ss;
	int len = sizeof ss, none = 0;

	if (atomic_load_explicit(&first_local_state, memory_order_relaxed) ||
	    !atomic_compare_exchange_strong(&first_local_state, &none, 1))
		return;
	if (uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		first_local.family = ss.ss_family;
		if (ss.ss_family == AF_INET)
			memcpy(first_local.bytes,
			       &((struct sockaddr_in *)&ss)->sin_addr, 4);
		else
			memcpy(first_local.bytes,
			       &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		atomic_store(&first_local_state, 2);
	} else {
		atomic_store(&first_local_state, 0); /* the next one tries */
	}
}

bool conn_first_local(struct addr *out)
{
	if (atomic_load(&first_local_state) != 2)
		return false;
	*out = first_local;
	return true;
}

static void on_connected(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (c->closing)
		return;
	if (status != 0) {
		c->ended = true;
		c->cb.on_connect(c->arg, map_uv(status));
		return;
	}
	c->connected = true;
	uv_tcp_nodelay(&c->tcp, 1);
	note_first_local(&c->tcp);
	c->cb.on_connect(c->arg, CONN_OK);
	if (!c->closing)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void free_on_close(uv_handle_t *h)
{
	free(h->data);
}

struct conn *conn_connect(uv_loop_t *loop, const struct addr *addr, int port,
			  const struct conn_callbacks *cb, void *arg)
{
	struct conn *c = calloc(1, sizeof *c);
	struct sockaddr_storage ss;

	if (!c)
		return NULL;
	memset(&ss, 0, sizeof ss);
	if (addr->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, addr->bytes, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, addr->bytes, 16);
	}
	c->cb = *cb;
	c->arg = arg;
	uv_tcp_init(loop, &c->tcp);
	c->tcp.data = c;
	c->creq.data = c;
	int rc = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss,
				on_connected);
	if (rc != 0) {
		/* Not started (e.g. an unsupported address): the caller
		 * records the failure; the handle is freed once closed. */
		uv_close((uv_handle_t *)&c->tcp, free_on_close);
		return NULL;
	}
	return c;
}

int conn_write(struct conn *c, const uint8_t *buf, size_t len)
{
	if (c->closing || !c->connected)
		return -ENOTCONN;
	if (!c->ssl)
		return send_raw(c, buf, len);
	/* Nothing goes out in the clear once STARTTLS is under way. */
	if (!c->tls_up)
		return -ENOTCONN;
	while (len > 0) {
		int n = SSL_write(c->ssl, buf, (int)len);
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return flush_tls(c);
}

int conn_start_tls(struct conn *c, SSL_CTX *ctx, const char *sni)
{
	if (c->closing)
		return -ENOTCONN;
	if (c->ssl)
		return -EALREADY;
	c->ssl = SSL_new(ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	c->info = calloc(1, sizeof *c->info);
	if (!c->ssl || !c->rbio || !c->wbio || !c->info) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		free(c->info);
		c->ssl = NULL;
		c->info = NULL;
		return -ENOMEM;
	}
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_connect_state(c->ssl);
	if (sni && *sni)
		SSL_set_tlsext_host_name(c->ssl, sni);
	memset(&c->pre, 0, sizeof c->pre);
	c->handshaking = true;
	c->tls_start = uv_now(c->tcp.loop);
	handshake(c);
	return 0;
}

void conn_take_chain(struct conn *c, struct tls_info *to)
{
	to->chain = NULL;
	to->chain_len = NULL;
	to->nchain = 0;
	if (!c->info || !c->info->chain || !c->info->chain_len)
		return;
	to->chain = c->info->chain;
	to->chain_len = c->info->chain_len;
	to->nchain = c->info->nchain;
	c->info->chain = NULL;
	c->info->chain_len = NULL;
	c->info->nchain = 0;
}

bool conn_peer_closed(const struct conn *c)
{
	uv_os_fd_t fd;
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	if (!c->connected || c->closing ||
	    uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0 ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return false;
	return ti.tcpi_state == TCP_CLOSE_WAIT;
}

static void on_close(uv_handle_t *h)
{
	struct conn *c = h->data;
	void (*closed)(void *) = c->cb.on_closed;
	void *arg = c->arg;

	free_info(c);
	SSL_free(c->ssl); /* frees the BIOs too */
	free(c);
	if (closed)
		closed(arg);
}

void conn_close(struct conn *c, bool reset)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->tls_up && !reset) {
		SSL_shutdown(c->ssl);
		uint8_t buf[CONN_READ_CHUNK];
		int n;
		/* Best effort: the close_notify goes out before the FIN. */
		while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
			c->closing = false;
			send_raw(c, buf, (size_t)n);
			c->closing = true;
		}
	}
	if (c->connected)
		uv_read_stop((uv_stream_t *)&c->tcp);
	if (reset && c->connected)
		uv_tcp_close_reset(&c->tcp, on_close);
	else
		uv_close((uv_handle_t *)&c->tcp, on_close);
}
