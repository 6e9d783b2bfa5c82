-- Concentration: the MX providers, by the registrable domain of the MX
-- host under the Public Suffix List (domain_mx.registrable, e.g.
-- "provider.co.uk" for "mx1.provider.co.uk", not "co.uk"), that the most
-- domains use. Rows stored before migration 023 have no registrable
-- domain; for them (and for hosts that are a public suffix themselves)
-- the last two labels stand in. A domain counts under each provider any
-- of its kept MX hosts is under. Top 10.
CREATE VIEW mx_provider AS
WITH h AS (
    SELECT DISTINCT m.campaign_id, m.target_id,
           coalesce(m.registrable,
                    substring(lower(m.host) FROM '([^.]+\.[^.]+)$')) AS suffix
      FROM domain_mx m JOIN domain_dns dd USING (campaign_id, target_id)
     WHERE m.kept AND NOT m.ip_literal AND dd.mx_outcome IN ('mx', 'implicit_mx')
), t AS (
    SELECT campaign_id, count(DISTINCT target_id) AS n FROM h GROUP BY campaign_id
), c AS (
    SELECT campaign_id, coalesce(suffix, '(none)') AS suffix, count(*) AS n,
           row_number() OVER (PARTITION BY campaign_id
                              ORDER BY count(*) DESC, coalesce(suffix, '(none)')) AS rk
      FROM h GROUP BY campaign_id, 2
)
SELECT c.campaign_id, 'domain'::text AS scope, c.suffix AS label, c.rk::integer AS ord,
       c.n AS numerator, t.n AS denominator
  FROM c JOIN t USING (campaign_id)
 WHERE c.rk <= 10;

COMMENT ON VIEW mx_provider IS
    'The ten MX providers used by the most domains, by the registrable '
    'domain of the MX host under the Public Suffix List (the last two '
    'labels for rows stored before it was recorded); a domain counts under '
    'every provider of its kept MX hosts. Denominator: '
    'domains with an MX RRset or implicit MX and a kept MX host.';
SELECT register(70, 'mx_provider', 'concentration', 'share',
    'Top MX providers by registrable domain', 'domains with a kept MX host');
