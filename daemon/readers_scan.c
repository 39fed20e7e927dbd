/*
 * daemon/readers_scan.c - what the daemon reads from the client processes'
 * reader blocks (shm/readers.h): the writer's scan of their slots in a
 * grace period, the drain of their event rings and the event thread's
 * sleep between drains, the totals, and the readers listing.  Registration and the listener are in readers.c.
 *
 * Every access goes through the registry under its mutex, with the
 * geometry of the slot count checked at registration and bitmaps copied
 * and bounded first: nothing a client writes in its block can send these
 * loops outside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shm/atomic.h"
#include "../shm/counters.h"
#include "../shm/rcu.h"
#include "../shm/readers.h"
#include "clock.h"
#include "counters.h"
#include "log.h"
#include "readers.h"
#include "readers_int.h"

/* ---- the writer's scan, the drain, the totals ---------------------------------------------- */

uint64_t readers_min_epoch(struct readers *rd, uint64_t inc)
{
	uint64_t m = UINT64_MAX, w, cl[MXS_RBLOCK_WORDS];
	uint32_t i, s;

	pthread_mutex_lock(&rd->mu);
	for (i = 0; i < rd->nprocs; i++) {
		struct rproc *p = rd->procs[i];

		if (p->dead)
			continue;
		claimed_copy(p, cl);
		while (next_bit(cl, &s)) {
			w = mxa_load64(&p->slots[s].s_word);
			if (w != 0 && MXS_SLOT_TAG(w) == (inc & 0xffffu) && MXS_SLOT_EPOCH(w) < m)
				m = MXS_SLOT_EPOCH(w);
		}
	}
	pthread_mutex_unlock(&rd->mu);
	return m;
}

/*
 * The drain copies records out under the registry lock and hands them to
 * the caller after letting go of it: the caller may wait for the writer,
 * and the writer takes the lock in its grace periods.
 */
/* Take what one ring holds, at most its size and what the buffer has
 * room for; returns 1 if the ring is empty now. */
static int ring_take(struct readers *rd, struct rproc *p, uint32_t s)
{
	struct taken *t;
	uint32_t k;
	int r;

	for (k = 0; k < MXS_EV_RING_SIZE; k++) {
		if (rd->ntaken == READERS_DRAIN_MAX)
			return 0;
		t = &rd->taken[rd->ntaken];
		r = mxc_ering_take(&p->rings[s], &t->ev);
		if (r == 0)
			return 1;
		if (r < 0) {
			ctr_add(MXS_CTR_EVENTS_BAD, 1);
			return 1;
		}
		if (!mxc_event_valid(&t->ev)) {
			ctr_add(MXS_CTR_EVENTS_BAD, 1);
			continue;
		}
		t->src = (p->serial << 10) | s;
		t->pid = p->pid;
		rd->ntaken++;
	}
	return 0;
}

size_t readers_drain(struct readers *rd, int all, readers_event_fn fn, void *arg)
{
	uint64_t cl[MXS_RBLOCK_WORDS];
	uint32_t i, k, s, first;
	size_t n;
	int empty;

	pthread_mutex_lock(&rd->drain_mu);
	pthread_mutex_lock(&rd->mu);
	rd->ntaken = 0;
	/* each pass starts one block further: when the buffer fills, the
	 * blocks early in the registry do not always come first */
	first = rd->nprocs != 0 ? rd->drain_start++ % rd->nprocs : 0;
	for (k = 0; k < rd->nprocs; k++) {
		struct rproc *p = rd->procs[(first + k) % rd->nprocs];

		if (p->drained)
			continue;
		if (all || p->dead) {
			used_copy(p, cl);
			for (empty = 1; next_bit(cl, &s);)
				empty &= ring_take(rd, p, s);
			if (p->dead && empty) {
				used_copy(p, cl);
				while (next_bit(cl, &s))
					mxc_ering_wipe(&p->rings[s]);
				p->drained = 1;
			}
			continue;
		}
		claimed_copy(p, cl);
		while (next_bit(cl, &s))
			(void)ring_take(rd, p, s);
	}
	pthread_mutex_unlock(&rd->mu);
	n = rd->ntaken;
	for (i = 0; i < n; i++)
		fn(arg, rd->taken[i].src, rd->taken[i].pid, &rd->taken[i].ev);
	/* tracker inputs among them: not left in memory longer than needed */
	explicit_bzero(rd->taken, n * sizeof(*rd->taken));
	pthread_mutex_unlock(&rd->drain_mu);
	return n;
}

