/*
 * Re-judging a campaign's stored evidence (`mxcrawl reverify`): every
 * stored chain (endpoint.chain → certificate.der) is judged again with
 * verify_chain() against another trust store or at another time, and every
 * DANE outcome again with verify_dane() and verify_dane_decide() from the
 * TLSA records the domain's scan stored (domain_mx.tlsa_records), exactly
 * as the scan judged them (crawler/scan/probe.c), without contacting anything.
 * The verdicts go into a new judgement set (schema/010_judgement_sets.sql),
 * written with COPY in one transaction: whole or not at all.
 */
#ifndef MXCRAWL_CRAWLER_REVERIFY_H
#define MXCRAWL_CRAWLER_REVERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <libpq-fe.h>

#include "crawler/verify/verify.h"

/* Bytes of one TLSA record's data: RDATA is at most 65535 bytes, three of
 * them usage, selector and matching type. */
#define REVERIFY_TLSA_DATA_MAX 65532

/* Rows read per FETCH: more is fewer round trips, less is less memory. */
#define REVERIFY_FETCH_DEFAULT 2000
#define REVERIFY_FETCH_MAX 100000

enum reverify_rc {
	REVERIFY_OK = 0,
	REVERIFY_TLSA_SYNTAX,	 /* not "u s m hex" */
	REVERIFY_TLSA_RANGE,	 /* a field over 255 */
	REVERIFY_TLSA_ODD_HEX,	 /* an odd number of hex digits */
	REVERIFY_TLSA_TOO_LARGE, /* more data than the buffer holds */
	REVERIFY_RC_LAST
};

const char *reverify_rc_str(enum reverify_rc rc);

/*
 * Pure: parses one stored TLSA record, "usage selector mtype hex" as
 * probe.c writes domain_mx.tlsa_records (decimal fields, one space each,
 * lower- or upper-case hex, possibly empty). s[0..len) need not be
 * NUL-terminated. The data bytes go to buf (cap bytes); out->data points
 * into it. Returns REVERIFY_OK or why not (out is then undefined).
 */
enum reverify_rc reverify_tlsa_parse(const char *s, size_t len, uint8_t *buf,
				     size_t cap, struct verify_tlsa *out);

/* What to judge and how. */
struct reverify_opts {
	int64_t campaign_id;
	const struct verify_ctx *verify; /* the trust store */
	const char *ca_file;	   /* absolute path, or NULL: the system's */
	const char *ca_sha256_hex; /* of ca_file's bytes, or NULL */
	time_t at;		   /* judge at this time */
	const char *note;	   /* stored with the set, or NULL */
	FILE *progress;		   /* progress lines, or NULL */
	unsigned progress_seconds; /* between lines */
	unsigned fetch_rows; /* rows per FETCH; 0: REVERIFY_FETCH_DEFAULT */
};

/* What changed against the scan's own judgement (set 0). */
struct reverify_summary {
	int64_t set_id;
	int64_t endpoints;	    /* endpoint rows judged */
	int64_t chains;		    /* of them with a judged chain */
	int64_t trusted_before;	    /* trusted in the scan */
	int64_t trusted_after;	    /* trusted now */
	int64_t trusted_lost;	    /* true -> false */
	int64_t trusted_gained;	    /* false -> true */
	int64_t other_cert_changed; /* missing_intermediate, names, weak */
	int64_t domain_endpoints;   /* domain_endpoint rows judged */
	int64_t domain_mx;	    /* domain_mx rows judged */
	int64_t dane_changed;	    /* host DANE outcomes that differ */
	int64_t bad_tlsa;	    /* stored TLSA records not parsable */
};

/*
 * Judges campaign o->campaign_id into a new judgement set on connection
 * c (which must be idle, outside a transaction). Prints the changes
 * (trusted true->false by first error, DANE outcome transitions) to `out`.
 * Returns 0 and fills *sum, or a negative errno, rolled back: -EIO for
 * the database (PostgreSQL's message printed here, where it is known),
 * -ENOMEM, or -E2BIG when a fetch's rows pass REVERIFY_ROWS_MAX (not
 * printed: the caller says what failed).
 */
int reverify_run(PGconn *c, const struct reverify_opts *o,
		 struct reverify_summary *sum, FILE *out);

#endif
