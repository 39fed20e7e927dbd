/*
 * client/socketmap.c - mxcache-socketmap: Postfix's socketmap_table
 * protocol, answered from the region through libmxcache.
 *
 *   mxcache-socketmap -d DIR [--unix-fd N] [--tcp-fd N] [--listen-unix PATH]
 *                     [--strict-testing] [--tlsrpt] [--transport NAME]
 *                     [--miss-wait-ms MS]
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
 * One thread, one epoll set (the connections: client/sm_conn.c; the
 * protocol: client/sm_proto.c; this file is the program).  Every answer is a wait-free
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

#define SM_IDLE_DEF_S     60
#define SM_MISS_WAIT_DEF_MS 3000     /* first contact: wait this long for the daemon's check */
#define SM_MISS_WAIT_MAX_MS 30000    /* and never longer: Postfix's own timeout is 100 s, */
				     /* and a delivery agent waiting is one not delivering */
#define SM_CONN_DEF       1024
/* Per TCP peer address, and per unix uid: all of a local Postfix is one
 * uid and comes by the unix socket, so that one allows more. */
#define SM_ADDR_DEF       256
#define SM_UID_DEF        512
#define SM_LOG_LINE_MAX   2048       /* longer messages are cut */

struct opts {
	const char *dir;
	int unix_fd, tcp_fd;
	const char *listen_unix;
	struct sm_maps_conf maps;    /* h is set once the region opens */
	struct sm_limits lim;
	int foreground_log;
	int log_relay;
	int stats_fd;
};

static struct opts o;
static mxc_t *h;
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
		   "                         [--miss-wait-ms MS]\n"
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
		{ "miss-wait-ms", required_argument, NULL, 'W' },
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
	snprintf(o.maps.transport, sizeof(o.maps.transport), "smtp");
	o.maps.miss_wait_ms = SM_MISS_WAIT_DEF_MS;
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
			o.maps.strict_testing = 1;
			break;
		case 'r':
			o.maps.tlsrpt = 1;
			break;
		case 'W':
			if (parse_int(optarg, 0, SM_MISS_WAIT_MAX_MS, &o.maps.miss_wait_ms) != 0)
				goto bad;
			break;
		case 'T':
			if (strlen(optarg) == 0 || strlen(optarg) > SM_TRANSPORT_MAX || strpbrk(optarg, " :,[]") != NULL)
				goto bad;
			snprintf(o.maps.transport, sizeof(o.maps.transport), "%s", optarg);
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
		void *p = mmap(NULL, MXS_SM_STATS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, o.stats_fd, 0);

		if (p != MAP_FAILED && ((struct mxc_sm_stats *)p)->magic == MXS_SM_STATS_MAGIC &&
		    ((struct mxc_sm_stats *)p)->n == MXS_SM_NSTATS)
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
	o.maps.h = h;
	sm_proto_init(&o.maps);
	if (sm_conn_start(lfds, nl, &o.lim, h) != 0)
		return 1;
	sm_log(LOG_INFO, "serving %d socket%s, maps mtasts mtasts-tlsrpt transport federation%s%s; first contact waits %d ms",
	       nl, nl > 1 ? "s" : "", o.maps.strict_testing ? ", strict testing" : "",
	       o.maps.tlsrpt ? ", TLSRPT attributes" : "", o.maps.miss_wait_ms);
	sm_conn_run(&stop);
	sm_conn_stop();
	/* no mxc_close: the watcher thread (sm_conn.c) may be asleep in
	 * mxc_wait_change on h, and a handle must not be closed under a
	 * thread using it; the process ends here, and its exit releases the
	 * mapping and the reader block's registration */
	return 0;
bad:
	usage(stderr);
	return 2;
}
