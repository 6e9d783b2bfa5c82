/*
 * verifychain: judges a stored certificate chain with crawler/verify/verify.c and
 * prints one JSON object with every verdict, for the integration tests.
 * Not part of mxcrawl itself.
 *
 *   verifychain [--ca-file F] [--ca-dir D] [--at UNIXTIME] --mx-host H
 *               [--domain D] [--tlsa "U S M HEX"]... [--tlsa-name N]...
 *               [--dane-facts secure_path,tlsa_bogus,starttls_ok|none]
 *               [--threads T --repeat R] CHAIN.pem
 *
 * CHAIN.pem holds the certificates as presented, leaf first; their DER
 * bytes are used exactly as stored (never re-encoded). Without --ca-file
 * and --ca-dir the system store is used; --at defaults to now.
 *
 * DANE runs when at least one --tlsa or --dane-facts is given. Its
 * reference names are the --tlsa-name values (the TLSA base domain
 * first), then the MX host; without --tlsa-name the MX host alone.
 * --dane-facts names the DNS and SMTP facts that hold (the others do not)
 * and adds "dane_decided": verify_dane_decide() over them and this chain's
 * DANE result. An empty file as CHAIN.pem stands for "no TLS session".
 * --threads/--repeat: T threads share the one verify_ctx and judge the
 * chain R times each; every result must equal the first ("threads_agree").
 *
 * The object: rc, trusted, valid_ignoring_strength, first_error, errors[]
 * (names), error_details[]
 * {name, code, depth}, errors_truncated, missing_intermediate,
 * name_matches_mx, name_matches_domain, cn_only, weak[], chain_len,
 * chain_used, chain_truncated, skipped, path_len, out_of_order,
 * leaf_san_count, dane (null, or {rc,
 * outcome, records, usable, use[], records_truncated, match_index,
 * match_depth, error}), and with --dane-facts dane_decided. Exit status 0 when both judgements ran (whatever
 * they found), 1 when one failed (rc not "ok"), 64 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "crawler/verify/verify.h"

/* Certificates read from the chain file: more than the judgement uses,
 * so that its truncation can be tested. */
#define VC_MAX_CERTS 1024
#define VC_MAX_TLSA 64
#define VC_MAX_NAMES (VERIFY_MAX_REF_NAMES - 1)
#define VC_MAX_THREADS 64
#define EX_USAGE 64

struct pem_cert {
	unsigned char *data;
	long len;
};

/* One judgement's inputs and results, shared by the threads of a
 * --threads run (read-only there, except each thread's own `agree`). */
struct job {
	const struct verify_ctx *ctx;
	const struct verify_der *der;
	size_t n;
	time_t at;
	const char *mx_host, *domain;
	const char *const *names;
	size_t nnames;
	const struct verify_tlsa *tlsa;
	size_t ntlsa;
	enum verify_rc rc, drc;
	struct verify_result res;
	struct verify_dane_result dres;
	unsigned repeat;
	bool agree;
};

static void judge(struct job *j)
{
	j->rc = verify_chain(j->ctx, j->der, j->n, j->at, j->mx_host, j->domain,
			     &j->res);
	j->drc = verify_dane(j->ctx, j->der, j->n, j->at, j->names, j->nnames,
			     j->tlsa, j->ntlsa, &j->dres);
}

/*
 * A --threads worker: judges its copy of the job `repeat` times and checks
 * each result against the one the main thread found first. Results are
 * zeroed before being filled, padding included, so comparing whole
 * structs is exact.
 */
