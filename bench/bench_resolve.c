/*
 * bench_resolve - latency of mxc_resolve() against LMDB's mdb_get() on the
 * same keys.
 *
 *   bench_resolve [--quick] [--sizes N,N,...] [--samples N] [--cpu N|-1]
 *                 [--csv FILE]
 *
 * For each size N: build a region with N endpoint overrides in a private
 * state directory through the writer's own code (daemon/region.h), load the
 * same pairs into an LMDB database, then fork.  The child measures; the
 * parent only waits, keeping the writer's region open as a running daemon
 * would.  The child maps the region with mxc_open() like any mail server:
 * it never touches the writer's mapping it inherited.
 *
 * Method.  One lookup costs tens to hundreds of nanoseconds, too close to
 * the clock's own cost to time one by one, so:
 *   - samples: BATCH independent lookups are timed together and the batch
 *     time divided by BATCH is one sample; median, p99 and p99.9 are over
 *     those samples (so the tails are tails of batch means, which smooths
 *     single-lookup outliers);
 *   - mean: a long run of CHUNK-sized timed slices, total time over total
 *     lookups, where the clock's cost vanishes.
 * Before each timed batch its keys are copied (untimed) into a small
 * buffer, as a mail server holds the key it asks about in cache; key
 * choice and generation are never timed.  Key order comes from shuffled
 * permutations built before any timing, and both systems get the very same
 * order.  The measured clock overhead is subtracted from every batch.
 * The two systems take turns in blocks of a few tens of milliseconds (see
 * measure_case), so background load on a shared machine falls on both.
 *
 * Fairness.  mxc_resolve() takes any spelling of a key and normalises it
 * (case, trailing dot, IDNA, IP literals) before the table lookup; the
 * LMDB side is handed the canonical key and only does strlen + mdb_get +
 * a copy of the value out, so LMDB is given the easier job.  Both copy the
 * answer into a caller buffer, because the mxcache API always does.
 *
 * The figures are reported, never judged: there is no pass or fail here.
 * The exit status is 0 unless something failed outright (set-up error, a
 * wrong answer, the child crashing).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "shm/layout.h"
#include "shm/override.h"
#include "shm/path.h"

/* --- sizes and counts --------------------------------------------------- */

#define BATCH            64          /* lookups per timed sample */
#define CHUNK            4096        /* lookups per timed slice of the long run */
#define KEY_SLOT         48          /* bytes per stored key: KEY_MAX + NUL, rounded up */
#define KEY_MIN          10          /* key lengths wanted, in characters */
#define KEY_MAX          40
#define KEY_TRIES        64          /* draws before the fallback key shape */
#define TARGET_SLOT      64          /* bytes per target: longest generated + NUL */
#define HOST_BUF         (MXC_HOST_MAX + 1)

#define SAMPLES_FULL     50000       /* timed batches per system and case */
#define SAMPLES_QUICK    5000
#define LONG_FULL        (1u << 22)  /* lookups in the long run (mean) */
#define LONG_QUICK       (1u << 18)
#define WARM_LOOKUPS     (1u << 13)  /* untimed lookups before each block */
#define BLOCK_SAMPLES    1000        /* batches per turn of one system */
#define BLOCK_CHUNKS     32          /* long-run slices per turn of one system */
#define CLOCK_PROBES     1001        /* clock-pair timings for the overhead */

#define SIZE_MAX_N       20000000u   /* keys are 48 B each, twice: ~2 GB at this size */
#define SIZES_MAX        16
#define PUBLISH_EVERY    4096        /* region_put()s per region_publish() */
#define REGION_SLOTS     64          /* reader slots: one reader, plenty spare */

/* LMDB needs its map size up front; a generous bound per entry (B-tree
 * pages at half fill hold key + value + node headers) plus a floor. */
#define LMDB_BYTES_PER_ENTRY 256u
#define LMDB_MAP_MIN         (64u << 20)

#define KEY_SEED         UINT64_C(0x6d78636163686531)   /* fixed: runs comparable */
#define TARGET_SEED      UINT64_C(0x7461726765747321)
#define ORDER_SEED       UINT64_C(0x6f72646572212121)

#define NS_PER_S         1000000000.0

enum { SYS_MXC, SYS_LMDB, SYS_COUNT };
enum { CASE_HIT, CASE_MISS, CASE_COUNT };

static const char *const sys_name[SYS_COUNT] = { "mxcache", "lmdb" };
static const char *const case_name[CASE_COUNT] = { "hit", "miss" };

