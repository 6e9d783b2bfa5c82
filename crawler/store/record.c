#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zdict.h>
#include <zstd.h>

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
	if (!buf)
		return -ENOMEM;
	if (c->nsamples < RECORD_DICT_MIN_SAMPLES) {
		free(buf);
		return -ENODATA;
	}
	n = ZDICT_trainFromBuffer(buf, RECORD_DICT_SIZE, c->samples.data,
				  c->sizes, (unsigned)c->nsamples);
	jbuf_free(&c->samples);
	if (ZDICT_isError(n)) {
		free(buf);
		return -ENODATA;
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
		return -ENOMEM;
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
		return jbuf_error(out);
	if (c->cdict)
		n = ZSTD_compress_usingCDict(c->cctx, dst, bound, json, len,
					     c->cdict);
	else
		n = ZSTD_compressCCtx(c->cctx, dst, bound, json, len,
				      RECORD_ZSTD_LEVEL);
	if (ZSTD_isError(n))
		return -EIO;
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

	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
		return -EBADMSG;
	if (size > max)
		return -E2BIG;
	dst = jbuf_room(out, (size_t)size);
	if (!dst)
		return jbuf_error(out);
	d = ZSTD_createDCtx();
	if (!d)
		return -ENOMEM;
	n = dict ? ZSTD_decompress_usingDict(d, dst, (size_t)size, src, len,
					     dict, dict_len)
		 : ZSTD_decompressDCtx(d, dst, (size_t)size, src, len);
	ZSTD_freeDCtx(d);
	if (ZSTD_isError(n) || n != size)
		return -EBADMSG;
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}
