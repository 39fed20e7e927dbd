/*
 * shm/siphash.h - SipHash-1-3, 64-bit output, keyed per region.
 *
 * Queried names come from the internet, so the table hash must be keyed
 * (otherwise a sender can aim every name at one bucket).  The reader needs
 * it inline, allocation-free and callable from a wait-free lookup: OpenSSL's
 * EVP_MAC SipHash allocates a context per call and costs ~1 us, so the
 * function (Aumasson & Bernstein, the 1-3 variant used by Rust's and
 * CPython's hash tables) is written out here.
 *
 * Every lookup hashes its key, so the code is shaped for that: the rounds
 * written out, the body read in whole 8-byte loads, and the last 0..7
 * bytes gathered with at most two overlapping loads instead of a byte at
 * a time (a jump on the length, then up to seven dependent shifts).  Never
 * a byte outside in[0..len) is read.  The output is SipHash's, bit for
 * bit: tests/unit/test_siphash.c checks it against the published vectors
 * and against a byte-at-a-time reference on random keys and lengths.
 */
#ifndef MXC_SHM_SIPHASH_H
#define MXC_SHM_SIPHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define MXS_SIP_ROUND(v0, v1, v2, v3)                                          \
	do {                                                                   \
		v0 += v1; v1 = MXS_SIP_ROTL(v1, 13); v1 ^= v0;                \
		v0 = MXS_SIP_ROTL(v0, 32);                                     \
		v2 += v3; v3 = MXS_SIP_ROTL(v3, 16); v3 ^= v2;                \
		v0 += v3; v3 = MXS_SIP_ROTL(v3, 21); v3 ^= v0;                \
		v2 += v1; v1 = MXS_SIP_ROTL(v1, 17); v1 ^= v2;                \
		v2 = MXS_SIP_ROTL(v2, 32);                                     \
	} while (0)

static inline uint64_t mxc_sip_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint64_t mxc_sip_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

/*
 * mxc_sip_last - SipHash's last block: the final len % 8 bytes of the
 * len-byte message in, little-endian, with len in the top byte.
 * Overlapping loads: a message of 8 bytes or more has 8 readable bytes
 * ending at its end, shifted down to the ones wanted; a shorter one is
 * read as two 4-byte loads (4..7 bytes) or three single bytes (1..3),
 * which may overlap, OR-ing equal bytes into equal places.
 */
static inline uint64_t mxc_sip_last(const uint8_t *in, size_t len)
{
	size_t r = len & 7;
	uint64_t t;

	if (r == 0)
		t = 0;
	else if (len >= 8)
		t = mxc_sip_le64(in + len - 8) >> (64 - 8 * r);
	else if (r >= 4)
		t = mxc_sip_le32(in) | mxc_sip_le32(in + r - 4) << (8 * (r - 4));
	else
		t = (uint64_t)in[0] | (uint64_t)in[r / 2] << (8 * (r / 2)) | (uint64_t)in[r - 1] << (8 * (r - 1));
	return t | (uint64_t)len << 56;
}

/* The state SipHash starts from under key k. */
#define MXS_SIP_INIT(k, v0, v1, v2, v3)                                        \
	do {                                                                   \
		uint64_t k0_ = mxc_sip_le64(k), k1_ = mxc_sip_le64((k) + 8);   \
		v0 = 0x736f6d6570736575ULL ^ k0_;                              \
		v1 = 0x646f72616e646f6dULL ^ k1_;                              \
		v2 = 0x6c7967656e657261ULL ^ k0_;                              \
		v3 = 0x7465646279746573ULL ^ k1_;                              \
	} while (0)

/*
 * mxc_siphash - SipHash-c-d of len bytes of in under the 16-byte key k.
 * Pure.  The tables use c = 1, d = 3 (mxc_siphash13, the same function
 * with its rounds written out); the test checks this one against the
 * published SipHash-2-4 vectors.
 */
static inline uint64_t mxc_siphash(const uint8_t k[16], const void *in, size_t len, int c, int d)
{
	const uint8_t *m = in, *end = m + (len & ~(size_t)7);
	uint64_t v0, v1, v2, v3, mi, b = mxc_sip_last(in, len);
	int r;

	MXS_SIP_INIT(k, v0, v1, v2, v3);
	for (; m != end; m += 8) {
		mi = mxc_sip_le64(m);
		v3 ^= mi;
		for (r = 0; r < c; r++)
			MXS_SIP_ROUND(v0, v1, v2, v3);
		v0 ^= mi;
	}
	v3 ^= b;
	for (r = 0; r < c; r++)
		MXS_SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (r = 0; r < d; r++)
		MXS_SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* mxc_siphash13 - the table hash (SipHash-1-3).  Pure. */
static inline uint64_t mxc_siphash13(const uint8_t k[16], const void *in, size_t len)
{
	const uint8_t *m = in, *end = m + (len & ~(size_t)7);
	uint64_t v0, v1, v2, v3, mi, b = mxc_sip_last(in, len);

	MXS_SIP_INIT(k, v0, v1, v2, v3);
	for (; m != end; m += 8) {
		mi = mxc_sip_le64(m);
		v3 ^= mi;
		MXS_SIP_ROUND(v0, v1, v2, v3);
		v0 ^= mi;
	}
	v3 ^= b;
	MXS_SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	MXS_SIP_ROUND(v0, v1, v2, v3);
	MXS_SIP_ROUND(v0, v1, v2, v3);
	MXS_SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif /* MXC_SHM_SIPHASH_H */
