#!/usr/bin/env bash
# mxcrawl campaign size | drop | gc-certificates (issue M8 item 7): size
# counts a campaign's partitions and rows; drop refuses without --yes, while
# a crawler holds a live lease (on the database's clock) and while its import
# runs; a drop removes every partition of the campaign (pg_class) and every
# row that names it, and leaves the other campaigns' rows as they were; it
# takes no lock that other campaigns' readers and writers wait for, waits
# (bounded) for long readers, and an interrupted drop is finished by the
# next (schema/025); an import cut short is taken over by the same import
# run again, or dropped; certificates are kept by drop and collected by
# gc-certificates only when no campaign refers to them.
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

# A partition with a foreign key could not be dropped without ACCESS
# EXCLUSIVE on the table it references (campaign, read by everyone):
# campaign-scoped tables have none (schema/025), and later ones must not.
expect_eq "foreign keys of partitioned tables" "$(sql "
    SELECT coalesce(string_agg(k.conrelid::regclass || ' -> ' || k.confrelid::regclass, ', '), 'none')
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid
     WHERE k.contype = 'f' AND (c.relkind = 'p' OR c.relispartition)")" none

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

# ---- drop, while a long transaction reads another campaign -----------------
# A reader holds a transaction open that read alpha's DNS facts (the parent
# domain_dns locked until it ends), as an export of alpha would. Dropping
# beta detaches beta's partitions (DETACH PARTITION CONCURRENTLY: no lock
# that readers or writers of the parents wait for) and waits for the reader
# to end before it lets go of domain_dns_<beta>; meanwhile other sessions'
# plain SELECTs and writes on the same parent go on. (A drop that took
# ACCESS EXCLUSIVE on the parents queued every one of them behind it.)
# psql sessions the test drives through a FIFO: session_open NAME FD.
session_open() {
	mkfifo "$TEST_WORK/$1.in"
	psql "$("$MXCRAWL" db conninfo)" -X -q -v ON_ERROR_STOP=1 \
		<"$TEST_WORK/$1.in" >"$TEST_WORK/$1.out" 2>&1 &
	eval "exec $2>\"\$TEST_WORK/$1.in\""
	echo "SET application_name = '$1';" >&"$2"
}
# holds NAME REL: the session NAME holds a granted lock on REL.
holds() {
	[ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	           WHERE a.application_name = '$1' AND l.granted
	             AND l.relation = to_regclass('$2')")" -ge 1 ]
}
# someone_waits NAME: a session other than NAME waits for a lock.
someone_waits() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity
	           WHERE wait_event_type = 'Lock' AND application_name <> '$1'
	             AND pid <> pg_backend_pid()")" -ge 1 ]
}
# no_shared_access_exclusive ID WHEN: no ACCESS EXCLUSIVE lock, held or
# asked for, on a table that is not one of campaign ID's own (its
# partitions and their indexes are named ..._ID or ..._ID_...).
no_shared_access_exclusive() {
	expect_eq "ACCESS EXCLUSIVE locks on shared tables ($2)" "$(sql "
	    SELECT coalesce(string_agg(DISTINCT relation::regclass::text, ','), 'none')
	      FROM pg_locks WHERE locktype = 'relation'
	       AND mode = 'AccessExclusiveLock'
	       AND relation::regclass::text !~ '_$1(_|\$)'")" none
}
session_open drop-test-reader 7
echo "BEGIN; SELECT count(*) FROM domain_dns WHERE campaign_id = 1;" >&7
poll_until 30 "the reader's lock" holds drop-test-reader domain_dns
# (Beta has grown since: a lease, a claim.)
"$MXCRAWL" campaign size beta --format json >"$TEST_WORK/size.json"
size_beta=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["bytes"])' <"$TEST_WORK/size.json")
"$MXCRAWL" campaign drop beta --yes >"$TEST_WORK/drop.out" 2>"$TEST_WORK/drop.err" 7>&- &
dropper=$!
poll_until 30 "the drop to wait for the reader" someone_waits drop-test-reader
# Other sessions meanwhile: a SELECT of the whole parent, an insert into it
# and a delete, each allowed to wait 1 s for a lock at most.
sql "SET lock_timeout = '1s'; SELECT count(*) FROM domain_dns" >/dev/null ||
	fail "a SELECT of domain_dns waited behind the drop"
