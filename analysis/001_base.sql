-- Building blocks shared by the figure views (not figures themselves).
--
-- "Contactable endpoint" (a use): an address with the policy verdict ok of
-- a kept MX host, for one domain. An MX target that looks like an IP
-- address is a name (RFC 5321 §5.1): its own addresses count, if any. Every figure
-- that judges a domain or an MX host "on every MX" looks at all of its
-- contactable endpoints: a sender may be sent to any of them, so one that
-- cannot be reached or does not do STARTTLS counts against the domain.
-- MX hosts with no contactable endpoint (no address, only refused
-- addresses) are not judged; a domain with none at all
-- leaves the denominators of the transport figures (the funnel counts it).
--
-- Two senders are modelled, and every figure's definition says which:
-- * the strict sender: a modern MTA with Debian's OpenSSL defaults (TLS
--   1.2 or later, security level 2: no RSA key under 2048 bits, no SHA-1
--   or MD5 signature). endpoint.trusted is its chain verdict; a handshake
--   that only works at TLS 1.0/1.1 (endpoint.tls_legacy) fails for it.
-- * the lax sender: any TLS version, security level 0, as the crawler's
--   own client (TLS 1.0-1.3): what is measured. Its chain verdict is
--   endpoint.valid_ignoring_strength.

-- Per scanned domain: the DNS stage's outcome.
CREATE VIEW b_domain_dns AS
SELECT d.campaign_id, d.target_id, d.domain, d.mx_outcome,
       d.mx_outcome IN ('mx', 'implicit_mx') AS mail_route
  FROM domain_dns d;

-- Not cached (000_scope.sql): it is one table's columns, which a copy
-- would not make cheaper to read.

-- The same with the MX question's answer. Figures that need no mx_*
-- column read b_domain_dns: PostgreSQL does not drop this LEFT JOIN
-- when its columns are unused (the scoped dns_rrset is a partitioned
-- table behind a view), and finding the MX rows among all of a
-- campaign's RRsets costs more than the rest of such a figure.
CREATE VIEW b_domain AS
SELECT d.campaign_id, d.target_id, d.domain, d.mx_outcome,
       d.mx_outcome IN ('mx', 'implicit_mx') AS mail_route,
       q.outcome AS mx_query_outcome, q.rcode AS mx_rcode,
       q.dnssec AS mx_dnssec, q.ede AS mx_ede
  FROM domain_dns d
  LEFT JOIN dns_rrset q
         ON q.campaign_id = d.campaign_id AND q.target_id = d.target_id
        AND q.qname = d.domain AND q.qtype = 'MX';

SELECT cache_block('b_domain');

