/*
 * client/tab_mx.c - the MX cache: lookups, and fetches asked of the daemon.
 */
#include "internal.h"

/* ---- MX cache ---------------------------------------------------------------- */

struct mx_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	struct mxc_mx *out;
	size_t max, n;
	struct mxc_mx_info info;
	uint8_t flags;               /* the value's MXS_MX_F_* */
};

static int mx_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct mx_q *q = arg;
	struct mxc_tab_ent e;
	struct mxc_mx_view v;
	const uint8_t *p;
	size_t i;
	int rc;

	rc = find_key(m, root, MXS_TAB_MX, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_mx_value_decode(e.val, e.vlen, &v) != 0)
		return MXC_ECORRUPT;
	q->info.kind = v.kind;
	q->info.fetched = v.fetched;
	q->info.expires = v.expires;
	q->flags = v.flags;
	q->n = 0;
	if (v.kind == MXS_MX_KIND_IMPLICIT) {
		if (q->max < 1)
			return MXC_ETOOSMALL;
		q->out[0].pref = 0;
		memcpy(q->out[0].host, q->key, q->klen + 1);
		q->n = 1;
	} else if (v.kind == MXS_MX_KIND_MX) {
		if (q->max < v.n)
			return MXC_ETOOSMALL;
		for (i = 0, p = v.rr; i < v.n; i++) {
			memcpy(&q->out[i].pref, p, 2);
			mxc_copy_str(q->out[i].host, p + 3, p[2]);
			p += 3 + (size_t)p[2];
		}
		q->n = v.n;
	}
	return MXC_OK;
}

static int mx_lookup(struct mxc *h, const char *k, size_t klen, struct mxc_mx *out, size_t max, struct mx_q *q)
{
	memset(q, 0, sizeof(*q));
	q->key = k;
	q->klen = klen;
	q->out = out;
	q->max = max;
	return with_read(h, mx_read, q);
}

int mxc_resolve_mx_flags(mxc_t *h, const char *domain, struct mxc_mx *out, size_t max, size_t *n,
			 unsigned *flags)
{
	char k[MXK_MAX_LEN + 1], target[MXC_HOST_MAX + 1];
	struct mx_q mq;
	size_t klen;
	int kind, rc;

	if (flags != NULL)
		*flags = 0;
	if (h == NULL || domain == NULL || out == NULL || n == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK || kind != MXK_DOMAIN)
		return MXC_EINVAL;
	rc = ov_target(h, k, klen, target, sizeof(target));
	if (rc == MXC_OK) {
		if (max < 1)
			return MXC_ETOOSMALL;
		out[0].pref = 0;
		memcpy(out[0].host, target, strlen(target) + 1);
		*n = 1;
		if (flags != NULL)
			*flags = MXC_MX_F_OVERRIDE;
		return MXC_OK;
	}
	if (rc != MXC_NOTFOUND)
		return rc;
	rc = mx_lookup(h, k, klen, out, max, &mq);
	if (rc == MXC_OK && mq.info.expires > wall_coarse_s()) {
		if (mq.info.kind == MXS_MX_KIND_TEMP)
			return MXC_NOTFOUND;   /* the daemon retries when that expires */
		*n = mq.n;
		if (flags != NULL)
			*flags = mq.flags & MXS_MX_F_AUTHENTICATED ? MXC_MX_F_AUTHENTICATED : 0;
		return MXC_OK;
	}
	if (rc == MXC_OK || rc == MXC_NOTFOUND) {
		ev_post(h, MXS_EV_MX_FETCH, k, klen, 0);
		return MXC_NOTFOUND;
	}
	return rc;
}

int mxc_resolve_mx(mxc_t *h, const char *domain, struct mxc_mx *out, size_t max, size_t *n, int *from_override)
{
	unsigned flags = 0;
	int rc = mxc_resolve_mx_flags(h, domain, out, max, n, &flags);

	if (rc == MXC_OK && from_override != NULL)
		*from_override = (flags & MXC_MX_F_OVERRIDE) != 0;
	return rc;
}

int mxc_mx_cached(mxc_t *h, const char *domain, struct mxc_mx *out, size_t max, size_t *n,
		  struct mxc_mx_info *info)
{
	char k[MXK_MAX_LEN + 1];
	struct mx_q mq;
	size_t klen;
	int kind, rc;

	if (h == NULL || domain == NULL || out == NULL || n == NULL || info == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK || kind != MXK_DOMAIN)
		return MXC_EINVAL;
	rc = mx_lookup(h, k, klen, out, max, &mq);
	if (rc == MXC_OK) {
		*n = mq.n;
		*info = mq.info;
	}
	return rc;
}

/* q->info.kind is the region's kind, handed out as the public one */
_Static_assert(MXC_MX_RECORDS == MXS_MX_KIND_MX && MXC_MX_IMPLICIT == MXS_MX_KIND_IMPLICIT &&
		       MXC_MX_NXDOMAIN == MXS_MX_KIND_NXDOMAIN && MXC_MX_NULL == MXS_MX_KIND_NULL &&
		       MXC_MX_TEMPFAIL == MXS_MX_KIND_TEMP,
	       "the public MXC_MX_* are the region's MXS_MX_KIND_*");
_Static_assert(MXC_HOST_MAX >= MXS_MX_HOST_MAX, "an MX host fits struct mxc_mx");
