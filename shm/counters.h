/*
 * shm/counters.h - the daemon's event counters, published in the region
 * header (h_ctr) for shmctl status and shmctl metrics.
 *
 * Each counter only grows while one daemon runs; a restart starts them
 * again from zero (h_writer_start says when).  The writer copies them into
 * the header on every publish and tick, so a reader sees them at most
 * WRITER_TICK_MS late.  Indices never change meaning; new counters take
 * unused indices below MXC_CTR_MAX, which needs no layout bump (an unused
 * index reads 0 and has no name).
 *
 * Leaf header: no I/O, no allocation.
 */
#ifndef MXC_SHM_COUNTERS_H
#define MXC_SHM_COUNTERS_H

#include <stddef.h>

#define MXC_CTR_MAX 64

enum mxc_ctr {
	/* limits a peer can reach: what was refused, each logged once */
	MXC_CTR_LIMIT_STS = 0,        /* policy fetches not started: [limits] sts_entries */
	MXC_CTR_LIMIT_MX,             /* MX lookups not started: [limits] mx_entries */
	MXC_CTR_LIMIT_STATS,          /* stats events for new domains dropped: [limits] stats_domains */
	MXC_CTR_LIMIT_SERVERS,        /* tracker values not counted: [limits] servers */
	MXC_CTR_LIMIT_EVENTS,         /* client events dropped: [limits] client_events_per_s */
	MXC_CTR_LIMIT_CTL_CONN,       /* admin connections refused: too many open */
	MXC_CTR_CTL_DENIED,           /* admin connections or changes refused: credentials */
	MXC_CTR_EVENTS_BAD,           /* client events that failed validation */
	MXC_CTR_STORE_FAILED,         /* writer rounds SQLite refused (disk full, read-only, I/O) */
	MXC_CTR_EVENTS,               /* client events accepted */
	MXC_CTR_USED = 10
};

/* Name (Prometheus style, without the mxcache_ prefix) and meaning. */
static inline const char *mxc_ctr_name(int i)
{
	static const char *const names[MXC_CTR_USED] = {
		"limit_sts_entries_total",
		"limit_mx_entries_total",
		"limit_stats_domains_total",
		"limit_servers_total",
		"limit_client_events_total",
		"limit_ctl_connections_total",
		"ctl_denied_total",
		"client_events_invalid_total",
		"store_failures_total",
		"client_events_total",
	};

	return i >= 0 && i < MXC_CTR_USED ? names[i] : NULL;
}

static inline const char *mxc_ctr_help(int i)
{
	static const char *const help[MXC_CTR_USED] = {
		"MTA-STS policy fetches not started because the policy cache holds [limits] sts_entries",
		"MX lookups not started because the MX cache holds [limits] mx_entries",
		"delivery events for new domains dropped because [limits] stats_domains are counted",
		"tracker values not counted because a set holds [limits] servers",
		"client events dropped because a client posted more than [limits] client_events_per_s",
		"admin connections refused because 32 were open",
		"admin connections or changes refused by their peer credentials",
		"client events that failed validation",
		"writer rounds refused because SQLite could not write (disk full, read-only, I/O error)",
		"client events accepted",
	};

	return i >= 0 && i < MXC_CTR_USED ? help[i] : NULL;
}

#endif
