#include "crawler/store/tables.h"

const char *const table_name[TABLE_LAST] = {
	"domain_dns",	   "dns_rrset",
	"domain_mx",	   "mx_address",
	"endpoint",	   "certificate",
	"domain_endpoint", "handshake_record",
	"domain_mta_sts",  "domain_tlsrpt",
	"client_srv",	   "client_srv_target",
	"client_endpoint", "domain_client_endpoint",
	"client_mx",	   "domain_client_mx_endpoint",
};

const bool table_staged[TABLE_LAST] = {
	[TABLE_ENDPOINT] = true,
	[TABLE_CERTIFICATE] = true,
	[TABLE_RECORDS] = true,
	[TABLE_CLIENT_ENDPOINT] = true,
};

const char *const table_columns[TABLE_LAST] = {
	"campaign_id, target_id, domain, scanned_at, worker, mx_outcome, "
	"mx_count, mx_truncated, apex_cname, dns_queries, elapsed_ms, "
	"not_recorded_cause",
	"campaign_id, target_id, qname, qtype, outcome, rcode, dnssec, ede, "
	"ede_text, large, cname, records, txt, elapsed_ms, dnssec_reason",
	"campaign_id, target_id, ordinal, preference, host, kept, ip_literal, "
	"cname, address_outcome, a_dnssec, aaaa_dnssec, tlsa_looked_up, "
	"tlsa_name, tlsa_dnssec, tlsa_records, dane, dane_result_type, "
	"sts_match, addresses_partial, registrable",
	"campaign_id, target_id, ordinal, address, verdict, class",
	"campaign_id, ip, port, sni, worker, probed_at, outcome, end_state, "
	"conn, banner_code, ehlo_code, helo_code, starttls_offered, "
	"starttls_code, stripping, injection, overlong_line, bare_lf, keywords, "
	"banner, tls_version, tls_cipher, tls_group, handshake_ms, tls_reason, "
	"chain, chain_len, trusted, verify_errors, missing_intermediate, "
	"name_matches_mx, cn_only, weak, valid_ignoring_strength, "
	"chain_out_of_order, leaf_san_count, transcript, elapsed_ms",
	"sha256, der, subject, issuer, san_dns, not_before, not_after, "
	"key_type, key_bits, sig_alg, self_issued",
	"campaign_id, target_id, ordinal, ip, port, sni, name_matches_domain, "
	"dane, dane_result_type",
	"campaign_id, ip, port, sni, dict_id, raw_len, zstd",
	"campaign_id, target_id, txt, txt_error, txt_records, sts_records, "
	"txt_cname, id, host, host_dnssec, host_addresses, fetch_outcome, "
	"fetch_addr, "
	"http_status, location, content_type, content_encoding, tls_version, "
	"verify_error, fetch_detail, fetch_ms, chain, body, policy, "
	"policy_error, mode, max_age, mx_patterns, mx_truncated, eol, "
	"unknown_keys, max_age_text, max_age_valid",
	"campaign_id, target_id, status, error, txt_records, rpt_records, rua, "
	"rua_schemes",
	"campaign_id, target_id, service, qname, outcome, rcode, dnssec, "
	"dnssec_reason, ede, srv, offered, record_count, records_truncated",
	"campaign_id, target_id, service, ordinal, priority, weight, port, "
	"target, cname, address_outcome, a_dnssec, aaaa_dnssec, addresses, "
	"verdicts, addresses_partial, tlsa_looked_up, tlsa_name, tlsa_dnssec, "
	"tlsa_records, dane, dane_result_type",
	"campaign_id, ip, port, sni, service, worker, probed_at, protocol, "
	"tls_mode, outcome, end_state, conn, greeting, greeting_code, "
	"greeting_line, starttls_offered, starttls_code, stripping, injection, "
	"tls_version, tls_cipher, tls_group, handshake_ms, tls_reason, chain, "
	"chain_len, trusted, verify_errors, missing_intermediate, "
	"name_matches_host, cn_only, weak, valid_ignoring_strength, transcript, "
	"elapsed_ms",
	"campaign_id, target_id, service, ordinal, ip, port, sni, "
	"name_matches_domain, dane, dane_result_type",
	"campaign_id, target_id, ordinal, service, host, port, "
	"address_outcome, tlsa_looked_up, tlsa_name, tlsa_dnssec, "
	"tlsa_records, dane, dane_result_type",
	"campaign_id, target_id, ordinal, service, ip, port, sni, "
	"name_matches_domain, dane, dane_result_type",
};
