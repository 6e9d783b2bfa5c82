-- Campaigns: one named scan of a target list, with the configuration it ran
-- with, where it ran from (vantage) and the mxcrawl version that ran it, so
-- that figures from different campaigns can be compared honestly.
CREATE TABLE campaign (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (name <> ''),
    created      timestamptz NOT NULL DEFAULT now(),
    config       jsonb NOT NULL DEFAULT '{}'::jsonb,
    tool_version text NOT NULL,
    vantage      text NOT NULL,
    -- queued: targets imported, nothing scanned; running; done; cancelled.
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'cancelled')),
    batch_size   integer NOT NULL CHECK (batch_size > 0),
    targets      bigint NOT NULL DEFAULT 0
);

COMMENT ON TABLE campaign IS
    'One named scan of a target list: configuration, vantage, tool version.';
