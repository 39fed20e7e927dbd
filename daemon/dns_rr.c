/*
 * daemon/dns_rr.c - the record types of dns.h: TXT, MX, A+AAAA and TLSA,
 * each taken from the answer dns_lookup() (dns.c) found and copied into
 * the caller's struct.
 */
#include "dns.h"
#include "dns_int.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

/* Join rr's character-strings into out->rec[out->n]. */
static void txt_add(struct dns_txt *out, const ldns_rr *rr)
{
	size_t i, len = 0;
	char *dst;

	if (out->n == DNS_TXT_MAX) {
		out->more++;
		return;
	}
	dst = out->rec[out->n];
	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *s = ldns_rr_rdf(rr, i);
		const uint8_t *p = ldns_rdf_data(s);
		size_t sl;

		/* a character-string: a length byte, then that many bytes */
		if (ldns_rdf_get_type(s) != LDNS_RDF_TYPE_STR || ldns_rdf_size(s) < 1 ||
		    (size_t)p[0] + 1 > ldns_rdf_size(s))
			continue;
		sl = p[0];
		if (len + sl > DNS_TXT_LEN_MAX) {
			out->more++;
			return;
		}
		memcpy(dst + len, p + 1, sl);
		len += sl;
	}
	dst[len] = '\0';
	out->len[out->n++] = len;
}

static int txt_cmp(const struct dns_txt *t, size_t a, size_t b)
{
	size_t la = t->len[a], lb = t->len[b];
	int c = memcmp(t->rec[a], t->rec[b], la < lb ? la : lb);

	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

/* Insertion sort: at most DNS_TXT_MAX rows, and rec and len move together. */
static void txt_sort(struct dns_txt *t)
{
	char tmp[DNS_TXT_LEN_MAX + 1];
	size_t i, j, tl;

	for (i = 1; i < t->n; i++) {
		for (j = i; j > 0 && txt_cmp(t, j - 1, j) > 0; j--) {
			memcpy(tmp, t->rec[j], t->len[j] + 1);
			memcpy(t->rec[j], t->rec[j - 1], t->len[j - 1] + 1);
			memcpy(t->rec[j - 1], tmp, t->len[j] + 1);
			tl = t->len[j];
			t->len[j] = t->len[j - 1];
			t->len[j - 1] = tl;
		}
	}
}

int dns_txt(struct dns *d, const char *name, struct dns_txt *out)
{
	struct dns_ans ans;
	uint32_t ttl;
	size_t i;
	int rc;

	out->n = 0;
	out->ttl = 0;
	out->neg_ttl = 0;
	out->more = 0;
	rc = dns_lookup(d, name, LDNS_RR_TYPE_TXT, &ans);
	out->ad = rc >= 0 && ans.ad;
	if (rc == DNS_OK) {
		const ldns_rr_list *l = ldns_pkt_answer(ans.pkt);

		ttl = ans.ttl;
		for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(l, i);

			if (!dns_rr_is(rr, ans.owner, LDNS_RR_TYPE_TXT))
				continue;
			ttl = dns_min32(ttl, dns_rr_ttl(rr));
			txt_add(out, rr);
		}
		txt_sort(out);
		out->ttl = ttl;
	} else if (rc > 0) {
		out->neg_ttl = ans.neg_ttl;
	}
	dns_ans_free(&ans);
	return rc;
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx_rr *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return strcmp(x->host, y->host);
}

/*
 * Add rr to out, keeping the DNS_MX_MAX most preferred.  A "." target is
 * not added: *nroot counts it and *rootpref keeps its preference.
 * Returns -1 when out of memory.
 */
static int mx_add(struct dns_mx *out, const ldns_rr *rr, size_t *nroot, uint16_t *rootpref)
{
	struct dns_mx_rr m;
	char *s = NULL;
	size_t len, i, worst;
	int rc = 0;

	if (ldns_rr_rd_count(rr) != 2 || ldns_rdf_get_type(ldns_rr_rdf(rr, 1)) != LDNS_RDF_TYPE_DNAME)
		goto done;
	m.pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
	/* the packet is ours: lower-case the name where it lies */
	ldns_dname2canonical(ldns_rr_rdf(rr, 1));
	s = ldns_rdf2str(ldns_rr_rdf(rr, 1));
	if (s == NULL) {
		rc = -1;
		goto done;
	}
	len = strlen(s);
	if (len > 0 && s[len - 1] == '.')
		s[--len] = '\0';
	if (len == 0) {
		if (*nroot == 0 || m.pref < *rootpref)
			*rootpref = m.pref;
		(*nroot)++;
		goto done;
	}
	if (len > DNS_NAME_MAX) {
		out->more++;
		goto done;
	}
	memcpy(m.host, s, len + 1);
	if (out->n < DNS_MX_MAX) {
		out->rr[out->n++] = m;
		goto done;
	}
	out->more++;
	worst = 0;
	for (i = 1; i < out->n; i++)
		if (mx_cmp(&out->rr[i], &out->rr[worst]) > 0)
			worst = i;
	if (mx_cmp(&m, &out->rr[worst]) < 0)
		out->rr[worst] = m;
done:
	free(s);
	return rc;
}

