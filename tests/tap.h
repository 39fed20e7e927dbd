/*
 * tests/tap.h - TAP output for the C tests (liburcu's tests/utils/tap.h
 * idea, cut to what we use).  Each check prints "ok N - what" or
 * "not ok N - what" with file:line and the got/want; tap_done() prints the
 * plan and returns the exit status.  tools/test.sh adds the counts up.
 */
#ifndef MXC_TESTS_TAP_H
#define MXC_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_vresult(int ok, const char *file, int line, const char *fmt, va_list ap)
{
	tap_n++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - ", ok ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	if (!ok)
		printf("  # at %s:%d", file, line);
	printf("\n");
	fflush(stdout);
}

static inline int tap_result(int ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_result(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vresult(ok, file, line, fmt, ap);
	va_end(ap);
	return ok;
}

/* ok(cond, fmt, ...) - one check. */
#define ok(cond, ...) tap_result(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* is_int(got, want, what) / is_str(got, want, what) - got/want checks. */
#define is_int(got, want, what)                                                 \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);        \
		if (!ok(g_ == w_, "%s", what))                                  \
			printf("#   got %lld, want %lld\n", g_, w_);           \
	} while (0)
#define is_str(got, want, what)                                                 \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                           \
		int e_ = (g_ == NULL && w_ == NULL) ||                          \
			 (g_ && w_ && strcmp(g_, w_) == 0);                     \
		if (!ok(e_, "%s", what))                                        \
			printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", \
			       w_ ? w_ : "(null)");                             \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* MXC_TESTS_TAP_H */
