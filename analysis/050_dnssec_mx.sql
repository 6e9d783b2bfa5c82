-- DNSSEC status of the MX answer (secure: AD; insecure: no AD; bogus:
-- validation failed, by an EDE 6-12 or a repeated SERVFAIL; indeterminate:
-- no usable answer, including a SERVFAIL without EDE whose CD query
-- answered but whose repeat did not; unknown: the resolver failed its
-- canaries). An NXDOMAIN answer has a status too. What each status rests
-- on is dns_rrset.dnssec_reason.
CREATE VIEW dnssec_mx AS
SELECT campaign_id, 'domain'::text AS scope, mx_dnssec AS label,
       coalesce(array_position(ARRAY['secure', 'insecure', 'bogus',
                                     'indeterminate', 'unknown'], mx_dnssec), 9) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM b_domain WHERE mx_dnssec IS NOT NULL
 GROUP BY campaign_id, mx_dnssec;

COMMENT ON VIEW dnssec_mx IS
    'Domains by DNSSEC status of the MX RRset answer: secure (AD), insecure '
    '(answer without AD), bogus (validation failed: SERVFAIL with an '
    'Extended DNS Error 6-12, or SERVFAIL, an answer with CD set and '
    'SERVFAIL again without), indeterminate (no usable answer: timeout, '
    'errors, or a SERVFAIL without such proof) (unknown when the resolver '
    'does not validate). '
    'Denominator: domains whose MX question was asked.';
SELECT register(50, 'dnssec_mx', 'dnssec_dane', 'distribution',
    'DNSSEC status of the MX RRset', 'domains whose MX question was asked',
    p_headline => true);
