#!/usr/bin/env bash
# mxcrawl campaign size | drop | gc-certificates (issue M8 item 7): size
# counts a campaign's partitions and rows; drop refuses without --yes, while
# a crawler holds a live lease (on the database's clock) and while another
# session holds a table it must lock; a drop removes every partition of the
# campaign (pg_class) and every row that names it, and leaves the other
# campaigns' rows as they were; certificates are kept by drop and collected
# by gc-certificates only when no campaign refers to them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

printf 'a.example\nb.example\nc.example\nd.example\ne.example\n' >"$TEST_WORK/five.txt"
for name in alpha beta gamma; do
	"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign "$name" \
		--batch-size 2 --import-only 2>/dev/null
done
beta=$(sql "SELECT id FROM campaign WHERE name = 'beta'")

# Rows in the tables that are not partitioned, and facts, for each campaign:
# a judgement set, a zstd dictionary, an endpoint whose chain names one
# certificate of its own and one shared by all three campaigns.
sql "INSERT INTO certificate (sha256, der, san_dns, self_issued)
     SELECT sha256(convert_to(n, 'UTF8')), '\\x00', '{}', false
       FROM unnest(ARRAY['shared', 'alpha', 'beta', 'gamma', 'orphan']) n"
sql "INSERT INTO judgement_set (campaign_id, at_time, tool_version)
     SELECT id, now(), 'test' FROM campaign;
     INSERT INTO zstd_dict (campaign_id, worker, samples, dict)
     SELECT id, 'test', 1, '\\x00' FROM campaign;
     INSERT INTO endpoint (campaign_id, ip, port, sni, worker, probed_at,
                           outcome, end_state, conn, chain, chain_len,
                           transcript, elapsed_ms)
     SELECT id, '127.0.0.1', 25, 'mx.example', 'test', now(), 'starttls_ok',
            'done', 'closed',
            ARRAY[sha256(convert_to(name, 'UTF8')),
                  sha256(convert_to('shared', 'UTF8'))], 2, '\\x00', 1
       FROM campaign"

# Every row that names a campaign, per table with a campaign_id column
# (partitioned or not), as "table=rows" lines.
rows_of() {
	sql "SELECT string_agg(format('%s=%s', t, n), ' ' ORDER BY t) FROM (
	       SELECT c.relname AS t,
	              (xpath('//n/text()', query_to_xml(format(
	                 'SELECT count(*) AS n FROM %I WHERE campaign_id = %s',
	                 c.relname, $1), false, false, '')))[1]::text::int AS n
	         FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	        WHERE a.attname = 'campaign_id' AND c.relkind IN ('r', 'p')
	          AND NOT c.relispartition
	          AND c.relnamespace = 'public'::regnamespace) x"
}

# ---- size -------------------------------------------------------------------------
expect_rc 0 "$MXCRAWL" campaign size beta --format json
size_beta=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes"])' <"$TEST_WORK/out")
[ "$size_beta" -gt 100000 ] || fail "beta's size: $size_beta bytes"
parts=$(sql "SELECT count(*) FROM campaign_partitions($beta)")
registered=$(sql "SELECT count(*) FROM campaign_partitioned")
expect_eq "beta's partitions (one per registered table)" "$parts" "$registered"
# The size is the sum of the partitions' total sizes plus its rows.
want=$(sql "SELECT sum(pg_total_relation_size(part)) FROM campaign_partitions($beta)")
got=$("$PY" -c 'import json,sys; t=json.load(sys.stdin)["tables"]; print(sum(v for k,v in t.items() if k not in ("campaign","campaign_run","judgement_set","zstd_dict")))' <"$TEST_WORK/out")
expect_eq "bytes of beta's partitions" "$got" "$want"
"$PY" -c 'import json,sys; t=json.load(sys.stdin)["tables"]; assert all(t[k] > 0 for k in ("campaign","campaign_run","judgement_set","zstd_dict")), t' \
	<"$TEST_WORK/out" || fail "beta's rows of the tables not partitioned are not counted"
expect_rc 0 "$MXCRAWL" campaign size beta
grep -q "^bytes: $size_beta (" "$TEST_WORK/out" || fail "size text: $(cat "$TEST_WORK/out")"
expect_rc 0 "$MXCRAWL" campaign show beta
grep -q "^size: $size_beta bytes" "$TEST_WORK/out" || fail "show lacks the size: $(cat "$TEST_WORK/out")"
expect_rc 0 "$MXCRAWL" campaign list --format tsv --prefix beta
expect_eq "list's bytes column" "$(cut -f9 "$TEST_WORK/out")" "$size_beta"
expect_rc 65 "$MXCRAWL" campaign size nosuch

# ---- refusals ------------------------------------------------------------------
alpha_before=$(rows_of 1)
gamma_before=$(rows_of 3)
beta_before=$(rows_of "$beta")
case "$beta_before" in *"campaign_run=1"*"endpoint=1"*"judgement_set=1"*"zstd_dict=1"*) ;;
*) fail "beta's rows before: $beta_before" ;;
esac
expect_rc 64 "$MXCRAWL" campaign drop beta
grep -q "export it first" "$TEST_WORK/err" || fail "no advice to export: $(cat "$TEST_WORK/err")"
expect_rc 64 "$MXCRAWL" campaign drop --yes
expect_rc 64 "$MXCRAWL" campaign show beta --yes
expect_rc 64 "$MXCRAWL" campaign gc-certificates
expect_rc 64 "$MXCRAWL" campaign gc-certificates beta --yes
expect_rc 65 "$MXCRAWL" campaign drop nosuch --yes
expect_eq "beta after drop without --yes" "$(rows_of "$beta")" "$beta_before"

