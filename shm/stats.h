/*
 * shm/stats.h - the per-domain delivery stats table (MXS_TAB_STATS).
 *
 * Key: the peer domain, canonical.  Value: MXS_STAT_NFIELDS little-endian
 * int64 counters in this order (the field names shmctl stats prints):
 *
 *   queued_messages, failed_http, failed_https, failed_smtp, success_http,
 *   success_https, success_smtp, successful_deliveries, total_latency_ms,
 *   last_active (unix seconds)
 *
 * Clients never write these: they post events (shm/events.h) and the
 * daemon aggregates, publishes and persists them.
 */
#ifndef MXC_SHM_STATS_H
#define MXC_SHM_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_STAT_QUEUED        0
#define MXS_STAT_FAILED_HTTP   1
#define MXS_STAT_FAILED_HTTPS  2
#define MXS_STAT_FAILED_SMTP   3
#define MXS_STAT_SUCCESS_HTTP  4
#define MXS_STAT_SUCCESS_HTTPS 5
#define MXS_STAT_SUCCESS_SMTP  6
#define MXS_STAT_DELIVERIES    7
#define MXS_STAT_LATENCY       8
#define MXS_STAT_LAST_ACTIVE   9
#define MXS_STAT_NFIELDS       10
#define MXS_STAT_VALUE_LEN     (MXS_STAT_NFIELDS * 8)

/* event transports (e_aux of the delivery events) */
#define MXS_STAT_T_NONE  0
#define MXS_STAT_T_HTTP  1
#define MXS_STAT_T_HTTPS 2
#define MXS_STAT_T_SMTP  3

#define MXS_STAT_DELTA_MAX    1000000      /* |delta| of one queue event */
#define MXS_STAT_LATENCY_MAX  86400000     /* ms: a day; longer is a clock error */

static inline void mxc_stat_encode(uint8_t *out, const int64_t *f)
{
	memcpy(out, f, MXS_STAT_VALUE_LEN);
}

static inline int mxc_stat_decode(const uint8_t *v, size_t vlen, int64_t *f)
{
	if (vlen != MXS_STAT_VALUE_LEN)
		return -1;
	memcpy(f, v, MXS_STAT_VALUE_LEN);
	return 0;
}

#endif /* MXC_SHM_STATS_H */
