/* Handshake records: compressing, and the errors of reading one back. */
#include <errno.h>
#include <string.h>

#include "crawler/store/record.h"
#include "unit.h"

UNIT_TEST(test_record_roundtrip_and_errors)
{
	static const char json[] = "{\"smtp\": [\"220 mx.example.test\"]}";
	struct record_codec *c = record_codec_new(RECORD_DICT_MIN_SAMPLES);
	struct jbuf z, out;
	int64_t dict = -1;

	CHECK(c != NULL);
	if (!c)
		return;
	jbuf_init(&z, 4096);
	jbuf_init(&out, 4096);
	CHECK_INT(record_codec_compress(c, json, sizeof json - 1, &z, &dict), 0,
		  "compress");
	CHECK_INT(dict, 0, "no dictionary yet");
	CHECK_INT(record_decompress((const uint8_t *)z.data, z.len, NULL, 0,
				    &out, 4096),
		  0, "decompress");
	CHECK_STR(out.data, json, "round trip");

	/* Too few samples: no dictionary, records stay without one. */
	uint8_t *d = NULL;
	size_t dlen = 0, samples = 0;
	CHECK_INT(record_codec_train(c, &d, &dlen, &samples), -ENODATA,
		  "too few samples");

	/* Over the caller's maximum: the size the frame announces. */
	jbuf_reset(&out);
	CHECK_INT(record_decompress((const uint8_t *)z.data, z.len, NULL, 0,
				    &out, sizeof json - 2),
		  -E2BIG, "over max");
	/* Not a zstd frame, or a frame cut short. */
	static const uint8_t junk[] = "not zstd at all";
	CHECK_INT(record_decompress(junk, sizeof junk, NULL, 0, &out, 4096),
		  -EBADMSG, "junk");
	CHECK_INT(record_decompress((const uint8_t *)z.data, z.len - 1, NULL, 0,
				    &out, 4096),
		  -EBADMSG, "cut short");
	/* The output buffer's own maximum. */
	struct jbuf small;
	jbuf_init(&small, 4);
	CHECK_INT(record_decompress((const uint8_t *)z.data, z.len, NULL, 0,
				    &small, 4096),
		  -E2BIG, "buffer's maximum");
	jbuf_free(&small);

	jbuf_free(&z);
	jbuf_free(&out);
	record_codec_free(c);
}
