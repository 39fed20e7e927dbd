/*
 * daemon/events.c - the event thread: drain the clients' rings, hold each
 * client to its event rate, check each record and dispatch it by type;
 * the modules' periodic work between drains; asleep when idle.
 */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "counters.h"
#include "log.h"
#include "module.h"
#include "readers.h"
#include "region.h"
#include "shm/key.h"

/*
 * The event thread's pace: a drain every EVENTS_BUSY_US while events flow,
 * every EVENTS_POLL_MS for EVENTS_LINGER_MS after the last one, then
 * asleep until a client rings its doorbell (shm/readers.h), the next
 * periodic job is due, or EVENTS_SLEEP_MAX_MS pass: the events of a
 * client that does not ring wait that long at worst.
 */
#define EVENTS_BUSY_US      200
#define EVENTS_POLL_MS      5
#define EVENTS_LINGER_MS    100
#define EVENTS_SLEEP_MAX_MS 1000
#define EVENTS_FULL_SCAN_MS 20      /* between scans of every ring */
#define EVENTS_RATE_LOG_MS  60000   /* one "client over its event rate" line per minute at most */
#define EVENTS_TICKS_MAX    8       /* modules with periodic work */

/*
 * Sources: a client's slots are told apart by the key the drain gives
 * (registration and slot, daemon/readers.h), folded into this many
 * event-rate states.  Two sources that share one restart it in turn (the
 * key is kept as its owner), which only ever lets more through.
 */
#define EVENTS_SOURCES 4096

/*
 * A token bucket per reader slot: [limits] client_events_per_s tokens a
 * second, as many at most (one second's burst).  The slot's owner id
 * tells a new client in a reused slot, which starts with a full bucket.
 */
struct rate {
	uint64_t owner;
	uint64_t tokens_milli;               /* thousandths of an event */
	uint64_t last_ms;
	int logged;                          /* this client was named in the log */
};

struct handler {
	events_fn fn;
	void *arg;
	int rule;                            /* EVENTS_NAME_* */
};

struct ticker {
	events_tick_fn tick;
	events_due_fn due;
	void *arg;
};

struct events {
	struct region *rg;
	struct writer *w;
	pthread_t thread;
	int started;
	int stopping;                        /* atomic */
	unsigned lim_events;                 /* [limits] client_events_per_s (atomic) */

	/* the event thread's (set before it starts) */
	struct handler on[MXS_EV_TYPE_MAX + 1];
	struct ticker tick[EVENTS_TICKS_MAX];
	size_t ntick;
	struct rate *rate;                   /* per source */
	uint32_t nrate;                      /* EVENTS_SOURCES */
	uint64_t rate_logged_ms;
	uint64_t last_full;
};

struct events *events_new(struct region *rg, struct writer *w)
{
	struct events *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->nrate = EVENTS_SOURCES;
	e->rate = calloc(e->nrate, sizeof(*e->rate));
	if (e->rate == NULL) {
		free(e);
		return NULL;
	}
	e->rg = rg;
	e->w = w;
	return e;
}

int events_on(struct events *e, int type, int rule, events_fn fn, void *arg)
{
	if (type < 1 || type > MXS_EV_TYPE_MAX || e->on[type].fn != NULL)
		return -1;
	e->on[type].fn = fn;
	e->on[type].arg = arg;
	e->on[type].rule = rule;
	return 0;
}

int events_tick(struct events *e, events_tick_fn tick, events_due_fn due, void *arg)
{
	if (e->ntick == EVENTS_TICKS_MAX)
		return -1;
	e->tick[e->ntick].tick = tick;
	e->tick[e->ntick].due = due;
	e->tick[e->ntick].arg = arg;
	e->ntick++;
	return 0;
}

void events_set_limits(struct events *e, const struct config *cfg)
{
	__atomic_store_n(&e->lim_events, cfg->lim_events, __ATOMIC_RELAXED);
}

/* One event from the ring of reader slot src (a registration's slot,
 * daemon/readers.h) of process pid: checked, since clients wrote it. */
static void handle_event(struct events *e, const struct mxc_event *ev, uint64_t src, uint32_t pid)
{
	char raw[MXS_EV_NAME_MAX + 1], canon[MXK_MAX_LEN + 1];
	const struct handler *h;
	size_t clen;
	int kind;

	if (!mxc_event_valid(ev))
		goto bad;
	h = &e->on[ev->e_type];
	if (h->fn == NULL)
		goto bad;
	if (h->rule == EVENTS_NAME_RAW) {
		if (h->fn(h->arg, ev, ev->e_name, ev->e_nlen, src, pid) != 0)
			goto bad;
		ctr_add(MXS_CTR_EVENTS, 1);
		return;
	}
	if (ev->e_nlen > MXK_MAX_LEN)
		goto bad;
	memcpy(raw, ev->e_name, ev->e_nlen);
	raw[ev->e_nlen] = '\0';
	if (mxk_normalize(raw, canon, sizeof(canon), &clen, &kind) != MXK_OK || clen != ev->e_nlen ||
	    memcmp(canon, raw, clen) != 0)
		goto bad;
	/* policies and MX answers are for domains; stats also count IP literals */
	if (kind != MXK_DOMAIN && h->rule == EVENTS_NAME_DOMAIN)
		goto bad;
	ctr_add(MXS_CTR_EVENTS, 1);
	if (h->fn(h->arg, ev, canon, clen, src, pid) == 0)
		return;
bad:
	ctr_add(MXS_CTR_EVENTS_BAD, 1);
}

