/*
 * shm/counters.h - the daemon's counters and gauges, published in the
 * region header (h_ctr) for shmctl status, shmctl metrics and the
 * metrics endpoint.
 *
 * Counters only grow while one daemon runs; a restart starts them again
 * from zero (h_writer_start says when).  Gauges are set, not added to.
 * The writer copies them into the header on every publish and tick, so a
 * reader sees them at most WRITER_TICK_MS late.  Indices never change
 * meaning; new ones take unused indices below MXS_CTR_MAX, which needs no
 * layout bump (an unused index reads 0 and has no name).
 *
 * Names are Prometheus metric names without the "mxcache_" prefix, some
 * with a label set; indices of one family are contiguous, so a formatter
 * writes its HELP and TYPE lines once.  A name ending in "_total" is a
 * counter, any other a gauge.
 *
 * Leaf header: no I/O, no allocation.
 */
#ifndef MXC_SHM_COUNTERS_H
#define MXC_SHM_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_CTR_MAX 64

enum mxc_ctr {
	/* limits a peer can reach: what was refused, each logged once */
	MXS_CTR_LIMIT_STS = 0,        /* policy fetches not started: [limits] sts_entries */
	MXS_CTR_LIMIT_MX,             /* MX lookups not started: [limits] mx_entries */
	MXS_CTR_LIMIT_STATS,          /* stats events for new domains dropped: [limits] stats_domains */
	MXS_CTR_LIMIT_SERVERS,        /* tracker values not counted: [limits] servers */
	MXS_CTR_LIMIT_EVENTS,         /* client events dropped: [limits] client_events_per_s */
	MXS_CTR_LIMIT_CTL_CONN,       /* admin connections refused: too many open */
	MXS_CTR_CTL_DENIED,           /* admin connections or changes refused: credentials */
	MXS_CTR_EVENTS_BAD,           /* client events that failed validation */
	MXS_CTR_STORE_FAILED,         /* writer rounds SQLite refused (disk full, read-only, I/O) */
	MXS_CTR_EVENTS,               /* client events accepted */

	/* MTA-STS checks by result (sts_check), failures by class */
	MXS_CTR_STS_POLICY = 10,      /* a policy fetched, or its id unchanged */
	MXS_CTR_STS_NONE,             /* the domain publishes none */
	MXS_CTR_STS_FAILED,           /* failed (classes below) */
	MXS_CTR_STS_FAIL_DNS,         /* MXS_STS_FAIL_DNS .. _RECORD, in order */
	MXS_CTR_STS_FAIL_FETCH,
	MXS_CTR_STS_FAIL_INVALID,
	MXS_CTR_STS_FAIL_WEBPKI,
	MXS_CTR_STS_FAIL_RECORD,
	MXS_CTR_MX_LOOKUPS,           /* MX lookups done */
	MXS_CTR_STS_LAG,              /* gauge: seconds the most overdue refresh is late */

	/* the writer's SQLite commits */
	MXS_CTR_STORE_COMMITS = 20,   /* rounds committed */
	MXS_CTR_STORE_COMMIT_US,      /* their time, microseconds (seconds in metrics) */

	/* admin connections refused by the pools of ctl.c (beside MXS_CTR_LIMIT_CTL_CONN) */
	MXS_CTR_LIMIT_CTL_READONLY = 22,  /* read-only peers: CTL_READONLY_CONN open */
	MXS_CTR_LIMIT_CTL_UID,            /* one uid: CTL_UID_CONN open */

	/* the socketmap server (mxcache-socketmap), by map and by answer */
	MXS_CTR_SM_MTASTS = 24,
	MXS_CTR_SM_TRANSPORT,
	MXS_CTR_SM_FEDERATION,
	MXS_CTR_SM_OK,
	MXS_CTR_SM_NOTFOUND,
	MXS_CTR_SM_TEMP,
	MXS_CTR_SM_PERM,
	MXS_CTR_SM_CONN,              /* connections accepted */
	MXS_CTR_SM_CONN_REFUSED,      /* refused: [socketmap] max_connections or a listener's limit */
	MXS_CTR_SM_CONN_REFUSED_PEER, /* refused: the limit per TCP address or unix uid */
	MXS_CTR_SM_TIMEOUT,           /* closed: idle, a request not complete, replies not read in time */

	/* client processes' reader blocks (daemon/readers.c) */
	MXS_CTR_READERS_REFUSED = 35, /* refused: not a sealed block of the right size, or too many */

	/* what clients' misses may cost the MTA-STS manager (daemon/sts_quota.h) */
	MXS_CTR_LIMIT_MISSES = 36,    /* misses not checked: [limits] client_misses_per_s */
	MXS_CTR_LIMIT_ZONE_MISSES,    /* misses not checked: STS_ZONE_MISSES_PER_S under one parent */
	MXS_CTR_LIMIT_MISS_BACKLOG,   /* misses not checked: STS_MISS_BACKLOG of one source waiting */
	MXS_CTR_LIMIT_MISS_ENTRIES,   /* never-confirmed entries evicted: [limits] sts_miss_entries */

