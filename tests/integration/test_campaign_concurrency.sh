#!/usr/bin/env bash
# Campaigns never block each other (issue M8 item 3). While a long reader
# holds its transaction open on every campaign-partitioned table (a psql
# session the test drives through a FIFO, and an export of campaign A
# whose output nobody reads yet), and a drop of campaign E waits for them,
# the import of a new campaign B must complete, a crawler of campaign C
# must make progress, a report of A must be made (while another report
# of A is held mid-way) and campaign D cancelled, each within a bounded
# time; E is gone once the readers end.
# Creating B's partitions with `CREATE TABLE ... PARTITION OF` would wait
# for the readers' locks to go (ACCESS EXCLUSIVE on the parents), and C's
# crawler would queue behind it. Two reports that each created the schema
# `analysis` in their transaction would run one after the other.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

BG=()
conc_cleanup() {
	local p
	for p in "${BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	test_cleanup
}
trap conc_cleanup EXIT

testbed_up --no-postfix --no-servers --domains 1500

ntargets=$(grep -c . "$TESTBED_TARGETS")

# A: scanned, to be exported and reported. C, D and E: imported only.
expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign A \
	"${allow_args[@]}" --no-smtp --workers 2 --concurrency 200 --progress 0
# The first report with --analysis-dir sets up the private cluster's
# analyst role (schema/roles.sql: it hands every table to the owner
# group, which waits for readers): done here, before the readers.
expect_rc 0 "$MXCRAWL" report --campaign A --format json -o /dev/null \
	--analysis-dir "$MXCRAWL_SRC/analysis"
for c in C D E; do
	expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign "$c" \
		--import-only --batch-size 10
done
cid=$(sql "SELECT id FROM campaign WHERE name = 'C'")
tables=$(sql "SELECT string_agg(format('SELECT count(*) FROM %I', table_name), '; ')
	FROM campaign_partitioned")

# The long reader: a psql session that reads every partitioned table in
# one transaction and keeps it open until the test writes COMMIT.
mkfifo "$TEST_WORK/reader.in" "$TEST_WORK/reader.out"
psql "$("$MXCRAWL" db conninfo)" -X -A -t -q -v ON_ERROR_STOP=1 \
	<"$TEST_WORK/reader.in" >"$TEST_WORK/reader.out" 2>&1 &
BG+=("$!")
reader=$!
exec 7>"$TEST_WORK/reader.in" 8<"$TEST_WORK/reader.out"
# It also holds an advisory lock (until it quits) that a report waits
# for below.
printf 'SELECT pg_advisory_lock(4242);\nBEGIN;\n%s;\n\\echo reader-ready\n' "$tables" >&7
while read -r -t 60 line <&8; do
	[ "$line" = reader-ready ] && break
done
[ "${line:-}" = reader-ready ] || fail "the reader did not start: ${line:-}"
echo "ok: a reader holds every partitioned table"

# The long export: its output goes to a FIFO the test holds open without
# reading, so the export stops once the pipe is full, mid-transaction.
mkfifo "$TEST_WORK/export.fifo"
exec 9<>"$TEST_WORK/export.fifo"
# (Children get none of the test's FIFO ends: a writer left in one would
# keep its reader from seeing the end.)
"$MXCRAWL" export --campaign A --format jsonl >"$TEST_WORK/export.fifo" \
	2>"$TEST_WORK/export.err" 7>&- 8<&- 9<&- &
exporter=$!
BG+=("$exporter")
# Blocked: its backend waits to write, or (a client-side cursor) idles in
# its transaction beside the reader's.
export_stuck() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
		  AND (wait_event = 'ClientWrite' OR state = 'idle in transaction')")" -ge 2 ]
}
poll_until 60 "the export to block on its output" export_stuck
echo "ok: the export of A is stuck writing"

done_batches() {
	sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid
		AND done_at IS NOT NULL"
}
test_done_batches() { # test_done_batches OP N
	test "$(done_batches)" "$1" "$2"
}

# The crawler of C, slow enough to be still running at the end.
"$MXCRAWL" scan --campaign C --resume "${allow_args[@]}" --no-smtp \
	--concurrency 20 --rate 30 --progress 0 2>"$TEST_WORK/crawl-C.err" \
	7>&- 8<&- 9<&- &
crawler=$!
BG+=("$crawler")
poll_until 60 "the crawler of C to finish a batch" test_done_batches -ge 1

# The drop of E: it detaches E's partitions without a lock that readers or
# writers wait for, and waits (holding none) for the reader and the export
# to end before it lets go of each.
eid=$(sql "SELECT id FROM campaign WHERE name = 'E'")
"$MXCRAWL" campaign drop E --yes --wait 600 >"$TEST_WORK/drop-E.out" \
	2>"$TEST_WORK/drop-E.err" 7>&- 8<&- 9<&- &
dropper=$!
BG+=("$dropper")
drop_waits() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity
		WHERE wait_event = 'virtualxid' AND query ~ '^ALTER TABLE'")" -ge 1 ]
}
poll_until 60 "the drop of E to wait for the readers" drop_waits
echo "ok: the drop of E waits for the readers"

