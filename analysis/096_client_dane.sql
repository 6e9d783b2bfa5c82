-- DANE on SRV targets (RFC 7673): per SRV record with a host whose
-- endpoints were probed, the target's DANE outcome, as domain_mx.dane
-- for MX hosts. The rows partition the records.
CREATE VIEW client_dane AS
WITH t AS (
    SELECT campaign_id, dane FROM client_srv_target WHERE dane IS NOT NULL
), d AS (
    SELECT campaign_id, count(*) AS n FROM t GROUP BY campaign_id
)
SELECT t.campaign_id, 'srv_target'::text AS scope, t.dane AS label,
       array_position(ARRAY['dane_ok', 'dane_no_match', 'dane_tlsa_bogus',
                            'dane_no_starttls', 'dane_unusable_only',
                            'dane_none', 'dane_not_applicable'], t.dane) AS ord,
       count(*) AS numerator, d.n AS denominator
  FROM t JOIN d USING (campaign_id)
 GROUP BY t.campaign_id, t.dane, d.n;

COMMENT ON VIEW client_dane IS
    'SRV records of the mail client services by the DANE outcome of their '
    'target (RFC 7673: TLSA at _<port>._tcp.<target>, looked up only when the '
    'SRV RRset and the target''s addresses are DNSSEC-secure; PKIX-TA/PKIX-EE '
    'usable): dane_ok, dane_no_match, dane_tlsa_bogus, dane_no_starttls (no '
    'TLS session), dane_unusable_only, dane_none (secure, no TLSA), '
    'dane_not_applicable (no secure path). Denominator: SRV records with a '
    'host of domains scanned with the client probes on.';
SELECT register(96, 'client_dane', 'client', 'distribution',
    'DANE on SRV targets', 'SRV records with a host');
