#!/usr/bin/python3
"""Testbed PKI: a private CA hierarchy and leaf certificates with real defects.

Contract: tests/testbed/INTERFACE.md ("pki.py").  Everything lives under the
directory given to Pki(); nothing generated is ever committed.

    pki = Pki(DIR + "/pki")
    pki.ca_file                 PEM, trusted root only (the crawler's --ca-file)
    pki.ca_dir                  OpenSSL hashed directory with the same root
                                (posttls-finger -P)
    pki.untrusted_ca_file       PEM, the untrusted root (for tests that want it)
    leaf = pki.leaf("mx1.example.test", {"key": "rsa2048", ...})
    leaf.cert_file, leaf.key_file, leaf.chain_file, leaf.der_chain
    pki.tlsa_data(der, selector, mtype) -> hex

Leaves are cached: asking again for the same key_name and spec returns the
files already on disk.  Keys are cached by (key_name, key type), so two
certificates for one key_name share their key (useful for DANE 3 1 x rollover
cases).  ECDSA P-256 by default: ~100 leaves take well under a second.
"""

import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

# A private-use arc for the padding extension (not critical, so every
# verifier must ignore it).
PAD_OID = ObjectIdentifier("1.3.6.1.4.1.32473.1.1")
DAY = datetime.timedelta(days=1)
ORG = "mxcrawl testbed"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _safe(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("*", "STAR"))[:100] or "_"


def _write(path, data, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _serial(*parts):
    """Serial number derived from the inputs: positive, < 2^159."""
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:19], "big") | (1 << 150)


def _new_key(kind):
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    m = re.fullmatch(r"rsa(\d+)", kind)
    if m:
        return rsa.generate_private_key(65537, int(m.group(1)))
    raise ValueError("unknown key type %r" % kind)


class Ca:
    """One CA certificate with its key, stored as NAME.crt / NAME.key."""

    def __init__(self, cert, key, cert_file, key_file):
        self.cert, self.key = cert, key
        self.cert_file, self.key_file = cert_file, key_file
        self.der = _der(cert)
        self.name = cert.subject


class Leaf:
    def __init__(self, name, spec, cert_file, key_file, chain_file, der_chain):
        self.name = name
        self.spec = spec
        self.cert_file = cert_file
        self.key_file = key_file
        self.chain_file = chain_file
        self.der_chain = der_chain

    @property
    def der(self):
        return self.der_chain[0]

    def __repr__(self):
        return "Leaf(%r, %s)" % (self.name, self.cert_file)


