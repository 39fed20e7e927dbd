/*
 * client/mxcache.c - libmxcache: map the region read-only, answer lookups.
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
#include "mxcache.h"
#include "rblock.h"

/* A slotless read retries this many times if memory was reclaimed under
 * it.  The writer reclaims at most once per publish or 100 ms tick, and a
 * lookup takes well under a microsecond, so a second try practically
 * always succeeds. */
#define MXC_SLOTLESS_TRIES 8
/* Attempts to catch a stable current mapping while it is being swapped. */
#define MXC_SWAP_TRIES     4
/* At most one attempt to map a replacement region per this many ms. */
#define MXC_REMAP_EVERY_MS 100
/* The writer is "alive" if its heartbeat is younger than this. */
#define MXC_HEARTBEAT_STALE_MS 5000

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
	uint64_t next_remap_ms;

	struct rblock blk;             /* this process's reader block */
	uint64_t ev_dropped;           /* atomic: events not handed over */
	ck_bitmap_t *owned;            /* slots of blk claimed by a thread */
	struct slotref *refs;          /* MXC_SLOTS_MAX, one per slot */
	uint64_t owner;
	pthread_key_t key;
	pthread_mutex_t claim_mu;      /* claim path only, never a lookup */
	uint32_t noslot_reads;         /* atomic: reads since a failed claim */
	uint64_t noslot_retry_ms;      /* atomic: next claim attempt, at the latest */
	int fatal;                     /* < 0: answer this (layout upgrade) */
	int membarrier;                /* registered for both expedited kinds */
	struct mxc *next_open;         /* process list, for fork */
	uint64_t dir_uid;              /* owner of the state directory */

	char data_path[MXC_SHM_PATH_MAX];
	char readers_path[MXC_SHM_PATH_MAX];   /* the daemon's listing */
};

/* A thread that found no slot: its key value points here. */
static struct slotref noslot;

/*
 * fork: the child must not share its parent's slots or lock descriptions.
 * The open handles are listed so the fork handlers can take every lock a
 * child could inherit held (the list's and each claim mutex) and, in the
 * child, give each handle its own lock description on the reader table.
 * forkgen invalidates the slot references threads keep in their keys.
 */
static uint32_t forkgen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mxc *open_list;

static void on_fork_prepare(void)
{
	struct mxc *h;

	pthread_mutex_lock(&open_mu);
	for (h = open_list; h != NULL; h = h->next_open)
		pthread_mutex_lock(&h->claim_mu);
}

static void on_fork_parent(void)
{
	struct mxc *h;

	for (h = open_list; h != NULL; h = h->next_open)
		pthread_mutex_unlock(&h->claim_mu);
	pthread_mutex_unlock(&open_mu);
}

static void on_fork_child(void)
{
	struct mxc *h;

	__atomic_add_fetch(&forkgen, 1, __ATOMIC_SEQ_CST);
	for (h = open_list; h != NULL; h = h->next_open) {
		/* the block and its registration stay the parent's; the
		 * child's first claim makes and registers its own */
		rblock_forked(&h->blk);
		if (h->owned != NULL)
			ck_bitmap_clear(h->owned);
		h->remap_lock = 0;
		h->slotless = 0;
		pthread_mutex_unlock(&h->claim_mu);
	}
	pthread_mutex_unlock(&open_mu);
}

static void fork_init(void)
{
	pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
}

/*
 * The read this thread is inside, if any.  A lookup made from inside
 * another read on the same handle (a foreach callback) must not overwrite
 * the outer announcement: it reads under it, from the same mapping.
 */
struct rd;
static __thread struct rd *tls_rd;

const char *mxc_strerror(int rc)
{
	switch (rc) {
	case MXC_OK: return "found";
	case MXC_NOTFOUND: return "not found";
	case MXC_BACKOFF: return "recent fetch failure (back-off)";
	case MXC_EINVAL: return "not a domain or IP literal, or a bad argument";
	case MXC_ETOOSMALL: return "buffer too small";
	case MXC_ENOREGION: return "no region for this directory (has mxcached ever run for it?)";
	case MXC_EVERSION: return "region made by an incompatible version";
	case MXC_ECORRUPT: return "region failed validation";
	case MXC_EFULL: return "event queue full";
	case MXC_ESYS: return "system error";
	default: return "unknown result code";
	}
}

/* Threads that found no slot try again every this many reads, or this
 * many ms, whichever comes first. */
#define MXC_NOSLOT_RETRY    1024
#define MXC_NOSLOT_RETRY_MS 1000

/* A monotonic clock read from the vDSO: no system call. */
static uint64_t mono_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Asymmetric fences (shm/rcu.h): a process registered for both expedited
 * membarrier kinds announces its reads with plain stores in regions whose
 * writer runs MEMBARRIER_CMD_GLOBAL_EXPEDITED; the thread that unmaps a
 * replaced region pairs with this process's readers through
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED instead of their barriers.  ThreadSanitizer
 * cannot see a barrier made by the kernel, so TSan builds keep the xchg.
 */
static int membarrier_register(void)
{
#if defined(MXC_TSAN)
	return 0;
#else
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (q < 0 || !(q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) ||
	    !(q & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
		return 0;
	return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0 &&
	       syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

static int map_light(const struct mxc *h, const struct mxc_map *m)
{
	return h->membarrier && (m->flags & MXC_HF_MEMBARRIER);
}

/* A full barrier on every thread of this process that may be reading
 * with plain-store announcements (a plain fence when none can be).
 * Returns -1 if it could not be had: then nothing may be unmapped. */
static int process_barrier(const struct mxc *h)
{
	mxa_fence_full();
	if (h->membarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		return -1;
	return 0;
}

/* ---- mapping and validation -------------------------------------------- */

/* The root record of m, bounds-checked; NULL if corrupt. */
static const struct mxc_shm_root *map_root(const struct mxc_map *m)
{
	uint64_t off = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_root);
	const struct mxc_shm_root *root;

	if ((off & (MXC_SHM_UNIT - 1)) != 0 || off < MXC_SHM_HDR_SIZE || off > m->lim ||
	    sizeof(*root) > m->lim - off)
		return NULL;
	root = (const struct mxc_shm_root *)(const void *)(m->base + off);
	if (root->r_magic != MXC_ROOT_MAGIC || root->r_ntab != MXC_TAB_MAX)
		return NULL;
	return root;
}

static int hdr_check(const struct mxc_shm_hdr *hd, uint64_t fsize)
{
	if (hd->h_magic != MXC_SHM_MAGIC)
		return MXC_ECORRUPT;
	if (hd->h_layout != MXC_SHM_LAYOUT || hd->h_abi != MXC_SHM_ABI)
		return MXC_EVERSION;
	if (hd->h_hdr_size != sizeof(*hd) || hd->h_size != fsize || hd->h_incarnation == 0 ||
	    (hd->h_size & (MXC_SHM_UNIT - 1)) != 0)
		return MXC_ECORRUPT;
	return MXC_OK;
}

/* Map the region file at path; full validation.  dir_uid: the owner of
 * the state directory, the only user besides root trusted to own it. */
static int map_open(const char *path, uint64_t dir_uid, struct mxc_map **out)
{
	struct mxc_map *m = NULL;
	struct stat st;
	void *p = MAP_FAILED;
	uint32_t state;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? MXC_ENOREGION : MXC_ESYS;
	if (fstat(fd, &st) != 0) {
		rc = MXC_ESYS;
		goto fail;
	}
	/* a region someone else could have planted or could write cannot be
	 * trusted: it must belong to root or to the state directory's owner
	 * and be writable by its owner alone */
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != 0 && (uint64_t)st.st_uid != dir_uid) ||
	    st.st_size < (off_t)(MXC_SHM_HDR_SIZE + sizeof(struct mxc_shm_root)) ||
	    (uint64_t)st.st_size > MXC_SHM_MAX_SIZE) {
		rc = MXC_ECORRUPT;
		goto fail;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = MXC_ESYS;
		goto fail;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		rc = MXC_ESYS;
		goto fail;
	}
	m->base = p;
	m->size = (uint64_t)st.st_size;
	m->lim = MXC_SHM_HDR_SIZE;
	m->hdr = p;
	rc = hdr_check(m->hdr, m->size);
	if (rc != MXC_OK)
		goto fail;
	/* the validation below reads the root: bound it as a read would */
	m->lim = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_backed);
	if (m->lim > m->size)
		m->lim = m->size;
	state = mxa_load32((uint32_t *)(uintptr_t)&m->hdr->h_state);
	if ((state != MXC_STATE_LIVE && state != MXC_STATE_RETIRED) || map_root(m) == NULL) {
		rc = MXC_ECORRUPT;
		goto fail;
	}
	m->inc = m->hdr->h_incarnation;
	m->flags = m->hdr->h_flags;
	m->writer = m->hdr->h_writer_id;
	close(fd);
	*out = m;
	return MXC_OK;
fail:
	if (p != MAP_FAILED)
		munmap(p, (size_t)st.st_size);
	free(m);
	close(fd);
	return rc;
}

