/*
 * The report: installs the analysis views (analysis/NNN_name.sql, one view per
 * figure, compiled into the binary or read from a directory), loads every
 * registered figure of a campaign (and optionally a second one to compare
 * with), and hands the figures to a renderer.
 *
 * Figures are not listed here: the views register themselves in
 * analysis.figure, so a new figure is one more SQL file and every renderer
 * shows it. Figures of an across section (section 'change') follow units
 * from the compared campaign into this one and are loaded only with a
 * campaign to compare with; headline figures (the registry's headline
 * column) also carry their rows in every campaign of a history
 * (report_load_history). All numbers reach the renderers as the text PostgreSQL
 * printed (counts, numeric percents with one decimal), so every format
 * shows the same digits.
 */
#ifndef MXCRAWL_CRAWLER_REPORT_H
#define MXCRAWL_CRAWLER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

/* Largest analysis SQL file read from --analysis-dir. */
#define REPORT_SQL_FILE_MAX (1u << 20)
/* Most analysis SQL files read from a directory. */
#define REPORT_SQL_FILES_MAX 1000
/* Most campaigns `report --history` reads (--history-max), and its
 * default: a quarter of weekly campaigns. */
#define REPORT_HISTORY_MAX 100
#define REPORT_HISTORY_DEFAULT 12

/* One analysis SQL file compiled into the binary (analysis/embed.cmake). */
struct report_sql {
	const char *name; /* "010_funnel.sql" */
	const char *sql;
};
extern const struct report_sql report_sql_files[];
extern const size_t report_sql_count;

/* One row of a figure. Numbers are decimal text; NULL where there is none
 * (percent of an empty denominator; the cmp_ fields without --compare). */
struct report_row {
	const char *scope; /* domain, mx_host, domain_mx, endpoint, address */
	const char *label;
	const char *numerator, *denominator, *percent;
	const char *cmp_numerator, *cmp_denominator, *cmp_percent;
	const char *delta; /* percent - cmp_percent, in percentage points */
};

/* One row of a headline figure in one campaign of the history. */
struct report_hist_row {
	size_t campaign; /* index into struct report's history[] */
	const char *scope, *label;
	const char *numerator, *denominator, *percent; /* percent may be NULL */
};

/* One registered figure, in report order. */
struct report_figure {
	const char *name;	   /* the view's name */
	const char *section;	   /* section id, e.g. "transport" */
	const char *section_title; /* "Transport" */
	const char *kind;	   /* share | distribution | causes */
	const char *title;	   /* one line */
	const char
	    *definition; /* the view's COMMENT: definition and denominator */
	const char *denominator_text; /* the denominator in a few words */
	/* Follows units from the compared campaign into this one (section
	 * 'change'): listed only with --compare; its rows have no cmp_
	 * numbers and no delta, since the rows are the pair's own. */
	bool across;
	bool headline; /* has a history (--history) and a trend chart */
	/* Every number depends on DNSSEC validation (analysis.figure_list's
	 * needs_dnssec). not_measured: it does and the campaign's resolver
	 * did not validate, so the figure has no rows and renderers print
	 * REPORT_NOT_MEASURED instead; cmp_not_measured: the same of the
	 * compared campaign (its cmp_ numbers and deltas are NULL). */
	bool needs_dnssec, not_measured, cmp_not_measured;
	size_t nrows;
	struct report_row *rows; /* into struct report's results */
	/* With --history, a headline figure's rows in every campaign of the
	 * history, campaign by campaign (oldest first), each in report
	 * order; none for other figures. */
	size_t nhist;
	struct report_hist_row *hist;
};

/* Rank buckets (`report --rank-buckets`): most bounds, the default's. */
#define REPORT_BUCKETS_MAX 16
#define REPORT_BUCKETS_DEFAULT "1000,10000,100000,1000000"

/* One row of a headline figure in a rank bucket: its domain rows only. */
struct report_bucket_row {
	const struct report_figure *figure;
	struct report_row row; /* scope is always "domain" */
};

/* One rank bucket: the targets with rank <= bound (cumulative). */
struct report_bucket {
	long bound;
	char label[32];		 /* "top 1k", "top 10k", "top 50" */
	const char *targets;	 /* ranked targets in it */
	bool whole;		 /* every target of the campaign */
	const char *cmp_targets; /* the compared campaign's, or NULL */
	size_t nrows;
	struct report_bucket_row *rows; /* figure by figure, report order */
};

