#!/usr/bin/python3
"""Start and stop testbed processes by PID, and wait for readiness with real
queries under a deadline (never a fixed sleep).

Every process is started in a new session (its own process group); its PID
goes to DIR/pids/NAME.pid.  Stopping sends SIGTERM to that group, waits for
the process on a pidfd (no polling sleep) with a deadline, then SIGKILL.
"""

import os
import select
import signal
import socket
import subprocess
import time


class StartError(Exception):
    pass


def pid_file(directory, name):
    return os.path.join(directory, "pids", name + ".pid")


def start(directory, name, argv, env=None, write_pid=True):
    """Start argv with stdout/stderr to DIR/logs/NAME.out; record its PID
    (unless the program writes DIR/pids/NAME.pid itself once ready)."""
    os.makedirs(os.path.join(directory, "pids"), exist_ok=True)
    os.makedirs(os.path.join(directory, "logs"), exist_ok=True)
    out = open(os.path.join(directory, "logs", name + ".out"), "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True,
                         env=env, close_fds=True)
    out.close()
    if write_pid:
        with open(pid_file(directory, name), "w") as f:
            f.write("%d\n" % p.pid)
    return p


# The SMTP/HTTPS servers `up` may start: servers/fastmail.c (the entries
# it supports, the population by default with --domains) and
# servers/mailserver.py (the rest). Pid files DIR/pids/NAME.pid.
MAIL_SERVERS = ("fastmail", "mailserver")


def mail_server_pids(directory):
    """{name: pid} of the mail/HTTPS servers running in DIR (either may be
    absent): their CPU together is the test servers' cost in a bench."""
    out = {}
    for name in MAIL_SERVERS:
        try:
            with open(pid_file(directory, name)) as f:
                out[name] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return out


def log_tail(directory, name, n=20):
    out = []
    for suffix in (".out", ".log"):
        path = os.path.join(directory, "logs", name + suffix)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                out += f.readlines()[-n:]
    return "".join(out[-n:])


def wait_ready(proc, check, deadline, what):
    """Call check() until it returns true.  Between attempts wait on the
    process itself (pidfd) for up to 50 ms, so a process that dies during
    start-up is reported at once instead of after the deadline."""
    fd = None
    if proc is not None:
        try:
            fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            fd = None
    try:
        while True:
            if check():
                return True
            if proc is not None and proc.poll() is not None:
                raise StartError("%s exited with status %s during start-up" %
                                 (what, proc.returncode))
            left = deadline - time.monotonic()
            if left <= 0:
                raise StartError("%s not ready before the deadline" % what)
            if fd is not None:
                select.select([fd], [], [], min(0.05, left))
            else:
                # no pidfd: block on a socket that never becomes readable
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                select.select([s], [], [], min(0.05, left))
                s.close()
    finally:
        if fd is not None:
            os.close(fd)


def tcp_ready(addr, port, timeout=0.5, want_bytes=False):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        if want_bytes:
            return bool(s.recv(1))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_gone(pid, timeout):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:
        fd = None
    try:
        if fd is not None:
            r, _, _ = select.select([fd], [], [], timeout)
            return bool(r) or not _alive(pid)
        return not _alive(pid)
    finally:
        if fd is not None:
            os.close(fd)


def stop_pid(pid, marker=None, timeout=10.0):
    """SIGTERM the process group led by pid (we started it with a new
    session), wait, SIGKILL if needed.  marker: a string the command line
    must contain (guards against a recycled PID)."""
    if not _alive(pid):
        return "gone"
    if marker and marker not in _cmdline(pid):
        return "foreign"
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return "gone"
    sig_target = (lambda s: os.killpg(pgid, s)) if pgid == pid else (lambda s: os.kill(pid, s))
    try:
        sig_target(signal.SIGTERM)
    except ProcessLookupError:
        return "gone"
    if _wait_gone(pid, timeout):
        # children of the group (nsd's server/xfrd) go with the leader
        try:
            if pgid == pid:
                os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return "stopped"
    try:
        sig_target(signal.SIGKILL)
    except ProcessLookupError:
        pass
    _wait_gone(pid, 5.0)
    return "killed"


def stop_all(directory):
    piddir = os.path.join(directory, "pids")
    if not os.path.isdir(piddir):
        return []
    done = []
    names = sorted(os.listdir(piddir))
    # servers first, DNS last (reverse of start order is not important here)
    for fn in names:
        if not fn.endswith(".pid"):
            continue
        path = os.path.join(piddir, fn)
        try:
            with open(path) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            os.unlink(path)
            continue
        res = stop_pid(pid)
        done.append((fn[:-4], pid, res))
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return done


# ------------------------------------------------------------------ DNS delay relay

DNSDELAY_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "tools", "dnsdelay.c")


def dnsdelay_binary(directory):
    """The relay of `up --latency dns=...`: $TESTBED_DNSDELAY when set (the
    CMake build's tests/dnsdelay), else tests/tools/dnsdelay.c compiled
    into DIR/bin once (plain libc, a second with cc -O2)."""
    env = os.environ.get("TESTBED_DNSDELAY")
    if env:
        if not os.access(env, os.X_OK):
            raise StartError("TESTBED_DNSDELAY=%s is not an executable" % env)
        return env
    out = os.path.join(directory, "bin", "dnsdelay")
    src = os.path.realpath(DNSDELAY_SRC)
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        r = subprocess.run(["cc", "-O2", "-Wall", "-o", out + ".tmp", src],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise StartError("cannot build %s: %s" % (src, r.stderr.strip()))
        os.replace(out + ".tmp", out)
    return out


def start_dnsdelay(directory, dns_delay, deadline, seed=1):
    """Start the relay in front of NSD (dnsgen.DnsDelay) and wait until it
    accepts on every front address; the caller's NSD readiness queries
    then go through it."""
    import dnsgen
    argv = dns_delay.argv(dnsdelay_binary(directory), seed)
    p = start(directory, "dnsdelay", argv)
    for addr in dnsgen.NSD_ADDRS:
        wait_ready(p, lambda a=addr: tcp_ready(a, 53), deadline, "dnsdelay on %s" % addr)
    return p