int dns_mx(struct dns *d, const char *domain, struct dns_mx *out)
{
	struct dns_ans ans;
	uint16_t rootpref = 0;
	size_t i, nroot = 0;
	uint32_t ttl;
	int rc;

	out->n = 0;
	out->ttl = 0;
	out->neg_ttl = 0;
	out->nullmx = 0;
	out->more = 0;
	rc = dns_lookup(d, domain, LDNS_RR_TYPE_MX, &ans);
	out->ad = rc >= 0 && ans.ad;
	if (rc == DNS_OK) {
		const ldns_rr_list *l = ldns_pkt_answer(ans.pkt);

		ttl = ans.ttl;
		for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
			ldns_rr *rr = ldns_rr_list_rr(l, i);

			if (!dns_rr_is(rr, ans.owner, LDNS_RR_TYPE_MX))
				continue;
			ttl = dns_min32(ttl, dns_rr_ttl(rr));
			if (mx_add(out, rr, &nroot, &rootpref) != 0) {
				out->n = 0;
				out->more = 0;
				out->ad = 0;
				rc = DNS_TEMP;
				goto done;
			}
		}
		if (out->n == 0 && out->more == 0 && nroot > 0) {
			out->nullmx = 1;
			out->rr[0].pref = rootpref;
			out->rr[0].host[0] = '\0';
			out->n = 1;
		}
		qsort(out->rr, out->n, sizeof(out->rr[0]), mx_cmp);
		out->ttl = ttl;
	} else if (rc > 0) {
		out->neg_ttl = ans.neg_ttl;
	}
done:
	dns_ans_free(&ans);
	return rc;
}

/* Add the address records of type at ans->owner; returns their least TTL. */
static uint32_t addr_add(struct dns_addr *out, const struct dns_ans *ans, ldns_rr_type type)
{
	const ldns_rr_list *l = ldns_pkt_answer(ans->pkt);
	uint32_t ttl = ans->ttl;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		const ldns_rdf *rd;
		struct sockaddr_in s4;
		struct sockaddr_in6 s6;

		if (!dns_rr_is(rr, ans->owner, type) || ldns_rr_rd_count(rr) != 1)
			continue;
		ttl = dns_min32(ttl, dns_rr_ttl(rr));
		if (out->n == DNS_ADDR_MAX) {
			out->more++;
			continue;
		}
		rd = ldns_rr_rdf(rr, 0);
		memset(&out->a[out->n], 0, sizeof(out->a[0]));
		if (type == LDNS_RR_TYPE_A && ldns_rdf_size(rd) == sizeof(s4.sin_addr)) {
			memset(&s4, 0, sizeof(s4));
			s4.sin_family = AF_INET;
			memcpy(&s4.sin_addr, ldns_rdf_data(rd), sizeof(s4.sin_addr));
			memcpy(&out->a[out->n], &s4, sizeof(s4));
			out->alen[out->n++] = sizeof(s4);
		} else if (type == LDNS_RR_TYPE_AAAA && ldns_rdf_size(rd) == sizeof(s6.sin6_addr)) {
			memset(&s6, 0, sizeof(s6));
			s6.sin6_family = AF_INET6;
			memcpy(&s6.sin6_addr, ldns_rdf_data(rd), sizeof(s6.sin6_addr));
			memcpy(&out->a[out->n], &s6, sizeof(s6));
			out->alen[out->n++] = sizeof(s6);
		}
	}
	return ttl;
}

/* Family (IPv4 first), then the address bytes. */
static int addr_cmp(const struct dns_addr *o, size_t a, size_t b)
{
	const struct sockaddr_storage *x = &o->a[a], *y = &o->a[b];
	struct sockaddr_in x4, y4;
	struct sockaddr_in6 x6, y6;

	if (x->ss_family != y->ss_family)
		return x->ss_family == AF_INET ? -1 : 1;
	if (x->ss_family == AF_INET) {
		memcpy(&x4, x, sizeof(x4));
		memcpy(&y4, y, sizeof(y4));
		return memcmp(&x4.sin_addr, &y4.sin_addr, sizeof(x4.sin_addr));
	}
	memcpy(&x6, x, sizeof(x6));
	memcpy(&y6, y, sizeof(y6));
	return memcmp(&x6.sin6_addr, &y6.sin6_addr, sizeof(x6.sin6_addr));
}

/* Insertion sort: at most DNS_ADDR_MAX rows, and a and alen move together. */
static void addr_sort(struct dns_addr *o)
{
	struct sockaddr_storage ts;
	socklen_t tl;
	size_t i, j;

	for (i = 1; i < o->n; i++) {
		for (j = i; j > 0 && addr_cmp(o, j - 1, j) > 0; j--) {
			ts = o->a[j];
			o->a[j] = o->a[j - 1];
			o->a[j - 1] = ts;
			tl = o->alen[j];
			o->alen[j] = o->alen[j - 1];
			o->alen[j - 1] = tl;
		}
	}
}

