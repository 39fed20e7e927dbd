/*
 * daemon/table_w.c - copy-on-write changes to the region's hash tables.
 *
 * The format is in shm/table.h and the reclamation rule in shm/rcu.h.
 * Every change follows one pattern: build the new record(s) in unpublished
 * memory, publish with one release store (an index word, or h_root for a
 * resize), then hand the records that just became unreachable to limbo,
 * tagged with the current epoch.  Records shared by the old and the new
 * version (a long key, a meta record carried over) are not retired.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../shm/atomic.h"
#include "../shm/table.h"
#include "log.h"
#include "region_int.h"

/* An entry while the writer rebuilds a bucket. */
struct went {
	uint16_t tag;
	uint8_t klen;
	uint8_t flags;
	uint16_t vlen;
	uint32_t meta;           /* units, 0 none */
	uint32_t kext, vext;     /* units of out-of-line key/value, 0 inline */
	const uint8_t *key;
	const uint8_t *val;
};

/* the longest bucket: whole lines, within the u8 unit count */
#define BUCKET_BYTES_MAX ((MXS_BUCKET_MAX_UNITS & ~1u) << MXS_SHM_UNIT_SHIFT)

static uint32_t units_for(uint64_t bytes)
{
	return (uint32_t)((bytes + MXS_SHM_UNIT - 1) >> MXS_SHM_UNIT_SHIFT);
}

/*
 * Every allocation goes through here: a run is only handed out once the
 * memory behind it is reserved (region_back), so a full tmpfs is an
 * ENOSPC to the writer, never a SIGBUS in a reader.
 */
static uint32_t r_alloc(struct region *r, uint32_t n)
{
	uint32_t off = ralloc_alloc(&r->ar, n);

	if (off != 0 && region_back(r, ((uint64_t)off + ralloc_round(n)) << MXS_SHM_UNIT_SHIFT) != 0) {
		ralloc_unalloc(&r->ar, off, n);
		return 0;
	}
	return off;
}

static uint8_t *at(struct region *r, uint32_t units)
{
	return r->base + ((uint64_t)units << MXS_SHM_UNIT_SHIFT);
}

static uint32_t unit_of(struct region *r, const uint8_t *p)
{
	return (uint32_t)((uint64_t)(p - r->base) >> MXS_SHM_UNIT_SHIFT);
}

static uint64_t *tab_index(struct region *r, unsigned tab)
{
	return (uint64_t *)(void *)(r->base + r->root.r_tab[tab].t_index);
}

/* bytes of an entry, with its tag and offset in the bucket's arrays */
/*
 * Buckets take runs of an even number of units (64-byte lines).  Buckets
 * grow an entry at a time; with every length allowed, the run each one
 * leaves behind is one unit short of what the next needs and sits unused
 * on the free lists.  With lines as the step, old and new runs mostly
 * match and are reused.
 */
static uint32_t bucket_units_for(size_t bytes)
{
	uint32_t u = units_for(bytes);

	return u <= 1 ? u : (u + 1) & ~1u;
}

static size_t went_size(const struct went *e)
{
	return 4 + 4 + ((e->flags & MXS_ENT_META) ? 4 : 0) + ((e->flags & MXS_ENT_KEXT) ? 4 : e->klen) +
	       ((e->flags & MXS_ENT_VEXT) ? 4 : e->vlen);
}

static size_t bucket_encode(uint8_t *out, unsigned tab, const struct went *e, unsigned n, uint32_t *filter)
{
	size_t p = MXS_BUCKET_HDR + 4 * (size_t)n;
	uint16_t off;
	unsigned i;

	*filter = 0;
	for (i = 0; i < n; i++) {
		off = (uint16_t)p;
		memcpy(out + MXS_BUCKET_HDR + 2 * i, &e[i].tag, 2);
		memcpy(out + MXS_BUCKET_HDR + 2 * n + 2 * i, &off, 2);
		out[p] = e[i].klen;
		out[p + 1] = e[i].flags;
		memcpy(out + p + 2, &e[i].vlen, 2);
		p += 4;
		if (e[i].flags & MXS_ENT_META) {
			memcpy(out + p, &e[i].meta, 4);
			p += 4;
		}
		if (e[i].flags & MXS_ENT_KEXT) {
			memcpy(out + p, &e[i].kext, 4);
			p += 4;
		} else {
			memcpy(out + p, e[i].key, e[i].klen);
			p += e[i].klen;
		}
		if (e[i].flags & MXS_ENT_VEXT) {
			memcpy(out + p, &e[i].vext, 4);
			p += 4;
		} else {
			memcpy(out + p, e[i].val, e[i].vlen);
			p += e[i].vlen;
		}
		*filter |= MXS_TAG_BIT(e[i].tag);
	}
	out[0] = (uint8_t)n;
	out[1] = (uint8_t)bucket_units_for(p);
	out[2] = (uint8_t)tab;
	out[3] = MXS_BUCKET_MAGIC;
	/* the tail of the last unit is padding: keep it deterministic */
	memset(out + p, 0, ((size_t)out[1] << MXS_SHM_UNIT_SHIFT) - p);
	return p;
}

