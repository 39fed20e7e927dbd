/*
 * bench_resolve - latency of mxc_resolve() next to the other ways a mail
 * server could look the same keys up, and next to the machine's floor.
 *
 *   bench_resolve [--quick] [--sizes N,N,...] [--samples N] [--cpu N|-1]
 *                 [--csv FILE]
 *
 * Systems, all asked about the very same key strings in the same run:
 *   mxcache    mxc_resolve() from a separate process, through the client
 *              library, on a region the parent built with the writer's own
 *              code (daemon/region.h) and keeps open as a daemon would;
 *   lmdb       mdb_get() in one open read transaction;
 *   sqlite     a prepared SELECT on a WITHOUT ROWID table in a WAL file
 *              under /tmp: sqlite3_reset + bind + step per lookup;
 *   rculfhash  liburcu's lock-free hash table (default flavour), in process;
 *   ck_hs      Concurrency Kit's hash set (SPMC, object mode), in process;
 *   plain      a plain open-addressing table of inline slots, in process:
 *              what a lookup costs with no concurrency machinery at all;
 *   floor      not a system: one dependent random load (pointer chase)
 *              over as many bytes as the mxcache region's arena.
 * The three in-process tables hash with the same keyed SipHash-1-3 as the
 * region (shm/siphash.h), under a random key.
 *
 * Key choice: uniformly random present keys (hit) and absent keys (miss);
 * Zipf-distributed present keys (s = ZIPF_S, hit); at sizes of at least
 * HOT_MIN_N also uniform draws from HOT_KEYS present keys (hot1000, hit).
 *
 * For each size N: build the region, an LMDB database and an SQLite file
 * with the same N pairs, then fork.  The child measures; the parent only
 * waits.  The child maps the region with mxc_open() like any mail server
 * (it never touches the writer's mapping it inherited), opens LMDB and
 * SQLite, and builds the in-process tables itself.  Every answer of every
 * system is checked before anything is timed.
 *
 * Method.  One lookup costs nanoseconds to microseconds, too close to the
 * clock's own cost to time one by one, so:
 *   - samples: BATCH independent lookups are timed together and the batch
 *     time divided by BATCH is one sample; median, p99 and p99.9 are over
 *     those samples (so the tails are tails of batch means, which smooths
 *     single-lookup outliers);
 *   - mean: a long run of CHUNK-sized timed slices, total time over total
 *     lookups, where the clock's cost vanishes.
 * Before each timed batch its keys are copied (untimed) into a small
 * buffer, as a mail server holds the key it asks about in cache; key
 * choice and generation are never timed.  Key order comes from sequences
 * built before any timing, and every system gets the very same sequence.
 * The measured clock overhead is subtracted from every batch.  The systems
 * take turns in blocks (see measure_case), so background load on a shared
 * machine falls on all of them.
 *
 * The lookups of a batch are independent, so a CPU could overlap the cache
 * misses of neighbouring lookups, which the floor's loads cannot (each
 * address comes from the previous load).  On the 2-vCPU guest, making each
 * lookup's key address depend on the previous answer moved no median at
 * 1,000,000 entries by more than a few percent: a lookup is too many
 * instructions for the next one's misses to start early.  Ratios below 1
 * against the floor (hot1000) mean the lookups hit in cache.
 *
 * Fairness.  mxc_resolve() takes any spelling of a key and normalises it
 * (case, trailing dot, IDNA, IP literals) before its table lookup: that is
 * part of its API and is timed as is.  Every other system is handed the
 * same (already canonical) string and only does strlen, its lookup and a
 * copy of the value into a caller buffer, so they are given the easier
 * job.  Every system copies the answer out, because the mxcache API does.
 *
 * The figures are reported, never judged: there is no pass or fail here.
 * The exit status is 0 unless something failed outright (set-up error, a
 * wrong answer, the child crashing).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ck_hs.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <urcu.h>
#include <urcu/rculfhash.h>

#define BENCH_NAME "bench_resolve"
#include "bench/common.h"
#include "bench/harness.h"
#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "shm/layout.h"
#include "shm/override.h"
#include "shm/path.h"
#include "shm/siphash.h"

/* --- sizes and counts --------------------------------------------------- */

#define BATCH            64          /* lookups per timed sample */
#define CHUNK            4096        /* lookups per timed slice of the long run */
#define HOST_BUF         (MXC_HOST_MAX + 1)

/* Time per size is dominated by SQLite (a few microseconds a lookup,
 * against tens to hundreds of nanoseconds for the rest), so these are
 * chosen for the full run to take a few minutes on 2 CPUs. */
#define SAMPLES_FULL     20000       /* timed batches per system and case */
#define SAMPLES_QUICK    2000
#define LONG_FULL        (1u << 20)  /* lookups in the long run (mean) */
#define LONG_QUICK       (1u << 16)
#define WARM_LOOKUPS     (1u << 13)  /* untimed lookups before each block */
#define BLOCK_SAMPLES    1000        /* batches per turn of one system */
#define BLOCK_CHUNKS     32          /* long-run slices per turn of one system */

/* Every system together, both processes, take about 1.3 GB per million
 * entries (the region, LMDB and SQLite files, three in-process tables, the
 * floor, the keys): this bound keeps the largest run near 11 GB. */
#define SIZE_MAX_N       8000000u
#define SIZES_MAX        16
#define PUBLISH_EVERY    4096        /* region_put()s per region_publish() */
#define REGION_SLOTS     64          /* reader slots: one reader, plenty spare */

#define ZIPF_S           1.0         /* Zipf exponent of the skewed key choice */
#define HOT_KEYS         1000        /* keys in the hot set ("hot1000") */
#define HOT_MIN_N        1000000u    /* sizes that get the hot case (>= HOT_KEYS) */

/* LMDB needs its map size up front; a generous bound per entry (B-tree
 * pages at half fill hold key + value + node headers) plus a floor. */
#define LMDB_BYTES_PER_ENTRY 256u
#define LMDB_MAP_MIN         (64u << 20)

/* SQLite: the load's page cache (KiB), and the reader's: the whole file
 * plus slack, so that "warm" means every page in SQLite's own cache and
 * what is timed is SQLite's work, not the kernel's page cache. */
#define SQLITE_LOAD_CACHE_KIB  (256 * 1024)
#define SQLITE_CACHE_SLACK_KIB 4096

/* The plain table: slots of {hash, key, value} inline, linear probing,
 * load at most 1/2.  PLAIN_VALUE is 40, not 32: the longest generated
 * target ("mx999.wayneenterprises.mail.example.org") is 39 characters. */
#define PLAIN_KEY        64
#define PLAIN_VALUE      40

#define CHASE_STRIDE     64          /* bytes between the floor's slots: one line */
#define PAGE_BYTES       4096u

#define ORDER_SEED       UINT64_C(0x6f72646572212121)
#define ZIPF_SEED        UINT64_C(0x7a6970667a697066)
#define HOT_SEED         UINT64_C(0x686f746b65797321)
#define CHASE_SEED       UINT64_C(0x6368617365212121)

