-- Domains whose mail client ports are worse than their port 25: every
-- port 25 endpoint of the domain gave STARTTLS with a trusted
-- certificate naming the MX host, but some client endpoint did not give
-- TLS with a trusted certificate naming the SRV target; and the reverse.
-- Units: domains with at least one probed endpoint on both sides.
CREATE VIEW client_worse AS
WITH mx AS (
    SELECT de.campaign_id, de.target_id,
           bool_and(e.outcome = 'starttls_ok' AND coalesce(e.trusted, false)
                    AND coalesce(e.name_matches_mx, false)) AS good
      FROM domain_endpoint de
      JOIN endpoint e ON e.campaign_id = de.campaign_id AND e.ip = de.ip
                     AND e.port = de.port AND e.sni = de.sni
     GROUP BY de.campaign_id, de.target_id
), cl AS (
    SELECT de.campaign_id, de.target_id,
           bool_and(c.outcome = 'tls_ok' AND coalesce(c.trusted, false)
                    AND coalesce(c.name_matches_host, false)) AS good
      FROM domain_client_endpoint de
      JOIN client_endpoint c ON c.campaign_id = de.campaign_id AND c.ip = de.ip
                            AND c.port = de.port AND c.sni = de.sni
                            AND c.service = de.service
     GROUP BY de.campaign_id, de.target_id
), both_ AS (
    SELECT campaign_id, mx.good AS mx_good, cl.good AS cl_good
      FROM mx JOIN cl USING (campaign_id, target_id)
)
SELECT campaign_id, 'domain'::text AS scope, x.label, x.o AS ord,
       count(*) FILTER (WHERE CASE x.o WHEN 0 THEN mx_good AND NOT cl_good
                                       ELSE cl_good AND NOT mx_good END) AS numerator,
       count(*) AS denominator
  FROM both_ CROSS JOIN (VALUES ('client ports worse than port 25', 0),
                                ('port 25 worse than client ports', 1)) x (label, o)
 GROUP BY campaign_id, x.label, x.o;

COMMENT ON VIEW client_worse IS
    'Domains whose mail client ports are worse than their port 25: every '
    'port 25 endpoint completed STARTTLS with a trusted certificate naming '
    'the MX host, while some probed client endpoint gave no TLS session, an '
    'untrusted certificate or one not naming the SRV target; and the '
    'reverse. Denominator: domains with at least one probed endpoint on '
    'port 25 and on a client port.';
SELECT register(97, 'client_worse', 'client', 'share',
    'Client ports worse than port 25',
    'domains with probed endpoints on port 25 and on a client port');
