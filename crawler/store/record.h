/*
 * Handshake records: one self-describing JSON document per endpoint probe
 * (the SMTP transcript, the TLS parameters, the chain as certificate
 * hashes, timings; smtp/eprecord.h writes it), stored compressed with
 * zstd. Records are small and alike, so a dictionary trained on a
 * campaign's first records shrinks them several times more than plain
 * zstd; the dictionary is stored with its id and every record names the
 * dictionary it needs (or none).
 */
#ifndef MXCRAWL_STORE_RECORD_H
#define MXCRAWL_STORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/util/json.h"

/* Records collected before a dictionary is trained (per crawler), by
 * default and at most; --record-dict-samples sets it per scan. */
#define RECORD_DICT_SAMPLES 500
#define RECORD_DICT_SAMPLES_MAX 10000
/* Fewer samples than this give no useful dictionary: none is trained. */
#define RECORD_DICT_MIN_SAMPLES 100
/* Dictionary size: records are 1-20 KiB; 32 KiB holds their common parts. */
#define RECORD_DICT_SIZE (32 * 1024)
/* zstd level: records are written once and read rarely. */
#define RECORD_ZSTD_LEVEL 9

struct record_codec;

/* A codec that trains its dictionary after `samples` records
 * (RECORD_DICT_MIN_SAMPLES..RECORD_DICT_SAMPLES_MAX). */
struct record_codec *record_codec_new(size_t samples);
void record_codec_free(struct record_codec *c);

/* Keeps a record as a training sample until enough are there; returns
 * true when a dictionary can now be trained. */
bool record_codec_sample(struct record_codec *c, const char *json, size_t len);

/* Trains the dictionary from the samples into *dict (malloc'ed, *len
 * bytes); *samples is how many it learnt from. 0, -ENOMEM, or -ENODATA
 * when the samples give no dictionary (fewer than RECORD_DICT_MIN_SAMPLES,
 * or zstd found none); then records stay dictionary-free. */
int record_codec_train(struct record_codec *c, uint8_t **dict, size_t *len,
		       size_t *samples);

/* Uses dict (stored under id) for the records compressed from now on.
 * 0, or -ENOMEM (zstd's only failure for a dictionary it trained). */
int record_codec_use(struct record_codec *c, const uint8_t *dict, size_t len,
		     int64_t id);

/* Compresses one record into out (appended as raw bytes); *dict_id is the
 * dictionary used, 0 for none. 0, out's error (jbuf_error()), or -EIO
 * when zstd fails (into a buffer of its bound it does not). */
int record_codec_compress(struct record_codec *c, const char *json, size_t len,
			  struct jbuf *out, int64_t *dict_id);

/* Decompresses a record with the given dictionary (NULL for none) into out
 * (appended). At most `max` bytes. 0, -EBADMSG when src is not one whole
 * zstd frame that announces its size (or the dictionary is wrong),
 * -E2BIG over max, -ENOMEM, or out's error (jbuf_error()). */
int record_decompress(const uint8_t *src, size_t len, const uint8_t *dict,
		      size_t dict_len, struct jbuf *out, size_t max);

#endif
