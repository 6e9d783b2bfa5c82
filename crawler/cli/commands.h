/* The subcommands implemented in crawler/cmd_*.c; each returns a sysexits code. */
#ifndef MXCRAWL_CRAWLER_COMMANDS_H
#define MXCRAWL_CRAWLER_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "targets/targets.h"

/* The exit statuses every command that opens the database shares, for
 * the end of its --help (sysexits.h). */
#define USAGE_EXIT_COMMON                                                       \
	"Any command: 64 also a --db that is not a connection string or URI,\n" \
	"or a bad or ambiguous campaign name; 73 the private cluster's\n"       \
	"directory cannot be created; 78 also an unparsable $MXCRAWL_DB.\n"

int cmd_scan(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_targets(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_campaign(int argc, char **argv);
int cmd_reverify(int argc, char **argv);
int cmd_resolver(int argc, char **argv);

/* The exit status for an unbound_embed_start() result (cmd_resolver.c):
 * 0, 73, 66, 78 or 69. */
int cli_resolver_exit(int embed_rc);

/* EX_OK, or EX_USAGE after printing why: `path`, given to option `opt` of
 * command `cmd`, is not absolute (the private resolver's files are named
 * by absolute paths only: unbound runs in a directory of its own). NULL is
 * fine. */
int cli_resolver_file_check(const char *cmd, const char *opt, const char *path);

/*
 * Opens a target file and settles its format: `format` ("plain", "tranco",
 * "zone", or NULL/"auto" to guess from the first lines). Returns the open
 * file and sets *fmt, or returns NULL after printing why.
 */
FILE *targets_cli_open(const char *path, const char *format,
		       const struct targets_format **fmt);

/* Prints one rejected line as "FILE:LINE: rejected (code): detail: text". */
void targets_cli_print_reject(FILE *out, const char *path,
			      const struct targets_reject *rj);

/* Prints the counts of a finished read, one "key: value" per line. */
void targets_cli_print_stats(FILE *out, const struct targets_format *fmt,
			     const struct targets_stats *st);

#endif
