#!/usr/bin/env bash
# mxcrawl report --compare against a world that changed: the testbed at
# epoch 1 is scanned, brought up again at epoch 2 (tests/testbed/epochs.py:
# a renewal that leaves TLSA stale, an MTA-STS policy change, STARTTLS
# dropped, DANE gained, a domain gone) and scanned again. Every figure's
# two values and delta in `report --campaign 2 --compare 1 --format json`
# must equal the ones computed from the two truth files alone
# (metrics_from_truth.py --compare), and the same the other way round.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

PY=/usr/bin/python3
scan() { # scan CAMPAIGN
	local allow_args=() c
	IFS=, read -r -a allow <<<"$TESTBED_ALLOW_CIDR"
	for c in "${allow[@]}"; do allow_args+=(--allow-cidr "$c"); done
	"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign "$1" "${allow_args[@]}" \
		--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
		2>"$TEST_WORK/scan-$1.err" ||
		{ cat "$TEST_WORK/scan-$1.err" >&2; fail "scan $1 failed"; }
	grep -q "DNSSEC validated" "$TEST_WORK/scan-$1.err" ||
		fail "canaries: $(cat "$TEST_WORK/scan-$1.err")"
}

testbed_up --epoch 1
expect_eq "epoch of the testbed" "$TESTBED_EPOCH" 1
scan epoch1
cp "$TESTBED_TRUTH" "$TEST_WORK/truth1.jsonl"
cp "$TESTBED_TARGETS" "$TEST_WORK/targets1.txt"

"$MXCRAWL_SRC/tests/testbed/down" "$TB" >"$TEST_WORK/tb-down.log" 2>&1 ||
	fail "testbed down: $(cat "$TEST_WORK/tb-down.log")"
testbed_up --epoch 2
expect_eq "epoch of the testbed" "$TESTBED_EPOCH" 2
cmp -s "$TEST_WORK/targets1.txt" "$TESTBED_TARGETS" ||
	fail "the targets changed between epochs"
cmp -s "$TEST_WORK/truth1.jsonl" "$TESTBED_TRUTH" &&
	fail "the truth did not change between epochs"
scan epoch2
cp "$TESTBED_TRUTH" "$TEST_WORK/truth2.jsonl"

R=$TEST_WORK/report
mkdir -p "$R"
"$MXCRAWL" report --campaign epoch2 --compare epoch1 --format json -o "$R/compare.json" ||
	fail "report --compare"
"$PY" "$MXCRAWL_SRC/tests/integration/metrics_from_truth.py" --compare \
	"$TEST_WORK/truth1.jsonl" "$TEST_WORK/truth2.jsonl" "$R/compare.json" \
	>"$R/check.out" || { cat "$R/check.out"; fail "compared figures differ from the truths"; }
cat "$R/check.out"
# The check passes on any two equal worlds too; these two differ, so
# deltas must show.
changed=$(sed -n 's/^.* figures equal both truths, \([0-9]*\) rows changed.*$/\1/p' "$R/check.out")
[ "${changed:-0}" -gt 0 ] || fail "no row changed between the epochs"

# The check itself catches a wrong value on either side and a wrong delta.
for what in numerator compare.numerator compare.delta; do
	"$PY" - "$R/compare.json" "$R/bad.json" "$what" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
row = next(r for f in j["figures"] if f["name"] == "starttls" for r in f["rows"])
obj, key = (row["compare"], sys.argv[3].split(".")[1]) if "." in sys.argv[3] else (row, sys.argv[3])
obj[key] = (obj[key] or 0) + 1
json.dump(j, open(sys.argv[2], "w"))
PYEOF
	if "$PY" "$MXCRAWL_SRC/tests/integration/metrics_from_truth.py" --compare \
		"$TEST_WORK/truth1.jsonl" "$TEST_WORK/truth2.jsonl" "$R/bad.json" >/dev/null; then
		fail "a wrong $what passed the check"
	fi
done
echo "ok: a wrong numerator, compare numerator or delta fails the check"

# The other way round: the same figures, the deltas negated.
"$MXCRAWL" report --campaign epoch1 --compare epoch2 --format json -o "$R/reverse.json" ||
	fail "report --compare, reversed"
"$PY" "$MXCRAWL_SRC/tests/integration/metrics_from_truth.py" --compare \
	"$TEST_WORK/truth2.jsonl" "$TEST_WORK/truth1.jsonl" "$R/reverse.json" \
	>"$R/reverse.out" || { cat "$R/reverse.out"; fail "reversed comparison differs from the truths"; }
tail -n 1 "$R/reverse.out"

# Every other format shows the comparison too.
"$MXCRAWL" report --campaign epoch2 --compare epoch1 >"$R/compare.txt" || fail "report text"
grep -q "^compared with: 'epoch1'" "$R/compare.txt" || fail "text report names no comparison"
grep -q "delta in percentage points" "$R/compare.txt" || fail "text report has no delta"
echo PASS
