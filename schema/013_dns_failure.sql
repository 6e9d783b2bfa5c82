-- DNS failure semantics (M7): what a DNSSEC status rests on, and hosts
-- whose address lookups answered only in part.

-- Why an RRset got its DNSSEC status (crawler/resolver.h, dnssec_why):
--   ad / no_ad            secure / insecure: the answer's AD bit
--   servfail_then_answer  the first answer was SERVFAIL without a DNSSEC
--                         EDE, the CD query answered and so did the repeat
--                         without CD: a transient failure; status, rcode
--                         and records are the repeat's
--   ede                   bogus: SERVFAIL with an EDE 6..12 (RFC 8914)
--   servfail_repeated     bogus: SERVFAIL without such an EDE, the CD query
--                         answered (NOERROR/NXDOMAIN), and the repeat
--                         without CD was SERVFAIL again
--   servfail_unconfirmed  indeterminate: as above, but the repeat got no
--                         answer (timeout, error, other rcode); an upstream
--                         timeout looks the same as a validation failure
--   servfail              indeterminate: the CD query failed too
--   no_answer             indeterminate: timeout, malformed, error
--   rcode                 indeterminate: REFUSED, FORMERR, ...
--   not_validating        unknown: the resolver does not validate
-- NULL for rows written before this migration (their SERVFAIL that
-- answered with CD was called bogus without a repeat).
ALTER TABLE dns_rrset ADD COLUMN dnssec_reason text;

-- A kept MX host one of whose A/AAAA lookups got no usable answer
-- (indeterminate) while the other gave addresses: it was probed on those,
-- and its address set may be incomplete. address_outcome is then decided
-- by the addresses it got. NULL when not kept (and before this migration).
ALTER TABLE domain_mx ADD COLUMN addresses_partial boolean;

COMMENT ON COLUMN dns_rrset.dnssec_reason IS
    'what the DNSSEC status rests on: ad, no_ad, servfail_then_answer, ede, '
    'servfail_repeated, servfail_unconfirmed, servfail, no_answer, rcode, '
    'not_validating';
COMMENT ON COLUMN domain_mx.addresses_partial IS
    'one of the A/AAAA lookups got no usable answer while the other gave '
    'addresses; the host was probed on those';
COMMENT ON COLUMN domain_mx.ip_literal IS
    'the MX target looks like an IPv4 address; since migration 013 it is '
    'resolved as the domain name it is (address_outcome from that lookup), '
    'before it was never looked up (address_outcome mx_ip_literal)';

-- The export carries both facts: export_domain is redefined once, with
-- every field added since 006, in 023.
