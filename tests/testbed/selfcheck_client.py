#!/usr/bin/python3
"""Mail client ports self-check (M12): independent tools against the truth's
`client` field, for every domain whose scenario is a `cp-*` one.

    tests/testbed/selfcheck_client.py DIR [--jobs N] [--only SCEN,...] [-v]
                                          [--truth FILE] [--report FILE]

DIR is a running testbed (tests/testbed/up DIR); this runs inside its
network namespace. Never compares with mxcrawl. Per service (all six):

  * `dig` through the testbed's validating unbound (selfcheck_dns.status_of:
    AD bit, SERVFAIL re-asked with CD): the SRV RRset, its rcode and DNSSEC
    status, `offered` by RFC 2782's `.` rule; per target the A / AAAA sets
    and status, the TLSA RRset at _PORT._tcp.<target> and its status, and
    `looked_up` (SRV and addresses secure, RFC 7673 §3).

Per contacted endpoint:

  * `openssl s_client` (`-starttls smtp|imap|pop3` for the STARTTLS
    services, plain for implicit TLS; `-servername` and `-verify_hostname`
    the SRV target, `-CAfile` the testbed root, security level 0, TLS 1.0
    and up, `-showcerts`, `-debug` for the plaintext dialogue): handshake
    (outcome tls_ok or not), TLS version, verify errors (trust), name
    match with the SRV target, weak leaf, chain length; STARTTLS in the
    IMAP CAPABILITY / SMTP EHLO; a second run with `-verify_hostname` the
    domain for name_matches_domain.
  * `curl -v --ssl-reqd -k` (imap/pop3/smtp, imaps/pop3s/smtps, with
    `--connect-to` so no name is resolved): the greeting, STARTTLS/STLS
    offered (from CAPABILITY / CAPA / EHLO), refused (`STARTTLS denied`),
    PREAUTH, injection (curl refuses plaintext after the OK to STARTTLS),
    and its own outcome. curl never authenticates here: no credentials are
    given, it stops before LOGIN / USER.
  * `posttls-finger -l secure` on submission (STARTTLS) and submissions
    (`-w`, TLS on connect): handshake, STARTTLS offered, version, and its
    `Verified` verdict (PKIX-valid, names the SRV target).
  * DANE: with the TLSA records dig found on a secure path, s_client's own
    DANE check (`-dane_tlsa_domain` the target, `-dane_tlsa_rrdata`).

The truth's `client_mx` of the cp-mx-* domains (what `mxcrawl scan
--client-ports mx` finds on the MX hosts' standard ports) the same way, the MX host as the name and
the MX RRset in the SRV RRset's place for `looked_up`; a closed port
(`connect_failed`, `refused`) must refuse a plain TCP connection.

A disagreement fails unless it is listed in EXCEPTIONS (README.md,
"Client ports"). Exit 0 = no unexplained disagreement.
"""

import argparse
import concurrent.futures
import json
import os
import re
import socket
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import selfcheck_dns as sd     # noqa: E402
import selfcheck_tls as stls   # noqa: E402

SCLIENT_TIMEOUT = 10.0
CURL_TIMEOUT = 8.0
STARTTLS_PROTO = {"submission": "smtp", "imap": "imap", "pop3": "pop3"}
CURL_SCHEME = {"submissions": "smtps", "submission": "smtp", "imaps": "imaps",
               "imap": "imap", "pop3s": "pop3s", "pop3": "pop3"}
IMPLICIT = {"submissions", "imaps", "pop3s"}


def _scen(*names):
    return lambda c: c["t"]["scenario"] in names


