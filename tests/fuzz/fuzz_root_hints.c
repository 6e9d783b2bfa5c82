/*
 * Fuzz target for unbound_embed_hints_loopback() (crawler/dns/
 * unbound_embed.c): the input is a root hints file, which the operator
 * names with --root-hints. Whatever it holds, the answer is 0 or 1 and
 * nothing is read outside the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "crawler/dns/unbound_embed.h"

/* Debian's root hints are about 3 KiB; the resolver copies at most 1 MiB. */
#define FUZZ_INPUT_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_INPUT_MAX)
		return 0;
	int r = unbound_embed_hints_loopback((const char *)data, size);
	if (r != 0 && r != 1)
		abort();
	return 0;
}
