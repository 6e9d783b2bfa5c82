/*
 * The per-IP cap shared by several loops (crawler/smtp/endpoint.c, ipcap_*):
 * two loops, one cap of one slot per address. Every probe goes to a port
 * nobody listens on (127.0.0.1:1, refused at once), so each ends on its
 * own; the order in which they end is the order in which they got the
 * slot, which the cap makes first come, first served across loops. The
 * loops are run in turn on this thread, so a slot handed to the other
 * loop travels through that loop's wake-up, as between worker threads.
 */
#include <stdlib.h>

#include <uv.h>

#include "crawler/smtp/endpoint.h"
#include "unit.h"

struct ipcap_run {
	char order[16]; /* tags of the probes, in the order they ended */
	size_t ended;
};

struct ipcap_probe {
	struct ipcap_run *run;
	char tag;
};

static void ipcap_on_done(void *arg, const struct endpoint_result *r)
{
	struct ipcap_probe *p = arg;
	(void)r;
	if (p->run->ended < sizeof p->run->order - 1)
		p->run->order[p->run->ended] = p->tag;
	p->run->ended++;
}

UNIT_TEST(test_ipcap_fifo_across_loops)
{
	struct ipcap *cap = ipcap_new(1);
	uv_loop_t loop[2];
	struct endpoint_env env[2] = { 0 };
	struct ipcap_run run = { 0 };
	struct addr x, y;

	CHECK(cap != NULL);
	if (!cap)
		return;
	CHECK_INT(addr_parse("127.0.0.1", &x), 0, "x");
	CHECK_INT(addr_parse("127.0.0.2", &y), 0, "y");
	for (int i = 0; i < 2; i++) {
		uv_loop_init(&loop[i]);
		env[i].loop = &loop[i];
		env[i].ehlo_name = "unit.invalid";
		smtp_limits_default(&env[i].limits);
		env[i].cap = ipcap_attach(cap, &loop[i]);
		CHECK(env[i].cap != NULL);
	}
	/* Address x: loop 0, 1, 0, 1 ask in this order (a, b, c, d); one
	 * slot, so a runs and the rest wait. Address y has a slot free. */
	struct ipcap_probe p[] = {
		{ &run, 'a' }, { &run, 'b' }, { &run, 'c' },
		{ &run, 'd' }, { &run, 'y' },
	};
	for (int i = 0; i < 4; i++)
		CHECK_INT(endpoint_probe(&env[i % 2], &x, 1, "x.test",
					 ipcap_on_done, &p[i]),
			  0, "probe x");
	CHECK_INT(ipcap_queued(cap), 3, "waiting for x");
	CHECK_INT(
	    endpoint_probe(&env[1], &y, 1, "y.test", ipcap_on_done, &p[4]), 0,
	    "probe y");
	CHECK_INT(ipcap_queued(cap), 3, "y does not wait");
	CHECK_INT(ipcap_addresses(cap), 2, "addresses in use");
	/* Turn by turn until all five ended (refusals come at once; the
	 * bound only keeps a broken cap from hanging the test). */
	for (long turn = 0; run.ended < 5 && turn < 10000000; turn++)
		uv_run(&loop[turn % 2], UV_RUN_NOWAIT);
	CHECK_INT(run.ended, 5, "probes ended");
	/* x's probes in the order they asked, across the loops. */
	char xs[8] = { 0 };
	size_t n = 0;
	for (size_t i = 0; i < run.ended && i < sizeof run.order; i++)
		if (run.order[i] != 'y' && n < sizeof xs - 1)
			xs[n++] = run.order[i];
	CHECK_STR(xs, "abcd", "order of x's probes");
	CHECK_INT(ipcap_queued(cap), 0, "nothing waits");
	CHECK_INT(ipcap_addresses(cap), 0, "entries freed");
	for (int i = 0; i < 2; i++) {
		ipcap_detach(env[i].cap);
		uv_run(&loop[i], UV_RUN_DEFAULT);
		CHECK_INT(uv_loop_close(&loop[i]), 0, "loop closed");
	}
	ipcap_free(cap);
}
