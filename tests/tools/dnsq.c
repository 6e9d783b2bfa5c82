/*
 * dnsq: asks DNS questions through crawler/dns/resolver.c on a libuv loop and
 * prints one JSON line per answer, for the integration tests and the
 * benchmark. Not part of mxcrawl itself.
 *
 *   dnsq [options] SERVER NAME TYPE [TYPE...]
 *   dnsq [options] --file FILE|- SERVER     (lines "NAME TYPE")
 *
 * The JSON line: name, type, rc, dns_rc, rcode, dnssec, ede[], ede_text,
 * large, len, cd_requeried, cd_rcode (when the CD query answered),
 * cd_records (the CD answer is handed over as evidence), requeried (asked
 * again without CD), again_rcode, why (dnssec_why_str), elapsed_ms,
 * answers[] {owner, type,
 * ttl, data}. A summary object goes to stderr at the end. Exit status 0
 * when every lookup that was started got exactly one callback, the loop
 * closed cleanly and (without --cancel-after) all were started; 1
 * otherwise; 64 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "crawler/dns/dns_wire.h"
#include "crawler/util/json.h"
#include "crawler/dns/resolver.h"

/* One output line is at most this long (a large answer with TXT data). */
#define DNSQ_LINE_MAX (1024 * 1024)

struct job {
	char *name;
	uint16_t qtype;
};

struct dnsq {
	uv_loop_t loop;
	struct resolver *res;
	struct job *jobs;
	size_t njobs, capjobs;
	uint64_t total; /* njobs * repeat */
	uint64_t next;	/* next job sequence number to start */
	uint64_t started, answered, not_started, in_flight;
	uint64_t by_rc[RESOLVER_RC_LAST];
	uint64_t by_status[DNSSEC_STATUS_LAST];
	uint64_t double_calls;
	uint8_t *calls; /* callbacks per started sequence number */
	unsigned parallel;
	uint64_t cancel_after; /* 0: never */
	bool freed;
	bool quiet;
	uint64_t t0, t_last;
	uint64_t sent_at_free;
	struct jbuf line;
};

static const struct {
	const char *name;
	uint16_t type;
} qtypes[] = {
	{ "A", DNS_TYPE_A },	       { "NS", DNS_TYPE_NS },
	{ "CNAME", DNS_TYPE_CNAME },   { "SOA", DNS_TYPE_SOA },
	{ "PTR", DNS_TYPE_PTR },       { "MX", DNS_TYPE_MX },
	{ "TXT", DNS_TYPE_TXT },       { "AAAA", DNS_TYPE_AAAA },
	{ "DS", DNS_TYPE_DS },	       { "RRSIG", DNS_TYPE_RRSIG },
	{ "DNSKEY", DNS_TYPE_DNSKEY }, { "TLSA", DNS_TYPE_TLSA },
	{ "ANY", DNS_TYPE_ANY },
};

static int parse_qtype(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof qtypes / sizeof qtypes[0]; i++) {
		if (strcasecmp(s, qtypes[i].name) == 0) {
			*out = qtypes[i].type;
			return 0;
		}
	}
	if (strncasecmp(s, "TYPE", 4) == 0)
		s += 4;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static void add_job(struct dnsq *d, const char *name, uint16_t qtype)
{
	if (d->njobs == d->capjobs) {
		d->capjobs = d->capjobs ? d->capjobs * 2 : 16;
		d->jobs = realloc(d->jobs, d->capjobs * sizeof *d->jobs);
		if (!d->jobs) {
			perror("dnsq");
			exit(1);
		}
	}
	d->jobs[d->njobs].name = strdup(name);
	if (!d->jobs[d->njobs].name) {
		perror("dnsq");
		exit(1);
	}
	d->jobs[d->njobs].qtype = qtype;
	d->njobs++;
}

