/*
 * client/sm_conn.c - mxcache-socketmap's connections: one epoll loop,
 * who may connect (socketmap.h), reading, writing, and when to close.
 *
 * The peers with connections open are in a chained hash table keyed by
 * listener and address or uid, so admitting a connection costs the same
 * with ten connections open as with sixty thousand.  Clocks are checked
 * once a second by a sweep over every connection.
 *
 * Connections whose first request waits for the daemon's check of a
 * domain (first contact, sm_proto.h) are on a waiting list.  A watcher
 * thread sleeps in mxc_wait_change and rings an eventfd after every
 * publish of the region; the loop then asks each waiting request again,
 * and answers it NOTFOUND when its wait is over (the loop's epoll timeout
 * is cut to the nearest end).  A waiting connection is not read, so the
 * requests behind the waiting one stay in order in the socket; the other
 * connections are served as ever: nothing here blocks on a check.
 */
#include "socketmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#define SM_OUT_MAX        (256 * 1024)   /* replies waiting before reading stops */
#define SM_STALL_S        30         /* a client not reading its replies is closed */
#define SM_STALL_PROGRESS 4096       /* replies taken in that time that show it reads */
#define SM_FD_SPARE       64         /* descriptors besides connections */
#define SM_LISTENERS      3          /* unix, TCP, or --listen-unix */
#define SM_EVENTS         128
#define SM_PEER_BUCKETS   4096       /* power of two */

/* The limits a connection can be refused at, in the order they are checked. */
enum sm_limit {
	SM_LIM_TOTAL,                /* the server's total */
	SM_LIM_LISTENER,             /* the listener's own limit */
	SM_LIM_PEER,                 /* one address (TCP) or uid (unix) */
	SM_LIM_N
};

struct sm_listener {
	int fd;
	int tcp;                     /* 1: TCP, peers by address; 0: unix, by uid */
	int max;                     /* its own limit */
	int max_peer;                /* per address or uid */
	int n;                       /* connections open */
	int paused;                  /* out of descriptors: not polled until the next sweep */
	char name[128];              /* for log lines: "TCP 127.0.0.1:8492", "unix socket PATH" */
	struct sm_refusals {         /* refusals not yet logged, per limit */
		uint64_t count;
		time_t next_log;     /* log the next one at once from then */
		char last_peer[64];
	} ref[SM_LIM_N];
};

static struct sm_limits limits;   /* as sm_conn_start was given them */
static int ep;
static struct conn **conns;        /* by fd, for the sweep */
static int conns_cap;
static struct sm_listener listeners[SM_LISTENERS];
static int nlisteners;
static time_t emfile_logged;       /* out of descriptors: logged once a minute */
static struct conn *waiting;       /* the waiting list */
static int wake_fd = -1;           /* eventfd: the region changed */
static mxc_t *region;

#define SM_WATCH_MS 60000          /* the watcher's sleep with nothing published */

/* ---- who may connect ---------------------------------------------------------------- */

struct sm_peer_key {
	const struct sm_listener *l;
	uint32_t uid;                /* unix */
	uint8_t fam;                 /* TCP: AF_INET or AF_INET6 */
	uint8_t addr[16];            /* TCP: IPv4, or the /64 of IPv6 */
};

struct sm_peer {
	struct sm_peer_key key;
	int n;                       /* connections open */
	struct sm_peer *next;
};

static struct sm_peer *peers[SM_PEER_BUCKETS];
static int ntotal;            /* connections open */

