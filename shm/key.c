/*
 * shm/key.c - the one key normaliser (contract in shm/key.h).
 *
 * Every table is keyed by the string this returns, so anything lenient here
 * becomes two spellings of one key and a missed lookup somewhere else.  The
 * parser therefore accepts exactly the forms key.h lists and rejects the
 * rest rather than guessing.  Validation is finished before anything is
 * copied out, which is what keeps out untouched on every error.
 */
#include "shm/key.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <idn2.h>

#define MXK_MAX_LABEL 63

/* RFC 5321 address-literal tag; matched case-insensitively. */
#define MXK_V6_TAG     "ipv6:"
#define MXK_V6_TAG_LEN 5

/*
 * Hand-rolled instead of tolower()/strncasecmp(): those follow the process
 * locale (the Turkish dotless i being the classic trap), and a key must
 * fold the same way in every process that maps the table.
 */
static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int has_prefix_ci(const char *s, const char *lower_prefix, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || ascii_lower(s[i]) != lower_prefix[i])
			return 0;
	return 1;
}

static int is_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/*
 * Parse src as an address of family af and leave its inet_ntop spelling in
 * dst.  dst may overlap src (src is fully parsed before dst is written) and
 * must hold INET6_ADDRSTRLEN bytes; on failure dst is not written, so the
 * caller can try the other family on the same text.
 */
static int ip_canon(int af, const char *src, char *dst)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(af, src, addr) != 1)
		return 0;
	if (!inet_ntop(af, addr, text, sizeof(text)))
		return 0;
	/*
	 * glibc already refuses "01.2.3.4", but other libcs (and old BSD
	 * inet_aton habits) read leading zeros as octal or ignore them.
	 * Requiring the input to be its own canonical form makes the
	 * accepted IPv4 set independent of the libc underneath.
	 */
	if (af == AF_INET && strcmp(text, src) != 0)
		return 0;
	memcpy(dst, text, strlen(text) + 1);
	return 1;
}

/* "[...]": an address literal, never a domain (brackets are not LDH). */
static int canon_bracketed(char *s, size_t n)
{
	char *inner = s + 1;

	if (n < 3 || s[n - 1] != ']')
		return MXK_EINVAL;
	s[n - 1] = '\0';
	/*
	 * The tag commits to IPv6: RFC 5321 spells an IPv4 literal without
	 * one, so "[IPv6:1.2.3.4]" is a malformed literal, not an IPv4.
	 */
	if (has_prefix_ci(inner, MXK_V6_TAG, MXK_V6_TAG_LEN))
		return ip_canon(AF_INET6, inner + MXK_V6_TAG_LEN, s) ? MXK_IPV6 : MXK_EINVAL;
	if (ip_canon(AF_INET, inner, s))
		return MXK_IPV4;
	if (ip_canon(AF_INET6, inner, s))
		return MXK_IPV6;
	return MXK_EINVAL;
}

/*
 * An A-label that is merely LDH can still be garbage punycode, or encode a
 * code point IDNA2008 disallows.  Decoding and re-encoding it must give
 * back the very same label, which catches both and also non-canonical
 * encodings that would otherwise be a second spelling of one name.
 */
static int alabel_ok(const char *label)
{
	char *ulabel = NULL;
	uint8_t *back = NULL;
	int good;

	if (idn2_to_unicode_8z8z(label, &ulabel, 0) != IDN2_OK || !ulabel || ulabel[0] == '\0') {
		idn2_free(ulabel);
		return 0;
	}
	good = idn2_lookup_u8((const uint8_t *)ulabel, &back, IDN2_NONTRANSITIONAL) == IDN2_OK &&
	       back && strcmp((const char *)back, label) == 0;
	idn2_free(ulabel);
	idn2_free(back);
	return good;
}

/* Runs after canon_domain, so every label is lower-case LDH of 1..63 octets. */
static int alabels_ok(const char *s)
{
	char label[MXK_MAX_LABEL + 1];
	const char *p = s, *dot;
	size_t ll;

	for (;;) {
		dot = strchr(p, '.');
		ll = dot ? (size_t)(dot - p) : strlen(p);
		if (ll >= 4 && memcmp(p, "xn--", 4) == 0) {
			memcpy(label, p, ll);
			label[ll] = '\0';
			if (!alabel_ok(label))
				return 0;
		}
		if (!dot)
			return 1;
		p = dot + 1;
	}
}

