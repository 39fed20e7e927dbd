/*
 * tests/unit/test_key.c - table-driven checks of mxk_normalize().
 *
 * Every row is run with out, *len and *kind prefilled with sentinels, so
 * each error row also proves that nothing was written on failure, and each
 * success row that *len and *kind were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/key.h"
#include "tests/tap.h"

#define SENTINEL  0x5a
#define OUTBUF    512
#define DEF_OUTLEN 254   /* key.h: always enough */

struct key_case {
	const char *in;
	size_t outlen;      /* 0: DEF_OUTLEN */
	int rc;
	const char *want;   /* canonical form when rc == MXK_OK */
	int kind;
};

/* Long names are built at run time; the table points at these buffers. */
static char label63[64], label64[65];
static char dom_l63[80], dom_l64[80];
static char dom253[260], dom253_dot[260], dom254[260];
static char idn253[300], idn253_want[300], idn254[300];
static char shy1024[MXK_MAX_INPUT + 8], shy1025[MXK_MAX_INPUT + 8];
static char long1025[MXK_MAX_INPUT + 8];

static const struct key_case cases[] = {
	/* domains: case, trailing dot */
	{ "example.org", 0, MXK_OK, "example.org", MXK_DOMAIN },
	{ "Example.ORG", 0, MXK_OK, "example.org", MXK_DOMAIN },
	{ "example.org.", 0, MXK_OK, "example.org", MXK_DOMAIN },
	{ "MAIL.Example.Org.", 0, MXK_OK, "mail.example.org", MXK_DOMAIN },
	{ "localhost", 0, MXK_OK, "localhost", MXK_DOMAIN },
	{ "a", 0, MXK_OK, "a", MXK_DOMAIN },
	{ "example.org..", 0, MXK_EINVAL, NULL, 0 },
	{ ".", 0, MXK_EINVAL, NULL, 0 },
	{ "..", 0, MXK_EINVAL, NULL, 0 },
	/* domains: empty labels */
	{ "a..b", 0, MXK_EINVAL, NULL, 0 },
	{ ".a", 0, MXK_EINVAL, NULL, 0 },
	{ ".example.org", 0, MXK_EINVAL, NULL, 0 },
	/* domains: hyphens */
	{ "a-b.example", 0, MXK_OK, "a-b.example", MXK_DOMAIN },
	{ "ab--cd.example", 0, MXK_OK, "ab--cd.example", MXK_DOMAIN },
	{ "-ab.example", 0, MXK_EINVAL, NULL, 0 },
	{ "ab-.example", 0, MXK_EINVAL, NULL, 0 },
	{ "example.-org", 0, MXK_EINVAL, NULL, 0 },
	{ "example.org-", 0, MXK_EINVAL, NULL, 0 },
	{ "-", 0, MXK_EINVAL, NULL, 0 },
	/* domains: digits */
	{ "123.example", 0, MXK_OK, "123.example", MXK_DOMAIN },
	{ "1.2.3.com", 0, MXK_OK, "1.2.3.com", MXK_DOMAIN },
	{ "example.4a", 0, MXK_OK, "example.4a", MXK_DOMAIN },
	{ "example.1-2", 0, MXK_OK, "example.1-2", MXK_DOMAIN },
	{ "example.123", 0, MXK_EINVAL, NULL, 0 },
	{ "1.2.3", 0, MXK_EINVAL, NULL, 0 },
	{ "999.1.1.1", 0, MXK_EINVAL, NULL, 0 },
	{ "42", 0, MXK_EINVAL, NULL, 0 },
	/* domains: forbidden bytes */
	{ "_dmarc.example.org", 0, MXK_EINVAL, NULL, 0 },
	{ "a_b.example", 0, MXK_EINVAL, NULL, 0 },
	{ "exa mple.org", 0, MXK_EINVAL, NULL, 0 },
	{ " example.org", 0, MXK_EINVAL, NULL, 0 },
	{ "example.org ", 0, MXK_EINVAL, NULL, 0 },
	{ "exa\tmple.org", 0, MXK_EINVAL, NULL, 0 },
	{ "exa\x01mple.org", 0, MXK_EINVAL, NULL, 0 },
	{ "example.org\x7f", 0, MXK_EINVAL, NULL, 0 },
	{ "user@example.org", 0, MXK_EINVAL, NULL, 0 },
	{ "example.org/24", 0, MXK_EINVAL, NULL, 0 },
	{ "example.org:25", 0, MXK_EINVAL, NULL, 0 },
	{ "*.example.org", 0, MXK_EINVAL, NULL, 0 },
	{ "example.org]", 0, MXK_EINVAL, NULL, 0 },
	/* domains: label and total length */
	{ dom_l63, 0, MXK_OK, dom_l63, MXK_DOMAIN },
	{ dom_l64, 0, MXK_EINVAL, NULL, 0 },
	{ label63, 0, MXK_OK, label63, MXK_DOMAIN },
	{ label64, 0, MXK_EINVAL, NULL, 0 },
	{ dom253, 0, MXK_OK, dom253, MXK_DOMAIN },
	{ dom253_dot, 0, MXK_OK, dom253, MXK_DOMAIN },
	{ dom254, 0, MXK_EINVAL, NULL, 0 },
	/* IPv4 */
	{ "1.2.3.4", 0, MXK_OK, "1.2.3.4", MXK_IPV4 },
	{ "[1.2.3.4]", 0, MXK_OK, "1.2.3.4", MXK_IPV4 },
	{ "0.0.0.0", 0, MXK_OK, "0.0.0.0", MXK_IPV4 },
	{ "255.255.255.255", 0, MXK_OK, "255.255.255.255", MXK_IPV4 },
	{ "01.2.3.4", 0, MXK_EINVAL, NULL, 0 },
	{ "1.2.3.04", 0, MXK_EINVAL, NULL, 0 },
	{ "[01.2.3.4]", 0, MXK_EINVAL, NULL, 0 },
	{ "256.1.1.1", 0, MXK_EINVAL, NULL, 0 },
	{ "1.2.3.4.5", 0, MXK_EINVAL, NULL, 0 },
	{ "1.2.3.4.", 0, MXK_EINVAL, NULL, 0 },
	{ "[1.2.3.4.]", 0, MXK_EINVAL, NULL, 0 },
	{ "1.2.3.4 ", 0, MXK_EINVAL, NULL, 0 },
	{ "[1.2.3.4", 0, MXK_EINVAL, NULL, 0 },
	{ "1.2.3.4]", 0, MXK_EINVAL, NULL, 0 },
	{ "[[1.2.3.4]]", 0, MXK_EINVAL, NULL, 0 },
	{ "[ 1.2.3.4]", 0, MXK_EINVAL, NULL, 0 },
	{ "[IPv6:1.2.3.4]", 0, MXK_EINVAL, NULL, 0 },
	{ "[IPv4:1.2.3.4]", 0, MXK_EINVAL, NULL, 0 },
	{ "[]", 0, MXK_EINVAL, NULL, 0 },
	{ "[", 0, MXK_EINVAL, NULL, 0 },
	{ "[example.org]", 0, MXK_EINVAL, NULL, 0 },
	/* IPv6 */
	{ "::1", 0, MXK_OK, "::1", MXK_IPV6 },
	{ "::", 0, MXK_OK, "::", MXK_IPV6 },
	{ "[::1]", 0, MXK_OK, "::1", MXK_IPV6 },
	{ "[IPv6:::1]", 0, MXK_OK, "::1", MXK_IPV6 },
	{ "[ipv6:::1]", 0, MXK_OK, "::1", MXK_IPV6 },
	{ "[IPV6:2001:DB8::1]", 0, MXK_OK, "2001:db8::1", MXK_IPV6 },
	{ "[IPv6:2001:0DB8:0000:0000:0000:0000:0000:0001]", 0, MXK_OK, "2001:db8::1", MXK_IPV6 },
	{ "2001:DB8::1", 0, MXK_OK, "2001:db8::1", MXK_IPV6 },
	{ "2001:db8:0:1:1:1:1:1", 0, MXK_OK, "2001:db8:0:1:1:1:1:1", MXK_IPV6 },
	{ "2001:0:0:1:0:0:0:1", 0, MXK_OK, "2001:0:0:1::1", MXK_IPV6 },
	{ "2001:db8:0:0:1:0:0:1", 0, MXK_OK, "2001:db8::1:0:0:1", MXK_IPV6 },
	{ "::ffff:1.2.3.4", 0, MXK_OK, "::ffff:1.2.3.4", MXK_IPV6 },
	{ "[IPv6:::FFFF:1.2.3.4]", 0, MXK_OK, "::ffff:1.2.3.4", MXK_IPV6 },
	{ "fe80::1%eth0", 0, MXK_EINVAL, NULL, 0 },
	{ "[fe80::1%eth0]", 0, MXK_EINVAL, NULL, 0 },
	{ "[IPv6:fe80::1%25eth0]", 0, MXK_EINVAL, NULL, 0 },
	{ "IPv6:::1", 0, MXK_EINVAL, NULL, 0 },
	{ "[IPv6:]", 0, MXK_EINVAL, NULL, 0 },
	{ "[IPv6::1]", 0, MXK_EINVAL, NULL, 0 },
	{ "[IPv6:::1", 0, MXK_EINVAL, NULL, 0 },
	{ "[::1", 0, MXK_EINVAL, NULL, 0 },
	{ "1::2::3", 0, MXK_EINVAL, NULL, 0 },
	{ "2001:db8::1:", 0, MXK_EINVAL, NULL, 0 },
	{ "12345::1", 0, MXK_EINVAL, NULL, 0 },
	{ "::ffff:01.2.3.4", 0, MXK_EINVAL, NULL, 0 },
	{ ":::1", 0, MXK_EINVAL, NULL, 0 },
	/* A-labels in ASCII input */
	{ "xn--bcher-kva.example", 0, MXK_OK, "xn--bcher-kva.example", MXK_DOMAIN },
	{ "XN--BCHER-KVA.Example.", 0, MXK_OK, "xn--bcher-kva.example", MXK_DOMAIN },
	{ "xn--r8jz45g.xn--zckzah", 0, MXK_OK, "xn--r8jz45g.xn--zckzah", MXK_DOMAIN },
	{ "xn--zz.example", 0, MXK_EINVAL, NULL, 0 },           /* bad punycode */
	{ "xn--a.example", 0, MXK_EINVAL, NULL, 0 },            /* decodes to nothing */
	{ "xn--ls8h.example", 0, MXK_EINVAL, NULL, 0 },         /* emoji: IDNA2008 disallowed */
	{ "xn--.example", 0, MXK_EINVAL, NULL, 0 },             /* trailing hyphen */
	{ "xn--bcher-kva-.example", 0, MXK_EINVAL, NULL, 0 },
	{ "xn--bcher_kva.example", 0, MXK_EINVAL, NULL, 0 },
	/* non-ASCII input through UTS#46 */
	{ "B\xc3\xbc" "cher.Example.", 0, MXK_OK, "xn--bcher-kva.example", MXK_DOMAIN },
	{ "\xc3\x89XAMPLE.org", 0, MXK_OK, "xn--xample-9ua.org", MXK_DOMAIN },
	{ "fa\xc3\x9f.de", 0, MXK_OK, "xn--fa-hia.de", MXK_DOMAIN },   /* nontransitional */
	{ "\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", 0, MXK_OK,
	  "xn--r8jz45g.xn--zckzah", MXK_DOMAIN },
	{ "b\xc3\xbc" "cher.xn--bcher-kva.example", 0, MXK_OK,
	  "xn--bcher-kva.xn--bcher-kva.example", MXK_DOMAIN },
	{ "\xff\xfe.com", 0, MXK_EINVAL, NULL, 0 },             /* not UTF-8 */
	{ "b\xc3", 0, MXK_EINVAL, NULL, 0 },                    /* truncated UTF-8 */
	{ "\xc3\xbc_x.com", 0, MXK_EINVAL, NULL, 0 },           /* LDH still applies */
	{ "\xc3\xbc..com", 0, MXK_EINVAL, NULL, 0 },
	{ "\xc3\xbc.example..", 0, MXK_EINVAL, NULL, 0 },
	{ "b\xc3\xbc" "cher.123", 0, MXK_EINVAL, NULL, 0 },
	{ "[\xc3\xbc]", 0, MXK_EINVAL, NULL, 0 },
	{ "\xc3\xbc.xn--zz", 0, MXK_EINVAL, NULL, 0 },
	{ "\xe2\x80\x8d.com", 0, MXK_EINVAL, NULL, 0 },         /* ZWJ: CONTEXTJ */
	{ "\xef\xbc\x91.\xef\xbc\x92.\xef\xbc\x93.\xef\xbc\x94", 0, MXK_EINVAL, NULL, 0 },
	{ idn253, 0, MXK_OK, idn253_want, MXK_DOMAIN },
	{ idn254, 0, MXK_EINVAL, NULL, 0 },
	/* input length */
	{ NULL, 0, MXK_EINVAL, NULL, 0 },
	{ "", 0, MXK_EINVAL, NULL, 0 },
	{ shy1024, 0, MXK_OK, "ab.com", MXK_DOMAIN },           /* soft hyphens map away */
	{ shy1025, 0, MXK_EINVAL, NULL, 0 },
	{ long1025, 0, MXK_EINVAL, NULL, 0 },
	/* output size: canonical + NUL must fit, validation comes first */
	{ "Example.ORG.", 11, MXK_ETOOSMALL, NULL, 0 },
	{ "Example.ORG.", 12, MXK_OK, "example.org", MXK_DOMAIN },
	{ "[IPv6:2001:0DB8::1]", 11, MXK_ETOOSMALL, NULL, 0 },
	{ "[IPv6:2001:0DB8::1]", 12, MXK_OK, "2001:db8::1", MXK_IPV6 },
	{ "[1.2.3.4]", 7, MXK_ETOOSMALL, NULL, 0 },
	{ "[1.2.3.4]", 8, MXK_OK, "1.2.3.4", MXK_IPV4 },
	{ "B\xc3\xbc" "cher.example", 21, MXK_ETOOSMALL, NULL, 0 },
	{ "B\xc3\xbc" "cher.example", 22, MXK_OK, "xn--bcher-kva.example", MXK_DOMAIN },
	{ dom253_dot, 253, MXK_ETOOSMALL, NULL, 0 },
	{ dom253_dot, 254, MXK_OK, dom253, MXK_DOMAIN },
	{ "a", 1, MXK_ETOOSMALL, NULL, 0 },
	{ "a", 2, MXK_OK, "a", MXK_DOMAIN },
	{ "exa_mple.org", 1, MXK_EINVAL, NULL, 0 },
};

