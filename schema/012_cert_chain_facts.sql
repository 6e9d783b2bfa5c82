-- Certificate judgement for a strict modern sender, and the shape of the
-- presented chain (issue M7 items 2-4).
--
-- * endpoint.trusted now means what Debian's OpenSSL accepts by default
--   (security level 2): the chain verifies, no RSA/DSA key under 2048
--   bits, no EC key under 224, no SHA-1/MD5 signature in the built path.
--   The verdict ignoring key and digest strength (a lax sender at level
--   0) is valid_ignoring_strength; verify_errors are its errors.
-- * Names come from DNS SANs only (RFC 9525 §6.3): a leaf without one
--   matches no name (cn_only says so).
-- * Chains are judged whole up to 128 certificates (OpenSSL's default
--   depth is 100 CAs); chain_len counts what was presented.
-- * A handshake that only succeeds at TLS 1.0/1.1 is kept, flagged
--   tls_legacy: a sender requiring TLS 1.2 or later would fail it.

ALTER TABLE endpoint
    ADD COLUMN valid_ignoring_strength boolean,
    ADD COLUMN chain_out_of_order boolean,
    ADD COLUMN leaf_san_count integer,
    ADD COLUMN long_chain boolean GENERATED ALWAYS AS (chain_len > 10) STORED,
    ADD COLUMN chain_truncated boolean
        GENERATED ALWAYS AS (chain_len > cardinality(chain)) STORED,
    ADD COLUMN tls_legacy boolean
        GENERATED ALWAYS AS (tls_version IN ('SSLv3', 'TLSv1', 'TLSv1.1')) STORED;

COMMENT ON COLUMN endpoint.trusted IS
    'Strict sender (OpenSSL security level 2, Debian''s default): the chain '
    'verifies against the trust store at the probe''s time, with no weak '
    'key or signature (see weak). NULL: no chain judged.';
COMMENT ON COLUMN endpoint.valid_ignoring_strength IS
    'Lax sender (security level 0): the chain verifies against the trust '
    'store at the probe''s time whatever its key sizes and digests; '
    'verify_errors lists why not. NULL: no chain judged.';
COMMENT ON COLUMN endpoint.weak IS
    'Why a chain valid ignoring strength is not trusted: rsa_lt_2048, '
    'dsa_lt_2048, ec_lt_224 (keys, trust anchor included), sha1, md5 '
    '(signatures, self-signatures excepted).';
COMMENT ON COLUMN endpoint.name_matches_mx IS
    'A DNS SAN of the leaf names the SNI (= MX host); the subject CN is '
    'never used (RFC 9525 §6.3).';
COMMENT ON COLUMN endpoint.cn_only IS
    'The leaf has no DNS SAN, so it names no host (whatever its CN says).';
COMMENT ON COLUMN endpoint.chain_len IS
    'Certificates the server presented (all of them, also beyond the 128 kept).';
COMMENT ON COLUMN endpoint.chain_out_of_order IS
    'Some presented certificate is not followed by its issuer (RFC 8446 '
    '§4.4.2), judged by names and key identifiers; an undecodable '
    'certificate counts as out of place. NULL: no chain judged.';
COMMENT ON COLUMN endpoint.leaf_san_count IS
    'dNSName entries in the leaf''s subjectAltName. NULL: no chain judged.';
COMMENT ON COLUMN endpoint.long_chain IS
    'More than 10 certificates presented.';
COMMENT ON COLUMN endpoint.chain_truncated IS
    'More certificates presented than kept (128): the rest were not stored '
    'or judged.';
COMMENT ON COLUMN endpoint.tls_legacy IS
    'The handshake succeeded at TLS 1.1 or older only (the client offers '
    '1.0-1.3, so this is the server''s best): a sender requiring TLS 1.2 '
    'would fail it. NULL: no handshake.';

-- The judgement sets carry the new time- and store-dependent fact; the
-- chain's shape does not depend on the trust store or the time.
ALTER TABLE endpoint_judgement ADD COLUMN valid_ignoring_strength boolean;

CREATE OR REPLACE VIEW endpoint_judgement_all AS
SELECT campaign_id, 0::bigint AS judgement_set_id, ip, port, sni, trusted,
       verify_errors, missing_intermediate, name_matches_mx, cn_only, weak,
       valid_ignoring_strength
  FROM endpoint
