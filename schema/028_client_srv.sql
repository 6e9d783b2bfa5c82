-- Mail client ports, discovery (issue M12 item 1): the RFC 6186 / RFC 8314
-- SRV records of every domain, and what their targets resolve to.
--
-- With `mxcrawl scan --client-ports srv` (the default) the crawler asks,
-- besides MX, the six SRV owners of the M12 contract, in this order:
-- _submissions._tcp, _submission._tcp, _imaps._tcp, _imap._tcp,
-- _pop3s._tcp, _pop3._tcp. Each answer is also a dns_rrset row (qtype
-- SRV), like every other question. The targets' A/AAAA go through the
-- address policy of the MX hosts (refused addresses are recorded, never
-- contacted), and TLSA at _<port>._tcp.<target> is asked only when the SRV
-- RRset and the target's address RRsets are secure (RFC 7673 §3).
-- No client endpoint is contacted yet: probes are a later step, with a
-- table of their own keyed (campaign, ip, port, sni, service).
--
-- Both tables are partitioned by campaign and registered like the others;
-- like every campaign-partitioned table (migration 025), no foreign keys.

CREATE TABLE IF NOT EXISTS client_srv (
    campaign_id       bigint  NOT NULL,
    target_id         bigint  NOT NULL,
    service           text    NOT NULL,
    qname             text    NOT NULL,
    outcome           text    NOT NULL,
    rcode             text,
    dnssec            text    NOT NULL,
    dnssec_reason     text,
    ede               integer[] NOT NULL,
    srv               text    NOT NULL,
    offered           boolean,
    record_count      integer NOT NULL,
    records_truncated boolean NOT NULL,
    PRIMARY KEY (campaign_id, target_id, service)
) PARTITION BY LIST (campaign_id);

CREATE TABLE IF NOT EXISTS client_srv_target (
    campaign_id       bigint  NOT NULL,
    target_id         bigint  NOT NULL,
    service           text    NOT NULL,
    ordinal           integer NOT NULL,
    priority          integer NOT NULL,
    weight            integer NOT NULL,
    port              integer NOT NULL,
    target            text    NOT NULL,
    cname             text[]  NOT NULL,
    address_outcome   text,
    a_dnssec          text,
    aaaa_dnssec       text,
    addresses         inet[]  NOT NULL,
    verdicts          text[]  NOT NULL,
    addresses_partial boolean,
    tlsa_looked_up    boolean NOT NULL,
    tlsa_name         text,
    tlsa_dnssec       text,
    tlsa_records      text[]  NOT NULL,
    PRIMARY KEY (campaign_id, target_id, service, ordinal)
) PARTITION BY LIST (campaign_id);

INSERT INTO campaign_partitioned
SELECT t FROM (VALUES ('client_srv'), ('client_srv_target')) v (t)
 WHERE NOT EXISTS (SELECT 1 FROM campaign_partitioned p WHERE p.table_name = v.t);
SELECT campaign_add_partitions(id) FROM campaign;

COMMENT ON TABLE client_srv IS
    'Per domain and mail client service (M12): the SRV RRset at the '
    'service''s owner, asked with DO like every question. One row per '
    'service for every domain scanned with --client-ports srv (none for a '
    'blocklisted or not_recorded domain, or with --client-ports none).';
COMMENT ON COLUMN client_srv.service IS
    'submissions (_submissions._tcp, implicit TLS, RFC 8314) | submission '
    '(_submission._tcp, STARTTLS, RFC 6186) | imaps | imap | pop3s | pop3. '
    'The protocol and TLS mode come from the service, never from the port.';
COMMENT ON COLUMN client_srv.qname IS 'The SRV owner asked: _<service>._tcp.<domain>.';
COMMENT ON COLUMN client_srv.outcome IS
    'As dns_rrset.outcome: ok (an answer was parsed) | timeout | malformed | ...';
COMMENT ON COLUMN client_srv.rcode IS 'NOERROR, NXDOMAIN, SERVFAIL, ... (NULL: no answer).';
COMMENT ON COLUMN client_srv.dnssec IS
    'secure | insecure | bogus | indeterminate | unknown (non-validating resolver): '
    'the SRV RRset''s (or its denial''s) DNSSEC status, as dns_rrset.dnssec.';
COMMENT ON COLUMN client_srv.ede IS 'RFC 8914 info codes of the answer.';
COMMENT ON COLUMN client_srv.srv IS
    'records (SRV records naming at least one host, or several records) | '
    'not_offered (a single record whose target is "."; RFC 2782, RFC 6186 §3) | '
    'none (NXDOMAIN or NODATA: nothing advertised) | dns_error (no usable '
    'answer: timeout, SERVFAIL, bogus, indeterminate, other rcode).';
COMMENT ON COLUMN client_srv.offered IS
    'true: records; false: not_offered (service decidedly not offered); NULL: '
    'none or dns_error (nothing advertised, or unknown).';
COMMENT ON COLUMN client_srv.record_count IS
    'SRV records at the owner (at the end of its CNAME chain), "." included.';
COMMENT ON COLUMN client_srv.records_truncated IS
    'More than 16 records: only the first 16 in the sorted order are kept '
    '(client_srv_target), like MX hosts.';

COMMENT ON TABLE client_srv_target IS
    'Per kept SRV record of a domain''s service, sorted by priority, weight, '
    'target, port (ordinal from 0): the record and what its target resolves '
    'to. A "." target has a row with NULL address_outcome and nothing '
    'looked up. What a later probe needs: per (service, target, port) the '
    'addresses, their verdicts and the TLSA RRset.';
