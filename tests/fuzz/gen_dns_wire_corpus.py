#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_dns_wire: real-looking DNS responses.

Each seed is one binary DNS message, built here by hand so that the corpus
can be regenerated and reviewed: MX answers, NODATA and NXDOMAIN with SOA,
a null MX, CNAME chains, A/AAAA, TLSA, multi-string TXT, OPT with Extended
DNS Errors, truncation, and malformed packets (pointer loops, forward
pointers, bad RDLENGTH, ...) that the parser must refuse.

Usage: gen_dns_wire_corpus.py [OUTDIR]   (default: corpus/dns_wire next to
this script). Its files are overwritten; the output is deterministic. Files
named found-*.bin in the same folder are small inputs libFuzzer found that
reach code the seeds do not; this script leaves them alone.
"""
import os
import struct
import sys

TYPE = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16,
        "AAAA": 28, "SRV": 33, "OPT": 41, "RRSIG": 46, "TLSA": 52}
IN = 1
QR, AA, TC, RD, RA, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x20, 0x10
RESP = QR | RD | RA
QNAME_OFF = 12  # the question name always follows the 12-byte header


def name(text):
    """Uncompressed wire form of a dotted name ("." is the root)."""
    out = b""
    for label in text.strip(".").split("."):
        if label:
            raw = label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def ptr(offset):
    return struct.pack(">H", 0xC000 | offset)


def header(flags, qd=1, an=0, ns=0, ar=0, ident=0x1234):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def question(qname, qtype):
    return name(qname) + struct.pack(">HH", TYPE[qtype], IN)


def rr(owner, rtype, rdata, ttl=300, rclass=IN, rdlen=None):
    """A record; owner is wire bytes (a name or a pointer)."""
    if rdlen is None:
        rdlen = len(rdata)
    return owner + struct.pack(">HHIH", TYPE[rtype], rclass, ttl, rdlen) + rdata


def opt(options=b"", udp=1232, ext_rcode=0, do=True):
    ttl = (ext_rcode << 24) | (0x8000 if do else 0)
    return b"\x00" + struct.pack(">HHIH", TYPE["OPT"], udp, ttl,
                                 len(options)) + options


def ede(code, text=b""):
    return struct.pack(">HHH", 15, 2 + len(text), code) + text


def rrsig(covered, signer, labels=2):
    fixed = struct.pack(">HBBIIIH", TYPE[covered], 13, labels, 300,
                        0x67000000, 0x66000000, 0x1234)
    return fixed + name(signer) + bytes(range(64))


def mx_rdata(pref, target):
    return struct.pack(">H", pref) + target


def seeds():
    s = {}
    # Question "example.com" at 12; "example.com" is the whole qname.
    q = question("example.com", "MX")
    s["mx_answer_signed"] = (
        header(RESP | AD, an=3, ar=1) + q
        + rr(ptr(12), "MX", mx_rdata(10, b"\x02mx" + ptr(12)))
        + rr(ptr(12), "MX", mx_rdata(20, b"\x03mx2" + ptr(12)))
        + rr(ptr(12), "RRSIG", rrsig("MX", "example.com"))
        + opt())
    s["mx_answer_with_glue"] = (
        header(RESP, an=1, ar=3) + q
        + rr(ptr(12), "MX", mx_rdata(5, name("Mail.Example.COM")))
        + rr(name("mail.example.com"), "A", bytes([192, 0, 2, 25]))
        + rr(name("mail.example.com"), "AAAA",
             bytes.fromhex("20010db8000000000000000000000025"))
        + opt())
    s["null_mx"] = (header(RESP | AD, an=1, ar=1) + q
                    + rr(ptr(12), "MX", mx_rdata(0, b"\x00")) + opt())
    # NODATA: "example.com" SOA in authority; "com" is at 20.
    soa = (b"\x03ns1" + ptr(12) + b"\x0ahostmaster" + ptr(12)
           + struct.pack(">IIIII", 2024010101, 7200, 900, 1209600, 300))
    s["nodata_soa"] = (header(RESP, ns=1, ar=1) + q
                       + rr(ptr(12), "SOA", soa, ttl=3600) + opt())
    s["nxdomain_soa"] = (
        header(RESP | 3, ns=1, ar=1) + question("nope.example.com", "MX")
        + rr(ptr(17), "SOA", b"\x03ns1" + ptr(17) + b"\x0ahostmaster"
             + ptr(17) + struct.pack(">IIIII", 1, 2, 3, 4, 60), ttl=60)
        + opt())
    # mail.example.org CNAME a.example.org CNAME b.example.net A.
    qc = question("mail.example.org", "A")
    first = len(header(0) + qc) + 12  # rdata offset of the first CNAME
    second_owner = first
    second_rdata = first + 4 + 12
    s["cname_chain"] = (
        header(RESP, an=3) + qc
        + rr(ptr(12), "CNAME", b"\x01a" + ptr(17))
        + rr(ptr(second_owner), "CNAME", name("b.example.net"))
        + rr(ptr(second_rdata), "A", bytes([198, 51, 100, 7])))
    s["aaaa_answer"] = (
        header(RESP, an=2) + question("mx.example", "AAAA")
        + rr(ptr(12), "AAAA", bytes.fromhex("20010db8" + "0" * 23 + "1"))
        + rr(ptr(12), "AAAA", bytes.fromhex("fe80" + "0" * 24 + "0001")))
    qt = question("_25._tcp.mx.example.com", "TLSA")
    s["tlsa_311_201"] = (
        header(RESP | AD, an=3, ar=1) + qt
        + rr(ptr(12), "TLSA", bytes([3, 1, 1]) + bytes(range(32)))
        + rr(ptr(12), "TLSA", bytes([2, 0, 1]) + bytes(range(32, 64)))
        + rr(ptr(12), "RRSIG", rrsig("TLSA", "example.com", 5))
        + opt())
    # SRV (RFC 2782, RFC 6186): a signed answer, a compressed target
    # (accepted, as c-ares does), the "." of a service not offered, and a
    # target running past its RDATA.
    qs = question("_imaps._tcp.example.com", "SRV")
    s["srv_imaps_signed"] = (
        header(RESP | AD, an=3, ar=1) + qs
        + rr(ptr(12), "SRV", struct.pack(">HHH", 0, 1, 993)
             + name("mail.example.com"))
        + rr(ptr(12), "SRV", struct.pack(">HHH", 10, 5, 10993)
             + b"\x04imap" + ptr(24))
        + rr(ptr(12), "RRSIG", rrsig("SRV", "example.com", 4))
        + opt())
    s["srv_not_offered"] = (
        header(RESP, an=1) + question("_pop3._tcp.example.com", "SRV")
        + rr(ptr(12), "SRV", struct.pack(">HHH", 0, 0, 0) + b"\x00"))
    s["bad_srv_target_past_rdata"] = (
        header(RESP, an=1) + question("_imap._tcp.example.com", "SRV")
        + rr(ptr(12), "SRV", struct.pack(">HHH", 0, 1, 143) + b"\x04mail",
             rdlen=8) + b"\x00")
    s["txt_mta_sts"] = (
        header(RESP, an=2) + question("_mta-sts.example.com", "TXT")
        + rr(ptr(12), "TXT", b"\x09v=STSv1; \x0bid=20240101")
        + rr(ptr(12), "TXT", b"\x00\x05hello\xff" + b"x" * 255))
    s["servfail_ede"] = (
        header(RESP | 2, ar=1) + question("bogus.example", "MX")
        + opt(ede(6, b"signature expired \xc3\xa9")
              + struct.pack(">HH", 10, 8) + bytes(8) + ede(9)))
    s["badvers"] = header(RESP, ar=1) + q + opt(ext_rcode=1, do=False)
    s["truncated_tc"] = header(RESP | TC, ar=1) + q + opt()
    s["query_cd"] = (header(RD | AD | CD, ar=1) + q + opt())
    s["escaped_owner"] = (
        header(RESP, an=1) + q
        + rr(b"\x04a.b\xff\x03Com\x00", "A", bytes([10, 0, 0, 1])))
    # Malformed: each must be refused with its own code.
    s["bad_pointer_loop"] = header(RESP) + b"\xc0\x0c" + b"\x00\x0f\x00\x01"
    s["bad_pointer_loop2"] = (header(RESP, an=1) + q
                              + rr(b"\x01a" + ptr(29), "A", bytes(4)))
    s["bad_forward_pointer"] = (header(RESP, an=1) + q
                                + rr(ptr(60), "A", bytes(4)) + name("x"))
    s["bad_pointer_header"] = header(RESP) + ptr(2) + b"\x00\x0f\x00\x01"
    s["bad_rdlength"] = (header(RESP, an=1) + q
                         + rr(ptr(12), "MX", mx_rdata(10, ptr(12)),
                              rdlen=200))
    s["bad_mx_rdata"] = (header(RESP, an=1) + q
                         + rr(ptr(12), "MX", mx_rdata(10, b"\x05ab")))
    s["bad_label_type"] = header(RESP) + b"\x41a\x00\x00\x0f\x00\x01"
    s["bad_counts"] = header(RESP, an=300, ns=300)
    s["bad_opt_twice"] = header(RESP, ar=2) + q + opt() + opt()
    s["bad_opt_overrun"] = (header(RESP, ar=1) + q
                            + opt(struct.pack(">HH", 10, 30) + bytes(4)))
    s["bad_ede_short"] = header(RESP, ar=1) + q + opt(b"\x00\x0f\x00\x01\x06")
    s["bad_truncated_header"] = header(RESP)[:11]
    s["bad_long_name"] = (header(RESP) + (b"\x3f" + b"a" * 63) * 4
                          + b"\x00\x00\x0f\x00\x01")
    # Limits: exactly the record cap, and owners that expand ~70x from
    # wire to text until the owner-name arena is full.
    s["limit_512_records"] = (
        header(RESP, an=512) + question("many.example", "A")
        + b"".join(rr(ptr(12), "A", bytes([10, 0, i // 256, i % 256]))
                   for i in range(512)))
    wide = b"".join(bytes([n]) + b"\xfe" * n for n in (63, 63, 63, 58))
    s["limit_names_full"] = (
        header(RESP, an=80) + wide + b"\x00" + struct.pack(">HH", 16, IN)
        + b"".join(rr(bytes([1, 0x61 + i % 26]) + ptr(12), "TXT", b"\x00")
                   for i in range(80)))
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "corpus", "dns_wire")
    os.makedirs(out, exist_ok=True)
    for key, data in sorted(seeds().items()):
        with open(os.path.join(out, key + ".bin"), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds()), out))


if __name__ == "__main__":
    main()
