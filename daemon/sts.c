/*
 * daemon/sts.c - the MTA-STS and MX manager: the clients' misses and
 * last-use events, the refresher, forgetting and last-use batches (all
 * on the event thread, daemon/events.h) and the worker pool that runs
 * the checks of sts_check.c.
 *
 * The job queue, its lanes and the order in which workers take jobs are
 * in sts_queue.c; what clients' misses may cost is in sts_quota.c.
 */
#include "sts_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "events.h"
#include "https.h"
#include "clock.h"
#include "counters.h"
#include "log.h"
#include "module.h"
#include "readers.h"
#include "region.h"
#include "store.h"
#include "writer.h"

#define STS_TOUCH_EVERY_MS 1000     /* last-use updates are batched this long */
#define STS_TOUCH_MAX      1024     /* domains per last-use batch */
#define STS_REFRESH_EVERY_MS 5000   /* the refresher looks for due policies this often */
#define STS_FORGET_EVERY_MS 600000  /* and for entries to forget this often */
#define STS_NEG_KEEP_S     86400    /* expired negative entries are kept this long */
#define STS_WORKER_NAME    "sts-worker-%u" /* thread names (15 bytes at most): top -H, /proc/PID/task */
_Static_assert(CONFIG_STS_WORKERS_MAX < 10000, "sts-worker-N must fit 15 bytes");

/* ---- writer jobs ---------------------------------------------------------------- */

/* A check's result, and the never-confirmed entries it evicts. */
struct put_sts {
	struct sts_rec *rec;
	struct sts_evict ev;
};

static int put_sts_store(struct store *st, void *arg, int64_t now)
{
	struct put_sts *p = arg;
	char err[256];

	(void)now;
	if (sts_evict_store(store_db(st), &p->ev, err, sizeof(err)) != 0 ||
	    (p->rec != NULL && sts_db_put(store_db(st), p->rec, err, sizeof(err)) != 0)) {
		log_warnx("sts: store: %s", err);
		return -1;
	}
	return 1;
}

static int put_sts_apply(struct region *rg, void *arg)
{
	struct put_sts *p = arg;

	sts_evict_apply(rg, &p->ev);
	return p->rec != NULL ? sts_region_put(rg, p->rec) : 0;
}

/* Run one change through the writer and wait for it.  0, or -1 (msg). */
int sts_write_change(struct sts *s, struct writer_job *job, char *msg, size_t msglen)
{
	struct writer_cmd c;
	int rc = 0;

	writer_cmd_job(&c, job);
	writer_run(s->w, &c);
	if (c.status < 0) {
		snprintf(msg, msglen, "%s", c.msg);
		rc = -1;
	}
	writer_cmd_destroy(&c);
	return rc;
}

/* ---- workers ---------------------------------------------------------------------- */

static const char *check_class(int rc)
{
	return rc == STS_CHECK_POLICY ? "policy" : rc == STS_CHECK_NONE ? "none" : "failed";
}

/* The domain's last check failed: it may hold a worker for a whole
 * timeout again. */
static int failed_last_time(const struct sts_rec *cur)
{
	return cur->kind == MXS_STS_KIND_BACKOFF ||
	       (cur->kind == MXS_STS_KIND_POLICY && cur->failure != MXS_STS_FAIL_NONE);
}

/* One MTA-STS check.  1: the job moved to the slow lane instead (not
 * done, still the queue's); 0: done. */
