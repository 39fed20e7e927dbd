/*
 * shm/path.h - where the region of a state directory lives.
 *
 * Clients find the region from DIR alone: its files are named after DIR's
 * device and inode numbers, so every path naming the same directory (a
 * symlink, a relative path, a bind mount of the same inode) finds the same
 * region and two directories never share one.  Pure formatting; the caller
 * stat()s DIR.
 */
#ifndef MXC_SHM_PATH_H
#define MXC_SHM_PATH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MXS_SHM_DIR_DEFAULT "/dev/shm"
#define MXS_SHM_DIR_ENV     "MXCACHE_SHM_DIR"   /* tests: a private tmpfs */
#define MXS_SHM_PATH_MAX    256

/* mxc_shm_dir - the tmpfs directory regions live in. */
static inline const char *mxc_shm_dir(void)
{
	const char *d = getenv(MXS_SHM_DIR_ENV);

	return (d != NULL && d[0] == '/') ? d : MXS_SHM_DIR_DEFAULT;
}

/*
 * mxc_shm_prefix - "mxcache-<dev>-<ino>." into out: how every file name of
 * the directory's region in the tmpfs directory starts (data, listing,
 * their temporary names).  Returns 0, or -1 if it does not fit.
 */
static inline int mxc_shm_prefix(char *out, size_t outlen, uint64_t dev, uint64_t ino)
{
	int n = snprintf(out, outlen, "mxcache-%llx-%llx.", (unsigned long long)dev, (unsigned long long)ino);

	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/*
 * mxc_shm_path - "<shmdir>/mxcache-<dev>-<ino>.<suffix>" into out.
 * suffix is "data", "readers", or "data.<tmp>" for a region being built.
 * Returns 0, or -1 if it does not fit.
 */
static inline int mxc_shm_path(char *out, size_t outlen, const char *shmdir, uint64_t dev, uint64_t ino,
			       const char *suffix)
{
	char prefix[64];
	int n;

	if (mxc_shm_prefix(prefix, sizeof(prefix), dev, ino) != 0)
		return -1;
	n = snprintf(out, outlen, "%s/%s%s", shmdir, prefix, suffix);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

#endif /* MXC_SHM_PATH_H */
