/*
 * daemon/dns_int.h - what dns.c (servers, exchange, CNAME chain) hands
 * dns_rr.c (the record types).  Nothing else includes it.
 */
#ifndef MXC_DAEMON_DNS_INT_H
#define MXC_DAEMON_DNS_INT_H

#include <stdint.h>

#include <ldns/ldns.h>

#include "dns.h"

#define DNS_TTL_MAX 0x7fffffffu   /* RFC 2181 section 8 */

/* What dns_lookup() found; released with dns_ans_free(). */
struct dns_ans {
	ldns_pkt *pkt;       /* the answer that holds the records */
	ldns_rdf *owner;     /* end of the CNAME chain */
	uint32_t ttl;        /* least TTL over the CNAMEs followed */
	uint32_t neg_ttl;    /* with DNS_NXDOMAIN and DNS_NODATA */
	int ad;              /* every packet followed had the AD bit */
};

static inline uint32_t dns_min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* dns_rr_ttl - rr's TTL, 0 when above 2^31-1. */
uint32_t dns_rr_ttl(const ldns_rr *rr);

/* dns_rr_is - rr is of type and class IN at owner. */
int dns_rr_is(const ldns_rr *rr, const ldns_rdf *owner, ldns_rr_type type);

/*
 * dns_lookup - look up (name, type) and follow the CNAME chain (dns.c
 * says how).  ans is released by the caller with dns_ans_free() whatever
 * the result.
 */
int dns_lookup(struct dns *d, const char *name, ldns_rr_type type, struct dns_ans *ans);
void dns_ans_free(struct dns_ans *ans);

#endif /* MXC_DAEMON_DNS_INT_H */
