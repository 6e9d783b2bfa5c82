/*
 * The JSON renderer: one document, {"campaign", "compare", "figures": [one
 * object per figure with its definition and rows]}; each row has
 * numerator, denominator and percent (numbers, percent null for an empty
 * denominator) and, with --compare, the other campaign's and the delta.
 */
#include "crawler/report.h"

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
	fputs(",\n   \"rows\": [", out);
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *w = &f->rows[i];
		fputs(i ? ",\n    {" : "\n    {", out);
		key_string(out, "scope", w->scope);
		fputs(", ", out);
		key_string(out, "label", w->label);
		fprintf(out,
			", \"numerator\": %s, \"denominator\": %s, "
			"\"percent\": ",
			w->numerator, w->denominator);
		report_put_json_number(out, w->percent);
		if (r->has_compare) {
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
		fputc('}', out);
	}
	fputs("]}", out);
	return 0;
}

static int json_end(struct report_render_state *st, const struct report *r)
{
	(void)r;
	fputs("\n ]}\n", st->out);
	return 0;
}

const struct report_renderer report_render_json = {
	.name = "json",
	.begin = json_begin,
	.section = json_section,
	.figure = json_figure,
	.end = json_end,
};