static void *thread_main(void *arg)
{
	struct job *mine = arg;
	struct job j = *mine;

	mine->agree = true;
	for (unsigned i = 0; i < mine->repeat; i++) {
		judge(&j);
		if (j.rc != mine->rc || j.drc != mine->drc ||
		    memcmp(&j.res, &mine->res, sizeof(j.res)) != 0 ||
		    memcmp(&j.dres, &mine->dres, sizeof(j.dres)) != 0)
			mine->agree = false;
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: verifychain [--ca-file F] [--ca-dir D] [--at UNIXTIME] "
		"--mx-host H [--domain D] [--tlsa \"U S M HEX\"]... "
		"[--tlsa-name N]... CHAIN.pem\n");
	exit(EX_USAGE);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "U S M HEX" into *r; the data buffer is malloc'ed. 0 or -1. */
static int parse_tlsa(const char *s, struct verify_tlsa *r)
{
	unsigned u, sel, m;
	int off = 0;
	size_t hlen;
	uint8_t *buf;

	if (sscanf(s, "%u %u %u %n", &u, &sel, &m, &off) != 3 || u > 255 ||
	    sel > 255 || m > 255)
		return -1;
	s += off;
	hlen = strlen(s);
	if (hlen % 2 != 0)
		return -1;
	buf = malloc(hlen / 2 + 1);
	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < hlen / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			return -1;
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	r->usage = (uint8_t)u;
	r->selector = (uint8_t)sel;
	r->mtype = (uint8_t)m;
	r->data = buf;
	r->len = hlen / 2;
	return 0;
}

/* Reads every CERTIFICATE block of a PEM file, raw. Returns the count,
 * or -1. */
static int read_chain(const char *path, struct pem_cert *certs, int max)
{
	BIO *bio = BIO_new_file(path, "r");
	int n = 0;

	if (bio == NULL)
		return -1;
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long len = 0;

		if (!PEM_read_bio(bio, &name, &header, &data, &len))
			break; /* end of file (or garbage after the last) */
		if (strcmp(name, "CERTIFICATE") == 0 && n < max) {
			certs[n].data = data;
			certs[n].len = len;
			n++;
			data = NULL;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	BIO_free(bio);
	return n;
}

static const char *jbool(bool b)
{
	return b ? "true" : "false";
}

/* Every string printed comes from verify.c's static tables: plain
 * snake_case, nothing to escape. */
static void print_error(const struct verify_error *e)
{
	printf("{\"name\":\"%s\",\"code\":%d,\"depth\":%d}", e->name, e->code,
	       e->depth);
}

static void print_result(enum verify_rc rc, const struct verify_result *r)
{
	printf("{\"rc\":\"%s\",\"trusted\":%s,\"valid_ignoring_strength\":%s,",
	       verify_rc_str(rc), jbool(r->trusted),
	       jbool(r->valid_ignoring_strength));
	if (r->nerrors > 0)
		printf("\"first_error\":\"%s\",", r->errors[0].name);
	else
		printf("\"first_error\":null,");
	printf("\"errors\":[");
	for (unsigned i = 0; i < r->nerrors; i++)
		printf("%s\"%s\"", i ? "," : "", r->errors[i].name);
	printf("],\"error_details\":[");
	for (unsigned i = 0; i < r->nerrors; i++) {
		if (i)
			putchar(',');
		print_error(&r->errors[i]);
	}
	printf("],\"errors_truncated\":%s,", jbool(r->errors_truncated));
	printf("\"missing_intermediate\":%s,\"name_matches_mx\":%s,"
	       "\"name_matches_domain\":%s,\"cn_only\":%s,\"weak\":[",
	       jbool(r->missing_intermediate), jbool(r->name_matches_mx),
	       jbool(r->name_matches_domain), jbool(r->cn_only));
	bool first = true;
	for (unsigned i = 0; i < VERIFY_WEAK_BITS; i++) {
		if (r->weak & (1u << i)) {
			printf("%s\"%s\"", first ? "" : ",",
			       verify_weak_str(1u << i));
			first = false;
		}
	}
	printf("],\"chain_len\":%u,\"chain_used\":%u,\"chain_truncated\":%s,"
	       "\"skipped\":%u,\"path_len\":%u,\"out_of_order\":%s,"
	       "\"leaf_san_count\":%u",
	       r->chain_len, r->chain_used, jbool(r->chain_truncated),
	       r->skipped, r->path_len, jbool(r->out_of_order),
	       r->leaf_san_count);
}

/* "secure_path,starttls_ok" into *f; "none" sets nothing. 0 or -1. */
static int parse_facts(const char *s, struct verify_dane_facts *f)
{
	char buf[256], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (char *w = strtok_r(buf, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "secure_path") == 0)
			f->secure_path = true;
		else if (strcmp(w, "tlsa_bogus") == 0)
			f->tlsa_bogus = true;
		else if (strcmp(w, "starttls_ok") == 0)
			f->starttls_ok = true;
		else if (strcmp(w, "none") != 0)
			return -1;
	}
	return 0;
}

static void print_dane(enum verify_rc rc, const struct verify_dane_result *d)
{
	printf(",\"dane\":{\"rc\":\"%s\",\"outcome\":\"%s\",\"records\":%u,"
	       "\"usable\":%u,\"records_truncated\":%s,\"use\":[",
	       verify_rc_str(rc), verify_dane_outcome_str(d->outcome),
	       d->nrecords, d->nusable, jbool(d->records_truncated));
	for (unsigned i = 0; i < d->nrecords; i++)
		printf("%s\"%s\"", i ? "," : "",
		       verify_tlsa_use_str((enum verify_tlsa_use)d->use[i]));
	printf("],\"match_index\":%d,\"match_depth\":%d,\"error\":",
	       d->match_index, d->match_depth);
	if (d->error.name != NULL)
		print_error(&d->error);
	else
		printf("null");
	printf("}");
}

/* Runs `threads` workers on copies of *ref; true if all agreed. */
static bool run_threads(const struct job *ref, unsigned threads,
			unsigned repeat)
{
	pthread_t tid[VC_MAX_THREADS];
	struct job jobs[VC_MAX_THREADS];
	bool agree = true;
	unsigned started = 0;

	for (unsigned i = 0; i < threads; i++) {
		jobs[i] = *ref;
		jobs[i].repeat = repeat;
		if (pthread_create(&tid[i], NULL, thread_main, &jobs[i]) != 0) {
			agree = false;
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		agree = agree && jobs[i].agree;
	}
	return agree;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca-file", required_argument, NULL, 'f' },
		{ "ca-dir", required_argument, NULL, 'd' },
		{ "at", required_argument, NULL, 't' },
		{ "mx-host", required_argument, NULL, 'm' },
		{ "domain", required_argument, NULL, 'D' },
		{ "tlsa", required_argument, NULL, 'T' },
		{ "tlsa-name", required_argument, NULL, 'N' },
		{ "dane-facts", required_argument, NULL, 'F' },
		{ "threads", required_argument, NULL, 'j' },
		{ "repeat", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static struct pem_cert certs[VC_MAX_CERTS];
	const char *ca_file = NULL, *ca_dir = NULL, *err = NULL;
	const char *names[VERIFY_MAX_REF_NAMES];
	struct verify_tlsa tlsa[VC_MAX_TLSA];
	struct verify_dane_facts facts = { 0 };
	struct job job = { .at = time(NULL), .names = names, .tlsa = tlsa };
	bool have_facts = false;
	unsigned threads = 0, repeat = 1;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		long long v;

		switch (c) {
		case 'f':
			ca_file = optarg;
			break;
		case 'd':
			ca_dir = optarg;
			break;
		case 't':
			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg)
				usage();
			job.at = (time_t)v;
			break;
		case 'm':
			job.mx_host = optarg;
			break;
		case 'D':
			job.domain = optarg;
			break;
		case 'T':
			if (job.ntlsa == VC_MAX_TLSA ||
			    parse_tlsa(optarg, &tlsa[job.ntlsa]) != 0) {
				fprintf(stderr, "bad --tlsa: %s\n", optarg);
				exit(EX_USAGE);
			}
			job.ntlsa++;
			break;
		case 'F':
			if (parse_facts(optarg, &facts) != 0)
				usage();
			have_facts = true;
			break;
		case 'N':
			if (job.nnames == VC_MAX_NAMES)
				usage();
			names[job.nnames++] = optarg;
			break;
		case 'j':
			threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || threads > VC_MAX_THREADS)
				usage();
			break;
		case 'r':
			repeat = (unsigned)strtoul(optarg, &end, 10);
			if (*end)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || job.mx_host == NULL)
		usage();
	names[job.nnames++] = job.mx_host;

	int n = read_chain(argv[optind], certs, VC_MAX_CERTS);
	if (n < 0) {
		fprintf(stderr, "cannot read %s\n", argv[optind]);
		exit(EX_USAGE);
	}
	struct verify_der *der = calloc((size_t)n + 1, sizeof(*der));
	if (der == NULL)
		exit(1);
	for (int i = 0; i < n; i++) {
		der[i].data = certs[i].data;
		der[i].len = (size_t)certs[i].len;
	}
	job.der = der;
	job.n = (size_t)n;

	struct verify_ctx *ctx = verify_ctx_new(ca_file, ca_dir, &err);
	if (ctx == NULL) {
		fprintf(stderr, "verifychain: %s\n", err);
		exit(1);
	}
	job.ctx = ctx;
	judge(&job);
	if (job.rc != VERIFY_OK)
		status = 1;
	print_result(job.rc, &job.res);
	if (job.ntlsa > 0 || have_facts) {
		if (job.drc != VERIFY_OK)
			status = 1;
		print_dane(job.drc, &job.dres);
		if (have_facts) {
			facts.nrecords = (unsigned)job.ntlsa;
			facts.nusable = job.dres.nusable;
			facts.chain_ok = job.dres.outcome == VERIFY_DANE_OK;
			printf(",\"dane_decided\":\"%s\"",
			       verify_dane_outcome_str(
				   verify_dane_decide(&facts)));
		}
	} else {
		printf(",\"dane\":null");
	}
	if (threads > 0) {
		bool agree = run_threads(&job, threads, repeat);
		printf(",\"threads_agree\":%s", jbool(agree));
		if (!agree)
			status = 1;
	}
	printf("}\n");

	verify_ctx_free(ctx);
	for (int i = 0; i < n; i++)
		OPENSSL_free(certs[i].data);
	free(der);
	for (size_t i = 0; i < job.ntlsa; i++)
		free((void *)tlsa[i].data);
	return status;
}