static void map_free(struct mxc_map *m)
{
	munmap(m->base, m->size);
	free(m);
}

/* Unmap retired mappings no thread of this process is inside any more.
 * Caller holds remap_lock. */
static void retired_sweep(struct mxc *h)
{
	struct mxc_map **pp = &h->retired, *m;
	struct ck_bitmap_iterator it;
	unsigned int i;
	int busy;

	if (process_barrier(h) != 0)
		return;
	while ((m = *pp) != NULL) {
		busy = mxa_load64(&h->slotless) != 0;
		if (!busy && h->owned != NULL) {
			ck_bitmap_iterator_init(&it, h->owned);
			while (!busy && ck_bitmap_next(h->owned, &it, &i)) {
				uint64_t w = mxa_load64(&h->blk.slots[i].s_word);
				busy = w != 0 && MXC_SLOT_TAG(w) == (m->inc & 0xffffu);
			}
		}
		if (busy) {
			pp = &m->next;
			continue;
		}
		/* the struct stays: a thread may still hold the pointer
		 * between loading h->cur and announcing (read_begin) */
		*pp = m->next;
		munmap(m->base, m->size);
		m->base = NULL;
		m->next = h->dead;
		h->dead = m;
		mxa_store32(&h->nretired, mxa_load32(&h->nretired) - 1);
	}
}

/* The region was retired: map its replacement.  Never waits: a thread
 * that loses the try-lock keeps reading the old, still valid mapping. */
static void remap(struct mxc *h, struct mxc_map *old)
{
	struct mxc_map *m;
	uint64_t now = now_ms();
	int rc;

	if (now < __atomic_load_n(&h->next_remap_ms, __ATOMIC_RELAXED) || !mxa_cas32(&h->remap_lock, 0, 1))
		return;
	__atomic_store_n(&h->next_remap_ms, now + MXC_REMAP_EVERY_MS, __ATOMIC_RELAXED);
	rc = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE) == old ? map_open(h->data_path, h->dir_uid, &m) : MXC_ESYS;
	if (rc == MXC_EVERSION) {
		/* the daemon was upgraded to another layout: say so, rather
		 * than answer from a region nobody updates any more */
		__atomic_store_n(&h->fatal, MXC_EVERSION, __ATOMIC_RELEASE);
	} else if (rc == MXC_OK) {
		if (m->inc == old->inc) {
			map_free(m);
		} else {
			old->next = h->retired;
			h->retired = old;
			mxa_store32(&h->nretired, mxa_load32(&h->nretired) + 1);
			__atomic_store_n(&h->cur, m, __ATOMIC_RELEASE);
		}
	}
	retired_sweep(h);
	mxa_store32(&h->remap_lock, 0);
}

/* Unmap what no thread is inside any more.  Touches no mapping. */
static void map_maintain(struct mxc *h)
{
	if (__builtin_expect(mxa_load32(&h->nretired) != 0, 0) && mxa_cas32(&h->remap_lock, 0, 1)) {
		retired_sweep(h);
		mxa_store32(&h->remap_lock, 0);
	}
}

static int map_live(const struct mxc_map *m)
{
	return mxa_load32((uint32_t *)(uintptr_t)&m->hdr->h_state) == MXC_STATE_LIVE;
}

/* ---- reader slots -------------------------------------------------------- */

static void slot_release(struct mxc *h, uint32_t i)
{
	struct mxc_shm_slot *s = &h->blk.slots[i];

	mxa_store64(&s->s_word, 0);
	s->s_owner = 0;
	mxa_store32(&s->s_state, MXC_SLOT_FREE);
	rblock_claim_bit(&h->blk, i, 0);
	ck_bitmap_reset(h->owned, i);     /* last: then a thread may take it */
}

static void slot_thread_exit(void *v)
{
	struct slotref *ref = v;

	if (ref != NULL && ref != &noslot && ref->forkgen == __atomic_load_n(&forkgen, __ATOMIC_ACQUIRE))
		slot_release(ref->h, ref->slot);
}

/* Make this process's reader block, sized as the daemon asks in the
 * region header, and register it, each step waiting at most wait_ms
 * (longer at mxc_open than on the way to a lookup).  Caller holds
 * claim_mu. */
static int block_make(struct mxc *h, unsigned wait_ms)
{
	const struct mxc_map *m = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
	uint32_t n = m->hdr->h_nslots;

	if (n < MXC_SLOTS_MIN || n > MXC_SLOTS_MAX)
		n = MXC_SLOTS_DEFAULT;
	if (rblock_create(&h->blk, n) != 0)
		return -1;
	rblock_register(&h->blk, wait_ms);
	return 0;
}

/*
 * First read on this thread (or first since fork): claim a free slot of
 * this process's block, making the block first if there is none (at
 * mxc_open it failed, or this is a fork child).  The block is this
 * process's alone, so a mutex private to the handle is all a claim needs.
 * Bounded by the slot count; never waits on another process.
 */
static struct slotref *slot_claim(struct mxc *h)
{
	uint32_t fg = __atomic_load_n(&forkgen, __ATOMIC_ACQUIRE), start, k, i;
	struct slotref *ref = &noslot;
	struct mxc_shm_slot *s;

	if (h->refs == NULL)
		goto out;
	pthread_mutex_lock(&h->claim_mu);
	if (h->blk.base == NULL && block_make(h, RBLOCK_WAIT_CALL_MS) != 0)
		goto unlock;
	start = (uint32_t)((uint64_t)gettid() * 2654435761u % h->blk.nslots);
	for (k = 0; k < h->blk.nslots; k++) {
		i = (start + k) % h->blk.nslots;
		if (ck_bitmap_test(h->owned, i))
			continue;
		ck_bitmap_set(h->owned, i);
		s = &h->blk.slots[i];
		mxa_store64(&s->s_word, 0);
		s->s_pid = (uint32_t)getpid();
		s->s_tid = (uint64_t)gettid();
		s->s_owner = h->owner;
		s->s_claimed = (uint64_t)time(NULL);
		mxa_store32(&s->s_state, MXC_SLOT_CLAIMED);
		rblock_claim_bit(&h->blk, i, 1);
		h->refs[i].h = h;
		h->refs[i].slot = i;
		h->refs[i].forkgen = fg;
		ref = &h->refs[i];
		break;
	}
unlock:
	pthread_mutex_unlock(&h->claim_mu);
out:
	if (ref == &noslot)
		__atomic_store_n(&h->noslot_retry_ms, mono_coarse_ms() + MXC_NOSLOT_RETRY_MS, __ATOMIC_RELAXED);
	pthread_setspecific(h->key, ref);
	return ref;
}

/* Should a thread without a slot try to claim one again?  Every
 * MXC_NOSLOT_RETRY reads, and at least every MXC_NOSLOT_RETRY_MS, so a
 * thread that only posts events now and then gets one too. */
static int noslot_retry(struct mxc *h)
{
	return __atomic_add_fetch(&h->noslot_reads, 1, __ATOMIC_RELAXED) % MXC_NOSLOT_RETRY == 0 ||
	       mono_coarse_ms() >= __atomic_load_n(&h->noslot_retry_ms, __ATOMIC_RELAXED);
}

/* ---- the read-side critical section ---------------------------------------- */

struct rd {
	struct mxc *h;
	struct mxc_map *m;
	struct mxc_shm_slot *slot;     /* NULL: slotless, or nested */
	uint64_t gen;                  /* slotless: h_reclaim_gen at start */
	int slotless;                  /* validated by gen, not by a slot */
	int nested;                    /* inside an outer read on h */
	struct rd *prev;               /* the read this one is inside */
};


static struct rd *outer_read(const struct mxc *h)
{
	struct rd *r;

