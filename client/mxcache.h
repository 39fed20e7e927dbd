/*
 * mxcache.h - libmxcache, the mxcache client library.
 *
 * A process maps the region of one state directory read-only and answers
 * lookups from it: endpoint overrides, MX answers, MTA-STS policies,
 * federation rules and delivery stats.  The writer daemon, mxcached, owns
 * the data; this library never changes it.
 *
 * Conventions for every function below:
 *   - Results >= 0 are answers (MXC_OK, MXC_NOTFOUND, ...), results < 0 are
 *     errors (MXC_E*); mxc_strerror() names them.
 *   - Lookups are wait-free: no lock, no system call, no allocation, a
 *     bounded number of steps whatever the writer or other readers do.  The
 *     exceptions, each once and off the steady path: the first lookup on a
 *     thread claims a reader slot in this process's reader block (a mutex
 *     private to the handle, no fcntl; a thread that found none tries again
 *     every 1024 lookups or event posts, and at least once a second); when
 *     the block is not registered with the running daemon (it restarted,
 *     or it was not reachable at mxc_open), one lookup of one thread, at
 *     most once a second, registers it (a connect, one message each way,
 *     waiting at most 1 s), the others read slotless meanwhile; the first
 *     lookup after the daemon replaced the region maps the new one, and a
 *     later one unmaps the old when no thread of the process is inside it;
 *     a key with non-ASCII characters or an "xn--" label goes through
 *     libidn2, which allocates internally; the first post of a request to
 *     the daemon (a miss, a use, an event function) after the daemon went
 *     to sleep sends it one byte, never waiting (its doorbell).
 *   - Every lookup may also return MXC_ESYS with errno EAGAIN: a thread
 *     without a slot saw memory reused under it 8 times running, or the
 *     region was replaced 4 times during one lookup.  Both need a writer
 *     far faster than any real one; retry or take the slow path.
 *   - Every lookup returns MXC_EVERSION once the daemon has been upgraded
 *     to an incompatible region layout: reopen (or restart the process).
 *   - A process that forks keeps its handles: the child makes and registers
 *     a reader block of its own on its first lookup (fork handlers
 *     installed by mxc_open); the parent's stays the parent's.
 *   - Answers are copied into caller-owned memory; nothing returned points
 *     into the region.
 *   - One handle per process is enough; every function is safe to call
 *     from any number of threads at once on one handle, except mxc_close().
 *   - The library never exits, aborts, logs or installs signal handlers.
 */
#ifndef MXCACHE_H
#define MXCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MXC_API_VERSION 1

typedef struct mxc mxc_t;

/* answers are >= 0, errors < 0 */
#define MXC_OK          0   /* found */
#define MXC_NOTFOUND    1   /* definite: nothing there */
#define MXC_BACKOFF     2   /* MTA-STS: recent fetch failure, treat as no policy */
#define MXC_EINVAL    (-1)  /* not a domain / IP literal, or a bad argument */
#define MXC_ETOOSMALL (-2)  /* caller's buffer too small; nothing partial written */
#define MXC_ENOREGION (-3)  /* no region for this directory */
#define MXC_EVERSION  (-4)  /* region made by an incompatible version */
#define MXC_ECORRUPT  (-5)  /* region failed validation */
#define MXC_EFULL     (-6)  /* event queue full: event dropped, and counted */
#define MXC_ESYS      (-7)  /* system error, errno holds the cause */

/* Limits of the answers below (named so callers can size buffers). */
#define MXC_HOST_MAX     253   /* longest key or target, without the NUL */
#define MXC_COMMENT_MAX  512   /* longest override comment, without the NUL */
#define MXC_DEFAULT_DIR  "/var/lib/mxcache"

/*
 * mxc_strerror - static text for a result code; never NULL.
 * Thread safety: safe.
 */
const char *mxc_strerror(int rc);

