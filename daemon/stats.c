/*
 * daemon/stats.c - per-domain delivery stats: aggregated from client
 * events, published to the region, persisted to SQLite.
 *
 * Clients post events into their slot rings; the event thread (events.c)
 * hands each one to stats_event(), which updates an in-memory record (a
 * ck_hs set, touched only by that thread) and marks it dirty twice: for
 * the region and for the database.  stats_tick() sends the dirty records
 * to the writer as jobs: to the region every STATS_PUBLISH_MS (a client
 * sees its event counted within tens of milliseconds), to SQLite every
 * STATS_PERSIST_MS as one transaction of upserts, and
 * once more at shutdown.  A job carries copies of the records, so the
 * writer never touches the set.
 */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <ck_hs.h>
#include <sqlite3.h>

#include "hs.h"
#include "clock.h"
#include "counters.h"
#include "events.h"
#include "config.h"
#include "log.h"
#include "module.h"
#include "region.h"
#include "shm/events.h"
#include "shm/key.h"
#include "shm/siphash.h"
#include "shm/stats.h"
#include "store.h"
#include "writer.h"

#define STATS_PUBLISH_MS  50
#define STATS_PERSIST_MS  10000
#define STATS_CAP         1024      /* initial size of the set */

struct srec {
	char key[MXK_MAX_LEN + 1];
	size_t klen;
	int64_t f[MXS_STAT_NFIELDS];
	int dirty_pub, dirty_db;
};

struct stats {
	ck_hs_t set;
	uint8_t hkey[16];
	struct srec **pub, **db;        /* dirty lists */
	size_t npub, ndb, cap_pub, cap_db;
	uint64_t next_pub, next_db;
	unsigned limit;                  /* domains; 0: none (atomic) */
};

struct snap {
	char key[MXK_MAX_LEN + 1];
	int64_t f[MXS_STAT_NFIELDS];
};

struct sjob {
	struct snap *v;
	size_t n;
};

static struct stats *hash_owner;   /* ck_hs's hash callback has no context */

static unsigned long rec_hash(const void *obj, unsigned long seed)
{
	const struct srec *r = obj;

	(void)seed;
	return (unsigned long)mxc_siphash13(hash_owner->hkey, r->key, r->klen);
}

static bool rec_cmp(const void *a, const void *b)
{
	const struct srec *x = a, *y = b;

	return x->klen == y->klen && memcmp(x->key, y->key, x->klen) == 0;
}

struct stats *stats_new(void)
{
	struct stats *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (getrandom(s->hkey, sizeof(s->hkey), 0) != sizeof(s->hkey))
		memset(s->hkey, 0x5a, sizeof(s->hkey));   /* a fixed key only costs flooding resistance */
	hash_owner = s;
	if (!ck_hs_init(&s->set, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, rec_hash, rec_cmp, &hs_alloc, STATS_CAP, 0)) {
		free(s);
		return NULL;
	}
	return s;
}

void stats_free(struct stats *s)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *obj;

	if (s == NULL)
		return;
	while (ck_hs_next(&s->set, &it, &obj))
		free(obj);
	ck_hs_destroy(&s->set);
	free(s->pub);
	free(s->db);
	free(s);
}

static int push(struct srec ***v, size_t *n, size_t *cap, struct srec *r)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct srec **p = realloc(*v, c * sizeof(*p));

		if (p == NULL)
			return -1;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = r;
	return 0;
}

static struct srec *rec_get(struct stats *s, const char *key, size_t klen, int create)
{
	struct srec probe, *r;
	unsigned long h;

	if (klen == 0 || klen > MXK_MAX_LEN)
		return NULL;
	memcpy(probe.key, key, klen);
	probe.key[klen] = '\0';
	probe.klen = klen;
	h = CK_HS_HASH(&s->set, rec_hash, &probe);
	r = ck_hs_get(&s->set, h, &probe);
	if (r != NULL || !create)
		return r;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	memcpy(r->key, probe.key, klen + 1);
	r->klen = klen;
	if (!ck_hs_put(&s->set, h, r)) {
		free(r);
		return NULL;
	}
	return r;
}

static void mark(struct stats *s, struct srec *r)
{
	if (!r->dirty_pub && push(&s->pub, &s->npub, &s->cap_pub, r) == 0)
		r->dirty_pub = 1;
	if (!r->dirty_db && push(&s->db, &s->ndb, &s->cap_db, r) == 0)
		r->dirty_db = 1;
}