sql "SET lock_timeout = '1s';
     INSERT INTO domain_dns (campaign_id, target_id, domain, scanned_at, worker,
                             mx_outcome, mx_count, mx_truncated, apex_cname,
                             dns_queries, elapsed_ms)
     VALUES (3, 1, 'a.example', now(), 'test', 'mx', 0, false, '{}', 1, 1)" ||
	fail "an insert into domain_dns waited behind the drop"
sql "SET lock_timeout = '1s'; DELETE FROM domain_dns WHERE campaign_id = 3" ||
	fail "a delete from domain_dns waited behind the drop"
sql "SET lock_timeout = '1s'; SELECT count(*) FROM campaign" >/dev/null ||
	fail "a SELECT of campaign waited behind the drop"
echo "ok: reads and writes of other campaigns go on while the drop waits"
no_shared_access_exclusive "$beta" "while the drop waits"
kill -0 "$dropper" 2>/dev/null || fail "the drop did not wait for the reader: $(cat "$TEST_WORK/drop.err")"
grep -q "waits (at most 60 s) for the transactions that use it to end: pid [0-9]* (drop-test-reader" \
	"$TEST_WORK/drop.err" || fail "the drop does not say what it waits for: $(cat "$TEST_WORK/drop.err")"
expect_eq "beta's state while it is dropped" "$(sql "SELECT state FROM campaign WHERE id = $beta")" dropping
# The reader ends: the drop finishes.
echo "COMMIT;" >&7
rc=0
wait "$dropper" || rc=$?
[ "$rc" = 0 ] || fail "the drop exited $rc: $(cat "$TEST_WORK/drop.err")"
grep -q "dropped campaign 'beta' (id $beta): $parts partitions, $size_beta bytes" "$TEST_WORK/drop.out" ||
	fail "drop's message: $(cat "$TEST_WORK/drop.out")"
expect_eq "beta's tables in pg_class" \
	"$(sql "SELECT count(*) FROM pg_class WHERE relname ~ '_$beta\$' AND relkind IN ('r', 'p')")" 0
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

# ---- a drop that may not wait that long ------------------------------------------
# With the reader's transaction open, a drop told to wait 1 s at most stops
# after detaching what it could (exit 75), and the campaign stays
# 'dropping': no crawler leases it, no export or report finds it, no import
# or resume may use its name. The next drop goes on from there.
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign delta \
	--batch-size 2 --import-only 2>/dev/null
delta=$(sql "SELECT id FROM campaign WHERE name = 'delta'")
echo "BEGIN; SELECT count(*) FROM domain_dns WHERE campaign_id = 1;" >&7
poll_until 30 "the reader's lock" holds drop-test-reader domain_dns
expect_rc 75 "$MXCRAWL" campaign drop delta --yes --wait 1
grep -q "transactions older than the drop still use domain_dns (waited 1s" "$TEST_WORK/err" ||
	fail "the drop that stopped: $(cat "$TEST_WORK/err")"
grep -q "run the drop again later" "$TEST_WORK/err" || fail "no advice: $(cat "$TEST_WORK/err")"
expect_eq "delta's state" "$(sql "SELECT state FROM campaign WHERE id = $delta")" dropping
left=$(sql "SELECT count(*) FROM campaign_partitions($delta)")
[ "$left" -gt 0 ] && [ "$left" -lt "$parts" ] ||
	fail "delta's partitions after a drop that stopped: $left of $parts"