static int run_sts(struct worker *wk, struct job *j)
{
	struct sts *s = wk->s;
	struct sts_rec *cur = NULL, *out = NULL;
	struct put_sts *put = NULL;
	struct writer_job job;
	char err[256], msg[512];
	int have, rc = -1, moved = 0, unconfirmed, wrc;

	cur = calloc(1, sizeof(*cur));
	out = calloc(1, sizeof(*out));
	put = calloc(1, sizeof(*put));
	if (cur == NULL || out == NULL || put == NULL) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto done;
	}
	have = sts_db_get(wk->rdb, j->domain, cur, err, sizeof(err));
	if (have < 0) {
		log_warnx("sts: %s: reading the cache: %s", j->domain, err);
		have = 0;
	}
	/* an admin's request runs where it is: someone is waiting for it */
	if (have && !j->slow && j->w == NULL && failed_last_time(cur) && sts_to_slow_lane(wk, j)) {
		moved = 1;
		goto done;
	}
	rc = sts_check(&wk->ctx, j->domain, have ? cur : NULL, wall_now(), j->recheck ? STS_CHECK_F_RECHECK : 0, out);
	ctr_add(rc == STS_CHECK_POLICY ? MXS_CTR_STS_POLICY : rc == STS_CHECK_NONE ? MXS_CTR_STS_NONE : MXS_CTR_STS_FAILED,
		1);
	if (rc == STS_CHECK_FAILED && out->failure >= MXS_STS_FAIL_DNS && out->failure <= MXS_STS_FAIL_RECORD)
		ctr_add(MXS_CTR_STS_FAIL_DNS + out->failure - MXS_STS_FAIL_DNS, 1);
	if (rc == STS_CHECK_FAILED)
		log_info("sts: %s: %s%s", j->domain, out->detail,
			 out->kind == MXS_STS_KIND_POLICY ? " (cached policy kept)" : " (backing off)");
	else
		log_debug("sts: %s: %s", j->domain, check_class(rc));
	/* a domain that had a policy keeps that mark whatever it has now */
	unconfirmed = !(out->kind == MXS_STS_KIND_POLICY || (have && sts_confirmed(cur)));
	if (!unconfirmed)
		out->flags |= STS_F_CONFIRMED;
	if (sts_quota_pick(s->quota, j->domain, !have, unconfirmed, j->miss, &put->ev) != 0) {
		ctr_limit(MXS_CTR_LIMIT_STS, "sts: the policy cache holds %u entries ([limits] sts_entries) for "
			  "domains that had a policy: new domains are not stored until some are forgotten",
			  __atomic_load_n(&s->lim_sts, __ATOMIC_RELAXED));
		snprintf(msg, sizeof(msg), "the policy cache is full");
		rc = -1;
		if (put->ev.n == 0)
			goto done;
	}
	put->rec = put->ev.store ? out : NULL;
	memset(&job, 0, sizeof(job));
	job.store = put_sts_store;
	job.apply = put_sts_apply;
	job.arg = put;
	job.nent = 1 + put->ev.n;
	job.bytes = sts_region_bytes(out) + put->ev.n * (uint64_t)MXK_MAX_LEN;
	wrc = sts_write_change(s, &job, err, sizeof(err));
	sts_quota_done(s->quota, j->domain, unconfirmed, &put->ev, wrc == 0);
	if (wrc != 0) {
		snprintf(msg, sizeof(msg), "%s", err);
		rc = -1;
		goto done;
	}
	if (!put->ev.store)
		goto done;
	if (rc == STS_CHECK_POLICY)
		snprintf(msg, sizeof(msg), "policy %s id %s max_age %u", sts_mode_name(out->mode), out->id, out->max_age);
	else if (rc == STS_CHECK_NONE)
		snprintf(msg, sizeof(msg), "no MTA-STS policy published");
	else
		snprintf(msg, sizeof(msg), "%s: %s", mxc_sts_fail_name(out->failure), out->detail);
done:
	if (!moved && j->w != NULL)
		sts_waiter_complete(j->w, rc, msg);
	if (cur != NULL)
		sts_rec_free(cur);
	if (out != NULL)
		sts_rec_free(out);
	free(cur);
	free(out);
	free(put);
	return moved;
}

/* A worker without a resolver answers every job with a DNS failure until
 * one can be made. */
static int worker_dns(struct worker *wk, struct job *j)
{
	char err[256];

	if (wk->ctx.dns != NULL)
		return 0;
	wk->ctx.dns = dns_new(&wk->s->dnscfg, err, sizeof(err));
	if (wk->ctx.dns != NULL)
		return 0;
	log_warnx("sts: %s: no resolver: %s", j->domain, err);
	if (j->w != NULL)
		sts_waiter_complete(j->w, -1, "no DNS resolver: set [dns] servers or fix /etc/resolv.conf");
	return -1;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct sts *s = wk->s;
	struct job *j;

	while ((j = sts_dequeue(wk)) != NULL) {
		if (worker_dns(wk, j) == 0) {
			if (j->kind == JOB_MX)
				mx_run(wk, j);
			else if (run_sts(wk, j))
				continue;      /* moved to the slow lane: not done */
		}
		__atomic_fetch_sub(&s->inflight[j->kind], 1, __ATOMIC_RELAXED);
		sts_job_done(wk, j);
	}
	return NULL;
}

