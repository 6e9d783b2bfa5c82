/* The scheduler's pace (crawler/scan/pace.c): the in-flight window and the
 * rate cap, driven tick by tick on a virtual clock. Expected counts come
 * from the rule (--rate domains per second for the whole scan, at most a
 * second's worth saved up), not from the code. */
#include "crawler/scan/pace.h"
#include "unit.h"

#define TICK_MS 10

/* Starts whatever the pace allows at this instant; the count. */
static unsigned start_all(struct pace *p)
{
	unsigned n = 0;
	while (pace_can_start(p)) {
		pace_started(p);
		pace_finished(p); /* done at once: only the rate limits */
		n++;
	}
	return n;
}

UNIT_TEST(test_pace_window)
{
	struct pace p;

	pace_init(&p, 10, 3, 0, TICK_MS); /* 10 in flight over 3 workers */
	CHECK_INT(p.window, 3, "window of one worker");
	for (int i = 0; i < 3; i++) {
		CHECK(pace_can_start(&p));
		pace_started(&p);
	}
	CHECK(!pace_can_start(&p));
	pace_finished(&p);
	CHECK(pace_can_start(&p));
	/* Fewer in flight than workers: each still gets one. */
	pace_init(&p, 2, 8, 0, TICK_MS);
	CHECK_INT(p.window, 1, "window never 0");
	/* No rate cap: only the window limits the starts. */
	pace_init(&p, 1000, 1, 0, TICK_MS);
	unsigned n = 0;
	while (pace_can_start(&p) && n < 2000) {
		pace_started(&p);
		n++;
	}
	CHECK_INT(n, 1000, "uncapped starts up to the window");
}

UNIT_TEST(test_pace_rate_over_time)
{
	/* 100 domains/s, one worker: one start per 10 ms tick, plus the
	 * one token it starts with. */
	struct pace p;
	unsigned total = 0, most_in_a_second = 0, second = 0;

	pace_init(&p, 1000000, 1, 100, TICK_MS);
	total += start_all(&p);
	second = total;
	for (int tick = 1; tick <= 1000; tick++) { /* 10 s */
		pace_tick(&p);
		unsigned n = start_all(&p);
		total += n;
		second += n;
		if (tick % 100 == 0) {
			if (second > most_in_a_second)
				most_in_a_second = second;
			second = 0;
		}
	}
	CHECK_INT(total, 1001, "starts in 10 s at 100/s (+ the first token)");
	CHECK(most_in_a_second <= 101);
}

UNIT_TEST(test_pace_no_burst_after_idle)
{
	/* Idle for 5 s at 100/s: at most one second's worth is saved. */
	struct pace p;

	pace_init(&p, 1000000, 1, 100, TICK_MS);
	for (int tick = 0; tick < 500; tick++)
		pace_tick(&p);
	CHECK_INT(start_all(&p), 100, "burst after an idle spell");
	CHECK(!pace_tick(&p) || start_all(&p) == 1);
}

UNIT_TEST(test_pace_rate_shared_by_workers)
{
	/* 1 domain/s over 2 workers: each may start one every 2 s (its
	 * bucket holds at least one token), 1/s together. */
	struct pace w[2];
	unsigned total = 0;

	for (int i = 0; i < 2; i++) {
		pace_init(&w[i], 100, 2, 1, TICK_MS);
		total += start_all(&w[i]); /* the first token each */
	}
	CHECK_INT(total, 2, "first tokens");
	for (int tick = 1; tick <= 2000; tick++) /* 20 s */
		for (int i = 0; i < 2; i++) {
			pace_tick(&w[i]);
			total += start_all(&w[i]);
		}
	CHECK_INT(total, 22, "starts in 20 s at 1/s over two workers");
	/* The window still binds under a rate cap. */
	struct pace p;
	pace_init(&p, 2, 1, 1000, TICK_MS);
	for (int tick = 0; tick < 100; tick++)
		pace_tick(&p);
	pace_started(&p);
	pace_started(&p);
	CHECK(!pace_can_start(&p));
}

UNIT_TEST(test_pace_rate_held)
{
	/* The share of ticks at which the cap alone held a waiting start
	 * back: ~1 when the cap sets the pace (a wide window, 100/s), 0
	 * when the window does (2 in flight that never finish), 0 without
	 * a cap. */
	struct pace p;
	unsigned held = 0;

	pace_init(&p, 1000, 1, 100, TICK_MS);
	start_all(&p);
	for (int tick = 0; tick < 100; tick++) {
		held += pace_rate_held(&p);
		pace_tick(&p);
		start_all(&p);
	}
	CHECK_INT(held, 100, "ticks held by the cap at 100/s, wide window");
	pace_init(&p, 2, 1, 100, TICK_MS);
	pace_started(&p);
	held = 0;
	for (int tick = 0; tick < 100; tick++) {
		pace_tick(&p);
		while (pace_can_start(&p))
			pace_started(&p); /* never finish: the window binds */
		held += pace_rate_held(&p);
	}
	CHECK_INT(held, 0, "ticks held by the cap when the window is full");
	pace_init(&p, 1000, 1, 0, TICK_MS);
	CHECK(!pace_rate_held(&p));
	/* A cap far above what starts: tokens left, nothing held. */
	pace_init(&p, 1000, 1, 100000, TICK_MS);
	pace_tick(&p);
	CHECK(!pace_rate_held(&p));
}

UNIT_TEST(test_pace_late_ticks)
{
	/* A busy loop fires the 10 ms timer every 30 ms: counted by the
	 * time that passed, 10 s at 100/s still start 1000 domains (+ the
	 * first token), not a third of them. */
	struct pace p;
	unsigned total = 0;

	pace_init(&p, 1000000, 1, 100, TICK_MS);
	total += start_all(&p);
	for (int tick = 1; tick <= 333; tick++) { /* 9.99 s */
		pace_advance(&p, 30);
		total += start_all(&p);
	}
	CHECK_INT(total, 1000, "starts in 9.99 s at 100/s, ticks 30 ms apart");
	/* A stall of 5 s: still at most one second's worth at once. */
	pace_advance(&p, 5000);
	CHECK_INT(start_all(&p), 100, "burst after a 5 s stall");
}
