/*
 * daemon/mx.h - the MX cache: its records, their SQLite rows (table mx,
 * schema in store.c) and region values (shm/mx.h), one domain's lookup,
 * and the lookups for clients' misses and for the admin, which run on the
 * MTA-STS manager's workers and queue (daemon/sts.h).
 */
#ifndef MXC_DAEMON_MX_H
#define MXC_DAEMON_MX_H

#include <stddef.h>
#include <stdint.h>

#include "shm/mx.h"

struct region;
struct store;
struct sqlite3;
struct sts;
struct sts_ctx;

#define MX_TTL_MIN       5         /* an MX answer is kept at least this long */
#define MX_TTL_MAX       86400     /* and at most this long */
#define MX_TEMP_TTL      30        /* a failed MX lookup is remembered this long */

/* One entry of the MX cache. */
struct mx_rec {
	char domain[MXS_MX_HOST_MAX + 1];
	int kind;                    /* MXS_MX_KIND_* */
	int flags;                   /* MXS_MX_F_* */
	size_t n;
	uint16_t pref[MXS_MX_MAX];
	char host[MXS_MX_MAX][MXS_MX_HOST_MAX + 1];
	int64_t fetched, expires;
};

/*
 * The SQL side.  Each returns 0 (del: 1 deleted, 0 none), or -1 with
 * SQLite's message in err.  db: the writer's connection (store_db) for
 * changes, any connection for reads.  Thread safety: one thread per
 * connection.
 */
int mx_db_put(struct sqlite3 *db, const struct mx_rec *r, char *err, size_t errlen);
int mx_db_del(struct sqlite3 *db, const char *domain, char *err, size_t errlen);
typedef int (*mx_row_fn)(const struct mx_rec *r, void *arg);
/* every row (where: an SQL condition on the mx table, or NULL) */
int mx_db_foreach(struct sqlite3 *db, const char *where, int64_t arg1, mx_row_fn fn, void *arg, char *err,
		  size_t errlen);

/*
 * The region side: put or delete the value of r.  Writer thread only.
 * Returns 0, or -1 with errno (the region could not take it).
 */
int mx_region_put(struct region *rg, const struct mx_rec *r);
int mx_region_del(struct region *rg, const char *domain);
/* An upper bound of the region bytes a put may take (region_reserve). */
uint64_t mx_region_bytes(const struct mx_rec *r);

/*
 * mx_rebuild - put every stored MX answer into a region being built at
 * start; malformed ones are logged and counted in *skipped.  Returns the
 * number loaded, or -1 with err set.  Main thread, before the writer
 * starts.
 */
int64_t mx_rebuild(struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen);

/* mx_module - the MX cache's part in main's steps (daemon/module.h):
 * rebuild. */
struct module_ops;
extern const struct module_ops mx_module;

/* mx_check - resolve domain's MX into *out.  Returns 0.  Thread safety:
 * safe with one ctx per thread (daemon/sts.h). */
int mx_check(struct sts_ctx *ctx, const char *domain, int64_t now, struct mx_rec *out);

/* sts_mx_fetch_now - resolve domain's MX now on s's workers and wait.
 * 0, or -1 (msg).  Thread safety: safe (ctl threads). */
int sts_mx_fetch_now(struct sts *s, const char *domain, char *msg, size_t msglen);

#endif /* MXC_DAEMON_MX_H */
