# Helpers for integration tests; sourced, not run.
# Every test gets its own private data directory and stops what it started
# by PID on exit, also when it fails.

: "${MXCRAWL:?MXCRAWL must name the mxcrawl binary}"
: "${MXCRAWL_SRC:?MXCRAWL_SRC must name the source tree}"

# Never let a developer's PG* variables steer a test to their server.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE MXCRAWL_DB

TEST_WORK=$(mktemp -d /tmp/mxcrawl-test.XXXXXX)
export XDG_DATA_HOME=$TEST_WORK/data

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# skip_or_fail WHY: a test that cannot run here (a tool is missing) fails,
# so that CI never passes without running it; a developer who knows sets
# MXCRAWL_ALLOW_SKIP=1 to have it skipped instead (exit 77, ctest's skip).
skip_or_fail() {
	if [ -n "${MXCRAWL_ALLOW_SKIP:-}" ]; then
		echo "SKIP: $* (MXCRAWL_ALLOW_SKIP is set)"
		exit 77
	fi
	fail "$* (set MXCRAWL_ALLOW_SKIP=1 to skip this test instead)"
}

# The postmaster PID of this test's private cluster, or nothing.
cluster_pid() {
	local f=$XDG_DATA_HOME/mxcrawl/pg/postmaster.pid
	[ -f "$f" ] && head -n 1 "$f"
}

# The PID of this test's private resolver (mxcrawl resolver), or nothing.
resolver_pid() {
	local f=$XDG_DATA_HOME/mxcrawl/resolver/unbound.pid
	[ -s "$f" ] && head -n 1 "$f"
}

# Waits (at most 60 s) until a process that is not our child has exited.
wait_gone() {
	timeout 60 tail --pid="$1" -s 0.1 -f /dev/null
}

# shellcheck source=tests/integration/poll.sh
source "$MXCRAWL_SRC/tests/integration/poll.sh"

# Runs the calling test again inside new network and mount namespaces
# where only loopback exists, unless it already runs in one of its own.
reexec_in_netns() {
	if [ "${MXCRAWL_TEST_NETNS:-}" != "$0" ]; then
		# The test starts again in the namespace with a work directory
		# of its own: this one is still empty and would be left behind.
		rmdir "$TEST_WORK"
		exec unshare --net --mount --propagation private \
			env MXCRAWL_TEST_NETNS="$0" bash "$0" "$@"
	fi
}

# Starts the testbed in $TEST_WORK/tb with the given `up` options and
# sources its testbed.env; test_cleanup stops it by PID (`down`).
testbed_up() {
	ip link set lo up
	# glibc's getaddrinfo wants a second IPv4 address: with only 127.0.0.1/8
	# on lo, AI_ADDRCONFIG returns no IPv4 addresses.
	ip addr add 127.53.0.1/32 dev lo 2>/dev/null || true
	TB=$TEST_WORK/tb
	TESTBED_STARTED=1
	"$MXCRAWL_SRC/tests/testbed/up" "$TB" "$@" >"$TEST_WORK/tb-up.log" 2>&1 || {
		tail -40 "$TEST_WORK/tb-up.log" >&2
		fail "testbed up"
	}
	# shellcheck disable=SC1091
	source "$TB/testbed.env"
	# Every scan of a test names its resolver: the testbed's unless it
	# says otherwise. Without one, scan would start the private resolver
	# (test_resolver_embedded.sh does that, on the testbed's root).
	[ -n "${MXCRAWL_RESOLVER:-}" ] || fail "testbed.env sets no MXCRAWL_RESOLVER"
	# allow_args: what every scan of a test passes: --allow-cidr for each
	# of the testbed's networks (the addresses are outside the defaults),
	# and --rate 0: the default rate cap is for the real internet, and a
	# test scans a few thousand loopback domains (a test of the cap gives
	# its own --rate after these).
	local c allow
	IFS=, read -r -a allow <<<"$TESTBED_ALLOW_CIDR"
	allow_args=(--rate 0)
	for c in "${allow[@]}"; do allow_args+=(--allow-cidr "$c"); done
}

