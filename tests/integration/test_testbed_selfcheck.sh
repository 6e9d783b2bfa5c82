#!/usr/bin/env bash
# The testbed agrees with itself: `up` on the default scenario set, then
# every oracle self-check (dig/delv for DNS, and the TLS/SMTP/MTA-STS ones)
# against the ground truth, then `down`.  Needs root (network namespace).
set -euo pipefail
: "${MXCRAWL_SRC:?MXCRAWL_SRC must name the source tree}"
exec "$MXCRAWL_SRC/tests/testbed/selfcheck"
