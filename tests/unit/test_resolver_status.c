/*
 * Unit tests for the DNSSEC judgement of crawler/dns/resolver.c: the pure
 * functions resolver_judge(), resolver_wants_cd(), resolver_wants_again()
 * and resolver_ede_is_dnssec(), as tables of answers -> status, plus the
 * names stored in the database.
 */
#include <stdbool.h>
#include <stdint.h>

#include "crawler/dns/resolver.h"
#include "unit.h"

#define NONE (-1) /* no usable answer */

struct judge_case {
	const char *what;
	bool validating;
	int rcode;
	bool ad;
	uint16_t ede[3];
	size_t n_ede;
	int cd_rcode;
	int again_rcode; /* the repeat without CD */
	bool again_ad;
	enum dnssec_status want;
	const char *why;
};

/* Short names so that one case fits one line. */
#define V true	 /* resolver validates */
#define NV false /* it does not */
#define NOERR DNS_RCODE_NOERROR
#define NXD DNS_RCODE_NXDOMAIN
#define SERVF DNS_RCODE_SERVFAIL
#define REFUSED DNS_RCODE_REFUSED
#define SEC DNSSEC_SECURE
#define INSEC DNSSEC_INSECURE
#define BOGUS DNSSEC_BOGUS
#define INDET DNSSEC_INDETERMINATE
#define UNK DNSSEC_UNKNOWN

/* clang-format off */
static const struct judge_case judge_cases[] = {
	/* Answers: AD decides. */
	{ "noerror with AD",             V, NOERR, true,  { 0 }, 0, NONE, NONE, false, SEC, "ad" },
	{ "noerror without AD",          V, NOERR, false, { 0 }, 0, NONE, NONE, false, INSEC, "no_ad" },
	{ "nxdomain with AD",            V, NXD,   true,  { 0 }, 0, NONE, NONE, false, SEC, "ad" },
	{ "nxdomain without AD",         V, NXD,   false, { 0 }, 0, NONE, NONE, false, INSEC, "no_ad" },
	/* An EDE on an answer (e.g. 3 stale) says nothing about DNSSEC. */
	{ "noerror, AD, EDE 3",          V, NOERR, true,  { 3 }, 1, NONE, NONE, false, SEC, "ad" },
	{ "noerror, no AD, EDE 6",       V, NOERR, false, { 6 }, 1, NONE, NONE, false, INSEC, "no_ad" },

	/* SERVFAIL with a DNSSEC EDE: the resolver says validation failed,
	 * whatever the CD query did. */
	{ "servfail EDE 6, CD timeout",  V, SERVF, false, { 6 }, 1, NONE, NONE, false, BOGUS, "ede" },
	{ "servfail EDE 7, CD servfail", V, SERVF, false, { 7 }, 1, SERVF, NONE, false, BOGUS, "ede" },
	{ "servfail EDE 12, CD servf.",  V, SERVF, false, { 12 }, 1, SERVF, NONE, false, BOGUS, "ede" },
	{ "servfail EDE 6, CD noerror",  V, SERVF, false, { 6 }, 1, NOERR, NONE, false, BOGUS, "ede" },
	{ "servfail EDE 22 then 9",      V, SERVF, false, { 22, 9 }, 2, NONE, NONE, false, BOGUS, "ede" },

	/* SERVFAIL without one, CD answers: not proof by itself (an
	 * upstream timeout looks the same); the repeat without CD decides. */
	{ "servfail, CD noerror, again servfail", V, SERVF, false, { 0 }, 0, NOERR, SERVF, false, BOGUS, "servfail_repeated" },
	{ "servfail, CD nxdomain, again servfail", V, SERVF, false, { 0 }, 0, NXD, SERVF, false, BOGUS, "servfail_repeated" },
	{ "servfail EDE 22, CD noerror, again servf.", V, SERVF, false, { 22 }, 1, NOERR, SERVF, false, BOGUS, "servfail_repeated" },
	{ "servfail, CD noerror, again timeout", V, SERVF, false, { 0 }, 0, NOERR, NONE, false, INDET, "servfail_unconfirmed" },
	{ "servfail, CD nxdomain, no again",  V, SERVF, false, { 0 }, 0, NXD, NONE, false, INDET, "servfail_unconfirmed" },
	{ "servfail, CD noerror, again refused", V, SERVF, false, { 0 }, 0, NOERR, REFUSED, false, INDET, "servfail_unconfirmed" },
	{ "servfail EDE 5, CD noerror, again timeout", V, SERVF, false, { 5 }, 1, NOERR, NONE, false, INDET, "servfail_unconfirmed" },
	{ "servfail, CD noerror, again AD",   V, SERVF, false, { 0 }, 0, NOERR, NOERR, true, SEC, "servfail_then_answer" },
	{ "servfail, CD noerror, again no AD", V, SERVF, false, { 0 }, 0, NOERR, NOERR, false, INSEC, "servfail_then_answer" },
	{ "servfail, CD nxdomain, again nxd AD", V, SERVF, false, { 0 }, 0, NXD, NXD, true, SEC, "servfail_then_answer" },

	/* SERVFAIL that fails with CD too: not a validation matter. */
	{ "servfail, CD servfail",       V, SERVF, false, { 0 }, 0, SERVF, NONE, false, INDET, "servfail" },
	{ "servfail, CD refused",        V, SERVF, false, { 0 }, 0, REFUSED, NONE, false, INDET, "servfail" },
	{ "servfail, CD timed out",      V, SERVF, false, { 0 }, 0, NONE, NONE, false, INDET, "servfail" },
	{ "servfail EDE 5",              V, SERVF, false, { 5 }, 1, SERVF, NONE, false, INDET, "servfail" },
	{ "servfail EDE 13",             V, SERVF, false, { 13 }, 1, NONE, NONE, false, INDET, "servfail" },
	{ "servfail EDE 22",             V, SERVF, false, { 22 }, 1, SERVF, NONE, false, INDET, "servfail" },
	{ "servfail, stray again servf.", V, SERVF, false, { 0 }, 0, SERVF, SERVF, false, INDET, "servfail" },
	/* AD on a SERVFAIL means nothing. */
	{ "servfail with AD",            V, SERVF, true,  { 0 }, 0, SERVF, NONE, false, INDET, "servfail" },

	/* Other rcodes and no answer at all. */
	{ "refused",                     V, REFUSED, false, { 0 }, 0, NONE, NONE, false, INDET, "rcode" },
	{ "refused with EDE 6",          V, REFUSED, false, { 6 }, 1, NONE, NONE, false, INDET, "rcode" },
	{ "formerr",                     V, DNS_RCODE_FORMERR, false, { 0 }, 0, NONE, NONE, false, INDET, "rcode" },
	{ "notimp",                      V, DNS_RCODE_NOTIMP, false, { 0 }, 0, NONE, NONE, false, INDET, "rcode" },
	{ "badvers (extended rcode)",    V, DNS_RCODE_BADVERS, true, { 0 }, 0, NONE, NONE, false, INDET, "rcode" },
	{ "no answer (timeout)",         V, NONE,  false, { 0 }, 0, NONE, NONE, false, INDET, "no_answer" },
	{ "no answer, stray CD rcode",   V, NONE,  false, { 0 }, 0, NOERR, SERVF, false, INDET, "no_answer" },

	/* A resolver that does not validate: never a verdict. */
	{ "not validating, AD",          NV, NOERR, true,  { 0 }, 0, NONE, NONE, false, UNK, "not_validating" },
	{ "not validating, no AD",       NV, NOERR, false, { 0 }, 0, NONE, NONE, false, UNK, "not_validating" },
	{ "not validating, bogus",       NV, SERVF, false, { 6 }, 1, NOERR, SERVF, false, UNK, "not_validating" },
	{ "not validating, timeout",     NV, NONE,  false, { 0 }, 0, NONE, NONE, false, UNK, "not_validating" },
};
/* clang-format on */