# start_unvalidating_resolver: a second unbound beside the testbed's, with
# the same root hints and the iterator only: it resolves every testbed
# name but validates nothing (no AD, bogus data answered as is), as a
# misconfigured resolver would. Sets UNVALIDATING_RESOLVER (IP:PORT);
# test_cleanup stops it by PID. Needs testbed_up first.
start_unvalidating_resolver() {
	local conf=$TEST_WORK/unbound-noval.conf port=5354
	sed -e 's/^  port: 53$/  port: '"$port"'/' \
		-e 's/^  module-config: .*/  module-config: "iterator"/' \
		-e '/^  trust-anchor-file:/d' \
		-e 's|^  logfile: .*|  logfile: "'"$TEST_WORK"'/unbound-noval.log"|' \
		"$TB/dns/unbound.conf" >"$conf"
	grep -q "port: $port" "$conf" && grep -q '"iterator"' "$conf" ||
		fail "could not derive a non-validating unbound.conf"
	unbound -d -c "$conf" >"$TEST_WORK/unbound-noval.out" 2>&1 &
	NOVAL_PID=$!
	UNVALIDATING_RESOLVER=127.53.0.53:$port
	# Ready when it answers a real query (the secure canary, rcode 0).
	poll_until 30 "the non-validating unbound" /usr/bin/python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import dnsgen
r = dnsgen.dns_query("127.53.0.53", sys.argv[2], 1, port=int(sys.argv[3]), timeout=0.5)
sys.exit(0 if r and r[0] == 0 else 1)' "$MXCRAWL_SRC/tests/testbed" \
		"$MXCRAWL_CANARY_SECURE" "$port"
}

# Crawlers a test runs in the background: add each PID to CRAWLERS and
# test_cleanup kills what is left of them (SIGKILL: a test that fails
# mid-scan wants no graceful stop).
CRAWLERS=()

test_cleanup() {
	local pid
	for pid in "${CRAWLERS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "${NOVAL_PID:-}" ]; then
		kill "$NOVAL_PID" 2>/dev/null || true
		wait "$NOVAL_PID" 2>/dev/null || true
	fi
	# A private resolver a test started (scan without --resolver) keeps
	# running after the scan: stopped here by its PID.
	pid=$(resolver_pid || true)
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = unbound ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	pid=$(cluster_pid || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null || true   # fast shutdown
		wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	if [ -n "${TESTBED_STARTED:-}" ]; then
		"$MXCRAWL_SRC/tests/testbed/down" "$TB" >/dev/null 2>&1 || true
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "kept $TEST_WORK" >&2
	else
		rm -rf "$TEST_WORK"
	fi
}
trap test_cleanup EXIT

# psql against this test's database, unaligned, tuples only.
sql() {
	psql "$("$MXCRAWL" db conninfo)" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"
}

# refuse_inserts TABLE: from now on every row inserted into TABLE fails
# as on a full disk (SQLSTATE 53100, disk_full), until accept_inserts
# TABLE. A trigger per table, so that a test can make the full disk hit
# one writer (the endpoint rows, the claims) and not the others.
refuse_inserts() {
	sql "CREATE TABLE IF NOT EXISTS test_refuse (tbl text PRIMARY KEY);
	     CREATE OR REPLACE FUNCTION test_refuse() RETURNS trigger
	     LANGUAGE plpgsql AS \$\$
	     BEGIN
	         IF EXISTS (SELECT 1 FROM test_refuse WHERE tbl = TG_ARGV[0]) THEN
	             RAISE EXCEPTION 'could not extend file: No space left on device (test)'
	                 USING ERRCODE = 'disk_full';
	         END IF;
	         RETURN NEW;
	     END \$\$;
	     INSERT INTO test_refuse VALUES ('$1') ON CONFLICT DO NOTHING;
	     DROP TRIGGER IF EXISTS test_refuse ON $1;
	     CREATE TRIGGER test_refuse BEFORE INSERT ON $1
	         FOR EACH ROW EXECUTE FUNCTION test_refuse('$1');" >/dev/null
}

accept_inserts() {
	sql "DELETE FROM test_refuse WHERE tbl = '$1'" >/dev/null
}

# scan_through_full_disk CAMPAIGN TABLE SAID: resumes the imported
# CAMPAIGN in the background (SMTP on, stderr in $TEST_WORK/scan.err)
# while TABLE refuses every row as a full disk would; once the crawler
# has said SAID, rows are accepted again. Waits for the scan; its exit
# status is SCAN_RC.
scan_through_full_disk() {
	local campaign=$1 table=$2 said=$3 pid
	refuse_inserts "$table"
	"$MXCRAWL" scan --campaign "$campaign" --resume "${allow_args[@]}" \
		--concurrency 20 --smtp-deadline 8000 --progress 0 \
		2>"$TEST_WORK/scan.err" &
	pid=$!
	CRAWLERS+=("$pid")
	said_it() {
		kill -0 "$pid" 2>/dev/null ||
			{ cat "$TEST_WORK/scan.err" >&2; fail "the scan ended first"; }
		grep -q "$said" "$TEST_WORK/scan.err"
	}
	poll_until 120 "the crawler to say: $said" said_it
	accept_inserts "$table"
	echo "$table refused until the crawler said '$said'; accepted again"
	SCAN_RC=0
	wait "$pid" || SCAN_RC=$?
	cat "$TEST_WORK/scan.err"
}

# smtp_connections_since LINE: stops the testbed (its mail servers flush
# their per-connection log when they stop) and prints how many SMTP (port
# 25) connections they logged after line LINE of the log: the servers' own
# count of handshake attempts, for tests that hold it against the endpoints.
smtp_connections_since() {
	"$MXCRAWL_SRC/tests/testbed/down" "$TB" >/dev/null
	tail -n +"$(($1 + 1))" "$TB/logs/mailserver.log" | /usr/bin/python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    try:
        c = json.loads(line[line.index("{"):])
    except ValueError:
        continue
    n += c.get("port") == 25
print(n)'
}

# expect_dns_facts CAMPAIGN [compare_dns.py options]: the campaign has a
# result for every testbed target, and the DNS facts of its export equal
# the truth; returns compare_dns.py's status (the caller says what failed).
expect_dns_facts() {
	local campaign=$1 cid
	shift
	cid=$(sql "SELECT id FROM campaign WHERE name = '$campaign'")
	expect_eq "$campaign: one result per target" \
		"$(sql "SELECT count(*) FROM domain_dns WHERE campaign_id = $cid")" \
		"$(grep -c . "$TESTBED_TARGETS")"
	"$MXCRAWL" export --campaign "$campaign" --format jsonl >"$TEST_WORK/$campaign.jsonl"
	/usr/bin/python3 "$MXCRAWL_SRC/tests/integration/compare_dns.py" "$@" \
		"$TESTBED_TRUTH" "$TEST_WORK/$campaign.jsonl"
}

# sql_analysis QUERY: QUERY over the report's views, which live only in
# the report's transaction (it is rolled back): created here from
# analysis/ in a transaction of their own, rolled back after QUERY.
sql_analysis() {
	{
		echo '\o /dev/null'
		echo 'BEGIN; SET LOCAL client_min_messages = warning; CREATE SCHEMA analysis; SET LOCAL search_path = analysis, public;'
		cat "$MXCRAWL_SRC"/analysis/[0-9]*.sql
		echo '\o'
		printf '%s;\nROLLBACK;\n' "$1"
	} | psql "$("$MXCRAWL" db conninfo)" -X -A -t -q -v ON_ERROR_STOP=1
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	echo "ok: $1 = $3"
}

# expect_rc WANT CMD...: runs CMD, checks its exit status.
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" >"$TEST_WORK/out" 2>"$TEST_WORK/err" || rc=$?
	[ "$rc" = "$want" ] || {
		cat "$TEST_WORK/out" "$TEST_WORK/err" >&2
		fail "'$*' exited $rc, want $want"
	}
}

