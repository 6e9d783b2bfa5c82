-- Domains that appeared or disappeared between two campaigns (section
-- 'change', see 080_ladder_change.sql for campaign_id / compare_id), in
-- two senses: the target lists differ (a domain scanned in only one of
-- the two), and a domain scanned in both whose name stopped or started
-- to exist (NXDOMAIN for the MX question in one campaign only). A DNS
-- error (SERVFAIL, timeout) says nothing about existence and counts
-- neither way.

-- Per ordered pair of campaigns, every domain scanned in either, with
-- its DNS outcome in each (NULL where it was not scanned).
CREATE VIEW b_domain_pair AS
WITH pair AS NOT MATERIALIZED (
    SELECT a.id AS campaign_id, b.id AS compare_id
      FROM campaign a CROSS JOIN campaign b
)
SELECT p.campaign_id, p.compare_id, x.domain,
       y.mx_outcome AS outcome_before, x.mx_outcome AS outcome_after,
       y.domain IS NOT NULL AS in_before, true AS in_after
  FROM pair p
  JOIN domain_dns x ON x.campaign_id = p.campaign_id
  LEFT JOIN domain_dns y ON y.campaign_id = p.compare_id AND y.domain = x.domain
UNION ALL
SELECT p.campaign_id, p.compare_id, y.domain, y.mx_outcome, NULL, true, false
  FROM pair p
  JOIN domain_dns y ON y.campaign_id = p.compare_id
  -- Not NOT EXISTS: the outer join lets the pair's campaign_id reach x.
  LEFT JOIN domain_dns x ON x.campaign_id = p.campaign_id AND x.domain = y.domain
 WHERE x.domain IS NULL;

COMMENT ON VIEW b_domain_pair IS
    'Per pair of campaigns (campaign_id after, compare_id before), every '
    'domain scanned in either, with its MX question''s outcome in each.';

CREATE VIEW domain_presence AS
WITH t AS NOT MATERIALIZED (
    SELECT campaign_id, compare_id, count(*) AS n,
           count(*) FILTER (WHERE in_before AND in_after) AS both_,
           count(*) FILTER (WHERE NOT in_after) AS dropped,
           count(*) FILTER (WHERE NOT in_before) AS added,
           count(*) FILTER (WHERE in_before AND in_after
                              AND outcome_before NOT IN ('no_domain', 'dns_error')
                              AND outcome_after = 'no_domain') AS gone,
           count(*) FILTER (WHERE in_before AND in_after
                              AND outcome_before = 'no_domain'
                              AND outcome_after NOT IN ('no_domain', 'dns_error'))
               AS appeared
      FROM b_domain_pair GROUP BY campaign_id, compare_id
)
SELECT t.campaign_id, t.compare_id, 'domain'::text AS scope, s.label, s.ord,
       s.n AS numerator, t.n AS denominator
  FROM t CROSS JOIN LATERAL (VALUES
      ('scanned in both campaigns', 1, t.both_),
      ('gone: NXDOMAIN now, existed before', 2, t.gone),
      ('appeared: exists now, NXDOMAIN before', 3, t.appeared),
      ('target only before (dropped from the targets)', 4, t.dropped),
      ('target only now (added to the targets)', 5, t.added))
      AS s(label, ord, n);

COMMENT ON VIEW domain_presence IS
    'Domains scanned in both campaigns; of those, gone (NXDOMAIN now, the '
    'name existed before) and appeared (exists now, NXDOMAIN before; a DNS '
    'error counts neither way); domains that were a target only in the '
    'compared campaign, and only in this one. Each row its own share. '
    'Denominator: domains scanned in either campaign.';
SELECT register(84, 'domain_presence', 'change', 'share',
    'Domains that appeared or disappeared',
    'domains scanned in either campaign');
