/*
 * Plain target lists: one domain a line. '#' starts a comment when it
 * begins the line or follows white space, so "example.com # note" works
 * while "exa#mple.com" is refused rather than silently cut to "exa".
 */
#include <stdbool.h>
#include <string.h>

#include "targets/targets.h"

/* All ASCII white space, so that a line ending converted twice ("\r\r\n")
 * still leaves a blank line blank. */
static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void plain_line(struct targets_reader *r, void *state, uint64_t lineno,
		       const uint8_t *line, size_t len)
{
	size_t start = 0, end = len;

	(void)state;
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '#' && (i == 0 || is_space(line[i - 1]))) {
			end = i;
			break;
		}
	}
	while (start < end && is_space(line[start]))
		start++;
	while (end > start && is_space(line[end - 1]))
		end--;
	if (start == end) {
		targets_skip_line(r);
		return;
	}
	targets_emit(r, lineno, line, len, line + start, end - start, 0);
}

/* Any file can be read as one name per line: plain is the last guess. */
static bool plain_sniff(const uint8_t *head, size_t len)
{
	(void)head;
	(void)len;
	return true;
}

const struct targets_format targets_format_plain = {
	.name = "plain",
	.state_size = 0,
	.init = NULL,
	.line = plain_line,
	.finish = NULL,
	.free = NULL,
	.sniff = plain_sniff,
};
