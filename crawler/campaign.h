/*
 * Campaigns and their queues: creating a campaign and importing its
 * targets with COPY, all in one transaction, so a campaign either exists
 * with its whole queue or not at all.
 */
#ifndef MXCRAWL_CRAWLER_CAMPAIGN_H
#define MXCRAWL_CRAWLER_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Targets per leased batch unless --batch-size says otherwise. */
#define CAMPAIGN_BATCH_DEFAULT 500
#define CAMPAIGN_BATCH_MAX 100000
#define CAMPAIGN_NAME_MAX 128

struct campaign_spec {
	const char *name;
	const char *config_json; /* the scan's options, a JSON object */
	const char *vantage;
	int batch_size;
};

struct campaign_import;

/* Checks a campaign name: 1..CAMPAIGN_NAME_MAX bytes, no control
 * characters. Returns NULL or the reason. */
const char *campaign_name_problem(const char *name);

/* Looks a campaign up by name: 1 found (id and targets set), 0 not found,
 * -1 error (printed). */
int campaign_find(PGconn *c, const char *name, int64_t *id, int64_t *targets);

/* Starts the transaction, creates the campaign and opens the COPY into its
 * queue. Returns NULL on error (printed; nothing is left behind). */
struct campaign_import *campaign_import_begin(PGconn *c,
					      const struct campaign_spec *s);

/* Queues one normalised domain name (LDH characters only). 0 or -1. */
int campaign_import_add(struct campaign_import *im, const char *domain,
			size_t len, uint64_t line, int64_t rank);

/* Ends the COPY, builds the batches and commits. Frees im. Returns 0 and
 * the campaign's id and target count, or -1 (rolled back, printed). */
int campaign_import_commit(struct campaign_import *im, int64_t *id,
			   int64_t *targets);

/* Rolls everything back and frees im. */
void campaign_import_abort(struct campaign_import *im);

#endif
