/*
 * shm/events.h - the client-to-daemon event path: one single-producer,
 * single-consumer ring per reader slot, in each client process's reader
 * block (shm/readers.h).
 *
 * Clients must never write the data region, yet some lookups have to tell
 * the daemon something: "no MTA-STS policy cached for this domain, fetch
 * it", "this policy was used", and later the delivery counters.  Those go
 * through rings beside the reader slots.  Slot i's ring has exactly one
 * producer, the thread owning slot i, and one consumer, the daemon, so a
 * single-producer, single-consumer ring of two 32-bit indexes is enough
 * and both sides are wait-free (its words are ours, fixed here and read
 * and written through shm/atomic.h as every shared word is; no library's
 * private struct lives in shared memory):
 *
 *   - posting is a bounds check, a copy of one record and one release
 *     store of the producer index; a full ring drops the event and counts
 *     it (er_dropped), the client never waits for the daemon;
 *   - a client killed halfway through a post leaves a record it never
 *     published; the next owner of the slot overwrites it.  Nothing is
 *     held, so nothing stalls: not the daemon, not the other clients;
 *   - the rings live in the client's own reader block (shm/readers.h),
 *     which the client may write at will, so the daemon trusts nothing in
 *     them: it takes records with mxc_ering_take(), which uses the ring
 *     size it knows rather than the one in the block, takes at most
 *     MXS_EV_RING_SIZE records per ring per pass and validates every
 *     record (type, name length, the name itself);
 *   - a record may carry what a client must not leave lying around (the
 *     tracker's connecting IPs and sender domains), so the daemon wipes
 *     each record as it takes it.
 *
 * The daemon polls the rings of claimed slots (the claim bitmap says
 * which) every few milliseconds; events are hints and counters, never
 * answers a caller waits for, so a poll interval is fine and a client pays
 * no system call to post.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef MXC_SHM_EVENTS_H
#define MXC_SHM_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "atomic.h"
#include "layout.h"

#define MXS_EV_RING_SIZE 16          /* slots per ring, a power of two; it holds one less */
#define MXS_EV_NAME_MAX  255         /* a canonical domain or IP literal; MXS_EV_SERVER: two */

/* Event types.  Later tables take the next numbers. */
#define MXS_EV_STS_FETCH 1           /* no usable policy cached: fetch one */
#define MXS_EV_STS_USED  2           /* a cached policy was used (e_value: unix s) */
#define MXS_EV_MX_FETCH  3           /* no usable MX answer cached: resolve */
#define MXS_EV_QUEUE     4           /* e_value: queued messages delta */
#define MXS_EV_SUCCESS   5           /* e_aux: transport, e_value: latency ms */
#define MXS_EV_FAILURE   6           /* e_aux: transport */
#define MXS_EV_SERVER    7           /* e_name: "IP SENDER-DOMAIN" (domain may be absent) */
#define MXS_EV_STS_RECHECK 8         /* a policy used whose TXT record was checked over recheck_s ago */
#define MXS_EV_TYPE_MAX  8

struct mxc_event {
	uint8_t  e_type;             /* MXS_EV_* */
	uint8_t  e_aux;              /* type-specific */
	uint16_t e_nlen;             /* bytes of e_name, 1..MXS_EV_NAME_MAX */
	uint32_t e_pad;
	int64_t  e_value;            /* type-specific */
	char     e_name[256];        /* canonical key, not NUL-terminated */
};
_Static_assert(sizeof(struct mxc_event) == 272, "bump MXS_SHM_RLAYOUT");

/* One slot's ring: the consumer index and the producer index on lines of
 * their own (each side writes one, so neither bounces the other's line),
 * the producer's counters on a third, then the records.  The indexes run
 * free (they wrap at 2^32); record i is er_ev[i % MXS_EV_RING_SIZE], and
 * er_p_tail - er_c_head records wait, at most MXS_EV_RING_SIZE - 1. */
struct mxc_shm_ering {
	uint32_t er_c_head;          /* consumer: the next record to take */
	uint8_t  er_pad0[60];
	uint32_t er_p_tail;          /* producer: the next record to fill */
	uint8_t  er_pad1[60];
	uint64_t er_posted;          /* producer: events published */
	uint64_t er_dropped;         /* producer: events dropped, ring full */
	uint8_t  er_pad2[48];
	struct mxc_event er_ev[MXS_EV_RING_SIZE];
};
_Static_assert(offsetof(struct mxc_shm_ering, er_c_head) == 0, "bump MXS_SHM_RLAYOUT");
_Static_assert(offsetof(struct mxc_shm_ering, er_p_tail) == 64, "bump MXS_SHM_RLAYOUT");
_Static_assert(offsetof(struct mxc_shm_ering, er_posted) == 128, "bump MXS_SHM_RLAYOUT");
_Static_assert(offsetof(struct mxc_shm_ering, er_ev) == 192, "bump MXS_SHM_RLAYOUT");
_Static_assert(sizeof(struct mxc_shm_ering) == 192 + MXS_EV_RING_SIZE * 272, "bump MXS_SHM_RLAYOUT");
_Static_assert(sizeof(struct mxc_shm_ering) % MXS_SHM_LINE == 0, "rings stay line-aligned");
_Static_assert((MXS_EV_RING_SIZE & (MXS_EV_RING_SIZE - 1)) == 0, "a power of two: the indexes wrap cleanly");