/* ---- the event thread ---------------------------------------------------------------- */

struct touch {
	size_t n;
	char domain[STS_TOUCH_MAX][MXK_MAX_LEN + 1];
	int64_t when[STS_TOUCH_MAX];
	struct sts_rec *recs[STS_TOUCH_MAX];    /* rows changed, for the region */
	size_t nrecs;
};

static int touch_store(struct store *st, void *arg, int64_t now)
{
	struct touch *t = arg;
	char err[256];
	size_t i;
	int rc;

	(void)now;
	t->nrecs = 0;
	for (i = 0; i < t->n; i++) {
		rc = sts_db_touch(store_db(st), t->domain[i], t->when[i], err, sizeof(err));
		if (rc < 0) {
			log_warnx("sts: store: %s", err);
			return -1;
		}
		if (rc == 0)
			continue;
		t->recs[t->nrecs] = calloc(1, sizeof(struct sts_rec));
		if (t->recs[t->nrecs] == NULL)
			continue;   /* SQLite has it; the region catches up at the next check */
		if (sts_db_get(store_db(st), t->domain[i], t->recs[t->nrecs], err, sizeof(err)) == 1)
			t->nrecs++;
		else
			free(t->recs[t->nrecs]);
	}
	return 1;
}

static int touch_apply(struct region *rg, void *arg)
{
	struct touch *t = arg;
	size_t i;
	int rc = 0;

	for (i = 0; i < t->nrecs; i++)
		if (sts_region_put(rg, t->recs[i]) != 0)
			rc = -1;
	return rc;
}

static void touch_flush(struct sts *s, struct touch *t)
{
	struct writer_job job;
	char err[256];
	size_t i;

	if (t->n == 0)
		return;
	memset(&job, 0, sizeof(job));
	job.store = touch_store;
	job.apply = touch_apply;
	job.arg = t;
	job.nent = t->n;
	/* touch_apply rewrites whole values, the policy text included (up
	 * to 64 KiB each): room for what each row holds now */
	job.bytes = 0;
	for (i = 0; i < t->n; i++)
		job.bytes += sts_db_region_bytes(s->evdb, t->domain[i]);
	if (sts_write_change(s, &job, err, sizeof(err)) != 0)
		log_warnx("sts: last-use update of %zu policies: %s", t->n, err);
	for (i = 0; i < t->nrecs; i++) {
		sts_rec_free(t->recs[i]);
		free(t->recs[i]);
	}
	t->n = 0;
	t->nrecs = 0;
}

static void touch_add(struct sts *s, struct touch *t, const char *domain, int64_t when)
{
	int64_t now = wall_now();
	size_t i;

	if (when > now || when < now - MXS_STS_USE_GRAIN)
		when = now;    /* a client's clock is a hint, not a fact */
	for (i = 0; i < t->n; i++)
		if (strcmp(t->domain[i], domain) == 0)
			return;
	if (t->n == STS_TOUCH_MAX)
		touch_flush(s, t);
	snprintf(t->domain[t->n], sizeof(t->domain[0]), "%s", domain);
	t->when[t->n] = when;
	t->n++;
}

/* A client found no usable policy for domain: fetch one. */
static int on_sts_fetch(void *arg, const struct mxc_event *ev, const char *domain, size_t len, uint64_t src,
			uint32_t pid)
{
	struct sts *s = arg;

	(void)ev;
	(void)len;
	/* a full cache takes a new domain in place of a never-confirmed
	 * one (daemon/sts_quota.h); with none, nothing can be stored */
	if (!sts_quota_room(s->quota)) {
		ctr_limit(MXS_CTR_LIMIT_STS, "sts: the policy cache holds %u entries ([limits] sts_entries) "
			  "for domains that had a policy: new domains are not stored until some are forgotten",
			  __atomic_load_n(&s->lim_sts, __ATOMIC_RELAXED));
		return 0;
	}
	sts_enqueue_miss(s, JOB_STS, domain, src, pid);
	return 0;
}

/*
 * A client used domain's policy, whose TXT record was looked at longer ago
 * than the recheck_s the value carries: look again, in the background (the
 * client answered with the cached policy already).  The daemon's own
 * recheck_s bounds how often, whatever the value said; 0 takes none.
 */