COMMENT ON COLUMN client_srv_target.target IS 'The SRV target host, "." for not offered.';
COMMENT ON COLUMN client_srv_target.cname IS 'CNAME chain of the target (RFC 2782 forbids one; recorded).';
COMMENT ON COLUMN client_srv_target.address_outcome IS
    'As domain_mx.address_outcome: ok | mx_no_address (no address) | '
    'refused_address (every address refused by the address policy) | '
    'dns_error (A/AAAA bogus, both unresolvable, or one unresolvable and the '
    'other without an address) | NULL (a "." target).';
COMMENT ON COLUMN client_srv_target.addresses IS
    'Every address of the target (A then AAAA, as answered, duplicates once).';
COMMENT ON COLUMN client_srv_target.verdicts IS
    'The address policy''s verdict per address, in the order of addresses: '
    'ok | reserved | blocklist (refused addresses are never contacted).';
COMMENT ON COLUMN client_srv_target.addresses_partial IS
    'One address lookup got no usable answer while the other gave addresses '
    '(as domain_mx.addresses_partial); NULL for a "." target.';
COMMENT ON COLUMN client_srv_target.tlsa_looked_up IS
    'TLSA at _<port>._tcp.<target> was asked: only when the SRV RRset and the '
    'target''s A and AAAA RRsets are secure (RFC 7673 §3).';
COMMENT ON COLUMN client_srv_target.tlsa_records IS '"usage selector mtype hex" per TLSA record.';

-- ---- Export -----------------------------------------------------------------
-- The contract's `client` facts a document has so far (M12): per service
-- its SRV RRset and, per record with a host, the target's addresses and
-- TLSA; no probe, no certificate yet. NULL for a domain without client
-- rows (scanned with --client-ports none, blocklisted, not recorded).
-- Used by export_document below and by `mxcrawl export`
-- (crawler/cli/cmd_export.c streams it as a column of the domain stream),
-- so that both give the same object; test_export holds them equal.
CREATE OR REPLACE FUNCTION export_client(p_campaign bigint, p_target bigint)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT jsonb_object_agg(s.service, jsonb_build_object(
    'srv', jsonb_build_object(
        'name', s.qname, 'outcome', s.outcome, 'rcode', s.rcode,
        'dnssec', s.dnssec, 'dnssec_reason', s.dnssec_reason,
        'ede', to_jsonb(s.ede), 'srv', s.srv, 'offered', s.offered,
        'record_count', s.record_count,
        'records_truncated', s.records_truncated,
        'records', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'priority', t.priority, 'weight', t.weight,
                       'port', t.port, 'target', t.target) ORDER BY t.ordinal)
              FROM client_srv_target t
             WHERE t.campaign_id = s.campaign_id AND t.target_id = s.target_id
               AND t.service = s.service), '[]'::jsonb)),
    'targets', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'host', t.target, 'port', t.port, 'cname', to_jsonb(t.cname),
                   'address_outcome', t.address_outcome,
                   'addresses_partial', t.addresses_partial,
                   'a', jsonb_build_object('dnssec', t.a_dnssec, 'addresses',
                       coalesce((SELECT jsonb_agg(host(x) ORDER BY x)
                                   FROM unnest(t.addresses) x
                                  WHERE family(x) = 4), '[]'::jsonb)),
                   'aaaa', jsonb_build_object('dnssec', t.aaaa_dnssec, 'addresses',
                       coalesce((SELECT jsonb_agg(host(x) ORDER BY x)
                                   FROM unnest(t.addresses) x
                                  WHERE family(x) = 6), '[]'::jsonb)),
                   'addresses', coalesce((
                       SELECT jsonb_agg(jsonb_build_object('ip', host(x.ip),
                                                           'verdict', x.verdict)
                                        ORDER BY x.ip)
                         FROM unnest(t.addresses, t.verdicts) x (ip, verdict)),
                       '[]'::jsonb),
                   'tlsa', jsonb_build_object(
                       'looked_up', t.tlsa_looked_up, 'name', t.tlsa_name,
                       'dnssec', t.tlsa_dnssec,
                       'records', to_jsonb(t.tlsa_records)))
                   ORDER BY t.ordinal)
          FROM client_srv_target t
         WHERE t.campaign_id = s.campaign_id AND t.target_id = s.target_id
           AND t.service = s.service AND t.target <> '.'), '[]'::jsonb)))
  FROM client_srv s
 WHERE s.campaign_id = p_campaign AND s.target_id = p_target
$$;

-- export_document, as 019 defined it, with `client` added (export_domain,
-- which several helpers redefine, is left as 027 made it).
CREATE OR REPLACE VIEW export_document AS
SELECT e.campaign_id, e.target_id,
       e.doc || jsonb_build_object(
           'scanned_at', iso_utc((e.doc ->> 'scanned_at')::timestamptz),
           'mta_sts', (e.doc -> 'mta_sts') || coalesce(s.mta_sts, '{}'::jsonb),
           'tlsrpt', (e.doc -> 'tlsrpt') || coalesce(s.tlsrpt, '{}'::jsonb),
           'client', export_client(e.campaign_id, e.target_id)) AS doc
  FROM export_domain e
  LEFT JOIN export_sts s USING (campaign_id, target_id);
