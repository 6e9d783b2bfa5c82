#!/usr/bin/python3
"""Compare the DNS facts of `mxcrawl export --format jsonl` with the
testbed's truth file. Ground truth comes from the scenario definitions
(truth.jsonl); this script never derives expectations from the crawler.

usage: compare_dns.py TRUTH.jsonl EXPORT.jsonl [--validating yes|no]
                      [--no-ede] [--delv TESTBED_DIR] [--smtp]

With --no-ede the scan used a resolver that sends no Extended DNS Errors:
the truth's EDE codes are not expected (and none may appear).

With --smtp, the SMTP/TLS stage is compared too: per MX host the DANE
outcome, and per contacted endpoint the SMTP facts and the certificate
judgement.

With --smtp, MTA-STS and TLS-RPT are compared as well (the policy fetch
runs with the SMTP stage): the TXT verdicts, the fetch outcome, the parsed
policy, the per-MX pattern match and whether an enforcing sender would
deliver, with its RFC 8460 failure types.

With --delv, the MX RRset's DNSSEC status of every domain is also checked
against delv's own validation from the testbed's root key (an independent
validator, not the resolver the crawler used).

Prints every disagreement as DOMAIN: FIELD: crawler=X truth=Y and exits 1
if there is any; prints the number of domains and facts compared.
"""
import json
import sys


# The truth's tls.outcome for a failed handshake, and the kind the
# crawler records first in its reason.
TLS_FAILURE = {"alert": "tls_alert", "eof": "eof", "reset": "reset",
               "timeout": "timeout"}


def alternatives(v):
    """A truth string with '|' lists acceptable values."""
    if isinstance(v, str) and "|" in v:
        return v.split("|")
    return [v]


