/*
 * A chain's verdict (verify_chain) as the columns it is stored in: the
 * same seven columns, in the same order and spelling, in endpoint (the
 * scan's own verdict) and endpoint_judgement (a judgement set of
 * reverify), written by this one function so that the two can never
 * disagree on how a verdict is stored.
 */
#ifndef MXCRAWL_VERIFY_VERDICT_H
#define MXCRAWL_VERIFY_VERDICT_H

#include "crawler/util/jbuf.h"
#include "crawler/verify/verify.h"

/* The number of columns verdict_copy writes. */
#define VERDICT_COLUMNS 7

/*
 * Appends trusted, verify_errors, missing_intermediate, name_matches_mx,
 * cn_only, weak, valid_ignoring_strength as COPY text fields separated by
 * tabs (no tab before the first, none after the last); with vr NULL
 * (no chain judged) seven NULLs.
 */
void verdict_copy(struct jbuf *b, const struct verify_result *vr);

#endif
