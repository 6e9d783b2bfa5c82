/*
 * stsfetch: runs mxcrawl's MTA-STS policy fetch (crawler/sts/stsfetch.h) for
 * many hosts at once on one uv loop and prints one JSON object per
 * result, for integration tests and the benchmark.
 *
 * usage: stsfetch [--ca-file F] [--timeout-ms MS] [--connect-timeout-ms MS]
 *                 [--max-body N] [--cancel-after K] [--max-inflight W]
 *                 [--stats] [HOST ADDR[,ADDR...] ...]
 *        stsfetch --self-test
 *
 * Without HOST arguments, lines "HOST ADDR[,ADDR...]" are read from stdin.
 * At most W fetches run at once (default 1000, the crawler's default
 * --concurrency: a scan fetches at most one policy per domain in flight;
 * 0 = every fetch at once): the first W are started before the loop runs,
 * and each result starts the next, so a list of any length runs in
 * bounded memory and file descriptors through the multi-socket plumbing.
 * --cancel-after K calls stsfetch_close() from the K-th result's callback
 * (the rest, started or not, end as `cancelled`). --stats prints
 * "stsfetch: N fetches in T ms (R/s), at most P in flight" to stderr.
 * Each result carries end_ms, the milliseconds from the first start to
 * it (elapsed_ms counts from its own start). --self-test checks the pure
 * header judgement against tables written from RFC 9110 and exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/util/json.h"
#include "crawler/sts/stsfetch.h"

#define LINE_MAX_LEN 4096
#define MAX_ADDRS STSFETCH_MAX_ADDRS
#define INFLIGHT_DEFAULT 1000

struct job {
	char *host;
	char *addrs_arg; /* as given, echoed in the result */
	char *addrs_buf;
	const char *addrs[MAX_ADDRS];
	size_t naddrs;
};

static struct stsfetch *fetcher;
static size_t results, cancel_after;
static int exit_code;
/* The window: jobs[next_job..] are not started yet; inflight are started
 * and have no result yet, at most max_inflight (0: no cap). */
static struct job *jobs;
static size_t njobs, next_job, inflight, max_inflight = INFLIGHT_DEFAULT,
					 peak_inflight;
static uint64_t t0;

static void put_str(struct jbuf *b, const char *key, const char *s)
{
	jbuf_printf(b, ", \"%s\": ", key);
	if (s && s[0])
		jbuf_json_string(b, s, strlen(s));
	else
		jbuf_puts(b, "null");
}

static void put_result(const struct stsfetch_result *r, const struct job *j)
{
	struct jbuf b;

	jbuf_init(&b, 1 << 20);
	jbuf_puts(&b, "{\"host\": ");
	jbuf_json_string(&b, r->host, strlen(r->host));
	put_str(&b, "addrs", j->addrs_arg);
	jbuf_printf(&b, ", \"outcome\": \"%s\"", stsfetch_rc_str(r->rc));
	if (r->http_status)
		jbuf_printf(&b, ", \"status\": %d", r->http_status);
	else
		jbuf_puts(&b, ", \"status\": null");
	put_str(&b, "location", r->location);
	put_str(&b, "content_type", r->content_type);
	put_str(&b, "content_encoding", r->content_encoding);
	jbuf_printf(&b, ", \"body_len\": %zu", r->body_len);
	jbuf_puts(&b, ", \"body\": ");
	if (r->body)
		jbuf_json_string(&b, (const char *)r->body, r->body_len);
	else
		jbuf_puts(&b, "null");
	jbuf_printf(&b, ", \"chain_len\": %zu, \"chain_kept\": %zu",
		    r->chain_total, r->nchain);
	jbuf_printf(&b, ", \"verify_code\": %d", r->verify_code);
	put_str(&b, "verify_error", r->verify_error);
	put_str(&b, "tls_version", r->tls_version);
	put_str(&b, "addr", r->addr);
	jbuf_printf(&b, ", \"curl_code\": %d", r->curl_code);
	put_str(&b, "detail", r->detail);
	jbuf_printf(&b, ", \"elapsed_ms\": %u", r->elapsed_ms);
	jbuf_printf(&b, ", \"end_ms\": %llu}\n",
		    (unsigned long long)((uv_hrtime() - t0) / 1000000));
	if (!b.failed)
		fputs(b.data, stdout);
	else
		exit_code = 70;
	jbuf_free(&b);
}

