#!/usr/bin/env bash
# Found by scripts/soak (--seed 12, the full disk; issue M11, item 3):
# when the endpoint rows cannot be written (the claims thread gives up
# after three attempts: "claims: cannot store endpoint rows; the
# endpoints' results are used but not stored"), the domains that use
# those endpoints are still stored by the batch writer, whose tables had
# room. Their endpoints then have no row, their claims stay undone and
# nobody probes them again: SMTP facts lost for good.
#
# The full disk, made deterministic: a trigger refuses every endpoint row
# (SQLSTATE 53100, disk_full) until the crawler has said it gave some up;
# then rows are accepted again and the scan runs to its end. Wanted:
# every endpoint the domains use has its row, every claim is done, and
# every domain's facts equal the truth.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

testbed_up --no-postfix

expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign rows --import-only --batch-size 20
cid=$(sql "SELECT id FROM campaign WHERE name = 'rows'")
scan_through_full_disk rows endpoint "cannot store endpoint rows"
rc=$SCAN_RC
# (Stopping on it, exit 69, is fine too: a --resume then finishes.)
if [ "$rc" = 69 ]; then
	expect_rc 0 "$MXCRAWL" scan --campaign rows --resume "${allow_args[@]}" --smtp-deadline 8000
else
	expect_eq "scan exit status" "$rc" 0
fi
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
expect_eq "domains whose endpoint has no row" \
	"$(sql "SELECT count(DISTINCT target_id) FROM domain_endpoint de WHERE campaign_id = $cid
		 AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.campaign_id = $cid
		     AND e.ip = de.ip AND e.port = de.port AND e.sni IS NOT DISTINCT FROM de.sni)")" 0
expect_eq "endpoint claims not done" \
	"$(sql "SELECT count(*) FROM endpoint_claim WHERE campaign_id = $cid AND NOT done")" 0
"$MXCRAWL" export --campaign rows --format jsonl >"$TEST_WORK/rows.jsonl"
/usr/bin/python3 "$MXCRAWL_SRC/tests/integration/compare_dns.py" --smtp \
	"$TESTBED_TRUTH" "$TEST_WORK/rows.jsonl" || fail "facts differ from the truth"
echo PASS
