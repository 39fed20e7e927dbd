/*
 * daemon/region.c - the writer's side of the shared-memory region.
 *
 * Files, publication and growth live here; the copy-on-write table
 * operations are in table_w.c and the allocator in ralloc.c.  The protocol
 * that makes it safe for readers is described once, in shm/rcu.h.
 *
 * Region life cycle:
 *   region_create   a new file "…data.<incarnation>" in state INIT, sized
 *                   for growth but backed by memory (posix_fallocate) only
 *                   as far as records are placed, plus a chunk: a mapped
 *                   tmpfs page that cannot be allocated raises SIGBUS in
 *                   every reader, so pages are reserved before any record
 *                   is written to them, and h_backed tells clients that no
 *                   offset may point past them
 *   region_go_live  state LIVE, rename over "…data", old one RETIRED
 *   region_grow     build a bigger region from this one's entries, then
 *                   go live with it; readers move over on their next call
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <ck_bitmap.h>
#include <linux/membarrier.h>

#include "../shm/layout.h"
#include "../shm/path.h"
#include "../shm/rcu.h"
#include "../shm/readers.h"
#include "counters.h"
#include "log.h"
#include "region_int.h"

#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6

/* Sizing: bytes of region per expected entry (bucket share, meta record,
 * index word, slack for copy-on-write and growth), and the floor. */
#define REGION_BYTES_PER_ENTRY 96
#define REGION_MIN_BYTES       (4u << 20)
#define REGION_ALIGN           (1u << 20)

/* Grace periods: at most one epoch bump per this many ms, so the epoch
 * line that every lookup reads changes rarely; and a sweep for dead
 * reader slots every this many ms. */
#define GRACE_MIN_MS  1
#define SWEEP_MS      5000
#define HEARTBEAT_MS  1000

uint64_t region_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- reader table ------------------------------------------------------ */

static int set_owner_mode(int fd, gid_t gid, mode_t mode, const char *path)
{
	if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) != 0) {
		log_warn("region: chgrp %s", path);
		return -1;
	}
	/* explicit: the umask must not decide who may read the region */
	if (fchmod(fd, mode) != 0) {
		log_warn("region: chmod %s", path);
		return -1;
	}
	return 0;
}

/*
 * The reader table outlives daemon restarts: clients keep their slots in
 * it across region replacements.  It is replaced only when it is missing
 * or invalid, or when the slot count changes and no slot is claimed.
 */
static int readers_open(struct region *r)
{
	char tmp[MXC_SHM_PATH_MAX];
	struct stat st;
	struct mxc_shm_rhdr *rh;
	uint64_t size, bm_off, sl_off, rg_off;
	void *map = MAP_FAILED;
	int fd = -1, rc = -1;

	fd = open(r->readers_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(*rh)) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map != MAP_FAILED && mxc_readers_valid(map, (uint64_t)st.st_size)) {
			rh = map;
			if (rh->rh_nslots == r->nslots ||
			    ck_bitmap_count((ck_bitmap_t *)((uint8_t *)map + rh->rh_bitmap), rh->rh_nslots) != 0) {
				if (rh->rh_nslots != r->nslots)
					log_warnx("region: keeping %u reader slots (clients hold some); "
						  "the new count applies when none is claimed", rh->rh_nslots);
				r->rfd = fd;
				r->rbase = map;
				r->rsize = (uint64_t)st.st_size;
				r->nslots = rh->rh_nslots;
				return 0;
			}
		} else {
			log_warnx("region: %s is not a valid reader table; replacing it", r->readers_path);
		}
	}
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	map = MAP_FAILED;
	if (fd >= 0)
		close(fd);

	size = mxc_readers_geometry(r->nslots, &bm_off, &sl_off, &rg_off);
	if (snprintf(tmp, sizeof(tmp), "%s.%ld", r->readers_path, (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_warn("region: create %s", tmp);
		return -1;
	}
	if ((errno = posix_fallocate(fd, 0, (off_t)size)) != 0) {
		log_warn("region: allocate %llu bytes for %s", (unsigned long long)size, tmp);
		goto fail;
	}
	if (set_owner_mode(fd, r->gid, 0660, tmp) != 0)
		goto fail;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		log_warn("region: map %s", tmp);
		goto fail;
	}
	rh = map;
	rh->rh_magic = MXC_SHM_RMAGIC;
	rh->rh_layout = MXC_SHM_RLAYOUT;
	rh->rh_abi = MXC_SHM_ABI;
	rh->rh_hdr_size = sizeof(*rh);
	rh->rh_nslots = r->nslots;
	rh->rh_size = size;
	rh->rh_bitmap = bm_off;
	rh->rh_slots = sl_off;
	rh->rh_created = (uint64_t)time(NULL);
	rh->rh_rings = rg_off;
	ck_bitmap_init((ck_bitmap_t *)((uint8_t *)map + bm_off), r->nslots, false);
	for (uint32_t i = 0; i < r->nslots; i++)
		ck_ring_init(&((struct mxc_shm_ering *)(void *)((uint8_t *)map + rg_off))[i].er_ring, MXC_EV_RING_SIZE);
	if (rename(tmp, r->readers_path) != 0) {
		log_warn("region: rename %s", tmp);
		goto fail;
	}
	r->rfd = fd;
	r->rbase = map;
	r->rsize = size;
	return 0;
fail:
	if (map != MAP_FAILED)
		munmap(map, size);
	unlink(tmp);
	close(fd);
	return rc;
}

