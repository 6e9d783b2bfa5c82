/*
 * Scripted-peer tests for crawler/smtp/smtp.c: every SMTP scenario of the
 * testbed (tests/testbed/scenarios.py, smtp-* and the tls-* ones that end
 * in the handshake) is played by a small peer that behaves like
 * tests/testbed/servers/mailserver.py, on a virtual clock, with the
 * peer's writes delivered whole, byte by byte and in odd pieces. The
 * expected facts are what build.py's smtp_truth() derives. Every run also
 * checks what the client must never do: MAIL FROM, a second command
 * before the reply to the first, a command after STARTTLS's 220 outside
 * TLS, or anything but QUIT once TLS is up.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "crawler/smtp/smtp.h"
#include "crawler/smtp/conn.h"
#include "unit.h"

#define EHLO_NAME "probe.example"
/* The peer's host name, where the testbed writes <host>. */
#define HOST "mx.test"
/* Written in place of a scenario's 5 KiB EHLO line. */
#define LINE_5K "250-X-(5000 A)"
/* A tarpit writes one byte per second (mailserver.py tarpit_delay). */
#define TARPIT_MS 1000
/* Bytes of garbage a "garbage" peer writes (mailserver.py). */
#define GARBAGE_LEN 2048
/* Steps after which a run is called stuck. */
#define SIM_MAX_STEPS 2000000
/* Refills of an endless EHLO reply (1000 lines each) before giving up. */
#define ENDLESS_REFILLS 100

enum peer_mode {
	P_NORMAL = 0,
	P_RESET,	      /* RST on accept */
	P_SILENT,	      /* accepts, never writes */
	P_TARPIT,	      /* banner one byte a second */
	P_GARBAGE,	      /* random bytes instead of a banner */
	P_CLOSE_AFTER_BANNER, /* banner, then FIN */
	P_ENDLESS,	      /* endless "250-" lines to EHLO */
	P_LONG_LINE,	      /* 1 MB without CRLF to EHLO */
};

/* How the handshake after STARTTLS's 220 ends. */
enum peer_tls {
	T_OK = 0,
	T_ALERT,	/* fatal alert: the TLS layer reports it */
	T_EOF,		/* FIN: seen as end of stream (smtp_on_eof) */
	T_EOF_REPORTED, /* FIN: reported by the TLS layer */
	T_RESET,	/* RST: smtp_on_reset */
};

struct scenario {
	const char *name;
	enum peer_mode mode;
	const char *banner[4]; /* NULL: "220 <host> ESMTP testbed" */
	const char *ehlo[5];   /* NULL: the testbed's default */
	const char *starttls_reply;
	const char *inject;
	enum peer_tls tls;
	/* Expected, as smtp_truth() says. It carries ehlo_code only when
	 * EHLO was rejected; the session records every EHLO code. */
	const char *outcome;
	int banner_code, ehlo_code, starttls_code;
	enum smtp_fact starttls_offered; /* FACT_U: not reached */
	const char *stripping;
	enum smtp_fact injection, overlong;
	const char *tls_reason;
	/* Commands the client sent; "+" marks one sent inside TLS. */
	const char *cmds;
};

static const char *const default_ehlo[] = { "250-" HOST, "250-PIPELINING",
					    "250-STARTTLS", "250 8BITMIME",
					    NULL };

#define OK_CMDS "EHLO STARTTLS QUIT+"
#define FACT_Y SMTP_FACT_YES
#define FACT_N SMTP_FACT_NO
#define FACT_U SMTP_FACT_UNSEEN

static const struct scenario scenarios[] = {
	{ "smtp-banner-multiline",
	  P_NORMAL,
	  { "220-" HOST " ESMTP first line", "220-second line",
	    "220 " HOST " ready" },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "starttls_ok",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_N,
	  NULL,
	  OK_CMDS },
	{ "smtp-banner-421",
	  P_NORMAL,
	  { "421 4.3.2 " HOST " busy, try later" },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "banner_rejected",
	  421,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "QUIT" },
	{ "smtp-banner-554",
	  P_NORMAL,
	  { "554 5.7.1 " HOST " no service for you" },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "banner_rejected",
	  554,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "QUIT" },
	{ "smtp-greylist",
	  P_NORMAL,
	  { "450 4.7.1 greylisted, try again later" },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "banner_rejected",
	  450,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "QUIT" },
	{ "smtp-silent",
	  P_SILENT,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "banner_timeout",
	  0,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_U,
	  NULL,
	  "" },
	{ "smtp-ehlo-lowercase",
	  P_NORMAL,
	  { 0 },
	  { "250-" HOST " hello", "250-pipelining", "250-starttls",
	    "250 8bitmime" },
	  NULL,
	  NULL,
	  T_OK,
	  "starttls_ok",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_N,
	  NULL,
	  OK_CMDS },
	{ "smtp-ehlo-starttls-first",
	  P_NORMAL,
	  { 0 },
	  { "250-STARTTLS", "250 " HOST },
	  NULL,
	  NULL,
	  T_OK,
	  "starttls_ok",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_N,
	  NULL,
	  OK_CMDS },
	{ "smtp-ehlo-5xx",
	  P_NORMAL,
	  { 0 },
	  { "502 5.5.2 EHLO not implemented" },
	  NULL,
	  NULL,
	  T_OK,
	  "ehlo_rejected",
	  220,
	  502,
	  0,
	  FACT_N,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "EHLO HELO QUIT" },
	{ "smtp-no-starttls",
	  P_NORMAL,
	  { 0 },
	  { "250-" HOST, "250-PIPELINING", "250 8BITMIME" },
	  NULL,
	  NULL,
	  T_OK,
	  "no_starttls",
	  220,
	  250,
	  0,
	  FACT_N,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "EHLO QUIT" },
	{ "smtp-starttls-454",
	  P_NORMAL,
	  { 0 },
	  { 0 },
	  "454 4.7.0 TLS not available due to temporary reason",
	  NULL,
	  T_OK,
	  "starttls_rejected",
	  220,
	  250,
	  454,
	  FACT_Y,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "EHLO STARTTLS QUIT" },
	{ "smtp-starttls-502",
	  P_NORMAL,
	  { 0 },
	  { 0 },
	  "502 5.5.1 command not implemented",
	  NULL,
	  T_OK,
	  "starttls_rejected",
	  220,
	  250,
	  502,
	  FACT_Y,
	  "advertised_refused",
	  FACT_U,
	  FACT_N,
	  NULL,
	  "EHLO STARTTLS QUIT" },
	{ "smtp-strip-xxxxxxxa",
	  P_NORMAL,
	  { 0 },
	  { "250-" HOST, "250-PIPELINING", "250-XXXXXXXA", "250 8BITMIME" },
	  NULL,
	  NULL,
	  T_OK,
	  "no_starttls",
	  220,
	  250,
	  0,
	  FACT_N,
	  "xxxxxxxa",
	  FACT_U,
	  FACT_N,
	  NULL,
	  "EHLO QUIT" },
	{ "smtp-strip-masked-banner",
	  P_NORMAL,
	  { "220 ******************************" },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "starttls_ok",
	  220,
	  250,
	  220,
	  FACT_Y,
	  "masked_banner",
	  FACT_N,
	  FACT_N,
	  NULL,
	  OK_CMDS },
	{ "smtp-inject",
	  P_NORMAL,
	  { 0 },
	  { 0 },
	  NULL,
	  "250-INJECTED\r\n250 AUTH PLAIN\r\n",
	  T_OK,
	  "starttls_ok",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_Y,
	  FACT_N,
	  NULL,
	  OK_CMDS },
	{ "smtp-ehlo-5k-line",
	  P_NORMAL,
	  { 0 },
	  { "250-" HOST, LINE_5K, "250 STARTTLS" },
	  NULL,
	  NULL,
	  T_OK,
	  "starttls_ok",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_Y,
	  NULL,
	  OK_CMDS },
	{ "smtp-long-line",
	  P_LONG_LINE,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "line_too_long",
	  220,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_Y,
	  NULL,
	  "EHLO" },
	{ "smtp-endless-ehlo",
	  P_ENDLESS,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "reply_too_large",
	  220,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "EHLO" },
	{ "smtp-tarpit",
	  P_TARPIT,
	  { "220 mx.smtp-tarpit.test ESMTP testbed" },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "deadline",
	  0,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_U,
	  NULL,
	  "" },
	{ "smtp-close-after-banner",
	  P_CLOSE_AFTER_BANNER,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "connection_closed",
	  220,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_N,
	  NULL,
	  "EHLO" },
	{ "smtp-garbage",
	  P_GARBAGE,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "protocol_error",
	  0,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_U,
	  NULL,
	  "" },
	{ "smtp-reset",
	  P_RESET,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_OK,
	  "connection_reset",
	  0,
	  0,
	  0,
	  FACT_U,
	  NULL,
	  FACT_U,
	  FACT_U,
	  NULL,
	  "" },
	{ "tls-alert",
	  P_NORMAL,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_ALERT,
	  "tls_failed",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_N,
	  "alert",
	  "EHLO STARTTLS" },
	{ "tls-eof",
	  P_NORMAL,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_EOF,
	  "tls_failed",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_N,
	  "eof",
	  "EHLO STARTTLS" },
	{ "tls-eof reported by TLS",
	  P_NORMAL,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_EOF_REPORTED,
	  "tls_failed",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_N,
	  "eof",
	  "EHLO STARTTLS" },
	{ "tls-reset",
	  P_NORMAL,
	  { 0 },
	  { 0 },
	  NULL,
	  NULL,
	  T_RESET,
	  "tls_failed",
	  220,
	  250,
	  220,
	  FACT_Y,
	  NULL,
	  FACT_N,
	  FACT_N,
	  "reset",
	  "EHLO STARTTLS" },
};