	for (r = tls_rd; r != NULL; r = r->prev)
		if (r->h == h && !r->nested)
			return r;
	return NULL;
}

/* Does the writer of m scan this process's block?  (The map struct is
 * ours, not the mapping: safe to read before announcing.) */
static int writer_scans(struct mxc *h, const struct mxc_map *m)
{
	return m->writer == __atomic_load_n(&h->blk.writer, __ATOMIC_ACQUIRE);
}

static int read_begin(struct mxc *h, struct rd *rd)
{
	struct slotref *ref;
	struct mxc_map *m;
	struct rd *outer;
	int i, fatal = __atomic_load_n(&h->fatal, __ATOMIC_RELAXED);

	if (fatal != 0)
		return fatal;
	rd->h = h;
	rd->prev = tls_rd;
	outer = outer_read(h);
	if (outer != NULL) {
		/* under the outer announcement, from the mapping it names */
		rd->nested = 1;
		rd->slot = NULL;
		rd->m = outer->m;
		rd->slotless = outer->slotless;
		if (rd->slotless)
			rd->gen = mxa_load64((uint64_t *)(uintptr_t)&rd->m->hdr->h_reclaim_gen);
		tls_rd = rd;
		return 0;
	}
	rd->nested = 0;
	map_maintain(h);
	ref = pthread_getspecific(h->key);
	if (ref == NULL || (ref != &noslot && ref->forkgen != __atomic_load_n(&forkgen, __ATOMIC_RELAXED)) ||
	    (ref == &noslot && noslot_retry(h)))
		ref = slot_claim(h);
	/*
	 * A slot protects a read only from the daemon that scans our block:
	 * the one whose regions carry the writer id it answered.  A region
	 * of another daemon (one started since, before we registered with
	 * it) is read slotless, and the block offered to it.
	 */
	if (ref != &noslot && !writer_scans(h, __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE))) {
		rblock_register(&h->blk, RBLOCK_WAIT_CALL_MS);
		if (!writer_scans(h, __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE)))
			ref = &noslot;
	}
	if (ref != &noslot) {
		int tried_remap = 0;

		rd->slotless = 0;
		rd->slot = &h->blk.slots[ref->slot];
		for (i = 0; i < MXC_SWAP_TRIES; i++) {
			m = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
			/*
			 * Announce before touching the mapping (another thread
			 * may be about to unmap it): epoch 1 holds back all of
			 * m's limbo until the real epoch is known.  Then, if
			 * m is still current, nobody can unmap it under us.
			 */
			mxc_rcu_announce(rd->slot, m->inc, map_light(h, m));
			if (__atomic_load_n(&h->cur, __ATOMIC_ACQUIRE) != m)
				continue;
			if (!map_live(m) && !tried_remap) {
				tried_remap = 1;
				remap(h, m);
				if (__atomic_load_n(&h->cur, __ATOMIC_ACQUIRE) != m)
					continue;
			}
			mxc_rcu_settle(rd->slot, m->hdr);
			break;
		}
		if (i == MXC_SWAP_TRIES) {
			mxc_rcu_exit(rd->slot);
			errno = EAGAIN;
			return MXC_ESYS;
		}
		if (!writer_scans(h, m)) {
			/* the remap above moved us to another daemon's region */
			mxc_rcu_exit(rd->slot);
			ref = &noslot;
		}
	}
	if (ref == &noslot) {
		/* counted before loading h->cur: no mapping is unmapped
		 * while any slotless read is in flight */
		rd->slotless = 1;
		rd->slot = NULL;
		(void)mxa_inc64(&h->slotless);
		m = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
		if (!map_live(m)) {
			remap(h, m);
			m = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
		}
		rd->gen = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_reclaim_gen);
	}
	rd->m = m;
	tls_rd = rd;
	return 0;
}

/* Returns 1 if a slotless read must be retried. */
static int read_end(struct mxc *h, struct rd *rd)
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
static int view_refresh(struct mxc_map *v)
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
static void view_of(const struct mxc_map *m, struct mxc_map *v)
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

/* ---- open / close -------------------------------------------------------- */

int mxc_open(const char *dir, mxc_t **out)
{
	struct mxc *h = NULL;
	struct stat st;
	const char *shm = mxc_shm_dir();
	char abs[PATH_MAX];
	int rc;

	if (out == NULL)
		return MXC_EINVAL;
	if (dir == NULL)
		dir = getenv("MXCACHE_DIR");
	if (dir == NULL || dir[0] == '\0')
		dir = MXC_DEFAULT_DIR;
	pthread_once(&fork_once, fork_init);
	if (stat(dir, &st) != 0)
		return errno == ENOENT ? MXC_ENOREGION : MXC_ESYS;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return MXC_ESYS;
	/* the socket by absolute path: re-registering must not depend on
	 * the working directory the process has by then */
	(void)rblock_init(&h->blk, realpath(dir, abs) != NULL ? abs : dir);
	if (mxc_shm_path(h->data_path, sizeof(h->data_path), shm, st.st_dev, st.st_ino, "data") != 0 ||
	    mxc_shm_path(h->readers_path, sizeof(h->readers_path), shm, st.st_dev, st.st_ino, "readers") != 0) {
		free(h);
		errno = ENAMETOOLONG;
		return MXC_ESYS;
	}
	h->dir_uid = (uint64_t)st.st_uid;
	h->membarrier = membarrier_register();
	rc = map_open(h->data_path, h->dir_uid, &h->cur);
	if (rc != MXC_OK) {
		free(h);
		return rc;
	}
	if (pthread_key_create(&h->key, slot_thread_exit) != 0) {
		map_free(h->cur);
		free(h);
		return MXC_ESYS;
	}
	pthread_mutex_init(&h->claim_mu, NULL);
	if (getrandom(&h->owner, sizeof(h->owner), 0) != sizeof(h->owner))
		h->owner = (uint64_t)(uintptr_t)h ^ (uint64_t)getpid();
	h->owned = calloc(1, ck_bitmap_size(MXC_SLOTS_MAX));
	h->refs = calloc(MXC_SLOTS_MAX, sizeof(*h->refs));
	if (h->owned == NULL || h->refs == NULL) {
		free(h->owned);
		free(h->refs);
		h->owned = NULL;
		h->refs = NULL;   /* slotless */
	} else {
		ck_bitmap_init(h->owned, MXC_SLOTS_MAX, false);
		/* the block now, so that the first lookup already has its
		 * slot scanned; if this fails, the first claim tries again */
		pthread_mutex_lock(&h->claim_mu);
		(void)block_make(h, RBLOCK_WAIT_MS);
		pthread_mutex_unlock(&h->claim_mu);
	}
	pthread_mutex_lock(&open_mu);
	h->next_open = open_list;
	open_list = h;
	pthread_mutex_unlock(&open_mu);
	*out = h;
	return MXC_OK;
}

void mxc_close(mxc_t *h)
{
	struct ck_bitmap_iterator it;
	struct mxc_map *m, *n;
	struct mxc **pp;
	unsigned int i;

	if (h == NULL)
		return;
	pthread_key_delete(h->key);
	pthread_mutex_lock(&open_mu);
	for (pp = &open_list; *pp != NULL; pp = &(*pp)->next_open)
		if (*pp == h) {
			*pp = h->next_open;
			break;
		}
	pthread_mutex_unlock(&open_mu);
	if (h->owned != NULL) {
		ck_bitmap_iterator_init(&it, h->owned);
		while (ck_bitmap_next(h->owned, &it, &i))
			slot_release(h, i);
	}
	for (m = h->retired; m != NULL; m = n) {
		n = m->next;
		map_free(m);
	}
	for (m = h->dead; m != NULL; m = n) {
		n = m->next;
		free(m);
	}
	map_free(h->cur);
	/* events still in the rings reach a daemon, if one answers */
	rblock_flush(&h->blk);
	rblock_destroy(&h->blk);
	pthread_mutex_destroy(&h->claim_mu);
	free(h->owned);
	free(h->refs);
	free(h);
}

/* ---- lookups ------------------------------------------------------------ */

int mxc_normalize(const char *key, char *out, size_t outlen)
{
	int rc;

	if (key == NULL || out == NULL)
		return MXC_EINVAL;
	rc = mxk_normalize(key, out, outlen, NULL, NULL);
	return rc == MXK_OK ? MXC_OK : rc == MXK_ETOOSMALL ? MXC_ETOOSMALL : MXC_EINVAL;
}

