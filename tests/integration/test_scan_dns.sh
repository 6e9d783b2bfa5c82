#!/usr/bin/env bash
# A whole scan against the testbed: every DNS, SMTP, TLS, certificate and
# DANE fact of every scenario equals the truth file (never the crawler's
# own output), the MX RRset's DNSSEC status agrees with delv, each target
# has exactly one result, every endpoint was handshaked once (counted at
# the test servers), nothing
# touched the recording address outside --allow-cidr, and a resolver that
# fails the canaries makes every DNSSEC status 'unknown', loudly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
# With the private Postfix: the `postfix` scenario is the interop case
# (a real smtpd with STARTTLS, a trusted certificate and DANE 3 1 1).
testbed_up

PY=/usr/bin/python3
ntargets=$(grep -c . "$TESTBED_TARGETS")
# The test SMTP server logs one line per connection (when it ends); the
# lines so far are the testbed's own readiness probes, finished before
# `up` went on to start Postfix.
ms_log=$TB/logs/mailserver.log
[ -f "$ms_log" ] || fail "no $ms_log"
ms_before=$(wc -l <"$ms_log")

"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign dns "${allow_args[@]}" \
	--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
	--record-dict-samples 100 \
	2>"$TEST_WORK/scan.err" ||
	{ cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
grep -q "DNSSEC validated" "$TEST_WORK/scan.err" || fail "canaries: $(cat "$TEST_WORK/scan.err")"
"$MXCRAWL" export --campaign dns --format jsonl >"$TEST_WORK/dns.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" --delv "$TB" --smtp \
	"$TESTBED_TRUTH" "$TEST_WORK/dns.jsonl" || fail "facts differ from the truth"

cid=$(sql "SELECT id FROM campaign WHERE name = 'dns'")
expect_eq "one result per target" \
	"$(sql "SELECT count(*) || '/' || count(DISTINCT target_id) FROM domain_dns WHERE campaign_id = $cid")" \
	"$ntargets/$ntargets"
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" done
expect_eq "interop with Postfix" "$(sql "SELECT e.outcome || ' ' || e.trusted || ' ' || m.dane FROM domain_mx m JOIN domain_dns d USING (campaign_id, target_id) JOIN domain_endpoint de USING (campaign_id, target_id, ordinal) JOIN endpoint e ON e.campaign_id = de.campaign_id AND e.ip = de.ip AND e.port = de.port AND e.sni = de.sni WHERE d.campaign_id = $cid AND d.domain = 'postfix.test'")" "starttls_ok true dane_ok"
# Endpoints are shared: each (ip, port, SNI) is handshaked once, however
# many domains use it (the testbed has MX hosts shared by domains); the
# connections are counted at the server at the end of this test.
# Handshake records: one per endpoint, zstd with a dictionary trained on
# the first 100, and export gives them back whole.
expect_eq "one handshake record per endpoint" \
	"$(sql "SELECT (SELECT count(*) FROM handshake_record WHERE campaign_id = $cid) = (SELECT count(*) FROM endpoint WHERE campaign_id = $cid)")" t
expect_eq "dictionaries trained" "$(sql "SELECT count(*) || ' ' || min(samples) FROM zstd_dict WHERE campaign_id = $cid")" "1 100"
expect_eq "records compressed with the dictionary" \
	"$(sql "SELECT count(*) > 0 FROM handshake_record WHERE campaign_id = $cid AND dict_id IS NOT NULL")" t
"$PY" - "$TEST_WORK/dns.jsonl" <<'EOF' || fail "handshake records in export"
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    eps = {(ep["ip"], ep["sni"]) for h in d["mx"] for ep in h.get("endpoints", [])}
    recs = d.get("handshake_records", [])
    assert None not in recs, d["domain"]
    got = {(r["ip"], r["sni"]) for r in recs}
    assert got == eps, (d["domain"], got, eps)
    for r in recs:
        assert r["v"] == 1 and "transcript" in r["smtp"], r
    n += len(recs)
print("ok: %d handshake records decompressed, one per endpoint use" % n)
EOF
nprobed=$(sed -n 's/.* \([0-9]*\) endpoints probed by this process.*/\1/p' "$TEST_WORK/scan.err")
expect_eq "handshakes per unique endpoint" "$nprobed" \
	"$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")"
