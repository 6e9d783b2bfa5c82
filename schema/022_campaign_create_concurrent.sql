-- Campaigns never block each other (issue M8 item 3).
--
-- `CREATE TABLE ... PARTITION OF parent` takes an ACCESS EXCLUSIVE lock
-- on the parent: it waits behind every reader of any campaign (an export
-- that runs for minutes), and while it waits every other statement on
-- the table queues behind it, so every crawler stalled. And it ran in
-- the import's transaction, which kept the lock until the last target
-- was copied.
--
-- Now a partition is created as a table of its own (nothing else knows
-- it yet) and attached with ATTACH PARTITION, which takes SHARE UPDATE
-- EXCLUSIVE on the parent: readers and writers of other campaigns go on,
-- only other DDL on the parent waits. The table is empty, so ATTACH
-- scans nothing to prove the bound. Attaching also adds the partition's
-- foreign keys, which takes SHARE ROW EXCLUSIVE on the referenced tables
-- (campaign, judgement_set, zstd_dict): it waits for transactions that
-- write those tables, which are short (a crawler's batch). The importer
-- creates a campaign and its partitions in a transaction of its own,
-- with a lock timeout, and tries again after a timeout
-- (crawler/campaign.c), then copies the targets in a second transaction.
--
-- Between the two the campaign exists in the new state 'importing':
-- nothing scans it and `scan --campaign NAME` does not find it (as
-- before, when it was not committed yet). The import sets it 'queued'
-- in the transaction that commits the targets, or deletes it if the
-- import fails.

ALTER TABLE campaign DROP CONSTRAINT campaign_state_check;
ALTER TABLE campaign ADD CONSTRAINT campaign_state_check
    CHECK (state IN ('importing', 'queued', 'running', 'done', 'cancelled'));

CREATE OR REPLACE FUNCTION campaign_add_partitions(p_campaign bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text;
    p text;
BEGIN
    FOR t IN SELECT table_name FROM campaign_partitioned ORDER BY table_name LOOP
        p := t || '_' || p_campaign;
        CONTINUE WHEN to_regclass(p) IS NOT NULL;
        -- The parent's columns, defaults, generated columns, NOT NULL
        -- and CHECK constraints (ATTACH requires them); indexes and
        -- foreign keys come with ATTACH.
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS '
                       'INCLUDING GENERATED INCLUDING CONSTRAINTS '
                       'INCLUDING STORAGE INCLUDING COMPRESSION)', p, t);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)',
                       t, p, p_campaign);
    END LOOP;
END $$;

-- Creates a campaign in state 'importing' with its partitions; returns
-- its id. The caller commits it at once (a short transaction), then
-- imports the targets and sets it 'queued'.
CREATE OR REPLACE FUNCTION campaign_create(p_name text, p_config jsonb,
                                           p_tool_version text, p_vantage text,
                                           p_batch_size integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
BEGIN
    INSERT INTO campaign (name, config, tool_version, vantage, batch_size, state)
    VALUES (p_name, p_config, p_tool_version, p_vantage, p_batch_size, 'importing')
    RETURNING id INTO cid;
    PERFORM campaign_add_partitions(cid);
    RETURN cid;
END $$;

-- CREATE OR REPLACE FUNCTION resets a function's SECURITY DEFINER and SET
-- clauses: campaign_create() and campaign_add_partitions() must run as
-- their owner again (018), or only the owner could create a campaign.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure
               FROM pg_proc p
              WHERE p.pronamespace = current_schema()::regnamespace
                AND p.proname IN ('campaign_create', 'campaign_add_partitions')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
                       f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
