/*
 * daemon/tracker.c - the unique-server tracker: how many distinct
 * connecting IPs, sender domains and IP-literal senders since the start,
 * without keeping any of them.
 *
 * Each value is reduced to HMAC-SHA-256 under a 32-byte key drawn from
 * the kernel at start and kept only in this process's memory: the digests
 * cannot be reversed or recomputed by anyone without the key, and a
 * restart makes a new key (the counts are per boot: the same server
 * seen before and after a restart counts once in each).  Three sets of
 * digests (ck_hs, owned by the event thread); what leaves the process is
 * the counts: in the region (MXS_TAB_SERVERS) and in DIR/servers.json
 * (boot_time and the three counts), written atomically.
 */
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <ck_hs.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hs.h"
#include "clock.h"
#include "counters.h"
#include "events.h"
#include "config.h"
#include "log.h"
#include "module.h"
#include "region.h"
#include "shm/key.h"
#include "shm/servers.h"
#include "writer.h"

#define TRACKER_KEY_LEN     32
#define TRACKER_DIGEST_LEN  32
#define TRACKER_CAP         1024
#define TRACKER_PUBLISH_MS  1000     /* counts reach the region and the file this often */
#define TRACKER_FILE        "servers.json"

enum { SET_IP, SET_DOMAIN, SET_IPSRV, SET_N };

struct tracker {
	uint8_t key[TRACKER_KEY_LEN];
	ck_hs_t set[SET_N];
	uint64_t count[SET_N];
	int64_t boot;
	int dirty;
	uint64_t next_pub;
	char path[4096];
	unsigned limit;                 /* digests per set; 0: none (atomic) */
};

static unsigned long digest_hash(const void *obj, unsigned long seed)
{
	unsigned long h;

	(void)seed;
	memcpy(&h, obj, sizeof(h));   /* an HMAC output is uniform already */
	return h;
}

static bool digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, TRACKER_DIGEST_LEN) == 0;
}

struct tracker *tracker_new(const char *dir)
{
	struct tracker *t = calloc(1, sizeof(*t));
	int i;

	if (t == NULL)
		return NULL;
	if (getrandom(t->key, sizeof(t->key), 0) != sizeof(t->key)) {
		/* no key, no tracker: a guessable key would defeat the hashing */
		log_warn("tracker: no random key");
		free(t);
		return NULL;
	}
	for (i = 0; i < SET_N; i++)
		if (!ck_hs_init(&t->set[i], CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, digest_hash, digest_cmp, &hs_alloc,
				TRACKER_CAP, 0)) {
			while (--i >= 0)
				ck_hs_destroy(&t->set[i]);
			free(t);
			return NULL;
		}
	t->boot = (int64_t)time(NULL);
	t->dirty = 1;
	snprintf(t->path, sizeof(t->path), "%s/%s", dir, TRACKER_FILE);
	return t;
}

void tracker_free(struct tracker *t)
{
	ck_hs_iterator_t it;
	void *obj;
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < SET_N; i++) {
		memset(&it, 0, sizeof(it));
		while (ck_hs_next(&t->set[i], &it, &obj))
			free(obj);
		ck_hs_destroy(&t->set[i]);
	}
	OPENSSL_cleanse(t->key, sizeof(t->key));
	free(t);
}

/* Add value to a set by its keyed hash; the value itself goes nowhere. */
static void add(struct tracker *t, int set, const char *v, size_t len)
{
	uint8_t md[EVP_MAX_MD_SIZE], *d;
	unsigned int mdlen = 0;
	unsigned long h;
	unsigned lim;

	/* a set per kind, and the kind in the input: an IP seen as a
	 * connection and as a sender hashes differently */
	uint8_t in[1 + MXK_MAX_LEN];

	if (len > MXK_MAX_LEN)
		return;
	in[0] = (uint8_t)set;
	memcpy(in + 1, v, len);
	if (HMAC(EVP_sha256(), t->key, sizeof(t->key), in, len + 1, md, &mdlen) == NULL ||
	    mdlen != TRACKER_DIGEST_LEN)
		return;
	OPENSSL_cleanse(in, sizeof(in));
	h = CK_HS_HASH(&t->set[set], digest_hash, md);
	if (ck_hs_get(&t->set[set], h, md) != NULL)
		return;
	lim = __atomic_load_n(&t->limit, __ATOMIC_RELAXED);
	if (lim != 0 && t->count[set] >= lim) {
		/* the count becomes "at least": better than unbounded memory */
		ctr_limit(MXS_CTR_LIMIT_SERVERS,
			  "tracker: a set holds %u values ([limits] servers): new values are not counted", lim);
		return;
	}
	d = malloc(TRACKER_DIGEST_LEN);
	if (d == NULL)
		return;
	memcpy(d, md, TRACKER_DIGEST_LEN);
	if (!ck_hs_put(&t->set[set], h, d)) {
		free(d);
		return;
	}
	t->count[set]++;
	t->dirty = 1;
}

