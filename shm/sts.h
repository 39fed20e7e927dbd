/*
 * shm/sts.h - the MTA-STS table's value format (table MXS_TAB_STS).
 *
 * Key: the policy domain, canonical (shm/key.h).  Value, byte-packed,
 * little-endian like the rest of the region:
 *
 *     u8  kind        MXS_STS_KIND_*
 *     u8  mode        MXS_STS_MODE_* (policy), 0 otherwise
 *     u8  flags       MXS_STS_F_*
 *     u8  failure     MXS_STS_FAIL_*: class of the last failed attempt
 *     u32 max_age     seconds, already capped at MXS_STS_MAX_AGE_CAP
 *     i64 inserted    first stored
 *     i64 valid_end   policy: inserted/last fetch + max_age; backoff and
 *                     none: until when the answer stands
 *     i64 last_update last successful check (fetch, or TXT id unchanged)
 *     i64 last_use    last use a client reported (coarse: MXS_STS_USE_GRAIN)
 *     u8  idlen, u8 nmx, u16 reserved
 *     id  idlen bytes  (the TXT record's id)
 *     nmx times: u8 len, pattern (canonical; "*." wildcards kept)
 *
 * Three kinds of record share the table, so one lookup answers every case
 * a sender meets: a policy (used until valid_end, RFC 8461 §5.1), a
 * backoff after a failed fetch with nothing cached (the domain is not
 * hammered; clients get MXC_BACKOFF), and "none": the domain publishes no
 * MTA-STS record (a negative cache entry, so a client's NOTFOUND does not
 * send a fetch request on every message).
 *
 * Pure: encode into a caller's buffer, decode with every length checked.
 */
#ifndef MXC_SHM_STS_H
#define MXC_SHM_STS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_STS_KIND_POLICY  1
#define MXS_STS_KIND_BACKOFF 2
#define MXS_STS_KIND_NONE    3

#define MXS_STS_MODE_NONE    0
#define MXS_STS_MODE_TESTING 1
#define MXS_STS_MODE_ENFORCE 2

#define MXS_STS_F_FRESH   0x01   /* the last check confirmed the policy */
#define MXS_STS_F_CAPPED  0x02   /* max_age was above the cap and was cut to it */

/* Failure classes, named as TLSRPT (RFC 8460) and Postfix's policy_failure
 * name them where they have a name. */
#define MXS_STS_FAIL_NONE     0
#define MXS_STS_FAIL_DNS      1  /* TXT lookup failed temporarily */
#define MXS_STS_FAIL_FETCH    2  /* sts-policy-fetch-error: connect, HTTP status, timeout */
#define MXS_STS_FAIL_INVALID  3  /* sts-policy-invalid: syntax, content type, size */
#define MXS_STS_FAIL_WEBPKI   4  /* sts-webpki-invalid: certificate */
#define MXS_STS_FAIL_RECORD   5  /* the TXT record is malformed or not unique */
#define MXS_STS_FAIL_MAX      5

/* mxc_sts_fail_name - a failure class as TLSRPT names it ("dns" and
 * "record" are ours: TLSRPT has no name for them); static text. */
static inline const char *mxc_sts_fail_name(int f)
{
	static const char *const names[] = { "none", "dns", "sts-policy-fetch-error", "sts-policy-invalid",
					     "sts-webpki-invalid", "record" };

	return f >= 0 && f <= MXS_STS_FAIL_MAX ? names[f] : "unknown";
}

#define MXS_STS_MAX_AGE_CAP  31557600u  /* RFC 8461 §3.2 (Errata 7282: cap, do not reject) */
#define MXS_STS_ID_MAX       32
#define MXS_STS_PATTERN_MAX  253
#define MXS_STS_MX_MAX       64          /* patterns kept per policy */
#define MXS_STS_USE_GRAIN    3600        /* seconds: last use is reported at most this often */
#define MXS_STS_VALUE_HDR    48
#define MXS_STS_VALUE_MAX    (MXS_STS_VALUE_HDR + MXS_STS_ID_MAX + MXS_STS_MX_MAX * (1 + MXS_STS_PATTERN_MAX))

