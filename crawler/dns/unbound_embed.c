#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crawler/util/log.h"
#include "crawler/dns/unbound_embed.h"
#include "crawler/util/str.h"

#define UNBOUND_EMBED_DEFAULT_PROGRAM "/usr/sbin/unbound"
/* Seconds a new resolver has to answer its first query, and a running one
 * (reused) to answer again. */
#define UNBOUND_EMBED_START_SECONDS 30
#define UNBOUND_EMBED_REUSE_SECONDS 5
/* Seconds stop waits for unbound to exit after SIGTERM. */
#define UNBOUND_EMBED_STOP_SECONDS 30
/* The port is picked in [LOW, LOW + SPAN): below Linux's ephemeral range
 * (32768 and up), so that no outgoing connection of another program holds
 * it when the resolver starts again later. */
#define UNBOUND_EMBED_PORT_LOW 20000
#define UNBOUND_EMBED_PORT_SPAN 12000
#define UNBOUND_EMBED_PORT_TRIES 64
/* The largest root hints or trust anchor file copied (Debian's are about
 * 3 KiB and 1 KiB). */
#define UNBOUND_EMBED_FILE_MAX (1u << 20)

static const char *const rc_names[UNBOUND_EMBED_RC_LAST] = {
	[UNBOUND_EMBED_OK] = "ok",
	[UNBOUND_EMBED_CANTCREATE] = "cantcreate",
	[UNBOUND_EMBED_NOINPUT] = "noinput",
	[UNBOUND_EMBED_MISMATCH] = "mismatch",
	[UNBOUND_EMBED_FAILED] = "failed",
};

const char *unbound_embed_rc_str(enum unbound_embed_rc rc)
{
	if ((unsigned)rc >= UNBOUND_EMBED_RC_LAST)
		return "unknown";
	return rc_names[rc];
}

int unbound_embed_init(struct unbound_embed *u)
{
	const char *prog = getenv("MXCRAWL_UNBOUND");

	memset(u, 0, sizeof *u);
	int rc = pgembed_init(&u->pg);
	if (rc != 0)
		return rc;
	u->dir = str_printf("%s/resolver", u->pg.root);
	if (u->dir) {
		u->conf = str_printf("%s/unbound.conf", u->dir);
		u->pidfile = str_printf("%s/unbound.pid", u->dir);
		u->logfile = str_printf("%s/unbound.log", u->dir);
		u->statefile = str_printf("%s/state", u->dir);
		u->lockfile = str_printf("%s/lock", u->dir);
		u->hints = str_printf("%s/root.hints", u->dir);
		u->anchor = str_printf("%s/root.key", u->dir);
	}
	u->program =
	    strdup(prog && *prog ? prog : UNBOUND_EMBED_DEFAULT_PROGRAM);
	if (!u->dir || !u->conf || !u->pidfile || !u->logfile ||
	    !u->statefile || !u->lockfile || !u->hints || !u->anchor ||
	    !u->program) {
		unbound_embed_free(u);
		return -ENOMEM;
	}
	return 0;
}

void unbound_embed_free(struct unbound_embed *u)
{
	pgembed_free(&u->pg);
	free(u->dir);
	free(u->conf);
	free(u->pidfile);
	free(u->logfile);
	free(u->statefile);
	free(u->lockfile);
	free(u->hints);
	free(u->anchor);
	free(u->program);
	memset(u, 0, sizeof *u);
}

/* ---- pure parts: the root hints, the sizes ------------------------------ */

