/*
 * test_region - the writer (daemon/region.c, table_w.c) and the client
 * library against each other in one process: publish, replace, delete,
 * table and region growth under an open handle, long keys and values,
 * reclamation, and every way a region file can be damaged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/region_int.h"
#include "shm/layout.h"
#include "shm/override.h"
#include "shm/path.h"
#include "tests/fixture.h"
#include "tests/tap.h"

static char dir[] = "/tmp/mxc-test-region.XXXXXX";
static char dir2[] = "/tmp/mxc-test-corrupt.XXXXXX";

static int put(struct region *r, const char *key, const char *target, const char *comment)
{
	uint8_t val[MXS_OV_VALUE_MAX];
	size_t vlen = mxc_ov_value_encode(val, 1000, 2000, target, strlen(target), comment, strlen(comment));

	return region_put(r, MXS_TAB_OVERRIDE, key, strlen(key), val, vlen, NULL, 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0)
		return NULL;
	buf = malloc((size_t)st.st_size);
	if (buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static int spill(const char *path, const uint8_t *buf, size_t len, mode_t mode)
{
	int fd;
	ssize_t w;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -1;
	w = write(fd, buf, len);
	fchmod(fd, mode);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

struct nest_q {
	mxc_t *h, *h2;
	int seen, bad;
};

/* a foreach callback that looks things up on the same and another handle */
static int nest_cb(const struct mxc_override *o, void *arg)
{
	struct nest_q *q = arg;
	char host[MXC_HOST_MAX + 1];

	q->seen++;
	if (mxc_resolve(q->h, o->key, host, sizeof(host)) != MXC_OK || strcmp(host, o->target) != 0)
		q->bad++;
	if (q->h2 != NULL && mxc_resolve(q->h2, o->key, host, sizeof(host)) != MXC_OK)
		q->bad++;
	return q->seen >= 500 ? 7 : 0;
}

struct pid_count {
	uint32_t pid;
	int n;
};

static int pid_q(const struct mxc_reader *rd, void *arg)
{
	struct pid_count *q = arg;

	if (rd->pid == q->pid)
		q->n++;
	return 0;
}

static int open_copy(const uint8_t *buf, size_t len, mode_t mode, mxc_t **h)
{
	char path[MXS_SHM_PATH_MAX];

	fixture_shm_path(dir2, "data", path, sizeof(path));
	if (spill(path, buf, len, mode) != 0)
		return -100;
	return mxc_open(dir2, h);
}

