/*
 * daemon/sts_queue.c - the MTA-STS manager's job queue: the lanes, the
 * pending set, and the order in which workers take jobs.
 *
 * Concurrency: every check is one job on one queue, taken by one of
 * sts.workers threads, so refreshing 10,000 domains costs 10,000 round
 * trips divided by the pool size in wall time, and the pool bounds what
 * the daemon opens at once (sockets, TLS sessions, DNS queries).  A job is
 * queued once per domain: a pending set (ck_hs under the queue lock)
 * holds every domain queued, running or finished less than
 * STS_DEDUP_S ago, so a thousand clients missing the same domain in the
 * same second cause one fetch.  Results go to the writer like any other
 * change, so they are committed to SQLite before clients can see them.
 *
 * Two lanes, because a check is not always quick.  A policy host that
 * accepts and never answers, trickles its response, never finishes the
 * TLS handshake, or a DNS server that never replies, holds a worker for
 * the whole fetch (or DNS) timeout.  With one first-in-first-out queue, a
 * few dozen such domains retried by clients and by the refresher would
 * hold every worker in turn, and fresh and known-good domains would wait
 * behind them for many timeouts.  So a check whose domain failed last
 * time (a backoff entry, or a kept policy with a failure recorded) runs in
 * the slow lane, which may use at most half the workers (at least one):
 * the other half is always there for the other lanes (new domains, good
 * ones, MX lookups, admin requests).  Between the slow lane and clients'
 * misses the older job goes first, so neither starves.  A job learns its
 * lane where the domain's entry is read anyway, in the worker (run_sts):
 * every job enters the fast or the miss lane, and one that turns out to
 * belong to a full slow lane moves there before it has done any network
 * work.  A new
 * domain that stalls costs one timeout, once: after that it is a known
 * failure.
 *
 * Clients' misses wait in a lane of their own, s->mq (daemon/sts_quota.h):
 * a queue per reader slot, the slots taking turns, at most
 * STS_MISS_BACKLOG waiting per slot, so a client's flood delays another
 * client's miss by one check per flooding client.  The refresher's and
 * the admin's jobs are the fast lane.  Between the fast lane and clients'
 * jobs (misses and the slow lane) each side has half the workers while
 * both wait (fast_first): a flood of new names delays the refresh of a
 * policy in use by one check at most, and a wave of refreshes leaves
 * clients half the pool.
 *
 * Two checks of one domain never run at once (an admin's fetch while the
 * refresher checks the same domain): the later waits in the queue, so an
 * older, slower check can never overwrite what a newer one stored.
 */
#include "sts_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "counters.h"
#include "hs.h"
#include "region.h"
#include "shm/siphash.h"

/* ---- the pending set (ck_hs) ---------------------------------------------- */

static struct sts *pend_owner;   /* the hash callback has no context argument */

static unsigned long pend_hash(const void *obj, unsigned long seed)
{
	const struct pend *p = obj;

	(void)seed;
	return (unsigned long)mxc_siphash13(pend_owner->hkey, p->key, p->klen);
}

static bool pend_cmp(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;

	return x->klen == y->klen && memcmp(x->key, y->key, x->klen) == 0;
}

static void pend_key(struct pend *p, int kind, const char *domain)
{
	p->klen = (size_t)snprintf(p->key, sizeof(p->key), "%c:%s", kind == JOB_STS ? 's' : 'm', domain);
}

/* Under s->mu.  1: the domain may be queued now (and is marked), 0: not:
 * queued, running, or done less than dedup_s ago. */
static int pend_claim(struct sts *s, int kind, const char *domain, int64_t now, int64_t dedup_s)
{
	struct pend probe, *p;
	unsigned long h;

	pend_key(&probe, kind, domain);
	h = CK_HS_HASH(&s->pend, pend_hash, &probe);
	p = ck_hs_get(&s->pend, h, &probe);
	if (p != NULL) {
		if (p->done_at == 0 || now - p->done_at < dedup_s)
			return 0;
		p->done_at = 0;
		return 1;
	}
	p = malloc(sizeof(*p));
	if (p == NULL)
		return 0;
	*p = probe;
	p->done_at = 0;
	if (!ck_hs_put(&s->pend, h, p)) {
		free(p);
		return 0;
	}
	return 1;
}