uint32_t region_nslots(const struct region *r)
{
	return r->nslots;
}

struct mxc_shm_ering *region_ering(struct region *r, uint32_t i)
{
	const struct mxc_shm_rhdr *rh = (const struct mxc_shm_rhdr *)(const void *)r->rbase;

	if (i >= r->nslots)
		return NULL;
	return (struct mxc_shm_ering *)(void *)(r->rbase + rh->rh_rings) + i;
}

int region_slot_claimed(struct region *r, uint32_t i)
{
	const struct mxc_shm_rhdr *rh = (const struct mxc_shm_rhdr *)(const void *)r->rbase;

	/* the bitmap is client-written, but i is ours and in range */
	return i < r->nslots && ck_bitmap_test((const ck_bitmap_t *)(const void *)(r->rbase + rh->rh_bitmap), i);
}

static struct mxc_shm_slot *slot_at(struct region *r, uint32_t i)
{
	const struct mxc_shm_rhdr *rh = (const struct mxc_shm_rhdr *)(const void *)r->rbase;

	return (struct mxc_shm_slot *)(void *)(r->rbase + rh->rh_slots) + i;
}

uint64_t region_slot_owner(struct region *r, uint32_t i, uint32_t *pid)
{
	struct mxc_shm_slot *s;

	if (i >= r->nslots)
		return 0;
	s = slot_at(r, i);
	/* client-written: a hint for rate limiting and log lines only */
	*pid = mxa_load32(&s->s_pid);
	return mxa_load64(&s->s_owner);
}

/* Is the owner of slot i alive?  It holds a write lock on byte i of the
 * reader table for as long as it owns the slot. */
static int slot_owner_alive(struct region *r, uint32_t i)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = i;
	fl.l_len = 1;
	if (fcntl(r->rfd, F_OFD_GETLK, &fl) != 0)
		return 1;   /* cannot tell: assume alive, which is only slower */
	return fl.l_type != F_UNLCK;
}

/*
 * Free the slot of a dead owner.  The bit goes first: a new owner sets it
 * only after its CAS from FREE succeeds, which is after ours, so clearing
 * it can never hide a live reader from the scan.
 */
static void slot_reset(struct region *r, uint32_t i)
{
	struct mxc_shm_slot *s = slot_at(r, i);
	ck_bitmap_t *bm = (ck_bitmap_t *)(void *)(r->rbase + ((struct mxc_shm_rhdr *)(void *)r->rbase)->rh_bitmap);
	uint32_t pid = s->s_pid;

	ck_bitmap_reset(bm, i);
	mxa_store64(&s->s_word, 0);
	s->s_owner = 0;
	if (mxa_cas32(&s->s_state, MXC_SLOT_CLAIMED, MXC_SLOT_FREE))
		log_info("region: freed reader slot %u of dead process %u", i, pid);
}

