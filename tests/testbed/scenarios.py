#!/usr/bin/python3
"""The default scenario set: one entry per protocol case (tests/testbed/README.md), plus hostile
peers.  Format: tests/testbed/README.md ("Scenario format").

Each entry is a dict.  Short form: a scenario that only says `name` and
`case` is a healthy, DNSSEC-signed domain with one MX host `mx.<domain>`
offering STARTTLS with a trusted certificate.  Everything else overrides
that.  Expected facts are derived from the definition by build.py and can be
pinned or overridden with `expect` (domain level) and `expect["hosts"]`.
"""

F = "127.200.0.25"   # build.FORBIDDEN_ADDR: loopback outside the allow list


def S(name, case, **kw):
    d = {"name": name, "case": case}
    d.update(kw)
    if "mx" not in d and "apex" not in d and not d.get("no_mx"):
        d["mx"] = [(10, "mx")]
    if "mxhost" in d:
        d.setdefault("hosts", {})["mx"] = d.pop("mxhost")
    if d.get("mx"):
        hosts = d.setdefault("hosts", {})
        for _, h in d["mx"]:
            if h != "." and not h.endswith(".") and h not in hosts:
                hosts[h] = {}
    for recs in d.get("client", {}).values():
        # SRV targets relative to the domain are hosts of the scenario
        for _, _, _, h in recs:
            if h != "." and not h.endswith("."):
                d.setdefault("hosts", {}).setdefault(h, {})
    for h in d.get("hosts", {}).values():
        h.setdefault("a", ["auto"])
    if "apex" in d:
        d["apex"].setdefault("a", ["auto"])
    return d


def H(**kw):
    return kw


NO_STARTTLS_EHLO = ["250-<host>", "250-PIPELINING", "250 8BITMIME"]


def SRV(*services, port=None, target="mail", prio=0, weight=1):
    """`client` field: one SRV record per service to `target` (default
    port of the service unless `port`)."""
    ports = {"submissions": 465, "submission": 587, "imaps": 993, "imap": 143,
             "pop3s": 995, "pop3": 110}
    return {svc: [(prio, weight, port or ports[svc], target)] for svc in services}


ALL_CLIENT = ("submissions", "submission", "imaps", "imap", "pop3s", "pop3")


def sts(policy=None, txt=None, **kw):
    d = {"txt": txt if txt is not None else ["v=STSv1; id=20240101T000000"]}
    if policy is not None:
        d["policy"] = policy
    d.update(kw)
    return d


# Domains whose facts the crawler cannot store whole, by design of its
# limits (crawler/scan/probe.c): each must get a domain_dns row with
# mx_outcome 'not_recorded' and its cause, and nothing else, while the rest
# of its batch is stored. Not in SCENARIOS: the full-set harnesses compare
# every fact of every domain, and these domains' facts are, on purpose, not
# stored; tests/integration/test_scan_not_recorded.sh scans them beside a
# few SCENARIOS entries.
NOT_RECORDED_SCENARIOS = [
    # ------------------------------------------------------------ DANE
    # 200 TLSA records of 200 bytes each: a 43 KB answer (under the 64 KiB
    # DNS limit and the parser's 512 records), but 82 KB as the COPY array
    # of domain_mx.tlsa_records, over the 64 KiB a host's array may take.
    S("not-recorded-tlsa-huge", "DANE: 200 TLSA records (82 KB as text) -> over the row "
      "limit: not_recorded (rows_too_large), the rest of the batch stored",
      records=[("_25._tcp.mx", "TLSA", "3 1 0 %s" % ("%02x" % (i % 256) * 200))
               for i in range(200)],
      expect={"mx_outcome": "not_recorded", "not_recorded_cause": "rows_too_large",
              "implicit_mx": None, "null_mx": None, "mx": [], "mx_count": 0,
              "mx_truncated": False, "apex_cname": []}),
]

