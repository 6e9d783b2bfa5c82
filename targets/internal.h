/*
 * Helpers shared by the files of targets/ and not part of its interface.
 */
#ifndef MXCRAWL_TARGETS_INTERNAL_H
#define MXCRAWL_TARGETS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most bytes of input an excerpt shows before it is cut with "…". */
#define TARGETS_EXCERPT_MAX 40
/* Room for an excerpt: each byte may become "\xHH", plus the ellipsis. */
#define TARGETS_EXCERPT_SIZE (TARGETS_EXCERPT_MAX + 8)

/*
 * Writes a printable, valid UTF-8 excerpt of s[0..len) into dst (at least
 * TARGETS_EXCERPT_SIZE bytes) for use in a detail sentence: whole UTF-8
 * characters are kept, other bytes are shown as \xHH, a cut is marked.
 */
void targets_excerpt(char *dst, size_t dstsz, const uint8_t *s, size_t len);

struct targets_reader;
struct name_err;

/* Rejects a line as TARGETS_BAD_NAME with the code and detail of `err`,
 * for formats that judge a name before emitting it. */
void targets_reject_name(struct targets_reader *r, uint64_t lineno,
			 const uint8_t *line, size_t linelen,
			 const struct name_err *err);

/* Reports a name that is already normalised (the output of
 * name_normalize()): drops duplicates, counts, calls back. */
void targets_emit_name(struct targets_reader *r, uint64_t lineno,
		       const char *name, size_t len, int64_t rank);

/* Lines of a file's head that a format's sniff() looks at. */
#define TARGETS_SNIFF_LINES 200

/*
 * The next line of a file's head for a format's sniff(): sets *line and
 * *linelen (without its "\n" and a final "\r") and advances *pos (start
 * at 0). Returns false at the end of head or after TARGETS_SNIFF_LINES
 * lines (*count, start at 0).
 */
bool targets_sniff_next(const uint8_t *head, size_t len, size_t *pos,
			unsigned *count, const uint8_t **line, size_t *linelen);

#endif
