#!/usr/bin/env bash
# A report costs what its campaign costs (issue M8 item 2): every query
# the report runs for a campaign (and, with --compare or --history, the
# other campaigns asked for) reads only those campaigns' partitions.
# Three campaigns are in the database; for every figure the plan of the
# exact statement analysis.report() and analysis.history() execute is
# printed by auto_explain (nested statements, at NOTICE level, with what
# each node did), and no plan may scan a partition of a campaign that was
# not asked for: such a partition is either pruned before the query runs
# (not in the plan) or when it runs ("never executed"). Partitions are
# named <table>_<campaign id> (campaign_add_partitions, schema/003).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix --no-servers


# Plans show partitions whether or not they hold rows, so one scanned
# campaign and two imported ones are enough. The targets have ranks (a
# Tranco list, ranked in the order of the testbed's list), so that the
# report's rank buckets have plans too.
grep -v '^#' "$TESTBED_TARGETS" | awk 'NF { print ++n "," $1 }' >"$TEST_WORK/ranked.csv"
for c in one two three; do
	expect_rc 0 "$MXCRAWL" scan --targets "$TEST_WORK/ranked.csv" --campaign "$c" \
		"${allow_args[@]}" --no-smtp --workers 1 --concurrency 100 --progress 0
done
one=$(sql "SELECT id FROM campaign WHERE name = 'one'")
two=$(sql "SELECT id FROM campaign WHERE name = 'two'")
three=$(sql "SELECT id FROM campaign WHERE name = 'three'")
# The report works at all; it leaves nothing behind (its transaction is
# rolled back), so the views are installed for good here, as the owner
# may, to look at their plans.
expect_rc 0 "$MXCRAWL" report --campaign one --format json
{
	echo 'BEGIN; SET LOCAL client_min_messages = warning; CREATE SCHEMA analysis; SET LOCAL search_path = analysis, public;'
	cat "$MXCRAWL_SRC"/analysis/[0-9]*.sql
	echo 'COMMIT;'
} | psql "$("$MXCRAWL" db conninfo)" -X -q -v ON_ERROR_STOP=1 >/dev/null ||
	fail "installing the analysis views"

# Figures of one campaign, of a pair (across ones too), of a history.
nfig=$(sql "SELECT count(*) FROM analysis.figure_list WHERE NOT across")
nall=$(sql "SELECT count(*) FROM analysis.figure_list")
nhead=$(sql "SELECT count(*) FROM analysis.figure_list WHERE headline AND NOT across")
if [ "$nfig" -lt 20 ] || [ "$nall" -le "$nfig" ] || [ "$nhead" -lt 5 ]; then
	fail "figures registered: $nfig, $nall, $nhead"
fi

# plans_of NAME SQL: the plans of every statement SQL runs, nested ones
# included, into $TEST_WORK/NAME.plans.
plans_of() {
	psql "$("$MXCRAWL" db conninfo)" -X -q -v ON_ERROR_STOP=1 \
		-c "LOAD 'auto_explain'" \
		-c "SET auto_explain.log_min_duration = 0" \
		-c "SET auto_explain.log_nested_statements = on" \
		-c "SET auto_explain.log_analyze = on" \
		-c "SET auto_explain.log_timing = off" \
		-c "SET auto_explain.log_level = notice" \
		-c "SET client_min_messages = notice" \
		-c "$2" >/dev/null 2>"$TEST_WORK/$1.plans" ||
		{ cat "$TEST_WORK/$1.plans" >&2; fail "$1: $2"; }
}

