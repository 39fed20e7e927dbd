/*
 * daemon/sts_parse.c - MTA-STS policy file and TXT record parsers
 * (contract in sts_parse.h).
 *
 * The input is whatever a remote server chose to send, so every scan is
 * bounded by the length given, not by a NUL, and nothing is copied out
 * before its length has been checked against the fixed field it goes to.
 * Character classes are hand-rolled rather than <ctype.h>: those follow the
 * process locale, and a policy must parse the same way everywhere.
 */
#include "sts_parse.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define STS_LABEL_MAX 63
/* How much of a bad key or value an error message quotes. */
#define STS_QUOTE_MAX 48

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Bytes from the network go into log lines: anything but printable ASCII
 * becomes '?', so a message stays one harmless line, and a long run is
 * cut with "...".
 */
static const char *quote(char buf[STS_QUOTE_MAX + 4], const char *s, size_t n)
{
	size_t i, m = n > STS_QUOTE_MAX ? STS_QUOTE_MAX : n;

	for (i = 0; i < m; i++)
		buf[i] = ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f) ? s[i] : '?';
	if (m < n) {
		memcpy(buf + m, "...", 3);
		m += 3;
	}
	buf[m] = '\0';
	return buf;
}

/*
 * Length of the well-formed UTF-8 character at s (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0.  The policy ABNF
 * allows UTF8-non-ascii in values; checking it here keeps malformed bytes
 * out of the JSON that TLSRPT later builds from them.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* RFC 8461 ext names, also the shape of every known policy key. */
static int key_ok(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > STS_EXT_KEY_MAX || !is_alnum((unsigned char)k[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_alnum((unsigned char)k[i]) && k[i] != '_' && k[i] != '-' && k[i] != '.')
			return 0;
	return 1;
}

static int key_is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(k, name, n) == 0;
}

/*
 * A policy value: VCHAR, UTF-8, and SP/TAB inside (the ends are already
 * trimmed).  Returns NULL or what is wrong.
 */
static const char *value_bad(const char *v, size_t n)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0, l;

	if (n == 0)
		return "empty value";
	while (i < n) {
		if (u[i] >= 0x80) {
			l = utf8_len(u + i, n - i);
			if (l == 0)
				return "malformed UTF-8";
			i += l;
			continue;
		}
		if (u[i] == '\r')
			return "CR not followed by LF";
		if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f)
			return "control character";
		i++;
	}
	return NULL;
}

/*
 * An mx value into its canonical form: ["*."] LDH labels, lower-case.
 * Returns NULL or what is wrong; out is written only on success.
 */
static const char *mx_canon(const char *v, size_t n, char out[STS_MX_LEN + 1])
{
	size_t i, start, j;

	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] >= 0x80)
			return "non-ASCII name (write U-labels as A-labels, xn--)";
	if (n > STS_MX_LEN)
		return "longer than 253 bytes";
	i = (n >= 2 && v[0] == '*' && v[1] == '.') ? 2 : 0;
	if (i == n)
		return "no domain after '*.'";
	for (;;) {
		start = i;
		while (i < n && v[i] != '.') {
			if (v[i] == '*')
				return "'*' is only allowed as a whole first label, '*.'";
			if (!is_alnum((unsigned char)v[i]) && v[i] != '-')
				return "not a letter, digit, '-' or '.'";
			i++;
		}
		if (i == start)
			return i == n ? "trailing dot" : "empty label";
		if (i - start > STS_LABEL_MAX)
			return "label longer than 63 bytes";
		if (v[start] == '-' || v[i - 1] == '-')
			return "label starts or ends with '-'";
		if (i == n)
			break;
		i++;                    /* the dot */
		if (i == n)
			return "trailing dot";
	}
	for (j = 0; j < n; j++)
		out[j] = lower(v[j]);
	out[n] = '\0';
	return NULL;
}

