#!/usr/bin/env bash
# mxcrawl report against the testbed: every figure computed independently
# from the truth file (metrics_from_truth.py) equals the JSON report's
# numerator and denominator; every format lists the same figures with the
# same numbers; --compare beside itself gives zero deltas; --analysis-dir
# changes a definition without a re-scan, and a broken definition is
# named; a report leaves nothing behind (its views are rolled back).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up

PY=/usr/bin/python3

# The targets as a Tranco list ("rank,domain"), ranked by the harness:
# sorted by the SHA-256 of the domain name (hex), rank 1 first. The order
# is deterministic and unrelated to the testbed's scenario order, so each
# bucket mixes scenarios. The report's rank buckets are checked against
# the truth of the domains with rank <= each bound.
RANKS=$TEST_WORK/tranco.csv
"$PY" - "$TESTBED_TARGETS" "$RANKS" <<'PYEOF' || fail "ranking the targets"
import hashlib, sys
ds = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
ds.sort(key=lambda d: hashlib.sha256(d.encode()).hexdigest())
with open(sys.argv[2], "w") as f:
    f.writelines("%d,%s\n" % (i + 1, d) for i, d in enumerate(ds))
PYEOF
BUCKETS=10,50,100000
# --client-ports mx: the client ports of every MX host too, so that the
# figures of analysis/098-099 have rows to check.
"$MXCRAWL" scan --targets "$RANKS" --campaign rep "${allow_args[@]}" \
	--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
	--client-ports mx \
	2>"$TEST_WORK/scan.err" ||
	{ cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
grep -q "DNSSEC validated" "$TEST_WORK/scan.err" || fail "canaries: $(cat "$TEST_WORK/scan.err")"

R=$TEST_WORK/report
mkdir -p "$R"
"$MXCRAWL" report --campaign rep --format json --rank-buckets $BUCKETS \
	-o "$R/report.json" || fail "report --format json"
"$PY" "$MXCRAWL_SRC/tests/integration/metrics_from_truth.py" --client-mx \
	"$TESTBED_TRUTH" "$R/report.json" || fail "figures differ from the truth"
# Rank buckets (issue M8 item 5): the headline figures' domain rows of
# the top 10, top 50 and top 100k (every target: the campaign's own rows)
# against the truth of those domains only.
"$PY" "$MXCRAWL_SRC/tests/integration/metrics_from_truth.py" --buckets \
	"$RANKS" "$BUCKETS" "$TESTBED_TRUTH" "$R/report.json" ||
	fail "rank buckets differ from the truth"

for f in text csv md html; do
	"$MXCRAWL" report --campaign rep --format $f --rank-buckets $BUCKETS \
		>"$R/report.$f" || fail "report --format $f"
done
# The same figures, and the same numbers, in every format.
"$PY" - "$R" <<'PYEOF' || fail "formats disagree"
import csv, html.parser, json, re, sys
d = sys.argv[1]
j = json.load(open(d + "/report.json"))
names = [f["name"] for f in j["figures"]]
rows_json = {(f["name"], r["scope"], r["label"], str(r["numerator"]),
              str(r["denominator"]), "" if r["percent"] is None else str(r["percent"]))
             for f in j["figures"] for r in f["rows"]}
assert len(names) == len(set(names)) and len(names) >= 20, names
# A one-campaign report has no figure of the section 'change'.
assert not any(f["across"] for f in j["figures"]), names

# text: "Title  [name, kind]"
text = re.findall(r"\[([a-z0-9_]+), (?:share|distribution|causes)\]$",
                  open(d + "/report.text").read(), re.M)
assert text == names, ("text", text, names)

rows_csv, csv_names = set(), []
prov_csv = 0
buckets_json = {(str(b["bound"]), r["figure"], r["label"], str(r["numerator"]),
                 str(r["denominator"]), "" if r["percent"] is None else str(r["percent"]))
                for b in j["rank_buckets"]["buckets"] for r in b["rows"]}
assert len({k[0] for k in buckets_json}) == 3, buckets_json
buckets_csv = set()
for r in csv.DictReader(open(d + "/report.csv", newline="")):
    if r["section"] == "how_measured":
        prov_csv += 1
        continue
    if r["part"] == "rank_bucket":
        assert r["scope"] == "domain", r
        buckets_csv.add((r["rank_bucket"], r["figure"], r["label"], r["numerator"],
                         r["denominator"], r["percent"]))
        continue
    if r["figure"] not in csv_names:
        csv_names.append(r["figure"])
    if r["scope"]:
        rows_csv.add((r["figure"], r["scope"], r["label"], r["numerator"],
                      r["denominator"], r["percent"]))
assert csv_names == names, ("csv", csv_names, names)
assert rows_csv == rows_json, ("csv rows", rows_csv ^ rows_json)
assert buckets_csv == buckets_json, ("csv buckets", buckets_csv ^ buckets_json)

# text: "top 10: 10 ranked targets" then "  figure  label  count of %"
buckets_text, bound = set(), None
text_all = open(d + "/report.text").read()
for line in text_all.split("\nBy rank\n", 1)[1].split("\nHow this was measured\n")[0].splitlines():
    m = re.match(r"^top (\d+)([kM]?): ", line)
    if m:
        bound = str(int(m.group(1)) * {"": 1, "k": 1000, "M": 1000000}[m.group(2)])
        continue
    m = re.match(r"^  ([a-z0-9_]+)\s+(.*?)\s+(\d+)\s+(\d+)\s+(\S+)$", line)
    if m and m.group(1) != "figure":
        p = "" if m.group(5) == "-" else m.group(5)
        buckets_text.add((bound,) + m.groups()[:4] + (p,))
assert buckets_text == buckets_json, ("text buckets", buckets_text ^ buckets_json)

md = open(d + "/report.md").read()
md, md_buckets = md.split("\n## By rank\n", 1)
buckets_md, bound = set(), None
for line in md_buckets.splitlines():
    m = re.match(r"^#### top (\d+)([kM]?): ", line)
    if m:
        bound = str(int(m.group(1)) * {"": 1, "k": 1000, "M": 1000000}[m.group(2)])
    elif line.startswith("| `"):
        cells = [c.strip().replace("\\|", "|")
                 for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        buckets_md.add((bound, cells[0].strip("`"), cells[1], cells[2], cells[3],
                        "" if cells[4] == "-" else cells[4]))
assert buckets_md == buckets_json, ("md buckets", buckets_md ^ buckets_json)
md_names = re.findall(r"^### .* \(`([a-z0-9_]+)`\)$", md, re.M)
assert md_names == names, ("md", md_names, names)
rows_md, fig = set(), None
for line in md.splitlines():
    m = re.match(r"^### .* \(`([a-z0-9_]+)`\)$", line)
    if m:
        fig = m.group(1)
    elif line.startswith("| ") and not line.startswith("| scope"):
        cells = [c.strip().replace("\\|", "|")
                 for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows_md.add((fig, cells[0], cells[1], cells[2], cells[3],
                     "" if cells[4] == "-" else cells[4]))
assert rows_md == rows_json, ("md rows", rows_md ^ rows_json)

class H(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.rows, self.cur, self.cls = [], set(), None, None
        self.buckets = set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "tr" and "data-figure" in a:
            self.cur = [a["data-figure"], a["data-scope"], a["data-label"], "", "", ""]
        if tag == "tr" and "data-bucket" in a:
            self.cur = ["bucket " + a["data-bucket"], a["data-bucket-figure"],
                        a["data-label"], "", "", ""]
        if tag == "td":
            self.cls = a.get("class", "")
    def handle_data(self, data):
        if self.cur and self.cls:
            for i, k in ((3, "num"), (4, "den"), (5, "pct")):
                if self.cls.endswith(" " + k):
                    self.cur[i] += data
    def handle_endtag(self, tag):
        if tag == "td":
            self.cls = None
        if tag == "tr" and self.cur:
            if self.cur[5] == "-":
                self.cur[5] = ""
            if self.cur[0].startswith("bucket "):
                self.buckets.add((self.cur[0][7:],) + tuple(self.cur[1:]))
            else:
                self.rows.add(tuple(self.cur))
            self.cur = None
h = H()
h.feed(open(d + "/report.html").read())
assert h.sections == names, ("html", h.sections, names)
assert h.rows == rows_json, ("html rows", h.rows ^ rows_json)
assert h.buckets == buckets_json, ("html buckets", h.buckets ^ buckets_json)
print("ok: %d figures, %d rows, %d rank bucket rows, the same in json, text, "
      "csv, md and html" % (len(names), len(rows_json), len(buckets_json)))
PYEOF
# Details a reader trips over (issue M8 item 8): timestamps in ISO 8601
# UTC (as `campaign list` prints them) in the report, the export and its
# metadata; TLS versions in version order; zero rows by one rule; no MX
# question that says ok next to an error rcode.
"$MXCRAWL" export --campaign rep --format jsonl >"$R/export.jsonl" || fail "export"
"$MXCRAWL" export --campaign rep --metadata >"$R/meta.json" || fail "export --metadata"
"$MXCRAWL" campaign list --format json >"$R/list.json" || fail "campaign list"
"$PY" - "$R" <<'PYEOF' || fail "details"
import json, re, sys
d = sys.argv[1]
bad = []
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
def iso(where, v):
    if not (isinstance(v, str) and ISO.match(v)):
        bad.append("timestamp not ISO 8601 UTC: %s: %r" % (where, v))
j = json.load(open(d + "/report.json"))
iso("report campaign.created", j["campaign"]["created"])
for c in json.load(open(d + "/list.json")):
    iso("campaign list created", c["created"])
m = json.load(open(d + "/meta.json"))
iso("metadata campaign.created", m["campaign"]["created"])
assert m["runs"], m
for r in m["runs"]:
    iso("metadata run started", r["started"])
    iso("metadata run ended", r["ended"])
n = servfail = 0
for line in open(d + "/export.jsonl"):
    e = json.loads(line)
    if n == 0:
        iso("export scanned_at", e["scanned_at"])
    for q in [e["dns"]["mx"]] + e.get("queries", []):
        if q.get("rcode") not in (None, "NOERROR", "NXDOMAIN"):
            servfail += q["rcode"] == "SERVFAIL"
            if q["outcome"] == "ok":
                bad.append("%s: outcome ok next to rcode %s" % (e["domain"], q["rcode"]))
    n += 1
assert n > 100 and servfail > 0, (n, servfail)
order = ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3"]
tls = [r["label"] for f in j["figures"] if f["name"] == "tls_version"
       for r in f["rows"]]
assert len(tls) >= 2, tls
if tls != sorted(tls, key=lambda l: (order.index(l) if l in order else len(order), l)):
    bad.append("TLS versions not in version order: %s" % tls)
for f in j["figures"]:
    if f["kind"] != "share":
        zero = [r["label"] for r in f["rows"] if r["numerator"] == 0]
        if zero:
            bad.append("the %s figure %s shows rows that count 0: %s"
                       % (f["kind"], f["name"], zero))
for b in bad:
    print("FAIL: " + b)
if bad:
    sys.exit(1)
print("ok: timestamps ISO 8601 UTC in report, list, metadata and export; "
      "%d SERVFAIL answers in %d records, none with outcome ok; TLS versions "
      "in version order %s; no distribution or causes row counts 0"
      % (servfail, n, tls))
PYEOF

# Standalone: no element that loads anything and no URL in an attribute
# or in CSS (html_check.py reads the page itself here, no browser; labels
# such as http_status are text, not references).
"$PY" "$MXCRAWL_SRC/tests/integration/html_check.py" "$R/report.html" \
	"$R/report.html" "$R/report.json" ||
	fail "the HTML report refers to something outside itself"
echo "ok: the HTML report is standalone"

# --compare with itself: the other campaign's numbers are its own, deltas 0.
"$MXCRAWL" report --campaign rep --compare rep --format json -o "$R/self.json" ||
	fail "report --compare"
"$PY" - "$R/self.json" <<'PYEOF' || fail "--compare with itself"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["compare"]["name"] == "rep", j["compare"]
n = 0
# The figures of the section 'change' follow each domain into the same
# campaign: nothing moved, nothing went away.
across = {f["name"]: {(r["scope"], r["label"]): (r["numerator"], r["denominator"])
                      for r in f["rows"]} for f in j["figures"] if f["across"]}
assert set(across) == {"ladder_change", "ladder_transition", "mta_sts_id_change",
                       "tlsa_stale", "domain_presence"}, sorted(across)
for name, rows in across.items():
    same = {k: v for k, v in rows.items()
            if k[1] in ("unchanged", "still dane_ok", "scanned in both campaigns",
                        "id the same, policy not fetched in both")
            or (name == "ladder_transition" and len(set(k[1].split(" → "))) == 1)}
    assert all(n == 0 for k, (n, _) in rows.items() if k not in same), (name, rows)
    if name != "ladder_change":
        assert sum(n for n, _ in same.values()) == next(iter(same.values()))[1], \
            (name, rows)
for f in j["figures"]:
    if f["across"]:
        assert all("compare" not in r for r in f["rows"]), f["name"]
        continue
    for r in f["rows"]:
        c = r["compare"]
        assert (c["numerator"], c["denominator"], c["percent"]) == \
            (r["numerator"], r["denominator"], r["percent"]), (f["name"], r)
        assert c["delta"] in (0, None), (f["name"], r)
        n += 1
print("ok: --compare with itself: %d rows, every delta 0; the change figures "
      "show nothing changed" % n)
PYEOF

# Rank buckets beside the same campaign's: the same numbers, deltas 0.
"$MXCRAWL" report --campaign rep --compare rep --rank-buckets $BUCKETS \
	--format json -o "$R/self-buckets.json" || fail "report --compare --rank-buckets"
"$PY" - "$R/self-buckets.json" "$R/report.json" <<'PYEOF' || fail "rank buckets beside themselves"
import json, sys
j, alone = (json.load(open(f))["rank_buckets"] for f in sys.argv[1:])
n = 0
for b, a in zip(j["buckets"], alone["buckets"]):
    assert b["compare_targets"] == b["targets"], b
    assert [(r["figure"], r["label"], r["numerator"]) for r in b["rows"]] == \
        [(r["figure"], r["label"], r["numerator"]) for r in a["rows"]], b["bound"]
    for r in b["rows"]:
        c = r["compare"]
        assert (c["numerator"], c["denominator"], c["percent"]) == \
            (r["numerator"], r["denominator"], r["percent"]), r
        assert c["delta"] in (0, None), r
        n += 1
print("ok: rank buckets beside themselves: %d rows, every delta 0" % n)
PYEOF

# A target list without ranks: no bucket section, and it says so; beside
# it, the ranked campaign's buckets have no compared numbers.
head -n 5 "$TESTBED_TARGETS" | grep -v '^#' >"$TEST_WORK/plain.txt"
"$MXCRAWL" scan --targets "$TEST_WORK/plain.txt" --campaign plain "${allow_args[@]}" \
	--no-smtp --workers 1 --progress 0 2>"$TEST_WORK/scan-plain.err" ||
	{ cat "$TEST_WORK/scan-plain.err" >&2; fail "scan of a plain list"; }
"$MXCRAWL" report --campaign plain --format json -o "$R/plain.json" ||
	fail "report of a campaign without ranks"
"$MXCRAWL" report --campaign plain --format csv -o "$R/plain.csv" ||
	fail "report --format csv of a campaign without ranks"
for f in text md html; do
	"$MXCRAWL" report --campaign plain --format $f -o "$R/plain.$f" ||
		fail "report --format $f of a campaign without ranks"
	grep -q "no ranks in the target list" "$R/plain.$f" ||
		fail "$f: no word of the missing ranks"
done
"$MXCRAWL" report --campaign rep --compare plain --rank-buckets $BUCKETS \
	--format json -o "$R/vs-plain.json" || fail "report --compare plain"
"$PY" - "$R/plain.json" "$R/plain.csv" "$R/vs-plain.json" <<'PYEOF' || fail "no ranks"
import csv, json, sys
rb = json.load(open(sys.argv[1]))["rank_buckets"]
assert rb["ranked"] == 0 and rb["buckets"] == [] and \
    rb["status"] == "no ranks in the target list", rb
head = next(csv.reader(open(sys.argv[2], newline="")))
assert "rank_bucket" not in head and "part" not in head, head
v = json.load(open(sys.argv[3]))["rank_buckets"]
assert v["buckets"] and all(b["compare_targets"] is None for b in v["buckets"]), v
assert all(r["compare"]["numerator"] is None and r["compare"]["delta"] is None
           for b in v["buckets"] for r in b["rows"]), v
print("ok: no ranks: no bucket section; beside it, no compared buckets")
PYEOF

# Bad bounds: exit 64, the bad value named.
for bad in 10,abc 50,10 0 10,,20 99999999999; do
	expect_rc 64 "$MXCRAWL" report --campaign rep --rank-buckets "$bad"
	want=${bad##*,}
	case $bad in 50,10) want=10 ;; 10,,20) want="''" ;; esac
	grep -q -- "--rank-buckets: .*${want}" "$TEST_WORK/err" ||
		fail "--rank-buckets $bad: $(cat "$TEST_WORK/err")"
done
echo "ok: bad --rank-buckets values are refused with exit 64, named"

# The bucket check can fail: a bucket that leaves out its last rank
# (rank < N instead of rank <= N) differs from the truth.
cp -r "$MXCRAWL_SRC/analysis" "$TEST_WORK/analysis-lt"
sed -i 's/r.rank <= %4$s/r.rank < %4$s/; s/AND rank <= %4$s/AND rank < %4$s/' \
	"$TEST_WORK/analysis-lt/000_scope.sql"
grep -q 'r.rank < %4$s' "$TEST_WORK/analysis-lt/000_scope.sql" ||
	fail "could not break the bucket filter"
"$MXCRAWL" report --campaign rep --rank-buckets $BUCKETS --format json \
	--analysis-dir "$TEST_WORK/analysis-lt" -o "$R/lt.json" ||
	fail "report with a broken bucket filter"
if "$PY" "$MXCRAWL_SRC/tests/integration/metrics_from_truth.py" --buckets \
	"$RANKS" "$BUCKETS" "$TESTBED_TRUTH" "$R/lt.json" >"$TEST_WORK/lt.out"; then
	fail "a bucket without its last rank passes the truth check"
fi
echo "ok: a wrong bucket filter fails the truth check"

# A definition edited in a copy of analysis/ shows without a re-scan.
cp -r "$MXCRAWL_SRC/analysis" "$TEST_WORK/analysis"
sed -i "s/('banner 220', 7,/('greeted with 220', 7,/" "$TEST_WORK/analysis/010_funnel.sql"
"$MXCRAWL" report --campaign rep --analysis-dir "$TEST_WORK/analysis" --format csv >"$R/edited.csv" ||
	fail "report --analysis-dir"
grep -q '"funnel","share","domain","greeted with 220"' "$R/edited.csv" ||
	fail "the edited definition is not used"
echo "ok: --analysis-dir uses the edited definition"
# The report writes nothing: its views lived in its transaction only.
expect_eq "report schemas after the reports" \
	"$(sql "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'analysis%'")" 0
# A broken file: exit 70, the file and its line named, nothing stays.
printf -- '-- broken\nCREATE VIEW broken AS SELECT no_such_column FROM endpoint;\n' \
	>"$TEST_WORK/analysis/099_broken.sql"
expect_rc 70 "$MXCRAWL" report --campaign rep --analysis-dir "$TEST_WORK/analysis"
grep -q "099_broken.sql:2: column \"no_such_column\" does not exist" "$TEST_WORK/err" ||
	fail "the failing file and line are not named: $(cat "$TEST_WORK/err")"
expect_eq "report schemas after a failed report" \
	"$(sql "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'analysis%'")" 0
expect_rc 64 "$MXCRAWL" report --format xml
expect_rc 65 "$MXCRAWL" report --campaign no-such-campaign

# -o never replaces what is not a regular file (mxcrawl runs as root: a
# report to /dev/null once replaced the device with a file). A FIFO stands
# in for the device here: it is written in place, and stays a FIFO.
mkfifo "$TEST_WORK/fifo"
cat "$TEST_WORK/fifo" >"$R/from-fifo.json" &
reader=$!
"$MXCRAWL" report --campaign rep --format json --rank-buckets $BUCKETS \
	-o "$TEST_WORK/fifo" ||
	fail "report -o FIFO"
if [ ! -p "$TEST_WORK/fifo" ]; then
	kill "$reader" # it still waits for a writer that never came
	fail "report -o replaced a FIFO"
fi
wait "$reader" || fail "the FIFO's reader"
cmp -s "$R/from-fifo.json" "$R/report.json" || fail "the report through a FIFO differs"
# A .zst name is compressed, and decompresses to the same report.
"$MXCRAWL" report --campaign rep --format json --rank-buckets $BUCKETS \
	-o "$R/report.json.zst" ||
	fail "report -o .zst"
zstd -q -d -c "$R/report.json.zst" | cmp -s - "$R/report.json" ||
	fail "report -o .zst does not decompress to the report"
echo "ok: -o writes a FIFO in place and compresses .zst"
echo PASS
