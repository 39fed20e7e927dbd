/*
 * daemon/dns.h - blocking DNS lookups (TXT, MX, A+AAAA, TLSA) through the
 * configured recursive resolvers, on ldns.
 *
 * The servers are recursive resolvers ([dns] servers, else the
 * nameservers of resolv.conf): every query has RD set, and the answer
 * section is expected to hold the whole CNAME chain.  Each query is sent
 * over UDP with EDNS (DNS_EDNS_UDP_SIZE); a truncated answer is asked
 * again over TCP (ldns's fallback).
 *
 * Servers are tried in order, starting with the one that answered last,
 * so a dead first server costs one timeout, not one per query.  A try
 * that times out, fails, or brings back a broken answer moves on to the
 * next server; every server is tried retries+1 times in all.  One call
 * therefore takes at most about timeout_ms * (retries + 1) * nservers
 * per query it sends (dns_addrs sends two, see there; a CNAME chain that
 * does not end in the answer adds at most DNS_REQUERY_MAX more).
 *
 * DNSSEC: every query carries the DO bit (RFC 3225), and every result says
 * in ad whether the resolver set the AD bit on each answer it came from
 * (RFC 4035 section 3.2.3: it validated the data; for NXDOMAIN and NODATA,
 * an authenticated denial).  We do not validate: we trust the configured
 * resolver's AD bit, as Postfix does with smtp_dns_support_level = dnssec,
 * so that resolver must validate and be reached over a path nobody can
 * tamper with (loopback; docs/daemon.md).  A resolver that does not
 * validate never sets AD, and DANE is then never used.  Every answer taken
 * is counted by its AD bit (MXS_CTR_DNS_AD, MXS_CTR_DNS_NOAD).
 *
 * Results are copied into the caller's struct: nothing to free, and no
 * pointer into ldns memory survives a call.  On any rc other than DNS_OK,
 * n is 0; ttl is set only with DNS_OK, neg_ttl only with DNS_NXDOMAIN and
 * DNS_NODATA (the other is 0).  TTLs are seconds, already the least over
 * every record used, CNAMEs included; a TTL above 2^31-1 counts as 0
 * (RFC 2181 section 8).
 *
 * Names asked are given in presentation form, an optional trailing dot,
 * at most DNS_NAME_MAX bytes, printable ASCII without spaces or
 * backslashes (an IDN must already be A-labels).  Anything else is
 * DNS_BAD with no packet sent.
 *
 * The process must ignore SIGPIPE (mxcached does): the TCP fallback
 * writes to sockets the server may have closed.
 *
 * Thread safety: ldns_resolver is not thread-safe, so a struct dns is
 * used by one thread at a time; give every worker thread its own.
 * Different handles may be used at the same time from different threads.
 */
#ifndef MXC_DAEMON_DNS_H
#define MXC_DAEMON_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

#define DNS_NAME_MAX        253    /* presentation form, no trailing dot */
#define DNS_TXT_MAX         8      /* TXT records kept per answer */
#define DNS_TXT_LEN_MAX     4096   /* one record's joined strings */
#define DNS_MX_MAX          32
#define DNS_ADDR_MAX        16
#define DNS_TLSA_MAX        16     /* TLSA records kept per answer */
#define DNS_TLSA_DATA_MAX   64     /* bytes of association data kept (SHA2-512) */
#define DNS_SERVERS_MAX     CONFIG_DNS_SERVERS_MAX
#define DNS_TIMEOUT_MAX_MS  60000
#define DNS_RETRIES_MAX     5
#define DNS_CNAME_MAX       8      /* CNAMEs followed per lookup */
#define DNS_REQUERY_MAX     2      /* extra queries for a chain cut short */
#define DNS_NEG_TTL_DEFAULT 300    /* negative answer without an SOA */
#define DNS_EDNS_UDP_SIZE   1232   /* DNS flag day 2020: no fragments */

enum dns_rc {
	DNS_OK = 0,        /* answer with at least one record of the type */
	DNS_NXDOMAIN = 1,  /* name does not exist (neg_ttl set) */
	DNS_NODATA = 2,    /* name exists, no record of the type (neg_ttl set) */
	DNS_TEMP = -1,     /* SERVFAIL/REFUSED, truncated, or no server could be reached */
	DNS_TIMEOUT = -2,  /* no answer from any server within the timeout and retries */
	DNS_BAD = -3,      /* malformed or mismatched answer, FORMERR/NOTIMP,
			      CNAME loop, or a bad name asked */
};

struct dns_cfg {
	const struct config_addr *servers;  /* with their ports */
	size_t nservers;                    /* 0: the nameservers of resolv_conf */
	const char *resolv_conf;            /* NULL: /etc/resolv.conf */
	unsigned timeout_ms;                /* per try, 1..DNS_TIMEOUT_MAX_MS */
	unsigned retries;                   /* tries per server after the first, 0..DNS_RETRIES_MAX */
};

struct dns;

/*
 * dns_new - a handle on cfg's servers (cfg is not kept).  At most
 * DNS_SERVERS_MAX servers; resolv.conf's beyond that are ignored, as are
 * its search, domain and options lines (names asked are always absolute).
 * An IPv6 scope id is not kept (ldns keeps the address only).
 * Returns NULL with a one-line message in err ("dns: ...") for a bad cfg,
 * an unreadable resolv.conf or one without a nameserver.
 * Thread safety: any thread.
 */
