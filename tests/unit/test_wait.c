/*
 * test_wait - waiting for the daemon (client/wait.c): a shared futex on a
 * read-only MAP_SHARED mapping is woken from another process's writable
 * mapping of the file; mxc_wait_change wakes on a publish and on a region
 * replaced, and times out otherwise; mxc_sts_wait asks for the check and
 * returns as soon as the writer publishes the domain's entry, or
 * MXC_NOTFOUND when the time runs out.  The writer and the waiting client
 * threads share this process, so ThreadSanitizer sees both sides.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/readers.h"
#include "daemon/region.h"
#include "daemon/region_int.h"
#include "daemon/sts.h"
#include "shm/events.h"
#include "shm/readers.h"
#include "tests/fixture.h"
#include "tests/tap.h"

#define LONG_MS 20000            /* a wait that must end well before this */
#define PROMPT_MS 10000          /* "well before": generous for sanitizers */

static char dir[] = "/tmp/mxc-test-wait.XXXXXX";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

/* ---- the mechanism: FUTEX_WAIT on a read-only shared mapping ---- */

static void futex_read_only(void)
{
	char path[] = "/tmp/mxc-test-futex.XXXXXX";
	struct timespec ts = { 0, 20 * 1000000L };
	uint32_t *rw, *ro;
	int fd, st = -1;
	pid_t pid;
	long rc;

	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 4096) != 0) {
		ok(0, "a file to map: %s", strerror(errno));
		return;
	}
	unlink(path);
	rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (rw == MAP_FAILED || ro == MAP_FAILED) {
		ok(0, "mappings: %s", strerror(errno));
		close(fd);
		return;
	}
	rc = futex(ro, FUTEX_WAIT, 1, &ts);
	ok(rc == -1 && errno == EAGAIN, "FUTEX_WAIT on a read-only mapping reads the word (EAGAIN, not EFAULT)");
	rc = futex(ro, FUTEX_WAIT, 0, &ts);
	ok(rc == -1 && errno == ETIMEDOUT, "and sleeps on it (ETIMEDOUT after 20 ms)");

	pid = fork();
	if (pid == 0) {
		/* the client: read-only, another process */
		struct timespec lim = { LONG_MS / 1000, 0 };

		rc = futex(ro, FUTEX_WAIT, 0, &lim);
		_exit(rc == 0 || (rc == -1 && errno == EAGAIN) ? 0 : 1);
	}
	usleep(100 * 1000);
	__atomic_store_n(rw, 1, __ATOMIC_RELEASE);
	futex(rw, FUTEX_WAKE, INT32_MAX, NULL);   /* shared: no FUTEX_PRIVATE_FLAG */
	if (pid > 0)
		waitpid(pid, &st, 0);
	ok(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a process asleep on its read-only mapping is woken through another's writable one");
	munmap(rw, 4096);
	munmap(ro, 4096);
	close(fd);
}

/* ---- mxc_wait_change and mxc_sts_wait against a writer ---- */

struct waiter {
	mxc_t *h;
	const char *domain;          /* NULL: mxc_wait_change */
	uint64_t seen, gen;
	int timeout_ms;
	int rc;
	uint64_t ms;
	int done;                    /* atomic */
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = now_ms();

