/*
 * client/shmctl_region.c - shmctl status, metrics, verify, readers and
 * unlink: the region itself rather than its data.  All but unlink read
 * it through libmxcache; unlink removes DIR's files from tmpfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "client/mxcache.h"
#include "client/shmctl.h"
#include "shm/clock.h"
#include "shm/ctl.h"
#include "shm/layout.h"
#include "shm/path.h"

#define ISO_LEN       40
#define WHY_LEN       256
#define PATH_LEN      4200       /* DIR (PATH_MAX) plus a file name */
/* answers without a single AD bit before status wonders whether the
 * resolver validates: many domains are unsigned, so a few are no sign */
#define DNS_NOAD_WARN 100

/* The daemon's DNS answers by their AD bit, and its TLSA lookups. */
struct dns_seen {
	uint64_t ad, noad, tlsa;
};

static uint64_t counter_u64(mxc_t *h, unsigned i)
{
	double v;

	return mxc_counter(h, i, NULL, NULL, &v) == MXC_OK && v > 0 ? (uint64_t)v : 0;
}

static void dns_seen_get(mxc_t *h, struct dns_seen *d)
{
	d->ad = counter_u64(h, MXS_CTR_DNS_AD);
	d->noad = counter_u64(h, MXS_CTR_DNS_NOAD);
	d->tlsa = counter_u64(h, MXS_CTR_TLSA_LOOKUPS);
}

/* Many answers and not one authenticated: a resolver that does not validate? */
static int dns_seen_suspect(const struct dns_seen *d)
{
	return d->ad == 0 && d->noad >= DNS_NOAD_WARN;
}

static const char *iso_time_ms(uint64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)(ms / 1000);
	size_t n;

	if (ms == 0 || gmtime_r(&tt, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
	return buf;
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case MXS_STATE_INIT: return "initialising";
	case MXS_STATE_LIVE: return "live";
	case MXS_STATE_RETIRED: return "retired";
	default: return "unknown";
	}
}

/* --- DIR's files in tmpfs -------------------------------------------------- */

#define TMPFS_SHOWN 32		/* region files status lists; more are only counted */

/*
 * region_walk - fn(shmdir, name, arg) for every file in the tmpfs directory
 * whose name starts with the prefix of DIR's region (mxc_shm_prefix of
 * DIR's device and inode: data, readers listing, a killed daemon's
 * temporary files, and anything else squatting on those names).  fn
 * returning nonzero stops the walk.  -1 (errno) when the tmpfs directory
 * cannot be read.
 */
