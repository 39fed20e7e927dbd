/*
 * daemon/ctl.c - the admin socket: listening, accepting, who may connect
 * and how many at once, one thread per connection reading request lines
 * (ctl_cmd.c answers them), start and stop.
 */
#include "ctl.h"
#include "ctl_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <urcu.h>

#include "clock.h"
#include "config.h"
#include "counters.h"
#include "log.h"

#define CTL_BACKLOG     64
#define CTL_PEER_GROUPS_MAX 256      /* supplementary groups of a peer we look at */
#define CTL_REFUSE_WAIT_MS  200      /* a turned-away peer's request may arrive this long */
/* Turned-away peers waiting for that request; one more closes the
 * oldest at once, so a peer that connects in a loop costs a descriptor
 * each, never the accept thread's time. */
#define CTL_AWAY_MAX        64
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS   59           /* Linux 4.13; older kernels: primary group only */
#endif
/* After accept() fails for want of descriptors, wait before the next try
 * instead of spinning on a queue we cannot drain. */
#define CTL_ACCEPT_PAUSE_MS 100

struct ctl {
	struct writer *w;
	struct sts *sts;        /* MTA-STS and MX fetches; set before ctl_start */
	int lfd;
	int stopfd;             /* eventfd: wakes the accept thread */
	struct ctl_away {
		int fd;
		uint64_t until_ms;      /* close by then (mono_ms) */
	} away[CTL_AWAY_MAX];   /* accept thread only, oldest first */
	int naway;
	pthread_t accept_thread;
	int started;            /* accept_thread runs */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	pthread_mutex_t mu;     /* guards what follows */
	pthread_cond_t cv;      /* nconn went down */
	struct ctl_conn *conns;
	int nconn;
	int nreadonly;          /* of them, peers that may not change anything */
};

/* --- connections ----------------------------------------------------------- */

static void *ctl_conn_main(void *arg)
{
	struct ctl_conn *cn = arg;
	struct ctl *c = cn->ctl;
	char *line;
	size_t len;
	int r;

	pthread_setname_np(pthread_self(), "ctl-conn");
	/* requests may read the config (config_current) */
	rcu_register_thread();
	for (;;) {
		r = ctl_readline(cn, &line, &len);
		if (r == CTL_LONG) {
			ctl_err(cn, MXS_CTL_EPROTO, CTL_LONG_MSG);
			break;
		}
		if (r == CTL_TIMEOUT) {
			ctl_err(cn, MXS_CTL_EPROTO, "idle too long");
			break;
		}
		if (r != CTL_LINE || ctl_request(cn, line, len) != 0)
			break;
	}
	rcu_unregister_thread();

	/* off the list before close, so ctl_stop never shuts a reused fd */
	pthread_mutex_lock(&c->mu);
	if (cn->prev != NULL)
		cn->prev->next = cn->next;
	else
		c->conns = cn->next;
	if (cn->next != NULL)
		cn->next->prev = cn->prev;
	close(cn->fd);
	c->nconn--;
	c->nreadonly -= !cn->may_change;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	free(cn);
	return NULL;
}

/*
 * Turn a peer away: one ERR line, then the close.  Its first request may
 * arrive first, briefly: a client that writes to a closed socket gets
 * EPIPE and never reads the answer waiting for it.  So the close waits
 * for that request, CTL_REFUSE_WAIT_MS at most, in c->away: the accept
 * thread polls those descriptors with the listener and never waits on a
 * peer it refused, nor blocks on one that does not read.
 */
static void ctl_turn_away(struct ctl *c, int fd, const char *code, const char *why)
{
	char line[160];
	int n = ctl_format(line, sizeof(line), "ERR", code, why, (char *)NULL);

	if (n > 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* it learns from the close */
	}
	if (c->naway == CTL_AWAY_MAX) {
		close(c->away[0].fd);
		memmove(c->away, c->away + 1, (CTL_AWAY_MAX - 1) * sizeof(c->away[0]));
		c->naway--;
	}
	c->away[c->naway].fd = fd;
	c->away[c->naway].until_ms = mono_ms() + CTL_REFUSE_WAIT_MS;
	c->naway++;
}

/* Close the turned-away peers whose request came (revents) or whose
 * time is up; pfd[i] is away[i]. */