/* Whether the text form of an address is a loopback address. */
static int addr_text_loopback(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, s, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* The longest token looked at; longer ones are no address anyway. */
#define HINTS_TOKEN_MAX 64
#define HINTS_LINE_TOKENS 8

int unbound_embed_hints_loopback(const char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		char tok[HINTS_LINE_TOKENS][HINTS_TOKEN_MAX];
		int n = 0, comment = 0;
		/* One line: its first tokens, up to a ';' comment. */
		while (i < len && text[i] != '\n') {
			if (text[i] == ';')
				comment = 1;
			if (comment || isspace((unsigned char)text[i])) {
				i++;
				continue;
			}
			size_t start = i;
			while (i < len && text[i] != '\n' && text[i] != ';' &&
			       !isspace((unsigned char)text[i]))
				i++;
			size_t tl = i - start;
			if (n < HINTS_LINE_TOKENS) {
				if (tl >= HINTS_TOKEN_MAX)
					tl = HINTS_TOKEN_MAX - 1;
				memcpy(tok[n], text + start, tl);
				tok[n][tl] = '\0';
			}
			n++;
		}
		i++;
		/* "owner [ttl] [class] A|AAAA address": the type is the
		 * second-to-last token and not the owner. */
		if (n >= 3 && n <= HINTS_LINE_TOKENS &&
		    (!strcasecmp(tok[n - 2], "A") ||
		     !strcasecmp(tok[n - 2], "AAAA")) &&
		    addr_text_loopback(tok[n - 1]))
			return 1;
	}
	return 0;
}

/*
 * Sizes for a scan, from the machine (the resolver is shared by every scan
 * that runs while it does, so the machine, not one scan, decides):
 *
 * - threads: half the cores, 1 to 4. A cold-cache query costs unbound
 *   about 42 us of CPU (TESTBED-NOTES), so one thread answers some 20,000
 *   queries/s, about 2,000 domains/s of a scan's query mix; the crawler's
 *   own TLS handshakes need the other half of the machine.
 * - caches: a 1M-domain scan fills about 2.7 GiB of message and RRset cache
 *   (TESTBED-NOTES). The budget is an eighth of the memory, 96 MiB to
 *   3 GiB, so that a whole Tranco scan fits on a machine with 24 GiB and
 *   PostgreSQL and the crawler keep the rest; unbound takes memory only as
 *   it fills the cache. RRsets get twice the messages (unbound's advice),
 *   keys a sixteenth (every signed zone's DNSKEY, for DANE and MX
 *   validation), negative answers a sixty-fourth.
 * - queries: a scan keeps up to --concurrency domains (default 1000) with
 *   several lookups each in flight; 4096 queries per thread and 8192
 *   outgoing sockets keep unbound from dropping the oldest ones.
 * - infrastructure cache: a million domains have some 100,000 name server
 *   hosts; unbound's default of 10,000 would forget their timeouts.
 */
void unbound_embed_size_for(long cores, uint64_t ram,
			    struct unbound_embed_size *sz)
{
	const uint64_t mib = 1024 * 1024;
	uint64_t budget = ram / 8;

	memset(sz, 0, sizeof *sz);
	sz->threads = cores >= 2 ? (unsigned)(cores / 2) : 1;
	if (sz->threads > 4)
		sz->threads = 4;
	sz->slabs = 4; /* unbound's default; a power of 2 >= threads */
	while (sz->slabs < sz->threads)
		sz->slabs *= 2;
	if (budget < 96 * mib)
		budget = 96 * mib;
	if (budget > 3072 * mib)
		budget = 3072 * mib;
	sz->msg_cache = budget / 3 / mib * mib;
	sz->rrset_cache = 2 * sz->msg_cache;
	sz->key_cache = budget / 16 / mib * mib;
	sz->neg_cache = budget / 64 / mib * mib;
	if (sz->neg_cache < mib)
		sz->neg_cache = mib;
	sz->queries_per_thread = 4096;
	sz->outgoing_range = 8192;
	sz->infra_hosts = 100000;
}

/* ---- files ------------------------------------------------------------- */

/* Reads a whole file of at most UNBOUND_EMBED_FILE_MAX bytes (malloc'ed,
 * NUL-terminated). NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(UNBOUND_EMBED_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, UNBOUND_EMBED_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > UNBOUND_EMBED_FILE_MAX) {
			free(buf);
			close(fd);
			errno = EFBIG;
			return NULL;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Writes `len` bytes to `path` (in the resolver's directory) through a
 * temporary file renamed over it, owned by the resolver's user. 0 or a
 * negative errno (-ENOMEM, or what open, write, fchown, close or rename
 * said). */
