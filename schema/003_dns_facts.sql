-- The DNS stage's facts. Every campaign-scoped table is partitioned by
-- campaign and registered in campaign_partitioned, so campaign_create()
-- makes a partition of each for a new campaign.

CREATE TABLE campaign_partitioned (
    table_name text PRIMARY KEY
);
INSERT INTO campaign_partitioned VALUES ('campaign_target'), ('campaign_batch');

CREATE OR REPLACE FUNCTION campaign_add_partitions(p_campaign bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT table_name FROM campaign_partitioned ORDER BY table_name LOOP
        IF to_regclass(t || '_' || p_campaign) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%s)',
                           t || '_' || p_campaign, t, p_campaign);
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION campaign_create(p_name text, p_config jsonb,
                                           p_tool_version text, p_vantage text,
                                           p_batch_size integer)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
BEGIN
    INSERT INTO campaign (name, config, tool_version, vantage, batch_size)
    VALUES (p_name, p_config, p_tool_version, p_vantage, p_batch_size)
    RETURNING id INTO cid;
    PERFORM campaign_add_partitions(cid);
    RETURN cid;
END $$;

-- Per domain: what the DNS stage concluded. One row per scanned target.
CREATE TABLE domain_dns (
    campaign_id  bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id    bigint  NOT NULL,
    domain       text    NOT NULL,
    scanned_at   timestamptz NOT NULL,
    worker       text    NOT NULL,
    -- mx | implicit_mx | null_mx | null_mx_mixed (null MX beside real MX RRs)
    -- | null_mx_invalid (a lone "N ." with N > 0) | no_domain (NXDOMAIN)
    -- | dns_error (SERVFAIL, timeout, bogus, malformed) | blocklisted
    mx_outcome   text    NOT NULL,
    mx_count     integer NOT NULL,  -- MX RRs in the RRset
    mx_truncated boolean NOT NULL,  -- more MX hosts than the cap; the rest not probed
    apex_cname   text[]  NOT NULL,  -- CNAME chain from the domain to the MX owner
    dns_queries  integer NOT NULL,  -- questions asked for this domain
    elapsed_ms   integer NOT NULL,  -- DNS stage wall time
    PRIMARY KEY (campaign_id, target_id)
) PARTITION BY LIST (campaign_id);

-- Every question asked for a domain and its answer: DNSSEC status, rcode
-- and Extended DNS Errors per RRset.
CREATE TABLE dns_rrset (
    campaign_id bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id   bigint  NOT NULL,
    qname       text    NOT NULL,
    qtype       text    NOT NULL,    -- MX, A, AAAA, TLSA, TXT
    -- ok (an answer was parsed) | timeout | malformed | bad_name |
    -- no_memory | conn_refused | error | cancelled
    outcome     text    NOT NULL,
    rcode       text,                -- NOERROR, NXDOMAIN, SERVFAIL, ... (NULL: no answer)
    -- secure | insecure | bogus | indeterminate | unknown (non-validating resolver)
    dnssec      text    NOT NULL,
    ede         integer[] NOT NULL,  -- RFC 8914 info codes of the answer
    ede_text    text,
    large       boolean NOT NULL,    -- over 1232 bytes: came over TCP after truncation
    cname       text[]  NOT NULL,    -- CNAME chain in the answer, from qname on
    records     text[]  NOT NULL,    -- RDATA of the qtype in presentation form (not TXT)
    txt         bytea[],             -- TXT answers: each record's strings concatenated, raw
    elapsed_ms  integer NOT NULL,
    PRIMARY KEY (campaign_id, target_id, qname, qtype)
) PARTITION BY LIST (campaign_id);

-- Per MX host of a domain (the domain itself for an implicit MX).
CREATE TABLE domain_mx (
    campaign_id     bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id       bigint  NOT NULL,
    ordinal         integer NOT NULL,  -- by preference, then name, from 0
    preference      integer NOT NULL,
    host            text    NOT NULL,
    kept            boolean NOT NULL,  -- within the cap: probed
    ip_literal      boolean NOT NULL,  -- looks like an IPv4 address: never contacted
    cname           text[]  NOT NULL,  -- CNAME chain of the host
    -- ok | mx_no_address | refused_address (every address refused) |
    -- mx_ip_literal | dns_error (A/AAAA bogus or unresolvable) | NULL (not kept)
    address_outcome text,
    a_dnssec        text,
    aaaa_dnssec     text,
    -- TLSA at _25._tcp.<host> is asked only when the MX RRset and the
    -- host's addresses are secure (RFC 7672 §2.2.2).
    tlsa_looked_up  boolean NOT NULL,
    tlsa_name       text,              -- where the TLSA RRset was (last) asked
    tlsa_dnssec     text,
    tlsa_records    text[] NOT NULL,   -- "usage selector mtype hex"
    PRIMARY KEY (campaign_id, target_id, ordinal)
) PARTITION BY LIST (campaign_id);

-- Every address of every kept MX host and the address policy's verdict:
-- ok, or why it was refused (never contacted).
CREATE TABLE mx_address (
    campaign_id bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    target_id   bigint  NOT NULL,
    ordinal     integer NOT NULL,
    address     inet    NOT NULL,
    verdict     text    NOT NULL,  -- ok | reserved | blocklist
    class       text    NOT NULL,  -- public | loopback | private | ... (addrpolicy.h)
    PRIMARY KEY (campaign_id, target_id, ordinal, address)
) PARTITION BY LIST (campaign_id);

INSERT INTO campaign_partitioned
VALUES ('domain_dns'), ('dns_rrset'), ('domain_mx'), ('mx_address');

-- Campaigns made before this migration get partitions of the new tables.
SELECT campaign_add_partitions(id) FROM campaign;

-- Completes a leased batch; returns false when the batch was already
-- completed by another crawler (whose lease we outlived), in which case
-- the caller rolls back and its results are dropped: exactly one result
-- per target.
CREATE FUNCTION campaign_complete(p_campaign bigint, p_batch bigint)
RETURNS boolean LANGUAGE sql AS $$
    WITH u AS (
        UPDATE campaign_batch SET done_at = clock_timestamp()
         WHERE campaign_id = p_campaign AND batch_no = p_batch
           AND done_at IS NULL
        RETURNING 1
    )
    SELECT count(*) = 1 FROM u;
$$;

-- Extends the leases a crawler holds (its heartbeat), so that only a
-- crawler that stopped loses its batches.
CREATE FUNCTION campaign_renew(p_campaign bigint, p_worker text,
                               p_lease interval)
RETURNS integer LANGUAGE sql AS $$
    WITH u AS (
        UPDATE campaign_batch SET lease_expires = clock_timestamp() + p_lease
         WHERE campaign_id = p_campaign AND leased_by = p_worker
           AND done_at IS NULL
        RETURNING 1
    )
    SELECT count(*)::integer FROM u;
$$;
