/*
 * Fuzz target for the TLS-RPT record reader (crawler/sts/tlsrpt.c).
 *
 * The input is a TXT RRset: records separated by the byte 0xff. Every
 * result must keep the output's bounds, agree with the selection rule, be
 * the same when the selected record is parsed alone, and a valid record
 * must only hold well-formed mailto: and https: URIs that are really in
 * the record.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/sts/tlsrpt.h"

/* TXT RRsets are bounded by a DNS message (64 KiB); a little over. */
#define FUZZ_INPUT_MAX (64 * 1024 + 1024)
#define FUZZ_MAX_RECS 64
#define SEP 0xff

static bool contains(const uint8_t *h, size_t hn, const char *s, size_t n)
{
	for (size_t i = 0; i + n <= hn; i++)
		if (memcmp(h + i, s, n) == 0)
			return true;
	return false;
}

static void check(const struct tlsrpt *t, enum tlsrpt_rc rc, const uint8_t *rec,
		  size_t len)
{
	if ((unsigned)rc >= TLSRPT_RC_LAST ||
	    strcmp(tlsrpt_rc_str(rc), "unknown") == 0 ||
	    strcmp(tlsrpt_status_str(rc), "unknown") == 0)
		abort();
	if (t->nrua > TLSRPT_MAX_RUA || t->nrua > t->rua_total ||
	    t->rua_truncated != (t->rua_total > TLSRPT_MAX_RUA))
		abort();
	if (!t->has_rua && t->rua_total != 0)
		abort();
	if (t->next > t->nfields || t->error_off > len)
		abort();
	for (size_t i = 0; i < t->nrua; i++) {
		const struct tlsrpt_uri *u = &t->rua[i];
		if (u->len > TLSRPT_URI_MAX || u->uri[u->len] != '\0' ||
		    (unsigned)u->scheme >= TLSRPT_SCHEME_LAST)
			abort();
		if (u->truncated && u->len != TLSRPT_URI_MAX)
			abort();
		if (!contains(rec, len, u->uri, u->len))
			abort();
		size_t sn = strnlen(u->scheme_name, TLSRPT_SCHEME_MAX + 1);
		if (sn > TLSRPT_SCHEME_MAX)
			abort();
		for (size_t k = 0; k < sn; k++)
			if (u->scheme_name[k] >= 'A' &&
			    u->scheme_name[k] <= 'Z')
				abort();
		if (u->ok && u->scheme != TLSRPT_SCHEME_MAILTO &&
		    u->scheme != TLSRPT_SCHEME_HTTPS)
			abort();
		if (rc == TLSRPT_OK && !u->ok)
			abort();
		if (u->scheme == TLSRPT_SCHEME_NONE && sn != 0)
			abort();
	}
	if (rc == TLSRPT_OK && (!t->has_rua || t->rua_total == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tlsrpt_bytes recs[FUZZ_MAX_RECS];
	static struct tlsrpt whole, alone;
	size_t n = 0, start = 0, nrpt = 0;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	for (size_t i = 0; i <= size && n < FUZZ_MAX_RECS; i++) {
		if (i == size || data[i] == SEP) {
			recs[n].p = data + start;
			recs[n].len = i - start;
			if (tlsrpt_is_rpt(recs[n].p, recs[n].len))
				nrpt++;
			n++;
			start = i + 1;
		}
	}

	enum tlsrpt_rc rc = tlsrpt_select(recs, n, &whole);
	if (whole.nrecords != n || whole.nrpt != nrpt)
		abort();
	if ((rc == TLSRPT_RC_NONE) != (nrpt == 0) ||
	    (rc == TLSRPT_RC_MULTIPLE) != (nrpt > 1))
		abort();
	if (nrpt != 1) {
		if (whole.has_rua || whole.nfields || whole.nrua)
			abort();
		check(&whole, rc, NULL, 0);
		return 0;
	}
	const struct tlsrpt_bytes *r = &recs[whole.index];
	if (whole.index >= n || !tlsrpt_is_rpt(r->p, r->len))
		abort();
	check(&whole, rc, r->p, r->len);

	/* The selected record alone gives the same result. */
	enum tlsrpt_rc rc2 = tlsrpt_parse(r->p, r->len, &alone);
	if (rc2 != rc || alone.nrua != whole.nrua ||
	    alone.rua_total != whole.rua_total ||
	    alone.error_off != whole.error_off ||
	    alone.nfields != whole.nfields)
		abort();
	for (size_t i = 0; i < whole.nrua; i++)
		if (alone.rua[i].len != whole.rua[i].len ||
		    memcmp(alone.rua[i].uri, whole.rua[i].uri,
			   whole.rua[i].len) != 0 ||
		    alone.rua[i].ok != whole.rua[i].ok)
			abort();
	return 0;
}
