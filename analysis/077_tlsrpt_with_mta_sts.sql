-- TLS-RPT among MTA-STS domains. "MTA-STS domain" = a valid _mta-sts TXT
-- record: from there a sender applies MTA-STS and has something to
-- report, including a policy it could not fetch, so domains whose policy
-- is broken are counted too (that is when reports help most).
CREATE VIEW tlsrpt_with_mta_sts AS
WITH t AS (
    SELECT campaign_id, count(*) AS n,
           count(*) FILTER (WHERE tlsrpt IN ('valid', 'invalid', 'multiple')) AS any_,
           count(*) FILTER (WHERE tlsrpt = 'valid') AS valid
      FROM b_sts WHERE txt_valid GROUP BY campaign_id
)
SELECT t.campaign_id, 'domain'::text AS scope, s.label, s.ord,
       s.n AS numerator, t.n AS denominator
  FROM t CROSS JOIN LATERAL (VALUES
      ('TLS-RPT record (v=TLSRPTv1)', 1, t.any_),
      ('valid TLS-RPT record', 2, t.valid)) AS s(label, ord, n);

COMMENT ON VIEW tlsrpt_with_mta_sts IS
    'MTA-STS domains with a TLS-RPT record starting with v=TLSRPTv1 (valid, '
    'invalid or several), and with a valid one. Each row its own share. '
    'Denominator: domains with a mail route and a valid MTA-STS TXT record.';
SELECT register(77, 'tlsrpt_with_mta_sts', 'mta_sts', 'share',
    'TLS-RPT among MTA-STS domains', 'domains with a valid MTA-STS TXT record');