static int write_file(const struct unbound_embed *u, const char *path,
		      const char *data, size_t len)
{
	char *tmp = str_printf("%s.tmp", path);
	int fd, rc = 0;

	if (!tmp)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			close(fd);
			goto out;
		}
		off += (size_t)w;
	}
	if (u->pg.drop && fchown(fd, u->pg.uid, u->pg.gid) != 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		rc = -errno;
out:
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int unbound_embed_state_read(const struct unbound_embed *u,
			     struct unbound_embed_state *st)
{
	FILE *f = fopen(u->statefile, "re");
	char line[4200];

	memset(st, 0, sizeof *st);
	if (!f)
		return -errno;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *v = strchr(line, ' ');
		if (!v)
			continue;
		*v++ = '\0';
		if (!strcmp(line, "address"))
			snprintf(st->address, sizeof st->address, "%s", v);
		else if (!strcmp(line, "root-hints"))
			snprintf(st->root_hints, sizeof st->root_hints, "%s",
				 v);
		else if (!strcmp(line, "trust-anchor"))
			snprintf(st->trust_anchor, sizeof st->trust_anchor,
				 "%s", v);
	}
	fclose(f);
	return st->address[0] ? 0 : -ENODATA;
}

static int state_write(const struct unbound_embed *u,
		       const struct unbound_embed_state *st)
{
	char *text = str_printf("address %s\nroot-hints %s\ntrust-anchor %s\n",
				st->address, st->root_hints, st->trust_anchor);
	int rc =
	    text ? write_file(u, u->statefile, text, strlen(text)) : -ENOMEM;

	free(text);
	return rc;
}

/* The port of "IP:PORT", or 0. */
static unsigned address_port(const char *address)
{
	const char *colon = strrchr(address, ':');
	long p = colon ? strtol(colon + 1, NULL, 10) : 0;

	return p > 0 && p < 65536 ? (unsigned)p : 0;
}

/* ---- the process ------------------------------------------------------- */

long unbound_embed_pid(const struct unbound_embed *u)
{
	char line[64], path[64];
	FILE *f;
	long pid = 0;

	if (access(u->conf, F_OK) != 0)
		return -ENOENT;
	f = fopen(u->pidfile, "re");
	if (!f)
		return 0;
	if (fgets(line, sizeof line, f))
		pid = strtol(line, NULL, 10);
	fclose(f);
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
		return 0;
	/* A PID file left by a resolver that did not exit cleanly may name
	 * another program by now. */
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (f) {
		int is = fgets(line, sizeof line, f) &&
			 strncmp(line, "unbound\n", 8) == 0;
		fclose(f);
		if (!is)
			return 0;
	}
	return pid;
}

/* Whether nothing listens on UNBOUND_EMBED_ADDR:port, UDP and TCP. */
static int port_free(unsigned port)
{
	int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, UNBOUND_EMBED_ADDR, &sa.sin_addr);
	for (int i = 0; i < 2; i++) {
		int fd = socket(AF_INET, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 0;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(fd);
		if (!ok)
			return 0;
	}
	return 1;
}

/* A free port for a new resolver: the one it had before if still free,
 * else one picked at random in the range. 0 if none is free. */
static unsigned pick_port(unsigned previous)
{
	if (previous && port_free(previous))
		return previous;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int i = 0; i < UNBOUND_EMBED_PORT_TRIES; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned p = UNBOUND_EMBED_PORT_LOW +
			     (seed >> 8) % UNBOUND_EMBED_PORT_SPAN;
		if (port_free(p))
			return p;
	}
	return 0;
}

/* Asks id.server (CHAOS TXT), which unbound answers itself without asking
 * anyone, once, waiting at most `ms`: 1 if an answer came. */
