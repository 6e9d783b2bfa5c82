-- Facts kept as observed (issue M7 items 8 and 5): a served value is kept
-- even when it is invalid, and a fact never observed is NULL ("not
-- reached"), never false.

-- MTA-STS max_age as served (RFC 8461 §3.2: 1*10DIGIT, at most 31557600).
-- A value out of range makes the policy invalid (bad_max_age), and the
-- value itself is kept: max_age is now the served value whenever it is
-- digits only and fits in bigint (valid or not); max_age_text is the
-- value as served (without the white space around it, at most 64 bytes),
-- which is all there is of a value over 2^63 - 1 ("overflow": digits in
-- max_age_text, max_age NULL) or not a number ("1d", "-1");
-- max_age_valid says whether it met §3.2. All three are NULL when there
-- was no max_age line or no policy. Rows stored before this migration
-- have max_age only when it was valid and NULL in the new columns.
ALTER TABLE domain_mta_sts
    ADD COLUMN max_age_text bytea,
    ADD COLUMN max_age_valid boolean;

COMMENT ON COLUMN domain_mta_sts.max_age IS
    'max_age as served when digits only and below 2^63 (valid or not; see max_age_valid).';
COMMENT ON COLUMN domain_mta_sts.max_age_text IS
    'The first max_age value as served, at most 64 bytes.';
COMMENT ON COLUMN domain_mta_sts.max_age_valid IS
    'max_age is 1*10DIGIT and at most 31557600 (RFC 8461 §3.2); NULL: no max_age line.';

-- The export carries the served max_age: export_sts as in 009, with
-- max_age_text (PostgreSQL escape encoding, like the other served bytes)
-- and max_age_valid added to the mta_sts object.
CREATE OR REPLACE VIEW export_sts AS
SELECT d.campaign_id, d.target_id,
       jsonb_build_object(
           'txt', s.txt, 'txt_error', s.txt_error,
           'txt_records_count', s.txt_records, 'sts_records', s.sts_records,
           'txt_cname_chain', to_jsonb(s.txt_cname),
           'id', CASE WHEN s.id IS NULL THEN NULL ELSE encode(s.id, 'escape') END,
           'host', s.host, 'host_dnssec', s.host_dnssec,
           'host_addresses', (SELECT jsonb_agg(host(a)) FROM unnest(s.host_addresses) a),
           'fetch', s.fetch_outcome, 'fetch_addr', host(s.fetch_addr),
           'http_status', s.http_status,
           'location', encode(s.location, 'escape'),
           'content_type', encode(s.content_type, 'escape'),
           'content_encoding', encode(s.content_encoding, 'escape'),
           'tls_version', s.tls_version, 'verify_error', s.verify_error,
           'fetch_detail', s.fetch_detail, 'fetch_ms', s.fetch_ms,
           'chain', (SELECT jsonb_agg(encode(h, 'hex')) FROM unnest(s.chain) h),
           'body', encode(s.body, 'escape'),
           'policy', s.policy, 'policy_error', s.policy_error,
           'mode', s.mode, 'max_age', s.max_age,
           'max_age_text', encode(s.max_age_text, 'escape'),
           'max_age_valid', s.max_age_valid,
           'mx_patterns', coalesce(to_jsonb(s.mx_patterns), '[]'::jsonb),
           'mx_truncated', s.mx_truncated, 'eol', s.eol,
           'unknown_keys', coalesce(to_jsonb(s.unknown_keys), '[]'::jsonb),
           'mx_match', coalesce((
               SELECT jsonb_object_agg(m.host, m.sts_match)
                 FROM domain_mx m
                WHERE m.campaign_id = d.campaign_id AND m.target_id = d.target_id
                  AND m.sts_match IS NOT NULL), '{}'::jsonb),
           'enforce_would_work', v.enforce_would_work,
           'failures', coalesce(to_jsonb(v.failures), '[]'::jsonb)) AS mta_sts,
       jsonb_build_object(
           'status', r.status, 'error', r.error,
           'txt_records_count', r.txt_records, 'rpt_records', r.rpt_records,
           'rua', coalesce((SELECT jsonb_agg(encode(u, 'escape')) FROM unnest(r.rua) u),
                           '[]'::jsonb),
           'rua_schemes', coalesce(to_jsonb(r.rua_schemes), '[]'::jsonb)) AS tlsrpt
  FROM domain_dns d
  LEFT JOIN domain_mta_sts s
         ON s.campaign_id = d.campaign_id AND s.target_id = d.target_id
  LEFT JOIN mta_sts_verdict v
         ON v.campaign_id = d.campaign_id AND v.target_id = d.target_id
  LEFT JOIN domain_tlsrpt r
         ON r.campaign_id = d.campaign_id AND r.target_id = d.target_id;

-- Facts that were never observed are NULL ("not reached"), never false.
--
-- An SMTP session that ends before an EHLO answer (silence, tarpit, a
-- 4xx/5xx banner, garbage, a closed or reset connection) has not shown
-- whether STARTTLS is offered; one that never got a 220 to STARTTLS has
-- not shown whether plaintext is injected after it; one that never read
-- a reply whole has not shown how its lines end. These columns were
-- NOT NULL and the crawler wrote false; from now on it writes NULL.
--
-- Tri-state (NULL = not reached) after this migration, by table:
--   dns_rrset.large (needs an answer: NULL on timeout, refused, error);
--   endpoint: starttls_offered (needs a 2xx or 5xx EHLO answer; a 4xx
--     shows no extensions), injection (needs the 220 to STARTTLS),
--     overlong_line and bare_lf (need a reply read whole, or for
--     overlong_line a line past the 64 KiB hard cap), keywords (an
--     array: needs a 2xx EHLO answer; '{}' is an answer without any),
--     trusted, missing_intermediate, name_matches_mx, cn_only (need a
--     chain; already so);
--   domain_endpoint.name_matches_domain (needs a chain; already so);
--   domain_mx.sts_match (needs a valid policy in enforce or testing;
--     already so);
--   domain_mta_sts.mx_truncated (needs a fetched policy; already so),
--     max_age_valid (new, needs a max_age line);
--   endpoint_judgement, domain_endpoint_judgement: as endpoint and
--     domain_endpoint.
-- Two-state, because they record what the crawler did or a property of
-- something it holds, not an observation that can be missing:
--   domain_dns.mx_truncated (the crawler cut the MX list),
--   domain_mx.kept, ip_literal, tlsa_looked_up,
--   certificate.self_issued, endpoint_claim.done.
ALTER TABLE endpoint
    ALTER COLUMN starttls_offered DROP NOT NULL,
    ALTER COLUMN injection DROP NOT NULL,
    ALTER COLUMN overlong_line DROP NOT NULL,
    ALTER COLUMN bare_lf DROP NOT NULL,
    ALTER COLUMN keywords DROP NOT NULL;

-- Rows stored before this migration get the same reading, derived from
-- the codes stored beside them (exactly what the crawler now does).
UPDATE endpoint
   SET starttls_offered = CASE WHEN ehlo_code / 100 IN (2, 5)
                               THEN starttls_offered END,
       injection = CASE WHEN starttls_code = 220 THEN injection END,
       overlong_line = CASE WHEN outcome = 'line_too_long' THEN true
                            WHEN banner_code IS NOT NULL THEN overlong_line END,
       bare_lf = CASE WHEN banner_code IS NOT NULL THEN bare_lf END,
       keywords = CASE WHEN ehlo_code / 100 = 2 THEN keywords END
 WHERE NOT (ehlo_code / 100 IN (2, 5)) OR ehlo_code IS NULL
    OR starttls_code IS DISTINCT FROM 220 OR banner_code IS NULL
    OR outcome = 'line_too_long';

ALTER TABLE dns_rrset ALTER COLUMN large DROP NOT NULL;
-- An answer was read (ok or malformed) exactly when its size is known.
UPDATE dns_rrset SET large = NULL WHERE outcome NOT IN ('ok', 'malformed');
COMMENT ON COLUMN dns_rrset.large IS
    'The answer was over 1232 bytes (came over TCP); NULL: no answer was read.';

COMMENT ON COLUMN endpoint.starttls_offered IS
    'STARTTLS in a 2xx EHLO answer (false also for EHLO refused with 5xx); '
    'NULL: not reached, no EHLO answer showed it.';
COMMENT ON COLUMN endpoint.injection IS
    'Plaintext after the 220 to STARTTLS; NULL: no 220 to STARTTLS.';
COMMENT ON COLUMN endpoint.overlong_line IS
    'A reply line over 4 KiB; NULL: no reply was read whole.';
COMMENT ON COLUMN endpoint.bare_lf IS
    'A reply line ended in LF alone; NULL: no reply was read whole.';
COMMENT ON COLUMN endpoint.keywords IS
    'EHLO keywords of a 2xx EHLO answer; NULL: none was read.';

