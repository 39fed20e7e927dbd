/*
 * daemon/counters.c - event counters and limits logged once.
 */
#include "counters.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static uint64_t ctr[MXS_CTR_MAX];
static uint8_t ctr_logged[MXS_CTR_MAX];
static uint64_t entries[MXS_TAB_MAX];
static const uint64_t *mirror_src;  /* another process's counts, or NULL */
static int mirror_first, mirror_n;

void ctr_add(int c, uint64_t n)
{
	if (c >= 0 && c < MXS_CTR_MAX)
		__atomic_fetch_add(&ctr[c], n, __ATOMIC_RELAXED);
}

int ctr_limit(int c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c < 0 || c >= MXS_CTR_MAX)
		return 0;
	__atomic_fetch_add(&ctr[c], 1, __ATOMIC_RELAXED);
	/* exchange: of threads reaching the limit at once, one logs */
	if (__atomic_exchange_n(&ctr_logged[c], 1, __ATOMIC_RELAXED) != 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s (logged once; counted in shmctl metrics as mxcache_%s)", msg,
		  mxc_ctr_name(c) != NULL ? mxc_ctr_name(c) : "?");
	return 1;
}

void ctr_mirror(int first, int n, const uint64_t *src)
{
	if (first < 0 || n < 0 || first + n > MXS_CTR_MAX)
		return;
	mirror_first = first;
	mirror_n = n;
	__atomic_store_n(&mirror_src, src, __ATOMIC_RELEASE);
}

void ctr_copy(uint64_t out[MXS_CTR_MAX])
{
	const uint64_t *src = __atomic_load_n(&mirror_src, __ATOMIC_ACQUIRE);
	int i;

	for (i = 0; src != NULL && i < mirror_n; i++)
		__atomic_store_n(&ctr[mirror_first + i], __atomic_load_n(&src[i], __ATOMIC_RELAXED), __ATOMIC_RELAXED);

	for (i = 0; i < MXS_CTR_MAX; i++)
		__atomic_store_n(&out[i], __atomic_load_n(&ctr[i], __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

void ctr_entries_set(unsigned tab, uint64_t n)
{
	if (tab < MXS_TAB_MAX)
		__atomic_store_n(&entries[tab], n, __ATOMIC_RELAXED);
}

uint64_t ctr_entries(unsigned tab)
{
	return tab < MXS_TAB_MAX ? __atomic_load_n(&entries[tab], __ATOMIC_RELAXED) : 0;
}

void ctr_set(int c, uint64_t v)
{
	if (c >= 0 && c < MXS_CTR_MAX)
		__atomic_store_n(&ctr[c], v, __ATOMIC_RELAXED);
}
