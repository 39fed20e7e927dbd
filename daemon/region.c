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
#include <limits.h>
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

#include <linux/futex.h>
#include <linux/membarrier.h>

#include "../shm/layout.h"
#include "../shm/path.h"
#include "../shm/rcu.h"
#include "counters.h"
#include "log.h"
#include "readers.h"
#include "region_int.h"

#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6

/* Sizing: bytes of region per expected entry (bucket share, meta record,
 * index word, slack for copy-on-write and growth), and the floor. */
#define REGION_BYTES_PER_ENTRY 96
#define REGION_MIN_BYTES       (4u << 20)
#define REGION_ALIGN           (1u << 20)

/* Grace periods: at most one epoch bump per this many ms, so the epoch
 * line that every lookup reads changes rarely; and the readers listing
 * (shm/readers.h) rewritten every this many ms. */
#define GRACE_MIN_MS  1
#define LIST_MS       1000
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

struct readers *region_readers(struct region *r)
{
	return r->rd;
}

/* ---- grace periods ------------------------------------------------------ */

/*
 * Can this writer promise MXS_HF_MEMBARRIER?  Only if the kernel offers
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
	if ((r->hdr->h_flags & MXS_HF_MEMBARRIER) &&
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
		(void)readers_list_write(r->rd, r->readers_path, r->gid, r->hdr->h_incarnation, r->epoch);
	if (reader_barrier(r) != 0)
		return;
	m = readers_min_epoch(r->rd, r->hdr->h_incarnation);
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

/* Remove "…data.<x>" and "…readers.<x>" files a killed predecessor of
 * ours left while writing them.  Only our own: a name someone else holds
 * in the shared directory is not ours to judge. */
static void remove_stale(struct region *r)
{
	char prefix[2][MXS_SHM_PATH_MAX], path[MXS_SHM_PATH_MAX * 2];
	const char *base[2] = { strrchr(r->data_path, '/'), strrchr(r->readers_path, '/') };
	struct dirent *de;
	struct stat st;
	DIR *d;
	int k;

	for (k = 0; k < 2; k++)
		if (base[k] == NULL || snprintf(prefix[k], sizeof(prefix[k]), "%s.", base[k] + 1) >=
					       (int)sizeof(prefix[k]))
			return;
	d = opendir(r->shm_dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		for (k = 0; k < 2; k++)
			if (strncmp(de->d_name, prefix[k], strlen(prefix[k])) == 0)
				break;
		if (k == 2 || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    st.st_uid != geteuid())
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->shm_dir, de->d_name);
		if (unlink(path) == 0)
			log_info("region: removed %s, left by an interrupted write", path);
	}
	closedir(d);
}

/*
 * The public names must be free or ours.  A file under them that another
 * user owns was not made by this daemon: it is never adopted, written or
 * trusted.  Running as root we replace it (and say so); otherwise the
 * shared directory's sticky bit would refuse the rename at the worst
 * moment, so refuse to start now, saying how to clear it.
 */
