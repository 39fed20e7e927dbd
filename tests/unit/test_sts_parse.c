/*
 * tests/unit/test_sts_parse.c - MTA-STS policy and TXT parsers
 * (daemon/sts_parse.c) and the mx pattern matcher (shm/sts_match.h).
 *
 * Every input is copied into a heap buffer of exactly its length, with no
 * NUL after it, before a parser sees it: under ASan a read one byte past
 * len then fails the run instead of finding a convenient terminator.
 * The fuzz loops use a fixed seed, so a failure reproduces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sts_parse.h"
#include "shm/sts_match.h"
#include "tests/tap.h"

#define ERRLEN 256

static struct sts_policy pol, pol2;
static char err[ERRLEN];

/* Heap copy of exactly n bytes; the caller frees it. */
static char *dup_exact(const char *s, size_t n)
{
	char *b = malloc(n ? n : 1);

	if (b == NULL) {
		perror("malloc");
		exit(2);
	}
	if (n)
		memcpy(b, s, n);
	return b;
}

static int parse_n(const char *s, size_t n, struct sts_policy *p)
{
	char *b = dup_exact(s, n);
	int rc = sts_policy_parse(b, n, p, err, sizeof(err));

	free(b);
	return rc;
}

static int txt_n(const char *s, size_t n, char id[STS_ID_MAX + 1])
{
	char *b = dup_exact(s, n);
	int rc = sts_txt_parse(b, n, id, err, sizeof(err));

	free(b);
	return rc;
}

static int match(const char *pat, const char *host)
{
	size_t pl = strlen(pat), hl = strlen(host);
	char *pb = dup_exact(pat, pl), *hb = dup_exact(host, hl);
	int rc = mxc_sts_pattern_match(pb, pl, hb, hl);

	free(pb);
	free(hb);
	return rc;
}

/* mx list joined with ',' and extensions as "k=v|k=v", for table checks. */
static void join_mx(const struct sts_policy *p, char *out, size_t outlen)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < p->nmx && n < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "," : "", p->mx[i]);
}

static void join_ext(const struct sts_policy *p, char *out, size_t outlen)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < p->next && n < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%s=%s", i ? "|" : "", p->ext[i].key, p->ext[i].val);
}

/* ---- policies that parse ---- */

struct good {
	const char *name;
	const char *body;
	int mode;
	long long max_age;
	int capped;
	const char *mx;         /* joined */
	const char *ext;        /* joined */
};

