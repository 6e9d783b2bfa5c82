-- max_age of the valid policies (RFC 8461 §3.2: seconds, at most
-- 31557600; "expected ... in the range of weeks or greater" so that a
-- cached policy outlives an attacker's window). Buckets are half-open,
-- [lower, upper), at one day, one week, four weeks and the maximum
-- (31557600 s, a year of 365.25 days), which has its own row; a larger
-- value makes the policy invalid, so it is not counted here.
CREATE VIEW mta_sts_max_age AS
WITH b(label, ord, lo, hi) AS (
    VALUES ('< 1 day', 1, 0::bigint, 86400::bigint),
           ('1 day to < 1 week', 2, 86400, 604800),
           ('1 week to < 4 weeks', 3, 604800, 2419200),
           ('4 weeks to < 1 year', 4, 2419200, 31557600),
           ('1 year (the maximum, 31557600 s)', 5, 31557600, 31557601)
), p AS (
    SELECT campaign_id, max_age FROM b_sts WHERE policy_valid
), t AS (
    SELECT campaign_id, count(*) AS n FROM p GROUP BY campaign_id
)
SELECT t.campaign_id, 'domain'::text AS scope, b.label, b.ord,
       (SELECT count(*) FROM p
         WHERE p.campaign_id = t.campaign_id
           AND p.max_age >= b.lo AND p.max_age < b.hi) AS numerator,
       t.n AS denominator
  FROM t CROSS JOIN b;

COMMENT ON VIEW mta_sts_max_age IS
    'max_age of the MTA-STS policy in buckets: < 1 day, 1 day to < 1 week, '
    '1 week to < 4 weeks, 4 weeks to < 1 year, exactly the maximum of '
    '31557600 s. Rows partition the denominator. Denominator: domains with '
    'a mail route and a fetched, valid policy (any mode).';
SELECT register(63, 'mta_sts_max_age', 'mta_sts', 'distribution',
    'MTA-STS policy max_age', 'domains with a valid MTA-STS policy');
