/*
 * shm/rcu.h - read-copy-update across processes: the reader side, and the
 * rule the writer follows.
 *
 * WHY
 *
 * liburcu's flavours keep their reader registry in process memory, so they
 * cannot see readers in other processes.  Here readers are other processes
 * that map the data read-only, so the registry is a small shared file of
 * cache-line slots (the reader table, like LMDB's), and the grace period is
 * computed by the writer scanning it.
 *
 * THE PROTOCOL
 *
 *   Publish.  Records in the data area are immutable once reachable.  To
 *   change a bucket the writer builds a new record beside the old one and
 *   makes it reachable with one release store of a 64-bit index word (or,
 *   for a table resize, of the root offset h_root).  A reader sees either
 *   the old record or the new one, both whole.
 *
 *   Read.  A lookup announces itself before touching the tables:
 *
 *       xchg(slot.word, (1 << 16) | incarnation_tag)     full barrier
 *       e = load(h_epoch)
 *       store(slot.word, (e << 16) | incarnation_tag)
 *       ... load h_root, index word, bucket; copy the answer out ...
 *       store_release(slot.word, 0)
 *
 *   The full barrier costs a lookup more than anything else in it when the
 *   data is in cache.  When the writer runs membarrier(GLOBAL_EXPEDITED)
 *   between its epoch store and its scan (MXS_HF_MEMBARRIER), a reader
 *   registered for it announces with a plain store instead: the kernel
 *   makes every registered reader's CPU execute a full barrier during the
 *   writer's call, which gives the same Dekker pairing with the cost on
 *   the writer's side, once per grace period (liburcu's memb flavour, made
 *   to work across processes).
 *
 *   The placeholder epoch 1 holds back everything of this region until
 *   the real epoch is stored; it lets the announcement come before the
 *   first access to the mapping, which the client's remapping needs
 *   (client/slots.c).  The writer may see either value; both are safe.
 *
 *   Retire.  The old record is unreachable from the moment the new index
 *   word is stored, but a reader that loaded the old word a moment earlier
 *   may still be copying from it.  The writer puts it on a limbo list
 *   tagged with the current epoch E, and later opens a grace period:
 *
 *       store(h_epoch, E + 1); full barrier
 *       scan every claimed slot: m = min epoch of the slots whose word is
 *           non-zero and carries this region's incarnation tag
 *       free every limbo record tagged with an epoch < m (all, if no slot
 *           is active)
 *
 * WHY IT IS SAFE
 *
 * Take a record R unlinked while the epoch was E.  A reader can hold R only
 * if it loaded the old index word, i.e. before the unlink.  The reader's
 * xchg and the writer's barrier-then-scan form a Dekker pair: either the
 * writer's scan sees the reader's announcement, or the reader's loads
 * after its xchg see everything the writer stored before its barrier,
 * the unlink included.  In the first case the word carries epoch 1 or the
 * epoch the reader loaded afterwards, which is <= E unless the bump to
 * E + 1 (made after the unlink) was already visible, in which case the
 * unlink was too; so m <= E and R stays in limbo, or the reader cannot
 * reach R.  In the second case the reader never reaches R.
 *
 * WORKED EXAMPLE
 *
 *   epoch 7.  Reader A announces 7 and loads index word w1 -> bucket B1.
 *   Writer stores w2 -> B2 (the new copy of the bucket with example.org's
 *       new target) and puts B1 in limbo tagged 7.
 *   Writer opens a grace period: epoch := 8, barrier, scan: A shows 7,
 *       so m = 7 and B1 (tagged 7) must wait: 7 < 7 is false.
 *   Reader B now announces 8 and loads w2 -> B2; it can never see B1.
 *   A copies example.org's old target out of B1 (still intact), clears
 *       its word.
 *   Next tick: scan: B shows 8, A shows 0: m = 8.  B1 (7 < 8) is freed.
 *       Its memory may be reused for a new record now.
 *
 * DEAD AND STALLED READERS
 *
 * A reader killed inside a lookup leaves a non-zero word behind.  Its
 * slots are in its process's reader block (shm/readers.h), which the
 * writer scans only while the process's registration connection is open;
 * the kernel closes it when the process dies, pid reuse or not, and the
 * word holds nothing back from then on.  A live reader that
 * stops (SIGSTOP, a debugger) inside a lookup is never evicted: it only
 * keeps the limbo list from draining, which costs memory (the region grows
 * if it must), never publishing.  shmctl readers shows it as stalled.
 *
 * A thread that finds no free slot reads without one: it samples
 * h_reclaim_gen before and after its copy (the writer bumps it before any
 * freed memory is reused) and retries a bounded number of times.  Every
 * offset it follows is bounds-checked, so a torn read is detected, never
 * dereferenced out of the mapping.
 *
 * The client-side remap of a retired region uses the same Dekker pairing
 * between the slot word and the handle's current-map pointer: see
 * client/internal.h.
 */
#ifndef MXC_SHM_RCU_H
#define MXC_SHM_RCU_H

#include <stdint.h>

#include "atomic.h"
#include "layout.h"

/*
 * mxc_rcu_announce - the placeholder announcement (epoch 1) for the region
 * with incarnation inc.  light: the writer's membarrier supplies the
 * barrier (MXS_HF_MEMBARRIER, and this process registered); else an xchg.
 */
static inline void mxc_rcu_announce(struct mxc_shm_slot *s, uint64_t inc, int light)
{
	if (light)
		mxa_store64_plain(&s->s_word, MXS_SLOT_WORD(1, inc));
	else
		(void)mxa_xchg64(&s->s_word, MXS_SLOT_WORD(1, inc));
}

/* mxc_rcu_exit - leave the read: nothing read before may be freed under it
 * after this store is visible.  Precondition: inside a read on s. */
static inline void mxc_rcu_exit(struct mxc_shm_slot *s)
{
	mxa_store64(&s->s_word, 0);
}

/*
 * mxc_rcu_settle - replace a placeholder announcement (epoch 1, made with
 * the full barrier of an xchg) by the real epoch.  A plain store suffices:
 * the Dekker pairing was made by the xchg, the epoch only rises, and a
 * writer that sees either value is conservative.  Precondition: s already
 * announces epoch 1 for this region.
 */
static inline void mxc_rcu_settle(struct mxc_shm_slot *s, const struct mxc_shm_hdr *hdr)
{
	uint64_t e = mxa_load64((uint64_t *)(uintptr_t)&hdr->h_epoch);

	mxa_store64(&s->s_word, MXS_SLOT_WORD(e, hdr->h_incarnation));
}

/*
 * mxc_rcu_blocks - does slot word w hold back reclamation of limbo tagged
 * with epoch e in the region with incarnation inc?
 */
static inline int mxc_rcu_blocks(uint64_t w, uint64_t inc, uint64_t e)
{
	return w != 0 && MXS_SLOT_TAG(w) == (inc & 0xffffu) && MXS_SLOT_EPOCH(w) <= e;
}

#endif /* MXC_SHM_RCU_H */
