/*
 * Strings made on the heap.
 */
#ifndef MXCRAWL_UTIL_STR_H
#define MXCRAWL_UTIL_STR_H

/* A string formatted as by printf, to be freed by the caller; NULL when
 * out of memory. */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