# The import of B (a new campaign: new partitions) must complete.
rc=0
timeout 60 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign B \
	--import-only --batch-size 10 2>"$TEST_WORK/import-B.err" || rc=$?
[ "$rc" = 0 ] || {
	cat "$TEST_WORK/import-B.err" >&2
	fail "the import of B exited $rc while the readers were open (124: timed out)"
}
expect_eq "state and targets of B" \
	"$(sql "SELECT state || '/' || targets FROM campaign WHERE name = 'B'")" \
	"queued/$ntargets"

# The crawler keeps going after B's partitions exist.
before=$(done_batches)
poll_until 60 "the crawler of C to progress after the import" \
	test_done_batches -gt "$before"
echo "ok: the crawler of C progressed ($before, then $(done_batches) batches)"

# A report of A held mid-way: its views made, its last analysis file
# waits for the reader's advisory lock.
cp -r "$MXCRAWL_SRC/analysis" "$TEST_WORK/analysis-held"
echo 'SELECT pg_advisory_xact_lock_shared(4242);' >"$TEST_WORK/analysis-held/999_hold.sql"
"$MXCRAWL" report --campaign A --format json -o "$TEST_WORK/A-held.json" \
	--analysis-dir "$TEST_WORK/analysis-held" 2>"$TEST_WORK/report-held.err" \
	7>&- 8<&- 9<&- &
held=$!
BG+=("$held")
report_held() {
	[ "$(sql "SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted")" -ge 1 ]
}
poll_until 60 "the first report of A to wait in its last file" report_held
echo "ok: a report of A is held in its transaction"

# Another report of A and the cancellation of D, meanwhile.
rc=0
timeout 120 "$MXCRAWL" report --campaign A --format json -o "$TEST_WORK/A.json" \
	2>"$TEST_WORK/report.err" || rc=$?
[ "$rc" = 0 ] || { cat "$TEST_WORK/report.err" >&2; fail "report of A exited $rc"; }
rc=0
timeout 60 "$MXCRAWL" campaign cancel D >/dev/null 2>"$TEST_WORK/cancel.err" || rc=$?
[ "$rc" = 0 ] || { cat "$TEST_WORK/cancel.err" >&2; fail "cancel of D exited $rc"; }
expect_eq "state of D" "$(sql "SELECT state FROM campaign WHERE name = 'D'")" cancelled

# The readers were open all along.
kill -0 "$reader" || fail "the reader ended early"
kill -0 "$exporter" || fail "the export ended early"
kill -0 "$held" || fail "the held report ended early"

# Let them go: the reader commits, the export's output is read.
printf 'COMMIT;\n\\q\n' >&7
exec 7>&-
wait "$reader" || fail "the reader failed: $(cat "$TEST_WORK/reader.out")"
rc=0
wait "$held" || rc=$?
[ "$rc" = 0 ] || { cat "$TEST_WORK/report-held.err" >&2; fail "the held report of A exited $rc"; }
cmp -s "$TEST_WORK/A.json" "$TEST_WORK/A-held.json" ||
	fail "the two reports of A differ"
cat "$TEST_WORK/export.fifo" >"$TEST_WORK/export.jsonl" 7>&- 8<&- 9<&- &
drain=$!
rc=0
wait "$exporter" || rc=$?
# The last writer is gone once the test closes its end: cat sees the end.
exec 9<&- 8<&-
wait "$drain" || fail "reading the export"
[ "$rc" = 0 ] || { cat "$TEST_WORK/export.err" >&2; fail "export exited $rc"; }
expect_eq "records exported of A" "$(grep -c . "$TEST_WORK/export.jsonl")" "$ntargets"

rc=0
wait "$dropper" || rc=$?
[ "$rc" = 0 ] || { cat "$TEST_WORK/drop-E.err" >&2; fail "the drop of E exited $rc"; }
expect_eq "E's tables" "$(sql "SELECT count(*) FROM pg_class WHERE relname ~ '_$eid\$' AND relkind IN ('r', 'p')")" 0
expect_eq "campaign E" "$(sql "SELECT count(*) FROM campaign WHERE name = 'E'")" 0

rc=0
wait "$crawler" || rc=$?
[ "$rc" = 0 ] || { cat "$TEST_WORK/crawl-C.err" >&2; fail "the crawler of C exited $rc"; }
expect_eq "state of C" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
# A campaign still being imported is not there for a crawler, and its name
# is taken (here one 'importing' that holds targets, which no import
# leaves: test_campaign_drop cuts imports short).
sql "UPDATE campaign SET state = 'importing' WHERE name = 'B'"
expect_rc 65 "$MXCRAWL" scan --campaign B --resume "${allow_args[@]}" --no-smtp
grep -q "no campaign named 'B' to resume" "$TEST_WORK/err" || fail "resume of B: $(cat "$TEST_WORK/err")"
expect_rc 69 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign B --import-only
grep -q "campaign 'B' is left 'importing' but holds targets" "$TEST_WORK/err" ||
	fail "import of B again: $(cat "$TEST_WORK/err")"
echo "ok: test_campaign_concurrency"
