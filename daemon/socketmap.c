/*
 * daemon/socketmap.c - the Postfix socketmap service: mxcached binds the
 * sockets and supervises the server process (client/socketmap.c).
 *
 * Why a separate process: the server is a reader of the region like any
 * MTA, through libmxcache; in its own process a fault in the protocol code
 * cannot reach the writer or the store, and the daemon's code stays free
 * of client code.  Why the daemon binds: the listening sockets live as
 * long as mxcached, so while a crashed server is restarted the kernel
 * keeps queueing Postfix's connections on them, and a bad listen address
 * fails the daemon's start, where an operator sees it.
 */
#include "socketmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "counters.h"
#include "log.h"
#include "shm/smstats.h"

#define SM_SOCK          "socketmap.sock"
#define SM_PROGRAM       "mxcache-socketmap"
#define SM_BACKLOG       256
#define SM_RESPAWN_MIN_S 1        /* first restart after a crash */
#define SM_RESPAWN_MAX_S 30       /* restarts back off up to this */
#define SM_HEALTHY_S     60       /* a run this long resets the backoff */
#define SM_STOP_WAIT_MS  5000     /* SIGTERM, then SIGKILL after this */
#define SM_ARGS_MAX      24
#define SM_LINE_MAX      2048     /* a relayed log line longer than this is cut in two */

struct socketmap {
	int ufd, tfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char tcp[sizeof(((struct config_addr *)0)->text) + 16];   /* "ADDR:PORT", "[ADDR]:PORT" */
	char program[PATH_MAX];
	char *argv[SM_ARGS_MAX];
	char args[SM_ARGS_MAX][PATH_MAX];

	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	pid_t pid;
	int relay;                    /* the server's stderr comes to our log */
	int statsfd;                  /* memfd of the server's counters */
	struct mxc_sm_stats *stats;
};

