#!/usr/bin/python3
"""Compare the SMTP/STARTTLS facts of mxcrawl's endpoint probe (smtpprobe
JSON lines) with the testbed's truth file (from the scenario definitions).

usage: compare_smtp.py TRUTH.jsonl PROBES.jsonl
       compare_smtp.py --args TRUTH.jsonl   (prints "ADDR SNI ..." to probe)
"""
import json
import sys


def endpoints(truth):
    """(scenario, mx host, endpoint truth) for every contactable IPv4/IPv6
    endpoint of every kept MX host."""
    for t in truth:
        for h in t["mx"]:
            for ep in h.get("endpoints", []):
                if ep.get("contact"):
                    yield t["scenario"], h["host"], ep


def main():
    if sys.argv[1] == "--args":
        truth = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
        print(" ".join("%s %s" % (ep["ip"], host) for _, host, ep in endpoints(truth)))
        return 0
    truth = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    got = {}
    for l in open(sys.argv[2]):
        r = json.loads(l)
        got[(r["ip"], r["sni"])] = r
    errors, n = [], 0

    def eq(where, field, a, b):
        if a == b or (isinstance(b, str) and "|" in b and a in b.split("|")):
            return
        errors.append("%s: %s: crawler=%r truth=%r" % (where, field, a, b))

    for scenario, host, ep in endpoints(truth):
        where = "%s %s %s" % (scenario, host, ep["ip"])
        r = got.get((ep["ip"], host))
        if r is None:
            errors.append("%s: not probed" % where)
            continue
        s = ep["smtp"]
        n += 1
        eq(where, "outcome", r["outcome"], s["outcome"])
        eq(where, "banner_code", r["banner_code"] or None, s.get("banner_code"))
        eq(where, "starttls_offered", r["starttls_offered"], s.get("starttls_offered"))
        if s.get("starttls_code") is not None:
            eq(where, "starttls_code", r["starttls_code"], s["starttls_code"])
        eq(where, "stripping", r["stripping"], s.get("stripping"))
        for f in ("injection", "overlong_line", "bare_lf", "ehlo_code"):
            if f in s:
                eq(where, f, r.get(f), s[f])
        tls = s.get("tls")
        if tls and tls.get("outcome") == "ok":
            eq(where, "tls.version", (r["tls"] or {}).get("version"), tls["version"])
        elif tls:
            eq(where, "tls handshake", r["tls"], None)
        if ep.get("cert"):
            eq(where, "chain_len", (r["tls"] or {}).get("chain_len"), ep["cert"]["chain_len"])
    for e in errors:
        print(e)
    print("compared %d endpoints: %d disagreements" % (n, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