/* What the child hands back to the parent, in a shared anonymous page. */
struct result {
	double median, p99, p999, mean;
	int valid;
};

struct shared {
	struct result r[SYS_COUNT][CASE_COUNT];
	double clock_ns;          /* one clock_gettime pair */
	int cpu;                  /* CPU pinned to, -1 if none */
	int ok;                   /* the child finished every phase */
};

struct opts {
	uint64_t sizes[SIZES_MAX];
	unsigned nsizes;
	unsigned samples;
	unsigned long_lookups;
	int cpu;                  /* -2: choose, -1: do not pin */
	const char *csv;
};

/* One size's state: directories, key pools, the region. */
struct run {
	uint64_t n;
	char dir[64];             /* state directory (mkdtemp) */
	char lmdir[96];           /* LMDB environment, inside dir */
	char shm_prefix[MXC_SHM_PATH_MAX];   /* "<shmdir>/mxcache-<dev>-<ino>." */
	char (*hit)[KEY_SLOT];    /* n keys present */
	char (*miss)[KEY_SLOT];   /* n keys absent, same shapes */
	uint32_t *order;          /* shuffled indices, shared by both systems */
	size_t norder;
	struct region *region;
	int have_dir;
};

static volatile sig_atomic_t g_stop;
static volatile pid_t g_child;

/* --- small helpers -------------------------------------------------------- */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * NS_PER_S + (double)ts.tv_nsec;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_resolve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A uniform integer below bound (bound < 2^32): multiply-shift, whose bias
 * at these bounds is far below anything a latency figure could show. */
static uint32_t below(uint64_t *s, uint32_t bound)
{
	return (uint32_t)(((splitmix64(s) >> 32) * (uint64_t)bound) >> 32);
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_child > 0)
		kill(g_child, SIGKILL);
}

/* --- keys and targets ----------------------------------------------------- */

/*
 * Key shapes.  The first label is a letters-only prefix followed by the
 * decimal index, so it alone identifies the index: keys for different
 * indices never collide, and the keys of indices n..2n-1 are certain
 * misses of a table holding 0..n-1.
 */
static const char *const key_prefix[] = { "host", "mx", "mail", "smtp", "relay", "in", "mta",
					  "edge", "gw", "out", "inbound", "mailgw" };
static const char *const key_word[] = { "a", "io", "ops", "corp", "acme", "shop", "north",
					"globex", "initech", "umbrella", "hooli", "example",
					"megacorp", "contoso", "fabrikam", "wayneenterprises",
					"eu-west", "customers", "lists", "bounce" };
