#!/usr/bin/python3
"""Testbed SMTP + HTTPS server: one asyncio process, behaviour per address.

    python3 tests/testbed/servers/mailserver.py DIR [--name NAME]
            [--listen ADDR ...] [--reuse-port] [--quiet]

Reads DIR/servers.json (format: tests/testbed/INTERFACE.md), listens on
0.0.0.0 and :: (ports 25 and 443, plus any other port an entry names) and
picks each connection's behaviour from its destination address
(getsockname()).  An address with no entry is closed at once.

Readiness: DIR/pids/NAME.pid (default NAME = mailserver) is written only
after every listening socket is bound and listening, so a starter waits for
the pid file and then for a real TCP connect.  Log: DIR/logs/NAME.log, one
line per connection.  Connections to `record_connections` addresses are
appended to DIR/logs/connections.log as JSON lines.  SIGTERM / SIGINT: stop
listening, drop connections, remove the pid file, exit 0.

Must run inside the testbed's network namespace (ports 25/443 need root).
"""

import argparse
import asyncio
import gzip
import ipaddress
import json
import os
import random
import resource
import signal
import socket
import ssl
import struct
import sys
import time
import warnings
import zlib

warnings.filterwarnings("ignore", category=DeprecationWarning)

LINE_LIMIT = 64 * 1024          # longest command line we accept
IDLE_TIMEOUT = 120.0            # seconds without a command -> close
HOLD_TIMEOUT = 600.0            # silent / long_line / garbage: max hold
HANDSHAKE_TIMEOUT = 30.0
ENDLESS_CAP = 256 << 20         # endless_ehlo stops after this many bytes
CIPHERS = "ALL:!aNULL:!eNULL:@SECLEVEL=0"
TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found",
           303: "See Other", 307: "Temporary Redirect",
           308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error", 503: "Service Unavailable"}


def norm_addr(a):
    try:
        ip = ipaddress.ip_address(a.split("%", 1)[0])
    except ValueError:
        return a
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


class Log:
    def __init__(self, path, quiet=False):
        self.f = open(path, "a", buffering=1)
        self.quiet = quiet

    def __call__(self, msg, force=False):
        if self.quiet and not force:
            return
        self.f.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), msg))


class Config:
    def __init__(self, directory, servers=None):
        with open(servers or os.path.join(directory, "servers.json")) as f:
            data = json.load(f)
        self.dir = directory
        self.smtp, self.https, self.client = {}, {}, {}
        self.ports = {25: "smtp", 443: "https"}
        for kind, table, port in (("smtp", self.smtp, 25),
                                  ("https", self.https, 443),
                                  ("client", self.client, None)):
            for e in data.get(kind, []):
                e = dict(e)
                if port is not None:
                    e.setdefault("port", port)
                table[(norm_addr(e["addr"]), int(e["port"]))] = e
                self.ports.setdefault(int(e["port"]), kind)
        # The private Postfix (tests/testbed/postfix.py) listens on
        # ADDR:backend_port, since this process owns *:25; its public
        # address ADDR:25 is relayed to it byte for byte.
        pfx = data.get("postfix")
        if pfx and pfx.get("addr"):
            k = (norm_addr(pfx["addr"]), 25)
            if k not in self.smtp:
                self.smtp[k] = {"addr": pfx["addr"], "port": 25,
                                "scenario": pfx.get("scenario", "postfix"),
                                "mode": "proxy",
                                "proxy_to": "%s:%d" % (pfx["addr"],
                                                       int(pfx.get("backend_port", 10025)))}
        # Top-level list of addresses to record (with or without an entry).
        self.record = {norm_addr(a) for a in data.get("record_connections", [])}
        self._ctx = {}
        self._bodies = {}
        # Load every certificate once, at start (PEM parsing is slow).
        for e in list(self.smtp.values()) + list(self.https.values()) + \
                list(self.client.values()):
            if e.get("tls"):
                self.context(e["tls"])
        for e in self.https.values():
            self.body(e)

    def lookup(self, addr, port):
        e = self.smtp.get((addr, port))
        if e is not None:
            return "smtp", e
        e = self.https.get((addr, port))
        if e is not None:
            return "https", e
        e = self.client.get((addr, port))
        if e is not None:
            return "client", e
        return None, None

    def context(self, tls):
        k = json.dumps(tls, sort_keys=True)
        ctx = self._ctx.get(k)
        if ctx is not None:
            return ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # Security level 0 before loading: RSA-1024 and SHA-1 certificates,
        # TLS 1.0 / 1.1 must all be servable.
        ctx.set_ciphers(CIPHERS)
        ctx.minimum_version = TLS_VERSIONS[tls.get("min_version", "TLSv1")]
        if tls.get("max_version"):
            ctx.maximum_version = TLS_VERSIONS[tls["max_version"]]
        else:
            ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
        ctx.options |= ssl.OP_NO_COMPRESSION
        cert = tls.get("chain_file") or tls["cert_file"]
        ctx.load_cert_chain(cert, tls["key_file"])

        def sni(sslobj, name, _ctx):
            try:
                sslobj.testbed_sni = name
            except AttributeError:
                pass
            return None
        ctx.sni_callback = sni
        self._ctx[k] = ctx
        return ctx

    def body(self, e):
        k = id(e)
        if k in self._bodies:
            return self._bodies[k]
        body = entry_body(e)
        self._bodies[k] = body
        return body


