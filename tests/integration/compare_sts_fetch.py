#!/usr/bin/python3
"""Compare mxcrawl's MTA-STS policy fetch (the stsfetch tool's JSON lines)
with the testbed's truth file and its servers.json (both generated from the
scenario definitions by tests/testbed/build.py, never from a tool's output).

usage: compare_sts_fetch.py --args TRUTH.jsonl
           prints "mta-sts.<domain> ADDR[,ADDR]" for every domain whose
           MTA-STS host has addresses and none of them is refused
       compare_sts_fetch.py TRUTH.jsonl SERVERS.json FETCHES.jsonl

Which domains are compared (the rule):
  build.py's sts_truth() sets mta_sts.fetch only when the _mta-sts TXT is
  valid (a sender fetches nothing otherwise); with no, several or an
  invalid TXT record it is null, and `dns_error` / `refused_address` are
  decided before any HTTPS connection (no address; a refused address).
  So every fetchable host is fetched (that exercises concurrency), but
  only domains whose truth fetch is one of the HTTPS outcomes are
  compared; for the others the fetch must merely have ended with some
  outcome. For an `ok` the body must be byte for byte the policy text the
  server was given (servers.json `body`); for refusals the recorded
  evidence must match what the server sent (Location, status,
  Content-Type, Content-Encoding) and no body may be handed out.
"""
import json
import sys

# Outcomes the fetch itself decides (README.md "Truth file", mta_sts.fetch).
HTTPS_OUTCOMES = {"ok", "http_redirect", "http_status", "media_type", "too_large",
                  "timeout", "content_encoding", "webpki_invalid", "tls_error"}


def fetchable(truth):
    for t in truth:
        m = t.get("mta_sts") or {}
        addrs = m.get("host_addresses") or []
        if m.get("host") and addrs and not m.get("host_refused"):
            yield t, m


def main():
    if sys.argv[1] == "--args":
        # One line at a time: at a million domains the truth is 2.3 GB,
        # ~13 GiB as Python objects (scripts/bench --smtp reads the hosts).
        truth = (json.loads(l) for l in open(sys.argv[2]) if l.strip())
        for _, m in fetchable(truth):
            print("%s %s" % (m["host"], ",".join(m["host_addresses"])))
        return 0
    truth = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    servers = json.load(open(sys.argv[2]))
    https = {e["addr"]: e for e in servers.get("https", [])}
    got = {}
    for l in open(sys.argv[3]):
        r = json.loads(l)
        if r["host"] in got:
            print("%s: two results" % r["host"])
            return 1
        got[r["host"]] = r
    errors, n, fetched = [], 0, 0

    def eq(where, field, a, b):
        if a == b or (isinstance(b, str) and "|" in b and a in b.split("|")):
            return
        errors.append("%s: %s: crawler=%r truth=%r" % (where, field, a, b))

    for t, m in fetchable(truth):
        where = "%s (%s)" % (t["domain"], t["scenario"])
        r = got.get(m["host"])
        if r is None:
            errors.append("%s: not fetched" % where)
            continue
        fetched += 1
        if r["outcome"] == "cancelled":
            errors.append("%s: cancelled" % where)
        if r["addr"] is not None and r["addr"] not in m["host_addresses"]:
            errors.append("%s: connected to %s, not one of %s"
                          % (where, r["addr"], m["host_addresses"]))
        want = m.get("fetch")
        if want not in HTTPS_OUTCOMES:
            continue
        n += 1
        eq(where, "outcome", r["outcome"], want)
        e = https.get(m["host_addresses"][0], {})
        if want == "ok":
            eq(where, "status", r["status"], 200)
            if "body" in e:
                eq(where, "body", r["body"], e["body"])
            eq(where, "body_len", r["body_len"], len(r["body"] or ""))
            if r["tls_version"] is None or r["chain_len"] < 1:
                errors.append("%s: no TLS version or chain recorded" % where)
        else:
            eq(where, "body", r["body"], None)
        if want == "http_redirect":
            eq(where, "status", r["status"], e.get("status"))
            eq(where, "location", r["location"], e.get("location"))
        if want == "http_status":
            eq(where, "status", r["status"], e.get("status"))
        if want == "media_type":
            eq(where, "content_type", r["content_type"], e.get("content_type"))
        if want == "content_encoding":
            eq(where, "content_encoding", r["content_encoding"],
               e.get("content_encoding"))
        if want == "webpki_invalid":
            if not r["verify_error"] or r["chain_len"] < 1:
                errors.append("%s: webpki_invalid without verify error or chain"
                              % where)
    extra = set(got) - {m["host"] for _, m in fetchable(truth)}
    for h in sorted(extra):
        errors.append("%s: fetched but not in the truth's list" % h)
    for e in errors:
        print(e)
    print("fetched %d hosts, compared %d with the truth: %d disagreements"
          % (fetched, n, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