class Compare:
    def __init__(self, validating, smtp=False, ede=True):
        self.validating = validating
        self.expect_ede = ede
        self.smtp = smtp
        self.errors = []
        self.facts = 0

    def eq(self, domain, field, got, want):
        self.facts += 1
        if got in alternatives(want):
            return
        self.errors.append("%s: %s: crawler=%r truth=%r" % (domain, field, got, want))

    def dnssec(self, domain, field, got, want):
        # A non-validating resolver makes every status 'unknown', never
        # 'insecure' (canaries).
        if not self.validating and want is not None:
            want = "unknown"
        self.eq(domain, field, got, want)

    def ede(self, domain, field, got, want):
        self.facts += 1
        if want is None:
            return  # truth does not pin an EDE
        lo, hi = (int(x) for x in want.split("-"))
        if not any(lo <= c <= hi for c in got):
            self.errors.append("%s: %s: crawler=%r truth=%s" % (domain, field, got, want))

    def domain(self, t, e):
        d = t["domain"]
        for f in ("mx_outcome", "implicit_mx", "null_mx", "mx_count", "mx_truncated"):
            self.eq(d, f, e.get(f), t.get(f))
        self.eq(d, "apex_cname", e.get("apex_cname"), t.get("apex_cname"))
        if "large_answer" in t:
            self.eq(d, "large_answer", e.get("large_answer"), t["large_answer"])
        tm, em = t["dns"]["mx"], e["dns"]["mx"]
        rcode = em.get("rcode") or em.get("outcome")
        self.eq(d, "dns.mx.rcode", rcode, tm["rcode"])
        self.dnssec(d, "dns.mx.dnssec", em.get("dnssec"), tm["dnssec"])
        if self.validating and tm["dnssec"] == "bogus" and self.expect_ede:
            self.ede(d, "dns.mx.ede", em.get("ede") or [], tm.get("ede"))
        if not self.expect_ede:
            self.eq(d, "dns.mx.ede", em.get("ede") or [], [])

        th, eh = t.get("mx", []), e.get("mx", [])
        self.eq(d, "mx hosts", [h["host"] for h in eh], [h["host"] for h in th])
        for i, (a, b) in enumerate(zip(th, eh)):
            self.host(d + " mx[%d] %s" % (i, a["host"]), a, b)

        for key in ("mta_sts", "tlsrpt"):
            if "txt_records" in t.get(key, {}):
                self.eq(d, key + ".txt_records",
                        sorted(e.get(key, {}).get("txt_records", [])),
                        sorted(t[key]["txt_records"]))
        if self.smtp:
            self.sts(d, t["mta_sts"], e.get("mta_sts", {}))
            self.tlsrpt(d, t["tlsrpt"], e.get("tlsrpt", {}))

    def sts(self, d, t, e):
        self.eq(d, "mta_sts.txt", e.get("txt"), t["txt"])
        if t["txt"] in ("valid", "invalid") and t.get("id") is not None:
            self.eq(d, "mta_sts.id", e.get("id"), t["id"])
        if t.get("txt_cname"):
            self.eq(d, "mta_sts.txt_cname", (e.get("txt_cname_chain") or [None])[0],
                    t["txt_cname"])
        self.eq(d, "mta_sts.fetch", e.get("fetch"), t["fetch"])
        if t["fetch"] is None:
            return
        if t.get("host_addresses"):
            self.eq(d, "mta_sts.host_addresses", sorted(e.get("host_addresses") or []),
                    sorted(t["host_addresses"]))
        self.eq(d, "mta_sts.policy", e.get("policy"), t["policy"])
        if "policy_error" in t:
            self.eq(d, "mta_sts.policy_error", e.get("policy_error"), t["policy_error"])
        if t["fetch"] != "ok":
            return
        for f in ("mode", "max_age", "mx_patterns"):
            self.eq(d, "mta_sts." + f, e.get(f), t[f])
        for f in ("max_age_text", "max_age_valid"):
            if f in t:
                self.eq(d, "mta_sts." + f, e.get(f), t[f])
        if t.get("eol") is not None:
            self.eq(d, "mta_sts.eol", e.get("eol"), t["eol"])
        if "unknown_keys" in t:
            self.eq(d, "mta_sts.unknown_keys", e.get("unknown_keys"), t["unknown_keys"])
        self.eq(d, "mta_sts.mx_match", e.get("mx_match") or {}, t["mx_match"])
        self.eq(d, "mta_sts.enforce_would_work", e.get("enforce_would_work"),
                t["enforce_would_work"])
        self.eq(d, "mta_sts.failures", e.get("failures") or [], t["failures"])

    def tlsrpt(self, d, t, e):
        self.eq(d, "tlsrpt.status", e.get("status"), t["status"])
        if "error" in t:
            self.eq(d, "tlsrpt.error", e.get("error"), t["error"])
        if t["status"] in ("valid", "invalid") and t.get("rua"):
            self.eq(d, "tlsrpt.rua", e.get("rua"), t["rua"])

    def endpoints(self, where, t, e):
        if self.validating:
            self.eq(where, "dane", e.get("dane"), t.get("dane"))
            self.eq(where, "dane_result_type", e.get("dane_result_type"),
                    t.get("dane_result_type"))
        got = {ep["ip"]: ep for ep in e.get("endpoints", [])}
        want = [ep for ep in t.get("endpoints", []) if ep.get("contact")]
        self.eq(where, "contacted endpoints", sorted(got), sorted(ep["ip"] for ep in want))
        for te in want:
            ee = got.get(te["ip"])
            if not ee:
                continue
            w = where + " " + te["ip"]
            ts, es = te["smtp"], ee["smtp"]
            self.eq(w, "smtp.outcome", es["outcome"], ts["outcome"])
            self.eq(w, "smtp.banner_code", es.get("banner_code"), ts.get("banner_code"))
            self.eq(w, "smtp.starttls_offered", es.get("starttls_offered"),
                    ts.get("starttls_offered"))
            if ts.get("starttls_code") is not None:
                self.eq(w, "smtp.starttls_code", es.get("starttls_code"), ts["starttls_code"])
            self.eq(w, "smtp.stripping", es.get("stripping"), ts.get("stripping"))
            for f in ("injection", "overlong_line", "bare_lf", "ehlo_code"):
                if f in ts:
                    self.eq(w, "smtp." + f, es.get(f), ts[f])
            tt = ts.get("tls")
            if tt and tt.get("outcome") == "ok":
                self.eq(w, "tls.version", ee["tls"].get("version"), tt["version"])
                self.eq(w, "tls.legacy", ee["tls"].get("legacy"),
                        bool(tt.get("weak_version")))
            elif tt and tt.get("outcome") in TLS_FAILURE:
                # Alert, FIN or RST mid-handshake: the recorded reason
                # starts with its kind ("tls_alert: <OpenSSL's reason>").
                got = (ee["tls"].get("reason") or "").split(":")[0]
                self.eq(w, "tls.failure", got, TLS_FAILURE[tt["outcome"]])
            tc, ec = te.get("cert"), ee.get("cert")
            if tc is None:
                self.eq(w, "cert", ec, None)
                continue
            if ec is None:
                self.eq(w, "cert", None, "a judged chain")
                continue
            for f in ("trusted", "valid_ignoring_strength",
                      "missing_intermediate", "name_matches_mx",
                      "name_matches_domain", "cn_only", "chain_len",
                      "long_chain", "chain_truncated", "out_of_order",
                      "leaf_san_count"):
                self.eq(w, "cert." + f, ec.get(f), tc.get(f))
            self.eq(w, "cert.errors", ec.get("errors") or [], tc.get("errors") or [])
            self.eq(w, "cert.weak", sorted(ec.get("weak") or []), sorted(tc.get("weak") or []))

    def delv(self, testbed, truth, export):
        import os
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "testbed"))
        import selfcheck_dns
        # The testbed's checker writes delv's trust anchor from root.key.
        anchor = selfcheck_dns.Checker(testbed).anchor
        for t in truth:
            e = export.get(t["domain"])
            if not e:
                continue
            st, _ = selfcheck_dns.delv_status(anchor, t["domain"], "MX")
            self.eq(t["domain"], "dns.mx.dnssec vs delv", e["dns"]["mx"]["dnssec"],
                    st)

    def host(self, where, t, e):
        for f in ("preference", "kept", "ip_literal", "mx_cname", "cname"):
            self.eq(where, f, e.get(f), t.get(f))
        if not t.get("kept", True):
            return
        self.eq(where, "address_outcome", e.get("address_outcome"), t["address_outcome"])
        if "addresses_partial" in t:
            self.eq(where, "addresses_partial", e.get("addresses_partial"),
                    t["addresses_partial"])
        # An MX target that looks like an IP address is a name like any
        # other (RFC 5321 §5.1): its lookups are compared too.
        for fam in ("a", "aaaa"):
            if t[fam]["dnssec"] is not None:
                self.dnssec(where, fam + ".dnssec", e[fam]["dnssec"], t[fam]["dnssec"])
            if t["address_outcome"] != "dns_error":
                self.eq(where, fam + ".addresses", sorted(e[fam]["addresses"]),
                        sorted(t[fam]["addresses"]))
        # Refused addresses: every endpoint the truth marks refused must be
        # refused by the crawler's address policy, and only those.
        if t.get("endpoints") and t["address_outcome"] != "dns_error":
            want = sorted(ep["ip"] for ep in t["endpoints"] if ep["refused"])
            got = sorted(a["ip"] for a in e.get("addresses", []) if a["verdict"] != "ok")
            self.eq(where, "refused addresses", got, want)
        if self.smtp:
            self.endpoints(where, t, e)
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
    delv_dir = None
    if "--delv" in args:
        i = args.index("--delv")
        delv_dir = args[i + 1]
        del args[i:i + 2]
    smtp = "--smtp" in args
    if smtp:
        args.remove("--smtp")
    ede = "--no-ede" not in args
    if not ede:
        args.remove("--no-ede")
    truth_path, export_path = args
    truth = [json.loads(l) for l in open(truth_path) if l.strip()]
    export = {}
    for l in open(export_path):
        doc = json.loads(l)
        if doc["domain"] in export:
            print("duplicate result for %s" % doc["domain"])
            return 1
        export[doc["domain"]] = doc
    c = Compare(validating, smtp, ede)
    missing = [t["domain"] for t in truth if t["domain"] not in export]
    for t in truth:
        if t["domain"] in export:
            c.domain(t, export[t["domain"]])
    if delv_dir:
        c.delv(delv_dir, truth, export)
    extra = sorted(set(export) - {t["domain"] for t in truth})
    for e in c.errors:
        print(e)
    for m in missing:
        print("%s: no result" % m)
    for x in extra:
        print("%s: result for a domain the truth does not have" % x)
    print("compared %d domains, %d facts: %d disagreements, %d missing, %d extra"
          % (len(truth), c.facts, len(c.errors), len(missing), len(extra)))
    return 1 if c.errors or missing or extra else 0


if __name__ == "__main__":
    sys.exit(main())
