-- Client endpoints are claimed across crawler processes like port 25's:
-- each mail client endpoint (address, port, SNI, service) of a campaign
-- is probed once across all crawler processes, not once per process.
--
-- endpoint_claim gets the service in its key: two services may name the
-- same address and port (an SRV record may give any port), and each is
-- its own probe. 0 is port 25 (SMTP to an MX host: every claim made
-- before this migration); a client service is 1 + the crawler's service
-- number (1 submissions, 2 submission, 3 imaps, 4 imap, 5 pop3s, 6 pop3).
-- The number is only compared with itself here: a waiting crawler reads
-- a client endpoint's row by client_endpoint.service, which it names.
--
-- The claim functions of 008 take and finish by (address, port, SNI), so
-- they are replaced by ones that take the services too; a crawler built
-- before this migration cannot claim against it (its statements fail and
-- it probes without claims, as when the database refuses them).

ALTER TABLE endpoint_claim ADD COLUMN service smallint NOT NULL DEFAULT 0;
ALTER TABLE endpoint_claim DROP CONSTRAINT endpoint_claim_pkey;
ALTER TABLE endpoint_claim ADD PRIMARY KEY (campaign_id, ip, port, sni, service);

COMMENT ON COLUMN endpoint_claim.service IS
    '0: port 25 (endpoint); else a mail client endpoint (client_endpoint): '
    '1 submissions, 2 submission, 3 imaps, 4 imap, 5 pop3s, 6 pop3.';

DROP FUNCTION endpoint_claim_take(bigint, text, interval, inet[], integer[], text[]);
DROP FUNCTION endpoint_claim_finish(bigint, inet[], integer[], text[]);

-- Claims the given endpoints for p_worker, as 008's did, with the
-- service of each. Returns the 1-based positions of those it now holds.
CREATE FUNCTION endpoint_claim_take(p_campaign bigint, p_worker text,
                                    p_lease interval, p_ip inet[],
                                    p_port integer[], p_sni text[],
                                    p_service smallint[])
RETURNS TABLE (i bigint, attempts integer) LANGUAGE sql AS $$
    WITH u AS (
        SELECT * FROM unnest(p_ip, p_port, p_sni, p_service)
                      WITH ORDINALITY AS u (ip, port, sni, service, i)
    ), took AS (
        INSERT INTO endpoint_claim AS c
               (campaign_id, ip, port, sni, service, worker, claimed_at,
                expires)
        SELECT p_campaign, u.ip, u.port, u.sni, u.service, p_worker,
               clock_timestamp(), clock_timestamp() + p_lease
          FROM u
        ON CONFLICT (campaign_id, ip, port, sni, service) DO UPDATE
           SET worker = EXCLUDED.worker, claimed_at = EXCLUDED.claimed_at,
               expires = EXCLUDED.expires, attempts = c.attempts + 1
         WHERE c.expires < clock_timestamp() AND NOT c.done
        RETURNING c.ip, c.port, c.sni, c.service, c.attempts
    )
    SELECT u.i, took.attempts FROM u JOIN took USING (ip, port, sni, service)
     ORDER BY u.i;
$$;

-- What a waiting crawler needs of endpoints another crawler (or itself,
-- for a result its registry dropped) has stored: port 25's from
-- endpoint, a client service's from client_endpoint (p_client names its
-- client_endpoint.service; ignored for service 0). One row per presented
-- certificate (leaf first), or one row with a NULL certificate when there
-- was no chain; `ours`: p_worker holds the claim and it is done. Endpoints
-- not stored yet are absent.
CREATE FUNCTION endpoint_claim_stored(p_campaign bigint, p_worker text,
                                      p_ip inet[], p_port integer[],
                                      p_sni text[], p_service smallint[],
                                      p_client text[])
RETURNS TABLE (i bigint, outcome text, starttls_ok boolean,
               trusted boolean, name_matches boolean, k bigint, der bytea,
               ours boolean)
LANGUAGE sql STABLE AS $$
    WITH u AS (
        SELECT * FROM unnest(p_ip, p_port, p_sni, p_service, p_client)
                      WITH ORDINALITY AS u (ip, port, sni, service, client, i)
    ), r AS (
        SELECT u.i, u.ip, u.port, u.sni, u.service, e.outcome,
               e.outcome = 'starttls_ok' AND e.tls_version IS NOT NULL AS ok,
               coalesce(e.trusted, false) AS trusted,
               coalesce(e.name_matches_mx, false) AS name_matches, e.chain
          FROM u JOIN endpoint e ON e.campaign_id = p_campaign
                                AND e.ip = u.ip AND e.port = u.port
                                AND e.sni = u.sni
         WHERE u.service = 0
        UNION ALL
        SELECT u.i, u.ip, u.port, u.sni, u.service, e.outcome,
               e.outcome = 'tls_ok' AND e.tls_version IS NOT NULL,
               coalesce(e.trusted, false),
               coalesce(e.name_matches_host, false), e.chain
          FROM u JOIN client_endpoint e ON e.campaign_id = p_campaign
                                       AND e.ip = u.ip AND e.port = u.port
                                       AND e.sni = u.sni
                                       AND e.service = u.client
         WHERE u.service <> 0
    )
    SELECT r.i, r.outcome, r.ok, r.trusted, r.name_matches, h.k, c.der,
           coalesce(cl.worker = p_worker AND cl.done, false)
      FROM r
      LEFT JOIN LATERAL unnest(r.chain) WITH ORDINALITY AS h (sha256, k)
             ON true
      LEFT JOIN certificate c ON c.sha256 = h.sha256
      LEFT JOIN endpoint_claim cl
             ON cl.campaign_id = p_campaign AND cl.ip = r.ip
            AND cl.port = r.port AND cl.sni = r.sni AND cl.service = r.service
     ORDER BY r.i, h.k;
$$;

-- Marks claims done (their endpoint rows were stored in the same
-- transaction) and tells listening crawlers to look.
CREATE FUNCTION endpoint_claim_finish(p_campaign bigint, p_ip inet[],
                                      p_port integer[], p_sni text[],
                                      p_service smallint[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    UPDATE endpoint_claim c SET done = true
      FROM unnest(p_ip, p_port, p_sni, p_service) AS u (ip, port, sni, service)
     WHERE c.campaign_id = p_campaign AND c.ip = u.ip AND c.port = u.port
       AND c.sni = u.sni AND c.service = u.service;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_notify('mxcrawl_endpoint', p_campaign::text);
    RETURN n;
END $$;
