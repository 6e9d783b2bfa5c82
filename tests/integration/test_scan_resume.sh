#!/usr/bin/env bash
# kill -9 at five random points, then --resume to the end (issue M3): every
# target has exactly one result and none is missing; no batch is left half
# written after a kill; batches completed before a kill are never redone
# (their rows and results are unchanged at the end); the batches a killed
# crawler held are redone by a later run (attempts > 1); the final export
# equals the testbed's truth, SMTP and TLS facts included (issue M11: the
# claims thread's recovery runs too); the test servers saw each endpoint
# handshaked once, apart from endpoints a killed crawler had claimed and
# not stored (taken over, at most one more handshake each).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

# Crawlers started here; stopped by PID on any exit, before the cluster.

# 1200 generated domains: they include MTA-STS policies that leave out
# MX hosts without STARTTLS or trust (d0000477, d0000549, d0001105), which
# the export once typed wrongly.
testbed_up --no-postfix --domains 1200

PY=/usr/bin/python3
ntargets=$(grep -c . "$TESTBED_TARGETS")
host=$(hostname)
log=$TB/logs/mailserver.log
log_before=$(wc -l <"$log")

expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign resume \
	--import-only --batch-size 15
cid=$(sql "SELECT id FROM campaign WHERE name = 'resume'")
nbatches=$(sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid")
echo "campaign $cid: $ntargets targets in $nbatches batches"

# The rate stretches the scan over several seconds, so that the kills land
# in its middle; a short lease lets a killed crawler's batches come back
# quickly. The endpoint deadline is the other testbed scans' (with the
# default 30 s, the scenarios that never end held up the end of a run).
scan_args=(scan --campaign resume --resume "${allow_args[@]}"
	--concurrency 50 --rate 80 --lease 3 --progress 0 --smtp-deadline 8000)
# The run to the end is killed by no one: no cap, a wider window (at the
# cap it could not take less than 15 s).
final_args=(scan --campaign resume --resume "${allow_args[@]}"
	--concurrency 200 --lease 3 --progress 0 --smtp-deadline 8000)

done_batches() {
	sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid AND done_at IS NOT NULL"
}

# Every batch holds either all its results (done) or none (not done):
# results and completion commit together.
check_batches_whole() {
	expect_eq "$1: batches neither half written nor done without results" \
		"$(sql "SELECT count(*) FROM campaign_batch b
			 WHERE b.campaign_id = $cid
			   AND (SELECT count(*) FROM domain_dns d
				  JOIN campaign_target t USING (campaign_id, target_id)
				 WHERE d.campaign_id = $cid AND t.batch_no = b.batch_no)
			       <> CASE WHEN b.done_at IS NULL THEN 0 ELSE b.targets END")" 0
}

: >"$TEST_WORK/done_before"
: >"$TEST_WORK/results_before"
: >"$TEST_WORK/abandoned"
for round in 1 2 3 4 5; do
	before=$(done_batches)
	# 0: kill as soon as it holds a lease; else after 1-4 more batches.
	want=$((before + RANDOM % 5))
	"$MXCRAWL" "${scan_args[@]}" 2>"$TEST_WORK/round$round.err" &
	pid=$!
	CRAWLERS+=("$pid")
	wid="$host/$pid"
	# The kill point: enough batches done, and this crawler holds an
	# unexpired lease on an unfinished batch (so there is work to lose).
	kill_point() {
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$TEST_WORK/round$round.err" >&2
			fail "round $round: the crawler exited before the kill point"
		fi
		[ "$(sql "SELECT count(*) FILTER (WHERE done_at IS NOT NULL) >= $want
			       AND count(*) FILTER (WHERE done_at IS NULL AND leased_by = '$wid'
						    AND lease_expires > clock_timestamp()) > 0
			  FROM campaign_batch WHERE campaign_id = $cid")" = t ]
	}
	poll_until 60 "round $round: the kill point" kill_point
	kill -KILL "$pid"
	rc=0
	wait "$pid" || rc=$?
	expect_eq "round $round: crawler killed by SIGKILL" "$rc" 137
	# Its database session ends when the server sees the socket closed;
	# until then a COMMIT it sent may still land. Wait for that.
	session_gone() {
		[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mxcrawl-store'")" = 0 ]
	}
	poll_until 30 "round $round: the killed crawler's session to end" session_gone
	check_batches_whole "round $round"
	sql "SELECT batch_no, done_at, attempts, leased_by FROM campaign_batch
	      WHERE campaign_id = $cid AND done_at IS NOT NULL" >>"$TEST_WORK/done_before"
	sql "SELECT target_id, worker, scanned_at FROM domain_dns
	      WHERE campaign_id = $cid" >>"$TEST_WORK/results_before"
	held=$(sql "SELECT string_agg(batch_no::text, ' ') FROM campaign_batch
		     WHERE campaign_id = $cid AND done_at IS NULL AND leased_by = '$wid'")
	for b in $held; do echo "$b $wid" >>"$TEST_WORK/abandoned"; done
	echo "round $round: killed $pid with $(done_batches)/$nbatches batches done (asked for >= $want); it held: ${held:-nothing}"
done

expect_rc 0 "$MXCRAWL" "${final_args[@]}"
grep -q "DNSSEC validated" "$TEST_WORK/err" || fail "final run: $(cat "$TEST_WORK/err")"
cat "$TEST_WORK/err"

expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
expect_eq "unfinished batches" \
	"$(sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid AND done_at IS NULL")" 0
check_batches_whole final
# (The primary keys forbid two results per target or two answers per
# question; what can go wrong is a missing or wrong result: compared with
# the truth below, domain by domain.)
expect_eq "results / targets" \
	"$(sql "SELECT count(*) FROM domain_dns WHERE campaign_id = $cid")/$(sql "SELECT targets FROM campaign WHERE id = $cid")" \
	"$ntargets/$ntargets"
expect_eq "targets without a result" \
	"$(sql "SELECT count(*) FROM campaign_target t WHERE campaign_id = $cid AND NOT EXISTS
		(SELECT 1 FROM domain_dns d WHERE d.campaign_id = $cid AND d.target_id = t.target_id)")" 0
expect_eq "targets without their MX question in dns_rrset" \
	"$(sql "SELECT count(*) FROM campaign_target t WHERE campaign_id = $cid AND NOT EXISTS
		(SELECT 1 FROM dns_rrset r WHERE r.campaign_id = $cid AND r.target_id = t.target_id
		    AND r.qname = t.domain AND r.qtype = 'MX')")" 0
expect_eq "dns_rrset rows of targets without a result" \
	"$(sql "SELECT count(*) FROM dns_rrset r WHERE campaign_id = $cid AND NOT EXISTS
		(SELECT 1 FROM domain_dns d WHERE d.campaign_id = $cid AND d.target_id = r.target_id)")" 0

# Batches done before a kill: same row (done_at, attempts, leaser) and the
# same results (worker, scan time) at the end, i.e. never redone.
sql "SELECT batch_no, done_at, attempts, leased_by FROM campaign_batch
      WHERE campaign_id = $cid" | sort >"$TEST_WORK/done_after"
sort -u "$TEST_WORK/done_before" >"$TEST_WORK/done_before.s"
changed=$(comm -23 "$TEST_WORK/done_before.s" "$TEST_WORK/done_after" | head -5)
[ -z "$changed" ] || fail "batches done before a kill changed afterwards: $changed"
echo "ok: $(wc -l <"$TEST_WORK/done_before.s") batches done before a kill, all unchanged"
sql "SELECT target_id, worker, scanned_at FROM domain_dns WHERE campaign_id = $cid" |
	sort >"$TEST_WORK/results_after"
sort -u "$TEST_WORK/results_before" >"$TEST_WORK/results_before.s"
changed=$(comm -23 "$TEST_WORK/results_before.s" "$TEST_WORK/results_after" | head -5)
[ -z "$changed" ] || fail "results stored before a kill changed afterwards: $changed"
echo "ok: $(wc -l <"$TEST_WORK/results_before.s") results stored before a kill, all unchanged"

# The batches a killed crawler held were redone, by someone else.
[ -s "$TEST_WORK/abandoned" ] || fail "no killed crawler held a batch"
while read -r b wid; do
	expect_eq "batch $b (held by killed $wid) redone by another crawler" \
		"$(sql "SELECT done_at IS NOT NULL AND attempts > 1 AND leased_by <> '$wid'
			 FROM campaign_batch WHERE campaign_id = $cid AND batch_no = $b")" t
done <"$TEST_WORK/abandoned"
expect_eq "some batch leased more than once" \
	"$(sql "SELECT count(*) > 0 FROM campaign_batch WHERE campaign_id = $cid AND attempts > 1")" t

# Every truth domain exactly once, with its DNS, SMTP, TLS, certificate,
# DANE and MTA-STS facts.
"$MXCRAWL" export --campaign resume --format jsonl >"$TEST_WORK/resume.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" --smtp \
	"$TESTBED_TRUTH" "$TEST_WORK/resume.jsonl" || fail "facts differ from the truth"

# Endpoints: every one the domains use stored, every claim done; the
# servers' own count (stopping them flushes their connection log) is one
# handshake per endpoint, plus at most one per takeover of a claim a
# killed crawler held unfinished (a claim may be taken over twice).
unique=$(sql "SELECT count(DISTINCT (ip, port, sni)) FROM domain_endpoint WHERE campaign_id = $cid")
[ "$unique" -gt 0 ] || fail "no endpoint used"
expect_eq "endpoint rows = endpoints the domains use" \
	"$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")" "$unique"
expect_eq "claims left unfinished" \
	"$(sql "SELECT count(*) FROM endpoint_claim WHERE campaign_id = $cid AND NOT done")" 0
# Port 25's claims (service 0), as the SMTP connections counted below.
taken=$(sql "SELECT coalesce(sum(attempts - 1), 0) FROM endpoint_claim WHERE campaign_id = $cid AND service = 0")
conns=$(smtp_connections_since "$log_before")
echo "SMTP connections $conns, endpoints $unique, claims taken over $taken"
[ "$conns" -ge "$unique" ] && [ "$conns" -le $((unique + taken)) ] ||
	fail "SMTP connections $conns, want $unique + at most $taken"
echo PASS
