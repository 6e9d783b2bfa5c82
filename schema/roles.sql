-- mxcrawl's roles on a shared PostgreSQL server: the GRANT script.
--
-- Three group roles (NOLOGIN); a DBA makes login roles members of them:
--   mxcrawl_owner    owns the schema: runs `mxcrawl db migrate`, and may do
--                    anything the others may.
--   mxcrawl_crawler  what `mxcrawl scan` (and reverify, campaign cancel)
--                    needs: read everything, write the queue and the facts,
--                    create campaigns through campaign_create().
--   mxcrawl_analyst  read only: `report`, `export`, `campaign list|show`.
--
-- Run it after `mxcrawl db migrate`, in the database mxcrawl uses, as a
-- superuser (or as the owner of mxcrawl's tables with CREATEROLE):
--     psql -d mxcrawl -v ON_ERROR_STOP=1 -f schema/roles.sql
--     psql -d mxcrawl -c 'GRANT mxcrawl_analyst TO alice'
-- It is safe to run again; `mxcrawl db migrate` runs it again by itself
-- whenever it applies a migration and the roles exist, so tables added by
-- later migrations get their grants. The private cluster gets the same
-- roles (mxcrawl creates them there for `report --analysis-dir`).
--
-- The objects of mxcrawl's schema (the current schema when this runs) are
-- handed to mxcrawl_owner, so every member can migrate; give the owner's
-- login role its privileges by default with
--     ALTER ROLE bob SET role = 'mxcrawl_owner';
-- so that what its migrations create is owned by the group as well.
DO $roles$
DECLARE
    s text := current_schema();
    r record;
    t text;
BEGIN
    IF s IS NULL THEN
        RAISE EXCEPTION 'no current schema: run this in mxcrawl''s database';
    END IF;
    IF to_regclass(format('%I.schema_version', s)) IS NULL THEN
        RAISE EXCEPTION 'schema % has no mxcrawl tables: run `mxcrawl db migrate` first', s;
    END IF;
    FOREACH t IN ARRAY ARRAY['mxcrawl_owner', 'mxcrawl_crawler', 'mxcrawl_analyst'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = t) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', t);
        END IF;
    END LOOP;

    -- Handing objects to a role needs its membership (a superuser has it).
    IF NOT pg_has_role(current_user, 'mxcrawl_owner', 'MEMBER') THEN
        GRANT mxcrawl_owner TO CURRENT_USER;
    END IF;

    -- The owner: every table, view, sequence and function of the schema
    -- (partitions included, since only a table's owner may add them).
    FOR r IN SELECT c.oid::regclass AS obj,
                    CASE c.relkind WHEN 'v' THEN 'VIEW'
                                   WHEN 'm' THEN 'MATERIALIZED VIEW'
                                   WHEN 'S' THEN 'SEQUENCE'
                                   ELSE 'TABLE' END AS kind
               FROM pg_class c
              WHERE c.relnamespace = s::regnamespace
                AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                AND c.relowner <> 'mxcrawl_owner'::regrole
                -- a partition being detached (campaign drop) is going:
                -- ALTER of it is refused until its detach is done
                AND NOT EXISTS (SELECT 1 FROM pg_inherits i
                                 WHERE i.inhrelid = c.oid AND i.inhdetachpending)
                -- a sequence owned by a column follows its table
                AND NOT (c.relkind = 'S' AND EXISTS (
                         SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass
                            AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO mxcrawl_owner', r.kind, r.obj);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS obj
               FROM pg_proc p
              WHERE p.pronamespace = s::regnamespace
                AND p.proowner <> 'mxcrawl_owner'::regrole
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO mxcrawl_owner', r.obj);
    END LOOP;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO mxcrawl_crawler, mxcrawl_analyst', s);
    EXECUTE format('GRANT CREATE ON SCHEMA %I TO mxcrawl_owner', s);
    -- Both read every table and view: the crawler reads its queue and
    -- earlier facts, the analyst everything the report and export show.
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO mxcrawl_crawler, mxcrawl_analyst', s);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO mxcrawl_crawler', s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE mxcrawl_owner IN SCHEMA %I '
                   'GRANT SELECT ON TABLES TO mxcrawl_crawler, mxcrawl_analyst', s);

    -- The crawler writes these and nothing else (the campaign row and its
    -- partitions are made by campaign_create(), which runs as the owner).
    FOREACH t IN ARRAY ARRAY[
        'campaign',                   -- UPDATE: state (running, done, cancelled)
        'campaign_target',            -- INSERT: the imported list (COPY)
        'campaign_batch',             -- the queue: batches, leases, completion
        'campaign_run',               -- provenance of each scan run
        'domain_dns', 'dns_rrset', 'domain_mx', 'mx_address',
        'certificate', 'endpoint', 'domain_endpoint', 'endpoint_claim',
        'zstd_dict', 'handshake_record',
        'domain_mta_sts', 'domain_tlsrpt',
        'client_srv', 'client_srv_target', 'client_endpoint',
        'domain_client_endpoint', 'client_mx', 'domain_client_mx_endpoint',
        'judgement_set', 'endpoint_judgement', 'domain_endpoint_judgement',
        'domain_mx_judgement']
    LOOP
        IF to_regclass(format('%I.%I', s, t)) IS NOT NULL THEN
            EXECUTE format('GRANT INSERT, UPDATE ON %I.%I TO mxcrawl_crawler', s, t);
        END IF;
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS obj
               FROM pg_proc p
              WHERE p.pronamespace = s::regnamespace
                AND p.proname IN ('campaign_create', 'campaign_add_partitions',
                                  'campaign_analyze')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO mxcrawl_crawler', r.obj);
    END LOOP;

    -- The report creates its views in a schema of their own inside a
    -- transaction it always rolls back, so the analyst needs CREATE on the
    -- database (nothing it creates there is ever committed by mxcrawl);
    -- the crawler stages rows in temporary tables. Only the database's
    -- owner may grant these: a migrating owner without that right leaves
    -- them as they are.
    BEGIN
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO mxcrawl_crawler', current_database());
        EXECUTE format('GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %I TO mxcrawl_analyst', current_database());
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'cannot grant CONNECT, TEMPORARY, CREATE on database %: '
                      'the database''s owner must run schema/roles.sql', current_database();
    END;
END $roles$;
