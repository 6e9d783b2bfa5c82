/*
 * Scripted tests for the probe's state machine (crawler/scan/probe_fsm.c).
 * A small shell plays probe.c's part: it performs each action the machine
 * answers with, asks a scripted resolver, and starts scripted endpoint
 * probes and policy fetches, all on a virtual clock. The shell decides
 * DNS follow-ups with the same rules probe.c calls (probe_tlsa_due(),
 * probe_lookups_failed()), so what is checked is the machine's order: the
 * trace of actions and questions with their times, that the domain
 * finishes exactly once, when the last piece of work came back and never
 * before, and that a result for work that is not out changes nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/scan/probe_fsm.h"
#include "unit.h"

/* The scripted resolver gives up on a question after this long and
 * answers it as a timeout (the real one has its own timers). */
#define SIM_DNS_TIMEOUT_MS 5000
/* Delay of a question, endpoint probe or fetch the script does not name. */
#define SIM_DEFAULT_MS 10
#define SIM_MAX_EVENTS 128
#define SIM_MAX_HOSTS 4
#define SIM_TRACE_MAX 2048
/* A script's endpoint delay meaning "could not be started": the result
 * comes back at once, from inside the action (probe.c publish_failure). */
#define EP_NO_START 1u

enum ans {
	ANS_OK = 0,   /* NOERROR with `n` records (0: NODATA) */
	ANS_NXDOMAIN, /* the name does not exist */
	ANS_SERVFAIL, /* no usable answer */
	ANS_LATE,     /* comes after the resolver's deadline: a timeout at
		       * SIM_DNS_TIMEOUT_MS, then the answer anyway */
	ANS_REFUSED,  /* the resolver refuses the question (no memory) */
};

/* One scripted answer. `q` is "MX", "STS_TXT", "RPT_TXT", "STS_A",
 * "STS_AAAA", "A:<host>", "AAAA:<host>" or "TLSA:<host>". */
struct dns_line {
	const char *q;
	unsigned delay;
	enum ans ans;
	enum dnssec_status st;
	/* Records: addresses for A/AAAA, 1 for a valid STS TXT record, TLSA
	 * records; for MX the hosts come from the scenario. */
	unsigned n;
	bool oom; /* digesting this answer runs out of memory */
};

struct scenario {
	const char *name;
	bool blocked;
	bool endpoints;			  /* SMTP stage on */
	bool sts;			  /* policy fetcher on */
	const char *hosts[SIM_MAX_HOSTS]; /* what the MX answer names */
	struct dns_line dns[16];
	unsigned ep_delay[8]; /* per endpoint, in request order */
	unsigned fetch_delay;
	bool oom_at_smtp; /* the first endpoint's result runs out of memory */
	const char *want; /* the trace */
};

enum ev_kind { EV_DNS, EV_ENDPOINT, EV_FETCH };

struct event {
	uint64_t at;
	unsigned seq;
	enum ev_kind kind;
	char q[64];
	const struct dns_line *line; /* NULL: the default answer */
	bool timeout;		     /* the resolver's deadline fired */
	bool oom;
};

struct sim_host {
	const char *name;
	struct probe_lookups l;
	bool tlsa_asked;
};

struct sim {
	const struct scenario *sc;
	struct probe_fsm f;
	uint64_t now, last_trace;
	unsigned seq;
	struct event ev[SIM_MAX_EVENTS];
	size_t nev;
	struct sim_host host[SIM_MAX_HOSTS];
	size_t nhosts;
	enum dnssec_status mx_st;
	struct probe_lookups sts;
	unsigned endpoints_started;
	bool stepping;
	int finished; /* PROBE_ACT_FINISH seen this many times */
	uint64_t finished_at;
	uint64_t last_work; /* when work last came back */
	bool sent_after_finish;
	char trace[SIM_TRACE_MAX];
};

