/*
 * client/slots.c - reader slots, and the read-side critical section
 * every lookup runs in.
 */
#include "internal.h"

/* Threads that found no slot try again every this many reads, or this
 * many ms, whichever comes first. */
#define MXC_NOSLOT_RETRY    1024
#define MXC_NOSLOT_RETRY_MS 1000
/* Attempts to catch a stable current mapping while it is being swapped. */
#define MXC_SWAP_TRIES     4

/* ---- reader slots -------------------------------------------------------- */

/* A thread that found no slot: its key value points here. */
struct slotref noslot;

void slot_release(struct mxc *h, uint32_t i)
{
	struct mxc_shm_slot *s = &h->blk.slots[i];

	mxa_store64(&s->s_word, 0);
	s->s_owner = 0;
	mxa_store32(&s->s_state, MXS_SLOT_FREE);
	rblock_claim_bit(&h->blk, i, 0);
	ck_bitmap_reset(h->owned, i);     /* last: then a thread may take it */
}

/*
 * At a thread's exit, under claim_mu: the bitmap's atomics already order
 * the slot's plain fields before its next claim, but only the mutex says
 * so to ThreadSanitizer, which cannot see Concurrency Kit's assembly.
 * Never on a lookup; a thread's exit may wait for a claim.
 */
void slot_thread_exit(void *v)
{
	struct slotref *ref = v;

	/* a lookup from a later destructor must not use the slot given
	 * back here: it finds no cache and claims one anew */
	if (tls_slot.ref == ref)
		tls_slot.id = 0;

	if (ref != NULL && ref != &noslot && ref->forkgen == __atomic_load_n(&forkgen, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&ref->h->claim_mu);
		slot_release(ref->h, ref->slot);
		pthread_mutex_unlock(&ref->h->claim_mu);
	}
}

/* Make this process's reader block, sized as the daemon asks in the
 * region header, and register it, each step waiting at most wait_ms
 * (longer at mxc_open than on the way to a lookup).  Caller holds
 * claim_mu. */
int block_make(struct mxc *h, unsigned wait_ms)
{
	const struct mxc_map *m = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
	uint32_t n = m->hdr->h_nslots;

	if (n < MXS_SLOTS_MIN || n > MXS_SLOTS_MAX)
		n = MXS_SLOTS_DEFAULT;
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
struct slotref *slot_claim(struct mxc *h)
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
		mxa_store32(&s->s_state, MXS_SLOT_CLAIMED);
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
	tls_slot.ref = ref;
	tls_slot.id = h->id;
	return ref;
}

/* Should a thread without a slot try to claim one again?  Every
 * MXC_NOSLOT_RETRY reads, and at least every MXC_NOSLOT_RETRY_MS, so a
 * thread that only posts events now and then gets one too. */
int noslot_retry(struct mxc *h)
{
	return __atomic_add_fetch(&h->noslot_reads, 1, __ATOMIC_RELAXED) % MXC_NOSLOT_RETRY == 0 ||
	       mono_coarse_ms() >= __atomic_load_n(&h->noslot_retry_ms, __ATOMIC_RELAXED);
}

/* ---- the read-side critical section ---------------------------------------- */

/*
 * The read this thread is inside, if any.  A lookup made from inside
 * another read on the same handle (a foreach callback) must not overwrite
 * the outer announcement: it reads under it, from the same mapping.
 */
struct rd;
MXC_TLS struct rd *tls_rd;

/* The slot reference of the handle this thread read from last. */
MXC_TLS struct tls_slot tls_slot;

static struct rd *outer_read(const struct mxc *h)
{
	struct rd *r;

	for (r = tls_rd; r != NULL; r = r->prev)
		if (r->h == h && !r->nested)
			return r;
	return NULL;
}

/*
 * This thread's slot reference on h: the cache when it is h's, else the
 * pthread key's value (kept as the cache from then on); NULL if this
 * thread has none yet.
 */
static struct slotref *thread_ref(struct mxc *h)
{
	struct slotref *ref;

	if (tls_slot.id == h->id)
		return tls_slot.ref;
	ref = pthread_getspecific(h->key);
	if (ref != NULL) {
		tls_slot.ref = ref;
		tls_slot.id = h->id;
	}
	return ref;
}

/* read_begin's every case: nested reads, a first read, a retired or
 * replaced mapping, another daemon's region, a thread without a slot. */
int read_begin_slow(struct mxc *h, struct rd *rd)
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
	ref = thread_ref(h);
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
