/*
 * Endpoint claims across crawler processes (schema/008_endpoint_claim.sql).
 *
 * The registry (epreg.h) makes each endpoint probed once per process; this
 * thread makes it once per campaign: port 25's and the mail client
 * endpoints alike, each claim keyed by (address, port, SNI, service). A
 * new endpoint is claimed in the database first: the winner probes it,
 * the others wait for its endpoint row and build their result from the
 * stored row and chain (schema/031_client_endpoint_claim.sql). The
 * winner's endpoint and certificate rows are stored by this thread, in
 * their own transaction, before the result is published to the waiting
 * domains, so a domain's batch never waits for another batch and a stored
 * domain never refers to an endpoint that is not stored; the handshake
 * record is stored in the same transaction. Claims expire like leases
 * (renewed by this thread's heartbeat), so a dead crawler's endpoints are
 * taken over.
 *
 * All functions except epclaim_start/epclaim_stop may be called from any
 * worker thread.
 */
#ifndef MXCRAWL_CRAWLER_EPCLAIM_H
#define MXCRAWL_CRAWLER_EPCLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "crawler/scan/epreg.h"
#include "crawler/util/jbuf.h"

/* Endpoints claimed in one statement, at most. */
#define EPCLAIM_BATCH_MAX 512
/* Milliseconds between looks for other crawlers' results, at least. */
#define EPCLAIM_LOOK_MIN_MS 50
/* ...and at most (also when no notification came). */
#define EPCLAIM_LOOK_MAX_MS 1000

struct epclaim_config {
	const char *conninfo;
	int64_t campaign_id;
	const char *worker_id;
	unsigned lease_seconds; /* claims expire like batch leases */
	/* Open claims per address, at most, across every crawler process
	 * of the campaign (0: no cap): a claim is refused where that many
	 * are open, and tried again when one finishes (schema/032). */
	unsigned per_ip;
	struct epreg *reg;
	size_t dict_samples; /* handshake records before the dictionary */
};

/* A finished probe this process won: the result to publish, its rows
 * (COPY text of endpoint, or of client_endpoint for a client service's
 * key, and of certificate) and its handshake record line
 * ("ip\tport\tsni\tJSON\n", compressed here; none for a client
 * endpoint), all owned by epclaim once handed in. */
struct epclaim_result {
	struct ep_key key;
	struct ep_done *done;
	struct jbuf endpoint_rows;
	struct jbuf cert_rows;
	struct jbuf record;
	struct epclaim_result *next;
};

struct epclaim_stats {
	uint64_t won;	     /* claims this process took (incl. takeovers) */
	uint64_t taken_over; /* of them, expired claims of others */
	uint64_t remote;     /* results taken from other crawlers */
	uint64_t read_back;  /* our own, read back after epreg dropped them */
	uint64_t released;   /* claims released unfinished at the stop */
	uint64_t capped;     /* claims refused by per_ip (each refusal) */
	uint64_t records_raw, records_zstd; /* handshake record bytes */
};

struct epclaim;

/* Connects and starts the thread into *out. 0, or (*out NULL) -EIO when
 * the database cannot be reached (PostgreSQL's reason printed here),
 * -ENOMEM, or the errno of eventfd() or pthread_create() (not printed:
 * the caller says what failed). */
int epclaim_start(struct epclaim **out, const struct epclaim_config *cfg);

/* Stops the thread once nothing is pending (call after the workers have
 * finished), releases the claims this process holds unfinished (none
 * after a scan that drained; they expire now, so that another crawler or
 * a --resume probes them at once), closes the connection and frees
 * everything. */
void epclaim_stop(struct epclaim *c, struct epclaim_stats *stats);

/* For a process about to end without epclaim_stop (a hard stop): waits
 * for the database statement the thread has under way (a claim being
 * taken, rows being stored) to end, at most a few seconds, and keeps it
 * from starting another, so that the claims it holds, as the caller then
 * finds them in the database, are all it will ever hold. */
void epclaim_freeze(struct epclaim *c);

/* Files the claim for an endpoint epreg_request() answered EPREG_CLAIM
 * for. Another crawler's result is published with its stored chain, which
 * each domain judges for DANE itself (epreg.h). Returns 0, or -ENOMEM
 * (nothing filed). */
int epclaim_request(struct epclaim *c, const struct ep_key *k);

/* Hands in the result of a probe whose claim was won: stored, then
 * published with epreg_publish(). Takes ownership of r. */
void epclaim_finish(struct epclaim *c, struct epclaim_result *r);

#endif
