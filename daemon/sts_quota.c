/*
 * daemon/sts_quota.c - what clients' misses may cost: rates per source and
 * per parent domain, the ledger of never-confirmed entries and their
 * quota, and the queue of misses with a turn per source
 * (daemon/sts_quota.h says why).
 *
 * The ledger keeps every never-confirmed entry of the cache in memory, in
 * the order they were last checked (a hash for lookups, a list for the
 * order), so a miss finds what to evict without a walk of the SQLite
 * table.  It is loaded at start and follows every store, eviction and
 * deletion of the manager; a race between two of those (an admin's
 * forget while a check of the same domain is stored) can at worst leave
 * a name in it that is no longer stored, which costs an eviction that
 * deletes nothing.
 */
#include "sts_quota.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "counters.h"
#include "shm/siphash.h"
#include "sts.h"

#define STS_LEDGER_BUCKETS_MIN 1024   /* initial hash size (a power of 2); doubles with the ledger */

/* A token bucket: per_s tokens a second, as many at most (one second's
 * burst).  owner: the reader slot's client, whose successor in the slot
 * starts with a full bucket. */
struct bucket {
	uint64_t owner;
	uint64_t milli;                      /* thousandths of a token */
	uint64_t last_ms;
};

struct lnode {
	struct lnode *prev, *next;           /* age: head checked longest ago */
	struct lnode *hnext;
	uint64_t h;
	int pending;                         /* being stored: not evictable */
	size_t len;
	char name[];
};

struct sts_quota {
	pthread_mutex_t mu;                  /* the ledger */
	uint8_t key[16];
	struct lnode **tab;
	size_t nb;
	struct lnode *head, *tail;
	size_t count, npending;

	unsigned lim_sts, lim_miss, per_s;   /* atomics */

	/* the event thread's */
	struct bucket *src;
	uint32_t nsrc;
	struct bucket zone[STS_ZONE_SLOTS];
};

int sts_confirmed(const struct sts_rec *r)
{
	return r->kind == MXS_STS_KIND_POLICY || (r->flags & STS_F_CONFIRMED) != 0;
}

struct sts_quota *sts_quota_new(uint32_t nsrc, const uint8_t key[16])
{
	struct sts_quota *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->src = calloc(nsrc > 0 ? nsrc : 1, sizeof(*q->src));
	q->nb = STS_LEDGER_BUCKETS_MIN;
	q->tab = calloc(q->nb, sizeof(*q->tab));
	if (q->src == NULL || q->tab == NULL) {
		free(q->src);
		free(q->tab);
		free(q);
		return NULL;
	}
	q->nsrc = nsrc;
	memcpy(q->key, key, sizeof(q->key));
	pthread_mutex_init(&q->mu, NULL);
	return q;
}

