#!/usr/bin/python3
"""Compares crawler/verify/verify.c (through the verifychain driver) with the
testbed's truth, for every endpoint the truth gives a certificate verdict
and every MX host with TLSA records.

    compare_verify.py VERIFYCHAIN TESTBED_DIR [--report FILE]

TESTBED_DIR is the output of `tests/testbed/up DIR --generate-only`: the
chains come from servers.json (the files the servers would present; the
private Postfix's from pki.py's cache, same spec, same files) and the
expected verdicts from truth.jsonl. Nothing is contacted.

Checked per endpoint (`endpoints[].cert`): trusted (strict sender,
security level 2), valid_ignoring_strength (lax sender), errors (same
names in the same order), missing_intermediate, name_matches_mx,
name_matches_domain (DNS SANs only, never the CN), cn_only, weak (as a
set), chain_len, chain_truncated, out_of_order, leaf_san_count.

Checked per MX host with TLSA records (`mx[].dane`): verify_dane() on each
contacted endpoint's chain (an empty chain where STARTTLS did not happen),
then verify_dane_decide() with the DNS and SMTP facts the truth states
(secure path, bogus TLSA, STARTTLS done), through --dane-facts. Hosts
without TLSA records are `dane_none` / `dane_not_applicable` by DNS facts
alone; they are decided the same way with an empty record set.

Disagreements are failures unless listed in EXCEPTIONS with the RFC
reason; there are none at present.
"""

import concurrent.futures
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "testbed"))
from pki import Pki  # noqa: E402

# (scenario, field) -> reason. Empty: verify.c agrees with the truth.
EXCEPTIONS = {}

CERT_FIELDS = ("trusted", "valid_ignoring_strength", "errors",
               "missing_intermediate", "name_matches_mx",
               "name_matches_domain", "cn_only", "weak", "chain_len",
               "chain_truncated", "out_of_order", "leaf_san_count")


def run(tool, args):
    """verifychain's JSON object. Exit 1 only says a judgement could not
    be made (the rc says which); anything else, or any sanitizer report
    on stderr, is a failure of the tool itself."""
    p = subprocess.run([tool] + args, capture_output=True, text=True,
                       timeout=120)
    if (p.returncode not in (0, 1) or not p.stdout.strip() or
            "Sanitizer" in p.stderr or "runtime error" in p.stderr):
        raise RuntimeError("%s %s: exit %d: %s" % (tool, " ".join(args),
                                                   p.returncode, p.stderr))
    return json.loads(p.stdout)


def host_jobs(h, dom, ca, chains, bad, scen):
    """verifychain arguments for one MX host: one per endpoint with a
    certificate verdict, or (no TLS session anywhere) one with an empty
    chain, where the records and the DNS facts decide alone."""
    host = h["host"]
    tl = h.get("tlsa") or {}
    base = tl.get("name", "")
    base = base[len("_25._tcp."):] if base.startswith("_25._tcp.") else host
    contacted = [e for e in h["endpoints"] if e.get("contact")]
    starttls_ok = bool(contacted) and all(
        e["smtp"]["outcome"] == "starttls_ok" for e in contacted)
    secure_path = bool(tl.get("looked_up")) and (
        h["address_outcome"] == "ok" or bool(contacted))
    facts = [f for f, on in (("secure_path", secure_path),
                             ("tlsa_bogus", tl.get("dnssec") == "bogus"),
                             ("starttls_ok", starttls_ok)) if on]
    dane = []
    for r in tl.get("records") or []:
        dane += ["--tlsa", r]
    if base != host:
        dane += ["--tlsa-name", base]
    dane += ["--dane-facts", ",".join(facts) or "none"]
    eps = []
    for ep in h["endpoints"]:
        if ep.get("cert") is None:
            continue
        chain = chains.get((ep["ip"], ep["port"]))
        if chain is None:
            bad.append((scen, host, "chain", "no chain file for %s" % ep["ip"]))
            continue
        eps.append((ep, ("--ca-file", ca, "--mx-host", host, "--domain", dom,
                         *dane, chain)))
    if not eps:
        eps.append((None, ("--ca-file", ca, "--mx-host", host, *dane,
                           "/dev/null")))
    return eps


def main():
    tool, tb = sys.argv[1], sys.argv[2]
    report = None
    if len(sys.argv) > 4 and sys.argv[3] == "--report":
        report = sys.argv[4]
    pki = Pki(os.path.join(tb, "pki"))
    servers = json.load(open(os.path.join(tb, "servers.json")))
    chains = {(e["addr"], e.get("port", 25)): e["tls"]["chain_file"]
              for e in servers["smtp"] if e.get("tls")}
    pf = servers.get("postfix")
    if pf:
        spec = dict(pf["cert"])
        leaf = pki.leaf(spec.pop("key_name", pf["host"]), spec)
        chains[(pf["addr"], 25)] = leaf.chain_file

    rows, bad, hosts = [], [], []
    for line in open(os.path.join(tb, "truth.jsonl")):
        t = json.loads(line)
        for h in t["mx"]:
            hosts.append((t["scenario"], h,
                          host_jobs(h, t["domain"], pki.ca_file, chains, bad,
                                    t["scenario"])))

    jobs = sorted({args for _, _, eps in hosts for _, args in eps})
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        results = dict(zip(jobs, ex.map(lambda a: run(tool, list(a)), jobs)))

    ncert = 0
    for scen, h, eps in hosts:
        host = h["host"]
        decided = []
        for ep, args in eps:
            got = results[args]
            decided.append(got["dane_decided"])
            if ep is None:
                continue
            ncert += 1
            want = ep["cert"]
            if got.get("rc") != "ok":
                bad.append((scen, host, "rc", got.get("rc")))
            for f in CERT_FIELDS:
                g, w = got.get(f), want.get(f)
                if f == "weak":
                    g, w = sorted(g), sorted(w)
                ok = g == w
                rows.append({"scenario": scen, "host": host, "ip": ep["ip"],
                             "field": f, "got": g, "want": w, "ok": ok})
                if not ok and (scen, f) not in EXCEPTIONS:
                    bad.append((scen, host, f, "got %r, want %r" % (g, w)))
        # The host is dane_ok only if every endpoint is; otherwise it
        # takes the first endpoint's outcome that is not.
        outcome = next((d for d in decided if d != "dane_ok"), decided[0])
        ok = outcome == h["dane"]
        rows.append({"scenario": scen, "host": host, "field": "dane",
                     "got": outcome, "want": h["dane"], "ok": ok})
        if not ok and (scen, "dane") not in EXCEPTIONS:
            bad.append((scen, host, "dane", "got %r, want %r" % (outcome, h["dane"])))

    if report:
        with open(report, "w") as f:
            json.dump(rows, f, indent=1)
    nok = sum(1 for r in rows if r["ok"])
    print("compare_verify: %d endpoint verdicts, %d DANE host outcomes, "
          "%d comparisons, %d agree, %d disagree (%d runs of verifychain)" %
          (ncert, len(hosts), len(rows), nok, len(rows) - nok, len(jobs)))
    for b in bad:
        print("DISAGREE %s %s %s: %s" % b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
