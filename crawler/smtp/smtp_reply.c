/*
 * SMTP reply parser: see smtp_reply.h. One byte at a time through a small
 * per-line machine (code digits, separator, text), so that any chunking of
 * the same bytes gives the same result.
 */
#include <string.h>

#include "crawler/smtp/smtp_reply.h"

/* Where the first-token reader of a line is. */
enum kw_state {
	KW_LEAD = 0, /* before the token: spaces are skipped */
	KW_IN,	     /* inside the token */
	KW_DONE,     /* after it: the rest of the line is not looked at */
};

/* Bytes of the code plus the separator: text starts here. */
#define CODE_LEN 3
#define TEXT_OFF 4
/* "****" in a line: what a Cisco PIX/ASA "fixup smtp" leaves of the
 * banner (every byte but the code and spaces is masked). */
#define MASK_RUN 4

static const char *const rc_names[] = {
	[SMTP_REPLY_OK] = "ok",
	[SMTP_REPLY_RC_INCOMPLETE] = "incomplete",
	[SMTP_REPLY_RC_BAD_CODE] = "bad_code",
	[SMTP_REPLY_RC_BAD_SEPARATOR] = "bad_separator",
	[SMTP_REPLY_RC_CODE_MISMATCH] = "code_mismatch",
	[SMTP_REPLY_RC_LINE_TOO_LONG] = "line_too_long",
	[SMTP_REPLY_RC_TOO_MANY_LINES] = "too_many_lines",
	[SMTP_REPLY_RC_REPLY_TOO_LARGE] = "reply_too_large",
};

