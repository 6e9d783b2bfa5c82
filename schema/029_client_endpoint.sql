-- Mail client ports, probes (issue M12 items 2-3): what every client
-- endpoint found by SRV (schema/028) answered, and how each domain judges
-- it.
--
-- A client endpoint is (address, port, SNI, service): the SNI is the SRV
-- target, and the service is part of the key because two services may
-- name the same address and port (an SRV record may give any port) and
-- speak different protocols there. Each is probed once per campaign by a
-- crawler process, whatever number of domains name it; two crawler
-- processes of one campaign may both probe one (client endpoints are not
-- claimed across processes yet), and the first row stored wins (rows go
-- through a staging table with ON CONFLICT DO NOTHING).
--
-- Both tables are partitioned by campaign and registered like the others;
-- like every campaign-partitioned table (migration 025), no foreign keys.

CREATE TABLE IF NOT EXISTS client_endpoint (
    campaign_id          bigint  NOT NULL,
    ip                   inet    NOT NULL,
    port                 integer NOT NULL,
    sni                  text    NOT NULL,
    service              text    NOT NULL,
    worker               text    NOT NULL,
    probed_at            timestamptz NOT NULL,
    protocol             text    NOT NULL,
    tls_mode             text    NOT NULL,
    outcome              text    NOT NULL,
    end_state            text    NOT NULL,
    conn                 text    NOT NULL,
    greeting             text,
    greeting_code        text,
    greeting_line        bytea,
    starttls_offered     boolean,
    starttls_code        text,
    stripping            text,
    injection            boolean,
    tls_version          text,
    tls_cipher           text,
    tls_group            text,
    handshake_ms         integer,
    tls_reason           text,
    chain                bytea[] NOT NULL,
    chain_len            integer NOT NULL,
    trusted              boolean,
    verify_errors        text[],
    missing_intermediate boolean,
    name_matches_host    boolean,
    cn_only              boolean,
    weak                 text[],
    valid_ignoring_strength boolean,
    transcript           bytea   NOT NULL,
    elapsed_ms           integer NOT NULL,
    PRIMARY KEY (campaign_id, ip, port, sni, service)
) PARTITION BY LIST (campaign_id);

CREATE TABLE IF NOT EXISTS domain_client_endpoint (
    campaign_id          bigint  NOT NULL,
    target_id            bigint  NOT NULL,
    service              text    NOT NULL,
    ordinal              integer NOT NULL,
    ip                   inet    NOT NULL,
    port                 integer NOT NULL,
    sni                  text    NOT NULL,
    name_matches_domain  boolean,
    dane                 text    NOT NULL,
    dane_result_type     text,
    PRIMARY KEY (campaign_id, target_id, service, ordinal, ip)
) PARTITION BY LIST (campaign_id);

-- The SRV target's DANE outcome (RFC 7673), beside its TLSA answer, as
-- domain_mx.dane is beside the MX host's.
ALTER TABLE client_srv_target ADD COLUMN IF NOT EXISTS dane text;
ALTER TABLE client_srv_target ADD COLUMN IF NOT EXISTS dane_result_type text;

INSERT INTO campaign_partitioned
SELECT t FROM (VALUES ('client_endpoint'), ('domain_client_endpoint')) v (t)
 WHERE NOT EXISTS (SELECT 1 FROM campaign_partitioned p WHERE p.table_name = v.t);
SELECT campaign_add_partitions(id) FROM campaign;

COMMENT ON TABLE client_endpoint IS
    'One probe of a mail client endpoint (M12): (ip, port, sni, service) '
    'once per campaign and crawler process, whatever number of domains '
    'name it by SRV. The session never authenticates and never sends '
    'credentials; QUIT / LOGOUT inside TLS. Certificates are in '
    'certificate (by sha256), judged as for port 25.';
