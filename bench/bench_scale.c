/*
 * bench_scale - how mxcache holds up as readers, writes and entries grow.
 *
 *   bench_scale [--quick] [--entries N] [--csv FILE]
 *
 * One region of N endpoint overrides (default 1,000,000; --quick 100,000)
 * is built in-process through the writer's own code (daemon/region.h) in a
 * private state directory, with the same key and target shapes as
 * bench_resolve.c.  Then:
 *
 *   1. Readers scaling.  For P = 1 .. the online CPUs, P reader processes
 *      (fork, mxc_open, each pinned to its own CPU) do uniformly random
 *      hit lookups for a fixed time; aggregate lookups/s and the efficiency
 *      aggregate / (P x the P = 1 rate).
 *   2. Reader latency under writer load.  One reader process times
 *      batches of BATCH lookups (as bench_resolve.c does) while this
 *      process, as the daemon's writer would, changes the targets of random
 *      existing keys with region_put + region_publish at 0, 10,000 and
 *      100,000 updates/s (paced), ticking every WRITER_TICK_MS.  Reader and
 *      writer sit on different CPUs.
 *   3. Writer.  (a) in-process updates/s, one publish per change and one
 *      per PUBLISH_BATCH changes; (b) the real daemon: build/mxcached on a
 *      fresh state directory, SET over ctl.sock one at a time (each waits
 *      for its OK): acknowledged changes/s, and the visibility latency, the
 *      time a separate reader process, polling mxc_resolve in a tight
 *      loop, first sees the new target minus the time the OK arrived (both
 *      CLOCK_MONOTONIC).  Negative: visible before the OK was read.
 *   4. Memory: region bytes per entry (arena in use, file size, file pages
 *      actually allocated) against the raw key + target bytes per entry,
 *      fresh and again after the updates of phases 2 and 3.
 *   Restart is not here: tools/bench.sh times it.
 *
 * Progress goes to stderr, the tables to stdout, rows
 * "benchmark,param,metric,value,unit" to --csv FILE.
 *
 * Figures are reported, never judged: there is no pass or fail.  The exit
 * status is 0 unless something broke (set-up error, a wrong answer, a
 * process crashing, the daemon failing).  Every process started here and
 * every temporary file (state directories, /dev/shm region files) is
 * removed on every way out short of SIGKILL; the children also die with
 * this process (PR_SET_PDEATHSIG).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#define BENCH_NAME "bench_scale"
#include "bench/common.h"
#include "bench/harness.h"
#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/writer.h"
#include "shm/ctl.h"
#include "shm/override.h"
#include "shm/path.h"

/* --- sizes, counts, times --------------------------------------------------- */

#define ENTRIES_FULL      1000000u
#define ENTRIES_QUICK     100000u
#define ENTRIES_MIN       1000u
#define ENTRIES_MAX       20000000u   /* keys are 48 B each here: ~1 GB of them */

#define HOST_BUF          (MXC_HOST_MAX + 1)

/* The lookup stream: keys copied in uniformly random order into one array
 * that readers walk sequentially, so fetching the next key costs what it
 * costs a mail server holding it in cache, not a cache miss of its own.
 * Power of two (index by mask); 48 MiB. */
#define STREAM_LEN        (1u << 20)
#define STREAM_KEY        44          /* key bytes in a stream entry */

#define BUILD_PUBLISH     4096        /* region_put()s per region_publish() while building */
#define REGION_SLOTS_MIN  64          /* reader slots: all our readers, plenty spare */

/* phase 1 */
#define SCALE_S_FULL      2.0         /* timed window per P */
#define SCALE_S_QUICK     0.5
#define WARM_S_FULL       0.25        /* random lookups before a timed window */
#define WARM_S_QUICK      0.05
#define CHECK_EVERY       256         /* lookups between clock reads in a window */
#define START_DELAY_NS    (50 * NS_PER_MS)   /* start line ahead of "go": all asleep on it */
#define GO_POLL_US        200

/* phase 2 */
#define BATCH             64          /* lookups per timed sample, as bench_resolve.c */
#define LAT_S_FULL        3.0         /* measured time per writer rate */
#define LAT_S_QUICK       0.6
#define LAT_ROUNDS_FULL   6           /* blocks per rate, rates interleaved */
#define LAT_ROUNDS_QUICK  2
#define LAT_SAMPLES_MAX   (1u << 20)  /* per rate; far above what the time allows */
#define NRATES            3
static const double write_rates[NRATES] = { 0, 10000, 100000 };   /* updates/s */
#define TIMER_SLACK_NS    1000        /* the writer's sleeps: pace to ~µs, not 50 µs */

/* phase 3a */
#define WRITER_S_FULL     2.0
#define WRITER_S_QUICK    0.5
#define PUBLISH_BATCH     1000
#define EACH_CHUNK        256         /* per-change mode: updates between clock reads */
#define UPDATE_TARGETS    4096        /* distinct new targets, cycled (power of two) */

/* phase 3b */
#define SETS_FULL         2000
#define SETS_QUICK        300
#define SET_KEYS          64          /* keys the SETs cycle over, inserted untimed first */
#define DAEMON_START_GIVEUP_S 30
#define DAEMON_STOP_GIVEUP_S  30
#define CLEANUP_STOP_GIVEUP_S 10      /* the same when cleaning up after an error */
#define DAEMON_POLL_NS    (10 * NS_PER_MS)   /* PING retry while the daemon starts */
#define CTL_TIMEOUT_MS    30000       /* one SET commits one row: 30 s silent is stuck */
#define SEEN_GIVEUP_NS    (1000 * NS_PER_MS)   /* reader never sees a change: count it */
#define VIS_LATE_NS       (100 * NS_PER_US)    /* a change seen this long after its OK is late */
#define POLL_GAP_NS       (50 * NS_PER_US)     /* a poll takes < 1 µs: a gap this long between
						  two means the reader was off its CPU */
#define READY_GIVEUP_S    300         /* children warming up (verify of 20M entries) */
#define LOG_TAIL          2048        /* bytes of the daemon's log shown on failure */

#define TICK_NS           ((int64_t)WRITER_TICK_MS * NS_PER_MS)   /* as the daemon ticks */
#define POLL_NS           (5 * NS_PER_MS)   /* parent's poll while children run: rare
						 wake-ups, so it takes next to no CPU from them */
#define NS_PER_US         INT64_C(1000)
#define NS_PER_MS         INT64_C(1000000)
#define NS_PER_S          INT64_C(1000000000)
#define ERR_MAX           160

#define STREAM_SEED       UINT64_C(0x73747265616d2121)


_Static_assert(KEY_MAX + 1 <= STREAM_KEY, "a key must fit a stream entry");
_Static_assert((STREAM_LEN & (STREAM_LEN - 1)) == 0, "STREAM_LEN: a power of two");
_Static_assert((UPDATE_TARGETS & (UPDATE_TARGETS - 1)) == 0, "UPDATE_TARGETS: a power of two");

/* --- state --------------------------------------------------------------------- */

struct opts {
	int quick;
	uint64_t entries;
	const char *csv;
};

/* A private state directory and the prefix of its region files. */
struct tmpdir {
	char path[64];
	char shm_prefix[MXS_SHM_PATH_MAX];   /* "<shmdir>/mxcache-<dev>-<ino>." */
	int live;
};

enum { DIR_REGION, DIR_DAEMON, NDIRS };

/*
 * Everything that must be undone on the way out, whatever the way: the
 * signal handler reads kids and daemon, cleanup_all() (atexit, and the end
 * of main) undoes the rest.
 */
struct cleanup {
	pid_t parent;
	volatile pid_t *kids;     /* running children (0: free) */
	unsigned nkids;
	volatile pid_t daemon;
	struct region *region;
	mxc_t *h;
	struct tmpdir dirs[NDIRS];
	int done;
};

static struct cleanup g;
static volatile sig_atomic_t g_stop;

struct stream_ent {
	char key[STREAM_KEY];
	uint32_t idx;             /* which key: keys[idx] */
};

struct mem {
	int valid;
	uint64_t used, free_, limbo, size, alloc, raw, overrides;
};

struct ctx {
	const struct opts *op;
	uint64_t n;
	char (*keys)[KEY_SLOT];   /* keys[i]: key i, as stored */
	uint8_t *klen, *tlen;     /* current key and target lengths: raw bytes */
	struct stream_ent *stream;
	char (*upd)[TARGET_SLOT]; /* new targets for the updates */
	uint8_t upd_len[UPDATE_TARGETS];
	uint32_t upd_next;
	size_t wpos;              /* the writer's position in the stream */
	uint64_t updates;         /* region_put()s since the build */
	int64_t now;              /* created/updated of every override */
	int cpus[CPU_SETSIZE];    /* CPUs we may run on, ascending */
	unsigned ncpus;
	long online;              /* sysconf(_SC_NPROCESSORS_ONLN) */
	cpu_set_t mask0;          /* our affinity at start, restored after pinning */
	char daemon_path[PATH_MAX];
	FILE *csv;
	struct mem fresh, churned;
};

/* --- small helpers ------------------------------------------------------------- */

/* integer nanoseconds: deadlines and rates are exact sums here */
static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static double secs(int64_t ns)
{
	return (double)ns / (double)NS_PER_S;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { (time_t)(t / NS_PER_S), (long)(t % NS_PER_S) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !g_stop)
		;
}

