/* The report: analysis views in, figures out (see report.h). */
#include "crawler/report/report.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/util/log.h"
#include "crawler/store/db.h"
#include "crawler/util/json.h"

static const struct report_renderer *const renderers[] = {
	&report_render_text, &report_render_csv,  &report_render_json,
	&report_render_md,   &report_render_html, NULL,
};

const struct report_renderer *report_renderer_find(const char *name)
{
	for (size_t i = 0; renderers[i]; i++)
		if (strcmp(renderers[i]->name, name) == 0)
			return renderers[i];
	return NULL;
}

const char *report_renderer_names(void)
{
	return "text|csv|json|md|html";
}

/* Runs one SQL text (several statements) inside the open transaction. */
static int exec_file(PGconn *c, const char *name, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		 PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		log_error("report: analysis/%s: %s", name,
			  PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

/* The line of `sql` that the character position `pos` (1-based, as
 * PostgreSQL counts: characters, not bytes) falls on. */
static int line_of(const char *sql, long pos)
{
	int line = 1;
	for (const char *p = sql; *p && pos > 1; p++) {
		if (((unsigned char)*p & 0xc0) == 0x80)
			continue; /* a UTF-8 continuation byte */
		if (*p == '\n')
			line++;
		pos--;
	}
	return line;
}

/*
 * Runs one file of --analysis-dir. The user's SQL goes to the server as a
 * parameter of a PL/pgSQL function that EXECUTEs it, never as a query
 * string of its own: a function cannot end the transaction it runs in
 * (COMMIT, ROLLBACK, SAVEPOINT are refused), so the file cannot leave the
 * report's transaction, which is always rolled back. What it may do beyond
 * that is what the connected role may do (report_sandboxed).
 */
static int exec_user_file(PGconn *c, const char *name, const char *sql)
{
	const char *p[1] = { sql };
	PGresult *r =
	    PQexecParams(c, "SELECT pg_temp.mxcrawl_analysis_file($1)", 1, NULL,
			 p, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok) {
		/* The error's context would quote the whole file. */
		const char *msg =
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		const char *pos =
		    PQresultErrorField(r, PG_DIAG_INTERNAL_POSITION);
		const char *detail =
		    PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
		char where[32] = "";
		if (pos)
			snprintf(where, sizeof where, ":%d",
				 line_of(sql, strtol(pos, NULL, 10)));
		log_error("report: %s%s: %s%s%s%s", name, where,
			  msg ? msg : PQerrorMessage(c), detail ? " (" : "",
			  detail ? detail : "", detail ? ")" : "");
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* Only NNN_name.sql files are analysis files; anything else in the
 * directory (README.md, embed.cmake, an editor's backup) is not. */
static int sql_file_filter(const struct dirent *d)
{
	const char *n = d->d_name;
	size_t len = strlen(n);
	return n[0] >= '0' && n[0] <= '9' && len > 4 &&
	       strcmp(n + len - 4, ".sql") == 0;
}

/* Reads a whole file of at most REPORT_SQL_FILE_MAX bytes; malloc'ed,
 * NUL-terminated, or NULL after printing why. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		log_error("report: %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(REPORT_SQL_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, REPORT_SQL_FILE_MAX + 1, f) : 0;
	int err = ferror(f);
	fclose(f);
	if (!buf || err || n > REPORT_SQL_FILE_MAX) {
		log_error("report: %s: %s", path,
			  !buf	? "out of memory"
			  : err ? "read error"
				: "larger than 1 MiB");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		log_error("report: %s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
}

static int install_dir(PGconn *c, const char *dir)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, sql_file_filter, alphasort);
	int rc = 0;

	if (n < 0) {
		log_error("report: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (n == 0 || n > REPORT_SQL_FILES_MAX) {
		log_error("report: %s: %s", dir,
			  n == 0 ? "no NNN_name.sql files"
				 : "too many SQL files");
		rc = -1;
	}
	/* A function of this transaction runs each file (see
	 * exec_user_file); it goes with the rollback. */
	if (rc == 0 &&
	    exec_file(c, "(sandbox)",
		      "CREATE FUNCTION pg_temp.mxcrawl_analysis_file(sql text) "
		      "RETURNS void LANGUAGE plpgsql AS "
		      "$f$ BEGIN EXECUTE sql; END $f$") != 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < n; i++) {
		char *path = NULL;
		if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0) {
			rc = -1;
			break;
		}
		char *sql = read_file(path);
		free(path);
		if (!sql || exec_user_file(c, list[i]->d_name, sql) != 0)
			rc = -1;
		free(sql);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return rc;
}

/*
 * The views go into a schema of this session's own, analysis_<backend
 * pid>, created in the report's transaction (rolled back by report_end)
 * and put first on its search_path: the analysis files name their objects
 * unqualified. A schema name is a row of the catalogue with a unique key,
 * so two sessions creating the same name in open transactions would wait
 * for each other: two reports on one database would run one after the
 * other. The fact tables stay reachable through the rest of the path;
 * the scoped views of the same names (000_scope.sql) come first.
 */
static const char install_begin[] =
    "BEGIN; SET LOCAL client_min_messages = warning; "
    "DO $$ BEGIN "
    "EXECUTE format('CREATE SCHEMA %I', 'analysis_' || pg_backend_pid()); "
    "PERFORM set_config('search_path', "
    "quote_ident('analysis_' || pg_backend_pid()) || ', ' || "
    "current_setting('search_path'), true); "
    "END $$";

int report_install(PGconn *c, const char *dir)
{
	if (exec_file(c, "(begin)", install_begin) != 0) {
		report_end(c);
		return -1;
	}
	int rc = 0;
	if (dir)
		rc = install_dir(c, dir);
	else
		for (size_t i = 0; rc == 0 && i < report_sql_count; i++)
			rc = exec_file(c, report_sql_files[i].name,
				       report_sql_files[i].sql);
	if (rc != 0)
		report_end(c);
	return rc;
}

void report_end_nowait(PGconn *c)
{
	if (!PQsendQuery(c, "ROLLBACK"))
		report_end(c);
}

void report_end(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

int report_may_install(PGconn *c)
{
	PGresult *r = db_exec(
	    c, PGRES_TUPLES_OK, "report: reading the role's privileges",
	    "SELECT has_database_privilege(current_database(), 'CREATE'), "
	    "current_user",
	    0, NULL);
	if (!r)
		return -1;
	int may = PQgetvalue(r, 0, 0)[0] == 't';
	if (!may)
		log_error("report: role %s may not create the report's views "
			  "(a schema of its own, in a transaction that is "
			  "rolled back: CREATE on the database); make it a "
			  "member of mxcrawl_analyst (schema/roles.sql)",
			  PQgetvalue(r, 0, 1));
	PQclear(r);
	return may;
}

int report_sandboxed(PGconn *c)
{
	PGresult *r = db_exec(
	    c, PGRES_TUPLES_OK, "report: reading the role's privileges",
	    "SELECT current_user, r.rolsuper, r.rolcreaterole, "
	    "pg_has_role('pg_execute_server_program', 'USAGE') "
	    "OR pg_has_role('pg_write_server_files', 'USAGE') "
	    "OR pg_has_role('pg_read_server_files', 'USAGE'), "
	    "EXISTS (SELECT 1 FROM pg_class t "
	    "WHERE t.relnamespace = current_schema()::regnamespace "
	    "AND t.relkind IN ('r', 'p') AND has_table_privilege(t.oid, "
	    "'INSERT, UPDATE, DELETE, TRUNCATE')) "
	    "FROM pg_roles r WHERE r.rolname = current_user",
	    0, NULL);
	if (!r)
		return -1;
	const char *why = NULL;
	if (PQntuples(r) != 1)
		why = "is not in pg_roles";
	else if (PQgetvalue(r, 0, 1)[0] == 't')
		why = "is a superuser";
	else if (PQgetvalue(r, 0, 2)[0] == 't')
		why = "may create roles";
	else if (PQgetvalue(r, 0, 3)[0] == 't')
		why = "may run programs or use files on the server";
	else if (PQgetvalue(r, 0, 4)[0] == 't')
		why = "may write mxcrawl's tables";
	if (why)
		log_error(
		    "report: --analysis-dir runs the directory's SQL with "
		    "the privileges of the connected role, and role %s "
		    "%s; connect as a login role that is a member of "
		    "mxcrawl_analyst only (schema/roles.sql), e.g. "
		    "--db 'dbname=mxcrawl user=alice'",
		    PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?", why);
	PQclear(r);
	return why ? 0 : 1;
}

const char report_unvalidated_banner[] =
    "DNSSEC WAS NOT VALIDATED in this campaign: its resolver did not "
    "validate (scan --allow-unvalidated), so every DNSSEC status is "
    "unknown. Every DNSSEC- and DANE-dependent figure is \"not "
    "measured\", not 0 %.";

bool report_unvalidated(const struct report *r)
{
	return r->campaign.dnssec_validated == 0;
}

/* A column's value, or NULL when SQL NULL. */
static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static void campaign_from(struct report_campaign *c, const PGresult *r, int row)
{
	c->id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
	c->name = val(r, row, 1);
	c->created = val(r, row, 2);
	c->state = val(r, row, 3);
	c->vantage = val(r, row, 4);
	c->tool_version = val(r, row, 5);
	c->targets = val(r, row, 6);
	c->dnssec_validated = !val(r, row, 7)			? -1
			      : PQgetvalue(r, row, 7)[0] == 't' ? 1
								: 0;
}

/* Every run's provenance, as lines and as one document. 0 or -1. */
static int load_provenance(PGconn *c, const char *cid, struct report *r)
{
	const char *p[1] = { cid };

	r->res_prov = db_exec(c, PGRES_TUPLES_OK,
			      "report: reading how the campaign was measured",
			      "SELECT run, key, value "
			      "FROM campaign_provenance_lines($1::bigint)",
			      1, p);
	r->res_prov_doc = db_exec(
	    c, PGRES_TUPLES_OK, "report: reading how the campaign was measured",
	    "SELECT campaign_provenance($1::bigint)::text", 1, p);
	if (!r->res_prov || !r->res_prov_doc || PQntuples(r->res_prov_doc) != 1)
		return -1;
	r->provenance_json = PQgetvalue(r->res_prov_doc, 0, 0);
	int n = PQntuples(r->res_prov);
	r->prov = calloc((size_t)n + 1, sizeof *r->prov);
	if (!r->prov) {
		log_error("report: out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		r->prov[i].run = PQgetvalue(r->res_prov, i, 0);
		r->prov[i].key = PQgetvalue(r->res_prov, i, 1);
		r->prov[i].value = val(r->res_prov, i, 2)
				       ? PQgetvalue(r->res_prov, i, 2)
				       : "null";
	}
	r->nprov = (size_t)n;
	return 0;
}

const char report_no_ranks[] = "no ranks in the target list";
const char report_buckets_title[] = "By rank";

void report_buckets_intro(const struct report *r, char *buf, size_t len)
{
	int n = snprintf(
	    buf, len,
	    "Every headline figure's domain rows again for the targets whose "
	    "rank is at most each bound (cumulative: the top 1k are among the "
	    "top 10k). %lld of the campaign's targets have a rank",
	    r->ranked);
	if (n < 0 || (size_t)n >= len)
		return;
	if (r->unranked > 0)
		snprintf(buf + n, len - (size_t)n,
			 "; %lld have none and are in no bucket.", r->unranked);
	else
		snprintf(buf + n, len - (size_t)n, ".");
}

void report_closing_line(const struct report *r, char *buf, size_t len)
{
	snprintf(buf, len, "%zu figures. %% = count / of, one decimal%s.",
		 r->nfigures,
		 r->has_compare ? "; delta in percentage points" : "");
}

void report_bucket_heading(const struct report *r,
			   const struct report_bucket *b, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s: %s ranked target%s%s", b->label,
			 b->targets, strcmp(b->targets, "1") ? "s" : "",
			 b->whole ? " (the whole campaign)" : "");
	if (n >= 0 && (size_t)n < len && r->has_compare)
		snprintf(buf + n, len - (size_t)n, "; compared: %s",
			 b->cmp_targets ? b->cmp_targets : report_no_ranks);
}

int report_parse_buckets(const char *s, long *bounds, size_t *n, char *why,
			 size_t whylen)
{
	*n = 0;
	if (strcmp(s, "none") == 0)
		return 0;
	for (const char *p = s;; p++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char tok[32];
		long v = 0;
		bool ok = len > 0 && len < 11;
		for (size_t i = 0; ok && i < len; i++)
			if (p[i] < '0' || p[i] > '9')
				ok = false;
			else
				v = v * 10 + (p[i] - '0');
		snprintf(tok, sizeof tok, "%.*s", (int)(len < 24 ? len : 24),
			 p);
		if (!ok || v < 1 || v > 2147483647L) {
			snprintf(why, whylen,
				 "--rank-buckets: '%s' is not a rank from 1 to "
				 "2147483647",
				 tok);
			return -1;
		}
		if (*n > 0 && v <= bounds[*n - 1]) {
			snprintf(why, whylen,
				 "--rank-buckets: '%s' is not larger than the "
				 "bound before it (%ld); give them ascending",
				 tok, bounds[*n - 1]);
			return -1;
		}
		if (*n == REPORT_BUCKETS_MAX) {
			snprintf(why, whylen,
				 "--rank-buckets: more than %d bounds ('%s' is "
				 "one too many)",
				 REPORT_BUCKETS_MAX, tok);
			return -1;
		}
		bounds[(*n)++] = v;
		if (!end)
			return 0;
		p = end;
	}
}

/* "top 1k", "top 10k", "top 1M", "top 50". */
static void bucket_label(char *buf, size_t len, long bound)
{
	if (bound % 1000000 == 0)
		snprintf(buf, len, "top %ldM", bound / 1000000);
	else if (bound % 1000 == 0)
		snprintf(buf, len, "top %ldk", bound / 1000);
	else
		snprintf(buf, len, "top %ld", bound);
}

static const struct report_figure *figure_named(const struct report *r,
						const char *name)
{
	for (size_t i = 0; i < r->nfigures; i++)
		if (strcmp(r->figures[i].name, name) == 0)
			return &r->figures[i];
	return NULL;
}

/*
 * The rank buckets: what each holds (rank_buckets, 000_registry.sql) and the rows
 * of res_rows from `first` on, which report_ranked gives after
 * the figures' own, bucket by bucket in ascending order. 0 or -1.
 */
static int load_buckets(PGconn *c, const char *params[3], int first,
			struct report *r)
{
	const PGresult *x = r->res_rows;
	int nr = PQntuples(x);

	r->res_rank =
	    db_exec(c, PGRES_TUPLES_OK, "report: reading the targets' ranks",
		    "SELECT ranked, targets - ranked "
		    "FROM rank_info($1::bigint)",
		    1, params);
	if (!r->res_rank || PQntuples(r->res_rank) != 1)
		return -1;
	r->ranked = strtoll(PQgetvalue(r->res_rank, 0, 0), NULL, 10);
	r->unranked = strtoll(PQgetvalue(r->res_rank, 0, 1), NULL, 10);
	if (r->ranked == 0) {
		if (first != nr) {
			log_error("report: bucket rows without ranks");
			return -1;
		}
		return 0;
	}
	r->res_bucket_meta =
	    db_exec(c, PGRES_TUPLES_OK, "report: sizing the rank buckets",
		    "SELECT x.bound, x.targets, x.whole, y.targets "
		    "FROM rank_buckets($1::bigint, $3::integer[]) x "
		    "LEFT JOIN rank_buckets("
		    "(SELECT $2::bigint FROM rank_info($2::bigint) i "
		    "WHERE i.ranked > 0), $3::integer[]) y USING (bound) "
		    "ORDER BY x.bound",
		    3, params);
	if (!r->res_bucket_meta)
		return -1;
	const PGresult *m = r->res_bucket_meta;
	int nb = PQntuples(m);
	r->buckets = calloc((size_t)nb + 1, sizeof *r->buckets);
	r->bucket_store =
	    calloc((size_t)(nr - first) + 1, sizeof *r->bucket_store);
	if (!r->buckets || !r->bucket_store) {
		log_error("report: out of memory");
		return -1;
	}
	int j = first;
	for (int i = 0; i < nb; i++) {
		struct report_bucket *b = &r->buckets[i];
		b->bound = strtol(PQgetvalue(m, i, 0), NULL, 10);
		bucket_label(b->label, sizeof b->label, b->bound);
		b->targets = PQgetvalue(m, i, 1);
		b->whole = PQgetvalue(m, i, 2)[0] == 't';
		b->cmp_targets = val(m, i, 3);
		b->rows = r->bucket_store + (j - first);
		while (j < nr && val(x, j, 10) &&
		       strtol(PQgetvalue(x, j, 10), NULL, 10) == b->bound) {
			struct report_bucket_row *w = &b->rows[b->nrows];
			w->figure = figure_named(r, PQgetvalue(x, j, 0));
			w->row.scope = val(x, j, 1);
			w->row.label = val(x, j, 2);
			w->row.numerator = val(x, j, 3);
			w->row.denominator = val(x, j, 4);
			w->row.percent = val(x, j, 5);
			w->row.cmp_numerator = val(x, j, 6);
			w->row.cmp_denominator = val(x, j, 7);
			w->row.cmp_percent = val(x, j, 8);
			w->row.delta = val(x, j, 9);
			if (!w->figure || !w->row.scope || !w->row.label ||
			    !w->row.numerator || !w->row.denominator) {
				log_error("report: a rank bucket's row without "
					  "figure, scope, label or counts");
				return -1;
			}
			/* Not measured stays not measured in a bucket. */
			if (w->figure->cmp_not_measured)
				w->row.cmp_numerator = w->row.cmp_denominator =
				    w->row.cmp_percent = w->row.delta = NULL;
			if (!w->figure->not_measured)
				b->nrows++;
			j++;
		}
	}
	r->nbuckets = (size_t)nb;
	if (j != nr) {
		log_error("report: rows of a rank bucket not asked for");
		return -1;
	}
	return 0;
}

int report_load(PGconn *c, int64_t id, const int64_t *compare,
		const long *bounds, size_t nbounds, struct report *r)
{
	char a[24], b[24];
	/* The bounds as a PostgreSQL array literal, "{1000,10000}". */
	char arr[REPORT_BUCKETS_MAX * 12 + 3];
	const char *params[3] = { a, compare ? b : NULL, arr };
	size_t alen = 0;

	memset(r, 0, sizeof *r);
	snprintf(a, sizeof a, "%" PRId64, id);
	if (compare)
		snprintf(b, sizeof b, "%" PRId64, *compare);
	arr[alen++] = '{';
	for (size_t i = 0; i < nbounds && i < REPORT_BUCKETS_MAX; i++)
		alen += (size_t)snprintf(arr + alen, sizeof arr - alen, "%s%ld",
					 i ? "," : "", bounds[i]);
	snprintf(arr + alen, sizeof arr - alen, "}");

	r->res_meta = db_exec(
	    c, PGRES_TUPLES_OK, "report: reading the campaigns",
	    "SELECT id, name, iso_utc(created), state, vantage, tool_version, "
	    "targets, campaign_dnssec_validated(id) "
	    "FROM campaign WHERE id = $1::bigint OR id = $2::bigint "
	    "ORDER BY id = $1::bigint DESC",
	    2, params);
	/* Figures that follow units across two campaigns exist only for a
	 * pair: without --compare they are not listed at all, so that a
	 * one-campaign report is what it was before they existed. */
	r->res_list = db_exec(c, PGRES_TUPLES_OK, "report: listing the figures",
			      "SELECT name, section, section_title, kind, "
			      "title, definition, denominator_text, across, "
			      "headline, needs_dnssec FROM figure_list "
			      "WHERE NOT across OR $1::bigint IS NOT NULL "
			      "ORDER BY position",
			      1, params + 1);
	r->res_rows = db_exec(
	    c, PGRES_TUPLES_OK, "report: computing the figures",
	    "SELECT figure, scope, label, numerator, denominator, percent, "
	    "cmp_numerator, cmp_denominator, cmp_percent, delta, bucket "
	    "FROM report_ranked($1::bigint, $2::bigint, "
	    "$3::integer[])",
	    3, params);
	if (!r->res_meta || !r->res_list || !r->res_rows)
		goto fail;
	if (PQntuples(r->res_meta) != (compare && *compare != id ? 2 : 1)) {
		log_error("report: campaign vanished while reading");
		goto fail;
	}
	campaign_from(&r->campaign, r->res_meta, 0);
	if (compare) {
		r->has_compare = true;
		campaign_from(&r->compare, r->res_meta,
			      PQntuples(r->res_meta) - 1);
	}

	int nf = PQntuples(r->res_list), nr = PQntuples(r->res_rows);
	r->figures = calloc((size_t)nf + 1, sizeof *r->figures);
	struct report_row *rows = calloc((size_t)nr + 1, sizeof *rows);
	r->row_store = rows;
	if (!r->figures || !rows) {
		log_error("report: out of memory");
		goto fail;
	}
	/* Rows come in figure order; each figure takes its run of rows. */
	int j = 0;
	for (int i = 0; i < nf; i++) {
		struct report_figure *f = &r->figures[i];
		const PGresult *l = r->res_list;
		f->name = PQgetvalue(l, i, 0);
		f->section = PQgetvalue(l, i, 1);
		f->section_title = PQgetvalue(l, i, 2);
		f->kind = PQgetvalue(l, i, 3);
		f->title = PQgetvalue(l, i, 4);
		f->definition = val(l, i, 5) ? val(l, i, 5) : "";
		f->denominator_text = PQgetvalue(l, i, 6);
		f->across = strcmp(PQgetvalue(l, i, 7), "t") == 0;
		f->headline = strcmp(PQgetvalue(l, i, 8), "t") == 0;
		f->needs_dnssec = strcmp(PQgetvalue(l, i, 9), "t") == 0;
		/* A figure on DNSSEC of a campaign that did not validate has
		 * nothing to show but that (its rows would be counts of
		 * 'unknown', or zeros). An across figure needs both. */
		f->not_measured =
		    f->needs_dnssec && (r->campaign.dnssec_validated == 0 ||
					(f->across && compare &&
					 r->compare.dnssec_validated == 0));
		f->cmp_not_measured = f->needs_dnssec && compare &&
				      !f->across &&
				      r->compare.dnssec_validated == 0;
		f->rows = rows + j;
		while (j < nr && !val(r->res_rows, j, 10) &&
		       strcmp(PQgetvalue(r->res_rows, j, 0), f->name) == 0) {
			struct report_row *w = &rows[j];
			const PGresult *x = r->res_rows;
			w->scope = val(x, j, 1);
			w->label = val(x, j, 2);
			w->numerator = val(x, j, 3);
			w->denominator = val(x, j, 4);
			w->percent = val(x, j, 5);
			w->cmp_numerator = val(x, j, 6);
			w->cmp_denominator = val(x, j, 7);
			w->cmp_percent = val(x, j, 8);
			w->delta = val(x, j, 9);
			if (f->cmp_not_measured)
				w->cmp_numerator = w->cmp_denominator =
				    w->cmp_percent = w->delta = NULL;
			if (!w->scope || !w->label || !w->numerator ||
			    !w->denominator) {
				log_error("report: figure %s: a row without "
					  "scope, label or counts",
					  f->name);
				goto fail;
			}
			if (!f->not_measured)
				f->nrows++;
			j++;
		}
	}
	r->nfigures = (size_t)nf;
	if (j != nr && !val(r->res_rows, j, 10)) {
		log_error("report: rows of an unregistered figure");
		goto fail;
	}
	if (load_buckets(c, params, j, r) != 0)
		goto fail;
	if (load_provenance(c, a, r) != 0)
		goto fail;
	return 0;
fail:
	report_free(r);
	return -1;
}

int report_load_history(PGconn *c, const char *pattern, int max,
			struct report *r)
{
	char id[24], n[24], *ids = NULL;
	const char *params[3] = { id, pattern, n };

	snprintf(id, sizeof id, "%" PRId64, r->campaign.id);
	snprintf(n, sizeof n, "%d", max);
	r->has_history = true;
	r->history_pattern = pattern;
	r->history_max = max;
	/* "No later than": by creation time, and by id among campaigns
	 * created in the same instant (ids are handed out in order). */
	r->res_hist_meta = db_exec(
	    c, PGRES_TUPLES_OK, "report: choosing the history's campaigns",
	    "SELECT id, name, iso_utc(created), state, vantage, "
	    "tool_version, targets, campaign_dnssec_validated(id) FROM ("
	    "SELECT h.* FROM campaign h, campaign me "
	    "WHERE me.id = $1::bigint AND h.state = 'done' "
	    "AND h.name LIKE $2 AND (h.created, h.id) <= (me.created, me.id) "
	    "ORDER BY h.created DESC, h.id DESC LIMIT $3::integer) s "
	    "ORDER BY created, id",
	    3, params);
	if (!r->res_hist_meta)
		goto fail;
	int nc = PQntuples(r->res_hist_meta);
	r->history = calloc((size_t)nc + 1, sizeof *r->history);
	/* The ids as a PostgreSQL array literal, "{3,5,8}". */
	ids = malloc((size_t)nc * 21 + 3);
	if (!r->history || !ids) {
		log_error("report: out of memory");
		goto fail;
	}
	size_t len = 0;
	ids[len++] = '{';
	for (int i = 0; i < nc; i++) {
		campaign_from(&r->history[i], r->res_hist_meta, i);
		len += (size_t)sprintf(ids + len, "%s%" PRId64, i ? "," : "",
				       r->history[i].id);
	}
	ids[len++] = '}';
	ids[len] = '\0';
	r->nhistory = (size_t)nc;

	const char *hp[1] = { ids };
	r->res_hist_rows =
	    db_exec(c, PGRES_TUPLES_OK, "report: computing the history",
		    "SELECT figure, campaign_id, scope, label, numerator, "
		    "denominator, percent FROM history($1::bigint[])",
		    1, hp);
	if (!r->res_hist_rows)
		goto fail;
	const PGresult *x = r->res_hist_rows;
	int nr = PQntuples(x);
	r->hist_store = calloc((size_t)nr + 1, sizeof *r->hist_store);
	if (!r->hist_store) {
		log_error("report: out of memory");
		goto fail;
	}
	/* Rows come in figure order (of the headline figures), each
	 * figure's campaign by campaign in the order of ids[]. */
	int j = 0;
	for (size_t i = 0; i < r->nfigures && j < nr; i++) {
		struct report_figure *f = &r->figures[i];
		f->hist = r->hist_store + j;
		while (j < nr && strcmp(PQgetvalue(x, j, 0), f->name) == 0) {
			struct report_hist_row *w = &r->hist_store[j];
			int64_t cid = strtoll(PQgetvalue(x, j, 1), NULL, 10);
			size_t k = 0;
			while (k < r->nhistory && r->history[k].id != cid)
				k++;
			w->campaign = k;
			w->scope = val(x, j, 2);
			w->label = val(x, j, 3);
			w->numerator = val(x, j, 4);
			w->denominator = val(x, j, 5);
			w->percent = val(x, j, 6);
			/* A campaign of the history that did not validate
			 * has no percent for a figure on DNSSEC. */
			if (f->needs_dnssec && k < r->nhistory &&
			    r->history[k].dnssec_validated == 0)
				w->percent = NULL;
			if (k == r->nhistory || !w->scope || !w->label ||
			    !w->numerator || !w->denominator) {
				log_error("report: history of %s: a row "
					  "without campaign, scope, label or "
					  "counts",
					  f->name);
				goto fail;
			}
			f->nhist++;
			j++;
		}
	}
	if (j != nr) {
		log_error("report: history rows of a figure not in the "
			  "report");
		goto fail;
	}
	free(ids);
	return 0;
fail:
	free(ids);
	report_free(r);
	return -1;
}

const char *report_hist_percent(const struct report_figure *f, size_t i,
				const char *scope, const char *label)
{
	for (size_t k = 0; k < f->nhist; k++) {
		const struct report_hist_row *w = &f->hist[k];
		if (w->campaign == i && strcmp(w->scope, scope) == 0 &&
		    strcmp(w->label, label) == 0)
			return w->percent;
	}
	return NULL;
}

bool report_hist_first(const struct report_figure *f, size_t k)
{
	for (size_t j = 0; j < k; j++)
		if (strcmp(f->hist[j].scope, f->hist[k].scope) == 0 &&
		    strcmp(f->hist[j].label, f->hist[k].label) == 0)
			return false;
	return true;
}

bool report_figure_compared(const struct report *r,
			    const struct report_figure *f)
{
	return r->has_compare && !f->across;
}

void report_free(struct report *r)
{
	free(r->row_store);
	free(r->figures);
	free(r->history);
	free(r->hist_store);
	free(r->prov);
	free(r->buckets);
	free(r->bucket_store);
	PQclear(r->res_rank);
	PQclear(r->res_bucket_meta);
	PQclear(r->res_prov);
	PQclear(r->res_prov_doc);
	PQclear(r->res_meta);
	PQclear(r->res_list);
	PQclear(r->res_rows);
	PQclear(r->res_hist_meta);
	PQclear(r->res_hist_rows);
	memset(r, 0, sizeof *r);
}

int report_render(const struct report *r, const struct report_renderer *rr,
		  FILE *out)
{
	struct report_render_state st = { .out = out };
	int rc = rr->begin(&st, r);

	for (size_t i = 0; rc == 0 && i < r->nfigures; i++) {
		const struct report_figure *f = &r->figures[i];
		if (i == 0 || strcmp(f->section, r->figures[i - 1].section)) {
			rc = rr->section(&st, r, f);
			st.nsections_done++;
		}
		if (rc == 0)
			rc = rr->figure(&st, r, f);
		st.nfigures_done++;
	}
	if (rc == 0)
		rc = rr->end(&st, r);
	if (fflush(out) != 0 || ferror(out))
		rc = -1;
	return rc;
}

void report_put_json_string(FILE *out, const char *s)
{
	struct jbuf b;
	jbuf_init(&b, 4u * REPORT_SQL_FILE_MAX);
	jbuf_json_string(&b, s, strlen(s));
	if (!b.failed)
		fwrite(b.data, 1, b.len, out);
	else
		fputs("null", out);
	jbuf_free(&b);
}

void report_put_json_number(FILE *out, const char *s)
{
	fputs(s ? s : "null", out);
}

void report_put_html(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}
