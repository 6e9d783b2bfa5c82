/* Names of the client mail probes' shared vocabulary: see mailrc.h. */
#include <string.h>

#include "crawler/mailproto/mailrc.h"

static const char *const rc_names[] = {
	[MAIL_RC_TLS_OK] = "tls_ok",
	[MAIL_RC_NO_STARTTLS] = "no_starttls",
	[MAIL_RC_STARTTLS_REJECTED] = "starttls_rejected",
	[MAIL_RC_GREETING_REJECTED] = "greeting_rejected",
	[MAIL_RC_GREETING_TIMEOUT] = "greeting_timeout",
	[MAIL_RC_PREAUTH] = "preauth",
	[MAIL_RC_CAPABILITY_REJECTED] = "capability_rejected",
	[MAIL_RC_TLS_FAILED] = "tls_failed",
	[MAIL_RC_CONNECTION_RESET] = "connection_reset",
	[MAIL_RC_CONNECTION_CLOSED] = "connection_closed",
	[MAIL_RC_PROTOCOL_ERROR] = "protocol_error",
	[MAIL_RC_LINE_TOO_LONG] = "line_too_long",
	[MAIL_RC_REPLY_TOO_LARGE] = "reply_too_large",
	[MAIL_RC_DEADLINE] = "deadline",
	[MAIL_RC_TIMEOUT] = "timeout",
	[MAIL_RC_CONNECT_FAILED] = "connect_failed",
	[MAIL_RC_INTERNAL_ERROR] = "internal_error",
	[MAIL_RC_PENDING] = "pending",
};

static const char *const greeting_names[] = {
	[MAIL_GREETING_UNSEEN] = NULL,
	[MAIL_GREETING_OK] = "ok",
	[MAIL_GREETING_REJECTED] = "rejected",
	[MAIL_GREETING_GARBAGE] = "garbage",
	[MAIL_GREETING_TIMEOUT] = "timeout",
};

const char *mail_rc_str(enum mail_rc rc)
{
	if ((unsigned)rc >= MAIL_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

int mail_rc_from_str(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < MAIL_RC_LAST; i++)
		if (strcmp(rc_names[i], name) == 0)
			return i;
	return -1;
}

const char *mail_greeting_str(enum mail_greeting g)
{
	if ((unsigned)g >= MAIL_GREETING_LAST)
		return NULL;
	return greeting_names[g];
}
