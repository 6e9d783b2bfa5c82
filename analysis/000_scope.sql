-- The campaigns a report reads. A report must cost what its campaign
-- costs, whatever else the database holds, but a `WHERE campaign_id = 1`
-- on a figure view does not reach the fact tables under an aggregate
-- with a window function, a CTE read twice or a LATERAL join, so
-- PostgreSQL would read every campaign's partitions. Instead every fact
-- table is read through a scoped view of the same name in this schema,
-- analysis.domain_dns for public.domain_dns, and the figure files, which
-- name the tables unqualified (`FROM domain_dns`), are created with
-- `analysis` first on the search_path, so they read the scoped views.
--
-- The scope is the session setting mxcrawl.campaigns: an array literal
-- of one or two campaign ids ('{1}', or '{2,1}' for the change figures
-- of a pair). analysis.figure_rows() sets it to the one campaign whose
-- figure it reads (analysis.report() and analysis.history() read every
-- figure through it, and the change figures with the pair) and restores
-- it after. Unset, every campaign is in scope (slow on a big database):
--
--   SET mxcrawl.campaigns = '{1}';
--   SELECT * FROM analysis.funnel WHERE campaign_id = 1;
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

-- The i-th campaign of the scope (the first if there is only one), or
-- NULL with no scope set.
CREATE FUNCTION analysis.scope_id(i integer) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s bigint[] := nullif(current_setting('mxcrawl.campaigns', true), '')::bigint[];
BEGIN
    IF cardinality(s) > 2 OR cardinality(s) = 0 OR array_position(s, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'mxcrawl.campaigns must name one or two campaigns, not %', s;
    END IF;
    RETURN s[least(i, cardinality(s))];
END $$;

-- Without a scope: the whole range of ids; with one: an empty range.
CREATE FUNCTION analysis.unscoped_lo() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN analysis.scope_id(1) IS NULL
                THEN '-9223372036854775808'::bigint ELSE 1 END
$$;

CREATE FUNCTION analysis.unscoped_hi() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN analysis.scope_id(1) IS NULL
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
CREATE FUNCTION analysis.scoped_view_def(facts text, t text,
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
             WHERE campaign_id = (SELECT analysis.scope_id(1))
                OR campaign_id = (SELECT analysis.scope_id(2))
                OR campaign_id BETWEEN (SELECT analysis.unscoped_lo())
                                   AND (SELECT analysis.unscoped_hi())$v$,
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
CREATE FUNCTION analysis.facts_schema() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT c.relnamespace::regnamespace::text FROM pg_class c
     WHERE c.oid = 'campaign_partitioned'::regclass
$$;

-- Narrows every scoped view of a domain-keyed table to the targets of
-- campaign p_campaign with rank <= p_rank_max (a rank bucket of the
-- report, analysis.report_ranked), or with NULLs puts back the campaign
-- scope. CREATE OR REPLACE VIEW keeps each view's identity, so every
-- building block and figure view over it reads the bucket from then on,
-- without being created again; like the views, this lasts only as long
-- as the report's transaction.
CREATE FUNCTION analysis.rank_scope(p_campaign bigint, p_rank_max integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    facts text := analysis.facts_schema();
    t text;
BEGIN
    FOR t IN EXECUTE format('SELECT table_name FROM %s.campaign_partitioned '
                            'ORDER BY 1', facts) LOOP
        EXECUTE format('CREATE OR REPLACE VIEW analysis.%I AS %s', t,
                       analysis.scoped_view_def(facts, t, p_campaign,
                                                p_rank_max));
    END LOOP;
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
    -- With the session's search_path, the views' definitions name the
    -- public tables unqualified.
    FOR t IN SELECT unnest(ARRAY['mta_sts_verdict']) LOOP
        names := names || t;
        defs := defs || pg_get_viewdef(format('%s.%I', facts, t)::regclass);
    END LOOP;
    FOR t IN SELECT table_name FROM campaign_partitioned ORDER BY 1 LOOP
        EXECUTE format('CREATE VIEW analysis.%I AS %s', t,
                       analysis.scoped_view_def(facts, t));
        EXECUTE format('COMMENT ON VIEW analysis.%I IS %L', t,
                       format('%s.%s of the campaigns in scope '
                              '(mxcrawl.campaigns, 000_scope.sql).', facts, t));
    END LOOP;
    -- From here to the end of the transaction that creates the schema.
    PERFORM set_config('search_path',
                       'analysis, ' || current_setting('search_path'), true);
    FOR i IN 1 .. cardinality(names) LOOP
        EXECUTE format('CREATE VIEW analysis.%I AS %s', names[i],
                       rtrim(defs[i], ';'));
        EXECUTE format('COMMENT ON VIEW analysis.%I IS %L', names[i],
                       format('%s.%s over the scoped tables.', facts, names[i]));
    END LOOP;
END $$;
