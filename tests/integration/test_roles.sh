#!/usr/bin/env bash
# Roles on a shared server (schema/roles.sql), in the private cluster with
# login roles made as its superuser: a member of mxcrawl_crawler imports
# and scans the testbed; a member of mxcrawl_analyst reports, exports and
# lists, and can write nothing; with a migration pending, both are told
# who must run `db migrate` (exit 78). `report --analysis-dir` SQL that
# runs a program, writes a table or COMMITs out of the report's
# transaction is refused and changes nothing, whether the default
# (superuser) connection of the private cluster or the analyst's is used,
# and a role that may write is refused --analysis-dir outright.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up


expect_rc 0 "$MXCRAWL" db migrate
SU=$("$MXCRAWL" db conninfo) # the private cluster's superuser
psql "$SU" -X -q -v ON_ERROR_STOP=1 -f "$MXCRAWL_SRC/schema/roles.sql" ||
	fail "schema/roles.sql"
psql "$SU" -X -q -v ON_ERROR_STOP=1 -f "$MXCRAWL_SRC/schema/roles.sql" ||
	fail "schema/roles.sql a second time"
sql "CREATE ROLE carl LOGIN IN ROLE mxcrawl_crawler;
     CREATE ROLE alice LOGIN IN ROLE mxcrawl_analyst"
# libpq takes the last of a repeated keyword.
CRAWLER="$SU user=carl"
ANALYST="$SU user=alice"

# The crawler: import, then scan (every stage) as a resumed run, then
# judge the stored chains again.
expect_rc 0 "$MXCRAWL" scan --db "$CRAWLER" --import-only \
	--targets "$TESTBED_TARGETS" --campaign roles
expect_rc 0 "$MXCRAWL" scan --db "$CRAWLER" --campaign roles --resume \
	"${allow_args[@]}" --workers 2 --concurrency 200 --progress 0 \
	--smtp-deadline 8000
cid=$(sql "SELECT id FROM campaign WHERE name = 'roles'")
expect_eq "crawler's campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
expect_eq "every target has its DNS facts" \
	"$(sql "SELECT count(*) = (SELECT count(*) FROM campaign_target
	                            WHERE campaign_id = $cid)
	          FROM domain_dns WHERE campaign_id = $cid")" t
expect_eq "endpoints probed, chains and MTA-STS stored" \
	"$(sql "SELECT (SELECT count(*) > 0 FROM endpoint WHERE campaign_id = $cid AND trusted)
	           AND (SELECT count(*) > 0 FROM handshake_record WHERE campaign_id = $cid)
	           AND (SELECT count(*) > 0 FROM domain_mta_sts WHERE campaign_id = $cid)")" t
expect_eq "partitions made by the crawler belong to the owner" \
	"$(sql "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables
	         WHERE tablename LIKE '%\_$cid'")" mxcrawl_owner
expect_rc 0 "$MXCRAWL" reverify --db "$CRAWLER" --campaign roles --quiet
expect_eq "judgement sets" "$(sql "SELECT count(*) FROM judgement_set WHERE campaign_id = $cid")" 1
echo "ok: a crawler role imports, scans and reverifies"

# A crawler's import that fails (here: no valid name) leaves its campaign
# 'importing' with nothing in it; the crawler cannot drop it (only the
# tables' owner may detach partitions) but runs the same import again,
# which takes it over. Dropping is the owner's.
printf '# nothing\n' >"$TEST_WORK/none.txt"
printf 'a.example\nb.example\n' >"$TEST_WORK/two.txt"
expect_rc 65 "$MXCRAWL" scan --db "$CRAWLER" --import-only \
	--targets "$TEST_WORK/none.txt" --campaign carls
grep -q "campaign 'carls' (id [0-9]*) stays 'importing'" "$TEST_WORK/err" ||
	fail "failed import: $(cat "$TEST_WORK/err")"
expect_eq "the failed import's campaign" "$(sql "SELECT state || '/' || targets FROM campaign WHERE name = 'carls'")" "importing/0"
expect_rc 0 "$MXCRAWL" scan --db "$CRAWLER" --import-only \
	--targets "$TEST_WORK/two.txt" --campaign carls
grep -q "its earlier import was interrupted; importing into it again" "$TEST_WORK/err" ||
	fail "import again: $(cat "$TEST_WORK/err")"