/* mxc_ering_init - an empty ring, as its producer sets it up. */
static inline void mxc_ering_init(struct mxc_shm_ering *er)
{
	mxa_store32(&er->er_c_head, 0);
	mxa_store32(&er->er_p_tail, 0);
}

/* mxc_ering_sane - could the indexes be ones this ring's two sides wrote
 * (no more records waiting than it holds)?  The producer checks before
 * posting into its own ring, which anyone in its process may have
 * scribbled over. */
static inline int mxc_ering_sane(const struct mxc_shm_ering *er)
{
	return mxa_load32(&er->er_p_tail) - mxa_load32(&er->er_c_head) < MXS_EV_RING_SIZE;
}

/* mxc_ering_pending - do records wait in the ring? */
static inline int mxc_ering_pending(const struct mxc_shm_ering *er)
{
	return mxa_load32(&er->er_p_tail) != mxa_load32(&er->er_c_head);
}

/*
 * mxc_ering_post - the producer's enqueue: copy ev into the next record,
 * then publish it with a release store of the producer index.  Returns 1,
 * or 0 when the ring is full (MXS_EV_RING_SIZE - 1 records waiting: one
 * record stays free, so full and empty never look alike).
 */
static inline int mxc_ering_post(struct mxc_shm_ering *er, const struct mxc_event *ev)
{
	uint32_t p = mxa_load32(&er->er_p_tail);
	uint32_t c = mxa_load32(&er->er_c_head);

	if (p - c >= MXS_EV_RING_SIZE - 1)
		return 0;
	memcpy(&er->er_ev[p & (MXS_EV_RING_SIZE - 1)], ev, sizeof(*ev));
	mxa_store32(&er->er_p_tail, p + 1);
	return 1;
}

/*
 * mxc_ering_take - the consumer's dequeue, for a ring in memory the
 * producer may have scribbled over.  It reads the two indexes once each,
 * never the size or mask words, so no value in the ring can send it
 * outside er_ev (the acquire load of the producer index orders the
 * record's reads after it).  The record is copied out, then wiped, then handed back
 * to the producer (a release store of the consumer index).
 * Returns 1 with *out filled, 0 if the ring is empty, -1 if the indexes
 * are impossible (the consumer index is then set to the producer's: the
 * ring's records are abandoned, its producer loses only its own events).
 */
static inline int mxc_ering_take(struct mxc_shm_ering *er, struct mxc_event *out)
{
	uint32_t c = mxa_load32(&er->er_c_head);
	uint32_t p = mxa_load32(&er->er_p_tail);
	volatile unsigned char *rec;
	size_t k;

	if (p == c)
		return 0;
	if (p - c >= MXS_EV_RING_SIZE) {
		mxa_store32(&er->er_c_head, p);
		return -1;
	}
	rec = (volatile unsigned char *)&er->er_ev[c & (MXS_EV_RING_SIZE - 1)];
	for (k = 0; k < sizeof(*out); k++)
		((unsigned char *)out)[k] = rec[k];
	for (k = 0; k < sizeof(*out); k++)
		rec[k] = 0;
	mxa_store32(&er->er_c_head, c + 1);
	return 1;
}

/* mxc_ering_wipe - clear every record of a ring nobody produces into any
 * more (its process is gone, or the daemon is stopping and took them). */
static inline void mxc_ering_wipe(struct mxc_shm_ering *er)
{
	volatile unsigned char *p = (volatile unsigned char *)er->er_ev;
	size_t k;

	for (k = 0; k < sizeof(er->er_ev); k++)
		p[k] = 0;
}

/* mxc_event_valid - a record a consumer may act on: known type, a name
 * length in range.  The name's content is the consumer's to check. */
static inline int mxc_event_valid(const struct mxc_event *e)
{
	return e->e_type >= 1 && e->e_type <= MXS_EV_TYPE_MAX && e->e_nlen >= 1 && e->e_nlen <= MXS_EV_NAME_MAX;
}

#endif /* MXC_SHM_EVENTS_H */
