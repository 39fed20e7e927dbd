/*
 * shm/readers.h - reader blocks, their registration, and the readers
 * listing.  Pure: fixed layouts and geometry, no I/O.
 *
 * WHY EACH PROCESS HAS A BLOCK OF ITS OWN
 *
 * A reader announces every lookup in a slot the writer scans, and posts
 * events into a ring the daemon drains, so both sides must write shared
 * memory.  When that memory was one group-writable file, any member of the
 * region's group could rewrite its header (the daemon followed the offsets
 * and crashed), shrink it (every process mapping it died of SIGBUS), read
 * the other clients' events, or clear another reader's slot so the writer
 * reused memory that reader was still reading.
 *
 * So each client process creates its own block: an anonymous memfd that no
 * other process can name, sized for its slots, sealed against shrinking and
 * growing (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), and hands it to the
 * daemon over DIR/readers.sock with SCM_RIGHTS.  The daemon accepts only a
 * sealed tmpfs memfd of exactly the size the slot count implies, maps it,
 * and keeps the connection: when it closes (the process died, exec'd or
 * closed its handle) the block's last events are drained and it is
 * unmapped.  What a client can do to its block, it does to itself alone:
 *
 *   - the size is sealed, so the daemon's mapping can never fault;
 *   - the daemon reads no offset or size from the block: the geometry
 *     comes from the slot count it validated at registration;
 *   - garbage in a slot word holds back reclamation at worst (the same as a
 *     stalled reader); garbage in a ring is refused record by record;
 *   - nobody else maps it, so nobody else reads its events.
 *
 * The listing (…readers on tmpfs) is written by the daemon alone, 0640,
 * replaced whole by rename once a second, and read with read(2), never
 * mapped: shmctl status and shmctl readers show what it says.
 */
#ifndef MXC_SHM_READERS_H
#define MXC_SHM_READERS_H

#include <stdint.h>

#include "events.h"
#include "layout.h"

/* Slots in one process's block: [region] slots, within these bounds. */
#define MXS_SLOTS_DEFAULT 64
#define MXS_SLOTS_MIN     16
#define MXS_SLOTS_MAX     1024
#define MXS_RBLOCK_WORDS  (MXS_SLOTS_MAX / 64)

/*
 * The block's header: two bitmaps, hints for the daemon.  rb_claimed (bit
 * i: slot i claimed now) bounds the writer's scan and the usual drain;
 * rb_used (bit i: slot i was ever claimed, never cleared) bounds the full
 * drain, the counters and the last drain of a process that is gone, so
 * the pages of rings nobody ever used are never touched and never backed
 * by memory.  The daemon copies both and bounds them by the slot count it
 * validated; a client that lies in them hides only its own events.
 *
 * rb_doorbell: while events flow the daemon's event thread takes them
 * every few hundred microseconds; when none came for a while it sleeps,
 * and a post must wake it.  Before it sleeps the daemon arms the doorbell
 * (MXS_RB_DOORBELL_ARMED) in every live block, and in a block as it
 * registers.  A client that has posted an event and finds its doorbell
 * armed swaps it back to 0 and rings: it sends one byte on its
 * registration connection.  So a post costs a system call once per sleep
 * of the daemon, never while it is awake, and a lookup never.  Both sides
 * write the word, with full barriers (see rblock_ring and
 * readers_rest_arm for why no post is left asleep).  A client that never
 * rings has its events taken at the daemon's next periodic wake, within
 * a second; one that rings without cause costs the daemon a bounded read.
 */
#define MXS_RB_DOORBELL_ARMED 1u

struct mxc_shm_rblock {
	uint32_t rb_magic;            /* MXS_SHM_RMAGIC */
	uint32_t rb_layout;           /* MXS_SHM_RLAYOUT */
	uint32_t rb_nslots;
	uint32_t rb_doorbell;         /* 0, or MXS_RB_DOORBELL_ARMED: ring after a post */
	uint64_t rb_claimed[MXS_RBLOCK_WORDS];
	uint64_t rb_used[MXS_RBLOCK_WORDS];
};
_Static_assert(sizeof(struct mxc_shm_rblock) == 16 + 16 * MXS_RBLOCK_WORDS, "bump MXS_SHM_RLAYOUT");

