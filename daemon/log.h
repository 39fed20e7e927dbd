/*
 * daemon/log.h - mxcached's logging.
 *
 * Every message starts with the name of the module that logs it
 * ("store: ...", "ctl: ..."), so a log line can be traced to its source
 * file without a lookup table.  With a log file (-l) messages go there,
 * in the foreground to stderr, each with an ISO 8601 timestamp; otherwise
 * to syslog (ident "mxcached", facility LOG_DAEMON).
 *
 * Levels are syslog's: LOG_DEBUG, LOG_INFO, LOG_WARNING.  Messages below
 * the current level are dropped before they are formatted.
 *
 * Thread safety: every function may be called from any thread; one
 * message is one write(2) (or one syslog(3) call), so lines never
 * interleave.  log_init() and log_echo() are meant for the main thread.
 */
#ifndef MXC_DAEMON_LOG_H
#define MXC_DAEMON_LOG_H

#include <stddef.h>
#include <sys/types.h>
#include <syslog.h>

#define LOG_FILE_MODE 0640

/*
 * log_init - choose the destination and the level.  foreground: stderr,
 * else syslog; a log file (log_file) takes the place of either.  level:
 * LOG_DEBUG, LOG_INFO or LOG_WARNING.  May be called again (a SIGHUP
 * reload changes the level).  Before the first call, messages go to
 * stderr at LOG_INFO.
 */
void log_init(int foreground, int level);

/*
 * log_file - from now on, write every message to the file at path (an
 * absolute path), appended, created LOG_FILE_MODE if missing and then
 * given to uid:gid when running as root (uid (uid_t)-1: not), so that the
 * daemon can reopen it as that user.  Refuses a symbolic link and a file
 * with other names.  Returns 0, or -1 with a message in err (nothing
 * changed).  Main thread, at start.
 */
int log_file(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * log_reopen - open the log file's path again (SIGHUP: logrotate moved the
 * file away) and write there from now on.  0 (also without a log file),
 * or -1 with err: the messages still go to the file open before.  Main
 * thread.
 */
int log_reopen(char *err, size_t errlen);

/* log_file_path - the log file's path, NULL without one. */
const char *log_file_path(void);

/* log_setlevel - change the level only (config reload). */
void log_setlevel(int level);

/*
 * log_echo - while on, warnings and errors logged to syslog or the log
 * file are also written to stderr.  The daemon turns it on until it is
 * ready so that startup errors reach the person who started it.
 */
void log_echo(int on);

/* log_level_name - "debug", "info", "warning"; static text. */
const char *log_level_name(int level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_at - at a syslog priority known at run time (LOG_ERR, LOG_WARNING,
 * LOG_INFO, LOG_DEBUG...): a line relayed from the socketmap server. */
void log_at(int pri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_warn - appends ": " and strerror(errno). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal/fatalx - log and exit(1).  Only for startup errors. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* MXC_DAEMON_LOG_H */
