/*
 * daemon/dane.h - a domain's DANE state (RFC 7672): whether its MX hosts
 * publish DNSSEC-authenticated TLSA records a sender can use for SMTP.
 *
 * The state sits beside the domain's MTA-STS entry (shm/sts.h: dane,
 * dane_flags, dane_valid_end) and is looked at on every check of that
 * entry (daemon/sts_check.c).  The steps:
 *
 *   1. MX of the domain, with the resolver's AD bit.  NXDOMAIN or a null
 *      MX (RFC 7505): no mail, so no DANE (MXS_DANE_NONE).  An MX RRset
 *      (or its absence) that is not authenticated: DANE does not apply
 *      (RFC 7672 section 2.2.1), MXS_DANE_NONE with MXS_DANE_F_MX_AD clear.
 *      No MX records (NODATA, authenticated): the domain itself is the one
 *      host (the implicit MX, RFC 5321 section 5.1).
 *   2. TLSA at _25._tcp.<host> for the most preferred hosts, at most
 *      DANE_HOSTS_MAX.  Only an answer with AD counts: TLSA records from an
 *      unsigned zone never do (RFC 7672 section 2.2).
 *   3. At least one host with an authenticated TLSA record usable for SMTP
 *      (dane_tlsa_usable): MXS_DANE_USABLE.  Authenticated TLSA records,
 *      none usable: MXS_DANE_UNUSABLE.  Otherwise MXS_DANE_NONE.
 *
 * A temporary failure (SERVFAIL, timeout, a broken answer) of any lookup
 * keeps the previous state with MXS_DANE_F_TEMP set, and asks again
 * sooner.  A validating resolver answers SERVFAIL for bogus data, which an
 * attacker on the path to the domain's servers can cause: a failure never
 * makes a state, and never ends one that required DANE (a usable or
 * unusable state is held while the failures last).
 *
 * The host names used are the MX targets as published; the CNAME-expanded
 * TLSA base domain of RFC 7672 section 2.2.2 is not tried (Postfix, which
 * looks TLSA up again itself when it delivers, does that part).
 */
#ifndef MXC_DAEMON_DANE_H
#define MXC_DAEMON_DANE_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"

/*
 * MX hosts whose TLSA records are asked, most preferred first.  Every
 * host costs one more lookup of up to a whole DNS timeout on a check
 * that also holds an MTA-STS worker; real domains publish one to four
 * MX hosts, and a sender rarely gets past the first few.  Hosts beyond
 * it do not count (neither towards USABLE nor UNUSABLE).
 */
#define DANE_HOSTS_MAX   8
#define DANE_TTL_MIN     60      /* a state stands at least this long */
#define DANE_TTL_MAX     86400   /* and at most this long, whatever the TTLs say */
#define DANE_RETRY_S     60      /* after a temporary failure, asked again this soon */
/* a usable or unusable state held through failures stands this long from
 * each failed check: past the next retry, so it never lapses between two */
#define DANE_HOLD_S      (3 * DANE_RETRY_S)

/* A state and its times (struct sts_rec's dane fields, and when to check). */
struct dane_state {
	int dane;              /* MXS_DANE_* */
	int flags;             /* MXS_DANE_F_* */
	int64_t valid_end;     /* until when it stands (0: never looked at) */
	int64_t next_check;    /* when to look again, before valid_end */
};

/*
 * What the lookups found: the inputs of dane_verdict.  mx with mx_rc (as
 * dns_mx returned them); tlsa[i] with tlsa_rc[i] for the i-th host asked
 * (the MX hosts in order, or the domain itself for the implicit MX);
 * nhosts: how many were asked.  Pointers are the caller's.
 */
struct dane_in {
	int mx_rc;
	const struct dns_mx *mx;
	size_t nhosts;
	int tlsa_rc[DANE_HOSTS_MAX];
	const struct dns_tlsa *tlsa[DANE_HOSTS_MAX];
};

/*
 * dane_tlsa_usable - 1 if rr is usable for SMTP (RFC 7672 section 3.1,
 * RFC 7671): usage DANE-TA(2) or DANE-EE(3) (PKIX-TA(0) and PKIX-EE(1)
 * are not for SMTP), selector Cert(0) or SPKI(1), matching type Full(0)
 * with some data, SHA2-256(1) with 32 bytes or SHA2-512(2) with 64.
 * Else 0.  Pure.
 */
int dane_tlsa_usable(const struct dns_tlsa_rr *rr);

/*
 * dane_hosts - the hosts whose TLSA records a check asks for, given the
 * MX answer: the MX hosts (at most DANE_HOSTS_MAX), or the domain itself
 * for NODATA.  Returns their number (0: none to ask, or the MX answer
 * decides alone) and points host[i] at the names (into mx, or domain).
 * Pure.
 */
size_t dane_hosts(const char *domain, int mx_rc, const struct dns_mx *mx, const char *host[DANE_HOSTS_MAX]);

/*
 * dane_verdict - the state from what the lookups found, at now; prev: the
 * state before (NULL: none), kept on a temporary failure.  Pure.
 */
void dane_verdict(const struct dane_in *in, const struct dane_state *prev, int64_t now, struct dane_state *out);

/*
 * dane_check - look domain's DANE state up through d now (one MX lookup,
 * then one TLSA lookup per host, stopping at the first failure: a check
 * costs at most one DNS timeout more than its answers).  prev as for
 * dane_verdict.  Thread safety: the thread that owns d.
 */
void dane_check(struct dns *d, const char *domain, const struct dane_state *prev, int64_t now,
		struct dane_state *out);

#endif /* MXC_DAEMON_DANE_H */