int dns_addrs(struct dns *d, const char *host, struct dns_addr *out)
{
	struct dns_ans a4, a6;
	uint32_t ttl = UINT32_MAX;
	int r4, r6, rc;

	out->n = 0;
	out->ttl = 0;
	out->neg_ttl = 0;
	out->more = 0;
	out->fail_rc = 0;
	out->ad = 0;
	memset(&a6, 0, sizeof(a6));
	r4 = dns_lookup(d, host, LDNS_RR_TYPE_A, &a4);
	r6 = r4 == DNS_TIMEOUT ? DNS_TIMEOUT : dns_lookup(d, host, LDNS_RR_TYPE_AAAA, &a6);
	/* the set holds what both answers said: both must be authenticated */
	if (r4 >= 0 && r6 >= 0)
		out->ad = a4.ad && a6.ad;
	if (r4 == DNS_OK || r6 == DNS_OK) {
		if (r4 == DNS_OK)
			ttl = dns_min32(ttl, addr_add(out, &a4, LDNS_RR_TYPE_A));
		if (r6 == DNS_OK)
			ttl = dns_min32(ttl, addr_add(out, &a6, LDNS_RR_TYPE_AAAA));
		/* the set is also the news that the other family has none */
		if (r4 > 0)
			ttl = dns_min32(ttl, a4.neg_ttl);
		if (r6 > 0)
			ttl = dns_min32(ttl, a6.neg_ttl);
		addr_sort(out);
		out->ttl = ttl;
		out->fail_rc = r4 < 0 ? r4 : r6 < 0 ? r6 : 0;
		rc = DNS_OK;
	} else if (r4 > 0 && r6 > 0) {
		rc = r4 == DNS_NXDOMAIN || r6 == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
		out->neg_ttl = dns_min32(a4.neg_ttl, a6.neg_ttl);
	} else {
		rc = r4 < 0 ? r4 : r6;
	}
	dns_ans_free(&a4);
	dns_ans_free(&a6);
	return rc;
}

/* Keep rr (a TLSA at the chain's end) in out: its three one-byte fields,
 * then the association data. */
static void tlsa_add(struct dns_tlsa *out, const ldns_rr *rr)
{
	struct dns_tlsa_rr *t;
	const ldns_rdf *f[3], *data;
	size_t i, dlen;

	/* ldns splits TLSA rdata into three one-byte fields (typed as usage,
	 * selector and matching type) and the data; rdata it could not split
	 * so (too short) is not a TLSA record */
	if (ldns_rr_rd_count(rr) < 3 || ldns_rr_rd_count(rr) > 4) {
		out->bad++;
		return;
	}
	for (i = 0; i < 3; i++) {
		f[i] = ldns_rr_rdf(rr, i);
		if (ldns_rdf_size(f[i]) != 1) {
			out->bad++;
			return;
		}
	}
	data = ldns_rr_rd_count(rr) == 4 ? ldns_rr_rdf(rr, 3) : NULL;
	dlen = data != NULL ? ldns_rdf_size(data) : 0;
	if (out->n == DNS_TLSA_MAX) {
		out->more++;
		return;
	}
	t = &out->rr[out->n++];
	memset(t, 0, sizeof(*t));
	t->usage = ldns_rdf_data(f[0])[0];
	t->selector = ldns_rdf_data(f[1])[0];
	t->mtype = ldns_rdf_data(f[2])[0];
	t->len = dlen;
	if (dlen > 0)
		memcpy(t->data, ldns_rdf_data(data), dlen < DNS_TLSA_DATA_MAX ? dlen : DNS_TLSA_DATA_MAX);
}

int dns_tlsa(struct dns *d, const char *name, struct dns_tlsa *out)
{
	struct dns_ans ans;
	uint32_t ttl;
	size_t i;
	int rc;

	out->n = 0;
	out->ttl = 0;
	out->neg_ttl = 0;
	out->more = 0;
	out->bad = 0;
	rc = dns_lookup(d, name, LDNS_RR_TYPE_TLSA, &ans);
	out->ad = rc >= 0 && ans.ad;
	if (rc == DNS_OK) {
		const ldns_rr_list *l = ldns_pkt_answer(ans.pkt);

		ttl = ans.ttl;
		for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(l, i);

			if (!dns_rr_is(rr, ans.owner, LDNS_RR_TYPE_TLSA))
				continue;
			ttl = dns_min32(ttl, dns_rr_ttl(rr));
			tlsa_add(out, rr);
		}
		out->ttl = ttl;
	} else if (rc > 0) {
		out->neg_ttl = ans.neg_ttl;
	}
	dns_ans_free(&ans);
	return rc;
}
