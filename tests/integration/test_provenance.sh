#!/usr/bin/env bash
# A scan that cannot measure DNSSEC says so, and every campaign says how it
# was measured:
# - a bogus canary that validates, or that is a secure NXDOMAIN, is a
#   configuration error: exit 78 before a campaign exists, naming the
#   canary and what it answered;
# - a resolver that does not validate (a second unbound with the iterator
#   only) stops the scan with 78; with --allow-unvalidated the scan runs,
#   its report has a banner and "not measured" for every DNSSEC/DANE figure
#   (text, json, csv, md, html), and every export record says
#   dnssec_validated false;
# - provenance: `campaign show` and `export --metadata` carry the resolver
#   and what it said of itself, the canaries' answers, the trust store's
#   SHA-256 (computed here with sha256sum), options, library versions, and
#   a second run after --resume; every export record names its campaign;
#   every report format has "How this was measured";
# - the EHLO name: a name that resolves to the scanner's address
#   (here.scanner.test: 127.0.0.1 and ::1) is recorded as matching, without a
#   warning; one that resolves elsewhere, or that has no address (the
#   default mxcrawl.<host>, which the testbed does not have), gets one
#   warning and is recorded as such; the scan goes on either way.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
testbed_up --no-postfix

PY=/usr/bin/python3
# A few dozen targets are enough to have every kind of figure.
head -n 40 "$TESTBED_TARGETS" >"$TEST_WORK/targets.txt"
T=$TEST_WORK/targets.txt
[ -s "$MXCRAWL_CA_FILE" ] || fail "the testbed has no CA file"
scan=("$MXCRAWL" scan --targets "$T" "${allow_args[@]}" --progress 0
	--workers 1 --concurrency 50 --smtp-deadline 8000
	--ca-file "$MXCRAWL_CA_FILE")
campaigns() { sql "SELECT count(*) FROM campaign"; }
# The database exists once a command has run; list creates it.
"$MXCRAWL" campaign list >/dev/null

echo "== the bogus canary must be bogus"
expect_rc 78 "${scan[@]}" --campaign c1 --canary-bogus "$MXCRAWL_CANARY_SECURE"
grep -q "bogus canary $MXCRAWL_CANARY_SECURE answered NOERROR, secure" "$TEST_WORK/err" ||
	fail "which canary answered what: $(cat "$TEST_WORK/err")"
grep -q -- "--canary-bogus" "$TEST_WORK/err" || fail "how to choose another: $(cat "$TEST_WORK/err")"
expect_eq "campaigns after a canary that validates" "$(campaigns)" 0
expect_rc 78 "${scan[@]}" --campaign c2 --canary-bogus "no-such-name.$MXCRAWL_CANARY_SECURE"
grep -q "answered NXDOMAIN, secure" "$TEST_WORK/err" &&
	grep -q "does not exist" "$TEST_WORK/err" ||
	fail "secure NXDOMAIN: $(cat "$TEST_WORK/err")"
expect_eq "campaigns after a secure-NXDOMAIN canary" "$(campaigns)" 0

echo "== a resolver that does not validate"
start_unvalidating_resolver
expect_rc 78 "${scan[@]}" --campaign nv --resolver "$UNVALIDATING_RESOLVER"
grep -q "DOES NOT VALIDATE" "$TEST_WORK/err" && grep -q -- "--allow-unvalidated" "$TEST_WORK/err" ||
	fail "no loud refusal: $(cat "$TEST_WORK/err")"
expect_eq "campaigns after a non-validating resolver" "$(campaigns)" 0
"${scan[@]}" --campaign nv --resolver "$UNVALIDATING_RESOLVER" --allow-unvalidated \
	2>"$TEST_WORK/nv.err" || { cat "$TEST_WORK/nv.err" >&2; fail "scan --allow-unvalidated"; }
grep -q "DOES NOT VALIDATE" "$TEST_WORK/nv.err" || fail "no warning: $(cat "$TEST_WORK/nv.err")"
expect_eq "DNSSEC statuses of the unvalidated campaign other than unknown" \
	"$(sql "SELECT count(*) FROM dns_rrset r JOIN campaign c ON c.id = r.campaign_id WHERE c.name = 'nv' AND dnssec <> 'unknown'")" 0

R=$TEST_WORK/report
mkdir -p "$R"
for f in json text csv md html; do
	"$MXCRAWL" report --campaign nv --format $f -o "$R/nv.$f" || fail "report nv --format $f"
