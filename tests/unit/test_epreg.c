/*
 * The endpoint registry's bound (epreg.h): past its limit, the least
 * recently used results that nobody holds or awaits and whose rows are
 * stored are dropped; held, awaited and unstored results stay. A dropped
 * endpoint is new to the registry when asked for again (claimed, so
 * epclaim reads it back), and its key for the judgement caches is never
 * the one of another result, even when the entry's memory is reused.
 */
#include <stdio.h>
#include <stdlib.h>

#include "crawler/scan/epreg.h"
#include "unit.h"

static unsigned epreg_woken;

static void epreg_wake(void *ctx, unsigned worker)
{
	(void)ctx;
	(void)worker;
	epreg_woken++;
}

struct epreg_got {
	const struct ep_done *d;
	unsigned calls;
};

static void epreg_on_wait(void *arg, const struct ep_done *d)
{
	struct epreg_got *g = arg;
	g->d = d;
	g->calls++;
}

static struct ep_key epreg_key(unsigned i)
{
	struct ep_key k = { 0 };

	addr_parse("127.0.0.1", &k.addr);
	k.addr.bytes[3] = (uint8_t)(1 + i % 250);
	k.port = 25;
	snprintf(k.sni, sizeof k.sni, "mx%03u.example", i);
	return k;
}

/* A result with a 1000-byte chain of one certificate. */
static struct ep_done *epreg_result(unsigned tag)
{
	static uint8_t der[1000];
	struct verify_der c = { der, sizeof der };
	struct ep_done *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	der[0] = 0x30;
	der[1] = (uint8_t)tag;
	snprintf(d->outcome, sizeof d->outcome, "starttls_ok");
	d->starttls_ok = true;
	if (ep_done_set_chain(d, &c, 1) != 0) {
		free(d);
		return NULL;
	}
	return d;
}

/* Asks for k as a new endpoint (claimed), has the claim "found done"
 * and publishes it stored, and lets go of it: an idle, droppable entry. */
static void epreg_fill(struct epreg *r, unsigned i, bool stored)
{
	struct ep_key k = epreg_key(i);
	struct epreg_got g = { 0 };
	const struct ep_done *out = NULL;

	CHECK_INT(epreg_request(r, &k, 0, epreg_on_wait, &g, &out), EPREG_CLAIM,
		  k.sni);
	const struct ep_done *pub =
	    stored ? epreg_publish_stored(r, &k, epreg_result(i))
		   : epreg_publish(r, &k, epreg_result(i));
	CHECK(pub != NULL);
	epreg_drain(r, 0);
	CHECK_INT(g.calls, 1, k.sni);
	CHECK(g.d == pub);
	epreg_release(r, g.d);
	epreg_release(r, pub);
}

/* EPREG_DONE (and held) if k is there, else (new) EPREG_CLAIM. */
static enum epreg_answer epreg_ask(struct epreg *r, unsigned i,
				   const struct ep_done **out)
{
	struct ep_key k = epreg_key(i);
	static struct epreg_got g;

	*out = NULL;
	return epreg_request(r, &k, 0, epreg_on_wait, &g, out);
}

/* Bytes of one idle entry as the registry counts them. */
static size_t epreg_entry_bytes(void)
{
	struct epreg *r = epreg_new(1, epreg_wake, NULL);
	struct epreg_stats a, b;

	epreg_use_claims(r);
	epreg_stats(r, &a);
	epreg_fill(r, 0, true);
	epreg_stats(r, &b);
	epreg_free(r);
	return b.bytes - a.bytes;
}

