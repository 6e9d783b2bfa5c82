#!/usr/bin/env bash
# crawler/verify/verify.c, through the verifychain driver, against the testbed's
# ground truth: the testbed is only generated (`up --generate-only`: its
# certificates, chains, TLSA records and truth file; nothing is started or
# contacted), then every endpoint's certificate verdict and every MX
# host's DANE outcome is compared with truth.jsonl (compare_verify.py),
# for the scenarios and for a generated population. Then what the truth
# does not cover: judging a stored chain again at another time and against
# another store, bounds (oversized or undecodable leaf), and many threads
# sharing one context. Needs no root and no network.
set -euo pipefail
: "${MXCRAWL:?MXCRAWL must name the mxcrawl binary}"
: "${MXCRAWL_SRC:?MXCRAWL_SRC must name the source tree}"

# shellcheck source=tests/integration/lib.sh
. "$MXCRAWL_SRC/tests/integration/lib.sh"
VC=$(dirname "$MXCRAWL")/tests/verifychain
[ -x "$VC" ] || fail "no verifychain driver at $VC"
PY=/usr/bin/python3
# A sanitizer build must not hide its reports behind exit status 1, which
# verifychain uses for "could not judge".
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=86}
DOMAINS=${VERIFY_TEST_DOMAINS:-1000}

# A testbed with a population holds every scenario too (its truth has
# their lines): one generation and one comparison cover both (the
# scenarios alone were generated and compared a second time).
echo "== scenarios and a population of $DOMAINS domains"
TB=$TEST_WORK/tb
"$MXCRAWL_SRC/tests/testbed/up" "$TB" --generate-only --domains "$DOMAINS" \
	>"$TEST_WORK/up.log" 2>&1 || {
	cat "$TEST_WORK/up.log" >&2
	fail "testbed generation"
}
"$PY" "$MXCRAWL_SRC/tests/integration/compare_verify.py" "$VC" "$TB" \
	--report "$TEST_WORK/report.json" || fail "verdicts differ from the truth"

# chain_of SCENARIO: the chain file its (first) SMTP server presents.
chain_of() {
	"$PY" - "$TB/servers.json" "$1" <<'EOF'
import json, sys
for e in json.load(open(sys.argv[1]))["smtp"]:
    if e["scenario"] == sys.argv[2] and e.get("tls"):
        print(e["tls"]["chain_file"])
        break
else:
    sys.exit("no server for " + sys.argv[2])
EOF
}

# judge WHAT EXPR ARGS...: verifychain's object (as `r`) must satisfy EXPR.
judge() {
	local what=$1 expr=$2
	shift 2
	local rc=0
	"$VC" "$@" >"$TEST_WORK/out.json" 2>"$TEST_WORK/err" || rc=$?
	[ "$rc" -le 1 ] || {
		cat "$TEST_WORK/err" >&2
		fail "$what: verifychain exited $rc"
	}
	"$PY" - "$TEST_WORK/out.json" "$expr" <<'EOF' || fail "$what"
import json, sys
r = json.load(open(sys.argv[1]))
if not eval(sys.argv[2], {"r": r}):
    print("unexpected:", json.dumps(r), file=sys.stderr)
    sys.exit(1)
EOF
	echo "ok: $what"
}

echo "== re-judging stored chains"
CA=$TB/pki/ca/root.crt
NOW=$(date +%s)
DAY=86400
GOOD=$(chain_of dnssec-secure)
EXPIRED=$(chain_of cert-expired)
# cert-expired is valid from now-100 d to now-2 d, the CAs from now-30 d,
# healthy leaves until now+90 d.
judge "expired chain, judged 20 days ago: trusted" \
	'r["trusted"] and r["errors"] == []' \
	--ca-file "$CA" --at $((NOW - 20 * DAY)) --mx-host mx.cert-expired.test "$EXPIRED"
judge "expired chain, judged now" \
	'not r["trusted"] and r["errors"] == ["expired"]' \
	--ca-file "$CA" --at "$NOW" --mx-host mx.cert-expired.test "$EXPIRED"
judge "healthy chain, judged in 200 days: expired" \
	'r["errors"] == ["expired"] and r["name_matches_mx"]' \
	--ca-file "$CA" --at $((NOW + 200 * DAY)) --mx-host mx.dnssec-secure.test "$GOOD"
judge "healthy chain, hashed CA directory" \
	'r["trusted"] and r["path_len"] == 3' \
	--ca-dir "$TB/pki/cadir" --mx-host mx.dnssec-secure.test "$GOOD"
judge "healthy chain, the system store: unknown issuer" \
	'not r["trusted"] and r["errors"] == ["unknown_issuer"] and not r["missing_intermediate"]' \
	--mx-host mx.dnssec-secure.test "$GOOD"
judge "healthy chain, the untrusted root as the only CA" \
	'not r["trusted"] and "unknown_issuer" in r["errors"]' \
	--ca-file "$TB/pki/ca/untrusted-root.crt" --mx-host mx.dnssec-secure.test "$GOOD"

echo "== bounds"
# A leaf over VERIFY_MAX_CERT_DER (128 KiB), made by the testbed's PKI.
BIG=$(cd "$MXCRAWL_SRC/tests/testbed" && "$PY" -c '
import sys
from pki import Pki
print(Pki(sys.argv[1]).leaf("big.verify.test", {"pad_bytes": 140000}).chain_file)
' "$TB/pki")
judge "140 KB leaf refused, bounded" 'r["rc"] == "leaf_too_large" and r["chain_len"] == 2' \
	--ca-file "$CA" --mx-host big.verify.test "$BIG"
printf -- '-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n' >"$TEST_WORK/garbage.pem"
judge "undecodable leaf" 'r["rc"] == "bad_leaf"' \
	--ca-file "$CA" --mx-host x.test "$TEST_WORK/garbage.pem"
cat "$GOOD" "$TEST_WORK/garbage.pem" >"$TEST_WORK/good-garbage.pem"
judge "undecodable extra certificate skipped" \
	'r["rc"] == "ok" and r["trusted"] and r["skipped"] == 1 and r["chain_len"] == 3' \
	--ca-file "$CA" --mx-host mx.dnssec-secure.test "$TEST_WORK/good-garbage.pem"
judge "no certificate" 'r["rc"] == "no_chain"' \
	--ca-file "$CA" --mx-host x.test /dev/null

echo "== one context, many threads"
TA=$(chain_of dane-ta-211)
REC=$("$PY" - "$TB/truth.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["scenario"] == "dane-ta-211":
        print(t["mx"][0]["tlsa"]["records"][0])
EOF
)
judge "8 threads x 100 judgements agree" \
	'r["threads_agree"] and r["trusted"] and r["dane"]["outcome"] == "dane_ok"' \
	--ca-dir "$TB/pki/cadir" --mx-host mx.dane-ta-211.test --tlsa "$REC" \
	--threads 8 --repeat 100 "$TA"

echo "PASS"
