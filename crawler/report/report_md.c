/* The Markdown renderer: a heading per section and figure, a table each. */
#include <stdbool.h>
#include <string.h>

#include "crawler/report/report.h"

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/* Table cell text: '|' escaped, line breaks as spaces. */
static void cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

static void campaign(FILE *out, const char *what,
		     const struct report_campaign *c)
{
	fprintf(out, "- %s: **", what);
	cell(out, or_dash(c->name));
	fprintf(out, "** (id %lld), created %s, %s targets, %s, vantage ",
		(long long)c->id, or_dash(c->created), or_dash(c->targets),
		or_dash(c->state));
	cell(out, or_dash(c->vantage));
	fputs(", mxcrawl ", out);
	cell(out, or_dash(c->tool_version));
	fputc('\n', out);
}

static int md_begin(struct report_render_state *st, const struct report *r)
{
	fputs("# mxcrawl report\n\n", st->out);
	if (report_unvalidated(r)) {
		fputs("> **", st->out);
		cell(st->out, report_unvalidated_banner);
		fputs("**\n\n", st->out);
	}
	campaign(st->out, "campaign", &r->campaign);
	if (r->has_compare) {
		campaign(st->out, "compared with", &r->compare);
		if (r->compare.dnssec_validated == 0)
			fputs(
			    "  - the compared campaign did not validate "
			    "DNSSEC: its DNSSEC and DANE numbers are " REPORT_NOT_MEASURED
			    ".\n",
			    st->out);
	}
	if (r->has_history) {
		fprintf(st->out, "- history: %zu done campaign(s) named like `",
			r->nhistory);
		cell(st->out, r->history_pattern);
		fprintf(st->out, "` (the newest %d at most), oldest first:\n",
			r->history_max);
		for (size_t i = 0; i < r->nhistory; i++) {
			fprintf(st->out, "  %zu. **", i + 1);
			cell(st->out, or_dash(r->history[i].name));
			fprintf(st->out, "** (id %lld), created %s\n",
				(long long)r->history[i].id,
				or_dash(r->history[i].created));
		}
	}
	return 0;
}

static int md_section(struct report_render_state *st, const struct report *r,
		      const struct report_figure *f)
{
	(void)r;
	fprintf(st->out, "\n## %s\n", f->section_title);
	return 0;
}

/* A headline figure's history: a row per line, a column per campaign
 * (numbered as in the header), percents. */
static void history_table(FILE *out, const struct report *r,
			  const struct report_figure *f)
{
	fputs("\nHistory, % per campaign (oldest first):\n\n| scope | label |",
	      out);
	for (size_t i = 0; i < r->nhistory; i++)
		fprintf(out, " [%zu] |", i + 1);
	fputs("\n|---|---|", out);
	for (size_t i = 0; i < r->nhistory; i++)
		fputs("--:|", out);
	fputc('\n', out);
	for (size_t k = 0; k < f->nhist; k++) {
		const struct report_hist_row *w = &f->hist[k];
		if (!report_hist_first(f, k))
			continue;
		fputs("| ", out);
		cell(out, w->scope);
		fputs(" | ", out);
		cell(out, w->label);
		fputs(" |", out);
		for (size_t i = 0; i < r->nhistory; i++)
			fprintf(out, " %s |",
				or_dash(report_hist_percent(f, i, w->scope,
							    w->label)));
		fputc('\n', out);
	}
}

/* The head of a table of figure rows whose first column is first. */
static void table_head(FILE *out, const char *first, bool cmp)
{
	fprintf(out, "| %s | label | count | of | %% |", first);
	if (cmp)
		fputs(" other | of | % | delta |", out);
	fputs("\n|---|---|--:|--:|--:|", out);
	if (cmp)
		fputs("--:|--:|--:|--:|", out);
	fputc('\n', out);
}

/* The rest of a row after its label: the counts, with cmp the compared
 * campaign's and the delta. */