done
"$MXCRAWL" export --campaign nv --format jsonl >"$R/nv.jsonl" || fail "export nv"
"$PY" - "$R" <<'PYEOF' || fail "the unvalidated campaign's report or export"
import csv, json, re, sys
d = sys.argv[1]
j = json.load(open(d + "/nv.json"))
assert j["campaign"]["dnssec_validated"] is False, j["campaign"]
assert j["banner"] and "NOT VALIDATED" in j["banner"], j["banner"]
# The DNSSEC- and DANE-dependent figures: the section, and the ladder
# (its top rung is DANE). They have no numbers at all, only the word.
dep = [f for f in j["figures"] if f["needs_dnssec"]]
names = {f["name"] for f in dep}
want = {"protection_ladder", "dnssec_mx", "dane_protected", "dane_outcome",
        "dane_failure_cause", "tlsa_parameters"}
assert want <= names, want - names
for f in dep:
    assert f["measured"] is False and f["rows"] == [], f
    assert f["status"].startswith("not measured"), f
assert all(f["measured"] for f in j["figures"] if not f["needs_dnssec"])
assert any(f["rows"] for f in j["figures"] if not f["needs_dnssec"]), "nothing measured at all"
assert j["how_measured"]["dnssec_validated"] is False, j["how_measured"]

# text: the banner first, and each dependent figure's block says "not
# measured" and has no percent at all (never 0.0 %).
text = open(d + "/nv.text").read()
head = text.split("\ncampaign:")[0]
assert "DNSSEC WAS NOT VALIDATED" in head, head
blocks = re.split(r"\n(?=\S[^\n]*  \[[a-z0-9_]+, (?:share|distribution|causes)\]\n)", text)
seen = set()
for b in blocks:
    m = re.match(r"[^\n]*  \[([a-z0-9_]+), ", b)
    if not m or m.group(1) not in names:
        continue
    seen.add(m.group(1))
    body = b.split("How this was measured")[0]
    assert "not measured" in body, b
    assert not re.search(r"\d+\.\d\b", body.split("\n", 1)[1].split("not measured")[1]), b
assert seen == names, names ^ seen
assert "How this was measured" in text

# csv, md, html: the same words, and "How this was measured".
rows = list(csv.DictReader(open(d + "/nv.csv", newline="")))
for n in names:
    r = [x for x in rows if x["figure"] == n]
    assert len(r) == 1 and r[0]["label"] == "not measured" and not r[0]["percent"], (n, r)
assert any(x["section"] == "how_measured" and x["scope"] == "dnssec_validated"
           and x["label"] == "false" for x in rows)
md = open(d + "/nv.md").read()
assert "NOT VALIDATED" in md.split("##")[0] and "## How this was measured" in md
html = open(d + "/nv.html").read()
assert 'class="banner"' in html and 'id="how-measured"' in html
assert html.count('class="not-measured"') == len(names), html.count('class="not-measured"')

# export: every record carries the campaign and the flag.
recs = [json.loads(l) for l in open(d + "/nv.jsonl")]
assert recs, "no records"
for r in recs:
    assert r["dnssec_validated"] is False and r["campaign_name"] == "nv" \
        and r["campaign_id"] == j["campaign"]["id"], r
print("ok: unvalidated: banner, %d figures not measured in 5 formats, %d "
      "records flagged" % (len(names), len(recs)))
PYEOF

echo "== provenance of a validated campaign, created and resumed"
"${scan[@]}" --campaign prov --concurrency 20 --ehlo-name here.scanner.test \
	2>"$TEST_WORK/prov.err" ||
	{ cat "$TEST_WORK/prov.err" >&2; fail "scan prov"; }
grep -q "DNSSEC validated" "$TEST_WORK/prov.err" || fail "canaries: $(cat "$TEST_WORK/prov.err")"
grep -q "EHLO name" "$TEST_WORK/prov.err" && fail "a warning for a matching EHLO name: $(cat "$TEST_WORK/prov.err")"
"$MXCRAWL" scan --campaign prov --resume "${allow_args[@]}" --progress 0 \
	--ca-file "$MXCRAWL_CA_FILE" --rate 7 2>"$TEST_WORK/resume.err" ||
	{ cat "$TEST_WORK/resume.err" >&2; fail "scan prov --resume"; }
expect_eq "warnings of the resume (default EHLO name, no address)" \
	"$(grep -c "scan: warning: EHLO name 'mxcrawl\.[^']*' has no address" "$TEST_WORK/resume.err")" 1
