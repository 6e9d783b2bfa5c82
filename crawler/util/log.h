/*
 * Messages for the user on stderr, in one voice: "mxcrawl: <message>".
 * Every stage may report through here, so that code below the command line
 * never reaches up into crawler/cli/ to be heard. Where a function can
 * return its error instead, the caller decides what the user reads.
 */
#ifndef MXCRAWL_UTIL_LOG_H
#define MXCRAWL_UTIL_LOG_H

/* Prints "mxcrawl: <message>" and a newline to stderr. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "mxcrawl: warning: <message>" and a newline to stderr. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
