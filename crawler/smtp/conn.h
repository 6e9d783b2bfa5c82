/*
 * A TCP connection on a libuv loop that can turn into TLS in the middle
 * (STARTTLS): OpenSSL runs non-blocking over memory BIOs, so the loop
 * never blocks and the caller sees only plaintext. Event plumbing only:
 * what the bytes mean is the SMTP session's business (smtp.h).
 *
 * The TLS client offers TLS 1.0 to 1.3 at security level 0 (Debian's
 * default level 2 would refuse exactly the legacy servers we measure),
 * sends SNI, does not verify (the chain is judged separately, verify.h)
 * and bounds the certificate list it accepts.
 */
#ifndef MXCRAWL_CRAWLER_CONN_H
#define MXCRAWL_CRAWLER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "crawler/util/addr.h"

/* Bytes of certificate list a server may send (OpenSSL's limit): the
 * byte cap on a presented chain; a larger list fails the handshake. */
#define TLS_MAX_CERT_LIST (256 * 1024)
/* Certificates of a presented chain that are kept: the chain is judged
 * whole up to this many (OpenSSL's default verify depth is 100 CAs, so a
 * 100-certificate chain must fit); chain_total > nchain says truncated.
 * Memory per chain stays under TLS_MAX_CERT_LIST bytes of DER. */
#define TLS_MAX_CHAIN 128

/*
 * Plaintext after the 220 to STARTTLS that arrives in a later read than
 * the 220 (RFC 3207 §5; the CVE-2011-0411 class, here from the server's
 * side). The server may send nothing before its first TLS record, and a
 * TLS record starts with a content type byte (0x14-0x17; a server's
 * first is a handshake 0x16 or an alert 0x15), never with printable
 * ASCII. So received lines that start with a printable byte, a tab, CR
 * or LF, before the first TLS record, are the injection: they are handed
 * to on_data (the session discards and flags them) instead of OpenSSL,
 * which would fail the handshake on them. Up to TLS_PREAMBLE_MAX bytes;
 * beyond that, or at any other first byte, the rest goes to OpenSSL,
 * which judges it.
 */
#define TLS_PREAMBLE_MAX 4096

/* Where the scan of bytes received during the handshake is. Zeroed at
 * conn_start_tls(). */
struct tls_preamble {
	size_t seen;  /* plaintext bytes so far */
	bool in_line; /* inside a plaintext line (no LF yet) */
	bool done;    /* TLS started: nothing more is plaintext */
};

/* Of len bytes received during the handshake, how many at the front are
 * injected plaintext (0..len). Pure; p carries the state across reads. */
size_t tls_preamble_scan(struct tls_preamble *p, const uint8_t *buf,
			 size_t len);

/* How a connection or handshake ended badly. */
enum conn_rc {
	CONN_OK = 0,
	CONN_REFUSED,	   /* ECONNREFUSED */
	CONN_RESET,	   /* ECONNRESET, EPIPE */
	CONN_UNREACHABLE,  /* ENETUNREACH, EHOSTUNREACH */
	CONN_EOF,	   /* the peer closed (FIN) */
	CONN_TLS_ALERT,	   /* the peer sent a fatal alert */
	CONN_TLS_PROTOCOL, /* a TLS protocol or size error on our side */
	CONN_ERROR,	   /* another socket error */
	CONN_NO_MEMORY,
	CONN_RC_LAST
};

const char *conn_rc_str(enum conn_rc rc);

/* The local (source) address of the first connection this process
 * established, any loop: the scanner's own address as the servers see it
 * (behind NAT, the private one). False until a connection succeeded. */
bool conn_first_local(struct addr *out);

