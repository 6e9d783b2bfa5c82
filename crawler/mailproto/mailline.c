/* Line reader of the text mail protocols: see mailline.h. */
#include <stddef.h>
#include <string.h>

#include "crawler/mailproto/mailline.h"

static const char *const rc_names[] = {
	[MAIL_LINE_OK] = "ok",
	[MAIL_LINE_RC_INCOMPLETE] = "incomplete",
	[MAIL_LINE_RC_TOO_LONG] = "line_too_long",
	[MAIL_LINE_RC_LITERAL_TOO_LARGE] = "literal_too_large",
};

const char *mail_line_rc_str(enum mail_line_rc rc)
{
	if ((unsigned)rc >= MAIL_LINE_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

void mail_line_init(struct mail_line_reader *r, bool literals)
{
	memset(r, 0, offsetof(struct mail_line_reader, line));
	r->rc = MAIL_LINE_RC_INCOMPLETE;
	r->literals = literals;
}

static void line_reset(struct mail_line_reader *r)
{
	r->done = false;
	r->pending_cr = false;
	r->bare_lf = false;
	r->literal_left = 0;
	r->nliterals = 0;
	r->seg_start = 0;
	r->raw = 0;
	r->len = 0;
}

bool mail_line_idle(const struct mail_line_reader *r)
{
	return r->done || (r->raw == 0 && r->rc == MAIL_LINE_RC_INCOMPLETE);
}

/*
 * The length of a literal announced at the end of the text since the
 * last literal: "{digits}" or "{digits+}" (RFC 7888's non-synchronising
 * form). Returns 1 and sets *n, 0 when the text does not end so, or -1
 * for a length over MAIL_LITERAL_MAX.
 */
static int literal_at_end(const struct mail_line_reader *r, size_t *n)
{
	size_t end = r->len, i;
	size_t v = 0, digits = 0;

	if (end - r->seg_start < 3 || r->line[end - 1] != '}')
		return 0;
	end--;
	if (r->line[end - 1] == '+')
		end--;
	for (i = end;
	     i > r->seg_start && r->line[i - 1] >= '0' && r->line[i - 1] <= '9';
	     i--)
		digits++;
	if (digits == 0 || i == r->seg_start || r->line[i - 1] != '{')
		return 0;
	if (digits > MAIL_LITERAL_DIGITS_MAX)
		return -1;
	for (; i < end; i++)
		v = v * 10 + (size_t)(r->line[i] - '0');
	if (v > MAIL_LITERAL_MAX)
		return -1;
	*n = v;
	return 1;
}

enum mail_line_rc mail_line_feed(struct mail_line_reader *r, const uint8_t *buf,
				 size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (r->rc != MAIL_LINE_OK && r->rc != MAIL_LINE_RC_INCOMPLETE)
		return r->rc;
	if (r->done)
		line_reset(r);
	r->rc = MAIL_LINE_RC_INCOMPLETE;
	while (i < len) {
		uint8_t c = buf[i++];

		r->raw++;
		if (r->literal_left > 0) {
			/* Skipped whole: a literal may hold CRLF. */
			r->literal_left--;
			continue;
		}
		if (c == '\n') {
			bool bare = !r->pending_cr;
			size_t n = 0;
			int lit;

			if (r->pending_cr)
				r->len--;
			r->pending_cr = false;
			lit = r->literals ? literal_at_end(r, &n) : 0;
			if (lit < 0 ||
			    (lit > 0 && r->nliterals == MAIL_LITERALS_MAX)) {
				r->rc = MAIL_LINE_RC_LITERAL_TOO_LARGE;
				break;
			}
			if (lit > 0) {
				r->nliterals++;
				r->literal_left = n;
				r->seg_start = r->len;
				continue;
			}
			r->bare_lf = bare;
			r->done = true;
			r->rc = MAIL_LINE_OK;
			break;
		}
		if (r->len == MAIL_LINE_MAX) {
			r->rc = MAIL_LINE_RC_TOO_LONG;
			break;
		}
		r->line[r->len++] = c;
		r->pending_cr = c == '\r';
	}
	*used = i;
	return r->rc;
}
