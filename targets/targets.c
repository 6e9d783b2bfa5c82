/*
 * Target list reader core: physical lines, duplicates, counts and the
 * callbacks. The formats (fmt_*.c) only turn a line into names.
 *
 * Target files are large (a zone file has tens of millions of lines) and
 * untrusted (anything can be handed to `mxcrawl targets check`), so lines
 * are read into a fixed buffer and an over-long line is measured and
 * rejected, never held whole.
 */
#include "targets/targets.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "targets/internal.h"

/* Bytes handed to fread() at a time. */
#define TARGETS_READ_CHUNK 65536
/* Slots of a new duplicate set (a power of two). */
#define NAME_SET_INITIAL_SLOTS 1024
/* The set grows when it is more than 3/4 full, to keep probes short. */
#define NAME_SET_LOAD_NUM 3
#define NAME_SET_LOAD_DEN 4
/* Bytes of one arena block holding the names of the set. */
#define NAME_ARENA_BLOCK (1024 * 1024)
/* Room for a formatted detail sentence. */
#define TARGETS_DETAIL_MAX 256

static const char *const targets_rc_names[TARGETS_RC_LAST] = {
	[TARGETS_OK] = "ok",
	[TARGETS_BAD_NAME] = "bad_name",
	[TARGETS_LINE_TOO_LONG] = "line_too_long",
	[TARGETS_BAD_RANK] = "bad_rank",
	[TARGETS_BAD_FIELDS] = "bad_fields",
	[TARGETS_ZONE_SYNTAX] = "zone_syntax",
	[TARGETS_ZONE_DIRECTIVE] = "zone_directive",
	[TARGETS_ZONE_OUTSIDE] = "zone_outside",
};

const char *targets_rc_str(enum targets_rc rc)
{
	if ((unsigned)rc >= TARGETS_RC_LAST)
		return "unknown";
	return targets_rc_names[rc];
}

/*
 * The set of names seen, for dropping duplicates: open addressing with
 * linear probing over (hash, pointer) slots. Names live in an arena of
 * large blocks (a length byte, then the bytes), so a million names cost a
 * few allocations and growing the table never moves them.
 */
struct name_slot {
	uint64_t hash;
	const uint8_t *name; /* NULL: empty slot */
};

struct arena_block {
	struct arena_block *next;
	size_t used;
	uint8_t data[];
};

struct name_set {
	struct name_slot *slots;
	size_t mask; /* slots - 1 */
	size_t count;
	struct arena_block *blocks;
};

static uint64_t name_hash(const char *s, size_t len)
{
	/* FNV-1a, then a final mix so that the low bits used as the index
	 * depend on every byte. */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static void name_set_free(struct name_set *set)
{
	struct arena_block *b = set->blocks;

	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(set->slots);
	memset(set, 0, sizeof *set);
}

static int name_set_grow(struct name_set *set)
{
	size_t n = set->slots ? (set->mask + 1) * 2 : NAME_SET_INITIAL_SLOTS;
	struct name_slot *slots;

	if (n > SIZE_MAX / sizeof *slots)
		return -ENOMEM;
	slots = calloc(n, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; set->slots && i <= set->mask; i++) {
		struct name_slot *o = &set->slots[i];
		size_t j;

		if (!o->name)
			continue;
		for (j = o->hash & (n - 1); slots[j].name;
		     j = (j + 1) & (n - 1))
			;
		slots[j] = *o;
	}
	free(set->slots);
	set->slots = slots;
	set->mask = n - 1;
	return 0;
}

static const uint8_t *arena_store(struct name_set *set, const char *s,
				  size_t len)
{
	struct arena_block *b = set->blocks;
	uint8_t *p;

	if (!b || NAME_ARENA_BLOCK - b->used < len + 1) {
		b = malloc(sizeof *b + NAME_ARENA_BLOCK);
		if (!b)
			return NULL;
		b->next = set->blocks;
		b->used = 0;
		set->blocks = b;
	}
	p = b->data + b->used;
	p[0] = (uint8_t)len;
	memcpy(p + 1, s, len);
	b->used += len + 1;
	return p;
}

/*
 * Adds a name (at most NAME_MAX_TEXT bytes). Returns 1 if it was new, 0 if
 * it had been seen, -ENOMEM if it could not be stored.
 */
static int name_set_add(struct name_set *set, const char *s, size_t len)
{
	uint64_t h = name_hash(s, len);
	size_t i;

	if (!set->slots || (set->count + 1) * NAME_SET_LOAD_DEN >
			       (set->mask + 1) * NAME_SET_LOAD_NUM) {
		if (name_set_grow(set) != 0)
			return -ENOMEM;
	}
	for (i = h & set->mask; set->slots[i].name; i = (i + 1) & set->mask) {
		const uint8_t *n = set->slots[i].name;
		if (set->slots[i].hash == h && n[0] == len &&
		    memcmp(n + 1, s, len) == 0)
			return 0;
	}
	set->slots[i].name = arena_store(set, s, len);
	if (!set->slots[i].name)
		return -ENOMEM;
	set->slots[i].hash = h;
	set->count++;
	return 1;
}

struct targets_reader {
	const struct targets_format *fmt;
	void *state;
	targets_name_cb on_name;
	targets_reject_cb on_reject;
	void *arg;
	struct targets_stats stats;
	uint64_t lineno;
	int stop_rc;
	bool stopped;
	bool finished;
	struct name_set seen;
	char detail[TARGETS_DETAIL_MAX];
};

/* In the order targets_format_sniff() asks them: a zone file's $ORIGIN or
 * SOA decides even among lines that look like "rank,domain"; plain reads
 * anything and comes last. */
static const struct targets_format *const formats[] = {
	&targets_format_zone,
	&targets_format_tranco,
	&targets_format_plain,
};

const struct targets_format *targets_format_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}

