/*
 * tests/unit/test_key_fast.c - mxk_normalize() against mxk_normalize_full().
 *
 * mxk_normalize() answers plain host names from a fast path and sends
 * everything else to the general parser; mxk_normalize_full() is that
 * parser alone.  Every key a table holds is the string these return, so
 * the two must agree on every input, byte for byte: the return code, the
 * canonical key, the bytes of out past the NUL (untouched), *len and
 * *kind.  A generator mixes the spellings either path could get wrong
 * (case, trailing dots, IP literals that look like names, digit labels,
 * label and name length limits, empty labels, bad and non-ASCII bytes,
 * A-labels) and places each name at every alignment, and some right
 * before an unmapped page, since the fast path reads whole blocks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/key.h"
#include "tests/tap.h"

/*
 * The portable build of the normaliser (the byte loop alone, as on a
 * target without SSE2), compiled into this test under other names so that
 * it is held to the general parser too on this machine.
 */
int portable_normalize(const char *in, char *out, size_t outlen, size_t *len, int *kind);
int portable_normalize_full(const char *in, char *out, size_t outlen, size_t *len, int *kind);
const char *portable_kind_name(int kind);
#define MXK_NO_SIMD 1
#define mxk_normalize portable_normalize
#define mxk_normalize_full portable_normalize_full
#define mxk_kind_name portable_kind_name
#include "shm/key.c"
#undef mxk_normalize
#undef mxk_normalize_full
#undef mxk_kind_name

#define NAMES        200000     /* random names compared */
#define SENTINEL     0x5a
#define OUTBUF       300        /* more than any canonical key + NUL */
#define NAME_MAX_GEN 320        /* longest generated name (past MXK_MAX_LEN) */
#define SHOW_MAX     5          /* mismatches printed in full */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	/* xorshift64*: reproducible on every libc, unlike rand() */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned below(unsigned n)
{
	return (unsigned)((next() >> 32) % n);
}

static const char *const words[] = { "example", "mail", "mx1", "com", "org", "net", "de", "co", "uk",
				     "a", "io", "relay-2", "smtp", "host42", "eu-west", "b", "in", "x",
				     "xn", "n--a", "xy--z", "ab--cd", "mta-sts", "localhost" };
static const char *const alabels[] = { "xn--bcher-kva", "xn--r8jz45g", "xn--zckzah", "xn--zz", "xn--a",
				       "xn--ls8h", "xn--", "xn--bcher-kva-", "xn--fa-hia", "xn--xample-9ua" };
static const char *const utf8[] = { "\xc3\xbc", "b\xc3\xbc" "cher", "\xe4\xbe\x8b\xe3\x81\x88", "fa\xc3\x9f",
				    "\xc3\x89XAMPLE", "\xef\xbc\x91", "\xe2\x80\x8d", "\xc2\xad", "\xff\xfe",
				    "\xc3", "\x80", "\xce\xa3" };
static const char bad_bytes[] = "_ @*:[]/%\x7f\x01\t\\!+";
static const char ldh[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";

/* Append s to name at *n, silently stopping at NAME_MAX_GEN. */
static void put(char *name, size_t *n, const char *s)
{
	size_t l = strlen(s);

	if (*n + l > NAME_MAX_GEN)
		l = NAME_MAX_GEN - *n;
	memcpy(name + *n, s, l);
	*n += l;
	name[*n] = '\0';
}

static void put_ch(char *name, size_t *n, char c)
{
	char s[2] = { c, '\0' };

	put(name, n, s);
}

/* Upper-case some letters: every spelling of one name is one key. */
static void vary_case(char *s, size_t n)
{
	size_t i;
	unsigned how = below(4);

	for (i = 0; i < n; i++) {
		if (how == 0)
			break;
		if ((how == 1 || below(2)) && s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 32);
	}
}

static void gen_label(char *name, size_t *n)
{
	char l[80];
	size_t i, len;

	switch (below(20)) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		put(name, n, words[below(sizeof(words) / sizeof(words[0]))]);
		return;
	case 5:
	case 6:
	case 7: /* random LDH, hyphens anywhere */
		len = 1 + below(20);
		for (i = 0; i < len; i++)
			l[i] = ldh[below(sizeof(ldh) - 1)];
		l[len] = '\0';
		put(name, n, l);
		return;
	case 8:
	case 9: /* digits only */
		len = 1 + below(4);
		for (i = 0; i < len; i++)
			l[i] = (char)('0' + below(10));
		l[len] = '\0';
		put(name, n, l);
		return;
	case 10: /* at and past the label limit */
		len = 61 + below(5);
		for (i = 0; i < len; i++)
			l[i] = (char)('a' + below(26));
		if (below(4) == 0)
			l[below((unsigned)len)] = '-';
		l[len] = '\0';
		put(name, n, l);
		return;
	case 11: /* an empty label */
		return;
	case 12:
		put(name, n, alabels[below(sizeof(alabels) / sizeof(alabels[0]))]);
		return;
	case 13:
		put(name, n, utf8[below(sizeof(utf8) / sizeof(utf8[0]))]);
		return;
	case 14: /* one bad byte inside a word */
		snprintf(l, sizeof(l), "ab%ccd", bad_bytes[below(sizeof(bad_bytes) - 1)]);
		put(name, n, l);
		return;
	case 15: /* a hyphen at an end */
		put(name, n, below(2) ? "-ab" : "ab-");
		return;
	default: /* letters then digits, as in mx12 */
		len = 1 + below(8);
		for (i = 0; i < len; i++)
			l[i] = (char)(i < len / 2 ? 'a' + below(26) : '0' + below(10));
		l[len] = '\0';
		put(name, n, l);
		return;
	}
}

