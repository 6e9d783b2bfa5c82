-- Funnel: how many targets get from the list to a mail server that greets
-- with 220. Every row is a share of all targets of the campaign.
-- "targets" are the names the import accepted: lines rejected at import
-- (invalid names, duplicates) are not stored, so the funnel starts there.
CREATE VIEW funnel AS
WITH t AS (
    SELECT campaign_id, count(*) AS n FROM campaign_target GROUP BY campaign_id
), d AS (
    SELECT b.campaign_id,
           count(*) AS scanned,
           count(*) FILTER (WHERE b.mx_outcome NOT IN
                            ('no_domain', 'dns_error', 'blocklisted',
                             'not_recorded')) AS exists_,
           count(*) FILTER (WHERE b.mx_outcome = 'not_recorded') AS not_recorded,
           count(*) FILTER (WHERE b.mail_route) AS mail_route,
           count(u.target_id) AS contactable,
           count(*) FILTER (WHERE u.any_reached) AS reached,
           count(*) FILTER (WHERE u.any_banner_220) AS banner_220
      FROM b_domain_dns b
      LEFT JOIN b_domain_use u USING (campaign_id, target_id)
     GROUP BY b.campaign_id
)
SELECT t.campaign_id, 'domain'::text AS scope, s.label, s.ord,
       s.n AS numerator, t.n AS denominator
  FROM t LEFT JOIN d USING (campaign_id)
  CROSS JOIN LATERAL (VALUES
      ('targets', 1, t.n),
      ('scanned', 2, coalesce(d.scanned, 0)),
      ('domain exists', 3, coalesce(d.exists_, 0)),
      ('has a mail route (MX or implicit MX)', 4, coalesce(d.mail_route, 0)),
      ('at least one contactable endpoint', 5, coalesce(d.contactable, 0)),
      ('reached over TCP', 6, coalesce(d.reached, 0)),
      ('banner 220', 7, coalesce(d.banner_220, 0)),
      -- Beside the stages: scanned, but the crawler could not store the
      -- domain's facts (domain_dns.not_recorded_cause says why), so it
      -- reaches none of the stages after "scanned".
      ('not recorded (crawler limit or out of memory)', 8,
       coalesce(d.not_recorded, 0))) AS s(label, ord, n);

COMMENT ON VIEW funnel IS
    'Targets that reach each stage: scanned; domain exists (not NXDOMAIN, '
    'not a DNS error, not blocklisted, facts recorded); has a mail route (MX '
    'RRset or implicit MX); at least one contactable endpoint (an allowed '
    'address of a kept MX host); at least one endpoint reached over TCP; at '
    'least one endpoint greeted with 220. Beside them: not recorded, domains '
    'scanned whose facts the crawler could not store (their rows over its '
    'limits, or out of memory; domain_dns.not_recorded_cause). Denominator: '
    'all targets of the campaign.';
SELECT register(10, 'funnel', 'funnel', 'share',
    'Funnel: targets to a 220 banner', 'targets of the campaign');