struct ov_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc;     /* incarnation the hash was computed for */
	uint64_t hash;
	char *host;            /* resolve: the target */
	size_t hostlen;
	struct mxc_override *full;  /* get: everything */
};

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

/* Fill a struct mxc_override from an entry.  MXC_ECORRUPT if the entry
 * does not hold what the override table promises. */
static int ov_fill(const struct mxc_map *m, const struct mxc_tab_ent *e, struct mxc_override *o)
{
	const uint8_t *target, *comment;
	size_t tlen, clen;

	(void)m;
	if (mxc_ov_value_decode(e->val, e->vlen, &o->created, &o->updated, &target, &tlen, &comment, &clen) != 0)
		return MXC_ECORRUPT;
	memcpy(o->key, e->key, e->klen);
	o->key[e->klen] = '\0';
	mxc_copy_str(o->target, target, tlen);
	memcpy(o->comment, comment, clen);
	o->comment[clen] = '\0';
	return MXC_OK;
}

static int ov_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct ov_q *q = arg;
	struct mxc_tab_ent e;
	const uint8_t *target;
	size_t tlen;
	int rc;

	rc = find_key(m, root, MXC_TAB_OVERRIDE, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXC_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXC_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (q->full != NULL)
		return ov_fill(m, &e, q->full);
	target = mxc_ov_target(e.val, e.vlen, &tlen);
	if (target == NULL)
		return MXC_ECORRUPT;
	if (tlen + 1 > q->hostlen)
		return MXC_ETOOSMALL;
	mxc_copy_str(q->host, target, tlen);
	return MXC_OK;
}

int mxc_resolve(mxc_t *h, const char *key, char *host, size_t hostlen)
{
	char k[MXK_MAX_LEN + 1];
	struct ov_q q;
	size_t klen;
	int kind, rc;

	if (h == NULL || key == NULL || host == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(key, k, sizeof(k), &klen, &kind) != MXK_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.host = host;
	q.hostlen = hostlen;
	rc = with_read(h, ov_read, &q);
	if (rc == MXC_NOTFOUND && kind != MXK_DOMAIN) {
		/* an IP is already an endpoint: no resolution needed */
		if (klen + 1 > hostlen)
			return MXC_ETOOSMALL;
		memcpy(host, k, klen + 1);
		return MXC_OK;
	}
	return rc;
}

int mxc_override_get(mxc_t *h, const char *key, struct mxc_override *out)
{
	char k[MXK_MAX_LEN + 1];
	struct ov_q q;
	size_t klen;

	if (h == NULL || key == NULL || out == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(key, k, sizeof(k), &klen, NULL) != MXK_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.full = out;
	return with_read(h, ov_read, &q);
}

/* ---- events to the daemon (shm/events.h) ------------------------------------ */

/*
 * Hand one event to the daemon through this thread's ring.  Called after
 * a lookup, whose read_begin claimed the thread's slot if one was free;
 * a thread without a slot, or with a full ring, drops the event and
 * counts it.  Wait-free: a bounds check, one record copy, one release
 * store.
 */
static int ev_post_aux(struct mxc *h, uint8_t type, uint8_t aux, const char *name, size_t nlen, int64_t value);

static int ev_post(struct mxc *h, uint8_t type, const char *name, size_t nlen, int64_t value)
{
	return ev_post_aux(h, type, 0, name, nlen, value);
}

/*
 * The event functions may be a thread's first call on h: claim its slot
 * then, as a lookup's read_begin does (a ring belongs to a slot).
 */
static int ev_post_aux(struct mxc *h, uint8_t type, uint8_t aux, const char *name, size_t nlen, int64_t value)
{
	struct slotref *ref = pthread_getspecific(h->key);
	struct mxc_shm_ering *er;
	struct mxc_event ev;

	if (ref == NULL || (ref == &noslot && noslot_retry(h)) ||
	    (ref != &noslot && ref->forkgen != __atomic_load_n(&forkgen, __ATOMIC_RELAXED)))
		ref = slot_claim(h);
	if (ref == &noslot || nlen == 0 || nlen > MXC_EV_NAME_MAX)
		goto drop;
	/* posted even before the block is registered: the ring keeps it
	 * until a daemon takes the block */
	er = &h->blk.rings[ref->slot];
	if (!mxc_ering_sane(er))
		goto drop;
	memset(&ev, 0, offsetof(struct mxc_event, e_name));
	ev.e_type = type;
	ev.e_aux = aux;
	ev.e_nlen = (uint16_t)nlen;
	ev.e_value = value;
	memcpy(ev.e_name, name, nlen);
	if (!mxc_ering_post(er, &ev)) {
		mxa_store64(&er->er_dropped, mxa_load64(&er->er_dropped) + 1);
		/* a ring stays full when no daemon has the block (its
		 * registration was refused, or its daemon is gone): offer it
		 * again, at most once a second; a process that only posts
		 * would otherwise never do so */
		rblock_register(&h->blk, RBLOCK_WAIT_CALL_MS);
		goto drop;
	}
	mxa_store64(&er->er_posted, mxa_load64(&er->er_posted) + 1);
	rblock_ring(&h->blk);
	return MXC_OK;
drop:
	__atomic_fetch_add(&h->ev_dropped, 1, __ATOMIC_RELAXED);
	return MXC_EFULL;
}

uint64_t mxc_events_dropped(mxc_t *h)
{
	return h == NULL ? 0 : __atomic_load_n(&h->ev_dropped, __ATOMIC_RELAXED);
}

/* Wall-clock seconds for expiry checks: CLOCK_REALTIME_COARSE is read from
 * the vDSO, no system call, and a tick of skew is nothing against TTLs. */
static int64_t wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

/* ---- MX cache ---------------------------------------------------------------- */

struct mx_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	struct mxc_mx *out;
	size_t max, n;
	struct mxc_mx_info info;
};

static int mx_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct mx_q *q = arg;
	struct mxc_tab_ent e;
	struct mxc_mx_view v;
	const uint8_t *p;
	size_t i;
	int rc;

	rc = find_key(m, root, MXC_TAB_MX, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXC_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXC_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_mx_value_decode(e.val, e.vlen, &v) != 0)
		return MXC_ECORRUPT;
	q->info.kind = v.kind;
	q->info.fetched = v.fetched;
	q->info.expires = v.expires;
	q->n = 0;
	if (v.kind == MXC_MX_KIND_IMPLICIT) {
		if (q->max < 1)
			return MXC_ETOOSMALL;
		q->out[0].pref = 0;
		memcpy(q->out[0].host, q->key, q->klen + 1);
		q->n = 1;
	} else if (v.kind == MXC_MX_KIND_MX) {
		if (q->max < v.n)
			return MXC_ETOOSMALL;
		for (i = 0, p = v.rr; i < v.n; i++) {
			memcpy(&q->out[i].pref, p, 2);
			mxc_copy_str(q->out[i].host, p + 3, p[2]);
			p += 3 + (size_t)p[2];
		}
		q->n = v.n;
	}
	return MXC_OK;
}

static int mx_lookup(struct mxc *h, const char *k, size_t klen, struct mxc_mx *out, size_t max, struct mx_q *q)
{
	memset(q, 0, sizeof(*q));
	q->key = k;
	q->klen = klen;
	q->out = out;
	q->max = max;
	return with_read(h, mx_read, q);
}

int mxc_resolve_mx(mxc_t *h, const char *domain, struct mxc_mx *out, size_t max, size_t *n, int *from_override)
{
	char k[MXK_MAX_LEN + 1], target[MXC_HOST_MAX + 1];
	struct ov_q q;
	struct mx_q mq;
	size_t klen;
	int kind, rc;

	if (h == NULL || domain == NULL || out == NULL || n == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK || kind != MXK_DOMAIN)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.host = target;
	q.hostlen = sizeof(target);
	rc = with_read(h, ov_read, &q);
	if (rc == MXC_OK) {
		if (max < 1)
			return MXC_ETOOSMALL;
		out[0].pref = 0;
		memcpy(out[0].host, target, strlen(target) + 1);
		*n = 1;
		if (from_override != NULL)
			*from_override = 1;
		return MXC_OK;
	}
	if (rc != MXC_NOTFOUND)
		return rc;
	rc = mx_lookup(h, k, klen, out, max, &mq);
	if (rc == MXC_OK && mq.info.expires > wall_s()) {
		if (mq.info.kind == MXC_MX_KIND_TEMP)
			return MXC_NOTFOUND;   /* the daemon retries when that expires */
		*n = mq.n;
		if (from_override != NULL)
			*from_override = 0;
		return MXC_OK;
	}
	if (rc == MXC_OK || rc == MXC_NOTFOUND) {
		ev_post(h, MXC_EV_MX_FETCH, k, klen, 0);
		return MXC_NOTFOUND;
	}
	return rc;
}

