/*
 * Registrable domains with libpsl. The list is loaded on first use and
 * never freed: it is read-only after loading, so every thread shares it.
 */
#include <libpsl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "crawler/scan/regdomain.h"
#include "crawler/util/addr.h"

static const psl_ctx_t *regdomain_psl;
static pthread_once_t regdomain_once = PTHREAD_ONCE_INIT;

static void regdomain_load(void)
{
	/* NULL: the distribution's list (publicsuffix), or the built-in one
	 * when that is newer; the built-in one when the file is missing. */
	regdomain_psl = psl_latest(NULL);
	if (!regdomain_psl)
		regdomain_psl = psl_builtin();
}

/*
 * The last answers per thread, by a hash of the host name: libpsl's look-up
 * was 8 % of a DNS-only scan's instructions, and MX host names repeat
 * (providers serve many domains). An entry holds where the registrable
 * domain starts in the name, or -1 for NULL.
 */
#define REGDOMAIN_CACHE 128
#define REGDOMAIN_CACHE_NAME 256
struct regdomain_entry {
	int off; /* -1: NULL */
	char host[REGDOMAIN_CACHE_NAME];
};
static _Thread_local struct regdomain_entry regdomain_cache[REGDOMAIN_CACHE];

static const char *regdomain_lookup(const char *host)
{
	pthread_once(&regdomain_once, regdomain_load);
	/* A name like "192.0.2.1" is a name, but its "registrable domain"
	 * ("2.1") would name no provider. */
	if (!regdomain_psl || addr_is_ipv4_literal(host))
		return NULL;
	return psl_registrable_domain(regdomain_psl, host);
}

const char *regdomain_of(const char *host)
{
	if (!host || !*host)
		return NULL;
	size_t n = strlen(host);
	if (n >= REGDOMAIN_CACHE_NAME)
		return regdomain_lookup(host);
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)host[i]) * 16777619u;
	struct regdomain_entry *e = &regdomain_cache[h % REGDOMAIN_CACHE];
	if (e->host[0] && strcmp(e->host, host) == 0)
		return e->off < 0 ? NULL : host + e->off;
	const char *r = regdomain_lookup(host);
	memcpy(e->host, host, n + 1);
	e->off = r ? (int)(r - host) : -1;
	return r;
}
