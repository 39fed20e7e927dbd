/*
 * shm/table.h - the hash table format inside the region, and its read side.
 *
 * A table is an array of 2^log2 64-bit index words.  Word i names the
 * bucket record holding every entry whose hash h has (h & mask) == i:
 *
 *     bits  0..31  offset of the bucket record, in 32-byte units (0: empty)
 *     bits 32..63  a 32-bit filter: bit (tag & 31) is set for the tag of
 *                  every entry in the bucket, so most absent keys are
 *                  answered from the index word alone
 *
 * A bucket record is immutable once published.  The writer changes a
 * bucket by building a new record beside the old one (copy-on-write) and
 * storing the new index word with release semantics; the old record is
 * reclaimed after a grace period (shm/rcu.h).
 *
 * Why four entries per bucket: the index is then small (8 bytes per four
 * keys: 2 MiB at a million keys), so under skewed lookups it stays in the
 * cache and a hit costs one miss to memory, the bucket's first line, where
 * the tags of all its entries sit side by side.  The matching entry is on
 * that line or one of the next three, which mxc_tab_find asks for at the
 * same time.  Under uniform lookups over a million keys the index does
 * not stay cached: a hit then costs two dependent misses (index word,
 * bucket) and an absent key one, which is what bounds a lookup against
 * the machine's floor (docs/benchmarks.md).
 *
 * Bucket record, 32-byte aligned, b_units * 32 bytes long:
 *     u8 b_n (entries)  u8 b_units  u8 b_tab (table id)  u8 b_magic
 *     u16 tag[b_n]      (h >> 48 of each entry's key)
 *     u16 off[b_n]      byte offset of each entry in the record
 *     then the entries, byte-packed:
 *     u8  klen  (1..MXS_TAB_KEY_MAX)
 *     u8  flags (MXS_ENT_*)
 *     u16 vlen  (0..MXS_TAB_VAL_MAX)
 *     u32 meta  (units offset of a meta record: u16 length, then that many
 *               bytes, table-specific), if MXS_ENT_META
 *     key       klen bytes inline, or a u32 units offset if MXS_ENT_KEXT
 *     value     vlen bytes inline, or a u32 units offset if MXS_ENT_VEXT
 * Records under 64 bytes are placed so they never straddle a cache line,
 * longer ones start on a line.
 *
 * Every offset and length read here is checked against the mapped size
 * and every loop is bounded by constants, so a corrupt region yields
 * MXS_TAB_CORRUPT, never a crash or an endless loop.  Pure functions, no
 * I/O; they must be called inside a read-side critical section (shm/rcu.h)
 * or by the writer.
 */
#ifndef MXC_SHM_TABLE_H
#define MXC_SHM_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "atomic.h"
#include "layout.h"
#include "siphash.h"

#define MXS_TAB_KEY_MAX        253
#define MXS_TAB_VAL_MAX        65535
#define MXS_INLINE_KEY_MAX     48     /* longer keys go to the arena */
#define MXS_INLINE_VAL_MAX     48     /* longer values go to the arena */
#define MXS_BUCKET_MAX_ENTRIES 64     /* the writer grows the table first */
#define MXS_BUCKET_MAX_UNITS   255
#define MXS_BUCKET_MAGIC       0xb5
#define MXS_BUCKET_HDR         4
#define MXS_BUCKET_PREFETCH_LINES 3   /* lines after the first: a 4-entry bucket */

#define MXS_ENT_META  0x01
#define MXS_ENT_KEXT  0x02
#define MXS_ENT_VEXT  0x04
#define MXS_ENT_FLAGS (MXS_ENT_META | MXS_ENT_KEXT | MXS_ENT_VEXT)

#define MXS_TAB_FOUND    1
#define MXS_TAB_ABSENT   0
#define MXS_TAB_CORRUPT (-1)

#define MXS_IDX_OFF(w)     ((uint32_t)(w))
#define MXS_IDX_FILTER(w)  ((uint32_t)((w) >> 32))
#define MXS_IDX_WORD(off, filter) (((uint64_t)(filter) << 32) | (uint32_t)(off))
#define MXS_HASH_TAG(h)    ((uint16_t)((h) >> 48))
#define MXS_TAG_BIT(tag)   (1u << ((tag) & 31))
#define MXS_HASH_BIT(h)    MXS_TAG_BIT(MXS_HASH_TAG(h))

