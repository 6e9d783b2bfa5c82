/* mxcrawl targets check FILE: what would be scanned, and every rejected line. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crawler/cli/cli.h"
#include "crawler/util/log.h"
#include "crawler/cli/commands.h"

/* Bytes of a rejected line shown in messages. */
#define SHOW_MAX 80
/* Bytes read to guess a file's format. */
#define SNIFF_BYTES 16384

static const char usage[] =
    "usage: mxcrawl targets check FILE [--format auto|plain|tranco|zone]\n"
    "                             [--origin NAME] [--names] [--quiet]\n"
    "\n"
    "Reads a target file the way 'mxcrawl scan' would and prints every\n"
    "rejected line with its number and reason, then the counts.\n"
    "\n"
    "Formats: plain (one domain a line, '#' comments), tranco (rank,domain),\n"
    "zone (DNS zone file: the delegated names, i.e. NS owners below the\n"
    "apex). 'auto' (default) guesses from the first lines.\n"
    "\n"
    "Options:\n"
    "  --format F     the file's format (default auto)\n"
    "  --origin NAME  zone files: origin for relative names before any $ORIGIN\n"
    "  --names        also print every accepted name on stdout\n"
    "  -q, --quiet    print only the counts\n"
    "\n"
    "Exit status: 0 at least one valid name; 65 none; 66 unreadable file;\n"
    "64 usage.\n";

FILE *targets_cli_open(const char *path, const char *format,
		       const struct targets_format **fmt)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		log_error("cannot open target file '%s': %s", path,
			  strerror(errno));
		return NULL;
	}
	if (format && strcmp(format, "auto") != 0) {
		*fmt = targets_format_find(format);
		if (!*fmt) {
			log_error("unknown target format '%s' (plain, tranco, "
				  "zone or auto)",
				  format);
			fclose(f);
			return NULL;
		}
		return f;
	}
	uint8_t head[SNIFF_BYTES];
	size_t n = fread(head, 1, sizeof head, f);
	if (ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
		log_error("cannot read target file '%s': %s (give --format for "
			  "a pipe)",
			  path, strerror(errno));
		fclose(f);
		return NULL;
	}
	*fmt = targets_format_sniff(head, n);
	return f;
}

void targets_cli_print_reject(FILE *out, const char *path,
			      const struct targets_reject *rj)
{
	const char *code = rj->rc == TARGETS_BAD_NAME ? name_rc_str(rj->name_rc)
						      : targets_rc_str(rj->rc);
	size_t show = rj->text_len < SHOW_MAX ? rj->text_len : SHOW_MAX;

	fprintf(out, "%s:%" PRIu64 ": rejected (%s): %s: \"", path, rj->line,
		code, rj->detail ? rj->detail : "");
	for (size_t i = 0; i < show; i++) {
		uint8_t c = rj->text[i];
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
	fputc('"', out);
	if (show < rj->len)
		fprintf(out, "... (%zu bytes)", rj->len);
	fputc('\n', out);
}

void targets_cli_print_stats(FILE *out, const struct targets_format *fmt,
			     const struct targets_stats *st)
{
	fprintf(out,
		"format: %s\n"
		"lines: %" PRIu64 "\n"
		"names: %" PRIu64 "\n"
		"duplicates: %" PRIu64 "\n"
		"rejected: %" PRIu64 "\n"
		"skipped: %" PRIu64 "\n",
		fmt->name, st->lines, st->names, st->duplicates, st->rejected,
		st->skipped);
}

struct check {
	const char *path;
	int names;
	int quiet;
};

static int on_name(void *arg, const struct targets_item *it)
{
	struct check *ck = arg;

	if (ck->names)
		printf("%s\n", it->name);
	return 0;
}

static void on_reject(void *arg, const struct targets_reject *rj)
{
	struct check *ck = arg;

	if (!ck->quiet)
		targets_cli_print_reject(stdout, ck->path, rj);
}

int cmd_targets(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, CLI_OPT_FORMAT },
		{ "origin", required_argument, NULL, CLI_OPT_ORIGIN },
		{ "names", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = NULL, *origin = NULL;
	const struct targets_format *fmt;
	struct check ck = { 0 };
	int ch;

	while ((ch = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_FORMAT:
			format = optarg;
			break;
		case CLI_OPT_ORIGIN:
			origin = optarg;
			break;
		case 'n':
			ck.names = 1;
			break;
		case 'q':
			ck.quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK;
		default:
			return cli_usage_error("targets", "unknown option");
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "check") != 0)
		return cli_usage_error("targets", "expected 'check FILE'");
	ck.path = argv[optind + 1];

	FILE *f = targets_cli_open(ck.path, format, &fmt);
	if (!f)
		return EX_NOINPUT;
	struct targets_reader *r =
	    targets_reader_new(fmt, origin, on_name, on_reject, &ck);
	if (!r) {
		fclose(f);
		log_error("out of memory");
		return EX_OSERR;
	}
	int rc = targets_read_file(r, f);
	fclose(f);
	if (rc < 0) {
		log_error("reading '%s': %s", ck.path, strerror(-rc));
		targets_reader_free(r);
		return EX_IOERR;
	}
	const struct targets_stats *st = targets_stats(r);
	targets_cli_print_stats(ck.names ? stderr : stdout, fmt, st);
	int empty = st->names == 0;
	targets_reader_free(r);
	if (empty) {
		log_error("'%s' holds no valid names", ck.path);
		return EX_DATAERR;
	}
	return EX_OK;
}
