#!/usr/bin/python3
"""Hold the SRV discovery facts of a scan (M12: `client.<service>.srv` and
`targets[]`) against the truth file, which the testbed computes from its
scenario definitions (tests/testbed/README.md, truth field `client`).

usage: compare_client_srv.py [--validating yes|no] TRUTH.jsonl EXPORT.jsonl

EXPORT.jsonl: `mxcrawl export --format jsonl`, whose `client` object is
read from the stored rows (schema/028 export_client). Compared per domain
and service: srv.name, rcode, dnssec, offered, records (priority, weight,
port, target, in order); per target (records with a host, in order):
host, port, a/aaaa (dnssec, addresses), address_outcome, tlsa (looked_up;
name, dnssec and records when looked up). Probe and certificate facts are
not compared (no client endpoint is contacted yet). A truth string with
'|' lists acceptable values. Exits 1 with the differences, and when the
truth has no domain advertising a service (the comparison would prove
nothing).
"""
import json
import sys

SERVICES = ("submissions", "submission", "imaps", "imap", "pop3s", "pop3")


def alternatives(v):
    if isinstance(v, str) and "|" in v:
        return v.split("|")
    return [v]


class Compare:
    def __init__(self, validating):
        self.validating = validating
        self.errors = []
        self.facts = 0

    def eq(self, where, field, got, want):
        self.facts += 1
        if got not in alternatives(want):
            self.errors.append("%s: %s: crawler=%r truth=%r" % (where, field, got, want))

    def dnssec(self, where, field, got, want):
        if not self.validating and want is not None:
            want = "unknown"
        self.eq(where, field, got, want)

    def service(self, where, t, e):
        ts, es = t["srv"], (e or {}).get("srv") or {}
        self.eq(where, "srv.name", es.get("name"), ts["name"])
        # No answer at all: the outcome (timeout) stands for the rcode.
        self.eq(where, "srv.rcode", es.get("rcode") or es.get("outcome"), ts["rcode"])
        self.dnssec(where, "srv.dnssec", es.get("dnssec"), ts["dnssec"])
        self.eq(where, "srv.offered", es.get("offered"), ts["offered"])
        # The truth lists every record; the crawler keeps the first 16.
        self.eq(where, "srv.record_count", es.get("record_count"), len(ts["records"]))
        want = [(r["priority"], r["weight"], r["port"], r["target"].rstrip(".").lower() or ".")
                for r in ts["records"][:16]]
        got = [(r["priority"], r["weight"], r["port"], r["target"])
               for r in es.get("records") or []]
        self.eq(where, "srv.records", got, want)
        tt, et = t["targets"], (e or {}).get("targets") or []
        self.eq(where, "targets (count)", len(et), len(tt))
        for i, (x, y) in enumerate(zip(tt, et)):
            self.target("%s.targets[%d]" % (where, i), x, y)

    def target(self, where, t, e):
        self.eq(where, "host", e.get("host"), t["host"].rstrip(".").lower())
        self.eq(where, "port", e.get("port"), t["port"])
        self.eq(where, "address_outcome", e.get("address_outcome"), t["address_outcome"])
        for f in ("cname", "addresses_partial"):
            if f in t:
                self.eq(where, f, e.get(f), t[f])
        for fam in ("a", "aaaa"):
            if t[fam]["dnssec"] is not None:
                self.dnssec(where, fam + ".dnssec", e[fam]["dnssec"], t[fam]["dnssec"])
            if t["address_outcome"] != "dns_error":
                self.eq(where, fam + ".addresses", sorted(e[fam]["addresses"]),
                        sorted(t[fam]["addresses"]))
        # Refused addresses: those the truth's endpoints mark refused.
        if t.get("endpoints") and t["address_outcome"] != "dns_error":
            want = sorted(ep["ip"] for ep in t["endpoints"] if ep["refused"])
            got = sorted(a["ip"] for a in e.get("addresses", []) if a["verdict"] != "ok")
            self.eq(where, "refused addresses", got, want)
        tt, et = t.get("tlsa"), e.get("tlsa") or {}
        if tt is None:
            return
        looked_up = tt["looked_up"] and self.validating
        self.eq(where, "tlsa.looked_up", et.get("looked_up"), looked_up)
        if looked_up:
            self.eq(where, "tlsa.name", et.get("name"), tt["name"])
            self.dnssec(where, "tlsa.dnssec", et.get("dnssec"), tt["dnssec"])
            if tt["dnssec"] != "bogus":
                self.eq(where, "tlsa.records", sorted(et.get("records") or []),
                        sorted(r.lower() for r in tt["records"]))


def main():
    args = sys.argv[1:]
    validating = True
    if "--validating" in args:
        i = args.index("--validating")
        validating = args[i + 1] == "yes"
        del args[i:i + 2]
    truth_path, export_path = args
    truth = [json.loads(l) for l in open(truth_path) if l.strip()]
    export = {}
    for l in open(export_path):
        d = json.loads(l)
        export[d["domain"]] = d
    c = Compare(validating)
    missing, offered, targets = [], 0, 0
    for t in truth:
        d = t["domain"]
        if "client" not in t:
            c.errors.append("%s: the truth has no client field" % d)
            continue
        if d not in export:
            missing.append(d)
            continue
        e = export[d].get("client")
        if t["mx_outcome"] in ("blocklisted", "not_recorded"):
            # Not asked: nothing of the domain but its domain_dns row.
            c.eq(d, "client (not asked)", e, None)
            continue
        if e is None:
            c.errors.append("%s: no client facts stored" % d)
            continue
        c.eq(d, "services", sorted(e), sorted(SERVICES))
        for svc in SERVICES:
            ts = t["client"][svc]
            offered += ts["srv"]["offered"] is True
            targets += len(ts["targets"])
            c.service("%s %s" % (d, svc), ts, e.get(svc))
    for x in c.errors:
        print(x)
    for m in missing:
        print("%s: no result" % m)
    print("compared %d domains, %d facts (%d services offered, %d targets): "
          "%d disagreements, %d missing" % (len(truth), c.facts, offered, targets,
                                            len(c.errors), len(missing)))
    if offered == 0 or targets == 0:
        print("the truth advertises no client service: nothing was compared")
        return 1
    return 1 if c.errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
