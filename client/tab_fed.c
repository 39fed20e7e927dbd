/*
 * client/tab_fed.c - federation: the settings and the rules.
 */
#include "internal.h"

/* ---- federation ----------------------------------------------------------------- */

struct fed_q {
	const char *key;              /* the domain asked, or NULL (settings only) */
	size_t klen;
	uint64_t hash_inc, hash, shash;
	int have_settings, policy, rule;
	int64_t updated;
	char local[MXC_HOST_MAX + 1];
	uint64_t count;
};

static int fed_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct fed_q *q = arg;
	const struct mxc_shm_tab *t = &root->r_tab[MXS_TAB_FED];
	struct mxc_tab_ent e;
	const uint8_t *local;
	size_t llen;
	int rc;

	if (q->hash_inc != m->inc) {
		q->shash = mxc_tab_hash(m->hdr, MXS_FED_SETTINGS_KEY, 1);
		if (q->key != NULL)
			q->hash = mxc_tab_hash(m->hdr, q->key, q->klen);
		q->hash_inc = m->inc;
	}
	q->have_settings = 0;
	q->rule = 0;
	q->count = m->hdr->h_count[MXS_TAB_FED];
	rc = mxc_tab_find(m->base, m->lim, t, MXS_TAB_FED, q->shash, MXS_FED_SETTINGS_KEY, 1, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_FOUND) {
		if (mxc_fed_settings_decode(e.val, e.vlen, &q->policy, &q->updated, &local, &llen) != 0)
			return MXC_ECORRUPT;
		memcpy(q->local, local, llen);
		q->local[llen] = '\0';
		q->have_settings = 1;
	}
	if (q->key == NULL)
		return MXC_OK;
	rc = mxc_tab_find(m->base, m->lim, t, MXS_TAB_FED, q->hash, q->key, q->klen, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	q->rule = rc == MXS_TAB_FOUND;
	return MXC_OK;
}

int mxc_federation_allowed(mxc_t *h, const char *domain)
{
	char k[MXK_MAX_LEN + 1];
	struct fed_q q;
	size_t klen;
	int rc;

	if (h == NULL || domain == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, NULL) != MXK_OK)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	rc = with_read(h, fed_read, &q);
	if (rc != MXC_OK)
		return rc;
	if (!q.have_settings)
		q.policy = MXS_FED_ACCEPT;         /* never set: ACCEPT, no local domain */
	if (q.local[0] != '\0' && strcmp(q.local, k) == 0)
		return 1;
	if (q.policy == MXS_FED_REJECT)
		return q.rule;
	return !q.rule;
}

int mxc_federation_get(mxc_t *h, struct mxc_federation *out)
{
	struct fed_q q;
	int rc;

	if (h == NULL || out == NULL)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	rc = with_read(h, fed_read, &q);
	if (rc != MXC_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	out->policy = q.have_settings ? q.policy : MXC_FED_POLICY_ACCEPT;
	memcpy(out->local, q.local, sizeof(out->local));
	out->rules = q.have_settings && q.count > 0 ? q.count - 1 : q.count;
	out->updated = q.have_settings ? q.updated : 0;
	return MXC_OK;
}

struct fed_rules_q {
	mxc_fed_rule_fn fn;
	void *arg;
};

static int fed_rule_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
			const struct mxc_tab_ent *e, void *arg)
{
	struct fed_rules_q *q = arg;
	char dom[MXS_TAB_KEY_MAX + 1];
	int64_t created;

	(void)m;
	(void)tab;
	(void)slot;
	(void)filter;
	if (e->klen == 1 && e->key[0] == '.')
		return 0;                          /* the settings */
	if (mxc_fed_rule_decode(e->val, e->vlen, &created) != 0)
		return MXC_ECORRUPT;
	memcpy(dom, e->key, e->klen);
	dom[e->klen] = '\0';
	return q->fn(dom, created, q->arg);
}

int mxc_federation_rules(mxc_t *h, mxc_fed_rule_fn fn, void *arg)
{
	struct fed_rules_q q;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	q.fn = fn;
	q.arg = arg;
	return walk_table(h, MXS_TAB_FED, fed_rule_ent, &q);
}

/* the settings' policy is handed out as it is stored */
_Static_assert(MXC_FED_POLICY_ACCEPT == MXS_FED_ACCEPT && MXC_FED_POLICY_REJECT == MXS_FED_REJECT,
	       "the public MXC_FED_POLICY_* are the region's MXS_FED_*");
_Static_assert(MXC_HOST_MAX >= MXS_FED_LOCAL_MAX, "the local domain fits struct mxc_federation");