/* Under s->mu: is the domain queued, running or checked less than
 * dedup_s ago? */
static int pend_busy(struct sts *s, int kind, const char *domain, int64_t now, int64_t dedup_s)
{
	struct pend probe, *p;

	pend_key(&probe, kind, domain);
	p = ck_hs_get(&s->pend, CK_HS_HASH(&s->pend, pend_hash, &probe), &probe);
	return p != NULL && (p->done_at == 0 || now - p->done_at < dedup_s);
}

/* Under s->mu. */
static void pend_done(struct sts *s, int kind, const char *domain, int64_t now)
{
	struct pend probe, *p;

	pend_key(&probe, kind, domain);
	p = ck_hs_get(&s->pend, CK_HS_HASH(&s->pend, pend_hash, &probe), &probe);
	if (p != NULL)
		p->done_at = now;
}

/* Under s->mu: drop entries done long enough ago. */
void sts_pend_prune(struct sts *s, int64_t now)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	struct pend *victims[256], *p;
	void *obj;
	size_t n = 0, i;

	while (n < sizeof(victims) / sizeof(victims[0]) && ck_hs_next(&s->pend, &it, &obj)) {
		p = obj;
		if (p->done_at != 0 && now - p->done_at >= STS_DEDUP_S)
			victims[n++] = p;
	}
	for (i = 0; i < n; i++) {
		ck_hs_remove(&s->pend, CK_HS_HASH(&s->pend, pend_hash, victims[i]), victims[i]);
		free(victims[i]);
	}
}

/* ---- the queue ----------------------------------------------------------------- */

static void lane_push(struct sts *s, int lane, struct job *j)
{
	struct lane *l = &s->lane[lane];

	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	s->queued++;
}

