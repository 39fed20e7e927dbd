/*
 * daemon/counters.h - mxcached's event counters (shm/counters.h) and the
 * "logged once" rule for limits.
 *
 * A limit a peer can reach (a full cache, a client posting too fast, too
 * many admin connections) is not an error of the daemon: what it refuses
 * is counted, and the first time a limit is reached it is logged with the
 * module's name and the setting that governs it.  Later refusals are only
 * counted, so a hostile or broken peer cannot flood the log; the counters
 * are in the region for shmctl status and shmctl metrics.
 *
 * Thread safety: every function may be called from any thread (relaxed
 * atomics: counters are statistics, they order nothing).
 */
#ifndef MXC_DAEMON_COUNTERS_H
#define MXC_DAEMON_COUNTERS_H

#include <stdint.h>

#include "../shm/counters.h"
#include "../shm/layout.h"

/* ctr_add - add n to counter c (an enum mxc_ctr). */
void ctr_add(int c, uint64_t n);

/*
 * ctr_limit - a limit was reached: count one refusal in c and, the first
 * time for c since the start, log the printf-style message at warning
 * level followed by "(logged once; counted in shmctl metrics as NAME)".
 * Returns 1 when it logged, else 0.
 */
int ctr_limit(int c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ctr_set - set gauge c to v. */
void ctr_set(int c, uint64_t v);

/*
 * ctr_mirror - counters first .. first+n-1 are n counts another process
 * keeps in shared memory at src (the socketmap server's, shm/smstats.h):
 * ctr_copy reads them from there.  src must stay mapped until the end.
 */
void ctr_mirror(int first, int n, const uint64_t *src);

/* ctr_copy - copy every counter into the region header's h_ctr (writer). */
void ctr_copy(uint64_t out[MXS_CTR_MAX]);

/*
 * ctr_entries_set / ctr_entries - entries per table as last published;
 * set by the writer, read by threads that admit new entries (the limits
 * on cache sizes) without touching the writer's region.
 */
void ctr_entries_set(unsigned tab, uint64_t n);
uint64_t ctr_entries(unsigned tab);

#endif
