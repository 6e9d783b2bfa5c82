#!/usr/bin/env bash
# scripts/bench --report-db --reuse DIR on a copy (cp -a) of a kept
# directory: the copy's postgresql.conf still names the original's socket
# directory, so started as it is the copy put its socket into the
# original's run directory and mxcrawl, which looks in the copy's, could
# not connect. The bench prepares the copy first (use_own_socket_dir in
# scripts/bench); checked here with a real private cluster: made, stopped,
# copied, the copy prepared as the bench prepares it and started. Its
# socket must be in its own run directory, the original's must stay
# empty, and preparing it again must not change the file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

orig=$TEST_WORK/orig
copy=$TEST_WORK/copy
export XDG_DATA_HOME=$orig/data
expect_rc 0 "$MXCRAWL" db start -q
expect_rc 0 "$MXCRAWL" db stop -q
[ -z "$(cluster_pid || true)" ] || fail "the original's cluster still runs"
cp -a "$orig" "$copy"
# From here on test_cleanup stops the copy's cluster.
export XDG_DATA_HOME=$copy/data

prepare() {
	python3 - "$MXCRAWL_SRC/scripts/bench" "$copy" <<'EOF'
import importlib.machinery, importlib.util, sys
sys.dont_write_bytecode = True
loader = importlib.machinery.SourceFileLoader("bench", sys.argv[1])
bench = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench", loader))
loader.exec_module(bench)
bench.use_own_socket_dir(sys.argv[2])
EOF
}
conf=$copy/data/mxcrawl/pg/postgresql.conf
prepare 2>"$TEST_WORK/prepare.err" || { cat "$TEST_WORK/prepare.err" >&2; fail "preparing the copy"; }
grep -q "set to $copy/data/mxcrawl/run (was $orig/data/mxcrawl/run)" "$TEST_WORK/prepare.err" ||
	fail "the bench did not say what it changed: $(cat "$TEST_WORK/prepare.err")"
before=$(cksum <"$conf")

expect_rc 0 "$MXCRAWL" db start -q
[ -S "$copy/data/mxcrawl/run/.s.PGSQL.5432" ] || fail "no socket in the copy's run directory"
expect_eq "files in the original's run directory" "$(find "$orig/data/mxcrawl/run" -mindepth 1 | wc -l)" 0
expect_eq "the copy answers" "$(sql 'SELECT 1')" 1
expect_eq "the copy's socket directory" "$(sql 'SHOW unix_socket_directories')" "$copy/data/mxcrawl/run"

prepare 2>"$TEST_WORK/prepare.err" || { cat "$TEST_WORK/prepare.err" >&2; fail "preparing again"; }
expect_eq "postgresql.conf after preparing again" "$(cksum <"$conf")" "$before"
expect_rc 0 "$MXCRAWL" db stop -q
echo "ok: a copied report database starts on its own socket"
