-- Why the policy could not be fetched (RFC 8461 §3.3), one outcome per
-- domain as the fetcher recorded it (stsfetch.h), labelled in words and
-- grouped under the report's causes: DNS (no address for mta-sts.<domain>,
-- or only refused ones), TCP, TLS (handshake; WebPKI: chain not trusted
-- or not naming the host), HTTP (status not 200, a redirect, which is not
-- followed, media type, content coding, a malformed response), size,
-- timeout. The words are for readers of the report; the crawler's names
-- (http_status ...) are in domain_mta_sts.fetch_outcome, and an outcome
-- without words here shows under its name.
CREATE VIEW mta_sts_fetch_failure AS
WITH names(outcome, label, ord) AS (
    VALUES ('dns_error', 'DNS / no address for the policy host', 1),
           ('refused_address', 'DNS / only refused addresses', 2),
           ('connect_refused', 'TCP / connection refused', 3),
           ('connect_error', 'TCP / connect failed', 4),
           ('connection_lost', 'TCP / connection lost', 5),
           ('tls_error', 'TLS / handshake failed', 6),
           ('webpki_invalid', 'TLS / certificate not WebPKI-valid', 7),
           ('http_status', 'HTTP / status other than 200', 8),
           ('http_redirect', 'HTTP / redirect (not followed)', 9),
           ('media_type', 'HTTP / media type not text/plain', 10),
           ('content_encoding', 'HTTP / content coding other than identity', 11),
           ('protocol_error', 'HTTP / malformed response', 12),
           ('headers_too_large', 'size / headers too large', 13),
           ('too_large', 'size / policy too large', 14),
           ('timeout', 'timeout', 15)
), d AS (
    SELECT campaign_id, fetch_outcome FROM b_sts WHERE txt_valid
), t AS (
    SELECT campaign_id, count(*) AS n FROM d GROUP BY campaign_id
)
SELECT d.campaign_id, 'domain'::text AS scope,
       coalesce(names.label, d.fetch_outcome, 'not fetched') AS label,
       coalesce(names.ord, 99) AS ord,
       count(*) AS numerator, max(t.n) AS denominator
  FROM d JOIN t USING (campaign_id)
  LEFT JOIN names ON names.outcome = d.fetch_outcome
 WHERE d.fetch_outcome IS DISTINCT FROM 'ok'
 GROUP BY d.campaign_id, 3, 4;

COMMENT ON VIEW mta_sts_fetch_failure IS
    'Domains whose MTA-STS policy fetch failed, by cause (one per domain): '
    'DNS (no address, only refused addresses), TCP (refused, failed, lost), '
    'TLS (handshake failed, certificate not WebPKI-valid), HTTP (status '
    'other than 200, redirect, media type, content coding, malformed), size, '
    'timeout. Denominator: domains with a mail route and a valid MTA-STS TXT '
    'record (the fetch is attempted for those).';
SELECT register(67, 'mta_sts_fetch_failure', 'mta_sts', 'share',
    'MTA-STS policy fetch failures by cause',
    'domains with a valid MTA-STS TXT record');
