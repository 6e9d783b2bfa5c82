-- Dropping a campaign, its size, and collecting certificates no campaign
-- uses any more (issue M8 item 7: a year of weekly 1M-domain campaigns).
--
-- A campaign's facts live in partitions of their own (003's registry and
-- later tables), so removing a campaign drops tables instead of deleting
-- rows: seconds, whatever its size, and no dead rows left to vacuum. The
-- few rows a campaign has in tables that are not partitioned (campaign,
-- campaign_run, judgement_set, zstd_dict) go by ON DELETE CASCADE.
-- Certificates are shared across campaigns (stored once by SHA-256): a drop
-- keeps them; certificate_gc() removes those no campaign refers to.

-- The partitions of one campaign: every partition, of every table
-- partitioned by LIST (campaign_id), whose bound is exactly this campaign.
-- Read from the catalog rather than the registry (campaign_partitioned),
-- so a partitioned table a later migration forgets to register is still
-- found.
CREATE FUNCTION campaign_partitions(p_campaign bigint)
RETURNS TABLE (parent regclass, part regclass)
LANGUAGE sql STABLE AS $$
    SELECT i.inhparent::regclass, c.oid::regclass
      FROM pg_partitioned_table pt
      JOIN pg_attribute a ON a.attrelid = pt.partrelid
                         AND a.attnum = pt.partattrs[0]
      JOIN pg_inherits i ON i.inhparent = pt.partrelid
      JOIN pg_class c ON c.oid = i.inhrelid
     WHERE pt.partstrat = 'l' AND pt.partnatts = 1
       AND a.attname = 'campaign_id'
       AND c.relispartition
       AND pg_get_expr(c.relpartbound, c.oid)
           = format('FOR VALUES IN (''%s'')', p_campaign)
     ORDER BY 1::text, 2::text
$$;

