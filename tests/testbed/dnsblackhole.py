#!/usr/bin/python3
"""A DNS "server" that reads every query and never answers (UDP and TCP),
for the unresponsive-delegation scenario, or with --refuse answers every
UDP query REFUSED (the lame-delegation scenario: a fast SERVFAIL), or with
--drop-aaaa UPSTREAM relays every query to UPSTREAM:53 except AAAA
questions, which it reads and never answers (a zone whose A answers while
its AAAA times out: the `drop-aaaa` zone state).
Usage: dnsblackhole.py ADDR [--refuse | --drop-aaaa UPSTREAM].
Stopped by SIGTERM (down)."""

import selectors
import socket
import struct
import sys

QTYPE_AAAA = 28
# Relayed queries waiting for the upstream's answer; the oldest are
# forgotten beyond this (the resolver retries).
MAX_PENDING = 512


def qtype_of(msg):
    """The question's type, or None when the message does not parse."""
    if len(msg) < 12 or struct.unpack("!H", msg[4:6])[0] < 1:
        return None
    i = 12
    while i < len(msg) and msg[i] != 0:
        if msg[i] & 0xC0:
            return None
        i += 1 + msg[i]
    if i + 5 > len(msg):
        return None
    return struct.unpack("!H", msg[i + 1:i + 3])[0]


def main():
    addr = sys.argv[1]
    refuse = "--refuse" in sys.argv[2:]
    upstream = None
    if "--drop-aaaa" in sys.argv[2:]:
        upstream = (sys.argv[sys.argv.index("--drop-aaaa") + 1], 53)
    port = 53
    sel = selectors.DefaultSelector()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind((addr, port))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(64)
    sel.register(u, selectors.EVENT_READ, "udp")
    sel.register(t, selectors.EVENT_READ, "listen")
    conns = []
    relays = []     # (upstream socket, client peer), oldest first
    print("blackhole listening on %s:%d" % (addr, port), flush=True)

    def relay(data, peer):
        """Send one query upstream on its own socket; the answer goes back
        to peer (UDP: an address; TCP: the connection)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(upstream)
        s.send(data)
        sel.register(s, selectors.EVENT_READ, ("relay", peer))
        relays.append(s)
        if len(relays) > MAX_PENDING:
            old = relays.pop(0)
            sel.unregister(old)
            old.close()

    while True:
        for key, _ in sel.select():
            if key.data == "udp":
                data, peer = u.recvfrom(65535)
                if upstream is not None:
                    if qtype_of(data) not in (None, QTYPE_AAAA):
                        relay(data, peer)
                elif refuse and len(data) >= 12:
                    # same ID and question, QR=1, RD copied, RCODE=5
                    flags = 0x8000 | (data[2] << 8 & 0x0100) | 5
                    i = 12
                    while i < len(data) and data[i] != 0:
                        i += 1 + data[i]
                    q = data[12:i + 5]
                    u.sendto(data[:2] + flags.to_bytes(2, "big") + b"\0\1" +
                             b"\0\0\0\0\0\0" + q, peer)
            elif key.data == "listen":
                c, _ = t.accept()
                conns.append(c)
                if len(conns) > 200:
                    old = conns.pop(0)
                    sel.unregister(old)
                    old.close()
                sel.register(c, selectors.EVENT_READ, "conn")
            elif isinstance(key.data, tuple):
                s, peer = key.fileobj, key.data[1]
                try:
                    ans = s.recv(65535)
                except OSError:
                    ans = b""
                sel.unregister(s)
                relays.remove(s)
                s.close()
                if not ans:
                    continue
                try:
                    if isinstance(peer, socket.socket):
                        peer.sendall(struct.pack("!H", len(ans)) + ans)
                    else:
                        u.sendto(ans, peer)
                except OSError:
                    pass
            else:
                c = key.fileobj
                data = c.recv(65535)
                if not data:
                    sel.unregister(c)
                    conns.remove(c)
                    c.close()
                elif upstream is not None and len(data) > 2:
                    # One length-prefixed query per read is all a resolver
                    # sends here (answers are small); relayed over UDP.
                    msg = data[2:2 + struct.unpack("!H", data[:2])[0]]
                    if qtype_of(msg) not in (None, QTYPE_AAAA):
                        relay(msg, c)


if __name__ == "__main__":
    main()
