#!/usr/bin/env bash
# The embedded default database: the private cluster is created, started,
# migrated (twice: the second run is a no-op), takes a 100,000-name Tranco
# import through COPY, leases batches with SKIP LOCKED and a lease expiry on
# the database's clock, and `db stop` leaves no process behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

expect_rc 69 "$MXCRAWL" db status
grep -q '^state: not created' "$TEST_WORK/out" || fail "status before start"

expect_rc 0 "$MXCRAWL" db start
pid=$(cluster_pid)
[ -n "$pid" ] && kill -0 "$pid" || fail "no postmaster after db start"
expect_rc 0 "$MXCRAWL" db status
grep -q "^state: running (pid $pid)" "$TEST_WORK/out" || fail "status: $(cat "$TEST_WORK/out")"
if [ "$(id -u)" = 0 ]; then
	expect_eq "postmaster user (root runs it unprivileged)" \
		"$(ps -o user= -p "$pid" | tr -d ' ')" "${MXCRAWL_DB_OS_USER:-mxcrawl}"
fi
# Unix socket only: no TCP listener is configured.
expect_eq "listen_addresses" "$(sql 'SHOW listen_addresses')" ""

expect_rc 0 "$MXCRAWL" db migrate
grep -q 'migrations applied' "$TEST_WORK/out" || fail "first migrate: $(cat "$TEST_WORK/out")"
first_version=$(sql 'SELECT max(version) FROM schema_version')
expect_rc 0 "$MXCRAWL" db migrate
grep -q 'up to date' "$TEST_WORK/out" || fail "second migrate: $(cat "$TEST_WORK/out")"
expect_eq "schema version after second migrate" \
	"$(sql 'SELECT max(version) FROM schema_version')" "$first_version"
expect_eq "migrations recorded once" \
	"$(sql 'SELECT count(*) = count(DISTINCT version) FROM schema_version')" "t"

# A Tranco-style list: 100,000 unique names with ranks, plus known junk:
# three bad lines and two duplicates (all counts known by construction).
list=$TEST_WORK/tranco.csv
awk 'BEGIN {
	for (i = 1; i <= 100000; i++) {
		printf "%d,site%d.example\r\n", i, i
		if (i == 10) print "11,bad name.example"
		if (i == 20) print "x,rankless.example"
		if (i == 30) print "31,*.wild.example"
		if (i == 40) print "41,SITE5.example."
		if (i == 50) print "51,site6.example"
	}
}' >"$list"

expect_rc 0 "$MXCRAWL" scan --import-only --targets "$list" --campaign m1-import
grep -q "imported only" "$TEST_WORK/err" || fail "scan --import-only must say what it did"
grep -q "tranco.csv:11: rejected (space)" "$TEST_WORK/err" || fail "line 11 not reported: $(head -5 "$TEST_WORK/err")"
grep -q "tranco.csv:22: rejected (bad_rank)" "$TEST_WORK/err" || fail "line 22 not reported"
grep -q "tranco.csv:33: rejected (wildcard)" "$TEST_WORK/err" || fail "line 33 not reported"
grep -q '^duplicates: 2$' "$TEST_WORK/err" || fail "duplicates not counted"

cid=$(sql "SELECT id FROM campaign WHERE name = 'm1-import'")
[ -n "$cid" ] || fail "campaign not created"
expect_eq "queued targets" "$(sql "SELECT count(*) FROM campaign_target WHERE campaign_id = $cid")" 100000
expect_eq "distinct domains" "$(sql "SELECT count(DISTINCT domain) FROM campaign_target WHERE campaign_id = $cid")" 100000
expect_eq "campaign.targets" "$(sql "SELECT targets FROM campaign WHERE id = $cid")" 100000
expect_eq "batches of 500" "$(sql "SELECT count(*) || ' ' || sum(targets) FROM campaign_batch WHERE campaign_id = $cid")" "200 100000"
expect_eq "rank kept" "$(sql "SELECT rank FROM campaign_target WHERE campaign_id = $cid AND domain = 'site77777.example'")" 77777
expect_eq "source line kept" "$(sql "SELECT source_line FROM campaign_target WHERE campaign_id = $cid AND domain = 'site12.example'")" 13
expect_eq "partitioned by campaign" "$(sql "SELECT count(*) FROM campaign_target_$cid")" 100000

# The same name again is refused, and nothing is imported twice.
expect_rc 65 "$MXCRAWL" scan --import-only --targets "$list" --campaign m1-import
grep -q 'already exists' "$TEST_WORK/err" || fail "duplicate campaign not refused"
expect_eq "still one campaign" "$(sql "SELECT count(*) FROM campaign")" 1

# Leasing: a held lease is skipped; an expired one is taken again.
expect_eq "first lease" "$(sql "SELECT batch_no FROM campaign_lease($cid, 'w1', '10 minutes')")" 0
expect_eq "second lease skips the held batch" "$(sql "SELECT batch_no FROM campaign_lease($cid, 'w2', '0 seconds')")" 1
expect_eq "expired lease is taken again" "$(sql "SELECT batch_no || '/' || attempts FROM campaign_lease($cid, 'w3', '10 minutes')")" "1/2"

# An empty file queues nothing: its campaign stays 'importing' without
# targets, and says so; the same import with a good list takes it over.
: >"$TEST_WORK/empty.txt"
expect_rc 65 "$MXCRAWL" scan --import-only --targets "$TEST_WORK/empty.txt" --campaign empty
grep -q "stays 'importing'" "$TEST_WORK/err" || fail "an empty list does not say its campaign stays 'importing'"
expect_eq "empty list: campaign state, targets, batches" \
	"$(sql "SELECT c.state || ' ' || c.targets || ' ' || (SELECT count(*) FROM campaign_batch b WHERE b.campaign_id = c.id) FROM campaign c WHERE name = 'empty'")" \
	"importing 0 0"
empty_id=$(sql "SELECT id FROM campaign WHERE name = 'empty'")
printf 'a.example\nb.example\n' >"$TEST_WORK/two.txt"
"$MXCRAWL" scan --import-only --targets "$TEST_WORK/two.txt" --campaign empty >/dev/null 2>"$TEST_WORK/err" ||
	fail "re-running the import of 'empty' failed: $(cat "$TEST_WORK/err")"
expect_eq "re-run takes the campaign over: id, state, targets" \
	"$(sql "SELECT id || ' ' || state || ' ' || targets FROM campaign WHERE name = 'empty'")" \
	"$empty_id queued 2"

# An unreachable server: one clear message naming the parameters, never
# the password.
expect_rc 69 "$MXCRAWL" db migrate --db "host=$TEST_WORK/nowhere port=5 dbname=x user=u password=sekrit"
grep -q "cannot connect to PostgreSQL (host=$TEST_WORK/nowhere port=5 dbname=x user=u" "$TEST_WORK/err" ||
	fail "unreachable message: $(cat "$TEST_WORK/err")"
grep -q sekrit "$TEST_WORK/err" && fail "the password was printed"
expect_rc 69 "$MXCRAWL" db status --db "postgresql://u:sekrit@127.0.0.1:1/x"
grep -q sekrit "$TEST_WORK/out" "$TEST_WORK/err" && fail "the password was printed (URI)"

expect_rc 0 "$MXCRAWL" db stop
wait_gone "$pid" || fail "postmaster $pid still running after db stop"
[ -z "$(cluster_pid || true)" ] || fail "postmaster.pid left behind"
expect_rc 69 "$MXCRAWL" db status
grep -q '^state: stopped' "$TEST_WORK/out" || fail "status after stop"
echo "PASS"