int stats_event(struct stats *s, int type, int aux, const char *domain, size_t len, int64_t value, int64_t now)
{
	struct srec *r;
	unsigned lim;
	int full;

	if (type == MXS_EV_QUEUE && (value == 0 || value > MXS_STAT_DELTA_MAX || value < -MXS_STAT_DELTA_MAX))
		return -1;
	if (type == MXS_EV_SUCCESS && (aux > MXS_STAT_T_SMTP || value < 0 || value > MXS_STAT_LATENCY_MAX))
		return -1;
	if (type == MXS_EV_FAILURE && (aux < MXS_STAT_T_HTTP || aux > MXS_STAT_T_SMTP))
		return -1;   /* an unknown transport is ignored: nothing counted */
	lim = __atomic_load_n(&s->limit, __ATOMIC_RELAXED);
	full = lim != 0 && ck_hs_count(&s->set) >= lim;
	r = rec_get(s, domain, len, !full);     /* at the limit, known domains only */
	if (r == NULL) {
		if (full)
			ctr_limit(MXS_CTR_LIMIT_STATS,
				  "stats: %u domains are counted ([limits] stats_domains): "
				  "events for new domains are dropped",
				  lim);
		return -1;
	}
	switch (type) {
	case MXS_EV_QUEUE:
		r->f[MXS_STAT_QUEUED] += value;
		if (r->f[MXS_STAT_QUEUED] < 0)
			r->f[MXS_STAT_QUEUED] = 0;     /* never below zero */
		break;
	case MXS_EV_SUCCESS:
		r->f[MXS_STAT_DELIVERIES]++;
		r->f[MXS_STAT_LATENCY] += value;
		if (aux != MXS_STAT_T_NONE)
			r->f[MXS_STAT_SUCCESS_HTTP + aux - 1]++;
		break;
	case MXS_EV_FAILURE:
		r->f[MXS_STAT_FAILED_HTTP + aux - 1]++;
		break;
	default:
		return -1;
	}
	r->f[MXS_STAT_LAST_ACTIVE] = now;
	mark(s, r);
	return 0;
}

/* ---- writer jobs ------------------------------------------------------------- */

static int pub_store(struct store *st, void *arg, int64_t now)
{
	(void)st;
	(void)arg;
	(void)now;
	return 1;                          /* the region only */
}

static int pub_apply(struct region *rg, void *arg)
{
	struct sjob *j = arg;
	uint8_t val[MXS_STAT_VALUE_LEN];
	size_t i;
	int rc = 0;

	for (i = 0; i < j->n; i++) {
		mxc_stat_encode(val, j->v[i].f);
		if (region_put(rg, MXS_TAB_STATS, j->v[i].key, strlen(j->v[i].key), val, sizeof(val), NULL, 0) < 0)
			rc = -1;
	}
	return rc;
}

