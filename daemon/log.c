/*
 * daemon/log.c - stderr or syslog, one write per message.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void log_init(int foreground, int level)
{
	if (!foreground && !log_opened) {
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

static void log_stderr(const char *msg)
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
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

static void log_vemit(int pri, int with_errno, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno, len;

	if (pri > __atomic_load_n(&log_level, __ATOMIC_RELAXED) && pri > LOG_WARNING)
		return;
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len < 0)
		len = 0;
	if (with_errno && (size_t)len < sizeof(msg))
		len += snprintf(msg + len, sizeof(msg) - (size_t)len, ": %s", strerror(saved));
	if ((size_t)len >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);

	if (__atomic_load_n(&log_foreground, __ATOMIC_RELAXED)) {
		log_stderr(msg);
	} else {
		syslog(pri, "%s", msg);
		if (pri <= LOG_WARNING && __atomic_load_n(&log_echo_on, __ATOMIC_RELAXED))
			log_stderr(msg);
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