static void gen_domain(char *name, size_t *n)
{
	unsigned labels = 1 + below(6), j;

	for (j = 0; j < labels; j++) {
		if (j > 0)
			put_ch(name, n, '.');
		gen_label(name, n);
	}
}

/* Near 253/254 octets (and past them), from long labels. */
static void gen_long(char *name, size_t *n)
{
	size_t want = 240 + below(20), i;

	while (*n < want) {
		size_t ll = want - *n > 64 ? 1 + below(64) : want - *n;

		if (*n > 0)
			put_ch(name, n, '.');
		for (i = 0; i < ll && *n < NAME_MAX_GEN; i++)
			put_ch(name, n, (char)('a' + below(26)));
	}
}

static void gen_ipv4(char *name, size_t *n)
{
	char s[64];
	unsigned parts = 3 + below(3), j;

	s[0] = '\0';
	for (j = 0; j < parts; j++) {
		size_t l = strlen(s);
		unsigned v = below(8) == 0 ? 200 + below(100) : below(256);

		snprintf(s + l, sizeof(s) - l, below(12) == 0 ? "%s0%u" : "%s%u", j ? "." : "", v);
	}
	put(name, n, s);
}

static void gen_ipv6(char *name, size_t *n)
{
	static const char *const tmpl[] = { "::1", "::", "2001:db8::1", "2001:DB8:0:0:1:0:0:1", "fe80::1%eth0",
					    "::ffff:1.2.3.4", "::FFFF:01.2.3.4", "1::2::3", "2001:db8::1:",
					    "12345::1", ":::1", "2001:0db8:0000:0000:0000:0000:0000:0001",
					    "a:b:c:d:e:f:0:1", "1:2:3:4:5:6:7:8:9" };
	char s[64];
	unsigned j, groups = 1 + below(8);

	if (below(2)) {
		put(name, n, tmpl[below(sizeof(tmpl) / sizeof(tmpl[0]))]);
		return;
	}
	s[0] = '\0';
	for (j = 0; j < groups; j++) {
		size_t l = strlen(s);

		snprintf(s + l, sizeof(s) - l, below(2) ? "%s%x" : "%s%X", j ? (below(6) ? ":" : "::") : "",
			 below(4) ? below(0x10000) : below(16));
	}
	put(name, n, s);
}

/* One random input; returns its length. */
static size_t gen_name(char *name)
{
	size_t n = 0;
	unsigned what = below(16);

	name[0] = '\0';
	if (what < 8) {
		gen_domain(name, &n);
	} else if (what < 9) {
		gen_long(name, &n);
	} else if (what < 12) {
		unsigned br = below(3);

		if (br)
			put(name, &n, br == 1 ? "[" : (below(2) ? "[IPv6:" : "[ipv6:"));
		if (below(3))
			gen_ipv4(name, &n);
		else
			gen_ipv6(name, &n);
		if (br && below(8))
			put_ch(name, &n, ']');
	} else if (what < 13) {
		/* a name whose last label is all digits, or a quad with a tail */
		gen_ipv4(name, &n);
		put(name, &n, below(2) ? ".com" : ".a1");
	} else {
		/* names that are a plain host name, usually: the fast path's food */
		put(name, &n, words[below(sizeof(words) / sizeof(words[0]))]);
		put(name, &n, below(2) ? ".example.com" : ".org");
	}
	vary_case(name, n);
	switch (below(12)) {
	case 0:
	case 1:
	case 2:
		put_ch(name, &n, '.');
		break;
	case 3:
		put(name, &n, "..");
		break;
	case 4:
		if (n + 1 <= NAME_MAX_GEN) {
			memmove(name + 1, name, n + 1);
			name[0] = '.';
			n++;
		}
		break;
	case 5: /* one random byte anywhere, any value but NUL */
		if (n > 0)
			name[below((unsigned)n)] = (char)(1 + below(255));
		break;
	default:
		break;
	}
	return n;
}

