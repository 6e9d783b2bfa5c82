#!/usr/bin/env bash
# The HTML report as a browser shows it: Debian's headless Chromium, inside
# this test's network namespace (loopback only), renders the report of one
# campaign, of two compared, and of three as a history (`--history`, with
# --compare too); html_check.py reads the figures back from the rendered
# DOM (tables, bars, trend points: over the history, one per campaign)
# and compares them with `report --format json`, and checks in the HTML and in Chromium's net log
# that the page loads nothing from anywhere. Two broken copies (a changed
# number, an external image) must fail that check. A screenshot of the
# compared report, and one of the history report, are written for people
# to look at.
# Without chromium it fails (CI must run it; scripts/setup installs
# Debian's chromium), unless MXCRAWL_ALLOW_SKIP is set: then exit 77.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || skip_or_fail "chromium is not installed (scripts/setup installs it)"
reexec_in_netns "$@"
testbed_up

PY=/usr/bin/python3
CHECK=$MXCRAWL_SRC/tests/integration/html_check.py
R=$TEST_WORK/report
mkdir -p "$R"
# Where people find the screenshot after the test (TEST_WORK is removed).
ART=$(dirname "$MXCRAWL")/artifacts/report-html
mkdir -p "$ART"

scan() { # scan CAMPAIGN TARGETS
	"$MXCRAWL" scan --targets "$2" --campaign "$1" "${allow_args[@]}" \
		--workers 2 --concurrency 200 --progress 0 --smtp-deadline 8000 \
		2>"$TEST_WORK/scan-$1.err" ||
		{ cat "$TEST_WORK/scan-$1.err" >&2; fail "scan $1 failed"; }
}
# Two campaigns with different numbers: a part of the targets first,
# then all of them.
head -n 60 "$TESTBED_TARGETS" >"$TEST_WORK/part.txt"
scan part "$TEST_WORK/part.txt"
scan all "$TESTBED_TARGETS"
scan all-again "$TESTBED_TARGETS"

# chrome FILE.html OUT-PREFIX [extra flags]: the DOM after load and the
# net log of that run. No background networking, no first-run work, a
# profile of its own; --no-sandbox because the test runs as root.
chrome() {
	local in=$1 out=$2
	shift 2
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--user-data-dir="$TEST_WORK/chromium-profile" --no-first-run \
		--disable-background-networking --disable-component-update \
		--disable-sync --disable-extensions --disable-default-apps \
		--log-net-log="$out.netlog.json" "$@" "file://$in" \
		2>"$out.chromium.err"
}

for r in single compare history; do
	args=(--campaign all)
	[ $r = compare ] && args+=(--compare part)
	[ $r = history ] && args=(--campaign all-again --compare part --history '%')
	"$MXCRAWL" report "${args[@]}" --format html -o "$R/$r.html" || fail "report --format html ($r)"
	"$MXCRAWL" report "${args[@]}" --format json -o "$R/$r.json" || fail "report --format json ($r)"
	chrome "$R/$r.html" "$R/$r" --dump-dom >"$R/$r.dom.html" ||
		{ tail "$R/$r.chromium.err" >&2; fail "chromium --dump-dom ($r)"; }
	grep -q '<section class="figure"' "$R/$r.dom.html" || fail "chromium rendered no figure ($r)"
	"$PY" "$CHECK" "$R/$r.html" "$R/$r.dom.html" "$R/$r.json" "$R/$r.netlog.json" ||
		fail "the rendered $r report differs from the JSON"
done
grep -q 'class="trend"' "$R/compare.dom.html" || fail "no trend chart"
points=$(grep -c '<circle class="point"' "$R/history.dom.html" || true)
cpoints=$(grep -c '<circle class="point"' "$R/compare.dom.html" || true)
[ "$points" -gt "$cpoints" ] ||
	fail "the history report has $points trend points, the compared one $cpoints"
echo "ok: $points trend points over three campaigns, $cpoints over two"

# Whether this suite runs the parts that check the checker or make the
# screenshots: they run nothing of the build tree beyond the reports above
# (the same HTML in every build), so a sanitizer build (MXCRAWL_SANITIZED,
# tests/CMakeLists.txt) leaves them to the gcc suite.
gcc_suite() { [ -z "${MXCRAWL_SANITIZED:-}" ]; }

# The check is not blind: a number changed in a table, and an image from
# the network, are each caught.
if gcc_suite; then
sed '0,/<td class="n num">[0-9]*</s//<td class="n num">999999</' "$R/compare.html" >"$R/bad-number.html"
sed 's|<h1>mxcrawl report</h1>|&<img src="http://127.9.9.9/logo.png" alt="">|' \
	"$R/compare.html" >"$R/bad-image.html"