#define NS_PER_S         1000000000.0


/* SYS_FLOOR is last: the systems before it answer lookups, it does not. */
enum { SYS_MXC, SYS_LMDB, SYS_SQLITE, SYS_LFHT, SYS_CKHS, SYS_PLAIN, SYS_FLOOR, SYS_COUNT };
enum { KS_UNIFORM, KS_ZIPF, KS_HOT, KS_COUNT };
enum { CASE_HIT, CASE_MISS, CASE_COUNT };

static const char *const ks_name[KS_COUNT] = { "uniform", "zipf", "hot1000" };
static const char *const case_name[CASE_COUNT] = { "hit", "miss" };

/* What is measured at each size, in this order; the hot case is last so
 * that sizes below HOT_MIN_N simply stop one early. */
struct mcase {
	int ks, cs;
};
static const struct mcase mcases[] = {
	{ KS_UNIFORM, CASE_HIT },
	{ KS_UNIFORM, CASE_MISS },
	{ KS_ZIPF, CASE_HIT },
	{ KS_HOT, CASE_HIT },
};
#define MCASE_COUNT ((int)NELEM(mcases))
_Static_assert(HOT_MIN_N >= HOT_KEYS, "the hot set is drawn from the present keys");

/* What the child hands back to the parent, in a shared anonymous page. */
struct result {
	double median, p99, p999, mean;
	int valid;
};

struct shared {
	struct result r[MCASE_COUNT][SYS_COUNT];   /* floor: in r[0] only */
	double clock_ns;          /* one clock_gettime pair */
	uint64_t floor_bytes;     /* the floor's working set */
	long child_rss_kib;       /* the measuring process's peak RSS */
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

/* One size's state: directories, key pools, key sequences, the region. */
struct run {
	uint64_t n;
	int nmcases;              /* how many of mcases[] apply at this size */
	char dir[64];             /* state directory (mkdtemp) */
	char lmdir[96];           /* LMDB environment, inside dir */
	char sqldir[96];          /* SQLite database and its WAL, inside dir */
	char sqlpath[128];
	char shm_prefix[MXS_SHM_PATH_MAX];   /* "<shmdir>/mxcache-<dev>-<ino>." */
	char (*hit)[KEY_SLOT];    /* n keys present */
	char (*miss)[KEY_SLOT];   /* n keys absent, same shapes */
	uint32_t *order[KS_COUNT];   /* per key choice: indices into hit/miss */
	size_t norder;
	struct region *region;
	int have_dir;
};

static volatile sig_atomic_t g_stop;
static volatile pid_t g_child;

/* --- small helpers -------------------------------------------------------- */

/* A uniform double in [0, 1), from the top 53 bits. */
static double unit(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1p-53;
}

/* Fisher-Yates: a uniformly random order of a[0..n). */
static void shuffle(uint32_t *a, size_t n, uint64_t *s)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = below(s, (uint32_t)(i + 1));
		uint32_t t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_child > 0)
		kill(g_child, SIGKILL);
}

/* --- set-up: keys, key sequences, region, LMDB, SQLite ---------------------- */

/* Concatenated Fisher-Yates shuffles of 0..n-1: every key is asked about
 * equally often, in a uniformly random order. */
static void make_uniform_order(const struct run *ru, uint32_t *order, uint32_t *perm, uint64_t *s)
{
	for (size_t i = 0; i < ru->n; i++)
		perm[i] = (uint32_t)i;
	for (size_t done = 0; done < ru->norder; done += ru->n) {
		size_t m = ru->norder - done < ru->n ? ru->norder - done : ru->n;

		shuffle(perm, ru->n, s);
		memcpy(order + done, perm, m * sizeof(*perm));
	}
}

/*
 * Zipf: rank r (1-based) is drawn with probability r^-s / H, by inverting
 * the cumulative sums (binary search).  Ranks are mapped to keys through a
 * random permutation, so the popular keys are scattered over the key
 * space (and over the B-trees' key order) rather than being the lowest
 * indices.  Costs n doubles for the sums, freed at once.
 */
static int make_zipf_order(const struct run *ru, uint32_t *order, uint32_t *perm, uint64_t *s)
{
	double *cdf = malloc(ru->n * sizeof(*cdf)), sum = 0;

	if (cdf == NULL)
		return -1;
	for (size_t k = 0; k < ru->n; k++) {
		sum += pow((double)(k + 1), -ZIPF_S);
		cdf[k] = sum;
		perm[k] = (uint32_t)k;
	}
	shuffle(perm, ru->n, s);
	for (size_t i = 0; i < ru->norder; i++) {
		double u = unit(s) * sum;
		size_t lo = 0, hi = ru->n - 1;

		while (lo < hi) {   /* the first rank whose cumulative sum exceeds u */
			size_t mid = lo + (hi - lo) / 2;

			if (cdf[mid] > u)
				hi = mid;
			else
				lo = mid + 1;
		}
		order[i] = perm[lo];
	}
	free(cdf);
	return 0;
}

/* Hot: HOT_KEYS present keys picked at random, then uniform draws among
 * them. */
static void make_hot_order(const struct run *ru, uint32_t *order, uint32_t *perm, uint64_t *s)
{
	for (size_t k = 0; k < ru->n; k++)
		perm[k] = (uint32_t)k;
	shuffle(perm, ru->n, s);
	for (size_t i = 0; i < ru->norder; i++)
		order[i] = perm[below(s, HOT_KEYS)];
}

static int make_keys(struct run *ru, size_t norder)
{
	uint64_t s = ORDER_SEED ^ ru->n, zs = ZIPF_SEED ^ ru->n, hs = HOT_SEED ^ ru->n;
	uint32_t *perm;
	int ks, rc = -1;

	ru->hit = malloc(ru->n * KEY_SLOT);
	ru->miss = malloc(ru->n * KEY_SLOT);
	ru->norder = norder;
	perm = malloc(ru->n * sizeof(*perm));
	/* the hot sequence only where the hot case runs: it needs n >= HOT_KEYS */
	for (ks = 0; ks < (ru->nmcases == MCASE_COUNT ? KS_COUNT : KS_HOT); ks++)
		if ((ru->order[ks] = malloc(ru->norder * sizeof(*ru->order[ks]))) == NULL)
			goto out;
	if (ru->hit == NULL || ru->miss == NULL || perm == NULL)
		goto out;
	for (size_t i = 0; i < ru->n && !g_stop; i++) {
		make_key(i, ru->hit[i]);
		make_key(ru->n + i, ru->miss[i]);
	}
	make_uniform_order(ru, ru->order[KS_UNIFORM], perm, &s);
	if (make_zipf_order(ru, ru->order[KS_ZIPF], perm, &zs) != 0)
		goto out;
	if (ru->order[KS_HOT] != NULL)
		make_hot_order(ru, ru->order[KS_HOT], perm, &hs);
	rc = g_stop ? -1 : 0;
out:
	if (rc != 0 && !g_stop)
		progress("out of memory for %" PRIu64 " keys", ru->n);
	free(perm);
	return rc;
}

