#!/usr/bin/env bash
# The MTA-STS policy fetch (crawler/sts/stsfetch.c, libcurl's multi-socket API
# on a uv loop) against every MTA-STS host of the testbed, all fetched at
# once on one loop: each ends in the fetch outcome the truth file gives
# (redirect not followed, 404, text/html, 70 kB body, trickled body,
# gzip, untrusted CA, wrong name, no HTTPS service), with the policy body
# byte for byte for `ok` (compare_sts_fetch.py says which domains are
# compared and why). Then what the truth does not cover: the trust store
# really is the one given (the system store and the untrusted root refuse
# the testbed's certificates); transport cases from canned responses in a
# nested namespace (body over the cap without Content-Length, exactly at
# the cap, chunked, 1xx before 200, header flood, bad status line, two
# Content-Types, charset and identity coding, short body, no reply, a
# refused address, and a refused first address followed by a good one);
# and cancelling from a callback (stsfetch_close with fetches in flight)
# ends every fetch once and frees everything. Run it under the asan build
# too: the driver exits non-zero on a leak.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3
FETCH=$(dirname "$MXCRAWL")/tests/stsfetch
[ -x "$FETCH" ] || fail "no stsfetch driver at $FETCH"
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=86}
# The trickled body (1 byte/s) must end as `timeout`, well before it ends.
TIMEOUT_MS=3000

echo "== pure header judgement"
"$FETCH" --self-test || fail "self-test"

echo "== every MTA-STS host of the testbed, concurrently"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_sts_fetch.py" --args "$TESTBED_TRUTH" \
	>"$TEST_WORK/hosts.txt"
n=$(wc -l <"$TEST_WORK/hosts.txt")
[ "$n" -ge 20 ] || fail "only $n MTA-STS hosts in the truth"
"$FETCH" --ca-file "$MXCRAWL_CA_FILE" --timeout-ms "$TIMEOUT_MS" --stats \
	<"$TEST_WORK/hosts.txt" >"$TEST_WORK/fetches.jsonl" ||
	fail "stsfetch exited $?"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_sts_fetch.py" "$TESTBED_TRUTH" \
	"$TESTBED_SERVERS" "$TEST_WORK/fetches.jsonl" || fail "fetch outcomes differ from the truth"

# One healthy host for the checks below (scenario sts-enforce-ok).
read -r good_host good_addr < <(grep '^mta-sts\.sts-enforce-ok\.test ' "$TEST_WORK/hosts.txt")
[ -n "$good_addr" ] || fail "no sts-enforce-ok host"
outcome() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }

echo "== trust store: the system store does not know the testbed's root"
got=$("$FETCH" --timeout-ms "$TIMEOUT_MS" "$good_host" "$good_addr" | outcome outcome)
expect_eq "outcome with the system store" "$got" webpki_invalid

echo "== trust store: the testbed's untrusted root does not either"
untrusted=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import pki; print(pki.Pki(sys.argv[2]).untrusted_ca_file)' \
	"$MXCRAWL_SRC/tests/testbed" "$TB/pki")
got=$("$FETCH" --ca-file "$untrusted" --timeout-ms "$TIMEOUT_MS" "$good_host" "$good_addr" | outcome outcome)
expect_eq "outcome with the untrusted root" "$got" webpki_invalid

echo "== transport cases the testbed has no server for (canned responses)"
# The testbed's server accepts on every loopback address (0.0.0.0:443) and
# always sends Content-Length, so these run in a nested network namespace
# where nothing listens but a small HTTPS server that answers, per
# address, one canned response with the good host's certificate (from
# servers.json). Expected outcomes come from RFC 9110/9112 and RFC 8461
# (the table below), fetched all at once.
cat >"$TEST_WORK/canned.py" <<'PYEOF'
import json, socket, ssl, sys, threading
POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx.example\r\nmax_age: 86400\r\n"
CAP = 65536
def resp(status="200 OK", headers=(("Content-Type", "text/plain"),), body=POLICY, length=True):
    h = "HTTP/1.1 %s\r\n" % status + "".join("%s: %s\r\n" % kv for kv in headers)
    if length:
        h += "Content-Length: %d\r\n" % len(body)
    return (h + "Connection: close\r\n\r\n").encode() + body
def chunked(body):
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 20]), body[i:i + 20])
                   for i in range(0, len(body), 20))
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + out + b"0\r\nX-Trailer: t\r\n\r\n")
# address suffix -> (response bytes or None = close after the handshake,
#                    outcome, expected body or None, status)
CASES = {
    1: (resp(), "ok", POLICY, 200),
    2: (resp(body=b"x" * (CAP + 4000), length=False), "too_large", None, 200),
    3: (chunked(POLICY), "ok", POLICY, 200),
    4: (b"HTTP/1.1 103 Early Hints\r\nLink: </s>; rel=preload\r\n\r\n" + resp(), "ok", POLICY, 200),
    5: (resp(headers=[("X-Flood-%d" % i, "f" * 500) for i in range(40)]), "headers_too_large", None, 200),
    6: (resp(status="2x0 OK"), "protocol_error", None, None),
    7: (resp(headers=(("Content-Type", "text/plain"), ("Content-Type", "text/html"))), "media_type", None, 200),
    8: (resp(headers=(("Content-Type", "TEXT/PLAIN; charset=utf-8"), ("Content-Encoding", "identity"))),
        "ok", POLICY, 200),
    9: (resp(body=POLICY)[:-20], "connection_lost", None, 200),
    10: (resp(body=b"y" * CAP, length=False), "ok", b"y" * CAP, 200),
    11: (resp(body=b"y" * (CAP + 1)), "too_large", None, 200),
    12: (resp(status="307 Temporary Redirect", headers=(("Location", "https://elsewhere.example/p"),)),
         "http_redirect", None, 307),
    13: (resp(headers=()), "media_type", None, 200),
    14: (resp(headers=(("Content-Type", "text/plain"), ("Content-Encoding", "identity, gzip"))),
         "content_encoding", None, 200),
    15: (None, "connection_lost", None, None),
}
DEAD = "127.31.0.200"   # nothing listens there
def addr(i):
    return "127.31.0.%d" % i
