/* A chain's verdict as stored columns (see verdict.h). */
#include "crawler/verify/verdict.h"

#include <string.h>

#include "crawler/store/copyfmt.h"

void verdict_copy(struct jbuf *b, const struct verify_result *vr)
{
	struct copy_array arr;

	if (!vr) {
		jbuf_puts(b, "\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N");
		return;
	}
	copy_bool(b, vr->trusted);
	copy_field(b);
	copy_array_begin(&arr, b);
	for (unsigned i = 0; i < vr->nerrors; i++)
		copy_array_text(&arr, vr->errors[i].name,
				strlen(vr->errors[i].name));
	copy_array_end(&arr);
	copy_field(b);
	copy_bool(b, vr->missing_intermediate);
	copy_field(b);
	copy_bool(b, vr->name_matches_mx);
	copy_field(b);
	copy_bool(b, vr->cn_only);
	copy_field(b);
	copy_array_begin(&arr, b);
	for (unsigned bit = 0; bit < VERIFY_WEAK_BITS; bit++)
		if (vr->weak & (1u << bit))
			copy_array_text(&arr, verify_weak_str(1u << bit),
					strlen(verify_weak_str(1u << bit)));
	copy_array_end(&arr);
	copy_field(b);
	copy_bool(b, vr->valid_ignoring_strength);
}
