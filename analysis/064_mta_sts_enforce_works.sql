-- "Enforce would work" (schema mta_sts_verdict): would a strict sender
-- (TLS 1.2 or later, OpenSSL security level 2) that enforces the domain's
-- policy deliver? Every MX host matches a pattern of
-- the policy and every contacted endpoint of it completes STARTTLS with a
-- chain trusted for the MX host name (RFC 8461 §4). The denominator is
-- the domains that ask for enforcement (a valid policy in mode enforce):
-- that is where a failure loses mail. Testing-mode policies would lose
-- nothing, so they are not mixed in here; mta_sts_policy_outcome shows
-- both modes over all valid policies.
CREATE VIEW mta_sts_enforce_works AS
SELECT campaign_id, 'domain'::text AS scope, 'enforce would work'::text AS label,
       0 AS ord,
       count(*) FILTER (WHERE enforce_would_work) AS numerator,
       count(*) AS denominator
  FROM b_sts
 WHERE policy_valid AND mode = 'enforce'
 GROUP BY campaign_id;

COMMENT ON VIEW mta_sts_enforce_works IS
    'Domains whose MTA-STS policy in mode enforce would let an enforcing '
    'strict sender (TLS 1.2 or later, OpenSSL security level 2) deliver: '
    'every MX host matches a policy pattern and every contacted endpoint '
    'completes STARTTLS at TLS 1.2 or later with a chain trusted at level 2 '
    'naming its MX host (DNS SAN). Denominator: domains with a mail route and a valid '
    'policy in mode enforce (testing-mode policies: mta_sts_policy_outcome).';
SELECT register(64, 'mta_sts_enforce_works', 'mta_sts', 'share',
    'MTA-STS: enforce would work', 'domains with a valid enforce-mode policy');
