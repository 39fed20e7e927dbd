/*
 * shm/override.h - the endpoint-override table's value and meta records.
 *
 * Table MXC_TAB_OVERRIDE maps a canonical key (domain or bare IP) to the
 * canonical target as its value (1..253 bytes, no NUL).  Each entry's meta
 * record holds what resolve does not need, so it stays out of the bucket:
 *
 *     i64 created   unix seconds
 *     i64 updated   unix seconds
 *     u16 clen      comment length, 0..MXC_OV_COMMENT_MAX
 *     u8  comment[clen]
 *
 * Little-endian host order (the ABI marker rules out the other).  Pure.
 */
#ifndef MXC_SHM_OVERRIDE_H
#define MXC_SHM_OVERRIDE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXC_OV_COMMENT_MAX 512
#define MXC_OV_META_HDR    18
#define MXC_OV_META_MAX    (MXC_OV_META_HDR + MXC_OV_COMMENT_MAX)

/* mxc_ov_meta_encode - write the meta record into out (>= MXC_OV_META_MAX
 * bytes); returns its length, or 0 if the comment is too long. */
static inline size_t mxc_ov_meta_encode(uint8_t *out, int64_t created, int64_t updated,
					const char *comment, size_t clen)
{
	uint16_t c16 = (uint16_t)clen;

	if (clen > MXC_OV_COMMENT_MAX)
		return 0;
	memcpy(out, &created, 8);
	memcpy(out + 8, &updated, 8);
	memcpy(out + 16, &c16, 2);
	if (clen)
		memcpy(out + MXC_OV_META_HDR, comment, clen);
	return MXC_OV_META_HDR + clen;
}

/*
 * mxc_ov_meta_decode - read a meta record of len bytes at m.  Returns 0,
 * or -1 if it is malformed.  *comment points into m.
 */
static inline int mxc_ov_meta_decode(const uint8_t *m, size_t len, int64_t *created, int64_t *updated,
				     const uint8_t **comment, size_t *clen)
{
	uint16_t c16;

	if (len < MXC_OV_META_HDR)
		return -1;
	memcpy(created, m, 8);
	memcpy(updated, m + 8, 8);
	memcpy(&c16, m + 16, 2);
	if (c16 > MXC_OV_COMMENT_MAX || (size_t)c16 > len - MXC_OV_META_HDR)
		return -1;
	*comment = m + MXC_OV_META_HDR;
	*clen = c16;
	return 0;
}

#endif /* MXC_SHM_OVERRIDE_H */
