/* mxcrawl resolver start | stop | status */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/cli/cli.h"
#include "crawler/cli/commands.h"
#include "crawler/dns/unbound_embed.h"
#include "crawler/util/log.h"

static const char usage[] =
    "usage: mxcrawl resolver ACTION [--root-hints FILE] [--trust-anchor FILE]\n"
    "                               [--quiet]\n"
    "\n"
    "Actions:\n"
    "  start   start the private validating resolver (or check the running one)\n"
    "  stop    stop it (SIGTERM to its PID) and wait until it has exited\n"
    "  status  say whether it runs, its PID, address, root hints, trust anchor\n"
    "\n"
    "Options (start):\n"
    "  --root-hints FILE    root hints, an absolute path (default\n"
    "                       " UNBOUND_EMBED_ROOT_HINTS ")\n"
    "  --trust-anchor FILE  root trust anchor, an absolute path (default\n"
    "                       " UNBOUND_EMBED_TRUST_ANCHOR ")\n"
    "  -q, --quiet          say nothing on success\n"
    "\n"
    "The private resolver is Debian's unbound, validating, with Extended DNS\n"
    "Errors and qname minimisation, on " UNBOUND_EMBED_ADDR
    " and a port of its own\n"
    "picked once. It lives in $XDG_DATA_HOME/mxcrawl/resolver (default\n"
    "~/.local/share/mxcrawl/resolver) with its configuration, PID file and\n"
    "log. 'mxcrawl scan' without --resolver and $MXCRAWL_RESOLVER starts it\n"
    "on demand and reuses it; it keeps running after the scan. A running\n"
    "resolver is reused only when the files named match the ones it runs\n"
    "from. As root it runs as the system user 'mxcrawl' (or\n"
    "$MXCRAWL_DB_OS_USER).\n"
    "\n"
    "Exit status: 0 ok (status: running); 64 usage; 66 root hints or trust\n"
    "anchor unreadable; 69 not running (status), did not start or does not\n"
    "answer; 73 its directory cannot be written; 78 it runs from other root\n"
    "hints or another trust anchor than named.\n";

int cli_resolver_exit(int embed_rc)
{
	switch ((enum unbound_embed_rc)embed_rc) {
	case UNBOUND_EMBED_OK:
		return EX_OK;
	case UNBOUND_EMBED_CANTCREATE:
		return EX_CANTCREAT;
	case UNBOUND_EMBED_NOINPUT:
		return EX_NOINPUT;
	case UNBOUND_EMBED_MISMATCH:
		return EX_CONFIG;
	default:
		return EX_UNAVAILABLE;
	}
}

int cli_resolver_file_check(const char *cmd, const char *opt, const char *path)
{
	if (path && path[0] != '/')
		return cli_usage_error(
		    cmd, "%s wants an absolute path, not '%s'", opt, path);
	return EX_OK;
}

static int do_status(struct unbound_embed *u)
{
	struct unbound_embed_state st;
	long pid = unbound_embed_pid(u);
	int have = unbound_embed_state_read(u, &st) == 0;

	printf("resolver: private unbound\n");
	printf("directory: %s\n", u->dir);
	printf("log: %s\n", u->logfile);
	if (have) {
		printf("address: %s\n", st.address);
		printf("root hints: %s\n", st.root_hints);
		printf("trust anchor: %s\n", st.trust_anchor);
	}
	if (pid < 0) {
		printf("state: not created ('mxcrawl resolver start' or a scan "
		       "without --resolver starts it)\n");
		return EX_UNAVAILABLE;
	}
	if (pid == 0) {
		printf("state: stopped\n");
		return EX_UNAVAILABLE;
	}
	printf("state: running (pid %ld)\n", pid);
	return EX_OK;
}

int cmd_resolver(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root-hints", required_argument, NULL, CLI_OPT_ROOT_HINTS },
		{ "trust-anchor", required_argument, NULL,
		  CLI_OPT_TRUST_ANCHOR },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *hints = NULL, *anchor = NULL, *action;
	int quiet = 0, ch, rc;
	struct unbound_embed u;

	while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_ROOT_HINTS:
			hints = optarg;
			break;
		case CLI_OPT_TRUST_ANCHOR:
			anchor = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("resolver", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(
		    "resolver", "expected one action: start, stop or status");
	action = argv[optind];
	if (strcmp(action, "start") && strcmp(action, "stop") &&
	    strcmp(action, "status"))
		return cli_usage_error("resolver", "unknown action '%s'",
				       action);
	if ((hints || anchor) && strcmp(action, "start"))
		return cli_usage_error("resolver",
				       "--root-hints and --trust-anchor go "
				       "with 'start' only");
	if ((rc = cli_resolver_file_check("resolver", "--root-hints", hints)) !=
		EX_OK ||
	    (rc = cli_resolver_file_check("resolver", "--trust-anchor",
					  anchor)) != EX_OK)
		return rc;
	int irc = unbound_embed_init(&u);
	if (irc != 0) {
		if (irc == -ENOMEM)
			log_error("resolver: out of memory");
		return EX_UNAVAILABLE;
	}
	if (!strcmp(action, "start")) {
		struct unbound_embed_state st;
		int started = 0;
		rc = cli_resolver_exit(unbound_embed_start(
		    &u, hints, anchor, !quiet, &st, &started));
	} else if (!strcmp(action, "stop")) {
		rc = unbound_embed_stop(&u, !quiet) == 0 ? EX_OK
							 : EX_UNAVAILABLE;
	} else {
		rc = do_status(&u);
	}
	unbound_embed_free(&u);
	return rc;
}