static void ctl_away_sweep(struct ctl *c, const struct pollfd *pfd)
{
	uint64_t now = mono_ms();
	char buf[512];
	int i, j, k = 0;

	for (i = 0; i < c->naway; i++) {
		if ((pfd != NULL && pfd[i].revents != 0) || now >= c->away[i].until_ms) {
			/* what it sent is read first: a unix socket closed with
			 * unread data resets its peer, who then misses the ERR */
			for (j = 0; j < MXS_CTL_LINE_MAX / (int)sizeof(buf); j++)
				if (recv(c->away[i].fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
					break;
			close(c->away[i].fd);
			continue;
		}
		c->away[k++] = c->away[i];
	}
	c->naway = k;
}


/* Is the peer of fd (credentials uc) a member of group g, primary or not? */
static int ctl_peer_in_group(int fd, const struct ucred *uc, gid_t g)
{
	gid_t groups[CTL_PEER_GROUPS_MAX];
	socklen_t len = sizeof(groups);
	size_t i;

	if (uc->gid == g)
		return 1;
	/* ERANGE: more groups than we look at; they count as not members */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == g)
			return 1;
	return 0;
}

/* What ctl_admit() found: the peer may connect, or the limit it is past. */
enum { CTL_ADMIT_OK, CTL_ADMIT_UID, CTL_ADMIT_READONLY, CTL_ADMIT_FULL };

/*
 * May one more connection of uid (may_change: its rights) be served?
 * The pools leave room for those who may change things whatever the
 * others hold: read-only peers share CTL_READONLY_CONN connections, and
 * each uid but root (which can stop the daemon anyway) has at most
 * CTL_UID_CONN, so neither a reader nor one admin's runaway script takes
 * the rest.  Call with c->mu held.
 */
static int ctl_admit(struct ctl *c, uid_t uid, int may_change)
{
	const struct ctl_conn *cn;
	int n = 0;

	if (uid != 0) {
		for (cn = c->conns; cn != NULL; cn = cn->next)
			n += cn->uid == uid;
		if (n >= CTL_UID_CONN)
			return CTL_ADMIT_UID;
	}
	if (!may_change && c->nreadonly >= CTL_READONLY_CONN)
		return CTL_ADMIT_READONLY;
	if (c->nconn >= CTL_MAX_CONN)
		return CTL_ADMIT_FULL;
	return CTL_ADMIT_OK;
}
_Static_assert(CTL_MAX_CONN == 32 && CTL_READONLY_CONN == 8 && CTL_UID_CONN == 8,
	       "the EBUSY messages and the counters' help say 32 and 8");
_Static_assert(CTL_READONLY_CONN < CTL_MAX_CONN && CTL_UID_CONN < CTL_MAX_CONN,
	       "read-only peers and one uid leave connections for the others");

/* Answer a peer past limit (ctl_admit) EBUSY; count it, log once a limit. */
static void ctl_refuse(struct ctl *c, int fd, const struct ucred *uc, int limit)
{
	char why[96];

	switch (limit) {
	case CTL_ADMIT_UID:
		ctr_limit(MXS_CTR_LIMIT_CTL_UID,
			  "ctl: refused pid %ld: %d admin connections from uid %lu open, the most one uid but root may hold",
			  (long)uc->pid, CTL_UID_CONN, (unsigned long)uc->uid);
		snprintf(why, sizeof(why), "too many admin connections from uid %lu (8)", (unsigned long)uc->uid);
		break;
	case CTL_ADMIT_READONLY:
		ctr_limit(MXS_CTR_LIMIT_CTL_READONLY,
			  "ctl: refused uid %lu (pid %ld): %d read-only admin connections open, the most peers "
			  "without change rights may hold", (unsigned long)uc->uid, (long)uc->pid, CTL_READONLY_CONN);
		snprintf(why, sizeof(why), "too many read-only admin connections (8)");
		break;
	default:
		ctr_limit(MXS_CTR_LIMIT_CTL_CONN, "ctl: refused pid %ld: %d admin connections open", (long)uc->pid,
			  CTL_MAX_CONN);
		snprintf(why, sizeof(why), "too many admin connections (32)");
		break;
	}
	ctl_turn_away(c, fd, MXS_CTL_EBUSY, why);
}

static void ctl_accept_one(struct ctl *c, int fd)
{
	struct timeval tv = { .tv_sec = CTL_IDLE_TIMEOUT_S, .tv_usec = 0 };
	struct ucred uc;
	socklen_t ulen = sizeof(uc);
	struct ctl_conn *cn;
	struct config *cfg;
	gid_t read_gid, admin_gid;
	int has_admin, may_change, limit;
	pthread_attr_t attr;
	pthread_t t;
	int e;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) != 0) {
		log_warn("ctl: SO_PEERCRED");
		close(fd);
		return;
	}
	/*
	 * The socket's mode already keeps out whoever is not in its group;
	 * the credentials decide what a peer may do, and keep out a peer
	 * that got in through a looser mode set by hand.
	 */
	rcu_read_lock();
	cfg = config_current();
	read_gid = cfg != NULL ? cfg->gid : getegid();
	has_admin = cfg != NULL && cfg->admin_group[0] != '\0';
	admin_gid = has_admin ? cfg->admin_gid : 0;
	rcu_read_unlock();
	may_change = uc.uid == 0 || uc.uid == geteuid() || (has_admin && ctl_peer_in_group(fd, &uc, admin_gid));
	if (!may_change && !ctl_peer_in_group(fd, &uc, read_gid)) {
		ctr_limit(MXS_CTR_CTL_DENIED,
			  "ctl: refused uid %lu (pid %ld): not root, not mxcached's user, not in its groups",
			  (unsigned long)uc.uid, (long)uc.pid);
		ctl_turn_away(c, fd, MXS_CTL_EPERM,
			      "not root, not mxcached's user, not in [region] group or [ctl] admin_group");
		return;
	}
	pthread_mutex_lock(&c->mu);
	limit = ctl_admit(c, uc.uid, may_change);
	pthread_mutex_unlock(&c->mu);
	if (limit != CTL_ADMIT_OK) {
		ctl_refuse(c, fd, &uc, limit);
		return;
	}

	/* idle clients, and clients that stop reading replies, time out */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		log_warn("ctl: setsockopt");
		close(fd);
		return;
	}
	cn = calloc(1, sizeof(*cn));
	if (cn == NULL) {
		log_warnx("ctl: out of memory");
		close(fd);
		return;
	}
	cn->ctl = c;
	cn->w = c->w;
	cn->sts = c->sts;
	cn->fd = fd;
	cn->uid = uc.uid;
	cn->pid = uc.pid;
	cn->may_change = may_change;

	pthread_mutex_lock(&c->mu);
	cn->next = c->conns;
	if (c->conns != NULL)
		c->conns->prev = cn;
	c->conns = cn;
	c->nconn++;
	c->nreadonly += !may_change;
	pthread_mutex_unlock(&c->mu);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &attr, ctl_conn_main, cn);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		log_warnx("ctl: cannot start a connection thread: %s", strerror(e));
		pthread_mutex_lock(&c->mu);
		c->conns = cn->next;    /* nobody else adds: we are the accept thread */
		if (cn->next != NULL)
			cn->next->prev = NULL;
		c->nconn--;
		c->nreadonly -= !may_change;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		close(fd);
		free(cn);
	}
}

