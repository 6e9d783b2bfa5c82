-- STARTTLS offered (the EHLO answer lists STARTTLS). Per domain and per MX
-- host over all contactable endpoints: one that was not reached, greeted
-- with an error, or answered EHLO with 5xx did not offer STARTTLS to us,
-- and a sender could have been sent there too.
CREATE VIEW analysis.starttls AS
WITH r AS (
    SELECT campaign_id, 'domain'::text AS scope,
           CASE WHEN all_starttls THEN 'every' WHEN any_starttls THEN 'some'
                ELSE 'none' END AS label
      FROM analysis.b_domain_use
    UNION ALL
    SELECT campaign_id, 'mx_host',
           CASE WHEN all_starttls THEN 'every' WHEN any_starttls THEN 'some'
                ELSE 'none' END
      FROM analysis.b_host_use
    UNION ALL
    SELECT campaign_id, 'endpoint',
           CASE WHEN starttls_offered THEN 'offered' ELSE 'not offered' END
      FROM endpoint
)
SELECT campaign_id, scope, label,
       array_position(ARRAY['every', 'some', 'none', 'offered', 'not offered'],
                      label) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id, scope) AS denominator
  FROM r GROUP BY campaign_id, scope, label;

COMMENT ON VIEW analysis.starttls IS
    'STARTTLS offered in the EHLO answer: domains and MX hosts where every, '
    'some or none of the contactable endpoints offer it (an endpoint not '
    'reached counts as not offering); endpoints that offer it or not. '
    'Denominator: domains / MX hosts with at least one contactable endpoint; '
    'probed endpoints.';
SELECT analysis.register(20, 'starttls', 'transport', 'distribution',
    'STARTTLS offered', 'domains / MX hosts with a contactable endpoint; probed endpoints',
    p_headline => true);