-- The bytes a campaign takes, per table: for each of its partitions the
-- partition's total size (heap, TOAST, indexes: pg_total_relation_size);
-- for each table that has a campaign_id column but is not partitioned
-- (campaign_run, judgement_set, zstd_dict, and the campaign row itself)
-- the size of the campaign's rows (sum of pg_column_size of each row;
-- their share of the indexes and page overhead is not counted). Shared
-- certificates are not counted: they are kept when a campaign is dropped.
-- how: 'partition' or 'rows'.
CREATE FUNCTION campaign_size(p_campaign bigint)
RETURNS TABLE (table_name text, bytes bigint, how text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t regclass;
BEGIN
    RETURN QUERY
        SELECT p.parent::text, pg_total_relation_size(p.part), 'partition'
          FROM campaign_partitions(p_campaign) p;
    RETURN QUERY
        SELECT 'campaign', coalesce(sum(pg_column_size(c.*)), 0)::bigint,
               'rows'
          FROM campaign c WHERE c.id = p_campaign;
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE a.attname = 'campaign_id' AND NOT a.attisdropped
           AND c.relkind = 'r' AND NOT c.relispartition
           AND c.relnamespace = (SELECT relnamespace FROM pg_class
                                 WHERE oid = 'campaign'::regclass)
         ORDER BY 1::text
    LOOP
        table_name := t::text;
        how := 'rows';
        EXECUTE format('SELECT coalesce(sum(pg_column_size(x.*)), 0)::bigint '
                       'FROM %s x WHERE x.campaign_id = $1', t)
           INTO bytes USING p_campaign;
        RETURN NEXT;
    END LOOP;
END $$;

COMMENT ON FUNCTION campaign_size(bigint) IS
    'Bytes per table of one campaign: its partitions whole, its rows of '
    'tables not partitioned; shared certificates not counted.';

-- Drops a campaign: refuses (SQLSTATE 55006, object_in_use) while a
-- crawler holds a live lease on one of its batches or a live claim on one
-- of its endpoints (expiry on the database's clock, as campaign_lease
-- reads it); else drops every partition of it and deletes its campaign
-- row, which takes its rows of the other tables along (ON DELETE
-- CASCADE). Returns the partitions dropped and the bytes they and its
-- rows took (campaign_size before the drop).
--
-- The caller runs it in one transaction with a short lock_timeout: a
-- partition is dropped under an ACCESS EXCLUSIVE lock of its parent, which
-- waits for every reader of that table (an export, a report of any
-- campaign). The campaign's own queue partitions are locked first, before
-- leases are looked at, so no crawler can lease a batch between the check
-- and the drop.
CREATE FUNCTION campaign_drop(p_campaign bigint)
RETURNS TABLE (partitions integer, bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    live_batches bigint;
    live_claims bigint;
BEGIN
    PERFORM 1 FROM campaign WHERE id = p_campaign FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no campaign %', p_campaign
            USING ERRCODE = 'no_data_found';
    END IF;
    FOR r IN SELECT p.part FROM campaign_partitions(p_campaign) p
              WHERE p.parent IN ('campaign_batch'::regclass,
                                 'endpoint_claim'::regclass) LOOP
        EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', r.part);
    END LOOP;
    SELECT count(*) INTO live_batches FROM campaign_batch
     WHERE campaign_id = p_campaign AND done_at IS NULL
       AND lease_expires > clock_timestamp();
    SELECT count(*) INTO live_claims FROM endpoint_claim
     WHERE campaign_id = p_campaign AND NOT done
       AND expires > clock_timestamp();
    IF live_batches > 0 OR live_claims > 0 THEN
        RAISE EXCEPTION 'a crawler is working on campaign %', p_campaign
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('%s batch leases and %s endpoint claims '
                                  'have not expired', live_batches,
                                  live_claims);
    END IF;
    SELECT coalesce(sum(s.bytes), 0)::bigint INTO bytes
      FROM campaign_size(p_campaign) s;
    partitions := 0;
    FOR r IN SELECT p.part FROM campaign_partitions(p_campaign) p LOOP
        EXECUTE format('DROP TABLE %s', r.part);
        partitions := partitions + 1;
    END LOOP;
    DELETE FROM campaign WHERE id = p_campaign;
    RETURN NEXT;
END $$;

-- Deletes the certificates that no endpoint and no MTA-STS policy host of
-- any campaign refers to (endpoint.chain, domain_mta_sts.chain); returns
-- how many and their bytes. A crawler stores an endpoint's certificates in
-- the transaction that stores the endpoint, always, whether or not they
-- exist already (INSERT ... ON CONFLICT DO NOTHING): the SHARE ROW
-- EXCLUSIVE lock taken here waits for those transactions and holds off new
-- ones until the delete is committed, so a certificate is never collected
-- while a reference to it is being written. The caller sets a lock_timeout;
-- the delete reads every campaign's chains, so it holds the lock (crawlers
-- wait to store) for as long as that takes: run it between scans.
CREATE FUNCTION certificate_gc()
RETURNS TABLE (certificates bigint, bytes bigint)
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE certificate IN SHARE ROW EXCLUSIVE MODE;
    WITH used AS (
        SELECT DISTINCT h FROM endpoint e, unnest(e.chain) h
        UNION
        SELECT DISTINCT h FROM domain_mta_sts m, unnest(m.chain) h
    ), gone AS (
        DELETE FROM certificate c
         WHERE NOT EXISTS (SELECT 1 FROM used u WHERE u.h = c.sha256)
        RETURNING pg_column_size(c.*) AS b
    )
    SELECT count(*), coalesce(sum(b), 0)::bigint
      INTO certificates, bytes FROM gone;
    RETURN NEXT;
END $$;

-- ---- Timestamps: ISO 8601 in UTC, to the second, everywhere ---------------
-- (issue M8 item 8). `campaign list` said 2026-12-06T12:48:19Z while JSON
-- built in SQL said 2026-12-06T12:53:07.123456+00:00 (jsonb's own form of
-- a timestamptz, in the session's time zone) and reports "2026-12-06
-- 12:53:07 UTC". Every timestamp mxcrawl prints is now iso_utc's.
CREATE FUNCTION iso_utc(t timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- As 016's, with created, started and ended through iso_utc.
CREATE OR REPLACE FUNCTION campaign_provenance(p_campaign bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'campaign', jsonb_build_object(
            'id', c.id, 'name', c.name, 'created', iso_utc(c.created),
            'state', c.state, 'vantage', c.vantage,
            'tool_version', c.tool_version, 'targets', c.targets,
            'batch_size', c.batch_size, 'config', c.config),
        'dnssec_validated', campaign_dnssec_validated(c.id),
        'runs', coalesce((
            SELECT jsonb_agg(r.provenance || jsonb_build_object(
                       'run', r.n, 'kind', r.kind,
                       'started', iso_utc(r.started),
                       'ended', iso_utc(r.ended), 'end_state', r.end_state,
                       'host', r.host, 'vantage', r.vantage,
                       'tool_version', r.tool_version,
                       'dnssec_validated', r.dnssec_validated,
                       'domains', r.domains)
                   ORDER BY r.id)
              FROM (SELECT row_number() OVER (ORDER BY id) AS n, *
                      FROM campaign_run WHERE campaign_id = c.id) r),
            '[]'::jsonb))
      FROM campaign c WHERE c.id = p_campaign
$$;

-- As 009's, with the document's scanned_at through iso_utc (export_domain
-- itself is left as it is; no field added or removed).
CREATE OR REPLACE VIEW export_document AS
SELECT e.campaign_id, e.target_id,
       e.doc || jsonb_build_object(
           'scanned_at', iso_utc((e.doc ->> 'scanned_at')::timestamptz),
           'mta_sts', (e.doc -> 'mta_sts') || coalesce(s.mta_sts, '{}'::jsonb),
           'tlsrpt', (e.doc -> 'tlsrpt') || coalesce(s.tlsrpt, '{}'::jsonb)) AS doc
  FROM export_domain e
  LEFT JOIN export_sts s USING (campaign_id, target_id);

-- ---- The MX question's outcome next to its rcode --------------------------
-- An answer with an error rcode (SERVFAIL, REFUSED, ...) was stored with
-- outcome 'ok' (a response was parsed); it is 'rcode_error' now
-- (resolver_outcome_str), so no record says ok next to SERVFAIL. Rows
-- stored before are brought in line.
UPDATE dns_rrset SET outcome = 'rcode_error'
 WHERE outcome = 'ok' AND rcode IS NOT NULL
   AND rcode NOT IN ('NOERROR', 'NXDOMAIN');
COMMENT ON COLUMN dns_rrset.outcome IS
    'How the question ended: ok (an answer with NOERROR or NXDOMAIN), '
    'rcode_error (an answer with another rcode: SERVFAIL, REFUSED, ...; see '
    'rcode), timeout, malformed, bad_name, no_memory, conn_refused, error, '
    'cancelled.';
