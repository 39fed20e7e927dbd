/*
 * client/map.c - open and close a handle, map and remap the region,
 * and keep the handles right across fork.
 */
#include "internal.h"

/* At most one attempt to map a replacement region per this many ms, on
 * the monotonic clock: a step of the wall clock must not hold it off. */
#define MXC_REMAP_EVERY_MS 100

/*
 * fork: the child must not share its parent's slots or lock descriptions.
 * The open handles are listed so the fork handlers can take every lock a
 * child could inherit held (the list's and each claim mutex) and, in the
 * child, give each handle its own lock description on the reader table.
 * forkgen invalidates the slot references threads keep in their keys.
 */
uint32_t forkgen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mxc *open_list;
static uint64_t handle_ids;            /* atomic: the last handle's id */

static void on_fork_prepare(void)
{
	struct mxc *h;

	pthread_mutex_lock(&open_mu);
	for (h = open_list; h != NULL; h = h->next_open)
		pthread_mutex_lock(&h->claim_mu);
}

static void on_fork_parent(void)
{
	struct mxc *h;

	for (h = open_list; h != NULL; h = h->next_open)
		pthread_mutex_unlock(&h->claim_mu);
	pthread_mutex_unlock(&open_mu);
}

static void on_fork_child(void)
{
	struct mxc *h;

	__atomic_add_fetch(&forkgen, 1, __ATOMIC_SEQ_CST);
	for (h = open_list; h != NULL; h = h->next_open) {
		/* the block and its registration stay the parent's; the
		 * child's first claim makes and registers its own */
		rblock_forked(&h->blk);
		if (h->owned != NULL)
			ck_bitmap_clear(h->owned);
		h->remap_lock = 0;
		h->slotless = 0;
		pthread_mutex_unlock(&h->claim_mu);
	}
	pthread_mutex_unlock(&open_mu);
}

static void fork_init(void)
{
	pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
}

const char *mxc_strerror(int rc)
{
	switch (rc) {
	case MXC_OK: return "found";
	case MXC_NOTFOUND: return "not found";
	case MXC_BACKOFF: return "recent fetch failure (back-off)";
	case MXC_EINVAL: return "not a domain or IP literal, or a bad argument";
	case MXC_ETOOSMALL: return "buffer too small";
	case MXC_ENOREGION: return "no region for this directory (has mxcached ever run for it?)";
	case MXC_EVERSION: return "region made by an incompatible version";
	case MXC_ECORRUPT: return "region failed validation";
	case MXC_EFULL: return "event queue full";
	case MXC_ESYS: return "system error";
	default: return "unknown result code";
	}
}

/*
 * Asymmetric fences (shm/rcu.h): a process registered for both expedited
 * membarrier kinds announces its reads with plain stores in regions whose
 * writer runs MEMBARRIER_CMD_GLOBAL_EXPEDITED; the thread that unmaps a
 * replaced region pairs with this process's readers through
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED instead of their barriers.  ThreadSanitizer
 * cannot see a barrier made by the kernel, so TSan builds keep the xchg.
 */
