-- Where valid TLS-RPT records send reports: the URI schemes of rua
-- (RFC 8460 §3: mailto, reports by email, or HTTPS, reports POSTed to a
-- web server), in words. A record listing both counts under both.
CREATE VIEW tlsrpt_rua_scheme AS
WITH d AS (
    SELECT campaign_id, rua_schemes FROM b_sts WHERE tlsrpt = 'valid'
), t AS (
    SELECT campaign_id, count(*) AS n FROM d GROUP BY campaign_id
)
SELECT d.campaign_id, 'domain'::text AS scope,
       CASE s.scheme WHEN 'mailto' THEN 'email (mailto)'
                     WHEN 'https' THEN 'HTTPS POST'
                     ELSE s.scheme END AS label,
       coalesce(array_position(ARRAY['mailto', 'https'], s.scheme), 99) AS ord,
       count(*) AS numerator, max(t.n) AS denominator
  FROM d CROSS JOIN LATERAL (SELECT DISTINCT unnest(d.rua_schemes)) AS s(scheme)
  JOIN t USING (campaign_id)
 GROUP BY d.campaign_id, s.scheme;

COMMENT ON VIEW tlsrpt_rua_scheme IS
    'URI schemes in the rua of valid TLS-RPT records: email (mailto), '
    'HTTPS POST. A domain counts under each scheme its record lists, so '
    'rows do not add up. Denominator: domains with a mail route and a valid TLS-RPT record.';
SELECT register(76, 'tlsrpt_rua_scheme', 'mta_sts', 'causes',
    'TLS-RPT report destinations (rua schemes)',
    'domains with a valid TLS-RPT record');
