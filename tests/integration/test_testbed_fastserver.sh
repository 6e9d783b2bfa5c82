#!/usr/bin/env bash
# The testbed's C mail/HTTPS server (tests/testbed/servers/fastmail.c,
# issue M10 item 5) serving a population, mailserver.py the scenarios:
#  1. the split: every population entry goes to fastmail, no scenario
#     entry does, and each side serves only its own (servers-python.json);
#  2. a full scan of scenarios and population: every DNS, SMTP, TLS,
#     certificate, DANE, MTA-STS and TLS-RPT fact of every domain equals
#     truth.jsonl (compare_dns.py --smtp on the export: 0 disagreements);
#  3. mailserver.py would give the same: the byte-for-byte transcript of
#     every fastmail entry (replies to every command, TLS version and
#     cipher for a default and a TLS 1.2-capped client, the certificate
#     chain sent, whole HTTP responses to GET/HEAD/another path/POST) is
#     recorded, then mailserver.py alone serves the same servers.json and
#     the transcript must be identical;
#  4. the latency model (`up --latency rtt=,jitter=,slow=`): no reply
#     comes before its delay, the slow share is slow, both kinds exist;
#  5. `--fast-server all` on the scenarios: fastmail serves every
#     well-behaved scenario endpoint (greetings, EHLO variants, STARTTLS
#     refusals, injection, no certificate, TLS versions); their SMTP facts
#     equal the truth, and the bytes are mailserver.py's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
DOMAINS=${FASTSERVER_TEST_DOMAINS:-1000}
testbed_up --no-postfix --domains "$DOMAINS"

PY=/usr/bin/python3
[ -s "$TB/pids/fastmail.pid" ] || fail "fastmail did not start (up --domains)"

# Parts 1, 3, 4 and the bytes of 5 check the testbed's servers against
# each other (fastmail is compiled by `up`, the same for every build of
# mxcrawl) and run nothing of the build tree: a sanitizer build's suite
# (MXCRAWL_SANITIZED, tests/CMakeLists.txt) runs only the parts that run
# its code, the scan (2) and the probe (5); the gcc suite runs them all.
testbed_checks() {
	[ -z "${MXCRAWL_SANITIZED:-}" ] && return 0
	echo "(sanitizer build: the testbed's own checks are the gcc suite's)"
	return 1
}

if testbed_checks; then
echo "== 1. the split"
"$PY" - "$TB" <<'EOF' || fail "the split between fastmail and mailserver.py"
import ipaddress, json, sys
d = sys.argv[1]
pop = ipaddress.ip_network("127.32.0.0/11")
fast = set()
for line in open(d + "/fastmail.conf"):
    w = line.split()
    if w and w[0] in ("smtp", "https"):
        fast.add((w[0], w[1], int(w[2])))
allj = json.load(open(d + "/servers.json"))
py = json.load(open(d + "/servers-python.json"))
bad = []
for kind in ("smtp", "https"):
    for e in allj[kind]:
        k = (kind, e["addr"], int(e.get("port", 25 if kind == "smtp" else 443)))
        inpop = ":" not in e["addr"] and ipaddress.ip_address(e["addr"]) in pop
        if inpop != (k in fast):
            bad.append("%s: population %s, fastmail %s" % (k, inpop, k in fast))
    pyk = {(kind, e["addr"], int(e.get("port", 25 if kind == "smtp" else 443))) for e in py[kind]}
    if pyk & fast:
        bad.append("served by both: %s" % sorted(pyk & fast)[:5])
n = len(fast)
print("fastmail serves %d entries, mailserver.py %d" % (n, len(py["smtp"]) + len(py["https"])))
for b in bad[:20]:
    print("FAIL:", b)
sys.exit(1 if bad or n < 100 else 0)
EOF
fi

echo "== 2. a full scan against the truth"
"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign fast "${allow_args[@]}" \
	--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
	2>"$TEST_WORK/scan.err" || { tail -20 "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
"$MXCRAWL" export --campaign fast --format jsonl >"$TEST_WORK/fast.jsonl" || fail "export"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_dns.py" --smtp "$TESTBED_TRUTH" \
	"$TEST_WORK/fast.jsonl" >"$TEST_WORK/compare.out" 2>&1 || {
	grep ': crawler=' "$TEST_WORK/compare.out" | head -30 >&2
	tail -1 "$TEST_WORK/compare.out" >&2
	fail "facts differ from the truth with fastmail serving the population"
}
tail -1 "$TEST_WORK/compare.out"
# fastmail really served the scan: its own counters, at its stop below.