def entry_body(e):
    """The bytes of an HTTPS entry's body (body / body_file, body_size
    padding, content_encoding); also used by fastmail_conf.py."""
    if "body_file" in e:
        with open(e["body_file"], "rb") as f:
            body = f.read()
    else:
        body = e.get("body", "")
        body = body.encode() if isinstance(body, str) else bytes(body)
    size = int(e.get("body_size", 0) or 0)
    if size > len(body):
        # Pad with extension lines (unknown keys are ignored, RFC 8461
        # §3.2), then fill to the exact size.
        pad = bytearray(body)
        if pad and not pad.endswith(b"\n"):
            pad += b"\n"
        line = b"x-pad: " + b"p" * 92 + b"\n"
        while len(pad) + len(line) <= size:
            pad += line
        pad += b"p" * (size - len(pad))
        body = bytes(pad)
    enc = e.get("content_encoding")
    if enc:
        for coding in [c.strip().lower() for c in enc.split(",")]:
            if coding in ("gzip", "x-gzip"):
                body = gzip.compress(body, mtime=0)
            elif coding == "deflate":
                body = zlib.compress(body)
            # anything else (identity, br, bogus): sent as is
    return body


class Server:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.dir)
        self.name = args.name
        for sub in ("pids", "logs"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.log = Log(os.path.join(self.dir, "logs", self.name + ".log"),
                       args.quiet)
        self.conn_log = open(os.path.join(self.dir, "logs", "connections.log"),
                             "a", buffering=1)
        self.cfg = Config(self.dir, args.servers)
        self.pid_file = os.path.join(self.dir, "pids", self.name + ".pid")
        self.servers = []
        self.parent_pid = os.getpid()
        self.tasks = set()
        self.stats = {"connections": 0, "tls_ok": 0, "tls_fail": 0}

    # ---------------------------------------------------------- plumbing

    def _listen_socket(self, host, port):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.args.reuse_port:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
        s.listen(4096)
        s.setblocking(False)
        return s

    def listen_hosts(self, port):
        """Where to listen on port: the --listen addresses, but a client
        port (servers.json "client") only at the addresses its entries
        serve, so that the same port at any other address (an MX host
        without client services) refuses the connection: a closed port,
        as on most real MX hosts."""
        if self.cfg.ports[port] != "client":
            return self.args.listen
        listen = set(self.args.listen)
        out = []
        for addr in sorted({a for a, p in self.cfg.client if p == port}):
            wild = "::" if ":" in addr else "0.0.0.0"
            if wild in listen or addr in listen:
                out.append(addr)
        return out

    def bind(self):
        """Bind and listen on every (address, port), before any event loop
        exists, so worker processes can be forked to share the sockets."""
        self.socks = []
        for port in sorted(self.cfg.ports):
            for host in self.listen_hosts(port):
                try:
                    sock = self._listen_socket(host, port)
                except OSError as e:
                    if ":" in host and e.errno in (97, 99):  # no IPv6 here
                        self.log("no IPv6 listener on [%s]:%d: %s" % (host, port, e), True)
                        continue
                    raise
                self.socks.append((port, sock))

    async def start(self, write_pid=True):
        for port, sock in self.socks:
            srv = await asyncio.start_server(
                lambda r, w, p=port: self._spawn(r, w, p),
                sock=sock, limit=LINE_LIMIT, backlog=4096)
            self.servers.append(srv)
        if write_pid:
            tmp = self.pid_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % os.getpid())
            os.replace(tmp, self.pid_file)
        self.log("listening on %s ports %s (%d smtp, %d https entries), pid %d"
                 % (",".join(self.args.listen), sorted(self.cfg.ports),
                    len(self.cfg.smtp), len(self.cfg.https), os.getpid()), True)

    async def stop(self, children=()):
        for srv in self.servers:
            srv.close()
        for t in list(self.tasks):
            if t is not None:
                t.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for pid in children:            # workers we forked: by their pids
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                await asyncio.get_running_loop().run_in_executor(None, os.waitpid, pid, 0)
            except ChildProcessError:
                pass
        if not children and os.getpid() != self.parent_pid:
            self.log("worker stopped: %s" % json.dumps(self.stats), True)
            return
        try:
            os.unlink(self.pid_file)
        except FileNotFoundError:
            pass
        self.log("stopped: %s" % json.dumps(self.stats), True)

    async def _spawn(self, reader, writer, port):
        t = asyncio.current_task()
        self.tasks.add(t)
        try:
            await self._handle(reader, writer, port)
        finally:
            self.tasks.discard(t)

    async def _handle(self, reader, writer, port):
        self.stats["connections"] += 1
        local = writer.get_extra_info("sockname")
        peer = writer.get_extra_info("peername")
        addr = norm_addr(local[0])
        kind, e = self.cfg.lookup(addr, port)
        conn = {"addr": addr, "port": port, "peer": "%s:%s" % (peer[0], peer[1]),
                "scenario": e.get("scenario") if e else None, "stage": "accept"}
        if addr in self.cfg.record or (e and e.get("record_connections")):
            self.conn_log.write(json.dumps(dict(conn, time=time.time(),
                                                kind=kind)) + "\n")
        try:
            if e is None:
                conn["stage"] = "no_entry"
            elif kind == "smtp":
                await self._smtp(reader, writer, e, conn)
            elif kind == "client":
                await self._client(reader, writer, e, conn)
            else:
                await self._https(reader, writer, e, conn)
        except TlsAborted:
            pass
        except asyncio.CancelledError:
            conn["stage"] += "/cancelled"
            writer.transport.abort()
            raise
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError,
                asyncio.TimeoutError, OSError) as ex:
            conn["error"] = "%s: %s" % (type(ex).__name__, ex)
        except Exception as ex:  # a bug here must not kill the server
            conn["error"] = "BUG %s: %s" % (type(ex).__name__, ex)
            self.log("BUG %r" % ex, True)
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort() if conn.get("error") else writer.close()
            self.log(json.dumps(conn))

    # ------------------------------------------------------------- SMTP

    @staticmethod
    def _lines(lines, host):
        return "".join(l.replace("<host>", host) + "\r\n" for l in lines).encode()

    async def _readline(self, reader, timeout=IDLE_TIMEOUT):
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except ValueError:       # line longer than LINE_LIMIT
            return b"\x00TOOLONG"
        return line or None

    @staticmethod
    async def _trickle(writer, data, e):
        """tarpit mode: one byte every `tarpit_delay` seconds (default 1),
        so the stage timer never fires and only the client's total
        deadline ends the session."""
        delay = float(e.get("tarpit_delay", 1.0))
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(delay)

    async def _hold(self, reader, timeout=HOLD_TIMEOUT):
        """Read and discard until the peer closes (or the hold times out)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                data = await asyncio.wait_for(reader.read(65536), left)
            except asyncio.TimeoutError:
                return
            if not data:
                return

    async def _smtp(self, reader, writer, e, conn, tls_on=False):
        """tls_on: the session already runs inside TLS (submissions)."""
        mode = e.get("mode", "normal")
        host = e.get("host") or "mx.testbed.invalid"
        conn["mode"] = mode
        r = smtp_replies(e)
        if mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            writer.transport.abort()
            conn["stage"] = "reset"
            return
        if mode == "proxy":
            await self._proxy(reader, writer, e, conn)
            return
        if mode == "silent":
            conn["stage"] = "silent"
            await self._hold(reader)
            return
        if e.get("banner_delay"):
            await asyncio.sleep(float(e["banner_delay"]))
        if mode == "garbage":
            rnd = random.Random(conn["addr"])
            writer.write(bytes(rnd.getrandbits(8) for _ in range(2048)))
            await writer.drain()
            conn["stage"] = "garbage"
            await self._hold(reader)
            return
        banner = r["banner"]
        if mode == "tarpit":
            conn["stage"] = "tarpit"
            await self._trickle(writer, banner, e)
        else:
            writer.write(banner)
            await writer.drain()
        conn["stage"] = "banner"
        if mode == "close_after_banner":
            # FIN right after the banner (half-close), then read and
            # discard whatever the client still sends: closing with unread
            # bytes would make the kernel answer with an RST instead, and
            # "closed" would turn into "reset" depending on timing.
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            conn["stage"] = "closed_after_banner"
            await self._hold(reader)
            writer.close()
            return
        code = r["code"]
        if code is not None and code != "220":
            await self._rejecting(reader, writer, code, conn)
            return
        while True:
            line = await self._readline(reader)
            if line is None:
                conn["stage"] += "/eof"
                return
            if line == b"\x00TOOLONG":
                writer.write(b"500 5.5.2 line too long\r\n")
                await writer.drain()
                return
            verb = line.split(None, 1)[0].upper() if line.strip() else b""
            if verb == b"EHLO":
                conn["stage"] = "ehlo"
                if mode == "endless_ehlo":
                    await self._endless(writer, host)
                    return
                if mode == "long_line":
                    writer.write(b"250-" + b"A" * (1 << 20))
                    await writer.drain()
                    await self._hold(reader)
                    return
                writer.write(r["ehlo_tls"] if tls_on else r["ehlo"])
            elif verb == b"HELO":
                conn["stage"] = "helo"
                writer.write(r["helo"])
            elif verb == b"STARTTLS":
                if tls_on:
                    writer.write(b"503 5.5.1 TLS already active\r\n")
                    await writer.drain()
                    continue
                conn["stage"] = "starttls"
                if e.get("starttls_delay"):
                    await asyncio.sleep(float(e["starttls_delay"]))
                out = r["starttls"]
                if not r["starttls_220"]:
                    writer.write(out)
                    await writer.drain()
                    continue
                writer.write(out)
                if not e.get("tls"):
                    # FIN after the 220 (half-close), then drain: closing
                    # with the client's ClientHello unread would send an
                    # RST instead, and "eof" would become "reset" by timing.
                    await writer.drain()
                    if writer.can_write_eof():
                        writer.write_eof()
                    conn["stage"] = "starttls/no_cert"
                    await self._hold(reader)
                    return
                await self._start_tls(reader, writer, e, conn)
                tls_on = True
                conn["stage"] = "tls"
            elif verb == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                conn["stage"] += "/quit"
                writer.close()
                return
            elif verb in (b"NOOP", b"RSET"):
                writer.write(b"250 2.0.0 OK\r\n")
            elif verb in (b"MAIL", b"RCPT", b"DATA", b"BDAT"):
                writer.write(b"554 5.7.1 testbed accepts no mail\r\n")
            else:
                writer.write(b"500 5.5.1 command unrecognized\r\n")
            await writer.drain()

    async def _rejecting(self, reader, writer, code, conn):
        """After a non-220 greeting (RFC 5321 §3.1): 421 closes at once;
        otherwise (554, 4xx) every command but QUIT gets 503."""
        conn["stage"] = "banner_%s" % code
        if code == "421":
            writer.close()
            return
        while True:
            line = await self._readline(reader)
            if line is None or line == b"\x00TOOLONG":
                return
            if line.strip().upper() == b"QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                writer.close()
                return
            writer.write(b"503 5.5.1 Bad sequence of commands\r\n")
            await writer.drain()

    async def _start_tls(self, reader, writer, e, conn):
        if e["tls"].get("reset"):
            # Read the ClientHello record, then reset the connection (RST,
            # not FIN: SO_LINGER with a zero timeout) mid-handshake.
            hdr = await asyncio.wait_for(reader.readexactly(5), IDLE_TIMEOUT)
            n = int.from_bytes(hdr[3:5], "big")
            await asyncio.wait_for(reader.readexactly(n), IDLE_TIMEOUT)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            writer.transport.abort()
            conn["stage"] = "tls_reset"
            self.stats["tls_fail"] += 1
            raise TlsAborted()
        if e["tls"].get("alert"):
            # Read the ClientHello record, answer a fatal handshake_failure
            # alert, close.  (Done by hand: asyncio drops the alert OpenSSL
            # queues when a handshake callback fails.)
            hdr = await asyncio.wait_for(reader.readexactly(5), IDLE_TIMEOUT)
            n = int.from_bytes(hdr[3:5], "big")
            await asyncio.wait_for(reader.readexactly(n), IDLE_TIMEOUT)
            writer.write(b"\x15\x03\x01\x00\x02\x02\x28")
            await writer.drain()
            conn["stage"] = "tls_alert_sent"
            self.stats["tls_fail"] += 1
            writer.close()
            raise TlsAborted()
        if e["tls"].get("slow"):
            # Read the ClientHello record, then trickle a ServerHello one
            # byte a second (a TLS tarpit): the handshake never ends
            # before the client's TLS stage timeout.  Stops when the
            # client goes.
            hdr = await asyncio.wait_for(reader.readexactly(5), IDLE_TIMEOUT)
            n = int.from_bytes(hdr[3:5], "big")
            await asyncio.wait_for(reader.readexactly(n), IDLE_TIMEOUT)
            conn["stage"] = "tls_slow"
            self.stats["tls_fail"] += 1
            hello = b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03" + bytes(118)
            delay = float(e["tls"].get("slow_delay", 1.0))
            try:
                for i in range(len(hello)):
                    writer.write(hello[i:i + 1])
                    await writer.drain()
                    await asyncio.sleep(delay)
            except (ConnectionError, OSError):
                pass
            writer.transport.abort()
            raise TlsAborted()
        ctx = self.cfg.context(e["tls"])
        try:
            await writer.start_tls(ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except Exception:
            self.stats["tls_fail"] += 1
            raise
        self.stats["tls_ok"] += 1
        obj = writer.get_extra_info("ssl_object")
        if obj is not None:
            conn["tls"] = obj.version()
            conn["sni"] = getattr(obj, "testbed_sni", None)

    async def _proxy(self, reader, writer, e, conn):
        """Relay the connection byte for byte to e["proxy_to"] (HOST:PORT)."""
        host, _, port = e["proxy_to"].rpartition(":")
        host = host.strip("[]")
        try:
            ur, uw = await asyncio.wait_for(
                asyncio.open_connection(host, int(port)), HANDSHAKE_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as ex:
            conn["stage"] = "proxy_connect_failed"
            conn["error"] = str(ex)
            writer.transport.abort()
            return
        conn["stage"] = "proxy"

        async def pump(src, dst):
            try:
                while True:
                    data = await asyncio.wait_for(src.read(65536), HOLD_TIMEOUT)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()
                if dst.can_write_eof():
                    dst.write_eof()
            except (OSError, asyncio.TimeoutError):
                dst.transport.abort()
        try:
            await asyncio.gather(pump(reader, uw), pump(ur, writer))
        finally:
            uw.close()
        conn["stage"] = "proxy/done"

    async def _endless(self, writer, host):
        chunk = (("250-%s endless reply line padding padding\r\n" % host) * 1000).encode()
        sent = 0
        while sent < ENDLESS_CAP:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        writer.transport.abort()

    # ------------------------------------------------- client ports (M12)

    async def _client(self, reader, writer, e, conn):
        """A mail client service (servers.json "client"): the protocol and
        the TLS mode come from e["service"], never from the port."""
        svc = e["service"]
        proto, tlsmode = CLIENT_SERVICES[svc]
        mode = e.get("mode", "normal")
        conn["service"], conn["mode"] = svc, mode
        if mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            writer.transport.abort()
            conn["stage"] = "reset"
            return
        tls_on = tlsmode == "implicit"
        if tls_on:
            if not e.get("tls"):
                # FIN at once, then read and discard: the client's
                # ClientHello left unread would turn the FIN into an RST
                # ("eof" would become "reset" by timing).
                conn["stage"] = "no_cert"
                if writer.can_write_eof():
                    writer.write_eof()
                await self._hold(reader)
                return
            await self._start_tls(reader, writer, e, conn)
            conn["stage"] = "tls"
        if proto == "smtp":
            e = dict(e)
            e.setdefault("ehlo", SUBMISSION_EHLO[tlsmode])
            await self._smtp(reader, writer, e, conn, tls_on=tls_on)
            return
        if mode == "silent":
            conn["stage"] += "/silent"
            await self._hold(reader)
            return
        if mode == "garbage":
            rnd = random.Random(conn["addr"])
            writer.write(bytes(rnd.getrandbits(8) for _ in range(2048)))
            await writer.drain()
            conn["stage"] += "/garbage"
            await self._hold(reader)
            return
        if proto == "imap":
            await self._imap(reader, writer, e, conn, tls_on)
        else:
            await self._pop3(reader, writer, e, conn, tls_on)

    async def _client_starttls(self, reader, writer, e, conn, out):
        """Send the OK to STARTTLS/STLS (with any injected plaintext in the
        same write), then the handshake; False when the entry has no
        certificate (FIN after the OK, as for SMTP)."""
        inj = e.get("inject_after_starttls")
        if inj:
            out += inj.encode() if isinstance(inj, str) else inj
        writer.write(out)
        if not e.get("tls"):
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            conn["stage"] = "starttls/no_cert"
            await self._hold(reader)
            return False
        await self._start_tls(reader, writer, e, conn)
        conn["stage"] = "tls"
        return True

    async def _client_greet(self, writer, greeting, e, conn):
        """The IMAP/POP3 greeting: at once, or trickled in `tarpit` mode
        (the session goes on normally should the client still be there)."""
        if e.get("mode") == "tarpit":
            conn["stage"] += "/tarpit"
            await self._trickle(writer, greeting, e)
        else:
            writer.write(greeting)
            await writer.drain()
        conn["stage"] = "greeting"

    async def _imap(self, reader, writer, e, conn, tls_on):
        host = e.get("host") or "mail.testbed.invalid"
        tlsmode = "implicit" if tls_on else "starttls"
        greeting = client_greeting("imap", e, tlsmode)
        await self._client_greet(writer, self._lines(greeting, host), e, conn)
        first = greeting[0].upper()
        if first.startswith("* BYE"):
            writer.close()
            return
        preauth = first.startswith("* PREAUTH")
        caps = client_caps("imap", e, tlsmode)
        while True:
            line = await self._readline(reader)
            if line is None or line == b"\x00TOOLONG":
                return
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                writer.write(b"* BAD missing tag or command\r\n")
                await writer.drain()
                continue
            tag, cmd = parts[0], parts[1].upper()
            if cmd == "CAPABILITY":
                writer.write(self._lines(client_capability_answer("imap", e, caps, tag),
                                         host))
            elif cmd == "STARTTLS":
                if tls_on or preauth or "STARTTLS" not in [c.upper() for c in caps]:
                    writer.write(b"%s BAD STARTTLS not allowed now\r\n" % tag.encode())
                    await writer.drain()
                    continue
                conn["stage"] = "starttls"
                reply = e.get("starttls_reply", "OK Begin TLS negotiation now")
                out = ("%s %s\r\n" % (tag, reply)).encode()
                if not reply.upper().startswith("OK"):
                    writer.write(out)
                    await writer.drain()
                    continue
                if not await self._client_starttls(reader, writer, e, conn, out):
                    return
                tls_on = True
                caps = [c for c in caps if c.upper() not in ("STARTTLS", "LOGINDISABLED")]
                if "AUTH=PLAIN" not in caps:
                    caps.append("AUTH=PLAIN")
                continue
            elif cmd == "LOGOUT":
                writer.write(("* BYE logging out\r\n%s OK LOGOUT completed\r\n" % tag).encode())
                await writer.drain()
                conn["stage"] += "/logout"
                writer.close()
                return
            elif cmd == "NOOP":
                writer.write(("%s OK NOOP completed\r\n" % tag).encode())
            else:
                writer.write(("%s BAD command unknown or not allowed\r\n" % tag).encode())
            await writer.drain()

    async def _pop3(self, reader, writer, e, conn, tls_on):
        host = e.get("host") or "mail.testbed.invalid"
        tlsmode = "implicit" if tls_on else "starttls"
        greeting = client_greeting("pop3", e, tlsmode)
        await self._client_greet(writer, self._lines(greeting, host), e, conn)
        if greeting[0].upper().startswith("-ERR"):
            writer.close()
            return
        caps = client_caps("pop3", e, tlsmode)
        while True:
            line = await self._readline(reader)
            if line is None or line == b"\x00TOOLONG":
                return
            cmd = line.decode("latin-1").strip().upper()
            if cmd == "CAPA":
                writer.write(self._lines(client_capability_answer("pop3", e, caps), host))
            elif cmd == "STLS":
                if tls_on or "STLS" not in [c.upper() for c in caps]:
                    writer.write(b"-ERR STLS not allowed now\r\n")
                    await writer.drain()
                    continue
                conn["stage"] = "starttls"
                reply = e.get("starttls_reply", "+OK Begin TLS negotiation")
                out = (reply + "\r\n").encode()
                if not reply.startswith("+OK"):
                    writer.write(out)
                    await writer.drain()
                    continue
                if not await self._client_starttls(reader, writer, e, conn, out):
                    return
                tls_on = True
                caps = [c for c in caps if c.upper() != "STLS"]
                continue
            elif cmd == "QUIT":
                writer.write(b"+OK bye\r\n")
                await writer.drain()
                conn["stage"] += "/quit"
                writer.close()
                return
            elif cmd == "NOOP":
                writer.write(b"+OK\r\n")
            else:
                writer.write(b"-ERR unknown command\r\n")
            await writer.drain()

    # ------------------------------------------------------------ HTTPS

    async def _https(self, reader, writer, e, conn):
        if not e.get("tls"):
            conn["stage"] = "no_cert"
            return
        await self._start_tls(reader, writer, e, conn)
        conn["stage"] = "tls"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                          IDLE_TIMEOUT)
        except (asyncio.LimitOverrunError, ValueError):
            await self._http_reply(writer, 400, b"bad request\n", {}, 0)
            return
        reqline = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = reqline.split()
        conn["request"] = reqline[:200]
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            await self._http_reply(writer, 405, b"method not allowed\n", {}, 0)
            return
        if path != e.get("path", "/.well-known/mta-sts.txt"):
            await self._http_reply(writer, 404, b"not found\n", {}, 0)
            conn["status"] = 404
            return
        status = int(e.get("status", 200))
        conn["status"] = status
        headers = http_headers(e)
        body = self.cfg.body(e)
        if method == "HEAD":
            body = b""
        await self._http_reply(writer, status, body, headers,
                               float(e.get("slow", 0) or 0))

    async def _http_reply(self, writer, status, body, headers, slow):
        writer.write(http_head(status, body, headers))
        if slow > 0:
            for i in range(len(body)):
                writer.write(body[i:i + 1])
                await writer.drain()
                await asyncio.sleep(slow)
        else:
            writer.write(body)
        await writer.drain()
        writer.close()
        await writer.wait_closed()


def smtp_replies(e):
    """Every SMTP reply of a normal-mode entry, as the bytes sent: banner,
    code (of the greeting's last line, None for the default), ehlo,
    ehlo_tls (STARTTLS removed, as sent inside TLS), helo, starttls (with
    inject_after_starttls appended when it is a 220), starttls_220.  The
    one definition, used by this server and by fastmail_conf.py."""
    host = e.get("host") or "mx.testbed.invalid"
    lines = Server._lines
    ehlo = e.get("ehlo", ["250-<host>", "250-PIPELINING", "250-STARTTLS",
                          "250 8BITMIME"])
    if "starttls_reply" in e:
        reply = e["starttls_reply"]
    elif any(l[4:].strip().upper() == "STARTTLS" for l in ehlo):
        reply = ["220 2.0.0 Ready to start TLS"]
    else:
        # Not advertised (no TLS, or a stripping middlebox that also
        # rewrites the client's command): unknown command.
        reply = ["500 5.5.1 command unrecognized"]
    out = lines(reply, host)
    ok = bool(reply) and reply[-1].startswith("220")
    if ok and e.get("inject_after_starttls"):
        # Same write, so the same TCP segment as the 220: what a
        # response-injecting man in the middle produces.
        inj = e["inject_after_starttls"]
        out += inj.encode() if isinstance(inj, str) else inj
    return {
        "banner": lines(e.get("banner", ["220 <host> ESMTP testbed"]), host),
        "code": _last_code(e.get("banner")),
        "ehlo": lines(ehlo, host),
        "ehlo_tls": lines(_fix_last([l for l in ehlo if "STARTTLS" not in l.upper()]),
                          host),
        "helo": lines(e.get("helo", ["250 <host>"]), host),
        "starttls": out,
        "starttls_220": ok,
    }


# ------------------------------------------------------------ client ports
# The mail client services (M12): service -> (protocol, TLS mode). The
# protocol and TLS mode come from the service, never from the port.
CLIENT_SERVICES = {
    "submissions": ("smtp", "implicit"), "submission": ("smtp", "starttls"),
    "imaps": ("imap", "implicit"), "imap": ("imap", "starttls"),
    "pop3s": ("pop3", "implicit"), "pop3": ("pop3", "starttls"),
}
# Defaults of a client entry (by TLS mode); tests/testbed/build.py derives
# the truth from these same definitions.
IMAP_CAPS = {"starttls": ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"],
             "implicit": ["IMAP4rev1", "AUTH=PLAIN"]}
POP3_CAPS = {"starttls": ["TOP", "UIDL", "USER", "STLS"],
             "implicit": ["TOP", "UIDL", "USER"]}
SUBMISSION_EHLO = {"starttls": ["250-<host>", "250-PIPELINING", "250-STARTTLS",
                                "250 8BITMIME"],
                   "implicit": ["250-<host>", "250-PIPELINING", "250-AUTH PLAIN",
                                "250 8BITMIME"]}


def client_caps(proto, e, tlsmode):
    """The capability list a client entry announces before any STARTTLS
    (IMAP CAPABILITY, POP3 CAPA; SMTP: the EHLO lines)."""
    if proto == "imap":
        return list(e.get("capabilities", IMAP_CAPS[tlsmode]))
    if proto == "pop3":
        return list(e.get("capabilities", POP3_CAPS[tlsmode]))
    return list(e.get("ehlo", SUBMISSION_EHLO[tlsmode]))


def client_capability_answer(proto, e, caps, tag="a1"):
    """The lines (`<host>` not yet replaced) a client entry sends in answer
    to IMAP CAPABILITY (tagged `tag`) or POP3 CAPA, announcing caps:
    `capability_reply` when it is no OK; else the list, in IMAP one
    `* CAPABILITY` line (one line per capability with `capability_split`),
    in POP3 one line per capability and the final `.`."""
    reply = e.get("capability_reply")
    if proto == "imap":
        if reply and not reply.upper().startswith("OK"):
            return ["%s %s" % (tag, reply)]
        if e.get("capability_split"):
            data = ["* CAPABILITY %s" % c for c in caps]
        else:
            data = ["* CAPABILITY %s" % " ".join(caps)]
        return data + ["%s OK CAPABILITY completed" % tag]
    if reply and not reply.startswith("+OK"):
        return [reply]
    return ["+OK Capability list follows"] + list(caps) + ["."]


def client_greeting(proto, e, tlsmode):
    """The greeting line(s) of a client entry, `<host>` not yet replaced:
    SMTP `banner`; IMAP `greeting` (default `* OK ...`, with a
    `[CAPABILITY ...]` response code when `greeting_capability`); POP3
    `greeting` (default `+OK ...`)."""
    if proto == "smtp":
        return list(e.get("banner", ["220 <host> ESMTP testbed"]))
    if proto == "imap":
        g = e.get("greeting")
        if g is None:
            g = "* OK <host> IMAP4rev1 testbed ready"
            if e.get("greeting_capability"):
                g = "* OK [CAPABILITY %s] <host> ready" % " ".join(
                    client_caps(proto, e, tlsmode))
        return [g]
    return [e.get("greeting", "+OK <host> POP3 testbed ready")]



def http_headers(e):
    """The extra response headers of an HTTPS entry's policy path."""
    headers = {}
    ct = e.get("content_type", "text/plain")
    if ct is not None:
        headers["Content-Type"] = ct
    if e.get("location"):
        headers["Location"] = e["location"]
    if e.get("content_encoding"):
        headers["Content-Encoding"] = e["content_encoding"]
    return headers


def http_head(status, body, headers):
    """Status line and headers of every HTTP response (bytes)."""
    h = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
         "Content-Length: %d" % len(body), "Connection: close",
         "Server: mxcrawl-testbed"]
    if "Content-Type" not in headers and status != 200:
        h.append("Content-Type: text/plain")
    h += ["%s: %s" % kv for kv in headers.items()]
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1")