/* Describe listening socket fd: TCP or unix, by its address family. */
static int listener_init(struct sm_listener *l, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[INET6_ADDRSTRLEN];

	memset(l, 0, sizeof(*l));
	l->fd = fd;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	switch (ss.ss_family) {
	case AF_UNIX:
		snprintf(l->name, sizeof(l->name), "unix socket %.*s", (int)sizeof(((struct sockaddr_un *)0)->sun_path),
			 len > offsetof(struct sockaddr_un, sun_path) ? ((struct sockaddr_un *)&ss)->sun_path : "?");
		return 0;
	case AF_INET:
		l->tcp = 1;
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
		snprintf(l->name, sizeof(l->name), "TCP %s:%u", a, ntohs(((struct sockaddr_in *)&ss)->sin_port));
		return 0;
	case AF_INET6:
		l->tcp = 1;
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
		snprintf(l->name, sizeof(l->name), "TCP [%s]:%u", a, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
		return 0;
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
}

/* The peer of connection fd: its key, and how log lines name it. */
static void peer_of(const struct sm_listener *l, int fd, const struct sockaddr *addr, socklen_t alen,
		       struct sm_peer_key *k, char *text, size_t textlen)
{
	memset(k, 0, sizeof(*k));
	k->l = l;
	if (!l->tcp) {
		struct ucred uc;
		socklen_t ulen = sizeof(uc);

		/* no credentials: every such peer shares one count */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) != 0)
			uc.uid = (uid_t)-1;
		k->uid = (uint32_t)uc.uid;
		snprintf(text, textlen, "uid %lu", (unsigned long)uc.uid);
		return;
	}
	if (addr->sa_family == AF_INET && alen >= sizeof(struct sockaddr_in)) {
		k->fam = AF_INET;
		memcpy(k->addr, &((const struct sockaddr_in *)addr)->sin_addr, 4);
	} else if (addr->sa_family == AF_INET6 && alen >= sizeof(struct sockaddr_in6)) {
		const uint8_t *a6 = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a6)) {
			k->fam = AF_INET;    /* an IPv4 peer on an IPv6 socket */
			memcpy(k->addr, a6 + 12, 4);
		} else {
			k->fam = AF_INET6;
			memcpy(k->addr, a6, 8);
		}
	}
	if (k->fam == AF_INET6) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
		snprintf(text, textlen, "%s/64", a);
	} else if (k->fam == AF_INET) {
		inet_ntop(AF_INET, k->addr, text, (socklen_t)textlen);
	} else {
		snprintf(text, textlen, "an unknown address");
	}
}

static struct sm_peer **bucket(const struct sm_peer_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return &peers[h & (SM_PEER_BUCKETS - 1)];
}

/* What limit was reached, in log lines: the setting, and what it counts. */
static void refusal_words(const struct sm_listener *l, int which, const char **key, const char **what)
{
	switch (which) {
	case SM_LIM_TOTAL:
		*key = "max_connections";
		*what = "open in all";
		break;
	case SM_LIM_LISTENER:
		*key = l->tcp ? "listen_max_connections" : "unix_max_connections";
		*what = "open on it";
		break;
	default:
		*key = l->tcp ? "max_connections_per_address" : "max_connections_per_uid";
		*what = l->tcp ? "open from that address" : "open from that uid";
		break;
	}
}

static void refuse(struct sm_listener *l, int which, int open, const char *peer, time_t now)
{
	struct sm_refusals *r = &l->ref[which];
	const char *key, *what;

	mxc_sm_count(sm_stats, which == SM_LIM_PEER ? MXS_SM_CONN_REFUSED_PEER : MXS_SM_CONN_REFUSED);
	snprintf(r->last_peer, sizeof(r->last_peer), "%s", peer);
	if (now < r->next_log) {
		r->count++;
		return;
	}
	refusal_words(l, which, &key, &what);
	sm_log(LOG_WARNING,
	       "refused a connection on %s from %s: %d %s, the most [socketmap] %s allows "
	       "(logged at most once a minute, counted as mxcache_socketmap%s_connections_refused_total)",
	       l->name, peer, open, what, key, which == SM_LIM_PEER ? "_peer" : "");
	r->count = 0;
	r->next_log = now + SM_REFUSAL_LOG_S;
}
_Static_assert(SM_REFUSAL_LOG_S == 60, "the log line says once a minute");

