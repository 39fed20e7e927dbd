/*
 * daemon/ctl_int.h - the admin server's own parts, shared by its three
 * files: ctl.c (the socket, accepting, who may connect and how many,
 * the connection threads, start and stop), ctl_line.c (the line format:
 * reading, splitting, replying) and ctl_cmd.c (the command table and
 * the handlers).  Nothing outside them includes it.
 */
#ifndef MXC_DAEMON_CTL_INT_H
#define MXC_DAEMON_CTL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/ctl.h"

/* Results of ctl_readline(). */
#define CTL_LINE      1
#define CTL_EOF       0
#define CTL_ERROR   (-1)
#define CTL_TIMEOUT (-2)
#define CTL_LONG    (-3)

/* What a peer is told whose line does not fit in MXS_CTL_LINE_MAX. */
#define CTL_LONG_MSG  "line longer than 8192 bytes"
_Static_assert(MXS_CTL_LINE_MAX == 8192, "CTL_LONG_MSG says 8192");

struct ctl;
struct sts;
struct writer;

/* One admin connection; its thread owns it, ctl.c lists it. */
struct ctl_conn {
	struct ctl *ctl;
	struct ctl_conn *prev, *next;   /* ctl.c's list, under its lock */
	struct writer *w;       /* where changes go (ctl_start) */
	struct sts *sts;        /* MTA-STS and MX fetches (ctl_set_sts); may be NULL */
	int fd;
	uid_t uid;
	pid_t pid;
	int may_change;         /* root, our uid, or [ctl] admin_group */
	size_t off;             /* start of unread data in buf */
	size_t len;             /* end of data in buf */
	char buf[MXS_CTL_LINE_MAX];
};

/* --- ctl_line.c: the line format (shm/ctl.h) --- */

/*
 * ctl_format - escape and join the NULL-terminated words into out with a
 * '\n'.  Returns the length, or -1 if the line would exceed outlen or
 * MXS_CTL_LINE_MAX.
 */
int ctl_format(char *out, size_t outlen, const char *first, ...) __attribute__((sentinel));

/* ctl_send - send one reply line.  Returns 0, or -1 when the client is gone. */
int ctl_send(struct ctl_conn *cn, const char *first, ...) __attribute__((sentinel));

/* ctl_err - send ERR <code> <msg>.  Returns as ctl_send. */
int ctl_err(struct ctl_conn *cn, const char *code, const char *msg);

/*
 * ctl_readline - the next line into *line (NUL-terminated, '\n' dropped),
 * valid until the next call.  Returns CTL_LINE, or CTL_EOF, CTL_ERROR,
 * CTL_TIMEOUT (idle past the socket's timeout), CTL_LONG.
 */
int ctl_readline(struct ctl_conn *cn, char **line, size_t *linelen);

/*
 * ctl_words - split a line into at most MXS_CTL_WORDS_MAX unescaped
 * words.  Returns the count, or -1 for a malformed line.
 */
int ctl_words(char *line, size_t len, char **words);

/* ctl_uint - a decimal number, digits only.  Returns 0, or -1. */
int ctl_uint(const char *s, uint64_t *v);

/* --- ctl_cmd.c: the requests --- */

/*
 * ctl_request - answer one request line of cn.  Returns 0 to go on, -1
 * to close the connection.  Runs on cn's thread, registered with RCU.
 */
int ctl_request(struct ctl_conn *cn, char *line, size_t len);

#endif /* MXC_DAEMON_CTL_INT_H */
