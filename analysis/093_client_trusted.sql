-- Mail client ports, probes (issue M12, schema/029): per service, the
-- domains whose every probed endpoint of it gave a TLS session with a
-- trusted certificate naming the SRV target (what a strict client
-- accepts without asking its user), and the same when the domain itself
-- is accepted as the name too (RFC 6186 §4 / RFC 7817). Units: domains
-- with at least one probed endpoint of the service.
CREATE VIEW client_trusted AS
WITH e AS (
    SELECT de.campaign_id, de.target_id, de.service,
           array_position(ARRAY['submissions', 'submission', 'imaps', 'imap',
                                'pop3s', 'pop3'], de.service) AS sord,
           c.outcome = 'tls_ok' AND coalesce(c.trusted, false)
               AND coalesce(c.name_matches_host, false) AS good_host,
           c.outcome = 'tls_ok' AND coalesce(c.trusted, false)
               AND (coalesce(c.name_matches_host, false)
                    OR coalesce(de.name_matches_domain, false)) AS good_either
      FROM domain_client_endpoint de
      JOIN client_endpoint c ON c.campaign_id = de.campaign_id AND c.ip = de.ip
                            AND c.port = de.port AND c.sni = de.sni
                            AND c.service = de.service
), d AS (
    SELECT campaign_id, target_id, service, sord,
           bool_and(good_host) AS good_host, bool_and(good_either) AS good_either
      FROM e GROUP BY campaign_id, target_id, service, sord
)
SELECT campaign_id, service AS scope, x.label, sord * 10 + x.o AS ord,
       count(*) FILTER (WHERE CASE x.o WHEN 0 THEN good_host ELSE good_either END)
           AS numerator,
       count(*) AS denominator
  FROM d CROSS JOIN (VALUES ('trusted, names the SRV target', 0),
                            ('trusted, names the SRV target or the domain', 1)) x (label, o)
 GROUP BY campaign_id, service, sord, x.label, x.o;

COMMENT ON VIEW client_trusted IS
    'Domains whose every probed endpoint of a mail client service completed '
    'TLS (implicit, or after STARTTLS/STLS) with a trusted certificate (the '
    'scan''s trust store, as port 25) naming the SRV target (RFC 9525), and '
    'the same when a certificate naming the domain itself also counts (RFC '
    '6186 §4, RFC 7817). Denominator: per service, domains with at least one '
    'probed endpoint of it (an SRV target with a contactable address).';
SELECT register(93, 'client_trusted', 'client', 'share',
    'Trusted, name-matching certificate, per service',
    'per service, domains with a probed endpoint of it');
