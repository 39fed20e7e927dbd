/*
 * daemon/ralloc.c - the writer's allocator over the region's data area.
 * See ralloc.h.  Simple on purpose: segregated exact-size lists for the
 * small records that churn (buckets, meta records, long names), first fit
 * with splitting for the rare long runs.  No coalescing: a region that
 * fragments is rebuilt compact when it grows.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ralloc.h"

static int vec_push(struct u32vec *v, uint32_t x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		uint32_t *nv = realloc(v->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

static int large_push(struct ralloc *a, uint32_t off, uint32_t n)
{
	if (a->large.len == a->large.cap) {
		size_t cap = a->large.cap ? a->large.cap * 2 : 64;
		uint32_t *no, *nn;

		no = realloc(a->large.off, cap * sizeof(*no));
		if (no == NULL)
			return -1;
		a->large.off = no;
		nn = realloc(a->large.n, cap * sizeof(*nn));
		if (nn == NULL)
			return -1;
		a->large.n = nn;
		a->large.cap = cap;
	}
	a->large.off[a->large.len] = off;
	a->large.n[a->large.len] = n;
	a->large.len++;
	return 0;
}

/* Put a run on the right free list.  A run that cannot be listed (out of
 * memory) is lost until the region is rebuilt: never reused, never wrong. */
static void free_run(struct ralloc *a, uint32_t off, uint32_t n)
{
	int rc;

	if (n <= RALLOC_SMALL_MAX)
		rc = vec_push(&a->small[n], off);
	else
		rc = large_push(a, off, n);
	if (rc == 0)
		a->free_units += n;
}

/*
 * No free run of exactly n units: cut one from the smallest longer free
 * run instead of taking new space.  Buckets grow a unit at a time, so the
 * runs they leave behind are a little too short for their successors;
 * without this, exact-size lists alone let the arena grow a fifth past
 * what is in use.  Placement is kept: a run of two units or more still
 * starts on an even unit (runs on the lists of length >= 2 all do).
 * Returns the offset, or 0 if no longer run is free.
 */
static uint32_t split_small(struct ralloc *a, uint32_t n)
{
	uint32_t m, off, rest;

	for (m = n + 1; m <= RALLOC_SMALL_MAX; m++)
		if (a->small[m].n > 0)
			break;
	if (m > RALLOC_SMALL_MAX)
		return 0;
	off = a->small[m].v[--a->small[m].n];
	a->free_units -= m;
	a->used_units += n;
	rest = m - n;
	if (n == 1) {
		/* the last unit: the rest keeps the even start */
		free_run(a, off, rest);
		return off + rest;
	}
	/* n units from the (even) start; the rest starts at off + n */
	if ((n & 1) && rest >= 2) {
		free_run(a, off + n, 1);
		free_run(a, off + n + 1, rest - 1);
	} else {
		free_run(a, off + n, rest);
	}
	return off;
}

void ralloc_init(struct ralloc *a, uint32_t first, uint32_t end)
{
	memset(a, 0, sizeof(*a));
	/* unit 0 means "none" in every offset; the header page is below
	 * first anyway */
	a->first = first;
	a->end = end;
	a->bump = first;
}

void ralloc_destroy(struct ralloc *a)
{
	size_t i;

	for (i = 0; i <= RALLOC_SMALL_MAX; i++)
		free(a->small[i].v);
	free(a->large.off);
	free(a->large.n);
	free(a->limbo);
	memset(a, 0, sizeof(*a));
}

uint32_t ralloc_alloc(struct ralloc *a, uint32_t n)
{
	uint32_t off;
	size_t i;

	if (n == 0)
		return 0;
	n = ralloc_round(n);
	if (n <= RALLOC_SMALL_MAX && a->small[n].n > 0) {
		off = a->small[n].v[--a->small[n].n];
		a->free_units -= n;
		a->used_units += n;
		return off;
	}
	if (n <= RALLOC_SMALL_MAX) {
		off = split_small(a, n);
		if (off != 0)
			return off;
	}
	if (n > RALLOC_SMALL_MAX) {
		for (i = 0; i < a->large.len; i++) {
			if (a->large.n[i] < n)
				continue;
			off = a->large.off[i];
			a->free_units -= a->large.n[i];
			if (a->large.n[i] > n) {
				/* the tail starts even: n is even for long runs */
				a->large.off[i] = off + n;
				a->large.n[i] -= n;
				a->free_units += a->large.n[i];
			} else {
				a->large.len--;
				a->large.off[i] = a->large.off[a->large.len];
				a->large.n[i] = a->large.n[a->large.len];
			}
			a->used_units += n;
			return off;
		}
	}
	/* line placement: multi-unit runs start on an even unit */
	if (n >= 2 && (a->bump & 1)) {
		if (a->bump + 1 > a->end)
			return 0;
		free_run(a, a->bump, 1);
		a->bump++;
	}
	if ((uint64_t)a->bump + n > a->end)
		return 0;
	off = a->bump;
	a->bump += n;
	a->used_units += n;
	return off;
}

void ralloc_unalloc(struct ralloc *a, uint32_t off, uint32_t n)
{
	if (off == 0 || n == 0)
		return;
	n = ralloc_round(n);
	a->used_units -= n;
	free_run(a, off, n);
}

int ralloc_retire(struct ralloc *a, uint32_t off, uint32_t n, uint64_t e)
{
	if (off == 0 || n == 0)
		return 0;
	n = ralloc_round(n);
	if (a->nlimbo == a->limbo_cap) {
		size_t cap = a->limbo_cap ? a->limbo_cap * 2 : 1024;
		struct limbo_ent *nl = realloc(a->limbo, cap * sizeof(*nl));

		if (nl == NULL) {
			errno = ENOMEM;
			return -1;
		}
		a->limbo = nl;
		a->limbo_cap = cap;
	}
	a->limbo[a->nlimbo].off = off;
	a->limbo[a->nlimbo].n = n;
	a->limbo[a->nlimbo].epoch = e;
	a->nlimbo++;
	a->used_units -= n;
	a->limbo_units += n;
	return 0;
}

uint64_t ralloc_release(struct ralloc *a, uint64_t m)
{
	size_t i, keep = 0;
	uint64_t freed = 0;

	/* limbo is appended in epoch order; keep what is not yet safe */
	for (i = 0; i < a->nlimbo; i++) {
		if (a->limbo[i].epoch < m) {
			free_run(a, a->limbo[i].off, a->limbo[i].n);
			freed += a->limbo[i].n;
		} else {
			a->limbo[keep++] = a->limbo[i];
		}
	}
	a->nlimbo = keep;
	a->limbo_units -= freed;
	return freed;
}

uint64_t ralloc_oldest_limbo(const struct ralloc *a)
{
	return a->nlimbo ? a->limbo[0].epoch : UINT64_MAX;
}
