-- Implicit TLS (RFC 8314: 465, 993, 995) against STARTTLS / STLS (587,
-- 143, 110): the share of probed endpoints that gave a TLS session, and
-- a trusted certificate naming the SRV target, by TLS mode. On STARTTLS
-- services, also the endpoints that offered STARTTLS/STLS and still gave
-- no TLS session (refused, handshake failed, reset): offered but broken.
-- Only the endpoints an SRV record names (not those only an MX host gives
-- with --client-ports mx: client_mx_ports, 098).
CREATE VIEW client_tls_mode AS
WITH c AS (
    SELECT campaign_id, tls_mode, outcome, trusted, name_matches_host,
           starttls_offered
      FROM client_endpoint e
     WHERE EXISTS (SELECT 1 FROM domain_client_endpoint de
                    WHERE de.campaign_id = e.campaign_id AND de.ip = e.ip
                      AND de.port = e.port AND de.sni = e.sni
                      AND de.service = e.service)
)
SELECT campaign_id,
       CASE WHEN x.o < 2 THEN tls_mode ELSE 'starttls_offered' END AS scope,
       x.label,
       CASE tls_mode WHEN 'implicit' THEN 0 ELSE 10 END + x.o AS ord,
       count(*) FILTER (WHERE CASE x.o
           WHEN 0 THEN outcome = 'tls_ok'
           WHEN 1 THEN outcome = 'tls_ok' AND coalesce(trusted, false)
                       AND coalesce(name_matches_host, false)
           ELSE starttls_offered AND outcome <> 'tls_ok' END) AS numerator,
       count(*) FILTER (WHERE x.o < 2 OR starttls_offered) AS denominator
  FROM c CROSS JOIN (VALUES ('TLS session', 0),
                            ('trusted, names the SRV target', 1),
                            ('STARTTLS offered, no TLS session', 2)) x (label, o)
 WHERE x.o < 2 OR tls_mode = 'starttls'
 GROUP BY campaign_id, tls_mode, x.label, x.o;

COMMENT ON VIEW client_tls_mode IS
    'Probed mail client endpoints by TLS mode (implicit: submissions, imaps, '
    'pop3s; starttls: submission, imap, pop3): those that completed a TLS '
    'handshake, those with a trusted certificate naming the SRV target; on '
    'STARTTLS services, of the endpoints that offered STARTTLS/STLS, those '
    'that still gave no TLS session (refused, handshake failed, reset, '
    'injection ended it: offered but broken). Denominator: distinct probed '
    'client endpoints of the mode (for the last row: those offering '
    'STARTTLS/STLS, scope starttls_offered).';
SELECT register(95, 'client_tls_mode', 'client', 'share',
    'Implicit TLS against STARTTLS on the client ports',
    'probed client endpoints of the TLS mode');