/*
 * Every SWEEP_MS: look at every slot, bitmap or not.  A reader killed
 * between claiming a slot and setting its bit left a CLAIMED slot the
 * bitmap does not show; it never announced an epoch, so it cannot hurt a
 * grace period, but its slot would stay taken.
 */
static void slots_sweep_all(struct region *r)
{
	uint32_t i;

	for (i = 0; i < r->nslots; i++)
		if (mxa_load32(&slot_at(r, i)->s_state) == MXC_SLOT_CLAIMED && !slot_owner_alive(r, i))
			slot_reset(r, i);
}

/*
 * Scan the claimed slots: the smallest epoch among readers of this region
 * that are inside a lookup (UINT64_MAX if none).  A slot that holds back
 * limbo of epoch <= upto has its owner checked and is reset if the owner
 * is dead.  The bitmap is copied
 * first: clients may write it, and the copy's bounds are ours.
 */
static uint64_t slots_min_epoch(struct region *r, uint64_t upto)
{
	const struct mxc_shm_rhdr *rh = (const struct mxc_shm_rhdr *)(const void *)r->rbase;
	ck_bitmap_t *live = r->bm_copy;
	struct ck_bitmap_iterator it;
	uint64_t m = UINT64_MAX, w, inc = r->hdr->h_incarnation;
	unsigned int i;
	size_t words = ck_bitmap_base(r->nslots) / sizeof(unsigned int), k;
	const unsigned int *src = (const unsigned int *)(const void *)(r->rbase + rh->rh_bitmap + sizeof(unsigned int));

	ck_bitmap_init(live, r->nslots, false);
	for (k = 0; k < words; k++)
		live->map[k] = ck_pr_load_uint(&src[k]);
	ck_bitmap_iterator_init(&it, live);
	while (ck_bitmap_next(live, &it, &i)) {
		struct mxc_shm_slot *s;

		if (i >= r->nslots)
			break;
		s = slot_at(r, i);
		w = mxa_load64(&s->s_word);
		if (mxc_rcu_blocks(w, inc, upto) && !slot_owner_alive(r, i)) {
			slot_reset(r, i);
			continue;
		}
		if (w != 0 && MXC_SLOT_TAG(w) == (inc & 0xffffu) && MXC_SLOT_EPOCH(w) < m)
			m = MXC_SLOT_EPOCH(w);
	}
	return m;
}

/* ---- grace periods ------------------------------------------------------ */

/*
 * Can this writer promise MXC_HF_MEMBARRIER?  Only if the kernel offers
 * MEMBARRIER_CMD_GLOBAL_EXPEDITED (Linux 4.16) and lets us call it.
 */
static int membarrier_usable(void)
{
#if defined(MXC_TSAN)
	return 0;       /* TSan cannot see a barrier the kernel makes */
#else
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return q > 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	       syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
#endif
}

/*
 * The writer's half of the Dekker pairing with readers: a full barrier
 * here, and, when readers may announce with plain stores, one on every CPU
 * running a registered reader.  Returns -1 if that could not be had: then
 * this grace period must not free anything.
 */
static int reader_barrier(struct region *r)
{
	mxa_fence_full();
	if ((r->hdr->h_flags & MXC_HF_MEMBARRIER) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0) {
		log_warn("region: membarrier; memory is not reclaimed until it works again");
		return -1;
	}
	return 0;
}

/*
 * Open a grace period and free what it allows (shm/rcu.h).  Limbo is
 * tagged with the epoch current when it was unlinked; bumping the epoch
 * first means new readers announce a larger one, so the scan's minimum
 * passes the limbo as soon as the old readers leave.
 */