/* One decoded entry; pointers are into the mapping. */
struct mxc_tab_ent {
	uint16_t tag;
	uint8_t  klen;
	uint8_t  flags;
	uint16_t vlen;
	uint32_t meta;            /* units, 0 if none */
	const uint8_t *key;
	const uint8_t *val;
};

/* mxc_tab_hash - the keyed hash every table uses. */
static inline uint64_t mxc_tab_hash(const struct mxc_shm_hdr *hdr, const void *key, size_t klen)
{
	return mxc_siphash13(hdr->h_hashkey, key, klen);
}

/* mxc_shm_ptr - base + units offset, or NULL unless [off, off+len) fits. */
static inline const uint8_t *mxc_shm_ptr(const uint8_t *base, uint64_t size, uint32_t units, uint64_t len)
{
	uint64_t off = (uint64_t)units << MXS_SHM_UNIT_SHIFT;

	if (units == 0 || off < MXS_SHM_HDR_SIZE || off > size || len > size - off)
		return NULL;
	return base + off;
}

static inline uint16_t mxc_rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/*
 * mxc_copy_str - copy n (<= 255) bytes and a NUL.  Fixed-size moves that
 * overlap instead of a variable-length memcpy, which compilers turn into
 * "rep movs" with a start-up cost larger than a short copy.
 */
