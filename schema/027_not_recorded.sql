-- Domains whose facts the crawler could not store (issue M9: "a failing
-- domain gets an outcome of its own, never dns_error").
--
-- A domain's rows go to its batch whole or not at all. When they cannot be
-- made (a value or the domain's rows over the crawler's limits, the
-- batch's buffer full, or out of memory) the crawler took the domain out
-- and counted it as a DNS error, and the domain had no row at all: reports
-- showed it only as targets minus scanned. It now keeps its domain_dns row,
-- with mx_outcome 'not_recorded' and the cause in the new column below;
-- nothing else of it is stored.

ALTER TABLE domain_dns ADD COLUMN IF NOT EXISTS not_recorded_cause text;

COMMENT ON COLUMN domain_dns.mx_outcome IS
    'mx | implicit_mx | null_mx | null_mx_mixed (null MX beside real MX RRs) '
    '| null_mx_invalid (a lone "N ." with N > 0) | no_domain (NXDOMAIN) | '
    'dns_error (SERVFAIL, timeout, bogus, malformed) | blocklisted | '
    'not_recorded (the domain was probed but its facts could not be stored: '
    'see not_recorded_cause; no other row of the domain exists)';

COMMENT ON COLUMN domain_dns.not_recorded_cause IS
    'Why the facts of a not_recorded domain were not stored (NULL for every '
    'other outcome): rows_too_large (a value or the domain''s rows over the '
    'crawler''s limits: 64 KiB for an array column such as a host''s TLSA '
    'records as text, 4 MiB for the rows of one table), batch_full (the '
    'batch''s buffer of a table was full, 256 MiB: a smaller --batch-size '
    'stores the domain), out_of_memory (an allocation failed, or the '
    'resolver could not queue a question). mx_count is 0, mx_truncated '
    'false, apex_cname empty: not measured facts; dns_queries and '
    'elapsed_ms are the work spent.';

-- export_domain, as 023 defined it, with not_recorded_cause beside
-- mx_outcome, and implicit_mx and null_mx null for a not_recorded domain
-- (crawler/cli/cmd_export.c streams the same; test_export and
-- test_scan_not_recorded check that both agree).

CREATE OR REPLACE VIEW export_domain AS
SELECT d.campaign_id, d.target_id,
       jsonb_build_object(
           'domain', d.domain,
           'target_id', d.target_id,
           'scanned_at', d.scanned_at,
           'worker', d.worker,
           'mx_outcome', d.mx_outcome,
           'not_recorded_cause', d.not_recorded_cause,
           -- Unknown (null) when the MX question had no usable answer, or
           -- its answer was not stored.
           'implicit_mx', CASE WHEN d.mx_outcome NOT IN ('dns_error', 'blocklisted',
                                                         'not_recorded')
                               THEN d.mx_outcome = 'implicit_mx' END,
           'null_mx', CASE WHEN d.mx_outcome NOT IN ('dns_error', 'blocklisted',
                                                     'not_recorded')
                           THEN d.mx_outcome LIKE 'null\_mx%' END,
           'mx_count', d.mx_count,
           'mx_truncated', d.mx_truncated,
           'apex_cname', to_jsonb(d.apex_cname),
           'large_answer', q_mx.large,
           'dns_queries', d.dns_queries,
           'elapsed_ms', d.elapsed_ms,
           'dns', jsonb_build_object(
               'mx', jsonb_build_object(
                   'outcome', q_mx.outcome, 'rcode', q_mx.rcode,
                   'dnssec', q_mx.dnssec, 'dnssec_reason', q_mx.dnssec_reason,
                   'ede', to_jsonb(q_mx.ede),
                   'ede_text', q_mx.ede_text, 'records', to_jsonb(q_mx.records))),
           'mx', coalesce((
               SELECT jsonb_agg(jsonb_build_object(
                   'preference', m.preference,
                   'host', m.host,
                   'kept', m.kept,
                   'ip_literal', m.ip_literal,
                   'cname', to_jsonb(m.cname),
                   'mx_cname', cardinality(m.cname) > 0,
                   'address_outcome', m.address_outcome,
                   'addresses_partial', m.addresses_partial,
                   'registrable', m.registrable,
                   'a', jsonb_build_object('dnssec', m.a_dnssec, 'addresses',
                       coalesce((SELECT jsonb_agg(host(a.address) ORDER BY a.address)
                                   FROM mx_address a
                                  WHERE a.campaign_id = m.campaign_id
                                    AND a.target_id = m.target_id
                                    AND a.ordinal = m.ordinal
                                    AND family(a.address) = 4), '[]'::jsonb)),
                   'aaaa', jsonb_build_object('dnssec', m.aaaa_dnssec, 'addresses',
                       coalesce((SELECT jsonb_agg(host(a.address) ORDER BY a.address)
                                   FROM mx_address a
                                  WHERE a.campaign_id = m.campaign_id
                                    AND a.target_id = m.target_id
                                    AND a.ordinal = m.ordinal
                                    AND family(a.address) = 6), '[]'::jsonb)),
                   'addresses',
                       coalesce((SELECT jsonb_agg(jsonb_build_object(
                                     'ip', host(a.address), 'verdict', a.verdict,
                                     'class', a.class) ORDER BY a.address)
                                   FROM mx_address a
                                  WHERE a.campaign_id = m.campaign_id
                                    AND a.target_id = m.target_id
                                    AND a.ordinal = m.ordinal), '[]'::jsonb),
                   'tlsa', jsonb_build_object(
                       'looked_up', m.tlsa_looked_up, 'name', m.tlsa_name,
                       'dnssec', m.tlsa_dnssec, 'records', to_jsonb(m.tlsa_records)),
                   'dane', m.dane,
                   'dane_result_type', m.dane_result_type,
                   'endpoints', coalesce((
                       SELECT jsonb_agg(jsonb_build_object(
                           'ip', host(de.ip), 'port', de.port, 'sni', de.sni,
                           'name_matches_domain', de.name_matches_domain,
                           'dane', de.dane,
                           'smtp', jsonb_build_object(
                               'outcome', e.outcome, 'end_state', e.end_state,
                               'conn', e.conn, 'banner_code', e.banner_code,
                               'ehlo_code', e.ehlo_code, 'helo_code', e.helo_code,
                               'starttls_offered', e.starttls_offered,
                               'starttls_code', e.starttls_code,
                               'stripping', e.stripping, 'injection', e.injection,
                               'overlong_line', e.overlong_line,
                               'bare_lf', e.bare_lf, 'keywords', to_jsonb(e.keywords),
                               'elapsed_ms', e.elapsed_ms),
                           'tls', CASE WHEN e.tls_version IS NULL THEN
                                      jsonb_build_object('outcome', NULL,
                                                         'reason', e.tls_reason)
                                  ELSE jsonb_build_object(
                                      'outcome', 'ok', 'version', e.tls_version,
                                      'cipher', e.tls_cipher, 'group', e.tls_group,
                                      'handshake_ms', e.handshake_ms,
                                      'legacy', e.tls_legacy) END,
                           'cert', CASE WHEN e.trusted IS NULL THEN NULL
                                   ELSE jsonb_build_object(
                                      'trusted', e.trusted,
                                      'valid_ignoring_strength', e.valid_ignoring_strength,
                                      'errors', to_jsonb(e.verify_errors),
                                      'missing_intermediate', e.missing_intermediate,
                                      'name_matches_mx', e.name_matches_mx,
                                      'name_matches_domain', de.name_matches_domain,
                                      'cn_only', e.cn_only,
                                      'weak', to_jsonb(e.weak),
                                      'chain_len', e.chain_len,
                                      'long_chain', e.long_chain,
                                      'chain_truncated', e.chain_truncated,
                                      'out_of_order', e.chain_out_of_order,
                                      'leaf_san_count', e.leaf_san_count,
                                      'chain', (SELECT jsonb_agg(encode(h, 'hex'))
                                                  FROM unnest(e.chain) h)) END
                       ) ORDER BY de.ip)
                         FROM domain_endpoint de
                         JOIN endpoint e
                           ON e.campaign_id = de.campaign_id AND e.ip = de.ip
                          AND e.port = de.port AND e.sni = de.sni
                        WHERE de.campaign_id = m.campaign_id
                          AND de.target_id = m.target_id
                          AND de.ordinal = m.ordinal), '[]'::jsonb)
               ) ORDER BY m.ordinal)
                 FROM domain_mx m
                WHERE m.campaign_id = d.campaign_id AND m.target_id = d.target_id),
               '[]'::jsonb),
           -- TXT strings are bytes: shown with PostgreSQL's escape encoding
           -- (printable ASCII as is, other bytes as \ooo).
           'mta_sts', jsonb_build_object(
               'txt_dnssec', q_sts.dnssec, 'txt_rcode', q_sts.rcode,
               'txt_cname', to_jsonb(q_sts.cname),
               'txt_records', coalesce((SELECT jsonb_agg(encode(t, 'escape'))
                                          FROM unnest(q_sts.txt) t), '[]'::jsonb)),
           'tlsrpt', jsonb_build_object(
               'txt_dnssec', q_rpt.dnssec, 'txt_rcode', q_rpt.rcode,
               'txt_records', coalesce((SELECT jsonb_agg(encode(t, 'escape'))
                                          FROM unnest(q_rpt.txt) t), '[]'::jsonb)),
           'queries', coalesce((
               SELECT jsonb_agg(jsonb_build_object(
                   'qname', r.qname, 'qtype', r.qtype, 'outcome', r.outcome,
                   'rcode', r.rcode, 'dnssec', r.dnssec,
                   'dnssec_reason', r.dnssec_reason, 'ede', to_jsonb(r.ede),
                   'large', r.large, 'cname', to_jsonb(r.cname),
                   'records', to_jsonb(r.records), 'elapsed_ms', r.elapsed_ms)
                   ORDER BY r.qtype, r.qname)
                 FROM dns_rrset r
                WHERE r.campaign_id = d.campaign_id AND r.target_id = d.target_id),
               '[]'::jsonb)
       ) AS doc
  FROM domain_dns d
  LEFT JOIN dns_rrset q_mx
         ON q_mx.campaign_id = d.campaign_id AND q_mx.target_id = d.target_id
        AND q_mx.qname = d.domain AND q_mx.qtype = 'MX'
  LEFT JOIN dns_rrset q_sts
         ON q_sts.campaign_id = d.campaign_id AND q_sts.target_id = d.target_id
        AND q_sts.qname = '_mta-sts.' || d.domain AND q_sts.qtype = 'TXT'
  LEFT JOIN dns_rrset q_rpt
         ON q_rpt.campaign_id = d.campaign_id AND q_rpt.target_id = d.target_id
        AND q_rpt.qname = '_smtp._tls.' || d.domain AND q_rpt.qtype = 'TXT';
