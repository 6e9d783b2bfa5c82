/* Output to stdout or a user-named file, compressed by suffix (outfile.h). */
#include "crawler/cli/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "crawler/util/log.h"

/* Plain bytes gathered before one compression or write call. */
#define OUT_BUF (256u << 10)
/* zstd level 3 (its default) and gzip level 1: both keep up with the
 * export's rate on one core; the output is archived, not squeezed. */
#define OUT_ZSTD_LEVEL 3
#define OUT_GZIP_LEVEL 1

struct outfile {
	const char *who;
	char *path; /* NULL: stdout */
	char *tmp;  /* temporary file renamed to path; NULL: written directly */
	int fd;
	enum out_codec codec;
	bool failed;
	ZSTD_CCtx *zc;
	z_stream gz;
	bool gz_init;
	unsigned char *buf; /* plain bytes, then compressed bytes */
	size_t len;
	unsigned char *cbuf;
	size_t ccap;
};

const char *out_codec_str(enum out_codec c)
{
	switch (c) {
	case OUT_PLAIN:
		return "plain";
	case OUT_GZIP:
		return "gzip";
	case OUT_ZSTD:
		return "zstd";
	}
	return "?";
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

enum out_codec out_codec_of(const char *path)
{
	if (path && ends_with(path, ".zst"))
		return OUT_ZSTD;
	if (path && ends_with(path, ".gz"))
		return OUT_GZIP;
	return OUT_PLAIN;
}

static int write_all(struct outfile *o, const unsigned char *p, size_t n)
{
	while (n > 0 && !o->failed) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_error("%s: writing %s: %s", o->who,
				  o->path ? o->path : "stdout",
				  w < 0 ? strerror(errno) : "short write");
			o->failed = true;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return o->failed ? -1 : 0;
}

/* Compresses and writes the buffered bytes; `end` finishes the frame. */
static int flush_buf(struct outfile *o, bool end)
{
	if (o->failed)
		return -1;
	if (o->codec == OUT_PLAIN) {
		int rc = write_all(o, o->buf, o->len);
		o->len = 0;
		return rc;
	}
	if (o->codec == OUT_ZSTD) {
		ZSTD_inBuffer in = { o->buf, o->len, 0 };
		for (;;) {
			ZSTD_outBuffer out = { o->cbuf, o->ccap, 0 };
			size_t left = ZSTD_compressStream2(
			    o->zc, &out, &in,
			    end ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left)) {
				log_error("%s: zstd: %s", o->who,
					  ZSTD_getErrorName(left));
				o->failed = true;
				return -1;
			}
			if (write_all(o, o->cbuf, out.pos) != 0)
				return -1;
			if (end ? left == 0 : in.pos == in.size)
				break;
		}
	} else {
		o->gz.next_in = o->buf;
		o->gz.avail_in = (uInt)o->len;
		for (;;) {
			o->gz.next_out = o->cbuf;
			o->gz.avail_out = (uInt)o->ccap;
			int zr = deflate(&o->gz, end ? Z_FINISH : Z_NO_FLUSH);
			if (zr == Z_STREAM_ERROR) {
				log_error("%s: gzip: deflate failed", o->who);
				o->failed = true;
				return -1;
			}
			if (write_all(o, o->cbuf, o->ccap - o->gz.avail_out) !=
			    0)
				return -1;
			if (end ? zr == Z_STREAM_END
				: o->gz.avail_in == 0 && o->gz.avail_out != 0)
				break;
		}
	}
	o->len = 0;
	return 0;
}

/* A temporary file beside path: same directory, so rename is atomic. */
static int open_tmp(struct outfile *o)
{
	char *copy = strdup(o->path);
	if (!copy)
		return -1;
	const char *dir = dirname(copy);
	char *base_copy = strdup(o->path);
	if (!base_copy) {
		free(copy);
		return -1;
	}
	const char *base = basename(base_copy);
	int n = asprintf(&o->tmp, "%s/.%s.XXXXXX", dir, base);
	free(copy);
	free(base_copy);
	if (n < 0) {
		o->tmp = NULL;
		return -1;
	}
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0) {
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	mode_t mask = umask(0);
	umask(mask);
	(void)fchmod(o->fd, 0666 & ~mask);
	return 0;
}

