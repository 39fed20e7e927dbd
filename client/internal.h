/*
 * client/internal.h - what the files of libmxcache share; never installed.
 *
 * The library's files: map.c (open/close, fork, mapping and remapping),
 * slots.c (reader slots and the read-side critical section), events.c
 * (events to the daemon), one tab_*.c per table (the lookups and walks of
 * that table), inspect.c (verify, status, counters, metrics, readers).
 * Everything here is hidden: the exported names are client/mxcache.h's,
 * listed in client/libmxcache.map.
 *
 * libmxcache maps the region read-only and answers lookups.
 *
 * A lookup is: normalise the key (stack buffer), announce the read in this
 * thread's reader slot (shm/rcu.h), load the root and one index word, read
 * one bucket, copy the answer out, clear the slot.  No lock, no system
 * call, no allocation.
 *
 * Things that are not lookups and may make system calls: mxc_open and
 * mxc_close; the first lookup on a thread (claims a slot: one fcntl); the
 * first lookup after the daemon retired the region (maps the new one);
 * the first lookup after that once no thread of this process is still
 * inside the old region (unmaps it).
 *
 * REMAPPING WITHOUT A LOCK ON THE READ PATH
 *
 * The handle's current mapping h->cur is swapped by whichever thread first
 * sees the region RETIRED (a try-lock elects it; the others keep reading
 * the old mapping, which stays valid).  Unmapping the old mapping must wait
 * for every thread of this process that might be inside it.  A reader does
 *     m = load(cur); xchg(slot.word, tag(m)); if (load(cur) != m) retry
 * and the unmapper does
 *     store(cur, new); fence; scan this handle's slots for tag(old)
 * the same Dekker pairing as the writer's grace period: either the scan
 * sees the reader's tag, or the reader sees the new mapping and moves.
 * Slotless readers are counted in h->slotless instead.
 */
#ifndef MXC_CLIENT_INTERNAL_H
#define MXC_CLIENT_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <ck_bitmap.h>
#include <linux/membarrier.h>

#include "../shm/atomic.h"
#include "../shm/clock.h"
#include "../shm/counters.h"
#include "../shm/events.h"
#include "../shm/fed.h"
#include "../shm/key.h"
#include "../shm/layout.h"
#include "../shm/metrics.h"
#include "../shm/mx.h"
#include "../shm/override.h"
#include "../shm/path.h"
#include "../shm/rcu.h"
#include "../shm/servers.h"
#include "../shm/stats.h"
#include "../shm/sts.h"
#include "../shm/sts_match.h"
#include "../shm/table.h"
#include "../shm/tables.h"
#include "mxcache.h"
#include "rblock.h"

/* A slotless read retries this many times if memory was reclaimed under
 * it.  The writer reclaims at most once per publish or 100 ms tick, and a
 * lookup takes well under a microsecond, so a second try practically
 * always succeeds. */
#define MXC_SLOTLESS_TRIES 8

struct mxc_map {
	uint8_t *base;
	uint64_t size;                 /* bytes mapped */
	uint64_t lim;                  /* in a view: h_backed as last read */
	const struct mxc_shm_hdr *hdr;
	uint64_t inc;
	uint32_t flags;                /* h_flags */
	uint64_t writer;               /* h_writer_id: whose scan covers it */
	struct mxc_map *next;          /* retired list */
};

/* What a thread's pthread key value points at: the handle and its slot. */
struct slotref {
	struct mxc *h;
	uint32_t slot;
	uint32_t forkgen;
};

struct mxc {
	struct mxc_map *cur;           /* atomic: the mapping lookups use */
	struct mxc_map *retired;       /* under remap_lock */
	struct mxc_map *dead;          /* unmapped; structs kept for close */
	uint32_t remap_lock;           /* try-lock, never waited on */
	uint32_t nretired;             /* atomic: fast check for cleanup */
	uint64_t slotless;             /* atomic: slotless reads in flight */
	uint64_t next_remap_ms;        /* mono_coarse_ms() */

