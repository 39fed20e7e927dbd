/*
 * bench/bench_sts.c - MTA-STS lookups: mxc_sts_get + mxc_sts_match at
 * 100,000 cached policies, against the same policies in SQLite (a prepared
 * SELECT and the same pattern match: what a resolver keeping its cache in
 * SQLite, as postfix-mta-sts-resolver can, does per message).
 *
 *   bench_sts [--quick] [--entries N] [--csv FILE]
 *
 * The region is built in this process with the daemon's own code
 * (sts_region_put) and read by a child process through the client
 * library, as a mail server would.  Each sample times a batch of
 * BATCH lookups on uniformly chosen domains (median, p99, p99.9 per
 * lookup); the MX host matched is one of the policy's, so every match
 * does the pattern work.  Reports figures, never pass or fail.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define BENCH_NAME "bench_sts"
#include "bench/common.h"
#include "bench/policy.h"
#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/sts.h"
#include "shm/path.h"
#include "shm/sts_match.h"

#define BATCH          64
#define SAMPLES_FULL   20000
#define SAMPLES_QUICK  2000
#define ENTRIES_FULL   100000
#define ENTRIES_QUICK  20000
#define SEQ_SEED       UINT64_C(0x737473626e6368)

enum { SYS_MXC_MATCH, SYS_MXC_GET, SYS_SQLITE_MATCH, SYS_N };
static const char *const sys_name[SYS_N] = { "mxcache", "mxcache", "sqlite" };
static const char *const sys_case[SYS_N] = { "get+match", "get", "get+match" };

static int build(const char *dir, const char *dbpath, uint64_t n, struct region **rp)
{
	struct region_opts o;
	struct sts_rec *p;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char host[MXC_HOST_MAX + 1], dom[KEY_SLOT], mx[2 * (MXS_STS_PATTERN_MAX + 1)];
	int64_t now = (int64_t)time(NULL);
	uint64_t i;
	int rc = -1;

	p = calloc(1, sizeof(*p));
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.nslots = 64;
	o.gid = (gid_t)-1;
	if (p == NULL || region_create(&o, n, rp) != 0)
		goto out;
	if (sqlite3_open(dbpath, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE sts(domain TEXT PRIMARY KEY, mode INTEGER,"
			 " max_age INTEGER, mx TEXT) WITHOUT ROWID; BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO sts VALUES(?1, 2, 86400, ?2)", -1, &s, NULL) != SQLITE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		make_key(i, dom);
		bench_policy(i, dom, now, p, host);
		if (sts_region_put(*rp, p) != 0)
			goto out;
		snprintf(mx, sizeof(mx), "%s\n%s", p->mx[0], p->mx[1]);
		sqlite3_bind_text(s, 1, p->domain, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, mx, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto out;
		sqlite3_reset(s);
	}
	region_publish(*rp);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK || region_go_live(*rp) != 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(p);
	return rc;
}

/* SQLite's side of one lookup: the row, then each pattern matched. */
static int sqlite_get_match(sqlite3_stmt *q, const char *dom, const char *host)
{
	const char *mx, *nl;
	size_t hl = strlen(host);
	int m = 0;

	sqlite3_bind_text(q, 1, dom, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 2) {
		mx = (const char *)sqlite3_column_text(q, 1);
		while (mx != NULL && *mx != '\0' && !m) {
			nl = strchr(mx, '\n');
			m = mxc_sts_pattern_match(mx, nl != NULL ? (size_t)(nl - mx) : strlen(mx), host, hl);
			mx = nl != NULL ? nl + 1 : NULL;
		}
	}
	sqlite3_reset(q);
	return m;
}

struct result {
	double med, p99, p999, mean;
};

