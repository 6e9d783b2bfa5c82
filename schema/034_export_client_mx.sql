-- Export of the client ports found on the MX hosts (--client-ports mx,
-- schema/033): a document's `client_mx`, beside `client` (the SRV-found
-- endpoints), so that a reader tells the two apart. Per service (the six
-- names of `client`) the list of the domain's kept MX hosts in MX order,
-- each {ordinal, host, port, address_outcome, tlsa {looked_up, name,
-- dnssec, records}, dane, dane_result_type, endpoints[]}, an endpoint
-- shaped as in `client` ({ip, port, probe, cert, dane}) with the probe's
-- `conn` besides (refused: the port is closed). NULL for a domain without
-- client_mx rows (scanned without --client-ports mx, null MX,
-- blocklisted, not recorded). `mxcrawl export` (crawler/cli/cmd_export.c)
-- builds the same object from a stream; test_client_ports holds them
-- equal.

CREATE OR REPLACE FUNCTION export_client_mx(p_campaign bigint, p_target bigint)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT jsonb_object_agg(x.service, x.hosts)
  FROM (SELECT m.service, jsonb_agg(jsonb_build_object(
               'ordinal', m.ordinal, 'host', m.host, 'port', m.port,
               'address_outcome', m.address_outcome,
               'tlsa', jsonb_build_object(
                   'looked_up', m.tlsa_looked_up, 'name', m.tlsa_name,
                   'dnssec', m.tlsa_dnssec,
                   'records', to_jsonb(m.tlsa_records)),
               'dane', m.dane, 'dane_result_type', m.dane_result_type,
               'endpoints', coalesce((
                   SELECT jsonb_agg(jsonb_build_object(
                              'ip', host(de.ip), 'port', de.port,
                              'probe', jsonb_build_object(
                                  'outcome', c.outcome, 'conn', c.conn,
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
                     FROM domain_client_mx_endpoint de
                     JOIN client_endpoint c
                       ON c.campaign_id = de.campaign_id AND c.ip = de.ip
                      AND c.port = de.port AND c.sni = de.sni
                      AND c.service = de.service
                    WHERE de.campaign_id = m.campaign_id
                      AND de.target_id = m.target_id
                      AND de.ordinal = m.ordinal
                      AND de.service = m.service), '[]'::jsonb))
               ORDER BY m.ordinal) AS hosts
          FROM client_mx m
         WHERE m.campaign_id = p_campaign AND m.target_id = p_target
         GROUP BY m.service) x
$$;

-- export_document, as 028 defined it, with `client_mx` added.
CREATE OR REPLACE VIEW export_document AS
SELECT e.campaign_id, e.target_id,
       e.doc || jsonb_build_object(
           'scanned_at', iso_utc((e.doc ->> 'scanned_at')::timestamptz),
           'mta_sts', (e.doc -> 'mta_sts') || coalesce(s.mta_sts, '{}'::jsonb),
           'tlsrpt', (e.doc -> 'tlsrpt') || coalesce(s.tlsrpt, '{}'::jsonb),
           'client', export_client(e.campaign_id, e.target_id),
           'client_mx', export_client_mx(e.campaign_id, e.target_id)) AS doc
  FROM export_domain e
  LEFT JOIN export_sts s USING (campaign_id, target_id);
