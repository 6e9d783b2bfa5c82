-- scripts/bench-report.sql: the SQL of `scripts/bench --report-db`, which
-- builds a database of one scanned campaign and campaigns replicated from
-- it (two of 1M domains, smaller ones), then times report and export.
--
-- Loaded into the bench's private database (never a user's) by
-- scripts/bench; everything it makes lives in the schema "bench".
--
-- How a campaign is replicated (bench.make_targets, then bench.fill):
--
--  * Names. The source campaign's scanned domains are numbered 0..n-1 in
--    target order. Line i (1-based) of a new campaign's target list is
--    source domain (j-1) % n in copy (j-1) / n, with j = i (variant 'a')
--    or j = i + N/100 (variant 'b': the first 1 % of 'a's names are gone,
--    1 % new ones follow at the end). Copy k renames a domain by appending
--    "-ck" to its first label (d1.pop.test -> d1-c3.pop.test). The list is
--    written as Tranco CSV (rank = line) and imported by mxcrawl itself
--    (`scan --import-only`), so the campaign, its queue and its partitions
--    are made as for any campaign.
--  * Facts. Each new domain gets a copy of every per-domain row (every
--    campaign-partitioned table with a target_id) of its source domain,
--    with campaign_id and target_id replaced, and every name that is the
--    source domain or under it (columns domain, qname, host, sni,
--    tlsa_name, registrable) renamed to the new domain. Variant 'b' takes
--    the facts of every tenth domain (j % 10 = 0) from the next source
--    domain instead, so that --compare has changes to count.
--  * Endpoints. A domain's own MX host is renamed with the domain, so
--    each copy has endpoints of its own (same address, new SNI): a host
--    under the domain (mx.d1.pop.test -> mx.d1-c3.pop.test) and a host
--    that no other domain of the source names (the testbed's self-hosted
--    mx-d1.h.pop0 -> mx-d1-c3.h.pop0; names under it, such as the TLSA
--    name _25._tcp.mx-d1.h.pop0, with it). A provider's host (named by
--    two domains or more) keeps its name and its endpoint is one row per
--    campaign, shared by every domain that uses it, as real providers
--    are. Per-endpoint tables (endpoint, handshake_record,
--    endpoint_claim, endpoint_judgement) are copied once per distinct
--    (address, port, SNI) the new domain_endpoint rows name; endpoints no
--    domain of the source names are copied as they are. Certificates
--    (not partitioned) are shared as they are. zstd dictionaries belong
--    to a campaign (export reads its own): the source's are copied and
--    the copied handshake records point at the copies (bench.copy_dicts).
--  * Not renamed: names inside arrays (domain_dns.apex_cname, dns_rrset
--    .cname and .records, domain_mx.cname) and inside bytea (transcripts,
--    handshake records, policy bodies).
--  * Row order. INSERT ... SELECT writes the rows in the order of its
--    join, not of the targets, while a crawler writes them batch by batch
--    in target order; an index scan of such a heap jumps around it (seen:
--    6-8 times slower). So each of the campaign's partitions is then
--    rewritten in primary-key order (bench.cluster: CLUSTER ... USING its
--    primary key), which is target order for the per-domain tables.
--  * The campaign gets the source's config and a copy of its scan runs
--    (provenance says "replicated by scripts/bench"), its batches are
--    marked done, its state 'done', and campaign_analyze() gathers its
--    statistics, as the crawler does at the end of a scan.
-- A table registered in campaign_partitioned that is neither per domain
-- (target_id), per endpoint (ip, port, sni) nor the queue stops bench.fill
-- with an error: a new fact table must be handled here, not skipped.

CREATE SCHEMA IF NOT EXISTS bench;