# M7 item 6: a host whose AAAA lookup timed out while its A answered is
# probed on its A addresses and flagged partial, exactly where the truth
# says so (dns-aaaa-timeout); every other kept host is not.
want_partial=$("$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    t = json.loads(l)
    for h in t["mx"]:
        if h.get("kept") and h.get("addresses_partial"):
            print(t["domain"], h["host"])' "$TESTBED_TRUTH" | sort)
[ -n "$want_partial" ] || fail "the truth has no partial host"
expect_eq "hosts with a partial address outcome" \
	"$(sql "SELECT d.domain || ' ' || m.host FROM domain_mx m JOIN domain_dns d USING (campaign_id, target_id) WHERE m.campaign_id = $cid AND m.addresses_partial ORDER BY 1" | sort)" \
	"$want_partial"
expect_eq "kept hosts without addresses_partial" \
	"$(sql "SELECT count(*) FROM domain_mx WHERE campaign_id = $cid AND kept AND addresses_partial IS NULL")" 0
expect_eq "every RRset says what its DNSSEC status rests on" \
	"$(sql "SELECT count(*) FROM dns_rrset WHERE campaign_id = $cid AND dnssec_reason IS NULL")" 0
# M7 item 7: an MX target that looks like an address is looked up as a
# name (NXDOMAIN in the testbed) and never contacted (the listener on
# 127.53.1.99 records any connection, counted below).
expect_eq "IP-literal MX targets looked up as names" \
	"$(sql "SELECT string_agg(r.qname || ' ' || r.qtype || ' ' || r.rcode, ', ' ORDER BY r.qname, r.qtype) FROM dns_rrset r JOIN domain_mx m ON m.campaign_id = r.campaign_id AND m.target_id = r.target_id AND r.qname = m.host AND r.qtype IN ('A', 'AAAA') WHERE m.campaign_id = $cid AND m.ip_literal")" \
	"127.53.1.99 A NXDOMAIN, 127.53.1.99 AAAA NXDOMAIN, 192.0.2.1 A NXDOMAIN, 192.0.2.1 AAAA NXDOMAIN"
grep -q '127.53.1.99' "$TB/servers.json" || fail "127.53.1.99 is not a recording address"
conns=0
[ -f "$TESTBED_CONNECTIONS_LOG" ] && conns=$(wc -l <"$TESTBED_CONNECTIONS_LOG")
expect_eq "connections to the recording addresses (refused loopback, IP-literal MX targets)" "$conns" 0
expect_eq "refused address recorded" \
	"$(sql "SELECT count(*) > 0 FROM mx_address WHERE campaign_id = $cid AND address = '$TESTBED_FORBIDDEN_ADDR' AND verdict = 'reserved'")" t

# A resolver that does not validate (a second unbound, iterator only),
# scanned anyway with --allow-unvalidated: every DNSSEC fact becomes
# 'unknown', with a warning. Such a resolver answers bogus data as if it
# were fine, so the truth's domains with anything bogus (whose rcodes are
# a validator's) are left out of the comparison.
start_unvalidating_resolver
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign novalidate \
	"${allow_args[@]}" --resolver "$UNVALIDATING_RESOLVER" --allow-unvalidated \
	--progress 0 --no-smtp \
	2>"$TEST_WORK/scan2.err" || { cat "$TEST_WORK/scan2.err" >&2; fail "scan 2 failed"; }
grep -q "DOES NOT VALIDATE" "$TEST_WORK/scan2.err" || fail "no loud warning"
"$MXCRAWL" export --campaign novalidate --format jsonl >"$TEST_WORK/nv.jsonl"
"$PY" - "$TESTBED_TRUTH" "$TEST_WORK/nv.jsonl" "$TEST_WORK/truth-nv.jsonl" \
	"$TEST_WORK/export-nv.jsonl" <<'EOF'
import json, sys
keep = set()
with open(sys.argv[3], "w") as out:
    for l in open(sys.argv[1]):
        if '"bogus"' not in l:
            out.write(l)
            keep.add(json.loads(l)["domain"])
with open(sys.argv[4], "w") as out:
    for l in open(sys.argv[2]):
        if json.loads(l)["domain"] in keep:
            out.write(l)
print("non-validating: %d domains without anything bogus compared" % len(keep))
EOF
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" --validating no \
	"$TEST_WORK/truth-nv.jsonl" "$TEST_WORK/export-nv.jsonl" || fail "non-validating facts differ"
expect_eq "no DNSSEC status but unknown" \
	"$(sql "SELECT count(*) FROM dns_rrset r JOIN campaign c ON c.id = r.campaign_id WHERE c.name = 'novalidate' AND dnssec <> 'unknown'")" 0
# A validating resolver that sends no Extended DNS Errors: a validation
# failure is a bare SERVFAIL, bogus only by the repeated SERVFAIL (M7
# item 6); every DNS fact must still equal the truth.
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign noede \
	--resolver "$TESTBED_RESOLVER_NOEDE" "${allow_args[@]}" --progress 0 --no-smtp \
	2>"$TEST_WORK/scan-noede.err" || { cat "$TEST_WORK/scan-noede.err" >&2; fail "scan without EDE failed"; }
grep -q "DNSSEC validated" "$TEST_WORK/scan-noede.err" || fail "canaries without EDE: $(cat "$TEST_WORK/scan-noede.err")"
"$MXCRAWL" export --campaign noede --format jsonl >"$TEST_WORK/noede.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" --no-ede \
	"$TESTBED_TRUTH" "$TEST_WORK/noede.jsonl" || fail "facts without EDE differ from the truth"
expect_eq "bogus RRsets without EDE rest on a repeated SERVFAIL" \
	"$(sql "SELECT string_agg(DISTINCT r.dnssec_reason, ',') FROM dns_rrset r JOIN campaign c ON c.id = r.campaign_id WHERE c.name = 'noede' AND r.dnssec = 'bogus'")" \
	servfail_repeated
# The blocklist is honoured before any packet: a blocklisted domain is not
# even asked about, and a blocklisted MX address is recorded, not used.
blocked_domain=$(sed -n 1p "$TESTBED_TARGETS")
other_domain=$(sed -n 2p "$TESTBED_TARGETS")
other_addr=$("$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    t = json.loads(l)
    if t["domain"] == sys.argv[2]:
        print(t["mx"][0]["a"]["addresses"][0])' "$TESTBED_TRUTH" "$other_domain")
printf '%s\n%s\n' "$blocked_domain" "$other_domain" >"$TEST_WORK/two.txt"
printf '# test blocklist\n%s\n%s/32\n' "$blocked_domain" "$other_addr" >"$TEST_WORK/block.txt"
"$MXCRAWL" scan --targets "$TEST_WORK/two.txt" --campaign blocked "${allow_args[@]}" \
	--blocklist "$TEST_WORK/block.txt" --progress 0 --no-smtp 2>"$TEST_WORK/scan3.err" ||
	{ cat "$TEST_WORK/scan3.err" >&2; fail "scan 3 failed"; }
bid=$(sql "SELECT id FROM campaign WHERE name = 'blocked'")
expect_eq "blocklisted domain" "$(sql "SELECT mx_outcome || ' ' || dns_queries FROM domain_dns WHERE campaign_id = $bid AND domain = '$blocked_domain'")" "blocklisted 0"
expect_eq "no question asked for it" "$(sql "SELECT count(*) FROM dns_rrset r JOIN domain_dns d USING (campaign_id, target_id) WHERE r.campaign_id = $bid AND d.domain = '$blocked_domain'")" 0
expect_eq "blocklisted address" "$(sql "SELECT verdict FROM mx_address WHERE campaign_id = $bid AND address = '$other_addr'")" blocklist

# Each endpoint was probed once (one SMTP connection per (ip, port, SNI)
# of the campaign, none twice, none without a stored endpoint), counted
# at the test server. Its log line is written when a connection ends, so
# the server is stopped first (it logs the connections it cancels): then
# the log is complete. The scans after the first ran --no-smtp.
"$MXCRAWL_SRC/tests/testbed/down" "$TB" >/dev/null 2>&1
at_server=$(tail -n +"$((ms_before + 1))" "$ms_log" | "$PY" -c 'import collections, json, sys
n = collections.Counter()
for line in sys.stdin:
    _, _, rest = line.partition(" ")
    if rest.startswith("{"):
        c = json.loads(rest)
        if c["port"] == 25:
            n[c["addr"]] += 1
for a in n:
    print(a, n[a])' | LC_ALL=C sort)
stored=$(sql "SELECT host(ip) || ' ' || count(*) FROM endpoint WHERE campaign_id = $cid AND port = 25 GROUP BY ip" | LC_ALL=C sort)
[ -n "$stored" ] || fail "no endpoint stored"
[ "$at_server" = "$stored" ] || fail "SMTP connections per address at the test server (>) differ from the stored endpoints (<): $(diff <(echo "$stored") <(echo "$at_server") | head -20)"
echo "ok: $(echo "$stored" | wc -l) addresses, $(echo "$at_server" | awk '{n += $2} END {print n}') SMTP connections at the test server, one per stored endpoint"
echo PASS
