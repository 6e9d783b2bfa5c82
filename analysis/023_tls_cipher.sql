-- Negotiated TLS cipher per endpoint that completed a handshake.
CREATE VIEW tls_cipher AS
SELECT campaign_id, 'endpoint'::text AS scope, coalesce(tls_cipher, 'none') AS label,
       0 AS ord, count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM endpoint
 WHERE tls_version IS NOT NULL
 GROUP BY campaign_id, 3;

COMMENT ON VIEW tls_cipher IS
    'Endpoints by negotiated TLS cipher. Denominator: endpoints that completed '
    'a TLS handshake.';
SELECT register(23, 'tls_cipher', 'transport', 'distribution',
    'Negotiated TLS cipher', 'endpoints with a completed TLS handshake');
