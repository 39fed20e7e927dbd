/*
 * client/sm_proto.c - the socketmap protocol of mxcache-socketmap, apart
 * from the sockets: netstring framing, the map registry and the answers
 * built from the region.  client/sm_conn.c feeds it the bytes each
 * connection reads and writes out what it queues; the fuzz target
 * tests/fuzz/fuzz_socketmap.c feeds it arbitrary bytes the same way.
 *
 * One thread: the maps share one policy buffer, one text buffer and one
 * reply buffer.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxcache.h"
#include "sm_proto.h"

/* the policy text as mxc_sts_text copies it: a value's length is a u16 */
#define MXS_STS_TEXT_BUF 65536

#define SM_NAME_SHOWN     64         /* bytes of an unknown map name echoed */

struct mxc_sm_stats *sm_stats;
static struct sm_maps_conf cf;

void sm_proto_init(const struct sm_maps_conf *conf)
{
	cf = *conf;
	cf.transport_len = strlen(cf.transport);
}

/* ---- replies -------------------------------------------------------------- */

/*
 * Room in c's output for a netstring of len data bytes: where its data
 * goes (the length and ':' written before it, the ',' after it), or NULL
 * when memory ran out (the caller closes).  The caller writes exactly len
 * bytes there.  Replies are framed in place, one after another, so a
 * batch of pipelined requests goes out in one send.
 */
static char *reply_room(struct sm_stream *c, size_t len)
{
	char digits[SM_LEN_DIGITS];
	size_t need, n = 0, v = len;
	char *p;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	need = c->outlen + n + 1 + len + 1;
	if (need > c->outcap) {
		size_t cap = c->outcap ? c->outcap : SM_OUT_START;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return NULL;
		c->out = p;
		c->outcap = cap;
	}
	p = c->out + c->outlen;
	while (n > 0)
		*p++ = digits[--n];
	*p++ = ':';
	p[len] = ',';
	c->outlen = need;
	return p;
}

static void reply_count(const char *data)
{
	mxc_sm_count(sm_stats, data[0] == 'O' ? MXS_SM_ANS_OK : data[0] == 'N' ? MXS_SM_ANS_NOTFOUND :
			    data[0] == 'T' ? MXS_SM_ANS_TEMP : MXS_SM_ANS_PERM);
}

/* Append one netstring to c's output.  -1: no memory (the caller closes). */
static int reply(struct sm_stream *c, const char *data, size_t len)
{
	char *p;

	if (len > SM_REPLY_MAX) {
		data = "TEMP reply longer than the socketmap limit";
		len = strlen(data);
	}
	reply_count(data);
	p = reply_room(c, len);
	if (p == NULL)
		return -1;
	memcpy(p, data, len);
	return 0;
}

/* "OK data": no copy through a buffer of its own. */
static int reply_ok(struct sm_stream *c, const char *data, size_t len)
{
	char *p;

	if (len > SM_REPLY_MAX - 3)
		return reply(c, "TEMP reply longer than the socketmap limit",
			     sizeof("TEMP reply longer than the socketmap limit") - 1);
	reply_count("OK");
	p = reply_room(c, 3 + len);
	if (p == NULL)
		return -1;
	memcpy(p, "OK ", 3);
	memcpy(p + 3, data, len);
	return 0;
}

/* a constant reply: its length counted by the compiler */
#define reply_lit(c, s) reply((c), (s), sizeof(s) - 1)

