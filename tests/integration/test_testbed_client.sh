#!/usr/bin/env bash
# The testbed's mail client ports (issue M12, item 5) agree with independent
# tools, and the check can fail:
#  1. smoke.py: every client behaviour of mailserver.py (IMAP, POP3,
#     submission; STARTTLS/STLS and implicit TLS; defects) with a Python
#     client, in a namespace of its own;
#  2. selfcheck_client.py on a running testbed: dig (SRV, AD, addresses,
#     TLSA), openssl s_client (handshake, version, trust, names, DANE) and
#     curl (greeting, STARTTLS offered/refused, PREAUTH, injection) against
#     the truth of every cp-* domain: no unexplained disagreement;
#  3. the same on a truth file with known facts flipped: it must fail, and
#     name each flipped fact (a check that cannot fail proves nothing).
# Ground truth comes from scenarios.py through build.py, never from mxcrawl.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
PY=/usr/bin/python3
TBDIR=$MXCRAWL_SRC/tests/testbed

"$PY" "$TBDIR/servers/smoke.py" >"$TEST_WORK/smoke.out" 2>&1 || {
	grep -v '^ok ' "$TEST_WORK/smoke.out" | tail -20 >&2
	fail "smoke.py"
}
grep -q '^ok   c_imap ' "$TEST_WORK/smoke.out" || fail "smoke.py ran no client check"

testbed_up --no-postfix

"$PY" "$TBDIR/selfcheck_client.py" "$TB" --report "$TEST_WORK/client.json" \
	>"$TEST_WORK/client.out" 2>&1 || {
	cat "$TEST_WORK/client.out" >&2
	fail "selfcheck_client: the tools disagree with the truth"
}
tail -1 "$TEST_WORK/client.out"
# Every cp-* domain was checked, with its endpoints and both tools.
"$PY" - "$TB/truth.jsonl" "$TEST_WORK/client.json" <<'EOF' || fail "selfcheck_client checked too little"
import json, sys
cp = {json.loads(l)["domain"] for l in open(sys.argv[1]) if '"scenario": "cp-' in l}
rows = json.load(open(sys.argv[2]))
seen = {r["domain"] for r in rows}
assert cp and cp == seen, sorted(cp ^ seen)
oracles = {r["oracle"] for r in rows}
assert {"dig", "s_client", "curl", "s_client-dane"} <= oracles, oracles
EOF

# A truth with facts flipped must be refused, each fact by name.
"$PY" - "$TB/truth.jsonl" "$TEST_WORK/wrong.jsonl" <<'EOF'
import json, sys
flip = {
    # scenario: (service, path in the service's object, wrong value)
    "cp-srv-dot": ("imaps", ["srv", "offered"], True),
    "cp-srv-priority": ("imaps", ["srv", "records", 0, "port"], 995),
    "cp-imap-no-starttls": ("imap", ["targets", 0, "endpoints", 0, "probe", "outcome"], "tls_ok"),
    "cp-pop3-stls-refused": ("pop3", ["targets", 0, "endpoints", 0, "probe", "outcome"], "no_starttls"),
    "cp-imaps-expired": ("imaps", ["targets", 0, "endpoints", 0, "cert", "errors"], []),
    "cp-imaps-name-domain": ("imaps", ["targets", 0, "endpoints", 0, "cert", "name_matches_domain"], False),
    "cp-dane-ok": ("imaps", ["targets", 0, "dane"], "dane_no_match"),
    "cp-dane-unsigned": ("imaps", ["targets", 0, "tlsa", "looked_up"], True),
    "cp-imap-preauth": ("imap", ["targets", 0, "endpoints", 0, "probe", "greeting"], "rejected"),
}
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        t = json.loads(line)
        if t["scenario"] in flip:
            svc, path, value = flip[t["scenario"]]
            o = t["client"][svc]
            for k in path[:-1]:
                o = o[k]
            o[path[-1]] = value
        out.write(json.dumps(t) + "\n")
EOF
only=cp-srv-dot,cp-srv-priority,cp-imap-no-starttls,cp-pop3-stls-refused,cp-imaps-expired
only=$only,cp-imaps-name-domain,cp-dane-ok,cp-dane-unsigned,cp-imap-preauth
rc=0
"$PY" "$TBDIR/selfcheck_client.py" "$TB" --truth "$TEST_WORK/wrong.jsonl" --only "$only" \
	>"$TEST_WORK/wrong.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || {
	cat "$TEST_WORK/wrong.out" >&2
	fail "selfcheck_client accepted a wrong truth (exit $rc)"
}
for want in "cp-srv-dot imaps dig: offered" "cp-srv-priority imaps dig: srv_records" \
	"cp-imap-no-starttls imap .* s_client: handshake" "cp-imap-no-starttls imap .* curl: outcome" \
	"cp-pop3-stls-refused pop3 .* curl: outcome" "cp-imaps-expired imaps .* s_client: errors" \
	"cp-imaps-name-domain imaps .* s_client: name_matches_domain" \
	"cp-dane-ok imaps s_client-dane: dane" "cp-dane-unsigned imaps dig: tlsa_looked_up" \
	"cp-imap-preauth imap .* curl: greeting"; do
	grep -q "^DISAGREE $want" "$TEST_WORK/wrong.out" || {
		cat "$TEST_WORK/wrong.out" >&2
		fail "selfcheck_client did not name the wrong fact: $want"
	}
done
echo "PASS: client ports agree with dig, s_client and curl; a wrong truth is refused"
