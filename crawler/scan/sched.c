/*
 * Threads of a scan:
 *
 *   workers (N)  one libuv loop each: take batches from their inbox, start
 *                probes within the window and the rate cap, hand finished
 *                batches to the store thread
 *   store (1)    the only database user: leases batches for workers that
 *                ask, writes finished batches, renews leases
 *   main         prints progress until the workers and the store are done
 *
 * Workers and the store talk through two mutex-protected queues: the store
 * queue (requests for work and finished batches) and each worker's inbox,
 * whose arrival is signalled with uv_async_send().
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "crawler/util/log.h"
#include "crawler/util/retry.h"
#include "crawler/verify/danecache.h"
#include "crawler/scan/epclaim.h"
#include "crawler/scan/pace.h"
#include "crawler/scan/sched.h"
#include "crawler/store/store.h"
#include "crawler/sts/stsfetch.h"

/* Finished batches waiting for the writer, per worker, before the store
 * stops leasing (backpressure). */
#define SCHED_PENDING_WRITES_PER_WORKER 2
/* Seconds between attempts to reconnect or to lease again while other
 * crawlers hold the remaining batches. */
#define SCHED_RETRY_SECONDS 1
/* Seconds a hard stop waits for a batch being written, at most. */
#define SCHED_HARD_STOP_WAIT_SECONDS 5
/* Tick of the rate limiter. */
#define SCHED_RATE_TICK_MS 10
/* Consecutive failed writes of one batch (with a working connection)
 * before the scan gives up: a data error that retrying cannot fix. */
#define SCHED_WRITE_ATTEMPTS 3
/* Decoded leaves kept per worker for the per-domain name check (a few
 * KiB each); the MX hosts of neighbouring domains are mostly the same
 * providers'. */
#define SCHED_LEAF_CACHE 512
/* DANE judgements kept per worker (48 bytes each): one per chain, TLSA
 * set and names, so one per shared DANE endpoint of a provider. */
#define SCHED_DANE_CACHE 4096

struct worker;

struct shared {
	const struct sched_config *cfg;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* store queue changed */
	/* Held by the store thread while it writes a batch and counts it;
	 * taken for good by a hard stop. Never taken while holding mu. */
	pthread_mutex_t writing;
	struct batch *writes; /* finished batches, FIFO */
	struct batch **writes_tail;
	size_t nwrites;
	unsigned *req; /* workers waiting for a batch, FIFO */
	unsigned nreq;
	unsigned workers_running;
	bool failed; /* fatal store error: stop */

	/* Progress counters, updated by workers. */
	_Atomic uint64_t domains, mx, implicit_mx, null_mx, no_domain,
	    dns_error, blocklisted, not_recorded, queries, refused, endpoints,
	    starttls;
	_Atomic uint64_t batches_written, batches_discarded;
	/* What the store thread did with the domains handed in. */
	_Atomic uint64_t domains_stored, domains_given_back, domains_dropped,
	    batches_split, domains_split;
	_Atomic uint64_t inflight; /* domains in flight, all workers */
	/* Rate ticks at which a worker had domains waiting to start, and
	 * those at which the cap alone held them back (pace_rate_held): a
	 * worker without work says nothing of the cap. The main thread's
	 * copies
	 * at its last progress line. */
	_Atomic uint64_t rate_ticks, rate_held;
	uint64_t shown_ticks, shown_held;
	struct worker *w;
	unsigned nworkers;
	struct ipcap *cap;	/* --per-ip, shared by the workers' loops */
	struct epreg *reg;	/* endpoints probed by this process */
	struct epclaim *claims; /* ... and across processes */
};

struct worker {
	struct shared *sh;
	unsigned index;
	pthread_t thread;
	uv_loop_t loop;
	uv_async_t inbox_async;
	uv_async_t ep_async; /* endpoint results for waiting domains */
	uv_timer_t rate_timer;
	uint64_t rate_last; /* the loop's time at the last rate tick */
	struct resolver *resolver;
	struct probe_env env;
	struct endpoint_env ep_env;
	struct endpoint_tally tally; /* ep_env's probes, for progress */
	struct stsfetch *sts;	     /* MTA-STS policy fetches */

	pthread_mutex_t mu; /* guards inbox, no_more */
	struct batch *inbox;
	bool no_more; /* the store has nothing left for us */

	struct batch *active; /* batches being probed (started or not) */
	bool asked;	      /* a request for work is outstanding */
	bool waiting;	      /* domains at hand not started yet */
	struct pace pace;     /* the window and the rate cap */
	/* Inside probe_start: a probe that ends at once (a blocklisted
	 * domain asks nothing) is accounted for by worker_pump, which is
	 * walking the batches, not by on_probe_done. */
	bool starting;
	bool finished;
	bool handles; /* the loop's handles exist (for cleanup) */
};

/* 0: scanning; 1: stop (a signal, or a fatal error): no new domains, the
 * ones in flight are finished and stored, the rest given back; 2: a
 * second signal, stop at once (sched_run: hard_stop). */
static volatile sig_atomic_t stop_requested;
/* A progress bar is on the terminal: the signal's line starts a new one. */
static volatile sig_atomic_t progress_bar;

/* Says at once what the signal does (write(2) is async-signal-safe; the
 * lines are fixed). A third signal ends the process the default way, in
 * case the hard stop itself hangs. */
