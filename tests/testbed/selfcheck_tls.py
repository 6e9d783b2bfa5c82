#!/usr/bin/python3
"""TLS / SMTP / MTA-STS self-check: independent tools against the truth.

    tests/testbed/selfcheck_tls.py DIR [--jobs N] [--only SCEN,...] [-v]
                                       [--report FILE]

DIR is a running testbed (tests/testbed/up DIR), and this runs inside its
network namespace.  For every contacted SMTP endpoint of every domain in
DIR/truth.jsonl:

  * `openssl s_client -starttls smtp` (SNI and -verify_hostname = MX host,
    -CAfile = the testbed CA, security level 0, TLS 1.0 and up),
  * `posttls-finger -l secure -F CA [IP]:25 MXHOST` (Postfix's own client),

and for every MX host whose DANE status the truth knows, `posttls-finger
-l dane-only [MXHOST]`; for every domain with an MTA-STS TXT record,
`mta-sts-query DOMAIN`.  Tools that resolve names run under `unshare -m`
with DIR's resolv.conf bind-mounted on /etc/resolv.conf (checked inside
the mount namespace before the tool starts).  Every tool has a timeout and
an output cap.

Each verdict (STARTTLS offered, STARTTLS reply, handshake, TLS version,
trust errors, name match, weak key/signature, chain length, DANE outcome,
MTA-STS result) is compared with the truth.  A disagreement fails unless
it is listed in EXCEPTIONS below, each explained in tests/testbed/README.md
("Oracle exceptions (TLS, SMTP, MTA-STS)").  Exit 0 = no unexplained
disagreement.
"""

import argparse
import ast
import concurrent.futures
import json
import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True

# Documented exceptions (README.md, "Oracle exceptions (TLS, SMTP,
# MTA-STS)").  Each applies to some oracles and checks, where a condition on
# the truth holds (so generated population domains are covered too), or to
# named scenarios where the truth has no field for the condition.
LEGACY_TLS = ("TLSv1", "TLSv1.1")


def _ep_legacy(c):
    ep = c.get("ep")
    eps = [ep] if ep else [e for e in c["h"]["endpoints"] if e.get("smtp")]
    return any(((e.get("smtp") or {}).get("tls") or {}).get("version") in LEGACY_TLS
               for e in eps)


def _ep_sha1(c):
    return "sha1" in ((c.get("ep") or {}).get("cert") or {}).get("weak", [])


def _ep_cn_only(c):
    return bool(((c.get("ep") or {}).get("cert") or {}).get("cn_only"))


def _ep_long_path(c):
    # Over Postfix's verify depth: a leaf and more than 9 CAs sent (the
    # padding of cert-chain-100 is no part of the path and does not count).
    cert = (c.get("ep") or {}).get("cert") or {}
    return cert.get("chain_len", 0) > 10 and c["t"]["scenario"] != "cert-chain-100"


def _scen(*names):
    return lambda c: c["t"]["scenario"] in names


