/*
 * shm/layout.h - the shared-memory region: fixed layout, version, limits.
 *
 * Two files on tmpfs per state directory DIR (see docs/region.md):
 *
 *   /dev/shm/mxcache-<dev>-<ino>.data     the data area.  Written only by
 *        mxcached, mapped PROT_READ by every client, mode 0640.
 *   /dev/shm/mxcache-<dev>-<ino>.readers  the readers listing, written by
 *        mxcached only, mode 0640 (shm/readers.h).  Reader slots live in
 *        a block each client process owns (shm/readers.h).
 *
 * <dev>-<ino> are the device and inode numbers of DIR in hex, so any path
 * that names the same directory finds the same region, with no lookup and
 * no configuration.
 *
 * Everything here is a fixed-layout struct: offsets, never pointers, every
 * size and offset pinned by a _Static_assert.  ANY change to a struct or a
 * constant in this file must bump MXS_SHM_LAYOUT (data) or
 * MXS_SHM_RLAYOUT (readers); clients refuse a region whose layout differs.
 *
 * This header is a leaf: no I/O, no allocation, no includes beyond libc
 * and shm/counters.h.
 */
#ifndef MXC_SHM_LAYOUT_H
#define MXC_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"

#define MXS_SHM_MAGIC    0x3143584du   /* "MXC1" in file byte order (LE) */
#define MXS_SHM_LAYOUT   4             /* bump on ANY data-area change */
#define MXS_SHM_RMAGIC   0x3152584du   /* "MXR1" */
#define MXS_SHM_RLAYOUT  5             /* bump on ANY reader-table change */
/*
 * ABI marker: written as a native uint32.  A reader of the other byte order
 * sees 0x05030201; the low byte also records the offset unit shift so a
 * build with a different unit refuses the region.
 */
#define MXS_SHM_ABI      (0x01020300u | MXS_SHM_UNIT_SHIFT)

#define MXS_SHM_LINE       64
/* Arena offsets are 32-bit counts of 32-byte units: 128 GiB addressable. */
#define MXS_SHM_UNIT_SHIFT 5
#define MXS_SHM_UNIT       (1u << MXS_SHM_UNIT_SHIFT)
#define MXS_SHM_HDR_SIZE   4096        /* the arena starts on page 2 */
#define MXS_SHM_MAX_SIZE   ((uint64_t)UINT32_MAX << MXS_SHM_UNIT_SHIFT)
#define MXS_SHM_MIN_SIZE   (MXS_SHM_HDR_SIZE + 64 * 1024)

/* Region states (h_state). */
#define MXS_STATE_INIT     1   /* being built: clients refuse it */
#define MXS_STATE_LIVE     2   /* current */
#define MXS_STATE_RETIRED  3   /* replaced: clients reopen by name */

/*
 * h_flags.  MXS_HF_MEMBARRIER: the writer of this region runs
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) between opening a grace
 * period and scanning the reader slots, so a reader registered for it
 * (MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) may announce itself with a
 * plain store instead of a full barrier (shm/rcu.h).
 */
#define MXS_HF_MEMBARRIER 0x1u

/* Tables hung off the root record.  Later tables take the next ids. */
#define MXS_TAB_OVERRIDE   0   /* shm/override.h */
#define MXS_TAB_STS        1   /* shm/sts.h: MTA-STS policies */
#define MXS_TAB_MX         2   /* shm/mx.h: MX answers */
#define MXS_TAB_FED        3   /* shm/fed.h: federation policy and rules */
#define MXS_TAB_STATS      4   /* shm/stats.h: per-domain delivery stats */
#define MXS_TAB_SERVERS    5   /* shm/servers.h: unique-server counts */
#define MXS_TAB_TLSPIN     6   /* shm/tlspin.h: TLS policies pinned by the operator */
#define MXS_TAB_MAX        8

