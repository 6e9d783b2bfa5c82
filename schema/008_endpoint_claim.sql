-- Endpoint claims: each endpoint (address, port, SNI) of a campaign is
-- probed once across all crawler processes, not only within one. A crawler
-- claims an endpoint before probing it; whoever finds it claimed waits for
-- the holder's endpoint row. Claims expire like batch leases (on the
-- database's clock, renewed by the holder's heartbeat), so the endpoints of
-- a crawler that died are taken over by the others.

CREATE TABLE endpoint_claim (
    campaign_id bigint      NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    ip          inet        NOT NULL,
    port        integer     NOT NULL,
    sni         text        NOT NULL,
    worker      text        NOT NULL,   -- the crawler holding it (host/pid)
    claimed_at  timestamptz NOT NULL,
    expires     timestamptz NOT NULL,   -- renewed while the holder lives
    attempts    integer     NOT NULL DEFAULT 1, -- 1 + takeovers
    done        boolean     NOT NULL DEFAULT false, -- endpoint row stored
    PRIMARY KEY (campaign_id, ip, port, sni)
) PARTITION BY LIST (campaign_id);

CREATE INDEX endpoint_claim_open ON endpoint_claim (campaign_id, worker)
    WHERE NOT done;

INSERT INTO campaign_partitioned VALUES ('endpoint_claim');
SELECT campaign_add_partitions(id) FROM campaign;

-- Claims the given endpoints for p_worker. Returns the 1-based positions of
-- those it now holds: unclaimed ones, and expired claims whose endpoint
-- row never came (their holder died; attempts > 1). The arrays must not
-- repeat an endpoint.
CREATE FUNCTION endpoint_claim_take(p_campaign bigint, p_worker text,
                                    p_lease interval, p_ip inet[],
                                    p_port integer[], p_sni text[])
RETURNS TABLE (i bigint, attempts integer) LANGUAGE sql AS $$
    WITH u AS (
        SELECT * FROM unnest(p_ip, p_port, p_sni)
                      WITH ORDINALITY AS u (ip, port, sni, i)
    ), took AS (
        INSERT INTO endpoint_claim AS c
               (campaign_id, ip, port, sni, worker, claimed_at, expires)
        SELECT p_campaign, u.ip, u.port, u.sni, p_worker, clock_timestamp(),
               clock_timestamp() + p_lease
          FROM u
        ON CONFLICT (campaign_id, ip, port, sni) DO UPDATE
           SET worker = EXCLUDED.worker, claimed_at = EXCLUDED.claimed_at,
               expires = EXCLUDED.expires, attempts = c.attempts + 1
         WHERE c.expires < clock_timestamp() AND NOT c.done
        RETURNING c.ip, c.port, c.sni, c.attempts
    )
    SELECT u.i, took.attempts FROM u JOIN took USING (ip, port, sni)
     ORDER BY u.i;
$$;

-- What a waiting crawler needs of endpoints another crawler has stored:
-- one row per presented certificate (leaf first), or one row with a NULL
-- certificate when there was no chain. Endpoints not stored yet are
-- absent.
CREATE FUNCTION endpoint_claim_results(p_campaign bigint, p_ip inet[],
                                       p_port integer[], p_sni text[])
RETURNS TABLE (i bigint, outcome text, starttls_ok boolean,
               trusted boolean, name_matches_mx boolean, k bigint, der bytea)
LANGUAGE sql STABLE AS $$
    SELECT u.i, e.outcome,
           e.outcome = 'starttls_ok' AND e.tls_version IS NOT NULL,
           coalesce(e.trusted, false), coalesce(e.name_matches_mx, false),
           h.k, c.der
      FROM unnest(p_ip, p_port, p_sni) WITH ORDINALITY AS u (ip, port, sni, i)
      JOIN endpoint e ON e.campaign_id = p_campaign AND e.ip = u.ip
                     AND e.port = u.port AND e.sni = u.sni
      LEFT JOIN LATERAL unnest(e.chain) WITH ORDINALITY AS h (sha256, k)
             ON true
      LEFT JOIN certificate c ON c.sha256 = h.sha256
     ORDER BY u.i, h.k;
$$;

-- Marks claims done (their endpoint rows were stored in the same
-- transaction) and tells listening crawlers to look.
CREATE FUNCTION endpoint_claim_finish(p_campaign bigint, p_ip inet[],
                                      p_port integer[], p_sni text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    UPDATE endpoint_claim c SET done = true
      FROM unnest(p_ip, p_port, p_sni) AS u (ip, port, sni)
     WHERE c.campaign_id = p_campaign AND c.ip = u.ip AND c.port = u.port
       AND c.sni = u.sni;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_notify('mxcrawl_endpoint', p_campaign::text);
    RETURN n;
END $$;

-- Heartbeat: extends the claims p_worker holds and has not finished.
CREATE FUNCTION endpoint_claim_renew(p_campaign bigint, p_worker text,
                                     p_lease interval)
RETURNS integer LANGUAGE sql AS $$
    WITH u AS (
        UPDATE endpoint_claim SET expires = clock_timestamp() + p_lease
         WHERE campaign_id = p_campaign AND worker = p_worker AND NOT done
        RETURNING 1
    )
    SELECT count(*)::integer FROM u;
$$;