static int on_sts_recheck(void *arg, const struct mxc_event *ev, const char *domain, size_t len, uint64_t src,
			  uint32_t pid)
{
	struct sts *s = arg;
	unsigned every = __atomic_load_n(&s->recheck_s, __ATOMIC_RELAXED);

	(void)ev;
	(void)len;
	if (every > 0)
		sts_enqueue_recheck(s, domain, src, pid, every);
	return 0;
}

/* A client used domain's cached policy at e_value (unix s). */
static int on_sts_used(void *arg, const struct mxc_event *ev, const char *domain, size_t len, uint64_t src,
		       uint32_t pid)
{
	struct sts *s = arg;

	(void)len;
	(void)src;
	(void)pid;
	touch_add(s, s->touch, domain, ev->e_value);
	return 0;
}

struct due {
	struct sts *s;
	size_t n;
	int64_t oldest;                      /* next_check of the most overdue, 0: none */
};

static int due_one(struct sts_rec *r, void *arg)
{
	struct due *d = arg;

	if (d->oldest == 0)
		d->oldest = r->next_check;       /* the rows come most overdue first */

	if (sts_enqueue(d->s, JOB_STS, r->domain, NULL) == 0)
		d->n++;
	return 0;
}

static void refresh_due(struct sts *s)
{
	struct due d = { s, 0, 0 };
	int64_t now = wall_now();
	char err[256];
	size_t room;

	pthread_mutex_lock(&s->mu);
	room = STS_QUEUE_MAX - s->queued;
	pthread_mutex_unlock(&s->mu);
	if (room == 0)
		return;
	/* policies, and other entries whose DANE state needs a look
	 * (daemon/sts_check.c); the rest wait at INT64_MAX for a client */
	if (sts_db_foreach(s->evdb, "next_check <= ?1 ORDER BY next_check", now, 0,
			   room, due_one, &d, err, sizeof(err)) < 0)
		log_warnx("sts: refresher: %s", err);
	else if (d.n > 0)
		log_debug("sts: refresher: %zu entries due", d.n);
	/* the refresh lag: how long the most overdue policy has waited; a
	 * refresher that keeps up shows 0 between passes */
	ctr_set(MXS_CTR_STS_LAG, d.oldest != 0 && now > d.oldest ? (uint64_t)(now - d.oldest) : 0);
}

/* Forgetting: entries nobody used for forget_s, negative entries long
 * expired, MX answers long expired. */
struct forget {
	int64_t now, forget_s;
	size_t n, nmx;
	char (*sts)[MXK_MAX_LEN + 1];
	char (*mx)[MXK_MAX_LEN + 1];
	size_t cap;
};

static int forget_pick(struct sts_rec *r, void *arg)
{
	struct forget *f = arg;

	if (f->n < f->cap)
		snprintf(f->sts[f->n++], MXK_MAX_LEN + 1, "%s", r->domain);
	return 0;
}

static int forget_pick_mx(const struct mx_rec *r, void *arg)
{
	struct forget *f = arg;

	if (f->nmx < f->cap)
		snprintf(f->mx[f->nmx++], MXK_MAX_LEN + 1, "%s", r->domain);
	return 0;
}

static int forget_store(struct store *st, void *arg, int64_t now)
{
	struct forget *f = arg;
	char err[256];
	size_t i;

	(void)now;
	for (i = 0; i < f->n; i++)
		if (sts_db_del(store_db(st), f->sts[i], err, sizeof(err)) < 0)
			goto fail;
	for (i = 0; i < f->nmx; i++)
		if (mx_db_del(store_db(st), f->mx[i], err, sizeof(err)) < 0)
			goto fail;
	return 1;
fail:
	log_warnx("sts: store: %s", err);
	return -1;
}

static int forget_apply(struct region *rg, void *arg)
{
	struct forget *f = arg;
	size_t i;

	for (i = 0; i < f->n; i++)
		sts_region_del(rg, f->sts[i]);
	for (i = 0; i < f->nmx; i++)
		mx_region_del(rg, f->mx[i]);
	return 0;
}

#define STS_FORGET_BATCH 4096

