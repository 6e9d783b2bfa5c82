/*
 * The JSON renderer: one document, {"campaign", "compare", "history",
 * "figures": [one object per figure with its definition and rows]}; each
 * row has numerator, denominator and percent (numbers, percent null for
 * an empty denominator) and, with --compare, "compare": the other
 * campaign's and the delta. A figure has "headline" and "across" (true:
 * it follows units from the compared campaign into this one, section
 * 'change'; its rows are the pair's own and have no "compare").
 *
 * With --history, the top-level "history" is {"pattern", "max",
 * "campaigns": [campaign objects, oldest first]} (else null), and every
 * headline figure has "history": [{"campaign": id, "rows": [{scope,
 * label, numerator, denominator, percent}]}] with one entry per campaign
 * of the history, in that order.
 *
 * "rank_buckets" (after the figures): {"ranked": targets with a rank,
 * "unranked": targets without one (in no bucket), "status": null, or
 * "no ranks in the target list" (then "buckets" is empty), "buckets":
 * [{"bound": N (rank <= N), "label": "top 1k", "targets": ranked targets
 * in it, "whole": it holds every target of the campaign, and with
 * --compare "compare_targets" (null: the compared campaign has no
 * ranks), "rows": [{"figure", "scope", "label", "numerator",
 * "denominator", "percent"[, "compare": {...} as a figure's row]}]}]}:
 * the domain rows of every headline figure in each bucket.
 */
#include "crawler/report/report.h"

static void campaign(FILE *out, const struct report_campaign *c)
{
	fprintf(out, "{\"id\": %lld, \"name\": ", (long long)c->id);
	report_put_json_string(out, c->name ? c->name : "");
	fputs(", \"created\": ", out);
	report_put_json_string(out, c->created ? c->created : "");
	fputs(", \"state\": ", out);
	report_put_json_string(out, c->state ? c->state : "");
	fputs(", \"targets\": ", out);
	report_put_json_number(out, c->targets);
	fputs(", \"vantage\": ", out);
	report_put_json_string(out, c->vantage ? c->vantage : "");
	fputs(", \"tool_version\": ", out);
	report_put_json_string(out, c->tool_version ? c->tool_version : "");
	fprintf(out, ", \"dnssec_validated\": %s",
		c->dnssec_validated > 0	   ? "true"
		: c->dnssec_validated == 0 ? "false"
					   : "null");
	fputc('}', out);
}

static int json_begin(struct report_render_state *st, const struct report *r)
{
	fputs("{\"campaign\": ", st->out);
	campaign(st->out, &r->campaign);
	fputs(",\n \"compare\": ", st->out);
	if (r->has_compare)
		campaign(st->out, &r->compare);
	else
		fputs("null", st->out);
	fputs(",\n \"history\": ", st->out);
	if (r->has_history) {
		fputs("{\"pattern\": ", st->out);
		report_put_json_string(st->out, r->history_pattern);
		fprintf(st->out, ", \"max\": %d, \"campaigns\": [",
			r->history_max);
		for (size_t i = 0; i < r->nhistory; i++) {
			fputs(i ? ",\n   " : "\n   ", st->out);
			campaign(st->out, &r->history[i]);
		}
		fputs("]}", st->out);
	} else {
		fputs("null", st->out);
	}
	/* Say it where a reader of the document looks first. */
	fputs(",\n \"banner\": ", st->out);
	if (report_unvalidated(r))
		report_put_json_string(st->out, report_unvalidated_banner);
	else
		fputs("null", st->out);
	fputs(",\n \"figures\": [", st->out);
	return 0;
}

static int json_section(struct report_render_state *st, const struct report *r,
			const struct report_figure *f)
{
	(void)st, (void)r, (void)f;
	return 0;
}

static void key_string(FILE *out, const char *key, const char *value)
{
	fprintf(out, "\"%s\": ", key);
	report_put_json_string(out, value);
}

/* A row's "scope" and "label" members. */
static void scope_label(FILE *out, const char *scope, const char *label)
{
	key_string(out, "scope", scope);
	fputs(", ", out);
	key_string(out, "label", label);
}

/* A row's counts, and with cmp the compared campaign's and the delta. */
static void row_numbers(FILE *out, const struct report_row *w, bool cmp)
{
	fprintf(out, ", \"numerator\": %s, \"denominator\": %s, \"percent\": ",
		w->numerator, w->denominator);
	report_put_json_number(out, w->percent);
	if (cmp) {
		fputs(", \"compare\": {\"numerator\": ", out);
		report_put_json_number(out, w->cmp_numerator);
		fputs(", \"denominator\": ", out);
		report_put_json_number(out, w->cmp_denominator);
		fputs(", \"percent\": ", out);
		report_put_json_number(out, w->cmp_percent);
		fputs(", \"delta\": ", out);
		report_put_json_number(out, w->delta);
		fputc('}', out);
	}
}