EXCEPTIONS = [
    ("E1", "OpenSSL X509_check_host accepts partial wildcards by default",
     {"s_client"}, {"name"}, _scen("cert-wildcard-partial")),
    ("E2", "Postfix pins OpenSSL security level 1: no TLS 1.0/1.1 (RFC 8996)",
     {"posttls-finger", "posttls-finger-dane"}, {"handshake", "version", "dane"},
     _ep_legacy),
    ("E3", "mta-sts-query does not check the TXT id syntax (RFC 8461 §3.1)",
     {"mta-sts-query"}, {"result"},
     lambda c: c["t"]["mta_sts"]["txt"] == "invalid" and c["t"]["mta_sts"].get("id") is not None),
    ("E4", "aiohttp decodes Content-Encoding: gzip before mta-sts-query sees it",
     {"mta-sts-query"}, {"result"},
     lambda c: c["t"]["mta_sts"].get("fetch") == "content_encoding"),
    ("E5", "s_client looks for the STARTTLS keyword case-sensitively",
     {"s_client"}, {"starttls_offered"}, _scen("smtp-ehlo-lowercase")),
    ("E6", "Postfix cuts reply lines at line_length_limit (2048) and then ignores the EHLO keywords",
     {"posttls-finger"}, {"handshake", "version", "starttls_code"}, _scen("smtp-ehlo-5k-line")),
    ("E7", "Postfix (security level 1) rejects SHA-1 signed certificates as untrusted",
     {"posttls-finger"}, {"verdict"}, _ep_sha1),
    ("E8", "OpenSSL's X509_check_host and Postfix match the subject CN of a leaf "
     "without a DNS SAN; RFC 9525 §6.3 never uses the CN",
     {"s_client", "posttls-finger"}, {"name", "verdict"}, _ep_cn_only),
    ("E9", "posttls-finger verifies at most 9 CAs under the leaf (Postfix's "
     "smtp_tls_scert_verifydepth, which it does not read from main.cf); OpenSSL's "
     "default depth is 100",
     {"posttls-finger"}, {"verdict"}, _ep_long_path),
]


def exception_for(oracle, check, ctx):
    for eid, reason, oracles, checks, when in EXCEPTIONS:
        if oracle in oracles and check in checks and when(ctx):
            return "%s %s" % (eid, reason)
    return None


HERE = os.path.dirname(os.path.abspath(__file__))
OUT_CAP = 1 << 20           # bytes of tool output kept
SCLIENT_TIMEOUT = 8.0
PTF_TIMEOUT = 15.0
STS_TIMEOUT = 15.0

OSSL_ERR = {2: "unknown_issuer", 20: "unknown_issuer", 21: "unknown_issuer",
            18: "self_signed", 19: "self_signed_in_chain", 10: "expired",
            9: "not_yet_valid", 7: "bad_signature"}
OSSL_NAME = 62
OSSL_WEAK = {66: "rsa_lt_2048", 67: "rsa_lt_2048", 68: "sha1"}
# Outcomes where the server's EHLO reply (hence "STARTTLS offered") is seen.
EHLO_SEEN = {"starttls_ok", "no_starttls", "starttls_rejected", "tls_failed",
             "ehlo_rejected"}


# ------------------------------------------------------------ utilities