# check_plans NAME FIGURES ASKED...: fails if a plan of NAME scans a
# partition of a campaign not in ASKED, or if not every one of FIGURES
# figures had its query planned.
check_plans() {
	local name=$1 want=$2 others bad n
	shift 2
	others=$(sql "SELECT string_agg(p.table_name || '_' || c.id, '|')
		FROM campaign_partitioned p CROSS JOIN campaign c
		WHERE c.id <> ALL ('{$(
		IFS=,
		echo "$*"
	)}'::bigint[])")
	bad=$(grep -v '(never executed)$' "$TEST_WORK/$name.plans" |
		grep -oE " on ($others)\\b" | sort | uniq -c || true)
	n=$(grep -oE 'FROM analysis\.[a-z0-9_]+ v( WHERE|$)' "$TEST_WORK/$name.plans" |
		sort -u | wc -l)
	[ "$n" -eq "$want" ] || {
		head -50 "$TEST_WORK/$name.plans" >&2
		fail "$name: plans of $n figures' queries, want $want"
	}
	if [ -n "$bad" ]; then
		# Name the figures whose plans read another campaign's partitions.
		awk -v re=" on ($others)([^a-z0-9_]|\$)" '
			/Query Text:/ { q = "" }
			q == "" && /FROM analysis\.[a-z0-9_]+ v( WHERE|$)/ {
				q = $0; sub(/.*FROM analysis\./, "", q); sub(/ .*/, "", q) }
			$0 ~ re && !/\(never executed\)$/ && !seen[q]++ { print "  " q }' "$TEST_WORK/$name.plans" >&2
		echo "$bad" >&2
		fail "$name: plans read partitions of campaigns not asked for"
	fi
	echo "ok: $name: $n plans read only campaigns $*"
}

# The building blocks' cache (000_scope.sql) is filled by queries of
# their own, whose plans are checked with the figures': each block once
# per campaign of the report, not once per figure; the pair blocks (read
# by the change figures only) only for a pair.
nblock=$(sql "SELECT count(*) FROM analysis.cache_block")
[ "$nblock" -ge 5 ] || fail "cached building blocks: $nblock"
nsingle=$(sql "SELECT count(*) FROM analysis.cache_block WHERE NOT pair_only")
[ "$nsingle" -lt "$nblock" ] || fail "no pair blocks: $nsingle of $nblock blocks"
# A campaign's block is made by CREATE TABLE AS (it may run in
# parallel), a bucket's by INSERT.
check_fills() { # check_fills NAME WANT
	local n fill='Query Text: (INSERT INTO cache_[a-z0-9_]* SELECT|CREATE UNLOGGED TABLE cache_[a-z0-9_]* AS)'
	n=$(grep -cE "$fill" "$TEST_WORK/$1.plans" || true)
	[ "$n" = "$2" ] || grep -A3 -E "$fill" "$TEST_WORK/$1.plans" | head -40 >&2
	expect_eq "$1: fills of the blocks' cache" "$n" "$2"
}
plans_of report "SELECT count(*) FROM analysis.report($one)"
check_plans report "$nfig" "$one"
check_fills report "$nsingle"
plans_of compare "SELECT count(*) FROM analysis.report($one, $two)"
check_plans compare "$nall" "$one" "$two"
check_fills compare $((2 * nblock))
plans_of history "SELECT count(*) FROM analysis.history(ARRAY[$two, $one]::bigint[])"
check_plans history "$nhead" "$two" "$one"
# Rank buckets: each headline figure's query over the bucket's views
# (analysis.bucket_lines), of each campaign; and the whole report with
# buckets beside the compared campaign's.
plans_of bucket_one "SELECT count(*) FROM analysis.bucket_lines($one, 5)"
check_plans bucket_one "$nhead" "$one"
check_fills bucket_one "$(sql "SELECT count(*) FROM analysis.cache_block WHERE per_target")"
plans_of bucket_two "SELECT count(*) FROM analysis.bucket_lines($two, 20)"
check_plans bucket_two "$nhead" "$two"
plans_of ranked "SELECT count(*) FROM analysis.report_ranked($one, $two, '{5,20,1000000}')"
check_plans ranked "$nall" "$one" "$two"
grep -q "rank <= 5)" "$TEST_WORK/ranked.plans" && grep -q "rank <= 20)" "$TEST_WORK/ranked.plans" ||
	fail "ranked: no plan of the buckets 5 and 20"
