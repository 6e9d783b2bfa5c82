#!/usr/bin/env bash
# Exit codes that say whose fault it is (sysexits): a --db that libpq
# cannot parse is bad usage (64), such a $MXCRAWL_DB bad configuration
# (78), a server that does not answer unavailable (69), and a private
# cluster whose data directory cannot be created cannot-create (73), for
# every command that connects. As root, which ignores permission bits,
# "cannot create" is made with a path below a regular file (ENOTDIR) and
# a read-only tmpfs mounted in this test's own mount namespace (EROFS).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
ip link set lo up

printf 'a.example\n' >"$TEST_WORK/one.txt"
# Every command that connects, with the arguments it needs to get there.
commands=(
	"campaign list"
	"campaign show x"
	"scan --import-only --targets $TEST_WORK/one.txt --campaign c1"
	"export --format jsonl"
	"report"
	"reverify --campaign x"
	"db migrate"
	"db status"
)

for bad in "nonsense" "host='unterminated" "postgresql://[::1/db"; do
	for cmd in "${commands[@]}"; do
		# shellcheck disable=SC2086
		expect_rc 64 "$MXCRAWL" $cmd --db "$bad"
		grep -q -- "--db is not a valid PostgreSQL connection string or URI: " "$TEST_WORK/err" ||
			fail "$cmd --db '$bad': $(cat "$TEST_WORK/err")"
		# shellcheck disable=SC2086
		MXCRAWL_DB=$bad expect_rc 78 "$MXCRAWL" $cmd
		grep -q -- "\$MXCRAWL_DB is not a valid PostgreSQL connection string" "$TEST_WORK/err" ||
			fail "MXCRAWL_DB='$bad' $cmd: $(cat "$TEST_WORK/err")"
	done
done
# libpq quotes a bad URI whole; the message must not show its password.
expect_rc 64 "$MXCRAWL" campaign list --db "postgresql://u:s3cret@[::1/db"
grep -q "not a valid PostgreSQL connection string or URI: .*URI" "$TEST_WORK/err" ||
	fail "URI message: $(cat "$TEST_WORK/err")"
grep -q s3cret "$TEST_WORK/err" && fail "the password is shown: $(cat "$TEST_WORK/err")"
echo "ok: an unparsable --db exits 64, an unparsable \$MXCRAWL_DB 78"
# A string that parses but reaches no server stays 69.
expect_rc 69 "$MXCRAWL" campaign list --db "host=$TEST_WORK/no-such-dir"
expect_rc 69 "$MXCRAWL" campaign list --db "postgresql://%2Fnowhere/db"
echo "ok: an unreachable server exits 69"

cantcreate() {
	local where=$1 cmd
	for cmd in "${commands[@]}" "db start"; do
		# status only looks: "not created" is 69, not running.
		[ "$cmd" != "db status" ] || continue
		# shellcheck disable=SC2086
		XDG_DATA_HOME=$where expect_rc 73 "$MXCRAWL" $cmd
		grep -q "cannot create the private database's directory '$where/mxcrawl'" "$TEST_WORK/err" ||
			fail "$cmd with XDG_DATA_HOME=$where: $(cat "$TEST_WORK/err")"
	done
}
: >"$TEST_WORK/a-file"
cantcreate "$TEST_WORK/a-file/data"
echo "ok: a data directory below a regular file exits 73"
mkdir "$TEST_WORK/ro"
mount -t tmpfs -o ro,size=1m,mode=0755 mxcrawl-test-ro "$TEST_WORK/ro"
cantcreate "$TEST_WORK/ro"
umount "$TEST_WORK/ro"
echo "ok: a data directory on a read-only file system exits 73"
[ -z "$(ls -A "$TEST_WORK/ro")" ] || fail "something was written below the read-only mount point"
echo PASS
