#!/usr/bin/env bash
# mxcrawl reverify: a scanned campaign's stored chains judged again,
# without a re-scan, into new judgement sets, and each set checked against
# the testbed's truth file (never against the crawler's own output alone):
#   - a trust store without the testbed root: every chain the truth calls
#     trusted becomes untrusted with unknown_issuer; names and DANE, which
#     do not depend on the store, stay as the truth says;
#   - the testbed root at a time after every leaf's expiry: every trusted
#     chain becomes expired; DANE-EE (3) still matches, DANE-TA (2) does
#     not (RFC 7671 §5.2: DANE-TA checks dates, DANE-EE does not);
#   - the testbed root now: every verdict equals the truth, and equals the
#     scan's own (set 0) row for row.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3

"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign rv "${allow_args[@]}" \
	--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
	2>"$TEST_WORK/scan.err" || { cat "$TEST_WORK/scan.err" >&2; fail "scan failed"; }
cid=$(sql "SELECT id FROM campaign WHERE name = 'rv'")
nendpoints=$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid")
nmx=$(sql "SELECT count(*) FROM domain_mx WHERE campaign_id = $cid")
[ "$nendpoints" -gt 50 ] || fail "only $nendpoints endpoints scanned"

# Errors first: they must create no judgement set.
expect_rc 65 "$MXCRAWL" reverify --campaign no-such-campaign
grep -q "no-such-campaign" "$TEST_WORK/err" || fail "unknown campaign not named"
expect_rc 64 "$MXCRAWL" reverify --campaign rv --at "not a time"
expect_rc 64 "$MXCRAWL" reverify --at now
expect_rc 64 "$MXCRAWL" reverify --campaign rv --fetch 0
expect_rc 66 "$MXCRAWL" reverify --campaign rv --ca-file "$TEST_WORK/missing.pem"
echo "not a certificate" >"$TEST_WORK/junk.pem"
expect_rc 78 "$MXCRAWL" reverify --campaign rv --ca-file "$TEST_WORK/junk.pem"
expect_eq "no judgement set after errors" "$(sql "SELECT count(*) FROM judgement_set")" 0

# A trust store that does not hold the testbed root.
other_ca=$TB/pki/ca/untrusted-root.crt
grep -q "BEGIN CERTIFICATE" "$other_ca" || fail "no untrusted root in the testbed pki"
"$MXCRAWL" reverify --campaign rv --ca-file "$other_ca" --note "other root" \
	--progress 1 >"$TEST_WORK/untrusted.out" 2>"$TEST_WORK/untrusted.err" ||
	{ cat "$TEST_WORK/untrusted.err" >&2; fail "reverify (other root) failed"; }
cat "$TEST_WORK/untrusted.out"
grep -q "^reverify: endpoints $nendpoints/$nendpoints, MX hosts $nmx/$nmx, done" \
	"$TEST_WORK/untrusted.err" || fail "no final progress line: $(cat "$TEST_WORK/untrusted.err")"
set_untrusted=$(sql "SELECT max(id) FROM judgement_set WHERE campaign_id = $cid")

# The testbed root, after every leaf has expired (leaves live 90 days).
future=$(date -u -d '+200 days' +%Y-%m-%dT%H:%M:%SZ)
"$MXCRAWL" reverify --campaign rv --at "$future" --progress 0 \
	>"$TEST_WORK/future.out" 2>"$TEST_WORK/future.err" ||
	{ cat "$TEST_WORK/future.err" >&2; fail "reverify (future) failed"; }
cat "$TEST_WORK/future.out"
set_future=$(sql "SELECT max(id) FROM judgement_set WHERE campaign_id = $cid")

# The testbed root, now ($MXCRAWL_CA_FILE from testbed.env, as the scan),
# three rows per FETCH: endpoints and MX hosts straddle every boundary.
"$MXCRAWL" reverify --campaign "$cid" --progress 0 --fetch 3 >"$TEST_WORK/now.out" \
	2>"$TEST_WORK/now.err" || { cat "$TEST_WORK/now.err" >&2; fail "reverify (now) failed"; }
cat "$TEST_WORK/now.out"
set_now=$(sql "SELECT max(id) FROM judgement_set WHERE campaign_id = $cid")

# What the sets record about themselves.
expect_eq "set ids" "$set_untrusted $set_future $set_now" "1 2 3"
expect_eq "other root's set" \
	"$(sql "SELECT ca_file = '$(realpath "$other_ca")' AND encode(ca_sha256, 'hex') = '$(sha256sum "$other_ca" | cut -d' ' -f1)' AND note = 'other root' AND abs(extract(epoch FROM at_time - now())) < 600 FROM judgement_set WHERE id = $set_untrusted")" t
expect_eq "future set's time" \
	"$(sql "SELECT at_time = '$future'::timestamptz FROM judgement_set WHERE id = $set_future")" t
