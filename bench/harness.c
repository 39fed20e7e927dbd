/*
 * bench/harness.c - the measuring harness of bench/harness.h.  Not a
 * program: the Makefile links it into each bench program.
 */
#include <stdlib.h>
#include <time.h>

#include "bench/harness.h"

static double mono_ns_d(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double clock_overhead(void)
{
	double v[CLOCK_PROBES];

	for (unsigned i = 0; i < CLOCK_PROBES; i++) {
		double t0 = mono_ns_d();
		v[i] = mono_ns_d() - t0;
	}
	qsort(v, CLOCK_PROBES, sizeof(v[0]), cmp_d);
	return v[CLOCK_PROBES / 2];
}