for b in bad-number bad-image; do
	cmp -s "$R/$b.html" "$R/compare.html" && fail "$b: the copy was not changed"
	chrome "$R/$b.html" "$R/$b" --dump-dom >"$R/$b.dom.html" || fail "chromium ($b)"
	if "$PY" "$CHECK" "$R/$b.html" "$R/$b.dom.html" "$R/compare.json" \
		"$R/$b.netlog.json" >"$R/$b.out"; then
		fail "$b passed the check"
	fi
done
grep -q "table" "$R/bad-number.out" || fail "bad-number: $(cat "$R/bad-number.out")"
grep -q "the page requested http://127.9.9.9/logo.png" "$R/bad-image.out" ||
	fail "bad-image: the net log shows no request: $(cat "$R/bad-image.out")"
echo "ok: a changed number and an external image are caught"
fi

# Legible trend charts (issue M8 item 8): in the history report, whose
# ladder trend has seven lines, Chromium lays out every text of every trend
# chart (line labels, axes, campaign names) and none overlaps another or
# sticks out of its chart. A copy of the page with a script that writes
# the laid-out boxes into the DOM (the report itself has no script).
for r in compare history; do
	sed 's|</body>|<script>\
const out = [];\
for (const svg of document.querySelectorAll("svg.trend")) {\
  const box = e => { const b = e.getBoundingClientRect();\
    return [b.left, b.top, b.right, b.bottom]; };\
  out.push({fig: svg.closest("section").id, svg: box(svg),\
    texts: [...svg.querySelectorAll("text")].map(\
      e => [e.textContent, ...box(e)])});\
}\
const pre = document.createElement("pre");\
pre.id = "boxes"; pre.textContent = JSON.stringify(out);\
document.body.appendChild(pre);\
</script></body>|' "$R/$r.html" >"$R/$r-boxes.html"
	chrome "$R/$r-boxes.html" "$R/$r-boxes" --window-size=1280,1000 \
		--dump-dom >"$R/$r-boxes.dom.html" ||
		fail "chromium --dump-dom ($r, boxes)"
	"$PY" - "$R/$r-boxes.dom.html" "$r" <<'PYEOF' || fail "trend chart texts overlap ($r)"
import html, json, re, sys
dom = open(sys.argv[1]).read()
m = re.search(r'<pre id="boxes">(.*?)</pre>', dom, re.S)
assert m, "no boxes in the DOM"
charts = json.loads(html.unescape(m.group(1)))
assert charts, "no trend chart"
E = 0.5  # px: boxes that touch do not overlap
bad, texts = [], 0
for c in charts:
    sl, st, sr, sb = c["svg"]
    t = c["texts"]
    texts += len(t)
    for s, l, tp, r, b in t:
        if l < sl - E or r > sr + E or tp < st - E or b > sb + E:
            bad.append("%s: %r sticks out of its chart" % (c["fig"], s))
    for i in range(len(t)):
        for j in range(i + 1, len(t)):
            a, o = t[i], t[j]
            if min(a[3], o[3]) - max(a[1], o[1]) > E and \
                    min(a[4], o[4]) - max(a[2], o[2]) > E:
                bad.append("%s: %r overlaps %r" % (c["fig"], a[0], o[0]))
for x in bad:
    print("FAIL: " + x)
if bad:
    sys.exit(1)
print("ok: %s: %d trend charts, %d texts, none overlapping or outside"
      % (sys.argv[2], len(charts), texts))
PYEOF
done

# The screenshot: the whole page at 1280 px wide (a viewport as tall as
# the page, from the figures' count; the rest is white).
if gcc_suite; then
figures=$(grep -c '<section class="figure"' "$R/compare.html")
height=$((1200 + figures * 700))
chrome "$R/compare.html" "$R/shot" --hide-scrollbars \
	--window-size=1280,"$height" --screenshot="$R/report.png" >/dev/null ||
	fail "chromium --screenshot"
"$PY" - "$R/report.png" <<'PYEOF' || fail "the screenshot is no PNG"
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n" and len(d) > 10000, len(d)
w, h = struct.unpack(">II", d[16:24])
assert w >= 1000 and h >= 1000, (w, h)
print("ok: screenshot %dx%d, %d bytes" % (w, h, len(d)))
PYEOF
chrome "$R/history.html" "$R/hshot" --hide-scrollbars \
	--window-size=1280,"$height" --screenshot="$R/history.png" >/dev/null ||
	fail "chromium --screenshot (history)"
cp "$R/report.png" "$R/compare.html" "$R/history.png" "$R/history.html" "$ART/"
echo "screenshot: $ART/report.png (report: $ART/compare.html), $ART/history.png"
fi
echo PASS
