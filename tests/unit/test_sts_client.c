/*
 * test_sts_client - the MTA-STS and MX tables between the daemon's side
 * (daemon/sts_store.c region values) and the client library in one
 * process: every kind of entry and what mxc_sts_get / mxc_resolve_mx
 * answer for it, the events a lookup posts (and the ones it must not),
 * a full event ring, and a corrupt value.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/sts.h"
#include "daemon/readers.h"
#include "shm/events.h"
#include "shm/readers.h"
#include "shm/override.h"
#include "shm/path.h"
#include "tests/fixture.h"
#include "tests/tap.h"

static char dir[] = "/tmp/mxc-test-sts.XXXXXX";

struct take_q {
	int type, n;
	const char *name;
};

static void take_one(void *arg, uint64_t src, uint32_t pid, const struct mxc_event *ev)
{
	struct take_q *q = arg;

	(void)src;
	(void)pid;
	if ((q->type == 0 || ev->e_type == q->type) && ev->e_nlen == strlen(q->name) &&
	    memcmp(ev->e_name, q->name, ev->e_nlen) == 0)
		q->n++;
}

/* Events waiting in any ring for name, of type (0: any), consumed. */
static int take_events(struct region *r, int type, const char *name)
{
	struct take_q q = { type, 0, name };

	while (readers_drain(region_readers(r), 1, take_one, &q) != 0)
		;
	return q.n;
}

/* ---- a thread that could not claim a slot claims one later ---- */

struct hold {
	mxc_t *h;
	int go;                      /* atomic: holders may leave */
	int claimed;                 /* atomic: holders that did a lookup */
};

static void *holder(void *arg)
{
	struct hold *q = arg;
	char host[256];

	(void)mxc_resolve(q->h, "holder.example", host, sizeof(host));
	__atomic_add_fetch(&q->claimed, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&q->go, __ATOMIC_SEQ_CST))
		usleep(1000);
	return NULL;       /* the thread's slot is released on exit */
}

static void *poster(void *arg)
{
	struct hold *q = arg;
	intptr_t ok_after = -1;
	int i;

	if (mxc_queue_add(q->h, "poster.example", 1) != MXC_EFULL)
		return (void *)(intptr_t)-2;
	__atomic_store_n(&q->go, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < 40 && ok_after < 0; i++) {
		usleep(100000);
		if (mxc_queue_add(q->h, "poster.example", 1) == MXC_OK)
			ok_after = i + 1;
	}
	return (void *)ok_after;
}

static void slot_retry(mxc_t *h, struct region *r)
{
	struct hold q = { h, 0, 0 };
	pthread_t th[MXS_SLOTS_MIN], tp;
	void *res = NULL;
	int i;

	for (i = 0; i < MXS_SLOTS_MIN; i++)
		pthread_create(&th[i], NULL, holder, &q);
	while (__atomic_load_n(&q.claimed, __ATOMIC_SEQ_CST) < MXS_SLOTS_MIN)
		usleep(1000);
	pthread_create(&tp, NULL, poster, &q);
	pthread_join(tp, &res);
	for (i = 0; i < MXS_SLOTS_MIN; i++)
		pthread_join(th[i], NULL);
	ok((intptr_t)res != -2, "a thread that finds every slot taken cannot post (MXC_EFULL)");
	ok((intptr_t)res > 0 && (intptr_t)res <= 20,
	   "once slots are free again, the same thread posts within 2 s (%ld tries of 100 ms)", (long)(intptr_t)res);
	is_int(take_events(r, MXS_EV_QUEUE, "poster.example"), 1, "and the daemon gets its event");
}