/* Decode the bucket an index word names into ents.  Returns the count, or
 * -1 if our own region is corrupt (a bug: logged). */
static int bucket_load(struct region *r, unsigned tab, uint32_t boff, struct went *ents)
{
	const uint8_t *b;
	struct mxc_tab_ent e;
	size_t blen;
	unsigned n, i;

	b = mxc_tab_bucket(r->base, r->size, boff, tab, &blen, &n);
	if (b == NULL)
		goto corrupt;
	for (i = 0; i < n; i++) {
		if (mxc_tab_entry(r->base, r->size, b, blen, n, i, &e) != 0)
			goto corrupt;
		ents[i].tag = e.tag;
		ents[i].klen = e.klen;
		ents[i].flags = e.flags;
		ents[i].vlen = e.vlen;
		ents[i].meta = e.meta;
		ents[i].key = e.key;
		ents[i].val = e.val;
		ents[i].kext = (e.flags & MXS_ENT_KEXT) ? unit_of(r, e.key) : 0;
		ents[i].vext = (e.flags & MXS_ENT_VEXT) ? unit_of(r, e.val) : 0;
	}
	return (int)n;
corrupt:
	log_warnx("region: bucket at unit %u of table %u is corrupt", boff, tab);
	errno = EIO;
	return -1;
}

static uint32_t bucket_units_at(struct region *r, uint32_t boff)
{
	return at(r, boff)[1];
}

static uint16_t meta_len(struct region *r, uint32_t meta)
{
	uint16_t len;

	memcpy(&len, at(r, meta), 2);
	return len;
}

static void retire(struct region *r, uint32_t off, uint32_t n)
{
	/* a region still being built has no readers: no grace period */
	if (r->m.tmp[0] != '\0') {
		ralloc_unalloc(&r->ar, off, n);
		return;
	}
	if (ralloc_retire(&r->ar, off, n, r->epoch) != 0)
		log_warnx("region: out of memory tracking %u freed units; they stay unused", n);
}

/* Retire what only entry e owns outside its bucket. */
static void retire_entry_parts(struct region *r, const struct went *e, int keep_key)
{
	if (e->meta)
		retire(r, e->meta, units_for(2 + (uint64_t)meta_len(r, e->meta)));
	if (e->vext)
		retire(r, e->vext, units_for(e->vlen));
	if (e->kext && !keep_key)
		retire(r, e->kext, units_for(e->klen));
}

static void bucket_publish(struct region *r, unsigned tab, uint64_t slot, const uint8_t *img, uint32_t boff,
			   uint32_t filter)
{
	uint64_t *idx = tab_index(r, tab);

	memcpy(at(r, boff), img, (size_t)img[1] << MXS_SHM_UNIT_SHIFT);
	/* the release store orders the copy above before the word */
	mxa_store64(&idx[slot], MXS_IDX_WORD(boff, filter));
}

int root_publish(struct region *r)
{
	uint32_t n = units_for(sizeof(struct mxc_shm_root)), off, old = r->root_off;

	off = r_alloc(r, n);
	if (off == 0) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(at(r, off), &r->root, sizeof(r->root));
	mxa_store64(&r->hdr->h_root, (uint64_t)off << MXS_SHM_UNIT_SHIFT);
	r->root_off = off;
	if (old)
		retire(r, old, n);
	return 0;
}

static unsigned log2_for(uint64_t expect)
{
	unsigned l = TABLE_MIN_LOG2;

	/* a quarter of headroom so a rebuilt table does not resize at once */
	while (l < MXS_TAB_MAX_LOG2 && ((uint64_t)1 << l) * TABLE_MAX_LOAD < expect + expect / 4)
		l++;
	return l;
}

