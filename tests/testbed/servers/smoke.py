#!/usr/bin/python3
"""Standalone check of pki.py + mailserver.py + (optionally) postfix.py.

    python3 tests/testbed/servers/smoke.py [--keep DIR] [--bench N] [--postfix]

Re-executes itself inside a fresh network namespace (`unshare -n`, lo up,
127.77.0.0/16 only), generates a PKI in a temporary directory, writes a
servers.json with one address per behaviour in INTERFACE.md, starts
mailserver.py, waits for its pid file plus a real connect, and checks every
behaviour with a small Python client.  Exit status 0 = all checks passed.
--bench N measures STARTTLS handshakes per second over N sessions.
--postfix also starts the private Postfix of postfix.py and does STARTTLS.
"""

import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
TESTBED = os.path.dirname(HERE)
sys.path.insert(0, TESTBED)
from pki import Pki  # noqa: E402

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NS_MARK = "MXCRAWL_SMOKE_NETNS"


def in_netns():
    """Re-exec inside a new network namespace unless already there."""
    if os.environ.get(NS_MARK) == "1":
        return
    env = dict(os.environ, **{NS_MARK: "1"})
    cmd = ["unshare", "-n", "sh", "-c",
           'ip link set lo up && exec "$@"', "sh", PY] + sys.argv
    os.execvpe("unshare", cmd, env)


# ------------------------------------------------------------------ client

class Conn:
    def __init__(self, addr, port=25, timeout=5.0):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((addr, port))
        self.buf = b""

    def recv_some(self, n=65536):
        d = self.sock.recv(n)
        if not d:
            raise EOFError("peer closed")
        return d

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.recv_some()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("latin-1")

    def reply(self):
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                return lines

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def starttls(self, ctx, host):
        assert self.buf == b"", "unread plaintext before TLS: %r" % self.buf
        self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        return self.sock

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_ctx(cafile=None, verify=True, minv=ssl.TLSVersion.TLSv1,
               maxv=ssl.TLSVersion.MAXIMUM_SUPPORTED):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = minv
    ctx.maximum_version = maxv
    if verify:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------- fixture