static void sleep_ns(int64_t ns)
{
	sleep_until(mono_ns() + ns);
}

static void *shared_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		progress("mmap %zu bytes: %s", len, strerror(errno));
		return NULL;
	}
	memset(p, 0, len);
	return p;
}

/* Involuntary context switches so far: how often something else took our
 * CPU, which is what turns a lookup into a latency outlier on a shared
 * machine. */
static uint64_t preemptions(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_nivcsw : 0;
}

/* In a spin-wait: let the sibling hyperthread have the core. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static double loadavg1(void)
{
	double l[3];

	return getloadavg(l, 3) >= 1 ? l[0] : -1;
}

/* --- output ----------------------------------------------------------------------- */

static void csv_row(struct ctx *c, const char *bench, const char *param, const char *metric, int prec,
		    double value, const char *unit)
{
	if (c->csv != NULL)
		fprintf(c->csv, "%s,%s,%s,%.*f,%s\n", bench, param, metric, prec, value, unit);
}

/* --- CPUs ---------------------------------------------------------------------------- */

static int cpus_init(struct ctx *c)
{
	c->online = sysconf(_SC_NPROCESSORS_ONLN);
	if (c->online < 1)
		c->online = 1;
	if (sched_getaffinity(0, sizeof(c->mask0), &c->mask0) != 0) {
		progress("sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	c->ncpus = 0;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &c->mask0))
			c->cpus[c->ncpus++] = i;
	if (c->ncpus < (unsigned)c->online)
		progress("note: %ld CPUs online but only %u in our affinity mask; readers share CPUs", c->online,
			 c->ncpus);
	return c->ncpus > 0 ? 0 : -1;
}

/* Pin the calling process to one CPU; returns it, or -1 (then unpinned). */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		progress("cannot pin to CPU %d (%s); running unpinned", cpu, strerror(errno));
		return -1;
	}
	return cpu;
}

/* Every CPU we may use except one: where the daemon and its client run
 * while a reader has that one to itself.  With a single CPU, that CPU. */
static void pin_all_but(const struct ctx *c, int cpu)
{
	cpu_set_t set = c->mask0;

	if (c->ncpus > 1)
		CPU_CLR(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		progress("cannot set the CPU mask (%s)", strerror(errno));
}

static void unpin(const struct ctx *c)
{
	if (sched_setaffinity(0, sizeof(c->mask0), &c->mask0) != 0)
		progress("cannot restore the CPU mask (%s)", strerror(errno));
}

/* --- children and cleanup ------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	for (unsigned i = 0; i < g.nkids; i++)
		if (g.kids[i] > 0)
			kill(g.kids[i], SIGKILL);
	if (g.daemon > 0)
		kill(g.daemon, SIGTERM);
}

static int kid_add(pid_t pid)
{
	for (unsigned i = 0; i < g.nkids; i++) {
		if (g.kids[i] == 0) {
			g.kids[i] = pid;
			return 0;
		}
	}
	return -1;
}

/*
 * fork() with the signals we handle blocked: a signal must not run our
 * handler in the child before it has put back the defaults (the handler
 * would kill the child's siblings), nor reach the parent before it has
 * recorded the child's pid (the child would escape the clean-up).  The
 * caller restores *old in both, the child after child_setup().
 */
static pid_t fork_masked(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	fflush(NULL);   /* nothing buffered may be written twice */
	sigprocmask(SIG_BLOCK, &set, old);
	return fork();
}

/* What every forked child does first: default signals, and die with the
 * parent so that nothing outlives an interrupted run. */
static int child_setup(const sigset_t *old)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, old, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != g.parent)
		return -1;
	return 0;
}

typedef int (*child_fn)(struct ctx *c, void *arg, unsigned i);

/* Fork a child running fn(c, arg, i); it _exits with fn's result. */
static pid_t spawn(struct ctx *c, child_fn fn, void *arg, unsigned i)
{
	sigset_t old;
	pid_t pid = fork_masked(&old);

	if (pid == 0) {
		if (child_setup(&old) != 0)
			_exit(1);
		_exit(fn(c, arg, i));
	}
	if (pid > 0 && kid_add(pid) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		errno = EAGAIN;
		pid = -1;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		progress("fork: %s", strerror(errno));
	return pid;
}

/*
 * Reap whichever children have exited.  Returns how many still run; *bad
 * counts those that exited non-zero or died of a signal (said on stderr).
 */
static unsigned kids_poll(int *bad)
{
	unsigned running = 0;
	int st;

	for (unsigned i = 0; i < g.nkids; i++) {
		pid_t pid = g.kids[i];

		if (pid <= 0)
			continue;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			g.kids[i] = 0;
			if (WIFSIGNALED(st)) {
				progress("child %ld died of signal %d", (long)pid, WTERMSIG(st));
				(*bad)++;
			} else if (WEXITSTATUS(st) != 0) {
				progress("child %ld exited with status %d", (long)pid, WEXITSTATUS(st));
				(*bad)++;
			}
		} else {
			running++;
		}
	}
	return running;
}

static void kids_kill(void)
{
	for (unsigned i = 0; i < g.nkids; i++) {
		if (g.kids[i] > 0) {
			kill(g.kids[i], SIGKILL);
			waitpid(g.kids[i], NULL, 0);
			g.kids[i] = 0;
		}
	}
}

/* Keep the region's housekeeping going while children run, as the daemon
 * would: heartbeat, grace periods, dead readers' slots. */
static void tick_if_due(int64_t *next)
{
	int64_t t = mono_ns();

	if (g.region != NULL && t >= *next) {
		region_tick(g.region);
		*next = t + TICK_NS;
	}
}

/*
 * Wait until every child has exited, ticking the region; give up (and kill
 * them) at giveup.  Returns 0 if all exited with status 0.
 */
static int kids_wait(int64_t giveup)
{
	int64_t next = 0;
	int bad = 0;

	while (kids_poll(&bad) > 0) {
		if (g_stop || mono_ns() > giveup) {
			if (!g_stop)
				progress("children still running long past their time; killing them");
			kids_kill();
			return -1;
		}
		tick_if_due(&next);
		sleep_ns(POLL_NS);
	}
	return bad ? -1 : 0;
}

/* Wait until *ready reaches want (children say so in shared memory); a
 * child that exits first is a failure.  Returns 0 or -1. */
static int kids_ready(const uint32_t *ready, uint32_t want, unsigned nkids)
{
	int64_t giveup = mono_ns() + READY_GIVEUP_S * NS_PER_S, next = 0;
	int bad = 0;

	while (__atomic_load_n(ready, __ATOMIC_ACQUIRE) < want) {
		if (kids_poll(&bad) < nkids || g_stop || mono_ns() > giveup) {
			if (!g_stop)
				progress("a child exited or hung before it was ready");
			kids_kill();
			return -1;
		}
		tick_if_due(&next);
		sleep_ns(POLL_NS);
	}
	return 0;
}

/* Name a fresh state directory and the prefix of its region files. */
static int tmpdir_make(struct tmpdir *d, const char *name)
{
	struct stat st;

	snprintf(d->path, sizeof(d->path), "/tmp/mxc-scale-%s.XXXXXX", name);
	if (mkdtemp(d->path) == NULL) {
		progress("mkdtemp %s: %s", d->path, strerror(errno));
		return -1;
	}
	d->live = 1;
	if (stat(d->path, &st) != 0 ||
	    mxc_shm_path(d->shm_prefix, sizeof(d->shm_prefix), mxc_shm_dir(), st.st_dev, st.st_ino, "") != 0) {
		progress("%s: cannot name its region", d->path);
		return -1;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)f;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0)
		progress("remove %s: %s", path, strerror(errno));
	return 0;
}

/* Remove the directory's region files (data, readers, any half-built or
 * retired one, found by the name prefix), then the directory itself. */
