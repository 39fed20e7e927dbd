/*
 * daemon/module.h - what main does with every module the same way: at
 * start, rebuild its tables from the store into the new region, then
 * attach it to the event thread (daemon/events.h); take [limits] at start
 * and on each reload; stop it at the end.  A module says which of these
 * it does in one struct module_ops of its own (NULL: a step it has no
 * part in); main lists the modules once, in start order, and stops them
 * in the reverse order.  Starting one stays main's own code: each needs
 * different things (the writer, the config, the state directory).
 *
 * Thread safety: main thread, except set_limits: any thread.
 */
#ifndef MXC_DAEMON_MODULE_H
#define MXC_DAEMON_MODULE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct events;
struct region;
struct store;

struct module_ops {
	/* what rebuild loads, for main's log: "overrides" */
	const char *name;
	/* put every stored row into rg, a region being built before the
	 * writer starts; rows that no lookup could find are left out and
	 * counted in *skipped (logged by the module).  The rows loaded, or
	 * -1 with err set. */
	int64_t (*rebuild)(void *self, struct store *st, struct region *rg, uint64_t *skipped, char *err,
			   size_t errlen);
	/* register its event handlers and periodic work (events_on,
	 * events_tick), before events_start.  0, or -1. */
	int (*attach)(void *self, struct events *e);
	/* take cfg's [limits] */
	void (*set_limits)(void *self, const struct config *cfg);
	/* stop its threads, free self */
	void (*stop)(void *self);
};

/* A module as main holds it: its operations and its object (NULL until
 * it is made; rebuild is called with NULL for modules made later). */
struct module {
	const struct module_ops *ops;
	void *self;
};

#endif /* MXC_DAEMON_MODULE_H */
