/*
 * The HTML renderer: one standalone page (inline CSS, inline SVG, no
 * scripts, no external assets, no URL of any kind), so that it can be
 * mailed, archived or opened offline and shows the same thing everywhere.
 *
 * Every figure is a <section id="NAME"> with its definition, a horizontal
 * bar chart of its percents (rows grouped by scope) and a table with every
 * number as text, so nothing is only in a picture. With --compare, each
 * bar has the other campaign's as a thinner bar below it and the table
 * has the other campaign's numbers and the delta (not in the figures of
 * the section 'change', whose rows are the pair's own). Every headline
 * figure (the registry's headline column) gets a trend chart: one line
 * per row of its first scope, one point per campaign in order of
 * creation: the campaigns of --history when it is given (at least two),
 * else the two compared ones. Up to HTML_TREND_OVERLAY_MAX lines share
 * one plot, each labelled at its end; more (the ladder's seven rungs)
 * are drawn as small multiples, a small plot per line on one scale, since
 * seven crossing lines with labels pushed apart cannot be told apart.
 *
 * The drawn values are machine-readable, so a test can check what a
 * browser rendered against the JSON report: table rows carry
 * data-figure, data-scope and data-label (cells: class num, den, pct,
 * cnum, cden, cpct, delta); every bar and trend point carries
 * data-figure, data-scope, data-label, data-campaign and data-percent,
 * and its geometry is exactly the percent scaled (HTML_BAR_W for 100 %
 * in a bar, HTML_TREND_PLOT_H in a trend, in the coordinates of its
 * plot: a small multiple scales the whole plot, not the points).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/report/report.h"

/* Bar chart geometry, in SVG user units (= CSS pixels). */
#define HTML_BAR_LABEL_W 300 /* room for a row's label, left of its bar */
#define HTML_BAR_W 400	     /* the length of a 100 % bar */
#define HTML_BAR_VALUE_W 150 /* room right of a full bar for its value */
#define HTML_BAR_H 14
#define HTML_BAR_CMP_H 6 /* the other campaign's bar, below this one's */
#define HTML_BAR_GAP 6
#define HTML_SCOPE_H 22 /* a scope's heading line inside a chart */
#define HTML_AXIS_H 20	/* the percent axis under the bars */
/* Characters of a label drawn in a chart; the table and the bar's
 * tooltip have it whole. */
#define HTML_LABEL_MAX 44

/* Trend chart geometry. */
#define HTML_TREND_PLOT_W 360 /* from the first campaign to the last */
#define HTML_TREND_PLOT_H 200 /* from 0 % to 100 % */
#define HTML_TREND_LEFT 40    /* the percent axis */
#define HTML_TREND_TOP 12
#define HTML_TREND_RIGHT 260 /* the line labels */
#define HTML_TREND_BOTTOM 40 /* campaign names */
#define HTML_TREND_LABEL_GAP 12
/* Lines drawn in one trend chart: the first rows of the figure's first
 * scope (rows come ordered, largest first, or in their defined order). */
#define HTML_TREND_LINES_MAX 10
/* Campaigns a trend can show: the most --history reads (or two). */
#define HTML_TREND_POINTS_MAX REPORT_HISTORY_MAX
/* More lines than this are drawn as small multiples. */
#define HTML_TREND_OVERLAY_MAX 3
/* Small multiples: HTML_TREND_COLS plots a row, each the one-plot
 * geometry scaled by HTML_PANEL_SCALE, under a title line. */
#define HTML_TREND_COLS 3
#define HTML_PANEL_SCALE 0.5
#define HTML_PANEL_INNER_W (HTML_TREND_LEFT + HTML_TREND_PLOT_W + 24)
#define HTML_PANEL_INNER_H (HTML_TREND_TOP + HTML_TREND_PLOT_H + 30)
#define HTML_PANEL_TITLE_H 18
#define HTML_PANEL_GAP 14
/* Room left of the first column for its percent axis labels, which
 * stick out of the scaled plot's margin. */
#define HTML_PANEL_LEFT 16
/* Characters of a line's label at its end (one plot) or over its small
 * plot: what fits the room beside the value. */
#define HTML_TREND_LABEL_MAX 30
#define HTML_PANEL_LABEL_MAX 24
/* Characters of a campaign's name under a small plot. */
#define HTML_PANEL_NAME_MAX 14
/* Beyond this many campaigns only the first and the last are named
 * under the axis (the others would overlap); every point's tooltip
 * names its campaign, and the table of the other formats has them. */
#define HTML_TREND_NAMED_MAX 4

