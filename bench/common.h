/*
 * bench/common.h - what the benchmark programs share: the key and target
 * generator (fixed seeds, so every program and every run measures the
 * same names), the random numbers behind it, and the quantile helpers.
 * Header-only: the Makefile builds every .c file in bench/ into a program.
 */
#ifndef MXC_BENCH_COMMON_H
#define MXC_BENCH_COMMON_H

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Each program names itself before including this header. */
#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench/common.h"
#endif

#define KEY_SLOT         48          /* bytes per stored key: KEY_MAX + NUL, rounded up */
#define KEY_MIN          10          /* key lengths wanted, in characters */
#define KEY_MAX          40
#define KEY_TRIES        64          /* draws before the fallback key shape */
#define TARGET_SLOT      64          /* bytes per target: longest generated + NUL */
#define KEY_SEED         UINT64_C(0x6d78636163686531)   /* fixed: runs comparable */
#define TARGET_SEED      UINT64_C(0x7461726765747321)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* progress - one line on stderr, prefixed with the program's name. */
static inline void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void progress(const char *fmt, ...)
{
	va_list ap;

	fputs(BENCH_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* now_ns - the monotonic clock in nanoseconds, as a double for arithmetic
 * on latencies. */
static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A uniform integer below bound (bound < 2^32): multiply-shift, whose bias
 * at these bounds is far below anything a latency figure could show. */
static inline uint32_t below(uint64_t *s, uint32_t bound)
{
	return (uint32_t)(((splitmix64(s) >> 32) * (uint64_t)bound) >> 32);
}

/*
 * Key shapes.  The first label is a letters-only prefix followed by the
 * decimal index, so it alone identifies the index: keys for different
 * indices never collide, and the keys of indices n..2n-1 are certain
 * misses of a table holding 0..n-1.
 */
static const char *const key_prefix[] = { "host", "mx", "mail", "smtp", "relay", "in", "mta",
					  "edge", "gw", "out", "inbound", "mailgw" };
static const char *const key_word[] = { "a", "io", "ops", "corp", "acme", "shop", "north",
					"globex", "initech", "umbrella", "hooli", "example",
					"megacorp", "contoso", "fabrikam", "wayneenterprises",
					"eu-west", "customers", "lists", "bounce" };
static const char *const key_tld[] = { "com", "net", "org", "de", "io", "example.com", "co.uk",
				       "example.net", "mail.example.org", "ac.jp" };

static inline void make_key(uint64_t i, char *out)
{
	uint64_t s = i ^ KEY_SEED;
	int n;

	for (unsigned t = 0; t < KEY_TRIES; t++) {
		n = snprintf(out, KEY_SLOT, "%s%" PRIu64 ".%s.%s", key_prefix[below(&s, NELEM(key_prefix))], i,
			     key_word[below(&s, NELEM(key_word))], key_tld[below(&s, NELEM(key_tld))]);
		if (n >= KEY_MIN && n <= KEY_MAX)
			return;
	}
	/* "mx" + at most 8 digits + ".example.com": always 15..22 chars */
	snprintf(out, KEY_SLOT, "mx%" PRIu64 ".example.com", i);
}

/* Targets: half IPv4 addresses (canonical dotted quads), half host names. */
static inline void make_target(uint64_t i, char *out)
{
	uint64_t s = i ^ TARGET_SEED;
	uint64_t r = splitmix64(&s);

	if (r & 1)
		snprintf(out, TARGET_SLOT, "%u.%u.%u.%u", 10u + (unsigned)((r >> 8) % 200),
			 (unsigned)((r >> 16) & 255), (unsigned)((r >> 24) & 255),
			 1u + (unsigned)((r >> 32) % 254));
	else
		snprintf(out, TARGET_SLOT, "mx%u.%s.%s", (unsigned)((r >> 8) % 1000),
			 key_word[below(&s, NELEM(key_word))], key_tld[below(&s, NELEM(key_tld))]);
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted v[0..n); 0 for an empty set. */
static inline double quantile(const double *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.5);

	if (n == 0)
		return 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

#endif /* MXC_BENCH_COMMON_H */