echo "ok: the drop that stopped had detached $((parts - left)) of $parts tables"
expect_eq "batches of delta leased" "$(sql "SELECT count(*) FROM campaign_lease($delta, 'w', '1 minute')")" 0
expect_rc 0 "$MXCRAWL" campaign list --format tsv --prefix delta
expect_eq "delta listed as" "$(cut -f3 "$TEST_WORK/out")" dropping
expect_rc 65 "$MXCRAWL" export --campaign delta --format jsonl
expect_rc 65 "$MXCRAWL" report --campaign delta
expect_rc 65 "$MXCRAWL" scan --campaign delta --resume
grep -q "campaign 'delta' is being dropped" "$TEST_WORK/err" || fail "resume of delta: $(cat "$TEST_WORK/err")"
expect_rc 65 "$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign delta --import-only
grep -q "campaign 'delta' is being dropped" "$TEST_WORK/err" || fail "import as delta: $(cat "$TEST_WORK/err")"
expect_rc 65 "$MXCRAWL" campaign cancel delta
# A crawler that ends (state done) does not bring it back.
sql "UPDATE campaign SET state = 'done' WHERE id = $delta"
expect_eq "delta's state after an update" "$(sql "SELECT state FROM campaign WHERE id = $delta")" dropping
# Its row cannot go before its partitions.
if sql "DELETE FROM campaign WHERE id = $delta" 2>/dev/null; then
	fail "a campaign with partitions was deleted"
fi
echo "COMMIT;" >&7
expect_rc 0 "$MXCRAWL" campaign drop delta --yes
grep -q "finishing a drop that was interrupted" "$TEST_WORK/err" || fail "resumed drop: $(cat "$TEST_WORK/err")"
grep -q "dropped campaign 'delta' (id $delta): $left partitions" "$TEST_WORK/out" ||
	fail "resumed drop's message: $(cat "$TEST_WORK/out")"
expect_eq "delta's tables" "$(sql "SELECT count(*) FROM pg_class WHERE relname ~ '_$delta\$' AND relkind IN ('r', 'p')")" 0
case "$(rows_of "$delta")" in *=[1-9]*) fail "delta's rows left: $(rows_of "$delta")" ;; esac
expect_eq "partitions pending detach" "$(sql "SELECT count(*) FROM pg_inherits WHERE inhdetachpending")" 0

# ---- a drop killed halfway ----------------------------------------------------------
# The test holds a lock on one of epsilon's own partitions (dns_rrset_<id>):
# the drop reaches it after the tables before it (campaign_batch,
# campaign_target), waits there, and is killed (SIGKILL). Running the drop
# again finishes it.
"$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign epsilon \
	--batch-size 2 --import-only 2>/dev/null
eps=$(sql "SELECT id FROM campaign WHERE name = 'epsilon'")
echo "BEGIN; LOCK TABLE dns_rrset_$eps IN ACCESS SHARE MODE;" >&7
poll_until 30 "the test's lock on dns_rrset_$eps" holds drop-test-reader "dns_rrset_$eps"
"$MXCRAWL" campaign drop epsilon --yes >"$TEST_WORK/drop.out" 2>"$TEST_WORK/drop.err" 7>&- &
dropper=$!
drop_waits_on_rrset() {
	[ "$(sql "SELECT count(*) FROM pg_locks WHERE NOT granted
	           AND relation = to_regclass('dns_rrset_$eps')")" = 1 ]
}
poll_until 30 "the drop to reach dns_rrset_$eps" drop_waits_on_rrset
kill -KILL "$dropper"
wait "$dropper" 2>/dev/null || true
# Its backend ends once it has the lock and finds its client gone.
echo "COMMIT;" >&7
drop_backend_gone() {
	[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()
	           AND backend_type = 'client backend'
	           AND application_name <> 'drop-test-reader'")" = 0 ]
}
poll_until 30 "the killed drop's backend to end" drop_backend_gone
expect_eq "epsilon's state after the kill" "$(sql "SELECT state FROM campaign WHERE id = $eps")" dropping
left=$(sql "SELECT count(*) FROM campaign_partitions($eps)")
[ "$left" -gt 0 ] && [ "$left" -lt "$parts" ] ||
	fail "epsilon's partitions after the kill: $left of $parts"