static void *ctl_accept_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd pfd[2 + CTL_AWAY_MAX];
	uint64_t now, left;
	int fd, i, timeout, ready;

	pthread_setname_np(pthread_self(), "ctl");
	rcu_register_thread();
	for (;;) {
		/* the turned-away peers first: pfd[i] is away[i] for the sweep */
		timeout = -1;
		now = mono_ms();
		for (i = 0; i < c->naway; i++) {
			pfd[i].fd = c->away[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			left = c->away[i].until_ms > now ? c->away[i].until_ms - now : 0;
			if (timeout == -1 || left < (uint64_t)timeout)
				timeout = (int)left;
		}
		pfd[c->naway].fd = c->lfd;
		pfd[c->naway].events = POLLIN;
		pfd[c->naway + 1].fd = c->stopfd;
		pfd[c->naway + 1].events = POLLIN;
		if (poll(pfd, (nfds_t)c->naway + 2, timeout) < 0) {
			if (errno != EINTR)
				log_warn("ctl: poll");
			continue;
		}
		if (pfd[c->naway + 1].revents != 0)
			break;
		ready = pfd[c->naway].revents & POLLIN;
		ctl_away_sweep(c, pfd);
		if (!ready)
			continue;
		fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("ctl: accept");
				poll(NULL, 0, CTL_ACCEPT_PAUSE_MS);
			}
			continue;
		}
		ctl_accept_one(c, fd);
	}
	/* whoever was turned away learns it from the close */
	for (i = 0; i < c->naway; i++)
		close(c->away[i].fd);
	c->naway = 0;
	rcu_unregister_thread();
	return NULL;
}

