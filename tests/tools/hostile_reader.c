/*
 * tests/tools/hostile_reader.c - a local user who hands mxcached reader
 * blocks it should refuse, or a good block it then scribbles over.
 *
 *   hostile_reader DIR unsealed|size|slots|file|nofd|fds|tcp
 *                                                     one bad registration
 *                                                     (tcp: a lingering TCP
 *                                                     socket with a full queue)
 *   hostile_reader DIR garbage SECONDS                a good block, then noise
 *   hostile_reader DIR many N SECONDS                 N good blocks, held
 *   hostile_reader DIR silent N SECONDS               N connections that say nothing
 *   hostile_reader DIR bells SECONDS                  a good block, then doorbells
 *                                                     without pause, one byte and
 *                                                     4 KiB ones, never waiting
 *
 * Prints what the daemon answered.  Exit: bad registrations 0 when
 * refused, 1 when accepted; garbage 0 when the block was accepted (the
 * noise is the point); many 0 always (prints "accepted K"); bells 0 when the daemon kept the
 * connection throughout (prints "rang N, still registered").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "shm/readers.h"

#define NSLOTS 64

static uint32_t req_nslots = NSLOTS;     /* what the request says */

static int make_block_n(uint32_t nslots, int seal, uint64_t extra, void **map)
{
	uint64_t so, ro, size = mxc_rblock_geometry(nslots, &so, &ro) + extra;
	int fd = memfd_create("hostile", MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
		return -1;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		return -1;
	return fd;
}

static int make_block(int seal, uint64_t extra, void **map)
{
	return make_block_n(NSLOTS, seal, extra, map);
}

/* A loopback TCP connection whose peer never reads, its send queue full,
 * set to linger an hour on close: a descriptor whose last close waits. */
static int lingering_socket(void)
{
	struct sockaddr_in a;
	struct linger lg = { 1, 3600 };
	socklen_t len = sizeof(a);
	char buf[65536];
	int l, c;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) != 0)
		return -1;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0 || accept(l, NULL, NULL) < 0)
		return -1;
	memset(buf, 'x', sizeof(buf));
	while (send(c, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return c;      /* the listener and the accepted end stay open, unread */
}

/* Send one request with nfd descriptors; returns the daemon's ra_error,
 * or -1000 when it sent nothing back.  *sock keeps the connection. */
static int reg(const char *dir, const int *fds, int nfd, int *sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cb;
	struct mxc_reg_req rq = { MXS_REG_MAGIC, MXS_SHM_RLAYOUT, req_nslots, 0 };
	struct mxc_reg_ans ra;
	struct iovec iov = { &rq, sizeof(rq) };
	struct sockaddr_un sun;
	struct msghdr msg;
	struct cmsghdr *c;
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, MXS_READERS_SOCK);
	if (s < 0 || connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("hostile_reader: connect");
		exit(2);
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfd > 0) {
		memset(&cb, 0, sizeof(cb));
		msg.msg_control = cb.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfd);
	}
	if (sendmsg(s, &msg, MSG_NOSIGNAL) < 0)
		return -1000;
	if (recv(s, &ra, sizeof(ra), 0) != (ssize_t)sizeof(ra))
		return -1000;
	*sock = s;
	return ra.ra_error;
}

static int bad_one(const char *dir, const char *how)
{
	void *map = NULL;
	int fds[2], nfd = 1, s = -1, rc;
	char path[] = "/tmp/hostile-block.XXXXXX";
	uint64_t so, ro;

	if (strcmp(how, "unsealed") == 0)
		fds[0] = make_block(0, 0, &map);
	else if (strcmp(how, "size") == 0)
		fds[0] = make_block(1, 4096, &map);
	else if (strcmp(how, "slots") == 0) {
		req_nslots = MXS_SLOTS_MAX;
		fds[0] = make_block_n(MXS_SLOTS_MAX, 1, 0, &map);
	}
	else if (strcmp(how, "tcp") == 0)
		fds[0] = lingering_socket();
	else if (strcmp(how, "file") == 0) {
		fds[0] = mkstemp(path);
		unlink(path);
		if (ftruncate(fds[0], (off_t)mxc_rblock_geometry(NSLOTS, &so, &ro)) != 0)
			return 2;
	} else if (strcmp(how, "nofd") == 0)
		nfd = 0;
	else if (strcmp(how, "fds") == 0) {
		fds[0] = make_block(1, 0, &map);
		fds[1] = make_block(1, 0, &map);
		nfd = 2;
	} else
		return 2;
	rc = reg(dir, fds, nfd, &s);
	printf("%s: %s\n", how, rc == 0 ? "accepted" : rc == -1000 ? "closed" : strerror(rc));
	return rc == 0;
}

static void noise(void *p, size_t len)
{
	uint8_t *b = p;
	size_t k;

	for (k = 0; k < len; k += 256)
		(void)!getrandom(b + k, len - k < 256 ? len - k : 256, 0);
}

int main(int argc, char **argv)
{
	uint64_t so, ro, size = mxc_rblock_geometry(NSLOTS, &so, &ro);
	struct mxc_shm_rblock *blk;
	time_t end;
	void *map;
	int fd, s, rc, i, n, ok = 0;

	if (argc < 3)
		return 2;
	if (strcmp(argv[2], "garbage") == 0 && argc == 4) {
		fd = make_block(1, 0, &map);
		rc = reg(argv[1], &fd, 1, &s);
		printf("garbage: %s\n", rc == 0 ? "accepted" : "refused");
		fflush(stdout);
		if (rc != 0)
			return 1;
		blk = map;
		end = time(NULL) + atoi(argv[3]);
		while (time(NULL) < end) {
			noise(map, size);
			memset(blk->rb_claimed, 0xff, sizeof(blk->rb_claimed));
			usleep(1000);
		}
		return 0;
	}
	if (strcmp(argv[2], "bells") == 0 && argc == 4) {
		static char big[4096];
		unsigned long rung = 0;
		struct pollfd pf;

		fd = make_block(1, 0, &map);
		if (reg(argv[1], &fd, 1, &s) != 0)
			return 1;
		end = time(NULL) + atoi(argv[3]);
		while (time(NULL) < end) {
			for (i = 0; i < 1000; i++) {
				if (send(s, big, i % 2 ? 1 : sizeof(big), MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
					rung++;
				else if (errno != EAGAIN)
					return 1;
			}
		}
		/* still connected: the daemon took none of it for a departure */
		pf.fd = s;
		pf.events = POLLIN;
		pf.revents = 0;
		if (poll(&pf, 1, 0) != 0)
			return 1;
		printf("rang %lu, still registered\n", rung);
		return 0;
	}
	if (strcmp(argv[2], "many") == 0 && argc == 5) {
		n = atoi(argv[3]);
		for (i = 0; i < n; i++) {
			fd = make_block(1, 0, &map);
			if (fd >= 0 && reg(argv[1], &fd, 1, &s) == 0)
				ok++;
			if (fd >= 0) {
				close(fd);
				munmap(map, size);
			}
		}
		printf("accepted %d\n", ok);
		fflush(stdout);
		sleep((unsigned)atoi(argv[4]));
		return 0;
	}
	if (strcmp(argv[2], "silent") == 0 && argc == 5) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", argv[1], MXS_READERS_SOCK);
		n = atoi(argv[3]);
		for (i = 0; i < n; i++) {
			s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			if (s >= 0 && connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0)
				ok++;
		}
		printf("connected %d\n", ok);
		fflush(stdout);
		sleep((unsigned)atoi(argv[4]));
		return 0;
	}
	return bad_one(argv[1], argv[2]);
}
