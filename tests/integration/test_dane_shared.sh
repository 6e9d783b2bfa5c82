#!/usr/bin/env bash
# DANE at an endpoint shared by domains is judged per domain (issue M7,
# RFC 7672 §2.2.1): DANE applies only where the domain's own MX RRset and
# the host's addresses are secure, so a signed and an unsigned domain whose
# MX host is one endpoint (TLSA at the host, in a signed zone) get
# different outcomes, whichever of them made the probe:
#  1. one process, one domain in flight (--workers 1 --concurrency 1), in
#     both orders: the second domain takes the first one's result from the
#     registry;
#  2. two processes, one after the other on one campaign: crawler A
#     probes the endpoint for a third domain; crawler B, scanning the
#     pair in its order, loses the endpoint's claim, builds the result
#     from A's stored endpoint row and chain, and both of B's domains
#     use it;
#  3. mxcrawl reverify judges each domain again from its own TLSA records.
# Every outcome is compared with truth.jsonl (the scenarios dane-shared-*),
# never with another crawler output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3
scan_args=("${allow_args[@]}" --workers 1 --concurrency 1 --progress 0
	--smtp-deadline 8000)
probed() { sed -n 's/.* \([0-9]*\) endpoints probed by this process.*/\1/p' "$1"; }
remote() { sed -n 's/.* \([0-9]*\) results taken from other crawlers.*/\1/p' "$1"; }

# The pairs, in the scan order of their names: the unsigned domain first
# (its probe must not decide the signed one's DANE), then the reverse.
# OTHER: a third domain on the same host.
declare -A PAIR=(
	[unsigned-first]="dane-shared-ta-insecure.test dane-shared-ta-secure.test"
	[signed-first]="dane-shared-ee-secure.test dane-shared-ee-insecure.test"
)
declare -A OTHER=(
	[unsigned-first]=dane-shared-ta-other.test
	[signed-first]=dane-shared-ee-other.test
)
for d in ${PAIR[unsigned-first]} ${PAIR[signed-first]} ${OTHER[unsigned-first]} \
	${OTHER[signed-first]}; do
	grep -qx "$d" "$TESTBED_TARGETS" || fail "$d is not a testbed target"
done

# check CAMPAIGN SET: the DANE outcome of every MX host (domain_mx) and
# of every domain's use of each endpoint (domain_endpoint) of the
# campaign's domains equals the truth; SET 0 is the scan's own judgement,
# any other a reverify set. Also requires that domains sharing the one
# endpoint disagree, so the test cannot pass vacuously.
check() {
	sql "SELECT json_build_object('domain', d.domain, 'host', m.host,
	    'dane', mj.dane, 'dane_result_type', mj.dane_result_type,
	    'endpoints', coalesce((SELECT json_agg(json_build_object(
	        'ip', host(dj.ip), 'dane', dj.dane,
	        'dane_result_type', dj.dane_result_type))
	      FROM domain_endpoint_judgement_all dj
	     WHERE dj.campaign_id = m.campaign_id AND dj.judgement_set_id = $2
	       AND dj.target_id = m.target_id AND dj.ordinal = m.ordinal), '[]'))
	  FROM domain_mx m JOIN domain_dns d USING (campaign_id, target_id)
	  JOIN domain_mx_judgement_all mj ON mj.campaign_id = m.campaign_id
	   AND mj.target_id = m.target_id AND mj.ordinal = m.ordinal
	   AND mj.judgement_set_id = $2
	 WHERE m.campaign_id = (SELECT id FROM campaign WHERE name = '$1')" \
		>"$TEST_WORK/$1.$2.jsonl"
	"$PY" - "$TESTBED_TRUTH" "$TEST_WORK/$1.$2.jsonl" "$1 set $2" <<'EOF' || fail "$1 (set $2): DANE differs from the truth"
import json, sys

truth_path, got_path, what = sys.argv[1:]
got = [json.loads(l) for l in open(got_path) if l.strip()]
truth = {}
for l in open(truth_path):
    t = json.loads(l)
    truth[t["domain"]] = t
errors, facts = [], 0


def eq(where, field, g, w):
    global facts
    facts += 1
    if g != w:
        errors.append("%s: %s: crawler=%r truth=%r" % (where, field, g, w))


