/*
 * bench_key - what normalising a key costs: mxk_normalize() (fast path
 * for plain host names) next to mxk_normalize_full() (the general parser
 * alone) on the very keys bench_resolve looks up.
 *
 *   bench_key [--keys N] [--rounds N]
 *
 * Spellings: the keys as generated (canonical, as bench_resolve passes
 * them), the same keys in mixed case with a root dot (what a mail server
 * may pass), and for reference the kinds the fast path leaves to the
 * general parser (IPv4 literals and U-labels).  Each row is the mean over
 * ROUNDS passes over the N keys, after one untimed pass.
 *
 * For a figure that does not depend on the machine's load, count
 * instructions instead:
 *   valgrind --tool=callgrind --toggle-collect=mxk_normalize \
 *       build/bench/bench_key --keys 1000 --rounds 10 --only canonical
 * and divide the instructions by keys x (rounds + 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "bench_key"
#include "bench/common.h"
#include "shm/key.h"

#define KEYS_DEFAULT   1000
#define ROUNDS_DEFAULT 1000
#define KEYS_MAX       1000000

typedef int (*normalize_fn)(const char *, char *, size_t, size_t *, int *);

enum spelling { CANONICAL, MIXED_DOT, IPV4, ULABEL, SPELLINGS };

static const char *const spelling_name[SPELLINGS] = { "canonical", "mixed-case-dot", "ipv4", "u-label" };

/* Key i in the given spelling, into out (KEY_SLOT + 16 bytes). */
static void spell(uint64_t i, enum spelling sp, char *out)
{
	size_t n, k;

	switch (sp) {
	case CANONICAL:
		make_key(i, out);
		return;
	case MIXED_DOT:
		make_key(i, out);
		n = strlen(out);
		for (k = 0; k < n; k += 2)
			if (out[k] >= 'a' && out[k] <= 'z')
				out[k] = (char)(out[k] - 32);
		out[n] = '.';
		out[n + 1] = '\0';
		return;
	case IPV4:
		snprintf(out, KEY_SLOT, "10.%u.%u.%u", (unsigned)(i >> 16) & 255, (unsigned)(i >> 8) & 255,
			 (unsigned)i & 255);
		return;
	default:
		/* "b\u00fccher" + index: IDNA through libidn2 */
		snprintf(out, KEY_SLOT, "b\xc3\xbc" "cher%" PRIu64 ".example", i);
		return;
	}
}

/* Mean ns per call over rounds passes; *sum keeps the work observable. */
static double run(normalize_fn fn, char (*keys)[KEY_SLOT + 16], size_t nkeys, unsigned rounds, size_t *sum)
{
	char out[MXK_MAX_LEN + 1];
	size_t len, i;
	unsigned r;
	int kind;
	double t0;

	for (i = 0; i < nkeys; i++)
		if (fn(keys[i], out, sizeof(out), &len, &kind) == MXK_OK)
			*sum += len;
	t0 = now_ns();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < nkeys; i++)
			if (fn(keys[i], out, sizeof(out), &len, &kind) == MXK_OK)
				*sum += len + (size_t)kind;
	return (now_ns() - t0) / ((double)rounds * (double)nkeys);
}

int main(int argc, char **argv)
{
	size_t nkeys = KEYS_DEFAULT, sum = 0, i;
	unsigned rounds = ROUNDS_DEFAULT;
	const char *only = NULL;
	char(*keys)[KEY_SLOT + 16];
	int a, sp;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--keys") == 0 && a + 1 < argc) {
			nkeys = strtoul(argv[++a], NULL, 10);
		} else if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc) {
			rounds = (unsigned)strtoul(argv[++a], NULL, 10);
		} else if (strcmp(argv[a], "--only") == 0 && a + 1 < argc) {
			only = argv[++a];
		} else {
			fprintf(stderr, "usage: bench_key [--keys N] [--rounds N] [--only SPELLING]\n"
					"  SPELLING: canonical, mixed-case-dot, ipv4, u-label\n");
			return 2;
		}
	}
	if (nkeys == 0 || nkeys > KEYS_MAX || rounds == 0) {
		fprintf(stderr, "bench_key: --keys 1..%d, --rounds at least 1\n", KEYS_MAX);
		return 2;
	}
	keys = calloc(nkeys, sizeof(*keys));
	if (!keys) {
		perror("bench_key");
		return 1;
	}
	printf("# ns per call, mean over %u rounds of %zu keys\n", rounds, nkeys);
	printf("%-16s %12s %12s %8s\n", "spelling", "normalize", "full", "ratio");
	for (sp = 0; sp < SPELLINGS; sp++) {
		double fast, full;

		if (only && strcmp(only, spelling_name[sp]) != 0)
			continue;
		for (i = 0; i < nkeys; i++)
			spell(i, (enum spelling)sp, keys[i]);
		fast = run(mxk_normalize, keys, nkeys, rounds, &sum);
		/* under callgrind --toggle-collect=mxk_normalize, count one function only */
		full = only ? 0 : run(mxk_normalize_full, keys, nkeys, rounds, &sum);
		printf("%-16s %12.1f %12.1f %8.2f\n", spelling_name[sp], fast, full, fast > 0 ? full / fast : 0.0);
	}
	fprintf(stderr, "bench_key: checksum %zu\n", sum);
	free(keys);
	return 0;
}
