-- How far domains get towards an MTA-STS policy a sender can apply, each
-- step a share of all domains with a mail route: a TXT record starting
-- with v=STSv1 (valid or not), a valid TXT record, the policy fetched
-- (HTTPS, WebPKI-valid, 200, text/plain, within limits), a valid policy,
-- a valid policy in mode enforce, and one whose enforcement would work.
-- The last is the mta-sts-enforce rung's condition, before DANE is
-- looked at (the ladder puts DANE first).
CREATE VIEW mta_sts_adoption AS
WITH t AS (
    SELECT campaign_id, count(*) AS n,
           count(*) FILTER (WHERE txt IN ('valid', 'invalid', 'multiple')) AS txt_any,
           count(*) FILTER (WHERE txt_valid) AS txt_valid,
           count(*) FILTER (WHERE fetched) AS fetched,
           count(*) FILTER (WHERE policy_valid) AS policy_valid,
           count(*) FILTER (WHERE policy_valid AND mode = 'enforce') AS enforce,
           count(*) FILTER (WHERE policy_valid AND mode = 'enforce'
                              AND enforce_would_work) AS enforce_works
      FROM b_sts GROUP BY campaign_id
)
SELECT t.campaign_id, 'domain'::text AS scope, s.label, s.ord,
       s.n AS numerator, t.n AS denominator
  FROM t CROSS JOIN LATERAL (VALUES
      ('TXT record (v=STSv1)', 1, t.txt_any),
      ('valid TXT record', 2, t.txt_valid),
      ('policy fetched', 3, t.fetched),
      ('valid policy', 4, t.policy_valid),
      ('valid policy in mode enforce', 5, t.enforce),
      ('mode enforce and enforce would work', 6, t.enforce_works)) AS s(label, ord, n);

COMMENT ON VIEW mta_sts_adoption IS
    'Domains with: a _mta-sts TXT record starting with v=STSv1 (valid, '
    'invalid or several); a valid TXT record; the policy fetched over HTTPS; '
    'a valid policy; a valid policy in mode enforce; a valid enforce policy '
    'whose enforcement would work for a strict sender (every MX host matches '
    'and presents over STARTTLS at TLS 1.2 or later a chain trusted at '
    'OpenSSL security level 2 naming it). Each row its own share. '
    'Denominator: domains with a mail route (MX RRset or implicit MX).';
SELECT register(61, 'mta_sts_adoption', 'mta_sts', 'share',
    'MTA-STS: record, policy, enforcement', 'domains with a mail route',
    p_headline => true);