static int membarrier_register(void)
{
#if defined(MXC_TSAN)
	return 0;
#else
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (q < 0 || !(q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) ||
	    !(q & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
		return 0;
	return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0 &&
	       syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

/* A full barrier on every thread of this process that may be reading
 * with plain-store announcements (a plain fence when none can be).
 * Returns -1 if it could not be had: then nothing may be unmapped. */
static int process_barrier(const struct mxc *h)
{
	mxa_fence_full();
	if (h->membarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		return -1;
	return 0;
}

/* ---- mapping and validation -------------------------------------------- */

int hdr_check(const struct mxc_shm_hdr *hd, uint64_t fsize)
{
	if (hd->h_magic != MXS_SHM_MAGIC)
		return MXC_ECORRUPT;
	if (hd->h_layout != MXS_SHM_LAYOUT || hd->h_abi != MXS_SHM_ABI)
		return MXC_EVERSION;
	if (hd->h_hdr_size != sizeof(*hd) || hd->h_size != fsize || hd->h_incarnation == 0 ||
	    (hd->h_size & (MXS_SHM_UNIT - 1)) != 0)
		return MXC_ECORRUPT;
	return MXC_OK;
}

/* Map the region file at path; full validation.  dir_uid: the owner of
 * the state directory, the only user besides root trusted to own it. */
static int map_open(const char *path, uint64_t dir_uid, struct mxc_map **out)
{
	struct mxc_map *m = NULL;
	struct stat st;
	void *p = MAP_FAILED;
	uint32_t state;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? MXC_ENOREGION : MXC_ESYS;
	if (fstat(fd, &st) != 0) {
		rc = MXC_ESYS;
		goto fail;
	}
	/* a region someone else could have planted or could write cannot be
	 * trusted: it must belong to root or to the state directory's owner
	 * and be writable by its owner alone */
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != 0 && (uint64_t)st.st_uid != dir_uid) ||
	    st.st_size < (off_t)(MXS_SHM_HDR_SIZE + sizeof(struct mxc_shm_root)) ||
	    (uint64_t)st.st_size > MXS_SHM_MAX_SIZE) {
		rc = MXC_ECORRUPT;
		goto fail;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = MXC_ESYS;
		goto fail;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		rc = MXC_ESYS;
		goto fail;
	}
	m->base = p;
	m->size = (uint64_t)st.st_size;
	m->lim = MXS_SHM_HDR_SIZE;
	m->hdr = p;
	rc = hdr_check(m->hdr, m->size);
	if (rc != MXC_OK)
		goto fail;
	/* the validation below reads the root: bound it as a read would */
	m->lim = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_backed);
	if (m->lim > m->size)
		m->lim = m->size;
	state = mxa_load32((uint32_t *)(uintptr_t)&m->hdr->h_state);
	if ((state != MXS_STATE_LIVE && state != MXS_STATE_RETIRED) || map_root(m) == NULL) {
		rc = MXC_ECORRUPT;
		goto fail;
	}
	m->inc = m->hdr->h_incarnation;
	m->flags = m->hdr->h_flags;
	m->writer = m->hdr->h_writer_id;
	close(fd);
	*out = m;
	return MXC_OK;
fail:
	if (p != MAP_FAILED)
		munmap(p, (size_t)st.st_size);
	free(m);
	close(fd);
	return rc;
}

static void map_free(struct mxc_map *m)
{
	munmap(m->base, m->size);
	free(m);
}

/* Unmap retired mappings no thread of this process is inside any more.
 * Caller holds remap_lock. */
static void retired_sweep(struct mxc *h)
{
	struct mxc_map **pp = &h->retired, *m;
	struct ck_bitmap_iterator it;
	unsigned int i;
	int busy;

	if (process_barrier(h) != 0)
		return;
	while ((m = *pp) != NULL) {
		busy = mxa_load64(&h->slotless) != 0;
		if (!busy && h->owned != NULL) {
			ck_bitmap_iterator_init(&it, h->owned);
			while (!busy && ck_bitmap_next(h->owned, &it, &i)) {
				uint64_t w = mxa_load64(&h->blk.slots[i].s_word);
				busy = w != 0 && MXS_SLOT_TAG(w) == (m->inc & 0xffffu);
			}
		}
		if (busy) {
			pp = &m->next;
			continue;
		}
		/* the struct stays: a thread may still hold the pointer
		 * between loading h->cur and announcing (read_begin) */
		*pp = m->next;
		munmap(m->base, m->size);
		m->base = NULL;
		m->next = h->dead;
		h->dead = m;
		mxa_store32(&h->nretired, mxa_load32(&h->nretired) - 1);
	}
}

/* The region was retired: map its replacement.  Never waits: a thread
 * that loses the try-lock keeps reading the old, still valid mapping. */
void remap(struct mxc *h, struct mxc_map *old)
{
	struct mxc_map *m;
	uint64_t now = mono_coarse_ms();
	int rc;

	if (now < __atomic_load_n(&h->next_remap_ms, __ATOMIC_RELAXED) || !mxa_cas32(&h->remap_lock, 0, 1))
		return;
	__atomic_store_n(&h->next_remap_ms, now + MXC_REMAP_EVERY_MS, __ATOMIC_RELAXED);
	rc = __atomic_load_n(&h->cur, __ATOMIC_ACQUIRE) == old ? map_open(h->data_path, h->dir_uid, &m) : MXC_ESYS;
	if (rc == MXC_EVERSION) {
		/* the daemon was upgraded to another layout: say so, rather
		 * than answer from a region nobody updates any more */
		__atomic_store_n(&h->fatal, MXC_EVERSION, __ATOMIC_RELEASE);
	} else if (rc == MXC_OK) {
		if (m->inc == old->inc) {
			map_free(m);
		} else {
			old->next = h->retired;
			h->retired = old;
			mxa_store32(&h->nretired, mxa_load32(&h->nretired) + 1);
			__atomic_store_n(&h->cur, m, __ATOMIC_RELEASE);
		}
	}
	retired_sweep(h);
	mxa_store32(&h->remap_lock, 0);
}

/* Unmap what no thread is inside any more.  Touches no mapping. */
void map_maintain(struct mxc *h)
{
	if (__builtin_expect(mxa_load32(&h->nretired) != 0, 0) && mxa_cas32(&h->remap_lock, 0, 1)) {
		retired_sweep(h);
		mxa_store32(&h->remap_lock, 0);
	}
}

/* ---- open / close -------------------------------------------------------- */

int mxc_open(const char *dir, mxc_t **out)
{
	struct mxc *h = NULL;
	struct stat st;
	const char *shm = mxc_shm_dir();
	char abs[PATH_MAX];
	int rc;

	if (out == NULL)
		return MXC_EINVAL;
	if (dir == NULL)
		dir = getenv("MXCACHE_DIR");
	if (dir == NULL || dir[0] == '\0')
		dir = MXC_DEFAULT_DIR;
	pthread_once(&fork_once, fork_init);
	if (stat(dir, &st) != 0)
		return errno == ENOENT ? MXC_ENOREGION : MXC_ESYS;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return MXC_ESYS;
	/* the socket by absolute path: re-registering must not depend on
	 * the working directory the process has by then */
	(void)rblock_init(&h->blk, realpath(dir, abs) != NULL ? abs : dir);
	if (mxc_shm_path(h->data_path, sizeof(h->data_path), shm, st.st_dev, st.st_ino, "data") != 0 ||
	    mxc_shm_path(h->readers_path, sizeof(h->readers_path), shm, st.st_dev, st.st_ino, "readers") != 0) {
		free(h);
		errno = ENAMETOOLONG;
		return MXC_ESYS;
	}
	h->dir_uid = (uint64_t)st.st_uid;
	h->id = __atomic_add_fetch(&handle_ids, 1, __ATOMIC_RELAXED);
	h->membarrier = membarrier_register();
	rc = map_open(h->data_path, h->dir_uid, &h->cur);
	if (rc != MXC_OK) {
		free(h);
		return rc;
	}
	if (pthread_key_create(&h->key, slot_thread_exit) != 0) {
		map_free(h->cur);
		free(h);
		return MXC_ESYS;
	}
	pthread_mutex_init(&h->claim_mu, NULL);
	if (getrandom(&h->owner, sizeof(h->owner), 0) != sizeof(h->owner))
		h->owner = (uint64_t)(uintptr_t)h ^ (uint64_t)getpid();
	h->owned = calloc(1, ck_bitmap_size(MXS_SLOTS_MAX));
	h->refs = calloc(MXS_SLOTS_MAX, sizeof(*h->refs));
	if (h->owned == NULL || h->refs == NULL) {
		free(h->owned);
		free(h->refs);
		h->owned = NULL;
		h->refs = NULL;   /* slotless */
	} else {
		ck_bitmap_init(h->owned, MXS_SLOTS_MAX, false);
		/* the block now, so that the first lookup already has its
		 * slot scanned; if this fails, the first claim tries again */
		pthread_mutex_lock(&h->claim_mu);
		(void)block_make(h, RBLOCK_WAIT_MS);
		pthread_mutex_unlock(&h->claim_mu);
	}
	pthread_mutex_lock(&open_mu);
	h->next_open = open_list;
	open_list = h;
	pthread_mutex_unlock(&open_mu);
	*out = h;
	return MXC_OK;
}

void mxc_close(mxc_t *h)
{
	struct ck_bitmap_iterator it;
	struct mxc_map *m, *n;
	struct mxc **pp;
	unsigned int i;

	if (h == NULL)
		return;
	pthread_key_delete(h->key);
	pthread_mutex_lock(&open_mu);
	for (pp = &open_list; *pp != NULL; pp = &(*pp)->next_open)
		if (*pp == h) {
			*pp = h->next_open;
			break;
		}
	pthread_mutex_unlock(&open_mu);
	if (h->owned != NULL) {
		ck_bitmap_iterator_init(&it, h->owned);
		while (ck_bitmap_next(h->owned, &it, &i))
			slot_release(h, i);
	}
	for (m = h->retired; m != NULL; m = n) {
		n = m->next;
		map_free(m);
	}
	for (m = h->dead; m != NULL; m = n) {
		n = m->next;
		free(m);
	}
	map_free(h->cur);
	/* events still in the rings reach a daemon, if one answers */
	rblock_flush(&h->blk);
	rblock_destroy(&h->blk);
	pthread_mutex_destroy(&h->claim_mu);
	free(h->owned);
	free(h->refs);
	free(h);
}
