#!/usr/bin/env bash
# The MTA-STS policy fetch (crawler/stsfetch.c, libcurl's multi-socket API
# on a uv loop) against every MTA-STS host of the testbed, all fetched at
# once on one loop: each ends in the fetch outcome the truth file gives
# (redirect not followed, 404, text/html, 70 kB body, trickled body,
# gzip, untrusted CA, wrong name, no HTTPS service), with the policy body
# byte for byte for `ok` (compare_sts_fetch.py says which domains are
# compared and why). Then what the truth does not cover: the trust store
# really is the one given (the system store and the untrusted root refuse
# the testbed's certificates), only the given addresses are used and in
# order (a dead first address, then the good one), and cancelling from a
# callback (stsfetch_close with fetches in flight) ends every fetch once
# and frees everything (run this under the asan build for leaks).
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

echo "== addresses: refused first address, then the next one, in order"
# The testbed's server accepts on every loopback address (0.0.0.0:443), so
# this runs in a nested network namespace where nothing listens but a
# one-request HTTPS server on the good address, with the scenario's own
# certificate and policy body (servers.json).
cat >"$TEST_WORK/one_https.py" <<'PYEOF'
import http.server, json, ssl, sys
servers, addr = json.load(open(sys.argv[1])), sys.argv[2]
e = [e for e in servers["https"] if e["addr"] == addr][0]
body = e["body"].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer((addr, 443), H)
srv.timeout = 20
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(e["tls"]["chain_file"], e["tls"]["key_file"])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.handle_request()
PYEOF
export FETCH PY TEST_WORK TESTBED_SERVERS MXCRAWL_CA_FILE TIMEOUT_MS good_host good_addr
unshare --net bash -euo pipefail -c '
	ip link set lo up
	"$FETCH" --ca-file "$MXCRAWL_CA_FILE" --timeout-ms "$TIMEOUT_MS" "$good_host" 127.53.0.200 \
		>"$TEST_WORK/dead.json"
	coproc SRV { exec "$PY" "$TEST_WORK/one_https.py" "$TESTBED_SERVERS" "$good_addr"; }
	srv_pid=$SRV_PID
	read -r ready <&"${SRV[0]}"
	[ "$ready" = ready ]
	"$FETCH" --ca-file "$MXCRAWL_CA_FILE" --timeout-ms "$TIMEOUT_MS" "$good_host" \
		"127.53.0.200,$good_addr" >"$TEST_WORK/two.json"
	wait "$srv_pid"
' || fail "nested namespace run"
expect_eq "outcome at a dead address" "$(outcome outcome <"$TEST_WORK/dead.json")" connect_refused
expect_eq "outcome with a dead first address" "$(outcome outcome <"$TEST_WORK/two.json")" ok
expect_eq "address used" "$(outcome addr <"$TEST_WORK/two.json")" "$good_addr"

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