/*
 * Is the mx value an IP address: a dotted quad, an IPv6 address, either in
 * brackets, or "[IPv6:...]" (RFC 5321's address literal)?  inet_pton is
 * strict: "1.2.3", "256.1.1.1" or "01.2.3.4" are not IPv4 addresses (they
 * are still checked as names).
 */
static int mx_is_ip(const char *v, size_t n)
{
	char a[STS_MX_IP_MAX + 1];
	unsigned char bin[16];

	if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
		v++;
		n -= 2;
		if (n >= 5 && strncasecmp(v, "IPv6:", 5) == 0) {
			v += 5;
			n -= 5;
		}
	}
	if (n == 0 || n > STS_MX_IP_MAX)
		return 0;
	memcpy(a, v, n);
	a[n] = '\0';
	return inet_pton(AF_INET, a, bin) == 1 || inet_pton(AF_INET6, a, bin) == 1;
}

/* Parser state for one policy body. */
struct pstate {
	struct sts_policy *p;
	char *err;
	size_t errlen;
	unsigned line;
	int seen_version, seen_mode, seen_max_age;
};

static int parse_max_age(struct pstate *ps, const char *v, size_t n)
{
	char q[STS_QUOTE_MAX + 4];
	uint64_t age = 0;
	size_t i;

	/* ABNF 1*10DIGIT: ten digits fit a uint64_t, so no overflow check. */
	if (n > 10)
		return set_err(ps->err, ps->errlen, "line %u: max_age: '%s' has more than 10 digits",
			       ps->line, quote(q, v, n));
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)v[i]))
			return set_err(ps->err, ps->errlen, "line %u: max_age: '%s' is not a number of seconds",
				       ps->line, quote(q, v, n));
		age = age * 10 + (uint64_t)(v[i] - '0');
	}
	/*
	 * Errata 7282: cap, not reject.  Rejecting would leave the domain
	 * without a policy over a value that still means "cache a long time".
	 */
	if (age > STS_MAX_AGE_CAP) {
		age = STS_MAX_AGE_CAP;
		ps->p->max_age_capped = 1;
	}
	ps->p->max_age = (uint32_t)age;
	return 0;
}

static int parse_mx(struct pstate *ps, const char *v, size_t n)
{
	struct sts_policy *p = ps->p;
	char q[STS_QUOTE_MAX + 4];
	char canon[STS_MX_LEN + 1];
	const char *why;
	size_t k;

	if (mx_is_ip(v, n)) {
		if (p->nmx_ip++ == 0) {
			memcpy(p->mx_ip, v, n);     /* n <= STS_MX_IP_MAX: mx_is_ip */
			p->mx_ip[n] = '\0';
		}
		return 0;
	}
	why = mx_canon(v, n, canon);
	if (why != NULL)
		return set_err(ps->err, ps->errlen, "line %u: mx: '%s': %s", ps->line, quote(q, v, n), why);
	for (k = 0; k < p->nmx; k++)
		if (strcmp(p->mx[k], canon) == 0)
			return 0;
	if (p->nmx == STS_MX_MAX)
		return set_err(ps->err, ps->errlen, "line %u: mx: more than %d patterns", ps->line, STS_MX_MAX);
	memcpy(p->mx[p->nmx++], canon, n + 1);
	return 0;
}

static int parse_ext(struct pstate *ps, const char *k, size_t kn, const char *v, size_t vn)
{
	struct sts_policy *p = ps->p;
	size_t i;

	for (i = 0; i < p->next; i++)
		if (key_is(k, kn, p->ext[i].key))
			return 0;
	if (p->next == STS_EXT_MAX)
		return set_err(ps->err, ps->errlen, "line %u: more than %d extension keys", ps->line, STS_EXT_MAX);
	memcpy(p->ext[p->next].key, k, kn);
	p->ext[p->next].key[kn] = '\0';
	if (vn > STS_EXT_VAL_MAX) {
		/* Cut before a UTF-8 continuation byte, then drop the WSP it exposes. */
		vn = STS_EXT_VAL_MAX;
		while (vn > 0 && ((unsigned char)v[vn] & 0xc0) == 0x80)
			vn--;
		while (vn > 0 && is_wsp((unsigned char)v[vn - 1]))
			vn--;
		p->ext[p->next].truncated = 1;
	}
	memcpy(p->ext[p->next].val, v, vn);
	p->ext[p->next].val[vn] = '\0';
	p->next++;
	return 0;
}

