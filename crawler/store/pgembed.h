/*
 * The embedded default database: a private PostgreSQL cluster under the
 * user's data directory, listening on a Unix socket only, created and
 * started on demand with Debian's PostgreSQL programs.
 *
 * As root (initdb refuses root) the cluster runs as an unprivileged system
 * user, "mxcrawl" unless MXCRAWL_DB_OS_USER names another; the data
 * directory then belongs to that user, and it is given search permission
 * (an ACL entry, nothing else) on the directories above it.
 */
#ifndef MXCRAWL_CRAWLER_PGEMBED_H
#define MXCRAWL_CRAWLER_PGEMBED_H

#include <errno.h>
#include <sys/types.h>

/* The database and role of the private cluster. */
#define PGEMBED_DBNAME "mxcrawl"
#define PGEMBED_ROLE "mxcrawl"
/* The login role (a member of mxcrawl_analyst, schema/roles.sql) that
 * `report --analysis-dir` runs the directory's SQL as: PGEMBED_ROLE is
 * the cluster's superuser. */
#define PGEMBED_ANALYST_ROLE "mxcrawl_report"

struct pgembed {
	char *root;    /* $XDG_DATA_HOME/mxcrawl: everything lives below */
	char *pgdata;  /* root/pg: the cluster */
	char *sockdir; /* root/run: the Unix socket */
	char *logfile; /* root/postgres.log */
	char *bindir;  /* initdb, pg_ctl: MXCRAWL_PG_BINDIR or Debian's */
	int drop;      /* running as root: run PostgreSQL as uid/gid */
	uid_t uid;
	gid_t gid;
	char os_user[64];
};

/* Works out the paths and the OS user. 0, or prints why and returns
 * -ENOENT (no home directory, unknown user), -ENAMETOOLONG (socket path),
 * -EINVAL (the user is root) or -ENOMEM. */
int pgembed_init(struct pgembed *pg);
void pgembed_free(struct pgembed *pg);

/* pgembed_start's failure when its directory (root, the socket directory,
 * the lock file) cannot be created or written: exit 73, not 69. The
 * system's reason is printed; this value stands for all of them, and no
 * other failure of pgembed returns it. */
#define PGEMBED_CANTCREATE (-EACCES)

/* Makes `dir`, a directory directly below pg->root, for another private
 * server that runs as the cluster's user (the embedded resolver): root/ is
 * prepared as for the cluster, `dir` is created 0700 and given to that
 * user, and the user can reach it. Returns 0, PGEMBED_CANTCREATE or -1
 * (reason printed). */
int pgembed_prepare_subdir(struct pgembed *pg, const char *dir, int verbose);

/* Creates the cluster if needed and starts it; a running cluster is left
 * alone. `verbose` says what is done. Returns 0, or with the reason
 * printed PGEMBED_CANTCREATE, -EPERM (the cluster's user cannot reach its
 * directory), -EEXIST (a data directory that is no cluster), -ENOENT (no
 * initdb), or -EIO (a PostgreSQL program, fork() or the database
 * failed). */
int pgembed_start(struct pgembed *pg, int verbose);

/* Stops the cluster and waits until its postmaster has exited.
 * Returns 0 (also when it was not running), PGEMBED_CANTCREATE (the lock
 * file) or -EIO, printed. */
int pgembed_stop(struct pgembed *pg, int verbose);

/* Returns the postmaster's PID if the cluster runs, 0 if not, -ENOENT if
 * the cluster has not been created. */
long pgembed_pid(const struct pgembed *pg);

/* The libpq connection string for the cluster (malloc'ed). */
char *pgembed_conninfo(const struct pgembed *pg);
/* The same for another role of the cluster (a name of plain characters:
 * it is not quoted). */
char *pgembed_conninfo_role(const struct pgembed *pg, const char *role);

#endif
