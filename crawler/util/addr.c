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

/* Dotted quad of b[4] at out[o]; returns the new end. */
static size_t put_v4(char *out, size_t o, const uint8_t *b)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (i)
			out[o++] = '.';
		if (v >= 100)
			out[o++] = (char)('0' + v / 100);
		if (v >= 10)
			out[o++] = (char)('0' + v / 10 % 10);
		out[o++] = (char)('0' + v % 10);
	}
	return o;
}

/* Address text was formatted by inet_ntop(), i.e. sprintf: 6 % of a
 * DNS-only scan's instructions went there. */
bool addr_text(int family, const uint8_t *bytes, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	char buf[64];
	size_t o = 0;

	if (out && cap > 0)
		out[0] = '\0';
	if (!out || !bytes)
		return false;
	if (family == AF_INET) {
		o = put_v4(buf, 0, bytes);
	} else if (family == AF_INET6) {
		unsigned w[8];
		int best = -1, best_len = 0, cur = -1, cur_len = 0;
		for (int i = 0; i < 8; i++) {
			w[i] = (unsigned)bytes[2 * i] << 8 | bytes[2 * i + 1];
			if (w[i] == 0) {
				if (cur < 0)
					cur = i, cur_len = 0;
				if (++cur_len > best_len)
					best = cur, best_len = cur_len;
			} else {
				cur = -1;
			}
		}
		/* RFC 5952 §4.2.2: "::" never stands for one group. */
		if (best_len < 2)
			best = -1;
		for (int i = 0; i < 8; i++) {
			if (best >= 0 && i >= best && i < best + best_len) {
				if (i == best)
					buf[o++] = ':';
				continue;
			}
			if (i > 0)
				buf[o++] = ':';
			/* IPv4-compatible (::a.b.c.d) and -mapped
			 * (::ffff:a.b.c.d), as glibc writes them. */
			if (i == 6 && best == 0 &&
			    (best_len == 6 ||
			     (best_len == 5 && w[5] == 0xffff))) {
				o = put_v4(buf, o, bytes + 12);
				break;
			}
			bool lead = true;
			for (int k = 12; k >= 0; k -= 4) {
				unsigned d = w[i] >> k & 15;
				if (lead && d == 0 && k > 0)
					continue;
				lead = false;
				buf[o++] = hex[d];
			}
		}
		if (best >= 0 && best + best_len == 8)
			buf[o++] = ':';
	} else {
		return false;
	}
	if (o + 1 > cap)
		return false;
	memcpy(out, buf, o);
	out[o] = '\0';
	return true;
}

void addr_format(const struct addr *a, char *out, size_t cap)
{
	if (!out || cap == 0)
		return;
	out[0] = '\0';
	if (!a || (a->family != AF_INET && a->family != AF_INET6))
		return;
	(void)addr_text(a->family, a->bytes, out, cap);
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