static int answers(unsigned port, int ms)
{
	static const uint8_t qname[] = "\x02id\x06server";
	uint8_t q[12 + sizeof qname + 4], r[512];
	uint16_t id = (uint16_t)(getpid() ^ time(NULL));
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int fd, ok = 0;

	memset(q, 0, sizeof q);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[5] = 1; /* QDCOUNT */
	memcpy(q + 12, qname, sizeof qname);
	q[12 + sizeof qname + 1] = 16; /* TXT */
	q[12 + sizeof qname + 3] = 3;  /* CH */
	inet_pton(AF_INET, UNBOUND_EMBED_ADDR, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    send(fd, q, sizeof q, 0) != (ssize_t)sizeof q)
		goto out;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, ms) == 1) {
		ssize_t n = recv(fd, r, sizeof r, 0);
		/* Our ID, and the QR bit: an answer to this query. */
		ok = n >= 12 && r[0] == q[0] && r[1] == q[1] && (r[2] & 0x80);
	}
out:
	close(fd);
	return ok;
}

/* Waits until the resolver answers, its process has gone, or `seconds`
 * have passed. */
static int wait_ready(const struct unbound_embed *u, unsigned port, int seconds)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (answers(port, 200))
			return 0;
		/* Refused at once while unbound is not listening yet. */
		struct timespec pause = { 0, 50 * 1000 * 1000 };
		nanosleep(&pause, NULL);
		/* The PID file is written after unbound has detached; once it
		 * is there, a dead process will not answer. */
		if (access(u->pidfile, F_OK) == 0 && unbound_embed_pid(u) == 0)
			return -ESRCH;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= seconds)
			return -ETIMEDOUT;
	}
}

/* Runs unbound on the written configuration; it detaches itself (it has
 * bound its port by then) and exits 0, or says why not in its log. */