-- Per contactable endpoint of a domain's MX host, with the probe's facts
-- (NULL columns when the endpoint was never probed, e.g. --no-smtp).
CREATE VIEW b_use AS
SELECT m.campaign_id, m.target_id, m.ordinal, lower(m.host) AS host,
       a.address AS ip, de.port, de.sni, de.name_matches_domain,
       e.outcome, e.end_state, e.stripping, e.tls_version, e.tls_cipher,
       e.tls_group, e.tls_reason, e.trusted, e.verify_errors,
       e.name_matches_mx, e.cn_only, e.weak, e.chain, e.probed_at,
       e.valid_ignoring_strength, e.tls_legacy,
       e.ip IS NOT NULL AS probed,
       coalesce(e.end_state <> 'connecting', false) AS reached,
       coalesce(e.banner_code = 220, false) AS banner_220,
       -- STARTTLS offered in an EHLO answer; NULL in the table when no
       -- EHLO answer showed it (not reached: silent, tarpit, banner
       -- 4xx/5xx, garbage, closed, or not probed), which counts as "not
       -- offered" here so that "every endpoint" stays strict, while
       -- starttls_seen tells the two apart.
       coalesce(e.starttls_offered, false) AS starttls_offered,
       e.starttls_offered IS NOT NULL AS starttls_seen,
       e.tls_version IS NOT NULL AS tls_ok,
       coalesce(e.tls_version IN ('TLSv1.2', 'TLSv1.3'), false) AS tls_ge_1_2,
       e.trusted IS NOT NULL AS has_chain,
       -- "Valid certificate" (strict sender's certificate checks): trusted
       -- at security level 2 and the MX host name is among the leaf's DNS
       -- SANs. A name found only in the CN does not count (RFC 9525 §6.3;
       -- name_matches_mx never reads the CN, cn_only flags such leaves).
       coalesce(e.trusted AND e.name_matches_mx AND NOT e.cn_only, false) AS cert_valid,
       -- The same for the lax sender: key and digest strength ignored.
       coalesce(e.valid_ignoring_strength AND e.name_matches_mx
                AND NOT e.cn_only, false) AS cert_valid_lax
  FROM domain_mx m
  JOIN mx_address a
    ON a.campaign_id = m.campaign_id AND a.target_id = m.target_id
   AND a.ordinal = m.ordinal AND a.verdict = 'ok'
  LEFT JOIN domain_endpoint de
         ON de.campaign_id = a.campaign_id AND de.target_id = a.target_id
        AND de.ordinal = a.ordinal AND de.ip = a.address
  LEFT JOIN endpoint e
         ON e.campaign_id = de.campaign_id AND e.ip = de.ip
        AND e.port = de.port AND e.sni = de.sni
 WHERE m.kept;

SELECT cache_block('b_use');

-- Per domain with at least one contactable endpoint: "every" and "any"
-- over all of them.
CREATE VIEW b_domain_use AS
SELECT campaign_id, target_id,
       bool_or(reached) AS any_reached,
       bool_or(banner_220) AS any_banner_220,
       bool_and(starttls_offered) AS all_starttls,
       bool_or(starttls_offered) AS any_starttls,
       bool_or(starttls_seen) AS any_starttls_seen,
       bool_and(reached AND starttls_offered AND tls_ok) AS all_tls,
       bool_and(tls_ok AND tls_ge_1_2) AS all_tls_ge_1_2,
       bool_and(cert_valid) AS all_cert_valid,
       bool_and(cert_valid_lax) AS all_cert_valid_lax,
       bool_or(has_chain) AS any_chain
  FROM b_use
 GROUP BY campaign_id, target_id;

SELECT cache_block('b_domain_use');

-- Per distinct MX host name with at least one contactable endpoint. Its
-- endpoints are probed with SNI = the host, so they are the same for every
-- domain that names the host.
CREATE VIEW b_host_use AS
SELECT campaign_id, host,
       bool_and(starttls_offered) AS all_starttls,
       bool_or(starttls_offered) AS any_starttls,
       bool_or(starttls_seen) AS any_starttls_seen,
       bool_and(cert_valid) AS all_cert_valid,
       bool_and(cert_valid_lax) AS all_cert_valid_lax,
       bool_or(has_chain) AS any_chain
  FROM b_use
 GROUP BY campaign_id, host;

SELECT cache_block('b_host_use', p_per_target => false);

-- Per probed endpoint (ip, port, SNI), with its leaf certificate.
CREATE VIEW b_endpoint AS
SELECT e.*, e.trusted IS NOT NULL AS has_chain,
       coalesce(e.trusted AND e.name_matches_mx AND NOT e.cn_only, false) AS cert_valid,
       coalesce(e.valid_ignoring_strength AND e.name_matches_mx
                AND NOT e.cn_only, false) AS cert_valid_lax,
       c.issuer AS leaf_issuer, c.not_before AS leaf_not_before,
       c.not_after AS leaf_not_after
  FROM endpoint e
  LEFT JOIN certificate c ON c.sha256 = e.chain[1];
SELECT cache_block('b_endpoint', p_per_target => false);
