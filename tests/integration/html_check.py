#!/usr/bin/python3
"""Check the HTML report as a browser rendered it against the JSON report.

usage: html_check.py REPORT.html DOM.html REPORT.json [NETLOG.json]

REPORT.html is `mxcrawl report --format html`, DOM.html what headless
Chromium made of it (`--dump-dom`), REPORT.json `report --format json` of
the same campaign(s), NETLOG.json Chromium's `--log-net-log` of that run.

Checks, each against the JSON (never against the renderer's own idea):
- standalone: no element that loads anything (script, link, img, iframe,
  object, embed, ...), no URL in any attribute but a same-page #anchor, no
  url() or @import in CSS; and in the net log, no request the page made
  (only the browser's own background requests, initiator "not an origin",
  which the test's network namespace cannot send anywhere).
- the same figures in the same order, titles and definitions;
- every table row's numbers (own, other campaign's, delta) as text;
- every bar: one per row and campaign, its data-percent the JSON's and its
  drawn width that percent of BAR_W;
- a trend chart for every headline figure (the JSON's "headline", from the
  figure registry) when there are campaigns to draw: with --history (the
  JSON's "history" is not null) one point per campaign of the history,
  at least two, each the percent of that campaign's "history" entry; else
  with two campaigns compared, a point for each. Points are drawn for each
  row of the figure's first scope, at the height of its percent.
- figures of the section 'change' ("across": rows without "compare")
  have no other campaign's bar or numbers.
The renderer's geometry (BAR_W, TREND_*) is its documented contract
(crawler/report/report_html.c).
"""
import html.parser
import json
import re
import sys

BAR_W = 400
TREND_TOP, TREND_PLOT_H = 12, 200
TREND_LINES_MAX = 10
# Elements that make a browser fetch or run something.
LOADERS = {"script", "link", "img", "iframe", "frame", "object", "embed",
           "audio", "video", "source", "track", "image", "use", "base",
           "form", "input", "meta"}
URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "poster",
             "srcset", "data", "background", "ping", "manifest", "cite"}


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def text_pct(v):
    return "-" if v is None else str(v)


