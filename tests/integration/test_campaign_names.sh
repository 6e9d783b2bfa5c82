#!/usr/bin/env bash
# Campaign names (README "Campaign names"): what a name may be, checked in
# C before any query (a bad one is a usage error, exit 64, naming the
# problem, never a server error), no new all-digit names, and ID|NAME
# arguments that never guess between the campaign with an id and another
# campaign that an older version let take that number as its name.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

printf 'a.example\nb.example\n' >"$TEST_WORK/two.txt"
import() {
	"$MXCRAWL" scan --targets "$TEST_WORK/two.txt" --import-only --campaign "$@"
}
bad_utf8=$(printf 'caf\xe9')        # Latin-1 é
overlong=$(printf 'x\xc0\xaf')      # overlong '/'
surrogate=$(printf 'x\xed\xa0\x80') # U+D800
c1=$(printf 'x\xc2\x85y')           # U+0085, a C1 control (NEL)

# ---- what a new name may be ---------------------------------------------------
expect_rc 0 import alpha
expect_rc 0 import "bücher 2026-12 ✓"
name128=$(printf 'n%.0s' {1..128})
expect_rc 0 import "$name128"
for bad in "$bad_utf8" "$overlong" "$surrogate"; do
	expect_rc 64 import "$bad"
	grep -q "the campaign name is not valid UTF-8" "$TEST_WORK/err" ||
		fail "invalid UTF-8 message: $(cat "$TEST_WORK/err")"
done
for bad in "$(printf 'a\tb')" "$(printf 'a\033[31m')" "$c1"; do
	expect_rc 64 import "$bad"
	grep -q "the campaign name contains a control character" "$TEST_WORK/err" ||
		fail "control character message: $(cat "$TEST_WORK/err")"
done
expect_rc 64 import "${name128}x"
grep -q "longer than 128 bytes" "$TEST_WORK/err" || fail "length message"
expect_rc 64 import ""
grep -q "the campaign name is empty" "$TEST_WORK/err" || fail "empty message"
for digits in 1 42 007; do
	expect_rc 64 import "$digits"
	grep -q "the campaign name is all digits: commands that take ID|NAME would read it as a campaign id" \
		"$TEST_WORK/err" || fail "all-digit message: $(cat "$TEST_WORK/err")"
done
expect_rc 0 import "1a"
expect_eq "campaigns created" "$(sql "SELECT string_agg(name, ',' ORDER BY id) FROM campaign")" \
	"alpha,bücher 2026-12 ✓,$name128,1a"
# A default name (the file's name and the time) is cut between characters.
long_file=$TEST_WORK/$(printf 'é%.0s' {1..60}).txt
cp "$TEST_WORK/two.txt" "$long_file"
expect_rc 0 "$MXCRAWL" scan --targets "$long_file" --import-only
expect_eq "default name cut at a character" \
	"$(sql "SELECT name ~ '^(é){50}-[0-9]{8}T[0-9]{6}Z$' FROM campaign ORDER BY id DESC LIMIT 1")" t

# ---- every ID|NAME argument: bad names are usage errors, before any query ---------
for cmd in "campaign show" "campaign cancel" "campaign size" "campaign drop" \
	"export --format jsonl --campaign" "report --campaign" \
	"report --campaign alpha --compare" "reverify --campaign" \
	"scan --resume --campaign"; do
	# shellcheck disable=SC2086
	expect_rc 64 "$MXCRAWL" $cmd "$bad_utf8"
	grep -q "not valid UTF-8" "$TEST_WORK/err" || fail "$cmd: $(cat "$TEST_WORK/err")"
	grep -qi "server\|ERROR:" "$TEST_WORK/err" && fail "$cmd: a server error: $(cat "$TEST_WORK/err")"
done
expect_rc 64 "$MXCRAWL" campaign list --prefix "$bad_utf8"
expect_rc 64 "$MXCRAWL" report --history "$bad_utf8"
grep -q -- "--history: the campaign name is not valid UTF-8" "$TEST_WORK/err" || fail "history: $(cat "$TEST_WORK/err")"
expect_rc 64 "$MXCRAWL" campaign lock "$bad_utf8" -- true
expect_rc 64 "$MXCRAWL" campaign show "$(printf 'al\npha')"
grep -q "control character" "$TEST_WORK/err" || fail "control character in ID|NAME"
# Before any query: with an unreachable database the answer is still 64.
expect_rc 64 "$MXCRAWL" campaign show "$bad_utf8" --db "host=$TEST_WORK/nowhere"

# ---- ID|NAME resolution ----------------------------------------------------------
# Digits name an id; a name is a name.
expect_rc 0 "$MXCRAWL" campaign show 4 --format json
expect_eq "show 4" "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$TEST_WORK/out")" 1a
expect_rc 0 "$MXCRAWL" campaign show 1a --format json
expect_eq "show 1a" "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TEST_WORK/out")" 4
# Campaigns named "1" and "9" by an older version (which allowed it): "9"
# is no campaign's id, so 9 means the campaign named "9"; "1" is also the
# id of alpha, so 1 is refused (64), naming both and what to say instead,
# and cancel touches neither.
sql "UPDATE campaign SET name = '1' WHERE name = '1a'"
sql "UPDATE campaign SET name = '9' WHERE id = 3"
expect_rc 64 "$MXCRAWL" campaign show 1
grep -q "'1' is ambiguous: it is the id of campaign 'alpha' and the name of campaign id 4 .*; give 'alpha' or 4 instead" \
	"$TEST_WORK/err" || fail "ambiguity message: $(cat "$TEST_WORK/err")"
expect_rc 64 "$MXCRAWL" campaign cancel 1
expect_rc 64 "$MXCRAWL" export --format jsonl --campaign 1
expect_rc 64 "$MXCRAWL" report --campaign 1
expect_eq "nothing cancelled" "$(sql "SELECT string_agg(state::text, ',' ORDER BY id) FROM campaign")" \
	"queued,queued,queued,queued,queued"
expect_rc 0 "$MXCRAWL" campaign cancel 4
grep -q "cancelled campaign '1' (id 4" "$TEST_WORK/out" || fail "cancel by id: $(cat "$TEST_WORK/out")"
expect_rc 0 "$MXCRAWL" campaign cancel alpha
expect_rc 0 "$MXCRAWL" campaign cancel 9
grep -q "cancelled campaign '9' (id 3" "$TEST_WORK/out" || fail "cancel legacy name: $(cat "$TEST_WORK/out")"
expect_eq "cancelled" "$(sql "SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM campaign")" \
	"1:cancelled,2:queued,3:cancelled,4:cancelled,5:queued"
# A campaign whose name is its own id is one campaign, not ambiguous.
sql "UPDATE campaign SET name = '2' WHERE id = 2"
expect_rc 0 "$MXCRAWL" campaign show 2
echo PASS
