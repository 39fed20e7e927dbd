/*
 * daemon/socketmap.h - the Postfix socketmap service of mxcached: the
 * listening sockets (DIR/socketmap.sock, and [socketmap] listen) and the
 * supervised server process that answers on them (client/socketmap.c,
 * installed as mxcache-socketmap).  docs/socketmap.md for users.
 */
#ifndef MXC_DAEMON_SOCKETMAP_H
#define MXC_DAEMON_SOCKETMAP_H

#include <stddef.h>

struct config;
struct socketmap;

/*
 * socketmap_open - bind DIR/socketmap.sock (mode 0660, group
 * cfg->gid) and the TCP address if configured, and find the server
 * program.  relay: the server's log lines come through a pipe into the
 * daemon's log (stderr or a log file: one timestamp format, one file to
 * reopen); else the server logs to syslog itself.  Returns 0 and *out,
 * or -1 with a message in err.  Main thread, at start.
 */
int socketmap_open(const char *dir, const struct config *cfg, int relay, struct socketmap **out, char *err,
		   size_t errlen);

/*
 * socketmap_start - run the server, and run it again (backing off from 1
 * to 30 s) whenever it exits.  Returns 0, or -1 with err.  Main thread,
 * once the region is live.
 */
int socketmap_start(struct socketmap *s, char *err, size_t errlen);

/*
 * socketmap_close - stop the server (SIGTERM, SIGKILL after 5 s), close
 * the sockets and remove DIR/socketmap.sock.  s may be NULL.  Main thread.
 */
void socketmap_close(struct socketmap *s);

#endif /* MXC_DAEMON_SOCKETMAP_H */
