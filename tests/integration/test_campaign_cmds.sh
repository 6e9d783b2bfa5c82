#!/usr/bin/env bash
# mxcrawl campaign list | show | cancel | lock against campaigns imported
# with `scan --import-only` (no network needed), cancel's effect on the
# queue (campaign_lease hands out no batch of a cancelled campaign), and
# the man page: it renders without warnings and names every subcommand and
# every long option that `mxcrawl CMD --help` prints.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MAN=$MXCRAWL_SRC/mxcrawl.1
PY=/usr/bin/python3

# ---- the man page ----------------------------------------------------------
[ -f "$MAN" ] || fail "no man page at $MAN"
# The roff source with its escapes for '-' undone, and its rendering when
# man(1) is installed: both must hold every name.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$MAN" >"$TEST_WORK/man.txt"
if command -v man >/dev/null; then
	MANWIDTH=200 man --warnings -l "$MAN" >"$TEST_WORK/man.out" 2>"$TEST_WORK/man.err" ||
		fail "man -l failed: $(cat "$TEST_WORK/man.err")"
	[ ! -s "$TEST_WORK/man.err" ] || fail "man warnings: $(cat "$TEST_WORK/man.err")"
	# groff may print a hyphen as U+2010; join the two views.
	sed 's/‐/-/g' "$TEST_WORK/man.out" >>"$TEST_WORK/man.txt"
	echo "ok: man -l renders without warnings"
