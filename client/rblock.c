/*
 * client/rblock.c - this process's reader block and its registration.
 *
 * The block is a memfd only this process and the daemon map: the slots
 * in which this process's threads announce their lookups and the rings in
 * which they post events (shm/readers.h says why it is not a shared
 * file).  It is sealed before anyone else sees it, so its size can never
 * change under the daemon's mapping, and it is handed over with
 * SCM_RIGHTS on a connection that stays open: the daemon scans the block
 * while the connection lives.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../shm/atomic.h"
#include "../shm/clock.h"
#include "rblock.h"

int rblock_init(struct rblock *b, const char *dir)
{
	memset(b, 0, sizeof(*b));
	b->memfd = -1;
	b->regfd = -1;
	if (snprintf(b->sock, sizeof(b->sock), "%s/%s", dir, MXS_READERS_SOCK) >= (int)sizeof(b->sock)) {
		b->sock[0] = '\0';
		return -1;
	}
	return 0;
}

int rblock_create(struct rblock *b, uint32_t nslots)
{
	uint64_t so, ro, size;
	void *p;
	int fd, e;

	size = mxc_rblock_geometry(nslots, &so, &ro);
	fd = memfd_create("mxcache-readers", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) != 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	/* sealed before it leaves the process: nobody can shrink or grow it
	 * from now on, this process included */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		e = errno;
		munmap(p, size);
		errno = e;
		goto fail;
	}
	b->memfd = fd;
	b->base = p;
	b->size = size;
	b->nslots = nslots;
	b->hdr = p;
	b->slots = (struct mxc_shm_slot *)(void *)((uint8_t *)p + so);
	b->rings = (struct mxc_shm_ering *)(void *)((uint8_t *)p + ro);
	b->hdr->rb_magic = MXS_SHM_RMAGIC;
	b->hdr->rb_layout = MXS_SHM_RLAYOUT;
	b->hdr->rb_nslots = nslots;
	/* rings are set up as their slots are first claimed: a page each,
	 * touched only if a thread needs it */
	return 0;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Is the daemon we registered with still at the other end? */
static int still_connected(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };

	return poll(&pf, 1, 0) == 0;
}

/* One registration: connect, send the request with the block, read the
 * answer.  Returns the writer id, or 0. */
static uint64_t register_once(struct rblock *b, int *out_fd, unsigned wait_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct timeval tv = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000 };
	struct sockaddr_un sun;
	struct mxc_reg_req rq;
	struct mxc_reg_ans ra;
	struct iovec iov = { &rq, sizeof(rq) };
	struct msghdr msg;
	struct cmsghdr *c;
	int s;

	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, b->sock, sizeof(sun.sun_path));
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		goto fail;
	memset(&rq, 0, sizeof(rq));
	rq.rq_magic = MXS_REG_MAGIC;
	rq.rq_layout = MXS_SHM_RLAYOUT;
	rq.rq_nslots = b->nslots;
	memset(&msg, 0, sizeof(msg));
	memset(&cb, 0, sizeof(cb));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cb.buf;
	msg.msg_controllen = sizeof(cb.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &b->memfd, sizeof(int));
	if (sendmsg(s, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(rq))
		goto fail;
	if (recv(s, &ra, sizeof(ra), 0) != (ssize_t)sizeof(ra) || ra.ra_magic != MXS_REG_MAGIC ||
	    ra.ra_error != 0 || ra.ra_writer_id == 0)
		goto fail;
	*out_fd = s;
	return ra.ra_writer_id;
fail:
	close(s);
	return 0;
}

void rblock_register(struct rblock *b, unsigned wait_ms)
{
	uint64_t now = mono_coarse_ms(), w;
	int fd = -1;

	if (b->memfd < 0 || b->sock[0] == '\0' || now < __atomic_load_n(&b->next_try_ms, __ATOMIC_RELAXED) ||
	    !mxa_cas32(&b->lock, 0, 1))
		return;
	__atomic_store_n(&b->next_try_ms, now + RBLOCK_RETRY_MS, __ATOMIC_RELAXED);
	/*
	 * Registered with a daemon that still holds the connection: that
	 * daemon's scan covers us, and a second registration would give the
	 * rings two consumers.  Only once it has let go (it stopped or died)
	 * does the block go to whoever answers now.
	 */
	if (b->regfd >= 0 && still_connected(b->regfd))
		goto out;
	w = register_once(b, &fd, wait_ms);
	if (w != 0) {
		if (b->regfd >= 0)
			close(b->regfd);
		b->regfd = fd;
		__atomic_store_n(&b->writer, w, __ATOMIC_RELEASE);
	}
out:
	mxa_store32(&b->lock, 0);
}

