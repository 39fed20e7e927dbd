/*
 * client/tab_override.c - the override table: resolve, get, foreach.
 */
#include "internal.h"

/* ---- lookups ------------------------------------------------------------ */

int mxc_normalize(const char *key, char *out, size_t outlen)
{
	int rc;

	if (key == NULL || out == NULL)
		return MXC_EINVAL;
	rc = mxk_normalize(key, out, outlen, NULL, NULL);
	return rc == MXK_OK ? MXC_OK : rc == MXK_ETOOSMALL ? MXC_ETOOSMALL : MXC_EINVAL;
}

struct ov_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc;     /* incarnation the hash was computed for */
	uint64_t hash;
	char *host;            /* resolve: the target */
	size_t hostlen;
	struct mxc_override *full;  /* get: everything */
};

/* Fill a struct mxc_override from an entry.  MXC_ECORRUPT if the entry
 * does not hold what the override table promises. */
int ov_fill(const struct mxc_map *m, const struct mxc_tab_ent *e, struct mxc_override *o)
{
	const uint8_t *target, *comment;
	size_t tlen, clen;

	(void)m;
	if (mxc_ov_value_decode(e->val, e->vlen, &o->created, &o->updated, &target, &tlen, &comment, &clen) != 0)
		return MXC_ECORRUPT;
	memcpy(o->key, e->key, e->klen);
	o->key[e->klen] = '\0';
	mxc_copy_str(o->target, target, tlen);
	memcpy(o->comment, comment, clen);
	o->comment[clen] = '\0';
	return MXC_OK;
}

static int ov_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct ov_q *q = arg;
	struct mxc_tab_ent e;
	const uint8_t *target;
	size_t tlen;
	int rc;

	rc = find_key(m, root, MXS_TAB_OVERRIDE, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (q->full != NULL)
		return ov_fill(m, &e, q->full);
	target = mxc_ov_target(e.val, e.vlen, &tlen);
	if (target == NULL)
		return MXC_ECORRUPT;
	if (tlen + 1 > q->hostlen)
		return MXC_ETOOSMALL;
	mxc_copy_str(q->host, target, tlen);
	return MXC_OK;
}

int mxc_resolve(mxc_t *h, const char *key, char *host, size_t hostlen)
{
	char k[MXK_MAX_LEN + 1];
	struct ov_q q;
	size_t klen;
	int kind, rc;

	if (h == NULL || key == NULL || host == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(key, k, sizeof(k), &klen, &kind) != MXK_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.host = host;
	q.hostlen = hostlen;
	rc = with_read(h, ov_read, &q);
	if (rc == MXC_NOTFOUND && kind != MXK_DOMAIN) {
		/* an IP is already an endpoint: no resolution needed */
		if (klen + 1 > hostlen)
			return MXC_ETOOSMALL;
		memcpy(host, k, klen + 1);
		return MXC_OK;
	}
	return rc;
}

/* The target of canonical key k, for tab_mx.c: an override wins over
 * the MX cache. */
int ov_target(struct mxc *h, const char *k, size_t klen, char *host, size_t hostlen)
{
	struct ov_q q;

	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.host = host;
	q.hostlen = hostlen;
	return with_read(h, ov_read, &q);
}

int mxc_override_get(mxc_t *h, const char *key, struct mxc_override *out)
{
	char k[MXK_MAX_LEN + 1];
	struct ov_q q;
	size_t klen;

	if (h == NULL || key == NULL || out == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(key, k, sizeof(k), &klen, NULL) != MXK_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.full = out;
	return with_read(h, ov_read, &q);
}

struct foreach_q {
	mxc_override_fn fn;
	void *arg;
	struct mxc_override o;
};

static int foreach_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
		       const struct mxc_tab_ent *e, void *arg)
{
	struct foreach_q *q = arg;
	int rc;

	(void)tab;
	(void)slot;
	(void)filter;
	rc = ov_fill(m, e, &q->o);
	if (rc != MXC_OK)
		return rc;
	return q->fn(&q->o, q->arg);
}

int mxc_override_foreach(mxc_t *h, mxc_override_fn fn, void *arg)
{
	struct foreach_q q;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	q.fn = fn;
	q.arg = arg;
	return walk_table(h, MXS_TAB_OVERRIDE, foreach_ent, &q);
}

_Static_assert(MXC_HOST_MAX >= MXS_OV_TARGET_MAX, "a target fits struct mxc_override");
_Static_assert(MXC_COMMENT_MAX >= MXS_OV_COMMENT_MAX, "a comment fits struct mxc_override");
