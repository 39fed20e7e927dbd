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
 *     u8  idlen, u8 nmx
 *     u8  dane        MXS_DANE_*: the domain's DANE state
 *     u8  dane_flags  MXS_DANE_F_*
 *     u32 recheck_s   a used policy whose TXT record was looked at longer
 *                     ago than this is re-checked ([sts] recheck_s; 0 never)
 *     i64 dane_valid_end  until when the DANE state stands (the least TTL
 *                     of the MX and TLSA answers it came from)
 *     i64 txt_checked the last time the TXT record was looked at, whatever
 *                     the outcome
 *     u16 textlen     bytes of the policy text that follow the patterns
 *                     (0: none kept, see MXS_STS_F_TEXT_CUT)
 *     u16 reserved, u32 reserved
 *     id  idlen bytes  (the TXT record's id)
 *     nmx times: u8 len, pattern (canonical; "*." wildcards kept)
 *     text  textlen bytes: the policy as fetched, byte for byte (TLSRPT's
 *           policy_string lines)
 *
 * DANE (RFC 7672) sits beside the MTA-STS state because it answers the
 * same question (how strictly to use TLS with this domain) and wins over
 * it (RFC 8461 section 2): one lookup gives a sender everything.  A domain
 * with DANE and no MTA-STS is a "none" entry with a DANE state.
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
#define MXS_STS_F_TEXT_CUT 0x04  /* the policy text did not fit the value: not kept */

/*
 * DANE states.  UNKNOWN: not looked at, or dane_valid_end passed.  NONE:
 * looked at: the MX RRset is not DNSSEC-authenticated, or no MX host has
 * authenticated TLSA records (MTA-STS applies).  USABLE: the MX RRset is
 * authenticated and at least one MX host has authenticated TLSA records
 * usable for SMTP (RFC 7672 section 3.1: DANE-TA(2) or DANE-EE(3), a
 * known selector and matching type): Postfix's "dane-only".  UNUSABLE:
 * authenticated TLSA records exist, none usable: Postfix's "dane".
 */
#define MXS_DANE_UNKNOWN  0
#define MXS_DANE_NONE     1
#define MXS_DANE_USABLE   2
#define MXS_DANE_UNUSABLE 3
#define MXS_DANE_MAX      3

#define MXS_DANE_F_MX_AD  0x01   /* the MX RRset (or its absence) was authenticated */
#define MXS_DANE_F_TEMP   0x02   /* the last DANE lookup failed temporarily (state kept from before) */
#define MXS_DANE_F_SEEN_AD 0x04  /* the resolver set AD on some answer of this check */

/* mxc_dane_name - "unknown", "none", "usable", "unusable"; static text. */
static inline const char *mxc_dane_name(int d)
{
	static const char *const names[] = { "unknown", "none", "usable", "unusable" };

	return d >= 0 && d <= MXS_DANE_MAX ? names[d] : "bad";
}

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
#define MXS_STS_VALUE_HDR    72
#define MXS_STS_VALUE_NOTEXT (MXS_STS_VALUE_HDR + MXS_STS_ID_MAX + MXS_STS_MX_MAX * (1 + MXS_STS_PATTERN_MAX))
#define MXS_STS_VALUE_MAX    65535   /* MXS_TAB_VAL_MAX: a value's length is a u16 */
/* The policy text kept: whatever room the patterns leave (at least
 * MXS_STS_VALUE_MAX - MXS_STS_VALUE_NOTEXT, about 48 KiB; policies are
 * a few hundred bytes).  A longer text is not kept (MXS_STS_F_TEXT_CUT). */
#define MXS_STS_TEXT_MIN_ROOM (MXS_STS_VALUE_MAX - MXS_STS_VALUE_NOTEXT)
_Static_assert(MXS_STS_VALUE_NOTEXT < MXS_STS_VALUE_MAX, "the text must have room");

/* A decoded value; pointers are into the value. */
struct mxc_sts_view {
	uint8_t  kind, mode, flags, failure;
	uint32_t max_age;
	int64_t  inserted, valid_end, last_update, last_use;
	uint8_t  dane, dane_flags;
	uint32_t recheck_s;
	int64_t  dane_valid_end, txt_checked;
	const uint8_t *text;         /* textlen bytes, or NULL */
	size_t   textlen;
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
 * empty or over MXS_STS_PATTERN_MAX, an unknown kind or DANE state).
 * v->text, when it does not fit what the patterns leave, is left out and
 * MXS_STS_F_TEXT_CUT set.
 */
static inline size_t mxc_sts_value_encode(uint8_t *out, const struct mxc_sts_view *v, const char *const *mx,
					  const size_t *mxl)
{
	size_t p = MXS_STS_VALUE_HDR, i;

	if (v->kind < MXS_STS_KIND_POLICY || v->kind > MXS_STS_KIND_NONE || v->idlen > MXS_STS_ID_MAX ||
	    v->nmx > MXS_STS_MX_MAX || v->mode > MXS_STS_MODE_ENFORCE || v->failure > MXS_STS_FAIL_MAX ||
	    v->dane > MXS_DANE_MAX)
		return 0;
	out[0] = v->kind;
	out[1] = v->mode;
	out[2] = (uint8_t)(v->flags & ~MXS_STS_F_TEXT_CUT);
	out[3] = v->failure;
	memcpy(out + 4, &v->max_age, 4);
	mxc_sts_put64(out + 8, v->inserted);
	mxc_sts_put64(out + 16, v->valid_end);
	mxc_sts_put64(out + 24, v->last_update);
	mxc_sts_put64(out + 32, v->last_use);
	out[40] = (uint8_t)v->idlen;
	out[41] = (uint8_t)v->nmx;
	out[42] = v->dane;
	out[43] = v->dane_flags;
	memcpy(out + 44, &v->recheck_s, 4);
	mxc_sts_put64(out + 48, v->dane_valid_end);
	mxc_sts_put64(out + 56, v->txt_checked);
	memset(out + 64, 0, MXS_STS_VALUE_HDR - 64);
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
	if (v->text != NULL && v->textlen > 0) {
		if (v->textlen <= MXS_STS_VALUE_MAX - p) {
			uint16_t tl = (uint16_t)v->textlen;

			memcpy(out + 64, &tl, 2);
			memcpy(out + p, v->text, v->textlen);
			p += v->textlen;
		} else {
			out[2] |= MXS_STS_F_TEXT_CUT;
		}
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
	v->dane = val[42];
	v->dane_flags = val[43];
	memcpy(&v->recheck_s, val + 44, 4);
	v->dane_valid_end = mxc_sts_get64(val + 48);
	v->txt_checked = mxc_sts_get64(val + 56);
	{
		uint16_t tl;

		memcpy(&tl, val + 64, 2);
		v->textlen = tl;
	}
	if (v->kind < MXS_STS_KIND_POLICY || v->kind > MXS_STS_KIND_NONE || v->mode > MXS_STS_MODE_ENFORCE ||
	    v->idlen > MXS_STS_ID_MAX || v->nmx > MXS_STS_MX_MAX || v->max_age > MXS_STS_MAX_AGE_CAP ||
	    v->dane > MXS_DANE_MAX || vlen - p < v->idlen)
		return -1;
	v->id = val + p;
	p += v->idlen;
	v->mx = val + p;
	for (i = 0; i < v->nmx; i++) {
		if (p >= vlen || val[p] == 0 || val[p] > MXS_STS_PATTERN_MAX || vlen - p - 1 < val[p])
			return -1;
		p += 1 + (size_t)val[p];
	}
	v->mxlen = (size_t)(val + p - v->mx);
	if (vlen - p != v->textlen)
		return -1;
	v->text = v->textlen > 0 ? val + p : NULL;
	return 0;
}

#endif /* MXC_SHM_STS_H */