int mxc_mx_cached(mxc_t *h, const char *domain, struct mxc_mx *out, size_t max, size_t *n,
		  struct mxc_mx_info *info)
{
	char k[MXK_MAX_LEN + 1];
	struct mx_q mq;
	size_t klen;
	int kind, rc;

	if (h == NULL || domain == NULL || out == NULL || n == NULL || info == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK || kind != MXK_DOMAIN)
		return MXC_EINVAL;
	rc = mx_lookup(h, k, klen, out, max, &mq);
	if (rc == MXC_OK) {
		*n = mq.n;
		*info = mq.info;
	}
	return rc;
}

/* ---- MTA-STS ------------------------------------------------------------------ */

struct sts_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	struct mxc_sts *out;
	int kind;
};

/* Fill a struct mxc_sts from a decoded value. */
static void sts_fill(const struct mxc_sts_view *v, struct mxc_sts *o)
{
	const uint8_t *p = v->mx;
	size_t i;

	o->mode = v->mode;
	o->max_age = v->max_age;
	o->fresh = (v->flags & MXC_STS_F_FRESH) != 0;
	o->failure = v->failure;
	o->inserted = v->inserted;
	o->valid_end = v->valid_end;
	o->last_update = v->last_update;
	o->last_use = v->last_use;
	memcpy(o->id, v->id, v->idlen);
	o->id[v->idlen] = '\0';
	for (i = 0; i < v->nmx; i++) {
		mxc_copy_str(o->mx[i], p + 1, p[0]);
		p += 1 + (size_t)p[0];
	}
	o->nmx = v->nmx;
}

static int sts_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct sts_q *q = arg;
	struct mxc_tab_ent e;
	struct mxc_sts_view v;
	int rc;

	rc = find_key(m, root, MXC_TAB_STS, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXC_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXC_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_sts_value_decode(e.val, e.vlen, &v) != 0)
		return MXC_ECORRUPT;
	q->kind = v.kind;
	sts_fill(&v, q->out);
	return MXC_OK;
}

int mxc_sts_get(mxc_t *h, const char *domain, struct mxc_sts *out)
{
	char k[MXK_MAX_LEN + 1];
	struct sts_q q;
	size_t klen;
	int64_t now;
	int kind, rc;

	if (h == NULL || domain == NULL || out == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK)
		return MXC_EINVAL;
	if (kind != MXK_DOMAIN)
		return MXC_NOTFOUND;   /* RFC 8461 policies are for domains only */
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.out = out;
	rc = with_read(h, sts_read, &q);
	if (rc != MXC_OK && rc != MXC_NOTFOUND)
		return rc;
	now = wall_s();
	if (rc == MXC_OK && out->valid_end > now) {
		switch (q.kind) {
		case MXC_STS_KIND_POLICY:
			if (now - out->last_use >= MXC_STS_USE_GRAIN)
				ev_post(h, MXC_EV_STS_USED, k, klen, now);
			return MXC_OK;
		case MXC_STS_KIND_BACKOFF:
			return MXC_BACKOFF;
		default:
			return MXC_NOTFOUND;   /* known to publish none */
		}
	}
	ev_post(h, MXC_EV_STS_FETCH, k, klen, 0);
	return MXC_NOTFOUND;
}

int mxc_sts_match(const struct mxc_sts *p, const char *mx_host)
{
	size_t i, hlen;

	if (p == NULL || mx_host == NULL)
		return 0;
	hlen = strnlen(mx_host, MXC_HOST_MAX + 2);
	for (i = 0; i < p->nmx && i < MXC_STS_MX_MAX; i++)
		if (mxc_sts_pattern_match(p->mx[i], strnlen(p->mx[i], MXC_HOST_MAX + 1), mx_host, hlen))
			return 1;
	return 0;
}

/* the public MXC_STS_FAILED_* are the region's MXC_STS_FAIL_* */
_Static_assert(MXC_STS_FAILED_NONE == MXC_STS_FAIL_NONE && MXC_STS_FAILED_DNS == MXC_STS_FAIL_DNS &&
		       MXC_STS_FAILED_FETCH == MXC_STS_FAIL_FETCH && MXC_STS_FAILED_INVALID == MXC_STS_FAIL_INVALID &&
		       MXC_STS_FAILED_WEBPKI == MXC_STS_FAIL_WEBPKI && MXC_STS_FAILED_RECORD == MXC_STS_FAIL_RECORD,
	       "failure classes differ between mxcache.h and shm/sts.h");

const char *mxc_sts_failure_name(int failure)
{
	return mxc_sts_fail_name(failure);
}

/* ---- walks: foreach, verify ----------------------------------------------- */

typedef int (*ent_fn)(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
		      const struct mxc_tab_ent *e, void *arg);

/* Visit every entry of table tab; bounded by the table's size. */
static int tab_walk(struct mxc_map *m, const struct mxc_shm_root *root, unsigned tab, ent_fn fn, void *arg,
		    char *why, size_t whylen)
{
	const struct mxc_shm_tab *t = &root->r_tab[tab];
	const uint64_t *idx = mxc_tab_index(m->base, m->lim, t);
	uint64_t nb, i, w;
	struct mxc_tab_ent e;
	const uint8_t *b;
	size_t blen;
	unsigned n, j;
	int rc;

	if (idx == NULL) {
		if (t->t_index == 0)
			return MXC_OK;
		snprintf(why, whylen, "table %u: index out of bounds", tab);
		return MXC_ECORRUPT;
	}
	nb = (uint64_t)1 << t->t_log2;
	for (i = 0; i < nb; i++) {
		w = mxa_load64((uint64_t *)(uintptr_t)&idx[i]);
		if (MXC_IDX_OFF(w) == 0) {
			if (MXC_IDX_FILTER(w) != 0) {
				snprintf(why, whylen, "table %u bucket %llu: empty with a filter", tab,
					 (unsigned long long)i);
				return MXC_ECORRUPT;
			}
			continue;
		}
		b = mxc_tab_bucket(m->base, m->lim, MXC_IDX_OFF(w), tab, &blen, &n);
		if (b == NULL && view_refresh(m))
			b = mxc_tab_bucket(m->base, m->lim, MXC_IDX_OFF(w), tab, &blen, &n);
		if (b == NULL) {
			snprintf(why, whylen, "table %u bucket %llu: bad bucket record at unit %u", tab,
				 (unsigned long long)i, MXC_IDX_OFF(w));
			return MXC_ECORRUPT;
		}
		for (j = 0; j < n; j++) {
			if (mxc_tab_entry(m->base, m->lim, b, blen, n, j, &e) != 0 &&
			    (!view_refresh(m) || mxc_tab_entry(m->base, m->lim, b, blen, n, j, &e) != 0)) {
				snprintf(why, whylen, "table %u bucket %llu: entry %u out of bounds", tab,
					 (unsigned long long)i, j);
				return MXC_ECORRUPT;
			}
			rc = fn(m, tab, i, MXC_IDX_FILTER(w), &e, arg);
			if (rc != 0)
				return rc;
		}
	}
	return MXC_OK;
}

struct foreach_q {
	mxc_override_fn fn;
	void *arg;
	struct mxc_override o;
};

static int foreach_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
		       const struct mxc_tab_ent *e, void *arg)
{
	struct foreach_q *q = arg;
	int rc;

	(void)tab;
	(void)slot;
	(void)filter;
	rc = ov_fill(m, e, &q->o);
	if (rc != MXC_OK)
		return rc;
	return q->fn(&q->o, q->arg);
}

/*
 * Walk table tab once, calling fn on every entry, inside one read-side
 * section.  Not through with_read: the callbacks have side effects, so a
 * slotless walk cannot be retried; it is validated once instead (MXC_ESYS
 * when memory was reused under it).  Every public walk goes through here.
 */