int table_create(struct region *r, unsigned tab, uint64_t expect)
{
	unsigned l = log2_for(expect);
	uint64_t bytes = ((uint64_t)1 << l) * 8;
	uint32_t off = r_alloc(r, units_for(bytes));

	if (off == 0) {
		errno = ENOSPC;
		return -1;
	}
	memset(at(r, off), 0, bytes);
	r->root.r_tab[tab].t_index = (uint64_t)off << MXS_SHM_UNIT_SHIFT;
	r->root.r_tab[tab].t_log2 = l;
	return 0;
}

/*
 * Double the buckets of a table: every bucket i splits into i and i + nb
 * by the next hash bit.  The new index and buckets are built unpublished,
 * then one store of h_root swaps them in; readers inside the old table
 * finish there.  Needs room for a second index and every bucket again:
 * checked up front against never-used space so nothing can fail midway.
 */
static int table_grow(struct region *r, unsigned tab)
{
	struct mxc_shm_tab old = r->root.r_tab[tab];
	uint64_t nb = (uint64_t)1 << old.t_log2, i, new_bucket_units = 0;
	uint64_t idx_bytes = nb * 2 * 8, need;
	uint64_t *oidx = tab_index(r, tab), *nidx;
	struct went ents[MXS_BUCKET_MAX_ENTRIES], half[2][MXS_BUCKET_MAX_ENTRIES];
	uint8_t img[BUCKET_BYTES_MAX];
	uint32_t idx_off, boff, filter;
	int n, k;
	unsigned nh[2];

	if (old.t_log2 >= MXS_TAB_MAX_LOG2) {
		errno = EFBIG;
		return -1;
	}
	need = units_for(idx_bytes) + 2 * r->bucket_units[tab] + 2;
	/* never-used space, and the memory behind it, so that nothing below
	 * can fail half-way */
	if ((uint64_t)(r->ar.end - r->ar.bump) < need) {
		errno = ENOSPC;
		return -1;
	}
	if (region_back(r, ((uint64_t)r->ar.bump + need) << MXS_SHM_UNIT_SHIFT) != 0)
		return -1;
	idx_off = r_alloc(r, units_for(idx_bytes));
	nidx = (uint64_t *)(void *)at(r, idx_off);
	memset(nidx, 0, idx_bytes);
	for (i = 0; i < nb; i++) {
		uint64_t w = oidx[i];

		if (MXS_IDX_OFF(w) == 0)
			continue;
		n = bucket_load(r, tab, MXS_IDX_OFF(w), ents);
		if (n < 0)
			return -1;
		nh[0] = nh[1] = 0;
		for (k = 0; k < n; k++) {
			uint64_t h = mxc_tab_hash(r->hdr, ents[k].key, ents[k].klen);
			int side = (int)((h >> old.t_log2) & 1);
			half[side][nh[side]++] = ents[k];
		}
		for (k = 0; k < 2; k++) {
			if (nh[k] == 0)
				continue;
			bucket_encode(img, tab, half[k], nh[k], &filter);
			boff = r_alloc(r, img[1]);
			memcpy(at(r, boff), img, (size_t)img[1] << MXS_SHM_UNIT_SHIFT);
			nidx[i + (uint64_t)k * nb] = MXS_IDX_WORD(boff, filter);
			new_bucket_units += img[1];
		}
	}
	r->root.r_tab[tab].t_index = (uint64_t)idx_off << MXS_SHM_UNIT_SHIFT;
	r->root.r_tab[tab].t_log2 = old.t_log2 + 1;
	if (root_publish(r) != 0) {
		r->root.r_tab[tab] = old;
		return -1;
	}
	/* the old table is unreachable for new readers: to limbo */
	for (i = 0; i < nb; i++)
		if (MXS_IDX_OFF(oidx[i]) != 0)
			retire(r, MXS_IDX_OFF(oidx[i]), bucket_units_at(r, MXS_IDX_OFF(oidx[i])));
	retire(r, (uint32_t)(old.t_index >> MXS_SHM_UNIT_SHIFT), units_for(nb * 8));
	r->bucket_units[tab] = new_bucket_units;
	log_debug("region: table %u grew to %llu buckets", tab, (unsigned long long)(nb * 2));
	return 0;
}

/* Allocate and fill an out-of-line blob; with a u16 length prefix when
 * prefix is set (meta records).  Returns units or 0 (ENOSPC). */
static uint32_t blob_put(struct region *r, const void *p, size_t len, int prefix)
{
	uint32_t off = r_alloc(r, units_for(len + (prefix ? 2 : 0)));
	uint8_t *d;
	uint16_t l16 = (uint16_t)len;

	if (off == 0)
		return 0;
	d = at(r, off);
	if (prefix) {
		memcpy(d, &l16, 2);
		d += 2;
	}
	memcpy(d, p, len);
	return off;
}

