/*
 * client/tab_tlspin.c - the TLS pin table: get, foreach.
 */
#include "internal.h"

#include "shm/tlspin.h"

struct pin_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc;     /* incarnation the hash was computed for */
	uint64_t hash;
	char *policy;
	size_t len;
};

static int pin_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct pin_q *q = arg;
	struct mxc_tab_ent e;
	const char *p;
	size_t plen;
	int64_t created, updated;
	int rc;

	rc = find_key(m, root, MXS_TAB_TLSPIN, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_ABSENT)
		return MXC_NOTFOUND;
	if (mxc_pin_value_decode(e.val, e.vlen, &created, &updated, &p, &plen) != 0)
		return MXC_ECORRUPT;
	if (plen + 1 > q->len)
		return MXC_ETOOSMALL;
	memcpy(q->policy, p, plen);
	q->policy[plen] = '\0';
	return MXC_OK;
}

int mxc_tls_pin_get(mxc_t *h, const char *domain, char *policy, size_t len)
{
	char k[MXK_MAX_LEN + 1];
	struct pin_q q;
	size_t klen;
	int kind;

	if (h == NULL || domain == NULL || policy == NULL)
		return MXC_EINVAL;
	/* pins are set for domains only: an IP literal has none */
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK || kind != MXK_DOMAIN)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.policy = policy;
	q.len = len;
	return with_read(h, pin_read, &q);
}

struct pin_foreach_q {
	mxc_tls_pin_fn fn;
	void *arg;
	char domain[MXS_TAB_KEY_MAX + 1];
	char policy[MXS_PIN_POLICY_MAX + 1];
};

static int pin_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter, const struct mxc_tab_ent *e,
		   void *arg)
{
	struct pin_foreach_q *q = arg;
	const char *p;
	size_t plen;
	int64_t created, updated;

	(void)m;
	(void)tab;
	(void)slot;
	(void)filter;
	if (e->klen > MXS_TAB_KEY_MAX || mxc_pin_value_decode(e->val, e->vlen, &created, &updated, &p, &plen) != 0)
		return MXC_ECORRUPT;
	memcpy(q->domain, e->key, e->klen);
	q->domain[e->klen] = '\0';
	memcpy(q->policy, p, plen);
	q->policy[plen] = '\0';
	return q->fn(q->domain, q->policy, created, updated, q->arg);
}

int mxc_tls_pin_foreach(mxc_t *h, mxc_tls_pin_fn fn, void *arg)
{
	struct pin_foreach_q q;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	q.fn = fn;
	q.arg = arg;
	return walk_table(h, MXS_TAB_TLSPIN, pin_ent, &q);
}

_Static_assert(MXC_PIN_POLICY_MAX == MXS_PIN_POLICY_MAX, "the public pin limit is the region's");