void rblock_ring_slow(struct rblock *b)
{
	static const char bell = 'b';

	/*
	 * The registration's try-lock keeps regfd from being closed and its
	 * number reused under the send.  Held by another thread (ringing,
	 * or registering the block anew), this post rings nobody: the ring
	 * of the thread that holds it wakes the daemon (which looks at every
	 * ring again before it sleeps), or the daemon finds the post at its
	 * next periodic wake, within a second.  Only the thread
	 * that swaps the doorbell back to 0 rings: one byte per sleep.
	 */
	if (!mxa_cas32(&b->lock, 0, 1))
		return;
	if (b->regfd >= 0 && mxa_cas32(&b->hdr->rb_doorbell, MXS_RB_DOORBELL_ARMED, 0))
		(void)send(b->regfd, &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL);   /* EAGAIN: one is waiting */
	mxa_store32(&b->lock, 0);
}

/* Do the rings hold records no daemon has taken? */
static int rblock_pending(const struct rblock *b)
{
	uint32_t i;

	for (i = 0; i < b->nslots; i++)
		if ((b->hdr->rb_used[i / 64] >> (i % 64) & 1) &&
		    mxc_ering_pending(&b->rings[i]))
			return 1;
	return 0;
}

void rblock_flush(struct rblock *b)
{
	if (b->base == NULL || !rblock_pending(b))
		return;
	__atomic_store_n(&b->next_try_ms, 0, __ATOMIC_RELAXED);
	rblock_register(b, RBLOCK_WAIT_MS);
}

void rblock_forked(struct rblock *b)
{
	if (b->regfd >= 0)
		close(b->regfd);
	if (b->memfd >= 0)
		close(b->memfd);
	if (b->orphan != NULL)
		munmap(b->orphan, b->orphan_size);
	b->orphan = NULL;
	if (b->base != NULL &&
	    mmap(b->base, b->size, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
		b->orphan = b->base;
		b->orphan_size = b->size;
	} else if (b->base != NULL) {
		munmap(b->base, b->size);
	}
	b->regfd = -1;
	b->memfd = -1;
	b->base = NULL;
	b->hdr = NULL;
	b->slots = NULL;
	b->rings = NULL;
	b->lock = 0;
	b->next_try_ms = 0;
	__atomic_store_n(&b->writer, 0, __ATOMIC_RELEASE);
}

void rblock_destroy(struct rblock *b)
{
	if (b->regfd >= 0)
		close(b->regfd);
	if (b->memfd >= 0)
		close(b->memfd);
	if (b->base != NULL)
		munmap(b->base, b->size);
	if (b->orphan != NULL)
		munmap(b->orphan, b->orphan_size);
	memset(b, 0, sizeof(*b));
	b->memfd = -1;
	b->regfd = -1;
}

void rblock_claim_bit(struct rblock *b, uint32_t i, int on)
{
	uint64_t bit = 1ull << (i % 64);

	/* a ring is set up once, at its slot's first claim: later owners
	 * inherit it with whatever the daemon has not taken yet */
	if (on && !mxc_ering_sane(&b->rings[i]))
		mxc_ering_init(&b->rings[i]);
	if (on)
		__atomic_fetch_or(&b->hdr->rb_used[i / 64], bit, __ATOMIC_SEQ_CST);

	if (on)
		__atomic_fetch_or(&b->hdr->rb_claimed[i / 64], bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&b->hdr->rb_claimed[i / 64], ~bit, __ATOMIC_SEQ_CST);
}

int rblock_list_read(const char *path, uid_t trust_uid, struct mxc_shm_rlist *hd, struct mxc_shm_rent *ent,
		     uint32_t max, uint32_t *n)
{
	struct stat st;
	ssize_t got;
	size_t want;
	int fd;

	if (n != NULL)
		*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != trust_uid) ||
	    pread(fd, hd, sizeof(*hd), 0) != (ssize_t)sizeof(*hd) || hd->rl_magic != MXS_SHM_RMAGIC ||
	    hd->rl_layout != MXS_SHM_RLAYOUT || hd->rl_abi != MXS_SHM_ABI || hd->rl_nent > MXS_LIST_MAX) {
		close(fd);
		errno = EPERM;      /* not a listing mxcached wrote */
		return -1;
	}
	if (ent != NULL && n != NULL) {
		want = (size_t)(hd->rl_nent < max ? hd->rl_nent : max) * sizeof(*ent);
		got = pread(fd, ent, want, sizeof(*hd));
		*n = got > 0 ? (uint32_t)((size_t)got / sizeof(*ent)) : 0;
	}
	close(fd);
	return 0;
}
