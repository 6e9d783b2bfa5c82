#!/usr/bin/env bash
# scripts/bench's peer pipeline (M10 item 6: posttls-finger + dig + curl
# under xargs -P, what a researcher would run instead of mxcrawl) on a few
# scenario domains of a small testbed: the bench's own functions, as the
# bench calls them. A pipeline that resolves nothing (system resolver not
# the testbed's) or never reaches a server would still "measure" a fast
# rate, so its per-domain lines are checked against the truth: MX hosts
# found, a verified TLS connection (trusted chain, matching name), the MTA-STS
# policy fetched (HTTP 200), nothing for a null MX or a missing domain;
# the relay switch relay_delay is checked to fail loudly without a relay,
# the new options to be refused when malformed, and the MTA-STS fetch leg
# to keep to its window of concurrent fetches (stsfetch --max-inflight).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
reexec_in_netns "$@"
for tool in dig posttls-finger curl; do
	command -v "$tool" >/dev/null || skip_or_fail "$tool is not installed"
done
# The bench's new options are refused before anything starts (usage: 64).
bench=$MXCRAWL_SRC/scripts/bench
expect_rc 64 /usr/bin/python3 "$bench" --latency "dns 0.1"
expect_rc 64 /usr/bin/python3 "$bench" --report-db --latency dns=0.1
expect_rc 64 /usr/bin/python3 "$bench" --smtp --peer-sample many
expect_rc 64 /usr/bin/python3 "$bench" --smtp --sweep 100,200
expect_rc 64 /usr/bin/python3 "$bench" --latency dns=0.1 --sweep 0,100
expect_rc 64 /usr/bin/python3 "$bench" --latency dns=0.1 --sweep many

# A small population besides the scenarios, so that the C server runs
# (with a 1 s round trip: the switch below must be seen).
testbed_up --no-postfix --domains 50 --latency rtt=1.0

/usr/bin/python3 - "$MXCRAWL_SRC/scripts/bench" "$TB" "$TESTBED_TRUTH" <<'EOF' || fail "peer pipeline"
import importlib.machinery, importlib.util, json, os, shutil, subprocess, sys
sys.dont_write_bytecode = True
loader = importlib.machinery.SourceFileLoader("bench", sys.argv[1])
bench = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench", loader))
loader.exec_module(bench)
tb, truth_file = sys.argv[2], sys.argv[3]