class Dom(html.parser.HTMLParser):
    """What the checks need from a document: figure sections, table rows
    by cell class, bars, trend points, and everything that could load."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections = []            # [id, kind, title text, def text, ntrend]
        self.rows = {}                # (fig, scope, label) -> {class: text}
        self.bars = []                # attrs dicts of rect.bar
        self.points = []              # attrs dicts of circle.point
        self.loaders, self.urls, self.css = [], [], []
        self.stack = []
        self.row = None
        self.cell = None
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        # <meta charset> and <meta name=...> load nothing; http-equiv
        # (refresh) can.
        if tag in LOADERS and not (tag == "meta" and "http-equiv" not in a):
            self.loaders.append((tag, a))
        for k, v in attrs:
            if k in URL_ATTRS and v is not None and not v.startswith("#"):
                self.urls.append((tag, k, v))
            # A URL anywhere in a value ("http://..."), or a value that is
            # one (data:, javascript:); a label such as "HTTP: status
            # other than 200" is text.
            if v and re.search(r"(?i)\b(?:https?|ftp)://|^\s*(?:data|javascript):|url\(", v):
                self.urls.append((tag, k, v))
            if k == "style" and v:
                self.css.append(v)
        cls = set((a.get("class") or "").split())
        if tag == "style":
            self.in_style = True
        if tag == "section" and "figure" in cls:
            self.sections.append([a.get("id"), a.get("data-kind"), "", "", 0])
        if tag == "svg" and "trend" in cls and self.sections:
            self.sections[-1][4] += 1
        if tag in ("h3", "p") and self.sections and \
                (tag == "h3" or "def" in cls):
            self.stack.append(tag)
        if tag == "tr" and "data-figure" in a:
            self.row = (a["data-figure"], a["data-scope"], a["data-label"])
            self.rows[self.row] = {}
        if tag == "td" and self.row:
            self.cell = (cls - {"n"}).pop() if cls - {"n"} else None
        if tag == "rect" and "bar" in cls:
            self.bars.append(dict(a, cmp="cmp" in cls))
        if tag == "circle" and "point" in cls:
            self.points.append(a)

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        if tag == "td":
            self.cell = None
        if tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.in_style:
            self.css.append(data)
        if self.stack and self.sections:
            i = 2 if self.stack[-1] == "h3" else 3
            self.sections[-1][i] += data
        if self.row and self.cell:
            r = self.rows[self.row]
            r[self.cell] = r.get(self.cell, "") + data


def check_standalone(dom, where):
    errs = ["%s: <%s %s> loads something" % (where, t, a) for t, a in dom.loaders]
    errs += ["%s: <%s %s=%r> names a URL" % (where, t, k, v) for t, k, v in dom.urls]
    for c in dom.css:
        if re.search(r"(?i)url\s*\(|@import", c):
            errs.append("%s: CSS loads something: %r" % (where, c[:80]))
    return errs


def check_netlog(path):
    """Requests the page made: any URL request whose initiator is the page
    (a file:// page's origin is opaque, "null") or missing, for anything
    but the page's own file."""
    j = json.load(open(path))
    names = {v: k for k, v in j["constants"]["logEventTypes"].items()}
    errs, seen = [], 0
    for e in j["events"]:
        p = e.get("params") or {}
        if names.get(e["type"]) != "URL_REQUEST_START_JOB" or "url" not in p:
            continue
        seen += 1
        if p.get("initiator") == "not an origin":
            continue          # the browser's own (update, time) requests
        if not p["url"].startswith("file:"):
            errs.append("the page requested %s" % p["url"])
    return errs


def check_report(dom, rep):
    errs = []
    figs = rep["figures"]
    cmp = rep["compare"]
    cid = rep["campaign"]["id"]
    two = cmp is not None and cmp["id"] != cid
    hist = rep.get("history")
    hist_ids = [str(c["id"]) for c in hist["campaigns"]] if hist else []
    names = [f["name"] for f in figs]
    got = [s[0] for s in dom.sections]
    if got != names:
        return ["figures: rendered %s, JSON %s" % (got, names)]
    want_rows = set()
    bars = {}
    for b in dom.bars:
        k = (b.get("data-figure"), b.get("data-scope"), b.get("data-label"),
             b.get("data-campaign"))
        if k in bars:
            errs.append("two bars for %s" % (k,))
        bars[k] = b
    points = {}
    for p in dom.points:
        k = (p.get("data-figure"), p.get("data-scope"), p.get("data-label"),
             p.get("data-campaign"))
        if k in points:
            errs.append("two trend points for %s" % (k,))
        points[k] = p
    nbars = npoints = 0
    for f, s in zip(figs, dom.sections):
        name = f["name"]
        if s[1] != f["kind"]:
            errs.append("%s: kind %s, JSON %s" % (name, s[1], f["kind"]))
        if not norm(s[2]).startswith(norm(f["title"])):
            errs.append("%s: title %r, JSON %r" % (name, norm(s[2]), f["title"]))
        if norm(s[3]) != norm(f["definition"]):
            errs.append("%s: definition differs from the JSON's" % name)
        for r in f["rows"]:
            key = (name, r["scope"], r["label"])
            want_rows.add(key)
            cells = dom.rows.get(key)
            if cells is None:
                errs.append("%s/%s/%s: no table row" % key)
                continue
            want = {"num": str(r["numerator"]), "den": str(r["denominator"]),
                    "pct": text_pct(r["percent"])}
            sides = [(str(cid), r["percent"], False)]
            if cmp is not None and "compare" in r:
                c = r["compare"]
                want.update(cnum=text_pct(c["numerator"]), cden=text_pct(c["denominator"]),
                            cpct=text_pct(c["percent"]), delta=text_pct(c["delta"]))
                sides.append((str(cmp["id"]), c["percent"], True))
            got_cells = {k: norm(v) for k, v in cells.items()}
            if got_cells != want:
                errs.append("%s/%s/%s: table %s, JSON %s" % (key + (got_cells, want)))
            for camp, p, is_cmp in sides:
                b = bars.get(key + (camp,))
                if b is None:
                    errs.append("%s/%s/%s: no bar for campaign %s" % (key + (camp,)))
                    continue
                nbars += 1
                if b["cmp"] != is_cmp or b.get("data-percent") != ("" if p is None else str(p)):
                    errs.append("%s/%s/%s: bar of campaign %s says %r, JSON %s" %
                                (key + (camp, b.get("data-percent"), p)))
                elif abs(float(b["width"]) - (p or 0) * BAR_W / 100.0) > 0.051:
                    errs.append("%s/%s/%s: bar %s wide for %s %%" %
                                (key + (b["width"], p)))
        # Trend charts: headline figures, over the history's campaigns
        # when there is one, else over the two compared.
        if hist:
            trend = len(hist_ids) >= 2 and f["headline"] and f["rows"]
        else:
            trend = two and f["headline"] and f["rows"] and not f.get("across")
        if s[4] != (1 if trend else 0):
            errs.append("%s: %d trend charts, want %d" % (name, s[4], 1 if trend else 0))
        if not trend:
            continue
        if hist and [str(e["campaign"]) for e in f.get("history", [])] != hist_ids:
            errs.append("%s: history entries for campaigns %s, want %s" %
                        (name, [e["campaign"] for e in f.get("history", [])], hist_ids))
            continue
        first = [r for r in f["rows"] if r["scope"] == f["rows"][0]["scope"]]
        for r in first[:TREND_LINES_MAX]:
            if hist:
                camps = [(c, next((x["percent"] for x in e["rows"]
                                   if (x["scope"], x["label"]) == (r["scope"], r["label"])),
                                  None))
                         for c, e in zip(hist_ids, f["history"])]
            else:
                camps = [(str(cid), r["percent"]),
                         (str(cmp["id"]), r["compare"]["percent"])]
            for camp, p in camps:
                pt = points.get((name, r["scope"], r["label"], camp))
                if p is None:
                    if pt is not None:
                        errs.append("%s/%s: a trend point without a percent" % (name, r["label"]))
                    continue
                if pt is None:
                    errs.append("%s/%s/%s: no trend point for campaign %s" %
                                (name, r["scope"], r["label"], camp))
                    continue
                npoints += 1
                y = TREND_TOP + TREND_PLOT_H - p * TREND_PLOT_H / 100.0
                if pt.get("data-percent") != str(p) or abs(float(pt["cy"]) - y) > 0.051:
                    errs.append("%s/%s: trend point of %s at %s says %s, JSON %s" %
                                (name, r["label"], camp, pt.get("cy"),
                                 pt.get("data-percent"), p))
    extra = set(dom.rows) - want_rows
    if extra:
        errs.append("table rows not in the JSON: %s" % sorted(extra)[:5])
    if len(bars) != nbars:
        errs.append("%d bars, %d expected" % (len(bars), nbars))
    if len(points) != npoints:
        errs.append("%d trend points, %d expected" % (len(points), npoints))
    return errs, len(names), len(want_rows), nbars, npoints


def main():
    if len(sys.argv) not in (4, 5):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 64
    raw, rendered = Dom(), Dom()
    raw.feed(open(sys.argv[1], encoding="utf-8").read())
    rendered.feed(open(sys.argv[2], encoding="utf-8").read())
    rep = json.load(open(sys.argv[3]))
    errs = check_standalone(raw, "report") + check_standalone(rendered, "DOM")
    if len(sys.argv) == 5:
        errs += check_netlog(sys.argv[4])
    res = check_report(rendered, rep)
    if isinstance(res, list):
        errs += res
    else:
        errs += res[0]
    for e in errs[:40]:
        print("FAIL: " + e)
    if errs:
        print("%d disagreements between the rendered HTML and the JSON" % len(errs))
        return 1
    print("ok: rendered HTML = JSON: %d figures, %d table rows, %d bars, "
          "%d trend points; standalone, no request made" % res[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
