-- Provider concentration by registrable domain (issue M8 item 5).
--
-- analysis.mx_provider grouped MX hosts by their last two labels, so
-- every provider under a multi-label public suffix ("mx.a.co.uk",
-- "mx.b.co.uk") counted as one provider "co.uk". The crawler now stores
-- each kept MX host's registrable domain by the Public Suffix List
-- (libpsl, Debian's publicsuffix list); rows stored before stay NULL and
-- the view falls back to the last two labels for them.

ALTER TABLE domain_mx ADD COLUMN registrable text;

COMMENT ON COLUMN domain_mx.registrable IS
    'Registrable domain of the MX host by the Public Suffix List (public '
    'suffix plus one label, e.g. provider.co.uk for mx1.provider.co.uk), '
    'as the crawler''s libpsl and /usr/share/publicsuffix list had it. NULL '
    'for hosts not kept, names that look like an IPv4 literal, names that '
    'are themselves a public suffix, and rows stored before migration 023.';
