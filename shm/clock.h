/*
 * shm/clock.h - the clocks, one name per clock, for both sides.
 *
 *   mono_ms, mono_us   CLOCK_MONOTONIC: intervals and deadlines
 *   mono_coarse_ms     CLOCK_MONOTONIC_COARSE: the same, a tick coarser,
 *                      read from the vDSO (no system call): pacing on a
 *                      lookup path
 *   wall_ms            CLOCK_REALTIME: times written for others to read
 *                      (heartbeats, publish times) and compared with them
 *   wall_coarse_s      CLOCK_REALTIME_COARSE, seconds: expiry checks on a
 *                      lookup path (a tick of skew is nothing against TTLs)
 *
 * A wall-clock time is never used to pace anything: a step of the clock
 * would stretch or skip the pause.
 */
#ifndef MXC_SHM_CLOCK_H
#define MXC_SHM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mxc_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t mono_ms(void)
{
	return mxc_clock_ms(CLOCK_MONOTONIC);
}

static inline uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t mono_coarse_ms(void)
{
	return mxc_clock_ms(CLOCK_MONOTONIC_COARSE);
}

static inline uint64_t wall_ms(void)
{
	return mxc_clock_ms(CLOCK_REALTIME);
}

static inline int64_t wall_coarse_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

#endif /* MXC_SHM_CLOCK_H */