/*
 * mxc_open - map the region of state directory dir.
 * dir: NULL means $MXCACHE_DIR, then MXC_DEFAULT_DIR.
 * Returns MXC_OK and sets *out, or MXC_ENOREGION (no region: the daemon has
 * never run for dir), MXC_EVERSION, MXC_ECORRUPT, MXC_ESYS (errno set);
 * *out is untouched on error.  Works while the daemon is down: answers come
 * from the last published state.  The region file must belong to root or
 * to the owner of dir and be writable by its owner only (else
 * MXC_ECORRUPT).  Allocates the handle (freed by mxc_close).
 * Also creates this process's reader block (a sealed memfd holding its
 * threads' reader slots and event rings) and registers it with mxcached:
 * a connect to dir/readers.sock, one message each way, waiting at most
 * 1 s for the answer.  If that fails (no daemon running, no access to the
 * socket), mxc_open still succeeds: lookups read slotless and the block
 * is offered again, at most once a second, from a later lookup.
 * Thread safety: safe.
 */
int mxc_open(const char *dir, mxc_t **out);

/*
 * mxc_close - unmap and free the handle and let go of this process's
 * reader block: the registration is closed, and the daemon takes the
 * events left in its rings and stops scanning it.  h may be NULL.
 * Thread safety: no other call on h may be running or start afterwards.
 */
void mxc_close(mxc_t *h);

/*
 * mxc_normalize - the canonical spelling of a key, as every table stores it
 * (lower case, no trailing dot, A-labels, bare RFC 5952 / dotted-quad IP).
 * Returns MXC_OK, MXC_EINVAL or MXC_ETOOSMALL (out untouched).  outlen of
 * MXC_HOST_MAX + 1 always suffices.  Thread safety: safe; no handle needed.
 */
int mxc_normalize(const char *key, char *out, size_t outlen);

/*
 * mxc_resolve - endpoint override for key: a domain (any case, optional
 * trailing dot) or an IP literal: bare, [bracketed], or [IPv6:...].
 * MXC_OK: host holds the override's target, or, for an IP key without an
 *         override, the IP itself (bare form).
 * MXC_NOTFOUND: a domain without an override: resolve it through DNS.
 * Errors: MXC_EINVAL (bad key or arguments), MXC_ETOOSMALL (hostlen too
 * small; MXC_HOST_MAX + 1 always suffices), MXC_ECORRUPT.
 * Thread safety: safe.  Wait-free.
 */
int mxc_resolve(mxc_t *h, const char *key, char *host, size_t hostlen);

/*
 * mxc_resolve_mx - MX for a domain.  An override gives one synthetic record
 * {pref 0, target} with *from_override = 1; otherwise the daemon's cached
 * DNS answer (within its TTL), sorted by preference, with *from_override
 * = 0: the MX records, or {0, domain} when the domain has none (the
 * implicit MX of RFC 5321 §5.1), or no records at all (*n = 0) when the
 * domain does not exist or publishes a null MX (RFC 7505): it takes no
 * mail.  Otherwise MXC_NOTFOUND: nothing cached, or the cached answer
 * expired, or the daemon's last lookup failed; in the first two cases the
 * daemon is asked to resolve it (an event, never a wait), so a later call
 * hits.
 * out: max caller-owned records; *n receives how many were written.
 * MXC_ETOOSMALL when max is too small for the answer (nothing written).
 * MXC_EINVAL for an IP literal or a malformed name.
 * Thread safety: safe.  Wait-free.
 */
struct mxc_mx {
	uint16_t pref;
	char host[256];
};
int mxc_resolve_mx(mxc_t *h, const char *domain, struct mxc_mx *out,
		   size_t max, size_t *n, int *from_override);

/*
 * mxc_resolve_mx_flags - mxc_resolve_mx, telling more about the answer in
 * *flags: MXC_MX_F_OVERRIDE (one synthetic record from an override) and
 * MXC_MX_F_AUTHENTICATED (the daemon's resolver set the AD bit on the MX
 * answer: DNSSEC-validated, RFC 4035 section 3.2.3; only as trustworthy
 * as the path to that resolver).  Same returns as mxc_resolve_mx.
 * Thread safety: safe.  Wait-free.
 */
#define MXC_MX_F_OVERRIDE      0x1u
#define MXC_MX_F_AUTHENTICATED 0x2u
int mxc_resolve_mx_flags(mxc_t *h, const char *domain, struct mxc_mx *out, size_t max, size_t *n,
			 unsigned *flags);

