#!/usr/bin/env bash
# The private resolver (M13 item 1): a scan without --resolver starts an
# unbound under the data directory that validates from the testbed's root
# (every DNS fact, DNSSEC status and EDE code of the scenarios equals the
# truth), the next scan reuses it (same PID), it outlives a crawler killed
# with its whole process group, `resolver status` says so, a running
# resolver started from other root hints is not reused, and
# `resolver stop` stops it by its PID.
#
# Network: every command that may start the resolver names the testbed's
# root hints and trust anchor (also the scans that reuse it: were it not
# running, they would start one from Debian's real root hints), inside
# this test's own network namespace (checked below: no route but
# loopback).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up
[ -z "$(ip route show default; ip -6 route show default)" ] ||
	fail "a default route: this test must run in a network namespace of its own"

PY=/usr/bin/python3
HINTS=$TB/dns/root.hints
ANCHOR=$TESTBED_ROOT_KEY
[ -f "$HINTS" ] && [ -f "$ANCHOR" ] || fail "the testbed has no root hints or trust anchor"
# The testbed's resolver is not used here: every scan below goes through
# the private one.
unset MXCRAWL_RESOLVER
own=(--root-hints "$HINTS" --trust-anchor "$ANCHOR")
RDIR=$XDG_DATA_HOME/mxcrawl/resolver
head -n 5 "$TESTBED_TARGETS" >"$TEST_WORK/five.txt"

status_field() { # status_field NAME: a line of the last `resolver status`
	sed -n "s/^$1: //p" "$TEST_WORK/out"
}

# ---- before: nothing there; usage errors send nothing ----------------------
expect_rc 69 "$MXCRAWL" resolver status
grep -q "^state: not created" "$TEST_WORK/out" || fail "status before: $(cat "$TEST_WORK/out")"
expect_rc 64 "$MXCRAWL" resolver start --root-hints dns/root.hints
grep -q "absolute path" "$TEST_WORK/err" || fail "relative hints: $(cat "$TEST_WORK/err")"
expect_rc 64 "$MXCRAWL" resolver stop --trust-anchor "$ANCHOR"
expect_rc 64 "$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign rel \
	--root-hints root.hints --trust-anchor "$ANCHOR"
expect_rc 64 "$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign both \
	--resolver 127.53.0.53:53 "${own[@]}"
grep -q "used only without --resolver" "$TEST_WORK/err" || fail "--resolver with --root-hints: $(cat "$TEST_WORK/err")"
expect_rc 66 "$MXCRAWL" resolver start --root-hints "$TEST_WORK/none.hints" --trust-anchor "$ANCHOR"
[ -z "$(resolver_pid || true)" ] || fail "a resolver started from a missing file"

# ---- a whole scan through it: the canaries pass, every DNS fact is true ----
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign first "${own[@]}" \
	"${allow_args[@]}" --no-smtp --progress 0 --concurrency 200 \
	2>"$TEST_WORK/first.err" || { cat "$TEST_WORK/first.err" >&2; fail "scan through the private resolver"; }
grep -q "DNSSEC validated" "$TEST_WORK/first.err" || fail "canaries: $(cat "$TEST_WORK/first.err")"
grep -q "scan: resolver: the private unbound on 127.0.0.1:[0-9]*, started" "$TEST_WORK/first.err" ||
	fail "the scan did not say it started the resolver: $(cat "$TEST_WORK/first.err")"