const char *smtp_reply_rc_str(enum smtp_reply_rc rc)
{
	if ((unsigned)rc >= SMTP_REPLY_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static char upper(uint8_t c)
{
	return (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
}

static void line_start(struct smtp_reply_parser *p)
{
	p->pos = 0;
	p->line_code = 0;
	p->cont = false;
	p->star_run = 0;
	p->kw_state = KW_LEAD;
	p->kw_len = 0;
	p->kw_ok = false;
}

static void reply_start(struct smtp_reply_parser *p)
{
	struct smtp_reply *r = &p->reply;

	/* Field by field: text and keywords are read only up to their
	 * counts, and clearing 5 KiB per reply would be most of the work
	 * for short replies. */
	r->code = 0;
	r->nlines = 0;
	r->nbytes = 0;
	r->overlong = false;
	r->crlf = false;
	r->bare_lf = false;
	r->bare_code = false;
	r->masked = false;
	r->starttls = false;
	r->xxxxxxxa = false;
	r->text_len = 0;
	r->nkeywords = 0;
	r->keywords_dropped = 0;
	p->rc = SMTP_REPLY_RC_INCOMPLETE;
	p->done = false;
	p->pending_cr = false;
	line_start(p);
}

void smtp_reply_init(struct smtp_reply_parser *p)
{
	reply_start(p);
}

/* The first token of a line, read as an ehlo-keyword:
 * (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), RFC 5321 §4.1.1.1. */
static void keyword_byte(struct smtp_reply_parser *p, uint8_t c)
{
	switch (p->kw_state) {
	case KW_LEAD:
		if (c == ' ' || c == '\t')
			return;
		p->kw_state = KW_IN;
		p->kw_ok = is_alnum(c);
		break;
	case KW_IN:
		if (c <= ' ') {
			p->kw_state = KW_DONE;
			return;
		}
		if (!is_alnum(c) && c != '-')
			p->kw_ok = false;
		break;
	default:
		return;
	}
	if (p->kw_len < SMTP_REPLY_KEYWORD_MAX)
		p->kw[p->kw_len] = upper(c);
	p->kw_len++;
}

static void keyword_end(struct smtp_reply_parser *p)
{
	struct smtp_reply *r = &p->reply;

	if (p->kw_state == KW_LEAD || !p->kw_ok ||
	    p->kw_len > SMTP_REPLY_KEYWORD_MAX)
		return;
	p->kw[p->kw_len] = '\0';
	if (strcmp(p->kw, "STARTTLS") == 0)
		r->starttls = true;
	else if (strcmp(p->kw, "XXXXXXXA") == 0)
		r->xxxxxxxa = true;
	if (r->nkeywords < SMTP_REPLY_KEYWORDS_MAX)
		memcpy(r->keywords[r->nkeywords++], p->kw, p->kw_len + 1);
	else
		r->keywords_dropped++;
}

/* A byte of the current line that is not its line end. */
static enum smtp_reply_rc content_byte(struct smtp_reply_parser *p, uint8_t c)
{
	struct smtp_reply *r = &p->reply;

	if (p->pos < CODE_LEN) {
		/* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39; the
		 * second digit is taken loosely, the first says what the
		 * reply means and must be one SMTP defines. */
		if (c < '0' || c > '9' || (p->pos == 0 && (c < '2' || c > '5')))
			return SMTP_REPLY_RC_BAD_CODE;
		p->line_code = p->line_code * 10 + (c - '0');
		if (p->pos == CODE_LEN - 1) {
			if (r->nlines == 0)
				r->code = p->line_code;
			else if (p->line_code != r->code)
				return SMTP_REPLY_RC_CODE_MISMATCH;
		}
	} else if (p->pos == CODE_LEN) {
		if (c == '-')
			p->cont = true;
		else if (c != ' ')
			return SMTP_REPLY_RC_BAD_SEPARATOR;
	} else {
		if (r->nlines == 0 && r->text_len < SMTP_REPLY_TEXT_MAX)
			r->text[r->text_len++] = c;
		if (c == '*') {
			if (++p->star_run >= MASK_RUN)
				r->masked = true;
		} else {
			p->star_run = 0;
		}
		keyword_byte(p, c);
	}
	p->pos++;
	if (p->pos > SMTP_REPLY_LINE_HARD_MAX)
		return SMTP_REPLY_RC_LINE_TOO_LONG;
	/* RFC 5321 §4.5.3.1.5 counts the CRLF in a reply line's length. */
	if (p->pos + 2 > SMTP_REPLY_LINE_MAX)
		r->overlong = true;
	return SMTP_REPLY_RC_INCOMPLETE;
}

/* The current line ended; SMTP_REPLY_OK when it was the reply's last. */
static enum smtp_reply_rc line_end(struct smtp_reply_parser *p, bool crlf)
{
	struct smtp_reply *r = &p->reply;

	if (p->pos < CODE_LEN)
		return SMTP_REPLY_RC_BAD_CODE;
	if (p->pos == CODE_LEN)
		r->bare_code = true;
	if (crlf)
		r->crlf = true;
	else
		r->bare_lf = true;
	keyword_end(p);
	r->nlines++;
	if (!p->cont)
		return SMTP_REPLY_OK;
	if (r->nlines >= SMTP_REPLY_LINES_MAX)
		return SMTP_REPLY_RC_TOO_MANY_LINES;
	line_start(p);
	return SMTP_REPLY_RC_INCOMPLETE;
}

static enum smtp_reply_rc next_byte(struct smtp_reply_parser *p, uint8_t c)
{
	enum smtp_reply_rc rc;

	if (p->pending_cr) {
		p->pending_cr = false;
		if (c == '\n')
			return line_end(p, true);
		/* A CR not followed by LF is text (or a bad code byte). */
		rc = content_byte(p, '\r');
		if (rc != SMTP_REPLY_RC_INCOMPLETE)
			return rc;
	}
	if (c == '\n')
		return line_end(p, false);
	if (c == '\r') {
		p->pending_cr = true;
		return SMTP_REPLY_RC_INCOMPLETE;
	}
	return content_byte(p, c);
}

enum smtp_reply_rc smtp_reply_feed(struct smtp_reply_parser *p,
				   const uint8_t *buf, size_t len, size_t *used)
{
	*used = 0;
	if (p->done)
		reply_start(p);
	if (p->rc != SMTP_REPLY_RC_INCOMPLETE)
		return p->rc;
	for (size_t i = 0; i < len; i++) {
		enum smtp_reply_rc rc;

		if (++p->reply.nbytes > SMTP_REPLY_BYTES_MAX)
			rc = SMTP_REPLY_RC_REPLY_TOO_LARGE;
		else
			rc = next_byte(p, buf[i]);
		if (rc == SMTP_REPLY_RC_INCOMPLETE)
			continue;
		*used = i + 1;
		p->rc = rc;
		p->done = rc == SMTP_REPLY_OK;
		return rc;
	}
	*used = len;
	return SMTP_REPLY_RC_INCOMPLETE;
}

enum smtp_reply_rc smtp_reply_parse(const uint8_t *buf, size_t len,
				    struct smtp_reply *out, size_t *used)
{
	struct smtp_reply_parser p;
	enum smtp_reply_rc rc;

	smtp_reply_init(&p);
	rc = smtp_reply_feed(&p, buf, len, used);
	*out = p.reply;
	return rc;
}

bool smtp_reply_has_keyword(const struct smtp_reply *r, const char *kw)
{
	for (size_t i = 0; i < r->nkeywords; i++)
		if (strcmp(r->keywords[i], kw) == 0)
			return true;
	return false;
}
