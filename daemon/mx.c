/*
 * daemon/mx.c - the MX cache: rows, region values, one domain's lookup,
 * and the lookups the MTA-STS manager's workers run for clients' misses
 * and for the admin.
 *
 * Statements are prepared per call, as in sts_store.c: each runs once per
 * lookup or per batch, against a network round trip.
 */
#include "mx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "counters.h"
#include "dns.h"
#include "log.h"
#include "module.h"
#include "region.h"
#include "store.h"
#include "sts_int.h"
#include "writer.h"

/* ---- rows ---------------------------------------------------------------------- */

static int db_fail(sqlite3 *db, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return -1;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : "";
}

/* MX answers travel as one text column: "pref host" per line. */
int mx_db_put(sqlite3 *db, const struct mx_rec *r, char *err, size_t errlen)
{
	static const char sql[] = "INSERT INTO mx(domain, kind, answer, fetched, expires, flags)"
				  " VALUES(?1,?2,?3,?4,?5,?6)"
				  " ON CONFLICT(domain) DO UPDATE SET kind=excluded.kind, answer=excluded.answer,"
				  " fetched=excluded.fetched, expires=excluded.expires, flags=excluded.flags";
	char ans[MXS_MX_MAX * (MXS_MX_HOST_MAX + 8) + 1];
	sqlite3_stmt *s = NULL;
	size_t i, o = 0;
	int rc = -1;

	ans[0] = '\0';
	for (i = 0; i < r->n && o < sizeof(ans); i++)
		o += (size_t)snprintf(ans + o, sizeof(ans) - o, "%s%u %s", i ? "\n" : "", r->pref[i], r->host[i]);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, r->domain, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, r->kind);
	sqlite3_bind_text(s, 3, ans, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, r->fetched);
	sqlite3_bind_int64(s, 5, r->expires);
	sqlite3_bind_int(s, 6, r->flags);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	rc = 0;
	goto done;
fail:
	db_fail(db, err, errlen);
done:
	sqlite3_finalize(s);
	return rc;
}

int mx_db_del(sqlite3 *db, const char *domain, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "DELETE FROM mx WHERE domain = ?1", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	rc = sqlite3_changes(db);
	goto done;
fail:
	db_fail(db, err, errlen);
done:
	sqlite3_finalize(s);
	return rc;
}

int mx_db_foreach(sqlite3 *db, const char *where, int64_t arg1, mx_row_fn fn, void *arg, char *err, size_t errlen)
{
	char sql[256];
	struct mx_rec *r = NULL;
	sqlite3_stmt *s = NULL;
	const char *p, *nl;
	int rc = -1, step;
	unsigned pref;

	snprintf(sql, sizeof(sql), "SELECT domain, kind, answer, fetched, expires, flags FROM mx%s%s",
		 where != NULL ? " WHERE " : "", where != NULL ? where : "");
	r = malloc(sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	if (where != NULL && strstr(where, "?1") != NULL)
		sqlite3_bind_int64(s, 1, arg1);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(r, 0, sizeof(*r));
		snprintf(r->domain, sizeof(r->domain), "%s", col_text(s, 0));
		r->kind = sqlite3_column_int(s, 1);
		for (p = col_text(s, 2); *p != '\0' && r->n < MXS_MX_MAX; p = nl + 1) {
			char host[MXS_MX_HOST_MAX + 1];

			nl = strchr(p, '\n');
			if (sscanf(p, "%u %253s", &pref, host) == 2 && pref <= UINT16_MAX) {
				r->pref[r->n] = (uint16_t)pref;
				snprintf(r->host[r->n], sizeof(r->host[0]), "%s", host);
				r->n++;
			}
			if (nl == NULL)
				break;
		}
		r->fetched = sqlite3_column_int64(s, 3);
		r->expires = sqlite3_column_int64(s, 4);
		/* only the flags known here: a row is input like any other */
		r->flags = sqlite3_column_int(s, 5) & MXS_MX_F_AUTHENTICATED;
		step = fn(r, arg);
		if (step != 0) {
			rc = step;
			goto done;
		}
	}
	if (step != SQLITE_DONE)
		goto fail;
	rc = 0;
	goto done;
fail:
	db_fail(db, err, errlen);
done:
	sqlite3_finalize(s);
	free(r);
	return rc;
}

