/*
 * daemon/arena.h - a bump allocator for short-lived strings.
 *
 * An import batch holds up to MXS_CTL_BATCH records of three short strings
 * each; one malloc per string would cost more than the records' SQLite
 * work, and one realloc'd buffer would move strings the records point at.
 * The arena hands out memory from 64 KiB blocks that never move and is
 * reset, keeping its blocks, for the next batch.
 *
 * Thread safety: one arena belongs to one thread at a time.
 */
#ifndef MXC_DAEMON_ARENA_H
#define MXC_DAEMON_ARENA_H

#include <stddef.h>

#define ARENA_BLOCK (64 * 1024)

struct arena_block;

struct arena {
	struct arena_block *first;
	struct arena_block *cur;
};

/* arena_init - an empty arena (no allocation yet). */
void arena_init(struct arena *a);

/* arena_memdup - copy n bytes and a NUL; NULL when out of memory. */
char *arena_memdup(struct arena *a, const char *s, size_t n);

/* arena_reset - forget every allocation, keep the blocks. */
void arena_reset(struct arena *a);

/* arena_free - release every block. */
void arena_free(struct arena *a);

#endif /* MXC_DAEMON_ARENA_H */
