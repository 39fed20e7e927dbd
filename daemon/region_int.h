/*
 * daemon/region_int.h - what region.c and table_w.c share.  Not for other
 * modules: they use region.h.
 */
#ifndef MXC_DAEMON_REGION_INT_H
#define MXC_DAEMON_REGION_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "../shm/layout.h"
#include "../shm/path.h"
#include "../shm/readers.h"
#include "ralloc.h"
#include "region.h"

/* Tables this version fills (ids below this are created at build). */
#define MXC_TABS_USED 7   /* overrides, MTA-STS, MX, federation, stats, servers, TLS pins */
_Static_assert(MXC_TABS_USED == MXS_TAB_TLSPIN + 1, "every table the layout names is created at build");

/* Start reclaiming at publish time, not just on the tick, once this many
 * units (2 MiB) wait in limbo. */
#define REGION_LIMBO_EAGER_UNITS ((2u << 20) >> MXS_SHM_UNIT_SHIFT)

/* Grow a table (double its buckets) when entries exceed buckets times
 * this load factor: four entries to a bucket keep the index in the cache
 * (shm/table.h). */
#define TABLE_MAX_LOAD 4
#define TABLE_MIN_LOG2 10

struct rmap {
	int fd;
	uint8_t *base;
	uint64_t size;
	char tmp[MXS_SHM_PATH_MAX + 32];  /* build-time name; "" once public */
};

struct region {
	/* settings */
	gid_t gid;
	uint32_t nslots;
	uint64_t started;
	int membarrier;           /* promise MXS_HF_MEMBARRIER in new regions */
	char shm_dir[MXS_SHM_PATH_MAX];
	char data_path[MXS_SHM_PATH_MAX];
	char readers_path[MXS_SHM_PATH_MAX];

	/* the client processes' reader blocks (daemon/readers.c) */
	struct readers *rd;
	uint64_t writer_id;              /* h_writer_id of every region built */

	/* the current data area */
	struct rmap m;
	uint8_t *base;
	uint64_t size;
	struct mxc_shm_hdr *hdr;
	struct ralloc ar;
	struct mxc_shm_root root;        /* copy of the published root */
	uint32_t root_off;               /* units */
	uint64_t count[MXS_TAB_MAX];
	uint64_t bucket_units[MXS_TAB_MAX];
	uint64_t epoch;                  /* == hdr->h_epoch */
	uint64_t last_grace_ms;
	uint64_t last_sweep_ms;
};

uint64_t region_now_ms(void);
void region_reclaim(struct region *r, int sweep);
void region_stamp(struct region *r);
int region_grow(struct region *r, uint64_t extra_units);
void region_free(struct region *r, int remove);
int region_back(struct region *r, uint64_t upto);

/* table_w.c */
int table_create(struct region *r, unsigned tab, uint64_t expect);
int table_copy(struct region *dst, struct region *src, unsigned tab);
int root_publish(struct region *r);
uint64_t region_need_units(struct region *r, unsigned tab, uint64_t n, uint64_t bytes);

#endif /* MXC_DAEMON_REGION_INT_H */