static void forget_old(struct sts *s)
{
	struct writer_job job;
	struct forget f;
	char err[256];
	int64_t now = wall_now();
	size_t i;

	memset(&f, 0, sizeof(f));
	f.now = now;
	f.cap = STS_FORGET_BATCH;
	f.sts = calloc(f.cap, sizeof(*f.sts));
	f.mx = calloc(f.cap, sizeof(*f.mx));
	if (f.sts == NULL || f.mx == NULL)
		goto done;
	if (sts_db_foreach(s->evdb, "(last_use < ?1 AND inserted < ?1) OR (kind != 1 AND valid_end < ?2)",
			   now - (int64_t)s->forget_s, now - STS_NEG_KEEP_S, f.cap, forget_pick, &f, err,
			   sizeof(err)) < 0 ||
	    mx_db_foreach(s->evdb, "expires < ?1", now - STS_NEG_KEEP_S, forget_pick_mx, &f, err, sizeof(err)) < 0) {
		log_warnx("sts: forgetting: %s", err);
		goto done;
	}
	if (f.n + f.nmx == 0)
		goto done;
	memset(&job, 0, sizeof(job));
	job.store = forget_store;
	job.apply = forget_apply;
	job.arg = &f;
	job.nent = f.n + f.nmx;
	job.bytes = (f.n + f.nmx) * (uint64_t)MXK_MAX_LEN;
	if (sts_write_change(s, &job, err, sizeof(err)) != 0) {
		log_warnx("sts: forgetting: %s", err);
		goto done;
	}
	for (i = 0; i < f.n; i++)
		sts_quota_forget(s->quota, f.sts[i]);
	log_info("sts: forgot %zu unused MTA-STS entries and %zu expired MX answers", f.n, f.nmx);
done:
	free(f.sts);
	free(f.mx);
}

/* The event thread's periodic work for MTA-STS and MX (final: at the
 * stop, only what is pending: the last-use batch). */
static void sts_tick(void *arg, struct writer *w, int final)
{
	struct sts *s = arg;
	uint64_t now = mono_ms();

	(void)w;
	if (final) {
		touch_flush(s, s->touch);
		return;
	}
	if (now >= s->next_touch) {
		touch_flush(s, s->touch);
		pthread_mutex_lock(&s->mu);
		sts_pend_prune(s, wall_now());
		pthread_mutex_unlock(&s->mu);
		s->next_touch = now + STS_TOUCH_EVERY_MS;
	}
	if (now >= s->next_refresh) {
		refresh_due(s);
		s->next_refresh = now + STS_REFRESH_EVERY_MS;
	}
	if (now >= s->next_forget) {
		forget_old(s);
		s->next_forget = now + STS_FORGET_EVERY_MS;
	}
}

static uint64_t sts_due(const void *arg)
{
	const struct sts *s = arg;
	uint64_t due = s->next_touch;

	if (s->next_refresh < due)
		due = s->next_refresh;
	return s->next_forget < due ? s->next_forget : due;
}

int sts_attach(struct sts *s, struct events *e)
{
	if (events_on(e, MXS_EV_STS_FETCH, EVENTS_NAME_DOMAIN, on_sts_fetch, s) != 0 ||
	    events_on(e, MXS_EV_MX_FETCH, EVENTS_NAME_DOMAIN, mx_on_fetch, s) != 0 ||
	    events_on(e, MXS_EV_STS_USED, EVENTS_NAME_KEY, on_sts_used, s) != 0 ||
	    events_on(e, MXS_EV_STS_RECHECK, EVENTS_NAME_DOMAIN, on_sts_recheck, s) != 0 ||
	    events_tick(e, sts_tick, sts_due, s) != 0)
		return -1;
	return 0;
}

/* ---- start / stop / admin ------------------------------------------------------------- */

