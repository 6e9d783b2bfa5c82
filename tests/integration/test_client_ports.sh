#!/usr/bin/env bash
# M12 items 2-3, the client endpoint probes: a testbed scan probes every
# contactable address of every SRV target with the service's protocol
# (SMTP, IMAP, POP3; implicit TLS or STARTTLS by the service, never by the
# port), judges the chain as port 25 (trust, causes, names against the SRV
# target and the domain) and DANE by RFC 7673, and stores client_endpoint
# and domain_client_endpoint rows (schema/029) equal to the truth file's
# `client.<service>.targets[]` (`dane`, and per endpoint `probe` and
# `cert`), which the testbed computes from its scenario definitions
# (compare_client.py). Also: an endpoint named by three domains' SRV
# records (cp-shared-a/b/c) is probed exactly once, counted at the test
# server's own connection log, and has one row.
# With --client-ports mx (the cp-* domains again): the six client ports of
# every MX host are probed too and stored (client_mx,
# domain_client_mx_endpoint; schema/033) equal to the truth's `client_mx`,
# closed ports as connect_failed/refused; an MX host an SRV record also
# names is one endpoint; and the default (srv) scan above made no
# connection to a client port found only on an MX host (server log).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3
ms_log=$TB/logs/mailserver.log
ms_before=$(wc -l <"$ms_log" 2>/dev/null || echo 0)

"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign cp "${allow_args[@]}" \
	--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
	2>"$TEST_WORK/scan.err" ||
	{ cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
cid=$(sql "SELECT id FROM campaign WHERE name = 'cp'")

echo "== client endpoint facts against the truth"
client_facts_vs_truth "$cid"

echo "== the export's client endpoints against the truth"
"$MXCRAWL" export --campaign cp --format jsonl >"$TEST_WORK/cp.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_client.py" --export \
	"$TESTBED_TRUTH" "$TEST_WORK/cp.jsonl" ||
	fail "exported client endpoints differ from the truth"

echo "== the report's client probe figures against the truth"
"$MXCRAWL" report --campaign cp --format json >"$TEST_WORK/report.json"
"$PY" - "$TESTBED_TRUTH" "$TEST_WORK/report.json" <<'PYEOF' || fail "report figures differ from the truth"
import json, sys
from collections import Counter
truth = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = {}
for f in json.load(open(sys.argv[2]))["figures"]:
    for r in f["rows"]:
        rows[(f["name"], r["scope"], r["label"])] = (r["numerator"], r["denominator"])
bad, n = [], 0
def want(key, value):
    global n
    n += 1
    if rows.get(key) != value:
        bad.append("%r: report %r, truth %r" % (key, rows.get(key), value))
dane = Counter()
for svc in ("submissions", "submission", "imaps", "imap", "pop3s", "pop3"):
    good = total = 0
    for d in truth:
        eps = [e for t in d["client"][svc]["targets"] for e in t["endpoints"]
               if e.get("contact")]
        if not eps:
            continue
        total += 1
        good += all(e["probe"]["outcome"] == "tls_ok" and e["cert"]
                    and e["cert"]["trusted"] and e["cert"]["name_matches_host"]
                    for e in eps)
    if total:
        want(("client_trusted", svc, "trusted, names the SRV target"), (good, total))
    for d in truth:
        for t in d["client"][svc]["targets"]:
            if t.get("dane"):
                dane[t["dane"]] += 1
for k, v in dane.items():
    want(("client_dane", "srv_target", k), (v, sum(dane.values())))
for b in bad:
    print(b)
print("report: %d client probe figures checked, %d differ" % (n, len(bad)))
sys.exit(1 if bad or n == 0 else 0)
PYEOF

echo "== one probe per (ip, port, sni, service) and campaign"
expect_eq "client_endpoint rows per key" \
	"$(sql "SELECT count(*) FROM (SELECT 1 FROM client_endpoint WHERE campaign_id = $cid
	          GROUP BY ip, port, sni, service HAVING count(*) > 1) x")" 0
expect_eq "every domain's endpoint has its probe row" \
	"$(sql "SELECT count(*) FROM domain_client_endpoint de WHERE de.campaign_id = $cid
	          AND NOT EXISTS (SELECT 1 FROM client_endpoint e WHERE e.campaign_id = de.campaign_id
	            AND e.ip = de.ip AND e.port = de.port AND e.sni = de.sni AND e.service = de.service)")" 0
# The shared endpoint of cp-shared-a, named by three domains: the truth
# says where it is; the server's log says how often it was connected to.
read -r shared_ip shared_port < <("$PY" - "$TESTBED_TRUTH" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["domain"] == "cp-shared-a.test":
        e = d["client"]["imaps"]["targets"][0]["endpoints"][0]
        print(e["ip"], e["port"])
PYEOF
)
[ -n "$shared_ip" ] || fail "no cp-shared-a endpoint in the truth"
expect_eq "domains naming the shared endpoint" \
	"$(sql "SELECT count(DISTINCT target_id) FROM domain_client_endpoint WHERE campaign_id = $cid
	          AND ip = '$shared_ip' AND port = $shared_port AND service = 'imaps'")" 3
expect_eq "rows of the shared endpoint" \
	"$(sql "SELECT count(*) FROM client_endpoint WHERE campaign_id = $cid
	          AND ip = '$shared_ip' AND port = $shared_port AND service = 'imaps'")" 1

echo "== --client-ports mx: the client ports of the MX hosts"
grep '^cp-' "$TESTBED_TARGETS" >"$TEST_WORK/cp-targets.txt"
"$MXCRAWL" scan --targets "$TEST_WORK/cp-targets.txt" --campaign cpmx \
	--client-ports mx "${allow_args[@]}" --workers 2 --concurrency 200 \
	--progress 0 --smtp-deadline 8000 2>"$TEST_WORK/mx.err" ||
	{ cat "$TEST_WORK/mx.err" >&2; fail "scan --client-ports mx failed"; }
mid=$(sql "SELECT id FROM campaign WHERE name = 'cpmx'")
expect_eq "provenance: client ports" \
	"$(sql "SELECT provenance -> 'options' ->> 'client_ports' FROM campaign_run WHERE campaign_id = $mid")" mx
sql "SELECT json_build_object(
	   'domain', d.domain, 'service', m.service, 'ordinal', m.ordinal,
	   'host', m.host, 'port', m.port, 'dane', m.dane,
	   'endpoints', (SELECT json_agg(json_build_object(
	       'ip', host(de.ip), 'outcome', e.outcome, 'conn', e.conn,
	       'greeting', e.greeting, 'starttls_offered', e.starttls_offered,
	       'injection', e.injection, 'stripping', e.stripping,
	       'tls_version', e.tls_version, 'trusted', e.trusted,
	       'errors', e.verify_errors,
	       'missing_intermediate', e.missing_intermediate,
	       'name_matches_host', e.name_matches_host,
	       'name_matches_domain', de.name_matches_domain,
	       'cn_only', e.cn_only, 'weak', e.weak, 'chain_len', e.chain_len,
	       'dane', de.dane))
	     FROM domain_client_mx_endpoint de
	     JOIN client_endpoint e ON e.campaign_id = de.campaign_id
	      AND e.ip = de.ip AND e.port = de.port AND e.sni = de.sni
	      AND e.service = de.service
	    WHERE de.campaign_id = m.campaign_id AND de.target_id = m.target_id
	      AND de.ordinal = m.ordinal AND de.service = m.service))
	FROM client_mx m JOIN domain_dns d USING (campaign_id, target_id)
	WHERE m.campaign_id = $mid" >"$TEST_WORK/mxrows.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_client.py" --mx \
	"$TESTBED_TRUTH" "$TEST_WORK/mxrows.jsonl" ||
	fail "MX client endpoint facts differ from the truth"