static void build_inputs(void)
{
	size_t i, n;

	memset(label63, 'a', 63);
	memset(label64, 'b', 64);
	snprintf(dom_l63, sizeof(dom_l63), "%s.org", label63);
	snprintf(dom_l64, sizeof(dom_l64), "%s.org", label64);

	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	snprintf(dom253, sizeof(dom253), "%s.%s.%s.%.61s", label63, label63, label63, label63);
	strcpy(dom253_dot, dom253);
	strcat(dom253_dot, ".");
	snprintf(dom254, sizeof(dom254), "%s.%s.%s.%.62s", label63, label63, label63, label63);

	/* "u-umlaut + 53 a" encodes to a 61-octet A-label: 192 + 61 = 253 */
	n = (size_t)snprintf(idn253, sizeof(idn253), "%s.%s.%s.\xc3\xbc", label63, label63, label63);
	memset(idn253 + n, 'a', 53);
	snprintf(idn253_want, sizeof(idn253_want), "%s.%s.%s.xn--%.53s-lqf",
		 label63, label63, label63, label63);
	n = (size_t)snprintf(idn254, sizeof(idn254), "%s.%s.%s.\xc3\xbc", label63, label63, label63);
	memset(idn254 + n, 'a', 54);

	/* U+00AD maps to nothing, so the longest accepted input is valid */
	strcpy(shy1024, "ab");
	for (i = 0; i < 509; i++)
		strcat(shy1024, "\xc2\xad");
	strcat(shy1024, ".com");
	shy1025[0] = 'x';
	strcpy(shy1025 + 1, shy1024);

	memset(long1025, 'a', MXK_MAX_INPUT + 1);
}

