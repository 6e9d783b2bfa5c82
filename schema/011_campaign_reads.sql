-- Reports read campaigns one at a time: let that reach the tables.
--
-- mta_sts_verdict (009) reads its CTE `ep` twice, so PostgreSQL
-- materialised it over every campaign's endpoints before any filter on
-- campaign_id; NOT MATERIALIZED lets the filter through. Planning that
-- well needs statistics, which fresh partitions lack until autovacuum
-- comes: campaign_analyze() gathers them for one campaign's partitions,
-- and a scan calls it when the campaign is done.

CREATE OR REPLACE VIEW mta_sts_verdict AS
WITH ep AS NOT MATERIALIZED (
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

CREATE FUNCTION campaign_analyze(p_campaign bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT table_name FROM campaign_partitioned ORDER BY table_name LOOP
        IF to_regclass(t || '_' || p_campaign) IS NOT NULL THEN
            EXECUTE format('ANALYZE %I', t || '_' || p_campaign);
        END IF;
    END LOOP;
END $$;