static int sm_unix(struct socketmap *s, const char *dir, gid_t gid, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, SM_SOCK);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socketmap: %s/%s: longer than a socket path may be", dir, SM_SOCK);
		return -1;
	}
	memcpy(s->path, sun.sun_path, sizeof(s->path));
	/* the pid lock makes this daemon the only one on DIR: a socket file
	 * left here is from a daemon that died */
	unlink(s->path);
	s->ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->ufd < 0 || bind(s->ufd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen, "socketmap: bind %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (chmod(s->path, 0660) != 0 || (gid != getegid() && chown(s->path, (uid_t)-1, gid) != 0)) {
		snprintf(err, errlen, "socketmap: %s: mode or group: %s", s->path, strerror(errno));
		return -1;
	}
	if (listen(s->ufd, SM_BACKLOG) != 0) {
		snprintf(err, errlen, "socketmap: listen %s: %s", s->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The address the TCP socket is bound to, as the log names it; what the
 * file said if the socket cannot tell. */
static void sm_tcp_name(struct socketmap *s, const struct config_addr *a)
{
	char host[INET6_ADDRSTRLEN], port[8];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(s->tfd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(s->tcp, sizeof(s->tcp), "%s", a->text);
		return;
	}
	snprintf(s->tcp, sizeof(s->tcp), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static int sm_tcp(struct socketmap *s, const struct config_addr *a, char *err, size_t errlen)
{
	int one = 1;

	s->tfd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->tfd < 0 || setsockopt(s->tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(s->tfd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(s->tfd, SM_BACKLOG) != 0) {
		snprintf(err, errlen, "socketmap: listen on %s: %s", a->text, strerror(errno));
		return -1;
	}
	sm_tcp_name(s, a);
	return 0;
}

/* The server's path: configured, else beside this executable. */
static int sm_program(struct socketmap *s, const struct config *cfg, char *err, size_t errlen)
{
	char self[PATH_MAX];
	ssize_t n;

	if (cfg->sm_program[0] != '\0') {
		snprintf(s->program, sizeof(s->program), "%s", cfg->sm_program);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(err, errlen, "socketmap: cannot find mxcached's own path: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	if (snprintf(s->program, sizeof(s->program), "%s/%s", dirname(self), SM_PROGRAM) >= (int)sizeof(s->program)) {
		snprintf(err, errlen, "socketmap: program path too long");
		return -1;
	}
	if (access(s->program, X_OK) != 0) {
		snprintf(err, errlen, "socketmap: %s: %s (set [socketmap] program)", s->program, strerror(errno));
		return -1;
	}
	return 0;
}

/* argv[n] = prefix + v */
static void sm_arg(struct socketmap *s, int *n, const char *prefix, const char *v)
{
	if (*n < SM_ARGS_MAX - 1) {
		snprintf(s->args[*n], sizeof(s->args[*n]), "%s%s", prefix, v);
		s->argv[*n] = s->args[*n];
		(*n)++;
	}
}

int socketmap_open(const char *dir, const struct config *cfg, int relay, struct socketmap **out, char *err,
		   size_t errlen)
{
	struct socketmap *s;
	char num[32];
	int n = 0;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "socketmap: out of memory");
		return -1;
	}
	s->ufd = s->tfd = s->statsfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (sm_program(s, cfg, err, errlen) != 0 || sm_unix(s, dir, cfg->gid, err, errlen) != 0 ||
	    (cfg->sm_has_listen && sm_tcp(s, &cfg->sm_listen, err, errlen) != 0))
		goto fail;
	/* the server's counters: a page only it and we hold */
	s->statsfd = memfd_create("mxcache-socketmap-stats", MFD_CLOEXEC);
	if (s->statsfd == -1 || ftruncate(s->statsfd, MXS_SM_STATS_SIZE) != 0) {
		snprintf(err, errlen, "socketmap: memfd for its counters: %s", strerror(errno));
		goto fail;
	}
	s->stats = mmap(NULL, MXS_SM_STATS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s->statsfd, 0);
	if (s->stats == MAP_FAILED) {
		s->stats = NULL;
		snprintf(err, errlen, "socketmap: mmap of its counters: %s", strerror(errno));
		goto fail;
	}
	s->stats->magic = MXS_SM_STATS_MAGIC;
	s->stats->n = MXS_SM_NSTATS;
	ctr_mirror(MXS_CTR_SM_MTASTS, MXS_SM_NSTATS, s->stats->v);
	/* the child's descriptors: the unix socket on 3, TCP on 4, counters on 5 */
	sm_arg(s, &n, "", s->program);
	sm_arg(s, &n, "", "-d");
	sm_arg(s, &n, "", dir);
	sm_arg(s, &n, "", "--unix-fd=3");
	if (s->tfd >= 0)
		sm_arg(s, &n, "", "--tcp-fd=4");
	sm_arg(s, &n, "", "--stats-fd=5");
	if (cfg->sm_strict_testing)
		sm_arg(s, &n, "", "--strict-testing");
	if (cfg->sm_tlsrpt)
		sm_arg(s, &n, "", "--tlsrpt");
	sm_arg(s, &n, "--transport=", cfg->sm_transport);
	snprintf(num, sizeof(num), "%u", cfg->sm_idle_s);
	sm_arg(s, &n, "--idle-timeout=", num);
	snprintf(num, sizeof(num), "%u", cfg->sm_max_conn);
	sm_arg(s, &n, "--max-conn=", num);
	snprintf(num, sizeof(num), "%u", cfg->sm_unix_max_conn);
	sm_arg(s, &n, "--unix-max-conn=", num);
	if (s->tfd >= 0) {
		snprintf(num, sizeof(num), "%u", cfg->sm_listen_max_conn);
		sm_arg(s, &n, "--tcp-max-conn=", num);
	}
	snprintf(num, sizeof(num), "%u", cfg->sm_max_per_addr);
	sm_arg(s, &n, "--max-per-address=", num);
	snprintf(num, sizeof(num), "%u", cfg->sm_max_per_uid);
	sm_arg(s, &n, "--max-per-uid=", num);
	snprintf(num, sizeof(num), "%u", cfg->sm_miss_wait_ms);
	sm_arg(s, &n, "--miss-wait-ms=", num);
	s->relay = relay;
	if (relay)
		sm_arg(s, &n, "", "--log-relay");
	s->argv[n] = NULL;
	*out = s;
	return 0;
fail:
	socketmap_close(s);
	return -1;
}

/* fork and exec the server; between the two only async-signal-safe calls.
 * With relay, *logfd is the read end of the server's stderr, else -1. */
static pid_t sm_spawn(struct socketmap *s, int *logfd)
{
	sigset_t all, old;
	pid_t pid;
	int lp[2] = { -1, -1 };

	*logfd = -1;
	if (s->relay && pipe2(lp, O_CLOEXEC) != 0)
		log_warn("socketmap: pipe for the server's log lines (they go to our stderr)");
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		int u, t = -1, c, l = -1;

		/* copies above the targets first, so none clobbers another;
		 * F_DUPFD copies and dup2 targets do not inherit close-on-exec */
		u = fcntl(s->ufd, F_DUPFD, 10);
		if (s->tfd >= 0)
			t = fcntl(s->tfd, F_DUPFD, 10);
		c = fcntl(s->statsfd, F_DUPFD, 10);
		if (lp[1] >= 0)
			l = fcntl(lp[1], F_DUPFD, 10);
		if (u < 0 || c < 0 || (s->tfd >= 0 && t < 0) || (lp[1] >= 0 && l < 0) || dup2(u, 3) < 0 ||
		    (t >= 0 && dup2(t, 4) < 0) || dup2(c, 5) < 0 || (l >= 0 && dup2(l, STDERR_FILENO) < 0))
			_exit(127);
		close(u);
		close(c);
		if (t >= 0)
			close(t);
		if (l >= 0)
			close(l);
		/* an mxcached killed outright takes its server with it, instead
		 * of leaving it serving a socket nobody can reach any more */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
			_exit(127);
		/* the daemon blocks its signals for signalfd: the server must not */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(s->program, s->argv);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (lp[1] >= 0)
		close(lp[1]);
	if (pid > 0)
		*logfd = lp[0];
	else if (lp[0] >= 0)
		close(lp[0]);
	return pid;
}

/* One line of the server's: "<P>socketmap: ..." at syslog priority P, as
 * sm_log writes them with --log-relay; anything else (a sanitizer's
 * report, a usage error) as a warning.  Control characters are shown as
 * '?': the line may quote what a client sent. */
static void sm_relay_line(char *line)
{
	int pri = LOG_WARNING;
	char *p;

	if (line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>') {
		pri = line[1] - '0';
		line += 3;
	}
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (line[0] == '\0')
		return;
	if (strncmp(line, "socketmap: ", 11) == 0)
		log_at(pri, "%s", line);
	else
		log_at(pri, "socketmap: %s", line);
}

/* The server's stderr into our log, a line at a time, until it closes
 * (the server exited). */
static void sm_relay(int fd)
{
	char buf[SM_LINE_MAX + 1], *nl;
	size_t n = 0, start;
	ssize_t k;

	for (;;) {
		k = read(fd, buf + n, SM_LINE_MAX - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		for (start = 0; (nl = memchr(buf + start, '\n', n - start)) != NULL; start = (size_t)(nl - buf) + 1) {
			*nl = '\0';
			sm_relay_line(buf + start);
		}
		if (start == 0 && n == SM_LINE_MAX) {
			buf[n] = '\0';
			sm_relay_line(buf);
			n = 0;
			continue;
		}
		memmove(buf, buf + start, n - start);
		n -= start;
	}
	if (n > 0) {
		buf[n] = '\0';
		sm_relay_line(buf);
	}
}

static void *sm_main(void *arg)
{
	struct socketmap *s = arg;
	unsigned backoff = SM_RESPAWN_MIN_S;
	struct timespec until;
	time_t started;
	pid_t pid;
	int st, logfd;

	pthread_setname_np(pthread_self(), "socketmap");
	for (;;) {
		pthread_mutex_lock(&s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		pid = sm_spawn(s, &logfd);
		s->pid = pid > 0 ? pid : 0;
		pthread_mutex_unlock(&s->mu);
		started = time(NULL);
		if (pid < 0) {
			log_warn("socketmap: fork");
		} else {
			/* until the server exits, or closes its stderr */
			if (logfd >= 0) {
				sm_relay(logfd);
				close(logfd);
			}
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			pthread_mutex_lock(&s->mu);
			s->pid = 0;
			if (s->stopping) {
				pthread_mutex_unlock(&s->mu);
				break;
			}
			pthread_mutex_unlock(&s->mu);
			if (WIFEXITED(st))
				log_warnx("socketmap: %s exited with status %d", s->program, WEXITSTATUS(st));
			else if (WIFSIGNALED(st))
				log_warnx("socketmap: %s killed by signal %d", s->program, WTERMSIG(st));
			if (time(NULL) - started >= SM_HEALTHY_S)
				backoff = SM_RESPAWN_MIN_S;
		}
		log_info("socketmap: restarting the server in %u s", backoff);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += backoff;
		pthread_mutex_lock(&s->mu);
		while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
			;
		pthread_mutex_unlock(&s->mu);
		backoff = backoff * 2 > SM_RESPAWN_MAX_S ? SM_RESPAWN_MAX_S : backoff * 2;
	}
	return NULL;
}

int socketmap_start(struct socketmap *s, char *err, size_t errlen)
{
	if (pthread_create(&s->thread, NULL, sm_main, s) != 0) {
		snprintf(err, errlen, "socketmap: cannot start the supervisor: %s", strerror(errno));
		return -1;
	}
	s->started = 1;
	if (s->tfd >= 0)
		log_info("socketmap: serving %s and TCP %s", s->path, s->tcp);
	else
		log_info("socketmap: serving %s", s->path);
	return 0;
}

void socketmap_close(struct socketmap *s)
{
	int i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	if (s->pid > 0)
		kill(s->pid, SIGTERM);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started) {
		/* the server stops at once on SIGTERM; a wedged one is killed */
		for (i = 0; i < SM_STOP_WAIT_MS / 10; i++) {
			pthread_mutex_lock(&s->mu);
			if (s->pid == 0) {
				pthread_mutex_unlock(&s->mu);
				break;
			}
			pthread_mutex_unlock(&s->mu);
			usleep(10000);
		}
		pthread_mutex_lock(&s->mu);
		if (s->pid > 0)
			kill(s->pid, SIGKILL);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	if (s->ufd >= 0) {
		close(s->ufd);
		unlink(s->path);
	}
	if (s->tfd >= 0)
		close(s->tfd);
	/* the counters page stays mapped: the writer reads it to the end */
	if (s->statsfd >= 0)
		close(s->statsfd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