void region_reclaim(struct region *r, int sweep)
{
	uint64_t now = region_now_ms(), oldest, m, freed;

	oldest = ralloc_oldest_limbo(&r->ar);
	if (oldest == UINT64_MAX && !sweep)
		return;
	if (oldest != UINT64_MAX && oldest >= r->epoch && now - r->last_grace_ms >= GRACE_MIN_MS) {
		r->epoch++;
		mxa_store64(&r->hdr->h_epoch, r->epoch);
		r->last_grace_ms = now;
	}
	if (sweep)
		slots_sweep_all(r);
	if (reader_barrier(r) != 0)
		return;
	m = slots_min_epoch(r, oldest == UINT64_MAX ? 0 : r->epoch - 1);
	if (oldest == UINT64_MAX || oldest >= m)
		return;
	/*
	 * Slotless readers validate against h_reclaim_gen: it must change
	 * before any freed byte can be rewritten.
	 */
	(void)mxa_inc64(&r->hdr->h_reclaim_gen);
	freed = ralloc_release(&r->ar, m);
	(void)freed;
	region_stamp(r);
}

/* ---- memory behind the file ------------------------------------------------ */

/* Reserve memory at least this far ahead of what records need, so that
 * posix_fallocate runs once per chunk, not per record. */
#define BACK_CHUNK_MIN (1u << 20)

/*
 * region_back - make sure the first upto bytes of the file are backed by
 * memory, then publish the new bound.  Returns 0, or -1 with errno
 * (ENOSPC: tmpfs is full; nothing was placed there yet, so nothing is
 * lost and readers never touch an unbacked page).
 */
int region_back(struct region *r, uint64_t upto)
{
	uint64_t have = r->hdr->h_backed, want, chunk = r->size / 64;

	if (upto <= have)
		return 0;
	if (chunk < BACK_CHUNK_MIN)
		chunk = BACK_CHUNK_MIN;
	want = (upto + chunk + 4095) / 4096 * 4096;
	if (want > r->size)
		want = r->size;
	if (upto > want) {
		errno = ENOSPC;
		return -1;
	}
	if ((errno = posix_fallocate(r->m.fd, (off_t)have, (off_t)(want - have))) != 0) {
		log_warn("region: reserve %llu MiB more in %s", (unsigned long long)((want - have) >> 20),
			 r->shm_dir);
		return -1;
	}
	mxa_store64(&r->hdr->h_backed, want);
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

/* Remove "…data.<x>" files a killed predecessor left while building. */
static void remove_stale(struct region *r)
{
	char prefix[MXC_SHM_PATH_MAX], path[MXC_SHM_PATH_MAX * 2];
	const char *base;
	struct dirent *de;
	DIR *d;
	size_t plen;

	base = strrchr(r->data_path, '/');
	if (base == NULL || snprintf(prefix, sizeof(prefix), "%s.", base + 1) >= (int)sizeof(prefix))
		return;
	plen = strlen(prefix);
	d = opendir(r->shm_dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->shm_dir, de->d_name);
		if (unlink(path) == 0)
			log_info("region: removed %s, left by an interrupted build", path);
	}
	closedir(d);
}

