-- DANE failures by cause among MX hosts that publish TLSA (or whose TLSA
-- lookup was bogus): everything but dane_ok is a failure a DANE sender
-- meets, with the RFC 8460 result type a reporting sender would use.
CREATE VIEW dane_failure_cause AS
WITH h AS (
    SELECT m.campaign_id, m.dane, m.dane_result_type
      FROM domain_mx m JOIN domain_dns dd USING (campaign_id, target_id)
     WHERE m.kept AND dd.mx_outcome IN ('mx', 'implicit_mx')
       AND m.dane NOT IN ('dane_none', 'dane_not_applicable')
)
SELECT campaign_id, 'domain_mx'::text AS scope,
       dane || coalesce(' (' || dane_result_type || ')', '') AS label, 0 AS ord,
       count(*) AS numerator, max(t.n) AS denominator
  FROM h JOIN (SELECT campaign_id, count(*) AS n FROM h GROUP BY campaign_id) t
       USING (campaign_id)
 WHERE dane <> 'dane_ok'
 GROUP BY campaign_id, 3;

COMMENT ON VIEW dane_failure_cause IS
    'MX hosts of domains (pairs) whose DANE check failed, by outcome and RFC '
    '8460 result type: dane_no_match, dane_tlsa_bogus, dane_no_starttls, '
    'dane_unusable_only. Denominator: kept MX hosts with TLSA records or a '
    'bogus TLSA lookup (outcome other than dane_none and dane_not_applicable).';
SELECT register(53, 'dane_failure_cause', 'dnssec_dane', 'share',
    'DANE failures by cause', 'MX hosts with TLSA records');
