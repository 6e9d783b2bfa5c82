#!/usr/bin/env bash
# M10 item 4, the DNS half: `up --latency dns=DELAY:JITTER:SHARE:SLOW` puts
# the relay tests/tools/dnsdelay.c between unbound and NSD. Every round trip
# through it, UDP and TCP, takes at least DELAY; the slow names (a share of
# the names, by a seeded hash) take at least SLOW, and the same name again;
# the relay's own count of slow questions agrees with the round trips
# measured here; and a scan through it (the resolver now waits for every
# delegation) still gets DNS facts equal to the truth.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
delay=0.15 jitter=0.05 slow=0.6
# The relay as CMake built it (warnings as errors; sanitized in an ASan
# build), not `up`'s own compile.
TESTBED_DNSDELAY=$(dirname "$MXCRAWL")/tests/dnsdelay
[ -x "$TESTBED_DNSDELAY" ] || fail "no $TESTBED_DNSDELAY (build the tests/tools targets)"
export TESTBED_DNSDELAY
# 2,000 population domains besides the scenarios: enough slow answers to
# push unbound's timeout for the shared server up (see the scan below).
testbed_up --no-postfix --no-servers --domains 2000 --latency "dns=$delay:$jitter:10%:$slow"
expect_eq "testbed.env names the latency" "${TESTBED_DNS_LATENCY:-}" "$delay:$jitter:0.1:$slow"
relay_pid=$(cat "$TB/pids/dnsdelay.pid")
grep -q "^  ip-address: 127.53.2.3$" "$TB/dns/nsd.conf" || fail "NSD does not listen behind the relay"

PY=/usr/bin/python3
counter_lines() {
	grep -c 'udp_questions=' "$TB/logs/dnsdelay.out" || true
}
counter_lines_over() {
	[ "$(counter_lines)" -gt "$1" ]
}
# counters KEY: the relay's counter, from the line it prints on SIGUSR1.
counters() {
	local before
	before=$(counter_lines)
	kill -USR1 "$relay_pid"
	poll_until 10 "the relay's counters" counter_lines_over "$before"
	grep 'udp_questions=' "$TB/logs/dnsdelay.out" | tail -n 1 |
		sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}
q0=$(counters udp_questions)
slow0=$(tail -n 1 "$TB/logs/dnsdelay.out" | sed -n 's/.* udp_slow=\([0-9]*\).*/\1/p')

# 300 distinct names straight to the relay's TLD front, all sent at once
# on one socket; then the slow ones again; then 5 over TCP.
"$PY" - "$delay" "$slow" "$TEST_WORK/probe.txt" <<'EOF' || fail "round trips through the relay"
import select, socket, struct, sys, time
sys.path.insert(0, __import__("os").environ["MXCRAWL_SRC"] + "/tests/testbed")
import dnsgen
delay, slow, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
FRONT = (dnsgen.TLD_NS_ADDR, 53)

def query(qid, name):
    return (struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) +
            dnsgen.wire_name(name) + struct.pack("!HH", 1, 1))

def udp_round(names):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, rtt = {}, {}
    for i, n in enumerate(names):
        sent[i] = time.monotonic()
        s.sendto(query(i, n), FRONT)
    deadline = time.monotonic() + slow + 5
    while len(rtt) < len(names):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            sys.exit("%d of %d answers missing" % (len(names) - len(rtt), len(names)))
        data = s.recv(65535)
        qid = struct.unpack("!H", data[:2])[0]
        if qid in sent and qid not in rtt:
            rtt[qid] = time.monotonic() - sent[qid]
    return [rtt[i] for i in range(len(names))]

names = ["probe%03d.test." % i for i in range(300)]
rtt = udp_round(names)
low = min(rtt)
if low < delay:
    sys.exit("a UDP round trip of %.3f s, under the delay %.3f s" % (low, delay))
slow_names = [n for n, r in zip(names, rtt) if r >= slow]
fast = [r for r in rtt if r < slow]
if not 5 <= len(slow_names) <= 60:
    sys.exit("%d of 300 names slow, want about 30 (10 %%)" % len(slow_names))
again = udp_round(slow_names)
if min(again) < slow:
    sys.exit("a slow name answered in %.3f s the second time" % min(again))
