/* Runs every registered unit test; exit status 1 if any check failed. */
#include <stdarg.h>
#include <stdlib.h>

#include "unit.h"

static struct unit_test *tests;
static int failures;

void unit_register(struct unit_test *t)
{
	t->next = tests;
	tests = t;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

int main(int argc, char **argv)
{
	int ran = 0;

	for (struct unit_test *t = tests; t; t = t->next) {
		if (argc > 1 && strstr(t->name, argv[1]) == NULL)
			continue;
		int before = failures;
		t->fn();
		printf("%-40s %s\n", t->name,
		       failures == before ? "ok" : "FAIL");
		ran++;
	}
	printf("%d tests, %d failed checks\n", ran, failures);
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
