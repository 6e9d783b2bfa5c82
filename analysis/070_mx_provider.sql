-- Concentration: the MX providers, by the registrable domain of the MX
-- host under the Public Suffix List (domain_mx.registrable, e.g.
-- "provider.co.uk" for "mx1.provider.co.uk", not "co.uk"), that the most
-- domains use. Rows stored before migration 023 have no registrable
-- domain; for them (and for hosts that are a public suffix themselves)
-- the last two labels stand in. A domain counts under each provider any
-- of its kept MX hosts is under. Top 10.
CREATE VIEW mx_provider AS
WITH x AS (
    -- The providers of the domain's kept MX hosts that are not
    -- IP literals (b_domain_mx).
    SELECT campaign_id, target_id, providers FROM b_domain_mx
     WHERE mail_route AND providers IS NOT NULL
), h AS (
    SELECT DISTINCT x.campaign_id, x.target_id, p.suffix
      FROM x, unnest(x.providers) AS p(suffix)
), t AS (
    SELECT campaign_id, count(*) AS n FROM x GROUP BY campaign_id
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
