#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crawler/util/log.h"
#include "crawler/store/pgembed.h"
#include "crawler/util/str.h"

#define PGEMBED_DEFAULT_BINDIR "/usr/lib/postgresql/15/bin"
#define PGEMBED_DEFAULT_OS_USER "mxcrawl"
#define PGEMBED_PORT "5432"
/* Seconds pg_ctl waits for the server to start or stop. */
#define PGEMBED_WAIT_SECONDS "120"
/* Deepest data directory path we walk when granting search permission. */
#define PGEMBED_MAX_DEPTH 64

/* XDG base directory spec: $XDG_DATA_HOME if absolute, else ~/.local/share. */
static char *data_home(void)
{
	const char *x = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (x && x[0] == '/')
		return strdup(x);
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/')
			return NULL;
		home = pw->pw_dir;
	}
	return str_printf("%s/.local/share", home);
}

int pgembed_init(struct pgembed *pg)
{
	const char *bindir = getenv("MXCRAWL_PG_BINDIR");
	const char *user = getenv("MXCRAWL_DB_OS_USER");
	char *base;

	memset(pg, 0, sizeof *pg);
	base = data_home();
	if (!base) {
		log_error("cannot find the data directory for the private "
			  "database: set XDG_DATA_HOME or HOME, or use --db");
		return -ENOENT;
	}
	pg->root = str_printf("%s/mxcrawl", base);
	free(base);
	pg->pgdata = str_printf("%s/pg", pg->root);
	pg->sockdir = str_printf("%s/run", pg->root);
	pg->logfile = str_printf("%s/postgres.log", pg->root);
	pg->bindir =
	    strdup(bindir && *bindir ? bindir : PGEMBED_DEFAULT_BINDIR);
	if (!pg->root || !pg->pgdata || !pg->sockdir || !pg->logfile ||
	    !pg->bindir) {
		log_error("out of memory");
		pgembed_free(pg);
		return -ENOMEM;
	}

	/* The socket file name is sockdir + "/.s.PGSQL.5432"; sun_path is short. */
	if (strlen(pg->sockdir) + sizeof("/.s.PGSQL." PGEMBED_PORT) >
	    sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_error(
		    "the private database's socket path under '%s' would "
		    "exceed %zu bytes; set XDG_DATA_HOME to a shorter path "
		    "or use --db",
		    pg->root, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		pgembed_free(pg);
		return -ENAMETOOLONG;
	}

	pg->uid = getuid();
	pg->gid = getgid();
	if (geteuid() == 0) {
		const char *name =
		    user && *user ? user : PGEMBED_DEFAULT_OS_USER;
		struct passwd *pw = getpwnam(name);
		if (!pw) {
			log_error(
			    "as root, the private PostgreSQL cluster runs as "
			    "the system user '%s', which does not exist: run "
			    "scripts/setup (it creates it), set "
			    "MXCRAWL_DB_OS_USER, or use --db",
			    name);
			pgembed_free(pg);
			return -ENOENT;
		}
		if (pw->pw_uid == 0) {
			log_error("MXCRAWL_DB_OS_USER '%s' is root; PostgreSQL "
				  "refuses to run as root",
				  name);
			pgembed_free(pg);
			return -EINVAL;
		}
		pg->drop = 1;
		pg->uid = pw->pw_uid;
		pg->gid = pw->pw_gid;
		snprintf(pg->os_user, sizeof pg->os_user, "%s", name);
	} else {
		struct passwd *pw = getpwuid(pg->uid);
		snprintf(pg->os_user, sizeof pg->os_user, "%s",
			 pw ? pw->pw_name : "?");
	}
	return 0;
}

void pgembed_free(struct pgembed *pg)
{
	free(pg->root);
	free(pg->pgdata);
	free(pg->sockdir);
	free(pg->logfile);
	free(pg->bindir);
	memset(pg, 0, sizeof *pg);
}

/* In a child: become the cluster's user (only when running as root). */
static void child_drop(const struct pgembed *pg)
{
	if (!pg->drop)
		return;
	if (setgroups(1, &pg->gid) != 0 || setgid(pg->gid) != 0 ||
	    setuid(pg->uid) != 0) {
		fprintf(stderr, "mxcrawl: cannot switch to user %s: %s\n",
			pg->os_user, strerror(errno));
		_exit(126);
	}
}

/*
 * Runs a PostgreSQL program as the cluster's user and waits for it. Its
 * output goes to `log` (opened by the child, so the file belongs to that
 * user), or to our stderr when log is NULL. Returns its exit status
 * (128 + the signal that ended it), or the negative errno of fork() or
 * waitpid() (printed).
 */
static int run(const struct pgembed *pg, const char *log, char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		int e = errno;
		log_error("fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		child_drop(pg);
		if (in >= 0) {
			dup2(in, 0);
			close(in);
		}
		if (log) {
			int fd =
			    open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				 0600);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		execv(argv[0], argv);
		fprintf(stderr, "mxcrawl: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			int e = errno;
			log_error("waitpid: %s", strerror(e));
			return -e;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* mkdir -p; the last component gets `mode`, created parents 0755. */
static int mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Gives `uid` search permission on `dir` through an ACL entry, leaving the
 * mode bits and every other entry as they were. 0 or the negative errno of
 * the ACL call that failed.
 */
static int grant_search(const char *dir, uid_t uid)
{
	acl_t acl = acl_get_file(dir, ACL_TYPE_ACCESS);
	acl_entry_t e, found = NULL;
	acl_permset_t perms;
	int id = ACL_FIRST_ENTRY, rc = 0;

	if (!acl)
		return -errno;
	while (acl_get_entry(acl, id, &e) == 1) {
		acl_tag_t tag;
		id = ACL_NEXT_ENTRY;
		if (acl_get_tag_type(e, &tag) != 0 || tag != ACL_USER)
			continue;
		uid_t *q = acl_get_qualifier(e);
		if (q && *q == uid)
			found = e;
		acl_free(q);
		if (found)
			break;
	}
	if (!found) {
		if (acl_create_entry(&acl, &found) != 0 ||
		    acl_set_tag_type(found, ACL_USER) != 0 ||
		    acl_set_qualifier(found, &uid) != 0)
			goto fail;
	}
	if (acl_get_permset(found, &perms) != 0 ||
	    acl_add_perm(perms, ACL_EXECUTE) != 0 ||
	    acl_set_permset(found, perms) != 0 || acl_calc_mask(&acl) != 0 ||
	    acl_set_file(dir, ACL_TYPE_ACCESS, acl) != 0)
		goto fail;
	goto out;
fail:
	rc = errno ? -errno : -EIO;
out:
	acl_free(acl);
	return rc;
}

/*
 * Returns the index (1-based) of the first directory on the way to `path`
 * that the cluster's user cannot search, or 0 if all can be searched;
 * -ECHILD when the child could not run or tell.
 * The test runs in a child that has become that user, so the kernel's own
 * permission rules (ACLs included) answer.
 */
static int first_unsearchable(const struct pgembed *pg, const char *path)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -ECHILD;
	if (pid == 0) {
		char buf[4096];
		int n = 0;
		child_drop(pg);
		snprintf(buf, sizeof buf, "%s", path);
		for (char *p = buf + 1;; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			char c = *p;
			*p = '\0';
			n++;
			if (access(buf, X_OK) != 0)
				_exit(n > 250 ? 250 : n);
			if (c == '\0')
				break;
			*p = c;
		}
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -ECHILD;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

/* The n-th (1-based) directory prefix of path, in buf. */
static void nth_prefix(const char *path, int n, char *buf, size_t size)
{
	snprintf(buf, size, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/' && --n == 0) {
			*p = '\0';
			return;
		}
	}
}

/* Makes root/ and the socket directory, owned by the cluster's user, and
 * reachable by it. 0, PGEMBED_CANTCREATE, or -EPERM when the cluster's
 * user cannot be let reach root (printed). */
static int prepare_dirs(struct pgembed *pg, int verbose)
{
	int rc = mkdirs(pg->root, 0700);

	if (rc == 0 && mkdir(pg->sockdir, 0700) != 0 && errno != EEXIST)
		rc = -errno;
	if (rc != 0) {
		log_error("cannot create the private database's directory "
			  "'%s': %s; set XDG_DATA_HOME to a writable "
			  "directory, or use --db",
			  pg->root, strerror(-rc));
		return PGEMBED_CANTCREATE;
	}
	if (!pg->drop)
		return 0;
	if (chown(pg->root, pg->uid, pg->gid) != 0 ||
	    chown(pg->sockdir, pg->uid, pg->gid) != 0) {
		log_error("cannot give '%s' to user %s: %s", pg->root,
			  pg->os_user, strerror(errno));
		return PGEMBED_CANTCREATE;
	}
	for (int i = 0; i < PGEMBED_MAX_DEPTH; i++) {
		char dir[4096];
		int n = first_unsearchable(pg, pg->root);
		if (n == 0)
			return 0;
		if (n < 0)
			break;
		nth_prefix(pg->root, n, dir, sizeof dir);
		if (verbose)
			printf(
			    "granting user %s search permission on %s (ACL) so "
			    "the cluster can reach its data directory\n",
			    pg->os_user, dir);
		int rc = grant_search(dir, pg->uid);
		if (rc != 0) {
			log_error(
			    "user %s cannot reach '%s' and an ACL entry "
			    "could not be added to '%s': %s; set "
			    "XDG_DATA_HOME to a directory it can reach, or "
			    "use --db",
			    pg->os_user, pg->root, dir, strerror(-rc));
			return -EPERM;
		}
	}
	log_error("user %s cannot reach '%s'", pg->os_user, pg->root);
	return -EPERM;
}

int pgembed_prepare_subdir(struct pgembed *pg, const char *dir, int verbose)
{
	int rc = prepare_dirs(pg, verbose);

	if (rc != 0)
		return rc;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create '%s': %s; set XDG_DATA_HOME to a "
			  "writable directory",
			  dir, strerror(errno));
		return PGEMBED_CANTCREATE;
	}
	if (pg->drop && chown(dir, pg->uid, pg->gid) != 0) {
		log_error("cannot give '%s' to user %s: %s", dir, pg->os_user,
			  strerror(errno));
		return PGEMBED_CANTCREATE;
	}
	return 0;
}

long pgembed_pid(const struct pgembed *pg)
{
	char path[4096], line[64];
	FILE *f;
	long pid = 0;

	snprintf(path, sizeof path, "%s/PG_VERSION", pg->pgdata);
	if (access(path, F_OK) != 0)
		return -ENOENT;
	snprintf(path, sizeof path, "%s/postmaster.pid", pg->pgdata);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof line, f))
		pid = strtol(line, NULL, 10);
	fclose(f);
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
		return 0;
	return pid;
}

