/*
 * daemon/clock.h - the daemon's clocks are the shared ones: mono_ms and
 * mono_us for intervals and deadlines, wall_ms for what clients read as
 * times (coarser wall-clock times come from time()).
 */
#ifndef MXC_DAEMON_CLOCK_H
#define MXC_DAEMON_CLOCK_H

#include "../shm/clock.h"

#endif /* MXC_DAEMON_CLOCK_H */