# (id, reason, oracles, checks, condition on the context). Each is explained
# in README.md ("Client ports", Exceptions).
EXCEPTIONS = [
    ("C1", "s_client -starttls pop3 sends STLS blind (no CAPA), so it cannot see "
     "whether STLS is offered; curl reads CAPA and is the oracle for it",
     {"s_client"}, {"starttls_offered"}, lambda c: c["svc"] == "pop3"),
    ("C2", "curl refuses to go on after plaintext injected behind the OK to "
     "STARTTLS/STLS (CVE-2021-22947), so it reports no handshake; the truth "
     "(a crawler) discards the bytes and completes TLS, as s_client does",
     {"curl"}, {"outcome"}, lambda c: bool((c.get("probe") or {}).get("injection"))),
    ("C3", "s_client sends STARTTLS blind when CAPABILITY / EHLO gave no list "
     "(\"Didn't find STARTTLS in server response, trying anyway\"); a strict client "
     "does not, so the truth says capability_rejected and no handshake",
     {"s_client"}, {"handshake", "starttls_offered"},
     lambda c: (c.get("probe") or {}).get("outcome") == "capability_rejected"),
    ("C4", "the line cap (8,192 bytes) and the answer caps (256 lines, 64 KiB) are the "
     "crawler's own bounds on what it reads; s_client and curl read on past them (or stop "
     "at limits of their own, curl rc 56), so their handshake, outcome and greeting say "
     "nothing about the cap; that the server's line is over the cap is checked instead "
     "(curl: longest_line)",
     {"s_client", "curl"}, {"handshake", "outcome", "greeting"},
     lambda c: (c.get("probe") or {}).get("outcome") in ("line_too_long", "reply_too_large")),
    ("C5", "curl has one overall limit (--max-time) and no stage timers: a greeting trickled "
     "a byte a second ends for it as a greeting timeout with no line read; the crawler's "
     "stage timer restarts with every byte, so its total deadline ends the session, before "
     "any greeting (null)",
     {"curl"}, {"outcome", "greeting"},
     lambda c: (c.get("probe") or {}).get("outcome") == "deadline"),
]
# The crawler's line cap (README.md, "Mail client ports"): a line longer
# than this (its CRLF not counted) is line_too_long.
LINE_MAX = 8192


def exception_for(oracle, check, ctx):
    for eid, reason, oracles, checks, when in EXCEPTIONS:
        if oracle in oracles and check in checks and when(ctx):
            return "%s %s" % (eid, reason)
    return None


# ------------------------------------------------------------------ tools

def s_client(ca, svc, ip, port, sni, verify_name, tlsa=()):
    """tlsa: TLSA rdata strings (from dig) for s_client's own DANE check
    (-dane_tlsa_domain the SRV target, RFC 7673 via OpenSSL's DANE)."""
    target = "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)
    argv = ["openssl", "s_client", "-connect", target, "-servername", sni,
            "-verify_hostname", verify_name, "-CAfile", ca,
            "-cipher", "ALL:@SECLEVEL=0", "-min_protocol", "TLSv1",
            "-showcerts", "-debug"]
    if tlsa:
        argv += ["-dane_tlsa_domain", sni]
        for rr in tlsa:
            argv += ["-dane_tlsa_rrdata", rr]
    if svc in STARTTLS_PROTO:
        argv[2:2] = ["-starttls", STARTTLS_PROTO[svc]]
    out, to, rc = stls.run(argv, SCLIENT_TIMEOUT)
    r = stls.parse_s_client(out, to)
    r["plain"] = plaintext_reads(out)
    m = re.search(r"^Verify return code: (\d+)", out, re.M)
    r["verify_code"] = int(m.group(1)) if m else None
    r["dane_matched"] = bool(re.search(r"^DANE TLSA .* matched", out, re.M))
    return r


HEX_LINE = re.compile(r"^[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})")


def plaintext_reads(out):
    """The server's bytes read before the client's first TLS record, from
    s_client -debug's hex dumps: [(direction, bytes)]."""
    blocks = []
    cur = None
    for line in out.splitlines():
        if line.startswith("read from ") or line.startswith("write to "):
            cur = ["r" if line.startswith("read") else "w", bytearray()]
            blocks.append(cur)
            continue
        m = HEX_LINE.match(line)
        if m and cur is not None:
            cur[1] += bytes(int(x, 16) for x in re.findall(r"[0-9a-f]{2}", m.group(1)))
        elif not m:
            cur = None
    plain = []
    for d, b in blocks:
        if d == "w" and b[:1] == b"\x16":
            break               # the ClientHello: TLS from here on
        plain.append((d, bytes(b)))
    return plain