	struct rblock blk;             /* this process's reader block */
	uint64_t ev_dropped;           /* atomic: events not handed over */
	ck_bitmap_t *owned;            /* slots of blk claimed by a thread */
	struct slotref *refs;          /* MXS_SLOTS_MAX, one per slot */
	uint64_t owner;
	uint64_t id;                   /* this process's handles: 1, 2, ...; never reused */
	pthread_key_t key;
	pthread_mutex_t claim_mu;      /* claim path only, never a lookup */
	uint32_t noslot_reads;         /* atomic: reads since a failed claim */
	uint64_t noslot_retry_ms;      /* atomic: next claim attempt, at the latest */
	int fatal;                     /* < 0: answer this (layout upgrade) */
	int membarrier;                /* registered for both expedited kinds */
	struct mxc *next_open;         /* process list, for fork */
	uint64_t dir_uid;              /* owner of the state directory */

	char data_path[MXS_SHM_PATH_MAX];
	char readers_path[MXS_SHM_PATH_MAX];   /* the daemon's listing */
};

#pragma GCC visibility push(hidden)

/* A thread that found no slot: its key value points here. */
extern struct slotref noslot;          /* slots.c */

/* Bumped in a forked child (map.c); see slotref.forkgen. */
extern uint32_t forkgen;

struct rd {
	struct mxc *h;
	struct mxc_map *m;
	struct mxc_shm_slot *slot;     /* NULL: slotless, or nested */
	uint64_t gen;                  /* slotless: h_reclaim_gen at start */
	int slotless;                  /* validated by gen, not by a slot */
	int nested;                    /* inside an outer read on h */
	struct rd *prev;               /* the read this one is inside */
};

/* map.c */
int hdr_check(const struct mxc_shm_hdr *hd, uint64_t fsize);
void remap(struct mxc *h, struct mxc_map *old);
void map_maintain(struct mxc *h);

/* The root record of m, bounds-checked; NULL if corrupt.  Inline, as
 * every lookup starts here. */
static inline const struct mxc_shm_root *map_root(const struct mxc_map *m)
{
	uint64_t off = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_root);
	const struct mxc_shm_root *root;

	if ((off & (MXS_SHM_UNIT - 1)) != 0 || off < MXS_SHM_HDR_SIZE || off > m->lim ||
	    sizeof(*root) > m->lim - off)
		return NULL;
	root = (const struct mxc_shm_root *)(const void *)(m->base + off);
	if (root->r_magic != MXS_ROOT_MAGIC || root->r_ntab != MXS_TAB_MAX)
		return NULL;
	return root;
}

/* Is m still the region the daemon updates (not RETIRED)? */
static inline int map_live(const struct mxc_map *m)
{
	return mxa_load32((uint32_t *)(uintptr_t)&m->hdr->h_state) == MXS_STATE_LIVE;
}

/* slots.c */
void slot_release(struct mxc *h, uint32_t i);
void slot_thread_exit(void *v);
int block_make(struct mxc *h, unsigned wait_ms);
struct slotref *slot_claim(struct mxc *h);
int noslot_retry(struct mxc *h);
int read_begin_slow(struct mxc *h, struct rd *rd);

/* events.c */
int ev_post(struct mxc *h, uint8_t type, const char *name, size_t nlen, int64_t value);
int ev_post_aux(struct mxc *h, uint8_t type, uint8_t aux, const char *name, size_t nlen, int64_t value);

/* tab_override.c: an entry decoded for verify; a target for tab_mx.c */
int ov_fill(const struct mxc_map *m, const struct mxc_tab_ent *e, struct mxc_override *o);
int ov_target(struct mxc *h, const char *k, size_t klen, char *host, size_t hostlen);

typedef int (*ent_fn)(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
		      const struct mxc_tab_ent *e, void *arg);

/* inspect.c */
/*
 * Walk table tab once, calling fn on every entry, inside one read-side
 * section.  Not through with_read: the callbacks have side effects, so a
 * slotless walk cannot be retried; it is validated once instead (MXC_ESYS
 * when memory was reused under it).  Every public walk goes through here.
 */
