/*
 * daemon/clock.h - the daemon's monotonic clocks (ms, us), for
 * intervals and deadlines, and wall-clock ms for what clients read as
 * times (coarser wall-clock times come from time()).
 */
#ifndef MXC_DAEMON_CLOCK_H
#define MXC_DAEMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif /* MXC_DAEMON_CLOCK_H */
