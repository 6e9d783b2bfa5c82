/*
 * The database side of a scan, used only by the store thread: leasing
 * batches, loading their targets, renewing leases, and writing a finished
 * batch's rows with COPY together with its completion, in one transaction.
 * Every function reconnects when the connection was lost, so a PostgreSQL
 * restart in the middle of a scan costs time, not data.
 */
#ifndef MXCRAWL_STORE_STORE_H
#define MXCRAWL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "crawler/util/jbuf.h"
#include "crawler/store/tables.h"

/* Bytes of rows one batch may hold per table before it fails. */
#define STORE_BATCH_ROWS_MAX (256u << 20)

struct batch_target {
	int64_t id;
	const char *domain; /* in batch->names */
};

/* A leased batch, its targets and, once probed, its rows. */
struct batch {
	int64_t batch_no;
	size_t n;	/* targets */
	size_t started; /* probes started */
	size_t done;	/* probes finished */
	bool abandoned; /* cannot be completed here: dropped, not written */
	struct batch_target *t;
	char *names;
	struct jbuf out[TABLE_LAST];
	/* The scheduler's worker loop probing it (sched.c; the store never
	 * reads it): each domain's probe reports to its batch with no
	 * allocation of its own. */
	void *prober;
	struct batch *next; /* queue link */
};

void batch_free(struct batch *b);

struct record_codec;

/* Handshake records on their way to handshake_record: the codec with its
 * dictionary (trained on the first records, stored in zstd_dict) and the
 * bytes before and after compression, for the summary. */
struct store_records {
	struct record_codec *codec;
	int64_t campaign_id;
	const char *worker_id;
	uint64_t raw, zstd;
};

/* Turns record lines ("ip\tport\tsni\tJSON\n") into handshake_record
 * COPY rows appended to rows: samples the lines of `samples` (NULL: all
 * of `lines`) for the dictionary, trains and stores it on c once enough
 * are in, compresses. Returns 0, or (nothing appended) the error of a
 * record that could not be compressed (record_codec_compress()) or of
 * rows (jbuf_error()). */
int store_records_compress(PGconn *c, struct store_records *sr,
			   const struct jbuf *lines, const struct jbuf *samples,
			   struct jbuf *rows);

struct store {
	PGconn *c;
	struct store_records rec; /* handshake records of batches */
	const char *conninfo;
	int64_t campaign_id;
	const char *worker_id;
	unsigned lease_seconds;
	size_t dict_samples; /* records before the dictionary is trained */
};

/* Connects; returns 0, -ENOMEM, or -EIO with PostgreSQL's reason
 * printed. */
int store_open(struct store *s);
void store_close(struct store *s);

/* Leases the next batch and loads its targets: 1 and *out set, 0 when no
 * batch can be leased now, -EIO on a database error (reconnect and retry),
 * -ENOMEM. */
int store_lease(struct store *s, struct batch **out);

/* Batches of the campaign not done yet: all of them, and those leased by
 * other crawlers whose lease has not expired. 0, or -EIO. */
int store_open_batches(struct store *s, int64_t *undone,
		       int64_t *held_by_others);

/* Targets of the campaign, and those stored. 0, or -EIO. */
int store_progress(struct store *s, int64_t *total, int64_t *done);

/* Writes a batch's rows and completes it in one transaction. A batch cut
 * short by a stop (done < n; its first `done` targets probed, none in
 * flight) is stored in part: the rows of those targets, and its lease
 * released in the same transaction, so that the rest is leased again at
 * once and alone. *discarded is set when another crawler completed the
 * batch first, or stored any of these targets, or (for a part) leased the
 * batch since: nothing written. Returns 0, or -EIO on a database error,
 * -ENOMEM (nothing written; retry). */
int store_write(struct store *s, struct batch *b, bool *discarded);

/* Ends the leases this crawler still holds on open batches (they expire
 * now), so that another crawler or a --resume takes them at once.
 * *released: how many. 0, or -EIO. */
int store_release(struct store *s, int64_t *released);

/* Extends this crawler's leases (heartbeat). 0, or -EIO. */
int store_renew(struct store *s);

/* Gathers planner statistics of the campaign's partitions. 0, or -EIO. */
int store_analyze(struct store *s);

/* Sets the campaign's state ('running', 'done'). 0, or -EIO. */
int store_set_state(struct store *s, const char *state);

/* COPYs rows (COPY text) into table's columns; staged: through a
 * session-local staging table and INSERT ... ON CONFLICT DO NOTHING, for
 * rows another crawler may have stored. Call inside a transaction.
 * Returns 0, or -EIO (warned unless the connection broke). */
int store_copy_rows(PGconn *c, const char *table, const char *columns,
		    const struct jbuf *rows, bool staged);

/* True if the connection is broken (then store_reconnect()). */
bool store_broken(const struct store *s);
/* Tries to connect again; 0, or -EIO. */
int store_reconnect(struct store *s);

#endif