static void tmpdir_remove(struct tmpdir *d)
{
	char path[MXS_SHM_PATH_MAX * 2];
	const char *base = strrchr(d->shm_prefix, '/');
	struct dirent *de;
	DIR *dh;

	if (!d->live)
		return;
	if (base != NULL && (dh = opendir(mxc_shm_dir())) != NULL) {
		size_t blen = strlen(++base);

		while ((de = readdir(dh)) != NULL) {
			if (strncmp(de->d_name, base, blen) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", mxc_shm_dir(), de->d_name);
			if (unlink(path) != 0)
				progress("unlink %s: %s", path, strerror(errno));
		}
		closedir(dh);
	}
	nftw(d->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	d->live = 0;
}

static int daemon_stop(int64_t giveup_ns, int *status);

/* Undo everything; safe to call more than once, and only the parent
 * does anything (a child that called exit() must not). */
static void cleanup_all(void)
{
	int st;

	if (getpid() != g.parent || g.done)
		return;
	g.done = 1;
	kids_kill();
	if (g.daemon > 0)
		daemon_stop(CLEANUP_STOP_GIVEUP_S * NS_PER_S, &st);
	mxc_close(g.h);
	g.h = NULL;
	region_close(g.region);
	g.region = NULL;
	for (int i = 0; i < NDIRS; i++)
		tmpdir_remove(&g.dirs[i]);
}

/* --- keys, targets, the stream --------------------------------------------- */

static int make_data(struct ctx *c)
{
	uint64_t s = STREAM_SEED;

	c->keys = malloc(c->n * KEY_SLOT);
	c->klen = malloc(c->n);
	c->tlen = malloc(c->n);
	c->stream = malloc(STREAM_LEN * sizeof(*c->stream));
	c->upd = malloc(UPDATE_TARGETS * TARGET_SLOT);
	if (c->keys == NULL || c->klen == NULL || c->tlen == NULL || c->stream == NULL || c->upd == NULL) {
		progress("out of memory for %" PRIu64 " keys", c->n);
		return -1;
	}
	for (uint64_t i = 0; i < c->n && !g_stop; i++) {
		make_key(i, c->keys[i]);
		c->klen[i] = (uint8_t)strlen(c->keys[i]);
	}
	/* uniformly random present keys, drawn with replacement */
	for (uint32_t k = 0; k < STREAM_LEN; k++) {
		uint32_t i = below(&s, (uint32_t)c->n);

		memcpy(c->stream[k].key, c->keys[i], STREAM_KEY);
		c->stream[k].idx = i;
	}
	/* new targets: the shapes of the originals, other values */
	for (uint32_t k = 0; k < UPDATE_TARGETS; k++) {
		make_target(c->n + k, c->upd[k]);
		c->upd_len[k] = (uint8_t)strlen(c->upd[k]);
	}
	return g_stop ? -1 : 0;
}

static void data_free(struct ctx *c)
{
	free(c->keys);
	free(c->klen);
	free(c->tlen);
	free(c->stream);
	free(c->upd);
	c->keys = NULL;
	c->klen = c->tlen = NULL;
	c->stream = NULL;
	c->upd = NULL;
}

/* --- the in-process region -------------------------------------------------- */

/* An override as the daemon stores it: timestamps, target and comment in
 * one value (shm/override.h).  Returns what region_put() returns. */
static int put_override(struct ctx *c, const char *key, size_t klen, const char *target, size_t tlen)
{
	uint8_t val[MXS_OV_VALUE_MAX];
	size_t vlen = mxc_ov_value_encode(val, c->now, c->now, target, tlen, "bench", 5);

	/* region_put's own answer: 1 replaced, 0 added, -1 failed */
	return region_put(g.region, MXS_TAB_OVERRIDE, key, klen, val, vlen, NULL, 0);
}

static int build_region(struct ctx *c)
{
	struct region_opts o;
	char target[TARGET_SLOT];
	int64_t now = (int64_t)time(NULL);

	c->now = now;
	memset(&o, 0, sizeof(o));
	o.dir = g.dirs[DIR_REGION].path;
	o.nslots = (uint32_t)(2 * c->online + REGION_SLOTS_MIN);
	o.gid = (gid_t)-1;
	if (region_create(&o, c->n, &g.region) != 0) {
		progress("region_create %s: %s", o.dir, strerror(errno));
		return -1;
	}
	if (region_go_live(g.region) != 0) {
		progress("region_go_live: %s", strerror(errno));
		return -1;
	}
	for (uint64_t i = 0; i < c->n; i++) {
		make_target(i, target);
		c->tlen[i] = (uint8_t)strlen(target);
		if (put_override(c, c->keys[i], c->klen[i], target, c->tlen[i]) != 0) {
			progress("region_put %s: %s", c->keys[i], strerror(errno));
			return -1;
		}
		if (i % BUILD_PUBLISH == BUILD_PUBLISH - 1) {
			region_publish(g.region);
			if (g_stop)
				return -1;
		}
	}
	region_publish(g.region);
	return 0;
}

/* Every key once, answers checked: figures are for correct lookups. */
static int check_all(struct ctx *c)
{
	char host[HOST_BUF], want[TARGET_SLOT];
	uint64_t bad = 0;
	int rc;

	for (uint64_t i = 0; i < c->n && !g_stop; i++) {
		make_target(i, want);
		rc = mxc_resolve(g.h, c->keys[i], host, sizeof(host));
		if ((rc != MXC_OK || strcmp(host, want) != 0) && bad++ < 3)
			progress("%s -> %s (%s), want %s", c->keys[i], rc == MXC_OK ? host : "-", mxc_strerror(rc),
				 want);
	}
	if (bad) {
		progress("%" PRIu64 " wrong answers: the figures would mean nothing", bad);
		return -1;
	}
	return g_stop ? -1 : 0;
}

/* One update as the daemon makes it: a random existing key (the next in
 * the writer's walk of the stream) gets a new target. */
static int update_one(struct ctx *c)
{
	const struct stream_ent *e = &c->stream[c->wpos++ & (STREAM_LEN - 1)];
	uint32_t t = c->upd_next++ & (UPDATE_TARGETS - 1);

	int rc = put_override(c, e->key, c->klen[e->idx], c->upd[t], c->upd_len[t]);

	if (rc != 1) {
		progress("region_put %s: %s", e->key, rc < 0 ? strerror(errno) : "added, where it should replace");
		return -1;
	}
	c->tlen[e->idx] = c->upd_len[t];
	c->updates++;
	return 0;
}

/* --- reader side, shared by the phases ---------------------------------------- */

/*
 * Bring a fresh mapping to steady state before timing: mxc_verify walks
 * the whole region (every page faulted in, every invariant checked), then
 * random lookups for a while fill the caches the way the timed ones will.
 */
static int reader_warm(mxc_t *h, const struct stream_ent *stream, size_t *pos, double seconds, char *err,
		       size_t errlen)
{
	char host[HOST_BUF], why[ERR_MAX];
	int64_t end;

	if (mxc_verify(h, why, sizeof(why)) != MXC_OK) {
		snprintf(err, errlen, "mxc_verify: %.120s", why);
		return -1;
	}
	end = mono_ns() + (int64_t)(seconds * (double)NS_PER_S);
	while (mono_ns() < end) {
		for (unsigned k = 0; k < CHECK_EVERY; k++) {
			const struct stream_ent *e = &stream[(*pos)++ & (STREAM_LEN - 1)];

			if (mxc_resolve(h, e->key, host, sizeof(host)) != MXC_OK) {
				snprintf(err, errlen, "warm-up: %s not found", e->key);
				return -1;
			}
		}
	}
	return 0;
}

static int reader_open(const char *dir, mxc_t **h, char *err, size_t errlen)
{
	int rc = mxc_open(dir, h);

	if (rc != MXC_OK) {
		snprintf(err, errlen, "mxc_open %s: %s", dir, mxc_strerror(rc));
		return -1;
	}
	return 0;
}

/* --- phase 1: readers scaling --------------------------------------------------- */

struct p1_slot {
	uint64_t lookups, errors, preempt;
	int64_t t0, t1;
	int cpu;
	int ok;
	char err[ERR_MAX];
};

struct p1_shared {
	uint32_t ready;
	uint32_t go;
	int64_t start_ns, end_ns;
	struct p1_slot s[];
};

static int p1_child(struct ctx *c, void *arg, unsigned i)
{
	struct p1_shared *sh = arg;
	struct p1_slot *s = &sh->s[i];
	char host[HOST_BUF];
	/* readers start far apart in the stream: no two ask for the same
	 * keys in lockstep and warm the shared cache for each other */
	size_t pos = (size_t)i * (STREAM_LEN / (size_t)c->online + 7919);
	uint64_t n = 0, errors = 0;
	int64_t t;
	mxc_t *h;

	s->cpu = pin_to(c->cpus[i % c->ncpus]);
	if (reader_open(g.dirs[DIR_REGION].path, &h, s->err, sizeof(s->err)) != 0)
		return 1;
	if (reader_warm(h, c->stream, &pos, c->op->quick ? WARM_S_QUICK : WARM_S_FULL, s->err, sizeof(s->err)) !=
	    0)
		return 1;
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE)) {
		if (getppid() != g.parent)
			return 1;
		usleep(GO_POLL_US);
	}
	/* one start line for all: the windows overlap to the microsecond */
	sleep_until(sh->start_ns);
	s->preempt = preemptions();
	s->t0 = t = mono_ns();
	while (t < sh->end_ns) {
		for (unsigned k = 0; k < CHECK_EVERY; k++) {
			const struct stream_ent *e = &c->stream[pos++ & (STREAM_LEN - 1)];

			errors += mxc_resolve(h, e->key, host, sizeof(host)) != MXC_OK;
		}
		n += CHECK_EVERY;
		t = mono_ns();
	}
	s->t1 = t;
	s->preempt = preemptions() - s->preempt;
	s->lookups = n;
	s->errors = errors;
	s->ok = 1;
	mxc_close(h);
	return 0;
}