# A name that resolves elsewhere: a scan of ten domains, one warning
# that names both addresses, and the scan ends well. One worker at 4
# domains/s takes over 2 s to start them: the cap sets the pace, and the
# progress line of the first second and the summary say so.
head -n 10 "$T" >"$TEST_WORK/ten.txt"
"$MXCRAWL" scan --targets "$TEST_WORK/ten.txt" --campaign ehlo-elsewhere "${allow_args[@]}" \
	--workers 1 --rate 4 --progress 1 --smtp-deadline 8000 --ca-file "$MXCRAWL_CA_FILE" \
	--ehlo-name elsewhere.scanner.test 2>"$TEST_WORK/else.err" ||
	{ cat "$TEST_WORK/else.err" >&2; fail "scan with an EHLO name that resolves elsewhere"; }
# (The first connection goes to an IPv4 or an IPv6 MX host, whichever
# answer came first: the scanner's address is 127.0.0.1 or ::1.)
expect_eq "warnings of the scan whose EHLO name resolves elsewhere" \
	"$(grep -cE "scan: warning: EHLO name 'elsewhere.scanner.test' resolves to 127.54.0.25, not to this scanner's address (127\.0\.0\.1|::1):" "$TEST_WORK/else.err")" 1
grep -q "^scan: [0-9]*/10 domains .* domains/s (rate-capped at 4/s, --rate)" "$TEST_WORK/else.err" &&
	grep -q "^scan: rate-capped at 4 domains/s: the cap held back" "$TEST_WORK/else.err" ||
	fail "no word of the rate cap: $(cat "$TEST_WORK/else.err")"
"$MXCRAWL" export --campaign ehlo-elsewhere --metadata >"$TEST_WORK/else.json" ||
	fail "export --metadata ehlo-elsewhere"
sha=$(sha256sum "$MXCRAWL_CA_FILE" | cut -d' ' -f1)
ncerts=$(grep -c -- "-----BEGIN CERTIFICATE-----" "$MXCRAWL_CA_FILE")
"$MXCRAWL" campaign show prov >"$R/show.txt" || fail "campaign show"
"$MXCRAWL" campaign show prov --format json >"$R/show.json" || fail "campaign show --format json"
"$MXCRAWL" export --campaign prov --metadata >"$R/meta.json" || fail "export --metadata"
"$MXCRAWL" export --campaign prov --format jsonl >"$R/prov.jsonl" || fail "export prov"
for f in json text csv md html; do
	"$MXCRAWL" report --campaign prov --format $f -o "$R/prov.$f" || fail "report prov --format $f"
done
for w in "resolver.address: $MXCRAWL_RESOLVER" "trust_store.sha256: $sha" \
	"trust_store.roots: $ncerts" "canaries.bogus.name: $MXCRAWL_CANARY_BOGUS" \
	"canaries.bogus.dnssec: bogus" "canaries.secure.dnssec: secure" \
	"options.concurrency: 20" "options.rate: 7" "versions.openssl: OpenSSL" \
	"versions.libuv:" "versions.c-ares:" "versions.libcurl:" "versions.zstd:" \
	"versions.libpq:" "resolver.version_bind: unbound" "run 2:" "kind: resume" \
	"DNSSEC: validated"; do
	grep -q -- "$w" "$R/show.txt" || fail "campaign show lacks '$w'"
done
echo "ok: campaign show has the resolver, canaries, trust store, options, versions, 2 runs"
"$PY" - "$R" "$MXCRAWL_RESOLVER" "$sha" "$ncerts" "$MXCRAWL_CA_FILE" "$MXCRAWL_CANARY_SECURE" \
	"$MXCRAWL_CANARY_BOGUS" <<'PYEOF' || fail "provenance"
import csv, json, os, sys
d, resolver, sha, ncerts, ca, secure, bogus = sys.argv[1:]
m = json.load(open(d + "/meta.json"))
assert m["campaign"]["name"] == "prov" and m["dnssec_validated"] is True, m["campaign"]
runs = m["runs"]
assert [r["kind"] for r in runs] == ["create", "resume"], runs
for r in runs:
    assert r["resolver"]["address"] == resolver, r["resolver"]
    assert r["resolver"]["version_bind"].startswith("unbound"), r["resolver"]
    # --resolver (here $MXCRAWL_RESOLVER): not the private one, no root
    # hints or trust anchor of its own to name.
    assert r["resolver"]["private"] is False and "root_hints" not in r["resolver"], r["resolver"]
    assert r["canaries"]["secure"]["name"] == secure and \
        r["canaries"]["secure"]["dnssec"] == "secure", r["canaries"]
    assert r["canaries"]["bogus"]["name"] == bogus and \
        r["canaries"]["bogus"]["dnssec"] == "bogus" and \
        r["canaries"]["bogus"]["rcode"] == "SERVFAIL", r["canaries"]
    t = r["trust_store"]
    assert t["sha256"] == sha and t["roots"] == int(ncerts) and \
        t["path"] == os.path.realpath(ca), t
    o = r["options"]
    for k in ("workers", "concurrency", "rate", "per_ip", "dns_timeout_ms", "dns_inflight",
              "smtp_deadline_ms", "smtp_timeouts_ms", "ehlo_name", "mx_cap",
              "allow_cidr", "allow_cidr_sha256", "blocklist"):
        assert k in o, (k, o)
    assert set(r["versions"]) == {"mxcrawl", "openssl", "libuv", "c-ares",
                                  "libcurl", "zstd", "libpq"}, r["versions"]
    assert all(r["versions"].values()), r["versions"]
    assert r["started"] and r["ended"] and r["end_state"] == "done", r
    assert r["host"] and r["vantage"] and r["dnssec_validated"] is True, r
