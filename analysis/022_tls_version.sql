-- Negotiated TLS version per endpoint that completed a handshake. Rows in
-- version order, newest first (not by count: a reader looks for where
-- TLS 1.3 and the legacy versions are).
CREATE VIEW tls_version AS
SELECT campaign_id, 'endpoint'::text AS scope, coalesce(tls_version, 'none') AS label,
       coalesce(array_position(ARRAY['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1',
                                     'SSLv3'], tls_version), 6) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM endpoint
 WHERE tls_version IS NOT NULL
 GROUP BY campaign_id, 3, 4;

COMMENT ON VIEW tls_version IS
    'Endpoints by negotiated TLS version (the server''s best: the lax client '
    'offers TLS 1.0-1.3; TLSv1 and TLSv1.1 are legacy, a strict sender '
    'requiring TLS 1.2 fails there). Denominator: endpoints that completed '
    'a TLS handshake.';
SELECT register(22, 'tls_version', 'transport', 'distribution',
    'Negotiated TLS version', 'endpoints with a completed TLS handshake');
