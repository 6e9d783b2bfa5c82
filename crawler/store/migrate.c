#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/util/log.h"
#include "crawler/store/db.h"
#include "crawler/store/migrate.h"

/* pg_advisory_lock key: "mxcr" "migr" as two ASCII words. */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_lock(1836612466, 1835624306)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock(1836612466, 1835624306)"

int migrate_latest(void)
{
	return migrations_count ? migrations[migrations_count - 1].version : 0;
}

static int exec_ok(PGconn *c, const char *what, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		log_error("%s: %s", what, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -EIO;
}

int migrate_current(PGconn *c)
{
	PGresult *r =
	    PQexec(c, "SELECT to_regclass('schema_version') IS NOT NULL");
	int v = -EIO;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		goto out;
	if (PQgetvalue(r, 0, 0)[0] != 't') {
		v = 0;
		goto out;
	}
	PQclear(r);
	r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		v = atoi(PQgetvalue(r, 0, 0));
out:
	if (v < 0)
		log_error("cannot read the schema version: %s",
			  PQerrorMessage(c));
	PQclear(r);
	return v;
}

static int apply(PGconn *c, const struct migration *m, int verbose,
		 int *applied)
{
	char version[16];
	const char *params[2] = { version, m->name };
	PGresult *r;

	snprintf(version, sizeof version, "%d", m->version);
	if (exec_ok(c, "begin", "BEGIN") != 0)
		return -EIO;
	r = db_exec(c, PGRES_TUPLES_OK, "reading schema_version",
		    "SELECT 1 FROM schema_version WHERE version = $1", 1,
		    params);
	if (!r)
		goto fail;
	int done = PQntuples(r) > 0;
	PQclear(r);
	if (done)
		return exec_ok(c, "commit", "COMMIT");
	if (verbose)
		printf("applying migration %03d_%s\n", m->version, m->name);
	r = PQexec(c, m->sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("migration %03d_%s failed: %s", m->version, m->name,
			  PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	r = db_exec(
	    c, PGRES_COMMAND_OK, "recording the migration",
	    "INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2,
	    params);
	if (!r)
		goto fail;
	PQclear(r);
	if (exec_ok(c, "commit", "COMMIT") != 0)
		return -EIO;
	(*applied)++;
	return 0;
fail:
	exec_ok(c, "rollback", "ROLLBACK");
	return -EIO;
}

/* schema/roles.sql, and the private cluster's login role of the analyst;
 * the caller holds the migration lock. */
static int install_roles(PGconn *c, const char *login)
{
	int rc = -EIO;

	if (exec_ok(c, "begin",
		    "BEGIN; SET LOCAL client_min_messages = warning") != 0)
		return -EIO;
	if (exec_ok(c, "granting the roles (schema/roles.sql)",
		    migrate_roles_sql) != 0)
		goto fail;
	if (login) {
		const char *p[1] = { login };
		PGresult *r = db_exec(
		    c, PGRES_TUPLES_OK, "creating the analyst's login role",
		    "SELECT NOT EXISTS (SELECT 1 FROM pg_roles "
		    "WHERE rolname = $1)",
		    1, p);
		if (!r)
			goto fail;
		int missing = PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		char *q = PQescapeIdentifier(c, login, strlen(login));
		char sql[256];
		if (!q) {
			rc = -ENOMEM;
			goto fail;
		}
		if (missing)
			snprintf(sql, sizeof sql,
				 "CREATE ROLE %s LOGIN IN ROLE mxcrawl_analyst",
				 q);
		else
			snprintf(sql, sizeof sql, "GRANT mxcrawl_analyst TO %s",
				 q);
		PQfreemem(q);
		if (exec_ok(c, "creating the analyst's login role", sql) != 0)
			goto fail;
	}
	return exec_ok(c, "commit", "COMMIT");
fail:
	exec_ok(c, "rollback", "ROLLBACK");
	return rc;
}

int migrate_roles(PGconn *c, const char *login)
{
	/* Done once: re-granting on every table on each use would touch the
	 * catalog rows of tables that crawlers may be altering (partitions);
	 * migrate_run grants on what later migrations add. */
	if (login) {
		const char *p[1] = { login };
		PGresult *r = db_exec(
		    c, PGRES_TUPLES_OK, "looking for the analyst's login role",
		    "SELECT CASE WHEN to_regrole($1) IS NULL OR "
		    "to_regrole('mxcrawl_analyst') IS NULL THEN false "
		    "ELSE pg_has_role($1, 'mxcrawl_analyst', 'MEMBER') END",
		    1, p);
		if (!r)
			return -EIO;
		int done = PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (done)
			return 0;
	}
	if (exec_ok(c, "taking the migration lock", MIGRATE_LOCK_SQL) != 0)
		return -EIO;
	int rc = install_roles(c, login);
	exec_ok(c, "releasing the migration lock", MIGRATE_UNLOCK_SQL);
	return rc;
}

/* Whether the roles of schema/roles.sql exist: 1, 0, or -EIO. */
static int roles_exist(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT to_regrole('mxcrawl_analyst') "
				"IS NOT NULL");
	int v = PQresultStatus(r) == PGRES_TUPLES_OK
		    ? PQgetvalue(r, 0, 0)[0] == 't'
		    : -EIO;
	PQclear(r);
	return v;
}

int migrate_run(PGconn *c, int verbose, int *applied, int *version)
{
	int rc = -EIO;

	*applied = 0;
	if (exec_ok(c, "taking the migration lock", MIGRATE_LOCK_SQL) != 0)
		return -EIO;
	if (exec_ok(c, "creating schema_version",
		    "SET client_min_messages = warning;"
		    "CREATE TABLE IF NOT EXISTS schema_version ("
		    " version integer PRIMARY KEY,"
		    " name text NOT NULL,"
		    " applied_at timestamptz NOT NULL DEFAULT now())") != 0)
		goto out;
	int cur = migrate_current(c);
	if (cur < 0)
		goto out;
	if (cur > migrate_latest()) {
		log_error("the database's schema is at version %d, newer than "
			  "this mxcrawl knows (%d); use a newer mxcrawl",
			  cur, migrate_latest());
		rc = -ENOTSUP;
		goto out;
	}
	for (size_t i = 0; i < migrations_count; i++)
		if (apply(c, &migrations[i], verbose, applied) != 0)
			goto out;
	rc = migrate_current(c);
	*version = rc < 0 ? 0 : rc;
	rc = rc < 0 ? rc : 0;
	/* Tables a migration added need the roles' grants too; the roles
	 * are there only where someone ran schema/roles.sql. The migration
	 * itself stays applied if this fails: it is the grants that lag. */
	if (rc == 0 && *applied > 0 && roles_exist(c) == 1 &&
	    install_roles(c, NULL) != 0)
		log_error("warning: the migrations are applied, but granting "
			  "the roles failed: run schema/roles.sql again as a "
			  "superuser");
out:
	exec_ok(c, "releasing the migration lock", MIGRATE_UNLOCK_SQL);
	return rc;
}

int migrate_ensure(PGconn *c)
{
	int cur = migrate_current(c), latest = migrate_latest();

	if (cur < 0)
		return cur;
	if (cur > latest) {
		log_error("the database's schema is at version %d, newer than "
			  "this mxcrawl knows (%d); use a newer mxcrawl",
			  cur, latest);
		return -ENOTSUP;
	}
	if (cur == latest)
		return 0;
	/* Behind. Whoever may migrate (owns schema_version, or may create it
	 * where there is none) does it on the spot, as every command always
	 * did; a crawler or an analyst may not, and is told who must. */
	PGresult *r = PQexec(
	    c,
	    "SELECT CASE WHEN to_regclass('schema_version') IS NULL "
	    "THEN coalesce(has_schema_privilege(current_schema(), 'CREATE'), "
	    "false) "
	    "ELSE pg_has_role((SELECT relowner FROM pg_class WHERE oid = "
	    "to_regclass('schema_version')), 'USAGE') END, current_user");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("cannot tell whether this role may migrate: %s",
			  PQresultErrorMessage(r));
		PQclear(r);
		return -EIO;
	}
	int may = PQgetvalue(r, 0, 0)[0] == 't';
	if (!may) {
		if (cur == 0)
			log_error("the database has no mxcrawl schema yet, and "
				  "role %s may not create it: the database's "
				  "owner (a member of mxcrawl_owner) must run "
				  "`mxcrawl db migrate` first",
				  PQgetvalue(r, 0, 1));
		else
			log_error(
			    "the database's schema is at version %d, and "
			    "this mxcrawl needs %d: a migration is "
			    "pending, and role %s may not apply it; the "
			    "database's owner (a member of mxcrawl_owner) "
			    "must run `mxcrawl db migrate`",
			    cur, latest, PQgetvalue(r, 0, 1));
		PQclear(r);
		return MIGRATE_BEHIND;
	}
	PQclear(r);
	int applied, version;
	return migrate_run(c, 0, &applied, &version);
}