bool targets_sniff_next(const uint8_t *head, size_t len, size_t *pos,
			unsigned *count, const uint8_t **line, size_t *linelen)
{
	const uint8_t *l, *nl;
	size_t n;

	if (*pos >= len || *count >= TARGETS_SNIFF_LINES)
		return false;
	l = head + *pos;
	nl = memchr(l, '\n', len - *pos);
	n = nl ? (size_t)(nl - l) : len - *pos;
	*pos += n + 1;
	(*count)++;
	if (n > 0 && l[n - 1] == '\r')
		n--;
	*line = l;
	*linelen = n;
	return true;
}

const struct targets_format *targets_format_sniff(const uint8_t *head,
						  size_t len)
{
	if (len >= 3 && memcmp(head, "\xef\xbb\xbf", 3) == 0) {
		head += 3;
		len -= 3;
	}
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (formats[i]->sniff(head, len))
			return formats[i];
	return &targets_format_plain;
}

struct targets_reader *targets_reader_new(const struct targets_format *fmt,
					  const char *origin,
					  targets_name_cb on_name,
					  targets_reject_cb on_reject,
					  void *arg)
{
	struct targets_reader *r;

	if (!fmt)
		return NULL;
	r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->fmt = fmt;
	r->on_name = on_name;
	r->on_reject = on_reject;
	r->arg = arg;
	if (fmt->state_size > 0) {
		r->state = calloc(1, fmt->state_size);
		if (!r->state) {
			free(r);
			return NULL;
		}
	}
	if (fmt->init)
		fmt->init(r->state, origin);
	return r;
}

void targets_reader_free(struct targets_reader *r)
{
	if (!r)
		return;
	if (r->fmt->free)
		r->fmt->free(r->state);
	free(r->state);
	name_set_free(&r->seen);
	free(r);
}

/* Delivers a rejection; text is cut to TARGETS_REJECT_TEXT_MAX bytes. */
static void reject(struct targets_reader *r, uint64_t lineno,
		   const uint8_t *text, size_t have, size_t len,
		   enum targets_rc rc, enum name_rc name_rc, const char *detail)
{
	struct targets_reject rj = {
		.line = lineno,
		.text = text,
		.len = len,
		.text_len = have < TARGETS_REJECT_TEXT_MAX
				? have
				: TARGETS_REJECT_TEXT_MAX,
		.rc = rc,
		.name_rc = name_rc,
		.detail = detail,
	};

	if (r->stopped)
		return;
	r->stats.rejected++;
	if (r->on_reject)
		r->on_reject(r->arg, &rj);
}

void targets_reject_line(struct targets_reader *r, uint64_t lineno,
			 const uint8_t *line, size_t linelen,
			 enum targets_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof r->detail, fmt, ap);
	va_end(ap);
	reject(r, lineno, line, linelen, linelen, rc, NAME_OK, r->detail);
}

void targets_skip_line(struct targets_reader *r)
{
	r->stats.skipped++;
}

void targets_reject_name(struct targets_reader *r, uint64_t lineno,
			 const uint8_t *line, size_t linelen,
			 const struct name_err *err)
{
	reject(r, lineno, line, linelen, linelen, TARGETS_BAD_NAME, err->rc,
	       err->detail);
}