static inline void mxc_copy_str(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	if (n >= 16) {
		for (i = 0; i + 16 <= n; i += 16)
			memcpy(dst + i, src + i, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		for (i = 0; i < n; i++)
			dst[i] = (char)src[i];
	}
	dst[n] = '\0';
}
static inline uint32_t mxc_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/*
 * mxc_tab_index - the index array of a table, bounds-checked.
 * Returns NULL when the table is absent or its reference does not fit.
 */
static inline const uint64_t *mxc_tab_index(const uint8_t *base, uint64_t size, const struct mxc_shm_tab *t)
{
	uint64_t off = t->t_index, n;

	if (off == 0 || t->t_log2 > MXS_TAB_MAX_LOG2 || (off & 7) != 0)
		return NULL;
	n = (uint64_t)1 << t->t_log2;
	if (off < MXS_SHM_HDR_SIZE || off > size || n * 8 > size - off)
		return NULL;
	return (const uint64_t *)(const void *)(base + off);
}

/*
 * mxc_tab_entry - decode entry i of the n in bucket record b (blen bytes).
 * Returns 0, or MXS_TAB_CORRUPT if anything points outside the bucket or
 * the mapping.
 */
static inline int mxc_tab_entry(const uint8_t *base, uint64_t size, const uint8_t *b, size_t blen, unsigned n,
				unsigned i, struct mxc_tab_ent *e)
{
	size_t p = mxc_rd16(b + MXS_BUCKET_HDR + 2 * (size_t)n + 2 * (size_t)i);

	e->tag = mxc_rd16(b + MXS_BUCKET_HDR + 2 * (size_t)i);
	if (p < MXS_BUCKET_HDR + 4 * (size_t)n || p > blen || blen - p < 4)
		return MXS_TAB_CORRUPT;
	e->klen = b[p];
	e->flags = b[p + 1];
	e->vlen = mxc_rd16(b + p + 2);
	p += 4;
	if (e->klen == 0 || e->klen > MXS_TAB_KEY_MAX || (e->flags & ~MXS_ENT_FLAGS))
		return MXS_TAB_CORRUPT;
	e->meta = 0;
	if (e->flags & MXS_ENT_META) {
		if (blen - p < 4)
			return MXS_TAB_CORRUPT;
		e->meta = mxc_rd32(b + p);
		p += 4;
	}
	if (e->flags & MXS_ENT_KEXT) {
		if (blen - p < 4 || e->klen <= MXS_INLINE_KEY_MAX)
			return MXS_TAB_CORRUPT;
		e->key = mxc_shm_ptr(base, size, mxc_rd32(b + p), e->klen);
		p += 4;
	} else {
		if (blen - p < e->klen || e->klen > MXS_INLINE_KEY_MAX)
			return MXS_TAB_CORRUPT;
		e->key = b + p;
		p += e->klen;
	}
	if (e->flags & MXS_ENT_VEXT) {
		if (blen - p < 4 || e->vlen <= MXS_INLINE_VAL_MAX)
			return MXS_TAB_CORRUPT;
		e->val = mxc_shm_ptr(base, size, mxc_rd32(b + p), e->vlen);
	} else {
		if (blen - p < e->vlen || e->vlen > MXS_INLINE_VAL_MAX)
			return MXS_TAB_CORRUPT;
		e->val = b + p;
	}
	if (e->key == NULL || e->val == NULL)
		return MXS_TAB_CORRUPT;
	return 0;
}

/*
 * mxc_tab_bucket - the bucket record an index word names, bounds-checked.
 * Returns its address and sets *blen and *n, or NULL (corrupt).
 */
static inline const uint8_t *mxc_tab_bucket(const uint8_t *base, uint64_t size, uint32_t units,
					    unsigned tab, size_t *blen, unsigned *n)
{
	const uint8_t *b = mxc_shm_ptr(base, size, units, MXS_BUCKET_HDR);

	if (b == NULL || b[3] != MXS_BUCKET_MAGIC || b[2] != tab || b[0] == 0 ||
	    b[0] > MXS_BUCKET_MAX_ENTRIES || b[1] == 0)
		return NULL;
	if (mxc_shm_ptr(base, size, units, (uint64_t)b[1] << MXS_SHM_UNIT_SHIFT) == NULL)
		return NULL;
	*blen = (size_t)b[1] << MXS_SHM_UNIT_SHIFT;
	*n = b[0];
	if (MXS_BUCKET_HDR + 4 * (size_t)b[0] > *blen)
		return NULL;
	return b;
}

/*
 * mxc_tab_find - look key (canonical, klen bytes, hash h) up in table tab.
 * Returns MXS_TAB_FOUND and fills *e, MXS_TAB_ABSENT, or MXS_TAB_CORRUPT.
 * Bounded: one index word, one bucket of at most MXS_BUCKET_MAX_ENTRIES.
 */
static inline int mxc_tab_find(const uint8_t *base, uint64_t size, const struct mxc_shm_tab *t, unsigned tab,
			       uint64_t h, const char *key, size_t klen, struct mxc_tab_ent *e)
{
	const uint64_t *idx = mxc_tab_index(base, size, t);
	const uint8_t *b;
	uint64_t w;
	size_t blen;
	unsigned n, i;
	uint16_t tag = MXS_HASH_TAG(h);

	if (idx == NULL)
		return t->t_index == 0 ? MXS_TAB_ABSENT : MXS_TAB_CORRUPT;
	w = mxa_load64((uint64_t *)(uintptr_t)&idx[h & (((uint64_t)1 << t->t_log2) - 1)]);
	if (MXS_IDX_OFF(w) == 0 || !(MXS_IDX_FILTER(w) & MXS_HASH_BIT(h)))
		return MXS_TAB_ABSENT;
	/* The entry's own line is only known once the bucket's first line
	 * (its offsets) has arrived: ask for the next lines now, so that
	 * their misses overlap the first one's instead of following it.  A
	 * prefetch never faults, so no bounds check is needed for the hint. */
	b = base + ((uint64_t)MXS_IDX_OFF(w) << MXS_SHM_UNIT_SHIFT);
	for (i = 1; i <= MXS_BUCKET_PREFETCH_LINES; i++)
		__builtin_prefetch(b + 64 * i);
	b = mxc_tab_bucket(base, size, MXS_IDX_OFF(w), tab, &blen, &n);
	if (b == NULL)
		return MXS_TAB_CORRUPT;
	for (i = 0; i < n; i++) {
		if (mxc_rd16(b + MXS_BUCKET_HDR + 2 * i) != tag)
			continue;
		if (mxc_tab_entry(base, size, b, blen, n, i, e) != 0)
			return MXS_TAB_CORRUPT;
		if (e->klen == klen && memcmp(e->key, key, klen) == 0)
			return MXS_TAB_FOUND;
	}
	return MXS_TAB_ABSENT;
}

#endif /* MXC_SHM_TABLE_H */
