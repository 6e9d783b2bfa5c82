/*
 * The registrable domain of a host name by the Public Suffix List: the
 * public suffix plus one label ("mx1.provider.co.uk" -> "provider.co.uk",
 * not "co.uk"), so that provider concentration groups hosts by who
 * registered them.
 */
#ifndef MXCRAWL_REGDOMAIN_H
#define MXCRAWL_REGDOMAIN_H

/*
 * The registrable domain of `host` (presentation form: lower case, no
 * trailing dot), pointing into `host`; NULL when the name looks like an
 * IPv4 literal or is itself a public suffix. The list is Debian's
 * publicsuffix (/usr/share/publicsuffix), else libpsl's built-in copy,
 * loaded once per process; thread-safe.
 */
const char *regdomain_of(const char *host);

#endif