static int names_check(const struct region *r)
{
	const char *paths[2] = { r->data_path, r->readers_path };
	struct stat st;
	int k;

	for (k = 0; k < 2; k++) {
		if (lstat(paths[k], &st) != 0 || st.st_uid == geteuid())
			continue;
		if (geteuid() == 0) {
			log_warnx("region: %s belongs to uid %lu, not to mxcached: replacing it, never reading it",
				  paths[k], (unsigned long)st.st_uid);
			continue;
		}
		log_warnx("region: %s belongs to uid %lu, not to mxcached (uid %lu): it was not made by this "
			  "daemon; remove it as root (shmctl -d DIR unlink) and start again",
			  paths[k], (unsigned long)st.st_uid, (unsigned long)geteuid());
		errno = EPERM;
		return -1;
	}
	return 0;
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
	    (errno = posix_fallocate(m->fd, 0, MXS_SHM_HDR_SIZE)) != 0) {
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
	h->h_magic = MXS_SHM_MAGIC;
	h->h_layout = MXS_SHM_LAYOUT;
	h->h_abi = MXS_SHM_ABI;
	h->h_hdr_size = sizeof(*h);
	h->h_size = size;
	h->h_incarnation = inc;
	h->h_created = (uint64_t)time(NULL);
	if (getrandom(h->h_hashkey, sizeof(h->h_hashkey), 0) != sizeof(h->h_hashkey))
		goto fail;
	h->h_nslots = r->nslots;
	h->h_flags = r->membarrier ? MXS_HF_MEMBARRIER : 0;
	h->h_state = MXS_STATE_INIT;
	h->h_epoch = 1;
	h->h_writer_pid = (uint64_t)getpid();
	h->h_writer_start = r->started;
	h->h_writer_id = r->writer_id;
	h->h_heartbeat_ms = region_now_ms();
	h->h_backed = MXS_SHM_HDR_SIZE;
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
	ralloc_init(&r->ar, MXS_SHM_HDR_SIZE >> MXS_SHM_UNIT_SHIFT, (uint32_t)(m->size >> MXS_SHM_UNIT_SHIFT));
	memset(&r->root, 0, sizeof(r->root));
	r->root.r_magic = MXS_ROOT_MAGIC;
	r->root.r_ntab = MXS_TAB_MAX;
	r->root_off = 0;
	for (t = 0; t < MXS_TAB_MAX; t++) {
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
	s = MXS_SHM_HDR_SIZE + n * REGION_BYTES_PER_ENTRY + n * REGION_BYTES_PER_ENTRY / 4;
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
	uint64_t ex[MXS_TAB_MAX] = {0};

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -1;
	r->m.fd = -1;
	r->gid = o->gid;
	r->nslots = o->nslots ? o->nslots : MXS_SLOTS_DEFAULT;
	if (r->nslots < MXS_SLOTS_MIN || r->nslots > MXS_SLOTS_MAX) {
		log_warnx("region: %u reader slots is outside %u..%u", r->nslots, MXS_SLOTS_MIN, MXS_SLOTS_MAX);
		errno = EINVAL;
		goto fail;
	}
	r->started = (uint64_t)time(NULL);
	r->membarrier = membarrier_usable();
	do {
		if (getrandom(&r->writer_id, sizeof(r->writer_id), 0) != sizeof(r->writer_id))
			goto fail;
	} while (r->writer_id == 0);
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
	if (names_check(r) != 0)
		goto fail;
	remove_stale(r);
	if (readers_start(o->dir, r->gid, r->nslots, r->writer_id, &r->rd) != 0)
		goto fail;
	ex[MXS_TAB_OVERRIDE] = expect;
	if (map_new(r, size_for(ex, 0), &m) != 0)
		goto fail;
	if (region_adopt(r, &m, ex) != 0)
		goto fail;
	log_info("region: built %s (%llu MiB, %u reader slots per client process)", r->m.tmp,
		 (unsigned long long)(r->size >> 20), r->nslots);
	*out = r;
	return 0;
fail:
	region_free(r, 1);
	return -1;
}

/* Mark the region at path RETIRED, if it is one of ours: a file of ours
 * (0640 from birth: nobody else can write or shrink it under the mapping)
 * with a region's magic.  Anything else under the name is left alone. */
/*
 * Wake every process sleeping on h's generation (mxc_wait_change,
 * mxc_sts_wait).  Shared, not FUTEX_PRIVATE: the waiters are other
 * processes, keyed by the file and offset, so any mapping of the file
 * wakes them.  One system call per publish: cheap with nobody waiting.
 */
static void gen_wake(struct mxc_shm_hdr *h)
{
	(void)syscall(SYS_futex, (uint32_t *)(void *)&h->h_generation + MXS_GEN_FUTEX_WORD, FUTEX_WAKE, INT_MAX,
		      NULL, NULL, 0);
}

static void retire_file(int fd)
{
	struct mxc_shm_hdr *h;
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || st.st_size < MXS_SHM_HDR_SIZE)
		return;
	h = mmap(NULL, MXS_SHM_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return;
	if (h->h_magic == MXS_SHM_MAGIC && h->h_layout == MXS_SHM_LAYOUT) {
		h->h_retired_ms = region_now_ms();
		mxa_store32(&h->h_state, MXS_STATE_RETIRED);
		/* a waiter counts a replaced region as a change: it moves on */
		gen_wake(h);
	} else if (h->h_magic == MXS_SHM_MAGIC) {
		/* another layout: only the fields every layout keeps in place
		 * are ours to touch; its clients see RETIRED, find a region
		 * they cannot read, and say MXC_EVERSION */
		mxa_store32(&h->h_state, MXS_STATE_RETIRED);
		log_warnx("region: retired a region of layout %u; its clients must be restarted", h->h_layout);
	}
	munmap(h, MXS_SHM_HDR_SIZE);
}

int region_disown(const char *dir, const char *shm_dir, uid_t uid)
{
	char prefix[MXS_SHM_PATH_MAX], path[MXS_SHM_PATH_MAX * 2];
	struct dirent *de;
	struct stat st, ds;
	size_t plen;
	DIR *d;
	int fd;

	if (stat(dir, &ds) != 0 || mxc_shm_prefix(prefix, sizeof(prefix), ds.st_dev, ds.st_ino) != 0)
		return -1;
	plen = strlen(prefix);
	d = opendir(shm_dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid == uid)
			continue;
		snprintf(path, sizeof(path), "%s/%s", shm_dir, de->d_name);
		/* a live region of ours (root's) first tells its clients to move */
		if (strcmp(de->d_name + plen, "data") == 0 &&
		    (fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) >= 0) {
			retire_file(fd);
			close(fd);
		}
		if (unlink(path) == 0)
			log_info("region: removed %s (uid %lu): the region is rebuilt as uid %lu", path,
				 (unsigned long)st.st_uid, (unsigned long)uid);
	}
	closedir(d);
	return 0;
}

