#!/usr/bin/python3
"""Compute every figure of `mxcrawl report` from the testbed's truth file
alone (no crawler code, no SQL) and compare numerators and denominators
with `report --format json`.

usage: metrics_from_truth.py [--client-mx] TRUTH.jsonl REPORT.json
       metrics_from_truth.py --compare OLD.jsonl NEW.jsonl REPORT.json
       metrics_from_truth.py --buckets RANKS.csv BOUNDS TRUTH.jsonl REPORT.json

With --client-mx, the campaign was scanned with --client-ports mx: the
figures of the client ports on the MX hosts (analysis/098-099) are
computed from the truth's `client_mx`; without it they must have no row.

With --buckets, REPORT.json is the report of a scan of the Tranco-format
list RANKS.csv ("rank,domain" lines) with `--rank-buckets BOUNDS`: each
bucket's rows must be the headline figures' domain rows computed from
the truth of the domains with rank <= its bound only (and every bound
must have its bucket, holding that many domains).

With --compare, REPORT.json is `report --campaign NEW --compare OLD
--format json` of two scans of the same targets (tests/testbed `up
--epoch 1` and `--epoch 2`): every row's own numbers are checked against
NEW's truth, its "compare" numbers against OLD's, and its delta against
the two percents the truths give. The figures that follow domains from
OLD into NEW (section 'change', "across": true) are computed from both
truths together (metrics_sts.change_figures) and must match row for row.

The definitions follow analysis/README.md and the comments in analysis/*.sql, but
are written again here over the truth's fields. Where the truth allows
alternatives ("SERVFAIL|timeout", EDE "6-12") a unit may count under any
of them: a row's numerator must then lie between the units that can only
be that label and the units that may be it. Figures the truth has no fact
for are listed in UNCHECKED with the reason; a figure in the report that
is neither computed nor listed, or computed and missing from the report,
fails.
"""
import collections
import ipaddress
import json
import sys

import metrics_sts  # the ladder, MTA-STS and TLS-RPT figures

# Figures the truth file cannot give: it has no cipher, group, issuer or
# validity dates of the certificates the servers present.
UNCHECKED = {
    "tls_cipher": "the truth has no negotiated cipher",
    "tls_group": "the truth has no negotiated key exchange group",
    "cert_issuer": "the truth has no certificate issuer",
    "cert_validity_days": "the truth has no certificate validity dates",
    "cert_days_to_expiry": "the truth has no certificate validity dates",
}

# Address classes of the crawler's address policy, from the IANA
# special-purpose registries (RFC 6890 and successors); first match wins.
ADDRESS_CLASSES = [
    ("unspecified", ["0.0.0.0/8", "::/128"]),
    ("loopback", ["127.0.0.0/8", "::1/128"]),
    ("private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]),
    ("cgnat", ["100.64.0.0/10"]),
    ("link_local", ["169.254.0.0/16", "fe80::/10"]),
    ("multicast", ["224.0.0.0/4", "ff00::/8"]),
    ("broadcast", ["255.255.255.255/32"]),
    ("documentation", ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                       "2001:db8::/32"]),
    ("benchmark", ["198.18.0.0/15"]),
    ("reserved", ["240.0.0.0/4", "192.0.0.0/24"]),
]


def address_class(ip):
    a = ipaddress.ip_address(ip)
    for name, nets in ADDRESS_CLASSES:
        if any(a.version == ipaddress.ip_network(n).version and
               a in ipaddress.ip_network(n) for n in nets):
            return name
    return "public"


def alternatives(v):
    return set(v.split("|")) if isinstance(v, str) else {v}


class Figures:
    """Expected rows: (figure, scope, label) -> [min, max], and
    (figure, scope) -> denominator."""

    def __init__(self):
        self.rows = collections.defaultdict(lambda: [0, 0])
        self.den = {}
        self.figures = set()

    def share(self, fig, scope, label, num, den):
        self.figures.add(fig)
        self.rows[(fig, scope, label)] = [num, num]
        self.den[(fig, scope)] = den

    def units(self, fig, scope, options, den=None):
        """options: one set of acceptable labels per unit (a unit counts
        under exactly one of them, or under each when 'each' is set)."""
        self.figures.add(fig)
        self.den[(fig, scope)] = len(options) if den is None else den
        for opts in options:
            for label in opts:
                r = self.rows[(fig, scope, label)]
                r[1] += 1
                if len(opts) == 1:
                    r[0] += 1

    def causes(self, fig, scope, unit_causes, den):
        """unit_causes: one set of causes per unit; a unit counts under
        every cause it has."""
        self.figures.add(fig)
        self.den[(fig, scope)] = den
        for cs in unit_causes:
            for c in cs:
                r = self.rows[(fig, scope, c)]
                r[0] += 1
                r[1] += 1


