-- DNSSEC status of the MX answer (secure: AD; insecure: no AD; bogus:
-- validation failed; indeterminate: no usable answer; unknown: the
-- resolver failed its canaries). An NXDOMAIN answer has a status too.
CREATE VIEW analysis.dnssec_mx AS
SELECT campaign_id, 'domain'::text AS scope, mx_dnssec AS label,
       coalesce(array_position(ARRAY['secure', 'insecure', 'bogus',
                                     'indeterminate', 'unknown'], mx_dnssec), 9) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM analysis.b_domain WHERE mx_dnssec IS NOT NULL
 GROUP BY campaign_id, mx_dnssec;

COMMENT ON VIEW analysis.dnssec_mx IS
    'Domains by DNSSEC status of the MX RRset answer: secure, insecure, '
    'bogus, indeterminate (unknown when the resolver does not validate). '
    'Denominator: domains whose MX question was asked.';
SELECT analysis.register(50, 'dnssec_mx', 'dnssec_dane', 'distribution',
    'DNSSEC status of the MX RRset', 'domains whose MX question was asked',
    p_headline => true);
