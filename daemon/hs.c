/* daemon/hs.c - the ck_hs allocator of daemon/hs.h. */
#include "hs.h"

#include <stdbool.h>
#include <stdlib.h>

static void *hs_malloc(size_t n)
{
	return malloc(n);
}

static void *hs_realloc(void *p, size_t old, size_t n, bool defer)
{
	(void)old;
	(void)defer;
	return realloc(p, n);
}

static void hs_free(void *p, size_t n, bool defer)
{
	(void)n;
	(void)defer;
	free(p);
}

struct ck_malloc hs_alloc = { hs_malloc, hs_realloc, hs_free };