def serve(servers, good, ready):
    e = [e for e in json.load(open(servers))["https"] if e["addr"] == good][0]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(e["tls"]["chain_file"], e["tls"]["key_file"])
    def conn(c, data):
        try:
            with ctx.wrap_socket(c, server_side=True) as t:
                if data is None:
                    return
                req = b""
                while b"\r\n\r\n" not in req and len(req) < 65536:
                    d = t.recv(4096)
                    if not d:
                        return
                    req += d
                t.sendall(data)
        except (OSError, ssl.SSLError):
            pass
    def listen(a, data):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a, 443))
        s.listen(64)
        return s
    socks = [(listen(addr(i), c[0]), c[0]) for i, c in CASES.items()]
    for s, data in socks:
        threading.Thread(target=lambda s=s, d=data: [
            threading.Thread(target=conn, args=(s.accept()[0], d), daemon=True).start()
            for _ in iter(int, 1)], daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()    # until the test closes our stdin
def jobs(host):
    for i in CASES:
        print(host, addr(i))
    print(host, DEAD)
    print(host, "%s,%s" % (DEAD, addr(1)))
def check(path):
    got = {r["addrs"]: r for r in map(json.loads, open(path))}
    bad = []
    want = {addr(i): (c[1], c[2], c[3]) for i, c in CASES.items()}
    want[DEAD] = ("connect_refused", None, None)
    want["%s,%s" % (DEAD, addr(1))] = ("ok", POLICY, 200)
    for a, (outcome, body, status) in want.items():
        r = got.get(a)
        if r is None:
            bad.append("%s: no result" % a)
            continue
        b = None if r["body"] is None else r["body"].encode("latin-1", "replace")
        for f, g, w in (("outcome", r["outcome"], outcome), ("body", b, body),
                        ("status", r["status"], status)):
            if g != w:
                bad.append("%s: %s: got %r, want %r" % (a, f, g if f != "body" else (g or b"")[:60], w if f != "body" else (w or b"")[:60]))
    if got.get(addr(12), {}).get("location") != "https://elsewhere.example/p":
        bad.append("%s: location not recorded" % addr(12))
    if got["%s,%s" % (DEAD, addr(1))]["addr"] != addr(1):
        bad.append("fallback: connected to %r" % got["%s,%s" % (DEAD, addr(1))]["addr"])
    for b in bad:
        print(b)
    print("canned cases: %d, %d disagreements" % (len(want), len(bad)))
    return 1 if bad else 0
if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], None)
    elif sys.argv[1] == "jobs":
        jobs(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
PYEOF
export FETCH PY TEST_WORK TESTBED_SERVERS MXCRAWL_CA_FILE TIMEOUT_MS good_host good_addr
unshare --net bash -euo pipefail -c '
	ip link set lo up
	coproc SRV { exec "$PY" "$TEST_WORK/canned.py" serve "$TESTBED_SERVERS" "$good_addr"; }
	srv_pid=$SRV_PID
	trap "kill $srv_pid 2>/dev/null || true" EXIT
	read -r ready <&"${SRV[0]}"
	[ "$ready" = ready ]
	"$PY" "$TEST_WORK/canned.py" jobs "$good_host" |
		"$FETCH" --ca-file "$MXCRAWL_CA_FILE" --timeout-ms "$TIMEOUT_MS" >"$TEST_WORK/canned.jsonl"
' || fail "nested namespace run"
"$PY" "$TEST_WORK/canned.py" check "$TEST_WORK/canned.jsonl" || fail "canned cases"

echo "== cancel from a callback with fetches in flight"
"$FETCH" --ca-file "$MXCRAWL_CA_FILE" --timeout-ms "$TIMEOUT_MS" --cancel-after 3 \
	<"$TEST_WORK/hosts.txt" >"$TEST_WORK/cancel.jsonl" || fail "stsfetch --cancel-after exited $?"
lines=$(wc -l <"$TEST_WORK/cancel.jsonl")
expect_eq "results after cancel" "$lines" "$n"
cancelled=$(grep -c '"outcome": "cancelled"' "$TEST_WORK/cancel.jsonl" || true)
# The third result closes the fetcher; results curl had already finished
# in the same round still come with their own outcome, and the trickled
# body (3 s) is surely still in flight.
[ "$((lines - cancelled))" -ge 3 ] || fail "only $((lines - cancelled)) fetches finished before the cancel"
[ "$cancelled" -ge 1 ] || fail "nothing was cancelled"
echo "ok: $((lines - cancelled)) finished, $cancelled cancelled"
echo PASS