/* Sessions are reused from test to test: what the last run allocated
 * is freed before the next init (and at the end of each test). */
static int reinit(struct smtp_session *s, const char *name,
		  const struct smtp_limits *lim)
{
	smtp_session_free(s);
	return smtp_session_init(s, name, lim);
}

/* ---- The scripted peer and the virtual clock ----------------------- */

#define NEVER UINT64_MAX

struct sim {
	const struct scenario *sc;
	struct smtp_session *s;
	size_t chunk; /* bytes per smtp_on_data(); 0: all that is queued */
	uint64_t now, stage_due, deadline_due, next_byte;
	/* What the peer wrote and the client has not read yet. */
	uint8_t *q;
	size_t qlen, qcap, qoff;
	size_t resp_end;	 /* end of the reply to the last command */
	bool peer_fin, peer_rst; /* after the queue drains */
	bool end_sent;		 /* ... and the client was told */
	bool rejecting;		 /* greeting not 220 (mailserver.py) */
	bool closed;		 /* the client said close */
	bool tls;		 /* handshake done */
	int endless;		 /* refills left; 0: not endless */
	char cmds[256];
	char last_verb[16];
	/* Bytes the client sent, to compare with the transcript. */
	uint8_t sent[1024];
	size_t nsent;
	long steps;
};

static void peer_write(struct sim *m, const void *buf, size_t len)
{
	if (m->qlen + len > m->qcap) {
		m->qcap = (m->qlen + len) * 2;
		m->q = realloc(m->q, m->qcap);
		if (!m->q)
			abort();
	}
	memcpy(m->q + m->qlen, buf, len);
	m->qlen += len;
}

static void peer_line(struct sim *m, const char *line)
{
	if (strcmp(line, LINE_5K) == 0) {
		peer_write(m, "250-X-", 6);
		for (int i = 0; i < 5000; i++)
			peer_write(m, "A", 1);
	} else {
		peer_write(m, line, strlen(line));
	}
	peer_write(m, "\r\n", 2);
}

static const char *const *ehlo_lines(const struct scenario *sc)
{
	return sc->ehlo[0] ? sc->ehlo : default_ehlo;
}

static void peer_endless(struct sim *m)
{
	static const char line[] =
	    "250-" HOST " endless reply line padding padding\r\n";

	for (int i = 0; i < 1000; i++)
		peer_write(m, line, sizeof line - 1);
	m->endless--;
}

static void peer_accept(struct sim *m)
{
	const struct scenario *sc = m->sc;
	const char *const dflt[] = { "220 " HOST " ESMTP testbed", NULL };
	const char *const *banner = sc->banner[0] ? sc->banner : dflt;
	const char *last = NULL;

	switch (sc->mode) {
	case P_RESET:
		m->peer_rst = true;
		return;
	case P_SILENT:
		return;
	case P_GARBAGE: {
		uint32_t x = 0x2a2a2a2a;
		for (int i = 0; i < GARBAGE_LEN; i++) {
			x = x * 1103515245u + 12345u;
			uint8_t b = (uint8_t)(x >> 16);
			peer_write(m, &b, 1);
		}
		return;
	}
	default:
		break;
	}
	for (size_t i = 0; banner[i]; i++) {
		peer_line(m, banner[i]);
		last = banner[i];
	}
	m->resp_end = m->qlen;
	if (sc->mode == P_TARPIT)
		m->next_byte = 0;
	if (sc->mode == P_CLOSE_AFTER_BANNER)
		m->peer_fin = true;
	if (strncmp(last, "220", 3) != 0) {
		/* mailserver.py _rejecting(): 421 closes at once; otherwise
		 * every command but QUIT gets 503. */
		m->rejecting = true;
		if (strncmp(last, "421", 3) == 0)
			m->peer_fin = true;
	}
}

static bool has_starttls_line(const struct scenario *sc)
{
	for (const char *const *l = ehlo_lines(sc); *l; l++) {
		const char *t = *l + 4;
		while (*t == ' ')
			t++;
		if (strncasecmp(t, "STARTTLS", 8) == 0 && t[8] == '\0')
			return true;
	}
	return false;
}

/* The peer's answer to one command (mailserver.py _smtp()). */
static void peer_command(struct sim *m, const char *verb)
{
	const struct scenario *sc = m->sc;

	if (m->peer_fin || m->peer_rst)
		return; /* gone: the bytes go nowhere */
	if (m->rejecting) {
		if (strcmp(verb, "QUIT") == 0) {
			peer_line(m, "221 2.0.0 Bye");
			m->peer_fin = true;
		} else {
			peer_line(m, "503 5.5.1 Bad sequence of commands");
		}
	} else if (strcmp(verb, "EHLO") == 0) {
		if (sc->mode == P_ENDLESS) {
			m->endless = ENDLESS_REFILLS;
			peer_endless(m);
		} else if (sc->mode == P_LONG_LINE) {
			peer_write(m, "250-", 4);
			for (int i = 0; i < (1 << 20); i++)
				peer_write(m, "A", 1);
		} else {
			for (const char *const *l = ehlo_lines(sc); *l; l++)
				peer_line(m, *l);
		}
	} else if (strcmp(verb, "HELO") == 0) {
		peer_line(m, "250 " HOST);
	} else if (strcmp(verb, "STARTTLS") == 0) {
		const char *r = sc->starttls_reply;
		if (!r)
			r = has_starttls_line(sc)
				? "220 2.0.0 Ready to start TLS"
				: "500 5.5.1 command unrecognized";
		peer_line(m, r);
		/* The injection goes out in the same write as the 220,
		 * as a man in the middle would send it. */
		if (strncmp(r, "220", 3) == 0 && sc->inject)
			peer_write(m, sc->inject, strlen(sc->inject));
	} else if (strcmp(verb, "QUIT") == 0) {
		peer_line(m, "221 2.0.0 Bye");
		m->peer_fin = true;
	} else if (strcmp(verb, "MAIL") == 0 || strcmp(verb, "RCPT") == 0 ||
		   strcmp(verb, "DATA") == 0 || strcmp(verb, "BDAT") == 0) {
		unit_fail(__FILE__, __LINE__, "%s: client sent %s", sc->name,
			  verb);
		peer_line(m, "554 5.7.1 testbed accepts no mail");
	} else {
		peer_line(m, "500 5.5.1 command unrecognized");
	}
	m->resp_end = m->qlen;
}