static int phase_readers(struct ctx *c)
{
	double window = c->op->quick ? SCALE_S_QUICK : SCALE_S_FULL, single = 0;
	unsigned maxp = (unsigned)c->online;
	size_t len = sizeof(struct p1_shared) + maxp * sizeof(struct p1_slot);
	int rc = 0;

	progress("1. readers scaling: P = 1..%u reader processes, %.1f s of random hits each step", maxp, window);
	printf("\n== 1. readers scaling: %" PRIu64 " entries, uniformly random hits, %.1f s per step, "
	       "%ld online CPUs\n",
	       c->n, window, c->online);
	printf("%3s %18s %18s %11s %10s  %s\n", "P", "aggregate_per_s", "per_reader_per_s", "efficiency", "preempted",
	       "cpus");
	for (unsigned p = 1; p <= maxp && !g_stop; p++) {
		struct p1_shared *sh = shared_map(len);
		double agg = 0, eff;
		uint64_t errors = 0, preempt = 0;
		char param[32], cpulist[128] = "";
		size_t used = 0;

		if (sh == NULL)
			return -1;
		progress("  P=%u: starting %u reader%s (mxc_open, mxc_verify, %.2f s warm-up each)", p, p,
			 p > 1 ? "s" : "", c->op->quick ? WARM_S_QUICK : WARM_S_FULL);
		for (unsigned i = 0; i < p; i++)
			if (spawn(c, p1_child, sh, i) < 0)
				goto fail;
		if (kids_ready(&sh->ready, p, p) != 0)
			goto fail;
		sh->start_ns = mono_ns() + START_DELAY_NS;
		sh->end_ns = sh->start_ns + (int64_t)(window * (double)NS_PER_S);
		__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
		if (kids_wait(sh->end_ns + READY_GIVEUP_S * NS_PER_S) != 0)
			goto fail;
		for (unsigned i = 0; i < p; i++) {
			const struct p1_slot *s = &sh->s[i];

			if (!s->ok || s->t1 <= s->t0) {
				progress("  reader %u failed: %s", i, s->err[0] ? s->err : "no result");
				goto fail;
			}
			agg += (double)s->lookups / secs(s->t1 - s->t0);
			errors += s->errors;
			preempt += s->preempt;
			if (used < sizeof(cpulist))
				used += (size_t)snprintf(cpulist + used, sizeof(cpulist) - used, "%s%d",
							 i ? "," : "", s->cpu);
		}
		if (errors) {
			progress("  %" PRIu64 " lookups of present keys did not answer MXC_OK", errors);
			goto fail;
		}
		if (p == 1)
			single = agg;
		eff = single > 0 ? agg / ((double)p * single) : 0;
		progress("  P=%u: %.0f lookups/s in all, %.0f per reader, efficiency %.2f", p, agg, agg / p, eff);
		printf("%3u %18.0f %18.0f %11.2f %10" PRIu64 "  %s\n", p, agg, agg / p, eff, preempt, cpulist);
		snprintf(param, sizeof(param), "P=%u", p);
		csv_row(c, "readers_scaling", param, "aggregate", 0, agg, "lookups/s");
		csv_row(c, "readers_scaling", param, "per_reader", 0, agg / p, "lookups/s");
		csv_row(c, "readers_scaling", param, "efficiency", 3, eff, "ratio");
		csv_row(c, "readers_scaling", param, "preempted", 0, (double)preempt, "count");
		munmap(sh, len);
		continue;
fail:
		kids_kill();
		munmap(sh, len);
		rc = -1;
		break;
	}
	printf("# efficiency = aggregate / (P x the P=1 rate); one reader process per CPU, pinned;\n"
	       "# preempted: the readers' involuntary context switches in the window (other load)\n");
	if (maxp < 3)
		printf("# only %u CPUs online: scaling shown up to P=%u only\n", maxp, maxp);
	fflush(stdout);
	return rc;
}

/* --- phase 2: reader latency under writer load ------------------------------- */

struct p2_result {
	uint64_t samples, errors, preempt;
	double p50, p99, p999, mean;
};

struct p2_shared {
	uint32_t ready, done;
	int32_t block;            /* index into write_rates being written at; -1 between */
	uint32_t bseq;            /* bumped at every block start */
	double clock_ns;
	int cpu, ok;
	struct p2_result r[NRATES];
	char err[ERR_MAX];
};

/*
 * The reader: time batches of BATCH lookups, each sample filed under the
 * writer rate of the block it fell in entirely (one that straddles a block
 * boundary is dropped).  Keys are staged into a small buffer untimed, as
 * bench_resolve.c does.
 */
static int p2_child(struct ctx *c, void *arg, unsigned cpu)
{
	static char batch[BATCH][STREAM_KEY] __attribute__((aligned(64)));
	struct p2_shared *sh = arg;
	double *v[NRATES] = { NULL };
	char host[HOST_BUF];
	size_t pos = STREAM_LEN / 3, k;
	uint64_t pre = 0;
	int32_t last = -1;
	int rc = 1;
	mxc_t *h = NULL;

	sh->cpu = pin_to((int)cpu);
	if (reader_open(g.dirs[DIR_REGION].path, &h, sh->err, sizeof(sh->err)) != 0)
		return 1;
	for (int r = 0; r < NRATES; r++) {
		if ((v[r] = malloc(LAT_SAMPLES_MAX * sizeof(double))) == NULL) {
			snprintf(sh->err, sizeof(sh->err), "out of memory");
			goto out;
		}
	}
	if (reader_warm(h, c->stream, &pos, c->op->quick ? WARM_S_QUICK : WARM_S_FULL, sh->err, sizeof(sh->err)) !=
	    0)
		goto out;
	sh->clock_ns = clock_overhead();
	__atomic_store_n(&sh->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE)) {
		int32_t b;
		uint32_t q;
		unsigned bad = 0;
		int64_t t0, t;

		for (k = 0; k < BATCH; k++)
			memcpy(batch[k], c->stream[pos++ & (STREAM_LEN - 1)].key, STREAM_KEY);
		b = __atomic_load_n(&sh->block, __ATOMIC_ACQUIRE);
		q = __atomic_load_n(&sh->bseq, __ATOMIC_ACQUIRE);
		if (b != last) {
			/* untimed, once per block: whose time the CPU was taken from */
			uint64_t p = preemptions();

			if (last >= 0)
				sh->r[last].preempt += p - pre;
			pre = p;
			last = b;
		}
		t0 = mono_ns();
		for (k = 0; k < BATCH; k++)
			bad += mxc_resolve(h, batch[k], host, sizeof(host)) != MXC_OK;
		t = mono_ns() - t0;
		if (b < 0 || __atomic_load_n(&sh->bseq, __ATOMIC_ACQUIRE) != q ||
		    __atomic_load_n(&sh->block, __ATOMIC_ACQUIRE) != b)
			continue;
		sh->r[b].errors += bad;
		if (sh->r[b].samples < LAT_SAMPLES_MAX)
			v[b][sh->r[b].samples++] = ((double)t - sh->clock_ns > 0 ? (double)t - sh->clock_ns : 0) / BATCH;
	}
	for (int r = 0; r < NRATES; r++) {
		struct p2_result *res = &sh->r[r];
		double sum = 0;

		qsort(v[r], res->samples, sizeof(double), cmp_double);
		for (k = 0; k < res->samples; k++)
			sum += v[r][k];
		res->p50 = quantile(v[r], res->samples, 0.5);
		res->p99 = quantile(v[r], res->samples, 0.99);
		res->p999 = quantile(v[r], res->samples, 0.999);
		res->mean = res->samples ? sum / (double)res->samples : 0;
	}
	sh->ok = 1;
	rc = 0;
out:
	for (int r = 0; r < NRATES; r++)
		free(v[r]);
	mxc_close(h);
	return rc;
}

/*
 * The writer at a paced rate for a while: every update is its own
 * region_put + region_publish (the daemon publishes each SET on its own),
 * region_tick every TICK_NS.  Updates due are made at once, then the
 * writer sleeps until the next is due: pacing is as fine as the timer's
 * wake-ups (tens of µs on a VM), so at 100,000/s they come in small
 * bursts.  A writer that falls behind simply runs flat out; the caller
 * reports the rate achieved.  Adds to *made and *spent.
 */
static int write_paced(struct ctx *c, double rate, double seconds, uint64_t *made, int64_t *spent)
{
	int64_t t0 = mono_ns(), end = t0 + (int64_t)(seconds * (double)NS_PER_S), next_tick = t0 + TICK_NS, t;
	uint64_t done = 0;

	while ((t = mono_ns()) < end && !g_stop) {
		int64_t wake = end;

		if (rate > 0) {
			uint64_t due = (uint64_t)((double)(t - t0) * rate / (double)NS_PER_S) + 1;

			while (done < due) {
				if (update_one(c) != 0)
					return -1;
				region_publish(g.region);
				done++;
			}
			wake = t0 + (int64_t)((double)done * (double)NS_PER_S / rate);
		}
		if (mono_ns() >= next_tick) {
			region_tick(g.region);
			next_tick += TICK_NS;
		}
		if (next_tick < wake)
			wake = next_tick;
		if (wake > end)
			wake = end;
		sleep_until(wake);
	}
	*made += done;
	*spent += mono_ns() - t0;
	return 0;
}