/* What a finished handshake negotiated and what the server presented. */
struct tls_info {
	char version[16]; /* "TLSv1.3" */
	char cipher[64];  /* OpenSSL name */
	char group[32];	  /* key exchange group, "" if unknown */
	unsigned handshake_ms;
	size_t nchain;	    /* certificates kept, leaf first */
	size_t chain_total; /* certificates presented */
	/* nchain DER certificates and their lengths, owned by the conn
	 * (or by whoever took them, conn_take_chain()); allocated for the
	 * chain presented, not for TLS_MAX_CHAIN: an endpoint holds a copy
	 * of this struct for its whole life. Each certificate is also in
	 * the certificate cache (certcache.h), as libssl parsed it. */
	uint8_t **chain;
	size_t *chain_len;
	/* The presented chain as OpenSSL parsed it in the handshake, leaf
	 * first (NULL if none). Decoding DER into X509 again costs OpenSSL
	 * 3.0 a decoder lookup per certificate (most of the crawler's CPU per
	 * endpoint, see BENCHMARKS.md): a consumer that needs X509 objects
	 * takes these with X509_up_ref(). Owned by the SSL object: valid
	 * during on_tls only, also in a copy of this struct. */
	STACK_OF(X509) * peer_chain;
	char error[128]; /* OpenSSL's reason when the handshake failed */
};

struct conn;

/* Callbacks; each gets the conn's user pointer. After on_closed nothing
 * else is called and the conn is freed. */
struct conn_callbacks {
	/* TCP connected (rc CONN_OK) or failed. */
	void (*on_connect)(void *arg, enum conn_rc rc);
	/* Plaintext bytes (decrypted once TLS is up). During the handshake:
	 * plaintext injected before the first TLS record (TLS_PREAMBLE_MAX);
	 * the session discards and flags it. */
	void (*on_data)(void *arg, const uint8_t *buf, size_t len);
	/* The peer closed or the connection broke. */
	void (*on_end)(void *arg, enum conn_rc rc);
	/* The handshake started by conn_start_tls() ended. info (chain
	 * included) is valid during the call only: copy what is kept. */
	void (*on_tls)(void *arg, enum conn_rc rc, const struct tls_info *info);
	/* The conn is gone (after conn_close()). */
	void (*on_closed)(void *arg);
};

/* A TLS client context shared by all connections of a worker. */
SSL_CTX *tls_client_ctx_new(void);

/* Connects to addr:port. Returns NULL when out of memory. */
struct conn *conn_connect(uv_loop_t *loop, const struct addr *addr, int port,
			  const struct conn_callbacks *cb, void *arg);

/* Sends bytes (encrypted once TLS is up). 0, -ENOTCONN when closing,
 * not connected or during the TLS handshake, -ENOMEM, -EIO when OpenSSL
 * refuses the bytes, or libuv's error for the write. */
int conn_write(struct conn *c, const uint8_t *buf, size_t len);

/* Starts TLS over the connection with SNI `sni` (may be NULL). Bytes
 * received before this call were delivered to on_data (the session
 * discards what followed the 220); plaintext received during the
 * handshake goes to on_data too (struct tls_preamble): plaintext after
 * the 220 to STARTTLS must never reach the TLS layer. Once the handshake
 * is done, the connection's OpenSSL buffers are released (memory BIOs
 * renewed, SSL_MODE_RELEASE_BUFFERS), so an established connection that
 * waits holds no read or write buffer. 0, -ENOTCONN when closing,
 * -EALREADY when TLS was started before, or -ENOMEM. */
int conn_start_tls(struct conn *c, SSL_CTX *ctx, const char *sni);

/*
 * True when the peer has already closed its side (FIN received, TCP
 * CLOSE_WAIT). Checked before sending: writing to such a peer draws an RST
 * that would hide the FIN, and "closed after the banner" is a different
 * fact from "reset".
 */
bool conn_peer_closed(const struct conn *c);

/*
 * During on_tls: moves the chain's arrays (struct tls_info chain,
 * chain_len, nchain; the DER allocated with OPENSSL_malloc) to `to`, which
 * then owns them, instead of copying what is kept; the conn's info keeps
 * no chain. Out of on_tls, or with no chain: `to` gets none.
 */
void conn_take_chain(struct conn *c, struct tls_info *to);

/* Closes the connection (sending a TLS close_notify when up); on_closed
 * follows. Safe to call more than once. `reset`: abort with RST. */
void conn_close(struct conn *c, bool reset);

#endif