/*
 * One insert-or-replace attempt.  Returns 1 replaced, 0 added, -1 with
 * errno ENOSPC (nothing changed; the caller grows the region), EAGAIN
 * (bucket full; the caller grows the table) or another error.
 */
static int tab_put(struct region *r, unsigned tab, const char *key, size_t klen, const void *val, size_t vlen,
		   const void *meta, size_t mlen)
{
	struct mxc_shm_tab *t = &r->root.r_tab[tab];
	uint64_t h = mxc_tab_hash(r->hdr, key, klen), slot = h & (((uint64_t)1 << t->t_log2) - 1);
	uint64_t w = tab_index(r, tab)[slot];
	struct went ents[MXS_BUCKET_MAX_ENTRIES + 1], ne, old;
	uint8_t img[BUCKET_BYTES_MAX];
	uint32_t boff = 0, filter, oldb = MXS_IDX_OFF(w);
	size_t total = MXS_BUCKET_HDR;
	int n = 0, i, found = -1;

	if (oldb != 0) {
		n = bucket_load(r, tab, oldb, ents);
		if (n < 0)
			return -1;
	}
	memset(&ne, 0, sizeof(ne));
	ne.tag = MXS_HASH_TAG(h);
	ne.klen = (uint8_t)klen;
	ne.vlen = (uint16_t)vlen;
	ne.key = (const uint8_t *)key;
	ne.val = val;
	for (i = 0; i < n; i++) {
		if (ents[i].tag == ne.tag && ents[i].klen == klen && memcmp(ents[i].key, key, klen) == 0)
			found = i;
		else
			total += went_size(&ents[i]);
	}
	if (found < 0 && n == MXS_BUCKET_MAX_ENTRIES) {
		errno = EAGAIN;
		return -1;
	}
	/* out-of-line parts first, so a failure leaves nothing published */
	if (klen > MXS_INLINE_KEY_MAX) {
		ne.flags |= MXS_ENT_KEXT;
		ne.kext = found >= 0 ? ents[found].kext : blob_put(r, key, klen, 0);
		if (ne.kext == 0)
			goto nospace;
	}
	if (vlen > MXS_INLINE_VAL_MAX) {
		ne.flags |= MXS_ENT_VEXT;
		ne.vext = blob_put(r, val, vlen, 0);
		if (ne.vext == 0)
			goto nospace;
	}
	if (mlen > 0) {
		ne.flags |= MXS_ENT_META;
		ne.meta = blob_put(r, meta, mlen, 1);
		if (ne.meta == 0)
			goto nospace;
	}
	total += went_size(&ne);
	if (total > BUCKET_BYTES_MAX) {
		errno = EAGAIN;
		goto undo;
	}
	if (found >= 0) {
		old = ents[found];
		ents[found] = ne;
	} else {
		ents[n++] = ne;
	}
	bucket_encode(img, tab, ents, (unsigned)n, &filter);
	boff = r_alloc(r, img[1]);
	if (boff == 0) {
		if (found >= 0)
			ents[found] = old;
		goto nospace;
	}
	bucket_publish(r, tab, slot, img, boff, filter);
	r->bucket_units[tab] += img[1];
	if (oldb != 0) {
		r->bucket_units[tab] -= bucket_units_at(r, oldb);
		retire(r, oldb, bucket_units_at(r, oldb));
	}
	if (found >= 0) {
		retire_entry_parts(r, &old, 1);
		return 1;
	}
	r->count[tab]++;
	return 0;
nospace:
	errno = ENOSPC;
undo:
	if (ne.kext && (found < 0 || ne.kext != ents[found].kext))
		ralloc_unalloc(&r->ar, ne.kext, units_for(klen));
	if (ne.vext)
		ralloc_unalloc(&r->ar, ne.vext, units_for(vlen));
	if (ne.meta)
		ralloc_unalloc(&r->ar, ne.meta, units_for(mlen + 2));
	return -1;
}

