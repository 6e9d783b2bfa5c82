#!/usr/bin/env bash
# mxcrawl report --compare against a world that changed: the testbed at
# epoch 1 is scanned, brought up again at epoch 2 (tests/testbed/epochs.py:
# a renewal that leaves TLSA stale, an MTA-STS policy change, STARTTLS
# dropped, DANE gained, a domain gone) and scanned again. Every figure's
# two values and delta in `report --campaign 2 --compare 1 --format json`
# must equal the ones computed from the two truth files alone
# (metrics_from_truth.py --compare), and the same the other way round.
# The figures of the section 'change' (ladder moves and transitions,
# MTA-STS id changes, TLSA records left stale by a renewal, domains gone)
# must equal the ones computed from both truths together, and their
# per-domain views the truths' domains. A third campaign, created after
# the second, is scanned at epoch 1 too, and `report --history` must give
# every headline figure's rows in each of the three as each one's own
# report.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

PY=/usr/bin/python3
scan() { # scan CAMPAIGN: scans the imported CAMPAIGN
	"$MXCRAWL" scan --campaign "$1" --resume "${allow_args[@]}" \
		--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
		2>"$TEST_WORK/scan-$1.err" ||
		{ cat "$TEST_WORK/scan-$1.err" >&2; fail "scan $1 failed"; }
	grep -q "DNSSEC validated" "$TEST_WORK/scan-$1.err" ||
		fail "canaries: $(cat "$TEST_WORK/scan-$1.err")"
}

testbed_up --epoch 1
expect_eq "epoch of the testbed" "$TESTBED_EPOCH" 1
# The three campaigns are created first, in the history's order
# (report --history goes by creation), and each is scanned while the
# world is in its epoch: both of epoch 1 before the testbed moves to
# epoch 2 (it is brought up twice, not three times).
for c in epoch1 epoch2 epoch1-again; do
	expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign "$c" \
		--import-only
done
scan epoch1
cp "$TESTBED_TRUTH" "$TEST_WORK/truth1.jsonl"
cp "$TESTBED_TARGETS" "$TEST_WORK/targets1.txt"
# A third campaign, at epoch 1 again (its history rows must be the
# first's).
scan epoch1-again

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
for what in numerator compare.numerator compare.delta ladder_change tlsa_stale; do
	"$PY" - "$R/compare.json" "$R/bad.json" "$what" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
what = sys.argv[3]
fig = what if what in ("ladder_change", "tlsa_stale") else "starttls"
row = next(r for f in j["figures"] if f["name"] == fig for r in f["rows"])
obj, key = (row["compare"], what.split(".")[1]) if "." in what else (row, "numerator")
obj[key] = (obj[key] or 0) + 1
json.dump(j, open(sys.argv[2], "w"))
PYEOF
	if "$PY" "$MXCRAWL_SRC/tests/integration/metrics_from_truth.py" --compare \
		"$TEST_WORK/truth1.jsonl" "$TEST_WORK/truth2.jsonl" "$R/bad.json" >/dev/null; then
		fail "a wrong $what passed the check"
	fi
done
echo "ok: a wrong numerator, compare numerator, delta or change row fails the check"

# The change figures' units, domain by domain: the crawler's per-domain
# views against the truths (metrics_sts: ladder_changes, sts_id_changes,
# tlsa_stale), not only the counts.
c1=$(sql "SELECT id FROM campaign WHERE name = 'epoch1'")
c2=$(sql "SELECT id FROM campaign WHERE name = 'epoch2'")
sql_analysis "SELECT json_build_object(
  'ladder', (SELECT json_agg(json_build_array(domain, rung_before, rung_after))
               FROM analysis.b_ladder_pair
              WHERE campaign_id = $c2 AND compare_id = $c1 AND direction <> 'same'),
  'sts', (SELECT json_agg(json_build_array(domain, id_before, id_after, change))
            FROM analysis.b_mta_sts_pair
           WHERE campaign_id = $c2 AND compare_id = $c1 AND change <> 'unchanged'),
  'dane', (SELECT json_agg(json_build_array(domain, host, change))
             FROM analysis.b_dane_pair
            WHERE campaign_id = $c2 AND compare_id = $c1))" >"$R/units.json"
PYTHONPATH="$MXCRAWL_SRC/tests/integration" "$PY" - "$TEST_WORK/truth1.jsonl" \
	"$TEST_WORK/truth2.jsonl" "$R/units.json" <<'PYEOF' || fail "change units differ from the truths"
import json, sys
import metrics_sts
old, new = ([json.loads(l) for l in open(p) if l.strip()] for p in sys.argv[1:3])
got = json.load(open(sys.argv[3]))
norm = lambda d: d.rstrip(".").lower()