static void rearm(struct sim *m)
{
	unsigned ms = smtp_session_stage_timeout_ms(m->s);
	m->stage_due = ms ? m->now + ms : NEVER;
}

static void act(struct sim *m, enum smtp_action a);

/* Delivers up to n queued bytes. */
static void deliver(struct sim *m, size_t n)
{
	size_t off = m->qoff;
	enum smtp_action a;

	m->qoff += n;
	a = smtp_on_data(m->s, m->q + off, n);
	rearm(m);
	act(m, a);
}

static size_t piece(const struct sim *m)
{
	size_t left = m->qlen - m->qoff;
	if (m->sc->mode == P_TARPIT)
		return 1;
	return m->chunk && left > m->chunk ? m->chunk : left;
}

/* Checks one command the client wants sent and hands it to the peer. */
static void client_sends(struct sim *m)
{
	const struct scenario *sc = m->sc;
	size_t len;
	const uint8_t *out = smtp_session_output(m->s, &len);
	char line[SMTP_OUT_MAX + 1], verb[16];
	size_t v = 0;

	if (len < 3 || len > SMTP_OUT_MAX || out[len - 2] != '\r' ||
	    out[len - 1] != '\n' || memchr(out, '\n', len - 1) ||
	    memchr(out, '\r', len - 2)) {
		unit_fail(__FILE__, __LINE__, "%s: not one command line",
			  sc->name);
		return;
	}
	memcpy(line, out, len - 2);
	line[len - 2] = '\0';
	while (line[v] && line[v] != ' ' && v < sizeof verb - 1) {
		verb[v] = line[v];
		v++;
	}
	verb[v] = '\0';
	/* Never pipeline: the whole reply to the last command (or the
	 * greeting) was read before the next command. */
	if (m->qoff < m->resp_end)
		unit_fail(__FILE__, __LINE__,
			  "%s: %s sent before the reply "
			  "to %s was read",
			  sc->name, verb, m->last_verb);
	if (m->tls != m->s->in_tls)
		unit_fail(__FILE__, __LINE__, "%s: TLS state disagrees",
			  sc->name);
	if (m->tls && strcmp(verb, "QUIT") != 0)
		unit_fail(__FILE__, __LINE__, "%s: %s inside TLS", sc->name,
			  verb);
	if ((strcmp(verb, "EHLO") == 0 || strcmp(verb, "HELO") == 0) &&
	    strcmp(line + 5, EHLO_NAME) != 0)
		unit_fail(__FILE__, __LINE__, "%s: %s", sc->name, line);
	if (m->nsent + len <= sizeof m->sent) {
		memcpy(m->sent + m->nsent, out, len);
		m->nsent += len;
	}
	snprintf(m->cmds + strlen(m->cmds), sizeof m->cmds - strlen(m->cmds),
		 "%s%s%s", m->cmds[0] ? " " : "", verb, m->tls ? "+" : "");
	snprintf(m->last_verb, sizeof m->last_verb, "%s", verb);
	peer_command(m, verb);
}

/* The handshake, as the TLS layer would report it. */
static void handshake(struct sim *m)
{
	enum smtp_action a;

	if (strcmp(m->last_verb, "STARTTLS") != 0)
		unit_fail(__FILE__, __LINE__, "%s: TLS without STARTTLS",
			  m->sc->name);
	/* What the transport had read past the 220 is handed over before
	 * the handshake (smtp_on_tls_done's contract). */
	while (m->qoff < m->qlen && !m->closed)
		deliver(m, piece(m));
	if (m->closed)
		return;
	switch (m->sc->tls) {
	case T_OK:
		m->tls = true;
		a = smtp_on_tls_done(m->s, true, NULL);
		break;
	case T_ALERT:
		a = smtp_on_tls_done(m->s, false, "alert");
		break;
	case T_EOF:
		a = smtp_on_eof(m->s);
		break;
	case T_EOF_REPORTED:
		a = smtp_on_tls_done(m->s, false, "eof");
		break;
	default:
		a = smtp_on_reset(m->s);
		break;
	}
	rearm(m);
	act(m, a);
}

static void act(struct sim *m, enum smtp_action a)
{
	switch (a) {
	case SMTP_ACT_WAIT:
		break;
	case SMTP_ACT_SEND:
		client_sends(m);
		break;
	case SMTP_ACT_START_TLS:
		handshake(m);
		break;
	case SMTP_ACT_CLOSE:
		m->closed = true;
		break;
	default:
		unit_fail(__FILE__, __LINE__, "%s: action %d", m->sc->name, a);
		m->closed = true;
	}
}

/* Runs one scenario to its end; the session is left in *s. */
static void sim_run(const struct scenario *sc, size_t chunk,
		    struct smtp_session *s)
{
	struct sim m = { 0 };
	struct smtp_limits lim;

	smtp_limits_default(&lim);
	m.sc = sc;
	m.s = s;
	m.chunk = chunk;
	m.next_byte = 0;
	if (reinit(s, EHLO_NAME, &lim) != 0) {
		unit_fail(__FILE__, __LINE__, "%s: init", sc->name);
		return;
	}
	m.deadline_due = lim.deadline_ms;
	/* The greeting is queued first, so that a command sent before it
	 * was read counts as pipelined. */
	peer_accept(&m);
	act(&m, smtp_on_connected(s));
	rearm(&m);
	while (!m.closed && ++m.steps < SIM_MAX_STEPS) {
		bool pending = m.qoff < m.qlen;
		uint64_t t_data = NEVER, t_end = NEVER;
		enum smtp_action a;

		if (!pending && m.endless > 0) {
			peer_endless(&m);
			continue;
		}
		if (pending)
			t_data = sc->mode == P_TARPIT && m.next_byte > m.now
				     ? m.next_byte
				     : m.now;
		else if ((m.peer_fin || m.peer_rst) && !m.end_sent)
			t_end = m.now;
		uint64_t t = t_data < t_end ? t_data : t_end;
		if (m.deadline_due < t)
			t = m.deadline_due;
		if (m.stage_due < t)
			t = m.stage_due;
		if (t == NEVER) {
			unit_fail(__FILE__, __LINE__, "%s: stuck in %s",
				  sc->name, smtp_state_str(s->state));
			return;
		}
		m.now = t;
		if (t == t_data) {
			m.next_byte = m.now + TARPIT_MS;
			deliver(&m, piece(&m));
			continue;
		}
		if (t == t_end) {
			m.end_sent = true;
			a = m.peer_rst ? smtp_on_reset(s) : smtp_on_eof(s);
		} else if (t == m.deadline_due) {
			m.deadline_due = NEVER;
			a = smtp_on_timeout(s, SMTP_TIMER_DEADLINE);
		} else {
			a = smtp_on_timeout(s, SMTP_TIMER_STAGE);
		}
		rearm(&m);
		act(&m, a);
	}
	if (!m.closed)
		unit_fail(__FILE__, __LINE__, "%s: never closed", sc->name);
	if (s->state != SMTP_ST_DONE)
		unit_fail(__FILE__, __LINE__, "%s: ended in %s", sc->name,
			  smtp_state_str(s->state));
	CHECK_STR(m.cmds, sc->cmds, sc->name);

