/*
 * daemon/dns.c - TXT, MX, A+AAAA and TLSA lookups on ldns.
 *
 * ldns does the wire work: building and parsing packets, sockets,
 * timeouts, and the TC fallback to TCP.  Written here, because ldns does
 * not do it (or not as a long-lived daemon needs):
 *
 *  - one ldns_resolver per server: ldns keeps one port per resolver, and
 *    configured servers may differ in port;
 *  - the loop over servers and retries: ldns_send_buffer() marks a server
 *    that failed once unreachable for the life of the resolver, and hands
 *    back a SERVFAIL without asking the next server;
 *  - checking the answer against the query (QR, ID, opcode, question):
 *    ldns takes the first datagram that reaches its socket, from anyone;
 *  - following the CNAME chain in the answer section, and the negative
 *    TTL (RFC 2308), which ldns leaves to the caller;
 *  - the AD bit of every answer a result comes from (dns.h: DNSSEC).
 */
#include "dns.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "counters.h"
#include "log.h"

#define DNS_RESOLV_CONF  "/etc/resolv.conf"
#define DNS_LABEL_MAX    64          /* "[v6 address]:port" for log lines */
#define DNS_TTL_MAX      0x7fffffffu /* RFC 2181 section 8 */

struct dns {
	ldns_resolver *srv[DNS_SERVERS_MAX];  /* one nameserver each */
	char label[DNS_SERVERS_MAX][DNS_LABEL_MAX];
	size_t n;
	size_t cur;                           /* answered last, so asked first */
	unsigned tries;                       /* per server: retries + 1 */
};

/* What dns_lookup() found; released with ans_free(). */
struct dns_ans {
	ldns_pkt *pkt;       /* the answer that holds the records */
	ldns_rdf *owner;     /* end of the CNAME chain */
	uint32_t ttl;        /* least TTL over the CNAMEs followed */
	uint32_t neg_ttl;    /* with DNS_NXDOMAIN and DNS_NODATA */
	int ad;              /* every packet followed had the AD bit */
};

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t rr_ttl(const ldns_rr *rr)
{
	uint32_t t = ldns_rr_ttl(rr);

	return t > DNS_TTL_MAX ? 0 : t;
}

