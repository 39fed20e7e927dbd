/*
 * tests/unit/test_remap_clock.c - a client moves to the replacement of a
 * retired region however the wall clock moves.
 *
 * The library tries to map a replacement at most once per 100 ms.  This
 * test steps the wall clock back an hour (clock_gettime is replaced
 * below, for the daemon's code and the library's alike) between two
 * replacements: the pause between tries must not grow with the step.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "shm/override.h"
#include "shm/path.h"
#include "tests/tap.h"

/* How far the wall clock is set back, seconds. */
static int64_t wall_back_s;

/* Every clock read of this program: the kernel's, the wall clock moved. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc = (int)syscall(SYS_clock_gettime, id, ts);

	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec -= (time_t)__atomic_load_n(&wall_back_s, __ATOMIC_RELAXED);
	return rc;
}

static char dir[] = "/tmp/mxc-remap-clock.XXXXXX";

/* A new region for dir, holding one override: a.example -> target.  It
 * replaces (retires) the one before, as a daemon restart does. */
static struct region *generation(struct region *old, const char *target)
{
	struct region_opts o;
	struct region *r;
	uint8_t v[MXS_OV_VALUE_MAX];
	size_t n;

	if (old != NULL)
		region_close(old);
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.nslots = 16;
	o.gid = (gid_t)-1;
	if (region_create(&o, 0, &r) != 0)
		return NULL;
	n = mxc_ov_value_encode(v, 1, 1, target, strlen(target), "", 0);
	if (region_put(r, MXS_TAB_OVERRIDE, "a.example", 9, v, n, NULL, 0) < 0 || (region_publish(r), 0) ||
	    region_go_live(r) != 0) {
		region_close(r);
		return NULL;
	}
	return r;
}

/* The answer for a.example once it is want, waiting up to 5 s: a client
 * tries a replacement at most every 100 ms. */
static int answers(mxc_t *h, const char *want)
{
	char host[MXC_HOST_MAX + 1];
	int i;

	for (i = 0; i < 500; i++) {
		if (mxc_resolve(h, "a.example", host, sizeof(host)) == MXC_OK && strcmp(host, want) == 0)
			return 1;
		usleep(10000);
	}
	return 0;
}

int main(void)
{
	char path[MXS_SHM_PATH_MAX];
	struct region *r;
	struct stat sb;
	mxc_t *h = NULL;

	log_init(1, LOG_WARNING);
	if (mkdtemp(dir) == NULL)
		return 1;
	r = generation(NULL, "one.example");
	ok(r != NULL, "a region");
	if (r == NULL || mxc_open(dir, &h) != MXC_OK) {
		ok(0, "mxc_open");
		return tap_done();
	}
	ok(answers(h, "one.example"), "the client answers from it");
	r = generation(r, "two.example");
	ok(r != NULL && answers(h, "two.example"), "a replacement: the client moves to it");
	r = generation(r, "three.example");
	/* set back after the daemon's part: only the client's pacing is tested */
	__atomic_store_n(&wall_back_s, 3600, __ATOMIC_RELAXED);
	ok(r != NULL && answers(h, "three.example"),
	   "the wall clock set back an hour, another replacement: the client still moves to it");
	__atomic_store_n(&wall_back_s, 0, __ATOMIC_RELAXED);

	mxc_close(h);
	if (r != NULL)
		region_close(r);
	if (stat(dir, &sb) == 0) {
		if (mxc_shm_path(path, sizeof(path), mxc_shm_dir(), sb.st_dev, sb.st_ino, "data") == 0)
			unlink(path);
		if (mxc_shm_path(path, sizeof(path), mxc_shm_dir(), sb.st_dev, sb.st_ino, "readers") == 0)
			unlink(path);
	}
	rmdir(dir);
	return tap_done();
}
