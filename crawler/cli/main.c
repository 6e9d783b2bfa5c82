/*
 * mxcrawl: measures how inbound mail is protected in transit.
 * main() only dispatches to the subcommands in cli_commands[].
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "crawler/cli/cli.h"
#include "crawler/util/log.h"
#include "crawler/cli/commands.h"

const struct cli_command cli_commands[] = {
	{ "scan", "scan a target list into a campaign", cmd_scan },
	{ "report", "print a campaign's statistics", cmd_report },
	{ "export", "write a campaign's facts as JSON lines", cmd_export },
	{ "db",
	  "manage the database: migrate | start | stop | status | conninfo",
	  cmd_db },
	{ "resolver", "manage the private resolver: start | stop | status",
	  cmd_resolver },
	{ "campaign", "list | show | cancel | lock campaigns", cmd_campaign },
	{ "targets",
	  "check a target file: what would be scanned, what is rejected",
	  cmd_targets },
	{ "reverify", "re-judge stored certificate chains", cmd_reverify },
	{ NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fputs(
	    "usage: mxcrawl COMMAND [OPTIONS]\n\n"
	    "Measures how inbound email is protected in transit: MX, DNSSEC, DANE,\n"
	    "MTA-STS, TLS-RPT and SMTP STARTTLS, stored in PostgreSQL.\n\n"
	    "Commands:\n",
	    out);
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fputs(
	    "\n'mxcrawl COMMAND --help' describes a command's options.\n"
	    "Without --db or PG* variables, mxcrawl uses a private PostgreSQL\n"
	    "cluster under $XDG_DATA_HOME/mxcrawl (or ~/.local/share/mxcrawl);\n"
	    "without --resolver or $MXCRAWL_RESOLVER, scan uses a private unbound\n"
	    "there too.\n",
	    out);
}

int main(int argc, char **argv)
{
	/* A peer (an SMTP server, a DNS server over TCP) that closes while we
	 * write must give EPIPE to the writer, not kill the whole scan. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mxcrawl %s\n", MXCRAWL_VERSION);
		return EX_OK;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	log_error("unknown command '%s' (see 'mxcrawl --help')", argv[1]);
	return EX_USAGE;
}
