/*
 * mxcrawl scan: creates a campaign from a target file (or resumes one) and
 * scans it. The DNS stage is built; the SMTP/TLS and MTA-STS stages come
 * later, and the summary says what was measured.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "crawler/store/campaign.h"
#include "crawler/cli/cli.h"
#include "crawler/util/log.h"
#include "crawler/cli/commands.h"
#include "crawler/store/db.h"
#include "crawler/util/json.h"
#include "crawler/dns/unbound_embed.h"
#include "crawler/scan/ehlocheck.h"
#include "crawler/scan/pace.h"
#include "crawler/scan/probe.h"
#include "crawler/scan/provenance.h"
#include "crawler/scan/sched.h"
#include "crawler/store/record.h"
#include "crawler/verify/certcache.h"
#include "crawler/verify/verify.h"

static const char usage[] =
    "usage: mxcrawl scan --targets FILE [--campaign NAME] [options]\n"
    "       mxcrawl scan --campaign NAME --resume [options]\n"
    "\n"
    "Creates a campaign from a target file, queues its names in the database\n"
    "and scans them; --resume continues an existing campaign.\n"
    "\n"
    "Campaign:\n"
    "  --targets FILE     the target list (plain, Tranco CSV or zone file)\n"
    "  --format F         auto (default), plain, tranco or zone\n"
    "  --origin NAME      zone files: origin for relative names\n"
    "  --campaign NAME    campaign name (default: FILE's name and the time)\n"
    "  --resume           continue the campaign NAME\n"
    "  --import-only      create the campaign and its queue, do not scan\n"
    "                     (then run 'scan --campaign NAME --resume' on any\n"
    "                     number of machines)\n"
    "  --batch-size N     targets per leased batch (default 500)\n"
    "  --vantage NAME     where the scan runs from (default: host name)\n"
    "  --db CONNINFO      PostgreSQL server (default: the private cluster)\n"
    "\n"
    "Scanning:\n"
    "  --resolver IP:PORT the validating resolver (default $MXCRAWL_RESOLVER,\n"
    "                     else the private one: 'mxcrawl resolver --help')\n"
    "  --root-hints FILE  the private resolver's root hints, an absolute\n"
    "                     path (default " UNBOUND_EMBED_ROOT_HINTS ")\n"
    "  --trust-anchor FILE  its root trust anchor, an absolute path\n"
    "                     (default " UNBOUND_EMBED_TRUST_ANCHOR ")\n"
    "  --canary-secure N  a name that must validate (default\n"
    "                     $MXCRAWL_CANARY_SECURE, else ietf.org)\n"
    "  --canary-bogus N   a name that must be bogus (default\n"
    "                     $MXCRAWL_CANARY_BOGUS, else dnssec-failed.org)\n"
    "  --allow-unvalidated  scan even if the resolver does not validate\n"
    "                     DNSSEC: every DNSSEC and DANE fact is 'unknown',\n"
    "                     the campaign is marked not validated and its\n"
    "                     reports say \"not measured\" for those figures\n"
    "  --workers N        threads with an event loop each (default: cores)\n"
    "  --concurrency N    domains in flight (default 1000)\n"
    "  --rate N           domains started per second, 0 = no cap (default 100)\n"
    "  --dns-timeout MS   per DNS try (default 2000; 3 tries)\n"
    "  --dns-inflight N   DNS lookups each worker has at the resolver at once\n"
    "                     (default 512, at most 4096); more wait in turn.\n"
    "                     Raise it for a resolver with room for them under\n"
    "                     long round trips\n"
    "  --lease SECONDS    lease of a batch, renewed while alive (default 60)\n"
    "  --allow-cidr CIDR  contact these reserved addresses anyway (repeatable,\n"
    "                     comma lists too; e.g. 127.0.0.0/8 for a testbed)\n"
    "  --blocklist FILE   CIDRs, addresses and domains never to contact\n"
    "  --no-smtp          DNS stage only: no SMTP, no MTA-STS policy fetch\n"
    "  --client-ports M   mail client ports (submission, IMAP, POP3): srv\n"
    "                     (default) asks the six RFC 6186/8314 SRV records\n"
    "                     of each domain, their targets' addresses and, on\n"
    "                     a secure path, TLSA (six more questions per\n"
    "                     domain) and probes the endpoints they name;\n"
    "                     mx: srv plus the six standard client ports\n"
    "                     (465 587 993 143 995 110) of every MX host\n"
    "                     (more intrusive: six more connections per MX\n"
    "                     address); none: not asked\n"
    "  --ehlo-name NAME   EHLO name (default: mxcrawl.<host name>)\n"
    "  --per-ip N         concurrent probes per address, across every crawler\n"
    "                     process of the campaign; more wait in turn (default\n"
    "                     4; 0 = no cap)\n"
    "  --smtp-deadline MS total time per endpoint (default 30000)\n"
    "  --endpoint-cache KIB  endpoint results kept in memory when no domain\n"
    "                     in flight uses them (default 32768 KiB, 0 = all);\n"
    "                     past it the least recently used are read back from\n"
    "                     the database when needed, never probed again\n"
    "  --record-dict-samples N  handshake records before their zstd\n"
    "                     dictionary is trained (default 500)\n"
    "  --ca-file FILE     trust store for certificates (default\n"
    "                     $MXCRAWL_CA_FILE, else the system's)\n"
    "  --progress SECONDS a progress line this often when not on a TTY\n"
    "                     (default 10; 0 = none)\n"
    "  -q, --quiet        no progress or summary, only errors\n"
    "\n"
    "Rejected lines of the target file are printed on stderr with their line\n"
    "number and reason; they are not queued.\n"
    "\n"
    "SIGINT (Ctrl-C) or SIGTERM: no new domains; those in flight are\n"
    "finished and stored, a batch cut short is stored as far as it got and\n"
    "the rest given back, leases and claims are released, exit 75; a\n"
    "--resume starts at once. A second signal stops at once: what is in\n"
    "flight or not yet stored is left for --resume.\n"
    "\n"
    "Exit status: 0 ok; 64 usage; 65 no valid names or campaign exists;\n"
    "66 unreadable file; 69 database or resolver unreachable; 75 interrupted\n"
    "(resume with --resume); 78 bad trust store, a canary that cannot tell\n"
    "(a bogus canary that validates or does not exist), or a resolver that\n"
    "does not validate DNSSEC (without --allow-unvalidated), a private\n"
    "resolver that runs from other root hints or another trust anchor than\n"
    "named, or a pending migration that this role may not apply; nothing\n"
    "is written then.\n" USAGE_EXIT_COMMON;

/* Options of this command only. */
enum {
	OPT_ALLOW_UNVALIDATED = 3000,
	OPT_ENDPOINT_CACHE,
	OPT_DNS_INFLIGHT,
	OPT_CLIENT_PORTS
};

struct import_ctx {
	const char *path;
	int quiet;
	struct campaign_import *im;
};

static int on_name(void *arg, const struct targets_item *it)
{
	struct import_ctx *ctx = arg;

	return campaign_import_add(ctx->im, it->name, it->len, it->line,
				   it->rank);
}

static void on_reject(void *arg, const struct targets_reject *rj)
{
	struct import_ctx *ctx = arg;

	if (!ctx->quiet)
		targets_cli_print_reject(stderr, ctx->path, rj);
}