	/* The transcript's SENT segments are exactly what was sent. */
	const struct smtp_transcript *tr = &s->transcript;
	size_t off = 0, sent = 0, discarded = 0;
	for (size_t i = 0; i < tr->nseg; i++) {
		const struct smtp_segment *g = &tr->seg[i];
		CHECK_INT(g->off, off, sc->name);
		off += g->len;
		if (g->dir == SMTP_DIR_SENT) {
			if (sent + g->len > m.nsent ||
			    memcmp(tr->bytes + g->off, m.sent + sent, g->len))
				unit_fail(__FILE__, __LINE__,
					  "%s: transcript differs", sc->name);
			sent += g->len;
		} else if (g->dir == SMTP_DIR_DISCARDED) {
			discarded += g->len;
		}
		if (i > 0 && g->dir == tr->seg[i - 1].dir &&
		    g->tls == tr->seg[i - 1].tls)
			unit_fail(__FILE__, __LINE__, "%s: unmerged segments",
				  sc->name);
	}
	CHECK_INT(off, tr->len, sc->name);
	if (!tr->truncated)
		CHECK_INT(sent, m.nsent, sc->name);
	CHECK_INT(discarded,
		  s->facts.injected_bytes + s->facts.unsolicited_bytes,
		  sc->name);
	free(m.q);
}

static void check_facts(const struct scenario *sc, const struct smtp_session *s,
			size_t chunk)
{
	const struct smtp_facts *f = &s->facts;
	char ctx[128];

	snprintf(ctx, sizeof ctx, "%s (pieces of %zu)", sc->name, chunk);
	CHECK_STR(smtp_rc_str(f->outcome), sc->outcome, ctx);
	CHECK_INT(f->banner_code, sc->banner_code, ctx);
	CHECK_INT(f->ehlo_code, sc->ehlo_code, ctx);
	CHECK_INT(f->starttls_code, sc->starttls_code, ctx);
	CHECK_STR(smtp_fact_json(f->starttls_offered),
		  smtp_fact_json(sc->starttls_offered), ctx);
	CHECK_STR(smtp_stripping_str(f->stripping), sc->stripping, ctx);
	CHECK_STR(smtp_fact_json(f->injection), smtp_fact_json(sc->injection),
		  ctx);
	CHECK_STR(smtp_fact_json(f->overlong_line),
		  smtp_fact_json(sc->overlong), ctx);
	CHECK_INT(f->tls_ok, strcmp(sc->outcome, "starttls_ok") == 0, ctx);
	CHECK_INT(f->unsolicited_bytes, 0, ctx);
	if (sc->tls_reason)
		CHECK_STR(f->tls_reason, sc->tls_reason, ctx);
	if (sc->injection == SMTP_FACT_YES)
		CHECK_INT(f->injected_bytes, strlen(sc->inject), ctx);
	/* A QUIT the peer answered got its 221, not the injected 250. */
	if (strcmp(sc->outcome, "starttls_ok") == 0 ||
	    strcmp(sc->outcome, "no_starttls") == 0 ||
	    strcmp(sc->outcome, "starttls_rejected") == 0 ||
	    strcmp(sc->outcome, "ehlo_rejected") == 0)
		CHECK_INT(f->quit_code, 221, ctx);
}

UNIT_TEST(smtp_session_scenarios)
{
	static struct smtp_session s;
	const size_t chunks[] = { 0, 1, 5, 4096 };

	for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
			sim_run(&scenarios[i], chunks[c], &s);
			check_facts(&scenarios[i], &s, chunks[c]);
		}
	smtp_session_free(&s);
}

/* ---- Single behaviours --------------------------------------------- */

/* Feeds a string and returns the action. */
static enum smtp_action feed(struct smtp_session *s, const char *str)
{
	return smtp_on_data(s, (const uint8_t *)str, strlen(str));
}

static bool output_is(const struct smtp_session *s, const char *want)
{
	size_t len;
	const uint8_t *out = smtp_session_output(s, &len);
	return len == strlen(want) && memcmp(out, want, len) == 0;
}

/* A session brought to the reply to EHLO. */
static void to_ehlo(struct smtp_session *s)
{
	CHECK_INT(reinit(s, EHLO_NAME, NULL), 0, "init");
	CHECK_INT(smtp_on_connected(s), SMTP_ACT_WAIT, "connected");
	CHECK_INT(feed(s, "220 " HOST " ESMTP\r\n"), SMTP_ACT_SEND, "banner");
	CHECK(output_is(s, "EHLO " EHLO_NAME "\r\n"));
}

/*
 * Facts the session did not get far enough to see stay unseen ("not
 * reached", stored as NULL), never "no" (issue M7 item 5).
 */
UNIT_TEST(smtp_session_unseen_facts)
{
	static struct smtp_session s;

	/* Nothing read at all. */
	CHECK_INT(reinit(&s, EHLO_NAME, NULL), 0, "init");
	smtp_on_connected(&s);
	smtp_on_timeout(&s, SMTP_TIMER_STAGE);
	CHECK_STR(smtp_rc_str(s.facts.outcome), "banner_timeout", "silent");
	CHECK_STR(smtp_fact_json(s.facts.starttls_offered), "null", "silent");
	CHECK_STR(smtp_fact_json(s.facts.injection), "null", "silent");
	CHECK_STR(smtp_fact_json(s.facts.overlong_line), "null", "silent");
	CHECK_STR(smtp_fact_json(s.facts.bare_lf), "null", "silent");

	/* A 421 banner is a reply read whole, but no EHLO answer. */
	CHECK_INT(reinit(&s, EHLO_NAME, NULL), 0, "init");
	smtp_on_connected(&s);
	feed(&s, "421 busy\n");
	CHECK_STR(smtp_fact_json(s.facts.starttls_offered), "null", "421");
	CHECK_STR(smtp_fact_json(s.facts.overlong_line), "false", "421");
	CHECK_STR(smtp_fact_json(s.facts.bare_lf), "true", "421");

	/* EHLO answered 4xx: service refused for now, no extensions shown. */
	to_ehlo(&s);
	feed(&s, "421 4.3.2 shutting down\r\n");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "ehlo_rejected", "ehlo 4xx");
	CHECK_STR(smtp_fact_json(s.facts.starttls_offered), "null", "ehlo 4xx");

	/* EHLO answered 5xx: no ESMTP, so STARTTLS is not offered. */
	to_ehlo(&s);
	feed(&s, "502 no\r\n");
	CHECK_STR(smtp_fact_json(s.facts.starttls_offered), "false",
		  "ehlo 5xx");
	CHECK_STR(smtp_fact_json(s.facts.injection), "null", "ehlo 5xx");

	/* An EHLO reply cut by a cap: whether STARTTLS came is unseen. */
	to_ehlo(&s);
	for (int i = 0; i < 2000 && s.state != SMTP_ST_DONE; i++)
		feed(&s, "250-X-PADDING-PADDING-PADDING-PADDING\r\n");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "reply_too_large", "endless");
	CHECK_STR(smtp_fact_json(s.facts.starttls_offered), "null", "endless");

	/* STARTTLS answered 454: offered, but no 220, so no injection seen. */
	to_ehlo(&s);
	feed(&s, "250 STARTTLS\r\n");
	feed(&s, "454 not now\r\n");
	CHECK_STR(smtp_fact_json(s.facts.starttls_offered), "true", "454");
	CHECK_STR(smtp_fact_json(s.facts.injection), "null", "454");
}

