-- "A strict sender would deliver": the chain is trusted (system store or
-- --ca-file, at the scan's time) at OpenSSL security level 2, Debian's
-- default (no RSA key under 2048 bits, no SHA-1/MD5 signature), and the
-- MX host name is among the leaf's DNS SANs (the CN is never used). The
-- chain is judged as presented in whatever handshake completed (also TLS
-- 1.0/1.1: sts_ready adds the version). Per domain and MX host over every
-- contactable endpoint, so an endpoint without STARTTLS or a handshake
-- counts against it; per endpoint over all probed endpoints. A second
-- row answers "would a lax sender accept it": the same with the chain
-- valid ignoring key and digest strength (security level 0).
CREATE VIEW cert_valid AS
WITH r AS (
    SELECT campaign_id, 'domain'::text AS scope, all_cert_valid AS ok,
           all_cert_valid_lax AS ok_lax
      FROM b_domain_use
    UNION ALL
    SELECT campaign_id, 'mx_host', all_cert_valid, all_cert_valid_lax
      FROM b_host_use
    UNION ALL
    SELECT campaign_id, 'endpoint', cert_valid, cert_valid_lax
      FROM b_endpoint
), c AS (
    -- One pass over r: read once, r is not materialised, so a filter on
    -- the scope (a rank bucket asks for the domain rows only) reaches
    -- its branches and the others are never computed.
    SELECT campaign_id, scope, count(*) AS n,
           count(*) FILTER (WHERE ok) AS n_ok,
           count(*) FILTER (WHERE ok_lax) AS n_ok_lax
      FROM r GROUP BY campaign_id, scope
)
SELECT c.campaign_id, c.scope, s.label, s.ord, s.n AS numerator,
       c.n AS denominator
  FROM c CROSS JOIN LATERAL (VALUES
      ('trusted and names the MX host'::text, 0, c.n_ok),
      ('valid ignoring key and digest strength, names the MX host (lax sender)',
       1, c.n_ok_lax)) AS s(label, ord, n);

COMMENT ON VIEW cert_valid IS
    'Domains (MX hosts) whose every contactable endpoint presents over '
    'STARTTLS a chain that a strict sender trusts (OpenSSL security level 2: '
    'no RSA key under 2048 bits, no SHA-1/MD5 signature) and whose leaf '
    'names the MX host in a DNS SAN (never the CN); endpoints that do. A '
    'second row counts the same for a lax sender (security level 0: the '
    'chain valid ignoring key and digest strength). '
    'Denominator: domains / MX hosts with at '
    'least one contactable endpoint; probed endpoints.';
SELECT register(30, 'cert_valid', 'certificates', 'share',
    'Every MX presents a trusted chain for its name',
    'domains / MX hosts with a contactable endpoint; probed endpoints',
    p_headline => true);
