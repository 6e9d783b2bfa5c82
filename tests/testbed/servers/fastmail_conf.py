#!/usr/bin/python3
"""Split servers.json between the C server (fastmail.c) and mailserver.py,
render the C server's configuration, and build its binary.

Which entries fastmail serves: those whose behaviour it has (`supported`):
an IPv4 SMTP entry in `normal` mode (banner, ehlo, helo, starttls_reply,
inject_after_starttls, host, banner_delay, starttls_delay, a tls of
certificate/key/chain and min/max version, or no tls), or an IPv4 HTTPS
entry with a tls of that kind and a policy response (status, content_type,
location, body / body_file / body_size, content_encoding, path), never an
address that records its connections. Scope `population` (the default of
`up --domains`) limits it further to the population's networks
(127.32.0.0/11: self-hosted, provider and MTA-STS endpoints), so every
scenario endpoint stays with mailserver.py as before; scope `all` gives it
every supported entry. Everything else (hostile modes, TLS alert / reset /
slow, trickled bodies, proxies, IPv6, recorded addresses, and every mail
client entry of servers.json's "client" list: submission, IMAP, POP3) is
mailserver.py's, and so is every address one of those uses.

The replies are rendered here by mailserver.py's own functions
(smtp_replies, entry_body, http_head), so both servers send the same bytes
by construction; fastmail.c only routes connections to them.

CONF format (one item a line, read by fastmail.c):
    fastmail-conf 1
    latency RTT_US JITTER_US SLOW_PPM SLOW_US SEED
    port PORT
    blob HEX|-                      ids 0, 1, ... in order
    http ID400 ID404 ID405          fixed error responses (blob ids)
    ctx MIN MAX CHAIN_FILE KEY_FILE  ids 0, 1, ... in order; MIN/MAX as
                                    0x0301..0x0304, MAX 0 = highest
    smtp ADDR PORT CTX BANNER EHLO EHLO_TLS HELO STARTTLS FLAGS BANNER_DELAY_US STARTTLS_DELAY_US
    https ADDR PORT CTX PATH GET HEAD
FLAGS: 1 = the STARTTLS reply is a 220 (TLS follows), 2 = non-220
greeting (503 to all but QUIT), 4 = 421 greeting (close after it).
"""

import hashlib
import ipaddress
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mailserver  # noqa: E402

POPULATION_NET = ipaddress.ip_network("127.32.0.0/11")
SMTP_KEYS = {"addr", "port", "scenario", "mode", "banner", "ehlo", "helo",
             "starttls_reply", "inject_after_starttls", "tls", "host",
             "banner_delay", "starttls_delay"}
HTTPS_KEYS = {"addr", "port", "scenario", "tls", "status", "content_type",
              "location", "body", "body_file", "body_size",
              "content_encoding", "path"}
TLS_KEYS = {"cert_file", "key_file", "chain_file", "min_version", "max_version"}
VERSIONS = {"TLSv1": 0x301, "TLSv1.0": 0x301, "TLSv1.1": 0x302,
            "TLSv1.2": 0x303, "TLSv1.3": 0x304}
CFLAGS = ["-O2", "-g", "-Wall", "-Wextra"]


def _ipv4(addr):
    try:
        return ipaddress.IPv4Address(addr)
    except ValueError:
        return None


def supported(kind, e, record=()):
    """True if fastmail.c has every behaviour entry e asks for. Never a
    mail client entry (kind "client", or any entry with a `service`): IMAP,
    POP3 and implicit TLS are mailserver.py's."""
    if kind not in ("smtp", "https") or "service" in e:
        return False
    a = _ipv4(e.get("addr", ""))
    if a is None or str(a) in record or e.get("record_connections"):
        return False
    tls = e.get("tls")
    if tls is not None and (set(tls) - TLS_KEYS or
                            tls.get("min_version", "TLSv1") not in VERSIONS or
                            tls.get("max_version", "TLSv1.3") not in VERSIONS):
        return False
    if kind == "smtp":
        return not set(e) - SMTP_KEYS and e.get("mode", "normal") == "normal"
    return not set(e) - HTTPS_KEYS and tls is not None


def split(obj, scope="population"):
    """(fast smtp entries, fast https entries, the servers object left to
    mailserver.py)."""
    record = {mailserver.norm_addr(a) for a in obj.get("record_connections", [])}
    if obj.get("postfix", {}).get("addr"):
        record.add(mailserver.norm_addr(obj["postfix"]["addr"]))

    def mine(kind, e):
        if scope == "population":
            a = _ipv4(e.get("addr", ""))
            if a is None or a not in POPULATION_NET:
                return False
        return supported(kind, e, record)
    fast = {"smtp": [], "https": []}
    rest = {k: v for k, v in obj.items() if k not in ("smtp", "https")}
    for kind in ("smtp", "https"):
        rest[kind] = []
        for e in obj.get(kind, []):
            (fast[kind] if mine(kind, e) else rest[kind]).append(e)
    # An address is served by one process only: an address with entries
    # on both sides (another port) goes wholly to mailserver.py.
    py_addrs = {e["addr"] for k in ("smtp", "https", "client") for e in rest.get(k, [])}
    for kind in ("smtp", "https"):
        keep = []
        for e in fast[kind]:
            (rest[kind] if e["addr"] in py_addrs else keep).append(e)
        fast[kind] = keep
    return fast["smtp"], fast["https"], rest


