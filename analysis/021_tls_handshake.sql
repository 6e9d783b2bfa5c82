-- The TLS handshake after "220" to STARTTLS: success, or why it failed.
-- The cause is the kind of the recorded reason (tls_alert, eof, reset,
-- tls_protocol ...), without OpenSSL's free text, so that it groups; a
-- handshake cut by a timeout or the endpoint deadline has no TLS reason
-- and is labelled with the probe's outcome.
CREATE VIEW tls_handshake AS
SELECT campaign_id, 'endpoint'::text AS scope,
       CASE WHEN tls_version IS NOT NULL THEN 'ok'
            ELSE coalesce(nullif(split_part(tls_reason, ':', 1), ''), outcome) END AS label,
       0 AS ord, count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM endpoint
 WHERE starttls_code = 220
 GROUP BY campaign_id, 3;

COMMENT ON VIEW tls_handshake IS
    'TLS handshakes that completed (ok) or failed, by cause, as the lax '
    'client measures them (TLS 1.0-1.3, security level 0: ok includes '
    'legacy TLS 1.0/1.1 handshakes, see tls_below_1_2) (tls_alert: the '
    'server sent a fatal alert; eof: it closed; reset: RST; tls_protocol: a '
    'protocol error; else the probe outcome such as timeout or deadline). '
    'Denominator: endpoints that answered 220 to STARTTLS.';
SELECT register(21, 'tls_handshake', 'transport', 'distribution',
    'TLS handshake success and failure causes',
    'endpoints that answered 220 to STARTTLS');
