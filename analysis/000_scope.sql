-- The campaigns a report reads. A report must cost what its campaign
-- costs, whatever else the database holds, but a `WHERE campaign_id = 1`
-- on a figure view does not reach the fact tables under an aggregate
-- with a window function, a CTE read twice or a LATERAL join, so
-- PostgreSQL would read every campaign's partitions. Instead every fact
-- table is read through a scoped view of the same name in this schema
-- (domain_dns here for public.domain_dns), and the figure files, which
-- name the tables unqualified (`FROM domain_dns`), are created with this
-- schema first on the search_path, so they read the scoped views.
--
-- The scope is the session setting mxcrawl.campaigns: an array literal
-- of one or two campaign ids ('{1}', or '{2,1}' for the change figures
-- of a pair). figure_rows() sets it to the one campaign whose
-- figure it reads (report() and history() read every
-- figure through it, and the change figures with the pair) and restores
-- it after. Unset, every campaign is in scope (slow on a big database):
--
--   SET mxcrawl.campaigns = '{1}';
--   SELECT * FROM funnel WHERE campaign_id = 1;
--
-- How: each scoped view keeps the rows with
--   campaign_id = (SELECT scope_id(1)) OR campaign_id = (SELECT scope_id(2))
--   OR campaign_id BETWEEN (SELECT unscoped_lo()) AND (SELECT unscoped_hi())
-- where each sub-select is evaluated once per query: PostgreSQL prunes
-- partitions on such comparisons when the query runs (EXPLAIN ANALYZE
-- shows every other campaign's partition "never executed"), and they
-- cost nothing per row. The equalities let the planner estimate that
-- a campaign's partition is read whole (a range alone would be guessed
-- at 0.5 % of its rows, and nested loops chosen over a million rows);
-- the range is empty with a scope set and every id without. (A stable
-- expression instead of a sub-select would prune when the query starts,
-- but be evaluated again on every row: reading a setting costs half a
-- microsecond; and an array that is not a constant does not prune.)
--
-- A definition that must read across the scope names the table with its
-- schema (public.domain_dns).
--
-- Parallel query: a query that calls a function marked PARALLEL UNSAFE
-- (the default for a function of ours) is never planned in parallel, and
-- every query over the scoped views calls these. They only read settings
-- and this schema's tables, which PostgreSQL gives its parallel workers
-- (the settings, mxcrawl.campaigns included, and the transaction's own
-- writes), so they are PARALLEL SAFE; a new function that a view calls
-- must say the same, or no query over that view runs in parallel.