static ldns_resolver *srv_new(const ldns_rdf *addr, uint16_t port, unsigned timeout_ms)
{
	ldns_resolver *r = ldns_resolver_new();
	struct timeval tv;

	if (r == NULL)
		return NULL;
	if (ldns_resolver_push_nameserver(r, addr) != LDNS_STATUS_OK) {
		ldns_resolver_deep_free(r);
		return NULL;
	}
	tv.tv_sec = (time_t)(timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	ldns_resolver_set_port(r, port);
	ldns_resolver_set_recursive(r, true);
	ldns_resolver_set_timeout(r, tv);
	/* One try per call: dns_exchange() owns the retry loop. */
	ldns_resolver_set_retry(r, 1);
	ldns_resolver_set_retrans(r, 0);
	ldns_resolver_set_fallback(r, true);
	/* A single server has nothing to shuffle; the order is dns_exchange()'s. */
	ldns_resolver_set_random(r, false);
	ldns_resolver_set_dnsrch(r, false);
	ldns_resolver_set_defnames(r, false);
	/* DO: a validating resolver sets AD only for a query that asks (RFC
	 * 3225, RFC 6840 section 5.7); we take its word, never check RRSIGs */
	ldns_resolver_set_dnssec(r, true);
	ldns_resolver_set_dnssec_cd(r, false);
	ldns_resolver_set_edns_udp_size(r, DNS_EDNS_UDP_SIZE);
	return r;
}

static int srv_add(struct dns *d, const ldns_rdf *addr, uint16_t port, unsigned timeout_ms, const char *label,
		   char *err, size_t errlen)
{
	d->srv[d->n] = srv_new(addr, port, timeout_ms);
	if (d->srv[d->n] == NULL) {
		snprintf(err, errlen, "dns: server %s: out of memory", label);
		return -1;
	}
	snprintf(d->label[d->n], DNS_LABEL_MAX, "%s", label);
	d->n++;
	return 0;
}

struct dns *dns_new(const struct dns_cfg *cfg, char *err, size_t errlen)
{
	struct dns *d = NULL;
	ldns_resolver *file = NULL;
	ldns_rdf *addr = NULL;
	char *text = NULL;
	const char *path;
	ldns_status st;
	uint16_t port;
	size_t i;

	if (cfg->timeout_ms < 1 || cfg->timeout_ms > DNS_TIMEOUT_MAX_MS) {
		snprintf(err, errlen, "dns: timeout %u ms is not in 1..%d", cfg->timeout_ms, DNS_TIMEOUT_MAX_MS);
		goto fail;
	}
	if (cfg->retries > DNS_RETRIES_MAX) {
		snprintf(err, errlen, "dns: %u retries is more than %d", cfg->retries, DNS_RETRIES_MAX);
		goto fail;
	}
	if (cfg->nservers > DNS_SERVERS_MAX || (cfg->nservers > 0 && cfg->servers == NULL)) {
		snprintf(err, errlen, "dns: %zu servers (at most %d)", cfg->nservers, DNS_SERVERS_MAX);
		goto fail;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "dns: out of memory");
		goto fail;
	}
	d->tries = cfg->retries + 1;

	for (i = 0; i < cfg->nservers; i++) {
		const struct config_addr *ca = &cfg->servers[i];

		port = 0;
		addr = ldns_sockaddr_storage2rdf(&ca->ss, &port);
		if (addr == NULL || port == 0) {
			snprintf(err, errlen, "dns: server %s: not an IPv4 or IPv6 address with a port", ca->text);
			goto fail;
		}
		if (srv_add(d, addr, port, cfg->timeout_ms, ca->text, err, errlen) != 0)
			goto fail;
		ldns_rdf_deep_free(addr);
		addr = NULL;
	}
	if (cfg->nservers > 0)
		return d;

	path = cfg->resolv_conf != NULL ? cfg->resolv_conf : DNS_RESOLV_CONF;
	errno = 0;
	st = ldns_resolver_new_frm_file(&file, path);
	if (st != LDNS_STATUS_OK) {
		snprintf(err, errlen, "dns: %s: %s", path,
			 st == LDNS_STATUS_FILE_ERR && errno != 0 ? strerror(errno) : ldns_get_errorstr_by_id(st));
		file = NULL;
		goto fail;
	}
	for (i = 0; i < ldns_resolver_nameserver_count(file) && d->n < DNS_SERVERS_MAX; i++) {
		const ldns_rdf *ns = ldns_resolver_nameservers(file)[i];

		text = ldns_rdf2str(ns);
		if (srv_add(d, ns, LDNS_PORT, cfg->timeout_ms, text != NULL ? text : "?", err, errlen) != 0)
			goto fail;
		free(text);
		text = NULL;
	}
	if (d->n == 0) {
		snprintf(err, errlen, "dns: %s: no nameserver", path);
		goto fail;
	}
	ldns_resolver_deep_free(file);
	return d;

fail:
	free(text);
	ldns_rdf_deep_free(addr);
	ldns_resolver_deep_free(file);
	dns_free(d);
	return NULL;
}

void dns_free(struct dns *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		ldns_resolver_deep_free(d->srv[i]);
	free(d);
}

const char *dns_rc_name(int rc)
{
	switch (rc) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_TEMP:
		return "temporary failure";
	case DNS_TIMEOUT:
		return "timeout";
	case DNS_BAD:
		return "bad answer";
	default:
		return "unknown";
	}
}

/*
 * A name as asked: printable ASCII only, so that what is asked is exactly
 * what the caller wrote (no \DDD escapes, no bytes a hostname cannot
 * hold); ldns checks labels and length on the wire.
 */
static ldns_rdf *name_rdf(const char *name)
{
	size_t len, i;

	if (name == NULL)
		return NULL;
	len = strnlen(name, DNS_NAME_MAX + 2);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c >= 0x7f || c == '\\')
			return NULL;
	}
	return ldns_dname_new_frm_str(name);
}

/*
 * The rc of a failed ldns_resolver_send_pkt().  Besides these transport
 * failures it only passes on ldns_wire2pkt()'s parse errors.
 */
static int status_rc(ldns_status st)
{
	switch (st) {
	case LDNS_STATUS_NETWORK_ERR:     /* nothing within the timeout */
		return DNS_TIMEOUT;
	case LDNS_STATUS_ERR:             /* TCP connect refused or timed out */
	case LDNS_STATUS_SOCKET_ERROR:
	case LDNS_STATUS_RES_NO_NS:
	case LDNS_STATUS_MEM_ERR:
	case LDNS_STATUS_NULL:
		return DNS_TEMP;
	default:
		return DNS_BAD;
	}
}