class Pki:
    SPEC_KEYS = {"names", "cn", "san", "issuer", "send_intermediate",
                 "not_before_days", "not_after_days", "key", "hash",
                 "chain_len", "pad_bytes", "ca_depth", "ca_order"}

    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        for sub in ("", "ca", "keys", "leaf", "pad"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self._keys = {}
        self._pad = []
        self.root = self._ca("root", "mxcrawl testbed Root CA", None)
        self.intermediate = self._ca("intermediate",
                                     "mxcrawl testbed Intermediate CA",
                                     self.root)
        self.untrusted_root = self._ca("untrusted-root",
                                       "Untrusted Root CA", None)
        self.untrusted_intermediate = self._ca("untrusted-intermediate",
                                               "Untrusted Intermediate CA",
                                               self.untrusted_root)
        self._deep = []
        self.ca_file = self.root.cert_file
        self.untrusted_ca_file = self.untrusted_root.cert_file
        self.ca_dir = os.path.join(self.dir, "cadir")
        self._make_ca_dir()

    # ---------------------------------------------------------------- CAs

    def _ca(self, stem, cn, parent):
        cert_file = os.path.join(self.dir, "ca", stem + ".crt")
        key_file = os.path.join(self.dir, "ca", stem + ".key")
        if os.path.exists(cert_file) and os.path.exists(key_file):
            with open(cert_file, "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
            with open(key_file, "rb") as f:
                key = serialization.load_pem_private_key(f.read(), None)
            return Ca(cert, key, cert_file, key_file)
        key = _new_key("ec256")
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = _now()
        issuer_name = parent.cert.subject if parent else name
        signer = parent.key if parent else key
        b = (x509.CertificateBuilder()
             .subject_name(name).issuer_name(issuer_name)
             .public_key(key.public_key())
             .serial_number(_serial(stem, now))
             .not_valid_before(now - 30 * DAY)
             .not_valid_after(now + 3650 * DAY)
             .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                            critical=True)
             .add_extension(x509.KeyUsage(
                 digital_signature=True, content_commitment=False,
                 key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=True, crl_sign=True,
                 encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                 key.public_key()), critical=False))
        if parent:
            b = b.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    parent.key.public_key()), critical=False)
        cert = b.sign(signer, hashes.SHA256())
        _write(key_file, _key_pem(key), 0o600)
        _write(cert_file, _pem(cert))
        return Ca(cert, key, cert_file, key_file)

    def _make_ca_dir(self):
        os.makedirs(self.ca_dir, exist_ok=True)
        h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in",
                            self.ca_file], check=True, capture_output=True,
                           text=True).stdout.strip()
        link = os.path.join(self.ca_dir, h + ".0")
        with open(self.ca_file, "rb") as f:
            data = f.read()
        if not os.path.exists(link) or open(link, "rb").read() != data:
            _write(link, data)

    # --------------------------------------------------------------- keys

    def key(self, key_name, kind="ec256"):
        """Private key for (key_name, kind), created once and kept on disk."""
        k = (key_name, kind)
        if k in self._keys:
            return self._keys[k]
        path = os.path.join(self.dir, "keys", "%s.%s.key" % (_safe(key_name), kind))
        if os.path.exists(path):
            with open(path, "rb") as f:
                key = serialization.load_pem_private_key(f.read(), None)
        else:
            key = _new_key(kind)
            _write(path, _key_pem(key), 0o600)
        self._keys[k] = (key, path)
        return key, path

    # ------------------------------------------------------------- leaves

    def leaf(self, key_name, spec=None):
        spec = dict(spec or {})
        unknown = set(spec) - self.SPEC_KEYS
        if unknown:
            raise ValueError("unknown leaf spec keys: %s" % sorted(unknown))
        canon = json.dumps(spec, sort_keys=True)
        tag = hashlib.sha256((key_name + "\0" + canon).encode()).hexdigest()[:10]
        stem = os.path.join(self.dir, "leaf", "%s-%s" % (_safe(key_name), tag))
        cert_file, chain_file = stem + ".crt", stem + ".chain.pem"
        meta_file = stem + ".json"
        kind = spec.get("key", "ec256")
        key, key_file = self.key(key_name, kind)
        if os.path.exists(meta_file) and os.path.exists(chain_file):
            with open(chain_file, "rb") as f:
                ders = _split_pem(f.read())
            return Leaf(key_name, spec, cert_file, key_file, chain_file, ders)

        names = spec.get("names") or [key_name]
        cn = spec.get("cn", names[0] if names else key_name)
        issuer = spec.get("issuer", "intermediate")
        now = _now()
        nb = now + spec.get("not_before_days", -1) * DAY
        na = now + spec.get("not_after_days", 90) * DAY
        subject_attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG)]
        if cn:
            subject_attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        subject = x509.Name(subject_attrs)

        if issuer == "intermediate":
            ca, sent = self.intermediate, [self.intermediate]
        elif issuer == "root":
            ca, sent = self.root, []
        elif issuer == "untrusted":
            ca, sent = self.untrusted_intermediate, [self.untrusted_intermediate]
        elif issuer == "self":
            ca, sent = None, []
        else:
            raise ValueError("unknown issuer %r" % issuer)
        depth = int(spec.get("ca_depth", 0) or 0)
        if depth:
            # A real path of `depth` issuing CAs under the trusted root,
            # sent leaf first in issuing order (or reversed: every CA
            # followed by the one it issued).
            if issuer != "intermediate":
                raise ValueError("ca_depth needs the default issuer")
            deep = self._deep_cas(depth)
            ca, sent = deep[-1], list(reversed(deep))
            if spec.get("ca_order", "issuing") == "reversed":
                sent = list(deep)
            elif spec.get("ca_order", "issuing") != "issuing":
                raise ValueError("ca_order %r" % spec["ca_order"])
        if not spec.get("send_intermediate", True):
            sent = []
        issuer_name = ca.cert.subject if ca else subject
        signer = ca.key if ca else key
        signer_pub = ca.key.public_key() if ca else key.public_key()

        b = (x509.CertificateBuilder()
             .subject_name(subject).issuer_name(issuer_name)
             .public_key(key.public_key())
             .serial_number(_serial(key_name, canon, now))
             .not_valid_before(nb).not_valid_after(na)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                            critical=True)
             .add_extension(x509.KeyUsage(
                 digital_signature=True, content_commitment=False,
                 key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                 data_encipherment=False, key_agreement=False,
                 key_cert_sign=False, crl_sign=False, encipher_only=False,
                 decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage(
                 [ExtendedKeyUsageOID.SERVER_AUTH,
                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                 key.public_key()), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 signer_pub), critical=False))
        if spec.get("san", True) and names:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]), critical=False)
        pad = int(spec.get("pad_bytes", 0) or 0)
        if pad:
            # Grow the certificate to about `pad` bytes: an OCTET STRING of
            # zeros inside a non-critical private extension.
            n = max(pad - 700, 16)
            inner = b"\x04" + _der_len(n) + b"\0" * n
            b = b.add_extension(x509.UnrecognizedExtension(PAD_OID, inner),
                                critical=False)

        hname = spec.get("hash", "sha256")
        cert = self._sign(b, signer, hname, ca, key, nb, na, spec, names)
        chain = [cert] + [c.cert for c in sent]
        ders = [_der(c) for c in chain]
        want = int(spec.get("chain_len", 0) or 0)
        if want > len(ders):
            ders += self._padding(want - len(ders))
        _write(cert_file, _pem(cert))
        _write(chain_file, b"".join(_der_to_pem(d) for d in ders))
        _write(meta_file, json.dumps({"key_name": key_name, "spec": spec,
                                      "created": now.isoformat()}).encode())
        return Leaf(key_name, spec, cert_file, key_file, chain_file, ders)

    def _sign(self, builder, signer, hname, ca, key, nb, na, spec, names):
        algo = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                "sha512": hashes.SHA512(), "sha1": hashes.SHA1()}[hname]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return builder.sign(signer, algo)
        except UnsupportedAlgorithm:
            if hname != "sha1":
                raise
        return self._sign_sha1_openssl(signer, ca, key, nb, na, spec, names)

    def _sign_sha1_openssl(self, signer, ca, key, nb, na, spec, names):
        """Newer `cryptography` refuses SHA-1 signatures; OpenSSL's CLI does
        not.  Used only for hash=sha1 there.  notBefore is "now" (OpenSSL
        3.0's x509 cannot set it); notAfter follows the spec."""
        subj_cn = spec.get("cn", names[0] if names else "")
        with tempfile.TemporaryDirectory(dir=self.dir) as tmp:
            csr = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name(
                       [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG)] +
                       ([x509.NameAttribute(NameOID.COMMON_NAME, subj_cn)]
                        if subj_cn else [])))
                   .sign(key, hashes.SHA256()))
            _write(os.path.join(tmp, "req.csr"),
                   csr.public_bytes(serialization.Encoding.PEM))
            ext = ["basicConstraints=critical,CA:FALSE",
                   "keyUsage=critical,digitalSignature,keyEncipherment",
                   "extendedKeyUsage=serverAuth,clientAuth",
                   "subjectKeyIdentifier=hash"]
            if ca:
                ext.append("authorityKeyIdentifier=keyid")
            if spec.get("san", True) and names:
                ext.append("subjectAltName=" + ",".join("DNS:" + n for n in names))
            _write(os.path.join(tmp, "ext.cnf"),
                   ("[e]\n" + "\n".join(ext) + "\n").encode())
            days = max(1, int((na - _now()).total_seconds() // 86400))
            cmd = ["openssl", "x509", "-req", "-in", "req.csr", "-sha1",
                   "-days", str(days), "-set_serial", str(_serial(names, nb)),
                   "-extfile", "ext.cnf", "-extensions", "e", "-out", "out.pem"]
            if ca:
                cmd += ["-CA", ca.cert_file, "-CAkey", ca.key_file]
            else:
                _write(os.path.join(tmp, "self.key"), _key_pem(key), 0o600)
                cmd += ["-signkey", "self.key"]
            subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
            with open(os.path.join(tmp, "out.pem"), "rb") as f:
                return x509.load_pem_x509_certificate(f.read())

    def _deep_cas(self, n):
        """CAs 1..n: CA 1 issued by the trusted root, CA i+1 by CA i
        (created once, kept on disk like every CA)."""
        while len(self._deep) < n:
            i = len(self._deep) + 1
            parent = self._deep[-1] if self._deep else self.root
            self._deep.append(self._ca("deep-%03d" % i,
                                       "mxcrawl testbed Deep CA %03d" % i,
                                       parent))
        return self._deep[:n]

    def _padding(self, n):
        """n distinct CA certificates issued by the untrusted root, used to
        pad a sent chain (they are unrelated to the leaf's real path)."""
        while len(self._pad) < n:
            i = len(self._pad)
            path = os.path.join(self.dir, "pad", "pad-%03d.der" % i)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    self._pad.append(f.read())
                continue
            key, _ = self.key("chain-padding", "ec256")
            now = _now()
            name = x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
                x509.NameAttribute(NameOID.COMMON_NAME, "Padding CA %03d" % i)])
            ca = self.untrusted_root
            cert = (x509.CertificateBuilder()
                    .subject_name(name).issuer_name(ca.cert.subject)
                    .public_key(key.public_key())
                    .serial_number(_serial("pad", i, now))
                    .not_valid_before(now - DAY).not_valid_after(now + 3650 * DAY)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                   critical=True)
                    .sign(ca.key, hashes.SHA256()))
            d = _der(cert)
            _write(path, d)
            self._pad.append(d)
        return self._pad[:n]

    # --------------------------------------------------------------- TLSA

    @staticmethod
    def tlsa_data(der, selector, mtype):
        """Certificate association data (RFC 6698 §2.1) as lower-case hex.
        selector 0 = full certificate, 1 = SubjectPublicKeyInfo;
        mtype 0 = exact, 1 = SHA-256, 2 = SHA-512."""
        if selector == 0:
            data = der
        elif selector == 1:
            cert = x509.load_der_x509_certificate(der)
            data = cert.public_key().public_bytes(
                serialization.Encoding.DER,
                serialization.PublicFormat.SubjectPublicKeyInfo)
        else:
            raise ValueError("selector %r" % selector)
        if mtype == 0:
            return data.hex()
        if mtype == 1:
            return hashlib.sha256(data).hexdigest()
        if mtype == 2:
            return hashlib.sha512(data).hexdigest()
        raise ValueError("matching type %r" % mtype)


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_to_pem(der):
    import base64
    b64 = base64.encodebytes(der).replace(b"\n", b"")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return (b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) +
            b"\n-----END CERTIFICATE-----\n")


def _split_pem(data):
    import base64
    out = []
    for m in re.finditer(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                         data, re.S):
        out.append(base64.b64decode(b"".join(m.group(1).split())))
    return out


if __name__ == "__main__":
    # Quick manual check: python3 pki.py DIR  (prints timing for 100 leaves)
    import time
    d = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    t = time.monotonic()
    p = Pki(d)
    t1 = time.monotonic()
    for i in range(100):
        p.leaf("mx%d.example.test" % i)
    t2 = time.monotonic()
    print("CA setup %.3fs, 100 leaves %.3fs, dir %s" % (t1 - t, t2 - t1, d))