static void trace(struct sim *s, const char *word)
{
	size_t len = strlen(s->trace);

	if (s->last_trace != s->now || len == 0) {
		snprintf(s->trace + len, sizeof s->trace - len, "%s@%llu",
			 len ? " " : "", (unsigned long long)s->now);
		len = strlen(s->trace);
		s->last_trace = s->now;
	}
	snprintf(s->trace + len, sizeof s->trace - len, " %s", word);
}

static void schedule(struct sim *s, uint64_t at, enum ev_kind kind,
		     const char *q, const struct dns_line *line, bool timeout)
{
	struct event *e;

	if (s->nev == SIM_MAX_EVENTS) {
		unit_fail(__FILE__, __LINE__, "%s: too many events",
			  s->sc->name);
		return;
	}
	e = &s->ev[s->nev++];
	*e = (struct event){ .at = at, .seq = s->seq++, .kind = kind };
	snprintf(e->q, sizeof e->q, "%s", q);
	e->line = line;
	e->timeout = timeout;
}

static const struct dns_line *script(const struct sim *s, const char *q)
{
	for (const struct dns_line *d = s->sc->dns; d->q; d++)
		if (strcmp(d->q, q) == 0)
			return d;
	return NULL;
}

static void sim_advance(struct sim *s);

/* The work came back: count it; the machine moves on unless refused. */
static void returned(struct sim *s, enum probe_work w)
{
	if (probe_fsm_returned(&s->f, w) == 0) {
		s->last_work = s->now;
		sim_advance(s);
	}
}

/* Asks the scripted resolver (probe.c query_send()). */
static void ask(struct sim *s, const char *q)
{
	const struct dns_line *d = script(s, q);
	char word[80];

	if (s->finished)
		s->sent_after_finish = true;
	snprintf(word, sizeof word, "?%s", q);
	trace(s, word);
	probe_fsm_sent(&s->f, PROBE_WORK_DNS);
	if (d && d->ans == ANS_REFUSED) {
		probe_fsm_returned(&s->f, PROBE_WORK_DNS);
		probe_fsm_fail(&s->f);
		return;
	}
	unsigned delay = d ? d->delay : SIM_DEFAULT_MS;
	if (d && d->ans == ANS_LATE) {
		schedule(s, s->now + SIM_DNS_TIMEOUT_MS, EV_DNS, q, d, true);
		schedule(s, s->now + delay, EV_DNS, q, d, false);
		return;
	}
	schedule(s, s->now + delay, EV_DNS, q, d, false);
}

static struct sim_host *host_of(struct sim *s, const char *name)
{
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->host[i].name, name) == 0)
			return &s->host[i];
	return NULL;
}

/* What a resolver answer means for a lookup whose result is not about
 * existence (probe.c answer_failed()). */
static void digest_address(struct sim *s, const struct event *e,
			   struct probe_lookups *l, bool v4)
{
	const struct dns_line *d = e->line;
	enum dnssec_status st = d ? d->st : DNSSEC_INSECURE;
	bool failed = e->timeout || (d && d->ans == ANS_SERVFAIL) ||
		      st == DNSSEC_BOGUS || st == DNSSEC_INDETERMINATE;

	if (e->timeout)
		st = DNSSEC_INDETERMINATE;
	if (v4) {
		l->a_done = true;
		l->a_st = st;
		l->a_failed = failed;
	} else {
		l->aaaa_done = true;
		l->aaaa_st = st;
		l->aaaa_failed = failed;
	}
	if (!failed && d && d->ans == ANS_OK)
		l->naddr += d->n;
	(void)s;
}