def load_env(d):
    env = {}
    with open(os.path.join(d, "testbed.env")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or line.startswith("export "):
                continue
            k, _, v = line.partition("=")
            vals = shlex.split(v)
            env[k] = vals[0] if vals else ""
    return env


def run(argv, timeout, env=None, cap=OUT_CAP):
    """Run argv (in its own session), return (output, timed_out, rc).
    Output capped at `cap` bytes; on timeout or cap the process group we
    started is killed."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    out = bytearray()
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if not sel.select(left):
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        if len(out) < cap:
            out += chunk[:cap - len(out)]
        if len(out) >= cap:
            break
    if not timed_out and len(out) < cap:
        # EOF: the tool is exiting; give it the rest of its deadline.
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    rc = p.wait()
    sel.close()
    p.stdout.close()
    return out.decode("latin-1"), timed_out, rc


class Oracles:
    def __init__(self, d, env):
        self.d = d
        self.ca = env.get("MXCRAWL_CA_FILE") or os.path.join(d, "pki", "ca", "root.crt")
        self.resolv = env.get("TESTBED_RESOLV_CONF") or os.path.join(d, "dns", "resolv.conf")
        self.pfdir = os.path.join(d, "oracle", "posttls-finger")
        os.makedirs(self.pfdir, exist_ok=True)
        # posttls-finger reads main.cf from MAIL_CONFIG; never /etc/postfix.
        with open(os.path.join(self.pfdir, "main.cf"), "w") as f:
            f.write("# posttls-finger settings for the testbed self-check\n"
                    "compatibility_level = 3.6\n"
                    "myhostname = oracle.testbed.invalid\n"
                    "mydomain = testbed.invalid\n"
                    "smtp_dns_support_level = dnssec\n")
        self.env = dict(os.environ, MAIL_CONFIG=self.pfdir,
                        SSL_CERT_FILE=self.ca, LC_ALL="C")
        self.env.pop("SSL_CERT_DIR", None)

    def with_resolv(self, argv):
        """argv run in a private mount namespace whose /etc/resolv.conf is
        the testbed's; exit 99 when the bind mount did not take effect."""
        script = ('mount --bind "$1" /etc/resolv.conf 2>/dev/null && '
                  'cmp -s "$1" /etc/resolv.conf || { echo "RESOLV-MOUNT-FAILED"; exit 99; }; '
                  'shift; exec "$@"')
        return ["unshare", "-m", "sh", "-c", script, "sh", self.resolv] + argv

    def check_mount(self):
        out, _, rc = run(self.with_resolv(["cat", "/etc/resolv.conf"]), 10, self.env)
        with open(self.resolv) as f:
            want = f.read()
        if rc != 0 or out != want:
            raise SystemExit("selfcheck_tls: resolv.conf bind mount did not take "
                             "effect (rc %d): %r" % (rc, out[:200]))

    # -------------------------------------------------------- s_client

    def s_client(self, ip, host):
        target = "[%s]:25" % ip if ":" in ip else "%s:25" % ip
        argv = ["openssl", "s_client", "-starttls", "smtp", "-connect", target,
                "-servername", host, "-verify_hostname", host,
                "-CAfile", self.ca, "-cipher", "ALL:@SECLEVEL=0",
                "-min_protocol", "TLSv1", "-showcerts"]
        out, to, rc = run(argv, SCLIENT_TIMEOUT, self.env)
        return parse_s_client(out, to)

    # -------------------------------------------------- posttls-finger

    def ptf_secure(self, ip, host):
        dest = "[ipv6:%s]:25" % ip if ":" in ip else "[%s]:25" % ip
        argv = ["posttls-finger", "-l", "secure", "-F", self.ca, "-s", host,
                "-t", "5", "-T", "5", dest, host]
        out, to, rc = run(self.with_resolv(argv), PTF_TIMEOUT, self.env)
        if "RESOLV-MOUNT-FAILED" in out:
            raise RuntimeError("resolv.conf mount failed")
        return parse_ptf(out, to)

    def ptf_dane(self, host, family):
        argv = ["posttls-finger", "-l", "dane-only", "-a", family, "-F", self.ca,
                "-t", "5", "-T", "5", "[%s]:25" % host]
        out, to, rc = run(self.with_resolv(argv), PTF_TIMEOUT, self.env)
        if "RESOLV-MOUNT-FAILED" in out:
            raise RuntimeError("resolv.conf mount failed")
        r = parse_ptf(out, to)
        r["dane"] = dane_class(out, r)
        return r

    # --------------------------------------------------- mta-sts-query

    def mta_sts(self, domain):
        out, to, rc = run(self.with_resolv(["mta-sts-query", domain]),
                          STS_TIMEOUT, self.env)
        if "RESOLV-MOUNT-FAILED" in out:
            raise RuntimeError("resolv.conf mount failed")
        return parse_sts(out, to)


# -------------------------------------------------------------- parsers

def norm_version(v):
    return {"TLSv1.0": "TLSv1", "TLSv1": "TLSv1"}.get(v, v)


def parse_s_client(out, timed_out):
    r = {"raw": out[-3000:], "timed_out": timed_out}
    r["connected"] = "CONNECTED(" in out
    r["starttls_offered"] = "Didn't find STARTTLS" not in out
    m = re.search(r"^New, (TLSv[\d.]+|SSLv3), Cipher is (\S+)", out, re.M)
    r["handshake"] = bool(m and m.group(2) != "(NONE)")
    # "New, TLSv1.0, Cipher is X" names the cipher's version; the session's
    # protocol is on the "Protocol  :" line (absent for some TLS 1.3 runs).
    p = re.search(r"^\s*Protocol\s*:\s*(TLSv[\d.]+|SSLv3)", out, re.M)
    r["version"] = (norm_version(p.group(1) if p else m.group(1))
                    if r["handshake"] else None)
    codes = {int(x) for x in re.findall(r"verify error:num=(\d+):", out)}
    r["verify_codes"] = sorted(codes)
    r["errors"] = sorted({OSSL_ERR.get(c, "other_%d" % c) for c in codes
                          if c != OSSL_NAME and c not in OSSL_WEAK})
    r["name_ok"] = OSSL_NAME not in codes
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      out, re.S)
    r["chain_len"] = len(pems)
    r["weak"] = weak_of(pems[0]) if pems else None
    return r


