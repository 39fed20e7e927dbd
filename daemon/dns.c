/*
 * daemon/dns.c - the lookups on ldns: servers, the exchange, the CNAME
 * chain (the record types' own parts are in dns_rr.c).
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
#include "dns_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "counters.h"
#include "log.h"

#define DNS_RESOLV_CONF  "/etc/resolv.conf"
#define DNS_LABEL_MAX    64          /* "[v6 address]:port" for log lines */

struct dns {
	ldns_resolver *srv[DNS_SERVERS_MAX];  /* one nameserver each */
	char label[DNS_SERVERS_MAX][DNS_LABEL_MAX];
	size_t n;
	size_t cur;                           /* answered last, so asked first */
	unsigned tries;                       /* per server: retries + 1 */
};

uint32_t dns_rr_ttl(const ldns_rr *rr)
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

int dns_rr_is(const ldns_rr *rr, const ldns_rdf *owner, ldns_rr_type type)
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
				  : dns_rr_is(rr, owner, type))
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
	return dns_min32(dns_rr_ttl(soa), dns_min32(ldns_rdf2native_int32(min), DNS_TTL_MAX));
}

void dns_ans_free(struct dns_ans *ans)
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
 * with dns_ans_free() whatever the result.
 */
int dns_lookup(struct dns *d, const char *name, ldns_rr_type type, struct dns_ans *ans)
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
			ans->ttl = dns_min32(ans->ttl, dns_rr_ttl(cn));
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
	ans->neg_ttl = dns_min32(neg_ttl(ans->pkt), ans->ttl);
	return rc;
}
