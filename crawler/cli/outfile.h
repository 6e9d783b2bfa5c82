/*
 * Where a command's output goes: stdout, or a file named by the user,
 * compressed by its suffix (.zst: zstd, .gz: gzip).
 *
 * A regular file (or a path that does not exist yet) is written to a
 * temporary file beside it and renamed over it only when everything was
 * written, so a failed run never leaves half an output where a complete
 * one was. Anything else that exists (a character device such as
 * /dev/null, a FIFO, a socket) is opened and written directly: it is
 * never replaced, truncated or unlinked.
 */
#ifndef MXCRAWL_CRAWLER_OUTFILE_H
#define MXCRAWL_CRAWLER_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>

enum out_codec { OUT_PLAIN, OUT_GZIP, OUT_ZSTD };

const char *out_codec_str(enum out_codec c);

/* The codec a path's suffix asks for (".zst", ".gz"; else plain). */
enum out_codec out_codec_of(const char *path);

struct outfile;

/* Opens path (NULL or "-": stdout, uncompressed). Returns NULL and says
 * why on stderr (prefixed with `who`) when it cannot. */
struct outfile *outfile_open(const char *who, const char *path);

/* Buffers, compresses and writes n bytes; -1 once anything failed (the
 * failure is sticky and reported by outfile_close). */
int outfile_write(struct outfile *o, const void *p, size_t n);

/* Finishes the stream and, for a temporary file, renames it into place
 * when ok is true; removes it otherwise. Frees o. Returns 0 when every
 * byte was written and the file is in place. */
int outfile_close(struct outfile *o, bool ok);

#endif
