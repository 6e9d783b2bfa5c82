-- DANE outcome (RFC 7672) per domain's MX host (scope domain_mx: the
-- outcome depends on the domain, since DANE applies only under a secure
-- MX RRset) and per domain. A domain's outcome: its worst failure if any
-- host fails (dane_tlsa_bogus, then dane_no_match, then dane_no_starttls);
-- else dane_ok when every host is dane_ok; else dane_partial when some
-- host is dane_ok (a sender authenticates only some of its MX hosts); else
-- dane_unusable_only, dane_not_applicable, dane_none in that order.
CREATE VIEW dane_outcome AS
WITH x AS (
    -- The DANE outcomes of the domain's kept MX hosts that have one
    -- (b_domain_mx).
    SELECT campaign_id, target_id, dane FROM b_domain_mx
     WHERE mail_route AND dane IS NOT NULL
), d AS (
    SELECT campaign_id, target_id,
           CASE WHEN 'dane_tlsa_bogus' = ANY (dane) THEN 'dane_tlsa_bogus'
                WHEN 'dane_no_match' = ANY (dane) THEN 'dane_no_match'
                WHEN 'dane_no_starttls' = ANY (dane) THEN 'dane_no_starttls'
                WHEN dane <@ ARRAY['dane_ok'] THEN 'dane_ok'
                WHEN 'dane_ok' = ANY (dane) THEN 'dane_partial'
                WHEN 'dane_unusable_only' = ANY (dane) THEN 'dane_unusable_only'
                WHEN 'dane_not_applicable' = ANY (dane) THEN 'dane_not_applicable'
                ELSE 'dane_none' END AS label
      FROM x
), r AS (
    SELECT campaign_id, 'domain'::text AS scope, label FROM d
    UNION ALL
    SELECT x.campaign_id, 'domain_mx', h.dane FROM x, unnest(x.dane) AS h(dane)
)
SELECT campaign_id, scope, label,
       coalesce(array_position(ARRAY['dane_ok', 'dane_partial', 'dane_no_match',
                                     'dane_tlsa_bogus', 'dane_no_starttls',
                                     'dane_unusable_only', 'dane_not_applicable',
                                     'dane_none'], label), 99) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id, scope) AS denominator
  FROM r GROUP BY campaign_id, scope, label;

COMMENT ON VIEW dane_outcome IS
    'DANE outcome per MX host of a domain (dane_ok, dane_no_match, '
    'dane_tlsa_bogus, dane_no_starttls, dane_unusable_only, '
    'dane_not_applicable: MX RRset or host insecure, dane_none: no TLSA) and '
    'per domain (worst failure; dane_ok if every host is; dane_partial if '
    'only some are). Denominator: kept MX hosts of domains with an MX RRset '
    'or implicit MX; those domains.';
SELECT register(52, 'dane_outcome', 'dnssec_dane', 'distribution',
    'DANE outcome', 'domains with a kept MX host; their kept MX hosts',
    p_headline => true);