/* ---- the event thread's sleep ------------------------------------------------------------ */

/*
 * Why no post is left waiting for a sleeping event thread.  A client posts
 * (a store of the ring's producer index), then a full barrier, then loads
 * its doorbell (rblock_ring).  The event thread sets resting, arms every
 * live doorbell with a compare-and-swap, then a full barrier, then loads
 * every producer index (its last drain).  Two stores, each followed by a
 * barrier and a load of the other's word: at least one side sees the
 * other's store.  Either the last drain finds the post, or the client sees
 * its doorbell armed and rings.
 *
 * The swap reads the doorbell's latest value: finding it armed already
 * (not swapped back to 0 since the last sleep) means any client's swap to
 * 0 comes after, with resting already set, so its ring wakes us.  A client
 * thread whose post finds the doorbell 0 because another thread of its
 * process just swapped it has that thread's ring to wake us, and the
 * doorbell is armed again, with the same barriers, before we next sleep.
 */
void readers_rest_arm(struct readers *rd)
{
	uint32_t i;

	__atomic_store_n(&rd->resting, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&rd->mu);
	for (i = 0; i < rd->nprocs; i++)
		if (!rd->procs[i]->dead)
			(void)mxa_cas32(&rd->procs[i]->blk->rb_doorbell, 0, MXS_RB_DOORBELL_ARMED);
	pthread_mutex_unlock(&rd->mu);
	mxa_fence_full();
}