# A bucket of every target reads the same rows as the campaign: the
# bucket's views narrow what is read, not the definitions.
bucket_md5() { # bucket_md5 CAMPAIGN BOUND
	sql "SELECT md5(string_agg(concat_ws(',', figure, label, n, d), ';'
		ORDER BY figure, label)) FROM analysis.bucket_lines($1, $2)"
}
whole_md5() { # whole_md5 CAMPAIGN
	sql "SELECT md5(string_agg(concat_ws(',', f.name, v.label, v.numerator,
		v.denominator), ';' ORDER BY f.name, v.label))
		FROM analysis.figure_list f, analysis.figure_rows(f.name, $1) v
		WHERE f.headline AND NOT f.across AND v.scope = 'domain'"
}
expect_eq "a bucket of every target of campaign $one" \
	"$(bucket_md5 "$one" 2147483647)" "$(whole_md5 "$one")"
expect_eq "campaign $one after a bucket" "$(whole_md5 "$one")" \
	"$(sql "SELECT analysis.rank_scope($one, 5); SELECT analysis.rank_scope(NULL, NULL);
		SELECT md5(string_agg(concat_ws(',', f.name, v.label, v.numerator,
		v.denominator), ';' ORDER BY f.name, v.label))
		FROM analysis.figure_list f, analysis.figure_rows(f.name, $one) v
		WHERE f.headline AND NOT f.across AND v.scope = 'domain'" | tail -n 1)"

# The scope changes what is read, not the figures: every figure's rows
# for a campaign (or a pair) are the same as its view gives with every
# campaign in scope (mxcrawl.campaigns unset). Each side's digests come
# from one psql session (a statement per figure, each its own
# transaction): a session per figure and campaign took half the test.
rows_md5() { # rows_md5 FROM: the digest of a figure's rows read FROM
	echo "md5(coalesce(string_agg(concat_ws(',', scope, label, ord, numerator,
		denominator), ';' ORDER BY scope, label), '')) FROM $1"
}
# Scoped: figure_rows() scopes each call to its campaign (filling the
# blocks' cache once per campaign in the statement, as report() does).
sql "SELECT f.name || ' ' || c, (SELECT $(rows_md5 "analysis.figure_rows(f.name, c)"))
	FROM analysis.figure_list f, unnest(ARRAY[$one, $two]::bigint[]) c
	WHERE NOT f.across" >"$TEST_WORK/scoped.md5"
# The pair's figures with the pair in scope, and every figure unscoped.
{
	echo "SET mxcrawl.campaigns = '{$one,$two}';"
	for f in $(sql "SELECT name FROM analysis.figure_list WHERE across"); do
		echo "SELECT '$f pair', $(rows_md5 "analysis.$f
			WHERE campaign_id = $one AND compare_id = $two");"
	done
} >"$TEST_WORK/pair.sql"
{
	grep -v '^SET ' "$TEST_WORK/pair.sql"
	for f in $(sql "SELECT name FROM analysis.figure_list WHERE NOT across"); do
		for c in "$one" "$two"; do
			echo "SELECT '$f $c', $(rows_md5 "analysis.$f WHERE campaign_id = $c");"
		done
	done
} >"$TEST_WORK/unscoped.sql"
for side in pair unscoped; do
	psql "$("$MXCRAWL" db conninfo)" -X -A -t -q -v ON_ERROR_STOP=1 \
		-f "$TEST_WORK/$side.sql" >"$TEST_WORK/$side.md5" || fail "the $side digests"
done
cat "$TEST_WORK/pair.md5" >>"$TEST_WORK/scoped.md5"
# Each figure (and campaign) whose rows differ, or that one side lacks.
differ=$(awk -F '|' 'NR == FNR { a[$1] = $2; n++; next }
	!($1 in a) || a[$1] != $2 { print $1 } { m++ }
	END { if (n != m) print "(" n " scoped, " m " unscoped)" }' \
	"$TEST_WORK/scoped.md5" "$TEST_WORK/unscoped.md5")
[ -z "$differ" ] || fail "rows differ scoped and unscoped: $(tr '\n' ' ' <<<"$differ")"
checked=$(grep -c . "$TEST_WORK/scoped.md5")
expect_eq "figures checked against unscoped views" "$checked" $((2 * nfig + nall - nfig))
echo "ok: test_report_pruning (campaigns $one, $two, $three)"
