#!/usr/bin/env bash
# The per-IP cap, seen from the server's side, at a listener that never
# sends a banner and counts the connections it holds at once:
# 1. the crawler's cap: eight domains, each with its own MX host, all at
#    one address (eight endpoints, one IP), scanned by several worker loops
#    at once; the cap is per process, shared by its workers, so the
#    listener must see all eight and never more than the cap at a time:
#    a. `--workers 2 --per-ip 2`: two at a time at some point;
#    b. `--workers 4 --per-ip 2`: more loops than slots, still two at most
#       (a share per loop, at least one each, let four through);
#    c. `--workers 2 --per-ip 3`: a cap the loops cannot split evenly is
#       used whole: the listener holds every connection unanswered until it
#       holds three at once, then closes them; each probe holds its slot
#       until closed (or its banner timeout, 8 s), so three at once must
#       happen while eight domains wait (a share per loop never got past
#       two, and every probe ran into its timeout);
#    d. two crawler processes of one campaign, `--per-ip 2` each: the cap
#       is the campaign's, through the endpoint claims (an endpoint is not
#       claimed at an address where two claims are open), so still two at
#       most, where each process's own cap let four through;
# 2. the probe driver (tests/tools/smtpprobe) with six SNI names.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"

PY=/usr/bin/python3
probe=$(dirname "$MXCRAWL")/tests/smtpprobe
addr=127.66.0.25
port=2525
mkfifo "$TEST_WORK/ready" "$TEST_WORK/result"
cat >"$TEST_WORK/listener.py" <<'PYEOF'
import select, socket, sys
addr, port, ready, result = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
want = int(sys.argv[5])
# Close every connection held once this many are held at once (0: never;
# the client's timeouts end them).
close_at = int(sys.argv[6])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
live, total, most = [], 0, 0

def closed(c):
    # The client's FIN is queued before its next SYN arrives (one host,
    # one loopback), so at accept time a peek tells every connection the
    # client has already closed, whether or not we have read it yet.
    try:
        return c.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False

with open(ready, "w") as f:
    f.write("ready\n")
while True:
    r, _, _ = select.select([s] + live, [], [])
    if s in r:
        c, _ = s.accept()
        for x in [x for x in live if closed(x)]:
            live.remove(x)
            x.close()
        live.append(c)
        total += 1
        most = max(most, len(live))
        if close_at and len(live) >= close_at:
            for x in live:
                x.close()
            live = []
    else:
        for c in r:
            if c.recv(4096) == b"":
                # Never greeted: the client gave up and closed.
                live.remove(c)
                c.close()
    if total == want and not live:
        with open(result, "w") as f:
            f.write("%d %d\n" % (total, most))
        break
PYEOF

# listen ADDR PORT TOTAL [CLOSE_AT]: starts the listener; it writes "TOTAL
# MOST" to $TEST_WORK/result once it has seen TOTAL connections, all
# closed; with CLOSE_AT it closes those it holds when it holds CLOSE_AT.
listener=
trap 'if [ -n "$listener" ]; then kill "$listener" 2>/dev/null || true; fi; test_cleanup' EXIT
listen() {
	"$PY" "$TEST_WORK/listener.py" "$1" "$2" "$TEST_WORK/ready" "$TEST_WORK/result" "$3" "${4:-0}" &
	listener=$!
	# Opening the fifo blocks until the listener has bound its socket.
	read -r -t 30 line <"$TEST_WORK/ready" || fail "listener did not start"
}

# ---- 1. the crawler ------------------------------------------------------------
# DNS only (the testbed's SMTP servers would own port 25 on every address):
# the listener is the only SMTP server.
crawler_addr=127.60.0.25
{
	printf '['
	for n in 1 2 3 4 5 6 7 8; do
		[ "$n" = 1 ] || printf ','
		printf '{"name": "per-ip-%s", "case": "per-IP cap: eight domains whose MX hosts share one address", "mx": [[10, "mx"]], "hosts": {"mx": {"a": ["%s"], "server": false}}}\n' \
			"$n" "$crawler_addr"
	done
	printf ']\n'
} >"$TEST_WORK/scenarios.json"
testbed_up --no-servers --no-postfix --scenarios "$TEST_WORK/scenarios.json"
expect_eq "targets" "$(sort "$TESTBED_TARGETS" | tr '\n' ' ')" \
	"per-ip-1.test per-ip-2.test per-ip-3.test per-ip-4.test per-ip-5.test per-ip-6.test per-ip-7.test per-ip-8.test "