struct outfile *outfile_open(const char *who, const char *path)
{
	struct outfile *o = calloc(1, sizeof *o);
	if (!o) {
		log_error("%s: out of memory", who);
		return NULL;
	}
	o->who = who;
	o->fd = STDOUT_FILENO;
	if (path && strcmp(path, "-") != 0) {
		struct stat st;
		o->path = strdup(path);
		o->codec = out_codec_of(path);
		if (!o->path)
			goto fail_errno;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			/* A link: what it points to is written, the link
			 * stays a link (a regular file is replaced beside
			 * it); a dangling link is refused. */
			if (stat(path, &st) != 0)
				goto fail_errno;
			char *real =
			    S_ISREG(st.st_mode) ? realpath(path, NULL) : NULL;
			if (S_ISREG(st.st_mode) && !real)
				goto fail_errno;
			if (real) {
				free(o->path);
				o->path = real;
			}
		}
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			/* A device, FIFO or socket: written in place. */
			if (S_ISDIR(st.st_mode)) {
				errno = EISDIR;
				goto fail_errno;
			}
			o->fd = open(path, O_WRONLY | O_CLOEXEC);
			if (o->fd < 0)
				goto fail_errno;
		} else if (open_tmp(o) != 0) {
			goto fail_errno;
		}
	}
	o->buf = malloc(OUT_BUF);
	if (!o->buf)
		goto fail_nomem;
	if (o->codec == OUT_ZSTD) {
		o->ccap = ZSTD_CStreamOutSize();
		o->zc = ZSTD_createCCtx();
		if (!o->zc ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			o->zc, ZSTD_c_compressionLevel, OUT_ZSTD_LEVEL)) ||
		    ZSTD_isError(
			ZSTD_CCtx_setParameter(o->zc, ZSTD_c_checksumFlag, 1)))
			goto fail_nomem;
	} else if (o->codec == OUT_GZIP) {
		o->ccap = OUT_BUF;
		/* windowBits 15 + 16: a gzip header and trailer. */
		if (deflateInit2(&o->gz, OUT_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			goto fail_nomem;
		o->gz_init = true;
	}
	if (o->ccap && !(o->cbuf = malloc(o->ccap)))
		goto fail_nomem;
	return o;
fail_errno:
	log_error("%s: cannot create %s: %s", who, path, strerror(errno));
	outfile_close(o, false);
	return NULL;
fail_nomem:
	log_error("%s: out of memory", who);
	outfile_close(o, false);
	return NULL;
}

int outfile_write(struct outfile *o, const void *p, size_t n)
{
	const unsigned char *s = p;
	while (n > 0 && !o->failed) {
		size_t room = OUT_BUF - o->len, k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == OUT_BUF && flush_buf(o, false) != 0)
			return -1;
	}
	return o->failed ? -1 : 0;
}

int outfile_close(struct outfile *o, bool ok)
{
	int rc = 0;
	if (!o)
		return -1;
	if (ok && o->buf)
		rc = flush_buf(o, o->codec != OUT_PLAIN);
	if (o->failed)
		rc = -1;
	if (o->tmp) {
		if (o->fd >= 0 && close(o->fd) != 0 && rc == 0) {
			log_error("%s: writing %s: %s", o->who, o->path,
				  strerror(errno));
			rc = -1;
		}
		if (ok && rc == 0 && rename(o->tmp, o->path) != 0) {
			log_error("%s: cannot create %s: %s", o->who, o->path,
				  strerror(errno));
			rc = -1;
		}
		/* Only ever the temporary file this process created. */
		if (!ok || rc != 0)
			unlink(o->tmp);
	} else if (o->fd > STDOUT_FILENO) {
		if (close(o->fd) != 0 && rc == 0)
			rc = -1;
	}
	if (o->gz_init)
		deflateEnd(&o->gz);
	ZSTD_freeCCtx(o->zc);
	free(o->buf);
	free(o->cbuf);
	free(o->tmp);
	free(o->path);
	free(o);
	return ok ? rc : -1;
}
