/* The text renderer: tables for a terminal, definitions wrapped. */
#include <stdbool.h>
#include <string.h>

#include "crawler/report/report.h"

/* Width the definitions are wrapped to. */
#define TEXT_WRAP 78

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/* Writes s wrapped at TEXT_WRAP columns, each line after `indent` spaces. */
static void wrap(FILE *out, const char *s, int indent)
{
	while (*s) {
		while (*s == ' ')
			s++;
		size_t n = strlen(s), room = (size_t)(TEXT_WRAP - indent);
		if (n > room) {
			size_t cut = room;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			n = cut ? cut : room;
		}
		fprintf(out, "%*s%.*s\n", indent, "", (int)n, s);
		s += n;
	}
}

static void campaign_line(FILE *out, const char *what,
			  const struct report_campaign *c)
{
	fprintf(out, "%s: '%s' (id %lld), created %s, %s targets, %s,\n", what,
		or_dash(c->name), (long long)c->id, or_dash(c->created),
		or_dash(c->targets), or_dash(c->state));
	fprintf(out, "  vantage %s, mxcrawl %s\n", or_dash(c->vantage),
		or_dash(c->tool_version));
}

/* A box of '!' around the banner, so no reader misses it. */
static void banner(FILE *out, const char *s)
{
	fputs("\n", out);
	for (int i = 0; i < TEXT_WRAP; i++)
		fputc('!', out);
	fputc('\n', out);
	wrap(out, s, 2);
	for (int i = 0; i < TEXT_WRAP; i++)
		fputc('!', out);
	fputc('\n', out);
}

static int text_begin(struct report_render_state *st, const struct report *r)
{
	fputs("mxcrawl report\n", st->out);
	if (report_unvalidated(r))
		banner(st->out, report_unvalidated_banner);
	campaign_line(st->out, "campaign", &r->campaign);
	if (r->has_compare) {
		campaign_line(st->out, "compared with", &r->compare);
		if (r->compare.dnssec_validated == 0)
			wrap(
			    st->out,
			    "The compared campaign did not validate DNSSEC: its "
			    "numbers of DNSSEC- and DANE-dependent figures are "
			    "not measured.",
			    2);
	}
	if (r->has_history) {
		fprintf(st->out,
			"history: %zu done campaign(s) named like '%s' (the "
			"newest %d at most), oldest first:\n",
			r->nhistory, r->history_pattern, r->history_max);
		for (size_t i = 0; i < r->nhistory; i++)
			fprintf(st->out, "  [%zu] '%s' (id %lld), created %s\n",
				i + 1, or_dash(r->history[i].name),
				(long long)r->history[i].id,
				or_dash(r->history[i].created));
	}
	return 0;
}

static int text_section(struct report_render_state *st, const struct report *r,
			const struct report_figure *f)
{
	(void)r;
	size_t n = strlen(f->section_title);
	fprintf(st->out, "\n%s\n", f->section_title);
	for (size_t i = 0; i < n; i++)
		fputc('=', st->out);
	fputc('\n', st->out);
	return 0;
}

static int width(int w, const char *s)
{
	int n = s ? (int)strlen(s) : 1;
	return n > w ? n : w;
}

/* A headline figure's history: a line per row, a column per campaign
 * (numbered as in the header), percents. */
static void history_table(FILE *out, const struct report *r,
			  const struct report_figure *f)
{
	int ws = 5, wl = 5;
	for (size_t k = 0; k < f->nhist; k++) {
		ws = width(ws, f->hist[k].scope);
		wl = width(wl, f->hist[k].label);
	}
	fprintf(out, "\n  history, %% per campaign (oldest first):\n");
	fprintf(out, "  %-*s  %-*s ", ws, "scope", wl, "label");
	for (size_t i = 0; i < r->nhistory; i++) {
		char h[24];
		snprintf(h, sizeof h, "[%zu]", i + 1);
		fprintf(out, " %6s", h);
	}
	fputc('\n', out);
	for (size_t k = 0; k < f->nhist; k++) {
		const struct report_hist_row *w = &f->hist[k];
		if (!report_hist_first(f, k))
			continue;
		fprintf(out, "  %-*s  %-*s ", ws, w->scope, wl, w->label);
		for (size_t i = 0; i < r->nhistory; i++)
			fprintf(out, " %6s",
				or_dash(report_hist_percent(f, i, w->scope,
							    w->label)));
		fputc('\n', out);
	}
}

