/*
 * client/shmctl.h - what the parts of shmctl share; private to shmctl.
 *
 *   shmctl.c      main, usage, and every read (through libmxcache)
 *   shmctl_ctl.c  every change (through mxcached on DIR/ctl.sock), import
 */
#ifndef MXC_SHMCTL_H
#define MXC_SHMCTL_H

#include <stdio.h>

/* exit statuses, fixed by the interface contract */
enum {
	SC_OK       = 0,	/* found / done */
	SC_NOTFOUND = 1,
	SC_USAGE    = 2,
	SC_UNAVAIL  = 3,	/* daemon or region unavailable */
	SC_ERROR    = 4,
};

struct sc_ctx {
	const char *dir;	/* state directory, resolved */
	int json;		/* --json given */
};

/* sc_err - "shmctl: <message>\n" on stderr */
void sc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sc_print_clean - s with control bytes as \xNN: comments are user data,
 * and a stray ESC must not reach the terminal */
void sc_print_clean(FILE *f, const char *s);

/* Commands that go through mxcached (shmctl_ctl.c).  av holds ac positional
 * arguments after the command words; each returns an exit status. */
int sc_cmd_ping(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_override_set(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_override_del(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_override_import(const struct sc_ctx *c, char **av, int ac);

#endif /* MXC_SHMCTL_H */
