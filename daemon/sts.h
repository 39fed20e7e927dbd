/*
 * daemon/sts.h - the MTA-STS policy cache: records, their SQLite rows and
 * region values (sts_store.c), one domain's check (sts_check.c) and the
 * manager that runs checks for clients, for the admin and for the
 * refresher (sts.c).  Its workers also run the MX cache's lookups
 * (daemon/mx.h).
 *
 * Who does what:
 *   - clients find nothing usable and post an event (shm/events.h);
 *   - the event thread (daemon/events.h) drains the rings and hands the
 *     misses to the manager, which queues a job per domain, once: a
 *     domain already queued or checked a moment ago is not queued again;
 *   - a bounded pool of workers (sts.workers) runs the jobs: DNS through
 *     ldns, the policy over HTTPS, parse; each result goes to the writer
 *     as one change (SQLite, then the region), so a client's next lookup
 *     hits;
 *   - the refresher revisits policies before they expire, spread over
 *     time with jitter, and forgets entries unused for sts.forget_after_s.
 */
#ifndef MXC_DAEMON_STS_H
#define MXC_DAEMON_STS_H

#include <stddef.h>
#include <stdint.h>

#include "shm/sts.h"
#include "mx.h"
#include "sts_parse.h"

struct config;
struct region;
struct store;
struct writer;
struct dns;
struct https;
struct sqlite3;

#define STS_DETAIL_MAX   256
#define STS_NONE_TTL_MIN 300       /* "publishes no policy" stands at least this long */
#define STS_NONE_TTL_MAX 86400     /* and at most this long */
#define STS_RETRY_MIN    60        /* a kept policy is retried no sooner than this */

/*
 * A flag of struct sts_rec kept in SQLite only (never published): the
 * domain had a policy, so its entry is not a never-confirmed miss
 * (daemon/sts_quota.h), whatever kind it is now.
 */
#define STS_F_CONFIRMED 0x80

/* One entry of the MTA-STS cache, as stored. */
struct sts_rec {
	char domain[MXS_STS_PATTERN_MAX + 1];
	int kind;                    /* MXS_STS_KIND_* */
	int mode;                    /* MXS_STS_MODE_* */
	uint32_t max_age;
	int flags;                   /* MXS_STS_F_*, STS_F_CONFIRMED */
	int failure;                 /* MXS_STS_FAIL_* */
	char detail[STS_DETAIL_MAX]; /* the last failure, one line */
	char id[MXS_STS_ID_MAX + 1];
	size_t nmx;
	char mx[MXS_STS_MX_MAX][MXS_STS_PATTERN_MAX + 1];
	char *text;                  /* the policy as fetched (malloc'd), for TLSRPT */
	size_t tlen;
	int64_t inserted, valid_end, last_update, last_use, next_check;
	/* DANE (daemon/dane.h), beside the policy: MXS_DANE_*, MXS_DANE_F_* */
	int dane, dane_flags;
	int64_t dane_valid_end;
	int64_t txt_checked;         /* the TXT record last looked at, whatever came of it */
};

/* ---- sts_store.c: rows and region values -------------------------------- */

/* sts_rec_free - free r's text (r itself is the caller's). */
void sts_rec_free(struct sts_rec *r);

/*
 * The SQL side.  Each returns 0 (get: 1 found, 0 absent), or -1 with
 * SQLite's message in err.  db: the writer's connection (store_db) for
 * changes, any connection for reads.  Thread safety: one thread per
 * connection.
 */
int sts_db_put(struct sqlite3 *db, const struct sts_rec *r, char *err, size_t errlen);
int sts_db_get(struct sqlite3 *db, const char *domain, struct sts_rec *r, char *err, size_t errlen);
int sts_db_del(struct sqlite3 *db, const char *domain, char *err, size_t errlen);     /* 1 deleted, 0 none */
int sts_db_touch(struct sqlite3 *db, const char *domain, int64_t last_use, char *err, size_t errlen);
/* sts_db_region_bytes - what domain's stored row takes as a region value
 * (key, id, patterns, policy text), for region_reserve before a batch
 * that rewrites values; a row's worth of names when it is not stored. */
uint64_t sts_db_region_bytes(struct sqlite3 *db, const char *domain);
typedef int (*sts_row_fn)(struct sts_rec *r, void *arg);
/* every row (where: an SQL condition on the sts table, or NULL), without
 * the policy text (r->text NULL) */
int sts_db_foreach(struct sqlite3 *db, const char *where, int64_t arg1, int64_t arg2, size_t limit,
		   sts_row_fn fn, void *arg, char *err, size_t errlen);

/* sts_store_set_recheck - [sts] recheck_s, carried by every value put
 * from now on (shm/sts.h).  Any thread. */