static void row_numbers(FILE *out, const struct report_row *w, bool cmp)
{
	fprintf(out, " | %s | %s | %s |", w->numerator, w->denominator,
		or_dash(w->percent));
	if (cmp)
		fprintf(out, " %s | %s | %s | %s |", or_dash(w->cmp_numerator),
			or_dash(w->cmp_denominator), or_dash(w->cmp_percent),
			or_dash(w->delta));
	fputc('\n', out);
}

static int md_figure(struct report_render_state *st, const struct report *r,
		     const struct report_figure *f)
{
	FILE *out = st->out;
	bool cmp = report_figure_compared(r, f);

	fprintf(out, "\n### %s (`%s`)\n\n", f->title, f->name);
	cell(out, f->definition);
	fputs("\n\n", out);
	if (f->not_measured) {
		fputs("**" REPORT_NOT_MEASURED "**: DNSSEC was not validated "
		      "in this campaign (see _How this was measured_).\n",
		      out);
		return 0;
	}
	if (f->cmp_not_measured)
		fputs("The compared campaign: **" REPORT_NOT_MEASURED
		      "** (DNSSEC not validated).\n\n",
		      out);
	if (f->nrows == 0) {
		fputs("_Nothing to count._\n", out);
		if (r->has_history && f->headline && f->nhist)
			history_table(out, r, f);
		return 0;
	}
	table_head(out, "scope", cmp);
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *w = &f->rows[i];
		fputs("| ", out);
		cell(out, w->scope);
		fputs(" | ", out);
		cell(out, w->label);
		row_numbers(out, w, cmp);
	}
	if (r->has_history && f->headline)
		history_table(out, r, f);
	return 0;
}

/* "How this was measured": every run's provenance, a list each (not a
 * table: tables are figures' rows). */
static void how_measured(FILE *out, const struct report *r)
{
	fputs("\n## How this was measured\n\n", out);
	fprintf(out, "DNSSEC: **%s**\n",
		r->campaign.dnssec_validated > 0    ? "validated"
		: r->campaign.dnssec_validated == 0 ? "NOT VALIDATED"
						    : "nothing scanned yet");
	if (r->nprov == 0)
		fputs("\n_No run recorded: the campaign is older than "
		      "provenance records._\n",
		      out);
	for (size_t i = 0; i < r->nprov; i++) {
		const struct report_prov_line *p = &r->prov[i];
		if (i == 0 || strcmp(p->run, r->prov[i - 1].run) != 0)
			fprintf(out, "\nRun %s:\n\n", p->run);
		fputs("- `", out);
		for (const char *k = p->key; *k; k++)
			if (*k != '`')
				fputc(*k, out);
		fputs("`: ", out);
		cell(out, p->value);
		fputc('\n', out);
	}
}

/* The rank buckets: a table per bucket, headed "#### top 1k: ...", its
 * rows the domain rows of every headline figure. */
static void buckets(FILE *out, const struct report *r)
{
	char buf[512];
	bool cmp = r->has_compare;

	fprintf(out, "\n## %s\n\n", report_buckets_title);
	if (r->ranked == 0) {
		fprintf(out, "_%s._\n", report_no_ranks);
		return;
	}
	report_buckets_intro(r, buf, sizeof buf);
	cell(out, buf);
	fputc('\n', out);
	for (size_t i = 0; i < r->nbuckets; i++) {
		const struct report_bucket *b = &r->buckets[i];
		report_bucket_heading(r, b, buf, sizeof buf);
		fputs("\n#### ", out);
		cell(out, buf);
		fputs("\n\n", out);
		table_head(out, "figure", cmp);
		for (size_t k = 0; k < b->nrows; k++) {
			const struct report_row *w = &b->rows[k].row;
			fprintf(out, "| `%s` | ", b->rows[k].figure->name);
			cell(out, w->label);
			row_numbers(out, w, cmp);
		}
	}
}

static int md_end(struct report_render_state *st, const struct report *r)
{
	buckets(st->out, r);
	how_measured(st->out, r);
	char buf[128];
	report_closing_line(r, buf, sizeof buf);
	fprintf(st->out, "\n%s\n", buf);
	return 0;
}

const struct report_renderer report_render_md = {
	.name = "md",
	.begin = md_begin,
	.section = md_section,
	.figure = md_figure,
	.end = md_end,
};
