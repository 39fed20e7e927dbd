/*
 * client/tab_tls.c - the TLS policy of a domain, as the mtasts maps
 * answer it: a pin, else DANE, else MTA-STS (mxc_tls_policy); and the
 * policy text kept for TLSRPT (mxc_sts_text).
 *
 * Why DANE before MTA-STS: RFC 8461 section 2 leaves a domain with
 * DNSSEC-authenticated TLSA records to DANE, and RFC 7672's "dane-only"
 * is strictly stronger than "secure match=...": it pins the MX hosts'
 * keys, where MTA-STS trusts any public CA.  Telling Postfix "secure"
 * for such a domain overrides its own DANE, so the order matters.
 *
 * One read section covers both tables (the pin and the MTA-STS entry),
 * so the answer is taken from one state of the region.
 */
#include "internal.h"

#include "shm/tlspin.h"

_Static_assert(MXC_DANE_UNKNOWN == MXS_DANE_UNKNOWN && MXC_DANE_NONE == MXS_DANE_NONE &&
		       MXC_DANE_USABLE == MXS_DANE_USABLE && MXC_DANE_UNUSABLE == MXS_DANE_UNUSABLE,
	       "the public MXC_DANE_* are the region's MXS_DANE_*");
_Static_assert(MXC_PIN_POLICY_MAX == MXS_PIN_POLICY_MAX, "a pin fits the public bound");
/* "secure match=" + every pattern and its ':' + " servername=hostname" */
_Static_assert(MXC_TLS_POLICY_MAX > 13 + MXS_STS_MX_MAX * (MXS_STS_PATTERN_MAX + 1) + 20 &&
		       MXC_TLS_POLICY_MAX > MXS_PIN_POLICY_MAX,
	       "every answer fits struct mxc_tls");

struct tls_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	unsigned flags;
	struct mxc_tls *out;
	/* what the read saw, for the events posted after it */
	int have_sts, sts_kind, answer;       /* answer: the MXC_* to return */
	int64_t last_use, txt_checked;
	uint32_t recheck_s;
};

#define TLS_NOTHING 100   /* internal: nothing known (MXC_NOTFOUND, and ask) */

static void put_policy(struct mxc_tls *o, const char *s, size_t n)
{
	memcpy(o->policy, s, n);
	o->policy[n] = '\0';
}

/* Postfix's match= list: ':'-separated, "*.x" written ".x", in the
 * policy's order so equal policies give equal answers. */
static void sts_policy(struct mxc_tls *o, const struct mxc_sts_view *v)
{
	static const char head[] = "secure match=", tail[] = " servername=hostname";
	const uint8_t *p = v->mx;
	size_t i, n = sizeof(head) - 1;

	memcpy(o->policy, head, n);
	for (i = 0; i < v->nmx; i++) {
		const uint8_t *pat = p + 1;
		size_t len = p[0];

		if (len > 1 && pat[0] == '*') {
			pat++;
			len--;
		}
		if (i > 0)
			o->policy[n++] = ':';
		memcpy(o->policy + n, pat, len);
		n += len;
		p += 1 + (size_t)p[0];
	}
	memcpy(o->policy + n, tail, sizeof(tail));
}

static int tls_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct tls_q *q = arg;
	struct mxc_tls *o = q->out;
	struct mxc_tab_ent e;
	struct mxc_sts_view v;
	int64_t now = wall_coarse_s(), created, updated;
	const char *pin;
	size_t plen;
	int rc, dane_ok, sts_ok;

	memset(&v, 0, sizeof(v));
	memset(o, 0, offsetof(struct mxc_tls, policy));
	o->policy[0] = '\0';
	o->sts_mode = -1;
	q->have_sts = 0;

	rc = find_sts(m, root, q->key, q->klen, &q->hash_inc, &q->hash, &v);
	if (rc == MXC_ECORRUPT)
		return rc;
	if (rc == MXC_OK) {
		q->have_sts = 1;
		q->sts_kind = v.kind;
		q->last_use = v.last_use;
		q->txt_checked = v.txt_checked;
		q->recheck_s = v.recheck_s;
		o->dane = v.dane_valid_end > now ? v.dane : MXC_DANE_UNKNOWN;
		o->dane_valid_end = v.dane_valid_end;
		o->checked = v.txt_checked > v.last_update ? v.txt_checked : v.last_update;
		if (v.kind == MXS_STS_KIND_POLICY)
			o->sts_mode = v.mode;
	}

	/* a pin first: the operator's word stands over everything */
	rc = find_key(m, root, MXS_TAB_TLSPIN, q->key, q->klen, &q->hash_inc, &q->hash, &e);
	if (rc == MXS_TAB_CORRUPT)
		return MXC_ECORRUPT;
	if (rc == MXS_TAB_FOUND) {
		if (mxc_pin_value_decode(e.val, e.vlen, &created, &updated, &pin, &plen) != 0)
			return MXC_ECORRUPT;
		o->source = MXC_TLS_PIN;
		put_policy(o, pin, plen);
		return MXC_OK;
	}
	if (!q->have_sts)
		return TLS_NOTHING;

	dane_ok = v.dane_valid_end > now;
	if (dane_ok && v.dane == MXS_DANE_USABLE) {
		o->source = MXC_TLS_DANE;
		put_policy(o, "dane-only", 9);
		return MXC_OK;
	}
	if (dane_ok && v.dane == MXS_DANE_UNUSABLE) {
		o->source = MXC_TLS_DANE;
		put_policy(o, "dane", 4);
		return MXC_OK;
	}
	sts_ok = v.valid_end > now;
	if (!sts_ok)
		return TLS_NOTHING;   /* expired: as good as nothing, ask again */
	if (v.kind == MXS_STS_KIND_POLICY && v.nmx > 0 &&
	    (v.mode == MXS_STS_MODE_ENFORCE ||
	     (v.mode == MXS_STS_MODE_TESTING && (q->flags & MXC_TLS_STRICT_TESTING)))) {
		o->source = MXC_TLS_STS;
		sts_policy(o, &v);
		return MXC_OK;
	}
	o->source = MXC_TLS_NONE;
	return MXC_OK;
}

