/*
 * daemon/sts_check.c - one domain's MTA-STS check.
 *
 * The MTA-STS check, RFC 8461 §3 and §5, with the cache rules of mox's
 * policy store:
 *
 *   1. TXT _mta-sts.<domain>: keep the records that start "v=STSv1"
 *      (strings already joined).  Exactly one, well formed, gives an id.
 *      None (or NXDOMAIN): the domain publishes no policy.  Two, or a
 *      malformed one: no usable record (§3.1 says to act as if none).
 *      A temporary failure (SERVFAIL, timeout): we do not know.
 *   2. A valid cached policy with the same id is confirmed without a
 *      fetch: its validity is extended by max_age from now (§5.1).
 *   3. Otherwise fetch https://mta-sts.<domain>/.well-known/mta-sts.txt
 *      (the policy host resolved through the same resolver), parse it,
 *      and store it with the id.
 *   4. Every failure keeps a still-valid cached policy, marked not fresh
 *      and retried sooner (a sender MUST keep applying it, §3.3; an
 *      attacker who blocks the fetch must not switch it off), or, with
 *      nothing cached, stores a backoff entry for sts.backoff_s so the
 *      domain is not asked on every message.
 *   5. A recheck on use (a client used a policy whose TXT record was
 *      looked at more than [sts] recheck_s ago) is step 1 alone: a new id
 *      goes on to step 3, anything else keeps the policy as it is.  Every
 *      check notes when it looked at the TXT record (txt_checked).
 *
 * Every check, whatever its MTA-STS outcome, also looks at the domain's
 * DANE state (daemon/dane.h), which sits beside the MTA-STS state in the
 * same entry: the entry is checked again before that state ends, so a
 * long-lived policy, or a domain with DANE and no MTA-STS (a "none"
 * entry), never shows a used DANE state lapsed.
 *
 * Refresh times are jittered so that policies fetched together (a warm
 * up, a restart) do not all come due in the same second.
 */
#include "sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane.h"
#include "dns.h"
#include "https.h"
#include "log.h"

/*
 * A policy whose domain has no DANE but a signed MX RRset (TLSA records
 * may appear any day) is looked at again for DANE after at most its own
 * refresh, and no sooner than this: a state that would raise the bar
 * (none to usable) noticed an hour late costs nothing a sender relied
 * on, while following short MX TTLs would multiply the refresher's work.
 * Without a signed MX RRset DANE cannot apply, and the policy's refresh
 * alone decides.  A state that requires DANE follows its TTLs.
 */
#define DANE_NONE_RECHECK_S 3600