expect_eq "the campaign imported again" "$(sql "SELECT state || '/' || targets FROM campaign WHERE name = 'carls'")" "queued/2"
expect_rc 77 "$MXCRAWL" campaign drop --db "$CRAWLER" carls --yes
grep -q "only the owner of mxcrawl's tables may drop a campaign" "$TEST_WORK/err" ||
	fail "drop by the crawler: $(cat "$TEST_WORK/err")"
expect_eq "the campaign after the crawler's drop" "$(sql "SELECT state FROM campaign WHERE name = 'carls'")" queued
expect_rc 0 "$MXCRAWL" campaign drop carls --yes
expect_eq "campaigns named carls" "$(sql "SELECT count(*) FROM campaign WHERE name = 'carls'")" 0
echo "ok: a crawler recovers its failed import; the owner drops"

# The analyst reads everything the commands show ...
R=$TEST_WORK/r
mkdir -p "$R"
expect_rc 0 "$MXCRAWL" report --campaign roles --format json -o "$R/su.json"
expect_rc 0 "$MXCRAWL" report --db "$ANALYST" --campaign roles --format json -o "$R/analyst.json"
/usr/bin/python3 - "$R/su.json" "$R/analyst.json" <<'PYEOF' || fail "the analyst's report differs"
import json, sys
a, b = (json.load(open(p))["figures"] for p in sys.argv[1:])
assert a == b and len(a) > 10, (len(a), len(b))
PYEOF
expect_rc 0 "$MXCRAWL" export --db "$ANALYST" --campaign roles --format jsonl
expect_eq "exported domains" "$(wc -l <"$TEST_WORK/out")" \
	"$(sql "SELECT count(*) FROM campaign_target WHERE campaign_id = $cid")"
expect_rc 0 "$MXCRAWL" campaign list --db "$ANALYST"
grep -q "roles.*done" "$TEST_WORK/out" || fail "campaign list: $(cat "$TEST_WORK/out")"
expect_rc 0 "$MXCRAWL" campaign show --db "$ANALYST" roles
grep -q "^state: done" "$TEST_WORK/out" || fail "campaign show: $(cat "$TEST_WORK/out")"
copy=$TEST_WORK/analysis
cp -r "$MXCRAWL_SRC/analysis" "$copy"
expect_rc 0 "$MXCRAWL" report --db "$ANALYST" --campaign roles --analysis-dir "$copy"
echo "ok: an analyst role reports (also --analysis-dir), exports, lists, shows"

# ... and writes nothing, by any way it has.
expect_rc 69 "$MXCRAWL" campaign cancel --db "$ANALYST" roles
expect_rc 69 "$MXCRAWL" scan --db "$ANALYST" --import-only \
	--targets "$TESTBED_TARGETS" --campaign by-analyst
if psql "$ANALYST" -X -q -c "UPDATE campaign SET state = 'cancelled'" 2>/dev/null; then
	fail "the analyst updated a campaign"
fi
if psql "$ANALYST" -X -q -c "SELECT campaign_create('x', '{}', 'v', 'v', 5)" 2>/dev/null; then
	fail "the analyst created a campaign"
fi
expect_eq "campaigns after the analyst" "$(sql "SELECT string_agg(name || ' ' || state, ',') FROM campaign")" \
	"roles done"
echo "ok: the analyst cannot cancel, import, update or create"

# pg_read_all_data alone lists and exports; the report says what to grant.
sql "CREATE ROLE rita LOGIN IN ROLE pg_read_all_data"
expect_rc 0 "$MXCRAWL" campaign list --db "$SU user=rita"
expect_rc 0 "$MXCRAWL" export --db "$SU user=rita" --campaign roles --format jsonl
expect_rc 77 "$MXCRAWL" report --db "$SU user=rita" --campaign roles
grep -q "role rita may not create the report's views.*member of mxcrawl_analyst" "$TEST_WORK/err" ||
	fail "pg_read_all_data report: $(cat "$TEST_WORK/err")"
echo "ok: pg_read_all_data lists and exports; its report names mxcrawl_analyst"

