#!/usr/bin/env bash
# The population's truth (tests/testbed/up --domains N) is made per
# profile from a template domain and instantiated by substitution. A
# template once saw the hosts of the templates built before it: a "no MX,
# no address" domain built after an implicit-MX one in the same TLD got
# that one's apex address in its truth (the template's placeholder
# address, never substituted: its DNS has no A record), and scripts/soak
# reported 382 such domains at --seed 20261206 as lost facts. Seed 3 at
# 400 domains builds them in that order. Checked here without starting
# anything (--generate-only): no truth line holds a template placeholder,
# and every "no MX, no address" domain has no mail host in its truth.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TB=$TEST_WORK/tb
"$MXCRAWL_SRC/tests/testbed/up" "$TB" --generate-only --no-postfix --domains 400 --seed 3 \
	>"$TEST_WORK/up.log" 2>&1 || { tail -20 "$TEST_WORK/up.log" >&2; fail "testbed generation"; }
/usr/bin/python3 - "$TB/truth.jsonl" "$MXCRAWL_SRC/tests/testbed" <<'EOF' || fail "population truth"
import json, sys
sys.path.insert(0, sys.argv[2])
sys.dont_write_bytecode = True
import population
bad, nomail = [], 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        nomail += t.get("case") == "population: no MX, no address"
        if population.TMPL_SMTP_IP in line or population.TMPL_HTTPS_IP in line \
                or population.TMPL in line:
            bad.append(t["domain"] + ": template placeholder in the truth")
        elif t.get("case") == "population: no MX, no address":
            if t["mx_outcome"] != "implicit_mx" or any(
                    h["a"]["addresses"] or h["aaaa"]["addresses"] or h["endpoints"]
                    for h in t["mx"]):
                bad.append(t["domain"] + ": a mail host address in the truth of a domain without one")
for b in bad[:20]:
    print("FAIL:", b)
print("%d nomail domains, %d bad truth lines" % (nomail, len(bad)))
sys.exit(1 if bad or nomail == 0 else 0)
EOF
echo PASS
