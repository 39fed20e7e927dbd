/*
 * daemon/log.c - stderr, a log file or syslog, one write per message.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longer messages are cut, with "..." to say so. */
#define LOG_LINE_MAX 2048
#define LOG_IDENT    "mxcached"

/*
 * Plain ints read with relaxed atomics: a reload may change the level while
 * other threads log, and a message logged at the old level is harmless.
 */
static int log_foreground = 1;
static int log_level = LOG_INFO;
static int log_echo_on;
static int log_opened;
/* -l FILE: every line goes there, whatever the mode; the descriptor
 * number stays the same across reopens (dup3), so a writer holding the
 * old value writes to the old file or the new one, never to a closed
 * number */
static int log_fd = -1;
static char log_path[PATH_MAX];

void log_init(int foreground, int level)
{
	if (!foreground && !log_opened && __atomic_load_n(&log_fd, __ATOMIC_RELAXED) < 0) {
		openlog(LOG_IDENT, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_opened = 1;
	}
	__atomic_store_n(&log_foreground, foreground, __ATOMIC_RELAXED);
	log_setlevel(level);
}

void log_setlevel(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

void log_echo(int on)
{
	__atomic_store_n(&log_echo_on, on, __ATOMIC_RELAXED);
}

const char *log_level_name(int level)
{
	switch (level) {
	case LOG_DEBUG:
		return "debug";
	case LOG_INFO:
		return "info";
	case LOG_WARNING:
		return "warning";
	default:
		return "error";
	}
}

/*
 * Open the log file for appending: never through a symbolic link, only a
 * regular file with no other name (a hard link planted in a directory
 * others may write must not make root append to some other file).  A file
 * it creates is given to uid:gid (uid (uid_t)-1: left as it is), so that
 * the daemon can still reopen it once it runs as [daemon] user.
 * Returns the descriptor, or -1 with err.
 */
static int log_open(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int fl = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, fd, created = 1;
	struct stat st;

	fd = open(path, fl | O_CREAT | O_EXCL, LOG_FILE_MODE);
	if (fd < 0 && errno == EEXIST) {
		created = 0;
		fd = open(path, fl);
	}
	if (fd < 0) {
		snprintf(err, errlen, "log: %s: %s", path,
			 errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, errlen, "log: %s: not a regular file with one name (refused)", path);
		close(fd);
		return -1;
	}
	if (created && uid != (uid_t)-1 && geteuid() == 0 && fchown(fd, uid, gid) != 0) {
		snprintf(err, errlen, "log: %s: cannot give it to uid %lu: %s", path, (unsigned long)uid,
			 strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int log_file(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int fd;

	if (strlen(path) >= sizeof(log_path)) {
		snprintf(err, errlen, "log: %s: path too long", path);
		return -1;
	}
	fd = log_open(path, uid, gid, err, errlen);
	if (fd < 0)
		return -1;
	snprintf(log_path, sizeof(log_path), "%s", path);
	__atomic_store_n(&log_fd, fd, __ATOMIC_RELEASE);
	return 0;
}

int log_reopen(char *err, size_t errlen)
{
	int fd, cur = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);

	if (cur < 0)
		return 0;
	/* as the user the daemon runs as now: a file it creates is its own */
	fd = log_open(log_path, (uid_t)-1, (gid_t)-1, err, errlen);
	if (fd < 0)
		return -1;
	if (dup3(fd, cur, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "log: %s: dup3: %s", log_path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

const char *log_file_path(void)
{
	return __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE) >= 0 ? log_path : NULL;
}

static void log_line(int fd, const char *msg)
{
	char line[LOG_LINE_MAX + 64];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int len;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	len = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s\n", ts.tv_nsec / 1000000, msg);
	if (len < 0)
		return;
	n += (size_t)len < sizeof(line) - n ? (size_t)len : sizeof(line) - n - 1;
	/* one write, so that lines from several threads never interleave */
	if (write(fd, line, n) < 0) {
		/* nowhere left to report it */
	}
}

static void log_vemit(int pri, int with_errno, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno, len, fd;

	if (pri > __atomic_load_n(&log_level, __ATOMIC_RELAXED) && pri > LOG_WARNING)
		return;
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		len = 0;
	if (with_errno && (size_t)len < sizeof(msg))
		len += snprintf(msg + len, sizeof(msg) - (size_t)len, ": %s", strerror(saved));
	if ((size_t)len >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);

	fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0 || !__atomic_load_n(&log_foreground, __ATOMIC_RELAXED)) {
		if (fd >= 0)
			log_line(fd, msg);
		else
			syslog(pri, "%s", msg);
		if (pri <= LOG_WARNING && __atomic_load_n(&log_echo_on, __ATOMIC_RELAXED))
			log_line(STDERR_FILENO, msg);
	} else {
		log_line(STDERR_FILENO, msg);
	}
	errno = saved;
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_at(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(pri, 0, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
