-- TLSA parameters (usage selector matching-type), per distinct record of
-- a distinct MX host name, from the secure TLSA RRsets a DANE sender
-- would ask for (looked up only under a secure MX RRset and secure host
-- addresses, RFC 7672 §2.2.2; a bogus RRset's records are evidence of
-- nothing).
CREATE VIEW tlsa_parameters AS
WITH r AS (
    SELECT DISTINCT m.campaign_id, lower(m.host) AS host, rec
      FROM domain_mx m, unnest(m.tlsa_records) AS rec
     WHERE m.kept AND m.tlsa_looked_up AND m.tlsa_dnssec = 'secure'
)
SELECT campaign_id, 'mx_host'::text AS scope,
       split_part(rec, ' ', 1) || ' ' || split_part(rec, ' ', 2) || ' ' ||
       split_part(rec, ' ', 3) AS label, 0 AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM r GROUP BY campaign_id, 3;

COMMENT ON VIEW tlsa_parameters IS
    'TLSA records by usage, selector and matching type ("3 1 1" is DANE-EE, '
    'SPKI, SHA-256), each distinct record of each distinct MX host counted '
    'once. Denominator: TLSA records in secure RRsets looked up for kept MX '
    'hosts (MX RRset and host addresses secure).';
SELECT register(54, 'tlsa_parameters', 'dnssec_dane', 'distribution',
    'TLSA parameters (usage selector matching)', 'TLSA records of MX hosts');
