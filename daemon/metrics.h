/*
 * daemon/metrics.h - the optional metrics endpoint: GET /metrics over
 * HTTP on a loopback address ([metrics] listen), the same text as
 * shmctl metrics (shm/metrics.h formats both).
 */
#ifndef MXC_DAEMON_METRICS_H
#define MXC_DAEMON_METRICS_H

#include <stddef.h>

struct config;
struct region;
struct metrics;

/*
 * metrics_start - bind cfg's [metrics] listen address and serve it from
 * one thread.  Without the setting, *out = NULL and nothing runs.  rg's
 * reader table gives the slot and event figures; the data file's header
 * is read by name for each scrape (the writer may replace the file).
 * Returns 0, or -1 with a message in err.  Main thread, at start.
 */
int metrics_start(const struct config *cfg, const char *dir, struct region *rg, struct metrics **out, char *err,
		  size_t errlen);

/* metrics_stop - stop the thread, close the socket.  m may be NULL. */
void metrics_stop(struct metrics *m);

#endif
