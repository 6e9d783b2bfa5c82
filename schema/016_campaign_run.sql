-- Provenance: how each run of a campaign was measured. A run is one
-- `mxcrawl scan` process working on the campaign: the one that created it,
-- and every --resume (several may run at once, on several machines). Each
-- stores, when it starts, the resolver and what it said of itself, the
-- canaries and their answers, the trust store, every scan option, the
-- versions of mxcrawl and its libraries, host and vantage; and when it
-- ends, its end time and how it ended. A reader of a figure can thus tell
-- how it was obtained, and whether DNSSEC was validated at all.

CREATE TABLE campaign_run (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id      bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    -- create: the run that created the campaign and scanned; import: it
    -- only created it (--import-only, nothing scanned, no resolver
    -- asked); resume: scan --resume.
    kind             text NOT NULL CHECK (kind IN ('create', 'import', 'resume')),
    started          timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended            timestamptz,
    -- done: the queue was empty when it stopped; interrupted (signal,
    -- resume it); failed; imported (import only). NULL: still running, or
    -- killed without a word.
    end_state        text CHECK (end_state IN ('done', 'interrupted', 'failed',
                                               'imported')),
    host             text NOT NULL,
    vantage          text NOT NULL,
    tool_version     text NOT NULL,
    resolver         text,
    -- Whether the resolver validated DNSSEC (the canaries answered secure
    -- and bogus); false only with --allow-unvalidated. NULL: no resolver
    -- was asked (import only).
    dnssec_validated boolean,
    domains          bigint,   -- domains this run scanned, at its end
    -- Everything else, as one JSON object (README.md, "Provenance").
    provenance       jsonb NOT NULL
);
CREATE INDEX campaign_run_campaign ON campaign_run (campaign_id, id);

COMMENT ON TABLE campaign_run IS
    'One scan process of a campaign: resolver, canaries, trust store, '
    'options, versions, host, start and end.';

-- Whether the campaign's DNSSEC facts were validated: false as soon as one
-- run scanned through a resolver that did not validate, true when every
-- run that scanned validated, NULL when nothing was scanned yet. A
-- campaign from before runs were recorded counts as not validated when it
-- stored a DNSSEC status 'unknown' (what a non-validating resolver gives).
CREATE FUNCTION campaign_dnssec_validated(p_campaign bigint)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM campaign_run
                      WHERE campaign_id = p_campaign
                        AND dnssec_validated IS NOT NULL)
        THEN (SELECT bool_and(dnssec_validated) FROM campaign_run
               WHERE campaign_id = p_campaign)
        WHEN EXISTS (SELECT 1 FROM dns_rrset
                      WHERE campaign_id = p_campaign AND dnssec = 'unknown')
        THEN false
        WHEN EXISTS (SELECT 1 FROM dns_rrset WHERE campaign_id = p_campaign)
        THEN true
    END
$$;

-- The campaign's provenance as one JSON document (`export --metadata`):
-- the campaign row, whether DNSSEC was validated, and every run in order
-- (run numbers from 1), each run's columns beside its provenance object.
CREATE FUNCTION campaign_provenance(p_campaign bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'campaign', jsonb_build_object(
            'id', c.id, 'name', c.name, 'created', c.created,
            'state', c.state, 'vantage', c.vantage,
            'tool_version', c.tool_version, 'targets', c.targets,
            'batch_size', c.batch_size, 'config', c.config),
        'dnssec_validated', campaign_dnssec_validated(c.id),
        'runs', coalesce((
            SELECT jsonb_agg(r.provenance || jsonb_build_object(
                       'run', r.n, 'kind', r.kind, 'started', r.started,
                       'ended', r.ended, 'end_state', r.end_state,
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

-- The same as lines for reports and `campaign show`: per run (from 1) the
-- leaves of its document as (key, value), keys as dotted paths
-- ("resolver.version_bind"), sorted by key within a run; arrays are kept
-- whole as JSON text.
CREATE FUNCTION campaign_provenance_lines(p_campaign bigint)
RETURNS TABLE (run bigint, key text, value text)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE r AS (
        SELECT (x ->> 'run')::bigint AS run, x AS doc
          FROM jsonb_array_elements(campaign_provenance(p_campaign) -> 'runs') x
    ), t(run, key, value) AS (
        SELECT r.run, e.key, e.value FROM r, jsonb_each(r.doc) e
        UNION ALL
        SELECT t.run, t.key || '.' || e.key, e.value
          FROM t, jsonb_each(t.value) e
         WHERE jsonb_typeof(t.value) = 'object'
    )
    SELECT run, key, CASE WHEN jsonb_typeof(value) = 'string'
                          THEN value #>> '{}' ELSE value::text END
      FROM t
     WHERE jsonb_typeof(value) <> 'object'
     ORDER BY run, key
$$;
