-- The _smtp._tls TXT record (RFC 8460 §3): exactly one record starting
-- with v=TLSRPTv1 and a rua of mailto or HTTPS URIs is valid; several
-- are 'multiple' (invalid); dns_error is a lookup without a usable answer.
-- Numbered after the MTA-STS figures; the section puts it beside them.
CREATE VIEW tlsrpt_record AS
WITH c AS (
    SELECT campaign_id, tlsrpt AS label, count(*) AS n
      FROM b_sts GROUP BY campaign_id, tlsrpt
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

COMMENT ON VIEW tlsrpt_record IS
    'The TLS-RPT record (_smtp._tls TXT) per domain: valid (one v=TLSRPTv1 '
    'record whose rua lists only mailto and HTTPS URIs), invalid, multiple '
    '(several v=TLSRPTv1 records), none, dns_error. Rows partition the '
    'denominator. Denominator: domains with a mail route.';
SELECT register(75, 'tlsrpt_record', 'mta_sts', 'distribution',
    'TLS-RPT record', 'domains with a mail route');
