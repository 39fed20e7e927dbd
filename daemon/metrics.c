/*
 * daemon/metrics.c - GET /metrics on a loopback address.
 *
 * One thread, one connection at a time: a scraper asks every few seconds,
 * and a client that sends nothing is cut off after METRICS_IO_TIMEOUT_MS,
 * so at worst a stuck peer delays the next scrape by that much.  The
 * request is read up to the end of its header block, at most
 * METRICS_REQ_MAX bytes; only GET (and HEAD) of /metrics is served.  A
 * full HTTP library would be more code than this endpoint: the protocol
 * needed is one request line and one response.
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "clock.h"
#include "readers.h"
#include "region.h"
#include "shm/events.h"
#include "shm/metrics.h"
#include "shm/path.h"

#define METRICS_REQ_MAX        8192     /* request line and headers */
#define METRICS_IO_TIMEOUT_MS  2000     /* per request, reading and writing */
#define METRICS_BODY_START     16384    /* grows if the text needs more */
#define METRICS_STALE_MS       5000     /* a heartbeat older than this: writer gone */

struct metrics {
	int lfd, stopfd;
	pthread_t thread;
	int started;
	struct region *rg;
	char data_path[MXS_SHM_PATH_MAX];
	char addr[64];
};

/*
 * Format the metrics into *buf (grown as needed).  The header page of
 * the data file is mapped read-only for this one scrape: opened by name,
 * it is always the current file, whatever growth did.  Returns the text's
 * length, or -1.
 */
static long metrics_text(struct metrics *m, char **buf, size_t *cap)
{
	struct mxc_metrics_in in;
	const struct mxc_shm_hdr *h;
	struct readers_totals rt;
	struct stat sb;
	void *map = MAP_FAILED;
	size_t need;
	long rc = -1;
	int fd;
	char *nb;

	fd = open(m->data_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &sb) != 0 || sb.st_size < MXS_SHM_HDR_SIZE)
		goto out;
	map = mmap(NULL, MXS_SHM_HDR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		goto out;
	h = map;
	if (h->h_magic != MXS_SHM_MAGIC || h->h_layout != MXS_SHM_LAYOUT)
		goto out;
	memset(&in, 0, sizeof(in));
	in.hdr = h;
	readers_totals_listed(region_readers(m->rg), &rt);
	in.procs = rt.procs;
	in.nslots = rt.slots;
	in.slots_claimed = rt.claimed;
	in.events_posted = rt.posted;
	in.events_dropped = rt.dropped;
	in.writer_running = wall_ms() - mxa_load64(&h->h_heartbeat_ms) < METRICS_STALE_MS;
	for (;;) {
		need = mxc_metrics_format(*buf, *cap, &in);
		if (need < *cap)
			break;
		nb = realloc(*buf, need + 1);
		if (nb == NULL)
			goto out;
		*buf = nb;
		*cap = need + 1;
	}
	rc = (long)need;
out:
	if (map != MAP_FAILED)
		munmap(map, MXS_SHM_HDR_SIZE);
	if (fd != -1)
		close(fd);
	return rc;
}

/* Write all of p within the connection's send timeout.  0, or -1. */
static int send_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void reply(int fd, const char *status, const char *ctype, const char *body, size_t blen, int head)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
			 ctype, blen);

	if (n > 0 && (size_t)n < sizeof(hdr) && send_all(fd, hdr, (size_t)n) == 0 && !head)
		(void)send_all(fd, body, blen);
}

static void serve(struct metrics *m, int fd, char **body, size_t *cap)
{
	struct timeval tv = { METRICS_IO_TIMEOUT_MS / 1000, (METRICS_IO_TIMEOUT_MS % 1000) * 1000 };
	char req[METRICS_REQ_MAX + 1], method[8], path[64];
	size_t got = 0;
	ssize_t n;
	long len;
	int head;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return;
	while (got < METRICS_REQ_MAX) {
		n = recv(fd, req + got, METRICS_REQ_MAX - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;                 /* gone, or too slow: nothing to answer */
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
			break;
	}
	req[got] = '\0';
	if (got >= METRICS_REQ_MAX || sscanf(req, "%7s %63s", method, path) != 2) {
		reply(fd, "400 Bad Request", "text/plain", "bad request\n", 12, 0);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		reply(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9, 0);
		return;
	}
	if (strcmp(path, "/metrics") != 0 && strncmp(path, "/metrics?", 9) != 0) {
		reply(fd, "404 Not Found", "text/plain", "see /metrics\n", 13, head);
		return;
	}
	len = metrics_text(m, body, cap);
	if (len < 0) {
		reply(fd, "503 Service Unavailable", "text/plain", "no region\n", 10, head);
		return;
	}
	reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", *body, (size_t)len, head);
}

static void *metrics_main(void *arg)
{
	struct metrics *m = arg;
	struct pollfd pfd[2];
	size_t cap = METRICS_BODY_START;
	char *body = malloc(cap);
	int fd;

	pthread_setname_np(pthread_self(), "metrics");
	if (body == NULL) {
		log_warnx("metrics: out of memory: %s not served", m->addr);
		return NULL;
	}
	for (;;) {
		pfd[0].fd = m->lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = m->stopfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("metrics: poll");
			break;
		}
		if (pfd[1].revents != 0)
			break;
		fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1)
			continue;    /* ECONNABORTED, EMFILE: the next poll tries again */
		serve(m, fd, &body, &cap);
		close(fd);
	}
	free(body);
	return NULL;
}

int metrics_start(const struct config *cfg, const char *dir, struct region *rg, struct metrics **out, char *err,
		  size_t errlen)
{
	struct metrics *m;
	struct stat sb;
	int one = 1;

	*out = NULL;
	if (!cfg->metrics_has_listen)
		return 0;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	m->lfd = -1;
	m->stopfd = -1;
	m->rg = rg;
	snprintf(m->addr, sizeof(m->addr), "%s", cfg->metrics_listen.text);
	if (stat(dir, &sb) != 0 ||
	    mxc_shm_path(m->data_path, sizeof(m->data_path), cfg->shm_dir, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino,
			 "data") != 0) {
		snprintf(err, errlen, "metrics: %s: %s", dir, strerror(errno));
		goto fail;
	}
	m->lfd = socket(cfg->metrics_listen.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->lfd == -1 || setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(m->lfd, (const struct sockaddr *)&cfg->metrics_listen.ss, cfg->metrics_listen.len) != 0 ||
	    listen(m->lfd, 16) != 0) {
		snprintf(err, errlen, "metrics: listen on %s: %s", m->addr, strerror(errno));
		goto fail;
	}
	m->stopfd = eventfd(0, EFD_CLOEXEC);
	if (m->stopfd == -1) {
		snprintf(err, errlen, "metrics: eventfd: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) {
		snprintf(err, errlen, "metrics: cannot start the thread");
		goto fail;
	}
	m->started = 1;
	log_info("metrics: serving http://%s/metrics", m->addr);
	*out = m;
	return 0;
fail:
	metrics_stop(m);
	return -1;
}

void metrics_stop(struct metrics *m)
{
	uint64_t one = 1;

	if (m == NULL)
		return;
	if (m->started) {
		if (write(m->stopfd, &one, sizeof(one)) != sizeof(one))
			log_warn("metrics: eventfd write");
		pthread_join(m->thread, NULL);
	}
	if (m->stopfd != -1)
		close(m->stopfd);
	if (m->lfd != -1)
		close(m->lfd);
	free(m);
}
