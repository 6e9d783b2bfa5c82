-- What stops an MTA-STS sender, as the RFC 8460 §4.3 result type a
-- reporting sender would use (schema mta_sts_verdict): policy failures
-- (sts-policy-fetch-error, sts-webpki-invalid, sts-policy-invalid) and,
-- for a valid enforce or testing policy, per MX host: validation-failure
-- (the MX does not match the policy, a TLS failure, only TLS 1.0/1.1, or
-- no endpoint), starttls-not-supported, certificate-expired,
-- certificate-not-trusted (also a chain valid only ignoring key and digest
-- strength), certificate-host-mismatch (no DNS SAN names the MX host).
-- The sender modelled is the strict one (TLS 1.2 or later, security level
-- 2).
-- A domain counts under each type it has. The denominator is every domain
-- with a valid TXT record, since a sender that sees one applies MTA-STS
-- (and reports) from there; a valid policy in mode none has no failure.
CREATE VIEW mta_sts_failure AS
WITH d AS (
    SELECT campaign_id, failures FROM b_sts WHERE txt_valid
), t AS (
    SELECT campaign_id, count(*) AS n FROM d GROUP BY campaign_id
)
SELECT d.campaign_id, 'domain'::text AS scope, f.type AS label, 0 AS ord,
       count(*) AS numerator, max(t.n) AS denominator
  FROM d CROSS JOIN LATERAL (SELECT DISTINCT unnest(d.failures)) AS f(type)
  JOIN t USING (campaign_id)
 GROUP BY d.campaign_id, f.type;

COMMENT ON VIEW mta_sts_failure IS
    'Domains by the RFC 8460 result types a strict MTA-STS sender (TLS 1.2 '
    'or later, OpenSSL security level 2) would report: '
    'sts-policy-fetch-error, sts-webpki-invalid, sts-policy-invalid, '
    'validation-failure (MX not in the policy, TLS failure, TLS 1.0/1.1 '
    'only), '
    'starttls-not-supported, certificate-expired, certificate-not-trusted, '
    'certificate-host-mismatch. A domain counts under every type it has, so '
    'rows do not add up. Denominator: domains with a mail route and a valid '
    'MTA-STS TXT record.';
SELECT register(66, 'mta_sts_failure', 'mta_sts', 'causes',
    'MTA-STS failures by RFC 8460 result type',
    'domains with a valid MTA-STS TXT record');
