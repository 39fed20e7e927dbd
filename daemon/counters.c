/*
 * daemon/counters.c - event counters and limits logged once.
 */
#include "counters.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static uint64_t ctr[MXC_CTR_MAX];
static uint8_t ctr_logged[MXC_CTR_MAX];
static uint64_t entries[MXC_TAB_MAX];

void ctr_add(int c, uint64_t n)
{
	if (c >= 0 && c < MXC_CTR_MAX)
		__atomic_fetch_add(&ctr[c], n, __ATOMIC_RELAXED);
}

uint64_t ctr_get(int c)
{
	return c >= 0 && c < MXC_CTR_MAX ? __atomic_load_n(&ctr[c], __ATOMIC_RELAXED) : 0;
}

int ctr_limit(int c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c < 0 || c >= MXC_CTR_MAX)
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

void ctr_copy(uint64_t out[MXC_CTR_MAX])
{
	int i;

	for (i = 0; i < MXC_CTR_MAX; i++)
		__atomic_store_n(&out[i], __atomic_load_n(&ctr[i], __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

void ctr_entries_set(unsigned tab, uint64_t n)
{
	if (tab < MXC_TAB_MAX)
		__atomic_store_n(&entries[tab], n, __ATOMIC_RELAXED);
}

uint64_t ctr_entries(unsigned tab)
{
	return tab < MXC_TAB_MAX ? __atomic_load_n(&entries[tab], __ATOMIC_RELAXED) : 0;
}