UNIT_TEST(smtp_session_ehlo_name)
{
	static struct smtp_session s;
	char longname[SMTP_EHLO_NAME_MAX + 2];

	CHECK_INT(reinit(&s, "", NULL), -EINVAL, "empty");
	CHECK_INT(reinit(&s, NULL, NULL), -EINVAL, "NULL");
	CHECK_INT(reinit(&s, "a b", NULL), -EINVAL, "space");
	CHECK_INT(reinit(&s, "x\r\nMAIL FROM:<a@b>", NULL), -EINVAL, "CRLF");
	CHECK_INT(reinit(&s, "caf\xc3\xa9", NULL), -EINVAL, "8-bit");
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK_INT(reinit(&s, longname, NULL), -EINVAL, "256");
	longname[SMTP_EHLO_NAME_MAX] = '\0';
	CHECK_INT(reinit(&s, longname, NULL), 0, "255");
	CHECK_INT(smtp_on_connected(&s), SMTP_ACT_WAIT, "255");
	CHECK_INT(feed(&s, "220 x\r\n"), SMTP_ACT_SEND, "255");
	size_t len;
	smtp_session_output(&s, &len);
	CHECK_INT(len, SMTP_OUT_MAX, "255");

	CHECK_INT(reinit(&s, "[192.0.2.1]", NULL), 0, "literal");
	smtp_on_connected(&s);
	CHECK_INT(feed(&s, "220 x\r\n"), SMTP_ACT_SEND, "literal");
	CHECK(output_is(&s, "EHLO [192.0.2.1]\r\n"));
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_unsolicited)
{
	static struct smtp_session s;

	/* Bytes after the greeting, before EHLO went out, answer nothing:
	 * they are kept as discarded and the real reply is read later. */
	CHECK_INT(reinit(&s, EHLO_NAME, NULL), 0, "init");
	smtp_on_connected(&s);
	CHECK_INT(feed(&s, "220 mx\r\n250 early\r\n"), SMTP_ACT_SEND, "banner");
	CHECK_INT(s.facts.unsolicited_bytes, 11, "unsolicited");
	CHECK_INT(s.facts.injection, SMTP_FACT_UNSEEN, "not an injection");
	CHECK_INT(feed(&s, "250-mx\r\n250 STARTTLS\r\n"), SMTP_ACT_SEND,
		  "ehlo");
	CHECK(output_is(&s, "STARTTLS\r\n"));
	/* In the order of the wire: the early bytes came before EHLO. */
	CHECK_INT(s.transcript.seg[1].dir, SMTP_DIR_DISCARDED, "segment");
	CHECK_INT(s.transcript.seg[1].len, 11, "segment");
	CHECK_INT(s.transcript.seg[2].dir, SMTP_DIR_SENT, "segment");
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_injection_split)
{
	static struct smtp_session s;

	/* The 220 and the injection in separate reads: the bytes handed
	 * over during the handshake are still the injection. */
	to_ehlo(&s);
	CHECK_INT(feed(&s, "250 STARTTLS\r\n"), SMTP_ACT_SEND, "ehlo");
	CHECK_INT(feed(&s, "220 go"), SMTP_ACT_WAIT, "partial");
	CHECK_INT(feed(&s, " ahead\r\n"), SMTP_ACT_START_TLS, "220");
	CHECK_INT(s.facts.injection, SMTP_FACT_NO, "none yet");
	CHECK_INT(feed(&s, "250 AUTH PLAIN\r\n"), SMTP_ACT_WAIT, "injected");
	CHECK_INT(s.facts.injection, SMTP_FACT_YES, "injection");
	CHECK_INT(s.facts.injected_bytes, 16, "injection");
	CHECK_INT(smtp_on_tls_done(&s, true, NULL), SMTP_ACT_SEND, "tls");
	CHECK(output_is(&s, "QUIT\r\n"));
	CHECK(s.in_tls);
	CHECK_INT(feed(&s, "221 bye\r\n"), SMTP_ACT_CLOSE, "221");
	CHECK_INT(s.facts.quit_code, 221, "221");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "starttls_ok", "outcome");
	const struct smtp_segment *g = &s.transcript.seg[s.transcript.nseg - 1];
	CHECK(g->tls && g->dir == SMTP_DIR_RECEIVED);
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_timeouts)
{
	static struct smtp_session s;
	struct smtp_limits lim;

	smtp_limits_default(&lim);
	CHECK_INT(reinit(&s, EHLO_NAME, &lim), 0, "init");
	CHECK_INT(smtp_session_stage_timeout_ms(&s), lim.connect_ms,
		  "connecting");
	smtp_on_connected(&s);
	CHECK_INT(smtp_session_stage_timeout_ms(&s), lim.banner_ms, "banner");
	feed(&s, "220 mx\r\n");
	CHECK_INT(smtp_session_stage_timeout_ms(&s), lim.command_ms, "ehlo");
	/* A quiet EHLO stage: "timeout", and where. */
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_STAGE), SMTP_ACT_CLOSE,
		  "ehlo");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "timeout", "ehlo");
	CHECK_STR(smtp_state_str(s.facts.end_state), "ehlo", "ehlo");
	CHECK_INT(smtp_session_stage_timeout_ms(&s), 0, "done");

	/* Connect timeout. */
	reinit(&s, EHLO_NAME, &lim);
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_STAGE), SMTP_ACT_CLOSE, "c");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "timeout", "connect");
	CHECK_STR(smtp_state_str(s.facts.end_state), "connecting", "connect");

	/* A handshake that never ends is a TLS failure. */
	to_ehlo(&s);
	feed(&s, "250 STARTTLS\r\n");
	CHECK_INT(feed(&s, "220 go\r\n"), SMTP_ACT_START_TLS, "220");
	CHECK_INT(smtp_session_stage_timeout_ms(&s), lim.tls_ms, "tls");
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_STAGE), SMTP_ACT_CLOSE, "tls");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "tls_failed", "tls");
	CHECK_STR(s.facts.tls_reason, "timeout", "tls");

	/* The deadline during the handshake is the deadline. */
	to_ehlo(&s);
	feed(&s, "250 STARTTLS\r\n");
	feed(&s, "220 go\r\n");
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_DEADLINE), SMTP_ACT_CLOSE,
		  "deadline");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "deadline", "deadline");

	/* After the handshake the 221 is a courtesy: the deadline while
	 * waiting for it leaves starttls_ok. */
	to_ehlo(&s);
	feed(&s, "250 STARTTLS\r\n");
	feed(&s, "220 go\r\n");
	CHECK_INT(smtp_on_tls_done(&s, true, NULL), SMTP_ACT_SEND, "tls");
	CHECK_INT(smtp_session_stage_timeout_ms(&s), lim.quit_ms, "quit");
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_DEADLINE), SMTP_ACT_CLOSE,
		  "quit");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "starttls_ok", "quit");
	CHECK_INT(s.facts.quit_code, 0, "quit");

	/* Same for a quiet QUIT after no_starttls. */
	to_ehlo(&s);
	CHECK_INT(feed(&s, "250 mx\r\n"), SMTP_ACT_SEND, "no starttls");
	CHECK(output_is(&s, "QUIT\r\n"));
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_STAGE), SMTP_ACT_CLOSE,
		  "quit");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "no_starttls", "quit");
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_ehlo_replies)
{
	static struct smtp_session s;

	/* 4xx to EHLO: rejected, no HELO (only 5xx falls back). */
	to_ehlo(&s);
	CHECK_INT(feed(&s, "421 4.3.2 shutting down\r\n"), SMTP_ACT_SEND,
		  "421");
	CHECK(output_is(&s, "QUIT\r\n"));
	CHECK_STR(smtp_rc_str(s.facts.outcome), "ehlo_rejected", "421");
	CHECK_INT(smtp_on_eof(&s), SMTP_ACT_CLOSE, "421");

	/* HELO refused too: still ehlo_rejected, HELO's code kept. */
	to_ehlo(&s);
	CHECK_INT(feed(&s, "500 what\r\n"), SMTP_ACT_SEND, "500");
	CHECK(output_is(&s, "HELO " EHLO_NAME "\r\n"));
	CHECK_INT(feed(&s, "501 no\r\n"), SMTP_ACT_SEND, "helo");
	CHECK(output_is(&s, "QUIT\r\n"));
	CHECK_INT(s.facts.helo_code, 501, "helo");
	CHECK_INT(s.facts.ehlo_code, 500, "helo");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "ehlo_rejected", "helo");
	CHECK_INT(feed(&s, "221 bye\r\n"), SMTP_ACT_CLOSE, "helo");

	/* Keywords are kept; a garbled reply to STARTTLS is an error. */
	to_ehlo(&s);
	CHECK_INT(feed(&s, "250-mx\r\n250-SIZE 100\r\n250-starttls\r\n"
			   "250 AUTH PLAIN\r\n"),
		  SMTP_ACT_SEND, "ehlo");
	CHECK_INT(s.facts.nkeywords, 4, "keywords");
	CHECK_STR(s.facts.keywords[2], "STARTTLS", "keywords");
	CHECK_INT(feed(&s, "22O ready\r\n"), SMTP_ACT_CLOSE, "garbled");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "protocol_error", "garbled");
	CHECK_INT(s.facts.reply_rc, SMTP_REPLY_RC_BAD_CODE, "garbled");
	CHECK_STR(smtp_state_str(s.facts.end_state), "starttls", "garbled");

	/* A reply with bare LF ends is read and flagged. */
	to_ehlo(&s);
	CHECK_INT(feed(&s, "250-mx\n250 STARTTLS\n"), SMTP_ACT_SEND, "lf");
	CHECK_INT(s.facts.bare_lf, SMTP_FACT_YES, "bare lf");
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_events_after_done)
{
	static struct smtp_session s;

	CHECK_INT(reinit(&s, EHLO_NAME, NULL), 0, "init");
	/* Bytes before the connect event: the connection is evidently up. */
	CHECK_INT(feed(&s, "554 go away\r\n"), SMTP_ACT_SEND, "banner");
	CHECK(output_is(&s, "QUIT\r\n"));
	CHECK_INT(smtp_on_reset(&s), SMTP_ACT_CLOSE, "reset");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "banner_rejected", "reset");
	CHECK_INT(smtp_on_eof(&s), SMTP_ACT_CLOSE, "eof");
	CHECK_INT(feed(&s, "221 bye\r\n"), SMTP_ACT_CLOSE, "data");
	CHECK_INT(smtp_on_tls_done(&s, true, NULL), SMTP_ACT_CLOSE, "tls");
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_DEADLINE), SMTP_ACT_CLOSE,
		  "deadline");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "banner_rejected", "after");
	CHECK_INT(s.facts.tls_ok, 0, "after");

	/* A TLS result outside the handshake is not believed. */
	to_ehlo(&s);
	CHECK_INT(smtp_on_tls_done(&s, true, NULL), SMTP_ACT_CLOSE, "early");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "internal_error", "early");
	CHECK_INT(s.facts.tls_ok, 0, "early");

	/* The connection never came up. */
	reinit(&s, EHLO_NAME, NULL);
	CHECK_INT(smtp_on_connect_failed(&s), SMTP_ACT_CLOSE, "refused");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "connect_failed", "refused");
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_transcript_bound)
{
	static struct smtp_session s;
	static char big[600];

	/* Many long lines in one reply: the transcript keeps the first
	 * SMTP_TRANSCRIPT_MAX bytes and says it was cut. */
	to_ehlo(&s);
	memset(big, 'a', sizeof big);
	memcpy(big, "250-", 4);
	memcpy(big + sizeof big - 2, "\r\n", 2);
	for (int i = 0; i < 40; i++)
		CHECK_INT(smtp_on_data(&s, (const uint8_t *)big, sizeof big),
			  SMTP_ACT_WAIT, "lines");
	CHECK_INT(feed(&s, "250 STARTTLS\r\n"), SMTP_ACT_SEND, "end");
	CHECK_INT(s.transcript.len, SMTP_TRANSCRIPT_MAX, "len");
	CHECK(s.transcript.truncated);
	/* Everything past the first SMTP_TRANSCRIPT_MAX bytes, the
	 * STARTTLS command included, is counted as dropped. */
	CHECK_INT(s.transcript.dropped,
		  strlen("220 " HOST " ESMTP\r\n") + strlen("EHLO ") +
		      strlen(EHLO_NAME) + 2 + 40 * sizeof big + 14 +
		      strlen("STARTTLS\r\n") - SMTP_TRANSCRIPT_MAX,
		  "dropped");
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_memory_on_demand)
{
	static struct smtp_session s;
	static const char banner[] = "220 " HOST " ESMTP\r\n";

	/* Nothing is allocated before the first byte; an ordinary whole
	 * conversation fits the first transcript allocation. */
	CHECK_INT(reinit(&s, EHLO_NAME, NULL), 0, "init");
	CHECK(s.transcript.bytes == NULL && s.transcript.seg == NULL);
	CHECK_INT(s.transcript.cap, 0, "cap");
	CHECK_INT(s.facts.banner_len, 0, "no banner");
	smtp_on_connected(&s);
	CHECK_INT(feed(&s, banner), SMTP_ACT_SEND, "banner");
	CHECK_INT(s.facts.banner_len, strlen(HOST " ESMTP"), "banner");
	CHECK(memcmp(s.facts.banner, HOST " ESMTP", s.facts.banner_len) == 0);
	CHECK_INT(feed(&s, "250-" HOST "\r\n250-PIPELINING\r\n"
			   "250 STARTTLS\r\n"),
		  SMTP_ACT_SEND, "ehlo");
	CHECK_INT(feed(&s, "220 go ahead\r\n"), SMTP_ACT_START_TLS, "220");
	CHECK_INT(smtp_on_tls_done(&s, true, NULL), SMTP_ACT_SEND, "tls");
	CHECK_INT(feed(&s, "221 bye\r\n"), SMTP_ACT_CLOSE, "221");
	CHECK_INT(s.transcript.cap, SMTP_TRANSCRIPT_INITIAL, "cap");
	CHECK_INT(s.transcript.segcap, SMTP_TRANSCRIPT_SEGS_INITIAL, "segs");
	CHECK(!s.transcript.truncated);
	smtp_session_free(&s);
	CHECK(s.transcript.bytes == NULL && s.transcript.len == 0);
	CHECK_INT(s.facts.banner_len, 0, "freed");
	CHECK(s.facts.banner != NULL);
	smtp_session_free(&s); /* twice is harmless */
}

