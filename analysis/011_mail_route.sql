-- How existing domains receive mail. "no mail host": an MX RRset or an
-- implicit MX, but no kept MX host has an address (none published: an MX
-- target that looks like an IP address usually resolves to none; or the
-- address lookup failed); hosts whose addresses are all
-- refused by the address policy still count as having one (they exist, we
-- only refuse to contact them). Null MX variants are kept apart because
-- null_mx_mixed and null_mx_invalid are misconfigurations, not a policy.
CREATE VIEW mail_route AS
WITH d AS (
    SELECT b.campaign_id, b.target_id,
           -- has_mail_host: some kept MX host's address_outcome is ok or
           -- refused_address (b_domain_mx; no row: no kept host).
           CASE WHEN b.mail_route AND NOT coalesce(x.has_mail_host, false)
                THEN 'no_mail_host'
                ELSE b.mx_outcome END AS label
      FROM b_domain_dns b
      LEFT JOIN b_domain_mx x USING (campaign_id, target_id)
     WHERE b.mx_outcome NOT IN ('no_domain', 'dns_error', 'blocklisted',
                                'not_recorded')
)
SELECT campaign_id, 'domain'::text AS scope, label,
       array_position(ARRAY['mx', 'implicit_mx', 'null_mx', 'null_mx_mixed',
                            'null_mx_invalid', 'no_mail_host'], label) AS ord,
       count(*) AS numerator,
       sum(count(*)) OVER (PARTITION BY campaign_id) AS denominator
  FROM d GROUP BY campaign_id, label;

COMMENT ON VIEW mail_route IS
    'Existing domains by mail route: mx (MX RRset with at least one host that '
    'has an address), implicit_mx (no MX, the domain has an address), null_mx '
    '(RFC 7505), null_mx_mixed (null MX beside other MX RRs), null_mx_invalid '
    '("N ." with N > 0), no_mail_host (MX or implicit MX, but no host has an '
    'address). Denominator: domains that exist (not NXDOMAIN, no DNS error, '
    'not blocklisted, facts recorded).';
SELECT register(11, 'mail_route', 'funnel', 'distribution',
    'Mail route of existing domains', 'domains that exist');
