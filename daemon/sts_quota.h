/*
 * daemon/sts_quota.h - what clients' misses may cost the MTA-STS manager.
 *
 * A client that finds no usable policy posts a fetch event (a miss), and
 * each miss the manager takes costs a check (DNS, often HTTPS) and an
 * entry in the cache.  Anyone who can make a client look names up (a
 * socketmap peer, a sender whose mail names random domains) chooses the
 * names, so misses are the one input that could fill the cache with
 * names nobody mails to and keep the workers busy with them.  What a
 * miss may cost:
 *
 *   - its source's rate: [limits] client_misses_per_s per reader slot,
 *     the finest source the daemon can tell (the socketmap server is one
 *     slot for all its peers), and STS_ZONE_MISSES_PER_S per parent
 *     domain (the name's last two labels) over all sources, so a flood
 *     of names under one domain leaves the rest of a shared source's
 *     rate to other domains;
 *   - its source's place in the queue: at most STS_MISS_BACKLOG misses of
 *     one source wait, and sources take turns (sts_mq), so one source's
 *     backlog never delays another's next miss; the refresher's and the
 *     admin's checks go before any miss;
 *   - the cache: entries for domains only ever seen by misses, that never
 *     had a policy (backoff and no-policy entries: "never confirmed"),
 *     are at most [limits] sts_miss_entries (default half of sts_entries)
 *     and the first to go: when that quota or the whole cache is full, a
 *     new entry evicts the never-confirmed one checked longest ago.  A
 *     domain that had a policy is never evicted for a miss; when every
 *     entry is such a domain and the cache is full, the miss is refused.
 *
 * Each limit reached is counted (shm/counters.h) and logged once.
 *
 * Thread safety: sts_quota_rate only from the event thread; the rest from
 * any thread (the ledger has its own lock).  An sts_mq belongs to its
 * caller's lock.
 */
#ifndef MXC_DAEMON_STS_QUOTA_H
#define MXC_DAEMON_STS_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "shm/key.h"

struct sqlite3;
struct region;
struct sts_rec;

#define STS_MISS_BACKLOG      64      /* misses of one source waiting for a check */
#define STS_ZONE_MISSES_PER_S 10      /* misses under one parent domain a second, all sources */
#define STS_ZONE_SLOTS        4096    /* rate buckets of parent domains (hashed; a power of 2) */
#define STS_EVICT_BATCH       8       /* entries one new entry may evict (after a limit was lowered) */

/* sts_confirmed - is r (as stored) an entry of a domain that had a policy? */
int sts_confirmed(const struct sts_rec *r);

struct sts_quota;

/* sts_quota_new - for nsrc sources (reader slots); key: a secret hash
 * key.  NULL when out of memory. */
struct sts_quota *sts_quota_new(uint32_t nsrc, const uint8_t key[16]);
void sts_quota_free(struct sts_quota *q);

/* sts_quota_set_limits - [limits] sts_entries, sts_miss_entries (0: half
 * of sts_entries) and client_misses_per_s; at start and on reload. */
void sts_quota_set_limits(struct sts_quota *q, unsigned lim_sts, unsigned lim_miss, unsigned misses_per_s);

/*
 * sts_quota_rate - may source src (slot owner id owner, pid: for the log)
 * have a check of domain (canonical) now?  zone: also count it against
 * the domain's parent.  1: yes; 0: over a rate, counted (and logged the
 * first time).  now_ms: a monotonic clock.  Event thread only.
 */
int sts_quota_rate(struct sts_quota *q, uint32_t src, uint64_t owner, uint32_t pid, const char *domain, int zone,
		   uint64_t now_ms);

/* sts_quota_room - could a new entry be stored now (the cache has room,
 * or holds a never-confirmed entry to evict)? */
int sts_quota_room(struct sts_quota *q);

/*
 * sts_quota_load - the never-confirmed entries stored in db, oldest first.
 * Returns the number, or -1 with err set.  At start, before any other
 * call but sts_quota_set_limits.
 */
long sts_quota_load(struct sts_quota *q, struct sqlite3 *db, char *err, size_t errlen);

/* Entries a store evicts, and what it did to the ledger. */
struct sts_evict {
	size_t n;
	char dom[STS_EVICT_BATCH][MXK_MAX_LEN + 1];
	int store;                  /* the domain is stored (else only the evictions) */
	int added;                  /* and was added to the ledger by sts_quota_pick */
};

/*
 * sts_quota_pick - domain is about to be stored: is_new (not in the
 * cache), unconfirmed (the entry is a never-confirmed one).  Picks the
 * entries to evict into *ev (out of the ledger already: nobody else picks
 * them) and marks domain as being stored (not evictable).  Returns 0, or
 * -1 when may_refuse (a miss: the admin's and the refresher's checks are
 * stored anyway) and the cache would be over [limits] sts_entries even
 * after the evictions: then the domain must not be stored, but the
 * entries in *ev, if any, are evicted all the same (a cache over a
 * lowered limit shrinks back to it).  Store (or only evict) in one writer
 * job with sts_evict_store/apply, then call sts_quota_done.
 */
int sts_quota_pick(struct sts_quota *q, const char *domain, int is_new, int unconfirmed, int may_refuse,
		   struct sts_evict *ev);

/* sts_quota_done - the store of sts_quota_pick committed (ok) or failed:
 * the ledger follows, evictions are counted (and logged once). */
void sts_quota_done(struct sts_quota *q, const char *domain, int unconfirmed, const struct sts_evict *ev, int ok);

/* sts_quota_forget - domain's entry was deleted (forgotten, by the admin). */
void sts_quota_forget(struct sts_quota *q, const char *domain);

/* The writer's side of an eviction: inside the round (SQLite, 0 or -1
 * with err) and after the commit (the region). */
int sts_evict_store(struct sqlite3 *db, const struct sts_evict *ev, char *err, size_t errlen);
void sts_evict_apply(struct region *rg, const struct sts_evict *ev);

/* ---- sts_mq: misses waiting, a queue per source, sources in turn ------------- */

struct sts_mq_node {
	struct sts_mq_node *next;
	uint32_t src;
};

struct sts_mq;

struct sts_mq *sts_mq_new(uint32_t nsrc);
void sts_mq_free(struct sts_mq *m);             /* the nodes are the caller's */

/* sts_mq_waiting - misses of src waiting. */
size_t sts_mq_waiting(const struct sts_mq *m, uint32_t src);

/* sts_mq_push - queue n (n->src set) at the end of its source's queue. */
void sts_mq_push(struct sts_mq *m, struct sts_mq_node *n);

/*
 * sts_mq_first - the next miss to run: the first of the next source in
 * turn for which busy(node, arg) is 0, or NULL.  Does not unlink it.
 */
struct sts_mq_node *sts_mq_first(struct sts_mq *m, int (*busy)(const struct sts_mq_node *, const void *),
				 const void *arg);

/* sts_mq_take - unlink n (from sts_mq_first); its source's turn is over. */
void sts_mq_take(struct sts_mq *m, struct sts_mq_node *n);

/* sts_mq_pop - any waiting node, unlinked, or NULL (for a stop). */
struct sts_mq_node *sts_mq_pop(struct sts_mq *m);

#endif /* MXC_DAEMON_STS_QUOTA_H */
