#!/usr/bin/python3
"""Turn `mxcrawl export --format jsonl` into the testbed truth file's shape,
so that tests/testbed/selfcheck_tls.py --truth can hold the crawler's own
verdicts against posttls-finger and openssl s_client: a differential test
in which the crawler, not the scenario definitions, is what the oracles
are compared with. Scenario names come from the real truth file so that
the documented oracle exceptions still apply.

usage: export_as_truth.py TRUTH.jsonl EXPORT.jsonl > CRAWLER-TRUTH.jsonl
"""
import json
import sys


def endpoint(ep):
    smtp = ep["smtp"]
    tls = ep.get("tls") or {}
    out = {
        "ip": ep["ip"], "port": ep["port"], "contact": True, "refused": False,
        "smtp": {
            "outcome": smtp["outcome"],
            "banner_code": smtp.get("banner_code"),
            "starttls_offered": smtp.get("starttls_offered"),
            "starttls_code": smtp.get("starttls_code"),
            "stripping": smtp.get("stripping"),
            "tls": {"outcome": "ok", "version": tls["version"]}
            if tls.get("outcome") == "ok" else None,
        },
        "cert": None,
    }
    if ep.get("cert"):
        c = ep["cert"]
        out["cert"] = {k: c.get(k) for k in ("trusted", "missing_intermediate",
                                               "name_matches_mx", "name_matches_domain",
                                               "cn_only", "chain_len")}
        out["cert"]["errors"] = c.get("errors") or []
        out["cert"]["weak"] = c.get("weak") or []
    return out


def sts(m):
    """The crawler's MTA-STS verdicts in the truth's shape: what
    selfcheck_tls.py holds against mta-sts-query."""
    return {
        "txt": m.get("txt") or "none",
        "txt_records": m.get("txt_records") or [],
        "id": m.get("id"),
        "fetch": m.get("fetch"),
        "host_refused": m.get("fetch") == "refused_address",
        "policy": m.get("policy"),
        "mode": m.get("mode"),
        "max_age": m.get("max_age"),
        "mx_patterns": m.get("mx_patterns") or [],
    }


def main():
    scenario = {}
    for l in open(sys.argv[1]):
        if l.strip():
            t = json.loads(l)
            scenario[t["domain"]] = t["scenario"]
    for l in open(sys.argv[2]):
        e = json.loads(l)
        t = {
            "domain": e["domain"],
            "scenario": scenario.get(e["domain"], e["domain"]),
            "dns": {"mx": {"dnssec": e["dns"]["mx"]["dnssec"]}},
            "implicit_mx": e["implicit_mx"],
            "mx": [],
            "mta_sts": sts(e.get("mta_sts") or {}),
        }
        for h in e["mx"]:
            t["mx"].append({
                "host": h["host"], "kept": h["kept"],
                "address_outcome": h.get("address_outcome"),
                "a": h.get("a") or {"addresses": []},
                "aaaa": h.get("aaaa") or {"addresses": []},
                "tlsa": h.get("tlsa") if (h.get("tlsa") or {}).get("looked_up") else None,
                "dane": h.get("dane"),
                "endpoints": [endpoint(ep) for ep in h.get("endpoints", [])],
            })
        print(json.dumps(t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