def endpoint_facts(host, ep):
    s = ep.get("smtp") or {}
    tls = s.get("tls") or {}
    cert = ep.get("cert")
    version = tls.get("version") if tls.get("outcome") == "ok" else None
    return {
        "key": (ep["ip"], ep.get("port", 25), host),
        "host": host,
        "reached": bool(s) and s.get("outcome") != "connect_failed",
        "banner_220": s.get("banner_code") == 220,
        # None: no EHLO answer showed it ("not reached", analysis 020).
        "starttls": s.get("starttls_offered") is True,
        "starttls_seen": s.get("starttls_offered") is not None,
        "starttls_220": s.get("starttls_code") == 220,
        "tls_outcome": tls.get("outcome"),
        "tls_ok": version is not None,
        "version": version,
        # What a strict sender (TLS 1.2 or later) can complete; a legacy
        # TLS 1.0/1.1 handshake only works for the lax one.
        "ge12": version in ("TLSv1.2", "TLSv1.3"),
        "stripping": s.get("stripping"),
        "cert": cert,
        "has_chain": cert is not None,
        # The strict sender's certificate checks: the truth's "trusted"
        # is the verdict at OpenSSL security level 2 (weak keys and
        # digests refused; "valid_ignoring_strength" is the lax one), and
        # names come from DNS SANs only (never the CN, RFC 9525 §6.3).
        "cert_valid": bool(cert and cert["trusted"] and not cert.get("weak")
                           and cert["name_matches_mx"] and not cert["cn_only"]),
        # The lax sender's (security level 0): strength ignored.
        "cert_valid_lax": bool(cert and cert["valid_ignoring_strength"]
                               and cert["name_matches_mx"] and not cert["cn_only"]),
        "name_matches_domain": bool(cert and cert.get("name_matches_domain")),
    }


def cert_causes(e):
    c = e["cert"]
    causes = set(c.get("errors") or [])
    if not c["name_matches_mx"]:
        causes.add("name_mismatch")
    if c["cn_only"]:
        causes.add("cn_only")
    causes |= set(c.get("weak") or [])
    return causes


TLS_FAILURE = {"alert": "tls_alert", "eof": "eof", "reset": "reset"}
DANE_ORDER = ["dane_ok", "dane_partial", "dane_no_match", "dane_tlsa_bogus",
              "dane_no_starttls", "dane_unusable_only", "dane_not_applicable",
              "dane_none"]


def domain_dane(outcomes):
    for bad in ("dane_tlsa_bogus", "dane_no_match", "dane_no_starttls"):
        if bad in outcomes:
            return bad
    if all(o == "dane_ok" for o in outcomes):
        return "dane_ok"
    if "dane_ok" in outcomes:
        return "dane_partial"
    for o in ("dane_unusable_only", "dane_not_applicable"):
        if o in outcomes:
            return o
    return "dane_none"


