/*
 * The embedded default resolver: a private, validating unbound under the
 * user's data directory ($XDG_DATA_HOME/mxcrawl/resolver), started on
 * demand with Debian's unbound, reused by every later scan, stopped by its
 * PID. It listens on 127.0.0.1 and a port picked once and recorded, never
 * 53, and it runs as the private PostgreSQL cluster's user (unbound drops
 * to it itself when mxcrawl runs as root; crawler/store/pgembed.h).
 *
 * Its directory holds everything: unbound.conf (written at every start),
 * copies of the root hints and of the trust anchor (unbound's
 * auto-trust-anchor-file must be writable: RFC 5011 updates), unbound.pid,
 * unbound.log, and `state`, which records the address and which root
 * hints and trust anchor the running resolver was started from.
 */
#ifndef MXCRAWL_CRAWLER_UNBOUND_EMBED_H
#define MXCRAWL_CRAWLER_UNBOUND_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "crawler/store/pgembed.h"

/* Debian's dns-root-data: the defaults for --root-hints, --trust-anchor. */
#define UNBOUND_EMBED_ROOT_HINTS "/usr/share/dns/root.hints"
#define UNBOUND_EMBED_TRUST_ANCHOR "/usr/share/dns/root.key"

/* The listening address; the port is picked once (unbound_embed_start). */
#define UNBOUND_EMBED_ADDR "127.0.0.1"

enum unbound_embed_rc {
	UNBOUND_EMBED_OK = 0,
	UNBOUND_EMBED_CANTCREATE, /* its directory or a file in it cannot
				     be written */
	UNBOUND_EMBED_NOINPUT,	  /* root hints or trust anchor unreadable */
	UNBOUND_EMBED_MISMATCH,	  /* it runs from other root hints or
				     another trust anchor than asked */
	UNBOUND_EMBED_FAILED,	  /* unbound did not start or does not
				     answer; its log says why */
	UNBOUND_EMBED_RC_LAST
};

const char *unbound_embed_rc_str(enum unbound_embed_rc rc);

struct unbound_embed {
	struct pgembed pg; /* the data directory and the user it runs as */
	char *dir;	   /* pg.root/resolver */
	char *conf, *pidfile, *logfile, *statefile, *lockfile;
	char *hints, *anchor; /* the copies unbound reads */
	char *program;	      /* $MXCRAWL_UNBOUND or /usr/sbin/unbound */
};

/* What `state` records of the resolver started last. */
struct unbound_embed_state {
	char address[64];      /* "127.0.0.1:PORT" */
	char root_hints[4096]; /* absolute path it was copied from */
	char trust_anchor[4096];
};

/* Works out the paths: 0, or a negative errno (-ENOMEM; the private
 * cluster's set-up errors, pgembed_init, which says why). */
int unbound_embed_init(struct unbound_embed *u);
void unbound_embed_free(struct unbound_embed *u);

/*
 * Starts the resolver, or checks the running one. `root_hints` and
 * `trust_anchor` are absolute paths, or NULL: Debian's files for a new
 * start, and whatever the running one uses for a reuse. A running resolver
 * started from other files than the ones named is not reused
 * (UNBOUND_EMBED_MISMATCH: stop it first). On UNBOUND_EMBED_OK *st holds
 * its address and sources and *started says whether this call started it.
 * `verbose` says what is done on stdout; errors go to stderr.
 */
enum unbound_embed_rc unbound_embed_start(struct unbound_embed *u,
					  const char *root_hints,
					  const char *trust_anchor, int verbose,
					  struct unbound_embed_state *st,
					  int *started);

/* Stops the resolver by its PID (SIGTERM) and waits until it has exited.
 * Returns 0 (also when it was not running) or a negative errno
 * (-ETIMEDOUT: it did not exit in time; its log is named on stderr). */
int unbound_embed_stop(struct unbound_embed *u, int verbose);

/* The running resolver's PID, 0 if it does not run, -ENOENT if it was
 * never started here (no configuration). */
long unbound_embed_pid(const struct unbound_embed *u);

/* Reads `state` into *st: 0, or a negative errno if there is none
 * (-ENOENT) or it names no address (-ENODATA). */
int unbound_embed_state_read(const struct unbound_embed *u,
			     struct unbound_embed_state *st);

/*
 * Whether a root hints file names a loopback address (127.0.0.0/8, ::1)
 * for a root server: then the root is a private one (a testbed) and
 * unbound must be allowed to query localhost. Pure: looks at A and AAAA
 * records of the zone-file text only.
 */
int unbound_embed_hints_loopback(const char *text, size_t len);

/* How big the resolver is made on a machine of `cores` and `ram` bytes
 * (unbound_embed_size_for; the reasons are in unbound_embed.c). */
struct unbound_embed_size {
	unsigned threads, slabs;
	unsigned queries_per_thread, outgoing_range;
	uint64_t msg_cache, rrset_cache, key_cache, neg_cache; /* bytes */
	unsigned infra_hosts;
};

void unbound_embed_size_for(long cores, uint64_t ram,
			    struct unbound_embed_size *sz);

/* What unbound.conf is written from. */
struct unbound_embed_conf {
	const char *dir, *pidfile, *logfile, *hints, *anchor; /* absolute */
	const char
	    *user; /* unbound becomes this user; "": it stays who it is */
	unsigned port;
	int private_root; /* unbound_embed_hints_loopback() of the hints */
	struct unbound_embed_size size;
};

/* The text of unbound.conf (malloc'ed), or NULL when out of memory. Pure:
 * the same input gives the same text. */
char *unbound_embed_conf_text(const struct unbound_embed_conf *c);

#endif