pid1=$(resolver_pid)
[ -n "$pid1" ] && [ "$(cat "/proc/$pid1/comm")" = unbound ] || fail "no unbound runs after the scan"
expect_rc 0 "$MXCRAWL" resolver status
expect_eq "status after the scan" "$(status_field state)" "running (pid $pid1)"
expect_eq "status: root hints" "$(status_field "root hints")" "$(realpath "$HINTS")"
addr=$(status_field address)
case $addr in 127.0.0.1:53) fail "the private resolver took port 53" ;; 127.0.0.1:[0-9]*) ;; *) fail "address $addr" ;; esac
expect_eq "it listens where status says" "$(ss -Hlnu "sport = :${addr#*:}" | awk '{print $4}')" "$addr"
expect_eq "the run's resolver" "$(sql "SELECT r.resolver || ' ' || r.dnssec_validated FROM campaign_run r JOIN campaign c ON c.id = r.campaign_id WHERE c.name = 'first'")" "$addr true"
expect_eq "it runs as the private cluster's user" "$(ps -o user= -p "$pid1")" mxcrawl
# The run's provenance names the private resolver and what it validates from.
expect_eq "provenance of the private resolver" \
	"$(sql "SELECT concat_ws(' ', r.provenance #>> '{resolver,private}', r.provenance #>> '{resolver,root_hints,path}', r.provenance #>> '{resolver,trust_anchor,sha256}') FROM campaign_run r JOIN campaign c ON c.id = r.campaign_id WHERE c.name = 'first'")" \
	"true $(realpath "$HINTS") $(sha256sum <"$ANCHOR" | cut -d' ' -f1)"
unbound-checkconf "$RDIR/unbound.conf" >/dev/null || fail "unbound-checkconf: $RDIR/unbound.conf"
for want in "ede: yes" "val-log-level: 2" "qname-minimisation: yes" \
	"do-not-query-localhost: no" "auto-trust-anchor-file: \"$RDIR/root.key\"" \
	"root-hints: \"$RDIR/root.hints\"" "control-enable: no"; do
	grep -qF "  $want" "$RDIR/unbound.conf" || fail "unbound.conf lacks '$want'"
done
cmp -s "$HINTS" "$RDIR/root.hints" || fail "the root hints were not copied"
"$MXCRAWL" export --campaign first --format jsonl >"$TEST_WORK/first.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" "$TESTBED_TRUTH" "$TEST_WORK/first.jsonl" ||
	fail "facts through the private resolver differ from the truth"
# The truth's bogus MX RRsets that carry an EDE, by name: each one bogus
# with an EDE code of a DNSSEC failure (RFC 8914 6..12) from the private
# resolver.
want_bogus=$("$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    t = json.loads(l)
    mx = t.get("dns", {}).get("mx") or {}
    if mx.get("dnssec") == "bogus" and mx.get("ede"):
        print(t["domain"])' "$TESTBED_TRUTH" | sort)
[ -n "$want_bogus" ] || fail "the truth has no bogus MX RRset"
expect_eq "bogus MX RRsets with a DNSSEC EDE" \
	"$(sql "SELECT d.domain FROM dns_rrset r JOIN domain_dns d USING (campaign_id, target_id) JOIN campaign c ON c.id = r.campaign_id WHERE c.name = 'first' AND r.qtype = 'MX' AND r.qname = d.domain AND r.dnssec = 'bogus' AND r.ede && ARRAY[6,7,8,9,10,11,12] ORDER BY 1" | sort)" \
	"$want_bogus"
grep -q "validation failure" "$RDIR/unbound.log" || fail "val-log-level 2: no reason in $RDIR/unbound.log"

# ---- the next scan reuses it ------------------------------------------------
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign second "${own[@]}" "${allow_args[@]}" \
	--no-smtp --progress 0 2>"$TEST_WORK/second.err" ||
	{ cat "$TEST_WORK/second.err" >&2; fail "second scan"; }
grep -q "scan: resolver: the private unbound on $addr, reused (pid $pid1;" "$TEST_WORK/second.err" ||
	fail "second scan: $(cat "$TEST_WORK/second.err")"
expect_eq "the same resolver" "$(resolver_pid)" "$pid1"

# ---- other root hints: not reused, nothing started --------------------------
cp "$HINTS" "$TEST_WORK/other.hints"
expect_rc 78 "$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign other \
	--root-hints "$TEST_WORK/other.hints" --trust-anchor "$ANCHOR" "${allow_args[@]}" --no-smtp
grep -q "runs (pid $pid1) with the root hints from" "$TEST_WORK/err" || fail "mismatch: $(cat "$TEST_WORK/err")"
expect_eq "campaign of a refused scan" "$(sql "SELECT count(*) FROM campaign WHERE name = 'other'")" 0
expect_eq "still the same resolver" "$(resolver_pid)" "$pid1"

# ---- stop by PID ------------------------------------------------------------
expect_rc 0 "$MXCRAWL" resolver stop
grep -q "stopping the private resolver (pid $pid1)" "$TEST_WORK/out" || fail "stop: $(cat "$TEST_WORK/out")"
kill -0 "$pid1" 2>/dev/null && fail "unbound $pid1 runs after resolver stop"
expect_rc 69 "$MXCRAWL" resolver status
expect_eq "status after stop" "$(status_field state)" stopped
expect_rc 0 "$MXCRAWL" resolver stop
grep -q "not running" "$TEST_WORK/out" || fail "second stop: $(cat "$TEST_WORK/out")"

# ---- a crawler killed with its process group: the resolver lives on ---------
# The crawler that starts the resolver runs in a session of its own and is
# killed with all of it (SIGKILL), as a terminal's hangup would; at one
# domain a second it is still scanning when its run row shows it is past
# the resolver and the canaries.
setsid "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign crash "${own[@]}" \
	"${allow_args[@]}" --no-smtp --progress 0 --rate 1 \
	>"$TEST_WORK/crash.out" 2>"$TEST_WORK/crash.err" &
crawler=$!
expect_eq "the crawler leads its process group" "$(ps -o pgid= -p "$crawler" | tr -d ' ')" "$crawler"
run_begun() {
	[ "$(sql "SELECT count(*) FROM campaign_run r JOIN campaign c ON c.id = r.campaign_id WHERE c.name = 'crash'")" = 1 ]
}
poll_until 60 "the crawler to begin its run" run_begun
pid2=$(resolver_pid)
[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] || fail "the crawler did not start a new resolver"
grep -q "started (pid $pid2;" "$TEST_WORK/crash.err" || fail "crash scan: $(cat "$TEST_WORK/crash.err")"
kill -KILL -- "-$crawler"
wait "$crawler" 2>/dev/null || true
kill -0 "$crawler" 2>/dev/null && fail "the crawler survived SIGKILL"
[ "$(cat "/proc/$pid2/comm" 2>/dev/null)" = unbound ] || fail "the resolver died with the crawler"
expect_rc 0 "$MXCRAWL" resolver status
expect_eq "status after the crash" "$(status_field state)" "running (pid $pid2)"
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign after "${own[@]}" "${allow_args[@]}" \
	--no-smtp --progress 0 2>"$TEST_WORK/after.err" ||
	{ cat "$TEST_WORK/after.err" >&2; fail "scan after the crash"; }
grep -q "reused (pid $pid2;" "$TEST_WORK/after.err" || fail "after the crash: $(cat "$TEST_WORK/after.err")"
grep -q "DNSSEC validated" "$TEST_WORK/after.err" || fail "canaries after the crash"

# ---- resolver start and stop by hand ----------------------------------------
expect_rc 0 "$MXCRAWL" resolver stop
wait_gone "$pid2" || fail "unbound $pid2 still runs"
expect_rc 0 "$MXCRAWL" resolver start "${own[@]}"
grep -q "starting the private resolver (unbound on $addr," "$TEST_WORK/out" ||
	fail "start by hand (the port is kept): $(cat "$TEST_WORK/out")"
pid3=$(resolver_pid)
expect_rc 0 "$MXCRAWL" resolver start "${own[@]}"
grep -q "already running (pid $pid3, on $addr)" "$TEST_WORK/out" || fail "start twice: $(cat "$TEST_WORK/out")"
expect_rc 0 "$MXCRAWL" resolver stop --quiet
[ ! -s "$TEST_WORK/out" ] || fail "stop --quiet said: $(cat "$TEST_WORK/out")"
wait_gone "$pid3" || fail "unbound $pid3 still runs"
echo "ok: the private resolver starts, validates, is reused, outlives a crash and stops"
