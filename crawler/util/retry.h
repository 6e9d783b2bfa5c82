/*
 * Waiting out an outage (the database gone, the disk full) in a thread
 * that has nothing else to do: try, and while it fails pause a fixed
 * interval and try again, telling the user once when the waiting starts
 * and once when it is over, not on every try.
 *
 *	struct retry r = { 0 };
 *	while (try() != 0)
 *		retry_pause(&r, 5, "lost the database; retrying every %d s", 5);
 *	retry_over(&r, "database back");
 */
#ifndef MXCRAWL_UTIL_RETRY_H
#define MXCRAWL_UTIL_RETRY_H

#include <stdbool.h>

struct retry {
	bool waiting; /* said that we wait, not yet that it is over */
};

/* Warns with fmt the first time, then sleeps for seconds (less if a
 * signal arrives). */
void retry_pause(struct retry *r, int seconds, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Warns with msg if retry_pause was called since the last retry_over. */
void retry_over(struct retry *r, const char *msg);

#endif
