/*
 * Fuzz target for the pure judgement of a policy response's headers in
 * crawler/sts/stsfetch.c: the Content-Type and Content-Encoding values come
 * from the network.
 *
 * The input is a header value; both readers must accept any bytes, and
 * their verdicts must not depend on white space around the value (RFC
 * 9110 §5.5: OWS is not part of a field value).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/sts/stsfetch.h"

/* Header values over this are refused before they are judged
 * (STSFETCH_HEADER_BYTES_MAX); a little beyond it is enough. */
#define FUZZ_INPUT_MAX (STSFETCH_HEADER_BYTES_MAX + 64)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char padded[FUZZ_INPUT_MAX + 2];

	if (size > FUZZ_INPUT_MAX)
		return 0;
	const char *v = (const char *)data;
	bool type = stsfetch_media_type_ok(v, size);
	bool enc = stsfetch_encoding_ok(v, size);

	padded[0] = ' ';
	memcpy(padded + 1, data, size);
	padded[size + 1] = '\t';
	if (stsfetch_media_type_ok(padded, size + 2) != type)
		abort();
	if (stsfetch_encoding_ok(padded, size + 2) != enc)
		abort();

	/* The verdict on a whole response's headers takes the first bytes as
	 * its facts: it must be one of the outcomes it documents. */
	struct stsfetch_head h = {
		.status =
		    size > 1 ? 100 + (data[0] * 256 + data[1]) % 500 : 200,
		.n_content_type = size > 2 ? data[2] % 3 : 1,
		.media_type_ok = type,
		.encoding_ok = enc,
		.content_length = size > 3 ? (int64_t)data[3] * 1024 - 1 : -1,
	};
	enum stsfetch_rc rc =
	    stsfetch_judge_headers(&h, STSFETCH_MAX_BODY_DEFAULT);
	if (rc != STSFETCH_OK && rc != STSFETCH_HTTP_REDIRECT &&
	    rc != STSFETCH_HTTP_STATUS && rc != STSFETCH_MEDIA_TYPE &&
	    rc != STSFETCH_CONTENT_ENCODING && rc != STSFETCH_TOO_LARGE)
		abort();
	if (rc == STSFETCH_OK &&
	    (h.status != 200 || !type || !enc || h.n_content_type != 1))
		abort();
	return 0;
}