static void buckets(FILE *out, const struct report *r)
{
	fprintf(out,
		",\n \"rank_buckets\": {\"ranked\": %lld, \"unranked\": "
		"%lld, \"status\": ",
		r->ranked, r->unranked);
	if (r->ranked == 0)
		report_put_json_string(out, report_no_ranks);
	else
		fputs("null", out);
	fputs(", \"buckets\": [", out);
	for (size_t i = 0; i < r->nbuckets; i++) {
		const struct report_bucket *b = &r->buckets[i];
		fprintf(out, "%s{\"bound\": %ld, ", i ? ",\n   " : "\n   ",
			b->bound);
		key_string(out, "label", b->label);
		fprintf(out, ", \"targets\": %s, \"whole\": %s", b->targets,
			b->whole ? "true" : "false");
		if (r->has_compare) {
			fputs(", \"compare_targets\": ", out);
			report_put_json_number(out, b->cmp_targets);
		}
		fputs(", \"rows\": [", out);
		for (size_t k = 0; k < b->nrows; k++) {
			const struct report_row *w = &b->rows[k].row;
			fputs(k ? ",\n    {" : "\n    {", out);
			key_string(out, "figure", b->rows[k].figure->name);
			fputs(", ", out);
			scope_label(out, w->scope, w->label);
			row_numbers(out, w, r->has_compare);
			fputc('}', out);
		}
		fputs("]}", out);
	}
	fputs("]}", out);
}

/* "history": one entry per campaign of the history, its rows of f. */
static void history(FILE *out, const struct report *r,
		    const struct report_figure *f)
{
	size_t k = 0;
	fputs(",\n   \"history\": [", out);
	for (size_t i = 0; i < r->nhistory; i++) {
		fprintf(out, "%s{\"campaign\": %lld, \"rows\": [",
			i ? ",\n    " : "\n    ", (long long)r->history[i].id);
		/* Rows come campaign by campaign, in history order. */
		for (size_t n = 0; k < f->nhist && f->hist[k].campaign == i;
		     k++, n++) {
			const struct report_hist_row *w = &f->hist[k];
			fputs(n ? ", {" : "{", out);
			scope_label(out, w->scope, w->label);
			fprintf(out,
				", \"numerator\": %s, \"denominator\": %s, "
				"\"percent\": ",
				w->numerator, w->denominator);
			report_put_json_number(out, w->percent);
			fputc('}', out);
		}
		fputs("]}", out);
	}
	fputc(']', out);
}

static int json_figure(struct report_render_state *st, const struct report *r,
		       const struct report_figure *f)
{
	FILE *out = st->out;

	fputs(st->nfigures_done ? ",\n  {" : "\n  {", out);
	key_string(out, "name", f->name);
	fputs(", ", out);
	key_string(out, "section", f->section);
	fputs(", ", out);
	key_string(out, "kind", f->kind);
	fputs(", ", out);
	key_string(out, "title", f->title);
	fputs(",\n   ", out);
	key_string(out, "definition", f->definition);
	fputs(",\n   ", out);
	key_string(out, "denominator", f->denominator_text);
	fprintf(out, ",\n   \"headline\": %s, \"across\": %s",
		f->headline ? "true" : "false", f->across ? "true" : "false");
	/* measured: false for a figure on DNSSEC of a campaign that did not
	 * validate; it has no rows then, and "status" says so in words. */
	fprintf(out, ",\n   \"needs_dnssec\": %s, \"measured\": %s",
		f->needs_dnssec ? "true" : "false",
		f->not_measured ? "false" : "true");
	if (f->not_measured)
		fputs(", \"status\": \"" REPORT_NOT_MEASURED
		      ": DNSSEC was not validated\"",
		      out);
	if (report_figure_compared(r, f))
		fprintf(out, ", \"compare_measured\": %s",
			f->cmp_not_measured ? "false" : "true");
	fputs(",\n   \"rows\": [", out);
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *w = &f->rows[i];
		fputs(i ? ",\n    {" : "\n    {", out);
		scope_label(out, w->scope, w->label);
		row_numbers(out, w, report_figure_compared(r, f));
		fputc('}', out);
	}
	fputc(']', out);
	if (r->has_history && f->headline)
		history(out, r, f);
	fputc('}', out);
	return 0;
}

static int json_end(struct report_render_state *st, const struct report *r)
{
	/* How this was measured: the campaign's provenance document, as
	 * `export --metadata` prints it. */
	fputs("\n ]", st->out);
	buckets(st->out, r);
	fputs(",\n \"how_measured\": ", st->out);
	fputs(r->provenance_json ? r->provenance_json : "null", st->out);
	fputs("}\n", st->out);
	return 0;
}

const struct report_renderer report_render_json = {
	.name = "json",
	.begin = json_begin,
	.section = json_section,
	.figure = json_figure,
	.end = json_end,
};
