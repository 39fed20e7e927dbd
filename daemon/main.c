/*
 * daemon/main.c - mxcached: start-up, signals, shutdown.
 *
 *   mxcached [-d DIR] [-c FILE] [-f] [-l FILE] [-h] [-V]
 *
 * Start-up order: config, state directory, pid lock, the admin socket
 * (bound, not yet served), store, a new region rebuilt from every stored
 * table (main_mods), published and made live, then the writer thread, the
 * modules and the admin server.  All but thread creation comes before region_go_live(),
 * so a failed start does not replace the region clients are reading.  Without -f the process forks at
 * once and the parent waits, on a pipe, until the child is ready or dead:
 * so every start-up step runs in the final daemon process (its pid is the
 * one the region and the pid file record) and a start-up error still
 * reaches the terminal and the parent's exit status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <urcu.h>

#include "config.h"
#include "ctl.h"
#include "events.h"
#include "fed.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "module.h"
#include "mx.h"
#include "override.h"
#include "region.h"
#include "socketmap.h"
#include "stats.h"
#include "tracker.h"
#include "store.h"
#include "sts.h"
#include "tlspin.h"
#include "writer.h"
#include "shm/layout.h"
#include "shm/path.h"

#define MXCACHED_VERSION  "0.1.0"
#define MAIN_DIR_ENV      "MXCACHE_DIR"
#define MAIN_DIR_DEFAULT  "/var/lib/mxcache"
#define MAIN_PIDFILE      "mxcached.pid"
#define MAIN_ERR_MAX      512

static void usage(FILE *f)
{
	fprintf(f, "usage: mxcached [-d DIR|--dir DIR] [-c FILE|--config FILE] [-f|--foreground]\n"
		   "                [-l FILE|--log-file FILE] [-h] [-V]\n"
		   "       mxcached [-c FILE] --check-config\n"
		   "  -d DIR   state directory (default $%s, then %s)\n"
		   "  -c FILE  configuration file (INI)\n"
		   "  -f       stay in the foreground and log to stderr\n"
		   "  -l FILE  log to FILE instead of syslog (or stderr), appending; reopened on SIGHUP\n"
		   "  --check-config  check the configuration file (without -c: the built-in\n"
		   "                  defaults) and exit: 0 if valid, else 1\n"
		   "  -h       this help\n"
		   "  -V       print the version\n",
		MAIN_DIR_ENV, MAIN_DIR_DEFAULT);
}

/* mkdir -p, each missing level 0750; the last one must be a directory. */
static void main_mkdir(const char *dir)
{
	char path[PATH_MAX], *p;
	struct stat sb;

	if (strlen(dir) >= sizeof(path))
		fatalx("main: %s: path too long", dir);
	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST)
			fatal("main: mkdir %s", path);
		*p = '/';
	}
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		fatal("main: mkdir %s", path);
	if (stat(path, &sb) != 0)
		fatal("main: %s", path);
	if (!S_ISDIR(sb.st_mode))
		fatalx("main: %s is not a directory", path);
}

/*
 * The state directory must be writable by its owner alone: whoever else
 * can write it can plant mxcache.db, the sockets or the pid file before
 * we open them (or swap them after).  A directory that others may write
 * is refused, not repaired: what is in it already cannot be trusted.
 */
static void main_dir_private(const char *dir)
{
	struct stat sb;

	if (stat(dir, &sb) != 0)
		fatal("main: %s", dir);
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("main: %s is writable by %s (mode %04o): others could plant files mxcached trusts; "
		       "make it writable by its owner only (chmod go-w) after checking what is in it",
		       dir, (sb.st_mode & S_IWOTH) ? "everyone" : "its group", (unsigned)(sb.st_mode & 07777));
}

/*
 * No core file and no ptrace by the same user: the daemon holds the
 * tracker's key and, briefly, the inputs clients report.  (LeakSanitizer
 * needs to ptrace the process at exit; sanitizer builds keep it.)
 */