static int walk_table(struct mxc *h, unsigned tab, ent_fn fn, void *arg)
{
	const struct mxc_shm_root *root;
	struct mxc_map v;
	struct rd rd;
	char why[8];
	int rc;

	rc = read_begin(h, &rd);
	if (rc < 0)
		return rc;
	view_of(rd.m, &v);
	root = map_root(&v);
	rc = root == NULL ? MXC_ECORRUPT : tab_walk(&v, root, tab, fn, arg, why, sizeof(why));
	if (read_end(h, &rd) && rc == MXC_OK)
		rc = MXC_ESYS;
	return rc;
}

int mxc_override_foreach(mxc_t *h, mxc_override_fn fn, void *arg)
{
	struct foreach_q q;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	q.fn = fn;
	q.arg = arg;
	return walk_table(h, MXC_TAB_OVERRIDE, foreach_ent, &q);
}

/* ---- federation ----------------------------------------------------------------- */

struct fed_q {
	const char *key;              /* the domain asked, or NULL (settings only) */
	size_t klen;
	uint64_t hash_inc, hash, shash;
	int have_settings, policy, rule;
	int64_t updated;
	char local[MXC_HOST_MAX + 1];
	uint64_t count;
};

static int fed_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct fed_q *q = arg;
	const struct mxc_shm_tab *t = &root->r_tab[MXC_TAB_FED];
	struct mxc_tab_ent e;
	const uint8_t *local;
	size_t llen;
	int rc;

	if (q->hash_inc != m->inc) {
		q->shash = mxc_tab_hash(m->hdr, MXC_FED_SETTINGS_KEY, 1);
		if (q->key != NULL)
			q->hash = mxc_tab_hash(m->hdr, q->key, q->klen);
		q->hash_inc = m->inc;
	}
	q->have_settings = 0;
	q->rule = 0;
	q->count = m->hdr->h_count[MXC_TAB_FED];
	rc = mxc_tab_find(m->base, m->lim, t, MXC_TAB_FED, q->shash, MXC_FED_SETTINGS_KEY, 1, &e);
	if (rc == MXC_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXC_TAB_FOUND) {
		if (mxc_fed_settings_decode(e.val, e.vlen, &q->policy, &q->updated, &local, &llen) != 0)
			return MXC_ECORRUPT;
		memcpy(q->local, local, llen);
		q->local[llen] = '\0';
		q->have_settings = 1;
	}
	if (q->key == NULL)
		return MXC_OK;
	rc = mxc_tab_find(m->base, m->lim, t, MXC_TAB_FED, q->hash, q->key, q->klen, &e);
	if (rc == MXC_TAB_CORRUPT)
		return MXC_ECORRUPT;
	q->rule = rc == MXC_TAB_FOUND;
	return MXC_OK;
}

int mxc_federation_allowed(mxc_t *h, const char *domain)
{
	char k[MXK_MAX_LEN + 1];
	struct fed_q q;
	size_t klen;
	int rc;

	if (h == NULL || domain == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, NULL) != MXK_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	rc = with_read(h, fed_read, &q);
	if (rc != MXC_OK)
		return rc;
	if (!q.have_settings)
		q.policy = MXC_FED_ACCEPT;         /* never set: ACCEPT, no local domain */
	if (q.local[0] != '\0' && strcmp(q.local, k) == 0)
		return 1;
	if (q.policy == MXC_FED_REJECT)
		return q.rule;
	return !q.rule;
}

int mxc_federation_get(mxc_t *h, struct mxc_federation *out)
{
	struct fed_q q;
	int rc;

	if (h == NULL || out == NULL)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	rc = with_read(h, fed_read, &q);
	if (rc != MXC_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	out->policy = q.have_settings ? q.policy : MXC_FED_POLICY_ACCEPT;
	memcpy(out->local, q.local, sizeof(out->local));
	out->rules = q.have_settings && q.count > 0 ? q.count - 1 : q.count;
	out->updated = q.have_settings ? q.updated : 0;
	return MXC_OK;
}

struct fed_rules_q {
	mxc_fed_rule_fn fn;
	void *arg;
};

static int fed_rule_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
			const struct mxc_tab_ent *e, void *arg)
{
	struct fed_rules_q *q = arg;
	char dom[MXC_TAB_KEY_MAX + 1];
	int64_t created;

	(void)m;
	(void)tab;
	(void)slot;
	(void)filter;
	if (e->klen == 1 && e->key[0] == '.')
		return 0;                          /* the settings */
	if (mxc_fed_rule_decode(e->val, e->vlen, &created) != 0)
		return MXC_ECORRUPT;
	memcpy(dom, e->key, e->klen);
	dom[e->klen] = '\0';
	return q->fn(dom, created, q->arg);
}

int mxc_federation_rules(mxc_t *h, mxc_fed_rule_fn fn, void *arg)
{
	struct fed_rules_q q;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	q.fn = fn;
	q.arg = arg;
	return walk_table(h, MXC_TAB_FED, fed_rule_ent, &q);
}

/* ---- delivery stats ---------------------------------------------------------------- */

/* The canonical domain of a stats call; MXC_EINVAL if it is not one. */
static int stat_key(const char *domain, char *k, size_t *klen)
{
	if (domain == NULL || mxk_normalize(domain, k, MXK_MAX_LEN + 1, klen, NULL) != MXK_OK)
		return MXC_EINVAL;
	return MXC_OK;
}

int mxc_queue_add(mxc_t *h, const char *domain, int delta)
{
	char k[MXK_MAX_LEN + 1];
	size_t klen;

	if (h == NULL || delta == 0 || delta > MXC_STAT_DELTA_MAX || delta < -MXC_STAT_DELTA_MAX ||
	    stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	return ev_post_aux(h, MXC_EV_QUEUE, 0, k, klen, delta);
}

int mxc_record_success(mxc_t *h, const char *domain, int64_t latency_ms, enum mxc_transport t)
{
	char k[MXK_MAX_LEN + 1];
	size_t klen;

	if (h == NULL || (unsigned)t > MXC_TRANSPORT_SMTP || latency_ms < 0 || latency_ms > MXC_STAT_LATENCY_MAX ||
	    stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	return ev_post_aux(h, MXC_EV_SUCCESS, (uint8_t)t, k, klen, latency_ms);
}

int mxc_record_failure(mxc_t *h, const char *domain, enum mxc_transport t)
{
	char k[MXK_MAX_LEN + 1];
	size_t klen;

	if (h == NULL || t < MXC_TRANSPORT_HTTP || t > MXC_TRANSPORT_SMTP || stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	return ev_post_aux(h, MXC_EV_FAILURE, (uint8_t)t, k, klen, 0);
}

static void stat_fill(struct mxc_stat *o, const char *key, size_t klen, const int64_t *f)
{
	memcpy(o->domain, key, klen);
	o->domain[klen] = '\0';
	o->queued_messages = f[MXC_STAT_QUEUED];
	o->failed_http = f[MXC_STAT_FAILED_HTTP];
	o->failed_https = f[MXC_STAT_FAILED_HTTPS];
	o->failed_smtp = f[MXC_STAT_FAILED_SMTP];
	o->success_http = f[MXC_STAT_SUCCESS_HTTP];
	o->success_https = f[MXC_STAT_SUCCESS_HTTPS];
	o->success_smtp = f[MXC_STAT_SUCCESS_SMTP];
	o->successful_deliveries = f[MXC_STAT_DELIVERIES];
	o->total_latency_ms = f[MXC_STAT_LATENCY];
	o->last_active = f[MXC_STAT_LAST_ACTIVE];
	o->mean_latency_ms = o->successful_deliveries > 0 ? (double)o->total_latency_ms / (double)o->successful_deliveries
							   : 0.0;
}

struct stat_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	struct mxc_stat *out;
};

static int stat_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct stat_q *q = arg;
	struct mxc_tab_ent e;
	int64_t f[MXC_STAT_NFIELDS];
	int rc;

	rc = find_key(m, root, MXC_TAB_STATS, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXC_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXC_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_stat_decode(e.val, e.vlen, f) != 0)
		return MXC_ECORRUPT;
	stat_fill(q->out, q->key, q->klen, f);
	return MXC_OK;
}

int mxc_stat_get(mxc_t *h, const char *domain, struct mxc_stat *out)
{
	char k[MXK_MAX_LEN + 1];
	struct stat_q q;
	size_t klen;

	if (h == NULL || out == NULL || stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.out = out;
	return with_read(h, stat_read, &q);
}

struct stat_each_q {
	mxc_stat_fn fn;
	void *arg;
	struct mxc_stat s;
};

static int stat_each_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
			 const struct mxc_tab_ent *e, void *arg)
{
	struct stat_each_q *q = arg;
	int64_t f[MXC_STAT_NFIELDS];

	(void)m;
	(void)tab;
	(void)slot;
	(void)filter;
	if (mxc_stat_decode(e->val, e->vlen, f) != 0)
		return MXC_ECORRUPT;
	stat_fill(&q->s, (const char *)e->key, e->klen, f);
	return q->fn(&q->s, q->arg);
}

int mxc_stat_foreach(mxc_t *h, mxc_stat_fn fn, void *arg)
{
	struct stat_each_q q;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	q.fn = fn;
	q.arg = arg;
	return walk_table(h, MXC_TAB_STATS, stat_each_ent, &q);
}

/* ---- unique-server tracker ---------------------------------------------------------- */

int mxc_record_server(mxc_t *h, const char *conn_ip, const char *sender_domain)
{
	char ip[MXK_MAX_LEN + 1], dom[MXK_MAX_LEN + 1], both[MXC_EV_NAME_MAX + 1];
	size_t il, dl = 0;
	int kind;

	if (h == NULL || conn_ip == NULL || mxk_normalize(conn_ip, ip, sizeof(ip), &il, &kind) != MXK_OK ||
	    kind == MXK_DOMAIN)
		return MXC_EINVAL;
	if (sender_domain != NULL && sender_domain[0] != '\0' &&
	    mxk_normalize(sender_domain, dom, sizeof(dom), &dl, NULL) != MXK_OK)
		return MXC_EINVAL;
	if (il + 1 + dl > MXC_EV_NAME_MAX)
		return MXC_EINVAL;
	memcpy(both, ip, il);
	both[il] = ' ';
	memcpy(both + il + 1, dom, dl);
	return ev_post_aux(h, MXC_EV_SERVER, 0, both, il + 1 + dl, 0);
}

static int servers_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct mxc_servers *out = arg;
	struct mxc_tab_ent e;
	uint64_t v[4];
	int rc;

	rc = mxc_tab_find(m->base, m->lim, &root->r_tab[MXC_TAB_SERVERS], MXC_TAB_SERVERS,
			  mxc_tab_hash(m->hdr, MXC_SERVERS_KEY, 1), MXC_SERVERS_KEY, 1, &e);
	if (rc == MXC_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXC_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_servers_decode(e.val, e.vlen, v) != 0)
		return MXC_ECORRUPT;
	out->boot_time = (int64_t)v[0];
	out->unique_conn_ips = v[1];
	out->unique_domains = v[2];
	out->unique_ip_servers = v[3];
	return MXC_OK;
}