/* Queue a job.  Returns 0, or -1 (full, stopping, no memory): dropped. */
int sts_enqueue(struct sts *s, int kind, const char *domain, struct waiter *w)
{
	struct job *j;
	int64_t now = wall_now();

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->kind = kind;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	j->w = w;
	pthread_mutex_lock(&s->mu);
	if (s->stopping || s->queued >= STS_QUEUE_MAX) {
		pthread_mutex_unlock(&s->mu);
		free(j);
		return -1;
	}
	if (w == NULL) {
		if (!pend_claim(s, kind, domain, now, STS_DEDUP_S)) {
			pthread_mutex_unlock(&s->mu);
			free(j);
			return 0;     /* already on its way: not an error */
		}
		j->tracked = 1;
	}
	j->seq = s->seq++;
	lane_push(s, LANE_FAST, j);
	__atomic_fetch_add(&s->inflight[kind], 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/*
 * Queue a client's miss, posted in reader slot src: not when its domain is
 * on its way already, then only within the source's and the parent
 * domain's rates and the source's backlog (daemon/sts_quota.h); over
 * those it is dropped, counted and logged once.  A recheck (every_s > 0)
 * is a miss that also waits every_s after the domain's last recheck, and
 * after its last check of any kind (not the usual STS_DEDUP_S: a short
 * recheck_s means a change is wanted soon).
 */
static void enqueue_client(struct sts *s, int kind, const char *domain, uint64_t key, uint32_t pid,
			   unsigned every_s)
{
	struct job *j;
	int64_t now = wall_now(), dedup_s = STS_DEDUP_S;
	uint32_t src = (uint32_t)(key % STS_SOURCES);
	uint64_t h = 0;
	size_t slot = 0;

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return;
	j->kind = kind;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	j->miss = 1;
	j->recheck = every_s > 0;
	j->mq.src = src;
	pthread_mutex_lock(&s->mu);
	if (s->stopping || s->queued >= STS_QUEUE_MAX)
		goto drop;
	if (j->recheck) {
		h = mxc_siphash13(s->hkey, domain, strlen(domain)) | 1;   /* 0: a free memo slot */
		slot = (size_t)(h & (STS_RECHECK_MEMO - 1));
		if (s->rmemo[slot].h == h && now - s->rmemo[slot].at < (int64_t)every_s)
			goto drop;
		if ((int64_t)every_s < dedup_s)
			dedup_s = every_s;
	}
	if (pend_busy(s, kind, domain, now, dedup_s))
		goto drop;     /* already on its way: not an error, and it costs no rate */
	if (!sts_quota_rate(s->quota, src, key, pid, domain, kind == JOB_STS, mono_ms()))
		goto drop;
	if (sts_mq_waiting(s->mq, src) >= STS_MISS_BACKLOG) {
		ctr_limit(MXS_CTR_LIMIT_MISS_BACKLOG,
			  "sts: client pid %u (reader slot %u) has %d misses waiting for a check: more are not "
			  "checked until some are",
			  pid, (unsigned)(key & 1023), STS_MISS_BACKLOG);
		goto drop;
	}
	if (!pend_claim(s, kind, domain, now, dedup_s))
		goto drop;
	if (j->recheck) {
		s->rmemo[slot].h = h;
		s->rmemo[slot].at = now;
	}
	j->tracked = 1;
	j->seq = s->seq++;
	sts_mq_push(s->mq, &j->mq);
	s->queued++;
	__atomic_fetch_add(&s->inflight[kind], 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return;
drop:
	pthread_mutex_unlock(&s->mu);
	free(j);
}

void sts_enqueue_miss(struct sts *s, int kind, const char *domain, uint64_t key, uint32_t pid)
{
	enqueue_client(s, kind, domain, key, pid, 0);
}

void sts_enqueue_recheck(struct sts *s, const char *domain, uint64_t key, uint32_t pid, unsigned every_s)
{
	if (every_s > 0)
		enqueue_client(s, JOB_STS, domain, key, pid, every_s);
}

/* Under s->mu: is a check of j's domain running in a worker? */
static int domain_busy(const struct sts *s, const struct job *j)
{
	const struct job *c;
	size_t i;

	for (i = 0; i < s->nworkers; i++) {
		c = s->workers[i].cur;
		if (c != NULL && c->kind == j->kind && strcmp(c->domain, j->domain) == 0)
			return 1;
	}
	return 0;
}

/* Under s->mu: the first job of a lane whose domain is not being checked
 * (nearly always the head), and the job before it, for unlinking. */
static struct job *lane_first(const struct sts *s, int lane, struct job **prev)
{
	struct job *j, *p = NULL;

	for (j = s->lane[lane].head; j != NULL; p = j, j = j->next)
		if (!domain_busy(s, j))
			break;
	*prev = p;
	return j;
}

static const struct job *miss_job(const struct sts_mq_node *n)
{
	return (const struct job *)(const void *)((const char *)n - offsetof(struct job, mq));
}

static int miss_busy(const struct sts_mq_node *n, const void *s)
{
	return domain_busy(s, miss_job(n));
}

static void lane_unlink(struct sts *s, int lane, struct job *j, struct job *prev)
{
	struct lane *l = &s->lane[lane];

	if (prev != NULL)
		prev->next = j->next;
	else
		l->head = j->next;
	if (l->tail == j)
		l->tail = prev;
	j->next = NULL;
	s->queued--;
}

/* Under s->mu: j no longer holds a running count. */
static void run_release(struct sts *s, struct job *j)
{
	if (j->run == RUN_FAST)
		s->fast_running--;
	else if (j->run == RUN_SLOW)
		s->slow_running--;
	else if (j->run == RUN_MISS)
		s->miss_running--;
	j->run = RUN_NONE;
}

/*
 * Under s->mu: of f (the refresher's or an admin's) and c (a client's
 * miss or a known failure), both runnable, does f go first?  While both
 * wait, each side has half the workers (clients the smaller half): the
 * side under its half goes first; else the older job.  So a flood of
 * misses delays a refresh by one check, and a wave of refreshes (a
 * restart after a long stop) leaves clients' misses half the pool.
 */
static int fast_first(const struct sts *s, const struct job *f, const struct job *c)
{
	size_t c_run = s->slow_running + s->miss_running, c_share = s->nworkers / 2;

	if (s->nworkers >= 2) {
		if (s->fast_running < s->nworkers - c_share && c_run >= c_share)
			return 1;
		if (c_run < c_share && s->fast_running >= s->nworkers - c_share)
			return 0;
	}
	return f->seq < c->seq;
}

/*
 * The next job for worker wk: the refresher's and the admin's (the fast
 * lane), or clients': the older of the slow lane's first runnable job
 * (only while fewer than slow_max slow jobs run) and the miss lane's next
 * in turn; between the two sides, fast_first.  Waits until there is one;
 * NULL when stopping.
 */
struct job *sts_dequeue(struct worker *wk)
{
	struct sts *s = wk->s;
	struct job *f, *sl, *m, *c, *fp, *sp = NULL, *j = NULL;
	struct sts_mq_node *mn;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		f = lane_first(s, LANE_FAST, &fp);
		sl = s->slow_running < s->slow_max ? lane_first(s, LANE_SLOW, &sp) : NULL;
		mn = sts_mq_first(s->mq, miss_busy, s);
		m = mn != NULL ? (struct job *)(void *)((char *)mn - offsetof(struct job, mq)) : NULL;
		c = sl != NULL && (m == NULL || sl->seq < m->seq) ? sl : m;
		if (f != NULL && (c == NULL || fast_first(s, f, c))) {
			lane_unlink(s, LANE_FAST, f, fp);
			s->fast_running++;
			f->run = RUN_FAST;
			j = f;
			break;
		}
		if (c != NULL && c == sl) {
			lane_unlink(s, LANE_SLOW, sl, sp);
			s->slow_running++;
			sl->run = RUN_SLOW;
			j = sl;
			break;
		}
		if (c != NULL) {
			sts_mq_take(s->mq, mn);
			s->queued--;
			s->miss_running++;
			m->run = RUN_MISS;
			j = m;
			break;
		}
		pthread_cond_wait(&s->cv, &s->mu);
	}
	wk->cur = j;
	pthread_mutex_unlock(&s->mu);
	return j;
}

/*
 * A job from another lane whose domain failed last time: run it now as a
 * slow job if the slow lane has room (0), else move it there (1: the
 * worker is free again; the job keeps its place in the order of arrival).
 */
int sts_to_slow_lane(struct worker *wk, struct job *j)
{
	struct sts *s = wk->s;
	int moved = 0;

	pthread_mutex_lock(&s->mu);
	run_release(s, j);
	j->slow = 1;
	if (s->slow_running < s->slow_max) {
		s->slow_running++;
		j->run = RUN_SLOW;
	} else {
		lane_push(s, LANE_SLOW, j);
		wk->cur = NULL;
		moved = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return moved;
}

/* The job is done: free the worker, the slow-lane place, the domain. */
void sts_job_done(struct worker *wk, struct job *j)
{
	struct sts *s = wk->s;

	pthread_mutex_lock(&s->mu);
	wk->cur = NULL;
	run_release(s, j);
	if (j->tracked)
		pend_done(s, j->kind, j->domain, wall_now());
	/* a job that waited for this domain, or for a slow-lane place, may
	 * run now; this worker looks next, but others may be idle */
	if (s->queued > 0)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	free(j);
}

void sts_waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

void sts_waiter_destroy(struct waiter *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

void sts_waiter_complete(struct waiter *w, int rc, const char *msg)
{
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	snprintf(w->msg, sizeof(w->msg), "%s", msg);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void sts_waiter_wait(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

int sts_queue_init(struct sts *s)
{
	pend_owner = s;
	return ck_hs_init(&s->pend, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, pend_hash, pend_cmp, &hs_alloc,
			  STS_PEND_CAP, 0)
		       ? 0
		       : -1;
}

void sts_queue_drain(struct sts *s)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	struct sts_mq_node *mn;
	struct job *j;
	void *obj;
	size_t i;

	for (i = 0; i < LANES; i++) {
		while ((j = s->lane[i].head) != NULL) {
			s->lane[i].head = j->next;
			if (j->w != NULL)
				sts_waiter_complete(j->w, -1, "mxcached is shutting down");
			free(j);
		}
	}
	while ((mn = sts_mq_pop(s->mq)) != NULL)
		free((char *)mn - offsetof(struct job, mq));   /* misses: nobody waits */
	while (ck_hs_next(&s->pend, &it, &obj))
		free(obj);
	ck_hs_destroy(&s->pend);
}
