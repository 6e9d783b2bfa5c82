/*
 * The tables a scan writes, with the column list of each as its COPY
 * statement names them. The probe builds its rows in this order, the
 * claim thread writes the endpoint rows it won, and the store thread COPYs
 * a batch: all three read these definitions, so they live with the store
 * rather than with any one of them. The columns are those of schema/.
 */
#ifndef MXCRAWL_STORE_TABLES_H
#define MXCRAWL_STORE_TABLES_H

#include <stdbool.h>

/* The tables of a scan, as COPY text rows (see store.h). */
enum table_id {
	TABLE_DOMAIN_DNS = 0,
	TABLE_DNS_RRSET,
	TABLE_DOMAIN_MX,
	TABLE_MX_ADDRESS,
	TABLE_ENDPOINT,	   /* staged: another crawler may have it */
	TABLE_CERTIFICATE, /* staged: stored once across campaigns */
	TABLE_DOMAIN_ENDPOINT,
	/* Handshake records as "ip\tport\tsni\tJSON\n" lines: the store
	 * compresses them into handshake_record rows (record.h). */
	TABLE_RECORDS,
	TABLE_MTA_STS, /* scan/stsfacts.h: sts_facts_row() */
	TABLE_TLSRPT,  /* scan/stsfacts.h: rpt_facts_row() */
	/* Mail client services (M12, schema/028): the SRV RRset per
	 * service, and per kept SRV record its target's addresses and
	 * TLSA. */
	TABLE_CLIENT_SRV,
	TABLE_CLIENT_SRV_TARGET,
	/* Their probes (schema/029): one row per (ip, port, SNI, service),
	 * staged like endpoint's, and per domain, SRV record and address
	 * what depends on the domain (its name, DANE). */
	TABLE_CLIENT_ENDPOINT,
	TABLE_DOMAIN_CLIENT_ENDPOINT,
	/* With --client-ports mx (schema/033): per kept MX host and client
	 * service its standard port's TLSA and DANE, and per contacted
	 * address what depends on the domain. The probes themselves are
	 * client_endpoint rows, shared with the SRV-found endpoints. */
	TABLE_CLIENT_MX,
	TABLE_DOMAIN_CLIENT_MX_ENDPOINT,
	TABLE_LAST
};

/* Names of the tables, in enum order, their COPY column lists, and
 * whether rows go through a staging table with ON CONFLICT DO NOTHING
 * (rows another batch or crawler may already have stored). */
extern const char *const table_name[TABLE_LAST];
extern const char *const table_columns[TABLE_LAST];
extern const bool table_staged[TABLE_LAST];

#endif
