/*
 * JSON string escaping into a text buffer (jbuf.h), and the UTF-8 check
 * it rests on.
 */
#ifndef MXCRAWL_CRAWLER_JSON_H
#define MXCRAWL_CRAWLER_JSON_H

#include <stddef.h>

#include "crawler/util/jbuf.h"

/* Length (1-4) of the valid UTF-8 sequence at s, which has `left` bytes,
 * or 0 if it is not valid UTF-8 (overlong, surrogate, beyond U+10FFFF).
 * A NUL byte is a valid sequence of length 1. */
size_t utf8_seq(const unsigned char *s, size_t left);

/* Appends s (len bytes, any content) as a quoted JSON string; bytes that
 * are not valid UTF-8 become U+FFFD. */
void jbuf_json_string(struct jbuf *b, const char *s, size_t len);

#endif