int mxc_servers_get(mxc_t *h, struct mxc_servers *out)
{
	if (h == NULL || out == NULL)
		return MXC_EINVAL;
	return with_read(h, servers_read, out);
}

struct sts_foreach_q {
	mxc_sts_fn fn;
	void *arg;
	struct mxc_sts p;
};

static int sts_foreach_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
			   const struct mxc_tab_ent *e, void *arg)
{
	struct sts_foreach_q *q = arg;
	char dom[MXC_TAB_KEY_MAX + 1];
	struct mxc_sts_view v;

	(void)m;
	(void)tab;
	(void)slot;
	(void)filter;
	if (mxc_sts_value_decode(e->val, e->vlen, &v) != 0)
		return MXC_ECORRUPT;
	sts_fill(&v, &q->p);
	memcpy(dom, e->key, e->klen);
	dom[e->klen] = '\0';
	return q->fn(dom, v.kind == MXC_STS_KIND_POLICY ? MXC_OK : v.kind == MXC_STS_KIND_BACKOFF ? MXC_BACKOFF
												 : MXC_NOTFOUND,
		     &q->p, q->arg);
}

int mxc_sts_foreach(mxc_t *h, mxc_sts_fn fn, void *arg)
{
	struct sts_foreach_q *q;
	int rc;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	/* a walk, not a lookup: the 16 KiB policy is better off the stack */
	q = malloc(sizeof(*q));
	if (q == NULL)
		return MXC_ESYS;
	q->fn = fn;
	q->arg = arg;
	rc = walk_table(h, MXC_TAB_STS, sts_foreach_ent, q);
	free(q);
	return rc;
}

struct verify_q {
	char *why;
	size_t whylen;
	uint64_t seen[MXC_TAB_MAX];
};

static int verify_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
		      const struct mxc_tab_ent *e, void *arg)
{
	struct verify_q *q = arg;
	char k[MXC_TAB_KEY_MAX + 1], canon[MXK_MAX_LEN + 1];
	const struct mxc_shm_root *root = map_root(m);
	uint64_t hash;
	struct mxc_override o;

	memcpy(k, e->key, e->klen);
	k[e->klen] = '\0';
	if (root == NULL) {
		snprintf(q->why, q->whylen, "root record vanished");
		return MXC_ECORRUPT;
	}
	hash = mxc_tab_hash(m->hdr, e->key, e->klen);
	if ((hash & (((uint64_t)1 << root->r_tab[tab].t_log2) - 1)) != slot || MXC_HASH_TAG(hash) != e->tag ||
	    !(filter & MXC_TAG_BIT(e->tag))) {
		snprintf(q->why, q->whylen, "table %u: key '%.64s' is not where its hash puts it", tab, k);
		return MXC_ECORRUPT;
	}
	if (tab == MXC_TAB_SERVERS) {
		uint64_t v[4];

		if (e->klen != 1 || e->key[0] != '.' || mxc_servers_decode(e->val, e->vlen, v) != 0) {
			snprintf(q->why, q->whylen, "server tracker: malformed entry");
			return MXC_ECORRUPT;
		}
		q->seen[tab]++;
		return 0;
	}
	if (tab == MXC_TAB_FED && e->klen == 1 && e->key[0] == '.') {
		int pol;
		int64_t upd;
		const uint8_t *lp;
		size_t ll;

		if (mxc_fed_settings_decode(e->val, e->vlen, &pol, &upd, &lp, &ll) != 0) {
			snprintf(q->why, q->whylen, "federation settings: malformed value");
			return MXC_ECORRUPT;
		}
		q->seen[tab]++;
		return 0;
	}
	if (tab == MXC_TAB_FED) {
		int64_t created;

		if (mxc_fed_rule_decode(e->val, e->vlen, &created) != 0) {
			snprintf(q->why, q->whylen, "federation rule '%.64s': malformed value", k);
			return MXC_ECORRUPT;
		}
	}
	if (mxk_normalize(k, canon, sizeof(canon), NULL, NULL) != MXK_OK || strcmp(canon, k) != 0) {
		snprintf(q->why, q->whylen, "table %u: key '%.64s' is not canonical", tab, k);
		return MXC_ECORRUPT;
	}
	if (tab == MXC_TAB_OVERRIDE) {
		if (ov_fill(m, e, &o) != MXC_OK) {
			snprintf(q->why, q->whylen, "override '%.64s': bad target or meta record", k);
			return MXC_ECORRUPT;
		}
		if (mxk_normalize(o.target, canon, sizeof(canon), NULL, NULL) != MXK_OK ||
		    strcmp(canon, o.target) != 0) {
			snprintf(q->why, q->whylen, "override '%.64s': target '%.64s' is not canonical", k, o.target);
			return MXC_ECORRUPT;
		}
	}
	if (tab == MXC_TAB_STS) {
		struct mxc_sts_view sv;

		if (mxc_sts_value_decode(e->val, e->vlen, &sv) != 0) {
			snprintf(q->why, q->whylen, "MTA-STS entry '%.64s': malformed value", k);
			return MXC_ECORRUPT;
		}
	}
	if (tab == MXC_TAB_STATS) {
		int64_t f[MXC_STAT_NFIELDS];

		if (mxc_stat_decode(e->val, e->vlen, f) != 0) {
			snprintf(q->why, q->whylen, "stats of '%.64s': malformed value", k);
			return MXC_ECORRUPT;
		}
	}
	if (tab == MXC_TAB_MX) {
		struct mxc_mx_view mv;

		if (mxc_mx_value_decode(e->val, e->vlen, &mv) != 0) {
			snprintf(q->why, q->whylen, "MX entry '%.64s': malformed value", k);
			return MXC_ECORRUPT;
		}
	}
	q->seen[tab]++;
	return 0;
}