/* Colours of the trend lines; each line is also labelled with its name
 * at its end, so colour is never the only way to tell them apart. */
static const char *const trend_colours[] = {
	"#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c",
	"#0b7285", "#5c940d", "#e67700", "#495057", "#364fc7",
};

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static const char *scope_words(const char *scope)
{
	static const struct {
		const char *scope, *words;
	} w[] = {
		{ "domain", "per domain" },
		{ "mx_host", "per MX host" },
		{ "domain_mx", "per MX host of a domain" },
		{ "endpoint", "per endpoint (address, port, SNI)" },
		{ "address", "per address" },
	};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		if (strcmp(w[i].scope, scope) == 0)
			return w[i].words;
	return scope;
}

/* A percent as a number for drawing; 0 for none (empty denominator). */
static double pct(const char *s)
{
	double p = s ? strtod(s, NULL) : 0;
	return p < 0 ? 0 : p > 100 ? 100 : p;
}

/* Writes at most HTML_LABEL_MAX characters of s (UTF-8 aware), then an
 * ellipsis if it was longer. */
static void put_cut_n(FILE *out, const char *s, size_t max)
{
	size_t chars = 0, i = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > max)
			break;
	}
	if (!s[i]) {
		report_put_html(out, s);
		return;
	}
	char *cut = strndup(s, i);
	report_put_html(out, cut ? cut : "");
	free(cut);
	fputs("\xE2\x80\xA6", out); /* U+2026 */
}

static void put_cut(FILE *out, const char *s)
{
	put_cut_n(out, s, HTML_LABEL_MAX);
}

