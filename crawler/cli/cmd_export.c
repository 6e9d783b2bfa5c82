/* mxcrawl export: every stored fact of a campaign, one JSON object per
 * domain (or one CSV row of headline facts), streamed in target order. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

#include <zstd.h>

#include "crawler/store/campaign.h"
#include "crawler/cli/cli.h"
#include "crawler/util/log.h"
#include "crawler/cli/commands.h"
#include "crawler/store/db.h"
#include "crawler/cli/outfile.h"
#include "crawler/store/record.h"

static const char usage[] =
    "usage: mxcrawl export [--campaign ID|NAME] --format jsonl|csv\n"
    "                      [-o FILE] [--db CONNINFO]\n"
    "       mxcrawl export [--campaign ID|NAME] --metadata [-o FILE]\n"
    "                      [--db CONNINFO]\n"
    "\n"
    "jsonl writes one JSON object per scanned domain of the campaign\n"
    "(default: the newest), in target order, with every fact stored so far:\n"
    "domain first, then campaign_id, campaign_name and dnssec_validated\n"
    "(false: the resolver did not validate, every DNSSEC and DANE fact is\n"
    "unknown). csv writes one row per domain with the headline facts\n"
    "(header row; RFC 4180). README.md lists the fields and columns.\n"
    "\n"
    "-o FILE writes FILE instead of stdout, zstd-compressed if it ends in\n"
    ".zst, gzip-compressed if in .gz; a regular file is replaced only when\n"
    "the export is complete, a device or FIFO is written as it is.\n"
    "\n"
    "--metadata writes the campaign's provenance instead, as one JSON\n"
    "document: the campaign and every run (resolver, canaries, trust store,\n"
    "options, versions, host, start and end).\n"
    "\n"
    "Exit status: 0 ok; 64 usage; 65 no such campaign; 69 database\n"
    "unreachable; 70 a handshake record unreadable (written as null);\n"
    "73 cannot create FILE; 74 write error; 78 a migration is pending that\n"
    "this role may not apply.\n" USAGE_EXIT_COMMON;

/* Largest handshake record decompressed (records are a few KiB). */
#define EXPORT_RECORD_MAX (1u << 20)

static int64_t be64(const char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | (uint8_t)p[i];
	return (int64_t)v;
}

/*
 * The export at scan speed (issue M8). Each document is built here from
 * streams of the campaign's tables, all in target order, read through
 * cursors on connections of their own that share one snapshot (so the
 * documents are consistent even while a crawler writes), FETCHed in chunks
 * with the next chunk always in flight (PostgreSQL reads ahead while this
 * process formats), and merged by target_id: a merge join of sorted
 * streams, so memory stays bounded by a chunk per stream and one domain.
 *
 * The reference definition of a document stays the view export_document
 * (schema/023 and 014); tests/integration/test_export.sh holds the two
 * equal for every testbed domain. Adding a field: add it to the view, and
 * here one line { key, kind, SQL expression } to the column table of the
 * object it belongs in (dom_top, dom_top2, dom_sts, dom_rpt, mx_head,
 * mx_tlsa, mx_tail, ep_top, ep_smtp, ep_tls, ep_cert, q_cols); the SELECT
 * lists are built from these tables. A field of the domain's own MX,
 * _mta-sts or _smtp._tls answer (the view's q_mx, q_sts, q_rpt) is a
 * column of the query stream (q_cols or q_hidden) named in q_mx_pairs,
 * q_sts_pairs or q_rpt_pairs. A field of "client" goes into
 * export_client() (schema/030, which the view calls) and here into
 * cs_sql, ct_sql or ce_sql and the take_client_* function writing its
 * object, at its place in jsonb's key order (put_client).
 *
 * What a 1M-domain export costs (perf, EXPLAIN ANALYZE; notes of branch
 * s5-export): PostgreSQL's per-row work (index probes, output functions,
 * sorts of the streams not in primary-key order) more than this process,
 * so the streams keep SQL expressions few and cheap.
 */

/* to_json of an array column: most are empty, and to_json looks its
 * argument's type up on every call (a tenth of a stream's CPU): '[]'
 * without it. The bytes are to_json's ('{}' gives "[]", NULL null). */
#define JSON_ARRAY(c)                                                      \
	"CASE WHEN cardinality(" c ") = 0 THEN '[]'::json ELSE to_json(" c \
	") END"
/* coalesce(to_json(c), '[]') */
#define JSON_ARRAY_OR_EMPTY(c)                             \
	"CASE WHEN cardinality(" c ") > 0 THEN to_json(" c \
	") ELSE '[]'::json END"

/* How a column's text becomes JSON. */
enum kind {
	K_STR,	/* text: a JSON string */
	K_NUM,	/* an integer as PostgreSQL prints it */
	K_BOOL, /* 't' / 'f' */
	K_JSON, /* already JSON (to_json, json_agg) */
};

