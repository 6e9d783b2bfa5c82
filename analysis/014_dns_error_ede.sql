-- Extended DNS Errors (RFC 8914) of the MX answers that were DNS errors.
-- An answer may carry several EDE codes; it counts under each, so rows
-- need not add up.
CREATE VIEW dns_error_ede AS
WITH e AS (
    SELECT campaign_id, target_id, mx_ede FROM b_domain
     WHERE mx_outcome = 'dns_error'
), t AS (
    SELECT campaign_id, count(*) AS n FROM e GROUP BY campaign_id
), l AS (
    SELECT e.campaign_id, e.target_id, 'EDE ' || c AS label
      FROM e, unnest(e.mx_ede) AS c
    UNION ALL
    SELECT e.campaign_id, e.target_id, 'no EDE'
      FROM e WHERE cardinality(coalesce(e.mx_ede, '{}')) = 0
)
SELECT l.campaign_id, 'domain'::text AS scope, l.label, 0 AS ord,
       count(DISTINCT l.target_id) AS numerator, t.n AS denominator
  FROM l JOIN t USING (campaign_id)
 GROUP BY l.campaign_id, l.label, t.n;

COMMENT ON VIEW dns_error_ede IS
    'Domains whose MX lookup was a DNS error, by Extended DNS Error code of '
    'the answer (a domain with several codes counts under each; "no EDE" '
    'when none). Denominator: domains whose MX lookup was a DNS error.';
SELECT register(14, 'dns_error_ede', 'funnel', 'causes',
    'DNS errors of the MX lookup by Extended DNS Error',
    'domains with a DNS error on the MX lookup');
