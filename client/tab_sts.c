/*
 * client/tab_sts.c - MTA-STS policies: get, match, foreach.
 */
#include "internal.h"

/* ---- MTA-STS ------------------------------------------------------------------ */

struct sts_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	struct mxc_sts *out;
	int kind;
	uint32_t recheck_s;          /* the value's: 0, never */
	int64_t txt_checked;
};

/* Fill a struct mxc_sts from a decoded value. */
static void sts_fill(const struct mxc_sts_view *v, struct mxc_sts *o)
{
	const uint8_t *p = v->mx;
	size_t i;

	o->mode = v->mode;
	o->max_age = v->max_age;
	o->fresh = (v->flags & MXS_STS_F_FRESH) != 0;
	o->failure = v->failure;
	o->inserted = v->inserted;
	o->valid_end = v->valid_end;
	o->last_update = v->last_update;
	o->last_use = v->last_use;
	memcpy(o->id, v->id, v->idlen);
	o->id[v->idlen] = '\0';
	for (i = 0; i < v->nmx; i++) {
		mxc_copy_str(o->mx[i], p + 1, p[0]);
		p += 1 + (size_t)p[0];
	}
	o->nmx = v->nmx;
}

static int sts_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct sts_q *q = arg;
	struct mxc_sts_view v;
	int rc;

	rc = find_sts(m, root, q->key, q->klen, &q->hash_inc, &q->hash, &v);
	if (rc != MXC_OK)
		return rc;
	q->kind = v.kind;
	q->recheck_s = v.recheck_s;
	q->txt_checked = v.txt_checked;
	sts_fill(&v, q->out);
	return MXC_OK;
}

int mxc_sts_get(mxc_t *h, const char *domain, struct mxc_sts *out)
{
	char k[MXK_MAX_LEN + 1];
	struct sts_q q;
	size_t klen;
	int64_t now;
	int kind, rc;

	if (h == NULL || domain == NULL || out == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK)
		return MXC_EINVAL;
	if (kind != MXK_DOMAIN)
		return MXC_NOTFOUND;   /* RFC 8461 policies are for domains only */
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.out = out;
	rc = with_read(h, sts_read, &q);
	if (rc != MXC_OK && rc != MXC_NOTFOUND)
		return rc;
	now = wall_coarse_s();
	if (rc == MXC_OK && out->valid_end > now) {
		switch (q.kind) {
		case MXS_STS_KIND_POLICY:
			if (now - out->last_use >= MXS_STS_USE_GRAIN)
				ev_post(h, MXS_EV_STS_USED, k, klen, now);
			/* a policy changed since its TXT record was last looked
			 * at is only seen by looking again: the daemon does, in
			 * the background, and this answer stands meanwhile;
			 * it takes one such request per recheck_s per domain */
			if (q.recheck_s > 0 && now - q.txt_checked >= (int64_t)q.recheck_s)
				ev_post(h, MXS_EV_STS_RECHECK, k, klen, now);
			return MXC_OK;
		case MXS_STS_KIND_BACKOFF:
			return MXC_BACKOFF;
		default:
			return MXC_NOTFOUND;   /* known to publish none */
		}
	}
	ev_post(h, MXS_EV_STS_FETCH, k, klen, 0);
	return MXC_NOTFOUND;
}

int mxc_sts_match(const struct mxc_sts *p, const char *mx_host)
{
	size_t i, hlen;

	if (p == NULL || mx_host == NULL)
		return 0;
	hlen = strnlen(mx_host, MXC_HOST_MAX + 2);
	for (i = 0; i < p->nmx && i < MXC_STS_MX_MAX; i++)
		if (mxc_sts_pattern_match(p->mx[i], strnlen(p->mx[i], MXC_HOST_MAX + 1), mx_host, hlen))
			return 1;
	return 0;
}

/* the mode is handed out as it is stored */
_Static_assert(MXC_STS_NONE == MXS_STS_MODE_NONE && MXC_STS_TESTING == MXS_STS_MODE_TESTING &&
		       MXC_STS_ENFORCE == MXS_STS_MODE_ENFORCE,
	       "the public MXC_STS_NONE/TESTING/ENFORCE are the region's MXS_STS_MODE_*");
/* a policy's id and patterns fit struct mxc_sts */
_Static_assert(MXC_STS_ID_MAX == MXS_STS_ID_MAX && MXC_STS_MX_MAX == MXS_STS_MX_MAX,
	       "the public bounds of struct mxc_sts are the region's");
_Static_assert(MXC_HOST_MAX >= MXS_STS_PATTERN_MAX, "a pattern fits struct mxc_sts");
/* the public MXC_STS_FAILED_* are the region's MXS_STS_FAIL_* */
_Static_assert(MXC_STS_FAILED_NONE == MXS_STS_FAIL_NONE && MXC_STS_FAILED_DNS == MXS_STS_FAIL_DNS &&
		       MXC_STS_FAILED_FETCH == MXS_STS_FAIL_FETCH && MXC_STS_FAILED_INVALID == MXS_STS_FAIL_INVALID &&
		       MXC_STS_FAILED_WEBPKI == MXS_STS_FAIL_WEBPKI && MXC_STS_FAILED_RECORD == MXS_STS_FAIL_RECORD,
	       "failure classes differ between mxcache.h and shm/sts.h");

const char *mxc_sts_failure_name(int failure)
{
	return mxc_sts_fail_name(failure);
}

struct sts_foreach_q {
	mxc_sts_fn fn;
	void *arg;
	struct mxc_sts p;
};

static int sts_foreach_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
			   const struct mxc_tab_ent *e, void *arg)
{
	struct sts_foreach_q *q = arg;
	char dom[MXS_TAB_KEY_MAX + 1];
	struct mxc_sts_view v;

	(void)m;
	(void)tab;
	(void)slot;
	(void)filter;
	if (mxc_sts_value_decode(e->val, e->vlen, &v) != 0)
		return MXC_ECORRUPT;
	sts_fill(&v, &q->p);
	memcpy(dom, e->key, e->klen);
	dom[e->klen] = '\0';
	return q->fn(dom, v.kind == MXS_STS_KIND_POLICY ? MXC_OK : v.kind == MXS_STS_KIND_BACKOFF ? MXC_BACKOFF
												 : MXC_NOTFOUND,
		     &q->p, q->arg);
}

int mxc_sts_foreach(mxc_t *h, mxc_sts_fn fn, void *arg)
{
	struct sts_foreach_q *q;
	int rc;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	/* a walk, not a lookup: the 16 KiB policy is better off the stack */
	q = malloc(sizeof(*q));
	if (q == NULL)
		return MXC_ESYS;
	q->fn = fn;
	q->arg = arg;
	rc = walk_table(h, MXS_TAB_STS, sts_foreach_ent, q);
	free(q);
	return rc;
}