static int run_unbound(const struct unbound_embed *u)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int log = open(u->logfile,
			       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (in >= 0)
			dup2(in, 0);
		if (log >= 0) {
			/* unbound opens it again after becoming its user. */
			if (u->pg.drop &&
			    fchown(log, u->pg.uid, u->pg.gid) != 0)
				_exit(126);
			dup2(log, 1);
			dup2(log, 2);
		}
		/* No descriptor of the crawler (database connections, the
		 * lock) may live on in the daemon. */
		if (close_range(3, ~0u, 0) != 0)
			for (int fd = 3; fd < 65536; fd++)
				close(fd);
		execl(u->program, u->program, "-c", u->conf, (char *)NULL);
		fprintf(stderr, "mxcrawl: cannot run %s: %s\n", u->program,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_error("waitpid: %s", strerror(errno));
			return -errno;
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

char *unbound_embed_conf_text(const struct unbound_embed_conf *c)
{
	const struct unbound_embed_size *sz = &c->size;
	const uint64_t mib = 1024 * 1024;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f,
		"# Written by mxcrawl at every start of its embedded "
		"resolver: edits are lost.\n"
		"server:\n"
		"  directory: \"%s\"\n"
		"  chroot: \"\"\n"
		/* As root, unbound opens its sockets (and may raise their
		 * buffers) first, then becomes this user. */
		"  username: \"%s\"\n"
		"  pidfile: \"%s\"\n"
		"  do-daemonize: yes\n"
		"  use-syslog: no\n"
		"  logfile: \"%s\"\n"
		"  log-time-ascii: yes\n"
		"  verbosity: 1\n"
		/* Why an answer is bogus, in the log. */
		"  val-log-level: 2\n"
		"  interface: " UNBOUND_EMBED_ADDR "\n"
		"  port: %u\n"
		"  access-control: 127.0.0.0/8 allow\n"
		"  root-hints: \"%s\"\n"
		"  auto-trust-anchor-file: \"%s\"\n"
		"  module-config: \"validator iterator\"\n"
		/* Without it every EDE figure is empty on unbound 1.17. */
		"  ede: yes\n"
		"  qname-minimisation: yes\n"
		"  harden-glue: yes\n"
		"  harden-dnssec-stripped: yes\n"
		/* A scan asks each name once: no early refresh, and never an
		 * expired answer in place of a fresh one. */
		"  prefetch: no\n"
		"  serve-expired: no\n"
		"  num-threads: %u\n"
		"  msg-cache-slabs: %u\n"
		"  rrset-cache-slabs: %u\n"
		"  infra-cache-slabs: %u\n"
		"  key-cache-slabs: %u\n"
		"  msg-cache-size: %" PRIu64 "m\n"
		"  rrset-cache-size: %" PRIu64 "m\n"
		"  key-cache-size: %" PRIu64 "m\n"
		"  neg-cache-size: %" PRIu64 "m\n"
		"  infra-cache-numhosts: %u\n"
		"  num-queries-per-thread: %u\n"
		"  outgoing-range: %u\n"
		/* c-ares falls back to TCP for truncated answers, one
		 * connection per worker. */
		"  incoming-num-tcp: 100\n"
		/* Bursts of answers: the default buffer drops queries at a
		 * few hundred in flight (granted in full as root only). */
		"  so-rcvbuf: 4m\n"
		"  so-sndbuf: 4m\n"
		"  so-reuseport: yes\n",
		c->dir, c->user, c->pidfile, c->logfile, c->port, c->hints,
		c->anchor, sz->threads, sz->slabs, sz->slabs, sz->slabs,
		sz->slabs, sz->msg_cache / mib, sz->rrset_cache / mib,
		sz->key_cache / mib, sz->neg_cache / mib, sz->infra_hosts,
		sz->queries_per_thread, sz->outgoing_range);
	if (c->private_root)
		/* A root on loopback is a private one (a testbed): unbound
		 * must query loopback addresses, and the special-use names
		 * it would answer itself are that root's to answer. */
		fputs("  do-not-query-localhost: no\n"
		      "  local-zone: \"test.\" nodefault\n"
		      "  local-zone: \"invalid.\" nodefault\n"
		      "  local-zone: \"onion.\" nodefault\n",
		      f);
	fputs("remote-control:\n  control-enable: no\n", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Writes unbound.conf for a resolver on `port`, sized for this machine. */
static int write_conf(const struct unbound_embed *u, unsigned port,
		      int private_root)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	struct unbound_embed_conf c = {
		.dir = u->dir,
		.user = u->pg.drop ? u->pg.os_user : "",
		.pidfile = u->pidfile,
		.logfile = u->logfile,
		.hints = u->hints,
		.anchor = u->anchor,
		.port = port,
		.private_root = private_root,
	};

	unbound_embed_size_for(
	    sysconf(_SC_NPROCESSORS_ONLN),
	    pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0,
	    &c.size);
	char *text = unbound_embed_conf_text(&c);
	if (!text)
		return -ENOMEM;
	int rc = write_file(u, u->conf, text, strlen(text));
	free(text);
	return rc;
}

/* Serialises start and stop between mxcrawl processes. */
static int lock_dir(const struct unbound_embed *u)
{
	int fd = open(u->lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		int rc = -errno;
		log_error("cannot open %s: %s", u->lockfile, strerror(-rc));
		return rc;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int rc = -errno;
			log_error("cannot lock %s: %s", u->lockfile,
				  strerror(-rc));
			close(fd);
			return rc;
		}
	}
	return fd;
}

/* The absolute, resolved form of a source file, checked readable. */
static enum unbound_embed_rc source_path(const char *what, const char *given,
					 char *out)
{
	if (!realpath(given, out)) {
		log_error("the %s '%s' cannot be read: %s", what, given,
			  strerror(errno));
		return UNBOUND_EMBED_NOINPUT;
	}
	return UNBOUND_EMBED_OK;
}

/* The running resolver may serve this call: asked for the same sources. */
static enum unbound_embed_rc check_running(const struct unbound_embed *u,
					   long pid, const char *root_hints,
					   const char *trust_anchor,
					   struct unbound_embed_state *st)
{
	char want[PATH_MAX];
	const char *what[2] = { "root hints", "trust anchor" };
	const char *given[2] = { root_hints, trust_anchor };
	const char *has[2];

	if (unbound_embed_state_read(u, st) != 0 ||
	    !address_port(st->address)) {
		log_error("the private resolver runs (pid %ld) but %s does "
			  "not say where: stop it with 'mxcrawl resolver "
			  "stop'",
			  pid, u->statefile);
		return UNBOUND_EMBED_FAILED;
	}
	has[0] = st->root_hints;
	has[1] = st->trust_anchor;
	for (int i = 0; i < 2; i++) {
		if (!given[i])
			continue;
		enum unbound_embed_rc rc = source_path(what[i], given[i], want);
		if (rc != UNBOUND_EMBED_OK)
			return rc;
		if (strcmp(want, has[i]) != 0) {
			log_error("the private resolver runs (pid %ld) with "
				  "the %s from %s, not %s: stop it first "
				  "('mxcrawl resolver stop')",
				  pid, what[i], has[i], want);
			return UNBOUND_EMBED_MISMATCH;
		}
	}
	return UNBOUND_EMBED_OK;
}

/* Copies the sources into the directory (the trust anchor only when it
 * comes from another file than last time: unbound keeps its copy up to
 * date, RFC 5011) and says whether the root is a private one. */
static enum unbound_embed_rc copy_sources(const struct unbound_embed *u,
					  const struct unbound_embed_state *old,
					  const struct unbound_embed_state *st,
					  int *private_root)
{
	const char *src[2] = { st->root_hints, st->trust_anchor };
	const char *dst[2] = { u->hints, u->anchor };

	for (int i = 0; i < 2; i++) {
		if (i == 1 && !strcmp(old->trust_anchor, st->trust_anchor) &&
		    access(u->anchor, F_OK) == 0)
			continue;
		size_t len = 0;
		char *text = read_file(src[i], &len);
		if (!text) {
			log_error("cannot read %s: %s", src[i],
				  strerror(errno));
			return UNBOUND_EMBED_NOINPUT;
		}
		if (i == 0)
			*private_root = unbound_embed_hints_loopback(text, len);
		int rc = write_file(u, dst[i], text, len);
		free(text);
		if (rc != 0) {
			log_error("cannot write %s: %s", dst[i], strerror(-rc));
			return UNBOUND_EMBED_CANTCREATE;
		}
	}
	return UNBOUND_EMBED_OK;
}

/* Starts a new resolver from the sources in *st (under the lock). */
static enum unbound_embed_rc start_new(struct unbound_embed *u, int verbose,
				       struct unbound_embed_state *st)
{
	struct unbound_embed_state old;
	int private_root = 0;
	enum unbound_embed_rc rc;

	if (unbound_embed_state_read(u, &old) != 0)
		memset(&old, 0, sizeof old);
	rc = copy_sources(u, &old, st, &private_root);
	if (rc != UNBOUND_EMBED_OK)
		return rc;
	unsigned port = pick_port(address_port(old.address));
	if (!port) {
		log_error("no free port on " UNBOUND_EMBED_ADDR
			  " for the private resolver");
		return UNBOUND_EMBED_FAILED;
	}
	snprintf(st->address, sizeof st->address, UNBOUND_EMBED_ADDR ":%u",
		 port);
	int wrc = write_conf(u, port, private_root);
	if (wrc == 0)
		wrc = state_write(u, st);
	if (wrc != 0) {
		log_error("cannot write in %s: %s", u->dir, strerror(-wrc));
		return UNBOUND_EMBED_CANTCREATE;
	}
	/* A PID file of a resolver that was killed names no unbound (checked
	 * by the caller): unbound would refuse to start over it. */
	if (unlink(u->pidfile) != 0 && errno != ENOENT) {
		log_error("cannot remove %s: %s", u->pidfile, strerror(errno));
		return UNBOUND_EMBED_CANTCREATE;
	}
	if (verbose)
		printf("starting the private resolver (unbound on %s, root "
		       "hints %s, trust anchor %s%s, log %s)\n",
		       st->address, st->root_hints, st->trust_anchor,
		       private_root ? "; a private root on loopback" : "",
		       u->logfile);
	int status = run_unbound(u);
	if (status != 0) {
		log_error("unbound did not start (exit %d); its log is %s",
			  status, u->logfile);
		return UNBOUND_EMBED_FAILED;
	}
	if (wait_ready(u, port, UNBOUND_EMBED_START_SECONDS) != 0) {
		log_error("the private resolver on %s does not answer; its "
			  "log is %s",
			  st->address, u->logfile);
		return UNBOUND_EMBED_FAILED;
	}
	return UNBOUND_EMBED_OK;
}

enum unbound_embed_rc unbound_embed_start(struct unbound_embed *u,
					  const char *root_hints,
					  const char *trust_anchor, int verbose,
					  struct unbound_embed_state *st,
					  int *started)
{
	enum unbound_embed_rc rc;
	int lock;

	*started = 0;
	memset(st, 0, sizeof *st);
	int prep = pgembed_prepare_subdir(&u->pg, u->dir, verbose);
	if (prep != 0)
		return prep == PGEMBED_CANTCREATE ? UNBOUND_EMBED_CANTCREATE
						  : UNBOUND_EMBED_FAILED;
	lock = lock_dir(u);
	if (lock < 0)
		return UNBOUND_EMBED_CANTCREATE;
	long pid = unbound_embed_pid(u);
	if (pid > 0) {
		rc = check_running(u, pid, root_hints, trust_anchor, st);
		if (rc == UNBOUND_EMBED_OK &&
		    wait_ready(u, address_port(st->address),
			       UNBOUND_EMBED_REUSE_SECONDS) != 0) {
			log_error("the private resolver (pid %ld) does not "
				  "answer on %s; its log is %s",
				  pid, st->address, u->logfile);
			rc = UNBOUND_EMBED_FAILED;
		}
		if (rc == UNBOUND_EMBED_OK && verbose)
			printf("the private resolver is already running (pid "
			       "%ld, on %s)\n",
			       pid, st->address);
		goto out;
	}
	rc = source_path("root hints",
			 root_hints ? root_hints : UNBOUND_EMBED_ROOT_HINTS,
			 st->root_hints);
	if (rc == UNBOUND_EMBED_OK)
		rc = source_path("trust anchor",
				 trust_anchor ? trust_anchor
					      : UNBOUND_EMBED_TRUST_ANCHOR,
				 st->trust_anchor);
	if (rc == UNBOUND_EMBED_OK)
		rc = start_new(u, verbose, st);
	if (rc == UNBOUND_EMBED_OK)
		*started = 1;
out:
	close(lock);
	return rc;
}

int unbound_embed_stop(struct unbound_embed *u, int verbose)
{
	long pid = unbound_embed_pid(u);
	int lock, rc = -ETIMEDOUT;

	if (pid <= 0) {
		if (verbose)
			printf("the private resolver is not running\n");
		return 0;
	}
	lock = lock_dir(u);
	if (lock < 0)
		return lock;
	if (verbose)
		printf("stopping the private resolver (pid %ld)\n", pid);
	if (kill((pid_t)pid, SIGTERM) != 0 && errno != ESRCH) {
		rc = -errno;
		log_error("cannot stop the private resolver (pid %ld): %s", pid,
			  strerror(-rc));
		goto out;
	}
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	for (int i = 0; i < UNBOUND_EMBED_STOP_SECONDS * 50; i++) {
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			rc = 0;
			goto out;
		}
		nanosleep(&tick, NULL);
	}
	log_error("the private resolver (pid %ld) has not exited %d s after "
		  "SIGTERM; its log is %s",
		  pid, UNBOUND_EMBED_STOP_SECONDS, u->logfile);
out:
	close(lock);
	return rc;
}
