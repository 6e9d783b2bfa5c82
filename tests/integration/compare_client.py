#!/usr/bin/env python3
"""Compares the stored client endpoint probes of a campaign with the truth.

Usage: compare_client.py [--mx] [--export] TRUTH.jsonl ROWS.jsonl

TRUTH.jsonl is the testbed's truth file (tests/testbed/build.py computes it
from the scenario definitions): per domain `client.<service>.targets[]`
with `dane` and `endpoints[]` holding `probe` and `cert` facts (tests/testbed/README.md,
truth field `client`). ROWS.jsonl holds one JSON object per stored client_srv_target
row of the campaign (test_client_ports.sh selects them): domain, service,
ordinal, host, port, dane and `endpoints`, the domain_client_endpoint
rows joined with their client_endpoint rows.

With --export, ROWS.jsonl is `mxcrawl export --format jsonl` instead:
the same facts read from each document's `client.<service>.targets[]`
(schema/030's export_client()).

With --mx, the endpoints --client-ports mx found on the MX hosts are
compared instead: the truth's `client_mx.<service>[]` (one entry per kept
MX host, `ordinal` its index) against one row per client_mx row with its
domain_client_mx_endpoint rows (or, with --export too, the documents'
`client_mx.<service>[]`); a closed port must be stored as connect_failed
with conn refused.

Every `cp-*` domain of the truth is compared: each target's `dane`, and
for each endpoint the probe facts (outcome, greeting, starttls_offered,
injection, stripping, TLS version) and the certificate facts (trusted,
errors, missing_intermediate, name_matches_host, name_matches_domain,
cn_only, weak, chain_len). An endpoint the truth says is not contacted
must have no row. Prints every difference; exit status 1 if any, 0 if
none, 2 when nothing was compared.
"""

import json
import sys

PROBE = ("outcome", "greeting", "starttls_offered", "injection", "stripping")
CERT = ("trusted", "errors", "missing_intermediate", "name_matches_host",
        "name_matches_domain", "cn_only", "weak", "chain_len")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def export_rows(docs):
    """The rows of the selection, rebuilt from exported documents."""
    for doc in docs:
        for svc, c in (doc.get("client") or {}).items():
            for i, t in enumerate(c.get("targets") or []):
                eps = []
                for e in t.get("endpoints") or []:
                    p, cert = e["probe"], e["cert"] or {}
                    eps.append(dict(
                        ip=e["ip"], dane=e["dane"],
                        tls_version=(p.get("tls") or {}).get("version"),
                        chain_len=cert.get("chain_len", 0),
                        **{k: p[k] for k in PROBE},
                        **{k: cert.get(k) for k in CERT if k != "chain_len"}))
                yield dict(domain=doc["domain"], service=svc, ordinal=i,
                           host=t["host"], port=t["port"], dane=t.get("dane"),
                           endpoints=eps)


def export_mx_rows(docs):
    """The --mx rows of the selection, rebuilt from exported documents."""
    for doc in docs:
        for svc, hosts in (doc.get("client_mx") or {}).items():
            for t in hosts:
                eps = []
                for e in t.get("endpoints") or []:
                    p, cert = e["probe"], e["cert"] or {}
                    eps.append(dict(
                        ip=e["ip"], dane=e["dane"], conn=p.get("conn"),
                        tls_version=(p.get("tls") or {}).get("version"),
                        chain_len=cert.get("chain_len", 0),
                        **{k: p[k] for k in PROBE},
                        **{k: cert.get(k) for k in CERT if k != "chain_len"}))
                yield dict(domain=doc["domain"], service=svc,
                           ordinal=t["ordinal"], host=t["host"],
                           port=t["port"], dane=t.get("dane"), endpoints=eps)


def main():
    args = sys.argv[1:]
    mx = "--mx" in args
    export = "--export" in args
    args = [a for a in args if a not in ("--mx", "--export")]
    truth = [d for d in load(args[0])
             if d.get("domain", "").startswith("cp-")]
    rows = {}
    if mx:
        got_rows = (export_mx_rows if export else iter)(load(args[1]))
    else:
        got_rows = export_rows(load(args[1])) if export else load(args[1])
    for r in got_rows:
        rows.setdefault((r["domain"], r["service"]), []).append(r)
    for v in rows.values():
        v.sort(key=lambda r: r["ordinal"])
    diffs, compared, endpoints = [], 0, 0

    def differ(where, what, want, got):
        if want != got:
            diffs.append(f"{where}: {what}: truth {want!r}, stored {got!r}")

    for d in truth:
        dom = d["domain"]
        for svc, c in sorted(d["client_mx" if mx else "client"].items()):
            # targets[] follow the records, "." left out; the rows keep
            # the "." records, which the selection leaves out too. With
            # --mx, c is the list of the MX hosts' entries.
            got = rows.get((dom, svc), [])
            want = c if mx else c.get("targets") or []
            if len(want) != len(got):
                diffs.append(f"{dom} {svc}: {len(want)} targets in the "
                             f"truth, {len(got)} stored")
                continue
            for t, r in zip(want, got):
                where = f"{dom} {svc} {t['host']}:{t['port']}"
                differ(where, "target", (t["host"].rstrip("."), t["port"]),
                       (r["host"].rstrip("."), r["port"]))
                differ(where, "dane", t.get("dane"), r["dane"])
                compared += 1
                stored = {e["ip"]: e for e in r["endpoints"] or []}
                for e in t.get("endpoints") or []:
                    at = f"{where} [{e['ip']}]"
                    s = stored.pop(e["ip"], None)
                    if not e.get("contact"):
                        if s is not None:
                            diffs.append(f"{at}: not to be contacted, "
                                         "but a probe is stored")
                        continue
                    if s is None:
                        diffs.append(f"{at}: no probe stored")
                        continue
                    endpoints += 1
                    p = e.get("probe") or {}
                    for k in PROBE:
                        differ(at, k, p.get(k), s[k])
                    if "conn" in p and p["conn"] is not None:
                        # a closed port: refused, not broken TLS
                        differ(at, "conn", p["conn"], s.get("conn"))
                    tls = p.get("tls") or {}
                    differ(at, "tls.version", tls.get("version"),
                           s["tls_version"])
                    cert = e.get("cert")
                    for k in CERT:
                        want_v = cert.get(k) if cert else None
                        got_v = s[k]
                        if k == "chain_len" and not cert:
                            # No TLS session: nothing presented.
                            want_v = 0
                        differ(at, f"cert.{k}", want_v, got_v)
                for ip in stored:
                    diffs.append(f"{where} [{ip}]: stored, not in the truth")
    for line in diffs:
        print(line)
    print(f"compare_client: {compared} targets, {endpoints} endpoints "
          f"compared, {len(diffs)} differences")
    if compared == 0 or endpoints == 0:
        return 2
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
