/*
 * Fuzz target for the MTA-STS policy parser and MX matching
 * (crawler/sts/mtasts.c).
 *
 * The input is a policy body. Every result must keep the output's bounds
 * and be consistent (a valid policy has every required field, every kept
 * pattern is a well-formed pattern that matches itself in any case and
 * with a trailing dot). Line ends must not matter: a body without CR
 * parses the same after every LF became CRLF, apart from the recorded
 * line-end kind.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/sts/mtasts.h"

/* Over the parser's body cap, so that too_large is reached. */
#define FUZZ_INPUT_MAX (MTASTS_POLICY_BODY_MAX + 16)
/* A host for the matcher: at most this much of the input. */
#define FUZZ_HOST_MAX 300

static struct mtasts_policy a, b;
static uint8_t crlf[2 * FUZZ_INPUT_MAX];

static bool pattern_char(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
}

static bool key_char(int c)
{
	return pattern_char(c) || c == '_';
}

static void check(const struct mtasts_policy *p, enum mtasts_policy_rc rc)
{
	if ((unsigned)rc >= MTASTS_POLICY_RC_LAST ||
	    strcmp(mtasts_policy_rc_str(rc), "unknown") == 0)
		abort();
	if ((unsigned)p->mode >= MTASTS_MODE_LAST ||
	    (unsigned)p->eol >= MTASTS_EOL_LAST)
		abort();
	if (p->nmx > MTASTS_MAX_MX || p->nmx > p->mx_total ||
	    p->mx_truncated != (p->mx_total > MTASTS_MAX_MX))
		abort();
	if (p->nunknown > MTASTS_MAX_UNKNOWN_KEYS ||
	    p->nunknown > p->unknown_total)
		abort();
	if (p->error_line > p->nlines || p->ncrlf + p->nlf > p->nlines)
		abort();
	if (p->has_max_age && p->max_age > MTASTS_MAX_AGE_MAX)
		abort();
	/* The served value: a valid one is also the number served, a
	 * number fits in 63 bits, and nothing is kept without a line. */
	if (p->has_max_age &&
	    (!p->max_age_number || p->max_age_served != p->max_age))
		abort();
	if (p->max_age_served > INT64_MAX ||
	    (!p->max_age_number && p->max_age_served != 0) ||
	    p->max_age_text_len > MTASTS_MAX_AGE_TEXT_MAX ||
	    (p->max_age_text_cut &&
	     p->max_age_text_len != MTASTS_MAX_AGE_TEXT_MAX))
		abort();
	if (!p->max_age_seen &&
	    (p->has_max_age || p->max_age_number || p->max_age_text_len))
		abort();
	if (rc == MTASTS_POLICY_OK &&
	    (!p->has_version || p->mode == MTASTS_MODE_UNSET ||
	     !p->has_max_age || p->error_line != 0 ||
	     (p->mode != MTASTS_MODE_NONE && p->nmx == 0) || p->mx_bad))
		abort();
	for (size_t i = 0; i < p->nmx; i++) {
		const char *m = p->mx[i];
		size_t n = strnlen(m, MTASTS_PATTERN_MAX + 2);
		if (n == 0 || n > MTASTS_PATTERN_MAX + 1)
			abort();
		size_t k = (n >= 2 && m[0] == '*' && m[1] == '.') ? 2 : 0;
		for (; k < n; k++)
			if (!pattern_char((unsigned char)m[k]))
				abort();
		/* A pattern matches itself: any case, trailing dot or not.
		 * A wildcard one matches itself with "x" for the "*" when
		 * two labels follow. */
		char host[MTASTS_PATTERN_MAX + 3];
		memcpy(host, m, n + 1);
		bool wild = m[0] == '*';
		if (wild)
			host[0] = 'x';
		bool want = !wild || strchr(m + 2, '.') != NULL;
		if (wild && strchr(m + 2, '.') == m + n - 1)
			want = false; /* "*.com.": one label and the root */
		if (mtasts_mx_match(m, host) != want)
			abort();
		for (size_t j = 0; j < n; j++)
			if (host[j] >= 'a' && host[j] <= 'z')
				host[j] = (char)(host[j] - 'a' + 'A');
		if (host[n - 1] != '.') {
			host[n] = '.';
			host[n + 1] = '\0';
		}
		if (mtasts_mx_match(m, host) != want)
			abort();
		if (want && mtasts_mx_match_any(p, host) < 0)
			abort();
	}
	for (size_t i = 0; i < p->nunknown; i++) {
		const char *k = p->unknown[i];
		size_t n = strnlen(k, MTASTS_KEY_MAX + 1);
		if (n == 0 || n > MTASTS_KEY_MAX)
			abort();
		for (size_t j = 0; j < n; j++)
			if (!key_char((unsigned char)k[j]))
				abort();
		if (!strcmp(k, "version") || !strcmp(k, "mode") ||
		    !strcmp(k, "max_age") || !strcmp(k, "mx"))
			abort();
	}
}

