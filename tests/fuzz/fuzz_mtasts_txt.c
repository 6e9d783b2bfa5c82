/*
 * Fuzz target for the MTA-STS TXT record reader (crawler/sts/mtasts.c).
 *
 * The input is a TXT RRset: records separated by the byte 0xff (which no
 * UTF-8 text holds, so seeds stay readable). Every result must keep the
 * output's bounds, agree with the selection rule, be the same when the
 * selected record is parsed alone, and a valid record must really hold
 * "id=" and its 1..32 letters and digits.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/sts/mtasts.h"

/* TXT RRsets are bounded by a DNS message (64 KiB); a little over. */
#define FUZZ_INPUT_MAX (64 * 1024 + 1024)
/* Records per set: more than any real answer holds. */
#define FUZZ_MAX_RECS 64
#define SEP 0xff

static bool is_alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static void check(const struct mtasts_txt *t, enum mtasts_txt_rc rc, size_t len)
{
	if ((unsigned)rc >= MTASTS_TXT_RC_LAST ||
	    strcmp(mtasts_txt_rc_str(rc), "unknown") == 0 ||
	    strcmp(mtasts_txt_status_str(rc), "unknown") == 0)
		abort();
	if (t->id_len > MTASTS_ID_KEEP || t->id[t->id_len] != '\0')
		abort();
	if (t->id_truncated && t->id_len != MTASTS_ID_KEEP)
		abort();
	if (!t->has_id && t->id_len != 0)
		abort();
	if (t->next > t->nfields || t->error_off > len)
		abort();
	if (rc == MTASTS_TXT_OK) {
		if (!t->has_id || t->id_len == 0 || t->id_len > MTASTS_ID_MAX)
			abort();
		for (size_t i = 0; i < t->id_len; i++)
			if (!is_alnum((unsigned char)t->id[i]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mtasts_bytes recs[FUZZ_MAX_RECS];
	struct mtasts_txt whole, alone;
	size_t n = 0, start = 0, nsts = 0;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	for (size_t i = 0; i <= size && n < FUZZ_MAX_RECS; i++) {
		if (i == size || data[i] == SEP) {
			recs[n].p = data + start;
			recs[n].len = i - start;
			if (mtasts_txt_is_sts(recs[n].p, recs[n].len))
				nsts++;
			n++;
			start = i + 1;
		}
	}

	enum mtasts_txt_rc rc = mtasts_txt_select(recs, n, &whole);
	if (whole.nrecords != n || whole.nsts != nsts)
		abort();
	if ((rc == MTASTS_TXT_RC_NONE) != (nsts == 0) ||
	    (rc == MTASTS_TXT_RC_MULTIPLE) != (nsts > 1))
		abort();
	if (nsts != 1) {
		if (whole.has_id || whole.nfields)
			abort();
		check(&whole, rc, 0);
		return 0;
	}
	const struct mtasts_bytes *r = &recs[whole.index];
	if (whole.index >= n || !mtasts_txt_is_sts(r->p, r->len))
		abort();
	check(&whole, rc, r->len);

	/* The selected record alone gives the same result. */
	enum mtasts_txt_rc rc2 = mtasts_txt_parse(r->p, r->len, &alone);
	if (rc2 != rc || alone.has_id != whole.has_id ||
	    alone.id_len != whole.id_len ||
	    memcmp(alone.id, whole.id, whole.id_len) != 0 ||
	    alone.nfields != whole.nfields || alone.next != whole.next ||
	    alone.error_off != whole.error_off)
		abort();

	/* A valid id is really in the record, after "id=". */
	if (rc == MTASTS_TXT_OK) {
		bool found = false;
		for (size_t i = 0; i + 3 + whole.id_len <= r->len && !found;
		     i++)
			found =
			    memcmp(r->p + i, "id=", 3) == 0 &&
			    memcmp(r->p + i + 3, whole.id, whole.id_len) == 0;
		if (!found)
			abort();
	}
	return 0;
}