static void main_undumpable(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		fatal("main: setrlimit RLIMIT_CORE");
#if !defined(MXC_LSAN)
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatal("main: prctl PR_SET_DUMPABLE");
#endif
	/* one descriptor per client process with a reader block */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* lchown name in dirfd to uid:gid, unless it is already theirs. */
static void main_chown_at(int dirfd, const char *name, uid_t uid, gid_t gid)
{
	struct stat sb;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || (sb.st_uid == uid && sb.st_gid == gid))
		return;
	if (S_ISLNK(sb.st_mode))
		return;    /* never follow a link planted in our directory */
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
		fatal("main: cannot give %s to uid %lu", name, (unsigned long)uid);
}

/*
 * Started as root with [daemon] user: hand the state directory and its
 * files to that user, clear the region's names of anything it does not
 * own (region_disown), then become it for good (its
 * primary group, its supplementary groups, no way back).  Everything the
 * daemon opens afterwards it opens as that user, so a flaw in a parser of
 * network input cannot reach anything root owns.  Only the directory's
 * own entries are touched: it holds no subdirectories of ours.
 */
static void main_become_user(const char *dir, const struct config *cfg)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if (cfg->user[0] == '\0')
		return;
	if (geteuid() != 0) {
		if (geteuid() != cfg->uid)
			fatalx("main: [daemon] user is %s, but mxcached runs as uid %lu, not root, and cannot change user",
			       cfg->user, (unsigned long)geteuid());
		return;
	}
	if (stat(dir, &sb) != 0)
		fatal("main: %s", dir);
	d = opendir(dir);
	if (d == NULL)
		fatal("main: %s", dir);
	main_chown_at(dirfd(d), ".", cfg->uid, cfg->user_gid);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			main_chown_at(dirfd(d), de->d_name, cfg->uid, cfg->user_gid);
	closedir(d);
	/* the region's files are made anew by the user, never handed over */
	if (region_disown(dir, cfg->shm_dir, cfg->uid) != 0)
		fatal("main: %s", dir);
	if (initgroups(cfg->user, cfg->user_gid) != 0 && setgroups(0, NULL) != 0)
		fatal("main: setgroups");
	if (setgid(cfg->user_gid) != 0)
		fatal("main: setgid %lu", (unsigned long)cfg->user_gid);
	if (setuid(cfg->uid) != 0)
		fatal("main: setuid %lu", (unsigned long)cfg->uid);
	if (cfg->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		fatalx("main: could become root again after dropping to %s", cfg->user);
	log_info("main: running as %s (uid %lu, gid %lu)", cfg->user, (unsigned long)cfg->uid,
		 (unsigned long)cfg->user_gid);
}

/*
 * Fork; the parent waits until the child writes one byte on the pipe
 * (ready: exit 0) or dies (exit with its status).  Returns the write end
 * in the child.
 */
static int main_detach_begin(void)
{
	sigset_t all;
	ssize_t k;
	pid_t pid;
	int p[2], st;
	char c = 0;

	if (pipe2(p, O_CLOEXEC) != 0)
		fatal("main: pipe");
	pid = fork();
	if (pid == -1)
		fatal("main: fork");
	if (pid > 0) {
		close(p[1]);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		do
			k = read(p[0], &c, 1);
		while (k < 0 && errno == EINTR);
		if (k == 1 && c == 'R')
			_exit(0);
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
			_exit(WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : 1);
		_exit(1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("main: setsid");
	if (chdir("/") != 0)
		fatal("main: chdir /");
	return p[1];
}

/* Ready: let go of the terminal and release the waiting parent. */
static void main_detach_end(int readyfd)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd == -1)
		fatal("main: /dev/null");
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	log_echo(0);
	if (write(readyfd, "R", 1) != 1)
		log_warn("main: cannot tell the parent we are ready");
	close(readyfd);
}

/*
 * -l FILE: from now on every line goes there.  Opened before the daemon
 * detaches or changes user, so a start-up error reaches it and root may
 * create it in a directory only root writes; a file it creates is given
 * to [daemon] user, who reopens it on SIGHUP.  The path is made absolute:
 * the daemon leaves the working directory.
 */