static const char *const key_tld[] = { "com", "net", "org", "de", "io", "example.com", "co.uk",
				       "example.net", "mail.example.org", "ac.jp" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void make_key(uint64_t i, char *out)
{
	uint64_t s = i ^ KEY_SEED;
	int n;

	for (unsigned t = 0; t < KEY_TRIES; t++) {
		n = snprintf(out, KEY_SLOT, "%s%" PRIu64 ".%s.%s", key_prefix[below(&s, NELEM(key_prefix))], i,
			     key_word[below(&s, NELEM(key_word))], key_tld[below(&s, NELEM(key_tld))]);
		if (n >= KEY_MIN && n <= KEY_MAX)
			return;
	}
	/* "mx" + at most 8 digits + ".example.com": always 15..22 chars */
	snprintf(out, KEY_SLOT, "mx%" PRIu64 ".example.com", i);
}

/* Targets: half IPv4 addresses (canonical dotted quads), half host names. */
static void make_target(uint64_t i, char *out)
{
	uint64_t s = i ^ TARGET_SEED;
	uint64_t r = splitmix64(&s);

	if (r & 1)
		snprintf(out, TARGET_SLOT, "%u.%u.%u.%u", 10u + (unsigned)((r >> 8) % 200),
			 (unsigned)((r >> 16) & 255), (unsigned)((r >> 24) & 255),
			 1u + (unsigned)((r >> 32) % 254));
	else
		snprintf(out, TARGET_SLOT, "mx%u.%s.%s", (unsigned)((r >> 8) % 1000),
			 key_word[below(&s, NELEM(key_word))], key_tld[below(&s, NELEM(key_tld))]);
}

/* --- set-up: keys, region, LMDB --------------------------------------------- */

static int make_keys(struct run *ru, unsigned norder_min)
{
	uint64_t s = ORDER_SEED ^ ru->n;
	uint32_t *perm;
	size_t i, j, done;

	ru->hit = malloc(ru->n * KEY_SLOT);
	ru->miss = malloc(ru->n * KEY_SLOT);
	ru->norder = norder_min;
	ru->order = malloc(ru->norder * sizeof(*ru->order));
	if (ru->hit == NULL || ru->miss == NULL || ru->order == NULL) {
		progress("out of memory for %" PRIu64 " keys", ru->n);
		return -1;
	}
	for (i = 0; i < ru->n && !g_stop; i++) {
		make_key(i, ru->hit[i]);
		make_key(ru->n + i, ru->miss[i]);
	}
	/* concatenated Fisher-Yates shuffles of 0..n-1: every key is asked
	 * about equally often, in a uniformly random order */
	perm = malloc(ru->n * sizeof(*perm));
	if (perm == NULL) {
		progress("out of memory for %" PRIu64 " keys", ru->n);
		return -1;
	}
	for (i = 0; i < ru->n; i++)
		perm[i] = (uint32_t)i;
	for (done = 0; done < ru->norder && !g_stop; done += ru->n) {
		size_t m = ru->norder - done < ru->n ? ru->norder - done : ru->n;

		for (i = ru->n - 1; i > 0; i--) {
			uint32_t t;

			j = below(&s, (uint32_t)(i + 1));
			t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		memcpy(ru->order + done, perm, m * sizeof(*perm));
	}
	free(perm);
	return g_stop ? -1 : 0;
}

static int build_region(struct run *ru)
{
	struct region_opts o;
	uint8_t meta[MXC_OV_META_MAX];
	char target[TARGET_SLOT];
	int64_t now = (int64_t)time(NULL);
	size_t mlen = mxc_ov_meta_encode(meta, now, now, "bench", 5);

	memset(&o, 0, sizeof(o));
	o.dir = ru->dir;
	o.nslots = REGION_SLOTS;
	o.gid = (gid_t)-1;
	if (region_create(&o, ru->n, &ru->region) != 0) {
		progress("region_create %s: %s", ru->dir, strerror(errno));
		return -1;
	}
	if (region_go_live(ru->region) != 0) {
		progress("region_go_live: %s", strerror(errno));
		return -1;
	}
	for (uint64_t i = 0; i < ru->n; i++) {
		make_target(i, target);
		if (region_put(ru->region, MXC_TAB_OVERRIDE, ru->hit[i], strlen(ru->hit[i]), target,
			       strlen(target), meta, mlen) != 0) {
			progress("region_put %s: %s", ru->hit[i], strerror(errno));
			return -1;
		}
		if (i % PUBLISH_EVERY == PUBLISH_EVERY - 1) {
			region_publish(ru->region);
			if (g_stop)
				return -1;
		}
	}
	region_publish(ru->region);
	return 0;
}

static size_t lmdb_mapsize(uint64_t n)
{
	return (size_t)n * LMDB_BYTES_PER_ENTRY + LMDB_MAP_MIN;
}

static int lmdb_fail(const char *what, int rc)
{
	progress("lmdb %s: %s", what, mdb_strerror(rc));
	return -1;
}

/* Load the same pairs into a fresh LMDB, in one write transaction, with
 * the asynchronous flags: the load is set-up, not what is measured.
 * *used receives the bytes the B-tree occupies. */
static int build_lmdb(const struct run *ru, uint64_t *used)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	MDB_envinfo info;
	MDB_stat st;
	char target[TARGET_SLOT];
	int rc;

	if (mkdir(ru->lmdir, 0700) != 0) {
		progress("mkdir %s: %s", ru->lmdir, strerror(errno));
		return -1;
	}
	if ((rc = mdb_env_create(&env)) != 0)
		return lmdb_fail("env_create", rc);
	if ((rc = mdb_env_set_mapsize(env, lmdb_mapsize(ru->n))) != 0 ||
	    (rc = mdb_env_open(env, ru->lmdir, MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		mdb_env_close(env);
		return lmdb_fail("open", rc);
	}
	if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
		goto fail;
	for (uint64_t i = 0; i < ru->n; i++) {
		make_target(i, target);
		k.mv_size = strlen(ru->hit[i]);
		k.mv_data = ru->hit[i];
		v.mv_size = strlen(target);
		v.mv_data = target;
		if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
			goto fail;
		if (g_stop) {
			rc = EINTR;
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		mdb_env_close(env);
		return lmdb_fail("commit", rc);
	}
	mdb_env_info(env, &info);
	mdb_env_stat(env, &st);
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	mdb_env_close(env);
	return 0;
fail:
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return lmdb_fail("load", rc);
}

/* --- the child: lookups ----------------------------------------------------- */

struct reader {
	mxc_t *h;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
};

/*
 * One pass over keys[0..n): the timed unit.  The lookups are independent
 * of each other; the count of answers found is returned so that none can
 * be optimised away (they are calls into other objects anyway).
 */
static unsigned lookups(struct reader *rd, int sys, char (*keys)[KEY_SLOT], size_t n)
{
	char host[HOST_BUF];
	unsigned found = 0;
	size_t i;

	if (sys == SYS_MXC) {
		for (i = 0; i < n; i++)
			found += mxc_resolve(rd->h, keys[i], host, sizeof(host)) == MXC_OK;
		return found;
	}
	for (i = 0; i < n; i++) {
		MDB_val k, v;

		k.mv_data = keys[i];
		k.mv_size = strlen(keys[i]);
		if (mdb_get(rd->txn, rd->dbi, &k, &v) == 0 && v.mv_size < sizeof(host)) {
			memcpy(host, v.mv_data, v.mv_size);
			host[v.mv_size] = '\0';
			found++;
		}
	}
	return found;
}

/* Untimed: copy the keys order[from..from+n) names into buf. */
static void stage(const struct run *ru, int cs, size_t from, char (*buf)[KEY_SLOT], size_t n)
{
	char (*pool)[KEY_SLOT] = cs == CASE_HIT ? ru->hit : ru->miss;

	for (size_t i = 0; i < n; i++)
		memcpy(buf[i], pool[ru->order[(from + i) % ru->norder]], KEY_SLOT);
}

/*
 * Every key once, answers checked: warms the page tables and caches of
 * both systems and makes sure the figures are for correct lookups.
 */
static int check_all(const struct run *ru, struct reader *rd)
{
	char host[HOST_BUF], want[TARGET_SLOT];
	uint64_t bad = 0;
	int rc;

	for (uint64_t i = 0; i < ru->n; i++) {
		MDB_val k, v;

		make_target(i, want);
		rc = mxc_resolve(rd->h, ru->hit[i], host, sizeof(host));
		if (rc != MXC_OK || strcmp(host, want) != 0) {
			if (bad++ < 3)
				progress("mxcache: %s -> %s (%s), want %s", ru->hit[i], rc == MXC_OK ? host : "-",
					 mxc_strerror(rc), want);
		}
		rc = mxc_resolve(rd->h, ru->miss[i], host, sizeof(host));
		if (rc != MXC_NOTFOUND && bad++ < 3)
			progress("mxcache: %s should be absent: %s", ru->miss[i], mxc_strerror(rc));

		k.mv_data = ru->hit[i];
		k.mv_size = strlen(ru->hit[i]);
		rc = mdb_get(rd->txn, rd->dbi, &k, &v);
		if ((rc != 0 || v.mv_size != strlen(want) || memcmp(v.mv_data, want, v.mv_size) != 0) &&
		    bad++ < 3)
			progress("lmdb: %s: wrong answer", ru->hit[i]);
		k.mv_data = ru->miss[i];
		k.mv_size = strlen(ru->miss[i]);
		if (mdb_get(rd->txn, rd->dbi, &k, &v) != MDB_NOTFOUND && bad++ < 3)
			progress("lmdb: %s should be absent", ru->miss[i]);
	}
	if (bad) {
		progress("%" PRIu64 " wrong answers: the figures would mean nothing", bad);
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted v[0..n). */
static double quantile(const double *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.5);

	if (k >= n)
		k = n - 1;
	return v[k];
}

/* The cost of the clock pair around a batch, to subtract from it. */
static double clock_overhead(void)
{
	double v[CLOCK_PROBES];

	for (unsigned i = 0; i < CLOCK_PROBES; i++) {
		double t0 = now_ns();
		v[i] = now_ns() - t0;
	}
	qsort(v, CLOCK_PROBES, sizeof(v[0]), cmp_double);
	return v[CLOCK_PROBES / 2];
}

/* Untimed lookups, to bring one system's working set back into cache
 * after the other system's block pushed it out.  They take keys half the
 * order away from those about to be timed: warming the very entries the
 * block will ask for would turn a large table's misses into cache hits. */
static void warm(const struct run *ru, struct reader *rd, int sys, int cs, size_t from)
{
	static char buf[CHUNK][KEY_SLOT] __attribute__((aligned(64)));

	from += ru->norder / 2;
	for (size_t i = 0; i < WARM_LOOKUPS; i += CHUNK) {
		stage(ru, cs, from + i, buf, CHUNK);
		lookups(rd, sys, buf, CHUNK);
	}
}

/*
 * Both systems for one case.  They take turns in blocks (BLOCK_SAMPLES
 * batches, then BLOCK_CHUNKS slices of the long run), each block after a
 * warm-up, so that load from other processes and frequency changes fall on
 * both alike instead of on whichever ran second; the blocks are long
 * enough for each system to run from its own warm cache.  The same key
 * order serves both.
 */
static int measure_case(const struct run *ru, const struct opts *op, struct reader *rd, int cs, double clk,
			struct result res[SYS_COUNT])
{
	static char batch[BATCH][KEY_SLOT] __attribute__((aligned(64)));
	static char chunk[CHUNK][KEY_SLOT] __attribute__((aligned(64)));
	double *v[SYS_COUNT], total[SYS_COUNT] = { 0 }, t0, t, start = now_ns();
	size_t i, pos, end, nlong = 0;
	unsigned want = cs == CASE_HIT ? BATCH : 0, found;
	int sys, rc = -1;

	v[SYS_MXC] = malloc(op->samples * sizeof(double));
	v[SYS_LMDB] = malloc(op->samples * sizeof(double));
	if (v[SYS_MXC] == NULL || v[SYS_LMDB] == NULL)
		goto out;
	for (i = 0; i < op->samples; i = end) {
		end = i + BLOCK_SAMPLES < op->samples ? i + BLOCK_SAMPLES : op->samples;
		for (sys = 0; sys < SYS_COUNT; sys++) {
			warm(ru, rd, sys, cs, i * BATCH);
			for (size_t k = i; k < end; k++) {
				stage(ru, cs, k * BATCH, batch, BATCH);
				t0 = now_ns();
				found = lookups(rd, sys, batch, BATCH);
				t = now_ns() - t0 - clk;
				v[sys][k] = (t > 0 ? t : 0) / BATCH;
				if (found != want) {
					progress("%s %s: %u of %u found in a batch", sys_name[sys], case_name[cs],
						 found, BATCH);
					goto out;
				}
			}
		}
	}
	for (pos = 0; pos < op->long_lookups; pos = end) {
		end = pos + (size_t)BLOCK_CHUNKS * CHUNK;
		if (end > op->long_lookups)
			end = op->long_lookups;
		for (sys = 0; sys < SYS_COUNT; sys++) {
			warm(ru, rd, sys, cs, pos);
			for (size_t k = pos; k < end; k += CHUNK) {
				stage(ru, cs, k, chunk, CHUNK);
				t0 = now_ns();
				lookups(rd, sys, chunk, CHUNK);
				t = now_ns() - t0 - clk;
				total[sys] += t > 0 ? t : 0;
			}
		}
		nlong += end - pos;
	}
	for (sys = 0; sys < SYS_COUNT; sys++) {
		struct result *r = &res[sys];

		qsort(v[sys], op->samples, sizeof(double), cmp_double);
		r->median = quantile(v[sys], op->samples, 0.5);
		r->p99 = quantile(v[sys], op->samples, 0.99);
		r->p999 = quantile(v[sys], op->samples, 0.999);
		r->mean = total[sys] / (double)nlong;
		r->valid = 1;
		progress("  %-8s %-4s median %.1f ns, mean %.1f ns", sys_name[sys], case_name[cs], r->median,
			 r->mean);
	}
	progress("  (%s case measured in %.1f s)", case_name[cs], (now_ns() - start) / NS_PER_S);
	rc = 0;
out:
	free(v[SYS_MXC]);
	free(v[SYS_LMDB]);
	return rc;
}

/* Pin to one CPU: the requested one, else the highest we may use (CPU 0
 * tends to take more interrupts).  Returns the CPU, or -1. */
static int pin_cpu(int want)
{
	cpu_set_t set;
	int cpu = -1;

	if (want == -1 || sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	if (want >= 0) {
		cpu = want;
	} else {
		for (int c = CPU_SETSIZE - 1; c >= 0 && cpu < 0; c--)
			if (CPU_ISSET(c, &set))
				cpu = c;
	}
	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		progress("cannot pin to CPU %d (%s); running unpinned", cpu, strerror(errno));
		return -1;
	}
	return cpu;
}

static int reader_open(const struct run *ru, struct reader *rd)
{
	int rc;

	memset(rd, 0, sizeof(*rd));
	rc = mxc_open(ru->dir, &rd->h);
	if (rc != MXC_OK) {
		progress("mxc_open %s: %s", ru->dir, mxc_strerror(rc));
		return -1;
	}
	if ((rc = mdb_env_create(&rd->env)) != 0)
		return lmdb_fail("env_create", rc);
	if ((rc = mdb_env_set_mapsize(rd->env, lmdb_mapsize(ru->n))) != 0 ||
	    (rc = mdb_env_open(rd->env, ru->lmdir, MDB_RDONLY, 0600)) != 0 ||
	    (rc = mdb_txn_begin(rd->env, NULL, MDB_RDONLY, &rd->txn)) != 0 ||
	    (rc = mdb_dbi_open(rd->txn, NULL, 0, &rd->dbi)) != 0)
		return lmdb_fail("open for reading", rc);
	return 0;
}

static void reader_close(struct reader *rd)
{
	if (rd->txn != NULL)
		mdb_txn_abort(rd->txn);
	if (rd->env != NULL)
		mdb_env_close(rd->env);
	mxc_close(rd->h);
}

/* The child's whole life: returns its exit status. */
static int child_main(const struct run *ru, const struct opts *op, struct shared *sh)
{
	struct reader rd;
	double t0 = now_ns();
	int rc = 1;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sh->cpu = pin_cpu(op->cpu);
	if (reader_open(ru, &rd) != 0)
		goto out;
	progress("[%" PRIu64 "] child %ld on CPU %d: checking every answer", ru->n, (long)getpid(), sh->cpu);
	if (check_all(ru, &rd) != 0)
		goto out;
	sh->clock_ns = clock_overhead();
	progress("[%" PRIu64 "] checked in %.1f s; clock pair %.1f ns; measuring", ru->n,
		 (now_ns() - t0) / NS_PER_S, sh->clock_ns);
	for (int cs = 0; cs < CASE_COUNT; cs++) {
		struct result res[SYS_COUNT];

		memset(res, 0, sizeof(res));
		if (measure_case(ru, op, &rd, cs, sh->clock_ns, res) != 0)
			goto out;
		for (int sys = 0; sys < SYS_COUNT; sys++)
			sh->r[sys][cs] = res[sys];
	}
	sh->ok = 1;
	rc = 0;
out:
	reader_close(&rd);
	return rc;
}

/* --- output ------------------------------------------------------------------ */

#define TABLE_FMT "%-10s %-9s %-5s %10s %9s %9s %9s %14s\n"

static void print_header(FILE *csv)
{
	printf(TABLE_FMT, "overrides", "system", "case", "median_ns", "p99_ns", "p999_ns", "mean_ns",
	       "ratio_vs_lmdb");
	if (csv != NULL)
		fprintf(csv, "overrides,system,case,median_ns,p99_ns,p999_ns,mean_ns,ratio_vs_lmdb\n");
}

static void print_rows(uint64_t n, const struct shared *sh, FILE *csv)
{
	for (int cs = 0; cs < CASE_COUNT; cs++) {
		for (int sys = 0; sys < SYS_COUNT; sys++) {
			const struct result *r = &sh->r[sys][cs];
			const struct result *base = &sh->r[SYS_LMDB][cs];
			char nb[24], med[24], p99[24], p999[24], mean[24], ratio[24];

			if (!r->valid)
				continue;
			snprintf(nb, sizeof(nb), "%" PRIu64, n);
			snprintf(med, sizeof(med), "%.1f", r->median);
			snprintf(p99, sizeof(p99), "%.1f", r->p99);
			snprintf(p999, sizeof(p999), "%.1f", r->p999);
			snprintf(mean, sizeof(mean), "%.1f", r->mean);
			if (base->valid && base->median > 0)
				snprintf(ratio, sizeof(ratio), "%.2f", r->median / base->median);
			else
				snprintf(ratio, sizeof(ratio), "-");
			printf(TABLE_FMT, nb, sys_name[sys], case_name[cs], med, p99, p999, mean, ratio);
			if (csv != NULL)
				fprintf(csv, "%s,%s,%s,%s,%s,%s,%s,%s\n", nb, sys_name[sys], case_name[cs], med, p99,
					p999, mean, ratio);
		}
	}
	fflush(stdout);
	if (csv != NULL)
		fflush(csv);
}

/* --- per-size driver ------------------------------------------------------ */

/* Remove every file of the region (data, readers, any half-built or
 * retired one) by the name prefix its directory's identity gives. */
static void remove_region_files(const struct run *ru)
{
	char path[MXC_SHM_PATH_MAX * 2];
	const char *base = strrchr(ru->shm_prefix, '/');
	size_t blen;
	struct dirent *de;
	DIR *d;

	if (base == NULL || ru->shm_prefix[0] == '\0')
		return;
	base++;
	blen = strlen(base);
	d = opendir(mxc_shm_dir());
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", mxc_shm_dir(), de->d_name);
		if (unlink(path) != 0)
			progress("unlink %s: %s", path, strerror(errno));
	}
	closedir(d);
}

static void cleanup(struct run *ru)
{
	char path[256];

	region_close(ru->region);
	ru->region = NULL;
	remove_region_files(ru);
	if (ru->have_dir) {
		snprintf(path, sizeof(path), "%s/data.mdb", ru->lmdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/lock.mdb", ru->lmdir);
		unlink(path);
		rmdir(ru->lmdir);
		if (rmdir(ru->dir) != 0)
			progress("rmdir %s: %s", ru->dir, strerror(errno));
	}
	free(ru->hit);
	free(ru->miss);
	free(ru->order);
	memset(ru, 0, sizeof(*ru));
}

static int run_size(uint64_t n, const struct opts *op, FILE *csv)
{
	struct run ru;
	struct shared *sh;
	struct stat st;
	char data_path[MXC_SHM_PATH_MAX];
	uint64_t lmdb_used = 0;
	double t0;
	size_t need;
	pid_t pid;
	int status, rc = -1;

	memset(&ru, 0, sizeof(ru));
	ru.n = n;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		progress("mmap: %s", strerror(errno));
		return -1;
	}
	memset(sh, 0, sizeof(*sh));
	snprintf(ru.dir, sizeof(ru.dir), "/tmp/mxc-bench.XXXXXX");
	if (mkdtemp(ru.dir) == NULL) {
		progress("mkdtemp: %s", strerror(errno));
		goto out;
	}
	ru.have_dir = 1;
	snprintf(ru.lmdir, sizeof(ru.lmdir), "%s/lmdb", ru.dir);
	if (stat(ru.dir, &st) != 0 ||
	    mxc_shm_path(ru.shm_prefix, sizeof(ru.shm_prefix), mxc_shm_dir(), st.st_dev, st.st_ino, "") != 0 ||
	    mxc_shm_path(data_path, sizeof(data_path), mxc_shm_dir(), st.st_dev, st.st_ino, "data") != 0) {
		progress("%s: cannot name its region", ru.dir);
		goto out;
	}

	need = (size_t)op->samples * BATCH;
	if (need < op->long_lookups)
		need = op->long_lookups;
	if (need < WARM_LOOKUPS)
		need = WARM_LOOKUPS;
	progress("[%" PRIu64 "] generating %" PRIu64 " hit and %" PRIu64 " miss keys, %zu-lookup order", n, n, n,
		 need);
	t0 = now_ns();
	if (make_keys(&ru, (unsigned)need) != 0)
		goto out;
	progress("[%" PRIu64 "] keys in %.1f s; building the region in %s", n, (now_ns() - t0) / NS_PER_S, ru.dir);
	t0 = now_ns();
	if (build_region(&ru) != 0)
		goto out;
	if (stat(data_path, &st) != 0)
		st.st_size = 0;
	progress("[%" PRIu64 "] region built in %.1f s (%.0f MiB); loading LMDB", n, (now_ns() - t0) / NS_PER_S,
		 (double)st.st_size / (1 << 20));
	t0 = now_ns();
	if (build_lmdb(&ru, &lmdb_used) != 0)
		goto out;
	progress("[%" PRIu64 "] LMDB loaded in %.1f s (%.0f MiB used)", n, (now_ns() - t0) / NS_PER_S,
		 (double)lmdb_used / (1 << 20));

	fflush(NULL);   /* nothing buffered may be written twice */
	pid = fork();
	if (pid < 0) {
		progress("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		_exit(child_main(&ru, op, sh));
	g_child = pid;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			progress("waitpid: %s", strerror(errno));
			goto out;
		}
	}
	g_child = 0;
	if (WIFSIGNALED(status))
		progress("[%" PRIu64 "] the measuring process died of signal %d", n, WTERMSIG(status));
	else if (!sh->ok)
		progress("[%" PRIu64 "] the measuring process failed (exit %d)", n, WEXITSTATUS(status));
	print_rows(n, sh, csv);
	rc = sh->ok ? 0 : -1;
out:
	cleanup(&ru);
	munmap(sh, sizeof(*sh));
	return rc;
}

/* --- options ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_resolve [--quick] [--sizes N,N,...] [--samples N] [--cpu N|-1] [--csv FILE]\n"
		   "  --quick        sizes 10000,100000 and fewer samples (well under a minute)\n"
		   "  --sizes LIST   override counts to build (default 10000,1000000; max %u)\n"
		   "  --samples N    timed batches of %d lookups per system and case\n"
		   "  --cpu N        CPU to pin the measuring process to; -1: do not pin\n"
		   "  --csv FILE     also write the rows as CSV\n",
		SIZE_MAX_N, BATCH);
}

static int parse_sizes(const char *s, struct opts *op)
{
	char *end;

	op->nsizes = 0;
	for (;;) {
		unsigned long long v;

		errno = 0;
		v = strtoull(s, &end, 10);
		if (end == s || errno != 0 || v == 0 || v > SIZE_MAX_N || op->nsizes == SIZES_MAX ||
		    (*end != ',' && *end != '\0'))
			return -1;
		op->sizes[op->nsizes++] = v;
		if (*end == '\0')
			return 0;
		s = end + 1;
	}
}

static int parse_args(int argc, char **argv, struct opts *op)
{
	int quick = 0, have_sizes = 0, have_samples = 0;
	char *end;

	memset(op, 0, sizeof(*op));
	op->cpu = -2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quick") == 0) {
			quick = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (val == NULL) {
			usage(stderr);
			return -1;
		} else if (strcmp(a, "--sizes") == 0) {
			if (parse_sizes(val, op) != 0) {
				fprintf(stderr, "bench_resolve: bad --sizes '%s'\n", val);
				return -1;
			}
			have_sizes = 1;
			i++;
		} else if (strcmp(a, "--samples") == 0) {
			unsigned long v = strtoul(val, &end, 10);

			if (*end != '\0' || v < 100 || v > 10000000) {
				fprintf(stderr, "bench_resolve: --samples wants 100..10000000\n");
				return -1;
			}
			op->samples = (unsigned)v;
			have_samples = 1;
			i++;
		} else if (strcmp(a, "--cpu") == 0) {
			long v = strtol(val, &end, 10);

			if (*end != '\0' || v < -1 || v >= CPU_SETSIZE) {
				fprintf(stderr, "bench_resolve: bad --cpu '%s'\n", val);
				return -1;
			}
			op->cpu = (int)v;
			i++;
		} else if (strcmp(a, "--csv") == 0) {
			op->csv = val;
			i++;
		} else {
			usage(stderr);
			return -1;
		}
	}
	if (!have_sizes) {
		op->sizes[0] = 10000;
		op->sizes[1] = quick ? 100000 : 1000000;
		op->nsizes = 2;
	}
	if (!have_samples)
		op->samples = quick ? SAMPLES_QUICK : SAMPLES_FULL;
	op->long_lookups = quick ? LONG_QUICK : LONG_FULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts op;
	struct sigaction sa;
	FILE *csv = NULL;
	double t0 = now_ns();
	int failed = 0;

	if (parse_args(argc, argv, &op) != 0)
		return 2;
	/* the writer's info lines (region built, grew) would only interleave
	 * with the progress lines */
	log_init(1, LOG_WARNING);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: waitpid must return so the parent can clean up */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (op.csv != NULL && (csv = fopen(op.csv, "w")) == NULL) {
		fprintf(stderr, "bench_resolve: %s: %s\n", op.csv, strerror(errno));
		return 1;
	}
	progress("%u samples of %d lookups, long run %u lookups, per system and case", op.samples, BATCH,
		 op.long_lookups);
	print_header(csv);
	fflush(stdout);
	for (unsigned i = 0; i < op.nsizes && !g_stop; i++)
		if (run_size(op.sizes[i], &op, csv) != 0)
			failed = 1;
	if (g_stop) {
		progress("interrupted; temporary files removed");
		failed = 1;
	}
	printf("# per-lookup ns; median/p99/p999 over batches of %d lookups, mean over a long run;\n"
	       "# ratio_vs_lmdb = median / LMDB median for the same case (below 1: faster than LMDB)\n",
	       BATCH);
	if (csv != NULL && fclose(csv) != 0) {
		fprintf(stderr, "bench_resolve: %s: %s\n", op.csv, strerror(errno));
		failed = 1;
	}
	progress("done in %.1f s", (now_ns() - t0) / NS_PER_S);
	return failed;
}