struct col {
	const char *key;
	enum kind kind;
	const char *expr;
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- the domain stream: domain_dns and its one-row neighbours ---------- */

static const struct col dom_top[] = {
	{ "target_id", K_NUM, "d.target_id" },
	{ "scanned_at", K_STR, "iso_utc(d.scanned_at)" },
	{ "worker", K_STR, "d.worker" },
	{ "mx_outcome", K_STR, "d.mx_outcome" },
	{ "not_recorded_cause", K_STR, "d.not_recorded_cause" },
	/* Unknown when the MX question had no usable answer, or its answer
	 * was not stored (schema/027). */
	{ "implicit_mx", K_BOOL,
	  "CASE WHEN d.mx_outcome NOT IN ('dns_error', 'blocklisted', "
	  "'not_recorded') THEN d.mx_outcome = 'implicit_mx' END" },
	{ "null_mx", K_BOOL,
	  "CASE WHEN d.mx_outcome NOT IN ('dns_error', 'blocklisted', "
	  "'not_recorded') THEN d.mx_outcome LIKE 'null\\_mx%' END" },
	{ "mx_count", K_NUM, "d.mx_count" },
	{ "mx_truncated", K_BOOL, "d.mx_truncated" },
	{ "apex_cname", K_JSON, JSON_ARRAY("d.apex_cname") },
};
/* then "large_answer": the MX answer's "large" (q_mx below) */
static const struct col dom_top2[] = {
	{ "dns_queries", K_NUM, "d.dns_queries" },
	{ "elapsed_ms", K_NUM, "d.elapsed_ms" },
};
/* then "client" (M12, schema/028-030) from the client streams, and
 * "client_mx" (schema/033-034) from its stream */

/* The domain's own answers come from the query stream (its rows of
 * dns_rrset, which the document lists in "queries" anyway) instead of
 * three more joins per domain: each pair is { key in the document, key
 * of the column in q_cols or q_hidden }. A missing answer gives nulls
 * ("[]" for txt_records, as the view's coalesce). */
struct qpair {
	const char *key, *qkey;
};
/* "dns": {"mx": {...}}: the answer to domain/MX (q_mx) */
static const struct qpair q_mx_pairs[] = {
	{ "outcome", "outcome" }, { "rcode", "rcode" },
	{ "dnssec", "dnssec" },	  { "dnssec_reason", "dnssec_reason" },
	{ "ede", "ede" },	  { "ede_text", "ede_text" },
	{ "records", "records" },
};
/* the first keys of "mta_sts": the answer to _mta-sts.domain/TXT (q_sts)
 * and of "tlsrpt": _smtp._tls.domain/TXT (q_rpt) */
static const struct qpair q_sts_pairs[] = {
	{ "txt_dnssec", "dnssec" },
	{ "txt_rcode", "rcode" },
	{ "txt_cname", "cname" },
	{ "txt_records", "txt" },
};
static const struct qpair q_rpt_pairs[] = {
	{ "txt_dnssec", "dnssec" },
	{ "txt_rcode", "rcode" },
	{ "txt_records", "txt" },
};

/* "mta_sts": the TXT answer (above), then domain_mta_sts (schema/014
 * export_sts). TXT strings and served bytes use PostgreSQL's escape
 * encoding. */
static const struct col dom_sts[] = {
	{ "txt", K_STR, "s.txt" },
	{ "txt_error", K_STR, "s.txt_error" },
	{ "txt_records_count", K_NUM, "s.txt_records" },
	{ "sts_records", K_NUM, "s.sts_records" },
	{ "txt_cname_chain", K_JSON, JSON_ARRAY("s.txt_cname") },
	{ "id", K_STR, "encode(s.id, 'escape')" },
	{ "host", K_STR, "s.host" },
	{ "host_dnssec", K_STR, "s.host_dnssec" },
	{ "host_addresses", K_JSON,
	  "(SELECT json_agg(host(a)) FROM unnest(s.host_addresses) a)" },
	{ "fetch", K_STR, "s.fetch_outcome" },
	{ "fetch_addr", K_STR, "host(s.fetch_addr)" },
	{ "http_status", K_NUM, "s.http_status" },
	{ "location", K_STR, "encode(s.location, 'escape')" },
	{ "content_type", K_STR, "encode(s.content_type, 'escape')" },
	{ "content_encoding", K_STR, "encode(s.content_encoding, 'escape')" },
	{ "tls_version", K_STR, "s.tls_version" },
	{ "verify_error", K_STR, "s.verify_error" },
	{ "fetch_detail", K_STR, "s.fetch_detail" },
	{ "fetch_ms", K_NUM, "s.fetch_ms" },
	{ "chain", K_JSON,
	  "(SELECT json_agg(encode(h, 'hex')) FROM unnest(s.chain) h)" },
	{ "body", K_STR, "encode(s.body, 'escape')" },
	{ "policy", K_STR, "s.policy" },
	{ "policy_error", K_STR, "s.policy_error" },
	{ "mode", K_STR, "s.mode" },
	{ "max_age", K_NUM, "s.max_age" },
	{ "max_age_text", K_STR, "encode(s.max_age_text, 'escape')" },
	{ "max_age_valid", K_BOOL, "s.max_age_valid" },
	{ "mx_patterns", K_JSON, JSON_ARRAY_OR_EMPTY("s.mx_patterns") },
	{ "mx_truncated", K_BOOL, "s.mx_truncated" },
	{ "eol", K_STR, "s.eol" },
	{ "unknown_keys", K_JSON, JSON_ARRAY_OR_EMPTY("s.unknown_keys") },
	/* mx_match, enforce_would_work and failures are computed below from
	 * the MX and endpoint streams (as schema/009 mta_sts_verdict). */
};

/* "tlsrpt": the TXT answer, then domain_tlsrpt. */
static const struct col dom_rpt[] = {
	{ "status", K_STR, "r.status" },
	{ "error", K_STR, "r.error" },
	{ "txt_records_count", K_NUM, "r.txt_records" },
	{ "rpt_records", K_NUM, "r.rpt_records" },
	{ "rua", K_JSON,
	  "coalesce((SELECT json_agg(encode(u, 'escape')) "
	  "FROM unnest(r.rua) u), '[]'::json)" },
	{ "rua_schemes", K_JSON, JSON_ARRAY_OR_EMPTY("r.rua_schemes") },
};

/* Columns the documents do not show as such (the CSV and the merge). */
static const struct col dom_hidden[] = {
	{ "domain", K_STR, "d.domain" },
};

/* The CSV's own: it reads no query stream (the MX answer's DNSSEC status
 * by a join), and only it shows the rank (a join the JSON spares). */
static const struct col dom_csv[] = {
	{ "mx_dnssec", K_STR, "q_mx.dnssec" },
	{ "rank", K_NUM, "ct.rank" },
};

#define DOM_FROM                                                    \
	" FROM domain_dns d"                                        \
	" LEFT JOIN domain_mta_sts s ON s.campaign_id = $1::bigint" \
	" AND s.target_id = d.target_id"                            \
	" LEFT JOIN domain_tlsrpt r ON r.campaign_id = $1::bigint"  \
	" AND r.target_id = d.target_id"
#define DOM_WHERE " WHERE d.campaign_id = $1::bigint ORDER BY d.target_id"
static const char dom_from[] = DOM_FROM DOM_WHERE;
static const char dom_from_csv[] =
    DOM_FROM " LEFT JOIN campaign_target ct ON ct.campaign_id = $1::bigint"
	     " AND ct.target_id = d.target_id"
	     " LEFT JOIN dns_rrset q_mx ON q_mx.campaign_id = $1::bigint"
	     " AND q_mx.target_id = d.target_id AND q_mx.qname = d.domain"
	     " AND q_mx.qtype = 'MX'" DOM_WHERE;

/* --- the MX stream: domain_mx ----------------------------------------- */

static const struct col mx_head[] = {
	{ "preference", K_NUM, "m.preference" },
	{ "host", K_STR, "m.host" },
	{ "kept", K_BOOL, "m.kept" },
	{ "ip_literal", K_BOOL, "m.ip_literal" },
	{ "cname", K_JSON, JSON_ARRAY("m.cname") },
	{ "mx_cname", K_BOOL, "cardinality(m.cname) > 0" },
	{ "address_outcome", K_STR, "m.address_outcome" },
	{ "addresses_partial", K_BOOL, "m.addresses_partial" },
	{ "registrable", K_STR, "m.registrable" },
};
/* then "a", "aaaa" and "addresses" from the address stream */
static const struct col mx_tlsa[] = {
	{ "looked_up", K_BOOL, "m.tlsa_looked_up" },
	{ "name", K_STR, "m.tlsa_name" },
	{ "dnssec", K_STR, "m.tlsa_dnssec" },
	{ "records", K_JSON, JSON_ARRAY("m.tlsa_records") },
};
static const struct col mx_tail[] = {
	{ "dane", K_STR, "m.dane" },
	{ "dane_result_type", K_STR, "m.dane_result_type" },
};
/* then "endpoints" from the endpoint stream */
static const struct col mx_hidden[] = {
	{ "ordinal", K_NUM, "m.ordinal" },
	{ "a_dnssec", K_STR, "m.a_dnssec" },
	{ "aaaa_dnssec", K_STR, "m.aaaa_dnssec" },
	{ "sts_match", K_BOOL, "m.sts_match" },
};
static const char mx_from[] = " FROM domain_mx m WHERE m.campaign_id = "
			      "$1::bigint ORDER BY m.target_id, m.ordinal";

/* --- the address stream: mx_address ----------------------------------- */

static const struct col addr_cols[] = {
	{ "ordinal", K_NUM, "a.ordinal" },
	{ "v4", K_BOOL, "family(a.address) = 4" },
	{ "ip", K_STR, "host(a.address)" },
	{ "verdict", K_STR, "a.verdict" },
	{ "class", K_STR, "a.class" },
};
static const char addr_from[] =
    " FROM mx_address a WHERE a.campaign_id = $1::bigint"
    " ORDER BY a.target_id, a.ordinal, a.address";

/* --- the endpoint stream: domain_endpoint with its endpoint ------------ */

static const struct col ep_top[] = {
	{ "ip", K_STR, "host(de.ip)" },
	{ "port", K_NUM, "de.port" },
	{ "sni", K_STR, "de.sni" },
	{ "name_matches_domain", K_BOOL, "de.name_matches_domain" },
	{ "dane", K_STR, "de.dane" },
};
static const struct col ep_smtp[] = {
	{ "outcome", K_STR, "e.outcome" },
	{ "end_state", K_STR, "e.end_state" },
	{ "conn", K_STR, "e.conn" },
	{ "banner_code", K_NUM, "e.banner_code" },
	{ "ehlo_code", K_NUM, "e.ehlo_code" },
	{ "helo_code", K_NUM, "e.helo_code" },
	{ "starttls_offered", K_BOOL, "e.starttls_offered" },
	{ "starttls_code", K_NUM, "e.starttls_code" },
	{ "stripping", K_STR, "e.stripping" },
	{ "injection", K_BOOL, "e.injection" },
	{ "overlong_line", K_BOOL, "e.overlong_line" },
	{ "bare_lf", K_BOOL, "e.bare_lf" },
	{ "keywords", K_JSON, JSON_ARRAY("e.keywords") },
	{ "elapsed_ms", K_NUM, "e.elapsed_ms" },
};
/* "tls": {"outcome": "ok", ...} after a handshake, else {"outcome": null,
 * "reason": ...} */
static const struct col ep_tls[] = {
	{ "version", K_STR, "e.tls_version" },
	{ "cipher", K_STR, "e.tls_cipher" },
	{ "group", K_STR, "e.tls_group" },
	{ "handshake_ms", K_NUM, "e.handshake_ms" },
	{ "legacy", K_BOOL, "e.tls_legacy" },
};
/* "cert": null without a chain (trusted NULL) */
static const struct col ep_cert[] = {
	{ "trusted", K_BOOL, "e.trusted" },
	{ "valid_ignoring_strength", K_BOOL, "e.valid_ignoring_strength" },
	{ "errors", K_JSON, JSON_ARRAY("e.verify_errors") },
	{ "missing_intermediate", K_BOOL, "e.missing_intermediate" },
	{ "name_matches_mx", K_BOOL, "e.name_matches_mx" },
	{ "name_matches_domain", K_BOOL, "de.name_matches_domain" },
	{ "cn_only", K_BOOL, "e.cn_only" },
	{ "weak", K_JSON, JSON_ARRAY("e.weak") },
	{ "chain_len", K_NUM, "e.chain_len" },
	{ "long_chain", K_BOOL, "e.long_chain" },
	{ "chain_truncated", K_BOOL, "e.chain_truncated" },
	{ "out_of_order", K_BOOL, "e.chain_out_of_order" },
	{ "leaf_san_count", K_NUM, "e.leaf_san_count" },
	{ "chain", K_JSON,
	  "(SELECT json_agg(encode(h, 'hex')) FROM unnest(e.chain) h)" },
};
static const struct col ep_hidden[] = {
	{ "ordinal", K_NUM, "de.ordinal" },
	{ "reason", K_STR, "e.tls_reason" },
	/* RFC 8460 result type a strict enforcing MTA-STS sender would
	 * report (schema/012 mta_sts_verdict, ep: the same CASE, so that the
	 * export says what the report counts). */
	{ "sts_failure", K_STR,
	  "CASE WHEN e.outcome <> 'starttls_ok' OR e.tls_version IS NULL THEN"
	  " CASE WHEN e.outcome IN ('no_starttls', 'starttls_rejected',"
	  " 'ehlo_rejected') THEN 'starttls-not-supported'"
	  " ELSE 'validation-failure' END"
	  " WHEN e.tls_legacy THEN 'validation-failure'"
	  " WHEN 'expired' = ANY (e.verify_errors) THEN 'certificate-expired'"
	  " WHEN cardinality(e.verify_errors) > 0 OR e.trusted IS FALSE"
	  " THEN 'certificate-not-trusted'"
	  " WHEN NOT coalesce(e.name_matches_mx, false)"
	  " OR coalesce(e.cn_only, false) THEN 'certificate-host-mismatch' END" },
	/* The strict sender's view (analysis/001_base.sql b_use). */
	{ "starttls_ok", K_BOOL,
	  "coalesce(e.outcome = 'starttls_ok', false)"
	  " AND e.tls_version IS NOT NULL"
	  " AND coalesce(e.tls_version IN ('TLSv1.2', 'TLSv1.3'), false)" },
	{ "cert_valid", K_BOOL,
	  "coalesce(e.trusted AND e.name_matches_mx AND NOT e.cn_only, false)" },
};
static const char ep_from[] =
    " FROM domain_endpoint de JOIN endpoint e"
    " ON e.campaign_id = $1::bigint AND e.ip = de.ip AND e.port = de.port"
    " AND e.sni = de.sni WHERE de.campaign_id = $1::bigint"
    " ORDER BY de.target_id, de.ordinal, de.ip, de.port";

/* --- the query stream: dns_rrset -------------------------------------- */

static const struct col q_cols[] = {
	{ "qname", K_STR, "r.qname" },
	{ "qtype", K_STR, "r.qtype" },
	{ "outcome", K_STR, "r.outcome" },
	{ "rcode", K_STR, "r.rcode" },
	{ "dnssec", K_STR, "r.dnssec" },
	{ "dnssec_reason", K_STR, "r.dnssec_reason" },
	{ "ede", K_JSON, JSON_ARRAY("r.ede") },
	{ "large", K_BOOL, "r.large" },
	{ "cname", K_JSON, JSON_ARRAY("r.cname") },
	{ "records", K_JSON, JSON_ARRAY("r.records") },
	{ "elapsed_ms", K_NUM, "r.elapsed_ms" },
};
/* For the domain's own answers (q_mx_pairs ...). */
static const struct col q_hidden[] = {
	{ "ede_text", K_STR, "r.ede_text" },
	{ "txt", K_JSON,
	  "CASE WHEN cardinality(r.txt) > 0 THEN (SELECT json_agg(encode(t, "
	  "'escape')) FROM unnest(r.txt) t) END" },
};
static const char q_from[] =
    " FROM dns_rrset r WHERE r.campaign_id = "
    "$1::bigint ORDER BY r.target_id, r.qtype, r.qname";
/* In primary-key order: no sort of the campaign's 6-7 rows per domain in
 * the server (a third of the stream's CPU); take_queries sorts each
 * domain's few by qtype, qname. Only where the server orders text as
 * strcmp does (query_sort_in_c). */
static const char q_from_pk[] =
    " FROM dns_rrset r WHERE r.campaign_id = "
    "$1::bigint ORDER BY r.target_id, r.qname, r.qtype";

/* --- the handshake record stream (binary) ------------------------------ */

static const char hr_sql[] =
    "SELECT de.target_id, hr.dict_id, hr.zstd "
    "FROM domain_endpoint de JOIN handshake_record hr "
    "ON hr.campaign_id = $1::bigint AND hr.ip = de.ip "
    "AND hr.port = de.port AND hr.sni = de.sni "
    "WHERE de.campaign_id = $1::bigint "
    "ORDER BY de.target_id, de.ordinal, de.ip, de.port";

/* --- the mail client streams (put_client below) ---------------------- */

/* Each stream in target order, and within a target in the order of the
 * lists the pieces go to (ordinal; address): put_client matches a row to
 * its service by name and sorts the services itself, so no stream sorts
 * by a text column (a collation's comparisons). */

/* Array columns come as to_jsonb(c) as text, without to_jsonb when the
 * array is empty: CASE WHEN cardinality(c) = 0 THEN '[]' ... */

static const char cs_sql[] =
    "SELECT s.target_id, s.service, s.qname, s.outcome, s.rcode, s.dnssec,"
    " s.dnssec_reason, "
    "CASE WHEN cardinality(s.ede) = 0 THEN '[]'"
    " ELSE to_jsonb(s.ede)::text END"
    ", s.srv, s.offered,"
    " s.record_count, s.records_truncated"
    " FROM client_srv s WHERE s.campaign_id = $1::bigint"
    " ORDER BY s.target_id";
enum {
	CS_SERVICE = 1,
	CS_QNAME,
	CS_OUTCOME,
	CS_RCODE,
	CS_DNSSEC,
	CS_DNSSEC_REASON,
	CS_EDE,
	CS_SRV,
	CS_OFFERED,
	CS_RECORD_COUNT,
	CS_RECORDS_TRUNCATED
};

/* The address lists as export_client() aggregates them (inet order). */
static const char ct_sql[] =
    "SELECT t.target_id, t.service, t.ordinal, t.priority, t.weight, t.port,"
    " t.target, "
    "CASE WHEN cardinality(t.cname) = 0 THEN '[]'"
    " ELSE to_jsonb(t.cname)::text END"
    ", t.address_outcome,"
    " t.addresses_partial, t.a_dnssec, t.aaaa_dnssec,"
    " CASE WHEN cardinality(t.addresses) = 0 THEN '[]' ELSE coalesce(("
    "SELECT jsonb_agg(host(x) ORDER BY x) FROM unnest(t.addresses) x"
    " WHERE family(x) = 4), '[]'::jsonb)::text END,"
    " CASE WHEN cardinality(t.addresses) = 0 THEN '[]' ELSE coalesce(("
    "SELECT jsonb_agg(host(x) ORDER BY x) FROM unnest(t.addresses) x"
    " WHERE family(x) = 6), '[]'::jsonb)::text END,"
    " CASE WHEN cardinality(t.addresses) = 0 AND cardinality(t.verdicts) = 0"
    " THEN '[]' ELSE coalesce((SELECT jsonb_agg(jsonb_build_object("
    "'ip', host(x.ip), 'verdict', x.verdict) ORDER BY x.ip)"
    " FROM unnest(t.addresses, t.verdicts) x (ip, verdict)),"
    " '[]'::jsonb)::text END,"
    " t.tlsa_looked_up, t.tlsa_name, t.tlsa_dnssec, "
    "CASE WHEN cardinality(t.tlsa_records) = 0 THEN '[]'"
    " ELSE to_jsonb(t.tlsa_records)::text END"
    ", t.dane, t.dane_result_type"
    " FROM client_srv_target t WHERE t.campaign_id = $1::bigint"
    " ORDER BY t.target_id, t.ordinal";
enum {
	CT_SERVICE = 1,
	CT_ORDINAL,
	CT_PRIORITY,
	CT_WEIGHT,
	CT_PORT,
	CT_TARGET,
	CT_CNAME,
	CT_ADDRESS_OUTCOME,
	CT_ADDRESSES_PARTIAL,
	CT_A_DNSSEC,
	CT_AAAA_DNSSEC,
	CT_A4,
	CT_A6,
	CT_ADDRS,
	CT_TLSA_LOOKED_UP,
	CT_TLSA_NAME,
	CT_TLSA_DNSSEC,
	CT_TLSA_RECORDS,
	CT_DANE,
	CT_DANE_RESULT_TYPE
};

/* An endpoint's columns, CE_IP to CE_DANE, of a domain's endpoint row de
 * (domain_client_endpoint or domain_client_mx_endpoint) and its probe's
 * client_endpoint row c, joined ON CE_JOIN: ce_sql and cmx_sql share them,
 * so put_client_ep reads both streams alike. */
#define CE_COLUMNS                                                              \
	"host(de.ip), de.port,"                                                 \
	" c.outcome, c.greeting, c.starttls_offered, c.injection, c.stripping," \
	" c.tls_version, c.tls_cipher, c.chain_len, c.trusted, "                \
	"CASE WHEN cardinality(c.verify_errors) = 0 THEN '[]'"                  \
	" ELSE to_jsonb(c.verify_errors)::text END"                             \
	", c.missing_intermediate,"                                             \
	" c.name_matches_host, de.name_matches_domain, c.cn_only, "             \
	"CASE WHEN cardinality(c.weak) = 0 THEN '[]'"                           \
	" ELSE to_jsonb(c.weak)::text END"                                      \
	", de.dane"
#define CE_JOIN                                                            \
	"c.campaign_id = $1::bigint AND c.ip = de.ip AND c.port = de.port" \
	" AND c.sni = de.sni AND c.service = de.service"

static const char ce_sql[] =
    "SELECT de.target_id, de.service, de.ordinal, " CE_COLUMNS
    " FROM domain_client_endpoint de JOIN client_endpoint c ON " CE_JOIN
    " WHERE de.campaign_id = $1::bigint"
    " ORDER BY de.target_id, de.ordinal, de.ip";
enum {
	CE_SERVICE = 1,
	CE_ORDINAL,
	CE_IP,
	CE_PORT,
	CE_OUTCOME,
	CE_GREETING,
	CE_STARTTLS_OFFERED,
	CE_INJECTION,
	CE_STRIPPING,
	CE_TLS_VERSION,
	CE_TLS_CIPHER,
	CE_CHAIN_LEN,
	CE_TRUSTED,
	CE_ERRORS,
	CE_MISSING_INTERMEDIATE,
	CE_NAME_MATCHES_HOST,
	CE_NAME_MATCHES_DOMAIN,
	CE_CN_ONLY,
	CE_WEAK,
	CE_DANE
};

/* "client_mx" (schema/033-034): client_mx rows, each with its endpoints
 * (domain_client_mx_endpoint joined to client_endpoint, NULL columns for
 * a host without any), one stream in target, ordinal and address order.
 * The endpoint columns are ce_sql's (CE_COLUMNS) from CMX_IP on, CMX_EP
 * columns further (put_client_ep), then the probe's conn. */
static const char cmx_sql[] =
    "SELECT m.target_id, m.service, m.ordinal, m.host, m.port,"
    " m.address_outcome, m.tlsa_looked_up, m.tlsa_name, m.tlsa_dnssec, "
    "CASE WHEN cardinality(m.tlsa_records) = 0 THEN '[]'"
    " ELSE to_jsonb(m.tlsa_records)::text END"
    ", m.dane, m.dane_result_type, " CE_COLUMNS ", c.conn"
    " FROM client_mx m LEFT JOIN (domain_client_mx_endpoint de"
    " JOIN client_endpoint c ON " CE_JOIN ")"
    " ON de.campaign_id = $1::bigint AND de.target_id = m.target_id"
    " AND de.ordinal = m.ordinal AND de.service = m.service"
    " WHERE m.campaign_id = $1::bigint"
    " ORDER BY m.target_id, m.ordinal, de.ip";
enum {
	CMX_SERVICE = 1,
	CMX_ORDINAL,
	CMX_HOST,
	CMX_PORT,
	CMX_ADDRESS_OUTCOME,
	CMX_TLSA_LOOKED_UP,
	CMX_TLSA_NAME,
	CMX_TLSA_DNSSEC,
	CMX_TLSA_RECORDS,
	CMX_DANE,
	CMX_DANE_RESULT_TYPE,
	CMX_IP,
	/* ce_sql's CE_IP..CE_DANE at CMX_IP on, then: */
	CMX_CONN = CMX_IP + (CE_DANE - CE_IP) + 1,
	CMX_EP = CMX_IP - CE_IP
};

struct key {
	char *s;
	size_t n;
};

/* A SELECT list: target_id first, then the groups in order. */
struct group {
	const struct col *cols;
	size_t n;
	int off;	  /* column number of the first */
	struct key *keys; /* per column ", \"key\": " (first: from +2) */
};

/* The columns the CSV reads (find_columns, put_mx, take_address,
 * take_endpoint and put_csv_row with x->csv), by key: the CSV selects NULL
 * for every other column, which it never writes. A key here that another
 * group shares is merely selected for nothing. */
static const char *const csv_keys[] = {
	"domain",
	"rank",
	"mx_outcome",
	"mx_dnssec",
	"txt",
	"fetch",
	"policy",
	"mode",
	"status",
	"ordinal",
	"host",
	"kept",
	"ip_literal",
	"dane",
	"sts_match",
	"ip",
	"verdict",
	"sts_failure",
	"starttls_offered",
	"starttls_ok",
	"cert_valid",
};

static bool csv_reads(const char *key)
{
	for (size_t i = 0; i < NELEM(csv_keys); i++)
		if (strcmp(key, csv_keys[i]) == 0)
			return true;
	return false;
}

static int build_sql(struct jbuf *sql, const char *target, struct group *g,
		     size_t ng, const char *from, bool csv)
{
	int col = 1;
	jbuf_reset(sql);
	jbuf_printf(sql, "SELECT %s", target);
	for (size_t i = 0; i < ng; i++) {
		g[i].off = col;
		for (size_t k = 0; k < g[i].n; k++, col++)
			jbuf_printf(sql, ", %s",
				    !csv || csv_reads(g[i].cols[k].key)
					? g[i].cols[k].expr
					: "NULL");
	}
	jbuf_puts(sql, from);
	return sql->failed ? -1 : 0;
}

/* Column of `key` in group g (a programming error if absent). */
static int col_of(const struct group *g, const char *key)
{
	for (size_t k = 0; k < g->n; k++)
		if (strcmp(g->cols[k].key, key) == 0)
			return g->off + (int)k;
	abort();
}

/* Rows FETCHed per round trip; the next chunk is asked for as soon as one
 * arrives. */
#define EXPORT_CHUNK 2000

/* One cursor on a connection of its own, read a chunk at a time. */
struct stream {
	const char *name; /* also the cursor's name */
	PGconn *c;
	PGresult *res;
	int row, nrows;
	bool eof;     /* no chunk after this one */
	bool pending; /* a FETCH is in flight */
	bool binary;
	bool failed;
	int64_t target; /* of the current row; INT64_MAX at the end */
};

static void stream_send(struct stream *s)
{
	char q[64];
	snprintf(q, sizeof q, "FETCH %d FROM %s", EXPORT_CHUNK, s->name);
	if (!PQsendQueryParams(s->c, q, 0, NULL, NULL, NULL, NULL,
			       s->binary ? 1 : 0)) {
		log_error("export: %s: %s", s->name, PQerrorMessage(s->c));
		s->failed = true;
		s->eof = true;
		return;
	}
	s->pending = true;
}

static void stream_set_target(struct stream *s)
{
	if (!s->res || s->row >= s->nrows) {
		s->target = INT64_MAX;
		return;
	}
	const char *v = PQgetvalue(s->res, s->row, 0);
	s->target = s->binary ? be64(v) : strtoll(v, NULL, 10);
}

/* Takes the chunk in flight and sends for the next. */
static void stream_receive(struct stream *s)
{
	PGresult *r;
	PQclear(s->res);
	s->res = NULL;
	s->row = s->nrows = 0;
	if (!s->pending) {
		stream_set_target(s);
		return;
	}
	while ((r = PQgetResult(s->c)) != NULL) {
		if (PQresultStatus(r) == PGRES_TUPLES_OK && !s->res) {
			s->res = r;
			continue;
		}
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			log_error("export: %s: %s", s->name,
				  PQresultErrorMessage(r));
			s->failed = true;
		}
		PQclear(r);
	}
	s->pending = false;
	if (s->failed) {
		PQclear(s->res);
		s->res = NULL;
		s->eof = true;
	} else {
		s->nrows = PQntuples(s->res);
		if (s->nrows < EXPORT_CHUNK)
			s->eof = true;
		else
			stream_send(s);
	}
	stream_set_target(s);
}

