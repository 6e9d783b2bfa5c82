-- Line endings of the fetched policies. RFC 8461 §3.2 says lines end in
-- CRLF; policies with LF only are common and accepted by lenient senders
-- (the crawler among them) but rejected by strict ones, so they are a
-- risk worth counting. Counted over every fetched policy, valid or not,
-- since the line ending does not depend on the rest being right.
CREATE VIEW mta_sts_line_endings AS
WITH d AS (
    SELECT campaign_id,
           CASE eol WHEN 'crlf' THEN 'CRLF'
                    WHEN 'lf' THEN 'LF only'
                    WHEN 'mixed' THEN 'mixed CRLF and LF'
                    WHEN 'none' THEN 'one line, no line end'
                    ELSE coalesce(eol, 'unknown') END AS label
      FROM b_sts WHERE fetched
), c AS (
    SELECT campaign_id, label, count(*) AS n FROM d GROUP BY campaign_id, label
), t AS (
    SELECT campaign_id, sum(n) AS n FROM c GROUP BY campaign_id
), o(labels) AS (
    VALUES (ARRAY['CRLF', 'LF only', 'mixed CRLF and LF', 'one line, no line end'])
)
SELECT t.campaign_id, 'domain'::text AS scope, l.label,
       coalesce(array_position(o.labels, l.label), 99) AS ord,
       coalesce(c.n, 0) AS numerator, t.n AS denominator
  FROM t CROSS JOIN o
  CROSS JOIN LATERAL (SELECT unnest(o.labels)
                      UNION SELECT c2.label FROM c c2
                             WHERE c2.campaign_id = t.campaign_id) AS l(label)
  LEFT JOIN c ON c.campaign_id = t.campaign_id AND c.label = l.label;

COMMENT ON VIEW mta_sts_line_endings IS
    'Line endings of the fetched MTA-STS policy: CRLF (RFC 8461), LF only, '
    'mixed, one line without a line end. Rows partition the denominator. '
    'Denominator: domains with a mail route whose policy was fetched (valid '
    'or not).';
SELECT register(69, 'mta_sts_line_endings', 'mta_sts', 'distribution',
    'MTA-STS policy line endings (LF-only policies)',
    'domains whose MTA-STS policy was fetched');
