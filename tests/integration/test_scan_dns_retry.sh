#!/usr/bin/env bash
# A timed-out DNS try is retried before it becomes an error for the domain
# (issue M10 item 2): a relay between the crawler and the testbed's
# resolver drops the first datagram of every question (name, type, CD bit)
# and forwards everything else, UDP and TCP. Every try the crawler makes
# first is lost, so every lookup needs its retry; the DNS facts of every
# domain must still equal the truth, and no RRset may be a timeout that
# the truth does not have.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

RELAY_PID=
retry_cleanup() {
	if [ -n "$RELAY_PID" ]; then
		kill "$RELAY_PID" 2>/dev/null || true
		wait "$RELAY_PID" 2>/dev/null || true
	fi
	test_cleanup
}
trap retry_cleanup EXIT

testbed_up --no-postfix --no-servers
PY=/usr/bin/python3
ntargets=$(grep -c . "$TESTBED_TARGETS")
RELAY_ADDR=127.66.0.2
ip addr add "$RELAY_ADDR/32" dev lo 2>/dev/null || true

cat >"$TEST_WORK/droprelay.py" <<'PYEOF'
"""UDP/TCP relay to one upstream resolver that drops the first datagram
of each question (lower-cased name, type, CD bit). SIGTERM prints the
counts: questions seen, datagrams dropped, forwarded."""
import select, signal, socket, sys, threading

listen, up_host, up_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
upstream = (up_host, up_port)

def question(q):
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].lower())
        i += 1 + q[i]
    return (b".".join(labels), q[i + 1:i + 3], bool(q[3] & 0x10))

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Python reads slowly: a burst of queries must wait in the buffer, not be
# lost there (SO_RCVBUFFORCE, 33: past rmem_max, as root).
udp.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
udp.bind((listen, 53))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((listen, 53))
tcp.listen(64)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise OSError("closed")
        b += c
    return b

def tcp_one(c):
    try:
        n = int.from_bytes(recv_exact(c, 2), "big")
        q = recv_exact(c, n)
        u = socket.create_connection(upstream, timeout=10)
        u.sendall(len(q).to_bytes(2, "big") + q)
        n = int.from_bytes(recv_exact(u, 2), "big")
        c.sendall(n.to_bytes(2, "big") + recv_exact(u, n))
        u.close()
    except OSError:
        pass
    c.close()

def serve_tcp():
    while True:
        c, _ = tcp.accept()
        threading.Thread(target=tcp_one, args=(c,), daemon=True).start()

threading.Thread(target=serve_tcp, daemon=True).start()

seen, fwd, dropped, forwarded = set(), set(), 0, 0
up_of = {}    # client address -> its upstream socket
client_of = {}  # upstream socket -> client address

def report(*_):
    for k in sorted(seen - fwd):
        print("never forwarded:", k, file=sys.stderr)
    print("questions %d dropped %d forwarded %d" % (len(seen), dropped, forwarded),
          flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, report)
print("ready", flush=True)
while True:
    r, _, _ = select.select([udp] + list(client_of), [], [])
    for s in r:
        if s is udp:
            q, peer = udp.recvfrom(65535)
            if len(q) < 12:
                continue
            key = question(q)
            if key not in seen:
                seen.add(key)
                dropped += 1
                continue
            u = up_of.get(peer)
            if u is None:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.connect(upstream)
                up_of[peer] = u
                client_of[u] = peer
            u.send(q)
            forwarded += 1
            fwd.add(key)
        else:
            try:
                a = s.recv(65535)
            except OSError:
                continue
            udp.sendto(a, client_of[s])
PYEOF

mkfifo "$TEST_WORK/relay.out"
"$PY" "$TEST_WORK/droprelay.py" "$RELAY_ADDR" "${MXCRAWL_RESOLVER%:*}" \
	"${MXCRAWL_RESOLVER##*:}" >"$TEST_WORK/relay.out" 2>"$TEST_WORK/relay.err" &
RELAY_PID=$!
exec 8<"$TEST_WORK/relay.out"
read -r ready <&8 || true
[ "$ready" = ready ] || fail "the relay did not start"

# Default DNS timeout and tries: each lost first try costs 2 s.
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign retry \
	"${allow_args[@]}" --resolver "$RELAY_ADDR:53" --no-smtp \
	--concurrency 100 --progress 0 2>"$TEST_WORK/scan.err" ||
	{ cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
grep -q "DNSSEC validated" "$TEST_WORK/scan.err" ||
	fail "canaries through the relay: $(cat "$TEST_WORK/scan.err")"
kill "$RELAY_PID"
read -r counts <&8 || true
wait "$RELAY_PID" 2>/dev/null || true
RELAY_PID=
echo "relay: $counts"
read -r _ nq _ ndrop _ nfwd <<<"$counts"
[ "${nq:-0}" -gt "$ntargets" ] && [ "$ndrop" = "$nq" ] && [ "$nfwd" -ge "$nq" ] ||
	{ cat "$TEST_WORK/relay.err" >&2; fail "the relay did not drop the first try of every question: $counts"; }

expect_dns_facts retry ||
	fail "with every first try lost, DNS facts differ from the truth"
echo "PASS"