def tcp_refused(ip, port):
    """Whether a plain TCP connection to ip:port is refused (a closed
    port), rather than accepted."""
    try:
        socket.create_connection((ip, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return None
    return False


def posttls_finger(env, ca, svc, ip, port, host):
    """Postfix's own client on the SMTP services: `-w` (TLS on connect) for
    submissions, STARTTLS for submission; `-l secure` with the SRV target
    as the name to match. A literal [ip]:port: no name is resolved."""
    dest = "[%s]:%d" % (ip, port)
    argv = ["posttls-finger", "-l", "secure", "-F", ca, "-s", host, "-t", "5", "-T", "5"]
    if svc in IMPLICIT:
        argv.append("-w")
    out, to, rc = stls.run(argv + [dest, host], 15.0, env)
    return stls.parse_ptf(out, to)


def curl(svc, ip, port, host):
    scheme = CURL_SCHEME[svc]
    addr = "[%s]" % ip if ":" in ip else ip
    argv = ["curl", "-sv", "-k", "--max-time", "6", "--connect-to",
            "%s:%d:%s:%d" % (host, port, addr, port), "%s://%s:%d/" % (scheme, host, port)]
    if svc not in IMPLICIT:
        argv.insert(2, "--ssl-reqd")
    out, to, rc = stls.run(argv, CURL_TIMEOUT)
    return parse_curl(svc, out, rc)


def parse_curl(svc, out, rc):
    proto = {"submissions": "smtp", "submission": "smtp", "imaps": "imap", "imap": "imap",
             "pop3s": "pop3", "pop3": "pop3"}[svc]
    lines = [l.rstrip("\r") for l in out.splitlines()]
    server = [l[2:] for l in lines if l.startswith("< ")]
    msgs = [l[2:] for l in lines if l.startswith("* ")]
    r = {"raw": out[-2500:], "rc": rc, "greeting": None, "starttls_offered": None,
         "outcome": None, "injection": None,
         "longest_line": max((len(l) for l in server), default=0)}
    tls = any(m.startswith("SSL connection using") for m in msgs)
    if server:
        g = server[0]
        if proto == "imap":
            r["greeting"] = "ok" if re.match(r"\* (OK|PREAUTH)\b", g, re.I) else \
                "rejected" if re.match(r"\* BYE\b", g, re.I) else "garbage"
        elif proto == "pop3":
            r["greeting"] = "ok" if g.startswith("+OK") else \
                "rejected" if g.startswith("-ERR") else "garbage"
        else:
            r["greeting"] = "ok" if g.startswith("220") else \
                "rejected" if re.match(r"[45]\d\d", g) else "garbage"
    elif rc == 28:
        r["greeting"] = "timeout"
    elif rc == 8 or any("binary" in m.lower() or "weird server reply" in m.lower()
                        for m in msgs):
        r["greeting"] = "garbage"
    if svc in IMPLICIT:
        r["outcome"] = "tls_ok" if tls else ("connection_reset" if rc == 56 and any(
            "reset" in m.lower() for m in msgs) else "tls_failed")
        return r
    # STARTTLS services: the capability list curl read
    if proto == "imap":
        caps = [w.upper() for s in server for w in s.split()[2:]
                if re.match(r"\* CAPABILITY\b", s, re.I)]
        greet_caps = re.search(r"\[CAPABILITY ([^\]]*)\]", server[0], re.I) if server else None
        if greet_caps:
            caps += greet_caps.group(1).upper().split()
        word = "STARTTLS"
    elif proto == "pop3":
        caps = []
        if any(s.startswith("+OK Capability") or s == "." for s in server):
            caps = [s.split()[0].upper() for s in server if s and not s.startswith(("+OK", "-ERR"))
                    and s != "."]
        word = "STLS"
    else:
        caps = [s[4:].strip().split(" ")[0].upper() for s in server
                if re.match(r"250[- ]", s)]
        word = "STARTTLS"
    seen_caps = bool(caps) or any(re.match(r"\S+ OK CAPABILITY", s) for s in server) or \
        any(s == "." for s in server) or any(re.match(r"250 ", s) for s in server)
    if seen_caps:
        r["starttls_offered"] = word in caps
    preauth = any("PREAUTH connection" in m for m in msgs)
    # The answer to the capability command, as curl printed it: a refusal
    # (IMAP tagged NO/BAD, POP3 -ERR to CAPA, SMTP EHLO 5xx) is no list.
    cap_refused = any(re.match(r"\S+ (NO|BAD)\b", s) for s in server) and proto == "imap" \
        and not any(re.match(r"\* CAPABILITY\b", s, re.I) for s in server) or \
        proto == "pop3" and len(server) > 1 and server[1].startswith("-ERR") or \
        proto == "smtp" and len(server) > 1 and re.match(r"5\d\d", server[1]) is not None
    ok_to_starttls = [i for i, s in enumerate(server)
                      if re.match(r"(\S+ OK\b|\+OK Begin|220 )", s) and i > 0 and
                      any(re.match(r"> (\S+ )?(STARTTLS|STLS)$", l, re.I) for l in lines)]
    if r["greeting"] in ("rejected",):
        r["outcome"] = "greeting_rejected"
    elif r["greeting"] == "timeout":
        r["outcome"] = "greeting_timeout"
    elif r["greeting"] == "garbage":
        r["outcome"] = "protocol_error"
    elif preauth:
        r["outcome"] = "preauth"
    elif cap_refused:
        r["outcome"] = "capability_rejected"
        r["starttls_offered"] = None
    elif any(m.startswith("STARTTLS denied") for m in msgs):
        r["outcome"] = "starttls_rejected"
    elif any(re.match(r"(STLS|STARTTLS) not (supported|available)", m) for m in msgs):
        r["outcome"] = "no_starttls"
    elif tls:
        r["outcome"] = "tls_ok"
    elif ok_to_starttls and rc == 8:
        r["outcome"] = "injection"      # curl stops: plaintext after the OK
        r["injection"] = True
    elif rc == 35:
        r["outcome"] = "tls_failed"
    else:
        r["outcome"] = "unknown(rc %d)" % rc
    if tls and r["injection"] is None and ok_to_starttls:
        r["injection"] = False
    return r


# ---------------------------------------------------------------- checking

class Checker:
    def __init__(self, d, verbose=False):
        self.d = d
        self.verbose = verbose
        env = stls.load_env(d)
        self.ca = env.get("MXCRAWL_CA_FILE") or os.path.join(d, "pki", "ca", "root.crt")
        self.rows = []
        # posttls-finger reads main.cf from MAIL_CONFIG; never /etc/postfix.
        pfdir = os.path.join(d, "oracle", "posttls-finger-client")
        os.makedirs(pfdir, exist_ok=True)
        with open(os.path.join(pfdir, "main.cf"), "w") as f:
            f.write("# posttls-finger settings for the client-port self-check\n"
                    "compatibility_level = 3.6\n"
                    "myhostname = oracle.testbed.invalid\n"
                    "mydomain = testbed.invalid\n")
        self.pf_env = dict(os.environ, MAIL_CONFIG=pfdir, LC_ALL="C")

    def cmp(self, errs, ctx, oracle, check, truth, seen):
        row = {"domain": ctx["t"]["domain"], "service": ctx["svc"], "oracle": oracle,
               "check": check, "truth": truth, "tool": seen, "ip": ctx.get("ip")}
        self.rows.append(row)
        if truth == seen or (isinstance(truth, str) and "|" in truth and seen in truth.split("|")):
            return
        exc = exception_for(oracle, check, ctx)
        if exc:
            row["exception"] = exc
            return
        errs.append("%s %s %s%s: %s truth %r, tool %r" % (
            ctx["t"]["scenario"], ctx["svc"], ("%s " % ctx["ip"]) if ctx.get("ip") else "",
            oracle, check, truth, seen))

    def check_domain(self, t):
        errs = []
        for svc, c in t["client"].items():
            ctx = {"t": t, "svc": svc}
            srv = c["srv"]
            st, ans = sd.status_of(srv["name"], "SRV")
            self.cmp(errs, ctx, "dig", "srv_rcode", srv["rcode"], ans.rcode)
            self.cmp(errs, ctx, "dig", "srv_dnssec", srv["dnssec"], st)
            recs = []
            for _, _, rdata in ans.of("SRV"):
                p = rdata.split()
                tgt = p[3].lower().rstrip(".") or "."
                recs.append({"priority": int(p[0]), "weight": int(p[1]), "port": int(p[2]),
                             "target": tgt})
            key = lambda r: (r["priority"], r["weight"], r["target"], r["port"])  # noqa: E731
            self.cmp(errs, ctx, "dig", "srv_records", sorted(srv["records"], key=key),
                     sorted(recs, key=key))
            offered = None if not recs else not (len(recs) == 1 and recs[0]["target"] == ".")
            if ans.rcode in ("NOERROR", "NXDOMAIN"):
                self.cmp(errs, ctx, "dig", "offered", srv["offered"], offered)
            for tg in c["targets"]:
                errs += self.check_target(t, svc, srv, tg, st)
        return errs + self.check_mx(t)

    def check_mx(self, t):
        """`client_mx`: per service and MX host, as an SRV target with the
        MX RRset's status for the path. Only the cp-mx-* scenarios (every
        other cp-* MX host has six closed ports, the same case again)."""
        errs = []
        if not t.get("client_mx") or not t["scenario"].startswith("cp-mx-"):
            return errs
        mx_status, _ = sd.status_of(t["domain"], "MX")
        for svc, hosts in t["client_mx"].items():
            for hm in hosts:
                errs += self.check_target(t, svc, None, hm, mx_status, mx=True)
        return errs

    def check_target(self, t, svc, srv, tg, srv_status, mx=False):
        """mx: tg is an MX host of `client_mx`; a closed port's endpoint is
        checked with a plain TCP connection."""
        errs = []
        ctx = {"t": t, "svc": svc}
        fam_status = {}
        for fam, qtype in (("a", "A"), ("aaaa", "AAAA")):
            st, ans = sd.status_of(tg["host"], qtype)
            fam_status[fam] = st
            self.cmp(errs, ctx, "dig", fam + "_dnssec", tg[fam]["dnssec"], st)
            if st not in ("bogus", "indeterminate"):
                got = sorted(r[2] for r in ans.of(qtype))
                self.cmp(errs, ctx, "dig", fam + "_addresses", sorted(tg[fam]["addresses"]), got)
        if tg["tlsa"] is not None:
            st, ans = sd.status_of(tg["tlsa"]["name"], "TLSA")
            self.cmp(errs, ctx, "dig", "tlsa_dnssec", tg["tlsa"]["dnssec"], st)
            got = sorted(" ".join(r[2].split()[:3]) + " " + "".join(r[2].split()[3:]).lower()
                         for r in ans.of("TLSA"))
            self.cmp(errs, ctx, "dig", "tlsa_records", sorted(tg["tlsa"]["records"]), got)
            looked_up = srv_status == "secure" and all(
                fam_status[f] == "secure" for f in ("a", "aaaa")
                if tg[f]["addresses"] or not tg["addresses_partial"])
            self.cmp(errs, ctx, "dig", "tlsa_looked_up", tg["tlsa"]["looked_up"], looked_up)
            tlsa_ok = st not in ("bogus", "indeterminate")
        else:
            looked_up, got, tlsa_ok = False, [], True
        contacted = [ep for ep in tg["endpoints"] if ep["contact"]]
        for ep in contacted:
            if mx and ep["probe"]["outcome"] == "connect_failed":
                self.cmp(errs, dict(ctx, ip=ep["ip"]), "connect", "refused",
                         ep["probe"]["conn"] == "refused", tcp_refused(ep["ip"], ep["port"]))
                continue
            errs += self.check_endpoint(t, svc, tg, ep)
        # DANE (RFC 7673): only on a secure path; with TLSA records from dig,
        # s_client's own DANE verification (OpenSSL: usages 0-3, DANE-EE
        # ignores names and dates, DANE-TA checks the name) decides.
        if not looked_up or not contacted:
            dane = "dane_not_applicable"
        elif not tlsa_ok:
            dane = "dane_tlsa_bogus"
        elif not got:
            dane = "dane_none"
        elif any(ep["probe"]["outcome"] != "tls_ok" for ep in contacted):
            dane = None         # no TLS to verify: not this oracle's case
        else:
            ep = contacted[0]
            sc = s_client(self.ca, svc, ep["ip"], ep["port"], tg["host"], tg["host"], got)
            dane = "dane_ok" if sc["dane_matched"] and sc["verify_code"] == 0 else "dane_no_match"
        if dane is not None:
            self.cmp(errs, ctx, "s_client-dane" if dane in ("dane_ok", "dane_no_match")
                     else "dig", "dane", tg["dane"], dane)
        return errs

    def check_endpoint(self, t, svc, tg, ep):
        errs = []
        probe, cert = ep["probe"], ep["cert"]
        ctx = {"t": t, "svc": svc, "ip": ep["ip"], "probe": probe}
        host, domain = tg["host"], t["domain"]
        sc = s_client(self.ca, svc, ep["ip"], ep["port"], host, host)
        tls_ok = probe["outcome"] == "tls_ok"
        self.cmp(errs, ctx, "s_client", "handshake", tls_ok, sc["handshake"])
        if tls_ok and sc["handshake"]:
            self.cmp(errs, ctx, "s_client", "version", probe["tls"]["version"], sc["version"])
            self.cmp(errs, ctx, "s_client", "errors", sorted(cert["errors"]), sc["errors"])
            self.cmp(errs, ctx, "s_client", "name_matches_host", cert["name_matches_host"],
                     sc["name_ok"])
            self.cmp(errs, ctx, "s_client", "weak", sorted(cert["weak"]), sc["weak"])
            self.cmp(errs, ctx, "s_client", "chain_len", cert["chain_len"], sc["chain_len"])
            self.cmp(errs, ctx, "s_client", "trusted", cert["trusted"],
                     not sc["errors"] and not sc["weak"])
            scd = s_client(self.ca, svc, ep["ip"], ep["port"], host, domain)
            self.cmp(errs, ctx, "s_client", "name_matches_domain", cert["name_matches_domain"],
                     scd["handshake"] and scd["name_ok"])
        if svc in ("imap", "submission", "pop3") and probe["starttls_offered"] is not None:
            self.cmp(errs, ctx, "s_client", "starttls_offered", probe["starttls_offered"],
                     sc["starttls_offered"])
        if svc in ("imap", "pop3") and probe["injection"] is not None and sc["plain"]:
            # the read answering STARTTLS/STLS: more than one line = injected
            reads = [b for d, b in sc["plain"] if d == "r"]
            last = reads[-1] if reads else b""
            self.cmp(errs, ctx, "s_client", "injection", probe["injection"],
                     last.count(b"\r\n") > 1)
        if svc in ("submission", "submissions"):
            pf = posttls_finger(self.pf_env, self.ca, svc, ep["ip"], ep["port"], host)
            self.cmp(errs, ctx, "posttls-finger", "handshake", tls_ok, pf["handshake"])
            if svc == "submission" and probe["starttls_offered"] is not None:
                self.cmp(errs, ctx, "posttls-finger", "starttls_offered",
                         probe["starttls_offered"], pf["starttls_offered"])
            if tls_ok and pf["handshake"]:
                self.cmp(errs, ctx, "posttls-finger", "version", probe["tls"]["version"],
                         pf["version"])
                # Verified = PKIX-valid and the leaf names the SRV target.
                self.cmp(errs, ctx, "posttls-finger", "verified",
                         not cert["errors"] and cert["name_matches_host"] and not cert["weak"],
                         pf["trust"] == "Verified")
        cu = curl(svc, ep["ip"], ep["port"], host)
        if probe["greeting"] is not None or cu["greeting"] is not None:
            self.cmp(errs, ctx, "curl", "greeting", probe["greeting"], cu["greeting"])
        if probe["outcome"] == "line_too_long" and cu["longest_line"]:
            # The server really sends a line over the cap (curl reads on).
            self.cmp(errs, ctx, "curl", "longest_line", True, cu["longest_line"] > LINE_MAX)
        if cu["outcome"] == "injection":
            self.cmp(errs, ctx, "curl", "injection", probe["injection"], True)
        self.cmp(errs, ctx, "curl", "outcome", probe["outcome"], cu["outcome"])
        if svc not in IMPLICIT and probe["starttls_offered"] is not None:
            self.cmp(errs, ctx, "curl", "starttls_offered", probe["starttls_offered"],
                     cu["starttls_offered"])
        if self.verbose:
            print("%s %s %s:%d s_client=%s curl=%s" % (t["scenario"], svc, ep["ip"], ep["port"],
                                                      sc["handshake"], cu["outcome"]))
        return errs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--truth", help="truth file to check (default DIR's)")
    ap.add_argument("--report", help="write every comparison as JSON here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    d = os.path.abspath(args.dir)
    only = set(args.only.split(",")) if args.only else None
    truths = []
    with open(args.truth or os.path.join(d, "truth.jsonl")) as f:
        for line in f:
            if '"scenario": "cp-' not in line:
                continue
            t = json.loads(line)
            if only is None or t["scenario"] in only:
                truths.append(t)
    if not truths:
        print("selfcheck_client: no cp-* domain in the truth")
        return 1
    c = Checker(d, args.verbose)
    errs = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        for res in ex.map(c.check_domain, truths):
            errs += res
    for e in errs:
        print("DISAGREE " + e)
    excs = sorted({r["exception"].split()[0] for r in c.rows if r.get("exception")})
    n_ep = sum(len(tg["endpoints"]) for t in truths for s in t["client"].values()
               for tg in s["targets"]) + \
        sum(len(h["endpoints"]) for t in truths if t["scenario"].startswith("cp-mx-")
            for s in (t.get("client_mx") or {}).values() for h in s)
    print("selfcheck_client: %d domains, %d endpoints, %d comparisons, %d disagreements, "
          "exceptions used: %s" % (len(truths), n_ep, len(c.rows), len(errs),
                                   ", ".join(excs) or "none"))
    if args.report:
        with open(args.report, "w") as f:
            json.dump(c.rows, f, indent=1, default=str)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
