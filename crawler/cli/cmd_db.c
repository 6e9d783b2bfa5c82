/* mxcrawl db migrate | start | stop | status | conninfo */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/cli/cli.h"
#include "crawler/cli/commands.h"
#include "crawler/store/db.h"
#include "crawler/store/migrate.h"

static const char usage[] =
    "usage: mxcrawl db ACTION [--db CONNINFO] [--quiet]\n"
    "\n"
    "Actions:\n"
    "  migrate   apply the schema migrations that are missing (safe to repeat)\n"
    "  start     create (first time) and start the private PostgreSQL cluster\n"
    "  stop      stop the private cluster and wait until it has exited\n"
    "  status    say which database is used, whether it runs, its schema version\n"
    "  conninfo  print the libpq connection string (for psql)\n"
    "\n"
    "Options:\n"
    "  --db CONNINFO  use this PostgreSQL server (libpq conninfo or URI) instead\n"
    "                 of the private cluster; also $MXCRAWL_DB or PG* variables\n"
    "  -q, --quiet    say nothing on success\n"
    "\n"
    "The private cluster lives in $XDG_DATA_HOME/mxcrawl (default\n"
    "~/.local/share/mxcrawl), listens on a Unix socket only and is started on\n"
    "demand by every command that needs it. As root it runs as the system user\n"
    "'mxcrawl' (or $MXCRAWL_DB_OS_USER).\n"
    "\n"
    "Exit status: 0 ok; 64 usage; 69 database not running or unreachable;\n"
    "70 migration failed.\n" USAGE_EXIT_COMMON;

static int do_migrate(struct db *db, int quiet)
{
	int applied = 0, version = 0, rc;
	PGconn *c = db_connect(db);

	if (!c)
		return db->fail_status;
	rc = migrate_run(c, !quiet, &applied, &version);
	PQfinish(c);
	if (rc != 0)
		return EX_SOFTWARE;
	if (!quiet) {
		if (applied)
			printf(
			    "schema at version %d (%d migration%s applied)\n",
			    version, applied, applied == 1 ? "" : "s");
		else
			printf("schema is up to date at version %d\n", version);
	}
	return EX_OK;
}

static int do_status(struct db *db)
{
	int rc = EX_OK;

	if (db->embedded) {
		long pid = pgembed_pid(&db->pg);
		printf("database: private cluster\n");
		printf("data: %s\n", db->pg.pgdata);
		printf("socket: %s\n", db->pg.sockdir);
		printf("runs as: %s\n", db->pg.os_user);
		if (pid < 0) {
			printf("state: not created (any command that needs it "
			       "creates it)\n");
			return EX_UNAVAILABLE;
		}
		if (pid == 0) {
			printf("state: stopped\n");
			return EX_UNAVAILABLE;
		}
		printf("state: running (pid %ld)\n", pid);
	} else {
		char *shown = db_conninfo_display(db->conninfo, NULL);
		printf("database: server (%s, from %s)\n", shown ? shown : "?",
		       db->source);
		free(shown);
	}
	PGconn *c = db_connect(db);
	if (!c)
		return db->fail_status;
	int v = migrate_current(c);
	if (v < 0)
		rc = EX_UNAVAILABLE;
	else
		printf("schema version: %d (this mxcrawl knows %d)\n", v,
		       migrate_latest());
	PQfinish(c);
	return rc;
}

int cmd_db(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *opt_db = NULL, *action;
	int quiet = 0, ch, rc;
	struct db db;

	while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_DB:
			opt_db = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("db", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("db",
				       "expected one action: migrate, start, "
				       "stop, status or conninfo");
	action = argv[optind];
	if (strcmp(action, "migrate") && strcmp(action, "start") &&
	    strcmp(action, "stop") && strcmp(action, "status") &&
	    strcmp(action, "conninfo"))
		return cli_usage_error("db", "unknown action '%s'", action);
	rc = db_init(&db, opt_db);
	if (rc != EX_OK)
		return rc;

	if ((!strcmp(action, "start") || !strcmp(action, "stop")) &&
	    !db.embedded) {
		rc = cli_usage_error("db",
				     "'%s' manages only the private cluster; "
				     "the database from %s is not mxcrawl's "
				     "to %s",
				     action, db.source, action);
	} else if (!strcmp(action, "start")) {
		int started = pgembed_start(&db.pg, !quiet);
		rc = started == 0		     ? EX_OK
		     : started == PGEMBED_CANTCREATE ? EX_CANTCREAT
						     : EX_UNAVAILABLE;
	} else if (!strcmp(action, "stop")) {
		rc = pgembed_stop(&db.pg, !quiet) == 0 ? EX_OK : EX_UNAVAILABLE;
	} else if (!strcmp(action, "status")) {
		rc = do_status(&db);
	} else if (!strcmp(action, "conninfo")) {
		char *shown = db_conninfo_display(db.conninfo, NULL);
		printf("%s\n", shown ? shown : "");
		free(shown);
		rc = EX_OK;
	} else {
		rc = do_migrate(&db, quiet);
	}
	db_free(&db);
	return rc;
}