def python_listen(rest):
    """The addresses mailserver.py binds when fastmail holds the IPv4
    wildcard: each IPv4 address of its entries, the recorded ones and
    Postfix's, and the IPv6 wildcard (fastmail has no IPv6)."""
    addrs = set()
    for kind in ("smtp", "https", "client"):
        for e in rest.get(kind, []):
            addrs.add(mailserver.norm_addr(e["addr"]))
    addrs.update(mailserver.norm_addr(a) for a in rest.get("record_connections", []))
    if rest.get("postfix", {}).get("addr"):
        addrs.add(mailserver.norm_addr(rest["postfix"]["addr"]))
    v4 = sorted((a for a in addrs if _ipv4(a) is not None), key=ipaddress.IPv4Address)
    return v4 + ["::"]


def write_conf(path, smtp, https, latency=None):
    """latency: {"rtt", "jitter", "slow_share", "slow_rtt", "seed"} in
    seconds (see up's --latency)."""
    lat = latency or {}
    blobs = {}
    out = []

    def blob(b):
        i = blobs.get(b)
        if i is None:
            i = blobs[b] = len(blobs)
            out.append("blob %s\n" % (b.hex() or "-"))
        return i
    ctxs = {}
    ctx_lines = []

    def ctx(tls):
        if not tls:
            return -1
        chain = tls.get("chain_file") or tls["cert_file"]
        k = (VERSIONS[tls.get("min_version", "TLSv1")],
             VERSIONS[tls["max_version"]] if tls.get("max_version") else 0,
             os.path.abspath(chain), os.path.abspath(tls["key_file"]))
        i = ctxs.get(k)
        if i is None:
            i = ctxs[k] = len(ctxs)
            ctx_lines.append("ctx 0x%x 0x%x %s %s\n" % k)
        return i
    us = lambda s: int(round(float(s or 0) * 1e6))  # noqa: E731
    ports = set()
    entries = []
    for e in smtp:
        r = mailserver.smtp_replies(e)
        code = r["code"]
        flags = (1 if r["starttls_220"] else 0)
        if code is not None and code != "220":
            flags |= 4 if code == "421" else 2
        port = int(e.get("port", 25))
        ports.add(port)
        entries.append("smtp %s %d %d %d %d %d %d %d %d %d %d\n" % (
            e["addr"], port, ctx(e.get("tls")), blob(r["banner"]), blob(r["ehlo"]),
            blob(r["ehlo_tls"]), blob(r["helo"]), blob(r["starttls"]), flags,
            us(e.get("banner_delay")), us(e.get("starttls_delay"))))
    for e in https:
        body = mailserver.entry_body(e)
        status = int(e.get("status", 200))
        headers = mailserver.http_headers(e)
        get = mailserver.http_head(status, body, headers) + body
        head = mailserver.http_head(status, b"", headers)
        port = int(e.get("port", 443))
        ports.add(port)
        entries.append("https %s %d %d %d %d %d\n" % (
            e["addr"], port, ctx(e["tls"]),
            blob(e.get("path", "/.well-known/mta-sts.txt").encode()), blob(get), blob(head)))
    fixed = [blob(mailserver.http_head(s, b, {}) + b)
             for s, b in ((400, b"bad request\n"), (404, b"not found\n"),
                          (405, b"method not allowed\n"))]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("fastmail-conf 1\n")
        f.write("latency %d %d %d %d %d\n" % (
            us(lat.get("rtt")), us(lat.get("jitter")),
            int(round(float(lat.get("slow_share", 0)) * 1e6)), us(lat.get("slow_rtt")),
            int(lat.get("seed", 1))))
        for p in sorted(ports):
            f.write("port %d\n" % p)
        f.writelines(out)
        f.write("http %d %d %d\n" % tuple(fixed))
        f.writelines(ctx_lines)
        f.writelines(entries)
    os.replace(tmp, path)
    return len(smtp) + len(https)


def build(outdir, cc=None):
    """Compile fastmail.c into OUTDIR/fastmail-<hash of source and flags>
    unless that binary exists (a testbed DIR keeps it across `up`s); the
    path of the binary."""
    src = os.path.join(HERE, "fastmail.c")
    cc = cc or os.environ.get("CC") or "cc"
    # e.g. TESTBED_FASTMAIL_CFLAGS="-fsanitize=address,undefined" for a
    # sanitizer run (reports go to DIR/logs/fastmail.out)
    flags = CFLAGS + os.environ.get("TESTBED_FASTMAIL_CFLAGS", "").split()
    with open(src, "rb") as f:
        h = hashlib.sha256(f.read() + " ".join([cc] + flags).encode()).hexdigest()[:12]
    os.makedirs(outdir, exist_ok=True)
    exe = os.path.join(outdir, "fastmail-" + h)
    if os.path.exists(exe):
        return exe
    tmp = exe + ".tmp%d" % os.getpid()
    r = subprocess.run([cc] + flags + ["-o", tmp, src, "-lssl", "-lcrypto"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError("cc fastmail.c failed:\n%s" % r.stdout.decode(errors="replace"))
    os.replace(tmp, exe)
    return exe