/* ---- region values -------------------------------------------------------------- */

uint64_t mx_region_bytes(const struct mx_rec *r)
{
	uint64_t b = strlen(r->domain) + MXS_MX_VALUE_HDR;
	size_t i;

	for (i = 0; i < r->n; i++)
		b += 3 + strlen(r->host[i]);
	return b;
}

int mx_region_put(struct region *rg, const struct mx_rec *r)
{
	uint8_t val[MXS_MX_VALUE_MAX];
	const char *host[MXS_MX_MAX];
	size_t hl[MXS_MX_MAX], i, vlen;

	if (r->n > MXS_MX_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < r->n; i++) {
		host[i] = r->host[i];
		hl[i] = strlen(r->host[i]);
	}
	vlen = mxc_mx_value_encode(val, (uint8_t)r->kind, r->fetched, r->expires, r->n, r->pref, host, hl);
	if (vlen == 0) {
		errno = EINVAL;
		return -1;
	}
	mxc_mx_value_set_flags(val, (uint8_t)(r->flags & MXS_MX_F_AUTHENTICATED));
	return region_put(rg, MXS_TAB_MX, r->domain, strlen(r->domain), val, vlen, NULL, 0) < 0 ? -1 : 0;
}

int mx_region_del(struct region *rg, const char *domain)
{
	return region_del(rg, MXS_TAB_MX, domain, strlen(domain)) < 0 ? -1 : 0;
}

/* ---- start-up rebuild ------------------------------------------------------------ */

struct rebuild {
	struct region *rg;
	int64_t n;
	uint64_t skipped;
	int err;
};

static int rebuild_mx(const struct mx_rec *r, void *arg)
{
	struct rebuild *rb = arg;

	if (mx_region_put(rb->rg, r) != 0) {
		if (errno == EINVAL) {
			log_warnx("mx: rebuild: stored MX answer for '%.64s' skipped: malformed", r->domain);
			rb->skipped++;
			return 0;
		}
		rb->err = errno;
		return -1;
	}
	rb->n++;
	return 0;
}

int64_t mx_rebuild(struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen)
{
	struct rebuild rb = { rg, 0, 0, 0 };
	int rc;

	rc = mx_db_foreach(store_db(st), NULL, 0, rebuild_mx, &rb, err, errlen);
	*skipped += rb.skipped;
	if (rc != 0) {
		if (rb.err != 0)
			snprintf(err, errlen, "region: %s", strerror(rb.err));
		return -1;
	}
	return rb.n;
}

/* ---- one domain ------------------------------------------------------------------ */

int mx_check(struct sts_ctx *ctx, const char *domain, int64_t now, struct mx_rec *out)
{
	struct dns_mx *m;
	uint32_t ttl;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->domain, sizeof(out->domain), "%s", domain);
	out->fetched = now;
	m = malloc(sizeof(*m));
	if (m == NULL) {
		out->kind = MXS_MX_KIND_TEMP;
		out->expires = now + MX_TEMP_TTL;
		return 0;
	}
	rc = dns_mx(ctx->dns, domain, m);
	/* an answer, or an authenticated denial: a failure never is */
	if (rc >= 0 && m->ad)
		out->flags |= MXS_MX_F_AUTHENTICATED;
	switch (rc) {
	case DNS_OK:
		ttl = m->ttl;
		if (m->nullmx) {
			out->kind = MXS_MX_KIND_NULL;
			break;
		}
		out->kind = MXS_MX_KIND_MX;
		for (i = 0; i < m->n && i < MXS_MX_MAX; i++) {
			out->pref[i] = m->rr[i].pref;
			snprintf(out->host[i], sizeof(out->host[i]), "%s", m->rr[i].host);
		}
		out->n = i;
		break;
	case DNS_NODATA:
		ttl = m->neg_ttl;
		out->kind = MXS_MX_KIND_IMPLICIT;
		break;
	case DNS_NXDOMAIN:
		ttl = m->neg_ttl;
		out->kind = MXS_MX_KIND_NXDOMAIN;
		break;
	default:
		log_debug("mx: %s: %s", domain, dns_rc_name(rc));
		out->kind = MXS_MX_KIND_TEMP;
		ttl = MX_TEMP_TTL;
		break;
	}
	if (ttl < MX_TTL_MIN)
		ttl = MX_TTL_MIN;
	if (ttl > MX_TTL_MAX)
		ttl = MX_TTL_MAX;
	out->expires = now + ttl;
	free(m);
	return 0;
}