static int phase_latency(struct ctx *c)
{
	double per_rate = c->op->quick ? LAT_S_QUICK : LAT_S_FULL, achieved[NRATES];
	unsigned rounds = c->op->quick ? LAT_ROUNDS_QUICK : LAT_ROUNDS_FULL;
	int reader_cpu = c->cpus[c->ncpus - 1], writer_cpu = c->cpus[0];
	uint64_t made[NRATES] = { 0 }, inc0 = 0;
	int64_t spent[NRATES] = { 0 };
	struct mxc_status st;
	struct p2_shared *sh;
	int rc = -1;

	progress("2. reader latency under writer load: reader on CPU %d, writer (this process) on CPU %d, "
		 "%.1f s per rate in %u blocks",
		 reader_cpu, writer_cpu, per_rate, rounds);
	if ((sh = shared_map(sizeof(*sh))) == NULL)
		return -1;
	sh->block = -1;
	if (mxc_status(g.h, &st) == MXC_OK)
		inc0 = st.incarnation;
	if (spawn(c, p2_child, sh, (unsigned)reader_cpu) < 0 || kids_ready(&sh->ready, 1, 1) != 0)
		goto out;
	pin_to(writer_cpu);
	/* the writer's sleeps are its pacing: ask for them to be short */
	prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS);
	/* rates take turns in blocks so that background load falls on all */
	for (unsigned r = 0; r < rounds && !g_stop; r++) {
		for (int k = 0; k < NRATES && !g_stop; k++) {
			__atomic_store_n(&sh->block, k, __ATOMIC_RELEASE);
			__atomic_add_fetch(&sh->bseq, 1, __ATOMIC_RELEASE);
			if (write_paced(c, write_rates[k], per_rate / rounds, &made[k], &spent[k]) != 0)
				goto out;
			__atomic_store_n(&sh->block, -1, __ATOMIC_RELEASE);
		}
		progress("  round %u of %u done", r + 1, rounds);
	}
	__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
	if (kids_wait(mono_ns() + READY_GIVEUP_S * NS_PER_S) != 0 || !sh->ok) {
		if (!g_stop)
			progress("  the reader failed: %s", sh->err[0] ? sh->err : "no result");
		goto out;
	}
	printf("\n== 2. reader latency under writer load: %" PRIu64 " entries, reader on CPU %d, writer on CPU %d, "
	       "%.1f s per rate in %u blocks\n",
	       c->n, sh->cpu, writer_cpu, per_rate, rounds);
	printf("%11s %14s %9s %9s %9s %9s %9s %12s %10s\n", "rate_target", "rate_achieved", "samples", "p50_ns",
	       "p99_ns", "p999_ns", "mean_ns", "p99_vs_idle", "preempted");
	for (int k = 0; k < NRATES; k++) {
		const struct p2_result *res = &sh->r[k];
		double ratio = sh->r[0].p99 > 0 ? res->p99 / sh->r[0].p99 : 0;
		char param[32];

		achieved[k] = spent[k] > 0 ? (double)made[k] / secs(spent[k]) : 0;
		printf("%11.0f %14.0f %9" PRIu64 " %9.1f %9.1f %9.1f %9.1f %12.2f %10" PRIu64 "\n", write_rates[k],
		       achieved[k], res->samples, res->p50, res->p99, res->p999, res->mean, ratio, res->preempt);
		if (res->errors)
			progress("  rate %.0f: %" PRIu64 " lookups did not answer MXC_OK", write_rates[k], res->errors);
		if (write_rates[k] > 0 && achieved[k] < write_rates[k] * 0.98)
			progress("  rate %.0f: the writer achieved only %.0f updates/s", write_rates[k], achieved[k]);
		snprintf(param, sizeof(param), "rate=%.0f", write_rates[k]);
		csv_row(c, "latency_under_writes", param, "achieved_rate", 0, achieved[k], "updates/s");
		csv_row(c, "latency_under_writes", param, "samples", 0, (double)res->samples, "count");
		csv_row(c, "latency_under_writes", param, "p50", 1, res->p50, "ns");
		csv_row(c, "latency_under_writes", param, "p99", 1, res->p99, "ns");
		csv_row(c, "latency_under_writes", param, "p999", 1, res->p999, "ns");
		csv_row(c, "latency_under_writes", param, "mean", 1, res->mean, "ns");
		csv_row(c, "latency_under_writes", param, "p99_vs_idle", 3, ratio, "ratio");
		csv_row(c, "latency_under_writes", param, "lookup_errors", 0, (double)res->errors, "count");
		csv_row(c, "latency_under_writes", param, "preempted", 0, (double)res->preempt, "count");
	}
	printf("# per-lookup ns over batches of %d (clock cost of %.0f ns per batch subtracted); every update\n"
	       "# is region_put + region_publish of a random existing key, region_tick every %d ms;\n"
	       "# preempted: the reader's involuntary context switches during that rate's blocks\n",
	       BATCH, sh->clock_ns, WRITER_TICK_MS);
	if (c->ncpus < 2)
		printf("# one CPU only: reader and writer share it\n");
	if (mxc_status(g.h, &st) == MXC_OK && st.incarnation != inc0)
		printf("# the region was replaced (grown) during this phase: the reader remapped\n");
	fflush(stdout);
	rc = 0;
out:
	__atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
	kids_kill();
	prctl(PR_SET_TIMERSLACK, 0);   /* 0: back to the default */
	unpin(c);
	munmap(sh, sizeof(*sh));
	return rc;
}

/* --- phase 3a: the writer in-process ------------------------------------------- */

/* Updates/s for a while, one publish per `every` updates, ticking as the
 * daemon does (reclaiming the replaced values is part of the work). */
static int writer_rate(struct ctx *c, unsigned every, double seconds, double *rate)
{
	unsigned chunk = every > 1 ? every : EACH_CHUNK;
	int64_t t0 = mono_ns(), end = t0 + (int64_t)(seconds * (double)NS_PER_S), next_tick = t0 + TICK_NS, t;
	uint64_t n = 0;

	do {
		for (unsigned k = 0; k < chunk; k++) {
			if (update_one(c) != 0)
				return -1;
			if (every == 1)
				region_publish(g.region);
		}
		if (every > 1)
			region_publish(g.region);
		n += chunk;
		t = mono_ns();
		if (t >= next_tick) {
			region_tick(g.region);
			next_tick = t + TICK_NS;
		}
	} while (t < end && !g_stop);
	*rate = (double)n / secs(t - t0);
	return g_stop ? -1 : 0;
}

static int phase_writer_inproc(struct ctx *c)
{
	static const unsigned modes[] = { 1, PUBLISH_BATCH };
	double seconds = c->op->quick ? WRITER_S_QUICK : WRITER_S_FULL;
	double rate[NELEM(modes)];

	progress("3a. writer in-process: region_put + region_publish, %.1f s per mode, pinned to CPU %d", seconds,
		 c->cpus[0]);
	pin_to(c->cpus[0]);
	for (size_t m = 0; m < NELEM(modes); m++) {
		if (writer_rate(c, modes[m], seconds, &rate[m]) != 0) {
			unpin(c);
			return -1;
		}
		progress("  publish every %u: %.0f updates/s", modes[m], rate[m]);
	}
	unpin(c);
	printf("\n== 3a. writer in-process: %" PRIu64 " entries, updates of random existing keys, %.1f s each\n", c->n,
	       seconds);
	printf("%14s %14s %14s\n", "publish_every", "updates_per_s", "ns_per_update");
	for (size_t m = 0; m < NELEM(modes); m++) {
		char param[32];

		printf("%14u %14.0f %14.1f\n", modes[m], rate[m], rate[m] > 0 ? 1e9 / rate[m] : 0);
		snprintf(param, sizeof(param), "publish_every=%u", modes[m]);
		csv_row(c, "writer_inprocess", param, "rate", 0, rate[m], "updates/s");
		csv_row(c, "writer_inprocess", param, "per_update", 1, rate[m] > 0 ? 1e9 / rate[m] : 0, "ns");
	}
	printf("# no readers running; region_tick every %d ms included (reclaiming the replaced values)\n",
	       WRITER_TICK_MS);
	fflush(stdout);
	return 0;
}

/* --- phase 4: memory (measured here, printed last) --------------------------- */

static int mem_measure(struct ctx *c, struct mem *m)
{
	struct mxc_status st;
	struct stat sb;

	memset(m, 0, sizeof(*m));
	if (mxc_status(g.h, &st) != MXC_OK || stat(st.data_path, &sb) != 0) {
		progress("memory: cannot read the region's status or stat its file");
		return -1;
	}
	m->used = st.arena_used;
	m->free_ = st.arena_free;
	m->limbo = st.arena_limbo;
	m->overrides = st.overrides;
	m->size = (uint64_t)sb.st_size;
	m->alloc = (uint64_t)sb.st_blocks * 512;   /* tmpfs pages actually in use */
	for (uint64_t i = 0; i < c->n; i++)
		m->raw += (uint64_t)c->klen[i] + c->tlen[i];
	m->valid = 1;
	return 0;
}

static void mem_rows(struct ctx *c, const struct mem *m, const char *param)
{
	double n = (double)c->n, raw = (double)m->raw / n;

	csv_row(c, "memory", param, "entries", 0, (double)m->overrides, "count");
	csv_row(c, "memory", param, "arena_used_per_entry", 1, (double)m->used / n, "bytes");
	csv_row(c, "memory", param, "file_size_per_entry", 1, (double)m->size / n, "bytes");
	csv_row(c, "memory", param, "file_allocated_per_entry", 1, (double)m->alloc / n, "bytes");
	csv_row(c, "memory", param, "raw_key_target_per_entry", 1, raw, "bytes");
	csv_row(c, "memory", param, "arena_used_vs_raw", 3, (double)m->used / n / raw, "ratio");
	csv_row(c, "memory", param, "file_size_vs_raw", 3, (double)m->size / n / raw, "ratio");
	csv_row(c, "memory", param, "file_allocated_vs_raw", 3, (double)m->alloc / n / raw, "ratio");
	csv_row(c, "memory", param, "arena_limbo", 0, (double)m->limbo, "bytes");
}

