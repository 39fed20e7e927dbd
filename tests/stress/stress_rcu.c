/*
 * stress_rcu - readers against a writer changing values as fast as it can.
 *
 *   stress_rcu procs [seconds]    reader processes x threads, writer in
 *                                 the parent (the real cross-process case)
 *   stress_rcu threads [seconds]  writer and readers as threads of one
 *                                 process (what ThreadSanitizer can see)
 *   stress_rcu kill [rounds]      reader processes killed with SIGKILL at
 *                                 random points inside lookups, while the
 *                                 writer publishes and reclaims
 *   stress_rcu stall              a reader stopped inside a read holds back
 *                                 reclamation only; publishing goes on
 *
 * The invariant built into every value: key k<i>.stress.test always maps to
 * v<version>.k<i>.stress.test, versions only grow, and a key is never
 * absent (updates replace in place; the deletable keys have their own
 * range).  A reader that sees a target of another key, a version older
 * than one it saw before, a missing key, or ECORRUPT, counts an error: that
 * would be a torn read or a read of freed memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/region_int.h"
#include "shm/override.h"
#include "shm/path.h"
#include "tests/tap.h"

#define NKEYS        2000      /* keys that always exist */
#define NDEL         500       /* keys deleted and re-added */
#define NREADERS     3
#define NTHREADS     2
#define GROW_KEYS    60000     /* added mid-run: forces table + region growth */

struct shared {
	int stop;              /* __atomic: readers poll it */
	uint64_t lookups[NREADERS * NTHREADS + 8];
	uint64_t errors[NREADERS * NTHREADS + 8];
	char first_error[256];
};

static char dir[] = "/tmp/mxc-stress.XXXXXX";
static struct shared *sh;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put(struct region *r, const char *key, const char *target)
{
	uint8_t val[MXS_OV_VALUE_MAX];
	size_t vlen = mxc_ov_value_encode(val, 1, 2, target, strlen(target), "stress", 6);

	if (region_put(r, MXS_TAB_OVERRIDE, key, strlen(key), val, vlen, NULL, 0) < 0) {
		fprintf(stderr, "stress: put %s: %s\n", key, strerror(errno));
		exit(2);
	}
}

static void note_error(const char *what, const char *key, const char *got)
{
	if (sh->first_error[0] == '\0')
		snprintf(sh->first_error, sizeof(sh->first_error), "%.40s %.60s: %.120s", what, key, got);
}

/* One reader: random keys, check the invariant, until stop. */
static void reader(mxc_t *h, int id, uint64_t max_lookups)
{
	uint32_t last[NKEYS + NDEL];
	char key[64], host[MXC_HOST_MAX + 1], want_suffix[64];
	unsigned seed = (unsigned)(id * 7919 + getpid());
	uint64_t n = 0;

	memset(last, 0, sizeof(last));
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) && (max_lookups == 0 || n < max_lookups)) {
		int i = rand_r(&seed) % (NKEYS + NDEL), rc;
		char *end;
		unsigned long v;

		snprintf(key, sizeof(key), "k%d.stress.test", i);
		rc = mxc_resolve(h, key, host, sizeof(host));
		n++;
		if (rc == MXC_NOTFOUND && i >= NKEYS)
			continue;
		if (rc != MXC_OK) {
			__atomic_add_fetch(&sh->errors[id], 1, __ATOMIC_RELAXED);
			note_error("lookup of", key, mxc_strerror(rc));
			continue;
		}
		want_suffix[0] = '.';
		memcpy(want_suffix + 1, key, strlen(key) + 1);
		v = strtoul(host + 1, &end, 10);
		if (host[0] != 'v' || strcmp(end, want_suffix) != 0 || v < last[i]) {
			__atomic_add_fetch(&sh->errors[id], 1, __ATOMIC_RELAXED);
			note_error("torn or stale answer for", key, host);
			continue;
		}
		last[i] = (uint32_t)v;
	}
	__atomic_add_fetch(&sh->lookups[id], n, __ATOMIC_RELAXED);
}

struct rarg {
	mxc_t *h;
	int id;
};

static void *reader_thread(void *p)
{
	struct rarg *a = p;

	reader(a->h, a->id, 0);
	return NULL;
}