/*
 * mxc_rblock_geometry - where the slots and the event rings of a block of
 * nslots sit, and its size: header, slots on a cache line, rings from the
 * next page, the whole rounded up to a page.
 */
static inline uint64_t mxc_rblock_geometry(uint32_t nslots, uint64_t *slots_off, uint64_t *rings_off)
{
	uint64_t sl = (sizeof(struct mxc_shm_rblock) + MXS_SHM_LINE - 1) / MXS_SHM_LINE * MXS_SHM_LINE;
	uint64_t rg = (sl + (uint64_t)nslots * sizeof(struct mxc_shm_slot) + 4095) / 4096 * 4096;
	uint64_t end = rg + (uint64_t)nslots * sizeof(struct mxc_shm_ering);

	*slots_off = sl;
	*rings_off = rg;
	return (end + 4095) / 4096 * 4096;
}

/* ---- registration: one message each way on DIR/readers.sock ---------------- */

#define MXS_READERS_SOCK  "readers.sock"
#define MXS_REG_MAGIC     0x47455258u  /* "XREG" */

/* Client to daemon, with the block's descriptor (SCM_RIGHTS). */
struct mxc_reg_req {
	uint32_t rq_magic;            /* MXS_REG_MAGIC */
	uint32_t rq_layout;           /* MXS_SHM_RLAYOUT */
	uint32_t rq_nslots;           /* MXS_SLOTS_MIN..MXS_SLOTS_MAX */
	uint32_t rq_pad;
};
_Static_assert(sizeof(struct mxc_reg_req) == 16, "bump MXS_SHM_RLAYOUT");

/* Daemon to client.  ra_error 0: the block is scanned and drained from now
 * on, for regions whose h_writer_id is ra_writer_id; else an errno value
 * (EINVAL: not a block the daemon accepts; EUSERS: too many processes).
 * After that, the client sends only doorbells (one byte each, any value,
 * rb_doorbell above) and the daemon nothing; a close or an empty message
 * means the process let go of its block. */
struct mxc_reg_ans {
	uint32_t ra_magic;            /* MXS_REG_MAGIC */
	int32_t  ra_error;
	uint64_t ra_writer_id;
};
_Static_assert(sizeof(struct mxc_reg_ans) == 16, "bump MXS_SHM_RLAYOUT");

/* ---- the readers listing ------------------------------------------------------- */

#define MXS_LIST_MAX 65536            /* entries the listing holds at most */

struct mxc_shm_rlist {
	uint32_t rl_magic;            /* MXS_SHM_RMAGIC */
	uint32_t rl_layout;           /* MXS_SHM_RLAYOUT */
	uint32_t rl_abi;              /* MXS_SHM_ABI */
	uint32_t rl_nent;             /* entries that follow */
	uint64_t rl_written_ms;       /* unix ms */
	uint32_t rl_procs;            /* registered processes */
	uint32_t rl_slots;            /* their slots */
	uint32_t rl_claimed;          /* of which claimed */
	uint32_t rl_pad;
	uint64_t rl_posted;           /* events posted by registered processes */
	uint64_t rl_dropped;          /* of those, dropped on a full ring */
	uint64_t rl_pad2;
};
_Static_assert(sizeof(struct mxc_shm_rlist) == 64, "bump MXS_SHM_RLAYOUT");

#define MXS_RL_LIVE     0
#define MXS_RL_DEAD     1             /* process gone, last events not yet drained */
#define MXS_RL_STALLED  2

struct mxc_shm_rent {
	uint32_t re_slot;
	uint32_t re_pid;              /* from the registration's credentials */
	uint32_t re_uid;
	uint32_t re_state;            /* MXS_RL_* */
	uint64_t re_tid;              /* client-written: a hint */
	uint64_t re_epoch;            /* 0: outside a lookup */
	uint64_t re_claimed;          /* unix seconds, client-written */
	uint64_t re_pad[3];
};
_Static_assert(sizeof(struct mxc_shm_rent) == 64, "bump MXS_SHM_RLAYOUT");

#endif /* MXC_SHM_READERS_H */