static const struct good goods[] = {
	{ "vector 5: mox good policy",
	  "version: STSv1\nmode: enforce\t\nmx: *.example.com \nmax_age: 0 \n",
	  STS_MODE_ENFORCE, 0, 0, "*.example.com", "" },
	{ "vector 6: CRLF, tabs, extension, no final newline",
	  "version:STSv1\r\nmode:\tenforce\r\nmx:  \t\t *.example.com\nmax_age: 1\nmore:ext e  ns ion",
	  STS_MODE_ENFORCE, 1, 0, "*.example.com", "more=ext e  ns ion" },
	{ "all CRLF",
	  "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400\r\n",
	  STS_MODE_TESTING, 86400, 0, "mail.example.com", "" },
	{ "LF and CRLF mixed",
	  "version: STSv1\nmode: testing\r\nmx: mail.example.com\nmx: *.backup.example.com\r\nmax_age: 604800",
	  STS_MODE_TESTING, 604800, 0, "mail.example.com,*.backup.example.com", "" },
	{ "mode none without mx",
	  "version: STSv1\nmode: none\nmax_age: 86400\n",
	  STS_MODE_NONE, 86400, 0, "", "" },
	{ "mode none with mx",
	  "version: STSv1\nmode: none\nmx: a.example\nmax_age: 1\n",
	  STS_MODE_NONE, 1, 0, "a.example", "" },
	{ "keys in any order",
	  "max_age: 300\nmx: a.example\nmode: enforce\nversion: STSv1\n",
	  STS_MODE_ENFORCE, 300, 0, "a.example", "" },
	{ "max_age at the cap",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n",
	  STS_MODE_ENFORCE, 31557600, 0, "a.example", "" },
	{ "vector 8: max_age 31557601 capped",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n",
	  STS_MODE_ENFORCE, 31557600, 1, "a.example", "" },
	{ "max_age 9999999999 (10 digits, > u32) capped",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 9999999999\n",
	  STS_MODE_ENFORCE, 31557600, 1, "a.example", "" },
	{ "max_age 4294967296 (2^32) capped, no wrap",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 4294967296\n",
	  STS_MODE_ENFORCE, 31557600, 1, "a.example", "" },
	{ "max_age 0000000001 (10 digits, leading zeros)",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 0000000001\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example", "" },
	{ "first mode wins",
	  "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\n",
	  STS_MODE_TESTING, 1, 0, "a.example", "" },
	{ "first max_age wins, later one not interpreted",
	  "version: STSv1\nmode: testing\nmax_age: 5\nmax_age: 10\nmax_age: junk\nmx: a.example\n",
	  STS_MODE_TESTING, 5, 0, "a.example", "" },
	{ "first version wins",
	  "version: STSv1\nversion: STSv2\nmode: testing\nmx: a.example\nmax_age: 1\n",
	  STS_MODE_TESTING, 1, 0, "a.example", "" },
	{ "several mx lines, order kept",
	  "version: STSv1\nmode: enforce\nmx: mx1.example.org\nmx: *.mx.example.org\nmx: backup.example.net\nmax_age: 1\n",
	  STS_MODE_ENFORCE, 1, 0, "mx1.example.org,*.mx.example.org,backup.example.net", "" },
	{ "mx duplicates collapse, first order",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmx: A.Example\nmx: b.example\nmx: a.example\nmx: *.c.example\nmx: *.C.EXAMPLE\nmax_age: 1\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example,b.example,*.c.example", "" },
	{ "upper-case mx lower-cased",
	  "version: STSv1\nmode: enforce\nmx: MAIL.Example.COM\nmax_age: 1\n",
	  STS_MODE_ENFORCE, 1, 0, "mail.example.com", "" },
	{ "mx with digits, hyphens, single label, *.tld",
	  "version: STSv1\nmode: enforce\nmx: mx-1.ex--ample.c0m\nmx: localhost\nmx: *.com\nmx: 1.2.3\nmax_age: 1\n",
	  STS_MODE_ENFORCE, 1, 0, "mx-1.ex--ample.c0m,localhost,*.com,1.2.3", "" },
	{ "extensions kept in order, first wins, keys case-sensitive",
	  "version: STSv1\nMode: loud\nmode: enforce\nx-a: 1\nmx: a.example\nx_b.c: two words\nx-a: 2\nmax_age: 1\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example", "Mode=loud|x-a=1|x_b.c=two words" },
	{ "extension value with UTF-8 and ':'",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nnote: h\xc3\xa9llo w\xf0\x9f\x98\x80rld: yes\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example", "note=h\xc3\xa9llo w\xf0\x9f\x98\x80rld: yes" },
	{ "32-character extension key",
	  "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nk234567890123456789012345678901a: v\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example", "k234567890123456789012345678901a=v" },
	{ "empty lines ignored (LF, CRLF, leading, trailing)",
	  "\nversion: STSv1\n\n\r\nmode: enforce\r\n\r\nmx: a.example\n\nmax_age: 1\n\n\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example", "" },
	{ "trailing SP/TAB after values",
	  "version: STSv1 \t\nmode: enforce  \t \nmx: a.example\t\nmax_age: 1 \t \r\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example", "" },
	{ "no space after ':'",
	  "version:STSv1\nmode:testing\nmx:a.example\nmax_age:60",
	  STS_MODE_TESTING, 60, 0, "a.example", "" },
	/* an IP address is never a pattern (RFC 8461 section 4.1 matches MX
	 * host names): dropped, the other patterns kept in their order */
	{ "mx IP addresses dropped, every form",
	  "version: STSv1\r\nmode: enforce\r\nmx: 192.0.2.10\r\nmx: a.example\r\nmx: [192.0.2.11]\r\n"
	  "mx: 2001:db8::1\r\nmx: [2001:DB8::2]\r\nmx: [IPv6:2001:db8::3]\r\nmx: ::ffff:192.0.2.12\r\n"
	  "mx: *.b.example\r\nmax_age: 1\r\nx-note: 192.0.2.10\r\n",
	  STS_MODE_ENFORCE, 1, 0, "a.example,*.b.example", "x-note=192.0.2.10" },
	{ "mx names of digits that are no IPv4 address stay patterns",
	  "version: STSv1\nmode: enforce\nmx: 1.2.3\nmx: 1.2.3.4.5\nmx: 256.1.1.1\nmx: *.192.0.2.10\nmax_age: 1\n",
	  STS_MODE_ENFORCE, 1, 0, "1.2.3,1.2.3.4.5,256.1.1.1,*.192.0.2.10", "" },
	{ "mode none with only an IP address",
	  "version: STSv1\nmode: none\nmx: 192.0.2.10\nmax_age: 1\n",
	  STS_MODE_NONE, 1, 0, "", "" },
};

/* ---- policies that do not ---- */

struct bad {
	const char *name;
	const char *body;
	size_t len;             /* 0: strlen */
	const char *errsub;     /* expected inside the message */
};

#define P3 "version: STSv1\nmode: enforce\nmx: a.example\n"   /* lines 1-3 */

static const struct bad bads[] = {
	{ "vector 7: enforce without mx", "version:STSv1\nmax_age:0\nmode:enforce", 0,
	  "mode enforce without an mx line" },
	{ "vector 7: max_age of 11 digits", P3 "max_age:01234567890", 0,
	  "line 4: max_age: '01234567890' has more than 10 digits" },
	{ "vector 7: mx *.*.example", "version: STSv1\nmode: enforce\nmx:*.*.example\nmax_age: 1\n", 0,
	  "line 3: mx: '*.*.example': '*' is only allowed" },
	{ "vector 7: mx U-label", "version: STSv1\nmode: enforce\nmx: m\xc3\xb8x.example\nmax_age: 1\n", 0,
	  "line 3: mx: 'm??x.example': non-ASCII" },
	{ "vector 7: mode bad", "version: STSv1\nmode:bad\nmx: a.example\nmax_age: 1\n", 0,
	  "line 2: mode: 'bad' is not enforce, testing or none" },
	{ "testing without mx", "version: STSv1\nmode: testing\nmax_age: 1\n", 0,
	  "mode testing without an mx line" },
	{ "enforce with only IP addresses as mx",
	  "version: STSv1\nmode: enforce\nmx: 192.0.2.10\nmx: [2001:db8::1]\nmax_age: 1\n", 0,
	  "mode enforce: every mx value is an IP address, no pattern" },
	{ "testing with only an IP address as mx",
	  "version: STSv1\nmode: testing\nmx: [IPv6:2001:db8::1]\nmax_age: 1\n", 0,
	  "mode testing: every mx value is an IP address, no pattern" },
	{ "mx bracketed name", "version: STSv1\nmode: enforce\nmx: [a.example]\nmax_age: 1\n", 0,
	  "line 3: mx: '[a.example]': not a letter, digit" },
	{ "no version", "mode: enforce\nmx: a.example\nmax_age: 1\n", 0, "no version line" },
	{ "no mode", "version: STSv1\nmx: a.example\nmax_age: 1\n", 0, "no mode line" },
	{ "no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", 0, "no max_age line" },
	{ "empty body", "", 0, "no version line" },
	{ "only empty lines", "\n\r\n\n", 0, "no version line" },
	{ "version STSv2", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", 0,
	  "line 1: version: 'STSv2' is not STSv1" },
	{ "version lower-case", "version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", 0,
	  "line 1: version: 'stsv1' is not STSv1" },
	{ "version empty", "version:\nmode: enforce\nmx: a.example\nmax_age: 1\n", 0,
	  "line 1: version: empty value" },
	{ "mode Enforce (case)", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", 0,
	  "line 2: mode: 'Enforce' is not" },
	{ "mode empty", "version: STSv1\nmode: \t \nmx: a.example\nmax_age: 1\n", 0,
	  "line 2: mode: empty value" },
	{ "max_age empty", P3 "max_age:", 0, "line 4: max_age: empty value" },
	{ "max_age +5", P3 "max_age: +5", 0, "line 4: max_age: '+5' is not a number" },
	{ "max_age -5", P3 "max_age: -5", 0, "line 4: max_age: '-5' is not a number" },
	{ "max_age 1 2", P3 "max_age: 1 2", 0, "line 4: max_age: '1 2' is not a number" },
	{ "max_age 1<TAB>2", P3 "max_age: 1\t2", 0, "line 4: max_age: '1?2' is not a number" },
	{ "max_age 5s", P3 "max_age: 5s", 0, "line 4: max_age: '5s' is not a number" },
	{ "max_age 0x10", P3 "max_age: 0x10", 0, "line 4: max_age: '0x10' is not a number" },
	{ "max_age 1e3", P3 "max_age: 1e3", 0, "line 4: max_age: '1e3' is not a number" },
	{ "bad key: space inside", P3 "max age: 1", 0, "line 4: key 'max age' is not" },
	{ "bad key: space before ':'", "version: STSv1\nmode : enforce\n", 0, "line 2: key 'mode ' is not" },
	{ "bad key: leading space", " version: STSv1\n", 0, "line 1: key ' version' is not" },
	{ "bad key: leading '_'", P3 "_x: 1\nmax_age: 1\n", 0, "line 4: key '_x' is not" },
	{ "bad key: leading '-'", P3 "-x: 1\nmax_age: 1\n", 0, "line 4: key '-x' is not" },
	{ "bad key: '@'", P3 "a@b: 1\nmax_age: 1\n", 0, "line 4: key 'a@b' is not" },
	{ "bad key: 33 characters", P3 "k234567890123456789012345678901ab: v\nmax_age: 1\n", 0,
	  "line 4: key 'k234567890123456789012345678901ab' is longer than 32 bytes" },
	{ "empty key", P3 ": v\nmax_age: 1\n", 0, "line 4: empty key" },
	{ "line without ':'", P3 "max_age 1\n", 0, "line 4: no ':' in 'max_age 1'" },
	{ "NUL byte in a value", P3 "max_age: 1\0\n", sizeof(P3 "max_age: 1\0\n") - 1, "line 4: NUL byte" },
	{ "NUL byte on its own line", P3 "\0\nmax_age: 1\n", sizeof(P3 "\0\nmax_age: 1\n") - 1, "line 4: NUL byte" },
	{ "NUL byte in a key", "vers\0ion: STSv1\n", sizeof("vers\0ion: STSv1\n") - 1, "line 1: NUL byte" },
	{ "lone CR as a line end", "version: STSv1\rmode: enforce\n", 0, "line 1: version: CR not followed by LF" },
	{ "CR at the very end", P3 "max_age: 1\r", 0, "line 4: max_age: CR not followed by LF" },
	{ "control character in a value", P3 "max_age: 1\nnote: a\x01z\n", 0, "line 5: note: control character" },
	{ "DEL in a value", P3 "max_age: 1\nnote: a\x7fz\n", 0, "line 5: note: control character" },
	{ "malformed UTF-8: 0xff", P3 "max_age: 1\nnote: \xff\n", 0, "line 5: note: malformed UTF-8" },
	{ "malformed UTF-8: overlong '/'", P3 "max_age: 1\nnote: \xc0\xaf\n", 0, "malformed UTF-8" },
	{ "malformed UTF-8: surrogate", P3 "max_age: 1\nnote: \xed\xa0\x80\n", 0, "malformed UTF-8" },
	{ "malformed UTF-8: cut short", P3 "max_age: 1\nnote: \xe2\x82\n", 0, "malformed UTF-8" },
	{ "malformed UTF-8: above U+10FFFF", P3 "max_age: 1\nnote: \xf4\x90\x80\x80\n", 0, "malformed UTF-8" },
	{ "extension with empty value", P3 "max_age: 1\nnote:\n", 0, "line 5: note: empty value" },
	{ "mx empty", "version: STSv1\nmode: enforce\nmx:  \nmax_age: 1\n", 0, "line 3: mx: empty value" },
	{ "mx bare *", "version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", 0, "line 3: mx: '*': '*' is only" },
	{ "mx *.", "version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n", 0, "line 3: mx: '*.': no domain after" },
	{ "mx *example.com", "version: STSv1\nmode: enforce\nmx: *example.com\nmax_age: 1\n", 0, "'*' is only" },
	{ "mx m*.example.com", "version: STSv1\nmode: enforce\nmx: m*.example.com\nmax_age: 1\n", 0, "'*' is only" },
	{ "mx a.*.example", "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n", 0, "'*' is only" },
	{ "mx a..example", "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", 0, "empty label" },
	{ "mx .example", "version: STSv1\nmode: enforce\nmx: .example\nmax_age: 1\n", 0, "empty label" },
	{ "mx *..example", "version: STSv1\nmode: enforce\nmx: *..example\nmax_age: 1\n", 0, "empty label" },
	{ "mx trailing dot", "version: STSv1\nmode: enforce\nmx: a.example.\nmax_age: 1\n", 0, "trailing dot" },
	{ "mx leading hyphen", "version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 1\n", 0, "starts or ends with '-'" },
	{ "mx trailing hyphen", "version: STSv1\nmode: enforce\nmx: a.example-\nmax_age: 1\n", 0, "starts or ends with '-'" },
	{ "mx underscore", "version: STSv1\nmode: enforce\nmx: a_b.example\nmax_age: 1\n", 0, "not a letter, digit" },
	{ "mx two names on a line", "version: STSv1\nmode: enforce\nmx: a.example b.example\nmax_age: 1\n", 0, "not a letter, digit" },
	{ "mx with a port", "version: STSv1\nmode: enforce\nmx: a.example:25\nmax_age: 1\n", 0, "not a letter, digit" },
	{ "mx IP literal", "version: STSv1\nmode: enforce\nmx: [1.2.3.4]\nmax_age: 1\n", 0,
	  "mode enforce: every mx value is an IP address" },
	{ "mx IP literal with a port", "version: STSv1\nmode: enforce\nmx: [1.2.3.4]:25\nmax_age: 1\n", 0,
	  "not a letter, digit" },
	{ "mx A-label ok but U-label in 2nd label", "version: STSv1\nmode: enforce\nmx: xn--mx-lka.b\xc3\xa9\nmax_age: 1\n", 0, "non-ASCII" },
	{ "error in a later duplicate mode line still a bad line", "version: STSv1\nmode: enforce\nmode : x\n", 0, "line 3: key 'mode ' is not" },
};

/* ---- TXT records ---- */

struct txt {
	const char *name;
	const char *in;
	size_t len;             /* 0: strlen */
	int rc;
	const char *id;         /* "" unless rc == STS_TXT_OK */
};

static const struct txt txts[] = {
	{ "vector 9 good: spaces and tabs, trailing ';'", "v=STSv1; \t id=20160831085700Z  \t;", 0, STS_TXT_OK, "20160831085700Z" },
	{ "plain", "v=STSv1; id=1", 0, STS_TXT_OK, "1" },
	{ "no spaces", "v=STSv1;id=abc", 0, STS_TXT_OK, "abc" },
	{ "spaces around ';' and '='", "v=STSv1 ; id = abc ;", 0, STS_TXT_OK, "abc" },
	{ "tab before ';'", "v=STSv1\t;\tid=abc", 0, STS_TXT_OK, "abc" },
	{ "extension after id", "v=STSv1; id=a; ext=foo", 0, STS_TXT_OK, "a" },
	{ "extension before id, all value chars", "v=STSv1; e.x-y_z=!\"#$%&'()*+,-./0:<>?@[\\]^_`{|}~; id=a", 0, STS_TXT_OK, "a" },
	{ "duplicate id: first wins", "v=STSv1; id=first; id=second", 0, STS_TXT_OK, "first" },
	{ "duplicate extension: fine", "v=STSv1; x=1; x=2; id=q", 0, STS_TXT_OK, "q" },
	{ "32-character id", "v=STSv1; id=abcdefghijklmnopqrstuvwxyz012345", 0, STS_TXT_OK, "abcdefghijklmnopqrstuvwxyz012345" },
	{ "32-character extension key", "v=STSv1; id=a; k234567890123456789012345678901a=v", 0, STS_TXT_OK, "a" },
	{ "trailing ';' and spaces", "v=STSv1; id=a ;  ", 0, STS_TXT_OK, "a" },
	{ "vector 9 bogus", "bogus", 0, STS_TXT_NOT_STS, "" },
	{ "vector 9 more", "more", 0, STS_TXT_NOT_STS, "" },
	{ "vector 9 v=STSv10", "v=STSv10", 0, STS_TXT_NOT_STS, "" },
	{ "v=STSv10 with id", "v=STSv10; id=1", 0, STS_TXT_NOT_STS, "" },
	{ "empty record", "", 0, STS_TXT_NOT_STS, "" },
	{ "SPF record", "v=spf1 -all", 0, STS_TXT_NOT_STS, "" },
	{ "v=STSv1x", "v=STSv1x; id=1", 0, STS_TXT_NOT_STS, "" },
	{ "upper-case V", "V=STSv1; id=1", 0, STS_TXT_NOT_STS, "" },
	{ "lower-case stsv1", "v=stsv1; id=1", 0, STS_TXT_NOT_STS, "" },
	{ "leading space", " v=STSv1; id=1", 0, STS_TXT_NOT_STS, "" },
	{ "cut short v=STSv", "v=STSv", 0, STS_TXT_NOT_STS, "" },
	{ "v=STSv1 then a field without ';'", "v=STSv1 id=1", 0, STS_TXT_NOT_STS, "" },
	{ "NUL after v=STSv1", "v=STSv1\0; id=1", sizeof("v=STSv1\0; id=1") - 1, STS_TXT_NOT_STS, "" },
	{ "vector 9 bad: 33-character id", "v=STSv1; id=abcdefghijklmnopqrstuvwxyz0123456", 0, STS_TXT_BAD, "" },
	{ "vector 9 bad: id=test-123", "v=STSv1; id=test-123", 0, STS_TXT_BAD, "" },
	{ "vector 9 bad: ';;'", "v=STSv1; id=a;;", 0, STS_TXT_BAD, "" },
	{ "';;' in the middle", "v=STSv1; id=a;; x=1", 0, STS_TXT_BAD, "" },
	{ "'; ;'", "v=STSv1; id=a; ; x=1", 0, STS_TXT_BAD, "" },
	{ "';' right after version then ';'", "v=STSv1;;id=a", 0, STS_TXT_BAD, "" },
	{ "v=STSv1 alone", "v=STSv1", 0, STS_TXT_BAD, "" },
	{ "v=STSv1 with spaces alone", "v=STSv1  ", 0, STS_TXT_BAD, "" },
	{ "v=STSv1; alone", "v=STSv1;", 0, STS_TXT_BAD, "" },
	{ "no id, only extension", "v=STSv1; x=1", 0, STS_TXT_BAD, "" },
	{ "id= empty", "v=STSv1; id=", 0, STS_TXT_BAD, "" },
	{ "id= then ';'", "v=STSv1; id=;", 0, STS_TXT_BAD, "" },
	{ "id without '='", "v=STSv1; id", 0, STS_TXT_BAD, "" },
	{ "'=' without key", "v=STSv1; =abc", 0, STS_TXT_BAD, "" },
	{ "id with a space inside", "v=STSv1; id=a b", 0, STS_TXT_BAD, "" },
	{ "id non-ASCII", "v=STSv1; id=\xc3\xa9", 0, STS_TXT_BAD, "" },
	{ "id with NUL", "v=STSv1; id=a\0", sizeof("v=STSv1; id=a\0") - 1, STS_TXT_BAD, "" },
	{ "extension empty value", "v=STSv1; id=a; ext=", 0, STS_TXT_BAD, "" },
	{ "extension value with '='", "v=STSv1; id=a; x=a=b", 0, STS_TXT_BAD, "" },
	{ "extension key 33 characters", "v=STSv1; id=a; k234567890123456789012345678901ab=v", 0, STS_TXT_BAD, "" },
	{ "extension key leading '_'", "v=STSv1; id=a; _x=v", 0, STS_TXT_BAD, "" },
	{ "extension key with '@'", "v=STSv1; id=a; a@b=v", 0, STS_TXT_BAD, "" },
	{ "a later bad id", "v=STSv1; id=a; id=bad-one", 0, STS_TXT_BAD, "" },
	{ "control character", "v=STSv1; id=a\x01", 0, STS_TXT_BAD, "" },
};

/* ---- matching ---- */

struct mcase {
	const char *pat;
	const char *host;
	int want;
};

static const struct mcase mcases[] = {
	/* vector 10: patterns {a.example, *.b.example} */
	{ "a.example", "a.example", 1 },
	{ "*.b.example", "sub.b.example", 1 },
	{ "a.example", "b.example", 0 },
	{ "*.b.example", "b.example", 0 },
	{ "a.example", "sub.sub.b.example", 0 },
	{ "*.b.example", "sub.sub.b.example", 0 },
	{ "a.example", "other", 0 },
	{ "*.b.example", "other", 0 },
	/* spelling of the host */
	{ "a.example", "a.example.", 1 },
	{ "a.example", "A.EXAMPLE", 1 },
	{ "a.example", "A.Example.", 1 },
	{ "*.b.example", "SUB.B.Example.", 1 },
	{ "a.example", "a.example..", 0 },
	{ "a.example", ".a.example", 0 },
	{ "a.example", "", 0 },
	{ "a.example", ".", 0 },
	{ "*.b.example", "", 0 },
	{ "*.b.example", ".", 0 },
	{ "*.b.example", ".b.example", 0 },
	{ "*.b.example", "..b.example", 0 },
	{ "*.b.example", "b.example.", 0 },
	{ "*.b.example", "xb.example", 0 },
	{ "*.b.example", "x.b.example.", 1 },
	{ "*.b.example", "x.b.example..", 0 },
	{ "*.b.example", "x-1.b.example", 1 },
	/* prefixes and suffixes of names */
	{ "a.example", "b.a.example", 0 },
	{ "a.example", "a.exampl", 0 },
	{ "a.example", "a.examplex", 0 },
	{ "a.example", "xa.example", 0 },
	{ "*.b.example", "x.b.examplex", 0 },
	{ "*.b.example", "x.xb.example", 0 },
	/* no other wildcard forms */
	{ "*", "a", 0 },
	{ "*", "*", 0 },
	{ "*.", "a.", 0 },
	{ "*.", "a..", 0 },
	{ "*x.example", "ax.example", 0 },
	{ "*.*.example", "a.b.example", 0 },
	{ "", "a", 0 },
	{ "", "", 0 },
	/* a hand-written upper-case pattern still folds */
	{ "*.B.EXAMPLE", "x.b.example", 1 },
};

/* ---- helpers for the long and generated cases ---- */

static char big[STS_BODY_MAX + 4096];

/* Append to big; returns the new length. */
static size_t bput(size_t n, const char *s)
{
	size_t l = strlen(s);

	if (n + l >= sizeof(big)) {
		fprintf(stderr, "big overflow\n");
		exit(2);
	}
	memcpy(big + n, s, l);
	big[n + l] = '\0';
	return n + l;
}

/* Independent check of a canonical pattern: ["*."] lower-case LDH labels. */
static int mx_canonical(const char *s)
{
	size_t n = strlen(s), i = 0, start;

	if (n == 0 || n > 253)
		return 0;
	if (n >= 2 && s[0] == '*' && s[1] == '.')
		i = 2;
	if (i == n)
		return 0;
	for (;;) {
		start = i;
		while (i < n && s[i] != '.') {
			if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
				return 0;
			i++;
		}
		if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
			return 0;
		if (i == n)
			return 1;
		i++;
		if (i == n)
			return 0;
	}
}

static int all_zero(const struct sts_policy *p)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i;

	for (i = 0; i < sizeof(*p); i++)
		if (b[i])
			return 0;
	return 1;
}

static int same_policy(const struct sts_policy *a, const struct sts_policy *b)
{
	size_t i;

	if (a->mode != b->mode || a->max_age != b->max_age || a->nmx != b->nmx || a->next != b->next)
		return 0;
	for (i = 0; i < a->nmx; i++)
		if (strcmp(a->mx[i], b->mx[i]) != 0)
			return 0;
	for (i = 0; i < a->next; i++)
		if (strcmp(a->ext[i].key, b->ext[i].key) != 0 || strcmp(a->ext[i].val, b->ext[i].val) != 0)
			return 0;
	return 1;
}

static int valid_utf8_printable(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, need;

	while (u[i]) {
		if (u[i] < 0x80) {
			if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		need = u[i] >= 0xf0 ? 3 : u[i] >= 0xe0 ? 2 : u[i] >= 0xc2 ? 1 : 0;
		if (need == 0 || u[i] > 0xf4)
			return 0;
		for (k = 1; k <= need; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

/*
 * Everything a successful parse promises; returns NULL or what broke.
 * Also renders the policy and parses it back.
 */
static const char *policy_invariants(const struct sts_policy *p)
{
	static char text[STS_BODY_MAX];
	char host[300];
	size_t i, j;
	int n;

	if (p->mode < STS_MODE_NONE || p->mode > STS_MODE_ENFORCE)
		return "mode out of range";
	if (p->max_age > STS_MAX_AGE_CAP)
		return "max_age over the cap";
	if (p->max_age_capped && p->max_age != STS_MAX_AGE_CAP)
		return "capped but not at the cap";
	if (p->nmx > STS_MX_MAX || p->next > STS_EXT_MAX)
		return "counts over the limits";
	if (p->nmx == 0 && p->mode != STS_MODE_NONE)
		return "no mx outside mode none";
	for (i = 0; i < p->nmx; i++) {
		if (!mx_canonical(p->mx[i]))
			return "mx pattern not canonical";
		for (j = 0; j < i; j++)
			if (strcmp(p->mx[i], p->mx[j]) == 0)
				return "duplicate mx";
		if (p->mx[i][0] == '*') {
			snprintf(host, sizeof(host), "x%s", p->mx[i] + 1);
			if (!mxc_sts_pattern_match(p->mx[i], strlen(p->mx[i]), host, strlen(host)))
				return "wildcard does not match one label";
			if (mxc_sts_pattern_match(p->mx[i], strlen(p->mx[i]), p->mx[i] + 2, strlen(p->mx[i] + 2)))
				return "wildcard matches its bare domain";
			snprintf(host, sizeof(host), "x.y%s", p->mx[i] + 1);
			if (mxc_sts_pattern_match(p->mx[i], strlen(p->mx[i]), host, strlen(host)))
				return "wildcard matches two labels";
		} else if (!mxc_sts_pattern_match(p->mx[i], strlen(p->mx[i]), p->mx[i], strlen(p->mx[i]))) {
			return "pattern does not match itself";
		}
	}
	for (i = 0; i < p->next; i++) {
		if (p->ext[i].key[0] == '\0' || strlen(p->ext[i].key) > STS_EXT_KEY_MAX)
			return "bad extension key";
		if (p->ext[i].val[0] == '\0' || !valid_utf8_printable(p->ext[i].val))
			return "bad extension value";
	}
	n = sts_policy_text(p, text, sizeof(text));
	if (n < 0 || (size_t)n >= sizeof(text))
		return "policy_text failed";
	if (parse_n(text, (size_t)n, &pol2) != 0)
		return "policy_text output does not parse";
	if (!same_policy(p, &pol2))
		return "policy_text round trip differs";
	return NULL;
}

static int err_one_line(void)
{
	size_t n = strlen(err);

	return n > 0 && n < ERRLEN && strchr(err, '\n') == NULL && strchr(err, '\r') == NULL;
}

/* xorshift64*: fixed seed, same sequence on every platform */
static uint64_t rng_state = 0x5eed5eed5eed5eedULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static const char *const tokens[] = {
	"version", "mode", "max_age", "mx", "id", "v=STSv1", "STSv1", "enforce", "testing", "none",
	":", ": ", ";", "; ", "=", " ", "\t", "\r\n", "\n", "\r", "*.", ".", "-", "*", "example",
	"com", "a", "Z", "0", "9", "9999999999", "31557601", "x-ext", "\xc3\xa9", "\xff", "\xe2\x82",
	"version: STSv1\n", "mode: enforce\n", "mode: none\n", "max_age: 86400\n", "mx: *.example.com\n",
	"mx: mail.example.net\n", "id=20160831085700Z",
};

#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

static size_t fuzz_gen(char *buf, size_t cap)
{
	size_t n = 0, want = (size_t)(rng() % 400), l;
	const char *t;

	while (n < want) {
		if (rng() % 4 == 0) {
			if (n + 1 > cap)
				break;
			buf[n++] = (char)(rng() & 0xff);
			continue;
		}
		t = tokens[rng() % NTOKENS];
		l = strlen(t);
		if (n + l > cap)
			break;
		memcpy(buf + n, t, l);
		n += l;
	}
	return n;
}

static const char *const seeds[] = {
	"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.backup.example.com\nmax_age: 604800\n",
	"version:STSv1\r\nmode:\ttesting\r\nmx:  \t\t *.example.com\nmax_age: 31557601\nmore:ext e  ns ion",
	"version: STSv1\nmode: none\nmax_age: 86400\nx: y\n",
	"v=STSv1; \t id=20160831085700Z  \t;",
	"v=STSv1; id=abc; ext=foo;",
};

#define NSEEDS (sizeof(seeds) / sizeof(seeds[0]))

static size_t fuzz_mutate(char *buf, size_t cap)
{
	const char *s = seeds[rng() % NSEEDS];
	size_t n = strlen(s), k, m, pos;

	memcpy(buf, s, n);
	m = 1 + (size_t)(rng() % 4);
	for (k = 0; k < m; k++) {
		pos = n ? (size_t)(rng() % n) : 0;
		switch (rng() % 5) {
		case 0:         /* flip a byte */
			if (n)
				buf[pos] = (char)(rng() & 0xff);
			break;
		case 1:         /* insert a byte */
			if (n + 1 <= cap) {
				memmove(buf + pos + 1, buf + pos, n - pos);
				buf[pos] = (char)(rng() & 0xff);
				n++;
			}
			break;
		case 2:         /* delete a byte */
			if (n) {
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
			}
			break;
		case 3:         /* truncate */
			n = pos;
			break;
		default:        /* repeat a chunk */
			{
				size_t cl = (size_t)(rng() % 32);

				if (pos + cl > n)
					cl = n - pos;
				if (n + cl <= cap) {
					memmove(buf + pos + cl, buf + pos, n - pos);
					n += cl;
				}
			}
			break;
		}
	}
	return n;
}

/* One fuzz input through both parsers; returns NULL or what broke. */
static const char *fuzz_one(const char *in, size_t n)
{
	char id[STS_ID_MAX + 1];
	size_t i, l;
	const char *why;
	int rc;

	rc = parse_n(in, n, &pol);
	if (rc == 0) {
		why = policy_invariants(&pol);
		if (why != NULL)
			return why;
	} else if (rc != -1) {
		return "policy rc not 0/-1";
	} else if (!all_zero(&pol) || !err_one_line()) {
		return "failed policy parse left state or a bad message";
	}

	memset(id, 'Q', sizeof(id));
	rc = txt_n(in, n, id);
	if (rc == STS_TXT_OK) {
		l = strlen(id);
		if (l < 1 || l > STS_ID_MAX || n < 7 || memcmp(in, "v=STSv1", 7) != 0)
			return "txt ok without a proper id";
		for (i = 0; i < l; i++)
			if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
				return "txt id not alphanumeric";
	} else if (rc == STS_TXT_NOT_STS || rc == STS_TXT_BAD) {
		if (id[0] != '\0' || !err_one_line())
			return "txt failure left an id or a bad message";
	} else {
		return "txt rc out of range";
	}

	/* The bytes as a host against a few patterns, and as a pattern. */
	{
		static const char *const pats[] = { "a.example", "*.example", "*.b.example", "*." };
		char *hb = dup_exact(in, n);

		for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
			rc = mxc_sts_pattern_match(pats[i], strlen(pats[i]), hb, n);
			if (rc != 0 && rc != 1) {
				free(hb);
				return "match rc not 0/1";
			}
		}
		rc = mxc_sts_pattern_match(hb, n, "x.example", 9);
		free(hb);
		if (rc != 0 && rc != 1)
			return "match rc not 0/1";
	}
	return NULL;
}

static void fuzz(void)
{
	static char buf[4096];
	size_t n;
	int i, fails = 0, oks = 0;
	const char *why;

	for (i = 0; i < 3000; i++) {
		n = fuzz_gen(buf, sizeof(buf));
		why = fuzz_one(buf, n);
		if (why != NULL && fails++ == 0)
			printf("# random input %d: %s (err '%s')\n", i, why, err);
	}
	ok(fails == 0, "fuzz: 3000 random token strings, both parsers, invariants hold");

	for (i = 0; i < 4000; i++) {
		n = fuzz_mutate(buf, sizeof(buf));
		if (parse_n(buf, n, &pol) == 0)
			oks++;
		why = fuzz_one(buf, n);
		if (why != NULL && fails++ == 0)
			printf("# mutated input %d: %s (err '%s')\n", i, why, err);
	}
	ok(fails == 0, "fuzz: 4000 mutated policies and records, invariants hold");
	ok(oks > 100, "fuzz: some mutated policies still parse (%d)", oks);
}

/* ---- the test groups ---- */

static void test_goods(void)
{
	char got[4096];
	size_t i;
	const char *why;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		char what[160];

		if (!ok(parse_n(g->body, strlen(g->body), &pol) == 0, "policy ok: %s", g->name)) {
			printf("#   err: %s\n", err);
			continue;
		}
		snprintf(what, sizeof(what), "  mode: %s", g->name);
		is_int(pol.mode, g->mode, what);
		snprintf(what, sizeof(what), "  max_age: %s", g->name);
		is_int(pol.max_age, g->max_age, what);
		snprintf(what, sizeof(what), "  max_age_capped: %s", g->name);
		is_int(pol.max_age_capped, g->capped, what);
		join_mx(&pol, got, sizeof(got));
		snprintf(what, sizeof(what), "  mx: %s", g->name);
		is_str(got, g->mx, what);
		join_ext(&pol, got, sizeof(got));
		snprintf(what, sizeof(what), "  extensions: %s", g->name);
		is_str(got, g->ext, what);
		why = policy_invariants(&pol);
		if (!ok(why == NULL, "  invariants and text round trip: %s", g->name))
			printf("#   %s\n", why);
	}
}

static void test_bads(void)
{
	size_t i, n;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		int rc;

		/* a good parse first, so a zeroed result after the bad one means something */
		parse_n(goods[0].body, strlen(goods[0].body), &pol);
		n = b->len ? b->len : strlen(b->body);
		rc = parse_n(b->body, n, &pol);
		if (!ok(rc == -1 && strstr(err, b->errsub) != NULL && err_one_line() && all_zero(&pol),
			"policy bad: %s", b->name))
			printf("#   rc %d, err '%s', want '%s'\n", rc, err, b->errsub);
	}
}

static void test_txt(void)
{
	char id[STS_ID_MAX + 1];
	size_t i, n;
	int rc, nsts;

	for (i = 0; i < sizeof(txts) / sizeof(txts[0]); i++) {
		const struct txt *t = &txts[i];

		memset(id, 'Q', sizeof(id));
		n = t->len ? t->len : strlen(t->in);
		rc = txt_n(t->in, n, id);
		if (!ok(rc == t->rc && memchr(id, '\0', sizeof(id)) != NULL && strcmp(id, t->id) == 0 &&
			(rc == STS_TXT_OK ? err[0] == '\0' : err_one_line()),
			"txt %s: %s", t->rc == STS_TXT_OK ? "ok" : t->rc == STS_TXT_BAD ? "bad" : "not sts", t->name))
			printf("#   rc %d want %d, id '%.*s' want '%s', err '%s'\n", rc, t->rc,
			       (int)sizeof(id), id, t->id, err);
	}

	/* vector 9, the caller's count over a TXT set: exactly one STS record */
	{
		static const char *const set1[] = { "v=STSv1; id=1", "bogus" };
		static const char *const set2[] = { "v=STSv1; id=1", "v=STSv1; id=2" };
		static const char *const set3[] = { "bogus", "more" };
		char first[STS_ID_MAX + 1] = "";

		nsts = 0;
		for (i = 0; i < 2; i++)
			if (txt_n(set1[i], strlen(set1[i]), id) == STS_TXT_OK && nsts++ == 0)
				memcpy(first, id, sizeof(id));
		ok(nsts == 1 && strcmp(first, "1") == 0, "txt set {\"v=STSv1; id=1\",\"bogus\"}: one record, id 1");
		nsts = 0;
		for (i = 0; i < 2; i++)
			nsts += txt_n(set2[i], strlen(set2[i]), id) == STS_TXT_OK;
		ok(nsts == 2, "txt set of two STS records: caller sees two (MultipleRecords)");
		nsts = 0;
		for (i = 0; i < 2; i++)
			nsts += txt_n(set3[i], strlen(set3[i]), id) != STS_TXT_NOT_STS;
		ok(nsts == 0, "txt set {\"bogus\",\"more\"}: no STS record (NoRecord)");
	}

	/* NULL err and a tiny errlen are fine */
	ok(sts_txt_parse("v=STSv1;;", 9, id, NULL, 0) == STS_TXT_BAD, "txt: NULL err accepted");
	{
		char small[8];

		memset(small, 'Z', sizeof(small));
		rc = sts_txt_parse("v=STSv1;;", 9, id, small, sizeof(small));
		ok(rc == STS_TXT_BAD && strlen(small) == sizeof(small) - 1, "txt: err cut to errlen, NUL-terminated");
	}
}

static void test_match(void)
{
	char pat[300], host[300];
	size_t i;

	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *m = &mcases[i];
		char what[128];

		snprintf(what, sizeof(what), "match: pattern '%s' host '%s' -> %d", m->pat, m->host, m->want);
		is_int(match(m->pat, m->host), m->want, what);
	}
	ok(mxc_sts_pattern_match("a.example", 9, NULL, 0) == 0, "match: NULL host, length 0");
	ok(mxc_sts_pattern_match(NULL, 0, "a.example", 9) == 0, "match: NULL pattern, length 0");

	/* long names: 253-byte pattern; host of 253, 254 with a dot, 255, 256 */
	memset(pat, 'a', 253);
	for (i = 63; i < 253; i += 64)
		pat[i] = '.';
	pat[253] = '\0';
	memcpy(host, pat, 254);
	ok(match(pat, host) == 1, "match: 253-byte name matches itself");
	strcat(host, ".");
	ok(match(pat, host) == 1, "match: 254-byte host with trailing dot");
	memset(host, 'a', 256);
	host[256] = '\0';
	ok(match(pat, host) == 0, "match: 256-byte host refused");
	host[255] = '\0';
	ok(match(pat, host) == 0, "match: 255-byte host, no match, no overrun");
	/* 255 bytes with a trailing dot is the longest host taken */
	memset(pat, 'b', 254);
	pat[254] = '\0';
	memcpy(host, pat, 254);
	host[254] = '.';
	host[255] = '\0';
	ok(match(pat, host) == 1, "match: 255-byte host (dot included) accepted");
	host[255] = '.';
	host[256] = '\0';
	ok(match(pat, host) == 0, "match: 256-byte host (two dots) refused");
	/* wildcard with a 63-byte first label */
	memset(host, 'c', 63);
	strcpy(host + 63, ".b.example");
	ok(match("*.b.example", host) == 1, "match: wildcard covers a 63-byte label");
}

static void test_limits(void)
{
	char line[STS_LINE_MAX + 64], mx[300], what[64];
	size_t n, i;
	int rc;

	/* body size */
	n = bput(0, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n");
	memset(big + n, '\n', STS_BODY_MAX - n);
	ok(parse_n(big, STS_BODY_MAX, &pol) == 0, "body of exactly STS_BODY_MAX bytes parses");
	big[STS_BODY_MAX] = '\n';
	rc = parse_n(big, STS_BODY_MAX + 1, &pol);
	ok(rc == -1 && strstr(err, "65537 bytes, more than 65536") != NULL, "body of STS_BODY_MAX + 1 bytes rejected");
	printf("#   err: %s\n", err);
	rc = sts_policy_parse(NULL, 0, &pol, err, sizeof(err));
	ok(rc == -1 && strstr(err, "no version line") != NULL, "NULL body of length 0: missing version");

	/* line length: content only, CR LF not counted */
	n = bput(0, P3 "max_age: 1\nnote: ");
	memset(line, 'x', STS_LINE_MAX - 6);
	line[STS_LINE_MAX - 6] = '\0';
	n = bput(n, line);
	n = bput(n, "\r\n");
	ok(parse_n(big, n, &pol) == 0 && strlen(pol.ext[0].val) == STS_EXT_VAL_MAX && pol.ext[0].truncated == 1,
	   "line of exactly STS_LINE_MAX bytes (+CRLF) parses, long value cut");
	n = bput(0, P3 "max_age: 1\nnote: x");
	n = bput(n, line);
	n = bput(n, "\n");
	rc = parse_n(big, n, &pol);
	ok(rc == -1 && strstr(err, "line 5: longer than 1024 bytes") != NULL, "line of STS_LINE_MAX + 1 bytes rejected");
	/* the same without a final newline */
	rc = parse_n(big, n - 1, &pol);
	ok(rc == -1 && strstr(err, "line 5: longer than 1024 bytes") != NULL, "last line of STS_LINE_MAX + 1, no LF, rejected");

	/* extension value truncation at a UTF-8 boundary (150 x "é" = 300 bytes) */
	n = bput(0, P3 "max_age: 1\nnote: ");
	for (i = 0; i < 150; i++)
		n = bput(n, "\xc3\xa9");
	rc = parse_n(big, n, &pol);
	ok(rc == 0 && strlen(pol.ext[0].val) == 254 && valid_utf8_printable(pol.ext[0].val) && pol.ext[0].truncated,
	   "long UTF-8 extension value cut at a character boundary");
	/* truncation exposing a space: the space goes too */
	n = bput(0, P3 "max_age: 1\nnote: ");
	memset(line, 'y', 254);
	line[254] = ' ';
	line[255] = 'z';
	line[256] = '\0';
	n = bput(n, line);
	rc = parse_n(big, n, &pol);
	ok(rc == 0 && strlen(pol.ext[0].val) == 254, "cut value loses the space it ends on");
	/* exactly STS_EXT_VAL_MAX: kept whole */
	n = bput(0, P3 "max_age: 1\nnote: ");
	memset(line, 'w', STS_EXT_VAL_MAX);
	line[STS_EXT_VAL_MAX] = '\0';
	n = bput(n, line);
	rc = parse_n(big, n, &pol);
	ok(rc == 0 && strlen(pol.ext[0].val) == STS_EXT_VAL_MAX && pol.ext[0].truncated == 0,
	   "extension value of STS_EXT_VAL_MAX bytes kept whole");

	/* mx label and name lengths */
	memset(mx, 'a', 63);
	strcpy(mx + 63, ".example");
	n = bput(0, "version: STSv1\nmode: enforce\nmx: ");
	n = bput(n, mx);
	n = bput(n, "\nmax_age: 1\n");
	ok(parse_n(big, n, &pol) == 0 && strcmp(pol.mx[0], mx) == 0, "mx with a 63-byte label parses");
	memset(mx, 'a', 64);
	strcpy(mx + 64, ".example");
	n = bput(0, "version: STSv1\nmode: enforce\nmx: ");
	n = bput(n, mx);
	n = bput(n, "\nmax_age: 1\n");
	rc = parse_n(big, n, &pol);
	ok(rc == -1 && strstr(err, "label longer than 63 bytes") != NULL, "mx with a 64-byte label rejected");
	/* "*." + 251 = 253 bytes: ok; one more: too long */
	memcpy(mx, "*.", 2);
	memset(mx + 2, 'a', 251);
	for (i = 2 + 60; i < 253; i += 61)
		mx[i] = '.';
	mx[253] = '\0';
	n = bput(0, "version: STSv1\nmode: enforce\nmx: ");
	n = bput(n, mx);
	n = bput(n, "\nmax_age: 1\n");
	ok(parse_n(big, n, &pol) == 0 && strlen(pol.mx[0]) == 253, "mx pattern of 253 bytes parses");
	mx[253] = 'a';
	mx[254] = '\0';
	n = bput(0, "version: STSv1\nmode: enforce\nmx: ");
	n = bput(n, mx);
	n = bput(n, "\nmax_age: 1\n");
	rc = parse_n(big, n, &pol);
	ok(rc == -1 && strstr(err, "longer than 253 bytes") != NULL, "mx pattern of 254 bytes rejected");

	/* STS_MX_MAX distinct patterns; one more is an error; duplicates do not count */
	n = bput(0, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (i = 0; i < STS_MX_MAX; i++) {
		snprintf(mx, sizeof(mx), "mx: mx%zu.example\nmx: MX%zu.example\n", i, i);
		n = bput(n, mx);
	}
	ok(parse_n(big, n, &pol) == 0 && pol.nmx == STS_MX_MAX, "STS_MX_MAX patterns (each twice) parse");
	n = bput(n, "mx: one-more.example\n");
	rc = parse_n(big, n, &pol);
	snprintf(what, sizeof(what), "line %d: mx: more than %d patterns", 3 + 2 * STS_MX_MAX + 1, STS_MX_MAX);
	ok(rc == -1 && strstr(err, what) != NULL, "STS_MX_MAX + 1 patterns rejected");

	/* STS_EXT_MAX distinct extensions; duplicates do not count; one more is an error */
	n = bput(0, P3 "max_age: 1\n");
	for (i = 0; i < STS_EXT_MAX; i++) {
		snprintf(mx, sizeof(mx), "ext%zu: v\next%zu: again\n", i, i);
		n = bput(n, mx);
	}
	ok(parse_n(big, n, &pol) == 0 && pol.next == STS_EXT_MAX && strcmp(pol.ext[5].val, "v") == 0,
	   "STS_EXT_MAX extensions (each twice, first wins) parse");
	n = bput(n, "ext-one-more: v\n");
	rc = parse_n(big, n, &pol);
	ok(rc == -1 && strstr(err, "more than 32 extension keys") != NULL, "STS_EXT_MAX + 1 extensions rejected");

	/* a 64 KiB body of valid extension lines */
	n = bput(0, P3 "max_age: 1\n");
	for (i = 0; n + 40 < STS_BODY_MAX; i++) {
		snprintf(mx, sizeof(mx), "extension-%06zu: some value\n", i);
		n = bput(n, mx);
	}
	rc = parse_n(big, n, &pol);
	ok(rc == -1 && strstr(err, "line 37: more than 32 extension keys") != NULL,
	   "64 KiB of extension lines rejected (too many extensions)");
	printf("#   %zu bytes: %s\n", n, err);

	/* 64 KiB of one repeated mx line collapses and parses */
	n = bput(0, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	while (n + 20 < STS_BODY_MAX)
		n = bput(n, "mx: a.example\n");
	ok(parse_n(big, n, &pol) == 0 && pol.nmx == 1, "64 KiB of one repeated mx line is one pattern");
}

static void test_misc(void)
{
	char out[1024], small[16];
	const char *body = goods[1].body;
	int n;

	is_str(sts_mode_name(STS_MODE_NONE), "none", "mode name none");
	is_str(sts_mode_name(STS_MODE_TESTING), "testing", "mode name testing");
	is_str(sts_mode_name(STS_MODE_ENFORCE), "enforce", "mode name enforce");
	is_str(sts_mode_name(3), "invalid", "mode name out of range");
	is_str(sts_mode_name(-1), "invalid", "mode name negative");

	/* the IP addresses dropped: counted, the first kept for the log */
	for (n = 0; n < (int)(sizeof(goods) / sizeof(goods[0])); n++)
		if (strcmp(goods[n].name, "mx IP addresses dropped, every form") == 0)
			parse_n(goods[n].body, strlen(goods[n].body), &pol);
	is_int(pol.nmx_ip, 6, "IP addresses dropped: 6 counted");
	is_str(pol.mx_ip, "192.0.2.10", "  the first kept as written");
	parse_n(body, strlen(body), &pol);
	is_int(pol.nmx_ip, 0, "no IP address: none counted");
	is_str(pol.mx_ip, "", "  and none kept");

	ok(sts_policy_parse("mode: x", 7, &pol, NULL, 0) == -1, "policy: NULL err accepted");
	memset(small, 'Z', sizeof(small));
	ok(sts_policy_parse("mode: x", 7, &pol, small, sizeof(small)) == -1 && strlen(small) == sizeof(small) - 1,
	   "policy: err cut to errlen, NUL-terminated");

	/* sts_policy_text */
	parse_n(body, strlen(body), &pol);
	n = sts_policy_text(&pol, out, sizeof(out));
	is_str(out, "version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 1\r\nmore: ext e  ns ion\r\n",
	       "policy_text of vector 6");
	is_int(n, strlen(out), "policy_text returns the length");
	memset(small, 'Z', sizeof(small));
	ok(sts_policy_text(&pol, small, sizeof(small)) == n && strlen(small) == sizeof(small) - 1 &&
	   memcmp(small, out, sizeof(small) - 1) == 0, "policy_text into a short buffer: cut, NUL-terminated, full length");
	ok(sts_policy_text(&pol, NULL, 0) == n, "policy_text with no buffer: length only");
	pol.mode = 7;
	ok(sts_policy_text(&pol, out, sizeof(out)) == -1 && out[0] == '\0', "policy_text of a bad mode: -1");
	parse_n(goods[8].body, strlen(goods[8].body), &pol);
	sts_policy_text(&pol, out, sizeof(out));
	ok(strstr(out, "max_age: 31557600\r\n") != NULL, "policy_text writes the capped max_age");
}

int main(void)
{
	test_goods();
	test_bads();
	test_txt();
	test_match();
	test_limits();
	test_misc();
	fuzz();
	return tap_done();
}