-- The i-th campaign of the scope (the first if there is only one), or
-- NULL with no scope set.
CREATE FUNCTION scope_id(i integer) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    s bigint[] := nullif(current_setting('mxcrawl.campaigns', true), '')::bigint[];
BEGIN
    IF cardinality(s) > 2 OR cardinality(s) = 0 OR array_position(s, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'mxcrawl.campaigns must name one or two campaigns, not %', s;
    END IF;
    RETURN s[least(i, cardinality(s))];
END $$;

-- Without a scope: the whole range of ids; with one: an empty range.
CREATE FUNCTION unscoped_lo() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN scope_id(1) IS NULL
                THEN '-9223372036854775808'::bigint ELSE 1 END
$$;

CREATE FUNCTION unscoped_hi() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN scope_id(1) IS NULL
                THEN '9223372036854775807'::bigint ELSE 0 END
$$;

-- The definition of the scoped view of the campaign-partitioned table t
-- (in schema facts). With p_campaign and p_rank_max it is a rank
-- bucket's view instead: only campaign p_campaign's rows of the targets
-- whose rank is at most p_rank_max, if the table has a row per target
-- (a target_id column: the domain-keyed tables); tables without one
-- (endpoint, certificate facts, ...) keep the campaign scope and are
-- reached through the domain-keyed ones. Both numbers are literals in a
-- bucket's view: the planner then prunes the other campaigns when it
-- plans, and estimates the bucket's size from the statistics of rank,
-- so that the top 1,000 of a million targets are read through the index
-- on (campaign_id, rank) (schema/024) and the fact tables' primary keys,
-- and a bucket of most of the campaign with hash joins.
CREATE FUNCTION scoped_view_def(facts text, t text,
                                p_campaign bigint DEFAULT NULL,
                                p_rank_max integer DEFAULT NULL)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    keyed boolean := EXISTS (
        SELECT 1 FROM pg_attribute a
         WHERE a.attrelid = format('%s.%I', facts, t)::regclass
           AND a.attname = 'target_id' AND NOT a.attisdropped);
BEGIN
    IF p_rank_max IS NULL OR NOT keyed THEN
        RETURN format($v$
            SELECT * FROM %2$s.%1$I
             WHERE campaign_id = (SELECT scope_id(1))
                OR campaign_id = (SELECT scope_id(2))
                OR campaign_id BETWEEN (SELECT unscoped_lo())
                                   AND (SELECT unscoped_hi())$v$,
                      t, facts);
    ELSIF t = 'campaign_target' THEN
        RETURN format($v$
            SELECT * FROM %2$s.%1$I
             WHERE campaign_id = %3$s AND rank <= %4$s$v$,
                      t, facts, p_campaign, p_rank_max);
    END IF;
    RETURN format($v$
        SELECT f.* FROM %2$s.%1$I f
         WHERE f.campaign_id = %3$s
           AND f.target_id IN (SELECT r.target_id FROM %2$s.campaign_target r
                                WHERE r.campaign_id = %3$s AND r.rank <= %4$s)$v$,
                  t, facts, p_campaign, p_rank_max);
END $$;

-- The schema of the fact tables (public, unless the database was
-- migrated with another search_path).
CREATE FUNCTION facts_schema() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT c.relnamespace::regnamespace::text FROM pg_class c
     WHERE c.oid = 'campaign_partitioned'::regclass
$$;

-- Narrows every scoped view of a domain-keyed table to the targets of
-- campaign p_campaign with rank <= p_rank_max (a rank bucket of the
-- report, report_ranked), or with NULLs puts back the campaign
-- scope. CREATE OR REPLACE VIEW keeps each view's identity, so every
-- building block and figure view over it reads the bucket from then on,
-- without being created again; like the views, this lasts only as long
-- as the report's transaction.
CREATE FUNCTION rank_scope(p_campaign bigint, p_rank_max integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    facts text := facts_schema();
    t text;
BEGIN
    FOR t IN EXECUTE format('SELECT table_name FROM %s.campaign_partitioned '
                            'ORDER BY 1', facts) LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %I AS %s', t,
                       scoped_view_def(facts, t, p_campaign,
                                                p_rank_max));
    END LOOP;
    -- The key of the blocks' cache (below).
    UPDATE rank_state
       SET campaign_id = CASE WHEN p_rank_max IS NOT NULL THEN p_campaign END,
           bound = coalesce(p_rank_max, 0);
END $$;

-- The scoped views: one per campaign-partitioned table (every table
-- campaign_create() makes partitions of), and the public views the
-- figures read, re-created over the scoped tables so that their inside
-- is pruned too (mta_sts_verdict reads its CTE twice: no predicate on
-- its output would reach its tables).
DO $$
DECLARE
    -- The schema of the fact tables (public, unless the database was
    -- migrated with another search_path).
    facts text := (SELECT c.relnamespace::regnamespace::text FROM pg_class c
                    WHERE c.oid = 'campaign_partitioned'::regclass);
    t text;
    defs text[] := '{}';
    names text[] := '{}';
    i integer;
BEGIN
    -- Read before the scoped views exist, the definitions name the
    -- public tables unqualified; created again below, the same names
    -- read the scoped views, first on the search_path.
    FOR t IN SELECT unnest(ARRAY['mta_sts_verdict']) LOOP
        names := names || t;
        defs := defs || pg_get_viewdef(format('%s.%I', facts, t)::regclass);
    END LOOP;
    FOR t IN SELECT table_name FROM campaign_partitioned ORDER BY 1 LOOP
        EXECUTE format('CREATE VIEW %I AS %s', t,
                       scoped_view_def(facts, t));
        EXECUTE format('COMMENT ON VIEW %I IS %L', t,
                       format('%s.%s of the campaigns in scope '
                              '(mxcrawl.campaigns, 000_scope.sql).', facts, t));
    END LOOP;
    FOR i IN 1 .. cardinality(names) LOOP
        EXECUTE format('CREATE VIEW %I AS %s', names[i],
                       rtrim(defs[i], ';'));
        EXECUTE format('COMMENT ON VIEW %I IS %L', names[i],
                       format('%s.%s over the scoped tables.', facts, names[i]));
    END LOOP;
END $$;

-- The cache of the building blocks (issue M8 item 2). A building block
-- (b_use: every contactable endpoint of every domain, b_domain,
-- b_ladder, ...) is read by many figures, and each figure's query would
-- compute it again: at a million domains b_use alone takes seconds each
-- time. So each block is stored once per campaign and rank bound
-- (cache_fill) in a table of this schema, cache_<block>, with
-- its statistics (ANALYZE, so that joins over it, such as the pair join
-- of the change figures, are planned on real numbers of rows and
-- distinct values), and the block's view reads that table when it is
-- filled, its definition (<block>_src) when not:
--
--   SELECT <columns> FROM cache_b_use c
--    WHERE c.campaign_id in scope AND c.cache_bound = the current bound
--      AND c.cache_xid = this transaction AND (SELECT cache_filled('b_use'))
--   UNION ALL
--   SELECT <columns> FROM b_use_src WHERE NOT (SELECT cache_filled('b_use'))
--
-- Each sub-select is evaluated once per query (a one-time filter), so
-- only one branch runs ("never executed" under the other). A view read
-- without a fill (psql, a file of --analysis-dir, every campaign in
-- scope) is therefore never empty: it computes the block as before.
--
-- Tables, not TEMP tables: a view of this schema cannot read a temporary
-- table. They are UNLOGGED and live in the report's transaction, which is
-- rolled back. Whoever installs the schema for good (psql) keeps rows of
-- earlier transactions in them: a fill counts only in the transaction
-- that made it (cache_key.xid, cache_xid on every row), so a later
-- transaction, which may see other facts (a reverify, a new scan), never
-- reads them and fills again.
--
-- The key: block, campaign, rank bound (0: the whole campaign;
-- rank_scope's bucket otherwise), so that a bucket never reads
-- the whole campaign's rows, nor the campaign a bucket's.

-- The blocks, in the order they are filled: a block may read blocks
-- registered before it (b_domain_use reads b_use), whose cache is then
-- filled already.
CREATE TABLE cache_block (
    name     text PRIMARY KEY,
    position serial NOT NULL UNIQUE,
    -- A row per target (domain): a rank bucket reads it. The others (per
    -- MX host, per endpoint) feed figure rows of other scopes, which a
    -- bucket never asks for: a bucket does not fill them.
    per_target boolean NOT NULL
);
CREATE UNLOGGED TABLE cache_key (
    block       text NOT NULL REFERENCES cache_block (name),
    campaign_id bigint NOT NULL,
    bound       integer NOT NULL,
    xid         xid8 NOT NULL,
    PRIMARY KEY (block, campaign_id, bound)
);
-- The rank bucket rank_scope has narrowed the scoped views to
-- (bound 0: none). A table, not a setting: it changes with the views, in
-- the same transaction, whatever function SET clauses restore.
CREATE TABLE rank_state (
    campaign_id bigint,
    bound       integer NOT NULL
);
INSERT INTO rank_state VALUES (NULL, 0);

CREATE FUNCTION cache_bound() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT bound FROM rank_state
$$;

-- This transaction's id, NULL before it wrote anything (then nothing of
-- it is filled either). PARALLEL RESTRICTED, not SAFE: PostgreSQL marks
-- pg_current_xact_id_if_assigned unsafe; the views evaluate it once per
-- query in the leader (a sub-select) and pass the value to the workers.
CREATE FUNCTION cache_xid() RETURNS xid8
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT pg_current_xact_id_if_assigned()
$$;

-- The campaigns in scope (one or two), NULL with none set.
CREATE FUNCTION scope_ids() RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN scope_id(1) IS NULL THEN NULL
                WHEN scope_id(2) = scope_id(1)
                     THEN ARRAY[scope_id(1)]
                ELSE ARRAY[scope_id(1), scope_id(2)] END
$$;

-- Whether block p_block is filled, in this transaction, for every
-- campaign in scope at the current bound. Never with no scope set, nor
-- with a bucket and a campaign in scope that is not the bucket's (its
-- scoped views are the campaign's, not the bucket's).
CREATE FUNCTION cache_filled(p_block text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.ids IS NOT NULL AND x.id IS NOT NULL
       AND (r.bound = 0 OR s.ids = ARRAY[r.campaign_id])
       AND NOT EXISTS (
           SELECT 1 FROM unnest(s.ids) c(id)
            WHERE NOT EXISTS (
                SELECT 1 FROM cache_key k
                 WHERE k.block = p_block AND k.campaign_id = c.id
                   AND k.bound = r.bound AND k.xid = x.id))
      FROM (SELECT scope_ids() AS ids) s,
           (SELECT cache_xid() AS id) x,
           rank_state r
$$;

-- Makes the view <p_block>, created just before, a cached
-- block: it becomes <p_block>_src (views created before this over it
-- keep reading the definition), the table cache_<p_block> gets its
-- columns and the key, and a new view of the old name reads one or the
-- other (see above). Call it right after the block's CREATE VIEW, so
-- that every view over the block reads the cached one.
CREATE FUNCTION cache_block(p_block text,
                            p_per_target boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    src text := p_block || '_src';
    cols text;
    note text := obj_description(format('%I', p_block)::regclass,
                                 'pg_class');
BEGIN
    EXECUTE format('ALTER VIEW %I RENAME TO %I', p_block, src);
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = format('%I', src)::regclass
       AND a.attnum > 0 AND NOT a.attisdropped;
    PERFORM cache_table(p_block);
    EXECUTE format($v$
        CREATE VIEW %1$I AS
        SELECT %2$s FROM %3$I c
         WHERE (c.campaign_id = (SELECT scope_id(1))
                OR c.campaign_id = (SELECT scope_id(2)))
           AND c.cache_bound = (SELECT cache_bound())
           AND c.cache_xid = (SELECT cache_xid())
           AND (SELECT cache_filled(%4$L))
        UNION ALL
        SELECT %2$s FROM %5$I
         WHERE NOT (SELECT cache_filled(%4$L))$v$,
                   p_block, cols, 'cache_' || p_block, p_block, src);
    EXECUTE format('COMMENT ON VIEW %I IS %L', p_block,
                   coalesce(note || ' ', '') || format(
                       '(Cached: cache_%s when filled, else '
                       '%s; 000_scope.sql.)', p_block, src));
    INSERT INTO cache_block (name, per_target)
    VALUES (p_block, p_per_target);
END $$;

-- Fills every cached block for every campaign in scope at the current
-- bound (in a rank bucket: the blocks per target only), unless filled
-- already in this transaction; each campaign's rows are computed with
-- the scope set to it alone, so that the fill reads its partitions only. Then ANALYZE: without statistics a table
-- made in this transaction is guessed at a few thousand rows. No scope
-- set: nothing (the views compute the blocks).
CREATE FUNCTION cache_fill() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    before text := current_setting('mxcrawl.campaigns', true);
    ids bigint[] := scope_ids();
    pair boolean := scope_is_pair();  -- (pair blocks, below)
    r rank_state;
    x xid8;
    c bigint;
    b text;
    filled boolean;
BEGIN
    SELECT * INTO r FROM rank_state;
    IF ids IS NULL OR (r.bound <> 0 AND ids <> ARRAY[r.campaign_id]) THEN
        RETURN;
    END IF;
    x := pg_current_xact_id();
    FOREACH c IN ARRAY ids LOOP
        PERFORM set_config('mxcrawl.campaigns', ARRAY[c]::text, true);
        FOR b IN SELECT k.name FROM cache_block k
                  WHERE (r.bound = 0 OR k.per_target)
                    AND (pair OR NOT k.pair_only) ORDER BY k.position LOOP
            SELECT EXISTS (SELECT 1 FROM cache_key k
                            WHERE k.block = b AND k.campaign_id = c
                              AND k.bound = r.bound AND k.xid = x)
              INTO filled;
            CONTINUE WHEN filled;
            EXECUTE format('DELETE FROM %I '
                           'WHERE campaign_id = $1 AND cache_bound = $2',
                           'cache_' || b) USING c, r.bound;
            PERFORM cache_fill_block(b, c, r.bound, x);
            INSERT INTO cache_key (block, campaign_id, bound, xid)
            VALUES (b, c, r.bound, x)
            ON CONFLICT (block, campaign_id, bound) DO UPDATE SET xid = x;
        END LOOP;
    END LOOP;
    PERFORM set_config('mxcrawl.campaigns', coalesce(before, ''), true);
END $$;

-- ===== Pair blocks (the section 'change', 080-084) =====================
-- The change figures follow each domain from one campaign into another,
-- joined by domain name. Over the fact tables that join is planned
-- blind: a partitioned table has no statistics of its own (ANALYZE of a
-- partition does not make them), so domain is guessed to have 200
-- distinct values and a join of two million-domain campaigns on it at
-- 5 * 10^9 rows and more (nested loops of 10^15 rows were chosen). So
-- each campaign's per-domain rows of these figures are a cached block
-- too, and the pair views join the cache tables themselves, with their
-- statistics, the campaign in every join key (080_ladder_change.sql).
-- A pair block is read by the change figures only: cache_fill() fills
-- it only when the scope names two campaigns, as report() sets
-- it for those figures ('{2,1}', or '{1,1}' for a campaign compared with
-- itself), never for a one-campaign report, a history or a rank bucket.
ALTER TABLE cache_block
    ADD COLUMN pair_only boolean NOT NULL DEFAULT false;

-- Whether mxcrawl.campaigns names a pair of campaigns (two ids, perhaps
-- the same one twice).
CREATE FUNCTION scope_is_pair() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(cardinality(nullif(current_setting('mxcrawl.campaigns', true),
                                       '')::bigint[]) = 2, false)
$$;

-- cache_block() for a block only the change figures read.
CREATE FUNCTION cache_pair_block(p_block text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cache_block(p_block, p_per_target => false);
    UPDATE cache_block SET pair_only = true WHERE name = p_block;
END $$;

-- A rank bucket's blocks from the campaign's (issue M8 item 2: a 1M
-- campaign's report in a minute). A block per target (cache_block's
-- p_per_target) has rows that depend on their own target's facts only
-- (and on facts without a target, such as endpoint, which a bucket's
-- scope keeps whole), so the bucket's rows are the campaign's rows of
-- the bucket's targets: when the campaign's block is filled in this
-- transaction (bound 0; report fills it before the buckets),
-- a bucket copies those rows instead of computing the block again
-- from the facts. A new per-target block must keep that property.
--
-- A bucket's rows are kept apart from the campaign's: the table
-- cache_<block> is partitioned by the bound, the campaigns' rows (bound
-- 0) in cache_<block>_r0, the buckets' in cache_<block>_rank, so that a
-- figure of a bucket reads the buckets' rows only (the block's view
-- compares cache_bound with a sub-select, and the other partition is
-- pruned when the query runs) instead of every row of the campaign
-- besides. Both are made here, with the schema: an unlogged table costs
-- an fsync when it is created, which a report should not wait for once
-- per bucket.
CREATE FUNCTION cache_table(p_block text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    cols text;
BEGIN
    SELECT string_agg(format('%I %s', a.attname,
                             format_type(a.atttypid, a.atttypmod)),
                      ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = format('%I', p_block || '_src')::regclass
       AND a.attnum > 0 AND NOT a.attisdropped;
    -- The partitions are UNLOGGED (a partitioned table holds no rows).
    -- The campaigns' rows are partitioned once more, by campaign: each
    -- campaign's are a table of their own, made by cache_fill_block.
    EXECUTE format('CREATE TABLE %I (cache_bound integer, '
                   'cache_xid xid8, %s) PARTITION BY LIST (cache_bound)',
                   'cache_' || p_block, cols);
    EXECUTE format('CREATE TABLE %I PARTITION OF '
                   '%I FOR VALUES IN (0) PARTITION BY LIST (campaign_id)',
                   'cache_' || p_block || '_r0', 'cache_' || p_block);
    EXECUTE format('CREATE UNLOGGED TABLE %I PARTITION OF '
                   '%I DEFAULT',
                   'cache_' || p_block || '_rank', 'cache_' || p_block);
END $$;

-- Fills block p_block of campaign p_campaign at bound p_bound (the
-- current scope), then gathers its statistics: without them a table
-- made in this transaction is guessed at a few thousand rows. The
-- campaign's rows (bound 0) are analysed with the whole table (joins
-- over it, such as the pair join of the change figures, are planned on
-- its statistics); a bucket's, in the buckets' partition only.
--
-- The campaign's rows are made by CREATE TABLE AS, then attached as the
-- campaign's partition of cache_<block>_r0 (cache_<block>_c<campaign>):
-- INSERT ... SELECT never runs in parallel (PostgreSQL 15), CREATE TABLE
-- AS may, and the blocks' fills are most of a 1M campaign's report.
-- A block registered with cache_hash_joins (b_use) is filled with
-- enable_mergejoin and enable_nestloop off, see there.
CREATE FUNCTION cache_fill_block(p_block text, p_campaign bigint,
                                          p_bound integer, p_xid xid8)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    part text := format('cache_%s_c%s', p_block, p_campaign);
    hash boolean := (SELECT k.hash_joins FROM cache_block k
                      WHERE k.name = p_block);
    mj text := current_setting('enable_mergejoin');
    dst text := current_setting('default_statistics_target');
    nl text := current_setting('enable_nestloop');
BEGIN
    IF p_bound <> 0 AND EXISTS (
           SELECT 1 FROM cache_key k
            WHERE k.block = p_block AND k.campaign_id = p_campaign
              AND k.bound = 0 AND k.xid = p_xid) THEN
        SELECT string_agg('s.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
          INTO cols
          FROM pg_attribute a
         WHERE a.attrelid = format('%I', p_block || '_src')::regclass
           AND a.attnum > 0 AND NOT a.attisdropped;
        -- The bucket's targets: its scoped view of campaign_target
        -- (rank_scope), whose literals let the planner prune the other
        -- campaigns' partitions and size the bucket from rank's
        -- statistics.
        EXECUTE format($q$
            INSERT INTO %1$I SELECT $1, $2, %2$s
              FROM %1$I s
             WHERE s.campaign_id = %3$s AND s.cache_bound = 0
               AND s.cache_xid = $2
               AND s.target_id IN (SELECT r.target_id FROM campaign_target r
                                    WHERE r.campaign_id = %3$s)$q$,
                       'cache_' || p_block, cols, p_campaign)
            USING p_bound, p_xid;
    ELSIF p_bound <> 0 THEN
        EXECUTE format('INSERT INTO %I SELECT $1, $2, s.* '
                       'FROM %I s', 'cache_' || p_block, p_block || '_src')
            USING p_bound, p_xid;
    ELSE
        -- Rows of an earlier transaction (a schema installed for good).
        IF to_regclass(format('%I', part)) IS NOT NULL THEN
            EXECUTE format('DROP TABLE %I', part);
        END IF;
        IF hash THEN
            PERFORM set_config('enable_mergejoin', 'off', true);
            PERFORM set_config('enable_nestloop', 'off', true);
        END IF;
        EXECUTE format('CREATE UNLOGGED TABLE %I AS '
                       'SELECT 0::integer AS cache_bound, %L::xid8 AS cache_xid, s.* '
                       'FROM %I s', part, p_xid, p_block || '_src');
        PERFORM set_config('enable_mergejoin', mj, true);
        PERFORM set_config('enable_nestloop', nl, true);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)',
                       'cache_' || p_block || '_r0', part, p_campaign);
    END IF;
    -- A small sample (3,000 rows, not 30,000): the statistics only have
    -- to size the joins and groupings over the block (a row count, and
    -- whether a column such as domain is unique, which a sample of any
    -- size tells), and the default sample of a wide block took longer to
    -- analyse than many figures take to compute: 1.5 to 2 s for b_use,
    -- b_sts or b_ladder of a 1M campaign, against 0.05 to 0.1 s.
    PERFORM set_config('default_statistics_target', '10', true);
    EXECUTE format('ANALYZE %I', 'cache_' || p_block
                   || CASE WHEN p_bound = 0 THEN '' ELSE '_rank' END);
    PERFORM set_config('default_statistics_target', dst, true);
END $$;

-- A block whose campaign fill joins big fact tables on many columns
-- (b_use: domain_mx, mx_address, domain_endpoint and endpoint, over a
-- million rows each at 1M domains; b_domain, b_domain_mx) is filled with
-- merge and nested-loop joins off: the fact tables are partitioned and have no statistics of
-- their own, and the planner otherwise sorts a million rows by (ip,
-- port, sni) for a merge join, with every parallel worker sorting the
-- inner side again, or probes an index a million times. A parallel hash
-- join shares one hash table among the workers. Measured on a 1M
-- campaign (2 cores, loaded): b_use 9.1 s CPU and 11.1 s wall merged and
-- serial, 8.5 s CPU and 8.2 s wall hashed with one worker; b_domain 2.2 s
-- CPU serial, 1.4 s in the leader and 1.2 s in a worker hashed;
-- b_domain_mx 2.7 s serial, 2.3 s and 1.0 s hashed. Not for every
-- block: one with a LATERAL join (b_sts, b_ladder) would run it as a
-- nested loop anyway, and other joins of it turn into far worse plans.
ALTER TABLE cache_block
    ADD COLUMN hash_joins boolean NOT NULL DEFAULT false;

CREATE FUNCTION cache_hash_joins(p_block text) RETURNS void
LANGUAGE sql AS $$
    UPDATE cache_block SET hash_joins = true WHERE name = p_block
$$;

-- Memory for the report's sorts and hashes (issue M8 item 2): with the
-- default 4MB, grouping a million domains' rows spilled to disk in
-- dozens of batches. For the rest of the transaction that creates the
-- schema (the report's), never lowering a larger setting.
DO $$
BEGIN
    IF pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('256MB') THEN
        PERFORM set_config('work_mem', '256MB', true);
    END IF;
END $$;