struct result {
	int rc, kind;
	size_t len;
	char out[OUTBUF];
};

static void run(int (*fn)(const char *, char *, size_t, size_t *, int *), const char *in, size_t outlen,
		struct result *r)
{
	memset(r->out, SENTINEL, sizeof(r->out));
	r->len = 9999;
	r->kind = -7;
	r->rc = fn(in, r->out, outlen, &r->len, &r->kind);
}

static void show(const char *what, const char *s)
{
	printf("# %s \"", what);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\"\n");
}

static int same(const struct result *a, const struct result *b)
{
	return a->rc == b->rc && a->len == b->len && a->kind == b->kind && memcmp(a->out, b->out, sizeof(a->out)) == 0;
}

static void report(const char *which, const char *in, size_t outlen, const struct result *r,
		   const struct result *full)
{
	show("input", in);
	printf("#   outlen %zu: %s rc %d len %zu kind %d, full rc %d len %zu kind %d\n", outlen, which, r->rc, r->len,
	       r->kind, full->rc, full->len, full->kind);
	if (r->rc == MXK_OK)
		show(which, r->out);
	if (full->rc == MXK_OK)
		show("full", full->out);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *guard, *buf;
	char name[NAME_MAX_GEN + 1];
	struct result fast, full;
	size_t n, outlen;
	unsigned long i, bad = 0, bad_portable = 0, ok_domain = 0, ok_ip = 0, einval = 0, toosmall = 0;

	/* a page followed by an unmapped one: inputs that end at its end */
	guard = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard == MAP_FAILED || mprotect(guard + page, (size_t)page, PROT_NONE) != 0) {
		perror("mmap");
		return 1;
	}
	buf = malloc(NAME_MAX_GEN + 128);
	if (!buf)
		return 1;

	for (i = 0; i < NAMES; i++) {
		const char *in;

		n = gen_name(name);
		if (i % 8 == 0) {
			/* the NUL is the last byte before the unmapped page */
			memcpy(guard + page - n - 1, name, n + 1);
			in = guard + page - n - 1;
		} else {
			/* every offset from a 64-byte boundary */
			memcpy(buf + (i % 64), name, n + 1);
			in = buf + (i % 64);
		}
		/* mostly the usual buffer; sometimes one just around the key's size */
		outlen = below(4) ? MXK_MAX_LEN + 1 : below((unsigned)n + 3);

		run(mxk_normalize_full, in, outlen, &full);
		run(mxk_normalize, in, outlen, &fast);
		if (!same(&fast, &full) && bad++ < SHOW_MAX)
			report("fast", in, outlen, &fast, &full);
		run(portable_normalize, in, outlen, &fast);
		if (!same(&fast, &full) && bad_portable++ < SHOW_MAX)
			report("portable", in, outlen, &fast, &full);
		if (full.rc == MXK_OK && full.kind == MXK_DOMAIN)
			ok_domain++;
		else if (full.rc == MXK_OK)
			ok_ip++;
		else if (full.rc == MXK_EINVAL)
			einval++;
		else
			toosmall++;
	}
	printf("# %lu names: %lu domains, %lu IP literals, %lu invalid, %lu too small for out\n", (unsigned long)NAMES,
	       ok_domain, ok_ip, einval, toosmall);
	ok(bad == 0, "mxk_normalize and mxk_normalize_full agree on %d random names (%lu differ)", NAMES, bad);
	ok(bad_portable == 0, "the portable mxk_normalize (no SIMD) and mxk_normalize_full agree on them (%lu differ)",
	   bad_portable);
	/* the mix must really exercise both outcomes of each kind */
	ok(ok_domain > NAMES / 10 && ok_ip > NAMES / 100 && einval > NAMES / 10 && toosmall > NAMES / 100,
	   "the generator covers valid names, IP literals, invalid keys and short buffers");

	free(buf);
	munmap(guard, (size_t)page * 2);
	return tap_done();
}