def weak_of(pem):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    cert = x509.load_pem_x509_certificate(pem.encode())
    weak = []
    if isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size < 2048:
        weak.append("rsa_lt_2048")
    try:
        h = cert.signature_hash_algorithm
        if h is not None and h.name in ("sha1", "md5"):
            weak.append(h.name)
    except Exception:
        pass
    return sorted(weak)


PTF_ERR = [
    (r"certificate has expired", "expired"),
    (r"certificate (is )?not yet valid", "not_yet_valid"),
    (r"self-signed certificate in certificate chain", "self_signed_in_chain"),
    (r"self[- ]signed certificate", "self_signed"),
    (r"untrusted issuer", "untrusted_issuer"),
    (r"unable to get local issuer certificate|unable to get issuer certificate|"
     r"unable to verify the first certificate", "unknown_issuer"),
    (r"certificate signature failure", "bad_signature"),
    (r"num=62:", "name_mismatch"),
    (r"num=68:|num=66:|num=67:", "weak"),
    (r"num=65:", "dane_no_match"),
]


def parse_ptf(out, timed_out):
    r = {"raw": out[-3000:], "timed_out": timed_out}
    lines = [l.split("posttls-finger: ", 1)[1] if "posttls-finger: " in l else l
             for l in out.splitlines()]
    r["connected"] = any(l.startswith("Connected to") for l in lines)
    banner = [l for l in lines if l.startswith("< ")]
    r["banner_code"] = int(banner[0][2:5]) if banner and banner[0][2:5].isdigit() else None
    r["starttls_offered"] = any(re.match(r"< 250[- ]STARTTLS\b", l, re.I) for l in lines)
    r["starttls_code"] = None
    for i, l in enumerate(lines):
        if l.strip() == "> STARTTLS":
            nxt = [x for x in lines[i + 1:] if x.startswith("< ")]
            if nxt and nxt[0][2:5].isdigit():
                r["starttls_code"] = int(nxt[0][2:5])
            break
    m = re.search(r"(Verified|Trusted|Untrusted|Anonymous) TLS connection established "
                  r"to .*?: (TLSv[\d.]+|SSLv3) with cipher", out)
    r["handshake"] = bool(m)
    r["trust"] = m.group(1) if m else None
    r["version"] = norm_version(m.group(2)) if m else None
    err = None
    m2 = re.search(r"certificate verification failed for \S+: (.*)$", out, re.M)
    if m2:
        err = "other:" + m2.group(1)[:80]
        for pat, name in PTF_ERR:
            if re.search(pat, m2.group(1)):
                err = name
                break
    r["error"] = err
    r["tls_failure"] = bool(re.search(r"SSL_connect error|TLS library problem", out))
    return r


