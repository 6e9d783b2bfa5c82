/*
 * The MTA-STS policy fetch over HTTPS (see stsfetch.h).
 *
 * Three layers, kept apart:
 *   - plumbing: curl's multi-socket API tells us which sockets to watch
 *     (CURLMOPT_SOCKETFUNCTION; each gets a uv_poll_t, found again through
 *     curl_multi_assign) and when to call it back (CURLMOPT_TIMERFUNCTION;
 *     one uv_timer_t). Events only become curl_multi_socket_action()
 *     calls; after each, finished transfers are collected. Nothing there
 *     knows HTTP or MTA-STS.
 *   - one small state machine per fetch (struct xfer) fed by curl's header,
 *     body and TLS callbacks: wait for the final header block, judge it,
 *     read the body within the cap, or refuse and stop the transfer.
 *   - the judgement of headers (stsfetch_judge_headers() and the media
 *     type / coding checks): pure functions.
 *
 * Things libcurl 7.88 does that shape this file:
 *   - CURLOPT_RESOLVE entries are permanent entries of the DNS cache they
 *     land in; in the multi handle's shared cache they would pile up, one
 *     per fetched host, for the life of the worker. Each fetch therefore
 *     gets a share object of its own for DNS, freed with the fetch.
 *   - With OpenSSL, curl builds one SSL_CTX per connection and would read
 *     and parse the CA file for each one (blocking file I/O on the loop,
 *     and slow: PEM parsing). We give curl no CA file and install, from
 *     CURLOPT_SSL_CTX_FUNCTION (called before the SSL object exists), one
 *     X509_STORE loaded at init, the host name as X509 verification
 *     parameter, and a certificate verification callback that keeps the
 *     presented chain and the verification result, also when the
 *     handshake then fails. curl's own host name check still runs after
 *     the handshake.
 *   - The socket and timer callbacks must not call back into curl; a
 *     zero timeout is turned into a timer that fires on the next loop
 *     iteration. curl_multi_remove_handle() and the user's callback run
 *     only after curl_multi_socket_action() has returned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "crawler/sts/stsfetch.h"
#include "crawler/verify/certcache.h"

#define STSFETCH_PATH "/.well-known/mta-sts.txt"
#define STSFETCH_PORT 443
/* Fetches pending at once per fetcher; the caller's window is far below,
 * this only catches a runaway caller. */
#define STSFETCH_MAX_PENDING 65536
/* First body buffer when the length is not announced; doubled up to the
 * cap as bytes arrive. */
#define STSFETCH_BODY_INITIAL 4096
/* curl's receive buffer per fetch (its default is 16 KiB). */
#define STSFETCH_RECV_BUFFER 4096L
/* Upper bounds on the configuration: beyond these it is a typo. */
#define STSFETCH_MAX_TIMEOUT_MS 600000

static const char *const rc_names[] = {
	[STSFETCH_OK] = "ok",
	[STSFETCH_HTTP_REDIRECT] = "http_redirect",
	[STSFETCH_HTTP_STATUS] = "http_status",
	[STSFETCH_MEDIA_TYPE] = "media_type",
	[STSFETCH_TOO_LARGE] = "too_large",
	[STSFETCH_TIMEOUT] = "timeout",
	[STSFETCH_CONTENT_ENCODING] = "content_encoding",
	[STSFETCH_WEBPKI_INVALID] = "webpki_invalid",
	[STSFETCH_TLS_ERROR] = "tls_error",
	[STSFETCH_DNS_ERROR] = "dns_error",
	[STSFETCH_REFUSED_ADDRESS] = "refused_address",
	[STSFETCH_CONNECT_REFUSED] = "connect_refused",
	[STSFETCH_CONNECT_ERROR] = "connect_error",
	[STSFETCH_CONNECTION_LOST] = "connection_lost",
	[STSFETCH_PROTOCOL_ERROR] = "protocol_error",
	[STSFETCH_HEADERS_TOO_LARGE] = "headers_too_large",
	[STSFETCH_OUT_OF_MEMORY] = "out_of_memory",
	[STSFETCH_CANCELLED] = "cancelled",
	[STSFETCH_INTERNAL_ERROR] = "internal_error",
};

/* Where one fetch is. Only xfer_set_state() writes x->state. */
enum xfer_state {
	XF_HEADERS, /* waiting for the final (non-1xx) response header block */
	XF_BODY,    /* headers accepted: reading the body within the cap */
	XF_REFUSED, /* a callback decided the outcome and stopped curl */
	XF_DONE,    /* curl finished: outcome computed, being delivered */
	XF_STATE_LAST
};

