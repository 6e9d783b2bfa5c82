-- Validity period of the presented leaf (notAfter - notBefore), in
-- buckets that follow the CA/B Forum limits: 90 days (ACME default), 200
-- (2025-26 limit), 398 (2020 limit), 825 (2018 limit), longer.
CREATE VIEW cert_validity_days AS
WITH e AS (
    SELECT campaign_id,
           extract(epoch FROM leaf_not_after - leaf_not_before) / 86400 AS days
      FROM b_endpoint WHERE has_chain
), b AS (
    SELECT campaign_id,
           CASE WHEN days IS NULL THEN 'unknown'
                WHEN days <= 90 THEN '<= 90 days'
                WHEN days <= 200 THEN '91-200 days'
                WHEN days <= 398 THEN '201-398 days'
                WHEN days <= 825 THEN '399-825 days'
                ELSE '> 825 days' END AS label
      FROM e
)
SELECT campaign_id, 'endpoint'::text AS scope, label,
       array_position(ARRAY['<= 90 days', '91-200 days', '201-398 days',
                            '399-825 days', '> 825 days', 'unknown'], label) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM b GROUP BY campaign_id, label;

COMMENT ON VIEW cert_validity_days IS
    'Endpoints by validity period of the presented leaf certificate '
    '(notAfter - notBefore). Denominator: endpoints that presented a chain.';
SELECT register(34, 'cert_validity_days', 'certificates', 'distribution',
    'Leaf certificate validity period', 'endpoints that presented a chain');
