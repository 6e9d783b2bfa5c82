-- The figure registry and the report query. Every other file in analysis/
-- creates one view per figure and registers it here, so renderers list
-- whatever is registered instead of a hard-coded set: a new figure (the
-- MTA-STS figures, the protection ladder) is one more file.
--
-- Every figure view has the same columns:
--   campaign_id  the campaign (a figure for one campaign: WHERE campaign_id = $1)
--   scope        the unit counted: 'domain', 'mx_host' (a distinct MX host
--                name), 'domain_mx' (a domain's MX host, i.e. a pair),
--                'endpoint' (a distinct probed ip, port, SNI) or 'address'
--   label        the row within the figure
--   ord          display order of the row (0: order by numerator)
--   numerator, denominator   counts of units of the scope
-- The views read only stored facts, so editing a definition here and
-- re-running `mxcrawl report --analysis-dir analysis` needs no re-scan.

DROP SCHEMA IF EXISTS analysis CASCADE;
CREATE SCHEMA analysis;
COMMENT ON SCHEMA analysis IS
    'Report figures: one view per figure over stored facts (mxcrawl report).';

-- across: the section's figures follow units from one campaign into
-- another (the compared one), so they exist only for a pair of campaigns
-- (`report --compare`); their views have a compare_id column beside
-- campaign_id, and the report lists them only when comparing.
CREATE TABLE section (
    name     text PRIMARY KEY,
    position integer NOT NULL UNIQUE,
    title    text NOT NULL,
    across   boolean NOT NULL DEFAULT false
);
INSERT INTO section (name, position, title, across) VALUES
    ('ladder', 0, 'Protection against an active attacker', false),
    ('funnel', 10, 'Funnel', false),
    ('transport', 20, 'Transport', false),
    ('certificates', 30, 'Certificates', false),
    ('composite', 40, 'Minimally sufficient and STS-ready', false),
    ('dnssec_dane', 50, 'DNSSEC and DANE', false),
    ('mta_sts', 60, 'MTA-STS and TLS-RPT', false),
    ('concentration', 70, 'Concentration', false),
    ('change', 80, 'Change since the compared campaign', true);

-- Figures whose every number depends on DNSSEC validation (the section
-- dnssec_dane as a whole, and these): a campaign scanned through a
-- resolver that did not validate (`scan --allow-unvalidated`, every
-- DNSSEC status 'unknown') cannot count them, and the report prints "not
-- measured" for them instead of numbers, never 0 %. The ladder's top rung
-- is DANE, and a domain is counted on its highest rung only, so without
-- DANE every rung of it (and every change across it) would move.
-- A new figure built on DNSSEC or DANE facts belongs here.
CREATE TABLE dnssec_dependent (
    name text PRIMARY KEY
);
INSERT INTO dnssec_dependent (name) VALUES
    ('protection_ladder'), ('ladder_change'), ('ladder_transition'),
    ('tlsa_stale');

-- kind: 'share' (each row is its own yes/no share of the denominator),
-- 'distribution' (rows of a scope partition the denominator), 'causes'
-- (a unit may count under several rows; rows need not add up).
CREATE TABLE figure (
    name        text PRIMARY KEY,
    position    integer NOT NULL UNIQUE,  -- the file's number decides the order
    section     text NOT NULL REFERENCES section (name),
    kind        text NOT NULL CHECK (kind IN ('share', 'distribution', 'causes')),
    title       text NOT NULL,
    denominator text NOT NULL,            -- the denominator, in words
    -- A headline figure: one whose change over time a reader looks for
    -- first. `report --history` gives its percent in every campaign of
    -- the history, and the HTML report draws its trend chart.
    headline    boolean NOT NULL DEFAULT false
);

-- Registers a figure view created just before; its definition is the
-- view's COMMENT, so it is written once. A figure of an `across` section
-- must have a compare_id column, any other must not.
CREATE FUNCTION register(p_position integer, p_name text,
                                  p_section text, p_kind text, p_title text,
                                  p_denominator text,
                                  p_headline boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v regclass := to_regclass('' || quote_ident(p_name));
    v_has_compare boolean;
    v_across boolean;
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION 'figure % has no view %', p_name, p_name;
    END IF;
    SELECT s.across INTO v_across FROM section s WHERE s.name = p_section;
    SELECT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = v AND attname = 'compare_id'
                      AND NOT attisdropped) INTO v_has_compare;
    IF v_across IS NOT NULL AND v_across <> v_has_compare THEN
        RAISE EXCEPTION 'figure %: a view of section % must % a compare_id column',
            p_name, p_section, CASE WHEN v_across THEN 'have' ELSE 'not have' END;
    END IF;
    INSERT INTO figure (name, position, section, kind, title,
                                 denominator, headline)
    VALUES (p_name, p_position, p_section, p_kind, p_title, p_denominator,
            p_headline);
END $$;

-- Percent with one decimal; NULL for an empty denominator.
CREATE FUNCTION pct(n bigint, d bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(100.0 * n / nullif(d, 0), 1)
$$;

-- Display order of scopes.
CREATE FUNCTION scope_order(s text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_position(
        ARRAY['domain', 'mx_host', 'domain_mx', 'endpoint', 'address'], s), 99)
$$;

-- The registered figures in report order, with their definitions.
CREATE VIEW figure_list AS
SELECT f.name, f.section, s.title AS section_title, f.kind, f.title,
       obj_description(('' || quote_ident(f.name))::regclass, 'pg_class')
           AS definition,
       f.denominator AS denominator_text,
       row_number() OVER (ORDER BY s.position, f.position) AS position,
       s.across, f.headline,
       f.section = 'dnssec_dane'
           OR f.name IN (SELECT d.name FROM dnssec_dependent d)
           AS needs_dnssec
  FROM figure f JOIN section s ON s.name = f.section;

-- The rows of one figure (not of a `change` figure) for one campaign,
-- computed with only that campaign's partitions in scope
-- (000_scope.sql): whatever else the database holds, it costs what the
-- campaign costs. The scope before is restored.
-- JIT is off: the planner costs a figure's query over every campaign's
-- partitions (it prunes them only when the query runs), so JIT would
-- compile each of them for seconds, more than most figures take.
CREATE FUNCTION figure_rows(p_figure text, p_campaign bigint)
RETURNS TABLE (campaign_id bigint, scope text, label text, ord bigint,
               numerator bigint, denominator bigint)
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    before text := current_setting('mxcrawl.campaigns', true);
BEGIN
    IF p_campaign IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('mxcrawl.campaigns', ARRAY[p_campaign]::text, true);
    -- The building blocks, once per campaign (000_scope.sql).
    PERFORM cache_fill();
    RETURN QUERY EXECUTE format($q$
        SELECT v.campaign_id, v.scope, v.label, v.ord::bigint,
               v.numerator::bigint, v.denominator::bigint
          FROM %1$I v WHERE v.campaign_id = $1
    $q$, p_figure) USING p_campaign;
    PERFORM set_config('mxcrawl.campaigns', coalesce(before, ''), true);
END $$;

-- The rows of every registered figure for one campaign, optionally beside
-- another (p_compare): the other campaign's numerator, denominator and
-- percent, and the delta in percentage points. A row present in only one
-- campaign counts 0 there, out of that campaign's denominator for the
-- scope. A figure without rows (nothing to count) returns none; the
-- renderers still list it from figure_list.
-- Zero rows, one rule for every figure (README.md, "Rows that count 0"):
-- a share figure shows every row its view gives, 0 included (each row is
-- its own question: "0 of 120" is an answer); a distribution or causes
-- figure hides a row that counts 0 in every campaign shown (the report's,
-- the compared one), since an absent category reads as none.
-- Figures of an `across` section are rows of the pair itself
-- (campaign_id = p_campaign, compare_id = p_compare): they have no other
-- campaign's numbers and no delta, and without p_compare no rows.
CREATE FUNCTION report(p_campaign bigint, p_compare bigint DEFAULT NULL)
RETURNS TABLE (figure text, scope text, label text, numerator bigint,
               denominator bigint, percent numeric, cmp_numerator bigint,
               cmp_denominator bigint, cmp_percent numeric, delta numeric)
-- Not STABLE: it fills the blocks' cache (000_scope.sql), and a STABLE
-- function would not see the rows it wrote.
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    f record;
    before text := current_setting('mxcrawl.campaigns', true);
BEGIN
    FOR f IN SELECT name, across, kind FROM figure_list
              ORDER BY position LOOP
        IF f.across THEN
            CONTINUE WHEN p_compare IS NULL;
            -- The pair's partitions only (000_scope.sql).
            PERFORM set_config('mxcrawl.campaigns',
                               ARRAY[p_campaign, p_compare]::text, true);
            PERFORM cache_fill();
            RETURN QUERY EXECUTE format($q$
                SELECT $3, v.scope, v.label, v.numerator::bigint,
                       v.denominator::bigint,
                       pct(v.numerator::bigint, v.denominator::bigint),
                       NULL::bigint, NULL::bigint, NULL::numeric, NULL::numeric
                  FROM %1$I v
                 WHERE v.campaign_id = $1 AND v.compare_id = $2
                   AND ($4 = 'share' OR v.numerator > 0)
                 ORDER BY scope_order(v.scope), v.scope, v.ord,
                          v.numerator DESC, v.label
            $q$, f.name)
            USING p_campaign, p_compare, f.name, f.kind;
            PERFORM set_config('mxcrawl.campaigns', coalesce(before, ''), true);
            CONTINUE;
        END IF;
        RETURN QUERY EXECUTE format($q$
            WITH a AS (SELECT v.scope, v.label, v.ord, v.numerator AS n,
                              v.denominator AS d
                         FROM figure_rows($3, $1) v),
                 b AS (SELECT v.scope, v.label, v.ord, v.numerator AS n,
                              v.denominator AS d
                         FROM figure_rows($3, $2) v),
                 ad AS (SELECT a.scope, max(a.d) AS d FROM a GROUP BY a.scope),
                 bd AS (SELECT b.scope, max(b.d) AS d FROM b GROUP BY b.scope),
                 j AS (SELECT coalesce(a.scope, b.scope) AS scope,
                              coalesce(a.label, b.label) AS label,
                              coalesce(a.ord, b.ord) AS ord,
                              CASE WHEN a.scope IS NOT NULL THEN a.n ELSE 0 END AS n,
                              coalesce(a.d, ad.d, 0) AS d,
                              CASE WHEN $2 IS NULL THEN NULL
                                   WHEN b.scope IS NOT NULL THEN b.n ELSE 0 END AS bn,
                              CASE WHEN $2 IS NULL THEN NULL
                                   ELSE coalesce(b.d, bd.d, 0) END AS bdd
                         FROM a FULL JOIN b ON a.scope = b.scope AND a.label = b.label
                         LEFT JOIN ad ON ad.scope = coalesce(a.scope, b.scope)
                         LEFT JOIN bd ON bd.scope = coalesce(a.scope, b.scope))
            SELECT $3, j.scope, j.label, j.n, j.d, pct(j.n, j.d),
                   j.bn, j.bdd, pct(j.bn, j.bdd),
                   pct(j.n, j.d) - pct(j.bn, j.bdd)
              FROM j
             WHERE $4 = 'share' OR j.n > 0 OR coalesce(j.bn, 0) > 0
             ORDER BY scope_order(j.scope), j.scope, j.ord,
                      j.n DESC, coalesce(j.bn, 0) DESC, j.label
        $q$, f.name)
        USING p_campaign, p_compare, f.name, f.kind;
    END LOOP;
END $$;

-- The history of the headline figures (`report --history`): for each
-- campaign of p_campaigns (in that order) every row of every headline
-- figure, as report gives it for that campaign alone. A row
-- that another campaign of the list has and this one lacks counts 0
-- here, out of this campaign's denominator for the scope (as in
-- report with p_compare), so every line of a trend has a point
-- in every campaign that counted its scope at all. Zero rows as in
-- report: a row of a distribution or causes figure that counts 0
-- in every campaign of the history is left out; a share's row never.
CREATE FUNCTION history(p_campaigns bigint[])
RETURNS TABLE (figure text, campaign_id bigint, scope text, label text,
               numerator bigint, denominator bigint, percent numeric)
-- Not STABLE: it fills the blocks' cache (000_scope.sql), and a STABLE
-- function would not see the rows it wrote.
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT name, kind FROM figure_list
              WHERE headline AND NOT across ORDER BY position LOOP
        RETURN QUERY EXECUTE format($q$
            WITH v AS (SELECT v.campaign_id, v.scope, v.label, v.ord,
                              v.numerator AS n, v.denominator AS d
                         FROM unnest($1) c(id),
                              LATERAL figure_rows($2, c.id) v),
                 sd AS (SELECT v.campaign_id, v.scope, max(v.d) AS d
                          FROM v GROUP BY v.campaign_id, v.scope),
                 l AS (SELECT v.scope, v.label, min(v.ord) AS ord
                         FROM v GROUP BY v.scope, v.label
                        HAVING $3 = 'share' OR max(v.n) > 0)
            SELECT $2, sd.campaign_id, l.scope, l.label, coalesce(v.n, 0),
                   sd.d, pct(coalesce(v.n, 0), sd.d)
              FROM sd
              JOIN l ON l.scope = sd.scope
              LEFT JOIN v ON v.campaign_id = sd.campaign_id
                         AND v.scope = l.scope AND v.label = l.label
             ORDER BY array_position($1, sd.campaign_id),
                      scope_order(l.scope), l.scope, l.ord,
                      coalesce(v.n, 0) DESC, l.label
        $q$, f.name)
        USING p_campaigns, f.name, f.kind;
    END LOOP;
END $$;

-- Rank buckets (`report --rank-buckets`, default top 1,000, 10,000,
-- 100,000 and 1,000,000): when the target list has ranks (Tranco), the
-- headline figures again for the targets whose rank is at most each
-- bound. Buckets are cumulative (the top 1,000 are among the top
-- 10,000), and only the figures' domain rows are given: papers break
-- figures down by the rank of a domain, and a domain has a rank where
-- an MX host or an endpoint (shared by domains of every rank) has none.
-- Targets without a rank (a list mixing ranked and unranked lines) are
-- in no bucket; they count in the campaign's own figures only.

-- A campaign's targets: all of them, those with a rank, the largest rank.
CREATE FUNCTION rank_info(p_campaign bigint)
RETURNS TABLE (targets bigint, ranked bigint, max_rank integer)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT count(*), count(rank), max(rank) FROM %s.campaign_target '
        'WHERE campaign_id = $1', facts_schema())
    USING p_campaign;
