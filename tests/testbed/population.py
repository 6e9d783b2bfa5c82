#!/usr/bin/python3
"""A realistic population of N domains for benchmarks (`up --domains N`).

Model (rates are round figures in the range published MX/STARTTLS/DNSSEC
surveys report; README.md "Scale" lists them):

- A few mail providers host most domains: 12 providers, Zipf-like shares
  (s = 1.1) of the 68 % of domains that use a provider; each provider has 2-4
  MX hosts on fixed addresses, and a behaviour of its own (DANE, expired
  certificate, no STARTTLS, TLS 1.2 only, ...).
- The long tail is self-hosted (22 %): one MX host per domain on its own
  address, with a defect drawn from published-like rates (self-signed,
  expired, unknown issuer, name mismatch, no STARTTLS, TLS 1.0).
- The rest has no usable mail host: null MX, implicit MX (A only), no mail
  host at all, NXDOMAIN, bogus DNSSEC, lame delegation.
- DNSSEC: ~8 % of domains are in signed zones; DANE on a quarter of signed
  self-hosted domains. MTA-STS on ~3 % (provider domains), TLS-RPT on ~4 %.

Domains are names inside a few big TLD zones (no delegation per domain), which
keeps generation and signing to about a minute per million.  Truth, records
and server entries are made from per-profile templates computed once with the
same ScenarioBuilder as the default scenarios (so the truth semantics are
identical), then instantiated by string substitution.
"""

import ipaddress
import json
import os
import random

import build
import dnsgen

TMPL = "tmplzz0000000"                # replaced by the domain label
TMPL_SMTP_IP = "127.63.255.254"       # replaced by the allocated SMTP address
TMPL_HTTPS_IP = "127.63.255.253"      # replaced by the allocated HTTPS address
SELF_NET = ipaddress.ip_network("127.32.0.0/12")
PROV_NET = ipaddress.ip_network("127.48.0.0/16")
STS_NET = ipaddress.ip_network("127.49.0.0/16")
STS_BATCH = 100                       # MTA-STS host names per certificate
PER_ZONE = 250000                     # domains per TLD zone (signing in parallel)

# (name, zone state, behaviour) of the providers, by rank.
PROVIDERS = [
    ("prov01", "insecure", {}),
    ("prov02", "insecure", {}),
    ("prov03", "secure", {"dane": True}),
    ("prov04", "insecure", {"max_version": "TLSv1.2"}),
    ("prov05", "insecure", {}),
    ("prov06", "secure", {"dane": True}),
    ("prov07", "insecure", {"cert": {"not_before_days": -400, "not_after_days": -3}}),
    ("prov08", "insecure", {"smtp": {"ehlo": ["250-<host>", "250-PIPELINING", "250 8BITMIME"]}}),
    ("prov09", "insecure", {"cert": {"issuer": "self"}}),
    ("prov10", "secure", {}),
    ("prov11", "insecure", {"max_version": "TLSv1"}),
    ("prov12", "insecure", {"cert": {"names": ["mail.other.example"]}}),
]

# category -> weight (per mille)
CATEGORIES = [("provider", 680), ("self", 220), ("implicit", 25), ("null", 10),
              ("nomail", 20), ("nxdomain", 30), ("bogus", 5), ("lame", 2),
              ("selfsec", 8)]
# self-hosted defects (per mille)
SELF_PROFILES = [("good", 450), ("selfsigned", 170), ("expired", 90),
                 ("untrusted", 80), ("mismatch", 90), ("nostarttls", 90),
                 ("tls10", 30)]
# The hostile mix (`up --mix hostile`, issue M11: hostile peers at
# volume): every domain self-hosted on an address of its own, whose mail
# server misbehaves in one of the testbed's ways, in equal shares. Each is
# the host spec of the default scenario of the same behaviour (scenarios.py:
# smtp-silent, smtp-tarpit, ...), so the truth is computed the same way.
HOSTILE_PROFILES = [
    ("silent", {"smtp": {"mode": "silent"}}),
    ("tarpit", {"smtp": {"mode": "tarpit"}}),
    ("reset", {"smtp": {"mode": "reset"}}),
    ("garbage", {"smtp": {"mode": "garbage"}}),
    ("close", {"smtp": {"mode": "close_after_banner"}}),
    ("flood", {"smtp": {"mode": "endless_ehlo"}}),
    ("longline", {"smtp": {"mode": "long_line"}}),
    ("inject", {"smtp": {"inject_after_starttls": "250-INJECTED\r\n250 AUTH PLAIN\r\n"}}),
    ("alert", {"tls": {"alert": True}}),
    ("tlsreset", {"tls": {"reset": True}}),
    ("slowtls", {"tls": {"slow": True}}),
]
STS_PROFILES = [("enforce", 55), ("testing", 20), ("fetch404", 10), ("mismatch", 10),
                ("badtxt", 5)]            # per mille of provider domains