static int parse_line(struct pstate *ps, const char *s, size_t n)
{
	char q[STS_QUOTE_MAX + 4];
	const char *colon, *v, *why;
	size_t kn, vn;

	if (memchr(s, '\0', n) != NULL)
		return set_err(ps->err, ps->errlen, "line %u: NUL byte", ps->line);
	colon = memchr(s, ':', n);
	if (colon == NULL)
		return set_err(ps->err, ps->errlen, "line %u: no ':' in '%s'", ps->line, quote(q, s, n));
	kn = (size_t)(colon - s);
	if (kn == 0)
		return set_err(ps->err, ps->errlen, "line %u: empty key", ps->line);
	if (kn > STS_EXT_KEY_MAX)
		return set_err(ps->err, ps->errlen, "line %u: key '%s' is longer than %d bytes",
			       ps->line, quote(q, s, kn), STS_EXT_KEY_MAX);
	if (!key_ok(s, kn))
		return set_err(ps->err, ps->errlen,
			       "line %u: key '%s' is not a letter or digit then letters, digits, '_', '-', '.'",
			       ps->line, quote(q, s, kn));
	v = colon + 1;
	vn = n - kn - 1;
	while (vn > 0 && is_wsp((unsigned char)v[0])) {
		v++;
		vn--;
	}
	while (vn > 0 && is_wsp((unsigned char)v[vn - 1]))
		vn--;
	why = value_bad(v, vn);
	if (why != NULL)
		return set_err(ps->err, ps->errlen, "line %u: %s: %s", ps->line, quote(q, s, kn), why);

	if (key_is(s, kn, "version")) {
		if (ps->seen_version++)
			return 0;
		if (!key_is(v, vn, "STSv1"))
			return set_err(ps->err, ps->errlen, "line %u: version: '%s' is not STSv1",
				       ps->line, quote(q, v, vn));
		return 0;
	}
	if (key_is(s, kn, "mode")) {
		if (ps->seen_mode++)
			return 0;
		if (key_is(v, vn, "enforce"))
			ps->p->mode = STS_MODE_ENFORCE;
		else if (key_is(v, vn, "testing"))
			ps->p->mode = STS_MODE_TESTING;
		else if (key_is(v, vn, "none"))
			ps->p->mode = STS_MODE_NONE;
		else
			return set_err(ps->err, ps->errlen, "line %u: mode: '%s' is not enforce, testing or none",
				       ps->line, quote(q, v, vn));
		return 0;
	}
	if (key_is(s, kn, "max_age")) {
		if (ps->seen_max_age++)
			return 0;
		return parse_max_age(ps, v, vn);
	}
	if (key_is(s, kn, "mx"))
		return parse_mx(ps, v, vn);
	return parse_ext(ps, s, kn, v, vn);
}

