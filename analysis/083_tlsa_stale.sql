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

-- Per kept MX host of a domain: DANE outcome, TLSA records, leaves. The
-- leaves are looked up per host (by primary key, as b_use joins them)
-- rather than joined from an aggregate over every host, which the
-- planner may otherwise recompute for every row.
CREATE VIEW b_dane_host AS
SELECT m.campaign_id, d.domain, lower(m.host) AS host, m.dane,
       ARRAY(SELECT lower(x) FROM unnest(m.tlsa_records) x ORDER BY 1) AS tlsa,
       (SELECT array_agg(DISTINCT e.chain[1] ORDER BY e.chain[1])
          FROM mx_address a
          JOIN domain_endpoint de
            ON de.campaign_id = a.campaign_id AND de.target_id = a.target_id
           AND de.ordinal = a.ordinal AND de.ip = a.address
          JOIN endpoint e
            ON e.campaign_id = de.campaign_id AND e.ip = de.ip
           AND e.port = de.port AND e.sni = de.sni
         WHERE a.campaign_id = m.campaign_id AND a.target_id = m.target_id
           AND a.ordinal = m.ordinal AND a.verdict = 'ok'
           AND e.chain[1] IS NOT NULL) AS leaves
  FROM domain_mx m
  JOIN domain_dns d USING (campaign_id, target_id)
 WHERE m.kept;

COMMENT ON VIEW b_dane_host IS
    'Per kept MX host of a domain: its DANE outcome, TLSA records (sorted) '
    'and the distinct leaf certificates (SHA-256) its contactable endpoints '
    'presented (NULL: none).';

-- Per MX host of a domain that was dane_ok before: what it is now.
-- For psql:
--   SELECT * FROM b_dane_pair
--    WHERE campaign_id = 2 AND compare_id = 1 AND change <> 'still dane_ok';
CREATE VIEW b_dane_pair AS
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
  FROM b_dane_host b
  JOIN domain_dns dd ON dd.domain = b.domain
  LEFT JOIN b_dane_host a
         ON a.campaign_id = dd.campaign_id AND a.domain = b.domain
        AND a.host = b.host
 WHERE b.dane = 'dane_ok';

COMMENT ON VIEW b_dane_pair IS
    'Per MX host of a domain that was dane_ok in a campaign (compare_id, '
    'before) and whose domain was scanned in another (campaign_id, after): '
    'its DANE outcome after, whether its leaf certificates and TLSA records '
    'changed, and the change in words.';

-- One grouped pass with a count per change (no CTE read twice), so that
-- a report's campaign_id and compare_id reach the tables underneath.
CREATE VIEW tlsa_stale AS
WITH t AS NOT MATERIALIZED (
    SELECT campaign_id, compare_id, count(*) AS n,
           count(*) FILTER (WHERE change = 'no match now: certificate changed, TLSA records kept') AS n1,
           count(*) FILTER (WHERE change = 'no match now: TLSA records changed') AS n2,
           count(*) FILTER (WHERE change = 'no match now: same certificate and TLSA records') AS n3,
           count(*) FILTER (WHERE change = 'another DANE outcome now') AS n4,
           count(*) FILTER (WHERE change = 'MX host no longer named (or not kept)') AS n5,
           count(*) FILTER (WHERE change = 'still dane_ok') AS n6
      FROM b_dane_pair GROUP BY campaign_id, compare_id
)
SELECT t.campaign_id, t.compare_id, 'domain_mx'::text AS scope, r.label,
       r.ord, r.n AS numerator, t.n AS denominator
  FROM t CROSS JOIN LATERAL (VALUES
      ('no match now: certificate changed, TLSA records kept', 1, t.n1),
      ('no match now: TLSA records changed', 2, t.n2),
      ('no match now: same certificate and TLSA records', 3, t.n3),
      ('another DANE outcome now', 4, t.n4),
      ('MX host no longer named (or not kept)', 5, t.n5),
      ('still dane_ok', 6, t.n6)) AS r(label, ord, n);

COMMENT ON VIEW tlsa_stale IS
    'MX hosts of a domain that were DANE-valid (dane_ok) in the compared '
    'campaign, by what they are now: TLSA no longer matches because the '
    'certificate changed while the TLSA records stayed (a renewal without '
    'a TLSA update); no match because the TLSA records changed; no match '
    'with both the same; another DANE outcome; the host no longer an MX '
    'host of the domain; still dane_ok. Rows partition the denominator. '
    'Denominator: MX hosts (per domain) that were dane_ok before, of '
    'domains scanned in both campaigns.';
SELECT register(83, 'tlsa_stale', 'change', 'distribution',
    'TLSA records that stopped matching after a certificate renewal',
    'MX hosts of a domain that were dane_ok before, of domains in both campaigns');
