/*
 * The HTML renderer: one standalone page (inline CSS, inline SVG, no
 * scripts, no external assets). Every figure is a table and a horizontal
 * bar chart of its percents; table rows carry data-figure, data-scope and
 * data-label attributes so a test can read the rendered numbers back.
 */
#include <stdlib.h>

#include "crawler/report.h"

/* Bar chart geometry, in SVG user units. */
#define HTML_BAR_LABEL_W 320
#define HTML_BAR_W 360
#define HTML_BAR_H 16
#define HTML_BAR_GAP 6

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static void campaign(FILE *out, const char *what,
		     const struct report_campaign *c)
{
	fprintf(out, "<p class=\"campaign\">%s: <b>", what);
	report_put_html(out, or_dash(c->name));
	fprintf(out, "</b> (id %lld), created ", (long long)c->id);
	report_put_html(out, or_dash(c->created));
	fprintf(out, ", %s targets, ", or_dash(c->targets));
	report_put_html(out, or_dash(c->state));
	fputs(", vantage ", out);
	report_put_html(out, or_dash(c->vantage));
	fputs(", mxcrawl ", out);
	report_put_html(out, or_dash(c->tool_version));
	fputs("</p>\n", out);
}

static int html_begin(struct report_render_state *st, const struct report *r)
{
	FILE *out = st->out;
	fputs(
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	    "<title>mxcrawl report</title>\n<style>\n"
	    "body{font-family:sans-serif;max-width:60em;margin:2em auto;"
	    "color:#222}\n"
	    "table{border-collapse:collapse;margin:.5em 0}\n"
	    "td,th{padding:.15em .6em;border-bottom:1px solid #ddd;"
	    "text-align:left}\n"
	    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	    "p.def{color:#555;font-size:.9em}\n"
	    "svg text{font-size:11px;font-family:sans-serif}\n"
	    "</style></head><body>\n<h1>mxcrawl report</h1>\n",
	    out);
	campaign(out, "campaign", &r->campaign);
	if (r->has_compare)
		campaign(out, "compared with", &r->compare);
	return 0;
}

static int html_section(struct report_render_state *st, const struct report *r,
			const struct report_figure *f)
{
	(void)r;
	fputs("<h2>", st->out);
	report_put_html(st->out, f->section_title);
	fputs("</h2>\n", st->out);
	return 0;
}

/* A bar per row: the percent of this campaign, and of the other one as a
 * thinner bar below it. */
static void chart(FILE *out, const struct report *r,
		  const struct report_figure *f)
{
	int row_h = HTML_BAR_H + HTML_BAR_GAP + (r->has_compare ? 6 : 0);
	int h = (int)f->nrows * row_h + HTML_BAR_GAP;
	int w = HTML_BAR_LABEL_W + HTML_BAR_W + 60;

	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
		w, h, w, h);
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *x = &f->rows[i];
		int y = (int)i * row_h + HTML_BAR_GAP;
		double p = x->percent ? strtod(x->percent, NULL) : 0;
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
			HTML_BAR_LABEL_W - 6, y + HTML_BAR_H - 4);
		report_put_html(out, x->scope);
		fputs(": ", out);
		report_put_html(out, x->label);
		fprintf(out,
			"</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
			"height=\"%d\" fill=\"#3b7dd8\"/>",
			HTML_BAR_LABEL_W, y, p * HTML_BAR_W / 100.0,
			HTML_BAR_H);
		if (r->has_compare && x->cmp_percent) {
			double q = strtod(x->cmp_percent, NULL);
			fprintf(out,
				"<rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
				"height=\"5\" fill=\"#999\"/>",
				HTML_BAR_LABEL_W, y + HTML_BAR_H + 1,
				q * HTML_BAR_W / 100.0);
		}
		fprintf(out, "<text x=\"%.1f\" y=\"%d\">%s%%</text>\n",
			HTML_BAR_LABEL_W + p * HTML_BAR_W / 100.0 + 4,
			y + HTML_BAR_H - 4, or_dash(x->percent));
	}
	fputs("</svg>\n", out);
}

static int html_figure(struct report_render_state *st, const struct report *r,
		       const struct report_figure *f)
{
	FILE *out = st->out;

	fputs("<section class=\"figure\" id=\"", out);
	report_put_html(out, f->name);
	fputs("\"><h3>", out);
	report_put_html(out, f->title);
	fputs(" <code>", out);
	report_put_html(out, f->name);
	fputs("</code></h3>\n<p class=\"def\">", out);
	report_put_html(out, f->definition);
	fputs("</p>\n", out);
	if (f->nrows == 0) {
		fputs("<p><i>Nothing to count.</i></p></section>\n", out);
		return 0;
	}
	chart(out, r, f);
	fputs("<table><tr><th>scope</th><th>label</th><th>count</th>"
	      "<th>of</th><th>%</th>",
	      out);
	if (r->has_compare)
		fputs("<th>other</th><th>of</th><th>%</th><th>delta</th>", out);
	fputs("</tr>\n", out);
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *x = &f->rows[i];
		fputs("<tr data-figure=\"", out);
		report_put_html(out, f->name);
		fputs("\" data-scope=\"", out);
		report_put_html(out, x->scope);
		fputs("\" data-label=\"", out);
		report_put_html(out, x->label);
		fputs("\"><td>", out);
		report_put_html(out, x->scope);
		fputs("</td><td>", out);
		report_put_html(out, x->label);
		fprintf(out,
			"</td><td class=\"n num\">%s</td><td class=\"n den\">%s"
			"</td><td class=\"n pct\">%s</td>",
			x->numerator, x->denominator, or_dash(x->percent));
		if (r->has_compare)
			fprintf(
			    out,
			    "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
			    "<td class=\"n\">%s</td><td class=\"n\">%s</td>",
			    or_dash(x->cmp_numerator),
			    or_dash(x->cmp_denominator),
			    or_dash(x->cmp_percent), or_dash(x->delta));
		fputs("</tr>\n", out);
	}
	fputs("</table></section>\n", out);
	return 0;
}

static int html_end(struct report_render_state *st, const struct report *r)
{
	fprintf(st->out,
		"<p>%zu figures. %% = count / of, one decimal%s.</p>\n"
		"</body></html>\n",
		r->nfigures,
		r->has_compare ? "; delta in percentage points" : "");
	return 0;
}

const struct report_renderer report_render_html = {
	.name = "html",
	.begin = html_begin,
	.section = html_section,
	.figure = html_figure,
	.end = html_end,
};