static int verify_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct verify_q *q = arg;
	uint64_t gen0 = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_generation), gen1;
	unsigned t;
	int rc;

	/* m is the backed view; the file size was checked against h_size
	 * when it was mapped */
	rc = hdr_check(m->hdr, m->hdr->h_size);
	if (rc != MXC_OK || m->lim < MXC_SHM_HDR_SIZE) {
		snprintf(q->why, q->whylen, "header: %s", mxc_strerror(rc != MXC_OK ? rc : MXC_ECORRUPT));
		return MXC_ECORRUPT;
	}
	for (t = 0; t < MXC_TAB_MAX; t++) {
		q->seen[t] = 0;
		rc = tab_walk(m, root, t, verify_ent, q, q->why, q->whylen);
		if (rc != MXC_OK)
			return rc;
	}
	gen1 = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_generation);
	/* counts are only comparable if nothing was published meanwhile */
	for (t = 0; t < MXC_TAB_MAX && gen0 == gen1; t++) {
		if (q->seen[t] != m->hdr->h_count[t] && gen1 == m->hdr->h_generation) {
			snprintf(q->why, q->whylen, "table %u: %llu entries found, header says %llu", t,
				 (unsigned long long)q->seen[t], (unsigned long long)m->hdr->h_count[t]);
			return MXC_ECORRUPT;
		}
	}
	return MXC_OK;
}

int mxc_verify(mxc_t *h, char *why, size_t whylen)
{
	char dummy[1];
	struct verify_q q;
	int rc;

	if (h == NULL)
		return MXC_EINVAL;
	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	memset(&q, 0, sizeof(q));
	q.why = why;
	q.whylen = whylen;
	rc = with_read(h, verify_read, &q);
	if (rc == MXC_ECORRUPT && why[0] == '\0')
		snprintf(why, whylen, "root record out of bounds or damaged");
	return rc;
}

/* ---- status and readers ------------------------------------------------- */

static int pid_alive(uint64_t pid)
{
	if (pid == 0 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int status_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	const struct mxc_shm_hdr *hd = m->hdr;
	struct mxc_status *st = arg;

	(void)root;
	st->layout = hd->h_layout;
	st->state = mxa_load32((uint32_t *)(uintptr_t)&hd->h_state);
	st->incarnation = hd->h_incarnation;
	st->size = hd->h_size;
	st->backed = mxa_load64((uint64_t *)(uintptr_t)&hd->h_backed);
	st->created = hd->h_created;
	st->generation = mxa_load64((uint64_t *)(uintptr_t)&hd->h_generation);
	st->epoch = mxa_load64((uint64_t *)(uintptr_t)&hd->h_epoch);
	st->last_publish_ms = hd->h_last_publish_ms;
	st->heartbeat_ms = hd->h_heartbeat_ms;
	st->writer_pid = hd->h_writer_pid;
	st->writer_start = hd->h_writer_start;
	st->writer_exit_ms = hd->h_writer_exit_ms;
	st->arena_used = hd->h_arena_used;
	st->arena_free = hd->h_arena_free;
	st->arena_limbo = hd->h_arena_limbo;
	st->overrides = hd->h_count[MXC_TAB_OVERRIDE];
	st->sts_entries = hd->h_count[MXC_TAB_STS];
	st->mx_entries = hd->h_count[MXC_TAB_MX];
	return MXC_OK;
}

/* mxc_status, and the registered processes (procs, may be NULL) from the
 * same read of the listing, for mxc_metrics. */
static int status_get(mxc_t *h, struct mxc_status *st, uint32_t *procs)
{
	struct mxc_shm_rlist rl;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = with_read(h, status_read, st);
	if (rc != MXC_OK)
		return rc;
	st->writer_alive = st->state == MXC_STATE_LIVE && st->writer_exit_ms == 0 &&
			   now_ms() - st->heartbeat_ms < MXC_HEARTBEAT_STALE_MS && pid_alive(st->writer_pid);
	/* the readers as the daemon last listed them (once a second) */
	if (rblock_list_read(h->readers_path, (uid_t)h->dir_uid, &rl, NULL, 0, NULL) == 0) {
		st->nslots = rl.rl_slots;
		st->slots_claimed = rl.rl_claimed;
		st->events_posted = rl.rl_posted;
		st->events_dropped = rl.rl_dropped;
		if (procs != NULL)
			*procs = rl.rl_procs;
	}
	snprintf(st->data_path, sizeof(st->data_path), "%s", h->data_path);
	snprintf(st->readers_path, sizeof(st->readers_path), "%s", h->readers_path);
	return MXC_OK;
}

int mxc_status(mxc_t *h, struct mxc_status *st)
{
	if (h == NULL || st == NULL)
		return MXC_EINVAL;
	return status_get(h, st, NULL);
}

struct counter_q {
	unsigned i;
	uint64_t v;
};

static int counter_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct counter_q *q = arg;

	(void)root;
	q->v = mxa_load64(&m->hdr->h_ctr[q->i]);
	return MXC_OK;
}

int mxc_counter(mxc_t *h, unsigned i, const char **name, const char **help, double *value)
{
	struct counter_q q = { i, 0 };
	int rc;

	if (h == NULL || value == NULL || i >= MXC_COUNTERS_MAX)
		return MXC_EINVAL;
	if (mxc_ctr_name((int)i) == NULL)
		return MXC_NOTFOUND;
	rc = with_read(h, counter_read, &q);
	if (rc != MXC_OK)
		return rc;
	if (name != NULL)
		*name = mxc_ctr_name((int)i);
	if (help != NULL)
		*help = mxc_ctr_help((int)i);
	/* in the metric's unit: a time kept in microseconds is seconds here */
	*value = (double)q.v / (double)mxc_ctr_scale((int)i);
	return MXC_OK;
}

struct metrics_q {
	struct mxc_metrics_in in;
	char *buf;
	size_t len, need;
};

static int metrics_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct metrics_q *q = arg;

	(void)root;
	q->in.hdr = m->hdr;
	q->need = mxc_metrics_format(q->buf, q->len, &q->in);
	return MXC_OK;
}

int mxc_metrics(mxc_t *h, char *buf, size_t len, size_t *need)
{
	struct mxc_status st;
	struct metrics_q q;
	int rc;

	if (h == NULL || (buf == NULL && len > 0))
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	/* the reader figures as the daemon's endpoint shows them: from its
	 * last listing */
	rc = status_get(h, &st, &q.in.procs);
	if (rc != MXC_OK)
		return rc;
	q.in.nslots = st.nslots;
	q.in.slots_claimed = st.slots_claimed;
	q.in.events_posted = st.events_posted;
	q.in.events_dropped = st.events_dropped;
	q.in.writer_running = st.writer_alive;
	q.buf = buf;
	q.len = len;
	rc = with_read(h, metrics_read, &q);
	if (rc != MXC_OK)
		return rc;
	if (need != NULL)
		*need = q.need + 1;
	return q.need < len ? MXC_OK : MXC_ETOOSMALL;
}

int mxc_readers_foreach(mxc_t *h, mxc_reader_fn fn, void *arg)
{
	struct mxc_shm_rlist rl;
	struct mxc_shm_rent *ent;
	struct mxc_reader r;
	uint32_t i, n = 0;
	int rc = MXC_OK;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	ent = calloc(MXC_LIST_MAX, sizeof(*ent));
	if (ent == NULL)
		return MXC_ESYS;
	if (rblock_list_read(h->readers_path, (uid_t)h->dir_uid, &rl, ent, MXC_LIST_MAX, &n) != 0 &&
	    errno != ENOENT) {
		free(ent);
		return MXC_ESYS;     /* errno: EACCES outside the group */
	}
	for (i = 0; i < n && rc == 0; i++) {
		memset(&r, 0, sizeof(r));
		r.slot = ent[i].re_slot;
		r.pid = ent[i].re_pid;
		r.tid = ent[i].re_tid;
		r.epoch = ent[i].re_epoch;
		r.claimed = ent[i].re_claimed;
		r.state = ent[i].re_state == MXC_RL_DEAD      ? MXC_READER_DEAD
			  : ent[i].re_state == MXC_RL_STALLED ? MXC_READER_STALLED
							      : MXC_READER_LIVE;
		rc = fn(&r, arg);
	}
	free(ent);
	return rc;
}

_Static_assert(MXC_COUNTERS_MAX == MXC_CTR_MAX, "the public bound is the region's");
