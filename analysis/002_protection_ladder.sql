-- The protection ladder (protection against an active attacker): per
-- domain, the strongest protection a sender that follows
-- the standards gets, as the first rung that holds, top down. The sender
-- modelled is the strict one (001_base.sql): TLS 1.2 or later, OpenSSL
-- security level 2, so a handshake that only works at TLS 1.0/1.1 does
-- not complete STARTTLS for it, and "trusted" is its chain verdict:
--
--   (none)                   a domain whose facts were not stored
--                            (mx_outcome not_recorded) has no rung: it
--                            is left out, not counted as no-mail
--   no-mail                  no contactable endpoint at all: NXDOMAIN, a
--                            DNS error, null MX, no MX host with an
--                            allowed address (checked first: nothing to
--                            protect)
--   dane                     every kept MX host validates under DANE
--                            (domain_mx.dane = 'dane_ok'; RFC 7672)
--   mta-sts-enforce          a valid MTA-STS policy in mode enforce, and
--                            enforce would work (mta_sts_verdict: every MX
--                            host matches a pattern and every contacted
--                            endpoint completes STARTTLS with a trusted
--                            chain naming the MX host)
--   mta-sts-testing          a valid MTA-STS policy in mode testing (valid
--                            TXT record, policy fetched and valid), whether
--                            or not it would work if enforced
--   plaintext                some contactable endpoint does not complete
--                            STARTTLS (no STARTTLS, refused, handshake
--                            failed, only TLS 1.0/1.1, unreachable, not
--                            probed)
--   opportunistic-trusted    every contactable endpoint completes STARTTLS
--                            with a trusted chain naming its MX host in a
--                            DNS SAN (CN-only does not count), but nothing
--                            tells a sender to require it
--   opportunistic-untrusted  every contactable endpoint completes STARTTLS,
--                            some chain is untrusted or does not name the
--                            MX host
--
-- This is the order of the testbed's truth (tests/testbed/build.py,
-- ladder()); two choices in it could be argued:
-- * mta-sts-testing ranks above plaintext and both opportunistic rungs
--   although a testing policy makes no sender refuse anything: it is the
--   domain's declared intent, and whether the endpoints would pass is in
--   mta_sts_policy_outcome. Equally an enforce policy that would not work
--   falls through to the rungs below (a sender enforcing it would fail to
--   deliver, which is no protection a report can count).
-- * Every contactable endpoint of every kept MX host is judged (b_use):
--   a sender may be sent to any of them. MX hosts beyond the cap of 16
--   are never contacted and not judged. An endpoint that was not probed
--   (scan --no-smtp) counts as not completing STARTTLS, so the ladder of
--   such a campaign says plaintext for every domain with mail.
--
-- Building block per domain (b_ladder) and the figure.
CREATE VIEW b_ladder AS
SELECT b.campaign_id, b.target_id, b.domain,
       CASE WHEN u.target_id IS NULL THEN 'no-mail'
            WHEN coalesce(x.all_dane_ok, false) THEN 'dane'
            WHEN coalesce(st.enforce_would_work, v.enforce_would_work, false)
                 AND s.mode = 'enforce' THEN 'mta-sts-enforce'
            WHEN s.txt = 'valid' AND s.fetch_outcome = 'ok' AND s.policy = 'valid'
                 AND s.mode = 'testing' THEN 'mta-sts-testing'
            WHEN NOT u.all_starttls_ok THEN 'plaintext'
            WHEN u.all_cert_valid THEN 'opportunistic-trusted'
            ELSE 'opportunistic-untrusted' END AS rung
  FROM b_domain_dns b
  LEFT JOIN b_domain_use u USING (campaign_id, target_id)
  -- Every kept MX host dane_ok (no kept host: none).
  LEFT JOIN b_domain_mx x USING (campaign_id, target_id)
  LEFT JOIN domain_mta_sts s USING (campaign_id, target_id)
  -- enforce_would_work is NULL unless the TXT record is valid. b_sts
  -- has it for the domains with a mail route; for the others (a null
  -- MX beside other MX records may still leave a contactable host) it
  -- is computed here, one by one, for the few with a valid TXT record.
  LEFT JOIN b_sts st USING (campaign_id, target_id)
  LEFT JOIN LATERAL (
      SELECT v.enforce_would_work FROM mta_sts_verdict v
       WHERE v.campaign_id = s.campaign_id AND v.target_id = s.target_id
         AND s.txt = 'valid' AND NOT b.mail_route
      OFFSET 0) v ON true   -- (OFFSET 0: not flattened, so s.txt gates it)
 WHERE b.mx_outcome <> 'not_recorded';

COMMENT ON VIEW b_ladder IS
    'Per scanned domain whose facts were stored (not not_recorded): its '
    'rung on the protection ladder (see protection_ladder).';
SELECT cache_block('b_ladder');

CREATE VIEW protection_ladder AS
WITH r(rung, ord) AS (
    VALUES ('dane', 1), ('mta-sts-enforce', 2), ('mta-sts-testing', 3),
           ('opportunistic-trusted', 4), ('opportunistic-untrusted', 5),
           ('plaintext', 6), ('no-mail', 7)
), c AS (
    SELECT campaign_id, rung, count(*) AS n
      FROM b_ladder GROUP BY campaign_id, rung
), t AS (
    SELECT campaign_id, sum(n) AS n FROM c GROUP BY campaign_id
)
-- Every rung is listed, also with no domain on it, so the table reads
-- the same for every campaign.
SELECT t.campaign_id, 'domain'::text AS scope, r.rung AS label, r.ord,
       coalesce(c.n, 0) AS numerator, t.n AS denominator
  FROM t CROSS JOIN r
  LEFT JOIN c ON c.campaign_id = t.campaign_id AND c.rung = r.rung;

COMMENT ON VIEW protection_ladder IS
    'Per domain, the strongest protection against an active attacker that a '
    'strict sender (TLS 1.2 or later, OpenSSL security level 2) gets, the '
    'first that holds of: no-mail (no '
    'contactable endpoint: NXDOMAIN, DNS error, null MX, no allowed address); '
    'dane (every kept MX host DANE-valid); mta-sts-enforce (valid enforce '
    'policy and enforce would work); mta-sts-testing (valid testing policy); '
    'plaintext (some contactable endpoint does not complete STARTTLS at TLS '
    '1.2 or later); opportunistic-trusted (every endpoint presents a chain '
    'trusted at security level 2 naming its MX host by DNS SAN); else '
    'opportunistic-untrusted. Rows partition '
    'the denominator. Denominator: scanned domains of the campaign whose '
    'facts were stored (mx_outcome not not_recorded).';
SELECT register(2, 'protection_ladder', 'ladder', 'distribution',
    'Protection ladder: strongest protection a sender gets',
    'scanned domains',
    p_headline => true);
