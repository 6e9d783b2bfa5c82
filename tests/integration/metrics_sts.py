"""The protection ladder and the MTA-STS and TLS-RPT figures of `mxcrawl
report`, computed from the testbed's truth file alone (fields `ladder`,
`mta_sts.*`, `tlsrpt.*`, `mx_outcome`; tests/testbed/README.md "Truth
file"), for metrics_from_truth.py, which calls add(truth, F) with its
Figures.

The definitions are the ones in analysis/002_protection_ladder.sql and
analysis/06*_mta_sts_*.sql, 07*_tlsrpt_*.sql, written again over the
truth's fields: nothing here reads the crawler's code or output. The
ladder rung itself is the truth's (build.py ladder()), not recomputed.
"""

LADDER = ["dane", "mta-sts-enforce", "mta-sts-testing", "opportunistic-trusted",
          "opportunistic-untrusted", "plaintext", "no-mail"]
RECORD_STATES = ["valid", "invalid", "multiple", "none", "dns_error"]
MODES = ["enforce", "testing", "none"]
# max_age buckets [lower, upper) in seconds (RFC 8461 §3.2: at most
# 31557600, which has its own bucket).
DAY, WEEK, YEAR = 86400, 7 * 86400, 31557600
MAX_AGE_BUCKETS = [
    ("< 1 day", 0, DAY),
    ("1 day to < 1 week", DAY, WEEK),
    ("1 week to < 4 weeks", WEEK, 4 * WEEK),
    ("4 weeks to < 1 year", 4 * WEEK, YEAR),
    ("1 year (the maximum, 31557600 s)", YEAR, YEAR + 1),
]
POLICY_OUTCOMES = ["enforce, would work", "enforce, would fail",
                   "testing, would work if enforced",
                   "testing, would fail if enforced", "none, nothing to enforce"]
# The fetch outcomes (truth `mta_sts.fetch`, the crawler's names) in the
# words of analysis/067_mta_sts_fetch_failure.sql; others keep their name.
FETCH_LABELS = {
    "dns_error": "DNS / no address for the policy host",
    "refused_address": "DNS / only refused addresses",
    "connect_refused": "TCP / connection refused",
    "connect_error": "TCP / connect failed",
    "connection_lost": "TCP / connection lost",
    "tls_error": "TLS / handshake failed",
    "webpki_invalid": "TLS / certificate not WebPKI-valid",
    "http_status": "HTTP / status other than 200",
    "http_redirect": "HTTP / redirect (not followed)",
    "media_type": "HTTP / media type not text/plain",
    "content_encoding": "HTTP / content coding other than identity",
    "protocol_error": "HTTP / malformed response",
    "headers_too_large": "size / headers too large",
    "too_large": "size / policy too large",
    "timeout": "timeout",
}
RUA_LABELS = {"mailto": "email (mailto)", "https": "HTTPS POST"}
EOL_LABELS = {"crlf": "CRLF", "lf": "LF only", "mixed": "mixed CRLF and LF",
              "none": "one line, no line end"}


def fixed_distribution(F, fig, labels, values):
    """A distribution over a fixed list of labels: every label gets a row
    (0 included), and any other value seen one of its own. No unit: no
    row (the view has no denominator to give)."""
    F.figures.add(fig)
    for label in labels + sorted(set(values) - set(labels)):
        F.share(fig, "domain", label, values.count(label), len(values))


def rua_scheme(uri):
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    return RUA_LABELS.get(scheme, "other")