static void main_log_file(const char *arg, const struct config *cfg, char *path, size_t len)
{
	char cwd[PATH_MAX], err[MAIN_ERR_MAX];
	int drop = cfg->user[0] != '\0' && geteuid() == 0;

	if (arg[0] == '/') {
		if ((size_t)snprintf(path, len, "%s", arg) >= len)
			fatalx("main: -l %s: path too long", arg);
	} else if (getcwd(cwd, sizeof(cwd)) == NULL || (size_t)snprintf(path, len, "%s/%s", cwd, arg) >= len) {
		fatalx("main: -l %s: cannot make the path absolute", arg);
	}
	if (log_file(path, drop ? cfg->uid : (uid_t)-1, drop ? cfg->user_gid : (gid_t)-1, err, sizeof(err)) != 0)
		fatalx("%s", err);
	/* until ready, errors reach whoever started it as well */
	log_echo(1);
}

/* One daemon per DIR: an flock held for the life of the process. */
static int main_pidlock(const char *dir)
{
	char path[PATH_MAX], old[32];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, MAIN_PIDFILE) >= sizeof(path))
		fatalx("main: %s: path too long", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1)
		fatal("main: %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK)
			fatal("main: flock %s", path);
		n = pread(fd, old, sizeof(old) - 1, 0);
		old[n > 0 ? n : 0] = '\0';
		old[strcspn(old, "\n")] = '\0';
		fatalx("main: another mxcached (pid %s) is running on %s", old[0] ? old : "?", dir);
	}
	if (ftruncate(fd, 0) != 0 || dprintf(fd, "%ld\n", (long)getpid()) < 0)
		fatal("main: %s", path);
	return fd;
}

/*
 * The modules main steps through alike (daemon/module.h), in start order:
 * the tables are rebuilt in this order, and the modules are stopped in
 * the reverse one, the event thread first (it calls the others), after
 * the admin server and before the writer.  A new table or module is one
 * line here.
 */
enum { MOD_OVERRIDE, MOD_STS, MOD_MX, MOD_FED, MOD_TLSPIN, MOD_STATS, MOD_TRACKER, MOD_EVENTS, MOD_N };
static struct module main_mods[MOD_N] = {
	[MOD_OVERRIDE] = { &override_module, NULL },
	[MOD_STS] = { &sts_module, NULL },
	[MOD_MX] = { &mx_module, NULL },
	[MOD_FED] = { &fed_module, NULL },
	[MOD_TLSPIN] = { &tlspin_module, NULL },
	[MOD_STATS] = { &stats_module, NULL },
	[MOD_TRACKER] = { &tracker_module, NULL },
	[MOD_EVENTS] = { &events_module, NULL },
};

/* Every table from the store into r, a region being built; then live. */
static void main_rebuild(struct store *st, struct region *r)
{
	int64_t loaded[MOD_N];
	uint64_t skipped[MOD_N], ms[MOD_N], t0;
	char err[MAIN_ERR_MAX];
	size_t i;

	for (i = 0; i < MOD_N; i++) {
		const struct module *m = &main_mods[i];

		if (m->ops->rebuild == NULL)
			continue;
		skipped[i] = 0;
		t0 = mono_ms();
		loaded[i] = m->ops->rebuild(m->self, st, r, &skipped[i], err, sizeof(err));
		if (loaded[i] < 0)
			fatalx("main: rebuild of the %s: %s", m->ops->name, err);
		ms[i] = mono_ms() - t0;
	}
	region_publish(r);
	if (region_go_live(r) != 0)
		fatal("main: cannot make the region live");
	for (i = 0; i < MOD_N; i++)
		if (main_mods[i].ops->rebuild != NULL)
			log_info("main: rebuilt %llu %s (%llu skipped) in %llu ms", (unsigned long long)loaded[i],
				 main_mods[i].ops->name, (unsigned long long)skipped[i], (unsigned long long)ms[i]);
}

/* [limits] to every module made so far: at start and on reload. */
static void main_set_limits(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < MOD_N; i++)
		if (main_mods[i].self != NULL && main_mods[i].ops->set_limits != NULL)
			main_mods[i].ops->set_limits(main_mods[i].self, cfg);
}