static void start_more(void);

static void on_done(const struct stsfetch_result *r, void *arg)
{
	put_result(r, arg);
	inflight--;
	if (++results == cancel_after)
		stsfetch_close(fetcher, NULL, NULL);
	start_more();
}

/* A job never started because the fetcher was closed first: it ends as
 * `cancelled`, as the started ones do. */
static void put_cancelled(const struct job *j)
{
	struct stsfetch_result r;

	memset(&r, 0, sizeof r);
	r.rc = STSFETCH_CANCELLED;
	r.host = j->host;
	r.verify_code = -1;
	put_result(&r, j);
	results++;
}

/* Starts jobs until the window is full or none is left. Called before the
 * loop runs and from each result's callback (stsfetch_start only arms
 * curl's timer there, so no callback runs inside it). */
static void start_more(void)
{
	while (next_job < njobs &&
	       (max_inflight == 0 || inflight < max_inflight)) {
		struct job *j = &jobs[next_job++];
		int rc = stsfetch_start(fetcher, j->host, j->addrs, j->naddrs,
					on_done, j);
		if (rc == -ESHUTDOWN) {
			put_cancelled(j);
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "stsfetch: start %s: %s\n", j->host,
				strerror(-rc));
			exit_code = 70;
			continue;
		}
		if (++inflight > peak_inflight)
			peak_inflight = inflight;
	}
}

static void job_free(struct job *j)
{
	free(j->host);
	free(j->addrs_arg);
	free(j->addrs_buf);
}

static int add_job(struct job **list, size_t *n, size_t *cap, const char *host,
		   const char *addrs)
{
	struct job *j;
	char *p, *save = NULL;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct job *nj = realloc(*list, nc * sizeof *nj);
		if (!nj)
			return -ENOMEM;
		*list = nj;
		*cap = nc;
	}
	j = &(*list)[*n];
	memset(j, 0, sizeof *j);
	j->host = strdup(host);
	j->addrs_arg = strdup(addrs);
	j->addrs_buf = strdup(addrs);
	if (!j->host || !j->addrs_arg || !j->addrs_buf) {
		job_free(j);
		return -ENOMEM;
	}
	for (p = strtok_r(j->addrs_buf, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		if (j->naddrs == MAX_ADDRS) {
			job_free(j);
			return -EINVAL;
		}
		j->addrs[j->naddrs++] = p;
	}
	(*n)++;
	return 0;
}

/* ---- --self-test: the pure judgement against RFC 9110 tables ---------- */

static int failures;

static void check(bool got, bool want, const char *what, const char *in)
{
	if (got != want) {
		fprintf(stderr, "self-test: %s(\"%s\") = %d, want %d\n", what,
			in, got, want);
		failures++;
	}
}