# A crawler's lease, taken as a crawler takes it, and live: refused.
sql "SELECT campaign_lease($beta, 'test-crawler', '1 hour')" >/dev/null
expect_rc 75 "$MXCRAWL" campaign drop beta --yes
grep -q "lease" "$TEST_WORK/err" || fail "refusal names no lease: $(cat "$TEST_WORK/err")"
expect_eq "beta after the refused drop" "$(rows_of "$beta")" "$beta_before"
expect_eq "beta's partitions after the refused drop" \
	"$(sql "SELECT count(*) FROM campaign_partitions($beta)")" "$parts"
# The lease expires (on the database's clock): no longer held.
sql "UPDATE campaign_batch SET lease_expires = clock_timestamp() - interval '1 second'
      WHERE campaign_id = $beta AND leased_by = 'test-crawler'"
# A live endpoint claim is a crawler at work too.
sql "INSERT INTO endpoint_claim (campaign_id, ip, port, sni, worker, claimed_at, expires)
     VALUES ($beta, '127.0.0.9', 25, 'mx.example', 'test-crawler', now(),
             clock_timestamp() + interval '1 hour')"
expect_rc 75 "$MXCRAWL" campaign drop beta --yes
sql "UPDATE endpoint_claim SET done = true WHERE campaign_id = $beta"
beta_before=$(rows_of "$beta")

# Another session reading a table the drop must lock: no lock within the
# timeout, nothing dropped, exit 75. The reader holds its transaction open
# on a pipe until the test closes it.
mkfifo "$TEST_WORK/reader.in"
psql "$("$MXCRAWL" db conninfo)" -X -q -v ON_ERROR_STOP=1 \
	<"$TEST_WORK/reader.in" >/dev/null 2>&1 &
READER=$!
exec 7>"$TEST_WORK/reader.in"
echo "SET application_name = 'drop-test-reader'; BEGIN; LOCK TABLE domain_dns IN ACCESS SHARE MODE;" >&7
reader_holds() {
	[ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	           WHERE a.application_name = 'drop-test-reader' AND l.granted
	             AND l.relation = 'domain_dns'::regclass")" = 1 ]
}
poll_until 30 "the reader's lock" reader_holds
expect_rc 75 "$MXCRAWL" campaign drop beta --yes
grep -q "try again" "$TEST_WORK/err" || fail "lock timeout message: $(cat "$TEST_WORK/err")"
expect_eq "beta after the drop that found no lock" "$(rows_of "$beta")" "$beta_before"
echo "COMMIT;" >&7
exec 7>&-
wait "$READER"

# ---- drop -------------------------------------------------------------------------
# (Beta has grown since: a lease, a claim.)
"$MXCRAWL" campaign size beta --format json >"$TEST_WORK/size.json"
size_beta=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes"])' <"$TEST_WORK/size.json")
expect_rc 0 "$MXCRAWL" campaign drop beta --yes
grep -q "dropped campaign 'beta' (id $beta): $parts partitions, $size_beta bytes" "$TEST_WORK/out" ||
	fail "drop's message: $(cat "$TEST_WORK/out")"
expect_eq "beta's partitions in pg_class" \
	"$(sql "SELECT count(*) FROM pg_class WHERE relname ~ '_$beta\$' AND relispartition")" 0
expect_eq "beta's partitions" "$(sql "SELECT count(*) FROM campaign_partitions($beta)")" 0
case "$(rows_of "$beta")" in *=[1-9]*) fail "beta's rows left: $(rows_of "$beta")" ;; esac
echo "ok: no row names beta"
expect_eq "alpha after beta's drop" "$(rows_of 1)" "$alpha_before"
expect_eq "gamma after beta's drop" "$(rows_of 3)" "$gamma_before"
expect_eq "campaigns left" "$(sql "SELECT string_agg(name, ',' ORDER BY id) FROM campaign")" "alpha,gamma"
expect_rc 65 "$MXCRAWL" campaign size beta
expect_rc 65 "$MXCRAWL" campaign show beta
# The others still work as before: a lease of gamma, its report rows.
expect_eq "gamma leases" "$(sql "SELECT batch_no FROM campaign_lease(3, 'w', '1 minute')")" 0
# A new campaign gets partitions of its own (ids are never reused).
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign beta \
	--import-only 2>/dev/null
expect_eq "new beta's targets" "$(sql "SELECT count(*) FROM campaign_target t JOIN campaign c ON c.id = t.campaign_id WHERE c.name = 'beta'")" 5

# ---- certificates -------------------------------------------------------------
expect_eq "certificates kept by drop" "$(sql "SELECT count(*) FROM certificate")" 5
expect_rc 0 "$MXCRAWL" campaign gc-certificates --yes
grep -q "^deleted 2 certificates" "$TEST_WORK/out" || fail "gc: $(cat "$TEST_WORK/out")"
expect_eq "certificates left" \
	"$(sql "SELECT string_agg(encode(sha256, 'hex'), ',' ORDER BY sha256) FROM certificate")" \
	"$(sql "SELECT string_agg(encode(h, 'hex'), ',' ORDER BY h) FROM (SELECT sha256(convert_to(n, 'UTF8')) h FROM unnest(ARRAY['shared', 'alpha', 'gamma']) n) x")"
expect_rc 0 "$MXCRAWL" campaign gc-certificates --yes
grep -q "^deleted 0 certificates" "$TEST_WORK/out" || fail "second gc: $(cat "$TEST_WORK/out")"
echo "PASS"
