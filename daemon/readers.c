/*
 * daemon/readers.c - reader blocks: registration, the listener, the
 * intake, start and stop (the scan, the drain and the listing are in
 * readers_scan.c).
 *
 * Each client process hands its reader block (a sealed memfd, see
 * shm/readers.h for why) to the daemon over DIR/readers.sock and keeps
 * the connection open.  A listener thread takes registrations and watches
 * the connections; the writer scans the live blocks' slots in its grace
 * periods; the event thread drains their rings.  The registry is one
 * array of pointers under one mutex: only the listener changes it, the
 * others read it while holding the mutex.
 *
 * Requests are taken by an intake thread of their own, never by the
 * listener: a descriptor a client hands over can make closing it block
 * (the last close of a TCP socket lingering on a full queue, a file of a
 * FUSE server that never answers), and whatever the intake waits on, the
 * listener still notices departures, reaps blocks and stops on time.
 *
 * A block is trusted for nothing but its size, which the seals fix and
 * which is checked before it is mapped.  Offsets inside it come from the
 * slot count given at registration, never from the block, so no value a
 * client writes can make the daemon touch memory outside the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <time.h>
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

/* ---- registration ----------------------------------------------------------- */

static void answer(int sock, int err, uint64_t writer_id)
{
	struct mxc_reg_ans a;

	memset(&a, 0, sizeof(a));
	a.ra_magic = MXS_REG_MAGIC;
	a.ra_error = err;
	a.ra_writer_id = err == 0 ? writer_id : 0;
	(void)send(sock, &a, sizeof(a), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void refuse(struct pending *pd, int err, const char *why)
{
	answer(pd->sock, err, 0);
	close(pd->sock);
	pd->sock = -1;
	ctr_limit(MXS_CTR_READERS_REFUSED, "readers: refused the reader block of pid %u (uid %u): %s", pd->pid,
		  pd->uid, why);
}

/* Is fd a block we can map without ever faulting: a sealed tmpfs memfd,
 * writable, of exactly the size nslots implies?  Returns NULL or why not. */
static const char *block_check(int fd, uint32_t nslots, uint64_t *size)
{
	uint64_t so, ro;
	struct statfs sfs;
	struct stat st;
	int seals, fl;

	*size = mxc_rblock_geometry(nslots, &so, &ro);
	/* seals first: only shmem and hugetlbfs files have them, and asking
	 * goes to no file system server (a FUSE server could stall fstat) */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & SEALS_NEEDED) != SEALS_NEEDED || (seals & SEALS_REFUSED) != 0)
		return "not sealed against shrinking and growing";
	if (fstatfs(fd, &sfs) != 0 || sfs.f_type != TMPFS_MAGIC_)
		return "not a memfd on tmpfs";
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		return "not open for reading and writing";
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != *size)
		return "not of the size its slot count implies";
	return NULL;
}

/* Let go of a descriptor a client handed over.  A socket is reset rather
 * than left to linger; anything else may still take its time, which is
 * why only the intake thread gets here. */
