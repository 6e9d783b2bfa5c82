-- Why a client endpoint gave no trusted, name-matching certificate: no
-- TLS session (the probe's outcome), or each certificate error, or the
-- name. Units: distinct probed client endpoints (ip, port, SNI, service)
-- per service; an endpoint counts under every cause it has. Only the
-- endpoints an SRV record names: those only an MX host gives
-- (--client-ports mx) are client_mx_ports' (098).
CREATE VIEW client_causes AS
WITH c AS (
    SELECT campaign_id, service, ip, port, sni, outcome, trusted,
           name_matches_host, verify_errors,
           array_position(ARRAY['submissions', 'submission', 'imaps', 'imap',
                                'pop3s', 'pop3'], service) AS sord
      FROM client_endpoint e
     WHERE EXISTS (SELECT 1 FROM domain_client_endpoint de
                    WHERE de.campaign_id = e.campaign_id AND de.ip = e.ip
                      AND de.port = e.port AND de.sni = e.sni
                      AND de.service = e.service)
), d AS (
    SELECT campaign_id, service, sord, count(*) AS n FROM c
     GROUP BY campaign_id, service, sord
), k AS (
    SELECT campaign_id, service, 'no TLS: ' || outcome AS label, 0 AS o
      FROM c WHERE outcome <> 'tls_ok'
    UNION ALL
    SELECT campaign_id, service, 'certificate: ' || err, 1
      FROM c, unnest(verify_errors) err
     WHERE outcome = 'tls_ok'
    UNION ALL
    SELECT campaign_id, service, 'certificate: not trusted (strength)', 2
      FROM c WHERE outcome = 'tls_ok' AND trusted = false
       AND cardinality(coalesce(verify_errors, '{}')) = 0
    UNION ALL
    SELECT campaign_id, service, 'name does not match the SRV target', 3
      FROM c WHERE outcome = 'tls_ok' AND name_matches_host = false
)
SELECT k.campaign_id, k.service AS scope, k.label,
       d.sord * 100 + min(k.o) AS ord, count(*) AS numerator,
       d.n AS denominator
  FROM k JOIN d USING (campaign_id, service)
 GROUP BY k.campaign_id, k.service, k.label, d.sord, d.n;

COMMENT ON VIEW client_causes IS
    'Causes of a probed mail client endpoint not giving a trusted, '
    'name-matching certificate, per service: no TLS session (the probe''s '
    'outcome: no_starttls, starttls_rejected, tls_failed, ...), each '
    'certificate verification error (expired, self_signed, unknown_issuer, '
    '...), not trusted for weak keys or digests only, the leaf not naming '
    'the SRV target. An endpoint counts under every cause it has. '
    'Denominator: per service, distinct probed client endpoints (address, '
    'port, SRV target, service).';
SELECT register(94, 'client_causes', 'client', 'causes',
    'Why client endpoints fail, per service',
    'per service, distinct probed client endpoints');
