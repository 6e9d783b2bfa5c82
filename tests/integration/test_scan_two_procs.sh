#!/usr/bin/env bash
# Two crawler processes on one campaign (issue M3: any number of processes
# share a campaign through the database alone): both exit 0, the batches
# and results are split between both workers, every batch is stored once,
# every target has exactly one result, and the export equals the truth.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

testbed_up --no-postfix --no-servers --domains 1200

PY=/usr/bin/python3
ntargets=$(grep -c . "$TESTBED_TARGETS")
host=$(hostname)

expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign two \
	--import-only --batch-size 25
cid=$(sql "SELECT id FROM campaign WHERE name = 'two'")
nbatches=$(sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid")

# Each process is rate-limited, so the scan lasts long enough for both to
# take part; a short lease makes the heartbeat matter.
scan_args=(scan --campaign two --resume "${allow_args[@]}"
	--concurrency 50 --rate 40 --lease 3 --progress 0)
"$MXCRAWL" "${scan_args[@]}" 2>"$TEST_WORK/a.err" &
pa=$!
CRAWLERS+=("$pa")
"$MXCRAWL" "${scan_args[@]}" 2>"$TEST_WORK/b.err" &
pb=$!
CRAWLERS+=("$pb")
ra=0 rb=0
wait "$pa" || ra=$?
wait "$pb" || rb=$?
cat "$TEST_WORK/a.err" "$TEST_WORK/b.err"
expect_eq "exit status of crawler A" "$ra" 0
expect_eq "exit status of crawler B" "$rb" 0

expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
expect_eq "unfinished batches" \
	"$(sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid AND done_at IS NULL")" 0
expect_eq "results / distinct targets / targets" \
	"$(sql "SELECT count(*) || '/' || count(DISTINCT target_id) FROM domain_dns WHERE campaign_id = $cid")/$(sql "SELECT targets FROM campaign WHERE id = $cid")" \
	"$ntargets/$ntargets/$ntargets"
# No batch was done by both: every result was stored by the worker that
# held its batch's last lease (a store after losing the lease is refused;
# if it were not, the other worker's results would be lost or mixed).
expect_eq "results / results stored by a worker that did not hold the batch" \
	"$(sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE d.worker IS DISTINCT FROM b.leased_by)
		FROM domain_dns d JOIN campaign_target t USING (campaign_id, target_id)
		JOIN campaign_batch b ON b.campaign_id = t.campaign_id AND b.batch_no = t.batch_no
		WHERE d.campaign_id = $cid")" "$ntargets 0"
expect_eq "targets without their MX question in dns_rrset" \
	"$(sql "SELECT count(*) FROM campaign_target t WHERE campaign_id = $cid AND NOT EXISTS
		(SELECT 1 FROM dns_rrset r WHERE r.campaign_id = $cid AND r.target_id = t.target_id
		    AND r.qname = t.domain AND r.qtype = 'MX')")" 0

# Both took part: each leased batches and stored results.
expect_eq "workers that leased batches" \
	"$(sql "SELECT string_agg(DISTINCT leased_by, ' ' ORDER BY leased_by) FROM campaign_batch WHERE campaign_id = $cid")" \
	"$(printf '%s\n' "$host/$pa" "$host/$pb" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "workers in the results" \
	"$(sql "SELECT count(DISTINCT worker) FROM domain_dns WHERE campaign_id = $cid")" 2
# Each tells the campaign's completion, not its own share: the one that
# read it last saw every target done (each reads once its own batches are
# stored), and neither counts more than the campaign holds.
done_of() { sed -n "s/^scan: campaign 'two': \([0-9]*\) of \([0-9]*\) domains done (.*every crawler)$/\1 \2/p" "$1"; }
read -r da ta <<<"$(done_of "$TEST_WORK/a.err")"
read -r db tb <<<"$(done_of "$TEST_WORK/b.err")"
expect_eq "campaign size told by A and B" "${ta:-?} ${tb:-?}" "$ntargets $ntargets"
expect_eq "campaign done told by the later of A and B" \
	"$(( ${da:-0} > ${db:-0} ? ${da:-0} : ${db:-0} ))" "$ntargets"
# "N batches stored, M dropped": every batch stored exactly once.
stored() { sed -n 's/.* \([0-9]*\) batches stored, .*/\1/p' "$1"; }
sa=$(stored "$TEST_WORK/a.err")
sb=$(stored "$TEST_WORK/b.err")
[ -n "$sa" ] && [ -n "$sb" ] || fail "no summary line"
[ "$sa" -gt 0 ] && [ "$sb" -gt 0 ] || fail "one crawler stored nothing (A $sa, B $sb)"
expect_eq "batches stored by A + B" "$((sa + sb))" "$nbatches"

"$MXCRAWL" export --campaign two --format jsonl >"$TEST_WORK/two.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" \
	"$TESTBED_TRUTH" "$TEST_WORK/two.jsonl" || fail "DNS facts differ from the truth"
echo PASS