/* What the MX cache holds for a domain (mxc_mx_cached). */
#define MXC_MX_RECORDS   1   /* MX records */
#define MXC_MX_IMPLICIT  2   /* no MX: the domain itself */
#define MXC_MX_NXDOMAIN  3   /* the domain does not exist */
#define MXC_MX_NULL      4   /* null MX: no mail accepted */
#define MXC_MX_TEMPFAIL  5   /* the daemon's last lookup failed */
struct mxc_mx_info {
	int kind;                /* MXC_MX_* */
	int64_t fetched;         /* unix seconds of the DNS answer */
	int64_t expires;         /* unix seconds; at or before now: expired */
};

/*
 * mxc_mx_cached - the MX cache's entry for domain, expired or not, without
 * overrides and without asking the daemon for anything: for inspection
 * (shmctl resolve-mx).  out/max/n as mxc_resolve_mx (the implicit MX is
 * written as {0, domain}).  Returns MXC_OK (info filled), MXC_NOTFOUND,
 * MXC_EINVAL, MXC_ETOOSMALL, MXC_ECORRUPT.
 * Thread safety: safe.  Wait-free.
 */
int mxc_mx_cached(mxc_t *h, const char *domain, struct mxc_mx *out, size_t max, size_t *n,
		  struct mxc_mx_info *info);

/* MTA-STS (RFC 8461). */
#define MXC_STS_NONE     0
#define MXC_STS_TESTING  1
#define MXC_STS_ENFORCE  2
#define MXC_STS_ID_MAX   32
#define MXC_STS_MX_MAX   64    /* the daemon stores no policy with more */

/* Why the daemon's last attempt for a domain failed (mxc_sts.failure). */
#define MXC_STS_FAILED_NONE     0
#define MXC_STS_FAILED_DNS      1   /* TXT lookup failed temporarily */
#define MXC_STS_FAILED_FETCH    2   /* HTTPS fetch failed (sts-policy-fetch-error) */
#define MXC_STS_FAILED_INVALID  3   /* policy invalid (sts-policy-invalid) */
#define MXC_STS_FAILED_WEBPKI   4   /* certificate invalid (sts-webpki-invalid) */
#define MXC_STS_FAILED_RECORD   5   /* TXT record malformed or not unique */

/* A cached policy: caller-owned, fixed size (about 16 KiB). */
struct mxc_sts {
	int mode;                        /* MXC_STS_* */
	uint32_t max_age;                /* seconds, at most 31557600 */
	int fresh;                       /* 1: the last check confirmed it */
	int failure;                     /* MXC_STS_FAILED_*: last failed attempt */
	int64_t inserted;                /* unix seconds: first stored */
	int64_t valid_end;               /* usable until then */
	int64_t last_update;             /* last successful check */
	int64_t last_use;                /* last use reported (hourly grain) */
	char id[MXC_STS_ID_MAX + 1];     /* the TXT record's id */
	size_t nmx;
	char mx[MXC_STS_MX_MAX][MXC_HOST_MAX + 1];   /* patterns, "*." kept */
};

/*
 * mxc_sts_get - the cached MTA-STS policy of domain (any spelling).
 * MXC_OK: *out holds a policy valid now (its mode may be none);
 * MXC_NOTFOUND: no usable policy: none cached, the cached one expired, or
 *   the domain is known to publish none.  Unless it is known to publish
 *   none, the daemon is asked to fetch it (an event, never a wait), so a
 *   later call hits.  Deliver as if the domain had no policy (RFC 8461
 *   §3.3).  An IP literal always gives MXC_NOTFOUND;
 * MXC_BACKOFF: a fetch failed recently and nothing is cached: treat as no
 *   policy; the daemon retries on its own schedule.
 * Errors: MXC_EINVAL, MXC_ECORRUPT.
 * Using a policy is reported to the daemon at most hourly per thread and
 * domain (an event), so unused policies can be forgotten.  A policy whose
 * TXT record was last looked at longer ago than the daemon's [sts]
 * recheck_s makes the daemon look again in the background (an event; the
 * answer is the cached policy, and a changed one shows in a later call).
 * Thread safety: safe.  Wait-free.
 */
int mxc_sts_get(mxc_t *h, const char *domain, struct mxc_sts *out);

/*
 * mxc_sts_match - does mx_host match one of p's patterns (RFC 8461 §4.1:
 * "*." stands for exactly one left-most label)?  Case-insensitive; a
 * trailing dot on mx_host is ignored.  Returns 1 or 0 (0 also for NULL).
 * Thread safety: safe; pure.
 */