def add(truth, F):
    # The ladder: every scanned domain whose facts are stored, every rung
    # listed.
    F.figures.add("protection_ladder")
    rungs = [t["ladder"] for t in truth if t["mx_outcome"] != "not_recorded"]
    assert set(rungs) <= set(LADDER), set(rungs) - set(LADDER)
    for r in LADDER:
        F.share("protection_ladder", "domain", r, rungs.count(r), len(rungs))

    # MTA-STS and TLS-RPT count domains with a mail route.
    mail = [t for t in truth if t["mx_outcome"] in ("mx", "implicit_mx")]
    sts = [t["mta_sts"] for t in mail]
    txt_valid = [s for s in sts if s["txt"] == "valid"]
    fetched = [s for s in txt_valid if s["fetch"] == "ok"]
    policies = [s for s in fetched if s["policy"] == "valid"]
    enforce = [s for s in policies if s["mode"] == "enforce"]

    fixed_distribution(F, "mta_sts_record", RECORD_STATES, [s["txt"] for s in sts])

    F.figures.add("mta_sts_adoption")
    if mail:
        for label, n in [
                ("TXT record (v=STSv1)",
                 sum(s["txt"] in ("valid", "invalid", "multiple") for s in sts)),
                ("valid TXT record", len(txt_valid)),
                ("policy fetched", len(fetched)),
                ("valid policy", len(policies)),
                ("valid policy in mode enforce", len(enforce)),
                ("mode enforce and enforce would work",
                 sum(bool(s["enforce_would_work"]) for s in enforce))]:
            F.share("mta_sts_adoption", "domain", label, n, len(mail))

    fixed_distribution(F, "mta_sts_mode", MODES, [s["mode"] for s in policies])

    F.figures.add("mta_sts_max_age")
    if policies:
        for label, lo, hi in MAX_AGE_BUCKETS:
            F.share("mta_sts_max_age", "domain", label,
                    sum(lo <= s["max_age"] < hi for s in policies), len(policies))

    F.figures.add("mta_sts_enforce_works")
    if enforce:
        F.share("mta_sts_enforce_works", "domain", "enforce would work",
                sum(bool(s["enforce_would_work"]) for s in enforce), len(enforce))

    def outcome(s):
        if s["mode"] in ("enforce", "testing"):
            works = bool(s["enforce_would_work"])
            if s["mode"] == "enforce":
                return "enforce, would work" if works else "enforce, would fail"
            return "testing, would %s if enforced" % ("work" if works else "fail")
        return "none, nothing to enforce"

    fixed_distribution(F, "mta_sts_policy_outcome", POLICY_OUTCOMES,
                       [outcome(s) for s in policies])

    F.causes("mta_sts_failure", "domain",
             [set(s.get("failures") or []) for s in txt_valid], len(txt_valid))
    F.units("mta_sts_fetch_failure", "domain",
            [{FETCH_LABELS.get(s["fetch"], s["fetch"])}
             for s in txt_valid if s["fetch"] != "ok"], den=len(txt_valid))
    F.units("mta_sts_policy_error", "domain",
            [{s.get("policy_error")} for s in fetched if s["policy"] != "valid"],
            den=len(fetched))
    fixed_distribution(F, "mta_sts_line_endings",
                       ["CRLF", "LF only", "mixed CRLF and LF", "one line, no line end"],
                       [EOL_LABELS.get(s["eol"], s["eol"]) for s in fetched])

    # TLS-RPT.
    rpt = [t["tlsrpt"] for t in mail]
    fixed_distribution(F, "tlsrpt_record", RECORD_STATES, [r["status"] for r in rpt])
    valid_rpt = [r for r in rpt if r["status"] == "valid"]
    F.causes("tlsrpt_rua_scheme", "domain",
             [{rua_scheme(u) for u in r["rua"]} for r in valid_rpt], len(valid_rpt))
    with_sts = [t["tlsrpt"] for t in mail if t["mta_sts"]["txt"] == "valid"]
    F.figures.add("tlsrpt_with_mta_sts")
    if with_sts:
        F.share("tlsrpt_with_mta_sts", "domain", "TLS-RPT record (v=TLSRPTv1)",
                sum(r["status"] in ("valid", "invalid", "multiple") for r in with_sts),
                len(with_sts))
        F.share("tlsrpt_with_mta_sts", "domain", "valid TLS-RPT record",
                sum(r["status"] == "valid" for r in with_sts), len(with_sts))


def ladder_changes(old, new):
    """analysis.ladder_change from two truths of the same targets:
    {domain: (rung before, rung after)} for every domain whose rung
    differs. Not a figure; for a --compare test to hold the view against."""
    before = {t["domain"].rstrip(".").lower(): t["ladder"] for t in old}
    return {d: (before[d], t["ladder"])
            for d, t in ((t["domain"].rstrip(".").lower(), t) for t in new)
            if d in before and before[d] != t["ladder"]}


def sts_id_changes(old, new):
    """The (id before, id after) of analysis.mta_sts_id_change's domains
    whose TXT record is valid at both and whose id differs. The truth
    has no policy text, so "policy changed, id the same" is not derived."""
    before = {t["domain"].rstrip(".").lower(): t["mta_sts"] for t in old}
    out = {}
    for t in new:
        d, a = t["domain"].rstrip(".").lower(), t["mta_sts"]
        b = before.get(d)
        if b and b["txt"] == a["txt"] == "valid" and b["id"] != a["id"]:
            out[d] = (b["id"], a["id"])
    return out


def _by_domain(truth):
    return {t["domain"].rstrip(".").lower(): t for t in truth}


def _policy(s):
    """What a fetched policy says, from the truth's fields (the truth has
    no policy text; the testbed writes the text from these)."""
    return (s.get("policy"), s.get("policy_error"), s.get("mode"),
            s.get("max_age"), tuple(s.get("mx_patterns") or ()), s.get("eol"),
            tuple(sorted(s.get("unknown_keys") or ())))


MTA_STS_CHANGES = ["id and policy changed", "id changed, policy the same",
                   "policy changed, id the same",
                   "id changed, policy not fetched in both", "record appeared",
                   "record went away", "unchanged",
                   "id the same, policy not fetched in both"]
