-- STARTTLS offered (the EHLO answer lists STARTTLS). Per domain and per MX
-- host over all contactable endpoints: "every" needs every endpoint to
-- offer it, since a sender could be sent to any of them, so one that was
-- not reached counts against it. "none" means at least one endpoint
-- answered EHLO without STARTTLS and none offered it; "not reached" means
-- no endpoint got as far as an EHLO answer (silent, tarpit, banner
-- 4xx/5xx, garbage, closed, EHLO 4xx, not probed): nothing was learnt, so
-- it is not counted as "none". Per endpoint: offered, not offered (a 2xx
-- EHLO answer without STARTTLS, or EHLO refused with 5xx) or not reached
-- (starttls_offered is NULL). Not-reached units stay in the denominator.
CREATE VIEW starttls AS
WITH r AS (
    SELECT campaign_id, 'domain'::text AS scope,
           CASE WHEN all_starttls THEN 'every' WHEN any_starttls THEN 'some'
                WHEN any_starttls_seen THEN 'none'
                ELSE 'not reached' END AS label
      FROM b_domain_use
    UNION ALL
    SELECT campaign_id, 'mx_host',
           CASE WHEN all_starttls THEN 'every' WHEN any_starttls THEN 'some'
                WHEN any_starttls_seen THEN 'none'
                ELSE 'not reached' END
      FROM b_host_use
    UNION ALL
    SELECT campaign_id, 'endpoint',
           CASE WHEN starttls_offered THEN 'offered'
                WHEN NOT starttls_offered THEN 'not offered'
                ELSE 'not reached' END
      FROM endpoint
)
SELECT campaign_id, scope, label,
       array_position(ARRAY['every', 'some', 'none', 'offered', 'not offered',
                            'not reached'],
                      label) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id, scope) AS denominator
  FROM r GROUP BY campaign_id, scope, label;

COMMENT ON VIEW starttls IS
    'STARTTLS offered in the EHLO answer: domains and MX hosts where every, '
    'some or none of the contactable endpoints offer it, or where no endpoint '
    'got as far as an EHLO answer (not reached; for "every" an endpoint not '
    'reached counts as not offering); endpoints that offer it, do not, or '
    'were not reached (session over before an EHLO answer). '
    'Denominator: domains / MX hosts with at least one contactable endpoint; '
    'probed endpoints (not-reached ones included).';
SELECT register(20, 'starttls', 'transport', 'distribution',
    'STARTTLS offered', 'domains / MX hosts with a contactable endpoint; probed endpoints',
    p_headline => true);
