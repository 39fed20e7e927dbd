/*
 * tests/fixture.h - a region of the test's own for the C tests that drive
 * the writer and read through the client in one process: a fresh state
 * directory, a region built in it, and the clean-up that leaves nothing
 * behind (the region's files under the shm directory included).
 */
#ifndef MXC_TESTS_FIXTURE_H
#define MXC_TESTS_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/region.h"
#include "shm/path.h"

/* fixture_dir - make the state directory from the mkdtemp template dir
 * (rewritten in place).  Returns 0 or -1. */
static inline int fixture_dir(char *dir)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* fixture_region - build a region with nslots reader slots in dir, not
 * yet live (the caller decides when clients may see it).  Returns
 * region_create's answer. */
static inline int fixture_region(const char *dir, uint32_t nslots, struct region **r)
{
	struct region_opts o;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.nslots = nslots;
	o.gid = (gid_t)-1;
	return region_create(&o, 0, r);
}

/* fixture_shm_path - where the region of dir keeps its file suffix
 * ("data", "readers") under the shm directory.  Returns 0 or -1. */
static inline int fixture_shm_path(const char *dir, const char *suffix, char *out, size_t outlen)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return -1;
	return mxc_shm_path(out, outlen, mxc_shm_dir(), st.st_dev, st.st_ino, suffix);
}

/* fixture_cleanup - close r (when not NULL), remove the region's files
 * and the state directory. */
static inline void fixture_cleanup(const char *dir, struct region *r)
{
	char path[MXS_SHM_PATH_MAX];

	if (r != NULL)
		region_close(r);
	if (fixture_shm_path(dir, "data", path, sizeof(path)) == 0)
		unlink(path);
	if (fixture_shm_path(dir, "readers", path, sizeof(path)) == 0)
		unlink(path);
	rmdir(dir);
}

#endif /* MXC_TESTS_FIXTURE_H */
