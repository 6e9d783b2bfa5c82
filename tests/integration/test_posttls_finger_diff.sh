#!/usr/bin/env bash
# Differential test of the SMTP/TLS stage and MTA-STS: Postfix's
# posttls-finger (and openssl s_client) are run on every MX endpoint the
# crawler contacted and their STARTTLS, handshake, version, trust/name and
# DANE verdicts are compared with the crawler's own (exported) verdicts,
# not with the truth; mta-sts-query (postfix-mta-sts-resolver) is run on
# every domain with an _mta-sts record and its fetch/parse verdict, mode,
# max_age, mx patterns and id are compared with the crawler's.
# Every disagreement fails unless it is a documented oracle exception
# (tests/testbed/README.md, "Oracle exceptions").
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up

PY=/usr/bin/python3

"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign diff "${allow_args[@]}" \
	--progress 0 --smtp-deadline 8000 2>"$TEST_WORK/scan.err" ||
	{ cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
"$MXCRAWL" export --campaign diff --format jsonl >"$TEST_WORK/export.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/export_as_truth.py" "$TESTBED_TRUTH" \
	"$TEST_WORK/export.jsonl" >"$TEST_WORK/crawler-truth.jsonl"

# The oracles resolve names with the system resolver: point it at the
# testbed inside this test's own mount namespace, and check that it took.
mount --bind "$TB/dns/resolv.conf" /etc/resolv.conf
grep -q '^nameserver 127\.53\.0\.53$' /etc/resolv.conf || fail "resolv.conf bind mount"
"$PY" "$MXCRAWL_SRC/tests/testbed/selfcheck_tls.py" "$TB" \
	--truth "$TEST_WORK/crawler-truth.jsonl" || fail "posttls-finger / s_client / mta-sts-query disagree with the crawler"
echo PASS