/* ---- Plaintext during the handshake (conn.c's preamble scan) -------- */

/*
 * RFC 3207 §5: after the 220 to STARTTLS the server's next bytes must be
 * TLS; a TLS record starts with its content type (RFC 8446 §5.1:
 * handshake 22 = 0x16, alert 21 = 0x15) and the legacy version 0x03 0xXX.
 * Each case is the reads the connection gets after STARTTLS's 220 and,
 * per read, how many leading bytes are plaintext (to the session, which
 * discards and flags them) rather than TLS (to OpenSSL).
 */
#define HELLO "\x16\x03\x03\x01\x31\x02" /* a ServerHello record, its start */
#define ALERT "\x15\x03\x03\x00\x02\x02\x28" /* fatal handshake_failure */

struct preamble_case {
	const char *name;
	size_t nreads;
	struct {
		const char *bytes;
		size_t len;
		size_t plain;
	} read[4];
};

#define R(str, plain)                      \
	{                                  \
		str, sizeof str - 1, plain \
	}

static const struct preamble_case preamble_cases[] = {
	{ "hello at once", 1, { R(HELLO, 0) } },
	{ "alert at once", 1, { R(ALERT, 0) } },
	{ "one line, then the hello",
	  2,
	  { R("250 injected\r\n", 14), R(HELLO, 0) } },
	{ "one line and the hello in one read",
	  1,
	  { R("250 injected\r\n" HELLO, 14) } },
	{ "two lines split mid-line",
	  3,
	  { R("250-INJ", 7), R("ECTED\r\n250 AUTH PLAIN\r\n", 23),
	    R(HELLO, 0) } },
	{ "bare LF and empty lines",
	  2,
	  { R("\r\n\n250 x\n", 9), R(HELLO, 0) } },
	/* Once TLS started, printable bytes are record payload. */
	{ "text after the hello", 2, { R(HELLO, 0), R("250 x\r\n", 0) } },
	{ "text inside the hello's read", 1, { R(HELLO "250 x\r\n", 0) } },
	/* Neither text nor TLS: OpenSSL judges it (as before). */
	{ "binary garbage", 1, { R("\x00\x01\x02", 0) } },
	{ "an unfinished line goes on",
	  3,
	  { R("220 still", 9), R(" talking", 8), R("\x01\x16\r\n" HELLO, 4) } },
};