"$MXCRAWL" export --campaign cpmx --format jsonl >"$TEST_WORK/cpmx.jsonl"
sql "SELECT target_id, doc FROM export_document WHERE campaign_id = $mid ORDER BY target_id" \
	>"$TEST_WORK/cpmx-view.txt"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_export.py" \
	"$TEST_WORK/cpmx-view.txt" "$TEST_WORK/cpmx.jsonl" ||
	fail "export of cpmx differs from export_document"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_client.py" --mx --export \
	"$TESTBED_TRUTH" "$TEST_WORK/cpmx.jsonl" ||
	fail "exported MX client endpoints differ from the truth"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_client.py" --export \
	"$TESTBED_TRUTH" "$TEST_WORK/cpmx.jsonl" ||
	fail "SRV client endpoints differ from the truth with --client-ports mx"
expect_eq "client_endpoint rows per key (mx)" \
	"$(sql "SELECT count(*) FROM (SELECT 1 FROM client_endpoint WHERE campaign_id = $mid
	          GROUP BY ip, port, sni, service HAVING count(*) > 1) x")" 0
expect_eq "every MX endpoint has its probe row" \
	"$(sql "SELECT count(*) FROM domain_client_mx_endpoint de WHERE de.campaign_id = $mid
	          AND NOT EXISTS (SELECT 1 FROM client_endpoint e WHERE e.campaign_id = de.campaign_id
	            AND e.ip = de.ip AND e.port = de.port AND e.sni = de.sni AND e.service = de.service)")" 0
expect_eq "cp-mx-srv-shared: SRV-found, MX-found, probe rows" \
	"$(sql "SELECT (SELECT count(*) FROM domain_client_endpoint de JOIN domain_dns d USING (campaign_id, target_id)
	                 WHERE de.campaign_id = $mid AND d.domain = 'cp-mx-srv-shared.test') || ' ' ||
	               (SELECT count(*) FROM domain_client_mx_endpoint de JOIN domain_dns d USING (campaign_id, target_id)
	                 WHERE de.campaign_id = $mid AND d.domain = 'cp-mx-srv-shared.test' AND de.service = 'imaps') || ' ' ||
	               (SELECT count(*) FROM client_endpoint WHERE campaign_id = $mid
	                 AND sni = 'mx.cp-mx-srv-shared.test' AND service = 'imaps')")" "1 1 1"