static int text_figure(struct report_render_state *st, const struct report *r,
		       const struct report_figure *f)
{
	FILE *out = st->out;
	bool cmp = report_figure_compared(r, f);
	int ws = 5, wl = 5, wn = 5, wd = 2, wp = 5, wcn = 5, wcd = 2, wcp = 5,
	    wdl = 5;

	fprintf(out, "\n%s  [%s, %s]\n", f->title, f->name, f->kind);
	wrap(out, f->definition, 2);
	if (f->not_measured) {
		fputs("  " REPORT_NOT_MEASURED ": DNSSEC was not validated in "
		      "this campaign (see \"How this was measured\").\n",
		      out);
		return 0;
	}
	if (f->cmp_not_measured)
		fputs("  the compared campaign: " REPORT_NOT_MEASURED
		      " (DNSSEC not validated).\n",
		      out);
	if (f->nrows == 0) {
		fputs("  (nothing to count)\n", out);
		if (r->has_history && f->headline && f->nhist)
			history_table(out, r, f);
		return 0;
	}
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *w = &f->rows[i];
		ws = width(ws, w->scope);
		wl = width(wl, w->label);
		wn = width(wn, w->numerator);
		wd = width(wd, w->denominator);
		wp = width(wp, w->percent);
		wcn = width(wcn, w->cmp_numerator);
		wcd = width(wcd, w->cmp_denominator);
		wcp = width(wcp, w->cmp_percent);
		wdl = width(wdl, w->delta);
	}
	fprintf(out, "\n  %-*s  %-*s  %*s %*s %*s", ws, "scope", wl, "label",
		wn, "count", wd, "of", wp, "%");
	if (cmp)
		fprintf(out, "  | %*s %*s %*s %*s", wcn, "other", wcd, "of",
			wcp, "%", wdl, "delta");
	fputc('\n', out);
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *w = &f->rows[i];
		fprintf(out, "  %-*s  %-*s  %*s %*s %*s", ws, w->scope, wl,
			w->label, wn, w->numerator, wd, w->denominator, wp,
			or_dash(w->percent));
		if (cmp)
			fprintf(out, "  | %*s %*s %*s %*s", wcn,
				or_dash(w->cmp_numerator), wcd,
				or_dash(w->cmp_denominator), wcp,
				or_dash(w->cmp_percent), wdl,
				or_dash(w->delta));
		fputc('\n', out);
	}
	if (r->has_history && f->headline)
		history_table(out, r, f);
	return 0;
}

/* "How this was measured": every run's provenance, a line a fact. */
static void how_measured(FILE *out, const struct report *r)
{
	static const char title[] = "How this was measured";

	fprintf(out, "\n%s\n", title);
	for (size_t i = 0; i < sizeof title - 1; i++)
		fputc('=', out);
	fputc('\n', out);
	fprintf(out, "DNSSEC: %s\n",
		r->campaign.dnssec_validated > 0    ? "validated"
		: r->campaign.dnssec_validated == 0 ? "NOT VALIDATED"
						    : "nothing scanned yet");
	if (r->nprov == 0)
		fputs("(no run recorded: the campaign is older than "
		      "provenance records)\n",
		      out);
	for (size_t i = 0; i < r->nprov; i++) {
		const struct report_prov_line *p = &r->prov[i];
		if (i == 0 || strcmp(p->run, r->prov[i - 1].run) != 0)
			fprintf(out, "run %s:\n", p->run);
		fprintf(out, "  %s: %s\n", p->key, p->value);
	}
}

/* The rank buckets: a table per bucket, a line per row of a headline
 * figure's domain rows, named by the figure. */
static void buckets(FILE *out, const struct report *r)
{
	char buf[512];
	bool cmp = r->has_compare;

	fprintf(out, "\n%s\n", report_buckets_title);
	for (size_t i = 0; i < strlen(report_buckets_title); i++)
		fputc('=', out);
	fputc('\n', out);
	if (r->ranked == 0) {
		fprintf(out, "(%s)\n", report_no_ranks);
		return;
	}
	report_buckets_intro(r, buf, sizeof buf);
	wrap(out, buf, 0);
	for (size_t i = 0; i < r->nbuckets; i++) {
		const struct report_bucket *b = &r->buckets[i];
		int wf = 6, wl = 5, wn = 5, wd = 2, wp = 5;
		for (size_t k = 0; k < b->nrows; k++) {
			const struct report_row *w = &b->rows[k].row;
			wf = width(wf, b->rows[k].figure->name);
			wl = width(wl, w->label);
			wn = width(wn, w->numerator);
			wd = width(wd, w->denominator);
			wp = width(wp, w->percent);
		}
		report_bucket_heading(r, b, buf, sizeof buf);
		fprintf(out, "\n%s\n", buf);
		fprintf(out, "  %-*s  %-*s  %*s %*s %*s", wf, "figure", wl,
			"label", wn, "count", wd, "of", wp, "%");
		if (cmp)
			fputs("  |  other     of      %  delta", out);
		fputc('\n', out);
		for (size_t k = 0; k < b->nrows; k++) {
			const struct report_row *w = &b->rows[k].row;
			fprintf(out, "  %-*s  %-*s  %*s %*s %*s", wf,
				b->rows[k].figure->name, wl, w->label, wn,
				w->numerator, wd, w->denominator, wp,
				or_dash(w->percent));
			if (cmp)
				fprintf(out, "  | %6s %6s %6s %6s",
					or_dash(w->cmp_numerator),
					or_dash(w->cmp_denominator),
					or_dash(w->cmp_percent),
					or_dash(w->delta));
			fputc('\n', out);
		}
	}
}

static int text_end(struct report_render_state *st, const struct report *r)
{
	buckets(st->out, r);
	how_measured(st->out, r);
	char buf[128];
	report_closing_line(r, buf, sizeof buf);
	fprintf(st->out, "\n%s\n", buf);
	return 0;
}

const struct report_renderer report_render_text = {
	.name = "text",
	.begin = text_begin,
	.section = text_section,
	.figure = text_figure,
	.end = text_end,
};