static const char *const xfer_state_names[] = {
	[XF_HEADERS] = "headers",
	[XF_BODY] = "body",
	[XF_REFUSED] = "refused",
	[XF_DONE] = "done",
};

/* A socket curl asked us to watch. */
struct ssock {
	uv_poll_t poll;
	struct stsfetch *f;
	curl_socket_t fd;
	struct ssock *prev, *next;
};

struct xfer {
	struct stsfetch *f;
	CURL *easy;
	CURLSH *share; /* this fetch's own DNS cache (see top) */
	struct curl_slist *resolve;
	stsfetch_done_cb done;
	void *arg;
	struct xfer *prev, *next;
	enum xfer_state state;
	/* The outcome decided by a callback (XF_REFUSED), or by the plumbing
	 * (out of memory for a socket), before curl reports its own. */
	enum stsfetch_rc verdict;
	bool has_verdict;
	uint64_t started_ns;
	size_t header_bytes;
	struct stsfetch_head head;
	uint8_t *body;
	size_t body_len, body_cap;
	size_t chain_bytes;
	uint8_t *chain[STSFETCH_MAX_CHAIN];
	struct sockaddr_storage allowed[STSFETCH_MAX_ADDRS];
	size_t nallowed;
	struct stsfetch_result res;
	char errbuf[CURL_ERROR_SIZE];
	char host[STSFETCH_HOST_MAX + 1];
};

struct stsfetch {
	uv_loop_t *loop;
	CURLM *multi;
	X509_STORE *store;
	size_t max_body;
	long timeout_ms, connect_timeout_ms;
	char *user_agent;
	bool trace; /* state changes to stderr (debug builds) */

	uv_timer_t timer; /* curl's next timeout */
	struct ssock *socks;
	unsigned open_handles; /* timer + polls; freed at zero when shut */

	/* Depth of our frames that hold curl or user code on the stack;
	 * stsfetch_close() inside them is carried out when it drops to 0. */
	unsigned depth;
	bool closing;
	bool shut;
	void (*closed)(void *arg);
	void *closed_arg;

	struct xfer *live;
	size_t n_live;
};

static void leave(struct stsfetch *f);

const char *stsfetch_rc_str(enum stsfetch_rc rc)
{
	if ((unsigned)rc >= STSFETCH_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

/* ---- Judgement: pure functions -------------------------------------- */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && (is_ows(**s) || **s == '\r' || **s == '\n')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && (is_ows((*s)[*len - 1]) || (*s)[*len - 1] == '\r' ||
			    (*s)[*len - 1] == '\n'))
		(*len)--;
}

bool stsfetch_media_type_ok(const char *value, size_t len)
{
	static const char want[] = "text/plain";
	const size_t n = sizeof want - 1;
	size_t i;

	trim(&value, &len);
	if (len < n || strncasecmp(value, want, n) != 0)
		return false;
	/* After the subtype: nothing, or OWS then ";" and parameters (which
	 * we do not judge: charset and others are allowed). */
	for (i = n; i < len && is_ows(value[i]); i++)
		;
	return i == len || value[i] == ';';
}

bool stsfetch_encoding_ok(const char *value, size_t len)
{
	size_t i = 0;

	while (i <= len) {
		size_t j = i;
		const char *tok;
		size_t tlen;

		while (j < len && value[j] != ',')
			j++;
		tok = value + i;
		tlen = j - i;
		trim(&tok, &tlen);
		if (tlen > 0 &&
		    !(tlen == 8 && strncasecmp(tok, "identity", 8) == 0))
			return false;
		i = j + 1;
	}
	return true;
}

enum stsfetch_rc stsfetch_judge_headers(const struct stsfetch_head *h,
					size_t max_body)
{
	if (h->status >= 300 && h->status <= 399)
		return STSFETCH_HTTP_REDIRECT;
	if (h->status != 200)
		return STSFETCH_HTTP_STATUS;
	/* A coded body is refused before its type is looked at: the type
	 * of a gzip'd text/plain is still text/plain (RFC 9110 §8.4). */
	if (!h->encoding_ok)
		return STSFETCH_CONTENT_ENCODING;
	if (h->n_content_type != 1 || !h->media_type_ok)
		return STSFETCH_MEDIA_TYPE;
	if (h->content_length >= 0 && (uint64_t)h->content_length > max_body)
		return STSFETCH_TOO_LARGE;
	return STSFETCH_OK;
}

/* ---- One fetch: state and callbacks --------------------------------- */

