/*
 * Schema migrations: the numbered SQL files of schema/, compiled into the
 * binary (schema/embed.cmake), applied in order, each in one transaction,
 * and recorded in schema_version. Concurrent mxcrawl processes serialise on
 * an advisory lock, so running migrate anywhere, any number of times, is
 * safe; an applied migration is never run again.
 */
#ifndef MXCRAWL_CRAWLER_MIGRATE_H
#define MXCRAWL_CRAWLER_MIGRATE_H

#include <errno.h>
#include <stddef.h>

#include <libpq-fe.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* Generated: every migration, ascending by version. */
extern const struct migration migrations[];
extern const size_t migrations_count;

/* The newest version this binary knows. */
int migrate_latest(void);

/*
 * Applies what is missing. Sets *applied to the number applied now and
 * *version to the schema version afterwards. `verbose` names each one.
 * Returns 0, or with the reason printed (nothing of a failed migration
 * stays) -EIO for the database, -ENOTSUP for a schema newer than this
 * mxcrawl knows.
 */
int migrate_run(PGconn *c, int verbose, int *applied, int *version);

/*
 * For every command but `db migrate`: the schema must be at this mxcrawl's
 * version. Up to date: 0, and nothing is written. Behind: a role that may
 * migrate (the owner, a superuser) migrates now (0, or migrate_run()'s
 * error); any other role gets a message naming who must run `mxcrawl db
 * migrate` and MIGRATE_BEHIND (commands exit EX_CONFIG, 78). Any other
 * error is printed: -EIO, or -ENOTSUP for a schema newer than this
 * mxcrawl.
 */
/* The role may not migrate: EACCES, which no other failure returns. */
#define MIGRATE_BEHIND (-EACCES)
int migrate_ensure(PGconn *c);

/* The GRANT script, schema/roles.sql (generated from it). */
extern const char migrate_roles_sql[];

/*
 * Runs schema/roles.sql (idempotent; needs a superuser or the owner with
 * CREATEROLE), and makes `login` (when not NULL) a login role that is a
 * member of mxcrawl_analyst; with a login that already is one, does
 * nothing. Returns 0, -EIO with the reason printed, or -ENOMEM.
 */
int migrate_roles(PGconn *c, const char *login);

/* The database's schema version: 0 when none applied, -EIO on error
 * (printed). */
int migrate_current(PGconn *c);

#endif
