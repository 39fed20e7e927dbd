/*
 * daemon/ralloc.h - the writer's allocator over the region's data area.
 *
 * Hands out runs of 32-byte units.  Its bookkeeping (free lists, limbo)
 * lives in daemon memory, never in the region: clients need none of it,
 * and a restarted daemon rebuilds the region from SQLite anyway.
 *
 * Placement rule: a record of two units or more starts on a 64-byte line,
 * so a record of up to 64 bytes is never split over two cache lines.
 *
 * Thread safety: the writer thread only.
 */
#ifndef MXC_DAEMON_RALLOC_H
#define MXC_DAEMON_RALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Runs of up to this many units are recycled through exact-size lists;
 * longer ones (index arrays, big values) through a first-fit list. */
#define RALLOC_SMALL_MAX 64

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

struct limbo_ent {
	uint32_t off;        /* units */
	uint32_t n;          /* units */
	uint64_t epoch;      /* epoch when it became unreachable */
};

struct ralloc {
	uint32_t first;      /* first unit of the data area */
	uint32_t end;        /* one past the last unit */
	uint32_t bump;       /* next never-used unit */
	struct u32vec small[RALLOC_SMALL_MAX + 1];   /* by run length */
	struct {             /* long runs: parallel arrays */
		uint32_t *off, *n;
		size_t len, cap;
	} large;
	struct limbo_ent *limbo;
	size_t nlimbo, limbo_cap;
	uint64_t free_units;     /* on the free lists */
	uint64_t limbo_units;    /* awaiting a grace period */
	uint64_t used_units;     /* handed out and not yet freed or retired */
};

/* ralloc_round - the run length actually used for a request of n units:
 * long runs are kept even so that splitting one leaves a line-aligned
 * tail.  alloc, unalloc and retire apply it themselves. */
static inline uint32_t ralloc_round(uint32_t n)
{
	return (n > RALLOC_SMALL_MAX && (n & 1)) ? n + 1 : n;
}

void ralloc_init(struct ralloc *a, uint32_t first, uint32_t end);
void ralloc_destroy(struct ralloc *a);

/* ralloc_alloc - n units; returns the unit offset, or 0 when none is left
 * (the caller grows the region). */
uint32_t ralloc_alloc(struct ralloc *a, uint32_t n);

/* ralloc_unalloc - give back a run that was never published (no reader
 * can have seen it): straight to the free lists. */
void ralloc_unalloc(struct ralloc *a, uint32_t off, uint32_t n);

/* ralloc_retire - off/n is unreachable since epoch e: free it after a
 * grace period.  Returns 0, -1 on ENOMEM (the run leaks; the caller logs). */
int ralloc_retire(struct ralloc *a, uint32_t off, uint32_t n, uint64_t e);

/* ralloc_release - move limbo runs retired before epoch m to the free
 * lists; returns how many units were freed. */
uint64_t ralloc_release(struct ralloc *a, uint64_t m);

/* ralloc_oldest_limbo - the smallest epoch in limbo, UINT64_MAX if empty. */
uint64_t ralloc_oldest_limbo(const struct ralloc *a);

#endif /* MXC_DAEMON_RALLOC_H */