static char *default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	char stamp[32], *name;
	time_t now = time(NULL);
	struct tm tm;

	base = base ? base + 1 : path;
	/* At most 100 bytes of it, cut between UTF-8 characters, not
	 * inside one (continuation bytes are 10xxxxxx). */
	int keep = (int)strnlen(base, 100);
	if (keep == 100)
		while (keep > 0 && ((unsigned char)base[keep] & 0xc0) == 0x80)
			keep--;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	if (asprintf(&name, "%.*s-%s", keep, base, stamp) < 0)
		return NULL;
	return name;
}

/* True if the campaign was cancelled (mxcrawl campaign cancel). */
static bool campaign_cancelled(PGconn *c, int64_t id)
{
	char cid[24];
	const char *p[1] = { cid };

	snprintf(cid, sizeof cid, "%" PRId64, id);
	PGresult *r = PQexecParams(c,
				   "SELECT state = 'cancelled' FROM campaign "
				   "WHERE id = $1::bigint",
				   1, NULL, p, NULL, NULL, 0);
	bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		   PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return yes;
}

static char *config_json(const char *path, const struct targets_format *fmt,
			 const char *origin, int batch_size,
			 const char *ca_file)
{
	char abs[PATH_MAX];
	struct jbuf b;

	jbuf_init(&b, 64 * 1024);
	if (!realpath(path, abs))
		snprintf(abs, sizeof abs, "%s", path);
	jbuf_puts(&b, "{\"targets_file\": ");
	jbuf_json_string(&b, abs, strlen(abs));
	jbuf_puts(&b, ", \"format\": ");
	jbuf_json_string(&b, fmt->name, strlen(fmt->name));
	if (origin) {
		jbuf_puts(&b, ", \"origin\": ");
		jbuf_json_string(&b, origin, strlen(origin));
	}
	if (ca_file) {
		/* The trust store the scan judges chains with (reverify
		 * shows it as judgement set 0's). */
		char ca[PATH_MAX];
		if (!realpath(ca_file, ca))
			snprintf(ca, sizeof ca, "%s", ca_file);
		jbuf_puts(&b, ", \"ca_file\": ");
		jbuf_json_string(&b, ca, strlen(ca));
	}
	jbuf_printf(&b, ", \"batch_size\": %d}", batch_size);
	if (b.failed) {
		jbuf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Reads the target file into a new campaign. Returns a sysexits code. */
static int import(PGconn *c, const char *path, const char *format,
		  const char *origin, struct campaign_spec *spec,
		  const char *ca_file, int quiet, int64_t *run_id)
{
	const struct targets_format *fmt;
	struct import_ctx ctx = { path, quiet, NULL };
	int64_t id = 0, targets = 0;
	int rc = EX_OK;

	FILE *f = targets_cli_open(path, format, &fmt);
	if (!f)
		return EX_NOINPUT;
	char *config =
	    config_json(path, fmt, origin, spec->batch_size, ca_file);
	struct targets_reader *r =
	    targets_reader_new(fmt, origin, on_name, on_reject, &ctx);
	if (!config || !r) {
		log_error("out of memory");
		rc = EX_OSERR;
		goto out;
	}
	spec->config_json = config;
	ctx.im = campaign_import_begin(c, spec);
	if (!ctx.im) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	int read_rc = targets_read_file(r, f);
	const struct targets_stats *st = targets_stats(r);
	if (read_rc != 0 || st->names == 0) {
		/* A stop asked by on_name is the import's failure (the
		 * database's reason or "out of memory", said there), not
		 * the file's. */
		bool stopped = targets_stopped(r);
		if (read_rc < 0 && !stopped)
			log_error("reading '%s': %s", path, strerror(-read_rc));
		else if (read_rc == 0)
			log_error(
			    "'%s' holds no valid names; no targets queued",
			    path);
		campaign_import_abort(ctx.im);
		rc = read_rc == 0	       ? EX_DATAERR
		     : !stopped && read_rc < 0 ? EX_IOERR
		     : read_rc == -ENOMEM      ? EX_OSERR
					       : EX_UNAVAILABLE;
		goto out;
	}
	*run_id = campaign_import_run_id(ctx.im);
	if (campaign_import_commit(ctx.im, &id, &targets) != 0) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (!quiet) {
		targets_cli_print_stats(stderr, fmt, st);
		fprintf(stderr,
			"campaign '%s' (id %" PRId64 "): %" PRId64
			" targets queued "
			"in batches of %d\n",
			spec->name, id, targets, spec->batch_size);
	}
out:
	if (r)
		targets_reader_free(r);
	free(config);
	fclose(f);
	return rc;
}

/* What the resolver said when asked before the scan: the two canaries
 * (an A lookup each, judged as if the resolver validated) and, for the
 * record, what it says of itself in class CH (absent when unanswered). */
struct resolver_probe {
	struct prov_canary secure, bogus;
	bool secure_done, bogus_done;
	bool version_done, id_done;
	char version_bind[256], id_server[256];
};

static void canary_copy(struct prov_canary *c, const struct resolver_answer *a)
{
	c->rc = a->rc;
	c->rcode = a->rcode;
	c->dnssec = a->dnssec;
	c->cd_requeried = a->cd_requeried;
	c->n_ede = a->n_ede < DNS_MSG_MAX_EDE ? a->n_ede : DNS_MSG_MAX_EDE;
	memcpy(c->ede, a->ede, c->n_ede * sizeof *c->ede);
}

static void on_secure(void *arg, const struct resolver_answer *a)
{
	struct resolver_probe *p = arg;
	canary_copy(&p->secure, a);
	p->secure_done = true;
}

static void on_bogus(void *arg, const struct resolver_answer *a)
{
	struct resolver_probe *p = arg;
	canary_copy(&p->bogus, a);
	p->bogus_done = true;
}

/* The first TXT record of the answer section, its strings joined, with
 * anything but printable ASCII as '?' (the server's words are untrusted
 * and end up in reports). Empty when there is none. */
static void chaos_txt(const struct resolver_answer *a, char *out, size_t cap)
{
	uint8_t buf[1024];
	struct dns_txt txt;

	out[0] = '\0';
	if (a->rc != RESOLVER_OK || !a->msg || a->rcode != DNS_RCODE_NOERROR)
		return;
	for (size_t i = 0; i < a->msg->nrr; i++) {
		const struct dns_rr *rr = &a->msg->rr[i];
		if (rr->section != DNS_SECTION_ANSWER ||
		    rr->type != DNS_TYPE_TXT ||
		    dns_rr_txt(a->pkt, a->len, rr, buf, sizeof buf, &txt) !=
			DNS_OK)
			continue;
		size_t n = txt.len < cap - 1 ? txt.len : cap - 1;
		for (size_t k = 0; k < n; k++)
			out[k] = txt.data[k] >= 0x20 && txt.data[k] < 0x7f
				     ? (char)txt.data[k]
				     : '?';
		out[n] = '\0';
		return;
	}
}

static void on_version(void *arg, const struct resolver_answer *a)
{
	struct resolver_probe *p = arg;
	chaos_txt(a, p->version_bind, sizeof p->version_bind);
	p->version_done = true;
}

static void on_id(void *arg, const struct resolver_answer *a)
{
	struct resolver_probe *p = arg;
	chaos_txt(a, p->id_server, sizeof p->id_server);
	p->id_done = true;
}

/* Asks the canaries and the CHAOS names through a short-lived loop, the
 * resolver taken as validating. Returns 0, or -1 when the resolver could
 * not be set up or asked (printed). */
static int probe_resolver(const struct resolver_config *rc, const char *secure,
			  const char *bogus, struct resolver_probe *p)
{
	uv_loop_t loop;
	struct resolver_config cfg = *rc;
	const char *err = NULL;
	int result = 0;

	memset(p, 0, sizeof *p);
	p->secure.name = secure;
	p->bogus.name = bogus;
	p->secure.rcode = p->bogus.rcode = -1;
	cfg.validating = true;
	if (uv_loop_init(&loop) != 0)
		return -1;
	struct resolver *r = resolver_new(&loop, &cfg, &err);
	if (!r) {
		log_error("resolver %s: %s", cfg.servers, err ? err : "failed");
		uv_loop_close(&loop);
		return -1;
	}
	if (resolver_query(r, secure, DNS_TYPE_A, on_secure, p) != 0 ||
	    resolver_query(r, bogus, DNS_TYPE_A, on_bogus, p) != 0 ||
	    resolver_query_flags(r, "version.bind", DNS_TYPE_TXT,
				 DNS_QUERY_CHAOS, on_version, p) != 0 ||
	    resolver_query_flags(r, "id.server", DNS_TYPE_TXT, DNS_QUERY_CHAOS,
				 on_id, p) != 0) {
		log_error("cannot query the canaries");
		result = -1;
	} else {
		while (!(p->secure_done && p->bogus_done && p->version_done &&
			 p->id_done) &&
		       uv_run(&loop, UV_RUN_ONCE))
			;
	}
	resolver_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return result;
}

/* Judges the canaries' answers and says why a scan cannot go on. Returns
 * EX_OK with *validating set, or the exit status (EX_CONFIG: a canary
 * that cannot tell, or a resolver that does not validate without
 * --allow-unvalidated; EX_UNAVAILABLE: no usable answer at all). */
static int judge_resolver(const struct resolver_probe *p, const char *servers,
			  bool allow_unvalidated, bool *validating)
{
	char sw[256], bw[256];
	enum canary_verdict v = canary_judge(&p->secure, &p->bogus);

	prov_canary_describe(&p->secure, sw, sizeof sw);
	prov_canary_describe(&p->bogus, bw, sizeof bw);
	*validating = v == CANARY_VALIDATING;
	switch (v) {
	case CANARY_VALIDATING:
		return EX_OK;
	case CANARY_UNUSABLE:
		/* Nothing this resolver says could be trusted, so nothing is
		 * written. */
		log_error("the resolver %s does not answer usably (canary "
			  "%s: %s, %s: %s)",
			  servers, p->secure.name, sw, p->bogus.name, bw);
		return EX_UNAVAILABLE;
	case CANARY_BOGUS_VALIDATES:
	case CANARY_BOGUS_NXDOMAIN:
		log_error("the bogus canary %s answered %s through %s: %s, so "
			  "it cannot show that the resolver rejects broken "
			  "signatures. Choose a name whose signatures are "
			  "broken on purpose with --canary-bogus NAME (or "
			  "$MXCRAWL_CANARY_BOGUS; default dnssec-failed.org); "
			  "no campaign created",
			  p->bogus.name, bw, servers,
			  v == CANARY_BOGUS_NXDOMAIN
			      ? "a validated NXDOMAIN, the name does not "
				"exist where the resolver looks"
			      : "it validates");
		return EX_CONFIG;
	case CANARY_BOGUS_NOT_BOGUS:
		log_error(
		    "the bogus canary %s answered %s through %s, which "
		    "validates (the secure canary %s: %s): the name is "
		    "not signed, or not broken. Choose a name whose "
		    "signatures are broken on purpose with --canary-bogus "
		    "NAME (or $MXCRAWL_CANARY_BOGUS; default "
		    "dnssec-failed.org); no campaign created",
		    p->bogus.name, bw, servers, p->secure.name, sw);
		return EX_CONFIG;
	case CANARY_SECURE_NOT_SECURE:
		log_error("the secure canary %s answered %s through %s, which "
			  "validates (the bogus canary %s: %s): the name is "
			  "not signed. Choose a name in a signed zone with "
			  "--canary-secure NAME (or $MXCRAWL_CANARY_SECURE; "
			  "default ietf.org); no campaign created",
			  p->secure.name, sw, servers, p->bogus.name, bw);
		return EX_CONFIG;
	case CANARY_NOT_VALIDATING:
	default:
		if (!allow_unvalidated) {
			log_error("THE RESOLVER %s DOES NOT VALIDATE DNSSEC: "
				  "canary %s answered %s (want secure), %s "
				  "answered %s (want bogus). No DNSSEC or DANE "
				  "figure could be measured. Use a validating "
				  "resolver (--resolver IP:PORT), or give "
				  "--allow-unvalidated to scan anyway with "
				  "every DNSSEC and DANE fact 'unknown'; no "
				  "campaign created",
				  servers, p->secure.name, sw, p->bogus.name,
				  bw);
			return EX_CONFIG;
		}
		log_warn("THE RESOLVER %s DOES NOT VALIDATE DNSSEC: canary %s "
			 "answered %s (want secure), %s answered %s (want "
			 "bogus). --allow-unvalidated: every DNSSEC and DANE "
			 "fact of this run is recorded as 'unknown', and the "
			 "campaign as not validated.",
			 servers, p->secure.name, sw, p->bogus.name, bw);
		return EX_OK;
	}
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* What a run stores of how it measures (campaign_run.provenance). */
struct run_facts {
	const char *host, *vantage, *worker;
	const char *resolver;		    /* NULL: not asked (import only) */
	const struct resolver_probe *probe; /* NULL: not asked */
	bool validated, allow_unvalidated;
	const char *ca_file; /* as given; NULL: the system's */
	const struct sched_config *sc;
	long batch;
	const char *allow_cidr; /* the --allow-cidr values, comma-joined */
	const char *blocklist;
	const char *canary_secure, *canary_bogus;
	/* The private resolver's, when the scan used it; else NULL. */
	const struct unbound_embed_state *embedded;
	const struct ehlo_watch *ehlo; /* NULL: not asked (import only) */
};

static void jkey(struct jbuf *b, const char *k)
{
	jbuf_printf(b, "%s\"%s\": ",
		    b->len && b->data[b->len - 1] != '{' ? ", " : "", k);
}

static void jstr(struct jbuf *b, const char *k, const char *v)
{
	jkey(b, k);
	if (v)
		jbuf_json_string(b, v, strlen(v));
	else
		jbuf_puts(b, "null");
}

/* A file's path (absolute) and SHA-256, or why there is none. */
static void jfile(struct jbuf *b, const char *k, const char *path,
		  size_t *certs)
{
	char abs[PATH_MAX], sha[65];

	jkey(b, k);
	jbuf_puts(b, "{");
	if (!realpath(path, abs))
		snprintf(abs, sizeof abs, "%s", path);
	jstr(b, "path", abs);
	if (prov_file_digest(abs, sha, certs) == 0) {
		jstr(b, "sha256", sha);
	} else {
		jstr(b, "sha256", NULL);
		jstr(b, "error", strerror(errno));
		if (certs)
			*certs = 0;
	}
}

static char *provenance_json(const struct run_facts *f)
{
	const struct sched_config *sc = f->sc;
	struct jbuf b;
	char sha[65];
	size_t roots = 0;

	jbuf_init(&b, 1u << 20);
	jbuf_puts(&b, "{");
	jstr(&b, "worker", f->worker);
	jkey(&b, "resolver");
	jbuf_puts(&b, "{");
	jstr(&b, "address", f->resolver);
	if (f->probe) {
		jstr(&b, "version_bind",
		     f->probe->version_bind[0] ? f->probe->version_bind : NULL);
		jstr(&b, "id_server",
		     f->probe->id_server[0] ? f->probe->id_server : NULL);
	}
	jkey(&b, "private");
	jbuf_puts(&b, f->embedded ? "true" : "false");
	if (f->embedded) {
		/* What it validates from: the files it was started from. */
		jfile(&b, "root_hints", f->embedded->root_hints, NULL);
		jbuf_puts(&b, "}");
		jfile(&b, "trust_anchor", f->embedded->trust_anchor, NULL);
		jbuf_puts(&b, "}");
	}
	jbuf_puts(&b, "}");
	jkey(&b, "dnssec");
	jbuf_puts(&b, "{");
	jstr(&b, "validation",
	     !f->probe	    ? "not asked (import only)"
	     : f->validated ? "validated"
			    : "NOT VALIDATED (--allow-unvalidated): every "
			      "DNSSEC and DANE fact is unknown");
	jkey(&b, "allow_unvalidated");
	jbuf_puts(&b, f->allow_unvalidated ? "true" : "false");
	jbuf_puts(&b, "}");
	jkey(&b, "canaries");
	if (f->probe) {
		jbuf_puts(&b, "{");
		jkey(&b, "secure");
		prov_canary_json(&b, &f->probe->secure);
		jkey(&b, "bogus");
		prov_canary_json(&b, &f->probe->bogus);
		jstr(&b, "verdict",
		     canary_verdict_str(
			 canary_judge(&f->probe->secure, &f->probe->bogus)));
		jbuf_puts(&b, "}");
	} else {
		jbuf_puts(&b, "null");
	}
	/* The trust store certificates are judged with: the file given, or
	 * OpenSSL's default file (a system bundle; its hashed directory is
	 * consulted too, and named). */
	if (sc->smtp && f->probe) {
		const char *path =
		    f->ca_file ? f->ca_file : X509_get_default_cert_file();
		jfile(&b, "trust_store", path, &roots);
		jkey(&b, "roots");
		jbuf_printf(&b, "%zu", roots);
		jstr(&b, "source", f->ca_file ? "--ca-file" : "system default");
		if (!f->ca_file)
			jstr(&b, "dir", X509_get_default_cert_dir());
		jbuf_puts(&b, "}");
	} else {
		jkey(&b, "trust_store");
		jbuf_puts(&b, "null");
	}
	jkey(&b, "options");
	jbuf_puts(&b, "{");
	jkey(&b, "workers");
	jbuf_printf(&b, "%u", sc->workers);
	jkey(&b, "concurrency");
	jbuf_printf(&b, "%u", sc->concurrency);
	jkey(&b, "rate");
	jbuf_printf(&b, "%.0f", sc->rate);
	jkey(&b, "per_ip");
	jbuf_printf(&b, "%u", sc->per_ip);
	jkey(&b, "dns_timeout_ms");
	jbuf_printf(&b, "%u", sc->resolver.timeout_ms);
	jkey(&b, "dns_tries");
	jbuf_printf(&b, "%u", sc->resolver.tries);
	jkey(&b, "dns_inflight");
	jbuf_printf(&b, "%u", sc->resolver.max_inflight);
	jkey(&b, "lease_seconds");
	jbuf_printf(&b, "%u", sc->lease_seconds);
	jkey(&b, "batch_size");
	jbuf_printf(&b, "%ld", f->batch);
	jkey(&b, "smtp");
	jbuf_puts(&b, sc->smtp ? "true" : "false");
	jkey(&b, "smtp_deadline_ms");
	jbuf_printf(&b, "%u", sc->smtp_limits.deadline_ms);
	jkey(&b, "smtp_timeouts_ms");
	jbuf_printf(&b,
		    "{\"connect\": %u, \"banner\": %u, \"command\": %u, "
		    "\"tls\": %u, \"quit\": %u}",
		    sc->smtp_limits.connect_ms, sc->smtp_limits.banner_ms,
		    sc->smtp_limits.command_ms, sc->smtp_limits.tls_ms,
		    sc->smtp_limits.quit_ms);
	jstr(&b, "ehlo_name", sc->ehlo_name);
	jkey(&b, "mx_cap");
	jbuf_printf(&b, "%d", PROBE_MX_CAP);
	jstr(&b, "client_ports",
	     sc->client_mx    ? "mx"
	     : sc->client_srv ? "srv"
			      : "none");
	jkey(&b, "srv_cap");
	jbuf_printf(&b, "%d", PROBE_SRV_CAP);
	jkey(&b, "record_dict_samples");
	jbuf_printf(&b, "%zu",
		    sc->record_dict_samples ? sc->record_dict_samples
					    : (size_t)RECORD_DICT_SAMPLES);
	jstr(&b, "canary_secure", f->canary_secure);
	jstr(&b, "canary_bogus", f->canary_bogus);
	jstr(&b, "allow_cidr", f->allow_cidr);
	prov_sha256_hex(f->allow_cidr, strlen(f->allow_cidr), sha);
	jstr(&b, "allow_cidr_sha256", sha);
	if (f->blocklist) {
		jfile(&b, "blocklist", f->blocklist, NULL);
		jbuf_puts(&b, "}");
	} else {
		jkey(&b, "blocklist");
		jbuf_puts(&b, "null");
	}
	jbuf_puts(&b, "}");
	if (f->ehlo) {
		jbuf_puts(&b, ", ");
		ehlo_watch_json(&b, f->ehlo);
	}
	jkey(&b, "versions");
	prov_versions_json(&b);
	jbuf_puts(&b, "}");
	if (b.failed) {
		jbuf_free(&b);
		return NULL;
	}
	return b.data;
}

/* --allow-cidr takes one CIDR or a comma-separated list. */
static int allow_list(struct addr_policy *pol, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;

	if (!copy)
		return -1;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		const char *err = NULL;
		if (addr_policy_allow(pol, tok, &err) != 0) {
			cli_usage_error("scan", "--allow-cidr '%s': %s", tok,
					err ? err : "invalid");
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

/* What the command line asked for (parse_options). */
struct scan_opts {
	const char *targets, *format, *origin, *name, *vantage, *opt_db;
	const char *blocklist, *ca_file, *ehlo_name;
	const char *resolver, *canary_secure, *canary_bogus;
	const char *root_hints, *trust_anchor; /* the private resolver's */
	/* The private resolver, once started or reused; NULL: not used. */
	const struct unbound_embed_state *embedded;
	bool import_only, allow_unvalidated;
	int resume, quiet;
	long batch;
	char *owned_name;	/* the default name, when none was given */
	struct jbuf allow_text; /* the --allow-cidr lists, comma-joined */
	struct addr_policy *pol;
	struct sched_config sc; /* what the options set of it */
	struct ehlo_watch ehlo; /* whether the EHLO name leads back here */
};

static void scan_opts_free(struct scan_opts *o)
{
	addr_policy_free(o->pol);
	free(o->owned_name);
	jbuf_free(&o->allow_text);
}

/* parse_options' result for --help (printed): exit 0. */
#define SCAN_HELP (-1)

/*
 * Reads the options and checks them against each other, the blocklist
 * and the campaign name: EX_OK, SCAN_HELP, or the exit status after
 * printing why (o freed then). Long only because it is one case per
 * option, each a few lines.
 */
static int parse_options(int argc, char **argv, struct scan_opts *o)
{
	static const struct option opts[] = {
		{ "targets", required_argument, NULL, CLI_OPT_TARGETS },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "origin", required_argument, NULL, CLI_OPT_ORIGIN },
		{ "campaign", required_argument, NULL, CLI_OPT_CAMPAIGN },
		{ "resume", no_argument, NULL, CLI_OPT_RESUME },
		{ "batch-size", required_argument, NULL, CLI_OPT_BATCH_SIZE },
		{ "vantage", required_argument, NULL, CLI_OPT_VANTAGE },
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "resolver", required_argument, NULL, CLI_OPT_RESOLVER },
		{ "canary-secure", required_argument, NULL,
		  CLI_OPT_CANARY_SECURE },
		{ "canary-bogus", required_argument, NULL,
		  CLI_OPT_CANARY_BOGUS },
		{ "allow-unvalidated", no_argument, NULL,
		  OPT_ALLOW_UNVALIDATED },
		{ "workers", required_argument, NULL, CLI_OPT_WORKERS },
		{ "concurrency", required_argument, NULL, CLI_OPT_CONCURRENCY },
		{ "rate", required_argument, NULL, CLI_OPT_RATE },
		{ "dns-timeout", required_argument, NULL, CLI_OPT_DNS_TIMEOUT },
		{ "lease", required_argument, NULL, CLI_OPT_LEASE },
		{ "allow-cidr", required_argument, NULL, CLI_OPT_ALLOW_CIDR },
		{ "blocklist", required_argument, NULL, CLI_OPT_BLOCKLIST },
		{ "progress", required_argument, NULL, CLI_OPT_PROGRESS },
		{ "import-only", no_argument, NULL, CLI_OPT_IMPORT_ONLY },
		{ "ca-file", required_argument, NULL, CLI_OPT_CA_FILE },
		{ "ehlo-name", required_argument, NULL, CLI_OPT_EHLO_NAME },
		{ "smtp-deadline", required_argument, NULL,
		  CLI_OPT_SMTP_DEADLINE },
		{ "no-smtp", no_argument, NULL, CLI_OPT_NO_SMTP },
		{ "record-dict-samples", required_argument, NULL,
		  CLI_OPT_DICT_SAMPLES },
		{ "per-ip", required_argument, NULL, CLI_OPT_PER_IP },
		{ "endpoint-cache", required_argument, NULL,
		  OPT_ENDPOINT_CACHE },
		{ "dns-inflight", required_argument, NULL, OPT_DNS_INFLIGHT },
		{ "client-ports", required_argument, NULL, OPT_CLIENT_PORTS },
		{ "root-hints", required_argument, NULL, CLI_OPT_ROOT_HINTS },
		{ "trust-anchor", required_argument, NULL,
		  CLI_OPT_TRUST_ANCHOR },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	long v;
	int ch;

	*o = (struct scan_opts){
		.batch = CAMPAIGN_BATCH_DEFAULT,
		.ca_file = env_or("MXCRAWL_CA_FILE", NULL),
		/* NULL: the private resolver (embedded_resolver). */
		.resolver = env_or("MXCRAWL_RESOLVER", NULL),
		.canary_secure = env_or("MXCRAWL_CANARY_SECURE", "ietf.org"),
		.canary_bogus =
		    env_or("MXCRAWL_CANARY_BOGUS", "dnssec-failed.org"),
		.pol = addr_policy_new(),
		.sc = {
			.workers = cores > 0 ? (unsigned)cores : 1,
			.concurrency = 1000,
			.rate = PACE_DEFAULT_RATE,
			.lease_seconds = 60,
			.progress_seconds = 10,
			.resolver = { .timeout_ms = 2000,
				      .tries = 3,
				      .max_inflight =
					  RESOLVER_DEFAULT_INFLIGHT },
			.smtp = true,
			.client_srv = true,
			.per_ip = 4,
		},
	};
	jbuf_init(&o->allow_text, 1u << 20);
	if (!o->pol) {
		log_error("out of memory");
		jbuf_free(&o->allow_text);
		return EX_OSERR;
	}
	smtp_limits_default(&o->sc.smtp_limits);
	while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_TARGETS:
			o->targets = optarg;
			break;
		case CLI_OPT_FORMAT:
			o->format = optarg;
			break;
		case CLI_OPT_ORIGIN:
			o->origin = optarg;
			break;
		case CLI_OPT_CAMPAIGN:
			o->name = optarg;
			break;
		case CLI_OPT_RESUME:
			o->resume = 1;
			break;
		case CLI_OPT_BATCH_SIZE:
			o->batch =
			    cli_parse_long("scan", "--batch-size", optarg, 1,
					   CAMPAIGN_BATCH_MAX);
			if (o->batch < 0)
				goto usage;
			break;
		case CLI_OPT_VANTAGE:
			o->vantage = optarg;
			break;
		case CLI_OPT_DB:
			o->opt_db = optarg;
			break;
		case CLI_OPT_RESOLVER:
			o->resolver = optarg;
			break;
		case CLI_OPT_CANARY_SECURE:
			o->canary_secure = optarg;
			break;
		case CLI_OPT_CANARY_BOGUS:
			o->canary_bogus = optarg;
			break;
		case OPT_ALLOW_UNVALIDATED:
			o->allow_unvalidated = true;
			break;
		case CLI_OPT_WORKERS:
			if ((v = cli_parse_long("scan", "--workers", optarg, 1,
						256)) < 0)
				goto usage;
			o->sc.workers = (unsigned)v;
			break;
		case CLI_OPT_CONCURRENCY:
			if ((v = cli_parse_long("scan", "--concurrency", optarg,
						1, 1000000)) < 0)
				goto usage;
			o->sc.concurrency = (unsigned)v;
			break;
		case CLI_OPT_RATE:
			if ((v = cli_parse_long("scan", "--rate", optarg, 0,
						10000000)) < 0)
				goto usage;
			o->sc.rate = (double)v;
			break;
		case CLI_OPT_DNS_TIMEOUT:
			if ((v = cli_parse_long("scan", "--dns-timeout", optarg,
						10, 600000)) < 0)
				goto usage;
			o->sc.resolver.timeout_ms = (unsigned)v;
			break;
		case OPT_DNS_INFLIGHT:
			if ((v = cli_parse_long(
				 "scan", "--dns-inflight", optarg, 1,
				 RESOLVER_MAX_INFLIGHT_LIMIT)) < 0)
				goto usage;
			o->sc.resolver.max_inflight = (unsigned)v;
			break;
		case CLI_OPT_LEASE:
			if ((v = cli_parse_long("scan", "--lease", optarg, 1,
						86400)) < 0)
				goto usage;
			o->sc.lease_seconds = (unsigned)v;
			break;
		case CLI_OPT_ALLOW_CIDR:
			if (allow_list(o->pol, optarg) != 0)
				goto usage;
			if (o->allow_text.len)
				jbuf_puts(&o->allow_text, ",");
			jbuf_puts(&o->allow_text, optarg);
			break;
		case CLI_OPT_BLOCKLIST:
			o->blocklist = optarg;
			break;
		case CLI_OPT_PROGRESS:
			if ((v = cli_parse_long("scan", "--progress", optarg, 0,
						86400)) < 0)
				goto usage;
			o->sc.progress_seconds = (unsigned)v;
			break;
		case CLI_OPT_IMPORT_ONLY:
			o->import_only = true;
			break;
		case CLI_OPT_CA_FILE:
			o->ca_file = optarg;
			break;
		case CLI_OPT_EHLO_NAME:
			o->ehlo_name = optarg;
			break;
		case CLI_OPT_SMTP_DEADLINE:
			if ((v = cli_parse_long("scan", "--smtp-deadline",
						optarg, 100, 600000)) < 0)
				goto usage;
			o->sc.smtp_limits.deadline_ms = (unsigned)v;
			break;
		case CLI_OPT_NO_SMTP:
			o->sc.smtp = false;
			break;
		case OPT_CLIENT_PORTS:
			/* "mx" is "srv" plus the standard client ports of
			 * the MX hosts: off by default, as it knocks on six
			 * ports of every MX host whether or not the domain
			 * advertises a client service. */
			if (strcmp(optarg, "srv") == 0) {
				o->sc.client_srv = true;
				o->sc.client_mx = false;
			} else if (strcmp(optarg, "none") == 0) {
				o->sc.client_srv = false;
				o->sc.client_mx = false;
			} else if (strcmp(optarg, "mx") == 0) {
				o->sc.client_srv = true;
				o->sc.client_mx = true;
			} else {
				cli_usage_error("scan",
						"--client-ports: '%s' is not "
						"none, srv or mx",
						optarg);
				goto usage;
			}
			break;
		case CLI_OPT_PER_IP:
			if ((v = cli_parse_long("scan", "--per-ip", optarg, 0,
						10000)) < 0)
				goto usage;
			o->sc.per_ip = (unsigned)v;
			break;
		case OPT_ENDPOINT_CACHE:
			/* Up to 1 TiB: the byte count fits a size_t. */
			if ((v = cli_parse_long("scan", "--endpoint-cache",
						optarg, 0, 1L << 30)) < 0)
				goto usage;
			o->sc.endpoint_cache = v ? (size_t)v << 10 : SIZE_MAX;
			break;
		case CLI_OPT_ROOT_HINTS:
			o->root_hints = optarg;
			break;
		case CLI_OPT_TRUST_ANCHOR:
			o->trust_anchor = optarg;
			break;
		case CLI_OPT_DICT_SAMPLES:
			if ((v = cli_parse_long("scan", "--record-dict-samples",
						optarg, RECORD_DICT_MIN_SAMPLES,
						RECORD_DICT_SAMPLES_MAX)) < 0)
				goto usage;
			o->sc.record_dict_samples = (size_t)v;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			scan_opts_free(o);
			return SCAN_HELP;
		default:
			cli_usage_error("scan", "unknown option");
			goto usage;
		}
	}
	if (optind != argc) {
		cli_usage_error("scan", "unexpected argument '%s'",
				argv[optind]);
		goto usage;
	}
	if (o->resume && o->targets) {
		cli_usage_error("scan",
				"--resume continues an existing campaign; "
				"give --campaign NAME, not --targets");
		goto usage;
	}
	if (o->resume && !o->name) {
		cli_usage_error("scan", "--resume needs --campaign NAME");
		goto usage;
	}
	if (o->import_only && (o->resume || !o->targets)) {
		cli_usage_error(
		    "scan", "--import-only needs --targets and no --resume");
		goto usage;
	}
	if (!o->resume && !o->targets) {
		cli_usage_error("scan",
				"give --targets FILE (or --campaign NAME "
				"--resume)");
		goto usage;
	}
	if (cli_resolver_file_check("scan", "--root-hints", o->root_hints) ||
	    cli_resolver_file_check("scan", "--trust-anchor", o->trust_anchor))
		goto usage;
	if ((o->root_hints || o->trust_anchor) && o->resolver) {
		cli_usage_error("scan",
				"--root-hints and --trust-anchor set up the "
				"private resolver, used only without "
				"--resolver and $MXCRAWL_RESOLVER");
		goto usage;
	}
	if (o->blocklist) {
		unsigned long line = 0;
		const char *err = NULL;
		if (addr_policy_load_blocklist(o->pol, o->blocklist, &line,
					       &err) != 0) {
			log_error("blocklist %s:%lu: %s", o->blocklist, line,
				  err ? err : "invalid");
			scan_opts_free(o);
			return EX_DATAERR;
		}
	}
	if (!o->name) {
		o->name = o->owned_name = default_name(o->targets);
		if (!o->name) {
			log_error("out of memory");
			scan_opts_free(o);
			return EX_OSERR;
		}
	}
	/* Resuming takes any name an older version created; a new campaign
	 * gets no all-digit name. */
	const char *problem = o->resume ? campaign_name_problem(o->name)
					: campaign_new_name_problem(o->name);
	if (problem) {
		cli_usage_error("scan", "%s%s", problem,
				o->owned_name
				    ? " (the default name is the target "
				      "file's name and the time: give "
				      "--campaign NAME)"
				    : "");
		goto usage;
	}
	return EX_OK;
usage:
	scan_opts_free(o);
	return EX_USAGE;
}

/*
 * Whether campaign `name` may be created (resume false) or resumed: not
 * being dropped, not cancelled, there or not as asked. Sets *id when it
 * exists. EX_OK, or the exit status after printing why; sends nothing.
 */
static int check_campaign(PGconn *c, const char *name, bool resume, int64_t *id)
{
	int64_t queued;
	int found = campaign_find(c, name, id, &queued);
	if (found < 0) {
		return EX_UNAVAILABLE;
	}
	char state_buf[16];
	const char *busy =
	    found ? NULL
		  : campaign_state_of(c, name, state_buf, sizeof state_buf);
	if (busy && !strcmp(busy, "dropping")) {
		log_error("campaign '%s' is being dropped (an interrupted "
			  "'mxcrawl campaign drop': run it again to finish); "
			  "%s",
			  name,
			  resume ? "nothing to resume" : "choose another name");
		return EX_DATAERR;
	}
	if (resume && !found) {
		log_error("no campaign named '%s' to resume%s", name,
			  busy ? " (its import has not finished: run the "
				 "same import again)"
			       : "");
		return EX_DATAERR;
	}
	if (resume && campaign_cancelled(c, *id)) {
		log_error("campaign '%s' is cancelled ('mxcrawl campaign "
			  "cancel'); nothing to resume",
			  name);
		return EX_DATAERR;
	}
	if (!resume && found) {
		log_error("campaign '%s' already exists (id %" PRId64
			  ", %" PRId64
			  " targets); use --campaign '%s' --resume to continue "
			  "it, or choose another name",
			  name, *id, queued, name);
		return EX_DATAERR;
	}
	return EX_OK;
}

/* The run's summary on stderr: what was scanned, stored, given back,
 * the campaign's completion, the endpoints, what was measured. */
static void print_summary(const char *name, int64_t id,
			  const struct sched_config *sc,
			  const struct sched_summary *s)
{
	fprintf(stderr,
		"scan: campaign '%s' (id %" PRId64 "): %" PRIu64
		" domains scanned this run in %.1f s (%.0f/s), %" PRIu64
		" batches stored, %" PRIu64
		" dropped (done by another crawler); DNSSEC %s\n",
		name, id, s->counts.domains, s->seconds,
		s->seconds > 0 ? s->counts.domains / s->seconds : 0.0,
		s->batches_written, s->batches_discarded,
		sc->resolver.validating
		    ? "validated"
		    : "NOT VALIDATED (--allow-unvalidated: DNSSEC "
		      "and DANE not measured)");
	/* What became of the domains: stored (whole batches and the
	 * parts of batches a stop cut short), given back unscanned
	 * (their leases released: a --resume takes them at once). */
	fprintf(stderr,
		"scan: %" PRIu64 " domains stored this run (of them in "
		"batches cut short: %" PRIu64 "), %" PRIu64
		" given back to the queue unscanned",
		s->domains_stored, s->domains_split, s->domains_given_back);
	if (s->domains_dropped)
		fprintf(stderr,
			", %" PRIu64 " scanned but dropped (another "
			"crawler leased or stored them since)",
			s->domains_dropped);
	if (sc->smtp && s->claims_released)
		fprintf(stderr,
			", %" PRIu64 " endpoint claims released "
			"unprobed",
			s->claims_released);
	fputs("\n", stderr);
	if (sc->rate > 0 && s->rate_held_share >= 0.5)
		fprintf(
		    stderr,
		    "scan: rate-capped at %.0f domains/s: the cap held back "
		    "the domains waiting to start %.0f%% of the time "
		    "(--rate; --rate 0 removes the cap)\n",
		    sc->rate, 100 * s->rate_held_share);
	if (s->counts.not_recorded)
		fprintf(stderr,
			"scan: %" PRIu64 " domains not recorded (their rows "
			"over a limit, or out of memory): each has only its "
			"domain_dns row, mx_outcome 'not_recorded', the cause "
			"in not_recorded_cause\n",
			s->counts.not_recorded);
	if (s->done_at_end >= 0)
		fprintf(stderr,
			"scan: campaign '%s': %" PRId64 " of %" PRIu64
			" domains done (%.1f%%, every crawler)\n",
			name, s->done_at_end, s->total_targets,
			s->total_targets
			    ? 100.0 * s->done_at_end / s->total_targets
			    : 100.0);
	if (sc->smtp)
		fprintf(stderr,
			"scan: %" PRIu64 " endpoints probed by this "
			"process (once each), %" PRIu64
			" with STARTTLS and TLS; %" PRIu64
			" results taken from other crawlers, %" PRIu64
			" claims of stopped crawlers taken over; handshake "
			"records %" PRIu64 " bytes, %" PRIu64 " compressed\n",
			s->endpoints_probed, s->starttls_ok,
			s->endpoints_remote, s->endpoints_taken_over,
			s->records_raw, s->records_zstd);
	if (sc->smtp && sc->per_ip)
		fprintf(stderr,
			"scan: %" PRIu64 " claims waited for a place under "
			"the campaign's cap of %u probes per address "
			"(--per-ip, every crawler)\n",
			s->endpoints_capped, sc->per_ip);
	if (sc->smtp)
		fprintf(stderr,
			"scan: endpoint registry: peak %.1f MiB, %" PRIu64
			" endpoint results dropped past --endpoint-cache, "
			"%" PRIu64 " read back from their stored rows\n",
			(double)s->registry_peak_bytes / (1 << 20),
			s->registry_dropped, s->registry_read_back);
	if (sc->smtp && sc->verify) {
		struct cert_cache_stats cs;
		uint64_t memo_hits, memo_misses;

		cert_cache_stats(cert_cache_global(), &cs);
		verify_chain_stats(sc->verify, &memo_hits, &memo_misses);
		fprintf(stderr,
			"scan: certificate cache: %zu certificates held (at "
			"most %d), %" PRIu64 " evicted; %" PRIu64
			" look-ups answered from it, %" PRIu64
			" certificates parsed again from DER; chain "
			"judgements: %" PRIu64 " reused, %" PRIu64 " made\n",
			cs.entries, CERT_CACHE_DEFAULT, cs.evictions, cs.hits,
			cs.misses, memo_hits, memo_misses);
	}
	fprintf(stderr,
		"scan: stages measured: DNS (MX, A/AAAA, TLSA, MTA-STS "
		"and TLS-RPT TXT)%s.\n",
		sc->smtp ? ", SMTP STARTTLS, TLS, certificates, DANE, "
			   "MTA-STS policy fetch"
			 : "; SMTP and the MTA-STS policy fetch off "
			   "(--no-smtp)");
}

/* The defaults that depend on this machine and process: the vantage
 * (the host name), the crawler's id (host/pid, into worker_id), the EHLO
 * name (an identifying name, so that operators can tell who scans them;
 * into ehlo_buf), and the stage timeouts capped by the deadline. */
static void complete_options(struct scan_opts *o, const char *host,
			     char *worker_id, size_t worker_len, char *ehlo_buf,
			     size_t ehlo_len)
{
	if (!o->vantage)
		o->vantage = host;
	snprintf(worker_id, worker_len, "%s/%ld", host, (long)getpid());
	o->sc.quiet = o->quiet;
	o->sc.worker_id = worker_id;
	o->sc.policy = o->pol;
	o->sc.resolver.servers = o->resolver;
	if (!o->ehlo_name) {
		snprintf(ehlo_buf, ehlo_len, "mxcrawl.%s", host);
		o->ehlo_name = ehlo_buf;
	}
	o->sc.ehlo_name = o->ehlo_name;
	/* A stage (inactivity) timeout must end well before the endpoint's
	 * total deadline, or a silent peer would be recorded as hitting the
	 * deadline instead of timing out in its stage: at most half of it. */
	unsigned *stage[] = { &o->sc.smtp_limits.connect_ms,
			      &o->sc.smtp_limits.banner_ms,
			      &o->sc.smtp_limits.command_ms,
			      &o->sc.smtp_limits.tls_ms,
			      &o->sc.smtp_limits.quit_ms };
	for (size_t i = 0; i < sizeof stage / sizeof *stage; i++)
		if (*stage[i] > o->sc.smtp_limits.deadline_ms / 2)
			*stage[i] = o->sc.smtp_limits.deadline_ms / 2;
}

/* Records how this run measures (its provenance, into *prov), with the
 * run (and the campaign, when this run creates it: the targets are
 * imported) before anything is scanned. Sets *id for a new campaign and
 * *run_id. EX_OK or the exit status. */
static int begin_run(PGconn *c, struct scan_opts *o, const char *host,
		     const char *worker_id, const struct resolver_probe *probe,
		     int64_t *id, int64_t *run_id, char **prov)
{
	if (o->allow_text.failed) {
		log_error("out of memory");
		return EX_OSERR;
	}
	struct run_facts facts = {
		.host = host,
		.vantage = o->vantage,
		.worker = worker_id,
		.resolver = o->import_only ? NULL : o->sc.resolver.servers,
		.probe = o->import_only ? NULL : probe,
		.validated = o->sc.resolver.validating,
		.allow_unvalidated = o->allow_unvalidated,
		.ca_file = o->ca_file,
		.sc = &o->sc,
		.batch = o->batch,
		.allow_cidr = o->allow_text.data ? o->allow_text.data : "",
		.blocklist = o->blocklist,
		.canary_secure = o->canary_secure,
		.canary_bogus = o->canary_bogus,
		.embedded = o->import_only ? NULL : o->embedded,
		.ehlo = o->import_only ? NULL : &o->ehlo,
	};
	*prov = provenance_json(&facts);
	if (!*prov) {
		log_error("out of memory");
		return EX_OSERR;
	}
	struct campaign_run_spec run = {
		.kind = o->import_only ? "import"
			: o->resume    ? "resume"
				       : "create",
		.host = host,
		.vantage = o->vantage,
		.resolver = facts.resolver,
		.dnssec_validated =
		    o->import_only ? -1 : (o->sc.resolver.validating ? 1 : 0),
		.provenance_json = *prov,
	};
	if (!o->resume) {
		struct campaign_spec spec = { o->name, NULL, o->vantage,
					      (int)o->batch, &run };
		int rc = import(c, o->targets, o->format, o->origin, &spec,
				o->ca_file, o->quiet, run_id);
		if (rc != EX_OK)
			return rc;
		int64_t queued;
		if (campaign_find(c, o->name, id, &queued) != 1)
			return EX_SOFTWARE;
	} else if (campaign_run_begin(c, *id, &run, run_id) != 0) {
		return EX_UNAVAILABLE;
	}
	if (o->import_only && campaign_run_end(c, *run_id, "imported", 0) != 0)
		return EX_UNAVAILABLE;
	return EX_OK;
}

/* Scans campaign id (sched_run), records the run's end and says how it
 * went. EX_OK, EX_TEMPFAIL when interrupted, or the exit status. */
static int run_scan(struct db *db, struct scan_opts *o, int64_t id,
		    int64_t run_id)
{
	struct sched_summary sum;
	int rc = EX_OK;

	o->sc.campaign_id = id;
	o->sc.campaign_name = o->name;
	o->sc.run_id = run_id;
	o->sc.conninfo = db->conninfo;
	if (o->sc.concurrency < o->sc.workers)
		o->sc.workers = o->sc.concurrency;
	int sched_rc = sched_run(&o->sc, &sum);
	/* The run's end, on a connection of its own (the scan's are
	 * closed); a failure to record it is said, not fatal. */
	PGconn *c = db_connect(db);
	if (o->sc.on_watch && c) {
		/* The finding of the first connection, into the provenance. */
		struct jbuf j;
		ehlo_watch_poll(&o->ehlo);
		jbuf_init(&j, 4096);
		jbuf_puts(&j, "{");
		ehlo_watch_json(&j, &o->ehlo);
		jbuf_puts(&j, "}");
		if (j.failed || prov_run_merge(c, run_id, j.data) != 0)
			log_warn("the EHLO name's check was not recorded");
		jbuf_free(&j);
	}
	if (!c || campaign_run_end(
		      c, run_id,
		      sched_rc != 0	? "failed"
		      : sum.interrupted ? "interrupted"
					: "done",
		      sched_rc != 0 ? 0 : (int64_t)sum.counts.domains) != 0)
		log_warn("the end of this run was not recorded");
	PQfinish(c);
	if (sched_rc == -ENOMEM)
		log_error("scan: out of memory");
	if (sched_rc != 0)
		return EX_UNAVAILABLE;
	if (!o->quiet)
		print_summary(o->name, id, &o->sc, &sum);
	if (sum.interrupted) {
		fprintf(stderr,
			"scan: interrupted; continue with: mxcrawl scan "
			"--campaign '%s' --resume\n",
			o->name);
		rc = EX_TEMPFAIL;
	}
	return rc;
}

/* Without --resolver and $MXCRAWL_RESOLVER: the private resolver,
 * started or reused (crawler/dns/unbound_embed.h), its address and
 * sources into *st. EX_OK or the exit status after printing why. */
static int embedded_resolver(const struct scan_opts *o,
			     struct unbound_embed_state *st)
{
	struct unbound_embed u;
	int started = 0;

	int irc = unbound_embed_init(&u);
	if (irc != 0) {
		if (irc == -ENOMEM)
			log_error("scan: out of memory");
		return EX_UNAVAILABLE;
	}
	int rc = unbound_embed_start(&u, o->root_hints, o->trust_anchor, 0, st,
				     &started);
	if (rc == UNBOUND_EMBED_OK) {
		if (!o->quiet)
			fprintf(stderr,
				"scan: resolver: the private unbound on %s, "
				"%s (pid %ld; root hints %s, trust anchor "
				"%s; log %s)\n",
				st->address, started ? "started" : "reused",
				unbound_embed_pid(&u), st->root_hints,
				st->trust_anchor, u.logfile);
	}
	unbound_embed_free(&u);
	return cli_resolver_exit(rc);
}

int cmd_scan(int argc, char **argv)
{
	struct scan_opts o;
	struct resolver_probe probe;
	char *prov = NULL;
	int64_t id = 0, run_id = 0;
	char ehlo_buf[300];
	struct verify_ctx *verify = NULL;
	char host[256], worker_id[320];
	struct unbound_embed_state embedded;
	PGconn *c = NULL;
	struct db db;
	bool db_ready = false;
	int rc = parse_options(argc, argv, &o);

	if (rc != EX_OK)
		return rc == SCAN_HELP ? EX_OK : rc;
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	complete_options(&o, host, worker_id, sizeof worker_id, ehlo_buf,
			 sizeof ehlo_buf);
	if (o.sc.smtp && !o.import_only) {
		const char *err = NULL;
		verify = verify_ctx_new(o.ca_file, NULL, &err);
		if (!verify) {
			log_error("trust store%s%s: %s", o.ca_file ? " " : "",
				  o.ca_file ? o.ca_file : "",
				  err ? err : "failed");
			rc = EX_CONFIG;
			goto out;
		}
		o.sc.verify = verify;
		o.sc.ca_file = o.ca_file;
	}

	rc = cli_db_open(o.opt_db, true, &db, &c);
	if (rc != EX_OK)
		goto out;
	db_ready = true;
	rc = check_campaign(c, o.name, o.resume, &id);
	if (rc != EX_OK)
		goto out;
	/* The campaign checks above send nothing; the resolver is checked
	 * next, before anything is written. */
	if (!o.import_only) {
		bool validating = false;
		if (!o.resolver) {
			rc = embedded_resolver(&o, &embedded);
			if (rc != EX_OK)
				goto out;
			o.sc.resolver.servers = embedded.address;
			o.embedded = &embedded;
		}
		if (probe_resolver(&o.sc.resolver, o.canary_secure,
				   o.canary_bogus, &probe) != 0) {
			rc = EX_UNAVAILABLE;
			goto out;
		}
		rc = judge_resolver(&probe, o.sc.resolver.servers,
				    o.allow_unvalidated, &validating);
		if (rc != EX_OK)
			goto out;
		o.sc.resolver.validating = validating;
		/* Whether the EHLO name leads back here: warned, never fatal
		 * (a lookup that fails leaves it not_checked). */
		if (o.sc.smtp && ehlo_watch_lookup(&o.ehlo, o.ehlo_name,
						   &o.sc.resolver) == 0) {
			o.sc.on_watch = ehlo_watch_poll;
			o.sc.watch_arg = &o.ehlo;
		}
	}
	rc = begin_run(c, &o, host, worker_id, &probe, &id, &run_id, &prov);
	if (rc != EX_OK)
		goto out;
	PQfinish(c);
	c = NULL;
	if (o.import_only) {
		if (!o.quiet)
			fprintf(stderr,
				"scan: imported only; scan it with: mxcrawl "
				"scan --campaign '%s' --resume\n",
				o.name);
		goto out;
	}
	rc = run_scan(&db, &o, id, run_id);
out:
	PQfinish(c);
	if (db_ready)
		db_free(&db);
	verify_ctx_free(verify);
	free(prov);
	scan_opts_free(&o);
	return rc;
}
