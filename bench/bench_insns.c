/*
 * bench_insns - the lookups whose instructions tools/bench.sh counts
 * under callgrind: a regression figure that does not move with the
 * machine's load, unlike any latency.
 *
 *   bench_insns hit|miss N
 *
 * Builds a region of INSNS_ENTRIES overrides in process with the writer's
 * own code (daemon/region.h, as bench_resolve does), opens it with
 * mxc_open() like any mail server, makes one hit and one miss untimed (the
 * first lookup of a thread claims its reader slot: a system call, not a
 * lookup's cost), then runs insns_loop: N calls of mxc_resolve() on
 * present keys (hit) or absent ones (miss), cycling through them.
 *
 * Counting: tools/bench.sh runs this under
 *     valgrind --tool=callgrind --toggle-collect=insns_loop
 * so that only insns_loop and what it calls are counted (not the set-up,
 * not the writer's reader-registration thread), once with N and once with
 * N = 0, and divides the difference by N: instructions per lookup.  The
 * same run's cost split by source file (callgrind_annotate) says where
 * they go: the normaliser, SipHash, the table, the read section.
 *
 * Exit status 0, or 1 if set-up failed or a lookup gave a wrong answer.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "bench_insns"
#include "bench/common.h"
#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "shm/layout.h"
#include "shm/override.h"
#include "shm/path.h"

#define INSNS_ENTRIES 1000           /* overrides in the region */
#define INSNS_MAX_N   100000000UL    /* lookups asked for at most */
#define INSNS_SLOTS   16             /* reader slots: one thread reads */

static char hit[INSNS_ENTRIES][KEY_SLOT];
static char miss[INSNS_ENTRIES][KEY_SLOT];

/* The counted loop.  noinline and not static: callgrind toggles on its
 * name.  Returns the number of wrong answers. */
__attribute__((noinline)) unsigned long insns_loop(mxc_t *h, char (*keys)[KEY_SLOT], unsigned long n, int want);
__attribute__((noinline)) unsigned long insns_loop(mxc_t *h, char (*keys)[KEY_SLOT], unsigned long n, int want)
{
	char host[MXC_HOST_MAX + 1];
	unsigned long bad = 0, i;
	unsigned k = 0;

	for (i = 0; i < n; i++) {
		bad += mxc_resolve(h, keys[k], host, sizeof(host)) != want;
		if (++k == INSNS_ENTRIES)
			k = 0;
	}
	return bad;
}

/* Every file of the region, by the name prefix of its directory. */
static void remove_region_files(const char *prefix)
{
	const char *base = strrchr(prefix, '/');
	char path[MXS_SHM_PATH_MAX * 2];
	struct dirent *de;
	size_t blen;
	DIR *d;

	if (base == NULL)
		return;
	base++;
	blen = strlen(base);
	if ((d = opendir(mxc_shm_dir())) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, base, blen) == 0) {
			snprintf(path, sizeof(path), "%s/%s", mxc_shm_dir(), de->d_name);
			unlink(path);
		}
	closedir(d);
}

static int build(struct region **r, const char *dir)
{
	struct region_opts o;
	uint8_t val[MXS_OV_VALUE_MAX];
	char target[TARGET_SLOT];
	int64_t now = (int64_t)time(NULL);
	size_t vlen;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.nslots = INSNS_SLOTS;
	o.gid = (gid_t)-1;
	if (region_create(&o, INSNS_ENTRIES, r) != 0 || region_go_live(*r) != 0) {
		progress("region %s: %s", dir, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < INSNS_ENTRIES; i++) {
		make_target(i, target);
		vlen = mxc_ov_value_encode(val, now, now, target, strlen(target), "bench", 5);
		if (region_put(*r, MXS_TAB_OVERRIDE, hit[i], strlen(hit[i]), val, vlen, NULL, 0) != 0) {
			progress("region_put %s: %s", hit[i], strerror(errno));
			return -1;
		}
	}
	region_publish(*r);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/mxc-insns.XXXXXX", prefix[MXS_SHM_PATH_MAX], host[MXC_HOST_MAX + 1], *end;
	struct region *r = NULL;
	mxc_t *h = NULL;
	struct stat st;
	unsigned long n, bad;
	int want, rc = 1;

	if (argc != 3 || (strcmp(argv[1], "hit") != 0 && strcmp(argv[1], "miss") != 0)) {
		fprintf(stderr, "usage: bench_insns hit|miss N\n");
		return 2;
	}
	errno = 0;
	n = strtoul(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[2] || n > INSNS_MAX_N) {
		fprintf(stderr, "bench_insns: N: a count up to %lu\n", INSNS_MAX_N);
		return 2;
	}
	want = argv[1][0] == 'h' ? MXC_OK : MXC_NOTFOUND;
	log_init(1, LOG_WARNING);
	for (unsigned i = 0; i < INSNS_ENTRIES; i++) {
		make_key(i, hit[i]);
		make_key(INSNS_ENTRIES + i, miss[i]);
	}
	if (mkdtemp(dir) == NULL) {
		progress("mkdtemp: %s", strerror(errno));
		return 1;
	}
	prefix[0] = '\0';
	if (stat(dir, &st) != 0 || mxc_shm_path(prefix, sizeof(prefix), mxc_shm_dir(), st.st_dev, st.st_ino, "") != 0) {
		progress("%s: cannot name its region", dir);
		goto out;
	}
	if (build(&r, dir) != 0)
		goto out;
	if ((rc = mxc_open(dir, &h)) != MXC_OK) {
		progress("mxc_open %s: %s", dir, mxc_strerror(rc));
		rc = 1;
		goto out;
	}
	rc = 1;
	/* the thread's first lookups: the slot claim happens here */
	if (mxc_resolve(h, hit[0], host, sizeof(host)) != MXC_OK ||
	    mxc_resolve(h, miss[0], host, sizeof(host)) != MXC_NOTFOUND) {
		progress("the warm-up lookups gave wrong answers");
		goto out;
	}
	bad = insns_loop(h, want == MXC_OK ? hit : miss, n, want);
	if (bad != 0) {
		progress("%lu wrong answers", bad);
		goto out;
	}
	rc = 0;
out:
	mxc_close(h);
	region_close(r);
	remove_region_files(prefix);
	if (rmdir(dir) != 0)
		progress("rmdir %s: %s", dir, strerror(errno));
	return rc;
}