static int open_reader(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "sts: %s: %s", path, *db != NULL ? sqlite3_errmsg(*db) : "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

int sts_start(const struct config *cfg, const char *dbpath, struct region *rg, struct writer *w, struct sts **out,
	      char *err, size_t errlen)
{
	struct https_cfg hc;
	struct sts *s;
	uint64_t now;
	size_t i;
	long nmiss;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "sts: out of memory");
		return -1;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->rg = rg;
	s->w = w;
	s->refresh_s = cfg->sts_refresh_s;
	s->forget_s = cfg->sts_forget_s;
	s->backoff_s = cfg->sts_backoff_s;
	s->touch = calloc(1, sizeof(*s->touch));
	if (s->touch == NULL) {
		snprintf(err, errlen, "sts: out of memory");
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return -1;
	}
	snprintf(s->dbpath, sizeof(s->dbpath), "%s", dbpath);
	if (getrandom(s->hkey, sizeof(s->hkey), 0) != sizeof(s->hkey)) {
		uint64_t t = mono_ms(), p = (uint64_t)getpid();

		memcpy(s->hkey, &t, 8);
		memcpy(s->hkey + 8, &p, 8);
	}
	s->mq = sts_mq_new(STS_SOURCES);
	s->quota = sts_quota_new(STS_SOURCES, s->hkey);
	if (s->mq == NULL || s->quota == NULL) {
		snprintf(err, errlen, "sts: out of memory");
		goto fail_nohs;
	}
	sts_set_limits(s, cfg);
	if (sts_queue_init(s) != 0) {
		snprintf(err, errlen, "sts: out of memory");
		goto fail_nohs;
	}
	memset(&hc, 0, sizeof(hc));
	hc.ca_file = cfg->tls_ca_file[0] != '\0' ? cfg->tls_ca_file : NULL;
	hc.connect_timeout_ms = cfg->sts_connect_ms;
	hc.total_timeout_ms = cfg->sts_fetch_ms;
	hc.content_types = cfg->sts_content_types;
	hc.port = (uint16_t)cfg->sts_port;
	s->https = https_new(&hc, err, errlen);
	if (s->https == NULL)
		goto fail;
	if (open_reader(dbpath, &s->evdb, err, errlen) != 0)
		goto fail;
	nmiss = sts_quota_load(s->quota, s->evdb, err, errlen);
	if (nmiss < 0) {
		log_warnx("sts: never-confirmed entries: %s: none is evicted before the others", err);
		nmiss = 0;
	}
	memcpy(s->dns_servers, cfg->dns_servers, sizeof(s->dns_servers));
	memset(&s->dnscfg, 0, sizeof(s->dnscfg));
	s->dnscfg.servers = s->dns_servers;
	s->dnscfg.nservers = cfg->dns_nservers;
	s->dnscfg.timeout_ms = cfg->dns_timeout_ms;
	s->dnscfg.retries = cfg->dns_retries;
	s->nworkers = cfg->sts_workers;
	s->slow_max = s->nworkers / STS_SLOW_SHARE > 0 ? s->nworkers / STS_SLOW_SHARE : 1;
	s->workers = calloc(s->nworkers, sizeof(*s->workers));
	if (s->workers == NULL) {
		snprintf(err, errlen, "sts: out of memory");
		goto fail;
	}
	for (i = 0; i < s->nworkers; i++) {
		struct worker *wk = &s->workers[i];

		wk->s = s;
		wk->ctx.https = s->https;
		wk->ctx.refresh_s = s->refresh_s;
		wk->ctx.backoff_s = s->backoff_s;
		wk->ctx.seed = ((uint32_t)s->hkey[i % 16] << 24 | s->hkey[(i + 1) % 16]) ^ (uint32_t)(i * 2654435761u);
		wk->ctx.dns = dns_new(&s->dnscfg, err, errlen);
		if (wk->ctx.dns == NULL && i == 0)
			log_warnx("sts: %s; MTA-STS and MX lookups fail until a resolver is usable", err);
		if (open_reader(dbpath, &wk->rdb, err, errlen) != 0)
			goto fail;
	}
	for (i = 0; i < s->nworkers; i++) {
		char name[16];

		if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
			snprintf(err, errlen, "sts: cannot start a worker: %s", strerror(errno));
			goto fail;
		}
		s->workers[i].started = 1;
		snprintf(name, sizeof(name), STS_WORKER_NAME, (unsigned)((i + 1) % 10000));
		pthread_setname_np(s->workers[i].thread, name);
	}
	now = mono_ms();
	s->next_touch = now + STS_TOUCH_EVERY_MS;
	s->next_refresh = now;
	s->next_forget = now + STS_REFRESH_EVERY_MS;
	log_info("sts: %zu workers (at most %zu for domains that failed last time), refresh every %u s, forget "
		 "after %u s unused; %ld never-confirmed entries",
		 s->nworkers, s->slow_max, s->refresh_s, s->forget_s, nmiss);
	*out = s;
	return 0;
fail:
	sts_stop(s);
	return -1;
