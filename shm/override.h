/*
 * shm/override.h - the endpoint-override table's value.
 *
 * Table MXS_TAB_OVERRIDE maps a canonical key (domain or bare IP) to one
 * value holding everything about the override:
 *
 *     u32 created   unix seconds (until 2106)
 *     u32 updated   unix seconds
 *     u8  tlen      target length, 1..253
 *     u8  target[tlen]   the canonical target, no NUL
 *     u8  comment[]      the rest of the value, 0..MXS_OV_COMMENT_MAX bytes
 *
 * One value and no meta record: a separate 32-byte record per entry for
 * timestamps and comment was a third of the region at a million
 * overrides.  Values of up to 48 bytes sit inline in the bucket (a short
 * target and comment: one line); longer ones go out of line.
 *
 * Host byte order (the ABI marker rules out the other).  Pure.
 */
#ifndef MXC_SHM_OVERRIDE_H
#define MXC_SHM_OVERRIDE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_OV_COMMENT_MAX 512
#define MXS_OV_TARGET_MAX  253
#define MXS_OV_VALUE_HDR   9
#define MXS_OV_VALUE_MAX   (MXS_OV_VALUE_HDR + MXS_OV_TARGET_MAX + MXS_OV_COMMENT_MAX)

static inline uint32_t mxc_ov_u32time(int64_t t)
{
	return t < 0 ? 0 : t > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/*
 * mxc_ov_value_encode - the value of an override into out (at least
 * MXS_OV_VALUE_MAX bytes).  Returns its length, or 0 if the target is
 * empty or too long or the comment too long.  Times outside 1970..2106
 * are clamped.
 */
static inline size_t mxc_ov_value_encode(uint8_t *out, int64_t created, int64_t updated, const char *target,
					 size_t tlen, const char *comment, size_t clen)
{
	uint32_t c = mxc_ov_u32time(created), u = mxc_ov_u32time(updated);

	if (tlen == 0 || tlen > MXS_OV_TARGET_MAX || clen > MXS_OV_COMMENT_MAX)
		return 0;
	memcpy(out, &c, 4);
	memcpy(out + 4, &u, 4);
	out[8] = (uint8_t)tlen;
	memcpy(out + MXS_OV_VALUE_HDR, target, tlen);
	if (clen)
		memcpy(out + MXS_OV_VALUE_HDR + tlen, comment, clen);
	return MXS_OV_VALUE_HDR + tlen + clen;
}

/*
 * mxc_ov_target - the target inside a value of vlen bytes at v: *tlen
 * receives its length.  Returns NULL if v cannot be an override's value.
 */
static inline const uint8_t *mxc_ov_target(const uint8_t *v, size_t vlen, size_t *tlen)
{
	if (vlen <= MXS_OV_VALUE_HDR || vlen > MXS_OV_VALUE_MAX || v[8] == 0 ||
	    (size_t)v[8] > vlen - MXS_OV_VALUE_HDR || vlen - MXS_OV_VALUE_HDR - v[8] > MXS_OV_COMMENT_MAX)
		return NULL;
	*tlen = v[8];
	return v + MXS_OV_VALUE_HDR;
}

/*
 * mxc_ov_value_decode - every field of a value.  Returns 0, or -1 if it
 * is malformed.  *target and *comment point into v.
 */
static inline int mxc_ov_value_decode(const uint8_t *v, size_t vlen, int64_t *created, int64_t *updated,
				      const uint8_t **target, size_t *tlen, const uint8_t **comment, size_t *clen)
{
	uint32_t c, u;

	*target = mxc_ov_target(v, vlen, tlen);
	if (*target == NULL)
		return -1;
	memcpy(&c, v, 4);
	memcpy(&u, v + 4, 4);
	*created = c;
	*updated = u;
	*comment = *target + *tlen;
	*clen = vlen - MXS_OV_VALUE_HDR - *tlen;
	return 0;
}

#endif /* MXC_SHM_OVERRIDE_H */
