#!/usr/bin/env bash
# M12 item 1, discovery of the mail client services: a testbed scan stores,
# for every domain and each of the six services, the SRV RRset (rcode,
# DNSSEC status, offered true/false/null, records sorted and capped) and,
# per record with a host, the target's addresses through the address
# policy and TLSA where the path is secure (RFC 7673 §3) — equal to the
# truth file's `client.<service>.srv` and `targets[]`, which the testbed
# computes from its scenario definitions (compare_client_srv.py, over the
# export, which reads the stored rows). Also:
# - `--client-ports none` asks no SRV question and stores no client row;
#   the questions per domain differ by exactly six where no SRV record
#   exists (the cost, printed for the notes);
# - an unknown `--client-ports` mode is refused (exit 64); mx is
#   test_client_ports.sh's;
# - the run's provenance names the client-ports mode;
# - the report's "Mail client ports" section counts what the rows say;
# - with the SMTP stage on, the client endpoints contacted are exactly
#   those probed and stored (client_endpoint, schema/029: each once),
#   counted at the server.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3
T=$TESTBED_TARGETS
scan=("$MXCRAWL" scan --targets "$T" "${allow_args[@]}" --progress 0
	--workers 2 --concurrency 200)
ms_log=$TB/logs/mailserver.log
[ -f "$ms_log" ] || fail "no $ms_log"

echo "== an unknown --client-ports mode is refused"
expect_rc 64 "${scan[@]}" --campaign all --client-ports all --no-smtp
grep -q "'all' is not none, srv or mx" "$TEST_WORK/err" ||
	fail "why 'all' is refused: $(cat "$TEST_WORK/err")"

