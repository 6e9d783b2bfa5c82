/*
 * A minimal assertion harness for the unit binary: every test_*.c file
 * registers its functions with UNIT_TEST(); a failed check prints the file,
 * line and values, marks the test failed and carries on, so one run shows
 * every failing row of a table.
 */
#ifndef MXCRAWL_TESTS_UNIT_H
#define MXCRAWL_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
	struct unit_test *next;
};

void unit_register(struct unit_test *t);
/* Counts a failed check; called by the macros below. */
void unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define UNIT_TEST(fname)                                                \
	static void fname(void);                                        \
	__attribute__((constructor)) static void fname##_register(void) \
	{                                                               \
		static struct unit_test t = { #fname, fname, NULL };    \
		unit_register(&t);                                      \
	}                                                               \
	static void fname(void)

#define CHECK(cond)                                                 \
	do {                                                        \
		if (!(cond))                                        \
			unit_fail(__FILE__, __LINE__, "%s", #cond); \
	} while (0)

#define CHECK_INT(got, want, ctx)                                              \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (g_ != w_)                                                  \
			unit_fail(__FILE__, __LINE__,                          \
				  "%s: %s = %lld, want %lld", (ctx), #got, g_, \
				  w_);                                         \
	} while (0)

#define CHECK_STR(got, want, ctx)                                              \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if ((g_ == NULL) != (w_ == NULL) ||                            \
		    (g_ && strcmp(g_, w_) != 0))                               \
			unit_fail(__FILE__, __LINE__,                          \
				  "%s: %s = \"%s\", want \"%s\"", (ctx), #got, \
				  g_ ? g_ : "(null)", w_ ? w_ : "(null)");     \
	} while (0)

#endif
