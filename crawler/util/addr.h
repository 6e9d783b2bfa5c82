/*
 * An IPv4 or IPv6 address as the crawler passes it between stages, and its
 * text forms. What may be contacted is the address policy's business
 * (scan/addrpolicy.h).
 */
#ifndef MXCRAWL_UTIL_ADDR_H
#define MXCRAWL_UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 address in network byte order. */
struct addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

/* Parses text ("192.0.2.1", "2001:db8::1") into *a; 0, or -EINVAL when
 * text is not an address (or an argument is NULL). */
int addr_parse(const char *text, struct addr *a);
/* Writes the text form to out (at least 46 bytes). */
void addr_format(const struct addr *a, char *out, size_t cap);
/*
 * The text form of an address of `family` (AF_INET: 4 bytes, AF_INET6:
 * 16) into out[0..cap), exactly as inet_ntop() writes it (RFC 5952 for
 * IPv6, with glibc's embedded IPv4 forms), without going through
 * sprintf. Returns false (out empty) for another family or too small a
 * cap.
 */
bool addr_text(int family, const uint8_t *bytes, char *out, size_t cap);

/* True if the text looks like an IPv4 literal like "192.0.2.1": four
 * dot-separated decimal labels of 1-3 digits, each at most 255. An MX
 * target like that is flagged, and still resolved as the domain name it
 * is (RFC 5321 §5.1): it is never read as an address. */
bool addr_is_ipv4_literal(const char *text);

#endif