UNIT_TEST(test_resolver_judge_table)
{
	for (size_t i = 0; i < sizeof judge_cases / sizeof judge_cases[0];
	     i++) {
		const struct judge_case *c = &judge_cases[i];
		struct resolver_evidence ev = {
			.rcode = c->rcode,
			.ad = c->ad,
			.ede = c->ede,
			.n_ede = c->n_ede,
			.cd_rcode = c->cd_rcode,
			.again_rcode = c->again_rcode,
			.again_ad = c->again_ad,
		};
		enum dnssec_why why = DNSSEC_WHY_LAST;
		enum dnssec_status got =
		    resolver_judge(c->validating, &ev, &why);
		CHECK_STR(dnssec_status_str(got), dnssec_status_str(c->want),
			  c->what);
		CHECK_STR(dnssec_why_str(why), c->why, c->what);
	}
}

UNIT_TEST(test_resolver_judge_null_ede)
{
	struct resolver_evidence ev = { .rcode = DNS_RCODE_SERVFAIL,
					.ede = NULL,
					.n_ede = 3,
					.cd_rcode = NONE,
					.again_rcode = NONE };
	CHECK_INT(resolver_judge(true, &ev, NULL), DNSSEC_INDETERMINATE,
		  "NULL ede list with a count");
}

/* A repeat without CD is sent exactly for a SERVFAIL without a DNSSEC
 * EDE whose CD query answered. */