# same_bytes: the transcript of every fastmail entry, then the same with
# mailserver.py alone serving servers.json: they must be identical.
same_bytes() {
local fm ms probe n served
fm=$(cat "$TB/pids/fastmail.pid")
ms=$(cat "$TB/pids/mailserver.pid")
"$PY" "$MXCRAWL_SRC/tests/integration/server_transcript.py" "$TESTBED_SERVERS" \
	--only-fast "$TB" >"$TEST_WORK/fast-transcript.jsonl" || fail "transcript (fastmail)"
kill -TERM "$fm" "$ms"
wait_gone "$fm" || fail "fastmail did not stop"
wait_gone "$ms" || fail "mailserver.py did not stop"
grep -E "fastmail: stopped: connections [0-9]+" "$TB/logs/fastmail.out" ||
	fail "fastmail printed no counters"
# A sanitizer build (TESTBED_FASTMAIL_CFLAGS) reports there.
if grep -E "Sanitizer|runtime error" "$TB/logs/fastmail.out"; then
	fail "fastmail: sanitizer report"
fi
served=$(sed -n 's/.*tls ok \([0-9]*\).*/\1/p' "$TB/logs/fastmail.out" | tail -1)
[ "${served:-0}" -ge 100 ] || fail "fastmail completed only ${served:-0} TLS handshakes"
rm -f "$TB/pids/fastmail.pid" "$TB/pids/mailserver.pid"
setsid /usr/bin/python3 "$MXCRAWL_SRC/tests/testbed/servers/mailserver.py" "$TB" \
	--name mailfull --quiet >"$TEST_WORK/mailfull.out" 2>&1 &
probe=$(sed -n 's/^smtp \([0-9.]*\) 25 .*/\1/p' "$TB/fastmail.conf" | head -1)
poll_until 60 "mailserver.py on every address" "$PY" -c '
import socket, sys, os
if not os.path.exists(sys.argv[2]):
    sys.exit(1)
s = socket.create_connection((sys.argv[1], 25), timeout=1)
sys.exit(0 if s.recv(1) else 1)' "$probe" "$TB/pids/mailfull.pid"
"$PY" "$MXCRAWL_SRC/tests/integration/server_transcript.py" "$TESTBED_SERVERS" \
	--only-fast "$TB" >"$TEST_WORK/py-transcript.jsonl" || fail "transcript (mailserver.py)"
n=$(grep -c . "$TEST_WORK/fast-transcript.jsonl")
[ "$n" -ge 100 ] || fail "only $n transcripts"
"$PY" - "$TEST_WORK/fast-transcript.jsonl" "$TEST_WORK/py-transcript.jsonl" <<'EOF' ||
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
bad = 0
for x, y in zip(a, b):
    if x != y:
        bad += 1
        if bad <= 5:
            for k in sorted(set(x) | set(y)):
                if x.get(k) != y.get(k):
                    print("DIFF %s %s %s:\n  fastmail   %r\n  mailserver %r"
                          % (x["kind"], x["addr"], k, x.get(k), y.get(k)))
versions = sorted({(r["default"].get("tls") or {}).get("version") or "none" for r in a})
print("%d entries, %d differ; TLS versions seen: %s" % (len(a), bad, versions))
sys.exit(1 if bad or len(a) != len(b) or len(versions) < 3 else 0)
EOF
	fail "fastmail and mailserver.py send different bytes"
}

if testbed_checks; then
echo "== 3. mailserver.py gives the same bytes"
same_bytes

echo "== 4. latency: rtt=0.3, jitter=0.05, slow=0.5:1.2 (fastmail on its own)"
# A second fastmail on port 2525 with the same entries: the delays are
# lower bounds (a reply never comes early) whatever the load of the box.
"$PY" - "$TB" "$MXCRAWL_SRC/tests/testbed" <<'EOF' || fail "latency conf"
import json, sys
sys.path.insert(0, sys.argv[2] + "/servers")
sys.dont_write_bytecode = True
import fastmail_conf
smtp, https, _ = fastmail_conf.split(json.load(open(sys.argv[1] + "/servers.json")))
smtp = [dict(e, port=2525) for e in smtp[:40]]
fastmail_conf.write_conf(sys.argv[1] + "/lat.conf", smtp, [],
                         {"rtt": 0.3, "jitter": 0.05, "slow_share": 0.5, "slow_rtt": 1.2, "seed": 7})
