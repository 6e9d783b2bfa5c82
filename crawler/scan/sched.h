/*
 * The scan scheduler: worker threads (one libuv loop each) run domain
 * probes inside a bounded in-flight window and a global rate cap, fed with
 * batches that the store thread leases from the campaign queue; finished
 * batches go back to the store thread, which writes their rows and marks
 * them done in one transaction. When writes back up, no new batch is
 * leased (backpressure).
 */
#ifndef MXCRAWL_CRAWLER_SCHED_H
#define MXCRAWL_CRAWLER_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "crawler/scan/addrpolicy.h"
#include "crawler/scan/probe.h"
#include "crawler/dns/resolver.h"

struct sched_config {
	int64_t campaign_id;
	const char *campaign_name; /* for messages */
	int64_t run_id;		   /* campaign_run: ended by a hard stop */
	const char *conninfo;	   /* the store thread's own connection */
	const char *worker_id;	   /* host/pid, recorded with leases and rows */
	unsigned workers;	   /* threads, each with its own loop */
	unsigned concurrency;	   /* domains in flight, whole process */
	double rate;		   /* domains started per second; 0: no cap */
	unsigned lease_seconds;	   /* a lease not renewed expires after this */
	unsigned progress_seconds; /* 0: no progress output */
	bool quiet;
	struct resolver_config resolver;
	const struct addr_policy *policy;
	/* The SMTP/TLS stage: off when smtp is false. */
	bool smtp;
	/* Mail client ports (probe_env.client_srv): SRV discovery. */
	bool client_srv;
	/* And the six client ports of the MX hosts (probe_env.client_mx). */
	bool client_mx;
	const char *ehlo_name;
	struct smtp_limits smtp_limits;
	const struct verify_ctx *verify;
	const char *ca_file; /* the MTA-STS fetch's trust store; NULL: system */
	size_t record_dict_samples; /* 0: RECORD_DICT_SAMPLES */
	unsigned per_ip;	    /* concurrent probes per address, 0: none */
	/* Bytes of idle endpoint results kept (epreg_set_limit); 0:
	 * EPREG_LIMIT_DEFAULT, SIZE_MAX: all. */
	size_t endpoint_cache;
	/* Called on the main thread at each wake-up while the scan runs
	 * (about once a second): a caller's check of what the first
	 * connections tell (NULL: none). */
	void (*on_watch)(void *arg);
	void *watch_arg;
};

struct sched_summary {
	struct probe_counts counts;
	uint64_t endpoints_probed;
	uint64_t endpoints_remote;     /* results taken from other crawlers */
	uint64_t endpoints_taken_over; /* claims of dead crawlers taken */
	uint64_t endpoints_capped;     /* claims refused by the campaign's
				      per-address cap (each refusal) */
	uint64_t registry_peak_bytes;  /* the endpoint registry's (epreg.h) */
	uint64_t registry_dropped;     /* results it dropped past its limit */
	uint64_t registry_read_back;   /* of them, read back from the rows */
	uint64_t starttls_ok;
	/* Of the time domains waited to start, the share the rate cap
	 * alone held them back (0 without a cap): near 1, the cap, not the
	 * window or the network, set the pace. */
	double rate_held_share;
	uint64_t records_raw, records_zstd; /* handshake record bytes */
	uint64_t batches_written;
	uint64_t batches_discarded; /* completed meanwhile by another crawler */
	uint64_t domains_stored;    /* by this run, whole batches and parts */
	uint64_t domains_given_back; /* of batches cut short: not started,
				      * leases released for --resume */
	uint64_t domains_dropped; /* scanned, but another crawler stored them */
	uint64_t batches_split;	  /* cut short and stored in part */
	uint64_t domains_split;	  /* domains stored of those batches */
	uint64_t claims_released; /* endpoint claims released unfinished */
	uint64_t total_targets;	  /* in the campaign */
	uint64_t done_before;	  /* already done when this run started */
	/* Domains of the campaign stored by every crawler, read once this
	 * run's are stored (-1: could not be read): a crawler sharing the
	 * campaign tells its real completion, not its own share. */
	int64_t done_at_end;
	double seconds;
	bool interrupted; /* SIGINT/SIGTERM: stopped leasing, drained */
};

/* Runs the scan until the campaign's queue is done (or a signal asks to
 * stop). Returns 0, or a negative errno: -ENOMEM, which the caller
 * prints, or another (-EIO for the database) with the reason printed
 * here, where it is known.
 *
 * SIGINT or SIGTERM: no new domain is started; those in flight finish
 * and are stored, with every batch cut short stored in part (its leases
 * released in the same transaction, store_write), so that a --resume
 * starts at once with what is left. A second signal stops at once:
 * leases and unfinished endpoint claims are released and the process
 * exits EX_TEMPFAIL without returning; the domains in flight and those
 * of batches not stored yet are lost to this run and scanned again by a
 * --resume (endpoints stored meanwhile are not probed again). A third
 * signal ends the process the default way. */
int sched_run(const struct sched_config *cfg, struct sched_summary *out);

#endif
