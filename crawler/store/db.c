#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "crawler/util/log.h"
#include "crawler/store/db.h"

/* libpq reads these; if any is set, the user chose a server. */
static const char *const pg_env[] = {
	"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE",
	"PGUSER", "PGSERVICE",	NULL,
};

/* libpq's messages end with a newline and may span lines; keep the first. */
static void first_line(char *msg)
{
	char *nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
}

/* A conninfo the user gave must parse before it is used: libpq's
 * connection error for it would read like an unreachable server (69).
 * Returns EX_OK or `bad` (the reason printed, without the string itself,
 * which may hold a password). */
static int check_conninfo(const char *conninfo, const char *source, int bad)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);

	if (opts) {
		PQconninfoFree(opts);
		return EX_OK;
	}
	if (err) {
		first_line(err);
		/* libpq quotes a bad URI whole, password and all: cut it. */
		char *at = *conninfo ? strstr(err, conninfo) : NULL;
		if (at) {
			while (at > err && strchr(" :\"", at[-1]))
				at--;
			*at = '\0';
		}
	}
	log_error("%s is not a valid PostgreSQL connection string or URI: %s",
		  source, err && *err ? err : "out of memory");
	PQfreemem(err);
	return bad;
}

int db_init(struct db *db, const char *opt_db)
{
	const char *env = getenv("MXCRAWL_DB");
	int rc;

	memset(db, 0, sizeof *db);
	db->fail_status = EX_UNAVAILABLE;
	if (opt_db && (rc = check_conninfo(opt_db, "--db", EX_USAGE)) != EX_OK)
		return rc;
	if (!opt_db && env && *env &&
	    (rc = check_conninfo(env, "$MXCRAWL_DB", EX_CONFIG)) != EX_OK)
		return rc;
	if (opt_db) {
		db->conninfo = strdup(opt_db);
		db->source = "--db";
	} else if (env && *env) {
		db->conninfo = strdup(env);
		db->source = "MXCRAWL_DB";
	} else {
		for (const char *const *v = pg_env; *v; v++) {
			if (getenv(*v)) {
				db->conninfo = strdup("");
				db->source = "PG* environment variables";
				break;
			}
		}
	}
	if (db->conninfo)
		return EX_OK;
	if (pgembed_init(&db->pg) != 0)
		return EX_CONFIG;
	db->embedded = 1;
	db->source = "the private cluster";
	db->conninfo = pgembed_conninfo(&db->pg);
	if (!db->conninfo) {
		log_error("out of memory");
		return EX_OSERR;
	}
	return EX_OK;
}

void db_free(struct db *db)
{
	if (db->embedded)
		pgembed_free(&db->pg);
	free(db->conninfo);
	memset(db, 0, sizeof *db);
}

/* Appends " key=value" to a malloc'ed string; values with spaces quoted. */
static int append_kv(char **s, size_t *len, const char *k, const char *v)
{
	int quote = strpbrk(v, " '\\") != NULL || *v == '\0';
	size_t need = *len + strlen(k) + 2 * strlen(v) + 6;
	char *n = realloc(*s, need);
	char *p;

	if (!n)
		return -ENOMEM;
	*s = n;
	p = n + *len;
	p += sprintf(p, "%s%s=", *len ? " " : "", k);
	if (quote)
		*p++ = '\'';
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			*p++ = '\\';
		*p++ = *v;
	}
	if (quote)
		*p++ = '\'';
	*p = '\0';
	*len = (size_t)(p - n);
	return 0;
}

/* The parameters shown first, in this order; the rest follow as parsed. */
static const char *const display_first[] = {
	"host", "hostaddr", "port", "dbname", "user", NULL,
};

static int is_display_first(const char *k)
{
	for (const char *const *f = display_first; *f; f++)
		if (strcmp(*f, k) == 0)
			return 1;
	return 0;
}

/* The value of keyword k in parsed options: the option's own value, else
 * (for the leading ones) what libpq took from the environment. */
static const char *display_value(PQconninfoOption *opts, PGconn *conn,
				 const char *k)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, k) == 0 && o->val)
			return o->val;
	if (!conn)
		return NULL;
	if (strcmp(k, "host") == 0)
		return PQhost(conn);
	if (strcmp(k, "port") == 0)
		return PQport(conn) && *PQport(conn) ? PQport(conn) : NULL;
	if (strcmp(k, "dbname") == 0)
		return PQdb(conn);
	if (strcmp(k, "user") == 0)
		return PQuser(conn);
	return NULL;
}

char *db_conninfo_display(const char *conninfo, PGconn *conn)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	int parsed = opts != NULL;
	char *s = NULL;
	size_t len = 0;

	for (const char *const *f = display_first; *f; f++) {
		const char *v = display_value(opts, conn, *f);
		if (v)
			append_kv(&s, &len, *f, v);
	}
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "password") == 0 ||
		    is_display_first(o->keyword))
			continue;
		append_kv(&s, &len, o->keyword, o->val);
	}
	if (opts)
		PQconninfoFree(opts);
	if (!s)
		s = strdup(parsed ? "(libpq defaults)"
				  : "(unparsable conninfo)");
	return s;
}

PGconn *db_connect(struct db *db)
{
	PGconn *c;

	db->fail_status = EX_UNAVAILABLE;
	if (db->embedded) {
		int started = pgembed_start(&db->pg, 0);
		if (started != 0) {
			if (started == PGEMBED_CANTCREATE)
				db->fail_status = EX_CANTCREAT;
			return NULL;
		}
	}
	c = PQconnectdb(db->conninfo);
	if (c && PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, "SET application_name = 'mxcrawl'");
		PQclear(r);
		return c;
	}
	char *shown = db_conninfo_display(db->conninfo, c);
	char *err = strdup(c ? PQerrorMessage(c) : "out of memory");
	if (err)
		first_line(err);
	log_error("cannot connect to PostgreSQL (%s, from %s): %s",
		  shown ? shown : "?", db->source, err ? err : "?");
	free(err);
	free(shown);
	PQfinish(c);
	return NULL;
}

PGresult *db_exec(PGconn *c, ExecStatusType want, const char *what,
		  const char *sql, int nparams, const char *const *params)
{
	PGresult *r =
	    PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) == want)
		return r;
	char *err = strdup(PQresultErrorMessage(r));
	if (err)
		first_line(err);
	log_error("%s: %s", what, err && *err ? err : PQerrorMessage(c));
	free(err);
	PQclear(r);
	return NULL;
}