static bool same_fields(const struct mtasts_policy *x,
			const struct mtasts_policy *y)
{
	if (x->nlines != y->nlines || x->error_line != y->error_line ||
	    x->has_version != y->has_version || x->mode != y->mode ||
	    x->has_max_age != y->has_max_age || x->max_age != y->max_age ||
	    x->max_age_seen != y->max_age_seen ||
	    x->max_age_number != y->max_age_number ||
	    x->max_age_served != y->max_age_served ||
	    x->max_age_text_len != y->max_age_text_len ||
	    memcmp(x->max_age_text, y->max_age_text, x->max_age_text_len) ||
	    x->dup_fields != y->dup_fields || x->nmx != y->nmx ||
	    x->mx_total != y->mx_total || x->mx_bad != y->mx_bad ||
	    x->nunknown != y->nunknown || x->unknown_total != y->unknown_total)
		return false;
	for (size_t i = 0; i < x->nmx; i++)
		if (strcmp(x->mx[i], y->mx[i]) != 0)
			return false;
	for (size_t i = 0; i < x->nunknown; i++)
		if (strcmp(x->unknown[i], y->unknown[i]) != 0)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_INPUT_MAX)
		return 0;

	enum mtasts_policy_rc rc = mtasts_policy_parse(data, size, &a);
	check(&a, rc);
	if (rc == MTASTS_POLICY_RC_TOO_LARGE) {
		if (size <= MTASTS_POLICY_BODY_MAX || a.nlines != 0)
			abort();
		return 0;
	}

	/* Any host against the kept patterns: case and one trailing dot
	 * never change the answer. The host is the input up to its first
	 * NUL. */
	char host[FUZZ_HOST_MAX + 2];
	size_t hn = size < FUZZ_HOST_MAX ? size : FUZZ_HOST_MAX;
	memcpy(host, data, hn);
	host[hn] = '\0';
	int m1 = mtasts_mx_match_any(&a, host);
	hn = strlen(host);
	for (size_t j = 0; j < hn; j++)
		if (host[j] >= 'a' && host[j] <= 'z')
			host[j] = (char)(host[j] - 'a' + 'A');
	if (hn == 0 || host[hn - 1] != '.') {
		host[hn] = '.';
		host[hn + 1] = '\0';
	}
	if (mtasts_mx_match_any(&a, host) != m1)
		abort();

	/* LF -> CRLF gives the same policy when there was no CR. */
	if (memchr(data, '\r', size) != NULL)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n')
			crlf[n++] = '\r';
		crlf[n++] = data[i];
	}
	if (n > MTASTS_POLICY_BODY_MAX)
		return 0;
	enum mtasts_policy_rc rc2 = mtasts_policy_parse(crlf, n, &b);
	check(&b, rc2);
	if (rc2 != rc || !same_fields(&a, &b) || b.nlf != 0 || b.ncrlf != a.nlf)
		abort();
	return 0;
}
