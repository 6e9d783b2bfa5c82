-- Negotiated TLS group per endpoint that completed a handshake.
CREATE VIEW tls_group AS
SELECT campaign_id, 'endpoint'::text AS scope, coalesce(tls_group, 'none (TLS 1.3 or no key exchange group)') AS label,
       0 AS ord, count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM endpoint
 WHERE tls_version IS NOT NULL
 GROUP BY campaign_id, 3;

COMMENT ON VIEW tls_group IS
    'Endpoints by negotiated TLS group. Denominator: endpoints that completed '
    'a TLS handshake.';
SELECT register(24, 'tls_group', 'transport', 'distribution',
    'Negotiated TLS group', 'endpoints with a completed TLS handshake');