	/* DNSSEC as the resolver reports it (daemon/dns.h), and DANE's lookups:
	 * answers that never carry AD mean a resolver that does not validate */
	MXS_CTR_DNS_AD = 40,          /* DNS answers taken with the AD bit */
	MXS_CTR_DNS_NOAD,             /* and without it */
	MXS_CTR_TLSA_LOOKUPS,         /* TLSA lookups done (daemon/dane.c) */
	MXS_CTR_USED = 43
};

/* Name (Prometheus style, without the mxcache_ prefix, labels included). */
static inline const char *mxc_ctr_name(int i)
{
	static const char *const names[MXS_CTR_USED] = {
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
		"sts_checks_total{result=\"policy\"}",
		"sts_checks_total{result=\"none\"}",
		"sts_checks_total{result=\"failed\"}",
		"sts_failures_total{class=\"dns\"}",
		"sts_failures_total{class=\"sts-policy-fetch-error\"}",
		"sts_failures_total{class=\"sts-policy-invalid\"}",
		"sts_failures_total{class=\"sts-webpki-invalid\"}",
		"sts_failures_total{class=\"record\"}",
		"mx_lookups_total",
		"sts_refresh_lag_seconds",
		"store_commits_total",
		"store_commit_seconds_total",
		"limit_ctl_readonly_connections_total",
		"limit_ctl_uid_connections_total",
		"socketmap_requests_total{map=\"mtasts\"}",
		"socketmap_requests_total{map=\"transport\"}",
		"socketmap_requests_total{map=\"federation\"}",
		"socketmap_answers_total{answer=\"OK\"}",
		"socketmap_answers_total{answer=\"NOTFOUND\"}",
		"socketmap_answers_total{answer=\"TEMP\"}",
		"socketmap_answers_total{answer=\"PERM\"}",
		"socketmap_connections_total",
		"socketmap_connections_refused_total",
		"socketmap_peer_connections_refused_total",
		"socketmap_timeouts_total",
		"reader_registrations_refused_total",
		"limit_client_misses_total",
		"limit_sts_zone_misses_total",
		"limit_sts_miss_backlog_total",
		"limit_sts_miss_entries_total",
		"dns_answers_total{authenticated=\"yes\"}",
		"dns_answers_total{authenticated=\"no\"}",
		"tlsa_lookups_total",
	};

	return i >= 0 && i < MXS_CTR_USED ? names[i] : NULL;
}

/* HELP text: one per family, on its first index. */
static inline const char *mxc_ctr_help(int i)
{
	static const char *const help[MXS_CTR_USED] = {
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
		"MTA-STS checks by result",
		NULL, NULL,
		"failed MTA-STS checks by class",
		NULL, NULL, NULL, NULL,
		"MX lookups done",
		"how late the most overdue MTA-STS refresh is",
		"writer rounds committed to SQLite",
		"time spent in SQLite commits",
		"admin connections refused because 8 peers without change rights were connected",
		"admin connections refused because one uid other than root had 8 open",
		"socketmap requests by map",
		NULL, NULL,
		"socketmap answers by kind",
		NULL, NULL, NULL,
		"socketmap connections accepted",
		"socketmap connections refused because [socketmap] max_connections, or the listener's own limit, were open",
		"socketmap connections refused because [socketmap] max_connections_per_address or max_connections_per_uid were open",
		"socketmap connections closed idle, with a request not complete, or with replies not read in time",
		"reader blocks refused: not a sealed block of the right size, or too many client processes",
		"MTA-STS misses not checked because a client missed more than [limits] client_misses_per_s",
		"MTA-STS misses not checked because names under one parent domain came faster than 10 a second",
		"MTA-STS misses not checked because 64 of the same client were waiting",
		"never-confirmed MTA-STS entries evicted for new ones ([limits] sts_miss_entries, sts_entries)",
		"DNS answers taken, by whether the resolver set the AD bit (DNSSEC-authenticated)",
		NULL,
		"TLSA lookups done for DANE",
	};

	return i >= 0 && i < MXS_CTR_USED ? help[i] : NULL;
}

/* What to divide the stored value by for its metric (microseconds in,
 * seconds out). */
static inline uint64_t mxc_ctr_scale(int i)
{
	return i == MXS_CTR_STORE_COMMIT_US ? 1000000 : 1;
}

/* 1 for a gauge, 0 for a counter: counters end in "_total" before any
 * label set. */
static inline int mxc_ctr_is_gauge(int i)
{
	const char *n = mxc_ctr_name(i), *b;
	size_t len;

	if (n == NULL)
		return 0;
	b = strchr(n, '{');
	len = b != NULL ? (size_t)(b - n) : strlen(n);
	return len < 6 || memcmp(n + len - 6, "_total", 6) != 0;
}

#endif
