-- The campaign queue. Targets are numbered in the order of the imported
-- list and grouped into fixed batches at import; a crawler leases a whole
-- batch (campaign_lease), scans it, and commits the results together with
-- the batch's completion in one transaction. A lease that is not completed
-- expires on the database's clock and the batch is taken again, so a
-- killed crawler loses nothing and a resumed one redoes only unfinished
-- batches. Both tables are partitioned by campaign, so a campaign can be
-- dropped or archived whole.

CREATE TABLE campaign_target (
    campaign_id bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id   bigint  NOT NULL,  -- 1-based position in the imported list
    batch_no    bigint  NOT NULL,  -- (target_id - 1) / campaign.batch_size
    domain      text    NOT NULL,  -- normalised: lower case, A-labels, no trailing dot
    source_line bigint  NOT NULL,  -- line of the target file it came from
    rank        integer,           -- Tranco rank, when the list has one
    PRIMARY KEY (campaign_id, target_id),
    -- The last guard against scanning a domain twice in one campaign.
    UNIQUE (campaign_id, domain)
) PARTITION BY LIST (campaign_id);

CREATE TABLE campaign_batch (
    campaign_id   bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    batch_no      bigint  NOT NULL,
    targets       integer NOT NULL CHECK (targets > 0),
    leased_by     text,            -- worker id (host/pid/worker) of the last lease
    lease_expires timestamptz,     -- database clock; NULL: never leased
    attempts      integer NOT NULL DEFAULT 0,
    done_at       timestamptz,     -- set in the transaction that stores results
    PRIMARY KEY (campaign_id, batch_no)
) PARTITION BY LIST (campaign_id);

-- Leasing looks only at unfinished batches.
CREATE INDEX campaign_batch_open ON campaign_batch (campaign_id, batch_no)
    WHERE done_at IS NULL;

-- Creates a campaign and its queue partitions; returns its id.
CREATE FUNCTION campaign_create(p_name text, p_config jsonb,
                                p_tool_version text, p_vantage text,
                                p_batch_size integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
BEGIN
    INSERT INTO campaign (name, config, tool_version, vantage, batch_size)
    VALUES (p_name, p_config, p_tool_version, p_vantage, p_batch_size)
    RETURNING id INTO cid;
    EXECUTE format('CREATE TABLE %I PARTITION OF campaign_target FOR VALUES IN (%s)',
                   'campaign_target_' || cid, cid);
    EXECUTE format('CREATE TABLE %I PARTITION OF campaign_batch FOR VALUES IN (%s)',
                   'campaign_batch_' || cid, cid);
    RETURN cid;
END $$;

-- Builds the batch rows of a campaign from its imported targets.
CREATE FUNCTION campaign_make_batches(p_campaign bigint)
RETURNS bigint LANGUAGE sql AS $$
    WITH b AS (
        INSERT INTO campaign_batch (campaign_id, batch_no, targets)
        SELECT campaign_id, batch_no, count(*)
          FROM campaign_target
         WHERE campaign_id = p_campaign
         GROUP BY campaign_id, batch_no
        RETURNING targets
    )
    UPDATE campaign SET targets = (SELECT coalesce(sum(targets), 0) FROM b)
     WHERE id = p_campaign
    RETURNING targets;
$$;

-- Leases the next unfinished batch whose lease is free or expired, for
-- p_lease; returns its number, or no row when none is left. SKIP LOCKED
-- lets any number of crawlers lease concurrently without waiting on each
-- other or taking the same batch.
CREATE FUNCTION campaign_lease(p_campaign bigint, p_worker text,
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
             ORDER BY o.batch_no
             LIMIT 1
               FOR UPDATE SKIP LOCKED)
    RETURNING b.batch_no, b.attempts;
$$;