static int self_test(void)
{
	/* RFC 9110 §8.3.1: media-type = type "/" subtype parameters;
	 * parameters = *( OWS ";" OWS [ parameter ] ); type and subtype are
	 * case-insensitive. RFC 8461 §3.3 wants text/plain. */
	static const struct {
		const char *in;
		bool ok;
	} media[] = {
		{ "text/plain", true },
		{ "TEXT/PLAIN", true },
		{ "Text/Plain; charset=utf-8", true },
		{ "text/plain;charset=us-ascii", true },
		{ "text/plain ; charset=utf-8", true },
		{ "  text/plain  ", true },
		{ "text/plain;", true },
		{ "text/html", false },
		{ "text/plainx", false },
		{ "text/plain x", false },
		{ "text/", false },
		{ "text", false },
		{ "", false },
		{ "application/octet-stream", false },
		{ "text/plain-text", false },
		{ "xtext/plain", false },
	};
	/* RFC 9110 §8.4: Content-Encoding = #content-coding; identity is
	 * "no coding"; list elements may be empty (§5.6.1). */
	static const struct {
		const char *in;
		bool ok;
	} enc[] = {
		{ "", true },
		{ "identity", true },
		{ "IDENTITY", true },
		{ " identity , identity ", true },
		{ ",identity,", true },
		{ "gzip", false },
		{ "deflate", false },
		{ "br", false },
		{ "identity, gzip", false },
		{ "gzip, identity", false },
		{ "identityx", false },
		{ "x-gzip", false },
	};
	/* The order of the verdicts (stsfetch.h). */
	static const struct {
		struct stsfetch_head h;
		enum stsfetch_rc want;
	} heads[] = {
		{ { 200, 1, true, true, 100 }, STSFETCH_OK },
		{ { 200, 1, true, true, -1 }, STSFETCH_OK },
		{ { 200, 1, true, true, 65536 }, STSFETCH_OK },
		{ { 200, 1, true, true, 65537 }, STSFETCH_TOO_LARGE },
		{ { 301, 1, true, true, 0 }, STSFETCH_HTTP_REDIRECT },
		{ { 308, 0, false, true, 0 }, STSFETCH_HTTP_REDIRECT },
		{ { 404, 1, true, true, 10 }, STSFETCH_HTTP_STATUS },
		{ { 204, 1, true, true, 0 }, STSFETCH_HTTP_STATUS },
		{ { 500, 1, false, false, 0 }, STSFETCH_HTTP_STATUS },
		{ { 200, 1, true, false, 10 }, STSFETCH_CONTENT_ENCODING },
		{ { 200, 1, false, false, 10 }, STSFETCH_CONTENT_ENCODING },
		{ { 200, 1, false, true, 10 }, STSFETCH_MEDIA_TYPE },
		{ { 200, 0, false, true, 10 }, STSFETCH_MEDIA_TYPE },
		{ { 200, 2, true, true, 10 }, STSFETCH_MEDIA_TYPE },
		{ { 200, 1, false, true, 1000000 }, STSFETCH_MEDIA_TYPE },
	};
	size_t i;

	for (i = 0; i < sizeof media / sizeof media[0]; i++)
		check(stsfetch_media_type_ok(media[i].in, strlen(media[i].in)),
		      media[i].ok, "media_type_ok", media[i].in);
	for (i = 0; i < sizeof enc / sizeof enc[0]; i++)
		check(stsfetch_encoding_ok(enc[i].in, strlen(enc[i].in)),
		      enc[i].ok, "encoding_ok", enc[i].in);
	for (i = 0; i < sizeof heads / sizeof heads[0]; i++) {
		enum stsfetch_rc got =
		    stsfetch_judge_headers(&heads[i].h, 65536);
		if (got != heads[i].want) {
			fprintf(stderr,
				"self-test: judge row %zu = %s, want %s\n", i,
				stsfetch_rc_str(got),
				stsfetch_rc_str(heads[i].want));
			failures++;
		}
	}
	for (i = 0; i < STSFETCH_RC_LAST; i++)
		if (strcmp(stsfetch_rc_str((enum stsfetch_rc)i), "unknown") ==
		    0) {
			fprintf(stderr, "self-test: rc %zu has no name\n", i);
			failures++;
		}
	check(strcmp(stsfetch_rc_str(STSFETCH_RC_LAST), "unknown") == 0, true,
	      "rc_str", "RC_LAST");
	printf("self-test: %zu cases, %d failures\n",
	       sizeof media / sizeof media[0] + sizeof enc / sizeof enc[0] +
		   sizeof heads / sizeof heads[0] + STSFETCH_RC_LAST + 1,
	       failures);
	return failures ? 1 : 0;
}

