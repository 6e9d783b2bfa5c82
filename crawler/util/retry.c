#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "crawler/util/log.h"
#include "crawler/util/retry.h"

void retry_pause(struct retry *r, int seconds, const char *fmt, ...)
{
	if (!r->waiting) {
		char msg[256];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		log_warn("%s", msg);
		r->waiting = true;
	}
	/* A signal ends the pause early: the caller's loop looks at its
	 * stop condition sooner. */
	struct timespec ts = { seconds, 0 };
	nanosleep(&ts, NULL);
}

void retry_over(struct retry *r, const char *msg)
{
	if (r->waiting)
		log_warn("%s", msg);
	r->waiting = false;
}
