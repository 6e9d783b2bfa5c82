-- Figures per rank bucket (`report --rank-buckets`, issue M8 item 5): a
-- bucket is the targets of a campaign with rank <= N, and its figures
-- are computed from those targets only. With this index the top 1,000
-- of a 1M-domain campaign are found by reading 1,000 index entries, not
-- the campaign's whole queue; counting a bucket's targets is an
-- index-only scan. Built on the partitioned parent, so every campaign's
-- partition has it, and campaign_add_partitions (schema/022) gets it
-- for new campaigns through ATTACH PARTITION. IF NOT EXISTS: applying
-- the migration again (test_roles re-applies the newest) changes nothing.
CREATE INDEX IF NOT EXISTS campaign_target_rank ON campaign_target (campaign_id, rank);