/* ---- lookups, on the MTA-STS manager's workers ------------------------------------- */

static int put_mx_store(struct store *st, void *arg, int64_t now)
{
	char err[256];

	(void)now;
	if (mx_db_put(store_db(st), arg, err, sizeof(err)) != 0) {
		log_warnx("sts: store: %s", err);
		return -1;
	}
	return 1;
}

static int put_mx_apply(struct region *rg, void *arg)
{
	return mx_region_put(rg, arg);
}

void mx_run(struct worker *wk, struct job *j)
{
	struct writer_job job;
	struct mx_rec *out;
	char err[256], msg[256] = "";
	int rc = -1;

	out = calloc(1, sizeof(*out));
	if (out == NULL) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto done;
	}
	mx_check(&wk->ctx, j->domain, wall_now(), out);
	ctr_add(MXS_CTR_MX_LOOKUPS, 1);
	memset(&job, 0, sizeof(job));
	job.store = put_mx_store;
	job.apply = put_mx_apply;
	job.arg = out;
	job.nent = 1;
	job.bytes = mx_region_bytes(out);
	if (sts_write_change(wk->s, &job, err, sizeof(err)) != 0) {
		snprintf(msg, sizeof(msg), "%s", err);
		goto done;
	}
	rc = 0;
	snprintf(msg, sizeof(msg), "%zu records, kind %d%s", out->n, out->kind,
		 out->flags & MXS_MX_F_AUTHENTICATED ? ", authenticated" : "");
done:
	if (j->w != NULL)
		sts_waiter_complete(j->w, rc, msg);
	free(out);
}

/*
 * Would a new domain overflow table tab?  Clients post a fetch only for a
 * domain they missed, so a fetch event is a new entry; the jobs of that
 * kind queued or running count as entries already, so a burst of misses
 * cannot overshoot the limit.  (A refresh of a cached domain counts too
 * while it runs: at the limit, a miss may be refused a moment early.)
 */
static int cache_full(struct sts *s, unsigned tab, unsigned limit)
{
	int kind = tab == MXS_TAB_STS ? JOB_STS : JOB_MX;

	return ctr_entries(tab) + __atomic_load_n(&s->inflight[kind], __ATOMIC_RELAXED) >= limit;
}

/* A client found no usable MX answer for domain: resolve it. */
int mx_on_fetch(void *arg, const struct mxc_event *ev, const char *domain, size_t len, uint64_t src,
		       uint32_t pid)
{
	struct sts *s = arg;

	(void)ev;
	(void)len;
	if (cache_full(s, MXS_TAB_MX, __atomic_load_n(&s->lim_mx, __ATOMIC_RELAXED))) {
		ctr_limit(MXS_CTR_LIMIT_MX,
			  "mx: the MX cache holds %u entries ([limits] mx_entries): "
			  "no lookup for new domains until some are forgotten",
			  __atomic_load_n(&s->lim_mx, __ATOMIC_RELAXED));
		return 0;
	}
	sts_enqueue_miss(s, JOB_MX, domain, src, pid);
	return 0;
}

int sts_mx_fetch_now(struct sts *s, const char *domain, char *msg, size_t msglen)
{
	return sts_run_waiting(s, JOB_MX, domain, msg, msglen);
}

static int64_t rebuild(void *self, struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen)
{
	(void)self;
	return mx_rebuild(st, rg, skipped, err, errlen);
}

const struct module_ops mx_module = {
	.name = "MX cache entries",
	.rebuild = rebuild,
};
