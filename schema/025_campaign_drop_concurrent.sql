-- Dropping a campaign without blocking the others (issue M8 items 3 and
-- 7), and recovering a campaign whose import was interrupted.
--
-- 019's campaign_drop() dropped the campaign's partitions in one
-- transaction. DROP TABLE of a partition takes ACCESS EXCLUSIVE on its
-- parent: the drop waited for every reader of any campaign (an export
-- that runs for minutes), and while it waited every crawler and every
-- plain SELECT of every campaign queued behind it.
--
-- Now `mxcrawl campaign drop` (crawler/cmd_campaign.c) works in steps,
-- each in a transaction of its own, and can be interrupted anywhere:
--   1. campaign_drop_begin(): refuses while a crawler holds a lease (as
--      019's did) or its import is running, else sets the campaign's
--      state to 'dropping' and writes down its partitions
--      (campaign_drop_table). A 'dropping' campaign is leased by no
--      crawler, scanned, reported and exported by nobody, and stays
--      'dropping' until it is gone. A campaign left 'importing' by an
--      import that was killed is dropped like any other.
--   2. For each partition, `ALTER TABLE parent DETACH PARTITION p
--      CONCURRENTLY` (it cannot run in a function: two transactions of
--      its own). It takes SHARE UPDATE EXCLUSIVE on the parent, which
--      readers and writers do not conflict with, then waits, holding
--      nothing, for the transactions that were using the parent. A
--      detach cut short leaves the partition "detach pending" (invisible
--      to new queries); `DETACH PARTITION p FINALIZE` completes it. Only
--      one partition of a parent may be pending at a time.
--   3. campaign_drop_detached(): DROP TABLE of a detached partition: an
--      ACCESS EXCLUSIVE lock on that table only (nobody else reads it).
--   4. campaign_drop_finish(): deletes the campaign row, which takes its
--      rows of campaign_run, judgement_set and zstd_dict along.
-- Running `campaign drop` again carries on where the last one stopped.
--
-- (This migration may run twice: every statement is written so that it
-- can. None of the functions it (re)defines runs as its owner: a drop
-- needs the owner's role anyway, for DETACH.)
--
-- Step 3 locks only the campaign's own table if that table references
-- nothing: dropping a foreign key removes its triggers from the
-- referenced table under ACCESS EXCLUSIVE (PostgreSQL's
-- RemoveTriggerById), and every partition had foreign keys to campaign
-- (and judgement_set, zstd_dict), which every crawler, export and report
-- reads. Those foreign keys are dropped here. What they guarded holds by
-- construction: a campaign's partitions are created with its row and
-- removed before it (campaign_guard below refuses to delete a campaign
-- whose partitions exist), so no fact can name a campaign that does not
-- exist; the cascade from campaign is the drop's work now. Judgement
-- rows name judgement sets that `reverify` creates first in the same
-- campaign, and nothing deletes a judgement set but a campaign drop;
-- handshake records name dictionaries their crawler stored first.

ALTER TABLE campaign DROP CONSTRAINT campaign_state_check;
ALTER TABLE campaign ADD CONSTRAINT campaign_state_check
    CHECK (state IN ('importing', 'queued', 'running', 'done', 'cancelled',
                     'dropping'));

-- The foreign keys of every table partitioned by campaign_id (dropping
-- the parent's constraint drops the partitions' copies).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT k.conrelid::regclass AS tab, k.conname
               FROM pg_constraint k
               JOIN pg_partitioned_table pt ON pt.partrelid = k.conrelid
               JOIN pg_attribute a ON a.attrelid = pt.partrelid
                                  AND a.attnum = pt.partattrs[0]
              WHERE k.contype = 'f' AND k.conparentid = 0
                AND a.attname = 'campaign_id'
                AND NOT EXISTS (SELECT 1 FROM pg_inherits i
                                 WHERE i.inhrelid = k.conrelid)
              ORDER BY 1::text, 2
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tab, r.conname);
    END LOOP;
END $$;

-- The partitions of a campaign being dropped, written down when the drop
-- begins: a partition detached by an interrupted drop is a table of its
-- own, no longer found by campaign_partitions(). Names as regclass
-- prints them (quoted as needed).
CREATE TABLE IF NOT EXISTS campaign_drop_table (
    campaign_id bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    parent      text   NOT NULL,
    part        text   NOT NULL,
    PRIMARY KEY (campaign_id, part)
);
COMMENT ON TABLE campaign_drop_table IS
    'The tables of a campaign in state dropping that are not dropped yet.';

-- A crawler leases no batch of a campaign being dropped (as 010's, which
-- refused cancelled campaigns only).
CREATE OR REPLACE FUNCTION campaign_lease(p_campaign bigint, p_worker text,
                                          p_lease interval)
RETURNS TABLE (batch_no bigint, attempts integer) LANGUAGE sql AS $$
    UPDATE campaign_batch b
       SET leased_by = p_worker,
           lease_expires = clock_timestamp() + p_lease,
           attempts = b.attempts + 1
     WHERE (b.campaign_id, b.batch_no) = (
            SELECT o.campaign_id, o.batch_no
              FROM campaign_batch o
             WHERE o.campaign_id = p_campaign
               AND o.done_at IS NULL
               AND (o.lease_expires IS NULL OR o.lease_expires < clock_timestamp())
               AND NOT EXISTS (SELECT 1 FROM campaign c
                                WHERE c.id = p_campaign
                                  AND c.state IN ('cancelled', 'dropping'))
             ORDER BY o.batch_no
             LIMIT 1
               FOR UPDATE SKIP LOCKED)
    RETURNING b.batch_no, b.attempts;
$$;

-- A campaign row goes only after its partitions (no fact may outlive its
-- campaign now that no foreign key says so), and a campaign being
-- dropped stays 'dropping': a crawler that ends (state 'done') or an
-- import that commits ('queued') does not bring it back half dropped.
CREATE OR REPLACE FUNCTION campaign_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM campaign_partitions(OLD.id)) THEN
            RAISE EXCEPTION 'campaign % still has partitions', OLD.id
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Use `mxcrawl campaign drop`.';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state = 'dropping' THEN
        NEW.state := 'dropping';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER campaign_guard BEFORE DELETE OR UPDATE OF state ON campaign
    FOR EACH ROW EXECUTE FUNCTION campaign_guard();

