-- DANE-protected: a DANE-aware sender must use authenticated TLS for
-- every MX host, i.e. the MX RRset and each host's addresses are secure
-- and each host has a usable TLSA RRset. The host outcomes that imply all
-- of that are dane_ok, dane_no_match and dane_no_starttls (protected, but
-- the sender would then fail: the other figures show whether it
-- validates). dane_unusable_only is not protected (TLS mandatory, no
-- authentication; RFC 7672 §2.2).
CREATE VIEW dane_protected AS
WITH d AS (
    -- x.dane: the DANE outcomes of the domain's kept MX hosts that have
    -- one (b_domain_mx).
    SELECT x.campaign_id, x.target_id,
           x.dane <@ ARRAY['dane_ok', 'dane_no_match', 'dane_no_starttls'] AS protected,
           x.dane <@ ARRAY['dane_ok'] AS valid
      FROM b_domain_mx x
     WHERE x.mail_route AND x.dane IS NOT NULL
)
SELECT campaign_id, 'domain'::text AS scope, s.label, s.ord,
       s.n AS numerator, t.n AS denominator
  FROM (SELECT campaign_id, count(*) AS n,
               count(*) FILTER (WHERE protected) AS n_protected,
               count(*) FILTER (WHERE valid) AS n_valid
          FROM d GROUP BY campaign_id) t
  CROSS JOIN LATERAL (VALUES ('DANE-protected', 1, t.n_protected),
                             ('DANE-protected and valid', 2, t.n_valid)) AS s(label, ord, n);

COMMENT ON VIEW dane_protected IS
    'Domains whose MX RRset is secure and every kept MX host is secure with a '
    'usable TLSA RRset (host outcome dane_ok, dane_no_match or '
    'dane_no_starttls), and those whose every MX host also validates '
    '(dane_ok). Denominator: domains with an MX RRset or implicit MX and at '
    'least one kept MX host with a DANE outcome.';
SELECT register(51, 'dane_protected', 'dnssec_dane', 'share',
    'DANE-protected domains', 'domains with a kept MX host',
    p_headline => true);
