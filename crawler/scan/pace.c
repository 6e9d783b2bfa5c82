#include "crawler/scan/pace.h"

void pace_init(struct pace *p, unsigned concurrency, unsigned workers,
	       double rate, unsigned tick_ms)
{
	if (workers == 0)
		workers = 1;
	*p = (struct pace){ 0 };
	p->tick_ms = tick_ms ? tick_ms : 1;
	p->window = concurrency / workers;
	if (p->window == 0)
		p->window = 1;
	if (rate > 0) {
		p->capped = true;
		p->per_tick = rate / workers * tick_ms / 1000.0;
		/* One second's worth; at least one token, or a worker whose
		 * share is below one per second would never start. */
		p->most = p->per_tick * (1000.0 / tick_ms);
		if (p->most < 1)
			p->most = 1;
		p->tokens = 1;
	}
}

bool pace_can_start(const struct pace *p)
{
	if (p->inflight >= p->window)
		return false;
	return !p->capped || p->tokens >= 1;
}

void pace_started(struct pace *p)
{
	p->inflight++;
	if (p->capped)
		p->tokens -= 1;
}

void pace_finished(struct pace *p)
{
	if (p->inflight > 0)
		p->inflight--;
}

bool pace_tick(struct pace *p)
{
	return pace_advance(p, p->tick_ms);
}

bool pace_advance(struct pace *p, unsigned ms)
{
	p->tokens += p->per_tick * ms / p->tick_ms;
	if (p->tokens > p->most)
		p->tokens = p->most;
	return p->tokens >= 1;
}

bool pace_rate_held(const struct pace *p)
{
	return p->capped && p->inflight < p->window && p->tokens < 1;
}
