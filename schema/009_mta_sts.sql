-- MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) facts, and the "enforce would
-- work" judgement over them and the SMTP/TLS stage's facts.

-- Per domain: the _mta-sts TXT record, the policy fetch and the policy.
CREATE TABLE domain_mta_sts (
    campaign_id     bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id       bigint  NOT NULL,
    -- none | valid | invalid | multiple | dns_error (the TXT lookup failed)
    txt             text    NOT NULL,
    -- why not valid: missing_id, bad_id, duplicate_id, bad_separator,
    -- bad_field, bad_value, trailing_space, multiple, none (mtasts.h)
    txt_error       text,
    txt_records     integer NOT NULL,  -- TXT records at the (CNAME'd) name
    sts_records     integer NOT NULL,  -- of them starting with v=STSv1
    txt_cname       text[]  NOT NULL,  -- CNAME chain from _mta-sts.<domain>
    id              bytea,             -- the id field as written (valid or not)
    -- The fetch, when the TXT record is valid; NULL otherwise.
    host            text,              -- mta-sts.<domain>
    host_dnssec     text,              -- worst of its A and AAAA answers
    host_addresses  inet[],            -- every address found
    -- ok | http_redirect | http_status | media_type | too_large | timeout |
    -- content_encoding | webpki_invalid | tls_error | dns_error |
    -- refused_address | connect_refused | connect_error | connection_lost |
    -- protocol_error | headers_too_large | ... (stsfetch.h)
    fetch_outcome   text,
    fetch_addr      inet,              -- the address connected to
    http_status     integer,
    location        bytea,             -- of a redirect (not followed)
    content_type    bytea,
    content_encoding bytea,
    tls_version     text,
    verify_error    text,              -- X509 verification of mta-sts.<domain>
    fetch_detail    text,              -- the HTTP client's error text
    fetch_ms        integer,
    chain           bytea[] NOT NULL,  -- SHA-256 of the HTTPS chain (certificate)
    body            bytea,             -- the policy as served (fetch ok)
    -- The policy (fetch ok): valid | invalid, and its fields.
    policy          text,
    -- bad_version, bad_mode, bad_max_age, bad_mx, missing_mx, bad_line,
    -- blank_line, bom, ... (mtasts.h)
    policy_error    text,
    mode            text,              -- enforce | testing | none
    max_age         bigint,
    mx_patterns     text[],            -- as written
    mx_truncated    boolean,           -- more patterns than kept
    eol             text,              -- crlf | lf | mixed | none
    unknown_keys    text[],
    PRIMARY KEY (campaign_id, target_id)
) PARTITION BY LIST (campaign_id);

-- Per domain: the _smtp._tls TXT record.
CREATE TABLE domain_tlsrpt (
    campaign_id     bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id       bigint  NOT NULL,
    status          text    NOT NULL,  -- none | valid | invalid | multiple | dns_error
    -- missing_rua, bad_rua, duplicate_rua, bad_separator, bad_field, ...
    error           text,
    txt_records     integer NOT NULL,
    rpt_records     integer NOT NULL,  -- of them starting with v=TLSRPTv1
    rua             bytea[] NOT NULL,  -- URIs as written
    rua_schemes     text[]  NOT NULL,  -- mailto | https | other, per URI
    PRIMARY KEY (campaign_id, target_id)
) PARTITION BY LIST (campaign_id);

INSERT INTO campaign_partitioned VALUES ('domain_mta_sts'), ('domain_tlsrpt');
SELECT campaign_add_partitions(id) FROM campaign;

-- Per MX host: does it match a pattern of the domain's valid policy in
-- enforce or testing mode (RFC 8461 §4.1)? NULL: no such policy.
ALTER TABLE domain_mx ADD COLUMN sts_match boolean;

-- Would a sending MTA that enforces the domain's policy deliver (RFC 8461
-- §5)? Only for a valid TXT record: false when the policy could not be
-- fetched, is invalid or says mode none (nothing to enforce); for a valid
-- policy in enforce or testing mode,
-- true when every MX host matches a pattern and every contacted endpoint
-- of it completes STARTTLS with a chain trusted for the MX host name.
-- `failures` are the RFC 8460 §4.3 result types a reporting sender would
-- use, one per kind seen.
CREATE VIEW mta_sts_verdict AS
WITH ep AS (
    SELECT de.campaign_id, de.target_id, de.ordinal,
           CASE
               WHEN e.outcome <> 'starttls_ok' OR e.tls_version IS NULL THEN
                   CASE WHEN e.outcome IN ('no_starttls', 'starttls_rejected',
                                           'ehlo_rejected')
                        THEN 'starttls-not-supported'
                        ELSE 'validation-failure' END
               WHEN 'expired' = ANY (e.verify_errors) THEN 'certificate-expired'
               WHEN cardinality(e.verify_errors) > 0 THEN 'certificate-not-trusted'
               WHEN NOT coalesce(e.name_matches_mx, false)
                    OR coalesce(e.cn_only, false) THEN 'certificate-host-mismatch'
           END AS failure
      FROM domain_endpoint de
      JOIN endpoint e ON e.campaign_id = de.campaign_id AND e.ip = de.ip
                     AND e.port = de.port AND e.sni = de.sni
), host AS (
    SELECT m.campaign_id, m.target_id, m.ordinal,
           CASE WHEN NOT m.sts_match THEN ARRAY['validation-failure']
                WHEN NOT EXISTS (SELECT 1 FROM ep
                                  WHERE ep.campaign_id = m.campaign_id
                                    AND ep.target_id = m.target_id
                                    AND ep.ordinal = m.ordinal)
                     THEN ARRAY['validation-failure']
                ELSE ARRAY(SELECT ep.failure FROM ep
                            WHERE ep.campaign_id = m.campaign_id
                              AND ep.target_id = m.target_id
                              AND ep.ordinal = m.ordinal
                              AND ep.failure IS NOT NULL) END AS failures
      FROM domain_mx m
     WHERE m.sts_match IS NOT NULL
)
SELECT s.campaign_id, s.target_id,
       CASE WHEN s.txt <> 'valid' THEN NULL
            WHEN s.fetch_outcome IS DISTINCT FROM 'ok'
                 OR s.policy IS DISTINCT FROM 'valid' THEN false
            WHEN s.mode NOT IN ('enforce', 'testing') THEN false
            ELSE cardinality(f.failures) = 0 END AS enforce_would_work,
       CASE WHEN s.txt <> 'valid' THEN '{}'::text[]
            WHEN s.fetch_outcome = 'webpki_invalid' THEN ARRAY['sts-webpki-invalid']
            WHEN s.fetch_outcome IS DISTINCT FROM 'ok' THEN ARRAY['sts-policy-fetch-error']
            WHEN s.policy IS DISTINCT FROM 'valid' THEN ARRAY['sts-policy-invalid']
            ELSE f.failures END AS failures
  FROM domain_mta_sts s
  LEFT JOIN LATERAL (
      SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}'::text[]) AS failures
        FROM host h, unnest(h.failures) x
       WHERE h.campaign_id = s.campaign_id AND h.target_id = s.target_id
  ) f ON true;

