/*
 * Registrable domains with libpsl. The list is loaded on first use and
 * never freed: it is read-only after loading, so every thread shares it.
 */
#include <libpsl.h>
#include <pthread.h>

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

const char *regdomain_of(const char *host)
{
	pthread_once(&regdomain_once, regdomain_load);
	/* A name like "192.0.2.1" is a name, but its "registrable domain"
	 * ("2.1") would name no provider. */
	if (!regdomain_psl || !host || !*host || addr_is_ipv4_literal(host))
		return NULL;
	return psl_registrable_domain(regdomain_psl, host);
}