UNIT_TEST(test_epreg_lru_bound)
{
	size_t per = epreg_entry_bytes();
	struct epreg *r = epreg_new(1, epreg_wake, NULL);
	struct epreg_stats st;
	const struct ep_done *d;

	CHECK(per > 1000 && per < 1600);
	epreg_use_claims(r);
	epreg_stats(r, &st);
	/* Room for three idle results besides the table. */
	epreg_set_limit(r, st.bytes + 3 * per + per / 2);
	for (unsigned i = 0; i < 3; i++)
		epreg_fill(r, i, true);
	epreg_stats(r, &st);
	CHECK_INT(st.entries, 3, "three fit");
	CHECK_INT(st.dropped, 0, "three fit");

	/* 0 is used again: 1 is now the least recently used. */
	CHECK_INT(epreg_ask(r, 0, &d), EPREG_DONE, "0 kept");
	CHECK(d && d->nchain == 1 && d->chain[0].data[1] == 0);
	epreg_release(r, d);
	epreg_fill(r, 3, true);
	epreg_stats(r, &st);
	CHECK_INT(st.entries, 3, "a fourth drops one");
	CHECK_INT(st.dropped, 1, "a fourth drops one");
	CHECK(st.bytes <= st.peak_bytes);

	CHECK_INT(epreg_ask(r, 0, &d), EPREG_DONE, "0 recently used");
	epreg_release(r, d);
	CHECK_INT(epreg_ask(r, 2, &d), EPREG_DONE, "2 kept");
	epreg_release(r, d);
	CHECK_INT(epreg_ask(r, 3, &d), EPREG_DONE, "3 newest");
	CHECK(d && d->chain[0].data[1] == 3);
	epreg_release(r, d);
	/* 1 is new again: claimed (read back by epclaim), not probed. */
	CHECK_INT(epreg_ask(r, 1, &d), EPREG_CLAIM, "1 dropped");
	CHECK(d == NULL);
	struct ep_key k1 = epreg_key(1);
	const struct ep_done *back =
	    epreg_publish_stored(r, &k1, epreg_result(1));
	CHECK(back && back->chain[0].data[1] == 1);
	epreg_drain(r, 0);
	epreg_release(r, back); /* the caller's */
	epreg_release(r, back); /* the waiter's (epreg_ask's) */
	epreg_stats(r, &st);
	CHECK_INT(st.entries, 3, "still three");
	CHECK_INT(st.dropped, 2, "the oldest (0) made room for 1");
	CHECK_INT(st.added, 5, "0..3, then 1 again");
	CHECK_INT(epreg_ask(r, 0, &d), EPREG_CLAIM, "0 was the oldest");
	epreg_free(r);
}

UNIT_TEST(test_epreg_held_awaited_unstored_stay)
{
	size_t per = epreg_entry_bytes();
	struct epreg *r = epreg_new(1, epreg_wake, NULL);
	struct epreg_stats st;
	const struct ep_done *held, *d;

	epreg_use_claims(r);
	epreg_stats(r, &st);
	epreg_set_limit(r, st.bytes + per / 2); /* room for none idle */

	/* Held by a domain: stays past the limit until let go. */
	epreg_fill(r, 0, true);
	epreg_stats(r, &st);
	CHECK_INT(st.entries, 0, "idle past the limit: dropped");
	struct ep_key k1 = epreg_key(1);
	struct epreg_got g = { 0 };
	CHECK_INT(epreg_request(r, &k1, 0, epreg_on_wait, &g, &d), EPREG_CLAIM,
		  "1 new");
	held = epreg_publish_stored(r, &k1, epreg_result(1));
	epreg_drain(r, 0);
	epreg_release(r, g.d); /* the waiter lets go, the caller holds */
	epreg_fill(r, 2, true);
	CHECK_INT(epreg_ask(r, 1, &d), EPREG_DONE, "held: kept");
	epreg_release(r, d);
	CHECK(held->chain[0].data[1] == 1);
	epreg_release(r, held);
	CHECK_INT(epreg_ask(r, 1, &d), EPREG_CLAIM, "let go: dropped");

	/* Awaited (being probed): stays. */
	epreg_fill(r, 3, true);
	CHECK_INT(epreg_ask(r, 1, &d), EPREG_WAIT, "being probed");

	/* Published unstored (nothing could read it back): stays. */
	epreg_fill(r, 4, false);
	epreg_fill(r, 5, true);
	CHECK_INT(epreg_ask(r, 4, &d), EPREG_DONE, "unstored: kept");
	epreg_release(r, d);
	epreg_stats(r, &st);
	CHECK_INT(st.entries, 2, "4 (unstored) and 1 (being probed)");
	epreg_free(r);
}

UNIT_TEST(test_epreg_no_limit_keeps_all)
{
	struct epreg *r = epreg_new(1, epreg_wake, NULL);
	struct epreg_stats st;

	epreg_use_claims(r);
	for (unsigned i = 0; i < 100; i++)
		epreg_fill(r, i, true);
	epreg_stats(r, &st);
	CHECK_INT(st.entries, 100, "no limit");
	CHECK_INT(st.dropped, 0, "no limit");
	epreg_free(r);
}

