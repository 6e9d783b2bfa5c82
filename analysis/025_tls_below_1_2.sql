-- TLS below 1.2 (RFC 8996 deprecates 1.0 and 1.1). Per domain: any of its
-- endpoints that completed a handshake negotiated below 1.2, because a
-- sender may be sent to that one.
CREATE VIEW tls_below_1_2 AS
WITH r AS (
    SELECT campaign_id, 'endpoint'::text AS scope, NOT tls_ge_1_2 AS below
      FROM (SELECT campaign_id,
                   tls_version IN ('TLSv1.2', 'TLSv1.3') AS tls_ge_1_2
              FROM endpoint WHERE tls_version IS NOT NULL) e
    UNION ALL
    -- b_domain_use.any_tls_below_1_2: bool_or(NOT tls_ge_1_2) over the
    -- domain's endpoints with tls_ok (b_use).
    SELECT campaign_id, 'domain', any_tls_below_1_2
      FROM b_domain_use WHERE any_tls
)
SELECT campaign_id, scope, 'below TLS 1.2'::text AS label, 0 AS ord,
       count(*) FILTER (WHERE below) AS numerator, count(*) AS denominator
  FROM r GROUP BY campaign_id, scope;

COMMENT ON VIEW tls_below_1_2 IS
    'Endpoints whose handshake negotiated a version below TLS 1.2 (legacy: '
    'the lax client succeeds, a strict sender requiring TLS 1.2 fails), and '
    'domains with at least one such endpoint. Denominator: endpoints with a '
    'completed handshake; domains with at least one.';
SELECT register(25, 'tls_below_1_2', 'transport', 'share',
    'TLS below 1.2', 'endpoints / domains with a completed TLS handshake',
    p_headline => true);
