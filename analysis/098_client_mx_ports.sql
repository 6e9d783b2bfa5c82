-- Mail client ports on the MX hosts (--client-ports mx, schema/033): per
-- service, the domains where the service's standard port was probed on
-- their MX hosts (units: domains with at least one contacted MX address),
-- split into the port closed everywhere (every connection refused: the
-- service is not there, the common case) and the port answering on some
-- MX address; and of the domains where it answers, those where every
-- answering endpoint gave TLS with a trusted certificate naming the MX
-- host, those where some gave no TLS session (STARTTLS missing or
-- refused, a failed handshake, ...), and those where TLS came with a
-- certificate a strict client rejects (untrusted, or not naming the MX
-- host). "Port closed" and "TLS broken" are apart: a refused connection
-- is never counted as a TLS failure. Empty without --client-ports mx.
CREATE VIEW client_mx_ports AS
WITH e AS (
    SELECT de.campaign_id, de.target_id, de.service,
           array_position(ARRAY['submissions', 'submission', 'imaps', 'imap',
                                'pop3s', 'pop3'], de.service) AS sord,
           c.outcome = 'connect_failed' AND c.conn = 'refused' AS closed,
           c.outcome <> 'connect_failed' AS answers,
           c.outcome = 'tls_ok' AS tls,
           c.outcome = 'tls_ok' AND coalesce(c.trusted, false)
               AND coalesce(c.name_matches_host, false) AS good
      FROM domain_client_mx_endpoint de
      JOIN client_endpoint c ON c.campaign_id = de.campaign_id AND c.ip = de.ip
                            AND c.port = de.port AND c.sni = de.sni
                            AND c.service = de.service
), d AS (
    SELECT campaign_id, target_id, service, sord,
           bool_and(closed) AS closed,
           bool_or(answers) AS answers,
           bool_and(good) FILTER (WHERE answers) AS good,
           bool_and(tls) FILTER (WHERE answers) AS tls
      FROM e GROUP BY campaign_id, target_id, service, sord
)
SELECT campaign_id,
       CASE WHEN x.o < 2 THEN service ELSE service || ' (answers)' END AS scope,
       x.label, sord * 10 + x.o AS ord,
       count(*) FILTER (WHERE CASE x.o
                                  WHEN 0 THEN closed
                                  WHEN 1 THEN answers
                                  WHEN 2 THEN answers AND good
                                  WHEN 3 THEN answers AND NOT tls
                                  ELSE answers AND tls AND NOT good END)
           AS numerator,
       count(*) FILTER (WHERE x.o < 2 OR answers) AS denominator
  FROM d CROSS JOIN (VALUES ('port closed (refused) on every MX address', 0),
                            ('port answers on an MX address', 1),
                            ('trusted, names the MX host', 2),
                            ('no TLS session', 3),
                            ('TLS, certificate rejected', 4)) x (label, o)
 GROUP BY campaign_id, service, sord, x.label, x.o
HAVING count(*) FILTER (WHERE x.o < 2 OR answers) > 0;

COMMENT ON VIEW client_mx_ports IS
    'With --client-ports mx: per mail client service, the domains whose MX '
    'hosts were probed on its standard port (465, 587, 993, 143, 995, 110), '
    'split into the port closed on every MX address (connect_failed, conn '
    'refused) and the port answering on some; of the latter (scope '
    '"<service> (answers)"), every answering endpoint with TLS and a trusted '
    'certificate naming the MX host, some without a TLS session, and some '
    'with TLS but an untrusted or wrongly named certificate.';
SELECT register(98, 'client_mx_ports', 'client', 'share',
    'Client ports on the MX hosts (--client-ports mx), per service',
    'per service, domains with a probed MX address; per "<service> (answers)", those where the port answers');
