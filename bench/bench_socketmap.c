/*
 * bench/bench_socketmap.c - what a Postfix lookup through mxcache-socketmap
 * costs, next to the same lookup done by the library in process.
 *
 *   bench_socketmap [--quick] [--entries N] [--csv FILE] [--server PATH]
 *                   [--trivial PATH] [--only TEXT]
 *
 * Postfix cannot link libmxcache; it asks mxcache-socketmap over a socket
 * (socketmap_table(5)).  That adds a round trip, two context switches and
 * the netstring framing to a lookup that costs well under a microsecond in
 * process, so the question is by how much, and how the one-thread server
 * holds up when many Postfix processes ask at once.
 *
 * The region is built in this process with the daemon's own code (N
 * endpoint overrides and N MTA-STS enforce policies, the keys of
 * bench/common.h), then build/mxcache-socketmap is started on it as a child
 * listening on a unix socket.  Every answer of a sample is checked over the
 * socket before any timing.  Two request kinds, uniform random keys from
 * one pre-generated sequence:
 *
 *   transport  "transport KEY" (an override: "OK smtp:[target]"), against
 *              mxc_resolve in process;
 *   mtasts     "mtasts DOMAIN" (a policy: "OK secure match=..."), against
 *              mxc_sts_get + mxc_sts_match in process;
 *   mtasts_dane "mtasts dane.DOMAIN" (a usable DANE state beside the same
 *              policy: "OK dane-only"), against mxc_tls_policy in process.
 *
 * Modes, each for a fixed wall time:
 *
 *   library      batches of BATCH lookups timed together: p50/p99 of the
 *                per-lookup time over the batches; the rate is lookups per
 *                second of timed time;
 *   socketmap/1  one persistent connection, one request at a time (send the
 *                netstring, read the whole reply, then the next): each
 *                round trip timed on its own, nothing subtracted;
 *   socketmap/32 CONNS_MANY persistent connections, one thread each, one
 *                request at a time: p50/p99 over every request of every
 *                thread, the rate is all replies over the common wall time;
 *   socketmap_pipelined16/1  one connection keeping PIPE_DEPTH requests in
 *                flight: the rate a pipelining client gets (latency is
 *                send to reply, so it includes the queue ahead); the
 *                replies that arrived together are read, and as many new
 *                requests go in one send;
 *   socketmap_pipelined100/1  the same, PIPE_DEEP requests in flight.
 *
 * Each socketmap mode is measured again, right after, against
 * build/bench/sm_trivial (bench/alt/sm_trivial.c): a one-thread server
 * that answers every request "OK x" with no lookup at all, the floor of
 * the protocol on this machine (modes trivial/1, trivial/32,
 * trivial_pipelined16/1, trivial_pipelined100/1, the same request bytes).
 * The rate of mxcache-socketmap over that floor's, mode by mode, is what
 * its own work costs (rate_vs_trivial; 1.0 is as fast as answering
 * without looking anything up).
 *
 * The clients run on the same CPUs as the server, as Postfix's processes
 * would; with more threads than CPUs the 32-connection latencies include
 * the wait for a CPU.  Request bytes are prepared before timing.  --only
 * TEXT measures only the cases whose "KIND/MODE/CONNS" holds TEXT (for a
 * profiler: --only transport/socketmap_pipelined100).  Reports
 * figures, never pass or fail: exit 1 only when something broke (a wrong
 * answer, a server that did not start or answer).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "bench_socketmap"
#include "bench/common.h"
#include "bench/policy.h"
#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/sts.h"
#include "shm/override.h"
#include "shm/path.h"

#define ENTRIES_FULL      100000
#define ENTRIES_QUICK     20000
#define ENTRIES_MAX       10000000
#define MEASURE_NS_FULL   2.5e9       /* wall time per measurement */
#define MEASURE_NS_QUICK  0.3e9
#define BATCH             64          /* library lookups timed together */
#define CONNS_MANY        32
#define PIPE_DEPTH        16
#define PIPE_DEEP         100
#define PIPE_MAX          PIPE_DEEP   /* the deepest mode: send times kept */
#define WARMUP_REQS       200         /* per connection, untimed: first touches */
#define SEQ_LEN           (1u << 20)  /* pre-generated key indices, used cyclically */
#define SEQ_SEED          UINT64_C(0x736f636b6d6170)
#define VERIFY_SAMPLE     2000        /* keys checked over the socket before timing */
#define LAT_CAP0          65536       /* latency samples a connection starts with */
#define REQ_SLOT          64          /* one prepared request netstring */
#define NS_MAX_LEN        100000      /* Postfix's socketmap_max_reply_size */
#define NS_LEN_DIGITS     10          /* digits of a length, leading zeros included */
#define RD_BUF            65536
#define IO_TIMEOUT_S      5           /* a silent server is broken, not slow */
#define START_TIMEOUT_NS  5e9         /* until the server's socket accepts */
#define STOP_TIMEOUT_NS   5e9         /* after SIGTERM, before SIGKILL */
#define POLL_NS           10000000L   /* start/stop polling, and the main thread's sleep */
#define SOCK_NAME         "socketmap.sock"
#define SERVER_REL        "/../mxcache-socketmap"   /* from this program's directory */
#define TRIVIAL_REL       "/sm_trivial"
#define TRIVIAL_SOCK      "trivial.sock"