static void stream_next(struct stream *s)
{
	if (++s->row < s->nrows) {
		stream_set_target(s);
		return;
	}
	if (s->eof) {
		PQclear(s->res);
		s->res = NULL;
		s->nrows = 0;
		s->target = INT64_MAX;
		return;
	}
	stream_receive(s);
}

/* Skips rows of targets before t (rows without a domain: none expected). */
static void stream_skip(struct stream *s, int64_t t)
{
	while (s->target < t)
		stream_next(s);
}

static const char *sv(const struct stream *s, int col)
{
	return PQgetisnull(s->res, s->row, col)
		   ? NULL
		   : PQgetvalue(s->res, s->row, col);
}

static bool sbool(const struct stream *s, int col)
{
	const char *v = sv(s, col);
	return v && v[0] == 't';
}

static int sint(const struct stream *s, int col)
{
	const char *v = sv(s, col);
	return v ? atoi(v) : -1;
}

/* Opens the stream's cursor in a transaction on the exported snapshot. */
static int stream_open(struct stream *s, const char *name, struct db *db,
		       const char *snapshot, const char *sql, const char *cid,
		       bool binary)
{
	const char *p[1] = { cid };
	char q[128];
	PGresult *r;

	memset(s, 0, sizeof *s);
	s->name = name;
	s->binary = binary;
	s->target = INT64_MAX;
	s->c = db_connect(db);
	if (!s->c)
		return -1;
	r = db_exec(s->c, PGRES_COMMAND_OK, "starting a read",
		    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
		    NULL);
	if (!r)
		return -1;
	PQclear(r);
	/* The whole result is read: plan for all of it, not the first rows
	 * (cursor_tuple_fraction), and never JIT-compile (compiling the
	 * wide SELECT lists costs more than running them; with estimates
	 * from unanalysed partitions JIT can take minutes). */
	static const char *const settings[] = {
		"SET LOCAL jit = off",
		"SET LOCAL cursor_tuple_fraction = 1",
		"SET LOCAL work_mem = '32MB'",
	};
	for (size_t i = 0; i < NELEM(settings); i++) {
		if (!(r = db_exec(s->c, PGRES_COMMAND_OK, "setting up a read",
				  settings[i], 0, NULL)))
			return -1;
		PQclear(r);
	}
	snprintf(q, sizeof q, "SET TRANSACTION SNAPSHOT '%s'", snapshot);
	if (!(r = db_exec(s->c, PGRES_COMMAND_OK, "sharing the snapshot", q, 0,
			  NULL)))
		return -1;
	PQclear(r);
	struct jbuf d;
	jbuf_init(&d, 1u << 20);
	jbuf_printf(&d, "DECLARE %s %sNO SCROLL CURSOR FOR %s", name,
		    binary ? "BINARY " : "", sql);
	r = d.failed ? NULL
		     : db_exec(s->c, PGRES_COMMAND_OK, "opening a cursor",
			       d.data, 1, p);
	jbuf_free(&d);
	if (!r)
		return -1;
	PQclear(r);
	/* The first chunk is received by export_open once every stream has
	 * asked for its own: a stream's first FETCH runs its whole sort, and
	 * the sorts should run side by side, not one after another. */
	stream_send(s);
	return s->failed ? -1 : 0;
}

static void stream_close(struct stream *s)
{
	if (!s->c)
		return;
	PQclear(s->res);
	s->res = NULL;
	if (s->pending) {
		PGresult *r;
		while ((r = PQgetResult(s->c)) != NULL)
			PQclear(r);
	}
	PQfinish(s->c);
	s->c = NULL;
}

/* --- writing JSON ----------------------------------------------------- */

/* jbuf_append with the common case inline: a 1M-domain export appends
 * some 10^9 pieces, nearly all of them into a buffer that has room. */
static inline void put(struct jbuf *b, const char *s, size_t n)
{
	if (!b->failed && b->len + n < b->cap) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = '\0';
	} else {
		jbuf_append(b, s, n);
	}
}
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* A JSON string as jbuf_json_string writes it, without its per-run
 * appends when every byte is printable ASCII (the common case). */
static void put_str(struct jbuf *b, const char *v, size_t n)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t i = 0;
	while (i < n && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' &&
	       p[i] != '\\')
		i++;
	if (i < n || b->failed || b->len + n + 2 >= b->cap) {
		jbuf_json_string(b, v, n);
		return;
	}
	char *d = b->data + b->len;
	d[0] = '"';
	memcpy(d + 1, v, n);
	d[n + 1] = '"';
	b->len += n + 2;
	b->data[b->len] = '\0';
}

/* A key written in this file (plain ASCII, no escapes needed). */
static void put_key(struct jbuf *b, const char *key, bool *first)
{
	if (!*first)
		PUT_LIT(b, ", ");
	*first = false;
	PUT_LIT(b, "\"");
	put(b, key, strlen(key));
	PUT_LIT(b, "\": ");
}

static void put_value_n(struct jbuf *b, enum kind kind, const char *v, size_t n)
{
	if (!v) {
		PUT_LIT(b, "null");
		return;
	}
	switch (kind) {
	case K_STR:
		put_str(b, v, n);
		break;
	case K_BOOL:
		if (v[0] == 't')
			PUT_LIT(b, "true");
		else
			PUT_LIT(b, "false");
		break;
	case K_NUM:
	case K_JSON:
		put(b, v, n);
		break;
	}
}

static void put_value(struct jbuf *b, enum kind kind, const char *v)
{
	put_value_n(b, kind, v, v ? strlen(v) : 0);
}

/* Appends what src holds (src->data is NULL before the first append). */
static void put_jbuf(struct jbuf *b, const struct jbuf *src)
{
	if (src->len)
		put(b, src->data, src->len);
}

/* The group's columns of the stream's current row as "key": value pairs. */
static void put_group(struct jbuf *b, const struct stream *s,
		      const struct group *g, bool *first)
{
	for (size_t k = 0; k < g->n; k++) {
		const struct key *key = &g->keys[k];
		int col = g->off + (int)k;
		if (*first)
			put(b, key->s + 2, key->n - 2);
		else
			put(b, key->s, key->n);
		*first = false;
		if (PQgetisnull(s->res, s->row, col))
			PUT_LIT(b, "null");
		else
			put_value_n(b, g->cols[k].kind,
				    PQgetvalue(s->res, s->row, col),
				    (size_t)PQgetlength(s->res, s->row, col));
	}
}

/* Fills g->keys: ", \"key\": " for each column, JSON-escaped once. */
static int group_keys(struct group *g)
{
	g->keys = calloc(g->n, sizeof *g->keys);
	if (!g->keys)
		return -1;
	for (size_t k = 0; k < g->n; k++) {
		struct jbuf j;
		jbuf_init(&j, 1u << 12);
		jbuf_append(&j, ", ", 2);
		jbuf_json_string(&j, g->cols[k].key, strlen(g->cols[k].key));
		jbuf_append(&j, ": ", 2);
		if (j.failed) {
			jbuf_free(&j);
			return -1;
		}
		g->keys[k].s = j.data;
		g->keys[k].n = j.len;
	}
	return 0;
}

static void group_free(struct group *g)
{
	if (!g->keys)
		return;
	for (size_t k = 0; k < g->n; k++)
		free(g->keys[k].s);
	free(g->keys);
	g->keys = NULL;
}

/* --- per domain: what the headline columns need ----------------------- */

/* RFC 8460 result types (schema/009 mta_sts_verdict), sorted as the view
 * sorts them. */
static const char *const sts_failures[] = {
	"certificate-expired",	   "certificate-host-mismatch",
	"certificate-not-trusted", "starttls-not-supported",
	"validation-failure",
};
enum { STS_VALIDATION_FAILURE = 4 };

static int sts_failure_bit(const char *v)
{
	for (size_t i = 0; i < NELEM(sts_failures); i++)
		if (strcmp(v, sts_failures[i]) == 0)
			return (int)i;
	return STS_VALIDATION_FAILURE;
}

/* An endpoint of one MX host, as its contactable uses need it. */
struct ep_fact {
	char ip[64];
	bool starttls_offered, starttls_ok, cert_valid;
};

/* DANE outcome of a domain (analysis/052_dane_outcome.sql), as flags over
 * its kept MX hosts with a DANE verdict. */
enum {
	DANE_ANY = 1,
	DANE_BOGUS = 2,
	DANE_NO_MATCH = 4,
	DANE_NO_STARTTLS = 8,
	DANE_OK_SOME = 16,
	DANE_NOT_OK_SOME = 32,
	DANE_UNUSABLE = 64,
	DANE_NOT_APPLICABLE = 128,
};

