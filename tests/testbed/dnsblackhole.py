#!/usr/bin/python3
"""A DNS "server" that reads every query and never answers (UDP and TCP),
for the unresponsive-delegation scenario, or with --refuse answers every
UDP query REFUSED (the lame-delegation scenario: a fast SERVFAIL).
Usage: dnsblackhole.py ADDR [--refuse].  Stopped by SIGTERM (down)."""

import selectors
import socket
import sys


def main():
    addr = sys.argv[1]
    refuse = "--refuse" in sys.argv[2:]
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
    print("blackhole listening on %s:%d" % (addr, port), flush=True)
    while True:
        for key, _ in sel.select():
            if key.data == "udp":
                data, peer = u.recvfrom(65535)
                if refuse and len(data) >= 12:
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
            else:
                c = key.fileobj
                if not c.recv(65535):
                    sel.unregister(c)
                    conns.remove(c)
                    c.close()


if __name__ == "__main__":
    main()
