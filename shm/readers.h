/*
 * shm/readers.h - the geometry of the reader table, and the check both the
 * daemon and the clients apply to it before trusting it.  Pure.
 */
#ifndef MXC_SHM_READERS_H
#define MXC_SHM_READERS_H

#include <stdint.h>

#include <ck_bitmap.h>

#include "events.h"
#include "layout.h"

/*
 * mxc_readers_geometry - where the bitmap, the slots and the event rings
 * (shm/events.h) of a table of nslots sit, and the file size: header,
 * ck_bitmap, slots on a cache line, rings from the next page, rounded up
 * to a page.
 */
static inline uint64_t mxc_readers_geometry(uint32_t nslots, uint64_t *bm_off, uint64_t *slots_off,
					    uint64_t *rings_off)
{
	uint64_t bm = sizeof(struct mxc_shm_rhdr);
	uint64_t sl = (bm + ck_bitmap_size(nslots) + MXC_SHM_LINE - 1) / MXC_SHM_LINE * MXC_SHM_LINE;
	uint64_t rg = (sl + (uint64_t)nslots * sizeof(struct mxc_shm_slot) + 4095) / 4096 * 4096;
	uint64_t end = rg + (uint64_t)nslots * sizeof(struct mxc_shm_ering);

	*bm_off = bm;
	*slots_off = sl;
	*rings_off = rg;
	return (end + 4095) / 4096 * 4096;
}

/*
 * mxc_readers_valid - is rh, mapped from a file of fsize bytes, a reader
 * table of this layout whose offsets are exactly the ones its slot count
 * implies?  Clients may write slots and the bitmap, never the header.
 */
static inline int mxc_readers_valid(const struct mxc_shm_rhdr *rh, uint64_t fsize)
{
	uint64_t bm, sl, rg;

	if (rh->rh_magic != MXC_SHM_RMAGIC || rh->rh_layout != MXC_SHM_RLAYOUT || rh->rh_abi != MXC_SHM_ABI ||
	    rh->rh_hdr_size != sizeof(*rh) || rh->rh_nslots < MXC_SLOTS_MIN || rh->rh_nslots > MXC_SLOTS_MAX)
		return 0;
	return mxc_readers_geometry(rh->rh_nslots, &bm, &sl, &rg) == fsize && rh->rh_size == fsize &&
	       rh->rh_bitmap == bm && rh->rh_slots == sl && rh->rh_rings == rg;
}

#endif /* MXC_SHM_READERS_H */