/*
 * Domain rules on s (length n, NUL-terminated, ASCII), lower-casing in
 * place.  On success *np is the canonical length.
 */
static int canon_domain(char *s, size_t n, size_t *np)
{
	size_t i, start = 0, ll;
	int digits_only = 1, has_alabel = 0;
	char c;

	/* Only the root's own dot is dropped; ".." is an empty label. */
	if (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	if (n == 0 || n > MXK_MAX_LEN)
		return MXK_EINVAL;

	for (i = 0; i <= n; i++) {
		c = s[i];
		if (i == n || c == '.') {
			ll = i - start;
			if (ll == 0 || ll > MXK_MAX_LABEL || s[start] == '-' || s[i - 1] == '-')
				return MXK_EINVAL;
			if (ll >= 4 && memcmp(s + start, "xn--", 4) == 0)
				has_alabel = 1;
			/*
			 * An all-digit TLD would make "1.2.3" or "999.1.1.1"
			 * (which inet_pton refuses) pass as a name and shadow
			 * the address a user most likely meant.
			 */
			if (i == n && digits_only)
				return MXK_EINVAL;
			start = i + 1;
			digits_only = 1;
			continue;
		}
		if (c >= 'A' && c <= 'Z') {
			s[i] = ascii_lower(c);
			digits_only = 0;
		} else if ((c >= 'a' && c <= 'z') || c == '-') {
			digits_only = 0;
		} else if (!(c >= '0' && c <= '9')) {
			return MXK_EINVAL;
		}
	}
	/* libidn2 only when there is punycode to check: ASCII must not allocate. */
	if (has_alabel && !alabels_ok(s))
		return MXK_EINVAL;
	*np = n;
	return MXK_DOMAIN;
}

/*
 * Non-ASCII input goes through UTS#46 (mapping, which also case-folds, and
 * NFC) into buf, then through the same ASCII domain rules, so a U-label
 * name and its A-label spelling meet in one key.  An IDNA result is always
 * treated as a name, never as an address literal: fullwidth digits mapping
 * to "1.2.3.4" are a confusable, not a way to write an address.
 */
static int canon_unicode(const char *in, char *buf, size_t *np)
{
	char *res = NULL;
	size_t n;

	if (idn2_to_ascii_8z(in, &res, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK || !res) {
		idn2_free(res);
		return MXK_EINVAL;
	}
	n = strlen(res);
	if (n > MXK_MAX_INPUT) {
		idn2_free(res);
		return MXK_EINVAL;
	}
	memcpy(buf, res, n + 1);
	idn2_free(res);
	return canon_domain(buf, n, np);
}

/*
 * LDH bytes mapped to their lower-case form; 0 for every byte that cannot
 * appear in a plain host name.  One load per byte instead of a chain of
 * range tests: the per-byte branches were most of a lookup's cost.
 */
static const unsigned char ldh_lower[256] = {
	['-'] = '-', ['.'] = '.',
	['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
	['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
#define L_(u, l) [u] = l, [l] = l
	L_('A', 'a'), L_('B', 'b'), L_('C', 'c'), L_('D', 'd'), L_('E', 'e'), L_('F', 'f'), L_('G', 'g'),
	L_('H', 'h'), L_('I', 'i'), L_('J', 'j'), L_('K', 'k'), L_('L', 'l'), L_('M', 'm'), L_('N', 'n'),
	L_('O', 'o'), L_('P', 'p'), L_('Q', 'q'), L_('R', 'r'), L_('S', 's'), L_('T', 't'), L_('U', 'u'),
	L_('V', 'v'), L_('W', 'w'), L_('X', 'x'), L_('Y', 'y'), L_('Z', 'z'),
#undef L_
};

/* Is the label out[start..end) acceptable to the fast path? */
static int fast_label_ok(const char *out, size_t start, size_t end)
{
	size_t ll = end - start;

	return ll > 0 && ll <= MXK_MAX_LABEL && out[start] != '-' && out[end - 1] != '-' &&
	       !(ll >= 4 && memcmp(out + start, "xn--", 4) == 0);
}

/*
 * The common case, a plain ASCII host name, in one pass straight into out.
 * Returns MXK_DOMAIN with *np set, or 0 to send the key down the general
 * path (anything unusual: an address, brackets, an A-label to verify, a
 * bad or over-long label, a short buffer), which then decides alone.  So
 * the fast path can only ever agree with the general one.
 */
static int fast_domain(const char *in, char *dst, size_t outlen, size_t *np)
{
	char out[MXK_MAX_LEN + 2];   /* dst stays untouched unless we succeed */
	size_t i, start = 0, n;
	int alpha = 0, prev_alpha = 0;
	unsigned char m;

	if (in[0] == '\0')
		return 0;

	for (i = 0; in[i] != '\0'; i++) {
		if (i > MXK_MAX_LEN || i + 1 >= outlen)
			return 0;
		m = ldh_lower[(unsigned char)in[i]];
		if (m == 0)
			return 0;
		out[i] = (char)m;
		if (m == '.') {
			if (!fast_label_ok(out, start, i))
				return 0;
			start = i + 1;
			prev_alpha = alpha;
			alpha = 0;
		} else {
			alpha |= m >= 'a' || m == '-';
		}
	}
	n = i;
	if (n > 0 && out[n - 1] == '.') {
		/* one root dot: the last label is the one before it */
		n--;
		alpha = prev_alpha;
	} else if (!fast_label_ok(out, start, n)) {
		return 0;
	}
	/* an all-digit last label is for the general path to judge */
	if (n == 0 || n > MXK_MAX_LEN || !alpha)
		return 0;
	out[n] = '\0';
	memcpy(dst, out, n + 1);
	*np = n;
	return MXK_DOMAIN;
}

/* from the fast passes: the key is for the byte loop (not a verdict) */
#define FAST_LONG   (-1)

/*
 * The SSE2 pass.  SSE2 is part of x86-64 itself, so no run-time CPU check
 * is needed; other targets build the byte loop above alone (or define
 * MXK_NO_SIMD to get it on x86-64 too).
 */
#if defined(__SSE2__) && !defined(MXK_NO_SIMD)
#define MXK_FAST_SIMD 1
#include <emmintrin.h>

/* The window the SSE2 pass sees: four aligned 16-byte blocks, so every
 * per-byte fact about it fits one 64-bit mask.  Names that do not end in
 * it (longer than 48..63 bytes, by alignment) take the byte loop. */
#define SIMD_BLOCK  16
#define SIMD_WINDOW 64

/* AddressSanitizer, as gcc (__SANITIZE_ADDRESS__) and clang
 * (__has_feature) each announce it */
#if defined(__SANITIZE_ADDRESS__)
#define MXK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MXK_UNDER_ASAN 1
#endif
#endif

/* Bytes of v in [lo, lo + span), as 0xff: one add moves the range to the
 * bottom of the signed scale, where one signed compare tests both ends. */
static inline __m128i byte_in(__m128i v, int lo, int span)
{
	return _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - lo))),
			      _mm_set1_epi8((char)(-128 + span)));
}

