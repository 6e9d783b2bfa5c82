-- "STS-ready": minimally sufficient, and every contactable endpoint
-- negotiates TLS 1.2 or later and presents a trusted chain naming its MX
-- host in a DNS SAN (what an enforcing MTA-STS sender would require of
-- the certificate). The sender modelled is the strict one: TLS 1.2 or
-- later (legacy handshakes do not count) and a chain trusted at OpenSSL
-- security level 2.
CREATE VIEW sts_ready AS
SELECT campaign_id, 'domain'::text AS scope, 'STS-ready'::text AS label, 0 AS ord,
       count(*) FILTER (WHERE all_tls AND all_tls_ge_1_2 AND all_cert_valid) AS numerator,
       count(*) AS denominator
  FROM b_domain_use GROUP BY campaign_id;

COMMENT ON VIEW sts_ready IS
    'Domains where a strict sender (TLS 1.2 or later, OpenSSL security '
    'level 2) can use TLS: minimally sufficient, and every contactable '
    'endpoint negotiates TLS 1.2 or later and presents a chain trusted at '
    'security level 2 whose '
    'leaf names the MX host (DNS SAN). Denominator: domains with at least one '
    'contactable endpoint.';
SELECT register(41, 'sts_ready', 'composite', 'share',
    'STS-ready', 'domains with a contactable endpoint',
    p_headline => true);