static int build_region(struct run *ru)
{
	struct region_opts o;
	uint8_t val[MXS_OV_VALUE_MAX];
	char target[TARGET_SLOT];
	int64_t now = (int64_t)time(NULL);
	size_t vlen;

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
		vlen = mxc_ov_value_encode(val, now, now, target, strlen(target), "bench", 5);
		if (region_put(ru->region, MXS_TAB_OVERRIDE, ru->hit[i], strlen(ru->hit[i]), val, vlen, NULL, 0) !=
		    0) {
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

static int sqlite_fail(sqlite3 *db, const char *what)
{
	progress("sqlite %s: %s", what, db != NULL ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

/*
 * Load the same pairs into a fresh SQLite file, in one transaction.  WAL,
 * as the daemon's own store uses (daemon/store.c); synchronous off, since
 * the load is set-up.  The final checkpoint moves everything into the main
 * file and the close removes the WAL, so the reader starts from one file.
 * *bytes receives the file's size.
 */
static int build_sqlite(const struct run *ru, uint64_t *bytes)
{
	static const char schema[] =
		"PRAGMA journal_mode = WAL;"
		"PRAGMA synchronous = OFF;"
		"CREATE TABLE t (key TEXT NOT NULL PRIMARY KEY, target TEXT NOT NULL) WITHOUT ROWID;";
	char sql[64], target[TARGET_SLOT];
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	struct stat st;
	int rc = -1;

	if (mkdir(ru->sqldir, 0700) != 0) {
		progress("mkdir %s: %s", ru->sqldir, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(ru->sqlpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sqlite_fail(db, "open");
		goto out;
	}
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d;", SQLITE_LOAD_CACHE_KIB);
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO t (key, target) VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK) {
		sqlite_fail(db, "schema");
		goto out;
	}
	for (uint64_t i = 0; i < ru->n; i++) {
		make_target(i, target);
		sqlite3_reset(ins);
		if (sqlite3_bind_text(ins, 1, ru->hit[i], (int)strlen(ru->hit[i]), SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(ins, 2, target, (int)strlen(target), SQLITE_TRANSIENT) != SQLITE_OK ||
		    sqlite3_step(ins) != SQLITE_DONE) {
			sqlite_fail(db, "insert");
			goto out;
		}
		if (g_stop)
			goto out;
	}
	sqlite3_finalize(ins);
	ins = NULL;
	if (sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite_fail(db, "commit");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(ins);
	if (sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = sqlite_fail(db, "close");
	if (rc == 0)
		*bytes = stat(ru->sqlpath, &st) == 0 ? (uint64_t)st.st_size : 0;
	return rc;
}

/* --- the child: the systems ------------------------------------------------- */

/* A key as the in-process tables compare it. */
struct kref {
	const char *p;
	size_t len;
};

/* rculfhash: the node is user memory with the key and value inline. */
struct lf_ent {
	struct cds_lfht_node node;
	size_t klen, vlen;
	char key[KEY_SLOT];
	char val[TARGET_SLOT];
};

/* ck_hs stores pointers to these.  The kref comes first and points at the
 * entry's own key, so that the one compare function serves both lookups
 * (handed a kref on the stack) and inserts (handed an entry). */
struct ck_ent {
	struct kref ref;
	size_t vlen;
	char key[KEY_SLOT];
	char val[TARGET_SLOT];
};

struct plain_slot {
	uint64_t hash;            /* 0: empty (a real hash of 0 is stored as 1) */
	char key[PLAIN_KEY];      /* NUL-padded */
	char value[PLAIN_VALUE];  /* NUL-padded */
};

struct plain {
	struct plain_slot *slot;
	uint64_t mask;
};

/* The floor: slots CHASE_STRIDE bytes apart, each holding the address of
 * the next on one random cycle through all of them. */
struct chase {
	char *mem;
	size_t bytes;
	void **cur;
};

/* Everything the measuring process looks things up in. */
struct systems {
	mxc_t *h;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	sqlite3 *db;
	sqlite3_stmt *q;
	struct cds_lfht *lf;
	struct lf_ent **lf_ents;
	ck_hs_t hs;
	int have_hs;
	struct ck_ent **ck_ents;
	struct plain plain;
	struct chase floor;
	int rcu_registered;
};

/* The in-process tables' SipHash key: random per process, as the region's
 * is per region.  ck_hs's rehash callback has no context argument, hence
 * a file-scope variable; it is written once, before any table is built. */
static uint8_t g_sipkey[16];

static uint64_t key_hash(const char *key, size_t len)
{
	return mxc_siphash13(g_sipkey, key, len);
}

static void sipkey_init(void)
{
	uint64_t s = (uint64_t)now_ns() ^ (uint64_t)getpid(), a, b;

	if (getrandom(g_sipkey, sizeof(g_sipkey), 0) == (ssize_t)sizeof(g_sipkey))
		return;
	/* no getrandom: a clock-seeded key still scatters the keys, which is
	 * all a benchmark needs */
	a = splitmix64(&s);
	b = splitmix64(&s);
	memcpy(g_sipkey, &a, 8);
	memcpy(g_sipkey + 8, &b, 8);
}

/*
 * One lookup per system: key in, value copied into out, 1 found, 0 absent,
 * -1 error.  The in-process ones are kept out of line so that each lookup
 * is a call, as it is for the library-backed systems, and so that the
 * compiler cannot drop the copy into a buffer nobody reads afterwards.
 */
static int lmdb_get(struct systems *sy, const char *key, char *out, size_t outlen)
{
	MDB_val k, v;
	int rc;

	k.mv_data = (void *)(uintptr_t)key;   /* LMDB's API is not const-correct */
	k.mv_size = strlen(key);
	rc = mdb_get(sy->txn, sy->dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0 || v.mv_size >= outlen)
		return -1;
	memcpy(out, v.mv_data, v.mv_size);
	out[v.mv_size] = '\0';
	return 1;
}

/* Each call is its own read transaction (autocommit), as for any client
 * that does not hold one open; in WAL mode that costs two fcntl() and one
 * fstat() per lookup on Linux (counted with strace), which is part of what
 * SQLite costs here. */
static int sqlite_get(struct systems *sy, const char *key, char *out, size_t outlen)
{
	int rc, len;

	sqlite3_reset(sy->q);
	if (sqlite3_bind_text(sy->q, 1, key, (int)strlen(key), SQLITE_STATIC) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(sy->q);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	len = sqlite3_column_bytes(sy->q, 0);
	if (len < 0 || (size_t)len >= outlen)
		return -1;
	memcpy(out, sqlite3_column_text(sy->q, 0), (size_t)len);
	out[len] = '\0';
	return 1;
}

static int lf_match(struct cds_lfht_node *node, const void *key)
{
	const struct lf_ent *e = (const struct lf_ent *)((char *)node - offsetof(struct lf_ent, node));
	const struct kref *r = key;

	return e->klen == r->len && memcmp(e->key, r->p, r->len) == 0;
}

__attribute__((noinline)) static int lf_get(struct cds_lfht *ht, const char *key, char *out, size_t outlen)
{
	struct kref r = { key, strlen(key) };
	uint64_t h = key_hash(key, r.len);
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	int rc = 0;

	rcu_read_lock();
	cds_lfht_lookup(ht, (unsigned long)h, lf_match, &r, &it);
	node = cds_lfht_iter_get_node(&it);
	if (node != NULL) {
		/* the copy is inside the read-side section: that is what keeps
		 * the node from being freed under it */
		const struct lf_ent *e = (const struct lf_ent *)((char *)node - offsetof(struct lf_ent, node));

		if (e->vlen < outlen) {
			memcpy(out, e->val, e->vlen + 1);
			rc = 1;
		} else {
			rc = -1;
		}
	}
	rcu_read_unlock();
	return rc;
}

static unsigned long ck_hash_cb(const void *obj, unsigned long seed)
{
	const struct kref *r = obj;

	(void)seed;   /* the SipHash key is the seed */
	return (unsigned long)key_hash(r->p, r->len);
}

static bool ck_cmp_cb(const void *stored, const void *probe)
{
	const struct kref *a = stored, *b = probe;

	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static void *ck_malloc_cb(size_t n)
{
	return malloc(n);
}

/* The old map is freed at once: nothing reads while the set is built, so
 * there is no reader to defer the free for. */
static void *ck_realloc_cb(void *p, size_t old, size_t n, bool defer)
{
	(void)old;
	(void)defer;
	return realloc(p, n);
}

static void ck_free_cb(void *p, size_t n, bool defer)
{
	(void)n;
	(void)defer;
	free(p);
}

static struct ck_malloc ck_alloc = { ck_malloc_cb, ck_realloc_cb, ck_free_cb };

/* ck_hs alone: with a writer that deletes, a reader would also need a
 * reclamation section around this (ck_epoch_begin/end, about 15 ns on the
 * 2-vCPU guest), which rculfhash's rcu_read_lock stands for. */
__attribute__((noinline)) static int ck_get(ck_hs_t *hs, const char *key, char *out, size_t outlen)
{
	struct kref r = { key, strlen(key) };
	const struct ck_ent *e = ck_hs_get(hs, (unsigned long)key_hash(key, r.len), &r);

	if (e == NULL)
		return 0;
	if (e->vlen >= outlen)
		return -1;
	memcpy(out, e->val, e->vlen + 1);
	return 1;
}

/* outlen >= PLAIN_VALUE is checked once, in systems_build. */
__attribute__((noinline)) static int plain_get(const struct plain *t, const char *key, char *out)
{
	size_t len = strlen(key);
	uint64_t h;

	if (len >= PLAIN_KEY)
		return 0;   /* could not have been stored */
	h = key_hash(key, len);
	h |= h == 0;
	/* load <= 1/2 leaves empty slots, so every probe sequence ends */
	for (uint64_t j = h & t->mask;; j = (j + 1) & t->mask) {
		const struct plain_slot *s = &t->slot[j];

		if (s->hash == 0)
			return 0;
		if (s->hash == h && memcmp(s->key, key, len) == 0 && s->key[len] == '\0') {
			memcpy(out, s->value, PLAIN_VALUE);   /* fixed size: NUL padding included */
			return 1;
		}
	}
}

/* n dependent loads; returns the last address's low bit so the chain has
 * a consumer.  The cursor carries on round the cycle between calls. */
__attribute__((noinline)) static unsigned chase_run(struct chase *c, size_t n)
{
	void **p = c->cur;

	for (size_t i = 0; i < n; i++)
		p = *p;
	c->cur = p;
	return (unsigned)((uintptr_t)p & 1);
}

/* --- the child: building the in-process tables and the floor ---------------- */

static int build_lfht(struct systems *sy, const struct run *ru)
{
	char target[TARGET_SLOT];

	/* sized up front (a power of two at least n, so load 1/2..1) and not
	 * auto-resized: the table is what it would be in steady state */
	sy->lf = cds_lfht_new((unsigned long)pow2_at_least(ru->n), 1, 0, 0, NULL);
	sy->lf_ents = calloc(ru->n, sizeof(*sy->lf_ents));
	if (sy->lf == NULL || sy->lf_ents == NULL)
		return -1;
	rcu_read_lock();   /* cds_lfht_add wants a read-side section */
	for (uint64_t i = 0; i < ru->n; i++) {
		struct lf_ent *e = malloc(sizeof(*e));

		if (e == NULL) {
			rcu_read_unlock();
			return -1;
		}
		memset(e, 0, sizeof(*e));
		make_target(i, target);
		e->klen = strlen(ru->hit[i]);
		e->vlen = strlen(target);
		memcpy(e->key, ru->hit[i], e->klen);
		memcpy(e->val, target, e->vlen);
		cds_lfht_node_init(&e->node);
		cds_lfht_add(sy->lf, (unsigned long)key_hash(e->key, e->klen), &e->node);
		sy->lf_ents[i] = e;
	}
	rcu_read_unlock();
	return 0;
}

static int build_ckhs(struct systems *sy, const struct run *ru)
{
	char target[TARGET_SLOT];

	/* capacity 2n: no growth during the load, load factor under 1/2 as
	 * ck_hs keeps it when it grows by itself */
	if (!ck_hs_init(&sy->hs, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, ck_hash_cb, ck_cmp_cb, &ck_alloc,
			(unsigned long)(2 * ru->n), 0))
		return -1;
	sy->have_hs = 1;
	sy->ck_ents = calloc(ru->n, sizeof(*sy->ck_ents));
	if (sy->ck_ents == NULL)
		return -1;
	for (uint64_t i = 0; i < ru->n; i++) {
		struct ck_ent *e = malloc(sizeof(*e));

		if (e == NULL)
			return -1;
		memset(e, 0, sizeof(*e));
		make_target(i, target);
		e->ref.len = strlen(ru->hit[i]);
		e->ref.p = e->key;
		e->vlen = strlen(target);
		memcpy(e->key, ru->hit[i], e->ref.len);
		memcpy(e->val, target, e->vlen);
		sy->ck_ents[i] = e;
		if (!ck_hs_put(&sy->hs, (unsigned long)key_hash(e->key, e->ref.len), e)) {
			progress("ck_hs_put %s failed", e->key);
			return -1;
		}
	}
	return 0;
}

static int build_plain(struct systems *sy, const struct run *ru)
{
	uint64_t cap = pow2_at_least(2 * ru->n);   /* load <= 1/2 */
	char target[TARGET_SLOT];

	sy->plain.slot = calloc(cap, sizeof(*sy->plain.slot));
	if (sy->plain.slot == NULL)
		return -1;
	sy->plain.mask = cap - 1;
	for (uint64_t i = 0; i < ru->n; i++) {
		size_t len = strlen(ru->hit[i]);
		uint64_t h = key_hash(ru->hit[i], len), j;

		make_target(i, target);
		if (len >= PLAIN_KEY || strlen(target) >= PLAIN_VALUE) {
			progress("plain table: %s -> %s does not fit its slot", ru->hit[i], target);
			return -1;
		}
		h |= h == 0;
		for (j = h & sy->plain.mask; sy->plain.slot[j].hash != 0; j = (j + 1) & sy->plain.mask)
			;
		sy->plain.slot[j].hash = h;
		memcpy(sy->plain.slot[j].key, ru->hit[i], len);
		memcpy(sy->plain.slot[j].value, target, strlen(target));
	}
	return 0;
}

/*
 * The floor's cycle: Sattolo's shuffle gives a permutation that is one
 * single cycle, so the chase visits every slot before repeating and no
 * prefetcher can guess the next line.  The memory is anonymous and kept
 * on 4 KiB pages, as the region's tmpfs pages are (shmem THP is off on the
 * machines this is run on): the floor must pay the same TLB misses.
 */
static int build_floor(struct chase *c, uint64_t bytes)
{
	uint64_t s = CHASE_SEED;
	size_t nslots;
	uint32_t *next;

	c->bytes = (size_t)((bytes + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES);
	if (c->bytes < PAGE_BYTES)
		c->bytes = PAGE_BYTES;
	nslots = c->bytes / CHASE_STRIDE;
	c->mem = mmap(NULL, c->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->mem == MAP_FAILED) {
		c->mem = NULL;
		return -1;
	}
	madvise(c->mem, c->bytes, MADV_NOHUGEPAGE);
	next = malloc(nslots * sizeof(*next));
	if (next == NULL)
		return -1;
	for (size_t i = 0; i < nslots; i++)
		next[i] = (uint32_t)i;
	for (size_t i = nslots - 1; i > 0; i--) {   /* Sattolo: j < i, never i */
		size_t j = below(&s, (uint32_t)i);
		uint32_t t = next[i];

		next[i] = next[j];
		next[j] = t;
	}
	for (size_t i = 0; i < nslots; i++) {
		void *to = c->mem + (size_t)next[i] * CHASE_STRIDE;

		memcpy(c->mem + i * CHASE_STRIDE, &to, sizeof(to));
	}
	free(next);
	c->cur = (void **)(void *)c->mem;
	return 0;
}

/* Open the shared and file-backed systems.  The in-process ones come
 * after, in systems_build. */
static int systems_open(const struct run *ru, struct systems *sy)
{
	char sql[64];
	struct stat st;
	long long cache_kib;
	int rc;

	rc = mxc_open(ru->dir, &sy->h);
	if (rc != MXC_OK) {
		progress("mxc_open %s: %s", ru->dir, mxc_strerror(rc));
		return -1;
	}
	if ((rc = mdb_env_create(&sy->env)) != 0)
		return lmdb_fail("env_create", rc);
	if ((rc = mdb_env_set_mapsize(sy->env, lmdb_mapsize(ru->n))) != 0 ||
	    (rc = mdb_env_open(sy->env, ru->lmdir, MDB_RDONLY, 0600)) != 0 ||
	    (rc = mdb_txn_begin(sy->env, NULL, MDB_RDONLY, &sy->txn)) != 0 ||
	    (rc = mdb_dbi_open(sy->txn, NULL, 0, &sy->dbi)) != 0)
		return lmdb_fail("open for reading", rc);
	/* read-write only because a WAL reader needs the -shm index; the
	 * connection is used by this thread alone, as the daemon's is */
	if (sqlite3_open_v2(ru->sqlpath, &sy->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return sqlite_fail(sy->db, "open for reading");
	cache_kib = (stat(ru->sqlpath, &st) == 0 ? (long long)st.st_size / 1024 : 0) * 5 / 4 +
		    SQLITE_CACHE_SLACK_KIB;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%lld;", cache_kib);
	if (sqlite3_exec(sy->db, "PRAGMA query_only = 1;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(sy->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(sy->db, "SELECT target FROM t WHERE key = ?1", -1, SQLITE_PREPARE_PERSISTENT, &sy->q,
			       NULL) != SQLITE_OK)
		return sqlite_fail(sy->db, "prepare");
	return 0;
}

static int systems_build(const struct run *ru, struct systems *sy, uint64_t floor_bytes)
{
	double t0 = now_ns();

	_Static_assert(HOST_BUF >= PLAIN_VALUE, "plain_get copies PLAIN_VALUE bytes");
	sipkey_init();
	rcu_register_thread();
	sy->rcu_registered = 1;
	if (build_lfht(sy, ru) != 0) {
		progress("rculfhash: cannot build (out of memory?)");
		return -1;
	}
	if (build_ckhs(sy, ru) != 0) {
		progress("ck_hs: cannot build (out of memory?)");
		return -1;
	}
	if (build_plain(sy, ru) != 0) {
		progress("plain table: cannot build");
		return -1;
	}
	if (build_floor(&sy->floor, floor_bytes) != 0) {
		progress("floor: cannot map %" PRIu64 " bytes: %s", floor_bytes, strerror(errno));
		return -1;
	}
	progress("[%" PRIu64 "] in-process tables and the floor's %.1f MiB built in %.1f s", ru->n,
		 (double)sy->floor.bytes / (1 << 20), (now_ns() - t0) / NS_PER_S);
	return 0;
}

/*
 * Everything is freed but the rculfhash nodes: the table would first have
 * to unlink each one (a lookup's worth of work per node, plus a grace
 * period), only for the process to exit right after and hand the memory
 * back anyway.
 */
static void systems_close(struct systems *sy, uint64_t n)
{
	if (sy->floor.mem != NULL)
		munmap(sy->floor.mem, sy->floor.bytes);
	free(sy->plain.slot);
	if (sy->have_hs)
		ck_hs_destroy(&sy->hs);
	if (sy->ck_ents != NULL)
		for (uint64_t i = 0; i < n; i++)
			free(sy->ck_ents[i]);
	free(sy->ck_ents);
	if (sy->rcu_registered)
		rcu_unregister_thread();
	sqlite3_finalize(sy->q);
	sqlite3_close(sy->db);
	if (sy->txn != NULL)
		mdb_txn_abort(sy->txn);
	if (sy->env != NULL)
		mdb_env_close(sy->env);
	mxc_close(sy->h);
}

/* --- the child: lookups ----------------------------------------------------- */

/*
 * The systems under measurement, indexed by SYS_*: each one's name, its
 * pass and its single lookup.
 *
 * pass: one pass over keys[0..n), the timed unit.  The lookups are
 * independent of each other; the count of answers found is returned so
 * that none can be optimised away.  For the floor, n dependent loads
 * (keys unused).  One indirect call per batch, never one per lookup.
 *
 * one: one lookup, for the checks: 1 found (host filled), 0 absent, -1
 * error.  NULL for the floor, which answers nothing.
 */
struct bench_sys {
	const char *name;
	unsigned (*pass)(struct systems *sy, char (*keys)[KEY_SLOT], size_t n);
	int (*one)(struct systems *sy, const char *key, char *host, size_t hostlen);
};

static int mxc_one(struct systems *sy, const char *key, char *host, size_t hostlen)
{
	int rc = mxc_resolve(sy->h, key, host, hostlen);

	return rc == MXC_OK ? 1 : rc == MXC_NOTFOUND ? 0 : -1;
}

static int lf_one(struct systems *sy, const char *key, char *host, size_t hostlen)
{
	return lf_get(sy->lf, key, host, hostlen);
}

static int ck_one(struct systems *sy, const char *key, char *host, size_t hostlen)
{
	return ck_get(&sy->hs, key, host, hostlen);
}

static int plain_one(struct systems *sy, const char *key, char *host, size_t hostlen)
{
	(void)hostlen;   /* HOST_BUF >= PLAIN_VALUE: systems_build checks */
	return plain_get(&sy->plain, key, host);
}

static unsigned mxc_pass(struct systems *sy, char (*keys)[KEY_SLOT], size_t n)
{
	char host[HOST_BUF];
	unsigned found = 0;

	for (size_t i = 0; i < n; i++)
		found += mxc_resolve(sy->h, keys[i], host, sizeof(host)) == MXC_OK;
	return found;
}

static unsigned lmdb_pass(struct systems *sy, char (*keys)[KEY_SLOT], size_t n)
{
	char host[HOST_BUF];
	unsigned found = 0;

	for (size_t i = 0; i < n; i++)
		found += lmdb_get(sy, keys[i], host, sizeof(host)) == 1;
	return found;
}

static unsigned sqlite_pass(struct systems *sy, char (*keys)[KEY_SLOT], size_t n)
{
	char host[HOST_BUF];
	unsigned found = 0;

	for (size_t i = 0; i < n; i++)
		found += sqlite_get(sy, keys[i], host, sizeof(host)) == 1;
	return found;
}

static unsigned lf_pass(struct systems *sy, char (*keys)[KEY_SLOT], size_t n)
{
	char host[HOST_BUF];
	unsigned found = 0;

	for (size_t i = 0; i < n; i++)
		found += lf_get(sy->lf, keys[i], host, sizeof(host)) == 1;
	return found;
}

static unsigned ck_pass(struct systems *sy, char (*keys)[KEY_SLOT], size_t n)
{
	char host[HOST_BUF];
	unsigned found = 0;

	for (size_t i = 0; i < n; i++)
		found += ck_get(&sy->hs, keys[i], host, sizeof(host)) == 1;
	return found;
}

static unsigned plain_pass(struct systems *sy, char (*keys)[KEY_SLOT], size_t n)
{
	char host[HOST_BUF];
	unsigned found = 0;

	for (size_t i = 0; i < n; i++)
		found += plain_get(&sy->plain, keys[i], host) == 1;
	return found;
}

static unsigned floor_pass(struct systems *sy, char (*keys)[KEY_SLOT], size_t n)
{
	(void)keys;
	return chase_run(&sy->floor, n);
}

static const struct bench_sys bench_sys[SYS_COUNT] = {
	[SYS_MXC] = { "mxcache", mxc_pass, mxc_one },
	[SYS_LMDB] = { "lmdb", lmdb_pass, lmdb_get },
	[SYS_SQLITE] = { "sqlite", sqlite_pass, sqlite_get },
	[SYS_LFHT] = { "rculfhash", lf_pass, lf_one },
	[SYS_CKHS] = { "ck_hs", ck_pass, ck_one },
	[SYS_PLAIN] = { "plain", plain_pass, plain_one },
	[SYS_FLOOR] = { "floor", floor_pass, NULL },
};

static unsigned lookups(struct systems *sy, int sys, char (*keys)[KEY_SLOT], size_t n)
{
	return bench_sys[sys].pass(sy, keys, n);
}

/* Untimed: copy the keys that sequence ks names at from..from+n into buf. */
static void stage(const struct run *ru, const struct mcase *mc, size_t from, char (*buf)[KEY_SLOT], size_t n)
{
	char (*pool)[KEY_SLOT] = mc->cs == CASE_HIT ? ru->hit : ru->miss;
	const uint32_t *order = ru->order[mc->ks];

	for (size_t i = 0; i < n; i++)
		memcpy(buf[i], pool[order[(from + i) % ru->norder]], KEY_SLOT);
}

/*
 * Every key once per system, answers checked: warms page tables and caches
 * and makes sure the figures are for correct lookups.  The hit keys cover
 * every sequence (uniform, Zipf and hot draw from them).
 */
static int check_all(const struct run *ru, struct systems *sy)
{
	char host[HOST_BUF], want[TARGET_SLOT];
	uint64_t bad = 0;
	int rc;

	for (uint64_t i = 0; i < ru->n && !g_stop; i++) {
		make_target(i, want);
		for (int sys = 0; sys < SYS_FLOOR; sys++) {
			rc = bench_sys[sys].one(sy, ru->hit[i], host, sizeof(host));
			if ((rc != 1 || strcmp(host, want) != 0) && bad++ < 3)
				progress("%s: %s -> %s, want %s", bench_sys[sys].name, ru->hit[i],
					 rc == 1 ? host : rc == 0 ? "(absent)" : "(error)", want);
			rc = bench_sys[sys].one(sy, ru->miss[i], host, sizeof(host));
			if (rc != 0 && bad++ < 3)
				progress("%s: %s should be absent: %s", bench_sys[sys].name, ru->miss[i],
					 rc == 1 ? host : "(error)");
		}
	}
	if (bad) {
		progress("%" PRIu64 " wrong answers: the figures would mean nothing", bad);
		return -1;
	}
	return 0;
}

/* Untimed lookups, to bring one system's working set back into cache
 * after the other systems' blocks pushed it out.  They take keys half the
 * sequence away from those about to be timed: warming the very entries
 * the block will ask for would turn a large table's misses into cache
 * hits. */
static void warm(const struct run *ru, struct systems *sy, int sys, const struct mcase *mc, size_t from)
{
	static char buf[CHUNK][KEY_SLOT] __attribute__((aligned(64)));

	from += ru->norder / 2;
	for (size_t i = 0; i < WARM_LOOKUPS; i += CHUNK) {
		if (sys != SYS_FLOOR)
			stage(ru, mc, from + i, buf, CHUNK);
		lookups(sy, sys, buf, CHUNK);
	}
}

/*
 * Every system for one case (and the floor, when with_floor).  They take
 * turns in blocks (BLOCK_SAMPLES batches, then BLOCK_CHUNKS slices of the
 * long run), each block after a warm-up, so that load from other processes
 * and frequency changes fall on all alike instead of on whichever ran
 * last; the blocks are long enough for each system to run from its own
 * warm cache, and who goes first rotates from block to block.  The same
 * key sequence serves every system.
 */
static int measure_case(const struct run *ru, const struct opts *op, struct systems *sy, const struct mcase *mc,
			int with_floor, double clk, struct result res[SYS_COUNT])
{
	static char batch[BATCH][KEY_SLOT] __attribute__((aligned(64)));
	static char chunk[CHUNK][KEY_SLOT] __attribute__((aligned(64)));
	double *v[SYS_COUNT] = { NULL }, total[SYS_COUNT] = { 0 }, t0, t, start = now_ns();
	size_t i, pos, end, blk, nlong = 0;
	int nsys = with_floor ? SYS_COUNT : SYS_FLOOR, sys, rc = -1;
	unsigned want = mc->cs == CASE_HIT ? BATCH : 0, found;

	for (sys = 0; sys < nsys; sys++)
		if ((v[sys] = malloc(op->samples * sizeof(double))) == NULL)
			goto out;
	for (i = 0, blk = 0; i < op->samples; i = end, blk++) {
		end = i + BLOCK_SAMPLES < op->samples ? i + BLOCK_SAMPLES : op->samples;
		for (int turn = 0; turn < nsys; turn++) {
			sys = (int)((blk + (size_t)turn) % (size_t)nsys);
			warm(ru, sy, sys, mc, i * BATCH);
			for (size_t k = i; k < end; k++) {
				if (sys != SYS_FLOOR)
					stage(ru, mc, k * BATCH, batch, BATCH);
				t0 = now_ns();
				found = lookups(sy, sys, batch, BATCH);
				t = now_ns() - t0 - clk;
				v[sys][k] = (t > 0 ? t : 0) / BATCH;
				if (sys != SYS_FLOOR && found != want) {
					progress("%s %s %s: %u of %u found in a batch", bench_sys[sys].name, ks_name[mc->ks],
						 case_name[mc->cs], found, BATCH);
					goto out;
				}
			}
		}
		if (g_stop)
			goto out;
	}
	for (pos = 0, blk = 0; pos < op->long_lookups; pos = end, blk++) {
		end = pos + (size_t)BLOCK_CHUNKS * CHUNK;
		if (end > op->long_lookups)
			end = op->long_lookups;
		for (int turn = 0; turn < nsys; turn++) {
			sys = (int)((blk + (size_t)turn) % (size_t)nsys);
			warm(ru, sy, sys, mc, pos);
			for (size_t k = pos; k < end; k += CHUNK) {
				size_t m = end - k < CHUNK ? end - k : CHUNK;

				if (sys != SYS_FLOOR)
					stage(ru, mc, k, chunk, m);
				t0 = now_ns();
				lookups(sy, sys, chunk, m);
				t = now_ns() - t0 - clk;
				total[sys] += t > 0 ? t : 0;
			}
		}
		nlong += end - pos;
	}
	for (sys = 0; sys < nsys; sys++) {
		struct result *r = &res[sys];

		qsort(v[sys], op->samples, sizeof(double), cmp_double);
		r->median = quantile(v[sys], op->samples, 0.5);
		r->p99 = quantile(v[sys], op->samples, 0.99);
		r->p999 = quantile(v[sys], op->samples, 0.999);
		r->mean = total[sys] / (double)nlong;
		r->valid = 1;
		progress("  %-7s %-4s %-9s median %8.1f ns, mean %8.1f ns", ks_name[mc->ks], case_name[mc->cs],
			 bench_sys[sys].name, r->median, r->mean);
	}
	progress("  (%s %s measured in %.1f s)", ks_name[mc->ks], case_name[mc->cs], (now_ns() - start) / NS_PER_S);
	rc = 0;
out:
	for (sys = 0; sys < SYS_COUNT; sys++)
		free(v[sys]);
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

/* The child's whole life: returns its exit status. */
static int child_main(const struct run *ru, const struct opts *op, struct shared *sh)
{
	struct systems sy;
	struct mxc_status st;
	struct rusage rus;
	double t0 = now_ns();
	int rc = 1;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	memset(&sy, 0, sizeof(sy));
	sh->cpu = pin_cpu(op->cpu);
	if (systems_open(ru, &sy) != 0)
		goto out;
	/* the floor spans what the region's arena holds: index, buckets and
	 * entries, the memory an mxcache lookup draws its lines from */
	if (mxc_status(sy.h, &st) != MXC_OK) {
		progress("mxc_status failed");
		goto out;
	}
	sh->floor_bytes = (st.arena_used + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
	progress("[%" PRIu64 "] child %ld on CPU %d: region %.1f MiB mapped, arena %.1f MiB used", ru->n,
		 (long)getpid(), sh->cpu, (double)st.size / (1 << 20), (double)st.arena_used / (1 << 20));
	if (systems_build(ru, &sy, sh->floor_bytes) != 0)
		goto out;
	progress("[%" PRIu64 "] checking every answer of every system", ru->n);
	if (check_all(ru, &sy) != 0)
		goto out;
	sh->clock_ns = clock_overhead();
	getrusage(RUSAGE_SELF, &rus);
	sh->child_rss_kib = rus.ru_maxrss;
	progress("[%" PRIu64 "] checked in %.1f s since start; peak RSS %.0f MiB; clock pair %.1f ns; measuring",
		 ru->n, (now_ns() - t0) / NS_PER_S, (double)rus.ru_maxrss / 1024, sh->clock_ns);
	for (int mi = 0; mi < ru->nmcases; mi++) {
		struct result res[SYS_COUNT];

		memset(res, 0, sizeof(res));
		if (measure_case(ru, op, &sy, &mcases[mi], mi == 0, sh->clock_ns, res) != 0)
			goto out;
		memcpy(sh->r[mi], res, sizeof(res));
	}
	sh->ok = 1;
	rc = 0;
out:
	systems_close(&sy, ru->n);
	return rc;
}

/* --- output ------------------------------------------------------------------ */

#define TABLE_FMT "%-8s %-8s %-5s %-10s %10s %9s %9s %9s %14s %16s\n"
#define CSV_FMT   "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n"

static void print_header(FILE *csv)
{
	printf(TABLE_FMT, "entries", "keys", "case", "system", "median_ns", "p99_ns", "p999_ns", "mean_ns",
	       "ratio_vs_floor", "ratio_vs_mxcache");
	if (csv != NULL)
		fprintf(csv, CSV_FMT, "entries", "keys", "case", "system", "median_ns", "p99_ns", "p999_ns",
			"mean_ns", "ratio_vs_floor", "ratio_vs_mxcache");
}

static void ratio(char *buf, size_t len, const struct result *r, const struct result *base)
{
	if (base != NULL && base->valid && base->median > 0)
		snprintf(buf, len, "%.2f", r->median / base->median);
	else
		snprintf(buf, len, "-");
}

static void print_row(FILE *csv, uint64_t n, const char *keys, const char *cs, const char *sys,
		      const struct result *r, const struct result *floor, const struct result *mxc)
{
	char nb[24], med[24], p99[24], p999[24], mean[24], rf[24], rm[24];

	snprintf(nb, sizeof(nb), "%" PRIu64, n);
	snprintf(med, sizeof(med), "%.1f", r->median);
	snprintf(p99, sizeof(p99), "%.1f", r->p99);
	snprintf(p999, sizeof(p999), "%.1f", r->p999);
	snprintf(mean, sizeof(mean), "%.1f", r->mean);
	ratio(rf, sizeof(rf), r, floor);
	ratio(rm, sizeof(rm), r, mxc);
	printf(TABLE_FMT, nb, keys, cs, sys, med, p99, p999, mean, rf, rm);
	if (csv != NULL)
		fprintf(csv, CSV_FMT, nb, keys, cs, sys, med, p99, p999, mean, rf, rm);
}

/* One size's rows: the floor first (it belongs to no key choice), then
 * each case with mxcache first. */
static void print_rows(uint64_t n, const struct shared *sh, FILE *csv)
{
	const struct result *floor = &sh->r[0][SYS_FLOOR];

	if (floor->valid)
		print_row(csv, n, "-", "-", bench_sys[SYS_FLOOR].name, floor, floor, NULL);
	for (int mi = 0; mi < MCASE_COUNT; mi++) {
		for (int sys = 0; sys < SYS_FLOOR; sys++) {
			const struct result *r = &sh->r[mi][sys];

			if (r->valid)
				print_row(csv, n, ks_name[mcases[mi].ks], case_name[mcases[mi].cs], bench_sys[sys].name, r,
					  floor, &sh->r[mi][SYS_MXC]);
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
	char path[MXS_SHM_PATH_MAX * 2];
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
	static const char *const lmdb_files[] = { "data.mdb", "lock.mdb" };
	static const char *const sqlite_suffix[] = { "", "-wal", "-shm", "-journal" };
	char path[256];
	size_t i;

	region_close(ru->region);
	ru->region = NULL;
	remove_region_files(ru);
	if (ru->have_dir) {
		for (i = 0; i < NELEM(lmdb_files); i++) {
			snprintf(path, sizeof(path), "%s/%s", ru->lmdir, lmdb_files[i]);
			unlink(path);
		}
		rmdir(ru->lmdir);
		for (i = 0; i < NELEM(sqlite_suffix); i++) {
			snprintf(path, sizeof(path), "%s%s", ru->sqlpath, sqlite_suffix[i]);
			unlink(path);
		}
		rmdir(ru->sqldir);
		if (rmdir(ru->dir) != 0)
			progress("rmdir %s: %s", ru->dir, strerror(errno));
	}
	free(ru->hit);
	free(ru->miss);
	for (i = 0; i < KS_COUNT; i++)
		free(ru->order[i]);
	memset(ru, 0, sizeof(*ru));
}

static int run_size(uint64_t n, const struct opts *op, FILE *csv, uint64_t *floor_bytes)
{
	struct run ru;
	struct shared *sh;
	struct stat st;
	char data_path[MXS_SHM_PATH_MAX];
	uint64_t lmdb_used = 0, sqlite_bytes = 0;
	double t0;
	size_t need;
	pid_t pid;
	int status, rc = -1;

	memset(&ru, 0, sizeof(ru));
	ru.n = n;
	ru.nmcases = n >= HOT_MIN_N ? MCASE_COUNT : MCASE_COUNT - 1;
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
	snprintf(ru.sqldir, sizeof(ru.sqldir), "%s/sqlite", ru.dir);
	snprintf(ru.sqlpath, sizeof(ru.sqlpath), "%s/bench.db", ru.sqldir);
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
	progress("[%" PRIu64 "] generating %" PRIu64 " hit and %" PRIu64 " miss keys, %zu-lookup sequences", n, n,
		 n, need);
	t0 = now_ns();
	if (make_keys(&ru, need) != 0)
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
	progress("[%" PRIu64 "] LMDB loaded in %.1f s (%.0f MiB used); loading SQLite", n,
		 (now_ns() - t0) / NS_PER_S, (double)lmdb_used / (1 << 20));
	t0 = now_ns();
	if (build_sqlite(&ru, &sqlite_bytes) != 0)
		goto out;
	progress("[%" PRIu64 "] SQLite loaded in %.1f s (%.0f MiB)", n, (now_ns() - t0) / NS_PER_S,
		 (double)sqlite_bytes / (1 << 20));

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
	*floor_bytes = sh->floor_bytes;
	rc = sh->ok ? 0 : -1;
out:
	cleanup(&ru);
	munmap(sh, sizeof(*sh));
	return rc;
}

/* --- options ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_resolve [--quick] [--sizes N,N,...] [--samples N] [--cpu N|-1] [--csv FILE]\n"
		"  --quick        sizes 1000,100000 and fewer samples (well under a minute)\n"
		"  --sizes LIST   entry counts to build (default 1000,100000,1000000; max %u);\n"
		"                 sizes of at least %u also get the %d-hot-keys case\n"
		"  --samples N    timed batches of %d lookups per system and case (default %d, quick %d)\n"
		"  --cpu N        CPU to pin the measuring process to; -1: do not pin\n"
		"  --csv FILE     also write the rows as CSV\n",
		SIZE_MAX_N, HOT_MIN_N, HOT_KEYS, BATCH, SAMPLES_FULL, SAMPLES_QUICK);
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
		op->sizes[op->nsizes++] = 1000;
		op->sizes[op->nsizes++] = 100000;
		if (!quick)
			op->sizes[op->nsizes++] = 1000000;
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
	struct rusage self, kids;
	uint64_t floor_bytes[SIZES_MAX] = { 0 };
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
		if (run_size(op.sizes[i], &op, csv, &floor_bytes[i]) != 0)
			failed = 1;
	if (g_stop) {
		progress("interrupted; temporary files removed");
		failed = 1;
	}
	printf("# per-lookup ns; median/p99/p999 over batches of %d independent lookups, mean over a long run\n"
	       "# floor: one dependent random load over a working set the size of the mxcache arena:",
	       BATCH);
	for (unsigned i = 0; i < op.nsizes; i++)
		printf("%s %" PRIu64 " entries %.1f MiB", i ? "," : "", op.sizes[i],
		       (double)floor_bytes[i] / (1 << 20));
	printf("\n# ratio_vs_floor = median / floor median of the same size (hot1000 too)\n"
	       "# ratio_vs_mxcache = median / mxcache median for the same keys and case (above 1: mxcache faster)\n");
	if (csv != NULL && fclose(csv) != 0) {
		fprintf(stderr, "bench_resolve: %s: %s\n", op.csv, strerror(errno));
		failed = 1;
	}
	/* RUSAGE_CHILDREN: the largest of the measuring processes */
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	progress("done in %.1f s; peak RSS %.0f MiB here, %.0f MiB in the largest measuring process",
		 (now_ns() - t0) / NS_PER_S, (double)self.ru_maxrss / 1024, (double)kids.ru_maxrss / 1024);
	return failed;
}