/*
 * May slot i's client have one more event?  Refills its bucket for the
 * time since the last event.  Events over the rate are still taken off
 * the ring (a ring left full would only hide them from the client's own
 * drop count) and dropped, counted, and the client named in the log once
 * (and at most one such line per EVENTS_RATE_LOG_MS, whatever the clients).
 */
static int rate_take(struct events *e, uint64_t src, uint32_t pid, uint64_t now)
{
	struct rate *r;
	uint64_t lim = __atomic_load_n(&e->lim_events, __ATOMIC_RELAXED), cap = lim * 1000;
	uint32_t i = (uint32_t)(src & 1023);   /* the slot within its process */

	/* one bucket per slot of a registration; two that share a bucket
	 * restart it in turn, which only ever lets more through */
	r = &e->rate[src % e->nrate];
	if (src != r->owner || r->last_ms == 0) {
		r->owner = src;
		r->tokens_milli = cap;
		r->last_ms = now;
		r->logged = 0;
	}
	if (now > r->last_ms) {
		r->tokens_milli += (now - r->last_ms) * lim;   /* lim per 1000 ms */
		r->last_ms = now;
	}
	if (r->tokens_milli > cap)
		r->tokens_milli = cap;
	if (r->tokens_milli >= 1000) {
		r->tokens_milli -= 1000;
		return 1;
	}
	if (r->logged) {
		ctr_add(MXS_CTR_LIMIT_EVENTS, 1);
		return 0;
	}
	r->logged = 1;
	if (ctr_limit(MXS_CTR_LIMIT_EVENTS,
		      "events: client pid %u (reader slot %u) posts more than %lu events/s ([limits] "
		      "client_events_per_s): the excess is dropped",
		      pid, i, (unsigned long)lim)) {
		e->rate_logged_ms = now;
		return 0;
	}
	if (now - e->rate_logged_ms >= EVENTS_RATE_LOG_MS) {
		log_warnx("events: client pid %u (reader slot %u) also posts more than %lu events/s: the excess is "
			  "dropped",
			  pid, i, (unsigned long)lim);
		e->rate_logged_ms = now;
	}
	return 0;
}

struct drain_ctx {
	struct events *e;
	uint64_t now;
};

static void drained_one(void *arg, uint64_t src, uint32_t pid, const struct mxc_event *ev)
{
	struct drain_ctx *d = arg;

	if (rate_take(d->e, src, pid, d->now))
		handle_event(d->e, ev, src, pid);
}

/*
 * Most passes look only at the rings of claimed slots (each block's claim
 * bitmap) and of processes that are gone; every EVENTS_FULL_SCAN_MS one
 * looks at all of them, for the last events of a thread that released its
 * slot in between.  all: look at every ring now (the last pass before a
 * clean stop, which must not leave such a thread's last events behind).
 */
static size_t drain_rings(struct events *e, int all)
{
	struct drain_ctx d = { e, mono_ms() };
	int full = all || d.now - e->last_full >= EVENTS_FULL_SCAN_MS;

	if (full)
		e->last_full = d.now;
	return readers_drain(region_readers(e->rg), full, drained_one, &d);
}

static void tick_all(struct events *e, int final)
{
	size_t i;

	for (i = 0; i < e->ntick; i++)
		e->tick[i].tick(e->tick[i].arg, e->w, final);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void *event_main(void *arg)
{
	struct events *e = arg;
	struct readers *rd = region_readers(e->rg);
	uint64_t now, last_event, due;
	struct timespec idle = { 0, EVENTS_POLL_MS * 1000000L }, busy = { 0, EVENTS_BUSY_US * 1000L };
	size_t got, i;

	pthread_setname_np(pthread_self(), "events");
	last_event = mono_ms();
	while (!__atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE)) {
		got = drain_rings(e, 0);
		now = mono_ms();
		if (got > 0)
			last_event = now;
		tick_all(e, 0);
		/* while events flow, drain more often: the rings stay short */
		if (got > 0 || now - last_event < EVENTS_LINGER_MS) {
			nanosleep(got > 0 ? &busy : &idle, NULL);
			continue;
		}
		/* asleep, after one more look at every ring with the
		 * doorbells armed (readers_rest_arm says why none is missed) */
		readers_rest_arm(rd);
		if (drain_rings(e, 1) > 0) {
			readers_rest(rd, 0);
			last_event = mono_ms();
			continue;
		}
		due = now + EVENTS_SLEEP_MAX_MS;
		for (i = 0; i < e->ntick; i++)
			due = earliest(due, e->tick[i].due(e->tick[i].arg));
		now = mono_ms();
		readers_rest(rd, due > now ? (int)(due - now) : 0);
	}
	drain_rings(e, 1);
	tick_all(e, 1);
	return NULL;
}

int events_start(struct events *e, char *err, size_t errlen)
{
	int rc = pthread_create(&e->thread, NULL, event_main, e);

	if (rc != 0) {
		snprintf(err, errlen, "events: cannot start the event thread: %s", strerror(rc));
		return -1;
	}
	e->started = 1;
	return 0;
}

void events_stop(struct events *e)
{
	if (e == NULL)
		return;
	if (e->started) {
		__atomic_store_n(&e->stopping, 1, __ATOMIC_RELEASE);
		readers_wake(region_readers(e->rg));
		pthread_join(e->thread, NULL);
	}
	free(e->rate);
	free(e);
}

static void mod_set_limits(void *self, const struct config *cfg)
{
	events_set_limits(self, cfg);
}

static void mod_stop(void *self)
{
	events_stop(self);
}

const struct module_ops events_module = {
	.name = "client events",
	.set_limits = mod_set_limits,
	.stop = mod_stop,
};
