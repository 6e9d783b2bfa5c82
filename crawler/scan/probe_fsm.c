/*
 * The probe's state machine (see probe_fsm.h). It never calls out: each
 * step answers with one action, and what comes back is counted by the
 * caller through probe_fsm_sent()/probe_fsm_returned().
 */
#include <errno.h>
#include <stdio.h>

#include "crawler/scan/probe_fsm.h"

static const char *const state_names[] = {
	[PROBE_ST_START] = "start",   [PROBE_ST_MX] = "mx",
	[PROBE_ST_HOSTS] = "hosts",   [PROBE_ST_SMTP] = "smtp",
	[PROBE_ST_FINISH] = "finish", [PROBE_ST_DONE] = "done",
};

static const char *const action_names[] = {
	[PROBE_ACT_WAIT] = "wait",
	[PROBE_ACT_ASK_DOMAIN] = "ask_domain",
	[PROBE_ACT_ASK_HOSTS] = "ask_hosts",
	[PROBE_ACT_START_SMTP] = "start_smtp",
	[PROBE_ACT_FINISH] = "finish",
};

const char *probe_state_str(enum probe_state st)
{
	if ((unsigned)st >= PROBE_ST_LAST)
		return "unknown";
	return state_names[st];
}

const char *probe_action_str(enum probe_action act)
{
	if ((unsigned)act >= PROBE_ACT_LAST)
		return "unknown";
	return action_names[act];
}

void probe_fsm_init(struct probe_fsm *f, const char *name, bool blocked,
		    bool endpoints, bool trace)
{
	*f = (struct probe_fsm){ 0 };
	f->state = PROBE_ST_START;
	f->name = name ? name : "";
	f->blocked = blocked;
	f->endpoints = endpoints;
	f->trace = trace;
}

/* The only writer of f->state; the new state's entry action is due. */
static void set_state(struct probe_fsm *f, enum probe_state st)
{
#ifndef NDEBUG
	if (f->trace)
		fprintf(stderr, "probe: %s %s -> %s\n", f->name,
			state_names[f->state], state_names[st]);
#endif
	f->state = st;
	f->entered = false;
}

void probe_fsm_sent(struct probe_fsm *f, enum probe_work w)
{
	f->out[w]++;
}

int probe_fsm_returned(struct probe_fsm *f, enum probe_work w)
{
	if (f->out[w] == 0) {
		f->stray++;
		return -ENOENT;
	}
	f->out[w]--;
	return 0;
}

void probe_fsm_mx_answered(struct probe_fsm *f)
{
	f->mx_in = true;
}

void probe_fsm_set_fetch_due(struct probe_fsm *f, bool due)
{
	f->fetch_due = due;
}

void probe_fsm_fail(struct probe_fsm *f)
{
	f->failed = true;
}

/* Where the probe goes when no question is out any more: the SMTP stage
 * runs when one of its parts is on and nothing failed. */
static void dns_over(struct probe_fsm *f)
{
	if (f->failed || (!f->endpoints && !f->fetch_due))
		set_state(f, PROBE_ST_FINISH);
	else
		set_state(f, PROBE_ST_SMTP);
}

static enum probe_action st_start(struct probe_fsm *f)
{
	/* A blocked domain is honoured before any packet: not even a DNS
	 * question. */
	set_state(f, f->blocked ? PROBE_ST_FINISH : PROBE_ST_MX);
	return PROBE_ACT_WAIT;
}

static enum probe_action st_mx(struct probe_fsm *f, bool enter)
{
	if (enter)
		return PROBE_ACT_ASK_DOMAIN;
	if (f->mx_in)
		set_state(f, PROBE_ST_HOSTS);
	else if (f->out[PROBE_WORK_DNS] == 0)
		dns_over(f); /* the MX question could not be asked */
	return PROBE_ACT_WAIT;
}

static enum probe_action st_hosts(struct probe_fsm *f, bool enter)
{
	if (enter && !f->failed)
		return PROBE_ACT_ASK_HOSTS;
	if (f->out[PROBE_WORK_DNS] == 0)
		dns_over(f);
	return PROBE_ACT_WAIT;
}

static enum probe_action st_smtp(struct probe_fsm *f, bool enter)
{
	if (enter)
		return PROBE_ACT_START_SMTP;
	if (f->out[PROBE_WORK_ENDPOINT] == 0 && f->out[PROBE_WORK_FETCH] == 0)
		set_state(f, PROBE_ST_FINISH);
	return PROBE_ACT_WAIT;
}

static enum probe_action st_finish(struct probe_fsm *f, bool enter)
{
	if (enter)
		return PROBE_ACT_FINISH;
	/* Stepped again after finishing (the caller kept the machine). */
	set_state(f, PROBE_ST_DONE);
	return PROBE_ACT_WAIT;
}

/*
 * A state's case either answers with an action (its entry action, once)
 * or changes the state and answers WAIT; then the new state's case runs,
 * so that every action is decided in one place.
 */
enum probe_action probe_fsm_step(struct probe_fsm *f)
{
	for (;;) {
		enum probe_state before = f->state;
		bool enter = !f->entered;
		enum probe_action act;

		f->entered = true;
		switch (f->state) {
		case PROBE_ST_START:
			act = st_start(f);
			break;
		case PROBE_ST_MX:
			act = st_mx(f, enter);
			break;
		case PROBE_ST_HOSTS:
			act = st_hosts(f, enter);
			break;
		case PROBE_ST_SMTP:
			act = st_smtp(f, enter);
			break;
		case PROBE_ST_FINISH:
			act = st_finish(f, enter);
			break;
		case PROBE_ST_DONE:
		default:
			return PROBE_ACT_WAIT;
		}
		if (act != PROBE_ACT_WAIT || f->state == before)
			return act;
	}
}

/* ---- Rules over the answers ----------------------------------------- */

bool probe_lookups_partial(const struct probe_lookups *l)
{
	if (l->a_failed == l->aaaa_failed)
		return false;
	if ((l->a_failed ? l->a_st : l->aaaa_st) == DNSSEC_BOGUS)
		return false;
	return l->naddr > 0;
}

bool probe_lookups_failed(const struct probe_lookups *l)
{
	return (l->a_failed || l->aaaa_failed) && !probe_lookups_partial(l);
}

bool probe_tlsa_due(enum dnssec_status mx_st, const struct probe_lookups *l)
{
	bool secure;

	if (!l->a_done || !l->aaaa_done)
		return false;
	if (probe_lookups_partial(l))
		secure = (l->a_failed ? l->aaaa_st : l->a_st) == DNSSEC_SECURE;
	else
		secure =
		    l->a_st == DNSSEC_SECURE && l->aaaa_st == DNSSEC_SECURE;
	return mx_st == DNSSEC_SECURE && secure;
}

bool probe_tlsa_retry_due(bool expanded, bool tried_original, size_t found,
			  enum dnssec_status st)
{
	return !found && st != DNSSEC_BOGUS && st != DNSSEC_INDETERMINATE &&
	       expanded && !tried_original;
}
