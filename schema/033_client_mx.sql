-- Mail client ports on the MX hosts: with `mxcrawl scan --client-ports
-- mx` (off by default), besides the SRV discovery of schema/028, the six
-- client services are probed on their standard ports (465 submissions,
-- 587 submission, 993 imaps, 143 imap, 995 pop3s, 110 pop3) at every
-- contactable address of every kept MX host (an implicit MX: the domain
-- itself; a null MX: none), through the address policy and blocklist of
-- port 25. SNI and reference identity: the MX host (and the domain, RFC
-- 6186 §4 / RFC 7817); DANE by RFC 7673 with TLSA at
-- _<port>._tcp.<mx host>, asked only when the MX RRset and the host's
-- address RRsets are secure.
--
-- The probes are client_endpoint rows (schema/029), keyed (ip, port, sni,
-- service) like those SRV records name: an MX host that an SRV record
-- also names, on the same port, is one endpoint probed once. What tells
-- an MX-found endpoint from an SRV-found one is which table names it:
-- domain_client_endpoint (SRV) or domain_client_mx_endpoint (below).
-- A closed port is the common case: outcome connect_failed with conn
-- refused.
--
-- Both tables are partitioned by campaign and registered like the others;
-- like every campaign-partitioned table (migration 025), no foreign keys.

CREATE TABLE IF NOT EXISTS client_mx (
    campaign_id       bigint  NOT NULL,
    target_id         bigint  NOT NULL,
    ordinal           integer NOT NULL,
    service           text    NOT NULL,
    host              text    NOT NULL,
    port              integer NOT NULL,
    address_outcome   text,
    tlsa_looked_up    boolean NOT NULL,
    tlsa_name         text,
    tlsa_dnssec       text,
    tlsa_records      text[]  NOT NULL,
    dane              text,
    dane_result_type  text,
    PRIMARY KEY (campaign_id, target_id, ordinal, service)
) PARTITION BY LIST (campaign_id);

CREATE TABLE IF NOT EXISTS domain_client_mx_endpoint (
    campaign_id          bigint  NOT NULL,
    target_id            bigint  NOT NULL,
    ordinal              integer NOT NULL,
    service              text    NOT NULL,
    ip                   inet    NOT NULL,
    port                 integer NOT NULL,
    sni                  text    NOT NULL,
    name_matches_domain  boolean,
    dane                 text    NOT NULL,
    dane_result_type     text,
    PRIMARY KEY (campaign_id, target_id, ordinal, service, ip)
) PARTITION BY LIST (campaign_id);

INSERT INTO campaign_partitioned
SELECT t FROM (VALUES ('client_mx'), ('domain_client_mx_endpoint')) v (t)
 WHERE NOT EXISTS (SELECT 1 FROM campaign_partitioned p WHERE p.table_name = v.t);
SELECT campaign_add_partitions(id) FROM campaign;

COMMENT ON TABLE client_mx IS
    'Per domain, kept MX host and mail client service, with --client-ports mx: '
    'the service''s standard port on the MX host, its TLSA (RFC 7673, at '
    '_<port>._tcp.<host>) and DANE outcome. Six rows per kept MX host (none '
    'for a null MX, a blocklisted or not_recorded domain, or without '
    '--client-ports mx); the host''s addresses are mx_address''s.';
COMMENT ON COLUMN client_mx.ordinal IS 'domain_mx.ordinal of the MX host.';
COMMENT ON COLUMN client_mx.service IS
    'submissions | submission | imaps | imap | pop3s | pop3 (as client_srv.service).';
COMMENT ON COLUMN client_mx.host IS 'The MX host (the domain itself for an implicit MX): SNI and reference identity.';
COMMENT ON COLUMN client_mx.port IS
    'The service''s standard port: 465, 587, 993, 143, 995, 110 (RFC 8314 §7.3, RFC 6186 §3).';
COMMENT ON COLUMN client_mx.address_outcome IS 'domain_mx.address_outcome of the host.';
COMMENT ON COLUMN client_mx.tlsa_looked_up IS
    'TLSA at _<port>._tcp.<host> was asked: only when the MX RRset and the host''s '
    'A and AAAA RRsets are secure (RFC 7673 §3 with the MX RRset in the SRV RRset''s place).';
COMMENT ON COLUMN client_mx.tlsa_records IS '"usage selector mtype hex" per TLSA record.';
COMMENT ON COLUMN client_mx.dane IS
    'The (host, port)''s DANE outcome over its contacted endpoints, RFC 7673 profile, '
    'as client_srv_target.dane; NULL without the SMTP stage.';
COMMENT ON COLUMN client_mx.dane_result_type IS 'The RFC 8460 result type of dane.';

COMMENT ON TABLE domain_client_mx_endpoint IS
    'Which client endpoints a domain''s MX hosts give with --client-ports mx (one '
    'row per kept MX host, service and contacted address), with what depends on the '
    'domain: its own name in the certificate and DANE. The probe is the '
    'client_endpoint row of (ip, port, sni, service).';
COMMENT ON COLUMN domain_client_mx_endpoint.ordinal IS 'domain_mx.ordinal of the MX host.';
COMMENT ON COLUMN domain_client_mx_endpoint.service IS 'The service probed (client_endpoint.service).';
COMMENT ON COLUMN domain_client_mx_endpoint.ip IS 'client_endpoint.ip: an address of the MX host port 25 would contact.';
COMMENT ON COLUMN domain_client_mx_endpoint.port IS 'client_endpoint.port: the service''s standard port.';
COMMENT ON COLUMN domain_client_mx_endpoint.sni IS 'client_endpoint.sni: the MX host.';
COMMENT ON COLUMN domain_client_mx_endpoint.name_matches_domain IS
    'The leaf names the domain itself (RFC 6186 §4 / RFC 7817); NULL: no certificate.';
COMMENT ON COLUMN domain_client_mx_endpoint.dane IS
    'As domain_client_endpoint.dane, with TLSA at _<port>._tcp.<mx host> and the MX '
    'host as the name DANE-TA and the PKIX usages check.';
COMMENT ON COLUMN domain_client_mx_endpoint.dane_result_type IS 'The RFC 8460 result type of dane.';

COMMENT ON COLUMN client_endpoint.sni IS
    'The SRV target, or with --client-ports mx the MX host (schema/033): sent as SNI and '
    'the reference identity of name_matches_host.';
COMMENT ON COLUMN client_endpoint.port IS
    'The port of the SRV record (any port: the service says what is spoken), or the '
    'service''s standard port on an MX host (schema/033).';