int region_put(struct region *r, unsigned tab, const char *key, size_t klen, const void *val, size_t vlen,
	       const void *meta, size_t mlen)
{
	int attempt, rc;

	if (tab >= MXC_TABS_USED || klen == 0 || klen > MXS_TAB_KEY_MAX || vlen > MXS_TAB_VAL_MAX ||
	    mlen > UINT16_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* keep the load at most TABLE_MAX_LOAD entries per bucket */
	if (r->count[tab] + 1 > ((uint64_t)1 << r->root.r_tab[tab].t_log2) * TABLE_MAX_LOAD &&
	    table_grow(r, tab) != 0) {
		if (errno != ENOSPC)
			return -1;
		if (region_grow(r, region_need_units(r, tab, 1, klen + vlen + mlen)) != 0)
			return -1;
	}
	/* each retry follows a growth, which makes room: a few suffice */
	for (attempt = 0; attempt < 4; attempt++) {
		rc = tab_put(r, tab, key, klen, val, vlen, meta, mlen);
		if (rc >= 0)
			return rc;
		if (errno == EAGAIN) {
			if (table_grow(r, tab) == 0)
				continue;
			if (errno != ENOSPC)
				return -1;
		}
		if (errno != ENOSPC)
			return -1;
		if (region_grow(r, region_need_units(r, tab, 1, klen + vlen + mlen)) != 0)
			return -1;
	}
	errno = ENOSPC;
	return -1;
}

int region_del(struct region *r, unsigned tab, const char *key, size_t klen)
{
	struct mxc_shm_tab *t;
	struct went ents[MXS_BUCKET_MAX_ENTRIES];
	uint8_t img[BUCKET_BYTES_MAX];
	uint64_t h, slot, w;
	uint32_t oldb, boff, filter;
	int n, i, found = -1, attempt;

	if (tab >= MXC_TABS_USED || klen == 0 || klen > MXS_TAB_KEY_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		t = &r->root.r_tab[tab];
		h = mxc_tab_hash(r->hdr, key, klen);
		slot = h & (((uint64_t)1 << t->t_log2) - 1);
		w = tab_index(r, tab)[slot];
		oldb = MXS_IDX_OFF(w);
		if (oldb == 0)
			return 0;
		n = bucket_load(r, tab, oldb, ents);
		if (n < 0)
			return -1;
		for (i = 0; i < n; i++)
			if (ents[i].tag == MXS_HASH_TAG(h) && ents[i].klen == klen &&
			    memcmp(ents[i].key, key, klen) == 0)
				found = i;
		if (found < 0)
			return 0;
		struct went gone = ents[found];
		ents[found] = ents[n - 1];
		n--;
		if (n == 0) {
			mxa_store64(&tab_index(r, tab)[slot], 0);
		} else {
			bucket_encode(img, tab, ents, (unsigned)n, &filter);
			boff = r_alloc(r, img[1]);
			if (boff == 0) {
				if (region_grow(r, MXS_BUCKET_MAX_UNITS) != 0)
					return -1;
				found = -1;
				continue;
			}
			bucket_publish(r, tab, slot, img, boff, filter);
			r->bucket_units[tab] += img[1];
		}
		r->bucket_units[tab] -= bucket_units_at(r, oldb);
		retire(r, oldb, bucket_units_at(r, oldb));
		retire_entry_parts(r, &gone, 0);
		r->count[tab]--;
		return 1;
	}
	errno = ENOSPC;
	return -1;
}

/* Copy every entry of src's table into dst (region growth). */
int table_copy(struct region *dst, struct region *src, unsigned tab)
{
	uint64_t nb = (uint64_t)1 << src->root.r_tab[tab].t_log2, i;
	const uint64_t *idx = tab_index(src, tab);
	struct went ents[MXS_BUCKET_MAX_ENTRIES];
	int n, k;

	for (i = 0; i < nb; i++) {
		if (MXS_IDX_OFF(idx[i]) == 0)
			continue;
		n = bucket_load(src, tab, MXS_IDX_OFF(idx[i]), ents);
		if (n < 0)
			return -1;
		for (k = 0; k < n; k++) {
			const void *m = NULL;
			size_t mlen = 0;

			if (ents[k].meta) {
				mlen = meta_len(src, ents[k].meta);
				m = at(src, ents[k].meta) + 2;
			}
			if (tab_put(dst, tab, (const char *)ents[k].key, ents[k].klen, ents[k].val, ents[k].vlen, m,
				    mlen) < 0)
				return -1;
		}
	}
	return 0;
}

uint64_t region_need_units(struct region *r, unsigned tab, uint64_t n, uint64_t bytes)
{
	uint64_t nb = (uint64_t)1 << r->root.r_tab[tab].t_log2, need, target = nb;

	/* a bucket copy (two lines) and a meta record per entry, the bytes */
	need = units_for(bytes) + n * 4;
	/* and, if the table must double on the way, a new index and a copy
	 * of every bucket */
	while ((r->count[tab] + n) > target * TABLE_MAX_LOAD)
		target *= 2;
	if (target != nb)
		need += units_for(target * 8) + 2 * r->bucket_units[tab];
	return need;
}