/* Of two failures, the one that says more: a broken answer, then a refusal, then silence. */
static int rc_worse(int a, int b)
{
	int ra = a == DNS_BAD ? 3 : a == DNS_TEMP ? 2 : 1;
	int rb = b == DNS_BAD ? 3 : b == DNS_TEMP ? 2 : 1;

	return rb > ra ? b : a;
}

/* DNS_OK for a NOERROR or NXDOMAIN reply to q, else the failure and why. */
static int answer_check(const ldns_pkt *q, const ldns_pkt *a, const char **why)
{
	const ldns_rr *qq, *aq;

	if (!ldns_pkt_qr(a) || ldns_pkt_id(a) != ldns_pkt_id(q) || ldns_pkt_get_opcode(a) != LDNS_PACKET_QUERY) {
		*why = "not a reply to this query";
		return DNS_BAD;
	}
	switch (ldns_pkt_get_rcode(a)) {
	case LDNS_RCODE_NOERROR:
	case LDNS_RCODE_NXDOMAIN:
		break;
	case LDNS_RCODE_SERVFAIL:
		*why = "SERVFAIL";
		return DNS_TEMP;
	case LDNS_RCODE_REFUSED:
		*why = "REFUSED";
		return DNS_TEMP;
	default:
		/* FORMERR, NOTIMP, ...: asking again will not help */
		*why = "error rcode";
		return DNS_BAD;
	}
	if (ldns_pkt_tc(a)) {
		*why = "truncated";
		return DNS_TEMP;
	}
	if (ldns_pkt_qdcount(a) != 1 || ldns_rr_list_rr_count(ldns_pkt_question(a)) != 1) {
		*why = "no question";
		return DNS_BAD;
	}
	qq = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	aq = ldns_rr_list_rr(ldns_pkt_question(a), 0);
	if (ldns_rr_get_type(aq) != ldns_rr_get_type(qq) || ldns_rr_get_class(aq) != ldns_rr_get_class(qq) ||
	    ldns_dname_compare(ldns_rr_owner(aq), ldns_rr_owner(qq)) != 0) {
		*why = "answer to another question";
		return DNS_BAD;
	}
	return DNS_OK;
}

static const char *type_name(ldns_rr_type type)
{
	switch (type) {
	case LDNS_RR_TYPE_TXT:
		return "TXT";
	case LDNS_RR_TYPE_MX:
		return "MX";
	case LDNS_RR_TYPE_A:
		return "A";
	case LDNS_RR_TYPE_AAAA:
		return "AAAA";
	case LDNS_RR_TYPE_TLSA:
		return "TLSA";
	default:
		return "?";
	}
}

static void dns_log_fail(const struct dns *d, const ldns_rdf *qname, ldns_rr_type type, size_t srv, unsigned t,
			 int rc, const char *why)
{
	char *name = ldns_rdf2str(qname);

	log_debug("dns: %s %s: server %s, try %u: %s (%s)", name != NULL ? name : "?", type_name(type),
		  d->label[srv], t + 1, dns_rc_name(rc), why);
	free(name);
}

/*
 * Ask (qname, type): every server in turn from the one that answered
 * last, d->tries rounds.  DNS_OK with *out a checked NOERROR or NXDOMAIN
 * answer (the caller frees it), or the worst failure seen.
 */
