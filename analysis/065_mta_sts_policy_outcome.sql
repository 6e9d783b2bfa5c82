-- All valid policies by mode and by whether enforcing them would work
-- (the same test as mta_sts_enforce_works): for a testing policy it says
-- whether the domain could switch to enforce today without losing mail.
-- Mode none has nothing to enforce and is one row.
CREATE VIEW mta_sts_policy_outcome AS
WITH p AS (
    SELECT campaign_id,
           CASE WHEN mode = 'enforce' AND enforce_would_work THEN 'enforce, would work'
                WHEN mode = 'enforce' THEN 'enforce, would fail'
                WHEN mode = 'testing' AND enforce_would_work
                     THEN 'testing, would work if enforced'
                WHEN mode = 'testing' THEN 'testing, would fail if enforced'
                ELSE 'none, nothing to enforce' END AS label
      FROM b_sts WHERE policy_valid
), c AS (
    SELECT campaign_id, label, count(*) AS n FROM p GROUP BY campaign_id, label
), t AS (
    SELECT campaign_id, sum(n) AS n FROM c GROUP BY campaign_id
), o(labels) AS (
    VALUES (ARRAY['enforce, would work', 'enforce, would fail',
                  'testing, would work if enforced', 'testing, would fail if enforced',
                  'none, nothing to enforce'])
)
SELECT t.campaign_id, 'domain'::text AS scope, l.label,
       array_position(o.labels, l.label) AS ord,
       coalesce(c.n, 0) AS numerator, t.n AS denominator
  FROM t CROSS JOIN o CROSS JOIN LATERAL unnest(o.labels) AS l(label)
  LEFT JOIN c ON c.campaign_id = t.campaign_id AND c.label = l.label;

COMMENT ON VIEW mta_sts_policy_outcome IS
    'Valid MTA-STS policies by mode and whether enforcing them would work '
    'for a strict sender (every MX host matches and presents over STARTTLS '
    'at TLS 1.2 or later a chain trusted at OpenSSL security level 2 naming '
    'it): enforce, would work / would fail; testing, would work / '
    'would fail if enforced; none. Rows partition the denominator. '
    'Denominator: domains with a mail route and a valid policy (any mode).';
SELECT register(65, 'mta_sts_policy_outcome', 'mta_sts', 'distribution',
    'MTA-STS: would enforcing each valid policy work',
    'domains with a valid MTA-STS policy');