COMMENT ON COLUMN client_endpoint.campaign_id IS 'The campaign (partition key).';
COMMENT ON COLUMN client_endpoint.ip IS 'The address contacted (an SRV target''s A/AAAA the address policy allows).';
COMMENT ON COLUMN client_endpoint.port IS 'The port of the SRV record (any port: the service says what is spoken).';
COMMENT ON COLUMN client_endpoint.sni IS 'The SRV target, sent as SNI and the reference identity of name_matches_host.';
COMMENT ON COLUMN client_endpoint.service IS
    'submissions | submission | imaps | imap | pop3s | pop3 (as client_srv.service).';
COMMENT ON COLUMN client_endpoint.worker IS 'The crawler (host/pid) that probed it.';
COMMENT ON COLUMN client_endpoint.probed_at IS 'When the probe ended.';
COMMENT ON COLUMN client_endpoint.protocol IS 'smtp | imap | pop3: the service''s protocol.';
COMMENT ON COLUMN client_endpoint.tls_mode IS
    'implicit (handshake at connect, RFC 8314) | starttls (STARTTLS / STLS after the greeting).';
COMMENT ON COLUMN client_endpoint.outcome IS
    'tls_ok (the handshake completed: implicit, or after STARTTLS/STLS) | no_starttls '
    '(capabilities read whole, STARTTLS/STLS not among them) | starttls_rejected | '
    'greeting_rejected (SMTP non-220, IMAP * BYE, POP3 -ERR) | greeting_timeout | '
    'preauth (IMAP * PREAUTH on a STARTTLS port: stays plaintext) | capability_rejected '
    '(EHLO not 2xx, CAPABILITY NO/BAD, CAPA -ERR) | tls_failed | connection_reset | '
    'connection_closed | protocol_error | line_too_long | reply_too_large | deadline | '
    'timeout | connect_failed | internal_error.';
COMMENT ON COLUMN client_endpoint.end_state IS 'The session''s state when it ended (protocol-specific name).';
COMMENT ON COLUMN client_endpoint.conn IS 'How the connection ended, as endpoint.conn.';
COMMENT ON COLUMN client_endpoint.greeting IS
    'What the greeting was, apart from the outcome (inside TLS for implicit TLS, '
    'plaintext for STARTTLS): ok (220, * OK, * PREAUTH, +OK) | rejected (other SMTP '
    'code, * BYE, -ERR) | garbage (not the protocol) | timeout | NULL (not reached).';
COMMENT ON COLUMN client_endpoint.greeting_code IS
    'The greeting''s code as the protocol writes it: SMTP 220, IMAP OK/PREAUTH/BYE, '
    'POP3 +OK/-ERR; NULL when none was read.';
COMMENT ON COLUMN client_endpoint.greeting_line IS 'The greeting''s first line, raw (SMTP: the text after the code).';
COMMENT ON COLUMN client_endpoint.starttls_offered IS
    'STARTTLS / STLS in a capability list read whole in plaintext; NULL when none '
    'was read (implicit TLS, the session ended before, the command was refused).';
COMMENT ON COLUMN client_endpoint.starttls_code IS
    'The answer to STARTTLS / STLS: SMTP code, IMAP OK/NO/BAD, POP3 +OK/-ERR; NULL when not sent.';
COMMENT ON COLUMN client_endpoint.stripping IS
    'advertised_refused (offered, then refused) | xxxxxxxa | masked_banner (SMTP, as '
    'endpoint.stripping) | NULL.';
COMMENT ON COLUMN client_endpoint.injection IS
    'Plaintext after the OK to STARTTLS/STLS, before the handshake (discarded, never '
    'given to TLS); NULL when no OK came (and with implicit TLS).';
COMMENT ON COLUMN client_endpoint.tls_version IS 'TLSv1.3, TLSv1.2, ...; NULL without a completed handshake.';
COMMENT ON COLUMN client_endpoint.tls_cipher IS 'The negotiated cipher suite (OpenSSL name).';
COMMENT ON COLUMN client_endpoint.tls_group IS 'The key exchange group, when known.';
COMMENT ON COLUMN client_endpoint.handshake_ms IS 'Milliseconds of the TLS handshake.';
COMMENT ON COLUMN client_endpoint.tls_reason IS 'Why the handshake failed (kind: OpenSSL reason), else NULL.';
COMMENT ON COLUMN client_endpoint.chain IS 'SHA-256 of each certificate presented, leaf first (certificate.sha256).';
COMMENT ON COLUMN client_endpoint.chain_len IS 'Certificates presented (more than kept when over the cap).';
COMMENT ON COLUMN client_endpoint.trusted IS
    'The chain verifies against the scan''s trust store at the strict sender''s '
    'level, as endpoint.trusted (names not part of it); NULL: no chain.';