expect_eq "sets listed with the scan's as 0" \
	"$(sql "SELECT string_agg(id::text || ':' || coalesce(note, ''), ',' ORDER BY id) FROM judgement_set_all WHERE campaign_id = $cid")" \
	"0:scan,1:other root,2:,3:"
expect_eq "latest set" "$(sql "SELECT judgement_set_id FROM judgement_set_latest WHERE campaign_id = $cid")" "$set_now"
for s in 0 "$set_untrusted" "$set_future" "$set_now"; do
	expect_eq "endpoint rows in set $s" \
		"$(sql "SELECT count(*) FROM endpoint_judgement_all WHERE campaign_id = $cid AND judgement_set_id = $s")" "$nendpoints"
	expect_eq "MX host rows in set $s" \
		"$(sql "SELECT count(*) FROM domain_mx_judgement_all WHERE campaign_id = $cid AND judgement_set_id = $s")" "$nmx"
done
expect_eq "latest view is the newest set" \
	"$(sql "SELECT count(*) FROM endpoint_judgement_latest WHERE campaign_id = $cid AND judgement_set_id = $set_now")" "$nendpoints"

# Judged now with the scan's trust store, every verdict is the scan's.
for t in endpoint domain_endpoint domain_mx; do
	case $t in
	endpoint) cols="ip, port, sni, trusted, verify_errors, missing_intermediate, name_matches_mx, cn_only, weak, valid_ignoring_strength" ;;
	domain_endpoint) cols="target_id, ordinal, ip, port, sni, name_matches_domain, dane, dane_result_type" ;;
	domain_mx) cols="target_id, ordinal, dane, dane_result_type" ;;
	esac
	expect_eq "$t verdicts now = the scan's" "$(sql "SELECT count(*) FROM (
		(SELECT $cols FROM ${t}_judgement_all WHERE campaign_id = $cid AND judgement_set_id = 0
		 EXCEPT ALL SELECT $cols FROM ${t}_judgement_all WHERE campaign_id = $cid AND judgement_set_id = $set_now)
		UNION ALL
		(SELECT $cols FROM ${t}_judgement_all WHERE campaign_id = $cid AND judgement_set_id = $set_now
		 EXCEPT ALL SELECT $cols FROM ${t}_judgement_all WHERE campaign_id = $cid AND judgement_set_id = 0)) x")" 0
done

# Each set against the truth file.
dump() {
	sql "SELECT json_build_object(
	    'domain', d.domain, 'host', m.host, 'ordinal', m.ordinal,
	    'dane', mj.dane, 'dane_result_type', mj.dane_result_type,
	    'endpoints', coalesce((SELECT json_agg(json_build_object(
	        'ip', host(dj.ip), 'name_matches_domain', dj.name_matches_domain,
	        'trusted', ej.trusted, 'errors', ej.verify_errors,
	        'missing_intermediate', ej.missing_intermediate,
	        'name_matches_mx', ej.name_matches_mx, 'cn_only', ej.cn_only,
	        'weak', ej.weak, 'valid_ignoring_strength', ej.valid_ignoring_strength))
	      FROM domain_endpoint_judgement_all dj
	      JOIN endpoint_judgement_all ej ON ej.campaign_id = dj.campaign_id
	       AND ej.judgement_set_id = dj.judgement_set_id AND ej.ip = dj.ip
	       AND ej.port = dj.port AND ej.sni = dj.sni
	     WHERE dj.campaign_id = m.campaign_id AND dj.judgement_set_id = $1
	       AND dj.target_id = m.target_id AND dj.ordinal = m.ordinal), '[]'))
	  FROM domain_mx m
	  JOIN domain_dns d USING (campaign_id, target_id)
	  JOIN domain_mx_judgement_all mj ON mj.campaign_id = m.campaign_id
	   AND mj.target_id = m.target_id AND mj.ordinal = m.ordinal
	   AND mj.judgement_set_id = $1
	 WHERE m.campaign_id = $cid" >"$TEST_WORK/set$1.jsonl"
}
dump "$set_untrusted"
dump "$set_future"
dump "$set_now"

"$PY" - "$TESTBED_TRUTH" "$TEST_WORK" "$set_untrusted" "$set_future" "$set_now" <<'EOF' || fail "judgement sets differ from the truth"
import json, sys

truth_path, work, s_untrusted, s_future, s_now = sys.argv[1:]
truth = [json.loads(l) for l in open(truth_path)]

def alts(v):
    return v.split("|") if isinstance(v, str) and "|" in v else [v]

def load(s):
    got = {}
    for l in open("%s/set%s.jsonl" % (work, s)):
        r = json.loads(l)
        got[(r["domain"], r["host"])] = r
    return got