def dane_class(out, r):
    if "TLSA lookup error" in out or "TLSA lookup problem" in out:
        return "dane_tlsa_bogus"
    if "no TLSA records found" in out:
        return "no_dane"
    if "no usable TLSA records found" in out or "all TLSA records unusable" in out:
        return "dane_unusable_only"
    if r["connected"] and not r["starttls_offered"]:
        return "dane_no_starttls"
    if r["trust"] == "Verified":
        return "dane_ok"
    if r["trust"] in ("Untrusted", "Trusted"):
        return "dane_no_match"
    if r["connected"]:
        return "dane_no_starttls"      # STARTTLS refused or handshake failed
    return "no_connection"


def parse_sts(out, timed_out):
    r = {"raw": out[-2000:], "timed_out": timed_out}
    m = re.search(r"\(<STSFetchResult\.(\w+): \d+>, (.*)\)\s*$", out, re.S)
    r["result"] = m.group(1) if m else ("TIMEOUT" if timed_out else "NO_OUTPUT")
    r["policy"] = None
    if m and r["result"] == "VALID":
        try:
            pid, pol = ast.literal_eval(m.group(2))
            r["id"] = pid
            r["policy"] = pol
        except (ValueError, SyntaxError):
            r["result"] = "UNPARSED"
    return r


# ------------------------------------------------------------- compare

class Report:
    def __init__(self):
        self.rows = []

    def cmp(self, ctx, oracle, check, where, truth, seen, raw=None):
        domain, scen = ctx["t"]["domain"], ctx["t"]["scenario"]
        agree = truth == seen
        exc = None if agree else exception_for(oracle, check, ctx)
        self.rows.append({"domain": domain, "scenario": scen, "oracle": oracle,
                          "check": check, "where": where, "truth": truth,
                          "oracle_says": seen, "agree": agree, "exception": exc,
                          "raw": None if agree else raw})

    def failures(self):
        return [r for r in self.rows if not r["agree"] and not r["exception"]]


def compare_endpoint(rep, t, h, ep, sc, pf):
    ctx = {"t": t, "h": h, "ep": ep}
    where = "%s %s" % (h["host"], ep["ip"])
    sm = ep["smtp"]
    hs_truth = sm["outcome"] == "starttls_ok"
    cert = ep.get("cert")
    for name, o in (("s_client", sc), ("posttls-finger", pf)):
        if o is None:
            continue
        raw = o["raw"]
        if sm["outcome"] in EHLO_SEEN and sm.get("banner_code") == 220 \
                and sm["starttls_offered"] is not None:
            rep.cmp(ctx, name, "starttls_offered", where,
                    sm["starttls_offered"], o["starttls_offered"], raw)
        rep.cmp(ctx, name, "handshake", where, hs_truth, o["handshake"], raw)
        if hs_truth:
            rep.cmp(ctx, name, "version", where,
                    norm_version(sm["tls"]["version"]), o["version"], raw)
    if pf is not None:
        if sm.get("banner_code") is not None and pf["connected"]:
            rep.cmp(ctx, "posttls-finger", "banner_code", where,
                    sm["banner_code"], pf["banner_code"], pf["raw"])
        if sm["starttls_offered"] and sm.get("starttls_code") is not None:
            rep.cmp(ctx, "posttls-finger", "starttls_code", where,
                    sm["starttls_code"], pf["starttls_code"], pf["raw"])
    if not hs_truth or not cert:
        return
    # -- certificate verdicts
    if sc is not None and sc["handshake"]:
        rep.cmp(ctx, "s_client", "errors", where, sorted(cert["errors"]),
                sc["errors"], sc["raw"])
        rep.cmp(ctx, "s_client", "name", where, cert["name_matches_mx"],
                sc["name_ok"], sc["raw"])
        rep.cmp(ctx, "s_client", "weak", where, sorted(cert.get("weak", [])),
                sc["weak"], sc["raw"])
        rep.cmp(ctx, "s_client", "chain_len", where, cert["chain_len"],
                sc["chain_len"], sc["raw"])
    if pf is not None and pf["handshake"]:
        errs = set(cert["errors"])
        weak = set(cert.get("weak", []))
        e = pf["error"]
        if e is None:
            seen = "verified"
        elif e == "untrusted_issuer":
            seen = "untrusted:" + ("|".join(sorted(errs & {"unknown_issuer", "self_signed_in_chain"}))
                                   or "untrusted_issuer")
        elif e == "weak":
            seen = "weak:" + ("sha1" if "sha1" in weak else "?")
        else:
            seen = e
        # What Postfix must say, from the truth: its first verification
        # error, or "verified".  OpenSSL reports trust-path errors first,
        # then the name.  (Weak digests are facts apart in the truth, so a
        # Postfix "too weak" verdict is a disagreement: see E7.)
        if errs:
            order = ["bad_signature", "self_signed", "self_signed_in_chain",
                     "unknown_issuer", "expired", "not_yet_valid"]
            first = [x for x in order if x in errs]
            want = first[0] if first else sorted(errs)[0]
            if want in ("unknown_issuer", "self_signed_in_chain"):
                want = "untrusted:" + "|".join(sorted(errs & {"unknown_issuer",
                                                              "self_signed_in_chain"}))
            if seen in errs:        # any of the truth's errors is fine
                want = seen
        elif not cert["name_matches_mx"]:
            want = "name_mismatch"
        else:
            want = "verified"
        rep.cmp(ctx, "posttls-finger", "verdict", where, want, seen, pf["raw"])


