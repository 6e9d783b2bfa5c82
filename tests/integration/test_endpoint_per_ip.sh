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
import socket, sys, threading
addr, port, ready, result = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
lock = threading.Lock()
state = {"now": 0, "max": 0, "total": 0}

def hold(c):
    # Never greet; wait until the client gives up and closes.
    while c.recv(4096):
        pass
    c.close()
    with lock:
        state["now"] -= 1
        done = state["total"] == 6 and state["now"] == 0
    if done:
        with open(result, "w") as f:
            f.write("%d %d\n" % (state["total"], state["max"]))

with open(ready, "w") as f:
    f.write("ready\n")
while True:
    c, _ = s.accept()
    with lock:
        state["now"] += 1
        state["total"] += 1
        state["max"] = max(state["max"], state["now"])
    threading.Thread(target=hold, args=(c,), daemon=True).start()
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
