/*
 * bench/alt/sm_trivial.c - the fastest socketmap server there could be,
 * for bench/bench_socketmap.c to measure mxcache-socketmap against: one
 * thread, one epoll set, netstrings read and each answered "OK x" at once,
 * with no lookup, no limits, no clocks.  What it costs is the floor of the
 * protocol itself on this machine (the system calls and the framing), so
 * mxcache-socketmap's rate over its rate says what our own work costs.
 *
 *   sm_trivial SOCKET_PATH
 *
 * Written the obvious way: level-triggered, one recv per readiness, every
 * complete request in those bytes answered into one output buffer, and
 * that buffer sent with one send; only when the peer's socket is full does
 * it wait for EPOLLOUT (and stop reading meanwhile).  A broken netstring
 * closes the connection.  Built by make bench-bin, run only by the
 * benchmark; SIGTERM ends it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define IN_MAX      (64 * 1024)        /* a connection's unparsed request bytes */
#define QUERY_MAX   10000              /* Postfix's own limit for a query */
#define LEN_DIGITS  5                  /* digits of a length up to QUERY_MAX */
#define EVENTS      64
#define REPLY       "4:OK x,"

struct conn {
	int fd;
	size_t inlen;
	char in[IN_MAX];
	char *out;                         /* replies, outoff..outlen not yet sent */
	size_t outlen, outoff, outcap;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Every complete netstring in c->in answered into c->out.  -1: broken. */
static int parse(struct conn *c)
{
	size_t off = 0, len, i, need;

	for (;;) {
		const char *p = c->in + off;
		size_t avail = c->inlen - off;

		len = 0;
		for (i = 0; i < avail && i < LEN_DIGITS && p[i] >= '0' && p[i] <= '9'; i++)
			len = len * 10 + (size_t)(p[i] - '0');
		if (i == avail)
			break;
		if (i == 0 || p[i] != ':' || len > QUERY_MAX)
			return -1;
		if (avail < i + len + 2)
			break;
		if (p[i + 1 + len] != ',')
			return -1;
		need = c->outlen + sizeof(REPLY) - 1;
		if (need > c->outcap) {
			size_t cap = c->outcap ? c->outcap * 2 : 4096;
			char *q = realloc(c->out, cap);

			if (q == NULL)
				return -1;
			c->out = q;
			c->outcap = cap;
		}
		memcpy(c->out + c->outlen, REPLY, sizeof(REPLY) - 1);
		c->outlen = need;
		off += i + len + 2;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

/* What waits, sent.  -1: the peer is gone. */
static int flush(struct conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

static void drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

/* Readable, or writable again: read, answer, write. */
static void conn_io(int ep, struct conn *c, uint32_t events)
{
	struct epoll_event ev;
	int was_full = c->outoff < c->outlen;
	ssize_t n;

	if (events & (EPOLLERR | EPOLLHUP))
		goto gone;
	if ((events & EPOLLIN) && !was_full) {
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			goto gone;
		if (n > 0) {
			c->inlen += (size_t)n;
			if (parse(c) != 0 || c->inlen == sizeof(c->in))
				goto gone;
		}
	}
	if (flush(c) != 0)
		goto gone;
	if (was_full != (c->outoff < c->outlen)) {
		memset(&ev, 0, sizeof(ev));
		ev.events = c->outoff < c->outlen ? EPOLLOUT : EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	return;
gone:
	drop(ep, c);
}

int main(int argc, char **argv)
{
	struct epoll_event ev, evs[EVENTS];
	struct sockaddr_un sun;
	struct sigaction sa;
	int lfd, ep, n, i, fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: sm_trivial SOCKET_PATH\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]));
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(lfd, 128) != 0) {
		fprintf(stderr, "sm_trivial: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;                  /* the listener */
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
		fprintf(stderr, "sm_trivial: epoll: %s\n", strerror(errno));
		return 1;
	}
	while (!stop) {
		n = epoll_wait(ep, evs, EVENTS, 1000);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c != NULL) {
				conn_io(ep, c, evs[i].events);
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				c = calloc(1, sizeof(*c));
				memset(&ev, 0, sizeof(ev));
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				if (c == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
					close(fd);
					free(c);
				} else {
					c->fd = fd;
				}
			}
		}
	}
	unlink(argv[1]);
	return 0;
}