char *pgembed_conninfo(const struct pgembed *pg)
{
	return pgembed_conninfo_role(pg, PGEMBED_ROLE);
}

char *pgembed_conninfo_role(const struct pgembed *pg, const char *role)
{
	/* Quote the socket directory for libpq: '...' with \ and ' escaped. */
	size_t n = strlen(pg->sockdir);
	char *q = malloc(2 * n + 3), *p = q;

	if (!q)
		return NULL;
	*p++ = '\'';
	for (const char *s = pg->sockdir; *s; s++) {
		if (*s == '\'' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '\'';
	*p = '\0';
	char *ci = str_printf("host=%s port=" PGEMBED_PORT
			      " dbname=" PGEMBED_DBNAME " user=%s",
			      q, role);
	free(q);
	return ci;
}

/* The settings that make the cluster private: no TCP, socket only for its
 * owner (and root). 0, or the negative errno of fopen() or fclose(). */
static int write_config(const struct pgembed *pg)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/postgresql.conf", pg->pgdata);
	f = fopen(path, "a");
	if (!f)
		return -errno;
	fprintf(
	    f,
	    "\n# Added by mxcrawl: a private cluster on a Unix socket only.\n"
	    "listen_addresses = ''\n"
	    "unix_socket_directories = '%s'\n"
	    "unix_socket_permissions = 0700\n"
	    "port = " PGEMBED_PORT "\n"
	    "max_connections = 200\n"
	    "shared_buffers = 256MB\n"
	    "logging_collector = off\n",
	    pg->sockdir);
	return fclose(f) == 0 ? 0 : -errno;
}

static int create_cluster(struct pgembed *pg, int verbose)
{
	char initdb[4096], log[4096];
	struct stat st;

	if (stat(pg->pgdata, &st) == 0) {
		log_error(
		    "'%s' exists but is not a PostgreSQL cluster (a failed "
		    "initdb?); remove it and try again",
		    pg->pgdata);
		return -EEXIST;
	}
	snprintf(initdb, sizeof initdb, "%s/initdb", pg->bindir);
	snprintf(log, sizeof log, "%s/initdb.log", pg->root);
	if (access(initdb, X_OK) != 0) {
		log_error("PostgreSQL's initdb is not at '%s' (install "
			  "postgresql-15 with scripts/setup, or set "
			  "MXCRAWL_PG_BINDIR)",
			  initdb);
		return -ENOENT;
	}
	if (verbose)
		printf("creating the private PostgreSQL cluster in %s\n",
		       pg->pgdata);
	char *argv[] = { initdb,
			 "-D",
			 pg->pgdata,
			 "-U",
			 PGEMBED_ROLE,
			 "-A",
			 "trust",
			 "-E",
			 "UTF8",
			 "--locale=C.UTF-8",
			 "--no-instructions",
			 NULL };
	if (run(pg, log, argv) != 0) {
		log_error("initdb failed; its output is in %s", log);
		return -EIO;
	}
	int rc = write_config(pg);
	if (rc != 0) {
		log_error("cannot write %s/postgresql.conf: %s", pg->pgdata,
			  strerror(-rc));
		return -EIO;
	}
	return 0;
}

/* The cluster has one database for mxcrawl; make it on first start. */
static int ensure_database(const struct pgembed *pg)
{
	char *ci = pgembed_conninfo(pg);
	char *admin = ci ? str_printf("%s dbname=postgres", ci) : NULL;
	PGconn *c = admin ? PQconnectdb(admin) : NULL;
	PGresult *r = NULL;
	int rc = -EIO;

	if (!c || PQstatus(c) != CONNECTION_OK) {
		log_error("cannot connect to the private cluster at %s: %s",
			  pg->sockdir, c ? PQerrorMessage(c) : "out of memory");
		goto out;
	}
	r = PQexec(c,
		   "SELECT 1 FROM pg_database WHERE datname = '" PGEMBED_DBNAME
		   "'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("private cluster: %s", PQerrorMessage(c));
		goto out;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = PQexec(c, "CREATE DATABASE " PGEMBED_DBNAME);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("private cluster: cannot create database: %s",
				  PQerrorMessage(c));
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(r);
	PQfinish(c);
	free(admin);
	free(ci);
	return rc;
}

/* Serialises start and stop between concurrent mxcrawl processes. The
 * lock's descriptor, PGEMBED_CANTCREATE, or -EIO (printed). */
static int lock_root(const struct pgembed *pg)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/lock", pg->root);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("cannot open %s: %s", path, strerror(errno));
		return PGEMBED_CANTCREATE;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			log_error("cannot lock %s: %s", path, strerror(errno));
			close(fd);
			return -EIO;
		}
	}
	return fd;
}

