#!/usr/bin/env bash
# The command line: --help on every command, sysexits codes, commands that
# are not built yet say so and fail, and `targets check` reports every
# rejected line of each file format with its number and reason.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

expect_rc 0 "$MXCRAWL" --help
for cmd in scan report export db campaign targets reverify; do
	grep -q "^  $cmd " "$TEST_WORK/out" || fail "--help does not list $cmd"
done
for cmd in scan report export db campaign targets reverify; do
	expect_rc 0 "$MXCRAWL" "$cmd" --help
	grep -q "^usage: mxcrawl $cmd" "$TEST_WORK/out" || fail "$cmd --help"
done
expect_rc 64 "$MXCRAWL"
expect_rc 64 "$MXCRAWL" frobnicate
grep -q "unknown command 'frobnicate'" "$TEST_WORK/err" || fail "unknown command message"
expect_rc 64 "$MXCRAWL" db
expect_rc 64 "$MXCRAWL" db explode
expect_rc 64 "$MXCRAWL" scan --batch-size 0 --targets /dev/null
grep -q -- "--batch-size wants a whole number" "$TEST_WORK/err" || fail "batch-size message"
expect_rc 64 "$MXCRAWL" db start --db "host=/nonexistent"
# Commands that need an action or a campaign say how to use them.
expect_rc 64 "$MXCRAWL" campaign
expect_rc 64 "$MXCRAWL" reverify
expect_rc 64 "$MXCRAWL" report --format pdf

# targets check: a plain list with comments, CRLF, junk and an IDN.
printf '# a comment\r\nExample.COM.\r\n\r\nbücher.example\nfoo bar.example\n%s.example\n10.0.0.1\nexample.com # again\n' \
	"$(printf 'a%.0s' {1..64})" >"$TEST_WORK/plain.txt"
expect_rc 0 "$MXCRAWL" targets check --names "$TEST_WORK/plain.txt"
expect_eq "plain names" "$(grep -v ':' "$TEST_WORK/out" | tr '\n' ' ')" "example.com xn--bcher-kva.example "
grep -q "plain.txt:5: rejected (space)" "$TEST_WORK/out" || fail "line 5"
grep -q "plain.txt:6: rejected (label_too_long)" "$TEST_WORK/out" || fail "line 6"
grep -q "plain.txt:7: rejected (ip_address)" "$TEST_WORK/out" || fail "line 7"
grep -q '^duplicates: 1$' "$TEST_WORK/err" || fail "duplicate count: $(cat "$TEST_WORK/err")"
grep -q '^format: plain$' "$TEST_WORK/err" || fail "format guess"

# A zone file: delegations below the apex only, multi-line SOA, $ORIGIN.
cat >"$TEST_WORK/example.zone" <<'ZONE'
$ORIGIN example.
$TTL 3600
@	IN SOA ns.example. host.example. (
		2026112501 ; serial
		7200 3600 1209600 3600 )
	IN NS ns.example.
ns	IN A 192.0.2.1
alpha	3600 IN NS ns1.alpha
	IN NS ns2.alpha.example.
beta.example.	IN	NS	ns.beta.example.
bad_name	IN NS ns.example.
outside.test.	IN NS ns.example.
$INCLUDE other.zone
ZONE
expect_rc 0 "$MXCRAWL" targets check --names "$TEST_WORK/example.zone"
expect_eq "zone names" "$(grep -v ':' "$TEST_WORK/out" | tr '\n' ' ')" "alpha.example beta.example "
grep -q "example.zone:11: rejected (bad_char)" "$TEST_WORK/out" || fail "zone line 11: $(cat "$TEST_WORK/out")"
grep -q "example.zone:12: rejected (zone_outside)" "$TEST_WORK/out" || fail "zone line 12"
grep -q "example.zone:13: rejected (zone_directive)" "$TEST_WORK/out" || fail "zone line 13"
grep -q '^format: zone$' "$TEST_WORK/err" || fail "zone format guess"

# Nothing valid at all: exit 65; a missing file: exit 66.
printf '\0\1\2garbage\377\n' >"$TEST_WORK/garbage.bin"
expect_rc 65 "$MXCRAWL" targets check "$TEST_WORK/garbage.bin"
expect_rc 66 "$MXCRAWL" targets check "$TEST_WORK/missing.txt"
grep -q "cannot open target file" "$TEST_WORK/err" || fail "missing file message"
echo "PASS"