UNIT_TEST(test_resolver_wants_again)
{
	static const struct {
		bool validating;
		int rcode;
		bool dnssec_ede;
		int cd_rcode;
		bool want;
	} cases[] = {
		{ true, DNS_RCODE_SERVFAIL, false, DNS_RCODE_NOERROR, true },
		{ true, DNS_RCODE_SERVFAIL, false, DNS_RCODE_NXDOMAIN, true },
		{ true, DNS_RCODE_SERVFAIL, true, DNS_RCODE_NOERROR, false },
		{ true, DNS_RCODE_SERVFAIL, false, DNS_RCODE_SERVFAIL, false },
		{ true, DNS_RCODE_SERVFAIL, false, DNS_RCODE_REFUSED, false },
		{ true, DNS_RCODE_SERVFAIL, false, NONE, false },
		{ true, DNS_RCODE_NOERROR, false, DNS_RCODE_NOERROR, false },
		{ true, NONE, false, DNS_RCODE_NOERROR, false },
		{ false, DNS_RCODE_SERVFAIL, false, DNS_RCODE_NOERROR, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_INT(resolver_wants_again(
			      cases[i].validating, cases[i].rcode,
			      cases[i].dnssec_ede, cases[i].cd_rcode),
			  cases[i].want, dns_rcode_str(cases[i].cd_rcode));
}

UNIT_TEST(test_resolver_wants_cd)
{
	static const struct {
		bool validating;
		int rcode;
		bool want;
	} cases[] = {
		{ true, DNS_RCODE_SERVFAIL, true },
		{ true, DNS_RCODE_NOERROR, false },
		{ true, DNS_RCODE_NXDOMAIN, false },
		{ true, DNS_RCODE_REFUSED, false },
		{ true, NONE, false },
		{ false, DNS_RCODE_SERVFAIL, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_INT(
		    resolver_wants_cd(cases[i].validating, cases[i].rcode),
		    cases[i].want, dns_rcode_str(cases[i].rcode));
}

UNIT_TEST(test_resolver_ede_is_dnssec)
{
	for (unsigned code = 0; code < 40; code++)
		CHECK_INT(resolver_ede_is_dnssec((uint16_t)code),
			  code >= 6 && code <= 12, dns_ede_str((uint16_t)code));
	CHECK_INT(resolver_ede_is_dnssec(65535), false, "65535");
}

UNIT_TEST(test_resolver_names)
{
	static const struct {
		enum dnssec_status s;
		const char *want;
	} st[] = {
		{ DNSSEC_UNKNOWN, "unknown" },
		{ DNSSEC_SECURE, "secure" },
		{ DNSSEC_INSECURE, "insecure" },
		{ DNSSEC_BOGUS, "bogus" },
		{ DNSSEC_INDETERMINATE, "indeterminate" },
		{ DNSSEC_STATUS_LAST, "unknown" },
	};
	static const struct {
		enum resolver_rc rc;
		const char *want;
	} rc[] = {
		{ RESOLVER_OK, "ok" },
		{ RESOLVER_TIMEOUT, "timeout" },
		{ RESOLVER_MALFORMED, "malformed" },
		{ RESOLVER_BAD_NAME, "bad_name" },
		{ RESOLVER_NO_MEMORY, "no_memory" },
		{ RESOLVER_CONN_REFUSED, "conn_refused" },
		{ RESOLVER_ERROR, "error" },
		{ RESOLVER_CANCELLED, "cancelled" },
		{ RESOLVER_RC_LAST, "unknown" },
	};
	for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
		CHECK_STR(dnssec_status_str(st[i].s), st[i].want, st[i].want);
	CHECK_STR(dnssec_why_str(DNSSEC_WHY_LAST), "unknown", "why LAST");
	CHECK_STR(dnssec_why_str(DNSSEC_WHY_SERVFAIL_REPEATED),
		  "servfail_repeated", "why name");
	for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++)
		CHECK_STR(resolver_rc_str(rc[i].rc), rc[i].want, rc[i].want);
	/* An answer with an error rcode is no "ok" (issue M8 item 8). */
	static const struct {
		enum resolver_rc rc;
		int rcode;
		const char *want;
	} out[] = {
		{ RESOLVER_OK, DNS_RCODE_NOERROR, "ok" },
		{ RESOLVER_OK, DNS_RCODE_NXDOMAIN, "ok" },
		{ RESOLVER_OK, DNS_RCODE_SERVFAIL, "rcode_error" },
		{ RESOLVER_OK, DNS_RCODE_REFUSED, "rcode_error" },
		{ RESOLVER_OK, DNS_RCODE_FORMERR, "rcode_error" },
		{ RESOLVER_OK, DNS_RCODE_NOTIMP, "rcode_error" },
		{ RESOLVER_OK, DNS_RCODE_BADVERS, "rcode_error" },
		{ RESOLVER_TIMEOUT, -1, "timeout" },
		{ RESOLVER_MALFORMED, -1, "malformed" },
	};
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		CHECK_STR(resolver_outcome_str(out[i].rc, out[i].rcode),
			  out[i].want, out[i].want);
}