static void xfer_set_state(struct xfer *x, enum xfer_state s)
{
#ifndef NDEBUG
	if (x->f->trace)
		fprintf(stderr, "stsfetch: %s %s -> %s\n", x->host,
			xfer_state_names[x->state], xfer_state_names[s]);
#else
	(void)xfer_state_names;
#endif
	x->state = s;
}

/* Decides the outcome now; the caller then makes curl stop. */
static void xfer_refuse(struct xfer *x, enum stsfetch_rc rc)
{
	if (!x->has_verdict) {
		x->verdict = rc;
		x->has_verdict = true;
	}
	xfer_set_state(x, XF_REFUSED);
}

static void head_reset(struct stsfetch_head *h)
{
	memset(h, 0, sizeof *h);
	h->encoding_ok = true;
	h->content_length = -1;
}

/* Bounded copy of a header value; flags the result when cut. */
static void keep_value(struct xfer *x, char *dst, size_t cap, const char *v,
		       size_t len)
{
	if (len >= cap) {
		len = cap - 1;
		x->res.header_truncated = true;
	}
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static bool parse_status_line(const char *s, size_t len, int *status)
{
	size_t i = 0;
	int v = 0, k;

	/* HTTP-version SP 3DIGIT [SP reason] (RFC 9112 §4). */
	while (i < len && s[i] != ' ')
		i++;
	if (i + 4 > len)
		return false;
	for (k = 1; k <= 3; k++) {
		char c = s[i + k];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	if (i + 4 < len && s[i + 4] != ' ' && s[i + 4] != '\r' &&
	    s[i + 4] != '\n')
		return false;
	*status = v;
	return true;
}

static bool parse_length(const char *v, size_t len, int64_t *out)
{
	int64_t n = 0;
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (n > (INT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return true;
}

static bool name_is(const char *line, size_t nlen, const char *name)
{
	return strlen(name) == nlen && strncasecmp(line, name, nlen) == 0;
}

/* A header line of the block being read. */
static void on_field(struct xfer *x, const char *line, size_t len)
{
	struct stsfetch_head *h = &x->head;
	struct stsfetch_result *r = &x->res;
	const char *colon = memchr(line, ':', len);
	const char *v;
	size_t nlen, vlen;

	if (!colon)
		return; /* curl has accepted it; nothing we record */
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - nlen - 1;
	trim(&v, &vlen);
	if (name_is(line, nlen, "content-type")) {
		h->n_content_type++;
		h->media_type_ok = stsfetch_media_type_ok(v, vlen);
		keep_value(x, r->content_type, sizeof r->content_type, v, vlen);
	} else if (name_is(line, nlen, "content-encoding")) {
		size_t used = strlen(r->content_encoding);
		if (!stsfetch_encoding_ok(v, vlen))
			h->encoding_ok = false;
		if (used > 0 && used + 2 < sizeof r->content_encoding) {
			memcpy(r->content_encoding + used, ", ", 3);
			used += 2;
		}
		keep_value(x, r->content_encoding + used,
			   sizeof r->content_encoding - used, v, vlen);
	} else if (name_is(line, nlen, "location")) {
		keep_value(x, r->location, sizeof r->location, v, vlen);
	} else if (name_is(line, nlen, "content-length")) {
		int64_t n;
		if (parse_length(v, vlen, &n))
			h->content_length = n;
	}
}

/* The blank line that ends a header block. Returns false to stop curl. */
static bool on_head_end(struct xfer *x)
{
	enum stsfetch_rc rc;

	if (x->head.status >= 100 && x->head.status <= 199)
		return true; /* interim response: the final one follows */
	x->res.http_status = x->head.status;
	rc = stsfetch_judge_headers(&x->head, x->f->max_body);
	if (rc != STSFETCH_OK) {
		xfer_refuse(x, rc);
		return false;
	}
	if (x->head.content_length > 0) {
		/* Within the cap (judged): one allocation for the body. */
		x->body = malloc((size_t)x->head.content_length);
		if (!x->body) {
			xfer_refuse(x, STSFETCH_OUT_OF_MEMORY);
			return false;
		}
		x->body_cap = (size_t)x->head.content_length;
	}
	xfer_set_state(x, XF_BODY);
	return true;
}

/* CURLOPT_HEADERFUNCTION: one complete header line, line end included. */
static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	struct stsfetch_result *r = &x->res;

	if (x->state == XF_REFUSED)
		return 0;
	x->header_bytes += len;
	if (x->header_bytes > STSFETCH_HEADER_BYTES_MAX) {
		xfer_refuse(x, STSFETCH_HEADERS_TOO_LARGE);
		return 0;
	}
	if (x->state != XF_HEADERS)
		return len; /* trailers after a chunked body: not recorded */
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response block (after a 1xx): start over. */
		head_reset(&x->head);
		r->location[0] = r->content_type[0] = '\0';
		r->content_encoding[0] = '\0';
		if (!parse_status_line(buf, len, &x->head.status)) {
			xfer_refuse(x, STSFETCH_PROTOCOL_ERROR);
			return 0;
		}
		if (x->head.status >= 200)
			r->http_status = x->head.status;
		return len;
	}
	if ((len == 2 && buf[0] == '\r' && buf[1] == '\n') ||
	    (len == 1 && buf[0] == '\n'))
		return on_head_end(x) ? len : 0;
	on_field(x, buf, len);
	return len;
}

/* CURLOPT_WRITEFUNCTION: body bytes (never decoded: we send no
 * Accept-Encoding and refuse coded bodies at the headers). */
static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	size_t max = x->f->max_body;

	if (x->state != XF_BODY)
		return 0;
	if (len > max - x->body_len) {
		/* Over the cap: refused, not truncated, and not read on. */
		xfer_refuse(x, STSFETCH_TOO_LARGE);
		return 0;
	}
	if (x->body_len + len > x->body_cap) {
		size_t cap = x->body_cap ? x->body_cap : STSFETCH_BODY_INITIAL;
		uint8_t *nb;
		while (cap < x->body_len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		nb = realloc(x->body, cap);
		if (!nb) {
			xfer_refuse(x, STSFETCH_OUT_OF_MEMORY);
			return 0;
		}
		x->body = nb;
		x->body_cap = cap;
	}
	memcpy(x->body + x->body_len, buf, len);
	x->body_len += len;
	return len;
}

static void chain_clear(struct xfer *x)
{
	size_t i;

	for (i = 0; i < x->res.nchain; i++) {
		OPENSSL_free(x->chain[i]);
		x->chain[i] = NULL;
		x->res.chain[i] = NULL;
		x->res.chain_len[i] = 0;
	}
	x->res.nchain = x->res.chain_total = 0;
	x->chain_bytes = 0;
}

/* Keeps the presented chain as DER, within the count and byte bounds. */
static void chain_keep(struct xfer *x, STACK_OF(X509) * sk, X509 *leaf)
{
	int i, n = sk ? sk_X509_num(sk) : 0;

	chain_clear(x);
	if (n == 0 && leaf) {
		/* No stack handed over: at least the leaf. */
		n = 1;
		sk = NULL;
	}
	for (i = 0; i < n; i++) {
		X509 *c = sk ? sk_X509_value(sk, i) : leaf;
		unsigned char *der = NULL;
		int dlen;

		x->res.chain_total++;
		if (x->res.nchain >= STSFETCH_MAX_CHAIN)
			continue;
		dlen = i2d_X509(c, &der);
		if (dlen <= 0)
			continue;
		if ((size_t)dlen > STSFETCH_MAX_CHAIN_BYTES - x->chain_bytes) {
			OPENSSL_free(der);
			continue;
		}
		/* Kept as i2d_X509 allocated it; and libssl's parse goes
		 * to the certificate cache, where the certificate row finds
		 * it instead of parsing the DER again (certcache.h). */
		uint8_t sha[CERT_CACHE_SHA256_LEN];
		if (cert_cache_sha256(der, (size_t)dlen, sha) == 0)
			X509_free(
			    cert_cache_adopt(cert_cache_global(), c, sha));
		x->chain[x->res.nchain] = der;
		x->res.chain[x->res.nchain] = der;
		x->res.chain_len[x->res.nchain] = (size_t)dlen;
		x->res.nchain++;
		x->chain_bytes += (size_t)dlen;
	}
}

/*
 * SSL_CTX_set_cert_verify_callback(): runs in place of OpenSSL's chain
 * verification, which we still call; we only watch. The store, the host
 * name and the flags come from the SSL_CTX set up in on_ssl_ctx().
 */
static int on_verify(X509_STORE_CTX *sctx, void *arg)
{
	struct xfer *x = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(
	    sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	int ok, err;

	chain_keep(x, X509_STORE_CTX_get0_untrusted(sctx),
		   X509_STORE_CTX_get0_cert(sctx));
	if (ssl)
		snprintf(x->res.tls_version, sizeof x->res.tls_version, "%s",
			 SSL_get_version(ssl));
	ok = X509_verify_cert(sctx);
	err = X509_STORE_CTX_get_error(sctx);
	if (ok <= 0 && err == X509_V_OK)
		err = X509_V_ERR_UNSPECIFIED;
	x->res.verify_code = err;
	snprintf(x->res.verify_error, sizeof x->res.verify_error, "%s",
		 err == X509_V_OK ? "" : X509_verify_cert_error_string(err));
	return ok;
}

/* CURLOPT_SSL_CTX_FUNCTION: before the connection's SSL object exists. */
static CURLcode on_ssl_ctx(CURL *easy, void *ctxp, void *arg)
{
	struct xfer *x = arg;
	SSL_CTX *ctx = ctxp;
	X509_VERIFY_PARAM *p = SSL_CTX_get0_param(ctx);

	(void)easy;
	SSL_CTX_set1_cert_store(ctx, x->f->store);
	/* RFC 9525 §6.3: a wildcard only as the whole left-most label. */
	X509_VERIFY_PARAM_set_hostflags(p,
					X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!X509_VERIFY_PARAM_set1_host(p, x->host, 0))
		return CURLE_OUT_OF_MEMORY;
	SSL_CTX_set_cert_verify_callback(ctx, on_verify, x);
	/* A fetch spends most of its life waiting for the peer: give the
	 * ~34 KiB of record buffers back while idle (memory per fetch in
	 * flight is what bounds the window). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return CURLE_OK;
}

static bool sockaddr_allowed(const struct xfer *x, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < x->nallowed; i++) {
		const struct sockaddr *a =
		    (const struct sockaddr *)&x->allowed[i];
		if (a->sa_family != sa->sa_family)
			continue;
		if (sa->sa_family == AF_INET &&
		    memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			   &((const struct sockaddr_in *)sa)->sin_addr,
			   sizeof(struct in_addr)) == 0)
			return true;
		if (sa->sa_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			   &((const struct sockaddr_in6 *)sa)->sin6_addr,
			   sizeof(struct in6_addr)) == 0)
			return true;
	}
	return false;
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: the last word on where curl connects. Only
 * the caller's addresses pass; CURLOPT_RESOLVE should make anything else
 * impossible, this makes it certain.
 */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose,
				    struct curl_sockaddr *a)
{
	struct xfer *x = arg;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    !sockaddr_allowed(x, (const struct sockaddr *)&a->addr))
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---- Plumbing: curl's sockets and timer on the loop ------------------ */

static void enter(struct stsfetch *f)
{
	f->depth++;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct stsfetch *f;

	if (h->type == UV_POLL) {
		struct ssock *s = h->data;
		f = s->f;
		free(s);
	} else {
		f = h->data;
	}
	if (--f->open_handles == 0 && f->shut) {
		void (*closed)(void *) = f->closed;
		void *arg = f->closed_arg;
		X509_STORE_free(f->store);
		free(f->user_agent);
		free(f);
		if (closed)
			closed(arg);
	}
}

static void sock_close(struct stsfetch *f, struct ssock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		f->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void collect_done(struct stsfetch *f);

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct ssock *s = h->data;
	struct stsfetch *f = s->f;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	/* curl may ask us to drop this socket in there: s is not used
	 * after. */
	enter(f);
	curl_multi_socket_action(f->multi, s->fd, flags, &running);
	collect_done(f);
	leave(f);
}

static void on_timer(uv_timer_t *t)
{
	struct stsfetch *f = t->data;
	int running;

	enter(f);
	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect_done(f);
	leave(f);
}

/* CURLMOPT_TIMERFUNCTION: one timer, re-armed as curl says. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct stsfetch *f = arg;

	(void)multi;
	if (f->shut)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&f->timer);
	else
		uv_timer_start(&f->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: curl opens, watches and closes its sockets. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
			  void *sockp)
{
	struct stsfetch *f = arg;
	struct ssock *s = sockp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		/* curl closes fd after this returns; uv_close() takes it out
		 * of epoll now. */
		if (s) {
			curl_multi_assign(f->multi, fd, NULL);
			sock_close(f, s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (s && uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
			free(s);
			s = NULL;
		}
		if (!s) {
			/* Returning -1 would fail every transfer of the multi
			 * handle; this one ends at its timeout instead, with
			 * the outcome decided here. */
			char *p = NULL;
			curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
			if (p)
				xfer_refuse((struct xfer *)p,
					    STSFETCH_OUT_OF_MEMORY);
			return 0;
		}
		s->f = f;
		s->fd = fd;
		s->poll.data = s;
		s->next = f->socks;
		if (f->socks)
			f->socks->prev = s;
		f->socks = s;
		f->open_handles++;
		curl_multi_assign(f->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

/* ---- Finishing a fetch ----------------------------------------------- */

static void live_unlink(struct stsfetch *f, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		f->live = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	f->n_live--;
}

static void xfer_free(struct xfer *x)
{
	chain_clear(x);
	if (x->easy)
		curl_easy_cleanup(x->easy);
	if (x->share)
		curl_share_cleanup(x->share);
	curl_slist_free_all(x->resolve);
	free(x->body);
	free(x);
}

/* The outcome from curl's code when no callback decided it. */
static enum stsfetch_rc rc_from_curl(const struct xfer *x, CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		/* Complete, and the headers were accepted (else a verdict). */
		return x->state == XF_BODY ? STSFETCH_OK
					   : STSFETCH_PROTOCOL_ERROR;
	case CURLE_OPERATION_TIMEDOUT:
		return STSFETCH_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
		return x->res.os_errno == ECONNREFUSED
			   ? STSFETCH_CONNECT_REFUSED
			   : STSFETCH_CONNECT_ERROR;
	case CURLE_PEER_FAILED_VERIFICATION:
		return STSFETCH_WEBPKI_INVALID;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return STSFETCH_TLS_ERROR;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return STSFETCH_CONNECTION_LOST;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return STSFETCH_PROTOCOL_ERROR;
	case CURLE_FILESIZE_EXCEEDED:
		return STSFETCH_TOO_LARGE;
	case CURLE_OUT_OF_MEMORY:
		return STSFETCH_OUT_OF_MEMORY;
	default:
		return STSFETCH_INTERNAL_ERROR;
	}
}

static void deliver(struct stsfetch *f, struct xfer *x)
{
	x->res.elapsed_ms =
	    (unsigned)((uv_hrtime() - x->started_ns) / 1000000u);
	enter(f);
	x->done(&x->res, x->arg);
	leave(f);
}

/* curl finished x with code cc: judge, deliver, free. */
static void xfer_finish(struct stsfetch *f, struct xfer *x, CURLcode cc)
{
	struct stsfetch_result *r = &x->res;
	char *ip = NULL;
	long oserr = 0;

	r->curl_code = (int)cc;
	if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
	    ip)
		snprintf(r->addr, sizeof r->addr, "%s", ip);
	if (curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK)
		r->os_errno = (int)oserr;
	/* curl's text, unless we stopped it ourselves: then it only says
	 * that a callback refused, and rc says why. */
	if (cc != CURLE_OK && !x->has_verdict)
		snprintf(r->detail, sizeof r->detail, "%s",
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
	curl_multi_remove_handle(f->multi, x->easy);

	if (x->has_verdict)
		r->rc = x->verdict;
	else if (r->verify_code > 0)
		/* Our X509 verification failed, whatever curl made of it. */
		r->rc = STSFETCH_WEBPKI_INVALID;
	else
		r->rc = rc_from_curl(x, cc);
	if (r->rc == STSFETCH_WEBPKI_INVALID && !r->verify_error[0])
		/* curl's own host name check failed after ours passed. */
		snprintf(r->verify_error, sizeof r->verify_error, "%s",
			 r->detail);
	if (r->rc == STSFETCH_OK) {
		r->body = x->body ? x->body : (const uint8_t *)"";
		r->body_len = x->body_len;
	}
	xfer_set_state(x, XF_DONE);
	live_unlink(f, x);
	deliver(f, x);
	xfer_free(x);
}

/* Delivers every transfer curl has finished. */
static void collect_done(struct stsfetch *f)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(f->multi, &left))) {
		char *p = NULL;
		CURLcode cc;

		if (m->msg != CURLMSG_DONE)
			continue;
		cc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		/* m is invalid once the handle is removed. */
		xfer_finish(f, (struct xfer *)p, cc);
	}
}

static void shutdown_now(struct stsfetch *f)
{
	struct ssock *s;

	/* First: the callbacks delivered below enter and leave, and must not
	 * start this again; curl's timer requests are moot from here. */
	f->shut = true;
	while (f->live) {
		struct xfer *x = f->live;
		curl_multi_remove_handle(f->multi, x->easy);
		x->res.rc = STSFETCH_CANCELLED;
		xfer_set_state(x, XF_DONE);
		live_unlink(f, x);
		deliver(f, x);
		xfer_free(x);
	}
	/* curl may still report sockets removed in there (cached
	 * connections); those left after it are closed here. */
	curl_multi_cleanup(f->multi);
	f->multi = NULL;
	while ((s = f->socks))
		sock_close(f, s);
	uv_close((uv_handle_t *)&f->timer, on_handle_closed);
}

static void leave(struct stsfetch *f)
{
	if (--f->depth == 0 && f->closing && !f->shut)
		shutdown_now(f);
}

/* ---- Public API ------------------------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool openssl_backend(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	return v && v->ssl_version &&
	       strncmp(v->ssl_version, "OpenSSL", 7) == 0;
}

static int store_load(X509_STORE **out, const char *ca_file)
{
	X509_STORE *st = X509_STORE_new();

	if (!st)
		return -ENOMEM;
	if (ca_file) {
		if (X509_STORE_load_file(st, ca_file) != 1 ||
		    sk_X509_OBJECT_num(X509_STORE_get0_objects(st)) == 0) {
			X509_STORE_free(st);
			ERR_clear_error();
			return -ENOENT;
		}
	} else if (X509_STORE_set_default_paths(st) != 1) {
		X509_STORE_free(st);
		ERR_clear_error();
		return -ENOENT;
	}
	*out = st;
	return 0;
}

int stsfetch_init(struct stsfetch **out, uv_loop_t *loop,
		  const struct stsfetch_config *cfg)
{
	struct stsfetch *f;
	unsigned timeout, ctimeout;
	char ua[128];
	int rc;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -ENOTSUP;
	if (!openssl_backend())
		return -ENOTSUP;
	timeout =
	    cfg->timeout_ms ? cfg->timeout_ms : STSFETCH_TIMEOUT_DEFAULT_MS;
	ctimeout = cfg->connect_timeout_ms
		       ? cfg->connect_timeout_ms
		       : STSFETCH_CONNECT_TIMEOUT_DEFAULT_MS;
	if (ctimeout > timeout)
		ctimeout = timeout;
	if (timeout > STSFETCH_MAX_TIMEOUT_MS ||
	    cfg->max_body > STSFETCH_MAX_BODY_LIMIT)
		return -EINVAL;

	f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->max_body = cfg->max_body ? cfg->max_body : STSFETCH_MAX_BODY_DEFAULT;
	f->timeout_ms = (long)timeout;
	f->connect_timeout_ms = (long)ctimeout;
	snprintf(ua, sizeof ua, "mxcrawl/%s (MTA-STS policy fetch)",
		 MXCRAWL_VERSION);
	f->user_agent = strdup(cfg->user_agent ? cfg->user_agent : ua);
	f->trace = getenv("MXCRAWL_TRACE_STSFETCH") != NULL;
	rc = -ENOMEM;
	if (!f->user_agent)
		goto fail_ua;
	rc = store_load(&f->store, cfg->ca_file);
	if (rc != 0)
		goto fail_store;
	rc = -ENOMEM;
	f->multi = curl_multi_init();
	if (!f->multi)
		goto fail_multi;
	if (curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION,
			      on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION,
			      on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f) != CURLM_OK) {
		rc = -ENOTSUP;
		goto fail_opts;
	}
	uv_timer_init(loop, &f->timer);
	f->timer.data = f;
	f->open_handles = 1;
	*out = f;
	return 0;

fail_opts:
	curl_multi_cleanup(f->multi);
fail_multi:
	X509_STORE_free(f->store);
fail_store:
	free(f->user_agent);
fail_ua:
	free(f);
	return rc;
}

/* A host name as DNS text: LDH labels of 1-63, no trailing dot. */
static bool host_ok(const char *h)
{
	size_t len = strlen(h), label = 0, i;

	if (len == 0 || len > STSFETCH_HOST_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* Parses the addresses into x->allowed and builds "host:443:a,[b]". */
static int build_resolve(struct xfer *x, const char *const *addrs,
			 size_t naddrs, char *out, size_t cap)
{
	size_t i;
	int n = snprintf(out, cap, "%s:%d:", x->host, STSFETCH_PORT);

	if (n < 0 || (size_t)n >= cap)
		return -EINVAL;
	for (i = 0; i < naddrs; i++) {
		struct sockaddr_storage *ss = &x->allowed[i];
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		size_t used = (size_t)n;
		int m;

		memset(ss, 0, sizeof *ss);
		if (!addrs[i])
			return -EINVAL;
		if (inet_pton(AF_INET, addrs[i], &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			m = snprintf(out + used, cap - used, "%s%s",
				     i ? "," : "", addrs[i]);
		} else if (inet_pton(AF_INET6, addrs[i], &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			m = snprintf(out + used, cap - used, "%s[%s]",
				     i ? "," : "", addrs[i]);
		} else {
			return -EINVAL;
		}
		if (m < 0 || (size_t)m >= cap - used)
			return -EINVAL;
		n += m;
		x->nallowed++;
	}
	return 0;
}

#define SETOPT(opt, val)                                       \
	do {                                                   \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK) \
			return -EIO;                           \
	} while (0)

/* Every option of one fetch; see stsfetch.h for why each is there. */
static int easy_setup(struct stsfetch *f, struct xfer *x)
{
	CURL *e = x->easy;
	char url[STSFETCH_HOST_MAX + sizeof "https://" + sizeof STSFETCH_PATH];

	snprintf(url, sizeof url, "https://%s%s", x->host, STSFETCH_PATH);
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(CURLOPT_SHARE, x->share);
	SETOPT(CURLOPT_RESOLVE, x->resolve);
	SETOPT(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(CURLOPT_OPENSOCKETDATA, x);
	SETOPT(CURLOPT_PROXY, "");
	SETOPT(CURLOPT_NOPROXY, "*");
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_TIMEOUT_MS, f->timeout_ms);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, f->connect_timeout_ms);
	SETOPT(CURLOPT_USERAGENT, f->user_agent);
	/* Every fetch is its own measurement: a fresh TCP connection and a
	 * full handshake, nothing kept afterwards. */
	SETOPT(CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(CURLOPT_FORBID_REUSE, 1L);
	SETOPT(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	/* The trust store is installed by on_ssl_ctx(), loaded once. */
	SETOPT(CURLOPT_CAINFO, NULL);
	SETOPT(CURLOPT_CAPATH, NULL);
	SETOPT(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	SETOPT(CURLOPT_SSL_CTX_DATA, x);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, x);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, x);
	/* curl's receive buffer, allocated per handle: a policy is small
	 * and a smaller buffer only means more callbacks. */
	SETOPT(CURLOPT_BUFFERSIZE, STSFETCH_RECV_BUFFER);
	SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(CURLOPT_PRIVATE, (char *)x);
	return 0;
}

int stsfetch_start(struct stsfetch *f, const char *host,
		   const char *const *addrs, size_t naddrs,
		   stsfetch_done_cb done, void *arg)
{
	/* "host:443:" and up to 16 bracketed IPv6 addresses with commas. */
	char resolve[STSFETCH_HOST_MAX + 8 +
		     STSFETCH_MAX_ADDRS * (INET6_ADDRSTRLEN + 3)];
	struct xfer *x;
	int rc;

	if (f->closing)
		return -ESHUTDOWN;
	if (!host || !host_ok(host) || !addrs || naddrs == 0 ||
	    naddrs > STSFETCH_MAX_ADDRS || !done)
		return -EINVAL;
	if (f->n_live >= STSFETCH_MAX_PENDING)
		return -EAGAIN;
	x = calloc(1, sizeof *x);
	if (!x)
		return -ENOMEM;
	x->f = f;
	x->done = done;
	x->arg = arg;
	snprintf(x->host, sizeof x->host, "%s", host);
	x->res.host = x->host;
	x->res.verify_code = -1;
	head_reset(&x->head);
	rc = build_resolve(x, addrs, naddrs, resolve, sizeof resolve);
	if (rc != 0)
		goto fail;
	rc = -ENOMEM;
	x->resolve = curl_slist_append(NULL, resolve);
	x->share = curl_share_init();
	x->easy = curl_easy_init();
	if (!x->resolve || !x->share || !x->easy)
		goto fail;
	rc = -EIO;
	if (curl_share_setopt(x->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
	    CURLSHE_OK)
		goto fail;
	rc = easy_setup(f, x);
	if (rc != 0)
		goto fail;
	x->started_ns = uv_hrtime();
	xfer_set_state(x, XF_HEADERS);
	/* curl only arms its timer in here (a zero timeout): the transfer
	 * starts from the loop, so done never runs inside this call. */
	if (curl_multi_add_handle(f->multi, x->easy) != CURLM_OK) {
		rc = -EIO;
		goto fail;
	}
	x->next = f->live;
	if (f->live)
		f->live->prev = x;
	f->live = x;
	f->n_live++;
	return 0;

fail:
	xfer_free(x);
	return rc;
}

size_t stsfetch_pending(const struct stsfetch *f)
{
	return f->n_live;
}

void stsfetch_close(struct stsfetch *f, void (*closed)(void *arg), void *arg)
{
	if (f->closing)
		return;
	f->closing = true;
	f->closed = closed;
	f->closed_arg = arg;
	if (f->depth == 0)
		shutdown_now(f);
}