/* A decoded value; pointers are into the value. */
struct mxc_sts_view {
	uint8_t  kind, mode, flags, failure;
	uint32_t max_age;
	int64_t  inserted, valid_end, last_update, last_use;
	const uint8_t *id;
	size_t   idlen;
	size_t   nmx;
	const uint8_t *mx;           /* nmx records: u8 len, pattern */
	size_t   mxlen;              /* bytes at mx */
};

static inline void mxc_sts_put64(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }
static inline int64_t mxc_sts_get64(const uint8_t *p) { int64_t v; memcpy(&v, p, 8); return v; }

/*
 * mxc_sts_value_encode - write a value into out (at least MXS_STS_VALUE_MAX
 * bytes).  Returns its length, or 0 when an argument is out of range
 * (id over MXS_STS_ID_MAX, more than MXS_STS_MX_MAX patterns, a pattern
 * empty or over MXS_STS_PATTERN_MAX, an unknown kind).
 */
static inline size_t mxc_sts_value_encode(uint8_t *out, const struct mxc_sts_view *v, const char *const *mx,
					  const size_t *mxl)
{
	size_t p = MXS_STS_VALUE_HDR, i;

	if (v->kind < MXS_STS_KIND_POLICY || v->kind > MXS_STS_KIND_NONE || v->idlen > MXS_STS_ID_MAX ||
	    v->nmx > MXS_STS_MX_MAX || v->mode > MXS_STS_MODE_ENFORCE || v->failure > MXS_STS_FAIL_MAX)
		return 0;
	out[0] = v->kind;
	out[1] = v->mode;
	out[2] = v->flags;
	out[3] = v->failure;
	memcpy(out + 4, &v->max_age, 4);
	mxc_sts_put64(out + 8, v->inserted);
	mxc_sts_put64(out + 16, v->valid_end);
	mxc_sts_put64(out + 24, v->last_update);
	mxc_sts_put64(out + 32, v->last_use);
	out[40] = (uint8_t)v->idlen;
	out[41] = (uint8_t)v->nmx;
	memset(out + 42, 0, MXS_STS_VALUE_HDR - 42);
	if (v->idlen > 0)
		memcpy(out + p, v->id, v->idlen);
	p += v->idlen;
	for (i = 0; i < v->nmx; i++) {
		if (mxl[i] == 0 || mxl[i] > MXS_STS_PATTERN_MAX)
			return 0;
		out[p++] = (uint8_t)mxl[i];
		memcpy(out + p, mx[i], mxl[i]);
		p += mxl[i];
	}
	return p;
}

/*
 * mxc_sts_value_decode - decode vlen bytes at val into *v.  Returns 0, or
 * -1 when the value is not a well-formed STS value (corrupt region).
 * Bounded by MXS_STS_MX_MAX patterns.
 */
static inline int mxc_sts_value_decode(const uint8_t *val, size_t vlen, struct mxc_sts_view *v)
{
	size_t p = MXS_STS_VALUE_HDR, i;

	if (vlen < MXS_STS_VALUE_HDR || vlen > MXS_STS_VALUE_MAX)
		return -1;
	v->kind = val[0];
	v->mode = val[1];
	v->flags = val[2];
	v->failure = val[3];
	memcpy(&v->max_age, val + 4, 4);
	v->inserted = mxc_sts_get64(val + 8);
	v->valid_end = mxc_sts_get64(val + 16);
	v->last_update = mxc_sts_get64(val + 24);
	v->last_use = mxc_sts_get64(val + 32);
	v->idlen = val[40];
	v->nmx = val[41];
	if (v->kind < MXS_STS_KIND_POLICY || v->kind > MXS_STS_KIND_NONE || v->mode > MXS_STS_MODE_ENFORCE ||
	    v->idlen > MXS_STS_ID_MAX || v->nmx > MXS_STS_MX_MAX || v->max_age > MXS_STS_MAX_AGE_CAP ||
	    vlen - p < v->idlen)
		return -1;
	v->id = val + p;
	p += v->idlen;
	v->mx = val + p;
	for (i = 0; i < v->nmx; i++) {
		if (p >= vlen || val[p] == 0 || val[p] > MXS_STS_PATTERN_MAX || vlen - p - 1 < val[p])
			return -1;
		p += 1 + (size_t)val[p];
	}
	if (p != vlen)
		return -1;
	v->mxlen = (size_t)(val + p - v->mx);
	return 0;
}

#endif /* MXC_SHM_STS_H */