void readers_rest(struct readers *rd, int timeout_ms)
{
	struct pollfd pf = { rd->bell, POLLIN, 0 };
	uint64_t n;

	if (timeout_ms > 0 && poll(&pf, 1, timeout_ms) < 0 && errno != EINTR)
		log_warn("readers: poll");
	/* a bell rung after this read wakes the next sleep at once: a
	 * wasted look, never a lost one */
	if (read(rd->bell, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("readers: eventfd");
	__atomic_store_n(&rd->resting, 0, __ATOMIC_SEQ_CST);
}

void readers_bell(struct readers *rd)
{
	if (__atomic_load_n(&rd->resting, __ATOMIC_SEQ_CST))
		readers_wake(rd);
}

void readers_wake(struct readers *rd)
{
	uint64_t one = 1;

	if (write(rd->bell, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("readers: eventfd");
}

void readers_totals(struct readers *rd, struct readers_totals *t)
{
	uint64_t cl[MXS_RBLOCK_WORDS];
	uint32_t i, k, s;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&rd->mu);
	t->posted = rd->gone_posted;
	t->dropped = rd->gone_dropped;
	for (i = 0; i < rd->nprocs; i++) {
		struct rproc *p = rd->procs[i];

		used_copy(p, cl);
		while (next_bit(cl, &s)) {
			t->posted += mxa_load64(&p->rings[s].er_posted);
			t->dropped += mxa_load64(&p->rings[s].er_dropped);
		}
		if (p->dead)
			continue;
		t->procs++;
		t->slots += p->nslots;
		claimed_copy(p, cl);
		for (k = 0; k < MXS_RBLOCK_WORDS; k++)
			t->claimed += (uint32_t)__builtin_popcountll(cl[k]);
	}
	pthread_mutex_unlock(&rd->mu);
}

void readers_totals_listed(struct readers *rd, struct readers_totals *t)
{
	pthread_mutex_lock(&rd->mu);
	*t = rd->listed;
	pthread_mutex_unlock(&rd->mu);
}

/* ---- the listing ---------------------------------------------------------------------- */

/* Append the claimed slots of p to the listing buffer. */
static void list_proc(const struct rproc *p, struct mxc_shm_rent *ent, uint32_t *n, uint64_t inc, uint64_t epoch)
{
	uint64_t cl[MXS_RBLOCK_WORDS], w;
	uint32_t s;

	claimed_copy(p, cl);
	while (*n < MXS_LIST_MAX && next_bit(cl, &s)) {
		struct mxc_shm_rent *e = &ent[(*n)++];

		w = mxa_load64(&p->slots[s].s_word);
		memset(e, 0, sizeof(*e));
		e->re_slot = s;
		e->re_pid = p->pid;
		e->re_uid = p->uid;
		e->re_tid = mxa_load64(&p->slots[s].s_tid);
		e->re_claimed = mxa_load64(&p->slots[s].s_claimed);
		e->re_epoch = w != 0 && MXS_SLOT_TAG(w) == (inc & 0xffffu) ? MXS_SLOT_EPOCH(w) : 0;
		if (p->dead)
			e->re_state = MXS_RL_DEAD;
		else if (e->re_epoch != 0 && e->re_epoch < epoch)
			e->re_state = MXS_RL_STALLED;
		else
			e->re_state = MXS_RL_LIVE;
	}
}

int readers_list_write(struct readers *rd, const char *path, gid_t gid, uint64_t inc, uint64_t epoch)
{
	char tmp[512];
	struct mxc_shm_rlist *hd;
	struct readers_totals t;
	uint64_t rnd = 0;
	uint32_t i, n = 0, cap = 0;
	size_t len;
	uint8_t *buf;
	int fd = -1, rc = -1, failing = rd != NULL && rd->list_failing;

	memset(&t, 0, sizeof(t));
	if (rd != NULL) {
		readers_totals(rd, &t);
		pthread_mutex_lock(&rd->mu);
		for (i = 0; i < rd->nprocs; i++)
			cap += rd->procs[i]->nslots;
		if (cap > MXS_LIST_MAX)
			cap = MXS_LIST_MAX;
	}
	buf = calloc(1, sizeof(*hd) + (size_t)cap * sizeof(struct mxc_shm_rent));
	if (buf != NULL && rd != NULL)
		for (i = 0; i < rd->nprocs && n < cap; i++)
			list_proc(rd->procs[i], (struct mxc_shm_rent *)(void *)(buf + sizeof(*hd)), &n, inc, epoch);
	if (rd != NULL)
		pthread_mutex_unlock(&rd->mu);
	if (buf == NULL)
		return -1;
	hd = (struct mxc_shm_rlist *)(void *)buf;
	hd->rl_magic = MXS_SHM_RMAGIC;
	hd->rl_layout = MXS_SHM_RLAYOUT;
	hd->rl_abi = MXS_SHM_ABI;
	hd->rl_nent = n;
	hd->rl_written_ms = wall_ms();
	hd->rl_procs = t.procs;
	hd->rl_slots = t.slots;
	hd->rl_claimed = t.claimed;
	hd->rl_posted = t.posted;
	hd->rl_dropped = t.dropped;
	if (rd != NULL) {
		pthread_mutex_lock(&rd->mu);
		rd->listed = t;
		pthread_mutex_unlock(&rd->mu);
	}
	len = sizeof(*hd) + (size_t)n * sizeof(struct mxc_shm_rent);
	(void)!getrandom(&rnd, sizeof(rnd), 0);
	if (snprintf(tmp, sizeof(tmp), "%s.%016llx", path, (unsigned long long)rnd) >= (int)sizeof(tmp))
		goto out;
	/* a new file each time, ours from birth: nobody else holds it open */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) != 0) || fchmod(fd, 0640) != 0 ||
	    write(fd, buf, len) != (ssize_t)len || rename(tmp, path) != 0) {
		if (!failing)
			log_warn("readers: cannot write the listing %s", path);
		if (rd != NULL)
			rd->list_failing = 1;
		if (fd >= 0)
			unlink(tmp);
		goto out;
	}
	if (rd != NULL)
		rd->list_failing = 0;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