want = metrics_sts.ladder_changes(old, new)
have = {norm(d): (b, a) for d, b, a in got["ladder"] or []}
assert have == want, ("ladder moves", have, want)
# The testbed's epochs (tests/testbed/README.md "Epochs") move these five.
assert set(want) == {"chg-dane-renewed.test", "chg-sts-policy.test",
                     "chg-drops-starttls.test", "chg-gains-dane.test",
                     "chg-disappears.test"}, sorted(want)

want = metrics_sts.sts_id_changes(old, new)
have = {norm(d): (b, a) for d, b, a, c in got["sts"] or [] if c.startswith("id ")
        and "changed" in c}
assert have == want, ("MTA-STS id changes", have, want)
assert want == {"chg-sts-policy.test": ("20250101T000000", "20250601T000000")}, want
assert all(c in ("id and policy changed", "id the same, policy not fetched in both")
           for _, _, _, c in got["sts"] or []), got["sts"]

want = metrics_sts.tlsa_stale(old, new)
have = {(norm(d), h): c for d, h, c in got["dane"] or []}
assert have == want, ("TLSA after renewal", have, want)
stale = sorted(k for k, v in want.items() if v.startswith("no match now: certificate"))
assert stale == [("chg-dane-renewed.test", "mx.chg-dane-renewed.test")], stale
print("ok: per domain: %d ladder moves, %d MTA-STS id change, %d TLSA record(s) "
      "left stale by a renewal, as the truths say" %
      (len(got["ladder"] or []), len(metrics_sts.sts_id_changes(old, new)), len(stale)))
PYEOF

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
grep -q "^Change since the compared campaign" "$R/compare.txt" ||
	fail "text report has no change section"
"$MXCRAWL" report --campaign epoch2 >"$R/single.txt" || fail "report text, one campaign"
grep -q "^Change since" "$R/single.txt" && fail "a one-campaign report has a change section"
echo "ok: the change section is in the compared report only"

# A history of three: epoch1, epoch2, epoch1-again.
# report --history: each campaign's history rows are that campaign's own
# report's rows (a row the campaign lacks but another of the history has
# counts 0 of the scope's denominator there); text, md, csv and html list
# the same percents.
H=(--campaign epoch1-again --history 'epoch%')
for f in json text md csv html; do
	"$MXCRAWL" report "${H[@]}" --format $f -o "$R/history.$f" || fail "report --history --format $f"
done
for c in epoch1 epoch2 epoch1-again; do
	"$MXCRAWL" report --campaign $c --format json -o "$R/own-$c.json" || fail "report $c"
done
"$MXCRAWL" report --campaign epoch2 --history 'epoch%' --format json -o "$R/history-e2.json" ||
	fail "report --history at epoch2"
"$MXCRAWL" report "${H[@]}" --history-max 2 --format json -o "$R/history-max2.json" ||
	fail "report --history-max 2"
"$MXCRAWL" report --campaign epoch1-again --history 'epoch2%' --format json \
	-o "$R/history-e2only.json" ||
	fail "report --history epoch2%"
"$PY" - "$R" <<'PYEOF' || fail "the history differs from the campaigns' own reports"
import csv, json, re, sys
d = sys.argv[1]
h = json.load(open(d + "/history.json"))
own = {c: json.load(open("%s/own-%s.json" % (d, c))) for c in ("epoch1", "epoch2", "epoch1-again")}
ids = {c: j["campaign"]["id"] for c, j in own.items()}
names = {v: k for k, v in ids.items()}
hc = [c["name"] for c in h["history"]["campaigns"]]
assert hc == ["epoch1", "epoch2", "epoch1-again"], hc
assert (h["history"]["pattern"], h["history"]["max"]) == ("epoch%", 12), h["history"]
# The figure registry's headline figures (analysis/*.sql p_headline).
HEADLINE = {"protection_ladder", "starttls", "tls_below_1_2", "cert_valid",
            "minimally_sufficient", "sts_ready", "dnssec_mx", "dane_protected",
            "dane_outcome", "mta_sts_adoption"}