-- The advisory lock an import holds (session level) from the transaction
-- that creates its campaign until it commits the targets or gives up: a
-- campaign left 'importing' whose lock nobody holds was cut short (its
-- importer crashed or was killed), and may be imported again or dropped.
CREATE OR REPLACE FUNCTION campaign_import_lock_key(p_campaign bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT hashtextextended('mxcrawl campaign import: ' || p_campaign, 0)
$$;

-- Step 1. Refuses (SQLSTATE 55006, object_in_use) while a crawler holds a
-- live lease on one of its batches or a live claim on one of its
-- endpoints (as 019's campaign_drop), or while its import is running;
-- refuses (42501) a role that does not own the partitioned tables (only
-- their owner may detach partitions). Else sets the state 'dropping' and
-- writes down its partitions. A campaign already 'dropping' (an
-- interrupted drop) goes on: partitions found now are added. Returns the
-- state it had and the bytes it takes now (campaign_size).
CREATE OR REPLACE FUNCTION campaign_drop_begin(p_campaign bigint)
RETURNS TABLE (was text, bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    live_batches bigint;
    live_claims bigint;
BEGIN
    -- (NO KEY: a running import's rows hold KEY SHARE on it.)
    SELECT state INTO was FROM campaign WHERE id = p_campaign
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no campaign %', p_campaign
            USING ERRCODE = 'no_data_found';
    END IF;
    IF EXISTS (SELECT 1 FROM campaign_partitions(p_campaign) p
                 JOIN pg_class c ON c.oid = p.parent
                WHERE NOT pg_has_role(c.relowner, 'USAGE')) THEN
        RAISE EXCEPTION 'only the owner of mxcrawl''s tables may drop a '
                        'campaign (its partitions are detached)'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as a member of mxcrawl_owner.';
    END IF;
    IF was = 'importing'
       AND NOT pg_try_advisory_xact_lock(campaign_import_lock_key(p_campaign)) THEN
        RAISE EXCEPTION 'campaign % is being imported right now', p_campaign
            USING ERRCODE = 'object_in_use',
                  DETAIL = 'its importer holds the import''s lock',
                  HINT = 'Let the import end, or stop it, then drop it.';
    END IF;
    IF was <> 'dropping' THEN
        -- Its own queue partitions first: no crawler can lease a batch
        -- between the check and the state change.
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
            RAISE EXCEPTION 'a crawler holds a lease on campaign %', p_campaign
                USING ERRCODE = 'object_in_use',
                      DETAIL = format('%s batch leases and %s endpoint claims '
                                      'have not expired', live_batches,
                                      live_claims),
                      HINT = 'Cancel it (mxcrawl campaign cancel) and let '
                             'its crawlers finish, or wait until their '
                             'leases expire.';
        END IF;
    END IF;
    SELECT coalesce(sum(s.bytes), 0)::bigint INTO bytes
      FROM campaign_size(p_campaign) s;
    UPDATE campaign SET state = 'dropping' WHERE id = p_campaign;
    INSERT INTO campaign_drop_table (campaign_id, parent, part)
    SELECT p_campaign, p.parent::text, p.part::text
      FROM campaign_partitions(p_campaign) p
    ON CONFLICT DO NOTHING;
    RETURN NEXT;
END $$;

-- The tables a drop has left to do, and what to do with each: 'attached'
-- (detach it concurrently), 'pending' (a detach was cut short: finalize
-- it), 'detached' (drop it), 'gone'. other_pending: another partition of
-- the same parent whose detach was cut short (an interrupted drop of
-- another campaign), which must be finalized first.
CREATE OR REPLACE FUNCTION campaign_drop_tables(p_campaign bigint)
RETURNS TABLE (parent text, part text, status text, other_pending text)
LANGUAGE sql STABLE AS $$
    SELECT d.parent, d.part,
           CASE WHEN to_regclass(d.part) IS NULL THEN 'gone'
                WHEN i.inhrelid IS NULL THEN 'detached'
                WHEN i.inhdetachpending THEN 'pending'
                ELSE 'attached' END,
           (SELECT o.inhrelid::regclass::text FROM pg_inherits o
             WHERE o.inhparent = to_regclass(d.parent)
               AND o.inhdetachpending
               AND o.inhrelid IS DISTINCT FROM to_regclass(d.part)
             LIMIT 1)
      FROM campaign_drop_table d
      LEFT JOIN pg_inherits i ON i.inhrelid = to_regclass(d.part)
     WHERE d.campaign_id = p_campaign
     ORDER BY d.parent, d.part
$$;

-- Step 3: drops one detached table of a campaign being dropped (ACCESS
-- EXCLUSIVE on that table only) and crosses it off, in one transaction.
CREATE OR REPLACE FUNCTION campaign_drop_detached(p_campaign bigint, p_part text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t regclass := to_regclass(p_part);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM campaign_drop_table d
                     JOIN campaign c ON c.id = d.campaign_id
                    WHERE d.campaign_id = p_campaign AND d.part = p_part
                      AND c.state = 'dropping') THEN
        RAISE EXCEPTION 'table % is not one of campaign %''s being dropped',
                        p_part, p_campaign;
    END IF;
    IF t IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = t) THEN
            RAISE EXCEPTION 'table % is still a partition', p_part
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        EXECUTE format('DROP TABLE %s', t);
    END IF;
    DELETE FROM campaign_drop_table
     WHERE campaign_id = p_campaign AND part = p_part;
END $$;

-- Step 4: deletes the campaign row once no table of it is left; its rows
-- of campaign_run, judgement_set, zstd_dict go by ON DELETE CASCADE.
CREATE OR REPLACE FUNCTION campaign_drop_finish(p_campaign bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM campaign WHERE id = p_campaign AND state = 'dropping'
        FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % is not being dropped', p_campaign
            USING ERRCODE = 'no_data_found';
    END IF;
    IF EXISTS (SELECT 1 FROM campaign_drop_table
                WHERE campaign_id = p_campaign)
       OR EXISTS (SELECT 1 FROM campaign_partitions(p_campaign)) THEN
        RAISE EXCEPTION 'campaign % still has tables', p_campaign
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    DELETE FROM campaign WHERE id = p_campaign;
END $$;

-- 019's one-transaction drop takes ACCESS EXCLUSIVE on every parent.
DROP FUNCTION IF EXISTS campaign_drop(bigint);
