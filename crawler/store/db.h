/*
 * Which PostgreSQL mxcrawl talks to, and connecting to it: --db CONNINFO,
 * else $MXCRAWL_DB, else libpq's PG* variables, else the private cluster
 * (pgembed.h), started on demand.
 */
#ifndef MXCRAWL_CRAWLER_DB_H
#define MXCRAWL_CRAWLER_DB_H

#include <libpq-fe.h>

#include "crawler/store/pgembed.h"

struct db {
	char *conninfo;	    /* what libpq gets (may hold a password) */
	const char *source; /* where it came from, for messages */
	int embedded;	    /* the private cluster */
	/* The exit status for db_connect's last failure: EX_CANTCREAT when
	 * the private cluster's directory cannot be created or written,
	 * else EX_UNAVAILABLE. */
	int fail_status;
	struct pgembed pg;
};

/* Chooses the database; opt_db is the --db value or NULL. Returns EX_OK,
 * or (reason printed) EX_USAGE for a --db that libpq cannot parse,
 * EX_CONFIG for such a $MXCRAWL_DB or a private cluster that cannot be
 * used (no home directory, no system user). */
int db_init(struct db *db, const char *opt_db);
void db_free(struct db *db);

/*
 * Connects (starting the private cluster first if that is the choice).
 * On failure prints one message naming the connection parameters used,
 * never the password, sets db->fail_status and returns NULL.
 */
PGconn *db_connect(struct db *db);

/*
 * The connection parameters of a conninfo string or URI without the
 * password, as "key=value ..." (malloc'ed), for messages. Parameters that
 * come from the environment are filled in from `conn` when given.
 */
char *db_conninfo_display(const char *conninfo, PGconn *conn);

/* Runs a statement with text parameters; returns the result if its status
 * is `want`, else prints "what: error" and returns NULL. */
PGresult *db_exec(PGconn *c, ExecStatusType want, const char *what,
		  const char *sql, int nparams, const char *const *params);

#endif
