#!/usr/bin/python3
"""DNS self-check: independent tools (dig via the testbed resolver: AD bit,
rcode, EDE; delv: its own validation from the testbed root key) against the
ground truth, for every domain's DNS facts.

    tests/testbed/selfcheck_dns.py DIR [--jobs N] [--limit N] [-v]

DIR is a running testbed (tests/testbed/up DIR).  Exit status 0 when every
fact agrees or the disagreement is a documented exception (EXCEPTIONS below,
explained in tests/testbed/README.md); 1 otherwise.
"""

import argparse
import concurrent.futures
import ipaddress
import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build    # noqa: E402
import dnsgen   # noqa: E402

RESOLVER = dnsgen.RESOLVER_ADDR

# (scenario, check) -> reason.  Every entry is explained in README.md
# ("Documented oracle exceptions").
EXCEPTIONS = {}


def run(argv, timeout=15):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        return ((e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes)
                else (e.stdout or "")) + "\n;; TOOL TIMEOUT\n"


TXT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unescape(s):
    def rep(m):
        t = m.group(1)
        if t.isdigit():
            return chr(int(t))
        return t
    return re.sub(r"\\(\d{3}|.)", rep, s)


class Answer:
    def __init__(self, text):
        self.text = text
        m = re.search(r"status: ([A-Z]+)", text)
        self.rcode = m.group(1) if m else "timeout"
        m = re.search(r";; flags: ([a-z ]*);", text)
        self.flags = set(m.group(1).split()) if m else set()
        self.ede = [int(x) for x in re.findall(r"; EDE: (\d+)", text)]
        self.rrs = []
        for line in text.splitlines():
            if not line or line.startswith(";"):
                continue
            parts = line.split(None, 4)
            if len(parts) == 5 and parts[2] == "IN":
                self.rrs.append((parts[0].lower(), parts[3], parts[4]))

    def of(self, rtype):
        return [r for r in self.rrs if r[1] == rtype]

    def txts(self):
        return sorted("".join(_unescape(x) for x in TXT_RE.findall(r[2])) for r in self.of("TXT"))


def dig(name, qtype, cd=False, extra=()):
    # Two tries: on a loaded 2-core box one UDP answer (e.g. the TC answer
    # of mx-large before dig's TCP retry) can take longer than a try.
    argv = ["dig", "+dnssec", "+time=4", "+tries=2", "+noall", "+comments", "+answer",
            "@" + RESOLVER, name, qtype]
    if cd:
        argv.append("+cd")
    argv += list(extra)
    return Answer(run(argv))


def status_of(name, qtype):
    """(status, Answer) as the crawler is meant to classify it (README.md,
    crawler/dns/resolver.h): a SERVFAIL is bogus with an EDE 6-12, or when the
    CD query answers and a repeat without CD fails again; a repeat that
    answers is the answer."""
    a = dig(name, qtype)
    if a.rcode in ("NOERROR", "NXDOMAIN"):
        return ("secure" if "ad" in a.flags else "insecure"), a
    if a.rcode == "SERVFAIL":
        if any(6 <= e <= 12 for e in a.ede):
            return "bogus", a
        c = dig(name, qtype, cd=True)
        if c.rcode not in ("NOERROR", "NXDOMAIN"):
            return "indeterminate", a
        again = dig(name, qtype)
        if again.rcode == "SERVFAIL":
            return "bogus", a
        if again.rcode in ("NOERROR", "NXDOMAIN"):
            return ("secure" if "ad" in again.flags else "insecure"), again
        return "indeterminate", a
    return "indeterminate", a


def delv_status(anchor, name, qtype):
    out = run(["delv", "@" + RESOLVER, "-a", anchor, "+root=.", name, qtype], timeout=20)
    if "TOOL TIMEOUT" in out:
        return "indeterminate", out
    if "; fully validated" in out or "negative response, fully validated" in out:
        return "secure", out
    if "; unsigned answer" in out or "negative response, unsigned answer" in out:
        return "insecure", out
    if re.search(r"resolution failed: (failure|no valid|broken trust chain|"
                 r"insecurity proof failed|RRSIG|DNSKEY|signature|bad)", out):
        return "bogus|indeterminate", out
    return "indeterminate", out


def alt(expected, got):
    """Truth values may list alternatives: "SERVFAIL|timeout"."""
    if expected is None:
        return True
    exp = set(str(expected).split("|"))
    gs = set(str(got).split("|"))
    return bool(exp & gs)