echo "== a scan with SRV discovery (the default), SMTP stage on"
ms_before=$(wc -l <"$ms_log")
"${scan[@]}" --campaign srv --smtp-deadline 8000 2>"$TEST_WORK/scan.err" ||
	{ cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
cid=$(sql "SELECT id FROM campaign WHERE name = 'srv'")
# The server logs one JSON line per connection when its side of it
# ends, which may be just after the scan's side: the connections per
# client (address, port) must come to the probes stored there (M12 items
# 2-3: each (ip, port, sni, service) once).
client_conns() {
	"$PY" - "$TESTBED_SERVERS" <(tail -n +"$((ms_before + 1))" "$ms_log") <<'PYEOF' | LC_ALL=C sort
import json, sys
from collections import Counter
client = {(e["addr"], e["port"]) for e in json.load(open(sys.argv[1])).get("client", [])}
assert client, "servers.json has no client entry"
n = Counter()
for line in open(sys.argv[2]):
    j = line.find("{")
    if j < 0:
        continue
    try:
        c = json.loads(line[j:])
    except ValueError:
        continue
    if (c.get("addr"), c.get("port")) in client:
        n[(c["addr"], c["port"])] += 1
for (a, p), k in n.items():
    print(a, p, k)
PYEOF
}
probes=$(sql "SELECT host(ip) || ' ' || port || ' ' || count(*) FROM client_endpoint
	          WHERE campaign_id = $cid GROUP BY ip, port" | LC_ALL=C sort)
[ -n "$probes" ] || fail "no client endpoint probed"
conns_are_probes() { [ "$(client_conns)" = "$probes" ]; }
poll_until 30 "connections to client endpoints = stored probes" conns_are_probes
echo "ok: connections to client endpoints = stored probes ($(echo "$probes" | wc -l) (address, port))"
"$MXCRAWL" export --campaign srv --format jsonl >"$TEST_WORK/srv.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_client_srv.py" \
	"$TESTBED_TRUTH" "$TEST_WORK/srv.jsonl" || fail "client SRV facts differ from the truth"
expect_eq "provenance: client ports" \
	"$(sql "SELECT provenance -> 'options' ->> 'client_ports' FROM campaign_run WHERE campaign_id = $cid")" srv
# Every SRV answer is also a dns_rrset row like every question; the
# records there are in presentation form.
expect_eq "SRV answers in dns_rrset" \
	"$(sql "SELECT count(*) FROM dns_rrset WHERE campaign_id = $cid AND qtype = 'SRV'")" \
	"$(sql "SELECT count(*) FROM client_srv WHERE campaign_id = $cid")"
expect_eq "six services per recorded domain" \
	"$(sql "SELECT count(*) FROM client_srv WHERE campaign_id = $cid")" \
	"$(sql "SELECT 6 * count(*) FROM domain_dns WHERE campaign_id = $cid AND mx_outcome NOT IN ('blocklisted', 'not_recorded')")"

# With the SMTP stage on too: it asks the MTA-STS policy host's
# addresses, which a DNS-only scan does not.
echo "== the same targets without client ports"
"${scan[@]}" --campaign none --client-ports none --smtp-deadline 8000 2>"$TEST_WORK/none.err" ||
	{ cat "$TEST_WORK/none.err" >&2; fail "scan --client-ports none failed"; }
nid=$(sql "SELECT id FROM campaign WHERE name = 'none'")
expect_eq "no client rows with --client-ports none" \
	"$(sql "SELECT (SELECT count(*) FROM client_srv WHERE campaign_id = $nid) + (SELECT count(*) FROM client_srv_target WHERE campaign_id = $nid) + (SELECT count(*) FROM dns_rrset WHERE campaign_id = $nid AND qtype = 'SRV')")" 0
expect_eq "provenance: no client ports" \
	"$(sql "SELECT provenance -> 'options' ->> 'client_ports' FROM campaign_run WHERE campaign_id = $nid")" none
# Where no SRV record exists (every service 'none'), the cost is exactly
# the six questions; domains with SRV records ask their targets too.
expect_eq "six more questions where nothing is advertised" \
	"$(sql "SELECT count(*) FILTER (WHERE s.dns_queries - n.dns_queries <> 6) || ' of ' || count(*)
	          FROM domain_dns s JOIN domain_dns n ON n.campaign_id = $nid AND n.domain = s.domain
	         WHERE s.campaign_id = $cid AND s.mx_outcome NOT IN ('blocklisted', 'not_recorded')
	           AND NOT EXISTS (SELECT 1 FROM client_srv c WHERE c.campaign_id = s.campaign_id
	                              AND c.target_id = s.target_id AND c.srv <> 'none')")" \
	"0 of $(sql "SELECT count(*) FROM domain_dns s WHERE s.campaign_id = $cid AND s.mx_outcome NOT IN ('blocklisted', 'not_recorded') AND NOT EXISTS (SELECT 1 FROM client_srv c WHERE c.campaign_id = s.campaign_id AND c.target_id = s.target_id AND c.srv <> 'none')")"
echo "DNS questions per domain (all targets, uptime: $(uptime | sed 's/.*load/load/')):"
sql "SELECT c.name || ': ' || round(avg(d.dns_queries), 2) || ' per domain, ' || sum(d.dns_queries) || ' for ' || count(*) || ' domains'
       FROM domain_dns d JOIN campaign c ON c.id = d.campaign_id
      WHERE d.campaign_id IN ($cid, $nid) GROUP BY c.name ORDER BY c.name"

echo "== the report's Mail client ports section"
"$MXCRAWL" report --campaign srv --format json >"$TEST_WORK/report.json"
"$MXCRAWL" report --campaign srv >"$TEST_WORK/report.txt"
sed -n '/^Mail client ports/,/^Change since\|^How this was measured/p' "$TEST_WORK/report.txt" \
	>"$TEST_WORK/section.txt"
grep -q "imaps: offered" "$TEST_WORK/section.txt" || fail "no Mail client ports section in the text report"
cat "$TEST_WORK/section.txt"
"$PY" - "$TESTBED_TRUTH" "$TEST_WORK/report.json" <<'PYEOF' || fail "report figures differ from the truth"
import json, sys
truth = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rep = json.load(open(sys.argv[2]))
figs = rep["figures"]
rows = {}
for f in figs:
    for r in f["rows"]:
        rows[(f["name"], r["label"])] = r
        rows[(f["name"], r["scope"], r["label"])] = r
bad = []
for svc in ("submissions", "submission", "imaps", "imap", "pop3s", "pop3"):
    srv = [t["client"][svc]["srv"] for t in truth if "client" in t]
    want = sum(s["offered"] is True for s in srv)
    r = rows.get(("client_srv_offered", svc + ": offered"))
    if r is None or r["numerator"] != want:
        bad.append("%s offered: report %r, truth %d" % (svc, r and r["numerator"], want))
    want = sum(s["offered"] is False for s in srv)
    r = rows.get(("client_srv_offered", svc + ': not offered (".")'))
    if r is None or r["numerator"] != want:
        bad.append("%s not offered: report %r, truth %d" % (svc, r and r["numerator"], want))
    has = [s for s in srv if s["offered"] is not None]
    r = rows.get(("client_srv_dnssec", svc, "secure"))
    if has:
        want = (sum(s["dnssec"] == "secure" for s in has), len(has))
        if r is None or (r["numerator"], r["denominator"]) != want:
            bad.append("%s secure: report %r, truth %r" % (
                svc, r and (r["numerator"], r["denominator"]), want))
for b in bad:
    print(b)
print("report: %d client figures checked, %d differ" % (18, len(bad)))
sys.exit(1 if bad else 0)
PYEOF
echo "ok"