/* What a campaign is, for the report's header. */
struct report_campaign {
	int64_t id;
	const char *name, *created, *state, *vantage, *tool_version, *targets;
	/* campaign_dnssec_validated(): 1 validated, 0 not (a run scanned
	 * through a resolver that does not validate), -1 nothing scanned. */
	int dnssec_validated;
};

/* What a figure that cannot be counted shows instead of its numbers. */
#define REPORT_NOT_MEASURED "not measured"
/* The banner of a report on a campaign whose DNSSEC was not validated. */
extern const char report_unvalidated_banner[];

/* One fact of how a campaign was measured: run number (from 1), key
 * (a dotted path, "resolver.address") and value, as text. */
struct report_prov_line {
	const char *run, *key, *value;
};

/* A loaded report; owns everything its pointers point into. */
struct report {
	struct report_campaign campaign;
	bool has_compare;
	struct report_campaign compare;
	size_t nfigures;
	struct report_figure *figures;
	struct report_row *row_store; /* owned; figures point into it */
	PGresult *res_meta, *res_list, *res_rows; /* owned */
	/* --history: the campaigns (oldest first) and what chose them. */
	bool has_history;
	const char *history_pattern; /* as given; not owned */
	int history_max;
	size_t nhistory;
	struct report_campaign *history;	 /* owned */
	struct report_hist_row *hist_store;	 /* owned; figures point in */
	PGresult *res_hist_meta, *res_hist_rows; /* owned */
	/* How the campaign was measured (campaign_run, schema/016): its
	 * runs' facts as lines, and the whole as one JSON document. */
	size_t nprov;
	struct report_prov_line *prov; /* owned */
	const char *provenance_json;
	PGresult *res_prov, *res_prov_doc; /* owned */
	/* Rank buckets. ranked: targets of the campaign with a rank (0: the
	 * target list had no ranks, and there are no buckets); unranked:
	 * targets without one, which are in no bucket. */
	long long ranked, unranked;
	size_t nbuckets;
	struct report_bucket *buckets;		/* owned */
	struct report_bucket_row *bucket_store; /* owned */
	PGresult *res_rank, *res_bucket_meta;	/* owned */
};

/* The text that replaces the buckets of a campaign without ranks. */
extern const char report_no_ranks[];
/* The title of the rank buckets' section. */
extern const char report_buckets_title[];
/* What the rank buckets are, in a sentence or two for r (into buf). */
void report_buckets_intro(const struct report *r, char *buf, size_t len);
/* The report's last line: how many figures, what % and delta mean. */
void report_closing_line(const struct report *r, char *buf, size_t len);
/* A bucket's heading: "top 1k: 1000 ranked targets (the whole list)". */
void report_bucket_heading(const struct report *r,
			   const struct report_bucket *b, char *buf,
			   size_t len);

/*
 * Parses --rank-buckets: comma-separated bounds, each an integer from 1
 * to 2^31-1, strictly ascending, at most REPORT_BUCKETS_MAX; or "none"
 * (no bucket). Fills
 * bounds[] and *n and returns 0, or returns -1 after writing into `why`
 * what is wrong, naming the bad value.
 */
int report_parse_buckets(const char *s, long *bounds, size_t *n, char *why,
			 size_t whylen);

/* Whether the report's campaign was scanned without DNSSEC validation. */
bool report_unvalidated(const struct report *r);

/*
 * A renderer: one output format. The report calls begin once, then for
 * each figure section() when a new section starts and figure() with all of
 * the figure's rows (so a renderer can size columns or draw a chart), then
 * end once. Each returns 0, or -1 to stop. `out` is the output stream;
 * `st` is per-run scratch the renderer may use (zeroed before begin).
 */
struct report_render_state {
	FILE *out;
	size_t nfigures_done; /* figures rendered so far */
	size_t nsections_done;
};

struct report_renderer {
	const char *name; /* the --format value */
	/* Header: the campaign(s) the report is about. */
	int (*begin)(struct report_render_state *st, const struct report *r);
	/* A new section starts; `f` is its first figure (section, section_title). */
	int (*section)(struct report_render_state *st, const struct report *r,
		       const struct report_figure *f);
	/* One figure, definition and rows. */
	int (*figure)(struct report_render_state *st, const struct report *r,
		      const struct report_figure *f);
	/* Footer; flushes whatever the renderer kept. */
	int (*end)(struct report_render_state *st, const struct report *r);
};

