#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crawler/verify/cert.h"
#include "crawler/store/copyfmt.h"
#include "crawler/scan/stsfacts.h"

void sts_facts_init(struct sts_facts *s)
{
	memset(s, 0, sizeof *s);
	s->txt = "none";
	jbuf_init(&s->txt_cname, STS_FACTS_ARRAY_MAX);
	jbuf_init(&s->chain, STS_FACTS_ARRAY_MAX);
}

void sts_facts_free(struct sts_facts *s)
{
	jbuf_free(&s->txt_cname);
	jbuf_free(&s->chain);
	free(s->location);
	free(s->content_type);
	free(s->content_encoding);
	free(s->verify_error);
	free(s->detail);
	free(s->body);
	free(s->parsed);
}

int sts_facts_txt(struct sts_facts *s, const struct mtasts_bytes *recs,
		  size_t n, const char *cname, size_t cname_len, bool failed)
{
	struct mtasts_txt t;

	s->looked_up = true;
	jbuf_reset(&s->txt_cname);
	if (cname)
		jbuf_append(&s->txt_cname, cname, cname_len);
	if (failed) {
		s->txt = "dns_error";
		return jbuf_error(&s->txt_cname);
	}
	enum mtasts_txt_rc rc = mtasts_txt_select(recs, n, &t);
	s->txt = mtasts_txt_status_str(rc);
	s->txt_error = rc == MTASTS_TXT_OK ? NULL : mtasts_txt_rc_str(rc);
	s->txt_records = t.nrecords;
	s->sts_records = t.nsts;
	s->has_id = t.has_id;
	s->id_len = t.id_len;
	memcpy(s->id, t.id, sizeof s->id);
	s->fetch_due = rc == MTASTS_TXT_OK;
	return jbuf_error(&s->txt_cname);
}

