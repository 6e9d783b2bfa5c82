#!/usr/bin/python3
"""Hold `mxcrawl export` (documents built in C from streamed rows) against
the reference definition of a document, the view export_document, for
every domain of a campaign; and its CSV against the JSON documents.

usage: compare_export.py VIEW.txt EXPORT.jsonl [EXPORT.csv]

VIEW.txt: `SELECT target_id, doc FROM export_document WHERE campaign_id =
... ORDER BY target_id` as psql -A -t writes it (target_id|doc). The export adds
campaign_id, campaign_name, dnssec_validated and handshake_records; all
other fields must be equal, the documents in target order with "domain"
the first key. Exits 1 with the differences.
"""
import csv
import json
import sys

ADDED = ("campaign_id", "campaign_name", "dnssec_validated", "handshake_records")


def diff(path, a, b, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append("%s.%s: only in the view" % (path, k))
            elif k not in b:
                out.append("%s.%s: only in the export" % (path, k))
            else:
                diff(path + "." + k, a[k], b[k], out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff("%s[%d]" % (path, i), x, y, out)
    elif a != b or type(a) != type(b):
        out.append("%s: view %r, export %r" % (path, a, b))


def main():
    view = []
    for line in open(sys.argv[1]):
        if line.strip():
            tid, doc = line.rstrip("\n").split("|", 1)
            view.append((int(tid), json.loads(doc)))
    lines = [l for l in open(sys.argv[2]) if l.strip()]
    errors = []
    if len(lines) != len(view):
        errors.append("%d documents in the export, %d in the view"
                      % (len(lines), len(view)))
    docs = []
    for i, line in enumerate(lines):
        if not line.startswith('{"domain": '):
            errors.append("document %d: domain is not the first key" % i)
        docs.append(json.loads(line))
    tids = [d["target_id"] for d in docs]
    if tids != sorted(tids):
        errors.append("export not in target order")
    for (tid, ref), doc in zip(view, docs):
        if doc["target_id"] != tid:
            errors.append("target %d: export has target %d" % (tid, doc["target_id"]))
            break
        for k in ADDED:
            if k not in doc:
                errors.append("%s: no %s" % (doc["domain"], k))
        got = {k: v for k, v in doc.items() if k not in ADDED}
        d = []
        diff(doc["domain"], ref, got, d)
        errors += d
    if len(sys.argv) > 3:
        errors += check_csv(sys.argv[3], docs)
    for e in errors[:40]:
        print("compare_export: " + e)
    if errors:
        print("compare_export: %d differences" % len(errors))
        sys.exit(1)
    print("compare_export: %d documents equal to the view" % len(docs))


def uses(doc):
    """The contactable uses of a domain (analysis/001_base.sql b_use)."""
    out = []
    for m in doc["mx"]:
        if not m["kept"] or m["ip_literal"]:
            continue
        for a in m["addresses"]:
            if a["verdict"] != "ok":
                continue
            eps = [e for e in m["endpoints"] if e["ip"] == a["ip"]]
            out += eps or [None]
    return out


def headline(doc):
    """The CSV columns computed from the JSON document, after the
    definitions of analysis/001_base.sql, 002_protection_ladder.sql and
    052_dane_outcome.sql."""
    u = uses(doc)
    offered = [bool(e and e["smtp"]["starttls_offered"]) for e in u]
    tls_ok = [bool(e and e["smtp"]["outcome"] == "starttls_ok"
                   and e["tls"]["outcome"] == "ok"
                   and e["tls"]["version"] in ("TLSv1.2", "TLSv1.3")) for e in u]
    valid = [bool(e and e["cert"] and e["cert"]["trusted"]
                  and e["cert"]["name_matches_mx"] and not e["cert"]["cn_only"])
             for e in u]
    starttls = "" if not u else "every" if all(offered) else "some" if any(offered) else "none"
    cert = "" if not u else "true" if all(valid) else "false"
    kept = [m for m in doc["mx"] if m["kept"]]
    dane = [m["dane"] for m in kept if m["dane"] is not None]
    if not dane or doc["mx_outcome"] not in ("mx", "implicit_mx"):
        dane_label = ""
    else:
        for label in ("dane_tlsa_bogus", "dane_no_match", "dane_no_starttls"):
            if label in dane:
                dane_label = label
                break
        else:
            if all(x == "dane_ok" for x in dane):
                dane_label = "dane_ok"
            elif "dane_ok" in dane:
                dane_label = "dane_partial"
            elif "dane_unusable_only" in dane:
                dane_label = "dane_unusable_only"
            elif "dane_not_applicable" in dane:
                dane_label = "dane_not_applicable"
            else:
                dane_label = "dane_none"
    s = doc["mta_sts"]
    ew = s["enforce_would_work"]
    if doc["mx_outcome"] == "not_recorded":
        rung = ""   # facts not stored: no rung (002_protection_ladder.sql)
    elif not u:
        rung = "no-mail"
    elif kept and all(m["dane"] == "dane_ok" for m in kept):
        rung = "dane"
    elif ew and s["mode"] == "enforce":
        rung = "mta-sts-enforce"
    elif (s["txt"] == "valid" and s["fetch"] == "ok" and s["policy"] == "valid"
          and s["mode"] == "testing"):
        rung = "mta-sts-testing"
    elif not all(tls_ok):
        rung = "plaintext"
    elif all(valid):
        rung = "opportunistic-trusted"
    else:
        rung = "opportunistic-untrusted"
    txt = lambda v: "" if v is None else ("true" if v is True else "false" if v is False else str(v))
    return {
        "domain": doc["domain"], "campaign_id": txt(doc["campaign_id"]),
        "campaign_name": doc["campaign_name"], "target_id": txt(doc["target_id"]),
        "mx_outcome": doc["mx_outcome"], "mx_dnssec": txt(doc["dns"]["mx"]["dnssec"]),
        "starttls": starttls, "cert_valid_every_mx": cert, "dane": dane_label,
        "mta_sts_mode": txt(s["mode"]), "mta_sts_enforce_would_work": txt(ew),
        "tlsrpt": txt(doc["tlsrpt"]["status"]), "ladder": rung,
    }


def check_csv(path, docs):
    errors = []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(docs):
        return ["%d CSV rows, %d documents" % (len(rows), len(docs))]
    for row, doc in zip(rows, docs):
        want = headline(doc)
        for k, v in want.items():
            if row.get(k) != v:
                errors.append("%s: CSV %s %r, from the document %r"
                              % (doc["domain"], k, row.get(k), v))
    return errors


if __name__ == "__main__":
    main()
