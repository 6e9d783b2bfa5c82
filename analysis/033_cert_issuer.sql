-- Issuers of the leaf certificates presented, the ten most common by
-- endpoint, the rest together as "other". Issuer is the leaf's issuer DN
-- as stored (one CA may use several intermediates, each its own row).
CREATE VIEW cert_issuer AS
WITH i AS (
    SELECT campaign_id, coalesce(leaf_issuer, '(unparsed)') AS issuer, count(*) AS n
      FROM b_endpoint WHERE has_chain
     GROUP BY campaign_id, 2
), r AS (
    SELECT i.*, row_number() OVER (PARTITION BY campaign_id ORDER BY n DESC, issuer) AS rk,
           sum(n) OVER (PARTITION BY campaign_id) AS total
      FROM i
)
SELECT campaign_id, 'endpoint'::text AS scope,
       CASE WHEN rk <= 10 THEN issuer ELSE 'other' END AS label,
       CASE WHEN rk <= 10 THEN rk::integer ELSE 11 END AS ord,
       sum(n) AS numerator, total AS denominator
  FROM r GROUP BY campaign_id, 3, 4, total;

COMMENT ON VIEW cert_issuer IS
    'Endpoints by issuer of the presented leaf certificate: the ten most '
    'common issuers, the rest as "other". Denominator: endpoints that '
    'presented a chain.';
SELECT register(33, 'cert_issuer', 'certificates', 'distribution',
    'Top certificate issuers', 'endpoints that presented a chain');