UNIT_TEST(tls_preamble_scan_table)
{
	for (size_t i = 0; i < sizeof preamble_cases / sizeof preamble_cases[0];
	     i++) {
		const struct preamble_case *c = &preamble_cases[i];
		struct tls_preamble p = { 0 };

		for (size_t r = 0; r < c->nreads; r++)
			CHECK_INT(tls_preamble_scan(
				      &p, (const uint8_t *)c->read[r].bytes,
				      c->read[r].len),
				  c->read[r].plain, c->name);
	}
}

UNIT_TEST(tls_preamble_scan_cap)
{
	static uint8_t big[TLS_PREAMBLE_MAX + 100];
	struct tls_preamble p = { 0 };

	/* A line that never ends is plaintext up to the cap; the rest goes
	 * to OpenSSL, which fails on it, so a peer cannot keep the
	 * handshake waiting on text forever (the deadline still holds). */
	memset(big, 'A', sizeof big);
	CHECK_INT(tls_preamble_scan(&p, big, 1000), 1000, "first read");
	CHECK_INT(tls_preamble_scan(&p, big, sizeof big - 1000),
		  TLS_PREAMBLE_MAX - 1000, "up to the cap");
	CHECK(p.done);
	CHECK_INT(tls_preamble_scan(&p, big, 10), 0, "after the cap");
}

/*
 * The scripted peer of the split-segment injection: a server that answers
 * STARTTLS with 220 in one segment and writes plaintext in later
 * segments, before (or with) its ServerHello. The client side is what
 * conn.c's on_read does with each read once conn_start_tls() ran: the
 * preamble scan's plaintext to the session (smtp_on_data), the rest to
 * OpenSSL (here: collected, to compare with the TLS bytes the peer
 * sent).
 */
struct split_case {
	const char *name;
	const char *after_220[3]; /* reads after the 220, NULL-terminated */
	const char *injected;	  /* the plaintext among them */
};

static const struct split_case split_cases[] = {
	{ "injection in its own read",
	  { "250-INJECTED\r\n250 AUTH PLAIN\r\n", HELLO, NULL },
	  "250-INJECTED\r\n250 AUTH PLAIN\r\n" },
	{ "injection and hello in one later read",
	  { "250 AUTH PLAIN\r\n" HELLO, NULL },
	  "250 AUTH PLAIN\r\n" },
	{ "injection split over reads",
	  { "250-INJ", "ECTED\r\n", HELLO },
	  "250-INJECTED\r\n" },
	{ "no injection", { HELLO, NULL }, "" },
};

UNIT_TEST(smtp_injection_later_read)
{
	static struct smtp_session s;

	for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0];
	     i++) {
		const struct split_case *c = &split_cases[i];
		struct tls_preamble p = { 0 };
		uint8_t to_tls[64];
		size_t ntls = 0;

		to_ehlo(&s);
		CHECK_INT(feed(&s, "250-" HOST "\r\n250 STARTTLS\r\n"),
			  SMTP_ACT_SEND, c->name);
		CHECK_INT(feed(&s, "220 2.0.0 Ready to start TLS\r\n"),
			  SMTP_ACT_START_TLS, c->name);
		for (size_t r = 0; r < 3 && c->after_220[r]; r++) {
			const uint8_t *b = (const uint8_t *)c->after_220[r];
			size_t len = strlen(c->after_220[r]);
			size_t plain = tls_preamble_scan(&p, b, len);
			if (plain > 0)
				CHECK_INT(smtp_on_data(&s, b, plain),
					  SMTP_ACT_WAIT, c->name);
			if (len - plain > sizeof to_tls - ntls) {
				unit_fail(__FILE__, __LINE__, "%s: overflow",
					  c->name);
				break;
			}
			memcpy(to_tls + ntls, b + plain, len - plain);
			ntls += len - plain;
		}
		/* OpenSSL got exactly the TLS bytes. */
		CHECK_INT(ntls, sizeof HELLO - 1, c->name);
		CHECK(memcmp(to_tls, HELLO, sizeof HELLO - 1) == 0);
		CHECK_INT(s.facts.injection,
			  c->injected[0] ? SMTP_FACT_YES : SMTP_FACT_NO,
			  c->name);
		CHECK_INT(s.facts.injected_bytes, strlen(c->injected), c->name);
		/* Kept as discarded plaintext, in the order of the wire. */
		if (c->injected[0]) {
			const struct smtp_segment *g =
			    &s.transcript.seg[s.transcript.nseg - 1];
			CHECK_INT(g->dir, SMTP_DIR_DISCARDED, c->name);
			CHECK(!g->tls);
			CHECK_INT(g->len, strlen(c->injected), c->name);
			CHECK(memcmp(s.transcript.bytes + g->off, c->injected,
				     g->len) == 0);
		}
		/* The handshake then succeeds and QUIT goes inside TLS. */
		CHECK_INT(smtp_on_tls_done(&s, true, NULL), SMTP_ACT_SEND,
			  c->name);
		CHECK(output_is(&s, "QUIT\r\n"));
		CHECK_INT(feed(&s, "221 bye\r\n"), SMTP_ACT_CLOSE, c->name);
		CHECK_STR(smtp_rc_str(s.facts.outcome), "starttls_ok", c->name);
	}
	smtp_session_free(&s);
}

