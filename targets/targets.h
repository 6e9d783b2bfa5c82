/*
 * Target list readers: plain lists, Tranco CSV and DNS zone files.
 *
 * A reader takes physical lines (from a file, or from memory for tests and
 * fuzzers), turns each into zero or more normalised names, drops duplicates
 * and reports every rejected line with its number and reason through
 * callbacks. Formats plug in as a struct of callbacks (struct targets_format).
 */
#ifndef MXCRAWL_TARGETS_TARGETS_H
#define MXCRAWL_TARGETS_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "targets/name.h"

/* Longest physical line read; longer lines are rejected, never buffered. */
#define TARGETS_LINE_MAX 65536
/* At most this many bytes of a rejected line are passed as its text. */
#define TARGETS_REJECT_TEXT_MAX 256

/* Why a line was rejected, beyond the name rules of name.h. */
enum targets_rc {
	TARGETS_OK = 0,
	TARGETS_BAD_NAME,	/* the name failed name_normalize() */
	TARGETS_LINE_TOO_LONG,	/* over TARGETS_LINE_MAX bytes */
	TARGETS_BAD_RANK,	/* Tranco: rank is not a positive integer */
	TARGETS_BAD_FIELDS,	/* Tranco: not "rank,domain" */
	TARGETS_ZONE_SYNTAX,	/* zone file: unparsable record */
	TARGETS_ZONE_DIRECTIVE, /* zone file: unsupported $ directive */
	TARGETS_ZONE_OUTSIDE,	/* zone file: owner outside the origin */
	TARGETS_RC_LAST
};

/* A name accepted from the input. */
struct targets_item {
	/* Normalised, NUL-terminated; valid during the callback only. */
	const char *name;
	size_t len;
	uint64_t line; /* physical line it came from (1-based) */
	int64_t rank;  /* Tranco rank, or 0 */
};

/* A rejected line. */
struct targets_reject {
	uint64_t line;
	const uint8_t *text; /* the line's bytes (may hold anything) */
	size_t len;	     /* its full length; text may be a prefix */
	size_t text_len;     /* bytes at text: at most REJECT_TEXT_MAX */
	enum targets_rc rc;
	enum name_rc name_rc; /* when rc == TARGETS_BAD_NAME */
	const char *detail;   /* a sentence naming what was wrong */
};

struct targets_stats {
	uint64_t lines;	     /* physical lines read */
	uint64_t names;	     /* unique names accepted */
	uint64_t duplicates; /* names seen before, dropped */
	uint64_t rejected;   /* lines rejected */
	uint64_t skipped; /* blank, comment, header or non-delegation lines */
	/* Names passed on without the duplicate check because the set of
	 * names seen could not grow (out of memory); normally 0. */
	uint64_t unchecked;
};

struct targets_reader;

/* A target file format: a struct of callbacks (see fmt_*.c). */
struct targets_format {
	const char *name; /* "plain", "tranco", "zone" */
	/* Bytes of per-reader state the format needs. */
	size_t state_size;
	/* Prepares the state; origin is the zone origin given by the user
	 * (NULL if none; only the zone format uses it). */
	void (*init)(void *state, const char *origin);
	/* Handles one physical line without its line ending; reports names
	 * with targets_emit() and problems with targets_reject_line(). */
	void (*line)(struct targets_reader *r, void *state, uint64_t lineno,
		     const uint8_t *line, size_t len);
	/* End of input: reports anything left open (may be NULL). */
	void (*finish)(struct targets_reader *r, void *state);
	/* Frees what init allocated (may be NULL). */
	void (*free)(void *state);
	/* Whether a file whose first bytes are head[0..len) (after any UTF-8
	 * BOM) looks like this format: each format recognises itself, and
	 * targets_format_sniff() asks them in turn. */
	bool (*sniff)(const uint8_t *head, size_t len);
};

extern const struct targets_format targets_format_plain;
extern const struct targets_format targets_format_tranco;
extern const struct targets_format targets_format_zone;

/* Returns the format called `name`, or NULL. */
const struct targets_format *targets_format_find(const char *name);

/*
 * Guesses the format from a file's first lines, asking each format's
 * sniff(): zone if it has $ORIGIN, $TTL or SOA/NS records, tranco if lines
 * look like "rank,domain", else plain. `head` is the start of the file.
 */
const struct targets_format *targets_format_sniff(const uint8_t *head,
						  size_t len);

/* Called for each new unique name; a non-zero return stops the reader and
 * is returned by targets_read_file(). */
typedef int (*targets_name_cb)(void *arg, const struct targets_item *it);
/* Called for each rejected line. */
typedef void (*targets_reject_cb)(void *arg, const struct targets_reject *rj);

/* Creates a reader; returns NULL when out of memory. */
struct targets_reader *targets_reader_new(const struct targets_format *fmt,
					  const char *origin,
					  targets_name_cb on_name,
					  targets_reject_cb on_reject,
					  void *arg);
void targets_reader_free(struct targets_reader *r);

/* Feeds one physical line (without '\n'; a trailing '\r' is removed). */
void targets_feed_line(struct targets_reader *r, const uint8_t *line,
		       size_t len);
/* Feeds a whole buffer, split at '\n'; the last line needs no newline. */
void targets_feed_buffer(struct targets_reader *r, const uint8_t *buf,
			 size_t len);
/* Ends the input (calls the format's finish). */
void targets_finish(struct targets_reader *r);

/*
 * Reads a whole stream line by line with the TARGETS_LINE_MAX cap and
 * finishes. Returns 0, the callback's non-zero value, or -errno on a read
 * error.
 */
int targets_read_file(struct targets_reader *r, FILE *f);

/* The counts so far. */
const struct targets_stats *targets_stats(const struct targets_reader *r);
/* Non-zero once a name callback asked to stop. */
int targets_stopped(const struct targets_reader *r);

/* For formats: normalise and report one name found on `lineno`; rejects
 * the line if the name is invalid. `line`/`linelen` is the whole line. */
void targets_emit(struct targets_reader *r, uint64_t lineno,
		  const uint8_t *line, size_t linelen, const uint8_t *name,
		  size_t namelen, int64_t rank);
/* For formats: report a rejected line with a printf-style detail. */
void targets_reject_line(struct targets_reader *r, uint64_t lineno,
			 const uint8_t *line, size_t linelen,
			 enum targets_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* For formats: count a line that holds no target (blank, comment, ...). */
void targets_skip_line(struct targets_reader *r);

/* Stable snake_case code for a result ("line_too_long"). */
const char *targets_rc_str(enum targets_rc rc);

#endif