# client_facts_vs_truth CAMPAIGN_ID: every SRV target's stored client
# endpoint facts (client_srv_target, domain_client_endpoint,
# client_endpoint) compared with the truth by compare_client.py.
client_facts_vs_truth() {
	sql "SELECT json_build_object(
		   'domain', d.domain, 'service', t.service, 'ordinal', t.ordinal,
		   'host', t.target, 'port', t.port, 'dane', t.dane,
		   'endpoints', (SELECT json_agg(json_build_object(
		       'ip', host(de.ip), 'outcome', e.outcome, 'greeting', e.greeting,
		       'starttls_offered', e.starttls_offered, 'injection', e.injection,
		       'stripping', e.stripping, 'tls_version', e.tls_version,
		       'trusted', e.trusted, 'errors', e.verify_errors,
		       'missing_intermediate', e.missing_intermediate,
		       'name_matches_host', e.name_matches_host,
		       'name_matches_domain', de.name_matches_domain,
		       'cn_only', e.cn_only, 'weak', e.weak, 'chain_len', e.chain_len,
		       'dane', de.dane))
		     FROM domain_client_endpoint de
		     JOIN client_endpoint e ON e.campaign_id = de.campaign_id
		      AND e.ip = de.ip AND e.port = de.port AND e.sni = de.sni
		      AND e.service = de.service
		    WHERE de.campaign_id = t.campaign_id AND de.target_id = t.target_id
		      AND de.service = t.service AND de.ordinal = t.ordinal))
		FROM client_srv_target t JOIN domain_dns d USING (campaign_id, target_id)
		WHERE t.campaign_id = $1 AND t.target <> '.'" >"$TEST_WORK/rows.jsonl"
	"$PY" "$MXCRAWL_SRC/tests/integration/compare_client.py" \
		"$TESTBED_TRUTH" "$TEST_WORK/rows.jsonl" ||
		fail "client endpoint facts differ from the truth"
}