static int read_jobs(struct dnsq *d, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char buf[2048], name[1100], type[32];
	unsigned lineno = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(buf, sizeof buf, f)) {
		uint16_t qt;
		lineno++;
		if (buf[0] == '#' || strspn(buf, " \t\r\n") == strlen(buf))
			continue;
		if (sscanf(buf, "%1099s %31s", name, type) != 2 ||
		    parse_qtype(type, &qt) != 0) {
			fprintf(stderr, "dnsq: %s:%u: want NAME TYPE\n", path,
				lineno);
			return -1;
		}
		add_job(d, name, qt);
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

static void hex(struct jbuf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jbuf_printf(b, "%02x", p[i]);
}

/* The RDATA of rr as one JSON string. */
static void rr_data(struct jbuf *b, const uint8_t *pkt, size_t len,
		    const struct dns_rr *rr)
{
	static char text[2 * DNS_NAME_TEXT_MAX + 64];
	static uint8_t txt[65536];
	union {
		struct dns_a a;
		struct dns_aaaa aaaa;
		struct dns_mx mx;
		struct dns_tlsa tlsa;
		struct dns_rrsig sig;
		struct dns_soa soa;
		struct dns_txt t;
	} u;
	struct jbuf tmp;

	text[0] = '\0';
	switch (rr->type) {
	case DNS_TYPE_A:
		if (dns_rr_a(pkt, len, rr, &u.a) == DNS_OK)
			snprintf(text, sizeof text, "%s", u.a.text);
		break;
	case DNS_TYPE_AAAA:
		if (dns_rr_aaaa(pkt, len, rr, &u.aaaa) == DNS_OK)
			snprintf(text, sizeof text, "%s", u.aaaa.text);
		break;
	case DNS_TYPE_MX:
		if (dns_rr_mx(pkt, len, rr, &u.mx) == DNS_OK)
			snprintf(text, sizeof text, "%u %s", u.mx.preference,
				 u.mx.exchange);
		break;
	case DNS_TYPE_CNAME:
		dns_rr_cname(pkt, len, rr, text, sizeof text);
		break;
	case DNS_TYPE_SOA:
		if (dns_rr_soa(pkt, len, rr, &u.soa) == DNS_OK)
			snprintf(text, sizeof text, "%s %s %u", u.soa.mname,
				 u.soa.rname, u.soa.serial);
		break;
	case DNS_TYPE_RRSIG:
		if (dns_rr_rrsig(pkt, len, rr, &u.sig) == DNS_OK)
			snprintf(text, sizeof text, "%s %u %u %s",
				 dns_type_str(u.sig.type_covered),
				 u.sig.algorithm, u.sig.labels, u.sig.signer);
		break;
	case DNS_TYPE_TXT:
		if (dns_rr_txt(pkt, len, rr, txt, sizeof txt, &u.t) == DNS_OK) {
			jbuf_json_string(b, (const char *)u.t.data, u.t.len);
			return;
		}
		break;
	case DNS_TYPE_TLSA:
		if (dns_rr_tlsa(pkt, len, rr, &u.tlsa) == DNS_OK) {
			jbuf_init(&tmp, DNSQ_LINE_MAX);
			jbuf_printf(&tmp, "%u %u %u ", u.tlsa.usage,
				    u.tlsa.selector, u.tlsa.mtype);
			hex(&tmp, u.tlsa.data, u.tlsa.data_len);
			jbuf_json_string(b, tmp.data ? tmp.data : "", tmp.len);
			jbuf_free(&tmp);
			return;
		}
		break;
	default:
		/* RFC 3597 generic form. */
		jbuf_init(&tmp, DNSQ_LINE_MAX);
		jbuf_printf(&tmp, "\\# %u ", rr->rdlen);
		hex(&tmp, pkt + rr->rdata_off, rr->rdlen);
		jbuf_json_string(b, tmp.data ? tmp.data : "", tmp.len);
		jbuf_free(&tmp);
		return;
	}
	jbuf_json_string(b, text, strlen(text));
}

static void print_answer(struct dnsq *d, const struct job *j,
			 const struct resolver_answer *a)
{
	struct jbuf *b = &d->line;

	jbuf_reset(b);
	jbuf_puts(b, "{\"name\":");
	jbuf_json_string(b, j->name, strlen(j->name));
	jbuf_printf(b, ",\"type\":\"%s\"", dns_type_str(j->qtype));
	jbuf_printf(b, ",\"rc\":\"%s\"", resolver_rc_str(a->rc));
	if (a->rc == RESOLVER_MALFORMED || a->rc == RESOLVER_BAD_NAME)
		jbuf_printf(b, ",\"dns_rc\":\"%s\"", dns_rc_str(a->dns_rc));
	if (a->rcode >= 0)
		jbuf_printf(b, ",\"rcode\":\"%s\"", dns_rcode_str(a->rcode));
	else
		jbuf_puts(b, ",\"rcode\":null");
	jbuf_printf(b, ",\"dnssec\":\"%s\"", dnssec_status_str(a->dnssec));
	jbuf_puts(b, ",\"ede\":[");
	for (size_t i = 0; i < a->n_ede; i++)
		jbuf_printf(b, "%s%u", i ? "," : "", a->ede[i]);
	jbuf_puts(b, "],\"ede_text\":");
	jbuf_json_string(b, a->ede_text, strlen(a->ede_text));
	jbuf_printf(b,
		    ",\"large\":%s,\"len\":%zu,\"cd_requeried\":%s"
		    ",\"ad\":%s",
		    a->large ? "true" : "false", a->len,
		    a->cd_requeried ? "true" : "false",
		    a->msg && a->msg->ad ? "true" : "false");
	if (a->cd_rcode >= 0)
		jbuf_printf(b, ",\"cd_rcode\":\"%s\"",
			    dns_rcode_str(a->cd_rcode));
	jbuf_printf(b, ",\"cd_records\":%s,\"requeried\":%s",
		    a->cd_msg ? "true" : "false",
		    a->requeried ? "true" : "false");
	if (a->again_rcode >= 0)
		jbuf_printf(b, ",\"again_rcode\":\"%s\"",
			    dns_rcode_str(a->again_rcode));
	jbuf_printf(b, ",\"why\":\"%s\"", dnssec_why_str(a->why));
	jbuf_printf(b, ",\"elapsed_ms\":%u,\"answers\":[", a->elapsed_ms);
	if (a->msg) {
		bool first = true;
		for (size_t i = 0; i < a->msg->nrr; i++) {
			const struct dns_rr *rr = &a->msg->rr[i];
			const char *owner;
			if (rr->section != DNS_SECTION_ANSWER)
				continue;
			owner = dns_rr_owner(a->msg, rr);
			jbuf_puts(b, first ? "{\"owner\":" : ",{\"owner\":");
			first = false;
			jbuf_json_string(b, owner, strlen(owner));
			jbuf_printf(
			    b, ",\"type\":\"%s\",\"ttl\":%" PRIu32 ",\"data\":",
			    dns_type_str(rr->type), rr->ttl);
			rr_data(b, a->pkt, a->len, rr);
			jbuf_puts(b, "}");
		}
	}
	jbuf_puts(b, "]}\n");
	if (b->failed) {
		fprintf(stderr,
			"dnsq: output line too long or out of memory\n");
		return;
	}
	fwrite(b->data, 1, b->len, stdout);
}

static void start_more(struct dnsq *d);

/* One tool run; file-scope so callbacks reach it from the sequence number
 * they carry as their argument. */
static struct dnsq dq;

static void on_answer(void *arg, const struct resolver_answer *a)
{
	struct dnsq *d = &dq;
	uint64_t seq = (uint64_t)(uintptr_t)arg;
	const struct job *j = &d->jobs[seq % d->njobs];

	if (d->calls[seq]++ != 0)
		d->double_calls++;
	d->answered++;
	d->in_flight--;
	d->t_last = uv_hrtime();
	if ((unsigned)a->rc < RESOLVER_RC_LAST)
		d->by_rc[a->rc]++;
	if ((unsigned)a->dnssec < DNSSEC_STATUS_LAST)
		d->by_status[a->dnssec]++;
	if (!d->quiet)
		print_answer(d, j, a);
	if (d->cancel_after && d->answered >= d->cancel_after && !d->freed) {
		d->freed = true;
		d->sent_at_free = resolver_queries_sent(d->res);
		resolver_free(d->res);
		return;
	}
	start_more(d);
}

static void start_more(struct dnsq *d)
{
	while (!d->freed && d->next < d->total && d->in_flight < d->parallel) {
		uint64_t seq = d->next++;
		const struct job *j = &d->jobs[seq % d->njobs];
		int rc = resolver_query(d->res, j->name, j->qtype, on_answer,
					(void *)(uintptr_t)seq);
		if (rc < 0) {
			fprintf(stderr, "dnsq: %s: not started: %s\n", j->name,
				strerror(-rc));
			d->not_started++;
			continue;
		}
		d->started++;
		d->in_flight++;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dnsq [options] SERVER NAME TYPE [TYPE...]\n"
		"       dnsq [options] --file FILE|- SERVER\n"
		"  --timeout MS       per try (default 2000)\n"
		"  --tries N          tries per query (default 3)\n"
		"  --no-validate      the resolver does not validate\n"
		"  --parallel N       lookups in flight at most (default 100)\n"
		"  --repeat N         ask the whole list N times\n"
		"  --cancel-after N   resolver_free() after N answers\n"
		"  --quiet            no JSON lines, only the summary\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "tries", required_argument, NULL, 'n' },
		{ "no-validate", no_argument, NULL, 'V' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "cancel-after", required_argument, NULL, 'c' },
		{ "file", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct resolver_config cfg = { .validating = true };
	const char *file = NULL, *err = NULL;
	unsigned long repeat = 1;
	struct rusage ru;
	double secs;
	int opt, status = 0;

	struct dnsq *d = &dq;

	d->parallel = 100;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			cfg.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			cfg.tries = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'V':
			cfg.validating = false;
			break;
		case 'p':
			d->parallel = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			repeat = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			d->cancel_after = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			file = optarg;
			break;
		case 'q':
			d->quiet = true;
			break;
		default:
			usage();
			return 64;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || d->parallel == 0 || repeat == 0) {
		usage();
		return 64;
	}
	cfg.servers = argv[0];
	if (file) {
		if (argc != 1 || read_jobs(d, file) != 0)
			return 64;
	} else {
		uint16_t qt;
		if (argc < 3) {
			usage();
			return 64;
		}
		for (int i = 2; i < argc; i++) {
			if (parse_qtype(argv[i], &qt) != 0) {
				fprintf(stderr, "dnsq: unknown type %s\n",
					argv[i]);
				return 64;
			}
			add_job(d, argv[1], qt);
		}
	}
	if (d->njobs == 0) {
		fprintf(stderr, "dnsq: nothing to ask\n");
		return 64;
	}
	d->total = (uint64_t)d->njobs * repeat;
	d->calls = calloc(d->total, 1);
	if (!d->calls) {
		perror("dnsq");
		return 1;
	}
	jbuf_init(&d->line, DNSQ_LINE_MAX);
	uv_loop_init(&d->loop);
	d->res = resolver_new(&d->loop, &cfg, &err);
	if (!d->res) {
		fprintf(stderr, "dnsq: %s\n", err);
		return 64;
	}
	d->t0 = d->t_last = uv_hrtime();
	start_more(d);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (!d->freed) {
		d->sent_at_free = resolver_queries_sent(d->res);
		d->freed = true;
		resolver_free(d->res);
	}
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0) {
		fprintf(stderr, "dnsq: handles left open on the loop\n");
		status = 1;
	}
	fflush(stdout);

	getrusage(RUSAGE_SELF, &ru);
	secs = (double)(d->t_last - d->t0) / 1e9;
	fprintf(stderr,
		"{\"started\":%" PRIu64 ",\"answered\":%" PRIu64
		",\"not_started\":%" PRIu64 ",\"double_calls\":%" PRIu64
		",\"sent\":%" PRIu64 ",\"seconds\":%.3f,\"qps\":%.0f"
		",\"maxrss_kib\":%ld,\"rc\":{",
		d->started, d->answered, d->not_started, d->double_calls,
		d->sent_at_free, secs,
		secs > 0 ? (double)d->answered / secs : 0, ru.ru_maxrss);
	for (int i = 0; i < RESOLVER_RC_LAST; i++)
		fprintf(stderr, "%s\"%s\":%" PRIu64, i ? "," : "",
			resolver_rc_str((enum resolver_rc)i), d->by_rc[i]);
	fputs("},\"dnssec\":{", stderr);
	for (int i = 0; i < DNSSEC_STATUS_LAST; i++)
		fprintf(stderr, "%s\"%s\":%" PRIu64, i ? "," : "",
			dnssec_status_str((enum dnssec_status)i),
			d->by_status[i]);
	fputs("}}\n", stderr);

	if (d->answered != d->started || d->double_calls)
		status = 1;
	if (!d->cancel_after && (d->not_started || d->started != d->total))
		status = 1;
	for (size_t i = 0; i < d->njobs; i++)
		free(d->jobs[i].name);
	free(d->jobs);
	free(d->calls);
	jbuf_free(&d->line);
	return status;
}