int tracker_event(struct tracker *t, const char *name, size_t len)
{
	char ip[MXK_MAX_LEN + 1], dom[MXK_MAX_LEN + 1], part[MXS_EV_NAME_MAX + 1];
	const char *sp = memchr(name, ' ', len);
	size_t il, dl;
	int kind;

	if (sp == NULL || (size_t)(sp - name) >= sizeof(part))
		return -1;
	/* both halves must already be canonical: clients normalise */
	memcpy(part, name, (size_t)(sp - name));
	part[sp - name] = '\0';
	if (mxk_normalize(part, ip, sizeof(ip), &il, &kind) != MXK_OK || kind == MXK_DOMAIN || strcmp(ip, part) != 0)
		return -1;
	dl = len - (size_t)(sp - name) - 1;
	if (dl > 0) {
		memcpy(part, sp + 1, dl);
		part[dl] = '\0';
		if (mxk_normalize(part, dom, sizeof(dom), &dl, &kind) != MXK_OK || strcmp(dom, part) != 0)
			return -1;
	}
	add(t, SET_IP, ip, il);
	if (dl > 0)
		add(t, kind == MXK_DOMAIN ? SET_DOMAIN : SET_IPSRV, dom, dl);
	OPENSSL_cleanse(part, sizeof(part));
	return 0;
}

/* ---- publishing ------------------------------------------------------------- */

struct tjob {
	uint64_t v[4];
};

static int pub_store(struct store *st, void *arg, int64_t now)
{
	(void)st;
	(void)arg;
	(void)now;
	return 1;                          /* never in SQLite: counts are per boot */
}

static int pub_apply(struct region *rg, void *arg)
{
	struct tjob *j = arg;
	uint8_t val[MXS_SERVERS_VALUE_LEN];

	mxc_servers_encode(val, j->v);
	return region_put(rg, MXS_TAB_SERVERS, MXS_SERVERS_KEY, 1, val, sizeof(val), NULL, 0) < 0 ? -1 : 0;
}

/* DIR/servers.json, replaced by rename so a reader never sees half */
static void write_file(const struct tracker *t)
{
	char tmp[sizeof(t->path) + 16], buf[256];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", t->path);
	n = snprintf(buf, sizeof(buf),
		     "{\"boot_time\":%lld,\"unique_conn_ips\":%llu,\"unique_domains\":%llu,\"unique_ip_servers\":%llu}\n",
		     (long long)t->boot, (unsigned long long)t->count[SET_IP],
		     (unsigned long long)t->count[SET_DOMAIN], (unsigned long long)t->count[SET_IPSRV]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_warn("tracker: %s", tmp);
		return;
	}
	if (write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
		log_warn("tracker: %s", tmp);
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	if (rename(tmp, t->path) != 0) {
		log_warn("tracker: %s", t->path);
		unlink(tmp);
	}
}

void tracker_tick(struct tracker *t, struct writer *w, int final)
{
	struct writer_job job;
	struct writer_cmd c;
	struct tjob j;
	uint64_t now = mono_ms();

	if (!t->dirty || (!final && now < t->next_pub))
		return;
	t->next_pub = now + TRACKER_PUBLISH_MS;
	t->dirty = 0;
	j.v[0] = (uint64_t)t->boot;
	j.v[1] = t->count[SET_IP];
	j.v[2] = t->count[SET_DOMAIN];
	j.v[3] = t->count[SET_IPSRV];
	memset(&job, 0, sizeof(job));
	job.store = pub_store;
	job.apply = pub_apply;
	job.arg = &j;
	job.nent = 1;
	job.bytes = 64;
	writer_cmd_job(&c, &job);
	writer_run(w, &c);
	if (c.status < 0)
		log_warnx("tracker: counts not published: %s", c.msg);
	writer_cmd_destroy(&c);
	write_file(t);
}

uint64_t tracker_due(const struct tracker *t)
{
	return t->dirty ? t->next_pub : UINT64_MAX;
}

void tracker_set_limit(struct tracker *t, unsigned per_set)
{
	__atomic_store_n(&t->limit, per_set, __ATOMIC_RELAXED);
}

/* the record is "IP DOMAIN" as posted: tracker_event checks it */
static int on_event(void *arg, const struct mxc_event *ev, const char *name, size_t len, uint64_t src,
		    uint32_t pid)
{
	(void)ev;
	(void)src;
	(void)pid;
	return tracker_event(arg, name, len);
}

static void on_tick(void *arg, struct writer *w, int final)
{
	tracker_tick(arg, w, final);
}

static uint64_t on_due(const void *arg)
{
	return tracker_due(arg);
}

int tracker_attach(struct tracker *t, struct events *e)
{
	if (events_on(e, MXS_EV_SERVER, EVENTS_NAME_RAW, on_event, t) != 0 || events_tick(e, on_tick, on_due, t) != 0)
		return -1;
	return 0;
}

static int mod_attach(void *self, struct events *e)
{
	return tracker_attach(self, e);
}

static void mod_set_limits(void *self, const struct config *cfg)
{
	tracker_set_limit(self, cfg->lim_servers);
}

static void mod_stop(void *self)
{
	tracker_free(self);
}

const struct module_ops tracker_module = {
	.name = "servers",
	.attach = mod_attach,
	.set_limits = mod_set_limits,
	.stop = mod_stop,
};
