#!/usr/bin/env bash
# Endpoint claims across processes (issue M4: "each endpoint is probed once
# per campaign, across all workers and processes"):
#  1. two crawlers on one campaign whose domains share MX hosts: the SMTP
#     servers see exactly one connection per unique endpoint, and the
#     endpoints the two crawlers say they probed add up to that number;
#  2. a crawler killed while it holds claims it has not finished: the next
#     crawler takes those claims over when they expire and stores every
#     endpoint once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

# The population's MX hosts belong to a dozen providers, so most domains
# share endpoints; a banner delay keeps probes in flight long enough for
# both crawlers to want the same endpoints at once.
testbed_up --no-postfix --domains 600 --latency banner=0.2

host=$(hostname)
log=$TB/logs/mailserver.log
probed() { sed -n 's/.* \([0-9]*\) endpoints probed by this process.*/\1/p' "$1"; }
remote() { sed -n 's/.* \([0-9]*\) results taken from other crawlers.*/\1/p' "$1"; }
taken() { sed -n 's/.* \([0-9]*\) claims of stopped crawlers taken over.*/\1/p' "$1"; }

echo "== two crawlers share the endpoints"
expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign shared \
	--import-only --batch-size 20
cid=$(sql "SELECT id FROM campaign WHERE name = 'shared'")
log_before=$(wc -l <"$log")
# The endpoint deadline as the other scans of the testbed have it: the
# default 30 s, waited for by the scenarios that never end (smtp-tarpit),
# was most of each scan's time.
deadline=(--smtp-deadline 8000)
scan_args=(scan --campaign shared --resume "${allow_args[@]}"
	--concurrency 100 --rate 60 --lease 3 --progress 0 "${deadline[@]}")
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
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" done
expect_eq "workers in the results" \
	"$(sql "SELECT count(DISTINCT worker) FROM domain_dns WHERE campaign_id = $cid")" 2

unique=$(sql "SELECT count(DISTINCT (ip, port, sni)) FROM domain_endpoint WHERE campaign_id = $cid")
[ "$unique" -gt 0 ] || fail "no endpoints used"
expect_eq "endpoint rows = unique endpoints the domains use" \
	"$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")" "$unique"
expect_eq "handshake records = unique endpoints" \
	"$(sql "SELECT count(*) FROM handshake_record WHERE campaign_id = $cid")" "$unique"
# Port 25's claims (service 0); the client endpoints' are claimed beside
# them (test_scan_client_claims.sh).
expect_eq "port 25 claims: one per endpoint, all done, none taken over" \
	"$(sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE done) || ' ' || max(attempts)
		FROM endpoint_claim WHERE campaign_id = $cid AND service = 0")" "$unique $unique 1"
expect_eq "endpoints probed by A + B" "$(($(probed "$TEST_WORK/a.err") + $(probed "$TEST_WORK/b.err")))" "$unique"
# Results A used that B probed and the reverse: the claim table says who
# probed each endpoint; a crawler's domains used the other's endpoints.
expect_eq "endpoint rows by the claim holder" \
	"$(sql "SELECT count(*) FROM endpoint e JOIN endpoint_claim c USING (campaign_id, ip, port, sni)
		WHERE e.campaign_id = $cid AND c.service = 0 AND e.worker = c.worker")" "$unique"
expect_eq "endpoint holders" \
	"$(sql "SELECT string_agg(DISTINCT worker, ' ' ORDER BY worker) FROM endpoint WHERE campaign_id = $cid")" \
	"$(printf '%s\n' "$host/$pa" "$host/$pb" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
shared_uses=$(sql "SELECT count(*) FROM domain_endpoint de JOIN domain_dns d USING (campaign_id, target_id)
	JOIN endpoint e ON e.campaign_id = de.campaign_id AND e.ip = de.ip AND e.port = de.port AND e.sni = de.sni
	WHERE de.campaign_id = $cid AND d.worker <> e.worker")
[ "$shared_uses" -gt 0 ] || fail "no domain used an endpoint the other crawler probed"
[ "$(($(remote "$TEST_WORK/a.err") + $(remote "$TEST_WORK/b.err")))" -gt 0 ] ||
	fail "no result taken from the other crawler"

# The servers' own count: stopping them flushes their per-connection log.
# Every SMTP connection of the scan is one handshake attempt.
conns=$(smtp_connections_since "$log_before")
expect_eq "SMTP connections the servers saw = unique endpoints" "$conns" "$unique"

echo "== a killed crawler's claims are taken over"
testbed_up --no-postfix --domains 600 --latency banner=0.2
expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign takeover \
	--import-only --batch-size 20
cid=$(sql "SELECT id FROM campaign WHERE name = 'takeover'")
"$MXCRAWL" scan --campaign takeover --resume "${allow_args[@]}" \
	--concurrency 100 --lease 3 --progress 0 "${deadline[@]}" 2>"$TEST_WORK/k.err" &
pk=$!
CRAWLERS+=("$pk")
wid="$host/$pk"
held_open_claim() {
	[ "$(sql "SELECT count(*) FROM endpoint_claim WHERE campaign_id = $cid
		AND worker = '$wid' AND NOT done")" -gt 0 ]
}
poll_until 60 "the crawler to hold an unfinished claim" held_open_claim
kill -KILL "$pk"
wait "$pk" 2>/dev/null || true
open=$(sql "SELECT count(*) FROM endpoint_claim WHERE campaign_id = $cid AND worker = '$wid' AND NOT done")
[ "$open" -gt 0 ] || fail "the killed crawler held no unfinished claim"
rr=0
"$MXCRAWL" scan --campaign takeover --resume "${allow_args[@]}" \
	--concurrency 100 --lease 3 --progress 0 "${deadline[@]}" 2>"$TEST_WORK/r.err" || rr=$?
cat "$TEST_WORK/r.err"
expect_eq "exit status of the resumed crawler" "$rr" 0
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" done
unique=$(sql "SELECT count(DISTINCT (ip, port, sni)) FROM domain_endpoint WHERE campaign_id = $cid")
expect_eq "endpoint rows = unique endpoints the domains use" \
	"$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")" "$unique"
# Records are stored with their endpoint rows, so a crawler killed after
# storing an endpoint but before its domain's batch loses nothing.
expect_eq "handshake records = unique endpoints" \
	"$(sql "SELECT count(*) FROM handshake_record WHERE campaign_id = $cid")" "$unique"
expect_eq "claims left unfinished" \
	"$(sql "SELECT count(*) FROM endpoint_claim WHERE campaign_id = $cid AND NOT done")" 0
taken_over=$(sql "SELECT count(*) FROM endpoint_claim WHERE campaign_id = $cid AND attempts > 1")
[ "$taken_over" -gt 0 ] || fail "no claim was taken over"
expect_eq "claims taken over (summary line = claim table)" "$(taken "$TEST_WORK/r.err")" "$taken_over"
echo PASS
