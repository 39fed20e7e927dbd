/*
 * daemon/tracker.h - the unique-server tracker (connecting IPs, sender
 * domains, IP-literal senders), counted by keyed hash, published as
 * counts only: MXS_TAB_SERVERS in the region and DIR/servers.json.
 *
 * Thread safety: tracker_event and tracker_tick belong to the event thread
 * (daemon/events.c); tracker_new and tracker_free to the main thread.
 */
#ifndef MXC_DAEMON_TRACKER_H
#define MXC_DAEMON_TRACKER_H

#include <stddef.h>
#include <stdint.h>

struct tracker;
struct writer;

/* tracker_new - a tracker with a fresh random key; NULL on failure. */
struct tracker *tracker_new(const char *dir);

/* tracker_free - forget the sets and wipe the key; t may be NULL. */
void tracker_free(struct tracker *t);

/* tracker_event - one MXS_EV_SERVER record ("IP DOMAIN", canonical).
 * Returns 0, or -1 when the record is malformed (nothing counted). */
int tracker_event(struct tracker *t, const char *name, size_t len);

/* tracker_tick - publish changed counts (at most every second; final: now). */
void tracker_tick(struct tracker *t, struct writer *w, int final);

/* tracker_due - when (mono ms) tracker_tick next publishes; UINT64_MAX
 * when nothing changed.  For the event thread's sleep. */
uint64_t tracker_due(const struct tracker *t);

/*
 * tracker_set_limit - at most per_set values in each set (0: no limit);
 * past it new values are not counted (the counts read "at least") and
 * MXS_CTR_LIMIT_SERVERS counts them.  Any thread.
 */
void tracker_set_limit(struct tracker *t, unsigned per_set);

/* tracker_attach - take the server records of e's thread
 * (daemon/events.h) and publish from it; before events_start.  0, or -1. */
struct events;
int tracker_attach(struct tracker *t, struct events *e);

/* tracker_module - the tracker's part in main's steps (daemon/module.h):
 * attach, limits, stop (free, after the event thread's stop). */
struct module_ops;
extern const struct module_ops tracker_module;

#endif /* MXC_DAEMON_TRACKER_H */