static void refusals_flush(struct sm_listener *l, time_t now)
{
	const char *key, *what;
	int which;

	for (which = 0; which < SM_LIM_N; which++) {
		struct sm_refusals *r = &l->ref[which];

		if (r->count == 0 || now < r->next_log)
			continue;
		refusal_words(l, which, &key, &what);
		sm_log(LOG_WARNING, "refused %llu more connections on %s in the last %d s at [socketmap] %s, the last from %s",
		       (unsigned long long)r->count, l->name, SM_REFUSAL_LOG_S, key, r->last_peer);
		r->count = 0;
		r->next_log = now + SM_REFUSAL_LOG_S;
	}
}

/*
 * May connection fd, accepted on l from addr, stay?  Its peer (for
 * peer_release at its close), or NULL: refused, counted and logged, and
 * the caller closes fd at once.  NULL too when memory runs out.
 */
static struct sm_peer *admit(struct sm_listener *l, int fd, const struct sockaddr *addr, socklen_t alen, time_t now)
{
	struct sm_peer_key k;
	struct sm_peer **b, *p;
	char text[64];

	peer_of(l, fd, addr, alen, &k, text, sizeof(text));
	if (ntotal >= limits.total) {
		refuse(l, SM_LIM_TOTAL, ntotal, text, now);
		return NULL;
	}
	if (l->n >= l->max) {
		refuse(l, SM_LIM_LISTENER, l->n, text, now);
		return NULL;
	}
	b = bucket(&k);
	for (p = *b; p != NULL; p = p->next)
		if (memcmp(&p->key, &k, sizeof(k)) == 0)
			break;
	if (p != NULL && p->n >= l->max_peer) {
		refuse(l, SM_LIM_PEER, p->n, text, now);
		return NULL;
	}
	if (p == NULL) {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return NULL;
		memcpy(&p->key, &k, sizeof(k));   /* padding too: keys compare with memcmp */
		p->next = *b;
		*b = p;
	}
	p->n++;
	l->n++;
	ntotal++;
	return p;
}

static void peer_release(struct sm_listener *l, struct sm_peer *p)
{
	struct sm_peer **pp;

	l->n--;
	ntotal--;
	if (--p->n > 0)
		return;
	for (pp = bucket(&p->key); *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
}

/* ---- connections ------------------------------------------------------------------ */

static void wait_unlist(struct conn *c)
{
	if (!c->listed)
		return;
	if (c->wprev != NULL)
		c->wprev->wnext = c->wnext;
	else
		waiting = c->wnext;
	if (c->wnext != NULL)
		c->wnext->wprev = c->wprev;
	c->wprev = c->wnext = NULL;
	c->listed = 0;
}

static void wait_list(struct conn *c)
{
	if (c->listed)
		return;
	c->wprev = NULL;
	c->wnext = waiting;
	if (waiting != NULL)
		waiting->wprev = c;
	waiting = c;
	c->listed = 1;
}

static void conn_close(struct conn *c)
{
	wait_unlist(c);
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->fd < conns_cap)
		conns[c->fd] = NULL;
	peer_release(c->l, c->peer);
	free(c->s.out);
	free(c);
}

/* What c is polled for, told to epoll only when it changed: most
 * rounds read, answer and write everything, and change nothing. */
