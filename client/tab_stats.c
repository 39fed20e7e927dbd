/*
 * client/tab_stats.c - delivery stats: events that feed them, get, foreach.
 */
#include "internal.h"

/* ---- delivery stats ---------------------------------------------------------------- */

/* The canonical domain of a stats call; MXC_EINVAL if it is not one. */
static int stat_key(const char *domain, char *k, size_t *klen)
{
	if (domain == NULL || mxk_normalize(domain, k, MXK_MAX_LEN + 1, klen, NULL) != MXK_OK)
		return MXC_EINVAL;
	return MXC_OK;
}

int mxc_queue_add(mxc_t *h, const char *domain, int delta)
{
	char k[MXK_MAX_LEN + 1];
	size_t klen;

	if (h == NULL || delta == 0 || delta > MXS_STAT_DELTA_MAX || delta < -MXS_STAT_DELTA_MAX ||
	    stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	return ev_post_aux(h, MXS_EV_QUEUE, 0, k, klen, delta);
}

int mxc_record_success(mxc_t *h, const char *domain, int64_t latency_ms, enum mxc_transport t)
{
	char k[MXK_MAX_LEN + 1];
	size_t klen;

	if (h == NULL || (unsigned)t > MXC_TRANSPORT_SMTP || latency_ms < 0 || latency_ms > MXS_STAT_LATENCY_MAX ||
	    stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	return ev_post_aux(h, MXS_EV_SUCCESS, (uint8_t)t, k, klen, latency_ms);
}

int mxc_record_failure(mxc_t *h, const char *domain, enum mxc_transport t)
{
	char k[MXK_MAX_LEN + 1];
	size_t klen;

	if (h == NULL || t < MXC_TRANSPORT_HTTP || t > MXC_TRANSPORT_SMTP || stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	return ev_post_aux(h, MXS_EV_FAILURE, (uint8_t)t, k, klen, 0);
}

static void stat_fill(struct mxc_stat *o, const char *key, size_t klen, const int64_t *f)
{
	memcpy(o->domain, key, klen);
	o->domain[klen] = '\0';
	o->queued_messages = f[MXS_STAT_QUEUED];
	o->failed_http = f[MXS_STAT_FAILED_HTTP];
	o->failed_https = f[MXS_STAT_FAILED_HTTPS];
	o->failed_smtp = f[MXS_STAT_FAILED_SMTP];
	o->success_http = f[MXS_STAT_SUCCESS_HTTP];
	o->success_https = f[MXS_STAT_SUCCESS_HTTPS];
	o->success_smtp = f[MXS_STAT_SUCCESS_SMTP];
	o->successful_deliveries = f[MXS_STAT_DELIVERIES];
	o->total_latency_ms = f[MXS_STAT_LATENCY];
	o->last_active = f[MXS_STAT_LAST_ACTIVE];
	o->mean_latency_ms = o->successful_deliveries > 0 ? (double)o->total_latency_ms / (double)o->successful_deliveries
							   : 0.0;
}

struct stat_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	struct mxc_stat *out;
};

static int stat_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct stat_q *q = arg;
	struct mxc_tab_ent e;
	int64_t f[MXS_STAT_NFIELDS];
	int rc;

	rc = find_key(m, root, MXS_TAB_STATS, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_stat_decode(e.val, e.vlen, f) != 0)
		return MXC_ECORRUPT;
	stat_fill(q->out, q->key, q->klen, f);
	return MXC_OK;
}

int mxc_stat_get(mxc_t *h, const char *domain, struct mxc_stat *out)
{
	char k[MXK_MAX_LEN + 1];
	struct stat_q q;
	size_t klen;

	if (h == NULL || out == NULL || stat_key(domain, k, &klen) != MXC_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.out = out;
	return with_read(h, stat_read, &q);
}

struct stat_each_q {
	mxc_stat_fn fn;
	void *arg;
	struct mxc_stat s;
};

static int stat_each_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
			 const struct mxc_tab_ent *e, void *arg)
{
	struct stat_each_q *q = arg;
	int64_t f[MXS_STAT_NFIELDS];

	(void)m;
	(void)tab;
	(void)slot;
	(void)filter;
	if (mxc_stat_decode(e->val, e->vlen, f) != 0)
		return MXC_ECORRUPT;
	stat_fill(&q->s, (const char *)e->key, e->klen, f);
	return q->fn(&q->s, q->arg);
}

int mxc_stat_foreach(mxc_t *h, mxc_stat_fn fn, void *arg)
{
	struct stat_each_q q;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	q.fn = fn;
	q.arg = arg;
	return walk_table(h, MXS_TAB_STATS, stat_each_ent, &q);
}

/* an event's aux byte is the transport as the caller named it */
_Static_assert(MXC_TRANSPORT_NONE == MXS_STAT_T_NONE && MXC_TRANSPORT_HTTP == MXS_STAT_T_HTTP &&
		       MXC_TRANSPORT_HTTPS == MXS_STAT_T_HTTPS && MXC_TRANSPORT_SMTP == MXS_STAT_T_SMTP,
	       "enum mxc_transport is the region's MXS_STAT_T_*");
