-- DNS errors of the MX question, by rcode, or by the query outcome when no
-- answer came (timeout, malformed ...). Only domains whose DNS stage ended
-- in dns_error count; a secure NXDOMAIN is an answer, not an error.
CREATE VIEW dns_error AS
WITH t AS (
    SELECT campaign_id, count(*) AS n FROM b_domain
     WHERE mx_outcome NOT IN ('blocklisted', 'not_recorded') GROUP BY campaign_id
)
SELECT b.campaign_id, 'domain'::text AS scope,
       coalesce(b.mx_rcode, b.mx_query_outcome, 'no answer') AS label, 0 AS ord,
       count(*) AS numerator, t.n AS denominator
  FROM b_domain b JOIN t USING (campaign_id)
 WHERE b.mx_outcome = 'dns_error'
 GROUP BY b.campaign_id, 3, t.n;

COMMENT ON VIEW dns_error IS
    'Domains whose MX lookup ended in a DNS error, by rcode (SERVFAIL, '
    'REFUSED ...) or, without an answer, by outcome (timeout ...). '
    'Denominator: scanned domains (not blocklisted, facts recorded).';
SELECT register(13, 'dns_error', 'funnel', 'share',
    'DNS errors of the MX lookup by rcode', 'scanned domains');
