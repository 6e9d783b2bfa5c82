#!/usr/bin/env bash
# The endpoint probe (SMTP up to the end of STARTTLS, QUIT inside TLS)
# against every SMTP endpoint of the testbed, hostile peers included: each
# ends in the outcome the truth file (the scenario definitions) gives,
# within the total deadline, with the banner/EHLO/STARTTLS facts, stripping
# signatures, injection, TLS version and the number of certificates sent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3
probe=$(dirname "$MXCRAWL")/tests/smtpprobe
read -r -a targets < <("$PY" "$MXCRAWL_SRC/tests/integration/compare_smtp.py" --args "$TESTBED_TRUTH")
# The tarpit trickles a byte a second: its truth outcome is `deadline`, so
# the comparison proves the total deadline cut it off.
"$probe" --deadline 8000 --stage 4000 "${targets[@]}" >"$TEST_WORK/probes.jsonl"
"$PY" "$MXCRAWL_SRC/tests/integration/compare_smtp.py" "$TESTBED_TRUTH" \
	"$TEST_WORK/probes.jsonl" || fail "SMTP facts differ from the truth"
echo PASS
