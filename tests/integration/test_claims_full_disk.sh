#!/usr/bin/env bash
# Issue M11, item 3 (left by scripts/soak): while the database cannot
# take an endpoint claim (its disk full), the crawler used to give the
# claim up after three tries and probe the endpoint without one ("claims:
# cannot claim N endpoints; probing them without a claim"). Nothing was
# lost, but such an endpoint has no claim: another crawler, or this one
# after a --resume, probes it again (0-46 extra probes per soak run).
# Wanted: a full disk is waited out like for the endpoint rows (the
# domains wait), and every endpoint is probed under a claim.
#
# The full disk, made deterministic: a trigger refuses every new claim
# (SQLSTATE 53100, disk_full) until the crawler has said that it waits;
# then claims are accepted again and the scan runs to its end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

testbed_up --no-postfix

expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign full --import-only --batch-size 20
cid=$(sql "SELECT id FROM campaign WHERE name = 'full'")
scan_through_full_disk full endpoint_claim "cannot claim"
rc=$SCAN_RC
expect_eq "scan exit status" "$rc" 0
if grep -q "without a claim" "$TEST_WORK/scan.err"; then
	fail "endpoints were probed without a claim"
fi
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
expect_eq "endpoint rows without a finished claim" \
	"$(sql "SELECT count(*) FROM endpoint e WHERE e.campaign_id = $cid
		 AND NOT EXISTS (SELECT 1 FROM endpoint_claim c WHERE c.campaign_id = $cid
		     AND c.ip = e.ip AND c.port = e.port AND c.sni = e.sni
		     AND c.service = 0 AND c.done)")" 0
expect_eq "endpoint claims not done" \
	"$(sql "SELECT count(*) FROM endpoint_claim WHERE campaign_id = $cid AND NOT done")" 0
# Not vacuous: the campaign has endpoints.
n=$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")
[ "$n" -gt 0 ] || fail "no endpoint rows at all"
"$MXCRAWL" export --campaign full --format jsonl >"$TEST_WORK/full.jsonl"
/usr/bin/python3 "$MXCRAWL_SRC/tests/integration/compare_dns.py" --smtp \
	"$TESTBED_TRUTH" "$TEST_WORK/full.jsonl" || fail "facts differ from the truth"
echo "PASS ($n endpoints, each under a claim)"
