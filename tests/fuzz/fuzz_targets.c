/*
 * Fuzz target for the target list readers and name_normalize().
 *
 * The first byte chooses the format (and, for zone files, whether an
 * origin is given); the rest is the file. Whatever the input, every name
 * that comes out must be a normalised host name: at most NAME_MAX_TEXT
 * bytes of [a-z0-9.-], and a fixed point of name_normalize().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "targets/name.h"
#include "targets/targets.h"

/* Inputs above this are cut: the readers work line by line, so longer
 * inputs only slow the fuzzer down. */
#define FUZZ_INPUT_MAX (1024 * 1024)

static void check_name(const char *name, size_t len)
{
	char again[NAME_MAX_TEXT + 1];
	size_t againlen;

	if (len == 0 || len > NAME_MAX_TEXT || strlen(name) != len)
		abort();
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			abort();
	}
	if (name_normalize((const uint8_t *)name, len, again, &againlen,
			   NULL) != NAME_OK)
		abort();
	if (againlen != len || memcmp(again, name, len) != 0)
		abort();
}

static int on_name(void *arg, const struct targets_item *it)
{
	(void)arg;
	check_name(it->name, it->len);
	if (it->line == 0)
		abort();
	return 0;
}

static void on_reject(void *arg, const struct targets_reject *rj)
{
	volatile uint8_t sink = 0;

	(void)arg;
	if (rj->text_len > rj->len || rj->text_len > TARGETS_REJECT_TEXT_MAX ||
	    !rj->detail || rj->line == 0 || rj->rc <= TARGETS_OK ||
	    rj->rc >= TARGETS_RC_LAST)
		abort();
	/* The text must be readable for text_len bytes (ASan checks). */
	for (size_t i = 0; i < rj->text_len; i++)
		sink ^= rj->text[i];
	(void)strlen(rj->detail);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const origins[] = { NULL, "example.", "." };
	const struct targets_format *fmt;
	const char *origin = NULL;
	struct targets_reader *r;
	char out[NAME_MAX_TEXT + 1];
	struct name_err err;
	size_t outlen;

	if (size < 1)
		return 0;
	if (size > FUZZ_INPUT_MAX)
		size = FUZZ_INPUT_MAX;

	/* The whole input as one name, too. */
	if (name_normalize(data + 1, size - 1, out, &outlen, &err) == NAME_OK)
		check_name(out, outlen);
	else if (err.rc == NAME_OK || err.detail[0] == '\0')
		abort();

	switch (data[0] & 3) {
	case 0:
		fmt = &targets_format_plain;
		break;
	case 1:
		fmt = &targets_format_tranco;
		break;
	case 2:
		fmt = &targets_format_zone;
		origin = origins[(data[0] >> 2) % 3];
		break;
	default:
		fmt = targets_format_sniff(data + 1, size - 1);
		break;
	}
	r = targets_reader_new(fmt, origin, on_name, on_reject, NULL);
	if (!r)
		return 0;
	targets_feed_buffer(r, data + 1, size - 1);
	targets_finish(r);
	targets_reader_free(r);
	return 0;
}