struct facts {
	/* over contactable uses (analysis/001_base.sql b_use) */
	int uses;
	bool all_starttls, any_starttls, all_cert_valid, all_starttls_ok;
	/* over kept MX hosts */
	bool kept_any, all_dane_ok;
	unsigned dane;
	/* MTA-STS hosts (sts_match not null) */
	unsigned sts_failures; /* bits of sts_failures[] */
	/* per MX host, reused */
	struct ep_fact *eps;
	size_t neps, cap_eps;
	char (*ok_ips)[64];
	size_t nok, cap_ok;
	/* mx_match: "host": bool pairs, hosts seen (dedup) */
	struct jbuf mx_match;
	bool mx_match_first;
};

static void facts_reset(struct facts *f)
{
	f->uses = 0;
	f->all_starttls = f->all_cert_valid = f->all_starttls_ok = true;
	f->any_starttls = false;
	f->kept_any = false;
	f->all_dane_ok = true;
	f->dane = 0;
	f->sts_failures = 0;
	jbuf_reset(&f->mx_match);
	f->mx_match_first = true;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(p, n * size);
	if (!q)
		return NULL;
	*cap = n;
	return q;
}

static void copy_ip(char dst[64], const char *v)
{
	snprintf(dst, 64, "%s", v ? v : "");
}

/* --- the export --------------------------------------------------------- */

enum { S_DOM, S_MX, S_ADDR, S_EP, S_Q, S_HR, S_CS, S_CT, S_CE, S_CMX, S_N };

struct export
{
	struct stream s[S_N];
	struct group dom[6], mx[4], addr[1], ep[5], q[2];
	PGresult *dicts; /* id, dict (binary) of the campaign */
	/* Each dictionary digested once, one context for every record:
	 * per-record setup cost more than the decompression itself. */
	ZSTD_DCtx *dctx;
	ZSTD_DDict **ddicts; /* [i]: of row i of dicts */
	const char *extra;   /* campaign fields, JSON pairs starting ", " */
	const char *cid, *name;
	bool csv;
	struct facts f;
	struct jbuf doc, a4, a6, aall, eps;
	/* the domain's "queries" and its own answers' pairs (take_queries) */
	struct jbuf qs, qmx, qsts, qrpt;
	char large;  /* q_mx.large: 't', 'f', 0 for null */
	bool q_sort; /* query rows come in key order: sort them here */
	struct jbuf qkeys, qsorted; /* qtype and qname of each; sorted qs */
	struct qrow *qrows;
	size_t nq, cap_q;
	const struct jbuf *qout; /* "queries" as written: qs or qsorted */
	/* the domain's "client" in pieces (put_client) */
	struct jbuf cl;
	struct cpiece *cps;
	size_t ncps, cap_cps;
	struct outfile *out;
	int64_t domains;
	bool record_failed;
};

enum { DG_TOP, DG_TOP2, DG_STS, DG_RPT, DG_HIDDEN, DG_CSV, DG_N };
enum { QG_COLS, QG_HIDDEN, QG_N };
enum { MG_HEAD, MG_TLSA, MG_TAIL, MG_HIDDEN };
enum { EG_TOP, EG_SMTP, EG_TLS, EG_CERT, EG_HIDDEN };

/* The decompression context and each dictionary of the campaign. */
static int dicts_open(struct export *x)
{
	int n = PQntuples(x->dicts);
	x->dctx = ZSTD_createDCtx();
	x->ddicts = calloc((size_t)n + 1, sizeof *x->ddicts);
	if (!x->dctx || !x->ddicts)
		return -1;
	for (int i = 0; i < n; i++) {
		/* A dictionary zstd cannot load is as missing: its records
		 * are written as null (as record_decompress would fail). */
		x->ddicts[i] =
		    ZSTD_createDDict(PQgetvalue(x->dicts, i, 1),
				     (size_t)PQgetlength(x->dicts, i, 1));
	}
	return 0;
}

static int export_open(struct export *x, struct db *db, const char *snapshot)
{
	struct jbuf sql;
	int rc = 0;

	jbuf_init(&sql, 1u << 20);
	x->dom[DG_TOP] = (struct group){ dom_top, NELEM(dom_top), 0, NULL };
	x->dom[DG_TOP2] = (struct group){ dom_top2, NELEM(dom_top2), 0, NULL };
	x->dom[DG_CSV] = (struct group){ dom_csv, NELEM(dom_csv), 0, NULL };
	x->dom[DG_STS] = (struct group){ dom_sts, NELEM(dom_sts), 0, NULL };
	x->dom[DG_RPT] = (struct group){ dom_rpt, NELEM(dom_rpt), 0, NULL };
	x->dom[DG_HIDDEN] =
	    (struct group){ dom_hidden, NELEM(dom_hidden), 0, NULL };
	x->mx[MG_HEAD] = (struct group){ mx_head, NELEM(mx_head), 0, NULL };
	x->mx[MG_TLSA] = (struct group){ mx_tlsa, NELEM(mx_tlsa), 0, NULL };
	x->mx[MG_TAIL] = (struct group){ mx_tail, NELEM(mx_tail), 0, NULL };
	x->mx[MG_HIDDEN] =
	    (struct group){ mx_hidden, NELEM(mx_hidden), 0, NULL };
	x->addr[0] = (struct group){ addr_cols, NELEM(addr_cols), 0, NULL };
	x->ep[EG_TOP] = (struct group){ ep_top, NELEM(ep_top), 0, NULL };
	x->ep[EG_SMTP] = (struct group){ ep_smtp, NELEM(ep_smtp), 0, NULL };
	x->ep[EG_TLS] = (struct group){ ep_tls, NELEM(ep_tls), 0, NULL };
	x->ep[EG_CERT] = (struct group){ ep_cert, NELEM(ep_cert), 0, NULL };
	x->ep[EG_HIDDEN] =
	    (struct group){ ep_hidden, NELEM(ep_hidden), 0, NULL };
	x->q[QG_COLS] = (struct group){ q_cols, NELEM(q_cols), 0, NULL };
	x->q[QG_HIDDEN] = (struct group){ q_hidden, NELEM(q_hidden), 0, NULL };
	struct group *all[] = { x->dom, x->mx, x->addr, x->ep, x->q };
	size_t nall[] = { NELEM(x->dom), NELEM(x->mx), NELEM(x->addr),
			  NELEM(x->ep), NELEM(x->q) };
	for (size_t i = 0; i < NELEM(all); i++)
		for (size_t k = 0; k < nall[i]; k++)
			if (group_keys(&all[i][k]) != 0)
				rc = -1;
	if (rc == 0 && !x->csv && dicts_open(x) != 0)
		rc = -1;

	struct {
		const char *name, *target, *from;
		struct group *g;
		size_t ng;
	} def[] = {
		/* DG_CSV last: selected for the CSV only */
		[S_DOM] = { "x_dom", "d.target_id",
			    x->csv ? dom_from_csv : dom_from, x->dom,
			    x->csv ? DG_N : DG_CSV },
		[S_MX] = { "x_mx", "m.target_id", mx_from, x->mx, 4 },
		[S_ADDR] = { "x_addr", "a.target_id", addr_from, x->addr, 1 },
		[S_EP] = { "x_ep", "de.target_id", ep_from, x->ep, 5 },
		[S_Q] = { "x_q", "r.target_id", x->q_sort ? q_from_pk : q_from,
			  x->q, QG_N },
	};
	for (int i = 0; i < S_HR && rc == 0; i++) {
		/* The CSV needs no DNS query list. */
		if (i == S_Q && x->csv)
			continue;
		if (build_sql(&sql, def[i].target, def[i].g, def[i].ng,
			      def[i].from, x->csv) != 0 ||
		    stream_open(&x->s[i], def[i].name, db, snapshot, sql.data,
				x->cid, false) != 0)
			rc = -1;
	}
	if (rc == 0 && !x->csv) {
		if (stream_open(&x->s[S_HR], "x_hr", db, snapshot, hr_sql,
				x->cid, true) != 0 ||
		    stream_open(&x->s[S_CS], "x_cs", db, snapshot, cs_sql,
				x->cid, false) != 0 ||
		    stream_open(&x->s[S_CT], "x_ct", db, snapshot, ct_sql,
				x->cid, false) != 0 ||
		    stream_open(&x->s[S_CE], "x_ce", db, snapshot, ce_sql,
				x->cid, false) != 0 ||
		    stream_open(&x->s[S_CMX], "x_cmx", db, snapshot, cmx_sql,
				x->cid, false) != 0)
			rc = -1;
	}
	for (int i = 0; i < S_N && rc == 0; i++) {
		if (!x->s[i].c)
			continue;
		stream_receive(&x->s[i]);
		if (x->s[i].failed)
			rc = -1;
	}
	jbuf_free(&sql);
	return rc;
}

/* Column numbers used by the merge and the headline facts, found once. */
static struct {
	int d_domain, d_rank, d_mx_outcome, d_mx_dnssec, d_txt, d_fetch,
	    d_policy, d_mode, d_rpt_status;
	int q_qname, q_qtype, q_large;
	int q_mx[NELEM(q_mx_pairs)], q_sts[NELEM(q_sts_pairs)],
	    q_rpt[NELEM(q_rpt_pairs)];
	enum kind q_kind[64]; /* by column number of the query stream */
	int m_ordinal, m_host, m_kept, m_lit, m_dane, m_a_dnssec, m_aaaa_dnssec,
	    m_sts_match;
	int a_ordinal, a_v4, a_ip, a_verdict, a_class;
	int e_ordinal, e_ip, e_offered, e_tls_version, e_reason, e_trusted,
	    e_sts_failure, e_starttls_ok, e_cert_valid;
} C;

/* Column of `key` in the query stream, its kind noted. */
static int q_col(const struct export *x, const char *key)
{
	for (int g = 0; g < QG_N; g++)
		for (size_t k = 0; k < x->q[g].n; k++)
			if (strcmp(x->q[g].cols[k].key, key) == 0) {
				int col = x->q[g].off + (int)k;
				if (col >= (int)NELEM(C.q_kind))
					abort();
				C.q_kind[col] = x->q[g].cols[k].kind;
				return col;
			}
	abort();
}

static void find_columns(const struct export *x)
{
	C.d_domain = col_of(&x->dom[DG_HIDDEN], "domain");
	C.d_rank = col_of(&x->dom[DG_CSV], "rank");
	C.d_mx_outcome = col_of(&x->dom[DG_TOP], "mx_outcome");
	C.d_mx_dnssec = col_of(&x->dom[DG_CSV], "mx_dnssec");
	C.q_qname = col_of(&x->q[QG_COLS], "qname");
	C.q_qtype = col_of(&x->q[QG_COLS], "qtype");
	C.q_large = col_of(&x->q[QG_COLS], "large");
	for (size_t i = 0; i < NELEM(q_mx_pairs); i++)
		C.q_mx[i] = q_col(x, q_mx_pairs[i].qkey);
	for (size_t i = 0; i < NELEM(q_sts_pairs); i++)
		C.q_sts[i] = q_col(x, q_sts_pairs[i].qkey);
	for (size_t i = 0; i < NELEM(q_rpt_pairs); i++)
		C.q_rpt[i] = q_col(x, q_rpt_pairs[i].qkey);
	C.d_txt = col_of(&x->dom[DG_STS], "txt");
	C.d_fetch = col_of(&x->dom[DG_STS], "fetch");
	C.d_policy = col_of(&x->dom[DG_STS], "policy");
	C.d_mode = col_of(&x->dom[DG_STS], "mode");
	C.d_rpt_status = col_of(&x->dom[DG_RPT], "status");
	C.m_ordinal = col_of(&x->mx[MG_HIDDEN], "ordinal");
	C.m_host = col_of(&x->mx[MG_HEAD], "host");
	C.m_kept = col_of(&x->mx[MG_HEAD], "kept");
	C.m_lit = col_of(&x->mx[MG_HEAD], "ip_literal");
	C.m_dane = col_of(&x->mx[MG_TAIL], "dane");
	C.m_a_dnssec = col_of(&x->mx[MG_HIDDEN], "a_dnssec");
	C.m_aaaa_dnssec = col_of(&x->mx[MG_HIDDEN], "aaaa_dnssec");
	C.m_sts_match = col_of(&x->mx[MG_HIDDEN], "sts_match");
	C.a_ordinal = col_of(&x->addr[0], "ordinal");
	C.a_v4 = col_of(&x->addr[0], "v4");
	C.a_ip = col_of(&x->addr[0], "ip");
	C.a_verdict = col_of(&x->addr[0], "verdict");
	C.a_class = col_of(&x->addr[0], "class");
	C.e_ordinal = col_of(&x->ep[EG_HIDDEN], "ordinal");
	C.e_ip = col_of(&x->ep[EG_TOP], "ip");
	C.e_offered = col_of(&x->ep[EG_SMTP], "starttls_offered");
	C.e_tls_version = col_of(&x->ep[EG_TLS], "version");
	C.e_reason = col_of(&x->ep[EG_HIDDEN], "reason");
	C.e_trusted = col_of(&x->ep[EG_CERT], "trusted");
	C.e_sts_failure = col_of(&x->ep[EG_HIDDEN], "sts_failure");
	C.e_starttls_ok = col_of(&x->ep[EG_HIDDEN], "starttls_ok");
	C.e_cert_valid = col_of(&x->ep[EG_HIDDEN], "cert_valid");
}

static bool str_is(const char *v, const char *want)
{
	return v && strcmp(v, want) == 0;
}