enum { KIND_TRANSPORT, KIND_MTASTS, KIND_DANE, KIND_N };
static const char *const kind_name[KIND_N] = { "transport", "mtasts", "mtasts_dane" };
static const char *const kind_map[KIND_N] = { "transport", "mtasts", "mtasts" };
/* the DANE domains: each key under this label, its entry with a usable
 * DANE state beside the same enforce policy (the map answers dane-only) */
#define DANE_PREFIX "dane."
_Static_assert(KEY_MAX + sizeof(DANE_PREFIX) <= KEY_SLOT, "a DANE domain fits a key slot");

/* Each socketmap mode, then the same against the trivial server (its
 * partner), measured back to back so both see the same machine. */
enum {
	MODE_LIBRARY, MODE_ONE, MODE_T_ONE, MODE_MANY, MODE_T_MANY, MODE_PIPE, MODE_T_PIPE, MODE_DEEP, MODE_T_DEEP,
	MODE_N
};
static const char *const mode_name[MODE_N] = {
	"library", "socketmap", "trivial", "socketmap", "trivial", "socketmap_pipelined16", "trivial_pipelined16",
	"socketmap_pipelined100", "trivial_pipelined100",
};
static const int mode_conns[MODE_N] = { 1, 1, 1, CONNS_MANY, CONNS_MANY, 1, 1, 1, 1 };
static const int mode_depth[MODE_N] = { 0, 1, 1, 1, 1, PIPE_DEPTH, PIPE_DEPTH, PIPE_DEEP, PIPE_DEEP };
static const int mode_trivial[MODE_N] = { 0, 0, 1, 0, 1, 0, 1, 0, 1 };
/* an mxcache-socketmap mode's trivial partner, or -1 */
static const int mode_partner[MODE_N] = { -1, MODE_T_ONE, -1, MODE_T_MANY, -1, MODE_T_PIPE, -1, MODE_T_DEEP, -1 };

struct result {
	int done;
	double p50, p99, rate;
	uint64_t count;
};

/* What every measurement reads: keys, expected targets, prepared requests. */
struct data {
	uint64_t n;
	char (*key)[KEY_SLOT];
	char (*target)[TARGET_SLOT];
	char (*req[KIND_N])[REQ_SLOT];
	uint8_t *reqlen[KIND_N];
	uint32_t *seq;
};

static volatile sig_atomic_t g_signal;
/* The connection threads' start line: ready counts them in, go starts them
 * together, stop tells them the time is up. */
static atomic_int g_ready, g_go, g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_signal = 1;
}

static void nap(void)
{
	struct timespec ts = { 0, POLL_NS };

	nanosleep(&ts, NULL);
}

/* ---- growing sample arrays ---------------------------------------------- */

struct lat {
	double *v;
	size_t n, cap;
};

static int lat_add(struct lat *l, double x)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : LAT_CAP0;
		double *p = realloc(l->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = x;
	return 0;
}

static void lat_quantiles(struct lat *l, struct result *res)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	res->p50 = quantile(l->v, l->n, 0.5);
	res->p99 = quantile(l->v, l->n, 0.99);
}

/* ---- the data ------------------------------------------------------------ */

static void data_free(struct data *d)
{
	int k;

	free(d->key);
	free(d->target);
	for (k = 0; k < KIND_N; k++) {
		free(d->req[k]);
		free(d->reqlen[k]);
	}
	free(d->seq);
	memset(d, 0, sizeof(*d));
}

static int data_make(struct data *d, uint64_t n)
{
	uint64_t i, rng = SEQ_SEED;
	int k, len;

	memset(d, 0, sizeof(*d));
	d->n = n;
	d->key = malloc(n * sizeof(*d->key));
	d->target = malloc(n * sizeof(*d->target));
	d->seq = malloc(SEQ_LEN * sizeof(*d->seq));
	for (k = 0; k < KIND_N; k++) {
		d->req[k] = malloc(n * sizeof(*d->req[k]));
		d->reqlen[k] = malloc(n);
		if (d->req[k] == NULL || d->reqlen[k] == NULL)
			goto fail;
	}
	if (d->key == NULL || d->target == NULL || d->seq == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		make_key(i, d->key[i]);
		make_target(i, d->target[i]);
		for (k = 0; k < KIND_N; k++) {
			const char *pre = k == KIND_DANE ? DANE_PREFIX : "";

			len = snprintf(d->req[k][i], REQ_SLOT, "%zu:%s %s%s,",
				       strlen(kind_map[k]) + 1 + strlen(pre) + strlen(d->key[i]), kind_map[k], pre,
				       d->key[i]);
			if (len < 0 || len >= REQ_SLOT)
				goto fail;
			d->reqlen[k][i] = (uint8_t)len;
		}
	}
	for (i = 0; i < SEQ_LEN; i++)
		d->seq[i] = below(&rng, (uint32_t)n);
	return 0;
fail:
	progress("out of memory for %" PRIu64 " keys", n);
	data_free(d);
	return -1;
}

