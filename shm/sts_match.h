/*
 * shm/sts_match.h - does an MX host name match one MTA-STS mx pattern.
 *
 * The rule (RFC 8461 section 4.1): a pattern is either a host name, which
 * matches that name only, or "*." followed by a domain, where the "*"
 * stands for exactly one whole left-most label.  So "*.example.com"
 * matches "mail.example.com" but neither "example.com" nor
 * "a.b.example.com", and an empty label (".example.com") is not a label.
 * No other wildcard form exists ("*" alone, "m*.example.com", "*.*.x" never
 * match anything).  Names compare ASCII case-insensitively; patterns are
 * stored canonical (lower-case, no trailing dot, see daemon/sts_parse.h),
 * the host is taken as DNS gave it, so one trailing dot on it is ignored.
 *
 * Inline, leaf-only and libc-free because the client library runs it inside
 * a wait-free lookup on the shared region: it must not take a lock, call
 * into the locale (tolower() folds differently under a Turkish locale),
 * allocate or loop without bound.  Every loop is bounded by the lengths
 * given, and a host over 255 bytes is refused before any loop runs.
 * Thread safety: safe, no shared state.
 */
#ifndef MXC_SHM_STS_MATCH_H
#define MXC_SHM_STS_MATCH_H

#include <stddef.h>

/* Longest host accepted, trailing dot included (a wire name is <= 255). */
#define MXS_STS_HOST_MAX 255

static inline char mxc_sts_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Equal over n bytes, ASCII case folded on both sides. */
static inline int mxc_sts_eq_ci(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (mxc_sts_lower(a[i]) != mxc_sts_lower(b[i]))
			return 0;
	return 1;
}

/*
 * mxc_sts_pattern_match - 1 if host (hlen bytes, no NUL needed) matches
 * pattern (plen bytes), else 0.  Either pointer may be NULL when its length
 * is 0.  Patterns are folded too, so a hand-written upper-case one still
 * works, but only the canonical form is promised.
 */
static inline int mxc_sts_pattern_match(const char *pattern, size_t plen, const char *host, size_t hlen)
{
	size_t slen, i;

	if (pattern == NULL || host == NULL || plen == 0 || hlen == 0 || hlen > MXS_STS_HOST_MAX)
		return 0;
	if (host[hlen - 1] == '.')
		hlen--;
	if (hlen == 0)
		return 0;

	if (pattern[0] != '*') {
		if (plen != hlen)
			return 0;
		return mxc_sts_eq_ci(pattern, host, hlen);
	}

	/* "*." plus at least one more byte; anything else with a '*' is junk. */
	if (plen < 3 || pattern[1] != '.')
		return 0;
	slen = plen - 1;                /* the suffix ".example.com" */
	if (hlen <= slen)       /* the '*' must cover at least one byte */
		return 0;
	if (!mxc_sts_eq_ci(pattern + 1, host + (hlen - slen), slen))
		return 0;
	/* What the '*' covers: one label, so non-empty and without a dot. */
	for (i = 0; i < hlen - slen; i++)
		if (host[i] == '.')
			return 0;
	return 1;
}

#endif /* MXC_SHM_STS_MATCH_H */
