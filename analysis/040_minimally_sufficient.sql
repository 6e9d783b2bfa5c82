-- "Minimally sufficient SMTP TLS": every contactable endpoint of every MX
-- host is reached, offers STARTTLS and completes a handshake (TLS 1.0 or
-- later: the client offers 1.0-1.3). The sender modelled is the lax one
-- (any TLS version, security level 0): legacy TLS 1.0/1.1 handshakes
-- count here; sts_ready is the strict sender's figure. "At least one acceptable cipher" is
-- taken as "a cipher was negotiated": the client offers OpenSSL's default
-- list at security level 0, which has no NULL or export suites.
CREATE VIEW minimally_sufficient AS
SELECT campaign_id, 'domain'::text AS scope, 'minimally sufficient'::text AS label,
       0 AS ord, count(*) FILTER (WHERE all_tls) AS numerator, count(*) AS denominator
  FROM b_domain_use GROUP BY campaign_id;

COMMENT ON VIEW minimally_sufficient IS
    'Domains where every contactable endpoint is reached, offers STARTTLS and '
    'completes a TLS handshake (TLS 1.0 or later, any negotiated cipher): '
    'a lax sender (any TLS version, security level 0), legacy TLS 1.0/1.1 '
    'handshakes included. '
    'Denominator: domains with at least one contactable endpoint.';
SELECT register(40, 'minimally_sufficient', 'composite', 'share',
    'Minimally sufficient SMTP TLS', 'domains with a contactable endpoint',
    p_headline => true);