/* What runs besides the modules, as far as it was started. */
struct main_run {
	struct metrics *metrics;
	struct socketmap *smap;
	struct ctl *ctl;
	struct writer *w;
	struct store *st;
	struct region *r;
};

/*
 * Stop everything, the same way at the end and after a failed start: no
 * new requests (metrics, socketmap, admin), then the modules in reverse
 * order, whose workers finish the jobs they have, then the writer, which
 * commits what it was given; then the store and the region.
 */
static void main_stop(struct main_run *run)
{
	size_t i;

	metrics_stop(run->metrics);
	socketmap_close(run->smap);
	ctl_stop(run->ctl);
	for (i = MOD_N; i-- > 0;)
		if (main_mods[i].self != NULL && main_mods[i].ops->stop != NULL) {
			main_mods[i].ops->stop(main_mods[i].self);
			main_mods[i].self = NULL;
		}
	writer_stop(run->w);
	if (store_checkpoint(run->st) != 0)
		log_warnx("store: final checkpoint of %s: %s", store_path(run->st), store_errmsg(run->st));
	store_close(run->st);
	region_close(run->r);
}

/*
 * The settings a reload cannot apply: sockets bound, threads started,
 * files made with them.  Each that changed is named in the log and keeps
 * its running value until the next start, so the config in force is
 * always what the daemon does.  Everything else ([log] level, [ctl]
 * admin_group, [limits]) applies at once.
 */
struct restart_only {
	const char *name;
	size_t off, len;
};

#define RO(name, field) { name, offsetof(struct config, field), sizeof(((struct config *)0)->field) }
static const struct restart_only restart_only[] = {
	RO("[region] group", gid), RO("[region] slots", slots), RO("[region] shm_dir", shm_dir),
	RO("[store] synchronous", synchronous), RO("[dns] servers", dns_servers), RO("[dns] servers", dns_nservers),
	RO("[dns] timeout_ms", dns_timeout_ms), RO("[dns] retries", dns_retries),
	RO("[tls] ca_file", tls_ca_file), RO("[sts] workers", sts_workers), RO("[sts] refresh_s", sts_refresh_s),
	RO("[sts] forget_after_s", sts_forget_s), RO("[sts] backoff_s", sts_backoff_s),
	RO("[sts] connect_timeout_ms", sts_connect_ms), RO("[sts] fetch_timeout_ms", sts_fetch_ms),
	RO("[sts] content_types", sts_content_types), RO("[sts] policy_port", sts_port),
	RO("[socketmap] listen", sm_listen), RO("[socketmap] listen", sm_has_listen),
	RO("[socketmap] strict_testing", sm_strict_testing), RO("[socketmap] tlsrpt", sm_tlsrpt),
	RO("[socketmap] miss_wait_ms", sm_miss_wait_ms),
	RO("[socketmap] transport", sm_transport), RO("[socketmap] idle_timeout_s", sm_idle_s),
	RO("[socketmap] max_connections", sm_max_conn), RO("[socketmap] program", sm_program),
	RO("[socketmap] unix_max_connections", sm_unix_max_conn),
	RO("[socketmap] listen_max_connections", sm_listen_max_conn),
	RO("[socketmap] max_connections_per_address", sm_max_per_addr),
	RO("[socketmap] max_connections_per_uid", sm_max_per_uid),
	RO("[daemon] user", uid), RO("[metrics] listen", metrics_listen),
	RO("[metrics] listen", metrics_has_listen),
};
#undef RO

static void main_keep_restart_only(struct config *nc, const struct config *oc)
{
	const char *last = "";
	size_t i;

	for (i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]); i++) {
		const struct restart_only *r = &restart_only[i];

		if (memcmp((const char *)nc + r->off, (const char *)oc + r->off, r->len) == 0)
			continue;
		if (strcmp(last, r->name) != 0)
			log_warnx("main: SIGHUP: %s changed: it takes effect at the next start", r->name);
		last = r->name;
		memcpy((char *)nc + r->off, (const char *)oc + r->off, r->len);
	}
	/* names that go with the numbers kept above */
	memcpy(nc->group, oc->group, sizeof(nc->group));
	memcpy(nc->user, oc->user, sizeof(nc->user));
	nc->user_gid = oc->user_gid;
}