static int db_store(struct store *st, void *arg, int64_t now)
{
	static const char sql[] =
		"INSERT INTO stats(domain, queued, failed_http, failed_https, failed_smtp, success_http,"
		" success_https, success_smtp, successful, latency_ms, last_active)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
		" ON CONFLICT(domain) DO UPDATE SET queued=excluded.queued, failed_http=excluded.failed_http,"
		" failed_https=excluded.failed_https, failed_smtp=excluded.failed_smtp,"
		" success_http=excluded.success_http, success_https=excluded.success_https,"
		" success_smtp=excluded.success_smtp, successful=excluded.successful,"
		" latency_ms=excluded.latency_ms, last_active=excluded.last_active";
	struct sjob *j = arg;
	sqlite3 *db = store_db(st);
	sqlite3_stmt *s = NULL;
	size_t i;
	int k, rc = -1;

	(void)now;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto done;
	for (i = 0; i < j->n; i++) {
		sqlite3_bind_text(s, 1, j->v[i].key, -1, SQLITE_STATIC);
		for (k = 0; k < MXS_STAT_NFIELDS; k++)
			sqlite3_bind_int64(s, k + 2, j->v[i].f[k]);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto done;
		sqlite3_reset(s);
	}
	rc = 1;
done:
	if (rc < 0)
		log_warnx("stats: store: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc;
}

static int db_apply(struct region *rg, void *arg)
{
	(void)rg;
	(void)arg;
	return 0;
}

/* Copy the dirty list into a job, clear the flags, run it. */
static void send_dirty(struct stats *s, struct writer *w, int region)
{
	struct srec **v = region ? s->pub : s->db;
	size_t n = region ? s->npub : s->ndb, i;
	struct writer_job job;
	struct writer_cmd c;
	struct sjob j;

	if (n == 0)
		return;
	j.v = malloc(n * sizeof(*j.v));
	if (j.v == NULL)
		return;                     /* stays dirty: the next tick tries again */
	for (i = 0; i < n; i++) {
		memcpy(j.v[i].key, v[i]->key, v[i]->klen + 1);
		memcpy(j.v[i].f, v[i]->f, sizeof(j.v[i].f));
		if (region)
			v[i]->dirty_pub = 0;
		else
			v[i]->dirty_db = 0;
	}
	j.n = n;
	if (region)
		s->npub = 0;
	else
		s->ndb = 0;
	memset(&job, 0, sizeof(job));
	job.store = region ? pub_store : db_store;
	job.apply = region ? pub_apply : db_apply;
	job.arg = &j;
	job.nent = region ? n : 0;
	job.bytes = region ? n * (uint64_t)(MXS_STAT_VALUE_LEN + MXK_MAX_LEN) : 0;
	writer_cmd_job(&c, &job);
	writer_run(w, &c);
	if (c.status < 0)
		log_warnx("stats: %zu domains not %s: %s", n, region ? "published" : "stored", c.msg);
	writer_cmd_destroy(&c);
	free(j.v);
}

void stats_tick(struct stats *s, struct writer *w, int final)
{
	uint64_t now = mono_ms();

	if (final || now >= s->next_pub) {
		send_dirty(s, w, 1);
		s->next_pub = now + STATS_PUBLISH_MS;
	}
	if (final || now >= s->next_db) {
		send_dirty(s, w, 0);
		s->next_db = now + STATS_PERSIST_MS;
	}
}

uint64_t stats_due(const struct stats *s)
{
	uint64_t due = UINT64_MAX;

	if (s->npub != 0)
		due = s->next_pub;
	if (s->ndb != 0 && s->next_db < due)
		due = s->next_db;
	return due;
}

int64_t stats_rebuild(struct stats *s, struct store *st, struct region *rg, char *err, size_t errlen)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *q = NULL;
	uint8_t val[MXS_STAT_VALUE_LEN];
	int64_t n = 0;
	int k, step;

	if (sqlite3_prepare_v2(db,
			       "SELECT domain, queued, failed_http, failed_https, failed_smtp, success_http,"
			       " success_https, success_smtp, successful, latency_ms, last_active FROM stats",
			       -1, &q, NULL) != SQLITE_OK)
		goto fail;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(q, 0);
		struct srec *r;

		if (d == NULL || (r = rec_get(s, d, strlen(d), 1)) == NULL) {
			log_warnx("stats: rebuild: a malformed stored row skipped");
			continue;
		}
		for (k = 0; k < MXS_STAT_NFIELDS; k++)
			r->f[k] = sqlite3_column_int64(q, k + 1);
		mxc_stat_encode(val, r->f);
		if (region_put(rg, MXS_TAB_STATS, r->key, r->klen, val, sizeof(val), NULL, 0) < 0) {
			snprintf(err, errlen, "region: %s", strerror(errno));
			sqlite3_finalize(q);
			return -1;
		}
		n++;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(q);
	return n;
fail:
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(q);
	return -1;
}

void stats_set_limit(struct stats *s, unsigned domains)
{
	__atomic_store_n(&s->limit, domains, __ATOMIC_RELAXED);
}

static int on_event(void *arg, const struct mxc_event *ev, const char *domain, size_t len, uint64_t src,
		    uint32_t pid)
{
	(void)src;
	(void)pid;
	stats_event(arg, ev->e_type, ev->e_aux, domain, len, ev->e_value, (int64_t)time(NULL));
	return 0;
}

static void on_tick(void *arg, struct writer *w, int final)
{
	stats_tick(arg, w, final);
}

static uint64_t on_due(const void *arg)
{
	return stats_due(arg);
}

int stats_attach(struct stats *s, struct events *e)
{
	if (events_on(e, MXS_EV_QUEUE, EVENTS_NAME_KEY, on_event, s) != 0 ||
	    events_on(e, MXS_EV_SUCCESS, EVENTS_NAME_KEY, on_event, s) != 0 ||
	    events_on(e, MXS_EV_FAILURE, EVENTS_NAME_KEY, on_event, s) != 0 ||
	    events_tick(e, on_tick, on_due, s) != 0)
		return -1;
	return 0;
}

static int64_t mod_rebuild(void *self, struct store *st, struct region *rg, uint64_t *skipped, char *err,
			   size_t errlen)
{
	(void)skipped;
	return stats_rebuild(self, st, rg, err, errlen);
}

static int mod_attach(void *self, struct events *e)
{
	return stats_attach(self, e);
}

static void mod_set_limits(void *self, const struct config *cfg)
{
	stats_set_limit(self, cfg->lim_stats);
}

static void mod_stop(void *self)
{
	stats_free(self);
}

const struct module_ops stats_module = {
	.name = "domains' stats",
	.rebuild = mod_rebuild,
	.attach = mod_attach,
	.set_limits = mod_set_limits,
	.stop = mod_stop,
};