void sts_quota_free(struct sts_quota *q)
{
	struct lnode *n, *next;

	if (q == NULL)
		return;
	for (n = q->head; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	pthread_mutex_destroy(&q->mu);
	free(q->tab);
	free(q->src);
	free(q);
}

void sts_quota_set_limits(struct sts_quota *q, unsigned lim_sts, unsigned lim_miss, unsigned misses_per_s)
{
	__atomic_store_n(&q->lim_sts, lim_sts, __ATOMIC_RELAXED);
	__atomic_store_n(&q->lim_miss, lim_miss, __ATOMIC_RELAXED);
	__atomic_store_n(&q->per_s, misses_per_s, __ATOMIC_RELAXED);
}

/* The never-confirmed entries allowed: [limits] sts_miss_entries, by
 * default half the cache; never more than the cache. */
static size_t quota_of(const struct sts_quota *q)
{
	unsigned all = __atomic_load_n(&q->lim_sts, __ATOMIC_RELAXED);
	unsigned m = __atomic_load_n(&q->lim_miss, __ATOMIC_RELAXED);

	if (m == 0)
		m = all / 2 > 0 ? all / 2 : 1;
	return m < all ? m : all;
}

/* ---- rates ---------------------------------------------------------------------- */

/* Take a token from b (refilled for the time since its last use).  1: taken. */
static int bucket_take(struct bucket *b, uint64_t per_s, uint64_t now)
{
	uint64_t cap = per_s * 1000;

	if (b->last_ms == 0) {
		b->milli = cap;
		b->last_ms = now;
	}
	if (now > b->last_ms) {
		b->milli += (now - b->last_ms) * per_s;     /* per_s per 1000 ms */
		b->last_ms = now;
	}
	if (b->milli > cap)
		b->milli = cap;
	if (b->milli < 1000)
		return 0;
	b->milli -= 1000;
	return 1;
}

/* The parent domain of a canonical name: its last two labels (the name
 * itself when it has fewer).  Not the registrable domain (no public suffix
 * list here): names under a shared suffix such as co.uk share a parent. */
static const char *zone_of(const char *domain, size_t *len)
{
	const char *end = domain + strlen(domain), *p = end, *z = domain;
	int dots = 0;

	while (p > domain) {
		p--;
		if (*p == '.' && ++dots == 2) {
			z = p + 1;
			break;
		}
	}
	*len = (size_t)(end - z);
	return z;
}

int sts_quota_rate(struct sts_quota *q, uint32_t src, uint64_t owner, uint32_t pid, const char *domain, int zone,
		   uint64_t now_ms)
{
	unsigned per_s = __atomic_load_n(&q->per_s, __ATOMIC_RELAXED);
	struct bucket *b;
	const char *z;
	size_t zlen;

	/* the parent first: what a flood under one parent loses there costs
	 * its slot nothing, so the slot's rate stays for other domains */
	if (zone) {
		z = zone_of(domain, &zlen);
		b = &q->zone[mxc_siphash13(q->key, z, zlen) & (STS_ZONE_SLOTS - 1)];
		if (!bucket_take(b, STS_ZONE_MISSES_PER_S, now_ms)) {
			ctr_limit(MXS_CTR_LIMIT_ZONE_MISSES,
				  "sts: misses under %.*s come faster than %u a second (all clients): the excess "
				  "is not checked",
				  (int)zlen, z, STS_ZONE_MISSES_PER_S);
			return 0;
		}
	}
	if (src >= q->nsrc)
		return 1;
	b = &q->src[src];
	if (b->owner != owner) {
		memset(b, 0, sizeof(*b));
		b->owner = owner;
	}
	if (bucket_take(b, per_s, now_ms))
		return 1;
	ctr_limit(MXS_CTR_LIMIT_MISSES,
		  "sts: client pid %u (reader slot %u) misses more than %u domains/s ([limits] "
		  "client_misses_per_s): the excess is not checked",
		  pid, src, per_s);
	return 0;
}

/* ---- the ledger ----------------------------------------------------------------- */

static uint64_t lhash(const struct sts_quota *q, const char *name, size_t len)
{
	return mxc_siphash13(q->key, name, len);
}

/* Under q->mu. */
static struct lnode *lfind(const struct sts_quota *q, const char *name)
{
	size_t len = strlen(name);
	uint64_t h = lhash(q, name, len);
	struct lnode *n;

	for (n = q->tab[h & (q->nb - 1)]; n != NULL; n = n->hnext)
		if (n->h == h && n->len == len && memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

/* Under q->mu: double the hash when it is as long as the ledger (failing
 * that, chains grow longer: slower, still right). */
static void lgrow(struct sts_quota *q)
{
	struct lnode **tab, *n, *next;
	size_t nb = q->nb * 2, i;

	tab = calloc(nb, sizeof(*tab));
	if (tab == NULL)
		return;
	for (i = 0; i < q->nb; i++) {
		for (n = q->tab[i]; n != NULL; n = next) {
			next = n->hnext;
			n->hnext = tab[n->h & (nb - 1)];
			tab[n->h & (nb - 1)] = n;
		}
	}
	free(q->tab);
	q->tab = tab;
	q->nb = nb;
}

/* Under q->mu: a new node at the end of the age order (at_head: the start). */
static struct lnode *ladd(struct sts_quota *q, const char *name, int at_head)
{
	size_t len = strlen(name);
	struct lnode *n = malloc(sizeof(*n) + len + 1);

	if (n == NULL)
		return NULL;     /* not tracked: the entry is never evicted for a miss */
	memcpy(n->name, name, len + 1);
	n->len = len;
	n->h = lhash(q, name, len);
	n->pending = 0;
	if (q->count >= q->nb)
		lgrow(q);
	n->hnext = q->tab[n->h & (q->nb - 1)];
	q->tab[n->h & (q->nb - 1)] = n;
	if (at_head) {
		n->prev = NULL;
		n->next = q->head;
		if (q->head != NULL)
			q->head->prev = n;
		else
			q->tail = n;
		q->head = n;
	} else {
		n->next = NULL;
		n->prev = q->tail;
		if (q->tail != NULL)
			q->tail->next = n;
		else
			q->head = n;
		q->tail = n;
	}
	q->count++;
	return n;
}

/* Under q->mu: out of the age order only. */
static void lunlink(struct sts_quota *q, struct lnode *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		q->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		q->tail = n->prev;
	n->prev = n->next = NULL;
}

/* Under q->mu: out of the ledger, freed. */
static void lremove(struct sts_quota *q, struct lnode *n)
{
	struct lnode **pp = &q->tab[n->h & (q->nb - 1)];

	while (*pp != NULL && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp == n)
		*pp = n->hnext;
	lunlink(q, n);
	if (n->pending)
		q->npending--;
	q->count--;
	free(n);
}

int sts_quota_room(struct sts_quota *q)
{
	int room;

	if (ctr_entries(MXS_TAB_STS) < __atomic_load_n(&q->lim_sts, __ATOMIC_RELAXED))
		return 1;
	pthread_mutex_lock(&q->mu);
	room = q->count > q->npending;
	pthread_mutex_unlock(&q->mu);
	return room;
}

static int load_one(struct sts_rec *r, void *arg)
{
	struct sts_quota *q = arg;

	if (lfind(q, r->domain) == NULL)
		ladd(q, r->domain, 0);
	return 0;
}

long sts_quota_load(struct sts_quota *q, sqlite3 *db, char *err, size_t errlen)
{
	char where[128];
	int rc;

	/* the order of their answers' ends is the order they were checked in,
	 * near enough (backoff and no-policy answers stand for different
	 * times) */
	snprintf(where, sizeof(where), "kind != %d AND (flags & %d) = 0 ORDER BY valid_end", MXS_STS_KIND_POLICY,
		 STS_F_CONFIRMED);
	pthread_mutex_lock(&q->mu);
	rc = sts_db_foreach(db, where, 0, 0, 0, load_one, q, err, errlen);
	pthread_mutex_unlock(&q->mu);
	return rc < 0 ? -1 : (long)q->count;
}

int sts_quota_pick(struct sts_quota *q, const char *domain, int is_new, int unconfirmed, int may_refuse,
		   struct sts_evict *ev)
{
	uint64_t entries = ctr_entries(MXS_TAB_STS), lim = __atomic_load_n(&q->lim_sts, __ATOMIC_RELAXED);
	size_t quota = quota_of(q), need = 0;
	struct lnode *self, *v, *next;

	ev->n = 0;
	ev->store = 0;
	ev->added = 0;
	pthread_mutex_lock(&q->mu);
	self = lfind(q, domain);
	if (unconfirmed && self == NULL && q->count + 1 > quota)
		need = q->count + 1 - quota;
	if (is_new && entries + 1 > lim && entries + 1 - lim > need)
		need = (size_t)(entries + 1 - lim);
	if (need > STS_EVICT_BATCH)
		need = STS_EVICT_BATCH;
	for (v = q->head; v != NULL && ev->n < need; v = next) {
		next = v->next;
		if (v->pending || v == self)
			continue;
		snprintf(ev->dom[ev->n++], sizeof(ev->dom[0]), "%s", v->name);
		lremove(q, v);
	}
	if (is_new && entries + 1 > lim + ev->n && may_refuse) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	ev->store = 1;
	if (unconfirmed && self == NULL) {
		self = ladd(q, domain, 0);
		ev->added = self != NULL;
	} else if (unconfirmed) {
		/* checked again: the youngest now */
		lunlink(q, self);
		self->prev = q->tail;
		if (q->tail != NULL)
			q->tail->next = self;
		else
			q->head = self;
		q->tail = self;
	}
	if (self != NULL && !self->pending) {
		self->pending = 1;
		q->npending++;
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void sts_quota_done(struct sts_quota *q, const char *domain, int unconfirmed, const struct sts_evict *ev, int ok)
{
	struct lnode *self;
	size_t i;

	pthread_mutex_lock(&q->mu);
	self = ev->store ? lfind(q, domain) : NULL;
	if (self != NULL && self->pending) {
		self->pending = 0;
		q->npending--;
	}
	if (!ev->store) {
		/* only evictions */
	} else if (ok) {
		if (!unconfirmed && self != NULL)
			lremove(q, self);           /* it has a policy now */
		else if (unconfirmed && self == NULL)
			ladd(q, domain, 0);         /* forgotten meanwhile, stored again */
	} else {
		if (ev->added && self != NULL)
			lremove(q, self);
		/* not evicted after all: back where they were, oldest first */
		for (i = ev->n; i-- > 0;)
			if (lfind(q, ev->dom[i]) == NULL)
				ladd(q, ev->dom[i], 1);
	}
	pthread_mutex_unlock(&q->mu);
	if (!ok || ev->n == 0)
		return;
	ctr_limit(MXS_CTR_LIMIT_MISS_ENTRIES,
		  "sts: the cache holds %zu never-confirmed entries ([limits] sts_miss_entries) or %u in all "
		  "([limits] sts_entries): new entries evict the never-confirmed ones checked longest ago "
		  "(first %s)",
		  quota_of(q), __atomic_load_n(&q->lim_sts, __ATOMIC_RELAXED), ev->dom[0]);
	if (ev->n > 1)
		ctr_add(MXS_CTR_LIMIT_MISS_ENTRIES, ev->n - 1);
}

void sts_quota_forget(struct sts_quota *q, const char *domain)
{
	struct lnode *n;

	pthread_mutex_lock(&q->mu);
	n = lfind(q, domain);
	if (n != NULL && !n->pending)
		lremove(q, n);
	pthread_mutex_unlock(&q->mu);
}

int sts_evict_store(sqlite3 *db, const struct sts_evict *ev, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < ev->n; i++)
		if (sts_db_del(db, ev->dom[i], err, errlen) < 0)
			return -1;
	return 0;
}

void sts_evict_apply(struct region *rg, const struct sts_evict *ev)
{
	size_t i;

	for (i = 0; i < ev->n; i++)
		sts_region_del(rg, ev->dom[i]);
}

/* ---- sts_mq ------------------------------------------------------------------------ */

/* A source's queue; sources with misses waiting form a ring (prev/next:
 * source numbers), served from cur on. */
struct mq_src {
	struct sts_mq_node *head, *tail;
	size_t n;
	uint32_t prev, next;
};

struct sts_mq {
	struct mq_src *s;
	uint32_t nsrc;
	uint32_t cur;                        /* the next source in turn, when nactive > 0 */
	uint32_t nactive;
};

struct sts_mq *sts_mq_new(uint32_t nsrc)
{
	struct sts_mq *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->s = calloc(nsrc > 0 ? nsrc : 1, sizeof(*m->s));
	if (m->s == NULL) {
		free(m);
		return NULL;
	}
	m->nsrc = nsrc;
	return m;
}

void sts_mq_free(struct sts_mq *m)
{
	if (m != NULL) {
		free(m->s);
		free(m);
	}
}

size_t sts_mq_waiting(const struct sts_mq *m, uint32_t src)
{
	return src < m->nsrc ? m->s[src].n : 0;
}

void sts_mq_push(struct sts_mq *m, struct sts_mq_node *n)
{
	struct mq_src *s;
	uint32_t src = n->src < m->nsrc ? n->src : 0;

	n->src = src;
	s = &m->s[src];
	n->next = NULL;
	if (s->tail != NULL)
		s->tail->next = n;
	else
		s->head = n;
	s->tail = n;
	if (s->n++ > 0)
		return;
	/* a source with nothing waiting joins the ring just before the one in
	 * turn: it waits for every source already waiting, once */
	if (m->nactive == 0) {
		s->prev = s->next = src;
		m->cur = src;
	} else {
		s->next = m->cur;
		s->prev = m->s[m->cur].prev;
		m->s[s->prev].next = src;
		m->s[m->cur].prev = src;
	}
	m->nactive++;
}

struct sts_mq_node *sts_mq_first(struct sts_mq *m, int (*busy)(const struct sts_mq_node *, const void *),
				 const void *arg)
{
	struct sts_mq_node *n;
	uint32_t src = m->cur, i;

	for (i = 0; i < m->nactive; i++, src = m->s[src].next)
		for (n = m->s[src].head; n != NULL; n = n->next)
			if (!busy(n, arg))
				return n;
	return NULL;
}

void sts_mq_take(struct sts_mq *m, struct sts_mq_node *n)
{
	struct mq_src *s = &m->s[n->src];
	struct sts_mq_node **pp = &s->head, *prev = NULL;

	while (*pp != NULL && *pp != n) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = n->next;
	if (s->tail == n)
		s->tail = prev;
	n->next = NULL;
	m->cur = s->next;                    /* its turn is over */
	if (--s->n > 0)
		return;
	m->nactive--;
	if (m->nactive == 0)
		return;
	m->s[s->prev].next = s->next;
	m->s[s->next].prev = s->prev;
}

struct sts_mq_node *sts_mq_pop(struct sts_mq *m)
{
	struct sts_mq_node *n;

	if (m->nactive == 0)
		return NULL;
	n = m->s[m->cur].head;
	sts_mq_take(m, n);
	return n;
}