static void phase_memory_print(struct ctx *c)
{
	const struct mem *f = &c->fresh, *u = &c->churned;
	double n = (double)c->n;

	if (!f->valid)
		return;
	printf("\n== 4. memory: %" PRIu64 " entries (fresh build; after the %" PRIu64 " updates of phases 2-3)\n", c->n,
	       c->updates);
	printf("%-34s %14s %14s\n", "per entry", "fresh", u->valid ? "after_updates" : "");
#define MEMROW(label, fv, uv, fmt)                                                            \
	do {                                                                                  \
		printf("%-34s " fmt, label, fv);                                              \
		if (u->valid)                                                                 \
			printf(" " fmt, uv);                                                  \
		putchar('\n');                                                                \
	} while (0)
	MEMROW("arena in use (mxc_status) B", (double)f->used / n, (double)u->used / n, "%14.1f");
	MEMROW("file size B", (double)f->size / n, (double)u->size / n, "%14.1f");
	MEMROW("file pages allocated B", (double)f->alloc / n, (double)u->alloc / n, "%14.1f");
	MEMROW("raw key + target B", (double)f->raw / n, (double)u->raw / n, "%14.1f");
	MEMROW("arena / raw", (double)f->used / (double)f->raw, (double)u->used / (double)u->raw, "%14.2f");
	MEMROW("file size / raw", (double)f->size / (double)f->raw, (double)u->size / (double)u->raw, "%14.2f");
	MEMROW("file allocated / raw", (double)f->alloc / (double)f->raw, (double)u->alloc / (double)u->raw,
	       "%14.2f");
	MEMROW("free + limbo, whole region (MiB)", (double)(f->free_ + f->limbo) / 1048576.0,
	       (double)(u->free_ + u->limbo) / 1048576.0, "%14.1f");
#undef MEMROW
	printf("# each entry's value also holds created, updated (4 B each), the target length and the\n"
	       "# comment (\"bench\", 5 B); the arena holds the index and bucket headers too; the file is\n"
	       "# address space sized for the entries expected, and 'allocated' counts the tmpfs pages it\n"
	       "# holds (reserved as records are placed)\n");
	mem_rows(c, f, "fresh");
	if (u->valid)
		mem_rows(c, u, "after_updates");
	fflush(stdout);
}

/* --- phase 3b: through the real daemon ---------------------------------------- */

static int daemon_path(struct ctx *c, const char *argv0)
{
	char self[PATH_MAX];
	const char *slash = strrchr(argv0, '/');
	int n;

	if (slash != NULL) {
		n = snprintf(c->daemon_path, sizeof(c->daemon_path), "%.*s/../mxcached", (int)(slash - argv0), argv0);
	} else {
		/* run through $PATH: our own directory from /proc */
		ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *s;

		if (k <= 0)
			return -1;
		self[k] = '\0';
		if ((s = strrchr(self, '/')) != NULL)
			*s = '\0';
		n = snprintf(c->daemon_path, sizeof(c->daemon_path), "%s/../mxcached", self);
	}
	return (n < 0 || (size_t)n >= sizeof(c->daemon_path)) ? -1 : 0;
}

static void show_log_tail(const char *path)
{
	char buf[LOG_TAIL + 1];
	ssize_t k;
	off_t sz;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	sz = lseek(fd, 0, SEEK_END);
	lseek(fd, sz > LOG_TAIL ? sz - LOG_TAIL : 0, SEEK_SET);
	k = read(fd, buf, LOG_TAIL);
	close(fd);
	if (k <= 0)
		return;
	buf[k] = '\0';
	progress("the daemon's log (%s), last lines:", path);
	for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
		fprintf(stderr, "  | %s\n", line);
}

/* SIGTERM the daemon and wait for it; SIGKILL after giveup_ns.  Returns 0
 * if it exited with status 0. */
static int daemon_stop(int64_t giveup_ns, int *status)
{
	pid_t pid = g.daemon;
	int64_t giveup = mono_ns() + giveup_ns;
	pid_t w;

	*status = -1;
	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	while ((w = waitpid(pid, status, WNOHANG)) == 0 || (w < 0 && errno == EINTR)) {
		if (mono_ns() > giveup) {
			progress("mxcached still running %.0f s after SIGTERM; SIGKILL", secs(giveup_ns));
			kill(pid, SIGKILL);
			w = waitpid(pid, status, 0);
			break;
		}
		sleep_ns(POLL_NS);
	}
	g.daemon = 0;
	return (w == pid && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) ? 0 : -1;
}

static int ctl_connect(const char *dir)
{
	struct sockaddr_un sa;
	int fd, n;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, MXS_CTL_SOCK);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Send one request line and read its one reply line (no '\n') into reply.
 * Requests are never pipelined, so the reply is all there is to read.
 * Returns 0, or -1 (errno; ETIMEDOUT after CTL_TIMEOUT_MS of silence).
 */
static int ctl_call(int fd, const char *line, size_t len, char *reply, size_t rlen)
{
	size_t got = 0, off = 0;
	ssize_t k;

	while (off < len) {
		k = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		off += (size_t)k;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char *nl;
		int pr = poll(&p, 1, CTL_TIMEOUT_MS);

		if (pr < 0 && errno == EINTR && !g_stop)
			continue;
		if (pr <= 0) {
			errno = pr == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		k = read(fd, reply + got, rlen - 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			errno = k == 0 ? ECONNRESET : errno;
			return -1;
		}
		got += (size_t)k;
		reply[got] = '\0';
		if ((nl = memchr(reply, '\n', got)) != NULL) {
			*nl = '\0';
			return 0;
		}
		if (got == rlen - 1) {
			errno = EMSGSIZE;
			return -1;
		}
	}
}

/* Start mxcached -d dir -f, stderr to log; wait until it answers PING. */
static int daemon_start(struct ctx *c, const char *dir, const char *logpath)
{
	char a0[] = "mxcached", a1[] = "-d", a3[] = "-f", a2[sizeof(g.dirs[0].path)];
	char *argv[] = { a0, a1, a2, a3, NULL }, reply[256];
	int64_t giveup = mono_ns() + DAEMON_START_GIVEUP_S * NS_PER_S;
	sigset_t old;
	int st, fd;
	pid_t pid;

	snprintf(a2, sizeof(a2), "%s", dir);
	pid = fork_masked(&old);
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		progress("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (child_setup(&old) != 0 || lfd < 0 || nfd < 0)
			_exit(126);
		/* SIGKILL on our death would leave its socket and pid file:
		 * ask it to stop cleanly instead */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(nfd, STDIN_FILENO);
		dup2(lfd, STDOUT_FILENO);
		dup2(lfd, STDERR_FILENO);
		execv(c->daemon_path, argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", c->daemon_path, strerror(errno));
		_exit(127);
	}
	g.daemon = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			g.daemon = 0;
			progress("mxcached exited during start-up (%s %d)", WIFSIGNALED(st) ? "signal" : "status",
				 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			show_log_tail(logpath);
			return -1;
		}
		if ((fd = ctl_connect(dir)) >= 0) {
			int rc = ctl_call(fd, "PING\n", 5, reply, sizeof(reply));

			close(fd);
			if (rc == 0 && strncmp(reply, "OK", 2) == 0)
				return 0;
		}
		if (g_stop || mono_ns() > giveup) {
			if (!g_stop)
				progress("mxcached did not answer PING within %d s", DAEMON_START_GIVEUP_S);
			show_log_tail(logpath);
			return -1;
		}
		sleep_ns(DAEMON_POLL_NS);
	}
}

/* The key and target of timed SET number i (1-based). */
static void set_key(uint64_t i, char *out, size_t len)
{
	snprintf(out, len, "vis%u.scale.example.com", (unsigned)(i % SET_KEYS));
}

static void set_target(uint64_t i, char *out, size_t len)
{
	/* unique per SET, so every SET changes what the reader sees */
	snprintf(out, len, "10.%u.%u.%u", (unsigned)((i >> 16) & 255), (unsigned)((i >> 8) & 255),
		 (unsigned)(i & 255));
}

struct p3_seen {
	int64_t t;                /* when the reader first saw the change */
	uint64_t off;             /* its off_ns then */
};

struct p3_shared {
	uint32_t ready, stop;
	uint64_t seq;             /* the SET in flight (1-based), 0 none */
	uint64_t seen_seq;        /* the last SET the reader saw */
	uint64_t errors;          /* lookups that failed outright */
	uint64_t off_ns;          /* time the reader spent off its CPU, so far */
	int cpu;
	char err[ERR_MAX];
	struct p3_seen seen[];    /* [seq] */
};

/*
 * The visibility reader: poll the key of the SET in flight until its new
 * target shows, note the time, wait for the next.  A tight loop, as the
 * task says: its CPU is its own.  Each step of the loop is timed from one
 * clock read to the next; a step over POLL_GAP_NS means the reader was not
 * running (another process had its CPU), and that time is added up in
 * off_ns, so that a change that showed late can be told from a reader that
 * looked late.
 */
static int p3_child(struct ctx *c, void *arg, unsigned cpu)
{
	struct p3_shared *sh = arg;
	char key[64], want[32], host[HOST_BUF];
	uint64_t cur = 0, off = 0;
	int64_t prev, t;
	int found = 1, rc;
	mxc_t *h;

	(void)c;
	sh->cpu = pin_to((int)cpu);
	if (reader_open(g.dirs[DIR_DAEMON].path, &h, sh->err, sizeof(sh->err)) != 0)
		return 1;
	__atomic_store_n(&sh->ready, 1, __ATOMIC_RELEASE);
	prev = mono_ns();
#define STEP()                                                                \
	do {                                                                  \
		t = mono_ns();                                                 \
		if (t - prev > POLL_GAP_NS) {                                 \
			off += (uint64_t)(t - prev);                          \
			__atomic_store_n(&sh->off_ns, off, __ATOMIC_RELEASE); \
		}                                                             \
		prev = t;                                                     \
	} while (0)
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		uint64_t s = __atomic_load_n(&sh->seq, __ATOMIC_ACQUIRE);

		STEP();
		if (s != cur) {
			cur = s;
			set_key(cur, key, sizeof(key));
			set_target(cur, want, sizeof(want));
			found = 0;
		}
		if (found || cur == 0) {
			cpu_relax();
			continue;
		}
		rc = mxc_resolve(h, key, host, sizeof(host));
		STEP();
		if (rc == MXC_OK && strcmp(host, want) == 0) {
			sh->seen[cur].t = t;
			sh->seen[cur].off = off;
			__atomic_store_n(&sh->seen_seq, cur, __ATOMIC_RELEASE);
			found = 1;
		} else if (rc < 0) {
			sh->errors++;
		}
	}
#undef STEP
	mxc_close(h);
	return 0;
}