# TLSA at _<port>._tcp.<mx host> (RFC 7673 with the MX RRset): six per
# MX host on a secure path with mx, none without mx (the SRV record of
# cp-mx-srv-shared names its MX host on 993: left out), none in an
# unsigned zone.
tlsa_at_mx() {
	sql "SELECT count(*) FROM dns_rrset r JOIN domain_dns d USING (campaign_id, target_id)
	      WHERE r.campaign_id = $1 AND r.qtype = 'TLSA' AND d.domain LIKE 'cp-mx-%'
	        AND d.domain <> 'cp-mx-srv-shared.test'
	        AND r.qname ~ '^_(465|587|993|143|995|110)\._tcp\.(mx\.)?cp-mx-'
	        AND $2"
}
expect_eq "MX client-port TLSA questions: srv / mx cp-mx-imaps-ok / mx cp-mx-unsigned" \
	"$(tlsa_at_mx "$cid" true) / $(tlsa_at_mx "$mid" "d.domain = 'cp-mx-imaps-ok.test'") / $(tlsa_at_mx "$mid" "d.domain = 'cp-mx-unsigned.test'")" \
	"0 / 6 / 0"
echo "cost of --client-ports mx on the cp-* domains (uptime: $(uptime | sed 's/.*load/load/')):"
sql "SELECT c.name || ': ' || count(*) || ' domains, ' ||
            round(avg(d.dns_queries), 2) || ' DNS questions per domain, ' ||
            round((SELECT count(*) FROM domain_client_mx_endpoint m
                    WHERE m.campaign_id = c.id)::numeric / count(*), 2) ||
            ' MX client-port probes per domain, ' ||
            round((SELECT count(*) FROM domain_client_mx_endpoint m
                     JOIN client_endpoint e USING (campaign_id, ip, port, sni, service)
                    WHERE m.campaign_id = c.id AND e.conn = 'refused')::numeric / count(*), 2) ||
            ' of them refused'
       FROM domain_dns d JOIN campaign c ON c.id = d.campaign_id
      WHERE d.campaign_id IN ($cid, $mid) AND d.domain LIKE 'cp-%'
      GROUP BY c.id, c.name ORDER BY c.name"
# The client endpoints only an MX host gives (not an SRV record), from
# the truth: the default scan (campaign cp) must not have touched them.
"$PY" - "$TESTBED_TRUTH" >"$TEST_WORK/mx-only.txt" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if not d["domain"].startswith("cp-"):
        continue
    srv = {(e["ip"], e["port"]) for c in d["client"].values()
           for t in c["targets"] for e in t["endpoints"]}
    for hosts in d["client_mx"].values():
        for h in hosts:
            for e in h["endpoints"]:
                if e["contact"] and (e["ip"], e["port"]) not in srv:
                    served = e["probe"]["outcome"] != "connect_failed"
                    print(e["ip"], e["port"], "served" if served else "closed")
PYEOF
[ "$(grep -c served "$TEST_WORK/mx-only.txt")" -ge 4 ] || fail "too few MX-only served ports in the truth"
mx_only=$(while read -r ip port _; do echo "('$ip'::inet, $port)"; done \
	<"$TEST_WORK/mx-only.txt" | paste -sd,)
expect_eq "client probes of the default scan / the mx scan on MX-only ports" \
	"$(sql "SELECT count(*) FILTER (WHERE campaign_id = $cid) || ' / ' ||
	               count(*) FILTER (WHERE campaign_id = $mid)
	          FROM client_endpoint WHERE (ip, port) IN ($mx_only)")" \
	"0 / $(wc -l <"$TEST_WORK/mx-only.txt")"
"$MXCRAWL_SRC/tests/testbed/down" "$TB" >/dev/null
mx_conns=$(tail -n +"$((ms_before + 1))" "$ms_log" | "$PY" -c '
import json, sys
want = {}
for line in open(sys.argv[1]):
    ip, port, kind = line.split()
    if kind == "served":
        want[(ip, int(port))] = 0
for line in sys.stdin:
    try:
        c = json.loads(line[line.index("{"):])
    except ValueError:
        continue
    k = (c.get("addr"), c.get("port"))
    if k in want:
        want[k] += 1
print(" ".join(sorted(set(str(v) for v in want.values()))))' "$TEST_WORK/mx-only.txt")
# Once by the mx scan, never by the default one.
expect_eq "connections per MX-only served client port (server log, both scans)" "$mx_conns" 1
conns=$(tail -n +"$((ms_before + 1))" "$ms_log" | "$PY" -c '
import json, sys
ip, port = sys.argv[1], int(sys.argv[2])
n = 0
for line in sys.stdin:
    try:
        c = json.loads(line[line.index("{"):])
    except ValueError:
        continue
    n += c.get("addr") == ip and c.get("port") == port
print(n)' "$shared_ip" "$shared_port")
# Once per campaign: cp, and cpmx (the cp-* domains again, with mx).
expect_eq "connections to the shared endpoint (server log, two campaigns)" "$conns" 2
echo "test_client_ports: ok"
