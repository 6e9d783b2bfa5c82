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
-- (a LATERAL per endpoint, not a UNION of four scans: the join below
-- then reads one set the planner can size, and hashes it).
WITH c AS (
    SELECT e.campaign_id, e.ip, e.port, e.sni, x.cause
      FROM endpoint e
      CROSS JOIN LATERAL (
          SELECT unnest(e.verify_errors)
          UNION SELECT 'name_mismatch' WHERE NOT e.name_matches_mx
          UNION SELECT 'cn_only' WHERE e.cn_only
          UNION SELECT unnest(e.weak)) AS x (cause)
     WHERE e.trusted IS NOT NULL
), u AS (
    SELECT DISTINCT campaign_id, target_id, host, ip, port, sni
      FROM b_use WHERE has_chain
), uc AS (
    -- Joined once, inside a CTE of its own: the outer campaign filter
    -- would otherwise be pushed into both CTE scans, whose row counts
    -- the planner then guesses at 0.5 %, and pick a nested loop of
    -- every use against every cause (quadratic in the campaign's size).
    SELECT u.campaign_id, u.target_id, u.host, c.cause
      FROM u JOIN c USING (campaign_id, ip, port, sni)
), r AS (
    SELECT c.campaign_id, 'endpoint'::text AS scope, c.cause,
           count(*) AS n FROM c GROUP BY c.campaign_id, c.cause
    UNION ALL
    SELECT campaign_id, 'domain', cause, count(DISTINCT target_id)
      FROM uc GROUP BY campaign_id, cause
    UNION ALL
    SELECT campaign_id, 'mx_host', cause, count(DISTINCT host)
      FROM uc GROUP BY campaign_id, cause
), t AS (
    SELECT campaign_id, 'endpoint'::text AS scope, count(*) AS n
      FROM endpoint WHERE trusted IS NOT NULL GROUP BY campaign_id
    UNION ALL
    SELECT campaign_id, 'domain', count(DISTINCT target_id) FROM u GROUP BY campaign_id
    UNION ALL
    SELECT campaign_id, 'mx_host', count(DISTINCT host) FROM u GROUP BY campaign_id
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