static void reader_process(int base)
{
	pthread_t t[NTHREADS];
	struct rarg a[NTHREADS];
	mxc_t *h;
	int i;

	if (mxc_open(dir, &h) != MXC_OK)
		_exit(3);
	for (i = 0; i < NTHREADS; i++) {
		a[i].h = h;
		a[i].id = base + i;
		pthread_create(&t[i], NULL, reader_thread, &a[i]);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	mxc_close(h);
	_exit(0);
}

static struct region *setup(void)
{
	struct region_opts o;
	struct region *r;
	char key[64], tgt[80];
	int i;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.nslots = 256;
	o.gid = (gid_t)-1;
	if (region_create(&o, 0, &r) != 0)
		exit(2);
	for (i = 0; i < NKEYS + NDEL; i++) {
		snprintf(key, sizeof(key), "k%d.stress.test", i);
		snprintf(tgt, sizeof(tgt), "v1.%s", key);
		put(r, key, tgt);
	}
	region_publish(r);
	if (region_go_live(r) != 0)
		exit(2);
	return r;
}

/* The writer: update, delete/re-add, grow once, for the given time.
 * Returns the number of published changes. */
static uint64_t writer(struct region *r, double seconds)
{
	double t0 = now_s(), grow_at = t0 + seconds / 3;
	uint32_t ver[NKEYS + NDEL];
	char key[64], tgt[80];
	uint64_t changes = 0;
	unsigned seed = 42;
	int grown = 0, i;

	for (i = 0; i < NKEYS + NDEL; i++)
		ver[i] = 1;
	while (now_s() - t0 < seconds) {
		for (int b = 0; b < 256; b++) {
			i = rand_r(&seed) % (NKEYS + NDEL);
			snprintf(key, sizeof(key), "k%d.stress.test", i);
			if (i >= NKEYS && rand_r(&seed) % 4 == 0) {
				region_del(r, MXS_TAB_OVERRIDE, key, strlen(key));
			} else {
				snprintf(tgt, sizeof(tgt), "v%u.%s", ++ver[i], key);
				put(r, key, tgt);
			}
			changes++;
		}
		region_publish(r);
		region_tick(r);
		if (!grown && now_s() > grow_at) {
			/* unrelated keys: the table doubles and the region is
			 * rebuilt under the readers' feet */
			for (i = 0; i < GROW_KEYS; i++) {
				snprintf(key, sizeof(key), "g%d.grow.test", i);
				put(r, key, "10.0.0.1");
			}
			region_publish(r);
			grown = 1;
		}
	}
	return changes;
}

static void cleanup(void)
{
	char p[MXS_SHM_PATH_MAX];
	struct stat st;

	if (stat(dir, &st) == 0) {
		mxc_shm_path(p, sizeof(p), mxc_shm_dir(), st.st_dev, st.st_ino, "data");
		unlink(p);
		mxc_shm_path(p, sizeof(p), mxc_shm_dir(), st.st_dev, st.st_ino, "readers");
		unlink(p);
		rmdir(dir);
	}
}

static uint64_t sum(const uint64_t *v)
{
	uint64_t s = 0;

	for (int i = 0; i < NREADERS * NTHREADS + 8; i++)
		s += v[i];
	return s;
}

static void report(const char *what)
{
	ok(sum(sh->errors) == 0, "%s: %" PRIu64 " lookups, no torn, stale or freed read", what, sum(sh->lookups));
	if (sum(sh->errors) != 0)
		printf("#   %" PRIu64 " errors, first: %s\n", sum(sh->errors), sh->first_error);
}

static void drain_check(struct region *r, mxc_t *h, const char *what)
{
	struct mxc_status st;

	/* a full sweep frees dead readers' slots; two grace periods drain */
	for (int i = 0; i < 4; i++) {
		usleep(2000);
		region_reclaim(r, 1);
	}
	mxc_status(h, &st);
	is_int(st.arena_limbo, 0, what);
}

static int mode_procs(double seconds)
{
	struct region *r = setup();
	pid_t pids[NREADERS];
	uint64_t changes;
	mxc_t *h;
	int i, status, clean = 1;

	for (i = 0; i < NREADERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			reader_process(i * NTHREADS);
	}
	changes = writer(r, seconds);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NREADERS; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			clean = 0;
	ok(clean, "%d reader processes x %d threads exited cleanly", NREADERS, NTHREADS);
	ok(changes > 1000, "writer published %" PRIu64 " changes", changes);
	report("processes");
	if (mxc_open(dir, &h) == MXC_OK) {
		drain_check(r, h, "limbo drains once the readers are gone");
		mxc_close(h);
	}
	region_close(r);
	return 0;
}

static struct region *thr_region;
static double thr_seconds;

static void *writer_thread(void *p)
{
	(void)p;
	writer(thr_region, thr_seconds);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

static int mode_threads(double seconds)
{
	pthread_t w, t[NTHREADS * 2];
	struct rarg a[NTHREADS * 2];
	mxc_t *h;
	int i;

	thr_region = setup();
	thr_seconds = seconds;
	if (mxc_open(dir, &h) != MXC_OK)
		return 1;
	for (i = 0; i < NTHREADS * 2; i++) {
		a[i].h = h;
		a[i].id = i;
		pthread_create(&t[i], NULL, reader_thread, &a[i]);
	}
	pthread_create(&w, NULL, writer_thread, NULL);
	pthread_join(w, NULL);
	for (i = 0; i < NTHREADS * 2; i++)
		pthread_join(t[i], NULL);
	report("threads");
	drain_check(thr_region, h, "limbo drains once the reader threads stop");
	mxc_close(h);
	region_close(thr_region);
	return 0;
}

struct claimed_q {
	int n;
};

/* slots held by anyone but this process (which holds one for its own
 * status reads) */
static int count_claimed(const struct mxc_reader *rd, void *arg)
{
	if (rd->pid != (uint32_t)getpid())
		((struct claimed_q *)arg)->n++;
	return 0;
}

static int mode_kill(int rounds)
{
	struct region *r = setup();
	struct claimed_q q = {0};
	struct mxc_status st;
	unsigned seed = 7;
	mxc_t *h;
	int i, killed = 0;

	for (i = 0; i < rounds; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			mxc_t *hc;
			if (mxc_open(dir, &hc) != MXC_OK)
				_exit(3);
			reader(hc, (int)(i % 4), 0);
			_exit(0);
		}
		/* keep publishing while the reader runs, then kill it at a
		 * random point; it spends nearly all its time in lookups */
		for (int b = 0; b < 1 + rand_r(&seed) % 4; b++) {
			char key[64], tgt[80];
			int k = rand_r(&seed) % NKEYS;
			snprintf(key, sizeof(key), "k%d.stress.test", k);
			snprintf(tgt, sizeof(tgt), "v%d.%s", 1000000 + i * 8 + b, key);
			put(r, key, tgt);
			region_publish(r);
			usleep((useconds_t)(rand_r(&seed) % 400));
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		killed++;
		region_tick(r);
	}
	ok(killed == rounds, "%d readers killed with SIGKILL during lookups", killed);
	report("readers around the kills");
	if (mxc_open(dir, &h) != MXC_OK)
		return 1;
	drain_check(r, h, "writer reclaims everything despite the dead readers");
	mxc_readers_foreach(h, count_claimed, &q);
	is_int(q.n, 0, "no leftover reader slots after the dead are detected");
	mxc_status(h, &st);
	ok(st.size < 64u << 20, "region stayed bounded (%" PRIu64 " MiB)", st.size >> 20);
	mxc_close(h);
	region_close(r);
	return 0;
}

static int stall_cb(const struct mxc_override *o, void *arg)
{
	(void)o;
	(void)arg;
	raise(SIGSTOP);   /* stopped inside the read-side critical section */
	return 1;
}

static int stalled_q(const struct mxc_reader *rd, void *arg)
{
	if (rd->state == MXC_READER_STALLED)
		((struct claimed_q *)arg)->n++;
	return 0;
}

static int mode_stall(void)
{
	struct region *r = setup();
	struct claimed_q q = {0};
	struct mxc_status st0, st1;
	char key[64], tgt[80];
	uint64_t gen0;
	pid_t pid;
	mxc_t *h;
	int status, i;

	pid = fork();
	if (pid == 0) {
		mxc_t *hc;
		if (mxc_open(dir, &hc) != MXC_OK)
			_exit(3);
		mxc_override_foreach(hc, stall_cb, NULL);
		_exit(0);
	}
	waitpid(pid, &status, WUNTRACED);
	ok(WIFSTOPPED(status), "reader stopped inside a read");
	if (mxc_open(dir, &h) != MXC_OK)
		return 1;
	mxc_status(h, &st0);
	gen0 = st0.generation;
	/* few enough changes that the region need not grow: a grown region
	 * is a new incarnation the stopped reader holds nothing of */
	for (i = 0; i < 4000; i++) {
		snprintf(key, sizeof(key), "k%d.stress.test", i % NKEYS);
		snprintf(tgt, sizeof(tgt), "v%d.%s", 2000000 + i, key);
		put(r, key, tgt);
		if (i % 100 == 0) {
			region_publish(r);
			region_tick(r);
		}
	}
	region_publish(r);
	usleep(2000);
	region_reclaim(r, 1);
	mxc_status(h, &st1);
	ok(st1.generation >= gen0 + 40, "publishing goes on past a stopped reader");
	is_int(st1.incarnation, st0.incarnation, "(same region: nothing grew)");
	ok(st1.arena_limbo > 0, "reclamation waits for it (%" PRIu64 " KiB held)", st1.arena_limbo >> 10);
	mxc_readers_foreach(h, stalled_q, &q);
	is_int(q.n, 1, "shmctl readers shows it stalled");
	is_int(mxc_resolve(h, "k5.stress.test", tgt, sizeof(tgt)), MXC_OK, "other readers are not delayed");
	kill(pid, SIGCONT);
	waitpid(pid, &status, 0);
	drain_check(r, h, "limbo drains once it resumes and leaves");
	mxc_close(h);
	region_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "procs";
	double arg = argc > 2 ? atof(argv[2]) : 0;
	int rc = 1;

	log_init(1, LOG_WARNING);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || mkdtemp(dir) == NULL)
		return 1;
	if (strcmp(mode, "procs") == 0)
		rc = mode_procs(arg > 0 ? arg : 3);
	else if (strcmp(mode, "threads") == 0)
		rc = mode_threads(arg > 0 ? arg : 3);
	else if (strcmp(mode, "kill") == 0)
		rc = mode_kill(arg > 0 ? (int)arg : 300);
	else if (strcmp(mode, "stall") == 0)
		rc = mode_stall();
	else
		fprintf(stderr, "usage: stress_rcu procs|threads|kill|stall [arg]\n");
	cleanup();
	if (rc != 0)
		ok(0, "stress_rcu %s could not run", mode);
	return tap_done();
}