static void on_signal(int sig)
{
	static const char first[] =
	    "scan: stopping: no new domains; finishing those in flight, "
	    "storing them and giving the rest back to the queue (signal "
	    "again to stop at once)\n";
	static const char second[] =
	    "scan: stopping at once: releasing leases and claims; domains "
	    "in flight or not yet stored are left for --resume\n";
	int saved = errno;

	if (stop_requested >= 2) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_requested = stop_requested + 1;
	if (progress_bar) {
		ssize_t n = write(2, "\n", 1);
		(void)n;
	}
	ssize_t n = stop_requested >= 2 ? write(2, second, sizeof second - 1)
					: write(2, first, sizeof first - 1);
	(void)n;
	errno = saved;
}

/* --- worker ---------------------------------------------------------- */

static void worker_pump(struct worker *w);

static void ask_for_work(struct worker *w)
{
	struct shared *sh = w->sh;

	if (w->asked || w->no_more)
		return;
	w->asked = true;
	pthread_mutex_lock(&sh->mu);
	sh->req[sh->nreq++] = w->index;
	pthread_cond_signal(&sh->cond);
	pthread_mutex_unlock(&sh->mu);
}

static void hand_in(struct worker *w, struct batch *b)
{
	struct shared *sh = w->sh;

	pthread_mutex_lock(&sh->mu);
	b->next = NULL;
	*sh->writes_tail = b;
	sh->writes_tail = &b->next;
	sh->nwrites++;
	pthread_cond_signal(&sh->cond);
	pthread_mutex_unlock(&sh->mu);
}

/* A probe of batch `arg` is done (probe.h); b->prober is its worker. */
/* Hands b to the writer once every domain of it that was started is
 * done: a complete batch whole, an abandoned one in part (what was probed
 * is stored, the rest given back; store_write). */
static void batch_check(struct worker *w, struct batch *b)
{
	if (b->done != b->n && !(b->abandoned && b->done == b->started))
		return;
	struct batch **pp = &w->active;
	while (*pp && *pp != b)
		pp = &(*pp)->next;
	if (*pp)
		*pp = b->next;
	hand_in(w, b);
}

static void on_probe_done(void *arg, const struct probe_counts *d)
{
	struct batch *b = arg;
	struct worker *w = b->prober;
	struct shared *sh = w->sh;

	atomic_fetch_add(&sh->domains, d->domains);
	atomic_fetch_add(&sh->mx, d->mx);
	atomic_fetch_add(&sh->implicit_mx, d->implicit_mx);
	atomic_fetch_add(&sh->null_mx, d->null_mx);
	atomic_fetch_add(&sh->no_domain, d->no_domain);
	atomic_fetch_add(&sh->dns_error, d->dns_error);
	atomic_fetch_add(&sh->blocklisted, d->blocklisted);
	atomic_fetch_add(&sh->not_recorded, d->not_recorded);
	atomic_fetch_add(&sh->queries, d->queries);
	atomic_fetch_add(&sh->refused, d->refused_addresses);
	atomic_fetch_add(&sh->endpoints, d->endpoints_probed);
	atomic_fetch_add(&sh->starttls, d->starttls_ok);
	atomic_fetch_sub(&sh->inflight, 1);
	pace_finished(&w->pace);
	b->done++;
	if (w->starting)
		return;
	batch_check(w, b);
	worker_pump(w);
}

/* Starts what the window and the rate allow; asks for work when the
 * batches at hand are all started. Ends the loop when all is done. */
static void worker_pump(struct worker *w)
{
	struct batch *next;

	for (struct batch *b = w->active; b && pace_can_start(&w->pace);
	     b = next) {
		while (b->started < b->n && pace_can_start(&w->pace) &&
		       !stop_requested) {
			struct batch_target *t = &b->t[b->started++];
			/* Counted before it starts: it may end inside
			 * probe_start. */
			pace_started(&w->pace);
			atomic_fetch_add(&w->sh->inflight, 1);
			w->starting = true;
			int rc = probe_start(&w->env, t->id, t->domain, b->out,
					     on_probe_done, b);
			w->starting = false;
			if (rc != 0) {
				pace_finished(&w->pace);
				atomic_fetch_sub(&w->sh->inflight, 1);
				/* Out of memory, and not even the domain's
				 * not_recorded row could be written (probe.h):
				 * the batch cannot be finished here; it stays
				 * leased and expires, and a resumed scan
				 * takes it again. */
				log_warn(
				    "worker %u: out of memory; batch %" PRId64
				    " left for a later run",
				    w->index, b->batch_no);
				b->started--;
				b->abandoned = true;
				stop_requested = 1;
				break;
			}
		}
		next = b->next;
		batch_check(w, b);
	}
	bool all_started = true;
	for (struct batch *b = w->active; b; b = b->next)
		if (b->started < b->n)
			all_started = false;
	w->waiting = !all_started && !stop_requested;
	if (all_started && !stop_requested)
		ask_for_work(w);
	/* Done when nothing is in flight, no reply to a request is due (the
	 * store may still deliver to the inbox), and nothing is left. */
	if (w->pace.inflight == 0 && !w->asked &&
	    (w->no_more || stop_requested) && !w->finished) {
		/* Batches cut short by the stop, started in part or not at
		 * all, go to the writer too: it stores what was probed and
		 * gives the rest back (releases their leases). */
		while (w->active) {
			struct batch *b = w->active;
			w->active = b->next;
			hand_in(w, b);
		}
		w->finished = true;
		uv_close((uv_handle_t *)&w->inbox_async, NULL);
		uv_close((uv_handle_t *)&w->ep_async, NULL);
		uv_close((uv_handle_t *)&w->rate_timer, NULL);
		/* Nothing in flight: no probe of this loop waits. */
		ipcap_detach(w->ep_env.cap);
		w->ep_env.cap = NULL;
		resolver_free(w->resolver);
		w->resolver = NULL;
		if (w->sts)
			stsfetch_close(w->sts, NULL, NULL);
		w->sts = NULL;
	}
}