int mxc_tls_policy(mxc_t *h, const char *domain, unsigned flags, struct mxc_tls *out)
{
	char k[MXK_MAX_LEN + 1];
	struct tls_q q;
	size_t klen;
	int64_t now;
	int kind, rc;

	if (h == NULL || domain == NULL || out == NULL || (flags & ~(MXC_TLS_STRICT_TESTING | MXC_TLS_INSPECT)))
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK || kind != MXK_DOMAIN)
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.flags = flags;
	q.out = out;
	rc = with_read(h, tls_read, &q);
	if (rc < 0)
		return rc;
	if (flags & MXC_TLS_INSPECT)
		return rc == TLS_NOTHING ? MXC_NOTFOUND : rc;
	now = wall_coarse_s();
	if (rc == TLS_NOTHING) {
		ev_post(h, MXS_EV_STS_FETCH, k, klen, 0);
		return MXC_NOTFOUND;
	}
	/* the events of a used entry, as mxc_sts_get posts them: the use
	 * (so it is kept), and a re-check of a policy's TXT record gone
	 * unchecked for longer than the daemon's recheck_s */
	if (q.have_sts && out->source != MXC_TLS_PIN) {
		if (now - q.last_use >= MXS_STS_USE_GRAIN)
			ev_post(h, MXS_EV_STS_USED, k, klen, now);
		if (q.sts_kind == MXS_STS_KIND_POLICY && q.recheck_s > 0 && now - q.txt_checked >= (int64_t)q.recheck_s)
			ev_post(h, MXS_EV_STS_RECHECK, k, klen, now);
	}
	return MXC_OK;
}

/* ---- the policy text ------------------------------------------------------------ */

struct text_q {
	const char *key;
	size_t klen;
	uint64_t hash_inc, hash;
	char *buf;
	size_t len, *textlen;
};

static int text_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct text_q *q = arg;
	struct mxc_sts_view v;
	int rc;

	rc = find_sts(m, root, q->key, q->klen, &q->hash_inc, &q->hash, &v);
	if (rc != MXC_OK)
		return rc;
	if (v.kind != MXS_STS_KIND_POLICY || v.text == NULL)
		return MXC_NOTFOUND;
	*q->textlen = v.textlen;
	if (q->len < v.textlen + 1)
		return MXC_ETOOSMALL;
	memcpy(q->buf, v.text, v.textlen);
	q->buf[v.textlen] = '\0';
	return MXC_OK;
}

int mxc_sts_text(mxc_t *h, const char *domain, char *buf, size_t len, size_t *textlen)
{
	char k[MXK_MAX_LEN + 1];
	struct text_q q;
	size_t klen, tl = 0;
	int kind;

	if (h == NULL || domain == NULL || buf == NULL)
		return MXC_EINVAL;
	if (mxk_normalize(domain, k, sizeof(k), &klen, &kind) != MXK_OK)
		return MXC_EINVAL;
	if (kind != MXK_DOMAIN)
		return MXC_NOTFOUND;
	memset(&q, 0, sizeof(q));
	q.key = k;
	q.klen = klen;
	q.buf = buf;
	q.len = len;
	q.textlen = &tl;
	/* ETOOSMALL must not leave a partial copy: text_read writes only
	 * once the size is known to fit */
	kind = with_read(h, text_read, &q);
	if (textlen != NULL)
		*textlen = tl;
	return kind;
}
