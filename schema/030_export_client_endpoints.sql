-- Export of the mail client probes (issue M12, schema/029): each
-- exported target of `client.<service>.targets[]` gets its DANE outcome
-- (RFC 7673) and `endpoints`, one per contacted address, in the M12
-- contract's shape: `probe` {outcome, greeting, starttls_offered,
-- injection, stripping, tls {version, cipher}} and `cert` {trusted,
-- errors, missing_intermediate, name_matches_host, name_matches_domain,
-- cn_only, weak, chain_len} (null without a certificate), plus the
-- endpoint's `dane`. export_domain and export_document are unchanged:
-- both the view and the C export build `client` with export_client(),
-- redefined here from its definition in 028.

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
                       'records', to_jsonb(t.tlsa_records)),
                   'dane', t.dane, 'dane_result_type', t.dane_result_type,
                   'endpoints', coalesce((
                       SELECT jsonb_agg(jsonb_build_object(
                                  'ip', host(de.ip), 'port', de.port,
                                  'probe', jsonb_build_object(
                                      'outcome', c.outcome,
                                      'greeting', c.greeting,
                                      'starttls_offered', c.starttls_offered,
                                      'injection', c.injection,
                                      'stripping', c.stripping,
                                      'tls', CASE WHEN c.tls_version IS NULL THEN NULL
                                                  ELSE jsonb_build_object(
                                                      'version', c.tls_version,
                                                      'cipher', c.tls_cipher) END),
                                  'cert', CASE WHEN c.chain_len = 0 THEN NULL
                                               ELSE jsonb_build_object(
                                      'trusted', c.trusted,
                                      'errors', to_jsonb(c.verify_errors),
                                      'missing_intermediate', c.missing_intermediate,
                                      'name_matches_host', c.name_matches_host,
                                      'name_matches_domain', de.name_matches_domain,
                                      'cn_only', c.cn_only,
                                      'weak', to_jsonb(c.weak),
                                      'chain_len', c.chain_len) END,
                                  'dane', de.dane)
                              ORDER BY de.ip)
                         FROM domain_client_endpoint de
                         JOIN client_endpoint c
                           ON c.campaign_id = de.campaign_id AND c.ip = de.ip
                          AND c.port = de.port AND c.sni = de.sni
                          AND c.service = de.service
                        WHERE de.campaign_id = t.campaign_id
                          AND de.target_id = t.target_id
                          AND de.service = t.service
                          AND de.ordinal = t.ordinal), '[]'::jsonb))
                   ORDER BY t.ordinal)
          FROM client_srv_target t
         WHERE t.campaign_id = s.campaign_id AND t.target_id = s.target_id
           AND t.service = s.service AND t.target <> '.'), '[]'::jsonb)))
  FROM client_srv s
 WHERE s.campaign_id = p_campaign AND s.target_id = p_target
$$;