int walk_table(struct mxc *h, unsigned tab, ent_fn fn, void *arg);

static inline int map_light(const struct mxc *h, const struct mxc_map *m)
{
	return h->membarrier && (m->flags & MXS_HF_MEMBARRIER);
}

/*
 * Thread-local variables a lookup reads: initial-exec, so that in the
 * shared library each is one load off the thread pointer, not a call to
 * __tls_get_addr (a few bytes of the static TLS glibc keeps for
 * libraries, also when dlopen()ed).
 */
#define MXC_TLS __thread __attribute__((tls_model("initial-exec")))

/* The read this thread is inside (slots.c). */
extern MXC_TLS struct rd *tls_rd;

/*
 * The slot reference this thread last used, and the handle it belongs
 * to (slots.c): the pthread key's value, kept where a lookup reads it
 * without a call.  By id, not by pointer: a handle closed and another
 * opened at the same address must not find the old one's slot.
 * slot_claim fills it; slot_thread_exit empties it.
 */
struct tls_slot {
	uint64_t id;                   /* h->id; 0: none */
	struct slotref *ref;
};
extern MXC_TLS struct tls_slot tls_slot;

/* Does the writer of m scan this process's block?  (The map struct is
 * ours, not the mapping: safe to read before announcing.) */
static inline int writer_scans(struct mxc *h, const struct mxc_map *m)
{
	return m->writer == __atomic_load_n(&h->blk.writer, __ATOMIC_ACQUIRE);
}

/*
 * read_begin - enter a read-side section on h: announce it in this
 * thread's slot (shm/rcu.h), or count a slotless read.  0, or a negative
 * MXC_ code.  Inline is the common case only: not nested, this thread's
 * slot cached, the current mapping live and scanned by its writer; it
 * announces exactly as read_begin_slow does (announce, check h->cur is
 * still m, then the real epoch).  Anything else, read_begin_slow, after
 * taking back an announcement already made.
 */
static inline __attribute__((always_inline)) int read_begin(struct mxc *h, struct rd *rd)
{
	struct slotref *ref = tls_slot.ref;
	struct mxc_shm_slot *s;
	struct mxc_map *m;

	if (__builtin_expect(tls_slot.id != h->id || ref == &noslot || tls_rd != NULL ||
			     __atomic_load_n(&h->fatal, __ATOMIC_RELAXED) != 0 || mxa_load32(&h->nretired) != 0 ||
			     ref->forkgen != __atomic_load_n(&forkgen, __ATOMIC_RELAXED), 0))
		return read_begin_slow(h, rd);
	m = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
	if (__builtin_expect(!writer_scans(h, m), 0))
		return read_begin_slow(h, rd);
	s = &h->blk.slots[ref->slot];
	mxc_rcu_announce(s, m->inc, map_light(h, m));
	if (__builtin_expect(__atomic_load_n(&h->cur, __ATOMIC_ACQUIRE) != m || !map_live(m), 0)) {
		mxc_rcu_exit(s);
		return read_begin_slow(h, rd);
	}
	mxc_rcu_settle(s, m->hdr);
	rd->h = h;
	rd->m = m;
	rd->slot = s;
	rd->slotless = 0;
	rd->nested = 0;
	rd->prev = NULL;
	/* read_end takes it back before rd goes out of scope; inlined into
	 * with_read, GCC cannot see that far */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
	tls_rd = rd;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif
	return 0;
}

/* Returns 1 if a slotless read must be retried.  Inline: every lookup
 * ends here, and a call per lookup is measurable. */
static inline int read_end(struct mxc *h, struct rd *rd)
{
	int stale;

	tls_rd = rd->prev;
	if (rd->slot != NULL) {
		mxc_rcu_exit(rd->slot);
		return 0;
	}
	if (!rd->slotless)
		return 0;
	mxa_fence_load();
	stale = mxa_load64((uint64_t *)(uintptr_t)&rd->m->hdr->h_reclaim_gen) != rd->gen;
	if (!rd->nested)
		(void)mxa_add64(&h->slotless, (uint64_t)-1);
	return stale;
}