def _pick(rng, table, total=1000):
    r = rng.random() * total
    acc = 0
    for name, w in table:
        acc += w
        if r < acc:
            return name
    return table[-1][0]


class Population:
    def __init__(self, world, n, seed=1, mix="realistic"):
        if mix not in ("realistic", "hostile"):
            raise ValueError("unknown population mix %r" % mix)
        self.w = world
        self.n = n
        self.mix = mix
        self.rng = random.Random(seed)
        self.dir = os.path.join(world.dir, "dns", "pop")
        os.makedirs(self.dir, exist_ok=True)
        self.templates = {}
        self.files = {}
        self.counts = {}
        nz = max(1, (n + PER_ZONE - 1) // PER_ZONE)
        self.unsigned_tlds = ["pop%d." % i for i in range(nz)]
        self.signed_tld = "spop."
        self.bogus_tld = "bpop."
        self.lame_tld = "lpop."
        for t in self.unsigned_tlds:
            world.add_zone(t, "insecure", ns_addr=dnsgen.TLD_NS_ADDR)
        world.add_zone(self.signed_tld, "secure", ns_addr=dnsgen.TLD_NS_ADDR)
        world.add_zone(self.bogus_tld, "bogus-rrsig", ns_addr=dnsgen.TLD_NS_ADDR)
        world.add_zone(self.lame_tld, "lame", ns_addr=dnsgen.TLD_NS_ADDR)
        self.providers = []
        self._self_next = int(SELF_NET.network_address) + 1
        self._sts_next = int(STS_NET.network_address) + 1
        self.sts_pending = []
        self.sts_batches = 0
        self.truth_path = os.path.join(self.dir, "truth.part")
        self.targets_path = os.path.join(self.dir, "targets.part")
        self.servers_path = os.path.join(self.dir, "servers.part")

    # ------------------------------------------------------------ providers
    def make_providers(self):
        w = self.w
        pnext = int(PROV_NET.network_address) + 1
        for rank, (name, state, beh) in enumerate(PROVIDERS):
            apex = "%s.example." % name
            nhosts = 2 + (rank % 3)
            hosts = {}
            for h in range(1, nhosts + 1):
                addr = str(ipaddress.ip_address(pnext))
                pnext += 1
                spec = {"a": [addr]}
                if beh.get("smtp"):
                    spec["smtp"] = beh["smtp"]
                if beh.get("cert"):
                    spec["cert"] = dict(beh["cert"])
                if beh.get("max_version"):
                    spec["tls"] = {"max_version": beh["max_version"]}
                if beh.get("dane"):
                    spec["tlsa"] = [(3, 1, 1, "leaf")]
                hosts["mx%d.%s" % (h, apex)] = spec
            s = {"name": "pop-" + name, "case": "population provider %s" % name,
                 "domain": apex, "dnssec": state, "target": False, "mx": [],
                 "hosts": hosts}
            build.ScenarioBuilder(w, s).build()
            self.providers.append((name, apex, sorted(hosts)))
        # Zipf-like shares over providers
        weights = [1.0 / (r + 1) ** 1.1 for r in range(len(PROVIDERS))]
        tot = sum(weights)
        self.prov_cum = []
        acc = 0.0
        for wgt in weights:
            acc += wgt / tot
            self.prov_cum.append(acc)

    # ------------------------------------------------------------ templates
    def scratch(self):
        """A world with the same zones and shared hosts, for computing a
        profile's records, server entries and truth once."""
        s = build.World(self.w.dir, self.w.pki, self.w.latency)
        for apex, z in self.w.zones.items():
            s.add_zone(apex, z.state, z.ns_addr)
        # A copy: the providers' hosts are shared, but a template's own
        # hosts must not be seen by the next template (a "no MX, no
        # address" domain would take an implicit-MX template's apex host
        # of the same TLD into its truth).
        s.hosts = dict(self.w.hosts)
        s._next_smtp = int(ipaddress.ip_address(TMPL_SMTP_IP))
        s._next_https = int(ipaddress.ip_address(TMPL_HTTPS_IP))
        return s

    def template(self, key, tld, scenario):
        k = (key, tld)
        t = self.templates.get(k)
        if t is not None:
            return t
        sw = self.scratch()
        scenario = dict(scenario)
        scenario["domain"] = TMPL + "." + tld
        scenario["name"] = "pop-" + key
        build.ScenarioBuilder(sw, scenario).build()
        sw.finish_truth()
        recs = "".join("%s %d IN %s %s\n" % (o, ttl, ty, rd) for o, ty, rd, ttl in sw.records)
        truth = json.dumps(sw.truth[0], sort_keys=True) + "\n"
        servers = [json.dumps(e) for e in sw.smtp]
        https = [json.dumps(e) for e in sw.https]
        t = (recs, truth, servers, https)
        self.templates[k] = t
        return t

    def profile(self, cat, rng, tld):
        """(key, scenario dict) for one domain of category cat."""
        if cat == "provider":
            r = rng.random()
            i = 0
            while self.prov_cum[i] < r:
                i += 1
            name, apex, hosts = self.providers[i]
            mx = [(10 * (j + 1), h) for j, h in enumerate(hosts[:2])]
            s = {"case": "population: domain at provider %s" % name, "zone": False, "mx": mx}
            key = "prov-" + name
            sp = _pick(rng, STS_PROFILES + [("none", 900)], 1000)
            if sp != "none":
                key += "-sts-" + sp
                pol = {"mx": ["*." + apex.rstrip(".")]}
                st = {"txt": ["v=STSv1; id=20240601"]}
                if sp == "testing":
                    pol["mode"] = "testing"
                elif sp == "mismatch":
                    pol["mx"] = ["mail.other.example"]
                elif sp == "badtxt":
                    st["txt"] = ["v=STSv1; id=bad-id!"]
                elif sp == "fetch404":
                    st["https"] = {"status": 404}
                    st["expect"] = {"fetch": "http_status", "policy": None, "mode": None,
                                    "max_age": None, "mx_patterns": [], "eol": None}
                st["policy"] = pol
                st["cert"] = {"names": ["mta-sts.%s.%s" % (TMPL, tld.rstrip("."))],
                              "key_name": "pop-mta-sts"}
                s["sts"] = st
            if rng.random() < 0.04:
                key += "-rpt"
                s["tlsrpt"] = ["v=TLSRPTv1; rua=mailto:tlsrpt@%s.%s" % (TMPL, tld.rstrip("."))]
            return key, s
        if cat == "hostile":
            prof, spec = HOSTILE_PROFILES[rng.randrange(len(HOSTILE_PROFILES))]
            hz = "h." + tld.rstrip(".")
            host = {"a": ["auto"],
                    "cert": {"names": ["*." + hz], "key_name": "pop-%s-good" % tld.rstrip(".")}}
            host.update({k: dict(v) for k, v in spec.items()})
            hn = "mx-%s.%s." % (TMPL, hz)
            return "hostile-" + prof, {"case": "population: hostile self-hosted (%s)" % prof,
                                       "zone": False, "mx": [(10, hn)], "hosts": {hn: host}}
        if cat in ("self", "selfsec"):
            prof = _pick(rng, SELF_PROFILES)
            hz = "h." + tld.rstrip(".")
            cert = {"names": ["*." + hz], "key_name": "pop-%s-%s" % (tld.rstrip("."), prof)}
            host = {"a": ["auto"], "cert": cert}
            if prof == "selfsigned":
                cert["issuer"] = "self"
            elif prof == "expired":
                cert.update(not_before_days=-400, not_after_days=-10)
            elif prof == "untrusted":
                cert["issuer"] = "untrusted"
            elif prof == "mismatch":
                cert["names"] = ["mail.other.example"]
            elif prof == "nostarttls":
                host["smtp"] = {"ehlo": ["250-<host>", "250-PIPELINING", "250 8BITMIME"]}
            elif prof == "tls10":
                host["tls"] = {"max_version": "TLSv1"}
            key = "self-" + prof
            if cat == "selfsec" and rng.random() < 0.25:
                wrong = rng.random() < 0.1
                host["tlsa"] = [(3, 1, 1, "wrong" if wrong else "leaf")]
                key += "-dane-wrong" if wrong else "-dane"
            hn = "mx-%s.%s." % (TMPL, hz)
            return key, {"case": "population: self-hosted (%s)" % prof, "zone": False,
                         "mx": [(10, hn)], "hosts": {hn: host}}
        if cat == "implicit":
            return "implicit", {"case": "population: implicit MX", "zone": False,
                                "mx": None, "apex": {"a": ["auto"],
                                                     "cert": {"names": ["*.h." + tld.rstrip(".")],
                                                              "key_name": "pop-%s-good" % tld.rstrip(".")}}}
        if cat == "null":
            return "null", {"case": "population: null MX", "zone": False, "mx": [(0, ".")]}
        if cat == "nomail":
            return "nomail", {"case": "population: no MX, no address", "zone": False,
                              "mx": None, "records": [("@", "TXT", '"v=spf1 -all"')]}
        if cat == "nxdomain":
            return "nxdomain", {"case": "population: NXDOMAIN", "zone": False, "mx": None}
        if cat == "bogus":
            return "bogus", {"case": "population: bogus DNSSEC", "zone": False,
                             "mx": [(10, "mx1.prov01.example.")]}
        if cat == "lame":
            return "lame", {"case": "population: lame delegation", "zone": False,
                            "mx": [(10, "mx1.prov01.example.")]}
        raise ValueError(cat)

    # ------------------------------------------------------------ generate
    def generate(self):
        self.make_providers()
        rng = self.rng
        files = {}

        def rrfile(tld):
            f = files.get(tld)
            if f is None:
                path = os.path.join(self.dir, tld.rstrip(".") + ".rr")
                f = open(path, "w", buffering=1 << 20)
                files[tld] = f
                self.w.extra_zone_text.setdefault(tld, []).append(path)
            return f
        tf = open(self.truth_path, "w", buffering=1 << 20)
        gf = open(self.targets_path, "w", buffering=1 << 20)
        sf = open(self.servers_path, "w", buffering=1 << 20)
        cats = CATEGORIES
        first_server = True
        for i in range(self.n):
            cat = "hostile" if self.mix == "hostile" else _pick(rng, cats)
            if cat in ("selfsec",):
                tld = self.signed_tld
            elif cat == "provider" and rng.random() < 0.06:
                tld = self.signed_tld
            elif cat == "bogus":
                tld = self.bogus_tld
            elif cat == "lame":
                tld = self.lame_tld
            else:
                tld = self.unsigned_tlds[i // PER_ZONE]
            key, scen = self.profile(cat, rng, tld)
            recs, truth, servers, https = self.template(key, tld, scen)
            label = "d%07d" % i
            self.counts[key] = self.counts.get(key, 0) + 1
            smtp_ip = https_ip = None
            if TMPL_SMTP_IP in recs:
                smtp_ip = str(ipaddress.ip_address(self._self_next))
                self._self_next += 1
            if TMPL_HTTPS_IP in recs:
                https_ip = str(ipaddress.ip_address(self._sts_next))
                self._sts_next += 1

            def inst(x):
                x = x.replace(TMPL, label)
                if smtp_ip:
                    x = x.replace(TMPL_SMTP_IP, smtp_ip)
                if https_ip:
                    x = x.replace(TMPL_HTTPS_IP, https_ip)
                return x
            if recs and tld not in (self.lame_tld,):
                rrfile(tld).write(inst(recs))
            tf.write(inst(truth))
            gf.write(label + "." + tld.rstrip(".") + "\n")
            for e in servers:
                sf.write(("" if first_server else ",\n") + inst(e))
                first_server = False
            for e in https:
                self.sts_pending.append((inst(e), "mta-sts.%s.%s" % (label, tld.rstrip("."))))
                if len(self.sts_pending) >= STS_BATCH:
                    first_server = self.flush_sts(sf, first_server)
        first_server = self.flush_sts(sf, first_server)
        for f in list(files.values()) + [tf, gf, sf]:
            f.close()

    def flush_sts(self, sf, first):
        """MTA-STS hosts share certificates, STS_BATCH names per certificate
        (SAN list), so that every mta-sts.<domain> validates."""
        if not self.sts_pending:
            return first
        names = [n for _, n in self.sts_pending]
        leaf = self.w.pki.leaf("pop-sts-batch-%d" % self.sts_batches, {"names": names})
        self.sts_batches += 1
        for ej, _ in self.sts_pending:
            e = json.loads(ej)
            e["tls"] = {"cert_file": leaf.cert_file, "key_file": leaf.key_file,
                        "chain_file": leaf.chain_file}
            sf.write(("" if first else ",\n") + json.dumps({"_https": e}))
            first = False
        self.sts_pending = []
        return first

    # ------------------------------------------------------------ outputs
    def write_servers(self, f):
        """servers.json: the scenario entries, then the population's (streamed
        from the part file; HTTPS entries are marked and split out here)."""
        smtp, https = [], []
        with open(self.servers_path) as src:
            data = src.read()
        if data:
            for e in json.loads("[" + data + "]"):
                if "_https" in e:
                    https.append(e["_https"])
                else:
                    smtp.append(e)
        obj = {"smtp": self.w.smtp + smtp, "https": self.w.https + https,
               "record_connections": self.w.record_connections}
        if self.w.postfix:
            obj["postfix"] = self.w.postfix
        if self.w.client:
            obj["client"] = self.w.client
        json.dump(obj, f)

    def write_truth(self, f):
        with open(self.truth_path) as src:
            for chunk in iter(lambda: src.read(1 << 20), ""):
                f.write(chunk)

    def write_targets(self, f):
        with open(self.targets_path) as src:
            for chunk in iter(lambda: src.read(1 << 20), ""):
                f.write(chunk)
