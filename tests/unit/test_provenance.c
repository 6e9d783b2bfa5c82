/* The canaries' verdict (crawler/scan/provenance.c): which pairs of answers
 * show a validating resolver, which a resolver that does not validate,
 * and which a canary that cannot tell. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crawler/scan/provenance.h"
#include "unit.h"

static struct prov_canary answer(enum resolver_rc rc, int rcode,
				 enum dnssec_status st)
{
	struct prov_canary c;
	memset(&c, 0, sizeof c);
	c.name = "x.test";
	c.rc = rc;
	c.rcode = rcode;
	c.dnssec = st;
	return c;
}

UNIT_TEST(test_canary_judge)
{
	const struct prov_canary
	    sec = answer(RESOLVER_OK, DNS_RCODE_NOERROR, DNSSEC_SECURE),
	    bog = answer(RESOLVER_OK, DNS_RCODE_SERVFAIL, DNSSEC_BOGUS),
	    ins = answer(RESOLVER_OK, DNS_RCODE_NOERROR, DNSSEC_INSECURE),
	    nx = answer(RESOLVER_OK, DNS_RCODE_NXDOMAIN, DNSSEC_SECURE),
	    nx_ins = answer(RESOLVER_OK, DNS_RCODE_NXDOMAIN, DNSSEC_INSECURE),
	    to = answer(RESOLVER_TIMEOUT, -1, DNSSEC_INDETERMINATE);
	const struct {
		const char *ctx;
		const struct prov_canary *secure, *bogus;
		enum canary_verdict want;
	} rows[] = {
		{ "validating", &sec, &bog, CANARY_VALIDATING },
		{ "bogus validates", &sec, &sec, CANARY_BOGUS_VALIDATES },
		{ "bogus validates, secure not", &ins, &sec,
		  CANARY_BOGUS_VALIDATES },
		{ "bogus is a secure NXDOMAIN", &sec, &nx,
		  CANARY_BOGUS_NXDOMAIN },
		{ "bogus unsigned", &sec, &ins, CANARY_BOGUS_NOT_BOGUS },
		{ "bogus silent", &sec, &to, CANARY_BOGUS_NOT_BOGUS },
		{ "secure unsigned", &ins, &bog, CANARY_SECURE_NOT_SECURE },
		{ "no validation", &ins, &ins, CANARY_NOT_VALIDATING },
		{ "no validation, bogus NXDOMAIN", &ins, &nx_ins,
		  CANARY_NOT_VALIDATING },
		{ "no validation, secure silent", &to, &ins,
		  CANARY_NOT_VALIDATING },
		{ "nothing answers", &to, &to, CANARY_UNUSABLE },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_STR(canary_verdict_str(
			      canary_judge(rows[i].secure, rows[i].bogus)),
			  canary_verdict_str(rows[i].want), rows[i].ctx);
}

UNIT_TEST(test_canary_describe)
{
	struct prov_canary c =
	    answer(RESOLVER_OK, DNS_RCODE_SERVFAIL, DNSSEC_BOGUS);
	char buf[256];

	c.n_ede = 1;
	c.ede[0] = 6;
	c.cd_requeried = true;
	prov_canary_describe(&c, buf, sizeof buf);
	CHECK_STR(buf, "SERVFAIL, bogus, EDE 6 (dnssec_bogus), CD re-query",
		  "bogus");
	c = answer(RESOLVER_TIMEOUT, -1, DNSSEC_INDETERMINATE);
	prov_canary_describe(&c, buf, sizeof buf);
	CHECK_STR(buf, "timeout", "timeout");
}

UNIT_TEST(test_sha256_hex)
{
	char sha[65];
	prov_sha256_hex("", 0, sha);
	CHECK_STR(sha,
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
		  "b855",
		  "empty");
}

/* The CA file's digest: a count of certificates, or a negative errno
 * the run record can name (never -1, which would read as EPERM). */
UNIT_TEST(test_file_digest_errors)
{
	char path[] = "/tmp/mxcrawl-unit-prov.XXXXXX";
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nx\n"
				  "-----BEGIN CERTIFICATE-----\ny\n";
	char sha[65];
	size_t certs = 99;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, pem, sizeof pem - 1) == (ssize_t)(sizeof pem - 1));
	close(fd);
	CHECK_INT(prov_file_digest(path, sha, &certs), 0, "a PEM file");
	CHECK_INT(certs, 2, "certificates");
	CHECK_INT(strlen(sha), 64, "hex digest");
	unlink(path);

	errno = 0;
	CHECK_INT(prov_file_digest(path, sha, &certs), -ENOENT, "gone");
	CHECK_INT(errno, ENOENT, "errno kept for the caller");
	/* A directory opens, and reading it fails. */
	CHECK_INT(prov_file_digest("/", sha, NULL), -EIO, "a directory");
}
