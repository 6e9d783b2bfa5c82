#!/usr/bin/env bash
# Hostile mail servers at volume, a short run of scripts/hostile (issue
# M11 item 4; the full run is `scripts/hostile`, 10,000 endpoints): 300
# domains, each on a hostile server of one of ten behaviours, must each be
# typed as the truth says within the endpoint's deadline, with no
# sanitizer report (in the ASan suite the crawler is the ASan build).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# scripts/hostile makes its own namespaces and database; its output is
# kept here.
rc=0
"$MXCRAWL_SRC/scripts/hostile" --endpoints 300 --mxcrawl "$MXCRAWL" \
	--smtp-deadline 4000 >"$TEST_WORK/hostile.out" 2>&1 || rc=$?
cat "$TEST_WORK/hostile.out"
[ "$rc" = 0 ] || fail "scripts/hostile --endpoints 300 exited $rc"
grep -q '^hostile: ok$' "$TEST_WORK/hostile.out" || fail "no ok line"
grep -q ' 0 disagreements, 0 missing, 0 extra' "$TEST_WORK/hostile.out" ||
	fail "the truth comparison did not run"
echo PASS
