/*
 * Campaigns and their queues: creating a campaign and importing its
 * targets with COPY, all in one transaction, so a campaign either exists
 * with its whole queue or not at all.
 */
#ifndef MXCRAWL_STORE_CAMPAIGN_H
#define MXCRAWL_STORE_CAMPAIGN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Targets per leased batch unless --batch-size says otherwise. */
#define CAMPAIGN_BATCH_DEFAULT 500
#define CAMPAIGN_BATCH_MAX 100000
#define CAMPAIGN_NAME_MAX 128

/* One run of a campaign (schema/016 campaign_run): a scan process. */
struct campaign_run_spec {
	const char *kind; /* create, import or resume */
	const char *host, *vantage;
	const char *resolver;	     /* NULL: no resolver asked (import only) */
	int dnssec_validated;	     /* 1, 0, or -1: not asked */
	const char *provenance_json; /* a JSON object */
};

struct campaign_spec {
	const char *name;
	const char *config_json; /* the scan's options, a JSON object */
	const char *vantage;
	int batch_size;
	/* The run that creates the campaign, stored in the same transaction
	 * (NULL: none); its id is campaign_import_run_id()'s. */
	const struct campaign_run_spec *run;
};

struct campaign_import;

/* Checks a campaign name (or an ID|NAME argument) before it reaches the
 * database: 1..CAMPAIGN_NAME_MAX bytes of well-formed UTF-8 without
 * control characters (C0, DEL, C1). Returns NULL or the reason. */
const char *campaign_name_problem(const char *name);

/* The same for the name of a campaign about to be created, which must
 * also not be all digits: ID|NAME arguments take digits for an id.
 * (Campaigns so named by older versions keep working: see
 * campaign_resolve.) */
const char *campaign_new_name_problem(const char *name);

/* campaign_resolve's answer when an all-digit spec is both one campaign's
 * id and another's name: ENOTUNIQ, "name not unique", which no other
 * failure of campaign_resolve returns. */
#define CAMPAIGN_AMBIGUOUS (-ENOTUNIQ)

/* Finds a campaign by ID|NAME (the newest when spec is NULL; spec passed
 * campaign_name_problem): the campaign with that id (spec all digits) or
 * that name. If they are two different campaigns (a name from a version
 * that allowed all-digit names) nothing is guessed: prints both and
 * returns CAMPAIGN_AMBIGUOUS. Otherwise 1 found (*id, and *name
 * malloc'ed when name is not NULL), 0 not, -EIO (printed) or -ENOMEM. */
int campaign_resolve(PGconn *c, const char *spec, int64_t *id, char **name);

/* The same, finding also a campaign being dropped (state 'dropping',
 * which campaign_resolve skips): for `campaign show|size|drop`. */
int campaign_resolve_all(PGconn *c, const char *spec, int64_t *id, char **name);

/* campaign_resolve() (campaign_resolve_all() if `dropping`) for a
 * command: says "no campaign 'X'" ("no campaign yet" for a NULL spec)
 * when there is none. Returns EX_OK, or the exit status, already
 * explained: EX_USAGE ambiguous, EX_DATAERR none, EX_UNAVAILABLE the
 * database failed or memory ran out. */
int campaign_lookup(PGconn *c, const char *spec, bool dropping, int64_t *id,
		    char **name);

/* Looks a campaign up by name: 1 found (id and targets set), 0 not found,
 * -EIO (printed). */
int campaign_find(PGconn *c, const char *name, int64_t *id, int64_t *targets);

/* The state of the campaign named `name`, copied into buf, or NULL (none,
 * or an error). campaign_find() does not see one 'importing' or
 * 'dropping'; this says which. */
const char *campaign_state_of(PGconn *c, const char *name, char *buf,
			      size_t len);

/* Starts the transaction, creates the campaign and opens the COPY into its
 * queue. Returns NULL on error (printed; nothing is left behind). */
struct campaign_import *campaign_import_begin(PGconn *c,
					      const struct campaign_spec *s);

/* Queues one normalised domain name (LDH characters only). 0, or -EIO
 * (-ENOMEM) with the reason printed. */
int campaign_import_add(struct campaign_import *im, const char *domain,
			size_t len, uint64_t line, int64_t rank);

/* Ends the COPY, builds the batches and commits. Frees im. Returns 0 and
 * the campaign's id and target count, or -EIO (-ENOMEM) rolled back, with
 * the reason printed. */
int campaign_import_commit(struct campaign_import *im, int64_t *id,
			   int64_t *targets);

/* The id of the run stored with the campaign (0: none). Call it before
 * campaign_import_commit(). */
int64_t campaign_import_run_id(const struct campaign_import *im);

/* Rolls everything back and frees im. */
void campaign_import_abort(struct campaign_import *im);

/* Stores the start of a run of campaign `id`; *run_id is its id. 0, or
 * -EIO (printed). Works inside an open transaction too. */
int campaign_run_begin(PGconn *c, int64_t id,
		       const struct campaign_run_spec *rs, int64_t *run_id);

/* Stores the end of a run: its end time, how it ended (done,
 * interrupted, failed, imported) and the domains it scanned. 0, or -EIO
 * (printed). */
int campaign_run_end(PGconn *c, int64_t run_id, const char *end_state,
		     int64_t domains);

#endif