/* A DNS answer arrives (probe.c on_answer()). */
static void on_dns(struct sim *s, const struct event *e)
{
	const struct dns_line *d = e->line;
	bool ok = !e->timeout && (!d || d->ans == ANS_OK || d->ans == ANS_LATE);

	if (!e->timeout && d && d->ans == ANS_LATE) {
		/* The resolver calls back once per question: the answer
		 * that comes after its timeout is dropped there, and the
		 * probe never hears of it. */
		char word[80];
		snprintf(word, sizeof word, "~%s", e->q);
		trace(s, word);
		return;
	}
	if (strcmp(e->q, "MX") == 0) {
		s->mx_st = e->timeout ? DNSSEC_INDETERMINATE
				      : (d ? d->st : DNSSEC_INSECURE);
		for (size_t i = 0; ok && i < SIM_MAX_HOSTS && s->sc->hosts[i];
		     i++)
			s->host[s->nhosts++].name = s->sc->hosts[i];
		probe_fsm_mx_answered(&s->f);
	} else if (strcmp(e->q, "STS_TXT") == 0) {
		if (ok && d && d->n && s->sc->sts) {
			probe_fsm_set_fetch_due(&s->f, true);
			ask(s, "STS_A");
			ask(s, "STS_AAAA");
		}
	} else if (strcmp(e->q, "STS_A") == 0 ||
		   strcmp(e->q, "STS_AAAA") == 0) {
		digest_address(s, e, &s->sts, e->q[4] == 'A' && !e->q[5]);
	} else if (strncmp(e->q, "A:", 2) == 0 ||
		   strncmp(e->q, "AAAA:", 5) == 0) {
		bool v4 = e->q[1] == ':';
		struct sim_host *h = host_of(s, e->q + (v4 ? 2 : 5));
		if (h) {
			digest_address(s, e, &h->l, v4);
			if (!h->tlsa_asked && probe_tlsa_due(s->mx_st, &h->l)) {
				char q[64];
				h->tlsa_asked = true;
				snprintf(q, sizeof q, "TLSA:%s", h->name);
				ask(s, q);
			}
		}
	}
	if (d && d->oom)
		probe_fsm_fail(&s->f);
	returned(s, PROBE_WORK_DNS);
}

/* PROBE_ACT_START_SMTP (probe.c smtp_start()). */
static void start_smtp(struct sim *s)
{
	char word[80];

	if (s->f.fetch_due && !probe_lookups_failed(&s->sts) && s->sts.naddr) {
		trace(s, "fetch");
		probe_fsm_sent(&s->f, PROBE_WORK_FETCH);
		schedule(s,
			 s->now + (s->sc->fetch_delay ? s->sc->fetch_delay
						      : SIM_DEFAULT_MS),
			 EV_FETCH, "fetch", NULL, false);
	}
	for (size_t i = 0; s->sc->endpoints && i < s->nhosts; i++) {
		struct sim_host *h = &s->host[i];
		if (probe_lookups_failed(&h->l))
			continue;
		for (size_t k = 0; k < h->l.naddr; k++) {
			unsigned n = s->endpoints_started++;
			unsigned delay = n < 8 && s->sc->ep_delay[n]
					     ? s->sc->ep_delay[n]
					     : SIM_DEFAULT_MS;
			snprintf(word, sizeof word, "ep:%s#%zu", h->name, k);
			trace(s, word);
			probe_fsm_sent(&s->f, PROBE_WORK_ENDPOINT);
			if (delay == EP_NO_START) {
				probe_fsm_fail(&s->f);
				returned(s, PROBE_WORK_ENDPOINT);
				continue;
			}
			schedule(s, s->now + delay, EV_ENDPOINT, word, NULL,
				 false);
			s->ev[s->nev - 1].oom = s->sc->oom_at_smtp && n == 0;
		}
	}
}

