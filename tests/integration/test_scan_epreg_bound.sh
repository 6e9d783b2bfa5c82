#!/usr/bin/env bash
# The endpoint registry's bound (issue M10, item 3; crawler/scan/epreg.h):
# with --endpoint-cache 1 (1 KiB, less than the registry's own table) every
# endpoint result is dropped as soon as no domain in flight holds it, so a
# later domain on a provider's MX host (most of the population shares
# them) finds its endpoint gone. Wanted, as without a bound: its result is
# read back from the stored endpoint row and chain (the claim is done),
# never probed again — the SMTP servers see exactly one connection per
# unique endpoint, the crawler says it probed that many — and every
# domain's SMTP, certificate and DANE facts equal the truth (the scenario
# definitions), including the dane-shared-* domains, which judge one
# endpoint's chain with their own TLSA records.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

testbed_up --no-postfix --domains 300

host=$(hostname)
log=$TB/logs/mailserver.log
probed() { sed -n 's/.* \([0-9]*\) endpoints probed by this process.*/\1/p' "$1"; }
remote() { sed -n 's/.* \([0-9]*\) results taken from other crawlers.*/\1/p' "$1"; }
dropped() { sed -n 's/.* \([0-9]*\) endpoint results dropped past.*/\1/p' "$1"; }
read_back() { sed -n 's/.* \([0-9]*\) read back from their stored rows.*/\1/p' "$1"; }

expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign bound \
	--import-only --batch-size 20
cid=$(sql "SELECT id FROM campaign WHERE name = 'bound'")
log_before=$(wc -l <"$log")
rc=0
"$MXCRAWL" scan --campaign bound --resume "${allow_args[@]}" \
	--concurrency 20 --smtp-deadline 8000 --progress 0 \
	--endpoint-cache 1 2>"$TEST_WORK/scan.err" || rc=$?
cat "$TEST_WORK/scan.err"
expect_eq "scan exit status" "$rc" 0
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" done

unique=$(sql "SELECT count(DISTINCT (ip, port, sni)) FROM domain_endpoint WHERE campaign_id = $cid")
uses=$(sql "SELECT count(*) FROM domain_endpoint WHERE campaign_id = $cid")
[ "$unique" -gt 0 ] || fail "no endpoints used"
[ "$uses" -gt "$unique" ] || fail "no endpoint shared by domains ($uses uses, $unique endpoints)"
n_dropped=$(dropped "$TEST_WORK/scan.err")
n_back=$(read_back "$TEST_WORK/scan.err")
[ -n "$n_dropped" ] && [ "$n_dropped" -gt 0 ] || fail "no result dropped past the bound"
[ -n "$n_back" ] && [ "$n_back" -gt 0 ] || fail "no dropped result read back"
[ "$n_back" -le "$n_dropped" ] || fail "read back $n_back, more than the $n_dropped dropped"
# One crawler: nothing came from another one.
expect_eq "results taken from other crawlers" "$(remote "$TEST_WORK/scan.err")" 0
echo "dropped $n_dropped, read back $n_back, $unique endpoints, $uses uses"

expect_eq "endpoints probed = unique endpoints the domains use" \
	"$(probed "$TEST_WORK/scan.err")" "$unique"
expect_eq "endpoint rows = unique endpoints" \
	"$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")" "$unique"
expect_eq "handshake records = unique endpoints" \
	"$(sql "SELECT count(*) FROM handshake_record WHERE campaign_id = $cid")" "$unique"
expect_eq "port 25 claims: one per endpoint, all done, none taken again" \
	"$(sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE done) || ' ' || max(attempts)
		FROM endpoint_claim WHERE campaign_id = $cid AND service = 0 AND worker LIKE '$host/%'")" \
	"$unique $unique 1"
expect_eq "domains whose endpoint has no row" \
	"$(sql "SELECT count(DISTINCT target_id) FROM domain_endpoint de WHERE campaign_id = $cid
		 AND NOT EXISTS (SELECT 1 FROM endpoint e WHERE e.campaign_id = $cid
		     AND e.ip = de.ip AND e.port = de.port AND e.sni IS NOT DISTINCT FROM de.sni)")" 0

# The certificate cache (crawler/verify/certcache.h) holds every certificate
# stored (each row is made through it), with room to spare at this size:
# the summary's figures are the cache's own, the count is the database's.
cache=$(grep '^scan: certificate cache: ' "$TEST_WORK/scan.err") ||
	fail "no certificate cache line in the summary"
held=$(sed -n 's/.* cache: \([0-9]*\) certificates held.*/\1/p' <<<"$cache")
evicted=$(sed -n 's/.*), \([0-9]*\) evicted;.*/\1/p' <<<"$cache")
parsed=$(sed -n 's/.* \([0-9]*\) certificates parsed again.*/\1/p' <<<"$cache")
made=$(sed -n 's/.* \([0-9]*\) made$/\1/p' <<<"$cache")
stored_certs=$(sql "SELECT count(*) FROM certificate")
expect_eq "certificates evicted from the cache" "$evicted" 0
[ "$stored_certs" -gt 0 ] || fail "no certificate stored"
[ "$held" -ge "$stored_certs" ] ||
	fail "cache holds $held certificates, $stored_certs were stored"
# libssl parsed each presented certificate; with nothing evicted the
# crawler never parses one again from its DER.
expect_eq "certificates parsed again from DER" "$parsed" 0
[ "$made" -gt 0 ] || fail "no chain judgement made"

# The servers' own count: stopping them flushes their per-connection log.
conns=$(smtp_connections_since "$log_before")
expect_eq "SMTP connections the servers saw = unique endpoints" "$conns" "$unique"

"$MXCRAWL" export --campaign bound --format jsonl >"$TEST_WORK/bound.jsonl"
/usr/bin/python3 "$MXCRAWL_SRC/tests/integration/compare_dns.py" --smtp \
	"$TESTBED_TRUTH" "$TEST_WORK/bound.jsonl" || fail "facts differ from the truth"
echo PASS
