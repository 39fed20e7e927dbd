/*
 * client/socketmap.c - mxcache-socketmap: Postfix's socketmap_table
 * protocol, answered from the region through libmxcache.
 *
 *   mxcache-socketmap -d DIR [--unix-fd N] [--tcp-fd N] [--listen-unix PATH]
 *                     [--strict-testing] [--tlsrpt] [--transport NAME]
 *                     [--idle-timeout S] [--max-conn N] [--unix-max-conn N]
 *                     [--tcp-max-conn N] [--max-per-address N]
 *                     [--max-per-uid N] [--stats-fd N] [-f | --log-relay]
 *
 * It logs to syslog (ident mxcache-socketmap, facility mail); with -f to
 * stderr, each line stamped as mxcached stamps its own; with --log-relay
 * to stderr, each line led by its syslog priority ("<4>socketmap: ..."),
 * for mxcached to log with its own lines (-f or its -l file).
 * mxcached runs this program as a supervised child and hands it the
 * listening sockets it bound (DIR/socketmap.sock and the [socketmap]
 * listen address), so a crash here cannot touch the writer, a restart
 * loses no connection attempt (the kernel queues them on the socket the
 * daemon keeps), and the server is just another reader of the region.
 * Run by hand with --listen-unix it binds its own socket.
 *
 * One thread, one epoll set (the connections: client/sm_conn.c; this
 * file is the program and the protocol).  Every answer is a wait-free
 * lookup in the region (well under a microsecond), so nothing here ever
 * blocks on anything but the sockets, and one thread serves thousands of
 * connections.  Requests on a connection are answered in order, pipelined
 * or not.  A request is a netstring "name key"; a reply is a netstring
 * "OK data", "NOTFOUND ", "TEMP reason" or "PERM reason"
 * (socketmap_table(5)).  What this server does with bad input:
 *
 *   framing broken (a length that is not digits, over SM_QUERY_MAX, no
 *   ',' after the data)        PERM with the reason, then close: the
 *                              stream can no longer be parsed;
 *   no space, unknown map      PERM (a Postfix configuration error), the
 *                              connection stays;
 *   a key that is not a name   NOTFOUND;
 *   the region unusable        TEMP (Postfix retries later);
 *   a client that does not read its replies: reading from it stops once
 *   SM_OUT_MAX bytes wait, and it is closed when SM_STALL_S pass without
 *   SM_STALL_PROGRESS bytes of them taken (a byte now and then is not
 *   reading);
 *   a request not complete --idle-timeout after its first byte: closed;
 *   nothing asked --idle-timeout after the last request was answered (or
 *   the accept): closed.  Bytes of a request still incomplete are not
 *   activity, so a peer sending a byte every few seconds is closed like
 *   an idle one;
 *   a peer past a connection limit (each listener's, each address's or
 *   uid's): closed at accept, counted, logged once a minute at most
 *   (socketmap.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "mxcache.h"
#include "socketmap.h"

#define SM_REPLY_MAX      100000     /* Postfix's limit for a reply (socketmap_max_reply_size) */
#define SM_IDLE_DEF_S     60
#define SM_CONN_DEF       1024
/* Per TCP peer address, and per unix uid: all of a local Postfix is one
 * uid and comes by the unix socket, so that one allows more. */
#define SM_ADDR_DEF       256
#define SM_UID_DEF        512
#define SM_NAME_SHOWN     64         /* bytes of an unknown map name echoed */
#define SM_TRANSPORT_MAX  32
#define SM_LOG_LINE_MAX   2048       /* longer messages are cut */

struct opts {
	const char *dir;
	int unix_fd, tcp_fd;
	const char *listen_unix;
	int strict_testing, tlsrpt;
	char transport[SM_TRANSPORT_MAX + 1];
	struct sm_limits lim;
	int foreground_log;
	int log_relay;
	int stats_fd;
};

static struct opts o;
static mxc_t *h;
struct mxc_sm_stats *sm_stats;
static volatile sig_atomic_t stop;

void sm_log(int prio, const char *fmt, ...)
{
	char msg[SM_LOG_LINE_MAX], line[SM_LOG_LINE_MAX + 64];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n = 0;

	va_start(ap, fmt);
	if (!o.foreground_log && !o.log_relay) {
		vsyslog(prio, fmt, ap);
		va_end(ap);
		return;
	}
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	if (o.log_relay) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>", LOG_PRI(prio));
	} else {
		/* mxcached's format: UTC, milliseconds */
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "socketmap: %s\n", msg);
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* one write: a line is never split between two writers */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- replies -------------------------------------------------------------- */

