/*
 * daemon/stats.h - per-domain delivery stats (queued_messages, the
 * failures and successes per transport, latency, last_active):
 * aggregated from client events, published to the region (MXS_TAB_STATS,
 * shm/stats.h), persisted to SQLite (table stats).
 *
 * Thread safety: everything but stats_rebuild belongs to the event thread
 * (daemon/events.c), which owns the set; stats_rebuild runs at start, before.
 */
#ifndef MXC_DAEMON_STATS_H
#define MXC_DAEMON_STATS_H

#include <stddef.h>
#include <stdint.h>

struct region;
struct store;
struct writer;
struct stats;

/* stats_new / stats_free - an empty set; NULL when out of memory. */
struct stats *stats_new(void);
void stats_free(struct stats *s);

/*
 * stats_rebuild - load the stored counters into s and into a region being
 * built.  Returns the rows loaded, or -1 with err.
 */
int64_t stats_rebuild(struct stats *s, struct store *st, struct region *rg, char *err, size_t errlen);

/*
 * stats_event - count one client event (MXS_EV_QUEUE, _SUCCESS, _FAILURE
 * with its transport in aux) for domain (canonical, len bytes) at now.
 * The queue never goes below zero; an out-of-range value or an unknown
 * transport counts nothing.  Returns 0, or -1 (refused, or no memory).
 */
int stats_event(struct stats *s, int type, int aux, const char *domain, size_t len, int64_t value, int64_t now);

/*
 * stats_set_limit - at most domains records (0: no limit, the start): an
 * event for a new domain beyond it is dropped and counted
 * (MXS_CTR_LIMIT_STATS); stored domains stay, over the limit or not.
 * Any thread.
 */
void stats_set_limit(struct stats *s, unsigned domains);

/*
 * stats_tick - publish what changed (every 50 ms) and persist it (every
 * 10 s) through w; final: both now (at shutdown).
 */
void stats_tick(struct stats *s, struct writer *w, int final);

/* stats_due - when (mono ms) stats_tick next has something to send;
 * UINT64_MAX when nothing changed.  For the event thread's sleep. */
uint64_t stats_due(const struct stats *s);

/* stats_attach - take the delivery events of e's thread (daemon/events.h)
 * and publish from it; before events_start.  0, or -1. */
struct events;
int stats_attach(struct stats *s, struct events *e);

/* stats_module - the stats' part in main's steps (daemon/module.h):
 * rebuild, attach, limits, stop (free, after the event thread's stop). */
struct module_ops;
extern const struct module_ops stats_module;

#endif /* MXC_DAEMON_STATS_H */