def compare_dane(rep, t, h, r):
    truth = h["dane"]
    if truth in ("dane_none", "dane_not_applicable"):
        truth = "no_dane"
    rep.cmp({"t": t, "h": h}, "posttls-finger-dane", "dane", h["host"],
            truth, r["dane"], r["raw"])


def compare_sts(rep, t, r):
    s = t["mta_sts"]
    if s["txt"] == "dns_error":
        want = "FETCH_ERROR"   # mta-sts-query reports a failed lookup so
    elif s["txt"] != "valid":
        want = "NONE"
    elif s["fetch"] != "ok" or s["policy"] != "valid":
        want = "FETCH_ERROR"
    else:
        want = "VALID"
    rep.cmp({"t": t}, "mta-sts-query", "result", t["domain"],
            want, r["result"], r["raw"])
    if want == "VALID" and r["result"] == "VALID" and r["policy"]:
        p = r["policy"]
        rep.cmp({"t": t}, "mta-sts-query", "mode", t["domain"],
                s["mode"], p.get("mode"), r["raw"])
        rep.cmp({"t": t}, "mta-sts-query", "max_age", t["domain"],
                s["max_age"], p.get("max_age"), r["raw"])
        if s["mode"] != "none":
            rep.cmp({"t": t}, "mta-sts-query", "mx", t["domain"],
                    sorted(x.lower() for x in s["mx_patterns"]),
                    sorted(x.lower() for x in p.get("mx", [])), r["raw"])
        rep.cmp({"t": t}, "mta-sts-query", "id", t["domain"],
                s["id"], r.get("id"), r["raw"])


# ---------------------------------------------------------------- main