END $$;

-- Each bound's bucket: how many targets it holds (an index-only scan of
-- campaign_target (campaign_id, rank), schema/024), and whether that is
-- every target of the campaign (whole: the bucket's figures are the
-- campaign's own, and are not computed again). A bound of 1,000,000 on
-- a list of 300 ranked domains is the whole list.
CREATE FUNCTION rank_buckets(p_campaign bigint, p_bounds integer[])
RETURNS TABLE (bound integer, targets bigint, whole boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    facts text := facts_schema();
    total bigint;
    b integer;
BEGIN
    IF p_campaign IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('SELECT count(*) FROM %s.campaign_target '
                   'WHERE campaign_id = $1', facts)
       INTO total USING p_campaign;
    FOR b IN SELECT DISTINCT x FROM unnest(p_bounds) x ORDER BY 1 LOOP
        bound := b;
        EXECUTE format('SELECT count(*) FROM %s.campaign_target '
                       'WHERE campaign_id = $1 AND rank <= $2', facts)
           INTO targets USING p_campaign, b;
        whole := targets = total;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE TYPE report_line AS (
    pos bigint, figure text, scope text, label text, numerator bigint,
    denominator bigint, percent numeric, cmp_numerator bigint,
    cmp_denominator bigint, cmp_percent numeric, delta numeric);
CREATE TYPE bucket_line AS (
    figure text, label text, n bigint, d bigint);

-- The domain rows of every headline figure for the targets of campaign
-- p_campaign with rank <= p_bound: the domain-keyed scoped views are
-- narrowed to the bucket (rank_scope) while the figures' views
-- are read, then put back. Only the rows of scope 'domain' are asked
-- for, and PostgreSQL drops the other scopes' branches of a figure
-- (its MX hosts, its endpoints) before running it, so a bucket reads its
-- targets' facts and the endpoints they lead to, nothing else.
CREATE FUNCTION bucket_lines(p_campaign bigint, p_bound integer)
RETURNS SETOF bucket_line
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    f record;
    before text := current_setting('mxcrawl.campaigns', true);
BEGIN
    PERFORM rank_scope(p_campaign, p_bound);
    PERFORM set_config('mxcrawl.campaigns', ARRAY[p_campaign]::text, true);
    -- The bucket's blocks (keyed by the bound: 000_scope.sql).
    PERFORM cache_fill();
    FOR f IN SELECT name FROM figure_list
              WHERE headline AND NOT across ORDER BY position LOOP
        RETURN QUERY EXECUTE format($q$
            SELECT $2, v.label, v.numerator::bigint, v.denominator::bigint
              FROM %1$I v WHERE v.campaign_id = $1 AND v.scope = 'domain'
        $q$, f.name)
        USING p_campaign, f.name;
    END LOOP;
    PERFORM rank_scope(NULL, NULL);
    PERFORM set_config('mxcrawl.campaigns', coalesce(before, ''), true);
END $$;

-- report's rows (bucket NULL), then, if campaign p_campaign
-- has ranks, each bound's bucket (bucket = the bound, ascending): the
-- domain rows of every headline figure for the bucket's targets, in the
-- order of the campaign's rows, beside the same bucket of p_compare
-- (by its own ranks; NULL when it has none). Zero rows as in
-- report: a share's row always, a distribution's or causes'
-- only if it counts in the bucket or the compared one. A row's
-- denominator when the bucket has no unit of it is the bucket's for the
-- scope, or 0 (as in report). Cost: a bucket that holds every
-- target of its campaign takes the campaign's own rows (no second
-- pass); a bucket that holds as many targets as the one before it (the
-- same set: buckets are cumulative) takes that one's; any other costs
-- what its targets cost.
CREATE FUNCTION report_ranked(p_campaign bigint, p_compare bigint,
                                       p_bounds integer[])
RETURNS TABLE (bucket integer, figure text, scope text, label text,
               numerator bigint, denominator bigint, percent numeric,
               cmp_numerator bigint, cmp_denominator bigint,
               cmp_percent numeric, delta numeric)
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    main report_line[];
    head report_line[];
    a bucket_line[];
    b bucket_line[];
    a_prev bigint := -1;
    b_prev bigint := -1;
    b_ranked boolean;
    bk record;
BEGIN
    main := ARRAY(
        SELECT ROW(r.pos, r.figure, r.scope, r.label, r.numerator,
                   r.denominator, r.percent, r.cmp_numerator,
                   r.cmp_denominator, r.cmp_percent, r.delta)::report_line
          FROM report(p_campaign, p_compare)
               WITH ORDINALITY AS r(figure, scope, label, numerator,
                                    denominator, percent, cmp_numerator,
                                    cmp_denominator, cmp_percent, delta, pos));
    RETURN QUERY
        SELECT NULL::integer, m.figure, m.scope, m.label, m.numerator,
               m.denominator, m.percent, m.cmp_numerator, m.cmp_denominator,
               m.cmp_percent, m.delta
          FROM unnest(main) m ORDER BY m.pos;
    IF coalesce(cardinality(p_bounds), 0) = 0
       OR coalesce((SELECT i.ranked FROM rank_info(p_campaign) i), 0) = 0 THEN
        RETURN;
    END IF;
    b_ranked := p_compare IS NOT NULL
        AND coalesce((SELECT i.ranked FROM rank_info(p_compare) i), 0) > 0;
    -- The campaign's domain rows of the headline figures, in report order.
    head := ARRAY(SELECT m FROM unnest(main) m
                   WHERE m.scope = 'domain'
                     AND m.figure IN (SELECT f.name FROM figure f
                                       WHERE f.headline)
                   ORDER BY m.pos);
    FOR bk IN SELECT x.bound, x.targets AS a_targets, x.whole AS a_whole,
                     y.targets AS b_targets, y.whole AS b_whole
                FROM rank_buckets(p_campaign, p_bounds) x
                LEFT JOIN rank_buckets(CASE WHEN b_ranked THEN p_compare END,
                                                p_bounds) y USING (bound)
               ORDER BY x.bound LOOP
        IF bk.a_whole THEN
            a := ARRAY(SELECT ROW(h.figure, h.label, h.numerator,
                                  h.denominator)::bucket_line
                         FROM unnest(head) h);
        ELSIF bk.a_targets <> a_prev THEN
            a := ARRAY(SELECT l FROM bucket_lines(p_campaign, bk.bound) l);
        END IF;
        a_prev := bk.a_targets;
        IF NOT b_ranked THEN
            b := NULL;
        ELSIF bk.b_whole THEN
            b := ARRAY(SELECT ROW(h.figure, h.label, h.cmp_numerator,
                                  h.cmp_denominator)::bucket_line
                         FROM unnest(head) h);
        ELSIF bk.b_targets <> b_prev THEN
            b := ARRAY(SELECT l FROM bucket_lines(p_compare, bk.bound) l);
        END IF;
        b_prev := bk.b_targets;
        RETURN QUERY
            WITH av AS (SELECT * FROM unnest(a)),
                 bv AS (SELECT * FROM unnest(b)),
                 ad AS (SELECT av.figure, max(av.d) AS d FROM av GROUP BY av.figure),
                 bd AS (SELECT bv.figure, max(bv.d) AS d FROM bv GROUP BY bv.figure),
                 j AS (SELECT h.pos, h.figure, h.scope, h.label,
                              coalesce(av.n, 0) AS n, coalesce(av.d, ad.d, 0) AS d,
                              CASE WHEN b_ranked THEN coalesce(bv.n, 0) END AS bn,
                              CASE WHEN b_ranked THEN coalesce(bv.d, bd.d, 0) END AS bdd
                         FROM unnest(head) h
                         LEFT JOIN av ON av.figure = h.figure AND av.label = h.label
                         LEFT JOIN ad ON ad.figure = h.figure
                         LEFT JOIN bv ON bv.figure = h.figure AND bv.label = h.label
                         LEFT JOIN bd ON bd.figure = h.figure)
            SELECT bk.bound, j.figure, j.scope, j.label, j.n, j.d,
                   pct(j.n, j.d), j.bn, j.bdd, pct(j.bn, j.bdd),
                   pct(j.n, j.d) - pct(j.bn, j.bdd)
              FROM j JOIN figure f ON f.name = j.figure
             WHERE f.kind = 'share' OR j.n > 0 OR coalesce(j.bn, 0) > 0
             ORDER BY j.pos;
    END LOOP;
END $$;
