#!/usr/bin/env bash
# mxcrawl export at scan speed (issue M8 item 1): the documents it builds
# from streamed rows equal the reference view export_document for every
# domain of the testbed, in target order, with "domain" first; the CSV
# parses with Python's csv module and matches the documents on every
# headline column (and the ladder rung the truth file gives); -o FILE
# writes .zst and .gz that decompress to the same bytes, replaces a
# regular file only when complete, and writes /dev/null and a FIFO in
# place without replacing them; another campaign's rows never leak in.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3

# A small campaign first (DNS stage only), so that the campaign of interest
# is not the only one in the partitioned tables; its name needs quoting in
# CSV (RFC 4180) and escaping in JSON.
few='few, "q"'
head -n 20 "$TESTBED_TARGETS" >"$TEST_WORK/few.txt"
"$MXCRAWL" scan --targets "$TEST_WORK/few.txt" --campaign "$few" --no-smtp \
	"${allow_args[@]}" --workers 1 --concurrency 50 --progress 0 \
	2>"$TEST_WORK/scan-few.err" ||
	{ cat "$TEST_WORK/scan-few.err" >&2; fail "scan few failed"; }
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign exp "${allow_args[@]}" \
	--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
	2>"$TEST_WORK/scan.err" ||
	{ cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }

for camp in exp few; do
	name=$camp
	[ "$camp" = exp ] || name=$few
	cid=$(sql "SELECT id FROM campaign WHERE name = \$\$$name\$\$")
	# The reference: the view, as the export read it before M8.
	sql "SELECT target_id, doc FROM export_document WHERE campaign_id = $cid ORDER BY target_id" \
		>"$TEST_WORK/$camp-view.txt"
	"$MXCRAWL" export --campaign "$name" --format jsonl >"$TEST_WORK/$camp.jsonl" ||
		fail "export $camp"
	"$MXCRAWL" export --campaign "$name" --format csv >"$TEST_WORK/$camp.csv" ||
		fail "export $camp csv"
	"$PY" "$MXCRAWL_SRC/tests/integration/compare_export.py" \
		"$TEST_WORK/$camp-view.txt" "$TEST_WORK/$camp.jsonl" "$TEST_WORK/$camp.csv" ||
		fail "export of $camp differs from export_document"
	expect_eq "$camp: one document per scanned domain" \
		"$(grep -c . "$TEST_WORK/$camp.jsonl")" \
		"$(sql "SELECT count(*) FROM domain_dns WHERE campaign_id = $cid")"
done
grep -q '"handshake_records": \[{' "$TEST_WORK/exp.jsonl" || fail "no handshake record in the export"

# The ladder rung of the CSV is the truth's (tests/testbed/build.py ladder).
"$PY" - "$TESTBED_TRUTH" "$TEST_WORK/exp.csv" <<'PYEOF' || fail "CSV ladder differs from the truth"
import csv, json, sys
truth = {}
for l in open(sys.argv[1]):
    if l.strip():
        t = json.loads(l)
        truth[t["domain"]] = t
bad = []
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
for r in rows:
    t = truth.get(r["domain"])
    if t is None or "ladder" not in t:
        continue
    if r["ladder"] != t["ladder"]:
        bad.append("%s: csv %s truth %s" % (r["domain"], r["ladder"], t["ladder"]))
for b in bad:
    print(b)
print("ladder: %d rows, %d differ" % (len(rows), len(bad)))
sys.exit(1 if bad else 0)
PYEOF

# -o FILE: compression by suffix, the same bytes once decompressed.
cd "$TEST_WORK"
"$MXCRAWL" export --campaign exp --format jsonl -o exp.jsonl.zst || fail "-o .zst"
"$MXCRAWL" export --campaign exp --format jsonl -o exp.jsonl.gz || fail "-o .gz"
"$MXCRAWL" export --campaign exp --format csv -o exp-o.csv || fail "-o .csv"
zstd -q -d -c exp.jsonl.zst | cmp - exp.jsonl || fail ".zst differs"
gzip -d -c exp.jsonl.gz | cmp - exp.jsonl || fail ".gz differs"
cmp exp-o.csv exp.csv || fail "-o csv differs"
echo "ok: .zst, .gz and plain -o outputs equal stdout"

# A regular file is replaced whole; nothing is left beside it.
echo old >replace.jsonl
"$MXCRAWL" export --campaign "$few" --format jsonl -o replace.jsonl || fail "-o over a file"
cmp replace.jsonl few.jsonl || fail "replaced file differs"
expect_eq "no temporary file left" "$(find . -maxdepth 1 -name '.*.jsonl.*' | wc -l)" 0

# A link to a regular file: the file is replaced, the link stays a link.
echo old >target.jsonl
ln -s target.jsonl link.jsonl
"$MXCRAWL" export --campaign "$few" --format jsonl -o link.jsonl || fail "-o a link"
[ -L link.jsonl ] || fail "the link was replaced"
cmp target.jsonl few.jsonl || fail "the link's target differs"
echo "ok: a link's target written, the link kept"

# A missing directory: exit 73, nothing created.
expect_rc 73 "$MXCRAWL" export --campaign "$few" --format jsonl -o "$TEST_WORK/nodir/x.jsonl"

# Devices and FIFOs are written in place, never replaced.
"$MXCRAWL" export --campaign exp --format jsonl -o /dev/null || fail "-o /dev/null"
[ -c /dev/null ] || fail "/dev/null is no longer a character device"
echo "ok: /dev/null written, still a character device"
mkfifo fifo
cat fifo >from-fifo.jsonl &
reader=$!
"$MXCRAWL" export --campaign "$few" --format jsonl -o fifo || fail "-o FIFO"
wait "$reader"
[ -p fifo ] || fail "the FIFO was replaced"
cmp from-fifo.jsonl few.jsonl || fail "FIFO output differs"
echo "ok: FIFO written in place"
echo PASS
