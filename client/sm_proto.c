/*
 * client/sm_proto.c - the socketmap protocol of mxcache-socketmap, apart
 * from the sockets: netstring framing, the map registry and the answers
 * built from the region.  client/sm_conn.c feeds it the bytes each
 * connection reads and writes out what it queues; the fuzz target
 * tests/fuzz/fuzz_socketmap.c feeds it arbitrary bytes the same way.
 *
 * One thread: the maps share one policy buffer and one reply buffer.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxcache.h"
#include "sm_proto.h"

#define SM_NAME_SHOWN     64         /* bytes of an unknown map name echoed */

struct mxc_sm_stats *sm_stats;
static struct sm_maps_conf cf;

void sm_proto_init(const struct sm_maps_conf *conf)
{
	cf = *conf;
}

/* ---- replies -------------------------------------------------------------- */

/* Append one netstring to c's output.  -1: no memory (the caller closes). */
static int reply(struct sm_stream *c, const char *data, size_t len)
{
	char head[16];
	int hl;
	size_t need;

	if (len > SM_REPLY_MAX) {
		data = "TEMP reply longer than the socketmap limit";
		len = strlen(data);
	}
	mxc_sm_count(sm_stats, data[0] == 'O' ? MXS_SM_ANS_OK : data[0] == 'N' ? MXS_SM_ANS_NOTFOUND :
			    data[0] == 'T' ? MXS_SM_ANS_TEMP : MXS_SM_ANS_PERM);
	hl = snprintf(head, sizeof(head), "%zu:", len);
	need = c->outlen + (size_t)hl + len + 1;
	if (need > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return -1;
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, head, (size_t)hl);
	memcpy(c->out + c->outlen + hl, data, len);
	c->out[c->outlen + (size_t)hl + len] = ',';
	c->outlen = need;
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

static struct mxc_sts pol;   /* one thread: the 16 KiB policy is not on the stack */
static struct sbuf sb;

static int map_mtasts(struct sm_stream *c, const char *key, size_t klen)
{
	char dom[MXC_HOST_MAX + 2], canon[MXC_HOST_MAX + 1];
	size_t i;
	int rc;

	/* a key starting with '.' is a parent-domain probe: never a policy */
	if (klen == 0 || key[0] == '.' || sts_domain(key, klen, dom, sizeof(dom)) != 0 ||
	    memchr(dom, '\0', strlen(dom) + 1) != dom + strlen(dom))
		return reply_lit(c, "NOTFOUND ");
	rc = mxc_sts_get(cf.h, dom, &pol);
	if (rc == MXC_NOTFOUND || rc == MXC_BACKOFF || rc == MXC_EINVAL)
		return reply_lit(c, "NOTFOUND ");
	if (rc != MXC_OK)
		return replyf(c, "TEMP MTA-STS cache: %s", mxc_strerror(rc));
	if (pol.mode == MXC_STS_NONE || (pol.mode == MXC_STS_TESTING && !cf.strict_testing) || pol.nmx == 0)
		return reply_lit(c, "NOTFOUND ");
	if (mxc_normalize(dom, canon, sizeof(canon)) != MXC_OK)
		return reply_lit(c, "NOTFOUND ");
	/* Postfix's match= takes ':'-separated names, "*.x" written ".x";
	 * the policy's own order, so equal policies give equal replies */
	sb.n = 0;
	sb.over = 0;
	sb_add(&sb, "OK secure match=");
	for (i = 0; i < pol.nmx; i++)
		sb_add(&sb, "%s%s", i ? ":" : "", pol.mx[i][0] == '*' ? pol.mx[i] + 1 : pol.mx[i]);
	sb_add(&sb, " servername=hostname");
	if (cf.tlsrpt) {
		/* Postfix 3.10 TLSRPT attributes; the policy lines are rebuilt
		 * from the cached fields in their canonical form */
		sb_add(&sb, " policy_type=sts policy_domain=%s", canon);
		for (i = 0; i < pol.nmx; i++)
			sb_add(&sb, " mx_host_pattern=%s", pol.mx[i]);
		sb_add(&sb, " { policy_string = version: STSv1 } { policy_string = mode: %s }",
		       pol.mode == MXC_STS_ENFORCE ? "enforce" : "testing");
		for (i = 0; i < pol.nmx; i++)
			sb_add(&sb, " { policy_string = mx: %s }", pol.mx[i]);
		sb_add(&sb, " { policy_string = max_age: %u }", pol.max_age);
	}
	if (sb.over)
		return reply_lit(c, "TEMP reply longer than the socketmap limit");
	return reply(c, sb.b, sb.n);
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
	size_t i;

	for (i = klen; i > 0; i--)
		if (key[i - 1] == '@') {
			key += i;
			klen -= i;
			break;
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
	char k[MXC_HOST_MAX + 16];
	int rc;

	if (addr_key(key, klen, k, sizeof(k)) != 0)
		return reply_lit(c, "NOTFOUND ");
	rc = mxc_override_get(cf.h, k, &ov);
	if (rc == MXC_NOTFOUND || rc == MXC_EINVAL)
		return reply_lit(c, "NOTFOUND ");
	if (rc != MXC_OK)
		return replyf(c, "TEMP override table: %s", mxc_strerror(rc));
	/* brackets: deliver to the target itself, no MX lookup; an IPv6
	 * target goes in them as it is */
	return replyf(c, "OK %s:[%s]", cf.transport, ov.target);
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
	int (*fn)(struct sm_stream *c, const char *key, size_t klen);
};

/* The registry, as RegisterMap builds it: name -> lookup function. */
static const struct map maps[] = {
	{ "mtasts", map_mtasts },
	{ "transport", map_transport },
	{ "federation", map_federation },
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
		if (strlen(maps[i].name) == nlen && memcmp(maps[i].name, d, nlen) == 0) {
			mxc_sm_count(sm_stats, MXS_SM_REQ_MTASTS + (int)i);
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
		if (request(c, p + i + 1, len) != 0)
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