int mxc_sts_match(const struct mxc_sts *p, const char *mx_host);

/* mxc_sts_failure_name - "none", "dns", "sts-policy-fetch-error",
 * "sts-policy-invalid", "sts-webpki-invalid", "record"; static text. */
const char *mxc_sts_failure_name(int failure);

/*
 * mxc_sts_foreach - call fn for every entry of the MTA-STS cache: kind is
 * MXC_OK (a policy, p filled, expired or not), MXC_BACKOFF (p->valid_end:
 * until when, p->failure: why) or MXC_NOTFOUND (the domain publishes no
 * policy; p->valid_end: until when that stands).  Same view and return
 * rules as mxc_override_foreach.
 * Thread safety: safe.  Not a lookup: bounded by the table size.
 */
typedef int (*mxc_sts_fn)(const char *domain, int kind, const struct mxc_sts *p, void *arg);
int mxc_sts_foreach(mxc_t *h, mxc_sts_fn fn, void *arg);

/*
 * mxc_sts_wait - wait, at most timeout_ms, until the region holds the
 * result of a check of domain (a policy, "publishes none", a backoff or a
 * DANE state): first contact for a domain nobody asked about.  Asks the
 * daemon for the check when nothing is cached.  Sleeps on a futex word of
 * the region that the daemon wakes after each publish; never spins.
 * MXC_OK: something is cached now (ask mxc_tls_policy or mxc_sts_get);
 * MXC_NOTFOUND: the time ran out (the check goes on; a later lookup
 * hits); MXC_EINVAL (not a domain, an IP literal, timeout_ms < 0),
 * MXC_ENOREGION, MXC_ECORRUPT, MXC_ESYS.
 * Thread safety: safe.  NOT a lookup: it blocks (system calls); never
 * call it where a lookup is expected to be wait-free.
 */
int mxc_sts_wait(mxc_t *h, const char *domain, int timeout_ms);

/*
 * mxc_wait_change - sleep until the daemon publishes a change after
 * generation seen, or timeout_ms pass; *gen (may be NULL) receives the
 * generation now.  seen 0: return at once with the current generation.
 * The generation counts publishes of the region (shmctl status).
 * MXC_OK: a publish happened after seen (or seen was 0); MXC_NOTFOUND:
 * the time ran out; MXC_EINVAL (timeout_ms < 0), MXC_ENOREGION,
 * MXC_ECORRUPT, MXC_ESYS.  A region replaced while waiting counts as a
 * change.  Thread safety: safe.  NOT a lookup: it blocks (a futex wait).
 */
int mxc_wait_change(mxc_t *h, uint64_t seen, int timeout_ms, uint64_t *gen);

/*
 * mxc_sts_text - the policy text of domain's cached MTA-STS policy as it
 * was fetched, byte for byte (line endings and extension lines included),
 * copied into buf (len bytes) and NUL-terminated; *textlen its length.
 * MXC_OK; MXC_NOTFOUND (no policy cached, or its text was too long to be
 * kept in the region); MXC_ETOOSMALL (len < *textlen + 1; *textlen set);
 * MXC_EINVAL, MXC_ECORRUPT.  For TLSRPT (RFC 8460 policy-string).
 * Thread safety: safe.  Wait-free.
 */
int mxc_sts_text(mxc_t *h, const char *domain, char *buf, size_t len, size_t *textlen);

/* TLS policy: what a sender should require of domain's MX hosts. */
#define MXC_TLS_PIN   1   /* the operator's pin (shmctl tls set) */
#define MXC_TLS_DANE  2   /* DANE (RFC 7672): "dane-only" or "dane" */
#define MXC_TLS_STS   3   /* an MTA-STS policy: "secure match=... servername=hostname" */
#define MXC_TLS_NONE  4   /* checked: nothing applies; the sender's default */

/* DANE states (mxc_tls.dane), as the daemon last found them. */
#define MXC_DANE_UNKNOWN  0   /* not checked, or its TTL ran out */
#define MXC_DANE_NONE     1   /* no DNSSEC-authenticated MX and TLSA records */
#define MXC_DANE_USABLE   2   /* authenticated MX RRset and usable TLSA records */
#define MXC_DANE_UNUSABLE 3   /* authenticated TLSA records, none usable for SMTP */