EOF
exe=$(ls "$TB"/bin/fastmail-* | head -1)
"$exe" "$TB/lat.conf" "$TB/pids/fastlat.pid" 2>"$TEST_WORK/fastlat.out" &
LAT_PID=$!
CRAWLERS+=("$LAT_PID")
poll_until 30 "fastmail (latency)" test -s "$TB/pids/fastlat.pid"
"$PY" - "$TB/lat.conf" <<'EOF' || fail "latency model"
import concurrent.futures, socket, sys, time
addrs = [l.split()[1] for l in open(sys.argv[1]) if l.startswith("smtp ")]
def one(a):
    t0 = time.monotonic()
    s = socket.create_connection((a, 2525), timeout=30)
    f = s.makefile("rb")
    f.readline()
    t1 = time.monotonic()
    s.sendall(b"EHLO x\r\n")
    while f.readline()[3:4] == b"-":
        pass
    t2 = time.monotonic()
    s.close()
    return a, t1 - t0, t2 - t1
with concurrent.futures.ThreadPoolExecutor(40) as ex:
    res = list(ex.map(one, addrs))
bad, slow = [], 0
for a, banner, ehlo in res:
    is_slow = banner >= 1.15
    slow += is_slow
    lo = 1.15 if is_slow else 0.25
    if banner < lo or ehlo < lo:
        bad.append("%s: banner %.3f s, EHLO %.3f s, want >= %.2f" % (a, banner, ehlo, lo))
print("%d endpoints, %d slow; fastest banner %.3f s" % (len(res), slow, min(r[1] for r in res)))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad or not 5 <= slow <= 35 else 0)
EOF
# A client that half-closes while its reply is held back (EHLO, then
# FIN): the server must wait for the release time without spinning on
# the socket's EOF (it once did, a CPU second per second held).
"$PY" - "$TB/lat.conf" "$LAT_PID" <<'EOF' || fail "fastmail spins while a reply is held"
import socket, sys, time
addrs = [l.split()[1] for l in open(sys.argv[1]) if l.startswith("smtp ")]
def cpu():
    with open("/proc/%s/stat" % sys.argv[2]) as f:
        w = f.read().rsplit(")", 1)[1].split()
    return (int(w[11]) + int(w[12])) / 100.0
# Every connection first, then the banners: their delays run at once
# (one after the other they took 15 s).
socks = [socket.create_connection((a, 2525), timeout=30) for a in addrs[:20]]
for s in socks:
    s.recv(1000)                   # the banner (after its delay)
c0, t0 = cpu(), time.monotonic()
for s in socks:
    s.sendall(b"EHLO x\r\n")
    s.shutdown(socket.SHUT_WR)
for s in socks:
    s.recv(1000)                   # the EHLO reply, after its delay
used, held = cpu() - c0, time.monotonic() - t0
print("replies held %.2f s, fastmail CPU meanwhile %.2f s" % (held, used))
sys.exit(0 if used < 0.1 * held else 1)
EOF
kill -TERM "$LAT_PID"
wait "$LAT_PID" || fail "fastmail (latency) exit status"
fi

echo "== 5. --fast-server all: the scenarios' well-behaved endpoints on fastmail"
# Greetings 421/554/multi-line, EHLO variants, STARTTLS refused, injection
# after the 220, no certificate, TLS version limits: behaviours the
# population does not have. Their SMTP facts against the truth, then the
# same bytes as mailserver.py.
"$MXCRAWL_SRC/tests/testbed/down" "$TB" >/dev/null
testbed_up --no-postfix --fast-server all
[ -s "$TB/pids/fastmail.pid" ] || fail "fastmail did not start (--fast-server all)"
probe=$(dirname "$MXCRAWL")/tests/smtpprobe
read -r -a targets < <("$PY" "$MXCRAWL_SRC/tests/integration/compare_smtp.py" --args "$TESTBED_TRUTH")
"$probe" --deadline 8000 --stage 4000 "${targets[@]}" >"$TEST_WORK/probes.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_smtp.py" "$TESTBED_TRUTH" \
	"$TEST_WORK/probes.jsonl" || fail "SMTP facts differ from the truth (--fast-server all)"
testbed_checks && same_bytes
echo PASS
