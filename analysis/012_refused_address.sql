-- Addresses of MX hosts that the address policy refused, by verdict and
-- class. Counted per distinct address: a provider address named by many
-- domains is one address.
CREATE VIEW refused_address AS
WITH a AS (
    SELECT DISTINCT a.campaign_id, a.address, a.verdict, a.class
      FROM mx_address a
      JOIN domain_mx m ON m.campaign_id = a.campaign_id
       AND m.target_id = a.target_id AND m.ordinal = a.ordinal AND m.kept
), t AS (
    SELECT campaign_id, count(DISTINCT address) AS n FROM a GROUP BY campaign_id
)
SELECT a.campaign_id, 'address'::text AS scope,
       a.verdict || ': ' || a.class AS label, 0 AS ord,
       count(DISTINCT a.address) AS numerator, t.n AS denominator
  FROM a JOIN t USING (campaign_id)
 WHERE a.verdict <> 'ok'
 GROUP BY a.campaign_id, a.verdict, a.class, t.n;

COMMENT ON VIEW refused_address IS
    'Distinct MX host addresses never contacted, by the policy verdict '
    '(reserved: special-purpose address space; blocklist: --blocklist) and '
    'the address class. Denominator: distinct addresses of kept MX hosts.';
SELECT register(12, 'refused_address', 'funnel', 'share',
    'Refused MX addresses by reason', 'distinct addresses of kept MX hosts');