static int region_walk(const struct stat *dst, int (*fn)(const char *, const char *, void *), void *arg)
{
	char prefix[MXS_SHM_PATH_MAX];
	const char *shm = mxc_shm_dir();
	struct dirent *de;
	size_t plen;
	DIR *d;

	if (mxc_shm_prefix(prefix, sizeof(prefix), dst->st_dev, dst->st_ino) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	plen = strlen(prefix);
	if ((d = opendir(shm)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, plen) == 0 && fn(shm, de->d_name, arg) != 0)
			break;
	closedir(d);
	return 0;
}

struct tmpfs_files {
	char prefix[MXS_SHM_PATH_MAX * 2];	/* "<shmdir>/mxcache-<dev>-<ino>." */
	char name[TMPFS_SHOWN][NAME_MAX + 1];
	size_t n, more;
	int err;			/* errno when the list could not be made */
};

static int tmpfs_one(const char *shm, const char *name, void *arg)
{
	struct tmpfs_files *tf = arg;

	(void)shm;
	if (tf->n < TMPFS_SHOWN)
		snprintf(tf->name[tf->n++], sizeof(tf->name[0]), "%s", name);
	else
		tf->more++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* tmpfs_list - DIR's region files in tmpfs, sorted, into tf */
static void tmpfs_list(const struct sc_ctx *c, struct tmpfs_files *tf)
{
	char prefix[MXS_SHM_PATH_MAX];
	struct stat dst;

	memset(tf, 0, sizeof(*tf));
	if (stat(c->dir, &dst) != 0 || mxc_shm_prefix(prefix, sizeof(prefix), dst.st_dev, dst.st_ino) != 0 ||
	    region_walk(&dst, tmpfs_one, tf) != 0) {
		tf->err = errno != 0 ? errno : EINVAL;
		return;
	}
	snprintf(tf->prefix, sizeof(tf->prefix), "%s/%s", mxc_shm_dir(), prefix);
	qsort(tf->name, tf->n, sizeof(tf->name[0]), name_cmp);
}

static int status_json(const struct sc_ctx *c, mxc_t *h, const struct mxc_status *st, const struct tmpfs_files *tf)
{
	struct json_object *j = json_object_new_object(), *ctr = json_object_new_object(), *files, *dns;
	struct dns_seen ds;
	const char *name;
	double v;
	unsigned i;
	char iso[ISO_LEN], path[PATH_LEN];
	int oom = 0;

	if (j == NULL)
		return sc_json_print(NULL, 1);
	sc_jstr(j, "dir", c->dir, &oom);
	sc_jstr(j, "state", state_name(st->state), &oom);
	sc_jint(j, "state_code", st->state, &oom);
	sc_jint(j, "layout", st->layout, &oom);
	sc_juint(j, "incarnation", st->incarnation, &oom);
	sc_juint(j, "size", st->size, &oom);
	sc_juint(j, "backed", st->backed, &oom);
	sc_juint(j, "created", st->created, &oom);
	sc_jstr(j, "created_iso", sc_iso_time((int64_t)st->created, iso, sizeof iso), &oom);
	sc_juint(j, "generation", st->generation, &oom);
	sc_juint(j, "epoch", st->epoch, &oom);
	sc_juint(j, "overrides", st->overrides, &oom);
	sc_juint(j, "sts_entries", st->sts_entries, &oom);
	sc_juint(j, "mx_entries", st->mx_entries, &oom);
	sc_juint(j, "events_posted", st->events_posted, &oom);
	sc_juint(j, "events_dropped", st->events_dropped, &oom);
	for (i = 0; i < MXC_COUNTERS_MAX; i++)
		if (mxc_counter(h, i, &name, NULL, &v) == MXC_OK)
			sc_jset(ctr, name,
				v == (double)(uint64_t)v ? json_object_new_int64((int64_t)v) : json_object_new_double(v),
				&oom);
	sc_jset(j, "counters", ctr, &oom);
	dns_seen_get(h, &ds);
	if ((dns = json_object_new_object()) == NULL)
		oom = 1;
	if (dns != NULL) {
		sc_juint(dns, "answers", ds.ad + ds.noad, &oom);
		sc_juint(dns, "authenticated", ds.ad, &oom);
		sc_juint(dns, "tlsa_lookups", ds.tlsa, &oom);
		sc_jset(dns, "resolver_suspect", json_object_new_boolean(dns_seen_suspect(&ds)), &oom);
	}
	sc_jset(j, "dns", dns, &oom);
	sc_juint(j, "arena_used", st->arena_used, &oom);
	sc_juint(j, "arena_free", st->arena_free, &oom);
	sc_juint(j, "arena_limbo", st->arena_limbo, &oom);
	sc_jint(j, "reader_slots_claimed", st->slots_claimed, &oom);
	sc_jint(j, "reader_slots_total", st->nslots, &oom);
	sc_juint(j, "writer_pid", st->writer_pid, &oom);
	sc_juint(j, "writer_start", st->writer_start, &oom);
	sc_jstr(j, "writer_start_iso", sc_iso_time((int64_t)st->writer_start, iso, sizeof iso), &oom);
	sc_jset(j, "writer_running", json_object_new_boolean(st->writer_alive), &oom);
	if (st->writer_alive) {
		json_object_object_add(j, "writer_gone_since_ms", NULL);
		json_object_object_add(j, "writer_gone_since_iso", NULL);
	} else {
		uint64_t since = st->writer_exit_ms ? st->writer_exit_ms : st->heartbeat_ms;

		sc_juint(j, "writer_gone_since_ms", since, &oom);
		sc_jstr(j, "writer_gone_since_iso", iso_time_ms(since, iso, sizeof iso), &oom);
	}
	sc_jset(j, "writer_exit_clean", json_object_new_boolean(st->writer_exit_ms != 0), &oom);
	sc_juint(j, "heartbeat_ms", st->heartbeat_ms, &oom);
	sc_jstr(j, "heartbeat_iso", iso_time_ms(st->heartbeat_ms, iso, sizeof iso), &oom);
	sc_juint(j, "last_publish_ms", st->last_publish_ms, &oom);
	sc_jstr(j, "last_publish_iso", iso_time_ms(st->last_publish_ms, iso, sizeof iso), &oom);
	sc_jstr(j, "data_path", st->data_path, &oom);
	sc_jstr(j, "readers_path", st->readers_path, &oom);
	snprintf(path, sizeof path, "%s/mxcache.db", c->dir);
	sc_jstr(j, "db_path", path, &oom);
	snprintf(path, sizeof path, "%s/%s", c->dir, MXS_CTL_SOCK);
	sc_jstr(j, "ctl_path", path, &oom);
	if (tf->err == 0) {
		sc_jstr(j, "tmpfs_prefix", tf->prefix, &oom);
		if ((files = json_object_new_array()) == NULL)
			oom = 1;
		for (i = 0; files != NULL && i < tf->n; i++) {
			snprintf(path, sizeof path, "%s/%s", mxc_shm_dir(), tf->name[i]);
			if (json_object_array_add(files, json_object_new_string(path)) != 0)
				oom = 1;
		}
		sc_jset(j, "tmpfs_files", files, &oom);
		sc_juint(j, "tmpfs_files_not_listed", tf->more, &oom);
	}
	return sc_json_print(j, oom);
}

/* gloss - with --verbose, what the line above means, as a comment line */
static void gloss(const struct sc_ctx *c, const char *what)
{
	if (c->verbose)
		printf("                # %s\n", what);
}

static void status_text(const struct sc_ctx *c, mxc_t *h, const struct mxc_status *st, const struct tmpfs_files *tf)
{
	struct dns_seen ds;
	char iso[ISO_LEN];
	const char *name;
	double v;
	unsigned i, n;

	printf("dir:            %s\n", c->dir);
	gloss(c, "the state directory: the database, the sockets, the daemon's pid file");
	printf("state:          %s\n", state_name(st->state));
	gloss(c, "live: the region clients read now; retired: replaced by a newer one; initialising: being built");
	printf("layout:         %" PRIu32 "\n", st->layout);
	gloss(c, "the region's format version: a client built for another refuses the region");
	printf("incarnation:    %016" PRIx64 "\n", st->incarnation);
	gloss(c, "this region file's random identity: new at every daemon start and every growth");
	printf("size:           %" PRIu64 " bytes (%" PRIu64 " backed by memory)\n", st->size, st->backed);
	gloss(c, "the data file's size (address space reserved), and how much of it is memory now");
	printf("created:        %s\n", sc_iso_time((int64_t)st->created, iso, sizeof iso));
	gloss(c, "when this region file was built");
	printf("generation:     %" PRIu64 "\n", st->generation);
	gloss(c, "publishes so far: each makes one batch of changes visible to clients at once");
	printf("epoch:          %" PRIu64 "\n", st->epoch);
	gloss(c, "the reclamation clock: memory freed in one epoch is reused once no lookup begun before it runs");
	printf("overrides:      %" PRIu64 "\n", st->overrides);
	gloss(c, "endpoint overrides (override set, override import)");
	printf("mta-sts:        %" PRIu64 " entries\n", st->sts_entries);
	gloss(c, "MTA-STS cache entries: policies, backoff entries (a failed check) and no-policy entries");
	printf("mx cache:       %" PRIu64 " entries\n", st->mx_entries);
	gloss(c, "MX cache entries: DNS answers, each kept for its TTL");
	dns_seen_get(h, &ds);
	printf("dns:            %" PRIu64 " answers, %" PRIu64 " authenticated (DNSSEC), %" PRIu64 " TLSA lookups%s\n",
	       ds.ad + ds.noad, ds.ad, ds.tlsa,
	       dns_seen_suspect(&ds) ? "; none authenticated: resolver does not validate?" : "");
	gloss(c, "answers the daemon's resolver gave since the start, and those with the AD bit; "
		 "DANE needs a validating resolver on loopback (docs/daemon.md)");
	printf("client events:  %" PRIu64 " posted, %" PRIu64 " dropped (ring full)\n", st->events_posted,
	       st->events_dropped);
	gloss(c, "requests client processes posted to mxcached; dropped: the process's ring was full");
	/* only what happened: a quiet daemon prints no counter lines */
	for (i = 0, n = 0; i < MXC_COUNTERS_MAX; i++)
		if (mxc_counter(h, i, &name, NULL, &v) == MXC_OK && v != 0 && ++n)
			printf("counter:        %s %.15g\n", name, v);
	if (n > 0)
		gloss(c, "the daemon's counters that are not zero, since its start (all of them: shmctl metrics)");
	printf("arena:          %" PRIu64 " used, %" PRIu64 " free, %" PRIu64 " limbo (bytes)\n",
	       st->arena_used, st->arena_free, st->arena_limbo);
	gloss(c, "the data area's bytes: used, free, and limbo (freed, held until no running lookup can see them)");
	printf("reader slots:   %" PRIu32 " claimed / %" PRIu32 " total\n", st->slots_claimed, st->nslots);
	gloss(c, "where lookups announce themselves, over all registered client processes (up to 1 s old)");
	printf("writer:         pid %" PRIu64 ", ", st->writer_pid);
	if (st->writer_alive) {
		uint64_t now = wall_ms();

		printf("running since %s, heartbeat %.1f s ago\n",
		       sc_iso_time((int64_t)st->writer_start, iso, sizeof iso),
		       now > st->heartbeat_ms ? (double)(now - st->heartbeat_ms) / 1000 : 0.0);
	} else if (st->writer_exit_ms != 0) {
		printf("gone since %s (clean exit)\n", iso_time_ms(st->writer_exit_ms, iso, sizeof iso));
	} else {
		printf("gone since %s (last heartbeat)\n", iso_time_ms(st->heartbeat_ms, iso, sizeof iso));
	}
	gloss(c, "mxcached, which alone writes the region: running while its heartbeat is under 5 s old");
	printf("last publish:   %s\n", st->last_publish_ms ? iso_time_ms(st->last_publish_ms, iso, sizeof iso)
							  : "never");
	gloss(c, "when the last change became visible to clients");
	printf("data file:      %s\n", st->data_path);
	gloss(c, "the region: clients map it read-only");
	printf("readers file:   %s\n", st->readers_path);
	gloss(c, "mxcached's listing of the client processes and their reader slots");
	/* every file under the region's names: whose /dev/shm files are whose */
	if (tf->err != 0) {
		printf("tmpfs files:    cannot be listed: %s\n", strerror(tf->err));
	} else {
		printf("tmpfs files:    %zu named %s*, after DIR's device and inode\n", tf->n + tf->more, tf->prefix);
		for (i = 0; i < tf->n; i++)
			printf("                %s/%s\n", mxc_shm_dir(), tf->name[i]);
		if (tf->more > 0)
			printf("                (%zu more not listed)\n", tf->more);
	}
	gloss(c, "every file under DIR's region names; shmctl unlink removes them while mxcached is stopped");
	printf("database:       %s/mxcache.db\n", c->dir);
	gloss(c, "SQLite: every change is committed here before it is published");
	printf("control socket: %s/%s\n", c->dir, MXS_CTL_SOCK);
	gloss(c, "where changes and ping go (shmctl override set, sts fetch, federation ...)");
}

/* status exits 3 when the writer is gone, after printing everything: the
 * data is still readable, but "is mxcached up?" is what scripts ask. */
/* metrics: the Prometheus text; exit 0 even with the writer gone (a
 * scraper wants the figures and mxcache_writer_running 0, not a failure). */
int sc_cmd_metrics(const struct sc_ctx *c, char **av, int ac)
{
	char small[1], *buf = NULL;
	mxc_t *h = NULL;
	size_t need = 0;
	int ex, rc;

	(void)av;
	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	/* ask for the size, then a buffer of it: the text grows with releases */
	rc = mxc_metrics(h, small, sizeof(small), &need);
	if (rc == MXC_ETOOSMALL) {
		buf = malloc(need);
		if (buf == NULL) {
			sc_err("out of memory");
			ex = SC_ERROR;
			goto out;
		}
		rc = mxc_metrics(h, buf, need, NULL);
	}
	if (rc != MXC_OK) {
		sc_err("%s: %s", c->dir, mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	if (fputs(buf, stdout) == EOF || fflush(stdout) != 0) {
		sc_err("standard output: %s", strerror(errno));
		ex = SC_ERROR;
	}
out:
	free(buf);
	mxc_close(h);
	return ex;
}

int sc_cmd_status(const struct sc_ctx *c, char **av, int ac)
{
	struct tmpfs_files *tf = NULL;
	struct mxc_status st;
	mxc_t *h = NULL;
	int ex, rc;

	(void)av;
	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	rc = mxc_status(h, &st);
	if (rc != MXC_OK) {
		sc_err("%s: %s", c->dir, mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	if ((tf = malloc(sizeof(*tf))) == NULL) {
		sc_err("out of memory");
		ex = SC_ERROR;
		goto out;
	}
	tmpfs_list(c, tf);
	if (c->json) {
		ex = status_json(c, h, &st, tf);
	} else {
		status_text(c, h, &st, tf);
		ex = SC_OK;
	}
	if (ex == SC_OK && !st.writer_alive)
		ex = SC_UNAVAIL;
out:
	free(tf);
	mxc_close(h);
	return ex;
}

int sc_cmd_verify(const struct sc_ctx *c, char **av, int ac)
{
	char why[WHY_LEN] = "";
	mxc_t *h = NULL;
	int ex, rc;

	(void)av;
	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	rc = mxc_verify(h, why, sizeof why);
	if (rc == MXC_OK) {
		puts("ok");
	} else {
		puts(why[0] != '\0' ? why : mxc_strerror(rc));
		ex = SC_ERROR;
	}
out:
	mxc_close(h);
	return ex;
}

static const char *reader_state(int s)
{
	switch (s) {
	case MXC_READER_LIVE: return "live";
	case MXC_READER_DEAD: return "dead";
	case MXC_READER_STALLED: return "stalled";
	default: return "unknown";
	}
}

struct readers_out {
	struct json_object *arr;	/* NULL: text */
	int oom;
};

static int reader_one(const struct mxc_reader *r, void *arg)
{
	struct readers_out *ro = arg;
	char iso[ISO_LEN], epoch[24] = "-";
	struct json_object *j;

	if (ro->arr == NULL) {
		if (r->epoch != 0)
			snprintf(epoch, sizeof epoch, "%" PRIu64, r->epoch);
		printf("%-6" PRIu32 " %-8" PRIu32 " %-8" PRIu64 " %-10s %-8s %s\n", r->slot, r->pid, r->tid,
		       epoch, reader_state(r->state), sc_iso_time((int64_t)r->claimed, iso, sizeof iso));
		return 0;
	}
	if ((j = json_object_new_object()) == NULL) {
		ro->oom = 1;
		return 1;
	}
	sc_jint(j, "slot", r->slot, &ro->oom);
	sc_jint(j, "pid", r->pid, &ro->oom);
	sc_juint(j, "tid", r->tid, &ro->oom);
	sc_juint(j, "epoch", r->epoch, &ro->oom);
	sc_jstr(j, "state", reader_state(r->state), &ro->oom);
	sc_jint(j, "claimed", (int64_t)r->claimed, &ro->oom);
	sc_jstr(j, "claimed_iso", sc_iso_time((int64_t)r->claimed, iso, sizeof iso), &ro->oom);
	if (json_object_array_add(ro->arr, j) != 0) {
		json_object_put(j);
		ro->oom = 1;
	}
	return ro->oom;
}

int sc_cmd_readers(const struct sc_ctx *c, char **av, int ac)
{
	struct readers_out ro = { NULL, 0 };
	struct mxc_status st;
	mxc_t *h = NULL;
	int ex, rc, e;

	(void)av;
	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	if (c->json) {
		if ((ro.arr = json_object_new_array()) == NULL)
			ro.oom = 1;
	} else {
		printf("%-6s %-8s %-8s %-10s %-8s %s\n", "SLOT", "PID", "TID", "EPOCH", "STATE", "CLAIMED");
	}
	rc = ro.oom ? MXC_OK : mxc_readers_foreach(h, reader_one, &ro);
	if (rc < 0) {
		e = errno;
		sc_err("%s: %s: %s", c->dir, mxc_strerror(rc), strerror(e));
		if (e == EACCES && mxc_status(h, &st) == MXC_OK)
			sc_access_hint(st.readers_path, "listing the readers needs membership in it");
		ex = SC_ERROR;
	} else if (c->json) {
		ex = sc_json_print(ro.arr, ro.oom);
		ro.arr = NULL;
	}
out:
	json_object_put(ro.arr);
	mxc_close(h);
	return ex;
}

/*
 * unlink: remove DIR's region files from tmpfs, as after a test or before
 * starting over, and the way out when a file under the region's names
 * belongs to someone else (mxcached refuses to start on it).  Refused
 * while mxcached runs for DIR: it holds the lock on DIR/mxcached.pid, and
 * its clients would lose the region they read.
 */
struct unlink_out {
	int n, bad;
};

static int unlink_one(const char *shm, const char *name, void *arg)
{
	struct unlink_out *u = arg;
	char path[MXS_SHM_PATH_MAX + NAME_MAX + 2];

	snprintf(path, sizeof(path), "%s/%s", shm, name);
	if (unlink(path) == 0) {
		printf("removed %s\n", path);
		u->n++;
	} else {
		sc_err("%s: %s", path, strerror(errno));
		u->bad++;
	}
	return 0;
}

int sc_cmd_unlink(const struct sc_ctx *c, char **av, int ac)
{
	struct unlink_out u = { 0, 0 };
	char pid[PATH_MAX];
	struct stat st;
	int fd;

	(void)av;
	(void)ac;
	if (stat(c->dir, &st) != 0) {
		sc_err("%s: %s", c->dir, strerror(errno));
		return SC_UNAVAIL;
	}
	snprintf(pid, sizeof(pid), "%s/mxcached.pid", c->dir);
	fd = open(pid, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
		sc_err("mxcached is running for %s: stop it first", c->dir);
		close(fd);
		return SC_ERROR;
	}
	(void)region_walk(&st, unlink_one, &u);	/* no tmpfs directory: no files */
	if (fd >= 0)
		close(fd);
	if (u.bad != 0)
		return SC_ERROR;
	if (u.n == 0) {
		sc_err("%s: no region files in %s", c->dir, mxc_shm_dir());
		return SC_NOTFOUND;
	}
	return SC_OK;
}
