/*
 * An IPv4 or IPv6 address as the crawler passes it between stages, and its
 * text forms. What may be contacted is the address policy's business
 * (scan/addrpolicy.h).
 */
#ifndef MXCRAWL_CRAWLER_ADDR_H
#define MXCRAWL_CRAWLER_ADDR_H

#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 address in network byte order. */
struct addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

/* Parses text ("192.0.2.1", "2001:db8::1") into *a; 0 or -1. */
int addr_parse(const char *text, struct addr *a);
/* Writes the text form to out (at least 46 bytes). */
void addr_format(const struct addr *a, char *out, size_t cap);

#endif