#define STS_RECHECK_DEFAULT_S 300
void sts_store_set_recheck(unsigned s);

/*
 * The region side: put or delete the value of r.  Writer thread only.
 * Returns 0, or -1 with errno (the region could not take it).
 */
int sts_region_put(struct region *rg, const struct sts_rec *r);
int sts_region_del(struct region *rg, const char *domain);
/* An upper bound of the region bytes a put may take (region_reserve). */
uint64_t sts_region_bytes(const struct sts_rec *r);

/*
 * sts_rebuild - put every stored MTA-STS entry into a region being built
 * at start; malformed ones are logged and counted in *skipped.  Returns
 * the number loaded, or -1 with err set.  Main thread, before the writer
 * starts.
 */
int64_t sts_rebuild(struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen);

/* ---- sts_check.c: one domain --------------------------------------------- */

/* What a check needs; one per worker thread (dns is per thread). */
struct sts_ctx {
	struct dns *dns;
	struct https *https;          /* shared */
	unsigned refresh_s;
	unsigned backoff_s;
	uint32_t seed;                /* the worker's jitter source */
};

/* Result classes of a check, as `shmctl sts fetch` reports them. */
#define STS_CHECK_POLICY    0     /* a policy fetched (or its id unchanged) */
#define STS_CHECK_NONE      1     /* the domain publishes no policy */
#define STS_CHECK_FAILED    2     /* failed: r says why (failure, detail) */

/* sts_check flags */
#define STS_CHECK_F_RECHECK 0x1   /* a client used the policy: look at the TXT record only */

/*
 * sts_check - check domain now.  cur: the stored entry or NULL.  Fills
 * *out with the entry to store (out->text malloc'd or NULL), and returns
 * STS_CHECK_*.  Follows RFC 8461 and the cache rules of docs/daemon.md: an
 * unchanged TXT id extends a valid policy without a fetch; a failure keeps
 * a valid policy (fresh cleared) or, with none, stores a backoff entry.
 * Every check also sets the DANE state (daemon/dane.h: dane, dane_flags,
 * dane_valid_end) and brings next_check before that state ends where it
 * matters (sts_check.c).  With STS_CHECK_F_RECHECK and a valid cached
 * policy, only a changed id does more (the fetch above, and the DANE
 * state); the same id, no record or a failed lookup keep the entry as it
 * is.  Every check sets out->txt_checked to now.
 * Thread safety: safe with one ctx per thread.
 */
int sts_check(struct sts_ctx *ctx, const char *domain, const struct sts_rec *cur, int64_t now, unsigned flags,
	      struct sts_rec *out);

/* ---- sts.c: the manager --------------------------------------------------- */

struct sts;

/*
 * sts_start - start cfg->sts_workers workers.  dbpath: the SQLite file
 * (workers read it on their own connections; every change goes through
 * w).  Returns 0 and *out, or -1 with a message in err.  Main thread.
 */
int sts_start(const struct config *cfg, const char *dbpath, struct region *rg, struct writer *w, struct sts **out,
	      char *err, size_t errlen);

/*
 * sts_attach - take the clients' misses and last-use events from e's
 * thread (daemon/events.h), which also runs the refresher, the forgetting
 * and the last-use batches; before events_start.  0, or -1 (a handler
 * taken already).  Main thread.
 */
struct events;
int sts_attach(struct sts *s, struct events *e);

/* sts_stop - stop and join every worker, answer waiting admin requests
 * with an error, free s (may be NULL).  After events_stop of the event
 * thread it is attached to.  Main thread. */
void sts_stop(struct sts *s);

/*
 * sts_fetch_now - check domain now and wait for the result (committed and
 * published).  Returns STS_CHECK_*, with a one-line summary in msg, or -1
 * (queue full, shutting down: msg says).  Thread safety: safe (ctl threads).
 */
int sts_fetch_now(struct sts *s, const char *domain, char *msg, size_t msglen);

/*
 * sts_forget - delete domain's MTA-STS entry.  Returns 1 deleted, 0 none,
 * -1 error (msg).  Thread safety: safe.
 */
int sts_forget(struct sts *s, const char *domain, char *msg, size_t msglen);

/*
 * sts_set_limits - take cfg's [limits] (cache sizes, what misses may
 * cost): at start and on reload.  Any thread.
 */
void sts_set_limits(struct sts *s, const struct config *cfg);

/*
 * sts_module - the MTA-STS cache's part in main's steps (daemon/module.h):
 * rebuild, attach, limits, stop.  Stopped after the event thread.
 */
struct module_ops;
extern const struct module_ops sts_module;

#endif /* MXC_DAEMON_STS_H */
