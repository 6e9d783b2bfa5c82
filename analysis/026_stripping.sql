-- STARTTLS stripping signatures seen (a middlebox that rewrites the EHLO
-- answer or the banner): XXXXXXXA in place of STARTTLS, a masked
-- "220 ****" banner, or STARTTLS advertised but refused with 500/502.
-- Only signatures seen get a row.
CREATE VIEW stripping AS
WITH t AS (
    SELECT campaign_id, count(*) AS n FROM endpoint
     WHERE end_state <> 'connecting' GROUP BY campaign_id
)
SELECT e.campaign_id, 'endpoint'::text AS scope, e.stripping AS label, 0 AS ord,
       count(*) AS numerator, t.n AS denominator
  FROM endpoint e JOIN t USING (campaign_id)
 WHERE e.stripping IS NOT NULL
 GROUP BY e.campaign_id, e.stripping, t.n;

COMMENT ON VIEW stripping IS
    'Endpoints showing a STARTTLS stripping signature: xxxxxxxa (STARTTLS '
    'overwritten in the EHLO answer), masked_banner ("220 ****"), '
    'advertised_refused (STARTTLS listed but answered 500/502). '
    'Denominator: endpoints reached over TCP.';
SELECT register(26, 'stripping', 'transport', 'share',
    'STARTTLS stripping signatures', 'endpoints reached over TCP');