UNIT_TEST(smtp_session_names)
{
	/* Every outcome and fact name the testbed's truth uses. */
	static const char *const truth[] = {
		"starttls_ok",	   "no_starttls",      "starttls_rejected",
		"banner_rejected", "banner_timeout",   "ehlo_rejected",
		"tls_failed",	   "connection_reset", "connection_closed",
		"protocol_error",  "line_too_long",    "reply_too_large",
		"deadline",
	};
	for (size_t i = 0; i < sizeof truth / sizeof truth[0]; i++) {
		bool found = false;
		for (int rc = 0; rc < SMTP_RC_LAST; rc++)
			if (strcmp(smtp_rc_str(rc), truth[i]) == 0)
				found = true;
		CHECK(found);
	}
	for (int rc = 0; rc < SMTP_RC_LAST; rc++)
		CHECK(strcmp(smtp_rc_str(rc), "unknown") != 0);
	CHECK_STR(smtp_rc_str(SMTP_RC_LAST), "unknown", "last");
	for (int st = 0; st < SMTP_ST_LAST; st++)
		CHECK(strcmp(smtp_state_str(st), "unknown") != 0);
	CHECK(smtp_stripping_str(SMTP_STRIP_NONE) == NULL);
	CHECK_STR(smtp_stripping_str(SMTP_STRIP_XXXXXXXA), "xxxxxxxa", "s");
	CHECK_STR(smtp_stripping_str(SMTP_STRIP_MASKED_BANNER), "masked_banner",
		  "s");
	CHECK_STR(smtp_stripping_str(SMTP_STRIP_ADVERTISED_REFUSED),
		  "advertised_refused", "s");
}

/* ---- Implicit TLS (submissions, 465; RFC 8314) --------------------- */

/* A session in implicit mode brought through its handshake. */
static void to_implicit_greeting(struct smtp_session *s)
{
	smtp_session_free(s);
	CHECK_INT(smtp_session_init_mode(s, EHLO_NAME, NULL, SMTP_TLS_IMPLICIT),
		  0, "init");
	CHECK_INT(smtp_on_connected(s), SMTP_ACT_START_TLS, "connected");
	CHECK_INT(smtp_on_tls_done(s, true, NULL), SMTP_ACT_WAIT, "tls");
	CHECK(s->in_tls);
	CHECK_STR(smtp_state_str(s->state), "banner", "state");
}

UNIT_TEST(smtp_implicit_ok)
{
	static struct smtp_session s;
	const char *g = "220 " HOST " ESMTP ready\r\n";
	enum smtp_action a = SMTP_ACT_WAIT;

	/* The greeting one byte per call, inside TLS; then QUIT inside TLS
	 * and no EHLO at all. */
	to_implicit_greeting(&s);
	for (size_t i = 0; g[i]; i++) {
		CHECK_INT(a, SMTP_ACT_WAIT, "trickle");
		a = smtp_on_data(&s, (const uint8_t *)g + i, 1);
	}
	CHECK_INT(a, SMTP_ACT_SEND, "greeting");
	CHECK(output_is(&s, "QUIT\r\n"));
	CHECK_INT(feed(&s, "221 bye\r\n"), SMTP_ACT_CLOSE, "221");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "starttls_ok", "outcome");
	CHECK_STR(smtp_greeting_str(s.facts.greeting), "ok", "greeting");
	CHECK_INT(s.facts.banner_code, 220, "banner");
	CHECK_INT(s.facts.ehlo_code, 0, "no ehlo");
	CHECK_INT(s.facts.quit_code, 221, "quit");
	CHECK_INT(s.facts.starttls_offered, SMTP_FACT_UNSEEN, "offered");
	CHECK_INT(s.facts.injection, SMTP_FACT_UNSEEN, "injection");
	CHECK_INT(s.transcript.nseg, 3, "segments");
	for (size_t i = 0; i < s.transcript.nseg; i++)
		CHECK(s.transcript.seg[i].tls);
	smtp_session_free(&s);
}

UNIT_TEST(smtp_implicit_greetings)
{
	static struct smtp_session s;

	/* A refusing greeting inside TLS: the outcome stays the
	 * handshake's, QUIT goes out politely as on port 25. */
	to_implicit_greeting(&s);
	CHECK_INT(feed(&s, "554 5.7.1 go away\r\n"), SMTP_ACT_SEND, "554");
	CHECK(output_is(&s, "QUIT\r\n"));
	CHECK_STR(smtp_rc_str(s.facts.outcome), "starttls_ok", "outcome");
	CHECK_STR(smtp_greeting_str(s.facts.greeting), "rejected", "554");

	/* Not SMTP inside TLS: nothing is sent. */
	to_implicit_greeting(&s);
	CHECK_INT(feed(&s, "* OK IMAP4rev1\r\n"), SMTP_ACT_CLOSE, "garbage");
	CHECK_STR(smtp_greeting_str(s.facts.greeting), "garbage", "garbage");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "starttls_ok", "outcome");

	/* Silence inside TLS. */
	to_implicit_greeting(&s);
	CHECK_INT(smtp_on_timeout(&s, SMTP_TIMER_STAGE), SMTP_ACT_CLOSE, "to");
	CHECK_STR(smtp_greeting_str(s.facts.greeting), "timeout", "timeout");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "starttls_ok", "outcome");

	/* Closed before a greeting: not reached. */
	to_implicit_greeting(&s);
	CHECK_INT(smtp_on_eof(&s), SMTP_ACT_CLOSE, "eof");
	CHECK_STR(smtp_greeting_str(s.facts.greeting), NULL, "eof");

	/* The handshake fails: no greeting, tls_failed. */
	smtp_session_free(&s);
	smtp_session_init_mode(&s, EHLO_NAME, NULL, SMTP_TLS_IMPLICIT);
	CHECK_INT(smtp_on_connected(&s), SMTP_ACT_START_TLS, "connected");
	/* Plaintext before the handshake (a port-25 banner on 465) is
	 * unsolicited, not an injection: no STARTTLS was answered. */
	CHECK_INT(feed(&s, "220 plaintext\r\n"), SMTP_ACT_WAIT, "plain");
	CHECK_INT(s.facts.unsolicited_bytes, 15, "unsolicited");
	CHECK_INT(s.facts.injection, SMTP_FACT_UNSEEN, "injection");
	CHECK_INT(smtp_on_tls_done(&s, false, "alert"), SMTP_ACT_CLOSE, "tls");
	CHECK_STR(smtp_rc_str(s.facts.outcome), "tls_failed", "outcome");
	CHECK_STR(s.facts.tls_reason, "alert", "reason");
	CHECK_STR(smtp_greeting_str(s.facts.greeting), NULL, "greeting");

	/* Data as the first event still starts the handshake. */
	smtp_session_free(&s);
	smtp_session_init_mode(&s, EHLO_NAME, NULL, SMTP_TLS_IMPLICIT);
	CHECK_INT(feed(&s, "x"), SMTP_ACT_START_TLS, "data first");
	smtp_session_free(&s);

	/* The STARTTLS mode records the greeting too. */
	CHECK_INT(reinit(&s, EHLO_NAME, NULL), 0, "init");
	CHECK_INT(s.mode, SMTP_TLS_STARTTLS, "default mode");
	smtp_on_connected(&s);
	feed(&s, "220 mx\r\n");
	CHECK_STR(smtp_greeting_str(s.facts.greeting), "ok", "port 25");
	smtp_session_free(&s);
	CHECK_STR(smtp_greeting_str(SMTP_GREETING_LAST), NULL, "name");
}