UNIT_TEST(test_epreg_result_key_not_reused)
{
	size_t per = epreg_entry_bytes();
	struct epreg *r = epreg_new(1, epreg_wake, NULL);
	struct epreg_stats st;
	const struct ep_done *d;
	const void *keys[20];

	epreg_use_claims(r);
	epreg_stats(r, &st);
	epreg_set_limit(r, st.bytes + per / 2);
	/* Each drops the one before, whose memory the allocator may hand
	 * to the next: the keys must differ all the same. */
	for (unsigned i = 0; i < 20; i++) {
		struct ep_key k = epreg_key(i);
		CHECK_INT(epreg_ask(r, i, &d), EPREG_CLAIM, k.sni);
		d = epreg_publish_stored(r, &k, epreg_result(i));
		keys[i] = epreg_result_key(d);
		CHECK(keys[i] != NULL);
		epreg_drain(r, 0);
		epreg_release(r, d);
		epreg_release(r, d);
		for (unsigned j = 0; j < i; j++)
			CHECK(keys[j] != keys[i]);
	}
	epreg_stats(r, &st);
	CHECK_INT(st.dropped, 20, "each dropped once idle");
	epreg_free(r);
}

/* Past a million domains: a long stream of endpoints, each used by one
 * domain, keeps the registry at its limit (the table stays its size). */
UNIT_TEST(test_epreg_bounded_stream)
{
	size_t per = epreg_entry_bytes();
	struct epreg *r = epreg_new(1, epreg_wake, NULL);
	struct epreg_stats st;

	epreg_use_claims(r);
	epreg_stats(r, &st);
	size_t limit = st.bytes + 50 * per;
	epreg_set_limit(r, limit);
	for (unsigned i = 0; i < 20000; i++)
		epreg_fill(r, i, true);
	epreg_stats(r, &st);
	CHECK(st.entries <= 50);
	CHECK(st.bytes <= limit);
	/* At most one result over, between its publish and its release. */
	CHECK(st.peak_bytes <= limit + per);
	CHECK_INT(st.added, 20000, "each endpoint once");
	CHECK_INT(st.dropped + st.entries, 20000, "dropped or kept");
	epreg_free(r);
}

/* M12: the service is part of the key. Two client services at one
 * (address, port, SNI) are two endpoints, neither is port 25's; each is
 * claimed like port 25's, and the next asker of the same service waits
 * for it. */
UNIT_TEST(test_epreg_client_service_key)
{
	struct epreg *r = epreg_new(1, epreg_wake, NULL);
	struct ep_key mx = epreg_key(7), imaps = mx, pop3s = mx;
	struct epreg_got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
	const struct ep_done *out = NULL;

	epreg_use_claims(r);
	imaps.service = 1 + 2; /* MAIL_SVC_IMAPS */
	pop3s.service = 1 + 4; /* MAIL_SVC_POP3S */
	CHECK_INT(epreg_request(r, &mx, 0, epreg_on_wait, &g1, &out),
		  EPREG_CLAIM, "port 25: claimed");
	CHECK_INT(epreg_request(r, &imaps, 0, epreg_on_wait, &g2, &out),
		  EPREG_CLAIM, "imaps: new, claimed");
	CHECK_INT(epreg_request(r, &pop3s, 0, epreg_on_wait, &g3, &out),
		  EPREG_CLAIM, "pop3s at the same place: another endpoint");
	CHECK_INT(epreg_request(r, &imaps, 0, epreg_on_wait, &g2, &out),
		  EPREG_WAIT, "imaps again: waits for the probe");
	const struct ep_done *pub = epreg_publish(r, &imaps, epreg_result(1));
	CHECK(pub != NULL);
	epreg_drain(r, 0);
	/* The claimant's waiter and the second asker: both get it. */
	CHECK_INT(g2.calls, 2, "the imaps waiters got the result");
	CHECK(g2.d == pub);
	CHECK_INT(g3.calls, 0, "pop3s is still awaited");
	CHECK_INT(epreg_count(r), 3, "three endpoints");
	epreg_release(r, g2.d);
	epreg_release(r, g2.d);
	epreg_release(r, pub);
	epreg_free(r);
}