static int dup_text(char **dst, const char *src)
{
	free(*dst);
	*dst = NULL;
	if (!src || !*src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int sts_facts_fetched(struct sts_facts *s, const struct stsfetch_result *r,
		      struct jbuf *certrows)
{
	struct copy_array arr;
	int rc = 0;

	s->fetch = stsfetch_rc_str(r->rc);
	s->http_status = r->http_status;
	rc |= dup_text(&s->location, r->location);
	rc |= dup_text(&s->content_type, r->content_type);
	rc |= dup_text(&s->content_encoding, r->content_encoding);
	rc |= dup_text(&s->detail, r->detail);
	rc |= dup_text(&s->verify_error,
		       r->verify_code > 0 ? r->verify_error : NULL);
	memcpy(s->tls_version, r->tls_version, sizeof s->tls_version);
	memcpy(s->fetch_addr, r->addr, sizeof s->fetch_addr);
	s->fetch_ms = r->elapsed_ms;
	jbuf_reset(&s->chain);
	copy_array_begin(&arr, &s->chain);
	for (size_t i = 0; i < r->nchain; i++) {
		uint8_t digest[CERT_SHA256_LEN];
		if (cert_sha256(r->chain[i], r->chain_len[i], digest) != 0)
			continue;
		copy_array_bytea(&arr, digest, sizeof digest);
		cert_copy_row(certrows, r->chain[i], r->chain_len[i]);
	}
	copy_array_end(&arr);
	if (r->rc != STSFETCH_OK)
		return rc ? -ENOMEM : 0;
	free(s->body);
	s->body = malloc(r->body_len ? r->body_len : 1);
	s->parsed = calloc(1, sizeof *s->parsed);
	if (!s->body || !s->parsed)
		return -ENOMEM;
	memcpy(s->body, r->body, r->body_len);
	s->body_len = r->body_len;
	enum mtasts_policy_rc prc =
	    mtasts_policy_parse(r->body, r->body_len, s->parsed);
	s->policy = prc == MTASTS_POLICY_OK ? "valid" : "invalid";
	s->policy_error =
	    prc == MTASTS_POLICY_OK ? NULL : mtasts_policy_rc_str(prc);
	return rc ? -ENOMEM : 0;
}

int sts_facts_mx_match(const struct sts_facts *s, const char *host)
{
	if (!s->parsed || !s->policy || strcmp(s->policy, "valid") != 0 ||
	    (s->parsed->mode != MTASTS_MODE_ENFORCE &&
	     s->parsed->mode != MTASTS_MODE_TESTING))
		return -1;
	return mtasts_mx_match_any(s->parsed, host) >= 0;
}

/* The worse of two DNSSEC statuses of one name's A and AAAA answers. */
static enum dnssec_status worse(enum dnssec_status a, enum dnssec_status b)
{
	static const int rank[DNSSEC_STATUS_LAST] = {
		[DNSSEC_UNKNOWN] = 0,  [DNSSEC_SECURE] = 1,
		[DNSSEC_INSECURE] = 2, [DNSSEC_INDETERMINATE] = 3,
		[DNSSEC_BOGUS] = 4,
	};
	return rank[a] >= rank[b] ? a : b;
}

void sts_facts_row(const struct sts_facts *s, struct jbuf *b,
		   int64_t campaign_id, int64_t target_id)
{
	struct copy_array arr;
	char text[64];
	const struct mtasts_policy *p = s->parsed;

	copy_int(b, campaign_id);
	copy_field(b);
	copy_int(b, target_id);
	copy_field(b);
	copy_str(b, s->txt);
	copy_field(b);
	copy_str(b, s->txt_error);
	copy_field(b);
	copy_int(b, (int64_t)s->txt_records);
	copy_field(b);
	copy_int(b, (int64_t)s->sts_records);
	copy_field(b);
	jbuf_append(b, s->txt_cname.len ? s->txt_cname.data : "{}",
		    s->txt_cname.len ? s->txt_cname.len : 2);
	copy_field(b);
	if (s->has_id)
		copy_bytea(b, (const uint8_t *)s->id, s->id_len);
	else
		copy_null(b);
	copy_field(b);
	if (s->fetch_due) {
		copy_str(b, s->host);
		copy_field(b);
		copy_str(b, s->a_done || s->aaaa_done
				? dnssec_status_str(worse(s->a_st, s->aaaa_st))
				: NULL);
		copy_field(b);
		copy_array_begin(&arr, b);
		for (size_t i = 0; i < s->naddr; i++) {
			addr_format(&s->addrs[i], text, sizeof text);
			copy_array_text(&arr, text, strlen(text));
		}
		copy_array_end(&arr);
	} else {
		jbuf_puts(b, "\\N\t\\N\t\\N");
	}
	copy_field(b);
	copy_str(b, s->fetch);
	copy_field(b);
	copy_str(b, s->fetch_addr[0] ? s->fetch_addr : NULL);
	copy_field(b);
	if (s->http_status)
		copy_int(b, s->http_status);
	else
		copy_null(b);
	copy_field(b);
	const char *bytes[3] = { s->location, s->content_type,
				 s->content_encoding };
	for (int i = 0; i < 3; i++) {
		if (bytes[i])
			copy_bytea(b, (const uint8_t *)bytes[i],
				   strlen(bytes[i]));
		else
			copy_null(b);
		copy_field(b);
	}
	copy_str(b, s->tls_version[0] ? s->tls_version : NULL);
	copy_field(b);
	copy_str(b, s->verify_error);
	copy_field(b);
	copy_str(b, s->detail);
	copy_field(b);
	if (s->fetch)
		copy_int(b, s->fetch_ms);
	else
		copy_null(b);
	copy_field(b);
	jbuf_append(b, s->chain.len ? s->chain.data : "{}",
		    s->chain.len ? s->chain.len : 2);
	copy_field(b);
	if (s->body)
		copy_bytea(b, s->body, s->body_len);
	else
		copy_null(b);
	copy_field(b);
	copy_str(b, s->policy);
	copy_field(b);
	copy_str(b, s->policy_error);
	copy_field(b);
	if (!p) {
		jbuf_puts(b, "\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N");
		copy_row_end(b);
		return;
	}
	copy_str(b, mtasts_mode_str(p->mode));
	copy_field(b);
	/* The value served, valid or not (max_age_valid says which). */
	if (p->max_age_number)
		copy_int(b, (int64_t)p->max_age_served);
	else
		copy_null(b);
	copy_field(b);
	copy_array_begin(&arr, b);
	for (size_t i = 0; i < p->nmx; i++)
		copy_array_text(&arr, p->mx[i], strlen(p->mx[i]));
	copy_array_end(&arr);
	copy_field(b);
	copy_bool(b, p->mx_truncated);
	copy_field(b);
	copy_str(b, mtasts_eol_str(p->eol));
	copy_field(b);
	copy_array_begin(&arr, b);
	for (size_t i = 0; i < p->nunknown; i++)
		copy_array_text(&arr, p->unknown[i], strlen(p->unknown[i]));
	copy_array_end(&arr);
	copy_field(b);
	if (p->max_age_seen) {
		copy_bytea(b, p->max_age_text, p->max_age_text_len);
		copy_field(b);
		copy_bool(b, p->has_max_age);
	} else {
		jbuf_puts(b, "\\N\t\\N");
	}
	copy_row_end(b);
}

void rpt_facts_init(struct rpt_facts *r)
{
	memset(r, 0, sizeof *r);
	r->status = "none";
	jbuf_init(&r->rua, STS_FACTS_ARRAY_MAX);
	jbuf_init(&r->schemes, STS_FACTS_ARRAY_MAX);
}

void rpt_facts_free(struct rpt_facts *r)
{
	jbuf_free(&r->rua);
	jbuf_free(&r->schemes);
}

void rpt_facts_txt(struct rpt_facts *r, const struct tlsrpt_bytes *recs,
		   size_t n, bool failed)
{
	struct tlsrpt *t;
	struct copy_array ua, sa;

	r->looked_up = true;
	if (failed) {
		r->status = "dns_error";
		return;
	}
	if (n == 0) {
		/* No TXT record (most domains): what tlsrpt_select() says of
		 * none, without clearing its large result (5 % of a DNS-only
		 * scan's instructions). */
		r->status = tlsrpt_status_str(TLSRPT_RC_NONE);
		r->error = NULL;
		r->txt_records = 0;
		r->rpt_records = 0;
		jbuf_reset(&r->rua);
		jbuf_reset(&r->schemes);
		jbuf_append(&r->rua, "{}", 2);
		jbuf_append(&r->schemes, "{}", 2);
		return;
	}
	t = calloc(1, sizeof *t); /* ~5 KiB: not on the loop's stack */
	if (!t) {
		/* The domain fails with out of memory. */
		r->rua.failed = JBUF_NO_MEMORY;
		return;
	}
	enum tlsrpt_rc rc = tlsrpt_select(recs, n, t);
	r->status = tlsrpt_status_str(rc);
	r->error =
	    rc == TLSRPT_OK || rc == TLSRPT_RC_NONE || rc == TLSRPT_RC_MULTIPLE
		? NULL
		: tlsrpt_rc_str(rc);
	r->txt_records = t->nrecords;
	r->rpt_records = t->nrpt;
	jbuf_reset(&r->rua);
	jbuf_reset(&r->schemes);
	copy_array_begin(&ua, &r->rua);
	copy_array_begin(&sa, &r->schemes);
	for (size_t i = 0; i < t->nrua; i++) {
		const char *scheme = tlsrpt_scheme_str(t->rua[i].scheme);
		copy_array_bytea(&ua, (const uint8_t *)t->rua[i].uri,
				 t->rua[i].len);
		copy_array_text(&sa, scheme, strlen(scheme));
	}
	copy_array_end(&ua);
	copy_array_end(&sa);
	free(t);
}

void rpt_facts_row(const struct rpt_facts *r, struct jbuf *b,
		   int64_t campaign_id, int64_t target_id)
{
	copy_int(b, campaign_id);
	copy_field(b);
	copy_int(b, target_id);
	copy_field(b);
	copy_str(b, r->status);
	copy_field(b);
	copy_str(b, r->error);
	copy_field(b);
	copy_int(b, (int64_t)r->txt_records);
	copy_field(b);
	copy_int(b, (int64_t)r->rpt_records);
	copy_field(b);
	jbuf_append(b, r->rua.len ? r->rua.data : "{}",
		    r->rua.len ? r->rua.len : 2);
	copy_field(b);
	jbuf_append(b, r->schemes.len ? r->schemes.data : "{}",
		    r->schemes.len ? r->schemes.len : 2);
	copy_row_end(b);
}
