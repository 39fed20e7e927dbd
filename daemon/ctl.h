/*
 * daemon/ctl.h - the admin server on DIR/ctl.sock (protocol: shm/ctl.h).
 *
 * A unix stream socket, mode 0660, group from the config.  One accept
 * thread; one thread per connection, at most CTL_MAX_CONN at once.  So
 * that peers who may only read cannot keep out those who may change
 * things, read-only peers share CTL_READONLY_CONN of them, and each uid
 * but root holds at most CTL_UID_CONN; a peer past a limit is answered
 * ERR EBUSY and closed.  Changes go to the writer and are answered once
 * committed and published; only root, the daemon's uid and [ctl]
 * admin_group may make them (SO_PEERCRED).  A connection idle for
 * CTL_IDLE_TIMEOUT_S is closed.
 *
 * Thread safety: ctl_start()/ctl_stop() from the main thread.
 */
#ifndef MXC_DAEMON_CTL_H
#define MXC_DAEMON_CTL_H

#include <stddef.h>
#include <sys/types.h>

#define CTL_MAX_CONN       32
#define CTL_READONLY_CONN  8    /* of them, peers that may not change anything */
#define CTL_UID_CONN       8    /* of them, one uid other than root */
#define CTL_IDLE_TIMEOUT_S 60

struct ctl;
struct sts;
struct writer;

/* ctl_set_sts - route STS-FETCH, STS-DEL and MX-FETCH to s.  Before
 * ctl_start(); main thread. */
void ctl_set_sts(struct ctl *c, struct sts *s);

/*
 * ctl_open - listen on DIR/ctl.sock (connections wait in the backlog until
 * ctl_start).  A socket left by a dead daemon is removed; one a live
 * daemon answers on is an error.  Called before the region is built, so
 * that a socket problem stops the start before anything is replaced.
 * Returns 0 and sets *out, or -1 with a message in err.
 */
int ctl_open(const char *dir, gid_t gid, struct ctl **out, char *err, size_t errlen);

/*
 * ctl_start - start accepting; requests go to w.  Returns 0, or -1 with a
 * message in err.
 */
int ctl_start(struct ctl *c, struct writer *w, char *err, size_t errlen);

/*
 * ctl_stop - stop accepting, remove the socket, end every connection
 * (requests already handed to the writer are answered first), wait for
 * their threads and free c.  Works after ctl_open() alone too; c may be
 * NULL.
 */
void ctl_stop(struct ctl *c);

#endif /* MXC_DAEMON_CTL_H */
