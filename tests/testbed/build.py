#!/usr/bin/python3
"""Turn scenario definitions into the testbed: DNS records, server entries
(servers.json), certificates (through pki.py) and the ground truth.

The truth is computed from the scenario definition only (its structure plus
its explicit `expect` overrides); no tool is run against the testbed to make
it.  Field meanings: tests/testbed/README.md, "Truth file".
"""

import copy
import ipaddress
import json
import os
import re
import sys

import dnsgen
from dnsgen import fqdn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "servers"))
import mailserver  # noqa: E402

MX_CAP = 16                 # hosts a crawler keeps (the rest: truncated)
SMTP_NET = ipaddress.ip_network("127.20.0.0/16")     # default scenarios, SMTP
HTTPS_NET = ipaddress.ip_network("127.30.0.0/16")    # default scenarios, HTTPS
CLIENT_NET = ipaddress.ip_network("127.22.0.0/16")   # default scenarios, SRV targets
FORBIDDEN_ADDR = "127.200.0.25"   # loopback, outside TESTBED_ALLOW_CIDR
ALLOW_CIDR = "127.0.0.0/10,::1/128"
TLDS = ["test.", "example."]      # TLDs of the default set (plus population)
# Names a scanner may give in EHLO (mxcrawl scan --ehlo-name), not
# targets and in no scenario: one resolves to the addresses a crawler on
# loopback connects from (both families: a scan's first connection may go
# to an IPv6 MX host), one to another loopback address (inside
# ALLOW_CIDR, never listened on, never contacted); a name under the zone
# that does not exist has none.
EHLO_ZONE = "scanner.test."
EHLO_HERE = {"here.scanner.test.": ("127.0.0.1", "::1")}
EHLO_ELSEWHERE = {"elsewhere.scanner.test.": "127.54.0.25"}
STS_MAX_BODY = 64 * 1024

REFUSED_NETS = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",
    "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    "2001:db8::/32", "64:ff9b::/96")]
ALLOW_NETS = [ipaddress.ip_network(n) for n in ALLOW_CIDR.split(",")]


def address_refused(addr):
    """True if a crawler run with --allow-cidr TESTBED_ALLOW_CIDR must refuse
    to contact addr (private / reserved space not covered by the allow list)."""
    ip = ipaddress.ip_address(addr)
    if any(ip in n for n in ALLOW_NETS if n.version == ip.version):
        return False
    return any(ip in n for n in REFUSED_NETS if n.version == ip.version) or \
        not ip.is_global


# ---------------------------------------------------------------- name matching

def name_matches(pattern, host):
    """RFC 6125 / 9525 dNSName match: case-insensitive, trailing dot ignored,
    wildcard only as the whole left-most label matching exactly one label."""
    p = pattern.lower().rstrip(".")
    h = host.lower().rstrip(".")
    if p.startswith("*."):
        rest = p[2:]
        if "*" in rest or "." not in rest:
            return False
        parts = h.split(".", 1)
        return len(parts) == 2 and parts[1] == rest and parts[0] != ""
    if "*" in p:
        return False        # partial wildcards never match
    return p == h


def sts_pattern_matches(pattern, host):
    """RFC 8461 §4.1: `*.` matches exactly one extra left-most label."""
    return name_matches(pattern, host)


# ---------------------------------------------------------------- world

class World:
    """Everything generated for one testbed."""

    def __init__(self, directory, pki=None, latency=None):
        self.dir = directory
        self.pki = pki
        self.latency = latency or {}
        self.zones = {}
        self.records = []          # (owner, type, rdata, ttl)
        self.smtp = []
        self.https = []
        self.record_connections = [FORBIDDEN_ADDR]
        self.postfix = None
        self.hosts = {}            # host name -> info, across scenarios
        self.truth = []
        self.targets = []
        self._next_smtp = int(SMTP_NET.network_address) + 1
        self._next_https = int(HTTPS_NET.network_address) + 1
        self._next_client = int(CLIENT_NET.network_address) + 1
        self.client = []           # servers.json "client" entries
        self.client_keys = {}      # (addr, port) -> service served there
        self.client_hosts = {}     # (addr, port) -> (host info, host) serving it
        self.client_mx_later = []  # (builder, truth, MX hosts, MX status)
        self.tlsa_done = {}        # TLSA owner of an SRV target -> records
        self.extra_zone_text = {}  # apex -> list of file paths appended
        self.add_zone(".", "secure", ns_addr=dnsgen.ROOT_NS_ADDR)
        for t in TLDS:
            self.add_zone(t, "secure", ns_addr=dnsgen.TLD_NS_ADDR)

    # -- DNS
    def add_zone(self, apex, state="secure", ns_addr=dnsgen.ZONE_NS_ADDR,
                 break_rrsig=()):
        apex = fqdn(apex).lower()
        if apex in self.zones:
            z = self.zones[apex]
            if z.state != state:
                raise ValueError("zone %s defined twice with different states" % apex)
            z.break_rrsig |= set((fqdn(o).lower(), t.upper()) for o, t in break_rrsig)
            return z
        z = dnsgen.Zone(apex, state, ns_addr, break_rrsig)
        self.zones[apex] = z
        return z

    def rr(self, owner, rtype, rdata, ttl=dnsgen.DEFAULT_TTL):
        self.records.append((fqdn(owner).lower(), rtype.upper(), rdata, ttl))

    def zone_of(self, name):
        name = fqdn(name).lower()
        labels = name.split(".")
        for i in range(len(labels)):
            cand = ".".join(labels[i:]) or "."
            if cand in self.zones:
                return self.zones[cand]
        return self.zones["."]

    def zone_state(self, z):
        """DNSSEC status of data in zone z: the worst state on the chain of
        zones from the root down (below an insecure delegation everything
        is insecure)."""
        chain = [z]
        while z.apex != ".":
            z = self.zone_of(z.apex.split(".", 1)[1] or ".")
            chain.append(z)
        for z in reversed(chain):
            if z.state == "insecure":
                return "insecure"
            if z.state in ("lame", "timeout"):
                return "indeterminate"
            if z.state.startswith("bogus"):
                return "bogus"
        return "secure"

    def name_status(self, name, rtype=None):
        """DNSSEC status a validating resolver gives an answer at name."""
        z = self.zone_of(name)
        st = self.zone_state(z)
        if st == "secure" and rtype == "AAAA" and z.state == "drop-aaaa":
            return "indeterminate"      # its server never answers AAAA
        if st == "secure" and rtype and (
                (fqdn(name).lower(), rtype) in z.break_rrsig or ("*", "*") in z.break_rrsig):
            return "bogus"
        return st

    def alloc_smtp(self):
        a = str(ipaddress.ip_address(self._next_smtp))
        self._next_smtp += 1
        return a

    def alloc_client(self):
        a = str(ipaddress.ip_address(self._next_client))
        self._next_client += 1
        return a

    def alloc_https(self):
        a = str(ipaddress.ip_address(self._next_https))
        self._next_https += 1
        return a

    # -- output
    def finish_truth(self):
        """What each domain's truth can only say once every scenario is
        built: `client_mx` (ScenarioBuilder.client_mx_truth)."""
        for b, t, hosts, mxst in self.client_mx_later:
            t["client_mx"] = b.client_mx_truth(hosts, mxst)
        self.client_mx_later = []

    def distribute(self):
        """File every record into its zone. The EHLO names come here, in the
        world whose zones are written, not in the scratch worlds population
        templates are made in (their records would leak into a template)."""
        self.add_zone(EHLO_ZONE, "secure")
        for name, addrs in {**EHLO_HERE, **EHLO_ELSEWHERE}.items():
            for addr in [addrs] if isinstance(addrs, str) else addrs:
                self.rr(name, "AAAA" if ":" in addr else "A", addr)
        for owner, rtype, rdata, ttl in self.records:
            z = self.zone_of(owner)
            z.add(owner, rtype, rdata, ttl)

    def tlds(self):
        return sorted({a.split(".")[-2] + "." for a in self.zones if a != "."})


# ---------------------------------------------------------------- scenarios

def _abs(name, domain):
    """Scenario names: '@' = the domain, 'x' = x.<domain>, 'x.' absolute."""
    if name == "@":
        return domain
    if name.endswith("."):
        return name.lower()
    return (name + "." + domain).lower()