class Checker:
    def __init__(self, d, verbose=False):
        self.d = d
        self.verbose = verbose
        self.anchor = os.path.join(d, "dns", "delv-anchor.conf")
        with open(os.path.join(d, "dns", "root.key")) as f:
            parts = f.read().split()
        # ". IN DS tag alg dtype digest"
        with open(self.anchor, "w") as f:
            f.write('trust-anchors { . static-ds %s %s %s "%s"; };\n' % tuple(parts[3:7]))

    def check_domain(self, t):
        errs = []
        name = t["scenario"]

        def bad(check, exp, got):
            if (name, check) in EXCEPTIONS:
                return
            errs.append("%s [%s] %s: truth=%r tool=%r" % (t["domain"], name, check, exp, got))

        dom = t["domain"]
        mx_truth = t["dns"]["mx"]
        st, a = status_of(dom, "MX")
        if not alt(mx_truth["rcode"], a.rcode):
            bad("mx rcode (dig)", mx_truth["rcode"], a.rcode)
        if not alt(mx_truth["dnssec"], st):
            bad("mx dnssec (dig AD/CD)", mx_truth["dnssec"], st)
        if mx_truth.get("ede") == "6-12" and not any(6 <= e <= 12 for e in a.ede):
            bad("mx EDE 6-12", mx_truth.get("ede"), a.ede)
        dst, dout = delv_status(self.anchor, dom, "MX")
        if not alt(mx_truth["dnssec"], dst):
            bad("mx dnssec (delv)", mx_truth["dnssec"], dst + " " + dout.strip().splitlines()[0][:120]
                if dout.strip() else dst)
        if a.rcode == "NOERROR":
            cn = [r[2].rstrip(".").lower() for r in a.of("CNAME")]
            if cn != t["apex_cname"]:
                bad("apex CNAME chain", t["apex_cname"], cn)
            got = []
            for r in a.of("MX"):
                p, h = r[2].split()
                got.append((int(p), h.rstrip(".").lower() or "."))
            if len(got) != t["mx_count"]:
                bad("mx count", t["mx_count"], len(got))
            if t["implicit_mx"] and got:
                bad("implicit MX means NODATA", [], got)
            want_hosts = sorted((h["preference"], h["host"]) for h in t["mx"]) \
                if not t["implicit_mx"] else []
            got_hosts = sorted(x for x in got if x[1] != ".")
            if want_hosts != got_hosts:
                bad("mx hosts", want_hosts, got_hosts)
            if bool([x for x in got if x[1] == "."]) != t["null_mx"]:
                bad("null MX", t["null_mx"], got)
            if t.get("large_answer"):
                small = dig(dom, "MX", extra=["+bufsize=1232", "+ignore"])
                if "tc" not in small.flags:
                    bad("large answer sets TC over UDP/1232", True, sorted(small.flags))
        for h in t["mx"]:
            if not h.get("kept", True):
                continue
            self.check_host(t, h, bad)
        self.check_sts(t, bad)
        return errs

    def check_host(self, t, h, bad):
        host = h["host"]
        for rtype, key in (("A", "a"), ("AAAA", "aaaa")):
            st, a = status_of(host, rtype)
            want = h[key]
            addrs = sorted(r[2].lower() for r in a.of(rtype))
            if h["address_outcome"] == "dns_error":
                if want["dnssec"] and not alt(want["dnssec"], st):
                    bad("%s %s dnssec" % (host, rtype), want["dnssec"], st)
                continue
            if sorted(x.lower() for x in want["addresses"]) != addrs:
                bad("%s %s addresses" % (host, rtype), want["addresses"], addrs)
            if want["dnssec"] and not alt(want["dnssec"], st):
                bad("%s %s dnssec (dig)" % (host, rtype), want["dnssec"], st)
            cn = [r[2].rstrip(".").lower() for r in a.of("CNAME")]
            if cn != h.get("cname", []):
                bad("%s CNAME chain" % host, h.get("cname"), cn)
            if rtype == "A" and want["dnssec"]:
                dst, _ = delv_status(self.anchor, host, "A")
                if not alt(want["dnssec"], dst):
                    bad("%s A dnssec (delv)" % host, want["dnssec"], dst)
        tl = h.get("tlsa")
        if tl:
            st, a = status_of(tl["name"], "TLSA")
            if not alt(tl["dnssec"], st):
                bad("%s TLSA dnssec" % tl["name"], tl["dnssec"], st)
            if st == "bogus":
                a = dig(tl["name"], "TLSA", cd=True)
            got = sorted(" ".join(r[2].split()[:3]) + " " + "".join(r[2].split()[3:]).lower()
                         for r in a.of("TLSA"))
            if got != sorted(x.lower() for x in tl["records"]):
                bad("%s TLSA records" % tl["name"], tl["records"], got)

    def check_sts(self, t, bad):
        sts = t.get("mta_sts") or {}
        dom = t["domain"]
        if "txt_records" in sts:
            _, a = status_of("_mta-sts." + dom, "TXT")
            if sorted(a.txts()) != sorted(sts["txt_records"]):
                bad("_mta-sts TXT", sts["txt_records"], a.txts())
            if sts.get("txt_cname"):
                cn = [r[2].rstrip(".").lower() for r in a.of("CNAME")]
                if cn != [sts["txt_cname"]]:
                    bad("_mta-sts CNAME", sts["txt_cname"], cn)
            _, a = status_of(sts["host"], "A")
            got = sorted(r[2] for r in a.of("A"))
            if got != sorted(sts["host_addresses"]):
                bad("mta-sts host A", sts["host_addresses"], got)
        rpt = t.get("tlsrpt") or {}
        if "txt_records" in rpt:
            _, a = status_of("_smtp._tls." + dom, "TXT")
            if sorted(a.txts()) != sorted(rpt["txt_records"]):
                bad("_smtp._tls TXT", rpt["txt_records"], a.txts())

    def check_canaries(self, env):
        errs = []
        st, a = status_of(env["MXCRAWL_CANARY_SECURE"], "A")
        if st != "secure":
            errs.append("secure canary %s: %s" % (env["MXCRAWL_CANARY_SECURE"], st))
        st, a = status_of(env["MXCRAWL_CANARY_BOGUS"], "A")
        if st != "bogus" or not any(6 <= e <= 12 for e in a.ede):
            errs.append("bogus canary %s: %s EDE %s" % (env["MXCRAWL_CANARY_BOGUS"], st, a.ede))
        return errs

    def check_addresses(self, truths):
        """Safety: non-loopback addresses appear in DNS data only where the
        truth says the crawler must refuse them; the only loopback address
        outside the allow list is the recording listener's."""
        allowed_foreign = set()
        for t in truths:
            for h in t["mx"]:
                for ep in h["endpoints"]:
                    if ep["refused"]:
                        allowed_foreign.add(ep["ip"])
            for svc in (t.get("client") or {}).values():
                for tg in svc["targets"]:
                    for ep in tg["endpoints"]:
                        if ep["refused"]:
                            allowed_foreign.add(ep["ip"])
            sts = t.get("mta_sts") or {}
            if sts.get("host_refused"):
                allowed_foreign.update(sts["host_addresses"])
        errs = []
        zdir = os.path.join(self.d, "dns", "zones")
        for fn in os.listdir(zdir):
            if not fn.endswith((".zone", ".signed")):
                continue
            with open(os.path.join(zdir, fn)) as f:
                for line in f:
                    p = line.split()
                    if len(p) >= 5 and p[3] in ("A", "AAAA") and p[2] == "IN":
                        ip = ipaddress.ip_address(p[4])
                        if ip.is_loopback and not build.address_refused(p[4]):
                            continue
                        if p[4] not in allowed_foreign:
                            errs.append("%s: %s %s %s not in a refusing scenario" %
                                        (fn, p[0], p[3], p[4]))
        return errs