#define MXC_TLS_POLICY_MAX 16896  /* a policy answer fits in this, NUL included */

/* mxc_tls_policy flags */
#define MXC_TLS_STRICT_TESTING 0x1u   /* an MTA-STS policy in testing mode counts as enforce */
#define MXC_TLS_INSPECT        0x2u   /* post nothing to the daemon (no check asked, no use) */

struct mxc_tls {
	int source;                      /* MXC_TLS_* */
	int dane;                        /* MXC_DANE_*, whatever the source */
	int sts_mode;                    /* MXC_STS_* of the cached policy, or -1: none */
	int64_t dane_valid_end;          /* unix seconds the DANE state stands until (0: none) */
	int64_t checked;                 /* unix seconds of the last check of the domain (0: none) */
	char policy[MXC_TLS_POLICY_MAX]; /* smtp_tls_policy_maps' answer: a pin's text, "dane-only",
					    "dane", "secure match=a.example:.b.example servername=hostname";
					    "" with MXC_TLS_NONE */
};

/*
 * mxc_tls_policy - the TLS policy for delivering to domain, in the order
 * the mtasts map answers: a pin; else DANE when the domain's DANE state is
 * usable ("dane-only") or unusable ("dane"); else an MTA-STS policy in
 * enforce mode (testing too with MXC_TLS_STRICT_TESTING) with at least one
 * pattern; else MXC_TLS_NONE.  MTA-STS patterns become Postfix's match=
 * list in the policy's order, "*.x" written ".x".
 * MXC_OK: *out filled;
 * MXC_NOTFOUND: nothing is known yet (no pin, never checked): the daemon
 *   is asked to check (unless MXC_TLS_INSPECT), so a later call, or
 *   mxc_sts_wait, finds the answer;
 * MXC_EINVAL (not a domain, an IP literal), MXC_ECORRUPT.
 * Using a policy is reported as by mxc_sts_get, and a policy whose TXT
 * record was last checked longer ago than the daemon's [sts] recheck_s
 * makes the daemon re-check it in the background (never a wait here).
 * Thread safety: safe.  Wait-free.
 */
int mxc_tls_policy(mxc_t *h, const char *domain, unsigned flags, struct mxc_tls *out);

/* TLS pins: per-domain TLS policies set by the operator (shmctl tls). */
#define MXC_PIN_POLICY_MAX 1024

/*
 * mxc_tls_pin_get - the pin of domain (exact domain, any spelling) into
 * policy (len bytes, NUL-terminated).  MXC_OK; MXC_NOTFOUND;
 * MXC_ETOOSMALL (MXC_PIN_POLICY_MAX + 1 always suffices); MXC_EINVAL (not
 * a domain, an IP literal: pins are set for domains only), MXC_ECORRUPT.
 * Thread safety: safe.  Wait-free.
 */
int mxc_tls_pin_get(mxc_t *h, const char *domain, char *policy, size_t len);

/*
 * mxc_tls_pin_foreach - call fn for every pin (canonical domain, policy
 * NUL-terminated, times in unix seconds); a non-zero return from fn stops
 * the walk and is returned.  Same view rules as mxc_override_foreach.
 * Thread safety: safe.  Not a lookup: bounded by the table size.
 */
typedef int (*mxc_tls_pin_fn)(const char *domain, const char *policy, int64_t created, int64_t updated,
			      void *arg);
int mxc_tls_pin_foreach(mxc_t *h, mxc_tls_pin_fn fn, void *arg);

/* Federation policy (which peer domains mail may be exchanged with). */
#define MXC_FED_POLICY_ACCEPT 1   /* all allowed except the rules (blocklist) */
#define MXC_FED_POLICY_REJECT 2   /* all denied except the rules (allowlist) */

/*
 * mxc_federation_allowed - may mail be exchanged with domain?  The local
 * domain is always allowed; under ACCEPT every domain except the rules,
 * under REJECT only the rules; no policy set: ACCEPT.  Any spelling of
 * domain (case, trailing dot, [IP literal]).  No database read.
 * Returns 1 allowed, 0 blocked, or < 0: MXC_EINVAL (not a domain or IP
 * literal), MXC_ECORRUPT.
 * Thread safety: safe.  Wait-free.
 */