/* ---- the region ---------------------------------------------------------- */

/* N overrides, N enforce policies and N DANE domains, published and
 * live.  *rp is set as soon as the region exists, so the caller cleans up
 * after a failure too. */
static int build(const char *dir, const struct data *d, struct region **rp)
{
	struct region_opts o;
	struct sts_rec *p;
	uint8_t val[MXS_OV_VALUE_MAX];
	char host[MXC_HOST_MAX + 1], dane[KEY_SLOT];
	int64_t now = (int64_t)time(NULL);
	size_t vlen;
	uint64_t i;
	int rc = -1;

	p = calloc(1, sizeof(*p));
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.nslots = 64;
	o.gid = (gid_t)-1;
	/* sized for every entry, so nothing grows while building */
	if (p == NULL || region_create(&o, 3 * d->n, rp) != 0)
		goto out;
	for (i = 0; i < d->n && !g_signal; i++) {
		vlen = mxc_ov_value_encode(val, now, now, d->target[i], strlen(d->target[i]), "bench", 5);
		if (vlen == 0 || region_put(*rp, MXS_TAB_OVERRIDE, d->key[i], strlen(d->key[i]), val, vlen, NULL, 0) < 0)
			goto out;
		bench_policy(i, d->key[i], now, p, host);
		if (sts_region_put(*rp, p) != 0)
			goto out;
		snprintf(dane, sizeof(dane), DANE_PREFIX "%s", d->key[i]);
		bench_policy(i, dane, now, p, host);
		p->dane = MXS_DANE_USABLE;
		p->dane_flags = MXS_DANE_F_MX_AD | MXS_DANE_F_SEEN_AD;
		p->dane_valid_end = now + 86400;
		if (sts_region_put(*rp, p) != 0)
			goto out;
	}
	if (g_signal)
		goto out;
	region_publish(*rp);
	if (region_go_live(*rp) != 0)
		goto out;
	rc = 0;
out:
	free(p);
	return rc;
}

/* ---- netstrings over a socket -------------------------------------------- */

struct client {
	int fd;
	size_t off, len;              /* unread bytes of buf */
	char buf[RD_BUF];
	char reply[NS_MAX_LEN + 1];   /* the last reply, NUL-terminated */
	size_t rlen;
};

static int client_connect(const char *path, struct client **out)
{
	struct sockaddr_un sun;
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	struct client *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* timeouts: a stuck server fails the run instead of hanging it */
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;

		if (c->fd >= 0)
			close(c->fd);
		free(c);
		errno = e;
		return -1;
	}
	*out = c;
	return 0;
}