static void main_reload(const char *cfgpath)
{
	struct config *nc, *oc;
	char err[MAIN_ERR_MAX];

	if (cfgpath == NULL) {
		log_info("main: SIGHUP: started without -c, nothing to reload");
		return;
	}
	if (config_load(cfgpath, &nc, err, sizeof(err)) != 0) {
		log_warnx("%s; keeping the running config", err);
		return;
	}
	/* the main thread is the only one that swaps: oc cannot go away */
	rcu_read_lock();
	oc = config_current();
	main_keep_restart_only(nc, oc);
	rcu_read_unlock();
	config_swap(nc);
	main_set_limits(nc);
	log_setlevel(nc->log_level);
	log_info("main: reloaded %s (log level %s)", cfgpath, log_level_name(nc->log_level));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "log-file", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dirarg = NULL, *cfgpath = NULL, *logarg = NULL;
	char dir[PATH_MAX], logpath[PATH_MAX], err[MAIN_ERR_MAX];
	struct config *cfg = NULL;
	struct store *st = NULL;
	struct region *r = NULL;
	struct writer *w = NULL;
	struct ctl *ctl = NULL;
	struct sts *sts = NULL;
	struct events *events = NULL;
	struct socketmap *smap = NULL;
	struct metrics *metrics = NULL;
	struct region_opts ro;
	char dbpath[PATH_MAX + 16];
	struct stats *stats = NULL;
	struct tracker *tracker = NULL;
	struct main_run run;
	struct signalfd_siginfo si;
	sigset_t sigs;
	uint64_t n;
	size_t i;
	int ch, foreground = 0, readyfd = -1, pidfd, sfd, check_only = 0;

	while ((ch = getopt_long(argc, argv, "d:c:fl:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dirarg = optarg;
			break;
		case 'c':
			cfgpath = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'l':
			logarg = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mxcached %s\n", MXCACHED_VERSION);
			return 0;
		case 'C':
			check_only = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (dirarg == NULL)
		dirarg = getenv(MAIN_DIR_ENV);
	if (dirarg == NULL || dirarg[0] == '\0')
		dirarg = MAIN_DIR_DEFAULT;

	/* every thread inherits this mask; the signals arrive on the signalfd */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0)
		fatal("main: sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	/* past RLIMIT_FSIZE a write fails with EFBIG, which SQLite reports */
	signal(SIGXFSZ, SIG_IGN);
	umask(027);

	if (check_only) {
		/* what a reload or a start would say, nothing else done; with
		 * no file, the defaults a start without -c would run with */
		if (config_load(cfgpath, &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "mxcached: %s\n", err);
			return 1;
		}
		config_free(cfg);
		/* a valid file passes silently (a unit's ExecStartPre); no
		 * file at all says so, lest it pass for a check of one */
		if (cfgpath == NULL)
			printf("mxcached: no -c: the built-in defaults are valid\n");
		return 0;
	}
	if (config_load(cfgpath, &cfg, err, sizeof(err)) != 0)
		fatalx("%s", err);
	main_mkdir(dirarg);
	/* absolute: the daemon leaves the working directory */
	if (realpath(dirarg, dir) == NULL)
		fatal("main: %s", dirarg);
	main_dir_private(dir);
	if (logarg != NULL)
		main_log_file(logarg, cfg, logpath, sizeof(logpath));
	if (!foreground) {
		log_init(0, cfg->log_level);
		log_echo(1);
		readyfd = main_detach_begin();
	} else {
		log_init(1, cfg->log_level);
	}
	main_become_user(dir, cfg);
	/* after the change of user, which resets the flag */
	main_undumpable();
	pidfd = main_pidlock(dir);
	rcu_register_thread();
	config_swap(cfg);
	if (strcmp(cfg->shm_dir, mxc_shm_dir()) != 0)
		log_warnx("main: region in %s, but clients look in %s: set %s for them", cfg->shm_dir,
			  mxc_shm_dir(), MXS_SHM_DIR_ENV);

	if (ctl_open(dir, cfg->gid, &ctl, err, sizeof(err)) != 0)
		fatalx("%s", err);
	/* the server's lines go where ours do, unless both go to syslog */
	if (socketmap_open(dir, cfg, foreground || logarg != NULL, &smap, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (store_open(dir, cfg->shm_dir, cfg->synchronous, &st, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (store_override_count(st, &n) != 0)
		fatalx("store: %s: %s", store_path(st), store_errmsg(st));

	memset(&ro, 0, sizeof(ro));
	ro.dir = dir;
	ro.nslots = cfg->slots;
	ro.gid = cfg->gid;
	ro.shm_dir = cfg->shm_dir;
	if (region_create(&ro, n, &r) != 0)
		fatal("main: cannot create the region for %s", dir);
	stats = stats_new();
	if (stats == NULL)
		fatalx("main: out of memory");
	main_mods[MOD_STATS].self = stats;
	/* the rebuilt values carry the recheck period in force, not the default */
	sts_store_set_recheck(cfg->sts_recheck_s);
	main_rebuild(st, r);

	if (writer_start(st, r, &w) != 0)
		fatal("main: cannot start the writer thread");
	snprintf(dbpath, sizeof(dbpath), "%s/%s", dir, STORE_FILE);
	tracker = tracker_new(dir);
	if (tracker == NULL)
		fatalx("main: cannot set up the server tracker");
	main_mods[MOD_TRACKER].self = tracker;
	if (sts_start(cfg, dbpath, r, w, &sts, err, sizeof(err)) != 0)
		fatalx("%s", err);
	main_mods[MOD_STS].self = sts;
	events = events_new(r, w);
	if (events == NULL)
		fatalx("main: out of memory");
	for (i = 0; i < MOD_N; i++)
		if (main_mods[i].self != NULL && main_mods[i].ops->attach != NULL &&
		    main_mods[i].ops->attach(main_mods[i].self, events) != 0)
			fatalx("main: %s: client events taken by another module", main_mods[i].ops->name);
	main_mods[MOD_EVENTS].self = events;
	main_set_limits(cfg);
	if (events_start(events, err, sizeof(err)) != 0)
		fatalx("%s", err);
	ctl_set_sts(ctl, sts);
	if (socketmap_start(smap, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (metrics_start(cfg, dir, r, &metrics, err, sizeof(err)) != 0)
		fatalx("%s", err);
	run.metrics = metrics;
	run.smap = smap;
	run.ctl = ctl;
	run.w = w;
	run.st = st;
	run.r = r;
	if (ctl_start(ctl, w, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		main_stop(&run);
		exit(1);
	}
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd == -1) {
		log_warn("main: signalfd");
		main_stop(&run);
		exit(1);
	}
	log_info("main: mxcached %s ready: pid %ld, dir %s", MXCACHED_VERSION, (long)getpid(), dir);
	if (!foreground)
		main_detach_end(readyfd);
	else
		log_echo(0);

	for (;;) {
		ssize_t k = read(sfd, &si, sizeof(si));
		if (k != (ssize_t)sizeof(si)) {
			if (k < 0 && errno != EINTR)
				log_warn("main: signalfd");
			continue;
		}
		if (si.ssi_signo == SIGHUP) {
			/* first, so that what the reload says is in the new file */
			if (log_reopen(err, sizeof(err)) != 0)
				log_warnx("%s; still writing to the file open before", err);
			else if (log_file_path() != NULL)
				log_info("main: SIGHUP: log file %s reopened", log_file_path());
			main_reload(cfgpath);
			continue;
		}
		log_info("main: %s: shutting down", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}

	/* no new requests; the fetchers and the writer finish what they were
	 * given, then stop */
	main_stop(&run);
	config_shutdown();
	rcu_unregister_thread();
	close(sfd);
	if (ftruncate(pidfd, 0) != 0)
		log_warn("main: %s/%s", dir, MAIN_PIDFILE);
	log_info("main: stopped");
	return 0;
}
