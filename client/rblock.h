/*
 * client/rblock.h - this process's reader block (shm/readers.h): created,
 * sealed and handed to the daemon; and the readers listing, read back.
 * Private to libmxcache (not exported: names outside mxc_*).
 *
 * Thread safety: rblock_register() elects one caller with a try-lock and
 * never waits; the others are for mxc_open, mxc_close and the fork child.
 */
#ifndef MXC_CLIENT_RBLOCK_H
#define MXC_CLIENT_RBLOCK_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "../shm/atomic.h"
#include "../shm/readers.h"

/* At most one registration attempt per this many ms, and how long each of
 * its steps (connect, send, answer) may wait: at mxc_open and mxc_close,
 * and on the way to a lookup or a post (the daemon answers within
 * microseconds; a daemon that does not costs that thread this once a
 * second at most). */
#define RBLOCK_RETRY_MS 1000
#define RBLOCK_WAIT_MS  500
#define RBLOCK_WAIT_CALL_MS 20

struct rblock {
	int memfd;                     /* -1: none (yet) */
	uint8_t *base;
	uint64_t size;
	uint32_t nslots;
	struct mxc_shm_rblock *hdr;
	struct mxc_shm_slot *slots;
	struct mxc_shm_ering *rings;
	int regfd;                     /* connection to the daemon, -1: none */
	uint64_t writer;               /* atomic: h_writer_id registered with, 0: none */
	uint32_t lock;                 /* try-lock of rblock_register */
	uint64_t next_try_ms;          /* atomic */
	uint8_t *orphan;               /* fork child: the parent's block's place */
	uint64_t orphan_size;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* rblock_init - no block yet; sock: DIR/readers.sock.  Returns 0, or -1
 * if the path does not fit a socket address (then the process stays
 * slotless). */
int rblock_init(struct rblock *b, const char *dir);

/* rblock_create - a block of nslots slots: a memfd, sized, mapped, its
 * rings set up, sealed.  Returns 0 or -1 (errno). */
int rblock_create(struct rblock *b, uint32_t nslots);

/*
 * rblock_register - hand the block to the daemon answering on DIR, unless
 * registered with a daemon still connected, or tried less than
 * RBLOCK_RETRY_MS ago, or another thread is at it.  Afterwards b->writer
 * names the daemon whose regions the slots serve.  Makes system calls;
 * each of connect, send and the answer waits at most wait_ms.
 */
void rblock_register(struct rblock *b, unsigned wait_ms);

/* rblock_flush - before a handle closes: if the rings hold events and no
 * daemon has the block (the registration failed or its daemon is gone),
 * try once more now, whatever the retry interval, so that the daemon takes
 * them when the connection then closes.  Makes system calls. */
void rblock_flush(struct rblock *b);

/* rblock_forked - in a fork child: the block and the connection are the
 * parent's; let go of both (the child makes its own when it needs one).
 * The block's address range stays mapped, to private memory: a read the
 * forking thread was inside ends on it without touching the parent's. */
void rblock_forked(struct rblock *b);

/* rblock_destroy - close the connection and unmap the block. */
void rblock_destroy(struct rblock *b);

/*
 * rblock_ring - after a post: if the daemon's event thread sleeps (the
 * block's doorbell is armed, shm/readers.h), wake it with one byte on the
 * registration connection.  A full barrier and a load on every post; a
 * system call only when the doorbell is armed, once per sleep of the
 * daemon.  Never waits.
 */
void rblock_ring_slow(struct rblock *b);
static inline void rblock_ring(struct rblock *b)
{
	/*
	 * The post published the ring's producer index; the barrier orders
	 * that store before the load of the doorbell.  The daemon arms the
	 * doorbell with a full barrier before its last look at the rings
	 * (readers_rest_arm), so either it sees this post or this load sees
	 * the doorbell armed: a post never waits for a daemon asleep.
	 */
	mxa_fence_full();
	if (mxa_load32(&b->hdr->rb_doorbell) == MXS_RB_DOORBELL_ARMED)
		rblock_ring_slow(b);
}

/* Slot i's claim bit, for the daemon's scan. */
void rblock_claim_bit(struct rblock *b, uint32_t i, int on);

/*
 * rblock_list_read - read the readers listing at path: its header into
 * *hd and, if ent is not NULL, up to max entries into ent (*n: how many).
 * Only a regular file owned by root or trust_uid counts.  Returns 0, or
 * -1 (no listing: no daemon has run, or the file is not one).
 */
int rblock_list_read(const char *path, uid_t trust_uid, struct mxc_shm_rlist *hd, struct mxc_shm_rent *ent,
		     uint32_t max, uint32_t *n);

#endif /* MXC_CLIENT_RBLOCK_H */
