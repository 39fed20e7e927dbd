/*
 * bench/harness.h - the measuring harness the benchmark programs share,
 * compiled once (bench/harness.c) and linked into each of them; the key
 * generator and the quantile helpers stay header-only in bench/common.h.
 */
#ifndef MXC_BENCH_HARNESS_H
#define MXC_BENCH_HARNESS_H

#define CLOCK_PROBES     1001        /* clock-pair timings for the overhead */

/* clock_overhead - the cost of the clock pair around a batch, in ns, to
 * subtract from it: the median of CLOCK_PROBES back-to-back readings of
 * CLOCK_MONOTONIC. */
double clock_overhead(void);

#endif /* MXC_BENCH_HARNESS_H */
