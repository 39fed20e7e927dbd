/*
 * daemon/dane.c - a domain's DANE state (daemon/dane.h): the lookups, and
 * the verdict on what they found, kept pure so that every row of the
 * decision is tested without a signed zone (tests/unit/test_dane.c).
 */
#include "dane.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "log.h"
#include "shm/sts.h"

#define TLSA_USAGE_DANE_TA  2
#define TLSA_USAGE_DANE_EE  3
#define TLSA_SEL_CERT       0
#define TLSA_SEL_SPKI       1
#define TLSA_MT_FULL        0
#define TLSA_MT_SHA256      1
#define TLSA_MT_SHA512      2
#define TLSA_SHA256_LEN     32
#define TLSA_SHA512_LEN     64
#define DANE_PORT_PREFIX    "_25._tcp."   /* RFC 7672 section 2.2.1: SMTP on port 25 */

int dane_tlsa_usable(const struct dns_tlsa_rr *rr)
{
	if (rr->usage != TLSA_USAGE_DANE_TA && rr->usage != TLSA_USAGE_DANE_EE)
		return 0;
	if (rr->selector != TLSA_SEL_CERT && rr->selector != TLSA_SEL_SPKI)
		return 0;
	switch (rr->mtype) {
	case TLSA_MT_FULL:
		return rr->len > 0;
	case TLSA_MT_SHA256:
		return rr->len == TLSA_SHA256_LEN;
	case TLSA_MT_SHA512:
		return rr->len == TLSA_SHA512_LEN;
	default:
		return 0;
	}
}

