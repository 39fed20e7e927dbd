/*
 * daemon/readers_int.h - what readers.c (registration, the listener, the
 * intake, start and stop) and readers_scan.c (the writer's scan, the
 * drain, the totals, the listing) share.  Not for other modules: they use
 * readers.h.
 */
#ifndef MXC_DAEMON_READERS_INT_H
#define MXC_DAEMON_READERS_INT_H

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/un.h>

#include "../shm/atomic.h"
#include "../shm/readers.h"
#include "readers.h"

#define TMPFS_MAGIC_ 0x01021994

/* Connections that have not sent their request yet, and how long one may
 * take: a peer that connects and says nothing costs a slot here, never the
 * listener's time. */
#define READERS_PENDING_MAX  128
#define READERS_PENDING_UID  32       /* of them, one user id's: a burst of
					 one service's processes fits */
#define READERS_REQ_WAIT_MS  1000
/* A gone process's block is kept this long at most for the event thread
 * to take its last events, then unmapped. */
#define READERS_DEAD_KEEP_MS 10000
/* Departures are logged as one summary line per this many ms. */
#define READERS_LOG_MS       5000
/* Requests handed to the intake thread and not yet taken; past this the
 * intake is stuck on someone's descriptor and new ones are refused. */
#define READERS_INTAKE_MAX   64
/* How long a stop waits for a stuck intake thread before leaving it. */
#define READERS_INTAKE_JOIN_MS 2000
/* After the daemon ran out of descriptors, accepting pauses this long. */
#define READERS_EMFILE_PAUSE_MS 1000
/* Records one drain pass hands over at most; the rest wait for the next. */
#define READERS_DRAIN_MAX    4096
/* Connections accepted per wake-up, so a flood cannot starve the rest. */
#define READERS_ACCEPT_BURST 64
/* Doorbells (shm/readers.h) read from one connection per wake-up, in one
 * call, and after reading some, how long the connection is left unread
 * (its end is still noticed at once): a client that rings without pause
 * costs one read per READERS_BELL_QUIET_MS, and what it sends beyond
 * waits in its own socket buffer, then its sends fail.  A client rings
 * once per sleep of the event thread, which sleeps only after 100 ms
 * without events (daemon/sts.c), so its next ring falls after the pause. */
#define READERS_BELL_READS   32
#define READERS_BELL_QUIET_MS 10

#define SEALS_NEEDED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#ifdef F_SEAL_FUTURE_WRITE
#define SEALS_REFUSED (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)
#else
#define SEALS_REFUSED F_SEAL_WRITE
#endif

struct rproc {
	int sock;                      /* -1 once the connection closed */
	uint8_t *base;
	uint64_t size;
	uint32_t nslots;
	uint32_t pid;
	uint32_t uid;
	int dead;                      /* connection closed: not scanned */
	int drained;                   /* dead, and its rings were taken */
	uint64_t serial;
	uint64_t gone_ms;
	uint64_t bell_quiet_ms;        /* mono ms: not read before (the listener's) */
	struct mxc_shm_rblock *blk;
	struct mxc_shm_slot *slots;
	struct mxc_shm_ering *rings;
};

struct pending {
	int sock;
	uint32_t pid, uid;
	uint64_t deadline_ms;
};

/* A record the drain took, with where it came from. */
struct taken {
	uint64_t src;
	uint32_t pid;
	struct mxc_event ev;
};

struct readers {
	pthread_mutex_t mu;
	pthread_mutex_t drain_mu;      /* one drain at a time: the buffer */
	struct taken *taken;           /* READERS_DRAIN_MAX records */
	size_t ntaken;
	struct rproc *procs[READERS_MAX];
	uint32_t nprocs;
	struct pending pend[READERS_PENDING_MAX];
	uint32_t npend;
	int lsock;
	int wake[2];                   /* the listener's, for the stop */
	int bell;                      /* eventfd: wakes the event thread */
	uint32_t resting;              /* atomic: the event thread sleeps */
	pthread_t thr;
	int thr_started;
	uint64_t accept_paused_until;  /* mono ms: out of descriptors */
	/* the intake: requests the listener saw arrive, taken in order */
	pthread_mutex_t in_mu;
	pthread_cond_t in_cv;
	struct pending inq[READERS_INTAKE_MAX];
	uint32_t in_head, in_n;
	int in_stop;
	pthread_t in_thr;
	int in_started;
	uint32_t drain_start;          /* the block the next drain starts at */
	uint32_t nslots;
	uint64_t writer_id;
	uint64_t next_serial;
	uint64_t gone_posted, gone_dropped;
	uint32_t gone_procs, gone_slots;   /* since the last summary */
	struct readers_totals listed;      /* as of the last listing */
	uint64_t gone_logged_ms;
	int list_failing;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* readers_bell - wake the event thread if it sleeps (readers_scan.c):
 * a client rang, registered, or left events behind as it went. */
void readers_bell(struct readers *rd);

/* One of a block's bitmaps (rb_claimed or rb_used), copied: the client
 * may change it under us, the copy is bounded by the slot count we
 * validated. */
static inline void bits_copy(const struct rproc *p, const uint64_t *src, uint64_t out[MXS_RBLOCK_WORDS])
{
	uint32_t k, words = (p->nslots + 63) / 64;

	for (k = 0; k < MXS_RBLOCK_WORDS; k++)
		out[k] = k < words ? mxa_load64((uint64_t *)(uintptr_t)&src[k]) : 0;
	if (p->nslots % 64 != 0)
		out[words - 1] &= (1ull << (p->nslots % 64)) - 1;
}

static inline void claimed_copy(const struct rproc *p, uint64_t out[MXS_RBLOCK_WORDS])
{
	bits_copy(p, p->blk->rb_claimed, out);
}

static inline void used_copy(const struct rproc *p, uint64_t out[MXS_RBLOCK_WORDS])
{
	bits_copy(p, p->blk->rb_used, out);
}

/* The next set bit of bits, cleared; returns 0 when none is left. */
static inline int next_bit(uint64_t bits[MXS_RBLOCK_WORDS], uint32_t *s)
{
	uint32_t k;

	for (k = 0; k < MXS_RBLOCK_WORDS; k++)
		if (bits[k] != 0) {
			*s = k * 64 + (uint32_t)__builtin_ctzll(bits[k]);
			bits[k] &= bits[k] - 1;
			return 1;
		}
	return 0;
}

#endif /* MXC_DAEMON_READERS_INT_H */