static void conn_events(struct conn *c)
{
	struct epoll_event ev;
	int want = (c->paused || c->s.closing || c->s.waiting ? 0 : EPOLLIN) | (c->s.outlen > c->s.outoff ? EPOLLOUT : 0);

	/* waiting: not even a hang-up is read until the answer is out (a
	 * peer that sent its request and shut its side still gets it) */
	want |= c->s.waiting ? 0 : EPOLLRDHUP;
	if ((uint32_t)want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = (uint32_t)want;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = (uint32_t)want;
}

/* Write what is waiting.  -1: the peer is gone. */
static int conn_flush(struct conn *c, time_t now)
{
	ssize_t n;

	while (c->s.outoff < c->s.outlen) {
		n = send(c->fd, c->s.out + c->s.outoff, c->s.outlen - c->s.outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		c->s.outoff += (size_t)n;
		c->stall_moved += (size_t)n;
	}
	if (c->s.outoff == c->s.outlen) {
		if (c->s.outlen > 0)
			c->s.idle_since = now;    /* answered: idle from here */
		c->s.outoff = c->s.outlen = 0;
		c->stalled_since = 0;
	} else if (c->stalled_since == 0 || c->stall_moved >= SM_STALL_PROGRESS) {
		/* replies wait: the client has SM_STALL_S to take a fair part */
		c->stalled_since = now;
		c->stall_moved = 0;
	}
	return 0;
}

static void conn_after(struct conn *c, time_t now);

static void conn_io(struct conn *c, uint32_t events, time_t now)
{
	ssize_t n;

	if (events & (EPOLLERR | EPOLLHUP))
		goto gone;
	/* a waiting connection is not read (its request is answered first) */
	if ((events & EPOLLIN) && !c->paused && !c->s.closing && !c->s.waiting) {
		n = recv(c->fd, c->s.in + c->s.inlen, sizeof(c->s.in) - c->s.inlen, 0);
		if (n == 0)
			goto gone;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			goto gone;
		if (n > 0) {
			c->s.inlen += (size_t)n;
			if (sm_parse(&c->s, now) != 0 && !c->s.closing)
				goto gone;
		}
	} else if (events & EPOLLRDHUP && c->s.outlen == c->s.outoff) {
		goto gone;
	}
	conn_after(c, now);
	return;
gone:
	conn_close(c);
}

/* After requests were answered: write, close, or poll for what comes. */
static void conn_after(struct conn *c, time_t now)
{
	if (c->s.waiting)
		wait_list(c);
	else
		wait_unlist(c);
	if (conn_flush(c, now) != 0 || (c->s.closing && c->s.outlen == c->s.outoff)) {
		conn_close(c);
		return;
	}
	c->paused = c->s.outlen - c->s.outoff > SM_OUT_MAX;
	conn_events(c);
}

/* The region changed, or a wait may be over: ask every waiting request
 * again (sm_parse answers it, and those behind it, or leaves it waiting). */
static void waiters_run(time_t now)
{
	struct conn *c = waiting, *next;

	for (; c != NULL; c = next) {
		next = c->wnext;
		if (sm_parse(&c->s, now) != 0 && !c->s.closing) {
			conn_close(c);
			continue;
		}
		conn_after(c, now);
	}
}

/* The epoll timeout: a second, or less when a wait ends sooner. */
static int waiters_timeout(void)
{
	int64_t now = sm_mono_ms(), t = 1000;
	const struct conn *c;

	for (c = waiting; c != NULL; c = c->wnext)
		if (c->s.wait_until_ms - now < t)
			t = c->s.wait_until_ms - now;
	return t < 0 ? 0 : (int)t;
}

/* The watcher: rings wake_fd after every publish of the region. */
static void *watch_main(void *arg)
{
	const struct timespec pause = { 0, 100 * 1000000L };
	uint64_t gen = 0, one = 1;
	int rc;

	(void)arg;
	for (;;) {
		if (gen == 0) {
			/* nothing published yet (0 means "do not wait" to
			 * mxc_wait_change), or no region for now (the daemon
			 * restarts): look again after a pause; the loop's own
			 * timeout still ends every wait meanwhile */
			if (mxc_wait_change(region, 0, 0, &gen) != MXC_OK || gen == 0) {
				gen = 0;
				nanosleep(&pause, NULL);
				continue;
			}
		}
		rc = mxc_wait_change(region, gen, SM_WATCH_MS, &gen);
		if (rc == MXC_OK) {
			if (write(wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				break;
		} else if (rc != MXC_NOTFOUND) {
			gen = 0;
		}
	}
	return NULL;
}

/* A listener out of descriptors stays readable: it rests until the
 * next sweep instead of spinning on a queue it cannot drain. */
static void listener_pause(struct sm_listener *l, time_t now)
{
	struct epoll_event ev;

	if (now - emfile_logged >= SM_REFUSAL_LOG_S) {
		sm_log(LOG_WARNING, "accept on %s: %s (logged at most once a minute)", l->name, strerror(errno));
		emfile_logged = now;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.ptr = l;
	epoll_ctl(ep, EPOLL_CTL_MOD, l->fd, &ev);
	l->paused = 1;
}

static void listener_resume(struct sm_listener *l)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = l;
	epoll_ctl(ep, EPOLL_CTL_MOD, l->fd, &ev);
	l->paused = 0;
}

/* Room in conns for descriptor fd.  -1: no memory. */
static int conns_room(int fd)
{
	int cap = conns_cap ? conns_cap : 256;
	struct conn **nc;

	if (fd < conns_cap)
		return 0;
	while (cap <= fd)
		cap *= 2;
	nc = realloc(conns, (size_t)cap * sizeof(*nc));
	if (nc == NULL)
		return -1;
	memset(nc + conns_cap, 0, (size_t)(cap - conns_cap) * sizeof(*nc));
	conns = nc;
	conns_cap = cap;
	return 0;
}

static void accept_all(struct sm_listener *l, time_t now)
{
	struct sockaddr_storage ss;
	socklen_t alen;
	struct epoll_event ev;
	struct sm_peer *peer;
	struct conn *c;
	int fd;

	for (;;) {
		alen = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				listener_pause(l, now);
			return;
		}
		/* a full house answers nothing: Postfix retries */
		if (fd >= SM_CONN_MAX * 2 || conns_room(fd) != 0) {
			mxc_sm_count(sm_stats, MXS_SM_CONN_REFUSED);
			close(fd);
			continue;
		}
		peer = admit(l, fd, (struct sockaddr *)&ss, alen, now);
		if (peer == NULL) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			peer_release(l, peer);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->l = l;
		c->peer = peer;
		c->s.idle_since = now;
		memset(&ev, 0, sizeof(ev));
		ev.events = c->events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			peer_release(l, peer);
			close(fd);
			free(c);
			continue;
		}
		mxc_sm_count(sm_stats, MXS_SM_CONN);
		conns[fd] = c;
	}
}

/* Once a second: the clocks of every connection, the listeners' rest,
 * refusals held back from the log. */
static void sweep(time_t now)
{
	int fd, i;

	for (fd = 0; fd < conns_cap; fd++) {
		struct conn *c = conns[fd];

		if (c == NULL)
			continue;
		if ((c->stalled_since != 0 && now - c->stalled_since >= SM_STALL_S) ||
		    (c->s.req_since != 0 && now - c->s.req_since >= limits.idle_s) ||
		    (c->s.req_since == 0 && c->s.outlen == c->s.outoff && now - c->s.idle_since >= limits.idle_s)) {
			mxc_sm_count(sm_stats, MXS_SM_TIMEOUT);
			conn_close(c);
		}
	}
	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].paused)
			listener_resume(&listeners[i]);
		refusals_flush(&listeners[i], now);
	}
}