/* One endpoint object into x->eps (JSON only) and its facts. */
static void take_endpoint(struct export *x, unsigned *host_fail)
{
	struct stream *e = &x->s[S_EP];
	struct facts *f = &x->f;

	if (!x->csv) {
		struct jbuf *b = &x->eps;
		bool first = true;
		if (b->len)
			PUT_LIT(b, ", ");
		PUT_LIT(b, "{");
		put_group(b, e, &x->ep[EG_TOP], &first);
		put_key(b, "smtp", &first);
		bool in = true;
		PUT_LIT(b, "{");
		put_group(b, e, &x->ep[EG_SMTP], &in);
		PUT_LIT(b, "}");
		put_key(b, "tls", &first);
		in = true;
		PUT_LIT(b, "{");
		if (!sv(e, C.e_tls_version)) {
			put_key(b, "outcome", &in);
			PUT_LIT(b, "null");
			put_key(b, "reason", &in);
			put_value(b, K_STR, sv(e, C.e_reason));
		} else {
			put_key(b, "outcome", &in);
			PUT_LIT(b, "\"ok\"");
			put_group(b, e, &x->ep[EG_TLS], &in);
		}
		PUT_LIT(b, "}");
		put_key(b, "cert", &first);
		if (!sv(e, C.e_trusted)) {
			PUT_LIT(b, "null");
		} else {
			in = true;
			PUT_LIT(b, "{");
			put_group(b, e, &x->ep[EG_CERT], &in);
			PUT_LIT(b, "}");
		}
		PUT_LIT(b, "}");
	}
	struct ep_fact *p =
	    grow(f->eps, &f->cap_eps, f->neps + 1, sizeof *f->eps);
	if (p) {
		f->eps = p;
		p = &f->eps[f->neps++];
		copy_ip(p->ip, sv(e, C.e_ip));
		p->starttls_offered = sbool(e, C.e_offered);
		p->starttls_ok = sbool(e, C.e_starttls_ok);
		p->cert_valid = sbool(e, C.e_cert_valid);
	} else {
		x->doc.failed = 1;
	}
	const char *fail = sv(e, C.e_sts_failure);
	if (fail)
		*host_fail |= 1u << sts_failure_bit(fail);
}

/* One address of the MX host into the three lists (JSON only). */
static void take_address(struct export *x)
{
	struct stream *a = &x->s[S_ADDR];
	struct facts *f = &x->f;
	const char *ip = sv(a, C.a_ip);

	if (!x->csv) {
		struct jbuf *fam = sbool(a, C.a_v4) ? &x->a4 : &x->a6;
		if (fam->len)
			PUT_LIT(fam, ", ");
		put_value(fam, K_STR, ip);
		struct jbuf *b = &x->aall;
		bool first = true;
		if (b->len)
			PUT_LIT(b, ", ");
		PUT_LIT(b, "{");
		put_key(b, "ip", &first);
		put_value(b, K_STR, ip);
		put_key(b, "verdict", &first);
		put_value(b, K_STR, sv(a, C.a_verdict));
		put_key(b, "class", &first);
		put_value(b, K_STR, sv(a, C.a_class));
		PUT_LIT(b, "}");
	}
	if (str_is(sv(a, C.a_verdict), "ok")) {
		void *p =
		    grow(f->ok_ips, &f->cap_ok, f->nok + 1, sizeof *f->ok_ips);
		if (p) {
			f->ok_ips = p;
			copy_ip(f->ok_ips[f->nok++], ip);
		} else {
			x->doc.failed = 1;
		}
	}
}

/* The uses of one kept MX host that is not an IP literal: each allowed
 * address with each of its endpoints, or alone when it was not probed. */
static void judge_uses(struct facts *f)
{
	for (size_t i = 0; i < f->nok; i++) {
		bool matched = false;
		for (size_t k = 0; k < f->neps; k++) {
			const struct ep_fact *e = &f->eps[k];
			if (strcmp(e->ip, f->ok_ips[i]) != 0)
				continue;
			matched = true;
			f->uses++;
			f->all_starttls &= e->starttls_offered;
			f->any_starttls |= e->starttls_offered;
			f->all_starttls_ok &= e->starttls_ok;
			f->all_cert_valid &= e->cert_valid;
		}
		if (!matched) {
			f->uses++;
			f->all_starttls = f->all_starttls_ok = false;
			f->all_cert_valid = false;
		}
	}
}

static void judge_dane(struct facts *f, const char *dane)
{
	f->kept_any = true;
	f->all_dane_ok &= str_is(dane, "dane_ok");
	if (!dane)
		return;
	f->dane |= DANE_ANY;
	if (strcmp(dane, "dane_tlsa_bogus") == 0)
		f->dane |= DANE_BOGUS;
	else if (strcmp(dane, "dane_no_match") == 0)
		f->dane |= DANE_NO_MATCH;
	else if (strcmp(dane, "dane_no_starttls") == 0)
		f->dane |= DANE_NO_STARTTLS;
	else if (strcmp(dane, "dane_unusable_only") == 0)
		f->dane |= DANE_UNUSABLE;
	else if (strcmp(dane, "dane_not_applicable") == 0)
		f->dane |= DANE_NOT_APPLICABLE;
	f->dane |=
	    strcmp(dane, "dane_ok") == 0 ? DANE_OK_SOME : DANE_NOT_OK_SOME;
}

static void add_mx_match(struct export *x, const char *host, bool match)
{
	struct facts *f = &x->f;
	struct jbuf key;
	jbuf_init(&key, 1u << 16);
	jbuf_json_string(&key, host, strlen(host));
	PUT_LIT(&key, ": ");
	/* a host named twice: the same verdict, once */
	if (!key.failed &&
	    (f->mx_match.len == 0 || !strstr(f->mx_match.data, key.data))) {
		if (f->mx_match.len)
			PUT_LIT(&f->mx_match, ", ");
		jbuf_append(&f->mx_match, key.data, key.len);
		jbuf_puts(&f->mx_match, match ? "true" : "false");
	}
	jbuf_free(&key);
}

/* The domain's MX hosts, their addresses and endpoints ("mx": [...]). */
static void put_mx(struct export *x, int64_t t)
{
	struct stream *m = &x->s[S_MX], *a = &x->s[S_ADDR], *e = &x->s[S_EP];
	struct jbuf *b = &x->doc;
	struct facts *f = &x->f;
	int n = 0;

	stream_skip(m, t);
	stream_skip(a, t);
	stream_skip(e, t);
	if (!x->csv)
		PUT_LIT(b, ", \"mx\": [");
	for (; m->target == t; stream_next(m)) {
		int ord = sint(m, C.m_ordinal);
		unsigned host_fail = 0;

		jbuf_reset(&x->a4);
		jbuf_reset(&x->a6);
		jbuf_reset(&x->aall);
		jbuf_reset(&x->eps);
		f->nok = f->neps = 0;
		while (a->target == t && sint(a, C.a_ordinal) < ord)
			stream_next(a);
		for (; a->target == t && sint(a, C.a_ordinal) == ord;
		     stream_next(a))
			take_address(x);
		while (e->target == t && sint(e, C.e_ordinal) < ord)
			stream_next(e);
		for (; e->target == t && sint(e, C.e_ordinal) == ord;
		     stream_next(e))
			take_endpoint(x, &host_fail);

		if (sbool(m, C.m_kept)) {
			judge_dane(f, sv(m, C.m_dane));
			if (!sbool(m, C.m_lit))
				judge_uses(f);
		}
		const char *match = sv(m, C.m_sts_match);
		if (match) {
			add_mx_match(x, sv(m, C.m_host), match[0] == 't');
			/* A host outside the policy is never contacted by an
			 * MTA-STS sender (RFC 8461 §5): validation-failure
			 * alone, whatever its endpoints would have shown. */
			if (match[0] != 't')
				host_fail = 1u << STS_VALIDATION_FAILURE;
			else if (f->neps == 0)
				host_fail |= 1u << STS_VALIDATION_FAILURE;
			f->sts_failures |= host_fail;
		}
		if (x->csv)
			continue;

		bool first = true, in;
		if (n++)
			PUT_LIT(b, ", ");
		PUT_LIT(b, "{");
		put_group(b, m, &x->mx[MG_HEAD], &first);
		put_key(b, "a", &first);
		PUT_LIT(b, "{\"dnssec\": ");
		put_value(b, K_STR, sv(m, C.m_a_dnssec));
		PUT_LIT(b, ", \"addresses\": [");
		put_jbuf(b, &x->a4);
		PUT_LIT(b, "]}");
		put_key(b, "aaaa", &first);
		PUT_LIT(b, "{\"dnssec\": ");
		put_value(b, K_STR, sv(m, C.m_aaaa_dnssec));
		PUT_LIT(b, ", \"addresses\": [");
		put_jbuf(b, &x->a6);
		PUT_LIT(b, "]}");
		put_key(b, "addresses", &first);
		PUT_LIT(b, "[");
		put_jbuf(b, &x->aall);
		PUT_LIT(b, "]");
		put_key(b, "tlsa", &first);
		in = true;
		PUT_LIT(b, "{");
		put_group(b, m, &x->mx[MG_TLSA], &in);
		PUT_LIT(b, "}");
		put_group(b, m, &x->mx[MG_TAIL], &first);
		put_key(b, "endpoints", &first);
		PUT_LIT(b, "[");
		put_jbuf(b, &x->eps);
		PUT_LIT(b, "]}");
	}
	if (!x->csv)
		PUT_LIT(b, "]");
}

/* Would an enforcing sender deliver (schema/009 mta_sts_verdict)?
 * Returns "true", "false" or NULL, and the failures as JSON. */
static const char *sts_verdict(struct export *x, struct jbuf *failures)
{
	const struct stream *d = &x->s[S_DOM];
	const char *txt = sv(d, C.d_txt), *fetch = sv(d, C.d_fetch),
		   *policy = sv(d, C.d_policy), *mode = sv(d, C.d_mode);
	const char *verdict;

	jbuf_reset(failures);
	if (!str_is(txt, "valid")) {
		PUT_LIT(failures, "[]");
		return NULL;
	}
	if (str_is(fetch, "webpki_invalid"))
		PUT_LIT(failures, "[\"sts-webpki-invalid\"]");
	else if (!str_is(fetch, "ok"))
		PUT_LIT(failures, "[\"sts-policy-fetch-error\"]");
	else if (!str_is(policy, "valid"))
		PUT_LIT(failures, "[\"sts-policy-invalid\"]");
	else {
		int n = 0;
		PUT_LIT(failures, "[");
		for (size_t i = 0; i < NELEM(sts_failures); i++)
			if (x->f.sts_failures & (1u << i))
				jbuf_printf(failures, "%s\"%s\"",
					    n++ ? ", " : "", sts_failures[i]);
		PUT_LIT(failures, "]");
	}
	if (!str_is(fetch, "ok") || !str_is(policy, "valid"))
		verdict = "false";
	else if (mode && strcmp(mode, "enforce") != 0 &&
		 strcmp(mode, "testing") != 0)
		verdict = "false";
	else
		verdict = x->f.sts_failures == 0 ? "true" : "false";
	return verdict;
}

/* The protection ladder's rung (analysis/002_protection_ladder.sql);
 * NULL for a domain whose facts were not stored: it has none. */
static const char *ladder_rung(const struct export *x, const char *enforce)
{
	const struct stream *d = &x->s[S_DOM];
	const struct facts *f = &x->f;
	const char *mode = sv(d, C.d_mode);

	if (str_is(sv(d, C.d_mx_outcome), "not_recorded"))
		return NULL;
	if (f->uses == 0)
		return "no-mail";
	if (f->kept_any && f->all_dane_ok)
		return "dane";
	if (str_is(enforce, "true") && str_is(mode, "enforce"))
		return "mta-sts-enforce";
	if (str_is(sv(d, C.d_txt), "valid") && str_is(sv(d, C.d_fetch), "ok") &&
	    str_is(sv(d, C.d_policy), "valid") && str_is(mode, "testing"))
		return "mta-sts-testing";
	if (!f->all_starttls_ok)
		return "plaintext";
	return f->all_cert_valid ? "opportunistic-trusted"
				 : "opportunistic-untrusted";
}

/* The domain's DANE outcome (analysis/052_dane_outcome.sql); NULL when
 * not judged. */
static const char *dane_outcome(const struct export *x)
{
	const char *o = sv(&x->s[S_DOM], C.d_mx_outcome);
	unsigned v = x->f.dane;
	if (!(v & DANE_ANY) || !(str_is(o, "mx") || str_is(o, "implicit_mx")))
		return NULL;
	if (v & DANE_BOGUS)
		return "dane_tlsa_bogus";
	if (v & DANE_NO_MATCH)
		return "dane_no_match";
	if (v & DANE_NO_STARTTLS)
		return "dane_no_starttls";
	if (!(v & DANE_NOT_OK_SOME))
		return "dane_ok";
	if (v & DANE_OK_SOME)
		return "dane_partial";
	if (v & DANE_UNUSABLE)
		return "dane_unusable_only";
	if (v & DANE_NOT_APPLICABLE)
		return "dane_not_applicable";
	return "dane_none";
}

/* The CSV's columns; README (the lead's) documents them. */
static const char csv_header[] =
    "domain,campaign_id,campaign_name,target_id,rank,mx_outcome,mx_dnssec,"
    "starttls,cert_valid_every_mx,dane,mta_sts_mode,"
    "mta_sts_enforce_would_work,tlsrpt,ladder\r\n";

/* An RFC 4180 field: quoted when it holds a comma, quote, CR or LF; NULL
 * is the empty field. */
static void csv_field(struct jbuf *b, const char *v, bool last)
{
	if (v) {
		if (strpbrk(v, ",\"\r\n")) {
			PUT_LIT(b, "\"");
			for (const char *p = v; *p; p++) {
				if (*p == '"')
					PUT_LIT(b, "\"");
				jbuf_append(b, p, 1);
			}
			PUT_LIT(b, "\"");
		} else {
			jbuf_puts(b, v);
		}
	}
	jbuf_puts(b, last ? "\r\n" : ",");
}

static void put_csv_row(struct export *x, int64_t t)
{
	const struct stream *d = &x->s[S_DOM];
	const struct facts *f = &x->f;
	struct jbuf *b = &x->doc;
	struct jbuf failures;
	char tid[24];

	jbuf_init(&failures, 1u << 12);
	const char *enforce = sts_verdict(x, &failures);
	jbuf_free(&failures);
	snprintf(tid, sizeof tid, "%" PRId64, t);
	const char *starttls = f->uses == 0	 ? NULL
			       : f->all_starttls ? "every"
			       : f->any_starttls ? "some"
						 : "none";
	const char *cert = f->uses == 0	       ? NULL
			   : f->all_cert_valid ? "true"
					       : "false";
	csv_field(b, sv(d, C.d_domain), false);
	csv_field(b, x->cid, false);
	csv_field(b, x->name, false);
	csv_field(b, tid, false);
	csv_field(b, sv(d, C.d_rank), false);
	csv_field(b, sv(d, C.d_mx_outcome), false);
	csv_field(b, sv(d, C.d_mx_dnssec), false);
	csv_field(b, starttls, false);
	csv_field(b, cert, false);
	csv_field(b, dane_outcome(x), false);
	csv_field(b, sv(d, C.d_mode), false);
	csv_field(b, enforce, false);
	csv_field(b, sv(d, C.d_rpt_status), false);
	csv_field(b, ladder_rung(x, enforce), true);
}

