-- The SMTP/TLS stage's facts.

-- Certificates, stored once by SHA-256 of their DER, across campaigns,
-- with the parsed columns SQL needs (subject, SANs, issuer, validity, key,
-- signature algorithm).
CREATE TABLE certificate (
    sha256      bytea PRIMARY KEY CHECK (length(sha256) = 32),
    der         bytea NOT NULL,
    subject     text,
    issuer      text,
    san_dns     text[] NOT NULL,    -- dNSName SANs, as written
    not_before  timestamptz,
    not_after   timestamptz,
    key_type    text,               -- rsa, ec, dsa, ed25519, ...
    key_bits    integer,
    sig_alg     text,               -- e.g. sha256WithRSAEncryption
    self_issued boolean NOT NULL,   -- subject = issuer
    first_seen  timestamptz NOT NULL DEFAULT now()
);

-- One probe per endpoint (address, port, SNI = MX host) and campaign: SMTP
-- up to the end of the STARTTLS handshake, and the chain's judgement (at
-- the scan's time, against the scan's trust store) for the SNI name.
CREATE TABLE endpoint (
    campaign_id     bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    ip              inet    NOT NULL,
    port            integer NOT NULL,
    sni             text    NOT NULL,
    worker          text    NOT NULL,
    probed_at       timestamptz NOT NULL,
    -- starttls_ok | no_starttls | starttls_rejected | banner_rejected |
    -- banner_timeout | ehlo_rejected | tls_failed | connection_reset |
    -- connection_closed | protocol_error | line_too_long |
    -- reply_too_large | deadline | timeout | connect_failed
    outcome         text    NOT NULL,
    end_state       text    NOT NULL,  -- SMTP state in which it ended
    conn            text    NOT NULL,  -- how the connection ended (tls.h)
    banner_code     integer,
    ehlo_code       integer,
    helo_code       integer,
    starttls_offered boolean NOT NULL,
    starttls_code   integer,
    stripping       text,              -- xxxxxxxa | masked_banner | advertised_refused
    injection       boolean NOT NULL,  -- plaintext after the 220 to STARTTLS (discarded)
    overlong_line   boolean NOT NULL,  -- a reply line over 4 KiB
    bare_lf         boolean NOT NULL,  -- a reply line ended in LF alone
    keywords        text[]  NOT NULL,  -- EHLO keywords
    banner          bytea,             -- first banner line, raw
    tls_version     text,
    tls_cipher      text,
    tls_group       text,
    handshake_ms    integer,
    tls_reason      text,              -- why the handshake failed
    chain           bytea[] NOT NULL,  -- SHA-256 of each certificate presented, leaf first
    chain_len       integer NOT NULL,  -- certificates presented (more than kept if over 32)
    trusted         boolean,           -- NULL: no chain
    verify_errors   text[],            -- every error, first first
    missing_intermediate boolean,
    name_matches_mx boolean,           -- the leaf names the SNI (= MX host)
    cn_only         boolean,
    weak            text[],            -- rsa_lt_2048, dsa_lt_2048, sha1, md5
    transcript      bytea NOT NULL,    -- the SMTP dialogue as seen (bounded), raw
    elapsed_ms      integer NOT NULL,
    PRIMARY KEY (campaign_id, ip, port, sni)
) PARTITION BY LIST (campaign_id);

-- Which endpoints a domain's MX hosts use, with what depends on the
-- domain: the name check against the domain itself and DANE (TLSA of the
-- MX host, judged against the endpoint's chain).
CREATE TABLE domain_endpoint (
    campaign_id     bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id       bigint  NOT NULL,
    ordinal         integer NOT NULL,  -- domain_mx.ordinal
    ip              inet    NOT NULL,
    port            integer NOT NULL,
    sni             text    NOT NULL,
    name_matches_domain boolean,
    -- dane_ok | dane_no_match | dane_tlsa_bogus | dane_no_starttls |
    -- dane_unusable_only | dane_not_applicable | dane_none
    dane            text    NOT NULL,
    dane_result_type text,             -- RFC 8460: tlsa-invalid, dnssec-invalid, dane-required
    PRIMARY KEY (campaign_id, target_id, ordinal, ip, port)
) PARTITION BY LIST (campaign_id);

INSERT INTO campaign_partitioned VALUES ('endpoint'), ('domain_endpoint');
SELECT campaign_add_partitions(id) FROM campaign;

-- The host-level DANE outcome (RFC 7672) joins the other per-MX facts.
ALTER TABLE domain_mx
    ADD COLUMN dane text,             -- dane_ok, dane_no_match, ... (NULL: SMTP stage off)
    ADD COLUMN dane_result_type text; -- RFC 8460 result type of a DANE failure
