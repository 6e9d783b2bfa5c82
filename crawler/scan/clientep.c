/* The client services on the endpoint plumbing: see clientep.h. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "crawler/scan/clientep.h"
#include "crawler/store/copyfmt.h"
#include "crawler/verify/cert.h"
#include "crawler/verify/verdict.h"

/* The wrappers give the opaque session its type (a call through a
 * function pointer of another type would be undefined). */
static int cep_init(void *s, int service, const struct endpoint_env *env)
{
	if (service < 0 || service >= MAIL_SVC_LAST) {
		memset(s, 0, sizeof(struct mail_session));
		((struct mail_session *)s)->service = MAIL_SVC_SUBMISSION;
		return -EINVAL;
	}
	return mail_session_init(s, (enum mail_service)service, env->ehlo_name,
				 &env->limits);
}

static void cep_free(void *s)
{
	mail_session_free(s);
}

static enum smtp_action cep_connected(void *s)
{
	return mail_on_connected(s);
}

static enum smtp_action cep_connect_failed(void *s)
{
	return mail_on_connect_failed(s);
}

static enum smtp_action cep_data(void *s, const uint8_t *buf, size_t len)
{
	return mail_on_data(s, buf, len);
}

static enum smtp_action cep_eof(void *s)
{
	return mail_on_eof(s);
}

static enum smtp_action cep_reset(void *s)
{
	return mail_on_reset(s);
}

static enum smtp_action cep_timeout(void *s, enum smtp_timer which)
{
	return mail_on_timeout(s, which);
}

static enum smtp_action cep_tls_done(void *s, bool ok, const char *reason)
{
	return mail_on_tls_done(s, ok, reason);
}

static const uint8_t *cep_output(const void *s, size_t *len)
{
	return mail_session_output(s, len);
}

static unsigned cep_stage_ms(const void *s)
{
	return mail_session_stage_timeout_ms(s);
}

const struct endpoint_ops clientep_ops = {
	.size = sizeof(struct mail_session),
	.init = cep_init,
	.free = cep_free,
	.on_connected = cep_connected,
	.on_connect_failed = cep_connect_failed,
	.on_data = cep_data,
	.on_eof = cep_eof,
	.on_reset = cep_reset,
	.on_timeout = cep_timeout,
	.on_tls_done = cep_tls_done,
	.output = cep_output,
	.stage_timeout_ms = cep_stage_ms,
};

const struct mail_session *clientep_session(const struct endpoint_result *r)
{
	return r->state;
}

/* A session fact as a COPY boolean: NULL when it was never observed. */
static void copy_fact(struct jbuf *b, enum smtp_fact f)
{
	if (f == SMTP_FACT_YES || f == SMTP_FACT_NO)
		copy_bool(b, f == SMTP_FACT_YES);
	else
		copy_null(b);
}

void clientep_row(struct jbuf *b, struct jbuf *certs, int64_t campaign_id,
		  const char *worker, const struct endpoint_result *r,
		  const struct verify_result *vr)
{
	const struct mail_session *m = clientep_session(r);
	enum mail_service svc = (enum mail_service)r->service;
	struct mail_facts f = { .outcome = MAIL_RC_INTERNAL_ERROR };
	struct copy_array arr;
	char ip[64], now[64];
	time_t t = time(NULL);
	struct tm tm;

	if (m)
		mail_session_facts(m, &f);
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S+00", &tm);
	addr_format(&r->addr, ip, sizeof ip);
	copy_int(b, campaign_id);
	copy_field(b);
	copy_str(b, ip);
	copy_field(b);
	copy_int(b, r->port);
	copy_field(b);
	copy_str(b, r->sni);
	copy_field(b);
	copy_str(b, mail_service_str(svc));
	copy_field(b);
	copy_str(b, worker);
	copy_field(b);
	copy_str(b, now);
	copy_field(b);
	copy_str(b, mail_proto_str(mail_service_proto(svc)));
	copy_field(b);
	copy_str(b, mail_tls_str(mail_service_tls(svc)));
	copy_field(b);
	copy_str(b, mail_rc_str(f.outcome));
	copy_field(b);
	copy_str(b, f.end_state ? f.end_state : "none");
	copy_field(b);
	copy_str(b, conn_rc_str(r->conn_rc));
	copy_field(b);
	copy_str(b, mail_greeting_str(f.greeting));
	copy_field(b);
	copy_str(b, f.greeting_code[0] ? f.greeting_code : NULL);
	copy_field(b);
	if (f.greeting_code[0] && f.greeting_line)
		copy_bytea(b, f.greeting_line, f.greeting_len);
	else
		copy_null(b);
	copy_field(b);
	copy_fact(b, f.starttls_offered);
	copy_field(b);
	copy_str(b, f.starttls_code[0] ? f.starttls_code : NULL);
	copy_field(b);
	copy_str(b, f.stripping != SMTP_STRIP_NONE
			? smtp_stripping_str(f.stripping)
			: NULL);
	copy_field(b);
	copy_fact(b, f.injection);
	copy_field(b);
	if (r->tls_done) {
		copy_str(b, r->tls->version);
		copy_field(b);
		copy_str(b, r->tls->cipher);
		copy_field(b);
		copy_str(b, r->tls->group[0] ? r->tls->group : NULL);
		copy_field(b);
		copy_int(b, r->tls->handshake_ms);
	} else {
		jbuf_puts(b, "\\N\t\\N\t\\N\t\\N");
	}
	copy_field(b);
	copy_str(b, f.tls_reason && f.tls_reason[0] ? f.tls_reason : NULL);
	copy_field(b);
	copy_array_begin(&arr, b);
	for (size_t i = 0; r->tls_done && i < r->tls->nchain; i++) {
		uint8_t digest[CERT_SHA256_LEN];
		if (cert_sha256(r->tls->chain[i], r->tls->chain_len[i],
				digest) == 0)
			copy_array_bytea(&arr, digest, sizeof digest);
		cert_copy_row(certs, r->tls->chain[i], r->tls->chain_len[i]);
	}
	copy_array_end(&arr);
	copy_field(b);
	copy_int(b, r->tls_done ? (int64_t)r->tls->chain_total : 0);
	copy_field(b);
	/* trusted, verify_errors, missing_intermediate, the name (here of
	 * the SRV target), cn_only, weak, valid_ignoring_strength: as
	 * port 25's endpoint row. */
	verdict_copy(b, vr);
	copy_field(b);
	if (f.transcript)
		copy_bytea(b, f.transcript->bytes, f.transcript->len);
	else
		copy_bytea(b, (const uint8_t *)"", 0);
	copy_field(b);
	copy_int(b, r->elapsed_ms);
	copy_row_end(b);
}