/*
 * The data-area header, page 0.  h_magic, h_layout, h_abi (offsets 0, 4,
 * 8) and h_state (offset 64) keep their places in every layout, so a
 * daemon of one layout can retire a region of another and its clients
 * learn of it.  Cache lines are split by who writes them and who reads
 * them on a lookup:
 *   line 0  identity, written once at creation;
 *   line 1  state and root, read by every lookup, written on a table
 *           resize or a retirement (rare);
 *   line 2  the RCU epoch, read by every lookup, written once per grace
 *           period (rate-limited by the writer);
 *   line 3  the reclaim generation, read only by slotless readers;
 *   line 4+ writer status: written on every publish, never read by a
 *           lookup, so publishing does not steal the readers' lines.
 */
struct mxc_shm_hdr {
	/* line 0: identity */
	uint32_t h_magic;
	uint32_t h_layout;
	uint32_t h_abi;
	uint32_t h_hdr_size;      /* sizeof(struct mxc_shm_hdr) */
	uint64_t h_size;          /* bytes in the file, header included */
	uint64_t h_incarnation;   /* random, never 0: tags reader epochs */
	uint64_t h_created;       /* unix seconds */
	uint8_t  h_hashkey[16];   /* SipHash-1-3 key of every table */
	uint32_t h_nslots;        /* reader slots the writer honours */
	uint32_t h_flags;         /* MXS_HF_* */

	/* line 1: read by every lookup */
	uint32_t h_state __attribute__((aligned(64)));
	uint32_t h_pad1;
	uint64_t h_root;          /* byte offset of struct mxc_shm_root */
	uint64_t h_backed;        /* bytes of the file backed by memory; no
				     record lies beyond (only grows) */
	uint8_t  h_pad1b[40];

	/* line 2: RCU epoch, >= 1 */
	uint64_t h_epoch __attribute__((aligned(64)));
	uint8_t  h_pad2[56];

	/* line 3: bumped before freed memory is reused */
	uint64_t h_reclaim_gen __attribute__((aligned(64)));
	uint8_t  h_pad3[56];

	/* line 4: writer status */
	uint64_t h_generation __attribute__((aligned(64))); /* +1 per publish;
					its low 32 bits are a futex word: the
					writer wakes every waiter after each
					publish (mxc_sts_wait sleeps on it) */
	uint64_t h_last_publish_ms;  /* unix ms of the last publish */
	uint64_t h_heartbeat_ms;     /* unix ms, refreshed between batches,
					at least every second when idle */
	uint64_t h_writer_pid;
	uint64_t h_writer_start;     /* unix seconds the writer started */
	uint64_t h_writer_exit_ms;   /* unix ms of a clean exit, else 0 */
	uint64_t h_retired_ms;       /* unix ms this region was retired */
	uint64_t h_writer_id;        /* random per daemon start: reader blocks
					registered with that daemon serve its
					regions (shm/readers.h) */

	/* line 5: arena accounting (writer status) */
	uint64_t h_arena_used __attribute__((aligned(64))); /* bytes allocated */
	uint64_t h_arena_free;       /* bytes on free lists */
	uint64_t h_arena_limbo;      /* bytes awaiting a grace period */
	uint64_t h_count[MXS_TAB_MAX];  /* entries per table */

	/* lines 7-14: the daemon's counters (shm/counters.h), writer status */
	uint64_t h_ctr[MXS_CTR_MAX] __attribute__((aligned(64)));
};

