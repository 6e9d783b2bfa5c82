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
SELECT cache_hash_joins('b_domain');

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

-- Not filled for a rank bucket (p_per_target false although it has rows
-- per domain): no headline figure reads it there (their domain rows come
-- from b_domain_use, b_ladder, ...), and a bucket's b_domain_use is the
-- campaign's rows of its targets (000_scope.sql). Read in a bucket, it
-- is computed from the bucket's facts.
SELECT cache_block('b_use', p_per_target => false);
SELECT cache_hash_joins('b_use');

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
       bool_or(has_chain) AS any_chain,
       -- Every endpoint completes STARTTLS for the strict sender (the
       -- ladder's plaintext rung): TLS 1.2 or later.
       bool_and(coalesce(outcome = 'starttls_ok', false) AND tls_ok
                AND tls_ge_1_2) AS all_starttls_ok,
       -- Over the endpoints that completed a handshake (tls_below_1_2):
       -- NULL when none did.
       bool_or(tls_ok) AS any_tls,
       bool_or(NOT tls_ge_1_2) FILTER (WHERE tls_ok) AS any_tls_below_1_2,
       -- Over the endpoints that presented a chain
       -- (cert_name_matches_domain): NULL when none did.
       bool_and(coalesce(name_matches_domain, false))
           FILTER (WHERE has_chain) AS chain_all_name_domain,
       bool_or(coalesce(name_matches_domain, false))
           FILTER (WHERE has_chain) AS chain_any_name_domain
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

-- Per scanned domain with at least one kept MX host: its kept MX hosts'
-- facts the DANE figures, the provider concentration, the mail route
-- and the ladder read, gathered once (a campaign's domain_mx is its
-- widest table after the RRsets, and each of those figures grouped it
-- by domain again).
CREATE VIEW b_domain_mx AS
SELECT m.campaign_id, m.target_id,
       d.mx_outcome IN ('mx', 'implicit_mx') AS mail_route,
       -- Some kept host has an address (refused ones count: mail_route).
       coalesce(bool_or(m.address_outcome IN ('ok', 'refused_address')),
                false) AS has_mail_host,
       -- Every kept host is dane_ok (the ladder's top rung).
       bool_and(coalesce(m.dane = 'dane_ok', false)) AS all_dane_ok,
       -- The DANE outcomes of the kept hosts that have one (in no
       -- order); NULL when none has.
       array_agg(m.dane) FILTER (WHERE m.dane IS NOT NULL) AS dane,
       -- The providers of the kept hosts that are not IP literals
       -- (mx_provider: the registrable domain, or the last two labels;
       -- in no order, a provider once per such host); NULL when every
       -- kept host is a literal. (No DISTINCT or ORDER BY: the
       -- aggregate can then be hashed.)
       array_agg(coalesce(m.registrable,
                          substring(lower(m.host) FROM '([^.]+\.[^.]+)$')))
           FILTER (WHERE NOT m.ip_literal) AS providers
  FROM domain_mx m
  JOIN domain_dns d USING (campaign_id, target_id)
 WHERE m.kept
 GROUP BY m.campaign_id, m.target_id, d.mx_outcome;

COMMENT ON VIEW b_domain_mx IS
    'Per scanned domain with a kept MX host: whether it has a mail route '
    'and a host with an address, every host dane_ok, the hosts'' DANE '
    'outcomes and their providers.';
SELECT cache_block('b_domain_mx');
SELECT cache_hash_joins('b_domain_mx');

-- MTA-STS and TLS-RPT (060-077; the ladder, 002, reads its verdict).
-- Building block: per domain with a mail route, the MTA-STS and TLS-RPT
-- facts and the "enforce would work" verdict (schema mta_sts_verdict).
-- The crawler looks the TXT records up for every scanned domain; a domain
-- without a row (the stage did not run) shows as 'not looked up'.
CREATE VIEW b_sts AS
SELECT b.campaign_id, b.target_id, b.domain,
       coalesce(s.txt, 'not looked up') AS txt, s.txt_error, s.id,
       s.fetch_outcome, s.policy, s.policy_error, s.mode, s.max_age, s.eol,
       coalesce(s.txt = 'valid', false) AS txt_valid,
       -- The policy is fetched only for a valid TXT record.
       coalesce(s.txt = 'valid' AND s.fetch_outcome = 'ok', false) AS fetched,
       coalesce(s.txt = 'valid' AND s.fetch_outcome = 'ok' AND s.policy = 'valid',
                false) AS policy_valid,
       v.enforce_would_work, coalesce(v.failures, '{}'::text[]) AS failures,
       coalesce(r.status, 'not looked up') AS tlsrpt, r.error AS tlsrpt_error,
       coalesce(r.rua_schemes, '{}'::text[]) AS rua_schemes
  FROM b_domain_dns b
  LEFT JOIN domain_mta_sts s USING (campaign_id, target_id)
  -- The verdict is NULL (no failures) unless the TXT record is valid: it
  -- is computed only for those domains (a few percent), one by one,
  -- rather than for every domain and then joined.
  LEFT JOIN LATERAL (
      SELECT v.enforce_would_work, v.failures FROM mta_sts_verdict v
       WHERE v.campaign_id = s.campaign_id AND v.target_id = s.target_id
         AND s.txt = 'valid'
      OFFSET 0) v ON true  -- (OFFSET 0: not flattened, so s.txt gates it)
  LEFT JOIN domain_tlsrpt r USING (campaign_id, target_id)
 WHERE b.mail_route;

COMMENT ON VIEW b_sts IS
    'Per domain with a mail route: MTA-STS TXT record, policy fetch, policy, '
    'enforce-would-work verdict and TLS-RPT record.';
SELECT cache_block('b_sts');