int mxc_federation_allowed(mxc_t *h, const char *domain);

/* The federation settings. */
struct mxc_federation {
	int policy;                       /* MXC_FED_POLICY_* */
	char local[MXC_HOST_MAX + 1];     /* always allowed; "" if none */
	uint64_t rules;                   /* how many rules */
	int64_t updated;                  /* unix seconds of the last settings change; 0: never set */
};

/*
 * mxc_federation_get - the settings (defaults when none were ever set).
 * Returns MXC_OK, MXC_ECORRUPT.  Thread safety: safe.  Wait-free.
 */
int mxc_federation_get(mxc_t *h, struct mxc_federation *out);

/*
 * mxc_federation_rules - call fn(domain, created, arg) for every rule, in
 * table order; rules as mxc_override_foreach.  Thread safety: safe.  Not a
 * lookup: bounded by the table size.
 */
typedef int (*mxc_fed_rule_fn)(const char *domain, int64_t created, void *arg);
int mxc_federation_rules(mxc_t *h, mxc_fed_rule_fn fn, void *arg);

/*
 * Per-domain delivery stats.  These post an event to the daemon through
 * this thread's ring and return: they never block on the daemon.  MXC_OK:
 * handed over; MXC_EFULL: the ring was full (or the thread has no reader
 * slot): the event is dropped and counted (shmctl status).  A ring stays
 * full when no daemon has this process's reader block (its registration
 * was refused, or its daemon is gone): a post that finds it full offers
 * the block again, at most once a second, each step of that waiting 20 ms
 * at most.  MXC_EINVAL: a malformed domain, a transport not in the enum
 * (failures need HTTP, HTTPS or SMTP), a delta of 0 or beyond +-1000000,
 * a latency below 0 or above a day.  The daemon aggregates within
 * milliseconds; mxc_stat_get then shows them.  The first post after the
 * daemon went to sleep (100 ms without events) wakes it with one byte on
 * the registration connection, never waiting.
 * Thread safety: safe.  Wait-free, but for that offer on a full ring.
 */
enum mxc_transport { MXC_TRANSPORT_NONE, MXC_TRANSPORT_HTTP, MXC_TRANSPORT_HTTPS, MXC_TRANSPORT_SMTP };
int mxc_queue_add(mxc_t *h, const char *domain, int delta);          /* +1 / -1 */
int mxc_record_success(mxc_t *h, const char *domain, int64_t latency_ms, enum mxc_transport t);
int mxc_record_failure(mxc_t *h, const char *domain, enum mxc_transport t);

/* A domain's delivery counters, as clients reported them (mxc_queue_add,
 * mxc_record_success, mxc_record_failure). */
struct mxc_stat {
	char domain[MXC_HOST_MAX + 1];
	int64_t queued_messages;          /* never below 0 */
	int64_t failed_http, failed_https, failed_smtp;
	int64_t success_http, success_https, success_smtp;
	int64_t successful_deliveries;    /* every success, inbound (NONE) included */
	int64_t total_latency_ms;
	int64_t last_active;              /* unix seconds */
	double mean_latency_ms;           /* total / successful, computed on read; 0 without any */
};

/*
 * mxc_stat_get - the counters of domain (any spelling).  MXC_OK,
 * MXC_NOTFOUND (no event seen for it), MXC_EINVAL, MXC_ECORRUPT.
 * Thread safety: safe.  Wait-free.
 */
int mxc_stat_get(mxc_t *h, const char *domain, struct mxc_stat *out);

/* mxc_stat_foreach - every domain's counters; as mxc_override_foreach. */
typedef int (*mxc_stat_fn)(const struct mxc_stat *s, void *arg);
int mxc_stat_foreach(mxc_t *h, mxc_stat_fn fn, void *arg);

/*
 * mxc_record_server - count a connecting server for the unique-server
 * tracker: conn_ip (an IP address, any spelling) and sender_domain (the
 * domain of the envelope sender, or an IP literal as in user@[1.2.3.4];
 * NULL or "" for none).  The daemon keeps only keyed hashes (HMAC-SHA-256
 * under a key made at each start and never written anywhere) and
 * publishes only the counts.  Returns as the delivery events: MXC_OK,
 * MXC_EFULL (dropped, counted), MXC_EINVAL (conn_ip not an IP, a malformed
 * sender domain, or the two longer than 255 bytes together).
 * Thread safety: safe.  Wait-free.
 */
