/*
 * daemon/events.h - the event thread: it drains the clients' event rings
 * (shm/events.h, daemon/readers.h), holds each client to its event rate
 * ([limits] client_events_per_s), checks every record (clients wrote it)
 * and hands it to the one handler of its type; between drains it runs the
 * periodic work of the modules that asked (publishing stats, the
 * refresher, ...), and sleeps when no event comes.
 *
 * Modules register with events_on (a handler per event type) and
 * events_tick (periodic work) after events_new and before events_start;
 * the handlers and the ticks then run on the event thread only.
 *
 * Thread safety: events_set_limits from any thread; the rest from the
 * main thread.
 */
#ifndef MXC_DAEMON_EVENTS_H
#define MXC_DAEMON_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "shm/events.h"

struct config;
struct region;
struct writer;
struct events;

/* What a handler's name must be before it is called. */
#define EVENTS_NAME_RAW    0     /* as posted: the handler checks it */
#define EVENTS_NAME_KEY    1     /* a canonical domain or IP literal */
#define EVENTS_NAME_DOMAIN 2     /* a canonical domain */

/*
 * A handler: ev as posted; name/len: its name, checked per the rule it
 * registered with (NUL-terminated unless EVENTS_NAME_RAW); src and pid:
 * the reader slot (daemon/readers.h) and process that posted it.  Returns
 * 0, or -1 to count the record as bad.
 */
typedef int (*events_fn)(void *arg, const struct mxc_event *ev, const char *name, size_t len, uint64_t src,
			 uint32_t pid);

/* Periodic work: tick (final: the last call, at the stop: do what is
 * pending now), and when (mono ms) it is next due, UINT64_MAX: nothing. */
typedef void (*events_tick_fn)(void *arg, struct writer *w, int final);
typedef uint64_t (*events_due_fn)(const void *arg);

/* events_new - an event thread, not started, for rg's readers; changes
 * go through w.  NULL when out of memory. */
struct events *events_new(struct region *rg, struct writer *w);

/* events_on - fn takes the events of type (MXS_EV_*), one handler per
 * type.  0, or -1 (unknown type, taken already). */
int events_on(struct events *e, int type, int rule, events_fn fn, void *arg);

/* events_tick - run tick between drains; due tells the sleep when.  0, or
 * -1 (too many). */
int events_tick(struct events *e, events_tick_fn tick, events_due_fn due, void *arg);

/* events_set_limits - take cfg's [limits] client_events_per_s. */
void events_set_limits(struct events *e, const struct config *cfg);

/* events_start - start the thread.  0, or -1 with a message in err. */
int events_start(struct events *e, char *err, size_t errlen);

/* events_stop - stop the thread after a last drain of every ring and a
 * final tick of each module, then free e (may be NULL). */
void events_stop(struct events *e);

/* events_module - the event thread's part in main's steps
 * (daemon/module.h): limits, stop.  Listed after the modules it calls. */
struct module_ops;
extern const struct module_ops events_module;

#endif /* MXC_DAEMON_EVENTS_H */