_Static_assert(offsetof(struct mxc_shm_hdr, h_magic) == 0, "h_magic never moves");
_Static_assert(offsetof(struct mxc_shm_hdr, h_layout) == 4, "h_layout never moves");
_Static_assert(offsetof(struct mxc_shm_hdr, h_abi) == 8, "h_abi never moves");
_Static_assert(offsetof(struct mxc_shm_hdr, h_state) == 64, "h_state never moves");
_Static_assert(offsetof(struct mxc_shm_hdr, h_epoch) == 128, "bump MXS_SHM_LAYOUT");
_Static_assert(offsetof(struct mxc_shm_hdr, h_reclaim_gen) == 192, "bump MXS_SHM_LAYOUT");
_Static_assert(offsetof(struct mxc_shm_hdr, h_generation) == 256, "bump MXS_SHM_LAYOUT");
/*
 * The futex word of h_generation, as an index into it seen as two uint32_t:
 * its low 32 bits (offset 256 of the little-endian file).  Waiters sleep
 * on it with FUTEX_WAIT (shared: the region is mapped by other processes),
 * comparing it with the low half of the generation they saw; the writer
 * wakes them all (FUTEX_WAKE) after each publish and after retiring the
 * region.  32 bits wrap, but a waiter compares against a value it loaded a
 * moment before, so only 2^32 publishes in that moment could fool it.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define MXS_GEN_FUTEX_WORD 1
#else
#define MXS_GEN_FUTEX_WORD 0
#endif
_Static_assert(offsetof(struct mxc_shm_hdr, h_arena_used) == 320, "bump MXS_SHM_LAYOUT");
_Static_assert(offsetof(struct mxc_shm_hdr, h_ctr) == 448, "bump MXS_SHM_LAYOUT");
_Static_assert(sizeof(struct mxc_shm_hdr) == 960, "bump MXS_SHM_LAYOUT");
_Static_assert(sizeof(struct mxc_shm_hdr) <= MXS_SHM_HDR_SIZE, "header page");

/*
 * A table reference inside the root record.  t_index is the byte offset of
 * an array of (1 << t_log2) uint64_t index words (see shm/table.h).
 */
struct mxc_shm_tab {
	uint64_t t_index;     /* byte offset, 0 = table absent */
	uint32_t t_log2;      /* bucket count = 1 << t_log2 */
	uint32_t t_pad;
};
_Static_assert(sizeof(struct mxc_shm_tab) == 16, "bump MXS_SHM_LAYOUT");

#define MXS_ROOT_MAGIC 0x544f4f52u  /* "ROOT" */
#define MXS_TAB_MAX_LOG2 30

/* The root record: immutable once published through h_root. */
struct mxc_shm_root {
	uint32_t r_magic;
	uint32_t r_ntab;                  /* MXS_TAB_MAX */
	uint64_t r_pad;
	struct mxc_shm_tab r_tab[MXS_TAB_MAX];
};
_Static_assert(sizeof(struct mxc_shm_root) == 144, "bump MXS_SHM_LAYOUT");

#define MXS_SLOT_FREE     0
#define MXS_SLOT_CLAIMED  1

/*
 * One reader slot, one cache line, in its process's reader block
 * (shm/readers.h), written only by the thread that owns it.
 *
 * s_word is the per-lookup announcement: 0 while the thread is outside a
 * lookup, else (epoch << 16) | (incarnation & 0xffff) of the data region it
 * is reading.  The writer treats a slot as holding back reclamation of
 * region R at epoch E when its word is non-zero, names R's incarnation tag
 * and carries an epoch <= E.  (A tag collision between two incarnations only
 * makes the writer wait longer: safe.)
 *
 * Liveness: the block's registration connection.  When the process
 * dies, the kernel closes it and the daemon stops scanning the block.
 */
struct mxc_shm_slot {
	uint64_t s_word;
	uint32_t s_state;         /* MXS_SLOT_FREE / _CLAIMED */
	uint32_t s_pid;
	uint64_t s_tid;
	uint64_t s_owner;         /* random id of the owning handle */
	uint64_t s_claimed;       /* unix seconds */
	uint8_t  s_pad[24];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct mxc_shm_slot) == 64, "bump MXS_SHM_RLAYOUT");

#define MXS_SLOT_WORD(epoch, inc) (((uint64_t)(epoch) << 16) | ((inc) & 0xffffu))
#define MXS_SLOT_EPOCH(w)         ((w) >> 16)
#define MXS_SLOT_TAG(w)           ((w) & 0xffffu)

#endif /* MXC_SHM_LAYOUT_H */
