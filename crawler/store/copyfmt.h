/*
 * Rows for PostgreSQL's COPY ... FROM STDIN in text format, written into a
 * jbuf. Fields are appended in column order; copy_field() puts the tab
 * between them and copy_row_end() the newline. Text is escaped for COPY
 * (backslash, tab, newline, carriage return) and made valid UTF-8 (bad
 * bytes become U+FFFD), because the server rejects invalid text; raw bytes
 * go to bytea columns instead.
 */
#ifndef MXCRAWL_CRAWLER_COPYFMT_H
#define MXCRAWL_CRAWLER_COPYFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crawler/util/jbuf.h"

/* Separates fields: call before every field but the first of a row. */
void copy_field(struct jbuf *b);
void copy_row_end(struct jbuf *b);

void copy_null(struct jbuf *b);
void copy_text(struct jbuf *b, const char *s, size_t len);
void copy_str(struct jbuf *b, const char *s); /* NULL gives \N */
/* The first n fields of a row (copy_str each, NULL gives \N), each
 * followed by the separator: the next field comes right after. */
void copy_strs(struct jbuf *b, const char *const *v, size_t n);
void copy_int(struct jbuf *b, int64_t v);
void copy_bool(struct jbuf *b, bool v);
void copy_bytea(struct jbuf *b, const uint8_t *p, size_t len);

/*
 * Arrays are built element by element: copy_array_begin(), then
 * copy_array_text()/copy_array_int()/copy_array_bytea() for each element,
 * then copy_array_end(). The elements are quoted as PostgreSQL's array
 * input wants, then escaped for COPY.
 */
struct copy_array {
	struct jbuf *b;
	size_t n;
};
void copy_array_begin(struct copy_array *a, struct jbuf *b);
void copy_array_text(struct copy_array *a, const char *s, size_t len);
void copy_array_int(struct copy_array *a, int64_t v);
void copy_array_bytea(struct copy_array *a, const uint8_t *p, size_t len);
void copy_array_end(struct copy_array *a);

#endif
