-- Judgement sets: the certificate and DANE verdicts of a campaign judged
-- again from its stored evidence (`mxcrawl reverify`), against another
-- trust store or at another time, without a re-scan. The scan's own
-- verdicts (the columns of endpoint, domain_endpoint and domain_mx) are
-- judgement set 0, named "scan"; every reverify adds a set with the next
-- id. A set is written in one transaction, so it is whole or absent.

CREATE TABLE judgement_set (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY
                 CHECK (id > 0),          -- 0 is the scan's own judgement
    campaign_id  bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    ca_file      text,         -- trust store file (absolute path); NULL: the system's
    ca_sha256    bytea,        -- SHA-256 of that file as it was read
    at_time      timestamptz NOT NULL,  -- the time certificates were judged at
    tool_version text NOT NULL,
    note         text
);

CREATE INDEX judgement_set_campaign ON judgement_set (campaign_id, id);

COMMENT ON TABLE judgement_set IS
    'A re-judgement of a campaign''s stored chains (mxcrawl reverify); set 0 is the scan''s own.';

-- Per endpoint: the columns of endpoint that judge its chain.
CREATE TABLE endpoint_judgement (
    campaign_id      bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    judgement_set_id bigint  NOT NULL,
    ip               inet    NOT NULL,
    port             integer NOT NULL,
    sni              text    NOT NULL,
    trusted          boolean,           -- NULL: no chain (or not decodable)
    verify_errors    text[],
    missing_intermediate boolean,
    name_matches_mx  boolean,
    cn_only          boolean,
    weak             text[],
    PRIMARY KEY (campaign_id, judgement_set_id, ip, port, sni),
    FOREIGN KEY (judgement_set_id) REFERENCES judgement_set (id) ON DELETE CASCADE
) PARTITION BY LIST (campaign_id);

-- Per domain and endpoint: the columns of domain_endpoint.
CREATE TABLE domain_endpoint_judgement (
    campaign_id      bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    judgement_set_id bigint  NOT NULL,
    target_id        bigint  NOT NULL,
    ordinal          integer NOT NULL,
    ip               inet    NOT NULL,
    port             integer NOT NULL,
    sni              text    NOT NULL,
    name_matches_domain boolean,
    dane             text    NOT NULL,  -- as domain_endpoint.dane
    dane_result_type text,
    PRIMARY KEY (campaign_id, judgement_set_id, target_id, ordinal, ip, port),
    FOREIGN KEY (judgement_set_id) REFERENCES judgement_set (id) ON DELETE CASCADE
) PARTITION BY LIST (campaign_id);

-- Per MX host of a domain: the host-level DANE outcome of domain_mx. One
-- row for every domain_mx row, NULL where the scan had none (SMTP stage
-- off, host beyond the cap).
CREATE TABLE domain_mx_judgement (
    campaign_id      bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    judgement_set_id bigint  NOT NULL,
    target_id        bigint  NOT NULL,
    ordinal          integer NOT NULL,
    dane             text,
    dane_result_type text,
    PRIMARY KEY (campaign_id, judgement_set_id, target_id, ordinal),
    FOREIGN KEY (judgement_set_id) REFERENCES judgement_set (id) ON DELETE CASCADE
) PARTITION BY LIST (campaign_id);

INSERT INTO campaign_partitioned
VALUES ('endpoint_judgement'), ('domain_endpoint_judgement'),
       ('domain_mx_judgement');
SELECT campaign_add_partitions(id) FROM campaign;

-- Every judgement set of every campaign, the scan's own (id 0) included.
-- The scan judged each endpoint when it probed it (endpoint.probed_at)
-- against the trust store it was given; at_time is NULL for it.
CREATE VIEW judgement_set_all AS
SELECT 0::bigint AS id, c.id AS campaign_id, c.created AS created_at,
       c.config ->> 'ca_file' AS ca_file, NULL::bytea AS ca_sha256,
       NULL::timestamptz AS at_time, c.tool_version, 'scan'::text AS note
  FROM campaign c
UNION ALL
SELECT id, campaign_id, created_at, ca_file, ca_sha256, at_time,
       tool_version, note
  FROM judgement_set;