static int dns_exchange(struct dns *d, const ldns_rdf *qname, ldns_rr_type type, ldns_pkt **out)
{
	ldns_pkt *q = NULL, *a = NULL;
	const char *why;
	ldns_status st;
	int rc = DNS_TIMEOUT, r;
	unsigned t;
	size_t k, i;

	*out = NULL;
	/* every resolver has the same settings; srv[0]'s EDNS size is theirs */
	st = ldns_resolver_prepare_query_pkt(&q, d->srv[0], qname, type, LDNS_RR_CLASS_IN, LDNS_RD);
	if (st != LDNS_STATUS_OK) {
		q = NULL;
		rc = DNS_TEMP;
		goto done;
	}
	/* prepare_query_pkt sets DO for a DNSSEC resolver; said here too, so
	 * that no ldns version can leave it out */
	ldns_pkt_set_edns_do(q, true);
	for (t = 0; t < d->tries; t++) {
		for (k = 0; k < d->n; k++) {
			i = (d->cur + k) % d->n;
			/* a new ID per try, so a stray answer to an earlier one cannot pass */
			ldns_pkt_set_random_id(q);
			/* ldns would skip a server that failed before, for good */
			ldns_resolver_set_nameserver_rtt(d->srv[i], 0, LDNS_RESOLV_RTT_MIN);
			a = NULL;
			st = ldns_resolver_send_pkt(&a, d->srv[i], q);
			if (st != LDNS_STATUS_OK) {
				r = status_rc(st);
				why = ldns_get_errorstr_by_id(st);
			} else if (a == NULL) {
				r = DNS_TEMP;
				why = "no answer";
			} else {
				r = answer_check(q, a, &why);
			}
			if (r == DNS_OK) {
				ctr_add(ldns_pkt_ad(a) ? MXS_CTR_DNS_AD : MXS_CTR_DNS_NOAD, 1);
				d->cur = i;
				*out = a;
				a = NULL;
				rc = DNS_OK;
				goto done;
			}
			dns_log_fail(d, qname, type, i, t, r, why);
			ldns_pkt_free(a);
			a = NULL;
			rc = rc_worse(rc, r);
		}
	}
done:
	ldns_pkt_free(a);
	ldns_pkt_free(q);
	return rc;
}

static int rr_is(const ldns_rr *rr, const ldns_rdf *owner, ldns_rr_type type)
{
	return ldns_rr_get_type(rr) == type && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	       ldns_dname_compare(ldns_rr_owner(rr), owner) == 0;
}

/* The first RR of type at owner in section sec of a, or NULL. */
static const ldns_rr *rr_find(const ldns_pkt *a, ldns_pkt_section sec, const ldns_rdf *owner, ldns_rr_type type)
{
	const ldns_rr_list *l = sec == LDNS_SECTION_ANSWER ? ldns_pkt_answer(a) : ldns_pkt_authority(a);
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);

		if (owner == NULL ? ldns_rr_get_type(rr) == type && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN
				  : rr_is(rr, owner, type))
			return rr;
	}
	return NULL;
}

/* RFC 2308 section 5: the lesser of the SOA's TTL and its MINIMUM field. */
static uint32_t neg_ttl(const ldns_pkt *a)
{
	const ldns_rr *soa = rr_find(a, LDNS_SECTION_AUTHORITY, NULL, LDNS_RR_TYPE_SOA);
	const ldns_rdf *min;

	if (soa == NULL || ldns_rr_rd_count(soa) < 7)
		return DNS_NEG_TTL_DEFAULT;
	min = ldns_rr_rdf(soa, 6);
	if (ldns_rdf_get_type(min) != LDNS_RDF_TYPE_INT32 && ldns_rdf_get_type(min) != LDNS_RDF_TYPE_PERIOD)
		return DNS_NEG_TTL_DEFAULT;
	return min32(rr_ttl(soa), min32(ldns_rdf2native_int32(min), DNS_TTL_MAX));
}

static void ans_free(struct dns_ans *ans)
{
	ldns_pkt_free(ans->pkt);
	ldns_rdf_deep_free(ans->owner);
	ans->pkt = NULL;
	ans->owner = NULL;
}

/*
 * Look up (name, type) and follow the CNAME chain in the answer section.
 * DNS_OK: ans->pkt holds records of type at ans->owner.  DNS_NXDOMAIN or
 * DNS_NODATA: ans->neg_ttl is set.  A chain that leaves the answer without
 * an SOA (the resolver may have stopped short) is asked again from where
 * it ends, at most DNS_REQUERY_MAX times.  ans is released by the caller
 * with ans_free() whatever the result.
 */