static int policy_body(struct pstate *ps, const char *body, size_t len)
{
	const char *nl;
	size_t pos = 0, end, next;

	if (len > STS_BODY_MAX)
		return set_err(ps->err, ps->errlen, "policy is %zu bytes, more than %d", len, STS_BODY_MAX);
	if (body == NULL && len > 0)
		return set_err(ps->err, ps->errlen, "no policy body");
	while (pos < len) {
		ps->line++;
		nl = memchr(body + pos, '\n', len - pos);
		end = nl != NULL ? (size_t)(nl - body) : len;
		next = nl != NULL ? end + 1 : len;
		if (nl != NULL && end > pos && body[end - 1] == '\r')
			end--;
		if (end - pos > STS_LINE_MAX)
			return set_err(ps->err, ps->errlen, "line %u: longer than %d bytes", ps->line, STS_LINE_MAX);
		if (end > pos && parse_line(ps, body + pos, end - pos) != 0)
			return -1;
		pos = next;
	}
	if (!ps->seen_version)
		return set_err(ps->err, ps->errlen, "no version line");
	if (!ps->seen_mode)
		return set_err(ps->err, ps->errlen, "no mode line");
	if (!ps->seen_max_age)
		return set_err(ps->err, ps->errlen, "no max_age line");
	if (ps->p->nmx == 0 && ps->p->mode != STS_MODE_NONE && ps->p->nmx_ip > 0)
		return set_err(ps->err, ps->errlen, "mode %s: every mx value is an IP address, no pattern left",
			       sts_mode_name(ps->p->mode));
	if (ps->p->nmx == 0 && ps->p->mode != STS_MODE_NONE)
		return set_err(ps->err, ps->errlen, "mode %s without an mx line", sts_mode_name(ps->p->mode));
	return 0;
}

int sts_policy_parse(const char *body, size_t len, struct sts_policy *p, char *err, size_t errlen)
{
	struct pstate ps;

	memset(p, 0, sizeof(*p));
	memset(&ps, 0, sizeof(ps));
	ps.p = p;
	ps.err = err;
	ps.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (policy_body(&ps, body, len) != 0) {
		/* Half a policy must not be mistaken for one. */
		memset(p, 0, sizeof(*p));
		return -1;
	}
	return 0;
}

/* TXT field value: 1*(%x21-3A / %x3C / %x3E-7E), i.e. no '=', ';', SP, CTL. */
static int txt_value_char(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '=' && c != ';';
}

static size_t skip_wsp(const char *s, size_t i, size_t n)
{
	while (i < n && is_wsp((unsigned char)s[i]))
		i++;
	return i;
}

/*
 * One field at txt[*pos]: key [WSP] '=' [WSP] value.  Leaves *pos after
 * the value.  Returns 0, or -1 with err set.
 */
static int txt_field(const char *txt, size_t len, size_t *pos, char id[STS_ID_MAX + 1], int *have_id,
		     char *err, size_t errlen)
{
	char q[STS_QUOTE_MAX + 4];
	size_t i = *pos, k0, kn, v0, vn, j;

	k0 = i;
	while (i < len && (is_alnum((unsigned char)txt[i]) || txt[i] == '_' || txt[i] == '-' || txt[i] == '.'))
		i++;
	kn = i - k0;
	if (kn == 0) {
		if (i < len && txt[i] == ';')
			return set_err(err, errlen, "empty field (';;')");
		return set_err(err, errlen, "field does not start with a key: '%s'", quote(q, txt + i, len - i));
	}
	if (!key_ok(txt + k0, kn))
		return set_err(err, errlen, "key '%s' is not a letter or digit then up to %d of letters, digits, '_', '-', '.'",
			       quote(q, txt + k0, kn), STS_EXT_KEY_MAX - 1);
	i = skip_wsp(txt, i, len);
	if (i == len || txt[i] != '=')
		return set_err(err, errlen, "key '%s' is not followed by '='", quote(q, txt + k0, kn));
	i = skip_wsp(txt, i + 1, len);
	v0 = i;
	while (i < len && txt_value_char((unsigned char)txt[i]))
		i++;
	vn = i - v0;
	if (vn == 0)
		return set_err(err, errlen, "key '%s' has an empty value", quote(q, txt + k0, kn));
	if (key_is(txt + k0, kn, "id")) {
		if (vn > STS_ID_MAX)
			return set_err(err, errlen, "id '%s' is longer than %d characters", quote(q, txt + v0, vn), STS_ID_MAX);
		for (j = v0; j < i; j++)
			if (!is_alnum((unsigned char)txt[j]))
				return set_err(err, errlen, "id '%s' is not letters and digits only", quote(q, txt + v0, vn));
		if (!*have_id) {
			memcpy(id, txt + v0, vn);
			id[vn] = '\0';
			*have_id = 1;
		}
	}
	*pos = i;
	return 0;
}

