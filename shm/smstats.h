/*
 * shm/smstats.h - the socketmap server's counters, shared with mxcached.
 *
 * mxcached creates a memfd of MXS_SM_STATS_SIZE bytes before it starts
 * mxcache-socketmap and hands it over as a descriptor (--stats-fd); the
 * server counts into it, mxcached copies the counts into its own
 * (shm/counters.h, from MXS_CTR_SM_MTASTS on) at every writer tick.  The
 * memfd outlives restarts of the server, so the counts run on.  Only the
 * two processes hold it: nothing else can forge the figures.
 *
 * Leaf header: no I/O, no allocation.
 */
#ifndef MXC_SHM_SMSTATS_H
#define MXC_SHM_SMSTATS_H

#include <stdint.h>

#include "atomic.h"
#include "counters.h"

#define MXS_SM_STATS_MAGIC 0x31534d53u   /* "SMS1" */
#define MXS_SM_STATS_SIZE  4096

enum mxc_sm_stat {
	MXS_SM_REQ_MTASTS = 0,       /* requests by map, in the server's map order */
	MXS_SM_REQ_TRANSPORT,
	MXS_SM_REQ_FEDERATION,
	MXS_SM_ANS_OK,               /* answers by kind */
	MXS_SM_ANS_NOTFOUND,
	MXS_SM_ANS_TEMP,
	MXS_SM_ANS_PERM,
	MXS_SM_CONN,                 /* connections accepted */
	MXS_SM_CONN_REFUSED,         /* refused: max_connections or a listener's limit */
	MXS_SM_CONN_REFUSED_PEER,    /* refused: the limit per TCP address or unix uid */
	MXS_SM_TIMEOUT,              /* closed: idle, a request not complete, replies not read in time */
	MXS_SM_NSTATS
};

struct mxc_sm_stats {
	uint32_t magic;
	uint32_t n;                  /* MXS_SM_NSTATS */
	uint64_t v[MXS_SM_NSTATS];
};

_Static_assert(sizeof(struct mxc_sm_stats) <= MXS_SM_STATS_SIZE, "one page");
_Static_assert(MXS_CTR_SM_TIMEOUT - MXS_CTR_SM_MTASTS + 1 == MXS_SM_NSTATS,
	       "the daemon's counters mirror these, in order");

static inline void mxc_sm_count(struct mxc_sm_stats *s, int i)
{
	if (s != NULL && i >= 0 && i < MXS_SM_NSTATS)
		(void)mxa_inc64(&s->v[i]);
}

#endif