void targets_emit_name(struct targets_reader *r, uint64_t lineno,
		       const char *name, size_t len, int64_t rank)
{
	struct targets_item it;
	int added, rc;

	if (r->stopped)
		return;
	added = name_set_add(&r->seen, name, len);
	if (added == 0) {
		r->stats.duplicates++;
		return;
	}
	/* Out of memory for the set: the name still goes out, since losing
	 * it would be worse than a duplicate the database refuses later. */
	if (added < 0)
		r->stats.unchecked++;
	r->stats.names++;
	it.name = name;
	it.len = len;
	it.line = lineno;
	it.rank = rank;
	if (r->on_name) {
		rc = r->on_name(r->arg, &it);
		if (rc != 0) {
			r->stopped = true;
			r->stop_rc = rc;
		}
	}
}

void targets_emit(struct targets_reader *r, uint64_t lineno,
		  const uint8_t *line, size_t linelen, const uint8_t *name,
		  size_t namelen, int64_t rank)
{
	char out[NAME_MAX_TEXT + 1];
	struct name_err err;
	size_t outlen;

	if (r->stopped)
		return;
	if (name_normalize(name, namelen, out, &outlen, &err) != NAME_OK) {
		targets_reject_name(r, lineno, line, linelen, &err);
		return;
	}
	targets_emit_name(r, lineno, out, outlen, rank);
}

/* A line over TARGETS_LINE_MAX: counted and rejected with its length;
 * only its first bytes were kept. */
static void feed_long_line(struct targets_reader *r, const uint8_t *prefix,
			   size_t have, uint64_t len)
{
	if (r->stopped || r->finished)
		return;
	r->lineno++;
	r->stats.lines++;
	snprintf(r->detail, sizeof r->detail,
		 "line is %llu bytes (max %d); not read",
		 (unsigned long long)len, TARGETS_LINE_MAX);
	reject(r, r->lineno, prefix, have, (size_t)len, TARGETS_LINE_TOO_LONG,
	       NAME_OK, r->detail);
}

void targets_feed_line(struct targets_reader *r, const uint8_t *line,
		       size_t len)
{
	if (r->stopped || r->finished)
		return;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* A byte order mark some editors put in front of UTF-8 files. */
	if (r->lineno == 0 && len >= 3 &&
	    memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		len -= 3;
	}
	if (len > TARGETS_LINE_MAX) {
		feed_long_line(r, line, len, len);
		return;
	}
	r->lineno++;
	r->stats.lines++;
	r->fmt->line(r, r->state, r->lineno, line, len);
}

void targets_feed_buffer(struct targets_reader *r, const uint8_t *buf,
			 size_t len)
{
	size_t pos = 0;

	while (pos < len && !r->stopped) {
		const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		targets_feed_line(r, buf + pos, n);
		pos += n + 1;
	}
}

void targets_finish(struct targets_reader *r)
{
	if (r->finished)
		return;
	r->finished = true;
	if (!r->stopped && r->fmt->finish)
		r->fmt->finish(r, r->state);
}

/* Ends a line read from a file: `have` bytes kept of `len`. */
static void end_line(struct targets_reader *r, const uint8_t *line, size_t have,
		     uint64_t len)
{
	if (len == have)
		targets_feed_line(r, line, have);
	else
		feed_long_line(r, line, have, len);
}

int targets_read_file(struct targets_reader *r, FILE *f)
{
	/* One byte more than the limit, for a '\r' before the '\n'. */
	const size_t keep_max = TARGETS_LINE_MAX + 1;
	uint8_t *chunk = malloc(TARGETS_READ_CHUNK);
	uint8_t *line = malloc(keep_max);
	size_t have = 0;
	uint64_t len = 0;
	int rc = 0;

	if (!chunk || !line) {
		free(chunk);
		free(line);
		return -ENOMEM;
	}
	errno = 0;
	while (!r->stopped) {
		size_t n = fread(chunk, 1, TARGETS_READ_CHUNK, f), i = 0;

		if (n == 0)
			break;
		while (i < n && !r->stopped) {
			const uint8_t *nl = memchr(chunk + i, '\n', n - i);
			size_t seg = nl ? (size_t)(nl - (chunk + i)) : n - i;
			size_t keep = keep_max - have;

			if (keep > seg)
				keep = seg;
			memcpy(line + have, chunk + i, keep);
			have += keep;
			len += seg;
			i += seg;
			if (nl) {
				end_line(r, line, have, len);
				have = 0;
				len = 0;
				i++;
			}
		}
	}
	if (ferror(f))
		rc = errno ? -errno : -EIO;
	else if (!r->stopped && len > 0)
		end_line(r, line, have, len);
	free(chunk);
	free(line);
	if (rc != 0)
		return rc;
	targets_finish(r);
	return r->stopped ? r->stop_rc : 0;
}

const struct targets_stats *targets_stats(const struct targets_reader *r)
{
	return &r->stats;
}

int targets_stopped(const struct targets_reader *r)
{
	return r->stopped;
}
