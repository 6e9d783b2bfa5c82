-- MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) figures. They count domains
-- with a mail route (an MX RRset or implicit MX, as in the funnel): a
-- domain that receives no mail has nothing for either to protect, and
-- null MX, NXDOMAIN or a failed MX query leave it without one. The DANE
-- figures use the same population.
--
-- Building block: b_sts (001_base.sql; the ladder reads it too).

-- The _mta-sts TXT record (RFC 8461 §3.1): exactly one record starting
-- with v=STSv1 and a valid id makes it valid; several such records are
-- 'multiple' (a sender must treat that as no policy); dns_error is a
-- lookup without a usable answer (SERVFAIL, bogus, timeout), which is not
-- the same as having no record.
CREATE VIEW mta_sts_record AS
WITH c AS (
    SELECT campaign_id, txt AS label, count(*) AS n
      FROM b_sts GROUP BY campaign_id, txt
), t AS (
    SELECT campaign_id, sum(n) AS n FROM c GROUP BY campaign_id
), o(labels) AS (
    VALUES (ARRAY['valid', 'invalid', 'multiple', 'none', 'dns_error'])
)
SELECT t.campaign_id, 'domain'::text AS scope, l.label,
       coalesce(array_position(o.labels, l.label), 99) AS ord,
       coalesce(c.n, 0) AS numerator, t.n AS denominator
  FROM t CROSS JOIN o
  CROSS JOIN LATERAL (SELECT unnest(o.labels)
                      UNION SELECT c2.label FROM c c2
                             WHERE c2.campaign_id = t.campaign_id) AS l(label)
  LEFT JOIN c ON c.campaign_id = t.campaign_id AND c.label = l.label;

COMMENT ON VIEW mta_sts_record IS
    'The _mta-sts TXT record per domain: valid (one v=STSv1 record with a '
    'valid id), invalid (one v=STSv1 record, malformed), multiple (several '
    'v=STSv1 records), none, dns_error (the lookup got no usable answer). '
    'Rows partition the denominator. Denominator: domains with a mail route '
    '(MX RRset or implicit MX).';
SELECT register(60, 'mta_sts_record', 'mta_sts', 'distribution',
    'MTA-STS TXT record', 'domains with a mail route');