def load_env(d):
    env = {}
    with open(os.path.join(d, "testbed.env")) as f:
        for line in f:
            m = re.match(r"^([A-Z_0-9]+)=(.*)$", line.strip())
            if m:
                v = m.group(2)
                if v.startswith("'") and v.endswith("'"):
                    v = v[1:-1]
                env[m.group(1)] = v
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--limit", type=int, default=0,
                    help="check only the first N domains (large populations)")
    ap.add_argument("--sample", type=int, default=0,
                    help="check the scenario domains plus a random sample of N "
                         "population domains (fixed seed)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    d = os.path.abspath(args.dir)
    env = load_env(d)
    truths = []
    import random
    rng = random.Random(7)
    reservoir, seen = [], 0
    with open(env["TESTBED_TRUTH"]) as f:
        for line in f:
            if args.sample and '"scenario": "pop-' in line:
                # reservoir sampling over raw lines: a 1M truth file is never
                # parsed whole
                seen += 1
                if len(reservoir) < args.sample:
                    reservoir.append(line)
                else:
                    j = rng.randrange(seen)
                    if j < args.sample:
                        reservoir[j] = line
                continue
            truths.append(json.loads(line))
            if args.limit and len(truths) >= args.limit:
                break
    truths += [json.loads(x) for x in reservoir]
    c = Checker(d, args.verbose)
    errs = c.check_canaries(env)
    errs += c.check_addresses(truths)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        for res in ex.map(c.check_domain, truths):
            errs += res
    for e in errs:
        print("DISAGREE " + e)
    print("selfcheck_dns: %d domains, %d disagreements, %d documented exceptions" %
          (len(truths), len(errs), len(EXCEPTIONS)))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
