/*
 * The MTA-STS policy fetch (RFC 8461 §3.3): one HTTPS GET of
 * https://mta-sts.<domain>/.well-known/mta-sts.txt with libcurl's
 * multi-socket API driven by a libuv loop.
 *
 * What a fetch does and refuses (RFC 8461 §3.3, and our own limits):
 *   - https only, HTTP/1.1, no proxy (the environment is ignored), no
 *     redirects followed (a 3xx is the outcome http_redirect, with its
 *     Location), status 200 only;
 *   - the addresses come from the caller (our own DNS, already passed by
 *     the address policy) and are pinned with CURLOPT_RESOLVE, so curl
 *     resolves nothing itself; an open-socket hook refuses any other
 *     address, whatever curl might try;
 *   - WebPKI: the chain must verify against the configured CA file or the
 *     system store and match the host name (no partial wildcards); SNI is
 *     the host name;
 *   - media type text/plain (parameters allowed), no content coding other
 *     than identity (nothing is decoded; Accept-Encoding is not sent);
 *   - the body is refused, not truncated, over max_body bytes: the
 *     transfer stops as soon as the cap is crossed (or at once when the
 *     Content-Length says so);
 *   - a total timeout and a connect timeout (the connect phase includes
 *     the TLS handshake).
 * A response that is refused by its headers is not read further.
 *
 * One struct stsfetch per uv loop (worker); not thread-safe. Nothing here
 * blocks the loop: CA certificates are loaded once in stsfetch_init().
 */
#ifndef MXCRAWL_CRAWLER_STSFETCH_H
#define MXCRAWL_CRAWLER_STSFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Default and largest policy body accepted (64 KiB: RFC 8461 leaves the
 * size open). */
#define STSFETCH_MAX_BODY_DEFAULT (64 * 1024)
#define STSFETCH_MAX_BODY_LIMIT (1024 * 1024)
/* Default total and connect timeouts. */
#define STSFETCH_TIMEOUT_DEFAULT_MS 10000
#define STSFETCH_CONNECT_TIMEOUT_DEFAULT_MS 5000
/* Addresses one fetch may try, in the given order. */
#define STSFETCH_MAX_ADDRS 16
/* Longest host name (RFC 1035: 253 octets in text form). */
#define STSFETCH_HOST_MAX 253
/* Bytes of all response header lines together (status line included);
 * over this the response is refused as headers_too_large. A policy
 * server needs a few hundred. */
#define STSFETCH_HEADER_BYTES_MAX (16 * 1024)
/* Kept bytes of the header values recorded (longer ones are cut and
 * flagged). */
#define STSFETCH_LOCATION_MAX 512
#define STSFETCH_CONTENT_TYPE_MAX 128
#define STSFETCH_CONTENT_ENCODING_MAX 64
/* Certificates of the presented chain kept, and their total DER bytes;
 * chain_total still counts every certificate presented. */
#define STSFETCH_MAX_CHAIN 16
#define STSFETCH_MAX_CHAIN_BYTES (192 * 1024)
/* Text of an error detail (curl's error buffer is 256 bytes). */
#define STSFETCH_DETAIL_MAX 256

/*
 * How a fetch ended. The names from stsfetch_rc_str() are stored as the
 * fetch outcome; the first ones are the truth file's vocabulary.
 * STSFETCH_DNS_ERROR and STSFETCH_REFUSED_ADDRESS are never produced by
 * this module: the caller decides them before any fetch and may use them
 * so that one column holds every fetch outcome.
 */
enum stsfetch_rc {
	STSFETCH_OK = 0,	   /* 200, text/plain, body within the cap */
	STSFETCH_HTTP_REDIRECT,	   /* 3xx (not followed; location kept) */
	STSFETCH_HTTP_STATUS,	   /* another status than 200 */
	STSFETCH_MEDIA_TYPE,	   /* Content-Type missing or not text/plain */
	STSFETCH_TOO_LARGE,	   /* body over max_body (refused) */
	STSFETCH_TIMEOUT,	   /* connect or total timeout */
	STSFETCH_CONTENT_ENCODING, /* a content coding other than identity */
	STSFETCH_WEBPKI_INVALID,   /* chain not trusted or name mismatch */
	STSFETCH_TLS_ERROR,	   /* handshake failed otherwise (alert, EOF) */
	STSFETCH_DNS_ERROR,	   /* caller's: no address for the host */
	STSFETCH_REFUSED_ADDRESS,  /* caller's: every address refused */
	STSFETCH_CONNECT_REFUSED,  /* TCP connect got RST (ECONNREFUSED) */
	STSFETCH_CONNECT_ERROR,	   /* TCP connect failed otherwise */
	STSFETCH_CONNECTION_LOST,  /* closed or reset after the handshake,
				    * before a complete response */
	STSFETCH_PROTOCOL_ERROR,   /* not a well-formed HTTP/1.x response */
	STSFETCH_HEADERS_TOO_LARGE, /* over STSFETCH_HEADER_BYTES_MAX */
	STSFETCH_OUT_OF_MEMORY,
	STSFETCH_CANCELLED,	 /* stsfetch_close() while pending */
	STSFETCH_INTERNAL_ERROR, /* curl failed in a way not listed above */
	STSFETCH_RC_LAST
};

/* Stable snake_case name ("http_redirect"); "unknown" when out of range.
 * The string is static. */