/* The data attributes that name one drawn value. */
static void data_attrs(FILE *out, const struct report_figure *f,
		       const struct report_row *x, long long campaign,
		       const char *percent)
{
	fputs(" data-figure=\"", out);
	report_put_html(out, f->name);
	fputs("\" data-scope=\"", out);
	report_put_html(out, x->scope);
	fputs("\" data-label=\"", out);
	report_put_html(out, x->label);
	fprintf(out, "\" data-campaign=\"%lld\" data-percent=\"%s\"", campaign,
		percent ? percent : "");
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

static const char html_style[] =
    "body{font-family:sans-serif;max-width:66em;margin:2em auto;"
    "padding:0 1em;color:#222;background:#fff}\n"
    "h2{border-bottom:2px solid #1f5fbf;padding-bottom:.2em;margin-top:2em}\n"
    "section.figure{margin:1.5em 0 2.5em}\n"
    "table{border-collapse:collapse;margin:.5em 0}\n"
    "caption{text-align:left;color:#555;font-size:.85em}\n"
    "td,th{padding:.15em .6em;border-bottom:1px solid #ddd;"
    "text-align:left}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "p.def{color:#444;font-size:.9em}\n"
    "figure{margin:.5em 0}\n"
    "figcaption{color:#555;font-size:.85em}\n"
    "svg{display:block;max-width:100%;height:auto}\n"
    "svg text{font-size:11px;font-family:sans-serif;fill:#222}\n"
    "svg text.scope{font-weight:bold}\n"
    "svg text.axis{fill:#666;font-size:10px}\n"
    "svg line.grid{stroke:#e3e3e3}\n"
    "svg rect.bar{fill:#1f5fbf}\n"
    "svg rect.cmp{fill:#9a9a9a}\n"
    "svg polyline{fill:none;stroke-width:2}\n"
    "svg g.panel text{font-size:20px}\n"
    "svg g.panel polyline{stroke-width:4}\n"
    "svg g.panel line.grid{stroke-width:2}\n"
    ".key{display:inline-block;width:1em;height:.7em;margin:0 .3em}\n"
    "p.banner{border:3px solid #b00;background:#fee;padding:.6em}\n"
    "p.not-measured{color:#b00}\n";

static int html_begin(struct report_render_state *st, const struct report *r)
{
	FILE *out = st->out;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	      "charset=\"utf-8\">\n<meta name=\"viewport\" "
	      "content=\"width=device-width\">\n<title>mxcrawl report: ",
	      out);
	report_put_html(out, or_dash(r->campaign.name));
	fprintf(out, "</title>\n<style>\n%s</style></head><body><main>\n",
		html_style);
	fputs("<h1>mxcrawl report</h1>\n", out);
	if (report_unvalidated(r)) {
		fputs("<p class=\"banner\" id=\"unvalidated\"><b>", out);
		report_put_html(out, report_unvalidated_banner);
		fputs("</b></p>\n", out);
	}
	campaign(out, "campaign", &r->campaign);
	if (r->has_compare) {
		campaign(out, "compared with", &r->compare);
		if (r->compare.dnssec_validated == 0)
			fputs("<p class=\"banner\">The compared campaign did "
			      "not validate DNSSEC: its numbers of DNSSEC- and "
			      "DANE-dependent figures are " REPORT_NOT_MEASURED
			      ".</p>\n",
			      out);
		fputs("<p>In the charts, <span class=\"key\" "
		      "style=\"background:#1f5fbf\"></span>this campaign, "
		      "<span class=\"key\" style=\"background:#9a9a9a\"></span>"
		      "the one compared with. Headline figures have a trend "
		      "chart.</p>\n",
		      out);
	}
	if (r->has_history) {
		fprintf(out,
			"<p class=\"history\">History: %zu done campaign(s) "
			"named like <code>",
			r->nhistory);
		report_put_html(out, r->history_pattern);
		fprintf(out,
			"</code> (the newest %d at most), oldest first; "
			"headline figures have a trend chart over them.</p>"
			"\n<ol class=\"history\">\n",
			r->history_max);
		for (size_t i = 0; i < r->nhistory; i++) {
			fputs("<li><b>", out);
			report_put_html(out, or_dash(r->history[i].name));
			fprintf(out, "</b> (id %lld), created ",
				(long long)r->history[i].id);
			report_put_html(out, or_dash(r->history[i].created));
			fputs("</li>\n", out);
		}
		fputs("</ol>\n", out);
	}
	/* Contents: one link per section, to the section's first figure. */
	fputs("<nav><h2>Contents</h2><ul>\n", out);
	for (size_t i = 0; i < r->nfigures; i++) {
		const struct report_figure *f = &r->figures[i];
		if (i > 0 && strcmp(f->section, r->figures[i - 1].section) == 0)
			continue;
		fputs("<li><a href=\"#section-", out);
		report_put_html(out, f->section);
		fputs("\">", out);
		report_put_html(out, f->section_title);
		fputs("</a></li>\n", out);
	}
	fputs("<li><a href=\"#how-measured\">How this was measured</a></li>\n"
	      "</ul></nav>\n",
	      out);
	return 0;
}

static int html_section(struct report_render_state *st, const struct report *r,
			const struct report_figure *f)
{
	(void)r;
	/* Not a <section>: those are the figures, one each. */
	fputs("<h2 id=\"section-", st->out);
	report_put_html(st->out, f->section);
	fputs("\">", st->out);
	report_put_html(st->out, f->section_title);
	fputs("</h2>\n", st->out);
	return 0;
}

/* Opens a chart: <figure><svg class="cls"> labelled by its <title>, whose
 * id is the figure's name and cls; the caller writes the title's text and
 * closes it. */
static void svg_open(FILE *out, const char *cls, const struct report_figure *f,
		     int w, int h)
{
	fprintf(out,
		"<figure><svg class=\"%s\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"",
		cls, w, h, w, h);
	report_put_html(out, f->name);
	fprintf(out, "-%s\"><title id=\"", cls);
	report_put_html(out, f->name);
	fprintf(out, "-%s\">", cls);
}

/* The percent axis of a bar chart: grid lines every 25 %. */
static void bar_axis(FILE *out, int top, int bottom)
{
	for (int p = 0; p <= 100; p += 25) {
		int x = HTML_BAR_LABEL_W + p * HTML_BAR_W / 100;
		fprintf(out,
			"<line class=\"grid\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
			"y2=\"%d\"/><text class=\"axis\" x=\"%d\" y=\"%d\" "
			"text-anchor=\"middle\">%d %%</text>\n",
			x, top, x, bottom, x, bottom + 14, p);
	}
}

/* A bar per row, grouped by scope under a heading line; the other
 * campaign's percent as a thinner grey bar below. */
static void bar_chart(FILE *out, const struct report *r,
		      const struct report_figure *f)
{
	bool cmp = report_figure_compared(r, f);
	int row_h = HTML_BAR_H + HTML_BAR_GAP + (cmp ? HTML_BAR_CMP_H : 0);
	int nscopes = 0;
	for (size_t i = 0; i < f->nrows; i++)
		if (i == 0 || strcmp(f->rows[i].scope, f->rows[i - 1].scope))
			nscopes++;
	int body = nscopes * HTML_SCOPE_H + (int)f->nrows * row_h;
	int h = body + HTML_AXIS_H;
	int w = HTML_BAR_LABEL_W + HTML_BAR_W + HTML_BAR_VALUE_W;

	svg_open(out, "bars", f, w, h);
	report_put_html(out, f->title);
	fputs(": percent per row (the table below has every number)</title>\n",
	      out);
	bar_axis(out, 0, body);
	int y = 0;
	for (size_t i = 0; i < f->nrows; i++) {
		const struct report_row *x = &f->rows[i];
		if (i == 0 || strcmp(x->scope, f->rows[i - 1].scope)) {
			fprintf(out,
				"<text class=\"scope\" x=\"0\" y=\"%d\">"
				"%s, of %s</text>\n",
				y + HTML_SCOPE_H - 7, scope_words(x->scope),
				x->denominator);
			y += HTML_SCOPE_H;
		}
		fputs("<g><title>", out);
		report_put_html(out, x->label);
		fprintf(out, ": %s of %s (%s %%)", x->numerator, x->denominator,
			or_dash(x->percent));
		if (cmp)
			fprintf(out, "; before %s of %s (%s %%)",
				or_dash(x->cmp_numerator),
				or_dash(x->cmp_denominator),
				or_dash(x->cmp_percent));
		fprintf(out,
			"</title><text x=\"%d\" y=\"%d\" "
			"text-anchor=\"end\">",
			HTML_BAR_LABEL_W - 6, y + HTML_BAR_H - 3);
		put_cut(out, x->label);
		fputs("</text>\n<rect class=\"bar\"", out);
		data_attrs(out, f, x, (long long)r->campaign.id, x->percent);
		fprintf(out,
			" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>",
			HTML_BAR_LABEL_W, y,
			pct(x->percent) * HTML_BAR_W / 100.0, HTML_BAR_H);
		if (cmp) {
			fputs("<rect class=\"bar cmp\"", out);
			data_attrs(out, f, x, (long long)r->compare.id,
				   x->cmp_percent);
			fprintf(out,
				" x=\"%d\" y=\"%d\" width=\"%.1f\" "
				"height=\"%d\"/>",
				HTML_BAR_LABEL_W, y + HTML_BAR_H,
				pct(x->cmp_percent) * HTML_BAR_W / 100.0,
				HTML_BAR_CMP_H - 1);
		}
		fprintf(out,
			"<text class=\"value\" x=\"%.1f\" y=\"%d\">%s %% "
			"(%s)</text></g>\n",
			HTML_BAR_LABEL_W +
			    pct(x->percent) * HTML_BAR_W / 100.0 + 4,
			y + HTML_BAR_H - 3, or_dash(x->percent), x->numerator);
		y += row_h;
	}
	fputs("</svg></figure>\n", out);
}

/* One campaign of a trend: which one, and where a row's value is: the
 * history's campaign `hist` (from_history), else the report's own
 * (cmp false) or the compared campaign's (cmp true). */
struct trend_point {
	const struct report_campaign *c;
	bool from_history;
	size_t hist;
	bool cmp;
};

/* The campaigns of the trend, oldest first (by creation, then id): the
 * history's when there is one, else the two compared; 0 if there are
 * fewer than two distinct ones, so there is no trend. */
static size_t trend_points(const struct report *r,
			   struct trend_point p[HTML_TREND_POINTS_MAX])
{
	if (r->has_history) {
		size_t n = r->nhistory < HTML_TREND_POINTS_MAX
			       ? r->nhistory
			       : HTML_TREND_POINTS_MAX;
		for (size_t i = 0; i < n; i++)
			p[i] = (struct trend_point){ .c = &r->history[i],
						     .from_history = true,
						     .hist = i };
		return n < 2 ? 0 : n;
	}
	if (!r->has_compare || r->compare.id == r->campaign.id)
		return 0;
	const char *a = r->compare.created ? r->compare.created : "";
	const char *b = r->campaign.created ? r->campaign.created : "";
	int c = strcmp(a, b);
	bool cmp_first = c < 0 || (c == 0 && r->compare.id < r->campaign.id);
	p[0] =
	    (struct trend_point){ .c = cmp_first ? &r->compare : &r->campaign,
				  .cmp = cmp_first };
	p[1] =
	    (struct trend_point){ .c = cmp_first ? &r->campaign : &r->compare,
				  .cmp = !cmp_first };
	return 2;
}

static const char *point_percent(const struct report_figure *f,
				 const struct report_row *x,
				 const struct trend_point *p)
{
	if (p->from_history)
		return report_hist_percent(f, p->hist, x->scope, x->label);
	return p->cmp ? x->cmp_percent : x->percent;
}

static double trend_x(size_t i, size_t n)
{
	return HTML_TREND_LEFT +
	       (n > 1 ? (double)i * HTML_TREND_PLOT_W / (double)(n - 1) : 0);
}

static double trend_y(double percent)
{
	return HTML_TREND_TOP + HTML_TREND_PLOT_H -
	       percent * HTML_TREND_PLOT_H / 100.0;
}

/* Where each line's label goes: at its last point, pushed down (in
 * order of height) so that no two labels overlap, then the lowest ones
 * pushed up again so that none falls below `bottom`. */
static void label_places(const double *want, size_t n, double bottom,
			 double *got)
{
	size_t order[HTML_TREND_LINES_MAX];
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		for (; j > 0 && want[order[j - 1]] > want[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	double next = 0;
	for (size_t k = 0; k < n; k++) {
		double y = want[order[k]];
		got[order[k]] = y < next ? next : y;
		next = got[order[k]] + HTML_TREND_LABEL_GAP;
	}
	double limit = bottom;
	for (size_t k = n; k-- > 0;) {
		if (got[order[k]] > limit)
			got[order[k]] = limit;
		limit = got[order[k]] - HTML_TREND_LABEL_GAP;
	}
}

/* One line of a trend: the polyline through its points and a point per
 * campaign that has a percent for the row, in plot coordinates. */
static void trend_line(FILE *out, const struct report_figure *f,
		       const struct report_row *x, const struct trend_point *p,
		       size_t np, const char *colour, double radius)
{
	fprintf(out, "<polyline stroke=\"%s\" points=\"", colour);
	for (size_t i = 0; i < np; i++)
		if (point_percent(f, x, &p[i]))
			fprintf(out, "%.1f,%.1f ", trend_x(i, np),
				trend_y(pct(point_percent(f, x, &p[i]))));
	fputs("\"/>\n", out);
	for (size_t i = 0; i < np; i++) {
		const char *v = point_percent(f, x, &p[i]);
		if (!v)
			continue;
		fputs("<circle class=\"point\"", out);
		data_attrs(out, f, x, (long long)p[i].c->id, v);
		fprintf(out,
			" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
			"fill=\"%s\"><title>",
			trend_x(i, np), trend_y(pct(v)), radius, colour);
		report_put_html(out, x->label);
		fputs(", ", out);
		report_put_html(out, or_dash(p[i].c->name));
		fprintf(out, ": %s %%</title></circle>\n", v);
	}
}

/* The percent axis of a trend plot: grid lines every `step` %. */
static void trend_axis(FILE *out, int step)
{
	for (int q = 0; q <= 100; q += step) {
		double y = trend_y(q);
		fprintf(out,
			"<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
			"y2=\"%.1f\"/><text class=\"axis\" x=\"%d\" "
			"y=\"%.1f\" text-anchor=\"end\">%d %%</text>\n",
			HTML_TREND_LEFT, y, HTML_TREND_LEFT + HTML_TREND_PLOT_W,
			y, HTML_TREND_LEFT - 4, y + 3, q);
	}
}

/* The svg element of a trend and its title. */
static void trend_open(FILE *out, const struct report_figure *f,
		       const char *scope, int w, int h)
{
	svg_open(out, "trend", f, w, h);
	fputs("Trend of ", out);
	report_put_html(out, f->title);
	fprintf(out, ", %s, percent per campaign</title>\n",
		scope_words(scope));
}

static void trend_close(FILE *out, const char *scope,
			const struct trend_point *p, size_t np, bool panels)
{
	fputs("</svg><figcaption>Trend ", out);
	fputs(scope_words(scope), out);
	fputs(", from ", out);
	report_put_html(out, or_dash(p[0].c->name));
	fputs(" to ", out);
	report_put_html(out, or_dash(p[np - 1].c->name));
	if (panels)
		fprintf(out,
			" (%zu campaigns, oldest left); a plot per row, "
			"all on one scale",
			np);
	fputs("; the numbers are in the table below.</figcaption>"
	      "</figure>\n",
	      out);
}

/* Small multiples: a plot per line, HTML_TREND_COLS a row, each the
 * one-plot geometry scaled by HTML_PANEL_SCALE (so every point's cy is
 * the percent scaled as in one plot), titled with the row's label and its
 * last percent; the first and the last campaign are named under each. */
static void trend_panels(FILE *out, const struct report_figure *f,
			 const char *scope, const struct trend_point *p,
			 size_t np, size_t nl)
{
	const double pw = HTML_PANEL_INNER_W * HTML_PANEL_SCALE;
	const double ph =
	    HTML_PANEL_TITLE_H + HTML_PANEL_INNER_H * HTML_PANEL_SCALE;
	size_t rows = (nl + HTML_TREND_COLS - 1) / HTML_TREND_COLS;
	int w =
	    (int)(HTML_PANEL_LEFT + HTML_TREND_COLS * (pw + HTML_PANEL_GAP));
	int h = (int)((double)rows * (ph + HTML_PANEL_GAP));

	trend_open(out, f, scope, w, h);
	for (size_t l = 0; l < nl; l++) {
		const struct report_row *x = &f->rows[l];
		const char *colour =
		    trend_colours[l % (sizeof trend_colours /
				       sizeof trend_colours[0])];
		double ox = HTML_PANEL_LEFT + (double)(l % HTML_TREND_COLS) *
						  (pw + HTML_PANEL_GAP);
		double oy =
		    (double)(l / HTML_TREND_COLS) * (ph + HTML_PANEL_GAP);
		fprintf(out, "<g><text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">",
			ox + 4, oy + 13, colour);
		put_cut_n(out, x->label, HTML_PANEL_LABEL_MAX);
		fprintf(out, " %s %%</text>\n",
			or_dash(point_percent(f, x, &p[np - 1])));
		fprintf(out,
			"<g class=\"panel\" transform=\"translate(%.1f %.1f) "
			"scale(%.2f)\">\n",
			ox, oy + HTML_PANEL_TITLE_H, HTML_PANEL_SCALE);
		trend_axis(out, 50);
		int base = HTML_TREND_TOP + HTML_TREND_PLOT_H;
		for (size_t i = 0; i < np; i++) {
			double cx = trend_x(i, np);
			fprintf(out,
				"<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" "
				"x2=\"%.1f\" y2=\"%d\"/>\n",
				cx, HTML_TREND_TOP, cx, base);
		}
		for (size_t i = 0; i < np; i += np - 1) {
			fprintf(out,
				"<text class=\"axis\" x=\"%.1f\" y=\"%d\" "
				"text-anchor=\"%s\">",
				trend_x(i, np), base + 24,
				i == 0 ? "start" : "end");
			put_cut_n(out, or_dash(p[i].c->name),
				  HTML_PANEL_NAME_MAX);
			fputs("</text>\n", out);
		}
		trend_line(out, f, x, p, np, colour, 6);
		fputs("</g></g>\n", out);
	}
	trend_close(out, scope, p, np, true);
}

/* A line per row of the figure's first scope (rows without a percent in
 * a campaign have no point there), one point per campaign: in one plot
 * when there are few lines, else as small multiples. */
static void trend_chart(FILE *out, const struct report *r,
			const struct report_figure *f)
{
	struct trend_point p[HTML_TREND_POINTS_MAX];
	size_t np = trend_points(r, p);
	if (np < 2 || f->nrows == 0 || f->across)
		return;
	const char *scope = f->rows[0].scope;
	size_t nl = 0;
	while (nl < f->nrows && nl < HTML_TREND_LINES_MAX &&
	       strcmp(f->rows[nl].scope, scope) == 0)
		nl++;
	if (nl > HTML_TREND_OVERLAY_MAX) {
		trend_panels(out, f, scope, p, np, nl);
		return;
	}

	int w = HTML_TREND_LEFT + HTML_TREND_PLOT_W + HTML_TREND_RIGHT;
	int h = HTML_TREND_TOP + HTML_TREND_PLOT_H + HTML_TREND_BOTTOM;
	trend_open(out, f, scope, w, h);
	trend_axis(out, 25);
	for (size_t i = 0; i < np; i++) {
		double x = trend_x(i, np);
		int base = HTML_TREND_TOP + HTML_TREND_PLOT_H;
		/* The first and last campaigns' names run inwards, so that
		 * they stay inside the chart. */
		const char *anchor = i == 0	   ? "start"
				     : i + 1 == np ? "end"
						   : "middle";
		double tx = i == 0 ? x - 6 : i + 1 == np ? x + 6 : x;
		fprintf(out,
			"<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" "
			"x2=\"%.1f\" y2=\"%d\"/>\n",
			x, HTML_TREND_TOP, x, base);
		if (np > HTML_TREND_NAMED_MAX && i > 0 && i + 1 < np)
			continue;
		fprintf(out,
			"<text class=\"axis\" x=\"%.1f\" y=\"%d\" "
			"text-anchor=\"%s\">",
			tx, base + 14, anchor);
		put_cut(out, or_dash(p[i].c->name));
		fputs("</text>\n", out);
		/* A creation time is wider than the room between two points:
		 * only the first and the last have theirs. */
		if (i > 0 && i + 1 < np)
			continue;
		fprintf(out,
			"<text class=\"axis\" x=\"%.1f\" y=\"%d\" "
			"text-anchor=\"%s\">",
			tx, base + 27, anchor);
		report_put_html(out, or_dash(p[i].c->created));
		fputs("</text>\n", out);
	}

	double want[HTML_TREND_LINES_MAX], got[HTML_TREND_LINES_MAX];
	for (size_t l = 0; l < nl; l++) {
		const char *last = point_percent(f, &f->rows[l], &p[np - 1]);
		want[l] = trend_y(pct(last)) + 4;
	}
	label_places(want, nl, HTML_TREND_TOP + HTML_TREND_PLOT_H + 4, got);
	for (size_t l = 0; l < nl; l++) {
		const struct report_row *x = &f->rows[l];
		const char *colour =
		    trend_colours[l % (sizeof trend_colours /
				       sizeof trend_colours[0])];
		fputs("<g>", out);
		trend_line(out, f, x, p, np, colour, 3.5);
		fprintf(out, "<text x=\"%d\" y=\"%.1f\" fill=\"%s\">",
			HTML_TREND_LEFT + HTML_TREND_PLOT_W + 8, got[l],
			colour);
		put_cut_n(out, x->label, HTML_TREND_LABEL_MAX);
		fprintf(out, " %s %%</text></g>\n",
			or_dash(point_percent(f, x, &p[np - 1])));
	}
	trend_close(out, scope, p, np, false);
}

static void table(FILE *out, const struct report *r,
		  const struct report_figure *f)
{
	fputs("<table><caption>", out);
	report_put_html(out, f->title);
	fputs(": count of ", out);
	report_put_html(out, f->denominator_text);
	fputs("</caption>\n<tr><th scope=\"col\">scope</th><th "
	      "scope=\"col\">label</th><th scope=\"col\">count</th><th "
	      "scope=\"col\">of</th><th scope=\"col\">%</th>",
	      out);
	bool cmp = report_figure_compared(r, f);
	if (cmp)
		fputs("<th scope=\"col\">before</th><th scope=\"col\">of</th>"
		      "<th scope=\"col\">%</th><th scope=\"col\">delta "
		      "(points)</th>",
		      out);
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
		if (cmp)
			fprintf(out,
				"<td class=\"n cnum\">%s</td><td class=\"n "
				"cden\">%s</td><td class=\"n cpct\">%s</td>"
				"<td class=\"n delta\">%s</td>",
				or_dash(x->cmp_numerator),
				or_dash(x->cmp_denominator),
				or_dash(x->cmp_percent), or_dash(x->delta));
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

static int html_figure(struct report_render_state *st, const struct report *r,
		       const struct report_figure *f)
{
	FILE *out = st->out;

	fputs("<section class=\"figure\" id=\"", out);
	report_put_html(out, f->name);
	fputs("\" data-kind=\"", out);
	report_put_html(out, f->kind);
	fputs("\"><h3>", out);
	report_put_html(out, f->title);
	fputs(" <code>", out);
	report_put_html(out, f->name);
	fputs("</code></h3>\n<p class=\"def\">", out);
	report_put_html(out, f->definition);
	fputs("</p>\n", out);
	if (f->not_measured) {
		fputs("<p class=\"not-measured\"><b>" REPORT_NOT_MEASURED
		      "</b>: DNSSEC was not validated in this campaign (see "
		      "<a href=\"#how-measured\">How this was measured</a>)."
		      "</p></section>\n",
		      out);
		return 0;
	}
	if (f->cmp_not_measured)
		fputs(
		    "<p class=\"not-measured\">The compared campaign: <b>" REPORT_NOT_MEASURED
		    "</b> (DNSSEC not validated).</p>\n",
		    out);
	if (f->nrows == 0) {
		fputs("<p><i>Nothing to count.</i></p></section>\n", out);
		return 0;
	}
	bar_chart(out, r, f);
	if (f->headline)
		trend_chart(out, r, f);
	table(out, r, f);
	fputs("</section>\n", out);
	return 0;
}

/* "How this was measured": every run's provenance, a table each. Not a
 * <section> (those are the figures) and no data-figure rows. */
static void how_measured(FILE *out, const struct report *r)
{
	fputs("<h2 id=\"how-measured\">How this was measured</h2>\n"
	      "<div class=\"provenance\">\n<p>DNSSEC: <b>",
	      out);
	fputs(r->campaign.dnssec_validated > 0	  ? "validated"
	      : r->campaign.dnssec_validated == 0 ? "NOT VALIDATED"
						  : "nothing scanned yet",
	      out);
	fputs("</b></p>\n", out);
	if (r->nprov == 0)
		fputs("<p><i>No run recorded: the campaign is older than "
		      "provenance records.</i></p>\n",
		      out);
	for (size_t i = 0; i < r->nprov; i++) {
		const struct report_prov_line *p = &r->prov[i];
		bool first = i == 0 || strcmp(p->run, r->prov[i - 1].run) != 0;
		if (first) {
			if (i)
				fputs("</table>\n", out);
			fputs("<table class=\"run\"><caption>Run ", out);
			report_put_html(out, p->run);
			fputs("</caption>\n", out);
		}
		fputs("<tr><th>", out);
		report_put_html(out, p->key);
		fputs("</th><td>", out);
		report_put_html(out, p->value);
		fputs("</td></tr>\n", out);
	}
	if (r->nprov)
		fputs("</table>\n", out);
	fputs("</div>\n", out);
}

/* The rank buckets: a table per bucket. Not a <section> (those are the
 * figures) and no data-figure rows (those are the figures' rows): a
 * bucket's rows carry data-bucket (the bound), data-bucket-figure,
 * data-scope and data-label. */
static void buckets(FILE *out, const struct report *r)
{
	char buf[512];
	bool cmp = r->has_compare;

	fprintf(out,
		"<h2 id=\"rank-buckets\">%s</h2>\n<div class=\"buckets\">\n",
		report_buckets_title);
	if (r->ranked == 0) {
		fprintf(out, "<p><i>%s.</i></p>\n</div>\n", report_no_ranks);
		return;
	}
	report_buckets_intro(r, buf, sizeof buf);
	fputs("<p>", out);
	report_put_html(out, buf);
	fputs("</p>\n", out);
	for (size_t i = 0; i < r->nbuckets; i++) {
		const struct report_bucket *b = &r->buckets[i];
		report_bucket_heading(r, b, buf, sizeof buf);
		fprintf(out,
			"<table class=\"bucket\" data-bucket=\"%ld\"><caption>",
			b->bound);
		report_put_html(out, buf);
		fputs("</caption>\n<tr><th scope=\"col\">figure</th><th "
		      "scope=\"col\">label</th><th scope=\"col\">count</th><th "
		      "scope=\"col\">of</th><th scope=\"col\">%</th>",
		      out);
		if (cmp)
			fputs("<th scope=\"col\">before</th><th "
			      "scope=\"col\">of</th><th scope=\"col\">%</th>"
			      "<th scope=\"col\">delta (points)</th>",
			      out);
		fputs("</tr>\n", out);
		for (size_t k = 0; k < b->nrows; k++) {
			const struct report_row *x = &b->rows[k].row;
			const char *fig = b->rows[k].figure->name;
			fprintf(out,
				"<tr data-bucket=\"%ld\" data-bucket-figure=\"",
				b->bound);
			report_put_html(out, fig);
			fputs("\" data-scope=\"", out);
			report_put_html(out, x->scope);
			fputs("\" data-label=\"", out);
			report_put_html(out, x->label);
			fputs("\"><td><a href=\"#", out);
			report_put_html(out, fig);
			fputs("\">", out);
			report_put_html(out, fig);
			fputs("</a></td><td>", out);
			report_put_html(out, x->label);
			fprintf(out,
				"</td><td class=\"n num\">%s</td><td class=\"n "
				"den\">%s</td><td class=\"n pct\">%s</td>",
				x->numerator, x->denominator,
				or_dash(x->percent));
			if (cmp)
				fprintf(out,
					"<td class=\"n cnum\">%s</td><td "
					"class=\"n cden\">%s</td><td class=\"n "
					"cpct\">%s</td><td class=\"n "
					"delta\">%s</td>",
					or_dash(x->cmp_numerator),
					or_dash(x->cmp_denominator),
					or_dash(x->cmp_percent),
					or_dash(x->delta));
			fputs("</tr>\n", out);
		}
		fputs("</table>\n", out);
	}
	fputs("</div>\n", out);
}

static int html_end(struct report_render_state *st, const struct report *r)
{
	buckets(st->out, r);
	how_measured(st->out, r);
	char buf[128];
	report_closing_line(r, buf, sizeof buf);
	fputs("<p>", st->out);
	report_put_html(st->out, buf);
	fputs("</p>\n</main></body></html>\n", st->out);
	return 0;
}

const struct report_renderer report_render_html = {
	.name = "html",
	.begin = html_begin,
	.section = html_section,
	.figure = html_figure,
	.end = html_end,
};