# crawl CAMPAIGN WORKERS PER_IP DEADLINE_MS CLOSE_AT: scans the eight
# domains at the listener; prints "TOTAL MOST" as the listener saw them.
crawl() {
	listen "$crawler_addr" 25 8 "$5"
	"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign "$1" "${allow_args[@]}" \
		--workers "$2" --batch-size 1 --per-ip "$3" --smtp-deadline "$4" --progress 0 \
		2>"$TEST_WORK/scan.err" || { cat "$TEST_WORK/scan.err" >&2; fail "scan $1 failed"; }
	read -r -t 60 seen <"$TEST_WORK/result" || fail "listener gave no result"
	wait "$listener" || true
	listener=
	echo "$seen"
}
# endpoints CAMPAIGN [OUTCOME]: "stored, with OUTCOME, distinct SNI names".
endpoints() {
	sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE outcome = '${2:-banner_timeout}') || ' ' || count(DISTINCT sni) FROM endpoint e JOIN campaign c ON c.id = e.campaign_id WHERE c.name = '$1' AND host(e.ip) = '$crawler_addr'"
}

# a. and b.: a banner timeout of 1.5 s (half the deadline) keeps each probe
# open long enough for the loops' probes to overlap.
expect_eq "crawler: connections seen / most at once (--per-ip 2, 2 workers)" \
	"$(crawl per-ip 2 2 3000 0)" "8 2"
expect_eq "endpoints stored / banner_timeout / SNI names" "$(endpoints per-ip)" "8 8 8"
expect_eq "crawler: connections seen / most at once (--per-ip 2, 4 workers)" \
	"$(crawl per-ip-w4 4 2 3000 0)" "8 2"
expect_eq "endpoints stored / banner_timeout / SNI names (4 workers)" \
	"$(endpoints per-ip-w4)" "8 8 8"
# c.: the listener closes each three it holds (6 probes: connection_closed);
# the last two time out.
expect_eq "crawler: connections seen / most at once (--per-ip 3, 2 workers)" \
	"$(crawl per-ip-3 2 3 16000 3)" "8 3"
expect_eq "endpoints stored / connection_closed / SNI names (--per-ip 3)" \
	"$(endpoints per-ip-3 connection_closed)" "8 6 8"

# d.: two processes, each with two domains in flight at most, so that
# both hold some of the eight from the start.
crawl_two() {
	listen "$crawler_addr" 25 8 0
	"$MXCRAWL" scan --targets "$TESTBED_TARGETS" --campaign "$1" --import-only \
		--batch-size 1 2>"$TEST_WORK/import.err" ||
		{ cat "$TEST_WORK/import.err" >&2; fail "import $1 failed"; }
	local args=(scan --campaign "$1" --resume "${allow_args[@]}" --workers 1
		--concurrency 2 --per-ip 2 --smtp-deadline 3000 --progress 0)
	local pa pb ra=0 rb=0
	"$MXCRAWL" "${args[@]}" 2>"$TEST_WORK/a.err" &
	pa=$!
	"$MXCRAWL" "${args[@]}" 2>"$TEST_WORK/b.err" &
	pb=$!
	wait "$pa" || ra=$?
	wait "$pb" || rb=$?
	[ "$ra $rb" = "0 0" ] ||
		{ cat "$TEST_WORK/a.err" "$TEST_WORK/b.err" >&2; fail "scan $1: exit $ra $rb"; }
	read -r -t 60 seen <"$TEST_WORK/result" || fail "listener gave no result"
	wait "$listener" || true
	listener=
	echo "$seen"
}
expect_eq "two crawlers: connections seen / most at once (--per-ip 2 each)" \
	"$(crawl_two per-ip-two)" "8 2"
expect_eq "endpoints stored / banner_timeout / SNI names (two crawlers)" \
	"$(endpoints per-ip-two)" "8 8 8"
# Both crawlers had probes open at the start (two domains each), so the
# cap must have made one of them wait: the summaries count the refusals.
capped=$(sed -n 's/^scan: \([0-9]*\) claims waited for a place under the campaign.s cap of 2 probes per address.*/\1/p' \
	"$TEST_WORK/a.err" "$TEST_WORK/b.err" | awk '{ n += $1; k++ } END { print k, (n > 0) }')
expect_eq "summaries with the cap's count / some claim waited" "$capped" "2 1"
expect_eq "crawlers that scanned domains" \
	"$(sql "SELECT count(DISTINCT d.worker) FROM domain_dns d JOIN campaign c ON c.id = d.campaign_id
	          WHERE c.name = 'per-ip-two'")" 2

# ---- 2. the probe driver -----------------------------------------------------------
listen "$addr" "$port" 6
args=()
for n in 1 2 3 4 5 6; do args+=("$addr" "mx$n.per-ip.test"); done
"$probe" --per-ip 2 --port "$port" --stage 300 --deadline 5000 "${args[@]}" \
	>"$TEST_WORK/probes.jsonl"
expect_eq "probes reported" "$(grep -c '"outcome": "banner_timeout"' "$TEST_WORK/probes.jsonl")" 6
read -r -t 30 seen <"$TEST_WORK/result" || fail "listener gave no result"
expect_eq "driver: connections seen / most at once" "$seen" "6 2"
echo PASS