/* --- start and stop ---------------------------------------------------------- */

/*
 * A socket file left behind is removed only if nothing answers on it: a
 * live daemon's socket must never be taken over.
 */
static int ctl_clear_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat sb;
	int fd, rc = -1;

	if (lstat(sun->sun_path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "ctl: %s: %s", sun->sun_path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "ctl: %s exists and is not a socket; remove it", sun->sun_path);
		return -1;
	}
	/* non-blocking: a daemon too busy to accept still counts as alive */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "ctl: socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN ||
	    errno == EINPROGRESS) {
		snprintf(err, errlen, "ctl: a daemon already answers on %s", sun->sun_path);
		goto done;
	}
	if (errno != ECONNREFUSED && errno != ENOENT) {
		snprintf(err, errlen, "ctl: %s: %s", sun->sun_path, strerror(errno));
		goto done;
	}
	if (unlink(sun->sun_path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "ctl: cannot remove stale %s: %s", sun->sun_path, strerror(errno));
		goto done;
	}
	log_info("ctl: removed stale %s", sun->sun_path);
	rc = 0;
done:
	close(fd);
	return rc;
}

int ctl_open(const char *dir, gid_t gid, struct ctl **out, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct ctl *c;
	int n, bound = 0;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "ctl: out of memory");
		return -1;
	}
	c->lfd = -1;
	c->stopfd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, MXS_CTL_SOCK);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "ctl: %s/%s: longer than a socket path may be (%zu bytes)", dir, MXS_CTL_SOCK,
			 sizeof(sun.sun_path) - 1);
		goto fail;
	}
	memcpy(c->path, sun.sun_path, sizeof(c->path));
	if (ctl_clear_stale(&sun, err, errlen) != 0)
		goto fail;

	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->lfd == -1) {
		snprintf(err, errlen, "ctl: socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(c->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen, "ctl: bind %s: %s", c->path, strerror(errno));
		goto fail;
	}
	bound = 1;
	/* mode after bind: fchmod on a socket does not reach the file */
	if (chmod(c->path, 0660) != 0) {
		snprintf(err, errlen, "ctl: chmod %s: %s", c->path, strerror(errno));
		goto fail;
	}
	if (gid != getegid() && chown(c->path, (uid_t)-1, gid) != 0) {
		snprintf(err, errlen, "ctl: cannot give %s to group %lu: %s", c->path, (unsigned long)gid,
			 strerror(errno));
		goto fail;
	}
	if (listen(c->lfd, CTL_BACKLOG) != 0) {
		snprintf(err, errlen, "ctl: listen %s: %s", c->path, strerror(errno));
		goto fail;
	}
	c->stopfd = eventfd(0, EFD_CLOEXEC);
	if (c->stopfd == -1) {
		snprintf(err, errlen, "ctl: eventfd: %s", strerror(errno));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->stopfd != -1)
		close(c->stopfd);
	if (c->lfd != -1)
		close(c->lfd);
	if (bound)
		unlink(c->path);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return -1;
}

void ctl_set_sts(struct ctl *c, struct sts *s)
{
	c->sts = s;
}

int ctl_start(struct ctl *c, struct writer *w, char *err, size_t errlen)
{
	int e;

	c->w = w;
	e = pthread_create(&c->accept_thread, NULL, ctl_accept_main, c);
	if (e != 0) {
		snprintf(err, errlen, "ctl: cannot start the accept thread: %s", strerror(e));
		return -1;
	}
	c->started = 1;
	return 0;
}

void ctl_stop(struct ctl *c)
{
	struct ctl_conn *cn;
	uint64_t one = 1;

	if (c == NULL)
		return;
	if (c->started) {
		if (write(c->stopfd, &one, sizeof(one)) < 0)
			log_warn("ctl: eventfd");
		pthread_join(c->accept_thread, NULL);
	}
	close(c->lfd);
	unlink(c->path);

	/* wake every connection; each finishes what the writer holds for it */
	pthread_mutex_lock(&c->mu);
	for (cn = c->conns; cn != NULL; cn = cn->next)
		shutdown(cn->fd, SHUT_RDWR);
	while (c->nconn > 0)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);

	close(c->stopfd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