def _txt(s):
    """One TXT RR's rdata from a Python string (split in 255-byte chunks)."""
    b = s.encode()
    chunks = [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
    out = []
    for c in chunks:
        out.append('"' + c.decode().replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(out)


def _merge(base, over):
    """Deep merge of expect dicts (lists and scalars replace)."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


TLS_RANK = {"TLSv1": 0, "TLSv1.0": 0, "TLSv1.1": 1, "TLSv1.2": 2, "TLSv1.3": 3}


def max_age_truth(value):
    """What a served max_age value is, RFC 8461 §3.2: (the value as a number
    when it is digits only and fits in 63 bits, else None; the text as
    served; valid: 1*10DIGIT and at most 31557600)."""
    text = str(value)
    number = int(text) if re.fullmatch(r"[0-9]+", text) else None
    if number is not None and number > 2 ** 63 - 1:
        number = None
    valid = bool(re.fullmatch(r"[0-9]{1,10}", text)) and int(text) <= 31557600
    return number, text, valid


def smtp_truth(smtp, tls_spec, cert_ok):
    """Expected SMTP/STARTTLS facts for a behaviour entry (servers.json keys).

    A yes/no fact is None ("not reached") until the session got far enough
    to observe it, never False: starttls_offered needs a complete EHLO
    answer (a 2xx, or a 5xx that rules ESMTP out; a 4xx shows nothing),
    injection needs the 220 to STARTTLS, overlong_line and bare_lf need a
    reply read whole (or a line past the hard cap, which is overlong)."""
    mode = smtp.get("mode", "normal")
    t = {"outcome": None, "banner_code": None, "starttls_offered": None,
         "starttls_code": None, "stripping": None, "tls": None,
         "injection": None, "overlong_line": None, "bare_lf": None}
    if mode == "reset":
        t["outcome"] = "connection_reset"
        return t
    if mode == "silent":
        t["outcome"] = "banner_timeout"
        return t
    if mode == "tarpit":
        t["outcome"] = "deadline"
        return t
    if mode == "garbage":
        t["outcome"] = "protocol_error"
        return t
    banner = smtp.get("banner", ["220 <host> ESMTP testbed"])
    code = int(banner[-1][:3])
    t["banner_code"] = code
    # The banner was read whole: every line ends in CRLF and is short.
    t["overlong_line"] = False
    t["bare_lf"] = False
    if code != 220:
        t["outcome"] = "banner_rejected"
        return t
    if any("****" in l for l in banner):
        t["stripping"] = "masked_banner"
    if mode == "close_after_banner":
        t["outcome"] = "connection_closed"
        return t
    if mode == "endless_ehlo":
        t["outcome"] = "reply_too_large"
        return t
    if mode == "long_line":
        t["outcome"] = "line_too_long"
        t["overlong_line"] = True     # 1 MiB without a line end
        return t
    ehlo = smtp.get("ehlo", ["250-<host>", "250-PIPELINING", "250-STARTTLS", "250 8BITMIME"])
    if not ehlo[0].startswith("250"):
        t["outcome"] = "ehlo_rejected"
        t["ehlo_code"] = int(ehlo[0][:3])
        if t["ehlo_code"] >= 500:
            t["starttls_offered"] = False   # no ESMTP, so no STARTTLS
        return t
    kws = [l[4:].strip().split(" ")[0].upper() for l in ehlo]
    if any(len(l) + 2 > 4096 for l in ehlo):
        t["overlong_line"] = True
    if any(k == "XXXXXXXA" for k in kws):
        t["stripping"] = "xxxxxxxa"
    if "STARTTLS" not in kws:
        t["outcome"] = "no_starttls"
        t["starttls_offered"] = False
        return t
    t["starttls_offered"] = True
    reply = smtp.get("starttls_reply", ["220 2.0.0 Ready to start TLS"])
    t["starttls_code"] = int(reply[-1][:3])
    if t["starttls_code"] != 220:
        t["outcome"] = "starttls_rejected"
        if t["starttls_code"] >= 500 and t["stripping"] is None:
            t["stripping"] = "advertised_refused"
        return t
    t["injection"] = False
    if smtp.get("inject_after_starttls"):
        t["injection"] = True
    if tls_spec.get("alert"):
        t["outcome"] = "tls_failed"
        t["tls"] = {"outcome": "alert", "version": None}
        return t
    if tls_spec.get("eof"):
        t["outcome"] = "tls_failed"
        t["tls"] = {"outcome": "eof", "version": None}
        return t
    if tls_spec.get("reset"):
        t["outcome"] = "tls_failed"
        t["tls"] = {"outcome": "reset", "version": None}
        return t
    if tls_spec.get("slow"):
        # Bytes keep coming, but the handshake does not end within the
        # client's TLS stage timeout (at most half the endpoint deadline).
        t["outcome"] = "tls_failed"
        t["tls"] = {"outcome": "timeout", "version": None}
        return t
    t["outcome"] = "starttls_ok"
    ver = tls_spec.get("max_version", "TLSv1.3")
    if ver == "TLSv1.0":
        ver = "TLSv1"
    t["tls"] = {"outcome": "ok", "version": ver,
                "weak_version": TLS_RANK[ver] < 2}
    return t


CHAIN_KEPT = 128


def cert_truth(spec, host, domain):
    """Expected certificate verdicts for a pki.py spec presented by host."""
    spec = spec or {}
    errors = []
    issuer = spec.get("issuer", "intermediate")
    if spec.get("bad_signature"):
        errors.append("bad_signature")
    if issuer == "self":
        errors.append("self_signed")
    elif issuer == "untrusted":
        errors.append("self_signed_in_chain" if spec.get("send_root") else "unknown_issuer")
    elif issuer == "intermediate" and not spec.get("send_intermediate", True):
        errors.append("unknown_issuer")
    if spec.get("not_after_days", 90) < 0:
        errors.append("expired")
    if spec.get("not_before_days", -1) > 0:
        errors.append("not_yet_valid")
    names = spec.get("names") or [host.rstrip(".")]
    san = spec.get("san", True)
    # RFC 9525 §6.3: only DNS SANs name a host, never the subject CN; a
    # leaf without a DNS SAN (cn_only) names nothing.
    if san and names:
        ids, cn_only = names, False
    else:
        ids, cn_only = [], True
    weak = []
    if spec.get("key") == "rsa1024":
        weak.append("rsa_lt_2048")
    if spec.get("hash") == "sha1":
        weak.append("sha1")
    # The chain as sent (pki.py): the leaf, the issuing CAs (a deep path,
    # the intermediate, the untrusted one), the root if sent, padding.
    depth = int(spec.get("ca_depth", 0) or 0)
    sends_ca = spec.get("send_intermediate", True)
    if depth:
        natural = 1 + (depth if sends_ca else 0)
    else:
        natural = (1 + (1 if issuer in ("intermediate", "untrusted") and sends_ca else 0)
                   + (1 if spec.get("send_root") else 0))
    chain_len = max(int(spec.get("chain_len", 0) or 0), natural)
    # Out of order: some certificate not followed by its issuer. Padding
    # CAs (issued by the untrusted root) never issued what precedes them;
    # reversed deep CAs put CA 1 right after the leaf.
    out_of_order = chain_len > natural or (
        depth > 1 and sends_ca and spec.get("ca_order") == "reversed")
    return {
        # Strict sender (OpenSSL security level 2, Debian's default).
        "trusted": not errors and not weak,
        # Lax sender (level 0): key and digest strength ignored.
        "valid_ignoring_strength": not errors,
        "errors": errors,
        "missing_intermediate": issuer == "intermediate" and not spec.get("send_intermediate", True),
        "name_matches_mx": any(name_matches(n, host) for n in ids),
        "name_matches_domain": any(name_matches(n, domain) for n in ids),
        "cn_only": cn_only,
        "weak": weak,
        "chain_len": chain_len,
        "long_chain": chain_len > 10,
        # The crawler's documented bound (issue M7: at least 100, bounded):
        # it keeps and judges the first 128 certificates presented.
        "chain_truncated": chain_len > CHAIN_KEPT,
        "out_of_order": out_of_order,
        "leaf_san_count": len(ids),
    }


# ---------------------------------------------------------------- client ports

# The mail client services (RFC 6186, RFC 8314), in the fixed order of the
# Client ports (truth field `client`, README.md): (service, default port, protocol, TLS mode). The protocol
# and TLS mode come from the service, never from the port.
SERVICES = [
    ("submissions", 465, "smtp", "implicit"),
    ("submission", 587, "smtp", "starttls"),
    ("imaps", 993, "imap", "implicit"),
    ("imap", 143, "imap", "starttls"),
    ("pop3s", 995, "pop3", "implicit"),
    ("pop3", 110, "pop3", "starttls"),
]
SERVICE_INFO = {svc: (port, proto, mode) for svc, port, proto, mode in SERVICES}
SRV_CAP = 16                # SRV records a crawler keeps per service
TLSA_USABLE_SRV = {0, 1, 2, 3}   # RFC 7673: PKIX usages count too

# The protocol defaults (greetings, capabilities) are mailserver.py's own
# definitions, so the truth describes what the server sends.
client_caps = mailserver.client_caps
client_greeting = mailserver.client_greeting
client_capability_answer = mailserver.client_capability_answer

# The caps of the IMAP and POP3 client sessions (README.md, "Mail client
# ports"): a line over CLIENT_LINE_MAX bytes (its CRLF not counted) fails
# with line_too_long; an answer (the greeting, or the answer to one
# command) of more than CLIENT_ANSWER_LINES lines or CLIENT_ANSWER_BYTES
# bytes (CRLFs counted) with reply_too_large. A scenario whose lengths come
# within CLIENT_CAP_MARGIN bytes of a cap is refused: there the outcome
# would hang on a CR or on how the bytes arrive, not on the definition.
CLIENT_LINE_MAX = 8192
CLIENT_ANSWER_LINES = 256
CLIENT_ANSWER_BYTES = 64 * 1024
CLIENT_CAP_MARGIN = 64


def client_answer_cap(lines, host):
    """The outcome the session's caps give an answer of these lines
    (`<host>` becomes host): "line_too_long", "reply_too_large", or None
    when it is read whole."""
    n = size = 0
    for line in lines:
        b = len(line.replace("<host>", host).encode())
        if abs(b - CLIENT_LINE_MAX) <= CLIENT_CAP_MARGIN or \
                abs(size + b + 2 - CLIENT_ANSWER_BYTES) <= CLIENT_CAP_MARGIN:
            raise ValueError("client answer within %d bytes of a cap" % CLIENT_CAP_MARGIN)
        if b > CLIENT_LINE_MAX:
            # Fails after CLIENT_LINE_MAX + 1 of its bytes, unless the
            # answer's byte cap came first.
            if size + CLIENT_LINE_MAX + CLIENT_CAP_MARGIN >= CLIENT_ANSWER_BYTES:
                raise ValueError("overlong line at the answer's byte cap")
            return "line_too_long"
        n += 1
        size += b + 2
        if n > CLIENT_ANSWER_LINES or size > CLIENT_ANSWER_BYTES:
            return "reply_too_large"
    return None


def greeting_class(proto, lines):
    """ok / rejected / garbage, as the truth's `greeting` fact."""
    g = lines[0] if lines else ""
    if proto == "smtp":
        code = lines[-1][:3] if lines and lines[-1][:3].isdigit() else None
        if code is None:
            return "garbage"
        return "ok" if code == "220" else "rejected"
    if proto == "imap":
        up = g.upper()
        if up.startswith("* OK") or up.startswith("* PREAUTH"):
            return "ok"
        return "rejected" if up.startswith("* BYE") else "garbage"
    up = g.upper()
    if up.startswith("+OK"):
        return "ok"
    return "rejected" if up.startswith("-ERR") else "garbage"


def _handshake(tls_spec, has_cert):
    """None when the handshake completes, else the failure (alert, reset,
    eof, timeout)."""
    if not has_cert:
        return "eof"
    for k in ("alert", "reset", "slow"):
        if tls_spec.get(k):
            return "timeout" if k == "slow" else k
    return None


def _version(tls_spec):
    ver = tls_spec.get("max_version", "TLSv1.3")
    return "TLSv1" if ver == "TLSv1.0" else ver


SMTP_TO_CLIENT = {"starttls_ok": "tls_ok", "banner_rejected": "greeting_rejected",
                  "banner_timeout": "greeting_timeout", "ehlo_rejected": "capability_rejected"}


def client_probe_truth(svc, beh, tls_spec, has_cert, host):
    """Expected probe facts (truth field `client`) for a client entry of
    host: outcome, greeting, starttls_offered, injection, stripping, tls.
    A yes/no fact is None until the session could see it."""
    _, proto, tlsmode = SERVICE_INFO[svc]
    p = {"outcome": None, "greeting": None, "starttls_offered": None,
         "injection": None, "stripping": None, "tls": None}
    mode = beh.get("mode", "normal")
    if mode == "reset":
        p["outcome"] = "connection_reset"
        return p
    if tlsmode == "implicit":
        # TLS first; the greeting inside TLS is a fact of its own, the
        # outcome is the handshake's (the certificate is what is measured).
        fail = _handshake(tls_spec, has_cert)
        if fail:
            p["outcome"] = "tls_failed"
            return p
        p["outcome"] = "tls_ok"
        p["tls"] = {"version": _version(tls_spec)}
        greeting = client_greeting(proto, beh, "implicit")
        if proto != "smtp" and client_answer_cap(greeting, host):
            p["greeting"] = "garbage"
        else:
            p["greeting"] = greeting_class(proto, greeting)
        p["greeting"] = {"silent": "timeout", "garbage": "garbage",
                         "tarpit": None}.get(mode, p["greeting"])
        return p
    if mode == "silent":
        p["outcome"] = "greeting_timeout"
        p["greeting"] = "timeout"
        return p
    if mode == "tarpit" and proto != "smtp":
        # A byte a second: every stage timer is kept alive, the total
        # deadline ends the session inside the greeting.
        p["outcome"] = "deadline"
        return p
    if mode == "garbage":
        p["outcome"] = "protocol_error"
        p["greeting"] = "garbage"
        return p
    if proto == "smtp":
        # Submission with STARTTLS is port 25's session (smtp_truth) on
        # another port; its outcome names map to the client-port names.
        if not has_cert:
            tls_spec = dict(tls_spec, eof=True)   # no TLS: closes after the 220
        t = smtp_truth(beh, tls_spec, has_cert)
        p["outcome"] = SMTP_TO_CLIENT.get(t["outcome"], t["outcome"])
        p["greeting"] = greeting_class("smtp", client_greeting("smtp", beh, "starttls"))
        p["starttls_offered"] = t["starttls_offered"]
        p["injection"] = t["injection"]
        p["stripping"] = t["stripping"]
        if p["outcome"] == "tls_ok":
            p["tls"] = {"version": t["tls"]["version"]}
        return p
    greeting = client_greeting(proto, beh, "starttls")
    p["greeting"] = greeting_class(proto, greeting)
    cap = client_answer_cap(greeting, host)
    if cap:
        # An unreadable greeting is no greeting.
        p["outcome"] = cap
        p["greeting"] = "garbage"
        return p
    if p["greeting"] == "garbage":
        p["outcome"] = "protocol_error"
        return p
    if p["greeting"] == "rejected":
        p["outcome"] = "greeting_rejected"
        return p
    if proto == "imap" and greeting[0].upper().startswith("* PREAUTH"):
        # RFC 9051 §6.2.1: no STARTTLS in the authenticated state.
        p["outcome"] = "preauth"
        return p
    caps_in_greeting = proto == "imap" and beh.get("greeting_capability")
    if not caps_in_greeting:
        cap = client_answer_cap(client_capability_answer(
            proto, beh, client_caps(proto, beh, "starttls")), host)
        if cap:
            # The list was not read whole: STARTTLS neither seen nor missed.
            p["outcome"] = cap
            return p
    reply = beh.get("capability_reply")
    if reply is not None and not (reply.upper().startswith("OK") or reply.startswith("+OK")) \
            and not caps_in_greeting:
        p["outcome"] = "capability_rejected"
        return p
    word = "STARTTLS" if proto == "imap" else "STLS"
    caps = [c.upper() for c in client_caps(proto, beh, "starttls")]
    if word not in caps:
        p["outcome"] = "no_starttls"
        p["starttls_offered"] = False
        return p
    p["starttls_offered"] = True
    reply = beh.get("starttls_reply", "OK Begin TLS negotiation now" if proto == "imap"
                    else "+OK Begin TLS negotiation")
    if not (reply.upper().startswith("OK") or reply.startswith("+OK")):
        # Offered, then refused (IMAP NO/BAD, POP3 -ERR): the stripping
        # signature, whatever the wording.
        p["outcome"] = "starttls_rejected"
        p["stripping"] = "advertised_refused"
        return p
    p["injection"] = bool(beh.get("inject_after_starttls"))
    if _handshake(tls_spec, has_cert):
        p["outcome"] = "tls_failed"
        return p
    p["outcome"] = "tls_ok"
    p["tls"] = {"version": _version(tls_spec)}
    return p


def client_cert_truth(spec, host, domain):
    """Certificate facts of an SRV target's leaf (truth field `client`): names
    against the SRV target (name_matches_host) and the domain itself
    (name_matches_domain, RFC 6186 §4 / RFC 7817)."""
    c = cert_truth(spec, host, domain)
    return {"trusted": c["trusted"], "errors": c["errors"],
            "missing_intermediate": c["missing_intermediate"],
            "name_matches_host": c["name_matches_mx"],
            "name_matches_domain": c["name_matches_domain"],
            "cn_only": c["cn_only"], "weak": c["weak"], "chain_len": c["chain_len"]}


def client_dane_truth(secure_path, address_outcome, tst, tl, endpoints):
    """The DANE outcome of a client (host, port) by RFC 7673: an SRV
    target's, or an MX host's with --client-ports mx."""
    contacted = [e for e in endpoints if e["contact"]]
    if not secure_path or address_outcome != "ok" and not contacted:
        return "dane_not_applicable"
    if tst == "bogus":
        return "dane_tlsa_bogus"
    if not tl:
        return "dane_none"
    usable = [r for r in tl if r["usage"] in TLSA_USABLE_SRV and r["label"] != "unusable"
              and _tlsa_len_ok(r["selector"], r["mtype"], r["data"])]
    if not usable:
        return "dane_unusable_only"
    if not contacted or any(e["probe"]["outcome"] != "tls_ok" for e in contacted):
        return "dane_no_starttls"
    c = contacted[0]["cert"]
    dates_ok = not ({"expired", "not_yet_valid"} & set(c["errors"]))
    pkix_ok = not c["errors"] and c["name_matches_host"] and not c["cn_only"]
    ok = False
    for r in usable:
        if r["label"] != "match":
            continue
        if r["usage"] == 3:
            ok = True       # DANE-EE: names and dates ignored
        elif r["usage"] == 2 and c["name_matches_host"] and dates_ok:
            ok = True       # DANE-TA: the name is the SRV target's
        elif r["usage"] in (0, 1) and pkix_ok:
            ok = True       # PKIX-TA / PKIX-EE: and PKIX validation
    return "dane_ok" if ok else "dane_no_match"


TLSA_USABLE = {2, 3}


def _tlsa_len_ok(sel, mt, hexdata):
    n = len(hexdata) // 2
    return {1: 32, 2: 64}.get(mt, n) == n and mt in (0, 1, 2) and sel in (0, 1)


class ScenarioBuilder:
    """Expands one scenario dict into records, server entries and truth."""

    def __init__(self, world, s):
        self.w = world
        self.s = s
        self.name = s["name"]
        self.domain = fqdn(s.get("domain", s["name"] + ".test")).lower()

    def host_name(self, h):
        return _abs(h, self.domain)

    def build(self):
        s, w, d = self.s, self.w, self.domain
        if s.get("zone", True):
            brk = [(_abs(o, d), t) for o, t in s.get("break_rrsig", [])]
            w.add_zone(d, s.get("dnssec", "secure"), break_rrsig=brk)
        for apex, state in s.get("zones", {}).items():
            if isinstance(state, dict):
                w.add_zone(_abs(apex, d), state["state"],
                           break_rrsig=[(_abs(o, d), t) for o, t in state.get("break_rrsig", [])])
            else:
                w.add_zone(_abs(apex, d), state)
        # records; an apex CNAME chain moves the MX RRset to its target
        mxo = d
        for tgt in s.get("cname_chain", []):
            tgt = _abs(tgt, d)
            w.rr(mxo, "CNAME", tgt)
            mxo = tgt
        self.mx_owner = mxo
        if s.get("mx") is not None:
            for pref, host in s["mx"]:
                target = "." if host == "." else (host if host.endswith(".") else self.host_name(host))
                w.rr(mxo, "MX", "%d %s" % (pref, target))
                lit = target.rstrip(".")
                if re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", lit) and \
                        ipaddress.ip_address(lit).is_loopback and \
                        lit not in w.record_connections:
                    # An MX target that looks like a loopback address: the
                    # listener records any connection to it (there must be
                    # none: the name is not an address).
                    w.record_connections.append(lit)
        for owner, rtype, rdata in s.get("records", []):
            w.rr(_abs(owner, d), rtype, rdata)
        apex = s.get("apex") or {}
        hosts = dict(s.get("hosts", {}))
        if s.get("mx") is None and apex:
            hosts.setdefault(self.mx_owner, apex)
        self.client_recs = self.client_records()
        srv_only = {t for recs in self.client_recs.values() for _, _, _, t in recs
                    if t != "."} - self.mx_hosts()
        self.host_info = {}
        for hname, hs in hosts.items():
            info = self.build_host(self.host_name(hname), hs,
                                   mx=self.host_name(hname) not in srv_only)
            self.host_info[self.host_name(hname)] = info
            w.hosts[self.host_name(hname)] = info
        self.build_client()
        self.sts_info = self.build_sts(s.get("sts"))
        if s.get("tlsrpt") is not None:
            for txt in s["tlsrpt"]:
                w.rr("_smtp._tls." + d, "TXT", _txt(txt))
        truth = self.truth()
        if s.get("target", True):
            w.targets.append(d.rstrip("."))
            w.truth.append(truth)
        return truth

    # -- hosts
    def build_host(self, host, hs, mx=True):
        """mx False: a host named only by SRV records (build_client), with
        no port-25 server entry and no TLSA at _25._tcp; its addresses
        ("auto") come from CLIENT_NET."""
        w = self.w
        info = {"spec": hs, "a": [], "aaaa": [], "cname": [], "leaf": None,
                "tlsa": [], "servers": []}
        if hs.get("cname"):
            chain = [host]
            cur = host
            for tgt in ([hs["cname"]] if isinstance(hs["cname"], str) else hs["cname"]):
                tgt = _abs(tgt, self.domain)
                w.rr(cur, "CNAME", tgt)
                chain.append(tgt)
                cur = tgt
            info["cname"] = chain[1:]
            addr_owner = cur
        else:
            addr_owner = host
        info["addr_owner"] = addr_owner
        for a in hs.get("a", []):
            a = (w.alloc_smtp() if mx else w.alloc_client()) if a == "auto" else a
            info["a"].append(a)
            w.rr(addr_owner, "A", a)
        for a in hs.get("aaaa", []):
            info["aaaa"].append(a)
            w.rr(addr_owner, "AAAA", a)
        cert_spec = hs.get("cert", {})
        tls_extra = hs.get("tls", {})
        smtp = dict(hs.get("smtp", {}))
        need_server = hs.get("server", True) and (info["a"] or info["aaaa"])
        leaf = None
        if need_server and w.pki is not None and cert_spec is not None:
            leaf = self.make_leaf(host, cert_spec)
        info["leaf"] = leaf
        if hs.get("server") == "postfix":
            # The private Postfix (postfix.py) serves this host: no entry of
            # our own; servers.json "postfix" tells mailserver.py to relay
            # ADDR:25 to it and postfix.py which certificate to use (the
            # same pki.py spec, so the same cached leaf and TLSA data).
            spec = dict(cert_spec or {})
            spec.setdefault("names", [host.rstrip(".")])
            w.postfix = {"addr": info["a"][0], "host": host.rstrip("."),
                         "cert": spec, "scenario": self.name}
            need_server = False
        info["serve"] = bool(need_server)
        if need_server and mx:
            for a in info["a"] + info["aaaa"]:
                if address_refused(a) and a != FORBIDDEN_ADDR:
                    continue        # never contacted; no server entry
                e = {"addr": a, "port": 25, "scenario": self.name,
                     "host": host.rstrip(".")}
                e.update(smtp)
                if leaf is not None:
                    tls = {"cert_file": leaf["cert_file"], "key_file": leaf["key_file"],
                           "chain_file": leaf["chain_file"]}
                    tls.update(tls_extra)
                    e["tls"] = tls
                for k, v in w.latency.items():
                    e.setdefault(k, v)
                if a == FORBIDDEN_ADDR:
                    e["record_connections"] = True
                w.smtp.append(e)
                info["servers"].append(e)
        # TLSA
        tlsa_owner = "_25._tcp." + (hs.get("tlsa_at") and _abs(hs["tlsa_at"], self.domain) or host)
        for rec in (hs.get("tlsa", []) if mx else []):
            u, sel, mt, what = rec
            data, label = self.tlsa_data(leaf, sel, mt, what)
            w.rr(tlsa_owner, "TLSA", "%d %d %d %s" % (u, sel, mt, data))
            info["tlsa"].append({"usage": u, "selector": sel, "mtype": mt,
                                 "data": data, "label": label})
        info["tlsa_owner"] = tlsa_owner
        return info

    def make_leaf(self, host, spec):
        pki = self.w.pki
        spec = dict(spec)
        extra = {k: spec.pop(k) for k in ("bad_signature", "send_root") if k in spec}
        spec.setdefault("names", [host.rstrip(".")])
        if "cn" not in spec and len(spec["names"][0] if spec["names"] else "") > 64:
            spec["cn"] = ""        # a CN is at most 64 characters
        leaf = pki.leaf(spec.pop("key_name", host.rstrip(".")), spec)
        out = {"cert_file": leaf.cert_file, "key_file": leaf.key_file,
               "chain_file": leaf.chain_file, "der_chain": list(leaf.der_chain)}
        if extra:
            ders = list(leaf.der_chain)
            if extra.get("bad_signature"):
                raw = bytearray(ders[0])
                raw[-5] ^= 0x01        # inside the signature value
                ders[0] = bytes(raw)
            if extra.get("send_root"):
                with open(pki.untrusted_ca_file if spec.get("issuer") == "untrusted"
                          else pki.ca_file, "rb") as f:
                    import pki as pkimod
                    ders += pkimod._split_pem(f.read())
            xdir = os.path.join(pki.dir, "extra")
            os.makedirs(xdir, exist_ok=True)
            import pki as pkimod
            base = os.path.join(xdir, "%s-%s" % (host.rstrip("."), "-".join(sorted(extra))))
            with open(base + ".chain.pem", "wb") as f:
                f.write(b"".join(pkimod._der_to_pem(x) for x in ders))
            with open(base + ".crt", "wb") as f:
                f.write(pkimod._der_to_pem(ders[0]))
            out.update(cert_file=base + ".crt", chain_file=base + ".chain.pem", der_chain=ders)
        return out

    def tlsa_data(self, leaf, sel, mt, what):
        """TLSA association data.  what: 'leaf' (matches the leaf), 'ta'
        (matches the issuing CA the server sends), 'ta-untrusted-int' (the
        untrusted intermediate, sent or not), 'wrong' (matches nothing),
        'bad-len' (wrong digest length), or literal hex."""
        pki = self.w.pki
        if pki is None or leaf is None:
            return "00" * 32, what
        if what == "leaf":
            return pki.tlsa_data(leaf["der_chain"][0], sel, mt), "match"
        if what == "ta":
            return pki.tlsa_data(leaf["der_chain"][1], sel, mt), "match"
        if what == "ta-root":
            return pki.tlsa_data(pki.root.der, sel, mt), "match"
        if what == "ta-old":
            # an intermediate the server no longer sends (rotation)
            return pki.tlsa_data(pki.untrusted_intermediate.der, sel, mt), "nomatch"
        if what == "wrong":
            good = pki.tlsa_data(leaf["der_chain"][0], sel, mt)
            return ("%02x" % (int(good[:2], 16) ^ 0xFF)) + good[2:], "nomatch"
        if what == "bad-len":
            return pki.tlsa_data(leaf["der_chain"][0], sel, 1)[:40], "unusable"
        return what, "literal"

    # -- client ports (SRV, RFC 6186 / RFC 8314)
    def client_records(self):
        """{service: [(priority, weight, port, target)]} of the scenario's
        `client` field, targets absolute (or "."), in the fixed service order
        (priority, weight, target, port)."""
        out = {}
        for svc, recs in (self.s.get("client") or {}).items():
            if svc not in SERVICE_INFO:
                raise ValueError("%s: unknown client service %r" % (self.name, svc))
            rl = []
            for prio, weight, port, target in recs:
                t = "." if target == "." else _abs(target, self.domain)
                if not t.endswith("."):
                    t += "."
                rl.append((int(prio), int(weight), int(port), t))
            out[svc] = sorted(rl, key=lambda r: (r[0], r[1], r[3], r[2]))
        return out

    def mx_hosts(self):
        """Absolute names of the scenario's MX hosts (implicit MX: the owner)."""
        mx = self.s.get("mx")
        if mx is None:
            return {self.mx_owner}
        return {(h.lower() if h.endswith(".") else self.host_name(h)) for _, h in mx if h != "."}

    def build_client(self):
        """SRV records at the six owners, a "client" server entry per
        (address, port) of every target the testbed defines, the target's
        TLSA records at _PORT._tcp.<target> (once per owner). And per MX
        host of the scenario with `client_ports` (services it serves on
        their standard ports, no SRV needed: what --client-ports mx finds),
        the same entries and TLSA at _PORT._tcp.<mx host>."""
        w, d = self.w, self.domain
        for svc, _, _, _ in SERVICES:
            for prio, weight, port, target in self.client_recs.get(svc, []):
                w.rr("_%s._tcp.%s" % (svc, d), "SRV", "%d %d %d %s" % (prio, weight, port, target))
                if target == ".":
                    continue
                info = self.host_info.get(target) or w.hosts.get(target)
                if info is None:
                    continue            # not defined: NXDOMAIN / NODATA
                self.client_tlsa(info, target, port)
                self.client_entries(info, target, svc, port)
        for host in sorted(self.mx_hosts()):
            info = self.host_info.get(host)
            if info is None:
                continue
            for svc in info["spec"].get("client_ports", []):
                port = SERVICE_INFO[svc][0]
                self.client_tlsa(info, host, port)
                self.client_entries(info, host, svc, port)

    def client_entries(self, info, target, svc, port):
        """A "client" server entry for svc at every contactable address of
        the host, once per (address, port)."""
        w = self.w
        if not info.get("serve"):
            return
        for a in info["a"] + info["aaaa"]:
            if address_refused(a):
                continue        # never contacted; no server entry
            k = (a, port)
            if k in w.client_keys:
                if w.client_keys[k] != svc:
                    raise ValueError("%s: %s:%d serves %s and %s" % (
                        self.name, a, port, w.client_keys[k], svc))
                continue        # shared endpoint: one entry
            w.client_keys[k] = svc
            w.client_hosts[k] = (info, target)
            beh, tls_spec = self.client_behaviour(info, svc)
            e = {"addr": a, "port": port, "service": svc, "scenario": self.name,
                 "host": target.rstrip(".")}
            e.update(beh)
            if info["leaf"] is not None:
                leaf = info["leaf"]
                e["tls"] = dict({"cert_file": leaf["cert_file"],
                                 "key_file": leaf["key_file"],
                                 "chain_file": leaf["chain_file"]}, **tls_spec)
            w.client.append(e)

    @staticmethod
    def client_behaviour(info, svc):
        """(servers.json behaviour keys, extra tls keys) of svc on a host:
        the host spec's `services[svc]`, its `tls` merged over the host's."""
        beh = dict((info["spec"].get("services") or {}).get(svc, {}))
        tls_spec = dict(info["spec"].get("tls", {}))
        tls_spec.update(beh.pop("tls", {}))
        return beh, tls_spec

    def client_tlsa_owner(self, info, target, port):
        base = info["spec"].get("tlsa_at")
        return "_%d._tcp.%s" % (port, _abs(base, self.domain) if base else target)

    def client_tlsa(self, info, target, port):
        """Publish the target's `tlsa` at _PORT._tcp.<target> once."""
        owner = self.client_tlsa_owner(info, target, port).lower()
        if owner in self.w.tlsa_done:
            return self.w.tlsa_done[owner]
        recs = []
        for u, sel, mt, what in info["spec"].get("tlsa", []):
            data, label = self.tlsa_data(info["leaf"], sel, mt, what)
            self.w.rr(owner, "TLSA", "%d %d %d %s" % (u, sel, mt, data))
            recs.append({"usage": u, "selector": sel, "mtype": mt, "data": data,
                         "label": label})
        self.w.tlsa_done[owner] = recs
        return recs

    def client_truth(self):
        """The truth's `client` field: six services, SRV facts and, per
        target, addresses, TLSA/DANE (RFC 7673) and per endpoint the probe
        and certificate facts."""
        w, d = self.w, self.domain
        owners = None
        out = {}
        for svc, _, _, _ in SERVICES:
            owner = "_%s._tcp.%s" % (svc, d)
            recs = self.client_recs.get(svc, [])
            st = w.name_status(owner, "SRV")
            srv = {"name": owner.rstrip("."), "rcode": "NOERROR", "dnssec": st,
                   "offered": None, "records": []}
            out[svc] = {"srv": srv, "targets": []}
            if st in ("bogus", "indeterminate"):
                srv["rcode"] = "SERVFAIL"
                if st == "indeterminate" and w.zone_of(owner).state == "timeout":
                    srv["rcode"] = "SERVFAIL|timeout"
                continue
            if not recs:
                if owners is None:
                    owners = {r[0] for r in w.records}
                below = "." + owner
                if owner not in owners and not any(o.endswith(below) for o in owners):
                    srv["rcode"] = "NXDOMAIN"
                continue
            srv["offered"] = not (len(recs) == 1 and recs[0][3] == ".")
            srv["records"] = [{"priority": p, "weight": wt, "port": port,
                               "target": "." if t == "." else t.rstrip(".")}
                              for p, wt, port, t in recs]
            for p, wt, port, t in recs[:SRV_CAP]:
                if t != ".":
                    out[svc]["targets"].append(self.client_target_truth(svc, t, port, st))
        return out

    def client_target_truth(self, svc, host, port, srvst):
        w = self.w
        info = self.host_info.get(host) or w.hosts.get(host)
        ht = {"host": host.rstrip("."), "port": port, "cname": [],
              "address_outcome": "ok", "addresses_partial": False,
              "a": {"dnssec": None, "addresses": []},
              "aaaa": {"dnssec": None, "addresses": []},
              "tlsa": None, "dane": "dane_none", "endpoints": []}
        if info is None:
            st = w.name_status(host, "A")
            ht["a"]["dnssec"] = st
            ht["aaaa"]["dnssec"] = st
            ht["address_outcome"] = "mx_no_address"
            ht["dane"] = "dane_not_applicable"
            return ht
        addrs, ast, aast, failed = self.host_addresses(host, info, ht)
        ht.pop("mx_cname", None)
        if ht["address_outcome"] == "dns_error":
            addrs = []
        cert_spec = info["spec"].get("cert", {})
        beh, tls_spec = self.client_behaviour(info, svc)
        for a in addrs:
            ep = {"ip": a, "port": port, "refused": address_refused(a)}
            ep["contact"] = not ep["refused"]
            ep["probe"] = ep["cert"] = None
            if ep["contact"]:
                ep["probe"] = client_probe_truth(svc, beh, tls_spec, cert_spec is not None,
                                                 host.rstrip("."))
                if ep["probe"]["outcome"] == "tls_ok":
                    ep["cert"] = client_cert_truth(cert_spec, host, self.domain)
            ht["endpoints"].append(ep)
        # DANE (RFC 7673 §3): TLSA at _PORT._tcp.<target> only when the SRV
        # RRset and the target's address records are secure.
        tl = self.client_tlsa(info, host, port)
        tlsa_owner = self.client_tlsa_owner(info, host, port)
        used = [st for k, st in (("a", ast), ("aaaa", aast)) if k not in failed]
        secure_path = srvst == "secure" and (
            all(st == "secure" for st in used) if ht["addresses_partial"] else ast == "secure")
        tst = w.name_status(tlsa_owner, "TLSA")
        ht["tlsa"] = {"name": tlsa_owner.rstrip("."), "dnssec": tst, "looked_up": secure_path,
                      "records": ["%d %d %d %s" % (r["usage"], r["selector"], r["mtype"], r["data"])
                                  for r in tl]}
        ht["dane"] = client_dane_truth(secure_path, ht["address_outcome"], tst, tl,
                                       ht["endpoints"])
        return ht

    def client_mx_truth(self, hosts, mxst):
        """The truth's `client_mx` field (what `--client-ports mx` finds):
        per service, per kept MX host (in the order of `mx`, `ordinal` its
        index), the service's standard port at each of the host's
        contactable addresses. A port no "client" entry serves at that
        address refuses the connection: outcome connect_failed, conn
        refused; one that an entry serves (the host's `client_ports`, an
        SRV record naming the host, or another host on the same address)
        answers as that entry, its certificate judged against the MX host.
        DANE as for an SRV target, the MX RRset in the SRV RRset's place
        (TLSA at _PORT._tcp.<mx host>). Called once every scenario is
        built (World.finish_truth)."""
        w = self.w
        out = {svc: [] for svc, _, _, _ in SERVICES}
        for i, host in enumerate(hosts[:MX_CAP]):
            info = self.host_info.get(host) or w.hosts.get(host)
            for svc, port, _, _ in SERVICES:
                ht = {"host": host.rstrip("."), "ordinal": i, "port": port,
                      "address_outcome": "ok", "addresses_partial": False,
                      "tlsa": None, "dane": "dane_not_applicable", "endpoints": []}
                out[svc].append(ht)
                if info is None:
                    ht["address_outcome"] = "mx_no_address"
                    continue
                addrs, ast, aast, failed = self.host_addresses(host, info, ht)
                for k in ("cname", "mx_cname"):
                    ht.pop(k, None)
                if ht["address_outcome"] == "dns_error":
                    addrs = []
                for a in dict.fromkeys(addrs):
                    ep = {"ip": a, "port": port, "refused": address_refused(a)}
                    ep["contact"] = not ep["refused"]
                    ep["probe"] = ep["cert"] = None
                    entry = w.client_hosts.get((a, port))
                    if ep["contact"] and entry is None:
                        ep["probe"] = {"outcome": "connect_failed", "conn": "refused",
                                       "greeting": None, "starttls_offered": None,
                                       "injection": None, "stripping": None, "tls": None}
                    elif ep["contact"]:
                        if w.client_keys[(a, port)] != svc:
                            raise ValueError("%s: %s:%d serves %s, the MX host's port is %s's"
                                             % (self.name, a, port, w.client_keys[(a, port)], svc))
                        einfo = entry[0]
                        cert_spec = einfo["spec"].get("cert", {})
                        if cert_spec is not None and not cert_spec.get("names"):
                            # the leaf names the host the entry is for
                            cert_spec = dict(cert_spec, names=[entry[1].rstrip(".")])
                        beh, tls_spec = self.client_behaviour(einfo, svc)
                        ep["probe"] = client_probe_truth(svc, beh, tls_spec,
                                                         cert_spec is not None,
                                                         entry[1].rstrip("."))
                        ep["probe"]["conn"] = None
                        if ep["probe"]["outcome"] == "tls_ok":
                            ep["cert"] = client_cert_truth(cert_spec, host, self.domain)
                    ht["endpoints"].append(ep)
                owner = self.client_tlsa_owner(info, host, port).lower()
                tl = w.tlsa_done.get(owner, [])
                used = [st for k, st in (("a", ast), ("aaaa", aast)) if k not in failed]
                secure_path = mxst == "secure" and (
                    all(st == "secure" for st in used) if ht["addresses_partial"]
                    else ast == "secure")
                tst = w.name_status(owner, "TLSA")
                ht["tlsa"] = {"name": owner.rstrip("."), "dnssec": tst,
                              "looked_up": secure_path,
                              "records": ["%d %d %d %s" % (r["usage"], r["selector"],
                                                           r["mtype"], r["data"]) for r in tl]}
                ht["dane"] = client_dane_truth(secure_path, ht["address_outcome"], tst, tl,
                                               ht["endpoints"])
        return out

    # -- MTA-STS
    def build_sts(self, sts):
        if not sts:
            return None
        w, d = self.w, self.domain
        info = {"spec": sts}
        owner = "_mta-sts." + d
        if sts.get("txt_cname"):
            tgt = _abs(sts["txt_cname"], d)
            w.rr(owner, "CNAME", tgt)
            owner = tgt
        for txt in sts.get("txt", []):
            w.rr(owner, "TXT", _txt(txt))
        host = "mta-sts." + d
        hspec = sts.get("host", {"a": ["auto"]})
        if hspec.get("cname"):
            tgt = _abs(hspec["cname"], d)
            w.rr(host, "CNAME", tgt)
            host_owner = tgt
        else:
            host_owner = host
        addrs = []
        for a in hspec.get("a", []):
            a = w.alloc_https() if a == "auto" else a
            addrs.append(a)
            w.rr(host_owner, "A", a)
        info["addrs"] = addrs
        body = self.policy_text(sts)
        info["body"] = body
        https = dict(sts.get("https", {}))
        if w.pki is not None and addrs and hspec.get("server", True):
            cert = dict(sts.get("cert", {}))
            leaf = self.make_leaf(host, cert)
            for a in addrs:
                if address_refused(a):
                    continue
                e = {"addr": a, "port": 443, "scenario": self.name,
                     "tls": {"cert_file": leaf["cert_file"], "key_file": leaf["key_file"],
                             "chain_file": leaf["chain_file"]}}
                if "body" not in https and "body_file" not in https:
                    e["body"] = body
                e.update(https)
                w.https.append(e)
        return info

    def policy_text(self, sts):
        if "policy_raw" in sts:
            return sts["policy_raw"]
        p = sts.get("policy", {})
        eol = p.get("eol", "\r\n")
        lines = ["version: %s" % p.get("version", "STSv1"),
                 "mode: %s" % p.get("mode", "enforce")]
        lines += ["mx: %s" % m for m in p.get("mx", self.default_patterns())]
        lines.append("max_age: %s" % p.get("max_age", 86400))
        lines += p.get("extra", [])
        return eol.join(lines) + eol

    def default_patterns(self):
        mx = self.s.get("mx")
        if mx is None:
            return [self.domain.rstrip(".")]
        return [self.host_name(h).rstrip(".") if not h.endswith(".") else h.rstrip(".")
                for _, h in mx if h != "."]

    # -- truth
    def truth(self):
        s, w, d = self.s, self.w, self.domain
        exp = s.get("expect", {})
        t = {"domain": d.rstrip("."), "scenario": self.name, "case": s.get("case", "")}
        zone_exists = s.get("zone", True) or any(
            r[0] == d for r in w.records)
        mxo = self.mx_owner
        mxst = w.name_status(mxo, "MX")
        chain = [d] + [_abs(c, d) for c in s.get("cname_chain", [])]
        for c in chain[:-1]:
            mxst = worst(mxst, w.name_status(c, "CNAME"))
        mx = s.get("mx")
        dns_mx = {"rcode": "NOERROR", "dnssec": mxst, "ede": None}
        if mxst == "bogus":
            dns_mx["rcode"] = "SERVFAIL"
            dns_mx["ede"] = "6-12"
        elif mxst == "indeterminate":
            dns_mx["rcode"] = "SERVFAIL"
        if not zone_exists:
            dns_mx["rcode"] = "NXDOMAIN"
        t["dns"] = {"mx": dns_mx}
        t["apex_cname"] = [c.rstrip(".") for c in chain[1:]]
        t["implicit_mx"] = False
        t["null_mx"] = False
        t["mx_count"] = 0
        t["mx_truncated"] = False
        hosts = []
        if dns_mx["rcode"] == "NXDOMAIN":
            t["mx_outcome"] = "no_domain"
        elif dns_mx["rcode"] != "NOERROR":
            t["mx_outcome"] = "dns_error"
            # No usable answer: whether the MX is implicit or null is
            # unknown (the export says null, not false).
            t["implicit_mx"] = None
            t["null_mx"] = None
        elif mx is None:
            t["mx_outcome"] = "implicit_mx"
            t["implicit_mx"] = True
            hosts = [(0, mxo)]
        else:
            t["mx_count"] = len(mx)
            nulls = [p for p, h in mx if h == "."]
            if nulls and len(mx) == 1 and nulls[0] == 0:
                t["mx_outcome"] = "null_mx"
                t["null_mx"] = True
            elif nulls and len(mx) == 1:
                t["mx_outcome"] = "null_mx_invalid"
                t["null_mx"] = True
            elif nulls:
                t["mx_outcome"] = "null_mx_mixed"
                t["null_mx"] = True
                hosts = [(p, h) for p, h in mx if h != "."]
            else:
                t["mx_outcome"] = "mx"
                hosts = list(mx)
            t["mx_truncated"] = len(mx) > MX_CAP
        hl = []
        for pref, h in sorted(hosts, key=lambda x: (x[0], self.host_name(x[1]) if x[1] != d else d)):
            hn = d if h == d else (h if h.endswith(".") else self.host_name(h))
            hl.append(self.host_truth(pref, hn.lower(), mxst))
        for i, hv in enumerate(hl):
            hv["kept"] = i < MX_CAP
        t["mx"] = hl
        t["mta_sts"] = self.sts_truth(hl)
        t["tlsrpt"] = self.tlsrpt_truth()
        t["client"] = self.client_truth()
        # `client_mx` once every scenario is built (World.finish_truth):
        # a client port of an MX host is whatever entry serves its address
        # and port, which another scenario may define (a shared address).
        t["client_mx"] = None
        mx_later = [h["host"].lower() + "." for h in hl]
        t["ladder"] = ladder(t)
        t = _merge(t, {k: v for k, v in exp.items() if k not in ("hosts",)})
        if t["mx_outcome"] in ("dns_error", "blocklisted"):
            # also when a scenario's expect says dns_error
            t["implicit_mx"] = t["null_mx"] = None
        for hv in t["mx"]:
            over = exp.get("hosts", {}).get(hv["host"]) or \
                exp.get("hosts", {}).get(hv["host"].split(".")[0])
            if over:
                hv.update(_merge(hv, over))
        if "ladder" not in exp:
            t["ladder"] = ladder(t)
        w.client_mx_later.append((self, t, mx_later, mxst))
        return t

    def host_addresses(self, host, info, ht):
        """The address facts of a defined host (an MX host or an SRV
        target): fills ht's cname, mx_cname, a, aaaa, addresses_partial and
        address_outcome; returns (addresses used, A status, AAAA status,
        {family: status} of the families without a usable answer)."""
        w = self.w
        ht["cname"] = [c.rstrip(".") for c in info["cname"]]
        ht["mx_cname"] = bool(info["cname"])
        owner = info["addr_owner"]
        ast = w.name_status(owner, "A")
        aast = w.name_status(owner, "AAAA")
        for c in [host] + info["cname"][:-1]:
            cst = w.name_status(c, "CNAME")
            ast = worst(ast, cst)
            aast = worst(aast, cst)
        ht["a"] = {"dnssec": ast, "addresses": list(info["a"])}
        ht["aaaa"] = {"dnssec": aast, "addresses": list(info["aaaa"])}
        addrs = info["a"] + info["aaaa"]
        failed = {k: st for k, st in (("a", ast), ("aaaa", aast))
                  if st in ("bogus", "indeterminate")}
        if len(failed) == 1 and "bogus" not in failed.values():
            # One family timed out (or the like): the host is used with
            # the other family's addresses, if it has any.
            got = info["aaaa" if "a" in failed else "a"]
            if got:
                ht["addresses_partial"] = True
                addrs = list(got)
                for k in failed:
                    ht[k]["addresses"] = []     # never learnt
        if failed and not ht["addresses_partial"]:
            ht["address_outcome"] = "dns_error"
        elif not addrs:
            ht["address_outcome"] = "mx_no_address"
        elif all(address_refused(a) for a in addrs):
            ht["address_outcome"] = "refused_address"
        return addrs, ast, aast, failed

    def host_truth(self, pref, host, mxst):
        w = self.w
        info = self.host_info.get(host) or w.hosts.get(host)
        ht = {"preference": pref, "host": host.rstrip("."), "cname": [],
              "ip_literal": False, "address_outcome": "ok",
              "addresses_partial": False,
              "a": {"dnssec": None, "addresses": []},
              "aaaa": {"dnssec": None, "addresses": []},
              "mx_cname": False, "tlsa": None, "dane": "dane_none",
              "dane_result_type": None, "endpoints": []}
        if re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}\.?", host):
            # Looks like an address, is a domain name (RFC 5321 §5.1):
            # flagged, resolved like any name, never used as an address.
            ht["ip_literal"] = True
        if info is None:
            # host not defined by the scenario: NXDOMAIN or NODATA
            st = w.name_status(host, "A")
            ht["a"]["dnssec"] = st
            ht["aaaa"]["dnssec"] = st
            ht["address_outcome"] = "mx_no_address"
            ht["dane"] = "dane_not_applicable"
            return ht
        addrs, ast, aast, failed = self.host_addresses(host, info, ht)
        cert_spec = info["spec"].get("cert", {})
        if ht["address_outcome"] == "dns_error":
            addrs = []          # the crawler never learns them
        for a in addrs:
            ep = {"ip": a, "port": 25, "refused": address_refused(a)}
            ep["contact"] = not ep["refused"]
            if ep["contact"]:
                smtp = dict(info["spec"].get("smtp", {}))
                tls_spec = dict(info["spec"].get("tls", {}))
                if cert_spec is None:
                    tls_spec["eof"] = True      # server has no TLS: closes after 220
                ep["smtp"] = smtp_truth(smtp, tls_spec, True)
                if ep["smtp"]["tls"] and ep["smtp"]["tls"]["outcome"] == "ok":
                    ep["cert"] = cert_truth(cert_spec, host, self.domain)
                    ep["cert"]["name_matches_mx"] = ep["cert"]["name_matches_mx"]
                else:
                    ep["cert"] = None
            ht["endpoints"].append(ep)
        # TLSA / DANE: via a secure MX RRset and secure address records
        # (for a partial host: the family that answered).
        tl = info["tlsa"]
        tlsa_owner = info["tlsa_owner"]
        used = [st for k, st in (("a", ast), ("aaaa", aast)) if k not in failed]
        secure_path = mxst == "secure" and (
            all(st == "secure" for st in used) if ht["addresses_partial"] else ast == "secure")
        tst = w.name_status(tlsa_owner, "TLSA")
        ht["tlsa"] = {"name": tlsa_owner.rstrip("."), "dnssec": tst,
                      "looked_up": secure_path,
                      "records": ["%d %d %d %s" % (r["usage"], r["selector"], r["mtype"], r["data"])
                                  for r in tl]}
        if not secure_path or ht["address_outcome"] not in ("ok",) and \
                not any(e["contact"] for e in ht["endpoints"]):
            ht["dane"] = "dane_not_applicable"
        elif tst == "bogus":
            ht["dane"] = "dane_tlsa_bogus"
        elif not tl:
            ht["dane"] = "dane_none"
        else:
            usable = [r for r in tl if r["usage"] in TLSA_USABLE and r["label"] != "unusable"
                      and _tlsa_len_ok(r["selector"], r["mtype"], r["data"])]
            contacted = [e for e in ht["endpoints"] if e["contact"]]
            if not usable:
                ht["dane"] = "dane_unusable_only"
            elif not contacted or any(e["smtp"]["outcome"] != "starttls_ok" for e in contacted):
                ht["dane"] = "dane_no_starttls"
            else:
                ok = False
                for r in usable:
                    if r["label"] != "match":
                        continue
                    if r["usage"] == 3:
                        ok = True
                    elif r["usage"] == 2:
                        c = contacted[0]["cert"]
                        dates_ok = not ({"expired", "not_yet_valid"} & set(c["errors"]))
                        if c["name_matches_mx"] and dates_ok:
                            ok = True
                ht["dane"] = "dane_ok" if ok else "dane_no_match"
        ht["dane_result_type"] = {"dane_no_match": "tlsa-invalid",
                                  "dane_tlsa_bogus": "dnssec-invalid",
                                  "dane_no_starttls": "dane-required"}.get(ht["dane"])
        return ht

    def sts_truth(self, hosts):
        sts = self.s.get("sts")
        exp = (sts or {}).get("expect", {})
        t = {"txt": "none", "id": None, "fetch": None, "policy": None, "mode": None,
             "max_age": None, "mx_patterns": [], "eol": None, "mx_match": {},
             "enforce_would_work": None, "failures": []}
        if self.txt_failed("_mta-sts." + self.domain):
            t["txt"] = "dns_error"   # no usable answer: nothing is known
            return t
        if not sts:
            return t
        t["txt_records"] = list(sts.get("txt", []))
        t["txt_cname"] = _abs(sts["txt_cname"], self.domain).rstrip(".") if sts.get("txt_cname") else None
        t["host"] = "mta-sts." + self.domain.rstrip(".")
        t["host_addresses"] = list(self.sts_info["addrs"])
        t["host_refused"] = any(address_refused(a) for a in self.sts_info["addrs"])
        valid = [x for x in sts.get("txt", []) if re.match(r"v=STSv1(;|\s|$)", x)]
        if len(valid) == 0:
            t["txt"] = "none"
        elif len(valid) > 1:
            t["txt"] = "multiple"
        else:
            m = re.search(r"(?:^|;)\s*id=([^;\s]*)", valid[0])
            if m and re.fullmatch(r"[A-Za-z0-9]{1,32}", m.group(1)):
                t["txt"] = "valid"
                t["id"] = m.group(1)
            else:
                t["txt"] = "invalid"
                t["id"] = m.group(1) if m else None
        if t["txt"] == "valid":
            t["fetch"] = "ok"
            if "policy_raw" not in sts:
                p = sts.get("policy", {})
                t["policy"] = "valid"
                t["mode"] = p.get("mode", "enforce")
                (t["max_age"], t["max_age_text"],
                 t["max_age_valid"]) = max_age_truth(p.get("max_age", 86400))
                t["mx_patterns"] = p.get("mx", self.default_patterns())
                t["eol"] = "lf" if p.get("eol", "\r\n") == "\n" else "crlf"
        t = _merge(t, exp)
        if t["policy"] == "valid" and t["mode"] in ("enforce", "testing"):
            for h in hosts:
                t["mx_match"][h["host"]] = any(sts_pattern_matches(p, h["host"])
                                               for p in t["mx_patterns"])
            t["mx_match"] = _merge(t["mx_match"], exp.get("mx_match", {}))
            fails = []
            for h in hosts:
                if not t["mx_match"][h["host"]]:
                    fails.append("validation-failure")
                    continue
                for ep in h["endpoints"]:
                    if not ep["contact"]:
                        continue
                    sm = ep["smtp"]
                    if sm["outcome"] != "starttls_ok":
                        fails.append("starttls-not-supported" if sm["outcome"] in
                                     ("no_starttls", "starttls_rejected", "ehlo_rejected")
                                     else "validation-failure")
                        continue
                    c = ep["cert"]
                    if sm["tls"].get("weak_version"):
                        # A strict sender offers TLS 1.2 or later only.
                        fails.append("validation-failure")
                    elif "expired" in c["errors"]:
                        fails.append("certificate-expired")
                    elif c["errors"] or not c["trusted"]:
                        fails.append("certificate-not-trusted")
                    elif not c["name_matches_mx"] or c["cn_only"]:
                        fails.append("certificate-host-mismatch")
                if not any(ep["contact"] for ep in h["endpoints"]):
                    fails.append("validation-failure")
            t["failures"] = sorted(set(fails))
            t["enforce_would_work"] = not fails
        elif t["txt"] == "valid":
            # No policy an enforcing sender could apply (fetch or policy
            # failed, or mode none).
            t["enforce_would_work"] = False
            if t["fetch"] != "ok":
                t["failures"] = ["sts-webpki-invalid"] if t["fetch"] == "webpki_invalid" \
                    else ["sts-policy-fetch-error"]
            elif t["policy"] != "valid":
                t["failures"] = ["sts-policy-invalid"]
        if "failures" in exp:
            t["failures"] = exp["failures"]
        if "enforce_would_work" in exp:
            t["enforce_would_work"] = exp["enforce_would_work"]
        return t

    def txt_failed(self, name):
        """A TXT lookup at name gets no usable answer (bogus, SERVFAIL or
        timeout): the crawler records dns_error, not "no record"."""
        return self.w.name_status(name, "TXT") in ("bogus", "indeterminate")

    def tlsrpt_truth(self):
        recs = self.s.get("tlsrpt")
        t = {"status": "none", "rua": []}
        if self.txt_failed("_smtp._tls." + self.domain):
            t["status"] = "dns_error"
            return t
        if recs is None:
            return t
        t["txt_records"] = list(recs)
        valid = [x for x in recs if re.match(r"v=TLSRPTv1(;|\s|$)", x)]
        if not valid:
            t["status"] = "none"
        elif len(valid) > 1:
            t["status"] = "multiple"
        else:
            m = re.search(r"(?:^|;)\s*rua=([^;]*)", valid[0])
            if not m:
                t["status"] = "invalid"
                t["error"] = "missing_rua"
            else:
                uris = [u.strip() for u in m.group(1).split(",")]
                t["rua"] = uris
                if all(re.match(r"(mailto:[^@\s]+@[^@\s]+|https://\S+)$", u) for u in uris):
                    t["status"] = "valid"
                else:
                    t["status"] = "invalid"
                    t["error"] = "bad_rua"
        return _merge(t, self.s.get("tlsrpt_expect", {}))


def worst(a, b):
    order = ["secure", "insecure", "indeterminate", "bogus"]
    if a is None:
        return b
    if b is None:
        return a
    return a if order.index(a) >= order.index(b) else b


def ladder(t):
    """Protection ladder rung (analysis/002_protection_ladder.sql): the strongest protection a
    compliant sender gets, judged over every MX host. None for a domain
    the crawler is to store as not recorded: it has no rung."""
    if t["mx_outcome"] == "not_recorded":
        return None
    if t["mx_outcome"] in ("null_mx", "no_domain", "dns_error") or not t["mx"]:
        return "no-mail"
    eps = [e for h in t["mx"] for e in h["endpoints"] if e.get("contact")]
    if not eps:
        return "no-mail"
    if all(h["dane"] == "dane_ok" for h in t["mx"]):
        return "dane"
    sts = t["mta_sts"]
    if sts.get("enforce_would_work") and sts.get("mode") == "enforce":
        return "mta-sts-enforce"
    if sts.get("policy") == "valid" and sts.get("mode") == "testing" and \
            sts.get("fetch") == "ok":
        return "mta-sts-testing"
    # The sender modelled is a strict modern one (TLS 1.2 or later,
    # OpenSSL security level 2): a handshake that only works at TLS 1.0/1.1
    # fails for it, and it falls back to plaintext.
    if not all(e["smtp"]["outcome"] == "starttls_ok" and
               not (e["smtp"].get("tls") or {}).get("weak_version") for e in eps):
        return "plaintext"
    if all(e["cert"]["trusted"] and e["cert"]["name_matches_mx"] and not e["cert"]["cn_only"]
           for e in eps):
        return "opportunistic-trusted"
    return "opportunistic-untrusted"
