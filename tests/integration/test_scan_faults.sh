#!/usr/bin/env bash
# Faults (issue M3): (a) PostgreSQL restarts in the middle of a scan: the
# scan says it lost the connection, waits, reconnects and loses nothing;
# (d) a truncated answer is fetched over TCP (mx-large); (b) a resolver that
# does not answer and (c) one that answers only garbage stop the scan before
# anything is written, with exit 69 and a message naming the resolver, and
# never crash it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

# Processes started here (crawlers, fake resolvers), stopped by PID.
STARTED=()
faults_cleanup() {
	local p
	for p in "${STARTED[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	test_cleanup
}
trap faults_cleanup EXIT

testbed_up --no-postfix --no-servers

PY=/usr/bin/python3
ntargets=$(grep -c . "$TESTBED_TARGETS")


echo "== (a) PostgreSQL restarts during a scan"
expect_rc 0 "$MXCRAWL" db start
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign pgrestart \
	"${allow_args[@]}" --batch-size 10 --concurrency 20 --rate 20 \
	--progress 0 2>"$TEST_WORK/pg.err" &
scan_pid=$!
STARTED+=("$scan_pid")
scan_alive() {
	kill -0 "$scan_pid" 2>/dev/null || {
		cat "$TEST_WORK/pg.err" >&2
		fail "the scan ended before the restart was over"
	}
}
batches_stored() {
	scan_alive
	[ "$(sql "SELECT count(*) FROM campaign_batch b JOIN campaign c ON c.id = b.campaign_id
		  WHERE c.name = 'pgrestart' AND b.done_at IS NOT NULL")" -ge 2 ]
}
poll_until 60 "two batches stored" batches_stored
pg_pid=$(cluster_pid)
expect_rc 0 "$MXCRAWL" db stop
wait_gone "$pg_pid" || fail "postmaster $pg_pid still running"
echo "stopped the cluster (postmaster $pg_pid)"
# The cluster stays down until the scan has noticed.
lost() {
	scan_alive
	grep -q "lost the database connection" "$TEST_WORK/pg.err"
}
poll_until 60 "the scan to notice the lost connection" lost
expect_rc 0 "$MXCRAWL" db start
echo "started the cluster again (postmaster $(cluster_pid))"
rc=0
wait "$scan_pid" || rc=$?
cat "$TEST_WORK/pg.err"
expect_eq "scan exit status across the restart" "$rc" 0
grep -q "database connection back" "$TEST_WORK/pg.err" || fail "no 'connection back' message"
cid=$(sql "SELECT id FROM campaign WHERE name = 'pgrestart'")
expect_eq "campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
expect_eq "unfinished batches" \
	"$(sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid AND done_at IS NULL")" 0
expect_eq "results / distinct targets / targets" \
	"$(sql "SELECT count(*) || '/' || count(DISTINCT target_id) FROM domain_dns WHERE campaign_id = $cid")/$(sql "SELECT targets FROM campaign WHERE id = $cid")" \
	"$ntargets/$ntargets/$ntargets"
expect_eq "targets without their MX question in dns_rrset" \
	"$(sql "SELECT count(*) FROM campaign_target t WHERE campaign_id = $cid AND NOT EXISTS
		(SELECT 1 FROM dns_rrset r WHERE r.campaign_id = $cid AND r.target_id = t.target_id
		    AND r.qname = t.domain AND r.qtype = 'MX')")" 0
"$MXCRAWL" export --campaign pgrestart --format jsonl >"$TEST_WORK/pg.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" \
	"$TESTBED_TRUTH" "$TEST_WORK/pg.jsonl" || fail "DNS facts differ from the truth"

echo "== (a2) PostgreSQL restarts while the scan takes a lease"
# Deterministically between "lease the batch" and "read its targets": a
# session holds an exclusive lock on campaign_target, so the crawler's
# store waits there with its first lease taken, and the restart hits it.
expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign leaserestart \
	--import-only --batch-size 40
