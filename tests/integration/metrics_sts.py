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
    # The ladder: every scanned domain, every rung listed.
    F.figures.add("protection_ladder")
    rungs = [t["ladder"] for t in truth]
    assert set(rungs) <= set(LADDER), set(rungs) - set(LADDER)
    for r in LADDER:
        F.share("protection_ladder", "domain", r, rungs.count(r), len(truth))

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