fail_nohs:
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	sts_mq_free(s->mq);
	sts_quota_free(s->quota);
	free(s->touch);
	free(s);
	return -1;
}

void sts_set_limits(struct sts *s, const struct config *cfg)
{
	__atomic_store_n(&s->lim_sts, cfg->lim_sts, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lim_mx, cfg->lim_mx, __ATOMIC_RELAXED);
	/* [sts] recheck_s: values written from now on carry it (clients
	 * post by what the value they read says), and the daemon takes
	 * rechecks only while it is not 0 */
	__atomic_store_n(&s->recheck_s, cfg->sts_recheck_s, __ATOMIC_RELAXED);
	sts_store_set_recheck(cfg->sts_recheck_s);
	if (s->quota != NULL)
		sts_quota_set_limits(s->quota, cfg->lim_sts, cfg->lim_sts_miss, cfg->lim_misses);
}

void sts_stop(struct sts *s)
{
	size_t i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < s->nworkers; i++)
		if (s->workers[i].started)
			pthread_join(s->workers[i].thread, NULL);
	sts_queue_drain(s);
	for (i = 0; i < s->nworkers; i++) {
		if (s->workers[i].ctx.dns != NULL)
			dns_free(s->workers[i].ctx.dns);
		sqlite3_close(s->workers[i].rdb);
	}
	free(s->workers);
	sqlite3_close(s->evdb);
	https_free(s->https);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	sts_mq_free(s->mq);
	sts_quota_free(s->quota);
	free(s->touch);
	free(s);
}

int sts_run_waiting(struct sts *s, int kind, const char *domain, char *msg, size_t msglen)
{
	struct waiter w;
	int rc;

	sts_waiter_init(&w);
	if (sts_enqueue(s, kind, domain, &w) != 0) {
		snprintf(msg, msglen, "the fetch queue is full or mxcached is stopping");
		sts_waiter_destroy(&w);
		return -1;
	}
	sts_waiter_wait(&w);
	rc = w.rc;
	snprintf(msg, msglen, "%s", w.msg);
	sts_waiter_destroy(&w);
	return rc;
}

int sts_fetch_now(struct sts *s, const char *domain, char *msg, size_t msglen)
{
	return sts_run_waiting(s, JOB_STS, domain, msg, msglen);
}

static int del_store(struct store *st, void *arg, int64_t now)
{
	char err[256];
	int rc;

	(void)now;
	rc = sts_db_del(store_db(st), arg, err, sizeof(err));
	if (rc < 0)
		log_warnx("sts: store: %s", err);
	return rc;
}

static int del_apply(struct region *rg, void *arg)
{
	return sts_region_del(rg, arg);
}

int sts_forget(struct sts *s, const char *domain, char *msg, size_t msglen)
{
	struct writer_job job;
	struct writer_cmd c;
	char d[MXK_MAX_LEN + 1];
	int rc;

	snprintf(d, sizeof(d), "%s", domain);
	memset(&job, 0, sizeof(job));
	job.store = del_store;
	job.apply = del_apply;
	job.arg = d;
	job.nent = 1;
	job.bytes = strlen(d);
	writer_cmd_job(&c, &job);
	writer_run(s->w, &c);
	if (c.status < 0) {
		snprintf(msg, msglen, "%s", c.msg);
		rc = -1;
	} else {
		rc = c.status == WRITER_NOTFOUND ? 0 : 1;
		sts_quota_forget(s->quota, d);
	}
	writer_cmd_destroy(&c);
	return rc;
}

/* ---- main's steps (daemon/module.h) ------------------------------------------------------ */

static int64_t mod_rebuild(void *self, struct store *st, struct region *rg, uint64_t *skipped, char *err,
			   size_t errlen)
{
	(void)self;
	return sts_rebuild(st, rg, skipped, err, errlen);
}

static int mod_attach(void *self, struct events *e)
{
	return sts_attach(self, e);
}

static void mod_set_limits(void *self, const struct config *cfg)
{
	sts_set_limits(self, cfg);
}

static void mod_stop(void *self)
{
	sts_stop(self);
}

const struct module_ops sts_module = {
	.name = "MTA-STS cache entries",
	.rebuild = mod_rebuild,
	.attach = mod_attach,
	.set_limits = mod_set_limits,
	.stop = mod_stop,
};