def compute(truth, client_mx=False):
    """client_mx: the campaign was scanned with --client-ports mx (the
    figures of analysis/098-099 have rows); otherwise they must have
    none."""
    F = Figures()
    n = len(truth)
    mail = [t for t in truth if t["mx_outcome"] in ("mx", "implicit_mx")]
    exists = [t for t in truth
              if t["mx_outcome"] not in ("no_domain", "dns_error", "not_recorded")]
    not_recorded = [t for t in truth if t["mx_outcome"] == "not_recorded"]

    # Contactable endpoints per domain, and every distinct endpoint.
    uses, endpoints, hosts = {}, {}, collections.defaultdict(list)
    for t in truth:
        u = []
        for h in t["mx"]:
            if not h["kept"]:
                continue
            for ep in h.get("endpoints", []):
                if ep["refused"]:
                    continue
                e = endpoint_facts(h["host"].lower(), ep)
                u.append(e)
                endpoints[e["key"]] = e
        if u:
            uses[t["domain"]] = u
    for e in endpoints.values():
        hosts[e["host"]].append(e)

    # Funnel.
    F.share("funnel", "domain", "targets", n, n)
    F.share("funnel", "domain", "scanned", n, n)
    F.share("funnel", "domain", "domain exists", len(exists), n)
    F.share("funnel", "domain", "has a mail route (MX or implicit MX)", len(mail), n)
    F.share("funnel", "domain", "at least one contactable endpoint", len(uses), n)
    F.share("funnel", "domain", "reached over TCP",
            sum(any(e["reached"] for e in u) for u in uses.values()), n)
    F.share("funnel", "domain", "banner 220",
            sum(any(e["banner_220"] for e in u) for u in uses.values()), n)
    F.share("funnel", "domain", "not recorded (crawler limit or out of memory)",
            len(not_recorded), n)

    routes = []
    for t in exists:
        label = t["mx_outcome"]
        if label in ("mx", "implicit_mx") and not any(
                h["kept"] and h["address_outcome"] in ("ok", "refused_address")
                for h in t["mx"]):
            label = "no_mail_host"
        routes.append({label})
    F.units("mail_route", "domain", routes)

    addrs = {}
    for t in truth:
        for h in t["mx"]:
            if h["kept"]:
                for ep in h.get("endpoints", []):
                    addrs[ep["ip"]] = ep["refused"]
    F.units("refused_address", "address",
            [{"reserved: " + address_class(ip)} for ip, r in addrs.items() if r],
            den=len(addrs))

    errs = [t for t in truth if t["mx_outcome"] == "dns_error"]
    F.units("dns_error", "domain", [alternatives(t["dns"]["mx"]["rcode"]) for t in errs],
            den=n - len(not_recorded))
    ede = []
    for t in errs:
        e = t["dns"]["mx"].get("ede")
        if e is None:
            ede.append({"no EDE"})
        else:
            lo, hi = (int(x) for x in e.split("-"))
            ede.append({"EDE %d" % c for c in range(lo, hi + 1)})
    F.units("dns_error_ede", "domain", ede)

    # Transport.
    def every_some_none(es, key):
        if all(e[key] for e in es):
            return "every"
        if any(e[key] for e in es):
            return "some"
        return "none" if any(e[key + "_seen"] for e in es) else "not reached"

    F.units("starttls", "domain", [{every_some_none(u, "starttls")} for u in uses.values()])
    F.units("starttls", "mx_host", [{every_some_none(es, "starttls")} for es in hosts.values()])
    F.units("starttls", "endpoint",
            [{"offered" if e["starttls"] else
              "not offered" if e["starttls_seen"] else "not reached"}
             for e in endpoints.values()])

    F.units("tls_handshake", "endpoint",
            [{"ok" if e["tls_ok"] else TLS_FAILURE.get(e["tls_outcome"], str(e["tls_outcome"]))}
             for e in endpoints.values() if e["starttls_220"]])
    tls = [e for e in endpoints.values() if e["tls_ok"]]
    F.units("tls_version", "endpoint", [{e["version"]} for e in tls])
    F.share("tls_below_1_2", "endpoint", "below TLS 1.2",
            sum(not e["ge12"] for e in tls), len(tls))
    dtls = [[e for e in u if e["tls_ok"]] for u in uses.values()]
    dtls = [u for u in dtls if u]
    F.share("tls_below_1_2", "domain", "below TLS 1.2",
            sum(any(not e["ge12"] for e in u) for u in dtls), len(dtls))
    reached = [e for e in endpoints.values() if e["reached"]]
    F.units("stripping", "endpoint", [{e["stripping"]} for e in reached if e["stripping"]],
            den=len(reached))

    # Certificates.
    label = "trusted and names the MX host"
    F.share("cert_valid", "domain", label,
            sum(all(e["cert_valid"] for e in u) for u in uses.values()), len(uses))
    F.share("cert_valid", "mx_host", label,
            sum(all(e["cert_valid"] for e in es) for es in hosts.values()), len(hosts))
    F.share("cert_valid", "endpoint", label,
            sum(e["cert_valid"] for e in endpoints.values()), len(endpoints))
    label = "valid ignoring key and digest strength, names the MX host (lax sender)"
    F.share("cert_valid", "domain", label,
            sum(all(e["cert_valid_lax"] for e in u) for u in uses.values()), len(uses))
    F.share("cert_valid", "mx_host", label,
            sum(all(e["cert_valid_lax"] for e in es) for es in hosts.values()), len(hosts))
    F.share("cert_valid", "endpoint", label,
            sum(e["cert_valid_lax"] for e in endpoints.values()), len(endpoints))

    chained = [e for e in endpoints.values() if e["has_chain"]]
    F.causes("cert_failure_cause", "endpoint", [cert_causes(e) for e in chained], len(chained))
    dchain = [[e for e in u if e["has_chain"]] for u in uses.values()]
    dchain = [u for u in dchain if u]
    F.causes("cert_failure_cause", "domain",
             [set().union(*(cert_causes(e) for e in u)) for u in dchain], len(dchain))
    hchain = [[e for e in es if e["has_chain"]] for es in hosts.values()]
    hchain = [es for es in hchain if es]
    F.causes("cert_failure_cause", "mx_host",
             [set().union(*(cert_causes(e) for e in es)) for es in hchain], len(hchain))
    F.share("cert_name_matches_domain", "domain", "every endpoint",
            sum(all(e["name_matches_domain"] for e in u) for u in dchain), len(dchain))
    F.share("cert_name_matches_domain", "domain", "any endpoint",
            sum(any(e["name_matches_domain"] for e in u) for u in dchain), len(dchain))

    # Minimally sufficient (the lax sender: any TLS version) and STS-ready
    # (the strict sender: TLS 1.2 or later, chain trusted at level 2).
    def sufficient(u):
        return all(e["reached"] and e["starttls"] and e["tls_ok"] for e in u)

    F.share("minimally_sufficient", "domain", "minimally sufficient",
            sum(sufficient(u) for u in uses.values()), len(uses))
    F.share("sts_ready", "domain", "STS-ready",
            sum(sufficient(u) and all(e["ge12"] and e["cert_valid"] for e in u)
                for u in uses.values()), len(uses))

    # DNSSEC and DANE.
    F.units("dnssec_mx", "domain", [alternatives(t["dns"]["mx"]["dnssec"]) for t in truth])
    dane_domains = []
    for t in mail:
        kept = [h for h in t["mx"] if h["kept"] and h.get("dane")]
        if kept:
            dane_domains.append((t, kept))
    F.share("dane_protected", "domain", "DANE-protected",
            sum(all(h["dane"] in ("dane_ok", "dane_no_match", "dane_no_starttls")
                    for h in kept) for _, kept in dane_domains), len(dane_domains))
    F.share("dane_protected", "domain", "DANE-protected and valid",
            sum(all(h["dane"] == "dane_ok" for h in kept) for _, kept in dane_domains),
            len(dane_domains))
    F.units("dane_outcome", "domain",
            [{domain_dane([h["dane"] for h in kept])} for _, kept in dane_domains])
    pairs = [h for _, kept in dane_domains for h in kept]
    F.units("dane_outcome", "domain_mx", [{h["dane"]} for h in pairs])
    with_tlsa = [h for h in pairs if h["dane"] not in ("dane_none", "dane_not_applicable")]
    F.units("dane_failure_cause", "domain_mx",
            [{h["dane"] + (" (%s)" % h["dane_result_type"] if h.get("dane_result_type") else "")}
             for h in with_tlsa if h["dane"] != "dane_ok"], den=len(with_tlsa))
    records = set()
    for t in truth:
        for h in t["mx"]:
            tl = h.get("tlsa") or {}
            # Only RRsets a DANE sender asks for (RFC 7672 §2.2.2: MX
            # RRset and host addresses secure) are counted.
            if h["kept"] and tl.get("looked_up") and tl.get("dnssec") == "secure":
                for r in tl.get("records") or []:
                    records.add((h["host"].lower(), r.lower()))
    F.units("tlsa_parameters", "mx_host", [{" ".join(r.split()[:3])} for _, r in records])

    # Concentration: top 10 MX providers (registrable domains of the
    # hosts by the Public Suffix List) by domains.
    psl = PublicSuffixList(PSL_FILE)
    suffixes = collections.Counter()
    ndom = 0
    for t in mail:
        s = {psl.registrable(h["host"]) or ".".join(h["host"].lower().split(".")[-2:])
             for h in t["mx"] if h["kept"] and not h["ip_literal"]}
        if s:
            ndom += 1
            suffixes.update(s)
    top = sorted(suffixes.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    F.figures.add("mx_provider")
    for label, c in top:
        F.share("mx_provider", "domain", label, c, ndom)
    metrics_sts.add(truth, F)
    client_figures(truth, F, client_mx)
    return F


SERVICES = ("submissions", "submission", "imaps", "imap", "pop3s", "pop3")


def client_figures(truth, F, client_mx=False):
    """The section "Mail client ports" (analysis/09*_client_*.sql) from
    the truth's `client` field (M12 contract): a domain the crawler did
    not ask (blocklisted, not recorded) has no SRV facts."""
    asked = [t for t in truth if t["mx_outcome"] not in ("blocklisted", "not_recorded")]
    for svc in SERVICES:
        srv = [t["client"][svc]["srv"] for t in asked]
        none = sum(s["offered"] is None and
                   bool(alternatives(s["rcode"]) & {"NOERROR", "NXDOMAIN"}) for s in srv)
        err = sum(s["offered"] is None for s in srv) - none
        F.share("client_srv_offered", "domain", svc + ": offered",
                sum(s["offered"] is True for s in srv), len(asked))
        F.share("client_srv_offered", "domain", svc + ': not offered (".")',
                sum(s["offered"] is False for s in srv), len(asked))
        F.share("client_srv_offered", "domain", svc + ": no SRV record", none, len(asked))
        F.share("client_srv_offered", "domain", svc + ": DNS error", err, len(asked))
        has = [s for s in srv if s["offered"] is not None]
        F.share("client_srv_dnssec", svc, "secure",
                sum(s["dnssec"] == "secure" for s in has), len(has))
    every, some, all_targets = set(), set(), set()
    for t in asked:
        for svc in SERVICES:
            for x in t["client"][svc]["targets"]:
                h = x["host"].lower()
                all_targets.add(h)
                if x["address_outcome"] == "refused_address":
                    every.add(h)
                if x["address_outcome"] != "dns_error" and \
                        any(ep["refused"] for ep in x["endpoints"]):
                    some.add(h)
    F.share("client_srv_refused", "target", "every address refused",
            len(every), len(all_targets))
    F.share("client_srv_refused", "target", "at least one address refused",
            len(some), len(all_targets))
    client_probe_figures(asked, F, client_mx)


IMPLICIT = ("submissions", "imaps", "pop3s")


def client_probe_figures(asked, F, client_mx=False):
    """The client probe figures (analysis/093-097, schema/029) from the
    truth's contacted client endpoints: per domain and service, per
    distinct endpoint (ip, port, SRV target, service), per SRV record."""
    def good(e, either=False):
        c = e["cert"]
        return bool(e["probe"]["outcome"] == "tls_ok" and c and c["trusted"] and
                    (c["name_matches_host"] or
                     (either and c["name_matches_domain"])))

    distinct, dane = {}, collections.Counter()
    for svc in SERVICES:
        n = good_host = good_either = 0
        for t in asked:
            eps = []
            for x in t["client"][svc]["targets"]:
                if x.get("dane"):
                    dane[x["dane"]] += 1
                for e in x["endpoints"]:
                    if e.get("contact"):
                        eps.append(e)
                        distinct.setdefault(
                            (e["ip"], e["port"], x["host"].lower().rstrip("."), svc), e)
            if eps:
                n += 1
                good_host += all(good(e) for e in eps)
                good_either += all(good(e, True) for e in eps)
        if n:
            F.share("client_trusted", svc, "trusted, names the SRV target", good_host, n)
            F.share("client_trusted", svc,
                    "trusted, names the SRV target or the domain", good_either, n)
    for svc in SERVICES:
        eps = [e for k, e in distinct.items() if k[3] == svc]
        causes = []
        for e in eps:
            c, cs = e["cert"], set()
            if e["probe"]["outcome"] != "tls_ok":
                cs.add("no TLS: " + e["probe"]["outcome"])
            else:
                cs |= {"certificate: " + x for x in c["errors"] or []}
                if not c["trusted"] and not c["errors"]:
                    cs.add("certificate: not trusted (strength)")
                if not c["name_matches_host"]:
                    cs.add("name does not match the SRV target")
            causes.append(cs)
        if eps:
            F.causes("client_causes", svc, causes, len(eps))
    for mode in ("implicit", "starttls"):
        eps = [e for k, e in distinct.items() if (k[3] in IMPLICIT) == (mode == "implicit")]
        if eps:
            F.share("client_tls_mode", mode, "TLS session",
                    sum(e["probe"]["outcome"] == "tls_ok" for e in eps), len(eps))
            F.share("client_tls_mode", mode, "trusted, names the SRV target",
                    sum(good(e) for e in eps), len(eps))
    offered = [e for k, e in distinct.items()
               if k[3] not in IMPLICIT and e["probe"]["starttls_offered"] is True]
    if offered:
        F.share("client_tls_mode", "starttls_offered", "STARTTLS offered, no TLS session",
                sum(e["probe"]["outcome"] != "tls_ok" for e in offered), len(offered))
    for k, v in dane.items():
        F.share("client_dane", "srv_target", k, v, sum(dane.values()))
    # Domains with probed endpoints on port 25 and on a client port.
    worse = better = both = 0
    for t in asked:
        mx = [ep for h in t["mx"] if h["kept"] for ep in h.get("endpoints", [])
              if not ep["refused"]]
        cl = [e for svc in SERVICES for x in t["client"][svc]["targets"]
              for e in x["endpoints"] if e.get("contact")]
        if not mx or not cl:
            continue
        both += 1
        mx_good = all((ep.get("smtp") or {}).get("outcome") == "starttls_ok" and
                      ep.get("cert") and ep["cert"]["trusted"] and
                      ep["cert"]["name_matches_mx"] for ep in mx)
        cl_good = all(good(e) for e in cl)
        worse += mx_good and not cl_good
        better += cl_good and not mx_good
    if both:
        F.share("client_worse", "domain", "client ports worse than port 25", worse, both)
        F.share("client_worse", "domain", "port 25 worse than client ports", better, both)
    if client_mx:
        client_mx_figures(asked, F)
    else:
        F.figures |= {"client_mx_ports", "client_mx_vs_srv"}


def client_mx_figures(asked, F):
    """analysis/098-099 (--client-ports mx, schema/033) from the truth's
    `client_mx` (and `client`): per domain and service, the MX hosts'
    contacted endpoints on the standard port. A closed port is a refused
    connection, never a TLS failure."""
    def good(e, host_key="name_matches_host"):
        c = e["cert"]
        return bool(e["probe"]["outcome"] == "tls_ok" and c and c["trusted"] and c[host_key])

    for svc in SERVICES:
        n = closed = answers = ans_good = ans_notls = ans_badcert = 0
        both = shared = mx_answers = mx_worse = 0
        for t in asked:
            eps = [(h["host"].lower(), e) for h in (t.get("client_mx") or {}).get(svc, [])
                   for e in h["endpoints"] if e.get("contact")]
            if not eps:
                continue
            n += 1
            ans = [e for _, e in eps if e["probe"]["outcome"] != "connect_failed"]
            closed += all(e["probe"]["outcome"] == "connect_failed" and
                          e["probe"]["conn"] == "refused" for _, e in eps)
            if ans:
                answers += 1
                if all(good(e) for e in ans):
                    ans_good += 1
                elif any(e["probe"]["outcome"] != "tls_ok" for e in ans):
                    ans_notls += 1
                else:
                    ans_badcert += 1
            srv = [(x["host"].lower(), e) for x in t["client"][svc]["targets"]
                   for e in x["endpoints"] if e.get("contact")]
            if srv:
                both += 1
                keys = {(e["ip"], e["port"], h) for h, e in eps}
                shared += any((e["ip"], e["port"], h) in keys for h, e in srv)
                mx_answers += bool(ans)
                mx_worse += bool(all(good(e) for _, e in srv) and ans and
                                 not all(good(e) for e in ans))
        if n:
            F.share("client_mx_ports", svc, "port closed (refused) on every MX address",
                    closed, n)
            F.share("client_mx_ports", svc, "port answers on an MX address", answers, n)
        if answers:
            scope = svc + " (answers)"
            F.share("client_mx_ports", scope, "trusted, names the MX host", ans_good, answers)
            F.share("client_mx_ports", scope, "no TLS session", ans_notls, answers)
            F.share("client_mx_ports", scope, "TLS, certificate rejected", ans_badcert, answers)
        if both:
            F.share("client_mx_vs_srv", svc, "the SRV target is an MX host (same endpoint)",
                    shared, both)
            F.share("client_mx_vs_srv", svc, "the MX host's port answers", mx_answers, both)
            F.share("client_mx_vs_srv", svc,
                    "SRV endpoints trusted and named, the MX port not", mx_worse, both)


PSL_FILE = "/usr/share/publicsuffix/public_suffix_list.dat"


class PublicSuffixList:
    """The Public Suffix List algorithm (publicsuffix.org/list/), written
    here independently of libpsl: the prevailing rule is an exception rule
    if one matches, else the matching rule with the most labels, else the
    default rule "*"; an exception rule's public suffix is the rule
    without its leftmost label. ICANN and private sections alike, as
    libpsl's psl_registrable_domain() uses both."""

    def __init__(self, path):
        self.rules, self.wild, self.exc = set(), set(), set()
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            r = line.split()[0].lower()
            r = ".".join(lab if lab.isascii() else "xn--" + lab.encode("punycode").decode()
                         for lab in r.split("."))
            if r.startswith("!"):
                self.exc.add(r[1:])
            elif r.startswith("*."):
                self.wild.add(r[2:])
            else:
                self.rules.add(r)

    def suffix_len(self, labels):
        n = len(labels)
        for i in range(n):
            if ".".join(labels[i:]) in self.exc:
                return n - i - 1
        best = 1
        for i in range(n):
            name = ".".join(labels[i:])
            if name in self.rules:
                best = max(best, n - i)
            if i + 1 < n and ".".join(labels[i + 1:]) in self.wild:
                best = max(best, n - i)
        return best

    def registrable(self, host):
        """The public suffix plus one label; None for a public suffix."""
        labels = host.lower().rstrip(".").split(".")
        k = self.suffix_len(labels)
        return ".".join(labels[-k - 1:]) if len(labels) > k else None


def pct(n, d):
    """The report's percent: one decimal, half away from zero (PostgreSQL
    numeric rounding); None for an empty denominator."""
    return round(100.0 * n / d + 1e-9, 1) if d else None


def expect_side(F, name, scope, label):
    """What one campaign's side of a compared row must hold: numerator
    range, and the denominators allowed. A row the view gives for one
    campaign only counts 0 in the other, out of that campaign's
    denominator for the scope (analysis.report); when no unit of the
    scope counts under any label there, the view may have given no row
    at all and the denominator is then 0."""
    lo, hi = F.rows.get((name, scope, label), (0, 0))
    den = F.den.get((name, scope))
    if den is None:
        return lo, hi, {0}
    if not any(h > 0 for (f, s, _), (_, h) in F.rows.items()
               if f == name and s == scope):
        return lo, hi, {0, den}
    return lo, hi, {den}


def check_side(where, got_n, got_d, got_p, want):
    lo, hi, dens = want
    bad = []
    if got_n is None or not lo <= got_n <= hi:
        bad.append("%s numerator %s, truth %s" %
                   (where, got_n, lo if lo == hi else "%d..%d" % (lo, hi)))
    if got_d not in dens:
        bad.append("%s denominator %s, truth %s" %
                   (where, got_d, "|".join(str(d) for d in sorted(dens))))
    if got_n is not None and got_d is not None and got_p != pct(got_n, got_d):
        bad.append("%s percent %s, want %s" % (where, got_p, pct(got_n, got_d)))
    return bad


# The figures of the section 'change' (metrics_sts.change_figures).
CHANGE_FIGURES = ["ladder_change", "ladder_transition", "mta_sts_id_change",
                  "tlsa_stale", "domain_presence"]


def check_change(report, old_truth, new_truth):
    """The across figures of a --compare report against both truths:
    (errors, figures checked, rows that are not 0)."""
    want_all = metrics_sts.change_figures(old_truth, new_truth)
    errors, checked, nonzero = [], 0, 0
    got = {f["name"]: f for f in report["figures"] if f.get("across")}
    for name in sorted(set(got) - set(CHANGE_FIGURES)):
        errors.append("%s: an across figure not computed from the truths" % name)
    for name in CHANGE_FIGURES:
        f = got.get(name)
        if f is None:
            errors.append("%s: missing from the --compare report" % name)
            continue
        want = want_all.get(name, {})
        # Zero rows (analysis/README.md): a distribution or causes figure
        # hides the rows that count 0; a share shows them.
        if f["kind"] != "share":
            want = {k: v for k, v in want.items() if v[0] > 0}
        rows = {}
        bad = []
        for r in f["rows"]:
            key = (r["scope"], r["label"])
            rows[key] = (r["numerator"], r["denominator"])
            if "compare" in r:
                bad.append("%s/%s has a compare object" % key)
            if r["percent"] != pct(r["numerator"], r["denominator"]):
                bad.append("%s/%s percent %s" % (key + (r["percent"],)))
        if rows != want:
            for k in sorted(set(rows) | set(want)):
                if rows.get(k) != want.get(k):
                    bad.append("%s/%s: report %s, truths %s" %
                               (k + (rows.get(k), want.get(k))))
        if bad:
            errors.extend("%s: %s" % (name, b) for b in bad)
        else:
            checked += 1
            nonzero += sum(1 for n, _ in rows.values() if n)
            print("ok: %s (%d rows, across both truths)" % (name, len(rows)))
    return errors, checked, nonzero


def main_compare(old_path, new_path, report_path):
    old_truth = [json.loads(l) for l in open(old_path) if l.strip()]
    new_truth = [json.loads(l) for l in open(new_path) if l.strip()]
    old, new = compute(old_truth), compute(new_truth)
    report = json.load(open(report_path))
    errors = []
    if report.get("compare") is None:
        errors.append("the report compares with nothing")
    got_figures = {f["name"]: f for f in report["figures"] if not f.get("across")}
    computed = old.figures | new.figures
    for name in sorted(set(got_figures) - computed - set(UNCHECKED)):
        errors.append("%s: in the report, not computed from the truth" % name)
    for name in sorted(computed - set(got_figures)):
        errors.append("%s: computed from the truth, missing from the report" % name)

    checked = changed = 0
    for name in sorted(computed & set(got_figures)):
        bad = []
        rows = {}
        for r in got_figures[name]["rows"]:
            key = (r["scope"], r["label"])
            rows[key] = r
            c = r.get("compare")
            if c is None:
                bad.append("%s/%s has no compare object" % key)
                continue
            bad += check_side("%s/%s" % key, r["numerator"], r["denominator"],
                              r["percent"], expect_side(new, name, *key))
            bad += check_side("%s/%s before" % key, c["numerator"],
                              c["denominator"], c["percent"],
                              expect_side(old, name, *key))
            if r["percent"] is None or c["percent"] is None:
                if c["delta"] is not None:
                    bad.append("%s/%s delta %s without two percents" %
                               (key + (c["delta"],)))
            elif c["delta"] is None or \
                    abs(c["delta"] - round(r["percent"] - c["percent"], 1)) > 1e-6:
                bad.append("%s/%s delta %s, want %.1f" %
                           (key + (c["delta"], r["percent"] - c["percent"])))
            elif c["delta"] != 0:
                changed += 1
        for F, side in ((new, "now"), (old, "before")):
            for (f, scope, label), (lo, _) in F.rows.items():
                if f == name and lo > 0 and (scope, label) not in rows:
                    bad.append("row %s/%s missing, truth %s: %d" %
                               (scope, label, side, lo))
        if bad:
            errors.extend("%s: %s" % (name, b) for b in bad)
        else:
            checked += 1
            print("ok: %s (%d rows, both campaigns and deltas)" % (name, len(rows)))
    cerr, cchecked, cnonzero = check_change(report, old_truth, new_truth)
    errors += cerr
    for name, why in sorted(UNCHECKED.items()):
        print("unchecked: %s: %s" % (name, why))
    for e in errors:
        print("FAIL: " + e)
    print("%d change figures equal the truths, %d of their rows not 0" %
          (cchecked, cnonzero))
    print("%d figures equal both truths, %d rows changed, %d unchecked, "
          "%d disagreements" % (checked, changed, len(UNCHECKED), len(errors)))
    return 1 if errors else 0


def main_buckets(ranks_path, bounds_arg, truth_path, report_path):
    ranks = {}
    for line in open(ranks_path):
        if line.strip() and not line.startswith("#"):
            r, d = line.strip().split(",", 1)
            ranks[d.lower().rstrip(".")] = int(r)
    truth = [json.loads(l) for l in open(truth_path) if l.strip()]
    report = json.load(open(report_path))
    head = {f["name"]: f["kind"] for f in report["figures"] if f["headline"]}
    rb = report.get("rank_buckets") or {}
    errors = []
    if (rb.get("ranked"), rb.get("unranked"), rb.get("status")) != \
            (len(ranks), 0, None):
        errors.append("ranked/unranked/status %s, want %d, 0, null" %
                      ((rb.get("ranked"), rb.get("unranked"),
                        rb.get("status")),) + (len(ranks),))
    bounds = [int(b) for b in bounds_arg.split(",")]
    got = {b["bound"]: b for b in rb.get("buckets", [])}
    if sorted(got) != bounds:
        errors.append("buckets %s, want %s" % (sorted(got), bounds))
    checked = 0
    for bound in bounds:
        b = got.get(bound)
        if b is None:
            continue
        sub = [t for t in truth
               if ranks.get(t["domain"].lower().rstrip("."), 1 << 40) <= bound]
        where = "top %d" % bound
        if b["targets"] != len(sub) or b["whole"] != (len(sub) == len(truth)):
            errors.append("%s: targets %s whole %s, truth %d of %d" %
                          (where, b["targets"], b["whole"], len(sub), len(truth)))
        F = compute(sub)
        rows = collections.defaultdict(dict)
        for r in b["rows"]:
            if r["scope"] != "domain":
                errors.append("%s: %s row of scope %s" % (where, r["figure"], r["scope"]))
            rows[r["figure"]][r["label"]] = r
        for name in sorted(set(rows) - set(head)):
            errors.append("%s: %s is not a headline figure" % (where, name))
        for name, kind in sorted(head.items()):
            want = {l: mm for (f, sc, l), mm in F.rows.items()
                    if f == name and sc == "domain"}
            den = F.den.get((name, "domain"), 0)
            bad = []
            for label, r in rows[name].items():
                lo, hi = want.get(label, (0, 0))
                if not lo <= r["numerator"] <= hi:
                    bad.append("%s numerator %d, truth %s" % (
                        label, r["numerator"], lo if lo == hi else "%d..%d" % (lo, hi)))
                if r["denominator"] != den:
                    bad.append("%s denominator %d, truth %d" %
                               (label, r["denominator"], den))
                if r["percent"] != pct(r["numerator"], r["denominator"]):
                    bad.append("%s percent %s" % (label, r["percent"]))
                if kind != "share" and r["numerator"] == 0:
                    bad.append("%s counts 0 in a %s figure" % (label, kind))
            for label, (lo, hi) in want.items():
                if label not in rows[name] and (lo > 0 or kind == "share"):
                    bad.append("row %s missing, truth %d/%d" % (label, lo, den))
            if bad:
                errors.extend("%s: %s: %s" % (where, name, x) for x in bad)
            else:
                checked += 1
        print("ok: %s: %d domains, %d rows" % (where, len(sub), len(b["rows"])))
    for e in errors:
        print("FAIL: " + e)
    print("%d bucket figures equal the truth of their domains, %d disagreements"
          % (checked, len(errors)))
    return 1 if errors or not checked else 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--compare":
        return main_compare(*sys.argv[2:])
    if len(sys.argv) == 6 and sys.argv[1] == "--buckets":
        return main_buckets(*sys.argv[2:])
    args = sys.argv[1:]
    client_mx = args[:1] == ["--client-mx"]
    if client_mx:
        args = args[1:]
    if len(args) != 2:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 64
    truth = [json.loads(l) for l in open(args[0]) if l.strip()]
    report = json.load(open(args[1]))
    F = compute(truth, client_mx)
    errors = []
    got_figures = {f["name"]: f for f in report["figures"]}
    for name in sorted(set(got_figures) - F.figures - set(UNCHECKED)):
        errors.append("%s: in the report, not computed from the truth" % name)
    for name in sorted(F.figures - set(got_figures)):
        errors.append("%s: computed from the truth, missing from the report" % name)
    for name in sorted(set(UNCHECKED) - set(got_figures)):
        errors.append("%s: listed as unchecked, missing from the report" % name)

    checked = 0
    for name in sorted(F.figures & set(got_figures)):
        rows = {(r["scope"], r["label"]): r for r in got_figures[name]["rows"]}
        want = {(s, l): mm for (f, s, l), mm in F.rows.items() if f == name}
        bad = []
        for (scope, label), r in rows.items():
            mm = want.get((scope, label))
            if mm is None:
                bad.append("row %s/%s = %d/%d not expected" %
                           (scope, label, r["numerator"], r["denominator"]))
                continue
            lo, hi = mm
            if not lo <= r["numerator"] <= hi:
                bad.append("%s/%s numerator %d, truth %s" %
                           (scope, label, r["numerator"],
                            lo if lo == hi else "%d..%d" % (lo, hi)))
            if r["denominator"] != F.den[(name, scope)]:
                bad.append("%s/%s denominator %d, truth %d" %
                           (scope, label, r["denominator"], F.den[(name, scope)]))
            if r["denominator"] and r["percent"] != round(
                    100.0 * r["numerator"] / r["denominator"] + 1e-9, 1):
                bad.append("%s/%s percent %s" % (scope, label, r["percent"]))
        for (scope, label), (lo, hi) in want.items():
            if (scope, label) not in rows and lo > 0:
                bad.append("row %s/%s missing, truth %d/%d" %
                           (scope, label, lo, F.den[(name, scope)]))
        if bad:
            errors.extend("%s: %s" % (name, b) for b in bad)
        else:
            checked += 1
            print("ok: %s (%d rows)" % (name, len(rows)))
    for name, why in sorted(UNCHECKED.items()):
        print("unchecked: %s: %s" % (name, why))
    for e in errors:
        print("FAIL: " + e)
    print("%d figures equal the truth, %d unchecked, %d disagreements" %
          (checked, len(UNCHECKED), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
