-- Concurrent probes per address, capped across all crawler processes of
-- a campaign: an open claim (not done, not expired) is a probe under way
-- or about to be, so endpoint_claim_take refuses a claim at an address
-- where p_per_ip claims, of any port, SNI, service or crawler, are open.
-- A refused endpoint stays unclaimed; its crawler tries it again on the
-- cadence at which it looks for expired claims to take over, until a
-- probe at that address has finished (its claim done) or its holder has
-- died (its claim expired) or stopped (released).
--
-- Takers are serialised per address, so that two crawlers never both see
-- p_per_ip - 1 open claims and both take one: each take locks, for the
-- rest of its transaction, a stripe of the (campaign, address) space, in
-- ascending order (two takers cannot wait for each other). At most
-- ENDPOINT_CLAIM_STRIPES (128) locks per statement, transaction-level
-- only, so the shared lock table is never filled by claims; addresses
-- sharing a stripe only wait for each other's short statement.

CREATE INDEX endpoint_claim_open_ip ON endpoint_claim (campaign_id, ip)
    WHERE NOT done;

DROP FUNCTION endpoint_claim_take(bigint, text, interval, inet[], integer[],
                                  text[], smallint[]);

-- Claims the given endpoints for p_worker, as 031's, but at most so many
-- that no address has more than p_per_ip open claims (0: no cap), the
-- earlier positions first. Returns the 1-based positions of those it now
-- holds (attempts >= 1) and of those the cap refused (attempts 0); the
-- others are held by another crawler (not expired) or done.
CREATE FUNCTION endpoint_claim_take(p_campaign bigint, p_worker text,
                                    p_lease interval, p_ip inet[],
                                    p_port integer[], p_sni text[],
                                    p_service smallint[], p_per_ip integer)
RETURNS TABLE (i bigint, attempts integer) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    stripe integer;
BEGIN
    IF p_per_ip > 0 THEN
        -- Key 1 "epip" (ASCII), key 2 the stripe.
        FOR stripe IN
            SELECT DISTINCT abs(hashtext(p_campaign::text || ' ' || host(a)) % 128)
              FROM unnest(p_ip) AS a ORDER BY 1
        LOOP
            PERFORM pg_advisory_xact_lock(1701865840, stripe);
        END LOOP;
    END IF;
    -- A new statement: its snapshot sees every claim committed by the
    -- takers this one waited for.
    RETURN QUERY
    WITH u AS (
        SELECT * FROM unnest(p_ip, p_port, p_sni, p_service)
                      WITH ORDINALITY AS u (ip, port, sni, service, i)
    ), open AS (
        SELECT c.ip, count(*) AS n
          FROM endpoint_claim c
         WHERE p_per_ip > 0 AND c.campaign_id = p_campaign
           AND c.ip IN (SELECT u.ip FROM u) AND NOT c.done
           AND c.expires >= clock_timestamp()
         GROUP BY c.ip
    ), free AS (
        -- Unclaimed, or expired unfinished: what the insert may take.
        SELECT u.*, row_number() OVER (PARTITION BY u.ip ORDER BY u.i) AS rn
          FROM u
          LEFT JOIN endpoint_claim c
                 ON c.campaign_id = p_campaign AND c.ip = u.ip
                AND c.port = u.port AND c.sni = u.sni
                AND c.service = u.service
         WHERE c.campaign_id IS NULL
            OR (c.expires < clock_timestamp() AND NOT c.done)
    ), pick AS (
        SELECT f.*, p_per_ip <= 0 OR f.rn + coalesce(o.n, 0) <= p_per_ip AS ok
          FROM free f LEFT JOIN open o ON o.ip = f.ip
    ), took AS (
        INSERT INTO endpoint_claim AS c
               (campaign_id, ip, port, sni, service, worker, claimed_at,
                expires)
        SELECT p_campaign, k.ip, k.port, k.sni, k.service, p_worker,
               clock_timestamp(), clock_timestamp() + p_lease
          FROM pick k WHERE k.ok
        ON CONFLICT (campaign_id, ip, port, sni, service) DO UPDATE
           SET worker = EXCLUDED.worker, claimed_at = EXCLUDED.claimed_at,
               expires = EXCLUDED.expires, attempts = c.attempts + 1
         WHERE c.expires < clock_timestamp() AND NOT c.done
        RETURNING c.ip, c.port, c.sni, c.service, c.attempts
    )
    SELECT x.i, x.attempts FROM (
        SELECT u.i, took.attempts
          FROM u JOIN took USING (ip, port, sni, service)
        UNION ALL
        SELECT k.i, 0 FROM pick k WHERE NOT k.ok
    ) x ORDER BY x.i;
END $$;