size_t dane_hosts(const char *domain, int mx_rc, const struct dns_mx *mx, const char *host[DANE_HOSTS_MAX])
{
	size_t i, n = 0;

	if (mx_rc == DNS_NODATA) {
		host[0] = domain;
		return 1;
	}
	if (mx_rc != DNS_OK || mx->nullmx)
		return 0;
	/* dns_mx sorts by preference: the first are the most preferred */
	for (i = 0; i < mx->n && n < DANE_HOSTS_MAX; i++)
		host[n++] = mx->rr[i].host;
	return n;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* A failed check: the state before stands (dane.h says why). */
static void verdict_temp(const struct dane_state *prev, int seen_ad, int64_t now, struct dane_state *out)
{
	out->dane = prev != NULL ? prev->dane : MXS_DANE_UNKNOWN;
	out->flags = prev != NULL ? prev->flags & MXS_DANE_F_MX_AD : 0;
	out->valid_end = prev != NULL ? prev->valid_end : 0;
	/* a state that required DANE is held; "none" may lapse to unknown */
	if ((out->dane == MXS_DANE_USABLE || out->dane == MXS_DANE_UNUSABLE) && out->valid_end < now + DANE_HOLD_S)
		out->valid_end = now + DANE_HOLD_S;
	out->flags |= MXS_DANE_F_TEMP | (seen_ad ? MXS_DANE_F_SEEN_AD : 0);
	out->next_check = now + DANE_RETRY_S;
}

void dane_verdict(const struct dane_in *in, const struct dane_state *prev, int64_t now, struct dane_state *out)
{
	const char *host[DANE_HOSTS_MAX];
	size_t i, j, expect;
	uint32_t ttl;
	int seen_ad = 0, auth = 0, usable = 0;

	memset(out, 0, sizeof(*out));
	out->dane = MXS_DANE_UNKNOWN;
	if (in->mx_rc >= 0 && in->mx->ad)
		seen_ad = 1;
	for (i = 0; i < in->nhosts && i < DANE_HOSTS_MAX; i++)
		if (in->tlsa_rc[i] >= 0 && in->tlsa[i]->ad)
			seen_ad = 1;
	if (in->mx_rc < 0) {
		verdict_temp(prev, seen_ad, now, out);
		return;
	}
	ttl = in->mx_rc == DNS_OK ? in->mx->ttl : in->mx->neg_ttl;
	if (in->mx->ad)
		out->flags |= MXS_DANE_F_MX_AD;
	out->dane = MXS_DANE_NONE;
	/* an MX RRset that is not authenticated: the hosts could be anyone's,
	 * and so could their TLSA records */
	if (in->mx->ad) {
		/* every host a check asks about must have been answered: fewer
		 * is a check cut short, not an answer */
		expect = dane_hosts("", in->mx_rc, in->mx, host);
		if (in->nhosts < expect) {
			verdict_temp(prev, seen_ad, now, out);
			return;
		}
		for (i = 0; i < expect; i++) {
			const struct dns_tlsa *t = in->tlsa[i];

			if (in->tlsa_rc[i] < 0) {
				verdict_temp(prev, seen_ad, now, out);
				return;
			}
			ttl = min32(ttl, in->tlsa_rc[i] == DNS_OK ? t->ttl : t->neg_ttl);
			/* records from an unsigned zone, or a denial, do not count */
			if (in->tlsa_rc[i] != DNS_OK || !t->ad)
				continue;
			if (t->n > 0 || t->more > 0 || t->bad > 0)
				auth = 1;
			for (j = 0; j < t->n; j++)
				if (dane_tlsa_usable(&t->rr[j]))
					usable = 1;
		}
		out->dane = usable ? MXS_DANE_USABLE : auth ? MXS_DANE_UNUSABLE : MXS_DANE_NONE;
	}
	if (seen_ad)
		out->flags |= MXS_DANE_F_SEEN_AD;
	if (ttl < DANE_TTL_MIN)
		ttl = DANE_TTL_MIN;
	if (ttl > DANE_TTL_MAX)
		ttl = DANE_TTL_MAX;
	out->valid_end = now + ttl;
	/* looked at again with a quarter of its life left, so that a used
	 * state does not lapse to unknown between two checks */
	out->next_check = now + ttl - ttl / 4;
}

void dane_check(struct dns *d, const char *domain, const struct dane_state *prev, int64_t now,
		struct dane_state *out)
{
	char name[DNS_NAME_MAX + 1];
	const char *host[DANE_HOSTS_MAX];
	struct dane_in in;
	struct dns_mx *mx;
	struct dns_tlsa *tlsa;
	size_t i, n;
	int rc;

	memset(&in, 0, sizeof(in));
	mx = malloc(sizeof(*mx));
	tlsa = malloc(DANE_HOSTS_MAX * sizeof(*tlsa));
	if (mx == NULL || tlsa == NULL) {
		/* no lookup made: as a failure, the state before stands */
		memset(&in, 0, sizeof(in));
		in.mx_rc = DNS_TEMP;
		dane_verdict(&in, prev, now, out);
		goto done;
	}
	in.mx = mx;
	in.mx_rc = dns_mx(d, domain, mx);
	n = in.mx_rc >= 0 && mx->ad ? dane_hosts(domain, in.mx_rc, mx, host) : 0;
	for (i = 0; i < n; i++) {
		in.tlsa[i] = &tlsa[i];
		in.nhosts = i + 1;
		if (snprintf(name, sizeof(name), DANE_PORT_PREFIX "%s", host[i]) >= (int)sizeof(name)) {
			/* no such name can exist: a host without TLSA records */
			memset(&tlsa[i], 0, sizeof(tlsa[i]));
			in.tlsa_rc[i] = DNS_NXDOMAIN;
			continue;
		}
		rc = dns_tlsa(d, name, &tlsa[i]);
		ctr_add(MXS_CTR_TLSA_LOOKUPS, 1);
		in.tlsa_rc[i] = rc;
		if (rc < 0) {
			log_debug("dane: %s: TLSA %s: %s", domain, name, dns_rc_name(rc));
			break;   /* the verdict is a failure already: ask no more */
		}
	}
	if (in.mx_rc < 0)
		log_debug("dane: %s: MX: %s", domain, dns_rc_name(in.mx_rc));
	dane_verdict(&in, prev, now, out);
done:
	free(mx);
	free(tlsa);
}
