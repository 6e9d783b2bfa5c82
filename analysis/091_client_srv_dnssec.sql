-- DNSSEC status of the SRV RRsets that exist, per service: an SRV RRset
-- (offered or ".") whose answer validated. RFC 7673 §3 lets a client
-- use DANE on the SRV target only through a secure SRV RRset, so this is
-- the first condition of DANE on the client ports. A domain without an
-- SRV RRset for the service is not counted (its denial has a status too,
-- in client_srv.dnssec, but there is nothing to protect). Each service
-- has its own denominator, so the scope of a row is the service (the
-- units are domains).
CREATE VIEW client_srv_dnssec AS
WITH s AS (
    SELECT campaign_id, service, dnssec,
           array_position(ARRAY['submissions', 'submission', 'imaps', 'imap',
                                'pop3s', 'pop3'], service) AS sord
      FROM client_srv
     WHERE offered IS NOT NULL
), d AS (
    SELECT campaign_id, service, sord, count(*) AS n
      FROM s GROUP BY campaign_id, service, sord
)
SELECT d.campaign_id, d.service AS scope, 'secure'::text AS label, d.sord AS ord,
       (SELECT count(*) FROM s WHERE s.campaign_id = d.campaign_id
           AND s.service = d.service AND s.dnssec = 'secure') AS numerator,
       d.n AS denominator
  FROM d;

COMMENT ON VIEW client_srv_dnssec IS
    'Domains whose SRV RRset of a mail client service is DNSSEC-secure (the '
    'validating resolver set AD), per service: the first condition of DANE '
    'for the SRV target (RFC 7673 §3). Denominator: per service, domains '
    'with an SRV RRset for it (offered, or not offered with "."); unknown '
    'when the resolver does not validate. Scope: the service (units: domains).';
SELECT register(91, 'client_srv_dnssec', 'client', 'share',
    'SRV RRsets DNSSEC-secure, per service',
    'per service, domains with an SRV RRset for it');
INSERT INTO dnssec_dependent (name) VALUES ('client_srv_dnssec');
