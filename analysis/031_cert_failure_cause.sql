-- Why chains fail, one row per cause: every verify error recorded
-- (expired, not_yet_valid, self_signed, self_signed_in_chain,
-- unknown_issuer, bad_signature, ...), name_mismatch (the leaf does not
-- name the MX host in a DNS SAN), cn_only (no DNS SAN at all), and weak
-- (rsa_lt_2048, dsa_lt_2048, ec_lt_224, sha1, md5: why a chain a lax
-- sender accepts is not trusted by the strict sender of cert_valid). The
-- verify errors are the lax sender's (security level 0). A unit with
-- several causes
-- counts under each, so rows do not add up to the denominator. A domain
-- or MX host has a cause when any of its endpoints has it.
CREATE VIEW cert_failure_cause AS
-- The causes of each endpoint that presented a chain, from its own row
-- (a LATERAL per endpoint, not a UNION of four scans).
WITH c AS (
    SELECT e.campaign_id, x.cause
      FROM endpoint e
      CROSS JOIN LATERAL (
          SELECT unnest(e.verify_errors)
          UNION SELECT 'name_mismatch' WHERE NOT e.name_matches_mx
          UNION SELECT 'cn_only' WHERE e.cn_only
          UNION SELECT unnest(e.weak)) AS x (cause)
     WHERE e.trusted IS NOT NULL
), uc AS (
    -- The same causes of every use of such an endpoint by a domain's MX
    -- host: b_use carries the endpoint's columns. Only uses with some
    -- cause run the LATERAL (most chains have none).
    SELECT u.campaign_id, u.target_id, u.host, x.cause
      FROM b_use u
      CROSS JOIN LATERAL (
          SELECT unnest(u.verify_errors)
          UNION SELECT 'name_mismatch' WHERE NOT u.name_matches_mx
          UNION SELECT 'cn_only' WHERE u.cn_only
          UNION SELECT unnest(u.weak)) AS x (cause)
     WHERE u.has_chain
       AND (coalesce(cardinality(u.verify_errors), 0) > 0
            OR u.name_matches_mx IS FALSE OR u.cn_only IS TRUE
            OR coalesce(cardinality(u.weak), 0) > 0)
), r AS (
    SELECT c.campaign_id, 'endpoint'::text AS scope, c.cause,
           count(*) AS n FROM c GROUP BY c.campaign_id, c.cause
    UNION ALL
    -- Distinct units per cause: one row per unit and cause first (hashed),
    -- then counted.
    SELECT campaign_id, 'domain', cause, count(*)
      FROM (SELECT DISTINCT campaign_id, target_id, cause FROM uc) d
     GROUP BY campaign_id, cause
    UNION ALL
    SELECT campaign_id, 'mx_host', cause, count(*)
      FROM (SELECT DISTINCT campaign_id, host, cause FROM uc) h
     GROUP BY campaign_id, cause
), t AS (
    -- Units with at least one use that presented a chain: b_domain_use
    -- and b_host_use have any_chain over the same uses.
    SELECT campaign_id, 'endpoint'::text AS scope, count(*) AS n
      FROM endpoint WHERE trusted IS NOT NULL GROUP BY campaign_id
    UNION ALL
    SELECT campaign_id, 'domain', count(*) FROM b_domain_use
     WHERE any_chain GROUP BY campaign_id
    UNION ALL
    SELECT campaign_id, 'mx_host', count(*) FROM b_host_use
     WHERE any_chain GROUP BY campaign_id
)
SELECT r.campaign_id, r.scope, r.cause AS label, 0 AS ord,
       r.n AS numerator, t.n AS denominator
  FROM r JOIN t USING (campaign_id, scope);

COMMENT ON VIEW cert_failure_cause IS
    'Certificate failure causes, one row per cause: verify errors of the '
    'chain (expired, not_yet_valid, self_signed, self_signed_in_chain, '
    'unknown_issuer, bad_signature ...), name_mismatch, cn_only (no DNS '
    'SAN), and weak keys or signatures that a strict sender (security level '
    '2) refuses (rsa_lt_2048, sha1 ...). A unit counts under every '
    'cause it has (any endpoint of a domain or MX host), so rows do not add '
    'up. Denominator: domains / MX hosts / endpoints with at least one '
    'presented chain.';
SELECT register(31, 'cert_failure_cause', 'certificates', 'causes',
    'Certificate failure causes',
    'domains / MX hosts / endpoints that presented a chain');