/* TAP lines must stay one printable line whatever the input bytes are. */
static const char *show(const char *s, char *buf, size_t size)
{
	size_t o = 0, n;

	if (!s)
		return "(null)";
	n = strlen(s);
	if (n > 48) {
		snprintf(buf, size, "<%zu bytes>", n);
		return buf;
	}
	for (; *s && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static int untouched(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)buf[i] != SENTINEL)
			return 0;
	return 1;
}

static void run_case(const struct key_case *c)
{
	char out[OUTBUF], what[256], esc[200];
	size_t outlen = c->outlen ? c->outlen : DEF_OUTLEN;
	size_t len = 9999;
	int kind = -7, rc;

	show(c->in, esc, sizeof(esc));
	memset(out, SENTINEL, sizeof(out));
	rc = mxk_normalize(c->in, out, outlen, &len, &kind);

	snprintf(what, sizeof(what), "\"%s\" outlen %zu: rc", esc, outlen);
	is_int(rc, c->rc, what);
	if (c->rc == MXK_OK && rc == MXK_OK) {
		snprintf(what, sizeof(what), "\"%s\": canonical form", esc);
		is_str(out, c->want, what);
		snprintf(what, sizeof(what), "\"%s\": len", esc);
		is_int(len, strlen(c->want), what);
		snprintf(what, sizeof(what), "\"%s\": kind %s", esc, mxk_kind_name(c->kind));
		is_int(kind, c->kind, what);
		snprintf(what, sizeof(what), "\"%s\": nothing past the NUL", esc);
		ok(untouched(out + strlen(c->want) + 1, sizeof(out) - strlen(c->want) - 1), "%s", what);
	} else if (c->rc != MXK_OK) {
		snprintf(what, sizeof(what), "\"%s\": out, len, kind untouched", esc);
		ok(untouched(out, sizeof(out)) && len == 9999 && kind == -7, "%s", what);
	}
}