int pgembed_start(struct pgembed *pg, int verbose)
{
	char pg_ctl[4096];
	int lock, rc;

	rc = prepare_dirs(pg, verbose);
	if (rc != 0)
		return rc;
	lock = lock_root(pg);
	if (lock < 0)
		return lock;
	long pid = pgembed_pid(pg);
	if (pid < 0 && (rc = create_cluster(pg, verbose)) != 0)
		goto out;
	if (pid > 0) {
		if (verbose)
			printf(
			    "the private PostgreSQL cluster is already running "
			    "(pid %ld, socket in %s)\n",
			    pid, pg->sockdir);
		rc = ensure_database(pg);
		goto out;
	}
	snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", pg->bindir);
	if (verbose)
		printf(
		    "starting the private PostgreSQL cluster (data %s, socket "
		    "in %s, runs as %s)\n",
		    pg->pgdata, pg->sockdir, pg->os_user);
	char *argv[] = { pg_ctl,      "start", "-D", pg->pgdata,	   "-l",
			 pg->logfile, "-w",    "-t", PGEMBED_WAIT_SECONDS, "-s",
			 NULL };
	if (run(pg, NULL, argv) != 0) {
		log_error(
		    "the private PostgreSQL cluster did not start; its log "
		    "is %s",
		    pg->logfile);
		rc = -EIO;
		goto out;
	}
	rc = ensure_database(pg);
out:
	close(lock);
	return rc;
}

