-- The leaf names the recipient domain itself (of interest to the "verify
-- against the domain" debate). Judged over the endpoints of the domain
-- that presented a chain: "every" is what a sender verifying against the
-- domain would need, "any" shows how common the name is at all.
CREATE VIEW cert_name_matches_domain AS
WITH d AS (
    -- b_domain_use.chain_*: bool_and / bool_or over the domain's
    -- endpoints with has_chain (b_use).
    SELECT campaign_id, target_id, chain_all_name_domain AS every_,
           chain_any_name_domain AS any_
      FROM b_domain_use WHERE any_chain
)
SELECT campaign_id, 'domain'::text AS scope, s.label, s.ord,
       s.n AS numerator, t.n AS denominator
  FROM (SELECT campaign_id, count(*) AS n,
               count(*) FILTER (WHERE every_) AS n_every,
               count(*) FILTER (WHERE any_) AS n_any
          FROM d GROUP BY campaign_id) t
  CROSS JOIN LATERAL (VALUES ('every endpoint', 1, t.n_every),
                             ('any endpoint', 2, t.n_any)) AS s(label, ord, n);

COMMENT ON VIEW cert_name_matches_domain IS
    'Domains whose presented leaf certificates name the domain itself: on '
    'every endpoint that presented a chain, and on at least one. '
    'Denominator: domains with at least one endpoint that presented a chain.';
SELECT register(32, 'cert_name_matches_domain', 'certificates', 'share',
    'Certificate names the recipient domain',
    'domains with an endpoint that presented a chain');