-- NAME with the source domain SRC (or its suffix) replaced by DST, or,
-- when NAME is one of the domain's own hosts OWN or under one, that host
-- with SFX appended to its first label.
CREATE OR REPLACE FUNCTION bench.rename(name text, src text, dst text,
                                        own text[], sfx text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN name = src THEN dst
                WHEN right(name, length(src) + 1) = '.' || src
                THEN left(name, length(name) - length(src)) || dst
                WHEN own IS NULL THEN name
                ELSE coalesce((
                    SELECT left(name, length(name) - length(o))
                           || regexp_replace(o, '^([^.]+)', '\1' || sfx)
                      FROM unnest(own) o
                     WHERE name = o OR right(name, length(o) + 1) = '.' || o
                     LIMIT 1), name) END
$$;

-- The generated target lists: line, new name, the source domain whose
-- facts it gets.
CREATE TABLE IF NOT EXISTS bench.gen (
    campaign   text   NOT NULL,
    line       bigint NOT NULL,
    domain     text   NOT NULL,
    src_tid    bigint NOT NULL,
    src_domain text   NOT NULL,
    copy       bigint NOT NULL,
    PRIMARY KEY (campaign, line)
);

-- Fills bench.gen for the campaign P_NAME of P_N lines from the scanned
-- domains of campaign P_SRC (see the top of this file); returns P_N.
CREATE OR REPLACE FUNCTION bench.make_targets(p_src bigint, p_name text,
                                              p_n bigint, p_variant text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    shift bigint := CASE p_variant WHEN 'a' THEN 0 WHEN 'b' THEN p_n / 100 END;
BEGIN
    IF shift IS NULL THEN
        RAISE EXCEPTION 'variant must be a or b, not %', p_variant;
    END IF;
    DELETE FROM bench.gen WHERE campaign = p_name;
    CREATE TEMP TABLE src ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY d.target_id) - 1 AS idx,
           d.target_id, d.domain
      FROM domain_dns d WHERE d.campaign_id = p_src;
    n := (SELECT count(*) FROM src);
    IF n = 0 THEN
        RAISE EXCEPTION 'campaign % has no scanned domain', p_src;
    END IF;
    CREATE INDEX ON src (idx);
    ANALYZE src;
    INSERT INTO bench.gen (campaign, line, domain, src_tid, src_domain, copy)
    SELECT p_name, g.j - shift,
           regexp_replace(nm.domain, '^([^.]+)', '\1-c' || ((g.j - 1) / n)),
           f.target_id, f.domain, (g.j - 1) / n
      FROM generate_series(1 + shift, p_n + shift) AS g (j)
      JOIN src nm ON nm.idx = (g.j - 1) % n
      JOIN src f ON f.idx = CASE WHEN p_variant = 'b' AND g.j % 10 = 0
                                 THEN g.j % n ELSE (g.j - 1) % n END;
    RETURN p_n;
END $$;

-- Rewrites every partition of campaign P_CAMPAIGN in the order of its
-- primary key; returns the partitions rewritten.
CREATE OR REPLACE FUNCTION bench.cluster(p_campaign bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN SELECT p.part, c.conindid::regclass AS pkey
               FROM campaign_partitions(p_campaign) p
               JOIN pg_constraint c ON c.conrelid = p.part AND c.contype = 'p'
              ORDER BY p.part::text LOOP
        EXECUTE format('CLUSTER %s USING %s', r.part, r.pkey);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- Gives campaign P_CAMPAIGN copies of the zstd dictionaries of campaign
-- P_SRC and points its handshake records at them; returns the records
-- updated.
CREATE OR REPLACE FUNCTION bench.copy_dicts(p_src bigint, p_campaign bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    d record;
    new_id bigint;
    n bigint := 0;
    k bigint;
BEGIN
    FOR d IN SELECT * FROM zstd_dict WHERE campaign_id = p_src ORDER BY id LOOP
        INSERT INTO zstd_dict (campaign_id, created, worker, samples, dict)
        VALUES (p_campaign, d.created, d.worker, d.samples, d.dict)
        RETURNING id INTO new_id;
        UPDATE handshake_record SET dict_id = new_id
         WHERE campaign_id = p_campaign AND dict_id = d.id;
        GET DIAGNOSTICS k = ROW_COUNT;
        n := n + k;
    END LOOP;
    RETURN n;
END $$;

-- Copies the facts of campaign P_SRC into the imported campaign P_NAME
-- (see the top of this file); returns the rows inserted.
CREATE OR REPLACE FUNCTION bench.fill(p_src bigint, p_name text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint := (SELECT id FROM campaign WHERE name = p_name);
    renamed constant text[] := ARRAY['domain', 'qname', 'host', 'sni',
                                     'tlsa_name', 'registrable'];
    t text;
    kind text;
    cols text;
    exprs text;
    n bigint;
    total bigint := 0;
    t0 timestamptz;
BEGIN
    IF cid IS NULL THEN
        RAISE EXCEPTION 'no campaign %', p_name;
    END IF;
    -- Each source domain's own hosts: named by no other domain.
    CREATE TEMP TABLE own ON COMMIT DROP AS
    SELECT x.target_id AS src_tid, array_agg(x.host) AS hosts
      FROM (SELECT host, min(target_id) AS target_id
              FROM domain_mx WHERE campaign_id = p_src
             GROUP BY host HAVING count(DISTINCT target_id) = 1) x
     GROUP BY x.target_id;
    CREATE TEMP TABLE m ON COMMIT DROP AS
    SELECT ct.target_id AS new_tid, g.src_tid, g.src_domain,
           ct.domain AS new_domain, o.hosts AS own, '-c' || g.copy AS sfx
      FROM bench.gen g
      JOIN campaign_target ct ON ct.campaign_id = cid AND ct.domain = g.domain
      LEFT JOIN own o ON o.src_tid = g.src_tid
     WHERE g.campaign = p_name;
    CREATE INDEX ON m (src_tid);
    ANALYZE m;
    RAISE NOTICE 'bench.fill %: % of % generated names imported', p_name,
        (SELECT count(*) FROM m),
        (SELECT count(*) FROM bench.gen WHERE campaign = p_name);
    -- The endpoints the new domains name, and those no source domain names.
    CREATE TEMP TABLE epm ON COMMIT DROP AS
    SELECT DISTINCT de.ip, de.port, de.sni,
           bench.rename(de.sni, m.src_domain, m.new_domain, m.own, m.sfx) AS new_sni
      FROM domain_endpoint de JOIN m ON m.src_tid = de.target_id
     WHERE de.campaign_id = p_src
    UNION
    SELECT e.ip, e.port, e.sni, e.sni
      FROM endpoint e
     WHERE e.campaign_id = p_src
       AND NOT EXISTS (SELECT 1 FROM domain_endpoint de
                        WHERE de.campaign_id = p_src AND de.ip = e.ip
                          AND de.port = e.port AND de.sni = e.sni);
    ANALYZE epm;

    FOR t IN SELECT table_name FROM campaign_partitioned ORDER BY table_name LOOP
        SELECT CASE
                 WHEN t IN ('campaign_target', 'campaign_batch') THEN 'queue'
                 WHEN bool_or(a.attname = 'target_id') THEN 'domain'
                 WHEN count(*) FILTER (WHERE a.attname IN ('ip', 'port', 'sni')) = 3
                 THEN 'endpoint'
               END
          INTO kind
          FROM pg_attribute a
         WHERE a.attrelid = t::regclass AND a.attnum > 0 AND NOT a.attisdropped;
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE
                   WHEN a.attname = 'campaign_id' THEN cid::text
                   WHEN a.attname = 'target_id' THEN 'm.new_tid'
                   WHEN a.attname = 'sni' AND kind = 'endpoint' THEN 'epm.new_sni'
                   WHEN a.attname = ANY (renamed)
                   THEN format('bench.rename(s.%I, m.src_domain, m.new_domain, m.own, m.sfx)', a.attname)
                   ELSE format('s.%I', a.attname) END, ', ' ORDER BY a.attnum)
          INTO cols, exprs
          FROM pg_attribute a
         WHERE a.attrelid = t::regclass AND a.attnum > 0
           AND NOT a.attisdropped AND a.attgenerated = '';
        t0 := clock_timestamp();
        IF kind = 'queue' THEN
            CONTINUE;
        ELSIF kind = 'domain' THEN
            EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I s '
                           'JOIN m ON m.src_tid = s.target_id '
                           'WHERE s.campaign_id = $1', t, cols, exprs, t)
              USING p_src;
        ELSIF kind = 'endpoint' THEN
            EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I s '
                           'JOIN epm ON epm.ip = s.ip AND epm.port = s.port '
                           'AND epm.sni = s.sni WHERE s.campaign_id = $1',
                           t, cols, exprs, t)
              USING p_src;
        ELSE
            RAISE EXCEPTION 'bench.fill: % is neither per domain (target_id) '
                'nor per endpoint (ip, port, sni): scripts/bench-report.sql '
                'must learn to copy it', t;
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
        RAISE NOTICE 'bench.fill %: % % rows (% s)', p_name, t, n,
            round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);
    END LOOP;

    PERFORM bench.copy_dicts(p_src, cid);
    UPDATE campaign c SET config = s.config
      FROM campaign s WHERE c.id = cid AND s.id = p_src;
    INSERT INTO campaign_run (campaign_id, kind, started, ended, end_state,
                              host, vantage, tool_version, resolver,
                              dnssec_validated, domains, provenance)
    SELECT cid, CASE r.kind WHEN 'create' THEN 'resume' ELSE r.kind END,
           r.started, r.ended, r.end_state, r.host, r.vantage,
           r.tool_version, r.resolver, r.dnssec_validated,
           (SELECT count(*) FROM m),
           r.provenance || jsonb_build_object('bench',
               format('facts replicated from campaign %s by scripts/bench --report-db', p_src))
      FROM campaign_run r
     WHERE r.campaign_id = p_src AND r.kind <> 'import'
     ORDER BY r.id;
    UPDATE campaign_batch SET done_at = clock_timestamp()
     WHERE campaign_id = cid AND done_at IS NULL;
    UPDATE campaign SET state = 'done' WHERE id = cid;
    t0 := clock_timestamp();
    PERFORM bench.cluster(cid);
    RAISE NOTICE 'bench.fill %: partitions rewritten in key order (% s)', p_name,
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);
    PERFORM campaign_analyze(cid);
    RETURN total;
END $$;
