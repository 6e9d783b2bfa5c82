-- The transition matrix of the protection ladder between two campaigns
-- (section 'change', see 080_ladder_change.sql for campaign_id /
-- compare_id and b_ladder_pair).
--
-- The transition matrix as rows "before → after", unchanged domains (the
-- diagonal) included, so that the rows partition the domains in both
-- campaigns and each rung's fate can be read off. Only pairs with a
-- domain are rows; ord keeps the ladder's order (before, then after).
CREATE VIEW ladder_transition AS
SELECT campaign_id, compare_id, 'domain'::text AS scope,
       rung_before || ' → ' || rung_after AS label,
       10 * ord_before + ord_after AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id, compare_id) AS denominator
  FROM b_ladder_pair
 GROUP BY campaign_id, compare_id, rung_before, rung_after, ord_before, ord_after;

COMMENT ON VIEW ladder_transition IS
    'Transition matrix of the protection ladder: domains by rung in the '
    'compared campaign (before) and in this one (after), as rows '
    '"before → after"; "X → X" rows are the unchanged domains. Rows '
    'partition the denominator. Denominator: domains scanned in both '
    'campaigns.';
SELECT register(81, 'ladder_transition', 'change', 'distribution',
    'Protection ladder: rung before → rung now',
    'domains scanned in both campaigns');