echo "ok: the killed drop had detached $((parts - left)) of $parts tables"
expect_rc 0 "$MXCRAWL" campaign drop epsilon --yes
grep -q "finishing a drop that was interrupted" "$TEST_WORK/err" || fail "resumed drop: $(cat "$TEST_WORK/err")"
expect_eq "epsilon's tables" "$(sql "SELECT count(*) FROM pg_class WHERE relname ~ '_$eps\$' AND relkind IN ('r', 'p')")" 0
case "$(rows_of "$eps")" in *=[1-9]*) fail "epsilon's rows left: $(rows_of "$eps")" ;; esac
expect_eq "campaigns left" "$(sql "SELECT string_agg(name, ',' ORDER BY id) FROM campaign")" "alpha,gamma,beta"

# ---- imports cut short -------------------------------------------------------------
# An import reads its targets from a FIFO the test writes; while it copies,
# its campaign is 'importing' and a drop is refused. Killed (SIGKILL), it
# leaves the campaign 'importing' with nothing in it: the same import run
# again takes it over; `campaign drop` removes it.
copying() {
	[ "$(sql "SELECT count(*) FROM pg_stat_progress_copy
	           WHERE relid = 'campaign_target'::regclass")" = 1 ]
}
import_gone() {
	[ "$(sql "SELECT count(*) FROM pg_stat_progress_copy")" = 0 ] &&
		[ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0 ]
}
# import_cut NAME: an import of NAME, killed while it copies.
import_cut() {
	mkfifo "$TEST_WORK/$1.fifo"
	"$MXCRAWL" scan --targets "$TEST_WORK/$1.fifo" --format plain --campaign "$1" \
		--import-only >/dev/null 2>"$TEST_WORK/$1.err" 7>&- 9>&- &
	local importer=$!
	exec 9>"$TEST_WORK/$1.fifo"
	printf 'a.example\nb.example\n' >&9
	poll_until 30 "the import of $1 to copy" copying
	expect_eq "$1's state while it copies" "$(sql "SELECT state FROM campaign WHERE name = '$1'")" importing
	expect_rc 75 "$MXCRAWL" campaign drop "$1" --yes
	grep -q "is being imported right now" "$TEST_WORK/err" || fail "drop of a live import: $(cat "$TEST_WORK/err")"
	kill -KILL "$importer"
	wait "$importer" 2>/dev/null || true
	exec 9>&-
	poll_until 30 "the killed import's backend to end" import_gone
	expect_eq "$1's state after the kill" "$(sql "SELECT state FROM campaign WHERE name = '$1'")" importing
}
import_cut zeta
zeta=$(sql "SELECT id FROM campaign WHERE name = 'zeta'")
expect_rc 0 "$MXCRAWL" scan --targets "$TEST_WORK/five.txt" --campaign zeta --import-only
grep -q "campaign 'zeta' (id $zeta): its earlier import was interrupted; importing into it again" \
	"$TEST_WORK/err" || fail "import again: $(cat "$TEST_WORK/err")"
expect_eq "zeta after the import again" \
	"$(sql "SELECT id || '/' || state || '/' || targets FROM campaign WHERE name = 'zeta'")" "$zeta/queued/5"
import_cut eta
eta=$(sql "SELECT id FROM campaign WHERE name = 'eta'")
expect_rc 0 "$MXCRAWL" campaign drop eta --yes
grep -q "was never imported completely (its import was interrupted)" "$TEST_WORK/err" ||
	fail "drop of a cut import: $(cat "$TEST_WORK/err")"
expect_eq "eta's tables" "$(sql "SELECT count(*) FROM pg_class WHERE relname ~ '_$eta\$' AND relkind IN ('r', 'p')")" 0
expect_eq "campaigns left" "$(sql "SELECT string_agg(name, ',' ORDER BY id) FROM campaign")" "alpha,gamma,beta,zeta"
exec 7>&-
wait

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