static void test_api_edges(void)
{
	char out[OUTBUF];
	size_t len = 0;
	int kind = 0;

	is_int(mxk_normalize("example.org", NULL, 254, &len, &kind), MXK_EINVAL, "NULL out");
	memset(out, SENTINEL, sizeof(out));
	is_int(mxk_normalize("Example.org", out, 254, NULL, NULL), MXK_OK, "NULL len and kind");
	is_str(out, "example.org", "NULL len and kind: canonical form");
	is_int(mxk_normalize("example.org", out, 0, &len, &kind), MXK_ETOOSMALL, "outlen 0");

	is_str(mxk_kind_name(MXK_DOMAIN), "domain", "kind name domain");
	is_str(mxk_kind_name(MXK_IPV4), "ipv4", "kind name ipv4");
	is_str(mxk_kind_name(MXK_IPV6), "ipv6", "kind name ipv6");
	is_str(mxk_kind_name(0), "invalid", "kind name 0");
	is_str(mxk_kind_name(4), "invalid", "kind name 4");
	is_str(mxk_kind_name(MXK_EINVAL), "invalid", "kind name -1");
}

/*
 * A slow, obvious statement of the domain rules, to hold the fast paths
 * to: random strings over a small alphabet must get the same verdict and
 * the same canonical form.  Only LDH strings without "xn--" that are not
 * dotted quads are compared: the rest belongs to the other rules.
 */
