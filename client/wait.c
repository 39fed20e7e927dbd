/*
 * client/wait.c - waiting for the daemon: mxc_wait_change (the next
 * publish) and mxc_sts_wait (a domain's first check).  Not lookups: they
 * block, in FUTEX_WAIT on the low 32 bits of the region's h_generation
 * (shm/layout.h, MXS_GEN_FUTEX_WORD), which the daemon wakes after every
 * publish and when it retires the region.
 *
 * The wait is on the read-only mapping: FUTEX_WAIT only reads the word,
 * and a shared futex is keyed by the file and offset, so the daemon's
 * FUTEX_WAKE through its own mapping finds us.
 *
 * While it sleeps the thread holds no reader slot (that would hold back
 * the daemon's reclaiming for the whole wait); it counts itself in
 * h->slotless instead, which keeps this process from unmapping the
 * mapping it sleeps on (map.c) and costs the daemon nothing.  Each sleep
 * is at most MXC_WAIT_SLICE_MS, so even a wake that never comes (a daemon
 * killed between publishing and waking) costs a slice, not the timeout.
 */
#include "internal.h"

#include <linux/futex.h>

#define MXC_WAIT_SLICE_MS 1000   /* longest single sleep */
#define MXC_WAIT_REMAP_MS 100    /* a retired region whose successor is not there yet: look again after */

static uint64_t mono_ms_now(void)
{
	return mxc_clock_ms(CLOCK_MONOTONIC);
}

/* Sleep until the futex word at w is no longer val, a wake, or ms pass. */
static void futex_sleep(const uint32_t *w, uint32_t val, uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* EAGAIN (changed already), ETIMEDOUT, EINTR: the caller looks again */
	(void)syscall(SYS_futex, w, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

int mxc_wait_change(mxc_t *h, uint64_t seen, int timeout_ms, uint64_t *gen)
{
	struct mxc_map *first, *m;
	uint64_t deadline, now, g;
	int fatal, rc;

	if (h == NULL || timeout_ms < 0)
		return MXC_EINVAL;
	fatal = __atomic_load_n(&h->fatal, __ATOMIC_RELAXED);
	if (fatal != 0)
		return fatal;
	deadline = mono_ms_now() + (uint64_t)timeout_ms;
	/* counted before loading h->cur: nothing we load is unmapped under us */
	(void)mxa_inc64(&h->slotless);
	first = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
	for (;;) {
		m = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE);
		g = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_generation);
		if (seen == 0 || g != seen || m != first) {
			rc = MXC_OK;   /* a publish, or a region replaced: a change */
			break;
		}
		now = mono_ms_now();
		if (now >= deadline) {
			rc = MXC_NOTFOUND;
			break;
		}
		if (!map_live(m)) {
			/* retired: map its successor (the change), or, while
			 * there is none yet (a daemon restarting), look again */
			remap(h, m);
			fatal = __atomic_load_n(&h->fatal, __ATOMIC_RELAXED);
			if (fatal != 0) {
				rc = fatal;   /* its successor is of another layout */
				break;
			}
			if (__atomic_load_n(&h->cur, __ATOMIC_ACQUIRE) == m)
				sleep_ms(deadline - now < MXC_WAIT_REMAP_MS ? deadline - now : MXC_WAIT_REMAP_MS);
			continue;
		}
		futex_sleep((const uint32_t *)(const void *)&m->hdr->h_generation + MXS_GEN_FUTEX_WORD, (uint32_t)g,
			    deadline - now < MXC_WAIT_SLICE_MS ? deadline - now : MXC_WAIT_SLICE_MS);
	}
	(void)mxa_add64(&h->slotless, (uint64_t)-1);
	if (gen != NULL)
		*gen = g;
	return rc;
}

/* Is there an entry for the domain, still standing (any kind)? */
struct sts_any_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	int found;
};

static int sts_any_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct sts_any_q *q = arg;
	struct mxc_sts_view v;
	int rc;

	q->found = 0;
	rc = find_sts(m, root, q->key, q->klen, &q->hash_inc, &q->hash, &v);
	if (rc != MXC_OK)
		return rc == MXC_NOTFOUND ? MXC_OK : rc;
	/* an entry run out (an old backoff, an expired policy) is no answer:
	 * the check asked for replaces it */
	q->found = v.valid_end > wall_coarse_s();
	return MXC_OK;
}

int mxc_sts_wait(mxc_t *h, const char *domain, int timeout_ms)
{
	char k[MXK_MAX_LEN + 1];
	struct sts_any_q q;
	uint64_t deadline, now, g;
	size_t klen;
	int kind, rc, posted = 0;

	if (h == NULL || domain == NULL || timeout_ms < 0)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK || kind != MXK_DOMAIN)
		return MXC_EINVAL;   /* RFC 8461 policies are for domains only */
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	deadline = mono_ms_now() + (uint64_t)timeout_ms;
	/* the generation before the lookup: a publish between the two is
	 * seen by the wait, never lost */
	rc = mxc_wait_change(h, 0, 0, &g);
	for (;;) {
		if (rc != MXC_OK)
			return rc;
		rc = with_read(h, sts_any_read, &q);
		if (rc != MXC_OK)
			return rc;
		if (q.found)
			return MXC_OK;
		/* asked once; again only if the ring was full (the daemon
		 * queues a domain once however often it is asked) */
		if (!posted)
			posted = ev_post(h, MXS_EV_STS_FETCH, k, klen, 0) == MXC_OK;
		now = mono_ms_now();
		if (now >= deadline)
			return MXC_NOTFOUND;
		if (g == 0) {
			/* nothing published yet: 0 is "do not wait" to
			 * mxc_wait_change; look again after a while */
			sleep_ms(deadline - now < MXC_WAIT_REMAP_MS ? deadline - now : MXC_WAIT_REMAP_MS);
			rc = mxc_wait_change(h, 0, 0, &g);
			continue;
		}
		rc = mxc_wait_change(h, g, (int)(deadline - now), &g);
		if (rc == MXC_NOTFOUND)
			return MXC_NOTFOUND;
	}
}
