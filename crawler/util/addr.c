/* IPv4 and IPv6 addresses: text forms (see addr.h). */
#include "crawler/util/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int addr_parse(const char *text, struct addr *a)
{
	if (!text || !a)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (strchr(text, ':')) {
		if (inet_pton(AF_INET6, text, a->bytes) != 1)
			return -EINVAL;
		a->family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, text, a->bytes) != 1)
			return -EINVAL;
		a->family = AF_INET;
	}
	return 0;
}

void addr_format(const struct addr *a, char *out, size_t cap)
{
	if (!out || cap == 0)
		return;
	out[0] = '\0';
	if (!a || (a->family != AF_INET && a->family != AF_INET6))
		return;
	if (cap > (size_t)INT32_MAX)
		cap = (size_t)INT32_MAX;
	if (!inet_ntop(a->family, a->bytes, out, (socklen_t)cap))
		out[0] = '\0';
}

bool addr_is_ipv4_literal(const char *text)
{
	int labels = 0;
	const char *s = text;

	while (*s) {
		int n = 0, v = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s - '0');
			if (++n > 3)
				return false;
			s++;
		}
		if (n == 0 || v > 255)
			return false;
		labels++;
		if (*s == '.')
			s++;
		else if (*s)
			return false;
	}
	return labels == 4;
}
