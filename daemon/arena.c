/*
 * daemon/arena.c - blocks in a list; a cursor walks them.
 */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t size;              /* bytes in data[] */
	size_t used;
	char data[];
};

void arena_init(struct arena *a)
{
	a->first = NULL;
	a->cur = NULL;
}

static struct arena_block *arena_block_new(size_t want)
{
	size_t size = want > ARENA_BLOCK ? want : ARENA_BLOCK;
	struct arena_block *b = malloc(sizeof(*b) + size);

	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

char *arena_memdup(struct arena *a, const char *s, size_t n)
{
	struct arena_block *b = a->cur, *nb;
	char *p;

	/* move on to a kept block, or add one at the end of the list */
	while (b == NULL || b->size - b->used < n + 1) {
		if (b != NULL && b->next != NULL) {
			b = b->next;
			b->used = 0;
			continue;
		}
		nb = arena_block_new(n + 1);
		if (nb == NULL)
			return NULL;
		if (b == NULL)
			a->first = nb;
		else
			b->next = nb;
		b = nb;
	}
	a->cur = b;
	p = b->data + b->used;
	memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

void arena_reset(struct arena *a)
{
	a->cur = a->first;
	if (a->cur != NULL)
		a->cur->used = 0;
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->first, *next;

	while (b != NULL) {
		next = b->next;
		free(b);
		b = next;
	}
	arena_init(a);
}