int main(void)
{
	struct region *r;
	struct mxc_override ov;
	struct mxc_status st;
	struct mxc_mx mx[2];
	mxc_t *h, *hc;
	char host[MXC_HOST_MAX + 1], key[300], want[300], why[256], longkey[260], longtgt[260];
	char dpath[MXS_SHM_PATH_MAX];
	size_t n, len, i;
	uint8_t *img, *bad;
	int rc, from, bad_answers, all_ok;
	const int N = 150000;

	log_init(1, LOG_WARNING);
	if (fixture_dir(dir) != 0 || fixture_dir(dir2) != 0)
		return 1;
	fixture_shm_path(dir, "data", dpath, sizeof(dpath));

	is_int(mxc_open(dir, &h), MXC_ENOREGION, "no region yet: ENOREGION");
	is_int(mxc_open("/nonexistent/mxcache", &h), MXC_ENOREGION, "no directory: ENOREGION");

	rc = fixture_region(dir, 64, &r);
	is_int(rc, 0, "region_create");
	if (rc != 0)
		return tap_done();
	is_int(mxc_open(dir, &h), MXC_ENOREGION, "a region being built is invisible");
	is_int(region_go_live(r), 0, "region_go_live");
	is_int(mxc_open(dir, &h), MXC_OK, "mxc_open");

	is_int(mxc_resolve(h, "example.org", host, sizeof(host)), MXC_NOTFOUND, "domain without override");
	is_int(mxc_resolve(h, "[1.1.1.1]", host, sizeof(host)), MXC_OK, "IP without override");
	is_str(host, "1.1.1.1", "IP answers itself, bare");
	is_int(mxc_resolve(h, "[IPv6:2001:DB8::1]", host, sizeof(host)), MXC_OK, "IPv6 literal");
	is_str(host, "2001:db8::1", "IPv6 answers itself, RFC 5952");
	is_int(mxc_resolve(h, "not a domain", host, sizeof(host)), MXC_EINVAL, "bad key: EINVAL");
	is_int(mxc_resolve(h, "1.1.1.1", host, 7), MXC_ETOOSMALL, "short buffer: ETOOSMALL");

	is_int(put(r, "example.org", "10.9.8.7", "migration"), 0, "put adds");
	region_publish(r);
	is_int(mxc_resolve(h, "EXAMPLE.org.", host, sizeof(host)), MXC_OK, "override found in another spelling");
	is_str(host, "10.9.8.7", "override target");
	is_int(mxc_resolve(h, "example.org", host, 8), MXC_ETOOSMALL, "target one byte too long for buffer");
	is_int(mxc_override_get(h, "Example.Org", &ov), MXC_OK, "override_get");
	is_str(ov.comment, "migration", "comment");
	is_int(ov.created, 1000, "created");
	is_int(ov.updated, 2000, "updated");
	rc = mxc_resolve_mx(h, "example.org.", mx, 2, &n, &from);
	is_int(rc, MXC_OK, "resolve_mx from override");
	is_int(n, 1, "one synthetic MX");
	is_int(mx[0].pref, 0, "preference 0");
	is_str(mx[0].host, "10.9.8.7", "MX host is the target");
	is_int(from, 1, "from_override");
	is_int(mxc_resolve_mx(h, "other.example", mx, 2, &n, &from), MXC_NOTFOUND, "resolve_mx without override");
	is_int(mxc_resolve_mx(h, "example.org", mx, 0, &n, &from), MXC_ETOOSMALL, "resolve_mx with max 0");

	is_int(put(r, "example.org", "mx2.example.net", ""), 1, "put replaces");
	region_publish(r);
	is_int(mxc_resolve(h, "example.org", host, sizeof(host)), MXC_OK, "replaced override");
	is_str(host, "mx2.example.net", "new target visible at once");
	is_int(put(r, "1.1.1.1", "2.2.2.2", ""), 0, "IP-literal override");
	is_int(mxc_resolve(h, "[1.1.1.1]", host, sizeof(host)), MXC_OK, "IP with override");
	is_str(host, "2.2.2.2", "IP override wins over the IP itself");
	is_int(region_del(r, MXS_TAB_OVERRIDE, "example.org", 11), 1, "del removes");
	is_int(region_del(r, MXS_TAB_OVERRIDE, "example.org", 11), 0, "del of absent");
	is_int(mxc_resolve(h, "example.org", host, sizeof(host)), MXC_NOTFOUND, "deleted override gone");

	/* long keys and targets live out of line */
	memset(longkey, 0, sizeof(longkey));
	for (i = 0; i < 3; i++)
		memcpy(longkey + i * 64, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 64);
	strcat(longkey, "example.com");
	snprintf(longtgt, sizeof(longtgt), "%s", longkey);
	longtgt[0] = 'b';
	is_int(put(r, longkey, longtgt, "long"), 0, "put a 203-octet key and target");
	is_int(mxc_resolve(h, longkey, host, sizeof(host)), MXC_OK, "long key found");
	is_str(host, longtgt, "long target intact");
	is_int(put(r, longkey, "short.example", ""), 1, "replace a long-key entry");
	is_int(mxc_resolve(h, longkey, host, sizeof(host)), MXC_OK, "long key still found");
	is_str(host, "short.example", "replaced value");

	/* growth of the tables and the region under an open handle */
	all_ok = 1;
	for (i = 0; i < (size_t)N && all_ok; i++) {
		snprintf(key, sizeof(key), "k%zu.example", i);
		snprintf(want, sizeof(want), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		all_ok = put(r, key, want, i % 7 ? "" : "bulk") == 0;
		if (i % 4096 == 0)
			region_publish(r);
	}
	region_publish(r);
	ok(all_ok, "put %d keys (table and region growth)", N);
	all_ok = 1;
	for (i = 0; i < (size_t)N; i++) {
		snprintf(key, sizeof(key), "k%zu.example", i);
		snprintf(want, sizeof(want), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		if (mxc_resolve(h, key, host, sizeof(host)) != MXC_OK || strcmp(host, want) != 0) {
			all_ok = 0;
			printf("# %s: got %s\n", key, host);
			break;
		}
	}
	ok(all_ok, "every key answers through a handle opened before the growth");
	region_reclaim(r, 1);    /* the readers listing, as every second */
	is_int(mxc_status(h, &st), MXC_OK, "status");
	is_int(st.overrides, N + 2, "status counts every override");
	ok(st.size > 4u << 20, "region grew (%llu MiB)", (unsigned long long)(st.size >> 20));
	ok(st.slots_claimed >= 1, "this thread holds a reader slot");
	rc = mxc_verify(h, why, sizeof(why));
	is_int(rc, MXC_OK, "verify after growth");
	if (rc != MXC_OK)
		printf("# %s\n", why);

	for (i = 0; i < (size_t)N; i += 2) {
		snprintf(key, sizeof(key), "k%zu.example", i);
		if (region_del(r, MXS_TAB_OVERRIDE, key, strlen(key)) != 1)
			break;
	}
	region_publish(r);
	ok(i >= (size_t)N, "deleted every other key");
	is_int(mxc_resolve(h, "k0.example", host, sizeof(host)), MXC_NOTFOUND, "deleted key gone");
	is_int(mxc_resolve(h, "k1.example", host, sizeof(host)), MXC_OK, "kept key stays");
	is_int(mxc_verify(h, why, sizeof(why)), MXC_OK, "verify after deletes");

	/* nobody is inside a read: two ticks drain limbo */
	region_tick(r);
	region_tick(r);
	usleep(2000);
	region_tick(r);
	mxc_status(h, &st);
	is_int(st.arena_limbo, 0, "limbo drained with no reader inside");
	ok(st.arena_free > 0, "freed memory is on the free lists");

	/* lookups from inside a walk, on the same and on a second handle */
	is_int(mxc_open(dir, &hc), MXC_OK, "second handle");
	{
		struct nest_q q = {h, hc, 0, 0};
		is_int(mxc_override_foreach(h, nest_cb, &q), 7, "foreach stops with the callback's value");
		is_int(q.bad, 0, "lookups nested in a walk answer right, same and other handle");
		is_int(mxc_resolve(h, "k1.example", host, sizeof(host)), MXC_OK, "the handle works after the walk");
	}
	mxc_close(hc);

	/* a handle closed and another opened, likely at the same address:
	 * the thread's cached slot reference belongs to the closed one and
	 * must not be used (under ASan a use is a use after free) */
	{
		int wrong = 0;

		for (i = 0; i < 50; i++) {
			hc = NULL;
			if (mxc_open(dir, &hc) != MXC_OK || mxc_resolve(hc, "k1.example", host, sizeof(host)) != MXC_OK ||
			    mxc_resolve(h, "k1.example", host, sizeof(host)) != MXC_OK)
				wrong++;
			mxc_close(hc);
		}
		is_int(wrong, 0, "50 handles opened and closed in turn, each answering beside the first");
	}

	/* fork: the child reads with a slot of a block of its own, which it
	 * registers; the parent keeps its own */
	{
		struct pid_count mine = { (uint32_t)getpid(), 0 }, theirs = { 0, 0 };
		int status = -1, up[2], down[2];
		char c = 0;
		pid_t pid;

		if (pipe(up) != 0 || pipe(down) != 0)
			return tap_done();
		region_reclaim(r, 1);
		mxc_readers_foreach(h, pid_q, &mine);
		pid = fork();
		if (pid == 0) {
			c = mxc_resolve(h, "k1.example", host, sizeof(host)) == MXC_OK ? 'y' : 'n';
			if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
				_exit(3);
			_exit(0);
		}
		ok(read(up[0], &c, 1) == 1 && c == 'y', "a forked child answers");
		theirs.pid = (uint32_t)pid;
		region_reclaim(r, 1);
		mxc_readers_foreach(h, pid_q, &theirs);
		is_int(theirs.n, 1, "with a slot of its own block, registered with the writer");
		(void)!write(down[1], "x", 1);
		waitpid(pid, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exits");
		is_int(mine.n, 1, "the parent holds one slot");
		is_int(mxc_resolve(h, "k1.example", host, sizeof(host)), MXC_OK, "the parent still answers");
		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
	}

	/* ---- damaged regions ---- */
	img = slurp(dpath, &len);
	ok(img != NULL, "read the region image");
	if (img == NULL)
		return tap_done();
	bad = malloc(len);
	memcpy(bad, img, len);
	is_int(open_copy(bad, len, 0640, &hc), MXC_OK, "an intact copy opens");
	if (hc != NULL) {
		is_int(mxc_resolve(hc, "k1.example", host, sizeof(host)), MXC_OK, "the copy answers");
		mxc_close(hc);
	}
	hc = NULL;
	is_int(open_copy(bad, len, 0660, &hc), MXC_ECORRUPT, "group-writable region refused");
	bad[0] ^= 0xff;
	is_int(open_copy(bad, len, 0640, &hc), MXC_ECORRUPT, "bad magic: ECORRUPT");
	memcpy(bad, img, len);
	((struct mxc_shm_hdr *)(void *)bad)->h_layout++;
	is_int(open_copy(bad, len, 0640, &hc), MXC_EVERSION, "other layout: EVERSION");
	memcpy(bad, img, len);
	((struct mxc_shm_hdr *)(void *)bad)->h_abi = __builtin_bswap32(MXS_SHM_ABI);
	is_int(open_copy(bad, len, 0640, &hc), MXC_EVERSION, "other byte order: EVERSION");
	memcpy(bad, img, len);
	is_int(open_copy(bad, len / 2, 0640, &hc), MXC_ECORRUPT, "truncated file: ECORRUPT");
	is_int(open_copy(bad, 100, 0640, &hc), MXC_ECORRUPT, "tiny file: ECORRUPT");
	((struct mxc_shm_hdr *)(void *)bad)->h_root = len + 4096;
	is_int(open_copy(bad, len, 0640, &hc), MXC_ECORRUPT, "root outside the file: ECORRUPT");
	memcpy(bad, img, len);
	((struct mxc_shm_hdr *)(void *)bad)->h_state = MXS_STATE_INIT;
	is_int(open_copy(bad, len, 0640, &hc), MXC_ECORRUPT, "half-built region: ECORRUPT");

	/* random damage inside the arena: answers or ECORRUPT, never a crash */
	srand(12345);
	bad_answers = 0;
	for (int round = 0; round < 200; round++) {
		memcpy(bad, img, len);
		for (int k = 0; k < 64; k++) {
			size_t at = MXS_SHM_HDR_SIZE + (size_t)rand() % (len - MXS_SHM_HDR_SIZE);
			bad[at] = (uint8_t)rand();
		}
		hc = NULL;
		if (open_copy(bad, len, 0640, &hc) != MXC_OK)
			continue;
		for (i = 1; i < 2000; i += 2) {
			snprintf(key, sizeof(key), "k%zu.example", i);
			rc = mxc_resolve(hc, key, host, sizeof(host));
			if (rc != MXC_OK && rc != MXC_NOTFOUND && rc != MXC_ECORRUPT && rc != MXC_ETOOSMALL)
				bad_answers++;
		}
		(void)mxc_verify(hc, why, sizeof(why));
		mxc_close(hc);
	}
	is_int(bad_answers, 0, "200 randomly damaged regions: only defined answers, no crash");

	free(bad);
	free(img);
	mxc_close(h);
	fixture_cleanup(dir, r);
	fixture_shm_path(dir2, "data", dpath, sizeof(dpath));
	unlink(dpath);
	rmdir(dir2);
	return tap_done();
}