mkfifo "$TEST_WORK/lock.fifo"
psql "$("$MXCRAWL" db conninfo)" -X -q <"$TEST_WORK/lock.fifo" >"$TEST_WORK/lock.out" 2>&1 &
lock_pid=$!
STARTED+=("$lock_pid")
exec 7>"$TEST_WORK/lock.fifo"
echo "BEGIN; LOCK TABLE campaign_target IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&7
poll_until 30 "the lock on campaign_target" grep -q locked "$TEST_WORK/lock.out"
"$MXCRAWL" scan --campaign leaserestart --resume "${allow_args[@]}" \
	--concurrency 20 --rate 20 --progress 0 2>"$TEST_WORK/pg.err" 7>&- &
scan_pid=$!
STARTED+=("$scan_pid")
lease_blocked() {
	scan_alive
	[ "$(sql "SELECT count(*) FROM pg_stat_activity
		  WHERE application_name = 'mxcrawl-store' AND wait_event_type = 'Lock'")" = 1 ]
}
poll_until 60 "the crawler's lease to wait on the lock" lease_blocked
pg_pid=$(cluster_pid)
expect_rc 0 "$MXCRAWL" db stop
wait_gone "$pg_pid" || fail "postmaster $pg_pid still running"
poll_until 60 "the scan to notice the lost connection" lost
exec 7>&-
wait "$lock_pid" || true # its session was ended by the stop
expect_rc 0 "$MXCRAWL" db start
rc=0
wait "$scan_pid" || rc=$?
cat "$TEST_WORK/pg.err"
expect_eq "scan exit status across the restart" "$rc" 0
cid2=$(sql "SELECT id FROM campaign WHERE name = 'leaserestart'")
expect_eq "unfinished batches (leaserestart)" \
	"$(sql "SELECT string_agg(batch_no || ' leased by ' || coalesce(leased_by, '-') || ', attempts ' || attempts, '; ')
		  FROM campaign_batch WHERE campaign_id = $cid2 AND done_at IS NULL")" ""
expect_eq "campaign state (leaserestart)" "$(sql "SELECT state FROM campaign WHERE id = $cid2")" "done"
expect_eq "results / distinct targets (leaserestart)" \
	"$(sql "SELECT count(*) || '/' || count(DISTINCT target_id) FROM domain_dns WHERE campaign_id = $cid2")" \
	"$ntargets/$ntargets"

echo "== (d) truncation: the large MX answer came over TCP"
grep '"domain": "mx-large.test"' "$TESTBED_TRUTH" | grep -q '"large_answer": true' ||
	fail "the truth has no large answer for mx-large.test"
expect_eq "mx-large.test: MX RRset stored as large (TCP after TC)" \
	"$(sql "SELECT r.large AND r.outcome = 'ok' AND cardinality(r.records) > 0
		  FROM dns_rrset r JOIN domain_dns d USING (campaign_id, target_id)
		 WHERE d.campaign_id = $cid AND d.domain = 'mx-large.test'
		   AND r.qname = d.domain AND r.qtype = 'MX'")" t