/* ---- start ---------------------------------------------------------------------------- */

/*
 * Each listener's limit: as given, else a share of --max-conn that the
 * other kind leaves (half each when both are there and neither is given),
 * so a flood on one never takes the other's connections.  mxcached passes
 * both, worked out the same way from its config.
 */
static void listener_limits(int has_unix, int has_tcp, int *umax, int *tmax)
{
	*umax = limits.unix_max;
	*tmax = limits.tcp_max;
	if (!has_tcp && *umax == 0)
		*umax = limits.total;
	if (!has_unix && *tmax == 0)
		*tmax = limits.total;
	if (*umax == 0 && *tmax == 0) {
		*tmax = limits.total / 2;
		*umax = limits.total - *tmax;
	} else if (*umax == 0) {
		*umax = limits.total - *tmax;
	} else if (*tmax == 0) {
		*tmax = limits.total - *umax;
	}
	if (*umax < 1)
		*umax = 1;
	if (*tmax < 1)
		*tmax = 1;
}

int sm_conn_start(const int *lfds, int nl, const struct sm_limits *lim_in, mxc_t *h)
{
	struct epoll_event ev;
	pthread_t watcher;
	int i, has_unix = 0, has_tcp = 0, umax, tmax;

	limits = *lim_in;
	region = h;
	if (nl > SM_LISTENERS) {
		sm_log(LOG_ERR, "%d listening sockets: at most %d", nl, SM_LISTENERS);
		return -1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		sm_log(LOG_ERR, "epoll: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < nl; i++) {
		if (listener_init(&listeners[i], lfds[i]) != 0) {
			sm_log(LOG_ERR, "listening socket %d: %s", lfds[i], strerror(errno));
			return -1;
		}
		has_tcp |= listeners[i].tcp;
		has_unix |= !listeners[i].tcp;
	}
	listener_limits(has_unix, has_tcp, &umax, &tmax);
	for (i = 0; i < nl; i++) {
		struct sm_listener *l = &listeners[i];

		l->max = l->tcp ? tmax : umax;
		l->max_peer = l->tcp ? limits.per_address : limits.per_uid;
		fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = l;       /* tells a listener from a connection */
		if (epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev) != 0) {
			sm_log(LOG_ERR, "epoll: %s: %s", l->name, strerror(errno));
			return -1;
		}
		sm_log(LOG_INFO, "%s: at most %d connections, %d per %s", l->name, l->max, l->max_peer,
		       l->tcp ? "address" : "uid");
	}
	nlisteners = nl;

	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &wake_fd;
	if (wake_fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
		sm_log(LOG_ERR, "eventfd: %s", strerror(errno));
		return -1;
	}
	/* detached: it sleeps in the kernel until the process exits */
	if (pthread_create(&watcher, NULL, watch_main, NULL) != 0 || pthread_detach(watcher) != 0) {
		sm_log(LOG_ERR, "watcher thread: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void sm_conn_fd_limit(const struct sm_limits *want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want->total + SM_FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
		sm_log(LOG_WARNING, "%llu descriptors (RLIMIT_NOFILE) for %d connections: accept fails sooner",
		       (unsigned long long)rl.rlim_cur, want->total);
}

/* ---- the loop ------------------------------------------------------------------------ */

void sm_conn_run(volatile sig_atomic_t *stop)
{
	struct epoll_event evs[SM_EVENTS];
	time_t now, last_sweep = 0;
	int i, n;

	while (!*stop) {
		int woken = 0;

		n = epoll_wait(ep, evs, SM_EVENTS, waiting != NULL ? waiters_timeout() : 1000);
		now = time(NULL);
		for (i = 0; i < n; i++) {
			struct sm_listener *l = evs[i].data.ptr;

			if (evs[i].data.ptr == &wake_fd) {
				uint64_t v;

				if (read(wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					sm_log(LOG_WARNING, "eventfd: %s", strerror(errno));
				woken = 1;
			} else if (l >= listeners && l < listeners + nlisteners) {
				accept_all(l, now);
			} else {
				conn_io(evs[i].data.ptr, evs[i].events, now);
			}
		}
		/* a change, or a wait's end: n == 0 is the timeout */
		if (waiting != NULL && (woken || n == 0 || waiters_timeout() == 0))
			waiters_run(now);
		if (now != last_sweep) {
			sweep(now);
			last_sweep = now;
		}
	}
}

void sm_conn_stop(void)
{
	int i;

	for (i = 0; i < conns_cap; i++)
		if (conns[i] != NULL)
			conn_close(conns[i]);
	free(conns);
	conns = NULL;
	conns_cap = 0;
}
