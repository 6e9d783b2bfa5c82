#!/usr/bin/env bash
# scripts/cron-campaign: two concurrent runs of one series → one scans, the
# other exits 75 at once without creating a campaign (the lock is in
# PostgreSQL); two runs in a row → two campaigns with distinct names, both
# in `mxcrawl campaign list`; a campaign of the series left unfinished is
# finished by the next run, and another series' is left alone.
# DNS only (--no-servers, --no-smtp) over five domains, so it is fast.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-servers

CRON=$MXCRAWL_SRC/scripts/cron-campaign
export MXCRAWL
opts=(--no-smtp --progress 0 --format plain "${allow_args[@]}")
head -n 5 "$TESTBED_TARGETS" >"$TEST_WORK/five.txt"

grep -qx 'set -euo pipefail' "$CRON" || fail "cron-campaign must set -euo pipefail"
expect_rc 64 "$CRON" only-a-name
expect_rc 66 "$CRON" nightly "$TEST_WORK/missing.txt"
expect_rc 64 "$CRON" nightly "$TEST_WORK/five.txt" --campaign x
"$MXCRAWL" db migrate -q
expect_eq "no campaign after usage errors" "$(sql "SELECT count(*) FROM campaign")" 0

series_count() {
	sql "SELECT count(*) FROM campaign WHERE name LIKE 'nightly-%'"
}
lock_held() {
	[ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted
		AND a.application_name LIKE 'mxcrawl campaign lock%'")" = 1 ]
}

# Run A reads its targets from a FIFO, so it holds the lock until the test
# writes them: B then certainly overlaps it.
mkfifo "$TEST_WORK/fifo"
"$CRON" nightly "$TEST_WORK/fifo" "${opts[@]}" >"$TEST_WORK/a.out" 2>"$TEST_WORK/a.err" &
a_pid=$!
poll_until 60 "run A holds the lock" lock_held
before=$(sql "SELECT count(*) FROM campaign")
expect_rc 75 "$CRON" nightly "$TEST_WORK/five.txt" "${opts[@]}"
grep -q "'cron-campaign:nightly' is locked by another run" "$TEST_WORK/err" ||
	fail "no clear message: $(cat "$TEST_WORK/err")"
echo "ok: the overlapping run said: $(grep locked "$TEST_WORK/err")"
expect_eq "campaigns after the refused run" "$(sql "SELECT count(*) FROM campaign")" "$before"
# Another series is not blocked by this one's lock (it only fails here
# because its target file is missing).
expect_rc 66 "$CRON" weekly "$TEST_WORK/missing.txt" "${opts[@]}"
timeout 120 cp "$TEST_WORK/five.txt" "$TEST_WORK/fifo"
a_rc=0
wait "$a_pid" || a_rc=$?
[ "$a_rc" = 0 ] || { cat "$TEST_WORK/a.err" >&2; fail "run A exited $a_rc"; }
expect_eq "series campaigns after A" "$(series_count)" 1

# B, in a row: a second campaign with its own name.
"$CRON" nightly "$TEST_WORK/five.txt" "${opts[@]}" 2>"$TEST_WORK/b.err" ||
	{ cat "$TEST_WORK/b.err" >&2; fail "run B failed"; }
expect_eq "series campaigns after B" "$(series_count)" 2
expect_eq "distinct names, both done" \
	"$(sql "SELECT count(DISTINCT name) || ' ' || string_agg(DISTINCT state, ',') FROM campaign WHERE name LIKE 'nightly-%'")" "2 done"
expect_eq "names from the default format" \
	"$(sql "SELECT count(*) FROM campaign WHERE name ~ '^nightly-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$'")" 2
"$MXCRAWL" campaign list >"$TEST_WORK/list.txt"
for n in $(sql "SELECT name FROM campaign WHERE name LIKE 'nightly-%'"); do
	grep -q "^[0-9]* *$n *done *[0-9TZ:-]* *5 *5 " "$TEST_WORK/list.txt" ||
		fail "campaign list lacks $n: $(cat "$TEST_WORK/list.txt")"
done
echo "ok: campaign list shows both"
expect_eq "lock released" "$(lock_held && echo held || echo free)" free

# Idempotent: an unfinished campaign of the series (as a crash leaves it)
# is finished by the next run, which then starts its own; an unfinished
# campaign of the series "nightly-eu" is not this series'.
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign nightly-20000101T000000Z \
	--import-only --progress 0 2>/dev/null
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign nightly-eu-20000101T000000Z \
	--import-only --progress 0 2>/dev/null
"$CRON" nightly "$TEST_WORK/five.txt" "${opts[@]}" 2>"$TEST_WORK/c.err" ||
	{ cat "$TEST_WORK/c.err" >&2; fail "run C failed"; }
grep -q "resuming unfinished campaign 'nightly-20000101T000000Z'" "$TEST_WORK/c.err" ||
	fail "no resume: $(cat "$TEST_WORK/c.err")"
expect_eq "unfinished one finished" \
	"$(sql "SELECT state || ' ' || (SELECT count(*) FROM domain_dns d WHERE d.campaign_id = c.id) FROM campaign c WHERE name = 'nightly-20000101T000000Z'")" "done 5"
expect_eq "other series untouched" \
	"$(sql "SELECT state FROM campaign WHERE name = 'nightly-eu-20000101T000000Z'")" queued
expect_eq "series campaigns after C" \
	"$(sql "SELECT count(*) FROM campaign WHERE name ~ '^nightly-[0-9]{8}T'")" 4

# A --name-format of the user's (one without the time, so that the second
# run's name is certainly taken and made unique).
for run in d e; do
	"$CRON" adhoc "$TEST_WORK/five.txt" --name-format 'v1' "${opts[@]}" 2>"$TEST_WORK/$run.err" ||
		{ cat "$TEST_WORK/$run.err" >&2; fail "run $run failed"; }
done
expect_eq "--name-format names" \
	"$(sql "SELECT string_agg(name, ',' ORDER BY id) FROM campaign WHERE name LIKE 'adhoc-%'")" \
	"adhoc-v1,adhoc-v1-2"
echo PASS
