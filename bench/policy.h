/*
 * bench/policy.h - the MTA-STS policies the benchmarks cache, one per
 * domain, the same in every program (bench_sts, bench_socketmap): enforce,
 * max_age a day, two patterns, and the MX host a lookup matches.
 */
#ifndef MXC_BENCH_POLICY_H
#define MXC_BENCH_POLICY_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/mxcache.h"
#include "daemon/sts.h"

/* domain i's two patterns, and a host that matches one of them (odd i
 * the exact one, even i the wildcard, so both kinds are timed) */
static inline void bench_pattern(uint64_t i, const char *dom, char *p0, char *p1, char *host)
{
	/* bench domains are at most KEY_MAX long: the precision only tells
	 * the compiler the names fit */
	snprintf(p0, MXS_STS_PATTERN_MAX + 1, "mx%" PRIu64 ".%.200s", i % 7, dom);
	snprintf(p1, MXS_STS_PATTERN_MAX + 1, "*.mx.%.200s", dom);
	if (i & 1)
		snprintf(host, MXC_HOST_MAX + 1, "mx%" PRIu64 ".%.200s", i % 7, dom);
	else
		snprintf(host, MXC_HOST_MAX + 1, "in%" PRIu64 ".mx.%.200s", i % 5, dom);
}

/* domain i's policy record, valid for a day from now; host: as above */
static inline void bench_policy(uint64_t i, const char *dom, int64_t now, struct sts_rec *p, char *host)
{
	memset(p, 0, offsetof(struct sts_rec, mx));
	snprintf(p->domain, sizeof(p->domain), "%s", dom);
	p->kind = MXS_STS_KIND_POLICY;
	p->mode = MXS_STS_MODE_ENFORCE;
	p->max_age = 86400;
	p->flags = MXS_STS_F_FRESH;
	snprintf(p->id, sizeof(p->id), "20240101T%06" PRIu64, i % 1000000);
	p->nmx = 2;
	bench_pattern(i, dom, p->mx[0], p->mx[1], host);
	p->text = NULL;
	p->tlen = 0;
	p->inserted = p->last_update = p->last_use = p->txt_checked = now;
	p->valid_end = now + 86400;
	p->next_check = 0;
	p->dane = MXS_DANE_UNKNOWN;
	p->dane_flags = 0;
	p->dane_valid_end = 0;
}

#endif /* MXC_BENCH_POLICY_H */
