-- TLSA records that stopped matching after a certificate renewal
-- (section 'change', see 080_ladder_change.sql for campaign_id /
-- compare_id). The classic DANE outage: the MX host's certificate is
-- renewed with a new key and the TLSA record published for the old one
-- is left as it was, so every DANE sender now refuses to deliver
-- (RFC 7671 §8.1 asks operators to publish the new key's record before
-- the switch).
--
-- Units: the MX hosts of a domain (scope domain_mx, matched by domain
-- and host name) that were dane_ok in the compared campaign, of domains
-- scanned in both. "Certificate changed" compares the set of leaf
-- certificates (SHA-256 of the DER) the host's contactable endpoints
-- presented; "TLSA records" the host's TLSA RRset as stored (order
-- ignored).

-- Per kept MX host of a domain: DANE outcome, TLSA records, leaves.
CREATE VIEW analysis.b_dane_host AS
WITH l AS (
    SELECT campaign_id, target_id, ordinal,
           array_agg(DISTINCT chain[1] ORDER BY chain[1])
               FILTER (WHERE chain[1] IS NOT NULL) AS leaves
      FROM analysis.b_use GROUP BY campaign_id, target_id, ordinal
)
SELECT m.campaign_id, d.domain, lower(m.host) AS host, m.dane,
       ARRAY(SELECT lower(x) FROM unnest(m.tlsa_records) x ORDER BY 1) AS tlsa,
       l.leaves
  FROM domain_mx m
  JOIN domain_dns d USING (campaign_id, target_id)
  LEFT JOIN l USING (campaign_id, target_id, ordinal)
 WHERE m.kept;

COMMENT ON VIEW analysis.b_dane_host IS
    'Per kept MX host of a domain: its DANE outcome, TLSA records (sorted) '
    'and the distinct leaf certificates (SHA-256) its endpoints presented.';

-- Per MX host of a domain that was dane_ok before: what it is now.
-- For psql:
--   SELECT * FROM analysis.b_dane_pair
--    WHERE campaign_id = 2 AND compare_id = 1 AND change <> 'still dane_ok';
CREATE VIEW analysis.b_dane_pair AS
SELECT dd.campaign_id, b.campaign_id AS compare_id, b.domain, b.host,
       b.dane AS dane_before, a.dane AS dane_after,
       a.leaves IS DISTINCT FROM b.leaves AS leaf_changed,
       a.tlsa IS DISTINCT FROM b.tlsa AS tlsa_changed,
       CASE WHEN a.host IS NULL THEN 'MX host no longer named (or not kept)'
            WHEN a.dane = 'dane_ok' THEN 'still dane_ok'
            WHEN a.dane = 'dane_no_match' AND a.tlsa = b.tlsa
                 AND a.leaves IS DISTINCT FROM b.leaves
                 THEN 'no match now: certificate changed, TLSA records kept'
            WHEN a.dane = 'dane_no_match' AND a.tlsa <> b.tlsa
                 THEN 'no match now: TLSA records changed'
            WHEN a.dane = 'dane_no_match'
                 THEN 'no match now: same certificate and TLSA records'
            ELSE 'another DANE outcome now' END AS change
  FROM analysis.b_dane_host b
  JOIN domain_dns dd ON dd.domain = b.domain
  LEFT JOIN analysis.b_dane_host a
         ON a.campaign_id = dd.campaign_id AND a.domain = b.domain
        AND a.host = b.host
 WHERE b.dane = 'dane_ok';

COMMENT ON VIEW analysis.b_dane_pair IS
    'Per MX host of a domain that was dane_ok in a campaign (compare_id, '
    'before) and whose domain was scanned in another (campaign_id, after): '
    'its DANE outcome after, whether its leaf certificates and TLSA records '
    'changed, and the change in words.';

CREATE VIEW analysis.tlsa_stale AS
WITH r(label, ord) AS (
    VALUES ('no match now: certificate changed, TLSA records kept', 1),
           ('no match now: TLSA records changed', 2),
           ('no match now: same certificate and TLSA records', 3),
           ('another DANE outcome now', 4),
           ('MX host no longer named (or not kept)', 5),
           ('still dane_ok', 6)
), c AS (
    SELECT campaign_id, compare_id, change, count(*) AS n
      FROM analysis.b_dane_pair GROUP BY campaign_id, compare_id, change
), t AS (
    SELECT campaign_id, compare_id, sum(n) AS n
      FROM c GROUP BY campaign_id, compare_id
)
SELECT t.campaign_id, t.compare_id, 'domain_mx'::text AS scope, r.label,
       r.ord, coalesce(c.n, 0) AS numerator, t.n AS denominator
  FROM t CROSS JOIN r
  LEFT JOIN c ON c.campaign_id = t.campaign_id AND c.compare_id = t.compare_id
             AND c.change = r.label;

COMMENT ON VIEW analysis.tlsa_stale IS
    'MX hosts of a domain that were DANE-valid (dane_ok) in the compared '
    'campaign, by what they are now: TLSA no longer matches because the '
    'certificate changed while the TLSA records stayed (a renewal without '
    'a TLSA update); no match because the TLSA records changed; no match '
    'with both the same; another DANE outcome; the host no longer an MX '
    'host of the domain; still dane_ok. Rows partition the denominator. '
    'Denominator: MX hosts (per domain) that were dane_ok before, of '
    'domains scanned in both campaigns.';
SELECT analysis.register(83, 'tlsa_stale', 'change', 'distribution',
    'TLSA records that stopped matching after a certificate renewal',
    'MX hosts of a domain that were dane_ok before, of domains in both campaigns');
