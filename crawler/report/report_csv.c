/*
 * The CSV renderer (RFC 4180): one line per row of every figure, and one
 * line with empty scope and label for a figure without rows, so that every
 * figure is listed. Rows of an across figure (section 'change') have no
 * cmp_ numbers and no delta: they are the pair's own.
 *
 * With --history the header has one more column, `part`: "report" for
 * the lines above, "history" for a headline figure's rows in each
 * campaign of the history (campaign_id that campaign, compare_id and the
 * cmp_ columns empty), after the figure's own lines. Without --history
 * the columns are what they always were.
 *
 * When the campaign has ranks, the header has `part` and two more
 * columns, `rank_bucket` (the bound N of "rank <= N") and
 * `bucket_targets` (the ranked targets in that bucket), empty on every
 * line but the rank buckets' own: part "rank_bucket", one line per domain
 * row of a headline figure in each bucket, bucket by bucket, after the
 * figures and before how_measured. Without ranks the columns are what
 * they were (there is no bucket to show).
 */
#include "crawler/report/report.h"

/* A text field, always quoted, quotes doubled; NULL is an empty field. */
static void field(FILE *out, const char *s)
{
	if (!s)
		return;
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void number(FILE *out, const char *s)
{
	if (s)
		fputs(s, out);
}

static int csv_begin(struct report_render_state *st, const struct report *r)
{
	fputs("campaign_id,compare_id,section,figure,kind,scope,label,"
	      "numerator,denominator,percent,cmp_numerator,cmp_denominator,"
	      "cmp_percent,delta",
	      st->out);
	if (r->nbuckets > 0)
		fputs(",part,rank_bucket,bucket_targets\r\n", st->out);
	else
		fputs(r->has_history ? ",part\r\n" : "\r\n", st->out);
	return 0;
}

/* The columns after delta: part, and the bucket's, if there are any. */
static void tail(FILE *out, const struct report *r, const char *part,
		 const struct report_bucket *b)
{
	if (r->nbuckets > 0 || r->has_history)
		fprintf(out, ",\"%s\"", part);
	if (r->nbuckets > 0 && b)
		fprintf(out, ",%ld,%s", b->bound, b->targets);
	else if (r->nbuckets > 0)
		fputs(",,", out);
	fputs("\r\n", out);
}

static int csv_section(struct report_render_state *st, const struct report *r,
		       const struct report_figure *f)
{
	(void)st, (void)r, (void)f;
	return 0;
}

/* The columns section, figure, kind, scope and label of a row. */
static void figure_fields(FILE *out, const struct report_figure *f,
			  const char *scope, const char *label)
{
	field(out, f->section);
	fputc(',', out);
	field(out, f->name);
	fputc(',', out);
	field(out, f->kind);
	fputc(',', out);
	field(out, scope);
	fputc(',', out);
	field(out, label);
}

static void line(FILE *out, const struct report *r,
		 const struct report_figure *f, const struct report_row *w,
		 const struct report_bucket *b)
{
	fprintf(out, "%lld,", (long long)r->campaign.id);
	if (r->has_compare)
		fprintf(out, "%lld", (long long)r->compare.id);
	fputc(',', out);
	figure_fields(out, f, w ? w->scope : NULL, w ? w->label : NULL);
	const char *nums[] = {
		w ? w->numerator : NULL,       w ? w->denominator : NULL,
		w ? w->percent : NULL,	       w ? w->cmp_numerator : NULL,
		w ? w->cmp_denominator : NULL, w ? w->cmp_percent : NULL,
		w ? w->delta : NULL,
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		fputc(',', out);
		number(out, nums[i]);
	}
	tail(out, r, b ? "rank_bucket" : "report", b);
}

static void history_line(FILE *out, const struct report *r,
			 const struct report_figure *f,
			 const struct report_hist_row *w)
{
	fprintf(out, "%lld,,", (long long)r->history[w->campaign].id);
	figure_fields(out, f, w->scope, w->label);
	fprintf(out, ",%s,%s,", w->numerator, w->denominator);
	number(out, w->percent);
	fputs(",,,,", out);
	tail(out, r, "history", NULL);
}

static int csv_figure(struct report_render_state *st, const struct report *r,
		      const struct report_figure *f)
{
	if (f->not_measured) {
		/* No numbers at all, not zeros: the label says why. */
		struct report_row w = { .scope = "",
					.label = REPORT_NOT_MEASURED };
		line(st->out, r, f, &w, NULL);
		return 0;
	}
	if (f->nrows == 0)
		line(st->out, r, f, NULL, NULL);
	for (size_t i = 0; i < f->nrows; i++)
		line(st->out, r, f, &f->rows[i], NULL);
	for (size_t i = 0; r->has_history && i < f->nhist; i++)
		history_line(st->out, r, f, &f->hist[i]);
	return 0;
}

/* "How this was measured", in the same columns: section how_measured,
 * figure "run N", kind provenance, scope the fact, label its value; the
 * first line says whether DNSSEC was validated. */
static void prov_line(FILE *out, const struct report *r, const char *fig,
		      const char *key, const char *value)
{
	fprintf(out, "%lld,", (long long)r->campaign.id);
	if (r->has_compare)
		fprintf(out, "%lld", (long long)r->compare.id);
	fputs(",\"how_measured\",", out);
	field(out, fig);
	fputs(",\"provenance\",", out);
	field(out, key);
	fputc(',', out);
	field(out, value);
	fputs(",,,,,,,", out);
	tail(out, r, "report", NULL);
}

static int csv_end(struct report_render_state *st, const struct report *r)
{
	char run[32];

	for (size_t i = 0; i < r->nbuckets; i++)
		for (size_t k = 0; k < r->buckets[i].nrows; k++)
			line(st->out, r, r->buckets[i].rows[k].figure,
			     &r->buckets[i].rows[k].row, &r->buckets[i]);

	prov_line(st->out, r, "campaign", "dnssec_validated",
		  r->campaign.dnssec_validated > 0    ? "true"
		  : r->campaign.dnssec_validated == 0 ? "false"
						      : "");
	for (size_t i = 0; i < r->nprov; i++) {
		snprintf(run, sizeof run, "run %s", r->prov[i].run);
		prov_line(st->out, r, run, r->prov[i].key, r->prov[i].value);
	}
	return 0;
}

const struct report_renderer report_render_csv = {
	.name = "csv",
	.begin = csv_begin,
	.section = csv_section,
	.figure = csv_figure,
	.end = csv_end,
};
