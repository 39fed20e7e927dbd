/*
 * shm/siphash.h - SipHash-1-3, 64-bit output, keyed per region.
 *
 * Queried names come from the internet, so the table hash must be keyed
 * (otherwise a sender can aim every name at one bucket).  The reader needs
 * it inline, allocation-free and callable from a wait-free lookup: OpenSSL's
 * EVP_MAC SipHash allocates a context per call and costs ~1 us, so this
 * ~40-line reference implementation (Aumasson & Bernstein, the 1-3 variant
 * used by Rust's and CPython's hash tables) is written out here.  Test
 * vectors live in tests/unit/test_siphash.c.
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

/*
 * mxc_siphash - SipHash-c-d of len bytes of in under the 16-byte key k.
 * Pure.  The tables use c = 1, d = 3 (mxc_siphash13); the test checks
 * this code against the published SipHash-2-4 vectors.
 */
static inline uint64_t mxc_siphash(const uint8_t k[16], const void *in, size_t len, int c, int d)
{
	const uint8_t *m = in;
	uint64_t k0 = mxc_sip_le64(k), k1 = mxc_sip_le64(k + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, mi;
	size_t i, end = len - (len % 8);

	int r;

	for (i = 0; i < end; i += 8) {
		mi = mxc_sip_le64(m + i);
		v3 ^= mi;
		for (r = 0; r < c; r++)
			MXS_SIP_ROUND(v0, v1, v2, v3);
		v0 ^= mi;
	}
	switch (len & 7) {
	case 7: b |= (uint64_t)m[i + 6] << 48; /* fall through */
	case 6: b |= (uint64_t)m[i + 5] << 40; /* fall through */
	case 5: b |= (uint64_t)m[i + 4] << 32; /* fall through */
	case 4: b |= (uint64_t)m[i + 3] << 24; /* fall through */
	case 3: b |= (uint64_t)m[i + 2] << 16; /* fall through */
	case 2: b |= (uint64_t)m[i + 1] << 8;  /* fall through */
	case 1: b |= (uint64_t)m[i]; break;
	case 0: break;
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
	return mxc_siphash(k, in, len, 1, 3);
}

#endif /* MXC_SHM_SIPHASH_H */