/* Copy n (1..SIMD_WINDOW - 1) bytes as a few overlapping fixed-size moves:
 * a call to memcpy for a 20-byte key cost more than the checks above it. */
static inline void copy_short(char *dst, const char *src, size_t n)
{
	if (n >= 32) {
		memcpy(dst, src, 16);
		memcpy(dst + 16, src + 16, 16);
		memcpy(dst + n - 32, src + n - 32, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 16) {
		memcpy(dst, src, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		dst[0] = src[0];
		dst[n / 2] = src[n / 2];
		dst[n - 1] = src[n - 1];
	}
}

/*
 * One aligned block of the SSE2 pass: store its bytes lower-cased at dst
 * and return as bit masks its dots, its hyphens and its bytes that are not
 * LDH (the NUL among them).
 */
static inline unsigned simd_block(const char *src, char *dst, unsigned *dot, unsigned *dash)
{
	__m128i v = _mm_load_si128((const __m128i *)(const void *)src);
	/* v | 0x20 is a lower-case letter exactly when v is a letter of
	 * either case: one range test finds both, and says where to set
	 * the case bit */
	__m128i letter = byte_in(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 26);
	__m128i lo = _mm_or_si128(v, _mm_and_si128(letter, _mm_set1_epi8(0x20)));
	__m128i dt = _mm_cmpeq_epi8(v, _mm_set1_epi8('.'));
	__m128i ds = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
	__m128i ldh = _mm_or_si128(_mm_or_si128(letter, byte_in(v, '0', 10)), _mm_or_si128(dt, ds));

	_mm_store_si128((__m128i *)(void *)dst, lo);
	*dot = (unsigned)_mm_movemask_epi8(dt);
	*dash = (unsigned)_mm_movemask_epi8(ds);
	return ~(unsigned)_mm_movemask_epi8(ldh) & 0xffffu;
}

/*
 * fast_domain_simd - fast_domain() in one pass of 16 bytes at a time over
 * the aligned window holding the key: lower-case every byte, and turn its
 * dots, hyphens and non-LDH bytes into 64-bit masks, so that the label
 * rules are a few shifts on those masks instead of a branch or two per
 * byte.  The loads are aligned, so none can cross into a page the key does
 * not reach; the first non-LDH byte must be the key's NUL.  Returns
 * MXK_DOMAIN with dst and *np set; 0 for the general path (nothing
 * decided, dst untouched); FAST_LONG for the byte loop.
 *
 * Measured (callgrind, build/bench/bench_key: mxk_normalize on the first
 * 1,000 keys of bench/common.h, 10..40 bytes such as "mx12.acme.io"): 164
 * instructions a call, against 271 for the pass this replaced (a strnlen
 * call, then unaligned loads, then a memcpy call); the same keys in mixed
 * case with a root dot cost 166 against 273.  Aligned loads also keep
 * valgrind's memcheck quiet, which accepts a partly valid aligned load but
 * not an unaligned one.
 */
static inline int fast_domain_simd(const char *in, char *dst, size_t outlen, size_t *np)
{
	char buf[SIMD_WINDOW] __attribute__((aligned(SIMD_BLOCK)));
	size_t off = (uintptr_t)in & (SIMD_BLOCK - 1), end, n, k, tld;
	const char *base = (const char *)((uintptr_t)in & ~(uintptr_t)(SIMD_BLOCK - 1));
	uint64_t stop, dots, hyph, valid, starts, ends, endbit;
	unsigned d, h;

#if defined(MXK_UNDER_ASAN)
	/* The aligned blocks reach past the key on both sides, which is safe
	 * (same page) but not a read AddressSanitizer can tell from a bug:
	 * under it, run the same pass on a copy. */
	char copy[SIMD_WINDOW] __attribute__((aligned(SIMD_BLOCK)));

	n = strnlen(in, SIMD_WINDOW);
	if (n == SIMD_WINDOW)
		return FAST_LONG;
	memset(copy, 0, sizeof(copy));
	memcpy(copy, in, n);
	base = copy;
	off = 0;
#endif
	/* the bytes before the key are not its business */
	stop = simd_block(base, buf, &d, &h) & (0xffffu << off);
	dots = d;
	hyph = h;
	for (k = SIMD_BLOCK; !stop; k += SIMD_BLOCK) {
		if (k == SIMD_WINDOW)
			return FAST_LONG;
		stop = (uint64_t)simd_block(base + k, buf + k, &d, &h) << k;
		dots |= (uint64_t)d << k;
		hyph |= (uint64_t)h << k;
	}
	end = (size_t)__builtin_ctzll(stop);
	/* a byte that is not LDH before the NUL, or no key: general path */
	if (buf[end] != '\0' || end == off)
		return 0;
	/* one root dot dropped; a second one is an empty label, below */
	end -= (dots >> (end - 1)) & 1;
	n = end - off;
	/* "." alone, or out too short: the general path gives the error */
	if (n == 0 || n + 1 > outlen)
		return 0;
	valid = (~0ULL << off) & ((1ULL << end) - 1);
	dots &= valid;
	hyph &= valid;
	endbit = 1ULL << (end - 1);
	starts = (dots << 1) | (1ULL << off);
	ends = (dots >> 1) | endbit;
	/*
	 * An empty label (a dot where a label starts, or at the very end), a
	 * hyphen at either end of a label, or "??--" at a label's start (may
	 * be an A-label, whose punycode the general path checks).
	 */
	if ((dots & (starts | endbit)) | (hyph & (starts | ends)) | (starts & (hyph >> 2) & (hyph >> 3)))
		return 0;
	/*
	 * The last label must not be all digits (an address, or the shadow of
	 * one).  Starting with a letter settles it; anything else, as in
	 * "example.4a" or "1.2.3.4.", is for the general path to judge.
	 */
	tld = dots ? (size_t)(64 - __builtin_clzll(dots)) : off;
	if (buf[tld] < 'a')
		return 0;
	/* n < SIMD_WINDOW: no label can exceed MXK_MAX_LABEL, nor the name
	 * MXK_MAX_LEN */
	copy_short(dst, buf + off, n);
	dst[n] = '\0';
	*np = n;
	return MXK_DOMAIN;
}
#endif

/* Everything the fast pass leaves: kept out of line, so that the common
 * case neither sets up a frame for it nor carries its code. */
static __attribute__((noinline)) int normalize_rest(const char *in, char *out, size_t outlen, size_t *len,
							 int *kind, int fast)
{
	size_t cn = 0;

	if (fast == FAST_LONG && fast_domain(in, out, outlen, &cn) == MXK_DOMAIN) {
		if (len)
			*len = cn;
		if (kind)
			*kind = MXK_DOMAIN;
		return MXK_OK;
	}
	return mxk_normalize_full(in, out, outlen, len, kind);
}

int mxk_normalize(const char *in, char *out, size_t outlen, size_t *len, int *kind)
{
	size_t cn;
	int r;

	if (!in || !out)
		return MXK_EINVAL;
#if defined(MXK_FAST_SIMD)
	r = fast_domain_simd(in, out, outlen, &cn);
#else
	r = FAST_LONG;
	cn = 0;
#endif
	if (r != MXK_DOMAIN)
		return normalize_rest(in, out, outlen, len, kind, r);
	if (len)
		*len = cn;
	if (kind)
		*kind = MXK_DOMAIN;
	return MXK_OK;
}

int mxk_normalize_full(const char *in, char *out, size_t outlen, size_t *len, int *kind)
{
	char buf[MXK_MAX_INPUT + 1];
	size_t n, cn = 0;
	int k;

	if (!in || !out)
		return MXK_EINVAL;
	/* strnlen: an unterminated or huge input must not be read to the end. */
	n = strnlen(in, MXK_MAX_INPUT + 1);
	if (n == 0 || n > MXK_MAX_INPUT)
		return MXK_EINVAL;

	if (!is_ascii(in, n)) {
		k = canon_unicode(in, buf, &cn);
	} else {
		memcpy(buf, in, n + 1);
		if (buf[0] == '[') {
			k = canon_bracketed(buf, n);
		} else if (memchr(buf, ':', n)) {
			/* ':' is never LDH, so this can only be an IPv6 address. */
			k = ip_canon(AF_INET6, buf, buf) ? MXK_IPV6 : MXK_EINVAL;
		} else if (ip_canon(AF_INET, buf, buf)) {
			k = MXK_IPV4;
		} else {
			k = canon_domain(buf, n, &cn);
		}
		if (k == MXK_IPV4 || k == MXK_IPV6)
			cn = strlen(buf);
	}
	if (k < 0)
		return k;
	if (cn + 1 > outlen)
		return MXK_ETOOSMALL;

	memcpy(out, buf, cn + 1);
	if (len)
		*len = cn;
	if (kind)
		*kind = k;
	return MXK_OK;
}

const char *mxk_kind_name(int kind)
{
	switch (kind) {
	case MXK_DOMAIN:
		return "domain";
	case MXK_IPV4:
		return "ipv4";
	case MXK_IPV6:
		return "ipv6";
	default:
		return "invalid";
	}
}