	if (w->domain != NULL)
		w->rc = mxc_sts_wait(w->h, w->domain, w->timeout_ms);
	else
		w->rc = mxc_wait_change(w->h, w->seen, w->timeout_ms, &w->gen);
	w->ms = now_ms() - t0;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct take_q {
	int type, n;
	const char *name;
};

static void take_one(void *arg, uint64_t src, uint32_t pid, const struct mxc_event *ev)
{
	struct take_q *q = arg;

	(void)src;
	(void)pid;
	if (ev->e_type == q->type && ev->e_nlen == strlen(q->name) && memcmp(ev->e_name, q->name, ev->e_nlen) == 0)
		q->n++;
}

/* Until the daemon's side sees an event of type for name (up to LONG_MS). */
static int event_seen(struct region *r, int type, const char *name)
{
	struct take_q q = { type, 0, name };
	uint64_t end = now_ms() + LONG_MS;

	while (q.n == 0 && now_ms() < end) {
		while (readers_drain(region_readers(r), 1, take_one, &q) != 0)
			;
		if (q.n == 0)
			usleep(10 * 1000);
	}
	return q.n > 0;
}

static void put_none(struct region *r, const char *domain)
{
	struct sts_rec *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return;
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	p->kind = MXS_STS_KIND_NONE;
	p->inserted = p->last_update = p->last_use = (int64_t)time(NULL);
	p->valid_end = (int64_t)time(NULL) + 300;
	p->next_check = INT64_MAX;
	ok(sts_region_put(r, p) == 0, "the writer puts %s's entry", domain);
	free(p);
}

static void waits(void)
{
	struct region *r;
	struct waiter w;
	pthread_t t;
	uint64_t g = 0, g2 = 0;
	mxc_t *h;

	if (fixture_dir(dir) != 0 || fixture_region(dir, 16, &r) != 0 || region_go_live(r) != 0) {
		ok(0, "region");
		return;
	}
	region_publish(r);
	if (!ok(mxc_open(dir, &h) == MXC_OK, "mxc_open")) {
		fixture_cleanup(dir, r);
		return;
	}

	is_int(mxc_wait_change(h, 0, 0, &g), MXC_OK, "wait_change, seen 0: at once, with the generation");
	ok(g > 0, "  generation %llu", (unsigned long long)g);
	is_int(mxc_wait_change(h, g, -1, NULL), MXC_EINVAL, "a negative timeout: EINVAL");
	is_int(mxc_wait_change(NULL, g, 0, NULL), MXC_EINVAL, "no handle: EINVAL");
	is_int(mxc_wait_change(h, g - 1, 1000, &g2), MXC_OK, "an older generation: a change already");
	{
		uint64_t t0 = now_ms();

		is_int(mxc_wait_change(h, g, 200, &g2), MXC_NOTFOUND, "nothing published: NOTFOUND");
		ok(now_ms() - t0 >= 150, "  after the time ran out (%llu ms)", (unsigned long long)(now_ms() - t0));
	}

	/* a publish wakes a waiter */
	memset(&w, 0, sizeof(w));
	w.h = h;
	w.seen = g;
	w.timeout_ms = LONG_MS;
	pthread_create(&t, NULL, wait_thread, &w);
	usleep(100 * 1000);
	ok(!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE), "a waiter sleeps while nothing is published");
	put_none(r, "pub.example");
	region_publish(r);
	pthread_join(t, NULL);
	is_int(w.rc, MXC_OK, "a publish wakes it: MXC_OK");
	ok(w.ms < PROMPT_MS, "  promptly (%llu ms)", (unsigned long long)w.ms);
	ok(w.gen > g, "  with the new generation");
	g = w.gen;

	/* a region replaced wakes a waiter: a change */
	memset(&w, 0, sizeof(w));
	w.h = h;
	w.seen = g;
	w.timeout_ms = LONG_MS;
	pthread_create(&t, NULL, wait_thread, &w);
	usleep(100 * 1000);
	is_int(region_grow(r, 1024), 0, "the writer replaces the region (grows it)");
	pthread_join(t, NULL);
	is_int(w.rc, MXC_OK, "a region replaced counts as a change");
	ok(w.ms < PROMPT_MS, "  promptly (%llu ms)", (unsigned long long)w.ms);

	/* mxc_sts_wait: the check asked for, and the entry published */
	is_int(mxc_sts_wait(h, "pub.example", 0), MXC_OK, "sts_wait: an entry cached already: at once");
	is_int(mxc_sts_wait(h, "[192.0.2.1]", 100), MXC_EINVAL, "sts_wait: an IP literal: EINVAL");
	is_int(mxc_sts_wait(h, "192.0.2.1", 100), MXC_EINVAL, "sts_wait: an IPv4 address: EINVAL");
	is_int(mxc_sts_wait(h, "bad..name", 100), MXC_EINVAL, "sts_wait: not a domain: EINVAL");
	is_int(mxc_sts_wait(h, "x.example", -1), MXC_EINVAL, "sts_wait: a negative timeout: EINVAL");
	memset(&w, 0, sizeof(w));
	w.h = h;
	w.domain = "first.example";
	w.timeout_ms = LONG_MS;
	pthread_create(&t, NULL, wait_thread, &w);
	ok(event_seen(r, MXS_EV_STS_FETCH, "first.example"), "sts_wait asks the daemon for the check");
	usleep(50 * 1000);
	ok(!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE), "  and sleeps until it is done");
	put_none(r, "other.example");
	region_publish(r);
	usleep(50 * 1000);
	ok(!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE), "  another domain's publish does not end it");
	put_none(r, "first.example");
	region_publish(r);
	pthread_join(t, NULL);
	is_int(w.rc, MXC_OK, "the domain's entry published: MXC_OK");
	ok(w.ms < PROMPT_MS, "  well before the timeout (%llu ms)", (unsigned long long)w.ms);

	memset(&w, 0, sizeof(w));
	w.h = h;
	w.domain = "never.example";
	w.timeout_ms = 300;
	pthread_create(&t, NULL, wait_thread, &w);
	pthread_join(t, NULL);
	is_int(w.rc, MXC_NOTFOUND, "a check that does not finish: MXC_NOTFOUND");
	ok(w.ms >= 250, "  after the timeout (%llu ms)", (unsigned long long)w.ms);

	mxc_close(h);
	fixture_cleanup(dir, r);
}

int main(void)
{
	log_init(1, LOG_WARNING);
	futex_read_only();
	waits();
	return tap_done();
}
