/*
 * shm/key.h - the one key normaliser.
 *
 * Every table (overrides, and later MTA-STS, MX, federation rules, stats)
 * stores keys in one canonical spelling, and every path that takes a key
 * from a user (set, get, delete, resolve, rules, counters) runs it through
 * mxk_normalize() first, so a key stored in one spelling is found in every
 * other:
 *
 *   domain        lower-case, one trailing dot dropped, Unicode labels turned
 *                 into A-labels (IDNA2008 with UTS#46 mapping, libidn2),
 *                 LDH labels of 1..63 octets, at most 253 octets in all, a
 *                 last label that is not all digits
 *   IPv4 literal  "1.2.3.4" or "[1.2.3.4]"  ->  "1.2.3.4" (dotted quad)
 *   IPv6 literal  "::1", "[::1]", "[IPv6:::1]" (tag in any case) -> "::1",
 *                 compressed per RFC 5952
 *
 * Pure computation, no I/O.  Plain ASCII input never allocates.  Non-ASCII
 * input, and ASCII input with an "xn--" label (checked by a round trip),
 * go through libidn2, which allocates internally (freed before return).
 * Thread safety: safe, no shared state.
 */
#ifndef MXC_SHM_KEY_H
#define MXC_SHM_KEY_H

#include <stddef.h>

/* Longest canonical key: a 253-octet domain (RFC 1035 presentation form). */
#define MXK_MAX_LEN      253
/* Longest input accepted before normalising (brackets, tag, dot, UTF-8). */
#define MXK_MAX_INPUT    1024

enum mxk_kind {
	MXK_DOMAIN = 1,
	MXK_IPV4   = 2,
	MXK_IPV6   = 3,
};

/* results of mxk_normalize(); the client maps them to MXC_* codes */
#define MXK_OK         0
#define MXK_EINVAL   (-1)   /* not a domain and not an IP literal */
#define MXK_ETOOSMALL (-2)  /* out is shorter than the canonical form + NUL */

/*
 * mxk_normalize - canonical form of a domain or IP literal.
 * in:     NUL-terminated key as a user typed it.
 * out:    receives the canonical form, NUL-terminated; outlen >= 254 always
 *         suffices.  Untouched on error.
 * kind:   receives the enum mxk_kind (may be NULL).
 * Returns MXK_OK and the length through *len (may be NULL), or MXK_EINVAL /
 * MXK_ETOOSMALL.
 */
int mxk_normalize(const char *in, char *out, size_t outlen, size_t *len, int *kind);

/*
 * mxk_normalize_full - mxk_normalize() without its fast path for plain
 * host names: every key through the general parser.  Same contract and
 * the very same results; it exists so that tests can hold the fast path
 * to it.  Slower: callers want mxk_normalize().
 */
int mxk_normalize_full(const char *in, char *out, size_t outlen, size_t *len, int *kind);

/* mxk_kind_name - "domain", "ipv4", "ipv6" or "invalid"; static text. */
const char *mxk_kind_name(int kind);

#endif /* MXC_SHM_KEY_H */