def _last_code(lines):
    if not lines:
        return None
    last = lines[-1]
    return last[:3] if len(last) >= 3 and last[:3].isdigit() else None


class TlsAborted(Exception):
    """The scenario aborted the TLS handshake on purpose."""


def _fix_last(lines):
    """After removing lines, make the last one a final `250 ` line."""
    if not lines:
        return ["250 ok"]
    out = list(lines)
    last = out[-1]
    if len(last) >= 4 and last[3] == "-":
        out[-1] = last[:3] + " " + last[4:]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--name", default="mailserver")
    ap.add_argument("--servers", help="servers file to serve (default "
                    "DIR/servers.json; `up` gives a part of it when the "
                    "fast server takes the rest)")
    ap.add_argument("--listen", nargs="+", default=["0.0.0.0", "::"])
    ap.add_argument("--reuse-port", action="store_true",
                    help="SO_REUSEPORT, to run several processes on one port")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes sharing the listening sockets (forked "
                         "after binding; the pid file names the parent)")
    ap.add_argument("--quiet", action="store_true",
                    help="no per-connection log lines")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    srv = Server(args)          # loads every certificate once
    srv.bind()
    children = []
    for _ in range(max(1, args.workers) - 1):
        pid = os.fork()
        if pid == 0:                # worker: same sockets, own event loop
            children = None
            break
        children.append(pid)
    is_worker = children is None

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await srv.start(write_pid=not is_worker)
            await stop.wait()
        finally:
            await srv.stop(() if is_worker else children)
    asyncio.run(run())
    if is_worker:
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