/* The loop of probe.c advance(). */
static void sim_advance(struct sim *s)
{
	char word[80];

	if (s->stepping)
		return;
	s->stepping = true;
	for (;;) {
		enum probe_action act = probe_fsm_step(&s->f);
		if (act == PROBE_ACT_WAIT)
			break;
		snprintf(word, sizeof word, "%s", probe_action_str(act));
		trace(s, word);
		switch (act) {
		case PROBE_ACT_ASK_DOMAIN:
			ask(s, "MX");
			ask(s, "STS_TXT");
			ask(s, "RPT_TXT");
			break;
		case PROBE_ACT_ASK_HOSTS:
			for (size_t i = 0; i < s->nhosts; i++) {
				char q[64];
				snprintf(q, sizeof q, "A:%s", s->host[i].name);
				ask(s, q);
				snprintf(q, sizeof q, "AAAA:%s",
					 s->host[i].name);
				ask(s, q);
			}
			break;
		case PROBE_ACT_START_SMTP:
			start_smtp(s);
			break;
		case PROBE_ACT_FINISH:
			s->finished++;
			s->finished_at = s->now;
			/* probe.c frees the probe here; the test keeps the
			 * machine to check that it stays quiet. */
			s->stepping = false;
			return;
		default:
			break;
		}
	}
	s->stepping = false;
}

/* Runs a scenario to its end; returns the number of events delivered. */
static unsigned sim_run(struct sim *s, const struct scenario *sc,
			const unsigned *order)
{
	unsigned delivered = 0;

	memset(s, 0, sizeof *s);
	s->sc = sc;
	probe_fsm_init(&s->f, sc->name, sc->blocked, sc->endpoints, false);
	sim_advance(s);
	while (s->nev) {
		size_t next = 0;
		for (size_t i = 1; i < s->nev; i++)
			if (s->ev[i].at < s->ev[next].at ||
			    (s->ev[i].at == s->ev[next].at &&
			     s->ev[i].seq < s->ev[next].seq))
				next = i;
		/* A permutation of the endpoint results: deliver the
		 * order[]-th pending endpoint instead, at the same time. */
		if (order && s->ev[next].kind == EV_ENDPOINT) {
			unsigned want = order[delivered % 8];
			size_t nth = 0;
			for (size_t i = 0; i < s->nev; i++)
				if (s->ev[i].kind == EV_ENDPOINT &&
				    nth++ == want) {
					next = i;
					break;
				}
		}
		struct event e = s->ev[next];
		s->ev[next] = s->ev[--s->nev];
		if (e.at > s->now)
			s->now = e.at;
		switch (e.kind) {
		case EV_DNS:
			on_dns(s, &e);
			break;
		case EV_ENDPOINT:
			if (e.oom)
				probe_fsm_fail(&s->f);
			if (order)
				delivered++;
			returned(s, PROBE_WORK_ENDPOINT);
			break;
		case EV_FETCH:
			returned(s, PROBE_WORK_FETCH);
			break;
		}
	}
	return delivered;
}

static void check_end(const struct sim *s, const struct scenario *sc)
{
	CHECK_INT(s->finished, 1, sc->name);
	CHECK_INT(s->finished_at, s->last_work, sc->name);
	CHECK_INT(s->f.out[PROBE_WORK_DNS], 0, sc->name);
	CHECK_INT(s->f.out[PROBE_WORK_ENDPOINT], 0, sc->name);
	CHECK_INT(s->f.out[PROBE_WORK_FETCH], 0, sc->name);
	CHECK(!s->sent_after_finish);
}

#define SEC DNSSEC_SECURE
#define INS DNSSEC_INSECURE