for i in range(5):
    t = socket.create_connection(FRONT, timeout=slow + 5)
    q = query(1000 + i, "tcp%d.test." % i)
    t0 = time.monotonic()
    t.sendall(struct.pack("!H", len(q)) + q)
    hdr = t.recv(2)
    if len(hdr) < 2:
        sys.exit("TCP: no answer")
    r = time.monotonic() - t0
    t.close()
    if r < delay:
        sys.exit("a TCP round trip of %.3f s, under the delay %.3f s" % (r, delay))
with open(out, "w") as f:
    f.write("%d %d\n" % (len(names) + len(slow_names), 2 * len(slow_names)))
print("ok: 300 UDP round trips %.3f-%.3f s (fast ones up to %.3f s), %d slow "
      "names slow twice, 5 TCP round trips over %.3f s" %
      (low, max(rtt), max(fast), len(slow_names), delay))
EOF
# The relay counts what it held back as slow. The resolver may still be
# asking for names of its own (it recurses on after `up`'s canaries), so
# every question beyond the probe's 300 + its slow ones may add one.
q1=$(counters udp_questions)
slow1=$(tail -n 1 "$TB/logs/dnsdelay.out" | sed -n 's/.* udp_slow=\([0-9]*\).*/\1/p')
read -r probe_q probe_slow <"$TEST_WORK/probe.txt"
extra=$((q1 - q0 - probe_q))
[ "$extra" -ge 0 ] || fail "the relay saw $((q1 - q0)) questions, the probe sent $probe_q"
slow_extra=$((slow1 - slow0 - probe_slow))
[ "$slow_extra" -ge 0 ] && [ "$slow_extra" -le "$extra" ] ||
	fail "the relay counted $((slow1 - slow0)) slow questions, the probe measured $probe_slow (+ at most $extra others)"
echo "ok: the relay counted the $probe_slow slow round trips the probe measured (+ $slow_extra of $extra questions of the resolver's own)"

# SIGUSR2 turns the delay off (scripts/bench measures with and without
# latency on one testbed) and on again.
delay_lines() {
	grep -c "^dnsdelay: delay $1$" "$TB/logs/dnsdelay.out" || true
}
delay_said() {
	[ "$(delay_lines "$1")" -ge "$2" ]
}
kill -USR2 "$relay_pid"
poll_until 10 "the relay turning its delay off" delay_said off 1
"$PY" - "$delay" <<'EOF' || fail "round trips with the delay off"
import os, sys, time
sys.path.insert(0, os.environ["MXCRAWL_SRC"] + "/tests/testbed")
import dnsgen
delay = float(sys.argv[1])
worst = 0.0
for i in range(20):
    t0 = time.monotonic()
    r = dnsgen.dns_query(dnsgen.TLD_NS_ADDR, "off%d.test." % i, 1, timeout=5, do=False)
    if r is None:
        sys.exit("no answer with the delay off")
    worst = max(worst, time.monotonic() - t0)
if worst >= delay:
    sys.exit("a round trip of %.3f s with the delay off" % worst)
print("ok: 20 round trips with the delay off, the longest %.3f s" % worst)
EOF
kill -USR2 "$relay_pid"
poll_until 10 "the relay turning its delay on" delay_said on 1

# A scan through the relay, with the crawler's default DNS timeout: the
# DNS facts equal the truth. The slow names share their zone and server
# address with the fast ones, so unbound learnt that server's timeout from
# the fast answers: without a floor above the slow round trip
# (infra-cache-min-rtt, dnsgen.unbound_conf) it gave up on every slow
# answer, asked again, doubled the server's timeout and answered SERVFAIL
# for some (this scan had 663 facts of 2,194 domains differ from the
# truth: dns_error instead of addresses, even "bogus" DNSSEC verdicts).
grep -q "^  infra-cache-min-rtt: 1175$" "$TB/dns/unbound.conf" ||
	fail "unbound.conf has no retransmit floor above the slow round trip"
q0=$(counters udp_questions)
ntargets=$(grep -c . "$TESTBED_TARGETS")
expect_rc 0 "$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign lat \
	"${allow_args[@]}" --no-smtp --workers 2 --concurrency 300 --progress 0
expect_dns_facts lat || fail "DNS facts through the relay differ from the truth"
q1=$(counters udp_questions)
[ $((q1 - q0)) -ge "$ntargets" ] ||
	fail "the scan sent only $((q1 - q0)) questions through the relay for $ntargets targets"
echo "ok: the scan's resolver asked $((q1 - q0)) questions through the relay"
echo PASS
