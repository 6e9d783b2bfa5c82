/*
 * Schema migrations: the numbered SQL files of schema/, compiled into the
 * binary (schema/embed.cmake), applied in order, each in one transaction,
 * and recorded in schema_version. Concurrent mxcrawl processes serialise on
 * an advisory lock, so running migrate anywhere, any number of times, is
 * safe; an applied migration is never run again.
 */
#ifndef MXCRAWL_CRAWLER_MIGRATE_H
#define MXCRAWL_CRAWLER_MIGRATE_H

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
 * Returns 0, or -1 with the reason printed (nothing of a failed migration
 * stays).
 */
int migrate_run(PGconn *c, int verbose, int *applied, int *version);

/* The database's schema version: 0 when none applied, -1 on error. */
int migrate_current(PGconn *c);

#endif