COMMENT ON COLUMN client_endpoint.verify_errors IS 'Every verification error, first first, as endpoint.verify_errors.';
COMMENT ON COLUMN client_endpoint.missing_intermediate IS 'The leaf''s issuer is neither presented nor in the store, as endpoint.';
COMMENT ON COLUMN client_endpoint.name_matches_host IS
    'The leaf names the SRV target (sni) by RFC 9525 (DNS SANs only, wildcard as the '
    'whole left-most label).';
COMMENT ON COLUMN client_endpoint.cn_only IS 'The leaf has no DNS SAN (RFC 9525 never falls back to the CN).';
COMMENT ON COLUMN client_endpoint.weak IS 'rsa_lt_2048 | dsa_lt_2048 | sha1 | md5 | ec_lt_224, as endpoint.weak.';
COMMENT ON COLUMN client_endpoint.valid_ignoring_strength IS 'The chain verifies at security level 0 (key sizes and digests ignored).';
COMMENT ON COLUMN client_endpoint.transcript IS 'The dialogue as seen, both directions (bounded), raw.';
COMMENT ON COLUMN client_endpoint.elapsed_ms IS 'Milliseconds from connect to the end of the probe.';

COMMENT ON TABLE domain_client_endpoint IS
    'Which client endpoints a domain''s SRV records name, with what depends on the '
    'domain: its own name in the certificate (RFC 6186 §4, RFC 7817) and DANE (RFC '
    '7673: TLSA at _<port>._tcp.<srv-target>). One row per SRV record and contacted address.';
COMMENT ON COLUMN domain_client_endpoint.campaign_id IS 'The campaign (partition key).';
COMMENT ON COLUMN domain_client_endpoint.target_id IS 'The domain (target.id).';
COMMENT ON COLUMN domain_client_endpoint.service IS 'The service whose SRV record names it.';
COMMENT ON COLUMN domain_client_endpoint.ordinal IS 'client_srv_target.ordinal of the SRV record.';
COMMENT ON COLUMN domain_client_endpoint.ip IS 'client_endpoint.ip.';
COMMENT ON COLUMN domain_client_endpoint.port IS 'client_endpoint.port (the SRV record''s).';
COMMENT ON COLUMN domain_client_endpoint.sni IS 'client_endpoint.sni (the SRV target).';
COMMENT ON COLUMN domain_client_endpoint.name_matches_domain IS
    'The leaf names the domain itself (RFC 6186 §4 / RFC 7817: a client may accept the '
    'domain as reference identity); NULL: no certificate.';
COMMENT ON COLUMN domain_client_endpoint.dane IS
    'dane_ok | dane_no_match | dane_tlsa_bogus | dane_no_starttls (usable TLSA, no TLS '
    'session) | dane_unusable_only | dane_not_applicable (no secure path: SRV or address '
    'RRsets not secure) | dane_none, judged per RFC 7673: PKIX-TA/PKIX-EE (0, 1) usable, '
    'DANE-EE (3) ignores names and dates, DANE-TA (2) checks the name against the SRV target.';
COMMENT ON COLUMN domain_client_endpoint.dane_result_type IS
    'The RFC 8460 result type a client would report: tlsa-invalid | dnssec-invalid | dane-required.';
COMMENT ON COLUMN client_srv_target.dane IS
    'The SRV target''s DANE outcome over its contacted endpoints (RFC 7673), as '
    'domain_client_endpoint.dane; NULL for a "." target or without --client-ports '
    'probes.';
COMMENT ON COLUMN client_srv_target.dane_result_type IS 'The RFC 8460 result type of dane.';
