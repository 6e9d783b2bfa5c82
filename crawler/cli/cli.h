/*
 * Shared command-line plumbing: usage errors in one voice, the options
 * every subcommand that talks to the database understands, and the table of
 * subcommands main() dispatches on. Other messages go through
 * crawler/util/log.h, which the stages below use as well.
 */
#ifndef MXCRAWL_CLI_CLI_H
#define MXCRAWL_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <sysexits.h>

#include <libpq-fe.h>

/* Long option ids shared by subcommands (short options use their letter). */
enum cli_opt {
	CLI_OPT_DB = 1000,
	CLI_OPT_HELP,
	CLI_OPT_FORMAT,
	CLI_OPT_ORIGIN,
	CLI_OPT_TARGETS,
	CLI_OPT_CAMPAIGN,
	CLI_OPT_RESUME,
	CLI_OPT_VANTAGE,
	CLI_OPT_BATCH_SIZE,
	CLI_OPT_QUIET,
	CLI_OPT_RESOLVER,
	CLI_OPT_CANARY_SECURE,
	CLI_OPT_CANARY_BOGUS,
	CLI_OPT_WORKERS,
	CLI_OPT_CONCURRENCY,
	CLI_OPT_RATE,
	CLI_OPT_DNS_TIMEOUT,
	CLI_OPT_LEASE,
	CLI_OPT_ALLOW_CIDR,
	CLI_OPT_BLOCKLIST,
	CLI_OPT_PROGRESS,
	CLI_OPT_IMPORT_ONLY,
	CLI_OPT_CA_FILE,
	CLI_OPT_EHLO_NAME,
	CLI_OPT_SMTP_DEADLINE,
	CLI_OPT_NO_SMTP,
	CLI_OPT_DICT_SAMPLES,
	CLI_OPT_PER_IP,
	CLI_OPT_ROOT_HINTS,
	CLI_OPT_TRUST_ANCHOR,
};

/* A subcommand: argv[0] is its own name; returns a sysexits code. */
struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

extern const struct cli_command cli_commands[];

/* Prints "mxcrawl <cmd>: <message>" and a hint to use --help; returns EX_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a non-negative integer option in [min, max]; -1 if invalid. */
long cli_parse_long(const char *cmd, const char *opt, const char *s, long min,
		    long max);

/* Checks an ID|NAME argument of command cmd (option or argument `what`;
 * NULL spec allowed) with campaign_name_problem(): EX_OK, or EX_USAGE
 * after printing why. */
int cli_campaign_spec_check(const char *cmd, const char *what,
			    const char *spec);

/* The standard stub for a command that a later milestone builds. */
int cli_not_built(const char *cmd, const char *what);

struct db;
/*
 * Every command's way to its database: --db (or $MXCRAWL_DB, or the
 * private cluster) read into db, connected into *c, and, with migrate,
 * the schema brought up to date or the reason it cannot be (a role that
 * may not migrate: EX_CONFIG). Returns EX_OK, or the command's exit status
 * with the message printed and nothing left to free (*c NULL).
 */
int cli_db_open(const char *opt_db, bool migrate, struct db *db, PGconn **c);

#endif