fi
"$MXCRAWL" --help >"$TEST_WORK/help.txt"
cmds=$(sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' "$TEST_WORK/help.txt")
[ "$(echo "$cmds" | wc -w)" -ge 7 ] || fail "cannot read the command list: $cmds"
missing=()
for cmd in $cmds; do
	grep -q "mxcrawl $cmd" "$TEST_WORK/man.txt" || missing+=("command $cmd")
	"$MXCRAWL" "$cmd" --help >"$TEST_WORK/cmd-help.txt"
	for opt in $(grep -o -- '--[a-z][a-z0-9-]*' "$TEST_WORK/cmd-help.txt" | sort -u); do
		grep -q -- "$opt\b" "$TEST_WORK/man.txt" || missing+=("$cmd $opt")
	done
done
for action in migrate start stop status conninfo list show cancel lock; do
	grep -q "^\.B $action\$\|^\.BI \"$action \|$action|" "$MAN" || missing+=("action $action")
done
for var in MXCRAWL_DB MXCRAWL_RESOLVER MXCRAWL_CA_FILE MXCRAWL_CANARY_SECURE \
	MXCRAWL_CANARY_BOGUS PGHOST XDG_DATA_HOME; do
	grep -q "$var" "$TEST_WORK/man.txt" || missing+=("variable $var")
done
for code in 0 64 65 66 69 70 75 78; do
	grep -q "^\.B $code\$" "$MAN" || missing+=("exit status $code")
done
[ ${#missing[@]} = 0 ] || fail "the man page lacks: ${missing[*]}"
echo "ok: the man page names every command, option, action, variable and exit status"

# ---- usage errors ------------------------------------------------------------
expect_rc 64 "$MXCRAWL" campaign
expect_rc 64 "$MXCRAWL" campaign frobnicate
expect_rc 64 "$MXCRAWL" campaign show
expect_rc 64 "$MXCRAWL" campaign list extra
expect_rc 64 "$MXCRAWL" campaign list --format yaml
expect_rc 64 "$MXCRAWL" campaign show x --prefix y
expect_rc 64 "$MXCRAWL" campaign lock only-a-name
expect_rc 64 "$MXCRAWL" campaign lock name --
expect_rc 64 "$MXCRAWL" campaign show x -- true

# ---- list, show ------------------------------------------------------------------
printf 'a.example\nb.example\nc.example\nd.example\ne.example\n' >"$TEST_WORK/five.txt"
expect_rc 0 "$MXCRAWL" campaign list
grep -q "(no campaigns)" "$TEST_WORK/out" || fail "empty list: $(cat "$TEST_WORK/out")"
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign alpha --batch-size 2 \
	--import-only --vantage lab-1 2>/dev/null
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign beta --batch-size 5 \
	--import-only 2>/dev/null
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign "gamma with spaces" \
	--import-only 2>/dev/null
version=$("$MXCRAWL" --version | cut -d' ' -f2)

expect_rc 0 "$MXCRAWL" campaign list
expect_eq "list rows" "$(grep -c . "$TEST_WORK/out")" 4
grep -q "^ID *NAME *STATE *CREATED *TARGETS *DONE *VERSION *VANTAGE *BYTES$" "$TEST_WORK/out" ||
	fail "list header: $(head -1 "$TEST_WORK/out")"
grep -q "^1 *alpha *queued *20[0-9-]*T[0-9:]*Z *5 *0 *$version *lab-1 *[0-9][0-9]*$" "$TEST_WORK/out" ||
	fail "list row: $(cat "$TEST_WORK/out")"
expect_rc 0 "$MXCRAWL" campaign list --format tsv --prefix "gamma w"
expect_eq "tsv row" "$(cut -f1-3,5,6 "$TEST_WORK/out")" "$(printf '3\tgamma with spaces\tqueued\t5\t0')"
expect_rc 0 "$MXCRAWL" campaign list --format json
expect_eq "json list" "$("$PY" -c 'import json,sys
l = json.load(open(sys.argv[1]))
print(" ".join("%s:%s:%s:%s" % (c["id"], c["name"], c["targets"], c["targets_done"]) for c in l))' "$TEST_WORK/out")" \
	"1:alpha:5:0 2:beta:5:0 3:gamma with spaces:5:0"

expect_rc 0 "$MXCRAWL" campaign show alpha
grep -q "^  batches: 0 done, 0 leased, 3 open, of 3$" "$TEST_WORK/out" || fail "show batches: $(cat "$TEST_WORK/out")"
grep -q "^  targets: 0 done of 5$" "$TEST_WORK/out" || fail "show targets"
grep -q "^  campaign_target *5$" "$TEST_WORK/out" || fail "show facts"
grep -q '"batch_size": 2' "$TEST_WORK/out" || fail "show config"
grep -q "^  0 scan: " "$TEST_WORK/out" || fail "show judgement set 0"
# A leased batch shows as leased; show by id as well as by name.
sql "SELECT * FROM campaign_lease(1, 'test-worker', '10 minutes')" >/dev/null
expect_rc 0 "$MXCRAWL" campaign show 1 --format json
expect_eq "show json" "$("$PY" -c 'import json,sys
c = json.load(open(sys.argv[1]))
p = c["progress"]
print(c["name"], c["vantage"], c["config"]["batch_size"], p["batches"], p["batches_done"],
      p["batches_leased"], p["batches_open"], p["targets_done"], c["facts"]["campaign_batch"],
      [s["id"] for s in c["judgement_sets"]])' "$TEST_WORK/out")" "alpha lab-1 2 3 0 1 2 0 3 [0]"

expect_rc 65 "$MXCRAWL" campaign show no-such-campaign
grep -q "no campaign 'no-such-campaign'" "$TEST_WORK/err" || fail "unknown campaign message"
expect_rc 65 "$MXCRAWL" campaign cancel 999
grep -q "no campaign '999'" "$TEST_WORK/err" || fail "unknown id message"

# ---- cancel ------------------------------------------------------------------------
lease_rows() {
	sql "SELECT count(*) FROM campaign_lease($1, 'test-worker', '10 minutes')"
}
expect_rc 0 "$MXCRAWL" campaign cancel alpha
grep -q "cancelled campaign 'alpha' (id 1; was queued)" "$TEST_WORK/out" || fail "cancel: $(cat "$TEST_WORK/out")"
grep -q "the 1 batches in flight are finished" "$TEST_WORK/out" || fail "cancel in-flight count"
expect_eq "state" "$(sql "SELECT state FROM campaign WHERE id = 1")" cancelled
expect_eq "a cancelled campaign leases nothing" "$(lease_rows 1)" 0
expect_eq "another campaign still leases" "$(lease_rows 2)" 1
# The batch in flight can still complete and keep its results.
expect_eq "in-flight batch completes" \
	"$(sql "SELECT campaign_complete(1, (SELECT batch_no FROM campaign_batch WHERE campaign_id = 1 AND leased_by = 'test-worker'))")" t
expect_rc 0 "$MXCRAWL" campaign cancel 1
grep -q "already cancelled" "$TEST_WORK/out" || fail "cancel twice"
# Resuming a cancelled campaign is refused before any packet is sent.
expect_rc 65 "$MXCRAWL" scan --campaign alpha --resume --no-smtp
grep -q "campaign 'alpha' is cancelled" "$TEST_WORK/err" || fail "resume cancelled: $(cat "$TEST_WORK/err")"
# A scan marking its campaign running or done never undoes a cancel
# (store_set_state), and a finished campaign cannot be cancelled.
sql "UPDATE campaign SET state = 'done' WHERE id = 2"
expect_rc 65 "$MXCRAWL" campaign cancel beta
grep -q "campaign 'beta' is done" "$TEST_WORK/err" || fail "cancel done: $(cat "$TEST_WORK/err")"
expect_eq "done stays done" "$(sql "SELECT state FROM campaign WHERE id = 2")" done
expect_rc 0 "$MXCRAWL" campaign list --state cancelled,done --format tsv
expect_eq "--state filter" "$(cut -f2,3 "$TEST_WORK/out" | tr '\t\n' ': ')" "alpha:cancelled beta:done "

# ---- lock ----------------------------------------------------------------------------
expect_rc 0 "$MXCRAWL" campaign lock test-lock -- true
expect_rc 3 "$MXCRAWL" campaign lock test-lock -- sh -c 'exit 3'
expect_rc 127 "$MXCRAWL" campaign lock test-lock -- "$TEST_WORK/no-such-program"
# While held, by a command that shows whether the lock is taken, another
# lock of the same name is refused with 75, and a different name is not.
expect_rc 0 "$MXCRAWL" campaign lock test-lock -- sh -c '
	"$MXCRAWL" campaign lock test-lock -- true; echo "same:$?"
	"$MXCRAWL" campaign lock other-lock -- true; echo "other:$?"'
expect_eq "nested locks" "$(tr '\n' ' ' <"$TEST_WORK/out")" "same:75 other:0 "
grep -q "'test-lock' is locked by another run (PostgreSQL backend [0-9]*, client local, 'mxcrawl campaign lock (pid [0-9]*)'" \
	"$TEST_WORK/err" || fail "lock holder message: $(cat "$TEST_WORK/err")"
# ---- an import cut off by the database ----------------------------------------
# The importing session is ended from outside while its COPY runs: the
# crawler says PostgreSQL's reason, exits 69 (the database is gone) and
# does not blame the target file, which it read without fault.
seq -f 'd%.0f.example' 1 3000000 >"$TEST_WORK/many.txt"
"$MXCRAWL" scan --targets "$TEST_WORK/many.txt" --campaign cut-off --import-only \
	>"$TEST_WORK/out" 2>"$TEST_WORK/err" &
import_pid=$!
CRAWLERS+=("$import_pid")
copying() {
	kill -0 "$import_pid" 2>/dev/null || fail "the import ended before it could be cut off"
	[ "$(sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	          WHERE query LIKE 'COPY campaign_target%'")" = t ]
}
poll_until 60 "the import's COPY" copying
rc=0
wait "$import_pid" || rc=$?
[ "$rc" = 69 ] || fail "import cut off: exit $rc, not 69: $(cat "$TEST_WORK/err")"
grep -q "terminating connection due to administrator command" "$TEST_WORK/err" ||
	fail "PostgreSQL's reason not said: $(cat "$TEST_WORK/err")"
grep -q "reading '" "$TEST_WORK/err" &&
	fail "the target file is blamed: $(cat "$TEST_WORK/err")"
echo "ok: an import whose session ends says why and exits 69"
echo PASS
