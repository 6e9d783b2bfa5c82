#include <string.h>

#include <openssl/evp.h>

#include "crawler/smtp/eprecord.h"
#include "crawler/util/json.h"
#include "crawler/verify/cert.h"

static const char *const dir_names[] = { "sent", "received", "discarded" };

/* Bytes as base64 in a JSON string: transcripts are raw network bytes. */
static void base64_field(struct jbuf *b, const uint8_t *p, size_t len)
{
	unsigned char chunk[4 * 48 / 3 + 1];

	jbuf_puts(b, "\"");
	for (size_t off = 0; off < len; off += 48) {
		size_t n = len - off < 48 ? len - off : 48;
		int w = EVP_EncodeBlock(chunk, p + off, (int)n);
		jbuf_append(b, (const char *)chunk, (size_t)w);
	}
	jbuf_puts(b, "\"");
}

int eprecord_json(struct jbuf *b, const struct endpoint_result *r)
{
	const struct smtp_facts *f = &r->session->facts;
	const struct smtp_transcript *tr = &r->session->transcript;
	char ip[64];

	addr_format(&r->addr, ip, sizeof ip);
	jbuf_puts(b, "{\"v\": 1, \"ip\": ");
	jbuf_json_string(b, ip, strlen(ip));
	jbuf_printf(b, ", \"port\": %d, \"sni\": ", r->port);
	jbuf_json_string(b, r->sni, strlen(r->sni));
	jbuf_printf(
	    b,
	    ", \"elapsed_ms\": %u, \"smtp\": {\"outcome\": \"%s\", "
	    "\"end_state\": \"%s\", \"conn\": \"%s\", \"banner_code\": %d, "
	    "\"ehlo_code\": %d, \"helo_code\": %d, \"starttls_code\": %d, "
	    "\"quit_code\": %d, \"starttls_offered\": %s, "
	    "\"injected_bytes\": %zu, \"unsolicited_bytes\": %zu, "
	    "\"transcript_truncated\": %s, \"transcript\": [",
	    r->elapsed_ms, smtp_rc_str(f->outcome),
	    smtp_state_str(f->end_state), conn_rc_str(r->conn_rc),
	    f->banner_code, f->ehlo_code, f->helo_code, f->starttls_code,
	    f->quit_code, smtp_fact_json(f->starttls_offered),
	    f->injected_bytes, f->unsolicited_bytes,
	    tr->truncated ? "true" : "false");
	for (size_t i = 0; i < tr->nseg; i++) {
		const struct smtp_segment *s = &tr->seg[i];
		if (s->off > tr->len || s->len > tr->len - s->off)
			continue;
		jbuf_printf(b, "%s{\"dir\": \"%s\", \"tls\": %s, \"data\": ",
			    i ? ", " : "",
			    s->dir < 3 ? dir_names[s->dir] : "unknown",
			    s->tls ? "true" : "false");
		base64_field(b, tr->bytes + s->off, s->len);
		jbuf_puts(b, "}");
	}
	jbuf_puts(b, "]}, \"tls\": ");
	if (r->tls_done) {
		jbuf_printf(b,
			    "{\"version\": \"%s\", \"cipher\": \"%s\", "
			    "\"group\": \"%s\", \"handshake_ms\": %u, "
			    "\"chain_total\": %zu, \"chain\": [",
			    r->tls->version, r->tls->cipher, r->tls->group,
			    r->tls->handshake_ms, r->tls->chain_total);
		for (size_t i = 0; i < r->tls->nchain; i++) {
			uint8_t d[CERT_SHA256_LEN];
			if (cert_sha256(r->tls->chain[i], r->tls->chain_len[i],
					d))
				continue;
			jbuf_puts(b, i ? ", \"" : "\"");
			jbuf_hex(b, d, sizeof d);
			jbuf_puts(b, "\"");
		}
		jbuf_puts(b, "]}");
	} else {
		jbuf_puts(b, "null, \"tls_reason\": ");
		jbuf_json_string(b, f->tls_reason, strlen(f->tls_reason));
	}
	jbuf_puts(b, "}");
	return jbuf_error(b);
}