assert runs[0]["options"]["concurrency"] == 20 and runs[1]["options"]["rate"] == 7, runs
# The EHLO name's check: the scan's first connection left from 127.0.0.1
# or ::1 (an IPv4 or an IPv6 MX host), both of which here.scanner.test
# resolves to; the resume made no connection and its default name has no
# address.
assert (runs[0]["ehlo_name_check"], sorted(runs[0]["ehlo_name_addresses"])) == \
    ("matches", ["127.0.0.1", "::1"]), runs[0]
assert runs[0]["scanner_address"] in ("127.0.0.1", "::1"), runs[0]
assert (runs[1]["ehlo_name_check"], runs[1]["ehlo_name_addresses"],
        runs[1]["scanner_address"]) == ("no_address", [], None), runs[1]
e = json.load(open(os.path.dirname(d) + "/else.json"))["runs"]
assert [(r["ehlo_name_check"], r["ehlo_name_addresses"], r["end_state"])
        for r in e] == [("mismatch", ["127.54.0.25"], "done")], e
assert e[0]["scanner_address"] in ("127.0.0.1", "::1"), e
assert runs[0]["domains"] > 0 and runs[1]["domains"] == 0, runs
s = json.load(open(d + "/show.json"))
assert s["dnssec_validated"] is True and len(s["runs"]) == 2, s.get("runs")
recs = [json.loads(l) for l in open(d + "/prov.jsonl")]
assert recs and all(r["campaign_id"] == m["campaign"]["id"] and
                    r["campaign_name"] == "prov" and r["dnssec_validated"] is True
                    for r in recs)
# Every report format: "How this was measured", with the trust store.
j = json.load(open(d + "/prov.json"))
assert j["banner"] is None and j["how_measured"]["runs"][0]["trust_store"]["sha256"] == sha
assert all(f["measured"] for f in j["figures"])
for f in ("text", "md", "html"):
    t = open("%s/prov.%s" % (d, f)).read()
    assert "How this was measured" in t and sha in t and "NOT VALIDATED" not in t, f
rows = [r for r in csv.DictReader(open(d + "/prov.csv", newline=""))
        if r["section"] == "how_measured"]
assert any(r["scope"] == "trust_store.sha256" and r["label"] == sha for r in rows), rows[:5]
print("ok: export --metadata: 2 runs with resolver, canaries, trust store, "
      "options, versions; %d records name their campaign; 5 formats say "
      "how it was measured" % len(recs))
PYEOF
# Beside the unvalidated campaign, the validated one keeps its own numbers
# and the other side of every DNSSEC figure is "not measured", not 0.
"$MXCRAWL" report --campaign prov --compare nv --format json -o "$R/cmp.json" ||
	fail "report --compare nv"
"$MXCRAWL" report --campaign prov --compare nv --format text -o "$R/cmp.text" ||
	fail "report --compare nv --format text"
"$PY" - "$R/cmp.json" <<'PYEOF' || fail "--compare with an unvalidated campaign"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["compare"]["dnssec_validated"] is False and j["banner"] is None
n = 0
for f in j["figures"]:
    if f["across"]:
        # Following domains into a campaign without DNSSEC: not measured.
        assert f["measured"] is (not f["needs_dnssec"]), f["name"]
        continue
    assert f["measured"] and f["compare_measured"] is (not f["needs_dnssec"]), f["name"]
    for r in f["rows"]:
        if f["needs_dnssec"]:
            c = r["compare"]
            assert c["numerator"] is None and c["percent"] is None and \
                c["delta"] is None, (f["name"], r)
            n += 1
assert n > 0
print("ok: --compare an unvalidated campaign: %d rows without its numbers" % n)
PYEOF
grep -q "the compared campaign: not measured" "$R/cmp.text" || fail "text: no note on the compared campaign"
echo PASS