SCENARIOS = [
    # ------------------------------------------------------------ MX
    S("mx-multi", "MX: several preferences, all hosts kept with preference",
      mx=[(10, "mx1"), (20, "mx2"), (30, "mx3")]),
    S("mx-same-pref", "MX: two hosts with equal preference",
      mx=[(10, "a"), (10, "b")]),
    S("mx-many", "MX: 20 hosts, over the cap of 16 -> truncated",
      mx=[(i, "h%02d" % i) for i in range(1, 21)]),
    S("mx-large", "MX: answer > 4096 bytes, UDP truncation -> TCP retry",
      mx=[(i, "host-%02d-%s" % (i, "x" * 50)) for i in range(1, 65)],
      expect={"large_answer": True}),
    S("mx-implicit", "MX: NODATA -> implicit MX (the domain itself)",
      apex={}),
    S("mx-implicit-noaddr", "MX: NODATA and no A/AAAA at the apex -> implicit MX without address",
      no_mx=True, mx=None, records=[("@", "TXT", '"no mail here"')]),
    S("no-domain", "MX: NXDOMAIN -> no_domain", zone=False, mx=None, no_mx=True),
    S("dns-servfail", "MX: SERVFAIL (lame delegation) -> DNS error, not 'no MX'",
      dnssec="lame"),
    S("dns-timeout", "MX: authoritative server never answers -> DNS error (timeout/SERVFAIL)",
      dnssec="timeout", expect={"dns": {"mx": {"rcode": "SERVFAIL|timeout"}}}),
    S("dns-aaaa-timeout", "MX host: A answers, AAAA times out -> probed on its A address, partial DNS outcome recorded",
      dnssec="drop-aaaa"),
    S("null-mx", "MX: null MX (0 .) -> null_mx", mx=[(0, ".")]),
    S("null-mx-mixed", "MX: null MX mixed with a real MX -> misconfiguration",
      mx=[(0, "."), (10, "mx")]),
    S("null-mx-pref10", "MX: '10 .' alone (preference not 0) -> misconfiguration",
      mx=[(10, ".")]),
    S("mx-cname", "MX: target is a CNAME -> follow, record mx_cname",
      mxhost=H(cname="real")),
    S("mx-ip-literal", "MX: target looks like an IP literal -> resolved as a name (NXDOMAIN), flagged ip_literal",
      mx=[(10, "192.0.2.1.")]),
    S("mx-ip-literal-loopback", "MX: target 127.53.1.99. (inside the allowed range) -> resolved as a name, "
      "flagged ip_literal, the address never contacted (listener records contact)",
      mx=[(10, "127.53.1.99.")]),
    S("mx-no-address", "MX: host exists, no A/AAAA -> mx_no_address",
      mxhost=H(a=[]), records=[("mx", "TXT", '"no address"')]),
    S("mx-host-nxdomain", "MX: host does not exist -> mx_no_address",
      mx=[(10, "missing.mx-host-nxdomain.test.")]),
    S("mx-ipv6", "MX: A and AAAA, every address an endpoint (IPv6 included)",
      mxhost=H(a=["auto"], aaaa=["::1"])),
    S("refused-private", "Address: RFC 1918 -> refused_address", mxhost=H(a=["10.0.0.1"])),
    S("refused-linklocal", "Address: link-local (metadata) -> refused_address",
      mxhost=H(a=["169.254.169.254"])),
    S("refused-cgnat", "Address: CGNAT 100.64/10 -> refused_address", mxhost=H(a=["100.64.0.1"])),
    S("refused-multicast", "Address: multicast -> refused_address", mxhost=H(a=["224.0.0.1"])),
    S("refused-reserved", "Address: reserved 240/4 -> refused_address", mxhost=H(a=["240.0.0.1"])),
    S("refused-v6", "Address: IPv6 ULA -> refused_address", mxhost=H(a=[], aaaa=["fd00::1"])),
    S("refused-loopback", "Address: loopback outside --allow-cidr (listener records contact)",
      mxhost=H(a=[F])),
    S("refused-via-cname", "Address: checked after CNAME resolution -> refused_address",
      mxhost=H(cname="inner", a=["10.0.0.1"])),
    S("refused-partial", "Address: one allowed and one refused address on one host",
      mxhost=H(a=["auto", "10.0.0.1"])),
    # Provider concentration: 16 domains, each with its own provider
    # under the multi-label public suffix co.uk. By registrable domain
    # (Public Suffix List) they are 16 providers of one domain each; by
    # the last two labels they would be one provider "co.uk" with 16
    # domains, enough to enter the top 10 of mx_provider. The hosts do not
    # exist (NXDOMAIN from the testbed root): the figure only needs names.
    *[S("mx-psl-%02d" % i, "MX: host under a multi-label public suffix -> provider is "
        "its registrable domain (shop%02d.co.uk), not the last two labels (co.uk)" % i,
        zone=False, mx=[(10, "mx.shop%02d.co.uk." % i)])
      for i in range(1, 17)],
    S("apex-cname", "MX: domain apex CNAME chain followed (2 hops) and recorded",
      domain="alias.apex-cname.test", zone=False,
      zones={"apex-cname.test.": "secure"},
      cname_chain=["mid.apex-cname.test.", "final.apex-cname.test."]),
    S("cname-loop", "MX: CNAME loop is bounded -> DNS error",
      domain="a.cname-loop.test", zone=False, zones={"cname-loop.test.": "secure"},
      mx=None, no_mx=True,
      records=[("a.cname-loop.test.", "CNAME", "b.cname-loop.test."),
               ("b.cname-loop.test.", "CNAME", "a.cname-loop.test.")],
      expect={"mx_outcome": "dns_error", "mx": [],
              "dns": {"mx": {"rcode": "SERVFAIL", "dnssec": "indeterminate"}},
              "apex_cname": []}),

    # ------------------------------------------------------------ DNSSEC
    S("dnssec-secure", "DNSSEC: everything secure (AD)"),
    S("dnssec-insecure", "DNSSEC: unsigned zone, no DS -> insecure", dnssec="insecure"),
    S("dnssec-bogus-rrsig", "DNSSEC: broken RRSIG on the MX RRset -> bogus (EDE 6)",
      dnssec="secure", break_rrsig=[("@", "MX")]),
    S("dnssec-bogus-zone", "DNSSEC: every RRSIG of the zone broken -> bogus",
      dnssec="bogus-rrsig"),
    S("dnssec-bogus-expired", "DNSSEC: expired signatures -> bogus (EDE 7)",
      dnssec="bogus-expired"),
    S("dnssec-bogus-notyet", "DNSSEC: signatures not yet valid -> bogus (EDE 8)",
      dnssec="bogus-notyet"),
    S("dnssec-bogus-ds", "DNSSEC: DS in parent matches no DNSKEY -> bogus (EDE 9)",
      dnssec="bogus-ds"),
    S("dnssec-bogus-host", "DNSSEC: MX secure, MX host A/AAAA bogus",
      break_rrsig=[("mx", "A")]),

    # ------------------------------------------------------------ DANE
    S("dane-ee-311", "DANE: 3 1 1 matches -> dane_ok",
      mxhost=H(tlsa=[(3, 1, 1, "leaf")])),
    S("dane-ee-301", "DANE: 3 0 1 matches -> dane_ok", mxhost=H(tlsa=[(3, 0, 1, "leaf")])),
    S("dane-ee-312", "DANE: 3 1 2 (SHA-512) matches -> dane_ok", mxhost=H(tlsa=[(3, 1, 2, "leaf")])),
    S("dane-ee-300", "DANE: 3 0 0 (full certificate) matches -> dane_ok",
      mxhost=H(tlsa=[(3, 0, 0, "leaf")])),
    S("dane-ee-310", "DANE: 3 1 0 (full SPKI) matches -> dane_ok",
      mxhost=H(tlsa=[(3, 1, 0, "leaf")])),
    S("dane-ee-ignores-names-dates", "DANE: DANE-EE ignores names and dates (expired, self-signed, wrong name) -> dane_ok",
      mxhost=H(tlsa=[(3, 1, 1, "leaf")], cert={"issuer": "self", "names": ["other.example"],
                                              "not_before_days": -100, "not_after_days": -10})),
    S("dane-ta-211", "DANE: 2 1 1 on the sent intermediate -> dane_ok",
      mxhost=H(tlsa=[(2, 1, 1, "ta")])),
    S("dane-ta-201", "DANE: 2 0 1 on the sent intermediate -> dane_ok",
      mxhost=H(tlsa=[(2, 0, 1, "ta")])),
    S("dane-ta-untrusted-ca", "DANE: DANE-TA on a CA outside the WebPKI store -> dane_ok, PKIX untrusted",
      mxhost=H(tlsa=[(2, 1, 1, "ta")], cert={"issuer": "untrusted"})),
    S("dane-ta-name-mismatch", "DANE: DANE-TA, leaf names another host -> dane_no_match (names apply)",
      mxhost=H(tlsa=[(2, 1, 1, "ta")], cert={"names": ["other.example"]})),
    S("dane-ta-expired", "DANE: DANE-TA, leaf expired -> dane_no_match (dates apply)",
      mxhost=H(tlsa=[(2, 1, 1, "ta")], cert={"not_before_days": -100, "not_after_days": -1})),
    S("dane-ta-rotated", "DANE: DANE-TA pinned to an intermediate no longer sent -> dane_no_match",
      mxhost=H(tlsa=[(2, 1, 1, "ta-old")])),
    S("dane-pkix-only", "DANE: only PKIX-TA/PKIX-EE (usages 0/1) -> dane_unusable_only",
      mxhost=H(tlsa=[(0, 1, 1, "ta"), (1, 1, 1, "leaf")])),
    S("dane-unusable-params", "DANE: unknown usage/selector/matching type, bad digest length -> dane_unusable_only",
      mxhost=H(tlsa=[(4, 1, 1, "leaf"), (3, 2, 1, "00" * 32), (3, 1, 9, "00" * 32),
                     (3, 1, 1, "bad-len")])),
    S("dane-mixed-usable", "DANE: one unusable and one matching record -> dane_ok",
      mxhost=H(tlsa=[(3, 1, 1, "bad-len"), (3, 1, 1, "leaf")])),
    S("dane-no-match", "DANE: 3 1 1 with a wrong digest -> dane_no_match",
      mxhost=H(tlsa=[(3, 1, 1, "wrong")])),
    S("dane-no-starttls", "DANE: usable TLSA but no STARTTLS -> dane_no_starttls",
      mxhost=H(tlsa=[(3, 1, 1, "leaf")], smtp={"ehlo": NO_STARTTLS_EHLO})),
    S("dane-tlsa-bogus", "DANE: TLSA RRset bogus (broken RRSIG) -> dane_tlsa_bogus",
      mxhost=H(tlsa=[(3, 1, 1, "leaf")]), break_rrsig=[("_25._tcp.mx", "TLSA")]),
    S("dane-tlsa-nodata", "DANE: secure NODATA for TLSA -> dane_none",
      records=[("_25._tcp.mx", "TXT", '"not a TLSA"')]),
    S("dane-tlsa-nxdomain", "DANE: secure NXDOMAIN for TLSA -> dane_none"),
    S("dane-insecure-host", "DANE: MX host in an insecure zone (TLSA present) -> dane_not_applicable",
      zones={"ih": "insecure"}, mx=[(10, "mx.ih")],
      hosts={"mx.ih": H(a=["auto"], tlsa=[(3, 1, 1, "leaf")])}),
    S("dane-insecure-mx", "DANE: insecure MX RRset, secure host with TLSA -> dane_not_applicable",
      dnssec="insecure", zones={"dane-secure-hosts.test.": "secure"},
      mx=[(10, "mx.dane-secure-hosts.test.")],
      hosts={"mx.dane-secure-hosts.test.": H(a=["auto"], tlsa=[(3, 1, 1, "leaf")])}),
    S("dane-cname-expanded", "DANE: CNAME'd MX host, TLSA at the expanded name -> dane_ok",
      mxhost=H(cname="real", a=["auto"], tlsa=[(3, 1, 1, "leaf")], tlsa_at="real")),
    S("dane-ta-cname-name", "DANE: DANE-TA, leaf names the CNAME expansion of the MX host -> dane_ok",
      mxhost=H(cname="real", a=["auto"], tlsa=[(2, 1, 1, "ta")], tlsa_at="real",
               cert={"names": ["real.dane-ta-cname-name.test"]}),
      expect={"hosts": {"mx": {"dane": "dane_ok", "dane_result_type": None}},
              "ladder": "dane"}),
    S("dane-cname-original", "DANE: CNAME'd MX host, TLSA only at the original name -> dane_ok",
      mxhost=H(cname="real", a=["auto"], tlsa=[(3, 1, 1, "leaf")])),
    # One MX host (signed zone, TLSA at the host) shared by signed and
    # unsigned domains: DANE applies per domain (RFC 7672 §2.2.1), whoever
    # probed the endpoint. A pair per scan order (the first scenario of a
    # pair defines the host) and a third domain on each host: the one a
    # first crawler probes the endpoint for when test_dane_shared.sh scans
    # the pair in a second crawler.
    S("dane-shared-ta-insecure", "DANE: shared MX host (DANE-TA), this domain's MX insecure, asked first -> dane_not_applicable",
      dnssec="insecure", zones={"dane-shared-ta.test.": "secure"},
      mx=[(10, "mx.dane-shared-ta.test.")],
      hosts={"mx.dane-shared-ta.test.": H(a=["auto"], tlsa=[(2, 1, 1, "ta")])}),
    S("dane-shared-ta-secure", "DANE: shared MX host (DANE-TA), signed domain asks after an unsigned one -> dane_ok",
      mx=[(10, "mx.dane-shared-ta.test.")]),
    S("dane-shared-ee-secure", "DANE: shared MX host (DANE-EE), signed domain asked first -> dane_ok",
      zones={"dane-shared-ee.test.": "secure"},
      mx=[(10, "mx.dane-shared-ee.test.")],
      hosts={"mx.dane-shared-ee.test.": H(a=["auto"], tlsa=[(3, 1, 1, "leaf")])}),
    S("dane-shared-ee-insecure", "DANE: shared MX host (DANE-EE), unsigned domain asks after a signed one -> dane_not_applicable",
      dnssec="insecure", mx=[(10, "mx.dane-shared-ee.test.")]),
    S("dane-shared-ta-other", "DANE: shared MX host (DANE-TA), a third domain, unsigned -> dane_not_applicable",
      dnssec="insecure", mx=[(10, "mx.dane-shared-ta.test.")]),
    S("dane-shared-ee-other", "DANE: shared MX host (DANE-EE), a third domain, unsigned -> dane_not_applicable",
      dnssec="insecure", mx=[(10, "mx.dane-shared-ee.test.")]),

    # ------------------------------------------------------------ SMTP
    S("smtp-banner-multiline", "SMTP: multi-line 220- banner",
      mxhost=H(smtp={"banner": ["220-<host> ESMTP first line", "220-second line", "220 <host> ready"]})),
    S("smtp-banner-421", "SMTP: banner 421 -> banner_rejected",
      mxhost=H(smtp={"banner": ["421 4.3.2 <host> busy, try later"]})),
    S("smtp-banner-554", "SMTP: banner 554 -> banner_rejected",
      mxhost=H(smtp={"banner": ["554 5.7.1 <host> no service for you"]})),
    S("smtp-greylist", "SMTP: 4xx greeting (greylisting) recorded, no retry",
      mxhost=H(smtp={"banner": ["450 4.7.1 greylisted, try again later"]})),
    S("smtp-silent", "SMTP: connection accepted, no banner ever -> banner timeout",
      mxhost=H(smtp={"mode": "silent"})),
    S("smtp-ehlo-lowercase", "SMTP: keywords case-insensitive (starttls in lower case)",
      mxhost=H(smtp={"ehlo": ["250-<host> hello", "250-pipelining", "250-starttls", "250 8bitmime"]})),
    S("smtp-ehlo-starttls-first", "SMTP: 250-STARTTLS before the domain line still counts",
      mxhost=H(smtp={"ehlo": ["250-STARTTLS", "250 <host>"]})),
    S("smtp-ehlo-5xx", "SMTP: EHLO 5xx -> HELO; STARTTLS could not be offered",
      mxhost=H(smtp={"ehlo": ["502 5.5.2 EHLO not implemented"]})),
    S("smtp-no-starttls", "SMTP: STARTTLS not advertised -> plaintext",
      mxhost=H(smtp={"ehlo": NO_STARTTLS_EHLO})),
    S("smtp-starttls-454", "SMTP: STARTTLS answered 454 -> starttls_rejected",
      mxhost=H(smtp={"starttls_reply": ["454 4.7.0 TLS not available due to temporary reason"]})),
    S("smtp-starttls-502", "SMTP: STARTTLS advertised but answered 502 (stripping signature)",
      mxhost=H(smtp={"starttls_reply": ["502 5.5.1 command not implemented"]})),
    S("smtp-strip-xxxxxxxa", "SMTP: STARTTLS replaced by XXXXXXXA (stripping)",
      mxhost=H(smtp={"ehlo": ["250-<host>", "250-PIPELINING", "250-XXXXXXXA", "250 8BITMIME"]})),
    S("smtp-strip-masked-banner", "SMTP: masked banner '220 ****' (middlebox signature)",
      mxhost=H(smtp={"banner": ["220 ******************************"]})),
    S("smtp-inject", "SMTP: plaintext injected after 220 to STARTTLS is discarded",
      mxhost=H(smtp={"inject_after_starttls": "250-INJECTED\r\n250 AUTH PLAIN\r\n"})),
    S("smtp-ehlo-5k-line", "SMTP: one 5 KiB EHLO line (over the 4 KiB storage cap) -> flagged, not fatal",
      mxhost=H(smtp={"ehlo": ["250-<host>", "250-X-" + "A" * 5000, "250 STARTTLS"]}),
      expect={"hosts": {"mx": {"endpoints_note": "reply line over 4 KiB: overlong flagged"}}}),
    S("smtp-long-line", "SMTP: 1 MB EHLO line without CRLF -> over-long line cut off",
      mxhost=H(smtp={"mode": "long_line"})),
    S("smtp-endless-ehlo", "SMTP: endless 250- lines -> reply caps",
      mxhost=H(smtp={"mode": "endless_ehlo"})),
    S("smtp-tarpit", "SMTP: banner trickled one byte per second -> total deadline",
      mxhost=H(smtp={"mode": "tarpit"})),
    S("smtp-close-after-banner", "SMTP: peer closes after the banner (hostile)",
      mxhost=H(smtp={"mode": "close_after_banner"})),
    S("smtp-garbage", "SMTP: random bytes instead of a banner (hostile)",
      mxhost=H(smtp={"mode": "garbage"})),
    S("smtp-reset", "SMTP: RST on accept (hostile)", mxhost=H(smtp={"mode": "reset"})),

    # ------------------------------------------------------------ TLS / certificates
    S("tls-v10", "TLS: server speaks only TLS 1.0 (weak) -> recorded at SECLEVEL 0, legacy",
      mxhost=H(tls={"max_version": "TLSv1"}, cert={"key": "rsa2048"})),
    S("tls-v11", "TLS: server speaks at most TLS 1.1 (weak)",
      mxhost=H(tls={"max_version": "TLSv1.1"}, cert={"key": "rsa2048"})),
    S("tls-v12", "TLS: server speaks at most TLS 1.2", mxhost=H(tls={"max_version": "TLSv1.2"})),
    S("tls-v13-only", "TLS: server speaks only TLS 1.3", mxhost=H(tls={"min_version": "TLSv1.3"})),
    S("tls-alert", "TLS: handshake aborted with an alert -> typed outcome",
      mxhost=H(tls={"alert": True})),
    S("tls-reset", "TLS: RST after the ClientHello, mid-handshake -> typed outcome",
      mxhost=H(tls={"reset": True})),
    S("tls-eof", "TLS: 220 to STARTTLS, then FIN before the handshake -> typed outcome",
      mxhost=H(cert=None)),
    S("tls-slow", "TLS: ServerHello trickled one byte per second -> TLS stage timeout",
      mxhost=H(tls={"slow": True})),
    S("cert-expired", "Cert: expired", mxhost=H(cert={"not_before_days": -100, "not_after_days": -2})),
    S("cert-not-yet-valid", "Cert: not yet valid", mxhost=H(cert={"not_before_days": 5, "not_after_days": 100})),
    S("cert-self-signed", "Cert: self-signed leaf", mxhost=H(cert={"issuer": "self"})),
    S("cert-self-signed-in-chain", "Cert: untrusted root sent in the chain (self-signed in chain)",
      mxhost=H(cert={"issuer": "untrusted", "send_root": True})),
    S("cert-unknown-issuer", "Cert: issuer outside the trust store", mxhost=H(cert={"issuer": "untrusted"})),
    S("cert-missing-intermediate", "Cert: intermediate not sent",
      mxhost=H(cert={"send_intermediate": False})),
    S("cert-bad-signature", "Cert: leaf signature does not verify", mxhost=H(cert={"bad_signature": True})),
    S("cert-root-issued", "Cert: leaf issued directly by the trusted root (no intermediate) -> trusted",
      mxhost=H(cert={"issuer": "root"})),
    S("cert-name-mismatch", "Cert: SAN names another host", mxhost=H(cert={"names": ["other.example"]})),
    S("cert-wildcard", "Cert: *.<domain> matches mx.<domain>",
      mxhost=H(cert={"names": ["*.cert-wildcard.test"]})),
    S("cert-wildcard-deep", "Cert: *.<domain> does not match a.b.<domain>",
      mx=[(10, "a.b")], hosts={"a.b": H(a=["auto"], cert={"names": ["*.cert-wildcard-deep.test"]})}),
    S("cert-wildcard-partial", "Cert: partial wildcard m*.<domain> never matches",
      mxhost=H(cert={"names": ["m*.cert-wildcard-partial.test"]})),
    S("cert-cn-only", "Cert: no SAN, CN = MX host -> cn_only, names no host (RFC 9525 §6.3)",
      mxhost=H(cert={"san": False, "cn": "mx.cert-cn-only.test"})),
    S("cert-cn-ignored", "Cert: CN = MX host but SAN names another host -> mismatch (CN ignored)",
      mxhost=H(cert={"names": ["other.example"], "cn": "mx.cert-cn-ignored.test"})),
    S("cert-idn", "Cert: IDN MX host compared as A-labels",
      mx=[(10, "xn--mnchen-3ya")], hosts={"xn--mnchen-3ya": H(a=["auto"])}),
    S("cert-domain-name", "Cert: names the recipient domain, not the MX host",
      mxhost=H(cert={"names": ["cert-domain-name.test"]})),
    S("cert-rsa1024", "Cert: RSA-1024 leaf from the trusted CA (weak) -> valid ignoring "
      "strength, not trusted at security level 2", mxhost=H(cert={"key": "rsa1024"})),
    S("cert-rsa2048", "Cert: RSA-2048 key (not weak)", mxhost=H(cert={"key": "rsa2048"})),
    S("cert-sha1", "Cert: SHA-1 signed leaf from the trusted CA (weak) -> valid ignoring "
      "strength, not trusted at security level 2", mxhost=H(cert={"hash": "sha1"})),
    S("cert-chain-100", "Cert: 100-certificate chain handled with bounded memory",
      mxhost=H(cert={"chain_len": 100})),
    S("cert-chain-130", "Cert: 130 certificates sent (padding) -> the first 128 kept and "
      "judged, truncated, trusted", mxhost=H(cert={"chain_len": 130})),
    S("cert-chain-100-valid", "Cert: 100-certificate PKIX-valid chain (99 issuing CAs under "
      "the root) -> judged whole, trusted, long", mxhost=H(cert={"ca_depth": 99})),
    S("cert-chain-out-of-order", "Cert: 3 issuing CAs sent root side first -> trusted, "
      "out of order", mxhost=H(cert={"ca_depth": 3, "ca_order": "reversed"})),
    S("cert-64k", "Cert: 64 KiB leaf certificate handled with bounded memory",
      mxhost=H(cert={"pad_bytes": 65536})),

    # ------------------------------------------------------------ MTA-STS
    S("sts-enforce-ok", "MTA-STS: enforce, every MX matches with a trusted cert -> enforce would work",
      sts=sts(), tlsrpt=["v=TLSRPTv1; rua=mailto:tlsrpt@sts-enforce-ok.test"]),
    S("sts-testing", "MTA-STS: mode testing", sts=sts({"mode": "testing"})),
    S("sts-none", "MTA-STS: mode none without mx lines", sts=sts({"mode": "none", "mx": []})),
    S("sts-lf", "MTA-STS: policy with bare LF line endings (accepted, recorded)",
      sts=sts({"eol": "\n"})),
    S("sts-unknown-key", "MTA-STS: unknown policy key ignored", sts=sts({"extra": ["foo: bar"]})),
    S("sts-txt-multiple", "MTA-STS: two v=STSv1 TXT records -> no policy",
      sts=sts(txt=["v=STSv1; id=1", "v=STSv1; id=2"])),
    S("sts-txt-other", "MTA-STS: unrelated TXT records discarded, one v=STSv1 remains",
      sts=sts(txt=["v=STSv1; id=20240101", "google-site-verification=abc", "v=spf1 -all"])),
    S("sts-txt-bad-id", "MTA-STS: id with a non-alphanumeric character -> invalid TXT",
      sts=sts(txt=["v=STSv1; id=2024-01-01"])),
    S("sts-txt-long-id", "MTA-STS: id of 33 characters -> invalid TXT",
      sts=sts(txt=["v=STSv1; id=" + "a" * 33])),
    S("sts-txt-extension", "MTA-STS: TXT extension field allowed",
      sts=sts(txt=["v=STSv1; id=abc123; ext=value"])),
    S("sts-txt-cname", "MTA-STS: CNAME at _mta-sts followed",
      sts=sts(txt_cname="_mta-sts.target")),
    S("sts-txt-v2", "MTA-STS: only a v=STSv2 record -> discarded, no policy",
      sts=sts(txt=["v=STSv2; id=1"])),
    S("sts-fetch-redirect", "MTA-STS fetch: 301 not followed, Location recorded",
      sts=sts(https={"status": 301, "location": "https://elsewhere.example/.well-known/mta-sts.txt"},
              expect={"fetch": "http_redirect", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-404", "MTA-STS fetch: HTTP 404",
      sts=sts(https={"status": 404}, expect={"fetch": "http_status", "policy": None, "mode": None,
                                             "max_age": None, "mx_patterns": [], "eol": None})),
    S("sts-fetch-media-type", "MTA-STS fetch: Content-Type text/html -> refused",
      sts=sts(https={"content_type": "text/html"},
              expect={"fetch": "media_type", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-too-large", "MTA-STS fetch: body over 64 KiB -> refused, not truncated",
      sts=sts(https={"body_size": 70000},
              expect={"fetch": "too_large", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-slow", "MTA-STS fetch: body trickled (1 s/byte) -> timeout",
      sts=sts(https={"slow": 1.0},
              expect={"fetch": "timeout", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-encoding", "MTA-STS fetch: Content-Encoding gzip -> refused",
      sts=sts(https={"content_encoding": "gzip"},
              expect={"fetch": "content_encoding", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-untrusted", "MTA-STS fetch: certificate from an untrusted CA -> sts-webpki-invalid",
      sts=sts(cert={"issuer": "untrusted"},
              expect={"fetch": "webpki_invalid", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-name-mismatch", "MTA-STS fetch: certificate for another name -> sts-webpki-invalid",
      sts=sts(cert={"names": ["other.example"]},
              expect={"fetch": "webpki_invalid", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-host-aaaa-timeout", "MTA-STS fetch: mta-sts.<d> A answers, AAAA times out -> fetched from the A address",
      dnssec="drop-aaaa", sts=sts()),
    S("sts-fetch-no-host", "MTA-STS fetch: mta-sts.<d> does not resolve -> DNS fetch error",
      sts=sts(host={"a": []},
              expect={"fetch": "dns_error", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-refused-address", "MTA-STS fetch: mta-sts.<d> resolves to 169.254.169.254 -> refused_address",
      sts=sts(host={"a": ["169.254.169.254"]},
              expect={"fetch": "refused_address", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-fetch-no-listener", "MTA-STS fetch: connection closed at once (no HTTPS service) -> TCP/TLS error",
      sts=sts(host={"a": ["auto"], "server": False},
              expect={"fetch": "tls_error", "policy": None, "mode": None, "max_age": None,
                      "mx_patterns": [], "eol": None})),
    S("sts-policy-bad-version", "MTA-STS policy: version STSv2 -> invalid",
      sts=sts({"version": "STSv2"}, expect={"policy": "invalid", "policy_error": "bad_version"})),
    S("sts-policy-bad-mode", "MTA-STS policy: mode 'enforcing' -> invalid",
      sts=sts({"mode": "enforcing"}, expect={"policy": "invalid", "policy_error": "bad_mode",
                                            "mode": None})),
    S("sts-policy-bad-max-age", "MTA-STS policy: max_age above 31557600 -> invalid, value kept",
      sts=sts({"max_age": 31557601}, expect={"policy": "invalid", "policy_error": "bad_max_age",
                                           "max_age": 31557601, "max_age_text": "31557601",
                                           "max_age_valid": False})),
    S("sts-policy-max-age-overflow", "MTA-STS policy: max_age over 64 bits -> invalid, kept as text",
      sts=sts({"max_age": "184467440737095516160"},
              expect={"policy": "invalid", "policy_error": "bad_max_age", "max_age": None,
                      "max_age_text": "184467440737095516160", "max_age_valid": False})),
    S("sts-policy-max-age-unit", "MTA-STS policy: max_age '1d' -> invalid, kept as text",
      sts=sts({"max_age": "1d"},
              expect={"policy": "invalid", "policy_error": "bad_max_age", "max_age": None,
                      "max_age_text": "1d", "max_age_valid": False})),
    S("sts-policy-no-mx", "MTA-STS policy: enforce without mx -> invalid",
      sts=sts({"mx": []}, expect={"policy": "invalid", "policy_error": "missing_mx"})),
    S("sts-policy-misspelled", "MTA-STS policy: misspelled key 'nmx:' ignored -> mx missing -> invalid",
      sts=sts(policy_raw="version: STSv1\r\nmode: enforce\r\nnmx: mx.sts-policy-misspelled.test\r\n"
                         "max_age: 86400\r\n",
              expect={"policy": "invalid", "policy_error": "missing_mx", "unknown_keys": ["nmx"],
                      "mode": "enforce", "max_age": 86400, "mx_patterns": [], "eol": "crlf"})),
    S("sts-mx-wildcard", "MTA-STS match: *.<d> matches mx.<d>",
      sts=sts({"mx": ["*.sts-mx-wildcard.test"]})),
    S("sts-mx-wildcard-deep", "MTA-STS match: *.<d> does not match a.b.<d>",
      mx=[(10, "a.b")], hosts={"a.b": H(a=["auto"])},
      sts=sts({"mx": ["*.sts-mx-wildcard-deep.test"]})),
    S("sts-mx-wildcard-apex", "MTA-STS match: *.<d> does not match <d> (implicit MX)",
      apex={}, sts=sts({"mx": ["*.sts-mx-wildcard-apex.test"]})),
    S("sts-mx-case", "MTA-STS match: case-insensitive, trailing dot ignored",
      sts=sts({"mx": ["MX.STS-MX-CASE.TEST."]})),
    S("sts-mx-mismatch", "MTA-STS match: MX not covered by any pattern",
      sts=sts({"mx": ["mail.other.example"]})),
    S("sts-implicit-mx", "MTA-STS match: an implicit MX counts as an MX",
      apex={}, sts=sts({"mx": ["sts-implicit-mx.test"]})),
    S("sts-enforce-no-starttls", "MTA-STS enforce would fail: starttls-not-supported",
      mxhost=H(smtp={"ehlo": NO_STARTTLS_EHLO}), sts=sts()),
    S("sts-enforce-host-mismatch", "MTA-STS enforce would fail: certificate-host-mismatch",
      mxhost=H(cert={"names": ["other.example"]}), sts=sts()),
    S("sts-enforce-expired", "MTA-STS enforce would fail: certificate-expired",
      mxhost=H(cert={"not_before_days": -100, "not_after_days": -2}), sts=sts()),
    S("sts-enforce-untrusted", "MTA-STS enforce would fail: certificate-not-trusted",
      mxhost=H(cert={"issuer": "self"}), sts=sts()),
    S("sts-enforce-alert", "MTA-STS enforce would fail: validation-failure (TLS alert)",
      mxhost=H(tls={"alert": True}), sts=sts()),
    S("sts-enforce-tls10", "MTA-STS enforce would fail: validation-failure (TLS 1.0 only; "
      "a strict sender offers 1.2 or later)",
      mxhost=H(tls={"max_version": "TLSv1"}, cert={"key": "rsa2048"}), sts=sts()),
    S("sts-enforce-weak-key", "MTA-STS enforce would fail: certificate-not-trusted (RSA-1024 "
      "leaf, valid only ignoring strength)",
      mxhost=H(cert={"key": "rsa1024"}), sts=sts()),
    # RFC 8461 §5: a sender checks the MX host against the policy before it
    # connects; a host outside the policy is a validation-failure (RFC 8460
    # §4.3.2.1) and its STARTTLS or certificate is never seen.
    S("sts-mx-mismatch-no-starttls", "MTA-STS: MX outside the policy, without STARTTLS -> "
      "validation-failure only",
      mxhost=H(smtp={"ehlo": NO_STARTTLS_EHLO}), sts=sts({"mx": ["mail.other.example"]})),
    S("sts-mx-mismatch-untrusted", "MTA-STS: MX outside the policy, self-signed -> "
      "validation-failure only",
      mxhost=H(cert={"issuer": "self"}), sts=sts({"mx": ["mail.other.example"]})),
    S("sts-mx-mismatch-mixed", "MTA-STS: one MX in the policy (self-signed), one outside it "
      "(no STARTTLS) -> certificate-not-trusted, validation-failure",
      mx=[(10, "mx1"), (20, "mx2")],
      hosts={"mx1": H(cert={"issuer": "self"}), "mx2": H(smtp={"ehlo": NO_STARTTLS_EHLO})},
      sts=sts({"mx": ["mx1.sts-mx-mismatch-mixed.test"]})),

    # ------------------------------------------------------------ interop
    S("postfix", "Interop: a real Postfix smtpd (STARTTLS, trusted cert, DANE 3 1 1)",
      domain="postfix.test", requires="postfix",
      mxhost=H(a=["127.25.0.25"], server="postfix", tlsa=[(3, 1, 1, "leaf")]),
      expect={"hosts": {"mx": {"smtp_note": "Postfix's own EHLO (PIPELINING, SIZE, ...)"}}}),

    # ------------------------------------------------------------ TLS-RPT
    S("tlsrpt-mailto", "TLS-RPT: one mailto: rua", tlsrpt=["v=TLSRPTv1; rua=mailto:reports@tlsrpt-mailto.test"]),
    S("tlsrpt-https", "TLS-RPT: one https: rua", tlsrpt=["v=TLSRPTv1;rua=https://reports.example/tlsrpt"]),
    S("tlsrpt-multi-rua", "TLS-RPT: two comma-separated rua URIs",
      tlsrpt=["v=TLSRPTv1; rua=mailto:a@tlsrpt-multi-rua.test,https://reports.example/r"]),
    S("tlsrpt-multiple", "TLS-RPT: two v=TLSRPTv1 records -> none valid",
      tlsrpt=["v=TLSRPTv1; rua=mailto:a@tlsrpt-multiple.test", "v=TLSRPTv1; rua=mailto:b@tlsrpt-multiple.test"]),
    S("tlsrpt-other-txt", "TLS-RPT: unrelated TXT discarded",
      tlsrpt=["v=TLSRPTv1; rua=mailto:a@tlsrpt-other-txt.test", "something else"]),
    S("tlsrpt-bad-rua", "TLS-RPT: rua with an unsupported scheme -> invalid",
      tlsrpt=["v=TLSRPTv1; rua=ftp://reports.example/x"]),
    S("tlsrpt-no-rua", "TLS-RPT: no rua -> invalid", tlsrpt=["v=TLSRPTv1;"]),
    S("tlsrpt-extension", "TLS-RPT: extension field allowed",
      tlsrpt=["v=TLSRPTv1; rua=mailto:a@tlsrpt-extension.test; ext=1"]),
    S("tlsrpt-v2", "TLS-RPT: only a non-TLSRPTv1 record -> discarded",
      tlsrpt=["v=TLSRPTv2; rua=mailto:a@tlsrpt-v2.test"]),

    # ------------------------------------------------------------ client ports (M12)
    # SRV records (RFC 6186, RFC 8314) at _<service>._tcp.<domain>; targets
    # are host specs like MX hosts, their behaviour per service in
    # `services` (servers.json "client" keys, INTERFACE.md). Every domain
    # keeps a healthy MX of its own.
    S("cp-all-ok", "Client ports: all six services on one host (implicit TLS on 465/993/995, "
      "STARTTLS on 587/143/110), trusted certificate for the SRV target -> tls_ok everywhere",
      client=SRV(*ALL_CLIENT)),
    S("cp-imap-greeting-caps", "Client ports: IMAP `* OK [CAPABILITY ... STARTTLS ...]` greeting "
      "(no CAPABILITY command needed) -> STARTTLS, tls_ok",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {"greeting_capability": True}})}),
    S("cp-srv-priority", "Client ports: three imaps SRV records, priorities and weights out of "
      "order in the zone -> kept sorted by priority, weight, target",
      client={"imaps": [(10, 5, 993, "c"), (0, 1, 993, "b"), (10, 1, 993, "a")]}),
    S("cp-imaps-expired", "Client ports: imaps certificate expired -> tls_ok, errors [expired]",
      client=SRV("imaps"), hosts={"mail": H(cert={"not_before_days": -100, "not_after_days": -2})}),
    S("cp-submissions-self-signed", "Client ports: submissions (465) self-signed leaf -> tls_ok, "
      "errors [self_signed]",
      client=SRV("submissions"), hosts={"mail": H(cert={"issuer": "self"})}),
    S("cp-imaps-name-domain", "Client ports: imaps leaf names the domain, not the SRV target -> "
      "name_matches_host false, name_matches_domain true (RFC 6186 §4, RFC 7817)",
      client=SRV("imaps"), hosts={"mail": H(cert={"names": ["cp-imaps-name-domain.test"]})}),
    S("cp-imaps-name-target", "Client ports: imaps SRV target at a provider, leaf names the target "
      "only -> name_matches_host true, name_matches_domain false",
      zones={"cp-provider.test.": "secure"},
      client=SRV("imaps", target="imap.cp-provider.test."),
      hosts={"imap.cp-provider.test.": H(a=["auto"])}),
    S("cp-imap-no-starttls", "Client ports: IMAP CAPABILITY without STARTTLS -> no_starttls "
      "(LOGOUT in plaintext)",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "capabilities": ["IMAP4rev1", "AUTH=PLAIN"]}})}),
    S("cp-pop3-no-stls", "Client ports: POP3 CAPA without STLS -> no_starttls",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {
          "capabilities": ["TOP", "UIDL", "USER"]}})}),
    S("cp-submission-no-starttls", "Client ports: submission (587) EHLO without STARTTLS -> "
      "no_starttls",
      client=SRV("submission"), hosts={"mail": H(services={"submission": {
          "ehlo": NO_STARTTLS_EHLO}})}),
    S("cp-imap-starttls-refused", "Client ports: IMAP STARTTLS advertised, answered `NO` -> "
      "starttls_rejected, stripping advertised_refused",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "starttls_reply": "NO [UNAVAILABLE] TLS not available"}})}),
    S("cp-pop3-stls-refused", "Client ports: POP3 STLS advertised, answered `-ERR` -> "
      "starttls_rejected, stripping advertised_refused",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {
          "starttls_reply": "-ERR TLS not available"}})}),
    S("cp-submission-starttls-refused", "Client ports: submission STARTTLS advertised, answered "
      "502 -> starttls_rejected, stripping advertised_refused",
      client=SRV("submission"), hosts={"mail": H(services={"submission": {
          "starttls_reply": ["502 5.5.1 command not implemented"]}})}),
    S("cp-imap-inject", "Client ports: plaintext injected after the IMAP OK to STARTTLS -> "
      "discarded, injection true, tls_ok",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "inject_after_starttls": "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"}})}),
    S("cp-pop3-inject", "Client ports: plaintext injected after the POP3 +OK to STLS -> "
      "discarded, injection true, tls_ok",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {
          "inject_after_starttls": "+OK injected\r\n"}})}),
    S("cp-imap-greeting-garbage", "Client ports: random bytes instead of the IMAP greeting -> "
      "protocol_error",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {"mode": "garbage"}})}),
    S("cp-imaps-greeting-garbage", "Client ports: imaps, random bytes instead of the greeting "
      "inside TLS -> tls_ok (the certificate is measured), greeting garbage",
      client=SRV("imaps"), hosts={"mail": H(services={"imaps": {"mode": "garbage"}})}),
    S("cp-imap-bye", "Client ports: IMAP `* BYE` greeting -> greeting_rejected",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "greeting": "* BYE <host> too many connections"}})}),
    S("cp-pop3-err", "Client ports: POP3 `-ERR` greeting -> greeting_rejected",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {
          "greeting": "-ERR <host> service unavailable"}})}),
    S("cp-imap-preauth", "Client ports: IMAP `* PREAUTH` greeting on 143 -> preauth (no STARTTLS "
      "in the authenticated state, RFC 9051 §6.2.1), session plaintext",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "greeting": "* PREAUTH <host> logged in as nobody"}})}),
    S("cp-imap-silent", "Client ports: IMAP connection accepted, no greeting ever -> "
      "greeting_timeout",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {"mode": "silent"}})}),
    # The IMAP and POP3 sessions' caps (a line of 8,192 bytes; an answer of
    # 256 lines or 64 KiB) and total deadline, against real servers.
    S("cp-imap-greeting-long", "Client ports: IMAP `* OK` greeting of 9,000 bytes, over the "
      "8,192-byte line cap -> line_too_long, greeting garbage",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "greeting": "* OK <host> " + "x" * 9000}})}),
    S("cp-imap-capability-long", "Client ports: IMAP `* CAPABILITY` line of 12,000 bytes "
      "(1,100 capabilities) -> line_too_long, STARTTLS not seen",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "capabilities": ["IMAP4rev1", "STARTTLS"] + ["X-CAP-%04d" % i for i in range(1100)]}})}),
    S("cp-imap-capability-lines", "Client ports: IMAP CAPABILITY answered in 301 lines, one "
      "`* CAPABILITY` per capability, over the 256-line answer cap -> reply_too_large",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "capability_split": True,
          "capabilities": ["IMAP4rev1", "STARTTLS"] + ["X-CAP-%03d" % i for i in range(298)]}})}),
    S("cp-imap-capability-bytes", "Client ports: IMAP CAPABILITY answered in 83 lines, 80 of "
      "them 1,000 bytes long, over the 64 KiB answer cap -> reply_too_large",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "capability_split": True,
          "capabilities": ["IMAP4rev1", "STARTTLS"] + ["X-" + "C" * 983 + "%03d" % i
                                                       for i in range(80)]}})}),
    S("cp-imap-tarpit", "Client ports: IMAP greeting trickled one byte per second -> deadline "
      "(no stage goes quiet)",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {"mode": "tarpit"}})}),
    S("cp-pop3-greeting-long", "Client ports: POP3 `+OK` greeting of 9,000 bytes, over the "
      "8,192-byte line cap -> line_too_long, greeting garbage",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {
          "greeting": "+OK <host> " + "x" * 9000}})}),
    S("cp-pop3-capa-lines", "Client ports: POP3 CAPA list of 300 capabilities (302 lines), over "
      "the 256-line answer cap -> reply_too_large",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {
          "capabilities": ["STLS"] + ["X-CAP-%03d" % i for i in range(299)]}})}),
    S("cp-pop3-capa-bytes", "Client ports: POP3 CAPA list of 80 lines of 1,000 bytes, over the "
      "64 KiB answer cap -> reply_too_large",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {
          "capabilities": ["STLS"] + ["X-" + "C" * 995 + "%03d" % i for i in range(80)]}})}),
    S("cp-pop3-tarpit", "Client ports: POP3 greeting trickled one byte per second -> deadline "
      "(no stage goes quiet)",
      client=SRV("pop3"), hosts={"mail": H(services={"pop3": {"mode": "tarpit"}})}),
    S("cp-imaps-alert", "Client ports: imaps handshake aborted with an alert -> tls_failed",
      client=SRV("imaps"), hosts={"mail": H(tls={"alert": True})}),
    S("cp-srv-dot", "Client ports: imaps and pop3s SRV target `.` -> offered false (service "
      "decidedly not offered, RFC 2782, RFC 6186 §3), no targets",
      client={"imaps": [(0, 0, 0, ".")], "pop3s": [(0, 0, 0, ".")]}),
    S("cp-dane-ok", "Client ports: SRV in a signed zone, DANE-EE 3 1 1 TLSA at _993._tcp.<target> "
      "matches -> dane_ok (RFC 7673)",
      client=SRV("imaps"), hosts={"mail": H(tlsa=[(3, 1, 1, "leaf")])}),
    S("cp-dane-no-match", "Client ports: SRV in a signed zone, DANE-EE TLSA with a wrong digest -> "
      "dane_no_match",
      client=SRV("imaps"), hosts={"mail": H(tlsa=[(3, 1, 1, "wrong")])}),
    S("cp-dane-unsigned", "Client ports: SRV in an UNSIGNED zone, TLSA 3 1 1 published -> TLSA not "
      "looked up, dane_not_applicable: RFC 7673 §3.1-3.2 uses TLSA only when the SRV RRset and the "
      "target's addresses are secure; an insecure SRV answer means no DANE at all (as RFC 7672 "
      "for MX), unlike dane_none, a secure lookup that found no TLSA",
      dnssec="insecure", client=SRV("imaps"), hosts={"mail": H(tlsa=[(3, 1, 1, "leaf")])}),
    # One endpoint (address, port, SNI) named by three domains' SRV records:
    # probed once per campaign, judged per domain.
    S("cp-shared-a", "Client ports: shared imaps host, defined here, named by three domains' SRV "
      "records (shared endpoint)",
      client=SRV("imaps", target="mail.cp-shared-a.test."),
      hosts={"mail.cp-shared-a.test.": H(a=["auto"])}),
    S("cp-shared-b", "Client ports: shared imaps host of cp-shared-a (shared endpoint, second domain)",
      client=SRV("imaps", target="mail.cp-shared-a.test.")),
    S("cp-shared-c", "Client ports: shared imaps host of cp-shared-a (shared endpoint, third domain, "
      "unsigned zone: no DANE)",
      dnssec="insecure", client=SRV("imaps", target="mail.cp-shared-a.test.")),
    S("cp-imaps-port-10993", "Client ports: imaps SRV on the nonstandard port 10993 -> implicit TLS "
      "by service, not by port",
      client=SRV("imaps", port=10993)),
    S("cp-imap-capability-bad", "Client ports: IMAP CAPABILITY answered `BAD` -> "
      "capability_rejected (a strict client does not send STARTTLS blind)",
      client=SRV("imap"), hosts={"mail": H(services={"imap": {
          "capability_reply": "BAD command not allowed now"}})}),
    S("cp-imap-tls-reset", "Client ports: IMAP STARTTLS answered OK, then RST after the "
      "ClientHello -> tls_failed",
      client=SRV("imap"), hosts={"mail": H(tls={"reset": True})}),
    S("cp-imaps-preauth", "Client ports: imaps with a `* PREAUTH` greeting inside TLS -> tls_ok, "
      "greeting ok (PREAUTH matters only where STARTTLS is to come)",
      client=SRV("imaps"), hosts={"mail": H(services={"imaps": {
          "greeting": "* PREAUTH <host> logged in as nobody"}})}),
    S("cp-imaps-silent", "Client ports: imaps handshake completes, no greeting inside TLS -> "
      "tls_ok, greeting timeout",
      client=SRV("imaps"), hosts={"mail": H(services={"imaps": {"mode": "silent"}})}),
    S("cp-pop3s-tls12", "Client ports: pop3s server speaks at most TLS 1.2 -> tls_ok, TLSv1.2",
      client=SRV("pop3s"), hosts={"mail": H(tls={"max_version": "TLSv1.2"})}),
    S("cp-srv-dot-mixed", "Client ports: imaps SRV `.` mixed with a real target -> offered true, "
      "the `.` record kept without endpoints",
      client={"imaps": [(0, 0, 0, "."), (10, 1, 993, "mail")]}),
    S("cp-target-nxdomain", "Client ports: imaps SRV target does not exist -> no address "
      "(mx_no_address), dane_not_applicable",
      client=SRV("imaps", target="missing.cp-target-nxdomain.test.")),
    S("cp-srv-bogus", "Client ports: imaps SRV RRset with a broken RRSIG -> SERVFAIL, bogus, "
      "nothing learnt",
      client=SRV("imaps"), break_rrsig=[("_imaps._tcp", "SRV")]),
    S("cp-dane-ta", "Client ports: DANE-TA 2 1 1 on the sent intermediate, leaf names the SRV "
      "target -> dane_ok (RFC 7673: the name checked is the SRV target's)",
      client=SRV("imaps"), hosts={"mail": H(tlsa=[(2, 1, 1, "ta")])}),
    S("cp-dane-pkix-ee", "Client ports: PKIX-EE 1 1 1 on a trusted leaf -> dane_ok (RFC 7673 "
      "allows usages 0 and 1, unlike SMTP's RFC 7672)",
      client=SRV("submissions"), hosts={"mail": H(tlsa=[(1, 1, 1, "leaf")])}),
    S("cp-imaps-ipv6", "Client ports: imaps target with A and AAAA (::1) -> every address an "
      "endpoint, IPv6 included",
      client=SRV("imaps"), hosts={"mail": H(a=["auto"], aaaa=["::1"])}),
    S("cp-pop3-no-tls", "Client ports: POP3 STLS answered +OK, then FIN before the handshake "
      "(no TLS behind it) -> tls_failed",
      client=SRV("pop3"), hosts={"mail": H(cert=None)}),
    S("cp-refused-address", "Client ports: imaps SRV target resolves to 10.0.0.1 -> "
      "refused_address, never contacted",
      client=SRV("imaps"), hosts={"mail": H(a=["10.0.0.1"])}),
    # Client ports of the MX hosts (--client-ports mx): `client_ports` are
    # the services an MX host serves on their standard ports without any
    # SRV record; every other client port of every MX host is closed (the
    # server refuses the connection). Truth field `client_mx`.
    S("cp-mx-imaps-ok", "Client ports on the MX host: 993 with a trusted certificate naming the "
      "MX host, no SRV -> found only with --client-ports mx: tls_ok; the other five ports "
      "refused (connect_failed)",
      mxhost=H(client_ports=["imaps"])),
    S("cp-mx-submissions-expired", "Client ports on the MX host: 465 with an expired "
      "certificate -> tls_ok, errors [expired] (port 25 has the same certificate)",
      mxhost=H(client_ports=["submissions"],
               cert={"not_before_days": -100, "not_after_days": -2})),
    S("cp-mx-submission-no-starttls", "Client ports on the MX host: 587 EHLO without "
      "STARTTLS -> no_starttls",
      mxhost=H(client_ports=["submission"], services={"submission": {
          "ehlo": NO_STARTTLS_EHLO}})),
    S("cp-mx-closed", "Client ports on the MX host: none served -> six connect_failed "
      "(refused), a closed port and not broken TLS"),
    S("cp-mx-srv-shared", "Client ports on the MX host: an imaps SRV record names the MX "
      "host on 993 -> one endpoint, SRV-found and MX-found, probed once",
      client=SRV("imaps", target="mx")),
    S("cp-mx-implicit", "Client ports on the MX host: implicit MX (the domain itself) serving "
      "pop3s on 995 -> SNI the domain",
      apex=H(client_ports=["pop3s"])),
    S("cp-mx-dane", "Client ports on the MX host: signed zone, DANE-EE 3 1 1 at _993._tcp.<mx> "
      "(and _25._tcp) -> dane_ok on 993, dane_none on the closed ports",
      mxhost=H(client_ports=["imaps"], tlsa=[(3, 1, 1, "leaf")])),
    S("cp-mx-unsigned", "Client ports on the MX host: UNSIGNED zone, TLSA 3 1 1 published at "
      "_993._tcp.<mx> -> not looked up (the MX RRset is insecure), dane_not_applicable",
      dnssec="insecure", mxhost=H(client_ports=["imaps"], tlsa=[(3, 1, 1, "leaf")])),
]