static int map_new(struct region *r, uint64_t size, struct rmap *m)
{
	struct statfs sfs;
	struct mxc_shm_hdr *h;
	uint64_t inc;
	void *p;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	do {
		if (getrandom(&inc, sizeof(inc), 0) != sizeof(inc))
			return -1;
	} while (inc == 0);
	if (snprintf(m->tmp, sizeof(m->tmp), "%s.%016llx", r->data_path, (unsigned long long)inc) >=
	    (int)sizeof(m->tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	m->fd = open(m->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (m->fd < 0) {
		log_warn("region: create %s", m->tmp);
		return -1;
	}
	if (fstatfs(m->fd, &sfs) != 0 || (sfs.f_type != TMPFS_MAGIC_ && sfs.f_type != RAMFS_MAGIC_)) {
		log_warnx("region: %s is not on tmpfs; the region must never sit on disk-backed storage",
			  r->shm_dir);
		errno = EINVAL;
		goto fail;
	}
	/* the size is address space; memory is reserved as records need it */
	if (ftruncate(m->fd, (off_t)size) != 0 ||
	    (errno = posix_fallocate(m->fd, 0, MXC_SHM_HDR_SIZE)) != 0) {
		log_warn("region: size %s", m->tmp);
		goto fail;
	}
	if (set_owner_mode(m->fd, r->gid, 0640, m->tmp) != 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (p == MAP_FAILED) {
		log_warn("region: map %s", m->tmp);
		goto fail;
	}
	m->base = p;
	m->size = size;
	h = p;
	h->h_magic = MXC_SHM_MAGIC;
	h->h_layout = MXC_SHM_LAYOUT;
	h->h_abi = MXC_SHM_ABI;
	h->h_hdr_size = sizeof(*h);
	h->h_size = size;
	h->h_incarnation = inc;
	h->h_created = (uint64_t)time(NULL);
	if (getrandom(h->h_hashkey, sizeof(h->h_hashkey), 0) != sizeof(h->h_hashkey))
		goto fail;
	h->h_nslots = r->nslots;
	h->h_flags = r->membarrier ? MXC_HF_MEMBARRIER : 0;
	h->h_state = MXC_STATE_INIT;
	h->h_epoch = 1;
	h->h_writer_pid = (uint64_t)getpid();
	h->h_writer_start = r->started;
	h->h_heartbeat_ms = region_now_ms();
	h->h_backed = MXC_SHM_HDR_SIZE;
	return 0;
fail:
	if (m->base != NULL)
		munmap(m->base, size);
	unlink(m->tmp);
	close(m->fd);
	m->fd = -1;
	m->base = NULL;
	return -1;
}

static void map_drop(struct rmap *m, int remove)
{
	if (m->base != NULL)
		munmap(m->base, m->size);
	if (remove && m->tmp[0] != '\0')
		unlink(m->tmp);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

/* Make m the current mapping of r, with a fresh arena and empty tables
 * sized for the given entry counts. */
static int region_adopt(struct region *r, struct rmap *m, const uint64_t *expect)
{
	unsigned t;

	r->m = *m;
	r->base = m->base;
	r->size = m->size;
	r->hdr = (struct mxc_shm_hdr *)(void *)m->base;
	r->epoch = 1;
	ralloc_destroy(&r->ar);
	ralloc_init(&r->ar, MXC_SHM_HDR_SIZE >> MXC_SHM_UNIT_SHIFT, (uint32_t)(m->size >> MXC_SHM_UNIT_SHIFT));
	memset(&r->root, 0, sizeof(r->root));
	r->root.r_magic = MXC_ROOT_MAGIC;
	r->root.r_ntab = MXC_TAB_MAX;
	r->root_off = 0;
	for (t = 0; t < MXC_TAB_MAX; t++) {
		r->count[t] = 0;
		r->bucket_units[t] = 0;
	}
	for (t = 0; t < MXC_TABS_USED; t++)
		if (table_create(r, t, expect[t]) != 0)
			return -1;
	return root_publish(r);
}

static uint64_t size_for(const uint64_t *expect, uint64_t floor)
{
	uint64_t n = 0, s;
	unsigned t;

	for (t = 0; t < MXC_TABS_USED; t++)
		n += expect[t];
	s = MXC_SHM_HDR_SIZE + n * REGION_BYTES_PER_ENTRY + n * REGION_BYTES_PER_ENTRY / 4;
	if (s < floor)
		s = floor;
	if (s < REGION_MIN_BYTES)
		s = REGION_MIN_BYTES;
	return align_up(s, REGION_ALIGN);
}

int region_create(const struct region_opts *o, uint64_t expect, struct region **out)
{
	struct region *r;
	struct stat st;
	struct rmap m;
	uint64_t ex[MXC_TAB_MAX] = {0};

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -1;
	r->rfd = -1;
	r->m.fd = -1;
	r->gid = o->gid;
	r->nslots = o->nslots ? o->nslots : MXC_SLOTS_DEFAULT;
	if (r->nslots < MXC_SLOTS_MIN || r->nslots > MXC_SLOTS_MAX) {
		log_warnx("region: %u reader slots is outside %u..%u", r->nslots, MXC_SLOTS_MIN, MXC_SLOTS_MAX);
		errno = EINVAL;
		goto fail;
	}
	r->started = (uint64_t)time(NULL);
	r->membarrier = membarrier_usable();
	snprintf(r->shm_dir, sizeof(r->shm_dir), "%s", o->shm_dir ? o->shm_dir : mxc_shm_dir());
	if (stat(o->dir, &st) != 0) {
		log_warn("region: stat %s", o->dir);
		goto fail;
	}
	if (mxc_shm_path(r->data_path, sizeof(r->data_path), r->shm_dir, st.st_dev, st.st_ino, "data") != 0 ||
	    mxc_shm_path(r->readers_path, sizeof(r->readers_path), r->shm_dir, st.st_dev, st.st_ino, "readers") !=
		    0) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	remove_stale(r);
	if (readers_open(r) != 0)
		goto fail;
	r->bm_copy = malloc(ck_bitmap_size(r->nslots));
	if (r->bm_copy == NULL)
		goto fail;
	ex[MXC_TAB_OVERRIDE] = expect;
	if (map_new(r, size_for(ex, 0), &m) != 0)
		goto fail;
	if (region_adopt(r, &m, ex) != 0)
		goto fail;
	log_info("region: built %s (%llu MiB, %u reader slots)", r->m.tmp, (unsigned long long)(r->size >> 20),
		 r->nslots);
	*out = r;
	return 0;
fail:
	region_free(r, 1);
	return -1;
}

/* Mark the region at path RETIRED, if it is one of ours. */
static void retire_file(int fd)
{
	struct mxc_shm_hdr *h;
	struct stat st;

	if (fstat(fd, &st) != 0 || st.st_size < MXC_SHM_HDR_SIZE)
		return;
	h = mmap(NULL, MXC_SHM_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return;
	if (h->h_magic == MXC_SHM_MAGIC && h->h_layout == MXC_SHM_LAYOUT) {
		h->h_retired_ms = region_now_ms();
		mxa_store32(&h->h_state, MXC_STATE_RETIRED);
	} else if (h->h_magic == MXC_SHM_MAGIC) {
		/* another layout: only the fields every layout keeps in place
		 * are ours to touch; its clients see RETIRED, find a region
		 * they cannot read, and say MXC_EVERSION */
		mxa_store32(&h->h_state, MXC_STATE_RETIRED);
		log_warnx("region: retired a region of layout %u; its clients must be restarted", h->h_layout);
	}
	munmap(h, MXC_SHM_HDR_SIZE);
}

int region_go_live(struct region *r)
{
	int oldfd;

	region_stamp(r);
	mxa_store32(&r->hdr->h_state, MXC_STATE_LIVE);
	/* open the predecessor before the rename takes its name away */
	oldfd = open(r->data_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (rename(r->m.tmp, r->data_path) != 0) {
		log_warn("region: publish %s", r->data_path);
		if (oldfd >= 0)
			close(oldfd);
		return -1;
	}
	r->m.tmp[0] = '\0';
	if (oldfd >= 0) {
		retire_file(oldfd);
		close(oldfd);
	}
	return 0;
}

/*
 * Grow: build a region big enough for everything plus extra_units more,
 * copy every entry into it, publish it and retire this one.  Copying
 * entries rather than bytes compacts the arena and re-sizes the tables.
 */
int region_grow(struct region *r, uint64_t extra_units)
{
	struct region nr;
	struct rmap m;
	uint64_t ex[MXC_TAB_MAX] = {0}, need, size, t0 = region_now_ms();
	unsigned t;
	int rc = -1;

	need = (uint64_t)r->ar.used_units + extra_units;
	size = size_for(ex, (need << MXC_SHM_UNIT_SHIFT) * 2 + MXC_SHM_HDR_SIZE);
	if (size < r->size * 2)
		size = r->size * 2;
	if (size > MXC_SHM_MAX_SIZE) {
		errno = EFBIG;
		return -1;
	}
	for (t = 0; t < MXC_TABS_USED; t++)
		ex[t] = r->count[t];
	/* a scratch region struct shares the reader table and settings */
	nr = *r;
	memset(&nr.ar, 0, sizeof(nr.ar));
	if (map_new(r, size, &m) != 0)
		return -1;
	if (region_adopt(&nr, &m, ex) != 0)
		goto fail;
	for (t = 0; t < MXC_TABS_USED; t++)
		if (table_copy(&nr, r, t) != 0)
			goto fail;
	nr.hdr->h_generation = r->hdr->h_generation;
	/* a region still being built (the start-up rebuild) stays unpublished:
	 * region_go_live() comes later, for the grown one */
	if (r->m.tmp[0] == '\0' && region_go_live(&nr) != 0)
		goto fail;
	log_info("region: grew from %llu to %llu MiB in %llu ms", (unsigned long long)(r->size >> 20),
		 (unsigned long long)(nr.size >> 20), (unsigned long long)(region_now_ms() - t0));
	/* this process no longer needs the old mapping: readers have their
	 * own, and the file is retired and unlinked (or was never public) */
	ralloc_destroy(&r->ar);
	map_drop(&r->m, r->m.tmp[0] != '\0');
	*r = nr;
	return 0;
fail:
	ralloc_destroy(&nr.ar);
	map_drop(&m, 1);
	return rc;
}

int region_reserve(struct region *r, uint64_t n, uint64_t bytes)
{
	uint64_t need = region_need_units(r, MXC_TAB_OVERRIDE, n, bytes);

	if ((uint64_t)(r->ar.end - r->ar.bump) >= need)
		return 0;
	return region_grow(r, need);
}

void region_stamp(struct region *r)
{
	struct mxc_shm_hdr *h = r->hdr;
	unsigned t;

	h->h_heartbeat_ms = region_now_ms();
	h->h_arena_used = r->ar.used_units << MXC_SHM_UNIT_SHIFT;
	h->h_arena_free = r->ar.free_units << MXC_SHM_UNIT_SHIFT;
	h->h_arena_limbo = r->ar.limbo_units << MXC_SHM_UNIT_SHIFT;
	for (t = 0; t < MXC_TAB_MAX; t++) {
		h->h_count[t] = r->count[t];
		ctr_entries_set(t, r->count[t]);
	}
	ctr_copy(h->h_ctr);
}

void region_publish(struct region *r)
{
	r->hdr->h_last_publish_ms = region_now_ms();
	(void)mxa_inc64(&r->hdr->h_generation);
	region_stamp(r);
	/* under a heavy write load do not wait for the tick to reclaim */
	if (r->ar.limbo_units > REGION_LIMBO_EAGER_UNITS)
		region_reclaim(r, 0);
}

void region_tick(struct region *r)
{
	uint64_t now = region_now_ms();
	int sweep = now - r->last_sweep_ms >= SWEEP_MS;

	if (sweep)
		r->last_sweep_ms = now;
	region_reclaim(r, sweep);
	if (now - r->hdr->h_heartbeat_ms >= HEARTBEAT_MS / 2)
		region_stamp(r);
	else
		ctr_copy(r->hdr->h_ctr);     /* counters every tick: shmctl sees a refusal at once */
}

void region_free(struct region *r, int remove)
{
	if (r == NULL)
		return;
	ralloc_destroy(&r->ar);
	map_drop(&r->m, remove);
	if (r->rbase != NULL)
		munmap(r->rbase, r->rsize);
	if (r->rfd >= 0)
		close(r->rfd);
	free(r->bm_copy);
	free(r);
}

void region_close(struct region *r)
{
	if (r == NULL)
		return;
	region_stamp(r);
	r->hdr->h_writer_exit_ms = region_now_ms();
	/* an unpublished build is garbage; a published one stays for clients */
	region_free(r, r->m.tmp[0] != '\0');
}