static int replyf(struct sm_stream *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int replyf(struct sm_stream *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return reply_lit(c, "TEMP internal error");
	return reply(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* A growing reply body: bounded by SM_REPLY_MAX (longer turns into TEMP). */
struct sbuf {
	char b[SM_REPLY_MAX + 1];
	size_t n;
	int over;
};

static void sb_add(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (s->over)
		return;
	va_start(ap, fmt);
	k = vsnprintf(s->b + s->n, sizeof(s->b) - s->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(s->b) - s->n)
		s->over = 1;
	else
		s->n += (size_t)k;
}

/* ---- the maps ---------------------------------------------------------------- */

/*
 * The domain an mtasts key names, as postfix-mta-sts-resolver reads keys:
 * "[name]" and "[name]:port" lose the brackets and port, "name:port" the
 * port.  Returns 0, or -1 when nothing usable is left.
 */
static int sts_domain(const char *key, size_t klen, char *out, size_t outlen)
{
	const char *b = key, *e = key + klen, *colon;

	if (klen > 0 && key[0] == '[') {
		const char *close = memchr(key, ']', klen);

		if (close == NULL)
			return -1;
		if (close + 1 != e) {
			const char *p;

			if (close[1] != ':' || close + 2 == e)
				return -1;
			for (p = close + 2; p < e; p++)
				if (*p < '0' || *p > '9')
					return -1;
		}
		b = key + 1;
		e = close;
	} else if ((colon = memchr(key, ':', klen)) != NULL && memchr(colon + 1, ':', (size_t)(e - colon - 1)) == NULL) {
		e = colon;   /* one colon: a port; more: a bare IPv6 literal */
	}
	if (e <= b || (size_t)(e - b) >= outlen)
		return -1;
	memcpy(out, b, (size_t)(e - b));
	out[e - b] = '\0';
	return 0;
}

static struct mxc_tls pol;   /* one thread: the 16 KiB answer is not on the stack */
static struct sbuf sb;
static char text[MXS_STS_TEXT_BUF];

int64_t sm_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request at the head of c waits (SM_WAIT), or its wait is over. */
#define SM_WAIT 1

/*
 * Postfix 3.10's TLSRPT attributes of an MTA-STS answer (TLSRPT_README):
 * the policy type and domain, each mx pattern as published ("*." kept),
 * and each line of the policy as it was fetched.  A line holding a brace
 * is left out: Postfix reads "{ name = value }" groups, and a brace the
 * policy's owner put there would end the group early and make the whole
 * answer unreadable, failing every delivery to the domain.  DANE answers
 * carry none: Postfix reports DANE (policy type tlsa) on its own.
 */
static void tlsrpt_attrs(const char *canon)
{
	const char *p, *e, *nl, *x;
	size_t tl = 0;

	sb_add(&sb, " policy_type=sts policy_domain=%s", canon);
	/* the patterns Postfix may hold MX hosts to: the policy's usable
	 * ones (an IP-address mx value never is one), "*." as published */
	p = strstr(pol.policy, "match=");
	if (p != NULL)
		for (p += 6; *p != '\0' && *p != ' ';) {
			for (e = p; *e != '\0' && *e != ' ' && *e != ':'; e++)
				;
			sb_add(&sb, " mx_host_pattern=%s%.*s", *p == '.' ? "*" : "", (int)(e - p), p);
			p = *e == ':' ? e + 1 : e;
		}
	if (mxc_sts_text(cf.h, canon, text, sizeof(text), &tl) != MXC_OK)
		return;   /* not kept (too long for the region): no policy_string */
	for (p = text; p < text + tl; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(text + tl - p));
		if (nl == NULL)
			nl = text + tl;
		e = nl;
		if (e > p && e[-1] == '\r')
			e--;
		if (e == p)
			continue;
		for (x = p; x < e && *x != '{' && *x != '}' && (unsigned char)*x >= 0x20 && *x != 0x7f; x++)
			;
		if (x == e)
			sb_add(&sb, " { policy_string = %.*s }", (int)(e - p), p);
	}
}

/*
 * An mtasts request: the TLS policy of the domain (mxc_tls_policy: a
 * pin, else DANE, else MTA-STS).  Nothing known yet: wait for the
 * daemon's check (SM_WAIT) while miss_wait_ms allows, else NOTFOUND.
 */
static int mtasts_answer(struct sm_stream *c, const char *key, size_t klen, int tlsrpt)
{
	char dom[MXC_HOST_MAX + 2], canon[MXC_HOST_MAX + 1];
	unsigned flags = cf.strict_testing ? MXC_TLS_STRICT_TESTING : 0;
	int64_t now_ms = 0;
	size_t plain;
	int rc;

	/* a key starting with '.' is a parent-domain probe: never a policy;
	 * a NUL inside would cut the name short (another domain's answer).
	 * mxc_tls_policy normalises the name itself (a name it cannot
	 * normalise, or an IP address, is MXC_EINVAL: NOTFOUND), so the
	 * canonical spelling is made here only for the TLSRPT attributes. */
	if (klen == 0 || key[0] == '.' || memchr(key, '\0', klen) != NULL ||
	    sts_domain(key, klen, dom, sizeof(dom)) != 0)
		goto notfound;
	if (c->waiting) {
		/* asked already: look without asking again, unless the ask
		 * may have been lost (a full event ring) a while ago */
		now_ms = sm_mono_ms();
		if (now_ms - c->wait_asked_ms < SM_ASK_AGAIN_MS)
			flags |= MXC_TLS_INSPECT;
		else
			c->wait_asked_ms = now_ms;
	}
	rc = mxc_tls_policy(cf.h, dom, flags, &pol);
	if (rc == MXC_NOTFOUND && cf.miss_wait_ms > 0) {
		if (!c->waiting) {
			now_ms = sm_mono_ms();
			c->waiting = 1;
			c->wait_until_ms = now_ms + cf.miss_wait_ms;
			c->wait_asked_ms = now_ms;
			return SM_WAIT;
		}
		if (now_ms < c->wait_until_ms)
			return SM_WAIT;
	}
	c->waiting = 0;
	if (rc == MXC_NOTFOUND || rc == MXC_EINVAL)
		goto notfound;
	if (rc != MXC_OK)
		return replyf(c, "TEMP TLS policy: %s", mxc_strerror(rc));
	if (pol.source == MXC_TLS_NONE)
		goto notfound;
	if (!tlsrpt || pol.source != MXC_TLS_STS)
		return reply_ok(c, pol.policy, strlen(pol.policy));
	if (mxc_normalize(dom, canon, sizeof(canon)) != MXC_OK)
		goto notfound;       /* not reached: mxc_tls_policy took it */
	sb.n = 0;
	sb.over = 0;
	sb_add(&sb, "OK %s", pol.policy);
	plain = sb.n;
	tlsrpt_attrs(canon);
	if (sb.over) {
		/* the policy stands without its report attributes */
		sb.over = 0;
		sb.n = plain;
	}
	if (sb.over)
		return reply_lit(c, "TEMP reply longer than the socketmap limit");
	return reply(c, sb.b, sb.n);
notfound:
	c->waiting = 0;
	return reply_lit(c, "NOTFOUND ");
}

static int map_mtasts(struct sm_stream *c, const char *key, size_t klen)
{
	return mtasts_answer(c, key, klen, cf.tlsrpt);
}

static int map_mtasts_tlsrpt(struct sm_stream *c, const char *key, size_t klen)
{
	return mtasts_answer(c, key, klen, 1);
}

/*
 * Postfix asks socketmap tables used as transport_maps and as access maps
 * with the whole address, "user@domain", then "*": never the bare domain
 * (socketmap_table(5): no partial search keys).  Overrides and federation
 * rules are per domain, so an address is looked up by what follows its
 * last '@'; "*" and an address with no domain find nothing.  The key
 * lands NUL-terminated in k; -1 when it cannot be one (empty, too long,
 * a NUL inside): NOTFOUND.
 */
static int addr_key(const char *key, size_t klen, char *k, size_t ksize)
{
	const char *at = memrchr(key, '@', klen);

	if (at != NULL) {
		klen -= (size_t)(at + 1 - key);
		key = at + 1;
	}
	if (klen == 0 || klen >= ksize || memchr(key, '\0', klen) != NULL)
		return -1;
	memcpy(k, key, klen);
	k[klen] = '\0';
	return 0;
}

static int map_transport(struct sm_stream *c, const char *key, size_t klen)
{
	static struct mxc_override ov;
	char k[MXC_HOST_MAX + 16], *p;
	size_t tlen;
	int rc;

	if (addr_key(key, klen, k, sizeof(k)) != 0)
		return reply_lit(c, "NOTFOUND ");
	rc = mxc_override_get(cf.h, k, &ov);
	if (rc == MXC_NOTFOUND || rc == MXC_EINVAL)
		return reply_lit(c, "NOTFOUND ");
	if (rc != MXC_OK)
		return replyf(c, "TEMP override table: %s", mxc_strerror(rc));
	/* brackets: deliver to the target itself, no MX lookup; an IPv6
	 * target goes in them as it is.  "OK transport:[target]" */
	tlen = strlen(ov.target);
	p = reply_room(c, 3 + cf.transport_len + 2 + tlen + 1);
	if (p == NULL)
		return -1;
	reply_count("OK");
	memcpy(p, "OK ", 3);
	memcpy(p + 3, cf.transport, cf.transport_len);
	p += 3 + cf.transport_len;
	memcpy(p, ":[", 2);
	memcpy(p + 2, ov.target, tlen);
	p[2 + tlen] = ']';
	return 0;
}

/* The federation policy as an access(5) verdict: DUNNO lets the rest of
 * the restriction list decide, as if the map were not there; a blocked
 * domain is rejected with a 5.7.1 that names the policy. */
static int map_federation(struct sm_stream *c, const char *key, size_t klen)
{
	char k[MXC_HOST_MAX + 16];
	int rc;

	if (addr_key(key, klen, k, sizeof(k)) != 0)
		return reply_lit(c, "NOTFOUND ");
	rc = mxc_federation_allowed(cf.h, k);
	if (rc == 1)
		return reply_lit(c, "OK DUNNO");
	if (rc == 0)
		return reply_lit(c, "OK REJECT 5.7.1 Federation policy rejection");
	if (rc == MXC_EINVAL)
		return reply_lit(c, "NOTFOUND ");
	return replyf(c, "TEMP federation policy: %s", mxc_strerror(rc));
}

struct map {
	const char *name;
	size_t nlen;
	int (*fn)(struct sm_stream *c, const char *key, size_t klen);
	int stat;                    /* its requests' counter (shm/smstats.h) */
};

/* The registry, as RegisterMap builds it: name -> lookup function.  Both
 * mtasts maps count as mtasts requests. */
static const struct map maps[] = {
#define MAP(name, fn, stat) { name, sizeof(name) - 1, fn, stat }
	MAP("mtasts", map_mtasts, MXS_SM_REQ_MTASTS),
	MAP("mtasts-tlsrpt", map_mtasts_tlsrpt, MXS_SM_REQ_MTASTS),
	MAP("transport", map_transport, MXS_SM_REQ_TRANSPORT),
	MAP("federation", map_federation, MXS_SM_REQ_FEDERATION),
#undef MAP
};

/* One request "name key". */
static int request(struct sm_stream *c, const char *d, size_t len)
{
	const char *sp = memchr(d, ' ', len);
	char shown[SM_NAME_SHOWN + 1];
	size_t nlen, i;

	if (sp == NULL)
		return reply_lit(c, "PERM malformed request: no space between map name and key");
	nlen = (size_t)(sp - d);
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (maps[i].nlen == nlen && memcmp(maps[i].name, d, nlen) == 0) {
			if (!c->waiting)
				mxc_sm_count(sm_stats, maps[i].stat);
			return maps[i].fn(c, sp + 1, len - nlen - 1);
		}
	/* echo a printable prefix of the name only: it is the client's data */
	for (i = 0; i < nlen && i < SM_NAME_SHOWN; i++)
		shown[i] = d[i] > 0x20 && d[i] < 0x7f ? d[i] : '?';
	shown[i] = '\0';
	return replyf(c, "PERM unknown map '%s'", shown);
}

/* Every complete netstring from c->in (sm_proto.h). */
int sm_parse(struct sm_stream *c, time_t now)
{
	size_t i, len, off = 0;
	int rc = 0;

	while (off < c->inlen && !c->closing) {
		const char *p = c->in + off;
		size_t avail = c->inlen - off;

		len = 0;
		for (i = 0; i < avail && i < SM_LEN_DIGITS && p[i] >= '0' && p[i] <= '9'; i++)
			len = len * 10 + (size_t)(p[i] - '0');
		if (i == avail)
			break;                              /* more digits may come */
		if (i == 0 || p[i] != ':') {
			c->closing = 1;
			rc = reply_lit(c, "PERM malformed netstring: bad length");
			break;
		}
		if (len > SM_QUERY_MAX) {
			c->closing = 1;
			rc = replyf(c, "PERM request longer than %d bytes", SM_QUERY_MAX);
			break;
		}
		if (avail < i + 1 + len + 1)
			break;                              /* the rest is on its way */
		if (p[i + 1 + len] != ',') {
			c->closing = 1;
			rc = reply_lit(c, "PERM malformed netstring: no ',' after the data");
			break;
		}
		rc = request(c, p + i + 1, len);
		if (rc == SM_WAIT) {
			rc = 0;
			break;                              /* answered later, in order */
		}
		if (rc != 0)
			return -1;
		off += i + 1 + len + 1;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
		c->idle_since = now;
	}
	/* the clock of a request starts at its first byte: what is left
	 * began now if a request ended in these bytes, else it runs on */
	if (c->inlen == 0)
		c->req_since = 0;
	else if (off > 0 || c->req_since == 0)
		c->req_since = now;
	return rc;
}
