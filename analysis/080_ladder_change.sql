-- Change between two campaigns:
-- domains that moved on the protection ladder. Like every figure of the
-- section 'change' this follows each domain from one campaign into
-- another, so the view is over ordered pairs of campaigns: campaign_id is
-- the campaign reported on ("now", after), compare_id the one it is
-- compared with ("before"), as in `report --campaign 2 --compare 1`.
-- Domains are matched by name (target ids are per campaign); a domain
-- that is a target of only one of the two is in domain_presence, not
-- here. A campaign paired with itself has every domain unchanged.

-- Per domain scanned in both campaigns: its rung before and after, and
-- the direction of a move (up = stronger protection now). For psql:
--   SELECT * FROM b_ladder_pair
--    WHERE campaign_id = 2 AND compare_id = 1 AND direction <> 'same';
-- The pair join reads the blocks' cache (000_scope.sql) itself when it is
-- filled, not the view b_ladder: the planner has no statistics
-- for the columns of a UNION ALL, so a join on domain of two such views
-- is estimated as if a domain had 200 distinct values (10^26 rows were
-- estimated at a million domains), where the cache tables' statistics
-- give about a row per domain. Unfilled: b_ladder's definition, as
-- before.
CREATE VIEW b_ladder_pair AS
WITH r(rung, ord) AS NOT MATERIALIZED (
    VALUES ('dane', 1), ('mta-sts-enforce', 2), ('mta-sts-testing', 3),
           ('opportunistic-trusted', 4), ('opportunistic-untrusted', 5),
           ('plaintext', 6), ('no-mail', 7)
), p AS NOT MATERIALIZED (
    SELECT a.campaign_id, b.campaign_id AS compare_id, a.domain,
           b.rung AS rung_before, a.rung AS rung_after
      FROM cache_b_ladder a
      JOIN cache_b_ladder b ON b.domain = a.domain
     WHERE (a.campaign_id = (SELECT scope_id(1))
            OR a.campaign_id = (SELECT scope_id(2)))
       AND (b.campaign_id = (SELECT scope_id(1))
            OR b.campaign_id = (SELECT scope_id(2)))
       AND a.cache_bound = (SELECT cache_bound())
       AND b.cache_bound = (SELECT cache_bound())
       AND a.cache_xid = (SELECT cache_xid())
       AND b.cache_xid = (SELECT cache_xid())
       AND (SELECT cache_filled('b_ladder'))
    UNION ALL
    SELECT a.campaign_id, b.campaign_id, a.domain, b.rung, a.rung
      FROM b_ladder_src a
      JOIN b_ladder_src b ON b.domain = a.domain
     WHERE NOT (SELECT cache_filled('b_ladder'))
)
SELECT p.campaign_id, p.compare_id, p.domain, p.rung_before, p.rung_after,
       rb.ord AS ord_before, ra.ord AS ord_after,
       CASE WHEN ra.ord < rb.ord THEN 'up'
            WHEN ra.ord > rb.ord THEN 'down' ELSE 'same' END AS direction
  FROM p
  JOIN r ra ON ra.rung = p.rung_after
  JOIN r rb ON rb.rung = p.rung_before;

COMMENT ON VIEW b_ladder_pair IS
    'Per domain scanned in a campaign (campaign_id, after) and another '
    '(compare_id, before): rung on the protection ladder before and after, '
    'and the direction (up = stronger protection now, down, same).';

-- How many domains moved, and which way. "Up" is towards dane, the
-- ladder's order (002_protection_ladder.sql); no-mail is its bottom, so
-- a domain that went away moved down.
CREATE VIEW ladder_change AS
WITH t AS NOT MATERIALIZED (
    SELECT campaign_id, compare_id, count(*) AS n,
           count(*) FILTER (WHERE direction <> 'same') AS changed,
           count(*) FILTER (WHERE direction = 'up') AS up,
           count(*) FILTER (WHERE direction = 'down') AS down
      FROM b_ladder_pair GROUP BY campaign_id, compare_id
)
SELECT t.campaign_id, t.compare_id, 'domain'::text AS scope, s.label, s.ord,
       s.n AS numerator, t.n AS denominator
  FROM t CROSS JOIN LATERAL (VALUES
      ('changed rung', 1, t.changed),
      ('moved up (stronger protection now)', 2, t.up),
      ('moved down (weaker protection now)', 3, t.down)) AS s(label, ord, n);

COMMENT ON VIEW ladder_change IS
    'Domains whose rung on the protection ladder differs from the one in '
    'the compared campaign; of those, moved up (stronger protection now) and '
    'moved down. Each row its own share. Denominator: domains scanned in '
    'both campaigns.';
SELECT register(80, 'ladder_change', 'change', 'share',
    'Domains that changed rung on the protection ladder',
    'domains scanned in both campaigns');