int mxc_record_server(mxc_t *h, const char *conn_ip, const char *sender_domain);

/* The unique-server tracker's counts since the daemon's start: distinct
 * connecting IPs, sender domains and IP-literal senders. */
struct mxc_servers {
	int64_t boot_time;              /* unix seconds of the daemon's start */
	uint64_t unique_conn_ips;
	uint64_t unique_domains;
	uint64_t unique_ip_servers;     /* senders at an IP literal */
};

/* mxc_servers_get - MXC_OK, MXC_NOTFOUND (the daemon has not published
 * them yet), MXC_ECORRUPT.  Thread safety: safe.  Wait-free. */
int mxc_servers_get(mxc_t *h, struct mxc_servers *out);

/* Events this process could not hand to the daemon (full ring, or no
 * reader slot), counted since mxc_open.  Thread safety: safe. */
uint64_t mxc_events_dropped(mxc_t *h);

/* One endpoint override, as stored. */
struct mxc_override {
	char key[MXC_HOST_MAX + 1];         /* canonical key */
	char target[MXC_HOST_MAX + 1];      /* canonical target */
	char comment[MXC_COMMENT_MAX + 1];
	int64_t created;                    /* unix seconds */
	int64_t updated;                    /* unix seconds */
};

/*
 * mxc_override_get - the override stored under key (any spelling).
 * Returns MXC_OK (out filled), MXC_NOTFOUND, MXC_EINVAL, MXC_ECORRUPT.
 * Thread safety: safe.  Wait-free.
 */
int mxc_override_get(mxc_t *h, const char *key, struct mxc_override *out);

/*
 * mxc_override_foreach - call fn for every override, in table order, from
 * one consistent-enough view: each entry is a published version, entries
 * changed during the walk may show either version.  fn returning non-zero
 * stops the walk and becomes the result.  fn may call other lookups on h.
 * A long walk delays the daemon's reuse of memory (never its publishing).
 * Returns MXC_OK, fn's non-zero value, MXC_ECORRUPT, or MXC_ESYS (a walk
 * without a reader slot saw memory reused under it: walk again).
 * Thread safety: safe.  Not a lookup: bounded by the table size.
 */
typedef int (*mxc_override_fn)(const struct mxc_override *o, void *arg);
int mxc_override_foreach(mxc_t *h, mxc_override_fn fn, void *arg);

/* Region and writer status, as shmctl status shows it. */
struct mxc_status {
	uint32_t layout;
	uint32_t state;              /* 1 initialising, 2 live, 3 retired */
	uint64_t incarnation;
	uint64_t size;               /* bytes mapped (address space) */
	uint64_t backed;             /* of those, backed by memory */
	uint64_t created;            /* unix seconds */
	uint64_t generation;
	uint64_t epoch;
	uint64_t last_publish_ms;
	uint64_t heartbeat_ms;
	uint64_t writer_pid;
	uint64_t writer_start;
	uint64_t writer_exit_ms;     /* clean exit time, else 0 */
	int      writer_alive;       /* 1 running, 0 gone */
	uint64_t arena_used, arena_free, arena_limbo;
	uint64_t overrides;          /* entries in the override table */
	uint32_t nslots;             /* reader slots of the registered client
					processes (the listing; see mxc_status) */
	uint32_t slots_claimed;      /* of those, claimed by a thread */
	uint64_t sts_entries;        /* MTA-STS cache entries (all kinds) */
	uint64_t mx_entries;         /* MX cache entries */
	uint64_t events_posted;      /* client requests to the daemon, in the rings
					of every process registered with it */
	uint64_t events_dropped;     /* of those, dropped on a full ring */
	char     data_path[256];
	char     readers_path[256];  /* the daemon's readers listing */
};

/*
 * mxc_status - fill *st from the region header.  writer_alive is 1 when the
 * region is live, the writer has not exited cleanly, its heartbeat is
 * under 5 s old and its pid exists.  The reader
 * figures (nslots, slots_claimed, events_posted, events_dropped) come from
 * the daemon's readers listing, rewritten once a second, so they may be up
 * to 1 s old; they are 0 when there is no listing or it cannot be read.
 * Returns MXC_OK (or MXC_EINVAL for NULL arguments).  Thread safety: safe.
 * Not a lookup (makes system calls).
 */
