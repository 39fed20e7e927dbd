/*
 * shm/mx.h - the MX table's value format (table MXS_TAB_MX): the daemon's
 * cached DNS answer for a domain's MX records.
 *
 * Key: the domain, canonical (shm/key.h).  Value, byte-packed:
 *
 *     u8  kind     MXS_MX_KIND_*
 *     u8  n        records that follow (MXS_MX_KIND_MX only)
 *     u8  flags    MXS_MX_F_*
 *     u8  reserved, u32 reserved
 *     i64 fetched  unix seconds of the answer
 *     i64 expires  fetched + TTL (positive: the smallest TTL of the
 *                  records; negative: the SOA minimum, RFC 2308)
 *     n times: u16 pref, u8 len, host (canonical, no trailing dot),
 *              sorted by preference, then host
 *
 * A domain with no MX records but an existing name gets MXS_MX_KIND_IMPLICIT:
 * mail goes to the domain itself (RFC 5321 §5.1).  A null MX (RFC 7505) and
 * NXDOMAIN say the domain takes no mail.  A temporary DNS failure is
 * remembered briefly so that a broken zone is not asked on every message.
 *
 * MXS_MX_F_AUTHENTICATED: the daemon's resolver set the AD bit on the
 * answer (DNSSEC-validated, RFC 4035 section 3.2.3; for the implicit MX
 * and NXDOMAIN an authenticated denial).  Only as trustworthy as the
 * resolver and the path to it (docs/daemon.md, [dns]); never set on
 * MXS_MX_KIND_TEMP.  A value from before the flag has the byte 0.
 *
 * Pure: encode into a caller's buffer, decode with every length checked.
 */
#ifndef MXC_SHM_MX_H
#define MXC_SHM_MX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_MX_KIND_MX       1   /* records follow */
#define MXS_MX_KIND_IMPLICIT 2   /* no MX: the domain is its own MX */
#define MXS_MX_KIND_NXDOMAIN 3   /* no such domain */
#define MXS_MX_KIND_NULL     4   /* RFC 7505 null MX: accepts no mail */
#define MXS_MX_KIND_TEMP     5   /* the last lookup failed; ask DNS yourself */

#define MXS_MX_F_AUTHENTICATED 0x01  /* the answer had the AD bit */

#define MXS_MX_MAX        32     /* records kept per answer */
#define MXS_MX_HOST_MAX   253
#define MXS_MX_VALUE_HDR  24
#define MXS_MX_VALUE_MAX  (MXS_MX_VALUE_HDR + MXS_MX_MAX * (3 + MXS_MX_HOST_MAX))

struct mxc_mx_view {
	uint8_t kind;
	uint8_t flags;               /* MXS_MX_F_* */
	size_t  n;
	int64_t fetched, expires;
	const uint8_t *rr;           /* n records: u16 pref, u8 len, host */
};

/*
 * mxc_mx_value_encode - write a value into out (MXS_MX_VALUE_MAX bytes).
 * Returns its length, or 0 for an argument out of range.  The flags
 * are 0: mxc_mx_value_set_flags sets them.
 */
static inline size_t mxc_mx_value_encode(uint8_t *out, uint8_t kind, int64_t fetched, int64_t expires, size_t n,
					 const uint16_t *pref, const char *const *host, const size_t *hlen)
{
	size_t p = MXS_MX_VALUE_HDR, i;

	if (kind < MXS_MX_KIND_MX || kind > MXS_MX_KIND_TEMP || n > MXS_MX_MAX || (kind != MXS_MX_KIND_MX && n != 0))
		return 0;
	memset(out, 0, MXS_MX_VALUE_HDR);
	out[0] = kind;
	out[1] = (uint8_t)n;
	memcpy(out + 8, &fetched, 8);
	memcpy(out + 16, &expires, 8);
	for (i = 0; i < n; i++) {
		if (hlen[i] == 0 || hlen[i] > MXS_MX_HOST_MAX)
			return 0;
		memcpy(out + p, &pref[i], 2);
		out[p + 2] = (uint8_t)hlen[i];
		memcpy(out + p + 3, host[i], hlen[i]);
		p += 3 + hlen[i];
	}
	return p;
}

/* mxc_mx_value_set_flags - the flags of an encoded value (out as encoded). */
static inline void mxc_mx_value_set_flags(uint8_t *out, uint8_t flags)
{
	out[2] = flags;
}

/* mxc_mx_value_decode - 0, or -1 when val is not a well-formed MX value. */
static inline int mxc_mx_value_decode(const uint8_t *val, size_t vlen, struct mxc_mx_view *v)
{
	size_t p = MXS_MX_VALUE_HDR, i;

	if (vlen < MXS_MX_VALUE_HDR || vlen > MXS_MX_VALUE_MAX)
		return -1;
	v->kind = val[0];
	v->n = val[1];
	v->flags = val[2];
	memcpy(&v->fetched, val + 8, 8);
	memcpy(&v->expires, val + 16, 8);
	if (v->kind < MXS_MX_KIND_MX || v->kind > MXS_MX_KIND_TEMP || v->n > MXS_MX_MAX ||
	    (v->kind != MXS_MX_KIND_MX && v->n != 0))
		return -1;
	v->rr = val + p;
	for (i = 0; i < v->n; i++) {
		if (vlen - p < 3 || val[p + 2] == 0 || val[p + 2] > MXS_MX_HOST_MAX || vlen - p - 3 < val[p + 2])
			return -1;
		p += 3 + (size_t)val[p + 2];
	}
	return p == vlen ? 0 : -1;
}

#endif /* MXC_SHM_MX_H */