static const struct scenario scenarios[] = {
	/* Everything: secure MX with two hosts, TLSA for both, a valid
	 * MTA-STS record whose policy host answers while the hosts are
	 * asked, then the endpoints and the fetch in parallel. */
	{ .name = "mx-tlsa-sts",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1", "mx2" },
	  .dns = { { "MX", 20, ANS_OK, SEC, 0, false },
		   { "STS_TXT", 5, ANS_OK, INS, 1, false },
		   { "RPT_TXT", 8, ANS_OK, INS, 1, false },
		   { "STS_A", 30, ANS_OK, INS, 1, false },
		   { "STS_AAAA", 30, ANS_OK, INS, 0, false },
		   { "A:mx1", 10, ANS_OK, SEC, 1, false },
		   { "AAAA:mx1", 12, ANS_OK, SEC, 1, false },
		   { "A:mx2", 10, ANS_OK, SEC, 1, false },
		   { "AAAA:mx2", 10, ANS_OK, SEC, 0, false },
		   { "TLSA:mx1", 10, ANS_OK, SEC, 1, false },
		   { "TLSA:mx2", 15, ANS_OK, SEC, 1, false } },
	  .ep_delay = { 100, 40, 70 },
	  .fetch_delay = 50,
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @5 ?STS_A ?STS_AAAA"
		  " @20 ask_hosts ?A:mx1 ?AAAA:mx1 ?A:mx2 ?AAAA:mx2"
		  " @30 ?TLSA:mx2 @32 ?TLSA:mx1 @45 start_smtp fetch"
		  " ep:mx1#0 ep:mx1#1 ep:mx2#0 @145 finish" },
	/* An insecure MX: no TLSA; no MTA-STS record: no fetch. */
	{ .name = "mx-insecure",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "A:mx1", 10, ANS_OK, INS, 2, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 @20 start_smtp ep:mx1#0 ep:mx1#1 @30 finish" },
	/* RFC 7505 null MX: the answer names no host; the SMTP stage runs
	 * with nothing to probe and the domain finishes at once. */
	{ .name = "null-mx",
	  .endpoints = true,
	  .sts = true,
	  .dns = { { "MX", 10, ANS_OK, SEC, 0, false },
		   { "STS_TXT", 30, ANS_NXDOMAIN, SEC, 0, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts"
		  " @30 start_smtp finish" },
	{ .name = "nxdomain",
	  .endpoints = true,
	  .sts = true,
	  .dns = { { "MX", 10, ANS_NXDOMAIN, SEC, 0, false },
		   { "STS_TXT", 10, ANS_NXDOMAIN, SEC, 0, false },
		   { "RPT_TXT", 10, ANS_NXDOMAIN, SEC, 0, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts"
		  " start_smtp finish" },
	/* SERVFAIL on the MX question: no hosts, the TXT answers are still
	 * waited for (their rows are written). */
	{ .name = "servfail",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "MX", 10, ANS_SERVFAIL, DNSSEC_INDETERMINATE, 0, false },
		   { "RPT_TXT", 3000, ANS_OK, INS, 1, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts"
		  " @3000 start_smtp finish" },
	/* A CNAME at the apex with no MX at its end: the implicit MX is
	 * the CNAME's target, asked like any host. */
	{ .name = "cname-apex",
	  .endpoints = true,
	  .sts = false,
	  .hosts = { "target.example" },
	  .dns = { { "MX", 10, ANS_OK, INS, 0, false },
		   { "A:target.example", 10, ANS_OK, INS, 1, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts"
		  " ?A:target.example ?AAAA:target.example @20 start_smtp"
		  " ep:target.example#0 @30 finish" },
	/* The A answer would come after the resolver's deadline: the
	 * timeout is delivered at the deadline, the host is partial (AAAA
	 * answered) and probed on its IPv6 address at once. */
	{ .name = "late-answer",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "A:mx1", 7000, ANS_LATE, INS, 1, false },
		   { "AAAA:mx1", 10, ANS_OK, INS, 1, false } },
	  .ep_delay = { 5000 },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 @5010 start_smtp ep:mx1#0 @7010 ~A:mx1"
		  " @10010 finish" },
	/* The last question times out: the domain finishes at the
	 * resolver's deadline, not when the answer would have come. */
	{ .name = "late-answer-after-finish",
	  .endpoints = false,
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "RPT_TXT", 9000, ANS_LATE, INS, 1, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 @5000 finish @9000 ~RPT_TXT" },
	/* Out of memory while digesting an A answer: no SMTP stage, but
	 * the questions that are out are waited for. */
	{ .name = "fail-mid-dns",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1", "mx2" },
	  .dns = { { "A:mx1", 10, ANS_OK, INS, 1, true },
		   { "AAAA:mx2", 400, ANS_OK, INS, 1, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 ?A:mx2 ?AAAA:mx2 @410 finish" },
	/* Out of memory in the first endpoint's result: the others are
	 * waited for. */
	{ .name = "fail-mid-smtp",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "A:mx1", 10, ANS_OK, INS, 3, false } },
	  .ep_delay = { 10, 300, 200 },
	  .oom_at_smtp = true,
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 @20 start_smtp ep:mx1#0 ep:mx1#1 ep:mx1#2"
		  " @320 finish" },
	/* An endpoint probe that cannot start comes back from inside the
	 * action: the domain is not finished under the loop, but after it,
	 * once the other endpoint is back. */
	{ .name = "endpoint-no-start",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "A:mx1", 10, ANS_OK, INS, 2, false } },
	  .ep_delay = { EP_NO_START, 50 },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 @20 start_smtp ep:mx1#0 ep:mx1#1 @70 finish" },
	{ .name = "endpoint-no-start-alone",
	  .endpoints = true,
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "A:mx1", 10, ANS_OK, INS, 1, false } },
	  .ep_delay = { EP_NO_START },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 @20 start_smtp ep:mx1#0 finish" },
	/* The MX question cannot be asked (resolver out of memory): the
	 * domain is failed once the TXT answers are in. */
	{ .name = "mx-refused",
	  .endpoints = true,
	  .sts = true,
	  .dns = { { "MX", 0, ANS_REFUSED, INS, 0, false },
		   { "RPT_TXT", 60, ANS_OK, INS, 1, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @60 finish" },
	/* A domain the address policy blocks: not a single question. */
	{ .name = "blocklisted",
	  .blocked = true,
	  .endpoints = true,
	  .sts = true,
	  .want = "@0 finish" },
	/* DNS only (no SMTP stage, no fetcher): finished after DNS. */
	{ .name = "dns-only",
	  .sts = false,
	  .hosts = { "mx1" },
	  .dns = { { "STS_TXT", 5, ANS_OK, INS, 1, false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @10 ask_hosts ?A:mx1"
		  " ?AAAA:mx1 @20 finish" },
	/* No SMTP stage but a policy to fetch: the SMTP stage runs for the
	 * fetch alone. */
	{ .name = "fetch-only",
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "STS_TXT", 5, ANS_OK, INS, 1, false },
		   { "STS_A", 5, ANS_OK, INS, 1, false } },
	  .fetch_delay = 1000,
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @5 ?STS_A ?STS_AAAA"
		  " @10 ask_hosts ?A:mx1 ?AAAA:mx1 @20 start_smtp fetch"
		  " @1020 finish" },
	/* The policy host's lookups failed: no fetch; with the SMTP stage
	 * off the stage runs and ends at once. */
	{ .name = "fetch-host-failed",
	  .sts = true,
	  .hosts = { "mx1" },
	  .dns = { { "STS_TXT", 5, ANS_OK, INS, 1, false },
		   { "STS_A", 5, ANS_SERVFAIL, DNSSEC_INDETERMINATE, 0, false },
		   { "STS_AAAA", 5, ANS_SERVFAIL, DNSSEC_INDETERMINATE, 0,
		     false } },
	  .want = "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @5 ?STS_A ?STS_AAAA"
		  " @10 ask_hosts ?A:mx1 ?AAAA:mx1 @20 start_smtp finish" },
};

UNIT_TEST(probe_fsm_scenarios)
{
	for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++) {
		const struct scenario *sc = &scenarios[i];
		struct sim *s = calloc(1, sizeof *s);
		if (!s) {
			CHECK(s);
			return;
		}
		sim_run(s, sc, NULL);
		CHECK_STR(s->trace, sc->want, sc->name);
		check_end(s, sc);
		CHECK_INT(s->f.stray, 0, sc->name);
		/* Finished and kept: a further step moves it to done, and it
		 * stays there whatever comes. */
		CHECK_INT(probe_fsm_step(&s->f), PROBE_ACT_WAIT, sc->name);
		CHECK_STR(probe_state_str(s->f.state), "done", sc->name);
		CHECK_INT(probe_fsm_returned(&s->f, PROBE_WORK_DNS), -ENOENT,
			  sc->name);
		CHECK_INT(probe_fsm_step(&s->f), PROBE_ACT_WAIT, sc->name);
		free(s);
	}
}

/* Three endpoints and the fetch, the endpoints' results delivered in
 * every order (all at the same time, so only the order differs): the
 * domain finishes once, after the last of them. */
UNIT_TEST(probe_fsm_endpoints_any_order)
{
	static const struct scenario sc = {
		.name = "any-order",
		.endpoints = true,
		.sts = true,
		.hosts = { "mx1", "mx2" },
		.dns = { { "STS_TXT", 5, ANS_OK, INS, 1, false },
			 { "STS_A", 5, ANS_OK, INS, 1, false },
			 { "A:mx1", 10, ANS_OK, INS, 2, false },
			 { "A:mx2", 10, ANS_OK, INS, 1, false } },
		.ep_delay = { 100, 100, 100 },
		.fetch_delay = 50,
	};
	static const unsigned orders[][3] = { { 0, 0, 0 }, { 0, 1, 0 },
					      { 1, 0, 0 }, { 1, 1, 0 },
					      { 2, 0, 0 }, { 2, 1, 0 } };
	struct sim *s = calloc(1, sizeof *s);

	if (!s) {
		CHECK(s);
		return;
	}
	for (size_t i = 0; i < sizeof orders / sizeof *orders; i++) {
		unsigned order[8] = { 0 };
		memcpy(order, orders[i], sizeof orders[i]);
		CHECK_INT(sim_run(s, &sc, order), 3, sc.name);
		CHECK_STR(s->trace,
			  "@0 ask_domain ?MX ?STS_TXT ?RPT_TXT @5 ?STS_A"
			  " ?STS_AAAA @10 ask_hosts ?A:mx1 ?AAAA:mx1 ?A:mx2"
			  " ?AAAA:mx2 @20 start_smtp fetch ep:mx1#0 ep:mx1#1"
			  " ep:mx2#0 @120 finish",
			  sc.name);
		check_end(s, &sc);
		CHECK_INT(s->f.stray, 0, sc.name);
	}
	free(s);
}

/* The machine alone: what each step answers while work is out. */
UNIT_TEST(probe_fsm_steps)
{
	struct probe_fsm f;

	probe_fsm_init(&f, "example.test", false, true, false);
	CHECK_STR(probe_state_str(f.state), "start", "init");
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_ASK_DOMAIN, "first");
	CHECK_STR(probe_state_str(f.state), "mx", "first");
	probe_fsm_sent(&f, PROBE_WORK_DNS);
	probe_fsm_sent(&f, PROBE_WORK_DNS);
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_WAIT, "mx out");
	/* A TXT answer before MX: still waiting for MX. */
	CHECK_INT(probe_fsm_returned(&f, PROBE_WORK_DNS), 0, "txt");
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_WAIT, "txt");
	CHECK_STR(probe_state_str(f.state), "mx", "txt");
	probe_fsm_mx_answered(&f);
	CHECK_INT(probe_fsm_returned(&f, PROBE_WORK_DNS), 0, "mx");
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_ASK_HOSTS, "mx");
	CHECK_STR(probe_state_str(f.state), "hosts", "mx");
	probe_fsm_sent(&f, PROBE_WORK_DNS);
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_WAIT, "hosts out");
	CHECK_INT(probe_fsm_returned(&f, PROBE_WORK_DNS), 0, "a");
	CHECK_INT(probe_fsm_returned(&f, PROBE_WORK_DNS), -ENOENT, "stray");
	CHECK_INT(f.stray, 1, "stray");
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_START_SMTP, "dns over");
	probe_fsm_sent(&f, PROBE_WORK_ENDPOINT);
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_WAIT, "smtp out");
	/* A fetch result when no fetch is out is refused. */
	CHECK_INT(probe_fsm_returned(&f, PROBE_WORK_FETCH), -ENOENT,
		  "no fetch");
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_WAIT, "smtp out");
	CHECK_INT(probe_fsm_returned(&f, PROBE_WORK_ENDPOINT), 0, "ep");
	CHECK_INT(probe_fsm_step(&f), PROBE_ACT_FINISH, "ep");
	CHECK_STR(probe_state_str(f.state), "finish", "ep");

	CHECK_STR(probe_state_str(PROBE_ST_LAST), "unknown", "names");
	CHECK_STR(probe_action_str(PROBE_ACT_LAST), "unknown", "names");
	for (int st = 0; st < PROBE_ST_LAST; st++)
		CHECK(strcmp(probe_state_str(st), "unknown") != 0);
	for (int a = 0; a < PROBE_ACT_LAST; a++)
		CHECK(strcmp(probe_action_str(a), "unknown") != 0);
}