/* The child writes its figures where the parent reads them. */
static struct result *mmap_shared_results(size_t n)
{
	void *p = mmap(NULL, n * sizeof(struct result), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int child(const char *dir, const char *dbpath, uint64_t n, size_t samples, struct result *res)
{
	char (*dom)[KEY_SLOT] = NULL, (*host)[MXC_HOST_MAX + 1] = NULL;
	char p0[MXS_STS_PATTERN_MAX + 1], p1[MXS_STS_PATTERN_MAX + 1];
	static char bdom[BATCH][KEY_SLOT], bhost[BATCH][MXC_HOST_MAX + 1];
	double *lat = NULL, t0, t1, total[SYS_N] = { 0 };
	uint32_t *seq = NULL;
	struct mxc_sts *s = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	uint64_t rng = SEQ_SEED, i, nseq = samples * BATCH, hits[SYS_N] = { 0 };
	mxc_t *h = NULL;
	size_t k, b;
	int sys, rc = -1;

	dom = malloc(n * sizeof(*dom));
	host = malloc(n * sizeof(*host));
	seq = malloc(nseq * sizeof(*seq));
	lat = malloc(samples * sizeof(*lat));
	s = malloc(sizeof(*s));
	if (dom == NULL || host == NULL || seq == NULL || lat == NULL || s == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		make_key(i, dom[i]);
		bench_pattern(i, dom[i], p0, p1, host[i]);
	}
	for (i = 0; i < nseq; i++)
		seq[i] = below(&rng, (uint32_t)n);
	if (mxc_open(dir, &h) != MXC_OK) {
		progress("mxc_open %s failed", dir);
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA cache_size = -262144", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "SELECT mode, mx FROM sts WHERE domain = ?1", -1, SQLITE_PREPARE_PERSISTENT, &q,
			       NULL) != SQLITE_OK)
		goto out;
	/* every answer checked once before any timing */
	for (i = 0; i < n; i++) {
		if (mxc_sts_get(h, dom[i], s) != MXC_OK || !mxc_sts_match(s, host[i]) ||
		    !sqlite_get_match(q, dom[i], host[i])) {
			progress("wrong answer for %s", dom[i]);
			goto out;
		}
	}
	for (sys = 0; sys < SYS_N; sys++) {
		for (b = 0; b < samples; b++) {
			const uint32_t *sq = seq + b * BATCH;

			/* untimed: the batch's names into a small buffer, as a mail
			 * server holds the domain and MX host it asks about */
			for (k = 0; k < BATCH; k++) {
				memcpy(bdom[k], dom[sq[k]], KEY_SLOT);
				snprintf(bhost[k], sizeof(bhost[k]), "%s", host[sq[k]]);
			}
			t0 = now_ns();
			switch (sys) {
			case SYS_MXC_MATCH:
				for (k = 0; k < BATCH; k++)
					hits[sys] += mxc_sts_get(h, bdom[k], s) == MXC_OK && mxc_sts_match(s, bhost[k]);
				break;
			case SYS_MXC_GET:
				for (k = 0; k < BATCH; k++)
					hits[sys] += mxc_sts_get(h, bdom[k], s) == MXC_OK;
				break;
			default:
				for (k = 0; k < BATCH; k++)
					hits[sys] += (uint64_t)sqlite_get_match(q, bdom[k], bhost[k]);
				break;
			}
			t1 = now_ns();
			lat[b] = (t1 - t0) / BATCH;
			total[sys] += t1 - t0;
		}
		qsort(lat, samples, sizeof(*lat), cmp_double);
		res[sys].med = quantile(lat, samples, 0.5);
		res[sys].p99 = quantile(lat, samples, 0.99);
		res[sys].p999 = quantile(lat, samples, 0.999);
		res[sys].mean = total[sys] / (double)(samples * BATCH);
		if (hits[sys] != samples * BATCH) {
			progress("%s %s: %" PRIu64 " of %zu answered", sys_name[sys], sys_case[sys], hits[sys],
				 samples * BATCH);
			goto out;
		}
		progress("%-8s %-10s median %7.1f ns", sys_name[sys], sys_case[sys], res[sys].med);
	}
	rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	mxc_close(h);
	free(dom);
	free(host);
	free(seq);
	free(lat);
	free(s);
	return rc;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/mxc-bench-sts.XXXXXX", dbpath[64], path[MXS_SHM_PATH_MAX];
	struct result *res;
	struct region *r = NULL;
	const char *csv = NULL;
	uint64_t n = ENTRIES_FULL;
	size_t samples = SAMPLES_FULL;
	struct stat sb;
	FILE *f;
	pid_t pid;
	int i, st = 1, quick = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
		} else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) {
			csv = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_sts [--quick] [--entries N] [--csv FILE]\n");
			return 2;
		}
	}
	if (quick) {
		samples = SAMPLES_QUICK;
		if (n == ENTRIES_FULL)
			n = ENTRIES_QUICK;
	}
	if (n < 1 || n > 10000000) {
		fprintf(stderr, "bench_sts: --entries 1..10000000\n");
		return 2;
	}
	log_init(1, LOG_WARNING);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(dbpath, sizeof(dbpath), "%s/sts.db", dir);
	res = mmap_shared_results(SYS_N);
	if (res == NULL)
		return 1;
	progress("building %" PRIu64 " policies in a region and in SQLite", n);
	if (build(dir, dbpath, n, &r) != 0) {
		progress("build failed: %s", strerror(errno));
		goto out;
	}
	progress("measuring from a child process, %zu batches of %d per system", samples, BATCH);
	pid = fork();
	if (pid == 0)
		_exit(child(dir, dbpath, n, samples, res) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		progress("the measuring child failed");
		st = 1;
		goto out;
	}
	printf("%-8s %-10s %-9s %9s %9s %9s %9s %10s\n", "entries", "case", "system", "median_ns", "p99_ns",
	       "p999_ns", "mean_ns", "vs_mxcache");
	for (i = 0; i < SYS_N; i++)
		printf("%-8" PRIu64 " %-10s %-9s %9.1f %9.1f %9.1f %9.1f %10.2f\n", n, sys_case[i], sys_name[i],
		       res[i].med, res[i].p99, res[i].p999, res[i].mean, res[i].med / res[SYS_MXC_MATCH].med);
	if (csv != NULL && (f = fopen(csv, "w")) != NULL) {
		fprintf(f, "entries,case,system,median_ns,p99_ns,p999_ns,mean_ns\n");
		for (i = 0; i < SYS_N; i++)
			fprintf(f, "%" PRIu64 ",%s,%s,%.1f,%.1f,%.1f,%.1f\n", n, sys_case[i], sys_name[i], res[i].med,
				res[i].p99, res[i].p999, res[i].mean);
		fclose(f);
	}
	st = 0;
out:
	if (r != NULL)
		region_close(r);
	if (stat(dir, &sb) == 0) {
		if (mxc_shm_path(path, sizeof(path), mxc_shm_dir(), sb.st_dev, sb.st_ino, "data") == 0)
			unlink(path);
		if (mxc_shm_path(path, sizeof(path), mxc_shm_dir(), sb.st_dev, sb.st_ino, "readers") == 0)
			unlink(path);
	}
	unlink(dbpath);
	snprintf(path, sizeof(path), "%s-wal", dbpath);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", dbpath);
	unlink(path);
	rmdir(dir);
	return st;
}
