-- MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) figures. They count domains
-- with a mail route (an MX RRset or implicit MX, as in the funnel): a
-- domain that receives no mail has nothing for either to protect, and
-- null MX, NXDOMAIN or a failed MX query leave it without one. The DANE
-- figures use the same population.
--
-- Building block: per domain with a mail route, the MTA-STS and TLS-RPT
-- facts and the "enforce would work" verdict (schema mta_sts_verdict).
-- The crawler looks the TXT records up for every scanned domain; a domain
-- without a row (the stage did not run) shows as 'not looked up'.
CREATE VIEW b_sts AS
SELECT b.campaign_id, b.target_id, b.domain,
       coalesce(s.txt, 'not looked up') AS txt, s.txt_error, s.id,
       s.fetch_outcome, s.policy, s.policy_error, s.mode, s.max_age, s.eol,
       coalesce(s.txt = 'valid', false) AS txt_valid,
       -- The policy is fetched only for a valid TXT record.
       coalesce(s.txt = 'valid' AND s.fetch_outcome = 'ok', false) AS fetched,
       coalesce(s.txt = 'valid' AND s.fetch_outcome = 'ok' AND s.policy = 'valid',
                false) AS policy_valid,
       v.enforce_would_work, coalesce(v.failures, '{}'::text[]) AS failures,
       coalesce(r.status, 'not looked up') AS tlsrpt, r.error AS tlsrpt_error,
       coalesce(r.rua_schemes, '{}'::text[]) AS rua_schemes
  FROM b_domain_dns b
  LEFT JOIN domain_mta_sts s USING (campaign_id, target_id)
  -- The verdict is NULL (no failures) unless the TXT record is valid: it
  -- is computed only for those domains (a few percent), one by one,
  -- rather than for every domain and then joined.
  LEFT JOIN LATERAL (
      SELECT v.enforce_would_work, v.failures FROM mta_sts_verdict v
       WHERE v.campaign_id = s.campaign_id AND v.target_id = s.target_id
         AND s.txt = 'valid'
      OFFSET 0) v ON true  -- (OFFSET 0: not flattened, so s.txt gates it)
  LEFT JOIN domain_tlsrpt r USING (campaign_id, target_id)
 WHERE b.mail_route;

COMMENT ON VIEW b_sts IS
    'Per domain with a mail route: MTA-STS TXT record, policy fetch, policy, '
    'enforce-would-work verdict and TLS-RPT record.';
SELECT cache_block('b_sts');

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
