-- Days from the probe to the leaf's notAfter: measured at the scan's
-- time (probed_at), not the report's, so a report of an old campaign says
-- what was true then.
CREATE VIEW cert_days_to_expiry AS
WITH e AS (
    SELECT campaign_id,
           extract(epoch FROM leaf_not_after - probed_at) / 86400 AS days
      FROM b_endpoint WHERE has_chain
), b AS (
    SELECT campaign_id,
           CASE WHEN days IS NULL THEN 'unknown'
                WHEN days < 0 THEN 'expired'
                WHEN days <= 7 THEN '0-7 days'
                WHEN days <= 30 THEN '8-30 days'
                WHEN days <= 90 THEN '31-90 days'
                ELSE '> 90 days' END AS label
      FROM e
)
SELECT campaign_id, 'endpoint'::text AS scope, label,
       array_position(ARRAY['expired', '0-7 days', '8-30 days', '31-90 days',
                            '> 90 days', 'unknown'], label) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM b GROUP BY campaign_id, label;

COMMENT ON VIEW cert_days_to_expiry IS
    'Endpoints by days from the probe to the presented leaf''s notAfter '
    '(negative: expired). Denominator: endpoints that presented a chain.';
SELECT register(35, 'cert_days_to_expiry', 'certificates', 'distribution',
    'Days to expiry of the leaf certificate', 'endpoints that presented a chain');