/* One SET; 0 if answered OK. */
static int set_one(int fd, uint64_t i, const char *target)
{
	char key[64], ek[128], et[128], line[512], reply[1024];
	int n;

	set_key(i, key, sizeof(key));
	if (mxc_ctl_escape(key, strlen(key), ek, sizeof(ek)) < 0 ||
	    mxc_ctl_escape(target, strlen(target), et, sizeof(et)) < 0)
		return -1;
	n = snprintf(line, sizeof(line), "SET %s %s bench-scale\n", ek, et);
	if (ctl_call(fd, line, (size_t)n, reply, sizeof(reply)) != 0) {
		progress("SET %s: %s", key, strerror(errno));
		return -1;
	}
	if (strncmp(reply, "OK ", 3) != 0) {
		progress("SET %s %s: %s", key, target, reply);
		return -1;
	}
	return 0;
}

static const char *fs_name(const char *path)
{
	struct statfs f;

	if (statfs(path, &f) != 0)
		return "?";
	switch ((unsigned long)f.f_type) {
	case TMPFS_MAGIC:
		return "tmpfs";
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	default:
		return "other";
	}
}

static void p3_print(struct ctx *c, uint64_t count, double *rtt, double *vis, uint64_t nvis, uint64_t unseen,
		     uint64_t late, uint64_t late_off, uint64_t late_still, double busy_s, const char *fs)
{
	double rate = busy_s > 0 ? (double)count / busy_s : 0, before = 0;
	char param[32], label[64];

	qsort(rtt, count, sizeof(double), cmp_double);
	qsort(vis, nvis, sizeof(double), cmp_double);
	for (uint64_t i = 0; i < nvis; i++)
		before += vis[i] < 0;
	before = nvis ? before / (double)nvis : 0;
	printf("\n== 3b. writer through mxcached: %" PRIu64 " SETs on ctl.sock, one at a time, %d keys, state on %s\n",
	       count, SET_KEYS, fs);
	printf("%-40s %12.1f\n", "acknowledged changes/s", rate);
	printf("%-40s %12.1f %12.1f %12.1f\n", "round trip p50/p99/max (us)", quantile(rtt, count, 0.5) / 1e3,
	       quantile(rtt, count, 0.99) / 1e3, count ? rtt[count - 1] / 1e3 : 0);
	if (nvis)
		printf("%-40s %12.1f %12.1f %12.1f\n", "visibility p50/p99/max (us)", quantile(vis, nvis, 0.5) / 1e3,
		       quantile(vis, nvis, 0.99) / 1e3, vis[nvis - 1] / 1e3);
	printf("%-40s %12.1f %%\n", "visible before the OK was read", 100 * before);
	snprintf(label, sizeof(label), "seen > %" PRId64 " us after the OK", VIS_LATE_NS / NS_PER_US);
	printf("%-40s %12" PRIu64 "\n", label, late);
	printf("%-40s %12" PRIu64 "\n", "  of which the reader was off its CPU", late_off);
	printf("%-40s %12" PRIu64 "\n", "  late even without its time away", late_still);
	if (unseen)
		printf("%-40s %12" PRIu64 "\n", "changes the reader never saw", unseen);
	printf("# visibility = reader first sees the new target - writer reads the OK (CLOCK_MONOTONIC);\n"
	       "# negative: visible before the OK arrived.  The daemon commits each SET to SQLite\n"
	       "# (synchronous=full by default: an fsync per SET) and publishes before answering.\n"
	       "# 'off its CPU': the polling reader lost its CPU (a step of its loop over %" PRId64 " us)\n"
	       "# after the SET was sent; 'late even without': late by more than that time away.\n",
	       POLL_GAP_NS / NS_PER_US);
	fflush(stdout);
	snprintf(param, sizeof(param), "sets=%" PRIu64, count);
	csv_row(c, "writer_daemon", param, "ack_rate", 1, rate, "changes/s");
	csv_row(c, "writer_daemon", param, "rtt_p50", 1, quantile(rtt, count, 0.5) / 1e3, "us");
	csv_row(c, "writer_daemon", param, "rtt_p99", 1, quantile(rtt, count, 0.99) / 1e3, "us");
	csv_row(c, "writer_daemon", param, "rtt_max", 1, count ? rtt[count - 1] / 1e3 : 0, "us");
	if (nvis) {
		csv_row(c, "writer_daemon", param, "visibility_p50", 2, quantile(vis, nvis, 0.5) / 1e3, "us");
		csv_row(c, "writer_daemon", param, "visibility_p99", 2, quantile(vis, nvis, 0.99) / 1e3, "us");
		csv_row(c, "writer_daemon", param, "visibility_max", 2, vis[nvis - 1] / 1e3, "us");
	}
	csv_row(c, "writer_daemon", param, "visible_before_ack", 3, before, "fraction");
	csv_row(c, "writer_daemon", param, "unseen", 0, (double)unseen, "count");
	csv_row(c, "writer_daemon", param, "late", 0, (double)late, "count");
	csv_row(c, "writer_daemon", param, "late_reader_off_cpu", 0, (double)late_off, "count");
	csv_row(c, "writer_daemon", param, "late_without_time_away", 0, (double)late_still, "count");
}