/* xorshift32: jitter only, never security */
static uint32_t jitter_next(uint32_t *s)
{
	uint32_t x = *s != 0 ? *s : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* When to look at a policy again: refresh_s less up to a quarter of it,
 * and never later than half way to its end of validity. */
static int64_t next_refresh(struct sts_ctx *ctx, int64_t now, int64_t valid_end)
{
	int64_t span = ctx->refresh_s, next, half;

	next = now + span - (int64_t)(jitter_next(&ctx->seed) % (uint32_t)(span / 4 + 1));
	half = now + (valid_end - now) / 2;
	if (next > half)
		next = half;
	/* a short refresh_s (tests, small caches) may go below the floor */
	if (next < now + (span < STS_RETRY_MIN ? span : STS_RETRY_MIN))
		next = now + (span < STS_RETRY_MIN ? span : STS_RETRY_MIN);
	return next;
}

/* *out = *cur, with a copy of its text (left out when there is no memory:
 * the region then has none to show, the decision is the same). */
static void copy_rec(struct sts_rec *out, const struct sts_rec *cur)
{
	*out = *cur;
	out->text = NULL;
	out->tlen = 0;
	if (cur->text != NULL && (out->text = malloc(cur->tlen + 1)) != NULL) {
		memcpy(out->text, cur->text, cur->tlen + 1);
		out->tlen = cur->tlen;
	}
}

/* A failure: keep a valid cached policy, or store a backoff entry. */
static int check_failed(struct sts_ctx *ctx, const struct sts_rec *cur, int64_t now, int failure, const char *detail,
			struct sts_rec *out)
{
	char dom[sizeof(out->domain)];

	snprintf(dom, sizeof(dom), "%s", out->domain);
	if (cur != NULL && cur->kind == MXS_STS_KIND_POLICY && cur->valid_end > now) {
		copy_rec(out, cur);
		out->flags &= ~MXS_STS_F_FRESH;
		out->next_check = now + ctx->backoff_s;
		if (out->next_check > cur->valid_end)
			out->next_check = cur->valid_end;
	} else {
		memset(out, 0, sizeof(*out));
		snprintf(out->domain, sizeof(out->domain), "%s", dom);
		out->kind = MXS_STS_KIND_BACKOFF;
		out->inserted = cur != NULL ? cur->inserted : now;
		out->last_use = cur != NULL ? cur->last_use : now;
		out->valid_end = now + ctx->backoff_s;
		out->next_check = INT64_MAX;        /* retried when a client asks again */
	}
	out->failure = failure;
	snprintf(out->detail, sizeof(out->detail), "%.250s", detail);
	return STS_CHECK_FAILED;
}

static int https_failure(int rc)
{
	switch (rc) {
	case HTTPS_CERT:
		return MXS_STS_FAIL_WEBPKI;   /* RFC 8460's sts-webpki-invalid: the certificate only */
	case HTTPS_TOO_LARGE:
	case HTTPS_CONTENT_TYPE:
		return MXS_STS_FAIL_INVALID;
	default:
		return MXS_STS_FAIL_FETCH;
	}
}

/* Step 1: the one STS record's id.  Returns 0 (id set), 1 (no record), or
 * -1 with *failure and detail set. */
static int check_txt(struct sts_ctx *ctx, const char *domain, char *id, int *failure, char *detail, size_t dlen,
		     uint32_t *neg_ttl, int *txt_rc)
{
	char name[DNS_NAME_MAX + 1], one[STS_ID_MAX + 1], why[128];
	struct dns_txt *t;
	size_t i, found = 0;
	int rc, bad = 0, ret = -1;

	t = malloc(sizeof(*t));
	if (t == NULL) {
		*failure = MXS_STS_FAIL_DNS;
		snprintf(detail, dlen, "out of memory");
		return -1;
	}
	*neg_ttl = STS_NONE_TTL_MIN;
	if (snprintf(name, sizeof(name), "_mta-sts.%s", domain) >= (int)sizeof(name)) {
		ret = 1;   /* no such name can exist */
		goto done;
	}
	rc = dns_txt(ctx->dns, name, t);
	*txt_rc = rc;
	if (rc == DNS_NXDOMAIN || rc == DNS_NODATA) {
		*neg_ttl = t->neg_ttl;
		ret = 1;
		goto done;
	}
	if (rc != DNS_OK) {
		*failure = MXS_STS_FAIL_DNS;
		snprintf(detail, dlen, "TXT %.80s: %s", name, dns_rc_name(rc));
		goto done;
	}
	for (i = 0; i < t->n; i++) {
		int r = sts_txt_parse(t->rec[i], t->len[i], one, why, sizeof(why));

		if (r == STS_TXT_NOT_STS)
			continue;
		found++;
		if (r == STS_TXT_OK)
			memcpy(id, one, sizeof(one));
		else
			bad = 1;
	}
	if (found == 0 && t->more == 0) {
		*neg_ttl = t->ttl;
		ret = 1;
		goto done;
	}
	if (found > 1 || t->more != 0) {
		*failure = MXS_STS_FAIL_RECORD;
		snprintf(detail, dlen, "TXT %.80s: more than one v=STSv1 record", name);
		goto done;
	}
	if (bad) {
		*failure = MXS_STS_FAIL_RECORD;
		snprintf(detail, dlen, "TXT %.80s: %.120s", name, why);
		goto done;
	}
	ret = 0;
done:
	free(t);
	return ret;
}

/* Step 3: fetch and parse.  Returns 0 with out filled as a policy, or -1
 * with *failure and detail. */
static int check_fetch(struct sts_ctx *ctx, const char *domain, int *failure, char *detail, size_t dlen,
		       struct sts_rec *out)
{
	char host[DNS_NAME_MAX + 1], why[256];
	struct https_result res;
	struct sts_policy *p = NULL;
	struct dns_addr *a = NULL;
	size_t i;
	int rc, ret = -1;

	memset(&res, 0, sizeof(res));
	a = malloc(sizeof(*a));
	p = malloc(sizeof(*p));
	if (a == NULL || p == NULL) {
		*failure = MXS_STS_FAIL_FETCH;
		snprintf(detail, dlen, "out of memory");
		goto done;
	}
	if (snprintf(host, sizeof(host), "mta-sts.%s", domain) >= (int)sizeof(host)) {
		*failure = MXS_STS_FAIL_FETCH;
		snprintf(detail, dlen, "policy host name too long");
		goto done;
	}
	rc = dns_addrs(ctx->dns, host, a);
	if (rc != DNS_OK) {
		*failure = rc == DNS_NXDOMAIN || rc == DNS_NODATA ? MXS_STS_FAIL_FETCH : MXS_STS_FAIL_DNS;
		snprintf(detail, dlen, "%.80s: %s", host, dns_rc_name(rc));
		goto done;
	}
	rc = https_get(ctx->https, host, HTTPS_PATH_DEF, a->a, a->alen, a->n, &res);
	if (rc != HTTPS_OK) {
		*failure = https_failure(rc);
		snprintf(detail, dlen, "https://%.80s%s: %s%s%.100s", host, HTTPS_PATH_DEF, https_rc_name(rc),
			 res.detail[0] ? ": " : "", res.detail);
		goto done;
	}
	if (sts_policy_parse(res.body, res.len, p, why, sizeof(why)) != 0) {
		*failure = MXS_STS_FAIL_INVALID;
		snprintf(detail, dlen, "policy: %.200s", why);
		goto done;
	}
	/* once per fetch: the publisher's mistake, not ours to repeat on
	 * every lookup (mx_ip is an address inet_pton read: plain text) */
	if (p->nmx_ip == 1)
		log_info("sts: %s: mx value %s is an IP address, not a pattern: ignored", domain, p->mx_ip);
	else if (p->nmx_ip > 1)
		log_info("sts: %s: mx value %s is an IP address, not a pattern: ignored (and %zu more)", domain,
			 p->mx_ip, p->nmx_ip - 1);
	out->kind = MXS_STS_KIND_POLICY;
	out->mode = p->mode;
	out->max_age = p->max_age;
	out->flags = MXS_STS_F_FRESH | (p->max_age_capped ? MXS_STS_F_CAPPED : 0);
	out->nmx = p->nmx;
	for (i = 0; i < p->nmx; i++)
		snprintf(out->mx[i], sizeof(out->mx[i]), "%s", p->mx[i]);
	out->text = res.body;
	out->tlen = res.len;
	res.body = NULL;
	ret = 0;
done:
	https_result_free(&res);
	free(a);
	free(p);
	return ret;
}

/* The MTA-STS part of a check (RFC 8461), as the header comment says.
 * *kept: a recheck that left the policy as it was (nothing else to do). */
static int check_sts(struct sts_ctx *ctx, const char *domain, const struct sts_rec *cur, int64_t now,
		     unsigned flags, struct sts_rec *out, int *txt_rc, int *kept)
{
	char id[STS_ID_MAX + 1] = "", detail[STS_DETAIL_MAX];
	int failure = MXS_STS_FAIL_NONE, rc;
	uint32_t neg_ttl;

	memset(out, 0, sizeof(*out));
	snprintf(out->domain, sizeof(out->domain), "%s", domain);
	rc = check_txt(ctx, domain, id, &failure, detail, sizeof(detail), &neg_ttl, txt_rc);
	/*
	 * A recheck on use asks one thing: did the id change?  Only a new id
	 * (a new policy published) is acted on, by the fetch below, as the
	 * refresher would.  The same id, no record (perhaps an attacker's
	 * doing) or a failed lookup leave the policy as it is: its validity,
	 * refresh time and failure state are the refresher's, which looks
	 * at them on its own schedule.
	 */
	if ((flags & STS_CHECK_F_RECHECK) && cur != NULL && cur->kind == MXS_STS_KIND_POLICY &&
	    cur->valid_end > now && !(rc == 0 && strcmp(cur->id, id) != 0)) {
		copy_rec(out, cur);
		if (rc == 0)
			out->last_update = now;
		else if (rc < 0)
			log_info("sts: %s: recheck: %s (cached policy kept)", domain, detail);
		*kept = 1;
		return STS_CHECK_POLICY;
	}
	if (rc < 0)
		return check_failed(ctx, cur, now, failure, detail, out);
	if (rc > 0) {
		/* no record: a cached policy stays until it expires (the record
		 * may be gone through an attack); else a negative entry */
		if (cur != NULL && cur->kind == MXS_STS_KIND_POLICY && cur->valid_end > now)
			return check_failed(ctx, cur, now, MXS_STS_FAIL_NONE, "no MTA-STS TXT record", out);
		out->kind = MXS_STS_KIND_NONE;
		out->inserted = cur != NULL ? cur->inserted : now;
		out->last_use = cur != NULL ? cur->last_use : now;
		out->last_update = now;
		if (neg_ttl < STS_NONE_TTL_MIN)
			neg_ttl = STS_NONE_TTL_MIN;
		if (neg_ttl > STS_NONE_TTL_MAX)
			neg_ttl = STS_NONE_TTL_MAX;
		out->valid_end = now + neg_ttl;
		out->next_check = INT64_MAX;
		return STS_CHECK_NONE;
	}
	if (cur != NULL && cur->kind == MXS_STS_KIND_POLICY && cur->valid_end > now && strcmp(cur->id, id) == 0) {
		copy_rec(out, cur);
		out->flags |= MXS_STS_F_FRESH;
		out->failure = MXS_STS_FAIL_NONE;
		out->detail[0] = '\0';
		out->last_update = now;
		out->valid_end = now + out->max_age;
		out->next_check = next_refresh(ctx, now, out->valid_end);
		return STS_CHECK_POLICY;
	}
	if (check_fetch(ctx, domain, &failure, detail, sizeof(detail), out) != 0)
		return check_failed(ctx, cur, now, failure, detail, out);
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->inserted = cur != NULL && cur->kind == MXS_STS_KIND_POLICY ? cur->inserted : now;
	out->last_use = cur != NULL ? cur->last_use : now;
	out->last_update = now;
	out->valid_end = now + out->max_age;
	out->next_check = next_refresh(ctx, now, out->valid_end);
	return STS_CHECK_POLICY;
}

/*
 * The DANE part: the state beside out's MTA-STS state, from the one
 * before (cur's).  An entry whose state requires DANE (usable, unusable)
 * is revisited before that state ends, whatever its kind: a policy, or a
 * backoff or "none" entry that would otherwise wait for a client to ask,
 * so that the state does not lapse while it is used.  A policy of a
 * signed domain without DANE also comes back, no sooner than
 * DANE_NONE_RECHECK_S.
 */
static void check_dane(struct sts_ctx *ctx, const char *domain, const struct sts_rec *cur, int64_t now,
		       int txt_rc, struct sts_rec *out)
{
	struct dane_state prev, st;
	struct dane_in in;

	if (cur != NULL) {
		prev.dane = cur->dane;
		prev.flags = cur->dane_flags;
		prev.valid_end = cur->dane_valid_end;
		prev.next_check = cur->next_check;
	}
	if (txt_rc == DNS_TIMEOUT) {
		/* no resolver answered the TXT query: the MX and TLSA queries
		 * would only add their timeouts to the check, for a failure */
		memset(&in, 0, sizeof(in));
		in.mx_rc = DNS_TIMEOUT;
		dane_verdict(&in, cur != NULL ? &prev : NULL, now, &st);
	} else {
		dane_check(ctx->dns, domain, cur != NULL ? &prev : NULL, now, &st);
	}
	out->dane = st.dane;
	out->dane_flags = st.flags;
	out->dane_valid_end = st.valid_end;
	if (st.dane != MXS_DANE_USABLE && st.dane != MXS_DANE_UNUSABLE) {
		if (out->kind != MXS_STS_KIND_POLICY || !(st.flags & MXS_DANE_F_MX_AD))
			return;
		if (st.next_check < now + DANE_NONE_RECHECK_S)
			st.next_check = now + DANE_NONE_RECHECK_S;
	}
	if (st.next_check < out->next_check)
		out->next_check = st.next_check;
}

int sts_check(struct sts_ctx *ctx, const char *domain, const struct sts_rec *cur, int64_t now, unsigned flags,
	      struct sts_rec *out)
{
	int txt_rc = DNS_OK, kept = 0, rc = check_sts(ctx, domain, cur, now, flags, out, &txt_rc, &kept);

	/* a recheck on use that changed nothing leaves the DANE state to the
	 * refresher too: it comes due by itself before it ends */
	if (!kept)
		check_dane(ctx, domain, cur, now, txt_rc, out);
	/* the TXT record was looked at, whatever came of it: clients post
	 * rechecks by this, so a failed lookup is not asked again at once */
	out->txt_checked = now;
	return rc;
}
