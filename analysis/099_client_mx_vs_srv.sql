-- How the client ports of the MX hosts compare with the SRV-advertised
-- ones (--client-ports mx): per service, the domains with a probed
-- endpoint both by SRV and on an MX host. Rows: the SRV record names an
-- MX host (one endpoint, found both ways); the MX host's port answers;
-- every SRV endpoint gives TLS with a trusted certificate naming the SRV
-- target while some answering MX endpoint does not (naming the MX host):
-- the MX port is worse than the advertised one.
CREATE VIEW client_mx_vs_srv AS
WITH srv AS (
    SELECT de.campaign_id, de.target_id, de.service,
           bool_and(c.outcome = 'tls_ok' AND coalesce(c.trusted, false)
                    AND coalesce(c.name_matches_host, false)) AS good,
           array_agg(DISTINCT host(de.ip) || ' ' || de.port || ' ' || de.sni)
               AS keys
      FROM domain_client_endpoint de
      JOIN client_endpoint c ON c.campaign_id = de.campaign_id AND c.ip = de.ip
                            AND c.port = de.port AND c.sni = de.sni
                            AND c.service = de.service
     GROUP BY de.campaign_id, de.target_id, de.service
), mx AS (
    SELECT de.campaign_id, de.target_id, de.service,
           bool_or(c.outcome <> 'connect_failed') AS answers,
           coalesce(bool_and(c.outcome = 'tls_ok' AND coalesce(c.trusted, false)
                             AND coalesce(c.name_matches_host, false))
                        FILTER (WHERE c.outcome <> 'connect_failed'), true) AS good,
           array_agg(DISTINCT host(de.ip) || ' ' || de.port || ' ' || de.sni)
               AS keys
      FROM domain_client_mx_endpoint de
      JOIN client_endpoint c ON c.campaign_id = de.campaign_id AND c.ip = de.ip
                            AND c.port = de.port AND c.sni = de.sni
                            AND c.service = de.service
     GROUP BY de.campaign_id, de.target_id, de.service
), both_ AS (
    SELECT s.campaign_id, s.service,
           array_position(ARRAY['submissions', 'submission', 'imaps', 'imap',
                                'pop3s', 'pop3'], s.service) AS sord,
           s.keys && m.keys AS shared, m.answers,
           s.good AND m.answers AND NOT m.good AS mx_worse
      FROM srv s JOIN mx m USING (campaign_id, target_id, service)
)
SELECT campaign_id, service AS scope, x.label, sord * 10 + x.o AS ord,
       count(*) FILTER (WHERE CASE x.o WHEN 0 THEN shared
                                       WHEN 1 THEN answers
                                       ELSE mx_worse END) AS numerator,
       count(*) AS denominator
  FROM both_ CROSS JOIN (VALUES ('the SRV target is an MX host (same endpoint)', 0),
                                ('the MX host''s port answers', 1),
                                ('SRV endpoints trusted and named, the MX port not', 2)) x (label, o)
 GROUP BY campaign_id, service, sord, x.label, x.o;

COMMENT ON VIEW client_mx_vs_srv IS
    'With --client-ports mx: per mail client service, the domains with a probed '
    'endpoint of it found by SRV and one on an MX host''s standard port: how often '
    'an SRV record names an MX host (the same endpoint), how often the MX host''s '
    'port answers, and how often every SRV endpoint gives TLS with a trusted '
    'certificate naming the SRV target while an answering MX endpoint does not '
    '(naming the MX host).';
SELECT register(99, 'client_mx_vs_srv', 'client', 'share',
    'Client ports on the MX hosts against SRV-advertised ones, per service',
    'per service, domains with a probed endpoint found by SRV and on an MX host');