static void client_close(struct client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

static int send_all(int fd, const char *p, size_t len)
{
	ssize_t k;

	while (len > 0) {
		k = send(fd, p, len, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* More bytes into the empty buffer.  NULL, or why not. */
static const char *client_fill(struct client *c)
{
	ssize_t k;

	for (;;) {
		k = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (k > 0) {
			c->off = 0;
			c->len = (size_t)k;
			return NULL;
		}
		if (k == 0)
			return "the server closed the connection";
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? "no reply within the I/O timeout" : strerror(errno);
	}
}

/*
 * Read one netstring "LEN:DATA," into c->reply, however the bytes are
 * split across reads.  NULL, or why the stream is unusable (closed, a
 * timeout, a length that is not digits or over NS_MAX_LEN, no ',').
 */
static const char *client_read(struct client *c)
{
	const char *err;
	size_t len = 0, got = 0, chunk;
	int digits = 0;
	char ch;

	for (;;) {
		if (c->off == c->len && (err = client_fill(c)) != NULL)
			return err;
		ch = c->buf[c->off++];
		if (ch == ':')
			break;
		if (ch < '0' || ch > '9' || ++digits > NS_LEN_DIGITS)
			return "malformed netstring length";
		len = len * 10 + (size_t)(ch - '0');
		if (len > NS_MAX_LEN)
			return "reply longer than the socketmap limit";
	}
	if (digits == 0)
		return "malformed netstring length";
	while (got < len) {
		if (c->off == c->len && (err = client_fill(c)) != NULL)
			return err;
		chunk = c->len - c->off < len - got ? c->len - c->off : len - got;
		memcpy(c->reply + got, c->buf + c->off, chunk);
		c->off += chunk;
		got += chunk;
	}
	if (c->off == c->len && (err = client_fill(c)) != NULL)
		return err;
	if (c->buf[c->off++] != ',')
		return "no ',' after the netstring data";
	c->reply[len] = '\0';
	c->rlen = len;
	return NULL;
}

/* One request, one reply.  NULL, or why not. */
static const char *client_ask(struct client *c, const char *req, size_t len)
{
	if (send_all(c->fd, req, len) != 0)
		return strerror(errno);
	return client_read(c);
}

/* ---- the server ---------------------------------------------------------- */

/* A program beside this one: DIR_OF(/proc/self/exe) followed by rel
 * (SERVER_REL: ../mxcache-socketmap, TRIVIAL_REL: sm_trivial). */
static int default_server(char *out, size_t outlen, const char *rel)
{
	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (k <= 0)
		return -1;
	exe[k] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	k = snprintf(out, outlen, "%s%s", exe, rel);
	return k < 0 || (size_t)k >= outlen ? -1 : 0;
}

/* server -d dir --listen-unix sock -f; with dir NULL the trivial
 * server, whose one argument is its socket. */
static pid_t start_server(const char *server, const char *dir, const char *sock)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid != 0)
		return pid;
	/* a benchmark killed outright must not leave the server behind */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	if (dir == NULL)
		execl(server, server, sock, (char *)NULL);
	else
		execl(server, server, "-d", dir, "--listen-unix", sock, "-f", (char *)NULL);
	fprintf(stderr, BENCH_NAME ": exec %s: %s\n", server, strerror(errno));
	_exit(127);
}

/* Until a connection to sock succeeds; -1 if the server died or took too long. */
static int wait_server(pid_t pid, const char *sock)
{
	struct client *c;
	double t0 = now_ns();
	int st;

	while (!g_signal) {
		if (client_connect(sock, &c) == 0) {
			client_close(c);
			return 0;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			progress("the server exited during start-up (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return -2;      /* reaped: nothing left to stop */
		}
		if (now_ns() - t0 > START_TIMEOUT_NS) {
			progress("the server's socket %s did not accept within %.0f s", sock, START_TIMEOUT_NS / 1e9);
			return -1;
		}
		nap();
	}
	return -1;
}

/* SIGTERM, reap; SIGKILL after STOP_TIMEOUT_NS.  Returns its exit status, or -1. */
static int stop_server(pid_t pid)
{
	double t0 = now_ns();
	int st;

	kill(pid, SIGTERM);
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_ns() - t0 > STOP_TIMEOUT_NS) {
			progress("the server still runs %.0f s after SIGTERM; killing it", STOP_TIMEOUT_NS / 1e9);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		nap();
	}
}

/* ---- checks before timing ------------------------------------------------ */

static int verify_library(mxc_t *h, const struct data *d, struct mxc_sts *s)
{
	char host[MXC_HOST_MAX + 1], p0[MXS_STS_PATTERN_MAX + 1], p1[MXS_STS_PATTERN_MAX + 1];
	uint64_t i;

	for (i = 0; i < d->n; i++) {
		if (mxc_resolve(h, d->key[i], host, sizeof(host)) != MXC_OK || strcmp(host, d->target[i]) != 0) {
			progress("library: wrong override for %s", d->key[i]);
			return -1;
		}
		bench_pattern(i, d->key[i], p0, p1, host);
		if (mxc_sts_get(h, d->key[i], s) != MXC_OK || s->mode != MXC_STS_ENFORCE || !mxc_sts_match(s, host)) {
			progress("library: wrong policy for %s", d->key[i]);
			return -1;
		}
	}
	return 0;
}

static int verify_socketmap(const char *sock, const struct data *d)
{
	char want[TARGET_SLOT + 16], miss[KEY_SLOT], req[REQ_SLOT + 16];
	struct client *c = NULL;
	const char *err = NULL;
	uint64_t i, j, sample = d->n < VERIFY_SAMPLE ? d->n : VERIFY_SAMPLE;
	int rc = -1, len;

	if (client_connect(sock, &c) != 0) {
		progress("connect %s: %s", sock, strerror(errno));
		return -1;
	}
	for (j = 0; j < sample; j++) {
		i = j * d->n / sample;   /* spread over the whole key range */
		snprintf(want, sizeof(want), "OK smtp:[%s]", d->target[i]);
		if ((err = client_ask(c, d->req[KIND_TRANSPORT][i], d->reqlen[KIND_TRANSPORT][i])) != NULL)
			goto out;
		if (strcmp(c->reply, want) != 0) {
			progress("transport %s: got \"%s\", want \"%s\"", d->key[i], c->reply, want);
			goto out;
		}
		if ((err = client_ask(c, d->req[KIND_MTASTS][i], d->reqlen[KIND_MTASTS][i])) != NULL)
			goto out;
		if (strncmp(c->reply, "OK secure match=", 16) != 0) {
			progress("mtasts %s: got \"%s\", want \"OK secure match=...\"", d->key[i], c->reply);
			goto out;
		}
		if ((err = client_ask(c, d->req[KIND_DANE][i], d->reqlen[KIND_DANE][i])) != NULL)
			goto out;
		if (strcmp(c->reply, "OK dane-only") != 0) {
			progress("mtasts " DANE_PREFIX "%s: got \"%s\", want \"OK dane-only\"", d->key[i], c->reply);
			goto out;
		}
	}
	/* key n is a certain miss: the framing of a reply with no data */
	make_key(d->n, miss);
	len = snprintf(req, sizeof(req), "%zu:transport %s,", strlen("transport ") + strlen(miss), miss);
	if ((err = client_ask(c, req, (size_t)len)) != NULL)
		goto out;
	if (strcmp(c->reply, "NOTFOUND ") != 0) {
		progress("transport %s (absent): got \"%s\", want \"NOTFOUND \"", miss, c->reply);
		goto out;
	}
	progress("checked %" PRIu64 " transport and mtasts answers and one miss over the socket", sample);
	rc = 0;
out:
	if (err != NULL)
		progress("socketmap: %s", err);
	client_close(c);
	return rc;
}

/* ---- measurements -------------------------------------------------------- */

static int measure_library(mxc_t *h, const struct data *d, int kind, double dur, struct mxc_sts *s,
			   struct result *res)
{
	static char bkey[BATCH][KEY_SLOT], bhost[BATCH][MXC_HOST_MAX + 1];
	static struct mxc_tls tls;
	char p0[MXS_STS_PATTERN_MAX + 1], p1[MXS_STS_PATTERN_MAX + 1], out[MXC_HOST_MAX + 1];
	struct lat l = { 0 };
	double t0, t1, timed = 0, end;
	uint64_t hits = 0, total = 0;
	size_t pos = 0, k;
	uint32_t ix;
	int rc = -1;

	end = now_ns() + dur;
	while (now_ns() < end && !g_signal) {
		/* untimed: the batch's names into a small buffer, as a mail
		 * server holds the domain and MX host it asks about */
		for (k = 0; k < BATCH; k++) {
			ix = d->seq[pos++ % SEQ_LEN];
			if (kind == KIND_DANE)
				snprintf(bkey[k], KEY_SLOT, DANE_PREFIX "%s", d->key[ix]);
			else
				memcpy(bkey[k], d->key[ix], KEY_SLOT);
			if (kind == KIND_MTASTS)
				bench_pattern(ix, bkey[k], p0, p1, bhost[k]);
		}
		t0 = now_ns();
		if (kind == KIND_TRANSPORT) {
			for (k = 0; k < BATCH; k++)
				hits += mxc_resolve(h, bkey[k], out, sizeof(out)) == MXC_OK;
		} else if (kind == KIND_MTASTS) {
			for (k = 0; k < BATCH; k++)
				hits += mxc_sts_get(h, bkey[k], s) == MXC_OK && mxc_sts_match(s, bhost[k]);
		} else {
			for (k = 0; k < BATCH; k++)
				hits += mxc_tls_policy(h, bkey[k], 0, &tls) == MXC_OK && tls.source == MXC_TLS_DANE;
		}
		t1 = now_ns();
		timed += t1 - t0;
		total += BATCH;
		if (lat_add(&l, (t1 - t0) / BATCH) != 0) {
			progress("out of memory for samples");
			goto out;
		}
	}
	if (g_signal)
		goto out;
	if (hits != total) {
		progress("%s library: %" PRIu64 " of %" PRIu64 " answered", kind_name[kind], hits, total);
		goto out;
	}
	lat_quantiles(&l, res);
	res->rate = timed > 0 ? (double)total * 1e9 / timed : 0;
	res->count = total;
	res->done = 1;
	rc = 0;
out:
	free(l.v);
	return rc;
}

/* One connection's share of a socketmap measurement, run by its own thread. */
struct conn_job {
	pthread_t tid;
	int started;
	const struct data *d;
	int kind, depth;
	size_t pos;                  /* where in the key sequence it starts */
	struct client *c;
	struct lat l;
	uint64_t count, bad;
	double t_start, t_end;
	const char *err;
};

/* The next k requests of j's sequence in one send, each stamped with
 * the time it went.  0, or -1 with j->err set. */
static int send_batch(struct conn_job *j, double *sent, uint64_t *nsent, int k)
{
	static _Thread_local char buf[PIPE_MAX * REQ_SLOT];
	const struct data *d = j->d;
	size_t len = 0;
	double t = now_ns();
	uint32_t ix;
	int i;

	for (i = 0; i < k; i++) {
		ix = d->seq[j->pos++ % SEQ_LEN];
		memcpy(buf + len, d->req[j->kind][ix], d->reqlen[j->kind][ix]);
		len += d->reqlen[j->kind][ix];
		sent[(*nsent)++ % PIPE_MAX] = t;
	}
	if (send_all(j->c->fd, buf, len) != 0) {
		j->err = strerror(errno);
		return -1;
	}
	return 0;
}

/*
 * One connection: depth requests in flight.  Depth 1 is one at a time.
 * Deeper, it reads every reply that arrived together and sends as many
 * new requests in one send, as a client that pipelines does, so the
 * client's own system calls are not one per request and the server's
 * cost per request is what shows.
 */
static void *conn_run(void *arg)
{
	struct conn_job *j = arg;
	const struct data *d = j->d;
	double sent[PIPE_MAX], t;
	uint64_t nsent = 0, nrecv = 0, w;
	uint32_t ix;
	int k;

	/* untimed: the server's first touches of this connection */
	for (w = 0; w < WARMUP_REQS && j->err == NULL; w++) {
		ix = d->seq[j->pos++ % SEQ_LEN];
		j->err = client_ask(j->c, d->req[j->kind][ix], d->reqlen[j->kind][ix]);
	}
	/* every connection starts together; yielding, not sleeping, so the
	 * start is not spread over a scheduler tick */
	atomic_fetch_add(&g_ready, 1);
	while (!atomic_load(&g_go))
		sched_yield();
	if (j->err != NULL || atomic_load(&g_stop))
		return NULL;
	j->t_start = j->t_end = now_ns();
	if (send_batch(j, sent, &nsent, j->depth) != 0)
		return NULL;
	while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
		k = 0;
		/* the first reply waits; the rest are those already read */
		do {
			if ((j->err = client_read(j->c)) != NULL)
				return NULL;
			t = now_ns();
			if (lat_add(&j->l, t - sent[nrecv % PIPE_MAX]) != 0) {
				j->err = "out of memory for samples";
				return NULL;
			}
			/* checked after the clock: every key is present */
			if (strncmp(j->c->reply, "OK ", 3) != 0)
				j->bad++;
			nrecv++;
			k++;
			j->t_end = t;
		} while (j->c->off < j->c->len && nrecv < nsent);
		if (send_batch(j, sent, &nsent, k) != 0)
			return NULL;
	}
	j->count = nrecv;
	/* untimed: drain what is still in flight, so the stream stays whole */
	while (nrecv < nsent && j->err == NULL) {
		j->err = client_read(j->c);
		nrecv++;
	}
	return NULL;
}

static int measure_socketmap(const char *sock, const struct data *d, int kind, int mode, double dur,
			     struct result *res)
{
	int nconn = mode_conns[mode], i, rc = -1;
	struct conn_job *jobs;
	struct lat all = { 0 };
	double first = 0, last = 0, end;
	uint64_t count = 0, bad = 0;
	size_t k;

	atomic_store(&g_ready, 0);
	atomic_store(&g_go, 0);
	atomic_store(&g_stop, 0);
	jobs = calloc((size_t)nconn, sizeof(*jobs));
	if (jobs == NULL) {
		progress("out of memory for %d connections", nconn);
		goto out;
	}
	/* every connection is open before any thread starts: connecting is not timed */
	for (i = 0; i < nconn; i++) {
		jobs[i].d = d;
		jobs[i].kind = kind;
		jobs[i].depth = mode_depth[mode];
		jobs[i].pos = (size_t)i * (SEQ_LEN / (size_t)nconn);
		if (client_connect(sock, &jobs[i].c) != 0) {
			progress("connect %s: %s", sock, strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < nconn; i++) {
		if (pthread_create(&jobs[i].tid, NULL, conn_run, &jobs[i]) != 0) {
			progress("pthread_create: %s", strerror(errno));
			goto out;
		}
		jobs[i].started = 1;
	}
	while (atomic_load(&g_ready) < nconn && !g_signal)
		nap();
	atomic_store(&g_go, 1);
	end = now_ns() + dur;
	while (now_ns() < end && !g_signal)
		nap();
	atomic_store(&g_stop, 1);
	for (i = 0; i < nconn; i++) {
		pthread_join(jobs[i].tid, NULL);
		jobs[i].started = 0;
	}
	if (g_signal)
		goto out;
	for (i = 0; i < nconn; i++) {
		if (jobs[i].err != NULL) {
			progress("%s over %d connection(s), connection %d: %s", kind_name[kind], nconn, i, jobs[i].err);
			goto out;
		}
		if (i == 0 || jobs[i].t_start < first)
			first = jobs[i].t_start;
		if (jobs[i].t_end > last)
			last = jobs[i].t_end;
		count += jobs[i].count;
		bad += jobs[i].bad;
		for (k = 0; k < jobs[i].l.n; k++)
			if (lat_add(&all, jobs[i].l.v[k]) != 0) {
				progress("out of memory for samples");
				goto out;
			}
	}
	if (bad != 0 || count == 0) {
		progress("%s over %d connection(s): %" PRIu64 " of %" PRIu64 " replies not OK", kind_name[kind],
			 nconn, bad, count);
		goto out;
	}
	lat_quantiles(&all, res);
	res->rate = last > first ? (double)count * 1e9 / (last - first) : 0;
	res->count = count;
	res->done = 1;
	rc = 0;
out:
	if (jobs != NULL) {
		/* after a failure, threads already started see the stop at once */
		atomic_store(&g_stop, 1);
		atomic_store(&g_go, 1);
		for (i = 0; i < nconn; i++) {
			if (jobs[i].started)
				pthread_join(jobs[i].tid, NULL);
			client_close(jobs[i].c);
			free(jobs[i].l.v);
		}
	}
	free(jobs);
	free(all.v);
	return rc;
}

/* ---- main ---------------------------------------------------------------- */

static void remove_region_files(const char *dir)
{
	char path[MXS_SHM_PATH_MAX];
	struct stat sb;

	if (stat(dir, &sb) != 0)
		return;
	if (mxc_shm_path(path, sizeof(path), mxc_shm_dir(), sb.st_dev, sb.st_ino, "data") == 0)
		unlink(path);
	if (mxc_shm_path(path, sizeof(path), mxc_shm_dir(), sb.st_dev, sb.st_ino, "readers") == 0)
		unlink(path);
}

static void report(FILE *f, int csv, uint64_t n, struct result res[KIND_N][MODE_N])
{
	char vlib[32], vtriv[32];
	int k, m, t;

	if (csv)
		fprintf(f, "kind,mode,connections,p50_ns,p99_ns,rate_per_s\n");
	else
		fprintf(f, "entries: %" PRIu64 " endpoint overrides and %" PRIu64 " MTA-STS policies, uniform keys\n"
			   "%-11s %-22s %5s %12s %12s %14s %11s %15s\n",
			n, n, "kind", "mode", "conns", "p50_ns", "p99_ns", "rate_per_s", "p50_vs_lib", "rate_vs_trivial");
	for (k = 0; k < KIND_N; k++)
		for (m = 0; m < MODE_N; m++) {
			const struct result *r = &res[k][m], *lib = &res[k][MODE_LIBRARY];

			if (!r->done)
				continue;
			if (csv) {
				fprintf(f, "%s,%s,%d,%.1f,%.1f,%.0f\n", kind_name[k], mode_name[m], mode_conns[m],
					r->p50, r->p99, r->rate);
				continue;
			}
			t = mode_partner[m];
			snprintf(vlib, sizeof(vlib), "-");
			snprintf(vtriv, sizeof(vtriv), "-");
			if (!mode_trivial[m] && lib->done && lib->p50 > 0)
				snprintf(vlib, sizeof(vlib), "%.1f", r->p50 / lib->p50);
			if (t >= 0 && res[k][t].done && res[k][t].rate > 0)
				snprintf(vtriv, sizeof(vtriv), "%.2f", r->rate / res[k][t].rate);
			fprintf(f, "%-11s %-22s %5d %12.1f %12.1f %14.0f %11s %15s\n", kind_name[k], mode_name[m],
				mode_conns[m], r->p50, r->p99, r->rate, vlib, vtriv);
		}
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/mxc-bench-smap.XXXXXX", sock[sizeof(dir) + sizeof(SOCK_NAME) + 1];
	char tsock[sizeof(dir) + sizeof(TRIVIAL_SOCK) + 1];
	char server_buf[PATH_MAX], trivial_buf[PATH_MAX];
	static struct result res[KIND_N][MODE_N];
	const char *csv = NULL, *server = NULL, *trivial = NULL, *only = NULL;
	char casename[64];
	struct region *r = NULL;
	struct mxc_sts *s = NULL;
	struct sigaction sa;
	struct data d = { 0 };
	mxc_t *h = NULL;
	uint64_t n = ENTRIES_FULL;
	double dur = MEASURE_NS_FULL, t_all = now_ns();
	pid_t pid = -1, tpid = -1;
	FILE *f;
	int i, k, m, st = 1, quick = 0, made_dir = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
		} else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) {
			csv = argv[++i];
		} else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
			server = argv[++i];
		} else if (strcmp(argv[i], "--trivial") == 0 && i + 1 < argc) {
			trivial = argv[++i];
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: " BENCH_NAME " [--quick] [--entries N] [--csv FILE] [--server PATH]"
					" [--trivial PATH] [--only TEXT]\n");
			return 2;
		}
	}
	if (quick) {
		dur = MEASURE_NS_QUICK;
		if (n == ENTRIES_FULL)
			n = ENTRIES_QUICK;
	}
	if (n < 1 || n > ENTRIES_MAX) {
		fprintf(stderr, BENCH_NAME ": --entries 1..%d\n", ENTRIES_MAX);
		return 2;
	}
	if (server == NULL) {
		if (default_server(server_buf, sizeof(server_buf), SERVER_REL) != 0) {
			progress("cannot find this program's directory; use --server PATH");
			return 1;
		}
		server = server_buf;
	}
	if (access(server, X_OK) != 0) {
		progress("%s: %s (build it with make, or pass --server PATH)", server, strerror(errno));
		return 1;
	}
	if (trivial == NULL) {
		if (default_server(trivial_buf, sizeof(trivial_buf), TRIVIAL_REL) != 0) {
			progress("cannot find this program's directory; use --trivial PATH");
			return 1;
		}
		trivial = trivial_buf;
	}
	if (access(trivial, X_OK) != 0) {
		progress("%s: %s (build it with make bench-bin, or pass --trivial PATH)", trivial, strerror(errno));
		return 1;
	}
	/* stop cleanly, server and files included, when interrupted */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_init(1, LOG_WARNING);

	if (mkdtemp(dir) == NULL) {
		progress("mkdtemp: %s", strerror(errno));
		return 1;
	}
	made_dir = 1;
	snprintf(sock, sizeof(sock), "%s/%s", dir, SOCK_NAME);
	snprintf(tsock, sizeof(tsock), "%s/%s", dir, TRIVIAL_SOCK);
	s = malloc(sizeof(*s));
	if (s == NULL || data_make(&d, n) != 0)
		goto out;
	progress("building %" PRIu64 " endpoint overrides and %" PRIu64 " MTA-STS policies in a region", n, n);
	if (build(dir, &d, &r) != 0) {
		if (!g_signal)
			progress("build failed: %s", strerror(errno));
		goto out;
	}
	if (mxc_open(dir, &h) != MXC_OK) {
		progress("mxc_open %s failed", dir);
		goto out;
	}
	if (verify_library(h, &d, s) != 0)
		goto out;
	progress("starting %s -d %s --listen-unix %s -f", server, dir, sock);
	pid = start_server(server, dir, sock);
	if (pid < 0) {
		progress("fork: %s", strerror(errno));
		goto out;
	}
	if ((i = wait_server(pid, sock)) != 0) {
		if (i == -2)
			pid = -1;
		goto out;
	}
	if (verify_socketmap(sock, &d) != 0)
		goto out;
	progress("starting %s %s", trivial, tsock);
	tpid = start_server(trivial, NULL, tsock);
	if (tpid < 0) {
		progress("fork: %s", strerror(errno));
		goto out;
	}
	if ((i = wait_server(tpid, tsock)) != 0) {
		if (i == -2)
			tpid = -1;
		goto out;
	}
	progress("measuring %.1f s per case: library, 1 connection, %d connections, 1 connection %d and %d deep;"
		 " each socketmap case again against the trivial server",
		 dur / 1e9, CONNS_MANY, PIPE_DEPTH, PIPE_DEEP);
	for (k = 0; k < KIND_N; k++) {
		for (m = 0; m < MODE_N; m++) {
			/* --only: the cases "KIND/MODE/CONNS" holding TEXT */
			snprintf(casename, sizeof(casename), "%s/%s/%d", kind_name[k], mode_name[m], mode_conns[m]);
			if (only != NULL && strstr(casename, only) == NULL)
				continue;
			if (m == MODE_LIBRARY) {
				if (measure_library(h, &d, k, dur, s, &res[k][m]) != 0)
					goto out;
			} else if (measure_socketmap(mode_trivial[m] ? tsock : sock, &d, k, m, dur, &res[k][m]) != 0) {
				goto out;
			}
			progress("%-9s %-22s %2d conn: p50 %9.1f ns, p99 %9.1f ns, %11.0f/s", kind_name[k], mode_name[m],
				 mode_conns[m], res[k][m].p50, res[k][m].p99, res[k][m].rate);
		}
	}
	st = 0;
out:
	if (g_signal)
		progress("interrupted");
	/* what was measured is reported, even when a later step failed */
	report(stdout, 0, n, res);
	if (csv != NULL) {
		if ((f = fopen(csv, "w")) == NULL) {
			progress("%s: %s", csv, strerror(errno));
			st = 1;
		} else {
			report(f, 1, n, res);
			if (fclose(f) != 0)
				st = 1;
		}
	}
	if (pid > 0 && (i = stop_server(pid)) != 0) {
		progress("the server exited with status %d", i);
		st = 1;
	}
	if (tpid > 0 && (i = stop_server(tpid)) != 0) {
		progress("the trivial server exited with status %d", i);
		st = 1;
	}
	mxc_close(h);
	if (r != NULL)
		region_close(r);
	if (made_dir) {
		unlink(sock);
		unlink(tsock);
		remove_region_files(dir);
		rmdir(dir);
	}
	data_free(&d);
	free(s);
	progress("done in %.1f s", (now_ns() - t_all) / 1e9);
	return st;
}