int mxc_status(mxc_t *h, struct mxc_status *st);

/*
 * mxc_counter - the daemon's event counter i, 0 <= i < MXC_COUNTERS_MAX:
 * limits reached, admin refusals, invalid client events, SQLite failures
 * (docs/region.md lists them).  Counters grow from 0 at each daemon start
 * and reach the region at most 100 ms late.  *value is in the unit the
 * name says (a "_seconds" counter in seconds).  *name (Prometheus style,
 * without the "mxcache_" prefix) and *help point to static text; either
 * may be NULL.
 * Returns MXC_OK, MXC_NOTFOUND for an index this library has no name for
 * (skip it), MXC_EINVAL, or MXC_ENOREGION/MXC_ECORRUPT as lookups do.
 * Thread safety: safe; wait-free.
 */
#define MXC_COUNTERS_MAX 64
int mxc_counter(mxc_t *h, unsigned i, const char **name, const char **help, double *value);

/*
 * mxc_metrics - the region's figures and the daemon's counters in the
 * Prometheus text exposition format (0.0.4), as shmctl metrics prints
 * them and mxcached's [metrics] endpoint serves them: writer liveness,
 * entries per table, region bytes and generation, the reclamation
 * backlog, reader slots, client events, MTA-STS checks by result, refresh
 * lag, SQLite commits, socketmap requests, limits reached; the reader
 * figures come from the readers listing, as in mxc_status.  Writes a
 * NUL-terminated text into buf (len bytes, caller-owned); *need (may be
 * NULL) gets the size the whole text needs, NUL included.
 * Returns MXC_OK, MXC_ETOOSMALL (buf holds a truncated text: call again
 * with *need bytes), MXC_EINVAL, MXC_ENOREGION, MXC_ECORRUPT.
 * Thread safety: safe.  Not a lookup (mxc_status's system calls).
 */
int mxc_metrics(mxc_t *h, char *buf, size_t len, size_t *need);

/* One claimed reader slot, as shmctl readers shows it. */
struct mxc_reader {
	uint32_t slot;           /* in its process's reader block */
	uint32_t pid;            /* the registering process */
	uint64_t tid;
	uint64_t epoch;          /* 0: outside a lookup */
	uint64_t claimed;        /* unix seconds */
	int      state;          /* MXC_READER_* */
};
#define MXC_READER_LIVE     0   /* owner alive, not holding anything back */
#define MXC_READER_DEAD     1   /* owner process gone; the daemon is taking
				   its last events, then lets the block go */
#define MXC_READER_STALLED  2   /* owner alive, inside a lookup that began
				   before the current epoch */

/*
 * mxc_readers_foreach - call fn for every claimed reader slot of every
 * registered client process, as the daemon's readers listing shows them:
 * the listing is rewritten once a second, so it may be up to 1 s old and
 * need not show this process's latest claims.  Reading it needs only read
 * access to the listing (the region's group), the same as the data file.
 * Returns MXC_OK (also with no call of fn when there is no listing: no
 * daemon has run, or it stopped cleanly), fn's non-zero value, MXC_EINVAL,
 * or MXC_ESYS with errno set: EACCES when the listing cannot be read (not
 * in the region's group), EPERM when the file is not a listing mxcached
 * wrote.  Thread safety: safe.  Not a lookup (reads a file).
 */
typedef int (*mxc_reader_fn)(const struct mxc_reader *r, void *arg);
int mxc_readers_foreach(mxc_t *h, mxc_reader_fn fn, void *arg);

/*
 * mxc_verify - walk the whole region and check every invariant: header,
 * root, every index word, bucket and entry bounds, keys canonical and in
 * the bucket their hash names, filters, table counts.  On failure writes a
 * one-line reason into why (whylen bytes; why may be NULL, whylen 0).
 * Returns MXC_OK or MXC_ECORRUPT.  Thread safety: safe.
 */
int mxc_verify(mxc_t *h, char *why, size_t whylen);

#ifdef __cplusplus
}
#endif

#endif /* MXCACHE_H */