heads = {f["name"] for f in h["figures"] if f["headline"]}
assert heads == HEADLINE, heads ^ HEADLINE
assert all(("history" in f) == f["headline"] for f in h["figures"])
npts = changed = 0
for f in h["figures"]:
    if not f["headline"]:
        continue
    assert [e["campaign"] for e in f["history"]] == [ids[c] for c in hc], f["name"]
    labels = {(r["scope"], r["label"]) for e in f["history"] for r in e["rows"]}
    for e in f["history"]:
        of = next(x for x in own[names[e["campaign"]]]["figures"] if x["name"] == f["name"])
        want = {(r["scope"], r["label"]): (r["numerator"], r["denominator"], r["percent"])
                for r in of["rows"]}
        dens = {s: den for (s, _), (_, den, _) in want.items()}
        got = {(r["scope"], r["label"]): (r["numerator"], r["denominator"], r["percent"])
               for r in e["rows"]}
        for k, v in got.items():
            if k in want:
                assert v == want[k], (f["name"], names[e["campaign"]], k, v, want[k])
            else:
                assert v[0] == 0 and v[1] == dens.get(k[0]), (f["name"], k, v)
        assert set(want) <= set(got), (f["name"], set(want) - set(got))
        assert {k for k in labels if k[0] in dens} <= set(got), f["name"]
        npts += len(got)
    series = [{(r["scope"], r["label"]): r["percent"] for r in e["rows"]} for e in f["history"]]
    changed += sum(1 for k in series[0] if series[1].get(k) != series[0][k])
    # Epoch 1 again: the third campaign's rows equal the first's.
    assert series[0] == series[2], f["name"]
assert changed > 0, "no headline row changed between epoch 1 and 2"

# Percents per history campaign in text, md and csv equal the JSON's.
want = {(f["name"], r["scope"], r["label"], str(e["campaign"])):
        "-" if r["percent"] is None else str(r["percent"])
        for f in h["figures"] if f["headline"] for e in f["history"] for r in e["rows"]}
col = {str(i + 1): str(ids[c]) for i, c in enumerate(hc)}
for fmt in ("text", "md"):
    got, fig, cols = {}, None, None
    for line in open("%s/history.%s" % (d, fmt)):
        m = re.search(r"\[([a-z0-9_]+), (?:share|distribution|causes)\]$", line) if fmt == "text" \
            else re.match(r"^### .* \(`([a-z0-9_]+)`\)$", line)
        if m:
            fig, cols = m.group(1), None
            continue
        if fmt == "text" and line.startswith("  scope ") and "[1]" in line:
            cols = re.findall(r"\[(\d+)\]", line)
            continue
        if fmt == "md" and line.startswith("| scope | label | [1]"):
            cols = re.findall(r"\[(\d+)\]", line)
            continue
        if cols and (not line.strip() or (fmt == "md" and not line.startswith("|"))):
            cols = None
            continue
        if not cols or line.startswith("|---"):
            continue
        if fmt == "text":
            m = re.match(r"^  (\S+)  +(.*?) +" + " +".join([r"(\S+)"] * len(cols)) + r"$",
                         line.rstrip("\n"))
            scope, label, vals = m.group(1), m.group(2), list(m.groups()[2:])
        else:
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            scope, label, vals = cells[0], cells[1], cells[2:]
        for c, v in zip(cols, vals):
            got[(fig, scope, label, col[c])] = v
    assert got == want, (fmt, set(got.items()) ^ set(want.items()))
rows = {}
for r in csv.DictReader(open(d + "/history.csv", newline="")):
    assert r["part"] in ("report", "history"), r
    if r["part"] == "history":
        rows[(r["figure"], r["scope"], r["label"], r["campaign_id"])] = r["percent"] or "-"
assert rows == want, ("csv", set(rows.items()) ^ set(want.items()))

# Which campaigns: created no later than the report's, newest N, pattern.
e2 = json.load(open(d + "/history-e2.json"))
assert [c["name"] for c in e2["history"]["campaigns"]] == ["epoch1", "epoch2"], e2["history"]
m2 = json.load(open(d + "/history-max2.json"))
assert [c["name"] for c in m2["history"]["campaigns"]] == ["epoch2", "epoch1-again"], m2["history"]
o2 = json.load(open(d + "/history-e2only.json"))
assert [c["name"] for c in o2["history"]["campaigns"]] == ["epoch2"], o2["history"]
print("ok: --history: %d headline figures x 3 campaigns, %d rows, each the campaign's "
      "own; %d rows moved between epochs; text, md and csv agree" %
      (len(HEADLINE), npts, changed))
PYEOF
# The HTML's trend points are the JSON history (html_check.py reads the
# page itself here; test_report_html.sh has Chromium render one).
"$PY" "$MXCRAWL_SRC/tests/integration/html_check.py" "$R/history.html" \
	"$R/history.html" "$R/history.json" || fail "the HTML history differs from the JSON"
expect_rc 64 "$MXCRAWL" report --history-max 3
expect_rc 64 "$MXCRAWL" report --history 'epoch%' --history-max 0
echo PASS
