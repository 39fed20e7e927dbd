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

#if defined(__SSE2__)
#include <emmintrin.h>

/* Bytes the SSE2 pass handles: one 64-byte block, four registers. */
#define FAST_SIMD_MAX 64

/* AddressSanitizer, as gcc (__SANITIZE_ADDRESS__) and clang
 * (__has_feature) each announce it: the masked overread below is safe,
 * but ASan cannot know that it is masked */
#if defined(__SANITIZE_ADDRESS__)
#define MXK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MXK_UNDER_ASAN 1
#endif
#endif

/*
 * fast_domain_simd - fast_domain() for names of up to 63 bytes, 16 bytes
 * at a time: lower-case, check every byte is LDH, and turn the dots and
 * hyphens into bit masks so the label rules are a few shifts instead of a
 * branch per byte (at two mispredicted branches per label, the byte loop
 * cost more than the table lookup it serves).  Same contract as
 * fast_domain(): MXK_DOMAIN, or 0 for the general path.
 */
static int fast_domain_simd(const char *in, size_t n, char *dst, size_t outlen, size_t *np)
{
	char buf[FAST_SIMD_MAX] __attribute__((aligned(16)));
	uint64_t dots = 0, hyph = 0, alpha = 0, bad = 0, xs = 0, valid, starts, ends, last;
	const char *src = in;
	int k;

	if (n == 0 || n >= FAST_SIMD_MAX || n + 1 > outlen)
		return 0;
	/* read 64 bytes straight from the key unless that could cross into
	 * the next page; bytes past n are masked off below.  (AddressSanitizer
	 * cannot know that the overread is masked: copy under it.) */
#if defined(MXK_UNDER_ASAN)
	if (1) {
#else
	if (((uintptr_t)in & 4095) > 4096 - FAST_SIMD_MAX) {
#endif
		memset(buf, 0, sizeof(buf));
		memcpy(buf, in, n);
		src = buf;
	}
	if (in[n - 1] == '.')
		n--;                    /* the root dot; a second one fails below */
	if (n == 0)
		return 0;
	valid = (1ULL << n) - 1;
	/* only the blocks the name reaches: bits past n are masked anyway */
	for (k = 0; k < (int)(n + 15) / 16; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + 16 * k));
		__m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
					   _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
		__m128i lo, letter, digit, dot, dash, ok;

		lo = _mm_add_epi8(v, _mm_and_si128(up, _mm_set1_epi8(32)));
		letter = _mm_and_si128(_mm_cmpgt_epi8(lo, _mm_set1_epi8('a' - 1)),
				       _mm_cmplt_epi8(lo, _mm_set1_epi8('z' + 1)));
		digit = _mm_and_si128(_mm_cmpgt_epi8(lo, _mm_set1_epi8('0' - 1)),
				      _mm_cmplt_epi8(lo, _mm_set1_epi8('9' + 1)));
		dot = _mm_cmpeq_epi8(lo, _mm_set1_epi8('.'));
		dash = _mm_cmpeq_epi8(lo, _mm_set1_epi8('-'));
		ok = _mm_or_si128(_mm_or_si128(letter, digit), _mm_or_si128(dot, dash));
		_mm_store_si128((__m128i *)(void *)(buf + 16 * k), lo);
		dots |= (uint64_t)(uint16_t)_mm_movemask_epi8(dot) << (16 * k);
		hyph |= (uint64_t)(uint16_t)_mm_movemask_epi8(dash) << (16 * k);
		alpha |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_or_si128(letter, dash)) << (16 * k);
		xs |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(lo, _mm_set1_epi8('x'))) << (16 * k);
		bad |= (uint64_t)(uint16_t)_mm_movemask_epi8(ok) << (16 * k);
	}
	dots &= valid;
	hyph &= valid;
	alpha &= valid;
	/* every byte LDH (NUL padding is not) */
	if ((bad & valid) != valid)
		return 0;
	/* label starts: byte 0 and every byte after a dot; ends: every byte
	 * before a dot and the last byte */
	starts = (1ULL | (dots << 1)) & valid;
	ends = ((dots >> 1) | (1ULL << (n - 1))) & valid;
	/* an empty label: a dot at a start (leading dot, or two dots), or
	 * a dot left at the very end (the input ended in two) */
	if ((dots & starts) || (dots >> (n - 1)) != 0)
		return 0;
	/* a hyphen at either end of a label */
	if (hyph & (starts | ends))
		return 0;
	/* the last label must not be all digits (general path judges it) */
	last = dots ? valid & ~((2ULL << (63 - __builtin_clzll(dots))) - 1) : valid;
	if (!(alpha & last))
		return 0;
	/* labels are at most 63 bytes here (n < 64); a label starting "xn--"
	 * goes to the general path for its IDNA check */
	if ((xs & starts & (hyph >> 2) & (hyph >> 3)) != 0)
		return 0;
	memcpy(dst, buf, n);
	dst[n] = '\0';
	*np = n;
	return MXK_DOMAIN;
}
#endif

int mxk_normalize(const char *in, char *out, size_t outlen, size_t *len, int *kind)
{
	size_t n, cn = 0;

	if (!in || !out)
		return MXK_EINVAL;
#if defined(__SSE2__)
	n = strnlen(in, FAST_SIMD_MAX);
	if (n < FAST_SIMD_MAX && fast_domain_simd(in, n, out, outlen, &cn) == MXK_DOMAIN) {
		if (len)
			*len = cn;
		if (kind)
			*kind = MXK_DOMAIN;
		return MXK_OK;
	}
#endif
	if (fast_domain(in, out, outlen, &cn) == MXK_DOMAIN) {
		if (len)
			*len = cn;
		if (kind)
			*kind = MXK_DOMAIN;
		return MXK_OK;
	}
	return mxk_normalize_full(in, out, outlen, len, kind);
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
