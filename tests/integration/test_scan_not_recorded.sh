#!/usr/bin/env bash
# A domain whose rows the crawler cannot make (issue M9: "a failing domain
# gets an outcome of its own, never dns_error"): the scenarios of
# NOT_RECORDED_SCENARIOS (tests/testbed/scenarios.py) are scanned in one
# batch with some ordinary domains. Each must get a domain_dns row with
# mx_outcome 'not_recorded' and the cause its scenario names, and no other
# row; every other domain of the batch must be stored with the outcome its
# scenario gives; the scan's summary, the report's funnel and the export
# must show the domain as not recorded, and the protection ladder leave it
# out. Expected values come from the testbed's truth (build.py, from the
# scenario definitions). Before the fix, the 82 KB of TLSA records of
# not-recorded-tlsa-huge made a cut-off array that failed the batch's COPY:
# the scan stopped with exit 69 and stored nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

PY=/usr/bin/python3
# The scenario set: the special domains beside the MX section of the
# default set (DNS only: every outcome of those is decided by DNS).
cat >"$TEST_WORK/scenarios.py" <<EOF
import sys
sys.path.insert(0, "$MXCRAWL_SRC/tests/testbed")
import scenarios
SCENARIOS = scenarios.NOT_RECORDED_SCENARIOS + [
    s for s in scenarios.SCENARIOS
    if s["name"].startswith(("mx-", "null-mx", "no-domain", "dns-servfail"))]
EOF
testbed_up --no-postfix --no-servers --scenarios "$TEST_WORK/scenarios.py"

IFS=, read -r -a allow <<<"$TESTBED_ALLOW_CIDR"
allow_args=()
for c in "${allow[@]}"; do allow_args+=(--allow-cidr "$c"); done
ntargets=$(grep -c . "$TESTBED_TARGETS")

# The truth's special domains and their causes, and every domain's outcome.
"$PY" - "$TESTBED_TRUTH" >"$TEST_WORK/truth.tsv" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    print("%s\t%s\t%s" % (t["domain"], t["mx_outcome"], t.get("not_recorded_cause") or ""))
EOF
nspecial=$(awk -F'\t' '$2 == "not_recorded"' "$TEST_WORK/truth.tsv" | wc -l)
[ "$nspecial" -ge 1 ] || fail "the truth names no not_recorded domain"
[ "$ntargets" -gt "$nspecial" ] || fail "no ordinary domain beside the special ones"

echo "== one batch holds every domain"
rc=0
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign nr --no-smtp \
	"${allow_args[@]}" --batch-size 1000 --progress 0 \
	>"$TEST_WORK/scan.out" 2>"$TEST_WORK/scan.err" || rc=$?
cat "$TEST_WORK/scan.err"
expect_eq "scan exit status" "$rc" 0
cid=$(sql "SELECT id FROM campaign WHERE name = 'nr'")
expect_eq "batches" "$(sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid")" 1
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"

echo "== every domain has its row and the outcome of its scenario"
sql "SELECT domain, mx_outcome, coalesce(not_recorded_cause, '')
       FROM domain_dns WHERE campaign_id = $cid" | tr '|' '\t' |
	sort >"$TEST_WORK/got.tsv"
sort "$TEST_WORK/truth.tsv" >"$TEST_WORK/want.tsv"
diff "$TEST_WORK/want.tsv" "$TEST_WORK/got.tsv" ||
	fail "stored outcomes (>) differ from the truth (<)"
echo "ok: $ntargets domains stored with the truth's outcome and cause"

echo "== a not recorded domain has no other row"
for t in dns_rrset domain_mx mx_address domain_endpoint domain_mta_sts domain_tlsrpt; do
	expect_eq "$t rows of not recorded domains" \
		"$(sql "SELECT count(*) FROM $t x JOIN domain_dns d USING (campaign_id, target_id)
			 WHERE d.campaign_id = $cid AND d.mx_outcome = 'not_recorded'")" 0
done
expect_eq "ordinary domains without their MX question in dns_rrset" \
	"$(sql "SELECT count(*) FROM domain_dns d WHERE d.campaign_id = $cid
		   AND d.mx_outcome <> 'not_recorded' AND NOT EXISTS
		(SELECT 1 FROM dns_rrset r WHERE r.campaign_id = $cid
		    AND r.target_id = d.target_id AND r.qname = d.domain AND r.qtype = 'MX')")" 0

echo "== the summary counts them apart from DNS errors"
ndnserr=$(awk -F'\t' '$2 == "dns_error"' "$TEST_WORK/truth.tsv" | wc -l)
grep -q "dns error $ndnserr, not recorded $nspecial, " "$TEST_WORK/scan.err" ||
	fail "the progress line does not say 'dns error $ndnserr, not recorded $nspecial'"
grep -q "^scan: $nspecial domains not recorded " "$TEST_WORK/scan.err" ||
	fail "the summary does not say '$nspecial domains not recorded'"
echo "ok: summary: $nspecial not recorded, $ndnserr DNS errors"

echo "== the report's funnel shows them, the ladder leaves them out"
expect_eq "funnel: facts not recorded" \
	"$(sql_analysis "SELECT numerator || '/' || denominator FROM funnel
			  WHERE campaign_id = $cid AND label LIKE 'not recorded%'")" \
	"$nspecial/$ntargets"
nrec=$((ntargets - nspecial))
expect_eq "protection_ladder: domains on a rung / denominator (recorded only)" \
	"$(sql_analysis "SELECT sum(numerator) || '/' || max(denominator) FROM protection_ladder
			  WHERE campaign_id = $cid")" "$nrec/$nrec"
"$MXCRAWL" report --campaign nr --format csv >"$TEST_WORK/report.csv"
grep -q '"funnel","share","domain","not recorded' "$TEST_WORK/report.csv" ||
	fail "the report's funnel has no 'not recorded' row"

echo "== the export says not recorded, why, and nothing it does not know"
"$MXCRAWL" export --campaign nr --format jsonl >"$TEST_WORK/nr.jsonl"
"$MXCRAWL" export --campaign nr --format csv >"$TEST_WORK/nr.csv"
sql "SELECT target_id, doc FROM export_document WHERE campaign_id = $cid ORDER BY target_id" \
	>"$TEST_WORK/nr-view.txt"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_export.py" \
	"$TEST_WORK/nr-view.txt" "$TEST_WORK/nr.jsonl" "$TEST_WORK/nr.csv" ||
	fail "the export differs from export_document"
"$PY" - "$TESTBED_TRUTH" "$TEST_WORK/nr.jsonl" <<'EOF'
import json, sys
want = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["mx_outcome"] == "not_recorded":
        want[t["domain"]] = t
seen = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    t = want.get(e["domain"])
    if t is None:
        if e.get("not_recorded_cause") is not None:
            sys.exit("%s: not_recorded_cause %r" % (e["domain"], e["not_recorded_cause"]))
        continue
    seen += 1
    keys = ("mx_outcome", "not_recorded_cause", "implicit_mx", "null_mx", "mx",
            "mx_count", "mx_truncated", "apex_cname")
    got = {k: e.get(k) for k in keys}
    exp = {k: t[k] for k in keys}
    if got != exp:
        sys.exit("%s: export %r, want %r" % (e["domain"], got, exp))
if seen != len(want):
    sys.exit("export has %d of %d not recorded domains" % (seen, len(want)))
print("ok: export of %d not recorded domain(s)" % seen)
EOF