extern const struct report_renderer report_render_text;
extern const struct report_renderer report_render_csv;
extern const struct report_renderer report_render_json;
extern const struct report_renderer report_render_md;
extern const struct report_renderer report_render_html;

/* The renderer for a --format value, or NULL. */
const struct report_renderer *report_renderer_find(const char *name);
/* "text|csv|json|md|html", for usage messages. */
const char *report_renderer_names(void);

/*
 * Opens the report's transaction and creates the analysis schema in it
 * from the SQL files in `dir` (NNN_name.sql, applied in name order), or
 * from the copies compiled into the binary when dir is NULL. The views
 * live only in this transaction: read the figures (report_load...), then
 * end it with report_end, which rolls it back, so the report writes
 * nothing and a role that may only read can run it. The files of `dir`
 * cannot end the transaction themselves (each runs inside a function).
 * On failure the transaction is rolled back, the file and PostgreSQL's
 * message are printed, and -1 is returned; else 0.
 */
int report_install(PGconn *c, const char *dir);

/* Ends the report's transaction: rolls it back. */
void report_end(PGconn *c);
/* report_end without waiting for the ROLLBACK: dropping the cache tables
 * of a million-domain report takes the server a second or more, which
 * the command spends rendering and writing instead. The connection must
 * not be used again but to close it (PQfinish). */
void report_end_nowait(PGconn *c);

/*
 * Whether the connected role may create the analysis schema (CREATE on
 * the database; pg_read_all_data alone is not enough). Returns 1 if it
 * may; 0 after printing what to grant; -1 on a database error (printed).
 */
int report_may_install(PGconn *c);

/*
 * Whether the connected role is fit to run --analysis-dir SQL: it must not
 * be a superuser, create roles, run programs or use server files
 * (pg_execute_server_program, pg_*_server_files) or write any of
 * mxcrawl's tables. Returns 1 if fit; 0 after printing why not; -1 on a
 * database error (printed).
 */
int report_sandboxed(PGconn *c);

/*
 * Loads every registered figure of campaign `id` and, when compare is
 * not NULL, of campaign *compare beside it; if the campaign has ranks,
 * also the rank buckets of `bounds` (analysis.report_ranked). Returns 0, or -1 after
 * printing why (r is then empty). Free with report_free().
 */
int report_load(PGconn *c, int64_t id, const int64_t *compare,
		const long *bounds, size_t nbounds, struct report *r);

/*
 * Adds a history to a loaded report (`report --history`): the newest
 * `max` (1..REPORT_HISTORY_MAX) campaigns in state done whose name
 * matches the SQL LIKE `pattern` and that were created no later than the
 * report's campaign, oldest first, and every headline figure's rows in
 * each of them (analysis.history). `pattern` must outlive r. Returns 0,
 * or -1 after printing why (r is then freed and empty).
 */
int report_load_history(PGconn *c, const char *pattern, int max,
			struct report *r);
void report_free(struct report *r);

/* With --history, the percent of row (scope, label) of figure f in
 * history campaign i, or NULL (no such row there, or no percent). */
const char *report_hist_percent(const struct report_figure *f, size_t i,
				const char *scope, const char *label);
/* Whether history row k of figure f is the first with its scope and
 * label: walking f->hist and keeping these lists every line of the
 * history once, in the order the oldest campaign that has it gives. */
bool report_hist_first(const struct report_figure *f, size_t k);
/* Whether the figure has cmp_ numbers to show: --compare was given and
 * the figure is not an across one. */
bool report_figure_compared(const struct report *r,
			    const struct report_figure *f);

/* Renders a loaded report; 0, or -1 when a write failed. */
int report_render(const struct report *r, const struct report_renderer *rr,
		  FILE *out);

/* Helpers the renderers share. */

/* Writes s as a JSON string (quoted, escaped; invalid UTF-8 replaced). */
void report_put_json_string(FILE *out, const char *s);
/* Writes s with &, <, >, " and ' escaped for HTML text and attributes. */
void report_put_html(FILE *out, const char *s);
/* A JSON number, or null when s is NULL. */
void report_put_json_number(FILE *out, const char *s);

#endif