o = bench.parse_args(["--smtp", "--peer-sample", "3"])
b = bench.Bench(o)
try:
    b.tb = tb
    b.env = {k: os.environ[k] for k in os.environ if k.startswith(("TESTBED_", "MXCRAWL_"))}
    # What the truth says each domain's line must be.
    truth = {}
    for line in open(truth_file):
        t = json.loads(line)
        truth[t["domain"]] = t
    want = {}
    for d in ("sts-enforce-ok.test", "mx-multi.test", "null-mx.test", "no-domain.test"):
        t = truth[d]
        hosts = [h for h in t["mx"] if h["host"] != "."]
        good = sum(1 for h in hosts if h["endpoints"] and all(
            (e.get("cert") or {}).get("trusted") and e["cert"].get("name_matches_mx")
            for e in h["endpoints"]))
        sts = "-"
        if (t.get("mta_sts") or {}).get("txt") not in (None, "none"):
            sts = "200" if t["mta_sts"].get("fetch") == "ok" else "other"
        want[d] = (len(hosts), good, sts)
    assert want["sts-enforce-ok.test"][1:] == (1, "200"), want
    assert want["null-mx.test"] == (0, 0, "-") and want["no-domain.test"] == (0, 0, "-"), want
    # The C server's delay switch (SIGUSR2; --sweep and --smtp --latency
    # scan with and without latency on one testbed): the banner of a
    # population endpoint comes after the 1 s round trip, then at once,
    # then after it again; left off for the fetches below.
    import socket, time
    ep = next(e for line in open(truth_file) for t in [json.loads(line)]
              if t["domain"].endswith(".pop0") for h in t.get("mx") or []
              for e in h.get("endpoints") or [] if e.get("contact"))

    def banner_s():
        t0 = time.monotonic()
        with socket.create_connection((ep["ip"], ep["port"]), timeout=10) as c:
            if not c.recv(512).startswith(b"220"):
                sys.exit("no banner from %r" % ep)
        return time.monotonic() - t0
    seen = [banner_s()]
    for on in (False, True, False):
        if not bench.server_delay(b, on):
            sys.exit("server_delay: no C server in this testbed")
        seen.append(banner_s())
    if not (seen[0] >= 1.0 and seen[1] < 1.0 and seen[2] >= 1.0 and seen[3] < 1.0):
        sys.exit("banner after %r s (delay on, off, on, off)" % seen)
    print("ok: the C server's delay switched off and on: banner after %s s" %
          ", ".join("%.3f" % x for x in seen))
    r = bench.peer_pipeline(b, sorted(want), jobs=4)
    got = {w[0]: (int(w[1][3:]), int(w[2][4:]), w[3][4:]) for w in r["lines"]}
    for d, (n, good, sts) in want.items():
        g = got.get(d)
        if g is None or g[0] != n or g[1] != good or (sts != "other" and g[2] != sts):
            sys.exit("%s: pipeline says %r, the truth (mx, trusted, sts) %r" % (d, g, want[d]))
    if not (r["done"] == r["n"] == 4 and r["cpu"] > 0 and r["wall"] > 0 and r["dps"] > 0):
        sys.exit("figures: %r" % {k: v for k, v in r.items() if k != "lines"})
    print("ok: the pipeline's lines agree with the truth: %r" % got)
    # The policy-fetch leg with a window of 2 (at 1M domains all ~68k hosts
    # at once would not fit): every host gets its result, the driver never
    # has more than 2 in flight yet does reach 2, and the outcomes are the
    # truth's.
    src = os.environ["MXCRAWL_SRC"]
    b.stsfetch = os.path.join(os.path.dirname(os.environ["MXCRAWL"]), "tests", "stsfetch")
    hosts = b.path("sts-hosts.txt")
    with open(hosts, "w") as f:
        subprocess.run([sys.executable, os.path.join(src, "tests", "integration",
                        "compare_sts_fetch.py"), "--args", truth_file], stdout=f, check=True)
    r = bench.sts_fetch_run(b, hosts, 2, timeout_ms=3000)
    if not (r["hosts"] >= 20 and r["results"] == r["hosts"] and r["peak"] == 2):
        sys.exit("sts_fetch_run with a window of 2: %r" % r)
    subprocess.run([sys.executable, os.path.join(src, "tests", "integration",
                    "compare_sts_fetch.py"), truth_file, os.environ["TESTBED_SERVERS"],
                    b.path("sts.jsonl")], check=True)
    if not all(isinstance(x, int) for x in (r["done"], r["done_ms"])) or r["rate"] == "n/a":
        sys.exit("figures: %r" % r)
    print("ok: %d policy fetches, at most %d at once, agree with the truth" % (r["hosts"],
                                                                              r["peak"]))
    # Cancelled from a callback with most hosts not started yet: those end
    # as cancelled too, one line per host.
    out = subprocess.run([b.stsfetch, "--ca-file", os.environ["MXCRAWL_CA_FILE"],
                          "--timeout-ms", "3000", "--max-inflight", "2", "--cancel-after", "3"],
                         stdin=open(hosts), stdout=subprocess.PIPE, check=True).stdout
    lines = [json.loads(l) for l in out.decode().splitlines()]
    cancelled = sum(1 for x in lines if x["outcome"] == "cancelled")
    if len(lines) != r["hosts"] or cancelled < r["hosts"] - 4:
        sys.exit("cancel with a window: %d lines, %d cancelled, %d hosts" % (
            len(lines), cancelled, r["hosts"]))
    print("ok: cancel after 3 with a window of 2: %d of %d cancelled" % (cancelled, len(lines)))
    # The sample: population domains when there are any, as many as
    # asked, drawn the same way twice.
    s1, s2 = bench.peer_sample(b, 3), bench.peer_sample(b, 3)
    assert len(s1) == 3 and s1 == s2, (s1, s2)
    # No relay in this testbed: the bench says so instead of waiting.
    assert not bench.relay_running(b)
    try:
        bench.relay_delay(b, False)
        sys.exit("relay_delay without a relay did not fail")
    except bench.BenchError as e:
        print("ok: relay_delay without a relay fails: %s" % e)
finally:
    shutil.rmtree(b.work, ignore_errors=True)
EOF
echo PASS