def usages(mx):
    return {int(r.split()[0]) for r in (mx.get("tlsa") or {}).get("records") or []}

errors, counts = [], {}

def check(mode, where, field, got, want):
    counts[mode] = counts.get(mode, 0) + 1
    if got not in alts(want):
        errors.append("%s: %s: %s: judged=%r truth=%r" % (mode, where, field, got, want))

def judge(mode, got):
    flipped = 0
    for t in truth:
        for mx in t.get("mx", []):
            key = (t["domain"], mx["host"])
            g = got.get(key)
            if not mx.get("kept", True) or mx.get("ip_literal"):
                continue  # beyond the cap or never contacted: not judged
            if g is None:
                errors.append("%s: %s: no judgement of the MX host" % (mode, key))
                continue
            where = "%s %s" % key
            want_dane = mx.get("dane")
            if mode == "future" and want_dane == "dane_ok":
                u = usages(mx)
                if u == {3}:
                    want_dane = "dane_ok"             # DANE-EE ignores dates
                elif u == {2}:
                    want_dane = "dane_no_match"       # DANE-TA: leaf expired
                else:
                    want_dane = g["dane"]             # mixed: not pinned
            if "dane" in mx:
                check(mode, where, "dane", g["dane"], want_dane)
                if want_dane == mx.get("dane"):
                    check(mode, where, "dane_result_type", g["dane_result_type"],
                          mx.get("dane_result_type"))
            eps = {e["ip"]: e for e in g["endpoints"]}
            for te in mx.get("endpoints", []):
                if not te.get("contact"):
                    continue
                w = "%s %s" % (where, te["ip"])
                e = eps.get(te["ip"])
                if e is None:
                    errors.append("%s: %s: endpoint not judged" % (mode, w))
                    continue
                tc = te.get("cert")
                if tc is None:
                    check(mode, w, "trusted (no chain)", e["trusted"], None)
                    continue
                for f in ("name_matches_mx", "name_matches_domain", "cn_only"):
                    check(mode, w, f, e[f], tc.get(f))
                errs = e["errors"] or []
                if mode == "now":
                    check(mode, w, "trusted", e["trusted"], tc["trusted"])
                    check(mode, w, "valid_ignoring_strength",
                          e["valid_ignoring_strength"], tc["valid_ignoring_strength"])
                    check(mode, w, "errors", errs, tc.get("errors") or [])
                    check(mode, w, "missing_intermediate", e["missing_intermediate"],
                          tc.get("missing_intermediate"))
                    check(mode, w, "weak", sorted(e["weak"] or []), sorted(tc.get("weak") or []))
                elif tc["valid_ignoring_strength"]:
                    cause = "unknown_issuer" if mode == "untrusted" else "expired"
                    check(mode, w, "trusted", e["trusted"], False)
                    check(mode, w, "valid_ignoring_strength",
                          e["valid_ignoring_strength"], False)
                    check(mode, w, cause + " among errors", cause in errs, True)
                    flipped += 1
    return flipped

for mode, s in (("untrusted", s_untrusted), ("future", s_future), ("now", s_now)):
    n = judge(mode, load(s))
    if mode != "now" and n < 20:
        errors.append("%s: only %d trusted chains in the truth to flip" % (mode, n))
    print("ok: %s: %d facts compared, %d trusted chains flipped" % (mode, counts.get(mode, 0), n))
for e in errors[:50]:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# The summaries count the flips the truth predicts.
ntrusted=$(sql "SELECT count(*) FROM endpoint WHERE campaign_id = $cid AND trusted")
grep -q "(true->false $ntrusted, false->true" "$TEST_WORK/future.out" || fail "future summary"
grep -q "true->false, first error expired: $ntrusted" "$TEST_WORK/future.out" ||
	fail "future summary by first error"
grep -q "(true->false $ntrusted, " "$TEST_WORK/untrusted.out" || fail "other root summary"
grep -q "(true->false 0, false->true 0)" "$TEST_WORK/now.out" || fail "now summary"
grep -q "DANE outcome changed: 0" "$TEST_WORK/now.out" || fail "now DANE summary"
grep -q "dane_ok->dane_no_match" "$TEST_WORK/future.out" || fail "future DANE summary"

# campaign show lists the sets.
"$MXCRAWL" campaign show rv >"$TEST_WORK/show.out"
grep -q "^  $set_untrusted .*trust store $(realpath "$other_ca")" "$TEST_WORK/show.out" ||
	fail "show: $(cat "$TEST_WORK/show.out")"
expect_eq "show json: sets" "$("$MXCRAWL" campaign show rv --format json |
	"$PY" -c 'import json,sys; print(" ".join(str(s["id"]) for s in json.load(sys.stdin)["judgement_sets"]))')" \
	"0 $set_untrusted $set_future $set_now"
echo PASS
