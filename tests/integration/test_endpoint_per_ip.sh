#!/usr/bin/env bash
# The per-IP cap, seen from the server's side: six endpoints (one address,
# six SNI names) probed with --per-ip 2 against a listener that never
# sends a banner and counts the connections it holds at once. It must see
# all six, never more than two at a time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
ip link set lo up

PY=/usr/bin/python3
probe=$(dirname "$MXCRAWL")/tests/smtpprobe
addr=127.66.0.25
port=2525
mkfifo "$TEST_WORK/ready" "$TEST_WORK/result"
cat >"$TEST_WORK/listener.py" <<'EOF'
import select, socket, sys
addr, port, ready, result = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
live, total, most = [], 0, 0

def closed(c):
    # The client's FIN is queued before its next SYN arrives (one host,
    # one loopback), so at accept time a peek tells every connection the
    # client has already closed, whether or not we have read it yet.
    try:
        return c.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False

with open(ready, "w") as f:
    f.write("ready\n")
while True:
    r, _, _ = select.select([s] + live, [], [])
    if s in r:
        c, _ = s.accept()
        for x in [x for x in live if closed(x)]:
            live.remove(x)
            x.close()
        live.append(c)
        total += 1
        most = max(most, len(live))
        continue
    for c in r:
        if c.recv(4096) == b"":
            # Never greeted: the client gave up and closed.
            live.remove(c)
            c.close()
    if total == 6 and not live:
        with open(result, "w") as f:
            f.write("%d %d\n" % (total, most))
        break
EOF
"$PY" "$TEST_WORK/listener.py" "$addr" "$port" "$TEST_WORK/ready" "$TEST_WORK/result" &
listener=$!
trap 'kill "$listener" 2>/dev/null || true; test_cleanup' EXIT
# Opening the fifo blocks until the listener has bound its socket.
read -r -t 30 line <"$TEST_WORK/ready" || fail "listener did not start"

args=()
for n in 1 2 3 4 5 6; do args+=("$addr" "mx$n.per-ip.test"); done
"$probe" --per-ip 2 --port "$port" --stage 300 --deadline 5000 "${args[@]}" \
	>"$TEST_WORK/probes.jsonl"
expect_eq "probes reported" "$(grep -c '"outcome": "banner_timeout"' "$TEST_WORK/probes.jsonl")" 6
read -r -t 30 seen <"$TEST_WORK/result" || fail "listener gave no result"
expect_eq "connections seen / most at once" "$seen" "6 2"
echo PASS