const char *stsfetch_rc_str(enum stsfetch_rc rc);

/*
 * What a fetch saw. Valid only during the done callback: copy what you
 * keep. Strings are NUL-terminated; "" when absent.
 */
struct stsfetch_result {
	enum stsfetch_rc rc;
	const char *host;
	int http_status; /* final status, 0 when no response was read */
	char location[STSFETCH_LOCATION_MAX + 1];
	char content_type[STSFETCH_CONTENT_TYPE_MAX + 1];
	/* Every Content-Encoding header's value, joined by ", ". */
	char content_encoding[STSFETCH_CONTENT_ENCODING_MAX + 1];
	bool header_truncated; /* a recorded value was cut */
	const uint8_t *body;   /* rc OK only (else NULL), body_len bytes */
	size_t body_len;
	/* The chain the server presented, DER, leaf first. */
	size_t nchain;	    /* kept in chain[] */
	size_t chain_total; /* presented */
	const uint8_t *chain[STSFETCH_MAX_CHAIN];
	size_t chain_len[STSFETCH_MAX_CHAIN];
	/* X509 verification of the chain against the trust store and the
	 * host name: -1 when no certificate was seen, else X509_V_OK (0) or
	 * an X509_V_ERR_* code with OpenSSL's text in verify_error. */
	int verify_code;
	char verify_error[STSFETCH_DETAIL_MAX];
	char tls_version[16]; /* "TLSv1.3"; "" without a server hello */
	char addr[64];	      /* the address connected to, "" if none */
	int curl_code;	      /* CURLcode of the transfer */
	int os_errno;	      /* errno of a failed connect, else 0 */
	char detail[STSFETCH_DETAIL_MAX]; /* curl's error text, or "" */
	unsigned elapsed_ms; /* from stsfetch_start() to the callback */
};

typedef void (*stsfetch_done_cb)(const struct stsfetch_result *r, void *arg);

struct stsfetch_config {
	const char *ca_file; /* PEM trust anchors; NULL: the system store */
	unsigned timeout_ms; /* total per fetch; 0: the default */
	unsigned connect_timeout_ms; /* TCP + TLS; 0: min(default, total) */
	size_t max_body;	     /* 0: STSFETCH_MAX_BODY_DEFAULT */
	const char *user_agent;	     /* NULL: "mxcrawl/<version> ..." */
};

struct stsfetch;

/*
 * Creates the fetcher for `loop` (which must outlive it) and loads the
 * trust store. Returns 0, -ENOMEM, -EINVAL (bad configuration), -ENOENT
 * (CA file unreadable or without a certificate), or -ENOTSUP (libcurl
 * without its OpenSSL backend or an option this file needs).
 */
int stsfetch_init(struct stsfetch **out, uv_loop_t *loop,
		  const struct stsfetch_config *cfg);

/*
 * Starts a fetch of https://host/.well-known/mta-sts.txt on port 443,
 * connecting only to addrs (IPv4 or IPv6 literals, tried in order; the
 * caller has applied the address policy). host is "mta-sts.<domain>", an
 * A-label without trailing dot. done runs exactly once, on the loop, never
 * from inside stsfetch_start(). Returns 0, or (no callback then) -EINVAL
 * (bad host or address, no address, more than STSFETCH_MAX_ADDRS),
 * -ENOMEM, -ESHUTDOWN after stsfetch_close(), -EIO (curl refused it).
 */
int stsfetch_start(struct stsfetch *f, const char *host,
		   const char *const *addrs, size_t naddrs,
		   stsfetch_done_cb done, void *arg);

/* Fetches started and not yet finished. */
size_t stsfetch_pending(const struct stsfetch *f);

/*
 * Cancels pending fetches (their callbacks run with STSFETCH_CANCELLED),
 * closes the loop handles, frees everything and then calls closed(arg)
 * (closed may be NULL). May be called from a done callback.
 */
void stsfetch_close(struct stsfetch *f, void (*closed)(void *arg), void *arg);

/* ---- The judgement of a response, as pure functions ----------------- */

/*
 * True when a Content-Type value is the media type text/plain, with any
 * parameters (RFC 9110 §8.3.1: type "/" subtype *(OWS ";" OWS
 * [parameter]), case-insensitive), surrounding whitespace ignored.
 */
bool stsfetch_media_type_ok(const char *value, size_t len);

/*
 * True when a Content-Encoding value (a comma-separated list, RFC 9110
 * §8.4) names no coding other than identity; empty elements are allowed.
 */
bool stsfetch_encoding_ok(const char *value, size_t len);

/* What the headers of one response block said (for the judgement). */
struct stsfetch_head {
	int status;		/* from the status line */
	size_t n_content_type;	/* Content-Type headers seen */
	bool media_type_ok;	/* the last one is text/plain */
	bool encoding_ok;	/* no Content-Encoding but identity */
	int64_t content_length; /* -1 when not announced */
};

/*
 * The verdict on a final response's headers, in this order: 3xx
 * (http_redirect), not 200 (http_status), a content coding
 * (content_encoding), no or several Content-Type headers or not text/plain
 * (media_type), a Content-Length over max_body (too_large); STSFETCH_OK to
 * read the body.
 */
enum stsfetch_rc stsfetch_judge_headers(const struct stsfetch_head *h,
					size_t max_body);

#endif
