-- Why a fetched policy is invalid (RFC 8461 §3.2), the first error the
-- parser met (mtasts.h): bad_version, bad_mode, bad_max_age, missing_mx,
-- bad_mx, bad_line, blank_line, bom, ... One per domain.
CREATE VIEW mta_sts_policy_error AS
WITH d AS (
    SELECT campaign_id, policy, policy_error FROM b_sts WHERE fetched
), t AS (
    SELECT campaign_id, count(*) AS n FROM d GROUP BY campaign_id
)
SELECT d.campaign_id, 'domain'::text AS scope,
       coalesce(d.policy_error, 'unknown') AS label, 0 AS ord,
       count(*) AS numerator, max(t.n) AS denominator
  FROM d JOIN t USING (campaign_id)
 WHERE d.policy IS DISTINCT FROM 'valid'
 GROUP BY d.campaign_id, 3;

COMMENT ON VIEW mta_sts_policy_error IS
    'Domains whose fetched MTA-STS policy is invalid, by syntax error: '
    'bad_version, bad_mode, bad_max_age, missing_mx, bad_mx, bad_line ... '
    '(the first one found, one per domain). Denominator: domains with a mail '
    'route whose policy was fetched.';
SELECT register(68, 'mta_sts_policy_error', 'mta_sts', 'share',
    'MTA-STS policy syntax errors', 'domains whose MTA-STS policy was fetched');
