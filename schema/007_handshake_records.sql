-- Handshake records (record.h): one JSON document per endpoint probe,
-- zstd-compressed, with a dictionary trained on the first records a
-- crawler wrote for the campaign.

CREATE TABLE zstd_dict (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    created     timestamptz NOT NULL DEFAULT now(),
    worker      text    NOT NULL,  -- the crawler that trained it
    samples     integer NOT NULL,  -- records it was trained on
    dict        bytea   NOT NULL
);

CREATE TABLE handshake_record (
    campaign_id bigint  NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    ip          inet    NOT NULL,
    port        integer NOT NULL,
    sni         text    NOT NULL,
    dict_id     bigint  REFERENCES zstd_dict (id),  -- NULL: plain zstd
    raw_len     integer NOT NULL,                   -- bytes of the JSON
    zstd        bytea   NOT NULL,
    PRIMARY KEY (campaign_id, ip, port, sni)
) PARTITION BY LIST (campaign_id);

INSERT INTO campaign_partitioned VALUES ('handshake_record');
SELECT campaign_add_partitions(id) FROM campaign;
