#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zdict.h>
#include <zstd.h>

#include "crawler/verify/cert.h"
#include "crawler/store/record.h"

struct record_codec {
	ZSTD_CCtx *cctx;
	ZSTD_CDict *cdict;
	int64_t dict_id;
	size_t nsamples, want;
	size_t sizes[RECORD_DICT_SAMPLES_MAX];
	struct jbuf samples;
	bool done_sampling;
};

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

int record_json(struct jbuf *b, const struct endpoint_result *r)
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
			jbuf_printf(b, "%s\"", i ? ", " : "");
			for (size_t k = 0; k < sizeof d; k++)
				jbuf_printf(b, "%02x", d[k]);
			jbuf_puts(b, "\"");
		}
		jbuf_puts(b, "]}");
	} else {
		jbuf_puts(b, "null, \"tls_reason\": ");
		jbuf_json_string(b, f->tls_reason, strlen(f->tls_reason));
	}
	jbuf_puts(b, "}");
	return b->failed ? -1 : 0;
}

struct record_codec *record_codec_new(size_t samples)
{
	struct record_codec *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->want = samples < RECORD_DICT_MIN_SAMPLES   ? RECORD_DICT_MIN_SAMPLES
		  : samples > RECORD_DICT_SAMPLES_MAX ? RECORD_DICT_SAMPLES_MAX
						      : samples;
	c->cctx = ZSTD_createCCtx();
	if (!c->cctx) {
		free(c);
		return NULL;
	}
	/* The samples of the first records: about 500 x a few KiB. */
	jbuf_init(&c->samples, 64u << 20);
	return c;
}

void record_codec_free(struct record_codec *c)
{
	if (!c)
		return;
	ZSTD_freeCDict(c->cdict);
	ZSTD_freeCCtx(c->cctx);
	jbuf_free(&c->samples);
	free(c);
}

bool record_codec_sample(struct record_codec *c, const char *json, size_t len)
{
	if (c->done_sampling || c->cdict || c->nsamples >= c->want)
		return false;
	jbuf_append(&c->samples, json, len);
	if (c->samples.failed) {
		c->done_sampling = true;
		return c->nsamples >= RECORD_DICT_MIN_SAMPLES;
	}
	c->sizes[c->nsamples++] = len;
	if (c->nsamples < c->want)
		return false;
	c->done_sampling = true;
	return true;
}

int record_codec_train(struct record_codec *c, uint8_t **dict, size_t *len,
		       size_t *samples)
{
	uint8_t *buf = malloc(RECORD_DICT_SIZE);
	size_t n;

	c->done_sampling = true;
	if (!buf || c->nsamples < RECORD_DICT_MIN_SAMPLES) {
		free(buf);
		return -1;
	}
	n = ZDICT_trainFromBuffer(buf, RECORD_DICT_SIZE, c->samples.data,
				  c->sizes, (unsigned)c->nsamples);
	jbuf_free(&c->samples);
	if (ZDICT_isError(n)) {
		free(buf);
		return -1;
	}
	*dict = buf;
	*len = n;
	*samples = c->nsamples;
	return 0;
}

int record_codec_use(struct record_codec *c, const uint8_t *dict, size_t len,
		     int64_t id)
{
	ZSTD_CDict *cd = ZSTD_createCDict(dict, len, RECORD_ZSTD_LEVEL);

	if (!cd)
		return -1;
	ZSTD_freeCDict(c->cdict);
	c->cdict = cd;
	c->dict_id = id;
	return 0;
}

int record_codec_compress(struct record_codec *c, const char *json, size_t len,
			  struct jbuf *out, int64_t *dict_id)
{
	size_t bound = ZSTD_compressBound(len);
	char *dst = jbuf_room(out, bound);
	size_t n;

	if (!dst)
		return -1;
	if (c->cdict)
		n = ZSTD_compress_usingCDict(c->cctx, dst, bound, json, len,
					     c->cdict);
	else
		n = ZSTD_compressCCtx(c->cctx, dst, bound, json, len,
				      RECORD_ZSTD_LEVEL);
	if (ZSTD_isError(n))
		return -1;
	out->len += n;
	*dict_id = c->cdict ? c->dict_id : 0;
	return 0;
}

int record_decompress(const uint8_t *src, size_t len, const uint8_t *dict,
		      size_t dict_len, struct jbuf *out, size_t max)
{
	unsigned long long size = ZSTD_getFrameContentSize(src, len);
	ZSTD_DCtx *d;
	char *dst;
	size_t n;

	if (size == ZSTD_CONTENTSIZE_ERROR ||
	    size == ZSTD_CONTENTSIZE_UNKNOWN || size > max)
		return -1;
	dst = jbuf_room(out, (size_t)size);
	if (!dst)
		return -1;
	d = ZSTD_createDCtx();
	if (!d)
		return -1;
	n = dict ? ZSTD_decompress_usingDict(d, dst, (size_t)size, src, len,
					     dict, dict_len)
		 : ZSTD_decompressDCtx(d, dst, (size_t)size, src, len);
	ZSTD_freeDCtx(d);
	if (ZSTD_isError(n) || n != size)
		return -1;
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}
