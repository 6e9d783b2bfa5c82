#!/usr/bin/python3
"""Record what a testbed mail/HTTPS server sends, byte for byte, for each
entry of a servers file, so that two servers (fastmail.c and
mailserver.py) can be held against each other: every reply line, the TLS
version and cipher a default client and a TLS 1.2-capped client get, the
certificate chain sent (SHA-256 of each DER certificate), and the whole
HTTP responses to GET, HEAD, another path and another method.

usage: server_transcript.py SERVERS.json [--kinds smtp,https] [--jobs N]
         [--only-fast DIR]    (only the entries DIR/fastmail.conf names)
Writes JSON lines sorted by (kind, addr, port) to stdout.
"""
import argparse
import concurrent.futures
import hashlib
import json
import socket
import ssl
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
TIMEOUT = 10


def client_ctx(maxv=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.set_ciphers("ALL:@SECLEVEL=0")
    c.minimum_version = ssl.TLSVersion.TLSv1
    if maxv:
        c.maximum_version = maxv
    return c


def read_reply(f):
    """One SMTP reply (all its lines) as bytes; b'' at EOF."""
    out = b""
    while True:
        line = f.readline(70000)
        out += line
        if not line or len(line) < 4 or line[3:4] != b"-":
            return out


def tls_facts(t):
    chain = t._sslobj.get_unverified_chain() or []
    return {"version": t.version(), "cipher": t.cipher()[0],
            "chain": [hashlib.sha256(c.public_bytes(ssl._ssl.ENCODING_DER)).hexdigest()[:16]
                      for c in chain]}


def smtp(e, maxv=None):
    r = {}
    s = socket.create_connection((e["addr"], int(e.get("port", 25))), timeout=TIMEOUT)
    try:
        f = s.makefile("rb")
        r["banner"] = read_reply(f).decode("latin-1")
        if r["banner"].startswith("421"):
            # the server closes (RFC 5321 3.8): sending would race its FIN
            # and turn it into an RST
            r["after_reject"] = f.read().decode("latin-1")
            return r
        if not r["banner"].startswith("220"):
            s.sendall(b"NOOP\r\nQUIT\r\n")
            r["after_reject"] = (read_reply(f) + read_reply(f)).decode("latin-1")
            return r
        cmds = [b"NOOP", b"MAIL FROM:<a@b>", b"XYZZY", b"HELO client.test", b"EHLO client.test"]
        if maxv:
            cmds = [b"EHLO client.test"]
        for c in cmds:
            s.sendall(c + b"\r\n")
            r[c.decode()] = read_reply(f).decode("latin-1")
        s.sendall(b"STARTTLS\r\n")
        st = read_reply(f)
        r["STARTTLS"] = st.decode("latin-1")
        if not st.startswith(b"220"):
            s.sendall(b"QUIT\r\n")
            r["QUIT"] = read_reply(f).decode("latin-1")
            return r
        try:
            t = client_ctx(maxv).wrap_socket(s, server_hostname=e.get("host") or "x.test")
        except (ssl.SSLError, OSError) as ex:
            # The connection ended (with or without close_notify: how
            # mailserver.py's asyncio ends a failed handshake varies) or
            # the server sent an alert.
            closed = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError)
            r["tls_error"] = "closed" if isinstance(ex, closed) else "alert or other"
            return r
        r["tls"] = tls_facts(t)
        tf = t.makefile("rb")
        for c in (b"EHLO client.test", b"STARTTLS", b"QUIT"):
            t.sendall(c + b"\r\n")
            r["tls " + c.decode()] = read_reply(tf).decode("latin-1")
        r["after_quit"] = tf.read().decode("latin-1")
    finally:
        s.close()
    return r


def https(e, maxv=None):
    r = {}
    path = e.get("path", "/.well-known/mta-sts.txt")
    reqs = [("GET", path), ("HEAD", path), ("GET", "/other"), ("POST", path)]
    if maxv:
        reqs = reqs[:1]
    for method, p in reqs:
        s = socket.create_connection((e["addr"], int(e.get("port", 443))), timeout=TIMEOUT)
        try:
            t = client_ctx(maxv).wrap_socket(s, server_hostname="mta-sts.x.test")
            r.setdefault("tls", tls_facts(t))
            t.sendall(("%s %s?x=1 HTTP/1.1\r\nHost: mta-sts.x.test\r\n\r\n"
                       % (method, p)).encode())
            data = b""
            while True:
                try:
                    b = t.recv(65536)
                except ssl.SSLError as ex:
                    data += ("<%s>" % type(ex).__name__).encode()
                    break
                if not b:
                    break
                data += b
            r["%s %s" % (method, p)] = data.decode("latin-1")
        finally:
            s.close()
    return r


def one(kind, e):
    fn = smtp if kind == "smtp" else https
    out = {"kind": kind, "addr": e["addr"], "port": int(e.get("port", 25 if kind == "smtp" else 443))}
    for name, maxv in (("default", None), ("tls12", ssl.TLSVersion.TLSv1_2)):
        try:
            out[name] = fn(e, maxv)
        except (OSError, ssl.SSLError) as ex:
            out[name] = {"error": type(ex).__name__}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("servers")
    ap.add_argument("--only-fast", metavar="DIR")
    ap.add_argument("--jobs", type=int, default=16)
    args = ap.parse_args()
    obj = json.load(open(args.servers))
    only = None
    if args.only_fast:
        only = set()
        for line in open(args.only_fast + "/fastmail.conf"):
            w = line.split()
            if w and w[0] in ("smtp", "https"):
                only.add((w[0], w[1], int(w[2])))
    todo = []
    for kind in ("smtp", "https"):
        for e in obj.get(kind, []):
            k = (kind, e["addr"], int(e.get("port", 25 if kind == "smtp" else 443)))
            if only is None or k in only:
                todo.append((kind, e))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        res = list(ex.map(lambda a: one(*a), todo))
    res.sort(key=lambda r: (r["kind"], r["addr"], r["port"]))
    for r in res:
        sys.stdout.write(json.dumps(r, sort_keys=True) + "\n")
    sys.stderr.write("server_transcript: %d entries\n" % len(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
