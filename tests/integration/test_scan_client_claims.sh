#!/usr/bin/env bash
# Client endpoints are claimed across crawler processes like port 25's:
# two crawlers scan one campaign of the testbed's client-port scenarios
# (cp-*), plus six more domains naming cp-shared-a's imaps host, so that
# nine domains, in batches of one, spread over both crawlers name one
# endpoint. The test servers' own connection log must show every
# contacted client endpoint (address, port; one per service and SNI at
# it) connected to exactly once across both processes, and the stored
# client facts must equal the truth (compare_client.py): the crawler
# that lost a claim builds its domains' results from the winner's stored
# row and chain.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

PY=/usr/bin/python3
cat >"$TEST_WORK/cp.py" <<'PYEOF'
import scenarios
from scenarios import S, SRV
SCENARIOS = [s for s in scenarios.SCENARIOS if s["name"].startswith("cp-")] + [
    S("cp-claims-%d" % n, "Client ports: one more domain naming cp-shared-a's imaps host",
      client=SRV("imaps", target="mail.cp-shared-a.test."))
    for n in range(1, 7)]
PYEOF
testbed_up --no-postfix --scenarios "$TEST_WORK/cp.py"
log=$TB/logs/mailserver.log
log_before=$(wc -l <"$log")

expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign cc \
	--import-only --batch-size 1
cid=$(sql "SELECT id FROM campaign WHERE name = 'cc'")
# Rate-limited, so that both crawlers take batches all along.
scan_args=(scan --campaign cc --resume "${allow_args[@]}" --workers 1
	--concurrency 20 --rate 12 --progress 0 --smtp-deadline 8000)
"$MXCRAWL" "${scan_args[@]}" 2>"$TEST_WORK/a.err" &
pa=$!
CRAWLERS+=("$pa")
"$MXCRAWL" "${scan_args[@]}" 2>"$TEST_WORK/b.err" &
pb=$!
CRAWLERS+=("$pb")
ra=0 rb=0
wait "$pa" || ra=$?
wait "$pb" || rb=$?
expect_eq "exit status of crawlers A and B" "$ra $rb" "0 0"
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" done
expect_eq "workers in the results" \
	"$(sql "SELECT count(DISTINCT worker) FROM domain_dns WHERE campaign_id = $cid")" 2

echo "== client endpoint facts against the truth"
client_facts_vs_truth "$cid"

echo "== one claim, one row, one probe per client endpoint"
# The shared endpoint's domains were scanned by both crawlers, so one of
# them took its result from the other.
expect_eq "crawlers whose domains name the shared endpoint" \
	"$(sql "SELECT count(DISTINCT d.worker) FROM domain_client_endpoint de
	          JOIN domain_dns d USING (campaign_id, target_id)
	         WHERE de.campaign_id = $cid AND de.sni = 'mail.cp-shared-a.test'")" 2
"$MXCRAWL_SRC/tests/testbed/down" "$TB" >/dev/null
# The truth's contacted client endpoints, per (address, port): how many
# (service, SNI) are probed there; the server's log: how many connections
# each (address, port) got.
tail -n +"$((log_before + 1))" "$log" >"$TEST_WORK/conns.log"
"$PY" - "$TESTBED_TRUTH" "$TEST_WORK/conns.log" <<'PYEOF' || fail "client endpoints not connected to exactly once"
import json, sys
from collections import Counter
want = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    for svc, c in d.get("client", {}).items():
        for t in c.get("targets", []):
            for e in t.get("endpoints", []):
                if e.get("contact"):
                    want.setdefault((e["ip"], e["port"]), set()).add((svc, t["host"]))
seen = Counter()
for line in open(sys.argv[2]):
    try:
        c = json.loads(line[line.index("{"):])
    except ValueError:
        continue
    if (c.get("addr"), c.get("port")) in want:
        seen[(c["addr"], c["port"])] += 1
bad = ["%s:%d: %d connections, want %d" % (k[0], k[1], seen[k], len(v))
       for k, v in sorted(want.items()) if seen[k] != len(v)]
for b in bad:
    print(b)
print("client endpoints: %d addresses and ports, %d connected to other than once"
      % (len(want), len(bad)))
sys.exit(1 if bad or not want else 0)
PYEOF
expect_eq "client claims: all done, none taken over, one per row" \
	"$(sql "SELECT count(*) FILTER (WHERE done) || ' ' || max(attempts) || ' ' || count(*)
	          FROM endpoint_claim WHERE campaign_id = $cid AND service <> 0")" \
	"$(sql "SELECT count(*) FROM client_endpoint WHERE campaign_id = $cid") 1 $(sql "SELECT count(*) FROM client_endpoint WHERE campaign_id = $cid")"
echo PASS