int pgembed_stop(struct pgembed *pg, int verbose)
{
	char pg_ctl[4096];
	int lock, rc = -EIO;
	long pid = pgembed_pid(pg);

	if (pid <= 0) {
		if (verbose)
			printf(
			    "the private PostgreSQL cluster is not running\n");
		return 0;
	}
	lock = lock_root(pg);
	if (lock < 0)
		return lock;
	snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", pg->bindir);
	if (verbose)
		printf("stopping the private PostgreSQL cluster (pid %ld)\n",
		       pid);
	char *argv[] = { pg_ctl, "stop", "-D", pg->pgdata,	     "-m",
			 "fast", "-w",	 "-t", PGEMBED_WAIT_SECONDS, "-s",
			 NULL };
	if (run(pg, NULL, argv) != 0) {
		log_error("pg_ctl stop failed; the log is %s", pg->logfile);
		goto out;
	}
	/* pg_ctl -w returns once postmaster.pid is gone; the process itself
	 * may take a moment longer to be reaped by its parent. */
	if (kill((pid_t)pid, 0) == 0) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		for (int i = 0; i < 1000 && kill((pid_t)pid, 0) == 0; i++)
			nanosleep(&ts, NULL);
	}
	rc = 0;
out:
	close(lock);
	return rc;
}
