-- DNS failure semantics (M7): what a DNSSEC status rests on, and hosts
-- whose address lookups answered only in part.

-- Why an RRset got its DNSSEC status (crawler/resolver.h, dnssec_why):
--   ad / no_ad            secure / insecure: the answer's AD bit
--   servfail_then_answer  the first answer was SERVFAIL without a DNSSEC
--                         EDE, the CD query answered and so did the repeat
--                         without CD: a transient failure; status, rcode
--                         and records are the repeat's
--   ede                   bogus: SERVFAIL with an EDE 6..12 (RFC 8914)
--   servfail_repeated     bogus: SERVFAIL without such an EDE, the CD query
--                         answered (NOERROR/NXDOMAIN), and the repeat
--                         without CD was SERVFAIL again
--   servfail_unconfirmed  indeterminate: as above, but the repeat got no
--                         answer (timeout, error, other rcode); an upstream
--                         timeout looks the same as a validation failure
--   servfail              indeterminate: the CD query failed too
--   no_answer             indeterminate: timeout, malformed, error
--   rcode                 indeterminate: REFUSED, FORMERR, ...
--   not_validating        unknown: the resolver does not validate
-- NULL for rows written before this migration (their SERVFAIL that
-- answered with CD was called bogus without a repeat).
ALTER TABLE dns_rrset ADD COLUMN dnssec_reason text;

-- A kept MX host one of whose A/AAAA lookups got no usable answer
-- (indeterminate) while the other gave addresses: it was probed on those,
-- and its address set may be incomplete. address_outcome is then decided
-- by the addresses it got. NULL when not kept (and before this migration).
ALTER TABLE domain_mx ADD COLUMN addresses_partial boolean;

COMMENT ON COLUMN dns_rrset.dnssec_reason IS
    'what the DNSSEC status rests on: ad, no_ad, servfail_then_answer, ede, '
    'servfail_repeated, servfail_unconfirmed, servfail, no_answer, rcode, '
    'not_validating';
COMMENT ON COLUMN domain_mx.addresses_partial IS
    'one of the A/AAAA lookups got no usable answer while the other gave '
    'addresses; the host was probed on those';
COMMENT ON COLUMN domain_mx.ip_literal IS
    'the MX target looks like an IPv4 address; since migration 013 it is '
    'resolved as the domain name it is (address_outcome from that lookup), '
    'before it was never looked up (address_outcome mx_ip_literal)';

-- The export carries both facts. export_domain as last defined in 006,
-- plus three fields: dns.mx.dnssec_reason, queries[].dnssec_reason and
-- mx[].addresses_partial (nothing else changed).
CREATE OR REPLACE VIEW export_domain AS
SELECT d.campaign_id, d.target_id,
       jsonb_build_object(
           'domain', d.domain,
           'target_id', d.target_id,
           'scanned_at', d.scanned_at,
           'worker', d.worker,
           'mx_outcome', d.mx_outcome,
           'implicit_mx', d.mx_outcome = 'implicit_mx',
           'null_mx', d.mx_outcome LIKE 'null\_mx%',
           'mx_count', d.mx_count,
           'mx_truncated', d.mx_truncated,
           'apex_cname', to_jsonb(d.apex_cname),
           'large_answer', coalesce(q_mx.large, false),
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
                                      'handshake_ms', e.handshake_ms) END,
                           'cert', CASE WHEN e.trusted IS NULL THEN NULL
                                   ELSE jsonb_build_object(
                                      'trusted', e.trusted,
                                      'errors', to_jsonb(e.verify_errors),
                                      'missing_intermediate', e.missing_intermediate,
                                      'name_matches_mx', e.name_matches_mx,
                                      'name_matches_domain', de.name_matches_domain,
                                      'cn_only', e.cn_only,
                                      'weak', to_jsonb(e.weak),
                                      'chain_len', e.chain_len,
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


