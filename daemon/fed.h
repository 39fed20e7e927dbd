/*
 * daemon/fed.h - the federation policy: settings and rules in SQLite
 * (tables settings and federation_rules) and in the region (MXS_TAB_FED,
 * shm/fed.h).  Every change is one writer job: committed, then published,
 * then answered.
 */
#ifndef MXC_DAEMON_FED_H
#define MXC_DAEMON_FED_H

#include <stddef.h>
#include <stdint.h>

struct region;
struct store;
struct writer;

enum fed_op {
	FED_POLICY = 1,      /* arg: MXS_FED_ACCEPT or MXS_FED_REJECT */
	FED_LOCAL,           /* domain: the local domain ("" clears it) */
	FED_ADD,             /* domain: add a rule */
	FED_DEL,             /* domain: remove a rule */
	FED_FLUSH,           /* remove every rule */
};

#define FED_OK        0
#define FED_NOTFOUND  1      /* DEL of an absent rule */
#define FED_EXISTS    2      /* ADD of a present rule: nothing changed */

/*
 * fed_change - apply one change through the writer and wait for it.
 * domain must be canonical (or "" for FED_LOCAL, NULL otherwise unused).
 * Returns FED_OK / FED_NOTFOUND / FED_EXISTS with *count = the rules now
 * (FED_FLUSH: the rules removed), or -1 with a message in msg.
 * Thread safety: safe (ctl threads).
 */
int fed_change(struct writer *w, enum fed_op op, const char *domain, int arg, uint64_t *count, char *msg,
	       size_t msglen);

/*
 * fed_rebuild - put the stored settings and rules into a region being
 * built at start.  Returns the number of entries, or -1 with err.  Main
 * thread, before the writer starts.
 */
int64_t fed_rebuild(struct store *st, struct region *rg, char *err, size_t errlen);

/* fed_module - the federation policy's part in main's steps
 * (daemon/module.h): rebuild. */
struct module_ops;
extern const struct module_ops fed_module;

#endif /* MXC_DAEMON_FED_H */