UNION ALL
SELECT campaign_id, judgement_set_id, ip, port, sni, trusted, verify_errors,
       missing_intermediate, name_matches_mx, cn_only, weak,
       valid_ignoring_strength
  FROM endpoint_judgement;

CREATE OR REPLACE VIEW endpoint_judgement_latest AS
SELECT a.* FROM endpoint_judgement_all a
  JOIN judgement_set_latest l USING (campaign_id, judgement_set_id);

-- Would enforcing the MTA-STS policy work (RFC 8461 §4), for a strict
-- modern sender: as 011's, plus a handshake below TLS 1.2 fails (such a
-- sender does not offer 1.0/1.1; RFC 8460 has no result type of its own
-- for it, so validation-failure, as for any failed handshake), and a
-- chain that verifies only ignoring key and digest strength is
-- certificate-not-trusted.
CREATE OR REPLACE VIEW mta_sts_verdict AS
WITH ep AS NOT MATERIALIZED (
    SELECT de.campaign_id, de.target_id, de.ordinal,
           CASE
               WHEN e.outcome <> 'starttls_ok' OR e.tls_version IS NULL THEN
                   CASE WHEN e.outcome IN ('no_starttls', 'starttls_rejected',
                                           'ehlo_rejected')
                        THEN 'starttls-not-supported'
                        ELSE 'validation-failure' END
               WHEN e.tls_legacy THEN 'validation-failure'
               WHEN 'expired' = ANY (e.verify_errors) THEN 'certificate-expired'
               WHEN cardinality(e.verify_errors) > 0 OR e.trusted IS FALSE
                    THEN 'certificate-not-trusted'
               WHEN NOT coalesce(e.name_matches_mx, false)
                    OR coalesce(e.cn_only, false) THEN 'certificate-host-mismatch'
           END AS failure
      FROM domain_endpoint de
      JOIN endpoint e ON e.campaign_id = de.campaign_id AND e.ip = de.ip
                     AND e.port = de.port AND e.sni = de.sni
), host AS (
    SELECT m.campaign_id, m.target_id, m.ordinal,
           CASE WHEN NOT m.sts_match THEN ARRAY['validation-failure']
                WHEN NOT EXISTS (SELECT 1 FROM ep
                                  WHERE ep.campaign_id = m.campaign_id
                                    AND ep.target_id = m.target_id
                                    AND ep.ordinal = m.ordinal)
                     THEN ARRAY['validation-failure']
                ELSE ARRAY(SELECT ep.failure FROM ep
                            WHERE ep.campaign_id = m.campaign_id
                              AND ep.target_id = m.target_id
                              AND ep.ordinal = m.ordinal
                              AND ep.failure IS NOT NULL) END AS failures
      FROM domain_mx m
     WHERE m.sts_match IS NOT NULL
)
SELECT s.campaign_id, s.target_id,
       CASE WHEN s.txt <> 'valid' THEN NULL
            WHEN s.fetch_outcome IS DISTINCT FROM 'ok'
                 OR s.policy IS DISTINCT FROM 'valid' THEN false
            WHEN s.mode NOT IN ('enforce', 'testing') THEN false
            ELSE cardinality(f.failures) = 0 END AS enforce_would_work,
       CASE WHEN s.txt <> 'valid' THEN '{}'::text[]
            WHEN s.fetch_outcome = 'webpki_invalid' THEN ARRAY['sts-webpki-invalid']
            WHEN s.fetch_outcome IS DISTINCT FROM 'ok' THEN ARRAY['sts-policy-fetch-error']
            WHEN s.policy IS DISTINCT FROM 'valid' THEN ARRAY['sts-policy-invalid']
            ELSE f.failures END AS failures
  FROM domain_mta_sts s
  LEFT JOIN LATERAL (
      SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}'::text[]) AS failures
        FROM host h, unnest(h.failures) x
       WHERE h.campaign_id = s.campaign_id AND h.target_id = s.target_id
  ) f ON true;

COMMENT ON VIEW mta_sts_verdict IS
    'Per domain with an MTA-STS record: would a strict modern sender (TLS '
    '1.2 or later, OpenSSL security level 2) deliver when enforcing the '
    'policy, and the RFC 8460 failures it would report.';
