/*
 * Tranco lists: "rank,domain" lines (https://tranco-list.eu). The lists
 * have no header, but a CSV saved by other tools often starts with
 * "rank,domain", which is skipped once, at the top. Comment lines ('#')
 * and blank lines are skipped too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "targets/internal.h"
#include "targets/targets.h"

/* The largest rank accepted: ranks are stored as a signed 32-bit value. */
#define TRANCO_RANK_MAX INT32_MAX

struct tranco_state {
	bool seen_data; /* a non-blank, non-comment line was read */
};

/* All ASCII white space, so that a line ending converted twice ("\r\r\n")
 * still leaves a blank line blank. */
static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static const uint8_t *trim(const uint8_t *s, size_t *len)
{
	size_t n = *len;

	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*len = n;
	return s;
}

static bool field_is(const uint8_t *s, size_t len, const char *word)
{
	return len == strlen(word) &&
	       strncasecmp((const char *)s, word, len) == 0;
}

static void tranco_init(void *state, const char *origin)
{
	struct tranco_state *st = state;

	(void)origin;
	st->seen_data = false;
}

static void tranco_line(struct targets_reader *r, void *state, uint64_t lineno,
			const uint8_t *line, size_t len)
{
	struct tranco_state *st = state;
	char ex[TARGETS_EXCERPT_SIZE];
	const uint8_t *t, *rank, *dom, *comma;
	size_t tlen = len, rlen, dlen, commas = 0;
	int64_t value = 0;
	bool first;

	t = trim(line, &tlen);
	if (tlen == 0 || t[0] == '#') {
		targets_skip_line(r);
		return;
	}
	first = !st->seen_data;
	st->seen_data = true;
	for (size_t i = 0; i < tlen; i++)
		commas += t[i] == ',';
	if (commas != 1) {
		targets_reject_line(r, lineno, line, len, TARGETS_BAD_FIELDS,
				    "%zu fields, want 2 (rank,domain)",
				    commas + 1);
		return;
	}
	comma = memchr(t, ',', tlen);
	rlen = (size_t)(comma - t);
	rank = trim(t, &rlen);
	dlen = tlen - (size_t)(comma - t) - 1;
	dom = trim(comma + 1, &dlen);
	if (first && field_is(rank, rlen, "rank") &&
	    field_is(dom, dlen, "domain")) {
		targets_skip_line(r);
		return;
	}

	targets_excerpt(ex, sizeof ex, rank, rlen);
	if (rlen == 0) {
		targets_reject_line(r, lineno, line, len, TARGETS_BAD_RANK,
				    "rank is empty");
		return;
	}
	for (size_t i = 0; i < rlen; i++) {
		if (rank[i] < '0' || rank[i] > '9') {
			targets_reject_line(r, lineno, line, len,
					    TARGETS_BAD_RANK,
					    "rank '%s' is not a positive "
					    "integer",
					    ex);
			return;
		}
		value = value * 10 + (rank[i] - '0');
		if (value > TRANCO_RANK_MAX) {
			targets_reject_line(
			    r, lineno, line, len, TARGETS_BAD_RANK,
			    "rank '%s' is over %d", ex, TRANCO_RANK_MAX);
			return;
		}
	}
	if (value == 0) {
		targets_reject_line(r, lineno, line, len, TARGETS_BAD_RANK,
				    "rank '%s' is zero; ranks start at 1", ex);
		return;
	}
	targets_emit(r, lineno, line, len, dom, dlen, value);
}

/* Data lines (not blank, comment or header) of a file's head that must
 * all look like "rank,domain" for the Tranco format to be chosen. */
#define TRANCO_SNIFF_LINES 3

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Trims spaces and tabs at both ends of s[0..*len), returns the start:
 * the sniffer's trim, narrower than trim() above. */
static const uint8_t *trim_blanks(const uint8_t *s, size_t *len)
{
	size_t n = *len;

	while (n > 0 && is_blank(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	*len = n;
	return s;
}

/* The two fields of "first,second", blanks around each trimmed; false
 * without a comma. */
static bool split_pair(const uint8_t *s, size_t len, const uint8_t **first,
		       size_t *flen, const uint8_t **second, size_t *slen)
{
	const uint8_t *comma = memchr(s, ',', len);

	if (!comma)
		return false;
	*flen = (size_t)(comma - s);
	*first = trim_blanks(s, flen);
	*slen = len - (size_t)(comma - s) - 1;
	*second = trim_blanks(comma + 1, slen);
	return true;
}

/* True for "digits,something" (a Tranco data line), spaces allowed around
 * the fields. */
static bool sniff_looks_like_tranco(const uint8_t *s, size_t len)
{
	size_t rlen, dlen;
	const uint8_t *rank, *dom;

	if (!split_pair(s, len, &rank, &rlen, &dom, &dlen))
		return false;
	if (rlen == 0 || dlen == 0 || memchr(dom, ',', dlen))
		return false;
	for (size_t i = 0; i < rlen; i++)
		if (rank[i] < '0' || rank[i] > '9')
			return false;
	return true;
}

/* True for the header line "rank,domain" (any case). */
static bool sniff_is_header(const uint8_t *s, size_t len)
{
	size_t rlen, dlen;
	const uint8_t *rank, *dom;

	if (!split_pair(s, len, &rank, &rlen, &dom, &dlen))
		return false;
	return rlen == 4 && strncasecmp((const char *)rank, "rank", 4) == 0 &&
	       dlen == 6 && strncasecmp((const char *)dom, "domain", 6) == 0;
}

static bool tranco_sniff(const uint8_t *head, size_t len)
{
	size_t pos = 0, data = 0, tranco = 0, n, tn;
	unsigned count = 0;
	bool header = false;
	const uint8_t *l, *t;

	while (data < TRANCO_SNIFF_LINES &&
	       targets_sniff_next(head, len, &pos, &count, &l, &n)) {
		tn = n;
		t = trim_blanks(l, &tn);
		if (tn == 0 || t[0] == '#' || t[0] == ';')
			continue;
		if (data == 0 && !header && sniff_is_header(t, tn)) {
			header = true;
			continue;
		}
		data++;
		if (sniff_looks_like_tranco(t, tn))
			tranco++;
	}
	return data > 0 && tranco == data;
}

const struct targets_format targets_format_tranco = {
	.name = "tranco",
	.state_size = sizeof(struct tranco_state),
	.init = tranco_init,
	.line = tranco_line,
	.finish = NULL,
	.free = NULL,
	.sniff = tranco_sniff,
};
