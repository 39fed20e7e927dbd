/*
 * fuzz_region - a client mapping a hostile region file.  A real region is
 * built once (overrides, an MTA-STS policy, an MX answer, federation
 * settings and a rule, stats); each input is a list of byte changes
 * (5 bytes each: a 32-bit offset into the used part of the file, a value)
 * applied to a copy, written over the data file, and then opened and read
 * every way a client can: lookups in each table, the walks, and the full
 * verify.  Whatever the bytes, the library answers with a code: no crash,
 * no read outside the mapping, no endless loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/sts.h"
#include "shm/fed.h"
#include "shm/override.h"
#include "shm/path.h"
#include "shm/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_USED 65536          /* bytes of the file the changes land in: header and first records */

static char dir[] = "/tmp/mxc-fuzz-region.XXXXXX";
static char path[MXS_SHM_PATH_MAX];
static uint8_t *image, *work;
static size_t isize;

/* libFuzzer ends with exit(): leave no region behind */
static void cleanup(void)
{
	char rpath[MXS_SHM_PATH_MAX];
	size_t n = strlen(path);

	if (n > 5 && strcmp(path + n - 5, ".data") == 0) {
		unlink(path);
		snprintf(rpath, sizeof(rpath), "%.*sreaders", (int)(n - 4), path);
		unlink(rpath);
	}
	rmdir(dir);
}

static void build(void)
{
	struct region_opts o;
	struct region *r;
	struct sts_rec *p = calloc(1, sizeof(*p));
	struct mx_rec m;
	struct stat sb;
	uint8_t val[MXS_OV_VALUE_MAX], fv[MXS_FED_VALUE_MAX], sv[MXS_STAT_VALUE_LEN];
	int64_t f[MXS_STAT_NFIELDS] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, created = 5;
	size_t vlen;
	int fd, i;
	char key[64];

	log_init(1, LOG_WARNING);
	if (p == NULL || mkdtemp(dir) == NULL)
		abort();
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.nslots = 16;
	o.gid = (gid_t)-1;
	if (region_create(&o, 0, &r) != 0)
		abort();
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "host%d.example.org", i);
		vlen = mxc_ov_value_encode(val, 1, 2, "192.0.2.1", 9, i % 3 ? "" : "a comment", i % 3 ? 0 : 9);
		region_put(r, MXS_TAB_OVERRIDE, key, strlen(key), val, vlen, NULL, 0);
	}
	snprintf(p->domain, sizeof(p->domain), "policy.example");
	p->kind = MXS_STS_KIND_POLICY;
	p->mode = MXS_STS_MODE_ENFORCE;
	p->max_age = 86400;
	p->nmx = 2;
	snprintf(p->mx[0], sizeof(p->mx[0]), "mx.policy.example");
	snprintf(p->mx[1], sizeof(p->mx[1]), "*.backup.policy.example");
	p->valid_end = INT64_MAX / 2;
	sts_region_put(r, p);
	memset(&m, 0, sizeof(m));
	snprintf(m.domain, sizeof(m.domain), "mx.example");
	m.kind = MXS_MX_KIND_MX;
	m.n = 1;
	m.pref[0] = 10;
	snprintf(m.host[0], sizeof(m.host[0]), "mx1.mx.example");
	m.expires = INT64_MAX / 2;
	mx_region_put(r, &m);
	vlen = mxc_fed_settings_encode(fv, MXS_FED_REJECT, 1, "local.example", 13);
	region_put(r, MXS_TAB_FED, ".", 1, fv, vlen, NULL, 0);
	region_put(r, MXS_TAB_FED, "ok.example", 10, &created, sizeof(created), NULL, 0);
	mxc_stat_encode(sv, f);
	region_put(r, MXS_TAB_STATS, "stats.example", 13, sv, sizeof(sv), NULL, 0);
	region_publish(r);
	if (region_go_live(r) != 0 || stat(dir, &sb) != 0)
		abort();
	region_close(r);
	if (mxc_shm_path(path, sizeof(path), mxc_shm_dir(), sb.st_dev, sb.st_ino, "data") != 0)
		abort();
	atexit(cleanup);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb) != 0)
		abort();
	isize = (size_t)sb.st_size;
	image = malloc(isize);
	work = malloc(isize);
	if (image == NULL || work == NULL || read(fd, image, isize) != (ssize_t)isize)
		abort();
	close(fd);
	free(p);
}

static int count(const struct mxc_override *ov, void *arg)
{
	(void)ov;
	(*(int *)arg)++;
	return 0;
}

static int count_sts(const char *d, int kind, const struct mxc_sts *p, void *arg)
{
	(void)d;
	(void)kind;
	(void)p;
	(*(int *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mxc_sts pol;
	struct mxc_override ov;
	struct mxc_federation fed;
	struct mxc_stat st;
	struct mxc_mx mx[4];
	char host[MXC_HOST_MAX + 1], why[256];
	size_t i, n;
	int fd, from, k = 0;
	mxc_t *h;

	if (image == NULL)
		build();
	memcpy(work, image, isize);
	for (i = 0; i + 5 <= size; i += 5) {
		uint32_t off;

		memcpy(&off, data + i, 4);
		work[off % (isize < FZ_USED ? isize : FZ_USED)] = data[i + 4];
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, work, isize) != (ssize_t)isize)
		abort();
	close(fd);
	if (mxc_open(dir, &h) != MXC_OK)
		return 0;
	mxc_resolve(h, "host7.example.org", host, sizeof(host));
	mxc_resolve(h, "absent.example", host, sizeof(host));
	mxc_override_get(h, "host0.example.org", &ov);
	mxc_resolve_mx(h, "mx.example", mx, 4, &n, &from);
	mxc_sts_get(h, "policy.example", &pol);
	mxc_sts_match(&pol, "a.backup.policy.example");
	mxc_federation_allowed(h, "ok.example");
	mxc_federation_get(h, &fed);
	mxc_stat_get(h, "stats.example", &st);
	mxc_override_foreach(h, count, &k);
	mxc_sts_foreach(h, count_sts, &k);
	mxc_verify(h, why, sizeof(why));
	mxc_close(h);
	return 0;
}