COMMENT ON VIEW mta_sts_verdict IS
    'Per domain with an MTA-STS TXT record: would an enforcing sender deliver '
    '(RFC 8461 §5), and the RFC 8460 result types of what stops it.';

-- The export carries the MTA-STS and TLS-RPT facts and the verdict.
CREATE OR REPLACE VIEW export_sts AS
SELECT d.campaign_id, d.target_id,
       jsonb_build_object(
           'txt', s.txt, 'txt_error', s.txt_error,
           'txt_records_count', s.txt_records, 'sts_records', s.sts_records,
           'txt_cname_chain', to_jsonb(s.txt_cname),
           'id', CASE WHEN s.id IS NULL THEN NULL ELSE encode(s.id, 'escape') END,
           'host', s.host, 'host_dnssec', s.host_dnssec,
           'host_addresses', (SELECT jsonb_agg(host(a)) FROM unnest(s.host_addresses) a),
           'fetch', s.fetch_outcome, 'fetch_addr', host(s.fetch_addr),
           'http_status', s.http_status,
           'location', encode(s.location, 'escape'),
           'content_type', encode(s.content_type, 'escape'),
           'content_encoding', encode(s.content_encoding, 'escape'),
           'tls_version', s.tls_version, 'verify_error', s.verify_error,
           'fetch_detail', s.fetch_detail, 'fetch_ms', s.fetch_ms,
           'chain', (SELECT jsonb_agg(encode(h, 'hex')) FROM unnest(s.chain) h),
           'body', encode(s.body, 'escape'),
           'policy', s.policy, 'policy_error', s.policy_error,
           'mode', s.mode, 'max_age', s.max_age,
           'mx_patterns', coalesce(to_jsonb(s.mx_patterns), '[]'::jsonb),
           'mx_truncated', s.mx_truncated, 'eol', s.eol,
           'unknown_keys', coalesce(to_jsonb(s.unknown_keys), '[]'::jsonb),
           'mx_match', coalesce((
               SELECT jsonb_object_agg(m.host, m.sts_match)
                 FROM domain_mx m
                WHERE m.campaign_id = d.campaign_id AND m.target_id = d.target_id
                  AND m.sts_match IS NOT NULL), '{}'::jsonb),
           'enforce_would_work', v.enforce_would_work,
           'failures', coalesce(to_jsonb(v.failures), '[]'::jsonb)) AS mta_sts,
       jsonb_build_object(
           'status', r.status, 'error', r.error,
           'txt_records_count', r.txt_records, 'rpt_records', r.rpt_records,
           'rua', coalesce((SELECT jsonb_agg(encode(u, 'escape')) FROM unnest(r.rua) u),
                           '[]'::jsonb),
           'rua_schemes', coalesce(to_jsonb(r.rua_schemes), '[]'::jsonb)) AS tlsrpt
  FROM domain_dns d
  LEFT JOIN domain_mta_sts s
         ON s.campaign_id = d.campaign_id AND s.target_id = d.target_id
  LEFT JOIN mta_sts_verdict v
         ON v.campaign_id = d.campaign_id AND v.target_id = d.target_id
  LEFT JOIN domain_tlsrpt r
         ON r.campaign_id = d.campaign_id AND r.target_id = d.target_id;

-- What `mxcrawl export` writes per domain: the DNS and SMTP/TLS document
-- with the MTA-STS and TLS-RPT facts merged into its two objects.
CREATE VIEW export_document AS
SELECT e.campaign_id, e.target_id,
       e.doc || jsonb_build_object(
           'mta_sts', (e.doc -> 'mta_sts') || coalesce(s.mta_sts, '{}'::jsonb),
           'tlsrpt', (e.doc -> 'tlsrpt') || coalesce(s.tlsrpt, '{}'::jsonb)) AS doc
  FROM export_domain e
  LEFT JOIN export_sts s USING (campaign_id, target_id);
