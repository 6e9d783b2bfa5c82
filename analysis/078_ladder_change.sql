-- Change between two campaigns (METRICS.md "Concentration and change"):
-- domains that moved on the protection ladder, and MTA-STS policy id
-- changes. These are not figures: a figure counts units of one campaign,
-- and `report --compare` sets two campaigns' figures side by side, while
-- these follow each domain from one campaign into the other. They are
-- views over every ordered pair of campaigns that share the domain, for
-- psql:
--   SELECT * FROM analysis.ladder_transition
--    WHERE campaign_id = 2 AND compare_id = 1;
-- campaign_id is the campaign reported on ("after"), compare_id the one
-- it is compared with ("before"), as in `report --campaign 2 --compare 1`.
-- Domains are matched by name (target ids are per campaign); a domain in
-- only one of the two campaigns is in neither view.

-- Per domain whose rung differs: before, after, and whether the domain
-- moved up (stronger protection) or down the ladder.
CREATE VIEW analysis.ladder_change AS
WITH r(rung, ord) AS (
    VALUES ('dane', 1), ('mta-sts-enforce', 2), ('mta-sts-testing', 3),
           ('opportunistic-trusted', 4), ('opportunistic-untrusted', 5),
           ('plaintext', 6), ('no-mail', 7)
)
SELECT a.campaign_id, b.campaign_id AS compare_id, a.domain,
       b.rung AS rung_before, a.rung AS rung_after,
       CASE WHEN ra.ord < rb.ord THEN 'up' ELSE 'down' END AS direction
  FROM analysis.b_ladder a
  JOIN analysis.b_ladder b ON b.domain = a.domain AND b.campaign_id <> a.campaign_id
  JOIN r ra ON ra.rung = a.rung
  JOIN r rb ON rb.rung = b.rung
 WHERE a.rung <> b.rung;

COMMENT ON VIEW analysis.ladder_change IS
    'Domains whose rung on the protection ladder differs between a campaign '
    '(campaign_id, after) and another (compare_id, before), with the '
    'direction: up = stronger protection now.';

-- The transition matrix: domains in both campaigns by rung before and
-- after, the unchanged ones (the diagonal) included, so each row's
-- share of a rung's domains can be read off.
CREATE VIEW analysis.ladder_transition AS
SELECT a.campaign_id, b.campaign_id AS compare_id,
       b.rung AS rung_before, a.rung AS rung_after, count(*) AS domains
  FROM analysis.b_ladder a
  JOIN analysis.b_ladder b ON b.domain = a.domain AND b.campaign_id <> a.campaign_id
 GROUP BY a.campaign_id, b.campaign_id, b.rung, a.rung;

COMMENT ON VIEW analysis.ladder_transition IS
    'Domains scanned in both a campaign (campaign_id, after) and another '
    '(compare_id, before), by rung before and rung after (unchanged '
    'included).';

-- MTA-STS policy changes. RFC 8461 §3.1: the TXT id must change whenever
-- the policy does, since senders refetch only on a new id; so a policy
-- whose text changed under the same id is the change that matters most
-- (senders keep the cached one until max_age runs out). Rows: every
-- domain with a valid TXT record in either campaign whose id or fetched
-- policy differs, or whose record appeared or went away.
CREATE VIEW analysis.mta_sts_id_change AS
WITH s AS (
    SELECT d.campaign_id, d.domain, m.txt, m.id, m.mode,
           CASE WHEN m.fetch_outcome = 'ok' THEN m.body END AS body
      FROM domain_dns d
      JOIN domain_mta_sts m USING (campaign_id, target_id)
)
SELECT a.campaign_id, b.campaign_id AS compare_id, a.domain,
       b.txt AS txt_before, a.txt AS txt_after,
       encode(b.id, 'escape') AS id_before, encode(a.id, 'escape') AS id_after,
       b.mode AS mode_before, a.mode AS mode_after,
       CASE WHEN b.txt <> 'valid' THEN 'record appeared'
            WHEN a.txt <> 'valid' THEN 'record went away'
            WHEN a.id IS DISTINCT FROM b.id
                 AND a.body IS NOT DISTINCT FROM b.body THEN 'id changed, policy the same'
            WHEN a.id IS DISTINCT FROM b.id THEN 'id and policy changed'
            ELSE 'policy changed, id the same' END AS change
  FROM s a
  JOIN s b ON b.domain = a.domain AND b.campaign_id <> a.campaign_id
 WHERE (a.txt = 'valid' OR b.txt = 'valid')
   AND (a.txt IS DISTINCT FROM b.txt OR a.id IS DISTINCT FROM b.id
        OR a.body IS DISTINCT FROM b.body);

COMMENT ON VIEW analysis.mta_sts_id_change IS
    'Domains with a valid MTA-STS TXT record in a campaign (campaign_id, '
    'after) or another (compare_id, before) whose record appeared, went '
    'away, or whose id or fetched policy text differs; "policy changed, id '
    'the same" is a policy senders will not refetch (RFC 8461 §3.1).';