int sts_txt_parse(const char *txt, size_t len, char id[STS_ID_MAX + 1], char *err, size_t errlen)
{
	char q[STS_QUOTE_MAX + 4];
	size_t i;
	int have_id = 0;

	id[0] = '\0';
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (txt == NULL || len < 7 || memcmp(txt, "v=STSv1", 7) != 0) {
		set_err(err, errlen, "not an STS record (no 'v=STSv1' at the start)");
		return STS_TXT_NOT_STS;
	}
	/* "v=STSv10" or "v=STSv1x" is some other version, not a broken v1. */
	i = skip_wsp(txt, 7, len);
	if (i < len && txt[i] != ';') {
		set_err(err, errlen, "not an STS record ('v=STSv1' followed by '%s')", quote(q, txt + i, len - i));
		return STS_TXT_NOT_STS;
	}
	while (i < len) {
		/* here txt[i] == ';' */
		i = skip_wsp(txt, i + 1, len);
		if (i == len)
			break;          /* a trailing ';' */
		if (txt_field(txt, len, &i, id, &have_id, err, errlen) != 0)
			goto bad;
		i = skip_wsp(txt, i, len);
		if (i < len && txt[i] != ';') {
			set_err(err, errlen, "'%s' where ';' or the end should be", quote(q, txt + i, len - i));
			goto bad;
		}
	}
	if (!have_id) {
		set_err(err, errlen, "no id field");
		goto bad;
	}
	return STS_TXT_OK;
bad:
	id[0] = '\0';
	return STS_TXT_BAD;
}

const char *sts_mode_name(int mode)
{
	switch (mode) {
	case STS_MODE_NONE:
		return "none";
	case STS_MODE_TESTING:
		return "testing";
	case STS_MODE_ENFORCE:
		return "enforce";
	default:
		return "invalid";
	}
}

/* snprintf-style output: counts everything, stores what fits. */
struct tbuf {
	char *out;
	size_t outlen;
	size_t n;
};

static void tb_put(struct tbuf *t, const char *s, size_t n)
{
	size_t room;

	if (t->outlen > 0 && t->n < t->outlen - 1) {
		room = t->outlen - 1 - t->n;
		memcpy(t->out + t->n, s, n < room ? n : room);
	}
	t->n += n;
}

static void tb_line(struct tbuf *t, const char *key, const char *val)
{
	tb_put(t, key, strlen(key));
	tb_put(t, ": ", 2);
	tb_put(t, val, strlen(val));
	tb_put(t, "\r\n", 2);
}

int sts_policy_text(const struct sts_policy *p, char *out, size_t outlen)
{
	struct tbuf t = { out, outlen, 0 };
	char age[16];
	size_t i;

	if (p->mode < STS_MODE_NONE || p->mode > STS_MODE_ENFORCE || p->nmx > STS_MX_MAX || p->next > STS_EXT_MAX) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	tb_line(&t, "version", "STSv1");
	tb_line(&t, "mode", sts_mode_name(p->mode));
	for (i = 0; i < p->nmx; i++)
		tb_line(&t, "mx", p->mx[i]);
	snprintf(age, sizeof(age), "%u", (unsigned)p->max_age);
	tb_line(&t, "max_age", age);
	for (i = 0; i < p->next; i++)
		tb_line(&t, p->ext[i].key, p->ext[i].val);
	if (outlen > 0)
		out[t.n < outlen ? t.n : outlen - 1] = '\0';
	/* Bounded by the struct: 64 + 32 short lines are far below INT_MAX. */
	return (int)t.n;
}