int region_go_live(struct region *r)
{
	int oldfd;

	region_stamp(r);
	mxa_store32(&r->hdr->h_state, MXS_STATE_LIVE);
	/* open the predecessor before the rename takes its name away */
	oldfd = open(r->data_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
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
	/* the listing from the first moment clients can find the region */
	(void)readers_list_write(r->rd, r->readers_path, r->gid, r->hdr->h_incarnation, r->epoch);
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
	uint64_t ex[MXS_TAB_MAX] = {0}, need, size, t0 = region_now_ms();
	unsigned t;
	int rc = -1;

	need = (uint64_t)r->ar.used_units + extra_units;
	size = size_for(ex, (need << MXS_SHM_UNIT_SHIFT) * 2 + MXS_SHM_HDR_SIZE);
	if (size < r->size * 2)
		size = r->size * 2;
	if (size > MXS_SHM_MAX_SIZE) {
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
	uint64_t need = region_need_units(r, MXS_TAB_OVERRIDE, n, bytes);

	if ((uint64_t)(r->ar.end - r->ar.bump) >= need)
		return 0;
	return region_grow(r, need);
}

void region_stamp(struct region *r)
{
	struct mxc_shm_hdr *h = r->hdr;
	unsigned t;

	h->h_heartbeat_ms = region_now_ms();
	h->h_arena_used = r->ar.used_units << MXS_SHM_UNIT_SHIFT;
	h->h_arena_free = r->ar.free_units << MXS_SHM_UNIT_SHIFT;
	h->h_arena_limbo = r->ar.limbo_units << MXS_SHM_UNIT_SHIFT;
	for (t = 0; t < MXS_TAB_MAX; t++) {
		h->h_count[t] = r->count[t];
		ctr_entries_set(t, r->count[t]);
	}
	ctr_copy(h->h_ctr);
}

void region_publish(struct region *r)
{
	r->hdr->h_last_publish_ms = region_now_ms();
	(void)mxa_inc64(&r->hdr->h_generation);
	gen_wake(r->hdr);
	region_stamp(r);
	/* under a heavy write load do not wait for the tick to reclaim */
	if (r->ar.limbo_units > REGION_LIMBO_EAGER_UNITS)
		region_reclaim(r, 0);
}

void region_tick(struct region *r)
{
	uint64_t now = region_now_ms();
	int sweep = now - r->last_sweep_ms >= LIST_MS;

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
	readers_stop(r->rd);
	/* nobody is registered with a daemon that is gone; the name stays
	 * ours (an empty listing), so nobody else can take it before the
	 * next start */
	if (r->rd != NULL)
		(void)readers_list_write(NULL, r->readers_path, r->gid, 0, 0);
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
