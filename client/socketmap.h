/*
 * client/socketmap.h - what the two halves of mxcache-socketmap share.
 *
 * client/socketmap.c is the program: options, logging, start and stop.
 * client/sm_proto.c is the protocol (sm_proto.h): the netstrings, the
 * maps.  client/sm_conn.c is the connections: the event loop, who may
 * connect, reading, writing, and when to close.
 *
 * One thread: nothing here is thread-safe.
 */
#ifndef MXC_CLIENT_SOCKETMAP_H
#define MXC_CLIENT_SOCKETMAP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../shm/smstats.h"
#include "sm_proto.h"

#define SM_CONN_MAX       65536      /* connections at most, whatever the options */

struct sm_listener;
struct sm_peer;

struct conn {
	int fd;
	struct sm_listener *l;       /* accepted on */
	struct sm_peer *peer;        /* its address or uid */
	int paused;                  /* EPOLLIN off: too much output waiting */
	uint32_t events;             /* what epoll polls it for */
	time_t stalled_since;        /* output waiting since, or 0 */
	size_t stall_moved;          /* bytes of it taken since then */
	struct conn *wprev, *wnext;  /* on the waiting list (s.waiting) */
	int listed;
	struct sm_stream s;          /* bytes in, replies out */
};

/* --- client/socketmap.c ------------------------------------------------------ */

/* sm_log - one line to syslog, or "socketmap: ..." to stderr under -f. */
void sm_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- client/sm_conn.c --------------------------------------------------------- */

/*
 * Who may connect.  Each listening socket has a limit of its own, so a
 * flood on the TCP listener never takes the unix socket's connections
 * (nor the reverse), and within a listener each peer has one: a TCP peer
 * by its address (an IPv6 peer by its /64, which one host usually holds
 * whole), a unix peer by its uid (SO_PEERCRED).  The total bounds them
 * all.  A peer past a limit is accepted and closed at once, unanswered:
 * Postfix retries.  Each refusal is counted (shm/smstats.h) and logged at
 * most once every SM_REFUSAL_LOG_S per listener and limit, with how many
 * were refused in between, so a flood cannot flood the log.
 */
#define SM_REFUSAL_LOG_S  60

struct sm_limits {
	int total;                   /* connections in all (--max-conn) */
	int unix_max, tcp_max;       /* per listener of each kind; 0: a share of total */
	int per_address;             /* per TCP peer address (IPv6: per /64) */
	int per_uid;                 /* per unix peer uid */
	int idle_s;                  /* --idle-timeout */
};

/* sm_conn_fd_limit - raise RLIMIT_NOFILE for lim->total connections, as
 * far as the hard limit allows. */
void sm_conn_fd_limit(const struct sm_limits *lim);

/* sm_conn_start - serve the nl listening sockets lfds; h is the region
 * the maps answer from (its changes wake requests waiting for a check).
 * 0, or -1 logged. */
int sm_conn_start(const int *lfds, int nl, const struct sm_limits *lim, mxc_t *h);

/* sm_conn_run - serve until *stop is set. */
void sm_conn_run(volatile sig_atomic_t *stop);

/* sm_conn_stop - close every connection. */
void sm_conn_stop(void);

#endif