#define F true
#define U false
#define BOG DNSSEC_BOGUS
#define IND DNSSEC_INDETERMINATE

/* The rules over address lookups, as a table. */
UNIT_TEST(probe_lookup_rules)
{
	static const struct {
		const char *name;
		struct probe_lookups l;
		enum dnssec_status mx_st;
		bool partial, failed, tlsa;
	} rows[] = {
		{ "both secure", { F, F, U, U, SEC, SEC, 2 }, SEC, U, U, F },
		{ "mx insecure", { F, F, U, U, SEC, SEC, 2 }, INS, U, U, U },
		{ "aaaa insecure", { F, F, U, U, SEC, INS, 2 }, SEC, U, U, U },
		{ "securely none", { F, F, U, U, SEC, SEC, 0 }, SEC, U, U, F },
		{ "a pending", { U, F, U, U, SEC, SEC, 1 }, SEC, U, U, U },
		{ "aaaa timeout", { F, F, U, F, SEC, IND, 1 }, SEC, F, U, F },
		{ "a timeout, aaaa insecure",
		  { F, F, F, U, IND, INS, 1 },
		  SEC,
		  F,
		  U,
		  U },
		{ "aaaa bogus", { F, F, U, F, SEC, BOG, 1 }, SEC, U, F, U },
		{ "timeout, no address",
		  { F, F, U, F, SEC, IND, 0 },
		  SEC,
		  U,
		  F,
		  U },
		{ "both failed", { F, F, F, F, IND, IND, 0 }, SEC, U, F, U },
	};

	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		CHECK_INT(probe_lookups_partial(&rows[i].l), rows[i].partial,
			  rows[i].name);
		CHECK_INT(probe_lookups_failed(&rows[i].l), rows[i].failed,
			  rows[i].name);
		CHECK_INT(probe_tlsa_due(rows[i].mx_st, &rows[i].l),
			  rows[i].tlsa, rows[i].name);
	}
	/* RFC 7672 §2.2.3: the original name after a CNAME expansion with
	 * no record, unless the answer failed or it was tried. */
	CHECK(probe_tlsa_retry_due(true, false, 0, SEC));
	CHECK(probe_tlsa_retry_due(true, false, 0, INS));
	CHECK(!probe_tlsa_retry_due(true, false, 1, SEC));
	CHECK(!probe_tlsa_retry_due(true, true, 0, SEC));
	CHECK(!probe_tlsa_retry_due(false, false, 0, SEC));
	CHECK(!probe_tlsa_retry_due(true, false, 0, BOG));
	CHECK(!probe_tlsa_retry_due(true, false, 0, IND));
}