static int phase_writer_daemon(struct ctx *c)
{
	uint64_t count = c->op->quick ? SETS_QUICK : SETS_FULL, nvis = 0, unseen = 0;
	uint64_t late = 0, late_off = 0, late_still = 0;
	size_t len = sizeof(struct p3_shared) + (count + 1) * sizeof(struct p3_seen);
	int reader_cpu = c->cpus[c->ncpus - 1], fd = -1, rc = -1, st;
	struct tmpdir *d = &g.dirs[DIR_DAEMON];
	char logpath[sizeof(d->path) + 16], target[32];
	double *rtt = NULL, *vis = NULL;
	int64_t busy = 0, t0 = mono_ns();
	struct p3_shared *sh = NULL;
	const char *fs;

	if (access(c->daemon_path, X_OK) != 0) {
		progress("3b. skipped: %s: %s", c->daemon_path, strerror(errno));
		printf("\n== 3b. writer through mxcached: not run (%s not found)\n", c->daemon_path);
		return 0;
	}
	if (tmpdir_make(d, "daemon") != 0)
		return -1;
	fs = fs_name(d->path);
	snprintf(logpath, sizeof(logpath), "%s/daemon.log", d->path);
	progress("3b. writer through mxcached: starting %s -d %s -f (state on %s, region files %s*, log in %s)",
		 c->daemon_path, d->path, fs, d->shm_prefix, logpath);
	/* the daemon and this client get every CPU but the reader's */
	pin_all_but(c, reader_cpu);
	if (daemon_start(c, d->path, logpath) != 0)
		goto out;
	progress("  daemon pid %ld ready in %.2f s", (long)g.daemon, secs(mono_ns() - t0));
	if ((fd = ctl_connect(d->path)) < 0) {
		progress("connect %s/%s: %s", d->path, MXS_CTL_SOCK, strerror(errno));
		goto out;
	}
	/* untimed: the keys exist before the timed SETs change them (and the
	 * connection and SQLite are warm) */
	for (uint64_t i = 0; i < SET_KEYS; i++)
		if (set_one(fd, i, "192.0.2.1") != 0)
			goto out;
	rtt = malloc(count * sizeof(double));
	vis = malloc(count * sizeof(double));
	if (rtt == NULL || vis == NULL || (sh = shared_map(len)) == NULL)
		goto out;
	if (spawn(c, p3_child, sh, (unsigned)reader_cpu) < 0 || kids_ready(&sh->ready, 1, 1) != 0) {
		if (!g_stop)
			progress("  the visibility reader failed: %s", sh->err[0] ? sh->err : "no result");
		goto out;
	}
	progress("  %" PRIu64 " timed SETs, visibility reader on CPU %d", count, reader_cpu);
	for (uint64_t i = 1; i <= count && !g_stop; i++) {
		int64_t ts, ta, giveup;
		uint64_t off0 = __atomic_load_n(&sh->off_ns, __ATOMIC_ACQUIRE);

		set_target(i, target, sizeof(target));
		/* the reader learns what to wait for before the daemon can
		 * publish it */
		__atomic_store_n(&sh->seq, i, __ATOMIC_RELEASE);
		ts = mono_ns();
		if (set_one(fd, i, target) != 0)
			goto out;
		ta = mono_ns();
		rtt[i - 1] = (double)(ta - ts);
		busy += ta - ts;
		giveup = ta + SEEN_GIVEUP_NS;
		while (__atomic_load_n(&sh->seen_seq, __ATOMIC_ACQUIRE) != i && mono_ns() < giveup && !g_stop)
			sched_yield();
		if (__atomic_load_n(&sh->seen_seq, __ATOMIC_ACQUIRE) == i) {
			/* the reader's time away since the SET was announced */
			int64_t v = sh->seen[i].t - ta, away = (int64_t)(sh->seen[i].off - off0);

			vis[nvis++] = (double)v;
			if (v > VIS_LATE_NS) {
				late++;
				late_off += away > 0;
				/* late even without the reader's time away */
				late_still += v - away > VIS_LATE_NS;
			}
		} else {
			unseen++;
		}
		if (i % (count / 4 ? count / 4 : 1) == 0)
			progress("  %" PRIu64 " of %" PRIu64 " SETs acknowledged", i, count);
	}
	if (g_stop)
		goto out;
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	if (kids_wait(mono_ns() + READY_GIVEUP_S * NS_PER_S) != 0)
		goto out;
	if (sh->errors)
		progress("  the reader's lookups failed %" PRIu64 " times", sh->errors);
	if (unseen)
		progress("  %" PRIu64 " changes were not seen by the reader within %.1f s of the OK", unseen,
			 secs(SEEN_GIVEUP_NS));
	close(fd);
	fd = -1;
	t0 = mono_ns();
	if (daemon_stop(DAEMON_STOP_GIVEUP_S * NS_PER_S, &st) != 0) {
		progress("mxcached did not exit cleanly on SIGTERM (status %#x)", (unsigned)st);
		show_log_tail(logpath);
		goto out;
	}
	progress("  daemon stopped (SIGTERM, exit 0) in %.3f s", secs(mono_ns() - t0));
	p3_print(c, count, rtt, vis, nvis, unseen, late, late_off, late_still, secs(busy), fs);
	rc = 0;
out:
	if (sh != NULL)
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	kids_kill();
	if (fd >= 0)
		close(fd);
	if (g.daemon > 0 && daemon_stop(DAEMON_STOP_GIVEUP_S * NS_PER_S, &st) != 0)
		progress("mxcached did not exit cleanly on SIGTERM (status %#x)", (unsigned)st);
	tmpdir_remove(d);
	unpin(c);
	if (sh != NULL)
		munmap(sh, len);
	free(rtt);
	free(vis);
	return rc;
}

/* --- options and main ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_scale [--quick] [--entries N] [--csv FILE]\n"
		"  --quick       smaller and shorter: %u entries, %.1f s windows (well under a minute)\n"
		"  --entries N   entries in the region (default %u; %u..%u)\n"
		"  --csv FILE    also write rows benchmark,param,metric,value,unit\n",
		ENTRIES_QUICK, SCALE_S_QUICK, ENTRIES_FULL, ENTRIES_MIN, ENTRIES_MAX);
}

static int parse_args(int argc, char **argv, struct opts *op)
{
	char *end;

	memset(op, 0, sizeof(*op));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quick") == 0) {
			op->quick = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (val == NULL) {
			usage(stderr);
			return -1;
		} else if (strcmp(a, "--entries") == 0) {
			unsigned long long v;

			errno = 0;
			v = strtoull(val, &end, 10);
			if (*end != '\0' || errno != 0 || v < ENTRIES_MIN || v > ENTRIES_MAX) {
				fprintf(stderr, "bench_scale: --entries wants %u..%u\n", ENTRIES_MIN, ENTRIES_MAX);
				return -1;
			}
			op->entries = v;
			i++;
		} else if (strcmp(a, "--csv") == 0) {
			op->csv = val;
			i++;
		} else {
			usage(stderr);
			return -1;
		}
	}
	if (op->entries == 0)
		op->entries = op->quick ? ENTRIES_QUICK : ENTRIES_FULL;
	return 0;
}

/* Build the region and take the fresh memory figures. */
static int setup_region(struct ctx *c)
{
	int64_t t0 = mono_ns();
	int rc;

	progress("generating %" PRIu64 " keys and a %u-lookup random stream", c->n, STREAM_LEN);
	if (make_data(c) != 0)
		return -1;
	if (tmpdir_make(&g.dirs[DIR_REGION], "region") != 0)
		return -1;
	progress("keys in %.1f s; building the region in %s (files %s*)", secs(mono_ns() - t0),
		 g.dirs[DIR_REGION].path, g.dirs[DIR_REGION].shm_prefix);
	t0 = mono_ns();
	if (build_region(c) != 0)
		return -1;
	progress("region built in %.1f s; checking every answer", secs(mono_ns() - t0));
	if ((rc = mxc_open(g.dirs[DIR_REGION].path, &g.h)) != MXC_OK) {
		progress("mxc_open %s: %s", g.dirs[DIR_REGION].path, mxc_strerror(rc));
		return -1;
	}
	t0 = mono_ns();
	if (check_all(c) != 0)
		return -1;
	progress("all %" PRIu64 " answers right (%.1f s)", c->n, secs(mono_ns() - t0));
	if (mem_measure(c, &c->fresh) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctx c;
	struct opts op;
	struct sigaction sa;
	int64_t t0 = mono_ns();
	double load0 = loadavg1();
	int failed = 0;

	if (parse_args(argc, argv, &op) != 0)
		return 2;
	c.op = &op;
	c.n = op.entries;
	/* the writer's info lines (region built, grew) would only interleave
	 * with the progress lines */
	log_init(1, LOG_WARNING);
	if (cpus_init(&c) != 0 || daemon_path(&c, argv[0]) != 0)
		return 1;
	g.parent = getpid();
	g.nkids = (unsigned)c.online + 4;
	g.kids = calloc(g.nkids, sizeof(*g.kids));
	if (g.kids == NULL)
		return 1;
	atexit(cleanup_all);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: waits must return so that the run can unwind */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (op.csv != NULL && (c.csv = fopen(op.csv, "w")) == NULL) {
		fprintf(stderr, "bench_scale: %s: %s\n", op.csv, strerror(errno));
		return 1;
	}
	if (c.csv != NULL)
		fprintf(c.csv, "benchmark,param,metric,value,unit\n");
	progress("%s run: %" PRIu64 " entries, %ld online CPUs, load average %.2f", op.quick ? "quick" : "full", c.n,
		 c.online, load0);
	printf("# bench_scale (%s): %" PRIu64 " entries, %ld online CPUs, load average %.2f at start\n",
	       op.quick ? "quick" : "full", c.n, c.online, load0);
	fflush(stdout);

	if (setup_region(&c) != 0)
		failed = 1;
	if (!failed && !g_stop && phase_readers(&c) != 0)
		failed = 1;
	if (!failed && !g_stop && phase_latency(&c) != 0)
		failed = 1;
	if (!failed && !g_stop && phase_writer_inproc(&c) != 0)
		failed = 1;
	if (!failed && !g_stop) {
		/* let the grace periods drain what the updates replaced, so
		 * that 'after' shows what stays, not what waits */
		for (int i = 0; i < 4; i++) {
			sleep_ns(2 * NS_PER_MS);
			region_tick(g.region);
		}
		if (mem_measure(&c, &c.churned) != 0)
			failed = 1;
	}
	/* the in-process region is no longer needed: free its memory before
	 * the daemon runs */
	mxc_close(g.h);
	g.h = NULL;
	region_close(g.region);
	g.region = NULL;
	tmpdir_remove(&g.dirs[DIR_REGION]);
	if (!failed && !g_stop && phase_writer_daemon(&c) != 0)
		failed = 1;
	phase_memory_print(&c);

	if (g_stop) {
		progress("interrupted");
		failed = 1;
	}
	csv_row(&c, "run", op.quick ? "quick" : "full", "entries", 0, (double)c.n, "count");
	csv_row(&c, "run", op.quick ? "quick" : "full", "online_cpus", 0, (double)c.online, "count");
	csv_row(&c, "run", op.quick ? "quick" : "full", "load_average_start", 2, load0, "load");
	csv_row(&c, "run", op.quick ? "quick" : "full", "load_average_end", 2, loadavg1(), "load");
	csv_row(&c, "run", op.quick ? "quick" : "full", "wall", 1, secs(mono_ns() - t0), "s");
	printf("\n# load average %.2f at the end; %.1f s in all\n", loadavg1(), secs(mono_ns() - t0));
	if (c.csv != NULL && fclose(c.csv) != 0) {
		fprintf(stderr, "bench_scale: %s: %s\n", op.csv, strerror(errno));
		failed = 1;
	}
	cleanup_all();
	data_free(&c);
	progress("done in %.1f s%s", secs(mono_ns() - t0), failed ? " (something failed: see above)" : "");
	return failed;
}