/* Append one netstring to c's output.  -1: no memory (the caller closes). */
static int reply(struct conn *c, const char *data, size_t len)
{
	char head[16];
	int hl;
	size_t need;

	if (len > SM_REPLY_MAX) {
		data = "TEMP reply longer than the socketmap limit";
		len = strlen(data);
	}
	mxc_sm_count(sm_stats, data[0] == 'O' ? MXC_SM_ANS_OK : data[0] == 'N' ? MXC_SM_ANS_NOTFOUND :
			    data[0] == 'T' ? MXC_SM_ANS_TEMP : MXC_SM_ANS_PERM);
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

static int replyf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int replyf(struct conn *c, const char *fmt, ...)
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

static int map_mtasts(struct conn *c, const char *key, size_t klen)
{
	char dom[MXC_HOST_MAX + 2], canon[MXC_HOST_MAX + 1];
	size_t i;
	int rc;

	/* a key starting with '.' is a parent-domain probe: never a policy */
	if (klen == 0 || key[0] == '.' || sts_domain(key, klen, dom, sizeof(dom)) != 0 ||
	    memchr(dom, '\0', strlen(dom) + 1) != dom + strlen(dom))
		return reply_lit(c, "NOTFOUND ");
	rc = mxc_sts_get(h, dom, &pol);
	if (rc == MXC_NOTFOUND || rc == MXC_BACKOFF || rc == MXC_EINVAL)
		return reply_lit(c, "NOTFOUND ");
	if (rc != MXC_OK)
		return replyf(c, "TEMP MTA-STS cache: %s", mxc_strerror(rc));
	if (pol.mode == MXC_STS_NONE || (pol.mode == MXC_STS_TESTING && !o.strict_testing) || pol.nmx == 0)
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
	if (o.tlsrpt) {
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

static int map_transport(struct conn *c, const char *key, size_t klen)
{
	static struct mxc_override ov;
	char k[MXC_HOST_MAX + 16];
	int rc;

	if (addr_key(key, klen, k, sizeof(k)) != 0)
		return reply_lit(c, "NOTFOUND ");
	rc = mxc_override_get(h, k, &ov);
	if (rc == MXC_NOTFOUND || rc == MXC_EINVAL)
		return reply_lit(c, "NOTFOUND ");
	if (rc != MXC_OK)
		return replyf(c, "TEMP override table: %s", mxc_strerror(rc));
	/* brackets: deliver to the target itself, no MX lookup; an IPv6
	 * target goes in them as it is */
	return replyf(c, "OK %s:[%s]", o.transport, ov.target);
}

/* The federation policy as an access(5) verdict: DUNNO lets the rest of
 * the restriction list decide, as if the map were not there; a blocked
 * domain is rejected with madmail's wording. */
static int map_federation(struct conn *c, const char *key, size_t klen)
{
	char k[MXC_HOST_MAX + 16];
	int rc;

	if (addr_key(key, klen, k, sizeof(k)) != 0)
		return reply_lit(c, "NOTFOUND ");
	rc = mxc_federation_allowed(h, k);
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
	int (*fn)(struct conn *c, const char *key, size_t klen);
};

/* The registry, as RegisterMap builds it: name -> lookup function. */
static const struct map maps[] = {
	{ "mtasts", map_mtasts },
	{ "transport", map_transport },
	{ "federation", map_federation },
};

/* One request "name key". */
static int request(struct conn *c, const char *d, size_t len)
{
	const char *sp = memchr(d, ' ', len);
	char shown[SM_NAME_SHOWN + 1];
	size_t nlen, i;

	if (sp == NULL)
		return reply_lit(c, "PERM malformed request: no space between map name and key");
	nlen = (size_t)(sp - d);
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (strlen(maps[i].name) == nlen && memcmp(maps[i].name, d, nlen) == 0) {
			mxc_sm_count(sm_stats, MXC_SM_REQ_MTASTS + (int)i);
			return maps[i].fn(c, sp + 1, len - nlen - 1);
		}
	/* echo a printable prefix of the name only: it is the client's data */
	for (i = 0; i < nlen && i < SM_NAME_SHOWN; i++)
		shown[i] = d[i] > 0x20 && d[i] < 0x7f ? d[i] : '?';
	shown[i] = '\0';
	return replyf(c, "PERM unknown map '%s'", shown);
}

/* Every complete netstring from c->in (socketmap.h). */
int sm_parse(struct conn *c, time_t now)
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

/* ---- start ----------------------------------------------------------------------- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "mxcache-socketmap: %s: path too long for a socket\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "mxcache-socketmap: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mxcache-socketmap [-d DIR] [--unix-fd N] [--tcp-fd N] [--listen-unix PATH]\n"
		   "                         [--strict-testing] [--tlsrpt] [--transport NAME]\n"
		   "                         [--idle-timeout S] [--max-conn N] [--unix-max-conn N]\n"
		   "                         [--tcp-max-conn N] [--max-per-address N] [--max-per-uid N]\n"
		   "                         [--stats-fd N] [-f | --log-relay]\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "unix-fd", required_argument, NULL, 'u' },
		{ "tcp-fd", required_argument, NULL, 't' },
		{ "listen-unix", required_argument, NULL, 'l' },
		{ "strict-testing", no_argument, NULL, 's' },
		{ "tlsrpt", no_argument, NULL, 'r' },
		{ "transport", required_argument, NULL, 'T' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "max-conn", required_argument, NULL, 'm' },
		{ "unix-max-conn", required_argument, NULL, 'U' },
		{ "tcp-max-conn", required_argument, NULL, 'P' },
		{ "max-per-address", required_argument, NULL, 'A' },
		{ "max-per-uid", required_argument, NULL, 'I' },
		{ "stats-fd", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-relay", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int lfds[2], nl = 0, ch, i, rc;

	o.unix_fd = o.tcp_fd = o.stats_fd = -1;
	o.lim.idle_s = SM_IDLE_DEF_S;
	o.lim.total = SM_CONN_DEF;
	o.lim.per_address = SM_ADDR_DEF;
	o.lim.per_uid = SM_UID_DEF;
	snprintf(o.transport, sizeof(o.transport), "smtp");
	while ((ch = getopt_long(argc, argv, "d:fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o.dir = optarg;
			break;
		case 'u':
			if (parse_int(optarg, 0, 1 << 20, &o.unix_fd) != 0)
				goto bad;
			break;
		case 't':
			if (parse_int(optarg, 0, 1 << 20, &o.tcp_fd) != 0)
				goto bad;
			break;
		case 'l':
			o.listen_unix = optarg;
			break;
		case 's':
			o.strict_testing = 1;
			break;
		case 'r':
			o.tlsrpt = 1;
			break;
		case 'T':
			if (strlen(optarg) == 0 || strlen(optarg) > SM_TRANSPORT_MAX || strpbrk(optarg, " :,[]") != NULL)
				goto bad;
			snprintf(o.transport, sizeof(o.transport), "%s", optarg);
			break;
		case 'i':
			if (parse_int(optarg, 1, 86400, &o.lim.idle_s) != 0)
				goto bad;
			break;
		case 'm':
			if (parse_int(optarg, 1, SM_CONN_MAX, &o.lim.total) != 0)
				goto bad;
			break;
		case 'U':
			if (parse_int(optarg, 1, SM_CONN_MAX, &o.lim.unix_max) != 0)
				goto bad;
			break;
		case 'P':
			if (parse_int(optarg, 1, SM_CONN_MAX, &o.lim.tcp_max) != 0)
				goto bad;
			break;
		case 'A':
			if (parse_int(optarg, 1, SM_CONN_MAX, &o.lim.per_address) != 0)
				goto bad;
			break;
		case 'I':
			if (parse_int(optarg, 1, SM_CONN_MAX, &o.lim.per_uid) != 0)
				goto bad;
			break;
		case 'S':
			if (parse_int(optarg, 0, 1 << 20, &o.stats_fd) != 0)
				goto bad;
			break;
		case 'f':
			o.foreground_log = 1;
			break;
		case 'L':
			o.log_relay = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (!o.foreground_log && !o.log_relay)
		openlog("mxcache-socketmap", LOG_PID, LOG_MAIL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	sm_conn_fd_limit(&o.lim);

	if (o.stats_fd >= 0) {
		/* counting is a courtesy: a bad descriptor only costs the figures */
		void *p = mmap(NULL, MXC_SM_STATS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, o.stats_fd, 0);

		if (p != MAP_FAILED && ((struct mxc_sm_stats *)p)->magic == MXC_SM_STATS_MAGIC &&
		    ((struct mxc_sm_stats *)p)->n == MXC_SM_NSTATS)
			sm_stats = p;
		else
			sm_log(LOG_WARNING, "--stats-fd=%d: not mxcached's counters; not counting", o.stats_fd);
		close(o.stats_fd);
	}
	if (o.unix_fd >= 0)
		lfds[nl++] = o.unix_fd;
	if (o.tcp_fd >= 0)
		lfds[nl++] = o.tcp_fd;
	if (nl == 0 && o.listen_unix != NULL && (lfds[nl] = listen_unix(o.listen_unix)) >= 0)
		nl++;
	if (nl == 0) {
		fprintf(stderr, "mxcache-socketmap: no socket to serve (--unix-fd, --tcp-fd or --listen-unix)\n");
		return 2;
	}
	/* the region may not exist yet at the very first start: try on */
	for (i = 0; (rc = mxc_open(o.dir, &h)) != MXC_OK; i++) {
		if (i == 0)
			sm_log(LOG_WARNING, "%s: %s; retrying", o.dir ? o.dir : "(default)", mxc_strerror(rc));
		if (stop)
			return 0;
		sleep(1);
	}
	if (sm_conn_start(lfds, nl, &o.lim) != 0)
		return 1;
	sm_log(LOG_INFO, "serving %d socket%s, maps mtasts transport federation%s%s", nl, nl > 1 ? "s" : "",
	       o.strict_testing ? ", strict testing" : "", o.tlsrpt ? ", TLSRPT attributes" : "");
	sm_conn_run(&stop);
	sm_conn_stop();
	mxc_close(h);
	return 0;
bad:
	usage(stderr);
	return 2;
}
