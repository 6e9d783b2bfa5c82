#!/usr/bin/python3
"""Campaigns over time: `up DIR --epoch N` adds the domains below to the
scenarios, each in its state at epoch N, so that a crawler run at epoch 1
and again at epoch 2 sees a world in which some domains changed
(tests/testbed/README.md, "Epochs").  Without --epoch none of them exists
and the testbed is what it always was.

Every domain keeps its place in the list at every epoch and is appended
after the default scenarios, so the other domains keep their addresses;
the one that disappears is last, so that nothing after it moves.  Run both
epochs in the same DIR (down, then up --epoch 2): the PKI under DIR/pki is
kept, so an unchanged host presents the very same certificate again, and
the renewed one's old key is the one its stale TLSA record names.

The truth for each epoch is derived from these definitions by build.py like
every other scenario's; the changes an epoch-2 truth must show against
epoch 1 are in CHANGES (for people and tests; nothing reads it to build).
"""

import hashlib

from cryptography.hazmat.primitives import serialization

from scenarios import NO_STARTTLS_EHLO, S, sts

EPOCHS = (1, 2)

# domain -> what changes from epoch 1 to epoch 2 (ladder rung before -> after)
CHANGES = {
    "chg-dane-renewed.test": "certificate renewed with a new key, TLSA 3 1 1 "
                             "not updated: dane_ok -> dane_no_match "
                             "(dane -> opportunistic-trusted)",
    "chg-sts-policy.test": "MTA-STS policy id changed and mode testing -> "
                           "enforce (mta-sts-testing -> mta-sts-enforce)",
    "chg-drops-starttls.test": "STARTTLS no longer offered "
                               "(opportunistic-trusted -> plaintext)",
    "chg-gains-dane.test": "TLSA 3 1 1 published: dane_none -> dane_ok "
                           "(opportunistic-trusted -> dane)",
    "chg-unchanged.test": "nothing (the control)",
    "chg-disappears.test": "the domain is gone: NXDOMAIN "
                           "(opportunistic-trusted -> no-mail)",
}


def spki_sha256(pki, key_name, kind="ec256"):
    """TLSA 3 1 1 data for the key pki.py keeps under key_name: what a
    record published for that key before a renewal still says."""
    key, _ = pki.key(key_name, kind)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def scenarios(epoch, pki):
    """The changing domains' scenario definitions at `epoch` (1 or 2)."""
    if epoch not in EPOCHS:
        raise SystemExit("up: --epoch must be one of %s" % (EPOCHS,))
    e2 = epoch == 2
    renewed = "mx.chg-dane-renewed.test"
    if not e2:
        renewed_host = dict(tlsa=[(3, 1, 1, "leaf")])
    else:
        # A new key under another key name: the certificate the server
        # now presents; the TLSA record still names the old key.
        old = spki_sha256(pki, renewed) if pki is not None else "00" * 32
        renewed_host = dict(cert={"key_name": renewed + "-renewed"},
                            tlsa=[(3, 1, 1, old)])
    out = [
        S("chg-dane-renewed",
          "Epochs: DANE-EE 3 1 1; at epoch 2 the certificate is renewed with "
          "a new key and the TLSA record is not updated",
          mxhost=renewed_host),
        S("chg-sts-policy",
          "Epochs: MTA-STS testing (id 20250101T000000); at epoch 2 enforce "
          "with a new id",
          sts=sts({"mode": "enforce" if e2 else "testing"},
                  txt=["v=STSv1; id=%s" % ("20250601T000000" if e2
                                           else "20250101T000000")])),
        S("chg-drops-starttls",
          "Epochs: STARTTLS offered; at epoch 2 no longer",
          mxhost=dict(smtp={"ehlo": NO_STARTTLS_EHLO}) if e2 else {}),
        S("chg-gains-dane",
          "Epochs: no TLSA; at epoch 2 TLSA 3 1 1 published",
          mxhost=dict(tlsa=[(3, 1, 1, "leaf")]) if e2 else {}),
        S("chg-unchanged", "Epochs: the same at every epoch (control)"),
    ]
    if e2:
        out.append(S("chg-disappears", "Epochs: gone at epoch 2 (NXDOMAIN)",
                     zone=False, mx=None, no_mx=True))
    else:
        out.append(S("chg-disappears", "Epochs: exists at epoch 1; NXDOMAIN at "
                                       "epoch 2"))
    return out