static void on_ep_async(uv_async_t *a)
{
	struct worker *w = a->data;
	epreg_drain(w->sh->reg, w->index);
}

/* The registry's wake-up: called from any worker's thread. */
static void wake_worker(void *ctx, unsigned index)
{
	struct shared *sh = ctx;
	uv_async_send(&sh->w[index].ep_async);
}

static void on_inbox(uv_async_t *a)
{
	struct worker *w = a->data;
	struct batch *got, **tail;

	pthread_mutex_lock(&w->mu);
	got = w->inbox;
	w->inbox = NULL;
	if (w->no_more || got)
		w->asked = false;
	pthread_mutex_unlock(&w->mu);
	for (struct batch *b = got; b; b = b->next)
		b->prober = w;
	tail = &w->active;
	while (*tail)
		tail = &(*tail)->next;
	*tail = got;
	worker_pump(w);
}

static void on_rate_tick(uv_timer_t *t)
{
	struct worker *w = t->data;

	uint64_t now = uv_now(&w->loop);
	unsigned ms = (unsigned)(now - w->rate_last);

	w->rate_last = now;
	if (w->waiting) {
		atomic_fetch_add(&w->sh->rate_ticks, 1);
		if (pace_rate_held(&w->pace))
			atomic_fetch_add(&w->sh->rate_held, 1);
	}
	if (pace_advance(&w->pace, ms) || stop_requested)
		worker_pump(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	worker_pump(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	pthread_mutex_lock(&w->sh->mu);
	w->sh->workers_running--;
	pthread_cond_signal(&w->sh->cond);
	pthread_mutex_unlock(&w->sh->mu);
	return NULL;
}

/* 0, -ENOMEM (not printed), or another negative errno with the reason
 * printed (the worker's loop, resolver, TLS context or fetcher). */
static int worker_init(struct worker *w, struct shared *sh, unsigned index)
{
	const struct sched_config *cfg = sh->cfg;
	const char *err = NULL;
	int rc;

	memset(w, 0, sizeof *w);
	w->sh = sh;
	w->index = index;
	pthread_mutex_init(&w->mu, NULL);
	rc = uv_loop_init(&w->loop);
	if (rc != 0) {
		log_error("worker %u: event loop: %s", index, uv_strerror(rc));
		return rc;
	}
	uv_async_init(&w->loop, &w->inbox_async, on_inbox);
	w->inbox_async.data = w;
	uv_async_init(&w->loop, &w->ep_async, on_ep_async);
	w->ep_async.data = w;
	uv_timer_init(&w->loop, &w->rate_timer);
	w->rate_timer.data = w;
	w->handles = true;
	pace_init(&w->pace, cfg->concurrency, cfg->workers, cfg->rate,
		  SCHED_RATE_TICK_MS);
	if (cfg->rate > 0) {
		w->rate_last = uv_now(&w->loop);
		uv_timer_start(&w->rate_timer, on_rate_tick, SCHED_RATE_TICK_MS,
			       SCHED_RATE_TICK_MS);
	} else {
		uv_unref((uv_handle_t *)&w->rate_timer);
	}
	w->resolver = resolver_new(&w->loop, &cfg->resolver, &err);
	if (!w->resolver) {
		log_error("worker %u: resolver: %s", index,
			  err ? err : "failed");
		/* resolver_new() says why in words only: its reasons are
		 * a configuration the command line let through. */
		return -EINVAL;
	}
	w->env.loop = &w->loop;
	w->env.resolver = w->resolver;
	w->env.policy = cfg->policy;
	w->env.worker = cfg->worker_id;
	w->env.campaign_id = cfg->campaign_id;
	w->env.worker_index = index;
	w->env.reg = sh->reg;
	w->env.claims = sh->claims;
	w->env.verify = cfg->verify;
	w->env.client_srv = cfg->client_srv;
	w->env.client_mx = cfg->client_mx;
	if (cfg->smtp) {
		w->ep_env.loop = &w->loop;
		w->ep_env.ehlo_name = cfg->ehlo_name;
		w->ep_env.limits = cfg->smtp_limits;
		w->ep_env.tally = &w->tally;
		if (sh->cap) {
			/* One cap for the process; this loop's door to it. */
			w->ep_env.cap = ipcap_attach(sh->cap, &w->loop);
			if (!w->ep_env.cap)
				return -ENOMEM;
		}
		w->ep_env.tls = tls_client_ctx_new();
		if (!w->ep_env.tls) {
			log_error("worker %u: cannot create a TLS context",
				  index);
			return -ENOMEM;
		}
		w->env.ep_env = &w->ep_env;
		w->env.names = verify_leaf_cache_new(SCHED_LEAF_CACHE);
		w->env.dane = dane_cache_new(SCHED_DANE_CACHE);
		if (!w->env.names || !w->env.dane)
			return -ENOMEM;
		struct stsfetch_config fc = { .ca_file = cfg->ca_file };
		rc = stsfetch_init(&w->sts, &w->loop, &fc);
		if (rc != 0) {
			log_error("worker %u: MTA-STS fetch: %s", index,
				  strerror(-rc));
			return rc;
		}
		w->env.sts = w->sts;
	}
	return 0;
}

/* Delivers a batch (or "no more", b == NULL) to a worker. */
static void deliver(struct worker *w, struct batch *b)
{
	pthread_mutex_lock(&w->mu);
	if (b) {
		b->next = w->inbox;
		w->inbox = b;
	} else {
		w->no_more = true;
	}
	pthread_mutex_unlock(&w->mu);
	uv_async_send(&w->inbox_async);
}

/* --- store thread ---------------------------------------------------- */

struct store_thread {
	struct shared *sh;
	struct store st;
	pthread_t thread;
};

/* Takes the oldest request for work; call with sh->mu held. */
static struct worker *pop_request(struct shared *sh)
{
	unsigned i = sh->req[0];

	memmove(sh->req, sh->req + 1, --sh->nreq * sizeof *sh->req);
	return &sh->w[i];
}

static void wait_for_database(struct store_thread *s)
{
	struct retry r = { 0 };

	while (!stop_requested && store_broken(&s->st) &&
	       store_reconnect(&s->st) != 0)
		retry_pause(&r, SCHED_RETRY_SECONDS,
			    "lost the database connection; retrying every "
			    "%d s (nothing is lost)",
			    SCHED_RETRY_SECONDS);
	retry_over(&r, "database connection back");
}

static void *store_main(void *arg)
{
	struct store_thread *s = arg;
	struct shared *sh = s->sh;
	const struct sched_config *cfg = sh->cfg;
	time_t last_renew = time(NULL), retry_lease_at = 0;
	unsigned write_failures = 0;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		/* 1. Write finished batches first: they free memory. */
		if (sh->writes) {
			struct batch *b = sh->writes;
			pthread_mutex_unlock(&sh->mu);
			/* A write and its counting are one step for a hard
			 * stop (hard_stop). */
			pthread_mutex_lock(&sh->writing);
			bool discarded = false;
			int rc = store_write(&s->st, b, &discarded);
			if (rc != 0 && store_broken(&s->st)) {
				wait_for_database(s);
				if (!store_broken(&s->st)) {
					pthread_mutex_unlock(&sh->writing);
					pthread_mutex_lock(&sh->mu);
					continue;
				}
				/* Stopping without a database: the batch
				 * stays open and a resumed scan redoes it. */
			}
			if (rc != 0 &&
			    ++write_failures < SCHED_WRITE_ATTEMPTS) {
				pthread_mutex_unlock(&sh->writing);
				pthread_mutex_lock(&sh->mu);
				continue;
			}
			pthread_mutex_lock(&sh->mu);
			sh->writes = b->next;
			if (!sh->writes)
				sh->writes_tail = &sh->writes;
			sh->nwrites--;
			if (rc != 0) {
				log_error("cannot store batch %" PRId64
					  "; stopping "
					  "(the batch stays open for --resume)",
					  b->batch_no);
				sh->failed = true;
				stop_requested = 1;
			} else if (discarded) {
				atomic_fetch_add(&sh->batches_discarded, 1);
				atomic_fetch_add(&sh->domains_dropped, b->done);
			} else {
				atomic_fetch_add(&sh->domains_stored, b->done);
				if (b->done == b->n) {
					atomic_fetch_add(&sh->batches_written,
							 1);
				} else {
					atomic_fetch_add(
					    &sh->domains_given_back,
					    b->n - b->done);
					atomic_fetch_add(&sh->batches_split,
							 b->done > 0);
					atomic_fetch_add(&sh->domains_split,
							 b->done);
				}
			}
			write_failures = 0;
			pthread_mutex_unlock(&sh->mu);
			pthread_mutex_unlock(&sh->writing);
			batch_free(b);
			pthread_mutex_lock(&sh->mu);
			continue;
		}
		if (sh->workers_running == 0)
			break;
		/* 2. Heartbeat. */
		if (time(NULL) - last_renew >=
		    (time_t)(cfg->lease_seconds / 3 + 1)) {
			pthread_mutex_unlock(&sh->mu);
			if (store_renew(&s->st) != 0 && store_broken(&s->st))
				wait_for_database(s);
			last_renew = time(NULL);
			pthread_mutex_lock(&sh->mu);
			continue;
		}
		/* 3. Lease for a worker that asked, unless writes back up. */
		struct worker *w = NULL;
		if (sh->nreq && stop_requested) {
			w = pop_request(sh);
			pthread_mutex_unlock(&sh->mu);
			deliver(w, NULL);
			pthread_mutex_lock(&sh->mu);
			continue;
		}
		if (sh->nreq && time(NULL) >= retry_lease_at &&
		    sh->nwrites <
			SCHED_PENDING_WRITES_PER_WORKER * cfg->workers) {
			pthread_mutex_unlock(&sh->mu);
			struct batch *b = NULL;
			int rc = store_lease(&s->st, &b);
			if (rc < 0) {
				if (store_broken(&s->st))
					wait_for_database(s);
				else
					retry_lease_at =
					    time(NULL) + SCHED_RETRY_SECONDS;
				pthread_mutex_lock(&sh->mu);
				continue;
			}
			if (rc == 0) {
				int64_t undone = 0, others = 0;
				if (store_open_batches(&s->st, &undone,
						       &others) != 0) {
					retry_lease_at =
					    time(NULL) + SCHED_RETRY_SECONDS;
					pthread_mutex_lock(&sh->mu);
					continue;
				}
				if (others > 0) {
					/* Another crawler holds the rest; its
					 * leases may expire. Look again soon. */
					retry_lease_at =
					    time(NULL) + SCHED_RETRY_SECONDS;
					pthread_mutex_lock(&sh->mu);
					continue;
				}
			}
			pthread_mutex_lock(&sh->mu);
			w = pop_request(sh);
			pthread_mutex_unlock(&sh->mu);
			deliver(w, rc == 1 ? b : NULL);
			pthread_mutex_lock(&sh->mu);
			continue;
		}
		/* 4. Nothing to do now: wait for news or the next deadline. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&sh->cond, &sh->mu, &until);
	}
	pthread_mutex_unlock(&sh->mu);
	return NULL;
}

/* --- progress -------------------------------------------------------- */

/*
 * What the domains in flight wait for, as a clause for the progress
 * line: "12 in flight: 15 endpoints probing, longest deadline in 18 s,
 * 3 waiting for a per-address slot". Once few domains are left, the ETA
 * says nothing and this says why the scan has not ended yet.
 */
static void tail_text(struct shared *sh, char *buf, size_t size)
{
	uint64_t endpoints = 0, last = 0;
	for (unsigned i = 0; i < sh->nworkers; i++) {
		uint64_t d = atomic_load(&sh->w[i].tally.last_deadline_ms);
		endpoints += atomic_load(&sh->w[i].tally.running);
		if (d > last)
			last = d;
	}
	uint64_t now = uv_hrtime() / 1000000;
	size_t queued = sh->cap ? ipcap_queued(sh->cap) : 0;
	int n = snprintf(buf, size, "%" PRIu64 " in flight",
			 atomic_load(&sh->inflight));
	if (n > 0 && (size_t)n < size && (endpoints || queued))
		n += snprintf(buf + n, size - n,
			      ": %" PRIu64 " endpoints probing, longest "
			      "deadline in %" PRIu64 " s",
			      endpoints,
			      last > now ? (last - now + 999) / 1000 : 0);
	if (n > 0 && (size_t)n < size && queued)
		snprintf(buf + n, size - n,
			 ", %zu waiting for a per-address slot", queued);
}

/* " (rate-capped at 100/s, --rate)" when, since the last line, the cap
 * held back the domains waiting to start most of the time: the pace is
 * then the cap's, not the window's or the network's, and the line says
 * so. (held is read first: a worker counts a tick before its hold.) */
static const char *rate_note(struct shared *sh, char *buf, size_t size)
{
	uint64_t held = atomic_load(&sh->rate_held);
	uint64_t ticks = atomic_load(&sh->rate_ticks);
	uint64_t dt = ticks - sh->shown_ticks, dh = held - sh->shown_held;

	sh->shown_ticks = ticks;
	sh->shown_held = held;
	buf[0] = '\0';
	if (dt > 0 && dh * 2 > dt)
		snprintf(buf, size, " (rate-capped at %.0f/s, --rate)",
			 sh->cfg->rate);
	return buf;
}

static void progress(struct shared *sh, uint64_t total, uint64_t before,
		     double secs, bool tty, bool final)
{
	uint64_t done = atomic_load(&sh->domains);
	uint64_t left = total > before + done ? total - before - done : 0;
	double rate = secs > 0 ? done / secs : 0;
	double pct = total ? 100.0 * (before + done) / total : 100;
	unsigned eta = rate > 0 ? (unsigned)(left / rate) : 0;
	uint64_t inflight = atomic_load(&sh->inflight);
	char tail[160], capped[64];

	tail_text(sh, tail, sizeof tail);
	rate_note(sh, capped, sizeof capped);
	if (stop_requested && !final) {
		/* No ETA once stopping: the rest is given back, not scanned;
		 * what is left is the tail in flight. */
		fprintf(stderr,
			"%sscan: stopping: %" PRIu64 "/%" PRIu64
			" domains, %s; %" PRIu64 " stored this run%s",
			tty ? "\r" : "", before + done, total, tail,
			atomic_load(&sh->domains_stored), tty ? " " : "\n");
		fflush(stderr);
		return;
	}
	/* The tail: every domain left is in flight. */
	bool in_tail = inflight > 0 && left <= inflight;
	if (tty && !final) {
		int bar = (int)(pct / 5);
		char eta_text[32];
		snprintf(eta_text, sizeof eta_text, "ETA %u:%02u:%02u",
			 eta / 3600, eta / 60 % 60, eta % 60);
		/* The errors the log line counts, then the ETA or, in the
		 * tail, what it waits for; \033[K clears the rest of a
		 * longer line before. */
		fprintf(
		    stderr,
		    "\r[%.*s%*s] %5.1f%% %" PRIu64 "/%" PRIu64
		    " %.0f/s%s nxdomain %" PRIu64 " dns error %" PRIu64
		    " not recorded %" PRIu64 " %s\033[K",
		    bar, "####################", 20 - bar, "", pct,
		    before + done, total, rate, capped,
		    atomic_load(&sh->no_domain), atomic_load(&sh->dns_error),
		    atomic_load(&sh->not_recorded), in_tail ? tail : eta_text);
		fflush(stderr);
		return;
	}
	fprintf(stderr,
		"scan: %" PRIu64 "/%" PRIu64
		" domains (%.1f%%), %.0f domains/s%s, "
		"ETA %u:%02u:%02u; mx %" PRIu64 ", implicit %" PRIu64
		", null %" PRIu64 ", nxdomain %" PRIu64 ", dns error %" PRIu64
		", not recorded %" PRIu64 ", %" PRIu64 " queries%s%s\n",
		before + done, total, pct, rate, capped, eta / 3600,
		eta / 60 % 60, eta % 60, atomic_load(&sh->mx),
		atomic_load(&sh->implicit_mx), atomic_load(&sh->null_mx),
		atomic_load(&sh->no_domain), atomic_load(&sh->dns_error),
		atomic_load(&sh->not_recorded), atomic_load(&sh->queries),
		in_tail && !final ? "; " : "", in_tail && !final ? tail : "");
}

/* The second signal: the workers' probes are not cancelled, so rather
 * than wait for them, end the process now, the way a kill would, but
 * first release in one transaction, on a connection of its own, the
 * batch leases and the endpoint claims this crawler holds, and record the
 * run's end: a --resume (or another crawler) starts at once and scans
 * again what was not stored, and reprobes the endpoints whose rows were
 * not stored. A write under way on the store or claims connection commits
 * whole or not at all (the server rolls back when the process ends);
 * nothing stored is lost. */
static void hard_stop(const struct sched_config *cfg, struct shared *sh)
{
	char cid[24], rid[24], n[24];
	const char *p[4] = { cid, cfg->worker_id, rid, n };
	bool ok = false;
	struct timespec until;

	/* No claim may be taken after the release below, and no batch
	 * written after the count of stored domains is read: wait for the
	 * statements under way (a few seconds at most; past that, e.g. with
	 * the database gone, go on: the count may then fall short). */
	epclaim_freeze(sh->claims);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SCHED_HARD_STOP_WAIT_SECONDS;
	pthread_mutex_timedlock(&sh->writing, &until);
	uint64_t stored = atomic_load(&sh->domains_stored);
	snprintf(cid, sizeof cid, "%" PRId64, cfg->campaign_id);
	snprintf(rid, sizeof rid, "%" PRId64, cfg->run_id);
	snprintf(n, sizeof n, "%" PRIu64, stored);
	PGconn *c = PQconnectdb(cfg->conninfo);
	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexecParams(
		    c,
		    "WITH b AS (UPDATE campaign_batch SET lease_expires = "
		    "clock_timestamp() WHERE campaign_id = $1::bigint "
		    "AND leased_by = $2 AND done_at IS NULL "
		    "AND lease_expires > clock_timestamp() RETURNING 1), "
		    "e AS (UPDATE endpoint_claim SET expires = "
		    "clock_timestamp() WHERE campaign_id = $1::bigint "
		    "AND worker = $2 AND NOT done "
		    "AND expires > clock_timestamp() RETURNING 1), "
		    "r AS (UPDATE campaign_run SET ended = clock_timestamp(), "
		    "end_state = 'interrupted', domains = $4::bigint "
		    "WHERE id = $3::bigint RETURNING 1) "
		    "SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM e)",
		    4, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			ok = true;
			fprintf(stderr,
				"scan: stopped at once: %" PRIu64
				" domains stored this run; %s batch leases "
				"and %s endpoint claims released; %" PRIu64
				" domains in flight and those not yet stored "
				"are scanned again by --resume\n",
				stored, PQgetvalue(r, 0, 0),
				PQgetvalue(r, 0, 1),
				atomic_load(&sh->inflight));
		} else {
			log_error("releasing leases and claims: %s",
				  PQresultErrorMessage(r));
		}
		PQclear(r);
	} else {
		log_error("releasing leases and claims: %s", PQerrorMessage(c));
	}
	PQfinish(c);
	if (!ok)
		fprintf(stderr, "scan: stopped at once; leases and claims "
				"expire after --lease seconds, then --resume "
				"scans again what was not stored\n");
	fprintf(stderr,
		"scan: interrupted; continue with: mxcrawl scan --campaign "
		"'%s' --resume\n",
		cfg->campaign_name ? cfg->campaign_name : "NAME");
	_exit(EX_TEMPFAIL);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Closes the loops of workers 0..n-1 made by worker_init, which have no
 * thread yet: runs each loop empty after closing its handles. */
static void workers_unmake(struct shared *sh, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		struct worker *w = &sh->w[k];
		if (!w->handles)
			continue;
		if (w->resolver)
			resolver_free(w->resolver);
		if (w->sts)
			stsfetch_close(w->sts, NULL, NULL);
		uv_close((uv_handle_t *)&w->inbox_async, NULL);
		uv_close((uv_handle_t *)&w->ep_async, NULL);
		uv_close((uv_handle_t *)&w->rate_timer, NULL);
		ipcap_detach(w->ep_env.cap);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
		SSL_CTX_free(w->ep_env.tls);
		verify_leaf_cache_free(w->env.names);
		dane_cache_free(w->env.dane);
	}
}

/* Everything sched_run needs before the threads start: the worker
 * slots, the endpoint registry, the claims thread and the per-address
 * cap (with SMTP), every worker's loop. 0, or -1 with nothing left
 * made (the store stays open: the caller closes it). */
static int make_shared(struct shared *sh)
{
	const struct sched_config *cfg = sh->cfg;

	sh->w = calloc(cfg->workers, sizeof *sh->w);
	sh->nworkers = cfg->workers;
	sh->req = calloc(cfg->workers, sizeof *sh->req);
	sh->reg = epreg_new(cfg->workers, wake_worker, sh);
	int rc = -ENOMEM;
	if (!sh->w || !sh->req || !sh->reg)
		goto fail;
	if (cfg->smtp) {
		struct epclaim_config cc = {
			.conninfo = cfg->conninfo,
			.campaign_id = cfg->campaign_id,
			.worker_id = cfg->worker_id,
			.lease_seconds = cfg->lease_seconds,
			.per_ip = cfg->per_ip,
			.reg = sh->reg,
			.dict_samples = cfg->record_dict_samples,
		};
		rc = epclaim_start(&sh->claims, &cc);
		if (rc != 0) {
			/* The database's reason is printed already. */
			if (rc != -EIO && rc != -ENOMEM)
				log_error("cannot start the endpoint claims: "
					  "%s",
					  strerror(-rc));
			goto fail;
		}
		rc = -ENOMEM;
		epreg_use_claims(sh->reg);
		/* With claims a dropped result is read back (epreg.h). */
		epreg_set_limit(sh->reg, cfg->endpoint_cache == SIZE_MAX ? 0
					 : cfg->endpoint_cache
					     ? cfg->endpoint_cache
					     : EPREG_LIMIT_DEFAULT);
		if (cfg->per_ip) {
			sh->cap = ipcap_new(cfg->per_ip);
			if (!sh->cap)
				goto fail;
		}
	}
	for (unsigned i = 0; i < cfg->workers; i++) {
		rc = worker_init(&sh->w[i], sh, i);
		if (rc != 0) {
			workers_unmake(sh, i + 1);
			goto fail;
		}
	}
	return 0;
fail:
	free(sh->w);
	free(sh->req);
	ipcap_free(sh->cap);
	if (sh->claims)
		epclaim_stop(sh->claims, NULL);
	epreg_free(sh->reg);
	sh->w = NULL;
	sh->req = NULL;
	sh->cap = NULL;
	sh->claims = NULL;
	sh->reg = NULL;
	return rc;
}

/* Until every worker is done and every batch written: wakes once a
 * second (a tenth while stopping, so that a second signal acts
 * promptly) to draw the progress, and stops hard on a second signal. */
static void watch(struct shared *sh, int64_t total, int64_t before, double t0)
{
	const struct sched_config *cfg = sh->cfg;
	bool tty = isatty(2);
	double last = t0;
	bool said_stop = false;

	progress_bar = tty && cfg->progress_seconds && !cfg->quiet;
	for (;;) {
		pthread_mutex_lock(&sh->mu);
		bool running = sh->workers_running > 0 || sh->nwrites > 0;
		if (running) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			if (stop_requested) {
				until.tv_nsec += 100000000;
				if (until.tv_nsec >= 1000000000) {
					until.tv_sec++;
					until.tv_nsec -= 1000000000;
				}
			} else {
				until.tv_sec += 1;
			}
			pthread_cond_timedwait(&sh->cond, &sh->mu, &until);
		}
		pthread_mutex_unlock(&sh->mu);
		if (stop_requested >= 2)
			hard_stop(cfg, sh);
		if (!running)
			break;
		if (cfg->on_watch)
			cfg->on_watch(cfg->watch_arg);
		double now = now_seconds();
		if (stop_requested && !said_stop && !cfg->quiet) {
			/* Right after the signal's own line: what the stop
			 * waits for. */
			said_stop = true;
			progress(sh, (uint64_t)total, (uint64_t)before,
				 now - t0, tty, false);
			last = now;
		}
		if (cfg->progress_seconds && !cfg->quiet &&
		    (tty || now - last >= cfg->progress_seconds)) {
			progress(sh, (uint64_t)total, (uint64_t)before,
				 now - t0, tty, false);
			last = now;
		}
	}
}

/* The run's counters into out, once every thread has stopped. */
static void summarise(struct sched_summary *out, struct shared *sh,
		      const struct epclaim_stats *cs,
		      const struct store_thread *st)
{
	out->counts.domains = atomic_load(&sh->domains);
	out->counts.mx = atomic_load(&sh->mx);
	out->counts.implicit_mx = atomic_load(&sh->implicit_mx);
	out->counts.null_mx = atomic_load(&sh->null_mx);
	out->counts.no_domain = atomic_load(&sh->no_domain);
	out->counts.dns_error = atomic_load(&sh->dns_error);
	out->counts.blocklisted = atomic_load(&sh->blocklisted);
	out->counts.not_recorded = atomic_load(&sh->not_recorded);
	out->counts.queries = atomic_load(&sh->queries);
	out->counts.refused_addresses = atomic_load(&sh->refused);
	out->endpoints_probed = atomic_load(&sh->endpoints);
	out->endpoints_remote = cs->remote;
	out->endpoints_taken_over = cs->taken_over;
	out->endpoints_capped = cs->capped;
	struct epreg_stats rs;
	epreg_stats(sh->reg, &rs);
	out->registry_peak_bytes = rs.peak_bytes;
	out->registry_dropped = rs.dropped;
	out->registry_read_back = cs->read_back;
	out->starttls_ok = atomic_load(&sh->starttls);
	uint64_t ticks = atomic_load(&sh->rate_ticks);
	out->rate_held_share =
	    ticks ? (double)atomic_load(&sh->rate_held) / ticks : 0;
	out->batches_written = atomic_load(&sh->batches_written);
	out->batches_discarded = atomic_load(&sh->batches_discarded);
	out->domains_stored = atomic_load(&sh->domains_stored);
	out->domains_given_back = atomic_load(&sh->domains_given_back);
	out->domains_dropped = atomic_load(&sh->domains_dropped);
	out->batches_split = atomic_load(&sh->batches_split);
	out->domains_split = atomic_load(&sh->domains_split);
	out->claims_released = cs->released;
	out->interrupted = stop_requested && !sh->failed;
	out->records_raw = st->st.rec.raw + cs->records_raw;
	out->records_zstd = st->st.rec.zstd + cs->records_zstd;
}

/* After the run: the campaign's progress as the database has it, and
 * its state "done" when no batch is left open (with fresh statistics
 * for the reports that follow; autovacuum would come later). 0, or -EIO
 * if the run failed (a batch not stored, printed) or the database cannot
 * say. */
static int conclude(struct sched_summary *out, struct shared *sh,
		    struct store_thread *st)
{
	int64_t total_end = 0, undone = 0, others = 0;

	if (!store_broken(&st->st) &&
	    store_progress(&st->st, &total_end, &out->done_at_end) != 0)
		out->done_at_end = -1;
	if (sh->failed || store_open_batches(&st->st, &undone, &others) != 0)
		return -EIO;
	if (undone == 0) {
		store_analyze(&st->st);
		store_set_state(&st->st, "done");
	} else if (!out->interrupted) {
		log_warn("%" PRId64 " batches of the campaign are still open "
			 "(%" PRId64 " leased by other crawlers); run 'scan "
			 "--resume' again to finish them",
			 undone, others);
	}
	return 0;
}

int sched_run(const struct sched_config *cfg, struct sched_summary *out)
{
	struct shared sh;
	struct store_thread st;
	struct sigaction sa, old_int, old_term;
	int64_t total = 0, before = 0;

	memset(out, 0, sizeof *out);
	out->done_at_end = -1;
	memset(&sh, 0, sizeof sh);
	memset(&st, 0, sizeof st);
	sh.cfg = cfg;
	sh.writes_tail = &sh.writes;
	pthread_mutex_init(&sh.mu, NULL);
	pthread_mutex_init(&sh.writing, NULL);
	pthread_cond_init(&sh.cond, NULL);
	st.sh = &sh;
	st.st.conninfo = cfg->conninfo;
	st.st.campaign_id = cfg->campaign_id;
	st.st.worker_id = cfg->worker_id;
	st.st.lease_seconds = cfg->lease_seconds;
	st.st.dict_samples = cfg->record_dict_samples;
	int rc = store_open(&st.st);
	if (rc != 0)
		return rc;
	if (store_progress(&st.st, &total, &before) != 0 ||
	    store_set_state(&st.st, "running") != 0) {
		log_error("cannot read the campaign's progress");
		store_close(&st.st);
		return -EIO;
	}
	out->total_targets = (uint64_t)total;
	out->done_before = (uint64_t)before;
	rc = make_shared(&sh);
	if (rc != 0) {
		store_close(&st.st);
		return rc;
	}

	stop_requested = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	/* One handler at a time: the count of signals is not atomic. */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	double t0 = now_seconds();
	sh.workers_running = cfg->workers;
	for (unsigned i = 0; i < cfg->workers; i++)
		pthread_create(&sh.w[i].thread, NULL, worker_main, &sh.w[i]);
	pthread_create(&st.thread, NULL, store_main, &st);
	watch(&sh, total, before, t0);
	for (unsigned i = 0; i < cfg->workers; i++) {
		pthread_join(sh.w[i].thread, NULL);
		uv_loop_close(&sh.w[i].loop);
		pthread_mutex_destroy(&sh.w[i].mu);
		SSL_CTX_free(sh.w[i].ep_env.tls);
		verify_leaf_cache_free(sh.w[i].env.names);
		dane_cache_free(sh.w[i].env.dane);
	}
	/* Every domain is done, so no claim is pending. */
	struct epclaim_stats cs = { 0 };
	epclaim_stop(sh.claims, &cs);
	sh.claims = NULL;
	pthread_mutex_lock(&sh.mu);
	pthread_cond_signal(&sh.cond);
	pthread_mutex_unlock(&sh.mu);
	pthread_join(st.thread, NULL);
	/* Leases still held (batches whose write failed, or handed in after
	 * the database went away) end now rather than at their expiry, so
	 * that a --resume starts at once. */
	int64_t released = 0;
	if (!store_broken(&st.st) && store_release(&st.st, &released) == 0 &&
	    released > 0 && !cfg->quiet)
		log_warn("%" PRId64 " batch leases released for --resume",
			 released);
	if (stop_requested >= 2)
		hard_stop(cfg, &sh);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	progress_bar = 0;

	out->seconds = now_seconds() - t0;
	if (!cfg->quiet) {
		if (isatty(2) && cfg->progress_seconds)
			fputc('\n', stderr);
		progress(&sh, (uint64_t)total, (uint64_t)before, out->seconds,
			 false, true);
	}
	summarise(out, &sh, &cs, &st);
	rc = conclude(out, &sh, &st);
	store_close(&st.st);
	free(sh.w);
	free(sh.req);
	ipcap_free(sh.cap);
	epreg_free(sh.reg);
	pthread_mutex_destroy(&sh.mu);
	pthread_mutex_destroy(&sh.writing);
	pthread_cond_destroy(&sh.cond);
	return rc;
}
