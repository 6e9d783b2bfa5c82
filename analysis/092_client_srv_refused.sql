-- SRV targets whose addresses the address policy refused (never
-- contacted), as domain_mx.address_outcome counts MX hosts. Counted per
-- distinct target host name over every domain and service of the
-- campaign: a provider's host named by many domains is one target; a
-- target whose outcome differs between domains (a blocklisted domain
-- name, a partial answer) counts under each outcome it had.
CREATE VIEW client_srv_refused AS
WITH t AS (
    SELECT DISTINCT campaign_id, target, address_outcome,
           EXISTS (SELECT 1 FROM unnest(verdicts) v WHERE v <> 'ok') AS some_refused
      FROM client_srv_target
     WHERE address_outcome IS NOT NULL
), d AS (
    SELECT campaign_id, count(DISTINCT target) AS n FROM t GROUP BY campaign_id
)
SELECT d.campaign_id, 'target'::text AS scope, x.label, x.ord,
       (SELECT count(DISTINCT t.target) FROM t
         WHERE t.campaign_id = d.campaign_id
           AND CASE x.ord WHEN 0 THEN t.address_outcome = 'refused_address'
                          ELSE t.some_refused END) AS numerator,
       d.n AS denominator
  FROM d CROSS JOIN (VALUES ('every address refused', 0),
                            ('at least one address refused', 1)) x (label, ord);

COMMENT ON VIEW client_srv_refused IS
    'Distinct SRV target hosts (of every mail client service) whose addresses '
    'the address policy refused: every address (address_outcome '
    'refused_address: the target is never contacted), or at least one '
    '(reserved address space, or --blocklist). Denominator: distinct SRV '
    'targets other than "." of the campaign.';
SELECT register(92, 'client_srv_refused', 'client', 'share',
    'SRV targets with refused addresses', 'distinct SRV targets');