/* Decompresses one record into out, as record_decompress does, with the
 * export's context and digested dictionary (NULL: none). 0 or -1. */
static int put_record(struct export *x, const uint8_t *src, size_t len,
		      const ZSTD_DDict *dd, struct jbuf *out)
{
	unsigned long long size = ZSTD_getFrameContentSize(src, len);
	if (size == ZSTD_CONTENTSIZE_ERROR ||
	    size == ZSTD_CONTENTSIZE_UNKNOWN || size > EXPORT_RECORD_MAX)
		return -1;
	char *dst = jbuf_room(out, (size_t)size);
	if (!dst)
		return -1;
	size_t n =
	    dd ? ZSTD_decompress_usingDDict(x->dctx, dst, (size_t)size, src,
					    len, dd)
	       : ZSTD_decompressDCtx(x->dctx, dst, (size_t)size, src, len);
	if (ZSTD_isError(n) || n != size)
		return -1;
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

/* The handshake records of target t, decompressed (schema/007). */
static void put_records(struct export *x, int64_t t)
{
	struct stream *s = &x->s[S_HR];
	struct jbuf *b = &x->doc;
	int n = 0;

	stream_skip(s, t);
	PUT_LIT(b, ", \"handshake_records\": [");
	for (; s->target == t; stream_next(s)) {
		const ZSTD_DDict *dd = NULL;
		bool bad = false;
		if (!PQgetisnull(s->res, s->row, 1)) {
			int64_t id = be64(PQgetvalue(s->res, s->row, 1));
			for (int i = 0; i < PQntuples(x->dicts); i++)
				if (be64(PQgetvalue(x->dicts, i, 0)) == id)
					dd = x->ddicts[i];
			bad = !dd;
		}
		if (n++)
			PUT_LIT(b, ", ");
		if (bad ||
		    put_record(
			x, (const uint8_t *)PQgetvalue(s->res, s->row, 2),
			(size_t)PQgetlength(s->res, s->row, 2), dd, b) != 0) {
			PUT_LIT(b, "null");
			if (!x->record_failed)
				log_error("export: a handshake record of "
					  "target %" PRId64
					  " could not be decompressed "
					  "(written as null)",
					  t);
			x->record_failed = true;
		}
	}
	PUT_LIT(b, "]");
}

/* The pairs of one of the domain's own answers: from the query stream's
 * current row, or with q NULL (no such answer) their defaults. */
static void put_qpairs(struct jbuf *b, const struct stream *q,
		       const struct qpair *pairs, const int *cols, size_t n)
{
	bool first = true;
	jbuf_reset(b);
	for (size_t i = 0; i < n; i++) {
		const char *v = q ? sv(q, cols[i]) : NULL;
		put_key(b, pairs[i].key, &first);
		if (v)
			put_value(b, C.q_kind[cols[i]], v);
		else if (strcmp(pairs[i].key, "txt_records") == 0)
			PUT_LIT(b, "[]");
		else
			PUT_LIT(b, "null");
	}
}

/* Does qname equal prefix followed by domain? */
static bool is_name(const char *qname, const char *prefix, size_t plen,
		    const char *domain, size_t dlen)
{
	return strncmp(qname, prefix, plen) == 0 &&
	       strlen(qname + plen) == dlen &&
	       memcmp(qname + plen, domain, dlen) == 0;
}

/* A query row of the target: its JSON in x->qs, its qtype and qname in
 * x->qkeys (offsets). */
struct qrow {
	size_t off, len, type, name;
};

static const char *qrow_keys; /* x->qkeys.data while sorting */

/* ORDER BY qtype, qname where the server compares text as strcmp. */
static int qrow_cmp(const void *a, const void *b)
{
	const struct qrow *p = a, *q = b;
	int c = strcmp(qrow_keys + p->type, qrow_keys + q->type);
	return c ? c : strcmp(qrow_keys + p->name, qrow_keys + q->name);
}

/* Writes x->qs's rows in query order into x->qsorted. */
static void sort_queries(struct export *x)
{
	jbuf_reset(&x->qsorted);
	x->qout = &x->qsorted;
	if (x->qs.failed || x->qkeys.failed || x->nq == 0) {
		x->qsorted.failed = x->qs.failed | x->qkeys.failed;
		return;
	}
	qrow_keys = x->qkeys.data;
	qsort(x->qrows, x->nq, sizeof *x->qrows, qrow_cmp);
	for (size_t i = 0; i < x->nq; i++) {
		if (i)
			PUT_LIT(&x->qsorted, ", ");
		put(&x->qsorted, x->qs.data + x->qrows[i].off, x->qrows[i].len);
	}
}

/* Target t's rows of the query stream: its "queries" elements into x->qs,
 * and the pairs of the domain's own MX, _mta-sts and _smtp._tls answers
 * into x->qmx, x->qsts and x->qrpt (as the view's joins q_mx, q_sts,
 * q_rpt: qname and qtype equal). */
static void take_queries(struct export *x, int64_t t)
{
	struct stream *q = &x->s[S_Q];
	const char *domain = sv(&x->s[S_DOM], C.d_domain);
	size_t dlen = domain ? strlen(domain) : 0;
	bool mx = false, sts = false, rpt = false;

	jbuf_reset(&x->qs);
	jbuf_reset(&x->qkeys);
	x->nq = 0;
	x->qout = &x->qs;
	x->large = 0;
	stream_skip(q, t);
	for (int n = 0; q->target == t; stream_next(q)) {
		bool in = true;
		const char *qname = sv(q, C.q_qname), *qtype = sv(q, C.q_qtype);
		if (n++ && !x->q_sort)
			PUT_LIT(&x->qs, ", ");
		size_t off = x->qs.len;
		PUT_LIT(&x->qs, "{");
		put_group(&x->qs, q, &x->q[QG_COLS], &in);
		PUT_LIT(&x->qs, "}");
		if (x->q_sort) {
			struct qrow *r = grow(x->qrows, &x->cap_q, x->nq + 1,
					      sizeof *x->qrows);
			if (!r || !qname || !qtype) {
				x->qs.failed = 1;
				continue;
			}
			x->qrows = r;
			r = &x->qrows[x->nq++];
			r->off = off;
			r->len = x->qs.len - off;
			r->type = x->qkeys.len;
			jbuf_append(&x->qkeys, qtype, strlen(qtype) + 1);
			r->name = x->qkeys.len;
			jbuf_append(&x->qkeys, qname, strlen(qname) + 1);
		}
		if (!domain || !qname || !qtype)
			continue;
		if (strcmp(qtype, "MX") == 0 &&
		    is_name(qname, "", 0, domain, dlen)) {
			const char *large = sv(q, C.q_large);
			x->large = large ? large[0] : 0;
			put_qpairs(&x->qmx, q, q_mx_pairs, C.q_mx,
				   NELEM(C.q_mx));
			mx = true;
		} else if (strcmp(qtype, "TXT") != 0) {
			continue;
		} else if (is_name(qname, "_mta-sts.", 9, domain, dlen)) {
			put_qpairs(&x->qsts, q, q_sts_pairs, C.q_sts,
				   NELEM(C.q_sts));
			sts = true;
		} else if (is_name(qname, "_smtp._tls.", 11, domain, dlen)) {
			put_qpairs(&x->qrpt, q, q_rpt_pairs, C.q_rpt,
				   NELEM(C.q_rpt));
			rpt = true;
		}
	}
	if (x->q_sort)
		sort_queries(x);
	if (!mx)
		put_qpairs(&x->qmx, NULL, q_mx_pairs, C.q_mx, NELEM(C.q_mx));
	if (!sts)
		put_qpairs(&x->qsts, NULL, q_sts_pairs, C.q_sts,
			   NELEM(C.q_sts));
	if (!rpt)
		put_qpairs(&x->qrpt, NULL, q_rpt_pairs, C.q_rpt,
			   NELEM(C.q_rpt));
}

/* --- the mail client ports (schema/028-030): "client" ------------------ */

/* The view builds "client" with export_client() (schema/030), once per
 * domain: six services per domain, most of them unpublished, cost the
 * jsonl export seven tenths of its rate. Here it is built from three
 * streams in target order (client_srv, client_srv_target, and
 * domain_client_endpoint joined to client_endpoint as export_client()
 * joins them), merged per domain, and written as PostgreSQL writes the
 * function's jsonb: each object's keys ordered by length, then bytes
 * (hence the orders below, not the function's), ", " and ": " between,
 * strings escaped as escape_json does. test_export holds it equal to the
 * view. */

/* A piece of the domain's "client" in x->cl: a service's "srv" object
 * around its records, an SRV record, a target around its endpoints, an
 * endpoint. */
enum { CP_SERVICE, CP_RECORD, CP_TARGET, CP_ENDPOINT, CP_MXHOST, CP_MXEP };
struct cpiece {
	int kind;
	int svc; /* index of its service's CP_SERVICE piece */
	int ordinal;
	size_t name, name_len; /* CP_SERVICE: the service, in x->cl */
	size_t pre, pre_len;   /* the JSON before the list it holds */
	size_t post, post_len; /* and after it */
};

/* A string as PostgreSQL's escape_json writes it (jsonb's text). */
static void put_jstr(struct jbuf *b, const char *v)
{
	if (!v) {
		PUT_LIT(b, "null");
		return;
	}
	const unsigned char *p = (const unsigned char *)v;
	PUT_LIT(b, "\"");
	for (;;) {
		size_t run = 0;
		while (p[run] >= 0x20 && p[run] != '"' && p[run] != '\\')
			run++;
		put(b, (const char *)p, run);
		p += run;
		if (!*p)
			break;
		switch (*p) {
		case '\b':
			PUT_LIT(b, "\\b");
			break;
		case '\f':
			PUT_LIT(b, "\\f");
			break;
		case '\n':
			PUT_LIT(b, "\\n");
			break;
		case '\r':
			PUT_LIT(b, "\\r");
			break;
		case '\t':
			PUT_LIT(b, "\\t");
			break;
		case '"':
			PUT_LIT(b, "\\\"");
			break;
		case '\\':
			PUT_LIT(b, "\\\\");
			break;
		default:
			jbuf_printf(b, "\\u%04x", *p);
			break;
		}
		p++;
	}
	PUT_LIT(b, "\"");
}

/* A column of the current row: a string, a number, a boolean, JSON. */
static void cput_str(struct jbuf *b, const struct stream *s, int col)
{
	put_jstr(b, sv(s, col));
}

static void cput(struct jbuf *b, const struct stream *s, int col, enum kind k)
{
	put_value(b, k, sv(s, col));
}

static struct cpiece *cpiece_new(struct export *x, int kind, int svc,
				 int ordinal)
{
	struct cpiece *p =
	    grow(x->cps, &x->cap_cps, x->ncps + 1, sizeof *x->cps);
	if (!p) {
		x->doc.failed = 1;
		return NULL;
	}
	x->cps = p;
	p = &x->cps[x->ncps++];
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->svc = svc;
	p->ordinal = ordinal;
	return p;
}

/* The CP_SERVICE piece of the row's service, or -1 (a row without its
 * client_srv row: the function, driven by client_srv, has none either). */
static int cpiece_service(const struct export *x, const struct stream *s,
			  int col)
{
	const char *v = sv(s, col);
	size_t n = v ? strlen(v) : 0;
	for (size_t i = 0; v && i < x->ncps; i++) {
		const struct cpiece *p = &x->cps[i];
		if (p->kind == CP_SERVICE && p->name_len == n &&
		    memcmp(x->cl.data + p->name, v, n) == 0)
			return (int)i;
	}
	return -1;
}

static void take_client_srv(struct export *x)
{
	const struct stream *s = &x->s[S_CS];
	struct jbuf *b = &x->cl;
	struct cpiece *p = cpiece_new(x, CP_SERVICE, -1, 0);
	const char *svc = sv(s, CS_SERVICE);
	if (!p || !svc)
		return;
	p->name = b->len;
	p->name_len = strlen(svc);
	put(b, svc, p->name_len + 1); /* with its NUL, for put_jstr */
	p->pre = b->len;
	PUT_LIT(b, "{\"ede\": ");
	cput(b, s, CS_EDE, K_JSON);
	PUT_LIT(b, ", \"srv\": ");
	cput_str(b, s, CS_SRV);
	PUT_LIT(b, ", \"name\": ");
	cput_str(b, s, CS_QNAME);
	PUT_LIT(b, ", \"rcode\": ");
	cput_str(b, s, CS_RCODE);
	PUT_LIT(b, ", \"dnssec\": ");
	cput_str(b, s, CS_DNSSEC);
	PUT_LIT(b, ", \"offered\": ");
	cput(b, s, CS_OFFERED, K_BOOL);
	PUT_LIT(b, ", \"outcome\": ");
	cput_str(b, s, CS_OUTCOME);
	PUT_LIT(b, ", \"records\": ");
	p->pre_len = b->len - p->pre;
	p->post = b->len;
	PUT_LIT(b, ", \"record_count\": ");
	cput(b, s, CS_RECORD_COUNT, K_NUM);
	PUT_LIT(b, ", \"dnssec_reason\": ");
	cput_str(b, s, CS_DNSSEC_REASON);
	PUT_LIT(b, ", \"records_truncated\": ");
	cput(b, s, CS_RECORDS_TRUNCATED, K_BOOL);
	PUT_LIT(b, "}");
	p->post_len = b->len - p->post;
}

/* Where a (host, port) object's columns are in its stream: an SRV
 * target's (ct_sql) or an MX host's (cmx_sql). The two objects share these
 * keys, so one writer serves both (put_chost_tlsa, put_chost_outcome). */
struct chost_cols {
	int dane, host, port;
	int tlsa_name, tlsa_dnssec, tlsa_records, tlsa_looked_up;
	int address_outcome, dane_result_type;
};

static const struct chost_cols ct_cols = {
	.dane = CT_DANE,
	.host = CT_TARGET,
	.port = CT_PORT,
	.tlsa_name = CT_TLSA_NAME,
	.tlsa_dnssec = CT_TLSA_DNSSEC,
	.tlsa_records = CT_TLSA_RECORDS,
	.tlsa_looked_up = CT_TLSA_LOOKED_UP,
	.address_outcome = CT_ADDRESS_OUTCOME,
	.dane_result_type = CT_DANE_RESULT_TYPE,
};

/* "dane" to "tlsa" of a (host, port) object: its keys after "a" and
 * "aaaa" in jsonb's order, and before "cname" or "ordinal". */
static void put_chost_tlsa(struct jbuf *b, const struct stream *s,
			   const struct chost_cols *c)
{
	PUT_LIT(b, "\"dane\": ");
	cput_str(b, s, c->dane);
	PUT_LIT(b, ", \"host\": ");
	cput_str(b, s, c->host);
	PUT_LIT(b, ", \"port\": ");
	cput(b, s, c->port, K_NUM);
	PUT_LIT(b, ", \"tlsa\": {\"name\": ");
	cput_str(b, s, c->tlsa_name);
	PUT_LIT(b, ", \"dnssec\": ");
	cput_str(b, s, c->tlsa_dnssec);
	PUT_LIT(b, ", \"records\": ");
	cput(b, s, c->tlsa_records, K_JSON);
	PUT_LIT(b, ", \"looked_up\": ");
	cput(b, s, c->tlsa_looked_up, K_BOOL);
	PUT_LIT(b, "}");
}

/* The keys of a (host, port) object after its "endpoints". */
static void put_chost_outcome(struct jbuf *b, const struct stream *s,
			      const struct chost_cols *c)
{
	PUT_LIT(b, ", \"address_outcome\": ");
	cput_str(b, s, c->address_outcome);
	PUT_LIT(b, ", \"dane_result_type\": ");
	cput_str(b, s, c->dane_result_type);
}

static void take_client_target(struct export *x)
{
	const struct stream *s = &x->s[S_CT];
	struct jbuf *b = &x->cl;
	int svc = cpiece_service(x, s, CT_SERVICE);
	int ord = sint(s, CT_ORDINAL);
	struct cpiece *p;
	if (svc < 0 || !(p = cpiece_new(x, CP_RECORD, svc, ord)))
		return;
	p->pre = b->len;
	PUT_LIT(b, "{\"port\": ");
	cput(b, s, CT_PORT, K_NUM);
	PUT_LIT(b, ", \"target\": ");
	cput_str(b, s, CT_TARGET);
	PUT_LIT(b, ", \"weight\": ");
	cput(b, s, CT_WEIGHT, K_NUM);
	PUT_LIT(b, ", \"priority\": ");
	cput(b, s, CT_PRIORITY, K_NUM);
	PUT_LIT(b, "}");
	p->pre_len = b->len - p->pre;
	if (str_is(sv(s, CT_TARGET), "."))
		return;
	if (!(p = cpiece_new(x, CP_TARGET, svc, ord)))
		return;
	p->pre = b->len;
	PUT_LIT(b, "{\"a\": {\"dnssec\": ");
	cput_str(b, s, CT_A_DNSSEC);
	PUT_LIT(b, ", \"addresses\": ");
	cput(b, s, CT_A4, K_JSON);
	PUT_LIT(b, "}, \"aaaa\": {\"dnssec\": ");
	cput_str(b, s, CT_AAAA_DNSSEC);
	PUT_LIT(b, ", \"addresses\": ");
	cput(b, s, CT_A6, K_JSON);
	PUT_LIT(b, "}, ");
	put_chost_tlsa(b, s, &ct_cols);
	PUT_LIT(b, ", \"cname\": ");
	cput(b, s, CT_CNAME, K_JSON);
	PUT_LIT(b, ", \"addresses\": ");
	cput(b, s, CT_ADDRS, K_JSON);
	PUT_LIT(b, ", \"endpoints\": ");
	p->pre_len = b->len - p->pre;
	p->post = b->len;
	put_chost_outcome(b, s, &ct_cols);
	PUT_LIT(b, ", \"addresses_partial\": ");
	cput(b, s, CT_ADDRESSES_PARTIAL, K_BOOL);
	PUT_LIT(b, "}");
	p->post_len = b->len - p->post;
}

/* An endpoint object of the current row of s, whose endpoint columns are
 * ce_sql's moved by off (CE_IP + off is the address); conn: the column of
 * the probe's "conn", or -1 for none (client's endpoints). */
static void put_client_ep(struct jbuf *b, const struct stream *s, int off,
			  int conn)
{
	PUT_LIT(b, "{\"ip\": ");
	cput_str(b, s, CE_IP + off);
	PUT_LIT(b, ", \"cert\": ");
	if (str_is(sv(s, CE_CHAIN_LEN + off), "0")) {
		PUT_LIT(b, "null");
	} else {
		PUT_LIT(b, "{\"weak\": ");
		cput(b, s, CE_WEAK + off, K_JSON);
		PUT_LIT(b, ", \"errors\": ");
		cput(b, s, CE_ERRORS + off, K_JSON);
		PUT_LIT(b, ", \"cn_only\": ");
		cput(b, s, CE_CN_ONLY + off, K_BOOL);
		PUT_LIT(b, ", \"trusted\": ");
		cput(b, s, CE_TRUSTED + off, K_BOOL);
		PUT_LIT(b, ", \"chain_len\": ");
		cput(b, s, CE_CHAIN_LEN + off, K_NUM);
		PUT_LIT(b, ", \"name_matches_host\": ");
		cput(b, s, CE_NAME_MATCHES_HOST + off, K_BOOL);
		PUT_LIT(b, ", \"name_matches_domain\": ");
		cput(b, s, CE_NAME_MATCHES_DOMAIN + off, K_BOOL);
		PUT_LIT(b, ", \"missing_intermediate\": ");
		cput(b, s, CE_MISSING_INTERMEDIATE + off, K_BOOL);
		PUT_LIT(b, "}");
	}
	PUT_LIT(b, ", \"dane\": ");
	cput_str(b, s, CE_DANE + off);
	PUT_LIT(b, ", \"port\": ");
	cput(b, s, CE_PORT + off, K_NUM);
	PUT_LIT(b, ", \"probe\": {\"tls\": ");
	if (!sv(s, CE_TLS_VERSION + off)) {
		PUT_LIT(b, "null");
	} else {
		PUT_LIT(b, "{\"cipher\": ");
		cput_str(b, s, CE_TLS_CIPHER + off);
		PUT_LIT(b, ", \"version\": ");
		cput_str(b, s, CE_TLS_VERSION + off);
		PUT_LIT(b, "}");
	}
	if (conn >= 0) {
		PUT_LIT(b, ", \"conn\": ");
		cput_str(b, s, conn);
	}
	PUT_LIT(b, ", \"outcome\": ");
	cput_str(b, s, CE_OUTCOME + off);
	PUT_LIT(b, ", \"greeting\": ");
	cput_str(b, s, CE_GREETING + off);
	PUT_LIT(b, ", \"injection\": ");
	cput(b, s, CE_INJECTION + off, K_BOOL);
	PUT_LIT(b, ", \"stripping\": ");
	cput_str(b, s, CE_STRIPPING + off);
	PUT_LIT(b, ", \"starttls_offered\": ");
	cput(b, s, CE_STARTTLS_OFFERED + off, K_BOOL);
	PUT_LIT(b, "}}");
}

static void take_client_endpoint(struct export *x)
{
	const struct stream *s = &x->s[S_CE];
	struct jbuf *b = &x->cl;
	int svc = cpiece_service(x, s, CE_SERVICE);
	struct cpiece *p;
	if (svc < 0 ||
	    !(p = cpiece_new(x, CP_ENDPOINT, svc, sint(s, CE_ORDINAL))))
		return;
	p->pre = b->len;
	put_client_ep(b, s, 0, -1);
	p->pre_len = b->len - p->pre;
}

static const char *cl_sort_base; /* x->cl.data while sorting */

/* jsonb's order of keys: shorter first, then bytewise. */
static int cl_service_cmp(const void *a, const void *b)
{
	const struct cpiece *p = a, *q = b;
	if (p->name_len != q->name_len)
		return p->name_len < q->name_len ? -1 : 1;
	return memcmp(cl_sort_base + p->name, cl_sort_base + q->name,
		      p->name_len);
}

/* Whether piece p is of kind `kind`, of service svc and of ordinal
 * `ordinal` (-1: any service, any ordinal). */
static bool cpiece_is(const struct cpiece *p, int kind, int svc, int ordinal)
{
	return p->kind == kind && (svc < 0 || p->svc == svc) &&
	       (ordinal < 0 || p->ordinal == ordinal);
}

static size_t cpieces_count(const struct export *x, int kind, int svc)
{
	size_t n = 0;
	for (size_t i = 0; i < x->ncps; i++)
		n += cpiece_is(&x->cps[i], kind, svc, -1);
	return n;
}

/* The pieces of kind `kind` of service svc and ordinal `ordinal` (-1:
 * any), in stream order, as a JSON list. */
static void put_cpieces(struct export *x, int kind, int svc, int ordinal)
{
	struct jbuf *b = &x->doc;
	int n = 0;
	PUT_LIT(b, "[");
	for (size_t i = 0; i < x->ncps; i++) {
		const struct cpiece *p = &x->cps[i];
		if (!cpiece_is(p, kind, svc, ordinal))
			continue;
		if (n++)
			PUT_LIT(b, ", ");
		put(b, x->cl.data + p->pre, p->pre_len);
	}
	PUT_LIT(b, "]");
}

/* The (host, port) pieces of kind `host` of service svc, in stream order,
 * each around its list of pieces of kind `ep` of its ordinal; ", "
 * between, no brackets: an SRV service's targets or an MX service's
 * hosts. */
static void put_chosts(struct export *x, int host, int ep, int svc)
{
	struct jbuf *b = &x->doc;
	int n = 0;
	for (size_t i = 0; i < x->ncps; i++) {
		const struct cpiece *p = &x->cps[i];
		if (!cpiece_is(p, host, svc, -1))
			continue;
		if (n++)
			PUT_LIT(b, ", ");
		put(b, x->cl.data + p->pre, p->pre_len);
		put_cpieces(x, ep, svc, p->ordinal);
		put(b, x->cl.data + p->post, p->post_len);
	}
}

/* Starts the domain's pieces of "client" or "client_mx" afresh. */
static void cl_reset(struct export *x)
{
	jbuf_reset(&x->cl);
	x->ncps = 0;
}

/* Writes key (the ", " before it included), then null when there is no
 * piece of kind `kind` or a buffer failed; returns whether the value is
 * still to write. */
static bool put_cl_key(struct export *x, const char *key, int kind)
{
	struct jbuf *b = &x->doc;
	jbuf_puts(b, key);
	if (x->cl.failed)
		b->failed = 1;
	if (cpieces_count(x, kind, -1) == 0 || b->failed) {
		PUT_LIT(b, "null");
		return false;
	}
	return true;
}

/* Target t's "client" (export_client(campaign, t)): null without a
 * client_srv row. */
static void put_client(struct export *x, int64_t t)
{
	struct stream *cs = &x->s[S_CS], *ct = &x->s[S_CT], *ce = &x->s[S_CE];
	struct jbuf *b = &x->doc;

	cl_reset(x);
	stream_skip(cs, t);
	stream_skip(ct, t);
	stream_skip(ce, t);
	for (; cs->target == t; stream_next(cs))
		take_client_srv(x);
	for (; ct->target == t; stream_next(ct))
		take_client_target(x);
	for (; ce->target == t; stream_next(ce))
		take_client_endpoint(x);
	if (!put_cl_key(x, ", \"client\": ", CP_SERVICE))
		return;
	size_t nsvc = cpieces_count(x, CP_SERVICE, -1);
	/* The service pieces come first (take_client_srv before the
	 * others); the other pieces name them by index, so sort an index. */
	int order[64];
	if (nsvc > NELEM(order)) {
		b->failed = 1;
		return;
	}
	for (size_t i = 0; i < nsvc; i++)
		order[i] = (int)i;
	cl_sort_base = x->cl.data;
	for (size_t i = 1; i < nsvc; i++) /* insertion sort: six at most */
		for (size_t k = i;
		     k > 0 && cl_service_cmp(&x->cps[order[k - 1]],
					     &x->cps[order[k]]) > 0;
		     k--) {
			int tmp = order[k];
			order[k] = order[k - 1];
			order[k - 1] = tmp;
		}
	PUT_LIT(b, "{");
	for (size_t k = 0; k < nsvc; k++) {
		const struct cpiece *s = &x->cps[order[k]];
		int svc = order[k];
		if (k)
			PUT_LIT(b, ", ");
		put_jstr(b, x->cl.data + s->name);
		PUT_LIT(b, ": {\"srv\": ");
		put(b, x->cl.data + s->pre, s->pre_len);
		put_cpieces(x, CP_RECORD, svc, -1);
		put(b, x->cl.data + s->post, s->post_len);
		PUT_LIT(b, ", \"targets\": [");
		put_chosts(x, CP_TARGET, CP_ENDPOINT, svc);
		PUT_LIT(b, "]}");
	}
	PUT_LIT(b, "}");
}

/* --- the client ports of the MX hosts (schema/033-034): "client_mx" --- */

/* The services as keys of jsonb's order (shorter first, then bytewise):
 * export_client_mx()'s object. */
static const char *const cmx_services[] = {
	"imap", "pop3", "imaps", "pop3s", "submission", "submissions",
};

static int cmx_service(const char *v)
{
	for (size_t i = 0; v && i < NELEM(cmx_services); i++)
		if (!strcmp(v, cmx_services[i]))
			return (int)i;
	return -1;
}

static const struct chost_cols cmx_cols = {
	.dane = CMX_DANE,
	.host = CMX_HOST,
	.port = CMX_PORT,
	.tlsa_name = CMX_TLSA_NAME,
	.tlsa_dnssec = CMX_TLSA_DNSSEC,
	.tlsa_records = CMX_TLSA_RECORDS,
	.tlsa_looked_up = CMX_TLSA_LOOKED_UP,
	.address_outcome = CMX_ADDRESS_OUTCOME,
	.dane_result_type = CMX_DANE_RESULT_TYPE,
};

/* A row of the client_mx stream: its host's object (once per service and
 * ordinal: the first of its rows) and its endpoint, if any. */
static void take_client_mx(struct export *x)
{
	const struct stream *s = &x->s[S_CMX];
	struct jbuf *b = &x->cl;
	int svc = cmx_service(sv(s, CMX_SERVICE));
	int ord = sint(s, CMX_ORDINAL);
	struct cpiece *p = NULL;

	if (svc < 0)
		return;
	for (size_t i = 0; i < x->ncps && !p; i++)
		if (cpiece_is(&x->cps[i], CP_MXHOST, svc, ord))
			p = &x->cps[i];
	if (!p) {
		if (!(p = cpiece_new(x, CP_MXHOST, svc, ord)))
			return;
		p->pre = b->len;
		PUT_LIT(b, "{");
		put_chost_tlsa(b, s, &cmx_cols);
		PUT_LIT(b, ", \"ordinal\": ");
		cput(b, s, CMX_ORDINAL, K_NUM);
		PUT_LIT(b, ", \"endpoints\": ");
		p->pre_len = b->len - p->pre;
		p->post = b->len;
		put_chost_outcome(b, s, &cmx_cols);
		PUT_LIT(b, "}");
		p->post_len = b->len - p->post;
	}
	if (!sv(s, CMX_IP))
		return;
	if (!(p = cpiece_new(x, CP_MXEP, svc, ord)))
		return;
	p->pre = b->len;
	put_client_ep(b, s, CMX_EP, CMX_CONN);
	p->pre_len = b->len - p->pre;
}

/* Target t's "client_mx" (export_client_mx(campaign, t)): null without a
 * client_mx row. */
static void put_client_mx(struct export *x, int64_t t)
{
	struct stream *s = &x->s[S_CMX];
	struct jbuf *b = &x->doc;

	cl_reset(x);
	stream_skip(s, t);
	for (; s->target == t; stream_next(s))
		take_client_mx(x);
	if (!put_cl_key(x, ", \"client_mx\": ", CP_MXHOST))
		return;
	int nsvc = 0;
	PUT_LIT(b, "{");
	for (int svc = 0; svc < (int)NELEM(cmx_services); svc++) {
		/* a service without hosts has no key */
		if (!cpieces_count(x, CP_MXHOST, svc))
			continue;
		if (nsvc++)
			PUT_LIT(b, ", ");
		put_jstr(b, cmx_services[svc]);
		PUT_LIT(b, ": [");
		/* the hosts in ordinal order: the stream's */
		put_chosts(x, CP_MXHOST, CP_MXEP, svc);
		PUT_LIT(b, "]");
	}
	PUT_LIT(b, "}");
}

/* One document (or CSV row) for the domain stream's current row. */
static int put_domain(struct export *x)
{
	struct stream *d = &x->s[S_DOM];
	struct jbuf *b = &x->doc;
	int64_t t = d->target;
	bool first = false, in;

	jbuf_reset(b);
	facts_reset(&x->f);
	if (x->csv) {
		put_mx(x, t);
		put_csv_row(x, t);
		goto write;
	}
	PUT_LIT(b, "{\"domain\": ");
	put_value(b, K_STR, sv(d, C.d_domain));
	jbuf_puts(b, x->extra);
	take_queries(x, t);
	put_group(b, d, &x->dom[DG_TOP], &first);
	PUT_LIT(b, ", \"large_answer\": ");
	put_value(b, K_BOOL, x->large ? (x->large == 't' ? "t" : "f") : NULL);
	put_group(b, d, &x->dom[DG_TOP2], &first);
	put_client(x, t);
	put_client_mx(x, t);
	PUT_LIT(b, ", \"dns\": {\"mx\": {");
	put_jbuf(b, &x->qmx);
	PUT_LIT(b, "}}");
	put_mx(x, t);
	PUT_LIT(b, ", \"mta_sts\": {");
	put_jbuf(b, &x->qsts);
	in = false;
	put_group(b, d, &x->dom[DG_STS], &in);
	PUT_LIT(b, ", \"mx_match\": {");
	put_jbuf(b, &x->f.mx_match);
	PUT_LIT(b, "}, \"enforce_would_work\": ");
	struct jbuf failures;
	jbuf_init(&failures, 1u << 12);
	const char *enforce = sts_verdict(x, &failures);
	jbuf_puts(b, enforce ? enforce : "null");
	PUT_LIT(b, ", \"failures\": ");
	put_jbuf(b, &failures);
	jbuf_free(&failures);
	PUT_LIT(b, "}, \"tlsrpt\": {");
	put_jbuf(b, &x->qrpt);
	in = false;
	put_group(b, d, &x->dom[DG_RPT], &in);
	PUT_LIT(b, "}, \"queries\": [");
	if (x->qout->failed)
		b->failed = 1;
	put_jbuf(b, x->qout);
	PUT_LIT(b, "]");
	put_records(x, t);
	PUT_LIT(b, "}\n");
write:
	if (b->failed) {
		log_error("export: the document of target %" PRId64
			  " is too large or memory ran out",
			  t);
		return EX_SOFTWARE;
	}
	x->domains++;
	return outfile_write(x->out, b->data, b->len) == 0 ? EX_OK : EX_IOERR;
}

static void export_close(struct export *x)
{
	for (int i = 0; i < S_N; i++)
		stream_close(&x->s[i]);
	struct group *all[] = { x->dom, x->mx, x->addr, x->ep, x->q };
	size_t nall[] = { NELEM(x->dom), NELEM(x->mx), NELEM(x->addr),
			  NELEM(x->ep), NELEM(x->q) };
	for (size_t i = 0; i < NELEM(all); i++)
		for (size_t k = 0; k < nall[i]; k++)
			group_free(&all[i][k]);
	if (x->ddicts)
		for (int i = 0; i < PQntuples(x->dicts); i++)
			ZSTD_freeDDict(x->ddicts[i]);
	free(x->ddicts);
	ZSTD_freeDCtx(x->dctx);
	free(x->f.eps);
	free(x->f.ok_ips);
	jbuf_free(&x->f.mx_match);
	jbuf_free(&x->doc);
	jbuf_free(&x->a4);
	jbuf_free(&x->a6);
	jbuf_free(&x->aall);
	jbuf_free(&x->eps);
	jbuf_free(&x->qs);
	jbuf_free(&x->qmx);
	jbuf_free(&x->qsts);
	jbuf_free(&x->qrpt);
	jbuf_free(&x->qkeys);
	jbuf_free(&x->qsorted);
	free(x->qrows);
	jbuf_free(&x->cl);
	free(x->cps);
}

/* Streams every domain of the campaign to x->out. */
static int export_run(struct export *x, struct db *db, const char *snapshot)
{
	int rc = EX_OK;

	jbuf_init(&x->doc, 64u << 20);
	jbuf_init(&x->a4, 16u << 20);
	jbuf_init(&x->a6, 16u << 20);
	jbuf_init(&x->aall, 16u << 20);
	jbuf_init(&x->eps, 32u << 20);
	jbuf_init(&x->qs, 32u << 20);
	jbuf_init(&x->qmx, 16u << 20);
	jbuf_init(&x->qsts, 16u << 20);
	jbuf_init(&x->qrpt, 16u << 20);
	jbuf_init(&x->qkeys, 16u << 20);
	jbuf_init(&x->qsorted, 32u << 20);
	jbuf_init(&x->cl, 32u << 20);
	jbuf_init(&x->f.mx_match, 1u << 20);
	if (export_open(x, db, snapshot) != 0) {
		export_close(x);
		return EX_UNAVAILABLE;
	}
	find_columns(x);
	if (x->csv &&
	    outfile_write(x->out, csv_header, sizeof csv_header - 1) != 0)
		rc = EX_IOERR;
	struct stream *d = &x->s[S_DOM];
	for (; rc == EX_OK && d->target != INT64_MAX; stream_next(d)) {
		int r = put_domain(x);
		if (r != EX_OK)
			rc = r;
		/* A stream that failed mid-way would leave the rest of the
		 * documents without its rows: stop. */
		for (int i = 0; i < S_N; i++)
			if (x->s[i].failed)
				rc = EX_UNAVAILABLE;
	}
	for (int i = 0; i < S_N; i++)
		if (x->s[i].failed && rc == EX_OK)
			rc = EX_UNAVAILABLE;
	if (rc == EX_OK && x->record_failed)
		rc = EX_SOFTWARE; /* the file is kept: nulls say where */
	export_close(x);
	return rc;
}

/* The campaign's provenance as one JSON document (schema/016). */
static int print_metadata(PGconn *c, const char *cid, struct outfile *out)
{
	const char *p[1] = { cid };
	PGresult *r = db_exec(c, PGRES_TUPLES_OK, "reading the provenance",
			      "SELECT jsonb_pretty(campaign_provenance("
			      "$1::bigint))",
			      1, p);
	if (!r)
		return EX_UNAVAILABLE;
	int w = outfile_write(out, PQgetvalue(r, 0, 0),
			      (size_t)PQgetlength(r, 0, 0));
	if (w == 0)
		w = outfile_write(out, "\n", 1);
	PQclear(r);
	return w == 0 ? EX_OK : EX_IOERR;
}

/* Does the server order dns_rrset's qtype and qname as strcmp does (a
 * libc C or C.UTF-8 database collation, none of the columns' own)? Then
 * the query stream reads in key order and take_queries sorts. Anything
 * else, or an error: false (the server sorts, as before). */
static bool query_sort_in_c(PGconn *c)
{
	PGresult *r = PQexec(
	    c, "SELECT d.datcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8')"
	       " AND coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c'"
	       " AND NOT EXISTS (SELECT FROM pg_attribute a"
	       " WHERE a.attrelid = 'dns_rrset'::regclass"
	       " AND a.attname IN ('qname', 'qtype')"
	       " AND a.attcollation <> 100)" /* DEFAULT_COLLATION_OID */
	       " FROM pg_database d WHERE d.datname = current_database()");
	bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		   !PQgetisnull(r, 0, 0) && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return yes;
}

/* Options of this command only. */
enum { OPT_METADATA = 3000 };

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "campaign", required_argument, NULL, CLI_OPT_CAMPAIGN },
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "output", required_argument, NULL, 'o' },
		{ "db", required_argument, NULL, CLI_OPT_DB },
		{ "metadata", no_argument, NULL, OPT_METADATA },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *spec = NULL, *format = NULL, *opt_db = NULL, *output = NULL;
	int ch, rc = EX_OK;
	bool metadata = false, csv = false;
	struct db db;
	struct jbuf extra;
	char *name = NULL;
	struct outfile *out = NULL;
	PGresult *dicts = NULL;

	while ((ch = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_CAMPAIGN:
			spec = optarg;
			break;
		case CLI_OPT_FORMAT:
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case CLI_OPT_DB:
			opt_db = optarg;
			break;
		case OPT_METADATA:
			metadata = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("export", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("export", "unexpected argument '%s'",
				       argv[optind]);
	if (metadata && format)
		return cli_usage_error("export", "--metadata writes one JSON "
						 "document; no --format");
	if (!metadata) {
		if (format && strcmp(format, "csv") == 0)
			csv = true;
		else if (!format || strcmp(format, "jsonl") != 0)
			return cli_usage_error("export",
					       "--format jsonl or csv is "
					       "required");
	}
	if (cli_campaign_spec_check("export", "--campaign", spec) != EX_OK)
		return EX_USAGE;
	PGconn *c;
	rc = cli_db_open(opt_db, true, &db, &c);
	if (rc != EX_OK)
		return rc;
	jbuf_init(&extra, 1u << 16);
	int64_t id;
	rc = campaign_lookup(c, spec, false, &id, &name);
	if (rc != EX_OK)
		goto out;
	char cid[24];
	const char *params[1] = { cid };
	snprintf(cid, sizeof cid, "%" PRId64, id);
	bool q_sort = query_sort_in_c(c);
	/* One snapshot for every stream: the export is consistent even while
	 * a crawler of the campaign commits. */
	PGresult *v = db_exec(
	    c, PGRES_COMMAND_OK, "starting a read",
	    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL);
	PQclear(v);
	v = v ? db_exec(c, PGRES_TUPLES_OK, "reading the campaign",
			"SELECT campaign_dnssec_validated($1::bigint), "
			"pg_export_snapshot()",
			1, params)
	      : NULL;
	if (!v || !name) {
		PQclear(v);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	/* Every record says which campaign it is of and whether its DNSSEC
	 * facts were validated at all. */
	jbuf_printf(&extra, ", \"campaign_id\": %s, \"campaign_name\": ", cid);
	jbuf_json_string(&extra, name, strlen(name));
	jbuf_printf(&extra, ", \"dnssec_validated\": %s",
		    PQgetisnull(v, 0, 0)	    ? "null"
		    : PQgetvalue(v, 0, 0)[0] == 't' ? "true"
						    : "false");
	char snapshot[128];
	snprintf(snapshot, sizeof snapshot, "%s", PQgetvalue(v, 0, 1));
	PQclear(v);
	if (extra.failed) {
		rc = EX_OSERR;
		goto out;
	}
	if (!metadata && !csv) {
		dicts =
		    PQexecParams(c,
				 "SELECT id, dict FROM zstd_dict "
				 "WHERE campaign_id = $1::bigint ORDER BY id",
				 1, NULL, params, NULL, NULL, 1);
		if (PQresultStatus(dicts) != PGRES_TUPLES_OK) {
			log_error("export: %s", PQerrorMessage(c));
			rc = EX_UNAVAILABLE;
			goto out;
		}
	}
	out = outfile_open("export", output);
	if (!out) {
		rc = EX_CANTCREAT;
		goto out;
	}
	bool keep = false; /* written whole, though not every record */
	if (metadata) {
		rc = print_metadata(c, cid, out);
	} else {
		struct export x;
		memset(&x, 0, sizeof x);
		x.extra = extra.data;
		x.cid = cid;
		x.name = name;
		x.csv = csv;
		x.dicts = dicts;
		x.q_sort = q_sort;
		x.out = out;
		rc = export_run(&x, &db, snapshot);
		keep = rc == EX_SOFTWARE && x.record_failed;
	}
	if (outfile_close(out, rc == EX_OK || keep) != 0 && rc == EX_OK)
		rc = EX_IOERR;
out:
	PQclear(dicts);
	free(name);
	jbuf_free(&extra);
	PQfinish(c);
	db_free(&db);
	return rc;
}
