-- Mail client ports (issue M12): what domains advertise for mail clients
-- through the RFC 6186 / RFC 8314 SRV records, from schema/028. The
-- section comes after the port-25 sections; its figures count the domains
-- scanned with `--client-ports srv` (a domain has client_srv rows only
-- then).
INSERT INTO section (name, position, title, across)
VALUES ('client', 75, 'Mail client ports', false);

-- Per service, in the order submissions, submission, imaps, imap, pop3s, pop3: the domains whose SRV RRset
-- offers it (records naming a host), decidedly does not (a lone "."
-- record, RFC 2782 / RFC 6186 §3), has none (NXDOMAIN or NODATA:
-- nothing advertised), or got no usable answer. The four rows of a
-- service partition the domains asked about it; each row is shown as its
-- own share of that denominator.
CREATE VIEW client_srv_offered AS
WITH s AS (
    SELECT campaign_id, service,
           array_position(ARRAY['submissions', 'submission', 'imaps', 'imap',
                                'pop3s', 'pop3'], service) AS sord,
           CASE srv WHEN 'records' THEN 'offered'
                    WHEN 'not_offered' THEN 'not offered (".")'
                    WHEN 'none' THEN 'no SRV record'
                    ELSE 'DNS error' END AS what,
           CASE srv WHEN 'records' THEN 0 WHEN 'not_offered' THEN 1
                    WHEN 'none' THEN 2 ELSE 3 END AS word
      FROM client_srv
), d AS (
    SELECT campaign_id, service, count(*) AS n FROM s GROUP BY campaign_id, service
), k AS (
    SELECT DISTINCT s.campaign_id, s.service, s.sord, w.what, w.word
      FROM s CROSS JOIN (VALUES ('offered', 0), ('not offered (".")', 1),
                                ('no SRV record', 2), ('DNS error', 3)) w (what, word)
)
SELECT k.campaign_id, 'domain'::text AS scope,
       k.service || ': ' || k.what AS label, k.sord * 10 + k.word AS ord,
       (SELECT count(*) FROM s WHERE s.campaign_id = k.campaign_id
           AND s.service = k.service AND s.what = k.what) AS numerator,
       d.n AS denominator
  FROM k JOIN d USING (campaign_id, service);

COMMENT ON VIEW client_srv_offered IS
    'Domains by what their SRV RRset says of each mail client service '
    '(_submissions._tcp, _submission._tcp, _imaps._tcp, _imap._tcp, _pop3s._tcp, '
    '_pop3._tcp): offered (SRV records naming a host), not offered (a single '
    'record with target ".", RFC 2782 / RFC 6186 §3), no SRV record (NXDOMAIN '
    'or NODATA: nothing advertised), DNS error (no usable answer: timeout, '
    'SERVFAIL, bogus). Denominator: per service, the domains whose SRV '
    'question was asked (scanned with --client-ports srv).';
SELECT register(90, 'client_srv_offered', 'client', 'share',
    'Mail client services advertised via SRV',
    'per service, domains whose SRV question was asked');