# A fake resolver on 127.66.0.1:53, UDP and TCP. Modes: silent (reads,
# never answers; holds TCP connections open), random (random bytes),
# wrongid (a good answer with another message id), shorthdr (5 bytes),
# badrr (right id and question, a broken answer record), tcgarbage (UDP
# answers with TC set; over TCP, random bytes, then the connection closes).
cat >"$TEST_WORK/fakedns.py" <<'EOF'
import os, random, socket, struct, sys, threading
addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def answer(q):
    if len(q) < 12:
        return None
    qid, rest = q[:2], q[12:]
    if mode == "random":
        return os.urandom(random.randint(1, 600))
    if mode == "wrongid":
        other = struct.pack("!H", (struct.unpack("!H", qid)[0] + 1) & 0xffff)
        return (other + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + rest
                + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01")
    if mode == "shorthdr":
        return qid + b"\x81\x80\x00"
    if mode == "badrr":
        # The question without its OPT record, then an A RR whose
        # RDLENGTH (64) runs past the end of the message.
        return (qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + rest[:-11]
                + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x40\x7f")
    if mode == "tcgarbage":
        return qid + b"\x83\x80\x00\x01\x00\x00\x00\x00\x00\x00" + rest[:-11]
    return None
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((addr, port))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((addr, port))
tcp.listen(64)
held = []
def serve_tcp():
    while True:
        c, _ = tcp.accept()
        if mode == "silent":
            held.append(c)
            continue
        try:
            c.recv(65535)
            c.sendall(os.urandom(random.randint(1, 600)))
        except OSError:
            pass
        c.close()
threading.Thread(target=serve_tcp, daemon=True).start()
print("ready", flush=True)
while True:
    q, peer = udp.recvfrom(65535)
    a = answer(q)
    if a is not None:
        udp.sendto(a, peer)
EOF

echo nothing.test >"$TEST_WORK/one.txt"
problems=()
# bad_resolver NAME ADDR [MESSAGE]: a scan through ADDR must stop before
# anything is written: exit 69, a message naming the resolver (and
# MESSAGE, if given), no campaign.
bad_resolver() {
	local name=$1 addr=$2 msg=${3:-} rc=0
	"$MXCRAWL" scan --targets "$TEST_WORK/one.txt" --campaign "res-$name" \
		--resolver "$addr" --dns-timeout 200 --progress 0 \
		>"$TEST_WORK/$name.out" 2>"$TEST_WORK/$name.err" || rc=$?
	local got="exit $rc"
	[ "$rc" -lt 128 ] || got="$got (killed by signal $((rc - 128)))"
	local campaigns
	campaigns=$(sql "SELECT count(*) FROM campaign WHERE name = 'res-$name'")
	if [ "$rc" != 69 ] || [ "$campaigns" != 0 ] ||
		! grep -q "resolver $addr" "$TEST_WORK/$name.err" ||
		{ [ -n "$msg" ] && ! grep -q "$msg" "$TEST_WORK/$name.err"; }; then
		echo "NOT OK: resolver '$name': $got, campaigns made: $campaigns; stderr:" >&2
		sed 's/^/    /' "$TEST_WORK/$name.err" >&2
		problems+=("$name")
		return
	fi
	echo "ok: resolver '$name': exit 69, no campaign: $(head -n 1 "$TEST_WORK/$name.err")"
}
# fake_resolver MODE: (re)starts the fake resolver in MODE.
fake_pid=
fake_resolver() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid"
		wait "$fake_pid" || true
	fi
	"$PY" "$TEST_WORK/fakedns.py" 127.66.0.1 53 "$1" >"$TEST_WORK/fake.out" &
	fake_pid=$!
	STARTED+=("$fake_pid")
	poll_until 30 "fake resolver ($1)" grep -q ready "$TEST_WORK/fake.out"
}

echo "== (b) a resolver that does not answer"
fake_resolver silent
bad_resolver silent 127.66.0.1:53 "does not answer"
# Nothing listens there: every query is refused (ICMP port unreachable).
bad_resolver closed-port 127.66.0.2:53

echo "== (c) a resolver that answers garbage"
for mode in random wrongid shorthdr badrr; do
	fake_resolver "$mode"
	bad_resolver "$mode" 127.66.0.1:53
done
# TCP fallback into garbage and a closed connection: whether the crawler
# then writes to the closed socket depends on timing, so three times.
fake_resolver tcgarbage
for i in 1 2 3; do bad_resolver "tcgarbage-$i" 127.66.0.1:53; done

[ ${#problems[@]} = 0 ] || fail "resolver faults not refused cleanly: ${problems[*]}"
echo PASS