static int dns_lookup(struct dns *d, const char *name, ldns_rr_type type, struct dns_ans *ans)
{
	const ldns_rr *cn;
	ldns_rdf *next;
	int rc, hops = 0, moved, q;

	memset(ans, 0, sizeof(*ans));
	ans->ttl = UINT32_MAX;
	ans->ad = 1;
	ans->owner = name_rdf(name);
	if (ans->owner == NULL) {
		log_debug("dns: '%.*s': not a name that can be asked", DNS_NAME_MAX, name != NULL ? name : "(null)");
		return DNS_BAD;
	}
	for (q = 0;; q++) {
		rc = dns_exchange(d, ans->owner, type, &ans->pkt);
		if (rc != DNS_OK) {
			ans->ad = 0;
			return rc;
		}
		/* a chain asked again is as authenticated as its least part */
		if (!ldns_pkt_ad(ans->pkt))
			ans->ad = 0;
		moved = 0;
		while (rr_find(ans->pkt, LDNS_SECTION_ANSWER, ans->owner, type) == NULL &&
		       (cn = rr_find(ans->pkt, LDNS_SECTION_ANSWER, ans->owner, LDNS_RR_TYPE_CNAME)) != NULL) {
			if (++hops > DNS_CNAME_MAX) {
				log_debug("dns: %s: more than %d CNAMEs", name, DNS_CNAME_MAX);
				return DNS_BAD;
			}
			if (ldns_rr_rd_count(cn) != 1 || ldns_rdf_get_type(ldns_rr_rdf(cn, 0)) != LDNS_RDF_TYPE_DNAME)
				return DNS_BAD;
			next = ldns_rdf_clone(ldns_rr_rdf(cn, 0));
			if (next == NULL)
				return DNS_TEMP;
			ans->ttl = min32(ans->ttl, rr_ttl(cn));
			ldns_rdf_deep_free(ans->owner);
			ans->owner = next;
			moved = 1;
		}
		if (rr_find(ans->pkt, LDNS_SECTION_ANSWER, ans->owner, type) != NULL)
			return DNS_OK;
		if (ldns_pkt_get_rcode(ans->pkt) == LDNS_RCODE_NXDOMAIN) {
			rc = DNS_NXDOMAIN;
			break;
		}
		/* a resolver that finished the chain proves the NODATA with an SOA */
		if (!moved || rr_find(ans->pkt, LDNS_SECTION_AUTHORITY, NULL, LDNS_RR_TYPE_SOA) != NULL) {
			rc = DNS_NODATA;
			break;
		}
		if (q == DNS_REQUERY_MAX) {
			log_debug("dns: %s: CNAME chain still open after %d queries", name, q + 1);
			return DNS_TEMP;
		}
		ldns_pkt_free(ans->pkt);
		ans->pkt = NULL;
	}
	/* the negative answer is about the chain's end: it lasts no longer than the chain */
	ans->neg_ttl = min32(neg_ttl(ans->pkt), ans->ttl);
	return rc;
}

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

			if (!rr_is(rr, ans.owner, LDNS_RR_TYPE_TXT))
				continue;
			ttl = min32(ttl, rr_ttl(rr));
			txt_add(out, rr);
		}
		txt_sort(out);
		out->ttl = ttl;
	} else if (rc > 0) {
		out->neg_ttl = ans.neg_ttl;
	}
	ans_free(&ans);
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

			if (!rr_is(rr, ans.owner, LDNS_RR_TYPE_MX))
				continue;
			ttl = min32(ttl, rr_ttl(rr));
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
	ans_free(&ans);
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

		if (!rr_is(rr, ans->owner, type) || ldns_rr_rd_count(rr) != 1)
			continue;
		ttl = min32(ttl, rr_ttl(rr));
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
			ttl = min32(ttl, addr_add(out, &a4, LDNS_RR_TYPE_A));
		if (r6 == DNS_OK)
			ttl = min32(ttl, addr_add(out, &a6, LDNS_RR_TYPE_AAAA));
		/* the set is also the news that the other family has none */
		if (r4 > 0)
			ttl = min32(ttl, a4.neg_ttl);
		if (r6 > 0)
			ttl = min32(ttl, a6.neg_ttl);
		addr_sort(out);
		out->ttl = ttl;
		out->fail_rc = r4 < 0 ? r4 : r6 < 0 ? r6 : 0;
		rc = DNS_OK;
	} else if (r4 > 0 && r6 > 0) {
		rc = r4 == DNS_NXDOMAIN || r6 == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
		out->neg_ttl = min32(a4.neg_ttl, a6.neg_ttl);
	} else {
		rc = r4 < 0 ? r4 : r6;
	}
	ans_free(&a4);
	ans_free(&a6);
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

			if (!rr_is(rr, ans.owner, LDNS_RR_TYPE_TLSA))
				continue;
			ttl = min32(ttl, rr_ttl(rr));
			tlsa_add(out, rr);
		}
		out->ttl = ttl;
	} else if (rc > 0) {
		out->neg_ttl = ans.neg_ttl;
	}
	ans_free(&ans);
	return rc;
}
