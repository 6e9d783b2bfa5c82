#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "crawler/cli/cli.h"
#include "crawler/store/campaign.h"
#include "crawler/store/db.h"
#include "crawler/store/migrate.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mxcrawl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'mxcrawl %s --help')\n", cmd);
	return EX_USAGE;
}

long cli_parse_long(const char *cmd, const char *opt, const char *s, long min,
		    long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max) {
		cli_usage_error(
		    cmd, "%s wants a whole number from %ld to %ld, not '%s'",
		    opt, min, max, s);
		return -1;
	}
	return v;
}

int cli_campaign_spec_check(const char *cmd, const char *what, const char *spec)
{
	const char *problem = spec ? campaign_name_problem(spec) : NULL;

	if (problem)
		return cli_usage_error(cmd, "%s: %s", what, problem);
	return EX_OK;
}

int cli_not_built(const char *cmd, const char *what)
{
	fprintf(stderr,
		"mxcrawl %s: %s is not built yet in this version (%s); "
		"nothing was done\n",
		cmd, what, MXCRAWL_VERSION);
	return EX_UNAVAILABLE;
}

int cli_db_open(const char *opt_db, bool migrate, struct db *db, PGconn **c)
{
	*c = NULL;
	int rc = db_init(db, opt_db);
	if (rc != EX_OK)
		return rc;
	PGconn *conn = db_connect(db);
	if (!conn) {
		rc = db->fail_status;
		db_free(db);
		return rc;
	}
	int ensured = migrate ? migrate_ensure(conn) : 0;
	if (ensured != 0) {
		PQfinish(conn);
		db_free(db);
		return ensured == MIGRATE_BEHIND ? EX_CONFIG : EX_SOFTWARE;
	}
	*c = conn;
	return EX_OK;
}