# --analysis-dir SQL that would run a program, write, or COMMIT out of the
# report's transaction: refused (exit 70, the file named), nothing done.
# The program's marker goes where the cluster's OS user could write it.
marker=/tmp/mxcrawl-roles-pwned.$$
rm -f "$marker"
trap 'rm -f "$marker"; test_cleanup' EXIT
evil_case() { # NAME SQL WHY [--db CONNINFO]: WHY, a grep -E of the refusal
	local name=$1 body=$2 why=$3 dir=$TEST_WORK/evil-$1
	shift 3
	rm -rf "$dir"
	cp -r "$MXCRAWL_SRC/analysis" "$dir"
	printf '%s\n' "$body" >"$dir/099_$name.sql"
	expect_rc 70 "$MXCRAWL" report "$@" --campaign roles --analysis-dir "$dir"
	grep -Eq "099_$name.sql(:[0-9]+)?: .*($why)" "$TEST_WORK/err" ||
		fail "$name: not refused for the right reason: $(cat "$TEST_WORK/err")"
	[ ! -e "$marker" ] || fail "$name: the program ran"
	expect_eq "$name: campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
	expect_eq "$name: nothing of the report stays" \
		"$(sql "SELECT to_regnamespace('analysis') IS NULL")" t
}
for who in default analyst; do
	db_args=()
	[ "$who" = analyst ] && db_args=(--db "$ANALYST")
	evil_case program "COPY (SELECT 1) TO PROGRAM 'touch $marker';" \
		pg_execute_server_program "${db_args[@]}"
	evil_case write "UPDATE campaign SET state = 'cancelled';" \
		"permission denied for table campaign" "${db_args[@]}"
	evil_case commit "COMMIT; UPDATE campaign SET state = 'cancelled';" \
		"transaction commands" "${db_args[@]}"
	evil_case reset "RESET ROLE; SET SESSION AUTHORIZATION DEFAULT;
COPY (SELECT 1) TO PROGRAM 'touch $marker';" pg_execute_server_program "${db_args[@]}"
	echo "ok: --analysis-dir ($who connection): a program, a write, COMMIT, RESET ROLE refused"
done
# A role that may write does not get to run --analysis-dir SQL at all.
expect_rc 77 "$MXCRAWL" report --db "$SU" --campaign roles --analysis-dir "$copy"
grep -q "role mxcrawl is a superuser" "$TEST_WORK/err" || fail "77: $(cat "$TEST_WORK/err")"
expect_rc 77 "$MXCRAWL" report --db "$CRAWLER" --campaign roles --analysis-dir "$copy"
grep -q "may write mxcrawl's tables" "$TEST_WORK/err" || fail "77: $(cat "$TEST_WORK/err")"
echo "ok: --analysis-dir refused to a superuser and to the crawler"

# A pending migration: the roles that may not migrate are told who must.
latest=$(sql "SELECT max(version) FROM schema_version")
# Migration numbers may have gaps: the one before the newest, not latest-1.
previous=$(sql "SELECT max(version) FROM schema_version WHERE version < $latest")
sql "DELETE FROM schema_version WHERE version = $latest"
for cmd in "report --campaign roles" "export --campaign roles --format jsonl" \
	"campaign list" "campaign show roles"; do
	# shellcheck disable=SC2086
	expect_rc 78 "$MXCRAWL" $cmd --db "$ANALYST"
	grep -q "role alice may not apply it.*must run \`mxcrawl db migrate\`" "$TEST_WORK/err" ||
		fail "$cmd: $(cat "$TEST_WORK/err")"
done
expect_rc 78 "$MXCRAWL" scan --db "$CRAWLER" --campaign roles --resume --no-smtp "${allow_args[@]}"
grep -q "mxcrawl db migrate" "$TEST_WORK/err" || fail "crawler: $(cat "$TEST_WORK/err")"
expect_eq "schema version while pending" "$(sql "SELECT max(version) FROM schema_version")" "$previous"
echo "ok: a pending migration stops the analyst and the crawler with who must migrate"
expect_rc 0 "$MXCRAWL" db migrate
# It granted again what the roles need (schema/roles.sql), without a word.
[ ! -s "$TEST_WORK/err" ] || fail "db migrate: $(cat "$TEST_WORK/err")"
expect_rc 0 "$MXCRAWL" campaign list --db "$ANALYST"
echo "ok: after the owner's migrate the analyst works again"
echo PASS