static void free_jobs(struct job *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		job_free(&list[i]);
	free(list);
}

int main(int argc, char **argv)
{
	struct stsfetch_config cfg = { 0 };
	size_t cap = 0;
	bool stats = false;
	uv_loop_t loop;
	int a = 1, rc;

	for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
		const char *o = argv[a];
		if (strcmp(o, "--self-test") == 0)
			return self_test();
		if (strcmp(o, "--stats") == 0) {
			stats = true;
			continue;
		}
		if (a + 1 >= argc) {
			fprintf(stderr, "stsfetch: %s needs a value\n", o);
			return 64;
		}
		if (strcmp(o, "--ca-file") == 0)
			cfg.ca_file = argv[++a];
		else if (strcmp(o, "--timeout-ms") == 0)
			cfg.timeout_ms = (unsigned)atoi(argv[++a]);
		else if (strcmp(o, "--connect-timeout-ms") == 0)
			cfg.connect_timeout_ms = (unsigned)atoi(argv[++a]);
		else if (strcmp(o, "--max-body") == 0)
			cfg.max_body = (size_t)atol(argv[++a]);
		else if (strcmp(o, "--cancel-after") == 0)
			cancel_after = (size_t)atol(argv[++a]);
		else if (strcmp(o, "--max-inflight") == 0)
			max_inflight = (size_t)atol(argv[++a]);
		else {
			fprintf(stderr, "stsfetch: unknown option %s\n", o);
			return 64;
		}
	}
	if (a < argc) {
		if ((argc - a) % 2 != 0) {
			fprintf(stderr, "usage: stsfetch [options] "
					"[HOST ADDR[,ADDR...] ...]\n");
			return 64;
		}
		for (; a < argc; a += 2)
			if (add_job(&jobs, &njobs, &cap, argv[a],
				    argv[a + 1]) != 0) {
				fprintf(stderr, "stsfetch: bad job %s %s\n",
					argv[a], argv[a + 1]);
				free_jobs(jobs, njobs);
				return 64;
			}
	} else {
		char line[LINE_MAX_LEN], host[LINE_MAX_LEN],
		    addrs[LINE_MAX_LEN];
		while (fgets(line, sizeof line, stdin)) {
			if (sscanf(line, "%4095s %4095s", host, addrs) != 2)
				continue;
			if (add_job(&jobs, &njobs, &cap, host, addrs) != 0) {
				fprintf(stderr, "stsfetch: bad line: %s", line);
				free_jobs(jobs, njobs);
				return 64;
			}
		}
	}

	uv_loop_init(&loop);
	rc = stsfetch_init(&fetcher, &loop, &cfg);
	if (rc != 0) {
		fprintf(stderr, "stsfetch: init: %s\n", strerror(-rc));
		uv_loop_close(&loop);
		free_jobs(jobs, njobs);
		return 70;
	}
	t0 = uv_hrtime();
	start_more();
	uv_run(&loop, UV_RUN_DEFAULT);
	if (stats) {
		double ms = (double)(uv_hrtime() - t0) / 1e6;
		fprintf(stderr,
			"stsfetch: %zu fetches in %.0f ms (%.0f/s), "
			"at most %zu in flight\n",
			results, ms, ms > 0 ? (double)results * 1000.0 / ms : 0,
			peak_inflight);
	}
	if (cancel_after == 0 || results < cancel_after) {
		/* Not closed from a callback: close now; the loop then runs
		 * until every handle is gone. */
		stsfetch_close(fetcher, NULL, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	if (uv_loop_close(&loop) != 0) {
		fprintf(stderr, "stsfetch: handles left open\n");
		exit_code = 70;
	}
	free_jobs(jobs, njobs);
	if (results != njobs) {
		fprintf(stderr, "stsfetch: %zu results for %zu fetches\n",
			results, njobs);
		exit_code = 70;
	}
	return exit_code;
}