static void policy(struct sts_rec *p, const char *domain, int kind, int64_t valid_end, int64_t last_use)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	p->kind = kind;
	p->valid_end = valid_end;
	p->last_use = last_use;
	p->inserted = 1000;
	p->last_update = 2000;
	p->txt_checked = (int64_t)time(NULL);   /* a TXT record looked at just now */
	if (kind == MXS_STS_KIND_POLICY) {
		p->mode = MXS_STS_MODE_ENFORCE;
		p->max_age = 86400;
		p->flags = MXS_STS_F_FRESH;
		snprintf(p->id, sizeof(p->id), "20240101T000000");
		p->nmx = 2;
		snprintf(p->mx[0], sizeof(p->mx[0]), "a.example");
		snprintf(p->mx[1], sizeof(p->mx[1]), "*.b.example");
	} else if (kind == MXS_STS_KIND_BACKOFF) {
		p->failure = MXS_STS_FAIL_WEBPKI;
	}
}

int main(void)
{
	struct region *r;
	struct sts_rec *p;
	struct mx_rec m;
	struct mxc_sts *s;
	struct mxc_mx mx[4];
	struct mxc_mx_info info;
	char why[256];
	int64_t now = (int64_t)time(NULL);
	size_t n;
	int from, i, rc;
	mxc_t *h;
	uint8_t junk[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };

	log_init(1, LOG_WARNING);
	if (fixture_dir(dir) != 0)
		return 1;
	p = malloc(sizeof(*p));
	s = malloc(sizeof(*s));
	if (p == NULL || s == NULL)
		return 1;
	if (fixture_region(dir, 16, &r) != 0 || region_go_live(r) != 0) {
		ok(0, "region");
		return tap_done();
	}

	policy(p, "policy.example", MXS_STS_KIND_POLICY, now + 3600, now);
	is_int(sts_region_put(r, p), 0, "put a policy");
	policy(p, "expired.example", MXS_STS_KIND_POLICY, now - 1, now);
	is_int(sts_region_put(r, p), 0, "put an expired policy");
	policy(p, "backoff.example", MXS_STS_KIND_BACKOFF, now + 300, now);
	is_int(sts_region_put(r, p), 0, "put a backoff entry");
	policy(p, "oldbackoff.example", MXS_STS_KIND_BACKOFF, now - 1, now);
	is_int(sts_region_put(r, p), 0, "put an expired backoff entry");
	policy(p, "none.example", MXS_STS_KIND_NONE, now + 300, now);
	is_int(sts_region_put(r, p), 0, "put a no-policy entry");
	policy(p, "unused.example", MXS_STS_KIND_POLICY, now + 3600, now - 2 * MXS_STS_USE_GRAIN);
	is_int(sts_region_put(r, p), 0, "put a policy not used for a while");
	policy(p, "stale.example", MXS_STS_KIND_POLICY, now + 3600, now);
	p->txt_checked = now - STS_RECHECK_DEFAULT_S - 1;
	is_int(sts_region_put(r, p), 0, "put a policy whose TXT record was looked at over recheck_s ago");
	sts_store_set_recheck(0);
	policy(p, "norecheck.example", MXS_STS_KIND_POLICY, now + 3600, now);
	p->txt_checked = now - 10 * STS_RECHECK_DEFAULT_S;
	is_int(sts_region_put(r, p), 0, "put one the same, with recheck_s 0");
	sts_store_set_recheck(STS_RECHECK_DEFAULT_S);
	p->nmx = MXS_STS_MX_MAX + 1;
	is_int(sts_region_put(r, p), -1, "more patterns than the table holds: refused");
	region_publish(r);
	is_int(mxc_open(dir, &h), MXC_OK, "mxc_open");

	is_int(mxc_sts_get(h, "POLICY.example.", s), MXC_OK, "a valid policy, any spelling");
	is_int(s->mode, MXC_STS_ENFORCE, "mode");
	is_int(s->max_age, 86400, "max_age");
	is_int(s->fresh, 1, "fresh");
	is_str(s->id, "20240101T000000", "id");
	is_int(s->nmx, 2, "two patterns");
	is_str(s->mx[1], "*.b.example", "wildcard kept");
	is_int(s->valid_end, now + 3600, "valid_end");
	is_int(take_events(r, 0, "policy.example"), 0, "a hit used this hour posts nothing");

	/* RFC 8461 §4.1 matching, through the client API */
	is_int(mxc_sts_match(s, "a.example"), 1, "match: exact");
	is_int(mxc_sts_match(s, "A.EXAMPLE."), 1, "match: case and trailing dot");
	is_int(mxc_sts_match(s, "sub.b.example"), 1, "match: one label for the wildcard");
	is_int(mxc_sts_match(s, "b.example"), 0, "no match: the wildcard needs a label");
	is_int(mxc_sts_match(s, "sub.sub.b.example"), 0, "no match: only one label");
	is_int(mxc_sts_match(s, "other"), 0, "no match: other");
	is_int(mxc_sts_match(NULL, "a.example"), 0, "NULL policy: no match");

	is_int(mxc_sts_get(h, "stale.example", s), MXC_OK, "a policy whose TXT record was looked at over recheck_s ago");
	is_int(take_events(r, MXS_EV_STS_RECHECK, "stale.example"), 1, "  is used, and a recheck asked for");
	is_int(mxc_sts_get(h, "norecheck.example", s), MXC_OK, "the same with recheck_s 0");
	is_int(take_events(r, MXS_EV_STS_RECHECK, "norecheck.example"), 0, "  asks for no recheck");
	is_int(mxc_sts_get(h, "expired.example", s), MXC_NOTFOUND, "an expired policy is not used");
	is_int(take_events(r, MXS_EV_STS_FETCH, "expired.example"), 1, "and a fetch is asked for");
	is_int(mxc_sts_get(h, "backoff.example", s), MXC_BACKOFF, "backoff entry: MXC_BACKOFF");
	is_int(s->failure, MXC_STS_FAILED_WEBPKI, "with its failure class");
	is_str(mxc_sts_failure_name(s->failure), "sts-webpki-invalid", "named as TLSRPT names it");
	is_int(take_events(r, 0, "backoff.example"), 0, "backoff: no fetch asked");
	is_int(mxc_sts_get(h, "oldbackoff.example", s), MXC_NOTFOUND, "an expired backoff: not found");
	is_int(take_events(r, MXS_EV_STS_FETCH, "oldbackoff.example"), 1, "and a new fetch is asked for");
	is_int(mxc_sts_get(h, "none.example", s), MXC_NOTFOUND, "known to publish none: not found");
	is_int(take_events(r, 0, "none.example"), 0, "and nothing asked (negative cache)");
	is_int(mxc_sts_get(h, "absent.example", s), MXC_NOTFOUND, "nothing cached: not found");
	is_int(take_events(r, MXS_EV_STS_FETCH, "absent.example"), 1, "and a fetch is asked for");
	is_int(mxc_sts_get(h, "unused.example", s), MXC_OK, "a policy unused for hours");
	is_int(take_events(r, MXS_EV_STS_USED, "unused.example"), 1, "its use is reported");
	is_int(mxc_sts_get(h, "[192.0.2.1]", s), MXC_NOTFOUND, "an IP literal has no policy");
	is_int(mxc_sts_get(h, "bad..name", s), MXC_EINVAL, "a malformed name: EINVAL");
	is_int(mxc_sts_get(h, NULL, s), MXC_EINVAL, "NULL: EINVAL");

	/* a full ring drops and counts, never waits */
	for (i = 0; i < MXS_EV_RING_SIZE + 5; i++)
		mxc_sts_get(h, "absent.example", s);
	ok(mxc_events_dropped(h) >= 5, "a full ring: events dropped and counted (%llu)",
	   (unsigned long long)mxc_events_dropped(h));
	is_int(take_events(r, MXS_EV_STS_FETCH, "absent.example"), MXS_EV_RING_SIZE - 1,
	       "the ring held what fits (one record always stays free)");

	/* MX */
	memset(&m, 0, sizeof(m));
	snprintf(m.domain, sizeof(m.domain), "mx.example");
	m.kind = MXS_MX_KIND_MX;
	m.n = 2;
	m.pref[0] = 10;
	snprintf(m.host[0], sizeof(m.host[0]), "mx1.mx.example");
	m.pref[1] = 20;
	snprintf(m.host[1], sizeof(m.host[1]), "mx2.mx.example");
	m.fetched = now;
	m.expires = now + 300;
	is_int(mx_region_put(r, &m), 0, "put an MX answer");
	snprintf(m.domain, sizeof(m.domain), "signed.example");
	m.flags = MXS_MX_F_AUTHENTICATED;
	is_int(mx_region_put(r, &m), 0, "put an authenticated MX answer");
	m.flags = 0;
	snprintf(m.domain, sizeof(m.domain), "implicit.example");
	m.kind = MXS_MX_KIND_IMPLICIT;
	m.n = 0;
	is_int(mx_region_put(r, &m), 0, "put an implicit MX");
	snprintf(m.domain, sizeof(m.domain), "gone.example");
	m.kind = MXS_MX_KIND_NXDOMAIN;
	m.flags = MXS_MX_F_AUTHENTICATED;
	is_int(mx_region_put(r, &m), 0, "put an authenticated NXDOMAIN");
	m.flags = 0;
	snprintf(m.domain, sizeof(m.domain), "temp.example");
	m.kind = MXS_MX_KIND_TEMP;
	is_int(mx_region_put(r, &m), 0, "put a failed lookup");
	snprintf(m.domain, sizeof(m.domain), "stale.example");
	m.kind = MXS_MX_KIND_IMPLICIT;
	m.expires = now - 1;
	is_int(mx_region_put(r, &m), 0, "put an expired answer");
	region_publish(r);

	is_int(mxc_resolve_mx(h, "MX.example", mx, 4, &n, &from), MXC_OK, "cached MX");
	is_int(n, 2, "two records");
	is_int(from, 0, "not from an override");
	is_int(mx[0].pref, 10, "first preference");
	is_str(mx[1].host, "mx2.mx.example", "second host");
	is_int(mxc_resolve_mx(h, "mx.example", mx, 1, &n, &from), MXC_ETOOSMALL, "room for one: ETOOSMALL");
	{
		unsigned fl = 99;

		is_int(mxc_resolve_mx_flags(h, "mx.example", mx, 4, &n, &fl), MXC_OK, "flags: cached MX");
		is_int(fl, 0, "flags: not authenticated, not an override");
		is_int(mxc_resolve_mx_flags(h, "signed.example", mx, 4, &n, &fl), MXC_OK, "flags: a signed zone's MX");
		ok(n == 2 && fl == MXC_MX_F_AUTHENTICATED, "flags: MXC_MX_F_AUTHENTICATED (%u)", fl);
		is_int(mxc_resolve_mx_flags(h, "gone.example", mx, 4, &n, &fl), MXC_OK, "flags: NXDOMAIN");
		ok(n == 0 && fl == MXC_MX_F_AUTHENTICATED, "flags: an authenticated denial");
		fl = 99;
		is_int(mxc_resolve_mx_flags(h, "temp.example", mx, 4, &n, &fl), MXC_NOTFOUND, "flags: failed lookup");
		is_int(fl, 0, "flags: 0 without an answer");
	}
	is_int(mxc_resolve_mx(h, "implicit.example", mx, 4, &n, &from), MXC_OK, "implicit MX");
	is_int(n, 1, "one record");
	is_str(mx[0].host, "implicit.example", "the domain itself");
	is_int(mxc_resolve_mx(h, "gone.example", mx, 4, &n, &from), MXC_OK, "NXDOMAIN cached");
	is_int(n, 0, "no records: no mail");
	is_int(mxc_resolve_mx(h, "temp.example", mx, 4, &n, &from), MXC_NOTFOUND, "failed lookup: not found");
	is_int(take_events(r, 0, "temp.example"), 0, "and not asked again before it expires");
	is_int(mxc_resolve_mx(h, "stale.example", mx, 4, &n, &from), MXC_NOTFOUND, "expired: not found");
	is_int(take_events(r, MXS_EV_MX_FETCH, "stale.example"), 1, "and asked again");
	is_int(mxc_mx_cached(h, "stale.example", mx, 4, &n, &info), MXC_OK, "the expired entry for inspection");
	is_int(info.kind, MXC_MX_IMPLICIT, "its kind");
	is_int(info.expires, now - 1, "its expiry, as stored");
	is_int(mxc_resolve_mx(h, "[192.0.2.1]", mx, 4, &n, &from), MXC_EINVAL, "an IP literal: EINVAL");
	{
		uint8_t val[MXS_OV_VALUE_MAX];
		size_t vlen = mxc_ov_value_encode(val, 1, 2, "192.0.2.9", 9, "", 0);

		is_int(region_put(r, MXS_TAB_OVERRIDE, "mx.example", 10, val, vlen, NULL, 0), 0, "an override");
		region_publish(r);
	}
	is_int(mxc_resolve_mx(h, "mx.example", mx, 4, &n, &from), MXC_OK, "override first");
	is_int(from, 1, "from the override");
	is_str(mx[0].host, "192.0.2.9", "its target");
	{
		unsigned fl = 0;

		is_int(mxc_resolve_mx_flags(h, "mx.example", mx, 4, &n, &fl), MXC_OK, "flags: override first");
		is_int(fl, MXC_MX_F_OVERRIDE, "flags: MXC_MX_F_OVERRIDE");
	}

	/* delivery events: checked before they are posted, typed in the ring */
	is_int(mxc_record_failure(h, "x.example", MXC_TRANSPORT_NONE), MXC_EINVAL, "a failure needs a transport");
	is_int(mxc_record_failure(h, "x.example", (enum mxc_transport)9), MXC_EINVAL, "an unknown transport: EINVAL");
	is_int(mxc_record_success(h, "x.example", -1, MXC_TRANSPORT_SMTP), MXC_EINVAL, "a negative latency: EINVAL");
	is_int(mxc_queue_add(h, "x.example", 0), MXC_EINVAL, "a zero delta: EINVAL");
	is_int(mxc_queue_add(h, "not a domain", 1), MXC_EINVAL, "a malformed domain: EINVAL");
	is_int(mxc_record_success(h, "X.Example.", 25, MXC_TRANSPORT_HTTPS), MXC_OK, "a success is posted");
	is_int(take_events(r, MXS_EV_SUCCESS, "x.example"), 1, "canonical, typed");
	is_int(mxc_record_success(h, "[192.0.2.1]", 0, MXC_TRANSPORT_NONE), MXC_OK, "an inbound success from an IP");
	is_int(take_events(r, MXS_EV_SUCCESS, "192.0.2.1"), 1, "posted under the bare IP");

	/* a damaged value is reported, never trusted */
	is_int(region_put(r, MXS_TAB_STS, "junk.example", 12, junk, sizeof(junk), NULL, 0), 0, "a junk STS value");
	region_publish(r);
	is_int(mxc_sts_get(h, "junk.example", s), MXC_ECORRUPT, "junk value: ECORRUPT");
	rc = mxc_verify(h, why, sizeof(why));
	is_int(rc, MXC_ECORRUPT, "verify finds it");
	ok(strstr(why, "junk.example") != NULL, "and names it: %s", why);
	is_int(sts_region_del(r, "junk.example"), 0, "delete it");
	region_publish(r);
	is_int(mxc_verify(h, why, sizeof(why)), MXC_OK, "verify: sound again");

	slot_retry(h, r);

	mxc_close(h);
	free(p);
	free(s);
	fixture_cleanup(dir, r);
	return tap_done();
}
