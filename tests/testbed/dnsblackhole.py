#!/usr/bin/python3
"""A DNS "server" that reads every query and never answers (UDP and TCP),
for the unresponsive-delegation scenario.  Usage: dnsblackhole.py ADDR [PORT]
Stopped by SIGTERM (tests/testbed/down)."""

import selectors
import socket
import sys


def main():
    addr = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 53
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
                u.recvfrom(65535)
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
