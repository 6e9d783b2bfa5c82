/*
 * Fuzz target for tls_preamble_scan() (crawler/smtp/conn.c): the bytes a server
 * sends between the 220 to STARTTLS and its first TLS record come from the
 * network. The first byte picks a piece size; the rest is the stream.
 * Feeding it in pieces must find exactly as much plaintext as feeding it
 * whole, and never more than was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/smtp/conn.h"

/* Past the scanner's own 4 KiB cap, with room to spare. */
#define FUZZ_INPUT_MAX (16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_INPUT_MAX)
		return 0;
	size_t piece = (size_t)data[0] + 1;
	const uint8_t *buf = data + 1;
	size_t len = size - 1;

	struct tls_preamble whole = { 0 };
	size_t all = tls_preamble_scan(&whole, buf, len);
	if (all > len)
		abort();

	/* In pieces: plaintext is found at the front of the stream only, so
	 * the total must be the same and stop where the whole scan stopped. */
	struct tls_preamble st = { 0 };
	size_t total = 0, off = 0;
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;
		size_t got = tls_preamble_scan(&st, buf + off, n);
		if (got > n)
			abort();
		total += got;
		if (got < n)
			break; /* TLS started in this piece */
		off += n;
	}
	if (total != all)
		abort();
	return 0;
}