TLSA_STALE = ["no match now: certificate changed, TLSA records kept",
              "no match now: TLSA records changed",
              "no match now: same certificate and TLSA records",
              "another DANE outcome now", "MX host no longer named (or not kept)",
              "still dane_ok"]


def tlsa_stale(old, new):
    """{(domain, MX host): label of TLSA_STALE} for every kept MX host
    that was dane_ok in `old`, of a domain in both truths. The truth has
    no certificate fingerprints, so "certificate changed" is derived from
    DANE's own logic: the TLSA records are the same and their match
    against the presented certificate went from dane_ok to dane_no_match,
    so the certificate is another one."""
    o, n = _by_domain(old), _by_domain(new)
    out = {}
    for d in sorted(set(o) & set(n)):
        now = {h["host"].lower(): h for h in n[d]["mx"] if h["kept"]}
        for h in o[d]["mx"]:
            if not h["kept"] or h.get("dane") != "dane_ok":
                continue
            host = h["host"].lower()
            a = now.get(host)
            before = sorted(r.lower() for r in (h.get("tlsa") or {}).get("records") or [])
            if a is None:
                label = "MX host no longer named (or not kept)"
            elif a.get("dane") == "dane_ok":
                label = "still dane_ok"
            elif a.get("dane") == "dane_no_match":
                after = sorted(r.lower() for r in (a.get("tlsa") or {}).get("records") or [])
                label = ("no match now: certificate changed, TLSA records kept"
                         if after == before else "no match now: TLSA records changed")
            else:
                label = "another DANE outcome now"
            out[(d, host)] = label
    return out


def change_figures(old, new):
    """The figures of the section 'change' (analysis/08*_*.sql) for
    `report --campaign NEW --compare OLD`, from the two truths alone:
    {figure: {(scope, label): (numerator, denominator)}}. The ladder moves
    and MTA-STS id changes go through ladder_changes() and
    sts_id_changes()."""
    o, n = _by_domain(old), _by_domain(new)
    both = sorted(set(o) & set(n))
    out = {}

    moves = ladder_changes(old, new)
    up = sum(LADDER.index(a) < LADDER.index(b) for b, a in moves.values())
    out["ladder_change"] = {
        ("domain", "changed rung"): (len(moves), len(both)),
        ("domain", "moved up (stronger protection now)"): (up, len(both)),
        ("domain", "moved down (weaker protection now)"): (len(moves) - up, len(both)),
    }
    trans = {}
    for d in both:
        key = ("domain", "%s → %s" % (o[d]["ladder"], n[d]["ladder"]))
        trans[key] = trans.get(key, 0) + 1
    off = {(b, a) for b, a in moves.values()}
    assert sum(v for (_, l), v in trans.items()
               if tuple(l.split(" → ")) in off) == len(moves)
    out["ladder_transition"] = {k: (v, len(both)) for k, v in trans.items()}

    ids = sts_id_changes(old, new)
    sts = {}
    for d in both:
        a, b = n[d].get("mta_sts") or {}, o[d].get("mta_sts") or {}
        if "valid" not in (a.get("txt"), b.get("txt")):
            continue
        if b.get("txt") != "valid":
            label = "record appeared"
        elif a.get("txt") != "valid":
            label = "record went away"
        elif not (a.get("fetch") == b.get("fetch") == "ok"):
            label = ("id changed, policy not fetched in both" if d in ids
                     else "id the same, policy not fetched in both")
        elif d in ids:
            label = ("id changed, policy the same" if _policy(a) == _policy(b)
                     else "id and policy changed")
        else:
            label = ("unchanged" if _policy(a) == _policy(b)
                     else "policy changed, id the same")
        sts[label] = sts.get(label, 0) + 1
    den = sum(sts.values())
    if den:
        out["mta_sts_id_change"] = {("domain", l): (sts.get(l, 0), den)
                                    for l in MTA_STS_CHANGES}

    stale = list(tlsa_stale(old, new).values())
    if stale:
        out["tlsa_stale"] = {("domain_mx", l): (stale.count(l), len(stale))
                             for l in TLSA_STALE}

    def exists(t):
        return t["mx_outcome"] not in ("no_domain", "dns_error")
    union = len(set(o) | set(n))
    out["domain_presence"] = {
        ("domain", "scanned in both campaigns"): (len(both), union),
        ("domain", "gone: NXDOMAIN now, existed before"):
            (sum(exists(o[d]) and n[d]["mx_outcome"] == "no_domain" for d in both), union),
        ("domain", "appeared: exists now, NXDOMAIN before"):
            (sum(o[d]["mx_outcome"] == "no_domain" and exists(n[d]) for d in both), union),
        ("domain", "target only before (dropped from the targets)"):
            (len(set(o) - set(n)), union),
        ("domain", "target only now (added to the targets)"):
            (len(set(n) - set(o)), union),
    }
    return out
