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
CREATE VIEW analysis.cert_failure_cause AS
WITH c AS (
    SELECT campaign_id, ip, port, sni, unnest(verify_errors) AS cause
      FROM endpoint WHERE trusted IS NOT NULL
    UNION
    SELECT campaign_id, ip, port, sni, 'name_mismatch'
      FROM endpoint WHERE trusted IS NOT NULL AND NOT name_matches_mx
    UNION
    SELECT campaign_id, ip, port, sni, 'cn_only'
      FROM endpoint WHERE trusted IS NOT NULL AND cn_only
    UNION
    SELECT campaign_id, ip, port, sni, unnest(weak)
      FROM endpoint WHERE trusted IS NOT NULL
), u AS (
    SELECT DISTINCT campaign_id, target_id, host, ip, port, sni
      FROM analysis.b_use WHERE has_chain
), r AS (
    SELECT c.campaign_id, 'endpoint'::text AS scope, c.cause,
           count(*) AS n FROM c GROUP BY c.campaign_id, c.cause
    UNION ALL
    SELECT u.campaign_id, 'domain', c.cause, count(DISTINCT u.target_id)
      FROM u JOIN c USING (campaign_id, ip, port, sni)
     GROUP BY u.campaign_id, c.cause
    UNION ALL
    SELECT u.campaign_id, 'mx_host', c.cause, count(DISTINCT u.host)
      FROM u JOIN c USING (campaign_id, ip, port, sni)
     GROUP BY u.campaign_id, c.cause
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

COMMENT ON VIEW analysis.cert_failure_cause IS
    'Certificate failure causes, one row per cause: verify errors of the '
    'chain (expired, not_yet_valid, self_signed, self_signed_in_chain, '
    'unknown_issuer, bad_signature ...), name_mismatch, cn_only (no DNS '
    'SAN), and weak keys or signatures that a strict sender (security level '
    '2) refuses (rsa_lt_2048, sha1 ...). A unit counts under every '
    'cause it has (any endpoint of a domain or MX host), so rows do not add '
    'up. Denominator: domains / MX hosts / endpoints with at least one '
    'presented chain.';
SELECT analysis.register(31, 'cert_failure_cause', 'certificates', 'causes',
    'Certificate failure causes',
    'domains / MX hosts / endpoints that presented a chain');
