/*
 * Fuzz target for crawler/mailproto/pop3.c (and mailline.c under it): the
 * input is a script of events for one session. The first byte picks the
 * mode (even: STLS, odd: implicit TLS); then the events of
 * fuzz_script.h.
 *
 * Whatever the peer does, the client may only send CAPA, STLS and QUIT,
 * in an order the flow allows, each only in answer to a line (or to a
 * finished handshake); never USER, PASS, APOP or AUTH; start TLS only
 * after the +OK to STLS (or at connect with implicit TLS); send nothing
 * but QUIT inside TLS; and once it said close, keep saying close with the
 * same outcome. The transcript and the capability list stay bounded.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/mailproto/pop3.h"
#include "fuzz_script.h"

#define FUZZ_INPUT_MAX (128 * 1024)

enum cmd {
	C_NONE = 0,
	C_CAPA,
	C_STLS,
	C_QUIT,
};

static struct pop3_session session;

static int classify(const uint8_t *out, size_t len, bool implicit)
{
	static const struct {
		const char *text;
		enum cmd cmd;
	} known[] = {
		{ "CAPA\r\n", C_CAPA },
		{ "STLS\r\n", C_STLS },
		{ "QUIT\r\n", C_QUIT },
	};

	(void)implicit;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (len == strlen(known[i].text) &&
		    memcmp(out, known[i].text, len) == 0)
			return known[i].cmd;
	abort();
}

/* May `next` follow `last`? */
static bool allowed(int last, int next, bool implicit)
{
	if (implicit)
		return last == C_NONE && next == C_QUIT;
	switch (last) {
	case C_NONE:
		return next == C_CAPA;
	case C_CAPA:
		return next == C_STLS || next == C_QUIT;
	case C_STLS:
		return next == C_QUIT;
	default:
		return false;
	}
}

static bool starttls_ok(const struct mail_core *c)
{
	return ((const struct pop3_session *)c)->facts.stls_status ==
	       POP3_STATUS_OK;
}

static bool facts_ok(const struct mail_core *c)
{
	return ((const struct pop3_session *)c)->facts.ncaps <= POP3_CAPS_MAX;
}

static const struct fuzz_core_proto proto = {
	.classify = classify,
	.allowed = allowed,
	.starttls = C_STLS,
	.bye = C_QUIT,
	.starttls_ok = starttls_ok,
	.facts_ok = facts_ok,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_session *s = &session;
	bool implicit;

	if (size < 1 || size > FUZZ_INPUT_MAX)
		return 0;
	implicit = data[0] & 1;
	if (pop3_session_init(s, implicit ? POP3_MODE_IMPLICIT : POP3_MODE_STLS,
			      NULL) != 0)
		abort();
	fuzz_core_run(&s->core, &proto, data, size, 1, implicit);
	pop3_session_free(s);
	return 0;
}
