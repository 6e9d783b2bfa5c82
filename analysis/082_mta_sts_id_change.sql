-- MTA-STS policy changes between two campaigns (section 'change', see
-- 080_ladder_change.sql for campaign_id / compare_id). RFC 8461 §3.1:
-- the TXT record's id must change whenever the policy does, since a
-- sender refetches the policy only on a new id; so a policy whose text
-- changed under the same id is the change that matters most (senders
-- keep the cached one until its max_age runs out).
--
-- Units: domains scanned in both campaigns with a valid _mta-sts TXT
-- record in at least one. The policy is compared as fetched (the body's
-- bytes), and only when it was fetched in both campaigns: a fetch that
-- failed in one of them says nothing about whether the policy changed,
-- and a row of its own says so rather than counting it either way.

-- Per domain: before and after. For psql:
--   SELECT * FROM b_mta_sts_pair
--    WHERE campaign_id = 2 AND compare_id = 1 AND change <> 'unchanged';
CREATE VIEW b_mta_sts_pair AS
WITH s AS NOT MATERIALIZED (
    SELECT d.campaign_id, d.domain, m.txt, m.id, m.mode,
           CASE WHEN m.fetch_outcome = 'ok' THEN m.body END AS body
      FROM domain_dns d
      LEFT JOIN domain_mta_sts m USING (campaign_id, target_id)
)
SELECT a.campaign_id, b.campaign_id AS compare_id, a.domain,
       b.txt AS txt_before, a.txt AS txt_after,
       encode(b.id, 'escape') AS id_before, encode(a.id, 'escape') AS id_after,
       b.mode AS mode_before, a.mode AS mode_after,
       CASE WHEN b.txt IS DISTINCT FROM 'valid' THEN 'record appeared'
            WHEN a.txt IS DISTINCT FROM 'valid' THEN 'record went away'
            WHEN a.body IS NULL OR b.body IS NULL THEN
                CASE WHEN a.id IS DISTINCT FROM b.id
                     THEN 'id changed, policy not fetched in both'
                     ELSE 'id the same, policy not fetched in both' END
            WHEN a.id IS DISTINCT FROM b.id AND a.body <> b.body
                 THEN 'id and policy changed'
            WHEN a.id IS DISTINCT FROM b.id THEN 'id changed, policy the same'
            WHEN a.body <> b.body THEN 'policy changed, id the same'
            ELSE 'unchanged' END AS change
  FROM s a
  JOIN s b ON b.domain = a.domain
 WHERE a.txt = 'valid' OR b.txt = 'valid';

COMMENT ON VIEW b_mta_sts_pair IS
    'Per domain scanned in a campaign (campaign_id, after) and another '
    '(compare_id, before) with a valid MTA-STS TXT record in either: TXT '
    'state, id and mode before and after, and what changed.';

-- One grouped pass with a count per change (no CTE read twice), so that
-- a report's campaign_id and compare_id reach the tables underneath.
CREATE VIEW mta_sts_id_change AS
WITH t AS NOT MATERIALIZED (
    SELECT campaign_id, compare_id, count(*) AS n,
           count(*) FILTER (WHERE change = 'id and policy changed') AS n1,
           count(*) FILTER (WHERE change = 'id changed, policy the same') AS n2,
           count(*) FILTER (WHERE change = 'policy changed, id the same') AS n3,
           count(*) FILTER (WHERE change = 'id changed, policy not fetched in both') AS n4,
           count(*) FILTER (WHERE change = 'record appeared') AS n5,
           count(*) FILTER (WHERE change = 'record went away') AS n6,
           count(*) FILTER (WHERE change = 'unchanged') AS n7,
           count(*) FILTER (WHERE change = 'id the same, policy not fetched in both') AS n8
      FROM b_mta_sts_pair GROUP BY campaign_id, compare_id
)
-- Every row is listed, also with no domain, so the table reads the same
-- for every pair of campaigns.
SELECT t.campaign_id, t.compare_id, 'domain'::text AS scope, r.label, r.ord,
       r.n AS numerator, t.n AS denominator
  FROM t CROSS JOIN LATERAL (VALUES
      ('id and policy changed', 1, t.n1), ('id changed, policy the same', 2, t.n2),
      ('policy changed, id the same', 3, t.n3),
      ('id changed, policy not fetched in both', 4, t.n4),
      ('record appeared', 5, t.n5), ('record went away', 6, t.n6),
      ('unchanged', 7, t.n7),
      ('id the same, policy not fetched in both', 8, t.n8)) AS r(label, ord, n);

COMMENT ON VIEW mta_sts_id_change IS
    'MTA-STS record and policy changes since the compared campaign: id and '
    'policy changed; id changed, policy the same; policy changed, id the '
    'same (senders with the old policy cached will not refetch it, RFC 8461 '
    '§3.1); id changed or the same where the policy was not fetched in both '
    'campaigns; valid TXT record appeared or went away; unchanged. The policy '
    'is compared byte for byte as fetched. Rows partition the denominator. '
    'Denominator: domains scanned in both campaigns with a valid MTA-STS TXT '
    'record in either.';
SELECT register(82, 'mta_sts_id_change', 'change', 'distribution',
    'MTA-STS policy id and policy changes',
    'domains in both campaigns with a valid MTA-STS TXT record in either');
