/*
 * client/events.c - events to the daemon, through the reader slot's ring.
 */
#include "internal.h"

/* ---- events to the daemon (shm/events.h) ------------------------------------ */

/*
 * Hand one event to the daemon through this thread's ring.  Called after
 * a lookup, whose read_begin claimed the thread's slot if one was free;
 * a thread without a slot, or with a full ring, drops the event and
 * counts it.  Wait-free: a bounds check, one record copy, one release
 * store.
 */
int ev_post(struct mxc *h, uint8_t type, const char *name, size_t nlen, int64_t value)
{
	return ev_post_aux(h, type, 0, name, nlen, value);
}

/*
 * The event functions may be a thread's first call on h: claim its slot
 * then, as a lookup's read_begin does (a ring belongs to a slot).
 */
int ev_post_aux(struct mxc *h, uint8_t type, uint8_t aux, const char *name, size_t nlen, int64_t value)
{
	struct slotref *ref = pthread_getspecific(h->key);
	struct mxc_shm_ering *er;
	struct mxc_event ev;

	if (ref == NULL || (ref == &noslot && noslot_retry(h)) ||
	    (ref != &noslot && ref->forkgen != __atomic_load_n(&forkgen, __ATOMIC_RELAXED)))
		ref = slot_claim(h);
	if (ref == &noslot || nlen == 0 || nlen > MXS_EV_NAME_MAX)
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
