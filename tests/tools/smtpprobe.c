/*
 * smtpprobe: runs mxcrawl's endpoint probe (SMTP up to the end of the
 * STARTTLS handshake) against one or more endpoints and prints one JSON
 * object per endpoint with the session's facts, for integration tests.
 *
 * usage: smtpprobe [--ehlo NAME] [--deadline MS] [--stage MS] [--per-ip N]
 *                  [--port P] ADDR SNI [ADDR SNI ...]      (port 25)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/smtp/endpoint.h"
#include "crawler/util/json.h"

static void print_result(void *arg, const struct endpoint_result *r)
{
	const struct smtp_facts *f = &r->session->facts;
	struct jbuf b;
	char ip[64];

	(void)arg;
	jbuf_init(&b, 1 << 20);
	addr_format(&r->addr, ip, sizeof ip);
	jbuf_puts(&b, "{\"ip\": ");
	jbuf_json_string(&b, ip, strlen(ip));
	jbuf_puts(&b, ", \"sni\": ");
	jbuf_json_string(&b, r->sni, strlen(r->sni));
	jbuf_printf(&b, ", \"outcome\": \"%s\"", smtp_rc_str(f->outcome));
	jbuf_printf(&b, ", \"end_state\": \"%s\"",
		    smtp_state_str(f->end_state));
	jbuf_printf(&b, ", \"banner_code\": %d, \"ehlo_code\": %d",
		    f->banner_code, f->ehlo_code);
	jbuf_printf(&b, ", \"starttls_offered\": %s, \"starttls_code\": %d",
		    smtp_fact_json(f->starttls_offered), f->starttls_code);
	if (f->stripping != SMTP_STRIP_NONE)
		jbuf_printf(&b, ", \"stripping\": \"%s\"",
			    smtp_stripping_str(f->stripping));
	else
		jbuf_puts(&b, ", \"stripping\": null");
	jbuf_printf(&b,
		    ", \"injection\": %s, \"overlong_line\": %s, "
		    "\"bare_lf\": %s",
		    smtp_fact_json(f->injection),
		    smtp_fact_json(f->overlong_line),
		    smtp_fact_json(f->bare_lf));
	jbuf_printf(&b, ", \"conn\": \"%s\"", conn_rc_str(r->conn_rc));
	if (r->tls_done)
		jbuf_printf(
		    &b,
		    ", \"tls\": {\"outcome\": \"ok\", \"version\": \"%s\", "
		    "\"cipher\": \"%s\", \"group\": \"%s\", \"chain_len\": "
		    "%zu, \"chain_kept\": %zu, \"handshake_ms\": %u}",
		    r->tls->version, r->tls->cipher, r->tls->group,
		    r->tls->chain_total, r->tls->nchain, r->tls->handshake_ms);
	else
		jbuf_puts(&b, ", \"tls\": null");
	jbuf_puts(&b, ", \"tls_reason\": ");
	jbuf_json_string(&b, f->tls_reason, strlen(f->tls_reason));
	jbuf_printf(&b, ", \"elapsed_ms\": %u}\n", r->elapsed_ms);
	if (!b.failed)
		fputs(b.data, stdout);
	jbuf_free(&b);
}

int main(int argc, char **argv)
{
	struct endpoint_env env = { 0 };
	struct ipcap *cap = NULL;
	uv_loop_t loop;
	int i = 1, port = 25;

	smtp_limits_default(&env.limits);
	env.ehlo_name = "smtpprobe.mxcrawl.invalid";
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--ehlo") == 0)
			env.ehlo_name = argv[i + 1];
		else if (strcmp(argv[i], "--deadline") == 0)
			env.limits.deadline_ms = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--per-ip") == 0)
			cap = ipcap_new((unsigned)atoi(argv[i + 1]));
		else if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--stage") == 0)
			env.limits.banner_ms = env.limits.command_ms =
			    env.limits.tls_ms = (unsigned)atoi(argv[i + 1]);
		else {
			fprintf(stderr, "smtpprobe: unknown option %s\n",
				argv[i]);
			return 64;
		}
	}
	if (i >= argc || (argc - i) % 2 != 0) {
		fprintf(stderr, "usage: smtpprobe [--ehlo N] [--deadline MS] "
				"[--stage MS] ADDR SNI [ADDR SNI ...]\n");
		return 64;
	}
	uv_loop_init(&loop);
	env.loop = &loop;
	if (cap && !(env.cap = ipcap_attach(cap, &loop)))
		return 70;
	env.tls = tls_client_ctx_new();
	if (!env.tls)
		return 70;
	for (; i < argc; i += 2) {
		struct addr a;
		if (addr_parse(argv[i], &a) != 0) {
			fprintf(stderr, "smtpprobe: bad address %s\n", argv[i]);
			return 64;
		}
		if (endpoint_probe(&env, &a, port, argv[i + 1], print_result,
				   NULL) != 0)
			return 70;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	ipcap_detach(env.cap);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	SSL_CTX_free(env.tls);
	ipcap_free(cap);
	return 0;
}
