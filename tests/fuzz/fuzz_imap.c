/*
 * Fuzz target for crawler/mailproto/imap.c (and mailline.c under it): the
 * input is a script of events for one session. The first byte picks the
 * mode (even: STARTTLS, odd: implicit TLS); then the events of
 * fuzz_script.h.
 *
 * Whatever the peer does, the client may only send a1 CAPABILITY, a2
 * STARTTLS and LOGOUT (a3, or a1 with implicit TLS), in an order the flow
 * allows, each only in answer to a line (or to a finished handshake);
 * never LOGIN or AUTHENTICATE; start TLS only after the OK to STARTTLS
 * (or at connect with implicit TLS); send nothing but LOGOUT inside TLS;
 * and once it said close, keep saying close with the same outcome. The
 * transcript and the capability list stay within their bounds.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/imap.h"
#include "fuzz_script.h"

#define FUZZ_INPUT_MAX (128 * 1024)

enum cmd {
	C_NONE = 0,
	C_CAPABILITY,
	C_STARTTLS,
	C_LOGOUT,
};

static struct imap_session session;

static int classify(const uint8_t *out, size_t len, bool implicit)
{
	static const struct {
		const char *text;
		enum cmd cmd;
	} known[] = {
		{ "a1 CAPABILITY\r\n", C_CAPABILITY },
		{ "a2 STARTTLS\r\n", C_STARTTLS },
		{ "a3 LOGOUT\r\n", C_LOGOUT },
		{ "a1 LOGOUT\r\n", C_LOGOUT },
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (len == strlen(known[i].text) &&
		    memcmp(out, known[i].text, len) == 0) {
			/* The LOGOUT tag says the mode. */
			if (known[i].cmd == C_LOGOUT &&
			    (out[1] == '1') != implicit)
				abort();
			return known[i].cmd;
		}
	abort();
}

/* May `next` follow `last`? */
static bool allowed(int last, int next, bool implicit)
{
	if (implicit)
		return last == C_NONE && next == C_LOGOUT;
	switch (last) {
	case C_NONE:
		return next == C_CAPABILITY || next == C_STARTTLS ||
		       next == C_LOGOUT;
	case C_CAPABILITY:
		return next == C_STARTTLS || next == C_LOGOUT;
	case C_STARTTLS:
		return next == C_LOGOUT;
	default:
		return false;
	}
}

static bool starttls_ok(const struct mail_core *c)
{
	return ((const struct imap_session *)c)->facts.starttls_status ==
	       IMAP_STATUS_OK;
}

static bool facts_ok(const struct mail_core *c)
{
	return ((const struct imap_session *)c)->facts.ncaps <= IMAP_CAPS_MAX;
}

static const struct fuzz_core_proto proto = {
	.classify = classify,
	.allowed = allowed,
	.starttls = C_STARTTLS,
	.bye = C_LOGOUT,
	.starttls_ok = starttls_ok,
	.facts_ok = facts_ok,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_session *s = &session;
	bool implicit;

	if (size < 1 || size > FUZZ_INPUT_MAX)
		return 0;
	implicit = data[0] & 1;
	if (imap_session_init(
		s, implicit ? IMAP_MODE_IMPLICIT : IMAP_MODE_STARTTLS, NULL) !=
	    0)
		abort();
	fuzz_core_run(&s->core, &proto, data, size, 1, implicit);
	imap_session_free(s);
	return 0;
}