def build(d, with_postfix=False):
    pki = Pki(os.path.join(d, "pki"))
    smtp, https = [], []
    n = [0]

    def a():
        n[0] += 1
        return "127.77.%d.%d" % (n[0] // 250, n[0] % 250 + 1)

    def tls(name, spec=None, **kw):
        lf = pki.leaf(name, spec or {})
        t = {"cert_file": lf.cert_file, "key_file": lf.key_file,
             "chain_file": lf.chain_file}
        t.update(kw)
        return t

    def S(scen, host=None, spec=None, tlskw=None, **kw):
        host = host or scen + ".mx.test"
        e = {"addr": a(), "port": 25, "scenario": scen, "host": host,
             "tls": tls(host, spec, **(tlskw or {}))}
        e.update(kw)
        smtp.append(e)
        return e

    def H(scen, host=None, spec=None, **kw):
        host = host or "mta-sts." + scen + ".test"
        e = {"addr": a(), "port": 443, "scenario": scen,
             "tls": tls(host, spec)}
        e.update(kw)
        https.append(e)
        return e

    S("normal")
    S("helo_fallback", ehlo=["502 5.5.2 EHLO not supported"])
    S("silent", mode="silent")
    S("tarpit", mode="tarpit", tarpit_delay=0.02, banner=["220 tarpit"])
    S("close_after_banner", mode="close_after_banner")
    S("garbage", mode="garbage")
    S("endless_ehlo", mode="endless_ehlo")
    S("long_line", mode="long_line")
    S("reset", mode="reset")
    S("banner_421", banner=["421 4.3.2 busy"])
    S("banner_554", banner=["554 5.7.1 go away"])
    S("banner_multi", banner=["220-first line", "220-second", "220 third"])
    S("banner_masked", banner=["220 ****************************"])
    S("xxxxxxxa", ehlo=["250-<host>", "250-PIPELINING", "250-XXXXXXXA",
                        "250 8BITMIME"])
    S("starttls_first", ehlo=["250-STARTTLS", "250-<host>", "250 8BITMIME"])
    S("starttls_454", starttls_reply=["454 4.7.0 TLS not available"])
    S("starttls_500", starttls_reply=["500 5.5.1 unknown command"])
    S("inject", inject_after_starttls="250 injected\r\n")
    S("alert", tlskw={"alert": True})
    S("tls10_only", tlskw={"max_version": "TLSv1"})
    S("tls13_only", tlskw={"min_version": "TLSv1.3"})
    S("chain100", spec={"chain_len": 100})
    S("cert64k", spec={"pad_bytes": 65536})
    S("expired", spec={"not_before_days": -100, "not_after_days": -1})
    S("not_yet_valid", spec={"not_before_days": 5, "not_after_days": 100})
    S("self_signed", spec={"issuer": "self"})
    S("untrusted", spec={"issuer": "untrusted"})
    S("no_intermediate", spec={"send_intermediate": False})
    S("wrong_name", spec={"names": ["other.example.test"]})
    S("wildcard", host="mx.wild.test", spec={"names": ["*.wild.test"]})
    S("cn_only", spec={"san": False})
    S("rsa1024_sha1", spec={"key": "rsa1024", "hash": "sha1"})
    S("recorded", record_connections=True)
    S("slow_banner", banner_delay=0.2)
    v6 = S("ipv6")
    v6["addr"] = "::1"

    policy = "version: STSv1\nmode: enforce\nmx: *.mx.test\nmax_age: 86400\n"
    H("sts_ok", body=policy)
    H("sts_redirect", status=301, location="https://elsewhere.test/x", body="")
    H("sts_html", content_type="text/html", body=policy)
    H("sts_big", body=policy, body_size=70000)
    H("sts_slow", body=policy, slow=0.002)
    H("sts_gzip", body=policy, content_encoding="gzip")
    H("sts_500", status=500, body="oops\n")

    # Mail client services (servers.json "client"; INTERFACE.md, Additions)
    client = []

    def C(scen, service, port, host=None, spec=None, tlskw=None, addr=None, **kw):
        host = host or scen + ".mail.test"
        e = {"addr": addr or a(), "port": port, "service": service, "scenario": scen,
             "host": host, "tls": tls(host, spec, **(tlskw or {}))}
        e.update(kw)
        client.append(e)
        return e

    both = C("c_imap", "imap", 143)
    C("c_pop3_same_addr", "pop3", 110, addr=both["addr"], host=both["host"])
    C("c_imaps", "imaps", 993)
    C("c_imaps_10993", "imaps", 10993)
    C("c_pop3s", "pop3s", 995)
    C("c_submission", "submission", 587)
    C("c_submissions", "submissions", 465)
    C("c_imap_greeting_caps", "imap", 143, greeting_capability=True)
    C("c_imap_no_starttls", "imap", 143, capabilities=["IMAP4rev1", "AUTH=PLAIN"])
    C("c_imap_refused", "imap", 143, starttls_reply="NO [UNAVAILABLE] no TLS")
    C("c_imap_cap_bad", "imap", 143, capability_reply="BAD not now")
    C("c_imap_inject", "imap", 143, inject_after_starttls="* OK injected\r\n")
    C("c_imap_garbage", "imap", 143, mode="garbage")
    C("c_imaps_garbage", "imaps", 993, mode="garbage")
    C("c_imap_bye", "imap", 143, greeting="* BYE <host> go away")
    C("c_imap_preauth", "imap", 143, greeting="* PREAUTH <host> hello")
    C("c_imap_silent", "imap", 143, mode="silent")
    C("c_imaps_silent", "imaps", 993, mode="silent")
    C("c_imaps_alert", "imaps", 993, tlskw={"alert": True})
    C("c_imaps_reset", "imaps", 993, mode="reset")
    C("c_imap_tls_reset", "imap", 143, tlskw={"reset": True})
    C("c_pop3_no_stls", "pop3", 110, capabilities=["TOP", "USER"])
    C("c_pop3_refused", "pop3", 110, starttls_reply="-ERR not now")
    C("c_pop3_capa_err", "pop3", 110, capability_reply="-ERR no CAPA")
    C("c_pop3_inject", "pop3", 110, inject_after_starttls="+OK injected\r\n")
    C("c_pop3_err", "pop3", 110, greeting="-ERR <host> unavailable")
    C("c_submission_no_starttls", "submission", 587,
      ehlo=["250-<host>", "250 8BITMIME"])
    C("c_submission_refused", "submission", 587,
      starttls_reply=["502 5.5.1 command not implemented"])
    nocert = C("c_imaps_no_cert", "imaps", 993)
    del nocert["tls"]

    refused = a()
    noentry = a()
    conf = {"smtp": smtp, "https": https, "client": client,
            "record_connections": [refused]}
    if with_postfix:
        conf["postfix"] = {"addr": "127.77.200.1", "host": "postfix.mx.test"}
    with open(os.path.join(d, "servers.json"), "w") as f:
        json.dump(conf, f, indent=1)
    return pki, {e["scenario"]: e for e in smtp + https + client}, refused, noentry


def start_server(d, extra=()):
    pidf = os.path.join(d, "pids", "mailserver.pid")
    log = open(os.path.join(d, "mailserver.stderr"), "wb")
    p = subprocess.Popen([PY, os.path.join(HERE, "mailserver.py"), d] + list(extra),
                         stdout=log, stderr=subprocess.STDOUT)
    wait_ready(p, pidf, ("127.77.0.2", 25))
    return p


def wait_ready(p, pidf, addr, deadline=20.0):
    """Wait for the pid file, then for a real TCP connect (no sleeps)."""
    end = time.monotonic() + deadline
    import select
    while not os.path.exists(pidf):
        if p.poll() is not None:
            raise RuntimeError("server exited with %s" % p.returncode)
        if time.monotonic() > end:
            raise RuntimeError("no pid file after %.0fs" % deadline)
        # wait on the process for a short while, not a blind sleep
        try:
            p.wait(0.02)
        except subprocess.TimeoutExpired:
            pass
    while True:
        try:
            socket.create_connection(addr, 1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise


# ----------------------------------------------------------------- checks

class Checks:
    def __init__(self, pki, S, d):
        self.pki, self.S, self.d = pki, S, d
        self.ok = self.failed = 0

    def run(self, name, fn):
        t = time.monotonic()
        try:
            fn(self.S.get(name))
            self.ok += 1
            print("ok   %-20s %.2fs" % (name, time.monotonic() - t))
        except Exception as ex:  # report and go on
            self.failed += 1
            print("FAIL %-20s %s: %s" % (name, type(ex).__name__, ex))

    def tls_session(self, e, ctx=None, expect_version=None):
        c = Conn(e["addr"], 25)
        assert c.reply()[0].startswith("220")
        r = c.cmd("EHLO client.test")
        assert any(l[4:].upper() == "STARTTLS" for l in r), r
        assert c.cmd("STARTTLS")[0].startswith("220")
        s = c.starttls(ctx or client_ctx(self.pki.ca_file), e["host"])
        r = c.cmd("EHLO client.test")
        assert r[0].startswith("250") and not any("STARTTLS" in l for l in r), r
        v = s.version()
        if expect_version:
            assert v == expect_version, v
        assert c.cmd("QUIT")[0].startswith("221")
        c.close()
        return v

    def verify_error(self, e, want):
        try:
            self.tls_session(e)
        except ssl.SSLCertVerificationError as ex:
            assert want in str(ex.verify_message), ex.verify_message
            return
        raise AssertionError("verified, expected %r" % want)

    def s_client_chain(self, e):
        out = subprocess.run(
            ["timeout", "10", "openssl", "s_client", "-starttls", "smtp",
             "-connect", "%s:25" % e["addr"], "-servername", e["host"],
             "-CAfile", self.pki.ca_file, "-showcerts", "-cipher",
             "ALL:@SECLEVEL=0"], input=b"", capture_output=True).stdout
        return out.count(b"-----BEGIN CERTIFICATE-----"), out


def all_checks(ck, refused, noentry, d):
    P = ck.pki

    ck.run("normal", lambda e: ck.tls_session(e))
    ck.run("ipv6", lambda e: ck.tls_session(e))

    def helo(e):
        c = Conn(e["addr"])
        c.reply()
        assert c.cmd("EHLO x")[0].startswith("502")
        assert c.cmd("HELO x")[0].startswith("250")
        c.close()
    ck.run("helo_fallback", helo)

    def silent(e):
        c = Conn(e["addr"], timeout=0.3)
        try:
            c.recv_some()
            raise AssertionError("silent server wrote")
        except socket.timeout:
            pass
        c.close()
    ck.run("silent", silent)

    def tarpit(e):
        c = Conn(e["addr"])
        t0 = time.monotonic()
        first = c.recv_some()
        assert len(first) == 1, first
        r = c.reply()
        dt = time.monotonic() - t0
        assert (first.decode() + r[0]) == "220 tarpit", r
        assert dt >= 0.02 * 9, dt
        c.close()
    ck.run("tarpit", tarpit)

    def cab(e):
        c = Conn(e["addr"])
        assert c.reply()[0].startswith("220")
        try:
            c.cmd("EHLO x")
            raise AssertionError("still open")
        except (EOFError, ConnectionResetError, BrokenPipeError):
            pass
    ck.run("close_after_banner", cab)

    def garbage(e):
        c = Conn(e["addr"])
        data = b""
        while len(data) < 2048:
            data += c.recv_some()
        assert not data[:3].isdigit(), data[:10]
        c.close()
    ck.run("garbage", garbage)

    def endless(e):
        c = Conn(e["addr"])
        c.reply()
        c.sock.sendall(b"EHLO x\r\n")
        n = 0
        while n < 5000:
            ln = c.line()
            assert ln.startswith("250-"), ln
            n += 1
        c.close()
    ck.run("endless_ehlo", endless)

    def longline(e):
        c = Conn(e["addr"])
        c.reply()
        c.sock.sendall(b"EHLO x\r\n")
        got = b""
        while len(got) < (1 << 20) + 4:
            got += c.recv_some()
        assert got.startswith(b"250-AAAA") and b"\r\n" not in got, got[:20]
        c.close()
    ck.run("long_line", longline)

    def reset(e):
        try:
            c = Conn(e["addr"])
            c.recv_some()
            raise AssertionError("no reset")
        except ConnectionResetError:
            pass
    ck.run("reset", reset)

    def banner(want):
        def f(e):
            c = Conn(e["addr"])
            r = c.reply()
            assert r == want, r
            c.close()
        return f
    def b421(e):
        banner(["421 4.3.2 busy"])(e)
        c = Conn(e["addr"])
        c.reply()
        try:
            c.recv_some()
            raise AssertionError("421: connection left open")
        except (EOFError, ConnectionResetError):
            pass
    ck.run("banner_421", b421)

    def b554(e):
        c = Conn(e["addr"])
        assert c.reply() == ["554 5.7.1 go away"]
        assert c.cmd("EHLO x")[0].startswith("503")        # RFC 5321 §3.1
        assert c.cmd("STARTTLS")[0].startswith("503")
        assert c.cmd("QUIT")[0].startswith("221")
        c.close()
    ck.run("banner_554", b554)
    ck.run("banner_multi", banner(["220-first line", "220-second", "220 third"]))
    ck.run("banner_masked", banner(["220 ****************************"]))

    def xxx(e):
        c = Conn(e["addr"])
        c.reply()
        r = c.cmd("EHLO x")
        assert "250-XXXXXXXA" in r and not any("STARTTLS" in l for l in r), r
        c.close()
    ck.run("xxxxxxxa", xxx)

    def first(e):
        c = Conn(e["addr"])
        c.reply()
        r = c.cmd("EHLO x")
        assert r[0] == "250-STARTTLS", r
        c.close()
        ck.tls_session(e)
    ck.run("starttls_first", first)

    def st(code):
        def f(e):
            c = Conn(e["addr"])
            c.reply()
            c.cmd("EHLO x")
            r = c.cmd("STARTTLS")
            assert r[0].startswith(code), r
            assert c.cmd("QUIT")[0].startswith("221")
            c.close()
        return f
    ck.run("starttls_454", st("454"))
    ck.run("starttls_500", st("500"))

    def inject(e):
        c = Conn(e["addr"])
        c.reply()
        c.cmd("EHLO x")
        assert c.cmd("STARTTLS")[0].startswith("220")
        assert c.line() == "250 injected"      # the plaintext injection
        s = c.starttls(client_ctx(P.ca_file), e["host"])
        assert c.cmd("EHLO x")[0].startswith("250")
        c.close()
    ck.run("inject", inject)

    def alert(e):
        try:
            ck.tls_session(e)
        except ssl.SSLError as ex:
            assert "HANDSHAKE_FAILURE" in str(ex).upper(), ex
            return
        raise AssertionError("handshake succeeded")
    ck.run("alert", alert)

    ck.run("tls10_only", lambda e: ck.tls_session(e, expect_version="TLSv1"))

    def tls13(e):
        ck.tls_session(e, expect_version="TLSv1.3")
        try:
            ck.tls_session(e, client_ctx(P.ca_file, maxv=ssl.TLSVersion.TLSv1_2))
        except ssl.SSLError:
            return
        raise AssertionError("TLS 1.2 accepted")
    ck.run("tls13_only", tls13)

    def chain100(e):
        ck.tls_session(e)
        n, _ = ck.s_client_chain(e)
        assert n == 100, n
    ck.run("chain100", chain100)

    def big(e):
        ck.tls_session(e)
        n, out = ck.s_client_chain(e)
        assert n == 2, n
        import re
        m = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
        assert len(m.group(0)) > 64 * 1024 * 4 // 3, len(m.group(0))
    ck.run("cert64k", big)

    ck.run("expired", lambda e: ck.verify_error(e, "expired"))
    ck.run("not_yet_valid", lambda e: ck.verify_error(e, "not yet valid"))
    ck.run("self_signed", lambda e: ck.verify_error(e, "self-signed"))
    ck.run("untrusted", lambda e: ck.verify_error(e, "unable to get local issuer"))
    ck.run("no_intermediate", lambda e: ck.verify_error(e, "unable to get local issuer"))
    ck.run("wrong_name", lambda e: ck.verify_error(e, "Hostname mismatch"))
    ck.run("wildcard", lambda e: ck.tls_session(e))
    # Python's ssl (OpenSSL X509_check_host) ignores the CN when no SAN... it
    # does fall back to CN when there is no dNSName SAN: the leaf verifies.
    ck.run("cn_only", lambda e: ck.tls_session(e))

    def weak(e):
        ck.tls_session(e)
        der = None
        c = Conn(e["addr"])
        c.reply(); c.cmd("EHLO x"); c.cmd("STARTTLS")
        s = c.starttls(client_ctx(verify=False), e["host"])
        der = s.getpeercert(binary_form=True)
        c.close()
        from cryptography import x509
        cert = x509.load_der_x509_certificate(der)
        assert cert.public_key().key_size == 1024
        assert cert.signature_hash_algorithm.name == "sha1"
    ck.run("rsa1024_sha1", weak)

    def recorded(e):
        ck.tls_session(e)
        c = socket.create_connection((refused, 25), 2)
        assert c.recv(10) == b""     # no entry: closed at once
        c.close()
        # the server appends before it writes anything; our session above
        # has completed, so its line must be there now
        lines = [json.loads(l) for l in open(os.path.join(d, "logs", "connections.log"))]
        assert any(l["addr"] == e["addr"] for l in lines), lines
        # `refused` was recorded too; the close we saw comes after the write
        assert any(l["addr"] == refused for l in lines), lines
    ck.run("recorded", recorded)

    def no_entry(_):
        c = socket.create_connection((noentry, 25), 2)
        assert c.recv(10) == b""
        c.close()
    ck.run("no_entry", no_entry)

    def slow_banner(e):
        t = time.monotonic()
        ck.tls_session(e)
        assert time.monotonic() - t >= 0.2
    ck.run("slow_banner", slow_banner)

    def https_get(e, path="/.well-known/mta-sts.txt", sni=None):
        import http.client
        ctx = client_ctx(P.ca_file)
        host = sni or "mta-sts.%s.test" % e["scenario"]

        class HC(http.client.HTTPSConnection):
            def connect(self):
                sock = socket.create_connection((e["addr"], 443), 5)
                self.sock = ctx.wrap_socket(sock, server_hostname=host)
        h = HC(host, 443, context=ctx, timeout=5)
        h.request("GET", path, headers={"Accept-Encoding": "identity"})
        r = h.getresponse()
        body = r.read()
        h.close()
        return r, body

    def sts_ok(e):
        r, b = https_get(e)
        assert r.status == 200 and r.getheader("Content-Type") == "text/plain"
        assert b.decode() == e["body"], b
        r, b = https_get(e, "/other")
        assert r.status == 404, r.status
    ck.run("sts_ok", sts_ok)

    def sts_redirect(e):
        r, b = https_get(e)
        assert r.status == 301 and r.getheader("Location") == e["location"]
    ck.run("sts_redirect", sts_redirect)

    def sts_html(e):
        r, b = https_get(e)
        assert r.getheader("Content-Type") == "text/html"
    ck.run("sts_html", sts_html)

    def sts_big(e):
        r, b = https_get(e)
        assert len(b) == 70000 and b.startswith(e["body"].encode()), len(b)
        assert int(r.getheader("Content-Length")) == 70000
    ck.run("sts_big", sts_big)

    def sts_slow(e):
        t = time.monotonic()
        r, b = https_get(e)
        assert b.decode() == e["body"]
        assert time.monotonic() - t >= 0.002 * len(b)
    ck.run("sts_slow", sts_slow)

    def sts_gzip(e):
        r, b = https_get(e)
        assert r.getheader("Content-Encoding") == "gzip"
        assert gzip.decompress(b).decode() == e["body"]
    ck.run("sts_gzip", sts_gzip)

    def sts_500(e):
        r, b = https_get(e)
        assert r.status == 500
    ck.run("sts_500", sts_500)


def client_checks(ck):
    """Mail client services (servers.json "client"): IMAP, POP3 and
    submission, with STARTTLS/STLS and implicit TLS, and their defects."""
    P = ck.pki

    def ctx():
        return client_ctx(P.ca_file)

    def conn(e, timeout=5.0):
        return Conn(e["addr"], e["port"], timeout)

    def tagged(c, tag, text):
        """Send an IMAP command; (untagged lines, tagged line)."""
        c.sock.sendall(("%s %s\r\n" % (tag, text)).encode())
        untagged = []
        while True:
            ln = c.line()
            if ln.startswith(tag + " "):
                return untagged, ln
            untagged.append(ln)

    def pop(c, text, multi=False):
        c.sock.sendall(text.encode() + b"\r\n")
        first = c.line()
        lines = [first]
        if multi and first.startswith("+OK"):
            while lines[-1] != ".":
                lines.append(c.line())
        return lines

    def closed(c):
        try:
            return c.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def imap_caps(lines):
        return [w.upper() for ln in lines if ln.upper().startswith("* CAPABILITY")
                for w in ln.split()[2:]]

    def imap_starttls(e, inject=None):
        c = conn(e)
        g = c.line()
        assert g.startswith("* OK"), g
        u, t = tagged(c, "a1", "CAPABILITY")
        assert t.startswith("a1 OK") and "STARTTLS" in imap_caps(u), (u, t)
        u, t = tagged(c, "a2", "STARTTLS")
        assert t.startswith("a2 OK") and not u, (u, t)
        if inject:
            assert c.line() == inject
        s = c.starttls(ctx(), e["host"])
        u, t = tagged(c, "a3", "CAPABILITY")
        caps = imap_caps(u)
        assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps, caps
        u, t = tagged(c, "a4", "LOGOUT")
        assert u[0].startswith("* BYE") and t.startswith("a4 OK"), (u, t)
        assert closed(c)
        v = s.version()
        c.close()
        return v
    ck.run("c_imap", imap_starttls)
    ck.run("c_imap_inject", lambda e: imap_starttls(e, "* OK injected"))

    def greeting_caps(e):
        c = conn(e)
        g = c.line()
        assert g.startswith("* OK [CAPABILITY ") and "STARTTLS" in g.upper(), g
        u, t = tagged(c, "a2", "STARTTLS")
        assert t.startswith("a2 OK"), t
        c.starttls(ctx(), e["host"])
        tagged(c, "a3", "LOGOUT")
        c.close()
    ck.run("c_imap_greeting_caps", greeting_caps)

    def implicit(e, first, quit):
        c = conn(e)
        s = c.starttls(ctx(), e["host"])
        g = c.line()
        assert g.startswith(first), g
        quit(c)
        v = s.version()
        c.close()
        return v

    def imap_logout(c):
        u, t = tagged(c, "a1", "CAPABILITY")
        assert t.startswith("a1 OK") and "STARTTLS" not in imap_caps(u), (u, t)
        u, t = tagged(c, "a2", "LOGOUT")
        assert t.startswith("a2 OK"), t

    def pop_quit(c):
        r = pop(c, "CAPA", multi=True)
        assert r[0].startswith("+OK") and "STLS" not in r, r
        assert pop(c, "QUIT")[0].startswith("+OK")

    def smtp_quit(c):
        r = c.cmd("EHLO client.test")
        assert r[0].startswith("250") and not any("STARTTLS" in l.upper() for l in r), r
        assert c.cmd("STARTTLS")[0].startswith("503")
        assert c.cmd("QUIT")[0].startswith("221")
    ck.run("c_imaps", lambda e: implicit(e, "* OK", imap_logout))
    ck.run("c_imaps_10993", lambda e: implicit(e, "* OK", imap_logout))
    ck.run("c_pop3s", lambda e: implicit(e, "+OK", pop_quit))
    ck.run("c_submissions", lambda e: implicit(e, "220", smtp_quit))

    def pop3_stls(e, inject=None):
        c = conn(e)
        assert c.line().startswith("+OK")
        r = pop(c, "CAPA", multi=True)
        assert r[0].startswith("+OK") and "STLS" in r, r
        assert pop(c, "STLS")[0].startswith("+OK")
        if inject:
            assert c.line() == inject
        c.starttls(ctx(), e["host"])
        r = pop(c, "CAPA", multi=True)
        assert "STLS" not in r, r
        assert pop(c, "QUIT")[0].startswith("+OK")
        c.close()
    ck.run("c_pop3_same_addr", pop3_stls)
    ck.run("c_pop3_inject", lambda e: pop3_stls(e, "+OK injected"))

    def submission(e):
        c = conn(e)
        assert c.reply()[0].startswith("220")
        r = c.cmd("EHLO client.test")
        assert any(l[4:].upper() == "STARTTLS" for l in r), r
        assert c.cmd("STARTTLS")[0].startswith("220")
        c.starttls(ctx(), e["host"])
        assert c.cmd("QUIT")[0].startswith("221")
        c.close()
    ck.run("c_submission", submission)

    def imap_no_starttls(e):
        c = conn(e)
        c.line()
        u, t = tagged(c, "a1", "CAPABILITY")
        assert "STARTTLS" not in imap_caps(u), u
        u, t = tagged(c, "a2", "STARTTLS")
        assert t.startswith("a2 BAD"), t
        tagged(c, "a3", "LOGOUT")
        c.close()
    ck.run("c_imap_no_starttls", imap_no_starttls)

    def imap_refused(e):
        c = conn(e)
        c.line()
        u, t = tagged(c, "a1", "CAPABILITY")
        assert "STARTTLS" in imap_caps(u), u
        u, t = tagged(c, "a2", "STARTTLS")
        assert t.startswith("a2 NO"), t
        tagged(c, "a3", "LOGOUT")
        c.close()
    ck.run("c_imap_refused", imap_refused)

    def imap_cap_bad(e):
        c = conn(e)
        c.line()
        u, t = tagged(c, "a1", "CAPABILITY")
        assert t.startswith("a1 BAD") and not u, (u, t)
        c.close()
    ck.run("c_imap_cap_bad", imap_cap_bad)

    def garbage(e, implicit_tls=False):
        c = conn(e)
        if implicit_tls:
            c.starttls(ctx(), e["host"])
        data = c.recv_some()
        assert not data.startswith((b"* ", b"+OK", b"220")), data[:20]
        c.close()
    ck.run("c_imap_garbage", garbage)
    ck.run("c_imaps_garbage", lambda e: garbage(e, True))

    def greeting_then_close(e, want):
        c = conn(e)
        g = c.line()
        assert g.startswith(want), g
        assert closed(c)
        c.close()
    ck.run("c_imap_bye", lambda e: greeting_then_close(e, "* BYE"))
    ck.run("c_pop3_err", lambda e: greeting_then_close(e, "-ERR"))

    def preauth(e):
        c = conn(e)
        assert c.line().startswith("* PREAUTH")
        u, t = tagged(c, "a1", "STARTTLS")
        assert t.startswith("a1 BAD"), t
        u, t = tagged(c, "a2", "LOGOUT")
        assert t.startswith("a2 OK"), t
        c.close()
    ck.run("c_imap_preauth", preauth)

    def silent(e, implicit_tls=False):
        c = conn(e, timeout=0.3)
        if implicit_tls:
            c.starttls(ctx(), e["host"])     # the handshake completes
        try:
            c.recv_some()
        except (socket.timeout, TimeoutError):
            c.close()
            return
        raise AssertionError("silent server sent something")
    ck.run("c_imap_silent", silent)
    ck.run("c_imaps_silent", lambda e: silent(e, True))

    def handshake_fails(e, want):
        c = conn(e)
        try:
            c.starttls(ctx(), e["host"])
        except (ssl.SSLError, ConnectionResetError, ssl.SSLEOFError) as ex:
            assert want in type(ex).__name__ + str(ex).upper(), ex
            c.close()
            return
        raise AssertionError("handshake succeeded")
    ck.run("c_imaps_alert", lambda e: handshake_fails(e, "HANDSHAKE_FAILURE"))
    ck.run("c_imaps_no_cert", lambda e: handshake_fails(e, "EOF"))

    def reset(e):
        # The RST may come before connect() has returned under load (a
        # socket with a timeout connects non-blocking, then reads SO_ERROR).
        try:
            c = conn(e)
        except ConnectionResetError:
            return
        try:
            d = c.sock.recv(10)
        except ConnectionResetError:
            c.close()
            return
        raise AssertionError("no reset: %r" % d)
    ck.run("c_imaps_reset", reset)

    def imap_tls_reset(e):
        c = conn(e)
        c.line()
        u, t = tagged(c, "a2", "STARTTLS")
        assert t.startswith("a2 OK"), t
        try:
            c.starttls(ctx(), e["host"])
        except (ConnectionResetError, ssl.SSLError):
            c.close()
            return
        raise AssertionError("handshake succeeded")
    ck.run("c_imap_tls_reset", imap_tls_reset)

    def pop_no_stls(e):
        c = conn(e)
        c.line()
        r = pop(c, "CAPA", multi=True)
        assert "STLS" not in r, r
        assert pop(c, "STLS")[0].startswith("-ERR")
        assert pop(c, "QUIT")[0].startswith("+OK")
        c.close()
    ck.run("c_pop3_no_stls", pop_no_stls)

    def pop_refused(e):
        c = conn(e)
        c.line()
        r = pop(c, "CAPA", multi=True)
        assert "STLS" in r, r
        assert pop(c, "STLS") == ["-ERR not now"]
        c.close()
    ck.run("c_pop3_refused", pop_refused)

    def pop_capa_err(e):
        c = conn(e)
        c.line()
        assert pop(c, "CAPA", multi=True) == ["-ERR no CAPA"]
        c.close()
    ck.run("c_pop3_capa_err", pop_capa_err)

    def sub_no_starttls(e):
        c = conn(e)
        c.reply()
        r = c.cmd("EHLO x")
        assert not any("STARTTLS" in l for l in r), r
        c.close()
    ck.run("c_submission_no_starttls", sub_no_starttls)

    def sub_refused(e):
        c = conn(e)
        c.reply()
        c.cmd("EHLO x")
        assert c.cmd("STARTTLS")[0].startswith("502")
        c.close()
    ck.run("c_submission_refused", sub_refused)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def bench(pki, e, n, server_pid):
    """Concurrent STARTTLS sessions against one address; reports the rate
    and the server's own CPU time per session (the client shares the box)."""
    import concurrent.futures
    ctx = client_ctx(pki.ca_file)
    pids = [server_pid] + children_of(server_pid)
    cpu0 = sum(cpu_seconds(x) for x in pids)

    def one(_):
        c = Conn(e["addr"])
        c.reply()
        c.cmd("EHLO b")
        c.cmd("STARTTLS")
        c.starttls(ctx, e["host"])
        c.cmd("QUIT")
        c.close()
    t = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(one, range(n)))
    dt = time.monotonic() - t
    cpu = sum(cpu_seconds(x) for x in pids) - cpu0
    print("bench: %d STARTTLS sessions in %.2fs = %.0f/s (client in the same box); "
          "server CPU %.2fs = %.0f sessions per server CPU-second"
          % (n, dt, n / dt, cpu, n / cpu if cpu else 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="use this directory and keep it")
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--postfix", action="store_true")
    ap.add_argument("--workers", type=int, default=1,
                    help="mailserver.py --workers (processes)")
    args = ap.parse_args()
    in_netns()
    d = args.keep or tempfile.mkdtemp(prefix="mxcrawl-smoke-")
    os.makedirs(d, exist_ok=True)
    t = time.monotonic()
    pki, S, refused, noentry = build(d, args.postfix)
    print("fixture: %d scenarios, PKI + leaves in %.2fs" % (len(S), time.monotonic() - t))
    p = start_server(d, ["--workers", str(args.workers)])
    pf = None
    try:
        ck = Checks(pki, S, d)
        all_checks(ck, refused, noentry, d)
        client_checks(ck)
        if args.postfix:
            import postfix
            t = time.monotonic()
            pf = postfix.up(d, pki)
            print("postfix up in %.2fs" % (time.monotonic() - t))
            ck.S["postfix"] = {"addr": "127.77.200.1", "host": "postfix.mx.test"}
            ck.run("postfix", lambda e: ck.tls_session(e))
        if args.bench:
            bench(pki, S["normal"], args.bench, p.pid)
    finally:
        if pf:
            t = time.monotonic()
            postfix.down(d)
            gone = postfix.master_pid(os.path.join(d, "postfix")) is None
            print("%s  postfix down in %.2fs" % ("ok  " if gone else "FAIL",
                                                time.monotonic() - t))
        # SIGTERM with a connection still open (silent server): must not hang.
        held = Conn(S["silent"]["addr"])
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        held.close()
        clean = rc == 0 and not os.path.exists(os.path.join(d, "pids", "mailserver.pid"))
        print("%s  mailserver SIGTERM exit %s, pid file removed: %s"
              % ("ok  " if clean else "FAIL", rc, clean))
        if not clean:
            ck.failed += 1
        bugs = [l for l in open(os.path.join(d, "logs", "mailserver.log")) if "BUG" in l]
        if bugs:
            print("FAIL server log has BUG lines:\n" + "".join(bugs[:5]))
            ck.failed += 1
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    print("smoke: %d ok, %d failed" % (ck.ok, ck.failed))
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