def plan(truth, only):
    """Jobs: endpoint checks (deduplicated by ip+host), DANE hosts, STS."""
    eps, dane, sts = {}, {}, {}
    for t in truth:
        if only and t["scenario"] not in only:
            continue
        mx_secure = t["dns"]["mx"]["dnssec"] == "secure"
        for h in t["mx"]:
            if not h.get("kept", True):
                continue
            contact = [ep for ep in h["endpoints"] if ep.get("contact") and ep.get("smtp")]
            for ep in contact:
                eps.setdefault((ep["ip"], h["host"]), []).append((t, h, ep))
            # DANE through [host]: the oracle never sees the MX RRset, so
            # only where the MX RRset is secure (or implicit) and every
            # address may be contacted.
            if (h.get("tlsa") and h["endpoints"] and len(contact) == len(h["endpoints"])
                    and (mx_secure or t.get("implicit_mx")) and h["address_outcome"] == "ok"):
                dane.setdefault(h["host"], []).append((t, h))
        s = t["mta_sts"]
        if s["txt"] != "none" or s.get("txt_records"):
            if s.get("host_refused"):
                continue        # never contact the refused address
            sts[t["domain"]] = t
    return eps, dane, sts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--population", type=int, default=None, metavar="N",
                    help="check only the first N generated population domains "
                         "(scenario domains are always checked)")
    ap.add_argument("--report", help="write every comparison as JSON lines here")
    ap.add_argument("--truth", help="compare with this file instead of the "
                    "testbed's truth (e.g. a crawler's verdicts in the truth's "
                    "format: a differential test)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    d = os.path.abspath(args.dir)
    env = load_env(d)
    with open(args.truth or env.get("TESTBED_TRUTH") or os.path.join(d, "truth.jsonl")) as f:
        truth = [json.loads(l) for l in f if l.strip()]
    only = set(args.only.split(",")) if args.only else None
    if args.population is not None:
        pop = [t for t in truth if t["scenario"].startswith("pop-")]
        keep = {id(t) for t in pop[:args.population]}
        truth = [t for t in truth if not t["scenario"].startswith("pop-") or id(t) in keep]
    O = Oracles(d, env)
    O.check_mount()
    eps, dane, sts = plan(truth, only)
    t0 = time.monotonic()
    rep = Report()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        f_eps = {k: (ex.submit(O.s_client, *k), ex.submit(O.ptf_secure, *k))
                 for k in eps}
        f_dane = {}
        for host, lst in dane.items():
            h = lst[0][1]
            fam = "ipv4" if h["a"]["addresses"] else "ipv6"
            f_dane[host] = ex.submit(O.ptf_dane, host, fam)
        f_sts = {dom: ex.submit(O.mta_sts, dom) for dom in sts}
        for k, (fs, fp) in f_eps.items():
            sc, pf = fs.result(), fp.result()
            for t, h, ep in eps[k]:
                compare_endpoint(rep, t, h, ep, sc, pf)
        for host, f in f_dane.items():
            r = f.result()
            for t, h in dane[host]:
                compare_dane(rep, t, h, r)
        for dom, f in f_sts.items():
            compare_sts(rep, sts[dom], f.result())
    dt = time.monotonic() - t0
    if args.report:
        with open(args.report, "w") as f:
            for r in rep.rows:
                f.write(json.dumps(r) + "\n")
    fails = rep.failures()
    excused = [r for r in rep.rows if not r["agree"] and r["exception"]]
    used = {r["exception"] for r in excused}
    for r in fails:
        print("DISAGREE %-14s %-16s %-28s %s: truth=%s oracle=%s"
              % (r["oracle"], r["check"], r["scenario"], r["where"],
                 json.dumps(r["truth"]), json.dumps(r["oracle_says"])))
        if args.verbose:
            print("    " + (r["raw"] or "").strip().replace("\n", "\n    ")[-1500:])
    for r in excused:
        if args.verbose:
            print("excused  %-14s %-16s %-28s truth=%s oracle=%s [%s]"
                  % (r["oracle"], r["check"], r["scenario"], json.dumps(r["truth"]),
                     json.dumps(r["oracle_says"]), r["exception"].split(" ")[0]))
    stale = sorted({e[0] for e in EXCEPTIONS} - {u.split(" ")[0] for u in used})
    if stale and not only:
        print("note: exceptions not needed this run: %s" % ", ".join(stale))
    print("selfcheck_tls: %d endpoints, %d DANE hosts, %d MTA-STS domains; "
          "%d comparisons, %d agree, %d documented exceptions, %d disagreements (%.1fs)"
          % (len(eps), len(dane), len(sts), len(rep.rows),
             sum(r["agree"] for r in rep.rows), len(excused), len(fails), dt))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