static int ref_domain(const char *in, char *out)
{
	size_t n = strlen(in), i, start = 0;
	int alpha = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		char c = i < n ? in[i] : '.';
		if (c == '.') {
			if (i == start || i - start > 63 || out[start] == '-' || out[i - 1] == '-')
				return 0;
			if (i < n)
				alpha = 0;
			start = i + 1;
			if (i < n)
				out[i] = '.';
			continue;
		}
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		if (!(out[i] >= '0' && out[i] <= '9'))
			alpha = 1;
	}
	out[n] = '\0';
	return alpha;
}

static void differential(void)
{
	static const char alphabet[] = "aZ9-.-.Xq0";
	char in[80], want[300], got[300];
	unsigned seed = 99;
	int i, mismatches = 0, compared = 0;

	for (i = 0; i < 200000; i++) {
		size_t len = 1 + (size_t)rand_r(&seed) % 75, k;
		int r, w;

		for (k = 0; k < len; k++)
			in[k] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		in[len] = '\0';
		if (strstr(in, "xn--") != NULL || strspn(in, "0123456789.") == len)
			continue;
		compared++;
		w = ref_domain(in, want);
		r = mxk_normalize(in, got, sizeof(got), NULL, NULL);
		if ((r == MXK_OK) != w || (w && strcmp(got, want) != 0)) {
			if (mismatches++ < 3)
				printf("# '%s': fast %d '%s', reference %d '%s'\n", in, r, r == MXK_OK ? got : "", w,
				       w ? want : "");
		}
	}
	ok(mismatches == 0, "fast paths agree with a reference on %d random names (1..75 bytes)", compared);
}

int main(void)
{
	size_t i, n = sizeof(cases) / sizeof(cases[0]);

	build_inputs();
	printf("# %zu table cases\n", n);
	for (i = 0; i < n; i++)
		run_case(&cases[i]);
	test_api_edges();
	differential();
	return tap_done();
}