static void discard(int fd)
{
	struct linger lg = { 1, 0 };

	if (fcntl(fd, F_GET_SEALS) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* A user's registrations, those of processes gone included until their
 * blocks are freed: registering and leaving at once cannot fill the
 * registry.  Under rd->mu. */
static uint32_t procs_of_uid(const struct readers *rd, uint32_t uid)
{
	uint32_t i, n = 0;

	for (i = 0; i < rd->nprocs; i++)
		n += rd->procs[i]->uid == uid;
	return n;
}

/* A pending connection is readable: take its request.  Returns 1 when it
 * is settled (registered or refused), 0 to keep waiting. */
static int take_request(struct readers *rd, struct pending *pd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cb;
	struct mxc_reg_req rq;
	struct iovec iov = { &rq, sizeof(rq) };
	struct msghdr msg;
	struct cmsghdr *c;
	struct rproc *p;
	int fds[4], nfd = 0, fd = -1, i;
	const char *why = NULL;
	uint64_t size = 0, so, ro;
	ssize_t n;
	void *map;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cb.buf;
	msg.msg_controllen = sizeof(cb.buf);
	n = recvmsg(pd->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; (size_t)i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfd < 4; i++)
			memcpy(&fds[nfd++], CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof(int));
	}
	if (nfd == 1)
		fd = fds[0];
	else
		for (i = 0; i < nfd; i++)
			discard(fds[i]);
	if (n != (ssize_t)sizeof(rq) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fd < 0)
		why = "not a registration (one request with one descriptor)";
	else if (rq.rq_magic != MXS_REG_MAGIC || rq.rq_layout != MXS_SHM_RLAYOUT)
		why = "a registration of another layout";
	else if (rq.rq_nslots != rd->nslots)
		why = "a slot count other than the region's (h_nslots)";
	else
		why = block_check(fd, rq.rq_nslots, &size);
	pthread_mutex_lock(&rd->mu);
	if (why == NULL && rd->nprocs >= READERS_MAX)
		why = "too many client processes (" "4096" ")";
	if (why == NULL && procs_of_uid(rd, pd->uid) >= READERS_PER_UID_MAX)
		why = "too many client processes of this user (1024)";
	pthread_mutex_unlock(&rd->mu);
	if (why != NULL) {
		if (fd >= 0)
			discard(fd);
		refuse(pd, strncmp(why, "too many", 8) == 0 ? EUSERS : EINVAL, why);
		return 1;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	p = map == MAP_FAILED ? NULL : calloc(1, sizeof(*p));
	if (p == NULL) {
		if (map != MAP_FAILED)
			munmap(map, size);
		log_warn("readers: cannot map the block of pid %u", pd->pid);
		answer(pd->sock, ENOMEM, 0);
		close(pd->sock);
		pd->sock = -1;
		return 1;
	}
	(void)mxc_rblock_geometry(rq.rq_nslots, &so, &ro);
	p->sock = pd->sock;
	p->base = map;
	p->size = size;
	p->nslots = rq.rq_nslots;
	p->pid = pd->pid;
	p->uid = pd->uid;
	p->serial = ++rd->next_serial;
	p->blk = map;
	p->slots = (struct mxc_shm_slot *)(void *)((uint8_t *)map + so);
	p->rings = (struct mxc_shm_ering *)(void *)((uint8_t *)map + ro);
	log_debug("readers: pid %u (uid %u) registers %u slots", p->pid, p->uid, p->nslots);
	/*
	 * Scanned from the moment it is in the registry, and only then may
	 * the client announce reads: answer after adding it.  Once there, p
	 * and its descriptor are the listener's, which may see the peer go
	 * and close them; the answer (a send that never waits) goes out with
	 * the lock still held, so the descriptor is still this connection's.
	 * The doorbell is armed whether or not the event thread sleeps: the
	 * client's first post rings at most once for nothing.  The events
	 * it posted before registering are taken now.
	 */
	mxa_store32(&p->blk->rb_doorbell, MXS_RB_DOORBELL_ARMED);
	pthread_mutex_lock(&rd->mu);
	rd->procs[rd->nprocs++] = p;
	answer(pd->sock, 0, rd->writer_id);
	pthread_mutex_unlock(&rd->mu);
	pd->sock = -1;
	readers_bell(rd);
	return 1;
}

static uint32_t pending_of_uid(const struct readers *rd, uint32_t uid)
{
	uint32_t i, n = 0;

	for (i = 0; i < rd->npend; i++)
		n += rd->pend[i].uid == uid;
	return n;
}

static void accept_some(struct readers *rd)
{
	struct ucred cr;
	socklen_t len;
	int k, s;

	for (k = 0; k < READERS_ACCEPT_BURST; k++) {
		s = accept4(rd->lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (s < 0) {
			/* the connection stays queued and the socket readable:
			 * polling it again at once would only spin */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				rd->accept_paused_until = mono_ms() + READERS_EMFILE_PAUSE_MS;
				log_warn("readers: accept (paused for %d ms)", READERS_EMFILE_PAUSE_MS);
			}
			return;
		}
		len = sizeof(cr);
		/* a user who connects and says nothing holds few places,
		 * so others still get theirs */
		if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || rd->npend >= READERS_PENDING_MAX ||
		    pending_of_uid(rd, (uint32_t)cr.uid) >= READERS_PENDING_UID) {
			answer(s, EUSERS, 0);
			close(s);
			ctr_limit(MXS_CTR_READERS_REFUSED,
				  "readers: registrations waiting for their request: %d of one user, or %d in all; "
				  "refusing more", READERS_PENDING_UID, READERS_PENDING_MAX);
			continue;
		}
		rd->pend[rd->npend].sock = s;
		rd->pend[rd->npend].pid = (uint32_t)cr.pid;
		rd->pend[rd->npend].uid = (uint32_t)cr.uid;
		rd->pend[rd->npend].deadline_ms = mono_ms() + READERS_REQ_WAIT_MS;
		rd->npend++;
	}
}

/* ---- departures ---------------------------------------------------------------- */

static void proc_dead(struct readers *rd, struct rproc *p)
{
	pthread_mutex_lock(&rd->mu);
	p->dead = 1;
	p->gone_ms = mono_ms();
	pthread_mutex_unlock(&rd->mu);
	close(p->sock);
	p->sock = -1;
}

static void proc_free(struct readers *rd, struct rproc *p)
{
	uint32_t i, claimed = 0;
	uint64_t cl[MXS_RBLOCK_WORDS];

	claimed_copy(p, cl);
	for (i = 0; i < MXS_RBLOCK_WORDS; i++)
		claimed += (uint32_t)__builtin_popcountll(cl[i]);
	used_copy(p, cl);
	while (next_bit(cl, &i)) {
		rd->gone_posted += mxa_load64(&p->rings[i].er_posted);
		rd->gone_dropped += mxa_load64(&p->rings[i].er_dropped);
	}
	if (p->dead) {
		rd->gone_procs++;
		rd->gone_slots += claimed;
	}
	munmap(p->base, p->size);
	if (p->sock >= 0)
		close(p->sock);
	free(p);
}

/* Has a gone process left no event behind? */
static int rings_empty(const struct rproc *p)
{
	uint64_t used[MXS_RBLOCK_WORDS];
	uint32_t s;

	used_copy(p, used);
	while (next_bit(used, &s))
		if (mxc_ering_pending(&p->rings[s]))
			return 0;
	return 1;
}

/* Unmap the blocks of gone processes whose last events were taken (or
 * that left none, or waited long enough), and say so in one line per
 * READERS_LOG_MS. */
static void reap(struct readers *rd, int all)
{
	uint64_t now = mono_ms();
	uint32_t i, j;

	pthread_mutex_lock(&rd->mu);
	for (i = j = 0; i < rd->nprocs; i++) {
		struct rproc *p = rd->procs[i];

		if (all || (p->dead && (p->drained || rings_empty(p) || now - p->gone_ms >= READERS_DEAD_KEEP_MS)))
			proc_free(rd, p);
		else
			rd->procs[j++] = p;
	}
	rd->nprocs = j;
	pthread_mutex_unlock(&rd->mu);
	if (rd->gone_procs != 0 && (all || now - rd->gone_logged_ms >= READERS_LOG_MS)) {
		log_info("readers: %u client processes gone, %u reader slots freed", rd->gone_procs, rd->gone_slots);
		rd->gone_procs = 0;
		rd->gone_slots = 0;
		rd->gone_logged_ms = now;
	}
}

/* ---- the intake thread --------------------------------------------------------------- */

/* The listener saw a request arrive: hand the connection over.  Returns
 * 0, or -1 when the intake is stuck (the caller closes it). */
static int intake_push(struct readers *rd, const struct pending *pd)
{
	int rc = -1;

	pthread_mutex_lock(&rd->in_mu);
	if (rd->in_n < READERS_INTAKE_MAX) {
		rd->inq[(rd->in_head + rd->in_n++) % READERS_INTAKE_MAX] = *pd;
		pthread_cond_signal(&rd->in_cv);
		rc = 0;
	}
	pthread_mutex_unlock(&rd->in_mu);
	return rc;
}

static void *intake(void *arg)
{
	struct readers *rd = arg;
	struct pending pd;

	pthread_setname_np(pthread_self(), "readers-intake");
	for (;;) {
		pthread_mutex_lock(&rd->in_mu);
		while (rd->in_n == 0 && !rd->in_stop)
			pthread_cond_wait(&rd->in_cv, &rd->in_mu);
		if (rd->in_stop) {
			pthread_mutex_unlock(&rd->in_mu);
			return NULL;
		}
		pd = rd->inq[rd->in_head];
		rd->in_head = (rd->in_head + 1) % READERS_INTAKE_MAX;
		rd->in_n--;
		pthread_mutex_unlock(&rd->in_mu);
		/* readable when handed over: a request, or the peer gone */
		if (!take_request(rd, &pd))
			close(pd.sock);
	}
}

/* Stop the intake thread: 0 once joined, -1 if it is stuck on someone's
 * descriptor after READERS_INTAKE_JOIN_MS (it is then left running). */
static int intake_stop(struct readers *rd)
{
	struct timespec ts;

	pthread_mutex_lock(&rd->in_mu);
	rd->in_stop = 1;
	pthread_cond_broadcast(&rd->in_cv);
	pthread_mutex_unlock(&rd->in_mu);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += READERS_INTAKE_JOIN_MS / 1000;
	if (pthread_timedjoin_np(rd->in_thr, NULL, &ts) == 0)
		return 0;
	log_warnx("readers: the intake thread is stuck on a client's descriptor; leaving it");
	pthread_detach(rd->in_thr);
	return -1;
}

/* ---- the listener thread ------------------------------------------------------------ */

/*
 * A registered connection is readable: doorbells (shm/readers.h), or the
 * process let go of its block (end of file, an empty message, an error).
 * At most READERS_BELL_READS one-byte messages in one call; the rest of a
 * longer message is discarded by the socket.  Returns 1 (rang), 0
 * (nothing after all) or -1 (gone).
 */
static int bell_read(int sock)
{
	struct mmsghdr mm[READERS_BELL_READS];
	struct iovec iov[READERS_BELL_READS];
	char sink[READERS_BELL_READS];
	int i, n;

	memset(mm, 0, sizeof(mm));
	for (i = 0; i < READERS_BELL_READS; i++) {
		iov[i].iov_base = &sink[i];
		iov[i].iov_len = 1;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(sock, mm, READERS_BELL_READS, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++)
		if (mm[i].msg_len == 0)
			return -1;
	return n > 0 ? 1 : -1;
}

static void *listener(void *arg)
{
	struct readers *rd = arg;
	struct pollfd *pf;
	struct rproc **who;
	uint32_t n, i, k, np, npend;
	uint64_t now;
	int timeout, rang, r;

	pthread_setname_np(pthread_self(), "readers");
	pf = calloc(2 + READERS_PENDING_MAX + READERS_MAX, sizeof(*pf));
	who = calloc(READERS_MAX, sizeof(*who));
	if (pf == NULL || who == NULL) {
		log_warnx("readers: out of memory: no client can register a reader block");
		free(pf);
		free(who);
		return NULL;
	}
	for (;;) {
		pf[0].fd = rd->wake[0];
		pf[0].events = POLLIN;
		now = mono_ms();
		pf[1].fd = now >= rd->accept_paused_until ? rd->lsock : -1;
		pf[1].events = POLLIN;
		n = 2;
		timeout = 1000;
		for (i = 0; i < rd->npend; i++) {
			pf[n].fd = rd->pend[i].sock;
			pf[n++].events = POLLIN;
			if (rd->pend[i].deadline_ms <= now)
				timeout = 0;
			else if ((int)(rd->pend[i].deadline_ms - now) < timeout)
				timeout = (int)(rd->pend[i].deadline_ms - now);
		}
		npend = rd->npend;
		/* the intake adds to the registry, only this thread removes
		 * (reap): the pointers stay valid until this thread frees them */
		pthread_mutex_lock(&rd->mu);
		for (i = np = 0; i < rd->nprocs; i++) {
			struct rproc *p = rd->procs[i];

			if (p->dead)
				continue;
			who[np++] = p;
			pf[n].fd = p->sock;
			/* a connection that just rang is read again only after
			 * a pause; its end (POLLHUP) is noticed at once */
			pf[n++].events = p->bell_quiet_ms <= now ? POLLIN : 0;
			if (p->bell_quiet_ms > now && (int)(p->bell_quiet_ms - now) < timeout)
				timeout = (int)(p->bell_quiet_ms - now);
		}
		pthread_mutex_unlock(&rd->mu);
		if (poll(pf, n, timeout) < 0 && errno != EINTR) {
			log_warn("readers: poll");
			sleep(1);
			continue;
		}
		if (pf[0].revents != 0)
			break;
		now = mono_ms();
		for (i = 0; i < npend; i++) {
			struct pending *pd = &rd->pend[i];

			if (pf[2 + i].revents != 0) {
				if (intake_push(rd, pd) != 0) {
					close(pd->sock);
					ctr_limit(MXS_CTR_READERS_REFUSED,
						  "readers: %d registrations wait for the intake; refusing more",
						  READERS_INTAKE_MAX);
				}
				pd->sock = -1;
			}
			if (pd->sock >= 0 && pd->deadline_ms <= now) {
				close(pd->sock);
				pd->sock = -1;
			}
		}
		for (i = k = 0; i < rd->npend; i++)
			if (rd->pend[i].sock >= 0)
				rd->pend[k++] = rd->pend[i];
		rd->npend = k;
		for (i = rang = 0; i < np; i++) {
			/* a registered client sends only doorbells; the events a
			 * process that went left behind are taken at once too */
			if (pf[2 + npend + i].revents == 0)
				continue;
			r = bell_read(who[i]->sock);
			if (r > 0)
				who[i]->bell_quiet_ms = now + READERS_BELL_QUIET_MS;
			if (r < 0)
				proc_dead(rd, who[i]);
			else if (r > 0)
				/* a ring can meet the event thread awake for its
				 * periodic work: it drains then, and sleeps again */
				log_debug("readers: pid %u rang the doorbell%s", who[i]->pid,
					  __atomic_load_n(&rd->resting, __ATOMIC_RELAXED) ? ""
											: " (events thread awake)");
			rang |= r != 0;
		}
		if (rang)
			readers_bell(rd);
		if (pf[1].revents != 0)
			accept_some(rd);
		reap(rd, 0);
	}
	free(pf);
	free(who);
	return NULL;
}

/* ---- start / stop -------------------------------------------------------------------- */

/* Is someone answering on the socket path?  Then it is not ours to take. */
static int sock_in_use(const struct sockaddr_un *sun)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), rc;

	if (s < 0)
		return 0;
	rc = connect(s, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(s);
	return rc;
}

int readers_start(const char *dir, gid_t gid, uint32_t nslots, uint64_t writer_id, struct readers **out)
{
	struct sockaddr_un sun;
	struct readers *rd;
	struct stat sb;

	rd = calloc(1, sizeof(*rd));
	if (rd == NULL)
		return -1;
	rd->lsock = -1;
	rd->wake[0] = rd->wake[1] = -1;
	rd->bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rd->bell < 0) {
		free(rd);
		return -1;
	}
	rd->nslots = nslots;
	rd->writer_id = writer_id;
	pthread_mutex_init(&rd->mu, NULL);
	pthread_mutex_init(&rd->drain_mu, NULL);
	pthread_mutex_init(&rd->in_mu, NULL);
	pthread_cond_init(&rd->in_cv, NULL);
	rd->taken = calloc(READERS_DRAIN_MAX, sizeof(*rd->taken));
	if (rd->taken == NULL)
		goto fail;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, MXS_READERS_SOCK) >=
	    (int)sizeof(sun.sun_path)) {
		log_warnx("readers: %s/%s: path too long for a socket", dir, MXS_READERS_SOCK);
		errno = ENAMETOOLONG;
		goto fail;
	}
	snprintf(rd->path, sizeof(rd->path), "%s", sun.sun_path);
	if (lstat(sun.sun_path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			log_warnx("readers: %s exists and is not a socket; remove it", sun.sun_path);
			errno = EEXIST;
			goto fail;
		}
		if (sock_in_use(&sun)) {
			log_warnx("readers: another daemon answers on %s", sun.sun_path);
			errno = EADDRINUSE;
			goto fail;
		}
		unlink(sun.sun_path);
	}
	rd->lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (rd->lsock < 0 || bind(rd->lsock, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		log_warn("readers: %s", sun.sun_path);
		goto fail;
	}
	/* the region's group registers; others cannot even connect */
	if ((gid != (gid_t)-1 && chown(sun.sun_path, (uid_t)-1, gid) != 0) || chmod(sun.sun_path, 0660) != 0 ||
	    listen(rd->lsock, 128) != 0) {
		log_warn("readers: %s", sun.sun_path);
		unlink(sun.sun_path);
		goto fail;
	}
	if (pthread_create(&rd->in_thr, NULL, intake, rd) != 0) {
		log_warnx("readers: cannot start the intake thread");
		unlink(sun.sun_path);
		goto fail;
	}
	rd->in_started = 1;
	if (pipe2(rd->wake, O_CLOEXEC) != 0 || pthread_create(&rd->thr, NULL, listener, rd) != 0) {
		log_warn("readers: cannot start the listener");
		unlink(sun.sun_path);
		goto fail;
	}
	rd->thr_started = 1;
	*out = rd;
	return 0;
fail:
	if (rd->in_started)
		(void)intake_stop(rd);
	if (rd->lsock >= 0)
		close(rd->lsock);
	if (rd->wake[0] >= 0) {
		close(rd->wake[0]);
		close(rd->wake[1]);
	}
	close(rd->bell);
	pthread_mutex_destroy(&rd->mu);
	pthread_mutex_destroy(&rd->drain_mu);
	pthread_mutex_destroy(&rd->in_mu);
	pthread_cond_destroy(&rd->in_cv);
	free(rd->taken);
	free(rd);
	return -1;
}

void readers_stop(struct readers *rd)
{
	uint32_t i;
	int stuck;

	if (rd == NULL)
		return;
	if (rd->thr_started) {
		(void)!write(rd->wake[1], "x", 1);
		pthread_join(rd->thr, NULL);
	}
	stuck = intake_stop(rd) != 0;
	unlink(rd->path);
	close(rd->lsock);
	close(rd->wake[0]);
	close(rd->wake[1]);
	close(rd->bell);
	for (i = 0; i < rd->npend; i++)
		close(rd->pend[i].sock);
	/* the rings' taken records were wiped as they were taken; what is
	 * left is the clients' own, in memory only they and we map */
	reap(rd, 1);
	if (stuck)
		return;      /* the intake thread may still touch rd: leave it */
	for (i = 0; i < rd->in_n; i++)
		close(rd->inq[(rd->in_head + i) % READERS_INTAKE_MAX].sock);
	pthread_mutex_destroy(&rd->mu);
	pthread_mutex_destroy(&rd->drain_mu);
	pthread_mutex_destroy(&rd->in_mu);
	pthread_cond_destroy(&rd->in_cv);
	free(rd->taken);
	free(rd);
}
