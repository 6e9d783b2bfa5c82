-- Policy mode (RFC 8461 §5) of the valid policies: enforce, testing
-- (report, deliver anyway) or none (the policy is being withdrawn).
CREATE VIEW mta_sts_mode AS
WITH c AS (
    SELECT campaign_id, mode AS label, count(*) AS n
      FROM b_sts WHERE policy_valid GROUP BY campaign_id, mode
), t AS (
    SELECT campaign_id, sum(n) AS n FROM c GROUP BY campaign_id
), o(labels) AS (
    VALUES (ARRAY['enforce', 'testing', 'none'])
)
SELECT t.campaign_id, 'domain'::text AS scope, l.label,
       coalesce(array_position(o.labels, l.label), 99) AS ord,
       coalesce(c.n, 0) AS numerator, t.n AS denominator
  FROM t CROSS JOIN o
  CROSS JOIN LATERAL (SELECT unnest(o.labels)
                      UNION SELECT c2.label FROM c c2
                             WHERE c2.campaign_id = t.campaign_id) AS l(label)
  LEFT JOIN c ON c.campaign_id = t.campaign_id AND c.label = l.label;

COMMENT ON VIEW mta_sts_mode IS
    'Mode of the MTA-STS policy: enforce, testing, none. Rows partition the '
    'denominator. Denominator: domains with a mail route, a valid TXT record '
    'and a fetched, valid policy.';
SELECT register(62, 'mta_sts_mode', 'mta_sts', 'distribution',
    'MTA-STS policy mode', 'domains with a valid MTA-STS policy');