struct dns *dns_new(const struct dns_cfg *cfg, char *err, size_t errlen);

/* dns_free - d may be NULL.  Thread safety: the thread that owns d. */
void dns_free(struct dns *d);

/*
 * TXT records of the name at the end of the CNAME chain.  Each record's
 * character-strings are joined without separators (RFC 7489, RFC 8461) and
 * NUL-terminated; len is the joined length, so a record holding a NUL byte
 * shows as strlen(rec) != len.  Records are sorted (bytewise, then by
 * length).  more counts records not kept: beyond DNS_TXT_MAX (the first in
 * answer order are kept) or longer than DNS_TXT_LEN_MAX; so DNS_OK may
 * come with n == 0 when more > 0.
 */
struct dns_txt {
	size_t n;
	uint32_t ttl;
	uint32_t neg_ttl;
	int ad;            /* every answer used had the AD bit (any rc >= 0) */
	char rec[DNS_TXT_MAX][DNS_TXT_LEN_MAX + 1];
	size_t len[DNS_TXT_MAX];
	size_t more;
};

/* dns_txt - TXT for name.  Thread safety: the thread that owns d. */
int dns_txt(struct dns *d, const char *name, struct dns_txt *out);

/*
 * MX records, sorted by preference then host.  host is lower-case without
 * the trailing dot (ldns presentation form: a byte that needs one keeps
 * its backslash escape).  A null MX (RFC 7505: the single record "0 .")
 * is n = 1, nullmx = 1, rr[0].host "".  A "." mixed with real hosts is
 * dropped.  Beyond DNS_MX_MAX the most preferred are kept and more counts
 * the rest (and any host whose presentation form is over DNS_NAME_MAX).
 */
struct dns_mx_rr {
	uint16_t pref;
	char host[DNS_NAME_MAX + 1];
};

struct dns_mx {
	size_t n;
	uint32_t ttl;
	uint32_t neg_ttl;
	int ad;            /* every answer used had the AD bit (any rc >= 0) */
	int nullmx;
	struct dns_mx_rr rr[DNS_MX_MAX];
	size_t more;
};

/* dns_mx - MX for domain.  Thread safety: the thread that owns d. */
int dns_mx(struct dns *d, const char *domain, struct dns_mx *out);

/*
 * Addresses (A, then AAAA) with port 0, sorted by family then address.
 * more counts those beyond DNS_ADDR_MAX (A records are kept first).
 */
struct dns_addr {
	size_t n;
	uint32_t ttl;
	uint32_t neg_ttl;
	int ad;            /* both families' answers had the AD bit (any rc >= 0) */
	struct sockaddr_storage a[DNS_ADDR_MAX];
	socklen_t alen[DNS_ADDR_MAX];
	size_t more;
	int fail_rc;       /* with DNS_OK: 0, or the rc (< 0) of the family
			      that failed while the other had records */
};

/*
 * dns_addrs - A and AAAA for host, asked one after the other.  DNS_OK if
 * either has records (ttl also no more than the other family's negative
 * TTL: the set says that family has none); otherwise NXDOMAIN if either
 * said so, NODATA if both did (neg_ttl the lesser), else the failure.
 * When every server timed out for A, AAAA is not asked (DNS_TIMEOUT): it
 * would only double the wait.  Thread safety: the thread that owns d.
 */
int dns_addrs(struct dns *d, const char *host, struct dns_addr *out);

/*
 * TLSA records (RFC 6698) of the name at the end of the CNAME chain, in
 * answer order.  Each keeps its three fields, the length of its
 * certificate association data and that data up to DNS_TLSA_DATA_MAX bytes
 * (enough for every digest; a full certificate or key is cut, len tells).
 * A record whose rdata is shorter than the three fields is not kept and
 * counted in bad.  Beyond DNS_TLSA_MAX the first are kept and more counts
 * the rest.
 */
struct dns_tlsa_rr {
	uint8_t usage;     /* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
	uint8_t selector;  /* 0 full certificate, 1 SubjectPublicKeyInfo */
	uint8_t mtype;     /* 0 full data, 1 SHA2-256, 2 SHA2-512 */
	size_t len;        /* bytes of association data in the record */
	uint8_t data[DNS_TLSA_DATA_MAX];
};

struct dns_tlsa {
	size_t n;
	uint32_t ttl;
	uint32_t neg_ttl;
	int ad;            /* the answer had the AD bit (any rc >= 0) */
	struct dns_tlsa_rr rr[DNS_TLSA_MAX];
	size_t more;
	size_t bad;
};

/*
 * dns_tlsa - TLSA for name (e.g. "_25._tcp.mx.example.org").  DNS_OK may
 * come with n == 0 when every record was malformed (bad) or beyond the
 * limit.  Thread safety: the thread that owns d.
 */
int dns_tlsa(struct dns *d, const char *name, struct dns_tlsa *out);

/*
 * dns_rc_name - "ok", "nxdomain", "nodata", "temporary failure",
 * "timeout", "bad answer"; "unknown" otherwise.  Static text.
 * Thread safety: any thread.
 */
const char *dns_rc_name(int rc);

#endif /* MXC_DAEMON_DNS_H */
