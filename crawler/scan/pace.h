/*
 * How fast one worker starts domains: at most `window` probes in flight
 * (the scan's --concurrency shared out among the workers), and with a rate
 * cap (--rate, domains per second for the whole scan) a token bucket: each
 * start takes a token, a timer adds the worker's share every tick, and at
 * most one second's worth (at least one token) accumulates, so an idle
 * spell cannot turn into a burst above the rate. No I/O and no clock: the
 * scheduler calls pace_tick from its timer (tests call it by hand).
 */
#ifndef MXCRAWL_SCAN_PACE_H
#define MXCRAWL_SCAN_PACE_H

#include <stdbool.h>

/*
 * The default of --rate, domains started per second for the whole scan
 * (the scan's --help and mxcrawl.1 name it): a research scan is not a
 * race. On the testbed's population a domain asks the resolver ~12.5
 * questions and opens ~0.3 SMTP connections (endpoints are probed once
 * per address, port and SNI), so 100/s is ~1,250 questions/s at the
 * resolver, ~30 SMTP connections/s in all, and a million domains in
 * under 3 hours; the README ("Scanning the real internet") has the
 * figures and how they were measured. --rate 0 removes the cap.
 */
#define PACE_DEFAULT_RATE 100

struct pace {
	unsigned window;   /* probes in flight, at most */
	unsigned inflight; /* probes started and not finished */
	bool capped;	   /* a rate cap is set */
	double tokens;	   /* starts allowed now */
	double per_tick;   /* tokens added per tick */
	unsigned tick_ms;  /* the timer's period */
	double most;	   /* tokens kept at most */
};

/* The pace of one of `workers` workers of a scan at `concurrency` probes
 * in flight and `rate` domains per second (0: no cap), its timer ticking
 * every tick_ms. The bucket starts with one token. */
void pace_init(struct pace *p, unsigned concurrency, unsigned workers,
	       double rate, unsigned tick_ms);

/* Whether a domain may start now (window and rate). */
bool pace_can_start(const struct pace *p);

/* A domain started (takes a token) / a started domain finished. */
void pace_started(struct pace *p);
void pace_finished(struct pace *p);

/* One tick of the timer: adds the tick's tokens. Returns whether a start
 * is allowed by the rate now (the caller then tries to start more). */
bool pace_tick(struct pace *p);

/* The same for `ms` milliseconds, as the loop's clock measured them since
 * the last tick: on a busy loop a timer fires late, and tokens counted per
 * tick would make the rate fall below the cap. */
bool pace_advance(struct pace *p, unsigned ms);

/* Whether the rate alone holds a start back now: capped, room in the
 * window, no token. Asked at a tick, before pace_tick, by a worker that
 * has domains waiting: the share of such ticks is the share of the time
 * the cap, not the window or the network, set the pace. */
bool pace_rate_held(const struct pace *p);

#endif