/*
 * view_refresh - load h_backed again; returns 1 if the bound grew.  The
 * writer raises h_backed before it places a record past the old bound,
 * and h_backed only grows, so an offset that failed against a bound read
 * before the offset was is checked again against one read after it.
 */
static inline int view_refresh(struct mxc_map *v)
{
	uint64_t b = mxa_load64((uint64_t *)(uintptr_t)&v->hdr->h_backed);

	if (b > v->size)
		b = v->size;
	if (b <= v->lim)
		return 0;
	v->lim = b;
	return 1;
}

/*
 * The mapping as a read may use it: records lie below h_backed (the
 * part of the file the writer has reserved memory for), so every offset
 * is checked against that, and a corrupt one can never touch a page
 * tmpfs would have to allocate.  Call inside a read.
 */
static inline void view_of(const struct mxc_map *m, struct mxc_map *v)
{
	/* field by field: m->next belongs to the remapping thread */
	v->base = m->base;
	v->size = m->size;
	v->hdr = m->hdr;
	v->inc = m->inc;
	v->flags = m->flags;
	v->next = NULL;
	v->lim = 0;
	view_refresh(v);
}

/*
 * Run fn inside a read-side critical section.  fn must only read the
 * mapping and write the caller's output; for a slotless reader it may run
 * more than once, so it must not have other side effects.
 */
typedef int (*read_fn)(struct mxc_map *m, const struct mxc_shm_root *root, void *arg);

/* always_inline: with fn a constant at each call site, the compiler can
 * then inline the reader itself; an indirect call per lookup is not free */
static inline __attribute__((always_inline)) int with_read(struct mxc *h, read_fn fn, void *arg)
{
	const struct mxc_shm_root *root;
	struct mxc_map v;
	struct rd rd;
	int rc, tries;

	for (tries = 0; tries < MXC_SLOTLESS_TRIES; tries++) {
		rc = read_begin(h, &rd);
		if (rc < 0)
			return rc;
		view_of(rd.m, &v);
		root = map_root(&v);
		rc = root == NULL ? MXC_ECORRUPT : fn(&v, root, arg);
		if (rc == MXC_ECORRUPT && view_refresh(&v)) {
			root = map_root(&v);
			rc = root == NULL ? MXC_ECORRUPT : fn(&v, root, arg);
		}
		if (!read_end(h, &rd))
			return rc;
	}
	errno = EAGAIN;
	return MXC_ESYS;
}

/*
 * Look key up in table tab of this view.  The keyed hash depends on the
 * region (its per-region key), so it is kept with the incarnation it was
 * computed for and computed again only when a retry lands on another
 * region.
 */
static inline int find_key(const struct mxc_map *m, const struct mxc_shm_root *root, unsigned tab, const char *key,
			   size_t klen, uint64_t *hash_inc, uint64_t *hash, struct mxc_tab_ent *e)
{
	if (*hash_inc != m->inc) {
		*hash = mxc_tab_hash(m->hdr, key, klen);
		*hash_inc = m->inc;
	}
	return mxc_tab_find(m->base, m->lim, &root->r_tab[tab], tab, *hash, key, klen, e);
}

/*
 * find_sts - the MTA-STS entry of key, decoded into *v (pointers into the
 * region: use them inside the read).  MXC_OK, MXC_NOTFOUND (no entry), or
 * MXC_ECORRUPT.  Every reader of the MTA-STS table starts here.
 */
static inline int find_sts(const struct mxc_map *m, const struct mxc_shm_root *root, const char *key, size_t klen,
			   uint64_t *hash_inc, uint64_t *hash, struct mxc_sts_view *v)
{
	struct mxc_tab_ent e;
	int rc = find_key(m, root, MXS_TAB_STS, key, klen, hash_inc, hash, &e);

	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_ABSENT)
		return MXC_NOTFOUND;
	return mxc_sts_value_decode(e.val, e.vlen, v) == 0 ? MXC_OK : MXC_ECORRUPT;
}

#pragma GCC visibility pop

#endif