by_ep = {}
for r in got:
    t = truth[r["domain"]]
    mx = next(h for h in t["mx"] if h["host"] == r["host"])
    where = "%s %s" % (r["domain"], r["host"])
    eq(where, "dane", r["dane"], mx["dane"])
    eq(where, "dane_result_type", r["dane_result_type"], mx["dane_result_type"])
    want_ips = sorted(e["ip"] for e in mx["endpoints"] if e["contact"])
    eq(where, "endpoints", sorted(e["ip"] for e in r["endpoints"]), want_ips)
    for e in r["endpoints"]:
        # One endpoint per host here: its use has the host's outcome.
        eq(where + " " + e["ip"], "dane", e["dane"], mx["dane"])
        eq(where + " " + e["ip"], "dane_result_type", e["dane_result_type"],
           mx["dane_result_type"])
        by_ep.setdefault((e["ip"], r["host"]), set()).add(mx["dane"])
if len(got) < 2:
    errors.append("%d MX hosts judged, want 2 or more" % len(got))
if len(by_ep) != 1 or not any(len(v) == 2 for v in by_ep.values()):
    errors.append("not one endpoint shared by domains with different outcomes")
for e in errors:
    print(e)
print("%s: %d facts, %d disagreements" % (what, facts, len(errors)))
sys.exit(1 if errors else 0)
EOF
}

# targets NAME DOMAINS...: a target file, one domain a line, in order.
targets() {
	local f=$TEST_WORK/$1.txt
	shift
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

echo "== one process, one domain in flight"
for order in unsigned-first signed-first; do
	read -r -a doms <<<"${PAIR[$order]}"
	"$MXCRAWL" scan --targets "$(targets "$order" "${doms[@]}")" --campaign "$order" \
		"${scan_args[@]}" 2>"$TEST_WORK/$order.err" ||
		{ cat "$TEST_WORK/$order.err" >&2; fail "scan $order failed"; }
	expect_eq "$order: endpoints probed" \
		"$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = (SELECT id FROM campaign WHERE name = '$order')")" 1
	check "$order" 0
done

echo "== two processes: the second domain's result comes from the other crawler"
for order in unsigned-first signed-first; do
	read -r -a doms <<<"${PAIR[$order]}"
	camp=two-$order
	# Batch 0 is the pair, in its order; batch 1 the third domain.
	expect_rc 0 "$MXCRAWL" scan --campaign "$camp" --import-only --batch-size 2 \
		--targets "$(targets "$camp" "${doms[@]}" "${OTHER[$order]}")"
	cid=$(sql "SELECT id FROM campaign WHERE name = '$camp'")
	# The pair's batch is held (as by a crawler that is alive), so
	# crawler A scans only the third domain; A then waits for the held
	# batch and is interrupted once its own is stored.
	sql "UPDATE campaign_batch SET leased_by = 'test/hold',
		lease_expires = clock_timestamp() + interval '1 hour'
		WHERE campaign_id = $cid AND batch_no = 0" >/dev/null
	"$MXCRAWL" scan --campaign "$camp" --resume "${scan_args[@]}" \
		2>"$TEST_WORK/$camp.a.err" &
	pa=$!
	first_done() {
		[ "$(sql "SELECT count(*) FROM campaign_batch WHERE campaign_id = $cid
			AND batch_no = 1 AND done_at IS NOT NULL")" = 1 ]
	}
	poll_until 60 "crawler A to store the third domain" first_done
	kill -INT "$pa"
	ra=0
	wait "$pa" || ra=$?
	[ "$ra" = 0 ] || [ "$ra" = 75 ] || {
		cat "$TEST_WORK/$camp.a.err" >&2
		fail "crawler A exited $ra"
	}
	sql "UPDATE campaign_batch SET leased_by = NULL, lease_expires = NULL
		WHERE campaign_id = $cid AND batch_no = 0" >/dev/null
	"$MXCRAWL" scan --campaign "$camp" --resume "${scan_args[@]}" \
		2>"$TEST_WORK/$camp.b.err" ||
		{ cat "$TEST_WORK/$camp.b.err" >&2; fail "crawler B ($camp) failed"; }
	expect_eq "$camp: campaign state" "$(sql "SELECT state FROM campaign WHERE id = $cid")" "done"
	expect_eq "$camp: results B took from A" "$(remote "$TEST_WORK/$camp.b.err")" 1
	expect_eq "$camp: endpoints B probed" "$(probed "$TEST_WORK/$camp.b.err")" 0
	expect_eq "$camp: endpoint rows" \
		"$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")" 1
	check "$camp" 0
done

echo "== reverify judges each domain with its own TLSA records"
for camp in unsigned-first two-unsigned-first; do
	"$MXCRAWL" reverify --campaign "$camp" --progress 0 >"$TEST_WORK/rv.out" \
		2>"$TEST_WORK/rv.err" || { cat "$TEST_WORK/rv.err" >&2; fail "reverify $camp failed"; }
	set_id=$(sql "SELECT max(id) FROM judgement_set WHERE campaign_id = (SELECT id FROM campaign WHERE name = '$camp')")
	check "$camp" "$set_id"
done
echo PASS