COMMENT ON VIEW judgement_set_all IS
    'Judgement sets of every campaign; id 0 ("scan") is the scan''s own verdicts.';

-- The newest set of each campaign: the last reverify, else the scan.
CREATE VIEW judgement_set_latest AS
SELECT c.id AS campaign_id, coalesce(max(j.id), 0) AS judgement_set_id
  FROM campaign c
  LEFT JOIN judgement_set j ON j.campaign_id = c.id
 GROUP BY c.id;

CREATE VIEW endpoint_judgement_all AS
SELECT campaign_id, 0::bigint AS judgement_set_id, ip, port, sni, trusted,
       verify_errors, missing_intermediate, name_matches_mx, cn_only, weak
  FROM endpoint
UNION ALL
SELECT campaign_id, judgement_set_id, ip, port, sni, trusted, verify_errors,
       missing_intermediate, name_matches_mx, cn_only, weak
  FROM endpoint_judgement;

CREATE VIEW domain_endpoint_judgement_all AS
SELECT campaign_id, 0::bigint AS judgement_set_id, target_id, ordinal, ip,
       port, sni, name_matches_domain, dane, dane_result_type
  FROM domain_endpoint
UNION ALL
SELECT campaign_id, judgement_set_id, target_id, ordinal, ip, port, sni,
       name_matches_domain, dane, dane_result_type
  FROM domain_endpoint_judgement;

CREATE VIEW domain_mx_judgement_all AS
SELECT campaign_id, 0::bigint AS judgement_set_id, target_id, ordinal, dane,
       dane_result_type
  FROM domain_mx
UNION ALL
SELECT campaign_id, judgement_set_id, target_id, ordinal, dane,
       dane_result_type
  FROM domain_mx_judgement;

-- The verdicts a report should use: each campaign's newest set.
CREATE VIEW endpoint_judgement_latest AS
SELECT a.* FROM endpoint_judgement_all a
  JOIN judgement_set_latest l USING (campaign_id, judgement_set_id);

CREATE VIEW domain_endpoint_judgement_latest AS
SELECT a.* FROM domain_endpoint_judgement_all a
  JOIN judgement_set_latest l USING (campaign_id, judgement_set_id);

CREATE VIEW domain_mx_judgement_latest AS
SELECT a.* FROM domain_mx_judgement_all a
  JOIN judgement_set_latest l USING (campaign_id, judgement_set_id);

COMMENT ON VIEW endpoint_judgement_latest IS
    'Per endpoint, the certificate verdicts of the campaign''s newest judgement set.';

-- Rows per campaign-scoped table, for `mxcrawl campaign show`. The table
-- names come from the registry, never from the caller.
CREATE FUNCTION campaign_fact_counts(p_campaign bigint)
RETURNS TABLE (table_name text, rows bigint) LANGUAGE plpgsql STABLE AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT p.table_name FROM campaign_partitioned p
              ORDER BY p.table_name LOOP
        table_name := t;
        EXECUTE format('SELECT count(*) FROM %I WHERE campaign_id = $1', t)
           INTO rows USING p_campaign;
        RETURN NEXT;
    END LOOP;
END $$;

-- A cancelled campaign leases no more batches: crawlers finish the batches
-- they hold and find nothing left. (As 002's, plus the state check.)
CREATE OR REPLACE FUNCTION campaign_lease(p_campaign bigint, p_worker text,
                                          p_lease interval)
RETURNS TABLE (batch_no bigint, attempts integer) LANGUAGE sql AS $$
    UPDATE campaign_batch b
       SET leased_by = p_worker,
           lease_expires = clock_timestamp() + p_lease,
           attempts = b.attempts + 1
     WHERE (b.campaign_id, b.batch_no) = (
            SELECT o.campaign_id, o.batch_no
              FROM campaign_batch o
             WHERE o.campaign_id = p_campaign
               AND o.done_at IS NULL
               AND (o.lease_expires IS NULL OR o.lease_expires < clock_timestamp())
               AND NOT EXISTS (SELECT 1 FROM campaign c
                                WHERE c.id = p_campaign
                                  AND c.state = 'cancelled')
             ORDER BY o.batch_no
             LIMIT 1
               FOR UPDATE SKIP LOCKED)
    RETURNING b.batch_no, b.attempts;
$$;
